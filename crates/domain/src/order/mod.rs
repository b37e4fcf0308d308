//! Escrow orders: the buyer's money is captured at checkout and held per order until the buyer
//! confirms receipt or the protection period ends (then released to the seller, less
//! commission), or it is refunded.
//!
//! An [`Order`] keeps the facts fixed at checkout (buyer, seller, amount, deadlines) and a
//! [`OrderState`]: a sum type whose variants carry the data of that stage only, so that, say, a
//! cancellation request on a shipped order cannot be written down.
//!
//! `decide(order, actor, command, now, policy)` is pure. Its [`Decision`] is data: the next
//! order, the ledger transfers to post (atomically with the order), the events, and the timers to
//! set or cancel. Money owed back to the buyer leaves the escrow for the *refunds payable* account
//! and is announced as [`OrderEvent::RefundDue`]; the payment and its refund take it from there
//! (see `process`). Deadlines are checked here, against `now`, so a late shipment or a late
//! cancellation answer is refused whenever the scheduler happens to run. A timer that fires after
//! the order has moved on is rejected as [`OrderError::TimerNotDue`], which the scheduler treats
//! as done: a timer may fire more than once, its effect happens at most once.

use std::fmt;

use crate::ErrorCode;
use crate::ids::InvalidId;
use crate::ledger::{AccountSpec, TransferRequest};
use crate::money::{Money, MoneyError};

pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;

mod accounts;
mod awaiting;
mod commission;
mod guarantee;
mod rules;
mod settle;

pub use accounts::{EscrowAccounts, SellerAccounts, SharedAccounts, buyer_balance, mode};
pub use awaiting::placed;
pub use commission::{Commission, CommissionRule};
pub use guarantee::DeliveryGuarantees;
use rules::{paid_state, shipped_state};
pub use settle::Settlement;

/// The timings of the order lifecycle, in milliseconds. Every number is a default that
/// configuration may override per marketplace, seller or shipping method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderPolicy {
    /// After a buyer asks to cancel before shipment, the seller must answer within this.
    pub cancel_answer: i64,
    /// Protection ends this long after a delivered event, if that is sooner than the guarantee.
    pub after_delivery: i64,
    /// The buyer's own extension: once, by this much ...
    pub buyer_extension: i64,
    /// ... and only when at most this much protection remains.
    pub buyer_extension_window: i64,
    /// Extensions the seller approves add up to at most this.
    pub seller_extension_max: i64,
    /// After a non-delivery claim opens, the seller has this long to show a delivery.
    pub claim_answer: i64,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        OrderPolicy {
            cancel_answer: 48 * HOUR,
            after_delivery: 15 * DAY,
            buyer_extension: 3 * DAY,
            buyer_extension_window: 3 * DAY,
            seller_extension_max: 30 * DAY,
            claim_answer: 5 * DAY,
        }
    }
}

/// The order's status as the API shows it: one per [`OrderState`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    Shipped,
    Delivered,
    Completed,
    Cancelled,
    Expired,
    AwaitingRemittance,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::AwaitingRemittance,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::AwaitingRemittance => "awaiting_remittance",
        }
    }

    pub fn parse(code: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Completed and cancelled orders hold nothing and accept no further change.
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Completed | OrderStatus::Cancelled)
    }
}

/// Who is acting. Object-level access (is this the order's buyer?) is the shell's check; the
/// role a command needs is the core's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Buyer,
    Seller,
    Platform,
    Carrier,
    Scheduler,
    /// A mediator deciding an escalated dispute (gives no order command).
    Mediator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    ShipBy,
    CancelAnswer,
    ProtectionEnd,
    /// The seller's time to show a delivery after a non-delivery claim opened.
    ClaimAnswer,
}

impl TimerKind {
    pub const ALL: [TimerKind; 4] = [
        TimerKind::ShipBy,
        TimerKind::CancelAnswer,
        TimerKind::ProtectionEnd,
        TimerKind::ClaimAnswer,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TimerKind::ShipBy => "ship_by",
            TimerKind::CancelAnswer => "cancel_answer",
            TimerKind::ProtectionEnd => "protection_end",
            TimerKind::ClaimAnswer => "claim_answer",
        }
    }

    pub fn parse(code: &str) -> Option<TimerKind> {
        TimerKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub carrier: String,
    pub tracking: String,
    pub shipped_at: i64,
}

/// The protection clock of a shipped order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// When protection ends and the hold is released (auto-confirm).
    pub ends: i64,
    pub buyer_extended: bool,
    /// Extensions the seller has approved so far (ms).
    pub seller_extended: i64,
    /// An extension the buyer asked the seller for, not yet answered (ms).
    pub extension_requested: Option<i64>,
}

/// The dispute open on an order: its protection clock is stopped with `remaining` left (ms), and
/// nothing leaves the hold but through the dispute's settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDispute {
    pub id: String,
    pub opened_at: i64,
    /// Protection left when the dispute opened (0 for an order already completed).
    pub remaining: i64,
}

/// Where an order's hold went when it was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub to_seller: i64,
    pub commission: i64,
}

/// Where an order is, with the data of that stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// Placed with a payment method that confirms later (a bank transfer, a wallet): nothing is
    /// held yet. The payment's expiry (`expires_at`) cancels it unpaid; the payment's
    /// confirmation pays it, and the seller then has `ship_by_ms` to ship.
    AwaitingPayment { expires_at: i64, ship_by_ms: i64 },
    /// Paid and held; the seller must ship by the order's `ship_by`. `cancel_requested` is when
    /// the buyer asked to cancel, if the seller has not answered yet.
    Paid { cancel_requested: Option<i64> },
    /// Shipped, not delivered. `claim` is when a non-delivery claim opened (the delivery
    /// guarantee passed with no delivered event): protection has not ended, the hold stays, and
    /// the seller has [`OrderPolicy::claim_answer`] to show a delivery before the buyer is
    /// refunded in full.
    Shipped {
        shipment: Shipment,
        protection: Protection,
        claim: Option<i64>,
    },
    Delivered {
        shipment: Shipment,
        delivered_at: i64,
        protection: Protection,
    },
    /// The hold was released to the seller.
    Completed {
        shipment: Option<Shipment>,
        delivered_at: Option<i64>,
        release: Release,
        completed_at: i64,
    },
    /// Its payment expired before it came: cancelled unpaid, nothing was ever held.
    Expired { expired_at: i64 },
    /// Paid at the door: its release fell due at `due_at` (confirmed or auto-confirmed), and
    /// the hold waits until the carrier's remittance for its parcel is matched.
    AwaitingRemittance {
        shipment: Shipment,
        delivered_at: i64,
        due_at: i64,
    },
    /// Everything held was refunded.
    Cancelled {
        shipment: Option<Shipment>,
        delivered_at: Option<i64>,
        cancelled_at: i64,
    },
}

impl OrderState {
    pub fn status(&self) -> OrderStatus {
        match self {
            OrderState::AwaitingPayment { .. } => OrderStatus::AwaitingPayment,
            OrderState::Paid { .. } => OrderStatus::Paid,
            OrderState::Shipped { .. } => OrderStatus::Shipped,
            OrderState::Delivered { .. } => OrderStatus::Delivered,
            OrderState::Completed { .. } => OrderStatus::Completed,
            OrderState::Cancelled { .. } => OrderStatus::Cancelled,
            OrderState::Expired { .. } => OrderStatus::Expired,
            OrderState::AwaitingRemittance { .. } => OrderStatus::AwaitingRemittance,
        }
    }
}

/// One order: what one buyer bought from one seller, and the escrow hold for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub buyer: String,
    pub seller: String,
    /// The payment that captured this order's money (refunds go back to it).
    pub payment: String,
    /// What the buyer paid for this order; held in the order's escrow account.
    pub captured: Money,
    /// Taken out of the escrow for the buyer so far (minor units, same currency).
    pub refunded: i64,
    /// Given back to the buyer's payment after the release, charged to the seller (a
    /// counterfeit outcome on a completed order): the order's refunds add up to `refunded` plus
    /// this, while `refunded` + released stays the captured amount.
    pub charged_to_seller: i64,
    /// The dispute open on this order, if any (at most one).
    pub dispute: Option<OpenDispute>,
    pub commission: Commission,
    /// Live or test mode: an order is seen only by keys of its own mode, and its money moves
    /// through that mode's accounts.
    pub livemode: bool,
    pub paid_at: i64,
    /// The seller's deadline to ship, fixed at payment.
    pub ship_by: i64,
    /// The shipping method chosen at checkout, and its delivery guarantee (ms from shipment).
    pub shipping_method: String,
    pub delivery_guarantee: i64,
    pub state: OrderState,
    /// What the platform paid of `captured` (a platform-funded coupon); the buyer paid the rest.
    pub promotion: i64,
    /// Of what left the escrow as refunds, what went back to the platform's promotions rather
    /// than to the buyer (a refund gives the buyer back at most what the buyer paid).
    pub promotion_returned: i64,
    /// Paid at the door: the hold is released only after the carrier's remittance for the
    /// parcel is matched (see [`OrderState::AwaitingRemittance`]).
    pub cash_on_delivery: bool,
}

impl Order {
    /// The order `plan` fixed at checkout, for `buyer` by `payment`, as of `now`, in `state`.
    pub(crate) fn planned(
        plan: &OrderPlan,
        buyer: &str,
        payment: &str,
        livemode: bool,
        now: i64,
        ship_by: i64,
        state: OrderState,
    ) -> Order {
        Order {
            id: plan.id.clone(),
            buyer: buyer.to_string(),
            seller: plan.seller.clone(),
            payment: payment.to_string(),
            captured: plan.amount,
            refunded: 0,
            charged_to_seller: 0,
            dispute: None,
            commission: plan.commission,
            livemode,
            paid_at: now,
            ship_by,
            shipping_method: plan.shipping_method.clone(),
            delivery_guarantee: plan.delivery_guarantee,
            state,
            promotion: plan.promotion,
            promotion_returned: 0,
            cash_on_delivery: plan.cash_on_delivery,
        }
    }

    pub fn status(&self) -> OrderStatus {
        self.state.status()
    }

    pub fn release(&self) -> Option<Release> {
        match &self.state {
            OrderState::Completed { release, .. } => Some(*release),
            _ => None,
        }
    }

    /// What the escrow still holds for this order.
    pub fn held(&self) -> i64 {
        match self.state {
            OrderState::AwaitingPayment { .. }
            | OrderState::Expired { .. }
            | OrderState::Completed { .. }
            | OrderState::Cancelled { .. } => 0,
            _ => self.captured.minor() - self.refunded,
        }
    }

    pub fn shipment(&self) -> Option<&Shipment> {
        match &self.state {
            OrderState::AwaitingPayment { .. }
            | OrderState::Expired { .. }
            | OrderState::Paid { .. } => None,
            OrderState::Shipped { shipment, .. }
            | OrderState::Delivered { shipment, .. }
            | OrderState::AwaitingRemittance { shipment, .. } => Some(shipment),
            OrderState::Completed { shipment, .. } | OrderState::Cancelled { shipment, .. } => {
                shipment.as_ref()
            }
        }
    }

    pub fn delivered_at(&self) -> Option<i64> {
        match &self.state {
            OrderState::Delivered { delivered_at, .. }
            | OrderState::AwaitingRemittance { delivered_at, .. } => Some(*delivered_at),
            OrderState::Completed { delivered_at, .. }
            | OrderState::Cancelled { delivered_at, .. } => *delivered_at,
            _ => None,
        }
    }

    pub fn protection(&self) -> Option<&Protection> {
        match &self.state {
            OrderState::Shipped { protection, .. } | OrderState::Delivered { protection, .. } => {
                Some(protection)
            }
            _ => None,
        }
    }

    /// When the open non-delivery claim opened, if one is open.
    pub fn claim(&self) -> Option<i64> {
        match self.state {
            OrderState::Shipped { claim, .. } => claim,
            _ => None,
        }
    }

    pub fn cancel_requested(&self) -> Option<i64> {
        match self.state {
            OrderState::Paid { cancel_requested } => cancel_requested,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    Ship {
        carrier: String,
        tracking: String,
    },
    MarkDelivered,
    ConfirmReceipt,
    RequestCancel,
    AnswerCancel {
        accept: bool,
    },
    Refund {
        amount: Money,
    },
    ExtendProtection,
    RequestExtension {
        days: u32,
    },
    AnswerExtension {
        approve: bool,
    },
    /// A dispute opened on the order (a reaction): the protection clock stops.
    OpenDispute {
        dispute: String,
    },
    /// The dispute closed (a reaction): its money movement, in one transaction.
    Settle {
        dispute: String,
        settlement: Settlement,
    },
    Fire(TimerKind),
    /// The payment of an order awaiting it was confirmed (a reaction): the money moves into
    /// the escrow and the ship-by clock starts.
    Pay,
    /// The payment of an order awaiting it expired unpaid (a reaction): nothing was captured.
    CancelUnpaid,
    /// The carrier collected the cash of a cash-on-delivery order at the door (a reaction):
    /// delivered. Such an order is delivered this way only, never by `MarkDelivered`.
    MarkCollected,
    /// The carrier brought a cash-on-delivery parcel back (refused at the door, or not
    /// deliverable): the order is cancelled and its hold given back.
    ReturnToOrigin,
    /// The carrier's remittance for the parcel of an order awaiting it was matched: the hold
    /// is released.
    ReleaseRemitted,
}

impl OrderCommand {
    pub fn code(&self) -> &'static str {
        match self {
            OrderCommand::Ship { .. } => "ship",
            OrderCommand::MarkDelivered => "mark_delivered",
            OrderCommand::ConfirmReceipt => "confirm_receipt",
            OrderCommand::RequestCancel => "request_cancel",
            OrderCommand::AnswerCancel { .. } => "answer_cancel",
            OrderCommand::Refund { .. } => "refund",
            OrderCommand::ExtendProtection => "extend_protection",
            OrderCommand::RequestExtension { .. } => "request_extension",
            OrderCommand::AnswerExtension { .. } => "answer_extension",
            OrderCommand::OpenDispute { .. } => "open_dispute",
            OrderCommand::Settle { .. } => "settle_dispute",
            OrderCommand::Fire(_) => "fire_timer",
            OrderCommand::Pay => "pay",
            OrderCommand::CancelUnpaid => "cancel_unpaid",
            OrderCommand::ReturnToOrigin => "return_to_origin",
            OrderCommand::MarkCollected => "mark_collected",
            OrderCommand::ReleaseRemitted => "release_remitted",
        }
    }

    /// The roles that may give this command.
    pub fn allowed(&self, actor: Actor) -> bool {
        use Actor::*;
        let roles: &[Actor] = match self {
            OrderCommand::Ship { .. } => &[Seller, Platform],
            OrderCommand::MarkDelivered | OrderCommand::ReturnToOrigin => &[Carrier, Platform],
            OrderCommand::ReleaseRemitted => &[Platform, Scheduler],
            OrderCommand::ConfirmReceipt => &[Buyer, Platform],
            OrderCommand::RequestCancel => &[Buyer, Platform],
            OrderCommand::AnswerCancel { .. } => &[Seller, Platform],
            OrderCommand::Refund { .. } => &[Seller, Platform],
            OrderCommand::ExtendProtection => &[Buyer],
            OrderCommand::RequestExtension { .. } => &[Buyer],
            OrderCommand::AnswerExtension { .. } => &[Seller],
            OrderCommand::OpenDispute { .. }
            | OrderCommand::Settle { .. }
            | OrderCommand::Pay
            | OrderCommand::CancelUnpaid
            | OrderCommand::MarkCollected => &[Platform],
            OrderCommand::Fire(_) => &[Scheduler],
        };
        roles.contains(&actor)
    }
}

/// Why an order command was refused. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("this role may not {0}")]
    NotPermitted(&'static str),
    #[error("the order is not shipped yet")]
    NotShipped,
    #[error("the order is already shipped")]
    AlreadyShipped,
    #[error("the order is not delivered yet")]
    NotDelivered,
    #[error("the order is already delivered")]
    AlreadyDelivered,
    #[error("the order's hold was already released to the seller")]
    AlreadyReleased,
    #[error("the order is cancelled")]
    Cancelled,
    #[error("a refund must be more than zero")]
    ZeroAmount,
    #[error("the refund of {requested} exceeds the {remaining} still held")]
    RefundExceedsHeld { requested: i64, remaining: i64 },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("no cancellation is waiting for an answer")]
    NoCancelRequest,
    #[error("a cancellation was already requested")]
    CancelAlreadyRequested,
    #[error("the ship-by deadline has passed: the order is being cancelled and refunded")]
    ShipByPassed,
    #[error("the time to answer the cancellation has passed: it is granted")]
    CancelAnswerLate,
    #[error("protection can be extended only when at most {0} ms remain")]
    ExtensionTooEarly(i64),
    #[error("the protection period has already ended")]
    ProtectionEnded,
    #[error("the buyer's own extension was already used")]
    ExtensionUsed,
    #[error("an extension must be 1 to 30 days and within the seller's limit")]
    ExtensionOutOfRange,
    #[error("no extension request is waiting for an answer")]
    NoExtensionRequest,
    #[error("the timer is not due for this order any more")]
    TimerNotDue,
    #[error("a dispute is open on this order: its hold moves only by the dispute's outcome")]
    DisputeOpen,
    #[error("a dispute is already open on this order")]
    DisputeAlreadyOpen,
    #[error("no such dispute is open on this order")]
    NoOpenDispute,
    #[error("a non-delivery claim is open on this order")]
    ClaimOpen,
    #[error("the order is awaiting its payment")]
    AwaitingPayment,
    #[error("the order is not awaiting a payment")]
    NotAwaitingPayment,
    #[error("the order's release waits for the carrier's remittance")]
    AwaitingRemittance,
    #[error("the order is not awaiting a remittance")]
    NotAwaitingRemittance,
    #[error("the order is not paid by cash on delivery")]
    NotCashOnDelivery,
    #[error("a cash-on-delivery order is delivered when its carrier reports the cash collected")]
    CashNotCollected,
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
}

impl OrderError {
    pub fn code(&self) -> ErrorCode {
        match self {
            OrderError::NotPermitted(_) => ErrorCode::NotPermitted,
            OrderError::NotShipped => ErrorCode::OrderNotShipped,
            OrderError::AlreadyShipped => ErrorCode::OrderAlreadyShipped,
            OrderError::NotDelivered => ErrorCode::OrderNotDelivered,
            OrderError::AlreadyDelivered => ErrorCode::OrderAlreadyDelivered,
            OrderError::AlreadyReleased => ErrorCode::HoldAlreadyReleased,
            OrderError::Cancelled => ErrorCode::OrderCancelled,
            OrderError::ZeroAmount => ErrorCode::ZeroAmount,
            OrderError::RefundExceedsHeld { .. } => ErrorCode::RefundExceedsHeld,
            OrderError::Money(e) => e.code(),
            OrderError::NoCancelRequest => ErrorCode::NoCancelRequest,
            OrderError::CancelAlreadyRequested => ErrorCode::CancelAlreadyRequested,
            OrderError::ShipByPassed => ErrorCode::ShipByPassed,
            OrderError::CancelAnswerLate => ErrorCode::CancelAnswerLate,
            OrderError::ExtensionTooEarly(_) => ErrorCode::ExtensionTooEarly,
            OrderError::ProtectionEnded => ErrorCode::ProtectionEnded,
            OrderError::ExtensionUsed => ErrorCode::ExtensionAlreadyUsed,
            OrderError::ExtensionOutOfRange => ErrorCode::ExtensionOutOfRange,
            OrderError::NoExtensionRequest => ErrorCode::NoExtensionRequest,
            OrderError::TimerNotDue => ErrorCode::TimerNotDue,
            OrderError::DisputeOpen => ErrorCode::DisputeOpen,
            OrderError::DisputeAlreadyOpen => ErrorCode::DisputeAlreadyOpen,
            OrderError::NoOpenDispute => ErrorCode::NoOpenDispute,
            OrderError::ClaimOpen => ErrorCode::NonDeliveryClaimOpen,
            OrderError::InvalidId(_) => ErrorCode::InvalidId,
            OrderError::AwaitingPayment => ErrorCode::OrderAwaitingPayment,
            OrderError::NotAwaitingPayment => ErrorCode::OrderNotAwaitingPayment,
            OrderError::AwaitingRemittance => ErrorCode::OrderAwaitingRemittance,
            OrderError::NotAwaitingRemittance => ErrorCode::OrderNotAwaitingRemittance,
            OrderError::NotCashOnDelivery => ErrorCode::NotCashOnDelivery,
            OrderError::CashNotCollected => ErrorCode::CashNotCollected,
        }
    }
}

/// Why money is being given back: carried by the refund it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundReason {
    /// The seller or the platform refunded on request.
    Requested,
    /// The seller did not ship in time.
    ShipByMissed,
    /// The seller accepted the buyer's cancellation.
    CancelAccepted,
    /// The seller did not answer the buyer's cancellation in time.
    CancelUnanswered,
    /// The delivery guarantee passed and the seller did not show a delivery in time.
    NotDelivered,
    /// A dispute's outcome.
    Dispute,
    /// The buyer sent more than was due (or sent again after the payment was complete).
    Overpaid,
    /// The payment expired before all of its money came: what came goes back.
    PaymentExpired,
    /// A cash-on-delivery parcel came back: refused at the door or not deliverable.
    ReturnedToOrigin,
}

impl RefundReason {
    pub const ALL: [RefundReason; 9] = [
        RefundReason::Requested,
        RefundReason::ShipByMissed,
        RefundReason::CancelAccepted,
        RefundReason::CancelUnanswered,
        RefundReason::NotDelivered,
        RefundReason::Dispute,
        RefundReason::Overpaid,
        RefundReason::PaymentExpired,
        RefundReason::ReturnedToOrigin,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RefundReason::Requested => "requested",
            RefundReason::ShipByMissed => "ship_by_missed",
            RefundReason::CancelAccepted => "cancel_accepted",
            RefundReason::CancelUnanswered => "cancel_unanswered",
            RefundReason::NotDelivered => "not_delivered",
            RefundReason::Dispute => "dispute",
            RefundReason::Overpaid => "overpaid",
            RefundReason::PaymentExpired => "payment_expired",
            RefundReason::ReturnedToOrigin => "returned_to_origin",
        }
    }

    pub fn parse(code: &str) -> Option<RefundReason> {
        RefundReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// What happened, for the outbox and webhooks (`resource.past_tense_verb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    /// Placed awaiting a payment that confirms later.
    Placed,
    /// Its payment expired unpaid: cancelled, nothing was held.
    Expired,
    Paid,
    Shipped,
    Delivered,
    CancelRequested,
    CancelRejected,
    Cancelled,
    ProtectionExtended {
        until: i64,
    },
    ExtensionRequested {
        days: u32,
    },
    ExtensionDeclined,
    Completed,
    HoldReleased {
        to_seller: i64,
        commission: i64,
    },
    /// `amount` left the escrow for refunds payable; the payment owes it to the buyer.
    RefundDue {
        amount: Money,
        reason: RefundReason,
    },
    /// The delivery guarantee passed with no delivered event.
    ClaimOpened,
    /// A delivered event answered the open non-delivery claim.
    ClaimResolved,
    /// A dispute stopped the protection clock.
    ProtectionPaused,
    /// The dispute closed without moving the hold: the clock runs again until `until`.
    ProtectionResumed {
        until: i64,
    },
    /// Charged to the seller (its debt account): `to_payment` back to the buyer's payment (also
    /// announced as `RefundDue`), `to_balance` to the buyer's balance.
    ChargedToSeller {
        to_payment: i64,
        to_balance: i64,
    },
    /// Paid at the door: its release is due, and waits for the carrier's remittance.
    AwaitingRemittance,
    /// Its parcel came back to the seller.
    ReturnedToOrigin,
}

impl OrderEvent {
    pub fn name(&self) -> &'static str {
        match self {
            OrderEvent::Placed => "order.placed",
            OrderEvent::Expired => "order.expired",
            OrderEvent::Paid => "order.paid",
            OrderEvent::Shipped => "order.shipped",
            OrderEvent::Delivered => "order.delivered",
            OrderEvent::CancelRequested => "order.cancel_requested",
            OrderEvent::CancelRejected => "order.cancel_rejected",
            OrderEvent::Cancelled => "order.cancelled",
            OrderEvent::ProtectionExtended { .. } => "order.protection_extended",
            OrderEvent::ExtensionRequested { .. } => "order.extension_requested",
            OrderEvent::ExtensionDeclined => "order.extension_declined",
            OrderEvent::Completed => "order.completed",
            OrderEvent::HoldReleased { .. } => "hold.released",
            OrderEvent::RefundDue { .. } => "order.refund_due",
            OrderEvent::ClaimOpened => "order.claim_opened",
            OrderEvent::ClaimResolved => "order.claim_resolved",
            OrderEvent::ProtectionPaused => "order.protection_paused",
            OrderEvent::ProtectionResumed { .. } => "order.protection_resumed",
            OrderEvent::ChargedToSeller { .. } => "order.charged_to_seller",
            OrderEvent::AwaitingRemittance => "order.awaiting_remittance",
            OrderEvent::ReturnedToOrigin => "order.returned_to_origin",
        }
    }
}

/// The decision for one command: all of it is persisted in one transaction, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub order: Order,
    pub accounts: Vec<AccountSpec>,
    pub transfers: Vec<TransferRequest>,
    pub events: Vec<OrderEvent>,
    /// Timers to set (replacing a timer of the same kind on this order).
    pub set_timers: Vec<(TimerKind, i64)>,
    pub cancel_timers: Vec<TimerKind>,
}
impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "order {} ({}, holds {})",
            self.id,
            self.status().code(),
            self.held()
        )
    }
}

/// What checkout fixes for one order before any money moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlan {
    pub id: String,
    pub seller: String,
    pub amount: Money,
    pub commission: Commission,
    /// How long the seller has to ship, from payment.
    pub ship_by_ms: i64,
    pub shipping_method: String,
    pub delivery_guarantee: i64,
    /// What the platform pays of `amount` (a platform-funded coupon): the buyer pays the rest,
    /// the escrow holds all of it, and the seller is paid on all of it.
    pub promotion: i64,
    /// Paid at the door (see [`Order::cash_on_delivery`]).
    pub cash_on_delivery: bool,
}

/// A new order whose payment was captured: opens its accounts, moves the money from card
/// clearing into its escrow, and sets the ship-by timer.
pub fn paid(
    plan: &OrderPlan,
    buyer: &str,
    payment: &str,
    livemode: bool,
    now: i64,
) -> Result<Decision, OrderError> {
    let paid = OrderState::Paid {
        cancel_requested: None,
    };
    let order = Order::planned(
        plan,
        buyer,
        payment,
        livemode,
        now,
        now + plan.ship_by_ms,
        paid,
    );
    let accounts = EscrowAccounts::of(&order)?;
    Ok(Decision {
        accounts: accounts.specs_for(&order),
        transfers: accounts.fund(&order)?,
        events: vec![OrderEvent::Paid],
        set_timers: vec![(TimerKind::ShipBy, order.ship_by)],
        cancel_timers: vec![],
        order,
    })
}

/// Decides one command against one order.
pub fn decide(
    order: &Order,
    actor: Actor,
    command: &OrderCommand,
    now: i64,
    policy: &OrderPolicy,
) -> Result<Decision, OrderError> {
    if !command.allowed(actor) {
        return Err(OrderError::NotPermitted(command.code()));
    }
    let mut d = Decision {
        order: order.clone(),
        accounts: vec![],
        transfers: vec![],
        events: vec![],
        set_timers: vec![],
        cancel_timers: vec![],
    };
    // a cash-on-delivery order is delivered by the collection of its cash, and only so
    let command = match (command, order.cash_on_delivery) {
        (OrderCommand::MarkCollected, true) => &OrderCommand::MarkDelivered,
        (OrderCommand::MarkCollected, false) => return Err(OrderError::NotCashOnDelivery),
        (OrderCommand::MarkDelivered, true) => return Err(OrderError::CashNotCollected),
        (other, _) => other,
    };
    if let Some(dispute) = &order.dispute {
        return settle::disputed(&mut d, dispute, command, now, policy).map(|()| d);
    }
    match &order.state {
        OrderState::AwaitingPayment { ship_by_ms, .. } => {
            awaiting::decide(&mut d, *ship_by_ms, command, now)?;
        }
        OrderState::Completed { .. } => settle::completed(&mut d, now, command)?,
        OrderState::AwaitingRemittance { .. } => match command {
            OrderCommand::ReleaseRemitted => rules::release(&mut d, now)?,
            OrderCommand::Fire(_) => return Err(OrderError::TimerNotDue),
            _ => return Err(OrderError::AwaitingRemittance),
        },
        OrderState::Cancelled { .. } | OrderState::Expired { .. } => {
            return Err(OrderError::Cancelled);
        }
        OrderState::Paid { cancel_requested } => {
            paid_state(&mut d, *cancel_requested, command, now, policy)?;
        }
        OrderState::Shipped {
            shipment,
            protection,
            claim: Some(opened),
        } => rules::claimed(&mut d, shipment, protection, *opened, command, now, policy)?,
        OrderState::Shipped {
            shipment,
            protection,
            claim: None,
        } => shipped_state(&mut d, shipment, None, protection, command, now, policy)?,
        OrderState::Delivered {
            shipment,
            delivered_at,
            protection,
        } => shipped_state(
            &mut d,
            shipment,
            Some(*delivered_at),
            protection,
            command,
            now,
            policy,
        )?,
    }
    Ok(d)
}
