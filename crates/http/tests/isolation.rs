//! One bad request never fails the others written in the same group commit: the real server on
//! port 0, on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL, takes 200
//! requests at once, one of which carries a NUL byte meant for a row. The API refuses it by name
//! before it reaches the writer (a control character in `carrier`); the writer's own isolation
//! of a unit the database refuses is shown by `crates/store/tests/isolation.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::Server;

/// Requests sent at once: half ships, half checkouts.
const REQUESTS: usize = 200;

/// Alice buys from Bob and Carol; `n` makes each purchase different (the same content twice
/// would be taken as a retry).
fn cart(n: usize) -> Value {
    json!({
        "buyer": "buy_alice",
        "currency": "usd",
        "items": [
            {"seller": "sel_bob", "description": format!("tea set #{n}"), "unit_amount": 2500,
             "quantity": 1},
            {"seller": "sel_carol", "description": "scarf", "unit_amount": 1999, "quantity": 1}
        ],
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    })
}

/// One POST; the status and the JSON body.
async fn post(
    http: reqwest::Client,
    url: String,
    key: String,
    body: String,
) -> (StatusCode, Value) {
    let res = http
        .post(url)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

impl Server {
    fn spawn_send(
        &self,
        path: &str,
        key: &str,
        body: String,
    ) -> tokio::task::JoinHandle<(StatusCode, Value)> {
        tokio::spawn(post(
            self.http.clone(),
            format!("{}{path}", self.base),
            key.to_string(),
            body,
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_nul_byte_fails_only_its_own_request_among_200() {
    for db in TestDb::all("one_nul_byte_fails_only_its_own_request").await {
        let b = db.backend();
        let s = Server::start(&db).await;
        // orders to ship: each checkout opens one for Bob and one for Carol
        let mut orders = Vec::new();
        for n in 0..REQUESTS / 4 {
            let (status, paid) = s
                .spawn_send("/v1/checkouts", &s.platform, cart(n).to_string())
                .await
                .unwrap();
            assert_eq!(status, StatusCode::CREATED, "{b}: {paid}");
            for o in paid["orders"].as_array().unwrap() {
                let seller = if o["seller"] == "sel_bob" {
                    &s.bob
                } else {
                    &s.carol
                };
                orders.push((o["id"].as_str().unwrap().to_string(), seller.clone()));
            }
        }
        assert_eq!(orders.len(), REQUESTS / 2, "{b}");
        let bad = orders.len() / 3;
        let mut requests = Vec::new();
        for (i, (order, seller)) in orders.iter().enumerate() {
            let carrier = if i == bad { "dh\u{0}l" } else { "dhl" };
            let body = json!({"carrier": carrier, "tracking_number": format!("JD{i}")});
            requests.push(s.spawn_send(
                &format!("/v1/orders/{order}/ship"),
                seller,
                body.to_string(),
            ));
            // a checkout between every two ships, so that the batches mix both
            requests.push(s.spawn_send(
                "/v1/checkouts",
                &s.platform,
                cart(REQUESTS + i).to_string(),
            ));
        }
        assert_eq!(requests.len(), REQUESTS, "{b}");
        let mut answers = Vec::new();
        for r in requests {
            answers.push(r.await.unwrap());
        }
        for (i, (status, body)) in answers.iter().enumerate() {
            if i == 2 * bad {
                assert_eq!(
                    (*status, body["error"]["code"].as_str()),
                    (StatusCode::BAD_REQUEST, Some("parameter_invalid")),
                    "{b}: {body}"
                );
                assert_eq!(body["error"]["param"], "carrier", "{b}: {body}");
            } else if i % 2 == 0 {
                assert_eq!(status.as_u16(), 200, "{b}: ship {i}: {body}");
                assert_eq!(body["status"], "shipped", "{b}: {body}");
            } else {
                assert_eq!(status.as_u16(), 201, "{b}: checkout {i}: {body}");
            }
        }
        // the refused ship left its order paid; the others shipped
        for (i, (order, _)) in orders.iter().enumerate() {
            let (stored, _) = s.app.store.order(order).await.unwrap().unwrap();
            let want = if i == bad { "paid" } else { "shipped" };
            assert_eq!(stored.status().code(), want, "{b}: {order}");
        }
        let report = s.app.store.audit().await.unwrap();
        assert!(report.is_clean(), "{b}: {:?}", report.breaches);
        let business = s.app.store.business_audit().await.unwrap();
        assert!(business.is_empty(), "{b}: {business:?}");
    }
}
