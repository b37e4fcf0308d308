//! Idempotency for every POST: the `Idempotency-Key` header, a digest of the request's meaning
//! (method, path and canonical JSON body), and the run of the request under a claim on its key
//! held in the database (see [`holdback_app::idempotency`]), so that it is exclusive across
//! nodes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use holdback_app::idempotency::{self, Begun};
use holdback_app::orders::Idem;
use holdback_app::{App, AppError, Principal};
use holdback_domain::ErrorCode;
use holdback_store::{Conflict, IdempotencyRecord};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::errors::ApiError;
use crate::params::{MAX_IDEMPOTENCY_KEY, idempotency_key_valid, parse};
use crate::reply::{Reply, RequestId};

/// What identifies a POST for idempotency: its key (checked when the request runs, after the
/// body), a digest of its method, path and canonical body, the body itself, and the request's
/// id (a stored error answer carries it).
pub(crate) struct Idempotency {
    key: Result<Option<String>, ApiError>,
    request_hash: String,
    body: Bytes,
    request_id: String,
}

impl FromRequest<Arc<Shared>> for Idempotency {
    type Rejection = Response;

    async fn from_request(request: Request, s: &Arc<Shared>) -> Result<Idempotency, Response> {
        let key = match request.headers().get("idempotency-key") {
            None => Ok(None),
            Some(k) if idempotency_key_valid(k.as_bytes()) => {
                Ok(Some(String::from_utf8_lossy(k.as_bytes()).into_owned()))
            }
            Some(_) => Err(ApiError::param(
                ErrorCode::ParameterInvalid,
                "Idempotency-Key",
                format!("1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters (! to ~, no spaces)"),
            )),
        };
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default();
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();
        let content_type = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?").to_string());
        let body = Bytes::from_request(request, s)
            .await
            .map_err(IntoResponse::into_response)?;
        if !json_or_nothing(content_type.as_deref(), &body) {
            return Err(ApiError::code(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON, with Content-Type: application/json",
            )
            .into_response());
        }
        Ok(Idempotency {
            key,
            request_hash: fingerprint(&method, &path, &body),
            body,
            request_id,
        })
    }
}

/// Whether a POST's body may be read as JSON: no body at all (taken as `{}`), or a body
/// declared `application/json` (or `application/…+json`), in UTF-8 if a charset is named. A
/// declared type that is not JSON is refused even without a body, and a body without a type.
fn json_or_nothing(content_type: Option<&str>, body: &[u8]) -> bool {
    let Some(content_type) = content_type else {
        return body.is_empty();
    };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    json && parts.all(|p| {
        let (name, value) = p.split_once('=').unwrap_or((p, ""));
        !name.trim().eq_ignore_ascii_case("charset")
            || value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    })
}

/// The digest of a request by its meaning: method, path, and the body as canonical JSON (keys
/// sorted at every level, no insignificant whitespace), so that the same JSON re-indented or
/// with its keys in another order has the same digest. A body that is not JSON is taken as its
/// bytes (it is refused before it runs anyway).
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(method);
    digest.update([0]);
    digest.update(path);
    digest.update([0]);
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => {
            let mut canonical = String::with_capacity(body.len());
            canonical_json(&value, &mut canonical);
            digest.update("json\0");
            digest.update(canonical);
        }
        Err(_) => {
            digest.update("bytes\0");
            digest.update(body);
        }
    }
    digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `value` as compact JSON with every object's keys sorted (whatever order the map type
/// keeps them in).
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

impl Idempotency {
    /// The JSON body as `T` (unknown fields refused).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse(&self.body)
    }

    /// Runs the POST under its key, if it has one. The key is claimed in the database first: a
    /// finished request is replayed, a different request with the same key is refused
    /// (`idempotency_key_reused`), and the same request still running on any node answers
    /// `idempotency_key_in_use`. `run` gets the key's context to store the response with its
    /// write. A final rejection (4xx) is stored for a retry to replay; any other failure (5xx,
    /// a conflict, `payment_processing`) releases the claim so that a retry runs again. If
    /// this future is dropped (the client went away), the claim is released; if the node dies,
    /// the claim's lease runs out.
    pub async fn run(
        self,
        s: &Shared,
        caller: &Principal,
        status: StatusCode,
        run: impl AsyncFnOnce(Option<&Idem>) -> Result<Value, AppError>,
    ) -> Result<Reply, ApiError> {
        let Some(key) = self.key? else {
            return Ok(Reply::new(status, run(None).await?));
        };
        let app = &s.app;
        let idem = match idempotency::begin(app, caller, key, self.request_hash).await? {
            Begun::Run(idem) => idem,
            Begun::Replay(record) => return Ok(replay(record)),
            Begun::InUse => return Err(in_use()),
            Begun::Reused => return Err(reused()),
        };
        let claim = Claimed {
            app: app.clone(),
            idem: Some(idem.clone()),
        };
        let result = run(Some(&idem)).await;
        claim.keep();
        match result {
            Ok(body) => {
                if let Err(e) = idempotency::finish(app, &idem, status.as_u16(), &body).await {
                    // The answer stands; the claim runs out with its lease.
                    eprintln!("holdback: storing an idempotent response: {e}");
                }
                Ok(Reply::new(status, body))
            }
            Err(AppError::Conflict(Conflict::KeyUsed)) => {
                // The claim was lost (its lease passed and a retry took the key over).
                match idempotency::stored(app, &idem).await {
                    Ok(Some(record)) if record.request_hash == idem.request_hash => {
                        Ok(replay(record))
                    }
                    Ok(Some(_)) => Err(reused()),
                    _ => Err(in_use()),
                }
            }
            Err(e) if idempotency::is_final(&e) => {
                let error = ApiError::from(e);
                let (code, body) = error.body(&self.request_id);
                if let Err(e) = idempotency::finish(app, &idem, code.as_u16(), &body).await {
                    eprintln!("holdback: storing an idempotent rejection: {e}");
                }
                Err(error)
            }
            Err(e) => {
                if let Err(e) = idempotency::release(app, &idem).await {
                    eprintln!("holdback: releasing an idempotency key: {e}");
                }
                Err(e.into())
            }
        }
    }
}

fn in_use() -> ApiError {
    ApiError::code(
        ErrorCode::IdempotencyKeyInUse,
        "a request with this key is still running; retry later",
    )
}

fn reused() -> ApiError {
    ApiError::code(
        ErrorCode::IdempotencyKeyReused,
        "this key was used with a different request",
    )
}

/// The stored response, replayed.
fn replay(record: IdempotencyRecord) -> Reply {
    Reply {
        status: StatusCode::from_u16(record.status).unwrap_or(StatusCode::OK),
        body: serde_json::from_str(&record.body).unwrap_or(Value::Null),
        replayed: true,
    }
}

/// The claim this node holds on a key while its request runs: released if the request is
/// dropped before it finishes (the client went away), so that a retry need not wait for the
/// lease to run out.
struct Claimed {
    app: App,
    idem: Option<Idem>,
}

impl Claimed {
    /// The request finished: what happens to the claim is decided by how.
    fn keep(mut self) {
        self.idem = None;
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        let Some(idem) = self.idem.take() else {
            return;
        };
        let app = self.app.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = idempotency::release(&app, &idem).await {
                    eprintln!("holdback: releasing an abandoned idempotency key: {e}");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{fingerprint, json_or_nothing};

    #[test]
    fn only_json_bodies_are_read() {
        for ok in [
            "application/json",
            "Application/JSON; charset=UTF-8",
            "application/merge-patch+json",
            "application/json; boundary=x",
        ] {
            assert!(json_or_nothing(Some(ok), b"{}"), "{ok}");
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
            "application/jsonx",
            "?",
        ] {
            assert!(!json_or_nothing(Some(refused), b"{}"), "{refused}");
            assert!(!json_or_nothing(Some(refused), b""), "{refused}");
        }
        assert!(json_or_nothing(None, b""));
        assert!(!json_or_nothing(None, b"{}"));
    }

    #[test]
    fn the_digest_is_of_the_meaning_not_the_bytes() {
        let a = fingerprint("POST", "/v1/x", br#"{"a":1,"b":{"c":[1,2],"d":"e"}}"#);
        let reordered = fingerprint(
            "POST",
            "/v1/x",
            b"{\n  \"b\": {\"d\": \"e\", \"c\": [1, 2]},\n  \"a\": 1\n}\n",
        );
        assert_eq!(a, reordered);
        assert_ne!(
            a,
            fingerprint("POST", "/v1/x", br#"{"a":2,"b":{"c":[1,2],"d":"e"}}"#)
        );
        assert_ne!(
            a,
            fingerprint("POST", "/v1/x", br#"{"a":1,"b":{"c":[2,1],"d":"e"}}"#)
        );
        assert_ne!(
            a,
            fingerprint("POST", "/v1/y", br#"{"a":1,"b":{"c":[1,2],"d":"e"}}"#)
        );
        // not JSON: its bytes
        assert_ne!(
            fingerprint("POST", "/v1/x", b"{a"),
            fingerprint("POST", "/v1/x", b"{ a")
        );
    }
}
