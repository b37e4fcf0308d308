//! The dispute aggregate: its state × command table (snapshot `tests/snapshots/dispute.txt`),
//! opening within the claim window, each timer's branch, and each outcome's money movement as
//! the order applies it, one transaction with the state change.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::fmt::Write as _;

use common::{
    OPENED, T0, check_snapshot, delivered_order, new_order, open_dispute, settlement_amount, ship,
    step, usd,
};
use holdback_domain::ErrorCode;
use holdback_domain::dispute::{
    self, Answer, Claim, Closure, Dispute, DisputeCommand, DisputeDecision, DisputeError,
    DisputeEvent, DisputePolicy, DisputeReason, DisputeState, DisputeStatus, DisputeTimer,
    Escalation, Outcome, Request,
};
use holdback_domain::ledger::TransferRequest;
use holdback_domain::order::{
    Actor, DAY, HOUR, Order, OrderCommand, OrderPolicy, OrderStatus, RefundReason, Release,
    TimerKind,
};
use holdback_domain::process::{Effects, Reaction};

const ROLES: [(Actor, &str); 6] = [
    (Actor::Buyer, "buyer"),
    (Actor::Seller, "seller"),
    (Actor::Mediator, "mediator"),
    (Actor::Carrier, "carrier"),
    (Actor::Platform, "platform"),
    (Actor::Scheduler, "scheduler"),
];

fn decide_with(outcome: Outcome) -> DisputeCommand {
    DisputeCommand::Decide {
        outcome,
        reason: "the photos show another item".into(),
        by: "med_1".into(),
    }
}

/// Every dispute command, each with a label.
fn commands() -> Vec<(String, DisputeCommand)> {
    let mut v: Vec<(String, DisputeCommand)> = vec![
        (
            "respond(accept)".into(),
            DisputeCommand::Respond(Answer::Accept),
        ),
        (
            "respond(reject)".into(),
            DisputeCommand::Respond(Answer::Reject),
        ),
        (
            "respond(counter 3000)".into(),
            DisputeCommand::Respond(Answer::Counter(usd(3_000))),
        ),
        (
            "respond(counter 10001)".into(),
            DisputeCommand::Respond(Answer::Counter(usd(10_001))),
        ),
        ("accept_counter".into(), DisputeCommand::AcceptCounter),
        ("escalate".into(), DisputeCommand::Escalate),
        (
            "decide(full_refund)".into(),
            decide_with(Outcome::FullRefund),
        ),
        (
            "decide(partial 3000)".into(),
            decide_with(Outcome::PartialRefund(usd(3_000))),
        ),
        (
            "decide(partial 10001)".into(),
            decide_with(Outcome::PartialRefund(usd(10_001))),
        ),
        (
            "decide(return_and_refund)".into(),
            decide_with(Outcome::ReturnAndRefund),
        ),
        ("decide(rejected)".into(), decide_with(Outcome::Rejected)),
        (
            "decide(counterfeit 20000)".into(),
            decide_with(Outcome::Counterfeit(usd(20_000))),
        ),
        (
            "decide(counterfeit 20001)".into(),
            decide_with(Outcome::Counterfeit(usd(20_001))),
        ),
        (
            "decide(rejected, no reason)".into(),
            DisputeCommand::Decide {
                outcome: Outcome::Rejected,
                reason: "  ".into(),
                by: "med_1".into(),
            },
        ),
        (
            "ship_return".into(),
            DisputeCommand::ShipReturn {
                tracking: "RT1".into(),
            },
        ),
        ("return_delivered".into(), DisputeCommand::ReturnDelivered),
        (
            "confirm_return_received".into(),
            DisputeCommand::ConfirmReturnReceived,
        ),
    ];
    for k in DisputeTimer::ALL {
        v.push((format!("fire({})", k.code()), DisputeCommand::Fire(k)));
    }
    v
}

fn first_role(cmd: &DisputeCommand) -> Actor {
    ROLES
        .iter()
        .map(|(a, _)| *a)
        .find(|a| cmd.allowed(*a))
        .unwrap()
}

fn try_apply(
    d: &Dispute,
    actor: Actor,
    cmd: DisputeCommand,
    now: i64,
) -> Result<DisputeDecision, DisputeError> {
    dispute::decide(d, actor, &cmd, now, &DisputePolicy::default())
}

fn apply(d: &Dispute, actor: Actor, cmd: DisputeCommand, now: i64) -> Dispute {
    try_apply(d, actor, cmd.clone(), now)
        .unwrap_or_else(|e| panic!("{cmd:?} at {now}: {e}"))
        .dispute
}

/// Dispute `dsp_1` asking for a full refund, which the seller rejected at `OPENED + 1 h`.
fn rejected() -> Dispute {
    apply(
        &open_dispute(Request::FullRefund),
        Actor::Seller,
        DisputeCommand::Respond(Answer::Reject),
        OPENED + HOUR,
    )
}

/// The order, paused by dispute `dsp_1` at [`OPENED`].
fn paused(o: &Order) -> Order {
    step(
        o,
        Actor::Platform,
        OrderCommand::OpenDispute {
            dispute: "dsp_1".into(),
        },
        OPENED,
    )
}

/// A completed order (delivered at `T0 + 2 h`, confirmed at `T0 + 3 h`).
fn completed_order() -> Order {
    step(
        &delivered_order(),
        Actor::Buyer,
        OrderCommand::ConfirmReceipt,
        T0 + 3 * HOUR,
    )
}

fn open_on(order: &Order, reason: DisputeReason, request: Request, now: i64) -> DisputeDecision {
    let claim = Claim {
        id: "dsp_1".into(),
        reason,
        request,
    };
    dispute::open(&claim, order, Actor::Buyer, now, &DisputePolicy::default()).unwrap()
}

/// The representative disputes, each with when it reached its state.
fn representative_disputes() -> Vec<(&'static str, Dispute, i64)> {
    let h = HOUR;
    let negotiating = open_dispute(Request::FullRefund);
    let rejected = rejected();
    let countered = apply(
        &negotiating,
        Actor::Seller,
        DisputeCommand::Respond(Answer::Counter(usd(3_000))),
        OPENED + h,
    );
    let mediation = apply(
        &rejected,
        Actor::Buyer,
        DisputeCommand::Escalate,
        OPENED + 3 * DAY,
    );
    let released = open_on(
        &completed_order(),
        DisputeReason::Counterfeit,
        Request::FullRefund,
        OPENED,
    )
    .dispute;
    let ask_return = open_dispute(Request::ReturnAndRefund);
    let awaiting = apply(
        &ask_return,
        Actor::Seller,
        DisputeCommand::Respond(Answer::Accept),
        OPENED + h,
    );
    let shipped = apply(
        &awaiting,
        Actor::Buyer,
        DisputeCommand::ShipReturn {
            tracking: "RT1".into(),
        },
        OPENED + 2 * h,
    );
    let delivered = apply(
        &shipped,
        Actor::Carrier,
        DisputeCommand::ReturnDelivered,
        OPENED + 3 * h,
    );
    let closed = apply(
        &negotiating,
        Actor::Seller,
        DisputeCommand::Respond(Answer::Accept),
        OPENED + h,
    );
    vec![
        ("negotiating", negotiating, OPENED),
        ("negotiating(rejected)", rejected, OPENED + h),
        ("negotiating(countered 3000)", countered, OPENED + h),
        ("in_mediation", mediation, OPENED + 3 * DAY),
        ("in_mediation(after_release)", released, OPENED),
        ("awaiting_return", awaiting, OPENED + h),
        ("return_shipped", shipped, OPENED + 2 * h),
        ("return_shipped(delivered)", delivered, OPENED + 3 * h),
        ("closed", closed, OPENED + h),
    ]
}

fn event(e: &DisputeEvent) -> String {
    match e {
        DisputeEvent::Responded(a) => format!("{} {}", e.name(), a.code()),
        DisputeEvent::Escalated(by) => format!("{} by {}", e.name(), by.code()),
        DisputeEvent::Decided(o) => format!("{} {}", e.name(), o.code()),
        DisputeEvent::Closed(s) => format!("{} {} {}", e.name(), s.code(), settlement_amount(s)),
        _ => e.name().to_string(),
    }
}

#[test]
fn dispute_state_by_command() {
    let p = DisputePolicy::default();
    let mut out = String::new();
    out.push_str(
        "# dispute: each state × each command, given by the first role allowed to give it, 1 h,\n\
         # 4 d and 200 d after the dispute reached the state. The order (10000 USD) was shipped\n\
         # at T0 + 1 h and delivered at T0 + 2 h; the dispute opened 5 d after shipment.\n\
         # `-> status [events]` or `!rejection`.\n\n",
    );
    writeln!(out, "## roles").unwrap();
    for (label, cmd) in commands() {
        let roles: Vec<&str> = ROLES
            .iter()
            .filter(|(a, _)| cmd.allowed(*a))
            .map(|(_, n)| *n)
            .collect();
        writeln!(out, "{label:<28} {}", roles.join(", ")).unwrap();
    }
    for (state, d, reached) in representative_disputes() {
        writeln!(out).unwrap();
        writeln!(out, "## {state}").unwrap();
        for (label, cmd) in commands() {
            let who = first_role(&cmd);
            for (n, (when, dt)) in [("+1h  ", HOUR), ("+4d  ", 4 * DAY), ("+200d", 200 * DAY)]
                .into_iter()
                .enumerate()
            {
                let outcome = match dispute::decide(&d, who, &cmd, reached + dt, &p) {
                    Ok(x) => {
                        let names: Vec<String> = x.events.iter().map(event).collect();
                        let events = if names.is_empty() {
                            String::new()
                        } else {
                            format!(" [{}]", names.join(", "))
                        };
                        format!("-> {}{events}", x.dispute.status().code())
                    }
                    Err(e) => format!("!{}", e.code()),
                };
                let label = if n == 0 { label.as_str() } else { "" };
                writeln!(out, "{label:<28} {when} {outcome}").unwrap();
            }
        }
    }
    check_snapshot("dispute.txt", &out);
}

#[test]
fn a_dispute_opens_within_the_claim_window_only() {
    let p = DisputePolicy::default();
    let claim = |reason, request| Claim {
        id: "dsp_1".into(),
        reason,
        request,
    };
    let open = |o: &Order, c: &Claim, now| dispute::open(c, o, Actor::Buyer, now, &p);
    let full = claim(DisputeReason::Damaged, Request::FullRefund);
    let paid = new_order(10_000);
    assert_eq!(
        open(&paid, &full, T0 + 6 * DAY).unwrap_err(),
        DisputeError::TooEarly(5 * DAY)
    );
    let delivered = delivered_order();
    // shipped at T0 + 1 h: from T0 + 1 h + 5 d
    assert_eq!(
        open(&delivered, &full, OPENED - 1).unwrap_err().code(),
        ErrorCode::DisputeTooEarly
    );
    let d = open(&delivered, &full, OPENED).unwrap();
    assert_eq!(d.dispute.status(), DisputeStatus::Negotiating);
    assert_eq!(d.dispute.held, usd(10_000));
    assert_eq!(
        d.set_timers,
        [
            (DisputeTimer::SellerAnswer, OPENED + 5 * DAY),
            (DisputeTimer::AutoEscalate, OPENED + 15 * DAY)
        ]
    );
    // only the buyer (or the platform for them) opens
    assert_eq!(
        dispute::open(&full, &delivered, Actor::Seller, OPENED, &p).unwrap_err(),
        DisputeError::NotPermitted("open")
    );
    // a partial request must fit the hold, in its currency
    let too_much = claim(DisputeReason::Damaged, Request::PartialRefund(usd(10_001)));
    assert_eq!(
        open(&delivered, &too_much, OPENED).unwrap_err().code(),
        ErrorCode::OutcomeExceedsHeld
    );
    let eur = claim(
        DisputeReason::Damaged,
        Request::PartialRefund(common::money(100, "EUR")),
    );
    assert_eq!(
        open(&delivered, &eur, OPENED).unwrap_err().code(),
        ErrorCode::CurrencyMismatch
    );
    // one open dispute per order
    let paused = step(
        &delivered,
        Actor::Platform,
        OrderCommand::OpenDispute {
            dispute: "dsp_0".into(),
        },
        OPENED,
    );
    assert_eq!(
        open(&paused, &full, OPENED).unwrap_err(),
        DisputeError::AlreadyOpen
    );
    // after release: counterfeit only, straight to a mediator, until 15 d after completion
    let completed = completed_order();
    assert_eq!(
        open(&completed, &full, OPENED).unwrap_err().code(),
        ErrorCode::ReleasedOrderCounterfeitOnly
    );
    let fake = claim(DisputeReason::Counterfeit, Request::FullRefund);
    let d = open(&completed, &fake, OPENED).unwrap();
    assert_eq!(d.dispute.status(), DisputeStatus::InMediation);
    assert_eq!(d.dispute.held, usd(0));
    assert_eq!(
        d.events,
        [
            DisputeEvent::Opened,
            DisputeEvent::Escalated(Escalation::AfterRelease)
        ]
    );
    let closes = T0 + 3 * HOUR + 15 * DAY;
    assert!(open(&completed, &fake, closes - 1).is_ok());
    assert_eq!(
        open(&completed, &fake, closes).unwrap_err().code(),
        ErrorCode::DisputeWindowClosed
    );
    // a cancelled order, and an order whose non-delivery claim is open
    let cancelled = step(
        &paid,
        Actor::Platform,
        OrderCommand::Refund {
            amount: usd(10_000),
        },
        T0 + HOUR,
    );
    assert_eq!(
        open(&cancelled, &full, OPENED).unwrap_err(),
        DisputeError::OrderCancelled
    );
    let shipped = step(&paid, Actor::Seller, ship(), T0 + HOUR);
    let claimed = step(
        &shipped,
        Actor::Scheduler,
        OrderCommand::Fire(TimerKind::ProtectionEnd),
        T0 + HOUR + 30 * DAY,
    );
    assert_eq!(
        open(&claimed, &full, T0 + 32 * DAY).unwrap_err(),
        DisputeError::ClaimOpen
    );
}

#[path = "disputes/outcomes.rs"]
mod outcomes;
#[path = "disputes/timers.rs"]
mod timers;

/// What a unit of work holds after the dispute's decision and the order's reaction to it (the
/// order as given, at version 1); the reactions left for others (the payment's refunds).
fn unit(d: DisputeDecision, order: &Order, now: i64) -> (Effects, Vec<Reaction>) {
    let mut fx = Effects::default();
    let mut queue = fx.dispute(d, 1);
    let mut rest = Vec::new();
    while let Some(r) = queue.pop() {
        if r.order().is_some() {
            let loaded = fx.needs_order(&r).map(|_| (order.clone(), 1));
            let more = fx
                .apply_to_order(r, loaded, now, &OrderPolicy::default())
                .unwrap();
            queue.extend(more);
        } else {
            rest.push(r);
        }
    }
    (fx, rest)
}

/// The order `fx` wrote.
fn order_of(fx: &Effects) -> &Order {
    &fx.orders[0].value
}

fn posted(fx: &Effects) -> Vec<(String, String, i64)> {
    fx.transfers
        .iter()
        .map(|t| match t {
            TransferRequest::Posted {
                debit,
                credit,
                amount,
            } => (debit.to_string(), credit.to_string(), amount.minor()),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn refund_of(rest: &[Reaction]) -> Vec<(i64, RefundReason)> {
    rest.iter()
        .map(|r| match r {
            Reaction::RefundPayment { amount, reason, .. } => (amount.minor(), *reason),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// The dispute's closure, if closed.
fn closure(d: &Dispute) -> Option<(Outcome, Closure)> {
    match &d.state {
        DisputeState::Closed {
            outcome, closure, ..
        } => Some((*outcome, closure.clone())),
        _ => None,
    }
}

#[test]
fn the_mediation_sla_is_queued_by_its_due_time() {
    let d = representative_disputes()
        .into_iter()
        .find(|(s, ..)| *s == "in_mediation")
        .unwrap()
        .1;
    let due = OPENED + 3 * DAY + 7 * DAY;
    assert_eq!(d.due(), Some(due));
    assert!(!d.is_overdue(due - 1));
    assert!(d.is_overdue(due));
}
