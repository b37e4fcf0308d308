//! Checkout: a cart of items from one or more sellers, paid by one card payment, becomes one
//! order per seller. The card is charged first (with a reference the provider deduplicates, so a
//! retried checkout never charges twice); then the payment, the orders, their escrow postings,
//! timers and events are written as one unit.

use std::collections::BTreeMap;

use holdback_domain::card::CardInput;
use holdback_domain::ledger::TransactionRequest;
use holdback_domain::order;
use holdback_domain::{AccountId, Currency, MAX_AMOUNT, Money, TxId};
use holdback_store::{NewEvent, PaymentRow, Unit};
use serde_json::Value;

use crate::orders::{self, Idem};
use crate::{App, AppError, Principal, Role, catalog, views};

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
}

#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub buyer: String,
    pub currency: Currency,
    pub items: Vec<Item>,
    pub card: CardInput,
    /// Shipping method per seller (`economy`, `standard`, `express`, …); `standard` if absent.
    pub shipping: BTreeMap<String, String>,
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
                }
            }
            Item::Priced { .. } if principal.role != Role::Platform => {
                return Err(AppError::param(
                    "not_permitted",
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
            },
        });
    }
    Ok(out)
}

/// Each seller's subtotal, in the order sellers first appear in the cart.
fn subtotals(req: &CheckoutRequest, lines: &[Line]) -> Result<Vec<(String, Money)>, AppError> {
    if lines.is_empty() {
        return Err(AppError::param(
            "empty_cart",
            "items",
            "a checkout needs at least one item",
        ));
    }
    if lines.len() > MAX_ITEMS {
        return Err(AppError::param(
            "too_many_items",
            "items",
            format!("at most {MAX_ITEMS} items"),
        ));
    }
    let mut order: Vec<String> = Vec::new();
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for item in lines {
        AccountId::parse(&item.seller)?;
        if item.quantity == 0 || item.unit_amount <= 0 {
            return Err(AppError::param(
                "invalid_item",
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

/// Charges the card and writes the payment and its orders. Returns the payment object (with its
/// orders), which is also the response a retry with the same idempotency key replays.
pub async fn checkout(
    app: &App,
    principal: &Principal,
    req: &CheckoutRequest,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    match &principal.role {
        Role::Platform => {}
        Role::Buyer(b) if *b == req.buyer => {}
        _ => {
            return Err(AppError::rejected(
                "not_permitted",
                "only the platform, or the buyer itself, may check out for a buyer",
            ));
        }
    }
    AccountId::parse(&req.buyer)?;
    if req.items.len() > MAX_ITEMS {
        return Err(AppError::param(
            "too_many_items",
            "items",
            format!("at most {MAX_ITEMS} items"),
        ));
    }
    let lines = lines(app, principal, req).await?;
    let parts = subtotals(req, &lines)?;
    let mut methods = BTreeMap::new();
    for (seller, _) in &parts {
        let method = req.shipping.get(seller).map_or("standard", String::as_str);
        let guarantee = app.policy.shipping.get(method).copied().ok_or_else(|| {
            AppError::param(
                "unknown_shipping_method",
                "shipping_methods",
                format!("no shipping method {method:?}"),
            )
        })?;
        methods.insert(seller.clone(), (method.to_string(), guarantee));
    }
    let mut total = Money::zero(req.currency);
    for (_, amount) in &parts {
        total = total.checked_add(*amount)?;
    }

    let payment_id = app.ids.next("pay");
    let reference = idem.map_or(payment_id.clone(), |i| format!("{}:{}", i.principal, i.key));
    let charge = app.cards.charge(&req.card, total, &reference).await?;

    let now = app.clock.now_ms();
    let mut unit = Unit::default();
    let mut orders_made = Vec::new();
    let mut transfers = Vec::new();
    for (seller, amount) in parts {
        let policy = app.policy.for_seller(&seller);
        let order_id = app.ids.next("ord");
        let mut d = order::paid(
            &order_id,
            &req.buyer,
            &seller,
            &payment_id,
            amount,
            now,
            &policy,
        )?;
        d.order.livemode = principal.livemode;
        if let Some((method, guarantee)) = methods.get(&seller) {
            d.order.shipping_method = method.clone();
            d.order.delivery_guarantee = *guarantee;
        }
        let mut one = orders::unit_of(app, &d, 0, now)?;
        unit.accounts.append(&mut one.accounts);
        unit.orders.append(&mut one.orders);
        unit.set_timers.append(&mut one.set_timers);
        unit.events.append(&mut one.events);
        transfers.extend(d.transfers.iter().cloned());
        orders_made.push(d.order);
    }
    unit.ledger = Some(TransactionRequest {
        id: TxId::parse(&payment_id)?,
        transfers,
    });
    let payment = PaymentRow {
        id: payment_id.clone(),
        buyer: req.buyer.clone(),
        amount: total,
        method: "card".into(),
        card: Some(charge.card),
        livemode: principal.livemode,
        created_at: now,
    };
    let body = views::payment(&payment, &orders_made);
    let event_id = app.ids.next("evt");
    unit.events.insert(
        0,
        NewEvent {
            id: event_id.clone(),
            kind: "payment.succeeded".into(),
            object_id: payment_id,
            payload: views::new_event(
                &event_id,
                "payment.succeeded",
                now,
                principal.livemode,
                body.clone(),
            )
            .to_string(),
            created_at: now,
            livemode: principal.livemode,
        },
    );
    unit.payments.push(payment);
    unit.idempotency = idem.map(|i| i.record(201, &body, now));
    app.ledger.commit(unit).await?;
    Ok(body)
}
