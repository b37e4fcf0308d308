//! Coupons through the real server on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set)
//! PostgreSQL: a platform-funded discount shared across a cart (the escrow and the seller still
//! on the list price, the platform's promotions paying the rest), a seller-funded one lowering
//! the seller's price, stacking, every rule refusing by name with nothing changed, a use given
//! back when its orders are cancelled, a full refund giving the buyer back only what it paid;
//! and 50 checkouts racing for a coupon's last 10 uses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{DAY, Server, T0, VISA};

const PROMOTIONS: &str = "test:platform_promotions:USD";

async fn coupon(s: &Server, key: &str, body: Value) -> Value {
    let mut body = body;
    for (k, v) in [
        ("currency", json!("usd")),
        ("ends", json!((T0 + 30 * DAY) / 1000)),
        ("per_buyer", json!(1)),
        ("total_limit", json!(10)),
    ] {
        if body.get(k).is_none() {
            body[k] = v;
        }
    }
    let a = s.post("/v1/coupons", key, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}: {}", s.backend, a.body);
    a.body
}

/// Alice's cart: Bob 50.00, Carol 19.99, by card, with `coupons`.
fn cart(coupons: &[&str]) -> Value {
    let mut c = common::cart(VISA);
    c["coupons"] = json!(coupons);
    c
}

async fn checkout(s: &Server, body: Value) -> common::Answer {
    s.post("/v1/checkouts", &s.platform, body).await
}

fn orders(pay: &Value) -> Vec<(String, i64, i64)> {
    pay["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["seller"].as_str().unwrap().to_string(),
                o["amount"].as_i64().unwrap(),
                o["amount_platform_funded"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn platform_and_seller_coupons_are_booked_where_they_are_funded() {
    for db in TestDb::all("coupons_booked").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        // 10 % off the cart, paid by the platform; 5.00 off Bob's order, paid by Bob
        let spring = coupon(
            &s,
            &s.platform,
            json!({"code": "spring10", "funded_by": "platform", "type": "percent", "percent_off_bps": 1000, "min_spend": 3000}),
        )
        .await;
        assert_eq!(spring["code"], "SPRING10");
        coupon(
            &s,
            &s.bob,
            json!({"code": "BOB5", "funded_by": "seller", "type": "fixed", "amount_off": 500}),
        )
        .await;
        let a = checkout(&s, cart(&["SPRING10", "bob5"])).await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        // Bob's price is 45.00 (his coupon); the platform's 10 % of the cart (6,999) is 699,
        // shared 5000:1999 as 499 and 200
        assert_eq!(
            orders(&a.body),
            [
                ("sel_bob".into(), 4500, 499),
                ("sel_carol".into(), 1999, 200)
            ],
            "{b}"
        );
        assert_eq!(a.body["amount"], 4500 + 1999 - 699, "{b}: the buyer pays");
        assert_eq!(s.balance_of(PROMOTIONS).await, 699);
        // Bob's order completes: he is paid on 45.00, the platform's part included
        let bob_order = a.body["orders"][0]["id"].as_str().unwrap().to_string();
        let path = |action: &str| format!("/v1/orders/{bob_order}/{action}");
        s.post(
            &path("ship"),
            &s.bob,
            json!({"carrier": "dhl", "tracking_number": "T1"}),
        )
        .await;
        s.post(&path("mark_delivered"), &s.platform, json!({}))
            .await;
        let done = s.post(&path("confirm_receipt"), &s.alice, json!({})).await;
        assert_eq!(done.body["status"], "completed", "{b}: {}", done.body);
        assert_eq!(done.body["release"]["amount_to_seller"], 4500 - 225, "{b}");
        // Carol's order refunded in full: Alice gets back what she paid (17.99), the platform's
        // 2.00 goes back to promotions
        let carol_order = a.body["orders"][1]["id"].as_str().unwrap();
        let r = s
            .post(
                &format!("/v1/orders/{carol_order}/refund"),
                &s.platform,
                json!({"amount": 1999, "currency": "usd"}),
            )
            .await;
        assert_eq!(r.body["status"], "cancelled", "{b}: {}", r.body);
        let p = s
            .get(
                &format!("/v1/payments/{}", a.body["id"].as_str().unwrap()),
                &s.platform,
            )
            .await;
        let refunded: i64 = p.body["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(refunded, 1799, "{b}");
        assert_eq!(s.balance_of(PROMOTIONS).await, 499, "{b}");
        // the platform coupon spans both orders: one cancelled does not give it back
        let spring = s
            .get(
                &format!("/v1/coupons/{}", spring["id"].as_str().unwrap()),
                &s.platform,
            )
            .await;
        assert_eq!(spring.body["used"], 1, "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn coupon_rules_refuse_by_name_and_change_nothing() {
    for db in TestDb::all("coupons_refused").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let pct = |code: &str, extra: Value| {
            let mut body = json!({"code": code, "funded_by": "platform", "type": "percent", "percent_off_bps": 500});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        coupon(&s, &s.platform, pct("BIG", json!({"min_spend": 100_000}))).await;
        coupon(
            &s,
            &s.platform,
            pct("LATER", json!({"starts": (T0 + DAY) / 1000})),
        )
        .await;
        coupon(
            &s,
            &s.platform,
            pct("SOON", json!({"ends": (T0 + DAY) / 1000})),
        )
        .await;
        coupon(&s, &s.platform, pct("ONCE", json!({"total_limit": 1}))).await;
        coupon(&s, &s.platform, pct("TWO", json!({}))).await;
        coupon(
            &s,
            &s.platform,
            json!({"code": "DAVE", "funded_by": "seller", "seller": "sel_dave_shop", "type": "fixed", "amount_off": 100}),
        )
        .await;
        // ONCE used up by Dave first
        let mut dave = cart(&["ONCE"]);
        dave["buyer"] = json!("buy_dave");
        assert_eq!(checkout(&s, dave).await.status, StatusCode::CREATED);
        s.clock.advance_ms(DAY / 2);
        let payments = || async { s.app.store.all_payment_ids().await.unwrap().len() };
        let before = (payments().await, s.balance_of(PROMOTIONS).await);
        for (codes, code) in [
            (vec!["BIG"], "coupon_below_minimum"),
            (vec!["LATER"], "coupon_not_started"),
            (vec!["ONCE"], "coupon_exhausted"),
            (vec!["DAVE"], "coupon_other_seller"),
            (vec!["NOPE"], "coupon_not_found"),
            (vec!["TWO", "SOON"], "coupons_do_not_stack"),
            (vec!["TWO", "TWO"], "coupons_do_not_stack"),
        ] {
            let a = checkout(&s, cart(&codes)).await;
            assert_eq!(a.body["error"]["code"], code, "{b}: {codes:?} {}", a.body);
            assert_eq!(
                (payments().await, s.balance_of(PROMOTIONS).await),
                before,
                "{b}: {code}"
            );
        }
        s.clock.advance_ms(DAY);
        let a = checkout(&s, cart(&["SOON"])).await;
        assert_eq!(a.body["error"]["code"], "coupon_expired", "{b}");
        // used once by Alice: per buyer once
        assert_eq!(
            checkout(&s, cart(&["TWO"])).await.status,
            StatusCode::CREATED
        );
        let a = checkout(&s, cart(&["TWO"])).await;
        assert_eq!(a.body["error"]["code"], "coupon_buyer_limit", "{b}");
        // only the platform, or a seller for itself, creates coupons
        let a = s
            .post("/v1/coupons", &s.alice, pct("MINE", json!({"ends": 4_000_000_000i64, "per_buyer": 1, "total_limit": 1, "currency": "usd"})))
            .await;
        assert_eq!(a.body["error"]["code"], "not_permitted", "{b}");
        let a = s
            .post("/v1/coupons", &s.platform, pct("two", json!({"ends": 4_000_000_000i64, "per_buyer": 1, "total_limit": 1, "currency": "usd"})))
            .await;
        assert_eq!(a.body["error"]["code"], "coupon_code_taken", "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn a_cancelled_order_gives_its_coupon_back() {
    for db in TestDb::all("coupons_given_back").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let c = coupon(
            &s,
            &s.bob,
            json!({"code": "BOBONLY", "funded_by": "seller", "type": "fixed", "amount_off": 700, "total_limit": 1}),
        )
        .await;
        let a = checkout(&s, cart(&["BOBONLY"])).await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        let id = c["id"].as_str().unwrap();
        let used = || async {
            s.get(&format!("/v1/coupons/{id}"), &s.bob).await.body["used"]
                .as_i64()
                .unwrap()
        };
        assert_eq!(used().await, 1);
        // never shipped: the ship-by timer cancels Bob's order, and the use comes back
        s.clock.advance_ms(8 * DAY);
        holdback_app::scheduler::tick(&s.app, 100).await.unwrap();
        assert_eq!(used().await, 0, "{b}");
        // a declined card gives it back at once
        let mut declined = cart(&["BOBONLY"]);
        declined["card"]["number"] = json!("4000000000000002");
        let a = checkout(&s, declined).await;
        assert_eq!(a.body["error"]["code"], "card_declined", "{b}");
        assert_eq!(used().await, 0, "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn fifty_checkouts_race_for_ten_uses_and_ten_get_them() {
    for db in TestDb::all("coupons_race").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let c = coupon(
            &s,
            &s.platform,
            json!({"code": "LAST10", "funded_by": "platform", "type": "fixed", "amount_off": 300, "total_limit": 10, "per_buyer": 100}),
        )
        .await;
        let mut tasks = Vec::new();
        for n in 0..50 {
            let (http, base, key) = (s.http.clone(), s.base.clone(), s.platform.clone());
            tasks.push(tokio::spawn(async move {
                let body = json!({
                    "buyer": "buy_alice", "currency": "usd",
                    "items": [{"seller": "sel_bob", "description": format!("item {n}"), "unit_amount": 2000, "quantity": 1}],
                    "card": {"number": VISA, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
                    "coupons": ["LAST10"]
                });
                common::send(&http, &base, "POST", "/v1/checkouts", &key, None, Some(&body.to_string())).await
            }));
        }
        let mut discounted = 0;
        let mut exhausted = 0;
        for t in tasks {
            let a = t.await.unwrap();
            match a.status {
                StatusCode::CREATED => {
                    assert_eq!(a.body["amount"], 1700, "{b}");
                    discounted += 1;
                }
                _ => {
                    assert_eq!(
                        a.body["error"]["code"], "coupon_exhausted",
                        "{b}: {}",
                        a.body
                    );
                    exhausted += 1;
                }
            }
        }
        assert_eq!((discounted, exhausted), (10, 40), "{b}");
        let c = s
            .get(
                &format!("/v1/coupons/{}", c["id"].as_str().unwrap()),
                &s.platform,
            )
            .await;
        assert_eq!(c.body["used"], 10, "{b}");
        assert_eq!(s.balance_of(PROMOTIONS).await, 3000, "{b}");
        s.audit_clean().await;
    }
}
