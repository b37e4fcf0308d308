-- Cash on delivery. An order paid at the door says so, and when its release fell due while it
-- waited for the carrier's remittance. Products have a category (some are never sold for cash
-- at the door); sellers opt in.
ALTER TABLE orders ADD COLUMN cash_on_delivery BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE orders ADD COLUMN release_due_at BIGINT;
ALTER TABLE products ADD COLUMN category TEXT;
ALTER TABLE parties ADD COLUMN cash_on_delivery BOOLEAN NOT NULL DEFAULT FALSE;

-- What a cash-on-delivery checkout fixed for its order: the carrier offered, the fee the buyer
-- pays at the door, and what a return would cost and who would pay it.
CREATE TABLE cod_terms (
    order_id TEXT PRIMARY KEY,
    carrier TEXT NOT NULL,
    country TEXT NOT NULL,
    fee BIGINT NOT NULL CHECK (fee >= 0),
    rto_cost BIGINT NOT NULL CHECK (rto_cost >= 0),
    rto_payer TEXT NOT NULL CHECK (rto_payer IN ('buyer', 'seller', 'platform')),
    created_at BIGINT NOT NULL
);

-- A parcel of a cash-on-delivery order: one per order, known by its carrier's tracking number.
CREATE TABLE parcels (
    id TEXT PRIMARY KEY,
    carrier TEXT NOT NULL,
    tracking TEXT NOT NULL,
    order_id TEXT NOT NULL UNIQUE,
    payment_id TEXT NOT NULL,
    buyer TEXT NOT NULL,
    seller TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    currency TEXT NOT NULL,
    cash BIGINT NOT NULL CHECK (cash > 0),
    fee BIGINT NOT NULL CHECK (fee >= 0),
    rto_cost BIGINT NOT NULL CHECK (rto_cost >= 0),
    rto_payer TEXT NOT NULL CHECK (rto_payer IN ('buyer', 'seller', 'platform')),
    status TEXT NOT NULL
        CHECK (status IN ('in_transit', 'out_for_delivery', 'collected', 'refused', 'undeliverable')),
    out_for_delivery_at BIGINT,
    final_at BIGINT,
    remitted_batch TEXT,
    remitted_at BIGINT,
    created_at BIGINT NOT NULL,
    last_event_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (carrier, tracking)
);
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
    occurred_at BIGINT NOT NULL,
    cash BIGINT,
    outcome TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (carrier, event_id)
);
CREATE INDEX parcel_events_by_tracking ON parcel_events (carrier, tracking, occurred_at);

-- One-time codes that verify a buyer's phone: only the keyed hash of the code is kept.
CREATE TABLE phone_verifications (
    id TEXT PRIMARY KEY,
    buyer TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    phone TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    verified_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Carriers' remittance files, once each: by the hash of the file's bytes, and by the carrier's
-- batch id (the same batch with other figures is a conflict). A file is posted in chunks, each
-- in its own transaction; `chunks_done` is where an import stopped by a crash resumes.
CREATE TABLE remittances (
    id TEXT PRIMARY KEY,
    carrier TEXT NOT NULL,
    batch TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('importing', 'done')),
    chunks_done BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    posted BIGINT NOT NULL,
    gross BIGINT NOT NULL,
    deductions BIGINT NOT NULL,
    net BIGINT NOT NULL,
    report TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (carrier, batch),
    UNIQUE (carrier, file_sha256)
);

-- Each line of a remittance and what it was found to be.
CREATE TABLE remittance_lines (
    remittance_id TEXT NOT NULL,
    line_no BIGINT NOT NULL,
    tracking TEXT NOT NULL,
    parcel_id TEXT,
    class TEXT NOT NULL,
    expected_net BIGINT,
    reported_net BIGINT NOT NULL,
    delta BIGINT NOT NULL,
    deductions TEXT NOT NULL,
    warnings TEXT NOT NULL,
    PRIMARY KEY (remittance_id, line_no)
);

-- API keys of carriers: `principal_kind` may be 'carrier'.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_principal_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_principal_kind_check
    CHECK (principal_kind IN ('platform', 'buyer', 'seller', 'mediator', 'retailer', 'carrier'));

-- A refund of cash never collected goes nowhere ('uncollected').
ALTER TABLE refunds DROP CONSTRAINT refunds_destination_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_destination_check
    CHECK (destination IN ('original_method', 'balance', 'uncollected'));
