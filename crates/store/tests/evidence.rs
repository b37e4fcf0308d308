//! Evidence file records on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL:
//! insert, read, list, usage; a retried upload is the same file; a dispute's limits refuse the
//! file that would pass them, writing nothing, also when uploads race.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_domain::evidence::{EvidenceKind, EvidenceLimits, EvidenceRole, EvidenceUsage};
use holdback_store::testing::TestDb;
use holdback_store::{EvidenceInsert, EvidenceRow};

fn file(id: &str, dispute: &str, content: u8, size: u64) -> EvidenceRow {
    EvidenceRow {
        id: id.into(),
        livemode: false,
        dispute_id: dispute.into(),
        uploader_role: EvidenceRole::Buyer,
        uploader_id: "buy_alice".into(),
        sha256: format!("{content:02x}").repeat(32),
        kind: EvidenceKind::Png,
        size,
        file_name: format!("{id}.png"),
        created_at: 1_800_000_000_000 + i64::from(content),
    }
}

fn limits(files: u64, bytes: u64) -> EvidenceLimits {
    EvidenceLimits {
        max_dispute_files: files,
        max_dispute_bytes: bytes,
        ..EvidenceLimits::default()
    }
}

#[tokio::test]
async fn files_are_stored_listed_and_counted_per_dispute() {
    for db in TestDb::all("files_are_stored_listed_and_counted_per_dispute").await {
        let b = db.backend();
        let store = db.store().await.unwrap();
        let wide = limits(20, 1_000);
        let a = file("file_a", "dsp_1", 1, 100);
        let mut c = file("file_c", "dsp_1", 3, 50);
        c.uploader_role = EvidenceRole::Seller;
        c.uploader_id = "sel_bob".into();
        c.kind = EvidenceKind::Mp4;
        let other = file("file_o", "dsp_2", 2, 70);
        for f in [&a, &c, &other] {
            assert_eq!(
                store.insert_evidence(f, &wide).await.unwrap(),
                EvidenceInsert::Created,
                "{b}"
            );
        }
        assert_eq!(
            store.evidence_file(false, "file_c").await.unwrap(),
            Some(c.clone())
        );
        assert_eq!(
            store.evidence_file(true, "file_c").await.unwrap(),
            None,
            "{b}: another mode's file is not found"
        );
        assert_eq!(store.evidence_file(false, "file_x").await.unwrap(), None);
        assert_eq!(
            store.list_evidence(false, "dsp_1").await.unwrap(),
            vec![a.clone(), c.clone()],
            "{b}"
        );
        assert!(store.list_evidence(true, "dsp_1").await.unwrap().is_empty());
        assert_eq!(
            store.evidence_usage("dsp_1").await.unwrap(),
            EvidenceUsage {
                files: 2,
                bytes: 150
            },
            "{b}"
        );
        assert_eq!(
            store.evidence_usage("dsp_none").await.unwrap(),
            EvidenceUsage::default()
        );

        // the same content from the same uploader again: the first file, nothing new
        let again = EvidenceRow {
            id: "file_a2".into(),
            file_name: "renamed.png".into(),
            ..a.clone()
        };
        assert_eq!(
            store.insert_evidence(&again, &wide).await.unwrap(),
            EvidenceInsert::Exists(a.clone()),
            "{b}"
        );
        // …from the other party it is a file of its own
        let seller_copy = EvidenceRow {
            id: "file_a3".into(),
            uploader_role: EvidenceRole::Seller,
            uploader_id: "sel_bob".into(),
            ..a.clone()
        };
        assert_eq!(
            store.insert_evidence(&seller_copy, &wide).await.unwrap(),
            EvidenceInsert::Created
        );
        assert_eq!(store.evidence_usage("dsp_1").await.unwrap().files, 3, "{b}");
    }
}

#[tokio::test]
async fn a_file_past_the_disputes_limits_is_refused_and_nothing_is_written() {
    for db in TestDb::all("a_file_past_the_disputes_limits_is_refused_and_nothing_is_written").await
    {
        let b = db.backend();
        let store = db.store().await.unwrap();
        let tight = limits(2, 300);
        assert_eq!(
            store
                .insert_evidence(&file("file_1", "dsp_1", 1, 200), &tight)
                .await
                .unwrap(),
            EvidenceInsert::Created
        );
        let before = store.list_evidence(false, "dsp_1").await.unwrap();
        // over the bytes
        assert_eq!(
            store
                .insert_evidence(&file("file_2", "dsp_1", 2, 101), &tight)
                .await
                .unwrap(),
            EvidenceInsert::LimitReached(EvidenceUsage {
                files: 1,
                bytes: 200
            }),
            "{b}"
        );
        assert_eq!(store.list_evidence(false, "dsp_1").await.unwrap(), before);
        assert_eq!(store.evidence_file(false, "file_2").await.unwrap(), None);
        // exactly at the bytes, then over the count
        assert_eq!(
            store
                .insert_evidence(&file("file_3", "dsp_1", 3, 100), &tight)
                .await
                .unwrap(),
            EvidenceInsert::Created
        );
        assert!(matches!(
            store
                .insert_evidence(&file("file_4", "dsp_1", 4, 1), &limits(2, 10_000))
                .await
                .unwrap(),
            EvidenceInsert::LimitReached(EvidenceUsage { files: 2, .. })
        ));
        assert_eq!(store.evidence_usage("dsp_1").await.unwrap().bytes, 300);
    }
}

/// Twenty uploads to one dispute at once, each alone within the limits, the dispute room for
/// five: exactly five are stored, whichever they are.
#[tokio::test]
async fn racing_uploads_never_pass_the_disputes_limits() {
    for db in TestDb::all("racing_uploads_never_pass_the_disputes_limits").await {
        let b = db.backend();
        let store = db.store().await.unwrap();
        let tight = limits(20, 500);
        let tasks: Vec<_> = (0..20u8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .insert_evidence(&file(&format!("file_{i}"), "dsp_1", i, 100), &tight)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut created = 0;
        for t in tasks {
            if t.await.unwrap() == EvidenceInsert::Created {
                created += 1;
            }
        }
        assert_eq!(created, 5, "{b}");
        assert_eq!(
            store.evidence_usage("dsp_1").await.unwrap(),
            EvidenceUsage {
                files: 5,
                bytes: 500
            },
            "{b}"
        );
    }
}
