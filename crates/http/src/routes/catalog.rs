//! `/v1/products`: sellers' catalogs.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use holdback_app::catalog;
use holdback_domain::ErrorCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::reply::Reply;
use crate::schema::rules;
use crate::{Ctx, Shared, params, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new().routes(routes!(create_product, list_products))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProductDto {
    /// Required from the platform; a seller's key adds to its own catalog.
    #[schema(schema_with = rules::optional_seller)]
    seller: Option<String>,
    #[schema(schema_with = rules::product_name)]
    name: String,
    #[schema(schema_with = rules::positive_amount)]
    unit_amount: i64,
    #[schema(schema_with = rules::currency)]
    currency: String,
    /// What kind of goods it is: 1 to 40 of a-z, 0-9 and _ (some categories are never sold
    /// for cash on delivery).
    #[schema(schema_with = rules::optional_category)]
    category: Option<String>,
}

/// Add a product to a seller's catalog (platform, or the seller itself).
#[utoipa::path(post, path = "/v1/products", tag = "catalog", request_body = ProductDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The product", body = schema::Product),
        schema::CreateRefusals,
    ),
    security(("api_key" = [])))]
async fn create_product(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: ProductDto = post.parse()?;
    let currency = params::currency(&dto.currency, "currency")?;
    let price = params::money(dto.unit_amount, currency, "unit_amount")?;
    params::required_text(&dto.name, "name", params::MAX_PRODUCT_NAME)?;
    if let Some(c) = &dto.category {
        params::category(c, "category")?;
    }
    if let Some(seller) = &dto.seller {
        params::party_id(seller, "seller")?;
    }
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        catalog::create(
            &s.app,
            &who,
            dto.seller.as_deref(),
            &dto.name,
            price,
            dto.category.as_deref(),
            idem,
        )
        .await
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductQuery {
    seller: Option<String>,
    limit: Option<u32>,
    starting_after: Option<String>,
}

/// The catalog: products of the caller's mode, optionally of one seller.
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(schema::ProductQuery),
    responses(
        (status = 200, description = "A page of products", body = schema::ProductList),
        schema::ListRefusals,
    ),
    security(("api_key" = [])))]
async fn list_products(
    State(s): Ctx,
    Caller(who): Caller,
    query: Result<Query<ProductQuery>, QueryRejection>,
) -> Result<Reply, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(ApiError::code(
            ErrorCode::ParameterInvalid,
            "the query takes seller, limit and starting_after",
        ));
    };
    let after = q.starting_after.as_deref().unwrap_or("");
    let limit = crate::params::limit(q.limit)?;
    let (data, has_more) = catalog::list(&s.app, &who, q.seller.as_deref(), after, limit).await?;
    Ok(Reply::list("/v1/products", data, has_more))
}
