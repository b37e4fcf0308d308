-- The ledger: accounts (running sums), holds (two-phase), the append-only journal and postings.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    bounded INTEGER NOT NULL CHECK (bounded IN (0, 1)),
    debits_posted INTEGER NOT NULL DEFAULT 0,
    credits_posted INTEGER NOT NULL DEFAULT 0,
    debits_pending INTEGER NOT NULL DEFAULT 0,
    credits_pending INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE ledger_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    committed_at INTEGER NOT NULL
) STRICT;
INSERT INTO ledger_head (id, seq, hash, committed_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);

CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    tx_id TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    committed_at INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
) STRICT;

CREATE TABLE postings (
    seq INTEGER NOT NULL REFERENCES journal (seq),
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    hold_id TEXT,
    debit_account TEXT NOT NULL REFERENCES accounts (id),
    credit_account TEXT NOT NULL REFERENCES accounts (id),
    currency TEXT NOT NULL,
    posted INTEGER NOT NULL,
    pending_delta INTEGER NOT NULL,
    PRIMARY KEY (seq, idx)
) STRICT, WITHOUT ROWID;
CREATE INDEX postings_by_debit ON postings (debit_account, seq, idx);
CREATE INDEX postings_by_credit ON postings (credit_account, seq, idx);

CREATE TABLE holds (
    id TEXT PRIMARY KEY,
    debit_account TEXT NOT NULL REFERENCES accounts (id),
    credit_account TEXT NOT NULL REFERENCES accounts (id),
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'posted', 'voided')),
    posted_amount INTEGER,
    created_seq INTEGER NOT NULL,
    resolved_seq INTEGER
) STRICT;

-- The journal is append-only: the database itself refuses to change or remove an entry.
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'holdback: the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'holdback: the journal is append-only'); END;
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'holdback: postings are append-only'); END;
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'holdback: postings are append-only'); END;
-- A hold is resolved exactly once.
CREATE TRIGGER holds_resolve_once BEFORE UPDATE ON holds
WHEN OLD.status <> 'open'
BEGIN SELECT RAISE(ABORT, 'holdback: a hold is resolved exactly once'); END;
