//! Coupons: created by the platform (funded by it, perhaps for one seller's orders) or by a
//! seller (funded by itself, for its own orders); applied at checkout, each use counted on the
//! coupon in the unit that writes the payment; given back when the order is cancelled or the
//! payment fails, while the coupon is still valid. See `holdback_domain::coupon` for the rules.

use holdback_domain::coupon::{self, Coupon, CouponError, Discount, Funding};
use holdback_domain::process::{Effects, Versioned};
use holdback_domain::{Currency, ErrorCode};
use holdback_store::coupons::CouponUse;
use holdback_store::{Conflict, Unit, WriteError};
use serde_json::{Value, json};

use crate::orders::Idem;
use crate::{App, AppError, Principal, Role, views};

/// Most coupons one checkout names.
pub const MAX_PER_CHECKOUT: usize = 4;

/// A coupon as asked for.
#[derive(Debug, Clone)]
pub struct CouponInput {
    pub code: String,
    /// `None`: the platform funds it.
    pub seller_funded: bool,
    /// The seller it is for (the seller itself for a seller's coupon).
    pub seller: Option<String>,
    pub discount: Discount,
    pub currency: Currency,
    pub min_spend: i64,
    pub starts_at: Option<i64>,
    pub ends_at: i64,
    pub per_buyer: u32,
    pub total_limit: u32,
}

pub fn view(c: &Coupon) -> Value {
    let (funded_by, seller) = match &c.funding {
        Funding::Platform => ("platform", c.seller.as_deref()),
        Funding::Seller(s) => ("seller", Some(s.as_str())),
    };
    let (kind, amount_off, percent) = match c.discount {
        Discount::Fixed(a) => ("fixed", Some(a), None),
        Discount::Percent(p) => ("percent", None, Some(p)),
    };
    json!({
        "id": c.id,
        "object": "coupon",
        "code": c.code,
        "livemode": c.livemode,
        "funded_by": funded_by,
        "seller": seller,
        "type": kind,
        "amount_off": amount_off,
        "percent_off_bps": percent,
        "currency": views::currency(c.currency),
        "min_spend": c.min_spend,
        "starts": c.starts_at.div_euclid(1000),
        "ends": c.ends_at.div_euclid(1000),
        "per_buyer": c.per_buyer,
        "total_limit": c.total_limit,
        "used": c.used,
        "created": c.created_at.div_euclid(1000),
    })
}

/// Creates a coupon: the platform's (funded by the platform) or a seller's own (funded by it,
/// for its orders only).
pub async fn create(
    app: &App,
    principal: &Principal,
    input: CouponInput,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let (funding, seller) = match (&principal.role, input.seller_funded) {
        (Role::Platform, false) => (Funding::Platform, input.seller.clone()),
        (Role::Platform, true) => match &input.seller {
            Some(s) => (Funding::Seller(s.clone()), None),
            None => {
                return Err(AppError::param(
                    ErrorCode::CouponSellerMissing,
                    "seller",
                    "a seller-funded coupon created by the platform names its seller",
                ));
            }
        },
        (Role::Seller(me), true) if input.seller.as_ref().is_none_or(|s| s == me) => {
            (Funding::Seller(me.clone()), None)
        }
        _ => {
            return Err(AppError::rejected(
                ErrorCode::NotPermitted,
                "the platform creates coupons; a seller only its own, funded by itself",
            ));
        }
    };
    let code = input.code.to_ascii_uppercase();
    if app
        .store
        .coupon_by_code(principal.livemode, &code)
        .await?
        .is_some()
    {
        return Err(AppError::param(
            ErrorCode::CouponCodeTaken,
            "code",
            "another coupon has this code",
        ));
    }
    let now = app.clock.now_ms();
    let starts_at = input.starts_at.unwrap_or(now);
    if input.ends_at <= starts_at {
        return Err(AppError::param(
            ErrorCode::CouponDatesInvalid,
            "ends",
            "a coupon ends after it starts",
        ));
    }
    let c = Coupon {
        id: app.ids.next("cp"),
        code,
        livemode: principal.livemode,
        funding,
        discount: input.discount,
        currency: input.currency,
        min_spend: input.min_spend,
        starts_at,
        ends_at: input.ends_at,
        per_buyer: input.per_buyer,
        total_limit: input.total_limit,
        used: 0,
        seller,
        created_at: now,
    };
    let body = view(&c);
    let unit = Unit {
        coupons: vec![Versioned {
            value: c,
            expected_version: 0,
        }],
        idempotency: idem.map(|i| i.record(201, &body, now)),
        ..Unit::default()
    };
    match app.ledger.commit(unit).await {
        Ok(_) => Ok(body),
        // the same code written meanwhile (the unique index)
        Err(WriteError::Refused(_)) => Err(AppError::param(
            ErrorCode::CouponCodeTaken,
            "code",
            "another coupon has this code",
        )),
        Err(e) => Err(e.into()),
    }
}

/// One coupon: the platform sees its mode's, a seller those it funds or that are for it.
pub async fn get(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    let (c, _) = app.store.coupon(id).await?.ok_or(AppError::NotFound)?;
    let mine = c.livemode == principal.livemode
        && match &principal.role {
            Role::Platform => true,
            Role::Seller(me) => c.scope() == Some(me.as_str()),
            _ => false,
        };
    if mine {
        Ok(view(&c))
    } else {
        Err(AppError::NotFound)
    }
}

/// What a checkout's coupons do: per order (in the order of `prices`), the seller-funded and
/// the platform-funded discount; and the coupons to write with their uses (by order index).
#[derive(Debug, Default)]
pub struct Applied {
    pub seller_off: Vec<i64>,
    pub platform_off: Vec<i64>,
    pub coupons: Vec<Versioned<Coupon>>,
    /// (coupon id, order index, amount)
    pub uses: Vec<(String, usize, i64)>,
}

impl Applied {
    /// The uses, with the payment's and its orders' ids known.
    pub fn rows(&self, payment: &str, orders: &[String], buyer: &str, now: i64) -> Vec<CouponUse> {
        self.uses
            .iter()
            .map(|(coupon, i, amount)| CouponUse {
                coupon_id: coupon.clone(),
                payment_id: payment.to_string(),
                order_id: orders[*i].clone(),
                buyer: buyer.to_string(),
                amount: *amount,
                used_at: now,
            })
            .collect()
    }
}

fn refused(e: CouponError) -> AppError {
    AppError::param(e.code(), "coupons", e.to_string())
}

/// Applies `codes` to a cart of orders (`prices`: each seller's subtotal, in cart order),
/// checking every rule; nothing is written.
pub async fn apply(
    app: &App,
    livemode: bool,
    buyer: &str,
    currency: Currency,
    codes: &[String],
    prices: &[(String, i64)],
) -> Result<Applied, AppError> {
    let n = prices.len();
    let mut out = Applied {
        seller_off: vec![0; n],
        platform_off: vec![0; n],
        ..Applied::default()
    };
    if codes.len() > MAX_PER_CHECKOUT {
        return Err(AppError::param(
            ErrorCode::CouponsDoNotStack,
            "coupons",
            format!("at most {MAX_PER_CHECKOUT} coupons in one checkout"),
        ));
    }
    let now = app.clock.now_ms();
    // per order: (platform coupons, seller coupons) applied
    let mut stacked = vec![(0u32, 0u32); n];
    for code in codes {
        let code = code.to_ascii_uppercase();
        let (c, version) = app
            .store
            .coupon_by_code(livemode, &code)
            .await?
            .ok_or_else(|| {
                AppError::param(
                    ErrorCode::CouponNotFound,
                    "coupons",
                    format!("no coupon {code}"),
                )
            })?;
        if out.coupons.iter().any(|v| v.value.id == c.id) {
            return Err(AppError::param(
                ErrorCode::CouponsDoNotStack,
                "coupons",
                format!("{code} is named twice"),
            ));
        }
        let orders: Vec<usize> = match c.scope() {
            Some(seller) => prices
                .iter()
                .position(|(s, _)| s == seller)
                .map(|i| vec![i])
                .ok_or_else(|| refused(CouponError::OtherSeller))?,
            None => (0..n).collect(),
        };
        let spend: i64 = orders.iter().map(|i| prices[*i].1).sum();
        let uses = app.store.coupon_buyer_uses(&c.id, buyer).await?;
        c.check(uses, spend, currency, now).map_err(refused)?;
        let shares = match orders.as_slice() {
            [i] => vec![c.amount_off(prices[*i].1)],
            _ => {
                let each: Vec<i64> = orders.iter().map(|i| prices[*i].1).collect();
                // the cart's discount, shared; no order made free
                coupon::allocate(c.amount_off(spend), &each)
            }
        };
        for (i, share) in orders.iter().zip(shares) {
            // never more off an order than leaves one minor unit to pay
            let room = prices[*i].1 - 1 - out.seller_off[*i] - out.platform_off[*i];
            let (platform, seller) = &mut stacked[*i];
            let (count, limit, off) = if c.platform_funded() {
                (
                    platform,
                    app.policy.coupons.platform_per_order,
                    &mut out.platform_off[*i],
                )
            } else {
                (
                    seller,
                    app.policy.coupons.seller_per_order,
                    &mut out.seller_off[*i],
                )
            };
            *count += 1;
            if *count > limit {
                return Err(AppError::param(
                    ErrorCode::CouponsDoNotStack,
                    "coupons",
                    format!(
                        "at most {} platform and {} seller coupon(s) on one order",
                        app.policy.coupons.platform_per_order, app.policy.coupons.seller_per_order
                    ),
                ));
            }
            let share = share.min(room.max(0));
            *off += share;
            if share > 0 {
                out.uses.push((c.id.clone(), *i, share));
            }
        }
        out.coupons.push(Versioned {
            value: c.used_once(),
            expected_version: version,
        });
    }
    Ok(out)
}

/// How coupons stack.
#[derive(Debug, Clone, Copy)]
pub struct CouponPolicy {
    /// Platform coupons on one order (1).
    pub platform_per_order: u32,
    /// Seller coupons on one order (1).
    pub seller_per_order: u32,
}

impl Default for CouponPolicy {
    fn default() -> Self {
        CouponPolicy {
            platform_per_order: 1,
            seller_per_order: 1,
        }
    }
}

/// Gives back the coupon uses of the orders this unit cancels and the payments it fails, while
/// each coupon is still valid (added to the unit's effects). A coupon that applied to several
/// orders of one payment is given back once, with the last of them.
pub async fn give_back(app: &App, effects: &mut Effects, now: i64) -> Result<(), AppError> {
    use holdback_domain::order::OrderState;
    use holdback_domain::payment::PaymentState;
    let ending: Vec<String> = effects
        .orders
        .iter()
        .filter(|o| {
            matches!(
                o.value.state,
                OrderState::Cancelled { .. } | OrderState::Expired { .. }
            )
        })
        .map(|o| o.value.id.clone())
        .collect();
    let failed: Vec<String> = effects
        .payments
        .iter()
        .filter(|p| matches!(p.value.state, PaymentState::Failed { .. }))
        .map(|p| p.value.id.clone())
        .collect();
    let mut found: Vec<CouponUse> = Vec::new();
    for order in &ending {
        found.extend(app.store.coupon_uses(order, "").await?);
    }
    for payment in &failed {
        found.extend(app.store.coupon_uses("", payment).await?);
    }
    // each (coupon, payment) once
    let mut groups: Vec<(String, String)> = found
        .iter()
        .map(|u| (u.coupon_id.clone(), u.payment_id.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    for (coupon, payment) in groups {
        let open: Vec<CouponUse> = app
            .store
            .coupon_uses("", &payment)
            .await?
            .into_iter()
            .filter(|u| u.coupon_id == coupon)
            .filter(|u| {
                !effects
                    .coupon_uses_given_back
                    .iter()
                    .any(|(c, o)| *c == u.coupon_id && *o == u.order_id)
            })
            .collect();
        let ends = |u: &CouponUse| failed.contains(&u.payment_id) || ending.contains(&u.order_id);
        let last = open.iter().all(ends);
        for u in open.iter().filter(|u| ends(u)) {
            effects
                .coupon_uses_given_back
                .push((u.coupon_id.clone(), u.order_id.clone()));
        }
        if !last || open.is_empty() {
            continue;
        }
        let in_unit = effects.coupons.iter().position(|c| c.value.id == coupon);
        let (current, version) = match in_unit {
            Some(i) => (effects.coupons[i].value.clone(), None),
            None => {
                let (c, v) = app
                    .store
                    .coupon(&coupon)
                    .await?
                    .ok_or_else(|| AppError::Internal(format!("no coupon {coupon}")))?;
                (c, Some(v))
            }
        };
        // an expired coupon keeps the use
        let Some(back) = current.given_back(now) else {
            continue;
        };
        match (in_unit, version) {
            (Some(i), _) => effects.coupons[i].value = back,
            (None, v) => effects.coupons.push(Versioned {
                value: back,
                expected_version: v.unwrap_or(0),
            }),
        }
    }
    Ok(())
}

/// Whether a write failed because a coupon (or another aggregate) moved meanwhile.
pub fn raced(e: &AppError) -> bool {
    matches!(e, AppError::Conflict(Conflict::VersionMoved))
}
