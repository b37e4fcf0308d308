//! Webhook endpoints and deliveries: each endpoint keeps a cursor into the outbox; new events
//! become delivery rows (idempotently, so several nodes may enqueue at once); a delivery is
//! claimed with a lease before it is sent, and finished as delivered, retried later, or failed.
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
}

fn endpoint(row: &impl Get) -> Result<EndpointRow, StoreError> {
    Ok(EndpointRow {
        id: row.text("id")?,
        url: row.text("url")?,
        secret: row.text("secret")?,
        created_at: row.int("created_at")?,
        livemode: row.flag("livemode")?,
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
    })
}

const ENQUEUE: &str = "INSERT INTO webhook_deliveries (endpoint_id, event_seq, attempts, \
     next_attempt_at) SELECT $1, seq, 0, $2 FROM events \
     WHERE seq > (SELECT cursor FROM webhook_endpoints WHERE id = $1) \
     AND livemode = (SELECT livemode FROM webhook_endpoints WHERE id = $1) ORDER BY seq LIMIT $3 \
     ON CONFLICT DO NOTHING";
const ADVANCE: &str = "UPDATE webhook_endpoints SET cursor = (SELECT COALESCE(MAX(event_seq), 0) \
     FROM webhook_deliveries WHERE endpoint_id = $1) WHERE id = $1 AND cursor < \
     (SELECT COALESCE(MAX(event_seq), 0) FROM webhook_deliveries WHERE endpoint_id = $1)";
const DUE: &str = "SELECT endpoint_id, event_seq, attempts, next_attempt_at FROM \
     webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL \
     AND next_attempt_at <= $1 ORDER BY next_attempt_at, event_seq, endpoint_id LIMIT $2";
const CLAIM: &str = "UPDATE webhook_deliveries SET next_attempt_at = $1, attempts = attempts + 1 \
     WHERE endpoint_id = $2 AND event_seq = $3 AND next_attempt_at = $4 \
     AND delivered_at IS NULL AND failed_at IS NULL";
const DELIVERED: &str = "UPDATE webhook_deliveries SET delivered_at = $1, last_status = $2 \
     WHERE endpoint_id = $3 AND event_seq = $4";
const RETRY: &str = "UPDATE webhook_deliveries SET next_attempt_at = $1, last_status = $2 \
     WHERE endpoint_id = $3 AND event_seq = $4 AND delivered_at IS NULL";
const FAILED: &str = "UPDATE webhook_deliveries SET failed_at = $1, last_status = $2 \
     WHERE endpoint_id = $3 AND event_seq = $4 AND delivered_at IS NULL";

impl Store {
    /// Registers an endpoint; it receives the events recorded from now on.
    /// Registers an endpoint, with the first response to its idempotency key if there is one:
    /// both or neither. `false`: the key was used meanwhile, and nothing was written.
    pub async fn create_endpoint(
        &self,
        e: &EndpointRow,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<bool, StoreError> {
        Ok(keyed!(self, idempotency, tx => {
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, url, secret, cursor, created_at, livemode) \
                 VALUES ($1, $2, $3, (SELECT COALESCE(MAX(seq), 0) FROM events), $4, $5)",
            )
            .bind(&e.id)
            .bind(&e.url)
            .bind(&e.secret)
            .bind(e.created_at)
            .bind(e.livemode)
            .execute(&mut *tx)
            .await?
        }))
    }

    pub async fn endpoints(&self) -> Result<Vec<EndpointRow>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT id, url, secret, created_at, livemode FROM webhook_endpoints ORDER BY id")
                .fetch_all(pool)
                .await?;
            rows.iter().map(endpoint).collect()
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

    /// Records the outcome of an attempt: delivered, to retry at `retry_at`, or failed for good.
    pub async fn finish_delivery(
        &self,
        d: &DeliveryRow,
        now: i64,
        status: Option<u16>,
        outcome: DeliveryOutcome,
    ) -> Result<(), StoreError> {
        let status = status.map(i64::from);
        with_pool!(self, pool => {
            let q = match outcome {
                DeliveryOutcome::Delivered => sqlx::query(DELIVERED).bind(now),
                DeliveryOutcome::RetryAt(at) => sqlx::query(RETRY).bind(at),
                DeliveryOutcome::Failed => sqlx::query(FAILED).bind(now),
            };
            q.bind(status).bind(&d.endpoint_id).bind(d.event_seq).execute(pool).await?;
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
                 failed_at, last_status FROM webhook_deliveries WHERE endpoint_id = $1 \
                 ORDER BY event_seq LIMIT $2",
            )
            .bind(endpoint_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(delivery_state).collect()
        })
    }

    /// Endpoints of one mode.
    pub async fn endpoints_of(&self, livemode: bool) -> Result<Vec<EndpointRow>, StoreError> {
        Ok(self
            .endpoints()
            .await?
            .into_iter()
            .filter(|e| e.livemode == livemode)
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
