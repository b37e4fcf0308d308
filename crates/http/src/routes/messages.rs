//! `/v1/orders/{id}/messages`: an order's append-only message record. Its buyer, its seller,
//! the platform, and a mediator once one of its disputes went to mediation write and read it;
//! anyone else gets 404, as for a missing order.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdback_app::messages;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::params::Page;
use crate::reply::Reply;
use crate::schema::rules;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(post_message, list_messages))
        .routes(routes!(export_messages))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MessageDto {
    /// 1 to 5,000 characters, not only white space; newline and tab are the only control
    /// characters allowed. Refused as message_body_empty, message_body_too_long or
    /// message_body_invalid_character.
    #[schema(schema_with = rules::message_body)]
    body: String,
    /// Evidence files the message refers to (ids of files uploaded to this order's disputes),
    /// at most 10, none twice; refused as message_files_invalid.
    #[serde(default)]
    #[schema(schema_with = rules::message_files)]
    files: Vec<String>,
}

#[allow(dead_code)] // documents the query
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct MessagePageParams {
    /// 1 to 100, default 10; outside that range the request is refused (`parameter_invalid`).
    #[param(schema_with = rules::limit)]
    limit: Option<u32>,
    /// The id of the last message of the previous page (next page); a message of this order,
    /// or the request is refused (`resource_missing`).
    starting_after: Option<String>,
}

/// Who wrote a message.
#[allow(dead_code)] // documents JSON
#[derive(ToSchema)]
struct MessageAuthor {
    /// buyer, seller, mediator or platform.
    role: String,
    /// The buyer's, seller's or mediator's id; `platform` for the platform.
    id: String,
}

/// One message of an order's record. `hash` is SHA-256 (hex) over the order id, seq, author,
/// body, files, creation time and `prev_hash`; `prev_hash` is the hash of the message before
/// (64 zeros for the first), so that any change to the record shows.
#[allow(dead_code)] // documents JSON
#[derive(ToSchema)]
struct Message {
    id: String,
    /// Always "message".
    object: String,
    order: String,
    /// 1, 2, … within the order.
    seq: i64,
    author: MessageAuthor,
    body: String,
    files: Vec<String>,
    /// Unix seconds.
    created: i64,
    livemode: bool,
    prev_hash: String,
    hash: String,
}

#[allow(dead_code)] // documents JSON
#[derive(ToSchema)]
struct MessageList {
    /// Always "list".
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Message>,
}

/// A message as exported: with the creation time in ms, which the hash covers.
#[allow(dead_code)] // documents JSON
#[derive(ToSchema)]
struct ExportedMessage {
    #[serde(flatten)]
    message: Message,
    /// The creation time in ms since the Unix epoch, as the hash covers it.
    created_ms: i64,
}

/// The whole conversation of an order, as evidence.
#[allow(dead_code)] // documents JSON
#[derive(ToSchema)]
struct MessageExport {
    /// Always "message_export".
    object: String,
    order: String,
    livemode: bool,
    /// When the export was made (Unix seconds).
    exported: i64,
    /// How each message's hash is computed, so that anyone can check the chain.
    hash_algorithm: String,
    /// The first message's prev_hash: 64 zeros.
    genesis_hash: String,
    /// The newest message's hash (the genesis hash when there is none).
    head_hash: String,
    count: i64,
    /// Whether the chain verified when it was exported.
    intact: bool,
    /// Each break found, by seq (empty when intact).
    breaks: Vec<String>,
    /// Each message as in the list, with `created_ms` added.
    messages: Vec<ExportedMessage>,
}

/// Appends a message to the order's record (its buyer, its seller or the platform), whatever
/// the order's state. Answers the message with its place in the chain; sends
/// `message.created`.
#[utoipa::path(post, path = "/v1/orders/{id}/messages", tag = "orders",
    request_body = MessageDto,
    params(("id" = String, Path), schema::IdempotencyKey),
    responses(
        (status = 201, description = "The message", body = Message),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn post_message(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: MessageDto = post.parse()?;
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        messages::post(&s.app, &who, &id, dto.body, dto.files, idem).await
    })
    .await
}

/// The order's messages, oldest first. `starting_after` is the id of the last message of the
/// previous page (one of this order's messages).
#[utoipa::path(get, path = "/v1/orders/{id}/messages", tag = "orders",
    params(("id" = String, Path), MessagePageParams),
    responses(
        (status = 200, description = "A page of messages", body = MessageList),
        schema::SubListRefusals,
    ),
    security(("api_key" = [])))]
async fn list_messages(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    page: Page,
) -> Result<Reply, ApiError> {
    let after = page.forward_only("messages")?;
    let (data, has_more) = messages::list(&s.app, &who, &id, after, page.limit()?).await?;
    Ok(Reply::list(
        &format!("/v1/orders/{id}/messages"),
        data,
        has_more,
    ))
}

/// The whole conversation as one JSON document, suitable as evidence: every message with its
/// hashes, the chain's head hash, how the hashes are made, and whether the chain verifies.
#[utoipa::path(get, path = "/v1/orders/{id}/messages/export", tag = "orders",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The conversation", body = MessageExport),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn export_messages(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(messages::export(&s.app, &who, &id).await?))
}
