-- Every notification a payment connector sent (the bank, a wallet), as it arrived (the raw
-- body, kept for audit), with what came of it: applied to a payment, unmatched (no payment has
-- its reference: kept for an operator), or refused (a bad signature, a wrong currency). The
-- connector's own id makes a redelivery of an accepted notification change nothing.
CREATE TABLE connector_notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    connector TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    reference TEXT,
    currency TEXT,
    amount INTEGER,
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'unmatched', 'refused')),
    reason TEXT,
    payment_id TEXT
) STRICT;
-- One accepted notification per connector, id and mode (refused ones do not take the id).
CREATE UNIQUE INDEX connector_notifications_once
    ON connector_notifications (livemode, connector, notification_id) WHERE outcome <> 'refused';
CREATE INDEX connector_notifications_unmatched ON connector_notifications (seq)
    WHERE outcome = 'unmatched';
