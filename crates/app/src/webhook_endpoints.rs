//! Webhook endpoints, as the platform manages them: register, list, read, disable, enable,
//! delete, and read one endpoint's deliveries. The delivery worker is [`crate::webhooks`].
//!
//! - A **disabled** endpoint receives nothing: events go on being enqueued for it, and its due
//!   deliveries wait, unclaimed (no attempt is spent, no backoff grows). Enabling it sends them,
//!   in event order, on the next pass.
//! - A **deleted** endpoint stops for good: nothing more is enqueued, and its pending deliveries
//!   are cancelled (status `failed`, `last_error` `endpoint_deleted`). It leaves the list, and
//!   `GET /v1/webhook_endpoints/{id}` and its deliveries answer 404 as for any missing object
//!   (the delivery rows stay in the database for the record); enabling or disabling it is
//!   refused by name (`webhook_endpoint_deleted`).
//! - Enabling an enabled endpoint, disabling a disabled one or deleting a deleted one is
//!   harmless: it answers the endpoint as it is.
//!
//! Only the platform key of the endpoint's own mode manages it; any other mode's endpoint
//! answers 404 as a missing one does.

use holdback_domain::ErrorCode;
use holdback_store::webhooks::DeliveryListed;
use holdback_store::{Conflict, EndpointRow, EndpointStatus};
use serde_json::{Value, json};

use crate::endpoint_address;
use crate::ids::random_hex;
use crate::orders::Idem;
use crate::{App, AppError, Principal, Role};

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn view(e: &EndpointRow, with_secret: bool) -> Value {
    json!({
        "id": e.id,
        "object": "webhook_endpoint",
        "created": secs(e.created_at),
        "livemode": e.livemode,
        "url": e.url,
        "status": e.status.as_str(),
        "secret": if with_secret { Some(e.secret.clone()) } else { None },
    })
}

pub fn delivery_view(endpoint_id: &str, d: &DeliveryListed) -> Value {
    let s = &d.state;
    let status = if s.delivered_at.is_some() {
        "delivered"
    } else if s.failed_at.is_some() {
        "failed"
    } else {
        "pending"
    };
    let pending = status == "pending";
    json!({
        "object": "webhook_delivery",
        "endpoint": endpoint_id,
        "event": d.event_id,
        "type": d.event_type,
        "status": status,
        "attempts": s.delivery.attempts,
        "last_status": s.last_status,
        "last_error": s.last_error,
        "next_attempt": pending.then(|| secs(s.delivery.next_attempt_at)),
        "delivered": s.delivered_at.map(secs),
        "failed": s.failed_at.map(secs),
    })
}

fn platform_only(principal: &Principal) -> Result<(), AppError> {
    if principal.role == Role::Platform {
        Ok(())
    } else {
        Err(AppError::rejected(
            ErrorCode::NotPermitted,
            "only the platform manages webhook endpoints",
        ))
    }
}

/// The longest webhook endpoint URL, in characters.
pub const MAX_URL: usize = 2048;

/// The shape of an endpoint URL: `http://` or `https://`, a host name or IPv4 address
/// (letters, digits, `.` and `-`) or an IPv6 address in brackets (`[::1]`), an optional port
/// of 1 to 5 digits, then optionally a path, query or fragment (from `/`, `?` or `#`) without
/// white space or control characters; at most [`MAX_URL`] characters. The OpenAPI pattern
/// states the same rule.
pub fn url_shape_ok(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((ip, after)) => (
                ip.parse::<std::net::Ipv6Addr>().is_ok()
                    && (after.is_empty() || after.starts_with(':')),
                after.strip_prefix(':'),
            ),
            None => (false, None),
        },
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            (ok, port)
        }
    };
    url.chars().count() <= MAX_URL
        && host_ok
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && !tail.contains(|c: char| c.is_whitespace() || c.is_control())
}

/// Registers an endpoint. The response shows its signing secret; later reads do not. With an
/// idempotency key, the response is stored with the endpoint, so a retry replays it (the same
/// endpoint and secret). The URL is `http://` or `https://` and at most [`MAX_URL`]
/// characters, without white space or control characters. A live endpoint must be `https` to an address that is not loopback,
/// private, link-local or otherwise reserved (`endpoint_address_not_allowed`), unless the policy
/// allows such addresses; see [`endpoint_address`].
pub async fn create_endpoint(
    app: &App,
    principal: &Principal,
    url: &str,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    platform_only(principal)?;
    if !url_shape_ok(url) {
        return Err(AppError::param(
            ErrorCode::ParameterInvalid,
            "url",
            "an http:// or https:// URL",
        ));
    }
    if principal.livemode && !app.policy.allow_private_webhook_addresses {
        endpoint_address::check_url(url)
            .map_err(|why| AppError::param(ErrorCode::EndpointAddressNotAllowed, "url", why))?;
    }
    let endpoint = EndpointRow {
        id: app.ids.next("we"),
        url: url.to_string(),
        secret: format!("whsec_{}", random_hex()),
        created_at: app.clock.now_ms(),
        livemode: principal.livemode,
        status: EndpointStatus::Enabled,
    };
    let body = view(&endpoint, true);
    let record = idem.map(|i| i.record(201, &body, endpoint.created_at));
    if !app
        .store
        .create_endpoint(&endpoint, record.as_ref())
        .await?
    {
        return Err(AppError::Conflict(Conflict::KeyUsed));
    }
    Ok(body)
}

/// The caller's mode's endpoints that are not deleted, without their secrets.
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

/// The endpoint, if the caller may manage it; another mode's answers as a missing one.
async fn find(app: &App, principal: &Principal, id: &str) -> Result<EndpointRow, AppError> {
    platform_only(principal)?;
    match app.store.endpoint(id).await? {
        Some(e) if e.livemode == principal.livemode => Ok(e),
        _ => Err(AppError::NotFound),
    }
}

/// An endpoint the caller may manage that is not deleted (a deleted one answers as missing).
async fn find_live(app: &App, principal: &Principal, id: &str) -> Result<EndpointRow, AppError> {
    match find(app, principal, id).await? {
        e if e.status == EndpointStatus::Deleted => Err(AppError::NotFound),
        e => Ok(e),
    }
}

/// One endpoint that is not deleted, without its secret.
pub async fn get_endpoint(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    Ok(view(&find_live(app, principal, id).await?, false))
}

/// Enables (`true`) or disables (`false`) an endpoint; see the module's notes.
pub async fn set_enabled(
    app: &App,
    principal: &Principal,
    id: &str,
    enabled: bool,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let mut endpoint = find(app, principal, id).await?;
    let from = endpoint.status;
    if from == EndpointStatus::Deleted {
        return Err(AppError::rejected(
            ErrorCode::WebhookEndpointDeleted,
            "this endpoint was deleted; register a new one",
        ));
    }
    endpoint.status = if enabled {
        EndpointStatus::Enabled
    } else {
        EndpointStatus::Disabled
    };
    let body = view(&endpoint, false);
    let now = app.clock.now_ms();
    let record = idem.map(|i| i.record(200, &body, now));
    // the same status again writes nothing new, but stores the key's response all the same
    match app
        .store
        .set_endpoint_status(id, from, endpoint.status, now, record.as_ref())
        .await?
    {
        None => Err(AppError::Conflict(Conflict::KeyUsed)),
        Some(false) => Err(AppError::Conflict(Conflict::EndpointChanged)),
        Some(true) => Ok(body),
    }
}

/// Deletes an endpoint for good, cancelling its pending deliveries; see the module's notes.
pub async fn delete_endpoint(
    app: &App,
    principal: &Principal,
    id: &str,
) -> Result<Value, AppError> {
    let mut endpoint = find(app, principal, id).await?;
    let from = endpoint.status;
    endpoint.status = EndpointStatus::Deleted;
    if from == EndpointStatus::Deleted {
        return Ok(view(&endpoint, false));
    }
    let now = app.clock.now_ms();
    match app
        .store
        .set_endpoint_status(id, from, EndpointStatus::Deleted, now, None)
        .await?
    {
        Some(true) => Ok(view(&endpoint, false)),
        _ => Err(AppError::Conflict(Conflict::EndpointChanged)),
    }
}

/// A page of one endpoint's deliveries in event order: those after the delivery of the event
/// `starting_after` (an event id), at most `limit` (1 to 100). Not a deleted endpoint's.
pub async fn list_deliveries(
    app: &App,
    principal: &Principal,
    id: &str,
    starting_after: Option<&str>,
    limit: u32,
) -> Result<(Vec<Value>, bool), AppError> {
    let endpoint = find_live(app, principal, id).await?;
    let after = match starting_after {
        None => 0,
        Some(event) => app.store.event_seq(event).await?.ok_or_else(|| {
            AppError::param(
                ErrorCode::ResourceMissing,
                "starting_after",
                "no such event",
            )
        })?,
    };
    let limit = limit.clamp(1, 100);
    let mut rows = app
        .store
        .delivery_page(&endpoint.id, after, limit + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((
        rows.iter()
            .map(|d| delivery_view(&endpoint.id, d))
            .collect(),
        has_more,
    ))
}

#[cfg(test)]
mod tests {
    use super::url_shape_ok;

    #[test]
    fn url_shapes() {
        for ok in [
            "http://127.0.0.1:9/webhooks",
            "https://hooks.example",
            "https://[::1]/",
            "https://[fd00::1]:8443/x?y#z",
            "http://[1:2:3:4:5:6:7:8]",
        ] {
            assert!(url_shape_ok(ok), "{ok}");
        }
        for bad in [
            "http://[",
            "http://[zz]/",
            "http://[::1",
            "http://[::1]x/",
            "ftp://x",
            "http://",
            "http://a b/",
            "http://h:123456/",
            "http://h/a b",
        ] {
            assert!(!url_shape_ok(bad), "{bad}");
        }
    }
}
