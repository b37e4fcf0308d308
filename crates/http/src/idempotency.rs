//! Idempotency for every POST: the `Idempotency-Key` header, a digest of the request, the replay
//! of a finished request, and the marker of one still running.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use holdback_app::orders::Idem;
use holdback_app::{AppError, Principal};
use holdback_store::IdempotencyRecord;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::errors::ApiError;
use crate::params::parse;
use crate::reply::Reply;

/// What identifies a POST for idempotency: its key (checked when the request runs, after the
/// body), a digest of its method, path and body, and the body itself.
pub(crate) struct Idempotency {
    key: Result<Option<String>, ApiError>,
    request_hash: String,
    body: Bytes,
}

impl FromRequest<Arc<Shared>> for Idempotency {
    type Rejection = Response;

    async fn from_request(request: Request, s: &Arc<Shared>) -> Result<Idempotency, Response> {
        let key = match request.headers().get("idempotency-key").map(|v| v.to_str()) {
            None => Ok(None),
            Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => Ok(Some(k.to_string())),
            Some(_) => Err(ApiError::param(
                "parameter_invalid",
                "Idempotency-Key",
                "1 to 255 visible characters",
            )),
        };
        let mut digest = Sha256::new();
        digest.update(request.method().as_str());
        digest.update([0]);
        digest.update(request.uri().path());
        digest.update([0]);
        let body = Bytes::from_request(request, s)
            .await
            .map_err(IntoResponse::into_response)?;
        digest.update(&body);
        let request_hash = digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Idempotency {
            key,
            request_hash,
            body,
        })
    }
}

impl Idempotency {
    /// The JSON body as `T` (unknown fields refused).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse(&self.body)
    }

    /// Runs the POST under its key, if it has one: replays a finished request, refuses a
    /// different request with the same key (`idempotency_key_reused`), and answers
    /// `idempotency_key_in_use` while the same key is running. `run` gets the key's context to
    /// store the response with its write; a write that finds the key used meanwhile replays
    /// the request that used it.
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
        let idem = Idem {
            principal: caller.key_id.clone(),
            key,
            request_hash: self.request_hash,
        };
        if let Some(record) = stored(s, &idem).await? {
            return replay(record, &idem);
        }
        let result = {
            let _running = InFlight::claim(&s.running, &idem)?;
            run(Some(&idem)).await
        };
        match result {
            Ok(body) => Ok(Reply::new(status, body)),
            Err(AppError::Conflict(what)) if what == holdback_store::KEY_USED => {
                match stored(s, &idem).await {
                    Ok(Some(record)) => replay(record, &idem),
                    _ => Err(AppError::Conflict(what).into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

async fn stored(s: &Shared, idem: &Idem) -> Result<Option<IdempotencyRecord>, ApiError> {
    s.app
        .store
        .idempotency(&idem.principal, &idem.key)
        .await
        .map_err(|e| AppError::from(e).into())
}

/// The first response to the key, if this is the same request.
fn replay(record: IdempotencyRecord, idem: &Idem) -> Result<Reply, ApiError> {
    if record.request_hash != idem.request_hash {
        return Err(ApiError::code(
            "idempotency_key_reused",
            "this key was used with a different request",
        ));
    }
    Ok(Reply {
        status: StatusCode::from_u16(record.status).unwrap_or(StatusCode::OK),
        body: serde_json::from_str(&record.body).unwrap_or(Value::Null),
        replayed: true,
    })
}

/// The marker of a request running now under a key, on this node: claimed before the request
/// runs, released when it ends (or is dropped). The one place that knows where the marker lives.
struct InFlight<'a> {
    running: &'a Mutex<HashSet<(String, String)>>,
    slot: (String, String),
}

impl<'a> InFlight<'a> {
    /// Marks the key as running, or refuses with `idempotency_key_in_use` if it already is.
    fn claim(
        running: &'a Mutex<HashSet<(String, String)>>,
        idem: &Idem,
    ) -> Result<InFlight<'a>, ApiError> {
        let slot = (idem.principal.clone(), idem.key.clone());
        let claimed = running
            .lock()
            .map(|mut r| r.insert(slot.clone()))
            .unwrap_or(false);
        if !claimed {
            return Err(ApiError::code(
                "idempotency_key_in_use",
                "a request with this key is still running",
            ));
        }
        Ok(InFlight { running, slot })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.running.lock() {
            r.remove(&self.slot);
        }
    }
}
