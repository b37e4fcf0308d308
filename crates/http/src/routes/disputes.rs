//! `/v1/disputes`: a buyer opens a dispute on an order; the seller answers, either side
//! escalates, a mediator decides, and a return is shipped and received. Each action is one
//! `POST /v1/disputes/{id}/{action}` with its own body. Amounts are in the minor units of the
//! order's currency.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use holdback_app::disputes::{self, Action, Ask, Decision};
use holdback_domain::ErrorCode;
use holdback_domain::dispute::{DisputeReason, DisputeStatus};
use serde::Deserialize;
use utoipa::openapi::Object;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::params::{self, Page};
use crate::reply::Reply;
use crate::schema::rules;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(open_dispute, list_disputes))
        .routes(routes!(get_dispute))
        .routes(routes!(respond))
        .routes(routes!(accept_counter))
        .routes(routes!(escalate))
        .routes(routes!(decide))
        .routes(routes!(ship_return))
        .routes(routes!(return_delivered))
        .routes(routes!(return_received))
}

fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

fn reason_schema() -> Object {
    string_enum(DisputeReason::ALL.iter().map(|r| r.code()))
}

fn status_schema() -> Object {
    string_enum(DisputeStatus::ALL.iter().map(|s| s.code()))
}

/// What the buyer asks for.
#[allow(clippy::enum_variant_names)] // the names are the API's
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RequestedDto {
    FullRefund {},
    PartialRefund {
        /// Within what the order holds.
        #[schema(schema_with = rules::positive_amount)]
        amount: i64,
    },
    ReturnAndRefund {},
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OpenDto {
    /// The order, one the caller may see (its buyer, or the platform).
    #[schema(schema_with = rules::tracking)]
    order: String,
    #[schema(schema_with = reason_schema)]
    reason: String,
    requested: RequestedDto,
}

/// The seller's answer.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "answer", rename_all = "snake_case", deny_unknown_fields)]
enum RespondDto {
    /// The buyer's request is granted.
    Accept {},
    Reject {},
    /// A partial refund the buyer may accept.
    Counter {
        #[schema(schema_with = rules::positive_amount)]
        amount: i64,
    },
}

/// A mediator's outcome.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum OutcomeDto {
    FullRefund {},
    /// The hold is split: `amount` to the buyer, the rest to the seller less commission.
    PartialRefund {
        #[schema(schema_with = rules::positive_amount)]
        amount: i64,
    },
    ReturnAndRefund {},
    /// The hold is released to the seller; protection resumes where it stopped.
    Rejected {},
    /// Proven counterfeit: `amount` back to the buyer, up to twice the price; what the hold
    /// does not cover is charged to the seller.
    Counterfeit {
        #[schema(schema_with = rules::positive_amount)]
        amount: i64,
    },
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DecideDto {
    outcome: OutcomeDto,
    /// The written reason, shown to both sides.
    #[schema(schema_with = decision_reason)]
    reason: String,
}

fn decision_reason() -> Object {
    rules::required_text_of(params::MAX_DECISION_REASON)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReturnDto {
    /// The return parcel's tracking number.
    #[schema(schema_with = rules::tracking, examples("RR123456785CN"))]
    tracking_number: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// A dispute is opened by the order's buyer (or the platform for them), from shipment + 5 days
/// until 15 days after the order completed; at most one is open per order. Its order's
/// protection clock stops until it closes.
#[utoipa::path(post, path = "/v1/disputes", tag = "disputes", request_body = OpenDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The dispute", body = schema::Dispute),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn open_dispute(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: OpenDto = post.parse()?;
    params::required_text(&dto.order, "order", params::MAX_TRACKING)?;
    let reason = DisputeReason::parse(&dto.reason).ok_or_else(|| {
        ApiError::param(
            ErrorCode::ParameterInvalid,
            "reason",
            "reason is not_received, not_as_described, damaged, counterfeit or wrong_item",
        )
    })?;
    let ask = match dto.requested {
        RequestedDto::FullRefund {} => Ask::FullRefund,
        RequestedDto::PartialRefund { amount } => Ask::PartialRefund(amount),
        RequestedDto::ReturnAndRefund {} => Ask::ReturnAndRefund,
    };
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        disputes::open(&s.app, &who, &dto.order, reason, ask, idem).await
    })
    .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DisputeQuery {
    /// Only disputes in this status.
    #[param(schema_with = status_schema)]
    status: Option<String>,
    /// Only this order's disputes.
    order: Option<String>,
    /// 1 to 100, default 10; outside that range the request is refused (`parameter_invalid`).
    #[param(schema_with = rules::limit)]
    limit: Option<u32>,
    /// The id of the last dispute of the previous page: the page after it.
    starting_after: Option<String>,
    /// The id of the first dispute of the next page: the page before it.
    ending_before: Option<String>,
}

/// The disputes the caller may see: all of its mode (platform), a buyer's or a seller's own,
/// or, for a mediator, those that went to mediation.
#[utoipa::path(get, path = "/v1/disputes", tag = "disputes", params(DisputeQuery),
    responses(
        (status = 200, description = "A page of disputes", body = schema::DisputeList),
        schema::ListRefusals,
    ),
    security(("api_key" = [])))]
async fn list_disputes(
    State(s): Ctx,
    Caller(who): Caller,
    query: Result<Query<DisputeQuery>, QueryRejection>,
) -> Result<Reply, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(ApiError::code(
            ErrorCode::ParameterInvalid,
            "the query takes status, order, limit (1 to 100) and starting_after or ending_before",
        ));
    };
    let status = match q.status.as_deref() {
        None => None,
        Some(code) => Some(DisputeStatus::parse(code).ok_or_else(|| {
            ApiError::param(
                ErrorCode::ParameterInvalid,
                "status",
                "status is negotiating, in_mediation, awaiting_return, return_shipped or closed",
            )
        })?),
    };
    let page = Page {
        limit: q.limit,
        starting_after: q.starting_after,
        ending_before: q.ending_before,
    };
    let (data, has_more) = disputes::list(
        &s.app,
        &who,
        status,
        q.order.as_deref(),
        page.cursor()?,
        page.limit()?,
    )
    .await?;
    let (data, has_more) = page.window(data, has_more);
    Ok(Reply::list("/v1/disputes", data, has_more))
}

/// One dispute. One the caller may not see answers 404, as one that does not exist.
#[utoipa::path(get, path = "/v1/disputes/{id}", tag = "disputes", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The dispute", body = schema::Dispute),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_dispute(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(disputes::get(&s.app, &who, &id).await?))
}

/// One documented handler per dispute action, as for orders: the route is the handler's name,
/// its body `$body`, and `$action` turns that body into the app's action.
macro_rules! action {
    ($name:ident, $path:literal, $body:ty, $doc:literal, $action:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = concat!("/v1/disputes/{id}/", $path), tag = "disputes",
            request_body = $body,
            params(("id" = String, Path), schema::IdempotencyKey),
            responses(
                (status = 200, description = "The dispute after the action", body = schema::Dispute),
                schema::ActionRefusals,
            ),
            security(("api_key" = [])))]
        async fn $name(
            State(s): Ctx,
            Path(id): Path<String>,
            Caller(who): Caller,
            post: Idempotency,
        ) -> Result<Reply, ApiError> {
            let action: fn($body) -> Result<Action, ApiError> = $action;
            let action = action(post.parse()?)?;
            post.run(&s, &who, StatusCode::OK, async |idem| {
                disputes::act(&s.app, &who, &id, &action, idem).await
            })
            .await
        }
    };
}

action!(
    respond,
    "respond",
    RespondDto,
    "The seller answers within 5 days: accept (the request is granted), reject, or counter with \
     a partial refund. Silence grants the request.",
    |d| Ok(match d {
        RespondDto::Accept {} => Action::Accept,
        RespondDto::Reject {} => Action::Reject,
        RespondDto::Counter { amount } => Action::Counter(amount),
    })
);
action!(
    accept_counter,
    "accept_counter",
    Empty,
    "The buyer accepts the seller's counter-offer: the dispute closes with that partial refund.",
    |_| Ok(Action::AcceptCounter)
);
action!(
    escalate,
    "escalate",
    Empty,
    "Either side hands the dispute to a mediator, from 3 days after it opened (the negotiation \
     is escalated anyway at 15 days).",
    |_| Ok(Action::Escalate)
);
action!(
    decide,
    "decide",
    DecideDto,
    "A mediator decides a dispute in mediation: an outcome, its amount where it has one, and a \
     written reason. The money moves in the same transaction.",
    |d| {
        params::required_text(&d.reason, "reason", params::MAX_DECISION_REASON)?;
        let outcome = match d.outcome {
            OutcomeDto::FullRefund {} => Decision::FullRefund,
            OutcomeDto::PartialRefund { amount } => Decision::PartialRefund(amount),
            OutcomeDto::ReturnAndRefund {} => Decision::ReturnAndRefund,
            OutcomeDto::Rejected {} => Decision::Rejected,
            OutcomeDto::Counterfeit { amount } => Decision::Counterfeit(amount),
        };
        Ok(Action::Decide {
            outcome,
            reason: d.reason,
        })
    }
);
action!(
    ship_return,
    "return",
    ReturnDto,
    "The buyer ships the return, within 10 days of the outcome that asked for it.",
    |d| {
        params::required_text(&d.tracking_number, "tracking_number", params::MAX_TRACKING)?;
        Ok(Action::ShipReturn {
            tracking: d.tracking_number,
        })
    }
);
action!(
    return_delivered,
    "return_delivered",
    Empty,
    "The carrier's delivered event for the return (platform): the refund follows the seller's \
     confirmation, or 15 days from now.",
    |_| Ok(Action::ReturnDelivered)
);
action!(
    return_received,
    "return_received",
    Empty,
    "The seller confirms receipt of the return: the buyer is refunded.",
    |_| Ok(Action::ConfirmReturnReceived)
);
