//! A buyer's balance through the real server on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is
//! set) PostgreSQL: the platform's adjustments with their reasons, the history page by page,
//! who may see and adjust it, and a debit beyond the balance refused with nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::json;

mod common;

use common::Server;

#[tokio::test]
async fn the_platform_adjusts_a_balance_the_buyer_reads_it() {
    for db in TestDb::all("balance_adjustments").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let adjust = |direction: &str, amount: i64, reason: &str| json!({"direction": direction, "amount": amount, "currency": "usd", "reason": reason});
        let path = "/v1/buyers/buy_alice/balance/adjustments";
        let a = s
            .post(
                path,
                &s.platform,
                adjust("credit", 5000, "goodwill for a late parcel"),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        assert_eq!(
            (a.body["amount"].as_i64(), a.body["reason"].as_str()),
            (Some(5000), Some("goodwill for a late parcel"))
        );
        let a = s
            .post(path, &s.platform, adjust("debit", 2000, "correction"))
            .await;
        assert_eq!(a.body["amount"], -2000, "{b}: {}", a.body);

        // a debit beyond the balance is refused and changes nothing
        let before = s
            .get("/v1/buyers/buy_alice/balance", &s.platform)
            .await
            .body;
        let a = s
            .post(path, &s.platform, adjust("debit", 3001, "too much"))
            .await;
        assert_eq!(
            a.body["error"]["code"], "balance_insufficient",
            "{b}: {}",
            a.body
        );
        // only the platform adjusts; only the buyer and the platform read
        let a = s.post(path, &s.alice, adjust("credit", 100, "me")).await;
        assert_eq!(a.body["error"]["code"], "not_permitted", "{b}: {}", a.body);
        assert_eq!(
            s.get("/v1/buyers/buy_alice/balance", &s.dave).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            s.get("/v1/buyers/buy_nobody/balance", &s.platform)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let a = s
            .post(
                "/v1/buyers/buy_nobody/balance/adjustments",
                &s.platform,
                adjust("credit", 1, "x"),
            )
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{b}");
        assert_eq!(
            s.get("/v1/buyers/buy_alice/balance", &s.platform)
                .await
                .body,
            before,
            "{b}"
        );

        // the buyer reads it, with its history newest first, a page at a time
        let mine = s
            .get("/v1/buyers/buy_alice/balance?limit=1", &s.alice)
            .await
            .body;
        assert_eq!(
            mine["balances"],
            json!([{"currency": "usd", "amount": 3000}]),
            "{b}: {mine}"
        );
        let first = &mine["history"]["data"][0];
        assert_eq!(
            (
                first["amount"].as_i64(),
                mine["history"]["has_more"].as_bool()
            ),
            (Some(-2000), Some(true)),
            "{b}: {mine}"
        );
        let next = format!(
            "/v1/buyers/buy_alice/balance?limit=1&starting_after={}",
            first["id"].as_str().unwrap()
        );
        let page = s.get(&next, &s.alice).await.body;
        assert_eq!(
            (
                page["history"]["data"][0]["amount"].as_i64(),
                page["history"]["has_more"].as_bool()
            ),
            (Some(5000), Some(false)),
            "{b}: {page}"
        );
        // the reason is in the audit trail
        let events = s.get("/v1/events?limit=100", &s.platform).await.body;
        let adjusted: Vec<_> = events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "balance.adjusted")
            .collect();
        assert_eq!(adjusted.len(), 2, "{b}");
        assert_eq!(
            adjusted[0]["data"]["object"]["reason"],
            "goodwill for a late parcel"
        );
        s.audit_clean().await;
    }
}
