//! An order's message record: its buyer, its seller and the platform append messages and read
//! the chain; anyone else (a mediator too, for now) is told the order does not exist. A message may be written whatever
//! the order's state (on a cancelled or completed order too): the record is evidence.
//!
//! An append reads the chain's head, makes the message after it (seq, prev_hash, hash) and
//! commits it with its `message.created` event and the idempotent response, as one unit of the
//! group-commit writer. If another message took that place first, the writer refuses the unit
//! ([`Conflict::ChainMoved`]) and the append reads the head again.

use holdback_domain::message::{self, Author, AuthorRole, Draft, GENESIS_HASH, Message};
use holdback_store::{Conflict, NewEvent, Unit, WriteError};
use serde_json::{Value, json};

use holdback_domain::ErrorCode;
use holdback_domain::order::Order;
use holdback_store::{Cursor, DisputeFilter};

use crate::orders::{Idem, load_visible};
use crate::{App, AppError, Principal, Role, ids, views};

/// How often an append reads the head again when other messages came first. Each failed
/// attempt means another append to the same order succeeded, so this bounds the contenders an
/// append outlasts, not the time.
pub const ATTEMPTS: u32 = 64;

/// The author a principal writes as.
fn author(principal: &Principal) -> Result<Author, AppError> {
    Ok(match &principal.role {
        Role::Buyer(b) => Author {
            role: AuthorRole::Buyer,
            id: b.clone(),
        },
        Role::Seller(s) => Author {
            role: AuthorRole::Seller,
            id: s.clone(),
        },
        Role::Platform => Author {
            role: AuthorRole::Platform,
            id: "platform".into(),
        },
        Role::Mediator(m) => Author {
            role: AuthorRole::Mediator,
            id: m.clone(),
        },
        // (a retailer sees no order's record)
        Role::Retailer(_) | Role::Carrier(_) => return Err(AppError::NotFound),
    })
}

/// A message as the API shows it (`created` in Unix seconds).
pub fn view(m: &Message) -> Value {
    json!({
        "id": m.id,
        "object": "message",
        "order": m.order,
        "seq": m.seq,
        "author": {"role": m.author.role.code(), "id": m.author.id},
        "body": m.body,
        "files": m.files,
        "created": m.created.div_euclid(1000),
        "livemode": m.livemode,
        "prev_hash": m.prev_hash,
        "hash": m.hash,
    })
}

/// A pause before the `attempt`-th try (none before the first): random, and growing, so that
/// appends that met at one head spread over later batches instead of meeting again.
async fn before_attempt(attempt: u32) {
    if attempt > 0 {
        let spread = u64::from(attempt.min(8)) * 2 + 1;
        let random = u64::from_str_radix(&ids::random_hex()[..8], 16).unwrap_or(0);
        tokio::time::sleep(std::time::Duration::from_millis(random % spread)).await;
    }
}

/// The order whose record `principal` may read and write: one it may see, or, for a mediator,
/// one with a dispute that went to mediation. Anyone else is told the order does not exist.
async fn load_record(app: &App, principal: &Principal, order_id: &str) -> Result<Order, AppError> {
    if !matches!(principal.role, Role::Mediator(_)) {
        return Ok(load_visible(app, principal, order_id).await?.0);
    }
    let filter = DisputeFilter {
        livemode: principal.livemode,
        order: Some(order_id),
        escalated_only: true,
        ..DisputeFilter::default()
    };
    let mediated = app
        .store
        .list_disputes(&filter, Cursor::After(""), 1)
        .await?;
    if mediated.is_empty() {
        return Err(AppError::NotFound);
    }
    let (order, _) = app.store.order(order_id).await?.ok_or(AppError::NotFound)?;
    Ok(order)
}

/// Every file a message names must be evidence of one of its order's disputes.
async fn check_evidence(app: &App, order: &Order, files: &[String]) -> Result<(), AppError> {
    for (i, id) in files.iter().enumerate() {
        let ours = match app.store.evidence_file(order.livemode, id).await? {
            Some(file) => app
                .store
                .dispute(&file.dispute_id)
                .await?
                .is_some_and(|(d, _)| d.order == order.id),
            None => false,
        };
        if !ours {
            return Err(AppError::param(
                ErrorCode::MessageFilesInvalid,
                "files",
                format!("files[{i}] is not an evidence file of this order's disputes"),
            ));
        }
    }
    Ok(())
}

/// Appends a message by `principal` to order `order_id`; returns the message.
pub async fn post(
    app: &App,
    principal: &Principal,
    order_id: &str,
    body: String,
    files: Vec<String>,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let order = load_record(app, principal, order_id).await?;
    let draft = Draft::new(
        app.ids.next("msg"),
        order.id.clone(),
        author(principal)?,
        body,
        files,
        order.livemode,
    )
    .map_err(|e| AppError::param(e.code(), e.param(), e.to_string()))?;
    check_evidence(app, &order, &draft.files).await?;
    for attempt in 0..ATTEMPTS {
        before_attempt(attempt).await;
        let head = app.store.message_head(&order.id).await?;
        let now = app.clock.now_ms();
        let m = draft
            .clone()
            .append(head.as_ref().map(|(s, h)| (*s, h.as_str())), now);
        let body = view(&m);
        let event_id = app.ids.next("evt");
        let payload = views::new_event(&event_id, "message.created", now, m.livemode, body.clone());
        let unit = Unit {
            events: vec![NewEvent {
                id: event_id,
                kind: "message.created".into(),
                object_id: m.id.clone(),
                payload: payload.to_string(),
                created_at: now,
                livemode: m.livemode,
            }],
            idempotency: idem.map(|i| i.record(201, &body, now)),
            messages: vec![m],
            ..Unit::default()
        };
        match app.ledger.commit(unit).await {
            Ok(_) => return Ok(body),
            Err(WriteError::Conflict(Conflict::ChainMoved)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(Conflict::ChainKeepsMoving))
}

/// A page of an order's messages, oldest first, after message `starting_after` (which must be
/// one of the order's).
pub async fn list(
    app: &App,
    principal: &Principal,
    order_id: &str,
    starting_after: Option<&str>,
    limit: u32,
) -> Result<(Vec<Value>, bool), AppError> {
    let order = load_record(app, principal, order_id).await?;
    let after = match starting_after {
        None => 0,
        Some(id) => app.store.message_seq(&order.id, id).await?.ok_or_else(|| {
            AppError::param(
                holdback_domain::ErrorCode::ResourceMissing,
                "starting_after",
                "no such message on this order",
            )
        })?,
    };
    let limit = limit.clamp(1, 100);
    let mut messages = app.store.messages(&order.id, after, limit + 1).await?;
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    Ok((messages.iter().map(view).collect(), has_more))
}

/// The whole conversation as one document, for evidence: every message with its hashes and
/// creation time in ms (what the hash covers), the chain's head hash, and whether the chain
/// verifies.
pub async fn export(app: &App, principal: &Principal, order_id: &str) -> Result<Value, AppError> {
    let order = load_record(app, principal, order_id).await?;
    let messages = app.store.all_messages(&order.id).await?;
    let breaks: Vec<String> = message::verify(&messages)
        .iter()
        .map(ToString::to_string)
        .collect();
    let head = messages.last().map_or(GENESIS_HASH, |m| m.hash.as_str());
    let data: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut v = view(m);
            v["created_ms"] = json!(m.created);
            v
        })
        .collect();
    Ok(json!({
        "object": "message_export",
        "order": order.id,
        "livemode": order.livemode,
        "exported": app.clock.now_ms().div_euclid(1000),
        "hash_algorithm": HASH_ALGORITHM,
        "genesis_hash": GENESIS_HASH,
        "head_hash": head,
        "count": messages.len(),
        "intact": breaks.is_empty(),
        "breaks": breaks,
        "messages": data,
    }))
}

/// How a message's hash is made, stated in the export so that anyone can check it.
pub const HASH_ALGORITHM: &str = "sha256 over: the text \"holdback.message.v1\", order, seq, \
     author.role, author.id, body, files (as their count, then each), created_ms, prev_hash; \
     each text as its UTF-8 byte length (8 bytes, big-endian) then its bytes, each integer as 8 \
     bytes big-endian (two's complement); lower-case hex. The first message's prev_hash is \
     genesis_hash.";
