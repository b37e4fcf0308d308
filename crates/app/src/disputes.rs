//! Dispute use cases: the buyer opens one on an order ([`open`]), the parties and a mediator
//! act on it ([`act`]), its timers fire ([`fire`]); and reads of what the caller may see.
//!
//! Each is one unit: the dispute's decision, the reactions it causes (the order's protection
//! clock stopped on opening; the order's money moved by the outcome on closing, with any refund
//! written pending for the refund worker), the events, the timers, and the idempotent answer.

use holdback_domain::dispute::{
    self, Answer, Claim, Dispute, DisputeCommand, DisputeError, DisputeReason, DisputeStatus,
    Outcome, Request,
};
use holdback_domain::order::Actor;
use holdback_domain::process::{Effects, Kind};
use holdback_domain::{Currency, Money};
use holdback_store::{Conflict, Cursor, DisputeFilter, DisputeTimerCancel, DisputeTimerRow, Unit};
use serde_json::Value;

use holdback_domain::evidence::EvidenceRole;

use crate::evidence::{DisputeAccess, Purpose, Standing};
use crate::orders::{Idem, page};
use crate::{App, AppError, Principal, Role, orders, process, views};

impl From<DisputeError> for AppError {
    fn from(e: DisputeError) -> Self {
        AppError::rejected(e.code(), e.to_string())
    }
}

/// What the buyer asks for, with amounts in the order's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    FullRefund,
    PartialRefund(i64),
    ReturnAndRefund,
}

/// A command on a dispute as the API takes it (amounts in the dispute's minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Accept,
    Reject,
    Counter(i64),
    AcceptCounter,
    Escalate,
    /// A mediator's decision: an outcome code, its amount where it has one, a written reason.
    Decide {
        outcome: Decision,
        reason: String,
    },
    ShipReturn {
        tracking: String,
    },
    ReturnDelivered,
    ConfirmReturnReceived,
}

/// A mediator's outcome, amounts in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    FullRefund,
    PartialRefund(i64),
    ReturnAndRefund,
    Rejected,
    Counterfeit(i64),
}

fn money(minor: i64, currency: Currency) -> Result<Money, AppError> {
    Ok(Money::from_minor(minor, currency)?)
}

impl Action {
    /// The command, for a dispute in `currency`, given by `by` (the caller's id).
    fn command(&self, currency: Currency, by: &str) -> Result<DisputeCommand, AppError> {
        Ok(match self {
            Action::Accept => DisputeCommand::Respond(Answer::Accept),
            Action::Reject => DisputeCommand::Respond(Answer::Reject),
            Action::Counter(m) => DisputeCommand::Respond(Answer::Counter(money(*m, currency)?)),
            Action::AcceptCounter => DisputeCommand::AcceptCounter,
            Action::Escalate => DisputeCommand::Escalate,
            Action::Decide { outcome, reason } => DisputeCommand::Decide {
                outcome: match outcome {
                    Decision::FullRefund => Outcome::FullRefund,
                    Decision::PartialRefund(m) => Outcome::PartialRefund(money(*m, currency)?),
                    Decision::ReturnAndRefund => Outcome::ReturnAndRefund,
                    Decision::Rejected => Outcome::Rejected,
                    Decision::Counterfeit(m) => Outcome::Counterfeit(money(*m, currency)?),
                },
                reason: reason.clone(),
                by: by.to_string(),
            },
            Action::ShipReturn { tracking } => DisputeCommand::ShipReturn {
                tracking: tracking.clone(),
            },
            Action::ReturnDelivered => DisputeCommand::ReturnDelivered,
            Action::ConfirmReturnReceived => DisputeCommand::ConfirmReturnReceived,
        })
    }
}

/// Whether `principal` may see `dispute`: its buyer, its seller, the platform of its mode, and
/// a mediator once it went to mediation. Those who may not are told it does not exist.
pub fn visible(principal: &Principal, d: &Dispute) -> bool {
    if principal.livemode != d.livemode {
        return false;
    }
    match &principal.role {
        Role::Platform => true,
        Role::Buyer(b) => *b == d.buyer,
        Role::Seller(s) => *s == d.seller,
        Role::Mediator(_) => d.escalated_at.is_some(),
        Role::Retailer(_) | Role::Carrier(_) => false,
    }
}

/// The caller's own id: its party's or mediator's, or `platform`.
fn caller_id(principal: &Principal) -> &str {
    match &principal.role {
        Role::Platform => "platform",
        Role::Buyer(id)
        | Role::Seller(id)
        | Role::Mediator(id)
        | Role::Retailer(id)
        | Role::Carrier(id) => id,
    }
}

fn actor(principal: &Principal) -> Actor {
    match principal.role {
        Role::Platform => Actor::Platform,
        Role::Buyer(_) => Actor::Buyer,
        Role::Seller(_) => Actor::Seller,
        // (a retailer sees no dispute: it never acts on one)
        Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_) => Actor::Mediator,
    }
}

pub async fn load_visible(
    app: &App,
    principal: &Principal,
    id: &str,
) -> Result<(Dispute, i64), AppError> {
    match app.store.dispute(id).await? {
        Some((d, version)) if visible(principal, &d) => Ok((d, version)),
        _ => Err(AppError::NotFound),
    }
}

pub async fn get(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    let (d, _) = load_visible(app, principal, id).await?;
    Ok(views::dispute(&d))
}

/// A page of the disputes the caller may see, by id, optionally of one status or one order.
pub async fn list(
    app: &App,
    principal: &Principal,
    status: Option<DisputeStatus>,
    order: Option<&str>,
    cursor: Cursor<'_>,
    limit: u32,
) -> Result<(Vec<Value>, bool), AppError> {
    let mut filter = DisputeFilter {
        livemode: principal.livemode,
        status,
        order,
        ..DisputeFilter::default()
    };
    match &principal.role {
        Role::Platform => {}
        Role::Buyer(b) => filter.buyer = Some(b),
        Role::Seller(s) => filter.seller = Some(s),
        Role::Mediator(_) => filter.escalated_only = true,
        Role::Retailer(_) | Role::Carrier(_) => return Ok((Vec::new(), false)),
    }
    let limit = limit.clamp(1, 100);
    let disputes = app.store.list_disputes(&filter, cursor, limit + 1).await?;
    let (disputes, has_more) = page(disputes, cursor, limit);
    Ok((disputes.iter().map(views::dispute).collect(), has_more))
}

/// The mediation queue of one mode, soonest deadline first; `overdue` keeps only those past it.
pub async fn queue(
    app: &App,
    livemode: bool,
    overdue: bool,
    limit: u32,
) -> Result<Vec<Dispute>, AppError> {
    let due_by = if overdue {
        app.clock.now_ms()
    } else {
        i64::MAX
    };
    Ok(app.store.mediation_queue(livemode, due_by, limit).await?)
}

/// Commits the unit of a dispute's decision (with its reactions); answers the dispute as it is
/// after, or `None` when what it was decided against moved on (decide again).
async fn commit(
    app: &App,
    d: dispute::DisputeDecision,
    version: i64,
    idem: Option<(&Idem, u16)>,
    now: i64,
) -> Result<Option<Value>, AppError> {
    let mut effects = Effects::default();
    let id = d.dispute.id.clone();
    let reactions = effects.dispute(d, version);
    process::settle(app, &mut effects, reactions, now).await?;
    let mut unit = process::unit_of(app, &effects, None, now)?;
    let after = effects
        .disputes
        .iter()
        .find(|x| x.value.id == id)
        .map(|x| views::dispute(&x.value))
        .unwrap_or(Value::Null);
    unit.idempotency = idem.map(|(i, status)| i.record(status, &after, now));
    match app.ledger.commit(unit).await {
        Ok(_) => Ok(Some(after)),
        Err(e) if process::changed(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The buyer (or the platform for them) opens a dispute on an order it may see.
pub async fn open(
    app: &App,
    principal: &Principal,
    order_id: &str,
    reason: DisputeReason,
    ask: Ask,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let id = app.ids.next("dp");
    for attempt in 0..process::ATTEMPTS {
        process::before_attempt(attempt).await;
        let (order, _) = orders::load_visible(app, principal, order_id).await?;
        let currency = order.captured.currency();
        let request = match ask {
            Ask::FullRefund => Request::FullRefund,
            Ask::PartialRefund(m) => Request::PartialRefund(money(m, currency)?),
            Ask::ReturnAndRefund => Request::ReturnAndRefund,
        };
        let claim = Claim {
            id: id.clone(),
            reason,
            request,
        };
        let now = app.clock.now_ms();
        let d = dispute::open(&claim, &order, actor(principal), now, &app.policy.disputes)?;
        if let Some(body) = commit(app, d, 0, idem.map(|i| (i, 201)), now).await? {
            return Ok(body);
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(Kind::Order)))
}

/// Gives `action` to a dispute the caller may see; answers the dispute as it is after.
pub async fn act(
    app: &App,
    principal: &Principal,
    id: &str,
    action: &Action,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    for attempt in 0..process::ATTEMPTS {
        process::before_attempt(attempt).await;
        let (current, version) = load_visible(app, principal, id).await?;
        let command = action.command(current.paid.currency(), caller_id(principal))?;
        let now = app.clock.now_ms();
        let d = dispute::decide(
            &current,
            actor(principal),
            &command,
            now,
            &app.policy.disputes,
        )?;
        if let Some(body) = commit(app, d, version, idem.map(|i| (i, 200)), now).await? {
            return Ok(body);
        }
    }
    Err(AppError::Conflict(Conflict::KeepsChanging(Kind::Dispute)))
}

/// What firing one dispute timer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    Done,
    /// Not due any more (the dispute moved on): the timer row was removed.
    Stale,
    /// Another node fired it first.
    LostRace,
}

/// Fires one due dispute timer as the scheduler.
pub async fn fire(app: &App, timer: &DisputeTimerRow, now: i64) -> Result<Fired, AppError> {
    let remove_stale = Unit {
        cancel_dispute_timers: vec![DisputeTimerCancel {
            dispute_id: timer.dispute_id.clone(),
            kind: timer.kind,
            only_if_due_at: Some(timer.due_at),
        }],
        ..Unit::default()
    };
    let Some((current, version)) = app.store.dispute(&timer.dispute_id).await? else {
        app.ledger.commit(remove_stale).await?;
        return Ok(Fired::Stale);
    };
    let command = DisputeCommand::Fire(timer.kind);
    let policy = &app.policy.disputes;
    let d = match dispute::decide(&current, Actor::Scheduler, &command, now, policy) {
        Ok(d) => d,
        Err(DisputeError::TimerNotDue | DisputeError::Closed) => {
            app.ledger.commit(remove_stale).await?;
            return Ok(Fired::Stale);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(match commit(app, d, version, None, now).await? {
        Some(_) => Fired::Done,
        None => Fired::LostRace,
    })
}

/// The stored disputes' rule of who may see and add evidence: whoever may see the dispute (its
/// buyer, its seller, the platform, a mediator once it went to mediation); a closed dispute
/// takes no more files.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredDisputes;

impl DisputeAccess for StoredDisputes {
    async fn standing<'a>(
        &'a self,
        app: &'a App,
        principal: &'a Principal,
        dispute_id: &'a str,
        purpose: Purpose,
    ) -> Result<Option<Standing>, AppError> {
        let Some((d, _)) = app.store.dispute(dispute_id).await? else {
            return Ok(None);
        };
        if !visible(principal, &d) {
            return Ok(None);
        }
        if purpose == Purpose::Add && d.status() == DisputeStatus::Closed {
            return Err(DisputeError::Closed.into());
        }
        let (role, id) = match &principal.role {
            Role::Platform => (EvidenceRole::Platform, "platform".to_string()),
            Role::Buyer(b) => (EvidenceRole::Buyer, b.clone()),
            Role::Seller(s) => (EvidenceRole::Seller, s.clone()),
            Role::Mediator(m) => (EvidenceRole::Mediator, m.clone()),
            Role::Retailer(_) | Role::Carrier(_) => return Ok(None),
        };
        Ok(Some(Standing { role, id }))
    }
}
