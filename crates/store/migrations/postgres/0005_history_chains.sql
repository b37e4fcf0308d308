-- Account history as a chain instead of two indexes. Each posting names, for its debit and its
-- credit account, that account's posting before it; each account names its newest posting.
-- Postings stay append-only and a commit no longer dirties one index page per account touched.
ALTER TABLE accounts ADD COLUMN last_seq BIGINT, ADD COLUMN last_idx BIGINT;
ALTER TABLE postings ADD COLUMN debit_prev_seq BIGINT, ADD COLUMN debit_prev_idx BIGINT,
    ADD COLUMN credit_prev_seq BIGINT, ADD COLUMN credit_prev_idx BIGINT;

-- Link the postings already written, in journal order.
CREATE TEMP TABLE posting_links ON COMMIT DROP AS
WITH sides AS (
    SELECT seq, idx, 'debit' AS side, debit_account AS account FROM postings
    UNION ALL
    SELECT seq, idx, 'credit', credit_account FROM postings
)
SELECT seq, idx, side, account,
       LAG(seq) OVER w AS prev_seq, LAG(idx) OVER w AS prev_idx,
       ROW_NUMBER() OVER (PARTITION BY account ORDER BY seq DESC, idx DESC) AS newest
FROM sides
WINDOW w AS (PARTITION BY account ORDER BY seq, idx);

ALTER TABLE postings DISABLE TRIGGER postings_no_update;
UPDATE postings SET debit_prev_seq = l.prev_seq, debit_prev_idx = l.prev_idx
FROM posting_links l
WHERE l.seq = postings.seq AND l.idx = postings.idx AND l.side = 'debit';
UPDATE postings SET credit_prev_seq = l.prev_seq, credit_prev_idx = l.prev_idx
FROM posting_links l
WHERE l.seq = postings.seq AND l.idx = postings.idx AND l.side = 'credit';
ALTER TABLE postings ENABLE TRIGGER postings_no_update;
UPDATE accounts SET last_seq = l.seq, last_idx = l.idx
FROM posting_links l
WHERE l.account = accounts.id AND l.newest = 1;

DROP INDEX postings_by_debit;
DROP INDEX postings_by_credit;
