//! The state × command tables of the order, payment and refund aggregates, and the reaction
//! table, rendered as text and compared with `tests/snapshots/*.txt`. A rule change shows as a
//! diff there; `UPDATE_SNAPSHOTS=1 cargo test -p holdback-domain --test tables` rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::fmt::Write as _;

use common::{T0, card, check_snapshot, plan, representative_orders, ship, usd};
use holdback_domain::ErrorCode;
use holdback_domain::cod::{CarrierEvent, ParcelEvent};
use holdback_domain::ledger::TransferRequest;
use holdback_domain::order::{
    self, Actor, DAY, OrderCommand, OrderEvent, OrderPolicy, RefundReason, Settlement, TimerKind,
};
use holdback_domain::payment::{self, Method, Payment, PaymentCommand, PaymentEvent};
use holdback_domain::process::{Event, Reaction, react};
use holdback_domain::refund::{self, Refund, RefundCommand, RefundEvent, RefundPolicy};
use holdback_domain::{Currency, Money};

const ACTORS: [Actor; 6] = [
    Actor::Buyer,
    Actor::Seller,
    Actor::Platform,
    Actor::Carrier,
    Actor::Scheduler,
    Actor::Mediator,
];

fn actor(a: Actor) -> &'static str {
    match a {
        Actor::Buyer => "buyer",
        Actor::Seller => "seller",
        Actor::Platform => "platform",
        Actor::Carrier => "carrier",
        Actor::Scheduler => "scheduler",
        Actor::Mediator => "mediator",
    }
}

/// Every order command, each with a label and the first role that may give it.
fn order_commands() -> Vec<(String, OrderCommand)> {
    let mut v = vec![
        ("ship".to_string(), ship()),
        ("mark_delivered".to_string(), OrderCommand::MarkDelivered),
        ("confirm_receipt".to_string(), OrderCommand::ConfirmReceipt),
        ("request_cancel".to_string(), OrderCommand::RequestCancel),
        (
            "answer_cancel(accept)".to_string(),
            OrderCommand::AnswerCancel { accept: true },
        ),
        (
            "answer_cancel(reject)".to_string(),
            OrderCommand::AnswerCancel { accept: false },
        ),
        (
            "refund(2500)".to_string(),
            OrderCommand::Refund { amount: usd(2_500) },
        ),
        (
            "refund(10000)".to_string(),
            OrderCommand::Refund {
                amount: usd(10_000),
            },
        ),
        (
            "extend_protection".to_string(),
            OrderCommand::ExtendProtection,
        ),
        (
            "request_extension(10d)".to_string(),
            OrderCommand::RequestExtension { days: 10 },
        ),
        (
            "answer_extension(approve)".to_string(),
            OrderCommand::AnswerExtension { approve: true },
        ),
        (
            "answer_extension(decline)".to_string(),
            OrderCommand::AnswerExtension { approve: false },
        ),
        (
            "open_dispute(dsp_1)".to_string(),
            OrderCommand::OpenDispute {
                dispute: "dsp_1".into(),
            },
        ),
    ];
    for (label, settlement) in [
        ("split(3000)", Settlement::Split { refund: usd(3_000) }),
        (
            "split(10000)",
            Settlement::Split {
                refund: usd(10_000),
            },
        ),
        ("resume", Settlement::Resume),
        ("release", Settlement::Release),
        (
            "counterfeit(15000)",
            Settlement::Counterfeit {
                amount: usd(15_000),
            },
        ),
    ] {
        v.push((
            format!("settle({label})"),
            OrderCommand::Settle {
                dispute: "dsp_1".into(),
                settlement,
            },
        ));
    }
    for k in TimerKind::ALL {
        v.push((format!("fire({})", k.code()), OrderCommand::Fire(k)));
    }
    v.push(("pay".to_string(), OrderCommand::Pay));
    v.push(("cancel_unpaid".to_string(), OrderCommand::CancelUnpaid));
    v
}

fn events<T>(events: &[T], name: impl Fn(&T) -> String) -> String {
    if events.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = events.iter().map(name).collect();
        format!(" [{}]", names.join(", "))
    }
}

fn transfers(ts: &[TransferRequest]) -> String {
    let parts: Vec<String> = ts
        .iter()
        .map(|t| match t {
            TransferRequest::Posted {
                debit,
                credit,
                amount,
            } => {
                format!("{debit} -> {credit} {}", amount.minor())
            }
            other => format!("{other:?}"),
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" {{{}}}", parts.join("; "))
    }
}

fn order_event(e: &OrderEvent) -> String {
    match e {
        OrderEvent::RefundDue { amount, reason } => {
            format!("{} {} {}", e.name(), amount.minor(), reason.code())
        }
        OrderEvent::HoldReleased {
            to_seller,
            commission,
        } => {
            format!("{} {to_seller}+{commission}", e.name())
        }
        OrderEvent::ChargedToSeller {
            to_payment,
            to_balance,
        } => format!("{} {to_payment}+{to_balance}", e.name()),
        _ => e.name().to_string(),
    }
}

#[test]
fn order_state_by_command() {
    let p = OrderPolicy::default();
    let (early, late) = (T0 + DAY, T0 + 200 * DAY);
    let mut out = String::new();
    writeln!(
        out,
        "# order: each state × each command, given by the first role allowed to give it,"
    )
    .unwrap();
    writeln!(
        out,
        "# early (T0 + 1 d: no deadline passed) and late (T0 + 200 d: every deadline passed)."
    )
    .unwrap();
    writeln!(out, "# The order was paid 10000 USD at T0, ship-by T0 + 7 d; `-> state [events]` or `!rejection`.").unwrap();
    writeln!(out).unwrap();
    writeln!(out, "## roles").unwrap();
    for (label, cmd) in order_commands() {
        let roles: Vec<&str> = ACTORS
            .into_iter()
            .filter(|a| cmd.allowed(*a))
            .map(actor)
            .collect();
        writeln!(out, "{label:<26} {}", roles.join(", ")).unwrap();
    }
    for (state, o) in representative_orders() {
        writeln!(out).unwrap();
        writeln!(out, "## {state} (holds {})", o.held()).unwrap();
        for (label, cmd) in order_commands() {
            let who = ACTORS.into_iter().find(|a| cmd.allowed(*a)).unwrap();
            let outcome = |now| match order::decide(&o, who, &cmd, now, &p) {
                Ok(d) => format!(
                    "-> {}{}",
                    d.order.status().code(),
                    events(&d.events, order_event)
                ),
                Err(e) => format!("!{}", e.code()),
            };
            writeln!(out, "{label:<26} early {}", outcome(early)).unwrap();
            writeln!(out, "{:<26} late  {}", "", outcome(late)).unwrap();
        }
    }
    check_snapshot("order.txt", &out);
}

/// The payment of the tables: 10 000 USD for `ord_a` (6 000) and `ord_b` (4 000).
fn processing() -> Payment {
    Payment::processing(
        "pay_1",
        "buy_1",
        false,
        usd(10_000),
        vec![plan("ord_a", usd(6_000)), plan("ord_b", usd(4_000))],
        T0,
    )
    .unwrap()
}

/// The same payment by bank transfer, its orders placed awaiting it until T0 + 1 d.
fn bank_transfer() -> Payment {
    Payment::awaiting(
        "pay_1",
        "buy_1",
        false,
        Method::BankTransfer,
        usd(10_000),
        vec!["ord_a".into(), "ord_b".into()],
        T0 + DAY,
        None,
        T0,
    )
}

fn refund_cmd(order: &str, amount: i64) -> PaymentCommand {
    PaymentCommand::Refund {
        order: order.to_string(),
        amount: usd(amount),
        reason: RefundReason::Requested,
        refund_id: "re_9".to_string(),
        routing: holdback_domain::tender::RefundRouting::default(),
    }
}

fn payment_event(e: &PaymentEvent) -> String {
    match e {
        PaymentEvent::Succeeded { plans } => {
            let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
            format!("{} {}", e.name(), ids.join("+"))
        }
        PaymentEvent::Failed | PaymentEvent::RequiresAction => e.name().to_string(),
        PaymentEvent::Confirmed { orders }
        | PaymentEvent::Expired { orders }
        | PaymentEvent::Declined { orders }
        | PaymentEvent::Cancelled { orders } => {
            format!("{} {}", e.name(), orders.join("+"))
        }
        PaymentEvent::PartiallyReceived { due } => format!("{} due {due}", e.name()),
        PaymentEvent::Collected { amount } => format!("{} {amount}", e.name()),
        PaymentEvent::RefundCreated(r) => {
            format!(
                "{} {} tender {} {} {}",
                e.name(),
                r.id,
                r.tender,
                r.amount.minor(),
                r.state.code()
            )
        }
    }
}

#[test]
fn payment_state_by_command() {
    let now = T0 + DAY;
    let captured = payment::decide(
        &processing(),
        &PaymentCommand::Capture {
            tender: 0,
            card: card("ch_1"),
        },
        T0,
    )
    .unwrap()
    .payment;
    let refunded = payment::decide(&captured, &refund_cmd("ord_a", 9_000), T0)
        .unwrap()
        .payment;
    let failed = payment::decide(
        &processing(),
        &PaymentCommand::Fail {
            code: ErrorCode::CardDeclined,
        },
        T0,
    )
    .unwrap()
    .payment;
    let bank = bank_transfer();
    let receive = |amount| PaymentCommand::Receive {
        amount: usd(amount),
        refund_id: "re_x".into(),
        payer: None,
    };
    let partial = payment::decide(&bank, &receive(4_000), T0).unwrap().payment;
    let expire = PaymentCommand::Expire {
        refund_id: "re_x".into(),
    };
    let expired = payment::decide(&partial, &expire, T0 + DAY)
        .unwrap()
        .payment;
    let bank_captured = payment::decide(&bank, &receive(10_000), T0)
        .unwrap()
        .payment;
    let states = [
        ("processing", processing()),
        ("captured", captured),
        ("captured(refunded 9000)", refunded),
        ("failed", failed),
        ("requires_action(bank, expires T0 + 1 d)", bank),
        ("requires_action(received 4000)", partial),
        ("captured(bank)", bank_captured),
        ("expired(received 4000)", expired),
    ];
    let commands = [
        (
            "capture(tender 0)",
            PaymentCommand::Capture {
                tender: 0,
                card: card("ch_2"),
            },
        ),
        (
            "capture(tender 1)",
            PaymentCommand::Capture {
                tender: 1,
                card: card("ch_2"),
            },
        ),
        (
            "fail",
            PaymentCommand::Fail {
                code: ErrorCode::CardDeclined,
            },
        ),
        ("refund(ord_a 1000)", refund_cmd("ord_a", 1_000)),
        ("refund(ord_b 10000)", refund_cmd("ord_b", 10_000)),
        ("receive(6000)", receive(6_000)),
        ("receive(12000)", receive(12_000)),
        (
            "receive(6000 EUR)",
            PaymentCommand::Receive {
                amount: Money::from_minor(6_000, Currency::parse("EUR").unwrap()).unwrap(),
                refund_id: "re_x".into(),
                payer: None,
            },
        ),
        ("expire", expire.clone()),
        (
            "decline",
            PaymentCommand::Decline {
                code: ErrorCode::PaymentFailed,
            },
        ),
        ("cancel", PaymentCommand::Cancel),
    ];
    let mut out = String::new();
    writeln!(
        out,
        "# payment: each state × each command at T0 + 1 d; the payment is 10000 USD in one"
    )
    .unwrap();
    writeln!(out, "# card tender for ord_a (6000) and ord_b (4000). `-> state refunded=n [events]` or `!rejection`.").unwrap();
    for (state, p) in &states {
        writeln!(out).unwrap();
        writeln!(out, "## {state}").unwrap();
        for (label, cmd) in &commands {
            let outcome = match payment::decide(p, cmd, now) {
                Ok(d) => format!(
                    "-> {} refunded={}{}",
                    d.payment.state.code(),
                    d.payment.refunded(),
                    events(&d.events, payment_event)
                ),
                Err(e) => format!("!{}", e.code()),
            };
            writeln!(out, "{label:<22} {outcome}").unwrap();
        }
    }
    check_snapshot("payment.txt", &out);
}

fn a_refund() -> Refund {
    let captured = payment::decide(
        &processing(),
        &PaymentCommand::Capture {
            tender: 0,
            card: card("ch_1"),
        },
        T0,
    )
    .unwrap();
    let d = payment::decide(&captured.payment, &refund_cmd("ord_a", 2_500), T0).unwrap();
    match d.events.into_iter().next() {
        Some(PaymentEvent::RefundCreated(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn refund_event(e: &RefundEvent) -> String {
    match e {
        RefundEvent::Succeeded => e.name().to_string(),
        RefundEvent::Failed {
            next_attempt_at: Some(at),
        } => format!("{} retry at +{}s", e.name(), (at - T0 - DAY) / 1000),
        RefundEvent::Failed {
            next_attempt_at: None,
        } => format!("{} to operator", e.name()),
    }
}

#[test]
fn refund_state_by_command() {
    let p = RefundPolicy::default();
    let now = T0 + DAY;
    let fresh = a_refund();
    let mut tired = fresh.clone();
    for _ in 0..p.max_failures - 1 {
        tired = refund::decide(
            &tired,
            &RefundCommand::Failed {
                code: "processing_error".into(),
            },
            T0,
            &p,
        )
        .unwrap()
        .refund;
    }
    let succeeded = refund::decide(
        &fresh,
        &RefundCommand::Succeeded {
            provider_id: "pr_1".into(),
        },
        T0,
        &p,
    )
    .unwrap()
    .refund;
    let failed = refund::decide(
        &tired,
        &RefundCommand::Failed {
            code: "processing_error".into(),
        },
        T0,
        &p,
    )
    .unwrap()
    .refund;
    let states = [
        ("pending(new)", fresh),
        ("pending(4 failures)", tired),
        ("succeeded", succeeded),
        ("failed", failed),
    ];
    let commands = [
        (
            "succeeded",
            RefundCommand::Succeeded {
                provider_id: "pr_2".into(),
            },
        ),
        (
            "failed",
            RefundCommand::Failed {
                code: "card_closed".into(),
            },
        ),
        (
            "unknown",
            RefundCommand::Unknown {
                reason: "timeout".into(),
            },
        ),
        ("retry", RefundCommand::Retry),
    ];
    let mut out = String::new();
    writeln!(out, "# refund: each state × each command at T0 + 1 d (times are from then); a refund of 2500 USD").unwrap();
    writeln!(out, "# in test mode, at most {} failures in a row. `-> state attempts=n [events] {{transfers}}`.", p.max_failures).unwrap();
    for (state, r) in &states {
        writeln!(out).unwrap();
        writeln!(out, "## {state}").unwrap();
        for (label, cmd) in &commands {
            let outcome = match refund::decide(r, cmd, now, &p) {
                Ok(d) => {
                    let next = match &d.refund.state {
                        refund::RefundState::Pending {
                            next_attempt_at,
                            failures,
                            ..
                        } => {
                            format!(
                                " next=+{}s failures={failures}",
                                (next_attempt_at - now) / 1000
                            )
                        }
                        _ => String::new(),
                    };
                    format!(
                        "-> {}{next} attempts={}{}{}",
                        d.refund.state.code(),
                        d.refund.attempts,
                        events(&d.events, refund_event),
                        transfers(&d.transfers)
                    )
                }
                Err(e) => format!("!{}", e.code()),
            };
            writeln!(out, "{label:<10} {outcome}").unwrap();
        }
    }
    check_snapshot("refund.txt", &out);
}

fn reaction(r: &Reaction) -> String {
    match r {
        Reaction::RefundPayment {
            payment,
            order,
            amount,
            reason,
        } => format!(
            "{}(payment {payment}, order {order}, {} {}, {})",
            r.name(),
            amount.minor(),
            amount.currency().code(),
            reason.code()
        ),
        Reaction::OpenOrder {
            plan,
            payment,
            buyer,
            livemode,
        } => format!(
            "{}({} of {payment} for {buyer}, {}, {})",
            r.name(),
            plan.id,
            plan.amount.minor(),
            order::mode(*livemode)
        ),
        Reaction::CreateRefund(refund) => format!(
            "{}({} of {} for {}, {}, {})",
            r.name(),
            refund.id,
            refund.payment,
            refund.order,
            refund.amount.minor(),
            refund.state.code()
        ),
        Reaction::PauseOrder { order, dispute } => format!("{}({order} by {dispute})", r.name()),
        Reaction::PayOrder { order }
        | Reaction::CancelUnpaid { order }
        | Reaction::DeliverOrder { order }
        | Reaction::ReturnOrder { order } => format!("{}({order})", r.name()),
        Reaction::CollectPayment {
            payment,
            carrier,
            fee,
        } => format!("{}({payment} by {carrier}, fee {fee})", r.name()),
        Reaction::SettleOrder {
            order,
            dispute,
            settlement,
        } => format!(
            "{}({order} by {dispute}, {} {})",
            r.name(),
            settlement.code(),
            common::settlement_amount(settlement)
        ),
    }
}

#[test]
fn reaction_table() {
    let o = common::new_order(10_000);
    let mut order_events = vec![
        OrderEvent::Placed,
        OrderEvent::Expired,
        OrderEvent::Paid,
        OrderEvent::Shipped,
        OrderEvent::Delivered,
        OrderEvent::CancelRequested,
        OrderEvent::CancelRejected,
        OrderEvent::Cancelled,
        OrderEvent::ProtectionExtended {
            until: T0 + 40 * DAY,
        },
        OrderEvent::ExtensionRequested { days: 10 },
        OrderEvent::ExtensionDeclined,
        OrderEvent::Completed,
        OrderEvent::HoldReleased {
            to_seller: 9_500,
            commission: 500,
        },
        OrderEvent::ClaimOpened,
        OrderEvent::ClaimResolved,
        OrderEvent::ProtectionPaused,
        OrderEvent::ProtectionResumed {
            until: T0 + 40 * DAY,
        },
        OrderEvent::ChargedToSeller {
            to_payment: 0,
            to_balance: 5_000,
        },
        OrderEvent::AwaitingRemittance,
        OrderEvent::ReturnedToOrigin,
    ];
    for reason in RefundReason::ALL {
        order_events.push(OrderEvent::RefundDue {
            amount: usd(2_500),
            reason,
        });
    }
    let pay = processing();
    let r = a_refund();
    let payment_events = [
        PaymentEvent::Succeeded {
            plans: vec![plan("ord_a", usd(6_000)), plan("ord_b", usd(4_000))],
        },
        PaymentEvent::Failed,
        PaymentEvent::RefundCreated(r.clone()),
        PaymentEvent::Confirmed {
            orders: vec!["ord_a".into(), "ord_b".into()],
        },
        PaymentEvent::PartiallyReceived { due: 6_000 },
        PaymentEvent::Expired {
            orders: vec!["ord_a".into(), "ord_b".into()],
        },
        PaymentEvent::Declined {
            orders: vec!["ord_a".into(), "ord_b".into()],
        },
        PaymentEvent::Cancelled {
            orders: vec!["ord_a".into(), "ord_b".into()],
        },
        PaymentEvent::Collected { amount: 12_625 },
    ];
    let refund_events = [
        RefundEvent::Succeeded,
        RefundEvent::Failed {
            next_attempt_at: Some(T0 + DAY + 60_000),
        },
        RefundEvent::Failed {
            next_attempt_at: None,
        },
    ];
    let mut rows: Vec<(String, Vec<Reaction>)> = Vec::new();
    for e in &order_events {
        rows.push((order_event(e), react(Event::Order(&o, e))));
    }
    for e in &payment_events {
        rows.push((payment_event(e), react(Event::Payment(&pay, e))));
    }
    for e in &refund_events {
        rows.push((refund_event(e), react(Event::Refund(&r, e))));
    }
    let dsp = common::open_dispute_on_delivered();
    for e in common::every_dispute_event() {
        rows.push((e.name().to_string(), react(Event::Dispute(&dsp, &e))));
    }
    let parcel = common::parcel();
    for e in [
        ParcelEvent::OutForDelivery,
        ParcelEvent::Collected,
        ParcelEvent::Returned {
            reason: CarrierEvent::Refused,
        },
    ] {
        rows.push((e.name().to_string(), react(Event::Parcel(&parcel, &e))));
    }
    let mut out = String::new();
    writeln!(
        out,
        "# reactions: each event (of order ord_1, payment pay_1, refund re_9, dispute dsp_1, parcel pcl_1) and the commands"
    )
    .unwrap();
    writeln!(out, "# it gives other aggregates in the same unit of work.").unwrap();
    writeln!(out).unwrap();
    for (event, reactions) in rows {
        let rendered: Vec<String> = reactions.iter().map(reaction).collect();
        let rendered = if rendered.is_empty() {
            "(none)".to_string()
        } else {
            rendered.join("; ")
        };
        writeln!(out, "{event:<46} -> {rendered}").unwrap();
    }
    check_snapshot("reactions.txt", &out);
}

#[test]
fn the_snapshot_diff_names_the_changed_lines() {
    let d = common::diff("a\nb\nc\n", "a\nB\nc\nd\n");
    assert_eq!(d, "+ B\n- b\n+ d\n");
}
