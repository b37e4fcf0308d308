//! Disputes: a buyer's claim about an order, negotiated with the seller, escalated to a mediator
//! when they do not agree, and closed by an outcome that moves the order's money.
//!
//! A [`Dispute`] keeps what was fixed when it opened (the order, its parties, the reason, what
//! the buyer asked for, what the hold had) and a [`DisputeState`] whose variants carry each
//! stage's deadlines, fixed when the stage began. [`open`] and [`decide`] are pure; their
//! [`DisputeDecision`] is data: the next dispute, its events and its timers. The dispute moves no
//! money itself: its `Opened` event stops the order's protection clock and its `Closed` event
//! carries the order's [`Settlement`], which the order applies in the same unit (see `process`).
//!
//! The rules, in short:
//! - the buyer opens from shipment + [`DisputePolicy::opens_after_shipment`] until
//!   [`DisputePolicy::window_after_completion`] after the order completed, at most one at a time;
//!   on an order whose hold was already released, only a counterfeit claim opens, and it goes
//!   straight to a mediator (the seller's payable is charged only by that outcome);
//! - the seller answers within [`DisputePolicy::seller_answer`]: accept (the request is
//!   granted), reject, or counter with a partial refund the buyer may accept; silence grants the
//!   request;
//! - either side may escalate after [`DisputePolicy::escalate_after`]; the negotiation is
//!   escalated anyway at [`DisputePolicy::auto_escalate`];
//! - a mediator decides, with a written reason; the mediation SLA only marks the dispute overdue;
//! - return and refund: the buyer ships within [`DisputePolicy::return_ship`] (else the hold is
//!   released to the seller); the refund follows the seller's confirmation of receipt, or
//!   [`DisputePolicy::return_refund`] after the return's delivered event.
//!
//! A timer that fires after the dispute has moved on is [`DisputeError::TimerNotDue`]: a timer
//! may fire more than once, its effect happens at most once.

use crate::ErrorCode;
use crate::money::{Money, MoneyError};
use crate::order::{DAY, Order};

mod rules;

pub use crate::order::{Actor, Settlement};
pub use rules::{decide, open};

/// The timings of a dispute, in milliseconds; defaults that configuration may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisputePolicy {
    pub opens_after_shipment: i64,
    pub window_after_completion: i64,
    pub seller_answer: i64,
    pub escalate_after: i64,
    pub auto_escalate: i64,
    pub mediation_sla: i64,
    pub return_ship: i64,
    pub return_refund: i64,
    /// A counterfeit outcome gives back at most this many times the price.
    pub counterfeit_multiple: i64,
}

impl Default for DisputePolicy {
    fn default() -> Self {
        DisputePolicy {
            opens_after_shipment: 5 * DAY,
            window_after_completion: 15 * DAY,
            seller_answer: 5 * DAY,
            escalate_after: 3 * DAY,
            auto_escalate: 15 * DAY,
            mediation_sla: 7 * DAY,
            return_ship: 10 * DAY,
            return_refund: 15 * DAY,
            counterfeit_multiple: 2,
        }
    }
}

/// Why the buyer opened the dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DisputeReason {
    NotReceived,
    NotAsDescribed,
    Damaged,
    Counterfeit,
    WrongItem,
}

impl DisputeReason {
    pub const ALL: [DisputeReason; 5] = [
        DisputeReason::NotReceived,
        DisputeReason::NotAsDescribed,
        DisputeReason::Damaged,
        DisputeReason::Counterfeit,
        DisputeReason::WrongItem,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DisputeReason::NotReceived => "not_received",
            DisputeReason::NotAsDescribed => "not_as_described",
            DisputeReason::Damaged => "damaged",
            DisputeReason::Counterfeit => "counterfeit",
            DisputeReason::WrongItem => "wrong_item",
        }
    }

    pub fn parse(code: &str) -> Option<DisputeReason> {
        DisputeReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// What the buyer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    FullRefund,
    PartialRefund(Money),
    ReturnAndRefund,
}

impl Request {
    pub fn code(self) -> &'static str {
        match self {
            Request::FullRefund => "full_refund",
            Request::PartialRefund(_) => "partial_refund",
            Request::ReturnAndRefund => "return_and_refund",
        }
    }
}

/// How a dispute ends, as agreed or decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    FullRefund,
    PartialRefund(Money),
    ReturnAndRefund,
    Rejected,
    /// Proven counterfeit: `amount` back to the buyer, up to twice the price.
    Counterfeit(Money),
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::FullRefund => "full_refund",
            Outcome::PartialRefund(_) => "partial_refund",
            Outcome::ReturnAndRefund => "return_and_refund",
            Outcome::Rejected => "rejected",
            Outcome::Counterfeit(_) => "counterfeit",
        }
    }

    pub fn amount(self) -> Option<Money> {
        match self {
            Outcome::PartialRefund(m) | Outcome::Counterfeit(m) => Some(m),
            _ => None,
        }
    }
}

impl From<Request> for Outcome {
    fn from(r: Request) -> Outcome {
        match r {
            Request::FullRefund => Outcome::FullRefund,
            Request::PartialRefund(m) => Outcome::PartialRefund(m),
            Request::ReturnAndRefund => Outcome::ReturnAndRefund,
        }
    }
}

/// The seller's answer, when it was not an acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Reject,
    Counter(Money),
}

impl Answer {
    pub fn code(self) -> &'static str {
        match self {
            Answer::Accept => "accept",
            Answer::Reject => "reject",
            Answer::Counter(_) => "counter",
        }
    }
}

/// Who or what escalated the dispute to a mediator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    Buyer,
    Seller,
    /// The negotiation's time ran out.
    Timer,
    /// Opened on an order already released: only a mediator can decide it.
    AfterRelease,
}

impl Escalation {
    pub fn code(self) -> &'static str {
        match self {
            Escalation::Buyer => "buyer",
            Escalation::Seller => "seller",
            Escalation::Timer => "timer",
            Escalation::AfterRelease => "after_release",
        }
    }
}

/// How a closed dispute came to its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closure {
    SellerAccepted,
    SellerSilent,
    CounterAccepted,
    /// A mediator decided, with this written reason.
    Decided {
        reason: String,
    },
    ReturnReceived,
    /// The return was delivered and its receipt not confirmed in time.
    ReturnUnconfirmed,
    /// The return was not shipped in time: the hold went to the seller.
    ReturnNotShipped,
}

impl Closure {
    pub fn code(&self) -> &'static str {
        match self {
            Closure::SellerAccepted => "seller_accepted",
            Closure::SellerSilent => "seller_silent",
            Closure::CounterAccepted => "counter_accepted",
            Closure::Decided { .. } => "decided",
            Closure::ReturnReceived => "return_received",
            Closure::ReturnUnconfirmed => "return_unconfirmed",
            Closure::ReturnNotShipped => "return_not_shipped",
        }
    }
}

/// Where a dispute is, with each stage's data and deadlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeState {
    /// Buyer and seller negotiate. The seller answers by `answer_due` (`answer` is `None` until
    /// then); either side may escalate from `escalate_from`; the timer escalates at
    /// `escalate_at`.
    Negotiating {
        answer_due: i64,
        escalate_from: i64,
        escalate_at: i64,
        answer: Option<Answer>,
    },
    /// A mediator decides; `sla_due` is when the decision is due, `overdue` once it passed.
    InMediation {
        escalated_at: i64,
        by: Escalation,
        sla_due: i64,
        overdue: bool,
    },
    /// The buyer ships the item back by `ship_by`; `refund` is then owed.
    AwaitingReturn { ship_by: i64, refund: Money },
    /// The return is on its way (`delivered_at` once the carrier says so; the refund is then
    /// due by `refund_due` even if the seller does not confirm receipt).
    ReturnShipped {
        tracking: String,
        shipped_at: i64,
        delivered_at: Option<i64>,
        refund_due: Option<i64>,
        refund: Money,
    },
    Closed {
        outcome: Outcome,
        closure: Closure,
        closed_at: i64,
    },
}

/// The dispute's status as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DisputeStatus {
    Negotiating,
    InMediation,
    AwaitingReturn,
    ReturnShipped,
    Closed,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 5] = [
        DisputeStatus::Negotiating,
        DisputeStatus::InMediation,
        DisputeStatus::AwaitingReturn,
        DisputeStatus::ReturnShipped,
        DisputeStatus::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DisputeStatus::Negotiating => "negotiating",
            DisputeStatus::InMediation => "in_mediation",
            DisputeStatus::AwaitingReturn => "awaiting_return",
            DisputeStatus::ReturnShipped => "return_shipped",
            DisputeStatus::Closed => "closed",
        }
    }

    pub fn parse(code: &str) -> Option<DisputeStatus> {
        DisputeStatus::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl DisputeState {
    pub fn status(&self) -> DisputeStatus {
        match self {
            DisputeState::Negotiating { .. } => DisputeStatus::Negotiating,
            DisputeState::InMediation { .. } => DisputeStatus::InMediation,
            DisputeState::AwaitingReturn { .. } => DisputeStatus::AwaitingReturn,
            DisputeState::ReturnShipped { .. } => DisputeStatus::ReturnShipped,
            DisputeState::Closed { .. } => DisputeStatus::Closed,
        }
    }
}

/// One dispute about one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub id: String,
    pub order: String,
    pub buyer: String,
    pub seller: String,
    pub livemode: bool,
    /// What the order captured (the price), and what its hold had when the dispute opened.
    pub paid: Money,
    pub held: Money,
    pub reason: DisputeReason,
    pub request: Request,
    pub opened_at: i64,
    /// When it went to a mediator, if it ever did: a mediator sees the disputes escalated to
    /// mediation, before and after they close.
    pub escalated_at: Option<i64>,
    /// The mediator who decided it, if one did.
    pub decided_by: Option<String>,
    pub state: DisputeState,
}

impl Dispute {
    pub fn status(&self) -> DisputeStatus {
        self.state.status()
    }

    /// When the next thing is due: the mediator's SLA, the seller's answer, the return.
    pub fn due(&self) -> Option<i64> {
        match &self.state {
            DisputeState::Negotiating {
                answer_due,
                escalate_at,
                answer,
                ..
            } => Some(if answer.is_none() {
                *answer_due
            } else {
                *escalate_at
            }),
            DisputeState::InMediation { sla_due, .. } => Some(*sla_due),
            DisputeState::AwaitingReturn { ship_by, .. } => Some(*ship_by),
            DisputeState::ReturnShipped { refund_due, .. } => *refund_due,
            DisputeState::Closed { .. } => None,
        }
    }

    /// Whether the dispute waits on a mediator past the SLA (`holdback disputes list --overdue`).
    pub fn is_overdue(&self, now: i64) -> bool {
        matches!(self.state, DisputeState::InMediation { sla_due, .. } if now >= sla_due)
    }
}

/// A dispute's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DisputeTimer {
    SellerAnswer,
    AutoEscalate,
    MediationSla,
    ReturnShipBy,
    ReturnRefund,
}

impl DisputeTimer {
    pub const ALL: [DisputeTimer; 5] = [
        DisputeTimer::SellerAnswer,
        DisputeTimer::AutoEscalate,
        DisputeTimer::MediationSla,
        DisputeTimer::ReturnShipBy,
        DisputeTimer::ReturnRefund,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DisputeTimer::SellerAnswer => "dispute_seller_answer",
            DisputeTimer::AutoEscalate => "dispute_auto_escalate",
            DisputeTimer::MediationSla => "dispute_mediation_sla",
            DisputeTimer::ReturnShipBy => "dispute_return_ship_by",
            DisputeTimer::ReturnRefund => "dispute_return_refund",
        }
    }

    pub fn parse(code: &str) -> Option<DisputeTimer> {
        DisputeTimer::ALL.into_iter().find(|k| k.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeCommand {
    /// The seller's answer, within [`DisputePolicy::seller_answer`].
    Respond(Answer),
    AcceptCounter,
    Escalate,
    /// The mediator's decision, with its written reason and the mediator's id.
    Decide {
        outcome: Outcome,
        reason: String,
        by: String,
    },
    ShipReturn {
        tracking: String,
    },
    ReturnDelivered,
    ConfirmReturnReceived,
    Fire(DisputeTimer),
}

impl DisputeCommand {
    pub fn code(&self) -> &'static str {
        match self {
            DisputeCommand::Respond(_) => "respond",
            DisputeCommand::AcceptCounter => "accept_counter",
            DisputeCommand::Escalate => "escalate",
            DisputeCommand::Decide { .. } => "decide",
            DisputeCommand::ShipReturn { .. } => "ship_return",
            DisputeCommand::ReturnDelivered => "return_delivered",
            DisputeCommand::ConfirmReturnReceived => "confirm_return_received",
            DisputeCommand::Fire(_) => "fire_timer",
        }
    }

    /// The roles that may give this command (the platform acts for a party; only a mediator
    /// decides).
    pub fn allowed(&self, actor: Actor) -> bool {
        use Actor::*;
        let roles: &[Actor] = match self {
            DisputeCommand::Respond(_) => &[Seller, Platform],
            DisputeCommand::AcceptCounter => &[Buyer, Platform],
            DisputeCommand::Escalate => &[Buyer, Seller, Platform],
            DisputeCommand::Decide { .. } => &[Mediator],
            DisputeCommand::ShipReturn { .. } => &[Buyer, Platform],
            DisputeCommand::ReturnDelivered => &[Carrier, Platform],
            DisputeCommand::ConfirmReturnReceived => &[Seller, Platform],
            DisputeCommand::Fire(_) => &[Scheduler],
        };
        roles.contains(&actor)
    }
}

/// Why a dispute command was refused. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputeError {
    #[error("this role may not {0}")]
    NotPermitted(&'static str),
    #[error("a dispute opens only from {0} ms after shipment")]
    TooEarly(i64),
    #[error("the claim window of this order has closed")]
    WindowClosed,
    #[error("the order is cancelled")]
    OrderCancelled,
    #[error("a cash-on-delivery buyer pays at the door: nothing is paid to dispute before it")]
    CashNotCollected,
    #[error("a dispute is already open on this order")]
    AlreadyOpen,
    #[error("a non-delivery claim is open on this order")]
    ClaimOpen,
    #[error("the order's money was released: only a counterfeit claim can still open")]
    CounterfeitOnly,
    #[error("an amount must be more than zero")]
    ZeroAmount,
    #[error("{requested} exceeds the {held} held for the order")]
    ExceedsHeld { requested: i64, held: i64 },
    #[error("a counterfeit refund of {requested} exceeds {limit}, twice the price")]
    CounterfeitExceedsLimit { requested: i64, limit: i64 },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("the dispute is closed")]
    Closed,
    #[error("the dispute is not in negotiation")]
    NotNegotiating,
    #[error("the seller has already answered")]
    AlreadyAnswered,
    #[error("the time to answer has passed: the buyer's request is granted")]
    AnswerLate,
    #[error("no counter-offer is waiting for the buyer")]
    NoCounterOffer,
    #[error("either side may escalate only from {0} ms after opening")]
    EscalationTooEarly(i64),
    #[error("the dispute is not with a mediator")]
    NotInMediation,
    #[error("a decision needs a written reason")]
    ReasonMissing,
    #[error("no return is expected")]
    NoReturnExpected,
    #[error("the time to ship the return has passed")]
    ReturnShipByPassed,
    #[error("the return is not shipped")]
    ReturnNotShipped,
    #[error("the return is already delivered")]
    ReturnAlreadyDelivered,
    #[error("the timer is not due for this dispute any more")]
    TimerNotDue,
}

impl DisputeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DisputeError::NotPermitted(_) => ErrorCode::NotPermitted,
            DisputeError::TooEarly(_) => ErrorCode::DisputeTooEarly,
            DisputeError::WindowClosed => ErrorCode::DisputeWindowClosed,
            DisputeError::OrderCancelled => ErrorCode::OrderCancelled,
            DisputeError::CashNotCollected => ErrorCode::CashNotCollected,
            DisputeError::AlreadyOpen => ErrorCode::DisputeAlreadyOpen,
            DisputeError::ClaimOpen => ErrorCode::NonDeliveryClaimOpen,
            DisputeError::CounterfeitOnly => ErrorCode::ReleasedOrderCounterfeitOnly,
            DisputeError::ZeroAmount => ErrorCode::ZeroAmount,
            DisputeError::ExceedsHeld { .. } => ErrorCode::OutcomeExceedsHeld,
            DisputeError::CounterfeitExceedsLimit { .. } => ErrorCode::CounterfeitExceedsLimit,
            DisputeError::Money(e) => e.code(),
            DisputeError::Closed => ErrorCode::DisputeClosed,
            DisputeError::NotNegotiating => ErrorCode::DisputeNotNegotiating,
            DisputeError::AlreadyAnswered => ErrorCode::DisputeAlreadyAnswered,
            DisputeError::AnswerLate => ErrorCode::DisputeAnswerLate,
            DisputeError::NoCounterOffer => ErrorCode::NoCounterOffer,
            DisputeError::EscalationTooEarly(_) => ErrorCode::EscalationTooEarly,
            DisputeError::NotInMediation => ErrorCode::DisputeNotInMediation,
            DisputeError::ReasonMissing => ErrorCode::DecisionReasonMissing,
            DisputeError::NoReturnExpected => ErrorCode::NoReturnExpected,
            DisputeError::ReturnShipByPassed => ErrorCode::ReturnShipByPassed,
            DisputeError::ReturnNotShipped => ErrorCode::ReturnNotShipped,
            DisputeError::ReturnAlreadyDelivered => ErrorCode::ReturnAlreadyDelivered,
            DisputeError::TimerNotDue => ErrorCode::TimerNotDue,
        }
    }
}

/// What happened, for the outbox and webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeEvent {
    Opened,
    Responded(Answer),
    CounterAccepted,
    Escalated(Escalation),
    MediationOverdue,
    Decided(Outcome),
    ReturnShipped,
    ReturnDelivered,
    ReturnReceived,
    /// The dispute closed: the order applies `settlement` in the same unit.
    Closed(Settlement),
}

impl DisputeEvent {
    pub fn name(&self) -> &'static str {
        match self {
            DisputeEvent::Opened => "dispute.opened",
            DisputeEvent::Responded(_) => "dispute.responded",
            DisputeEvent::CounterAccepted => "dispute.counter_accepted",
            DisputeEvent::Escalated(_) => "dispute.escalated",
            DisputeEvent::MediationOverdue => "dispute.mediation_overdue",
            DisputeEvent::Decided(_) => "dispute.decided",
            DisputeEvent::ReturnShipped => "return.shipped",
            DisputeEvent::ReturnDelivered => "return.delivered",
            DisputeEvent::ReturnReceived => "return.received",
            DisputeEvent::Closed(_) => "dispute.closed",
        }
    }
}

/// The decision for one command: persisted in one transaction with its reactions, or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeDecision {
    pub dispute: Dispute,
    pub events: Vec<DisputeEvent>,
    /// Timers to set (replacing a timer of the same kind on this dispute), and to cancel.
    pub set_timers: Vec<(DisputeTimer, i64)>,
    pub cancel_timers: Vec<DisputeTimer>,
}

/// What the buyer opens a dispute with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: String,
    pub reason: DisputeReason,
    pub request: Request,
}

/// Checks an amount given for an order: same currency, more than zero.
fn positive(amount: Money, paid: Money) -> Result<(), DisputeError> {
    if amount.currency() != paid.currency() {
        return Err(MoneyError::CurrencyMismatch {
            left: paid.currency(),
            right: amount.currency(),
        }
        .into());
    }
    if amount.is_zero() {
        return Err(DisputeError::ZeroAmount);
    }
    Ok(())
}

/// The order side of an open: the money facts a dispute keeps.
fn held_of(order: &Order) -> Result<Money, DisputeError> {
    Ok(Money::from_minor(order.held(), order.captured.currency())?)
}
