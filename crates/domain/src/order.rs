//! Escrow orders: the buyer's money is captured at checkout and held per order until the buyer
//! confirms receipt or the protection period ends (then released to the seller, less
//! commission), or it is refunded.
//!
//! `decide(order, actor, command, now, policy)` is pure. Its [`Decision`] is data: the next
//! order, the ledger transfers to post (atomically with the order), the events for the outbox,
//! and the timers to set or cancel. A timer that fires after the order has moved on is rejected
//! as [`OrderError::TimerNotDue`], which the scheduler treats as done: a timer may fire more than
//! once, its effect happens at most once.

use std::fmt;

use crate::ids::{AccountId, InvalidId};
use crate::ledger::{AccountKind, AccountSpec, TransferRequest};
use crate::money::{Currency, Money, MoneyError};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// How commission is charged at release: a percentage (in basis points) plus a fixed part, in
/// minor units, never more than the amount released. The percentage rounds half up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commission {
    pub basis_points: u32,
    pub fixed_minor: i64,
}

impl Commission {
    /// Commission on `amount` minor units.
    pub fn on(self, amount: i64) -> i64 {
        let percent = (i128::from(amount) * i128::from(self.basis_points) + 5_000) / 10_000;
        let total = i128::from(self.fixed_minor) + percent;
        i64::try_from(total.clamp(0, i128::from(amount))).unwrap_or(amount)
    }
}

/// The timings of DOMAIN.md §4, in milliseconds, and the commission. Every number is a default
/// that configuration may override per marketplace, seller or shipping method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderPolicy {
    /// After payment, the seller must ship within this.
    pub ship_by: i64,
    /// After a buyer asks to cancel before shipment, the seller must answer within this.
    pub cancel_answer: i64,
    /// The delivery guarantee given to orders whose checkout names no shipping method, from
    /// shipment (each order keeps the guarantee of its own method).
    pub delivery_guarantee: i64,
    /// Protection ends this long after a delivered event, if that is sooner.
    pub after_delivery: i64,
    /// The buyer's own extension: once, by this much ...
    pub buyer_extension: i64,
    /// ... and only when at most this much protection remains.
    pub buyer_extension_window: i64,
    /// Extensions the seller approves add up to at most this.
    pub seller_extension_max: i64,
    pub commission: Commission,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        OrderPolicy {
            ship_by: 7 * DAY,
            cancel_answer: 48 * HOUR,
            delivery_guarantee: 30 * DAY,
            after_delivery: 15 * DAY,
            buyer_extension: 3 * DAY,
            buyer_extension_window: 3 * DAY,
            seller_extension_max: 30 * DAY,
            commission: Commission {
                basis_points: 500,
                fixed_minor: 0,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    Paid,
    Shipped,
    Delivered,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    ShipBy,
    CancelAnswer,
    ProtectionEnd,
}

impl TimerKind {
    pub fn code(self) -> &'static str {
        match self {
            TimerKind::ShipBy => "ship_by",
            TimerKind::CancelAnswer => "cancel_answer",
            TimerKind::ProtectionEnd => "protection_end",
        }
    }

    pub fn parse(code: &str) -> Option<TimerKind> {
        [
            TimerKind::ShipBy,
            TimerKind::CancelAnswer,
            TimerKind::ProtectionEnd,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub carrier: String,
    pub tracking: String,
    pub shipped_at: i64,
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
    /// Refunded so far (minor units, same currency).
    pub refunded: i64,
    /// Set at release: (to the seller, commission).
    pub released: Option<(i64, i64)>,
    pub status: OrderStatus,
    pub paid_at: i64,
    pub ship_by: i64,
    pub shipment: Option<Shipment>,
    pub delivered_at: Option<i64>,
    pub protection_ends: Option<i64>,
    pub cancel_requested_at: Option<i64>,
    pub buyer_extended: bool,
    /// An extension the buyer asked the seller for, not yet answered (ms).
    pub extension_requested: Option<i64>,
    /// Extensions the seller has approved so far (ms).
    pub seller_extended: i64,
    pub commission: Commission,
    /// Live or test mode: an order is seen only by keys of its own mode.
    pub livemode: bool,
    /// The shipping method chosen at checkout, and its delivery guarantee (ms from shipment).
    pub shipping_method: String,
    pub delivery_guarantee: i64,
}

impl Order {
    /// What the escrow still holds for this order.
    pub fn held(&self) -> i64 {
        match self.released {
            Some(_) => 0,
            None => self.captured.minor() - self.refunded,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    Ship { carrier: String, tracking: String },
    MarkDelivered,
    ConfirmReceipt,
    RequestCancel,
    AnswerCancel { accept: bool },
    Refund { amount: Money },
    ExtendProtection,
    RequestExtension { days: u32 },
    AnswerExtension { approve: bool },
    Fire(TimerKind),
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
            OrderCommand::Fire(_) => "fire_timer",
        }
    }

    /// The roles that may give this command.
    fn allowed(&self, actor: Actor) -> bool {
        use Actor::*;
        let roles: &[Actor] = match self {
            OrderCommand::Ship { .. } => &[Seller, Platform],
            OrderCommand::MarkDelivered => &[Carrier, Platform],
            OrderCommand::ConfirmReceipt => &[Buyer, Platform],
            OrderCommand::RequestCancel => &[Buyer, Platform],
            OrderCommand::AnswerCancel { .. } => &[Seller, Platform],
            OrderCommand::Refund { .. } => &[Seller, Platform],
            OrderCommand::ExtendProtection => &[Buyer],
            OrderCommand::RequestExtension { .. } => &[Buyer],
            OrderCommand::AnswerExtension { .. } => &[Seller],
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
    #[error("the refund of {requested} exceeds the {remaining} still held")]
    RefundExceedsHeld { requested: i64, remaining: i64 },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("no cancellation is waiting for an answer")]
    NoCancelRequest,
    #[error("a cancellation was already requested")]
    CancelAlreadyRequested,
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
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
}

impl OrderError {
    pub fn code(&self) -> &'static str {
        match self {
            OrderError::NotPermitted(_) => "not_permitted",
            OrderError::NotShipped => "order_not_shipped",
            OrderError::AlreadyShipped => "order_already_shipped",
            OrderError::NotDelivered => "order_not_delivered",
            OrderError::AlreadyDelivered => "order_already_delivered",
            OrderError::AlreadyReleased => "hold_already_released",
            OrderError::Cancelled => "order_cancelled",
            OrderError::RefundExceedsHeld { .. } => "refund_exceeds_held",
            OrderError::Money(e) => e.code(),
            OrderError::NoCancelRequest => "no_cancel_request",
            OrderError::CancelAlreadyRequested => "cancel_already_requested",
            OrderError::ExtensionTooEarly(_) => "extension_too_early",
            OrderError::ProtectionEnded => "protection_ended",
            OrderError::ExtensionUsed => "extension_already_used",
            OrderError::ExtensionOutOfRange => "extension_out_of_range",
            OrderError::NoExtensionRequest => "no_extension_request",
            OrderError::TimerNotDue => "timer_not_due",
            OrderError::InvalidId(_) => "invalid_id",
        }
    }

    pub const ALL_CODES: &'static [&'static str] = &[
        "not_permitted",
        "order_not_shipped",
        "order_already_shipped",
        "order_not_delivered",
        "order_already_delivered",
        "hold_already_released",
        "order_cancelled",
        "refund_exceeds_held",
        "no_cancel_request",
        "cancel_already_requested",
        "extension_too_early",
        "protection_ended",
        "extension_already_used",
        "extension_out_of_range",
        "no_extension_request",
        "timer_not_due",
    ];
}

/// What happened, for the outbox and webhooks (`resource.past_tense_verb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    Paid,
    Shipped,
    Delivered,
    CancelRequested,
    CancelRejected,
    Cancelled,
    ProtectionExtended { until: i64 },
    ExtensionRequested { days: u32 },
    ExtensionDeclined,
    Completed,
    HoldReleased { to_seller: i64, commission: i64 },
    RefundSucceeded { amount: i64 },
}

impl OrderEvent {
    pub fn name(&self) -> &'static str {
        match self {
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
            OrderEvent::RefundSucceeded { .. } => "refund.succeeded",
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

/// The ledger accounts an order's money moves through.
pub struct EscrowAccounts {
    pub card_clearing: AccountId,
    pub escrow: AccountId,
    pub seller_payable: AccountId,
    pub commission: AccountId,
}

impl EscrowAccounts {
    pub fn of(order: &Order) -> Result<EscrowAccounts, InvalidId> {
        let currency = order.captured.currency().code();
        Ok(EscrowAccounts {
            card_clearing: AccountId::parse(&format!("card_clearing:{currency}"))?,
            escrow: AccountId::parse(&format!("escrow:{}", order.id))?,
            seller_payable: AccountId::parse(&format!(
                "seller_payable:{}:{currency}",
                order.seller
            ))?,
            commission: AccountId::parse(&format!("commission:{currency}"))?,
        })
    }

    /// The specs to open (idempotently) before money moves.
    pub fn specs(&self, currency: Currency) -> Vec<AccountSpec> {
        let spec = |id: &AccountId, kind, bounded| AccountSpec {
            id: id.clone(),
            kind,
            currency,
            bounded,
        };
        vec![
            spec(
                &self.card_clearing,
                AccountKind::BuyerPaymentClearing,
                false,
            ),
            spec(&self.escrow, AccountKind::Escrow, true),
            spec(&self.seller_payable, AccountKind::SellerPayable, true),
            spec(&self.commission, AccountKind::CommissionRevenue, false),
        ]
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "order {} ({}, holds {})",
            self.id,
            self.status.code(),
            self.held()
        )
    }
}

/// A new order whose payment was captured at checkout: opens its accounts, moves the money
/// from card clearing into its escrow, and sets the ship-by timer.
pub fn paid(
    id: &str,
    buyer: &str,
    seller: &str,
    payment: &str,
    captured: Money,
    now: i64,
    policy: &OrderPolicy,
) -> Result<Decision, OrderError> {
    let order = Order {
        id: id.to_string(),
        buyer: buyer.to_string(),
        seller: seller.to_string(),
        payment: payment.to_string(),
        captured,
        refunded: 0,
        released: None,
        status: OrderStatus::Paid,
        paid_at: now,
        ship_by: now + policy.ship_by,
        shipment: None,
        delivered_at: None,
        protection_ends: None,
        cancel_requested_at: None,
        buyer_extended: false,
        extension_requested: None,
        seller_extended: 0,
        commission: policy.commission,
        livemode: false,
        shipping_method: "standard".into(),
        delivery_guarantee: policy.delivery_guarantee,
    };
    let accounts = EscrowAccounts::of(&order)?;
    Ok(Decision {
        accounts: accounts.specs(captured.currency()),
        transfers: vec![TransferRequest::Posted {
            debit: accounts.card_clearing,
            credit: accounts.escrow,
            amount: captured,
        }],
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
    use OrderStatus::*;
    match (command, order.status) {
        (_, Completed) => return Err(OrderError::AlreadyReleased),
        (_, Cancelled) => return Err(OrderError::Cancelled),

        (OrderCommand::Ship { carrier, tracking }, Paid) => {
            d.order.status = Shipped;
            d.order.shipment = Some(Shipment {
                carrier: carrier.clone(),
                tracking: tracking.clone(),
                shipped_at: now,
            });
            // Shipping answers a pending cancellation request with "no".
            d.order.cancel_requested_at = None;
            let ends = now + order.delivery_guarantee;
            d.order.protection_ends = Some(ends);
            d.cancel_timers = vec![TimerKind::ShipBy, TimerKind::CancelAnswer];
            d.set_timers = vec![(TimerKind::ProtectionEnd, ends)];
            d.events.push(OrderEvent::Shipped);
        }
        (OrderCommand::Ship { .. }, _) => return Err(OrderError::AlreadyShipped),

        (OrderCommand::MarkDelivered, Shipped) => {
            d.order.status = Delivered;
            d.order.delivered_at = Some(now);
            let ends = order
                .protection_ends
                .map_or(now + policy.after_delivery, |e| {
                    e.min(now + policy.after_delivery)
                });
            d.order.protection_ends = Some(ends);
            d.set_timers = vec![(TimerKind::ProtectionEnd, ends)];
            d.events.push(OrderEvent::Delivered);
        }
        (OrderCommand::MarkDelivered, Paid) => return Err(OrderError::NotShipped),
        (OrderCommand::MarkDelivered, _) => return Err(OrderError::AlreadyDelivered),

        (OrderCommand::ConfirmReceipt, Delivered) => complete(&mut d)?,
        (OrderCommand::ConfirmReceipt, _) => return Err(OrderError::NotDelivered),

        (OrderCommand::RequestCancel, Paid) => {
            if order.cancel_requested_at.is_some() {
                return Err(OrderError::CancelAlreadyRequested);
            }
            d.order.cancel_requested_at = Some(now);
            d.set_timers = vec![(TimerKind::CancelAnswer, now + policy.cancel_answer)];
            d.events.push(OrderEvent::CancelRequested);
        }
        (OrderCommand::RequestCancel, _) => return Err(OrderError::AlreadyShipped),

        (OrderCommand::AnswerCancel { accept }, Paid) => {
            if order.cancel_requested_at.is_none() {
                return Err(OrderError::NoCancelRequest);
            }
            if *accept {
                cancel_and_refund(&mut d)?;
            } else {
                d.order.cancel_requested_at = None;
                d.cancel_timers = vec![TimerKind::CancelAnswer];
                d.events.push(OrderEvent::CancelRejected);
            }
        }
        (OrderCommand::AnswerCancel { .. }, _) => return Err(OrderError::NoCancelRequest),

        (OrderCommand::Refund { amount }, _) => {
            if amount.currency() != order.captured.currency() {
                return Err(MoneyError::CurrencyMismatch {
                    left: order.captured.currency(),
                    right: amount.currency(),
                }
                .into());
            }
            if amount.is_zero() {
                return Err(MoneyError::NegativeResult.into());
            }
            let remaining = order.held();
            if amount.minor() > remaining {
                return Err(OrderError::RefundExceedsHeld {
                    requested: amount.minor(),
                    remaining,
                });
            }
            refund(&mut d, *amount)?;
            if d.order.held() == 0 {
                d.order.status = Cancelled;
                d.cancel_timers = all_timers();
                d.events.push(OrderEvent::Cancelled);
            }
        }

        (
            OrderCommand::ExtendProtection
            | OrderCommand::RequestExtension { .. }
            | OrderCommand::AnswerExtension { approve: true },
            Shipped | Delivered,
        ) if order.protection_ends.is_some_and(|e| now >= e) => {
            return Err(OrderError::ProtectionEnded);
        }
        (OrderCommand::ExtendProtection, Shipped | Delivered) => {
            if order.buyer_extended {
                return Err(OrderError::ExtensionUsed);
            }
            let ends = order.protection_ends.unwrap_or(now);
            if ends - now > policy.buyer_extension_window {
                return Err(OrderError::ExtensionTooEarly(policy.buyer_extension_window));
            }
            d.order.buyer_extended = true;
            extend(&mut d, ends + policy.buyer_extension);
        }
        (OrderCommand::RequestExtension { days }, Shipped | Delivered) => {
            let ms = i64::from(*days) * DAY;
            if *days == 0 || order.seller_extended + ms > policy.seller_extension_max {
                return Err(OrderError::ExtensionOutOfRange);
            }
            d.order.extension_requested = Some(ms);
            d.events
                .push(OrderEvent::ExtensionRequested { days: *days });
        }
        (OrderCommand::AnswerExtension { approve }, Shipped | Delivered) => {
            let Some(ms) = order.extension_requested else {
                return Err(OrderError::NoExtensionRequest);
            };
            d.order.extension_requested = None;
            if *approve {
                d.order.seller_extended += ms;
                extend(&mut d, order.protection_ends.unwrap_or(now) + ms);
            } else {
                d.events.push(OrderEvent::ExtensionDeclined);
            }
        }
        (
            OrderCommand::ExtendProtection
            | OrderCommand::RequestExtension { .. }
            | OrderCommand::AnswerExtension { .. },
            _,
        ) => return Err(OrderError::NotShipped),

        (OrderCommand::Fire(TimerKind::ShipBy), Paid) if now >= order.ship_by => {
            cancel_and_refund(&mut d)?;
        }
        (OrderCommand::Fire(TimerKind::CancelAnswer), Paid)
            if order
                .cancel_requested_at
                .is_some_and(|at| now >= at + policy.cancel_answer) =>
        {
            cancel_and_refund(&mut d)?;
        }
        (OrderCommand::Fire(TimerKind::ProtectionEnd), Shipped | Delivered)
            if order.protection_ends.is_some_and(|e| now >= e) =>
        {
            complete(&mut d)?;
        }
        (OrderCommand::Fire(_), _) => return Err(OrderError::TimerNotDue),
    }
    Ok(d)
}

fn all_timers() -> Vec<TimerKind> {
    vec![
        TimerKind::ShipBy,
        TimerKind::CancelAnswer,
        TimerKind::ProtectionEnd,
    ]
}

fn extend(d: &mut Decision, until: i64) {
    d.order.protection_ends = Some(until);
    d.set_timers = vec![(TimerKind::ProtectionEnd, until)];
    d.events.push(OrderEvent::ProtectionExtended { until });
}

/// Releases what the escrow still holds to the seller, less commission.
fn complete(d: &mut Decision) -> Result<(), OrderError> {
    let held = d.order.held();
    let commission = d.order.commission.on(held);
    let to_seller = held - commission;
    let accounts = EscrowAccounts::of(&d.order)?;
    let currency = d.order.captured.currency();
    for (credit, amount) in [
        (accounts.seller_payable, to_seller),
        (accounts.commission, commission),
    ] {
        if amount > 0 {
            d.transfers.push(TransferRequest::Posted {
                debit: accounts.escrow.clone(),
                credit,
                amount: Money::from_minor(amount, currency)?,
            });
        }
    }
    d.order.released = Some((to_seller, commission));
    d.order.status = OrderStatus::Completed;
    d.cancel_timers = all_timers();
    d.events.push(OrderEvent::Completed);
    d.events.push(OrderEvent::HoldReleased {
        to_seller,
        commission,
    });
    Ok(())
}

/// Refunds `amount` from the escrow back to the card it came from.
fn refund(d: &mut Decision, amount: Money) -> Result<(), OrderError> {
    let accounts = EscrowAccounts::of(&d.order)?;
    d.transfers.push(TransferRequest::Posted {
        debit: accounts.escrow,
        credit: accounts.card_clearing,
        amount,
    });
    d.order.refunded += amount.minor();
    d.events.push(OrderEvent::RefundSucceeded {
        amount: amount.minor(),
    });
    Ok(())
}

fn cancel_and_refund(d: &mut Decision) -> Result<(), OrderError> {
    let held = d.order.held();
    if held > 0 {
        refund(d, Money::from_minor(held, d.order.captured.currency())?)?;
    }
    d.order.status = OrderStatus::Cancelled;
    d.order.cancel_requested_at = None;
    d.cancel_timers = all_timers();
    d.events.push(OrderEvent::Cancelled);
    Ok(())
}
