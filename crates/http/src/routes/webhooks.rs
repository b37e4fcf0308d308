//! `/v1/webhook_endpoints`: where the platform receives signed events.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use holdback_app::webhooks;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::reply::Reply;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new().routes(routes!(create_endpoint, list_endpoints))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EndpointDto {
    url: String,
}

/// Register a webhook endpoint (platform only). The signing secret is shown in this response
/// only.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhooks", request_body = EndpointDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The endpoint, with its secret", body = schema::WebhookEndpoint),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn create_endpoint(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: EndpointDto = post.parse()?;
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        webhooks::create_endpoint(&s.app, &who, &dto.url, idem).await
    })
    .await
}

/// The registered webhook endpoints (platform only), without their secrets.
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhooks",
    responses(
        (status = 200, description = "The endpoints", body = schema::WebhookEndpointList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_endpoints(State(s): Ctx, Caller(who): Caller) -> Result<Reply, ApiError> {
    let data = webhooks::list_endpoints(&s.app, &who).await?;
    Ok(Reply::list("/v1/webhook_endpoints", data, false))
}
