//! Gift cards through the real server on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set)
//! PostgreSQL: a batch issued with its codes shown once, a retailer's sale activating a card
//! (and owing its cash), anyone checking a code, a buyer redeeming it into the balance once,
//! expiry moving unspent value to breakage; each refusal named and changing nothing; wrong
//! codes locking a buyer out even with the right code until the lockout ends.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::{Role, gift_cards, keys, scheduler};
use holdback_store::clock::Clock;
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{DAY, Server};

async fn issue(s: &Server, count: u32, amount: i64) -> Value {
    let a = s
        .post(
            "/v1/gift_cards",
            &s.platform,
            json!({"count": count, "amount": amount, "currency": "usd"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}: {}", s.backend, a.body);
    a.body
}

fn code(batch: &Value, i: usize) -> String {
    batch["cards"][i]["code"].as_str().unwrap().to_string()
}

/// The same code with its last (check) symbol changed.
fn wrong_check(code: &str) -> String {
    let mut bytes: Vec<u8> = code.replace('-', "").into_bytes();
    bytes[19] = if bytes[19] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn a_card_is_sold_checked_redeemed_once_and_the_rest_expire_to_breakage() {
    for db in TestDb::all("gift_cards_lifecycle").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let shop = keys::create(&s.app, &Role::Retailer("ret_frank".into()), false)
            .await
            .unwrap();
        let batch = issue(&s, 3, 5000).await;
        assert_eq!(batch["codes_shown"], true);
        let (a, bb) = (code(&batch, 0), code(&batch, 1));
        assert_eq!(a.len(), 24, "{a}");
        assert_eq!(batch["cards"][0]["status"], "inactive");
        assert_eq!(batch["cards"][0]["code_hint"], a[20..]);
        let card_a = batch["cards"][0]["id"].as_str().unwrap().to_string();

        // anyone checks; an unsold card is genuine and inactive, and cannot be redeemed
        let c = s
            .post("/v1/gift_cards/check", &s.dave, json!({"code": a}))
            .await;
        assert_eq!(
            (c.body["genuine"].as_bool(), c.body["status"].as_str()),
            (Some(true), Some("inactive")),
            "{b}: {}",
            c.body
        );
        let redeem = |code: &str| json!({"code": code, "buyer": "buy_alice"});
        let r = s.post("/v1/gift_cards/redeem", &s.alice, redeem(&a)).await;
        assert_eq!(
            r.body["error"]["code"], "gift_card_inactive",
            "{b}: {}",
            r.body
        );

        // the retailer's sale activates it and owes its cash
        let sale = |code: &str, amount: i64, till: &str| json!({"code": code, "amount": amount, "currency": "usd", "till_reference": till});
        let r = s
            .post(
                "/v1/gift_cards/activate",
                &shop,
                sale(&a, 5000, "till-7 #1"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{b}: {}", r.body);
        assert_eq!(r.body["status"], "active");
        assert_eq!(r.body["activation"]["retailer"], "ret_frank");
        assert_eq!(
            s.balance_of("test:retailer_receivable:ret_frank:USD").await,
            5000
        );
        assert_eq!(s.balance_of("test:gift_card_liability:USD").await, 5000);

        // refusals that change nothing: a second activation, a wrong amount, a buyer's key
        let before = s
            .get(&format!("/v1/gift_cards/{card_a}"), &s.platform)
            .await
            .body;
        let r = s
            .post(
                "/v1/gift_cards/activate",
                &shop,
                sale(&a, 5000, "till-7 #2"),
            )
            .await;
        assert_eq!(r.body["error"]["code"], "gift_card_already_active", "{b}");
        let r = s
            .post(
                "/v1/gift_cards/activate",
                &shop,
                sale(&bb, 4000, "till-7 #3"),
            )
            .await;
        assert_eq!(r.body["error"]["code"], "gift_card_amount_mismatch", "{b}");
        let r = s
            .post("/v1/gift_cards/activate", &s.alice, sale(&bb, 5000, "x"))
            .await;
        assert_eq!(r.body["error"]["code"], "not_permitted", "{b}");
        assert_eq!(
            s.get(&format!("/v1/gift_cards/{card_a}"), &s.platform)
                .await
                .body,
            before
        );
        assert_eq!(
            s.balance_of("test:retailer_receivable:ret_frank:USD").await,
            5000,
            "{b}"
        );

        // a code with a wrong check symbol is named as such
        let r = s
            .post(
                "/v1/gift_cards/check",
                &s.dave,
                json!({"code": wrong_check(&a)}),
            )
            .await;
        assert_eq!(r.body["error"]["code"], "gift_card_check_digit", "{b}");

        // redeemed into the balance, once
        let r = s.post("/v1/gift_cards/redeem", &s.alice, redeem(&a)).await;
        assert_eq!(r.status, StatusCode::OK, "{b}: {}", r.body);
        assert_eq!(r.body["status"], "redeemed");
        assert_eq!(
            s.balance_of("test:customer_balance:buy_alice:USD").await,
            5000
        );
        let r = s.post("/v1/gift_cards/redeem", &s.alice, redeem(&a)).await;
        assert_eq!(r.body["error"]["code"], "gift_card_redeemed", "{b}");
        assert_eq!(
            s.balance_of("test:customer_balance:buy_alice:USD").await,
            5000
        );
        // the buyer now sees its card; another buyer does not, nor redeems for alice
        assert_eq!(
            s.get(&format!("/v1/gift_cards/{card_a}"), &s.alice)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            s.get(&format!("/v1/gift_cards/{card_a}"), &s.dave)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let r = s.post("/v1/gift_cards/redeem", &s.dave, redeem(&bb)).await;
        assert_eq!(r.body["error"]["code"], "not_permitted", "{b}");

        // the second card sold, the third never: both run out unredeemed
        let r = s
            .post(
                "/v1/gift_cards/activate",
                &shop,
                sale(&bb, 5000, "till-7 #4"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{b}: {}", r.body);
        assert_eq!(s.balance_of("test:gift_card_liability:USD").await, 5000);
        s.clock.advance_ms(366 * DAY);
        let r = s.post("/v1/gift_cards/redeem", &s.alice, redeem(&bb)).await;
        assert_eq!(r.body["error"]["code"], "gift_card_expired", "{b}");
        let tick = scheduler::tick(&s.app, 100).await.unwrap();
        assert!(tick.fired >= 2, "{b}: {tick:?}");
        assert_eq!(s.balance_of("test:gift_card_liability:USD").await, 0);
        assert_eq!(s.balance_of("test:gift_card_breakage:USD").await, 5000);
        let card_b = batch["cards"][1]["id"].as_str().unwrap();
        let card_c = batch["cards"][2]["id"].as_str().unwrap();
        for (card, status) in [
            (card_a.as_str(), "redeemed"),
            (card_b, "expired"),
            (card_c, "expired"),
        ] {
            let g = s.get(&format!("/v1/gift_cards/{card}"), &s.platform).await;
            assert_eq!(g.body["status"], status, "{b}: {card}");
        }
        // a second pass expires nothing twice
        scheduler::tick(&s.app, 100).await.unwrap();
        assert_eq!(s.balance_of("test:gift_card_breakage:USD").await, 5000);
        // the balance redeemed before stays
        assert_eq!(
            s.balance_of("test:customer_balance:buy_alice:USD").await,
            5000
        );
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn wrong_codes_in_a_row_lock_redemption_even_with_the_right_code() {
    for db in TestDb::all("gift_cards_lockout").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let shop = keys::create(&s.app, &Role::Retailer("ret_frank".into()), false)
            .await
            .unwrap();
        let batch = issue(&s, 1, 2500).await;
        let right = code(&batch, 0);
        let sale =
            json!({"code": right, "amount": 2500, "currency": "usd", "till_reference": "t1"});
        assert_eq!(
            s.post("/v1/gift_cards/activate", &shop, sale).await.status,
            StatusCode::OK
        );
        let redeem = |code: &str| json!({"code": code, "buyer": "buy_alice"});
        let wrong = [
            // well-formed codes no card has
            gift_cards::new_code(),
            wrong_check(&right),
            "NOT-A-CODE".to_string(),
            gift_cards::new_code(),
            wrong_check(&gift_cards::new_code()),
        ];
        let expected = [
            "gift_card_not_found",
            "gift_card_check_digit",
            "gift_card_code_malformed",
            "gift_card_not_found",
            "gift_card_check_digit",
        ];
        for (w, e) in wrong.iter().zip(expected) {
            let r = s.post("/v1/gift_cards/redeem", &s.alice, redeem(w)).await;
            assert_eq!(r.body["error"]["code"], e, "{b}: {w}");
        }
        // the sixth, with the right code: locked, and nothing moved
        let r = s
            .post("/v1/gift_cards/redeem", &s.alice, redeem(&right))
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{b}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "redemption_locked");
        assert_eq!(s.balance_of("test:customer_balance:buy_alice:USD").await, 0);
        // the same client's checks are locked too
        let r = s
            .post("/v1/gift_cards/check", &s.alice, json!({"code": right}))
            .await;
        assert_eq!(r.body["error"]["code"], "redemption_locked", "{b}");
        // still locked a minute before the 30 minutes end; redeemed once they have
        s.clock.advance_ms(29 * 60_000);
        let r = s
            .post("/v1/gift_cards/redeem", &s.alice, redeem(&right))
            .await;
        assert_eq!(r.body["error"]["code"], "redemption_locked", "{b}");
        s.clock.advance_ms(60_000);
        let r = s
            .post("/v1/gift_cards/redeem", &s.alice, redeem(&right))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{b}: {}", r.body);
        assert_eq!(
            s.balance_of("test:customer_balance:buy_alice:USD").await,
            2500
        );
        // every refusal is counted
        let metrics = s
            .http
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for (reason, n) in [
            ("not_found", 2),
            ("check_digit", 2),
            ("malformed", 1),
            ("locked", 3),
        ] {
            let line = format!("holdback_gift_card_failures_total{{reason=\"{reason}\"}} {n}\n");
            assert!(metrics.contains(&line), "{b}: {line} in {metrics}");
        }
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn checks_are_limited_per_client_per_minute() {
    let db = TestDb::sqlite();
    let s = Server::start(&db).await;
    let batch = issue(&s, 1, 1000).await;
    let right = code(&batch, 0);
    let limit = s.app.policy.gift_cards.checks_per_minute;
    s.clock.set_ms((s.clock.now_ms() / 60_000 + 1) * 60_000); // the start of a minute
    for _ in 0..limit {
        let r = s
            .post("/v1/gift_cards/check", &s.dave, json!({"code": right}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = s
        .post("/v1/gift_cards/check", &s.dave, json!({"code": right}))
        .await;
    assert_eq!(r.body["error"]["code"], "rate_limited");
    // another client is not held back; the next minute the first may check again
    let r = s
        .post("/v1/gift_cards/check", &s.alice, json!({"code": right}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    s.clock.advance_ms(60_000);
    let r = s
        .post("/v1/gift_cards/check", &s.dave, json!({"code": right}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_replayed_issue_answers_without_the_codes_and_issues_nothing_more() {
    let db = TestDb::sqlite();
    let s = Server::start(&db).await;
    let body = json!({"count": 2, "amount": 1000, "currency": "usd"}).to_string();
    let first = s
        .send(
            "POST",
            "/v1/gift_cards",
            &s.platform,
            Some("batch-1"),
            Some(&body),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.body["cards"][0]["code"].is_string());
    let again = s
        .send(
            "POST",
            "/v1/gift_cards",
            &s.platform,
            Some("batch-1"),
            Some(&body),
        )
        .await;
    assert!(again.replayed);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["codes_shown"], false);
    assert!(again.body["cards"][0]["code"].is_null());
    let batch = first.body["id"].as_str().unwrap();
    let cards = s.app.store.gift_card_batch(batch, "", 10).await.unwrap();
    assert_eq!(cards.len(), 2);
    // only the platform issues
    let r = s
        .post(
            "/v1/gift_cards",
            &s.alice,
            json!({"count": 1, "amount": 1, "currency": "usd"}),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "not_permitted");
}
