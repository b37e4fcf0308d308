//! Runs the reaction table and turns a unit's [`Effects`] into a store [`Unit`].
//!
//! A use case decides one command against one aggregate and adds the decision to an `Effects`;
//! [`settle`] then follows the reactions it returned (loading each target, deciding, adding),
//! until none is left. Everything ends up in one unit, committed atomically.

use std::collections::VecDeque;

use holdback_domain::TxId;
use holdback_domain::ledger::TransactionRequest;
use holdback_domain::process::{Effects, Kind, Reaction};
use holdback_store::{
    Conflict, DisputeTimerCancel, DisputeTimerRow, NewEvent, TimerCancel, TimerRow, Unit,
    WriteError,
};
use serde_json::Value;

use crate::{App, AppError, views};

/// Follows `reactions` (and those they cause) into `effects`, loading what they need.
pub async fn settle(
    app: &App,
    effects: &mut Effects,
    reactions: Vec<Reaction>,
    now: i64,
) -> Result<(), AppError> {
    effects.routing = app.policy.refund_routing.clone();
    let mut queue: VecDeque<Reaction> = reactions.into();
    while let Some(reaction) = queue.pop_front() {
        if reaction.order().is_some() {
            let loaded = match effects.needs_order(&reaction) {
                Some(id) => app.store.order(&id).await?,
                None => None,
            };
            queue.extend(effects.apply_to_order(reaction, loaded, now, &app.policy.order)?);
            continue;
        }
        let loaded = match effects.needs(&reaction) {
            Some(id) => app.store.payment(&id).await?,
            None => None,
        };
        let more = effects.apply(reaction, loaded, || app.ids.next("re"), now)?;
        queue.extend(more);
    }
    crate::coupons::give_back(app, effects, now).await?;
    Ok(())
}

/// The JSON of an object of the unit, as it is at the end of the unit.
fn object(effects: &Effects, kind: Kind, id: &str) -> Value {
    match kind {
        Kind::Order => effects
            .orders
            .iter()
            .find(|o| o.value.id == id)
            .map_or(Value::Null, |o| views::order(&o.value)),
        Kind::Payment => {
            effects
                .payments
                .iter()
                .find(|p| p.value.id == id)
                .map_or(Value::Null, |p| {
                    let orders: Vec<_> = effects
                        .orders
                        .iter()
                        .filter(|o| o.value.payment == id)
                        .map(|o| o.value.clone())
                        .collect();
                    views::payment(&p.value, &orders, &[])
                })
        }
        Kind::Refund => effects
            .refunds
            .iter()
            .find(|r| r.value.id == id)
            .map_or(Value::Null, |r| views::refund(&r.value)),
        Kind::Dispute => effects
            .disputes
            .iter()
            .find(|d| d.value.id == id)
            .map_or(Value::Null, |d| views::dispute(&d.value)),
        Kind::Parcel => effects
            .parcels
            .iter()
            .find(|p| p.value.id == id)
            .map_or(Value::Null, |p| crate::parcels::view(&p.value)),
        // (gift cards and coupons are not published through reactions)
        Kind::GiftCard | Kind::Coupon => Value::Null,
    }
}

/// Everything `effects` writes, as one unit. `tx_id` names its ledger transaction (a new id
/// when `None`).
pub fn unit_of(
    app: &App,
    effects: &Effects,
    tx_id: Option<&str>,
    now: i64,
) -> Result<Unit, AppError> {
    let ledger = if effects.transfers.is_empty() {
        None
    } else {
        let id = tx_id.map_or_else(|| app.ids.next("txn"), str::to_string);
        Some(TransactionRequest {
            id: TxId::parse(&id)?,
            transfers: effects.transfers.clone(),
        })
    };
    let events = effects
        .events
        .iter()
        .map(|e| {
            let id = app.ids.next("evt");
            let payload =
                views::new_event(&id, e.name, now, e.livemode, object(effects, e.kind, &e.id));
            NewEvent {
                id,
                kind: e.name.to_string(),
                object_id: e.id.clone(),
                payload: payload.to_string(),
                created_at: now,
                livemode: e.livemode,
            }
        })
        .collect();
    Ok(Unit {
        accounts: effects.accounts.clone(),
        ledger,
        orders: effects.orders.clone(),
        payments: effects.payments.clone(),
        refunds: effects.refunds.clone(),
        disputes: effects.disputes.clone(),
        gift_cards: Vec::new(),
        coupons: effects.coupons.clone(),
        parcels: effects.parcels.clone(),
        parcel_events: Vec::new(),
        cod_terms: Vec::new(),
        remittance_lines: Vec::new(),
        remittance_chunk: None,
        remitted: None,
        line_accepted: None,
        coupon_uses: Vec::new(),
        coupon_uses_given_back: effects.coupon_uses_given_back.clone(),
        set_timers: effects
            .set_timers
            .iter()
            .map(|(order_id, kind, due_at)| TimerRow {
                order_id: order_id.clone(),
                kind: *kind,
                due_at: *due_at,
            })
            .collect(),
        cancel_timers: effects
            .cancel_timers
            .iter()
            .map(|(order_id, kind)| TimerCancel {
                order_id: order_id.clone(),
                kind: *kind,
                only_if_due_at: None,
            })
            .collect(),
        set_dispute_timers: effects
            .set_dispute_timers
            .iter()
            .map(|(dispute_id, kind, due_at)| DisputeTimerRow {
                dispute_id: dispute_id.clone(),
                kind: *kind,
                due_at: *due_at,
            })
            .collect(),
        cancel_dispute_timers: effects
            .cancel_dispute_timers
            .iter()
            .map(|(dispute_id, kind)| DisputeTimerCancel {
                dispute_id: dispute_id.clone(),
                kind: *kind,
                only_if_due_at: None,
            })
            .collect(),
        events,
        idempotency: None,
        messages: Vec::new(),
        notifications: Vec::new(),
    })
}

/// How often a use case decides again when what it decided against changed meanwhile.
pub const ATTEMPTS: u32 = 12;

/// A short pause before the `attempt`-th decision (none before the first): contenders for one
/// aggregate (refunds of several orders of one payment, say) spread over later batches instead
/// of meeting again in the next one.
pub async fn before_attempt(attempt: u32) {
    if attempt > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(
            attempt * attempt,
        )))
        .await;
    }
}

/// Whether a failed commit means "decide again": what the unit was decided against moved on.
pub fn changed(e: &WriteError) -> bool {
    matches!(e, WriteError::Conflict(Conflict::VersionMoved))
}
