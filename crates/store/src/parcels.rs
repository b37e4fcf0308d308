//! Cash-on-delivery parcels as rows (the statement a unit runs for one, and their reads), the
//! carriers' events (each taken once by its id), a buyer's refusals, and phone verifications.

use holdback_domain::Money;
use holdback_domain::cod::{CarrierEvent, Parcel, ParcelState, Remitted, RtoPayer};
use holdback_domain::process::Versioned;

use crate::rows::{Get, corrupt, currency};
use crate::unit::{Statement, Val};
use crate::{Store, StoreError, with_pool};

/// The columns [`values`] gives, in its order (for an insert of many rows).
macro_rules! insert_columns {
    () => {
        "INSERT INTO parcels (id, carrier, tracking, order_id, payment_id, \
         buyer, seller, livemode, currency, cash, fee, rto_cost, rto_payer, status, \
         out_for_delivery_at, final_at, remitted_batch, remitted_at, created_at, last_event_at, \
         version, updated_at, reversed_batch, reversed_at) "
    };
}
pub(crate) const INSERT_COLUMNS: &str = insert_columns!();
/// How many values [`values`] gives for one parcel.
pub(crate) const VALUES_PER_PARCEL: usize = 24;
const UPSERT_PARCEL: &str = concat!(
    insert_columns!(),
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19, $20, $21, $22, $23, $24) \
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
     out_for_delivery_at = excluded.out_for_delivery_at, final_at = excluded.final_at, \
     remitted_batch = excluded.remitted_batch, remitted_at = excluded.remitted_at, \
     last_event_at = excluded.last_event_at, version = excluded.version, \
     updated_at = excluded.updated_at, reversed_batch = excluded.reversed_batch, \
     reversed_at = excluded.reversed_at"
);
macro_rules! parcel_columns {
    () => {
        "SELECT id, carrier, tracking, order_id, payment_id, buyer, seller, livemode, currency, \
         cash, fee, rto_cost, rto_payer, status, out_for_delivery_at, final_at, remitted_batch, \
         remitted_at, created_at, last_event_at, version, reversed_batch, reversed_at FROM parcels "
    };
}
const SELECT_PARCEL: &str = concat!(parcel_columns!(), "WHERE id = $1");
const SELECT_BY_TRACKING: &str = concat!(
    parcel_columns!(),
    "WHERE carrier = $1 AND livemode = $2 AND tracking = $3"
);
const SELECT_UNREMITTED: &str = concat!(
    parcel_columns!(),
    "WHERE carrier = $1 AND livemode = $2 AND remitted_batch IS NULL \
     AND status IN ('collected', 'refused', 'undeliverable') AND id > $3 ORDER BY id LIMIT $4"
);
const COUNT_REFUSALS: &str = "SELECT COUNT(*) AS n FROM parcels WHERE buyer = $1 \
     AND livemode = $2 AND status = 'refused' AND final_at >= $3";
const SELECT_EVENT: &str = "SELECT outcome FROM parcel_events \
     WHERE carrier = $1 AND livemode = $2 AND event_id = $3";
const INSERT_EVENT: &str = "INSERT INTO parcel_events (carrier, livemode, event_id, tracking, \
     event, occurred_at, cash, outcome, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (carrier, livemode, event_id) DO NOTHING";
const SELECT_RELEASABLE: &str = "SELECT o.id FROM orders o JOIN parcels p ON p.order_id = o.id \
     WHERE o.status = 'awaiting_remittance' AND p.remitted_batch IS NOT NULL ORDER BY o.id LIMIT $1";
const SELECT_RECEIVABLES: &str = "SELECT carrier, livemode, currency, \
     CAST(SUM(cash) AS BIGINT) AS owed FROM parcels \
     WHERE status = 'collected' AND remitted_batch IS NULL GROUP BY carrier, livemode, currency";

fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

/// The upsert of one parcel, at the version after `expected_version`.
pub(crate) fn statement(w: &Versioned<Parcel>, now: i64) -> Statement {
    (UPSERT_PARCEL, values(&w.value, w.expected_version + 1, now))
}

/// A parcel's row values at `version`, in the order of [`INSERT_COLUMNS`].
pub(crate) fn values(p: &Parcel, version: i64, now: i64) -> Vec<Val> {
    let (out, final_at, remitted) = match &p.state {
        ParcelState::InTransit { out_for_delivery } => (*out_for_delivery, None, None),
        ParcelState::Collected { at, remitted } | ParcelState::Returned { at, remitted, .. } => {
            (None, Some(*at), remitted.as_ref())
        }
    };
    vec![
        text(&p.id),
        text(&p.carrier),
        text(&p.tracking),
        text(&p.order),
        text(&p.payment),
        text(&p.buyer),
        text(&p.seller),
        Val::Bool(p.livemode),
        text(p.cash.currency().code()),
        Val::Int(p.cash.minor()),
        Val::Int(p.fee),
        Val::Int(p.rto_cost),
        text(p.rto_payer.code()),
        text(p.state.code()),
        Val::OptInt(out),
        Val::OptInt(final_at),
        Val::OptText(remitted.map(|r| r.batch.clone())),
        Val::OptInt(remitted.map(|r| r.at)),
        Val::Int(p.created_at),
        Val::Int(p.last_event_at),
        Val::Int(version),
        Val::Int(now),
        Val::OptText(p.reversed.as_ref().map(|r| r.batch.clone())),
        Val::OptInt(p.reversed.as_ref().map(|r| r.at)),
    ]
}

pub(crate) fn parcel(row: &impl Get) -> Result<(Parcel, i64), StoreError> {
    let c = currency(row.text("currency")?)?;
    let remitted = match (row.opt_text("remitted_batch")?, row.opt_int("remitted_at")?) {
        (Some(batch), Some(at)) => Some(Remitted { batch, at }),
        _ => None,
    };
    let reversed = match (row.opt_text("reversed_batch")?, row.opt_int("reversed_at")?) {
        (Some(batch), Some(at)) => Some(Remitted { batch, at }),
        _ => None,
    };
    let status = row.text("status")?;
    let final_at = || {
        row.opt_int("final_at")?
            .ok_or_else(|| corrupt(format!("a {status} parcel without its time")))
    };
    let state = match status.as_str() {
        "in_transit" | "out_for_delivery" => ParcelState::InTransit {
            out_for_delivery: row.opt_int("out_for_delivery_at")?,
        },
        "collected" => ParcelState::Collected {
            at: final_at()?,
            remitted,
        },
        "refused" | "undeliverable" => ParcelState::Returned {
            at: final_at()?,
            reason: CarrierEvent::parse(&status)
                .ok_or_else(|| corrupt(format!("parcel status {status:?}")))?,
            remitted,
        },
        other => return Err(corrupt(format!("parcel status {other:?}"))),
    };
    let payer = row.text("rto_payer")?;
    Ok((
        Parcel {
            id: row.text("id")?,
            carrier: row.text("carrier")?,
            tracking: row.text("tracking")?,
            order: row.text("order_id")?,
            payment: row.text("payment_id")?,
            buyer: row.text("buyer")?,
            seller: row.text("seller")?,
            livemode: row.flag("livemode")?,
            cash: Money::from_minor(row.int("cash")?, c).map_err(corrupt)?,
            fee: row.int("fee")?,
            rto_cost: row.int("rto_cost")?,
            rto_payer: RtoPayer::parse(&payer)
                .ok_or_else(|| corrupt(format!("rto payer {payer:?}")))?,
            created_at: row.int("created_at")?,
            last_event_at: row.int("last_event_at")?,
            state,
            reversed,
        },
        row.int("version")?,
    ))
}

/// A carrier's event as it is recorded, once per its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelEventRow {
    pub carrier: String,
    pub livemode: bool,
    pub event_id: String,
    pub tracking: String,
    pub event: CarrierEvent,
    pub occurred_at: i64,
    pub cash: Option<i64>,
    /// `applied`, or `ignored` (already known, or older than what is known).
    pub outcome: &'static str,
    pub received_at: i64,
}

/// The insert of a carrier's event (a repeat of its id inserts nothing).
pub(crate) fn event_statement(e: &ParcelEventRow) -> Statement {
    (
        INSERT_EVENT,
        vec![
            text(&e.carrier),
            Val::Bool(e.livemode),
            text(&e.event_id),
            text(&e.tracking),
            text(e.event.code()),
            Val::Int(e.occurred_at),
            Val::OptInt(e.cash),
            text(e.outcome),
            Val::Int(e.received_at),
        ],
    )
}

/// What one carrier owes in one mode and currency for parcels it collected and has not remitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receivable {
    pub carrier: String,
    pub livemode: bool,
    pub currency: holdback_domain::Currency,
    pub owed: i64,
}

impl Store {
    /// A parcel and its version.
    pub async fn parcel(&self, id: &str) -> Result<Option<(Parcel, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_PARCEL).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(parcel).transpose()
        })
    }

    /// The parcel a carrier knows by `tracking` in one mode, and its version.
    pub async fn parcel_by_tracking(
        &self,
        carrier: &str,
        livemode: bool,
        tracking: &str,
    ) -> Result<Option<(Parcel, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_BY_TRACKING)
                .bind(carrier)
                .bind(livemode)
                .bind(tracking)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(parcel).transpose()
        })
    }

    /// A carrier's parcels that ended (collected or returned) and were not remitted, by id
    /// after `after` ("" first).
    pub async fn unremitted_parcels(
        &self,
        carrier: &str,
        livemode: bool,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Parcel>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_UNREMITTED)
                .bind(carrier)
                .bind(livemode)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| parcel(r).map(|(p, _)| p)).collect()
        })
    }

    /// How many cash-on-delivery parcels the buyer refused at the door since `since`.
    pub async fn refusals(
        &self,
        buyer: &str,
        livemode: bool,
        since: i64,
    ) -> Result<u32, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(COUNT_REFUSALS)
                .bind(buyer)
                .bind(livemode)
                .bind(since)
                .fetch_one(pool)
                .await?;
            u32::try_from(row.int("n")?).map_err(corrupt)
        })
    }

    /// What became of a carrier's event id taken before (`applied` or `ignored`), if it was.
    pub async fn parcel_event_outcome(
        &self,
        carrier: &str,
        livemode: bool,
        event_id: &str,
    ) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_EVENT)
                .bind(carrier)
                .bind(livemode)
                .bind(event_id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(|r| r.text("outcome")).transpose()
        })
    }

    /// Orders waiting for a remittance whose parcel has been remitted: their release is due.
    pub async fn releasable_orders(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_RELEASABLE)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| r.text("id")).collect()
        })
    }

    /// What each carrier owes for collected parcels not yet remitted (the receivable the ledger
    /// must show).
    pub async fn carrier_receivables(&self) -> Result<Vec<Receivable>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_RECEIVABLES).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(Receivable {
                        carrier: r.text("carrier")?,
                        livemode: r.flag("livemode")?,
                        currency: currency(r.text("currency")?)?,
                        owed: r.int("owed")?,
                    })
                })
                .collect()
        })
    }
}

/// What a cash-on-delivery checkout fixed for its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodTermsRow {
    pub order: String,
    pub carrier: String,
    pub country: String,
    pub fee: i64,
    pub rto_cost: i64,
    pub rto_payer: RtoPayer,
    pub created_at: i64,
}

const INSERT_TERMS: &str = "INSERT INTO cod_terms (order_id, carrier, country, fee, rto_cost, \
     rto_payer, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const SELECT_TERMS: &str = "SELECT order_id, carrier, country, fee, rto_cost, rto_payer, \
     created_at FROM cod_terms WHERE order_id = $1";

pub(crate) fn terms_statement(t: &CodTermsRow) -> Statement {
    (
        INSERT_TERMS,
        vec![
            text(&t.order),
            text(&t.carrier),
            text(&t.country),
            Val::Int(t.fee),
            Val::Int(t.rto_cost),
            text(t.rto_payer.code()),
            Val::Int(t.created_at),
        ],
    )
}

impl Store {
    /// What the checkout of a cash-on-delivery order fixed for it.
    pub async fn cod_terms(&self, order: &str) -> Result<Option<CodTermsRow>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_TERMS).bind(order).fetch_optional(pool).await?;
            row.as_ref()
                .map(|r| {
                    let payer = r.text("rto_payer")?;
                    Ok(CodTermsRow {
                        order: r.text("order_id")?,
                        carrier: r.text("carrier")?,
                        country: r.text("country")?,
                        fee: r.int("fee")?,
                        rto_cost: r.int("rto_cost")?,
                        rto_payer: RtoPayer::parse(&payer)
                            .ok_or_else(|| corrupt(format!("rto payer {payer:?}")))?,
                        created_at: r.int("created_at")?,
                    })
                })
                .transpose()
        })
    }
}
