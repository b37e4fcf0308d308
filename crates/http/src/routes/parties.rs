//! `/v1/buyers` and `/v1/sellers`: parties created by the platform with ids of its choosing,
//! read by the platform (all of its mode) or by the party's own key.

#![allow(dead_code)] // the response types only document JSON

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdback_app::{Principal, parties};
use holdback_domain::party::{PartyInput, PartyKind};
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
        .routes(routes!(create_buyer, list_buyers))
        .routes(routes!(get_buyer))
        .routes(routes!(create_seller, list_sellers))
        .routes(routes!(get_seller))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BuyerDto {
    /// 1 to 32 characters of A-Z, a-z, 0-9, _ and -, e.g. buy_alice.
    id: String,
    /// ISO 3166-1 alpha-2, upper case.
    country: String,
    /// At most 64 characters.
    region: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    /// At most 20 string keys and values.
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FixedDto {
    /// Minor units, 0 or more.
    amount: i64,
    currency: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CommissionDto {
    /// 0 to 10000.
    basis_points: i64,
    fixed: Option<FixedDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SellerDto {
    /// 1 to 32 characters of A-Z, a-z, 0-9, _ and -, e.g. sel_bob.
    id: String,
    /// ISO 3166-1 alpha-2, upper case.
    country: String,
    region: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// Days to ship after payment: 3 to 10, default 7.
    ship_by_days: Option<i64>,
    /// The seller's own commission; absent, the policy's applies.
    commission: Option<CommissionDto>,
}

/// A buyer. Times are Unix seconds.
#[derive(ToSchema)]
pub struct Buyer {
    id: String,
    /// Always "buyer".
    object: String,
    created: i64,
    livemode: bool,
    country: String,
    region: Option<String>,
    phone_verified: bool,
    metadata: BTreeMap<String, String>,
}

#[derive(ToSchema)]
pub struct Fixed {
    amount: i64,
    currency: String,
}

#[derive(ToSchema)]
pub struct SellerCommission {
    basis_points: u32,
    fixed: Option<Fixed>,
}

/// A seller. Times are Unix seconds.
#[derive(ToSchema)]
pub struct Seller {
    id: String,
    /// Always "seller".
    object: String,
    created: i64,
    livemode: bool,
    country: String,
    region: Option<String>,
    phone_verified: bool,
    metadata: BTreeMap<String, String>,
    ship_by_days: u32,
    /// Null: the policy's commission.
    commission: Option<SellerCommission>,
}

#[derive(ToSchema)]
pub struct BuyerList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Buyer>,
}

#[derive(ToSchema)]
pub struct SellerList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Seller>,
}

impl From<BuyerDto> for PartyInput {
    fn from(d: BuyerDto) -> PartyInput {
        PartyInput {
            id: d.id,
            country: d.country,
            region: d.region,
            phone_verified: d.phone_verified,
            metadata: d.metadata,
            ship_by_days: None,
            commission: None,
        }
    }
}

impl SellerDto {
    fn input(self) -> Result<PartyInput, ApiError> {
        let commission = match self.commission {
            None => None,
            Some(c) => {
                let fixed = match c.fixed {
                    None => None,
                    Some(f) => Some((
                        f.amount,
                        params::currency(&f.currency, "commission[fixed][currency]")?,
                    )),
                };
                Some((c.basis_points, fixed))
            }
        };
        Ok(PartyInput {
            id: self.id,
            country: self.country,
            region: self.region,
            phone_verified: self.phone_verified,
            metadata: self.metadata,
            ship_by_days: self.ship_by_days,
            commission,
        })
    }
}

async fn create(
    s: &Shared,
    who: &Principal,
    kind: PartyKind,
    input: PartyInput,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    post.run(s, who, StatusCode::CREATED, async |idem| {
        parties::create(&s.app, who, kind, input, idem).await
    })
    .await
}

async fn list(s: &Shared, who: &Principal, page: Page, kind: PartyKind) -> Result<Reply, ApiError> {
    let (data, has_more) = parties::list(&s.app, who, kind, page.cursor()?, page.limit()).await?;
    let url = match kind {
        PartyKind::Buyer => "/v1/buyers",
        PartyKind::Seller => "/v1/sellers",
    };
    Ok(Reply::list(url, data, has_more))
}

/// Create a buyer (platform only), with an id of the platform's choosing.
#[utoipa::path(post, path = "/v1/buyers", tag = "parties", request_body = BuyerDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The buyer", body = Buyer),
        (status = "4XX", description = "Refused: see the error code", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn create_buyer(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let input = post.parse::<BuyerDto>()?.into();
    create(&s, &who, PartyKind::Buyer, input, post).await
}

/// Create a seller (platform only), with its ship-by window and optionally its own commission.
#[utoipa::path(post, path = "/v1/sellers", tag = "parties", request_body = SellerDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The seller", body = Seller),
        (status = "4XX", description = "Refused: see the error code", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn create_seller(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let input = post.parse::<SellerDto>()?.input()?;
    create(&s, &who, PartyKind::Seller, input, post).await
}

/// One buyer: the platform sees every buyer of its mode, a buyer's key only its own.
#[utoipa::path(get, path = "/v1/buyers/{id}", tag = "parties", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The buyer", body = Buyer),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn get_buyer(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(
        parties::get(&s.app, &who, PartyKind::Buyer, &id).await?,
    ))
}

/// One seller: the platform sees every seller of its mode, a seller's key only its own.
#[utoipa::path(get, path = "/v1/sellers/{id}", tag = "parties", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The seller", body = Seller),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn get_seller(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(
        parties::get(&s.app, &who, PartyKind::Seller, &id).await?,
    ))
}

/// The buyers the caller may see, by id.
#[utoipa::path(get, path = "/v1/buyers", tag = "parties", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of buyers", body = BuyerList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_buyers(State(s): Ctx, Caller(who): Caller, page: Page) -> Result<Reply, ApiError> {
    list(&s, &who, page, PartyKind::Buyer).await
}

/// The sellers the caller may see, by id.
#[utoipa::path(get, path = "/v1/sellers", tag = "parties", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of sellers", body = SellerList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_sellers(State(s): Ctx, Caller(who): Caller, page: Page) -> Result<Reply, ApiError> {
    list(&s, &who, page, PartyKind::Seller).await
}
