//! A unit of work: everything one decision writes (accounts to open, a ledger transaction,
//! aggregate rows, timers, outbox events, the idempotent response), persisted wholly or not at
//! all in the same database transaction, by the group-commit writer.
//!
//! Aggregates (orders, payments, refunds, disputes) carry a version. A unit names the version each was
//! decided against; if any moved on since, the unit is refused with
//! [`crate::WriteError::Conflict`] and nothing of it is written. Two nodes firing the same timer,
//! or two workers recording the same refund, therefore produce one effect: the second finds the
//! version moved.

use holdback_domain::Money;
use holdback_domain::cod::Parcel;
use holdback_domain::coupon::Coupon;
use holdback_domain::dispute::Dispute;
use holdback_domain::gift_card::GiftCard;
use holdback_domain::ledger::{AccountSpec, TransactionRequest};
use holdback_domain::message::Message;
use holdback_domain::order::{Order, TimerKind};
use holdback_domain::payment::Payment;
use holdback_domain::process::{Kind, Versioned};
use holdback_domain::refund::Refund;

use crate::disputes::{DisputeTimerCancel, DisputeTimerRow};

/// Everything one decision writes.
#[derive(Debug, Clone, Default)]
pub struct Unit {
    pub accounts: Vec<AccountSpec>,
    pub ledger: Option<TransactionRequest>,
    pub orders: Vec<Versioned<Order>>,
    pub payments: Vec<Versioned<Payment>>,
    pub refunds: Vec<Versioned<Refund>>,
    pub disputes: Vec<Versioned<Dispute>>,
    pub gift_cards: Vec<Versioned<GiftCard>>,
    pub coupons: Vec<Versioned<Coupon>>,
    /// Uses of coupons made by this unit's payment.
    pub coupon_uses: Vec<crate::coupons::CouponUse>,
    /// (coupon, order): uses given back by this unit.
    pub coupon_uses_given_back: Vec<(String, String)>,
    pub set_timers: Vec<TimerRow>,
    pub cancel_timers: Vec<TimerCancel>,
    pub set_dispute_timers: Vec<DisputeTimerRow>,
    pub cancel_dispute_timers: Vec<DisputeTimerCancel>,
    pub events: Vec<NewEvent>,
    pub idempotency: Option<IdempotencyRecord>,
    /// Messages appended to orders' message records, each after the chain head it names
    /// (`seq - 1`, `prev_hash`); if the head moved, the unit is refused with
    /// [`crate::Conflict::ChainMoved`].
    pub messages: Vec<Message>,
    /// Connector notifications taken in this unit (a redelivery of one finds it and changes nothing).
    pub notifications: Vec<crate::connectors::NotificationRow>,
    pub parcels: Vec<Versioned<Parcel>>,
    /// Carriers' events taken in this unit (a repeat of one's id finds it and changes nothing).
    pub parcel_events: Vec<crate::parcels::ParcelEventRow>,
    /// What cash-on-delivery checkouts fixed for their orders (written once, with the order).
    pub cod_terms: Vec<crate::parcels::CodTermsRow>,
    /// Lines of a remittance classified in this unit, and the chunk it posts.
    pub remittance_lines: Vec<crate::remittances::RemittanceLineRow>,
    pub remittance_chunk: Option<crate::remittances::ChunkDone>,
    /// Parcels a remittance chunk pays, marked remitted in one statement per 500 (their
    /// versions checked with the unit's other aggregates).
    pub remitted: Option<crate::remittances::RemitMark>,
    /// A remittance line an operator accepted as the carrier paid it.
    pub line_accepted: Option<crate::remittances::LineAccepted>,
}

impl Unit {
    /// Every aggregate the unit writes, with the version it expects to find.
    pub fn versions(&self) -> impl Iterator<Item = (Kind, &str, i64)> {
        let orders = self
            .orders
            .iter()
            .map(|v| (Kind::Order, v.value.id.as_str(), v.expected_version));
        let payments = self
            .payments
            .iter()
            .map(|v| (Kind::Payment, v.value.id.as_str(), v.expected_version));
        let refunds = self
            .refunds
            .iter()
            .map(|v| (Kind::Refund, v.value.id.as_str(), v.expected_version));
        let disputes = self
            .disputes
            .iter()
            .map(|v| (Kind::Dispute, v.value.id.as_str(), v.expected_version));
        let gift_cards = self
            .gift_cards
            .iter()
            .map(|v| (Kind::GiftCard, v.value.id.as_str(), v.expected_version));
        let coupons = self
            .coupons
            .iter()
            .map(|v| (Kind::Coupon, v.value.id.as_str(), v.expected_version));
        let parcels = self
            .parcels
            .iter()
            .map(|v| (Kind::Parcel, v.value.id.as_str(), v.expected_version))
            .chain(
                self.remitted
                    .iter()
                    .flat_map(|m| m.touched())
                    .map(|(id, v)| (Kind::Parcel, id.as_str(), *v)),
            );
        orders
            .chain(payments)
            .chain(refunds)
            .chain(disputes)
            .chain(gift_cards)
            .chain(coupons)
            .chain(parcels)
    }
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
    /// The token of the claim this request holds on the key (see [`crate::Claim`]): the record
    /// replaces that claim. Without one, the key must be unused.
    pub claim: Option<String>,
}

/// One row statement: SQL text and its bound values.
pub(crate) type Statement = (&'static str, Vec<Val>);

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

/// An API key as stored: the secret only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub secret_sha256: String,
    /// `platform`, `buyer`, `seller`, `mediator`, `retailer` or `carrier`.
    pub principal_kind: String,
    /// The buyer's or seller's party id, or the mediator's id; none for the platform.
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
    /// What kind of goods it is (some are never sold for cash at the door).
    pub category: Option<String>,
}
