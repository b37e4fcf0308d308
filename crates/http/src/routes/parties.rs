//! `/v1/buyers` and `/v1/sellers`: parties created by the platform with ids of its choosing,
//! read by the platform (all of its mode) or by the party's own key.

#![allow(dead_code)] // the response types only document JSON

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdback_app::parties;
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
use crate::schema::rules;
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
    #[schema(schema_with = rules::party_id)]
    id: String,
    /// ISO 3166-1 alpha-2, upper case.
    #[schema(schema_with = rules::country)]
    country: String,
    /// 1 to 64 characters, not blank.
    #[schema(schema_with = rules::region)]
    region: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    /// At most 20 keys of 1 to 40 characters, values of at most 500.
    #[serde(default)]
    #[schema(schema_with = rules::metadata)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FixedDto {
    /// Minor units, 0 to 10^15.
    #[schema(schema_with = rules::amount)]
    amount: i64,
    #[schema(schema_with = rules::currency)]
    currency: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CommissionDto {
    /// 0 to 10000.
    #[schema(schema_with = rules::basis_points)]
    basis_points: i64,
    fixed: Option<FixedDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SellerDto {
    /// 1 to 32 characters of A-Z, a-z, 0-9, _ and -, e.g. sel_bob.
    #[schema(schema_with = rules::party_id)]
    id: String,
    /// ISO 3166-1 alpha-2, upper case.
    #[schema(schema_with = rules::country)]
    country: String,
    /// 1 to 64 characters, not blank.
    #[schema(schema_with = rules::region)]
    region: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    /// At most 20 keys of 1 to 40 characters, values of at most 500.
    #[serde(default)]
    #[schema(schema_with = rules::metadata)]
    metadata: BTreeMap<String, String>,
    /// Days to ship after payment: 3 to 10, default 7.
    #[schema(schema_with = rules::ship_by_days)]
    ship_by_days: Option<i64>,
    /// The seller's own commission; absent, the policy's applies.
    commission: Option<CommissionDto>,
    /// Whether the seller accepts cash on delivery (false by default).
    #[serde(default)]
    cash_on_delivery: bool,
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
    /// Whether the seller accepts cash on delivery.
    cash_on_delivery: bool,
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
            cash_on_delivery: false,
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
            cash_on_delivery: self.cash_on_delivery,
        })
    }
}

/// Region and metadata hold no control characters (the domain checks their lengths).
fn no_control_characters(input: &PartyInput) -> Result<(), ApiError> {
    if let Some(region) = &input.region {
        params::text(region, "region", usize::MAX)?;
    }
    for (key, value) in &input.metadata {
        params::text(key, "metadata", usize::MAX)?;
        params::text(value, "metadata", usize::MAX)?;
    }
    Ok(())
}

/// The handlers of one kind of party (create, get one, list), documented: the create handler
/// turns the body `$dto` into a [`PartyInput`] with `$input`.
macro_rules! party_routes {
    (
        $kind:ident, $path:tt, $dto:ty, $input:expr, $object:ty, $list_type:ty,
        create: $create:ident $create_doc:tt $created:tt,
        get: $get:ident $get_doc:tt $one:tt,
        list: $list:ident $list_doc:tt $page:tt $(,)?
    ) => {
        #[doc = $create_doc]
        #[utoipa::path(post, path = $path, tag = "parties", request_body = $dto,
            params(schema::IdempotencyKey),
            responses(
                (status = 201, description = $created, body = $object),
                schema::CreateRefusals,
            ),
            security(("api_key" = [])))]
        async fn $create(
            State(s): Ctx,
            Caller(who): Caller,
            post: Idempotency,
        ) -> Result<Reply, ApiError> {
            let input: fn($dto) -> Result<PartyInput, ApiError> = $input;
            let input = input(post.parse()?)?;
            no_control_characters(&input)?;
            post.run(&s, &who, StatusCode::CREATED, async |idem| {
                parties::create(&s.app, &who, PartyKind::$kind, input, idem).await
            })
            .await
        }

        #[doc = $get_doc]
        #[utoipa::path(get, path = concat!($path, "/{id}"), tag = "parties", params(("id" = String, Path)),
            responses(
                (status = 200, description = $one, body = $object),
                schema::GetRefusals,
            ),
            security(("api_key" = [])))]
        async fn $get(
            State(s): Ctx,
            Path(id): Path<String>,
            Caller(who): Caller,
        ) -> Result<Reply, ApiError> {
            Ok(Reply::ok(parties::get(&s.app, &who, PartyKind::$kind, &id).await?))
        }

        #[doc = $list_doc]
        #[utoipa::path(get, path = $path, tag = "parties", params(schema::PageParams),
            responses(
                (status = 200, description = $page, body = $list_type),
                schema::ListRefusals,
            ),
            security(("api_key" = [])))]
        async fn $list(State(s): Ctx, Caller(who): Caller, page: Page) -> Result<Reply, ApiError> {
            let kind = PartyKind::$kind;
            let (data, has_more) =
                parties::list(&s.app, &who, kind, page.cursor()?, page.limit()?).await?;
            let (data, has_more) = page.window(data, has_more);
            Ok(Reply::list($path, data, has_more))
        }
    };
}

party_routes!(
    Buyer, "/v1/buyers", BuyerDto, |d| Ok(d.into()), Buyer, BuyerList,
    create: create_buyer
        "Create a buyer (platform only), with an id of the platform's choosing."
        "The buyer",
    get: get_buyer
        "One buyer: the platform sees every buyer of its mode, a buyer's key only its own."
        "The buyer",
    list: list_buyers "The buyers the caller may see, by id." "A page of buyers",
);

party_routes!(
    Seller, "/v1/sellers", SellerDto, SellerDto::input, Seller, SellerList,
    create: create_seller
        "Create a seller (platform only), with its ship-by window and optionally its own commission."
        "The seller",
    get: get_seller
        "One seller: the platform sees every seller of its mode, a seller's key only its own."
        "The seller",
    list: list_sellers "The sellers the caller may see, by id." "A page of sellers",
);
