-- Payments that wait for their money (a bank transfer, a wallet): until when (`expires_at`,
-- while the payment requires action), where a wallet sends the buyer back (`return_url`), and
-- what each tender received so far; orders placed awaiting such a
-- payment: the same expiry, and the seller's time to ship, counted from the payment.
ALTER TABLE payments ADD COLUMN return_url TEXT;
ALTER TABLE payments ADD COLUMN expires_at BIGINT;
ALTER TABLE payment_tenders ADD COLUMN received BIGINT NOT NULL DEFAULT 0;
-- the account a bank transfer came from, as the bank reported it (paid back there)
ALTER TABLE payment_tenders ADD COLUMN payer_account TEXT;
ALTER TABLE orders ADD COLUMN expires_at BIGINT;
ALTER TABLE orders ADD COLUMN ship_by_ms BIGINT;
-- The payments whose time runs out next (the scheduler's expiry sweep).
CREATE INDEX payments_awaiting ON payments (expires_at) WHERE status = 'requires_action';
