-- A carrier's remittance may take back an earlier batch's payment for a parcel (a reversal
-- line): the parcel is then collected and not remitted again (its cash owed once more), and
-- remembers the batch that took the payment back, so that reading that batch again (an import
-- resumed after a crash) knows the reversal was already applied.
ALTER TABLE parcels ADD COLUMN reversed_batch TEXT;
ALTER TABLE parcels ADD COLUMN reversed_at BIGINT;

-- An operator may accept a short- or over-paid line (or a reversal of another amount) as the
-- carrier paid it: the line then posts (the difference from the rate card booked as an expense)
-- and records when, why and with which key.
ALTER TABLE remittance_lines ADD COLUMN accepted_at BIGINT;
ALTER TABLE remittance_lines ADD COLUMN accepted_note TEXT;
ALTER TABLE remittance_lines ADD COLUMN accepted_by TEXT;
