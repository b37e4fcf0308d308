//! The holdback HTTP JSON API (axum). Handlers parse, call one use case, and convert; rules,
//! SQL and the clock live elsewhere.
//!
//! Conventions (HOUSE-STYLE.md §8): `/v1`, `Authorization: Bearer sk_test_…`, one error body
//! `{"error":{"type","code","message","param","request_id"}}` with codes from [`errors::CATALOG`],
//! a `Request-Id` header on every response, `Idempotency-Key` on POST (replayed with
//! `Idempotent-Replayed: true`; a different request with the same key is refused; the same key
//! still running answers 409), cursor pagination with `limit` and `starting_after`.

pub mod errors;
mod parties;
mod schema;

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use holdback_app::checkout::{self, CheckoutRequest, Item};
use holdback_app::orders::{self, Idem};
use holdback_app::{App, AppError, Principal, Role, catalog, keys, views, webhooks};
use holdback_domain::card::CardInput;
use holdback_domain::order::OrderCommand;
use holdback_domain::{Currency, Money};
use holdback_store::Cursor;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::{OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::errors::ApiError;

struct Shared {
    app: App,
    /// (key id, idempotency key) of requests running now on this node.
    running: Mutex<HashSet<(String, String)>>,
    /// Responses by status class: 1xx … 5xx.
    responses: [AtomicU64; 5],
}

type Ctx = State<Arc<Shared>>;

/// The documented part of the API: every route here is in the OpenAPI document.
fn api() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::with_openapi(schema::ApiDoc::openapi())
        .routes(routes!(create_checkout))
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(ship))
        .routes(routes!(mark_delivered))
        .routes(routes!(confirm_receipt))
        .routes(routes!(request_cancel))
        .routes(routes!(answer_cancel))
        .routes(routes!(refund))
        .routes(routes!(extend_protection))
        .routes(routes!(request_extension))
        .routes(routes!(answer_extension))
        .routes(routes!(payments::list_payments))
        .routes(routes!(payments::get_payment))
        .routes(routes!(payments::get_refund))
        .routes(routes!(payments::list_refunds))
        .routes(routes!(list_events))
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(create_product, list_products))
        .routes(routes!(parties::create_buyer, parties::list_buyers))
        .routes(routes!(parties::get_buyer))
        .routes(routes!(parties::create_seller, parties::list_sellers))
        .routes(routes!(parties::get_seller))
}

/// The OpenAPI 3.1 document, generated from the routes and their types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The router for the whole API.
pub fn router(app: App) -> Router {
    let shared = Arc::new(Shared {
        app,
        running: Mutex::new(HashSet::new()),
        responses: Default::default(),
    });
    let (routes, doc) = api().split_for_parts();
    let doc = doc.to_pretty_json().unwrap_or_default();
    routes
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(move || async move { ([("content-type", "application/json")], doc.clone()) }),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), count))
        .with_state(shared)
}

/// Counts every response by its status class.
async fn count(
    State(s): Ctx,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let class = usize::from(response.status().as_u16() / 100).clamp(1, 5) - 1;
    s.responses[class].fetch_add(1, Ordering::Relaxed);
    response
}

/// Prometheus text exposition of the node's counters.
async fn metrics(State(s): Ctx) -> Response {
    let mut out = String::from(
        "# HELP holdback_http_responses_total HTTP responses sent, by status class.\n\
         # TYPE holdback_http_responses_total counter\n",
    );
    for (i, n) in s.responses.iter().enumerate() {
        out.push_str(&format!(
            "holdback_http_responses_total{{class=\"{}xx\"}} {}\n",
            i + 1,
            n.load(Ordering::Relaxed)
        ));
    }
    let (batches, requests) = s.app.ledger.stats();
    out.push_str(&format!(
        "# HELP holdback_ledger_commits_total Database transactions committed by the group-commit writer.\n\
         # TYPE holdback_ledger_commits_total counter\n\
         holdback_ledger_commits_total {batches}\n\
         # HELP holdback_ledger_requests_total Writes decided by the group-commit writer.\n\
         # TYPE holdback_ledger_requests_total counter\n\
         holdback_ledger_requests_total {requests}\n"
    ));
    let mut response = out.into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

fn request_id(app: &App) -> String {
    app.ids.next("req")
}

/// A JSON response with the `Request-Id` header.
fn reply(status: StatusCode, body: &Value, request_id: &str, replayed: bool) -> Response {
    let mut response = (status, axum::Json(body.clone())).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("request-id", v);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A request id, and the caller from its API key; on a bad key, returns the error response.
macro_rules! authed {
    ($s:expr, $headers:expr) => {{
        let rid = request_id(&$s.app);
        match authenticate(&$s.app, &$headers).await {
            Ok(p) => (rid, p),
            Err(e) => return fail(e, &rid),
        }
    }};
}

mod payments;

fn fail(e: impl Into<ApiError>, request_id: &str) -> Response {
    e.into().response(request_id)
}

async fn healthz(State(s): Ctx) -> Response {
    reply(
        StatusCode::OK,
        &json!({"status": "ok"}),
        &request_id(&s.app),
        false,
    )
}

async fn not_found(State(s): Ctx) -> Response {
    fail(
        ApiError::code("route_not_found", "no such endpoint"),
        &request_id(&s.app),
    )
}

async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::from(AppError::Unauthenticated))?;
    Ok(keys::authenticate(app, value.trim()).await?)
}

/// Parses a JSON body into `T`, refusing unknown fields, with our own error text.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        let field = text
            .split('`')
            .nth(1)
            .filter(|_| text.starts_with("unknown field") || text.starts_with("missing field"))
            .map(str::to_string);
        match (e.classify(), field) {
            (serde_json::error::Category::Data, Some(f)) if text.starts_with("unknown field") => {
                ApiError::param(
                    "unknown_parameter",
                    f.clone(),
                    format!("unknown parameter {f}"),
                )
            }
            (serde_json::error::Category::Data, Some(f)) => ApiError::param(
                "parameter_missing",
                f.clone(),
                format!("missing parameter {f}"),
            ),
            (serde_json::error::Category::Data, None) => ApiError::code(
                "parameter_invalid",
                format!(
                    "a parameter has the wrong type (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            ),
            _ => ApiError::code(
                "invalid_json",
                format!(
                    "the body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            ),
        }
    })
}

/// Runs a POST under its idempotency key (if any): replays a finished request, refuses a
/// different request with the same key, and answers 409 while the same key is running here.
/// What identifies a POST for idempotency: its key header, method, path and body.
struct Post<'a> {
    headers: &'a HeaderMap,
    method: &'a Method,
    path: &'a str,
    body: &'a Bytes,
}

async fn idempotent<F, Fut>(
    s: &Shared,
    principal: &Principal,
    post: Post<'_>,
    status: StatusCode,
    run: F,
) -> Response
where
    F: FnOnce(Option<Idem>) -> Fut,
    Fut: Future<Output = Result<Value, AppError>>,
{
    let rid = request_id(&s.app);
    let Post {
        headers,
        method,
        path,
        body,
    } = post;
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => Some(k.to_string()),
        Some(_) => {
            let e = ApiError::param(
                "parameter_invalid",
                "Idempotency-Key",
                "1 to 255 visible characters",
            );
            return fail(e, &rid);
        }
    };
    let Some(key) = key else {
        return match run(None).await {
            Ok(v) => reply(status, &v, &rid, false),
            Err(e) => fail(e, &rid),
        };
    };
    let mut digest = Sha256::new();
    digest.update(method.as_str());
    digest.update([0]);
    digest.update(path);
    digest.update([0]);
    digest.update(body);
    let request_hash: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let idem = Idem {
        principal: principal.key_id.clone(),
        key: key.clone(),
        request_hash,
    };
    let replay = |record: holdback_store::IdempotencyRecord| -> Response {
        if record.request_hash != idem.request_hash {
            return fail(
                ApiError::code(
                    "idempotency_key_reused",
                    "this key was used with a different request",
                ),
                &rid,
            );
        }
        let body: Value = serde_json::from_str(&record.body).unwrap_or(Value::Null);
        let status = StatusCode::from_u16(record.status).unwrap_or(StatusCode::OK);
        reply(status, &body, &rid, true)
    };
    match s.app.store.idempotency(&idem.principal, &key).await {
        Ok(Some(record)) => return replay(record),
        Ok(None) => {}
        Err(e) => return fail(AppError::from(e), &rid),
    }
    let slot = (idem.principal.clone(), key.clone());
    let claimed = s
        .running
        .lock()
        .map(|mut r| r.insert(slot.clone()))
        .unwrap_or(false);
    if !claimed {
        let e = ApiError::code(
            "idempotency_key_in_use",
            "a request with this key is still running",
        );
        return fail(e, &rid);
    }
    let result = run(Some(idem.clone())).await;
    if let Ok(mut r) = s.running.lock() {
        r.remove(&slot);
    }
    match result {
        Ok(v) => reply(status, &v, &rid, false),
        Err(AppError::Conflict(what)) if what == holdback_store::KEY_USED => {
            match s.app.store.idempotency(&idem.principal, &key).await {
                Ok(Some(record)) => replay(record),
                _ => fail(AppError::Conflict(what), &rid),
            }
        }
        Err(e) => fail(e, &rid),
    }
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
    shipping_methods: std::collections::BTreeMap<String, String>,
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
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    let request = (|| -> Result<CheckoutRequest, ApiError> {
        let dto: CheckoutDto = parse(&body)?;
        let currency = Currency::parse(&dto.currency)
            .map_err(|e| ApiError::from(AppError::from(e)).with_param("currency"))?;
        let card = CardInput::parse(
            &dto.card.number,
            dto.card.exp_month,
            dto.card.exp_year,
            &dto.card.cvc,
        )
        .map_err(AppError::from)?;
        let items = dto
            .items
            .into_iter()
            .map(|i| match (i.product, i.seller, i.unit_amount) {
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
                    "parameter_invalid",
                    "items",
                    "each item has either product, or seller and unit_amount",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CheckoutRequest {
            buyer: dto.buyer,
            currency,
            items,
            card,
            shipping: dto.shipping_methods,
        })
    })();
    let request = match request {
        Ok(r) => r,
        Err(e) => return fail(e, &rid),
    };
    let (app, who) = (s.app.clone(), principal.clone());
    idempotent(
        &s,
        &principal,
        Post {
            headers: &headers,
            method: &method,
            path: "/v1/checkouts",
            body: &body,
        },
        StatusCode::CREATED,
        |idem| async move { checkout::checkout(&app, &who, &request, idem.as_ref()).await },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<u32>,
    starting_after: Option<String>,
    ending_before: Option<String>,
}

impl Page {
    /// The cursor: `starting_after` or `ending_before`, not both.
    fn cursor(&self) -> Result<Cursor<'_>, ApiError> {
        match (&self.starting_after, &self.ending_before) {
            (Some(_), Some(_)) => Err(ApiError::param(
                "parameter_invalid",
                "ending_before",
                "give starting_after or ending_before, not both",
            )),
            (None, Some(before)) => Ok(Cursor::Before(before)),
            (after, None) => Ok(Cursor::After(after.as_deref().unwrap_or(""))),
        }
    }
}

fn list_body(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "url": url, "has_more": has_more, "data": data})
}

/// The query of a list request, or our error body when it does not parse.
fn page_of(query: Result<Query<Page>, QueryRejection>) -> Result<Page, ApiError> {
    query.map(|Query(p)| p).map_err(|_| {
        ApiError::code(
            "parameter_invalid",
            "the query takes limit (1 to 100) and starting_after or ending_before",
        )
    })
}

/// The orders the caller may see: all (platform), a buyer's own, or a seller's own.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of orders", body = schema::OrderList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_orders(
    State(s): Ctx,
    headers: HeaderMap,
    query: Result<Query<Page>, QueryRejection>,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    let page = match page_of(query) {
        Ok(p) => p,
        Err(e) => return fail(e, &rid),
    };
    let cursor = match page.cursor() {
        Ok(c) => c,
        Err(e) => return fail(e, &rid),
    };
    match orders::list(&s.app, &principal, cursor, page.limit.unwrap_or(10)).await {
        Ok((data, has_more)) => reply(
            StatusCode::OK,
            &list_body("/v1/orders", data, has_more),
            &rid,
            false,
        ),
        Err(e) => fail(e, &rid),
    }
}

/// One order. An order the caller may not see answers 404, as one that does not exist.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The order", body = schema::Order),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn get_order(State(s): Ctx, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let (rid, principal) = authed!(s, headers);
    match orders::get(&s.app, &principal, &id).await {
        Ok(v) => reply(StatusCode::OK, &v, &rid, false),
        Err(e) => fail(e, &rid),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ShipDto {
    carrier: String,
    tracking_number: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AnswerDto {
    accept: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ApproveDto {
    approve: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundDto {
    amount: i64,
    currency: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExtensionDto {
    days: u32,
}

/// Parses the body of `POST /v1/orders/{id}/{action}` into an order command.
fn order_command(action: &str, body: &Bytes) -> Result<OrderCommand, ApiError> {
    Ok(match action {
        "ship" => {
            let d: ShipDto = parse(body)?;
            if d.carrier.trim().is_empty() || d.tracking_number.trim().is_empty() {
                return Err(ApiError::param(
                    "parameter_invalid",
                    "tracking_number",
                    "carrier and tracking_number are required",
                ));
            }
            OrderCommand::Ship {
                carrier: d.carrier,
                tracking: d.tracking_number,
            }
        }
        "mark_delivered" | "confirm_receipt" | "request_cancel" | "extend_protection" => {
            let _: Empty = parse(body)?;
            match action {
                "mark_delivered" => OrderCommand::MarkDelivered,
                "confirm_receipt" => OrderCommand::ConfirmReceipt,
                "request_cancel" => OrderCommand::RequestCancel,
                _ => OrderCommand::ExtendProtection,
            }
        }
        "answer_cancel" => {
            let d: AnswerDto = parse(body)?;
            OrderCommand::AnswerCancel { accept: d.accept }
        }
        "refund" => {
            let d: RefundDto = parse(body)?;
            let currency = Currency::parse(&d.currency)
                .map_err(|e| ApiError::from(AppError::from(e)).with_param("currency"))?;
            let amount = Money::from_minor(d.amount, currency)
                .map_err(|e| ApiError::from(AppError::from(e)).with_param("amount"))?;
            OrderCommand::Refund { amount }
        }
        "request_extension" => {
            let d: ExtensionDto = parse(body)?;
            OrderCommand::RequestExtension { days: d.days }
        }
        "answer_extension" => {
            let d: ApproveDto = parse(body)?;
            OrderCommand::AnswerExtension { approve: d.approve }
        }
        _ => return Err(ApiError::code("route_not_found", "no such endpoint")),
    })
}

/// One documented handler per order action, all sharing [`order_action`].
macro_rules! action {
    ($name:ident, $action:literal, $body:ty, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = concat!("/v1/orders/{id}/", $action), tag = "orders",
            request_body = $body,
            params(("id" = String, Path), schema::IdempotencyKey),
            responses(
                (status = 200, description = "The order after the action", body = schema::Order),
                (status = "4XX", description = "Refused: see the error code", body = schema::ErrorBody),
            ),
            security(("api_key" = [])))]
        async fn $name(
            state: Ctx,
            method: Method,
            headers: HeaderMap,
            Path(id): Path<String>,
            body: Bytes,
        ) -> Response {
            order_action(state, method, headers, id, $action, body).await
        }
    };
}

action!(
    ship,
    "ship",
    ShipDto,
    "The seller ships the order (carrier and tracking number)."
);
action!(
    mark_delivered,
    "mark_delivered",
    Empty,
    "A delivered event from the carrier."
);
action!(
    confirm_receipt,
    "confirm_receipt",
    Empty,
    "The buyer confirms receipt: the hold is released to the seller less commission."
);
action!(
    request_cancel,
    "request_cancel",
    Empty,
    "The buyer asks to cancel before shipment; the seller has 48 h to answer."
);
action!(
    answer_cancel,
    "answer_cancel",
    AnswerDto,
    "The seller accepts (refund) or rejects a cancellation request."
);
action!(
    refund,
    "refund",
    RefundDto,
    "A full or partial refund to the card, before release (platform or seller)."
);
action!(
    extend_protection,
    "extend_protection",
    Empty,
    "The buyer extends protection once by 3 days, when at most 3 days remain."
);
action!(
    request_extension,
    "request_extension",
    ExtensionDto,
    "The buyer asks the seller for a longer protection period."
);
action!(
    answer_extension,
    "answer_extension",
    ApproveDto,
    "The seller approves or declines the requested extension."
);

async fn order_action(
    State(s): Ctx,
    method: Method,
    headers: HeaderMap,
    id: String,
    action: &'static str,
    body: Bytes,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    let command = match order_command(action, &body) {
        Ok(c) => c,
        Err(e) => return fail(e, &rid),
    };
    let path = format!("/v1/orders/{id}/{action}");
    let (app, who) = (s.app.clone(), principal.clone());
    idempotent(
        &s,
        &principal,
        Post {
            headers: &headers,
            method: &method,
            path: &path,
            body: &body,
        },
        StatusCode::OK,
        |idem| async move { orders::act(&app, &who, &id, &command, idem.as_ref()).await },
    )
    .await
}

/// The event log, oldest first (platform only). Webhooks deliver the same events.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of events", body = schema::EventList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_events(
    State(s): Ctx,
    headers: HeaderMap,
    query: Result<Query<Page>, QueryRejection>,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    let page = match page_of(query) {
        Ok(p) => p,
        Err(e) => return fail(e, &rid),
    };
    if principal.role != Role::Platform {
        return fail(
            ApiError::code("not_permitted", "only the platform reads the event log"),
            &rid,
        );
    }
    let limit = page.limit.unwrap_or(10).clamp(1, 100);
    let cursor = match page.cursor() {
        Ok(c) => c,
        Err(e) => return fail(e, &rid),
    };
    let (id, backward) = match cursor {
        Cursor::After(id) => (id, false),
        Cursor::Before(id) => (id, true),
    };
    let at = if id.is_empty() {
        0
    } else {
        match s.app.store.event_seq(id).await {
            Ok(Some(seq)) => seq,
            Ok(None) => {
                let param = if backward {
                    "ending_before"
                } else {
                    "starting_after"
                };
                return fail(
                    ApiError::param("resource_missing", param, "no such event"),
                    &rid,
                );
            }
            Err(e) => return fail(AppError::from(e), &rid),
        }
    };
    let page = if backward {
        s.app
            .store
            .events_before(at, principal.livemode, limit + 1)
            .await
    } else {
        s.app
            .store
            .events_after(at, principal.livemode, limit + 1)
            .await
    };
    match page {
        Ok(mut events) => {
            let has_more = events.len() > limit as usize;
            if has_more && backward {
                events.remove(0);
            } else {
                events.truncate(limit as usize);
            }
            let data = events.iter().map(views::event).collect();
            reply(
                StatusCode::OK,
                &list_body("/v1/events", data, has_more),
                &rid,
                false,
            )
        }
        Err(e) => fail(AppError::from(e), &rid),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EndpointDto {
    url: String,
}

/// Register a webhook endpoint (platform only). The signing secret is shown in this response
/// only.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhooks", request_body = EndpointDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The endpoint, with its secret", body = schema::WebhookEndpoint),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn create_endpoint(
    State(s): Ctx,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    let dto: EndpointDto = match parse(&body) {
        Ok(d) => d,
        Err(e) => return fail(e, &rid),
    };
    let (app, who) = (s.app.clone(), principal.clone());
    idempotent(
        &s,
        &principal,
        Post {
            headers: &headers,
            method: &method,
            path: "/v1/webhook_endpoints",
            body: &body,
        },
        StatusCode::CREATED,
        |_| async move { webhooks::create_endpoint(&app, &who, &dto.url).await },
    )
    .await
}

/// The registered webhook endpoints (platform only), without their secrets.
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhooks",
    responses(
        (status = 200, description = "The endpoints", body = schema::WebhookEndpointList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_endpoints(State(s): Ctx, headers: HeaderMap) -> Response {
    let (rid, principal) = authed!(s, headers);
    match webhooks::list_endpoints(&s.app, &principal).await {
        Ok(data) => reply(
            StatusCode::OK,
            &list_body("/v1/webhook_endpoints", data, false),
            &rid,
            false,
        ),
        Err(e) => fail(e, &rid),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProductDto {
    /// Required from the platform; a seller's key adds to its own catalog.
    seller: Option<String>,
    name: String,
    unit_amount: i64,
    currency: String,
}

/// Add a product to a seller's catalog (platform, or the seller itself).
#[utoipa::path(post, path = "/v1/products", tag = "catalog", request_body = ProductDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 201, description = "The product", body = schema::Product),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn create_product(
    State(s): Ctx,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    let parsed = (|| -> Result<(ProductDto, Money), ApiError> {
        let dto: ProductDto = parse(&body)?;
        let currency = Currency::parse(&dto.currency)
            .map_err(|e| ApiError::from(AppError::from(e)).with_param("currency"))?;
        let price = Money::from_minor(dto.unit_amount, currency)
            .map_err(|e| ApiError::from(AppError::from(e)).with_param("unit_amount"))?;
        Ok((dto, price))
    })();
    let (dto, price) = match parsed {
        Ok(p) => p,
        Err(e) => return fail(e, &rid),
    };
    let (app, who) = (s.app.clone(), principal.clone());
    idempotent(
        &s,
        &principal,
        Post {
            headers: &headers,
            method: &method,
            path: "/v1/products",
            body: &body,
        },
        StatusCode::CREATED,
        |_| async move { catalog::create(&app, &who, dto.seller.as_deref(), &dto.name, price).await },
    )
    .await
}

/// The catalog: products of the caller's mode, optionally of one seller.
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(schema::ProductQuery),
    responses(
        (status = 200, description = "A page of products", body = schema::ProductList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_products(
    State(s): Ctx,
    headers: HeaderMap,
    query: Result<Query<ProductQuery>, QueryRejection>,
) -> Response {
    let (rid, principal) = authed!(s, headers);
    let Ok(Query(q)) = query else {
        return fail(
            ApiError::code(
                "parameter_invalid",
                "the query takes seller, limit and starting_after",
            ),
            &rid,
        );
    };
    let after = q.starting_after.as_deref().unwrap_or("");
    match catalog::list(
        &s.app,
        &principal,
        q.seller.as_deref(),
        after,
        q.limit.unwrap_or(10),
    )
    .await
    {
        Ok((data, has_more)) => reply(
            StatusCode::OK,
            &list_body("/v1/products", data, has_more),
            &rid,
            false,
        ),
        Err(e) => fail(e, &rid),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductQuery {
    seller: Option<String>,
    limit: Option<u32>,
    starting_after: Option<String>,
}
