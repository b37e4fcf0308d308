-- Idempotency keys are claimed before the request runs: a row `in_flight` with the claiming
-- request's token and a lease (`locked_until`, ms), replaced by the final response (`done`)
-- in the same transaction as the request's decision. A claim left behind by a crashed node is
-- taken over once its lease has passed. Rows older than a day are purged by the scheduler.
ALTER TABLE idempotency_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'done'
    CHECK (state IN ('in_flight', 'done'));
ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT;
ALTER TABLE idempotency_keys ADD COLUMN locked_until INTEGER;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
