//! Throwaway databases for tests and benchmarks: a SQLite file in the temp folder, and, when the environment
//! variable [`POSTGRES_URL_VAR`] names a server, a PostgreSQL database of the test's own. Both are
//! removed when the [`TestDb`] is dropped, also when the test panics.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Executor as _;

use crate::{Store, StoreError};

/// The environment variable that gives tests a PostgreSQL server URL.
pub const POSTGRES_URL_VAR: &str = "HOLDBACK_TEST_POSTGRES_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

enum Place {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// One throwaway database. `url` is what to hand to `Store::connect` or `--database`.
pub struct TestDb {
    pub url: String,
    place: Place,
}

impl TestDb {
    /// A new SQLite file.
    pub fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("{}.db", unique("holdback_test")));
        TestDb {
            url: format!("sqlite:{}", path.display()),
            place: Place::Sqlite(path),
        }
    }

    /// A new PostgreSQL database, or `None` (with a visible line on stderr) when the environment
    /// does not name a server.
    pub async fn postgres(test: &str) -> Result<Option<TestDb>, StoreError> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            eprintln!("SKIPPED on PostgreSQL: {test} ({POSTGRES_URL_VAR} is not set)");
            return Ok(None);
        };
        TestDb::postgres_at(&admin_url).await.map(Some)
    }

    /// A new PostgreSQL database on the server of `admin_url`.
    pub async fn postgres_at(admin_url: &str) -> Result<TestDb, StoreError> {
        let admin_url = admin_url.to_string();
        let name = unique("holdback_test");
        let admin = sqlx::postgres::PgPool::connect(&admin_url).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await;
        Ok(TestDb {
            url: with_database(&admin_url, &name),
            place: Place::Postgres { admin_url, name },
        })
    }

    /// SQLite always, and PostgreSQL when configured.
    pub async fn all(test: &str) -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        match TestDb::postgres(test).await {
            Ok(Some(db)) => dbs.push(db),
            Ok(None) => {}
            Err(e) => panic!("{POSTGRES_URL_VAR} is set but unusable: {e}"),
        }
        dbs
    }

    pub fn backend(&self) -> &'static str {
        match self.place {
            Place::Sqlite(_) => "sqlite",
            Place::Postgres { .. } => "postgres",
        }
    }

    /// Connects and migrates.
    pub async fn store(&self) -> Result<Store, StoreError> {
        let store = Store::connect(&self.url).await?;
        store.migrate().await?;
        Ok(store)
    }
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.place {
            Place::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Place::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let label = name.clone();
                // Drop may run inside a runtime: do the async work on a thread of its own.
                let done = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async {
                        let admin = sqlx::postgres::PgPool::connect(&admin_url).await?;
                        admin
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await?;
                        admin.close().await;
                        Ok::<_, sqlx::Error>(())
                    })
                    .map_err(std::io::Error::other)
                })
                .join();
                if !matches!(done, Ok(Ok(()))) {
                    eprintln!("note: could not drop test database {label}");
                }
            }
        }
    }
}
