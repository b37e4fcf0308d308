//! Reads of payments (with their tenders and planned orders) and refunds, and the leases their
//! workers take. Writes go through units (see `aggregates.rs`); a lease is not business state,
//! so it is taken with a plain conditional update.

use holdback_domain::card::{Brand, StoredCard};
use holdback_domain::order::{Commission, OrderPlan, RefundReason};
use holdback_domain::payment::{Method, Payment, PaymentState, Tender};
use holdback_domain::refund::{Refund, RefundState};
use holdback_domain::tender::Destination;
use holdback_domain::{ErrorCode, Money};

use std::collections::HashMap;

use holdback_domain::AccountId;
use holdback_domain::invariants::{self, BusinessBreach};

use crate::rows::{self, Get, corrupt, currency};
use crate::{Cursor, Store, StoreError, with_pool};

const SELECT_PAYMENT: &str = "SELECT id, buyer, currency, amount, livemode, created_at, status, \
     failure_code, captured_at, version, expires_at, return_url FROM payments WHERE id = $1";
const SELECT_TENDERS: &str = "SELECT method, currency, amount, refunded, reference, card_brand, \
     card_last4, card_exp_month, card_exp_year, provider_token, received, payer_account \
     FROM payment_tenders \
     WHERE payment_id = $1 ORDER BY idx";
const SELECT_PLANS: &str = "SELECT order_id, seller, amount, commission_bps, commission_fixed, \
     ship_by_ms, shipping_method, delivery_guarantee, promotion FROM payment_plans \
     WHERE payment_id = $1 \
     ORDER BY idx";
const SELECT_PAYMENT_ORDERS: &str = "SELECT id FROM orders WHERE payment_id = $1 ORDER BY id";
macro_rules! refund_columns {
    () => {
        "SELECT id, payment_id, order_id, tender, charge, currency, amount, reason, livemode, \
         status, attempts, failures, next_attempt_at, last_error, provider_id, ended_at, \
         created_at, version, destination FROM refunds "
    };
}
const SELECT_REFUND: &str = concat!(refund_columns!(), "WHERE id = $1");
const SELECT_REFUNDS_OF_PAYMENT: &str =
    concat!(refund_columns!(), "WHERE payment_id = $1 ORDER BY id");
const SELECT_REFUNDS_PAGE: &str = concat!(
    refund_columns!(),
    "WHERE livemode = $1 AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4"
);
const LEASE_REFUND: &str = "UPDATE refunds SET lease_until = $3 WHERE id = $1 \
     AND status = 'pending' AND lease_until <= $2";
const LEASE_PAYMENT: &str = "UPDATE payments SET lease_until = $3 WHERE id = $1 \
     AND status = 'processing' AND lease_until <= $2";
const SELECT_PAYMENTS_PAGE: &str = "SELECT id FROM payments WHERE ($1 = '' OR buyer = $1) \
     AND livemode = $2 AND id > $3 ORDER BY id LIMIT $4";
const SELECT_PAYMENTS_PAGE_BEFORE: &str = "SELECT id FROM payments \
     WHERE ($1 = '' OR buyer = $1) AND livemode = $2 AND id < $3 ORDER BY id DESC LIMIT $4";
const SELECT_ALL_REFUNDS: &str = concat!(refund_columns!(), "ORDER BY id");

fn card(row: &impl Get) -> Result<Option<StoredCard>, StoreError> {
    let Some(brand) = row.opt_text("card_brand")? else {
        return Ok(None);
    };
    Ok(Some(StoredCard {
        brand: Brand::parse(&brand).ok_or_else(|| corrupt(format!("card brand {brand:?}")))?,
        last4: row.opt_text("card_last4")?.unwrap_or_default(),
        exp_month: u8::try_from(row.opt_int("card_exp_month")?.unwrap_or(0)).map_err(corrupt)?,
        exp_year: u16::try_from(row.opt_int("card_exp_year")?.unwrap_or(0)).map_err(corrupt)?,
        token: row.opt_text("provider_token")?.unwrap_or_default(),
    }))
}

/// A failed payment's stored code, as the code it was written from.
fn failure_code(stored: Option<String>) -> Result<ErrorCode, StoreError> {
    let stored = stored.unwrap_or_default();
    ErrorCode::parse(&stored).ok_or_else(|| corrupt(format!("payment failure code {stored:?}")))
}

fn money(row: &impl Get, column: &str) -> Result<Money, StoreError> {
    let c = currency(row.text("currency")?)?;
    Money::from_minor(row.int(column)?, c).map_err(corrupt)
}

fn tender(row: &impl Get) -> Result<Tender, StoreError> {
    let method = row.text("method")?;
    Ok(Tender {
        method: Method::parse(&method).ok_or_else(|| corrupt(format!("method {method:?}")))?,
        amount: money(row, "amount")?,
        refunded: row.int("refunded")?,
        reference: row.text("reference")?,
        card: card(row)?,
        received: row.int("received")?,
        payer_account: row.opt_text("payer_account")?,
    })
}

fn plan(row: &impl Get, c: holdback_domain::Currency) -> Result<OrderPlan, StoreError> {
    Ok(OrderPlan {
        id: row.text("order_id")?,
        seller: row.text("seller")?,
        amount: Money::from_minor(row.int("amount")?, c).map_err(corrupt)?,
        commission: Commission {
            basis_points: u32::try_from(row.int("commission_bps")?).map_err(corrupt)?,
            fixed_minor: row.int("commission_fixed")?,
        },
        ship_by_ms: row.int("ship_by_ms")?,
        shipping_method: row.text("shipping_method")?,
        delivery_guarantee: row.int("delivery_guarantee")?,
        promotion: row.int("promotion")?,
        cash_on_delivery: false,
    })
}

pub(crate) fn refund(row: &impl Get) -> Result<(Refund, i64), StoreError> {
    let status = row.text("status")?;
    let state = match status.as_str() {
        "pending" => RefundState::Pending {
            next_attempt_at: row.opt_int("next_attempt_at")?.unwrap_or(0),
            failures: u32::try_from(row.int("failures")?).map_err(corrupt)?,
            last_error: row.opt_text("last_error")?,
        },
        "succeeded" => RefundState::Succeeded {
            at: row.opt_int("ended_at")?.unwrap_or(0),
            provider_id: row.opt_text("provider_id")?.unwrap_or_default(),
        },
        "failed" => RefundState::Failed {
            at: row.opt_int("ended_at")?.unwrap_or(0),
            last_error: row.opt_text("last_error")?.unwrap_or_default(),
        },
        other => return Err(corrupt(format!("refund status {other:?}"))),
    };
    let reason = row.text("reason")?;
    let refund = Refund {
        id: row.text("id")?,
        payment: row.text("payment_id")?,
        order: row.text("order_id")?,
        tender: usize::try_from(row.int("tender")?).map_err(corrupt)?,
        charge: row.text("charge")?,
        amount: money(row, "amount")?,
        reason: RefundReason::parse(&reason)
            .ok_or_else(|| corrupt(format!("refund reason {reason:?}")))?,
        livemode: row.flag("livemode")?,
        created_at: row.int("created_at")?,
        attempts: u32::try_from(row.int("attempts")?).map_err(corrupt)?,
        state,
        destination: {
            let d = row.text("destination")?;
            Destination::parse(&d).ok_or_else(|| corrupt(format!("refund destination {d:?}")))?
        },
    };
    Ok((refund, row.int("version")?))
}

impl Store {
    /// The ids of the orders a payment opened or placed (a failed card payment has none).
    pub async fn orders_of_payment(&self, payment: &str) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_PAYMENT_ORDERS).bind(payment).fetch_all(pool).await?;
            rows.iter().map(|r| r.text("id")).collect()
        })
    }

    /// A payment with its tenders, and its version.
    pub async fn payment(&self, id: &str) -> Result<Option<(Payment, i64)>, StoreError> {
        with_pool!(self, pool => {
            let Some(row) = sqlx::query(SELECT_PAYMENT).bind(id).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let amount = money(&row, "amount")?;
            let tenders = sqlx::query(SELECT_TENDERS).bind(id).fetch_all(pool).await?;
            let tenders = tenders.iter().map(tender).collect::<Result<Vec<_>, _>>()?;
            let plans = sqlx::query(SELECT_PLANS).bind(id).fetch_all(pool).await?;
            let plans = plans
                .iter()
                .map(|r| plan(r, amount.currency()))
                .collect::<Result<Vec<_>, _>>()?;
            let status = row.text("status")?;
            let placed_orders = async || -> Result<Vec<String>, StoreError> {
                let rows = sqlx::query(SELECT_PAYMENT_ORDERS).bind(id).fetch_all(pool).await?;
                rows.iter().map(|r| r.text("id")).collect()
            };
            let state = match status.as_str() {
                "processing" => PaymentState::Processing { plans },
                "requires_action" => PaymentState::RequiresAction {
                    orders: placed_orders().await?,
                    expires_at: row.opt_int("expires_at")?.unwrap_or(0),
                    return_url: row.opt_text("return_url")?,
                },
                "expired" => PaymentState::Expired {
                    at: row.opt_int("captured_at")?.unwrap_or(0),
                    orders: placed_orders().await?,
                },
                "cancelled" => PaymentState::Cancelled {
                    at: row.opt_int("captured_at")?.unwrap_or(0),
                    orders: placed_orders().await?,
                },
                "succeeded" => {
                    let orders = if plans.is_empty() {
                        let rows = sqlx::query(SELECT_PAYMENT_ORDERS).bind(id).fetch_all(pool).await?;
                        rows.iter().map(|r| r.text("id")).collect::<Result<Vec<_>, _>>()?
                    } else {
                        plans.into_iter().map(|p| p.id).collect()
                    };
                    PaymentState::Captured {
                        at: row.opt_int("captured_at")?.unwrap_or(0),
                        orders,
                    }
                }
                "failed" => PaymentState::Failed {
                    at: row.opt_int("captured_at")?.unwrap_or(0),
                    code: failure_code(row.opt_text("failure_code")?)?,
                },
                other => return Err(corrupt(format!("payment status {other:?}"))),
            };
            let payment = Payment {
                id: row.text("id")?,
                buyer: row.text("buyer")?,
                livemode: row.flag("livemode")?,
                amount,
                created_at: row.int("created_at")?,
                tenders,
                state,
            };
            Ok(Some((payment, row.int("version")?)))
        })
    }

    pub async fn refund(&self, id: &str) -> Result<Option<(Refund, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_REFUND).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(refund).transpose()
        })
    }

    pub async fn refunds_of_payment(&self, payment: &str) -> Result<Vec<Refund>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_REFUNDS_OF_PAYMENT).bind(payment).fetch_all(pool).await?;
            rows.iter().map(|r| refund(r).map(|(r, _)| r)).collect()
        })
    }

    /// Refunds of one mode by id after `after`; only those of `status` if it is not empty.
    pub async fn list_refunds(
        &self,
        livemode: bool,
        status: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Refund>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_REFUNDS_PAGE)
                .bind(livemode)
                .bind(status)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| refund(r).map(|(r, _)| r)).collect()
        })
    }

    /// Every refund (for the audit).
    pub async fn all_refunds(&self) -> Result<Vec<Refund>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_ALL_REFUNDS).fetch_all(pool).await?;
            rows.iter().map(|r| refund(r).map(|(r, _)| r)).collect()
        })
    }

    /// Ids of one mode's payments (optionally one buyer's), after `cursor` (ascending) or just
    /// before it (still returned ascending).
    pub async fn list_payment_ids(
        &self,
        buyer: Option<&str>,
        livemode: bool,
        cursor: Cursor<'_>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let (sql, at, reverse) = match cursor {
            Cursor::After(id) => (SELECT_PAYMENTS_PAGE, id, false),
            Cursor::Before(id) => (SELECT_PAYMENTS_PAGE_BEFORE, id, true),
        };
        let mut ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(sql)
                .bind(buyer.unwrap_or(""))
                .bind(livemode)
                .bind(at)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        if reverse {
            ids.reverse();
        }
        Ok(ids)
    }

    /// Every payment id (for the audit and reconciliation).
    pub async fn all_payment_ids(&self) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("SELECT id FROM payments ORDER BY id").fetch_all(pool).await?)
        })
    }

    /// Re-checks the business facts built on the ledger over the whole database: each order's
    /// escrow against what it holds, terminal orders fully accounted for, tenders against
    /// payments and refunds, refunds payable against the refunds still owed. Reads each table
    /// once; run it on a quiet database (a write between the reads can show as a breach).
    pub async fn business_audit(&self) -> Result<Vec<BusinessBreach>, StoreError> {
        let (orders, accounts) = with_pool!(self, pool => {
            let rows = sqlx::query(rows::SELECT_ALL_ORDERS).fetch_all(pool).await?;
            let orders = rows
                .iter()
                .map(|r| rows::order(r).map(|(o, _)| o))
                .collect::<Result<Vec<_>, _>>()?;
            let rows = sqlx::query(rows::SELECT_ALL_ACCOUNTS).fetch_all(pool).await?;
            let accounts = rows.iter().map(rows::account).collect::<Result<Vec<_>, _>>()?;
            (orders, accounts)
        });
        let mut payments = Vec::new();
        for id in self.all_payment_ids().await? {
            if let Some((p, _)) = self.payment(&id).await? {
                payments.push(p);
            }
        }
        let refunds = self.all_refunds().await?;
        let balances: HashMap<AccountId, i128> = accounts
            .iter()
            .map(|a| (a.spec.id.clone(), a.posted_balance()))
            .collect();
        let lookup = |id: &AccountId| balances.get(id).copied();
        let mut breaches = invariants::check(&orders, &payments, &refunds, &lookup);
        // gift cards: every liability account, against what its mode's active cards hold
        let mut active = std::collections::BTreeMap::new();
        for a in &accounts {
            if a.spec.kind == holdback_domain::ledger::AccountKind::GiftCardLiability {
                let live = a.spec.id.as_str().starts_with("live:");
                active.insert((live, a.spec.currency), 0i128);
            }
        }
        for c in self.active_gift_cards().await? {
            *active.entry((c.livemode, c.currency)).or_default() += i128::from(c.total);
        }
        breaches.extend(invariants::gift_card_liability(&active, &lookup));
        // carriers: every receivable account, against its collected and unremitted parcels
        let mut owed = std::collections::BTreeMap::new();
        for a in &accounts {
            if a.spec.kind == holdback_domain::ledger::AccountKind::CarrierCodReceivable {
                owed.insert(a.spec.id.clone(), 0i128);
            }
        }
        for r in self.carrier_receivables().await? {
            let id =
                holdback_domain::cod::CodAccounts::receivable(r.livemode, &r.carrier, r.currency)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            *owed.entry(id).or_default() += i128::from(r.owed);
        }
        breaches.extend(holdback_domain::cod::receivable_breaches(&owed, &lookup));
        Ok(breaches)
    }

    /// Pending refunds due at `now`, not leased by a worker, soonest first.
    pub async fn due_refunds(&self, now: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar(
                "SELECT id FROM refunds WHERE status = 'pending' AND next_attempt_at <= $1 \
                 AND lease_until <= $1 ORDER BY next_attempt_at, id LIMIT $2",
            )
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?)
        })
    }

    /// Payments still processing that were created before `before`, not leased.
    pub async fn stale_payments(
        &self,
        before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar(
                "SELECT id FROM payments WHERE status = 'processing' AND created_at <= $1 \
                 AND lease_until <= $2 ORDER BY created_at, id LIMIT $3",
            )
            .bind(before)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?)
        })
    }

    /// Takes the lease of a pending refund until `until`, if nobody holds it at `now`. Only the
    /// holder calls the provider; the lease outlasts the call's timeout.
    pub async fn lease_refund(&self, id: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        self.lease(LEASE_REFUND, id, now, until).await
    }

    /// Takes the lease of a processing payment, as [`Store::lease_refund`] does.
    pub async fn lease_payment(&self, id: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        self.lease(LEASE_PAYMENT, id, now, until).await
    }

    async fn lease(
        &self,
        sql: &'static str,
        id: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let done = sqlx::query(sql).bind(id).bind(now).bind(until).execute(pool).await?;
            Ok(done.rows_affected() == 1)
        })
    }
}
