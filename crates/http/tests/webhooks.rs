//! The webhook worker under load, against SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set)
//! PostgreSQL: a hanging endpoint does not hold up a healthy one, and every attempt reads the
//! clock itself for its lease, its signature and its backoff. Endpoints are local listeners on
//! 127.0.0.1, port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use holdback_app::webhooks::{self, Sent, Settings};
use holdback_store::EndpointRow;
use holdback_store::clock::Clock;
use holdback_store::testing::TestDb;
use holdback_store::webhooks::DeliveryState;

mod common;

use common::{Server, T0};

const SECRET: &str = "whsec_test";

impl Server {
    /// Registers an endpoint with a known id and secret; it receives the events from now on.
    async fn endpoint(&self, id: &str, url: &str) {
        self.app
            .store
            .create_endpoint(
                &EndpointRow {
                    id: id.into(),
                    url: url.into(),
                    secret: SECRET.into(),
                    created_at: self.clock.now_ms(),
                    livemode: false,
                    status: holdback_store::EndpointStatus::Enabled,
                },
                None,
            )
            .await
            .unwrap();
    }

    /// A checkout through the API, which records a few events (a payment, its orders).
    async fn checkout(&self) {
        let cart = common::cart(common::VISA);
        let res = webhooks::http_client()
            .post(format!("{}/v1/checkouts", self.base))
            .header("authorization", format!("Bearer {}", self.platform))
            .header("content-type", "application/json")
            .body(cart.to_string())
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "checkout: {}", res.status());
    }

    async fn deliveries(&self, endpoint: &str) -> Vec<DeliveryState> {
        self.app.store.deliveries_to(endpoint, 1000).await.unwrap()
    }
}

/// What a receiver saw: the signature header and the body of each request.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// The `t` of a signature header, after checking the whole header against the body.
fn signed_t(sig: &str, body: &str) -> i64 {
    let t: i64 = sig
        .split(',')
        .next()
        .and_then(|p| p.strip_prefix("t="))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        sig,
        webhooks::signature(SECRET, t, body),
        "a valid signature"
    );
    t
}

/// A receiver that records each request and answers 200.
async fn healthy_receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let sig = headers["holdback-signature"].to_str().unwrap().to_string();
                s.lock().unwrap().push((sig, body));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

/// A receiver that accepts connections and never answers, until `release` is sent: then it
/// drops them all, and each request in flight fails for want of an answer.
struct Hanging {
    url: String,
    accepted: Arc<AtomicUsize>,
    release: tokio::sync::oneshot::Sender<()>,
}

async fn hanging_receiver() -> Hanging {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        let mut released = released;
        loop {
            tokio::select! {
                conn = listener.accept() => {
                    if let Ok((stream, _)) = conn {
                        held.push(stream);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
                _ = &mut released => break,
            }
        }
        drop(held);
    });
    Hanging {
        url,
        accepted,
        release,
    }
}

/// Polls `check` every 20 ms until it holds; panics after a generous minute.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "still waiting for: {what}");
}

#[tokio::test]
async fn a_hanging_endpoint_does_not_hold_up_a_healthy_one() {
    for db in TestDb::all("a_hanging_endpoint_does_not_hold_up_a_healthy_one").await {
        let s = Server::start(&db).await;
        let b = db.backend();
        let hanging = hanging_receiver().await;
        let (healthy_url, seen) = healthy_receiver().await;
        // the hanging endpoint sorts first: were endpoints served one at a time, it would block
        s.endpoint("we_a_hanging", &hanging.url).await;
        s.endpoint("we_b_healthy", &healthy_url).await;
        s.checkout().await;

        // a request timeout far beyond the test: only the release below ends the hang
        let settings = Settings {
            request_timeout: Duration::from_secs(600),
            ..Settings::default()
        };
        let pass = {
            let (app, settings) = (s.app.clone(), settings.clone());
            tokio::spawn(async move {
                webhooks::tick_with(&app, &webhooks::http_client(), &settings).await
            })
        };

        eventually(
            &format!("{b}: the healthy endpoint acknowledged"),
            || async {
                let rows = s.deliveries("we_b_healthy").await;
                !rows.is_empty()
                    && rows.iter().all(|r| r.delivered_at == Some(T0))
                    && hanging.accepted.load(Ordering::SeqCst) >= 1
            },
        )
        .await;
        assert!(!pass.is_finished(), "{b}: the pass still waits on the hang");
        let healthy = s.deliveries("we_b_healthy").await;
        let events = healthy.len();
        assert!(events >= 2, "{b}: a checkout records several events");
        assert!(healthy.iter().all(|r| r.last_status == Some(200)), "{b}");
        let got = seen.lock().unwrap().clone();
        assert_eq!(got.len(), events, "{b}: each event once");
        for (sig, body) in &got {
            assert_eq!(signed_t(sig, body), T0 / 1000, "{b}");
        }
        // in event order
        let mut in_order = Vec::new();
        for r in &healthy {
            let event = s.app.store.event_at(r.delivery.event_seq).await.unwrap();
            in_order.push(event.unwrap().event.payload);
        }
        let bodies: Vec<String> = got.iter().map(|(_, body)| body.clone()).collect();
        assert_eq!(bodies, in_order, "{b}");
        // the hanging endpoint: its first delivery is in flight under a lease that outlasts the
        // request timeout; the others wait their turn, unclaimed
        let stuck = s.deliveries("we_a_hanging").await;
        assert_eq!(stuck.len(), events, "{b}");
        assert_eq!(stuck[0].delivery.attempts, 1, "{b}");
        assert_eq!(
            stuck[0].delivery.next_attempt_at,
            T0 + settings.lease_ms(),
            "{b}"
        );
        assert!(
            settings.lease_ms() > 600_000,
            "{b}: the lease outlasts the timeout"
        );
        for r in &stuck[1..] {
            assert_eq!(
                (r.delivery.attempts, r.delivery.next_attempt_at),
                (0, T0),
                "{b}"
            );
        }
        assert!(stuck.iter().all(|r| r.delivered_at.is_none()), "{b}");

        // the hang ends without an answer: retried after its backoff; the endpoint's later
        // deliveries are left for the next pass
        hanging.release.send(()).unwrap();
        let sent = tokio::time::timeout(Duration::from_secs(60), pass)
            .await
            .expect("the pass ends once the hang does")
            .unwrap()
            .unwrap();
        assert_eq!(
            sent,
            Sent {
                delivered: events,
                retrying: 1,
                failed: 0
            },
            "{b}"
        );
        let after = s.deliveries("we_a_hanging").await;
        assert_eq!(after[0].delivery.next_attempt_at, T0 + 10_000, "{b}");
        assert_eq!(after[0].last_status, None, "{b}: no answer");
        for r in &after[1..] {
            assert_eq!(
                (r.delivery.attempts, r.delivery.next_attempt_at),
                (0, T0),
                "{b}"
            );
        }
    }
}

#[tokio::test]
async fn each_attempt_reads_the_clock_for_its_lease_signature_and_backoff() {
    for db in TestDb::all("each_attempt_reads_the_clock_for_its_lease_signature_and_backoff").await
    {
        let s = Server::start(&db).await;
        let b = db.backend();
        const STEP: i64 = 100_000; // each request takes 100 s by the clock
        // A receiver that notes what it was sent and how the deliveries stood meanwhile, then
        // moves the clock on and answers 503.
        type Noted = Arc<Mutex<Vec<(String, String, Vec<i64>)>>>;
        let noted: Noted = Arc::default();
        let router = {
            let (noted, clock, app) = (noted.clone(), s.clock.clone(), s.app.clone());
            axum::Router::new().route(
                "/hook",
                axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                    let (noted, clock, app) = (noted.clone(), clock.clone(), app.clone());
                    async move {
                        let sig = headers["holdback-signature"].to_str().unwrap().to_string();
                        let due: Vec<i64> = app
                            .store
                            .deliveries_to("we_slow", 1000)
                            .await
                            .unwrap()
                            .iter()
                            .map(|r| r.delivery.next_attempt_at)
                            .collect();
                        noted.lock().unwrap().push((sig, body, due));
                        clock.advance_ms(STEP);
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    }
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        s.endpoint("we_slow", &url).await;
        s.checkout().await;

        let settings = Settings::default();
        let http = webhooks::http_client();
        let sent = webhooks::tick_with(&s.app, &http, &settings).await.unwrap();
        let noted = noted.lock().unwrap().clone();
        let events = noted.len();
        assert!(events >= 2, "{b}: a checkout records several events");
        assert_eq!(
            sent,
            Sent {
                delivered: 0,
                retrying: events,
                failed: 0
            },
            "{b}"
        );
        let lease = settings.lease_ms();
        for (i, (sig, body, due)) in noted.iter().enumerate() {
            let i = i as i64;
            let at = T0 + i * STEP; // the clock as attempt i began
            // (b) the signature carries the clock's time at this delivery, not the pass's start
            assert_eq!(signed_t(sig, body), at / 1000, "{b}: attempt {i}");
            // the lease was taken from the same moment; earlier attempts were rescheduled from
            // their own ends; later ones are still as enqueued
            let expected: Vec<i64> = (0..events as i64)
                .map(|j| match j.cmp(&i) {
                    std::cmp::Ordering::Less => T0 + (j + 1) * STEP + 10_000,
                    std::cmp::Ordering::Equal => at + lease,
                    std::cmp::Ordering::Greater => T0,
                })
                .collect();
            assert_eq!(due, &expected, "{b}: attempt {i}");
        }
        // (c) each backoff counts from its own attempt's end
        let rows = s.deliveries("we_slow").await;
        let retries: Vec<i64> = rows.iter().map(|r| r.delivery.next_attempt_at).collect();
        let expected: Vec<i64> = (1..=events as i64)
            .map(|k| T0 + k * STEP + 10_000)
            .collect();
        assert_eq!(retries, expected, "{b}");
        assert!(rows.iter().all(|r| r.last_status == Some(503)), "{b}");

        // later, the retries carry the later time; the second backoff is 20 s from each end
        s.clock.set_ms(T0 + 30 * 86_400_000);
        let again = webhooks::tick_with(&s.app, &http, &settings).await.unwrap();
        assert_eq!(again.retrying, events, "{b}");
        let rows = s.deliveries("we_slow").await;
        for (k, r) in rows.iter().enumerate() {
            let ended = T0 + 30 * 86_400_000 + (k as i64 + 1) * STEP;
            assert_eq!(r.delivery.attempts, 2, "{b}");
            assert_eq!(r.delivery.next_attempt_at, ended + 20_000, "{b}");
        }
    }
}
