//! Payments after checkout: recording the provider's answer to a charge, settling payments
//! left `processing` (a crash or a lost answer between the charge and its record) by asking the
//! provider, and reading them.

use std::time::Duration;

use holdback_domain::payment::{self, Payment, PaymentCommand, PaymentState};
use holdback_domain::process::{Effects, Kind};
use holdback_domain::{ErrorCode, ErrorKind};
use holdback_store::{Conflict, Cursor};
use serde_json::Value;

use crate::cards::{Charge, ProviderError};
use crate::orders::{self, Idem};
use crate::{App, AppError, Principal, Role, process, views};

/// The rejection of a failed payment, by its stored code: a card error as itself, anything
/// else as `payment_failed`.
pub fn failure(code: ErrorCode) -> AppError {
    let code = match code.kind() {
        ErrorKind::Card => code,
        _ => ErrorCode::PaymentFailed,
    };
    AppError::param(code, "card", format!("the payment failed: {code}"))
}

/// The rejection of a charge whose outcome is not known yet.
fn processing(id: &str) -> AppError {
    AppError::rejected(
        ErrorCode::PaymentProcessing,
        format!(
            "the provider's answer for payment {id} is not known yet; retry the same request \
             (it will not charge twice) or read the payment later"
        ),
    )
}

/// Records the provider's answer to the charge of a processing payment: a capture opens its
/// orders (one unit), a refusal fails it. A payment that is no longer processing (another node
/// recorded it first) is answered as it is. `known` is the payment as the caller last read it
/// (with its version), if it has it: the first decision then needs no read.
pub async fn record_charge(
    app: &App,
    id: &str,
    mut known: Option<(Payment, i64)>,
    outcome: Result<Charge, ProviderError>,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    for attempt in 0..process::ATTEMPTS {
        process::before_attempt(attempt).await;
        let (payment, version) = match known.take() {
            Some(read) => read,
            None => app
                .store
                .payment(id)
                .await?
                .ok_or_else(|| AppError::Internal(format!("no payment {id}")))?,
        };
        match &payment.state {
            PaymentState::Captured { .. }
            | PaymentState::RequiresAction { .. }
            | PaymentState::Expired { .. }
            | PaymentState::Cancelled { .. } => return view(app, &payment).await,
            PaymentState::Failed { code, .. } => return Err(failure(*code)),
            PaymentState::Processing { .. } => {}
        }
        let command = match &outcome {
            Ok(charge) => PaymentCommand::Capture {
                tender: 0,
                card: charge.card.clone(),
            },
            Err(ProviderError::Refused { code, .. }) => PaymentCommand::Fail { code: *code },
            Err(ProviderError::Unknown(_)) => return Err(processing(id)),
        };
        let now = app.clock.now_ms();
        let d = payment::decide(&payment, &command, now)?;
        let mut effects = Effects::default();
        let reactions = effects.payment(d, version);
        process::settle(app, &mut effects, reactions, now).await?;
        let mut unit = process::unit_of(app, &effects, Some(id), now)?;
        let after = effects
            .payments
            .first()
            .map_or(payment.clone(), |p| p.value.clone());
        let orders: Vec<_> = effects.orders.iter().map(|o| o.value.clone()).collect();
        let body = views::payment(&after, &orders, &[]);
        let refused = match &after.state {
            PaymentState::Failed { code, .. } => Some(failure(*code)),
            _ => None,
        };
        if refused.is_none() {
            unit.idempotency = idem.map(|i| i.record(201, &body, now));
        }
        match app.ledger.commit(unit).await {
            Ok(_) => return refused.map_or(Ok(body), Err),
            Err(e) if process::changed(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(Kind::Payment)))
}

/// A payment with its orders and refunds.
pub async fn view(app: &App, payment: &Payment) -> Result<Value, AppError> {
    view_for(app, payment, None).await
}

/// As [`view`], showing a seller only its own orders and their refunds.
async fn view_for(app: &App, payment: &Payment, seller: Option<&str>) -> Result<Value, AppError> {
    let failed_orders;
    let ids: &[String] = match &payment.state {
        PaymentState::Captured { orders, .. }
        | PaymentState::RequiresAction { orders, .. }
        | PaymentState::Expired { orders, .. }
        | PaymentState::Cancelled { orders, .. } => orders,
        // a declined wallet payment's orders were placed, then cancelled unpaid
        PaymentState::Failed { .. } => {
            failed_orders = app.store.orders_of_payment(&payment.id).await?;
            &failed_orders
        }
        PaymentState::Processing { .. } => &[],
    };
    let mut orders = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some((o, _)) = app.store.order(id).await?
            && seller.is_none_or(|s| s == o.seller)
        {
            orders.push(o);
        }
    }
    let refunds: Vec<_> = app
        .store
        .refunds_of_payment(&payment.id)
        .await?
        .into_iter()
        .filter(|r| seller.is_none() || orders.iter().any(|o| o.id == r.order))
        .collect();
    let mut body = views::payment(payment, &orders, &refunds);
    if matches!(payment.state, PaymentState::RequiresAction { .. }) {
        body["next_action"] = crate::bank::next_action(app, payment);
    }
    Ok(body)
}

/// A payment the caller may see: the platform any of its mode, a buyer its own, a seller one
/// that paid for one of its orders (showing only those); a mediator none.
pub async fn get(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    let Some((payment, _)) = app.store.payment(id).await? else {
        return Err(AppError::NotFound);
    };
    if payment.livemode != principal.livemode {
        return Err(AppError::NotFound);
    }
    match &principal.role {
        Role::Platform => view(app, &payment).await,
        Role::Buyer(b) if *b == payment.buyer => view(app, &payment).await,
        Role::Seller(s) => {
            let body = view_for(app, &payment, Some(s)).await?;
            let has_order = body["orders"].as_array().is_some_and(|o| !o.is_empty());
            if has_order {
                Ok(body)
            } else {
                Err(AppError::NotFound)
            }
        }
        Role::Buyer(_) | Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_) => {
            Err(AppError::NotFound)
        }
    }
}

/// A page of the payments the caller may see: all of its mode (platform) or a buyer's own; a
/// mediator's is empty. Sellers see the money of their orders through the orders.
pub async fn list(
    app: &App,
    principal: &Principal,
    cursor: Cursor<'_>,
    limit: u32,
) -> Result<(Vec<Value>, bool), AppError> {
    let buyer = match &principal.role {
        Role::Platform => None,
        Role::Buyer(b) => Some(b.as_str()),
        Role::Seller(_) => {
            return Err(AppError::rejected(
                ErrorCode::NotPermitted,
                "a seller reads its payments through its orders",
            ));
        }
        Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_) => return Ok((Vec::new(), false)),
    };
    let limit = limit.clamp(1, 100);
    let ids = app
        .store
        .list_payment_ids(buyer, principal.livemode, cursor, limit + 1)
        .await?;
    let (ids, has_more) = orders::page(ids, cursor, limit);
    let mut data = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some((p, _)) = app.store.payment(&id).await? {
            data.push(view(app, &p).await?);
        }
    }
    Ok((data, has_more))
}

/// A refund the caller may see: one of an order the caller may see.
pub async fn get_refund(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    let Some((refund, _)) = app.store.refund(id).await? else {
        return Err(AppError::NotFound);
    };
    orders::load_visible(app, principal, &refund.order).await?;
    Ok(views::refund(&refund))
}

/// Settles payments left processing longer than the policy allows, by asking the provider
/// whether it charged under the payment's reference: yes captures it (opening its orders), no
/// fails it. Safe on several nodes: each payment is leased before the provider is asked.
pub async fn settle_stale(app: &App, batch: u32) -> Result<usize, AppError> {
    let now = app.clock.now_ms();
    let timeout = Duration::from_millis(app.policy.provider_timeout_ms);
    let lease = 2 * i64::try_from(app.policy.provider_timeout_ms).unwrap_or(i64::MAX / 4);
    let mut settled = 0;
    for id in app
        .store
        .stale_payments(now - app.policy.settle_after_ms, now, batch)
        .await?
    {
        if !app.store.lease_payment(&id, now, now + lease).await? {
            continue;
        }
        let Some((payment, _)) = app.store.payment(&id).await? else {
            continue;
        };
        let Ok(connector) = app.cards.for_mode(payment.livemode) else {
            continue;
        };
        let Some(reference) = payment.tenders.first().map(|t| t.reference.clone()) else {
            continue;
        };
        let found = tokio::time::timeout(timeout, connector.find_charge(&reference)).await;
        let outcome = match found {
            Ok(Ok(Some(charge))) => Ok(charge),
            Ok(Ok(None)) => Err(ProviderError::Refused {
                code: ErrorCode::ChargeNotFound,
                reason: ErrorCode::ChargeNotFound.as_str(),
                message: "the provider made no charge under this payment's reference".into(),
            }),
            Ok(Err(e)) => {
                eprintln!("holdback: settling payment {id}: {e}");
                continue;
            }
            Err(_) => continue,
        };
        match record_charge(app, &id, None, outcome, None).await {
            Ok(_) => settled += 1,
            Err(AppError::Rejected { .. }) => settled += 1,
            Err(e) => eprintln!("holdback: settling payment {id}: {e}"),
        }
    }
    Ok(settled)
}
