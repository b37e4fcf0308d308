//! Cash-on-delivery parcels: written when the order ships, moved by its carrier's events, and
//! the releases that waited for a remittance.
//!
//! A carrier reports events by its own event ids. An id taken before answers with what it did
//! then and changes nothing; an event that repeats what is known, or is older news (out for
//! delivery after the delivery), is recorded as `ignored` and changes nothing either. A carrier
//! sees only its own parcels: another carrier's tracking number answers as missing.

use holdback_domain::ErrorCode;
use holdback_domain::cod::{self, CarrierEvent, Parcel, ParcelError, ParcelState};
use holdback_domain::order::{self, Actor, Order, OrderCommand, OrderError};
use holdback_domain::process::{Effects, Kind};
use holdback_store::parcels::ParcelEventRow;
use holdback_store::{Conflict, WriteError};
use serde_json::{Value, json};

use crate::orders::Idem;
use crate::{App, AppError, Principal, Role, process, views};

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The API object of a parcel.
pub fn view(p: &Parcel) -> Value {
    let (out, final_at, remitted) = match &p.state {
        ParcelState::InTransit { out_for_delivery } => (*out_for_delivery, None, None),
        ParcelState::Collected { at, remitted } | ParcelState::Returned { at, remitted, .. } => {
            (None, Some(*at), remitted.as_ref())
        }
    };
    json!({
        "id": p.id,
        "object": "parcel",
        "created": secs(p.created_at),
        "livemode": p.livemode,
        "metadata": {},
        "status": p.state.code(),
        "carrier": p.carrier,
        "tracking_number": p.tracking,
        "order": p.order,
        "payment": p.payment,
        "amount_to_collect": p.cash.minor(),
        "fee": p.fee,
        "currency": views::currency(p.cash.currency()),
        "return_cost": p.rto_cost,
        "return_cost_payer": p.rto_payer.code(),
        "out_for_delivery": out.map(secs),
        "ended": final_at.map(secs),
        "remittance": remitted.map(|r| json!({"batch": r.batch, "remitted": secs(r.at)})),
        "reversal": p.reversed.as_ref().map(|r| json!({"batch": r.batch, "remitted": secs(r.at)})),
    })
}

impl From<ParcelError> for AppError {
    fn from(e: ParcelError) -> Self {
        AppError::rejected(e.code(), e.to_string())
    }
}

/// The parcel a cash-on-delivery order ships in, as the shipment names it: the carrier must
/// collect cash in the buyer's country (by the policy in force), and the fee and return cost
/// are what the checkout fixed.
pub async fn for_shipment(
    app: &App,
    order: &Order,
    command: &OrderCommand,
    now: i64,
) -> Result<Option<Parcel>, AppError> {
    let OrderCommand::Ship { carrier, tracking } = command else {
        return Ok(None);
    };
    if !order.cash_on_delivery {
        return Ok(None);
    }
    let terms =
        app.store.cod_terms(&order.id).await?.ok_or_else(|| {
            AppError::Internal(format!("no cash-on-delivery terms for {}", order.id))
        })?;
    let collects = app
        .policy
        .cod
        .carriers
        .iter()
        .any(|c| c.id == *carrier && c.collects_in.contains(&terms.country));
    if !collects {
        return Err(AppError::param(
            ErrorCode::CarrierCannotCollect,
            "carrier",
            format!(
                "{carrier:?} does not collect cash in {}; the checkout offered {:?}",
                terms.country, terms.carrier
            ),
        ));
    }
    // (one parcel per tracking number of a carrier, in each mode)
    if let Some((other, _)) = app
        .store
        .parcel_by_tracking(carrier, order.livemode, tracking)
        .await?
        && other.order != order.id
    {
        return Err(AppError::param(
            ErrorCode::TrackingNumberInUse,
            "tracking_number",
            format!("{carrier}'s tracking number {tracking:?} already names another parcel"),
        ));
    }
    let currency = order.captured.currency();
    // what the buyer still owes of the order (a platform-funded promotion is not collected),
    // and the fee
    let owed =
        (order.captured.minor() - order.promotion) - (order.refunded - order.promotion_returned);
    let cash = holdback_domain::Money::from_minor(owed + terms.fee, currency)?;
    Ok(Some(Parcel {
        id: app.ids.next("pcl"),
        carrier: carrier.clone(),
        tracking: tracking.clone(),
        order: order.id.clone(),
        payment: order.payment.clone(),
        buyer: order.buyer.clone(),
        seller: order.seller.clone(),
        livemode: order.livemode,
        cash,
        fee: terms.fee,
        rto_cost: terms.rto_cost,
        rto_payer: terms.rto_payer,
        created_at: now,
        last_event_at: now,
        state: ParcelState::InTransit {
            out_for_delivery: None,
        },
        reversed: None,
    }))
}

/// One event a carrier reports about a parcel.
#[derive(Debug, Clone)]
pub struct Report {
    /// The carrier's own id of the event: a repeat of it changes nothing.
    pub event_id: String,
    pub event: CarrierEvent,
    /// When it happened (ms).
    pub occurred_at: i64,
    /// For `delivered`: the cash collected (minor units, the fee included).
    pub cash: Option<i64>,
    /// The carrier, when the platform reports for one.
    pub carrier: Option<String>,
}

/// Which carrier's parcels `principal` reports for.
fn carrier_of(principal: &Principal, named: Option<&str>) -> Result<String, AppError> {
    match (&principal.role, named) {
        (Role::Carrier(me), None) => Ok(me.clone()),
        (Role::Carrier(me), Some(c)) if c == me => Ok(me.clone()),
        (Role::Platform, Some(c)) => Ok(c.to_string()),
        (Role::Platform, None) => Err(AppError::param(
            ErrorCode::CarrierRequired,
            "carrier",
            "the platform names the carrier it reports for",
        )),
        _ => Err(AppError::rejected(
            ErrorCode::NotPermitted,
            "only a carrier reports its own parcels' events (or the platform for one)",
        )),
    }
}

/// The parcel `principal` may see by its id: the platform any of its mode, a carrier its own,
/// the order's buyer and seller theirs.
pub async fn get(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    let (p, _) = app.store.parcel(id).await?.ok_or(AppError::NotFound)?;
    let visible = p.livemode == principal.livemode
        && match &principal.role {
            Role::Platform => true,
            Role::Carrier(c) => *c == p.carrier,
            Role::Buyer(b) => *b == p.buyer,
            Role::Seller(s) => *s == p.seller,
            Role::Mediator(_) | Role::Retailer(_) => false,
        };
    if !visible {
        return Err(AppError::NotFound);
    }
    Ok(view(&p))
}

/// Takes one carrier event for the parcel `tracking`: the parcel, its order and payment move in
/// one unit; a repeat of the event id, or news the parcel has moved past, changes nothing.
pub async fn report(
    app: &App,
    principal: &Principal,
    tracking: &str,
    r: &Report,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let carrier = carrier_of(principal, r.carrier.as_deref())?;
    for attempt in 0..process::ATTEMPTS {
        process::before_attempt(attempt).await;
        let Some((parcel, version)) = app
            .store
            .parcel_by_tracking(&carrier, principal.livemode, tracking)
            .await?
        else {
            return Err(AppError::param(
                ErrorCode::ParcelNotFound,
                "tracking",
                format!("{carrier} has no cash-on-delivery parcel {tracking:?}"),
            ));
        };
        if let Some(outcome) = app
            .store
            .parcel_event_outcome(&carrier, principal.livemode, &r.event_id)
            .await?
        {
            return Ok(answer(&parcel, r, &format!("duplicate_of_{outcome}")));
        }
        let now = app.clock.now_ms();
        let d = cod::report(&parcel, r.event, r.occurred_at, r.cash)?;
        let applied = !d.events.is_empty();
        let mut effects = Effects::default();
        let reactions = effects.parcel(d, version);
        if applied {
            process::settle(app, &mut effects, reactions, now).await?;
        }
        let mut unit = if applied {
            process::unit_of(app, &effects, None, now)?
        } else {
            holdback_store::Unit::default()
        };
        let after = effects
            .parcels
            .iter()
            .find(|p| p.value.id == parcel.id)
            .map_or(parcel.clone(), |p| p.value.clone());
        let outcome = if applied { "applied" } else { "ignored" };
        unit.parcel_events.push(ParcelEventRow {
            carrier: carrier.clone(),
            livemode: principal.livemode,
            event_id: r.event_id.clone(),
            tracking: tracking.to_string(),
            event: r.event,
            occurred_at: r.occurred_at,
            cash: r.cash,
            outcome,
            received_at: now,
        });
        let body = answer(&after, r, outcome);
        unit.idempotency = idem.map(|i| i.record(200, &body, now));
        match app.ledger.commit(unit).await {
            Ok(_) => return Ok(body),
            Err(e) if process::changed(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(Kind::Parcel)))
}

fn answer(parcel: &Parcel, r: &Report, outcome: &str) -> Value {
    json!({
        "id": r.event_id,
        "object": "parcel_event",
        "livemode": parcel.livemode,
        "event": r.event.code(),
        "occurred": secs(r.occurred_at),
        "outcome": outcome,
        "parcel": view(parcel),
    })
}

/// Releases orders whose release fell due while they waited for a remittance that has since
/// been matched (up to `batch`). Run by the scheduler and after each remittance import.
pub async fn release_remitted(app: &App, batch: u32) -> Result<usize, AppError> {
    let mut done = 0;
    for id in app.store.releasable_orders(batch).await? {
        let Some((o, version)) = app.store.order(&id).await? else {
            continue;
        };
        let now = app.clock.now_ms();
        let d = match order::decide(
            &o,
            Actor::Scheduler,
            &OrderCommand::ReleaseRemitted,
            now,
            &app.policy.order,
        ) {
            Ok(d) => d,
            Err(OrderError::NotAwaitingRemittance) => continue,
            Err(e) => return Err(e.into()),
        };
        let (unit, _) = crate::orders::unit_for(app, d, version, now).await?;
        match app.ledger.commit(unit).await {
            Ok(_) => done += 1,
            Err(WriteError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}
