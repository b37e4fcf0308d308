//! `/v1/buyers` and `/v1/sellers`: parties created by the platform with ids of its choosing,
//! read by the platform (all of its mode) or by the party's own key.

#![allow(dead_code)] // the response types only document JSON

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use holdback_app::parties;
use holdback_app::{AppError, Principal};
use holdback_domain::Currency;
use holdback_domain::party::{PartyInput, PartyKind};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::errors::ApiError;
use crate::{
    Ctx, Page, Post, Shared, authenticate, fail, idempotent, list_body, page_of, parse, reply,
    request_id, schema,
};

/// A request id, and the caller; on a bad key, the error response.
async fn caller(s: &Shared, headers: &HeaderMap) -> Result<(String, Principal), Response> {
    let rid = request_id(&s.app);
    match authenticate(&s.app, headers).await {
        Ok(p) => Ok((rid, p)),
        Err(e) => Err(fail(e, &rid)),
    }
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

fn buyer_input(body: &Bytes) -> Result<PartyInput, ApiError> {
    let d: BuyerDto = parse(body)?;
    Ok(PartyInput {
        id: d.id,
        country: d.country,
        region: d.region,
        phone_verified: d.phone_verified,
        metadata: d.metadata,
        ship_by_days: None,
        commission: None,
    })
}

fn seller_input(body: &Bytes) -> Result<PartyInput, ApiError> {
    let d: SellerDto = parse(body)?;
    let commission = match d.commission {
        None => None,
        Some(c) => {
            let fixed = match c.fixed {
                None => None,
                Some(f) => {
                    let currency = Currency::parse(&f.currency).map_err(|e| {
                        ApiError::from(AppError::from(e)).with_param("commission[fixed][currency]")
                    })?;
                    Some((f.amount, currency))
                }
            };
            Some((c.basis_points, fixed))
        }
    };
    Ok(PartyInput {
        id: d.id,
        country: d.country,
        region: d.region,
        phone_verified: d.phone_verified,
        metadata: d.metadata,
        ship_by_days: d.ship_by_days,
        commission,
    })
}

async fn create(
    s: &Shared,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
    kind: PartyKind,
) -> Response {
    let (rid, principal) = match caller(s, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (path, input) = match kind {
        PartyKind::Buyer => ("/v1/buyers", buyer_input(&body)),
        PartyKind::Seller => ("/v1/sellers", seller_input(&body)),
    };
    let input = match input {
        Ok(i) => i,
        Err(e) => return fail(e, &rid),
    };
    let (app, who) = (s.app.clone(), principal.clone());
    idempotent(
        s,
        &principal,
        Post {
            headers: &headers,
            method: &method,
            path,
            body: &body,
        },
        StatusCode::CREATED,
        |idem| async move { parties::create(&app, &who, kind, input, idem.as_ref()).await },
    )
    .await
}

async fn one(s: &Shared, headers: HeaderMap, id: String, kind: PartyKind) -> Response {
    let (rid, principal) = match caller(s, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match parties::get(&s.app, &principal, kind, &id).await {
        Ok(v) => reply(StatusCode::OK, &v, &rid, false),
        Err(e) => fail(e, &rid),
    }
}

async fn list(
    s: &Shared,
    headers: HeaderMap,
    query: Result<Query<Page>, QueryRejection>,
    kind: PartyKind,
) -> Response {
    let (rid, principal) = match caller(s, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let page = match page_of(query) {
        Ok(p) => p,
        Err(e) => return fail(e, &rid),
    };
    let cursor = match page.cursor() {
        Ok(c) => c,
        Err(e) => return fail(e, &rid),
    };
    let url = match kind {
        PartyKind::Buyer => "/v1/buyers",
        PartyKind::Seller => "/v1/sellers",
    };
    match parties::list(&s.app, &principal, kind, cursor, page.limit.unwrap_or(10)).await {
        Ok((data, has_more)) => reply(StatusCode::OK, &list_body(url, data, has_more), &rid, false),
        Err(e) => fail(e, &rid),
    }
}

/// Create a buyer (platform only), with an id of the platform's choosing.
#[utoipa::path(post, path = "/v1/buyers", tag = "parties", request_body = BuyerDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The buyer", body = Buyer),
        (status = "4XX", description = "Refused: see the error code", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn create_buyer(
    State(s): Ctx,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(&s, method, headers, body, PartyKind::Buyer).await
}

/// Create a seller (platform only), with its ship-by window and optionally its own commission.
#[utoipa::path(post, path = "/v1/sellers", tag = "parties", request_body = SellerDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The seller", body = Seller),
        (status = "4XX", description = "Refused: see the error code", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn create_seller(
    State(s): Ctx,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(&s, method, headers, body, PartyKind::Seller).await
}

/// One buyer: the platform sees every buyer of its mode, a buyer's key only its own.
#[utoipa::path(get, path = "/v1/buyers/{id}", tag = "parties", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The buyer", body = Buyer),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn get_buyer(
    State(s): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    one(&s, headers, id, PartyKind::Buyer).await
}

/// One seller: the platform sees every seller of its mode, a seller's key only its own.
#[utoipa::path(get, path = "/v1/sellers/{id}", tag = "parties", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The seller", body = Seller),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn get_seller(
    State(s): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    one(&s, headers, id, PartyKind::Seller).await
}

/// The buyers the caller may see, by id.
#[utoipa::path(get, path = "/v1/buyers", tag = "parties", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of buyers", body = BuyerList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn list_buyers(
    State(s): Ctx,
    headers: HeaderMap,
    query: Result<Query<Page>, QueryRejection>,
) -> Response {
    list(&s, headers, query, PartyKind::Buyer).await
}

/// The sellers the caller may see, by id.
#[utoipa::path(get, path = "/v1/sellers", tag = "parties", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of sellers", body = SellerList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn list_sellers(
    State(s): Ctx,
    headers: HeaderMap,
    query: Result<Query<Page>, QueryRejection>,
) -> Response {
    list(&s, headers, query, PartyKind::Seller).await
}
