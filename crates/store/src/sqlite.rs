//! SQLite-only statements: the batch commit under `BEGIN IMMEDIATE`, prefetch with `json_each`.

use holdback_domain::ledger::{Account, Book, Changes, Posting};
use sqlx::QueryBuilder;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};

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

/// Most bound parameters per statement (SQLite allows 32,766).
const MAX_PARAMS: usize = 30_000;

/// Runs `head VALUES (…), (…) tail` over `items`, in chunks that fit the parameter limit: one
/// statement per table per batch instead of one per row. Returns the rows affected.
async fn many<'a, T>(
    conn: &mut SqliteConnection,
    head: &str,
    tail: &str,
    items: &'a [T],
    columns: usize,
    mut push: impl FnMut(&mut Separated<'_, Sqlite, &'static str>, &'a T),
) -> Result<u64, StoreError> {
    let mut affected = 0;
    for chunk in items.chunks(MAX_PARAMS / columns) {
        let mut query = QueryBuilder::<Sqlite>::new(head);
        query.push_values(chunk, |mut row, item| push(&mut row, item));
        query.push(tail);
        affected += query.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}

fn moved(a: &Account) -> bool {
    a.debits_posted != 0 || a.credits_posted != 0 || a.debits_pending != 0 || a.credits_pending != 0
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
    let entries = &changes.entries;
    many(
        conn,
        "INSERT INTO journal (seq, tx_id, fingerprint, committed_at, prev_hash, hash) ",
        "",
        entries,
        6,
        |row, e| {
            row.push_bind(e.seq)
                .push_bind(e.tx_id.as_str())
                .push_bind(e.fingerprint.to_hex())
                .push_bind(e.committed_at)
                .push_bind(e.prev_hash.to_hex())
                .push_bind(e.hash.to_hex());
        },
    )
    .await?;
    let postings: Vec<(i64, i64, &Posting)> = entries
        .iter()
        .flat_map(|e| {
            e.postings
                .iter()
                .enumerate()
                .map(move |(i, p)| (e.seq, i as i64, p))
        })
        .collect();
    many(
        conn,
        "INSERT INTO postings (seq, idx, kind, hold_id, debit_account, credit_account, \
         currency, posted, pending_delta) ",
        "",
        &postings,
        9,
        |row, (seq, idx, p)| {
            row.push_bind(*seq)
                .push_bind(*idx)
                .push_bind(p.kind.code())
                .push_bind(p.hold.as_ref().map(|h| h.as_str()))
                .push_bind(p.debit.as_str())
                .push_bind(p.credit.as_str())
                .push_bind(p.currency.code())
                .push_bind(p.posted)
                .push_bind(p.pending_delta);
        },
    )
    .await?;
    let accounts: Vec<&Account> = changes
        .opened_accounts
        .iter()
        .chain(&changes.updated_accounts)
        .filter(|a| moved(a))
        .collect();
    many(
        conn,
        "WITH u(id, dp, cp, dq, cq) AS (",
        ") UPDATE accounts SET debits_posted = u.dp, credits_posted = u.cp, \
         debits_pending = u.dq, credits_pending = u.cq FROM u WHERE accounts.id = u.id",
        &accounts,
        5,
        |row, a| {
            row.push_bind(a.spec.id.as_str())
                .push_bind(a.debits_posted)
                .push_bind(a.credits_posted)
                .push_bind(a.debits_pending)
                .push_bind(a.credits_pending);
        },
    )
    .await?;
    many(
        conn,
        "INSERT INTO holds (id, debit_account, credit_account, currency, amount, status, \
         posted_amount, created_seq, resolved_seq) ",
        "",
        &changes.opened_holds,
        9,
        |row, h| {
            let (status, posted_amount, resolved_seq) = rows::hold_status_columns(h.status);
            row.push_bind(h.id.as_str())
                .push_bind(h.debit.as_str())
                .push_bind(h.credit.as_str())
                .push_bind(h.amount.currency().code())
                .push_bind(h.amount.minor())
                .push_bind(status)
                .push_bind(posted_amount)
                .push_bind(h.created_seq)
                .push_bind(resolved_seq);
        },
    )
    .await?;
    let resolved = many(
        conn,
        "WITH u(id, status, posted, resolved) AS (",
        ") UPDATE holds SET status = u.status, posted_amount = u.posted, \
         resolved_seq = u.resolved FROM u WHERE holds.id = u.id AND holds.status = 'open'",
        &changes.resolved_holds,
        4,
        |row, h| {
            let (status, posted_amount, resolved_seq) = rows::hold_status_columns(h.status);
            row.push_bind(h.id.as_str())
                .push_bind(status)
                .push_bind(posted_amount)
                .push_bind(resolved_seq);
        },
    )
    .await?;
    if resolved != changes.resolved_holds.len() as u64 {
        return Err(conflict("a hold resolved by this batch was not open"));
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
