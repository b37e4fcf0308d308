//! One bad unit never fails its batch: units submitted together, one of them with rows the
//! database cannot take, on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL.
//! Only that unit is refused, with nothing of it written (not its ledger postings either); every
//! other unit commits, and the ledger audit stays clean.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use holdback_domain::ledger::TransactionRequest;
use holdback_domain::order::{self, Commission, Decision, OrderPlan, TimerKind};
use holdback_domain::process::Versioned;
use holdback_domain::{AccountId, Currency, Money, TxId};
use holdback_store::clock::ManualClock;
use holdback_store::testing::TestDb;
use holdback_store::{Ledger, NewEvent, ROWS_REFUSED, Store, TimerRow, Unit, WriteError};

const T0: i64 = 1_800_000_000_000;
const DAY: i64 = 86_400_000;
/// Units submitted at once: enough that the writer decides many of them in one batch.
const UNITS: usize = 60;

/// The unit that pays for order `id`: its ledger transaction (clearing → a new escrow account),
/// the order row, its ship-by timer and its `order.paid` event.
fn paid_unit(id: &str) -> Unit {
    let plan = OrderPlan {
        id: id.to_string(),
        seller: "sel_1".into(),
        amount: Money::from_minor(2_500, Currency::parse("USD").unwrap()).unwrap(),
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
    let d: Decision = order::paid(&plan, "buy_1", "pay_1", false, T0).unwrap();
    Unit {
        accounts: d.accounts.clone(),
        ledger: Some(TransactionRequest {
            id: TxId::parse(&format!("pay_{id}")).unwrap(),
            transfers: d.transfers.clone(),
        }),
        orders: vec![Versioned {
            value: d.order.clone(),
            expected_version: 0,
        }],
        set_timers: d
            .set_timers
            .iter()
            .map(|(kind, due_at)| TimerRow {
                order_id: id.to_string(),
                kind: *kind,
                due_at: *due_at,
            })
            .collect(),
        events: vec![NewEvent {
            id: format!("evt_{id}"),
            kind: "order.paid".into(),
            object_id: id.to_string(),
            payload: format!("{{\"type\":\"order.paid\",\"order\":\"{id}\"}}"),
            created_at: T0,
            livemode: false,
        }],
        ..Unit::default()
    }
}

/// Submits every unit at once, each from a task of its own; the answers in the same order.
async fn submit_all(ledger: &Ledger, units: Vec<Unit>) -> Vec<Result<(), WriteError>> {
    let tasks: Vec<_> = units
        .into_iter()
        .map(|u| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.commit(u).await.map(drop) })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// Whether order `id` was written: its row, and the escrow account its ledger transaction opened.
async fn written(store: &Store, id: &str) -> (bool, bool) {
    let order = store.order(id).await.unwrap().is_some();
    let escrow = AccountId::parse(&format!("escrow:{id}")).unwrap();
    let account = store.account(&escrow).await.unwrap().is_some();
    (order, account)
}

async fn assert_clean(store: &Store) {
    let report = store.audit().await.unwrap();
    assert!(
        report.is_clean(),
        "{}: {:?}",
        store.backend(),
        report.breaches
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_byte_refuses_only_its_unit_before_its_ledger_transaction() {
    for db in TestDb::all("a_nul_byte_refuses_only_its_unit").await {
        let b = db.backend();
        let store = db.store().await.unwrap();
        let ledger = Ledger::start(store.clone(), Arc::new(ManualClock::new(T0)));
        let ids: Vec<String> = (0..UNITS).map(|i| format!("ord_{i}")).collect();
        let bad = UNITS / 2;
        let mut units: Vec<Unit> = ids.iter().map(|id| paid_unit(id)).collect();
        units[bad].events[0].payload = "{\"note\":\"a\u{0}b\"}".into();
        // a unit whose order row carries the NUL, in the same batch
        let worse = UNITS - 1;
        units[worse].orders[0].value.buyer = "buy_\u{0}".into();
        let answers = submit_all(&ledger, units).await;
        for (i, answer) in answers.iter().enumerate() {
            if i == bad || i == worse {
                assert!(
                    matches!(answer, Err(WriteError::Refused(why)) if why.contains("NUL")),
                    "{b}: unit {i}: {answer:?}"
                );
                assert_eq!(written(&store, &ids[i]).await, (false, false), "{b}: {i}");
            } else {
                assert!(answer.is_ok(), "{b}: unit {i}: {answer:?}");
                assert_eq!(written(&store, &ids[i]).await, (true, true), "{b}: {i}");
            }
        }
        let events = store.events_after(0, false, 1_000).await.unwrap();
        assert_eq!(events.len(), UNITS - 2, "{b}");
        assert_clean(&store).await;
        // refused, not broken: the same order without the NUL goes in
        ledger.commit(paid_unit(&ids[bad])).await.unwrap();
        assert_eq!(written(&store, &ids[bad]).await, (true, true), "{b}");
        assert_clean(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_only_the_database_refuses_roll_back_only_their_unit_and_its_postings() {
    for db in TestDb::all("rows_only_the_database_refuses").await {
        let b = db.backend();
        let store = db.store().await.unwrap();
        let ledger = Ledger::start(store.clone(), Arc::new(ManualClock::new(T0)));
        ledger.commit(paid_unit("ord_first")).await.unwrap();
        let ids: Vec<String> = (0..UNITS).map(|i| format!("ord_{i}")).collect();
        let mut units: Vec<Unit> = ids.iter().map(|id| paid_unit(id)).collect();
        // an event id already taken: the unique index refuses it
        let taken = 7;
        units[taken].events[0].id = "evt_ord_first".into();
        // a timer for an order that does not exist: the foreign key refuses it
        let orphan = UNITS - 3;
        units[orphan].set_timers.push(TimerRow {
            order_id: "ord_nowhere".into(),
            kind: TimerKind::ShipBy,
            due_at: T0 + DAY,
        });
        let answers = submit_all(&ledger, units).await;
        for (i, answer) in answers.iter().enumerate() {
            if i == taken || i == orphan {
                assert!(
                    matches!(answer, Err(WriteError::Refused(why)) if *why == ROWS_REFUSED),
                    "{b}: unit {i}: {answer:?}"
                );
                // neither its rows nor its ledger postings (nor the account they opened)
                assert_eq!(written(&store, &ids[i]).await, (false, false), "{b}: {i}");
            } else {
                assert!(answer.is_ok(), "{b}: unit {i}: {answer:?}");
                assert_eq!(written(&store, &ids[i]).await, (true, true), "{b}: {i}");
            }
        }
        let events = store.events_after(0, false, 1_000).await.unwrap();
        assert_eq!(events.len(), UNITS - 1, "{b}");
        assert_clean(&store).await;
        // the journal has no gap where the refused units' transactions were decided
        ledger.commit(paid_unit(&ids[taken])).await.unwrap();
        assert_eq!(written(&store, &ids[taken]).await, (true, true), "{b}");
        assert_clean(&store).await;
    }
}
