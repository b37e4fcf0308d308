-- Gift cards: one row each, issued in batches. The code itself is never stored: `code_hash` is
-- its keyed hash (what a typed code is looked up by), `hint` its last four symbols. An activated
-- card keeps who sold it (`retailer`, `till`); a redeemed one into whose balance it went.
CREATE TABLE gift_cards (
    id TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    currency TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value > 0),
    code_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('inactive', 'active', 'redeemed', 'expired')),
    retailer TEXT,
    till TEXT,
    activated_at INTEGER,
    buyer TEXT,
    redeemed_at INTEGER,
    expired_at INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX gift_cards_by_batch ON gift_cards (batch, id);
-- The expiry sweep: cards not redeemed or expired, by expiry.
CREATE INDEX gift_cards_to_expire ON gift_cards (expires_at, id)
    WHERE status IN ('inactive', 'active');

-- Wrong codes in a row, per subject (a buyer's redemptions, a client's checks), and until when
-- that subject is locked out.
CREATE TABLE code_guards (
    subject TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
) STRICT;

-- API keys of retailers: `principal_kind` may be 'retailer' (with the retailer's id in
-- `party_id`). The table is rebuilt with the wider CHECK as 0014 did.
CREATE TABLE api_keys_new (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    principal_kind TEXT NOT NULL
        CHECK (principal_kind IN ('platform', 'buyer', 'seller', 'mediator', 'retailer')),
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
