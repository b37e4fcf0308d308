//! An order under dispute: the protection clock stopped while the dispute is open, and the
//! money movement of the dispute's outcome, applied in one transaction with the order's change.

use crate::ledger::TransferRequest;
use crate::money::{Money, MoneyError};

use super::rules::{cancelled, complete, refund};
use super::{
    Decision, OpenDispute, OrderCommand, OrderError, OrderEvent, OrderPolicy, OrderState,
    RefundReason, SellerAccounts, TimerKind,
};

/// What a closed dispute does to its order's money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// `refund` of the hold goes back to the buyer and the rest is released to the seller, with
    /// commission on the released part only. A refund of the whole hold cancels the order.
    Split { refund: Money },
    /// Nothing moves: the protection clock runs again with the time it had left when the dispute
    /// opened, and the order completes at once if it had none left.
    Resume,
    /// The hold is released to the seller now (a return that was not shipped in time).
    Release,
    /// Counterfeit: `amount` (at most twice the price) goes to the buyer. What the hold has pays
    /// first (and the rest of the hold is released); the excess is charged to the seller's debt
    /// account: back to the buyer's payment as far as it has room, the rest to the buyer's
    /// balance. Never out of another order's escrow.
    Counterfeit { amount: Money },
}

impl Settlement {
    pub fn code(&self) -> &'static str {
        match self {
            Settlement::Split { .. } => "split",
            Settlement::Resume => "resume",
            Settlement::Release => "release",
            Settlement::Counterfeit { .. } => "counterfeit",
        }
    }
}

/// A dispute opens on a shipped or delivered order: the clock stops with `ends - now` left.
pub(super) fn pause(d: &mut Decision, id: &str, ends: i64, now: i64) -> Result<(), OrderError> {
    d.order.dispute = Some(OpenDispute {
        id: id.to_string(),
        opened_at: now,
        remaining: (ends - now).max(0),
    });
    d.cancel_timers = vec![TimerKind::ProtectionEnd];
    d.events.push(OrderEvent::ProtectionPaused);
    Ok(())
}

/// Commands to a completed order with no dispute open: only a dispute may still open (its
/// window and reason are the dispute's rules).
pub(super) fn completed(
    d: &mut Decision,
    now: i64,
    command: &OrderCommand,
) -> Result<(), OrderError> {
    match command {
        OrderCommand::OpenDispute { dispute } => {
            d.order.dispute = Some(OpenDispute {
                id: dispute.clone(),
                opened_at: now,
                remaining: 0,
            });
            Ok(())
        }
        OrderCommand::Settle { .. } => Err(OrderError::NoOpenDispute),
        _ => Err(OrderError::AlreadyReleased),
    }
}

/// Commands to an order whose dispute `open` is open.
pub(super) fn disputed(
    d: &mut Decision,
    open: &OpenDispute,
    command: &OrderCommand,
    now: i64,
    policy: &OrderPolicy,
) -> Result<(), OrderError> {
    match (command, d.order.state.clone()) {
        (OrderCommand::OpenDispute { .. }, _) => Err(OrderError::DisputeAlreadyOpen),
        (
            OrderCommand::Settle {
                dispute,
                settlement,
            },
            _,
        ) if *dispute == open.id => settle(d, open, settlement, now),
        (OrderCommand::Settle { .. }, _) => Err(OrderError::NoOpenDispute),
        (OrderCommand::Fire(_), _) => Err(OrderError::TimerNotDue),
        // The carrier's event is a fact: recorded, while the clock stays stopped.
        (
            OrderCommand::MarkDelivered,
            OrderState::Shipped {
                shipment,
                mut protection,
                ..
            },
        ) => {
            protection.ends = protection.ends.min(now + policy.after_delivery);
            let mut open = open.clone();
            open.remaining = open.remaining.min(policy.after_delivery);
            d.order.dispute = Some(open);
            d.order.state = OrderState::Delivered {
                shipment,
                delivered_at: now,
                protection,
            };
            d.events.push(OrderEvent::Delivered);
            Ok(())
        }
        (OrderCommand::MarkDelivered, OrderState::Delivered { .. }) => {
            Err(OrderError::AlreadyDelivered)
        }
        _ => Err(OrderError::DisputeOpen),
    }
}

fn settle(
    d: &mut Decision,
    open: &OpenDispute,
    settlement: &Settlement,
    now: i64,
) -> Result<(), OrderError> {
    d.order.dispute = None;
    let released = matches!(d.order.state, OrderState::Completed { .. });
    match settlement {
        Settlement::Split { refund: amount } => {
            same_currency(d, *amount)?;
            let held = d.order.held();
            if amount.minor() > held || (released && !amount.is_zero()) {
                return Err(OrderError::RefundExceedsHeld {
                    requested: amount.minor(),
                    remaining: held,
                });
            }
            if !amount.is_zero() {
                refund(d, *amount, RefundReason::Dispute)?;
            }
            close(d, released, now)
        }
        Settlement::Release => close(d, released, now),
        Settlement::Resume if released => Ok(()),
        Settlement::Resume if open.remaining == 0 => complete(d, now),
        Settlement::Resume => {
            let until = now + open.remaining;
            if let OrderState::Shipped { protection, .. }
            | OrderState::Delivered { protection, .. } = &mut d.order.state
            {
                protection.ends = until;
            }
            d.set_timers = vec![(TimerKind::ProtectionEnd, until)];
            d.events.push(OrderEvent::ProtectionResumed { until });
            Ok(())
        }
        Settlement::Counterfeit { amount } => {
            same_currency(d, *amount)?;
            if amount.is_zero() {
                return Err(OrderError::ZeroAmount);
            }
            let from_hold = amount.minor().min(d.order.held());
            let currency = amount.currency();
            if from_hold > 0 {
                refund(
                    d,
                    Money::from_minor(from_hold, currency)?,
                    RefundReason::Dispute,
                )?;
            }
            charge_seller(d, amount.minor() - from_hold)?;
            close(d, released, now)
        }
    }
}

/// After the hold's refund: what is left of it goes to the seller; a hold refunded whole
/// cancels the order. A released order stays as it is.
fn close(d: &mut Decision, released: bool, now: i64) -> Result<(), OrderError> {
    if released {
        Ok(())
    } else if d.order.held() == 0 {
        cancelled(d, now);
        Ok(())
    } else {
        complete(d, now)
    }
}

/// Charges `excess` to the seller's debt account: to the buyer's payment as far as it has room
/// left for this order (what was released), the rest to the buyer's balance.
fn charge_seller(d: &mut Decision, excess: i64) -> Result<(), OrderError> {
    if excess == 0 {
        return Ok(());
    }
    let o = &d.order;
    // what was released, and no more than the buyer's payment has left for this order
    let paid_left = (o.captured.minor() - o.promotion)
        - (o.refunded - o.promotion_returned)
        - o.charged_to_seller;
    let room = (o.captured.minor() - o.refunded - o.charged_to_seller - o.held()).min(paid_left);
    let to_payment = excess.min(room.max(0));
    let to_balance = excess - to_payment;
    let currency = o.captured.currency();
    let seller = SellerAccounts::of(o)?;
    let refunds_payable = super::EscrowAccounts::of(o)?.refunds_payable;
    d.accounts.extend(seller.specs(currency));
    for (credit, amount) in [
        (refunds_payable, to_payment),
        (seller.buyer_balance.clone(), to_balance),
    ] {
        if amount > 0 {
            d.transfers.push(TransferRequest::Posted {
                debit: seller.debt.clone(),
                credit,
                amount: Money::from_minor(amount, currency)?,
            });
        }
    }
    d.order.charged_to_seller += to_payment;
    d.events.push(OrderEvent::ChargedToSeller {
        to_payment,
        to_balance,
    });
    if to_payment > 0 {
        d.events.push(OrderEvent::RefundDue {
            amount: Money::from_minor(to_payment, currency)?,
            reason: RefundReason::Dispute,
        });
    }
    Ok(())
}

fn same_currency(d: &Decision, amount: Money) -> Result<(), OrderError> {
    let currency = d.order.captured.currency();
    if amount.currency() == currency {
        Ok(())
    } else {
        Err(MoneyError::CurrencyMismatch {
            left: currency,
            right: amount.currency(),
        }
        .into())
    }
}
