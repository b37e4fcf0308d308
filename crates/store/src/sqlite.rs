//! SQLite-only statements: the batch commit under `BEGIN IMMEDIATE`, prefetch with `json_each`.

use holdback_domain::ledger::{Book, Changes};
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use crate::writer::{Command, Reply, Wanted, WriteError, conflict, decide, json_array};
use crate::{StoreError, rows};

pub(crate) const SELECT_TRIGGER_NAMES: &str =
    "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name";

/// Decides and commits one batch in one `BEGIN IMMEDIATE` transaction.
pub(crate) async fn commit_batch(
    pool: &SqlitePool,
    commands: &[&Command],
    now: i64,
) -> Result<Vec<Result<Reply, WriteError>>, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut book = prefetch(&mut tx, &Wanted::of(commands)).await?;
    let (replies, changes) = decide(&mut book, commands, now);
    if !changes.is_empty() {
        persist(&mut tx, &changes).await?;
    }
    tx.commit().await?;
    Ok(replies)
}

async fn prefetch(conn: &mut SqliteConnection, wanted: &Wanted) -> Result<Book, StoreError> {
    let head = rows::head(&sqlx::query(rows::SELECT_HEAD).fetch_one(&mut *conn).await?)?;
    let mut book = Book::new(head);
    let mut account_ids = wanted.accounts.clone();
    if !wanted.holds.is_empty() {
        let held = sqlx::query(
            "SELECT id, debit_account, credit_account, currency, amount, status, posted_amount, \
             created_seq, resolved_seq FROM holds WHERE id IN (SELECT value FROM json_each($1))",
        )
        .bind(json_array(wanted.holds.iter().map(|h| h.as_str())))
        .fetch_all(&mut *conn)
        .await?;
        for row in &held {
            let hold = rows::hold(row)?;
            account_ids.insert(hold.debit.clone());
            account_ids.insert(hold.credit.clone());
            book.load_hold(hold);
        }
    }
    if !wanted.transactions.is_empty() {
        let known = sqlx::query(
            "SELECT seq, tx_id, fingerprint, committed_at, prev_hash, hash FROM journal \
             WHERE tx_id IN (SELECT value FROM json_each($1))",
        )
        .bind(json_array(wanted.transactions.iter().map(|t| t.as_str())))
        .fetch_all(&mut *conn)
        .await?;
        for entry in rows::assemble_journal(&known, &[])? {
            book.load_transaction(entry.fingerprint, entry.receipt());
        }
    }
    if !account_ids.is_empty() {
        let accounts = sqlx::query(
            "SELECT id, kind, currency, bounded, debits_posted, credits_posted, debits_pending, \
             credits_pending, created_at FROM accounts \
             WHERE id IN (SELECT value FROM json_each($1))",
        )
        .bind(json_array(account_ids.iter().map(|a| a.as_str())))
        .fetch_all(&mut *conn)
        .await?;
        for row in &accounts {
            book.load_account(rows::account(row)?);
        }
    }
    Ok(book)
}

/// Rows for one bulk statement, encoded as a JSON array of arrays and unpacked in SQL with
/// `json_each`: one statement per table per batch instead of one per row.
#[derive(Default)]
struct JsonRows {
    out: String,
    rows: usize,
    in_row: bool,
}

impl JsonRows {
    fn row(&mut self) -> &mut JsonRows {
        self.out.push_str(if self.rows == 0 { "[[" } else { "],[" });
        self.rows += 1;
        self.in_row = false;
        self
    }
    fn sep(&mut self) {
        if self.in_row {
            self.out.push(',');
        }
        self.in_row = true;
    }
    fn int(&mut self, v: i64) -> &mut JsonRows {
        self.sep();
        self.out.push_str(&v.to_string());
        self
    }
    fn opt_int(&mut self, v: Option<i64>) -> &mut JsonRows {
        match v {
            Some(v) => self.int(v),
            None => {
                self.sep();
                self.out.push_str("null");
                self
            }
        }
    }
    fn text(&mut self, v: &str) -> &mut JsonRows {
        self.sep();
        self.out.push_str(&json_array(std::iter::once(v))[1..]);
        self.out.pop();
        self
    }
    fn opt_text(&mut self, v: Option<&str>) -> &mut JsonRows {
        match v {
            Some(v) => self.text(v),
            None => {
                self.sep();
                self.out.push_str("null");
                self
            }
        }
    }
    fn finish(mut self) -> String {
        self.out.push_str(if self.rows == 0 { "[]" } else { "]]" });
        self.out
    }
}

async fn persist(conn: &mut SqliteConnection, changes: &Changes) -> Result<(), StoreError> {
    for a in &changes.opened_accounts {
        sqlx::query(rows::INSERT_ACCOUNT)
            .bind(a.spec.id.as_str())
            .bind(a.spec.kind.code())
            .bind(a.spec.currency.code())
            .bind(a.spec.bounded)
            .bind(a.created_at)
            .execute(&mut *conn)
            .await?;
    }
    if !changes.entries.is_empty() {
        let mut journal = JsonRows::default();
        let mut postings = JsonRows::default();
        for e in &changes.entries {
            journal
                .row()
                .int(e.seq)
                .text(e.tx_id.as_str())
                .text(&e.fingerprint.to_hex())
                .int(e.committed_at)
                .text(&e.prev_hash.to_hex())
                .text(&e.hash.to_hex());
            for (idx, p) in e.postings.iter().enumerate() {
                postings
                    .row()
                    .int(e.seq)
                    .int(idx as i64)
                    .text(p.kind.code())
                    .opt_text(p.hold.as_ref().map(|h| h.as_str()))
                    .text(p.debit.as_str())
                    .text(p.credit.as_str())
                    .text(p.currency.code())
                    .int(p.posted)
                    .int(p.pending_delta);
            }
        }
        sqlx::query(
            "INSERT INTO journal (seq, tx_id, fingerprint, committed_at, prev_hash, hash) \
             SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 \
             FROM json_each($1)",
        )
        .bind(journal.finish())
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO postings (seq, idx, kind, hold_id, debit_account, credit_account, \
             currency, posted, pending_delta) \
             SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
             value->>6, value->>7, value->>8 FROM json_each($1)",
        )
        .bind(postings.finish())
        .execute(&mut *conn)
        .await?;
    }
    let mut moved = JsonRows::default();
    for a in changes
        .opened_accounts
        .iter()
        .chain(&changes.updated_accounts)
    {
        if a.debits_posted != 0
            || a.credits_posted != 0
            || a.debits_pending != 0
            || a.credits_pending != 0
        {
            moved
                .row()
                .text(a.spec.id.as_str())
                .int(a.debits_posted)
                .int(a.credits_posted)
                .int(a.debits_pending)
                .int(a.credits_pending);
        }
    }
    if moved.rows > 0 {
        sqlx::query(
            "UPDATE accounts SET debits_posted = u.value->>1, credits_posted = u.value->>2, \
             debits_pending = u.value->>3, credits_pending = u.value->>4 \
             FROM json_each($1) AS u WHERE accounts.id = u.value->>0",
        )
        .bind(moved.finish())
        .execute(&mut *conn)
        .await?;
    }
    if !changes.opened_holds.is_empty() {
        let mut holds = JsonRows::default();
        for h in &changes.opened_holds {
            let (status, posted_amount, resolved_seq) = rows::hold_status_columns(h.status);
            holds
                .row()
                .text(h.id.as_str())
                .text(h.debit.as_str())
                .text(h.credit.as_str())
                .text(h.amount.currency().code())
                .int(h.amount.minor())
                .text(status)
                .opt_int(posted_amount)
                .int(h.created_seq)
                .opt_int(resolved_seq);
        }
        sqlx::query(
            "INSERT INTO holds (id, debit_account, credit_account, currency, amount, status, \
             posted_amount, created_seq, resolved_seq) \
             SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
             value->>6, value->>7, value->>8 FROM json_each($1)",
        )
        .bind(holds.finish())
        .execute(&mut *conn)
        .await?;
    }
    if !changes.resolved_holds.is_empty() {
        let mut holds = JsonRows::default();
        for h in &changes.resolved_holds {
            let (status, posted_amount, resolved_seq) = rows::hold_status_columns(h.status);
            holds
                .row()
                .text(h.id.as_str())
                .text(status)
                .opt_int(posted_amount)
                .opt_int(resolved_seq);
        }
        let done = sqlx::query(
            "UPDATE holds SET status = u.value->>1, posted_amount = u.value->>2, \
             resolved_seq = u.value->>3 \
             FROM json_each($1) AS u WHERE holds.id = u.value->>0 AND holds.status = 'open'",
        )
        .bind(holds.finish())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != changes.resolved_holds.len() as u64 {
            return Err(conflict("a hold resolved by this batch was not open"));
        }
    }
    if let Some(head) = changes.head {
        let first = changes.entries.first().map_or(head.seq, |e| e.seq);
        let done = sqlx::query(rows::UPDATE_HEAD)
            .bind(head.seq)
            .bind(head.hash.to_hex())
            .bind(head.committed_at)
            .bind(first - 1)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() != 1 {
            return Err(conflict("the journal head moved during the batch"));
        }
    }
    Ok(())
}
