//! Each dispute timer's branch: not due before its time, its effect once when due, and refused
//! as not due once the dispute has moved on (a timer may fire more than once).

use holdback_domain::order::Settlement;

use super::*;

fn fire(d: &Dispute, kind: DisputeTimer, now: i64) -> Result<DisputeDecision, DisputeError> {
    try_apply(d, Actor::Scheduler, DisputeCommand::Fire(kind), now)
}

#[test]
fn the_sellers_silence_grants_the_buyers_request() {
    let due = OPENED + 5 * DAY;
    for (request, settles) in [
        (
            Request::FullRefund,
            Some(Settlement::Split {
                refund: usd(10_000),
            }),
        ),
        (
            Request::PartialRefund(usd(2_500)),
            Some(Settlement::Split { refund: usd(2_500) }),
        ),
        (Request::ReturnAndRefund, None),
    ] {
        let d = open_dispute(request);
        assert_eq!(
            fire(&d, DisputeTimer::SellerAnswer, due - 1).unwrap_err(),
            DisputeError::TimerNotDue
        );
        // the seller's answer is late from then on
        let late = try_apply(
            &d,
            Actor::Seller,
            DisputeCommand::Respond(Answer::Reject),
            due,
        );
        assert_eq!(late.unwrap_err(), DisputeError::AnswerLate);
        let x = fire(&d, DisputeTimer::SellerAnswer, due).unwrap();
        match settles {
            Some(s) => {
                assert_eq!(x.events, [DisputeEvent::Closed(s)]);
                assert_eq!(
                    closure(&x.dispute),
                    Some((request.into(), Closure::SellerSilent))
                );
                assert_eq!(x.cancel_timers, DisputeTimer::ALL);
            }
            None => {
                assert_eq!(
                    x.dispute.state,
                    DisputeState::AwaitingReturn {
                        ship_by: due + 10 * DAY,
                        refund: usd(10_000)
                    }
                );
                assert_eq!(x.set_timers, [(DisputeTimer::ReturnShipBy, due + 10 * DAY)]);
            }
        }
        // fired again: its effect happened once
        let again = fire(&x.dispute, DisputeTimer::SellerAnswer, due + HOUR);
        assert_eq!(again.unwrap_err(), DisputeError::TimerNotDue);
    }
}

#[test]
fn negotiation_escalates_by_either_side_after_3_days_and_by_itself_at_15() {
    let d = open_dispute(Request::FullRefund);
    let rejected = rejected();
    let early = try_apply(
        &rejected,
        Actor::Buyer,
        DisputeCommand::Escalate,
        OPENED + 3 * DAY - 1,
    );
    assert_eq!(early.unwrap_err().code(), ErrorCode::EscalationTooEarly);
    let by_seller = try_apply(
        &rejected,
        Actor::Seller,
        DisputeCommand::Escalate,
        OPENED + 3 * DAY,
    )
    .unwrap();
    assert_eq!(
        by_seller.events,
        [DisputeEvent::Escalated(Escalation::Seller)]
    );
    let at = OPENED + 15 * DAY;
    assert_eq!(
        fire(&rejected, DisputeTimer::AutoEscalate, at - 1).unwrap_err(),
        DisputeError::TimerNotDue
    );
    let x = fire(&rejected, DisputeTimer::AutoEscalate, at).unwrap();
    assert_eq!(
        x.dispute.state,
        DisputeState::InMediation {
            escalated_at: at,
            by: Escalation::Timer,
            sla_due: at + 7 * DAY,
            overdue: false
        }
    );
    assert_eq!(x.set_timers, [(DisputeTimer::MediationSla, at + 7 * DAY)]);
    assert_eq!(
        x.cancel_timers,
        [DisputeTimer::SellerAnswer, DisputeTimer::AutoEscalate]
    );
    let again = fire(&x.dispute, DisputeTimer::AutoEscalate, at + 1);
    assert_eq!(again.unwrap_err(), DisputeError::TimerNotDue);
    // a counter-offer can no longer be accepted once the negotiation's time is over
    let countered = apply(
        &d,
        Actor::Seller,
        DisputeCommand::Respond(Answer::Counter(usd(4_000))),
        OPENED + HOUR,
    );
    let late = try_apply(&countered, Actor::Buyer, DisputeCommand::AcceptCounter, at);
    assert_eq!(late.unwrap_err(), DisputeError::NotNegotiating);
    let accepted = try_apply(
        &countered,
        Actor::Buyer,
        DisputeCommand::AcceptCounter,
        at - 1,
    )
    .unwrap();
    assert_eq!(
        closure(&accepted.dispute),
        Some((Outcome::PartialRefund(usd(4_000)), Closure::CounterAccepted))
    );
}

#[test]
fn the_mediation_sla_marks_the_dispute_overdue_and_decides_nothing() {
    let d = apply(
        &rejected(),
        Actor::Buyer,
        DisputeCommand::Escalate,
        OPENED + 4 * DAY,
    );
    let due = OPENED + 11 * DAY;
    assert_eq!(
        fire(&d, DisputeTimer::MediationSla, due - 1).unwrap_err(),
        DisputeError::TimerNotDue
    );
    let x = fire(&d, DisputeTimer::MediationSla, due).unwrap();
    assert_eq!(x.events, [DisputeEvent::MediationOverdue]);
    assert_eq!(x.dispute.status(), DisputeStatus::InMediation);
    assert!(x.dispute.is_overdue(due));
    assert_eq!(
        fire(&x.dispute, DisputeTimer::MediationSla, due + 1).unwrap_err(),
        DisputeError::TimerNotDue
    );
    // the mediator still decides, with a reason
    let no_reason = try_apply(
        &x.dispute,
        Actor::Mediator,
        DisputeCommand::Decide {
            outcome: Outcome::Rejected,
            reason: String::new(),
            by: "med_1".into(),
        },
        due + DAY,
    );
    assert_eq!(
        no_reason.unwrap_err().code(),
        ErrorCode::DecisionReasonMissing
    );
    let decided = apply(
        &x.dispute,
        Actor::Mediator,
        decide_with(Outcome::Rejected),
        due + DAY,
    );
    assert_eq!(decided.status(), DisputeStatus::Closed);
}

/// A dispute whose return was granted at `OPENED + 1 h` (ship by `OPENED + 1 h + 10 d`).
fn awaiting_return() -> Dispute {
    apply(
        &open_dispute(Request::ReturnAndRefund),
        Actor::Seller,
        DisputeCommand::Respond(Answer::Accept),
        OPENED + HOUR,
    )
}

#[test]
fn a_return_not_shipped_in_10_days_releases_the_hold_to_the_seller() {
    let d = awaiting_return();
    let ship_by = OPENED + HOUR + 10 * DAY;
    assert_eq!(
        fire(&d, DisputeTimer::ReturnShipBy, ship_by - 1).unwrap_err(),
        DisputeError::TimerNotDue
    );
    let late = try_apply(
        &d,
        Actor::Buyer,
        DisputeCommand::ShipReturn {
            tracking: "RT1".into(),
        },
        ship_by,
    );
    assert_eq!(late.unwrap_err(), DisputeError::ReturnShipByPassed);
    let x = fire(&d, DisputeTimer::ReturnShipBy, ship_by).unwrap();
    assert_eq!(x.events, [DisputeEvent::Closed(Settlement::Release)]);
    let (fx, rest) = unit(x, &paused(&delivered_order()), ship_by);
    assert_eq!(
        posted(&fx),
        [
            (
                "escrow:ord_1".into(),
                "test:seller_payable:sel_1:USD".into(),
                9_500
            ),
            ("escrow:ord_1".into(), "test:commission:USD".into(), 500)
        ]
    );
    assert!(rest.is_empty());
    assert_eq!(order_of(&fx).status(), OrderStatus::Completed);
}

#[test]
fn a_delivered_return_not_confirmed_in_15_days_is_refunded() {
    let d = apply(
        &awaiting_return(),
        Actor::Buyer,
        DisputeCommand::ShipReturn {
            tracking: "RT1".into(),
        },
        OPENED + DAY,
    );
    // not delivered yet: no refund timer
    assert_eq!(
        fire(&d, DisputeTimer::ReturnRefund, OPENED + 100 * DAY).unwrap_err(),
        DisputeError::TimerNotDue
    );
    let delivered_at = OPENED + 4 * DAY;
    let x = try_apply(
        &d,
        Actor::Carrier,
        DisputeCommand::ReturnDelivered,
        delivered_at,
    )
    .unwrap();
    let due = delivered_at + 15 * DAY;
    assert_eq!(x.set_timers, [(DisputeTimer::ReturnRefund, due)]);
    assert_eq!(
        fire(&x.dispute, DisputeTimer::ReturnRefund, due - 1).unwrap_err(),
        DisputeError::TimerNotDue
    );
    let done = fire(&x.dispute, DisputeTimer::ReturnRefund, due).unwrap();
    assert_eq!(
        done.events,
        [DisputeEvent::Closed(Settlement::Split {
            refund: usd(10_000)
        })]
    );
    assert_eq!(
        closure(&done.dispute),
        Some((Outcome::ReturnAndRefund, Closure::ReturnUnconfirmed))
    );
    assert_eq!(
        fire(&done.dispute, DisputeTimer::ReturnRefund, due + 1).unwrap_err(),
        DisputeError::TimerNotDue
    );
}
