-- Escrow orders, their durable timers, the outbox of events, and idempotency keys.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    buyer TEXT NOT NULL,
    seller TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    captured INTEGER NOT NULL,
    refunded INTEGER NOT NULL,
    released_to_seller INTEGER,
    released_commission INTEGER,
    status TEXT NOT NULL,
    paid_at INTEGER NOT NULL,
    ship_by INTEGER NOT NULL,
    carrier TEXT,
    tracking TEXT,
    shipped_at INTEGER,
    delivered_at INTEGER,
    protection_ends INTEGER,
    cancel_requested_at INTEGER,
    buyer_extended INTEGER NOT NULL,
    extension_requested INTEGER,
    seller_extended INTEGER NOT NULL,
    commission_bps INTEGER NOT NULL,
    commission_fixed INTEGER NOT NULL,
    livemode INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_by_buyer ON orders (buyer, id);
CREATE INDEX orders_by_seller ON orders (seller, id);

CREATE TABLE timers (
    order_id TEXT NOT NULL REFERENCES orders (id),
    kind TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (order_id, kind)
) STRICT, WITHOUT ROWID;
CREATE INDEX timers_by_due ON timers (due_at);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    buyer TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    method TEXT NOT NULL,
    card_brand TEXT,
    card_last4 TEXT,
    card_exp_month INTEGER,
    card_exp_year INTEGER,
    provider_token TEXT,
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- API keys: the secret part is stored only as its SHA-256 (secrets are random, 122 bits).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('platform', 'buyer', 'seller')),
    party_id TEXT,
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'holdback: events are append-only'); END;
