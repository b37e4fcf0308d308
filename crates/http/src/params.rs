//! Parsing what a request carries: a JSON body (unknown fields refused, our own error text) and
//! the query of a list.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use holdback_app::AppError;
use holdback_domain::ErrorCode;
use holdback_domain::{Currency, Money};
use holdback_store::Cursor;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::errors::ApiError;

/// Parses a JSON body into `T`, refusing unknown fields, with our own error text. JSON has one
/// kind of number, so a whole number written with a fraction or an exponent (`2.0`, `2e3`) is
/// that integer, as JSON Schema's `integer` has it; other numbers stay what they are.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    // A body is one JSON object (serde would also read an empty array as a struct without
    // fields).
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::code(
            ErrorCode::InvalidJson,
            "the body must be a JSON object",
        ));
    }
    let e = match serde_json::from_slice(body) {
        Ok(parsed) => return Ok(parsed),
        Err(e) => e,
    };
    if e.classify() == serde_json::error::Category::Data
        && let Ok(mut value) = serde_json::from_slice::<Value>(body)
        && whole_numbers_as_integers(&mut value)
        && let Ok(parsed) = serde_json::from_value(value)
    {
        return Ok(parsed);
    }
    Err(refusal(&e))
}

/// The largest integer a JSON number with a fraction or exponent is taken as exactly: 2^53, the
/// last one an `f64` holds without rounding. Every integer the API takes is far below it.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Rewrites every whole number written as a float (`2.0`) as an integer; true if any was.
fn whole_numbers_as_integers(value: &mut Value) -> bool {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)] // whole and within 2^53: exact
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => {
                *value = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |any, v| whole_numbers_as_integers(v) | any),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |any, v| whole_numbers_as_integers(v) | any),
        _ => false,
    }
}

/// Our error for a body that did not parse.
fn refusal(e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    let field = text
        .split('`')
        .nth(1)
        .filter(|_| text.starts_with("unknown field") || text.starts_with("missing field"))
        .map(str::to_string);
    match (e.classify(), field) {
        (serde_json::error::Category::Data, Some(f)) if text.starts_with("unknown field") => {
            ApiError::param(
                ErrorCode::UnknownParameter,
                f.clone(),
                format!("unknown parameter {f}"),
            )
        }
        (serde_json::error::Category::Data, Some(f)) => ApiError::param(
            ErrorCode::ParameterMissing,
            f.clone(),
            format!("missing parameter {f}"),
        ),
        (serde_json::error::Category::Data, None) => ApiError::code(
            ErrorCode::ParameterInvalid,
            format!(
                "a parameter has the wrong type (line {}, column {})",
                e.line(),
                e.column()
            ),
        ),
        _ => ApiError::code(
            ErrorCode::InvalidJson,
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        ),
    }
}

/// A currency code, refused as the parameter `param`: one of [`currency_codes`], written as
/// the API writes it (lower case, nothing around it).
pub(crate) fn currency(code: &str, param: &str) -> Result<Currency, ApiError> {
    let refused = |e| ApiError::from(AppError::from(e)).with_param(param);
    let currency = Currency::parse(code).map_err(refused)?;
    if currency.code().to_ascii_lowercase() != code {
        return Err(refused(holdback_domain::MoneyError::UnknownCurrency(
            code.to_string(),
        )));
    }
    Ok(currency)
}

/// Every currency code the API takes, lower case, in alphabetical order: the ISO 4217 codes
/// with a minor unit, as the domain's [`Currency::parse`] knows them (its table is searched
/// rather than copied).
pub(crate) fn currency_codes() -> Vec<String> {
    static CODES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CODES
        .get_or_init(|| {
            let letters = b'A'..=b'Z';
            let mut codes = Vec::new();
            for a in letters.clone() {
                for b in letters.clone() {
                    for c in letters.clone() {
                        let code = String::from_utf8_lossy(&[a, b, c]).to_string();
                        if Currency::parse(&code).is_ok() {
                            codes.push(code.to_ascii_lowercase());
                        }
                    }
                }
            }
            codes
        })
        .clone()
}

/// An amount in minor units, refused as the parameter `param`.
pub(crate) fn money(minor: i64, currency: Currency, param: &str) -> Result<Money, ApiError> {
    Money::from_minor(minor, currency)
        .map_err(|e| ApiError::from(AppError::from(e)).with_param(param))
}

/// The query of a cursor-paginated list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Page {
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

/// The query, or our error body when it does not parse.
impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Page, ApiError> {
        let query: Result<Query<Page>, QueryRejection> =
            Query::from_request_parts(parts, state).await;
        query.map(|Query(p)| p).map_err(|_| {
            ApiError::code(
                ErrorCode::ParameterInvalid,
                "the query takes limit (1 to 100) and starting_after or ending_before",
            )
        })
    }
}

impl Page {
    /// Where the page starts: after `starting_after` (or at the beginning), or just before
    /// `ending_before`. With both, the page starts after `starting_after` and
    /// [`Page::window`] ends it before `ending_before`.
    pub fn cursor(&self) -> Result<Cursor<'_>, ApiError> {
        match (&self.starting_after, &self.ending_before) {
            (None, Some(before)) => Ok(Cursor::Before(before)),
            (after, _) => Ok(Cursor::After(after.as_deref().unwrap_or(""))),
        }
    }

    /// A page read from [`Page::cursor`], ended before `ending_before` when `starting_after` is
    /// given too: the objects between the two. Ids ascend through a page, so the objects
    /// before `ending_before` are its first ones; if any is cut, nothing more lies between.
    pub fn window(&self, data: Vec<Value>, has_more: bool) -> (Vec<Value>, bool) {
        let (Some(_), Some(before)) = (&self.starting_after, &self.ending_before) else {
            return (data, has_more);
        };
        let n = data.len();
        let kept: Vec<Value> = data
            .into_iter()
            .take_while(|o| o["id"].as_str().is_some_and(|id| id < before.as_str()))
            .collect();
        let cut = kept.len() < n;
        (kept, has_more && !cut)
    }

    /// `starting_after`, for a list that pages forward only: `ending_before` is refused by
    /// name, naming `what` the list holds.
    pub fn forward_only(&self, what: &str) -> Result<Option<&str>, ApiError> {
        if self.ending_before.is_some() {
            return Err(ApiError::param(
                ErrorCode::ParameterInvalid,
                "ending_before",
                format!("{what} page forward only: use starting_after"),
            ));
        }
        Ok(self.starting_after.as_deref())
    }

    /// The requested page size: 10 if none was given; outside 1 to 100 refused by name.
    pub fn limit(&self) -> Result<u32, ApiError> {
        limit(self.limit)
    }
}

/// Page sizes a list accepts.
pub(crate) const LIMITS: std::ops::RangeInclusive<u32> = 1..=100;

/// A list's `limit`: 10 if absent; outside [`LIMITS`] refused as `parameter_invalid`, not
/// clamped (a client asking for 0 or 10,000 items learns that it did not get them).
pub(crate) fn limit(given: Option<u32>) -> Result<u32, ApiError> {
    match given {
        None => Ok(10),
        Some(n) if LIMITS.contains(&n) => Ok(n),
        Some(n) => Err(ApiError::param(
            ErrorCode::ParameterInvalid,
            "limit",
            format!("limit is 1 to 100, not {n}"),
        )),
    }
}

/// A text field: at most `max` characters and no control characters (a NUL, a newline, …),
/// refused by name as the parameter `param` before anything reaches the store.
pub(crate) fn text(value: &str, param: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::param(
            ErrorCode::ParameterInvalid,
            param,
            format!("{param} is at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::param(
            ErrorCode::ParameterInvalid,
            param,
            format!("{param} may not contain control characters"),
        ));
    }
    Ok(())
}

/// Longest carrier name and tracking number.
pub(crate) const MAX_TRACKING: usize = 64;
/// A mediator's written reason, in characters.
pub(crate) const MAX_DECISION_REASON: usize = 2000;
/// Longest item description.
pub(crate) const MAX_DESCRIPTION: usize = 500;
/// Most of one item in a cart.
pub(crate) const MAX_QUANTITY: u32 = 10_000;

/// A required text field: like [`text`], and not empty or only white space.
pub(crate) fn required_text(value: &str, param: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().all(char::is_whitespace) {
        return Err(ApiError::param(
            ErrorCode::ParameterInvalid,
            param,
            format!("{param} is required (not blank)"),
        ));
    }
    text(value, param, max)
}

/// Longest product name.
pub(crate) const MAX_PRODUCT_NAME: usize = 200;
/// Longest shipping method name, and seller id given as a key of `shipping_methods`.
pub(crate) const MAX_SHIPPING_METHOD: usize = 64;
/// Longest webhook endpoint URL.
pub(crate) const MAX_URL: usize = holdback_app::webhook_endpoints::MAX_URL;

/// Idempotency keys: 1 to this many characters, each visible ASCII (`!` to `~`, 0x21 to 0x7E).
pub(crate) const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Whether `key` is an Idempotency-Key the API takes: 1 to [`MAX_IDEMPOTENCY_KEY`] bytes, each
/// a visible ASCII character (no space, no tab, nothing outside ASCII).
pub(crate) fn idempotency_key_valid(key: &[u8]) -> bool {
    (1..=MAX_IDEMPOTENCY_KEY).contains(&key.len()) && key.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A party id named in a request (a buyer, a seller): the domain's rule for party ids.
pub(crate) fn party_id(id: &str, param: &str) -> Result<(), ApiError> {
    holdback_domain::party::check_id(id)
        .map_err(|e| ApiError::param(ErrorCode::InvalidPartyId, param, e.to_string()))
}

/// A product category: 1 to 40 of a-z, 0-9 and _.
pub(crate) fn category(value: &str, param: &str) -> Result<(), ApiError> {
    let ok = (1..=40).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::param(
            ErrorCode::ParameterInvalid,
            param,
            "a category is 1 to 40 of a-z, 0-9 and _",
        ))
    }
}

/// The characters for which `pred` holds, as the body of a regular-expression class
/// (`\u0000-\u001f\u007f-\u009f` for control characters): how the OpenAPI patterns state the
/// same rule as the checks above. Every such character the checks use is in the Basic
/// Multilingual Plane, so `\uXXXX` (read alike by ECMA-262 and most other dialects) spells it.
pub(crate) fn class(pred: fn(char) -> bool) -> String {
    let mut out = String::new();
    let mut run: Option<(u32, u32)> = None;
    let flush = |out: &mut String, (lo, hi): (u32, u32)| {
        out.push_str(&format!("\\u{lo:04x}"));
        if hi > lo {
            out.push_str(&format!("-\\u{hi:04x}"));
        }
    };
    for c in (0..=0xffff_u32).filter_map(char::from_u32) {
        let n = u32::from(c);
        match (pred(c), run) {
            (true, Some((lo, hi))) if hi + 1 == n => run = Some((lo, n)),
            (true, prev) => {
                if let Some(r) = prev {
                    flush(&mut out, r);
                }
                run = Some((n, n));
            }
            (false, _) => {}
        }
    }
    if let Some(r) = run {
        flush(&mut out, r);
    }
    out
}

/// The pattern of a text field ([`text`]): no control characters.
pub(crate) fn text_pattern() -> String {
    let control = class(char::is_control);
    format!("^[^{control}]*$")
}

/// The pattern of a required text field ([`required_text`]): no control characters, and at
/// least one character that is not white space.
pub(crate) fn required_text_pattern() -> String {
    let control = class(char::is_control);
    let blank = class(char::is_whitespace);
    format!("^[^{control}]*[^{control}{blank}][^{control}]*$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patterns_name_the_characters_the_checks_refuse() {
        assert_eq!(class(char::is_control), "\\u0000-\\u001f\\u007f-\\u009f");
        for c in (0..=0x10_ffff_u32).filter_map(char::from_u32) {
            if c.is_control() || c.is_whitespace() {
                assert!(u32::from(c) <= 0xffff, "{c:?} is outside the BMP");
            }
        }
        assert!(text("a b", "x", 10).is_ok());
        assert!(text("a\u{85}b", "x", 10).is_err());
        assert!(required_text(" \u{3000} ", "x", 10).is_err());
        assert!(required_text(" a ", "x", 10).is_ok());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(idempotency_key_valid(b"walk-1"));
        assert!(idempotency_key_valid(&[b'~'; MAX_IDEMPOTENCY_KEY]));
        for bad in [&b""[..], b"a b", b"a\tb", "é".as_bytes(), &[b'a'; 256]] {
            assert!(!idempotency_key_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn whole_numbers_are_integers_whatever_their_spelling() {
        #[derive(serde::Deserialize)]
        struct N<T> {
            n: T,
        }
        let n: N<u32> = parse(br#"{"n": 2.0}"#).unwrap();
        assert_eq!(n.n, 2);
        let n: N<i64> = parse(br#"{"n": 25e2}"#).unwrap();
        assert_eq!(n.n, 2500);
        assert!(parse::<N<u32>>(br#"{"n": 2.5}"#).is_err());
        assert!(parse::<N<u32>>(br#"{"n": -1.0}"#).is_err());
        // a body is an object
        assert!(parse::<N<u32>>(b"[2]").is_err());
    }

    #[test]
    fn currencies_are_lower_case_codes() {
        let codes = currency_codes();
        assert!(codes.contains(&"usd".to_string()) && codes.contains(&"jpy".to_string()));
        assert!(
            !codes.iter().any(|c| c == "xau"),
            "no minor unit, not money here"
        );
        assert!(currency("usd", "currency").is_ok());
        for bad in ["USD", "Usd", " usd", "usd ", "xau", ""] {
            assert!(currency(bad, "currency").is_err(), "{bad:?}");
        }
    }
}
