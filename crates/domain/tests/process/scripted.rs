//! A fixed run of the process test, so that the properties are known to reach every path.

use super::*;

/// A fixed run through every refund path and every provider fault, so that the property above
/// is known to reach them.
#[test]
fn a_scripted_run_reaches_every_path() {
    use Answer::*;
    let mut ops = vec![
        Op::Checkout {
            amounts: vec![10_000, 4_000, 2_500],
            currency: 0,
            livemode: false,
            declined: false,
        },
        Op::Checkout {
            amounts: vec![900],
            currency: 1,
            livemode: true,
            declined: false,
        },
        Op::Checkout {
            amounts: vec![700],
            currency: 2,
            livemode: false,
            declined: true,
        },
        // ord_1_0: partial refund, then shipped and released
        Op::Order {
            pick: 0,
            command: 6,
            percent: 25,
        },
        Op::Order {
            pick: 0,
            command: 0,
            percent: 0,
        },
        // ord_1_1: cancellation accepted
        Op::Order {
            pick: 1,
            command: 3,
            percent: 0,
        },
        Op::Order {
            pick: 1,
            command: 4,
            percent: 0,
        },
        // ord_1_2: cancellation unanswered; ord_2_0 (JPY, live): ship-by missed
        Op::Order {
            pick: 2,
            command: 3,
            percent: 0,
        },
        Op::Advance(2 * DAY + HOUR),
        Op::Fire { pick: 2, kind: 1 },
        Op::Fire { pick: 2, kind: 1 },
        Op::Advance(6 * DAY),
        Op::Scheduler,
    ];
    // the provider: unknown (happened), unknown (did not), definite failures until the operator
    for (pick, answer) in [
        (0, Unknown { happened: true }),
        (3, Unknown { happened: false }),
    ] {
        ops.push(Op::Worker { pick, answer });
        ops.push(Op::Advance(HOUR));
    }
    for _ in 0..6 {
        ops.push(Op::Worker {
            pick: 1,
            answer: Failure,
        });
        ops.push(Op::Advance(7 * HOUR));
    }
    ops.push(Op::Retry { pick: 0 });
    ops.push(Op::Worker {
        pick: 0,
        answer: Success,
    });
    let mut w = World::new();
    for op in &ops {
        w.apply(op).unwrap();
        w.check().unwrap();
    }
    let states: Vec<String> = w
        .orders
        .values()
        .map(|(o, _)| format!("{} {} refunded={}", o.id, o.status().code(), o.refunded))
        .collect();
    assert_eq!(
        states,
        [
            "ord_1_0 shipped refunded=2500",
            "ord_1_1 cancelled refunded=4000",
            "ord_1_2 cancelled refunded=2500",
            "ord_2_0 cancelled refunded=900",
        ]
    );
    let reasons: Vec<&str> = w.refunds.values().map(|(r, _)| r.reason.code()).collect();
    assert_eq!(reasons.len(), 4);
    for reason in [
        "requested",
        "cancel_accepted",
        "cancel_unanswered",
        "ship_by_missed",
    ] {
        assert!(reasons.contains(&reason), "{reason} in {reasons:?}");
    }
    assert!(w.provider.calls >= 8);
    let seen: Vec<&str> = w.seen.keys().copied().collect();
    assert_eq!(
        seen,
        [
            "cancel_accepted",
            "cancel_unanswered",
            "cancelled",
            "operator retry",
            "paid",
            "refund failed, retried later",
            "refund gave up",
            "refund succeeded after an earlier attempt",
            "refund unknown, did not happen",
            "refund unknown, happened",
            "requested",
            "ship_by_missed",
            "shipped",
        ]
    );
    assert!(w.payments.values().any(|(p, _)| p.state.code() == "failed"));
    run(&ops).unwrap();
}

/// A fixed run through every dispute outcome, the one after release included, so that the
/// dispute property is known to reach them.
#[test]
fn a_scripted_dispute_run_reaches_every_outcome() {
    use holdback_domain::dispute::{Answer, DisputeReason, Outcome, Request};
    let mut w = World::new();
    let checkout = |amounts: Vec<i64>| Op::Checkout {
        amounts,
        currency: 0,
        livemode: false,
        declined: false,
    };
    w.apply(&checkout(vec![10_000, 8_000, 6_000])).unwrap();
    w.apply(&checkout(vec![5_000, 4_000, 3_000])).unwrap();
    let ids: Vec<String> = w.orders.keys().cloned().collect();
    for pick in 0..ids.len() {
        let command = 0; // ship
        w.apply(&Op::Order {
            pick,
            command,
            percent: 0,
        })
        .unwrap();
    }
    // the last one delivered (its protection can then run out)
    w.apply(&Op::Order {
        pick: 5,
        command: 1,
        percent: 0,
    })
    .unwrap();
    w.apply(&Op::Advance(5 * DAY + HOUR)).unwrap();
    let amount = |minor| money(minor, "USD");
    let open = |w: &mut World, k: usize, reason, request| {
        w.open_dispute_on(&ids[k], reason, request)
            .unwrap()
            .unwrap()
    };
    let full = open(&mut w, 0, DisputeReason::NotReceived, Request::FullRefund);
    let partial = open(
        &mut w,
        1,
        DisputeReason::Damaged,
        Request::PartialRefund(amount(2_400)),
    );
    let ret = open(
        &mut w,
        2,
        DisputeReason::WrongItem,
        Request::ReturnAndRefund,
    );
    let counter = open(
        &mut w,
        3,
        DisputeReason::NotAsDescribed,
        Request::FullRefund,
    );
    let fake = open(&mut w, 4, DisputeReason::Counterfeit, Request::FullRefund);
    let rejected = open(&mut w, 5, DisputeReason::Damaged, Request::FullRefund);
    let ok = |w: &mut World, id: &str, actor, cmd: DisputeCommand| {
        assert_eq!(w.dispute(id, actor, &cmd).unwrap(), None, "{id} {cmd:?}");
        w.check().unwrap();
    };
    let decide = |outcome| DisputeCommand::Decide {
        outcome,
        reason: "as the evidence shows".into(),
        by: "med_1".into(),
    };
    ok(
        &mut w,
        &full,
        Actor::Seller,
        DisputeCommand::Respond(Answer::Accept),
    );
    ok(
        &mut w,
        &ret,
        Actor::Seller,
        DisputeCommand::Respond(Answer::Accept),
    );
    ok(
        &mut w,
        &ret,
        Actor::Buyer,
        DisputeCommand::ShipReturn {
            tracking: "RT1".into(),
        },
    );
    ok(
        &mut w,
        &ret,
        Actor::Seller,
        DisputeCommand::ConfirmReturnReceived,
    );
    let offer = DisputeCommand::Respond(Answer::Counter(amount(2_000)));
    ok(&mut w, &counter, Actor::Seller, offer);
    ok(
        &mut w,
        &counter,
        Actor::Buyer,
        DisputeCommand::AcceptCounter,
    );
    for id in [&partial, &fake, &rejected] {
        ok(
            &mut w,
            id,
            Actor::Seller,
            DisputeCommand::Respond(Answer::Reject),
        );
    }
    w.apply(&Op::Advance(3 * DAY)).unwrap();
    for id in [&partial, &fake, &rejected] {
        ok(&mut w, id, Actor::Buyer, DisputeCommand::Escalate);
    }
    ok(
        &mut w,
        &partial,
        Actor::Mediator,
        decide(Outcome::PartialRefund(amount(2_400))),
    );
    ok(
        &mut w,
        &fake,
        Actor::Mediator,
        decide(Outcome::Counterfeit(amount(8_000))),
    );
    ok(
        &mut w,
        &rejected,
        Actor::Mediator,
        decide(Outcome::Rejected),
    );
    // the rejected order completes when its protection runs out; then a counterfeit claim
    w.apply(&Op::Advance(40 * DAY)).unwrap();
    w.apply(&Op::Scheduler).unwrap();
    let last = &ids[5];
    assert_eq!(w.orders[last].0.status().code(), "completed");
    let after = w
        .open_dispute_on(last, DisputeReason::Counterfeit, Request::FullRefund)
        .unwrap()
        .unwrap();
    ok(
        &mut w,
        &after,
        Actor::Mediator,
        decide(Outcome::Counterfeit(amount(4_500))),
    );
    let outcomes: Vec<String> = w
        .orders
        .values()
        .map(|(o, _)| {
            format!(
                "{} {} refunded={} charged_to_seller={}",
                o.id,
                o.status().code(),
                o.refunded,
                o.charged_to_seller
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "ord_1_0 cancelled refunded=10000 charged_to_seller=0",
            "ord_1_1 completed refunded=2400 charged_to_seller=0",
            "ord_1_2 cancelled refunded=6000 charged_to_seller=0",
            "ord_2_0 completed refunded=2000 charged_to_seller=0",
            "ord_2_1 cancelled refunded=4000 charged_to_seller=0",
            "ord_2_2 completed refunded=0 charged_to_seller=3000",
        ]
    );
    for outcome in [
        "full_refund",
        "partial_refund",
        "return_and_refund",
        "rejected",
        "counterfeit",
    ] {
        assert!(w.seen.contains_key(outcome), "{outcome}");
    }
    finish(w).unwrap();
}
