//! `holdback messages verify`, run as a process: a clean database verifies with exit 0; an
//! order message edited in the database behind the API's back is named by order and seq, and
//! the command exits 1. On SQLite, and on PostgreSQL when `HOLDBACK_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::process::{Command, Output};
use std::sync::Arc;

use holdback_app::ids::UuidIds;
use holdback_app::{App, Policy, Role, keys, parties};
use holdback_domain::party::{PartyInput, PartyKind};
use holdback_store::clock::SystemClock;
use holdback_store::testing::TestDb;
use serde_json::{Value, json};

fn verify(db: &str) -> (bool, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", db, "messages", "verify"])
        .output()
        .expect("run holdback");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Serves the API on port 0 for `db`; returns the base URL and a platform key.
async fn serve(db: &TestDb) -> (String, String) {
    let store = db.store().await.unwrap();
    let clock = Arc::new(SystemClock);
    let app = App::new(
        store,
        clock.clone(),
        Arc::new(UuidIds),
        Policy::default(),
        App::stateless_cards(clock),
    );
    for (kind, id) in [
        (PartyKind::Buyer, "buy_alice"),
        (PartyKind::Seller, "sel_bob"),
    ] {
        let input = PartyInput {
            id: id.into(),
            country: "DE".into(),
            ..PartyInput::default()
        };
        parties::ensure(&app, kind, input, false).await.unwrap();
    }
    let key = keys::create(&app, &Role::Platform, false).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(holdback_http::serve(listener, app, std::future::pending()));
    (base, key)
}

async fn post(base: &str, key: &str, path: &str, body: Value) -> Value {
    let res = holdback_app::webhooks::http_client()
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

/// An order of Alice's from Bob with three messages; its id.
async fn conversation(base: &str, key: &str, n: usize) -> String {
    let cart = json!({
        "buyer": "buy_alice",
        "currency": "usd",
        "items": [{"seller": "sel_bob", "description": format!("lamp {n}"), "unit_amount": 1500,
                   "quantity": 1}],
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    });
    let order = post(base, key, "/v1/checkouts", cart).await["orders"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for body in ["one", "two", "three"] {
        post(
            base,
            key,
            &format!("/v1/orders/{order}/messages"),
            json!({"body": body}),
        )
        .await;
    }
    order
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_a_clean_record_and_names_a_tampered_message() {
    for db in TestDb::all("messages_verify_cli").await {
        let b = db.backend();
        let (base, key) = serve(&db).await;
        let (ok, text) = verify(&db.url);
        assert!(ok, "{b}: {text}");
        assert!(
            text.contains("0 order(s), 0 message(s) checked, 0 break(s)"),
            "{b}: {text}"
        );

        let kept = conversation(&base, &key, 1).await;
        let edited = conversation(&base, &key, 2).await;
        let (ok, text) = verify(&db.url);
        assert!(ok, "{b}: {text}");
        assert!(
            text.contains("2 order(s), 6 message(s) checked, 0 break(s)"),
            "{b}: {text}"
        );

        // the table refuses edits; someone with the database's keys turns that off first
        let store = db.store().await.unwrap();
        let update = format!(
            "UPDATE order_messages SET body = 'I never said that' \
             WHERE order_id = '{edited}' AND seq = 2"
        );
        assert!(
            store.execute_raw(&update).await.is_err(),
            "{b}: an edit went through"
        );
        let unguard = match b {
            "postgres" => "ALTER TABLE order_messages DISABLE TRIGGER order_messages_no_update",
            _ => "DROP TRIGGER order_messages_no_update",
        };
        store.execute_raw(unguard).await.unwrap();
        assert_eq!(store.execute_raw(&update).await.unwrap(), 1, "{b}");

        let (ok, text) = verify(&db.url);
        assert!(!ok, "{b}: {text}");
        assert!(
            text.contains(&format!(
                "break: order {edited} seq 2: hash does not match the message's content"
            )),
            "{b}: {text}"
        );
        assert!(!text.contains(&kept), "{b}: {text}");
        assert!(
            text.contains("2 order(s), 6 message(s) checked, 1 break(s)"),
            "{b}: {text}"
        );
    }
}
