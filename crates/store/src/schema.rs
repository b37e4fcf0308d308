//! Migrations, embedded in the binary: one folder per backend, applied in order, each in its own
//! transaction together with the row that records it.

use sqlx::Executor as _;

use crate::{Store, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_ledger",
        sqlite: include_str!("../migrations/sqlite/0001_ledger.sql"),
        postgres: include_str!("../migrations/postgres/0001_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "0002_orders",
        sqlite: include_str!("../migrations/sqlite/0002_orders.sql"),
        postgres: include_str!("../migrations/postgres/0002_orders.sql"),
    },
    Migration {
        version: 3,
        name: "0003_webhooks",
        sqlite: include_str!("../migrations/sqlite/0003_webhooks.sql"),
        postgres: include_str!("../migrations/postgres/0003_webhooks.sql"),
    },
    Migration {
        version: 4,
        name: "0004_catalog",
        sqlite: include_str!("../migrations/sqlite/0004_catalog.sql"),
        postgres: include_str!("../migrations/postgres/0004_catalog.sql"),
    },
    Migration {
        version: 5,
        name: "0005_history_chains",
        sqlite: include_str!("../migrations/sqlite/0005_history_chains.sql"),
        postgres: include_str!("../migrations/postgres/0005_history_chains.sql"),
    },
    Migration {
        version: 6,
        name: "0006_payments_refunds",
        sqlite: include_str!("../migrations/sqlite/0006_payments_refunds.sql"),
        postgres: include_str!("../migrations/postgres/0006_payments_refunds.sql"),
    },
    Migration {
        version: 7,
        name: "0007_parties",
        sqlite: include_str!("../migrations/sqlite/0007_parties.sql"),
        postgres: include_str!("../migrations/postgres/0007_parties.sql"),
    },
    Migration {
        version: 8,
        name: "0008_webhook_management",
        sqlite: include_str!("../migrations/sqlite/0008_webhook_management.sql"),
        postgres: include_str!("../migrations/postgres/0008_webhook_management.sql"),
    },
    Migration {
        version: 9,
        name: "0009_idempotency_claims",
        sqlite: include_str!("../migrations/sqlite/0009_idempotency_claims.sql"),
        postgres: include_str!("../migrations/postgres/0009_idempotency_claims.sql"),
    },
    Migration {
        version: 10,
        name: "0010_order_messages",
        sqlite: include_str!("../migrations/sqlite/0010_order_messages.sql"),
        postgres: include_str!("../migrations/postgres/0010_order_messages.sql"),
    },
    Migration {
        version: 11,
        name: "0011_evidence",
        sqlite: include_str!("../migrations/sqlite/0011_evidence.sql"),
        postgres: include_str!("../migrations/postgres/0011_evidence.sql"),
    },
    Migration {
        version: 12,
        name: "0012_order_disputes",
        sqlite: include_str!("../migrations/sqlite/0012_order_disputes.sql"),
        postgres: include_str!("../migrations/postgres/0012_order_disputes.sql"),
    },
    Migration {
        version: 13,
        name: "0013_disputes",
        sqlite: include_str!("../migrations/sqlite/0013_disputes.sql"),
        postgres: include_str!("../migrations/postgres/0013_disputes.sql"),
    },
    Migration {
        version: 14,
        name: "0014_mediator_keys",
        sqlite: include_str!("../migrations/sqlite/0014_mediator_keys.sql"),
        postgres: include_str!("../migrations/postgres/0014_mediator_keys.sql"),
    },
    Migration {
        version: 15,
        name: "0015_awaiting_payment",
        sqlite: include_str!("../migrations/sqlite/0015_awaiting_payment.sql"),
        postgres: include_str!("../migrations/postgres/0015_awaiting_payment.sql"),
    },
    Migration {
        version: 16,
        name: "0016_connector_notifications",
        sqlite: include_str!("../migrations/sqlite/0016_connector_notifications.sql"),
        postgres: include_str!("../migrations/postgres/0016_connector_notifications.sql"),
    },
    Migration {
        version: 17,
        name: "0017_gift_cards",
        sqlite: include_str!("../migrations/sqlite/0017_gift_cards.sql"),
        postgres: include_str!("../migrations/postgres/0017_gift_cards.sql"),
    },
    Migration {
        version: 18,
        name: "0018_refund_destination",
        sqlite: include_str!("../migrations/sqlite/0018_refund_destination.sql"),
        postgres: include_str!("../migrations/postgres/0018_refund_destination.sql"),
    },
    Migration {
        version: 19,
        name: "0019_coupons",
        sqlite: include_str!("../migrations/sqlite/0019_coupons.sql"),
        postgres: include_str!("../migrations/postgres/0019_coupons.sql"),
    },
    Migration {
        version: 20,
        name: "0020_cash_on_delivery",
        sqlite: include_str!("../migrations/sqlite/0020_cash_on_delivery.sql"),
        postgres: include_str!("../migrations/postgres/0020_cash_on_delivery.sql"),
    },
    Migration {
        version: 21,
        name: "0021_remittance_reversals",
        sqlite: include_str!("../migrations/sqlite/0021_remittance_reversals.sql"),
        postgres: include_str!("../migrations/postgres/0021_remittance_reversals.sql"),
    },
    Migration {
        version: 22,
        name: "0022_cod_modes",
        sqlite: include_str!("../migrations/sqlite/0022_cod_modes.sql"),
        postgres: include_str!("../migrations/postgres/0022_cod_modes.sql"),
    },
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS holdback_migrations (\
     version BIGINT PRIMARY KEY, name TEXT NOT NULL)";

const RECORD: &str = "INSERT INTO holdback_migrations (version, name) VALUES ($1, $2)";

/// Applies the migrations not applied yet, up to and including `last`.
pub(crate) async fn migrate(store: &Store, last: i64) -> Result<Vec<&'static str>, StoreError> {
    let mut applied = Vec::new();
    match store {
        Store::Sqlite(pool) => {
            pool.execute(CREATE_TABLE).await?;
            for m in MIGRATIONS.iter().filter(|m| m.version <= last) {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let done: Option<i64> = sqlx::query_scalar(
                    "SELECT version FROM holdback_migrations WHERE version = $1",
                )
                .bind(m.version)
                .fetch_optional(&mut *tx)
                .await?;
                if done.is_none() {
                    sqlx::raw_sql(m.sqlite).execute(&mut *tx).await?;
                    sqlx::query(RECORD)
                        .bind(m.version)
                        .bind(m.name)
                        .execute(&mut *tx)
                        .await?;
                    applied.push(m.name);
                }
                tx.commit().await?;
            }
        }
        Store::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // Several nodes may start at once: one migrates, the others wait and find it done.
            sqlx::query("SELECT pg_advisory_xact_lock(7246801)")
                .execute(&mut *tx)
                .await?;
            tx.execute(CREATE_TABLE).await?;
            for m in MIGRATIONS.iter().filter(|m| m.version <= last) {
                let done: Option<i64> = sqlx::query_scalar(
                    "SELECT version FROM holdback_migrations WHERE version = $1",
                )
                .bind(m.version)
                .fetch_optional(&mut *tx)
                .await?;
                if done.is_none() {
                    sqlx::raw_sql(m.postgres).execute(&mut *tx).await?;
                    sqlx::query(RECORD)
                        .bind(m.version)
                        .bind(m.name)
                        .execute(&mut *tx)
                        .await?;
                    applied.push(m.name);
                }
            }
            tx.commit().await?;
        }
    }
    Ok(applied)
}
