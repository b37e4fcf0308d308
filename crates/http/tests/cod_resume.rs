//! A remittance import stopped in the middle, as by a crash, and the same file imported again:
//! the chunks already posted are not posted again, the rest are, and afterwards each matched
//! parcel was remitted exactly once, the carrier's receivable is what the unmatched parcels
//! still owe, and the books audit clean. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use holdback_app::remittances::{self, Source};
use holdback_app::{Principal, Role};
use holdback_domain::Money;
use holdback_domain::cod::{CarrierEvent, Parcel, ParcelState, RtoPayer};
use holdback_domain::process::Versioned;
use holdback_remit::{SampleStatus, sample_line, sample_profile};
use holdback_store::Unit;
use holdback_store::testing::TestDb;

mod common;

use common::{Server, T0};

const LINES: u64 = 16_000;

fn platform() -> Principal {
    Principal {
        key_id: "test".into(),
        role: Role::Platform,
        livemode: false,
    }
}

/// The parcel line `i` of the sample file pays: collected, or returned for a return's line.
fn parcel(i: u64) -> Parcel {
    let s = sample_line(i);
    let sar = holdback_domain::Currency::parse("sar").unwrap();
    let state = match s.status {
        SampleStatus::Rto => ParcelState::Returned {
            at: T0,
            reason: CarrierEvent::Refused,
            remitted: None,
        },
        _ => ParcelState::Collected {
            at: T0,
            remitted: None,
        },
    };
    Parcel {
        id: format!("pcl_{i}"),
        carrier: "sample_cod".into(),
        tracking: s.tracking,
        order: format!("ord_{i}"),
        payment: format!("pay_{i}"),
        buyer: "buy_alice".into(),
        seller: "sel_bob".into(),
        livemode: false,
        cash: Money::from_minor(s.collected.max(1_000), sar).unwrap(),
        fee: 0,
        rto_cost: 0,
        rto_payer: RtoPayer::Platform,
        created_at: T0,
        last_event_at: T0,
        state,
        reversed: None,
    }
}

#[tokio::test]
async fn an_import_stopped_midway_is_finished_by_importing_again_each_line_posted_once() {
    for db in TestDb::all("cod_resume").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        // the parcels the file pays (the pending lines' parcels are out for delivery: a pending
        // line is not paid); their cash as receivable, as the collections booked it
        let mut owed = 0;
        for start in (1..=LINES).step_by(2_000) {
            let mut unit = Unit::default();
            for i in start..(start + 2_000).min(LINES + 1) {
                let mut p = parcel(i);
                if sample_line(i).status == SampleStatus::Pending {
                    p.state = ParcelState::InTransit {
                        out_for_delivery: None,
                    };
                }
                unit.parcels.push(Versioned {
                    value: p,
                    expected_version: 0,
                });
            }
            s.app.ledger.commit(unit).await.unwrap();
        }
        // (the receivable the collections would have booked)
        let mut unit = Unit::default();
        let receivable = holdback_domain::cod::CodAccounts::receivable(
            false,
            "sample_cod",
            holdback_domain::Currency::parse("sar").unwrap(),
        )
        .unwrap();
        let expected = holdback_domain::cod::CodAccounts::of(
            false,
            holdback_domain::Currency::parse("sar").unwrap(),
        )
        .unwrap()
        .expected;
        let sar = holdback_domain::Currency::parse("sar").unwrap();
        for i in 1..=LINES {
            if sample_line(i).status == SampleStatus::Delivered {
                owed += parcel(i).cash.minor();
            }
        }
        unit.accounts = vec![
            holdback_domain::cod::spec(
                &receivable,
                holdback_domain::ledger::AccountKind::CarrierCodReceivable,
                sar,
            ),
            holdback_domain::cod::spec(
                &expected,
                holdback_domain::ledger::AccountKind::CodExpected,
                sar,
            ),
        ];
        unit.ledger = Some(holdback_domain::ledger::TransactionRequest {
            id: holdback_domain::TxId::parse("collections").unwrap(),
            transfers: vec![holdback_domain::ledger::TransferRequest::Posted {
                debit: receivable.clone(),
                credit: expected,
                amount: Money::from_minor(owed, sar).unwrap(),
            }],
        });
        s.app.ledger.commit(unit).await.unwrap();
        let dir = std::env::temp_dir().join(format!("holdback-resume-{}-{b}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sample.csv");
        holdback_remit::write_sample_csv(std::fs::File::create(&path).unwrap(), LINES, |i| {
            format!("ord_{i}")
        })
        .unwrap();
        let profile = sample_profile().unwrap();
        // the first import stops after its first chunk is posted
        let app = s.app.clone();
        let (p2, path2) = (profile.clone(), path.clone());
        let first = tokio::spawn(async move {
            remittances::import(&app, &platform(), &p2, &Source::Path(path2), &|_, _| {}).await
        });
        let mut stopped_at = 0;
        for _ in 0..6_000 {
            let rows = s
                .app
                .store
                .remittance_of("sample_cod", false, "", "SMP-0001")
                .await
                .unwrap();
            if let Some(r) = rows.first()
                && r.chunks_done >= 1
            {
                first.abort();
                stopped_at = r.chunks_done;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if stopped_at == 0 {
            panic!(
                "{b}: the import ended before a chunk was seen: {:?}",
                first.await
            );
        }
        let _ = first.await;
        // the in-flight commit may still have landed: read where it stopped now
        tokio::time::sleep(Duration::from_millis(200)).await;
        let row = s
            .app
            .store
            .remittance_of("sample_cod", false, "", "SMP-0001")
            .await
            .unwrap()[0]
            .clone();
        assert!(stopped_at >= 1, "{b}: the import was stopped midway");
        assert_eq!(row.status, "importing", "{b}: it did not finish");
        let chunks = i64::try_from(LINES.div_ceil(remittances::CHUNK as u64)).unwrap();
        assert!(
            row.chunks_done < chunks,
            "{b}: {} of {chunks} chunks",
            row.chunks_done
        );
        let posted_before = row.posted;
        // importing again finishes it
        let report = remittances::import(
            &s.app,
            &platform(),
            &profile,
            &Source::Path(path.clone()),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(report["already_imported"], false, "{b}");
        let matched = report["classes"]["matched"]["lines"].as_i64().unwrap();
        let delivered = (1..=LINES)
            .filter(|i| sample_line(*i).status == SampleStatus::Delivered)
            .count();
        let returns = (1..=LINES)
            .filter(|i| sample_line(*i).status == SampleStatus::Rto)
            .count();
        assert_eq!(
            matched,
            i64::try_from(delivered + returns).unwrap(),
            "{b}: {}",
            report["classes"]
        );
        assert_eq!(
            posted_before + report["posted_now"].as_i64().unwrap(),
            matched,
            "{b}: every matched line posted once"
        );
        let done = s.app.store.remittance(&row.id).await.unwrap().unwrap();
        assert_eq!(
            (done.status.as_str(), done.posted),
            ("done", matched),
            "{b}"
        );
        let lines = s
            .app
            .store
            .remittance_lines(&row.id, 0, 100_000)
            .await
            .unwrap();
        assert_eq!(
            lines.len() as u64,
            LINES + 1,
            "{b}: each line recorded once (and the total row)"
        );
        assert_eq!(
            s.balance_of("test:carrier_receivable:sample_cod:SAR").await,
            0,
            "{b}"
        );
        assert_eq!(
            s.balance_of("test:cod_cash:SAR").await,
            report["classes"]["matched"]["reported_net"]
                .as_i64()
                .unwrap(),
            "{b}"
        );
        // and a third time: nothing
        let again = remittances::import(
            &s.app,
            &platform(),
            &profile,
            &Source::Path(path),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(
            (
                again["already_imported"].clone(),
                again["posted_now"].clone()
            ),
            (true.into(), 0.into())
        );
        s.audit_clean().await;
        std::fs::remove_dir_all(&dir).ok();
    }
}
