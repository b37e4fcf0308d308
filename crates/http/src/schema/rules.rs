//! The schemas of request fields, built from the same constants and predicates as the checks
//! that enforce them (`params`, the domain), so that the document states the rule the server
//! applies. Each is used as `#[schema(schema_with = …)]` on a request field.

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

/// Text of 1 to `max` characters, not blank, no control characters (for a field's own limit).
pub fn required_text_of(max: usize) -> Object {
    required_text(max).build()
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

/// An IPv6 address without an embedded IPv4 part or zone: eight groups, or fewer around one
/// `::` (every form parses as `std::net::Ipv6Addr`).
const IPV6: &str = "([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,7}:\
    |([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}\
    |([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}\
    |([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}\
    |:((:[0-9A-Fa-f]{1,4}){1,7}|:)";

pub fn url() -> Object {
    let blank = params::class(|c| c.is_control() || c.is_whitespace());
    string()
        .min_length(Some("http://".len()))
        .max_length(Some(params::MAX_URL))
        .pattern(Some(format!(
            "^https?://([A-Za-z0-9.-]+|\\[({IPV6})\\])(:[0-9]{{1,5}})?([/?#][^{blank}]*)?$"
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
/// A product category: 1 to 40 of a-z, 0-9 and _.
pub fn category() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(40))
        .pattern(Some("^[a-z0-9_]+$"))
        .build()
}

/// A product category, or null (none).
pub fn optional_category() -> Object {
    let mut o = category();
    o.schema_type = utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]);
    o
}

/// A positive amount, or null (none).
pub fn optional_positive_amount() -> Object {
    let mut o = positive_amount();
    o.schema_type = utoipa::openapi::schema::SchemaType::from_iter([Type::Integer, Type::Null]);
    o
}

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

/// A party-shaped id (a carrier's) named in a request, or null.
pub fn optional_party_id() -> Object {
    let mut o = party_id();
    o.schema_type = utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]);
    o.examples = vec!["gulf_express".into()];
    o
}

/// A time in Unix seconds, from 1970 to the year 9999.
pub fn timestamp() -> Object {
    integer(0, 253_402_300_799)
        .examples([1_796_000_000])
        .build()
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

/// A message's body: 1 to 5,000 characters, not only white space, no control characters but
/// newline and tab (the domain's `check_body`).
pub fn message_body() -> Object {
    use holdback_domain::message::{MAX_BODY_CHARS, body_char_allowed};
    let refused = params::class(|c| !body_char_allowed(c));
    let refused_or_blank = params::class(|c| !body_char_allowed(c) || c.is_whitespace());
    string()
        .min_length(Some(1))
        .max_length(Some(MAX_BODY_CHARS))
        .pattern(Some(format!(
            "^[^{refused}]*[^{refused_or_blank}][^{refused}]*$"
        )))
        .examples(["The parcel has not arrived yet.\nCould you check the tracking?"])
        .build()
}

/// The evidence files a message names: at most 10 distinct file ids.
pub fn message_files() -> utoipa::openapi::schema::Array {
    use holdback_domain::message::{FILE_ID_PREFIX, MAX_FILE_ID_TAIL, MAX_FILES};
    let id = string().pattern(Some(format!(
        "^{FILE_ID_PREFIX}[A-Za-z0-9]{{1,{MAX_FILE_ID_TAIL}}}$"
    )));
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(id)
        .max_items(Some(MAX_FILES))
        .unique_items(true)
        .examples([serde_json::json!(["file_0190a0f3c2b37c4e9d5e1f2a3b4c5d6e"])])
        .build()
}
