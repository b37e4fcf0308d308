-- Test and live never mix: a carrier's tracking numbers, its event ids, and its remittance
-- batches and files are unique within one mode, so that nothing done in test mode can block,
-- or be found by, live mode. SQLite cannot change a table's UNIQUE or PRIMARY KEY in place: the
-- three tables are rebuilt, their rows and indexes as they were. A carrier's events gain their
-- mode (that of the parcel they name; test mode when none does).
CREATE TABLE parcels_new (
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
    reversed_batch TEXT,
    reversed_at INTEGER,
    UNIQUE (carrier, livemode, tracking)
) STRICT;
INSERT INTO parcels_new (id, carrier, tracking, order_id, payment_id, buyer, seller, livemode,
                         currency, cash, fee, rto_cost, rto_payer, status, out_for_delivery_at,
                         final_at, remitted_batch, remitted_at, created_at, last_event_at,
                         version, updated_at, reversed_batch, reversed_at)
SELECT id, carrier, tracking, order_id, payment_id, buyer, seller, livemode, currency, cash, fee,
       rto_cost, rto_payer, status, out_for_delivery_at, final_at, remitted_batch, remitted_at,
       created_at, last_event_at, version, updated_at, reversed_batch, reversed_at
FROM parcels;
DROP TABLE parcels;
ALTER TABLE parcels_new RENAME TO parcels;
CREATE INDEX parcels_by_buyer ON parcels (buyer, status, final_at);
CREATE INDEX parcels_unremitted ON parcels (carrier, status, final_at) WHERE remitted_batch IS NULL;

CREATE TABLE parcel_events_new (
    carrier TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    tracking TEXT NOT NULL,
    event TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    cash INTEGER,
    outcome TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (carrier, livemode, event_id)
) STRICT;
INSERT INTO parcel_events_new (carrier, livemode, event_id, tracking, event, occurred_at, cash,
                               outcome, received_at)
SELECT e.carrier,
       COALESCE((SELECT MAX(p.livemode) FROM parcels p
                 WHERE p.carrier = e.carrier AND p.tracking = e.tracking), 0),
       e.event_id, e.tracking, e.event, e.occurred_at, e.cash, e.outcome, e.received_at
FROM parcel_events e;
DROP TABLE parcel_events;
ALTER TABLE parcel_events_new RENAME TO parcel_events;
CREATE INDEX parcel_events_by_tracking ON parcel_events (carrier, tracking, occurred_at);

CREATE TABLE remittances_new (
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
    UNIQUE (carrier, livemode, batch),
    UNIQUE (carrier, livemode, file_sha256)
) STRICT;
INSERT INTO remittances_new (id, carrier, batch, file_sha256, livemode, currency, status,
                             chunks_done, lines, posted, gross, deductions, net, report,
                             created_at)
SELECT id, carrier, batch, file_sha256, livemode, currency, status, chunks_done, lines, posted,
       gross, deductions, net, report, created_at
FROM remittances;
DROP TABLE remittances;
ALTER TABLE remittances_new RENAME TO remittances;
