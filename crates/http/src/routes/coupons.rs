//! `/v1/coupons`: the platform creates coupons it funds (perhaps for one seller's orders) or a
//! seller's; a seller creates its own, funded by itself. Checkouts name them by code.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdback_app::coupons::{self, CouponInput};
use holdback_domain::ErrorCode;
use holdback_domain::coupon::Discount;
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
        .routes(routes!(create_coupon))
        .routes(routes!(get_coupon))
}

fn code() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(3))
        .max_length(Some(32))
        .pattern(Some("^[A-Za-z0-9-]+$"))
        .examples(["SPRING10"])
        .build()
}

fn one_of(values: &[&'static str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

fn funded_by() -> Object {
    one_of(&["platform", "seller"])
}

fn kind() -> Object {
    one_of(&["fixed", "percent"])
}

fn bps() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(9_999))
        .build()
}

fn count() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(1_000_000))
        .build()
}

fn time() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(32_503_680_000_i64))
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CouponDto {
    /// What buyers type: 3 to 32 letters, digits and dashes (kept upper case).
    #[schema(schema_with = code)]
    code: String,
    /// platform (the platform pays the discount) or seller (the seller does).
    #[schema(schema_with = funded_by)]
    funded_by: String,
    /// The seller whose orders it applies to: a seller's coupon's own (a seller's key may leave
    /// it out); for a platform coupon, a restriction to that seller.
    #[schema(schema_with = rules::optional_seller)]
    seller: Option<String>,
    /// fixed (`amount_off`) or percent (`percent_off_bps`, 1 to 9,999 basis points).
    #[schema(schema_with = kind)]
    r#type: String,
    #[schema(schema_with = rules::positive_amount)]
    amount_off: Option<i64>,
    #[schema(schema_with = bps)]
    percent_off_bps: Option<u32>,
    #[schema(schema_with = rules::currency)]
    currency: String,
    /// The least the order (or, for a platform coupon without a seller, the cart) costs.
    #[schema(schema_with = rules::amount)]
    #[serde(default)]
    min_spend: i64,
    /// Unix seconds; now when left out.
    #[schema(schema_with = time)]
    starts: Option<i64>,
    /// Unix seconds, after `starts`.
    #[schema(schema_with = time)]
    ends: i64,
    #[schema(schema_with = count)]
    per_buyer: u32,
    #[schema(schema_with = count)]
    total_limit: u32,
}

/// Creates a coupon: the platform any (funded by itself, perhaps for one seller, or a
/// seller's); a seller only its own, funded by itself.
#[utoipa::path(post, path = "/v1/coupons", tag = "coupons",
    request_body = CouponDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The coupon", body = schema::Coupon),
        schema::CreateRefusals,
    ),
    security(("api_key" = [])))]
async fn create_coupon(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: CouponDto = post.parse()?;
    if dto.code.len() < 3
        || dto.code.len() > 32
        || !dto
            .code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ApiError::param(
            ErrorCode::ParameterInvalid,
            "code",
            "3 to 32 letters, digits and dashes",
        ));
    }
    let currency = params::currency(&dto.currency, "currency")?;
    if let Some(seller) = &dto.seller {
        params::party_id(seller, "seller")?;
    }
    let discount = match (dto.r#type.as_str(), dto.amount_off, dto.percent_off_bps) {
        ("fixed", Some(a), None) => {
            Discount::Fixed(params::money(a, currency, "amount_off")?.minor())
        }
        ("percent", None, Some(p)) if (1..10_000).contains(&p) => Discount::Percent(p),
        _ => {
            return Err(ApiError::param(
                ErrorCode::CouponDiscountInvalid,
                "type",
                "fixed takes amount_off (and not percent_off_bps), percent takes \
                 percent_off_bps (1 to 9999) and not amount_off",
            ));
        }
    };
    if dto.min_spend < 0 || dto.per_buyer == 0 || dto.total_limit == 0 {
        return Err(ApiError::param(
            ErrorCode::ParameterInvalid,
            "min_spend",
            "min_spend is 0 or more; per_buyer and total_limit at least 1",
        ));
    }
    let seller_funded = match dto.funded_by.as_str() {
        "platform" => false,
        "seller" => true,
        _ => {
            return Err(ApiError::param(
                ErrorCode::ParameterInvalid,
                "funded_by",
                "funded_by is platform or seller",
            ));
        }
    };
    let input = CouponInput {
        code: dto.code.clone(),
        seller_funded,
        seller: dto.seller.clone(),
        discount,
        currency,
        min_spend: dto.min_spend,
        starts_at: dto.starts.map(|t| t.saturating_mul(1000)),
        ends_at: dto.ends.saturating_mul(1000),
        per_buyer: dto.per_buyer,
        total_limit: dto.total_limit,
    };
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        coupons::create(&s.app, &who, input, idem).await
    })
    .await
}

/// One coupon: the platform, or the seller it is for.
#[utoipa::path(get, path = "/v1/coupons/{id}", tag = "coupons",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The coupon", body = schema::Coupon),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_coupon(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(coupons::get(&s.app, &who, &id).await?))
}
