-- An order's message record: append-only, hash-chained per order (seq 1, 2, …; each row's
-- prev_hash is the hash of the row before it). `files` holds evidence file ids separated by
-- single spaces ('' for none).
CREATE TABLE order_messages (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    seq INTEGER NOT NULL,
    author_role TEXT NOT NULL,
    author_id TEXT NOT NULL,
    body TEXT NOT NULL,
    files TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    livemode INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (order_id, seq)
) STRICT;
CREATE TRIGGER order_messages_no_update BEFORE UPDATE ON order_messages
BEGIN SELECT RAISE(ABORT, 'holdback: order messages are append-only'); END;
CREATE TRIGGER order_messages_no_delete BEFORE DELETE ON order_messages
BEGIN SELECT RAISE(ABORT, 'holdback: order messages are append-only'); END;
