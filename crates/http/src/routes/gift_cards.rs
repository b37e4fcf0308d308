//! `/v1/gift_cards`: the platform issues batches (each code shown once, in the answer), a
//! retailer records a card's sale for cash (activation), anyone checks a code, and a buyer
//! redeems one into its balance. Wrong codes lock the caller out after a few in a row
//! (`redemption_locked`); checks are limited per minute (`rate_limited`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdback_app::gift_cards;
use holdback_domain::ErrorCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::Object;
use utoipa::openapi::schema::{ObjectBuilder, Type};
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
        .routes(routes!(issue))
        .routes(routes!(get_gift_card))
        .routes(routes!(activate))
        .routes(routes!(check))
        .routes(routes!(redeem))
}

/// The longest till reference a retailer may give.
pub(crate) const MAX_TILL_REFERENCE: usize = 100;

fn count() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(gift_cards::MAX_BATCH))
        .build()
}

/// A code as typed: 20 symbols, perhaps grouped by dashes or spaces.
fn code() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .examples(["7KQ2-M9XD-4T8B-ZP3H-R6WC"])
        .build()
}

fn till() -> Object {
    rules::required_text_of(MAX_TILL_REFERENCE)
}

/// A code's length before it is read: a longer one is malformed anyway.
fn code_param(code: &str) -> Result<(), ApiError> {
    if code.is_empty() || code.len() > 64 {
        return Err(ApiError::param(
            ErrorCode::GiftCardCodeMalformed,
            "code",
            "a gift card code is 20 symbols, dashes and spaces aside",
        ));
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct IssueDto {
    /// How many cards (1 to 1000).
    #[schema(schema_with = count)]
    count: u32,
    /// What each card is worth, in minor units.
    #[schema(schema_with = rules::positive_amount)]
    amount: i64,
    #[schema(schema_with = rules::currency)]
    currency: String,
}

/// The platform issues a batch of cards, inactive until a retailer sells them. The answer is
/// the only time the codes are shown: a replay of the request answers without them.
#[utoipa::path(post, path = "/v1/gift_cards", tag = "gift_cards",
    request_body = IssueDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The batch, with every card's code", body = schema::GiftCardBatch),
        schema::CreateRefusals,
    ),
    security(("api_key" = [])))]
async fn issue(State(s): Ctx, Caller(who): Caller, post: Idempotency) -> Result<Reply, ApiError> {
    let dto: IssueDto = post.parse()?;
    let currency = params::currency(&dto.currency, "currency")?;
    let value = params::money(dto.amount, currency, "amount")?;
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        gift_cards::issue(&s.app, &who, dto.count, value, idem).await
    })
    .await
}

/// One card (never its code): the platform, the retailer that sold it, or the buyer that
/// redeemed it; anyone else gets 404.
#[utoipa::path(get, path = "/v1/gift_cards/{id}", tag = "gift_cards",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The card", body = schema::GiftCard),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_gift_card(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(gift_cards::get(&s.app, &who, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ActivateDto {
    #[schema(schema_with = code)]
    code: String,
    /// The cash taken, in minor units: the card's value.
    #[schema(schema_with = rules::positive_amount)]
    amount: i64,
    #[schema(schema_with = rules::currency)]
    currency: String,
    /// The retailer's own reference of the sale (its till receipt).
    #[schema(schema_with = till)]
    till_reference: String,
}

/// A retailer records its sale of a card for cash: the card becomes spendable, and the
/// retailer owes the platform its value. A card is activated once (`gift_card_already_active`).
#[utoipa::path(post, path = "/v1/gift_cards/activate", tag = "gift_cards",
    request_body = ActivateDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 200, description = "The card, active", body = schema::GiftCard),
        schema::GiftCardRefusals,
    ),
    security(("api_key" = [])))]
async fn activate(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: ActivateDto = post.parse()?;
    code_param(&dto.code)?;
    let currency = params::currency(&dto.currency, "currency")?;
    let amount = params::money(dto.amount, currency, "amount")?;
    params::required_text(&dto.till_reference, "till_reference", MAX_TILL_REFERENCE)?;
    post.run(&s, &who, StatusCode::OK, async |idem| {
        gift_cards::activate(&s.app, &who, &dto.code, amount, &dto.till_reference, idem).await
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckDto {
    #[schema(schema_with = code)]
    code: String,
}

/// Whether a code is genuine, and whether it is active and what it holds, without redeeming
/// it. Any key may ask, a limited number of times a minute (`rate_limited`); wrong codes in a
/// row lock the key's checks (`redemption_locked`).
#[utoipa::path(post, path = "/v1/gift_cards/check", tag = "gift_cards",
    request_body = CheckDto,
    responses(
        (status = 200, description = "What the code is", body = schema::GiftCardCheck),
        schema::GiftCardRefusals,
    ),
    security(("api_key" = [])))]
async fn check(State(s): Ctx, Caller(who): Caller, post: Idempotency) -> Result<Reply, ApiError> {
    let dto: CheckDto = post.parse()?;
    code_param(&dto.code)?;
    Ok(Reply::ok(gift_cards::check(&s.app, &who, &dto.code).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RedeemDto {
    #[schema(schema_with = code)]
    code: String,
    /// The buyer whose balance takes the value (the caller itself, for a buyer's key).
    #[schema(schema_with = rules::buyer)]
    buyer: String,
}

/// Moves an active card's whole value into a buyer's balance, once. Wrong codes in a row lock
/// the buyer's redemptions for a while (`redemption_locked`), even with the right code.
#[utoipa::path(post, path = "/v1/gift_cards/redeem", tag = "gift_cards",
    request_body = RedeemDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 200, description = "The card, redeemed", body = schema::GiftCard),
        schema::GiftCardRefusals,
    ),
    security(("api_key" = [])))]
async fn redeem(State(s): Ctx, Caller(who): Caller, post: Idempotency) -> Result<Reply, ApiError> {
    let dto: RedeemDto = post.parse()?;
    code_param(&dto.code)?;
    params::party_id(&dto.buyer, "buyer")?;
    post.run(&s, &who, StatusCode::OK, async |idem| {
        gift_cards::redeem(&s.app, &who, &dto.code, &dto.buyer, idem).await
    })
    .await
}
