-- Disputes: a buyer's claim about an order, one row each, with the columns of every stage (those
-- of the stages it is not in are null). What was fixed when it opened (order, parties, reason,
-- request, what was paid and held) never changes; `status` says which stage's columns hold.
CREATE TABLE disputes (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    buyer TEXT NOT NULL,
    seller TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    currency TEXT NOT NULL,
    paid INTEGER NOT NULL CHECK (paid > 0),
    held INTEGER NOT NULL CHECK (held >= 0),
    reason TEXT NOT NULL CHECK (reason IN ('not_received', 'not_as_described', 'damaged',
        'counterfeit', 'wrong_item')),
    request TEXT NOT NULL CHECK (request IN ('full_refund', 'partial_refund', 'return_and_refund')),
    request_amount INTEGER CHECK (request_amount > 0),
    opened_at INTEGER NOT NULL,
    escalated_at INTEGER,
    status TEXT NOT NULL CHECK (status IN ('negotiating', 'in_mediation', 'awaiting_return',
        'return_shipped', 'closed')),
    -- negotiating: the seller's answer and the escalation's times
    answer_due INTEGER,
    escalate_from INTEGER,
    escalate_at INTEGER,
    answer TEXT CHECK (answer IN ('accept', 'reject', 'counter')),
    counter_amount INTEGER CHECK (counter_amount > 0),
    -- in mediation
    escalated_by TEXT CHECK (escalated_by IN ('buyer', 'seller', 'timer', 'after_release')),
    sla_due INTEGER,
    overdue INTEGER NOT NULL,
    -- a return: awaited, then shipped (and delivered)
    return_ship_by INTEGER,
    return_refund INTEGER CHECK (return_refund >= 0),
    return_tracking TEXT,
    return_shipped_at INTEGER,
    return_delivered_at INTEGER,
    return_refund_due INTEGER,
    -- closed
    outcome TEXT CHECK (outcome IN ('full_refund', 'partial_refund', 'return_and_refund',
        'rejected', 'counterfeit')),
    outcome_amount INTEGER CHECK (outcome_amount > 0),
    closure TEXT,
    decision_reason TEXT,
    -- the mediator who decided (kept once the dispute moves on to a return)
    decided_by TEXT,
    closed_at INTEGER,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- At most one open dispute per order, whatever the code above it does.
CREATE UNIQUE INDEX disputes_one_open_per_order ON disputes (order_id) WHERE status <> 'closed';
CREATE INDEX disputes_by_order ON disputes (order_id, id);
-- The mediation queue, by SLA deadline.
CREATE INDEX disputes_in_mediation ON disputes (livemode, sla_due, id)
    WHERE status = 'in_mediation';

-- A dispute's durable timers, as the orders' (one per kind, moved by setting it again).
CREATE TABLE dispute_timers (
    dispute_id TEXT NOT NULL REFERENCES disputes (id),
    kind TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (dispute_id, kind)
) STRICT, WITHOUT ROWID;
CREATE INDEX dispute_timers_by_due ON dispute_timers (due_at);
