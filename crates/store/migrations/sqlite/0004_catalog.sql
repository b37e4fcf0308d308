-- Products, and the shipping method (with its delivery guarantee) chosen for each order.
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    seller TEXT NOT NULL,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    unit_amount INTEGER NOT NULL CHECK (unit_amount > 0),
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX products_by_seller ON products (seller, id);

ALTER TABLE orders ADD COLUMN shipping_method TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE orders ADD COLUMN delivery_guarantee INTEGER NOT NULL DEFAULT 2592000000;

-- Test and live data never mix: events and webhook endpoints belong to one mode.
ALTER TABLE events ADD COLUMN livemode INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN livemode INTEGER NOT NULL DEFAULT 0;
