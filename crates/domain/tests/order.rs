//! Escrow orders on the state-carrying API: every branch of the lifecycle, the deadlines checked
//! against `now`, each refund path's money, the per-mode accounts, and a property test that runs
//! random command sequences through a ledger book. The state × command table is in `tables.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{T0, money, new_order, plan, ship, step, usd};
use holdback_domain::audit::Auditor;
use holdback_domain::ledger::{
    AccountKind, Book, Head, JournalEntry, TransactionRequest, TransferRequest,
};
use holdback_domain::order::{
    self, Actor, Commission, CommissionRule, DAY, Decision, EscrowAccounts, HOUR, Order,
    OrderCommand, OrderError, OrderEvent, OrderPolicy, OrderState, OrderStatus, RefundReason,
    Release, TimerKind,
};
use holdback_domain::{AccountId, ErrorCode, Money, TxId};
use proptest::prelude::*;

fn decide(o: &Order, actor: Actor, cmd: OrderCommand, now: i64) -> Result<Decision, OrderError> {
    order::decide(o, actor, &cmd, now, &OrderPolicy::default())
}

fn fire(o: &Order, kind: TimerKind, now: i64) -> Result<Decision, OrderError> {
    decide(o, Actor::Scheduler, OrderCommand::Fire(kind), now)
}

fn acc(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

#[test]
fn roles_are_checked() {
    let o = new_order(1000);
    let cases = [
        (Actor::Buyer, ship()),
        (Actor::Carrier, ship()),
        (Actor::Seller, OrderCommand::ConfirmReceipt),
        (Actor::Buyer, OrderCommand::Refund { amount: usd(1) }),
        (Actor::Seller, OrderCommand::RequestCancel),
        (Actor::Buyer, OrderCommand::AnswerCancel { accept: true }),
        (Actor::Platform, OrderCommand::Fire(TimerKind::ShipBy)),
        (Actor::Seller, OrderCommand::ExtendProtection),
        (Actor::Seller, OrderCommand::RequestExtension { days: 3 }),
        (
            Actor::Buyer,
            OrderCommand::AnswerExtension { approve: true },
        ),
        (Actor::Buyer, OrderCommand::MarkDelivered),
    ];
    for (actor, cmd) in cases {
        let err = decide(&o, actor, cmd.clone(), T0).unwrap_err();
        assert_eq!(
            err,
            OrderError::NotPermitted(cmd.code()),
            "{actor:?} {cmd:?}"
        );
        assert_eq!(err.code(), ErrorCode::NotPermitted);
    }
}

#[test]
fn happy_path_releases_to_the_seller_less_commission() {
    let paid = order::paid(&plan("ord_1", usd(10_000)), "buy_1", "pay_1", false, T0).unwrap();
    assert_eq!(paid.set_timers, vec![(TimerKind::ShipBy, T0 + 7 * DAY)]);
    assert_eq!(paid.order.ship_by, T0 + 7 * DAY);
    assert_eq!(paid.order.status(), OrderStatus::Paid);
    assert_eq!(paid.order.held(), 10_000);
    assert_eq!(paid.events, vec![OrderEvent::Paid]);
    let kinds: Vec<_> = paid.accounts.iter().map(|a| (a.kind, a.bounded)).collect();
    assert_eq!(
        kinds,
        [
            (AccountKind::BuyerPaymentClearing, false),
            (AccountKind::Escrow, true),
            (AccountKind::SellerPayable, true),
            (AccountKind::CommissionRevenue, false),
            (AccountKind::RefundsPayable, true),
        ]
    );
    assert_eq!(
        paid.transfers,
        vec![TransferRequest::Posted {
            debit: acc("test:card_clearing:USD"),
            credit: acc("escrow:ord_1"),
            amount: usd(10_000),
        }]
    );

    let shipped = decide(&paid.order, Actor::Seller, ship(), T0 + DAY).unwrap();
    assert_eq!(
        shipped.cancel_timers,
        vec![TimerKind::ShipBy, TimerKind::CancelAnswer]
    );
    assert_eq!(
        shipped.set_timers,
        vec![(TimerKind::ProtectionEnd, T0 + 31 * DAY)]
    );
    let s = shipped.order.shipment().unwrap();
    assert_eq!(
        (s.carrier.as_str(), s.tracking.as_str(), s.shipped_at),
        ("dhl", "JD0001", T0 + DAY)
    );
    // delivered on day 5: protection now ends 15 days later (sooner than the guarantee)
    let delivered = decide(
        &shipped.order,
        Actor::Carrier,
        OrderCommand::MarkDelivered,
        T0 + 5 * DAY,
    )
    .unwrap();
    assert_eq!(delivered.order.protection().unwrap().ends, T0 + 20 * DAY);
    assert_eq!(delivered.order.delivered_at(), Some(T0 + 5 * DAY));
    assert_eq!(
        delivered.set_timers,
        vec![(TimerKind::ProtectionEnd, T0 + 20 * DAY)]
    );
    let done = decide(
        &delivered.order,
        Actor::Buyer,
        OrderCommand::ConfirmReceipt,
        T0 + 6 * DAY,
    )
    .unwrap();
    assert_eq!(
        done.order.release(),
        Some(Release {
            to_seller: 9_500,
            commission: 500
        }),
        "5% commission"
    );
    assert_eq!(done.order.held(), 0);
    assert_eq!(done.order.status(), OrderStatus::Completed);
    assert!(done.order.status().is_terminal());
    // the completed order keeps its shipment and delivery
    assert_eq!(done.order.delivered_at(), Some(T0 + 5 * DAY));
    assert!(done.order.shipment().is_some());
    let names: Vec<_> = done.events.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["order.completed", "hold.released"]);
    assert_eq!(
        done.transfers,
        vec![
            TransferRequest::Posted {
                debit: acc("escrow:ord_1"),
                credit: acc("test:seller_payable:sel_1:USD"),
                amount: usd(9_500),
            },
            TransferRequest::Posted {
                debit: acc("escrow:ord_1"),
                credit: acc("test:commission:USD"),
                amount: usd(500),
            },
        ]
    );
    assert_eq!(done.cancel_timers, TimerKind::ALL.to_vec());
}

#[test]
fn timers_fire_only_when_due() {
    let o = new_order(1_000);
    assert_eq!(
        fire(&o, TimerKind::ShipBy, T0 + 7 * DAY - 1).unwrap_err(),
        OrderError::TimerNotDue
    );
    let d = fire(&o, TimerKind::ShipBy, T0 + 7 * DAY).unwrap();
    assert_eq!(d.order.status(), OrderStatus::Cancelled);
    assert_eq!(d.order.refunded, 1_000, "a missed ship-by refunds in full");
    assert_eq!(d.cancel_timers, TimerKind::ALL.to_vec());
    // a timer of another stage is not due
    assert_eq!(
        fire(&o, TimerKind::ProtectionEnd, T0 + 100 * DAY).unwrap_err(),
        OrderError::TimerNotDue
    );
    assert_eq!(
        fire(&o, TimerKind::CancelAnswer, T0 + 100 * DAY).unwrap_err(),
        OrderError::TimerNotDue,
        "no cancellation was requested"
    );
    // seller silent for 48 h after a cancel request: cancelled and refunded
    let asked = decide(&o, Actor::Buyer, OrderCommand::RequestCancel, T0 + DAY).unwrap();
    assert_eq!(asked.order.cancel_requested(), Some(T0 + DAY));
    assert_eq!(
        asked.set_timers,
        vec![(TimerKind::CancelAnswer, T0 + 3 * DAY)]
    );
    assert_eq!(
        fire(&asked.order, TimerKind::CancelAnswer, T0 + 3 * DAY - 1).unwrap_err(),
        OrderError::TimerNotDue
    );
    let d = fire(&asked.order, TimerKind::CancelAnswer, T0 + 3 * DAY).unwrap();
    assert_eq!(
        (d.order.status(), d.order.refunded),
        (OrderStatus::Cancelled, 1_000)
    );
    // a second request is refused; a rejected one clears the request and its timer
    assert_eq!(
        decide(
            &asked.order,
            Actor::Buyer,
            OrderCommand::RequestCancel,
            T0 + DAY + 1
        )
        .unwrap_err(),
        OrderError::CancelAlreadyRequested
    );
    let no = decide(
        &asked.order,
        Actor::Seller,
        OrderCommand::AnswerCancel { accept: false },
        T0 + 2 * DAY,
    )
    .unwrap();
    assert_eq!(no.order.cancel_requested(), None);
    assert_eq!(no.cancel_timers, vec![TimerKind::CancelAnswer]);
    assert_eq!(no.events, vec![OrderEvent::CancelRejected]);
    assert_eq!(
        fire(&no.order, TimerKind::CancelAnswer, T0 + 3 * DAY).unwrap_err(),
        OrderError::TimerNotDue,
        "the rejected request's timer has nothing to do"
    );
    // after the ship-by deadline the buyer cannot ask any more: the order is being cancelled
    assert_eq!(
        decide(&o, Actor::Buyer, OrderCommand::RequestCancel, T0 + 7 * DAY).unwrap_err(),
        OrderError::ShipByPassed
    );
}

#[test]
fn shipping_at_or_after_ship_by_is_refused_and_changes_nothing() {
    let o = new_order(1_000);
    for now in [T0 + 7 * DAY, T0 + 7 * DAY + 1, T0 + 30 * DAY] {
        let before = o.clone();
        assert_eq!(
            decide(&o, Actor::Seller, ship(), now).unwrap_err(),
            OrderError::ShipByPassed
        );
        assert_eq!(
            decide(&o, Actor::Platform, ship(), now).unwrap_err().code(),
            ErrorCode::ShipByPassed
        );
        assert_eq!(o, before);
        // and the ship-by timer still cancels and refunds it
        let d = fire(&o, TimerKind::ShipBy, now).unwrap();
        assert_eq!(d.order.status(), OrderStatus::Cancelled);
    }
    let d = decide(&o, Actor::Seller, ship(), T0 + 7 * DAY - 1).unwrap();
    assert_eq!(d.order.status(), OrderStatus::Shipped);
}

#[test]
fn a_late_cancellation_answer_is_refused() {
    let asked = step(
        &new_order(1_000),
        Actor::Buyer,
        OrderCommand::RequestCancel,
        T0 + HOUR,
    );
    let due = T0 + HOUR + 48 * HOUR;
    for accept in [true, false] {
        for now in [due, due + 1, due + DAY] {
            let err = decide(
                &asked,
                Actor::Seller,
                OrderCommand::AnswerCancel { accept },
                now,
            );
            assert_eq!(
                err.unwrap_err(),
                OrderError::CancelAnswerLate,
                "{accept} at {now}"
            );
        }
        let ok = decide(
            &asked,
            Actor::Seller,
            OrderCommand::AnswerCancel { accept },
            due - 1,
        );
        let expected = if accept {
            OrderStatus::Cancelled
        } else {
            OrderStatus::Paid
        };
        assert_eq!(ok.unwrap().order.status(), expected);
    }
    // no request, no answer
    let err = decide(
        &new_order(1),
        Actor::Seller,
        OrderCommand::AnswerCancel { accept: true },
        T0,
    );
    assert_eq!(err.unwrap_err(), OrderError::NoCancelRequest);
}

#[test]
fn shipping_after_the_cancellation_answer_time_is_refused() {
    let asked = step(
        &new_order(1_000),
        Actor::Buyer,
        OrderCommand::RequestCancel,
        T0 + HOUR,
    );
    let due = T0 + HOUR + 48 * HOUR;
    assert_eq!(
        decide(&asked, Actor::Seller, ship(), due).unwrap_err(),
        OrderError::CancelAnswerLate
    );
    assert_eq!(
        decide(&asked, Actor::Seller, ship(), due + 3 * DAY).unwrap_err(),
        OrderError::CancelAnswerLate
    );
    // past both deadlines, ship-by is named first
    assert_eq!(
        decide(&asked, Actor::Seller, ship(), T0 + 8 * DAY).unwrap_err(),
        OrderError::ShipByPassed
    );
    // before the answer is due, shipping answers "no" and clears the request with its timer
    let shipped = decide(&asked, Actor::Seller, ship(), due - 1).unwrap();
    assert_eq!(shipped.order.status(), OrderStatus::Shipped);
    assert_eq!(shipped.order.cancel_requested(), None);
    assert!(shipped.cancel_timers.contains(&TimerKind::CancelAnswer));
}

/// What one refund path must produce: exactly one `RefundDue` of `amount` for `reason`, and
/// exactly one transfer, escrow → the mode's refunds payable.
fn assert_refund_due(d: &Decision, amount: Money, reason: RefundReason) {
    let due: Vec<_> = d
        .events
        .iter()
        .filter(|e| matches!(e, OrderEvent::RefundDue { .. }))
        .collect();
    assert_eq!(due, vec![&OrderEvent::RefundDue { amount, reason }]);
    let m = order::mode(d.order.livemode);
    assert_eq!(
        d.transfers,
        vec![TransferRequest::Posted {
            debit: acc(&format!("escrow:{}", d.order.id)),
            credit: acc(&format!("{m}:refunds_payable:{}", amount.currency().code())),
            amount,
        }]
    );
}

#[test]
fn every_refund_path_owes_the_buyer_once_through_refunds_payable() {
    let o = new_order(10_000);
    // ship-by missed
    let d = fire(&o, TimerKind::ShipBy, T0 + 7 * DAY).unwrap();
    assert_refund_due(&d, usd(10_000), RefundReason::ShipByMissed);
    assert_eq!(
        d.order.state,
        OrderState::Cancelled {
            shipment: None,
            delivered_at: None,
            cancelled_at: T0 + 7 * DAY
        }
    );
    // cancellation accepted
    let asked = step(&o, Actor::Buyer, OrderCommand::RequestCancel, T0 + HOUR);
    let d = decide(
        &asked,
        Actor::Seller,
        OrderCommand::AnswerCancel { accept: true },
        T0 + 2 * HOUR,
    )
    .unwrap();
    assert_refund_due(&d, usd(10_000), RefundReason::CancelAccepted);
    assert_eq!(d.order.status(), OrderStatus::Cancelled);
    // cancellation unanswered
    let d = fire(&asked, TimerKind::CancelAnswer, T0 + 49 * HOUR).unwrap();
    assert_refund_due(&d, usd(10_000), RefundReason::CancelUnanswered);
    assert_eq!(d.order.status(), OrderStatus::Cancelled);
    // explicit full refund, before and after shipment
    let shipped = step(&o, Actor::Seller, ship(), T0 + HOUR);
    for from in [&o, &shipped] {
        let d = decide(
            from,
            Actor::Platform,
            OrderCommand::Refund {
                amount: usd(10_000),
            },
            T0 + DAY,
        )
        .unwrap();
        assert_refund_due(&d, usd(10_000), RefundReason::Requested);
        assert_eq!(d.order.status(), OrderStatus::Cancelled);
        assert_eq!(d.order.refunded, 10_000);
        let names: Vec<_> = d.events.iter().map(|e| e.name()).collect();
        assert_eq!(names, ["order.refund_due", "order.cancelled"]);
    }
    // explicit partial refund: the order stays where it is
    let d = decide(
        &shipped,
        Actor::Seller,
        OrderCommand::Refund { amount: usd(2_500) },
        T0 + DAY,
    )
    .unwrap();
    assert_refund_due(&d, usd(2_500), RefundReason::Requested);
    assert_eq!(
        (d.order.status(), d.order.held(), d.order.refunded),
        (OrderStatus::Shipped, 7_500, 2_500)
    );
    assert!(d.cancel_timers.is_empty() && d.set_timers.is_empty());
    // a partial refund then a cancellation refunds only what is left
    let part = decide(
        &o,
        Actor::Platform,
        OrderCommand::Refund { amount: usd(4_000) },
        T0 + HOUR,
    )
    .unwrap()
    .order;
    let d = fire(&part, TimerKind::ShipBy, T0 + 7 * DAY).unwrap();
    assert_refund_due(&d, usd(6_000), RefundReason::ShipByMissed);
    assert_eq!(d.order.refunded, 10_000);
}

#[test]
fn accounts_are_per_mode_and_currency() {
    for (livemode, m) in [(false, "test"), (true, "live")] {
        let p = plan("ord_m", money(5_000, "JPY"));
        let paid = order::paid(&p, "buy_1", "pay_1", livemode, T0).unwrap();
        let ids: Vec<String> = paid.accounts.iter().map(|a| a.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                format!("{m}:card_clearing:JPY"),
                "escrow:ord_m".to_string(),
                format!("{m}:seller_payable:sel_1:JPY"),
                format!("{m}:commission:JPY"),
                format!("{m}:refunds_payable:JPY"),
            ]
        );
        assert!(paid.accounts.iter().all(|a| a.currency.code() == "JPY"));
        let a = EscrowAccounts::of(&paid.order).unwrap();
        assert_eq!(a.card_clearing.as_str(), format!("{m}:card_clearing:JPY"));
        // the release and the refunds go through the same mode's accounts
        let shipped = step(&paid.order, Actor::Seller, ship(), T0 + HOUR);
        let part = decide(
            &shipped,
            Actor::Platform,
            OrderCommand::Refund {
                amount: money(1_000, "JPY"),
            },
            T0 + DAY,
        )
        .unwrap();
        assert_refund_due(&part, money(1_000, "JPY"), RefundReason::Requested);
        let delivered = step(
            &part.order,
            Actor::Carrier,
            OrderCommand::MarkDelivered,
            T0 + DAY,
        );
        let done = fire(&delivered, TimerKind::ProtectionEnd, T0 + 40 * DAY).unwrap();
        let credits: Vec<String> = done
            .transfers
            .iter()
            .map(|t| match t {
                TransferRequest::Posted { credit, .. } => credit.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            credits,
            [
                format!("{m}:seller_payable:sel_1:JPY"),
                format!("{m}:commission:JPY")
            ]
        );
        assert_eq!(
            done.order.release(),
            Some(Release {
                to_seller: 3_800,
                commission: 200
            })
        );
    }
}

#[test]
fn extensions_follow_the_rules() {
    let shipped = step(&new_order(10_000), Actor::Seller, ship(), T0 + DAY); // ends T0 + 31 d
    let err = decide(
        &shipped,
        Actor::Buyer,
        OrderCommand::ExtendProtection,
        T0 + 20 * DAY,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ExtensionTooEarly);
    let d = decide(
        &shipped,
        Actor::Buyer,
        OrderCommand::ExtendProtection,
        T0 + 29 * DAY,
    )
    .unwrap();
    assert_eq!(d.order.protection().unwrap().ends, T0 + 34 * DAY);
    assert_eq!(
        d.events,
        vec![OrderEvent::ProtectionExtended {
            until: T0 + 34 * DAY
        }]
    );
    let err = decide(
        &d.order,
        Actor::Buyer,
        OrderCommand::ExtendProtection,
        T0 + 33 * DAY,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ExtensionAlreadyUsed);
    // the seller approves 20 days, then a further 11 would pass the 30-day limit
    let asked = decide(
        &d.order,
        Actor::Buyer,
        OrderCommand::RequestExtension { days: 20 },
        T0 + 30 * DAY,
    )
    .unwrap();
    assert_eq!(
        asked.events,
        vec![OrderEvent::ExtensionRequested { days: 20 }]
    );
    let ok = decide(
        &asked.order,
        Actor::Seller,
        OrderCommand::AnswerExtension { approve: true },
        T0 + 30 * DAY,
    )
    .unwrap();
    assert_eq!(ok.order.protection().unwrap().ends, T0 + 54 * DAY);
    assert_eq!(ok.order.protection().unwrap().seller_extended, 20 * DAY);
    assert_eq!(
        ok.set_timers,
        vec![(TimerKind::ProtectionEnd, T0 + 54 * DAY)]
    );
    let err = decide(
        &ok.order,
        Actor::Buyer,
        OrderCommand::RequestExtension { days: 11 },
        T0 + 31 * DAY,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ExtensionOutOfRange);
    let err = decide(
        &ok.order,
        Actor::Buyer,
        OrderCommand::RequestExtension { days: 0 },
        T0 + 31 * DAY,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ExtensionOutOfRange);
    // nothing asked: nothing to answer; a declined request changes no deadline
    let err = decide(
        &ok.order,
        Actor::Seller,
        OrderCommand::AnswerExtension { approve: true },
        T0 + 31 * DAY,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoExtensionRequest);
    let asked = step(
        &ok.order,
        Actor::Buyer,
        OrderCommand::RequestExtension { days: 10 },
        T0 + 31 * DAY,
    );
    let no = decide(
        &asked,
        Actor::Seller,
        OrderCommand::AnswerExtension { approve: false },
        T0 + 32 * DAY,
    )
    .unwrap();
    assert_eq!(no.order.protection().unwrap().ends, T0 + 54 * DAY);
    assert_eq!(no.events, vec![OrderEvent::ExtensionDeclined]);
    assert!(no.set_timers.is_empty());
    // the old protection-end timer firing early is not due
    let err = fire(&ok.order, TimerKind::ProtectionEnd, T0 + 34 * DAY).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TimerNotDue);
    // after protection ended, no extension
    let err = decide(
        &ok.order,
        Actor::Buyer,
        OrderCommand::RequestExtension { days: 1 },
        T0 + 54 * DAY,
    )
    .unwrap_err();
    assert_eq!(err, OrderError::ProtectionEnded);
}

#[test]
fn refunds_are_bounded_by_what_is_held() {
    let o = step(&new_order(10_000), Actor::Seller, ship(), T0 + DAY);
    let refund = |o: &Order, m| {
        decide(
            o,
            Actor::Platform,
            OrderCommand::Refund { amount: m },
            T0 + 2 * DAY,
        )
    };
    assert_eq!(
        refund(&o, usd(10_001)).unwrap_err(),
        OrderError::RefundExceedsHeld {
            requested: 10_001,
            remaining: 10_000
        }
    );
    assert_eq!(
        refund(&o, money(5, "EUR")).unwrap_err().code(),
        ErrorCode::CurrencyMismatch
    );
    assert_eq!(
        refund(&o, usd(0)).unwrap_err().code(),
        ErrorCode::ZeroAmount
    );
    let part = refund(&o, usd(2_500)).unwrap();
    assert_eq!(
        (part.order.status(), part.order.held()),
        (OrderStatus::Shipped, 7_500)
    );
    let err = refund(&part.order, usd(7_501)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RefundExceedsHeld);
    // the rest is released at completion, with commission on what was released
    let delivered = step(
        &part.order,
        Actor::Carrier,
        OrderCommand::MarkDelivered,
        T0 + 3 * DAY,
    );
    let done = fire(&delivered, TimerKind::ProtectionEnd, T0 + 100 * DAY).unwrap();
    assert_eq!(
        done.order.release(),
        Some(Release {
            to_seller: 7_125,
            commission: 375
        })
    );
    assert_eq!(done.order.refunded, 2_500);
    // a terminal order takes no refund
    assert_eq!(
        refund(&done.order, usd(1)).unwrap_err(),
        OrderError::AlreadyReleased
    );
    let cancelled = refund(&part.order, usd(7_500)).unwrap().order;
    assert_eq!(
        refund(&cancelled, usd(1)).unwrap_err(),
        OrderError::Cancelled
    );
}

#[test]
fn commission_rounds_half_up_and_never_exceeds_the_amount() {
    let c = Commission {
        basis_points: 250,
        fixed_minor: 30,
    };
    assert_eq!(c.on(10_000), 280);
    assert_eq!(c.on(20), 20, "capped at the amount");
    let pct = Commission {
        basis_points: 250,
        fixed_minor: 0,
    };
    assert_eq!(pct.on(20), 1, "0.5 rounds up");
    assert_eq!(pct.on(19), 0);
    assert_eq!(pct.on(0), 0);
    // the fixed part is the order's currency's, and none in a currency without one
    let rule = CommissionRule {
        basis_points: 100,
        fixed: vec![usd(30), money(50, "JPY")],
    };
    assert_eq!(
        rule.for_currency(common::cur("JPY")),
        Commission {
            basis_points: 100,
            fixed_minor: 50
        }
    );
    assert_eq!(
        rule.for_currency(common::cur("EUR")),
        Commission {
            basis_points: 100,
            fixed_minor: 0
        }
    );
    assert_eq!(
        CommissionRule::percent(700)
            .for_currency(common::cur("USD"))
            .on(1_000),
        70
    );
}

#[test]
fn codes_parse_back() {
    for s in OrderStatus::ALL {
        assert_eq!(OrderStatus::parse(s.code()), Some(s));
    }
    for k in TimerKind::ALL {
        assert_eq!(TimerKind::parse(k.code()), Some(k));
    }
    for r in RefundReason::ALL {
        assert_eq!(RefundReason::parse(r.code()), Some(r));
    }
}

// ---- property: one order's money through the ledger ------------------------------------------

fn command() -> impl Strategy<Value = (Actor, OrderCommand, i64)> {
    let step = 0..4 * DAY;
    prop_oneof![
        step.clone().prop_map(|t| (Actor::Seller, ship(), t)),
        step.clone()
            .prop_map(|t| (Actor::Carrier, OrderCommand::MarkDelivered, t)),
        step.clone()
            .prop_map(|t| (Actor::Buyer, OrderCommand::ConfirmReceipt, t)),
        step.clone()
            .prop_map(|t| (Actor::Buyer, OrderCommand::RequestCancel, t)),
        (step.clone(), any::<bool>()).prop_map(|(t, accept)| (
            Actor::Seller,
            OrderCommand::AnswerCancel { accept },
            t
        )),
        (step.clone(), 1..6_000i64).prop_map(|(t, a)| (
            Actor::Seller,
            OrderCommand::Refund { amount: usd(a) },
            t
        )),
        step.clone()
            .prop_map(|t| (Actor::Buyer, OrderCommand::ExtendProtection, t)),
        (step.clone(), 0..40u32).prop_map(|(t, days)| (
            Actor::Buyer,
            OrderCommand::RequestExtension { days },
            t
        )),
        (step.clone(), any::<bool>()).prop_map(|(t, approve)| (
            Actor::Seller,
            OrderCommand::AnswerExtension { approve },
            t
        )),
        (step, 0..3usize).prop_map(|(t, k)| (
            Actor::Scheduler,
            OrderCommand::Fire(TimerKind::ALL[k]),
            t
        )),
    ]
}

fn post(book: &mut Book, journal: &mut Vec<JournalEntry>, d: &Decision, n: usize, now: i64) {
    let request = (!d.transfers.is_empty()).then(|| TransactionRequest {
        id: TxId::parse(&format!("tx{n}")).unwrap(),
        transfers: d.transfers.clone(),
    });
    book.execute_opening(&d.accounts, request.as_ref(), now)
        .expect("an accepted decision posts");
    journal.extend(book.take_changes().entries);
}

proptest! {
    #[test]
    fn escrow_always_equals_what_the_order_holds(
        price in 1..20_000i64,
        steps in proptest::collection::vec(command(), 1..30),
    ) {
        let mut book = Book::new(Head::EMPTY);
        let mut journal = Vec::new();
        let first = order::paid(&plan("ord_p", usd(price)), "buy_p", "pay_1", false, T0).unwrap();
        post(&mut book, &mut journal, &first, 0, T0);
        let accounts = EscrowAccounts::of(&first.order).unwrap();
        let mut o = first.order;
        let mut now = T0;
        for (n, (actor, cmd, dt)) in steps.into_iter().enumerate() {
            now += dt;
            if let Ok(d) = order::decide(&o, actor, &cmd, now, &OrderPolicy::default()) {
                post(&mut book, &mut journal, &d, n + 1, now);
                let due: i64 = d.events.iter().map(|e| match e {
                    OrderEvent::RefundDue { amount, .. } => amount.minor(),
                    _ => 0,
                }).sum();
                prop_assert_eq!(d.order.refunded - o.refunded, due);
                o = d.order;
            }
            let balance = |id: &AccountId| book.account(id).map_or(0, |a| a.posted_balance());
            prop_assert_eq!(balance(&accounts.escrow), i128::from(o.held()));
            prop_assert_eq!(balance(&accounts.refunds_payable), i128::from(o.refunded));
            prop_assert!(o.refunded <= price);
            if o.status().is_terminal() {
                prop_assert_eq!(o.held(), 0);
                let r = o.release().unwrap_or(Release { to_seller: 0, commission: 0 });
                prop_assert_eq!(o.refunded + r.to_seller + r.commission, price);
                prop_assert_eq!(balance(&accounts.seller_payable), i128::from(r.to_seller));
            }
        }
        let mut auditor = Auditor::new();
        for e in &journal {
            auditor.feed(e);
        }
        let report = auditor.finish(book.head(), book.accounts().cloned(), book.holds().cloned());
        prop_assert!(report.is_clean(), "{:?}", report.breaches);
    }
}
