//! Checkout: a cart of items from one or more sellers, paid by one payment, becomes one order
//! per seller. Every check that can refuse the cart runs first; then the payment is written
//! `processing`, the card is charged under the payment's id (which the provider deduplicates
//! by), and the capture opens the orders, their escrow postings, timers and events as one unit.
//!
//! **Split tender.** Part of the total (or all of it) may come from the buyer's balance, and a
//! gift card may be redeemed into that balance on the spot; the rest is paid one other way (a
//! card, a bank transfer or a wallet; never two). The balance part is taken in the same unit
//! that writes the payment (so a balance too small refuses the checkout, nothing written), and
//! given back if the provider's part fails, expires or is cancelled.

use std::collections::BTreeMap;

use holdback_domain::ErrorCode;
use holdback_domain::card::CardInput;
use holdback_domain::ledger::TransactionRequest;
use holdback_domain::order::{self, CommissionRule, DAY, OrderPlan};
use holdback_domain::payment::{self, Method, Payment, PaymentCommand, PaymentState};
use holdback_domain::process::{Effects, Versioned};
use holdback_domain::{AccountId, Currency, MAX_AMOUNT, Money, TxId};
use holdback_store::{Conflict, IdempotencyRecord, Unit, WriteError};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cards::ProviderError;
use crate::orders::Idem;
use crate::{App, AppError, Principal, Role, catalog, parties, payments, process, views};

/// Most items in one cart.
pub const MAX_ITEMS: usize = 100;

/// One line of a cart: a catalog product, or (from the platform only) a priced line.
#[derive(Debug, Clone)]
pub enum Item {
    Product {
        product: String,
        quantity: u32,
    },
    Priced {
        seller: String,
        description: String,
        /// Price of one, in minor units of the checkout's currency.
        unit_amount: i64,
        quantity: u32,
    },
}

/// A line with its seller and price known.
#[derive(Debug, Clone)]
struct Line {
    seller: String,
    unit_amount: i64,
    quantity: u32,
    category: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub buyer: String,
    pub currency: Currency,
    pub items: Vec<Item>,
    pub pay_with: PayWith,
    /// Shipping method per seller (`economy`, `standard`, `express`, …); `standard` if absent.
    pub shipping: BTreeMap<String, String>,
    /// What to pay from the buyer's balance, in minor units (with a gift card and without
    /// this: as much of the total as the card is worth).
    pub balance: Option<i64>,
    /// A gift card code redeemed into the buyer's balance on the spot.
    pub gift_card: Option<String>,
    /// Coupon codes.
    pub coupons: Vec<String>,
}

/// How the buyer pays.
#[derive(Debug, Clone)]
pub enum PayWith {
    /// A card, charged at checkout.
    Card(CardInput),
    /// A bank transfer the buyer makes after checkout; the orders wait for it.
    BankTransfer,
    /// A wallet: the buyer approves there and is sent back to `return_url`; the orders wait.
    Wallet { method: Method, return_url: String },
    /// Nothing beyond the buyer's balance (and a gift card redeemed into it).
    StoredValue,
    /// Cash at the door: offered only where every rule passes (see `cod`); the buyer confirms
    /// the order before it ships.
    CashOnDelivery,
}

/// Turns cart items into priced lines: products from the catalog; priced lines only from the
/// platform (a buyer pays catalog prices).
async fn lines(
    app: &App,
    principal: &Principal,
    req: &CheckoutRequest,
) -> Result<Vec<Line>, AppError> {
    let mut out = Vec::with_capacity(req.items.len());
    for item in &req.items {
        out.push(match item {
            Item::Product { product, quantity } => {
                let p = catalog::priced(app, principal, product, req.currency).await?;
                Line {
                    seller: p.seller,
                    unit_amount: p.price.minor(),
                    quantity: *quantity,
                    category: p.category,
                }
            }
            Item::Priced { .. } if principal.role != Role::Platform => {
                return Err(AppError::param(
                    ErrorCode::NotPermitted,
                    "items",
                    "a buyer checks out catalog products: give product ids",
                ));
            }
            Item::Priced {
                seller,
                unit_amount,
                quantity,
                ..
            } => Line {
                seller: seller.clone(),
                unit_amount: *unit_amount,
                quantity: *quantity,
                category: None,
            },
        });
    }
    Ok(out)
}

/// Each seller's subtotal, in the order sellers first appear in the cart.
fn subtotals(req: &CheckoutRequest, lines: &[Line]) -> Result<Vec<(String, Money)>, AppError> {
    if lines.is_empty() {
        return Err(AppError::param(
            ErrorCode::EmptyCart,
            "items",
            "a checkout needs at least one item",
        ));
    }
    if lines.len() > MAX_ITEMS {
        return Err(AppError::param(
            ErrorCode::TooManyItems,
            "items",
            format!("at most {MAX_ITEMS} items"),
        ));
    }
    let mut order: Vec<String> = Vec::new();
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for item in lines {
        if item.quantity == 0 || item.unit_amount <= 0 {
            return Err(AppError::param(
                ErrorCode::InvalidItem,
                "items",
                "every item needs a positive unit_amount and quantity",
            ));
        }
        let line = item
            .unit_amount
            .checked_mul(i64::from(item.quantity))
            .filter(|v| *v <= MAX_AMOUNT)
            .ok_or(holdback_domain::MoneyError::Overflow)?;
        let sum = sums.entry(item.seller.clone()).or_insert_with(|| {
            order.push(item.seller.clone());
            0
        });
        *sum = sum
            .checked_add(line)
            .filter(|v| *v <= MAX_AMOUNT)
            .ok_or(holdback_domain::MoneyError::Overflow)?;
    }
    order
        .into_iter()
        .map(|seller| {
            let amount = Money::from_minor(sums[&seller], req.currency)?;
            Ok((seller, amount))
        })
        .collect()
}

/// The most sellers in one cart: each order's capture is one transfer of the payment's one
/// ledger transaction, which holds at most this many.
pub const MAX_SELLERS: usize = holdback_domain::ledger::MAX_TRANSFERS;
/// The longest buyer or seller id: ids become part of ledger account ids (at most 64 characters,
/// `test:seller_payable:` and `:USD` included).
pub const MAX_PARTY_ID: usize = holdback_domain::party::MAX_PARTY_ID_LEN;

fn party_id(id: &str, param: &'static str) -> Result<(), AppError> {
    AccountId::parse(id)
        .map_err(|e| AppError::param(ErrorCode::InvalidId, param, e.to_string()))?;
    if id.len() > MAX_PARTY_ID || id.contains(':') {
        return Err(AppError::param(
            ErrorCode::InvalidId,
            param,
            format!("a buyer or seller id is 1 to {MAX_PARTY_ID} characters, without ':'"),
        ));
    }
    Ok(())
}

/// Everything checkout decides before money moves: every check that can refuse the order has
/// run when this exists.
pub(crate) struct Plan {
    /// What the buyer pays: the orders' prices less what the platform pays of them.
    pub(crate) total: Money,
    pub(crate) plans: Vec<OrderPlan>,
    /// The coupons used, and their uses by order.
    coupons: crate::coupons::Applied,
    /// The categories of the products in the cart, each once.
    pub(crate) categories: Vec<String>,
}

impl Plan {
    /// Adds the coupons' uses (counted on each coupon, with its version) to the unit that
    /// writes payment `payment`.
    pub(crate) fn use_coupons(&self, unit: &mut Unit, payment: &str, buyer: &str, now: i64) {
        let orders: Vec<String> = self.plans.iter().map(|p| p.id.clone()).collect();
        unit.coupons.extend(self.coupons.coupons.iter().cloned());
        unit.coupon_uses
            .extend(self.coupons.rows(payment, &orders, buyer, now));
    }
}

async fn plan(app: &App, principal: &Principal, req: &CheckoutRequest) -> Result<Plan, AppError> {
    match &principal.role {
        Role::Platform => {}
        Role::Buyer(b) if *b == req.buyer => {}
        _ => {
            return Err(AppError::rejected(
                ErrorCode::NotPermitted,
                "only the platform, or the buyer itself, may check out for a buyer",
            ));
        }
    }
    party_id(&req.buyer, "buyer")?;
    if req.items.len() > MAX_ITEMS {
        return Err(AppError::param(
            ErrorCode::TooManyItems,
            "items",
            format!("at most {MAX_ITEMS} items"),
        ));
    }
    let lines = lines(app, principal, req).await?;
    for line in &lines {
        party_id(&line.seller, "items")?;
    }
    let parts = subtotals(req, &lines)?;
    if parts.len() > MAX_SELLERS {
        return Err(AppError::param(
            ErrorCode::TooManySellers,
            "items",
            format!("a cart holds items of at most {MAX_SELLERS} sellers"),
        ));
    }
    // The buyer and the sellers, which must exist, with the sellers' own terms: one read.
    let sellers: Vec<&str> = parts.iter().map(|(s, _)| s.as_str()).collect();
    let (buyer, mut terms) =
        parties::cart_parties(app, principal.livemode, &req.buyer, &sellers).await?;
    // the coupons: what each order takes off (funded by its seller) or has paid for it (by the
    // platform)
    let prices: Vec<(String, i64)> = parts.iter().map(|(s, a)| (s.clone(), a.minor())).collect();
    let applied = if req.coupons.is_empty() {
        crate::coupons::Applied::default()
    } else {
        crate::coupons::apply(
            app,
            principal.livemode,
            &req.buyer,
            req.currency,
            &req.coupons,
            &prices,
        )
        .await?
    };
    let mut total = Money::zero(req.currency);
    let mut plans = Vec::with_capacity(parts.len());
    for (i, (seller, subtotal)) in parts.into_iter().enumerate() {
        let seller_off = applied.seller_off.get(i).copied().unwrap_or(0);
        let promotion = applied.platform_off.get(i).copied().unwrap_or(0);
        let amount = Money::from_minor(subtotal.minor() - seller_off, req.currency)?;
        total = total.checked_add(Money::from_minor(amount.minor() - promotion, req.currency)?)?;
        if let Some(max) = app.policy.checkout_max.get(&req.currency)
            && total.minor() > *max
        {
            return Err(AppError::param(
                ErrorCode::AmountTooLarge,
                "items",
                format!(
                    "one checkout charges at most {}",
                    Money::from_minor(*max, req.currency)?
                ),
            ));
        }
        let method = req.shipping.get(&seller).map_or("standard", String::as_str);
        let guarantee = app.policy.shipping.get(method).copied().ok_or_else(|| {
            AppError::param(
                ErrorCode::UnknownShippingMethod,
                "shipping_methods",
                format!("no shipping method {method:?}"),
            )
        })?;
        // The buyer's country may promise a window of its own.
        let guarantee = app
            .policy
            .delivery_guarantees
            .window(guarantee, Some(&buyer.country));
        // The seller's own terms (its party object) before the policy file's.
        let terms = terms
            .remove(&seller)
            .ok_or_else(|| AppError::Internal(format!("no terms read for seller {seller}")))?;
        let commission = match terms.commission {
            Some((basis_points, fixed)) => CommissionRule {
                basis_points,
                fixed: fixed.into_iter().collect(),
            }
            .for_currency(req.currency),
            None => app.policy.commission(&seller, req.currency),
        };
        let ship_by_ms = terms
            .ship_by_days
            .map_or(app.policy.ship_by_ms(&seller), |d| i64::from(d) * DAY);
        plans.push(OrderPlan {
            id: app.ids.next("ord"),
            commission,
            ship_by_ms,
            shipping_method: method.to_string(),
            delivery_guarantee: guarantee,
            seller,
            amount,
            promotion,
            cash_on_delivery: false,
        });
    }
    if let Some(s) = req
        .shipping
        .keys()
        .find(|s| !plans.iter().any(|p| p.seller == **s))
    {
        return Err(AppError::param(
            ErrorCode::UnknownShippingMethod,
            "shipping_methods",
            format!("{s:?} sells nothing in this cart"),
        ));
    }
    // What capture will decide, tried now: an order that could not open must be refused before
    // the card is charged.
    for plan in &plans {
        order::paid(plan, &req.buyer, "pay_check", principal.livemode, 0)?;
    }
    let mut categories: Vec<String> = lines.iter().filter_map(|l| l.category.clone()).collect();
    categories.sort();
    categories.dedup();
    Ok(Plan {
        total,
        plans,
        coupons: applied,
        categories,
    })
}

/// What recognises a retried checkout: the Idempotency-Key, or without one the request's
/// content (the card only by its last four digits) within the duplicate window.
fn dedupe_keys(app: &App, req: &CheckoutRequest, idem: Option<&Idem>, now: i64) -> Vec<String> {
    if let Some(i) = idem {
        return vec![format!("key:{}", i.key)];
    }
    let mut h = Sha256::new();
    h.update(format!("{}\0{}\0", req.buyer, req.currency.code()));
    for item in &req.items {
        h.update(format!("{item:?}\0"));
    }
    match &req.pay_with {
        PayWith::Card(card) => h.update(format!(
            "{:?}\0{}\0{}/{}\0",
            req.shipping,
            card.number.last4(),
            card.exp_month,
            card.exp_year
        )),
        PayWith::BankTransfer => h.update(format!("{:?}\0bank_transfer\0", req.shipping)),
        PayWith::Wallet { method, return_url } => h.update(format!(
            "{:?}\0{}\0{return_url}\0",
            req.shipping,
            method.code()
        )),
        PayWith::StoredValue => h.update(format!("{:?}\0stored_value\0", req.shipping)),
        PayWith::CashOnDelivery => h.update(format!("{:?}\0cash_on_delivery\0", req.shipping)),
    }
    // the gift card by its last symbols only: a code is never kept, even hashed with the rest
    let hint = req
        .gift_card
        .as_deref()
        .map(|c| c.chars().rev().take(4).collect::<String>());
    h.update(format!("{:?}\0{hint:?}\0{:?}\0", req.balance, req.coupons));
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let window = app.policy.duplicate_window_ms.max(1);
    let bucket = now.div_euclid(window);
    // The current window first (where a new one is written), then the one before.
    vec![
        format!("fp:{digest}:{bucket}"),
        format!("fp:{digest}:{}", bucket - 1),
    ]
}

fn namespace(principal: &Principal) -> String {
    format!("checkout:{}", principal.key_id)
}

/// Charges the card once and writes the payment and its orders. Returns the payment object
/// (with its orders), which is also the response a retry with the same idempotency key replays.
///
/// The payment is written `processing` (with its orders planned) before the provider is
/// called, under a reference the provider deduplicates by (the payment's id). A retry of the
/// same checkout, with the same Idempotency-Key or (without one) the same content within the
/// duplicate window, finds that payment and continues it instead of charging again.
pub async fn checkout(
    app: &App,
    principal: &Principal,
    req: &CheckoutRequest,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    // a coupon used meanwhile by another checkout: plan again (it may be exhausted now)
    for attempt in 0..COUPON_ATTEMPTS {
        process::before_attempt(attempt.min(8)).await;
        match checkout_once(app, principal, req, idem).await {
            Err(e) if crate::coupons::raced(&e) => continue,
            other => return other,
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(
        holdback_domain::process::Kind::Coupon,
    )))
}

/// How often a checkout plans again when a coupon it uses moved meanwhile.
const COUPON_ATTEMPTS: u32 = 64;

async fn checkout_once(
    app: &App,
    principal: &Principal,
    req: &CheckoutRequest,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    match &req.pay_with {
        PayWith::Card(_) => {
            app.cards.for_mode(principal.livemode)?;
        }
        PayWith::BankTransfer => {
            crate::bank::live_available(app, principal.livemode, Method::BankTransfer)?;
        }
        PayWith::Wallet { method, return_url } => {
            crate::bank::live_available(app, principal.livemode, *method)?;
            crate::wallets::check(*method, req.currency, return_url)?;
        }
        PayWith::StoredValue => {}
        PayWith::CashOnDelivery => {
            let plan = plan(app, principal, req).await?;
            return crate::cod::checkout(app, principal, req, &plan, idem).await;
        }
    }
    let plan = plan(app, principal, req).await?;
    let stored = stored_value(app, principal, req, plan.total).await?;
    let card = match &req.pay_with {
        PayWith::Card(card) => card,
        PayWith::BankTransfer | PayWith::Wallet { .. } => {
            let (method, url) = match &req.pay_with {
                PayWith::Wallet { method, return_url } => (*method, Some(return_url.clone())),
                _ => (Method::BankTransfer, None),
            };
            return crate::bank::checkout(app, principal, req, &plan, stored, method, url, idem)
                .await;
        }
        PayWith::StoredValue => return stored_only(app, principal, req, plan, idem).await,
        PayWith::CashOnDelivery => {
            return Err(AppError::Internal(
                "cash on delivery is checked out above".into(),
            ));
        }
    };
    let connector = app.cards.for_mode(principal.livemode)?.clone();
    let now = app.clock.now_ms();
    let keys = dedupe_keys(app, req, idem, now);
    let ns = namespace(principal);
    // A retry is usually found by writing: the current key is taken. Only a request without a
    // key looks first for the window before this one.
    let mut payment = None;
    for key in keys.iter().skip(1) {
        payment = existing(app, &ns, key).await?;
    }
    if payment.is_none() {
        let id = app.ids.next("pay");
        let p = Payment::processing(
            &id,
            &req.buyer,
            principal.livemode,
            plan.total,
            plan.plans.clone(),
            now,
        )?
        .with_stored_value(stored)?;
        let mut unit = Unit {
            payments: vec![Versioned {
                value: p.clone(),
                expected_version: 0,
            }],
            idempotency: Some(IdempotencyRecord {
                principal: ns.clone(),
                key: keys[0].clone(),
                request_hash: String::new(),
                status: 202,
                body: id.clone(),
                created_at: now,
                claim: None,
            }),
            ..Unit::default()
        };
        reserve(app, &p, &mut unit)?;
        plan.use_coupons(&mut unit, &id, &req.buyer, now);
        payment = match app.ledger.commit(unit).await {
            Ok(_) => Some((p, 1)),
            Err(WriteError::Conflict(Conflict::KeyUsed)) => existing(app, &ns, &keys[0]).await?,
            Err(e) => return Err(e.into()),
        };
    }
    let Some((payment, version)) = payment else {
        return Err(AppError::Conflict(Conflict::CheckoutRetried));
    };
    let provider_part = plan.total.minor() - stored;
    if payment.buyer != req.buyer
        || payment.amount != plan.total
        || payment.provider_amount() != provider_part
    {
        return Err(AppError::rejected(
            ErrorCode::IdempotencyKeyReused,
            "this key was used with a different checkout",
        ));
    }
    let reference = payment.tenders[0].reference.clone();
    match payment.state {
        // (waiting for money or expired: not a card payment, nothing to charge)
        PaymentState::Captured { .. }
        | PaymentState::RequiresAction { .. }
        | PaymentState::Expired { .. }
        | PaymentState::Cancelled { .. } => return payments::view(app, &payment).await,
        PaymentState::Failed { code, .. } => return Err(payments::failure(code)),
        PaymentState::Processing { .. } => {}
    }
    let charged = Money::from_minor(provider_part, req.currency)?;
    let timeout = std::time::Duration::from_millis(app.policy.provider_timeout_ms);
    let outcome = tokio::time::timeout(timeout, connector.charge(card, charged, &reference))
        .await
        .unwrap_or_else(|_| {
            Err(ProviderError::Unknown(
                "the provider did not answer in time".into(),
            ))
        });
    let id = payment.id.clone();
    payments::record_charge(app, &id, Some((payment, version)), outcome, idem).await
}

/// Adds to `unit` the ledger movement that takes the payment's stored value from the balance.
fn reserve(app: &App, p: &Payment, unit: &mut Unit) -> Result<(), AppError> {
    let (accounts, transfers) = p.reserve_stored_value()?;
    if !transfers.is_empty() {
        unit.accounts.extend(accounts);
        unit.ledger = Some(TransactionRequest {
            id: TxId::parse(&app.ids.next("txn"))?,
            transfers,
        });
    }
    Ok(())
}

/// How much of `total` the buyer's balance pays: `balance` as asked, or with a gift card as
/// much as the card is worth; the card is redeemed into the balance once every check passed.
/// Whether another method must pay the rest is checked here too, before anything moves.
async fn stored_value(
    app: &App,
    principal: &Principal,
    req: &CheckoutRequest,
    total: Money,
) -> Result<i64, AppError> {
    let card = match &req.gift_card {
        Some(code) => Some((
            code,
            crate::gift_cards::for_checkout(app, principal, code, &req.buyer, req.currency).await?,
        )),
        None => None,
    };
    let stored = match (req.balance, &card) {
        (Some(b), _) => b,
        (None, Some((_, (value, _)))) => value.minor().min(total.minor()),
        (None, None) => 0,
    };
    if stored <= 0 && (req.balance.is_some() || card.is_some()) {
        return Err(AppError::param(
            ErrorCode::ZeroAmount,
            "balance",
            "the balance part of a payment is more than zero",
        ));
    }
    if stored > total.minor() {
        return Err(AppError::param(
            ErrorCode::StoredValueExceedsTotal,
            "balance",
            format!("the balance pays at most the total, {total}"),
        ));
    }
    match &req.pay_with {
        PayWith::StoredValue if stored < total.minor() => {
            return Err(AppError::param(
                ErrorCode::PaymentMethodMissing,
                "card",
                format!(
                    "the balance pays {} of {total}: pay the rest with a card, a bank_transfer \
                     or a wallet",
                    Money::from_minor(stored, total.currency())?
                ),
            ));
        }
        PayWith::Card(_) | PayWith::BankTransfer | PayWith::Wallet { .. }
            if stored == total.minor() =>
        {
            return Err(AppError::param(
                ErrorCode::TooManyPaymentMethods,
                "balance",
                "the balance pays the whole total: leave out the card, bank_transfer or wallet",
            ));
        }
        _ => {}
    }
    if let Some((code, (_, to_redeem))) = card
        && to_redeem
    {
        crate::gift_cards::redeem_for_checkout(app, principal, code, &req.buyer).await?;
    }
    Ok(stored)
}

/// A checkout paid wholly from the buyer's balance: the payment is written captured, its
/// orders open, all in one unit with the balance's movement.
async fn stored_only(
    app: &App,
    principal: &Principal,
    req: &CheckoutRequest,
    plan: Plan,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let now = app.clock.now_ms();
    let keys = dedupe_keys(app, req, idem, now);
    let ns = namespace(principal);
    for key in &keys {
        if let Some((p, _)) = existing(app, &ns, key).await? {
            return payments::view(app, &p).await;
        }
    }
    let id = app.ids.next("pay");
    let p = Payment::processing(
        &id,
        &req.buyer,
        principal.livemode,
        plan.total,
        plan.plans.clone(),
        now,
    )?
    .with_stored_value(plan.total.minor())?;
    let (accounts, transfers) = p.reserve_stored_value()?;
    let mut d = payment::decide(&p, &PaymentCommand::CaptureStoredValue, now)?;
    d.accounts.splice(0..0, accounts);
    d.transfers.splice(0..0, transfers);
    let mut effects = Effects::default();
    let reactions = effects.payment(d, 0);
    process::settle(app, &mut effects, reactions, now).await?;
    let mut unit = process::unit_of(app, &effects, None, now)?;
    unit.idempotency = Some(IdempotencyRecord {
        principal: ns.clone(),
        key: keys[0].clone(),
        request_hash: String::new(),
        status: 201,
        body: id.clone(),
        created_at: now,
        claim: None,
    });
    plan.use_coupons(&mut unit, &id, &req.buyer, now);
    let after = effects
        .payments
        .first()
        .map_or(p.clone(), |v| v.value.clone());
    let orders: Vec<_> = effects.orders.iter().map(|o| o.value.clone()).collect();
    let body = views::payment(&after, &orders, &[]);
    match app.ledger.commit(unit).await {
        Ok(_) => Ok(body),
        Err(WriteError::Conflict(Conflict::KeyUsed)) => match existing(app, &ns, &keys[0]).await? {
            Some((p, _)) => payments::view(app, &p).await,
            None => Err(AppError::Conflict(Conflict::CheckoutRetried)),
        },
        Err(e) => Err(e.into()),
    }
}

/// The payment a dedupe key of this caller names, if any.
async fn existing(app: &App, ns: &str, key: &str) -> Result<Option<(Payment, i64)>, AppError> {
    match app.store.idempotency(ns, key).await? {
        Some(record) => Ok(app.store.payment(&record.body).await?),
        None => Ok(None),
    }
}
