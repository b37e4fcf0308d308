//! Types that exist to document the API in OpenAPI: the objects the handlers return as JSON
//! (built in `holdback_app::views`), the error body, and shared parameters. The API tests check
//! the real responses against the fields documented here.

#![allow(dead_code)] // these types describe JSON; they are never built

use std::collections::BTreeMap;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "holdback",
        description = "Marketplace payments and buyer protection: escrow orders over a double-entry ledger."
    ),
    modifiers(&BearerKey),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "checkout", description = "Carts become one payment and one order per seller"),
        (name = "orders", description = "Escrow orders and their lifecycle"),
        (name = "events", description = "The event log"),
        (name = "webhooks", description = "Signed event delivery"),
        (name = "catalog", description = "Sellers' products"),
        (name = "parties", description = "Buyers and sellers"),
    )
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("sk_test_… or sk_live_…"))
                        .build(),
                ),
            );
        }
    }
}

#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// 1 to 255 visible ASCII characters (`!` to `~`: no spaces); keys are kept at least 24 hours. A retry with the same key and the
    /// same request (method, path and JSON body compared by meaning: key order and whitespace do
    /// not matter) replays the first response, with the header `Idempotent-Replayed: true`; a
    /// rejection (4xx) is replayed too, a failure on our side (5xx) or `payment_processing` is
    /// not (retry to continue). The same key with a different request is refused with
    /// `idempotency_key_reused` (422). While a request with the key is still running, on any
    /// node, another use of it is refused with `idempotency_key_in_use` (409): retry later.
    #[param(rename = "Idempotency-Key", schema_with = rules::idempotency_key)]
    idempotency_key: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 100, default 10; outside that range the request is refused (`parameter_invalid`).
    #[param(schema_with = rules::limit)]
    limit: Option<u32>,
    /// The id of the last object of the previous page: the page after it.
    starting_after: Option<String>,
    /// The id of the first object of the next page: the page before it. With `starting_after`
    /// too, the page is of the objects between the two (after one, before the other).
    ending_before: Option<String>,
}

#[derive(ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
pub struct ErrorDetail {
    /// invalid_request_error, card_error, authentication_error, permission_error,
    /// idempotency_error or api_error.
    r#type: String,
    /// A stable code from the error catalog.
    code: String,
    message: String,
    /// The parameter at fault, if one is.
    param: Option<String>,
    request_id: String,
}

#[derive(ToSchema)]
pub struct Release {
    amount_to_seller: i64,
    commission: i64,
}

#[derive(ToSchema)]
pub struct Shipment {
    carrier: String,
    tracking_number: String,
    shipped: i64,
}

/// An escrow order: what one buyer bought from one seller. Times are Unix seconds.
#[derive(ToSchema)]
pub struct Order {
    id: String,
    /// Always "order".
    object: String,
    created: i64,
    livemode: bool,
    metadata: serde_json::Value,
    /// paid, shipped, delivered, completed or cancelled.
    status: String,
    buyer: String,
    seller: String,
    payment: String,
    /// Captured, in minor units.
    amount: i64,
    /// Lower-case ISO 4217.
    currency: String,
    amount_refunded: i64,
    amount_held: i64,
    release: Option<Release>,
    ship_by: i64,
    /// economy, standard or express: sets the delivery guarantee.
    shipping_method: String,
    shipment: Option<Shipment>,
    delivered: Option<i64>,
    protection_ends: Option<i64>,
    cancel_requested: Option<i64>,
    buyer_extension_used: bool,
    extension_requested_days: Option<i64>,
}

#[derive(ToSchema)]
pub struct Card {
    brand: String,
    last4: String,
    exp_month: u8,
    exp_year: u16,
}

#[derive(ToSchema)]
pub struct Payment {
    id: String,
    /// Always "payment".
    object: String,
    created: i64,
    livemode: bool,
    metadata: serde_json::Value,
    status: String,
    buyer: String,
    amount: i64,
    currency: String,
    /// The code of a failed payment's refusal.
    failure_code: Option<String>,
    amount_refunded: i64,
    method: String,
    card: Option<Card>,
    tenders: Vec<Tender>,
    orders: Vec<Order>,
    refunds: Vec<Refund>,
}

/// One part of a payment, paid by one method.
#[derive(ToSchema)]
pub struct Tender {
    /// card
    method: String,
    amount: i64,
    amount_refunded: i64,
    card: Option<Card>,
}

/// Money owed back to the buyer through the provider that took it. Times are Unix seconds.
#[derive(ToSchema)]
pub struct Refund {
    id: String,
    /// Always "refund".
    object: String,
    created: i64,
    livemode: bool,
    metadata: serde_json::Value,
    /// pending (the provider has not done it yet), succeeded, or failed (waiting for an
    /// operator's retry; the money stays owed).
    status: String,
    payment: String,
    order: String,
    amount: i64,
    currency: String,
    /// requested, ship_by_missed, cancel_accepted or cancel_unanswered.
    reason: String,
    /// Calls made to the provider so far.
    attempts: u32,
    next_attempt: Option<i64>,
    failure_code: Option<String>,
    /// When it succeeded or was given up.
    settled: Option<i64>,
}

#[derive(ToSchema)]
pub struct PaymentList {
    /// Always "list".
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Payment>,
}

#[derive(ToSchema)]
pub struct RefundList {
    /// Always "list".
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Refund>,
}

#[derive(ToSchema)]
pub struct EventData {
    object: serde_json::Value,
}

#[derive(ToSchema)]
pub struct Event {
    id: String,
    /// Always "event".
    object: String,
    /// For example order.paid, order.shipped, hold.released, refund.succeeded.
    r#type: String,
    created: i64,
    livemode: bool,
    data: EventData,
}

#[derive(ToSchema)]
pub struct WebhookEndpoint {
    id: String,
    object: String,
    created: i64,
    livemode: bool,
    url: String,
    /// enabled, disabled (deliveries wait until it is enabled) or deleted.
    status: String,
    /// Shown only when the endpoint is created.
    secret: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryPageParams {
    /// 1 to 100, default 10; outside that range the request is refused (`parameter_invalid`).
    #[param(schema_with = rules::limit)]
    limit: Option<u32>,
    /// The event id of the last delivery of the previous page (next page).
    starting_after: Option<String>,
}

/// One event's delivery to one endpoint. Times are Unix seconds.
#[derive(ToSchema)]
pub struct WebhookDelivery {
    /// Always "webhook_delivery".
    object: String,
    endpoint: String,
    /// The event's id.
    event: String,
    /// The event's type.
    r#type: String,
    /// pending, delivered or failed (given up after about three days, or cancelled when the
    /// endpoint was deleted).
    status: String,
    attempts: i64,
    /// The HTTP status of the last answer, if the last attempt got one.
    last_status: Option<i64>,
    /// Why the last attempt got no answer (endpoint_address_not_allowed, dns_failed,
    /// no_response) or why the delivery was cancelled (endpoint_deleted).
    last_error: Option<String>,
    /// When a pending delivery is attempted next (it waits while its endpoint is disabled).
    next_attempt: Option<i64>,
    delivered: Option<i64>,
    failed: Option<i64>,
}

#[derive(ToSchema)]
pub struct WebhookDeliveryList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<WebhookDelivery>,
}

#[derive(ToSchema)]
pub struct OrderList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Order>,
}

#[derive(ToSchema)]
pub struct EventList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Event>,
}

#[derive(ToSchema)]
pub struct WebhookEndpointList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<WebhookEndpoint>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Only this seller's products.
    seller: Option<String>,
    /// 1 to 100, default 10; outside that range the request is refused (`parameter_invalid`).
    #[param(schema_with = rules::limit)]
    limit: Option<u32>,
    starting_after: Option<String>,
}

#[derive(ToSchema)]
pub struct Product {
    id: String,
    /// Always "product".
    object: String,
    created: i64,
    livemode: bool,
    metadata: serde_json::Value,
    seller: String,
    name: String,
    unit_amount: i64,
    currency: String,
}

#[derive(ToSchema)]
pub struct ProductList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Product>,
}

/// The schemas of request fields, built from the same constants and predicates as the checks
/// that enforce them (`params`, the domain), so that the document states the rule the server
/// applies. Each is used as `#[schema(schema_with = …)]` on a request field.
pub(crate) mod rules {
    use holdback_domain::MAX_AMOUNT;
    use holdback_domain::party::{
        MAX_METADATA_KEY_LEN, MAX_METADATA_KEYS, MAX_METADATA_VALUE_LEN, MAX_PARTY_ID_LEN,
        MAX_REGION_LEN, SHIP_BY_DAYS_MAX, SHIP_BY_DAYS_MIN,
    };
    use utoipa::openapi::Object;
    use utoipa::openapi::schema::{ObjectBuilder, Type};

    use crate::params;

    fn string() -> ObjectBuilder {
        ObjectBuilder::new().schema_type(Type::String)
    }

    fn integer(min: i64, max: i64) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min as isize))
            .maximum(Some(max as isize))
    }

    /// Text of at most `max` characters, no control characters.
    fn text(max: usize) -> ObjectBuilder {
        string()
            .max_length(Some(max))
            .pattern(Some(params::text_pattern()))
    }

    /// Text of 1 to `max` characters, not blank, no control characters.
    fn required_text(max: usize) -> ObjectBuilder {
        string()
            .min_length(Some(1))
            .max_length(Some(max))
            .pattern(Some(params::required_text_pattern()))
    }

    pub fn tracking() -> Object {
        required_text(params::MAX_TRACKING).build()
    }

    pub fn description() -> Object {
        text(params::MAX_DESCRIPTION).build()
    }

    pub fn product_name() -> Object {
        required_text(params::MAX_PRODUCT_NAME).build()
    }

    pub fn region() -> Object {
        required_text(MAX_REGION_LEN).build()
    }

    pub fn url() -> Object {
        let blank = params::class(|c| c.is_control() || c.is_whitespace());
        string()
            .min_length(Some("http://".len()))
            .max_length(Some(params::MAX_URL))
            .pattern(Some(format!(
                "^https?://[A-Za-z0-9.-]+(:[0-9]{{1,5}})?([/?#][^{blank}]*)?$"
            )))
            .examples(["http://127.0.0.1:9/webhooks"])
            .build()
    }

    /// A lower-case ISO 4217 code the server knows.
    pub fn currency() -> Object {
        string()
            .enum_values(Some(params::currency_codes()))
            .examples(["usd"])
            .build()
    }

    /// A party id: 1 to 32 characters of A-Z, a-z, 0-9, `_` and `-`.
    pub fn party_id() -> Object {
        string()
            .min_length(Some(1))
            .max_length(Some(MAX_PARTY_ID_LEN))
            .pattern(Some("^[A-Za-z0-9_-]+$"))
            .build()
    }

    /// A buyer named in a request.
    pub fn buyer() -> Object {
        let mut o = party_id();
        o.examples = vec!["buy_alice".into()];
        o
    }

    /// A seller named in a request.
    pub fn seller() -> Object {
        let mut o = party_id();
        o.examples = vec!["sel_bob".into(), "sel_carol".into()];
        o
    }

    /// A seller named in a request, or null.
    pub fn optional_seller() -> Object {
        let mut o = seller();
        o.schema_type = utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]);
        o
    }

    pub fn country() -> Object {
        string()
            .pattern(Some("^[A-Z]{2}$"))
            .examples(["DE"])
            .build()
    }

    pub fn metadata() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .max_properties(Some(MAX_METADATA_KEYS))
            .property_names(Some(
                string()
                    .min_length(Some(1))
                    .max_length(Some(MAX_METADATA_KEY_LEN))
                    .pattern(Some(params::text_pattern())),
            ))
            .additional_properties(Some(text(MAX_METADATA_VALUE_LEN)))
            .build()
    }

    pub fn ship_by_days() -> Object {
        integer(i64::from(SHIP_BY_DAYS_MIN), i64::from(SHIP_BY_DAYS_MAX)).build()
    }

    pub fn basis_points() -> Object {
        integer(0, 10_000).build()
    }

    /// An amount in minor units, 0 to 10^15.
    pub fn amount() -> Object {
        integer(0, MAX_AMOUNT).build()
    }

    /// A positive amount in minor units, 1 to 10^15.
    pub fn positive_amount() -> Object {
        integer(1, MAX_AMOUNT).examples([2500]).build()
    }

    pub fn quantity() -> Object {
        integer(1, i64::from(params::MAX_QUANTITY))
            .examples([1])
            .build()
    }

    pub fn extension_days() -> Object {
        integer(1, i64::from(u32::MAX)).build()
    }

    pub fn exp_month() -> Object {
        integer(1, 12).examples([12]).build()
    }

    pub fn exp_year() -> Object {
        integer(2000, 2099).examples([2030]).build()
    }

    /// 3 digits, 4 for American Express (the server checks the length against the brand).
    pub fn cvc() -> Object {
        string()
            .pattern(Some("^[0-9]{3,4}$"))
            .examples(["123"])
            .build()
    }

    /// 12 to 19 digits, spaces and dashes allowed between them; the server also checks the Luhn
    /// digit and the brand's number ranges, which no pattern states.
    pub fn card_number() -> Object {
        string()
            .pattern(Some("^[ -]*([0-9][ -]*){12,19}$"))
            .examples(["4242424242424242"])
            .build()
    }

    pub fn shipping_methods() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(party_id()))
            .additional_properties(Some(required_text(params::MAX_SHIPPING_METHOD)))
            .build()
    }

    /// A list's `limit`.
    pub fn limit() -> Object {
        integer(
            i64::from(*params::LIMITS.start()),
            i64::from(*params::LIMITS.end()),
        )
        .build()
    }

    pub fn idempotency_key() -> Object {
        string()
            .min_length(Some(1))
            .max_length(Some(params::MAX_IDEMPOTENCY_KEY))
            .pattern(Some("^[!-~]+$"))
            .build()
    }
}

/// The error answers an operation can give, each with the error body: one type per kind of
/// operation, listing only the statuses its handler and extractors can answer.
/// 400: the request breaks a rule (a parameter, a rule about the cart or the order);
/// 401: no valid API key; 402: the card was refused; 403: the key's role may not do this;
/// 404: no such object (or one the caller may not see); 409: the object's state does not
/// allow it, or the Idempotency-Key is still running; 413: the body is too large; 422: the
/// Idempotency-Key was used with another request, or a value cannot be stored.
fn refusals(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|status| {
            let description = match status {
                400 => "The request breaks a rule: see the error code and param",
                401 => "No valid API key (invalid_api_key)",
                402 => "The card was refused (card_error)",
                403 => "This key's role may not do this (not_permitted)",
                404 => "No such object, or one this key may not see (resource_missing)",
                409 => "The object's state does not allow this, or the Idempotency-Key is in use",
                413 => "The body is too large (request_too_large)",
                422 => {
                    "The Idempotency-Key was used with another request, or a value cannot be stored"
                }
                _ => "Refused",
            };
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

macro_rules! refusals {
    ($($(#[$doc:meta])* $name:ident: $($status:literal),+;)+) => {$(
        $(#[$doc])*
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                refusals(&[$($status),+])
            }
        }
    )+};
}

refusals! {
    /// Reading one object.
    GetRefusals: 401, 404;
    /// Reading one object, for the platform only.
    PlatformGetRefusals: 401, 403, 404;
    /// Reading a list without parameters, for the platform only.
    PlatformReadRefusals: 401, 403;
    /// A page of a list (a key may be refused the list its role does not read).
    ListRefusals: 400, 401, 403;
    /// A page of a list, for the platform only; the cursor must name an object.
    PlatformListRefusals: 400, 401, 403, 404;
    /// A page of one object's list.
    SubListRefusals: 400, 401, 403, 404;
    /// Creating an object.
    CreateRefusals: 400, 401, 403, 409, 413, 422;
    /// A checkout.
    CheckoutRefusals: 400, 401, 402, 403, 409, 413, 422;
    /// An action on one object.
    ActionRefusals: 400, 401, 403, 404, 409, 413, 422;
    /// Deleting one object.
    DeleteRefusals: 401, 403, 404;
}

/// The links between operations: where the id an operation needs comes from in another's
/// answer. A client (or a fuzzer's stateful phase) follows them from a checkout to its orders
/// and payment, and from each order action to the next one in an order's life: ship, then
/// mark delivered, then confirm receipt, extend protection or ask for an extension.
pub(crate) fn add_links(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::link::LinkBuilder;

    // (from method, from path, status, link name, to operation, id taken from the answer)
    const LINKS: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "post",
            "/v1/checkouts",
            "201",
            "GetPayment",
            "get_payment",
            "/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "GetOrder",
            "get_order",
            "/orders/0/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "Ship",
            "ship",
            "/orders/0/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "Refund",
            "refund",
            "/orders/0/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "RequestCancel",
            "request_cancel",
            "/orders/0/id",
        ),
        (
            "get",
            "/v1/orders",
            "200",
            "GetOrder",
            "get_order",
            "/data/0/id",
        ),
        ("get", "/v1/orders", "200", "Ship", "ship", "/data/0/id"),
        (
            "post",
            "/v1/orders/{id}/ship",
            "200",
            "MarkDelivered",
            "mark_delivered",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/ship",
            "200",
            "GetOrder",
            "get_order",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/mark_delivered",
            "200",
            "ConfirmReceipt",
            "confirm_receipt",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/mark_delivered",
            "200",
            "ExtendProtection",
            "extend_protection",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/mark_delivered",
            "200",
            "RequestExtension",
            "request_extension",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/mark_delivered",
            "200",
            "Refund",
            "refund",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/request_extension",
            "200",
            "AnswerExtension",
            "answer_extension",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/request_cancel",
            "200",
            "AnswerCancel",
            "answer_cancel",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/confirm_receipt",
            "200",
            "GetPayment",
            "get_payment",
            "/payment",
        ),
        (
            "get",
            "/v1/payments",
            "200",
            "GetPayment",
            "get_payment",
            "/data/0/id",
        ),
        (
            "get",
            "/v1/payments/{id}",
            "200",
            "GetRefund",
            "get_refund",
            "/refunds/0/id",
        ),
        (
            "get",
            "/v1/refunds",
            "200",
            "GetRefund",
            "get_refund",
            "/data/0/id",
        ),
        (
            "get",
            "/v1/events",
            "200",
            "GetEvent",
            "get_event",
            "/data/0/id",
        ),
        ("post", "/v1/buyers", "201", "GetBuyer", "get_buyer", "/id"),
        (
            "post",
            "/v1/sellers",
            "201",
            "GetSeller",
            "get_seller",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "GetEndpoint",
            "get_endpoint",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "DisableEndpoint",
            "disable_endpoint",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "EnableEndpoint",
            "enable_endpoint",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "Deliveries",
            "list_deliveries",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "DeleteEndpoint",
            "delete_endpoint",
            "/id",
        ),
        (
            "get",
            "/v1/webhook_endpoints",
            "200",
            "GetEndpoint",
            "get_endpoint",
            "/data/0/id",
        ),
    ];
    for (method, path, status, name, to, pointer) in LINKS {
        let Some(item) = doc.paths.paths.get_mut(*path) else {
            continue;
        };
        let operation = match *method {
            "get" => item.get.as_mut(),
            _ => item.post.as_mut(),
        };
        let Some(RefOr::T(response)) =
            operation.and_then(|o| o.responses.responses.get_mut(*status))
        else {
            continue;
        };
        let link = LinkBuilder::new()
            .operation_id(*to)
            .parameter("id", format!("$response.body#{pointer}"))
            .build();
        response.links.insert((*name).to_string(), RefOr::T(link));
    }
}
