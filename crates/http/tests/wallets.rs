//! Wallets end to end through the real server on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL`
//! is set) PostgreSQL: the redirect to the sandbox wallet's page, the buyer's approval, decline
//! or cancellation there, the wallet's signed callback and the return; the settlement currency
//! and return URL rules; approval after the expiry, refunded.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::{scheduler, webhooks};
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, DAY, Server, T0, WALLET_SECRET};

/// Alice's checkout of 25.00 from Bob in `currency`, paid with `wallet`.
async fn checkout(s: &Server, wallet: &str, currency: &str, return_url: &str) -> Answer {
    let body = json!({
        "buyer": "buy_alice", "currency": currency,
        "items": [{"seller": "sel_bob", "description": "tea", "unit_amount": 2500, "quantity": 1}],
        "wallet": {"type": wallet, "return_url": return_url},
    });
    s.post("/v1/checkouts", &s.platform, body).await
}

/// A client that does not follow redirects (to see where the wallet sends the browser).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The buyer's choice on the sandbox wallet's page of `url` (its path, on this server).
async fn choose(s: &Server, url: &str, choice: &str) -> reqwest::Response {
    let path = &url[url.find("/sandbox/").unwrap()..];
    browser()
        .post(format!("{}{path}", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("choice={choice}"))
        .send()
        .await
        .unwrap()
}

async fn payment(s: &Server, id: &str) -> Value {
    s.get(&format!("/v1/payments/{id}"), &s.platform).await.body
}

#[tokio::test]
async fn each_wallet_approves_declines_and_cancels_through_its_page() {
    for db in TestDb::all("wallets_choices").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        for (wallet, currency) in [
            ("alipay", "cny"),
            ("paypal", "usd"),
            ("wechat_pay", "cny"),
            ("webmoney", "eur"),
        ] {
            for (choice, status, order) in [
                ("approve", "succeeded", "paid"),
                ("decline", "failed", "expired"),
                ("cancel", "cancelled", "expired"),
            ] {
                let a = checkout(&s, wallet, currency, "https://shop.example/back?x=1").await;
                assert_eq!(a.status, StatusCode::CREATED, "{b} {wallet}: {}", a.body);
                let p = a.body;
                let id = p["id"].as_str().unwrap().to_string();
                assert_eq!(p["status"], "requires_action", "{b} {wallet}");
                assert_eq!(p["method"], wallet);
                assert_eq!(p["orders"][0]["status"], "awaiting_payment");
                let url = p["next_action"]["redirect_url"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert_eq!(p["next_action"]["type"], "redirect_to_url");
                // the wallet's page shows the payment
                let path = &url[url.find("/sandbox/").unwrap()..];
                let page = s
                    .http
                    .get(format!("{}{path}", s.base))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(page.status(), StatusCode::OK);
                let html = page.text().await.unwrap();
                assert!(
                    html.contains(&id) && html.contains("id=\"approve\""),
                    "{html}"
                );
                // the choice: the wallet's callback is taken, the browser is sent back
                let res = choose(&s, &url, choice).await;
                assert_eq!(res.status(), StatusCode::SEE_OTHER, "{b} {wallet} {choice}");
                let back = res.headers()["location"].to_str().unwrap().to_string();
                assert_eq!(
                    back,
                    format!("https://shop.example/back?x=1&payment={id}&status={status}")
                );
                let p = payment(&s, &id).await;
                assert_eq!(p["status"], status, "{b} {wallet} {choice}: {p}");
                assert_eq!(
                    p["orders"][0]["status"], order,
                    "{b} {wallet} {choice}: {p}"
                );
                // the wallet redelivers its callback, after the return: nothing changes
                // (the page, asked again, shows the outcome: the payment no longer waits)
                let again = choose(&s, &url, choice).await;
                assert_eq!(again.status(), StatusCode::OK);
                assert!(again.text().await.unwrap().contains(status));
                assert_eq!(payment(&s, &id).await, p, "{b} {wallet} {choice}");
            }
        }
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn wallet_rules_are_refused_by_name_and_late_approval_is_refunded() {
    for db in TestDb::all("wallets_rules").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let before = s.get("/v1/payments?limit=100", &s.platform).await.body;
        // a currency the wallet does not settle (Alipay settles yuan)
        let a = checkout(&s, "alipay", "usd", "https://shop.example/back").await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("currency_not_supported")),
            "{b}: {}",
            a.body
        );
        // a return URL that is not http(s)
        let a = checkout(&s, "paypal", "usd", "ftp://shop.example/back").await;
        assert_eq!(a.body["error"]["param"], "return_url", "{b}: {}", a.body);
        // an unknown wallet
        let a = checkout(&s, "qiwi", "rub", "https://shop.example/back").await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{b}: {}", a.body);
        assert_eq!(
            s.get("/v1/payments?limit=100", &s.platform).await.body,
            before,
            "{b}"
        );

        // JPY has no minor unit: 2500 is 2,500 yen
        let a = checkout(&s, "paypal", "jpy", "https://shop.example/back").await;
        assert_eq!(a.body["amount"], 2500, "{b}: {}", a.body);

        // a forged callback is refused and counted
        let id = a.body["id"].as_str().unwrap().to_string();
        let body = json!({"id": "cb_1", "payment": id, "outcome": "approved", "amount": 2500, "currency": "jpy"}).to_string();
        let forged = s
            .http
            .post(format!("{}/v1/connectors/paypal/notifications", s.base))
            .header(
                "holdback-signature",
                webhooks::signature("wrong", T0 / 1000, &body),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        let metrics = s
            .http
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .unwrap();
        let metrics = metrics.text().await.unwrap();
        assert!(
            metrics.contains("holdback_connector_signature_failures_total 1"),
            "{b}: {metrics}"
        );
        assert_eq!(payment(&s, &id).await["status"], "requires_action");

        // the buyer never comes back: after 30 minutes the payment expires
        s.clock.set_ms(T0 + 30 * 60_000);
        scheduler::tick(&s.app, 100).await.unwrap();
        let p = payment(&s, &id).await;
        assert_eq!(
            (p["status"].as_str(), p["orders"][0]["status"].as_str()),
            (Some("expired"), Some("expired")),
            "{b}: {p}"
        );
        // the wallet confirms late (its callback, signed): refunded, the order stays expired
        let late = s
            .http
            .post(format!("{}/v1/connectors/paypal/notifications", s.base))
            .header(
                "holdback-signature",
                webhooks::signature(WALLET_SECRET, (T0 + 30 * 60_000) / 1000, &body),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(late.status(), StatusCode::OK);
        let p = payment(&s, &id).await;
        assert_eq!(
            (p["status"].as_str(), p["refunds"][0]["amount"].as_i64()),
            (Some("expired"), Some(2500)),
            "{b}: {p}"
        );
        assert_eq!(p["orders"][0]["status"], "expired");
        let pass = holdback_app::refunds::tick(&s.app, 100).await.unwrap();
        assert_eq!(pass.succeeded, 1, "{b}: {pass:?}");
        let _ = DAY;
        s.audit_clean().await;
    }
}
