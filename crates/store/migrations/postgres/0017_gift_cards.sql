-- Gift cards: one row each, issued in batches. The code itself is never stored: `code_hash` is
-- its keyed hash (what a typed code is looked up by), `hint` its last four symbols. An activated
-- card keeps who sold it (`retailer`, `till`); a redeemed one into whose balance it went.
CREATE TABLE gift_cards (
    id TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    currency TEXT NOT NULL,
    value BIGINT NOT NULL CHECK (value > 0),
    code_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('inactive', 'active', 'redeemed', 'expired')),
    retailer TEXT,
    till TEXT,
    activated_at BIGINT,
    buyer TEXT,
    redeemed_at BIGINT,
    expired_at BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX gift_cards_by_batch ON gift_cards (batch, id);
-- The expiry sweep: cards not redeemed or expired, by expiry.
CREATE INDEX gift_cards_to_expire ON gift_cards (expires_at, id)
    WHERE status IN ('inactive', 'active');

-- Wrong codes in a row, per subject (a buyer's redemptions, a client's checks), and until when
-- that subject is locked out.
CREATE TABLE code_guards (
    subject TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

-- API keys of retailers: `principal_kind` may be 'retailer'.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_principal_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_principal_kind_check
    CHECK (principal_kind IN ('platform', 'buyer', 'seller', 'mediator', 'retailer'));
