//! A mediator's key: it authenticates as the mediator (who is no party), and until disputes are
//! stored it sees nothing (orders, payments, refunds, messages, parties and products answer as
//! missing or as an empty list) and is refused what a buyer is refused (checkout for a buyer,
//! products, parties, events, webhook endpoints). The real server on port 0, against SQLite and
//! (when `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::{AppError, Role, keys};
use holdback_domain::ErrorCode;
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Server, VISA};

impl Server {
    /// The status and error code of a refused request (`None` for a success).
    async fn refusal(&self, method: &str, path: &str, key: &str, body: Option<&Value>) -> Refusal {
        let body = body.map(Value::to_string);
        let a = self.send(method, path, key, None, body.as_deref()).await;
        let code = a.body["error"]["code"].as_str().map(str::to_string);
        (a.status, code)
    }
}

type Refusal = (StatusCode, Option<String>);

fn refused(status: StatusCode, code: &str) -> Refusal {
    (status, Some(code.to_string()))
}

fn ids(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_mediator_key_authenticates_and_sees_no_orders() {
    for db in TestDb::all("a_mediator_key_authenticates_and_sees_no_orders").await {
        let b = db.backend();
        let s = Server::start(&db).await;
        // no party med_erin exists, and none is needed
        let erin = keys::create(&s.app, &Role::Mediator("med_erin".into()), false)
            .await
            .unwrap();
        assert!(erin.starts_with("sk_test_"), "{b}: {erin}");
        let who = keys::authenticate(&s.app, &erin).await.unwrap();
        assert_eq!(who.role, Role::Mediator("med_erin".into()), "{b}");
        assert!(!who.livemode, "{b}");

        // Alice's cart: a payment, an order each for Bob and Carol, a product in the catalog
        let paid = s
            .post("/v1/checkouts", &s.platform, common::cart(VISA))
            .await;
        assert_eq!(paid.status, StatusCode::CREATED, "{b}: {}", paid.body);
        let payment = paid.body["id"].as_str().unwrap().to_string();
        let order = paid.body["orders"][0]["id"].as_str().unwrap().to_string();
        let product = json!({"seller": "sel_bob", "name": "Teapot", "unit_amount": 4200,
                             "currency": "usd"});
        let added = s.post("/v1/products", &s.platform, &product).await;
        assert_eq!(added.status, StatusCode::CREATED, "{b}: {}", added.body);

        // the platform sees them; the mediator sees empty lists
        for list in ["/v1/orders", "/v1/payments", "/v1/products"] {
            let all = s.get(list, &s.platform).await;
            assert_eq!(all.status, StatusCode::OK, "{b}: {list}: {}", all.body);
            assert!(!ids(&all.body).is_empty(), "{b}: {list}: {}", all.body);
            let mine = s.get(list, &erin).await;
            assert_eq!(mine.status, StatusCode::OK, "{b}: {list}: {}", mine.body);
            assert_eq!(ids(&mine.body), Vec::<&str>::new(), "{b}: {list}");
            assert_eq!(mine.body["has_more"], false, "{b}: {list}");
        }
        for list in ["/v1/buyers", "/v1/sellers"] {
            let mine = s.get(list, &erin).await;
            assert_eq!(mine.status, StatusCode::OK, "{b}: {list}: {}", mine.body);
            assert_eq!(ids(&mine.body), Vec::<&str>::new(), "{b}: {list}");
        }

        // what exists answers as missing, as to a stranger
        let missing = refused(StatusCode::NOT_FOUND, "resource_missing");
        let reads = [
            format!("/v1/orders/{order}"),
            format!("/v1/orders/{order}/messages"),
            format!("/v1/orders/{order}/messages/export"),
            format!("/v1/payments/{payment}"),
            "/v1/buyers/buy_alice".to_string(),
            "/v1/sellers/sel_bob".to_string(),
        ];
        for path in &reads {
            let seen = s.get(path, &s.platform).await;
            assert_eq!(seen.status, StatusCode::OK, "{b}: {path}: {}", seen.body);
            assert_eq!(
                s.refusal("GET", path, &erin, None).await,
                missing,
                "{b}: {path}"
            );
        }
        // and so do the order's actions and its message record
        let ship = json!({"carrier": "dhl", "tracking_number": "JD1"});
        let message = json!({"body": "I decide this."});
        for (path, body) in [
            (format!("/v1/orders/{order}/ship"), &ship),
            (format!("/v1/orders/{order}/mark_delivered"), &json!({})),
            (format!("/v1/orders/{order}/messages"), &message),
        ] {
            let got = s.refusal("POST", &path, &erin, Some(body)).await;
            assert_eq!(got, missing, "{b}: {path}");
        }

        // refused by name, as a buyer is
        let forbidden = refused(StatusCode::FORBIDDEN, "not_permitted");
        let seller = json!({"id": "sel_erin", "country": "DE"});
        for (method, path, body) in [
            ("POST", "/v1/checkouts", Some(common::cart(VISA))),
            ("POST", "/v1/products", Some(product.clone())),
            ("POST", "/v1/sellers", Some(seller)),
            ("GET", "/v1/events", None),
            ("GET", "/v1/refunds", None),
            ("GET", "/v1/webhook_endpoints", None),
        ] {
            let got = s.refusal(method, path, &erin, body.as_ref()).await;
            assert_eq!(got, forbidden, "{b}: {method} {path}");
        }
        // the mediator's checkout made nothing
        let orders = s.get("/v1/orders", &s.platform).await;
        assert_eq!(ids(&orders.body).len(), 2, "{b}: {}", orders.body);
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn a_mediator_id_is_shaped_like_a_party_id() {
    for db in TestDb::all("a_mediator_id_is_shaped_like_a_party_id").await {
        let b = db.backend();
        let s = Server::start(&db).await;
        let too_long = "m".repeat(33);
        for (id, code) in [
            ("", ErrorCode::InvalidId),
            ("med erin", ErrorCode::InvalidId),
            // an account id, but not a party id
            ("med:erin", ErrorCode::InvalidPartyId),
            ("med.erin", ErrorCode::InvalidPartyId),
            (too_long.as_str(), ErrorCode::InvalidPartyId),
        ] {
            match keys::create(&s.app, &Role::Mediator(id.to_string()), false).await {
                Err(AppError::Rejected { code: got, .. }) => assert_eq!(got, code, "{b}: {id:?}"),
                other => panic!("{b}: {id:?}: {other:?}"),
            }
        }
        let longest = "m".repeat(32);
        let key = keys::create(&s.app, &Role::Mediator(longest.clone()), true)
            .await
            .unwrap();
        assert!(key.starts_with("sk_live_"), "{b}: {key}");
        let who = keys::authenticate(&s.app, &key).await.unwrap();
        assert_eq!(
            (who.role, who.livemode),
            (Role::Mediator(longest), true),
            "{b}"
        );
        // the keys listed: the harness's six, and this one
        let listed = keys::list(&s.app).await.unwrap();
        let mediators: Vec<_> = listed
            .iter()
            .filter(|k| k.principal_kind == "mediator")
            .map(|k| (k.party_id.as_deref(), k.livemode))
            .collect();
        assert_eq!(
            mediators,
            vec![(Some("m".repeat(32).as_str()), true)],
            "{b}"
        );
    }
}
