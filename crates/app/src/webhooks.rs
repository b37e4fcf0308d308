//! Webhooks: the platform registers endpoints; every event in the outbox is delivered to each
//! endpoint at least once, signed, and retried with backoff for about three days.
//!
//! Signature header: `Holdback-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`
//! with the endpoint's secret. Receivers should refuse a `t` more than 300 s from their clock.
//!
//! Delivery ([`tick_with`], run by [`spawn`]): each pass serves up to
//! [`Settings::endpoints_at_once`] endpoints concurrently, one endpoint's deliveries in event
//! order, each request bounded by [`Settings::request_timeout`]. Every attempt reads the clock
//! itself, for its lease, its signature and its outcome, so a long pass neither signs with a
//! stale `t` nor lets a lease run out under a request in flight ([`Settings::lease_ms`]).
//!
//! Only enabled endpoints' deliveries are claimed (a disabled endpoint's wait; a deleted one's
//! were cancelled; see [`crate::webhook_endpoints`]). A live endpoint's host is resolved through
//! [`Settings::resolver`] and checked before its deliveries of a pass, and they are sent to the
//! checked addresses only ([`endpoint_address`]). A body over [`Settings::max_body_bytes`] is
//! sent without its object ([`bounded_body`]).

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use holdback_store::unit::StoredEvent;
use holdback_store::{DeliveryOutcome, DeliveryRow, EndpointRow, EndpointStatus};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::endpoint_address::{self, Resolve, SystemResolver};
use crate::{App, AppError};

/// The largest body sent whole (256 KiB); see [`bounded_body`].
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Attempts before a delivery is given up (about three days with the backoff below).
pub const MAX_ATTEMPTS: i64 = 22;

/// The delay before retry number `attempts + 1`: 10 s doubling, at most 6 hours.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (10_000i64 << doublings).min(6 * 3_600_000)
}

/// Hex HMAC-SHA256 of the concatenated parts under `key`.
pub fn hmac_hex(key: &str, parts: &[&[u8]]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new(); // HMAC accepts keys of any length; this does not happen
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `t=<t>,v1=<hex hmac>` over `"<t>.<body>"`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let hex = hmac_hex(secret, &[format!("{t}.").as_bytes(), body.as_bytes()]);
    format!("t={t},v1={hex}")
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl Sent {
    fn count(&mut self, outcome: DeliveryOutcome) {
        match outcome {
            DeliveryOutcome::Delivered => self.delivered += 1,
            DeliveryOutcome::RetryAt(_) => self.retrying += 1,
            DeliveryOutcome::Failed => self.failed += 1,
        }
    }

    fn add(&mut self, other: Sent) {
        self.delivered += other.delivered;
        self.retrying += other.retrying;
        self.failed += other.failed;
    }
}

/// How the delivery worker runs.
#[derive(Clone)]
pub struct Settings {
    /// The pause between two passes.
    pub every: Duration,
    /// How many endpoints one pass delivers to at once (at least one). Each endpoint's
    /// deliveries go one after another, in event order.
    pub endpoints_at_once: usize,
    /// The longest one request may take, connecting included; past it the attempt has failed.
    pub request_timeout: Duration,
    /// How many due deliveries one pass takes on.
    pub batch: u32,
    /// An event body longer than this is sent without its object ([`bounded_body`]).
    pub max_body_bytes: usize,
    /// Resolves live endpoints' host names before each pass delivers to them; the addresses
    /// are checked ([`endpoint_address`]) and the request goes to them and no others.
    pub resolver: Arc<dyn Resolve>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            every: Duration::from_secs(1),
            endpoints_at_once: 16,
            request_timeout: Duration::from_secs(10),
            batch: 200,
            max_body_bytes: MAX_BODY_BYTES,
            resolver: Arc::new(SystemResolver),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("every", &self.every)
            .field("endpoints_at_once", &self.endpoints_at_once)
            .field("request_timeout", &self.request_timeout)
            .field("batch", &self.batch)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// The body sent for `event`: its JSON as recorded, or, when that is longer than `max` bytes,
/// the event without its object: `data` holds only `object_id`, and `"data_omitted": true`
/// tells the receiver to fetch the whole event with `GET /v1/events/{id}`. The signature
/// covers whichever body is sent.
pub fn bounded_body(event: &StoredEvent, max: usize) -> String {
    let e = &event.event;
    if e.payload.len() <= max {
        return e.payload.clone();
    }
    let full: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    json!({
        "id": e.id,
        "object": "event",
        "type": e.kind,
        "created": full.get("created").cloned().unwrap_or(json!(e.created_at.div_euclid(1000))),
        "livemode": e.livemode,
        "data": {"object_id": e.object_id},
        "data_omitted": true,
    })
    .to_string()
}

/// What a lease adds to the request timeout: room for the claim, signing and the write of the
/// outcome around the request, and for clocks of different nodes that disagree a little.
const LEASE_MARGIN_MS: i64 = 50_000;

impl Settings {
    /// How long a claimed delivery stays leased to this node: the request timeout plus
    /// [`LEASE_MARGIN_MS`]. The lease is taken, from the clock, just before the request is sent,
    /// and the request ends (answered or timed out) well before the lease does, so a delivery in
    /// flight is never claimed by another node. Another node takes it over only once this node
    /// has given up on it, or died.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.request_timeout.as_millis())
            .unwrap_or(i64::MAX)
            .saturating_add(LEASE_MARGIN_MS)
    }
}

/// What becomes of an attempt that ended at `ended` with `status` (none: no answer), being the
/// delivery's attempt number `attempts`. A retry is scheduled from the attempt's own end.
pub fn outcome(status: Option<u16>, attempts: i64, ended: i64) -> DeliveryOutcome {
    match status {
        Some(s) if (200..300).contains(&s) => DeliveryOutcome::Delivered,
        _ if attempts >= MAX_ATTEMPTS => DeliveryOutcome::Failed,
        _ => DeliveryOutcome::RetryAt(ended.saturating_add(backoff_ms(attempts))),
    }
}

/// [`tick_with`] under the default [`Settings`].
pub async fn tick(app: &App, http: &reqwest::Client) -> Result<Sent, AppError> {
    tick_with(app, http, &Settings::default()).await
}

/// One delivery pass: enqueues new events for every endpoint, then attempts every due delivery
/// once, as of the time the pass starts.
///
/// Endpoints are served concurrently, at most [`Settings::endpoints_at_once`] of them at a
/// time, so a slow or hanging endpoint holds up only its own deliveries. One endpoint's
/// deliveries are attempted one after another in event order; if one gets no answer (refused,
/// reset, timed out), the rest of that endpoint's deliveries are left unclaimed for a later pass,
/// so a dead endpoint costs a pass at most one request timeout.
///
/// Time is read from the clock for each attempt, never once for the pass: the lease as the
/// delivery is claimed, the signature's `t` just before the request is sent, and the delivery
/// time or the retry (backoff from then) once the request has ended.
pub async fn tick_with(
    app: &App,
    http: &reqwest::Client,
    settings: &Settings,
) -> Result<Sent, AppError> {
    let now = app.clock.now_ms();
    let endpoints: Vec<EndpointRow> = app
        .store
        .endpoints()
        .await?
        .into_iter()
        .filter(|e| e.status != EndpointStatus::Deleted)
        .collect();
    for e in &endpoints {
        while app.store.enqueue_deliveries(&e.id, now, 500).await? == 500 {}
    }
    let due = app.store.due_deliveries(now, settings.batch).await?;
    let mut queues = per_endpoint(endpoints, due).into_iter();
    let mut running = tokio::task::JoinSet::new();
    let mut sent = Sent::default();
    let mut trouble = None;
    loop {
        while running.len() < settings.endpoints_at_once.max(1) {
            let Some((endpoint, queue)) = queues.next() else {
                break;
            };
            let (app, http, settings) = (app.clone(), http.clone(), settings.clone());
            running.spawn(async move {
                deliver_in_order(&app, &http, &settings, &endpoint, &queue).await
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok(done)) => sent.add(done),
            Ok(Err(e)) => {
                trouble.get_or_insert(e);
            }
            Err(e) => {
                trouble.get_or_insert(AppError::Internal(format!("webhook delivery task: {e}")));
            }
        }
    }
    match trouble {
        Some(e) => Err(e),
        None => Ok(sent),
    }
}

/// The due deliveries grouped by endpoint, each group in event order; the endpoint with the
/// longest-waiting delivery first. Deliveries to an endpoint that is gone are left alone.
fn per_endpoint(
    endpoints: Vec<EndpointRow>,
    due: Vec<DeliveryRow>,
) -> Vec<(EndpointRow, Vec<DeliveryRow>)> {
    let mut by_id: HashMap<String, EndpointRow> =
        endpoints.into_iter().map(|e| (e.id.clone(), e)).collect();
    let mut queues: Vec<(EndpointRow, Vec<DeliveryRow>)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for d in due {
        if let Some(&i) = position.get(&d.endpoint_id) {
            queues[i].1.push(d);
        } else if let Some(endpoint) = by_id.remove(&d.endpoint_id) {
            position.insert(d.endpoint_id.clone(), queues.len());
            queues.push((endpoint, vec![d]));
        }
    }
    for (_, queue) in &mut queues {
        queue.sort_by_key(|d| d.event_seq);
    }
    queues
}

/// How one endpoint's deliveries go out in this pass: through the shared client (test mode),
/// through a client pinned to the checked addresses of a live endpoint's host, or not at all,
/// for this reason (the attempt is recorded as failed with it, nothing is sent).
async fn route(
    app: &App,
    http: &reqwest::Client,
    settings: &Settings,
    endpoint: &EndpointRow,
) -> Result<reqwest::Client, &'static str> {
    if !endpoint.livemode {
        return Ok(http.clone());
    }
    let allow = app.policy.allow_private_webhook_addresses;
    let timeout = settings.request_timeout;
    let target =
        endpoint_address::resolve_checked(&endpoint.url, &settings.resolver, allow, timeout)
            .await?;
    Ok(endpoint_address::pinned_client(&target))
}

/// Attempts one endpoint's due deliveries one after another, stopping at the first that gets
/// no answer. A live endpoint's host is resolved and checked once, first.
async fn deliver_in_order(
    app: &App,
    http: &reqwest::Client,
    settings: &Settings,
    endpoint: &EndpointRow,
    queue: &[DeliveryRow],
) -> Result<Sent, AppError> {
    let mut sent = Sent::default();
    let client = route(app, http, settings, endpoint).await;
    for d in queue {
        let client = client.as_ref().map_err(|why| *why);
        let Some((outcome, answered)) = attempt(app, client, settings, endpoint, d).await? else {
            continue;
        };
        sent.count(outcome);
        if !answered {
            break;
        }
    }
    Ok(sent)
}

/// One attempt at one delivery: claim it, sign it, send it through `http`, record what came of
/// it. `None` when another node claimed it first, the endpoint was disabled meanwhile, or its
/// event is missing. When `http` is a refusal, the claimed attempt is recorded as failed with
/// that reason and nothing is sent. Each time is read from the clock as its step happens.
async fn attempt(
    app: &App,
    http: Result<&reqwest::Client, &'static str>,
    settings: &Settings,
    endpoint: &EndpointRow,
    d: &DeliveryRow,
) -> Result<Option<(DeliveryOutcome, bool)>, AppError> {
    let Some(event) = app.store.event_at(d.event_seq).await? else {
        return Ok(None);
    };
    let lease_until = app.clock.now_ms().saturating_add(settings.lease_ms());
    if !app.store.claim_delivery(d, lease_until).await? {
        return Ok(None);
    }
    let (status, error) = match http {
        Err(why) => (None, Some(why)),
        Ok(http) => {
            let body = bounded_body(&event, settings.max_body_bytes);
            let t = app.clock.now_ms().div_euclid(1000);
            let result = http
                .post(&endpoint.url)
                .header("content-type", "application/json")
                .header("holdback-signature", signature(&endpoint.secret, t, &body))
                .timeout(settings.request_timeout)
                .body(body)
                .send()
                .await;
            match result {
                Ok(r) => (Some(r.status().as_u16()), None),
                Err(_) => (None, Some("no_response")),
            }
        }
    };
    let ended = app.clock.now_ms();
    let outcome = outcome(status, d.attempts + 1, ended);
    app.store
        .finish_delivery(d, ended, status, error, outcome)
        .await?;
    Ok(Some((outcome, status.is_some())))
}

/// A builder for HTTP clients, with TLS (rustls on ring, the system's root certificates).
/// Every client in holdback comes from here: the crypto provider must be installed first.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    // Only the first call installs; later ones find it installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// An HTTP client with TLS; see [`http_client_builder`].
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().unwrap_or_default()
}

/// Runs [`tick_with`] forever, pausing [`Settings::every`] between passes.
pub fn spawn(app: App, settings: Settings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = http_client();
        loop {
            if let Err(e) = tick_with(&app, &http, &settings).await {
                eprintln!("holdback: webhooks: {e}");
            }
            tokio::time::sleep(settings.every).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_the_request_timeout() {
        for secs in [1, 10, 30, 120] {
            let settings = Settings {
                request_timeout: Duration::from_secs(secs),
                ..Settings::default()
            };
            let timeout_ms = i64::try_from(secs * 1000).unwrap();
            assert!(settings.lease_ms() >= timeout_ms + 30_000, "{secs} s");
        }
        assert_eq!(Settings::default().lease_ms(), 60_000);
    }

    #[test]
    fn an_outcome_is_scheduled_from_the_attempts_end() {
        assert_eq!(outcome(Some(204), 1, 5_000), DeliveryOutcome::Delivered);
        assert_eq!(
            outcome(Some(500), 1, 5_000),
            DeliveryOutcome::RetryAt(15_000)
        );
        assert_eq!(outcome(None, 3, 7_000), DeliveryOutcome::RetryAt(47_000));
        assert_eq!(
            outcome(Some(301), MAX_ATTEMPTS, 7_000),
            DeliveryOutcome::Failed
        );
        assert_eq!(
            outcome(Some(200), MAX_ATTEMPTS, 7_000),
            DeliveryOutcome::Delivered
        );
    }

    #[test]
    fn due_deliveries_are_grouped_per_endpoint_in_event_order() {
        let endpoint = |id: &str| EndpointRow {
            id: id.into(),
            url: format!("http://127.0.0.1:1/{id}"),
            secret: "whsec_x".into(),
            created_at: 0,
            livemode: false,
            status: EndpointStatus::Enabled,
        };
        let due = |endpoint_id: &str, event_seq, next_attempt_at| DeliveryRow {
            endpoint_id: endpoint_id.into(),
            event_seq,
            attempts: 0,
            next_attempt_at,
        };
        // as the store reads them: by next attempt, then event
        let rows = vec![
            due("we_b", 7, 100),
            due("we_a", 9, 200),
            due("we_gone", 1, 250),
            due("we_b", 3, 300),
            due("we_a", 2, 400),
            due("we_b", 5, 400),
        ];
        let queues = per_endpoint(vec![endpoint("we_a"), endpoint("we_b")], rows);
        let seen: Vec<(&str, Vec<i64>)> = queues
            .iter()
            .map(|(e, q)| (e.id.as_str(), q.iter().map(|d| d.event_seq).collect()))
            .collect();
        assert_eq!(seen, [("we_b", vec![3, 5, 7]), ("we_a", vec![2, 9])]);
    }

    #[test]
    fn backoff_doubles_to_six_hours_and_lasts_about_three_days() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(15), 6 * 3_600_000);
        let total: i64 = (1..MAX_ATTEMPTS).map(backoff_ms).sum();
        let days = total as f64 / 86_400_000.0;
        assert!((2.5..4.0).contains(&days), "{days} days");
    }

    #[tokio::test]
    async fn https_endpoints_are_reachable_with_tls_built_in() {
        // no network here: a closed local port must fail to connect, not for lack of TLS
        let err = http_client()
            .get("https://127.0.0.1:9/")
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
    }

    #[test]
    fn hmac_matches_rfc_4231_and_signs_t_dot_body() {
        // RFC 4231, test case 2
        let data: &[u8] = b"what do ya want for nothing?";
        assert_eq!(
            hmac_hex("Jefe", &[data]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // the same bytes split differently give the same MAC, so the signature covers "t.body"
        assert_eq!(
            hmac_hex("Jefe", &[b"what do ya ", b"want for nothing?"]),
            hmac_hex("Jefe", &[data])
        );
        let sig = signature("whsec_x", 1700000000, "{}");
        assert_eq!(
            sig,
            format!(
                "t=1700000000,v1={}",
                hmac_hex("whsec_x", &[b"1700000000.{}"])
            )
        );
    }
}
