-- Payments become aggregates with a version and a status (written `processing` before the
-- provider is called), paid by tenders; the orders a processing payment will open are planned
-- in full; refunds are records of their own, pending until the provider has done them.
ALTER TABLE payments ADD COLUMN status TEXT NOT NULL DEFAULT 'succeeded';
ALTER TABLE payments ADD COLUMN failure_code TEXT;
ALTER TABLE payments ADD COLUMN captured_at INTEGER;
ALTER TABLE payments ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE payments ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
UPDATE payments SET captured_at = created_at;
CREATE INDEX payments_processing ON payments (status, created_at) WHERE status = 'processing';

CREATE TABLE payment_tenders (
    payment_id TEXT NOT NULL REFERENCES payments (id),
    idx INTEGER NOT NULL,
    method TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    refunded INTEGER NOT NULL CHECK (refunded >= 0 AND refunded <= amount),
    reference TEXT NOT NULL,
    card_brand TEXT,
    card_last4 TEXT,
    card_exp_month INTEGER,
    card_exp_year INTEGER,
    provider_token TEXT,
    PRIMARY KEY (payment_id, idx)
) STRICT, WITHOUT ROWID;
INSERT INTO payment_tenders (payment_id, idx, method, currency, amount, refunded, reference,
    card_brand, card_last4, card_exp_month, card_exp_year, provider_token)
SELECT p.id, 0, p.method, p.currency, p.amount,
    COALESCE((SELECT SUM(o.refunded) FROM orders o WHERE o.payment_id = p.id), 0),
    p.id, p.card_brand, p.card_last4, p.card_exp_month, p.card_exp_year, p.provider_token
FROM payments p;

CREATE TABLE payment_plans (
    payment_id TEXT NOT NULL REFERENCES payments (id),
    idx INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    seller TEXT NOT NULL,
    amount INTEGER NOT NULL,
    commission_bps INTEGER NOT NULL,
    commission_fixed INTEGER NOT NULL,
    ship_by_ms INTEGER NOT NULL,
    shipping_method TEXT NOT NULL,
    delivery_guarantee INTEGER NOT NULL,
    PRIMARY KEY (payment_id, idx)
) STRICT, WITHOUT ROWID;

ALTER TABLE orders ADD COLUMN ended_at INTEGER;
CREATE INDEX orders_by_payment ON orders (payment_id);

CREATE TABLE refunds (
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
    lease_until INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX refunds_by_payment ON refunds (payment_id, id);
CREATE INDEX refunds_by_order ON refunds (order_id, id);
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'pending';
CREATE INDEX refunds_failed ON refunds (livemode, id) WHERE status = 'failed';
