//! Webhooks: the platform registers endpoints; every event in the outbox is delivered to each
//! endpoint at least once, signed, and retried with backoff for about three days.
//!
//! Signature header: `Holdback-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`
//! with the endpoint's secret. Receivers should refuse a `t` more than 300 s from their clock.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use holdback_store::{DeliveryOutcome, EndpointRow};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::ids::random_hex;
use crate::{App, AppError, Principal, Role};

/// Attempts before a delivery is given up (about three days with the backoff below).
pub const MAX_ATTEMPTS: i64 = 22;
/// How long a node holds a claimed delivery before another may take it.
const LEASE_MS: i64 = 60_000;

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

fn view(e: &EndpointRow, with_secret: bool) -> Value {
    json!({
        "id": e.id,
        "object": "webhook_endpoint",
        "created": e.created_at / 1000,
        "livemode": e.livemode,
        "url": e.url,
        "secret": if with_secret { Some(e.secret.clone()) } else { None },
    })
}

fn platform_only(principal: &Principal) -> Result<(), AppError> {
    if principal.role == Role::Platform {
        Ok(())
    } else {
        Err(AppError::rejected(
            "not_permitted",
            "only the platform manages webhook endpoints",
        ))
    }
}

/// Registers an endpoint. The response shows its signing secret; later reads do not.
pub async fn create_endpoint(
    app: &App,
    principal: &Principal,
    url: &str,
) -> Result<Value, AppError> {
    platform_only(principal)?;
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.contains(char::is_whitespace);
    if !ok {
        return Err(AppError::param(
            "parameter_invalid",
            "url",
            "an http:// or https:// URL",
        ));
    }
    let endpoint = EndpointRow {
        id: app.ids.next("we"),
        url: url.to_string(),
        secret: format!("whsec_{}", random_hex()),
        created_at: app.clock.now_ms(),
        livemode: principal.livemode,
    };
    app.store.create_endpoint(&endpoint).await?;
    Ok(view(&endpoint, true))
}

pub async fn list_endpoints(app: &App, principal: &Principal) -> Result<Vec<Value>, AppError> {
    platform_only(principal)?;
    Ok(app
        .store
        .endpoints_of(principal.livemode)
        .await?
        .iter()
        .map(|e| view(e, false))
        .collect())
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Enqueues new events for every endpoint and attempts every due delivery once.
pub async fn tick(app: &App, http: &reqwest::Client) -> Result<Sent, AppError> {
    let now = app.clock.now_ms();
    let endpoints = app.store.endpoints().await?;
    for e in &endpoints {
        while app.store.enqueue_deliveries(&e.id, now, 500).await? == 500 {}
    }
    let mut sent = Sent::default();
    for d in app.store.due_deliveries(now, 200).await? {
        if !app.store.claim_delivery(&d, now + LEASE_MS).await? {
            continue;
        }
        let (Some(endpoint), Some(event)) = (
            endpoints.iter().find(|e| e.id == d.endpoint_id),
            app.store.event_at(d.event_seq).await?,
        ) else {
            continue;
        };
        let body = event.event.payload;
        let result = http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header(
                "holdback-signature",
                signature(&endpoint.secret, now / 1000, &body),
            )
            .timeout(Duration::from_secs(10))
            .body(body)
            .send()
            .await;
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        let attempts = d.attempts + 1;
        let outcome = match status {
            Some(s) if (200..300).contains(&s) => DeliveryOutcome::Delivered,
            _ if attempts >= MAX_ATTEMPTS => DeliveryOutcome::Failed,
            _ => DeliveryOutcome::RetryAt(now + backoff_ms(attempts)),
        };
        match outcome {
            DeliveryOutcome::Delivered => sent.delivered += 1,
            DeliveryOutcome::RetryAt(_) => sent.retrying += 1,
            DeliveryOutcome::Failed => sent.failed += 1,
        }
        app.store.finish_delivery(&d, now, status, outcome).await?;
    }
    Ok(sent)
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

/// Runs [`tick`] forever, every `every`.
pub fn spawn(app: App, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = http_client();
        loop {
            if let Err(e) = tick(&app, &http).await {
                eprintln!("holdback: webhooks: {e}");
            }
            tokio::time::sleep(every).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
