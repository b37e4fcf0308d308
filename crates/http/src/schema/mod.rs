//! Types that exist to document the API in OpenAPI: the objects the handlers return as JSON
//! (built in `holdback_app::views`), the error body, and shared parameters. The API tests check
//! the real responses against the fields documented here.

#![allow(dead_code)] // these types describe JSON; they are never built

use std::collections::BTreeMap;

use holdback_domain::{ErrorCode, ErrorKind};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

mod cod;
mod links;
pub(crate) mod rules;
mod stored;

pub use cod::*;
pub(crate) use links::finish;
pub use stored::*;

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
        (name = "disputes", description = "Buyer protection: disputes, mediation and returns"),
        (name = "events", description = "The event log"),
        (name = "webhooks", description = "Signed event delivery"),
        (name = "catalog", description = "Sellers' products"),
        (name = "parties", description = "Buyers and sellers"),
        (name = "gift_cards", description = "Gift cards: issued, sold for cash, checked, redeemed"),
        (name = "coupons", description = "Coupons funded by the platform or by a seller"),
        (name = "cash_on_delivery", description = "Cash at the door: eligibility, phone codes, parcels, carriers' events and remittances"),
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
    #[schema(schema_with = error_type)]
    r#type: String,
    #[schema(schema_with = error_code)]
    code: String,
    message: String,
    /// The parameter at fault, if one is.
    param: Option<String>,
    request_id: String,
}

/// The error's `type`: every [`ErrorKind`], from the declaration of the codes.
fn error_type() -> Object {
    string_enum(
        ErrorKind::ALL.iter().map(|k| k.as_str()),
        "Who is to act on the error.",
    )
}

/// The error's `code`: every declared [`ErrorCode`].
fn error_code() -> Object {
    string_enum(
        ErrorCode::ALL.iter().map(|c| c.as_str()),
        "A stable code; each has one HTTP status and one type.",
    )
}

fn string_enum<'a>(values: impl Iterator<Item = &'a str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
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
    /// awaiting_payment, paid, shipped, delivered, awaiting_remittance (paid at the door, its
    /// release due, waiting for the carrier's remittance), completed, cancelled (refunded), or
    /// expired (cancelled unpaid: its payment never came).
    status: String,
    buyer: String,
    seller: String,
    payment: String,
    /// Captured, in minor units: what the escrow holds, and what the seller is paid on.
    amount: i64,
    /// Lower-case ISO 4217.
    currency: String,
    amount_refunded: i64,
    amount_held: i64,
    /// What the platform pays of `amount` (a platform-funded coupon); the buyer paid the rest.
    amount_platform_funded: i64,
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
    /// When a non-delivery claim opened (the delivery guarantee's window passed without a
    /// delivered event), while it is open: the seller has 5 days to show a delivery, or the
    /// buyer is refunded in full.
    non_delivery_claim: Option<i64>,
    /// The dispute open on this order, if any: its protection clock is stopped meanwhile.
    dispute: Option<String>,
    /// Given back to the buyer after the release and charged to the seller (a counterfeit
    /// outcome), in minor units.
    amount_charged_to_seller: i64,
    /// Paid at the door: the hold is released only after the carrier's remittance for its
    /// parcel is matched (status awaiting_remittance until then).
    cash_on_delivery: bool,
    /// When the release of an order awaiting its remittance fell due.
    release_due: Option<i64>,
}

/// What the buyer asked for, or how a dispute ended: a type and, for a partial refund or a
/// counterfeit refund, its amount.
#[derive(ToSchema)]
pub struct DisputeAmount {
    /// full_refund, partial_refund or return_and_refund (and for an outcome, rejected or
    /// counterfeit).
    r#type: String,
    amount: Option<i64>,
}

/// The seller's answer while negotiating: reject, or counter with an amount.
#[derive(ToSchema)]
pub struct DisputeAnswer {
    r#type: String,
    amount: Option<i64>,
}

/// A dispute in negotiation: the seller's deadline and the escalation's times.
#[derive(ToSchema)]
pub struct DisputeNegotiation {
    answer_due: i64,
    /// From when either side may escalate.
    escalation_allowed: i64,
    /// When the negotiation goes to a mediator by itself.
    auto_escalation: i64,
    answer: Option<DisputeAnswer>,
}

/// A dispute with a mediator.
#[derive(ToSchema)]
pub struct DisputeMediation {
    /// buyer, seller, timer, or after_release (a counterfeit claim on a released order).
    escalated_by: String,
    /// The SLA deadline of the decision.
    decision_due: i64,
    overdue: bool,
}

/// A return and refund under way.
#[derive(ToSchema)]
pub struct DisputeReturn {
    /// While the return is awaited: when it must be shipped by.
    ship_by: Option<i64>,
    /// What the buyer gets back once the return is received.
    amount: i64,
    tracking_number: Option<String>,
    shipped: Option<i64>,
    delivered: Option<i64>,
    /// When the refund happens without the seller's confirmation.
    refund_due: Option<i64>,
}

/// How a dispute closed.
#[derive(ToSchema)]
pub struct DisputeOutcome {
    /// full_refund, partial_refund, return_and_refund, rejected or counterfeit.
    r#type: String,
    amount: Option<i64>,
    /// seller_accepted, seller_silent, counter_accepted, decided, return_received,
    /// return_unconfirmed or return_not_shipped.
    closure: String,
    /// A mediator's written reason.
    reason: Option<String>,
    closed: i64,
}

/// A buyer's dispute about an order. Times are Unix seconds; amounts are in the order's minor
/// units. Only the field of the stage it is in (negotiation, mediation, return, outcome) is set.
#[derive(ToSchema)]
pub struct Dispute {
    id: String,
    /// Always "dispute".
    object: String,
    created: i64,
    livemode: bool,
    metadata: serde_json::Value,
    order: String,
    buyer: String,
    seller: String,
    /// negotiating, in_mediation, awaiting_return, return_shipped or closed.
    status: String,
    /// not_received, not_as_described, damaged, counterfeit or wrong_item.
    reason: String,
    /// What the order captured.
    amount: i64,
    /// What the order held when the dispute opened.
    amount_held: i64,
    currency: String,
    requested: DisputeAmount,
    /// When it went to a mediator, if it did.
    escalated: Option<i64>,
    /// The mediator who decided it, if one did.
    decided_by: Option<String>,
    /// The next deadline.
    due: Option<i64>,
    negotiation: Option<DisputeNegotiation>,
    mediation: Option<DisputeMediation>,
    r#return: Option<DisputeReturn>,
    outcome: Option<DisputeOutcome>,
}

/// Who added an evidence file.
#[derive(ToSchema)]
pub struct Uploader {
    /// buyer, seller, mediator or platform.
    role: String,
    id: String,
}

/// An evidence file of a dispute (its content at `url`).
#[derive(ToSchema)]
pub struct EvidenceFile {
    id: String,
    /// Always "file".
    object: String,
    /// Always "dispute_evidence".
    purpose: String,
    dispute: String,
    /// jpeg, png, webp, mp4 or pdf: what the content is.
    kind: String,
    /// The content type it is served with.
    r#type: String,
    size: i64,
    filename: String,
    sha256: String,
    uploaded_by: Uploader,
    url: String,
    created: i64,
    livemode: bool,
}

#[derive(ToSchema)]
pub struct EvidenceFileList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<EvidenceFile>,
}

#[derive(ToSchema)]
pub struct DisputeList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Dispute>,
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
    /// requires_action (waiting for a bank transfer), processing, succeeded, failed or expired.
    status: String,
    buyer: String,
    amount: i64,
    currency: String,
    /// The code of a failed payment's refusal.
    failure_code: Option<String>,
    amount_refunded: i64,
    /// While the payment waits for its money (requires_action): what is still due.
    amount_due: i64,
    /// When a payment that waits for its money expires (its orders are then cancelled unpaid).
    expires: Option<i64>,
    /// The first tender's method: card, bank_transfer, a wallet (alipay, paypal, wechat_pay,
    /// webmoney), or balance for a payment made wholly from the buyer's balance.
    method: String,
    card: Option<Card>,
    /// Each part and how it was paid: a provider's tender first, then the balance's, if any.
    tenders: Vec<Tender>,
    orders: Vec<Order>,
    refunds: Vec<Refund>,
    /// What the buyer must do, while the payment requires action: the bank transfer's
    /// instructions.
    next_action: Option<NextAction>,
    /// A cash-on-delivery checkout's terms (its answer only).
    cash_on_delivery: Option<CodTerms>,
}

/// The platform's account a bank transfer goes to.
#[derive(ToSchema)]
pub struct BankAccount {
    holder: String,
    iban: String,
    bic: String,
}

/// How to pay a payment that waits for its money.
#[derive(ToSchema)]
pub struct NextAction {
    /// bank_transfer_instructions (reference, amount, currency, account), or redirect_to_url
    /// (redirect_url, wallet).
    r#type: String,
    /// Write this on the transfer: it is how the bank's notification finds the payment.
    reference: Option<String>,
    /// What is still due, in minor units.
    amount: Option<i64>,
    currency: Option<String>,
    account: Option<BankAccount>,
    /// Where to send the buyer: the wallet's page.
    redirect_url: Option<String>,
    /// alipay, paypal, wechat_pay or webmoney.
    wallet: Option<String>,
    /// Where the buyer confirms a cash-on-delivery order (confirm_cash_on_delivery).
    confirm_url: Option<String>,
}

/// One part of a payment, paid by one method.
#[derive(ToSchema)]
pub struct Tender {
    /// card, bank_transfer, alipay, paypal, wechat_pay, webmoney or balance
    method: String,
    amount: i64,
    amount_refunded: i64,
    card: Option<Card>,
}

/// Money owed back to the buyer: through the provider that took it, or into the buyer's
/// balance. Times are Unix seconds.
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
    /// The order whose money it gives back; none for money no order took (a bank transfer
    /// beyond what was due, or after the payment expired).
    order: Option<String>,
    amount: i64,
    currency: String,
    /// requested, ship_by_missed, cancel_accepted, cancel_unanswered, not_delivered, dispute,
    /// overpaid or payment_expired.
    reason: String,
    /// original_method (back through the provider that took it) or balance (into the buyer's
    /// balance: the part paid from it, or one policy routes there; done when written).
    destination: String,
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
    category: Option<String>,
}

#[derive(ToSchema)]
pub struct ProductList {
    object: String,
    url: String,
    has_more: bool,
    data: Vec<Product>,
}

/// The error answers an operation can give, each with the error body: one type per kind of
/// operation, listing only the statuses its handler and extractors can answer.
/// 400: the request breaks a rule (a parameter, a rule about the cart or the order);
/// 401: no valid API key; 402: the card was refused; 403: the key's role may not do this;
/// 404: no such object (or one the caller may not see); 409: the object's state does not
/// allow it, or the Idempotency-Key is still running; 413: the body is too large; 415: a body
/// not declared JSON; 422: the Idempotency-Key was used with another request, or a value
/// cannot be stored; 431: the request's headers are over the limit.
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
                415 => "A body not declared as JSON (unsupported_media_type)",
                431 => "The request's headers are over the limit (request_header_too_large)",
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
    GetRefusals: 401, 404, 431;
    /// Reading one object, for the platform only.
    PlatformGetRefusals: 401, 403, 404, 431;
    /// Reading a list without parameters, for the platform only.
    PlatformReadRefusals: 401, 403, 431;
    /// A page of a list (a key may be refused the list its role does not read).
    ListRefusals: 400, 401, 403, 431;
    /// A page of a list, for the platform only; the cursor must name an object.
    PlatformListRefusals: 400, 401, 403, 404, 431;
    /// A page of one object's list.
    SubListRefusals: 400, 401, 403, 404, 431;
    /// Creating an object.
    CreateRefusals: 400, 401, 403, 409, 413, 415, 422, 431;
    /// A checkout (404: a gift card or coupon code that names none; 429: a gift card redeemed
    /// on the spot after too many wrong codes).
    CheckoutRefusals: 400, 401, 402, 403, 404, 409, 413, 415, 422, 429, 431;
    /// An action on one object.
    ActionRefusals: 400, 401, 403, 404, 409, 413, 415, 422, 431;
    /// An action on a gift card named by its code (429: locked out, or too many checks).
    GiftCardRefusals: 400, 401, 403, 404, 409, 413, 415, 422, 429, 431;
    /// Deleting one object.
    DeleteRefusals: 401, 403, 404, 431;
    /// A signed notification from a connector.
    NotificationRefusals: 400, 401, 409, 413, 431;
}
