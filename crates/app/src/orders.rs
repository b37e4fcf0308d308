//! Order use cases: read what the caller may see, and act on an order.

use holdback_domain::order::{self, Actor, Order, OrderCommand};
use holdback_domain::process::{Effects, Kind};
use holdback_store::{Conflict, Cursor, IdempotencyRecord, Unit};
use serde_json::Value;

use crate::{App, AppError, Principal, Role, process, views};

/// The idempotency context of a request: who, which key, a digest of the request, and the token
/// of the claim the request holds on the key (see [`crate::idempotency`]).
#[derive(Debug, Clone)]
pub struct Idem {
    pub principal: String,
    pub key: String,
    pub request_hash: String,
    pub claim: Option<String>,
}

impl Idem {
    pub fn record(&self, status: u16, body: &Value, now: i64) -> IdempotencyRecord {
        IdempotencyRecord {
            principal: self.principal.clone(),
            key: self.key.clone(),
            request_hash: self.request_hash.clone(),
            status,
            body: body.to_string(),
            created_at: now,
            claim: self.claim.clone(),
        }
    }
}

/// Whether `principal` may see `order`. Those who may not are told it does not exist. A
/// mediator sees no order (until disputes give it the orders of the disputes it decides).
pub fn visible(principal: &Principal, order: &Order) -> bool {
    if principal.livemode != order.livemode {
        return false;
    }
    match &principal.role {
        Role::Platform => true,
        Role::Buyer(b) => *b == order.buyer,
        Role::Seller(s) => *s == order.seller,
        Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_) => false,
    }
}

fn actor(principal: &Principal) -> Actor {
    match principal.role {
        Role::Platform => Actor::Platform,
        Role::Buyer(_) => Actor::Buyer,
        Role::Seller(_) => Actor::Seller,
        // (a retailer sees no order: it never acts on one)
        Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_) => Actor::Mediator,
    }
}

pub async fn load_visible(
    app: &App,
    principal: &Principal,
    id: &str,
) -> Result<(Order, i64), AppError> {
    match app.store.order(id).await? {
        Some((order, version)) if visible(principal, &order) => Ok((order, version)),
        _ => Err(AppError::NotFound),
    }
}

pub async fn get(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    let (order, _) = load_visible(app, principal, id).await?;
    Ok(views::order(&order))
}

/// A page of the orders the caller may see, by id, after `cursor` (or before it); a mediator's
/// is empty.
pub async fn list(
    app: &App,
    principal: &Principal,
    cursor: Cursor<'_>,
    limit: u32,
) -> Result<(Vec<Value>, bool), AppError> {
    let (buyer, seller) = match &principal.role {
        Role::Platform => (None, None),
        Role::Buyer(b) => (Some(b.as_str()), None),
        Role::Seller(s) => (None, Some(s.as_str())),
        Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_) => return Ok((Vec::new(), false)),
    };
    let limit = limit.clamp(1, 100);
    let orders = app
        .store
        .list_orders(buyer, seller, principal.livemode, cursor, limit + 1)
        .await?;
    let (orders, has_more) = page(orders, cursor, limit);
    Ok((orders.iter().map(views::order).collect(), has_more))
}

/// A page from `limit + 1` items fetched in ascending order next to `cursor`: the items, and
/// whether more follow (the extra one fetched is at the far end from the cursor).
pub fn page<T>(mut items: Vec<T>, cursor: Cursor<'_>, limit: u32) -> (Vec<T>, bool) {
    let has_more = items.len() > limit as usize;
    if has_more {
        match cursor {
            Cursor::After(_) => items.truncate(limit as usize),
            Cursor::Before(_) => {
                items.remove(0);
            }
        }
    }
    (items, has_more)
}

/// An order's decision with the reactions it causes: the unit to commit.
pub async fn unit_for(
    app: &App,
    d: order::Decision,
    version: i64,
    now: i64,
) -> Result<(Unit, Effects), AppError> {
    unit_with(app, d, version, None, now).await
}

/// [`unit_for`], with the parcel a cash-on-delivery order ships in written new in the unit.
async fn unit_with(
    app: &App,
    d: order::Decision,
    version: i64,
    parcel: Option<holdback_domain::cod::Parcel>,
    now: i64,
) -> Result<(Unit, Effects), AppError> {
    let mut effects = Effects::default();
    let reactions = effects.order(d, version);
    if let Some(parcel) = parcel {
        effects.parcel(
            holdback_domain::cod::ParcelDecision {
                parcel,
                events: vec![],
                accounts: vec![],
                transfers: vec![],
            },
            0,
        );
    }
    process::settle(app, &mut effects, reactions, now).await?;
    let unit = process::unit_of(app, &effects, None, now)?;
    Ok((unit, effects))
}

/// Gives `command` to an order on behalf of `principal`; returns the order as it is after.
/// Money owed back to the buyer becomes a pending refund in the same unit; no provider is
/// called here (the refund worker does that after the commit).
pub async fn act(
    app: &App,
    principal: &Principal,
    id: &str,
    command: &OrderCommand,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    for attempt in 0..process::ATTEMPTS {
        process::before_attempt(attempt).await;
        let (order, version) = load_visible(app, principal, id).await?;
        let now = app.clock.now_ms();
        let d = order::decide(&order, actor(principal), command, now, &app.policy.order)?;
        let parcel = crate::parcels::for_shipment(app, &order, command, now).await?;
        let (mut unit, effects) = unit_with(app, d, version, parcel, now).await?;
        let after = effects
            .orders
            .iter()
            .find(|o| o.value.id == order.id)
            .map_or(order.clone(), |o| o.value.clone());
        let body = views::order(&after);
        unit.idempotency = idem.map(|i| i.record(200, &body, now));
        match app.ledger.commit(unit).await {
            Ok(_) => return Ok(body),
            Err(e) if process::changed(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(Kind::Order)))
}
