//! `POST /v1/checkouts`: a cart becomes one payment and one order per seller.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use holdback_app::AppError;
use holdback_app::checkout::{self, CheckoutRequest, Item};
use holdback_domain::ErrorCode;
use holdback_domain::card::CardInput;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::reply::Reply;
use crate::{Ctx, Shared, params, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new().routes(routes!(create_checkout))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CardDto {
    number: String,
    exp_month: u8,
    exp_year: u16,
    cvc: String,
}

/// A cart line: `product` (a catalog product), or `seller` with `unit_amount` (platform only).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ItemDto {
    product: Option<String>,
    seller: Option<String>,
    #[serde(default)]
    description: String,
    unit_amount: Option<i64>,
    quantity: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckoutDto {
    buyer: String,
    currency: String,
    items: Vec<ItemDto>,
    card: CardDto,
    /// Shipping method per seller id: economy, standard (the default) or express.
    #[serde(default)]
    shipping_methods: BTreeMap<String, String>,
}

impl CheckoutDto {
    fn request(self) -> Result<CheckoutRequest, ApiError> {
        let currency = params::currency(&self.currency, "currency")?;
        let card = CardInput::parse(
            &self.card.number,
            self.card.exp_month,
            self.card.exp_year,
            &self.card.cvc,
        )
        .map_err(AppError::from)?;
        for (seller, method) in &self.shipping_methods {
            params::text(seller, "shipping_methods", 64)?;
            params::text(method, "shipping_methods", 64)?;
        }
        let items = self
            .items
            .into_iter()
            .map(|i| {
                params::text(&i.description, "items", params::MAX_DESCRIPTION)?;
                if i.quantity > params::MAX_QUANTITY {
                    return Err(ApiError::param(
                        ErrorCode::ParameterInvalid,
                        "items",
                        format!("a quantity is at most {}", params::MAX_QUANTITY),
                    ));
                }
                Ok(i)
            })
            .map(|i| {
                i.and_then(|i| match (i.product, i.seller, i.unit_amount) {
                    (Some(product), None, None) => Ok(Item::Product {
                        product,
                        quantity: i.quantity,
                    }),
                    (None, Some(seller), Some(unit_amount)) => Ok(Item::Priced {
                        seller,
                        description: i.description,
                        unit_amount,
                        quantity: i.quantity,
                    }),
                    _ => Err(ApiError::param(
                        ErrorCode::ParameterInvalid,
                        "items",
                        "each item has either product, or seller and unit_amount",
                    )),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CheckoutRequest {
            buyer: self.buyer,
            currency,
            items,
            card,
            shipping: self.shipping_methods,
        })
    }
}

/// Check out a cart: charge the card once, create one order per seller, hold the money in
/// escrow per order.
#[utoipa::path(post, path = "/v1/checkouts", tag = "checkout", request_body = CheckoutDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The payment, with one order per seller", body = schema::Payment),
        (status = "4XX", description = "Refused: see the error code", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn create_checkout(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let request = post.parse::<CheckoutDto>()?.request()?;
    post.run(&s, &who, StatusCode::CREATED, async |idem| {
        checkout::checkout(&s.app, &who, &request, idem).await
    })
    .await
}
