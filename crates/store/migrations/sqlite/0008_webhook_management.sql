-- Webhook endpoints a platform manages: enabled, disabled (deliveries wait) or deleted (pending
-- deliveries cancelled, history kept); each delivery notes why its last attempt failed.
ALTER TABLE webhook_endpoints ADD COLUMN status TEXT NOT NULL DEFAULT 'enabled'
    CHECK (status IN ('enabled', 'disabled', 'deleted'));
ALTER TABLE webhook_deliveries ADD COLUMN last_error TEXT;
