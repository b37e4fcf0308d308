//! The order's protection under the delivery guarantee and under a dispute: a non-delivery claim
//! when the guarantee passes with no delivered event, and the clock stopped while a dispute is
//! open.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{T0, delivered_order, new_order, ship, step, usd};
use holdback_domain::ledger::TransferRequest;
use holdback_domain::order::{
    self, Actor, DAY, DeliveryGuarantees, HOUR, Order, OrderCommand, OrderError, OrderEvent,
    OrderPolicy, OrderStatus, RefundReason, Settlement, TimerKind,
};

fn decide(
    o: &Order,
    actor: Actor,
    cmd: OrderCommand,
    now: i64,
) -> Result<order::Decision, OrderError> {
    order::decide(o, actor, &cmd, now, &OrderPolicy::default())
}

fn fire(o: &Order, kind: TimerKind, now: i64) -> Result<order::Decision, OrderError> {
    decide(o, Actor::Scheduler, OrderCommand::Fire(kind), now)
}

/// Shipped at `T0 + 1 h` with a 30-day guarantee: it passes at `T0 + 1 h + 30 d`.
const GUARANTEE_ENDS: i64 = T0 + HOUR + 30 * DAY;

fn claimed() -> Order {
    let shipped = step(&new_order(10_000), Actor::Seller, ship(), T0 + HOUR);
    let d = fire(&shipped, TimerKind::ProtectionEnd, GUARANTEE_ENDS).unwrap();
    assert_eq!(d.events, [OrderEvent::ClaimOpened]);
    assert_eq!(
        d.set_timers,
        [(TimerKind::ClaimAnswer, GUARANTEE_ENDS + 5 * DAY)]
    );
    assert_eq!(d.cancel_timers, [TimerKind::ProtectionEnd]);
    assert!(d.transfers.is_empty(), "the hold stays");
    d.order
}

#[test]
fn protection_end_never_moves_later_on_delivery() {
    // delivered on day 25 of a 30-day guarantee: protection still ends at the guarantee
    let shipped = step(&new_order(1_000), Actor::Seller, ship(), T0 + DAY);
    let d = decide(
        &shipped,
        Actor::Carrier,
        OrderCommand::MarkDelivered,
        T0 + 25 * DAY,
    )
    .unwrap();
    assert_eq!(d.order.protection().unwrap().ends, T0 + 31 * DAY);
    let again = decide(
        &d.order,
        Actor::Carrier,
        OrderCommand::MarkDelivered,
        T0 + 26 * DAY,
    );
    assert_eq!(again.unwrap_err(), OrderError::AlreadyDelivered);
    // not delivered: the buyer cannot confirm receipt, and the guarantee's end opens a
    // non-delivery claim instead of a release
    let err = decide(
        &shipped,
        Actor::Buyer,
        OrderCommand::ConfirmReceipt,
        T0 + 2 * DAY,
    );
    assert_eq!(err.unwrap_err(), OrderError::NotDelivered);
    let claim = fire(&shipped, TimerKind::ProtectionEnd, T0 + 31 * DAY).unwrap();
    assert_eq!(claim.order.status(), OrderStatus::Shipped);
    assert_eq!(claim.order.claim(), Some(T0 + 31 * DAY));
    assert_eq!(claim.order.held(), shipped.captured.minor());
    assert!(claim.transfers.is_empty());
}

#[test]
fn the_guarantee_passing_undelivered_opens_a_claim_not_a_release() {
    let o = claimed();
    assert_eq!(o.status(), OrderStatus::Shipped);
    assert_eq!(o.claim(), Some(GUARANTEE_ENDS));
    assert_eq!(o.held(), 10_000);
    // protection does not end: auto-confirm cannot fire, the buyer cannot extend
    assert_eq!(
        fire(&o, TimerKind::ProtectionEnd, GUARANTEE_ENDS + DAY).unwrap_err(),
        OrderError::TimerNotDue
    );
    assert_eq!(
        decide(
            &o,
            Actor::Buyer,
            OrderCommand::ExtendProtection,
            GUARANTEE_ENDS + DAY
        )
        .unwrap_err(),
        OrderError::ProtectionEnded
    );
}

#[test]
fn a_delivered_event_resolves_the_claim_and_protection_goes_on() {
    let o = claimed();
    let at = GUARANTEE_ENDS + 2 * DAY;
    let d = decide(&o, Actor::Carrier, OrderCommand::MarkDelivered, at).unwrap();
    assert_eq!(d.events, [OrderEvent::Delivered, OrderEvent::ClaimResolved]);
    assert_eq!(d.order.status(), OrderStatus::Delivered);
    assert_eq!(d.order.protection().unwrap().ends, at + 15 * DAY);
    assert_eq!(d.set_timers, [(TimerKind::ProtectionEnd, at + 15 * DAY)]);
    assert_eq!(d.cancel_timers, [TimerKind::ClaimAnswer]);
    // the claim's timer, if it still fires, does nothing
    assert_eq!(
        fire(&d.order, TimerKind::ClaimAnswer, GUARANTEE_ENDS + 5 * DAY).unwrap_err(),
        OrderError::TimerNotDue
    );
    let done = fire(&d.order, TimerKind::ProtectionEnd, at + 15 * DAY).unwrap();
    assert_eq!(done.order.status(), OrderStatus::Completed);
}

#[test]
fn the_sellers_silence_refunds_the_buyer_in_full() {
    let o = claimed();
    let due = GUARANTEE_ENDS + 5 * DAY;
    assert_eq!(
        fire(&o, TimerKind::ClaimAnswer, due - 1).unwrap_err(),
        OrderError::TimerNotDue
    );
    let d = fire(&o, TimerKind::ClaimAnswer, due).unwrap();
    assert_eq!(d.order.status(), OrderStatus::Cancelled);
    assert_eq!(
        d.events,
        [
            OrderEvent::RefundDue {
                amount: usd(10_000),
                reason: RefundReason::NotDelivered
            },
            OrderEvent::Cancelled
        ]
    );
    let TransferRequest::Posted {
        debit,
        credit,
        amount,
    } = &d.transfers[0]
    else {
        panic!("{:?}", d.transfers)
    };
    assert_eq!(
        (debit.as_str(), credit.as_str(), amount.minor()),
        ("escrow:ord_1", "test:refunds_payable:USD", 10_000)
    );
    // a late delivered event finds the order cancelled
    assert_eq!(
        decide(
            &d.order,
            Actor::Carrier,
            OrderCommand::MarkDelivered,
            due + 1
        )
        .unwrap_err(),
        OrderError::Cancelled
    );
}

#[test]
fn the_window_depends_on_the_destination_country() {
    let g = DeliveryGuarantees {
        by_country: [("RU".to_string(), 90 * DAY)].into(),
    };
    let mut plan = common::plan("ord_1", usd(10_000));
    plan.delivery_guarantee = g.window(30 * DAY, Some("RU"));
    let paid = order::paid(&plan, "buy_1", "pay_1", false, T0)
        .unwrap()
        .order;
    let shipped = step(&paid, Actor::Seller, ship(), T0 + HOUR);
    assert_eq!(shipped.protection().unwrap().ends, T0 + HOUR + 90 * DAY);
    assert_eq!(
        fire(&shipped, TimerKind::ProtectionEnd, T0 + HOUR + 90 * DAY - 1).unwrap_err(),
        OrderError::TimerNotDue
    );
}

#[test]
fn an_open_dispute_stops_the_clock_and_holds_the_money() {
    let delivered = delivered_order();
    let open = OrderCommand::OpenDispute {
        dispute: "dsp_1".into(),
    };
    let d = decide(&delivered, Actor::Platform, open.clone(), T0 + 6 * DAY).unwrap();
    assert_eq!(d.events, [OrderEvent::ProtectionPaused]);
    assert_eq!(d.cancel_timers, [TimerKind::ProtectionEnd]);
    assert!(d.transfers.is_empty());
    let o = d.order;
    // the protection end, confirmation, refunds and extensions wait for the dispute
    let later = T0 + 60 * DAY;
    assert_eq!(
        fire(&o, TimerKind::ProtectionEnd, later).unwrap_err(),
        OrderError::TimerNotDue
    );
    for cmd in [
        OrderCommand::ConfirmReceipt,
        OrderCommand::Refund { amount: usd(100) },
        OrderCommand::ExtendProtection,
    ] {
        let actor = [Actor::Buyer, Actor::Platform]
            .into_iter()
            .find(|a| cmd.allowed(*a))
            .unwrap();
        assert_eq!(
            decide(&o, actor, cmd, later).unwrap_err(),
            OrderError::DisputeOpen
        );
    }
    assert_eq!(
        decide(&o, Actor::Platform, open, later).unwrap_err(),
        OrderError::DisputeAlreadyOpen
    );
    // only its own dispute settles it
    let other = OrderCommand::Settle {
        dispute: "dsp_2".into(),
        settlement: Settlement::Release,
    };
    assert_eq!(
        decide(&o, Actor::Platform, other, later).unwrap_err(),
        OrderError::NoOpenDispute
    );
    // the buyer cannot give the command the dispute's outcome gives
    let settle = OrderCommand::Settle {
        dispute: "dsp_1".into(),
        settlement: Settlement::Release,
    };
    assert_eq!(
        decide(&o, Actor::Buyer, settle.clone(), later).unwrap_err(),
        OrderError::NotPermitted("settle_dispute")
    );
    let done = decide(&o, Actor::Platform, settle, later).unwrap();
    assert_eq!(done.order.status(), OrderStatus::Completed);
    assert_eq!(done.order.dispute, None);
}

#[test]
fn a_delivery_during_a_dispute_is_recorded_with_the_clock_still_stopped() {
    let shipped = step(&new_order(10_000), Actor::Seller, ship(), T0 + HOUR);
    let open = OrderCommand::OpenDispute {
        dispute: "dsp_1".into(),
    };
    let o = decide(&shipped, Actor::Platform, open, T0 + 6 * DAY)
        .unwrap()
        .order;
    // 24 d 1 h of the guarantee were left; a delivery leaves at most 15 d
    assert_eq!(o.dispute.as_ref().unwrap().remaining, 24 * DAY + HOUR);
    let d = decide(
        &o,
        Actor::Carrier,
        OrderCommand::MarkDelivered,
        T0 + 7 * DAY,
    )
    .unwrap();
    assert_eq!(d.order.status(), OrderStatus::Delivered);
    assert!(d.set_timers.is_empty(), "the clock stays stopped");
    assert_eq!(d.order.dispute.as_ref().unwrap().remaining, 15 * DAY);
    let resumed = decide(
        &d.order,
        Actor::Platform,
        OrderCommand::Settle {
            dispute: "dsp_1".into(),
            settlement: Settlement::Resume,
        },
        T0 + 20 * DAY,
    )
    .unwrap();
    assert_eq!(
        resumed.events,
        [OrderEvent::ProtectionResumed {
            until: T0 + 35 * DAY
        }]
    );
}
