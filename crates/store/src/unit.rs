//! A unit of work: everything one decision writes (accounts to open, a ledger transaction,
//! order rows, timers, outbox events, the idempotent response), persisted wholly or not at all in
//! the same database transaction, by the group-commit writer.
//!
//! Order rows carry a version. A unit names the version it decided against; if the order moved
//! on since, the unit is refused with [`crate::WriteError::Conflict`] and nothing of it is
//! written. Two nodes firing the same timer therefore produce one effect: the second finds the
//! version moved.

use holdback_domain::Money;
use holdback_domain::card::StoredCard;
use holdback_domain::ledger::{AccountSpec, TransactionRequest};
use holdback_domain::order::{Order, TimerKind};

/// Everything one decision writes.
#[derive(Debug, Clone, Default)]
pub struct Unit {
    pub accounts: Vec<AccountSpec>,
    pub ledger: Option<TransactionRequest>,
    pub orders: Vec<OrderWrite>,
    pub set_timers: Vec<TimerRow>,
    pub cancel_timers: Vec<TimerCancel>,
    pub events: Vec<NewEvent>,
    pub payments: Vec<PaymentRow>,
    pub idempotency: Option<IdempotencyRecord>,
}

/// A captured payment. Card payments keep brand, last four, expiry and the provider's token,
/// never the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub id: String,
    pub buyer: String,
    pub amount: Money,
    pub method: String,
    pub card: Option<StoredCard>,
    pub livemode: bool,
    pub created_at: i64,
}

/// An order row to write, and the version the decision was made against (0 for a new order).
#[derive(Debug, Clone)]
pub struct OrderWrite {
    pub order: Order,
    pub expected_version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerRow {
    pub order_id: String,
    pub kind: TimerKind,
    pub due_at: i64,
}

/// Removes a timer; with `only_if_due_at`, only if it still has that due time (a timer that was
/// moved in the meantime is left alone).
#[derive(Debug, Clone)]
pub struct TimerCancel {
    pub order_id: String,
    pub kind: TimerKind,
    pub only_if_due_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: String,
    pub kind: String,
    pub object_id: String,
    /// The event's JSON body.
    pub payload: String,
    pub created_at: i64,
    pub livemode: bool,
}

/// An event as stored, with its place in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: NewEvent,
}

/// The first response to an idempotent request, kept so that a retry replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub principal: String,
    pub key: String,
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub created_at: i64,
}

/// A bound value, so that one statement list serves both drivers.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(ToSqlOutput::Owned(match self {
            Val::Int(v) | Val::OptInt(Some(v)) => Value::Integer(*v),
            Val::Text(v) | Val::OptText(Some(v)) => Value::Text(v.clone()),
            Val::Bool(v) => Value::Integer(i64::from(*v)),
            Val::OptInt(None) | Val::OptText(None) => Value::Null,
        }))
    }
}

/// Binds values to a PostgreSQL query in order.
pub(crate) fn bind_pg<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    values: &[Val],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for v in values {
        query = match v {
            Val::Int(v) => query.bind(*v),
            Val::OptInt(v) => query.bind(*v),
            Val::Text(v) => query.bind(v.clone()),
            Val::OptText(v) => query.bind(v.clone()),
            Val::Bool(v) => query.bind(*v),
        };
    }
    query
}

pub(crate) const SELECT_ORDER_VERSION: &str = "SELECT version FROM orders WHERE id = $1";
pub(crate) const SELECT_KEY_EXISTS: &str =
    "SELECT 1 FROM idempotency_keys WHERE principal = $1 AND key = $2";

const UPSERT_ORDER: &str = "INSERT INTO orders (id, buyer, seller, payment_id, currency, captured, refunded, \
     released_to_seller, released_commission, status, paid_at, ship_by, carrier, tracking, \
     shipped_at, delivered_at, protection_ends, cancel_requested_at, buyer_extended, \
     extension_requested, seller_extended, commission_bps, commission_fixed, livemode, version, \
     updated_at, shipping_method, delivery_guarantee) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19, $20, $21, $22, $23, $24, $25, $26, $27, $28) \
     ON CONFLICT (id) DO UPDATE SET refunded = excluded.refunded, \
     released_to_seller = excluded.released_to_seller, \
     released_commission = excluded.released_commission, status = excluded.status, \
     carrier = excluded.carrier, tracking = excluded.tracking, shipped_at = excluded.shipped_at, \
     delivered_at = excluded.delivered_at, protection_ends = excluded.protection_ends, \
     cancel_requested_at = excluded.cancel_requested_at, \
     buyer_extended = excluded.buyer_extended, \
     extension_requested = excluded.extension_requested, \
     seller_extended = excluded.seller_extended, version = excluded.version, \
     updated_at = excluded.updated_at";
const SET_TIMER: &str = "INSERT INTO timers (order_id, kind, due_at) VALUES ($1, $2, $3) \
     ON CONFLICT (order_id, kind) DO UPDATE SET due_at = excluded.due_at";
const CANCEL_TIMER: &str = "DELETE FROM timers WHERE order_id = $1 AND kind = $2";
const CANCEL_TIMER_IF_DUE: &str =
    "DELETE FROM timers WHERE order_id = $1 AND kind = $2 AND due_at = $3";
const INSERT_EVENT: &str = "INSERT INTO events (id, type, object_id, payload, created_at, \
     livemode) VALUES ($1, $2, $3, $4, $5, $6)";
const INSERT_PAYMENT: &str = "INSERT INTO payments (id, buyer, currency, amount, method, \
     card_brand, card_last4, card_exp_month, card_exp_year, provider_token, livemode, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
const INSERT_KEY: &str = "INSERT INTO idempotency_keys (principal, key, request_hash, status, \
     body, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

fn order_values(order: &Order, version: i64, now: i64) -> Vec<Val> {
    let shipment = order.shipment.as_ref();
    vec![
        Val::Text(order.id.clone()),
        Val::Text(order.buyer.clone()),
        Val::Text(order.seller.clone()),
        Val::Text(order.payment.clone()),
        Val::Text(order.captured.currency().code().to_string()),
        Val::Int(order.captured.minor()),
        Val::Int(order.refunded),
        Val::OptInt(order.released.map(|r| r.0)),
        Val::OptInt(order.released.map(|r| r.1)),
        Val::Text(order.status.code().to_string()),
        Val::Int(order.paid_at),
        Val::Int(order.ship_by),
        Val::OptText(shipment.map(|s| s.carrier.clone())),
        Val::OptText(shipment.map(|s| s.tracking.clone())),
        Val::OptInt(shipment.map(|s| s.shipped_at)),
        Val::OptInt(order.delivered_at),
        Val::OptInt(order.protection_ends),
        Val::OptInt(order.cancel_requested_at),
        Val::Bool(order.buyer_extended),
        Val::OptInt(order.extension_requested),
        Val::Int(order.seller_extended),
        Val::Int(i64::from(order.commission.basis_points)),
        Val::Int(order.commission.fixed_minor),
        Val::Bool(order.livemode),
        Val::Int(version),
        Val::Int(now),
        Val::Text(order.shipping_method.clone()),
        Val::Int(order.delivery_guarantee),
    ]
}

impl Unit {
    /// The row statements of this unit, after its ledger postings, in the order to run them.
    pub(crate) fn statements(&self, now: i64) -> Vec<(&'static str, Vec<Val>)> {
        let mut out = Vec::new();
        for p in &self.payments {
            let card = p.card.as_ref();
            out.push((
                INSERT_PAYMENT,
                vec![
                    Val::Text(p.id.clone()),
                    Val::Text(p.buyer.clone()),
                    Val::Text(p.amount.currency().code().to_string()),
                    Val::Int(p.amount.minor()),
                    Val::Text(p.method.clone()),
                    Val::OptText(card.map(|c| c.brand.code().to_string())),
                    Val::OptText(card.map(|c| c.last4.clone())),
                    Val::OptInt(card.map(|c| i64::from(c.exp_month))),
                    Val::OptInt(card.map(|c| i64::from(c.exp_year))),
                    Val::OptText(card.map(|c| c.token.clone())),
                    Val::Bool(p.livemode),
                    Val::Int(p.created_at),
                ],
            ));
        }
        for w in &self.orders {
            out.push((
                UPSERT_ORDER,
                order_values(&w.order, w.expected_version + 1, now),
            ));
        }
        for c in &self.cancel_timers {
            let mut vals = vec![
                Val::Text(c.order_id.clone()),
                Val::Text(c.kind.code().into()),
            ];
            match c.only_if_due_at {
                Some(due) => {
                    vals.push(Val::Int(due));
                    out.push((CANCEL_TIMER_IF_DUE, vals));
                }
                None => out.push((CANCEL_TIMER, vals)),
            }
        }
        for t in &self.set_timers {
            out.push((
                SET_TIMER,
                vec![
                    Val::Text(t.order_id.clone()),
                    Val::Text(t.kind.code().into()),
                    Val::Int(t.due_at),
                ],
            ));
        }
        for e in &self.events {
            out.push((
                INSERT_EVENT,
                vec![
                    Val::Text(e.id.clone()),
                    Val::Text(e.kind.clone()),
                    Val::Text(e.object_id.clone()),
                    Val::Text(e.payload.clone()),
                    Val::Int(e.created_at),
                    Val::Bool(e.livemode),
                ],
            ));
        }
        if let Some(k) = &self.idempotency {
            out.push((
                INSERT_KEY,
                vec![
                    Val::Text(k.principal.clone()),
                    Val::Text(k.key.clone()),
                    Val::Text(k.request_hash.clone()),
                    Val::Int(i64::from(k.status)),
                    Val::Text(k.body.clone()),
                    Val::Int(k.created_at),
                ],
            ));
        }
        out
    }
}

/// An API key as stored: the secret only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub secret_sha256: String,
    /// `platform`, `buyer` or `seller`.
    pub principal_kind: String,
    pub party_id: Option<String>,
    pub livemode: bool,
    pub created_at: i64,
}

pub(crate) const INSERT_API_KEY: &str = "INSERT INTO api_keys (id, secret_sha256, \
     principal_kind, party_id, livemode, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const SELECT_API_KEY: &str = "SELECT id, secret_sha256, principal_kind, party_id, \
     livemode, created_at FROM api_keys WHERE id = $1";

/// A product of the catalog: a seller's item at a price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    pub id: String,
    pub seller: String,
    pub name: String,
    pub price: Money,
    pub livemode: bool,
    pub created_at: i64,
}
