//! Cash on delivery: the eligibility verdict, phone verification by a one-time code, the
//! buyer's confirmation of an order, and parcels with their carriers' events.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use holdback_app::{cod, parcels, remittance_lines, remittances};
use holdback_domain::ErrorCode;
use holdback_domain::cod::CarrierEvent;
use serde::Deserialize;
use utoipa::openapi::Object;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::idempotency::Idempotency;
use crate::reply::Reply;
use crate::schema::rules;
use crate::{Ctx, Shared, params, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(eligibility))
        .routes(routes!(start_verification))
        .routes(routes!(confirm_verification))
        .routes(routes!(confirm_cash_on_delivery))
        .routes(routes!(get_parcel))
        .routes(routes!(report_event))
        .routes(routes!(import_remittance))
        .routes(routes!(get_remittance))
        .routes(routes!(remittance_lines))
        .routes(routes!(accept_remittance_line))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EligibilityQuery {
    #[param(schema_with = rules::buyer)]
    buyer: String,
    #[param(schema_with = rules::seller)]
    seller: String,
    /// The order's value before the fee, in minor units.
    #[param(schema_with = rules::positive_amount)]
    amount: i64,
    #[param(schema_with = rules::currency)]
    currency: String,
    /// The categories of the goods, separated by commas.
    #[param(schema_with = categories)]
    categories: Option<String>,
}

fn categories() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(400))
        .pattern(Some("^[a-z0-9_]{1,40}(,[a-z0-9_]{1,40})*$"))
        .examples(["electronics,books"])
        .build()
}

/// Whether a buyer may pay a seller's order at the door, with every rule's result, its reason
/// and the values it compared (never a bare no), and the fee when offered. The platform, or
/// the buyer itself.
#[utoipa::path(get, path = "/v1/cod/eligibility", tag = "cash_on_delivery",
    params(EligibilityQuery),
    responses(
        (status = 200, description = "The verdict", body = schema::CodEligibility),
        schema::SubListRefusals,
    ),
    security(("api_key" = [])))]
async fn eligibility(
    State(s): Ctx,
    Caller(who): Caller,
    query: Result<Query<EligibilityQuery>, QueryRejection>,
) -> Result<Reply, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(ApiError::code(
            ErrorCode::ParameterInvalid,
            "the query takes buyer, seller, amount, currency and categories",
        ));
    };
    params::party_id(&q.buyer, "buyer")?;
    params::party_id(&q.seller, "seller")?;
    let currency = params::currency(&q.currency, "currency")?;
    let amount = params::money(q.amount, currency, "amount")?;
    let mut cats = Vec::new();
    for c in q.categories.as_deref().unwrap_or("").split(',') {
        if !c.is_empty() {
            params::category(c, "categories")?;
            cats.push(c.to_string());
        }
    }
    Ok(Reply::ok(
        cod::check(&s.app, &who, &q.buyer, &q.seller, amount, &cats).await?,
    ))
}

fn phone() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^\\+[1-9][0-9]{6,14}$"))
        .examples(["+966501234567"])
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PhoneDto {
    /// In international form: + and 7 to 15 digits.
    #[schema(schema_with = phone)]
    phone: String,
}

/// Sends a one-time code to verify a buyer's phone (6 digits, 10 minutes, 5 tries). In test
/// mode the code is written to the event log (`phone_verification.code_sent`).
#[utoipa::path(post, path = "/v1/buyers/{id}/phone_verifications", tag = "cash_on_delivery",
    request_body = PhoneDto,
    params(("id" = String, Path), schema::IdempotencyKey),
    responses(
        (status = 201, description = "The verification (never the code)", body = schema::PhoneVerification),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn start_verification(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: PhoneDto = post.parse()?;
    let digits = dto.phone.strip_prefix('+').unwrap_or("");
    let ok = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(ApiError::param(
            ErrorCode::ParameterInvalid,
            "phone",
            "a phone number in international form: + and 7 to 15 digits",
        ));
    }
    post.run(&s, &who, StatusCode::CREATED, async |_| {
        cod::start_verification(&s.app, &who, &id, &dto.phone).await
    })
    .await
}

fn code() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9]{6}$"))
        .examples(["042917"])
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CodeDto {
    #[schema(schema_with = code)]
    code: String,
}

/// Checks a one-time code: the right one, within its time and tries, verifies the buyer's
/// phone, once. A wrong one counts a try (`verification_code_invalid`); after 5,
/// `verification_attempts_exceeded`; late, `verification_code_expired`; again,
/// `verification_code_used`.
#[utoipa::path(post, path = "/v1/phone_verifications/{id}/confirm", tag = "cash_on_delivery",
    request_body = CodeDto,
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The verification, verified", body = schema::PhoneVerification),
        schema::GiftCardRefusals,
    ),
    security(("api_key" = [])))]
async fn confirm_verification(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: CodeDto = post.parse()?;
    if dto.code.len() != 6 || !dto.code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::param(
            ErrorCode::VerificationCodeInvalid,
            "code",
            "a code is 6 digits",
        ));
    }
    Ok(Reply::ok(
        cod::confirm_verification(&s.app, &who, &id, &dto.code).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// The buyer (or the platform) confirms a cash-on-delivery order: it is paid from the cash
/// the carrier will collect, and the seller's ship-by clock starts. Unconfirmed within 48
/// hours, the order is cancelled.
#[utoipa::path(post, path = "/v1/payments/{id}/confirm_cash_on_delivery", tag = "cash_on_delivery",
    request_body = Empty,
    params(("id" = String, Path), schema::IdempotencyKey),
    responses(
        (status = 200, description = "The payment, confirmed", body = schema::Payment),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn confirm_cash_on_delivery(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let _: Empty = post.parse()?;
    post.run(&s, &who, StatusCode::OK, async |idem| {
        cod::confirm(&s.app, &who, &id, idem).await
    })
    .await
}

/// A parcel: the platform, its carrier, the order's buyer or seller.
#[utoipa::path(get, path = "/v1/parcels/{id}", tag = "cash_on_delivery",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The parcel", body = schema::Parcel),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_parcel(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(parcels::get(&s.app, &who, &id).await?))
}

fn event_kind() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(CarrierEvent::ALL.iter().map(|e| e.code())))
        .build()
}

fn event_id() -> Object {
    rules::required_text_of(100)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventDto {
    /// The carrier's own id of the event: sent again, it changes nothing.
    #[schema(schema_with = event_id)]
    id: String,
    #[schema(schema_with = event_kind)]
    event: String,
    /// When it happened (Unix seconds).
    #[schema(schema_with = rules::timestamp)]
    occurred: i64,
    /// For `delivered`: the cash collected, in minor units (the order and the fee).
    #[schema(schema_with = rules::optional_positive_amount)]
    cash_collected: Option<i64>,
    /// The carrier, when the platform reports for one (a carrier's key reports its own).
    #[schema(schema_with = rules::optional_party_id)]
    carrier: Option<String>,
}

/// A carrier reports an event of one of its parcels: out for delivery, delivered with the
/// cash collected (now receivable from the carrier), refused or undeliverable (returned to
/// origin: the order is cancelled and the return charged by policy). An event id sent before
/// changes nothing; news older than what is known is recorded and ignored.
#[utoipa::path(post, path = "/v1/parcels/{tracking}/events", tag = "cash_on_delivery",
    request_body = EventDto,
    params(("tracking" = String, Path), schema::IdempotencyKey),
    responses(
        (status = 200, description = "The event as taken, with the parcel", body = schema::ParcelEvent),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn report_event(
    State(s): Ctx,
    Path(tracking): Path<String>,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: EventDto = post.parse()?;
    params::required_text(&dto.id, "id", 100)?;
    let event = CarrierEvent::parse(&dto.event).ok_or_else(|| {
        ApiError::param(
            ErrorCode::ParameterInvalid,
            "event",
            "event is in_transit, out_for_delivery, delivered, refused or undeliverable",
        )
    })?;
    if let Some(c) = &dto.carrier {
        params::party_id(c, "carrier")?;
    }
    let occurred_at = dto.occurred.checked_mul(1000).ok_or_else(|| {
        ApiError::param(
            ErrorCode::ParameterInvalid,
            "occurred",
            "a Unix time in seconds",
        )
    })?;
    let report = parcels::Report {
        event_id: dto.id,
        event,
        occurred_at,
        cash: dto.cash_collected,
        carrier: dto.carrier,
    };
    post.run(&s, &who, StatusCode::OK, async |idem| {
        parcels::report(&s.app, &who, &tracking, &report, idem).await
    })
    .await
}

fn profile_name() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .examples(["gulf_express"])
        .build()
}

fn file_base64() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .pattern(Some("^[A-Za-z0-9+/]+={0,2}$"))
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RemittanceDto {
    /// The carrier profile the file is read through (its name, or the carrier's id).
    #[schema(schema_with = profile_name)]
    carrier_profile: String,
    /// The file's bytes, base64 (standard alphabet, padded).
    #[schema(schema_with = file_base64)]
    file_base64: String,
}

/// Imports a carrier's remittance file: read whole through the carrier's profile (refused
/// whole, by name, when its bytes are not in the declared encoding, a bank reference is in
/// exponent form, or a date reads two ways), every line classified, matched lines posted to
/// the ledger once, ever. The same file again answers `already_imported: true` and posts
/// nothing; the same batch with other figures is `remittance_batch_conflict`. The platform, or
/// the carrier itself.
#[utoipa::path(post, path = "/v1/cod/remittances", tag = "cash_on_delivery",
    request_body = RemittanceDto,
    params(schema::IdempotencyKey),
    responses(
        (status = 200, description = "The remittance's report", body = schema::Remittance),
        schema::GiftCardRefusals,
    ),
    security(("api_key" = [])))]
async fn import_remittance(
    State(s): Ctx,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    use base64::Engine as _;
    let dto: RemittanceDto = post.parse()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(dto.file_base64.as_bytes())
        .map_err(|_| {
            ApiError::param(
                ErrorCode::RemittanceFileInvalid,
                "file_base64",
                "the file's bytes in standard base64",
            )
        })?;
    let profile = remittances::profile(&s.app, &dto.carrier_profile)?.clone();
    let source = remittances::Source::Bytes(std::sync::Arc::new(bytes));
    post.run(&s, &who, StatusCode::OK, async |_| {
        remittances::import(&s.app, &who, &profile, &source, &|_, _| {}).await
    })
    .await
}

/// One remittance: its report (the batch identity checked, totals per class, the carrier's
/// collections the file did not have), or its progress while it is being imported.
#[utoipa::path(get, path = "/v1/cod/remittances/{id}", tag = "cash_on_delivery",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The remittance", body = schema::Remittance),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_remittance(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    Ok(Reply::ok(remittances::get(&s.app, &who, &id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LinesQuery {
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The line number after which the page starts.
    #[param(minimum = 0)]
    starting_after: Option<i64>,
}

/// A page of a remittance's lines as classified, in file order.
#[utoipa::path(get, path = "/v1/cod/remittances/{id}/lines", tag = "cash_on_delivery",
    params(("id" = String, Path), LinesQuery),
    responses(
        (status = 200, description = "The lines", body = schema::RemittanceLineList),
        schema::SubListRefusals,
    ),
    security(("api_key" = [])))]
async fn remittance_lines(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
    query: Result<Query<LinesQuery>, QueryRejection>,
) -> Result<Reply, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(ApiError::code(
            ErrorCode::ParameterInvalid,
            "the query takes limit (1 to 1000) and starting_after (a line number)",
        ));
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || q.starting_after.is_some_and(|a| a < 0) {
        return Err(ApiError::code(
            ErrorCode::ParameterInvalid,
            "limit is 1 to 1000 and starting_after a line number",
        ));
    }
    let (data, has_more) =
        remittance_lines::lines(&s.app, &who, &id, q.starting_after.unwrap_or(0), limit).await?;
    Ok(Reply::ok(serde_json::json!({
        "object": "list",
        "url": format!("/v1/cod/remittances/{id}/lines"),
        "has_more": has_more,
        "data": data,
    })))
}

fn note() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(remittance_lines::MAX_NOTE))
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptLineDto {
    /// Why the operator accepts the carrier's figures (kept with the line).
    #[schema(schema_with = note)]
    note: Option<String>,
}

/// The platform accepts a short- or over-paid line as the carrier paid it: the line posts as a
/// matched one (the parcel's cash cleared from the carrier's receivable, the cash in, the
/// itemised deductions as expenses, the rest of the difference `unitemised`), and the parcel
/// counts as remitted by the line's batch. A reversal of another amount than the rate card's
/// (`reversal_amount_mismatch`) is accepted the same way: the earlier payment undone with what
/// the carrier took back. Once: accepting it again answers the line and changes nothing.
/// Refused (`remittance_line_not_acceptable`) for any other line, or when the parcel no longer
/// stands as the line found it.
#[utoipa::path(post, path = "/v1/cod/remittances/{id}/lines/{line}/accept", tag = "cash_on_delivery",
    request_body = AcceptLineDto,
    params(("id" = String, Path), ("line" = i64, Path, minimum = 1), schema::IdempotencyKey),
    responses(
        (status = 200, description = "The line, accepted", body = schema::RemittanceLine),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn accept_remittance_line(
    State(s): Ctx,
    Path((id, line)): Path<(String, String)>,
    Caller(who): Caller,
    post: Idempotency,
) -> Result<Reply, ApiError> {
    let dto: AcceptLineDto = post.parse()?;
    let note = dto.note.unwrap_or_default();
    // (a line number that is not one names no line)
    let Ok(line) = line.parse::<i64>() else {
        return Err(holdback_app::AppError::NotFound.into());
    };
    post.run(&s, &who, StatusCode::OK, async |_| {
        remittance_lines::accept(&s.app, &who, &id, line, &note).await
    })
    .await
}
