//! Escrow orders: the state × command table, every branch of the lifecycle, and a property test
//! that runs random command sequences through a ledger book and checks the money.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_domain::audit::Auditor;
use holdback_domain::ledger::{Book, Head, JournalEntry, TransactionRequest};
use holdback_domain::order::{
    self, Actor, Decision, EscrowAccounts, Order, OrderCommand, OrderError, OrderPolicy,
    OrderStatus, TimerKind,
};
use holdback_domain::{Currency, Money, TxId};
use proptest::prelude::*;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_800_000_000_000;

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("USD").unwrap()).unwrap()
}

fn new_order(price: i64) -> Order {
    order::paid(
        "ord_1",
        "buy_1",
        "sel_1",
        "pay_1",
        usd(price),
        T0,
        &OrderPolicy::default(),
    )
    .unwrap()
    .order
}

fn ship() -> OrderCommand {
    OrderCommand::Ship {
        carrier: "dhl".into(),
        tracking: "JD0001".into(),
    }
}

/// An order brought to `status` by the ordinary path.
fn order_in(status: OrderStatus) -> Order {
    let p = OrderPolicy::default();
    let o = new_order(10_000);
    let step = |o: &Order, actor, cmd: OrderCommand, now| {
        order::decide(o, actor, &cmd, now, &p).unwrap().order
    };
    match status {
        OrderStatus::Paid => o,
        OrderStatus::Shipped => step(&o, Actor::Seller, ship(), T0 + DAY),
        OrderStatus::Delivered => {
            let o = step(&o, Actor::Seller, ship(), T0 + DAY);
            step(
                &o,
                Actor::Carrier,
                OrderCommand::MarkDelivered,
                T0 + 5 * DAY,
            )
        }
        OrderStatus::Completed => {
            let o = order_in(OrderStatus::Delivered);
            step(&o, Actor::Buyer, OrderCommand::ConfirmReceipt, T0 + 6 * DAY)
        }
        OrderStatus::Cancelled => {
            let o = step(&o, Actor::Buyer, OrderCommand::RequestCancel, T0 + DAY);
            step(
                &o,
                Actor::Seller,
                OrderCommand::AnswerCancel { accept: true },
                T0 + DAY,
            )
        }
    }
}

/// Every status × command with the role that may give it, at a time when every timer is due:
/// the outcome is the next status or the rejection code. A rule change shows here as a diff.
#[test]
fn state_by_command_table() {
    let p = OrderPolicy::default();
    let commands: Vec<(Actor, OrderCommand)> = vec![
        (Actor::Seller, ship()),
        (Actor::Carrier, OrderCommand::MarkDelivered),
        (Actor::Buyer, OrderCommand::ConfirmReceipt),
        (Actor::Buyer, OrderCommand::RequestCancel),
        (Actor::Seller, OrderCommand::AnswerCancel { accept: true }),
        (
            Actor::Platform,
            OrderCommand::Refund {
                amount: usd(10_000),
            },
        ),
        (Actor::Buyer, OrderCommand::ExtendProtection),
        (Actor::Buyer, OrderCommand::RequestExtension { days: 10 }),
        (
            Actor::Seller,
            OrderCommand::AnswerExtension { approve: true },
        ),
        (Actor::Scheduler, OrderCommand::Fire(TimerKind::ShipBy)),
        (
            Actor::Scheduler,
            OrderCommand::Fire(TimerKind::CancelAnswer),
        ),
        (
            Actor::Scheduler,
            OrderCommand::Fire(TimerKind::ProtectionEnd),
        ),
    ];
    let mut table = String::new();
    for status in OrderStatus::ALL {
        let o = order_in(status);
        for (actor, cmd) in &commands {
            let label = match cmd {
                OrderCommand::Fire(k) => format!("fire {}", k.code()),
                c => c.code().to_string(),
            };
            let outcome = match order::decide(&o, *actor, cmd, T0 + 200 * DAY, &p) {
                Ok(d) => format!("-> {}", d.order.status.code()),
                Err(e) => e.code().to_string(),
            };
            table.push_str(&format!("{:<10} {:<24} {outcome}\n", status.code(), label));
        }
    }
    let expected = "\
paid       ship                     -> shipped
paid       mark_delivered           order_not_shipped
paid       confirm_receipt          order_not_delivered
paid       request_cancel           -> paid
paid       answer_cancel            no_cancel_request
paid       refund                   -> cancelled
paid       extend_protection        order_not_shipped
paid       request_extension        order_not_shipped
paid       answer_extension         order_not_shipped
paid       fire ship_by             -> cancelled
paid       fire cancel_answer       timer_not_due
paid       fire protection_end      timer_not_due
shipped    ship                     order_already_shipped
shipped    mark_delivered           -> delivered
shipped    confirm_receipt          order_not_delivered
shipped    request_cancel           order_already_shipped
shipped    answer_cancel            no_cancel_request
shipped    refund                   -> cancelled
shipped    extend_protection        protection_ended
shipped    request_extension        protection_ended
shipped    answer_extension         protection_ended
shipped    fire ship_by             timer_not_due
shipped    fire cancel_answer       timer_not_due
shipped    fire protection_end      -> completed
delivered  ship                     order_already_shipped
delivered  mark_delivered           order_already_delivered
delivered  confirm_receipt          -> completed
delivered  request_cancel           order_already_shipped
delivered  answer_cancel            no_cancel_request
delivered  refund                   -> cancelled
delivered  extend_protection        protection_ended
delivered  request_extension        protection_ended
delivered  answer_extension         protection_ended
delivered  fire ship_by             timer_not_due
delivered  fire cancel_answer       timer_not_due
delivered  fire protection_end      -> completed
completed  ship                     hold_already_released
completed  mark_delivered           hold_already_released
completed  confirm_receipt          hold_already_released
completed  request_cancel           hold_already_released
completed  answer_cancel            hold_already_released
completed  refund                   hold_already_released
completed  extend_protection        hold_already_released
completed  request_extension        hold_already_released
completed  answer_extension         hold_already_released
completed  fire ship_by             hold_already_released
completed  fire cancel_answer       hold_already_released
completed  fire protection_end      hold_already_released
cancelled  ship                     order_cancelled
cancelled  mark_delivered           order_cancelled
cancelled  confirm_receipt          order_cancelled
cancelled  request_cancel           order_cancelled
cancelled  answer_cancel            order_cancelled
cancelled  refund                   order_cancelled
cancelled  extend_protection        order_cancelled
cancelled  request_extension        order_cancelled
cancelled  answer_extension         order_cancelled
cancelled  fire ship_by             order_cancelled
cancelled  fire cancel_answer       order_cancelled
cancelled  fire protection_end      order_cancelled
";
    assert_eq!(table, expected, "\n{table}");
}

#[test]
fn roles_are_checked() {
    let p = OrderPolicy::default();
    let o = new_order(1000);
    let cases = [
        (Actor::Buyer, ship()),
        (Actor::Seller, OrderCommand::ConfirmReceipt),
        (Actor::Buyer, OrderCommand::Refund { amount: usd(1) }),
        (Actor::Seller, OrderCommand::RequestCancel),
        (Actor::Platform, OrderCommand::Fire(TimerKind::ShipBy)),
        (Actor::Seller, OrderCommand::ExtendProtection),
    ];
    for (actor, cmd) in cases {
        let err = order::decide(&o, actor, &cmd, T0, &p).unwrap_err();
        assert_eq!(err.code(), "not_permitted", "{actor:?} {cmd:?}");
    }
}

#[test]
fn happy_path_releases_to_the_seller_less_commission() {
    let p = OrderPolicy::default();
    let paid = order::paid("ord_1", "buy_1", "sel_1", "pay_1", usd(10_000), T0, &p).unwrap();
    assert_eq!(paid.set_timers, vec![(TimerKind::ShipBy, T0 + 7 * DAY)]);
    assert_eq!(paid.accounts.len(), 4);
    let shipped = order::decide(&paid.order, Actor::Seller, &ship(), T0 + DAY, &p).unwrap();
    assert_eq!(
        shipped.cancel_timers,
        vec![TimerKind::ShipBy, TimerKind::CancelAnswer]
    );
    assert_eq!(
        shipped.set_timers,
        vec![(TimerKind::ProtectionEnd, T0 + 31 * DAY)]
    );
    // delivered on day 5: protection now ends 15 days later (sooner than the guarantee)
    let delivered = order::decide(
        &shipped.order,
        Actor::Carrier,
        &OrderCommand::MarkDelivered,
        T0 + 5 * DAY,
        &p,
    )
    .unwrap();
    assert_eq!(delivered.order.protection_ends, Some(T0 + 20 * DAY));
    let done = order::decide(
        &delivered.order,
        Actor::Buyer,
        &OrderCommand::ConfirmReceipt,
        T0 + 6 * DAY,
        &p,
    )
    .unwrap();
    assert_eq!(done.order.released, Some((9_500, 500)), "5% commission");
    assert_eq!(done.order.held(), 0);
    let names: Vec<_> = done.events.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["order.completed", "hold.released"]);
    assert_eq!(done.transfers.len(), 2);
}

#[test]
fn timers_fire_only_when_due() {
    let p = OrderPolicy::default();
    let o = new_order(1_000);
    let fire =
        |o: &Order, k, now| order::decide(o, Actor::Scheduler, &OrderCommand::Fire(k), now, &p);
    assert_eq!(
        fire(&o, TimerKind::ShipBy, T0 + 7 * DAY - 1).unwrap_err(),
        OrderError::TimerNotDue
    );
    let d = fire(&o, TimerKind::ShipBy, T0 + 7 * DAY).unwrap();
    assert_eq!(d.order.status, OrderStatus::Cancelled);
    assert_eq!(d.order.refunded, 1_000, "a missed ship-by refunds in full");
    // seller silent for 48 h after a cancel request: cancelled and refunded
    let asked =
        order::decide(&o, Actor::Buyer, &OrderCommand::RequestCancel, T0 + DAY, &p).unwrap();
    assert_eq!(
        asked.set_timers,
        vec![(TimerKind::CancelAnswer, T0 + 3 * DAY)]
    );
    assert!(fire(&asked.order, TimerKind::CancelAnswer, T0 + 3 * DAY - 1).is_err());
    let d = fire(&asked.order, TimerKind::CancelAnswer, T0 + 3 * DAY).unwrap();
    assert_eq!(
        (d.order.status, d.order.refunded),
        (OrderStatus::Cancelled, 1_000)
    );
}

#[test]
fn extensions_follow_the_rules() {
    let p = OrderPolicy::default();
    let shipped = order_in(OrderStatus::Shipped); // protection ends T0 + 31 d
    let ext = |o: &Order, actor, cmd: OrderCommand, now| order::decide(o, actor, &cmd, now, &p);
    let err = ext(
        &shipped,
        Actor::Buyer,
        OrderCommand::ExtendProtection,
        T0 + 20 * DAY,
    )
    .unwrap_err();
    assert_eq!(err.code(), "extension_too_early");
    let d = ext(
        &shipped,
        Actor::Buyer,
        OrderCommand::ExtendProtection,
        T0 + 29 * DAY,
    )
    .unwrap();
    assert_eq!(d.order.protection_ends, Some(T0 + 34 * DAY));
    let err = ext(
        &d.order,
        Actor::Buyer,
        OrderCommand::ExtendProtection,
        T0 + 33 * DAY,
    )
    .unwrap_err();
    assert_eq!(err.code(), "extension_already_used");
    // the seller approves 20 days, then a further 11 would pass the 30-day limit
    let asked = ext(
        &d.order,
        Actor::Buyer,
        OrderCommand::RequestExtension { days: 20 },
        T0 + 30 * DAY,
    )
    .unwrap();
    let ok = ext(
        &asked.order,
        Actor::Seller,
        OrderCommand::AnswerExtension { approve: true },
        T0 + 30 * DAY,
    )
    .unwrap();
    assert_eq!(ok.order.protection_ends, Some(T0 + 54 * DAY));
    assert_eq!(
        ok.set_timers,
        vec![(TimerKind::ProtectionEnd, T0 + 54 * DAY)]
    );
    let err = ext(
        &ok.order,
        Actor::Buyer,
        OrderCommand::RequestExtension { days: 11 },
        T0 + 31 * DAY,
    )
    .unwrap_err();
    assert_eq!(err.code(), "extension_out_of_range");
    // the old protection-end timer firing early is not due
    let err = order::decide(
        &ok.order,
        Actor::Scheduler,
        &OrderCommand::Fire(TimerKind::ProtectionEnd),
        T0 + 34 * DAY,
        &p,
    )
    .unwrap_err();
    assert_eq!(err.code(), "timer_not_due");
}

#[test]
fn refunds_are_bounded_by_what_is_held() {
    let p = OrderPolicy::default();
    let o = order_in(OrderStatus::Shipped);
    let refund = |o: &Order, m| {
        order::decide(
            o,
            Actor::Platform,
            &OrderCommand::Refund { amount: m },
            T0 + 2 * DAY,
            &p,
        )
    };
    let err = refund(&o, usd(10_001)).unwrap_err();
    assert_eq!(err.code(), "refund_exceeds_held");
    let eur = Money::from_minor(5, Currency::parse("EUR").unwrap()).unwrap();
    assert_eq!(refund(&o, eur).unwrap_err().code(), "currency_mismatch");
    let part = refund(&o, usd(2_500)).unwrap();
    assert_eq!(
        (part.order.status, part.order.held()),
        (OrderStatus::Shipped, 7_500)
    );
    let err = refund(&part.order, usd(7_501)).unwrap_err();
    assert_eq!(err.code(), "refund_exceeds_held");
    // the rest is released at completion, with commission on what was released
    let done = order::decide(
        &part.order,
        Actor::Scheduler,
        &OrderCommand::Fire(TimerKind::ProtectionEnd),
        T0 + 100 * DAY,
        &p,
    )
    .unwrap();
    assert_eq!(done.order.released, Some((7_125, 375)));
}

#[test]
fn commission_rounds_half_up_and_never_exceeds_the_amount() {
    use holdback_domain::order::Commission;
    let c = Commission {
        basis_points: 250,
        fixed_minor: 30,
    };
    assert_eq!(c.on(10_000), 280);
    assert_eq!(c.on(20), 20, "capped at the amount");
    assert_eq!(
        Commission {
            basis_points: 250,
            fixed_minor: 0
        }
        .on(20),
        1,
        "0.5 rounds up"
    );
    assert_eq!(
        Commission {
            basis_points: 250,
            fixed_minor: 0
        }
        .on(19),
        0
    );
}

#[test]
fn order_error_codes_are_unique() {
    let mut codes = OrderError::ALL_CODES.to_vec();
    codes.sort_unstable();
    let n = codes.len();
    codes.dedup();
    assert_eq!(n, codes.len());
}

// ---- property: money through the ledger -------------------------------------------------------

fn command() -> impl Strategy<Value = (Actor, OrderCommand, i64)> {
    let step = 0..40 * DAY;
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
        (step, 0..3usize).prop_map(|(t, k)| {
            let kind = [
                TimerKind::ShipBy,
                TimerKind::CancelAnswer,
                TimerKind::ProtectionEnd,
            ][k];
            (Actor::Scheduler, OrderCommand::Fire(kind), t)
        }),
    ]
}

fn post(book: &mut Book, journal: &mut Vec<JournalEntry>, d: &Decision, n: usize, now: i64) {
    for spec in &d.accounts {
        book.open_account(spec.clone(), now).unwrap();
    }
    if !d.transfers.is_empty() {
        let request = TransactionRequest {
            id: TxId::parse(&format!("tx{n}")).unwrap(),
            transfers: d.transfers.clone(),
        };
        book.execute(&request, now)
            .expect("an accepted decision posts");
    }
    journal.extend(book.take_changes().entries);
}

proptest! {
    #[test]
    fn escrow_always_equals_what_the_order_holds(
        price in 1..20_000i64,
        steps in proptest::collection::vec(command(), 1..25),
    ) {
        let p = OrderPolicy::default();
        let mut book = Book::new(Head::EMPTY);
        let mut journal = Vec::new();
        let first = order::paid("ord_p", "buy_p", "sel_p", "pay_1", usd(price), T0, &p).unwrap();
        post(&mut book, &mut journal, &first, 0, T0);
        let accounts = EscrowAccounts::of(&first.order).unwrap();
        let mut o = first.order;
        let mut now = T0;
        for (n, (actor, cmd, dt)) in steps.into_iter().enumerate() {
            now += dt;
            if let Ok(d) = order::decide(&o, actor, &cmd, now, &p) {
                post(&mut book, &mut journal, &d, n + 1, now);
                o = d.order;
            }
            let escrow = book.account(&accounts.escrow).unwrap().posted_balance();
            prop_assert_eq!(escrow, i128::from(o.held()));
            prop_assert!(o.refunded <= price);
            if o.status.is_terminal() {
                prop_assert_eq!(o.held(), 0);
                let (seller, commission) = o.released.unwrap_or((0, 0));
                prop_assert_eq!(o.refunded + seller + commission, price);
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
