-- Escrow orders, their durable timers, the outbox of events, and idempotency keys.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    buyer TEXT NOT NULL,
    seller TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    captured BIGINT NOT NULL,
    refunded BIGINT NOT NULL,
    released_to_seller BIGINT,
    released_commission BIGINT,
    status TEXT NOT NULL,
    paid_at BIGINT NOT NULL,
    ship_by BIGINT NOT NULL,
    carrier TEXT,
    tracking TEXT,
    shipped_at BIGINT,
    delivered_at BIGINT,
    protection_ends BIGINT,
    cancel_requested_at BIGINT,
    buyer_extended BOOLEAN NOT NULL,
    extension_requested BIGINT,
    seller_extended BIGINT NOT NULL,
    commission_bps BIGINT NOT NULL,
    commission_fixed BIGINT NOT NULL,
    livemode BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX orders_by_buyer ON orders (buyer, id);
CREATE INDEX orders_by_seller ON orders (seller, id);

CREATE TABLE timers (
    order_id TEXT NOT NULL REFERENCES orders (id),
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (order_id, kind)
);
CREATE INDEX timers_by_due ON timers (due_at);

CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    buyer TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    method TEXT NOT NULL,
    card_brand TEXT,
    card_last4 TEXT,
    card_exp_month BIGINT,
    card_exp_year BIGINT,
    provider_token TEXT,
    livemode BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

-- API keys: the secret part is stored only as its SHA-256 (secrets are random, 122 bits).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('platform', 'buyer', 'seller')),
    party_id TEXT,
    livemode BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION holdback_append_only();
