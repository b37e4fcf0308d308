-- API keys of mediators: `principal_kind` may be 'mediator' (with the mediator's id in
-- `party_id`). SQLite cannot change a CHECK, so the table is rebuilt in its current shape
-- (0002, plus `revoked_at` from 0007) with the wider CHECK, and every key is copied over.
-- Nothing refers to api_keys (no foreign key, index, trigger or view), so the rename is all.
CREATE TABLE api_keys_new (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    principal_kind TEXT NOT NULL
        CHECK (principal_kind IN ('platform', 'buyer', 'seller', 'mediator')),
    party_id TEXT,
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
INSERT INTO api_keys_new (id, secret_sha256, principal_kind, party_id, livemode, created_at,
                          revoked_at)
SELECT id, secret_sha256, principal_kind, party_id, livemode, created_at, revoked_at
FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
