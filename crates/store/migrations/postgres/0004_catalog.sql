-- Products, and the shipping method (with its delivery guarantee) chosen for each order.
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    seller TEXT NOT NULL,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    unit_amount BIGINT NOT NULL CHECK (unit_amount > 0),
    livemode BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX products_by_seller ON products (seller, id);

ALTER TABLE orders ADD COLUMN shipping_method TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE orders ADD COLUMN delivery_guarantee BIGINT NOT NULL DEFAULT 2592000000;

-- Test and live data never mix: events and webhook endpoints belong to one mode.
ALTER TABLE events ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE webhook_endpoints ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT FALSE;
