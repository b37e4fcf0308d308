//! The API end to end: the real server on port 0, a clock the tests move, against SQLite and
//! (when `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use holdback_app::{Policy, Role, keys, scheduler};
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, DAY, Server, T0, VISA, cart};

/// A stand-in for a real live provider: it accepts any card and keeps nothing.
struct LiveProvider;

impl holdback_app::cards::CardConnector for LiveProvider {
    fn charge<'a>(
        &'a self,
        card: &'a holdback_domain::card::CardInput,
        _amount: holdback_domain::Money,
        reference: &'a str,
    ) -> holdback_app::cards::BoxFuture<
        'a,
        Result<holdback_app::cards::Charge, holdback_app::cards::ProviderError>,
    > {
        Box::pin(async move {
            Ok(holdback_app::cards::Charge {
                card: holdback_domain::card::StoredCard {
                    brand: card.number.brand(),
                    last4: card.number.last4().to_string(),
                    exp_month: card.exp_month,
                    exp_year: card.exp_year,
                    token: format!("live_{reference}"),
                },
            })
        })
    }

    fn refund<'a>(
        &'a self,
        _charge: &'a str,
        _amount: holdback_domain::Money,
        reference: &'a str,
    ) -> holdback_app::cards::BoxFuture<'a, Result<String, holdback_app::cards::ProviderError>>
    {
        Box::pin(async move { Ok(format!("live_re_{reference}")) })
    }

    fn find_charge<'a>(
        &'a self,
        _reference: &'a str,
    ) -> holdback_app::cards::BoxFuture<
        'a,
        Result<Option<holdback_app::cards::Charge>, holdback_app::cards::ProviderError>,
    > {
        Box::pin(async { Ok(None) })
    }

    fn statement(
        &self,
    ) -> holdback_app::cards::BoxFuture<
        '_,
        Result<Vec<holdback_domain::reconcile::ProviderOp>, holdback_app::cards::ProviderError>,
    > {
        Box::pin(async { Ok(vec![]) })
    }
}

impl Server {
    /// Alice buys from Bob (2 × 25.00) and Carol (19.99) with the given card. Without an
    /// Idempotency-Key each call is a new purchase (its description differs): a repeat of the same
    /// request within the duplicate window would be taken as a retry.
    /// The shared cart with the test card, checked out with `key`.
    async fn checkout_with(&self, key: &str) -> Answer {
        self.send(
            "POST",
            "/v1/checkouts",
            key,
            None,
            Some(&cart(VISA).to_string()),
        )
        .await
    }

    async fn checkout(&self, card: &str, idem: Option<&str>) -> Answer {
        static PURCHASE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut body = cart(card);
        if idem.is_none() {
            let n = PURCHASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            body["items"][0]["description"] = json!(format!("tea set #{n}"));
        }
        self.send(
            "POST",
            "/v1/checkouts",
            &self.platform,
            idem,
            Some(&body.to_string()),
        )
        .await
    }

    async fn order(&self, id: &str) -> Value {
        self.get(&format!("/v1/orders/{id}"), &self.platform)
            .await
            .body
    }
}

fn order_ids(payment: &Value) -> (String, String) {
    let orders = payment["orders"].as_array().unwrap();
    let of = |seller: &str| {
        orders.iter().find(|o| o["seller"] == seller).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    (of("sel_bob"), of("sel_carol"))
}

#[tokio::test]
async fn the_whole_lifecycle_releases_to_the_seller() {
    for db in TestDb::all("the_whole_lifecycle_releases_to_the_seller").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let paid = s.checkout(VISA, Some("k1")).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{b}: {}", paid.body);
        assert_eq!(paid.body["amount"], 6999);
        assert_eq!(paid.body["card"]["last4"], "4242");
        assert!(
            !paid.body.to_string().contains(VISA),
            "the card number never comes back"
        );
        let (bob_order, _) = order_ids(&paid.body);

        let shipped = s
            .post(
                &format!("/v1/orders/{bob_order}/ship"),
                &s.bob,
                json!({"carrier": "dhl", "tracking_number": "JD01"}),
            )
            .await;
        assert_eq!(
            (shipped.status, shipped.body["status"].as_str()),
            (StatusCode::OK, Some("shipped")),
            "{b}"
        );
        let delivered = s
            .post(
                &format!("/v1/orders/{bob_order}/mark_delivered"),
                &s.platform,
                json!({}),
            )
            .await;
        assert_eq!(delivered.body["status"], "delivered", "{b}");
        let done = s
            .post(
                &format!("/v1/orders/{bob_order}/confirm_receipt"),
                &s.alice,
                json!({}),
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{b}: {}", done.body);
        assert_eq!(done.body["status"], "completed");
        assert_eq!(
            done.body["release"],
            json!({"amount_to_seller": 4750, "commission": 250})
        );
        let seller = s
            .app
            .store
            .account(&holdback_domain::AccountId::parse("test:seller_payable:sel_bob:USD").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seller.posted_balance(), 4750, "{b}");

        let events = s.get("/v1/events?limit=100", &s.platform).await.body;
        let kinds: Vec<&str> = events["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        for kind in [
            "payment.succeeded",
            "order.paid",
            "order.shipped",
            "order.delivered",
            "order.completed",
            "hold.released",
        ] {
            assert!(kinds.contains(&kind), "{b}: {kind} missing from {kinds:?}");
        }
        // cursor pagination over events: two at a time covers the same list
        let mut seen = 0;
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/events?limit=2&starting_after={a}"),
                None => "/v1/events?limit=2".to_string(),
            };
            let page = s.get(&path, &s.platform).await.body;
            let data = page["data"].as_array().unwrap();
            seen += data.len();
            after = data.last().map(|e| e["id"].as_str().unwrap().to_string());
            if page["has_more"] == false {
                break;
            }
        }
        assert_eq!(seen, kinds.len(), "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn every_rejection_is_named_and_changes_nothing() {
    for db in TestDb::all("every_rejection_is_named_and_changes_nothing").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let paid = s.checkout(VISA, None).await;
        let (bob_order, carol_order) = order_ids(&paid.body);
        let path = |id: &str, action: &str| format!("/v1/orders/{id}/{action}");

        // read before any of the rejected requests is sent
        let before = (
            s.order(&bob_order).await,
            s.order(&carol_order).await,
            s.get("/v1/events?limit=100", &s.platform).await.body,
            s.app.store.head().await.unwrap(),
        );
        let cases: Vec<(Answer, StatusCode, &str)> = vec![
            (
                s.post(&path(&bob_order, "confirm_receipt"), &s.alice, json!({}))
                    .await,
                StatusCode::CONFLICT,
                "order_not_delivered",
            ),
            (
                s.post(&path(&bob_order, "mark_delivered"), &s.platform, json!({}))
                    .await,
                StatusCode::CONFLICT,
                "order_not_shipped",
            ),
            (
                s.post(
                    &path(&bob_order, "refund"),
                    &s.platform,
                    json!({"amount": 5001, "currency": "usd"}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "refund_exceeds_held",
            ),
            (
                s.post(
                    &path(&bob_order, "refund"),
                    &s.platform,
                    json!({"amount": 100, "currency": "eur"}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "currency_mismatch",
            ),
            (
                s.post(
                    &path(&bob_order, "refund"),
                    &s.platform,
                    json!({"amount": 100, "currency": "zzz"}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "unknown_currency",
            ),
            (
                s.post(
                    &path(&bob_order, "ship"),
                    &s.alice,
                    json!({"carrier": "x", "tracking_number": "y"}),
                )
                .await,
                StatusCode::FORBIDDEN,
                "not_permitted",
            ),
            (
                s.post(
                    &path(&bob_order, "ship"),
                    &s.bob,
                    json!({"carrier": "x", "tracking_number": "y", "color": "red"}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "unknown_parameter",
            ),
            (
                s.send(
                    "POST",
                    &path(&bob_order, "ship"),
                    &s.bob,
                    None,
                    Some("{not json"),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "invalid_json",
            ),
            (
                s.post(&path(&bob_order, "ship"), &s.bob, json!({"carrier": "x"}))
                    .await,
                StatusCode::BAD_REQUEST,
                "parameter_missing",
            ),
            (
                s.post(
                    &path(&bob_order, "ship"),
                    &s.bob,
                    json!({"carrier": "x".repeat(65), "tracking_number": "y"}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
            ),
            (
                s.post(
                    &path(&bob_order, "ship"),
                    &s.bob,
                    json!({"carrier": "dhl", "tracking_number": "JD\u{0}1"}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
            ),
            (
                // over the policy's most per checkout (USD 10,000.00 by default), in two carts'
                // worth of sellers
                s.post(
                    "/v1/checkouts",
                    &s.platform,
                    json!({"buyer": "buy_alice", "currency": "usd",
                           "items": [{"seller": "sel_bob", "unit_amount": 600_000, "quantity": 1},
                                     {"seller": "sel_carol", "unit_amount": 400_001, "quantity": 1}],
                           "card": {"number": VISA, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "amount_too_large",
            ),
            (
                s.post(
                    "/v1/checkouts",
                    &s.platform,
                    json!({"buyer": "buy_alice", "currency": "usd",
                           "items": [{"seller": "sel_bob", "unit_amount": 4200, "quantity": 4_294_967_295_u32}],
                           "card": {"number": VISA, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "parameter_invalid",
            ),
            // another seller's or buyer's order does not exist for them
            (
                s.post(
                    &path(&bob_order, "ship"),
                    &s.carol,
                    json!({"carrier": "x", "tracking_number": "y"}),
                )
                .await,
                StatusCode::NOT_FOUND,
                "resource_missing",
            ),
            (
                s.get(&format!("/v1/orders/{bob_order}"), &s.dave).await,
                StatusCode::NOT_FOUND,
                "resource_missing",
            ),
            (
                s.get("/v1/orders/ord_nonexistent", &s.platform).await,
                StatusCode::NOT_FOUND,
                "resource_missing",
            ),
            (
                s.get("/v1/orders", "sk_test_0000000000000000_nope").await,
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
            ),
            (
                s.get("/v1/events", &s.alice).await,
                StatusCode::FORBIDDEN,
                "not_permitted",
            ),
        ];
        for (answer, status, code) in cases {
            assert_eq!(answer.status, status, "{b}: {code}: {}", answer.body);
            assert_eq!(answer.body["error"]["code"], code, "{b}: {}", answer.body);
            assert!(answer.body["error"]["request_id"].is_string());
            assert_eq!(
                answer.request_id.as_deref(),
                answer.body["error"]["request_id"].as_str()
            );
        }
        let after = (
            s.order(&bob_order).await,
            s.order(&carol_order).await,
            s.get("/v1/events?limit=100", &s.platform).await.body,
            s.app.store.head().await.unwrap(),
        );
        assert_eq!(after, before, "{b}");

        // releasing twice, and acting on a cancelled order
        s.post(
            &path(&carol_order, "ship"),
            &s.carol,
            json!({"carrier": "ups", "tracking_number": "1Z"}),
        )
        .await;
        s.post(
            &path(&carol_order, "mark_delivered"),
            &s.platform,
            json!({}),
        )
        .await;
        assert_eq!(
            s.post(&path(&carol_order, "confirm_receipt"), &s.alice, json!({}))
                .await
                .status,
            StatusCode::OK
        );
        let again = s
            .post(&path(&carol_order, "confirm_receipt"), &s.alice, json!({}))
            .await;
        assert_eq!(again.body["error"]["code"], "hold_already_released", "{b}");
        let refund = s
            .post(
                &path(&bob_order, "refund"),
                &s.bob,
                json!({"amount": 5000, "currency": "usd"}),
            )
            .await;
        assert_eq!(refund.body["status"], "cancelled", "{b}: {}", refund.body);
        let ship = s
            .post(
                &path(&bob_order, "ship"),
                &s.bob,
                json!({"carrier": "x", "tracking_number": "y"}),
            )
            .await;
        assert_eq!(ship.body["error"]["code"], "order_cancelled", "{b}");

        // a declined card creates nothing
        let orders_before = s.get("/v1/orders?limit=100", &s.platform).await.body["data"]
            .as_array()
            .unwrap()
            .len();
        for (card, code) in [
            ("4000000000000002", "card_declined"),
            ("4000000000009995", "insufficient_funds"),
            ("4242424242424241", "invalid_card_number"),
        ] {
            let declined = s.checkout(card, None).await;
            assert_eq!(
                declined.body["error"]["code"], code,
                "{b}: {}",
                declined.body
            );
        }
        let orders_after = s.get("/v1/orders?limit=100", &s.platform).await.body["data"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(orders_before, orders_after, "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn retries_replay_and_concurrent_retries_pay_once() {
    for db in TestDb::all("retries_replay_and_concurrent_retries_pay_once").await {
        let s = Arc::new(Server::start(&db).await);
        let b = s.backend;
        let first = s.checkout(VISA, Some("same")).await;
        let retry = s.checkout(VISA, Some("same")).await;
        assert_eq!(first.status, StatusCode::CREATED);
        assert_eq!(
            (retry.status, retry.replayed),
            (StatusCode::CREATED, true),
            "{b}"
        );
        assert_eq!(retry.body, first.body, "{b}: the first response, replayed");
        let other = s.checkout("5555555555554444", Some("same")).await;
        assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(other.body["error"]["code"], "idempotency_key_reused");

        // 100 concurrent retries of one checkout: one payment, one set of orders
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.checkout(VISA, Some("burst")).await
            }));
        }
        let mut payments = std::collections::HashSet::new();
        for t in tasks {
            let a = t.await.unwrap();
            match a.status {
                StatusCode::CREATED => {
                    payments.insert(a.body["id"].as_str().unwrap().to_string());
                }
                StatusCode::CONFLICT => {
                    assert_eq!(a.body["error"]["code"], "idempotency_key_in_use")
                }
                other => panic!("{b}: {other} {}", a.body),
            }
        }
        assert_eq!(payments.len(), 1, "{b}: {payments:?}");
        let orders = s.get("/v1/orders?limit=100", &s.alice).await.body;
        assert_eq!(
            orders["data"].as_array().unwrap().len(),
            4,
            "{b}: two checkouts × two sellers"
        );
        // an order action replays too
        let (bob_order, _) = order_ids(&first.body);
        let ship = json!({"carrier": "dhl", "tracking_number": "JD01"}).to_string();
        let path = format!("/v1/orders/{bob_order}/ship");
        let one = s
            .send("POST", &path, &s.bob, Some("ship-1"), Some(&ship))
            .await;
        let two = s
            .send("POST", &path, &s.bob, Some("ship-1"), Some(&ship))
            .await;
        assert_eq!(
            (one.status, two.status, two.replayed),
            (StatusCode::OK, StatusCode::OK, true),
            "{b}"
        );
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn timers_fire_when_the_clock_moves() {
    for db in TestDb::all("timers_fire_when_the_clock_moves").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        // three checkouts: one never shipped, one cancelled by the buyer, one shipped
        let (never_shipped, _) = order_ids(&s.checkout(VISA, None).await.body);
        let (cancel_asked, _) = order_ids(&s.checkout(VISA, None).await.body);
        let (shipped, _) = order_ids(&s.checkout(VISA, None).await.body);
        let path = |id: &str, action: &str| format!("/v1/orders/{id}/{action}");
        s.post(&path(&cancel_asked, "request_cancel"), &s.alice, json!({}))
            .await;
        s.post(
            &path(&shipped, "ship"),
            &s.bob,
            json!({"carrier": "dhl", "tracking_number": "JD9"}),
        )
        .await;

        // two days and a minute later the seller's silence accepts the cancellation
        s.clock.advance_ms(2 * DAY + 60_000);
        let tick = scheduler::tick(&s.app, 100).await.unwrap();
        assert_eq!(tick.fired, 1, "{b}: {tick:?}");
        let o = s.order(&cancel_asked).await;
        assert_eq!(
            (o["status"].as_str(), o["amount_refunded"].as_i64()),
            (Some("cancelled"), Some(5000)),
            "{b}"
        );

        // seven days after payment the unshipped orders are cancelled and refunded
        s.clock.set_ms(T0 + 7 * DAY + 1);
        let tick = scheduler::tick(&s.app, 100).await.unwrap();
        assert_eq!(tick.fired, 4, "{b}: {tick:?}"); // never_shipped and the three orders from Carol
        let o = s.order(&never_shipped).await;
        assert_eq!(
            (o["status"].as_str(), o["amount_refunded"].as_i64()),
            (Some("cancelled"), Some(5000)),
            "{b}"
        );
        assert_eq!(
            s.order(&shipped).await["status"],
            "shipped",
            "{b}: shipping cancelled its ship-by timer"
        );

        // the delivery guarantee of the shipped order passes 30 days after shipment with no
        // delivered event: a non-delivery claim opens and the hold stays
        s.clock.set_ms(T0 + 30 * DAY + 1);
        assert_eq!(scheduler::tick(&s.app, 100).await.unwrap().fired, 1, "{b}");
        let o = s.order(&shipped).await;
        assert_eq!(
            (o["status"].as_str(), o["amount_refunded"].as_i64()),
            (Some("shipped"), Some(0)),
            "{b}"
        );
        // the seller shows no delivery within 5 days: the buyer is refunded in full
        s.clock.set_ms(T0 + 35 * DAY + 1);
        assert_eq!(scheduler::tick(&s.app, 100).await.unwrap().fired, 1, "{b}");
        let o = s.order(&shipped).await;
        assert_eq!(
            (o["status"].as_str(), o["amount_refunded"].as_i64()),
            (Some("cancelled"), Some(5000)),
            "{b}"
        );
        // nothing fires twice
        s.clock.advance_ms(365 * DAY);
        assert_eq!(
            scheduler::tick(&s.app, 100).await.unwrap(),
            scheduler::Tick::default(),
            "{b}"
        );
        assert!(
            s.app
                .store
                .due_timers(i64::MAX, 10)
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn two_nodes_fire_each_timer_once() {
    for db in TestDb::all("two_nodes_fire_each_timer_once").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let second = common::app_on(s.app.store.clone(), &s.clock, Policy::default(), None);
        for _ in 0..5 {
            s.checkout(VISA, None).await;
        }
        s.clock.set_ms(T0 + 8 * DAY);
        let (x, y) = tokio::join!(scheduler::tick(&s.app, 100), scheduler::tick(&second, 100));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.fired + y.fired, 10, "{b}: {x:?} {y:?}");
        let events = s.get("/v1/events?limit=100", &s.platform).await.body;
        let cancelled = events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "order.cancelled")
            .count();
        assert_eq!(cancelled, 10, "{b}: each order cancelled once");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn webhooks_are_signed_delivered_and_retried() {
    use std::sync::Mutex;
    for db in TestDb::all("webhooks_are_signed_delivered_and_retried").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        // a receiver that fails its first request, then accepts
        let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r, c) = (received.clone(), calls.clone());
        let receiver = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (r, c) = (r.clone(), c.clone());
                async move {
                    if c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let sig = headers["holdback-signature"].to_str().unwrap().to_string();
                    r.lock().unwrap().push((sig, body));
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, receiver).await });

        let made = s
            .post("/v1/webhook_endpoints", &s.platform, json!({"url": url}))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{b}: {}", made.body);
        let secret = made.body["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        let listed = s.get("/v1/webhook_endpoints", &s.platform).await.body;
        assert!(
            listed["data"][0]["secret"].is_null(),
            "the secret is shown once"
        );
        let refused = s
            .post(
                "/v1/webhook_endpoints",
                &s.alice,
                json!({"url": "http://x"}),
            )
            .await;
        assert_eq!(refused.body["error"]["code"], "not_permitted");
        let bad = s
            .post(
                "/v1/webhook_endpoints",
                &s.platform,
                json!({"url": "ftp://x"}),
            )
            .await;
        assert_eq!(bad.body["error"]["code"], "parameter_invalid");

        s.checkout(VISA, None).await; // payment.succeeded + 2 × order.paid
        let http = holdback_app::webhooks::http_client();
        let first = holdback_app::webhooks::tick(&s.app, &http).await.unwrap();
        assert_eq!(
            first,
            holdback_app::webhooks::Sent {
                delivered: 2,
                retrying: 1,
                failed: 0
            },
            "{b}"
        );
        // the failed one is retried after its backoff, not before
        s.clock.advance_ms(5_000);
        assert_eq!(
            holdback_app::webhooks::tick(&s.app, &http)
                .await
                .unwrap()
                .delivered,
            0,
            "{b}"
        );
        s.clock.advance_ms(6_000);
        assert_eq!(
            holdback_app::webhooks::tick(&s.app, &http)
                .await
                .unwrap()
                .delivered,
            1,
            "{b}"
        );
        assert_eq!(
            holdback_app::webhooks::tick(&s.app, &http).await.unwrap(),
            Default::default()
        );

        let got = received.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "{b}");
        let mut kinds = Vec::new();
        for (sig, body) in &got {
            let t: i64 = sig
                .split(',')
                .next()
                .unwrap()
                .strip_prefix("t=")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                sig,
                &holdback_app::webhooks::signature(&secret, t, body),
                "{b}"
            );
            let event: Value = serde_json::from_str(body).unwrap();
            kinds.push(event["type"].as_str().unwrap().to_string());
        }
        kinds.sort();
        assert_eq!(
            kinds,
            ["order.paid", "order.paid", "payment.succeeded"],
            "{b}"
        );
    }
}

#[tokio::test]
async fn test_and_live_data_never_mix() {
    for db in TestDb::all("test_and_live_data_never_mix").await {
        // with no live provider configured, a live key's checkout is refused by name and
        // changes nothing
        let s = Server::start(&db).await;
        let live = keys::create(&s.app, &Role::Platform, true).await.unwrap();
        let before = s.app.store.head().await.unwrap();
        let refused = s.checkout_with(&live).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_eq!(refused.body["error"]["code"], "livemode_unavailable");
        assert_eq!(s.app.store.head().await.unwrap(), before);
        assert_eq!(s.get("/v1/orders", &live).await.body["data"], json!([]));
        drop(s);

        let s = Server::builder(&db)
            .live(Arc::new(LiveProvider))
            .start()
            .await;
        let b = s.backend;
        assert!(live.starts_with("sk_live_"));
        let (bob_order, _) = order_ids(&s.checkout(VISA, None).await.body);
        assert_eq!(s.order(&bob_order).await["livemode"], false, "{b}");
        let seen = s.get(&format!("/v1/orders/{bob_order}"), &live).await;
        assert_eq!(seen.status, StatusCode::NOT_FOUND, "{b}");
        let listed = s.get("/v1/orders", &live).await.body;
        assert_eq!(listed["data"].as_array().unwrap().len(), 0, "{b}");
        let acted = s
            .post(
                &format!("/v1/orders/{bob_order}/mark_delivered"),
                &live,
                json!({}),
            )
            .await;
        assert_eq!(acted.status, StatusCode::NOT_FOUND, "{b}");
        // the cart's parties exist in test mode only: a live checkout names them as unknown
        let before = s.app.store.head().await.unwrap();
        let unknown = s.checkout_with(&live).await;
        assert_eq!(unknown.body["error"]["code"], "unknown_party", "{b}");
        assert_eq!(unknown.body["error"]["param"], "buyer", "{b}");
        assert_eq!(s.app.store.head().await.unwrap(), before, "{b}");
        for (path, id) in [
            ("/v1/buyers", "buy_alice"),
            ("/v1/sellers", "sel_bob"),
            ("/v1/sellers", "sel_carol"),
        ] {
            let created = s
                .post(path, &live, json!({"id": id, "country": "DE"}))
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{b}: {}", created.body);
        }
        // a live checkout makes live orders: the live key sees them, the test key does not
        let live_paid = s.checkout_with(&live).await;
        assert_eq!(
            live_paid.status,
            StatusCode::CREATED,
            "{b}: {}",
            live_paid.body
        );
        assert_eq!(live_paid.body["livemode"], true, "{b}");
        let (live_order, _) = order_ids(&live_paid.body);
        let seen = s.get(&format!("/v1/orders/{live_order}"), &live).await;
        assert_eq!(seen.body["livemode"], true, "{b}: {}", seen.body);
        assert_eq!(
            s.get(&format!("/v1/orders/{live_order}"), &s.platform)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            s.get("/v1/orders", &live).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "{b}"
        );
        // and its events are live events, apart from the test ones
        let live_events = s.get("/v1/events?limit=100", &live).await.body;
        let live_events = live_events["data"].as_array().unwrap();
        assert_eq!(
            live_events.len(),
            3,
            "{b}: payment.succeeded and two order.paid"
        );
        assert!(live_events.iter().all(|e| e["livemode"] == true), "{b}");
        let test_events = s.get("/v1/events?limit=100", &s.platform).await.body;
        assert!(
            test_events["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["livemode"] == false),
            "{b}"
        );
        // webhook endpoints belong to their mode too
        let test_hook = s
            .post(
                "/v1/webhook_endpoints",
                &s.platform,
                json!({"url": "http://127.0.0.1:9/t"}),
            )
            .await;
        assert_eq!(test_hook.status, StatusCode::CREATED, "{b}");
        let live_hooks = s.get("/v1/webhook_endpoints", &live).await.body;
        assert_eq!(
            live_hooks["data"].as_array().unwrap().len(),
            0,
            "{b}: {live_hooks}"
        );
        let test_hooks = s.get("/v1/webhook_endpoints", &s.platform).await.body;
        assert_eq!(test_hooks["data"].as_array().unwrap().len(), 1, "{b}");
        // a test key presented as live is refused
        let forged = s.platform.replacen("sk_test_", "sk_live_", 1);
        assert_eq!(
            s.get("/v1/orders", &forged).await.status,
            StatusCode::UNAUTHORIZED,
            "{b}"
        );
    }
}

#[tokio::test]
async fn health_and_metrics() {
    let db = TestDb::sqlite();
    let s = Server::start(&db).await;
    let health = holdback_app::webhooks::http_client()
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    s.checkout(VISA, None).await;
    s.get("/v1/orders/ord_missing", &s.platform).await;
    let text = holdback_app::webhooks::http_client()
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
    };
    assert!(
        value("holdback_http_responses_total{class=\"2xx\"}") >= 2.0,
        "{text}"
    );
    assert!(
        value("holdback_http_responses_total{class=\"4xx\"}") >= 1.0,
        "{text}"
    );
    assert!(value("holdback_ledger_commits_total") >= 1.0, "{text}");
    assert!(value("holdback_ledger_requests_total") >= value("holdback_ledger_commits_total"));
}

#[tokio::test]
async fn responses_match_the_openapi_document() {
    let db = TestDb::sqlite();
    let s = Server::start(&db).await;
    let served: Value = holdback_app::webhooks::http_client()
        .get(format!("{}/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let generated: Value =
        serde_json::from_str(&holdback_http::openapi().to_json().unwrap()).unwrap();
    assert_eq!(served, generated);
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let schema = |name: &str| keys(&served["components"]["schemas"][name]["properties"]);
    let paid = s.checkout(VISA, None).await.body;
    assert_eq!(keys(&paid), schema("Payment"));
    assert_eq!(keys(&paid["orders"][0]), schema("Order"));
    let error = s.get("/v1/orders/ord_missing", &s.platform).await.body;
    assert_eq!(keys(&error["error"]), schema("ErrorDetail"));
}

#[tokio::test]
async fn pagination_goes_both_ways() {
    for db in TestDb::all("pagination_goes_both_ways").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        for _ in 0..5 {
            s.checkout(VISA, None).await;
        }
        let ids = |page: &Value| -> Vec<String> {
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect()
        };
        for (list, total) in [("/v1/orders", 10), ("/v1/events", 15), ("/v1/payments", 5)] {
            // forward, three at a time
            let mut forward = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let path = match &after {
                    Some(a) => format!("{list}?limit=3&starting_after={a}"),
                    None => format!("{list}?limit=3"),
                };
                let page = s.get(&path, &s.platform).await.body;
                forward.extend(ids(&page));
                after = forward.last().cloned();
                if page["has_more"] == false {
                    break;
                }
            }
            assert_eq!(forward.len(), total, "{b} {list}");
            let mut sorted = forward.clone();
            sorted.dedup();
            assert_eq!(sorted.len(), total, "{b} {list}: no object twice");
            // backward from the end, three at a time, gives the same in the same order
            let mut backward: Vec<String> = vec![forward.last().unwrap().clone()];
            loop {
                let page = s
                    .get(
                        &format!("{list}?limit=3&ending_before={}", backward[0]),
                        &s.platform,
                    )
                    .await
                    .body;
                let mut got = ids(&page);
                got.extend(backward);
                backward = got;
                if page["has_more"] == false {
                    break;
                }
            }
            assert_eq!(backward, forward, "{b} {list}");
            // both cursors: the objects between them, a page at a time
            let (first, last) = (&forward[0], &forward[total - 1]);
            let mut between: Vec<String> = Vec::new();
            loop {
                let after = between.last().unwrap_or(first);
                let page = s
                    .get(
                        &format!("{list}?limit=2&starting_after={after}&ending_before={last}"),
                        &s.platform,
                    )
                    .await
                    .body;
                between.extend(ids(&page));
                if page["has_more"] == false {
                    break;
                }
            }
            assert_eq!(between, forward[1..total - 1], "{b} {list}: between");
            if list == "/v1/payments" {
                // a buyer lists its own payments; a seller reads money through its orders
                let own = s.get("/v1/payments?limit=100", &s.alice).await.body;
                assert_eq!(ids(&own), forward, "{b}");
                let other = s.get("/v1/payments?limit=100", &s.dave).await.body;
                assert!(ids(&other).is_empty(), "{b}");
                let seller = s.get("/v1/payments", &s.bob).await;
                assert_eq!(seller.body["error"]["code"], "not_permitted", "{b}");
            }
            for bad in ["limit=abc", "limit=0", "limit=101", "colour=red"] {
                let answer = s.get(&format!("{list}?{bad}"), &s.platform).await;
                assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{b} {list}?{bad}");
                assert_eq!(
                    answer.body["error"]["code"], "parameter_invalid",
                    "{b} {list}?{bad}"
                );
            }
        }
    }
}

#[tokio::test]
async fn buyers_check_out_catalog_products_with_a_shipping_method() {
    for db in TestDb::all("buyers_check_out_catalog_products").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let tea = s
            .post("/v1/products", &s.platform, json!({"seller": "sel_bob", "name": "Tea set", "unit_amount": 2500, "currency": "usd"}))
            .await;
        assert_eq!(tea.status, StatusCode::CREATED, "{b}: {}", tea.body);
        let scarf = s
            .post(
                "/v1/products",
                &s.carol,
                json!({"name": "Scarf", "unit_amount": 1999, "currency": "usd"}),
            )
            .await;
        assert_eq!(
            (scarf.status, scarf.body["seller"].as_str()),
            (StatusCode::CREATED, Some("sel_carol")),
            "{b}"
        );
        let theft = s
            .post(
                "/v1/products",
                &s.carol,
                json!({"seller": "sel_bob", "name": "X", "unit_amount": 1, "currency": "usd"}),
            )
            .await;
        assert_eq!(theft.body["error"]["code"], "not_permitted", "{b}");
        let listed = s.get("/v1/products?seller=sel_bob", &s.alice).await.body;
        assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{b}");

        let (tea_id, scarf_id) = (
            tea.body["id"].as_str().unwrap(),
            scarf.body["id"].as_str().unwrap(),
        );
        let card = json!({"number": VISA, "exp_month": 12, "exp_year": 2030, "cvc": "123"});
        let cart = json!({
            "buyer": "buy_alice", "currency": "usd",
            "items": [{"product": tea_id, "quantity": 2}, {"product": scarf_id, "quantity": 1}],
            "shipping_methods": {"sel_bob": "express"},
            "card": card,
        });
        let paid = s.post("/v1/checkouts", &s.alice, cart).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{b}: {}", paid.body);
        assert_eq!(paid.body["amount"], 6999, "{b}: catalog prices");
        let (bob_order, carol_order) = order_ids(&paid.body);
        assert_eq!(s.order(&carol_order).await["shipping_method"], "standard");
        assert_eq!(s.order(&bob_order).await["shipping_method"], "express");
        let shipped = s
            .post(
                &format!("/v1/orders/{bob_order}/ship"),
                &s.bob,
                json!({"carrier": "dhl", "tracking_number": "E1"}),
            )
            .await
            .body;
        let gap = shipped["protection_ends"].as_i64().unwrap()
            - shipped["shipment"]["shipped"].as_i64().unwrap();
        assert_eq!(gap, 10 * 86_400, "{b}: express protects 10 days");

        let refused = [
            (
                json!({"buyer": "buy_alice", "currency": "usd", "items": [{"seller": "sel_bob", "unit_amount": 1, "quantity": 1}], "card": card}),
                "not_permitted",
            ),
            (
                json!({"buyer": "buy_alice", "currency": "usd", "items": [{"product": "prod_nope", "quantity": 1}], "card": card}),
                "unknown_product",
            ),
            (
                json!({"buyer": "buy_alice", "currency": "eur", "items": [{"product": tea_id, "quantity": 1}], "card": card}),
                "currency_mismatch",
            ),
            (
                json!({"buyer": "buy_alice", "currency": "usd", "items": [{"product": tea_id, "quantity": 1}], "shipping_methods": {"sel_bob": "teleport"}, "card": card}),
                "unknown_shipping_method",
            ),
            (
                json!({"buyer": "buy_alice", "currency": "usd", "items": [{"product": tea_id, "seller": "sel_bob", "quantity": 1}], "card": card}),
                "parameter_invalid",
            ),
        ];
        for (cart, code) in refused {
            let answer = s.post("/v1/checkouts", &s.alice, cart).await;
            assert_eq!(answer.body["error"]["code"], code, "{b}: {}", answer.body);
        }
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn extensions_and_cancellation_answers_over_the_api() {
    for db in TestDb::all("extensions_and_cancellation_answers_over_the_api").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let (bob_order, carol_order) = order_ids(&s.checkout(VISA, None).await.body);
        let path = |id: &str, action: &str| format!("/v1/orders/{id}/{action}");

        // the seller rejects a cancellation request: the order stays paid, the timer is gone
        s.post(&path(&carol_order, "request_cancel"), &s.alice, json!({}))
            .await;
        let again = s
            .post(&path(&carol_order, "request_cancel"), &s.alice, json!({}))
            .await;
        assert_eq!(
            again.body["error"]["code"], "cancel_already_requested",
            "{b}"
        );
        let kept = s
            .post(
                &path(&carol_order, "answer_cancel"),
                &s.carol,
                json!({"accept": false}),
            )
            .await;
        assert_eq!(
            (
                kept.body["status"].as_str(),
                kept.body["cancel_requested"].is_null()
            ),
            (Some("paid"), true),
            "{b}"
        );
        s.clock.advance_ms(3 * DAY);
        assert_eq!(
            scheduler::tick(&s.app, 100).await.unwrap().fired,
            0,
            "{b}: no cancellation fires"
        );

        // shipped at day 3: protection ends at day 33
        s.post(
            &path(&bob_order, "ship"),
            &s.bob,
            json!({"carrier": "dhl", "tracking_number": "X1"}),
        )
        .await;
        let early = s
            .post(&path(&bob_order, "extend_protection"), &s.alice, json!({}))
            .await;
        assert_eq!(early.body["error"]["code"], "extension_too_early", "{b}");
        s.clock.set_ms(T0 + 31 * DAY);
        let extended = s
            .post(&path(&bob_order, "extend_protection"), &s.alice, json!({}))
            .await;
        assert_eq!(extended.status, StatusCode::OK, "{b}: {}", extended.body);
        let ends = extended.body["protection_ends"].as_i64().unwrap();
        assert_eq!(ends, (T0 + 36 * DAY) / 1000, "{b}: 33 + 3 days");
        let twice = s
            .post(&path(&bob_order, "extend_protection"), &s.alice, json!({}))
            .await;
        assert_eq!(twice.body["error"]["code"], "extension_already_used", "{b}");

        // the buyer asks the seller for 10 more days; the seller approves
        let asked = s
            .post(
                &path(&bob_order, "request_extension"),
                &s.alice,
                json!({"days": 10}),
            )
            .await;
        assert_eq!(asked.body["extension_requested_days"], 10, "{b}");
        let approved = s
            .post(
                &path(&bob_order, "answer_extension"),
                &s.bob,
                json!({"approve": true}),
            )
            .await;
        assert_eq!(
            approved.body["protection_ends"],
            (T0 + 46 * DAY) / 1000,
            "{b}"
        );
        let not_mine = s
            .post(
                &path(&bob_order, "answer_extension"),
                &s.alice,
                json!({"approve": true}),
            )
            .await;
        assert_eq!(not_mine.body["error"]["code"], "not_permitted", "{b}");

        // by day 40 only carol's ship-by fires (never shipped); bob's old protection end passed
        // without firing, and his new one (day 46) finds the parcel never delivered: a
        // non-delivery claim opens instead of a release
        s.clock.set_ms(T0 + 40 * DAY);
        assert_eq!(
            scheduler::tick(&s.app, 100).await.unwrap().fired,
            1,
            "{b}: carol's ship-by"
        );
        assert_eq!(
            s.order(&carol_order).await["status"],
            "cancelled",
            "{b}: never shipped"
        );
        assert_eq!(s.order(&bob_order).await["status"], "shipped", "{b}");
        s.clock.set_ms(T0 + 46 * DAY);
        assert_eq!(
            scheduler::tick(&s.app, 100).await.unwrap().fired,
            1,
            "{b}: bob's protection end"
        );
        let claimed = s.order(&bob_order).await;
        assert_eq!(
            (
                claimed["status"].as_str(),
                claimed["amount_refunded"].as_i64()
            ),
            (Some("shipped"), Some(0)),
            "{b}: the hold stays while the claim is open"
        );
        assert_eq!(
            claimed["non_delivery_claim"],
            (T0 + 46 * DAY) / 1000,
            "{b}: the order shows its open claim: {claimed}"
        );
        // the carrier's delivered event answers the claim; protection goes on 15 days from it
        s.clock.set_ms(T0 + 47 * DAY);
        let delivered = s
            .post(&path(&bob_order, "mark_delivered"), &s.platform, json!({}))
            .await;
        assert_eq!(delivered.body["status"], "delivered", "{b}");
        assert!(
            delivered.body["non_delivery_claim"].is_null(),
            "{b}: answered"
        );
        s.clock.set_ms(T0 + 62 * DAY);
        assert_eq!(
            scheduler::tick(&s.app, 100).await.unwrap().fired,
            1,
            "{b}: bob's release"
        );
        assert_eq!(s.order(&bob_order).await["status"], "completed", "{b}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn one_failing_timer_does_not_stop_the_pass() {
    for db in TestDb::all("one_failing_timer_does_not_stop_the_pass").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let broken = s.checkout(VISA, None).await.body;
        let fine = s.checkout(VISA, None).await.body;
        // the first payment's row is damaged: refunding its orders cannot read it
        let sql = format!(
            "UPDATE payments SET status = 'garbled' WHERE id = '{}'",
            broken["id"].as_str().unwrap()
        );
        s.app.store.execute_raw(&sql).await.unwrap();
        s.clock.set_ms(T0 + 8 * DAY);
        let tick = scheduler::tick(&s.app, 100).await.unwrap();
        assert_eq!((tick.fired, tick.failed), (2, 2), "{b}: {tick:?}");
        let (bob, carol) = order_ids(&fine);
        for id in [bob, carol] {
            assert_eq!(s.order(&id).await["status"], "cancelled", "{b}");
        }
        let (bob, _) = order_ids(&broken);
        assert_eq!(
            s.order(&bob).await["status"],
            "paid",
            "{b}: left for a later pass"
        );
        assert_eq!(
            s.app
                .store
                .due_timers(T0 + 8 * DAY, 10)
                .await
                .unwrap()
                .len(),
            2,
            "{b}: the failed timers are still due"
        );
    }
}

#[tokio::test]
async fn products_and_webhook_endpoints_replay_under_their_key() {
    for db in TestDb::all("products_and_webhook_endpoints_replay_under_their_key").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        for (path, body, other) in [
            (
                "/v1/products",
                json!({"seller": "sel_bob", "name": "kettle", "unit_amount": 1500, "currency": "usd"}),
                json!({"seller": "sel_bob", "name": "kettle", "unit_amount": 1600, "currency": "usd"}),
            ),
            (
                "/v1/webhook_endpoints",
                json!({"url": "https://example.com/hooks"}),
                json!({"url": "https://example.com/other"}),
            ),
        ] {
            let (body, other) = (body.to_string(), other.to_string());
            let send = |body: String| {
                let s = &s;
                async move {
                    let key = format!("{path}-1");
                    s.send("POST", path, &s.platform, Some(&key), Some(&body))
                        .await
                }
            };
            let first = send(body.clone()).await;
            let retry = send(body).await;
            assert_eq!(first.status, StatusCode::CREATED, "{b}: {}", first.body);
            assert_eq!(
                (retry.status, retry.replayed, &retry.body),
                (StatusCode::CREATED, true, &first.body),
                "{b}: {path}: the first response, replayed"
            );
            assert_ne!(retry.request_id, first.request_id, "{b}");
            let reused = send(other.clone()).await;
            assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
            assert_eq!(reused.body["error"]["code"], "idempotency_key_reused");
            let list = s.get(path, &s.platform).await.body;
            let ids: Vec<&Value> = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| &o["id"])
                .filter(|id| **id == first.body["id"])
                .collect();
            assert_eq!(ids.len(), 1, "{b}: {path}: one object, {list}");
            let created = list["data"].as_array().unwrap().len();
            let again = s
                .send(
                    "POST",
                    path,
                    &s.platform,
                    Some(&format!("{path}-2")),
                    Some(&other),
                )
                .await;
            assert_eq!(
                again.status,
                StatusCode::CREATED,
                "{b}: a new key, a new object"
            );
            let after = s.get(path, &s.platform).await.body;
            assert_eq!(after["data"].as_array().unwrap().len(), created + 1, "{b}");
        }
    }
}

#[tokio::test]
async fn http_details_keep_the_documented_shape() {
    for db in TestDb::all("http_details_keep_the_documented_shape").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        // the Bearer scheme in any case
        let res = s
            .http
            .get(format!("{}/v1/orders", s.base))
            .header("authorization", format!("bEaReR {}", s.platform))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{b}");
        // a 401 says how to authenticate
        let res = s
            .http
            .get(format!("{}/v1/orders", s.base))
            .header("authorization", "Basic dXNlcjpwYXNz")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{b}");
        assert!(
            res.headers()
                .get("www-authenticate")
                .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer")),
            "{b}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_api_key", "{b}");
        // a body over the limit answers the documented error body
        let res = s
            .http
            .post(format!("{}/v1/checkouts", s.base))
            .header("authorization", format!("Bearer {}", s.platform))
            .header("content-type", "application/json")
            .body(vec![b' '; 3 << 20])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{b}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "request_too_large", "{b}");
        assert!(body["error"]["request_id"].is_string(), "{b}");
        // a zero refund is named as such, and changes nothing
        let (order, _) = order_ids(&s.checkout(VISA, None).await.body);
        let before = (s.order(&order).await, s.app.store.head().await.unwrap());
        let zero = s
            .post(
                &format!("/v1/orders/{order}/refund"),
                &s.platform,
                json!({"amount": 0, "currency": "usd"}),
            )
            .await;
        assert_eq!(
            zero.body["error"]["code"], "zero_amount",
            "{b}: {}",
            zero.body
        );
        assert_eq!(
            (s.order(&order).await, s.app.store.head().await.unwrap()),
            before,
            "{b}"
        );
        // headers over the limit answer the documented error body (431)
        for (fields, size) in [(1, 17 * 1024), (70, 10)] {
            let mut req = s
                .http
                .get(format!("{}/v1/orders", s.base))
                .header("authorization", format!("Bearer {}", s.platform));
            for i in 0..fields {
                req = req.header(format!("x-filler-{i}"), "x".repeat(size));
            }
            let res = req.send().await.unwrap();
            assert_eq!(
                res.status(),
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "{b}"
            );
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "request_header_too_large", "{b}");
            assert!(body["error"]["request_id"].is_string(), "{b}");
        }
        // a checkout of exactly the policy's most per checkout is accepted
        let at_most = s
            .post(
                "/v1/checkouts",
                &s.platform,
                json!({"buyer": "buy_alice", "currency": "usd",
                       "items": [{"seller": "sel_bob", "unit_amount": 1_000_000, "quantity": 1}],
                       "card": {"number": VISA, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}),
            )
            .await;
        assert_eq!(at_most.status, StatusCode::CREATED, "{b}: {}", at_most.body);
        let before = (s.order(&order).await, s.app.store.head().await.unwrap());
        // a body that is not declared JSON is refused (415), and changes nothing
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut req = s
                .http
                .post(format!("{}/v1/orders/{order}/ship", s.base))
                .header("authorization", format!("Bearer {}", s.platform))
                .body(r#"{"carrier":"dhl","tracking_number":"JD1"}"#);
            if let Some(t) = content_type {
                req = req.header("content-type", t);
            }
            let res = req.send().await.unwrap();
            assert_eq!(
                res.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{b} {content_type:?}"
            );
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unsupported_media_type", "{b}");
        }
        assert_eq!(
            (s.order(&order).await, s.app.store.head().await.unwrap()),
            before,
            "{b}"
        );
    }
}
