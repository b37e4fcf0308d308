//! The holdback store: the only code that knows SQL.
//!
//! [`Store`] is one of two backends, an embedded SQLite file (the default) or PostgreSQL, chosen
//! by URL. Both run the same migrations (one folder per backend, embedded in the binary) and the
//! same SQL text wherever the two databases agree. Writes to the ledger go through the
//! group-commit [`writer::Ledger`]: many callers' requests are decided together and committed in
//! one durable transaction. Reads (balances, history, the audit) go straight to the pool.

mod aggregates;
pub mod bench;
pub mod clock;
mod conflict;
pub mod connectors;
pub mod coupons;
pub mod disputes;
pub mod evidence;
pub mod gift_cards;
mod idempotency;
mod messages;
pub mod parcels;
pub mod parties;
mod payments;
pub mod phone;
mod postgres;
pub mod remittances;
mod rows;
mod schema;
mod sqlite;
pub mod testing;
pub mod unit;
pub mod webhooks;
pub mod writer;

use std::str::FromStr;
use std::time::Duration;

use holdback_domain::audit::{AuditReport, Auditor, Breach};
use holdback_domain::ledger::{Account, Head, Hold, Posting, Receipt};

use holdback_domain::order::Order;
use holdback_domain::{AccountId, HoldId, TxId};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use conflict::Conflict;
pub use connectors::{NotificationOutcome, NotificationRow};
pub use disputes::{DisputeFilter, DisputeTimerCancel, DisputeTimerRow};
pub use evidence::{EvidenceInsert, EvidenceRow};
pub use idempotency::Claim;
pub use parties::{KeyListing, PartyInsert, PartyRow, Revocation};
pub use unit::{
    ApiKeyRow, IdempotencyRecord, NewEvent, ProductRow, StoredEvent, TimerCancel, TimerRow, Unit,
};
pub use webhooks::{DeliveryOutcome, DeliveryRow, EndpointRow, EndpointStatus};
pub use writer::{Command, Ledger, ROWS_REFUSED, Reply, WriteError};

/// The default database: a SQLite file in the current folder.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:holdback.db";

/// A failure of the store itself (not a business rejection). Its text is for logs, never for an
/// API response.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("the database changed under the writer: {0}")]
    Conflict(Conflict),
    #[error("bad database URL {0:?}")]
    BadUrl(String),
}

/// A connection pool to one of the two backends.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Audits inside an open transaction `$tx`, paging through the journal so that memory stays
/// bounded by the number of accounts and holds, not the length of the journal.
macro_rules! audit_in {
    ($tx:ident, $triggers_sql:expr) => {{
        const PAGE: i64 = 10_000;
        let head = rows::head(&sqlx::query(rows::SELECT_HEAD).fetch_one(&mut *$tx).await?)?;
        let max_seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM journal")
            .fetch_one(&mut *$tx)
            .await?;
        let mut auditor = Auditor::new();
        let mut from = 1;
        while from <= max_seq.unwrap_or(0) {
            let entries = sqlx::query(rows::SELECT_JOURNAL_RANGE)
                .bind(from)
                .bind(from + PAGE)
                .fetch_all(&mut *$tx)
                .await?;
            let postings = sqlx::query(rows::SELECT_POSTINGS_RANGE)
                .bind(from)
                .bind(from + PAGE)
                .fetch_all(&mut *$tx)
                .await?;
            for e in rows::assemble_journal(&entries, &postings)? {
                auditor.feed(&e);
            }
            from += PAGE;
        }
        let accounts = sqlx::query(rows::SELECT_ALL_ACCOUNTS)
            .fetch_all(&mut *$tx)
            .await?;
        let accounts = accounts
            .iter()
            .map(rows::account)
            .collect::<Result<Vec<_>, _>>()?;
        let holds = sqlx::query(rows::SELECT_ALL_HOLDS)
            .fetch_all(&mut *$tx)
            .await?;
        let holds = holds
            .iter()
            .map(rows::hold)
            .collect::<Result<Vec<_>, _>>()?;
        let triggers: Vec<String> = sqlx::query_scalar($triggers_sql)
            .fetch_all(&mut *$tx)
            .await?;
        let mut report = auditor.finish(head, accounts, holds);
        for name in GUARD_TRIGGERS {
            if !triggers.iter().any(|t| t == name) {
                report.breaches.push(Breach::GuardMissing {
                    what: format!("trigger {name}"),
                });
            }
        }
        report
    }};
}

/// Runs the same body against whichever pool the store holds: the body is type-checked once per
/// backend, so shared SQL text stays shared.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite($pool) => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Runs the statements `$write` on the open transaction `$tx` together with the idempotent
/// response `$key` (an `Option<&IdempotencyRecord>`), if there is one: both or neither. Evaluates
/// to `false`, having written nothing, when the key was used meanwhile.
macro_rules! keyed {
    ($store:expr, $key:expr, $tx:ident => $write:expr) => {
        match $store {
            $crate::Store::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                $crate::keyed!(@in $tx, $key, $write)
            }
            $crate::Store::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                $crate::keyed!(@in $tx, $key, $write)
            }
        }
    };
    (@in $tx:ident, $key:expr, $write:expr) => {{
        let key: Option<&$crate::IdempotencyRecord> = $key;
        let fresh = match key {
            None => true,
            Some(k) => $crate::insert_key!($tx, k),
        };
        if fresh {
            $write;
            $tx.commit().await?;
        } else {
            $tx.rollback().await?;
        }
        fresh
    }};
}
pub(crate) use keyed;

/// Stores the idempotent response `$k` in the open transaction `$tx`, in place of the claim it
/// names if any; evaluates to `false` when the key is taken (nothing written).
macro_rules! insert_key {
    ($tx:ident, $k:expr) => {{
        let k: &$crate::IdempotencyRecord = $k;
        sqlx::query($crate::idempotency::RECORD_KEY)
            .bind(&k.principal)
            .bind(&k.key)
            .bind(&k.request_hash)
            .bind(i64::from(k.status))
            .bind(&k.body)
            .bind(k.created_at)
            .bind(&k.claim)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
            == 1
    }};
}
pub(crate) use insert_key;

/// Where a page starts: after an id (forward), or before one (backward).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor<'a> {
    After(&'a str),
    Before(&'a str),
}

/// One line of an account's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLine {
    pub seq: i64,
    pub idx: i32,
    pub tx_id: String,
    pub committed_at: i64,
    pub posting: Posting,
}

/// A page of history and whether more follows.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub lines: Vec<HistoryLine>,
    pub has_more: bool,
}

impl Store {
    /// Connects to `postgres://…`/`postgresql://…`, or to a SQLite file given as `sqlite:PATH`
    /// or a bare path. A SQLite file is created if missing; it runs in WAL mode with
    /// `synchronous=FULL` and foreign keys on.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            return Ok(Store::Postgres(pool));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"));
        let path = path.unwrap_or(url);
        if path.is_empty() || path.contains('?') {
            return Err(StoreError::BadUrl(url.to_string()));
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|_| StoreError::BadUrl(url.to_string()))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(Store::Sqlite(pool))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Applies the embedded migrations that have not run yet. Safe to run from several nodes at
    /// once, and safe to run again.
    pub async fn migrate(&self) -> Result<Vec<&'static str>, StoreError> {
        schema::migrate(self, i64::MAX).await
    }

    /// Applies the migrations up to `version` only: for tests of a later migration's upgrade of
    /// data written under an earlier schema.
    #[doc(hidden)]
    pub async fn migrate_to(&self, version: i64) -> Result<Vec<&'static str>, StoreError> {
        schema::migrate(self, version).await
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    pub async fn head(&self) -> Result<Head, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(rows::SELECT_HEAD).fetch_one(pool).await?;
            rows::head(&row)
        })
    }

    pub async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(rows::SELECT_ACCOUNT_BY_ID)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(rows::account).transpose()
        })
    }

    /// The accounts whose id starts with `prefix` (a buyer's balances, one per currency), by id.
    pub async fn accounts_prefixed(&self, prefix: &str) -> Result<Vec<Account>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(rows::SELECT_ACCOUNTS_PREFIXED)
                .bind(prefix)
                .bind(i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?;
            rows.iter().map(rows::account).collect()
        })
    }

    pub async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(rows::SELECT_HOLD_BY_ID)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(rows::hold).transpose()
        })
    }

    /// The receipt of a committed transaction, if `tx_id` was ever committed.
    pub async fn receipt(&self, tx_id: &TxId) -> Result<Option<Receipt>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(rows::SELECT_COMMITTED_BY_TX_ID)
                .bind(tx_id.as_str())
                .fetch_optional(pool)
                .await?;
            Ok(row.as_ref().map(rows::committed).transpose()?.map(|(_, receipt)| receipt))
        })
    }

    /// An order and its version (the version a decision about it must name).
    pub async fn order(&self, id: &str) -> Result<Option<(Order, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(rows::SELECT_ORDER).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(rows::order).transpose()
        })
    }

    /// Orders of one mode by id, optionally only one buyer's or one seller's: those after
    /// `cursor` (ascending), or with `Cursor::Before`, those just before it (still returned in
    /// ascending order).
    pub async fn list_orders(
        &self,
        buyer: Option<&str>,
        seller: Option<&str>,
        livemode: bool,
        cursor: Cursor<'_>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        let (sql, at, reverse) = match cursor {
            Cursor::After(id) => (rows::SELECT_ORDERS_PAGE, id, false),
            Cursor::Before(id) => (rows::SELECT_ORDERS_PAGE_BEFORE, id, true),
        };
        let mut orders = with_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(buyer.unwrap_or(""))
                .bind(seller.unwrap_or(""))
                .bind(livemode)
                .bind(at)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| rows::order(r).map(|(o, _)| o)).collect::<Result<Vec<_>, _>>()?
        });
        if reverse {
            orders.reverse();
        }
        Ok(orders)
    }

    /// Outbox events of one mode just before `seq` (up to `limit`), oldest first.
    pub async fn events_before(
        &self,
        seq: i64,
        livemode: bool,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut events = with_pool!(self, pool => {
            let rows = sqlx::query(rows::SELECT_EVENTS_BEFORE)
                .bind(seq)
                .bind(livemode)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(rows::event).collect::<Result<Vec<_>, _>>()?
        });
        events.reverse();
        Ok(events)
    }

    /// Timers due at `now` or earlier, soonest first.
    pub async fn due_timers(&self, now: i64, limit: u32) -> Result<Vec<TimerRow>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(rows::SELECT_DUE_TIMERS)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(rows::timer).collect()
        })
    }

    /// Outbox events of one mode after `seq`, oldest first.
    pub async fn events_after(
        &self,
        seq: i64,
        livemode: bool,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(rows::SELECT_EVENTS_AFTER)
                .bind(seq)
                .bind(livemode)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(rows::event).collect()
        })
    }

    /// The outbox position of an event, by its id.
    pub async fn event_seq(&self, id: &str) -> Result<Option<i64>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("SELECT seq FROM events WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// The stored first response for an idempotency key of a principal.
    pub async fn idempotency(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(rows::SELECT_IDEMPOTENCY)
                .bind(principal)
                .bind(key)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(rows::idempotency).transpose()
        })
    }

    /// Adds a product, with the first response to its idempotency key if there is one: both or
    /// neither. `false`: the key was used meanwhile, and nothing was written.
    pub async fn create_product(
        &self,
        p: &ProductRow,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<bool, StoreError> {
        Ok(keyed!(self, idempotency, tx => {
            sqlx::query(
                "INSERT INTO products (id, seller, name, currency, unit_amount, livemode, \
                 created_at, category) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&p.id)
            .bind(&p.seller)
            .bind(&p.name)
            .bind(p.price.currency().code())
            .bind(p.price.minor())
            .bind(p.livemode)
            .bind(p.created_at)
            .bind(&p.category)
            .execute(&mut *tx)
            .await?
        }))
    }

    pub async fn product(&self, id: &str) -> Result<Option<ProductRow>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT id, seller, name, currency, unit_amount, livemode, created_at, category \
                 FROM products WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(rows::product).transpose()
        })
    }

    /// Products of one mode by id after `after`, optionally one seller's.
    pub async fn list_products(
        &self,
        seller: Option<&str>,
        livemode: bool,
        after: &str,
        limit: u32,
    ) -> Result<Vec<ProductRow>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, seller, name, currency, unit_amount, livemode, created_at, category \
                 FROM products WHERE ($1 = '' OR seller = $1) AND livemode = $2 AND id > $3 \
                 ORDER BY id LIMIT $4",
            )
            .bind(seller.unwrap_or(""))
            .bind(livemode)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(rows::product).collect()
        })
    }

    /// Stores a new API key (its secret already hashed).
    pub async fn insert_api_key(&self, key: &ApiKeyRow) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(unit::INSERT_API_KEY)
                .bind(&key.id)
                .bind(&key.secret_sha256)
                .bind(&key.principal_kind)
                .bind(&key.party_id)
                .bind(key.livemode)
                .bind(key.created_at)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(unit::SELECT_API_KEY).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(rows::api_key).transpose()
        })
    }

    /// The postings that touched `account`, newest first: from its newest posting, or from the
    /// one before the cursor `(seq, idx)` (the last line of the previous page). A cursor that is
    /// not a posting of this account gives an empty page.
    pub async fn history(
        &self,
        account: &AccountId,
        before: Option<(i64, i32)>,
        limit: u32,
    ) -> Result<HistoryPage, StoreError> {
        let limit = i64::from(limit.clamp(1, 1000));
        let mut lines = with_pool!(self, pool => {
            let query = match before {
                None => sqlx::query(rows::SELECT_HISTORY_NEWEST).bind(account.as_str()),
                Some((seq, idx)) => sqlx::query(rows::SELECT_HISTORY_BEFORE)
                    .bind(account.as_str())
                    .bind(seq)
                    .bind(i64::from(idx)),
            };
            let rows = query.bind(limit + 1).fetch_all(pool).await?;
            rows.iter().map(rows::history_line).collect::<Result<Vec<_>, _>>()?
        });
        let has_more = lines.len() as i64 > limit;
        lines.truncate(limit as usize);
        Ok(HistoryPage { lines, has_more })
    }

    /// Re-checks every ledger invariant over the whole database (see `holdback ledger verify`).
    /// Reads one consistent snapshot: on SQLite a read transaction, on PostgreSQL a
    /// repeatable-read transaction.
    pub async fn audit(&self) -> Result<AuditReport, StoreError> {
        match self {
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let report = audit_in!(tx, sqlite::SELECT_TRIGGER_NAMES);
                tx.rollback().await?;
                Ok(report)
            }
            Store::Postgres(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                let report = audit_in!(tx, postgres::SELECT_TRIGGER_NAMES);
                tx.rollback().await?;
                Ok(report)
            }
        }
    }

    /// Runs raw SQL. For tests and tooling that must reach past the API (to prove that the
    /// database refuses tampering, say); never used by the application.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        with_pool!(self, pool => Ok(sqlx::raw_sql(sql).execute(pool).await?.rows_affected()))
    }
}

/// The names of the triggers that make the journal append-only and holds resolve once.
pub(crate) const GUARD_TRIGGERS: &[&str] = &[
    "journal_no_update",
    "postings_no_update",
    "holds_resolve_once",
];
