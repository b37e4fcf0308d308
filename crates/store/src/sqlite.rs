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
    for e in &changes.entries {
        sqlx::query(
            "INSERT INTO journal (seq, tx_id, fingerprint, committed_at, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.seq)
        .bind(e.tx_id.as_str())
        .bind(e.fingerprint.to_hex())
        .bind(e.committed_at)
        .bind(e.prev_hash.to_hex())
        .bind(e.hash.to_hex())
        .execute(&mut *conn)
        .await?;
        for (idx, p) in e.postings.iter().enumerate() {
            sqlx::query(
                "INSERT INTO postings (seq, idx, kind, hold_id, debit_account, credit_account, \
                 currency, posted, pending_delta) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(e.seq)
            .bind(idx as i64)
            .bind(p.kind.code())
            .bind(p.hold.as_ref().map(|h| h.as_str()))
            .bind(p.debit.as_str())
            .bind(p.credit.as_str())
            .bind(p.currency.code())
            .bind(p.posted)
            .bind(p.pending_delta)
            .execute(&mut *conn)
            .await?;
        }
    }
    for a in changes
        .opened_accounts
        .iter()
        .chain(&changes.updated_accounts)
    {
        if a.debits_posted == 0
            && a.credits_posted == 0
            && a.debits_pending == 0
            && a.credits_pending == 0
        {
            continue;
        }
        sqlx::query(
            "UPDATE accounts SET debits_posted = $1, credits_posted = $2, debits_pending = $3, \
             credits_pending = $4 WHERE id = $5",
        )
        .bind(a.debits_posted)
        .bind(a.credits_posted)
        .bind(a.debits_pending)
        .bind(a.credits_pending)
        .bind(a.spec.id.as_str())
        .execute(&mut *conn)
        .await?;
    }
    for h in &changes.opened_holds {
        let (status, posted_amount, resolved_seq) = rows::hold_status_columns(h.status);
        sqlx::query(
            "INSERT INTO holds (id, debit_account, credit_account, currency, amount, status, \
             posted_amount, created_seq, resolved_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(h.id.as_str())
        .bind(h.debit.as_str())
        .bind(h.credit.as_str())
        .bind(h.amount.currency().code())
        .bind(h.amount.minor())
        .bind(status)
        .bind(posted_amount)
        .bind(h.created_seq)
        .bind(resolved_seq)
        .execute(&mut *conn)
        .await?;
    }
    for h in &changes.resolved_holds {
        let (status, posted_amount, resolved_seq) = rows::hold_status_columns(h.status);
        let done = sqlx::query(
            "UPDATE holds SET status = $1, posted_amount = $2, resolved_seq = $3 \
             WHERE id = $4 AND status = 'open'",
        )
        .bind(status)
        .bind(posted_amount)
        .bind(resolved_seq)
        .bind(h.id.as_str())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
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
