//! The raw limit a benchmark compares against: a plain SQL transaction of the same shape as one
//! ledger transfer (two balance updates and two appended rows), one transaction per commit, on
//! scratch tables of the same database.

use std::time::Duration;

use sqlx::Executor as _;

use crate::{Store, StoreError};

const SETUP: &str = "CREATE TABLE IF NOT EXISTS bench_raw_accounts (id BIGINT PRIMARY KEY, \
     debits BIGINT NOT NULL, credits BIGINT NOT NULL); \
     CREATE TABLE IF NOT EXISTS bench_raw_journal (seq BIGINT PRIMARY KEY, tx_id TEXT NOT NULL UNIQUE); \
     CREATE TABLE IF NOT EXISTS bench_raw_postings (seq BIGINT PRIMARY KEY, debit BIGINT NOT NULL, \
     credit BIGINT NOT NULL, amount BIGINT NOT NULL); \
     DELETE FROM bench_raw_accounts; DELETE FROM bench_raw_journal; DELETE FROM bench_raw_postings; \
     INSERT INTO bench_raw_accounts VALUES (1, 0, 0), (2, 0, 0);";
const TEARDOWN: &str =
    "DROP TABLE bench_raw_accounts; DROP TABLE bench_raw_journal; DROP TABLE bench_raw_postings;";

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
                sqlx::query("UPDATE bench_raw_accounts SET debits = debits + $1 WHERE id = 1")
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE bench_raw_accounts SET credits = credits + $1 WHERE id = 2")
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO bench_raw_journal (seq, tx_id) VALUES ($1, $2)")
                    .bind(seq)
                    .bind(format!("raw{seq}"))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO bench_raw_postings (seq, debit, credit, amount) VALUES ($1, 1, 2, $1)",
                )
                .bind(seq)
                .execute(&mut *tx)
                .await?;
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
        tx.prepare_cached("UPDATE bench_raw_accounts SET debits = debits + $1 WHERE id = 1")?
            .execute([seq])?;
        tx.prepare_cached("UPDATE bench_raw_accounts SET credits = credits + $1 WHERE id = 2")?
            .execute([seq])?;
        tx.prepare_cached("INSERT INTO bench_raw_journal (seq, tx_id) VALUES ($1, $2)")?
            .execute(rusqlite::params![seq, format!("raw{seq}")])?;
        tx.prepare_cached(
            "INSERT INTO bench_raw_postings (seq, debit, credit, amount) VALUES ($1, 1, 2, $1)",
        )?
        .execute([seq])?;
        tx.commit()?;
    }
    Ok(elapsed() - start)
}
