//! Split tender through the real server on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set)
//! PostgreSQL, paying through the stateful sandbox: a gift card sold for cash, redeemed on the
//! spot and spent with a card in one checkout; the order refunded, the card's part back to the
//! card (the provider's statement agrees) and the gift card's into the balance; a checkout from
//! the balance alone; the balance given back when the card is declined or a bank transfer never
//! comes; and the refusals that change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use holdback_app::sandbox::SandboxCards;
use holdback_app::{Role, keys, reconcile, refunds, scheduler};
use holdback_sandbox::Sandbox;
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{DAY, Server, VISA};

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// The sandbox's file, removed at the end.
struct SandboxFile(PathBuf);

impl Drop for SandboxFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

async fn start(db: &TestDb) -> (Server, Sandbox, SandboxFile) {
    let path = std::env::temp_dir().join(format!(
        "holdback_split_{}_{}_{}.sandbox",
        std::process::id(),
        db.backend(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    ));
    let file = SandboxFile(path.clone());
    let s = Server::builder(db)
        .cards(|clock| Arc::new(SandboxCards::open(&path, Arc::new(clock.clone())).unwrap()))
        .start()
        .await;
    let sandbox = Sandbox::open(&path).unwrap();
    (s, sandbox, file)
}

const ALICE: &str = "test:customer_balance:buy_alice:USD";

/// A gift card worth `amount`, issued and sold: its code.
async fn sold_card(s: &Server, amount: i64) -> String {
    let shop = keys::create(&s.app, &Role::Retailer("ret_frank".into()), false)
        .await
        .unwrap();
    let batch = s
        .post(
            "/v1/gift_cards",
            &s.platform,
            json!({"count": 1, "amount": amount, "currency": "usd"}),
        )
        .await
        .body;
    let code = batch["cards"][0]["code"].as_str().unwrap().to_string();
    let sale = json!({"code": code, "amount": amount, "currency": "usd", "till_reference": "t1"});
    let a = s.post("/v1/gift_cards/activate", &shop, sale).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    code
}

/// Alice's cart of one line from Bob, with `pay` merged into it.
fn cart(amount: i64, pay: Value) -> Value {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let mut body = json!({
        "buyer": "buy_alice",
        "currency": "usd",
        "items": [{"seller": "sel_bob", "description": format!("teapot #{n}"), "unit_amount": amount, "quantity": 1}],
    });
    for (k, v) in pay.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn card(number: &str) -> Value {
    json!({"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"})
}

async fn credit(s: &Server, amount: i64) {
    let a = s
        .post(
            "/v1/buyers/buy_alice/balance/adjustments",
            &s.platform,
            json!({"direction": "credit", "amount": amount, "currency": "usd", "reason": "test"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
}

async fn payment_count(s: &Server) -> usize {
    s.app.store.all_payment_ids().await.unwrap().len()
}

#[tokio::test]
async fn a_gift_card_and_a_card_pay_one_order_and_its_refund_goes_back_to_each() {
    for db in TestDb::all("split_tender_gift_card").await {
        let (s, sandbox, _file) = start(&db).await;
        let b = s.backend;
        let code = sold_card(&s, 3000).await;
        let a = s
            .post(
                "/v1/checkouts",
                &s.platform,
                cart(5000, json!({"gift_card": code, "card": card(VISA)})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        let pay = &a.body;
        assert_eq!(pay["status"], "succeeded");
        let tenders: Vec<(&str, i64)> = pay["tenders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["method"].as_str().unwrap(), t["amount"].as_i64().unwrap()))
            .collect();
        assert_eq!(tenders, [("card", 2000), ("balance", 3000)], "{b}");
        // the card was charged its part only; the card's value went through the balance
        let charges: Vec<i64> = sandbox
            .statement()
            .unwrap()
            .iter()
            .map(|l| l.amount.minor())
            .collect();
        assert_eq!(charges, [2000], "{b}");
        assert_eq!(s.balance_of(ALICE).await, 0, "{b}");
        assert_eq!(s.balance_of("test:gift_card_liability:USD").await, 0);
        let order = pay["orders"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(pay["orders"][0]["amount"], 5000);

        // the whole order refunded: the card's part to the card, the rest to the balance
        let r = s
            .post(
                &format!("/v1/orders/{order}/refund"),
                &s.platform,
                json!({"amount": 5000, "currency": "usd"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{b}: {}", r.body);
        assert_eq!(s.balance_of(ALICE).await, 3000, "{b}");
        refunds::tick(&s.app, 10).await.unwrap();
        let p = s
            .get(
                &format!("/v1/payments/{}", pay["id"].as_str().unwrap()),
                &s.platform,
            )
            .await
            .body;
        let mut parts: Vec<(String, i64, String)> = p["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["destination"].as_str().unwrap().to_string(),
                    r["amount"].as_i64().unwrap(),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        parts.sort();
        assert_eq!(
            parts,
            [
                ("balance".to_string(), 3000, "succeeded".to_string()),
                ("original_method".to_string(), 2000, "succeeded".to_string())
            ],
            "{b}"
        );
        let amounts: Vec<i64> = sandbox
            .statement()
            .unwrap()
            .iter()
            .map(|l| l.amount.minor())
            .collect();
        assert_eq!(amounts, [2000, 2000], "{b}: the charge and its refund");
        let (_, _, found) = reconcile::provider(&s.app, s.app.cards.test.as_ref(), false)
            .await
            .unwrap();
        assert!(found.is_empty(), "{b}: {found:?}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn the_balance_alone_pays_and_a_refund_returns_to_it() {
    for db in TestDb::all("split_tender_balance_only").await {
        let (s, sandbox, _file) = start(&db).await;
        let b = s.backend;
        credit(&s, 4000).await;
        let a = s
            .post(
                "/v1/checkouts",
                &s.platform,
                cart(2500, json!({"balance": 2500})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        assert_eq!(a.body["status"], "succeeded");
        assert_eq!(a.body["method"], "balance");
        assert_eq!(s.balance_of(ALICE).await, 1500);
        assert!(sandbox.statement().unwrap().is_empty(), "{b}: no provider");
        let order = a.body["orders"][0]["id"].as_str().unwrap().to_string();
        // shipped and confirmed: the seller is paid on the price
        s.post(
            &format!("/v1/orders/{order}/refund"),
            &s.platform,
            json!({"amount": 1000, "currency": "usd"}),
        )
        .await;
        assert_eq!(s.balance_of(ALICE).await, 2500, "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn a_declined_card_or_an_unpaid_transfer_gives_the_balance_back() {
    for db in TestDb::all("split_tender_gives_back").await {
        let (s, _sandbox, _file) = start(&db).await;
        let b = s.backend;
        credit(&s, 1000).await;
        let a = s
            .post(
                "/v1/checkouts",
                &s.platform,
                cart(
                    5000,
                    json!({"balance": 1000, "card": card("4000000000000002")}),
                ),
            )
            .await;
        assert_eq!(a.body["error"]["code"], "card_declined", "{b}: {}", a.body);
        assert_eq!(s.balance_of(ALICE).await, 1000, "{b}");

        // a bank transfer for the rest: due is the rest; the balance waits with the payment
        let a = s
            .post(
                "/v1/checkouts",
                &s.platform,
                cart(5000, json!({"balance": 1000, "bank_transfer": {}})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        assert_eq!(a.body["amount_due"], 4000);
        assert_eq!(a.body["next_action"]["amount"], 4000);
        assert_eq!(s.balance_of(ALICE).await, 0, "{b}");
        s.clock.advance_ms(3 * DAY + 1);
        scheduler::tick(&s.app, 10).await.unwrap();
        let p = s
            .get(
                &format!("/v1/payments/{}", a.body["id"].as_str().unwrap()),
                &s.platform,
            )
            .await
            .body;
        assert_eq!(p["status"], "expired", "{b}");
        assert_eq!(s.balance_of(ALICE).await, 1000, "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn split_tender_refusals_are_named_and_change_nothing() {
    for db in TestDb::all("split_tender_refusals").await {
        let (s, sandbox, _file) = start(&db).await;
        let b = s.backend;
        credit(&s, 1000).await;
        let before = (payment_count(&s).await, s.balance_of(ALICE).await);
        for (pay, code) in [
            // two provider methods
            (
                json!({"card": card(VISA), "bank_transfer": {}}),
                "too_many_payment_methods",
            ),
            (
                json!({"balance": 500, "card": card(VISA), "wallet": {"type": "paypal", "return_url": "https://shop.example/back"}}),
                "too_many_payment_methods",
            ),
            // more than the balance holds
            (
                json!({"balance": 1001, "card": card(VISA)}),
                "balance_insufficient",
            ),
            (json!({"balance": 3000}), "balance_insufficient"),
            // the balance alone, short of the total
            (json!({"balance": 500}), "payment_method_missing"),
            // more than the total
            (json!({"balance": 3001}), "stored_value_exceeds_total"),
            // the balance pays it all, and a card too
            (
                json!({"balance": 3000, "card": card(VISA)}),
                "too_many_payment_methods",
            ),
            (
                json!({"balance": 0, "card": card(VISA)}),
                "parameter_invalid",
            ),
            // a gift card that is not one
            (
                json!({"gift_card": "0000-0000-0000-0000-0001", "card": card(VISA)}),
                "gift_card_check_digit",
            ),
        ] {
            let a = s.post("/v1/checkouts", &s.platform, cart(3000, pay)).await;
            assert_eq!(a.body["error"]["code"], code, "{b}: {}", a.body);
            assert_eq!(
                (payment_count(&s).await, s.balance_of(ALICE).await),
                before,
                "{b}: {code}"
            );
        }
        // an unsold card, and an expired one
        let batch = s
            .post(
                "/v1/gift_cards",
                &s.platform,
                json!({"count": 1, "amount": 1000, "currency": "usd"}),
            )
            .await
            .body;
        let unsold = batch["cards"][0]["code"].as_str().unwrap().to_string();
        let a = s
            .post(
                "/v1/checkouts",
                &s.platform,
                cart(3000, json!({"gift_card": unsold, "card": card(VISA)})),
            )
            .await;
        assert_eq!(a.body["error"]["code"], "gift_card_inactive", "{b}");
        let sold = sold_card(&s, 1000).await;
        s.clock.advance_ms(366 * DAY);
        let a = s
            .post(
                "/v1/checkouts",
                &s.platform,
                cart(3000, json!({"gift_card": sold, "card": card(VISA)})),
            )
            .await;
        assert_eq!(a.body["error"]["code"], "gift_card_expired", "{b}");
        assert_eq!(
            (payment_count(&s).await, s.balance_of(ALICE).await),
            before,
            "{b}"
        );
        assert!(
            sandbox.statement().unwrap().is_empty(),
            "{b}: nothing charged"
        );
        s.audit_clean().await;
    }
}
