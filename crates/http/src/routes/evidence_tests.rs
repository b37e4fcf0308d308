//! The multipart reader and the download answer on their own, then both handlers mounted on a
//! router built here (the public routes come with the disputes) with a stub of the dispute's
//! access rule, served on port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use holdback_app::evidence::{DisputeParties, Purpose, Standing};
use holdback_app::files::LocalFiles;
use holdback_app::{App, AppError, Policy, Principal, Role, keys, parties};
use holdback_domain::evidence::{EvidenceKind, EvidenceRole, samples};
use holdback_domain::party::{PartyInput, PartyKind};
use holdback_store::EvidenceRow;
use holdback_store::clock::ManualClock;
use holdback_store::testing::TestDb;
use serde_json::Value;

use super::*;
use crate::{Shared, metrics, reply};

const BOUNDARY: &str = "XyZ-boundary-42";

/// A multipart body of `(part name, file name, bytes)`.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match file_name {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(
            format!("Content-Disposition: {disposition}\r\nContent-Type: image/jpeg\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn form_data() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

fn request(content_type: &str, body: Vec<u8>) -> Request {
    axum::http::Request::builder()
        .method("POST")
        .uri("/v1/disputes/dsp_1/evidence")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn an_upload_is_one_file_part_within_the_limit() {
    let png = samples::png();
    let body = multipart(&[("file", Some("a photo.png"), &png)]);
    let upload = read_upload(request(&form_data(), body), 1_000)
        .await
        .unwrap();
    assert_eq!(upload.file_name, "a photo.png");
    assert_eq!(upload.bytes, png);

    let big = vec![0u8; 2_000];
    for (content_type, body, code, param) in [
        (
            "application/json".to_string(),
            b"{}".to_vec(),
            ErrorCode::UnsupportedMediaType,
            None,
        ),
        (
            "multipart/mixed; boundary=XyZ-boundary-42".into(),
            multipart(&[("file", Some("a.png"), &png)]),
            ErrorCode::UnsupportedMediaType,
            None,
        ),
        (
            "multipart/form-data".into(),
            multipart(&[("file", Some("a.png"), &png)]),
            ErrorCode::UnsupportedMediaType,
            None,
        ),
        (
            form_data(),
            multipart(&[]),
            ErrorCode::ParameterMissing,
            Some("file"),
        ),
        (
            form_data(),
            multipart(&[("note", None, b"hello")]),
            ErrorCode::UnknownParameter,
            Some("note"),
        ),
        (
            form_data(),
            multipart(&[("file", None, &png)]),
            ErrorCode::ParameterInvalid,
            Some("file"),
        ),
        (
            form_data(),
            multipart(&[("file", Some("a.png"), &png), ("file", Some("b.png"), &png)]),
            ErrorCode::ParameterInvalid,
            Some("file"),
        ),
        (
            form_data(),
            multipart(&[("file", Some("big.png"), &big)]),
            ErrorCode::EvidenceTooLarge,
            Some("file"),
        ),
        (
            form_data(),
            b"--XyZ-boundary-42\r\nnot a header\r\n".to_vec(),
            ErrorCode::ParameterInvalid,
            Some("file"),
        ),
    ] {
        let e = read_upload(request(&content_type, body), 1_000)
            .await
            .unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (code, param),
            "{content_type}: {e:?}"
        );
    }
}

fn opened(name: &str, kind: EvidenceKind, bytes: Vec<u8>) -> Opened {
    Opened {
        file: EvidenceRow {
            id: "file_1".into(),
            livemode: false,
            dispute_id: "dsp_1".into(),
            uploader_role: EvidenceRole::Buyer,
            uploader_id: "buy_alice".into(),
            sha256: "0".repeat(64),
            kind,
            size: bytes.len() as u64,
            file_name: name.into(),
            created_at: 0,
        },
        bytes,
    }
}

#[test]
fn a_download_is_an_attachment_of_its_sniffed_type_never_sniffed_again() {
    let r = attachment(opened(
        "Quittung für \"Bob\".pdf",
        EvidenceKind::Pdf,
        samples::pdf(),
    ));
    let h = r.headers();
    assert_eq!(h[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        h[header::CONTENT_DISPOSITION],
        "attachment; filename=\"Quittung f_r _Bob_.pdf\"; \
         filename*=UTF-8''Quittung%20f%C3%BCr%20%22Bob%22.pdf"
    );
    assert_eq!(
        h[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; sandbox"
    );
    let r = attachment(opened("clip.mp4", EvidenceKind::Mp4, samples::mp4()));
    assert_eq!(r.headers()[header::CONTENT_TYPE], "video/mp4");
}

/// The dispute `dsp_1` between buy_alice and sel_bob in test mode, and no other.
#[derive(Default)]
struct Stub;

impl DisputeAccess for Stub {
    async fn standing<'a>(
        &'a self,
        _app: &'a App,
        principal: &'a Principal,
        dispute_id: &'a str,
        _purpose: Purpose,
    ) -> Result<Option<Standing>, AppError> {
        let parties = DisputeParties {
            livemode: false,
            buyer: "buy_alice".into(),
            seller: "sel_bob".into(),
            mediator: None,
        };
        Ok((dispute_id == "dsp_1")
            .then(|| parties.standing(principal))
            .flatten())
    }
}

struct Node {
    base: String,
    keys: std::collections::HashMap<&'static str, String>,
    _files: Folder,
    _stop: tokio::sync::oneshot::Sender<()>,
}

struct Folder(std::path::PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn node(db: &TestDb) -> Node {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let mut policy = Policy::default();
    policy.evidence.max_file_bytes = 1_000;
    policy.evidence.max_video_bytes = 2_000;
    let mut app = App::new(
        db.store().await.unwrap(),
        clock.clone(),
        Arc::new(holdback_app::ids::UuidIds),
        policy,
        App::stateless_cards(clock),
    );
    let folder = Folder(std::env::temp_dir().join(format!(
        "holdback_http_evidence_{}",
        holdback_app::ids::random_hex()
    )));
    app.files = Arc::new(LocalFiles::new(&folder.0));
    let mut keys = std::collections::HashMap::new();
    for (name, kind, id) in [
        ("alice", Some(PartyKind::Buyer), "buy_alice"),
        ("dave", Some(PartyKind::Buyer), "buy_dave"),
        ("bob", Some(PartyKind::Seller), "sel_bob"),
        ("platform", None, "platform"),
    ] {
        let role = match kind {
            Some(kind) => {
                let input = PartyInput {
                    id: id.into(),
                    country: "DE".into(),
                    ..PartyInput::default()
                };
                parties::ensure(&app, kind, input, false).await.unwrap();
                if kind == PartyKind::Buyer {
                    Role::Buyer(id.into())
                } else {
                    Role::Seller(id.into())
                }
            }
            None => Role::Platform,
        };
        keys.insert(name, keys::create(&app, &role, false).await.unwrap());
    }
    let shared = Arc::new(Shared {
        app,
        metrics: metrics::Counters::default(),
    });
    // the one-line mounts the disputes will make
    let router = Router::new()
        .route("/v1/disputes/{id}/evidence", post(upload::<Stub>))
        .route("/v1/files/{id}", get(download::<Stub>))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            reply::request_id,
        ))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Node {
        base,
        keys,
        _files: folder,
        _stop: stop,
    }
}

impl Node {
    async fn upload(&self, who: &str, dispute: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
        let r = holdback_app::webhooks::http_client()
            .post(format!("{}/v1/disputes/{dispute}/evidence", self.base))
            .bearer_auth(&self.keys[who])
            .header("content-type", form_data())
            .body(multipart(&[("file", Some(name), bytes)]))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn download(&self, who: &str, id: &str) -> reqwest::Response {
        holdback_app::webhooks::http_client()
            .get(format!("{}/v1/files/{id}", self.base))
            .bearer_auth(&self.keys[who])
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn files_go_up_as_multipart_and_come_down_as_attachments_to_the_parties_only() {
    for db in TestDb::all("files_go_up_as_multipart_and_come_down_as_attachments").await {
        let b = db.backend();
        let n = node(&db).await;
        let (status, body) = n
            .upload("alice", "dsp_1", "photo.jpg", &samples::exe())
            .await;
        assert_eq!(status, 400, "{b}");
        assert_eq!(body["error"]["code"], "evidence_type_not_allowed");
        assert_eq!(body["error"]["param"], "file");
        let (status, body) = n.upload("alice", "dsp_1", "big.png", &[0u8; 40_000]).await;
        assert_eq!(status, 413, "{b}: past the largest file and its framing");
        assert_eq!(body["error"]["code"], "evidence_too_large");
        let (status, body) = n.upload("dave", "dsp_1", "x.png", &samples::png()).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &"resource_missing".into())
        );

        let (status, file) = n
            .upload("alice", "dsp_1", "parcel.png", &samples::png())
            .await;
        assert_eq!(status, 201, "{b}: {file}");
        assert_eq!(file["object"], "file");
        assert_eq!(file["kind"], "png");
        assert_eq!(file["uploaded_by"]["role"], "buyer");
        let id = file["id"].as_str().unwrap();
        let (status, again) = n
            .upload("alice", "dsp_1", "parcel.png", &samples::png())
            .await;
        assert_eq!(
            (status, &again),
            (200, &file),
            "{b}: a retry answers the same file"
        );

        for who in ["alice", "bob", "platform"] {
            let r = n.download(who, id).await;
            assert_eq!(r.status().as_u16(), 200, "{b} {who}");
            let h = r.headers();
            assert_eq!(h["content-type"], "image/png");
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert!(
                h["content-disposition"]
                    .to_str()
                    .unwrap()
                    .starts_with("attachment; filename=\"parcel.png\"")
            );
            assert_eq!(r.bytes().await.unwrap().to_vec(), samples::png());
        }
        for (who, id) in [("dave", id), ("alice", "file_missing")] {
            let r = n.download(who, id).await;
            assert_eq!(r.status().as_u16(), 404, "{b} {who}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "resource_missing");
        }
    }
}
