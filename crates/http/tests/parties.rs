//! Buyers and sellers over the API, and revoked keys: the real server on port 0, against SQLite
//! and (when `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::parties::{SellerTerms, cart_parties};
use holdback_app::{Role, keys};
use holdback_store::Revocation;
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Key, Server, T0};

/// No parties at the start (the tests here create them), and the platform's keys in both modes.
async fn start(db: &TestDb) -> Server {
    Server::builder(db)
        .keys(&[Key::Platform, Key::LivePlatform])
        .no_parties()
        .start()
        .await
}

impl Server {
    /// A test-mode key for a party that exists (`Buyer("buy_alice")`…).
    async fn key_for(&self, role: Role) -> String {
        keys::create(&self.app, &role, false).await.unwrap()
    }

    /// Every party of both kinds the platform key of this mode sees, as JSON.
    async fn everything(&self) -> Vec<Value> {
        let mut all = Vec::new();
        for list in ["/v1/buyers?limit=100", "/v1/sellers?limit=100"] {
            let page = self.get(list, &self.platform).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            all.extend(page.body["data"].as_array().unwrap().clone());
        }
        all
    }
}

/// A refused request: (path, key, body, status, code, param).
type Case<'a> = (
    &'a str,
    &'a String,
    Value,
    StatusCode,
    &'a str,
    Option<&'a str>,
);

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_platform_creates_parties_and_each_party_sees_only_itself() {
    for db in TestDb::all("the_platform_creates_parties_and_each_party_sees_only_itself").await {
        let s = start(&db).await;
        let b = s.backend;
        let alice = s
            .post(
                "/v1/buyers",
                &s.platform,
                &json!({"id": "buy_alice", "country": "DE", "region": "Berlin",
                        "phone_verified": true, "metadata": {"crm": "42"}}),
            )
            .await;
        assert_eq!(alice.status, StatusCode::CREATED, "{b}: {}", alice.body);
        assert_eq!(alice.body["object"], "buyer");
        assert_eq!(alice.body["created"], T0 / 1000);
        assert_eq!(alice.body["livemode"], false);
        assert_eq!(alice.body["region"], "Berlin");
        assert_eq!(alice.body["phone_verified"], true);
        assert_eq!(alice.body["metadata"], json!({"crm": "42"}));
        let bob = s
            .post(
                "/v1/sellers",
                &s.platform,
                &json!({"id": "sel_bob", "country": "CN", "ship_by_days": 3,
                        "commission": {"basis_points": 800, "fixed": {"amount": 30, "currency": "usd"}}}),
            )
            .await;
        assert_eq!(bob.status, StatusCode::CREATED, "{b}: {}", bob.body);
        assert_eq!(bob.body["object"], "seller");
        assert_eq!(bob.body["ship_by_days"], 3);
        assert_eq!(
            bob.body["commission"],
            json!({"basis_points": 800, "fixed": {"amount": 30, "currency": "usd"}})
        );
        let carol = s
            .post(
                "/v1/sellers",
                &s.platform,
                &json!({"id": "sel_carol", "country": "TR"}),
            )
            .await;
        assert_eq!(carol.body["ship_by_days"], 7, "{b}: the default");
        let alice_key = s.key_for(Role::Buyer("buy_alice".into())).await;
        let bob_key = s.key_for(Role::Seller("sel_bob".into())).await;
        assert_eq!(carol.body["commission"], Value::Null);
        assert_eq!(carol.body["phone_verified"], false);
        assert_eq!(carol.body["region"], Value::Null);

        // the objects have the documented fields
        let doc: Value =
            serde_json::from_str(&holdback_http::openapi().to_json().unwrap()).unwrap();
        let keys_of = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        for (object, name) in [(&alice.body, "Buyer"), (&bob.body, "Seller")] {
            let documented = &doc["components"]["schemas"][name]["properties"];
            assert_eq!(keys_of(object), keys_of(documented), "{name}");
        }
        // reads give back what was created
        let got = s.get("/v1/sellers/sel_bob", &s.platform).await;
        assert_eq!(got.body, bob.body, "{b}");
        assert_eq!(
            s.get("/v1/buyers/buy_alice", &alice_key).await.body,
            alice.body
        );
        assert_eq!(s.get("/v1/sellers/sel_bob", &bob_key).await.body, bob.body);
        // the platform lists everything of its mode
        let sellers = s.get("/v1/sellers", &s.platform).await.body;
        assert_eq!(sellers["object"], "list");
        assert_eq!(sellers["url"], "/v1/sellers");
        assert_eq!(ids(&sellers), ["sel_bob", "sel_carol"]);

        // others, the other mode and missing ones all answer 404
        for (path, key) in [
            ("/v1/sellers/sel_carol", &bob_key),
            ("/v1/buyers/buy_alice", &bob_key),
            ("/v1/sellers/sel_bob", &alice_key),
            ("/v1/sellers/sel_bob", &s.live_platform),
            ("/v1/buyers/buy_nobody", &s.platform),
        ] {
            let answer = s.get(path, key).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{b} {path}");
            assert_eq!(answer.body["error"]["code"], "resource_missing");
        }
        // a party's list holds only itself; the other kind's list is empty
        assert_eq!(ids(&s.get("/v1/sellers", &bob_key).await.body), ["sel_bob"]);
        assert!(ids(&s.get("/v1/sellers", &alice_key).await.body).is_empty());
        assert!(ids(&s.get("/v1/buyers", &s.live_platform).await.body).is_empty());

        // the seller's terms, as checkout reads them with the cart's buyer
        let (buyer, terms) = cart_parties(&s.app, false, "buy_alice", &["sel_bob"])
            .await
            .unwrap();
        assert_eq!(buyer.id, "buy_alice", "{b}");
        assert_eq!(
            terms["sel_bob"],
            SellerTerms {
                ship_by_days: Some(3),
                commission: Some((
                    800,
                    Some(
                        holdback_domain::Money::from_minor(
                            30,
                            holdback_domain::Currency::parse("usd").unwrap()
                        )
                        .unwrap()
                    )
                )),
            }
        );
        // a party that does not exist in the mode is named as unknown, by its parameter
        for (id, live, param) in [("sel_bob", true, "buyer"), ("sel_nobody", false, "items")] {
            let e = cart_parties(&s.app, live, "buy_alice", &[id])
                .await
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    holdback_app::AppError::Rejected {
                        code: holdback_domain::ErrorCode::UnknownParty,
                        param: Some(p),
                        ..
                    } if p == param
                ),
                "{b} {id}: {e:?}"
            );
        }

        // checkout applies them: Bob ships within 3 days and pays 8 % + USD 0.30 at release
        let paid = s
            .post(
                "/v1/checkouts",
                &s.platform,
                &json!({"buyer": "buy_alice", "currency": "usd",
                        "items": [{"seller": "sel_bob", "unit_amount": 10_000, "quantity": 1}],
                        "card": {"number": "4242424242424242", "exp_month": 12,
                                 "exp_year": 2030, "cvc": "123"}}),
            )
            .await;
        assert_eq!(paid.status, StatusCode::CREATED, "{b}: {}", paid.body);
        let order = &paid.body["orders"][0];
        assert_eq!(
            order["ship_by"].as_i64().unwrap() - order["created"].as_i64().unwrap(),
            3 * 86_400,
            "{b}"
        );
        let id = order["id"].as_str().unwrap();
        for (action, key) in [
            ("ship", &bob_key),
            ("mark_delivered", &s.platform),
            ("confirm_receipt", &alice_key),
        ] {
            let body = if action == "ship" {
                json!({"carrier": "dhl", "tracking_number": "JD1"})
            } else {
                json!({})
            };
            let done = s
                .post(&format!("/v1/orders/{id}/{action}"), key, &body)
                .await;
            assert_eq!(done.status, StatusCode::OK, "{b} {action}: {}", done.body);
        }
        let order = s.get(&format!("/v1/orders/{id}"), &s.platform).await.body;
        assert_eq!(
            order["release"],
            json!({"amount_to_seller": 10_000 - 830, "commission": 830}),
            "{b}"
        );
    }
}

/// A buyer's country may promise a delivery window of its own: 90 days to Russia by default,
/// whatever the shipping method says.
#[tokio::test]
async fn the_buyers_country_sets_the_delivery_guarantee() {
    for db in TestDb::all("the_buyers_country_sets_the_delivery_guarantee").await {
        let s = Server::start(&db).await;
        let b = db.backend();
        let buyer = json!({"id": "buy_ivan", "country": "RU"});
        let created = s.post("/v1/buyers", &s.platform, &buyer).await;
        assert_eq!(created.status, StatusCode::CREATED, "{b}: {}", created.body);
        let mut protection = Vec::new();
        for who in ["buy_ivan", "buy_alice"] {
            let paid = s
                .post(
                    "/v1/checkouts",
                    &s.platform,
                    &json!({"buyer": who, "currency": "usd",
                            "items": [{"seller": "sel_bob", "unit_amount": 1_000, "quantity": 1}],
                            "card": {"number": "4242424242424242", "exp_month": 12,
                                     "exp_year": 2030, "cvc": "123"}}),
                )
                .await;
            assert_eq!(paid.status, StatusCode::CREATED, "{b}: {}", paid.body);
            let id = paid.body["orders"][0]["id"].as_str().unwrap().to_string();
            let body = json!({"carrier": "dhl", "tracking_number": "JD1"});
            let shipped = s
                .post(&format!("/v1/orders/{id}/ship"), &s.platform, &body)
                .await;
            let ends = shipped.body["protection_ends"].as_i64().unwrap();
            protection.push(ends - shipped.body["shipment"]["shipped"].as_i64().unwrap());
        }
        // to Russia 90 days, to Germany the standard method's 30
        assert_eq!(protection, [90 * 86_400, 30 * 86_400], "{b}");
    }
}

#[tokio::test]
async fn every_bad_party_is_refused_by_name_and_changes_nothing() {
    for db in TestDb::all("every_bad_party_is_refused_by_name_and_changes_nothing").await {
        let s = start(&db).await;
        let b = s.backend;
        let first = s
            .post(
                "/v1/sellers",
                &s.platform,
                &json!({"id": "sel_bob", "country": "CN"}),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{b}: {}", first.body);
        let alice = s
            .post(
                "/v1/buyers",
                &s.platform,
                &json!({"id": "buy_alice", "country": "DE"}),
            )
            .await;
        assert_eq!(alice.status, StatusCode::CREATED, "{b}: {}", alice.body);
        let alice_key = s.key_for(Role::Buyer("buy_alice".into())).await;
        let bob_key = s.key_for(Role::Seller("sel_bob".into())).await;
        let before = s.everything().await;
        let metadata: serde_json::Map<String, Value> =
            (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
        let long_id = "s".repeat(33);
        let bogus = "sk_test_0000000000000000_nope".to_string();
        let cases: Vec<Case> = vec![
            (
                "/v1/sellers",
                &s.platform,
                json!({"id": long_id, "country": "CN"}),
                StatusCode::BAD_REQUEST,
                "invalid_party_id",
                Some("id"),
            ),
            (
                "/v1/buyers",
                &s.platform,
                json!({"id": "buy:x", "country": "CN"}),
                StatusCode::BAD_REQUEST,
                "invalid_party_id",
                Some("id"),
            ),
            (
                "/v1/buyers",
                &s.platform,
                json!({"id": "", "country": "CN"}),
                StatusCode::BAD_REQUEST,
                "invalid_party_id",
                Some("id"),
            ),
            (
                "/v1/buyers",
                &s.platform,
                json!({"id": "buy_x", "country": "de"}),
                StatusCode::BAD_REQUEST,
                "invalid_country",
                Some("country"),
            ),
            (
                "/v1/buyers",
                &s.platform,
                json!({"id": "buy_x", "country": "DEU"}),
                StatusCode::BAD_REQUEST,
                "invalid_country",
                Some("country"),
            ),
            (
                "/v1/buyers",
                &s.platform,
                json!({"id": "buy_x", "country": "DE", "region": "r".repeat(65)}),
                StatusCode::BAD_REQUEST,
                "invalid_region",
                Some("region"),
            ),
            (
                "/v1/buyers",
                &s.platform,
                json!({"id": "buy_x", "country": "DE", "metadata": metadata}),
                StatusCode::BAD_REQUEST,
                "invalid_metadata",
                Some("metadata"),
            ),
            (
                "/v1/buyers",
                &s.platform,
                json!({"id": "buy_x", "country": "DE", "ship_by_days": 5}),
                StatusCode::BAD_REQUEST,
                "unknown_parameter",
                Some("ship_by_days"),
            ),
            (
                "/v1/buyers",
                &s.platform,
                json!({"country": "DE"}),
                StatusCode::BAD_REQUEST,
                "parameter_missing",
                Some("id"),
            ),
            (
                "/v1/sellers",
                &s.platform,
                json!({"id": "sel_x", "country": "DE", "ship_by_days": 11}),
                StatusCode::BAD_REQUEST,
                "ship_by_days_out_of_range",
                Some("ship_by_days"),
            ),
            (
                "/v1/sellers",
                &s.platform,
                json!({"id": "sel_x", "country": "DE", "ship_by_days": 2}),
                StatusCode::BAD_REQUEST,
                "ship_by_days_out_of_range",
                Some("ship_by_days"),
            ),
            (
                "/v1/sellers",
                &s.platform,
                json!({"id": "sel_x", "country": "DE", "commission": {"basis_points": 10001}}),
                StatusCode::BAD_REQUEST,
                "invalid_commission",
                Some("commission[basis_points]"),
            ),
            (
                "/v1/sellers",
                &s.platform,
                json!({"id": "sel_x", "country": "DE",
                "commission": {"basis_points": 100, "fixed": {"amount": -1, "currency": "usd"}}}),
                StatusCode::BAD_REQUEST,
                "invalid_commission",
                Some("commission[fixed][amount]"),
            ),
            (
                "/v1/sellers",
                &s.platform,
                json!({"id": "sel_x", "country": "DE",
                "commission": {"basis_points": 100, "fixed": {"amount": 1, "currency": "xyz"}}}),
                StatusCode::BAD_REQUEST,
                "unknown_currency",
                Some("commission[fixed][currency]"),
            ),
            (
                "/v1/sellers",
                &s.platform,
                json!({"id": "sel_bob", "country": "DE"}),
                StatusCode::CONFLICT,
                "party_exists",
                Some("id"),
            ),
            (
                "/v1/sellers",
                &bob_key,
                json!({"id": "sel_x", "country": "DE"}),
                StatusCode::FORBIDDEN,
                "not_permitted",
                None,
            ),
            (
                "/v1/buyers",
                &alice_key,
                json!({"id": "buy_x", "country": "DE"}),
                StatusCode::FORBIDDEN,
                "not_permitted",
                None,
            ),
            (
                "/v1/buyers",
                &bogus,
                json!({"id": "buy_x", "country": "DE"}),
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                None,
            ),
        ];
        for (path, key, body, status, code, param) in cases {
            let answer = s.post(path, key, &body).await;
            assert_eq!(answer.status, status, "{b} {path} {body}: {}", answer.body);
            assert_eq!(answer.body["error"]["code"], code, "{b} {path} {body}");
            assert_eq!(
                answer.body["error"]["param"].as_str(),
                param,
                "{b} {path} {body}"
            );
            assert!(!answer.body["error"]["message"].as_str().unwrap().is_empty());
        }
        assert_eq!(s.everything().await, before, "{b}: nothing changed");
        // both cursors are a window (between a and b), not a refusal
        for bad in ["limit=abc", "limit=0", "colour=red"] {
            let answer = s.get(&format!("/v1/buyers?{bad}"), &s.platform).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{b} {bad}");
            assert_eq!(answer.body["error"]["code"], "parameter_invalid");
        }
    }
}

#[tokio::test]
async fn a_retried_creation_replays_and_a_reused_key_is_refused() {
    for db in TestDb::all("a_retried_creation_replays_and_a_reused_key_is_refused").await {
        let s = start(&db).await;
        let b = s.backend;
        let body = json!({"id": "buy_zoe", "country": "BR"}).to_string();
        let first = s
            .send("POST", "/v1/buyers", &s.platform, Some("p-1"), Some(&body))
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{b}: {}", first.body);
        assert!(!first.replayed);
        let again = s
            .send("POST", "/v1/buyers", &s.platform, Some("p-1"), Some(&body))
            .await;
        assert_eq!(again.status, StatusCode::CREATED, "{b}: {}", again.body);
        assert!(again.replayed, "{b}");
        assert_eq!(again.body, first.body);
        let other = json!({"id": "buy_yan", "country": "BR"}).to_string();
        let reused = s
            .send("POST", "/v1/buyers", &s.platform, Some("p-1"), Some(&other))
            .await;
        assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(reused.body["error"]["code"], "idempotency_key_reused");
        // without a key, the same creation again is a duplicate
        let dup = s
            .send("POST", "/v1/buyers", &s.platform, None, Some(&body))
            .await;
        assert_eq!(dup.body["error"]["code"], "party_exists", "{b}");
        assert_eq!(
            ids(&s.get("/v1/buyers", &s.platform).await.body),
            ["buy_zoe"]
        );
        // the same id may exist once in each mode
        let live = s
            .send("POST", "/v1/buyers", &s.live_platform, None, Some(&body))
            .await;
        assert_eq!(live.status, StatusCode::CREATED, "{b}: {}", live.body);
        assert_eq!(live.body["livemode"], true);
    }
}

#[tokio::test]
async fn sellers_page_both_ways() {
    for db in TestDb::all("sellers_page_both_ways").await {
        let s = start(&db).await;
        let b = s.backend;
        let all: Vec<String> = (0..7).map(|i| format!("sel_{i}")).collect();
        for id in all.iter().rev() {
            let created = s
                .post(
                    "/v1/sellers",
                    &s.platform,
                    &json!({"id": id, "country": "CN"}),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{b}");
        }
        let mut forward = Vec::new();
        let mut path = "/v1/sellers?limit=3".to_string();
        loop {
            let page = s.get(&path, &s.platform).await.body;
            forward.extend(ids(&page));
            if page["has_more"] == false {
                break;
            }
            path = format!(
                "/v1/sellers?limit=3&starting_after={}",
                forward.last().unwrap()
            );
        }
        assert_eq!(forward, all, "{b}");
        let mut backward = vec![all[6].clone()];
        loop {
            let page = s
                .get(
                    &format!("/v1/sellers?limit=3&ending_before={}", backward[0]),
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
        assert_eq!(backward, all, "{b}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_its_next_request() {
    for db in TestDb::all("a_revoked_key_is_refused_on_its_next_request").await {
        let s = start(&db).await;
        let b = s.backend;
        let created = s
            .post(
                "/v1/sellers",
                &s.platform,
                &json!({"id": "sel_bob", "country": "CN"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{b}: {}", created.body);
        let bob = s.key_for(Role::Seller("sel_bob".into())).await;
        let id = bob.split('_').nth(2).unwrap().to_string();
        let before = s.get("/v1/sellers", &bob).await;
        assert_eq!(before.status, StatusCode::OK, "{b}");
        assert_eq!(
            keys::revoke(&s.app, &id).await.unwrap(),
            Revocation::Revoked
        );
        let after = s.get("/v1/sellers", &bob).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{b}");
        assert_eq!(after.body["error"]["code"], "invalid_api_key");
        assert!(matches!(
            keys::revoke(&s.app, &id).await.unwrap(),
            Revocation::AlreadyRevoked(T0)
        ));
        assert_eq!(
            keys::revoke(&s.app, "ffffffffffffffff").await.unwrap(),
            Revocation::Unknown
        );
        // the other keys still work
        assert_eq!(
            s.get("/v1/sellers", &s.platform).await.status,
            StatusCode::OK
        );
        let listed = keys::list(&s.app).await.unwrap();
        assert_eq!(listed.len(), 3, "{b}: the platform's two and bob's");
        assert_eq!(
            listed.iter().filter(|k| k.revoked_at.is_some()).count(),
            1,
            "{b}"
        );
    }
}
