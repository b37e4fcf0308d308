//! Payments and refunds: reads with object-level access, and the operator's list of refunds.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use holdback_app::{Role, payments, refunds};
use serde::Deserialize;

use crate::errors::ApiError;
use crate::{Ctx, Page, authenticate, fail, list_body, page_of, reply, request_id, schema};

/// One payment with its tenders, orders and refunds. The platform sees any of its mode, a buyer
/// its own, a seller one that paid for its orders (and only those orders); others get 404.
#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The payment", body = schema::Payment),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn get_payment(
    State(s): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    match payments::get(&s.app, &principal, &id).await {
        Ok(v) => reply(StatusCode::OK, &v, &rid, false),
        Err(e) => fail(e, &rid),
    }
}

/// The payments the caller may see: all of its mode (platform) or a buyer's own, with their
/// orders and refunds.
#[utoipa::path(get, path = "/v1/payments", tag = "payments", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of payments", body = schema::PaymentList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn list_payments(
    State(s): Ctx,
    headers: HeaderMap,
    query: Result<Query<Page>, QueryRejection>,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    let page = match page_of(query) {
        Ok(p) => p,
        Err(e) => return fail(e, &rid),
    };
    let cursor = match page.cursor() {
        Ok(c) => c,
        Err(e) => return fail(e, &rid),
    };
    match payments::list(&s.app, &principal, cursor, page.limit.unwrap_or(10)).await {
        Ok((data, has_more)) => reply(
            StatusCode::OK,
            &list_body("/v1/payments", data, has_more),
            &rid,
            false,
        ),
        Err(e) => fail(e, &rid),
    }
}

/// One refund, seen by whoever may see its order.
#[utoipa::path(get, path = "/v1/refunds/{id}", tag = "payments", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The refund", body = schema::Refund),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn get_refund(
    State(s): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    match payments::get_refund(&s.app, &principal, &id).await {
        Ok(v) => reply(StatusCode::OK, &v, &rid, false),
        Err(e) => fail(e, &rid),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefundQuery {
    /// 1 to 100 (default 10).
    limit: Option<u32>,
    /// The id of the last refund of the previous page.
    starting_after: Option<String>,
    /// `failed`: only refunds waiting for an operator.
    status: Option<String>,
}

/// The refunds of the caller's mode, for the platform: all, or with `status=failed` those the
/// provider kept refusing, which wait for an operator's retry.
#[utoipa::path(get, path = "/v1/refunds", tag = "payments", params(RefundQuery),
    responses(
        (status = 200, description = "A page of refunds", body = schema::RefundList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn list_refunds(
    State(s): Ctx,
    headers: HeaderMap,
    query: Result<Query<RefundQuery>, QueryRejection>,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    if principal.role != Role::Platform {
        return fail(
            ApiError::code("not_permitted", "only the platform lists refunds"),
            &rid,
        );
    }
    let Ok(Query(q)) = query else {
        return fail(
            ApiError::code(
                "parameter_invalid",
                "the query takes limit (1 to 100), starting_after and status=failed",
            ),
            &rid,
        );
    };
    let failed = match q.status.as_deref() {
        None => false,
        Some("failed") => true,
        Some(_) => {
            return fail(
                ApiError::param("parameter_invalid", "status", "status is failed or absent"),
                &rid,
            );
        }
    };
    let limit = q.limit.unwrap_or(10).clamp(1, 100);
    let after = q.starting_after.unwrap_or_default();
    match refunds::list(&s.app, principal.livemode, failed, &after, limit + 1).await {
        Ok(mut data) => {
            let has_more = data.len() > limit as usize;
            data.truncate(limit as usize);
            reply(
                StatusCode::OK,
                &list_body("/v1/refunds", data, has_more),
                &rid,
                false,
            )
        }
        Err(e) => fail(e, &rid),
    }
}
