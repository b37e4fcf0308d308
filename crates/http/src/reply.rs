//! What a handler answers ([`Reply`]), and the layer that gives every request its id.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Ctx;
use crate::errors::ApiError;
use holdback_domain::ErrorCode;

/// A JSON answer; `replayed` marks the stored first response to an idempotency key.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub replayed: bool,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply::new(StatusCode::OK, body)
    }

    pub fn new(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body,
            replayed: false,
        }
    }

    /// A page of a list: `{"object":"list","url",…,"has_more","data"}`.
    pub fn list(url: &str, data: Vec<Value>, has_more: bool) -> Reply {
        Reply::ok(json!({"object": "list", "url": url, "has_more": has_more, "data": data}))
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

/// The id of this request (`req_…`), set by [`request_id`] as a request extension for whatever
/// runs inside it.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Stamps the response: an [`ApiError`] answer gets its body with this id, every answer the
    /// `Request-Id` header.
    fn stamp(&self, mut response: Response) -> Response {
        if let Some(error) = response.extensions().get::<ApiError>() {
            response = error.response(&self.0);
        } else if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            // the body limit's own answer is plain text: answer with the documented body
            response = ApiError::code(ErrorCode::RequestTooLarge, "the request body is too large")
                .response(&self.0);
        }
        if response.status() == axum::http::StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"holdback\""),
            );
        }
        if let Ok(v) = HeaderValue::from_str(&self.0) {
            response.headers_mut().insert("request-id", v);
        }
        response
    }
}

/// Gives the request its id (the same generator and format as every other id), as a request
/// extension; stamps the response with it.
pub(crate) async fn request_id(State(s): Ctx, mut request: Request, next: Next) -> Response {
    let id = RequestId(s.app.ids.next("req"));
    if let Some(error) = header_limits(request.headers()) {
        return id.stamp(error.into_response());
    }
    request.extensions_mut().insert(id.clone());
    id.stamp(next.run(request).await)
}

/// At most this many header fields in a request…
pub(crate) const MAX_HEADER_FIELDS: usize = 64;
/// …and at most this many bytes of them (names, values and line ends).
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// A request whose header section is over the limits is refused by name (431) before anything
/// reads it. (The connection layer below has wider limits of its own, 100 fields and about
/// 400 KiB, past which it answers 431 without a body.)
fn header_limits(headers: &axum::http::HeaderMap) -> Option<ApiError> {
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (headers.len() > MAX_HEADER_FIELDS || bytes > MAX_HEADER_BYTES).then(|| {
        ApiError::code(
            ErrorCode::RequestHeaderTooLarge,
            format!(
                "the request's headers are over the limit ({MAX_HEADER_FIELDS} fields, \
                 {MAX_HEADER_BYTES} bytes)"
            ),
        )
    })
}
