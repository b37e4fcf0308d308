//! Fixtures shared by the domain's integration tests: money, order plans, orders brought to a
//! state by the ordinary path, and the snapshot helper.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test binary uses a part

use holdback_domain::card::{Brand, StoredCard};
use holdback_domain::dispute::{
    self, Answer, Claim, Dispute, DisputeEvent, DisputePolicy, DisputeReason, Escalation, Outcome,
    Request,
};
use holdback_domain::order::{
    self, Actor, Commission, DAY, HOUR, Order, OrderCommand, OrderPlan, OrderPolicy, OrderState,
    Settlement,
};
use holdback_domain::{Currency, Money};

pub const T0: i64 = 1_800_000_000_000;

pub fn cur(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

pub fn money(minor: i64, code: &str) -> Money {
    Money::from_minor(minor, cur(code)).unwrap()
}

pub fn usd(minor: i64) -> Money {
    money(minor, "USD")
}

/// A plan: ship within 7 days, a 30-day guarantee, 5 % commission.
pub fn plan(id: &str, amount: Money) -> OrderPlan {
    OrderPlan {
        id: id.to_string(),
        seller: "sel_1".to_string(),
        amount,
        commission: Commission {
            basis_points: 500,
            fixed_minor: 0,
        },
        ship_by_ms: 7 * DAY,
        shipping_method: "standard".to_string(),
        delivery_guarantee: 30 * DAY,
        promotion: 0,
        cash_on_delivery: false,
    }
}

pub fn card(token: &str) -> StoredCard {
    StoredCard {
        brand: Brand::Visa,
        last4: "4242".to_string(),
        exp_month: 12,
        exp_year: 2030,
        token: token.to_string(),
    }
}

/// Order `ord_1` of `amount` USD, paid at `T0` in test mode.
pub fn new_order(amount: i64) -> Order {
    order::paid(&plan("ord_1", usd(amount)), "buy_1", "pay_1", false, T0)
        .unwrap()
        .order
}

pub fn ship() -> OrderCommand {
    OrderCommand::Ship {
        carrier: "dhl".into(),
        tracking: "JD0001".into(),
    }
}

pub fn step(o: &Order, actor: Actor, cmd: OrderCommand, now: i64) -> Order {
    order::decide(o, actor, &cmd, now, &OrderPolicy::default())
        .unwrap_or_else(|e| panic!("{cmd:?} at {now}: {e}"))
        .order
}

/// The representative orders of the state table, each reached by the ordinary path within the
/// first three hours after payment at `T0` (ship-by falls due at `T0 + 7 d`, a cancellation
/// requested at `T0 + 1 h` must be answered by `T0 + 49 h`).
pub fn representative_orders() -> Vec<(&'static str, Order)> {
    let paid = new_order(10_000);
    let asked = step(&paid, Actor::Buyer, OrderCommand::RequestCancel, T0 + HOUR);
    let shipped = step(&paid, Actor::Seller, ship(), T0 + HOUR);
    let extension = step(
        &shipped,
        Actor::Buyer,
        OrderCommand::RequestExtension { days: 10 },
        T0 + 2 * HOUR,
    );
    let delivered = step(
        &shipped,
        Actor::Carrier,
        OrderCommand::MarkDelivered,
        T0 + 2 * HOUR,
    );
    let completed = step(
        &delivered,
        Actor::Buyer,
        OrderCommand::ConfirmReceipt,
        T0 + 3 * HOUR,
    );
    let cancelled = step(
        &asked,
        Actor::Seller,
        OrderCommand::AnswerCancel { accept: true },
        T0 + 2 * HOUR,
    );
    // A claim opens only when the guarantee has passed: written as if it had opened at T0 + 2 h.
    let mut claimed = shipped.clone();
    if let OrderState::Shipped { claim, .. } = &mut claimed.state {
        *claim = Some(T0 + 2 * HOUR);
    }
    let open = |o: &Order| {
        let cmd = OrderCommand::OpenDispute {
            dispute: "dsp_1".into(),
        };
        step(o, Actor::Platform, cmd, T0 + 3 * HOUR)
    };
    let placed = order::placed(
        &plan("ord_1", usd(10_000)),
        "buy_1",
        "pay_1",
        false,
        T0,
        T0 + DAY / 2,
    )
    .order;
    let expired = step(
        &placed,
        Actor::Platform,
        OrderCommand::CancelUnpaid,
        T0 + DAY,
    );
    vec![
        ("awaiting_payment", placed),
        ("expired", expired),
        ("paid", paid),
        ("paid(cancel_requested)", asked),
        ("shipped", shipped.clone()),
        ("shipped(extension_asked)", extension),
        ("shipped(claim)", claimed),
        ("shipped(dispute)", open(&shipped)),
        ("delivered", delivered.clone()),
        ("delivered(dispute)", open(&delivered)),
        ("completed", completed.clone()),
        ("completed(dispute)", open(&completed)),
        ("cancelled", cancelled),
    ]
}

/// The amount a settlement moves, for tables (0 when it names none).
pub fn settlement_amount(s: &Settlement) -> i64 {
    match s {
        Settlement::Split { refund } => refund.minor(),
        Settlement::Counterfeit { amount } => amount.minor(),
        Settlement::Resume | Settlement::Release => 0,
    }
}

/// Order `ord_1` (10 000 USD), shipped at `T0 + 1 h` and delivered at `T0 + 2 h`.
pub fn delivered_order() -> Order {
    let shipped = step(&new_order(10_000), Actor::Seller, ship(), T0 + HOUR);
    step(
        &shipped,
        Actor::Carrier,
        OrderCommand::MarkDelivered,
        T0 + 2 * HOUR,
    )
}

/// When the dispute fixtures open: as soon as the rules allow after the shipment at `T0 + 1 h`.
pub const OPENED: i64 = T0 + HOUR + 5 * DAY;

/// Dispute `dsp_1` on [`delivered_order`], opened at [`OPENED`] asking for `request`.
pub fn open_dispute(request: Request) -> Dispute {
    let claim = Claim {
        id: "dsp_1".into(),
        reason: DisputeReason::NotAsDescribed,
        request,
    };
    dispute::open(
        &claim,
        &delivered_order(),
        Actor::Buyer,
        OPENED,
        &DisputePolicy::default(),
    )
    .unwrap()
    .dispute
}

pub fn open_dispute_on_delivered() -> Dispute {
    open_dispute(Request::FullRefund)
}

/// One of each dispute event.
pub fn every_dispute_event() -> Vec<DisputeEvent> {
    vec![
        DisputeEvent::Opened,
        DisputeEvent::Responded(Answer::Counter(usd(3_000))),
        DisputeEvent::CounterAccepted,
        DisputeEvent::Escalated(Escalation::Timer),
        DisputeEvent::MediationOverdue,
        DisputeEvent::Decided(Outcome::PartialRefund(usd(3_000))),
        DisputeEvent::ReturnShipped,
        DisputeEvent::ReturnDelivered,
        DisputeEvent::ReturnReceived,
        DisputeEvent::Closed(Settlement::Split { refund: usd(3_000) }),
        DisputeEvent::Closed(Settlement::Resume),
        DisputeEvent::Closed(Settlement::Release),
        DisputeEvent::Closed(Settlement::Counterfeit {
            amount: usd(15_000),
        }),
    ]
}

/// Compares `actual` with `tests/snapshots/{name}`; with `UPDATE_SNAPSHOTS=1` set, writes it
/// instead. A mismatch fails with a line diff.
pub fn check_snapshot(name: &str, actual: &str) {
    let path = format!("{}/tests/snapshots/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("no snapshot {path}; run with UPDATE_SNAPSHOTS=1 to write it:\n{actual}")
    });
    if expected != actual {
        panic!(
            "snapshot {name} differs (- expected, + actual); UPDATE_SNAPSHOTS=1 rewrites it\n{}",
            diff(&expected, actual)
        );
    }
}

/// A line diff by longest common subsequence: enough for tables of a few hundred lines.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    if out.is_empty() {
        out.push_str("(the texts differ only in line endings)\n");
    }
    out
}

/// Parcel `pcl_1` of order `ord_1` (payment `pay_1`), collecting SAR 126.25 with a SAR 26.25
/// fee, in transit since `T0`; a return costs SAR 25 and is charged to the buyer.
pub fn parcel() -> holdback_domain::cod::Parcel {
    use holdback_domain::cod::{Parcel, ParcelState, RtoPayer};
    let sar = Currency::parse("sar").unwrap();
    Parcel {
        id: "pcl_1".into(),
        carrier: "gulf_express".into(),
        tracking: "GX0001".into(),
        order: "ord_1".into(),
        payment: "pay_1".into(),
        buyer: "buy_1".into(),
        seller: "sel_1".into(),
        livemode: false,
        cash: Money::from_minor(12_625, sar).unwrap(),
        fee: 2_625,
        rto_cost: 2_500,
        rto_payer: RtoPayer::Buyer,
        created_at: T0,
        last_event_at: T0,
        state: ParcelState::InTransit {
            out_for_delivery: None,
        },
        reversed: None,
    }
}
