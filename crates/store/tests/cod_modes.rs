//! Test and live never mix in cash on delivery: a carrier's tracking number, its event id, and
//! its remittance batch and file are each unique within one mode only. The same ones used in
//! test mode neither block live mode nor are found by it, on SQLite and (when
//! `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL; within one mode they stay unique.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use holdback_domain::cod::{CarrierEvent, Parcel, ParcelState, RtoPayer};
use holdback_domain::process::Versioned;
use holdback_domain::{Currency, Money};
use holdback_store::clock::ManualClock;
use holdback_store::parcels::ParcelEventRow;
use holdback_store::remittances::RemittanceRow;
use holdback_store::testing::TestDb;
use holdback_store::{Ledger, Unit, WriteError};

const T0: i64 = 1_800_000_000_000;

fn parcel(id: &str, livemode: bool) -> Parcel {
    Parcel {
        id: id.into(),
        carrier: "gulf_express".into(),
        tracking: "GX1".into(),
        order: format!("ord_{id}"),
        payment: format!("pay_{id}"),
        buyer: "buy_sara".into(),
        seller: "sel_jeddah".into(),
        livemode,
        cash: Money::from_minor(14_625, Currency::parse("SAR").unwrap()).unwrap(),
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

/// A unit writing `p` (new) and the carrier's event `e1` about it.
fn unit(p: Parcel) -> Unit {
    let event = ParcelEventRow {
        carrier: p.carrier.clone(),
        livemode: p.livemode,
        event_id: "e1".into(),
        tracking: p.tracking.clone(),
        event: CarrierEvent::InTransit,
        occurred_at: T0,
        cash: None,
        outcome: if p.livemode { "applied" } else { "ignored" },
        received_at: T0,
    };
    Unit {
        parcels: vec![Versioned {
            value: p,
            expected_version: 0,
        }],
        parcel_events: vec![event],
        ..Unit::default()
    }
}

fn remittance(id: &str, livemode: bool) -> RemittanceRow {
    RemittanceRow {
        id: id.into(),
        carrier: "gulf_express".into(),
        batch: "GE-0001".into(),
        file_sha256: "ab".repeat(32),
        livemode,
        currency: "SAR".into(),
        status: "importing".into(),
        chunks_done: 0,
        lines: 0,
        posted: 0,
        gross: 0,
        deductions: 0,
        net: 0,
        report: String::new(),
        created_at: T0,
    }
}

#[tokio::test]
async fn a_carriers_tracking_events_and_batches_are_unique_per_mode() {
    for db in TestDb::all("cod_modes").await {
        let b = db.backend();
        let store = db.store().await.unwrap();
        let ledger = Ledger::start(store.clone(), Arc::new(ManualClock::new(T0)));
        // the same tracking number and event id in test mode, then in live mode
        ledger
            .commit(unit(parcel("pcl_test", false)))
            .await
            .unwrap();
        ledger.commit(unit(parcel("pcl_live", true))).await.unwrap();
        for (live, id, outcome) in [
            (false, "pcl_test", "ignored"),
            (true, "pcl_live", "applied"),
        ] {
            let (p, _) = store
                .parcel_by_tracking("gulf_express", live, "GX1")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(p.id, id, "{b}");
            let taken = store
                .parcel_event_outcome("gulf_express", live, "e1")
                .await
                .unwrap();
            assert_eq!(taken.as_deref(), Some(outcome), "{b}");
        }
        // within one mode the tracking number stays one parcel's
        let again = ledger.commit(unit(parcel("pcl_test_2", false))).await;
        assert!(
            matches!(again, Err(WriteError::Refused(_))),
            "{b}: {again:?}"
        );
        assert_eq!(store.parcel("pcl_test_2").await.unwrap(), None, "{b}");
        // the same batch and file, imported in test mode, then in live mode
        assert!(
            store
                .start_remittance(&remittance("rmt_t", false))
                .await
                .unwrap()
        );
        assert!(
            store
                .start_remittance(&remittance("rmt_l", true))
                .await
                .unwrap()
        );
        assert!(
            !store
                .start_remittance(&remittance("rmt_t2", false))
                .await
                .unwrap()
        );
        for (live, id) in [(false, "rmt_t"), (true, "rmt_l")] {
            let found = store
                .remittance_of("gulf_express", live, &"ab".repeat(32), "GE-0001")
                .await
                .unwrap();
            let ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, [id], "{b}");
        }
    }
}
