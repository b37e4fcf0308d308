-- Buyer protection on the order: a non-delivery claim opened when the delivery guarantee passed
-- with no delivered event (`claim_opened_at`), the dispute open on the order with the
-- protection time it stopped with (`dispute_id`, `dispute_opened_at`, `dispute_remaining`,
-- all set or all null), and what was given back to the buyer's payment after the release,
-- charged to the seller (`charged_to_seller`).
ALTER TABLE orders ADD COLUMN claim_opened_at INTEGER;
ALTER TABLE orders ADD COLUMN dispute_id TEXT;
ALTER TABLE orders ADD COLUMN dispute_opened_at INTEGER;
ALTER TABLE orders ADD COLUMN dispute_remaining INTEGER;
ALTER TABLE orders ADD COLUMN charged_to_seller INTEGER NOT NULL DEFAULT 0;
