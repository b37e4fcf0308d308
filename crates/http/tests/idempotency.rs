//! Idempotency keys by meaning and across nodes, end to end: real servers on port 0 over one
//! store, a clock the tests move, against SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set)
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use holdback_app::{Policy, idempotency, keys};
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, HOUR, Node, Server, VISA};

/// Two nodes (each its own app and group-commit writer) over one database: the server's and
/// another.
struct Env {
    server: Server,
    other: Node,
}

impl std::ops::Deref for Env {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

async fn start(db: &TestDb) -> Env {
    let server = Server::start(db).await;
    let app = common::app_on(
        server.app.store.clone(),
        &server.clock,
        Policy::default(),
        None,
    );
    let other = common::serve(&app).await;
    Env { server, other }
}

impl Env {
    async fn post(&self, node: usize, path: &str, key: &str, idem: &str, body: &str) -> Answer {
        let base = [&self.server.base, &self.other.base][node];
        common::send(&self.http, base, "POST", path, key, Some(idem), Some(body)).await
    }

    async fn payments(&self) -> Vec<Value> {
        let page = self.get("/v1/payments?limit=100", &self.platform).await;
        page.body["data"].as_array().unwrap().clone()
    }
}

fn cart(amount: i64) -> Value {
    json!({
        "buyer": "buy_alice",
        "currency": "usd",
        "items": [
            {"seller": "sel_bob", "description": "tea set", "unit_amount": amount, "quantity": 2}
        ],
        "card": {"number": VISA, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    })
}

/// The same cart, its keys in reverse order at every level and pretty-printed.
fn reordered(value: &Value) -> String {
    fn reverse(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<_> = m.iter().collect();
                entries.sort_by(|a, b| b.0.cmp(a.0));
                let inner: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| format!("\n    {}  :  {}", json!(k), reverse(v)))
                    .collect();
                format!("{{{}\n}}", inner.join(" ,"))
            }
            Value::Array(items) => {
                let inner: Vec<String> = items.iter().map(reverse).collect();
                format!("[ {} ]", inner.join(",\n "))
            }
            other => other.to_string(),
        }
    }
    reverse(value)
}

#[tokio::test]
async fn the_same_json_in_another_form_replays_and_a_rejection_is_replayed() {
    for db in TestDb::all("idem_same_json_in_another_form_replays").await {
        let e = start(&db).await;
        let b = db.backend();
        let body = cart(2500);
        let first = e
            .post(0, "/v1/checkouts", &e.platform, "k1", &body.to_string())
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{b}: {}", first.body);
        let text = reordered(&body);
        assert_ne!(text, body.to_string());
        // re-indented, keys reordered, on the other node: the first response, replayed
        let again = e.post(1, "/v1/checkouts", &e.platform, "k1", &text).await;
        assert_eq!(
            (again.status, again.replayed),
            (StatusCode::CREATED, true),
            "{b}: {}",
            again.body
        );
        assert_eq!(again.body, first.body, "{b}");
        // a different value under the same key
        let other = e
            .post(
                0,
                "/v1/checkouts",
                &e.platform,
                "k1",
                &cart(2501).to_string(),
            )
            .await;
        assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(other.body["error"]["code"], "idempotency_key_reused", "{b}");
        assert_eq!(e.payments().await.len(), 1, "{b}");

        // a rejection (4xx) is the key's answer: replayed (its body, request id and all), not
        // decided again
        let order = first.body["orders"][0]["id"].as_str().unwrap().to_string();
        let confirm = format!("/v1/orders/{order}/confirm_receipt");
        let refused = e.post(0, &confirm, &e.alice, "confirm-1", "{}").await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "{b}: {}",
            refused.body
        );
        assert_eq!(refused.body["error"]["code"], "order_not_delivered", "{b}");
        assert!(!refused.replayed, "{b}");
        let ship = json!({"carrier": "dhl", "tracking_number": "JD01"}).to_string();
        let shipped = e
            .post(
                1,
                &format!("/v1/orders/{order}/ship"),
                &e.bob,
                "ship-1",
                &ship,
            )
            .await;
        assert_eq!(shipped.status, StatusCode::OK, "{b}: {}", shipped.body);
        let replay = e.post(1, &confirm, &e.alice, "confirm-1", "{ }").await;
        assert_eq!(
            (replay.status, replay.replayed),
            (StatusCode::CONFLICT, true),
            "{b}: {}",
            replay.body
        );
        assert_eq!(replay.body, refused.body, "{b}: same status and body");
        // a new key runs it again: decided anew, under its own request id
        let fresh = e.post(0, &confirm, &e.alice, "confirm-2", "{}").await;
        assert_eq!(
            (fresh.status, fresh.replayed),
            (StatusCode::CONFLICT, false),
            "{b}: {}",
            fresh.body
        );
        assert_ne!(
            fresh.body["error"]["request_id"], refused.body["error"]["request_id"],
            "{b}"
        );
    }
}

#[tokio::test]
async fn one_key_used_100_times_at_once_across_two_nodes_pays_once() {
    for db in TestDb::all("idem_one_key_across_two_nodes").await {
        let e = Arc::new(start(&db).await);
        let b = db.backend();
        let body = cart(3000).to_string();
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (e, body) = (e.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                e.post(i % 2, "/v1/checkouts", &e.platform, "burst", &body)
                    .await
            }));
        }
        let (mut fresh, mut replays, mut in_use) = (0, 0, 0);
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            let a = t.await.unwrap();
            match (a.status, a.replayed) {
                (StatusCode::CREATED, replayed) => {
                    ids.insert(a.body["id"].as_str().unwrap().to_string());
                    if replayed { replays += 1 } else { fresh += 1 }
                }
                (StatusCode::CONFLICT, false) => {
                    assert_eq!(
                        a.body["error"]["code"], "idempotency_key_in_use",
                        "{b}: {}",
                        a.body
                    );
                    in_use += 1;
                }
                (status, _) => panic!("{b}: {status} {}", a.body),
            }
        }
        // PostgreSQL: the claim in the database lets one request run. SQLite: claims are each
        // process's own, so each node may run one; the effect is still one (below).
        let most = if b == "postgres" { 1 } else { 2 };
        assert!(
            (1..=most).contains(&fresh),
            "{b}: {fresh} requests ran ({replays} replays, {in_use} in use)"
        );
        assert_eq!(ids.len(), 1, "{b}: {ids:?}");
        let payments = e.payments().await;
        assert_eq!(payments.len(), 1, "{b}: one payment");
        assert_eq!(
            payments[0]["orders"].as_array().map(Vec::len),
            Some(1),
            "{b}"
        );
        // a final retry, on either node, replays
        for n in 0..2 {
            let last = e
                .post(n, "/v1/checkouts", &e.platform, "burst", &body)
                .await;
            assert_eq!(
                (last.status, last.replayed),
                (StatusCode::CREATED, true),
                "{b}: {}",
                last.body
            );
            assert!(ids.contains(last.body["id"].as_str().unwrap()), "{b}");
        }
        assert!(
            e.app.store.audit().await.unwrap().breaches.is_empty(),
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_claim_left_by_a_dead_node_blocks_until_its_lease_ends() {
    for db in TestDb::all("idem_claim_left_behind").await {
        let b = db.backend();
        if b == "sqlite" {
            // on SQLite a claim is its process's own: it cannot outlive the process
            eprintln!("SKIPPED on SQLite: idem_claim_left_behind (claims are per process)");
            continue;
        }
        let e = start(&db).await;
        let body = cart(4100).to_string();
        // a node claimed the key for this very request, and died before finishing it
        let caller = keys::authenticate(&e.app, &e.platform).await.unwrap();
        let hash = holdback_http::request_fingerprint("POST", "/v1/checkouts", body.as_bytes());
        let begun = idempotency::begin(&e.app, &caller, "left".into(), hash)
            .await
            .unwrap();
        assert!(
            matches!(begun, idempotency::Begun::Run(_)),
            "{b}: {begun:?}"
        );
        for n in 0..2 {
            let blocked = e.post(n, "/v1/checkouts", &e.platform, "left", &body).await;
            assert_eq!(
                blocked.status,
                StatusCode::CONFLICT,
                "{b}: {}",
                blocked.body
            );
            assert_eq!(
                blocked.body["error"]["code"], "idempotency_key_in_use",
                "{b}"
            );
        }
        assert!(e.payments().await.is_empty(), "{b}");
        // past the lease, a retry takes the key over and completes
        e.clock.advance_ms(idempotency::lease_ms(&e.app) + 1);
        let done = e.post(1, "/v1/checkouts", &e.platform, "left", &body).await;
        assert_eq!(
            (done.status, done.replayed),
            (StatusCode::CREATED, false),
            "{b}: {}",
            done.body
        );
        let again = e.post(0, "/v1/checkouts", &e.platform, "left", &body).await;
        assert_eq!(
            (again.status, again.replayed),
            (StatusCode::CREATED, true),
            "{b}"
        );
        assert_eq!(again.body, done.body, "{b}");
        // the dead node's late write cannot replace the response: its claim was taken over
        if let idempotency::Begun::Run(stale) = begun {
            idempotency::finish(&e.app, &stale, 201, &json!({"id": "pay_stale"}))
                .await
                .unwrap();
            let kept = e.post(0, "/v1/checkouts", &e.platform, "left", &body).await;
            assert_eq!(kept.body, done.body, "{b}");
        }
        assert_eq!(e.payments().await.len(), 1, "{b}");
    }
}

#[tokio::test]
async fn keys_are_purged_after_a_day_but_not_a_processing_checkouts() {
    for db in TestDb::all("idem_purge").await {
        let e = start(&db).await;
        let b = db.backend();
        let store = &e.app.store;
        let kid = keys::authenticate(&e.app, &e.platform)
            .await
            .unwrap()
            .key_id;
        let ns = format!("checkout:{kid}");
        let old = e
            .post(
                0,
                "/v1/checkouts",
                &e.platform,
                "old",
                &cart(1000).to_string(),
            )
            .await;
        let stuck = e
            .post(
                0,
                "/v1/checkouts",
                &e.platform,
                "stuck",
                &cart(1100).to_string(),
            )
            .await;
        assert_eq!(
            (old.status, stuck.status),
            (StatusCode::CREATED, StatusCode::CREATED)
        );
        // as if its charge's outcome were still unknown
        let stuck_id = stuck.body["id"].as_str().unwrap();
        store
            .execute_raw(&format!(
                "UPDATE payments SET status = 'processing' WHERE id = '{stuck_id}'"
            ))
            .await
            .unwrap();
        e.clock.advance_ms(25 * HOUR);
        let recent = e
            .post(
                1,
                "/v1/checkouts",
                &e.platform,
                "recent",
                &cart(1200).to_string(),
            )
            .await;
        assert_eq!(recent.status, StatusCode::CREATED, "{b}");
        let exists = async |principal: &str, key: &str| {
            store.idempotency(principal, key).await.unwrap().is_some()
        };
        for k in ["old", "stuck", "recent"] {
            assert!(exists(&kid, k).await, "{b}: {k}");
            assert!(exists(&ns, &format!("key:{k}")).await, "{b}: {k}");
        }
        // bounded: one pass deletes at most its batch
        let one = idempotency::purge(&e.app, 1).await.unwrap();
        assert_eq!(one.keys, 1, "{b}");
        let rest = idempotency::purge(&e.app, 100).await.unwrap();
        assert_eq!(
            rest.keys, 2,
            "{b}: old's two records and stuck's API key record"
        );
        assert_eq!(
            idempotency::purge(&e.app, 100).await.unwrap().keys,
            0,
            "{b}"
        );
        assert!(!exists(&kid, "old").await, "{b}");
        assert!(!exists(&ns, "key:old").await, "{b}");
        assert!(!exists(&kid, "stuck").await, "{b}");
        assert!(
            exists(&ns, "key:stuck").await,
            "{b}: its payment is still processing"
        );
        assert!(exists(&kid, "recent").await, "{b}");
        assert!(exists(&ns, "key:recent").await, "{b}");
    }
}
