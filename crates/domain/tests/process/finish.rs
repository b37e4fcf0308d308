//! The end of a run: every dispute closed by a mediator, every timer fired, every refund
//! performed; then what must hold of the whole (terminal orders, refunds at the provider, the
//! seller's debt against the buyers' balances).

use holdback_domain::gift_card::GiftCardState;
use holdback_domain::order::OrderState;
use holdback_domain::payment::{Method, PaymentState};
use holdback_domain::refund::RefundState;
use holdback_domain::tender::Destination;

use super::{Step, World};

/// Settles a run and checks what must hold at its end.
pub fn finish(mut w: World) -> Step {
    w.settle()?;
    w.settle_cod()?;
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
    // balances also hold what the platform credited, gift cards redeemed and refunds to the
    // balance, less what payments still take from them
    let to_balance: i128 = w
        .refunds
        .values()
        .filter(|(r, _)| r.destination == Destination::Balance)
        .map(|(r, _)| i128::from(r.amount.minor()))
        .sum();
    let redeemed: i128 = w
        .cards
        .values()
        .filter(|(c, _)| matches!(c.state, GiftCardState::Redeemed { .. }))
        .map(|(c, _)| i128::from(c.value.minor()))
        .sum();
    let spent: i128 = w
        .payments
        .values()
        .filter(|(p, _)| {
            !matches!(
                p.state,
                PaymentState::Failed { .. }
                    | PaymentState::Expired { .. }
                    | PaymentState::Cancelled { .. }
            )
        })
        .flat_map(|(p, _)| p.tenders.iter())
        .filter(|t| t.method == Method::Balance)
        .map(|t| i128::from(t.amount.minor()))
        .sum();
    let credited = total(":balance_adjustments:");
    let other = credited + redeemed + to_balance - spent;
    // (returns of parcels charged to their sellers are debts of theirs too)
    let returns: i128 = w
        .parcels
        .values()
        .filter(|(p, _)| {
            p.rto_payer == holdback_domain::cod::RtoPayer::Seller
                && matches!(p.state, holdback_domain::cod::ParcelState::Returned { .. })
        })
        .map(|(p, _)| i128::from(p.rto_cost))
        .sum();
    if total(":seller_debt:") - returns != total(":customer_balance:") - other + i128::from(charged)
    {
        return Err(format!(
            "seller debt {} is not buyer balances {} - stored value {other} + charged to \
             payments {charged}",
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
    // (less what went into the buyer's balance, which no provider saw, and what went back to
    // the platform's promotions)
    let returned: i64 = w.orders.values().map(|(o, _)| o.promotion_returned).sum();
    // (and what was never collected at a door, so went back to the cash expected)
    let uncollected: i64 = w
        .refunds
        .values()
        .filter(|(r, _)| r.destination == Destination::Uncollected)
        .map(|(r, _)| r.amount.minor())
        .sum();
    let refunded =
        refunded - i64::try_from(to_balance).unwrap_or(i64::MAX) - returned - uncollected;
    let provider: i64 = w.provider.refunds.values().map(|(_, a, _)| a).sum();
    if refunded != provider {
        return Err(format!(
            "orders refunded {refunded}, the provider {provider}"
        ));
    }
    Ok(())
}
