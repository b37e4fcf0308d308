-- The ledger: accounts (running sums), holds (two-phase), the append-only journal and postings.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    bounded BOOLEAN NOT NULL,
    debits_posted BIGINT NOT NULL DEFAULT 0,
    credits_posted BIGINT NOT NULL DEFAULT 0,
    debits_pending BIGINT NOT NULL DEFAULT 0,
    credits_pending BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE ledger_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    committed_at BIGINT NOT NULL
);
INSERT INTO ledger_head (id, seq, hash, committed_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);

CREATE TABLE journal (
    seq BIGINT PRIMARY KEY,
    tx_id TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    committed_at BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE postings (
    seq BIGINT NOT NULL REFERENCES journal (seq),
    idx BIGINT NOT NULL,
    kind TEXT NOT NULL,
    hold_id TEXT,
    debit_account TEXT NOT NULL REFERENCES accounts (id),
    credit_account TEXT NOT NULL REFERENCES accounts (id),
    currency TEXT NOT NULL,
    posted BIGINT NOT NULL,
    pending_delta BIGINT NOT NULL,
    PRIMARY KEY (seq, idx)
);
CREATE INDEX postings_by_debit ON postings (debit_account, seq, idx);
CREATE INDEX postings_by_credit ON postings (credit_account, seq, idx);

CREATE TABLE holds (
    id TEXT PRIMARY KEY,
    debit_account TEXT NOT NULL REFERENCES accounts (id),
    credit_account TEXT NOT NULL REFERENCES accounts (id),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'posted', 'voided')),
    posted_amount BIGINT,
    created_seq BIGINT NOT NULL,
    resolved_seq BIGINT
);

-- The journal is append-only: the database itself refuses to change or remove an entry.
CREATE FUNCTION holdback_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'holdback: % is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER journal_no_update BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION holdback_append_only();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION holdback_append_only();
CREATE TRIGGER postings_no_update BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION holdback_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION holdback_append_only();
-- A hold is resolved exactly once.
CREATE FUNCTION holdback_resolve_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'open' THEN
        RAISE EXCEPTION 'holdback: a hold is resolved exactly once';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER holds_resolve_once BEFORE UPDATE ON holds
    FOR EACH ROW EXECUTE FUNCTION holdback_resolve_once();
