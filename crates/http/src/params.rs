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

use crate::errors::ApiError;

/// Parses a JSON body into `T`, refusing unknown fields, with our own error text.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
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
    })
}

/// A currency code, refused as the parameter `param`.
pub(crate) fn currency(code: &str, param: &str) -> Result<Currency, ApiError> {
    Currency::parse(code).map_err(|e| ApiError::from(AppError::from(e)).with_param(param))
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
    /// The cursor: `starting_after` or `ending_before`, not both.
    pub fn cursor(&self) -> Result<Cursor<'_>, ApiError> {
        match (&self.starting_after, &self.ending_before) {
            (Some(_), Some(_)) => Err(ApiError::param(
                ErrorCode::ParameterInvalid,
                "ending_before",
                "give starting_after or ending_before, not both",
            )),
            (None, Some(before)) => Ok(Cursor::Before(before)),
            (after, None) => Ok(Cursor::After(after.as_deref().unwrap_or(""))),
        }
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
/// Longest item description.
pub(crate) const MAX_DESCRIPTION: usize = 500;
/// Most of one item in a cart.
pub(crate) const MAX_QUANTITY: u32 = 10_000;
