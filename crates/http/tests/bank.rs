//! Bank transfer end to end through the real server, with the clock moved, on SQLite and (when
//! `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL: orders that wait for their money, the
//! bank's signed notifications (exact, short, over, duplicated, late, unknown, forged), and
//! expiry; the ledger and the business audit clean after each.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::{refunds, scheduler, webhooks};
use holdback_store::NotificationOutcome;
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, BANK_SECRET, DAY, Server, T0, cart};

/// Alice's cart (Bob 50.00, Carol 19.99) to be paid by bank transfer.
async fn checkout(s: &Server) -> Value {
    let mut body = cart(common::VISA);
    body.as_object_mut().unwrap().remove("card");
    body["bank_transfer"] = json!({});
    let a = s.post("/v1/checkouts", &s.platform, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.body
}

/// The bank's notification of `amount` cents for `reference`, signed at the server's time.
async fn notify(s: &Server, id: &str, reference: &str, amount: i64, currency: &str) -> Answer {
    let body = json!({"id": id, "reference": reference, "amount": amount, "currency": currency})
        .to_string();
    signed(s, &body, BANK_SECRET, 0).await
}

async fn signed(s: &Server, body: &str, secret: &str, skew_s: i64) -> Answer {
    use holdback_store::clock::Clock as _;
    let t = s.clock.now_ms() / 1000 + skew_s;
    let res = s
        .http
        .post(format!("{}/v1/connectors/bank/notifications", s.base))
        .header("holdback-signature", webhooks::signature(secret, t, body))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Answer::of(res).await
}

async fn payment(s: &Server, id: &str) -> Value {
    s.get(&format!("/v1/payments/{id}"), &s.platform).await.body
}

fn statuses(p: &Value) -> Vec<String> {
    let mut v: Vec<String> = p["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn an_exact_transfer_pays_the_waiting_orders_once() {
    for db in TestDb::all("bank_exact").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let p = checkout(&s).await;
        let id = p["id"].as_str().unwrap().to_string();
        assert_eq!(p["status"], "requires_action", "{b}: {p}");
        assert_eq!(p["amount_due"], 6999);
        assert_eq!(p["expires"], (T0 + 3 * DAY) / 1000);
        let next = &p["next_action"];
        assert_eq!(
            (next["reference"].as_str(), next["amount"].as_i64()),
            (Some(id.as_str()), Some(6999)),
            "{b}: {p}"
        );
        assert!(next["account"]["iban"].is_string());
        assert_eq!(
            statuses(&p),
            ["awaiting_payment", "awaiting_payment"],
            "{b}"
        );
        // an order awaiting its payment cannot be shipped
        let order = p["orders"][0]["id"].as_str().unwrap().to_string();
        let ship = json!({"carrier": "dhl", "tracking_number": "T1"});
        let key = if p["orders"][0]["seller"] == "sel_bob" {
            &s.bob
        } else {
            &s.carol
        };
        let a = s.post(&format!("/v1/orders/{order}/ship"), key, ship).await;
        assert_eq!(
            a.body["error"]["code"], "order_awaiting_payment",
            "{b}: {}",
            a.body
        );

        s.clock.set_ms(T0 + DAY);
        let a = notify(&s, "bn_1", &id, 6999, "usd").await;
        assert_eq!(
            (a.status, a.body["outcome"].as_str()),
            (StatusCode::OK, Some("applied")),
            "{b}: {}",
            a.body
        );
        let p = payment(&s, &id).await;
        assert_eq!(
            (p["status"].as_str(), p["amount_due"].as_i64()),
            (Some("succeeded"), Some(0)),
            "{b}: {p}"
        );
        assert_eq!(statuses(&p), ["paid", "paid"], "{b}");
        assert_eq!(
            p["orders"][0]["ship_by"],
            (T0 + 8 * DAY) / 1000,
            "{b}: ship-by counts from the payment"
        );
        // the bank sends it again: nothing changes
        let before = (
            payment(&s, &id).await,
            s.get("/v1/events?limit=100", &s.platform).await.body,
        );
        let a = notify(&s, "bn_1", &id, 6999, "usd").await;
        assert_eq!(
            (a.body["duplicate"].as_bool(), a.body["outcome"].as_str()),
            (Some(true), Some("applied")),
            "{b}"
        );
        let after = (
            payment(&s, &id).await,
            s.get("/v1/events?limit=100", &s.platform).await.body,
        );
        assert_eq!(after, before, "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn short_then_over_pays_once_and_refunds_the_excess() {
    for db in TestDb::all("bank_short_over").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let id = checkout(&s).await["id"].as_str().unwrap().to_string();
        let a = notify(&s, "bn_1", &id, 3000, "usd").await;
        assert_eq!(a.body["outcome"], "applied", "{b}: {}", a.body);
        let p = payment(&s, &id).await;
        assert_eq!(
            (p["status"].as_str(), p["amount_due"].as_i64()),
            (Some("requires_action"), Some(3999)),
            "{b}"
        );
        assert_eq!(p["next_action"]["amount"], 3999);
        assert_eq!(statuses(&p), ["awaiting_payment", "awaiting_payment"]);
        // the rest, and 1.01 too many
        notify(&s, "bn_2", &id, 4000, "usd").await;
        let p = payment(&s, &id).await;
        assert_eq!(p["status"], "succeeded", "{b}: {p}");
        assert_eq!(statuses(&p), ["paid", "paid"]);
        let refund = &p["refunds"][0];
        assert_eq!(
            (
                refund["amount"].as_i64(),
                refund["reason"].as_str(),
                refund["order"].as_str()
            ),
            (Some(1), Some("overpaid"), None),
            "{b}: {p}"
        );
        // paid back by the bank (to whoever sent the transfer), not through the card provider
        let pass = refunds::tick(&s.app, 100).await.unwrap();
        assert_eq!(pass.succeeded, 1, "{b}: {pass:?}");
        let p = payment(&s, &id).await;
        assert_eq!(p["refunds"][0]["status"], "succeeded", "{b}: {p}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn an_unpaid_checkout_expires_and_late_money_is_refunded() {
    for db in TestDb::all("bank_expiry").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let id = checkout(&s).await["id"].as_str().unwrap().to_string();
        notify(&s, "bn_1", &id, 1000, "usd").await;
        s.clock.set_ms(T0 + 3 * DAY - 1);
        scheduler::tick(&s.app, 100).await.unwrap();
        assert_eq!(payment(&s, &id).await["status"], "requires_action", "{b}");
        s.clock.set_ms(T0 + 3 * DAY);
        scheduler::tick(&s.app, 100).await.unwrap();
        let p = payment(&s, &id).await;
        assert_eq!(p["status"], "expired", "{b}: {p}");
        assert_eq!(statuses(&p), ["expired", "expired"], "{b}");
        assert_eq!(
            (
                p["refunds"][0]["amount"].as_i64(),
                p["refunds"][0]["reason"].as_str()
            ),
            (Some(1000), Some("payment_expired")),
            "{b}: {p}"
        );
        // the whole amount arrives after the expiry: refunded, the orders stay expired
        let a = notify(&s, "bn_2", &id, 6999, "usd").await;
        assert_eq!(a.body["outcome"], "applied", "{b}: {}", a.body);
        let p = payment(&s, &id).await;
        assert_eq!(
            (p["status"].as_str(), p["refunds"].as_array().unwrap().len()),
            (Some("expired"), 2),
            "{b}: {p}"
        );
        assert_eq!(statuses(&p), ["expired", "expired"]);
        // nothing fires twice
        s.clock.set_ms(T0 + 10 * DAY);
        scheduler::tick(&s.app, 100).await.unwrap();
        assert_eq!(
            payment(&s, &id).await["refunds"].as_array().unwrap().len(),
            2
        );
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn forged_unknown_and_wrong_notifications_change_nothing() {
    for db in TestDb::all("bank_refusals").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let id = checkout(&s).await["id"].as_str().unwrap().to_string();
        let state = || async {
            (
                payment(&s, &id).await,
                s.get("/v1/events?limit=100", &s.platform).await.body,
            )
        };
        let before = state().await;
        let body =
            json!({"id": "bn_1", "reference": id, "amount": 6999, "currency": "usd"}).to_string();
        for (secret, skew) in [
            ("not_the_secret", 0),
            (BANK_SECRET, -3600),
            (BANK_SECRET, 3600),
        ] {
            let a = signed(&s, &body, secret, skew).await;
            assert_eq!(
                (a.status, a.body["error"]["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("signature_invalid")),
                "{b}: {secret} {skew}"
            );
        }
        let unsigned = s
            .http
            .post(format!("{}/v1/connectors/bank/notifications", s.base))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
        let metrics = s
            .http
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("holdback_connector_signature_failures_total 4"),
            "{b}: {metrics}"
        );
        // live money needs a live bank connector (none configured here)
        let mut live = cart(common::VISA);
        live.as_object_mut().unwrap().remove("card");
        live["bank_transfer"] = json!({});
        let a = s.post("/v1/checkouts", &s.live_platform, live).await;
        assert_eq!(
            a.body["error"]["code"], "livemode_unavailable",
            "{b}: {}",
            a.body
        );
        // the wrong currency
        let a = notify(&s, "bn_2", &id, 6999, "eur").await;
        assert_eq!(
            a.body["error"]["code"], "currency_mismatch",
            "{b}: {}",
            a.body
        );
        assert_eq!(state().await, before, "{b}");
        // an unknown reference is kept for an operator, once
        let a = notify(&s, "bn_3", "pay_nobody", 500, "usd").await;
        assert_eq!(a.body["outcome"], "unmatched", "{b}: {}", a.body);
        let again = notify(&s, "bn_3", "pay_nobody", 500, "usd").await;
        assert_eq!(again.body["duplicate"], true, "{b}");
        let unmatched = s
            .app
            .store
            .notifications(NotificationOutcome::Unmatched, 10)
            .await
            .unwrap();
        assert_eq!(unmatched.len(), 1, "{b}");
        assert!(unmatched[0].body.contains("pay_nobody"));
        let refused = s
            .app
            .store
            .notifications(NotificationOutcome::Refused, 10)
            .await
            .unwrap();
        assert_eq!(refused.len(), 5, "{b}: every refusal is recorded, raw");
        assert_eq!(state().await, before, "{b}");
        s.audit_clean().await;
    }
}
