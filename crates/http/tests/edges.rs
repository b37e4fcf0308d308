//! The rules the OpenAPI document states, held at the edge: each refused by name before anything
//! is written, and what the document allows accepted. These are the cases an outside fuzzer
//! (schemathesis, in `.ci/fuzz`) found; each stays here as a regression test. SQLite and (when
//! `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, Server, VISA, cart};

/// Everything a refused request could have changed: the store's head, and the lists of orders,
/// buyers, refunds and webhook endpoints.
async fn state(s: &Server) -> (String, Vec<Value>) {
    let mut lists = Vec::new();
    for path in [
        "/v1/orders?limit=100",
        "/v1/buyers?limit=100",
        "/v1/refunds?limit=100",
        "/v1/webhook_endpoints",
    ] {
        lists.push(s.get(path, &s.platform).await.body);
    }
    (format!("{:?}", s.app.store.head().await.unwrap()), lists)
}

fn refused(a: &Answer, status: StatusCode, code: &str, param: Option<&str>, what: &str) {
    assert_eq!(a.status, status, "{what}: {}", a.body);
    assert_eq!(a.body["error"]["code"], code, "{what}: {}", a.body);
    if let Some(p) = param {
        assert_eq!(a.body["error"]["param"], p, "{what}: {}", a.body);
    }
}

#[tokio::test]
async fn what_the_document_forbids_is_refused_and_what_it_allows_is_taken() {
    for db in TestDb::all("what_the_document_forbids_is_refused_and_what_it_allows_is_taken").await
    {
        let s = Server::start(&db).await;
        let b = s.backend;
        let paid = s.post("/v1/checkouts", &s.platform, cart(VISA)).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{b}: {}", paid.body);
        let order = paid.body["orders"][0]["id"].as_str().unwrap().to_string();
        let act = |action: &str| format!("/v1/orders/{order}/{action}");

        let before = state(&s).await;
        let cases: Vec<(Answer, StatusCode, &str, Option<&str>, &str)> = vec![
            (
                s.send(
                    "POST",
                    &act("request_cancel"),
                    &s.alice,
                    Some("a b"),
                    Some("{}"),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
                Some("Idempotency-Key"),
                "an Idempotency-Key with a space",
            ),
            (
                s.send("POST", &act("request_cancel"), &s.alice, None, Some("[]"))
                    .await,
                StatusCode::BAD_REQUEST,
                "invalid_json",
                None,
                "a body that is an array, not an object",
            ),
            (
                s.post(
                    &act("refund"),
                    &s.platform,
                    json!({"amount": 100, "currency": "USD"}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "unknown_currency",
                Some("currency"),
                "an upper-case currency code",
            ),
            (
                s.post(
                    "/v1/buyers",
                    &s.platform,
                    json!({"id": "buy_x", "country": "DE", "region": "Ber\u{7}lin"}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
                Some("region"),
                "a control character in a region",
            ),
            (
                s.post(
                    "/v1/buyers",
                    &s.platform,
                    json!({"id": "buy_x", "country": "DE", "metadata": {"k": "v\u{0}"}}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
                Some("metadata"),
                "a NUL in a metadata value",
            ),
            (
                s.post(
                    "/v1/webhook_endpoints",
                    &s.platform,
                    json!({"url": "http://["}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
                Some("url"),
                "a URL that does not parse",
            ),
            (
                s.get("/v1/refunds?status=pending", &s.platform).await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
                Some("status"),
                "a refund status filter other than failed",
            ),
            (
                s.post("/v1/checkouts", &s.platform, {
                    let mut c = cart(VISA);
                    c["buyer"] = json!("buy.alice");
                    c
                })
                .await,
                StatusCode::BAD_REQUEST,
                "invalid_party_id",
                Some("buyer"),
                "a buyer id with a dot",
            ),
            (
                s.post("/v1/checkouts", &s.platform, {
                    let mut c = cart(VISA);
                    c["items"][1]["seller"] = json!("sel_nobody");
                    c
                })
                .await,
                StatusCode::BAD_REQUEST,
                "unknown_party",
                Some("items"),
                "a seller that does not exist",
            ),
            (
                s.post("/v1/checkouts", &s.platform, {
                    let mut c = cart(VISA);
                    c["buyer"] = json!("buy_nobody");
                    c
                })
                .await,
                StatusCode::BAD_REQUEST,
                "unknown_party",
                Some("buyer"),
                "a buyer that does not exist",
            ),
        ];
        for (answer, status, code, param, what) in &cases {
            refused(answer, *status, code, *param, &format!("{b}: {what}"));
        }
        assert_eq!(
            state(&s).await,
            before,
            "{b}: the refusals changed something"
        );

        // what the document allows is taken: an action without a body, and a whole number
        // written as 100.0
        let cancel = s
            .send("POST", &act("request_cancel"), &s.alice, None, None)
            .await;
        assert_eq!(cancel.status, StatusCode::OK, "{b}: {}", cancel.body);
        assert!(
            cancel.body["cancel_requested"].is_i64(),
            "{b}: {}",
            cancel.body
        );
        let refund = s
            .send(
                "POST",
                &act("refund"),
                &s.platform,
                None,
                Some(r#"{"amount": 100.0, "currency": "usd"}"#),
            )
            .await;
        assert_eq!(refund.status, StatusCode::OK, "{b}: {}", refund.body);
        assert_eq!(refund.body["amount_refunded"], 100, "{b}: {}", refund.body);
        s.audit_clean().await;
    }
}
