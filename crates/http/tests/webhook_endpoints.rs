//! Managing webhook endpoints through the API, against SQLite and (when
//! `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL: disable, enable, delete, the deliveries
//! listing, live endpoints' address rules (at registration and after resolution at delivery),
//! and the bound on a delivery's size. Every listener is on 127.0.0.1, port 0; every name
//! resolves through the test's own table.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use holdback_app::Policy;
use holdback_app::endpoint_address::FixedResolver;
use holdback_app::webhooks::{self, Sent, Settings};
use holdback_store::testing::TestDb;
use holdback_store::{NewEvent, Unit};
use serde_json::{Value, json};

mod common;

use common::{Answer, Server, T0};

impl Server {
    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        self.send(method, path, key, None, body.as_deref())
            .await
            .pair()
    }

    /// Registers an endpoint through the API; its id.
    async fn endpoint(&self, key: &str, url: &str) -> String {
        let (status, body) = self
            .post("/v1/webhook_endpoints", key, json!({ "url": url }))
            .await
            .pair();
        assert_eq!(status, 201, "{}: {body}", self.backend);
        assert_eq!(body["status"], "enabled");
        body["id"].as_str().unwrap().to_string()
    }

    /// A checkout in test mode: payment.succeeded and two order.paid.
    async fn checkout(&self) {
        let cart = common::cart(common::VISA);
        let (status, body) = self
            .post("/v1/checkouts", &self.platform, cart)
            .await
            .pair();
        assert_eq!(status, 201, "checkout: {body}");
    }

    /// The endpoint's deliveries, every page of them (pages of `page` through the API).
    async fn deliveries(&self, key: &str, id: &str, page: u32) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            let cursor = if after.is_empty() {
                String::new()
            } else {
                format!("&starting_after={after}")
            };
            let path = format!("/v1/webhook_endpoints/{id}/deliveries?limit={page}{cursor}");
            let (status, body) = self.get(&path, key).await.pair();
            assert_eq!(status, 200, "{body}");
            let data = body["data"].as_array().unwrap().clone();
            assert!(data.len() <= page as usize);
            let more = body["has_more"].as_bool().unwrap();
            if let Some(last) = data.last() {
                after = last["event"].as_str().unwrap().to_string();
            }
            all.extend(data);
            if !more {
                return all;
            }
        }
    }

    async fn tick(&self, settings: &Settings) -> Sent {
        webhooks::tick_with(&self.app, &webhooks::http_client(), settings)
            .await
            .unwrap()
    }
}

/// What a receiver got: each request's body.
type Seen = Arc<Mutex<Vec<String>>>;

/// A receiver on 127.0.0.1 that records each request and answers 500 to the first `fail` of
/// them, 200 after.
async fn receiver(fail: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let (s, calls) = (s.clone(), calls.clone());
            async move {
                s.lock().unwrap().push(body);
                if calls.fetch_add(1, Ordering::SeqCst) < fail {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

fn statuses(deliveries: &[Value]) -> Vec<&str> {
    deliveries
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn disable_holds_deliveries_enable_sends_them_delete_cancels_them() {
    for db in TestDb::all("disable_holds_deliveries_enable_sends_them_delete_cancels_them").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let settings = Settings::default();
        let (url, seen) = receiver(1).await;
        let id = s.endpoint(&s.platform, &url).await;

        // disabled: events are enqueued, nothing is sent, no attempt is spent
        let (status, off) = s
            .post(
                &format!("/v1/webhook_endpoints/{id}/disable"),
                &s.platform,
                json!({}),
            )
            .await
            .pair();
        assert_eq!(
            (status, &off["status"]),
            (200, &json!("disabled")),
            "{b}: {off}"
        );
        let (_, again) = s
            .post(
                &format!("/v1/webhook_endpoints/{id}/disable"),
                &s.platform,
                json!({}),
            )
            .await
            .pair();
        assert_eq!(again, off, "{b}: disabling a disabled endpoint is harmless");
        s.checkout().await;
        assert_eq!(s.tick(&settings).await, Sent::default(), "{b}");
        assert!(seen.lock().unwrap().is_empty(), "{b}: nothing sent");
        let waiting = s.deliveries(&s.platform, &id, 2).await;
        assert_eq!(waiting.len(), 3, "{b}: enqueued all the same");
        for d in &waiting {
            assert_eq!(d["status"], "pending", "{b}");
            assert_eq!(d["attempts"], 0, "{b}");
            assert_eq!(d["next_attempt"], T0 / 1000, "{b}");
            assert_eq!(d["endpoint"], id.as_str(), "{b}");
        }
        let mut kinds: Vec<&str> = waiting
            .iter()
            .map(|d| d["type"].as_str().unwrap())
            .collect();
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            ["order.paid", "order.paid", "payment.succeeded"],
            "{b}"
        );
        let (_, one) = s
            .get(&format!("/v1/webhook_endpoints/{id}"), &s.platform)
            .await
            .pair();
        assert_eq!(one["status"], "disabled", "{b}");
        assert!(one["secret"].is_null(), "{b}");

        // enabled: the waiting deliveries go, in event order; the first fails once
        let (status, on) = s
            .post(
                &format!("/v1/webhook_endpoints/{id}/enable"),
                &s.platform,
                json!({}),
            )
            .await
            .pair();
        assert_eq!((status, &on["status"]), (200, &json!("enabled")), "{b}");
        assert_eq!(
            s.tick(&settings).await,
            Sent {
                delivered: 2,
                retrying: 1,
                failed: 0
            },
            "{b}"
        );
        let events: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|body| {
                serde_json::from_str::<Value>(body).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let listed: Vec<&str> = waiting
            .iter()
            .map(|d| d["event"].as_str().unwrap())
            .collect();
        assert_eq!(events, listed, "{b}: in event order");
        let after = s.deliveries(&s.platform, &id, 10).await;
        assert_eq!(
            statuses(&after),
            ["pending", "delivered", "delivered"],
            "{b}"
        );
        assert_eq!(after[0]["attempts"], 1, "{b}");
        assert_eq!(after[0]["last_status"], 500, "{b}");
        assert_eq!(after[0]["next_attempt"], T0 / 1000 + 10, "{b}: backoff");
        assert_eq!(after[1]["last_status"], 200, "{b}");
        assert_eq!(after[1]["delivered"], T0 / 1000, "{b}");
        assert!(after[1]["next_attempt"].is_null(), "{b}");

        // deleted: the pending one is cancelled, nothing more is enqueued or sent
        s.clock.advance_ms(60_000);
        let (status, gone) = s
            .call(
                "DELETE",
                &format!("/v1/webhook_endpoints/{id}"),
                &s.platform,
                None,
            )
            .await;
        assert_eq!(
            (status, &gone["status"]),
            (200, &json!("deleted")),
            "{b}: {gone}"
        );
        let (_, twice) = s
            .call(
                "DELETE",
                &format!("/v1/webhook_endpoints/{id}"),
                &s.platform,
                None,
            )
            .await;
        assert_eq!(twice, gone, "{b}: deleting again is harmless");
        let (status, refused) = s
            .post(
                &format!("/v1/webhook_endpoints/{id}/enable"),
                &s.platform,
                json!({}),
            )
            .await
            .pair();
        assert_eq!(status, 409, "{b}");
        assert_eq!(refused["error"]["code"], "webhook_endpoint_deleted", "{b}");
        let (_, list) = s.get("/v1/webhook_endpoints", &s.platform).await.pair();
        assert_eq!(list["data"], json!([]), "{b}: gone from the list");
        s.checkout().await;
        let sent_before = seen.lock().unwrap().len();
        assert_eq!(s.tick(&settings).await, Sent::default(), "{b}");
        assert_eq!(seen.lock().unwrap().len(), sent_before, "{b}");
        // its deliveries answer as missing over the API; the rows stay for the record
        let (status, _) = s
            .get(
                &format!("/v1/webhook_endpoints/{id}/deliveries"),
                &s.platform,
            )
            .await
            .pair();
        assert_eq!(
            status, 404,
            "{b}: a deleted endpoint's deliveries read as missing"
        );
        let history: Vec<Value> = s
            .app
            .store
            .delivery_page(&id, 0, 10)
            .await
            .unwrap()
            .iter()
            .map(|d| holdback_app::webhook_endpoints::delivery_view(&id, d))
            .collect();
        assert_eq!(history.len(), 3, "{b}: nothing new enqueued, history kept");
        assert_eq!(
            statuses(&history),
            ["failed", "delivered", "delivered"],
            "{b}"
        );
        assert_eq!(history[0]["last_error"], "endpoint_deleted", "{b}");
        assert_eq!(history[0]["failed"], T0 / 1000 + 60, "{b}");
        let (status, read) = s
            .get(&format!("/v1/webhook_endpoints/{id}"), &s.platform)
            .await
            .pair();
        assert_eq!(status, 404, "{b}: a deleted endpoint reads as missing");
        assert_eq!(read["error"]["code"], "resource_missing", "{b}");
    }
}

#[tokio::test]
async fn only_the_platform_of_the_endpoints_mode_manages_it() {
    for db in TestDb::all("only_the_platform_of_the_endpoints_mode_manages_it").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let id = s.endpoint(&s.platform, "http://127.0.0.1:9/hook").await;
        let before = s
            .get(&format!("/v1/webhook_endpoints/{id}"), &s.platform)
            .await
            .pair();
        for (method, path) in [
            ("GET", format!("/v1/webhook_endpoints/{id}")),
            ("POST", format!("/v1/webhook_endpoints/{id}/disable")),
            ("POST", format!("/v1/webhook_endpoints/{id}/enable")),
            ("DELETE", format!("/v1/webhook_endpoints/{id}")),
            ("GET", format!("/v1/webhook_endpoints/{id}/deliveries")),
            ("GET", "/v1/webhook_endpoints/we_missing".to_string()),
        ] {
            let body = (method == "POST").then(|| json!({}));
            let (status, live) = s.call(method, &path, &s.live_platform, body.clone()).await;
            assert_eq!(status, 404, "{b}: {method} {path} live: {live}");
            assert_eq!(live["error"]["code"], "resource_missing", "{b}");
            let (status, buyer) = s.call(method, &path, &s.alice, body).await;
            assert_eq!(status, 403, "{b}: {method} {path}: {buyer}");
        }
        let after = s
            .get(&format!("/v1/webhook_endpoints/{id}"), &s.platform)
            .await
            .pair();
        assert_eq!(after, before, "{b}: unchanged");
        assert_eq!(after.1["status"], "enabled", "{b}");
        let (status, bad) = s
            .get(
                &format!("/v1/webhook_endpoints/{id}/deliveries?starting_after=evt_nope"),
                &s.platform,
            )
            .await
            .pair();
        assert_eq!(
            (status, &bad["error"]["param"]),
            (404, &json!("starting_after")),
            "{b}"
        );
    }
}

#[tokio::test]
async fn live_endpoints_on_local_or_private_addresses_are_refused_at_registration() {
    for db in TestDb::all("live_endpoints_on_local_or_private_addresses_are_refused").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let kept = s
            .endpoint(&s.live_platform, "https://hooks.example/kept")
            .await;
        let before = s
            .get("/v1/webhook_endpoints", &s.live_platform)
            .await
            .pair();
        for url in [
            "http://10.0.0.5/x",
            "http://hooks.example/x",
            "https://127.0.0.1/x",
            "https://[::1]/",
            "https://192.168.1.2/",
            "https://localhost/",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/",
            "https://[fd00::1]/",
            "https://0.0.0.0/",
        ] {
            let (status, body) = s
                .post(
                    "/v1/webhook_endpoints",
                    &s.live_platform,
                    json!({ "url": url }),
                )
                .await
                .pair();
            assert_eq!(status, 400, "{b}: {url}: {body}");
            assert_eq!(
                body["error"]["code"], "endpoint_address_not_allowed",
                "{b}: {url}"
            );
            assert_eq!(body["error"]["param"], "url", "{b}: {url}");
        }
        let after = s
            .get("/v1/webhook_endpoints", &s.live_platform)
            .await
            .pair();
        assert_eq!(after, before, "{b}: nothing registered");
        assert_eq!(after.1["data"][0]["id"], kept.as_str(), "{b}");
        // test mode keeps allowing a developer's local receiver
        s.endpoint(&s.platform, "http://127.0.0.1:9/hook").await;
    }
}

/// A listener on 127.0.0.1 that counts the connections it accepts and drops each at once.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn a_live_name_resolving_to_loopback_is_refused_at_delivery() {
    for db in TestDb::all("a_live_name_resolving_to_loopback_is_refused_at_delivery").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let (port, accepted) = counting_listener().await;
        let id = s
            .endpoint(
                &s.live_platform,
                &format!("https://hooks.example:{port}/hook"),
            )
            .await;
        // a live event (no live card provider here: recorded directly)
        let event = json!({"id": "evt_live_1", "object": "event", "type": "test.live",
            "created": T0 / 1000, "livemode": true, "data": {"object": {"id": "x_1"}}});
        s.app
            .ledger
            .commit(Unit {
                events: vec![NewEvent {
                    id: "evt_live_1".into(),
                    kind: "test.live".into(),
                    object_id: "x_1".into(),
                    payload: event.to_string(),
                    created_at: T0,
                    livemode: true,
                }],
                ..Unit::default()
            })
            .await
            .unwrap();
        let settings = Settings {
            resolver: Arc::new(FixedResolver(vec![(
                "hooks.example".into(),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            )])),
            ..Settings::default()
        };
        let sent = s.tick(&settings).await;
        assert_eq!(
            sent,
            Sent {
                delivered: 0,
                retrying: 1,
                failed: 0
            },
            "{b}"
        );
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            0,
            "{b}: nothing reached the listener"
        );
        let d = s.deliveries(&s.live_platform, &id, 10).await;
        assert_eq!(d.len(), 1, "{b}");
        assert_eq!(d[0]["event"], "evt_live_1", "{b}");
        assert_eq!(
            d[0]["status"], "pending",
            "{b}: retried later, re-resolved then"
        );
        assert_eq!(d[0]["attempts"], 1, "{b}");
        assert_eq!(d[0]["last_error"], "endpoint_address_not_allowed", "{b}");
        assert!(d[0]["last_status"].is_null(), "{b}");

        // the control: where the operator allows private addresses, the same pass connects to
        // the address the name resolved to (the listener sees it; TLS then fails)
        let allowing = common::app_on(
            s.app.store.clone(),
            &s.clock,
            Policy {
                allow_private_webhook_addresses: true,
                ..Policy::default()
            },
            None,
        );
        s.clock.advance_ms(10_000);
        let sent = webhooks::tick_with(&allowing, &webhooks::http_client(), &settings)
            .await
            .unwrap();
        assert_eq!(sent.retrying, 1, "{b}");
        assert!(
            accepted.load(Ordering::SeqCst) >= 1,
            "{b}: connected to 127.0.0.1"
        );
        let d = s.deliveries(&s.live_platform, &id, 10).await;
        assert_eq!(
            (&d[0]["attempts"], &d[0]["last_error"]),
            (&json!(2), &json!("no_response")),
            "{b}"
        );
    }
}

#[tokio::test]
async fn an_event_over_the_size_bound_is_sent_without_its_object() {
    for db in TestDb::all("an_event_over_the_size_bound_is_sent_without_its_object").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let (url, seen) = receiver(0).await;
        s.endpoint(&s.platform, &url).await;
        s.checkout().await;
        let (_, events) = s.get("/v1/events?limit=100", &s.platform).await.pair();
        let events = events["data"].as_array().unwrap().clone();
        let sizes: Vec<usize> = events.iter().map(|e| e.to_string().len()).collect();
        let smallest = *sizes.iter().min().unwrap();
        let settings = Settings {
            max_body_bytes: smallest, // the smallest event goes whole, the larger ones do not
            ..Settings::default()
        };
        assert_eq!(s.tick(&settings).await.delivered, events.len(), "{b}");
        let got = seen.lock().unwrap().clone();
        assert_eq!(got.len(), events.len(), "{b}");
        let mut omitted = 0;
        for (body, full) in got.iter().zip(&events) {
            let sent: Value = serde_json::from_str(body).unwrap();
            assert_eq!(sent["id"], full["id"], "{b}");
            if sent.get("data_omitted") == Some(&json!(true)) {
                omitted += 1;
                assert!(body.len() <= settings.max_body_bytes, "{b}: {body}");
                assert!(sent["data"].get("object").is_none(), "{b}");
                assert_eq!(
                    sent["data"]["object_id"], full["data"]["object"]["id"],
                    "{b}"
                );
                assert_eq!(
                    (&sent["type"], &sent["created"]),
                    (&full["type"], &full["created"])
                );
                // the receiver fetches the whole event
                let id = sent["id"].as_str().unwrap();
                let (status, fetched) =
                    s.get(&format!("/v1/events/{id}"), &s.platform).await.pair();
                assert_eq!((status, &fetched), (200, full), "{b}");
                let (status, _) = s
                    .get(&format!("/v1/events/{id}"), &s.live_platform)
                    .await
                    .pair();
                assert_eq!(status, 404, "{b}: another mode's event");
            } else {
                assert_eq!(&sent, full, "{b}: sent whole");
            }
        }
        assert!(
            omitted >= 1 && omitted < events.len(),
            "{b}: {omitted} of {sizes:?}"
        );
    }
}

impl Answer {
    /// The status as a number, and the body.
    fn pair(self) -> (u16, Value) {
        (self.status.as_u16(), self.body)
    }
}
