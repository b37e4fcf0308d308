//! What each command does to an order in each state: the branches of `decide`, and the
//! straight-line helpers they share (release, refund, cancel).

use crate::ledger::TransferRequest;
use crate::money::{Money, MoneyError};

use super::{
    DAY, Decision, EscrowAccounts, OrderCommand, OrderError, OrderEvent, OrderPolicy, OrderState,
    Protection, RefundReason, Release, Shipment, TimerKind,
};

/// Commands to a paid order not yet shipped.
pub(super) fn paid_state(
    d: &mut Decision,
    cancel_requested: Option<i64>,
    command: &OrderCommand,
    now: i64,
    policy: &OrderPolicy,
) -> Result<(), OrderError> {
    let answer_due = cancel_requested.map(|at| at + policy.cancel_answer);
    match command {
        OrderCommand::Ship { carrier, tracking } => {
            if now >= d.order.ship_by {
                return Err(OrderError::ShipByPassed);
            }
            if answer_due.is_some_and(|t| now >= t) {
                return Err(OrderError::CancelAnswerLate);
            }
            let ends = now + d.order.delivery_guarantee;
            // Shipping answers a pending cancellation request with "no".
            d.order.state = OrderState::Shipped {
                shipment: Shipment {
                    carrier: carrier.clone(),
                    tracking: tracking.clone(),
                    shipped_at: now,
                },
                protection: Protection {
                    ends,
                    buyer_extended: false,
                    seller_extended: 0,
                    extension_requested: None,
                },
                claim: None,
            };
            d.cancel_timers = vec![TimerKind::ShipBy, TimerKind::CancelAnswer];
            d.set_timers = vec![(TimerKind::ProtectionEnd, ends)];
            d.events.push(OrderEvent::Shipped);
        }
        OrderCommand::MarkDelivered | OrderCommand::MarkCollected => {
            return Err(OrderError::NotShipped);
        }
        OrderCommand::ConfirmReceipt => return Err(OrderError::NotDelivered),
        OrderCommand::ExtendProtection
        | OrderCommand::RequestExtension { .. }
        | OrderCommand::AnswerExtension { .. } => return Err(OrderError::NotShipped),
        OrderCommand::RequestCancel => {
            if cancel_requested.is_some() {
                return Err(OrderError::CancelAlreadyRequested);
            }
            if now >= d.order.ship_by {
                return Err(OrderError::ShipByPassed);
            }
            d.order.state = OrderState::Paid {
                cancel_requested: Some(now),
            };
            d.set_timers = vec![(TimerKind::CancelAnswer, now + policy.cancel_answer)];
            d.events.push(OrderEvent::CancelRequested);
        }
        OrderCommand::AnswerCancel { accept } => {
            let Some(due) = answer_due else {
                return Err(OrderError::NoCancelRequest);
            };
            if now >= due {
                return Err(OrderError::CancelAnswerLate);
            }
            if *accept {
                cancel_and_refund(d, RefundReason::CancelAccepted, now)?;
            } else {
                d.order.state = OrderState::Paid {
                    cancel_requested: None,
                };
                d.cancel_timers = vec![TimerKind::CancelAnswer];
                d.events.push(OrderEvent::CancelRejected);
            }
        }
        OrderCommand::Refund { amount } => explicit_refund(d, *amount, now)?,
        OrderCommand::OpenDispute { .. } => return Err(OrderError::NotShipped),
        OrderCommand::Settle { .. } => return Err(OrderError::NoOpenDispute),
        OrderCommand::Fire(TimerKind::ShipBy) if now >= d.order.ship_by => {
            cancel_and_refund(d, RefundReason::ShipByMissed, now)?;
        }
        OrderCommand::Fire(TimerKind::CancelAnswer) if answer_due.is_some_and(|t| now >= t) => {
            cancel_and_refund(d, RefundReason::CancelUnanswered, now)?;
        }
        OrderCommand::Fire(_) => return Err(OrderError::TimerNotDue),
        OrderCommand::Pay | OrderCommand::CancelUnpaid => {
            return Err(OrderError::NotAwaitingPayment);
        }
        OrderCommand::ReturnToOrigin => return Err(OrderError::NotShipped),
        OrderCommand::ReleaseRemitted => return Err(OrderError::NotAwaitingRemittance),
    }
    Ok(())
}

/// Commands to a shipped order, delivered (`delivered_at`) or not.
pub(super) fn shipped_state(
    d: &mut Decision,
    shipment: &Shipment,
    delivered_at: Option<i64>,
    protection: &Protection,
    command: &OrderCommand,
    now: i64,
    policy: &OrderPolicy,
) -> Result<(), OrderError> {
    let ended = now >= protection.ends;
    let mut p = protection.clone();
    match command {
        OrderCommand::Ship { .. } => return Err(OrderError::AlreadyShipped),
        OrderCommand::RequestCancel => return Err(OrderError::AlreadyShipped),
        OrderCommand::AnswerCancel { .. } => return Err(OrderError::NoCancelRequest),
        OrderCommand::MarkDelivered | OrderCommand::MarkCollected => {
            if delivered_at.is_some() {
                return Err(OrderError::AlreadyDelivered);
            }
            p.ends = if d.order.cash_on_delivery {
                // the buyer pays at the door: protection runs from there, however late it came
                now + policy.after_delivery
            } else {
                protection.ends.min(now + policy.after_delivery)
            };
            d.set_timers = vec![(TimerKind::ProtectionEnd, p.ends)];
            d.events.push(OrderEvent::Delivered);
            d.order.state = OrderState::Delivered {
                shipment: shipment.clone(),
                delivered_at: now,
                protection: p,
            };
            return Ok(());
        }
        OrderCommand::ConfirmReceipt => {
            if delivered_at.is_none() {
                return Err(OrderError::NotDelivered);
            }
            return complete(d, now);
        }
        OrderCommand::Refund { amount } => return explicit_refund(d, *amount, now),
        // a cash-on-delivery buyer pays at the door: before that there is nothing to dispute
        OrderCommand::OpenDispute { .. } if d.order.cash_on_delivery && delivered_at.is_none() => {
            return Err(OrderError::CashNotCollected);
        }
        OrderCommand::OpenDispute { dispute } => {
            return super::settle::pause(d, dispute, protection.ends, now);
        }
        OrderCommand::Settle { .. } => return Err(OrderError::NoOpenDispute),
        // nor a claim when the window passes: the carrier's report (collected, or returned)
        // decides the order, whenever it comes
        OrderCommand::Fire(TimerKind::ProtectionEnd)
            if ended && d.order.cash_on_delivery && delivered_at.is_none() =>
        {
            d.cancel_timers = vec![TimerKind::ProtectionEnd];
            return Ok(());
        }
        OrderCommand::Fire(TimerKind::ProtectionEnd) if ended && delivered_at.is_none() => {
            // The delivery guarantee passed with no delivered event: a claim, not a release.
            d.order.state = OrderState::Shipped {
                shipment: shipment.clone(),
                protection: protection.clone(),
                claim: Some(now),
            };
            d.set_timers = vec![(TimerKind::ClaimAnswer, now + policy.claim_answer)];
            d.cancel_timers = vec![TimerKind::ProtectionEnd];
            d.events.push(OrderEvent::ClaimOpened);
            return Ok(());
        }
        OrderCommand::Fire(TimerKind::ProtectionEnd) if ended => return complete(d, now),
        OrderCommand::Fire(_) => return Err(OrderError::TimerNotDue),
        OrderCommand::Pay | OrderCommand::CancelUnpaid => {
            return Err(OrderError::NotAwaitingPayment);
        }
        OrderCommand::ReturnToOrigin if delivered_at.is_some() => {
            return Err(OrderError::AlreadyDelivered);
        }
        OrderCommand::ReturnToOrigin => return returned(d, now),
        OrderCommand::ReleaseRemitted => return Err(OrderError::NotAwaitingRemittance),
        OrderCommand::ExtendProtection
        | OrderCommand::RequestExtension { .. }
        | OrderCommand::AnswerExtension { approve: true }
            if ended =>
        {
            return Err(OrderError::ProtectionEnded);
        }
        OrderCommand::ExtendProtection => {
            if protection.buyer_extended {
                return Err(OrderError::ExtensionUsed);
            }
            if protection.ends - now > policy.buyer_extension_window {
                return Err(OrderError::ExtensionTooEarly(policy.buyer_extension_window));
            }
            p.buyer_extended = true;
            extend(d, &mut p, protection.ends + policy.buyer_extension);
        }
        OrderCommand::RequestExtension { days } => {
            let ms = i64::from(*days) * DAY;
            if *days == 0 || protection.seller_extended + ms > policy.seller_extension_max {
                return Err(OrderError::ExtensionOutOfRange);
            }
            p.extension_requested = Some(ms);
            d.events
                .push(OrderEvent::ExtensionRequested { days: *days });
        }
        OrderCommand::AnswerExtension { approve } => {
            let Some(ms) = protection.extension_requested else {
                return Err(OrderError::NoExtensionRequest);
            };
            p.extension_requested = None;
            if *approve {
                p.seller_extended += ms;
                extend(d, &mut p, protection.ends + ms);
            } else {
                d.events.push(OrderEvent::ExtensionDeclined);
            }
        }
    }
    d.order.state = match delivered_at {
        None => OrderState::Shipped {
            shipment: shipment.clone(),
            protection: p,
            claim: None,
        },
        Some(delivered_at) => OrderState::Delivered {
            shipment: shipment.clone(),
            delivered_at,
            protection: p,
        },
    };
    Ok(())
}

/// Commands to a shipped order whose non-delivery claim (opened at `opened`) is open.
pub(super) fn claimed(
    d: &mut Decision,
    shipment: &Shipment,
    protection: &Protection,
    opened: i64,
    command: &OrderCommand,
    now: i64,
    policy: &OrderPolicy,
) -> Result<(), OrderError> {
    match command {
        OrderCommand::MarkDelivered | OrderCommand::MarkCollected => {
            // Shown delivered: protection goes on by the delivered rules, from now.
            let mut p = protection.clone();
            p.ends = now + policy.after_delivery;
            d.order.state = OrderState::Delivered {
                shipment: shipment.clone(),
                delivered_at: now,
                protection: p,
            };
            d.set_timers = vec![(TimerKind::ProtectionEnd, now + policy.after_delivery)];
            d.cancel_timers = vec![TimerKind::ClaimAnswer];
            d.events.push(OrderEvent::Delivered);
            d.events.push(OrderEvent::ClaimResolved);
            Ok(())
        }
        OrderCommand::Fire(TimerKind::ClaimAnswer) if now >= opened + policy.claim_answer => {
            cancel_and_refund(d, RefundReason::NotDelivered, now)
        }
        OrderCommand::Fire(_) => Err(OrderError::TimerNotDue),
        OrderCommand::Refund { amount } => explicit_refund(d, *amount, now),
        OrderCommand::Ship { .. } | OrderCommand::RequestCancel => Err(OrderError::AlreadyShipped),
        OrderCommand::AnswerCancel { .. } => Err(OrderError::NoCancelRequest),
        OrderCommand::ConfirmReceipt => Err(OrderError::NotDelivered),
        OrderCommand::ExtendProtection
        | OrderCommand::RequestExtension { .. }
        | OrderCommand::AnswerExtension { .. } => Err(OrderError::ProtectionEnded),
        OrderCommand::OpenDispute { .. } => Err(OrderError::ClaimOpen),
        OrderCommand::Settle { .. } => Err(OrderError::NoOpenDispute),
        OrderCommand::Pay | OrderCommand::CancelUnpaid => Err(OrderError::NotAwaitingPayment),
        OrderCommand::ReturnToOrigin => returned(d, now),
        OrderCommand::ReleaseRemitted => Err(OrderError::NotAwaitingRemittance),
    }
}

/// A cash-on-delivery parcel came back before it was delivered: the order is cancelled and
/// its hold given back (nothing was collected, so nothing reaches the buyer).
fn returned(d: &mut Decision, now: i64) -> Result<(), OrderError> {
    if !d.order.cash_on_delivery {
        return Err(OrderError::NotCashOnDelivery);
    }
    d.events.push(OrderEvent::ReturnedToOrigin);
    cancel_and_refund(d, RefundReason::ReturnedToOrigin, now)
}

fn extend(d: &mut Decision, p: &mut Protection, until: i64) {
    p.ends = until;
    d.set_timers = vec![(TimerKind::ProtectionEnd, until)];
    d.events.push(OrderEvent::ProtectionExtended { until });
}

/// The release is due: the hold goes to the seller, unless the order was paid at the door, in
/// which case it waits for the carrier's remittance ([`OrderState::AwaitingRemittance`]).
pub(super) fn complete(d: &mut Decision, now: i64) -> Result<(), OrderError> {
    if !d.order.cash_on_delivery {
        return release(d, now);
    }
    let (Some(shipment), Some(delivered_at)) =
        (d.order.shipment().cloned(), d.order.delivered_at())
    else {
        return Err(OrderError::NotDelivered);
    };
    d.order.state = OrderState::AwaitingRemittance {
        shipment,
        delivered_at,
        due_at: now,
    };
    d.cancel_timers = TimerKind::ALL.to_vec();
    d.events.push(OrderEvent::AwaitingRemittance);
    Ok(())
}

/// Releases what the escrow still holds to the seller, less commission.
pub(super) fn release(d: &mut Decision, now: i64) -> Result<(), OrderError> {
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
    d.order.state = OrderState::Completed {
        shipment: d.order.shipment().cloned(),
        delivered_at: d.order.delivered_at(),
        release: Release {
            to_seller,
            commission,
        },
        completed_at: now,
    };
    d.cancel_timers = TimerKind::ALL.to_vec();
    d.events.push(OrderEvent::Completed);
    d.events.push(OrderEvent::HoldReleased {
        to_seller,
        commission,
    });
    Ok(())
}

/// Moves `amount` from the escrow to refunds payable: the payment now owes it to the buyer.
pub(super) fn refund(
    d: &mut Decision,
    amount: Money,
    reason: RefundReason,
) -> Result<(), OrderError> {
    let accounts = EscrowAccounts::of(&d.order)?;
    // the buyer gets back at most what the buyer paid; beyond it, the platform's promotion
    let o = &d.order;
    let paid_left = (o.captured.minor() - o.promotion) - (o.refunded - o.promotion_returned);
    let to_buyer = amount.minor().min(paid_left.max(0));
    let to_promotions = amount.minor() - to_buyer;
    let currency = amount.currency();
    for (credit, part) in [
        (accounts.refunds_payable, to_buyer),
        (accounts.promotions, to_promotions),
    ] {
        if part > 0 {
            d.transfers.push(TransferRequest::Posted {
                debit: accounts.escrow.clone(),
                credit,
                amount: Money::from_minor(part, currency)?,
            });
        }
    }
    d.order.refunded += amount.minor();
    d.order.promotion_returned += to_promotions;
    if to_buyer > 0 {
        d.events.push(OrderEvent::RefundDue {
            amount: Money::from_minor(to_buyer, currency)?,
            reason,
        });
    }
    Ok(())
}

/// A refund the seller or platform asked for: partial, or whole (which cancels the order).
pub(super) fn explicit_refund(d: &mut Decision, amount: Money, now: i64) -> Result<(), OrderError> {
    // paid at the door, on its way: nothing was paid yet that could be given back
    if d.order.cash_on_delivery && d.order.shipment().is_some() && d.order.delivered_at().is_none()
    {
        return Err(OrderError::NotDelivered);
    }
    let order = &d.order;
    if amount.currency() != order.captured.currency() {
        return Err(MoneyError::CurrencyMismatch {
            left: order.captured.currency(),
            right: amount.currency(),
        }
        .into());
    }
    if amount.is_zero() {
        return Err(OrderError::ZeroAmount);
    }
    let remaining = order.held();
    if amount.minor() > remaining {
        return Err(OrderError::RefundExceedsHeld {
            requested: amount.minor(),
            remaining,
        });
    }
    refund(d, amount, RefundReason::Requested)?;
    if d.order.held() == 0 {
        cancelled(d, now);
    }
    Ok(())
}

pub(super) fn cancelled(d: &mut Decision, now: i64) {
    d.order.state = OrderState::Cancelled {
        shipment: d.order.shipment().cloned(),
        delivered_at: d.order.delivered_at(),
        cancelled_at: now,
    };
    d.cancel_timers = TimerKind::ALL.to_vec();
    d.events.push(OrderEvent::Cancelled);
}

pub(super) fn cancel_and_refund(
    d: &mut Decision,
    reason: RefundReason,
    now: i64,
) -> Result<(), OrderError> {
    let held = d.order.held();
    if held > 0 {
        refund(
            d,
            Money::from_minor(held, d.order.captured.currency())?,
            reason,
        )?;
    }
    cancelled(d, now);
    Ok(())
}
