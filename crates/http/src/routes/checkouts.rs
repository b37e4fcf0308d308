//! `POST /v1/checkouts`: a cart becomes one payment and one order per seller.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use holdback_app::AppError;
use holdback_app::checkout::MAX_ITEMS;
use holdback_app::checkout::{self, CheckoutRequest, Item, PayWith};
use holdback_app::wallets;
use holdback_domain::ErrorCode;
use holdback_domain::card::CardInput;
use holdback_domain::payment::Method;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{
    AdditionalProperties, Array, ArrayBuilder, ObjectBuilder, OneOfBuilder, Type,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::reply::Reply;
use crate::schema::rules;
use crate::{Ctx, Shared, params, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new().routes(routes!(create_checkout))
}

/// A card. In test mode the sandbox's test cards: 4242424242424242 succeeds,
/// 4000000000000002 is declined.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CardDto {
    #[schema(schema_with = rules::card_number)]
    number: String,
    #[schema(schema_with = rules::exp_month)]
    exp_month: u8,
    #[schema(schema_with = rules::exp_year)]
    exp_year: u16,
    #[schema(schema_with = rules::cvc)]
    cvc: String,
}

/// A cart line: `product` (a catalog product), or `seller` with `unit_amount` (platform only).
/// Its schema, a choice between the two, is written out in [`items_schema`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemDto {
    product: Option<String>,
    seller: Option<String>,
    #[serde(default)]
    description: String,
    unit_amount: Option<i64>,
    quantity: u32,
}

/// 1 to [`MAX_ITEMS`] items, each one of: a catalog product (`product`), or a line the platform
/// prices (`seller` and `unit_amount`); either with a `quantity` and an optional `description`.
fn items_schema() -> Array {
    let null = || ObjectBuilder::new().schema_type(Type::Null);
    let line = |required: &[&str]| {
        let mut o = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("quantity", rules::quantity())
            .property("description", rules::description())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for r in required {
            o = o.required(*r);
        }
        o
    };
    let product = line(&["product", "quantity"])
        .title(Some("product"))
        .property(
            "product",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .examples(["prod_demo_tea_set", "prod_demo_scarf"]),
        )
        .property("seller", null())
        .property("unit_amount", null());
    let priced = line(&["seller", "unit_amount", "quantity"])
        .title(Some("priced"))
        .property("product", null())
        .property("seller", rules::seller())
        .property("unit_amount", rules::positive_amount());
    let one_of = OneOfBuilder::new()
        .description(Some(
            "A cart line: `product` (a catalog product), or `seller` with `unit_amount` \
             (platform only), each with a quantity of 1 to 10,000.",
        ))
        .item(product.build())
        .item(priced.build());
    ArrayBuilder::new()
        .items(one_of)
        .min_items(Some(1))
        .max_items(Some(MAX_ITEMS))
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckoutDto {
    #[schema(schema_with = rules::buyer)]
    buyer: String,
    #[schema(schema_with = rules::currency)]
    currency: String,
    #[schema(schema_with = items_schema)]
    items: Vec<ItemDto>,
    /// Pay by card now (exactly one of `card`, `bank_transfer` and `wallet`).
    card: Option<CardDto>,
    /// Pay by bank transfer after checkout: the payment waits for the money (`requires_action`,
    /// with the transfer instructions in `next_action`) and its orders are placed awaiting it;
    /// they are cancelled unpaid if it does not come within 3 days.
    bank_transfer: Option<BankTransferDto>,
    /// Pay with a wallet (alipay, paypal, wechat_pay, webmoney): the buyer is sent to the
    /// wallet (`next_action.redirect_url`), approves there and comes back to `return_url`; the orders
    /// wait for the wallet's confirmation, 30 minutes at most.
    wallet: Option<WalletDto>,
    /// Pay cash at the door: offered only where every rule passes (refused otherwise as
    /// cash_on_delivery_not_offered, with every rule's result in the error's `detail`), for
    /// one seller's goods, without balance or gift card. The buyer confirms the order
    /// (`next_action.confirm_url`) within 48 hours, or it is cancelled.
    cash_on_delivery: Option<CashOnDeliveryDto>,
    /// Pay this much (minor units) from the buyer's balance; the rest, if any, by the one
    /// other way given. More than the balance holds is refused (`balance_insufficient`), more
    /// than the total too (`stored_value_exceeds_total`).
    #[schema(schema_with = rules::positive_amount)]
    balance: Option<i64>,
    /// A gift card redeemed into the buyer's balance on the spot; without `balance`, the
    /// balance then pays as much of the total as the card is worth.
    #[schema(schema_with = gift_card_code)]
    gift_card: Option<String>,
    /// Coupon codes (at most 4): at most one platform coupon and one seller coupon apply to
    /// any one order. A platform-funded discount is paid by the platform (the seller is paid
    /// on the list price); a seller-funded one lowers the seller's price.
    #[schema(schema_with = coupon_codes)]
    coupons: Option<Vec<String>>,
    /// Shipping method per seller id: economy, standard (the default) or express. Each seller
    /// named must sell something in this cart.
    #[serde(default)]
    #[schema(schema_with = rules::shipping_methods)]
    shipping_methods: BTreeMap<String, String>,
}

/// Cash on delivery: nothing to give at checkout.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CashOnDeliveryDto {}

/// A bank transfer: nothing to give at checkout.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BankTransferDto {}

/// A wallet, and where it sends the buyer back to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WalletDto {
    /// Alipay and WeChat Pay settle CNY; PayPal USD, EUR, GBP, JPY, CAD or AUD; WebMoney USD,
    /// EUR or RUB: another currency is refused as currency_not_supported.
    #[schema(schema_with = wallet_type)]
    r#type: String,
    #[schema(schema_with = return_url)]
    return_url: String,
}

fn wallet_type() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Method::WALLETS.iter().map(|m| m.code())))
        .build()
}

fn coupon_codes() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(32))
                .examples(["SPRING10"]),
        )
        .max_items(Some(holdback_app::coupons::MAX_PER_CHECKOUT))
        .build()
}

fn gift_card_code() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .examples(["7KQ2-M9XD-4T8B-ZP3H-R6WC"])
        .build()
}

fn return_url() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(8))
        .max_length(Some(2048))
        .pattern(Some("^https?://[^\\s]+$"))
        .examples(["https://shop.example/paid"])
        .build()
}

impl CheckoutDto {
    fn request(self) -> Result<CheckoutRequest, ApiError> {
        let currency = params::currency(&self.currency, "currency")?;
        let ways = [
            self.card.is_some(),
            self.bank_transfer.is_some(),
            self.wallet.is_some(),
            self.cash_on_delivery.is_some(),
        ];
        if ways.iter().filter(|w| **w).count() > 1 {
            return Err(ApiError::param(
                ErrorCode::TooManyPaymentMethods,
                "wallet",
                "pay one way: a card, a bank_transfer, a wallet or cash_on_delivery (with part \
                 from the balance, if you like, but not with cash on delivery), never two",
            ));
        }
        if self.cash_on_delivery.is_some() && (self.balance.is_some() || self.gift_card.is_some()) {
            return Err(ApiError::param(
                ErrorCode::TooManyPaymentMethods,
                "balance",
                "cash on delivery is paid whole at the door: no balance or gift card with it",
            ));
        }
        let pay_with = match (&self.card, &self.bank_transfer, &self.wallet) {
            _ if self.cash_on_delivery.is_some() => PayWith::CashOnDelivery,
            (Some(card), None, None) => PayWith::Card(
                CardInput::parse(&card.number, card.exp_month, card.exp_year, &card.cvc)
                    .map_err(AppError::from)?,
            ),
            (None, Some(_), None) => PayWith::BankTransfer,
            (None, None, Some(w)) => PayWith::Wallet {
                method: wallets::parse(&w.r#type).ok_or_else(|| {
                    ApiError::param(
                        ErrorCode::ParameterInvalid,
                        "wallet",
                        "wallet.type is alipay, paypal, wechat_pay or webmoney",
                    )
                })?,
                return_url: w.return_url.clone(),
            },
            (None, None, None) if self.balance.is_some() || self.gift_card.is_some() => {
                PayWith::StoredValue
            }
            (None, None, None) => {
                return Err(ApiError::param(
                    ErrorCode::ParameterMissing,
                    "card",
                    "pay with a card, a bank_transfer, a wallet or cash_on_delivery (or from the \
                     balance)",
                ));
            }
            _ => {
                return Err(ApiError::param(
                    ErrorCode::TooManyPaymentMethods,
                    "wallet",
                    "pay one way: a card, a bank_transfer or a wallet (with part from the \
                     balance, if you like), never two of them",
                ));
            }
        };
        if let Some(b) = self.balance
            && b <= 0
        {
            return Err(ApiError::param(
                ErrorCode::ParameterInvalid,
                "balance",
                "the balance pays a positive amount",
            ));
        }
        if let Some(code) = &self.gift_card
            && (code.is_empty() || code.len() > 64)
        {
            return Err(ApiError::param(
                ErrorCode::GiftCardCodeMalformed,
                "gift_card",
                "a gift card code is 20 symbols, dashes and spaces aside",
            ));
        }
        params::party_id(&self.buyer, "buyer")?;
        for (seller, method) in &self.shipping_methods {
            params::party_id(seller, "shipping_methods")?;
            params::required_text(method, "shipping_methods", params::MAX_SHIPPING_METHOD)?;
        }
        let items = self
            .items
            .into_iter()
            .map(|i| {
                params::text(&i.description, "items", params::MAX_DESCRIPTION)?;
                if let Some(seller) = &i.seller {
                    params::party_id(seller, "items")?;
                }
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
            pay_with,
            shipping: self.shipping_methods,
            balance: self.balance,
            gift_card: self.gift_card,
            coupons: self.coupons.unwrap_or_default(),
        })
    }
}

/// Check out a cart: charge the card once, create one order per seller, hold the money in
/// escrow per order.
#[utoipa::path(post, path = "/v1/checkouts", tag = "checkout", request_body = CheckoutDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The payment, with one order per seller", body = schema::Payment),
        schema::CheckoutRefusals,
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
