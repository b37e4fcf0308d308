//! Evidence through the use cases, on SQLite and (when configured) PostgreSQL, with files in a
//! folder of the test's own and a stub of the dispute's access rule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use holdback_domain::evidence::samples;
use holdback_domain::evidence::{EvidenceKind, EvidenceLimits, EvidenceUsage};
use holdback_store::clock::ManualClock;
use holdback_store::testing::TestDb;

use super::*;
use crate::Policy;
use crate::files::LocalFiles;
use crate::files::tests::{TempFolder, files_under};
use crate::ids::SequentialIds;

const T0: i64 = 1_800_000_000_000;

fn principal(role: Role, livemode: bool) -> Principal {
    Principal {
        key_id: "key_1".into(),
        role,
        livemode,
    }
}

fn buyer(id: &str) -> Principal {
    principal(Role::Buyer(id.into()), false)
}

fn seller(id: &str) -> Principal {
    principal(Role::Seller(id.into()), false)
}

/// An app whose files go to `folder`, with the dispute `dsp_1` between buy_alice and sel_bob
/// (test mode) and `limits`.
async fn setup(db: &TestDb, folder: &TempFolder, limits: EvidenceLimits) -> (App, KnownDisputes) {
    let store = db.store().await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let policy = Policy {
        evidence: limits,
        ..Policy::default()
    };
    let mut app = App::new(
        store,
        clock.clone(),
        Arc::new(SequentialIds::default()),
        policy,
        App::stateless_cards(clock),
    );
    app.files = Arc::new(LocalFiles::new(&folder.0));
    let disputes = HashMap::from([(
        "dsp_1".to_string(),
        DisputeParties {
            livemode: false,
            buyer: "buy_alice".into(),
            seller: "sel_bob".into(),
            mediator: None,
        },
    )]);
    (app, KnownDisputes(Arc::new(disputes)))
}

/// What is stored: the files in the folder and the dispute's records.
async fn stored(app: &App, folder: &TempFolder) -> (Vec<String>, Vec<EvidenceRow>, EvidenceUsage) {
    (
        files_under(&folder.0),
        app.store.list_evidence(false, "dsp_1").await.unwrap(),
        app.store.evidence_usage("dsp_1").await.unwrap(),
    )
}

fn code(e: AppError) -> ErrorCodeOrMissing {
    match e {
        AppError::Rejected { code, param, .. } => {
            assert_eq!(param, Some("file"));
            ErrorCodeOrMissing::Code(code.as_str())
        }
        AppError::NotFound => ErrorCodeOrMissing::Missing,
        other => panic!("unexpected {other:?}"),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum ErrorCodeOrMissing {
    Code(&'static str),
    Missing,
}
use ErrorCodeOrMissing::{Code, Missing};

#[tokio::test]
async fn an_executable_named_like_a_photo_is_refused_by_name_and_nothing_is_stored() {
    for db in TestDb::all("an_executable_named_like_a_photo_is_refused_by_name").await {
        let folder = TempFolder::new("evidence_exe");
        let (app, disputes) = setup(&db, &folder, EvidenceLimits::default()).await;
        let alice = buyer("buy_alice");
        add(&app, &disputes, &alice, "dsp_1", "a.png", samples::png())
            .await
            .unwrap();
        let before = stored(&app, &folder).await;
        for (name, bytes) in [
            ("photo.jpg", samples::exe()),
            ("photo.jpg", b"<html><script>x</script>".to_vec()),
            ("empty.pdf", Vec::new()),
        ] {
            let e = add(&app, &disputes, &alice, "dsp_1", name, bytes)
                .await
                .unwrap_err();
            assert_eq!(code(e), Code("evidence_type_not_allowed"), "{name}");
        }
        assert_eq!(stored(&app, &folder).await, before, "{}", db.backend());
    }
}

#[tokio::test]
async fn files_past_the_limits_are_refused_before_anything_is_stored() {
    for db in TestDb::all("files_past_the_limits_are_refused_before_anything_is_stored").await {
        let b = db.backend();
        let folder = TempFolder::new("evidence_limits");
        let limits = EvidenceLimits {
            max_file_bytes: 200,
            max_video_bytes: 400,
            max_dispute_bytes: 700,
            max_dispute_files: 3,
        };
        let (app, disputes) = setup(&db, &folder, limits).await;
        let alice = buyer("buy_alice");
        let padded = |mut b: Vec<u8>, size: usize, fill: u8| {
            b.resize(size, fill);
            b
        };
        // one image over its limit; a video of the same size is within its own
        let e = add(
            &app,
            &disputes,
            &alice,
            "dsp_1",
            "big.pdf",
            padded(samples::pdf(), 201, 1),
        )
        .await
        .unwrap_err();
        assert_eq!(code(e), Code("evidence_too_large"), "{b}");
        assert_eq!(stored(&app, &folder).await.0, Vec::<String>::new());
        let video = add(
            &app,
            &disputes,
            &alice,
            "v.mp4",
            "v.mp4",
            padded(samples::mp4(), 400, 2),
        )
        .await
        .unwrap_err();
        assert_eq!(code(video), Missing, "a dispute that does not exist");
        let video = add(
            &app,
            &disputes,
            &alice,
            "dsp_1",
            "v.mp4",
            padded(samples::mp4(), 400, 2),
        )
        .await
        .unwrap();
        assert_eq!(video.file.kind, EvidenceKind::Mp4);
        add(
            &app,
            &disputes,
            &alice,
            "dsp_1",
            "a.pdf",
            padded(samples::pdf(), 200, 3),
        )
        .await
        .unwrap();
        // 600 bytes in two files: 101 more passes the dispute's bytes
        let before = stored(&app, &folder).await;
        let e = add(
            &app,
            &disputes,
            &alice,
            "dsp_1",
            "b.pdf",
            padded(samples::pdf(), 101, 4),
        )
        .await
        .unwrap_err();
        assert_eq!(code(e), Code("evidence_limit_reached"), "{b}");
        assert_eq!(stored(&app, &folder).await, before, "{b}: nothing stored");
        // 100 fits, and then the count is reached
        add(
            &app,
            &disputes,
            &alice,
            "dsp_1",
            "c.pdf",
            padded(samples::pdf(), 100, 5),
        )
        .await
        .unwrap();
        let before = stored(&app, &folder).await;
        assert_eq!(
            before.2,
            EvidenceUsage {
                files: 3,
                bytes: 700
            }
        );
        let e = add(
            &app,
            &disputes,
            &seller("sel_bob"),
            "dsp_1",
            "d.png",
            samples::png(),
        )
        .await
        .unwrap_err();
        assert_eq!(code(e), Code("evidence_limit_reached"), "{b}");
        assert_eq!(stored(&app, &folder).await, before, "{b}: nothing stored");
        // a retry of a stored upload is still answered with its file
        let again = add(
            &app,
            &disputes,
            &alice,
            "dsp_1",
            "again.pdf",
            padded(samples::pdf(), 100, 5),
        )
        .await
        .unwrap();
        assert!(!again.created);
        assert_eq!(stored(&app, &folder).await, before);
    }
}

#[tokio::test]
async fn the_same_content_is_stored_once_and_served_to_the_disputes_parties_only() {
    for db in TestDb::all("the_same_content_is_stored_once_and_served_to_the_parties").await {
        let b = db.backend();
        let folder = TempFolder::new("evidence_once");
        let (app, disputes) = setup(&db, &folder, EvidenceLimits::default()).await;
        let alice = buyer("buy_alice");
        let bob = seller("sel_bob");
        let first = add(
            &app,
            &disputes,
            &alice,
            "dsp_1",
            "../x/Parcel\u{202E}.jpg",
            samples::jpeg(),
        )
        .await
        .unwrap();
        assert!(first.created);
        let f = &first.file;
        assert_eq!(
            (
                f.kind,
                f.size,
                f.file_name.as_str(),
                f.uploader_role,
                f.uploader_id.as_str()
            ),
            (
                EvidenceKind::Jpeg,
                samples::jpeg().len() as u64,
                "Parcel.jpg",
                EvidenceRole::Buyer,
                "buy_alice"
            ),
            "{b}"
        );
        assert!(f.id.starts_with("file_"));
        // the same bytes again from the buyer: the same file; from the seller: a file of its own
        let retry = add(
            &app,
            &disputes,
            &alice,
            "dsp_1",
            "other.jpg",
            samples::jpeg(),
        )
        .await
        .unwrap();
        assert_eq!(
            retry,
            Added {
                file: first.file.clone(),
                created: false
            }
        );
        let bobs = add(&app, &disputes, &bob, "dsp_1", "mine.jpg", samples::jpeg())
            .await
            .unwrap();
        assert!(bobs.created);
        assert_ne!(bobs.file.id, first.file.id);
        assert_eq!(bobs.file.sha256, first.file.sha256);
        let (on_disk, records, _) = stored(&app, &folder).await;
        assert_eq!(
            on_disk.len(),
            1,
            "{b}: one copy of the content: {on_disk:?}"
        );
        assert_eq!(records.len(), 2);

        for party in [&alice, &bob, &principal(Role::Platform, false)] {
            let opened = open(&app, &disputes, party, &first.file.id).await.unwrap();
            assert_eq!(opened.bytes, samples::jpeg());
            assert_eq!(opened.file, first.file);
            assert_eq!(
                list(&app, &disputes, party, "dsp_1").await.unwrap(),
                records
            );
        }
        // anyone else finds nothing, as if nothing were there
        let before = stored(&app, &folder).await;
        for stranger in [
            buyer("buy_dave"),
            seller("sel_carol"),
            principal(Role::Platform, true),
            principal(Role::Buyer("buy_alice".into()), true),
        ] {
            let e = open(&app, &disputes, &stranger, &first.file.id)
                .await
                .unwrap_err();
            assert_eq!(code(e), Missing, "{stranger:?}");
            let e = list(&app, &disputes, &stranger, "dsp_1").await.unwrap_err();
            assert_eq!(code(e), Missing, "{stranger:?}");
            let e = add(&app, &disputes, &stranger, "dsp_1", "x.png", samples::png())
                .await
                .unwrap_err();
            assert_eq!(code(e), Missing, "{stranger:?}");
        }
        for id in ["file_none", "", "../etc/passwd", &"f".repeat(65)] {
            let e = open(&app, &disputes, &alice, id).await.unwrap_err();
            assert_eq!(code(e), Missing, "{id:?}");
        }
        let e = add(&app, &disputes, &alice, "dsp/1", "x.png", samples::png())
            .await
            .unwrap_err();
        assert_eq!(code(e), Missing);
        assert_eq!(stored(&app, &folder).await, before, "{b}: nothing stored");

        let v = view(&first.file);
        assert_eq!(v["object"], "file");
        assert_eq!(v["type"], "image/jpeg");
        assert_eq!(v["url"], format!("/v1/files/{}", first.file.id));
        assert_eq!(v["created"], T0 / 1000);
    }
}

#[test]
fn a_mediator_stands_in_the_dispute_it_mediates_only() {
    let mut parties = DisputeParties {
        livemode: false,
        buyer: "buy_alice".into(),
        seller: "sel_bob".into(),
        mediator: None,
    };
    let erin = principal(Role::Mediator("med_erin".into()), false);
    // no mediator yet: a mediator's key is anyone
    assert_eq!(parties.standing(&erin), None);
    parties.mediator = Some("med_erin".into());
    assert_eq!(
        parties.standing(&erin),
        Some(Standing {
            role: EvidenceRole::Mediator,
            id: "med_erin".into()
        })
    );
    let frank = principal(Role::Mediator("med_frank".into()), false);
    assert_eq!(parties.standing(&frank), None);
    let live_erin = principal(Role::Mediator("med_erin".into()), true);
    assert_eq!(parties.standing(&live_erin), None);
    // a buyer or seller whose id is the mediator's is not the mediator
    let buyer_erin = buyer("med_erin");
    assert_eq!(parties.standing(&buyer_erin), None);
}
