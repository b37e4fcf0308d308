//! Webhook endpoints and deliveries: each endpoint keeps a cursor into the outbox; new events
//! become delivery rows (idempotently, so several nodes may enqueue at once); a delivery is
//! claimed with a lease before it is sent, and finished as delivered, retried later, or failed.
//!
//! An endpoint is `enabled`, `disabled` (its deliveries are enqueued but not claimed, so they
//! wait) or `deleted` (nothing more is enqueued; its pending deliveries are cancelled as failed
//! with the reason `endpoint_deleted`; the row and its delivery history stay readable).
//!
//! Every time here is an argument: the worker reads its clock for each attempt (the lease it
//! takes, the retry it schedules), so a slow pass never leases or schedules from a stale time.

use crate::{IdempotencyRecord, Store, StoreError, keyed, rows::Get, with_pool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    /// The signing secret (`whsec_…`), needed in the clear to sign.
    pub secret: String,
    pub created_at: i64,
    /// An endpoint receives the events of its own mode only.
    pub livemode: bool,
    pub status: EndpointStatus,
}

/// Whether an endpoint receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    /// Its deliveries are sent.
    Enabled,
    /// Its deliveries are enqueued but wait, unclaimed, until it is enabled again.
    Disabled,
    /// Gone for good: nothing is enqueued, its pending deliveries were cancelled.
    Deleted,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Disabled => "disabled",
            EndpointStatus::Deleted => "deleted",
        }
    }

    fn parse(text: &str) -> Result<EndpointStatus, StoreError> {
        match text {
            "enabled" => Ok(EndpointStatus::Enabled),
            "disabled" => Ok(EndpointStatus::Disabled),
            "deleted" => Ok(EndpointStatus::Deleted),
            other => Err(StoreError::Corrupt(format!("endpoint status {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub endpoint_id: String,
    pub event_seq: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

/// A delivery with its outcome so far, as [`Store::deliveries_to`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    pub delivery: DeliveryRow,
    pub delivered_at: Option<i64>,
    pub failed_at: Option<i64>,
    /// The HTTP status of the last attempt; `None` when it got no answer (or none yet).
    pub last_status: Option<i64>,
    /// Why the last attempt got no answer (`address_not_allowed`, `no_response`, …) or why
    /// the delivery was cancelled (`endpoint_deleted`); `None` after an answer.
    pub last_error: Option<String>,
}

/// A delivery with its event's id and type, as [`Store::delivery_page`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryListed {
    pub state: DeliveryState,
    pub event_id: String,
    pub event_type: String,
}

fn endpoint(row: &impl Get) -> Result<EndpointRow, StoreError> {
    Ok(EndpointRow {
        id: row.text("id")?,
        url: row.text("url")?,
        secret: row.text("secret")?,
        created_at: row.int("created_at")?,
        livemode: row.flag("livemode")?,
        status: EndpointStatus::parse(&row.text("status")?)?,
    })
}

fn delivery(row: &impl Get) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        endpoint_id: row.text("endpoint_id")?,
        event_seq: row.int("event_seq")?,
        attempts: row.int("attempts")?,
        next_attempt_at: row.int("next_attempt_at")?,
    })
}

fn delivery_state(row: &impl Get) -> Result<DeliveryState, StoreError> {
    Ok(DeliveryState {
        delivery: delivery(row)?,
        delivered_at: row.opt_int("delivered_at")?,
        failed_at: row.opt_int("failed_at")?,
        last_status: row.opt_int("last_status")?,
        last_error: row.opt_text("last_error")?,
    })
}

const ENDPOINTS: &str = "SELECT id, url, secret, created_at, livemode, status \
     FROM webhook_endpoints ORDER BY id";
const ENDPOINT: &str = "SELECT id, url, secret, created_at, livemode, status \
     FROM webhook_endpoints WHERE id = $1";

const ENQUEUE: &str = "INSERT INTO webhook_deliveries (endpoint_id, event_seq, attempts, \
     next_attempt_at) SELECT $1, seq, 0, $2 FROM events \
     WHERE seq > (SELECT cursor FROM webhook_endpoints WHERE id = $1) \
     AND livemode = (SELECT livemode FROM webhook_endpoints WHERE id = $1) \
     AND (SELECT status FROM webhook_endpoints WHERE id = $1) <> 'deleted' ORDER BY seq LIMIT $3 \
     ON CONFLICT DO NOTHING";
const ADVANCE: &str = "UPDATE webhook_endpoints SET cursor = (SELECT COALESCE(MAX(event_seq), 0) \
     FROM webhook_deliveries WHERE endpoint_id = $1) WHERE id = $1 AND cursor < \
     (SELECT COALESCE(MAX(event_seq), 0) FROM webhook_deliveries WHERE endpoint_id = $1)";
const DUE: &str = "SELECT endpoint_id, event_seq, attempts, next_attempt_at FROM \
     webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL \
     AND next_attempt_at <= $1 \
     AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE status = 'enabled') ORDER BY next_attempt_at, event_seq, endpoint_id LIMIT $2";
const CLAIM: &str = "UPDATE webhook_deliveries SET next_attempt_at = $1, attempts = attempts + 1 \
     WHERE endpoint_id = $2 AND event_seq = $3 AND next_attempt_at = $4 \
     AND delivered_at IS NULL AND failed_at IS NULL \
     AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $2 AND status = 'enabled')";
// Delivered is the truth even for a delivery cancelled while its request was in flight.
const DELIVERED: &str = "UPDATE webhook_deliveries SET delivered_at = $1, last_status = $2, \
     last_error = $3, failed_at = NULL WHERE endpoint_id = $4 AND event_seq = $5";
const RETRY: &str = "UPDATE webhook_deliveries SET next_attempt_at = $1, last_status = $2, \
     last_error = $3 WHERE endpoint_id = $4 AND event_seq = $5 AND delivered_at IS NULL \
     AND failed_at IS NULL";
const FAILED: &str = "UPDATE webhook_deliveries SET failed_at = $1, last_status = $2, \
     last_error = $3 WHERE endpoint_id = $4 AND event_seq = $5 AND delivered_at IS NULL \
     AND failed_at IS NULL";
const CANCEL: &str = "UPDATE webhook_deliveries SET failed_at = $1, \
     last_error = 'endpoint_deleted' WHERE endpoint_id = $2 AND delivered_at IS NULL \
     AND failed_at IS NULL";
const PAGE: &str = "SELECT d.endpoint_id, d.event_seq, d.attempts, d.next_attempt_at, \
     d.delivered_at, d.failed_at, d.last_status, d.last_error, e.id AS event_id, \
     e.type AS event_type FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq \
     WHERE d.endpoint_id = $1 AND d.event_seq > $2 ORDER BY d.event_seq LIMIT $3";

impl Store {
    /// Registers an endpoint; it receives the events recorded from now on. Registers an endpoint, with the first response to its idempotency key if there is one:
    /// both or neither. `false`: the key was used meanwhile, and nothing was written.
    pub async fn create_endpoint(
        &self,
        e: &EndpointRow,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<bool, StoreError> {
        Ok(keyed!(self, idempotency, tx => {
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, url, secret, cursor, created_at, livemode, \
                 status) VALUES ($1, $2, $3, (SELECT COALESCE(MAX(seq), 0) FROM events), $4, $5, \
                 $6)",
            )
            .bind(&e.id)
            .bind(&e.url)
            .bind(&e.secret)
            .bind(e.created_at)
            .bind(e.livemode)
            .bind(e.status.as_str())
            .execute(&mut *tx)
            .await?
        }))
    }

    /// Every endpoint, deleted ones included, by id.
    pub async fn endpoints(&self) -> Result<Vec<EndpointRow>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(ENDPOINTS)
                .fetch_all(pool)
                .await?;
            rows.iter().map(endpoint).collect()
        })
    }

    /// One endpoint, deleted or not.
    pub async fn endpoint(&self, id: &str) -> Result<Option<EndpointRow>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(ENDPOINT)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(endpoint).transpose()
        })
    }

    /// Moves an endpoint from `from` to `to`, with the first response to its idempotency key if
    /// there is one: both or neither. Deleting it cancels its pending deliveries (failed at
    /// `now`, reason `endpoint_deleted`) in the same transaction. `Ok(None)`: the key was used
    /// meanwhile, nothing written; `Ok(Some(false))`: the endpoint was not in `from` (any more),
    /// nothing written but the key's response.
    pub async fn set_endpoint_status(
        &self,
        id: &str,
        from: EndpointStatus,
        to: EndpointStatus,
        now: i64,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Option<bool>, StoreError> {
        let mut moved = false;
        let fresh = keyed!(self, idempotency, tx => {
            moved = sqlx::query("UPDATE webhook_endpoints SET status = $1 WHERE id = $2 AND status = $3")
                .bind(to.as_str())
                .bind(id)
                .bind(from.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if moved && to == EndpointStatus::Deleted {
                sqlx::query(CANCEL).bind(now).bind(id).execute(&mut *tx).await?;
            }
        });
        Ok(fresh.then_some(moved))
    }

    /// One endpoint's deliveries after event `after_seq`, in event order, with their events' ids
    /// and types (at most `limit`).
    pub async fn delivery_page(
        &self,
        endpoint_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryListed>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(PAGE)
                .bind(endpoint_id)
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(DeliveryListed {
                        state: delivery_state(row)?,
                        event_id: row.text("event_id")?,
                        event_type: row.text("event_type")?,
                    })
                })
                .collect()
        })
    }

    /// Turns up to `limit` new events into deliveries for one endpoint; returns how many.
    pub async fn enqueue_deliveries(
        &self,
        endpoint_id: &str,
        now: i64,
        limit: u32,
    ) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let added = sqlx::query(ENQUEUE)
                .bind(endpoint_id)
                .bind(now)
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(ADVANCE).bind(endpoint_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(added)
        })
    }

    pub async fn due_deliveries(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(DUE).bind(now).bind(i64::from(limit)).fetch_all(pool).await?;
            rows.iter().map(delivery).collect()
        })
    }

    /// Takes a due delivery for sending until `lease_until`; false if another node took it.
    /// `lease_until` must lie beyond the end of the request the caller is about to make (its
    /// timeout included): until then no other node can claim the same row.
    pub async fn claim_delivery(
        &self,
        d: &DeliveryRow,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let done = sqlx::query(CLAIM)
                .bind(lease_until)
                .bind(&d.endpoint_id)
                .bind(d.event_seq)
                .bind(d.next_attempt_at)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Records the outcome of an attempt: delivered, to retry at `retry_at`, or failed for good;
    /// `status` is the answer's HTTP status, `error` why there was none. A delivery cancelled
    /// meanwhile stays cancelled unless this attempt delivered it.
    pub async fn finish_delivery(
        &self,
        d: &DeliveryRow,
        now: i64,
        status: Option<u16>,
        error: Option<&str>,
        outcome: DeliveryOutcome,
    ) -> Result<(), StoreError> {
        let status = status.map(i64::from);
        with_pool!(self, pool => {
            let q = match outcome {
                DeliveryOutcome::Delivered => sqlx::query(DELIVERED).bind(now),
                DeliveryOutcome::RetryAt(at) => sqlx::query(RETRY).bind(at),
                DeliveryOutcome::Failed => sqlx::query(FAILED).bind(now),
            };
            q.bind(status).bind(error).bind(&d.endpoint_id).bind(d.event_seq).execute(pool).await?;
            Ok(())
        })
    }

    /// One event by its outbox position.
    pub async fn event_at(&self, seq: i64) -> Result<Option<crate::StoredEvent>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT seq, id, type, object_id, payload, created_at, livemode FROM events \
                 WHERE seq = $1",
            )
            .bind(seq)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(crate::rows::event).transpose()
        })
    }

    /// One endpoint's deliveries in event order, with their outcomes (at most `limit`).
    pub async fn deliveries_to(
        &self,
        endpoint_id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryState>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT endpoint_id, event_seq, attempts, next_attempt_at, delivered_at, \
                 failed_at, last_status, last_error FROM webhook_deliveries WHERE endpoint_id = $1 \
                 ORDER BY event_seq LIMIT $2",
            )
            .bind(endpoint_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(delivery_state).collect()
        })
    }

    /// The endpoints of one mode that are not deleted.
    pub async fn endpoints_of(&self, livemode: bool) -> Result<Vec<EndpointRow>, StoreError> {
        Ok(self
            .endpoints()
            .await?
            .into_iter()
            .filter(|e| e.livemode == livemode && e.status != EndpointStatus::Deleted)
            .collect())
    }
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    RetryAt(i64),
    Failed,
}
