//! Coupons as rows (the statement a unit runs for one, with its version), their uses (written
//! with the payment that makes them, given back with the unit that cancels their order), and
//! the reads: by id, by code, a buyer's uses, the uses of an order or a payment.

use holdback_domain::coupon::{Coupon, Discount, Funding};
use holdback_domain::process::Versioned;

use crate::rows::{Get, corrupt, currency};
use crate::unit::{Statement, Val};
use crate::{Store, StoreError, with_pool};

const UPSERT_COUPON: &str = "INSERT INTO coupons (id, code, livemode, funded_by, seller, kind, \
     amount_off, percent_off_bps, currency, min_spend, starts_at, ends_at, per_buyer, \
     total_limit, used, created_at, version, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
     ON CONFLICT (id) DO UPDATE SET used = excluded.used, version = excluded.version, \
     updated_at = excluded.updated_at";
const INSERT_USE: &str = "INSERT INTO coupon_uses (coupon_id, payment_id, order_id, buyer, \
     amount, used_at) VALUES ($1, $2, $3, $4, $5, $6)";
/// (SQLite numbers `$N` parameters by first appearance: they appear here in order.)
const GIVE_BACK: &str = "UPDATE coupon_uses SET given_back_at = $1 \
     WHERE coupon_id = $2 AND order_id = $3 AND given_back_at IS NULL";
macro_rules! coupon_columns {
    () => {
        "SELECT id, code, livemode, funded_by, seller, kind, amount_off, percent_off_bps, \
         currency, min_spend, starts_at, ends_at, per_buyer, total_limit, used, created_at, \
         version FROM coupons "
    };
}
const SELECT_COUPON: &str = concat!(coupon_columns!(), "WHERE id = $1");
const SELECT_BY_CODE: &str = concat!(coupon_columns!(), "WHERE livemode = $1 AND code = $2");
const COUNT_BUYER_USES: &str = "SELECT COUNT(DISTINCT payment_id) AS n FROM coupon_uses \
     WHERE coupon_id = $1 AND buyer = $2 AND given_back_at IS NULL";
const SELECT_USES: &str = "SELECT coupon_id, payment_id, order_id, buyer, amount, used_at \
     FROM coupon_uses WHERE given_back_at IS NULL AND (order_id = $1 OR payment_id = $2) \
     ORDER BY coupon_id, order_id";

/// One use of a coupon: by a payment, for one of its orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponUse {
    pub coupon_id: String,
    pub payment_id: String,
    pub order_id: String,
    pub buyer: String,
    pub amount: i64,
    pub used_at: i64,
}

fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

/// The upsert of one coupon, at the version after `expected_version`.
pub(crate) fn statement(w: &Versioned<Coupon>, now: i64) -> Statement {
    let c = &w.value;
    let (funded_by, seller) = match &c.funding {
        Funding::Platform => ("platform", c.seller.clone()),
        Funding::Seller(s) => ("seller", Some(s.clone())),
    };
    let (kind, amount_off, bps) = match c.discount {
        Discount::Fixed(a) => ("fixed", Some(a), None),
        Discount::Percent(p) => ("percent", None, Some(i64::from(p))),
    };
    (
        UPSERT_COUPON,
        vec![
            text(&c.id),
            text(&c.code),
            Val::Bool(c.livemode),
            text(funded_by),
            Val::OptText(seller),
            text(kind),
            Val::OptInt(amount_off),
            Val::OptInt(bps),
            text(c.currency.code()),
            Val::Int(c.min_spend),
            Val::Int(c.starts_at),
            Val::Int(c.ends_at),
            Val::Int(i64::from(c.per_buyer)),
            Val::Int(i64::from(c.total_limit)),
            Val::Int(i64::from(c.used)),
            Val::Int(c.created_at),
            Val::Int(w.expected_version + 1),
            Val::Int(now),
        ],
    )
}

pub(crate) fn insert_use(u: &CouponUse) -> Statement {
    (
        INSERT_USE,
        vec![
            text(&u.coupon_id),
            text(&u.payment_id),
            text(&u.order_id),
            text(&u.buyer),
            Val::Int(u.amount),
            Val::Int(u.used_at),
        ],
    )
}

pub(crate) fn give_back(coupon: &str, order: &str, at: i64) -> Statement {
    (GIVE_BACK, vec![Val::Int(at), text(coupon), text(order)])
}

fn coupon(row: &impl Get) -> Result<(Coupon, i64), StoreError> {
    let count = |column: &str| -> Result<u32, StoreError> {
        u32::try_from(row.int(column)?).map_err(corrupt)
    };
    let funding = match row.text("funded_by")?.as_str() {
        "platform" => Funding::Platform,
        "seller" => Funding::Seller(
            row.opt_text("seller")?
                .ok_or_else(|| corrupt("a seller's coupon without its seller"))?,
        ),
        other => return Err(corrupt(format!("coupon funding {other:?}"))),
    };
    let discount = match row.text("kind")?.as_str() {
        "fixed" => Discount::Fixed(
            row.opt_int("amount_off")?
                .ok_or_else(|| corrupt("a fixed coupon without its amount"))?,
        ),
        "percent" => Discount::Percent(
            u32::try_from(
                row.opt_int("percent_off_bps")?
                    .ok_or_else(|| corrupt("a percent coupon without its rate"))?,
            )
            .map_err(corrupt)?,
        ),
        other => return Err(corrupt(format!("coupon kind {other:?}"))),
    };
    let seller = match funding {
        Funding::Platform => row.opt_text("seller")?,
        Funding::Seller(_) => None,
    };
    Ok((
        Coupon {
            id: row.text("id")?,
            code: row.text("code")?,
            livemode: row.flag("livemode")?,
            funding,
            discount,
            currency: currency(row.text("currency")?)?,
            min_spend: row.int("min_spend")?,
            starts_at: row.int("starts_at")?,
            ends_at: row.int("ends_at")?,
            per_buyer: count("per_buyer")?,
            total_limit: count("total_limit")?,
            used: count("used")?,
            seller,
            created_at: row.int("created_at")?,
        },
        row.int("version")?,
    ))
}

impl Store {
    pub async fn coupon(&self, id: &str) -> Result<Option<(Coupon, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_COUPON).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(coupon).transpose()
        })
    }

    pub async fn coupon_by_code(
        &self,
        livemode: bool,
        code: &str,
    ) -> Result<Option<(Coupon, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_BY_CODE)
                .bind(livemode)
                .bind(code)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(coupon).transpose()
        })
    }

    /// How often (in how many payments) `buyer` used the coupon, uses given back aside.
    pub async fn coupon_buyer_uses(&self, coupon: &str, buyer: &str) -> Result<u32, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(COUNT_BUYER_USES).bind(coupon).bind(buyer).fetch_one(pool).await?;
            u32::try_from(row.int("n")?).map_err(corrupt)
        })
    }

    /// The uses not given back of an order, or of a payment's orders.
    pub async fn coupon_uses(
        &self,
        order: &str,
        payment: &str,
    ) -> Result<Vec<CouponUse>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_USES).bind(order).bind(payment).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(CouponUse {
                        coupon_id: r.text("coupon_id")?,
                        payment_id: r.text("payment_id")?,
                        order_id: r.text("order_id")?,
                        buyer: r.text("buyer")?,
                        amount: r.int("amount")?,
                        used_at: r.int("used_at")?,
                    })
                })
                .collect()
        })
    }
}
