//! SQL text both backends share, and the decoding of rows into domain types.

use std::collections::BTreeMap;

use holdback_domain::ledger::{
    Account, AccountKind, AccountSpec, Hash, Head, Hold, HoldStatus, JournalEntry, Posting,
    PostingKind, PostingRef, Receipt,
};
use holdback_domain::order::{
    Commission, OpenDispute, Order, OrderState, OrderStatus, Protection, Release, Shipment,
    TimerKind,
};
use holdback_domain::{AccountId, Currency, HoldId, Money, TxId};
use sqlx::Row as _;

use crate::unit::{ApiKeyRow, IdempotencyRecord, NewEvent, ProductRow, StoredEvent, TimerRow};
use crate::{HistoryLine, StoreError};

pub(crate) const SELECT_HEAD: &str = "SELECT seq, hash, committed_at FROM ledger_head WHERE id = 1";

macro_rules! account_columns {
    () => {
        "SELECT id, kind, currency, bounded, debits_posted, credits_posted, debits_pending, \
         credits_pending, created_at, last_seq, last_idx FROM accounts "
    };
}
pub(crate) const SELECT_ACCOUNT_BY_ID: &str = concat!(account_columns!(), "WHERE id = $1");
pub(crate) const SELECT_ACCOUNTS_BY_IDS: &str = concat!(account_columns!(), "WHERE id = ANY($1)");
pub(crate) const SELECT_ALL_ACCOUNTS: &str = concat!(account_columns!(), "ORDER BY id");
/// The accounts whose id starts with $1 (of length $2), by id.
pub(crate) const SELECT_ACCOUNTS_PREFIXED: &str = concat!(
    account_columns!(),
    "WHERE substr(id, 1, CAST($2 AS INTEGER)) = $1 ORDER BY id"
);

pub(crate) const SELECT_HOLD_BY_ID: &str = "SELECT id, debit_account, credit_account, currency, \
     amount, status, posted_amount, created_seq, resolved_seq FROM holds WHERE id = $1";
pub(crate) const SELECT_ALL_HOLDS: &str = "SELECT id, debit_account, credit_account, currency, \
     amount, status, posted_amount, created_seq, resolved_seq FROM holds ORDER BY id";

pub(crate) const SELECT_JOURNAL_RANGE: &str = "SELECT seq, tx_id, fingerprint, committed_at, \
     prev_hash, hash FROM journal WHERE seq >= $1 AND seq < $2 ORDER BY seq";
pub(crate) const SELECT_COMMITTED_BY_TX_ID: &str = "SELECT seq, tx_id, fingerprint, \
     committed_at, hash FROM journal WHERE tx_id = $1";
pub(crate) const SELECT_POSTINGS_RANGE: &str = "SELECT seq, idx, kind, hold_id, debit_account, \
     credit_account, currency, posted, pending_delta, debit_prev_seq, debit_prev_idx, \
     credit_prev_seq, credit_prev_idx FROM postings \
     WHERE seq >= $1 AND seq < $2 ORDER BY seq, idx";

/// An account's history, newest first: follows the chain of account `$1`'s postings from
/// `start` (a query yielding one `(seq, idx)` row, or none) for at most `limit` postings.
macro_rules! history {
    ($start:literal, $limit:literal) => {
        concat!(
            "WITH RECURSIVE start (seq, idx) AS (",
            $start,
            "), chain (seq, idx, n) AS (SELECT seq, idx, 1 FROM start \
             UNION ALL SELECT \
               CASE WHEN p.debit_account = $1 THEN p.debit_prev_seq ELSE p.credit_prev_seq END, \
               CASE WHEN p.debit_account = $1 THEN p.debit_prev_idx ELSE p.credit_prev_idx END, \
               c.n + 1 \
             FROM chain c JOIN postings p ON p.seq = c.seq AND p.idx = c.idx WHERE c.n < ",
            $limit,
            ") SELECT p.seq, p.idx, p.kind, p.hold_id, p.debit_account, p.credit_account, \
               p.currency, p.posted, p.pending_delta, p.debit_prev_seq, p.debit_prev_idx, \
               p.credit_prev_seq, p.credit_prev_idx, j.tx_id, j.committed_at \
             FROM chain c JOIN postings p ON p.seq = c.seq AND p.idx = c.idx \
             JOIN journal j ON j.seq = p.seq ORDER BY c.n"
        )
    };
}
/// The newest `$2` postings of account `$1`.
pub(crate) const SELECT_HISTORY_NEWEST: &str = history!(
    "SELECT last_seq, last_idx FROM accounts WHERE id = $1",
    "$2"
);
/// The `$4` postings of account `$1` before its posting `($2, $3)`.
pub(crate) const SELECT_HISTORY_BEFORE: &str = history!(
    "SELECT CASE WHEN debit_account = $1 THEN debit_prev_seq ELSE credit_prev_seq END, \
       CASE WHEN debit_account = $1 THEN debit_prev_idx ELSE credit_prev_idx END \
     FROM postings WHERE seq = $2 AND idx = $3 AND (debit_account = $1 OR credit_account = $1)",
    "$4"
);

pub(crate) const INSERT_ACCOUNT: &str = "INSERT INTO accounts (id, kind, currency, bounded, \
     debits_posted, credits_posted, debits_pending, credits_pending, created_at) \
     VALUES ($1, $2, $3, $4, 0, 0, 0, 0, $5)";
pub(crate) const UPDATE_ACCOUNT_SUMS: &str = "UPDATE accounts SET debits_posted = $1, \
     credits_posted = $2, debits_pending = $3, credits_pending = $4, last_seq = $5, \
     last_idx = $6 WHERE id = $7";
pub(crate) const INSERT_HOLD: &str = "INSERT INTO holds (id, debit_account, credit_account, \
     currency, amount, status, posted_amount, created_seq, resolved_seq) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(crate) const RESOLVE_HOLD: &str = "UPDATE holds SET status = $1, posted_amount = $2, \
     resolved_seq = $3 WHERE id = $4 AND status = 'open'";
pub(crate) const UPDATE_HEAD: &str = "UPDATE ledger_head SET seq = $1, hash = $2, \
     committed_at = $3 WHERE id = 1 AND seq = $4";

/// Column access shared by `SqliteRow` and `PgRow`.
pub(crate) trait Get {
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
}

macro_rules! impl_get {
    ($row:ty) => {
        impl Get for $row {
            fn int(&self, column: &str) -> Result<i64, StoreError> {
                Ok(self.try_get::<i64, _>(column)?)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
                Ok(self.try_get::<Option<i64>, _>(column)?)
            }
            fn text(&self, column: &str) -> Result<String, StoreError> {
                Ok(self.try_get::<String, _>(column)?)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
                Ok(self.try_get::<Option<String>, _>(column)?)
            }
            fn flag(&self, column: &str) -> Result<bool, StoreError> {
                Ok(self.try_get::<bool, _>(column)?)
            }
        }
    };
}
impl_get!(sqlx::sqlite::SqliteRow);
impl_get!(sqlx::postgres::PgRow);

impl Get for rusqlite::Row<'_> {
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.get::<_, i64>(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.get::<_, Option<i64>>(column)?)
    }
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.get::<_, String>(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get::<_, Option<String>>(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.get::<_, bool>(column)?)
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn account_id(text: String) -> Result<AccountId, StoreError> {
    AccountId::parse(&text).map_err(corrupt)
}

pub(crate) fn currency(text: String) -> Result<Currency, StoreError> {
    Currency::parse(&text).map_err(corrupt)
}

fn hash(text: String) -> Result<Hash, StoreError> {
    Hash::from_hex(&text).ok_or_else(|| corrupt(format!("bad hash {text:?}")))
}

pub(crate) fn head(row: &impl Get) -> Result<Head, StoreError> {
    Ok(Head {
        seq: row.int("seq")?,
        hash: hash(row.text("hash")?)?,
        committed_at: row.int("committed_at")?,
    })
}

pub(crate) fn account(row: &impl Get) -> Result<Account, StoreError> {
    Ok(Account {
        spec: AccountSpec {
            id: account_id(row.text("id")?)?,
            kind: AccountKind::parse(&row.text("kind")?).map_err(corrupt)?,
            currency: currency(row.text("currency")?)?,
            bounded: row.flag("bounded")?,
        },
        debits_posted: row.int("debits_posted")?,
        credits_posted: row.int("credits_posted")?,
        debits_pending: row.int("debits_pending")?,
        credits_pending: row.int("credits_pending")?,
        created_at: row.int("created_at")?,
        last_posting: posting_ref(row, "last_seq", "last_idx")?,
    })
}

/// A nullable `(seq, idx)` pair of columns.
fn posting_ref(row: &impl Get, seq: &str, idx: &str) -> Result<Option<PostingRef>, StoreError> {
    match (row.opt_int(seq)?, row.opt_int(idx)?) {
        (None, None) => Ok(None),
        (Some(seq), Some(idx)) => Ok(Some(PostingRef {
            seq,
            idx: i32::try_from(idx).map_err(corrupt)?,
        })),
        _ => Err(corrupt(format!(
            "{seq} and {idx} are not both set or both empty"
        ))),
    }
}

/// The `(seq, idx)` columns of a nullable posting reference.
pub(crate) fn posting_ref_columns(r: Option<PostingRef>) -> (Option<i64>, Option<i64>) {
    (r.map(|r| r.seq), r.map(|r| i64::from(r.idx)))
}

pub(crate) fn hold(row: &impl Get) -> Result<Hold, StoreError> {
    let currency = currency(row.text("currency")?)?;
    let status = match (
        row.text("status")?.as_str(),
        row.opt_int("posted_amount")?,
        row.opt_int("resolved_seq")?,
    ) {
        ("open", None, None) => HoldStatus::Open,
        ("posted", Some(amount), Some(seq)) => HoldStatus::Posted { amount, seq },
        ("voided", None, Some(seq)) => HoldStatus::Voided { seq },
        (status, _, _) => return Err(corrupt(format!("hold status {status:?}"))),
    };
    Ok(Hold {
        id: HoldId::parse(&row.text("id")?).map_err(corrupt)?,
        debit: account_id(row.text("debit_account")?)?,
        credit: account_id(row.text("credit_account")?)?,
        amount: Money::from_minor(row.int("amount")?, currency).map_err(corrupt)?,
        created_seq: row.int("created_seq")?,
        status,
    })
}

/// The stored columns of a hold status: (status, posted_amount, resolved_seq).
pub(crate) fn hold_status_columns(status: HoldStatus) -> (&'static str, Option<i64>, Option<i64>) {
    match status {
        HoldStatus::Open => ("open", None, None),
        HoldStatus::Posted { amount, seq } => ("posted", Some(amount), Some(seq)),
        HoldStatus::Voided { seq } => ("voided", None, Some(seq)),
    }
}

pub(crate) fn posting(row: &impl Get) -> Result<Posting, StoreError> {
    let kind = row.text("kind")?;
    Ok(Posting {
        kind: PostingKind::parse(&kind).ok_or_else(|| corrupt(format!("posting kind {kind:?}")))?,
        hold: row
            .opt_text("hold_id")?
            .map(|h| HoldId::parse(&h).map_err(corrupt))
            .transpose()?,
        debit: account_id(row.text("debit_account")?)?,
        credit: account_id(row.text("credit_account")?)?,
        currency: currency(row.text("currency")?)?,
        posted: row.int("posted")?,
        pending_delta: row.int("pending_delta")?,
        debit_prev: posting_ref(row, "debit_prev_seq", "debit_prev_idx")?,
        credit_prev: posting_ref(row, "credit_prev_seq", "credit_prev_idx")?,
    })
}

pub(crate) fn history_line(row: &impl Get) -> Result<HistoryLine, StoreError> {
    Ok(HistoryLine {
        seq: row.int("seq")?,
        idx: i32::try_from(row.int("idx")?).map_err(corrupt)?,
        tx_id: row.text("tx_id")?,
        committed_at: row.int("committed_at")?,
        posting: posting(row)?,
    })
}

macro_rules! order_columns {
    () => {
        "SELECT id, buyer, seller, payment_id, currency, captured, refunded, \
         released_to_seller, released_commission, status, paid_at, ship_by, carrier, tracking, \
         shipped_at, delivered_at, protection_ends, cancel_requested_at, buyer_extended, \
         extension_requested, seller_extended, commission_bps, commission_fixed, livemode, \
         version, shipping_method, delivery_guarantee, ended_at, claim_opened_at, dispute_id, \
         dispute_opened_at, dispute_remaining, charged_to_seller, expires_at, ship_by_ms, \
         promotion, promotion_returned, cash_on_delivery, release_due_at FROM orders "
    };
}
pub(crate) const SELECT_ORDER: &str = concat!(order_columns!(), "WHERE id = $1");
pub(crate) const SELECT_ALL_ORDERS: &str = concat!(order_columns!(), "ORDER BY id");
pub(crate) const SELECT_ORDERS_PAGE: &str = concat!(
    order_columns!(),
    "WHERE ($1 = '' OR buyer = $1) AND ($2 = '' OR seller = $2) \
     AND livemode = $3 AND id > $4 ORDER BY id LIMIT $5"
);
pub(crate) const SELECT_ORDERS_PAGE_BEFORE: &str = concat!(
    order_columns!(),
    "WHERE ($1 = '' OR buyer = $1) AND ($2 = '' OR seller = $2) \
     AND livemode = $3 AND id < $4 ORDER BY id DESC LIMIT $5"
);
pub(crate) const SELECT_EVENTS_BEFORE: &str = "SELECT seq, id, type, object_id, payload, \
     created_at, livemode FROM events WHERE seq < $1 AND livemode = $2 \
     ORDER BY seq DESC LIMIT $3";
pub(crate) const SELECT_DUE_TIMERS: &str = "SELECT order_id, kind, due_at FROM timers \
     WHERE due_at <= $1 ORDER BY due_at, order_id, kind LIMIT $2";
pub(crate) const SELECT_EVENTS_AFTER: &str = "SELECT seq, id, type, object_id, payload, \
     created_at, livemode FROM events WHERE seq > $1 AND livemode = $2 ORDER BY seq LIMIT $3";
pub(crate) const SELECT_IDEMPOTENCY: &str = "SELECT principal, key, request_hash, status, body, \
     created_at, claim_token FROM idempotency_keys WHERE principal = $1 AND key = $2 \
     AND state = 'done'";

/// An order row and its version.
pub(crate) fn order(row: &impl Get) -> Result<(Order, i64), StoreError> {
    let currency = currency(row.text("currency")?)?;
    let status = row.text("status")?;
    let status =
        OrderStatus::parse(&status).ok_or_else(|| corrupt(format!("order status {status:?}")))?;
    let shipment = match (
        row.opt_text("carrier")?,
        row.opt_text("tracking")?,
        row.opt_int("shipped_at")?,
    ) {
        (Some(carrier), Some(tracking), Some(shipped_at)) => Some(Shipment {
            carrier,
            tracking,
            shipped_at,
        }),
        _ => None,
    };
    let delivered_at = row.opt_int("delivered_at")?;
    let ended_at = row.opt_int("ended_at")?.unwrap_or(0);
    let protection = || -> Result<Protection, StoreError> {
        Ok(Protection {
            ends: row
                .opt_int("protection_ends")?
                .ok_or_else(|| corrupt("a shipped order without its protection end"))?,
            buyer_extended: row.flag("buyer_extended")?,
            seller_extended: row.int("seller_extended")?,
            extension_requested: row.opt_int("extension_requested")?,
        })
    };
    let shipped = || {
        shipment
            .clone()
            .ok_or_else(|| corrupt("a shipped order without shipment"))
    };
    let state = match status {
        OrderStatus::AwaitingPayment => OrderState::AwaitingPayment {
            expires_at: row
                .opt_int("expires_at")?
                .ok_or_else(|| corrupt("an order awaiting payment without its expiry"))?,
            ship_by_ms: row.opt_int("ship_by_ms")?.unwrap_or(0),
        },
        OrderStatus::Expired => OrderState::Expired {
            expired_at: ended_at,
        },
        OrderStatus::Paid => OrderState::Paid {
            cancel_requested: row.opt_int("cancel_requested_at")?,
        },
        OrderStatus::Shipped => OrderState::Shipped {
            shipment: shipped()?,
            protection: protection()?,
            claim: row.opt_int("claim_opened_at")?,
        },
        OrderStatus::Delivered => OrderState::Delivered {
            shipment: shipped()?,
            delivered_at: delivered_at.ok_or_else(|| corrupt("delivered without a time"))?,
            protection: protection()?,
        },
        OrderStatus::Completed => OrderState::Completed {
            shipment: shipment.clone(),
            delivered_at,
            release: Release {
                to_seller: row.opt_int("released_to_seller")?.unwrap_or(0),
                commission: row.opt_int("released_commission")?.unwrap_or(0),
            },
            completed_at: ended_at,
        },
        OrderStatus::AwaitingRemittance => OrderState::AwaitingRemittance {
            shipment: shipped()?,
            delivered_at: delivered_at.ok_or_else(|| corrupt("delivered without a time"))?,
            due_at: row
                .opt_int("release_due_at")?
                .ok_or_else(|| corrupt("an order awaiting remittance without its due time"))?,
        },
        OrderStatus::Cancelled => OrderState::Cancelled {
            shipment: shipment.clone(),
            delivered_at,
            cancelled_at: ended_at,
        },
    };
    let order = Order {
        id: row.text("id")?,
        buyer: row.text("buyer")?,
        seller: row.text("seller")?,
        payment: row.text("payment_id")?,
        captured: Money::from_minor(row.int("captured")?, currency).map_err(corrupt)?,
        refunded: row.int("refunded")?,
        commission: Commission {
            basis_points: u32::try_from(row.int("commission_bps")?).map_err(corrupt)?,
            fixed_minor: row.int("commission_fixed")?,
        },
        livemode: row.flag("livemode")?,
        paid_at: row.int("paid_at")?,
        ship_by: row.int("ship_by")?,
        shipping_method: row.text("shipping_method")?,
        delivery_guarantee: row.int("delivery_guarantee")?,
        charged_to_seller: row.int("charged_to_seller")?,
        promotion: row.int("promotion")?,
        promotion_returned: row.int("promotion_returned")?,
        cash_on_delivery: row.flag("cash_on_delivery")?,
        dispute: match (
            row.opt_text("dispute_id")?,
            row.opt_int("dispute_opened_at")?,
            row.opt_int("dispute_remaining")?,
        ) {
            (Some(id), Some(opened_at), Some(remaining)) => Some(OpenDispute {
                id,
                opened_at,
                remaining,
            }),
            (None, None, None) => None,
            _ => return Err(corrupt("an order's open dispute is partly recorded")),
        },
        state,
    };
    Ok((order, row.int("version")?))
}

pub(crate) fn timer(row: &impl Get) -> Result<TimerRow, StoreError> {
    let kind = row.text("kind")?;
    Ok(TimerRow {
        order_id: row.text("order_id")?,
        kind: TimerKind::parse(&kind).ok_or_else(|| corrupt(format!("timer kind {kind:?}")))?,
        due_at: row.int("due_at")?,
    })
}

pub(crate) fn event(row: &impl Get) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: row.int("seq")?,
        event: NewEvent {
            id: row.text("id")?,
            kind: row.text("type")?,
            object_id: row.text("object_id")?,
            payload: row.text("payload")?,
            created_at: row.int("created_at")?,
            livemode: row.flag("livemode")?,
        },
    })
}

pub(crate) fn idempotency(row: &impl Get) -> Result<IdempotencyRecord, StoreError> {
    Ok(IdempotencyRecord {
        principal: row.text("principal")?,
        key: row.text("key")?,
        request_hash: row.text("request_hash")?,
        status: u16::try_from(row.int("status")?).map_err(corrupt)?,
        body: row.text("body")?,
        created_at: row.int("created_at")?,
        claim: row.opt_text("claim_token")?,
    })
}

pub(crate) fn product(row: &impl Get) -> Result<ProductRow, StoreError> {
    let currency = currency(row.text("currency")?)?;
    Ok(ProductRow {
        id: row.text("id")?,
        seller: row.text("seller")?,
        name: row.text("name")?,
        price: Money::from_minor(row.int("unit_amount")?, currency).map_err(corrupt)?,
        livemode: row.flag("livemode")?,
        created_at: row.int("created_at")?,
        category: row.opt_text("category")?,
    })
}

pub(crate) fn api_key(row: &impl Get) -> Result<ApiKeyRow, StoreError> {
    Ok(ApiKeyRow {
        id: row.text("id")?,
        secret_sha256: row.text("secret_sha256")?,
        principal_kind: row.text("principal_kind")?,
        party_id: row.opt_text("party_id")?,
        livemode: row.flag("livemode")?,
        created_at: row.int("created_at")?,
    })
}

/// A journal row as what idempotent retries need: its fingerprint and receipt.
pub(crate) fn committed(row: &impl Get) -> Result<(Hash, Receipt), StoreError> {
    Ok((
        hash(row.text("fingerprint")?)?,
        Receipt {
            seq: row.int("seq")?,
            tx_id: TxId::parse(&row.text("tx_id")?).map_err(corrupt)?,
            committed_at: row.int("committed_at")?,
            hash: hash(row.text("hash")?)?,
        },
    ))
}

/// Joins journal rows with their postings (both ordered by seq).
pub(crate) fn assemble_journal<R: Get>(
    entries: &[R],
    postings: &[R],
) -> Result<Vec<JournalEntry>, StoreError> {
    let mut by_seq: BTreeMap<i64, Vec<Posting>> = BTreeMap::new();
    for row in postings {
        by_seq
            .entry(row.int("seq")?)
            .or_default()
            .push(posting(row)?);
    }
    entries
        .iter()
        .map(|row| {
            let seq = row.int("seq")?;
            Ok(JournalEntry {
                seq,
                tx_id: TxId::parse(&row.text("tx_id")?).map_err(corrupt)?,
                fingerprint: hash(row.text("fingerprint")?)?,
                committed_at: row.int("committed_at")?,
                prev_hash: hash(row.text("prev_hash")?)?,
                hash: hash(row.text("hash")?)?,
                postings: by_seq.remove(&seq).unwrap_or_default(),
            })
        })
        .collect()
}
