//! The caller: the principal of the request's API key, as an extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use holdback_app::{AppError, Principal, keys};

use crate::Shared;
use crate::errors::ApiError;

/// Who is calling: the key in `Authorization: Bearer …` (the scheme in any case), authenticated
/// through the app. A missing or bad key is refused with `invalid_api_key` (401, with
/// `WWW-Authenticate: Bearer`).
pub(crate) struct Caller(pub Principal);

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<Shared>) -> Result<Caller, ApiError> {
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            // the scheme is case-insensitive (RFC 9110 §11.1)
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key)
            .ok_or(ApiError::from(AppError::Unauthenticated))?;
        Ok(Caller(keys::authenticate(&s.app, key.trim()).await?))
    }
}
