//! An order's buyer-protection facts survive the store: the non-delivery claim, the dispute open
//! on it with the protection time it stopped with, and what was charged to the seller after its
//! release, on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use holdback_domain::dispute::{
    self, Answer, Claim, Dispute, DisputeCommand, DisputeDecision, DisputePolicy, DisputeReason,
    DisputeStatus, DisputeTimer, Outcome, Request,
};
use holdback_domain::ledger::TransactionRequest;
use holdback_domain::order::{
    self, Actor, Commission, DAY, Decision, Order, OrderCommand, OrderPlan, OrderPolicy,
    Settlement, TimerKind,
};
use holdback_domain::process::Versioned;
use holdback_domain::{AccountId, Currency, Money, TxId};
use holdback_store::clock::ManualClock;
use holdback_store::testing::TestDb;
use holdback_store::{
    Cursor, DisputeFilter, DisputeTimerCancel, DisputeTimerRow, Ledger, Store, Unit,
};

const T0: i64 = 1_800_000_000_000;

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("USD").unwrap()).unwrap()
}

/// Writes one order decision (its order row, accounts and ledger transaction) and reads the
/// order back.
async fn write(store: &Store, ledger: &Ledger, d: Decision, version: i64, tx: &str) -> Order {
    let unit = Unit {
        accounts: d.accounts.clone(),
        ledger: (!d.transfers.is_empty()).then(|| TransactionRequest {
            id: TxId::parse(tx).unwrap(),
            transfers: d.transfers.clone(),
        }),
        orders: vec![Versioned {
            value: d.order.clone(),
            expected_version: version,
        }],
        ..Unit::default()
    };
    ledger.commit(unit).await.unwrap();
    let (stored, v) = store.order(&d.order.id).await.unwrap().unwrap();
    assert_eq!((&stored, v), (&d.order, version + 1), "{}", store.backend());
    stored
}

/// A paid order `id` of 10 000 USD, stepped through `commands` (each at its time), writing and reading back every step.
async fn walk(
    store: &Store,
    ledger: &Ledger,
    id: &str,
    commands: Vec<(Actor, OrderCommand, i64)>,
) -> Order {
    let plan = OrderPlan {
        id: id.to_string(),
        seller: "sel_1".into(),
        amount: usd(10_000),
        commission: Commission {
            basis_points: 500,
            fixed_minor: 0,
        },
        ship_by_ms: 7 * DAY,
        shipping_method: "standard".into(),
        delivery_guarantee: 30 * DAY,
        promotion: 0,
        cash_on_delivery: false,
    };
    let paid = order::paid(&plan, "buy_1", "pay_1", false, T0).unwrap();
    let mut o = write(store, ledger, paid, 0, &format!("{id}_0")).await;
    for (n, (actor, command, now)) in commands.into_iter().enumerate() {
        let d = order::decide(&o, actor, &command, now, &OrderPolicy::default()).unwrap();
        let version = i64::try_from(n).unwrap() + 1;
        o = write(store, ledger, d, version, &format!("{id}_{version}")).await;
    }
    o
}

#[tokio::test]
async fn claims_disputes_and_charges_to_the_seller_are_stored() {
    for db in TestDb::all("claims_disputes_and_charges_to_the_seller_are_stored").await {
        let store = db.store().await.unwrap();
        let ledger = Ledger::start(store.clone(), Arc::new(ManualClock::new(T0)));
        let ship = OrderCommand::Ship {
            carrier: "dhl".into(),
            tracking: "JD1".into(),
        };
        let fire = OrderCommand::Fire(TimerKind::ProtectionEnd);
        let claimed = walk(
            &store,
            &ledger,
            "ord_claim",
            vec![
                (Actor::Seller, ship.clone(), T0 + DAY),
                (Actor::Scheduler, fire, T0 + 31 * DAY),
            ],
        )
        .await;
        assert_eq!(claimed.claim(), Some(T0 + 31 * DAY));

        let open = OrderCommand::OpenDispute {
            dispute: "dsp_1".into(),
        };
        let settle = OrderCommand::Settle {
            dispute: "dsp_1".into(),
            settlement: Settlement::Counterfeit {
                amount: usd(15_000),
            },
        };
        let mut steps = vec![
            (Actor::Seller, ship, T0 + DAY),
            (Actor::Carrier, OrderCommand::MarkDelivered, T0 + 2 * DAY),
            (Actor::Buyer, OrderCommand::ConfirmReceipt, T0 + 3 * DAY),
            (Actor::Platform, open, T0 + 7 * DAY),
        ];
        let disputed = walk(&store, &ledger, "ord_disputed", steps.clone()).await;
        assert_eq!(disputed.dispute.unwrap().id, "dsp_1");
        steps.push((Actor::Platform, settle, T0 + 9 * DAY));
        let charged = walk(&store, &ledger, "ord_charged", steps).await;
        assert_eq!((charged.charged_to_seller, charged.dispute), (10_000, None));
        let debt = AccountId::parse("test:seller_debt:sel_1:USD").unwrap();
        let debt = store.account(&debt).await.unwrap().unwrap();
        assert_eq!(debt.posted_balance(), 15_000, "{}", db.backend());
    }
}

/// Writes one dispute decision (the dispute row and its timers) and reads the dispute back.
async fn write_dispute(
    store: &Store,
    ledger: &Ledger,
    d: &DisputeDecision,
    version: i64,
) -> (Dispute, i64) {
    let id = &d.dispute.id;
    let unit = Unit {
        disputes: vec![Versioned {
            value: d.dispute.clone(),
            expected_version: version,
        }],
        set_dispute_timers: d
            .set_timers
            .iter()
            .map(|(kind, due_at)| DisputeTimerRow {
                dispute_id: id.clone(),
                kind: *kind,
                due_at: *due_at,
            })
            .collect(),
        cancel_dispute_timers: d
            .cancel_timers
            .iter()
            .map(|kind| DisputeTimerCancel {
                dispute_id: id.clone(),
                kind: *kind,
                only_if_due_at: None,
            })
            .collect(),
        ..Unit::default()
    };
    ledger.commit(unit).await.unwrap();
    let stored = store.dispute(id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        (d.dispute.clone(), version + 1),
        "{}",
        store.backend()
    );
    stored
}

/// An order, what its buyer asks, and the commands on the dispute after it opened.
type Walk = (&'static str, Request, Vec<(Actor, DisputeCommand)>);

#[tokio::test]
async fn every_stage_of_a_dispute_is_stored_and_read_back() {
    use DisputeCommand as C;
    for db in TestDb::all("every_stage_of_a_dispute_is_stored_and_read_back").await {
        let store = db.store().await.unwrap();
        let ledger = Ledger::start(store.clone(), Arc::new(ManualClock::new(T0)));
        let policy = DisputePolicy::default();
        let ship = OrderCommand::Ship {
            carrier: "dhl".into(),
            tracking: "JD1".into(),
        };
        // (order, request, the commands after opening, each with its actor)
        let walks: Vec<Walk> = vec![
            (
                "ord_return",
                Request::PartialRefund(usd(2_500)),
                vec![
                    (Actor::Seller, C::Respond(Answer::Counter(usd(1_000)))),
                    (Actor::Buyer, C::Escalate),
                    (
                        Actor::Mediator,
                        C::Decide {
                            outcome: Outcome::ReturnAndRefund,
                            reason: "send it back".into(),
                            by: "med_1".into(),
                        },
                    ),
                    (
                        Actor::Buyer,
                        C::ShipReturn {
                            tracking: "RR1".into(),
                        },
                    ),
                    (Actor::Platform, C::ReturnDelivered),
                    (Actor::Seller, C::ConfirmReturnReceived),
                ],
            ),
            (
                "ord_partial",
                Request::FullRefund,
                vec![
                    (Actor::Seller, C::Respond(Answer::Reject)),
                    (Actor::Seller, C::Escalate),
                    (Actor::Scheduler, C::Fire(DisputeTimer::MediationSla)),
                    (
                        Actor::Mediator,
                        C::Decide {
                            outcome: Outcome::PartialRefund(usd(3_000)),
                            reason: "scratched".into(),
                            by: "med_1".into(),
                        },
                    ),
                ],
            ),
        ];
        for (order_id, request, commands) in walks {
            let order = walk(
                &store,
                &ledger,
                order_id,
                vec![(Actor::Seller, ship.clone(), T0 + DAY)],
            )
            .await;
            let claim = Claim {
                id: format!("dsp_{order_id}"),
                reason: DisputeReason::Damaged,
                request,
            };
            let mut now = T0 + 6 * DAY;
            let d = dispute::open(&claim, &order, Actor::Buyer, now, &policy).unwrap();
            let (mut current, mut version) = write_dispute(&store, &ledger, &d, 0).await;
            for (actor, command) in commands {
                now += if matches!(command, C::Fire(_)) { 8 } else { 4 } * DAY;
                let d = dispute::decide(&current, actor, &command, now, &policy).unwrap();
                (current, version) = write_dispute(&store, &ledger, &d, version).await;
            }
            assert_eq!(current.status(), DisputeStatus::Closed, "{order_id}");
            assert!(current.escalated_at.is_some());
        }
        // a closed dispute's timers are gone; an open one's are due in turn
        assert_eq!(
            store.due_dispute_timers(i64::MAX, 10).await.unwrap(),
            vec![]
        );
        let order = walk(
            &store,
            &ledger,
            "ord_open",
            vec![(Actor::Seller, ship.clone(), T0 + DAY)],
        )
        .await;
        let claim = Claim {
            id: "dsp_open".into(),
            reason: DisputeReason::NotReceived,
            request: Request::FullRefund,
        };
        let d = dispute::open(&claim, &order, Actor::Buyer, T0 + 6 * DAY, &policy).unwrap();
        write_dispute(&store, &ledger, &d, 0).await;
        let due = store.due_dispute_timers(i64::MAX, 10).await.unwrap();
        let kinds: Vec<_> = due.iter().map(|t| (t.kind, t.due_at)).collect();
        assert_eq!(
            kinds,
            vec![
                (DisputeTimer::SellerAnswer, T0 + 11 * DAY),
                (DisputeTimer::AutoEscalate, T0 + 21 * DAY)
            ]
        );
        // a second open dispute on the same order is refused by the database too
        let again = Claim {
            id: "dsp_open_2".into(),
            ..claim
        };
        let d = dispute::open(&again, &order, Actor::Buyer, T0 + 6 * DAY, &policy).unwrap();
        let unit = Unit {
            disputes: vec![Versioned {
                value: d.dispute,
                expected_version: 0,
            }],
            ..Unit::default()
        };
        assert!(ledger.commit(unit).await.is_err(), "{}", db.backend());
        assert!(store.dispute("dsp_open_2").await.unwrap().is_none());
        // the platform's list, by order and status
        let filter = DisputeFilter {
            order: Some("ord_open"),
            ..DisputeFilter::default()
        };
        let listed = store
            .list_disputes(&filter, Cursor::After(""), 10)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        let closed = DisputeFilter {
            status: Some(DisputeStatus::Closed),
            escalated_only: true,
            ..DisputeFilter::default()
        };
        let listed = store
            .list_disputes(&closed, Cursor::After(""), 10)
            .await
            .unwrap();
        assert_eq!(listed.len(), 2, "{}", db.backend());
    }
}
