//! `/v1/buyers/{id}/balance`: a buyer's balance per currency with its history (the buyer
//! itself, or the platform), and the platform's adjustments of it, each with a written reason.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use holdback_app::balance;
use holdback_domain::ErrorCode;
use serde::Deserialize;
use utoipa::openapi::Object;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::params;
use crate::reply::Reply;
use crate::schema::rules;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(get_balance))
        .routes(routes!(adjust_balance))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct BalanceQuery {
    /// The currency whose history to show (the first of the buyer's otherwise).
    #[param(schema_with = rules::currency)]
    currency: Option<String>,
    /// 1 to 100, default 10; outside that range the request is refused (`parameter_invalid`).
    #[param(schema_with = rules::limit)]
    limit: Option<u32>,
    /// The id of the last history line of the previous page.
    starting_after: Option<String>,
}

/// A buyer's balance in every currency it has one, and one currency's history, newest first.
/// The buyer itself or the platform; anyone else gets 404.
#[utoipa::path(get, path = "/v1/buyers/{id}/balance", tag = "parties",
    params(("id" = String, Path), BalanceQuery),
    responses(
        (status = 200, description = "The balance", body = schema::Balance),
        schema::SubListRefusals,
    ),
    security(("api_key" = [])))]
async fn get_balance(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    query: Result<Query<BalanceQuery>, QueryRejection>,
) -> Result<Reply, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(ApiError::code(
            ErrorCode::ParameterInvalid,
            "the query takes currency, limit (1 to 100) and starting_after",
        ));
    };
    let currency = match &q.currency {
        Some(c) => Some(params::currency(c, "currency")?),
        None => None,
    };
    let limit = params::limit(q.limit)?;
    let body = balance::get(
        &s.app,
        &who,
        &id,
        currency,
        q.starting_after.as_deref(),
        limit,
    )
    .await?;
    Ok(Reply::ok(body))
}

fn direction() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["credit", "debit"]))
        .build()
}

fn reason() -> Object {
    rules::required_text_of(params::MAX_DECISION_REASON)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AdjustmentDto {
    /// credit (adds to the balance) or debit (takes from it; never below zero).
    #[schema(schema_with = direction)]
    direction: String,
    #[schema(schema_with = rules::positive_amount)]
    amount: i64,
    #[schema(schema_with = rules::currency)]
    currency: String,
    /// Why, for the audit trail (carried by the `balance.adjusted` event).
    #[schema(schema_with = reason)]
    reason: String,
}

/// The platform adjusts a buyer's balance, with a written reason: one ledger transaction and a
/// `balance.adjusted` event. A debit beyond the balance is refused (`balance_insufficient`).
#[utoipa::path(post, path = "/v1/buyers/{id}/balance/adjustments", tag = "parties",
    request_body = AdjustmentDto,
    params(("id" = String, Path), schema::IdempotencyKey),
    responses(
        (status = 201, description = "The adjustment", body = schema::BalanceAdjustment),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn adjust_balance(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: AdjustmentDto = post.parse()?;
    let currency = params::currency(&dto.currency, "currency")?;
    let amount = params::money(dto.amount, currency, "amount")?;
    let credit = match dto.direction.as_str() {
        "credit" => true,
        "debit" => false,
        _ => {
            return Err(ApiError::param(
                ErrorCode::ParameterInvalid,
                "direction",
                "direction is credit or debit",
            ));
        }
    };
    params::required_text(&dto.reason, "reason", params::MAX_DECISION_REASON)?;
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        balance::adjust(&s.app, &who, &id, credit, amount, &dto.reason, idem).await
    })
    .await
}
