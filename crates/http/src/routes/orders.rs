//! `/v1/orders`: the orders a caller may see, and the actions on one order
//! (`POST /v1/orders/{id}/{action}`), each with its own body and command.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdback_app::orders;
use holdback_domain::ErrorCode;
use holdback_domain::order::OrderCommand;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::params::{self, Page};
use crate::reply::Reply;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(ship))
        .routes(routes!(mark_delivered))
        .routes(routes!(confirm_receipt))
        .routes(routes!(request_cancel))
        .routes(routes!(answer_cancel))
        .routes(routes!(refund))
        .routes(routes!(extend_protection))
        .routes(routes!(request_extension))
        .routes(routes!(answer_extension))
}

/// The orders the caller may see: all (platform), a buyer's own, or a seller's own.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of orders", body = schema::OrderList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_orders(State(s): Ctx, Caller(who): Caller, page: Page) -> Result<Reply, ApiError> {
    let (data, has_more) = orders::list(&s.app, &who, page.cursor()?, page.limit()?).await?;
    Ok(Reply::list("/v1/orders", data, has_more))
}

/// One order. An order the caller may not see answers 404, as one that does not exist.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The order", body = schema::Order),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn get_order(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(orders::get(&s.app, &who, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ShipDto {
    carrier: String,
    tracking_number: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AnswerDto {
    accept: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ApproveDto {
    approve: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundDto {
    amount: i64,
    currency: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExtensionDto {
    days: u32,
}

/// One documented handler per order action: the route is the handler's name, its body is
/// `$body`, and `$command` turns that body into the order command. All share [`act`].
macro_rules! action {
    ($name:ident, $body:ty, $doc:literal, $command:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = concat!("/v1/orders/{id}/", stringify!($name)), tag = "orders",
            request_body = $body,
            params(("id" = String, Path), schema::IdempotencyKey),
            responses(
                (status = 200, description = "The order after the action", body = schema::Order),
                (status = "4XX", description = "Refused: see the error code", body = schema::ErrorBody),
            ),
            security(("api_key" = [])))]
        async fn $name(
            state: Ctx,
            Path(id): Path<String>,
            caller: Caller,
            post: Idempotency,
        ) -> Result<Reply, ApiError> {
            let command: fn($body) -> Result<OrderCommand, ApiError> = $command;
            let command = command(post.parse()?)?;
            act(state, caller, id, command, post).await
        }
    };
}

action!(
    ship,
    ShipDto,
    "The seller ships the order (carrier and tracking number).",
    |d| {
        if d.carrier.trim().is_empty() || d.tracking_number.trim().is_empty() {
            return Err(ApiError::param(
                ErrorCode::ParameterInvalid,
                "tracking_number",
                "carrier and tracking_number are required",
            ));
        }
        crate::params::text(&d.carrier, "carrier", crate::params::MAX_TRACKING)?;
        crate::params::text(
            &d.tracking_number,
            "tracking_number",
            crate::params::MAX_TRACKING,
        )?;
        Ok(OrderCommand::Ship {
            carrier: d.carrier,
            tracking: d.tracking_number,
        })
    }
);
action!(
    mark_delivered,
    Empty,
    "A delivered event from the carrier.",
    |_| Ok(OrderCommand::MarkDelivered)
);
action!(
    confirm_receipt,
    Empty,
    "The buyer confirms receipt: the hold is released to the seller less commission.",
    |_| Ok(OrderCommand::ConfirmReceipt)
);
action!(
    request_cancel,
    Empty,
    "The buyer asks to cancel before shipment; the seller has 48 h to answer.",
    |_| Ok(OrderCommand::RequestCancel)
);
action!(
    answer_cancel,
    AnswerDto,
    "The seller accepts (refund) or rejects a cancellation request.",
    |d| Ok(OrderCommand::AnswerCancel { accept: d.accept })
);
action!(
    refund,
    RefundDto,
    "A full or partial refund to the card, before release (platform or seller).",
    |d| {
        let currency = params::currency(&d.currency, "currency")?;
        let amount = params::money(d.amount, currency, "amount")?;
        Ok(OrderCommand::Refund { amount })
    }
);
action!(
    extend_protection,
    Empty,
    "The buyer extends protection once by 3 days, when at most 3 days remain.",
    |_| Ok(OrderCommand::ExtendProtection)
);
action!(
    request_extension,
    ExtensionDto,
    "The buyer asks the seller for a longer protection period.",
    |d| Ok(OrderCommand::RequestExtension { days: d.days })
);
action!(
    answer_extension,
    ApproveDto,
    "The seller approves or declines the requested extension.",
    |d| Ok(OrderCommand::AnswerExtension { approve: d.approve })
);

/// Acts on the order under the request's idempotency key.
async fn act(
    State(s): Ctx,
    Caller(who): Caller,
    id: String,
    command: OrderCommand,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    post.run(&s, &who, StatusCode::OK, async |idem| {
        orders::act(&s.app, &who, &id, &command, idem).await
    })
    .await
}
