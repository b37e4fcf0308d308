//! Payments and refunds: reads with object-level access, and the operator's list of refunds.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use holdback_app::{Role, payments, refunds};
use holdback_domain::ErrorCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::params::Page;
use crate::reply::Reply;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(list_payments))
        .routes(routes!(get_payment))
        .routes(routes!(get_refund))
        .routes(routes!(list_refunds))
}

/// One payment with its tenders, orders and refunds. The platform sees any of its mode, a buyer
/// its own, a seller one that paid for its orders (and only those orders); others get 404.
#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The payment", body = schema::Payment),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_payment(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(payments::get(&s.app, &who, &id).await?))
}

/// The payments the caller may see: all of its mode (platform) or a buyer's own, with their
/// orders and refunds.
#[utoipa::path(get, path = "/v1/payments", tag = "payments", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of payments", body = schema::PaymentList),
        schema::ListRefusals,
    ),
    security(("api_key" = [])))]
async fn list_payments(State(s): Ctx, Caller(who): Caller, page: Page) -> Result<Reply, ApiError> {
    let (data, has_more) = payments::list(&s.app, &who, page.cursor()?, page.limit()?).await?;
    let (data, has_more) = page.window(data, has_more);
    Ok(Reply::list("/v1/payments", data, has_more))
}

/// One refund, seen by whoever may see its order.
#[utoipa::path(get, path = "/v1/refunds/{id}", tag = "payments", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The refund", body = schema::Refund),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_refund(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(payments::get_refund(&s.app, &who, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RefundQuery {
    /// 1 to 100, default 10; outside that range the request is refused (`parameter_invalid`).
    #[param(schema_with = crate::schema::rules::limit)]
    limit: Option<u32>,
    /// The id of the last refund of the previous page.
    starting_after: Option<String>,
    /// `failed`: only refunds waiting for an operator.
    #[param(schema_with = failed_only)]
    status: Option<String>,
}

fn failed_only() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["failed"]))
        .build()
}

/// The refunds of the caller's mode, for the platform: all, or with `status=failed` those the
/// provider kept refusing, which wait for an operator's retry.
#[utoipa::path(get, path = "/v1/refunds", tag = "payments", params(RefundQuery),
    responses(
        (status = 200, description = "A page of refunds", body = schema::RefundList),
        schema::ListRefusals,
    ),
    security(("api_key" = [])))]
async fn list_refunds(
    State(s): Ctx,
    Caller(who): Caller,
    query: Result<Query<RefundQuery>, QueryRejection>,
) -> Result<Reply, ApiError> {
    if who.role != Role::Platform {
        return Err(ApiError::code(
            ErrorCode::NotPermitted,
            "only the platform lists refunds",
        ));
    }
    let Ok(Query(q)) = query else {
        return Err(ApiError::code(
            ErrorCode::ParameterInvalid,
            "the query takes limit (1 to 100), starting_after and status=failed",
        ));
    };
    let failed = match q.status.as_deref() {
        None => false,
        Some("failed") => true,
        Some(_) => {
            return Err(ApiError::param(
                ErrorCode::ParameterInvalid,
                "status",
                "status is failed or absent",
            ));
        }
    };
    let limit = crate::params::limit(q.limit)?;
    let after = q.starting_after.unwrap_or_default();
    let mut data = refunds::list(&s.app, who.livemode, failed, &after, limit + 1).await?;
    let has_more = data.len() > limit as usize;
    data.truncate(limit as usize);
    Ok(Reply::list("/v1/refunds", data, has_more))
}
