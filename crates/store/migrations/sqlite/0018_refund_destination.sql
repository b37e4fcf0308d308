-- Where each refund went: back through the provider that took the money ('original_method'),
-- or into the buyer's balance ('balance': a part paid from the balance, or one policy routes
-- there). A refund to the balance is written succeeded: no provider is called.
ALTER TABLE refunds ADD COLUMN destination TEXT NOT NULL DEFAULT 'original_method'
    CHECK (destination IN ('original_method', 'balance'));
