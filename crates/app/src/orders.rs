//! Order use cases: read what the caller may see, and act on an order.

use holdback_domain::TxId;
use holdback_domain::order::{self, Actor, Decision, Order, OrderCommand};
use holdback_store::{
    Cursor, IdempotencyRecord, NewEvent, ORDER_CHANGED, OrderWrite, TimerCancel, TimerRow, Unit,
    WriteError,
};
use serde_json::Value;

use crate::{App, AppError, Principal, Role, views};

/// How often a decision is made again when the order changed under it.
const ATTEMPTS: usize = 5;

/// The idempotency context of a request: who, which key, and a digest of the request.
#[derive(Debug, Clone)]
pub struct Idem {
    pub principal: String,
    pub key: String,
    pub request_hash: String,
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
        }
    }
}

/// Whether `principal` may see `order`. Those who may not are told it does not exist.
pub fn visible(principal: &Principal, order: &Order) -> bool {
    if principal.livemode != order.livemode {
        return false;
    }
    match &principal.role {
        Role::Platform => true,
        Role::Buyer(b) => *b == order.buyer,
        Role::Seller(s) => *s == order.seller,
    }
}

fn actor(principal: &Principal) -> Actor {
    match principal.role {
        Role::Platform => Actor::Platform,
        Role::Buyer(_) => Actor::Buyer,
        Role::Seller(_) => Actor::Seller,
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

/// A page of the orders the caller may see, by id, after `cursor` (or before it).
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
    };
    let limit = limit.clamp(1, 100);
    let mut orders = app
        .store
        .list_orders(buyer, seller, principal.livemode, cursor, limit + 1)
        .await?;
    let has_more = orders.len() > limit as usize;
    if has_more {
        match cursor {
            // the extra one fetched is at the far end from the cursor
            Cursor::After(_) => orders.truncate(limit as usize),
            Cursor::Before(_) => {
                orders.remove(0);
            }
        }
    }
    Ok((orders.iter().map(views::order).collect(), has_more))
}

/// The events of a decision, as outbox rows carrying the order as it is after the decision.
pub fn events(app: &App, d: &Decision, now: i64) -> Vec<NewEvent> {
    let object = views::order(&d.order);
    d.events
        .iter()
        .map(|e| {
            let id = app.ids.next("evt");
            let payload = views::new_event(&id, e.name(), now, d.order.livemode, object.clone());
            NewEvent {
                id,
                kind: e.name().to_string(),
                object_id: d.order.id.clone(),
                payload: payload.to_string(),
                created_at: now,
                livemode: d.order.livemode,
            }
        })
        .collect()
}

/// Everything a decision about one order writes, as one unit.
pub fn unit_of(app: &App, d: &Decision, expected_version: i64, now: i64) -> Result<Unit, AppError> {
    let id = &d.order.id;
    let ledger = if d.transfers.is_empty() {
        None
    } else {
        Some(holdback_domain::ledger::TransactionRequest {
            id: TxId::parse(&app.ids.next("txn"))?,
            transfers: d.transfers.clone(),
        })
    };
    Ok(Unit {
        accounts: d.accounts.clone(),
        ledger,
        orders: vec![OrderWrite {
            order: d.order.clone(),
            expected_version,
        }],
        set_timers: d
            .set_timers
            .iter()
            .map(|(kind, due_at)| TimerRow {
                order_id: id.clone(),
                kind: *kind,
                due_at: *due_at,
            })
            .collect(),
        cancel_timers: d
            .cancel_timers
            .iter()
            .filter(|k| !d.set_timers.iter().any(|(s, _)| s == *k))
            .map(|kind| TimerCancel {
                order_id: id.clone(),
                kind: *kind,
                only_if_due_at: None,
            })
            .collect(),
        events: events(app, d, now),
        payments: vec![],
        idempotency: None,
    })
}

/// Gives `command` to an order on behalf of `principal`; returns the order as it is after.
pub async fn act(
    app: &App,
    principal: &Principal,
    id: &str,
    command: &OrderCommand,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    for _ in 0..ATTEMPTS {
        let (order, version) = load_visible(app, principal, id).await?;
        let now = app.clock.now_ms();
        let policy = app.policy.for_seller(&order.seller);
        let d = order::decide(&order, actor(principal), command, now, &policy)?;
        if let OrderCommand::Refund { amount } = command {
            let reference = format!("{}:{}:{version}", order.id, order.refunded);
            app.cards
                .refund(&order.payment, *amount, &reference)
                .await?;
        }
        let body = views::order(&d.order);
        let mut unit = unit_of(app, &d, version, now)?;
        unit.idempotency = idem.map(|i| i.record(200, &body, now));
        match app.ledger.commit(unit).await {
            Ok(_) => return Ok(body),
            Err(WriteError::Conflict(what)) if what == ORDER_CHANGED => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the order keeps changing; retry"))
}
