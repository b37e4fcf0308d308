//! The payment connectors' notifications (the bank's, the wallets') as rows, written in the
//! unit of what they did, so that a crash between a notification's arrival and its effect
//! leaves neither, and their reads; the payments whose time to be paid ran out.

use crate::rows::Get;
use crate::unit::{Statement, Val};
use crate::{Store, StoreError, with_pool};

/// What came of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationOutcome {
    Applied,
    Unmatched,
    Refused,
}

impl NotificationOutcome {
    pub fn code(self) -> &'static str {
        match self {
            NotificationOutcome::Applied => "applied",
            NotificationOutcome::Unmatched => "unmatched",
            NotificationOutcome::Refused => "refused",
        }
    }

    fn parse(code: &str) -> Option<NotificationOutcome> {
        [
            NotificationOutcome::Applied,
            NotificationOutcome::Unmatched,
            NotificationOutcome::Refused,
        ]
        .into_iter()
        .find(|o| o.code() == code)
    }
}

/// One notification as a connector sent it and as holdback took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    /// `bank`, or the wallet's code.
    pub connector: String,
    pub notification_id: String,
    pub livemode: bool,
    pub received_at: i64,
    /// The raw body, as it arrived.
    pub body: String,
    pub reference: Option<String>,
    pub currency: Option<String>,
    pub amount: Option<i64>,
    pub outcome: NotificationOutcome,
    /// Why it was refused or left unmatched.
    pub reason: Option<String>,
    pub payment_id: Option<String>,
}

const INSERT: &str = "INSERT INTO connector_notifications (connector, notification_id, \
     livemode, received_at, body, reference, currency, amount, outcome, reason, payment_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const COLUMNS: &str = "SELECT connector, notification_id, livemode, received_at, body, \
     reference, currency, amount, outcome, reason, payment_id FROM connector_notifications ";
const SELECT_EXPIRING: &str = "SELECT id FROM payments WHERE status = 'requires_action' \
     AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2";

pub(crate) fn statement(n: &NotificationRow) -> Statement {
    (
        INSERT,
        vec![
            Val::Text(n.connector.clone()),
            Val::Text(n.notification_id.clone()),
            Val::Bool(n.livemode),
            Val::Int(n.received_at),
            Val::Text(n.body.clone()),
            Val::OptText(n.reference.clone()),
            Val::OptText(n.currency.clone()),
            Val::OptInt(n.amount),
            Val::Text(n.outcome.code().to_string()),
            Val::OptText(n.reason.clone()),
            Val::OptText(n.payment_id.clone()),
        ],
    )
}

fn row(r: &impl Get) -> Result<NotificationRow, StoreError> {
    let outcome = r.text("outcome")?;
    Ok(NotificationRow {
        connector: r.text("connector")?,
        notification_id: r.text("notification_id")?,
        livemode: r.flag("livemode")?,
        received_at: r.int("received_at")?,
        body: r.text("body")?,
        reference: r.opt_text("reference")?,
        currency: r.opt_text("currency")?,
        amount: r.opt_int("amount")?,
        outcome: NotificationOutcome::parse(&outcome)
            .ok_or_else(|| crate::rows::corrupt(format!("notification outcome {outcome:?}")))?,
        reason: r.opt_text("reason")?,
        payment_id: r.opt_text("payment_id")?,
    })
}

impl Store {
    /// The accepted notification (applied or unmatched) of `connector` with its id `id`, if any.
    pub async fn notification(
        &self,
        livemode: bool,
        connector: &str,
        id: &str,
    ) -> Result<Option<NotificationRow>, StoreError> {
        let sql = format!(
            "{COLUMNS}WHERE livemode = $1 AND connector = $2 AND notification_id = $3 \
             AND outcome <> 'refused'"
        );
        with_pool!(self, pool => {
            let found = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(livemode)
                .bind(connector)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            found.as_ref().map(row).transpose()
        })
    }

    /// Notifications of `outcome`, of every connector, oldest first.
    pub async fn notifications(
        &self,
        outcome: NotificationOutcome,
        limit: u32,
    ) -> Result<Vec<NotificationRow>, StoreError> {
        let sql = format!("{COLUMNS}WHERE outcome = $1 ORDER BY seq LIMIT $2");
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(outcome.code())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(row).collect()
        })
    }

    /// Records a notification on its own (one refused before anything else was decided).
    pub async fn record_notification(&self, n: &NotificationRow) -> Result<(), StoreError> {
        let (sql, values) = statement(n);
        with_pool!(self, pool => {
            let mut q = sqlx::query(sql);
            for v in &values {
                q = match v {
                    Val::Int(x) => q.bind(*x),
                    Val::OptInt(x) => q.bind(*x),
                    Val::Text(x) => q.bind(x.clone()),
                    Val::OptText(x) => q.bind(x.clone()),
                    Val::Bool(x) => q.bind(*x),
                };
            }
            q.execute(pool).await?;
            Ok(())
        })
    }

    /// Payments waiting for their money whose time ran out by `now`, soonest first.
    pub async fn payments_expiring(&self, now: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_EXPIRING)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| r.text("id")).collect()
        })
    }
}
