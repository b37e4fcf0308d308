//! Orders placed with a payment method that confirms later (a bank transfer, a wallet): placed
//! awaiting their payment, paid when it confirms, cancelled unpaid when it expires. Nothing is
//! held before the payment confirms, so nothing is refunded when it does not.

use super::{
    Decision, EscrowAccounts, Order, OrderCommand, OrderError, OrderEvent, OrderPlan, OrderState,
    TimerKind,
};

/// A new order awaiting its payment, which expires at `expires_at`.
pub fn placed(
    plan: &OrderPlan,
    buyer: &str,
    payment: &str,
    livemode: bool,
    now: i64,
    expires_at: i64,
) -> Decision {
    let awaiting = OrderState::AwaitingPayment {
        expires_at,
        ship_by_ms: plan.ship_by_ms,
    };
    // (ship-by is set again, from the payment, when it is paid)
    let ship_by = expires_at + plan.ship_by_ms;
    let order = Order::planned(plan, buyer, payment, livemode, now, ship_by, awaiting);
    Decision {
        order,
        accounts: vec![],
        transfers: vec![],
        events: vec![OrderEvent::Placed],
        set_timers: vec![],
        cancel_timers: vec![],
    }
}

/// What an order awaiting its payment takes: its payment's confirmation or expiry.
pub(super) fn decide(
    d: &mut Decision,
    ship_by_ms: i64,
    command: &OrderCommand,
    now: i64,
) -> Result<(), OrderError> {
    match command {
        OrderCommand::Pay => {
            let accounts = EscrowAccounts::of(&d.order)?;
            d.accounts = accounts.specs_for(&d.order);
            d.transfers.extend(accounts.fund(&d.order)?);
            d.order.paid_at = now;
            d.order.ship_by = now + ship_by_ms;
            d.order.state = OrderState::Paid {
                cancel_requested: None,
            };
            d.events.push(OrderEvent::Paid);
            d.set_timers.push((TimerKind::ShipBy, d.order.ship_by));
            Ok(())
        }
        OrderCommand::CancelUnpaid => {
            d.order.state = OrderState::Expired { expired_at: now };
            d.events.push(OrderEvent::Expired);
            Ok(())
        }
        OrderCommand::Fire(_) => Err(OrderError::TimerNotDue),
        _ => Err(OrderError::AwaitingPayment),
    }
}
