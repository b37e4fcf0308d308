-- Coupons: a discount funded by the platform or by a seller, fixed or a percentage, with a
-- minimum spend, validity dates, a limit per buyer and in all, perhaps for one seller only.
-- `used` counts the uses not given back; it moves with the coupon's version, in the same unit
-- as the payment that uses it, so that two buyers racing for the last use cannot both have it.
CREATE TABLE coupons (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    funded_by TEXT NOT NULL CHECK (funded_by IN ('platform', 'seller')),
    seller TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('fixed', 'percent')),
    amount_off INTEGER CHECK (amount_off > 0),
    percent_off_bps INTEGER CHECK (percent_off_bps > 0 AND percent_off_bps < 10000),
    currency TEXT NOT NULL,
    min_spend INTEGER NOT NULL CHECK (min_spend >= 0),
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    per_buyer INTEGER NOT NULL CHECK (per_buyer > 0),
    total_limit INTEGER NOT NULL CHECK (total_limit > 0),
    used INTEGER NOT NULL CHECK (used >= 0 AND used <= total_limit),
    created_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX coupons_by_code ON coupons (livemode, code);

-- Each use of a coupon: by which payment, for which order and buyer, how much off; given back
-- (the order cancelled or the payment failed while the coupon was still valid) or not.
CREATE TABLE coupon_uses (
    coupon_id TEXT NOT NULL REFERENCES coupons (id),
    payment_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    buyer TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    used_at INTEGER NOT NULL,
    given_back_at INTEGER,
    PRIMARY KEY (coupon_id, order_id)
) STRICT;
CREATE INDEX coupon_uses_by_buyer ON coupon_uses (coupon_id, buyer);
CREATE INDEX coupon_uses_by_payment ON coupon_uses (payment_id);
CREATE INDEX coupon_uses_by_order ON coupon_uses (order_id);

-- What the platform pays of an order (a platform-funded coupon), and what of it its refunds
-- gave back to the platform's promotions.
ALTER TABLE orders ADD COLUMN promotion INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN promotion_returned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment_plans ADD COLUMN promotion INTEGER NOT NULL DEFAULT 0;
