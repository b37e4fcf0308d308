-- Cash on delivery. An order paid at the door says so, and when its release fell due while it
-- waited for the carrier's remittance. Products have a category (some are never sold for cash
-- at the door); sellers opt in.
ALTER TABLE orders ADD COLUMN cash_on_delivery INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN release_due_at INTEGER;
ALTER TABLE products ADD COLUMN category TEXT;
ALTER TABLE parties ADD COLUMN cash_on_delivery INTEGER NOT NULL DEFAULT 0;

-- What a cash-on-delivery checkout fixed for its order: the carrier offered, the fee the buyer
-- pays at the door, and what a return would cost and who would pay it.
CREATE TABLE cod_terms (
    order_id TEXT PRIMARY KEY,
    carrier TEXT NOT NULL,
    country TEXT NOT NULL,
    fee INTEGER NOT NULL CHECK (fee >= 0),
    rto_cost INTEGER NOT NULL CHECK (rto_cost >= 0),
    rto_payer TEXT NOT NULL CHECK (rto_payer IN ('buyer', 'seller', 'platform')),
    created_at INTEGER NOT NULL
) STRICT;

-- A parcel of a cash-on-delivery order: one per order, known by its carrier's tracking number.
CREATE TABLE parcels (
    id TEXT PRIMARY KEY,
    carrier TEXT NOT NULL,
    tracking TEXT NOT NULL,
    order_id TEXT NOT NULL UNIQUE,
    payment_id TEXT NOT NULL,
    buyer TEXT NOT NULL,
    seller TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    currency TEXT NOT NULL,
    cash INTEGER NOT NULL CHECK (cash > 0),
    fee INTEGER NOT NULL CHECK (fee >= 0),
    rto_cost INTEGER NOT NULL CHECK (rto_cost >= 0),
    rto_payer TEXT NOT NULL CHECK (rto_payer IN ('buyer', 'seller', 'platform')),
    status TEXT NOT NULL
        CHECK (status IN ('in_transit', 'out_for_delivery', 'collected', 'refused', 'undeliverable')),
    out_for_delivery_at INTEGER,
    final_at INTEGER,
    remitted_batch TEXT,
    remitted_at INTEGER,
    created_at INTEGER NOT NULL,
    last_event_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (carrier, tracking)
) STRICT;
-- A buyer's refusals within a window (eligibility).
CREATE INDEX parcels_by_buyer ON parcels (buyer, status, final_at);
-- What a carrier still owes (reconciliation: missing from a file, pending the next cycle).
CREATE INDEX parcels_unremitted ON parcels (carrier, status, final_at) WHERE remitted_batch IS NULL;

-- Every event a carrier reported, once per its own event id: a repeat finds it and changes
-- nothing. `outcome` says what it did (applied, or ignored as already known or older news).
CREATE TABLE parcel_events (
    carrier TEXT NOT NULL,
    event_id TEXT NOT NULL,
    tracking TEXT NOT NULL,
    event TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    cash INTEGER,
    outcome TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (carrier, event_id)
) STRICT;
CREATE INDEX parcel_events_by_tracking ON parcel_events (carrier, tracking, occurred_at);

-- One-time codes that verify a buyer's phone: only the keyed hash of the code is kept.
CREATE TABLE phone_verifications (
    id TEXT PRIMARY KEY,
    buyer TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    phone TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    verified_at INTEGER,
    created_at INTEGER NOT NULL
) STRICT;

-- Carriers' remittance files, once each: by the hash of the file's bytes, and by the carrier's
-- batch id (the same batch with other figures is a conflict). A file is posted in chunks, each
-- in its own transaction; `chunks_done` is where an import stopped by a crash resumes.
CREATE TABLE remittances (
    id TEXT PRIMARY KEY,
    carrier TEXT NOT NULL,
    batch TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('importing', 'done')),
    chunks_done INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    posted INTEGER NOT NULL,
    gross INTEGER NOT NULL,
    deductions INTEGER NOT NULL,
    net INTEGER NOT NULL,
    report TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (carrier, batch),
    UNIQUE (carrier, file_sha256)
) STRICT;

-- Each line of a remittance and what it was found to be.
CREATE TABLE remittance_lines (
    remittance_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    tracking TEXT NOT NULL,
    parcel_id TEXT,
    class TEXT NOT NULL,
    expected_net INTEGER,
    reported_net INTEGER NOT NULL,
    delta INTEGER NOT NULL,
    deductions TEXT NOT NULL,
    warnings TEXT NOT NULL,
    PRIMARY KEY (remittance_id, line_no)
) STRICT;

-- API keys of carriers: `principal_kind` may be 'carrier' (the carrier's id in `party_id`).
CREATE TABLE api_keys_new (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    principal_kind TEXT NOT NULL
        CHECK (principal_kind IN ('platform', 'buyer', 'seller', 'mediator', 'retailer', 'carrier')),
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

-- A refund of cash never collected goes nowhere ('uncollected'): the table is rebuilt with the
-- wider CHECK (SQLite cannot change a CHECK in place), its rows and indexes as they were.
CREATE TABLE refunds_new (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    order_id TEXT NOT NULL,
    tender INTEGER NOT NULL,
    charge TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    reason TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_error TEXT,
    provider_id TEXT,
    ended_at INTEGER,
    created_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    destination TEXT NOT NULL DEFAULT 'original_method'
        CHECK (destination IN ('original_method', 'balance', 'uncollected'))
) STRICT;
INSERT INTO refunds_new (id, payment_id, order_id, tender, charge, currency, amount, reason,
                         livemode, status, attempts, failures, next_attempt_at, last_error,
                         provider_id, ended_at, created_at, version, lease_until, destination)
SELECT id, payment_id, order_id, tender, charge, currency, amount, reason, livemode, status,
       attempts, failures, next_attempt_at, last_error, provider_id, ended_at, created_at,
       version, lease_until, destination
FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_by_payment ON refunds (payment_id, id);
CREATE INDEX refunds_by_order ON refunds (order_id, id);
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'pending';
CREATE INDEX refunds_failed ON refunds (livemode, id) WHERE status = 'failed';
