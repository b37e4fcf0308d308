//! The end of a run: every dispute closed by a mediator, every timer fired, every refund
//! performed; then what must hold of the whole (terminal orders, refunds at the provider, the
//! seller's debt against the buyers' balances).

use holdback_domain::order::OrderState;
use holdback_domain::refund::RefundState;

use super::{Step, World};

/// Settles a run and checks what must hold at its end.
pub fn finish(mut w: World) -> Step {
    w.settle()?;
    w.check()?;
    for (d, _) in w.disputes.values() {
        if d.status().code() != "closed" {
            return Err(format!("dispute {} still {}", d.id, d.status().code()));
        }
    }
    for (o, _) in w.orders.values() {
        if o.dispute.is_some() {
            return Err(format!("order {} keeps a dispute open", o.id));
        }
        let released = match &o.state {
            OrderState::Completed { release, .. } => release.to_seller + release.commission,
            OrderState::Cancelled { .. } => 0,
            // cancelled unpaid: nothing was captured, nothing refunded or released
            OrderState::Expired { .. } if o.refunded == 0 => continue,
            other => {
                return Err(format!(
                    "order {} not terminal after settling: {other:?}",
                    o.id
                ));
            }
        };
        if o.refunded + released != o.captured.minor() {
            return Err(format!(
                "order {}: refunded {} + released {released} != {}",
                o.id, o.refunded, o.captured
            ));
        }
    }
    for (r, _) in w.refunds.values() {
        if !matches!(r.state, RefundState::Succeeded { .. }) {
            return Err(format!("refund {} still {}", r.id, r.state.code()));
        }
    }
    // every refunds-payable account is empty and the provider gave back what the orders refunded
    for a in w.book.accounts() {
        if a.spec.id.as_str().contains(":refunds_payable:") && a.posted_balance() != 0 {
            return Err(format!("{} still holds {}", a.spec.id, a.posted_balance()));
        }
    }
    // what was charged to sellers went to buyers' payments and balances, and nowhere else
    let total = |part: &str| -> i128 {
        w.book
            .accounts()
            .filter(|a| a.spec.id.as_str().contains(part))
            .map(|a| a.posted_balance())
            .sum()
    };
    let charged: i64 = w.orders.values().map(|(o, _)| o.charged_to_seller).sum();
    if total(":seller_debt:") != total(":customer_balance:") + i128::from(charged) {
        return Err(format!(
            "seller debt {} is not buyer balances {} + charged to payments {charged}",
            total(":seller_debt:"),
            total(":customer_balance:")
        ));
    }
    let refunded: i64 = w
        .orders
        .values()
        .map(|(o, _)| o.refunded + o.charged_to_seller)
        .sum::<i64>()
        // and money no order took (sent beyond what was due, or too late), given back
        + w.refunds
            .values()
            .filter(|(r, _)| r.order.is_empty())
            .map(|(r, _)| r.amount.minor())
            .sum::<i64>();
    let provider: i64 = w.provider.refunds.values().map(|(_, a, _)| a).sum();
    if refunded != provider {
        return Err(format!(
            "orders refunded {refunded}, the provider {provider}"
        ));
    }
    Ok(())
}
