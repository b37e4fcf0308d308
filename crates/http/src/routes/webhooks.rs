//! `/v1/webhook_endpoints`: where the platform receives signed events, and how it manages them
//! (read, disable, enable, delete, and each endpoint's deliveries).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdback_app::webhook_endpoints as endpoints;
use serde::Deserialize;
use utoipa::ToSchema;
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
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, delete_endpoint))
        .routes(routes!(disable_endpoint))
        .routes(routes!(enable_endpoint))
        .routes(routes!(list_deliveries))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EndpointDto {
    /// `http://` or `https://`, a host name or IPv4 address, an optional port, then an
    /// optional path without white space or control characters; at most 2048 characters.
    #[schema(schema_with = rules::url)]
    url: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// Register a webhook endpoint (platform only). The signing secret is shown in this response
/// only. A live endpoint must be https to a public address: loopback, private, link-local,
/// shared (CGNAT) and unspecified addresses and local names are refused
/// (`endpoint_address_not_allowed`), here and again at each delivery after DNS resolution,
/// unless the operator allows them. Test-mode endpoints may be http and local.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhooks", request_body = EndpointDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The endpoint, with its secret", body = schema::WebhookEndpoint),
        schema::CreateRefusals,
    ),
    security(("api_key" = [])))]
async fn create_endpoint(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: EndpointDto = post.parse()?;
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        endpoints::create_endpoint(&s.app, &who, &dto.url, idem).await
    })
    .await
}

/// The registered webhook endpoints that are not deleted (platform only), without their
/// secrets.
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhooks",
    responses(
        (status = 200, description = "The endpoints", body = schema::WebhookEndpointList),
        schema::PlatformReadRefusals,
    ),
    security(("api_key" = [])))]
async fn list_endpoints(State(s): Ctx, Caller(who): Caller) -> Result<Reply, ApiError> {
    let data = endpoints::list_endpoints(&s.app, &who).await?;
    Ok(Reply::list("/v1/webhook_endpoints", data, false))
}

/// One webhook endpoint, without its secret. A deleted endpoint and another mode's endpoint
/// answer 404, as a missing one.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The endpoint", body = schema::WebhookEndpoint),
        schema::PlatformGetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_endpoint(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(endpoints::get_endpoint(&s.app, &who, &id).await?))
}

/// Disable an endpoint: it receives nothing, while events go on being enqueued for it; its due
/// deliveries wait and are sent, in order, once it is enabled again. Disabling a disabled
/// endpoint answers it unchanged; a deleted one is refused (`webhook_endpoint_deleted`).
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/disable", tag = "webhooks",
    request_body = Empty,
    params(("id" = String, Path), schema::IdempotencyKey),
    responses(
        (status = 200, description = "The endpoint, disabled", body = schema::WebhookEndpoint),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn disable_endpoint(
    state: Ctx,
    Path(id): Path<String>,
    caller: Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    set_enabled(state, caller, id, false, post).await
}

/// Enable an endpoint: the deliveries that waited while it was disabled are sent on the next
/// pass. Enabling an enabled endpoint answers it unchanged; a deleted one is refused
/// (`webhook_endpoint_deleted`).
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/enable", tag = "webhooks",
    request_body = Empty,
    params(("id" = String, Path), schema::IdempotencyKey),
    responses(
        (status = 200, description = "The endpoint, enabled", body = schema::WebhookEndpoint),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn enable_endpoint(
    state: Ctx,
    Path(id): Path<String>,
    caller: Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    set_enabled(state, caller, id, true, post).await
}

async fn set_enabled(
    State(s): Ctx,
    Caller(who): Caller,
    id: String,
    enabled: bool,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let _: Empty = post.parse()?;
    post.run(&s, &who, StatusCode::OK, async |idem| {
        endpoints::set_enabled(&s.app, &who, &id, enabled, idem).await
    })
    .await
}

/// Delete an endpoint for good: nothing more is delivered to it and its pending deliveries are
/// cancelled (failed, `last_error` `endpoint_deleted`). It leaves the list, and it and its
/// deliveries then answer 404. Deleting it again answers it unchanged.
#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The endpoint, deleted", body = schema::WebhookEndpoint),
        schema::DeleteRefusals,
    ),
    security(("api_key" = [])))]
async fn delete_endpoint(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(
        endpoints::delete_endpoint(&s.app, &who, &id).await?,
    ))
}

/// One endpoint's deliveries, in event order: each event's id and type, status (pending,
/// delivered, failed), attempts, the last answer's HTTP status or why there was none, and
/// the next attempt or when it was delivered or given up (Unix seconds). `starting_after` is
/// the event id of the last delivery of the previous page. A deleted endpoint's answer 404.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), schema::DeliveryPageParams),
    responses(
        (status = 200, description = "A page of deliveries", body = schema::WebhookDeliveryList),
        schema::SubListRefusals,
    ),
    security(("api_key" = [])))]
async fn list_deliveries(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    page: Page,
) -> Result<Reply, ApiError> {
    let after = page.forward_only("deliveries")?;
    let (data, has_more) =
        endpoints::list_deliveries(&s.app, &who, &id, after, page.limit()?).await?;
    let url = format!("/v1/webhook_endpoints/{id}/deliveries");
    Ok(Reply::list(&url, data, has_more))
}
