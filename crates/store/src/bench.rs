//! The raw limit a benchmark compares against: a plain SQL transaction of the same shape as one
//! ledger transfer (two balance updates and two appended rows), one transaction per commit, on
//! scratch tables of the same database.

use std::time::Duration;

use sqlx::Executor as _;

use crate::{Store, StoreError};

const SETUP: &str = "\
     CREATE TABLE IF NOT EXISTS bench_raw_accounts (id BIGINT PRIMARY KEY, \
       debits_posted BIGINT NOT NULL, credits_posted BIGINT NOT NULL, \
       debits_pending BIGINT NOT NULL, credits_pending BIGINT NOT NULL, last_seq BIGINT, \
       last_idx BIGINT); \
     CREATE TABLE IF NOT EXISTS bench_raw_journal (seq BIGINT PRIMARY KEY, \
       tx_id TEXT NOT NULL UNIQUE, fingerprint TEXT NOT NULL, committed_at BIGINT NOT NULL, \
       prev_hash TEXT NOT NULL, hash TEXT NOT NULL); \
     CREATE TABLE IF NOT EXISTS bench_raw_postings (seq BIGINT NOT NULL, idx BIGINT NOT NULL, \
       kind TEXT NOT NULL, debit BIGINT NOT NULL, credit BIGINT NOT NULL, currency TEXT NOT NULL, \
       posted BIGINT NOT NULL, debit_prev_seq BIGINT, debit_prev_idx BIGINT, \
       credit_prev_seq BIGINT, credit_prev_idx BIGINT, PRIMARY KEY (seq, idx)); \
     DELETE FROM bench_raw_accounts; DELETE FROM bench_raw_journal; DELETE FROM bench_raw_postings; \
     INSERT INTO bench_raw_accounts VALUES (1, 0, 0, 0, 0, NULL, NULL), (2, 0, 0, 0, 0, NULL, NULL);";
const TEARDOWN: &str =
    "DROP TABLE bench_raw_accounts; DROP TABLE bench_raw_journal; DROP TABLE bench_raw_postings;";

/// The statements of one raw transfer, the shape of a one-transfer ledger transaction: two
/// account updates (sums and newest posting), a journal row with a unique transaction id and
/// three hashes, and a posting linked to each account's posting before it.
const DEBIT: &str = "UPDATE bench_raw_accounts SET debits_posted = debits_posted + $1, \
     last_seq = $1, last_idx = 0 WHERE id = 1";
const CREDIT: &str = "UPDATE bench_raw_accounts SET credits_posted = credits_posted + $1, \
     last_seq = $1, last_idx = 0 WHERE id = 2";
const JOURNAL: &str = "INSERT INTO bench_raw_journal (seq, tx_id, fingerprint, committed_at, \
     prev_hash, hash) VALUES ($1, $2, $3, $1, $3, $3)";
const POSTING: &str = "INSERT INTO bench_raw_postings (seq, idx, kind, debit, credit, currency, \
     posted, debit_prev_seq, debit_prev_idx, credit_prev_seq, credit_prev_idx) \
     VALUES ($1, 0, 'posted', 1, 2, 'USD', $1, $1 - 1, 0, $1 - 1, 0)";

/// A 64-character stand-in for a hex hash, different for every `seq`.
fn fake_hash(seq: i64) -> String {
    format!("{seq:064x}")
}

/// Runs `n` raw transfers, one per durable commit, from one connection; returns the time taken.
pub async fn raw_one_per_commit(
    store: &Store,
    n: i64,
    mut elapsed: impl FnMut() -> Duration + Send + 'static,
) -> Result<Duration, StoreError> {
    macro_rules! run {
        ($pool:expr, $begin:expr) => {{
            $pool.execute(SETUP).await?;
            let start = elapsed();
            for seq in 1..=n {
                let mut tx = $pool.begin_with($begin).await?;
                sqlx::query(DEBIT).bind(seq).execute(&mut *tx).await?;
                sqlx::query(CREDIT).bind(seq).execute(&mut *tx).await?;
                sqlx::query(JOURNAL)
                    .bind(seq)
                    .bind(format!("raw{seq}"))
                    .bind(fake_hash(seq))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(POSTING).bind(seq).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            let taken = elapsed() - start;
            $pool.execute(TEARDOWN).await?;
            taken
        }};
    }
    Ok(match store {
        // On SQLite the baseline uses the same synchronous driver as the ledger writer, so that
        // it measures the database's limit and not sqlx's hand-offs between threads.
        Store::Sqlite(pool) => {
            let path = pool.connect_options().get_filename().to_path_buf();
            let taken = tokio::task::spawn_blocking(move || raw_sqlite(&path, n, elapsed))
                .await
                .map_err(|e| StoreError::Corrupt(format!("benchmark thread: {e}")))??;
            pool.execute(TEARDOWN).await?;
            taken
        }
        Store::Postgres(pool) => run!(pool, "BEGIN"),
    })
}

fn raw_sqlite(
    path: &std::path::Path,
    n: i64,
    mut elapsed: impl FnMut() -> Duration,
) -> Result<Duration, StoreError> {
    let mut conn = crate::sqlite::open(path)?;
    conn.execute_batch(SETUP)?;
    let start = elapsed();
    for seq in 1..=n {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.prepare_cached(DEBIT)?.execute([seq])?;
        tx.prepare_cached(CREDIT)?.execute([seq])?;
        tx.prepare_cached(JOURNAL)?.execute(rusqlite::params![
            seq,
            format!("raw{seq}"),
            fake_hash(seq)
        ])?;
        tx.prepare_cached(POSTING)?.execute([seq])?;
        tx.commit()?;
    }
    Ok(elapsed() - start)
}

/// Rows per multi-row insert (22 values each: under both drivers' limits on bound values).
const PARCELS_PER_INSERT: usize = 500;

/// A multi-row insert of `rows` parcels: `INSERT INTO parcels (…) VALUES ($1, …), (…)`, with
/// `mark` before each parameter's number (SQLite takes `?N` without looking the name up among
/// the thousands before it, as it does for `$N`).
fn parcels_insert(rows: usize, mark: char) -> String {
    let per = crate::parcels::VALUES_PER_PARCEL;
    let mut sql = String::from(crate::parcels::INSERT_COLUMNS);
    sql.push_str("VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..per {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push(mark);
            sql.push_str(&(r * per + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// Benchmark setup: inserts `parcels` as they are (version 1, as a unit would have written
/// them), in one transaction, [`PARCELS_PER_INSERT`] rows per statement. No ledger posting:
/// the caller books what the parcels' states imply.
pub async fn insert_parcels(
    store: &Store,
    parcels: Vec<holdback_domain::cod::Parcel>,
    now: i64,
) -> Result<(), StoreError> {
    let values = move |p: &[holdback_domain::cod::Parcel]| -> Vec<crate::unit::Val> {
        p.iter()
            .flat_map(|p| crate::parcels::values(p, 1, now))
            .collect()
    };
    match store {
        Store::Sqlite(pool) => {
            let path = pool.connect_options().get_filename().to_path_buf();
            tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                let mut conn = crate::sqlite::open(&path)?;
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for part in parcels.chunks(PARCELS_PER_INSERT) {
                    let sql = parcels_insert(part.len(), '?');
                    let mut stmt = tx.prepare_cached(&sql)?;
                    stmt.execute(rusqlite::params_from_iter(values(part)))?;
                }
                tx.commit()?;
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                Ok(())
            })
            .await
            .map_err(|e| StoreError::Corrupt(format!("benchmark thread: {e}")))??;
        }
        Store::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            for part in parcels.chunks(PARCELS_PER_INSERT) {
                let sql = parcels_insert(part.len(), '$');
                let vals = values(part);
                crate::unit::bind_pg(sqlx::query(sqlx::AssertSqlSafe(sql)), &vals)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}

/// After a bulk setup: on PostgreSQL, the planner's statistics of the parcels (what autovacuum
/// would have gathered on a table that grew to this size; without them a chunk's lookup by 500
/// tracking numbers reads the carrier's whole index range). SQLite plans without statistics.
pub async fn analyze_parcels(store: &Store) -> Result<(), StoreError> {
    if let Store::Postgres(pool) = store {
        sqlx::query("ANALYZE parcels").execute(pool).await?;
    }
    Ok(())
}
