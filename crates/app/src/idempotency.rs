//! Idempotency keys across nodes: a request claims its key in the database before it runs, and
//! its final response replaces the claim.
//!
//! - [`begin`] claims the key (one atomic statement; a claim whose lease passed is taken over),
//!   or answers with what holds it: the stored response to replay, the same request still
//!   running (`idempotency_key_in_use`), or a different request (`idempotency_key_reused`).
//! - The use case writes the response with its decision ([`crate::orders::Idem::record`], whose
//!   claim token lets the writer replace this request's own claim and nothing else).
//! - [`finish`] stores the response if the use case did not (an answer that needed no write, or
//!   a final rejection: see [`is_final`]); [`release`] deletes the claim after a failure that a
//!   retry may fix (a 5xx, a conflict, `payment_processing`), so the retry runs at once.
//! - A claim left by a node that died is taken over after [`lease_ms`]; [`purge`] deletes keys
//!   older than [`KEEP_MS`].
//!
//! On SQLite the claims are the process's own ([`LocalClaims`]), not rows: a claim written on
//! the pool is a durable write transaction of its own, which waits for the group-commit
//! writer's lock and syncs the file, and it made every keyed request pay that (measured in
//! docs/PERFORMANCE.md). SQLite serves one machine; two processes on one file do not exclude
//! each other's running requests, but one key still has one effect: the writer refuses a
//! second response for a key (`Conflict::KeyUsed`, then the first is replayed), and checkout's own
//! dedupe record is written before the provider is called. On PostgreSQL, where several nodes
//! share the database, claims are rows as described above.

use std::collections::HashMap;
use std::sync::Mutex;

use holdback_domain::ErrorCode;
use holdback_domain::order::DAY;
use holdback_store::{Claim, IdempotencyRecord, Store};
use serde_json::Value;

use crate::orders::Idem;
use crate::{App, AppError, Principal, ids};

/// How long keys are kept at least: a retry within a day replays.
pub const KEEP_MS: i64 = DAY;

/// How long a claim holds its key without its request finishing: past this a retry may take it
/// over (the node that held it died, or lost its database connection). Longer than any request
/// runs: the provider call is the longest part, and it gives up after `provider_timeout_ms`.
pub fn lease_ms(app: &App) -> i64 {
    let provider = i64::try_from(app.policy.provider_timeout_ms).unwrap_or(i64::MAX / 4);
    provider.saturating_add(30_000).max(60_000)
}

/// A key held by one of this process's requests: its token, its request digest, and until when.
type Held = (String, String, i64);

/// The keys this process's requests hold (SQLite), by (principal, key).
#[derive(Debug, Default)]
pub struct LocalClaims(Mutex<HashMap<(String, String), Held>>);

impl LocalClaims {
    /// Claims the key, or says who holds it (as the database's claim would).
    fn claim(
        &self,
        principal: &str,
        key: &str,
        hash: &str,
        token: &str,
        now: i64,
        until: i64,
    ) -> Claim {
        let Ok(mut held) = self.0.lock() else {
            return Claim::InFlight {
                request_hash: hash.to_string(),
            };
        };
        let slot = (principal.to_string(), key.to_string());
        match held.get(&slot) {
            Some((_, h, locked_until)) if *locked_until > now => Claim::InFlight {
                request_hash: h.clone(),
            },
            _ => {
                held.insert(slot, (token.to_string(), hash.to_string(), until));
                Claim::Claimed
            }
        }
    }

    fn release(&self, principal: &str, key: &str, token: &str) {
        if let Ok(mut held) = self.0.lock() {
            let slot = (principal.to_string(), key.to_string());
            if held.get(&slot).is_some_and(|(t, _, _)| t == token) {
                held.remove(&slot);
            }
        }
    }
}

/// Whether claims are the process's own (SQLite) rather than rows.
fn local(store: &Store) -> bool {
    matches!(store, Store::Sqlite(_))
}

/// What a keyed request does next.
#[derive(Debug)]
pub enum Begun {
    /// This request holds the key: run it with this context, then [`finish`] or [`release`].
    Run(Idem),
    /// The same request finished before: replay its response.
    Replay(IdempotencyRecord),
    /// The same request is running now (on any node).
    InUse,
    /// The key belongs to a different request.
    Reused,
}

/// Claims `key` for `caller`'s request with digest `request_hash`.
pub async fn begin(
    app: &App,
    caller: &Principal,
    key: String,
    request_hash: String,
) -> Result<Begun, AppError> {
    let token = ids::random_hex();
    let now = app.clock.now_ms();
    let until = now.saturating_add(lease_ms(app));
    let claim = if local(&app.store) {
        match app.store.idempotency(&caller.key_id, &key).await? {
            Some(record) => Claim::Done(record),
            None => app
                .claims
                .claim(&caller.key_id, &key, &request_hash, &token, now, until),
        }
    } else {
        app.store
            .claim_key(&caller.key_id, &key, &request_hash, &token, now, until)
            .await?
    };
    Ok(match claim {
        Claim::Claimed => Begun::Run(Idem {
            principal: caller.key_id.clone(),
            key,
            request_hash,
            claim: Some(token),
        }),
        Claim::Done(record) if record.request_hash == request_hash => Begun::Replay(record),
        Claim::InFlight { request_hash: h } if h == request_hash => Begun::InUse,
        Claim::Done(_) | Claim::InFlight { .. } => Begun::Reused,
    })
}

/// The stored response to `idem`'s key, if it has its final one.
pub async fn stored(app: &App, idem: &Idem) -> Result<Option<IdempotencyRecord>, AppError> {
    Ok(app.store.idempotency(&idem.principal, &idem.key).await?)
}

/// Stores `status` and `body` as the final response to the claimed key, unless the use case
/// already stored one with its decision.
pub async fn finish(app: &App, idem: &Idem, status: u16, body: &Value) -> Result<(), AppError> {
    if let Some(token) = &idem.claim {
        // A local claim ends here; the row (if the use case wrote none) follows.
        app.claims.release(&idem.principal, &idem.key, token);
    }
    if stored(app, idem).await?.is_some() {
        return Ok(());
    }
    let now = app.clock.now_ms();
    // Affects nothing if the claim was lost meanwhile (its lease passed and a retry took it).
    app.store
        .record_key(&idem.record(status, body, now))
        .await?;
    Ok(())
}

/// Deletes this request's claim on its key, if it still holds it.
pub async fn release(app: &App, idem: &Idem) -> Result<(), AppError> {
    if let Some(token) = &idem.claim {
        if local(&app.store) {
            app.claims.release(&idem.principal, &idem.key, token);
        } else {
            app.store
                .release_key(&idem.principal, &idem.key, token)
                .await?;
        }
    }
    Ok(())
}

/// Whether an error is the request's final answer, stored for a retry to replay (a rejection:
/// the same request would be refused again), or one a retry may change, after which the key is
/// released: a conflict or a failure of the system (5xx), and two rejections that are not
/// answers about the request itself:
///
/// - `payment_processing` (409) means "the charge's outcome is unknown yet; retry the same
///   request to continue": the retry must run again, find the payment through checkout's own
///   dedupe record and finish it. Stored, it would pin the caller to "processing" forever.
/// - `idempotency_key_reused` from checkout names a conflict with another request's payment,
///   not an answer to this one.
pub fn is_final(error: &AppError) -> bool {
    match error {
        AppError::Rejected { code, .. } => !matches!(
            *code,
            ErrorCode::PaymentProcessing
                | ErrorCode::IdempotencyKeyReused
                | ErrorCode::IdempotencyKeyInUse
        ),
        AppError::NotFound | AppError::Explained { .. } => true,
        AppError::Unauthenticated | AppError::Conflict(_) | AppError::Internal(_) => false,
    }
}

/// What one purge pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub keys: u64,
}

/// Deletes up to `batch` keys older than [`KEEP_MS`]: API keys' responses, claims whose lease
/// passed, and checkout's dedupe records, but not those of a payment still `processing`.
pub async fn purge(app: &App, batch: u32) -> Result<Purged, AppError> {
    let now = app.clock.now_ms();
    let keys = app
        .store
        .purge_keys(now.saturating_sub(KEEP_MS), now, batch)
        .await?;
    Ok(Purged { keys })
}
