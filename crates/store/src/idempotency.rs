//! Idempotency keys in the database: the claim a request takes on its key before it runs, the
//! final response that replaces the claim, the release of a claim, and the purge of old keys.
//!
//! A row of `idempotency_keys` is either `in_flight` (claimed by the request holding
//! `claim_token`, until `locked_until`) or `done` (the response a retry replays). Claims are
//! taken and released here, straight on the pool, in one statement each, so that every node
//! sees them at once; the final response is written with the request's decision (by the
//! group-commit writer, or the keyed transactions of parties, products and endpoints), by
//! [`RECORD_KEY`], which replaces only the claim of the same token.

use crate::rows::Get as _;
use crate::{Conflict, IdempotencyRecord, Store, StoreError, rows, with_pool};

/// Writes a final response: inserts it, or replaces the claim that names the same token. Affects
/// no row when the key is taken otherwise (done, or claimed by another request).
pub(crate) const RECORD_KEY: &str = "INSERT INTO idempotency_keys (principal, key, request_hash, \
     status, body, created_at, claim_token) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (principal, key) DO UPDATE SET request_hash = excluded.request_hash, \
     status = excluded.status, body = excluded.body, created_at = excluded.created_at, \
     state = 'done', locked_until = NULL \
     WHERE idempotency_keys.state = 'in_flight' \
     AND idempotency_keys.claim_token = excluded.claim_token";

/// The writer's view of a key a unit names: `None` when absent, `Some(None)` when done,
/// `Some(Some(token))` when claimed by `token`.
pub(crate) const SELECT_KEY_HOLDER: &str = "SELECT CASE WHEN state = 'in_flight' \
     THEN claim_token END AS holder FROM idempotency_keys WHERE principal = $1 AND key = $2";

const INSERT_CLAIM: &str = "INSERT INTO idempotency_keys (principal, key, request_hash, status, \
     body, created_at, state, claim_token, locked_until) \
     VALUES ($1, $2, $3, 0, '', $4, 'in_flight', $5, $6) ON CONFLICT DO NOTHING";

const TAKE_OVER_CLAIM: &str = "UPDATE idempotency_keys SET request_hash = $3, created_at = $4, \
     claim_token = $5, locked_until = $6 \
     WHERE principal = $1 AND key = $2 AND state = 'in_flight' AND locked_until <= $4";

const SELECT_KEY: &str = "SELECT principal, key, request_hash, status, body, created_at, \
     claim_token, state FROM idempotency_keys WHERE principal = $1 AND key = $2";

const RELEASE_CLAIM: &str = "DELETE FROM idempotency_keys \
     WHERE principal = $1 AND key = $2 AND state = 'in_flight' AND claim_token = $3";

/// At most `$3` keys created before `$1`: finished ones, claims whose lease passed before `$2`,
/// but no checkout's dedupe record (principal `checkout:…`, body the payment's id) of a payment
/// still `processing` (a retry must find that payment to continue it).
const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE (principal, key) IN (\
     SELECT k.principal, k.key FROM idempotency_keys k WHERE k.created_at < $1 \
     AND (k.state = 'done' OR k.locked_until < $2) \
     AND NOT (k.principal LIKE 'checkout:%' AND EXISTS (\
     SELECT 1 FROM payments p WHERE p.id = k.body AND p.status = 'processing')) \
     LIMIT $3)";

/// The outcome of claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request holds the key now, under its token.
    Claimed,
    /// The key has its final response.
    Done(IdempotencyRecord),
    /// Another request holds the key (with this request digest), and its lease has not passed.
    InFlight { request_hash: String },
}

impl Store {
    /// Claims `key` of `principal` for the request `request_hash` under `token`, until
    /// `locked_until`: inserts a claim, or takes over one whose lease passed by `now`. Each
    /// step is one atomic statement, so of requests racing on any number of nodes one claims.
    pub async fn claim_key(
        &self,
        principal: &str,
        key: &str,
        request_hash: &str,
        token: &str,
        now: i64,
        locked_until: i64,
    ) -> Result<Claim, StoreError> {
        // A row can vanish between the steps (released, purged): a few rounds settle it.
        for _ in 0..3 {
            let claimed = with_pool!(self, pool => {
                let inserted = sqlx::query(INSERT_CLAIM)
                    .bind(principal)
                    .bind(key)
                    .bind(request_hash)
                    .bind(now)
                    .bind(token)
                    .bind(locked_until)
                    .execute(pool)
                    .await?
                    .rows_affected();
                inserted == 1
                    || sqlx::query(TAKE_OVER_CLAIM)
                        .bind(principal)
                        .bind(key)
                        .bind(request_hash)
                        .bind(now)
                        .bind(token)
                        .bind(locked_until)
                        .execute(pool)
                        .await?
                        .rows_affected()
                        == 1
            });
            if claimed {
                return Ok(Claim::Claimed);
            }
            let row = with_pool!(self, pool => {
                let row = sqlx::query(SELECT_KEY)
                    .bind(principal)
                    .bind(key)
                    .fetch_optional(pool)
                    .await?;
                match row {
                    None => None,
                    Some(r) => Some((r.text("state")?, rows::idempotency(&r)?)),
                }
            });
            match row {
                Some((state, record)) if state == "done" => return Ok(Claim::Done(record)),
                Some((_, record)) => {
                    return Ok(Claim::InFlight {
                        request_hash: record.request_hash,
                    });
                }
                None => continue,
            }
        }
        Err(StoreError::Conflict(Conflict::KeyKeptChanging))
    }

    /// Stores the final response `record` in place of its claim (outside any decision: for a
    /// request that ended in a rejection). `false`: the key is taken otherwise, nothing written.
    pub async fn record_key(&self, record: &IdempotencyRecord) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let n = sqlx::query(RECORD_KEY)
                .bind(&record.principal)
                .bind(&record.key)
                .bind(&record.request_hash)
                .bind(i64::from(record.status))
                .bind(&record.body)
                .bind(record.created_at)
                .bind(&record.claim)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Releases the claim `token` holds on a key, if it still does: a retry may run at once.
    pub async fn release_key(
        &self,
        principal: &str,
        key: &str,
        token: &str,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(RELEASE_CLAIM)
                .bind(principal)
                .bind(key)
                .bind(token)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Deletes at most `limit` keys created before `before` (see [`PURGE_KEYS`]); returns how
    /// many. Claims are deleted only once their lease passed before `now`.
    pub async fn purge_keys(&self, before: i64, now: i64, limit: u32) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query(PURGE_KEYS)
                .bind(before)
                .bind(now)
                .bind(i64::from(limit))
                .execute(pool)
                .await?
                .rows_affected())
        })
    }
}
