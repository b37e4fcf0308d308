//! Error answers. The catalog of codes, with each code's HTTP status and type, is the domain's
//! one declaration ([`ErrorCode`]): an answer names a declared code or does not compile.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use holdback_app::AppError;
use holdback_domain::ErrorCode;
use serde_json::json;

/// An error answer: a declared code, a message, and the parameter at fault.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub param: Option<String>,
    /// What explains the refusal beyond its message (a cash-on-delivery verdict with every
    /// rule's result), under the error's `detail`.
    pub detail: Option<Box<serde_json::Value>>,
}

impl ApiError {
    pub fn code(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            param: None,
            detail: None,
        }
    }

    pub fn param(
        code: ErrorCode,
        param: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            param: Some(param.into()),
            ..ApiError::code(code, message)
        }
    }

    pub fn with_param(mut self, param: &str) -> ApiError {
        self.param = Some(param.to_string());
        self
    }

    /// The HTTP status of the error's code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error's status and body, with the request's id.
    pub fn body(&self, request_id: &str) -> (StatusCode, serde_json::Value) {
        let mut body = json!({"error": {
            "type": self.code.kind().as_str(),
            "code": self.code.as_str(),
            "message": self.message,
            "param": self.param,
            "request_id": request_id,
        }});
        if let Some(detail) = &self.detail {
            body["error"]["detail"] = (**detail).clone();
        }
        (self.status(), body)
    }

    /// The error body and status, with the request's id (body and `Request-Id` header).
    pub fn response(&self, request_id: &str) -> Response {
        let (status, body) = self.body(request_id);
        let mut response = (status, axum::Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(request_id) {
            response.headers_mut().insert("request-id", v);
        }
        response
    }
}

/// A handler's error answer: the status now, the body once the request-id layer
/// ([`crate::reply::request_id`]) renders it with the request's id.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match e {
            AppError::Rejected {
                code,
                message,
                param,
            } => ApiError {
                code,
                message,
                param: param.map(str::to_string),
                detail: None,
            },
            AppError::Explained {
                code,
                message,
                param,
                detail,
            } => ApiError {
                code,
                message,
                param: Some(param.to_string()),
                detail: Some(detail),
            },
            AppError::NotFound => ApiError::code(ErrorCode::ResourceMissing, "no such object"),
            AppError::Unauthenticated => ApiError::code(
                ErrorCode::InvalidApiKey,
                "give a valid API key as Authorization: Bearer sk_test_…",
            ),
            AppError::Conflict(what) => ApiError::code(ErrorCode::Conflict, what.message()),
            AppError::Internal(detail) => {
                // The detail is for the operator's log, never for the caller.
                eprintln!("holdback: internal error: {detail}");
                ApiError::code(
                    ErrorCode::InternalError,
                    "something went wrong on our side; retry later",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ApiError;
    use holdback_domain::ErrorCode;

    #[test]
    fn the_body_is_the_declared_code_status_and_type() {
        for code in ErrorCode::ALL {
            let (status, body) = ApiError::param(*code, "p", "m").body("req_1");
            assert_eq!(status.as_u16(), code.status(), "{code}");
            assert_eq!(body["error"]["code"], code.as_str());
            assert_eq!(body["error"]["type"], code.kind().as_str());
            assert_eq!(body["error"]["param"], "p");
            assert_eq!(body["error"]["request_id"], "req_1");
        }
    }
}
