//! The error catalog: every code the API can answer, its HTTP status and its type. One table, a
//! test that codes are unique and that every rejection the domain can name is in it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use holdback_app::AppError;
use serde_json::json;

/// (code, HTTP status, error type)
pub const CATALOG: &[(&str, u16, &str)] = &[
    // the request itself
    ("invalid_json", 400, "invalid_request_error"),
    ("request_too_large", 413, "invalid_request_error"),
    ("unsupported_media_type", 415, "invalid_request_error"),
    ("request_header_too_large", 431, "invalid_request_error"),
    ("unknown_parameter", 400, "invalid_request_error"),
    ("parameter_missing", 400, "invalid_request_error"),
    ("parameter_invalid", 400, "invalid_request_error"),
    ("invalid_id", 400, "invalid_request_error"),
    ("route_not_found", 404, "invalid_request_error"),
    ("resource_missing", 404, "invalid_request_error"),
    // money
    ("unknown_currency", 400, "invalid_request_error"),
    ("malformed_amount", 400, "invalid_request_error"),
    ("excess_precision", 400, "invalid_request_error"),
    ("currency_mismatch", 400, "invalid_request_error"),
    ("amount_overflow", 400, "invalid_request_error"),
    ("negative_result", 400, "invalid_request_error"),
    // checkout
    ("empty_cart", 400, "invalid_request_error"),
    ("too_many_items", 400, "invalid_request_error"),
    ("invalid_item", 400, "invalid_request_error"),
    ("unknown_product", 400, "invalid_request_error"),
    ("unknown_shipping_method", 400, "invalid_request_error"),
    ("too_many_sellers", 400, "invalid_request_error"),
    ("amount_too_large", 400, "invalid_request_error"),
    ("livemode_unavailable", 400, "invalid_request_error"),
    // payments and refunds
    ("payment_processing", 409, "api_error"),
    ("payment_failed", 402, "card_error"),
    ("charge_not_found", 402, "card_error"),
    ("payment_not_processing", 409, "invalid_request_error"),
    ("payment_not_captured", 409, "invalid_request_error"),
    ("no_such_tender", 400, "invalid_request_error"),
    ("plans_do_not_add_up", 400, "invalid_request_error"),
    ("not_this_payments_order", 400, "invalid_request_error"),
    ("refund_exceeds_paid", 400, "invalid_request_error"),
    ("refund_not_pending", 409, "invalid_request_error"),
    ("refund_not_failed", 409, "invalid_request_error"),
    // parties
    ("invalid_party_id", 400, "invalid_request_error"),
    ("invalid_country", 400, "invalid_request_error"),
    ("invalid_region", 400, "invalid_request_error"),
    ("invalid_metadata", 400, "invalid_request_error"),
    ("ship_by_days_out_of_range", 400, "invalid_request_error"),
    ("invalid_commission", 400, "invalid_request_error"),
    ("party_exists", 409, "invalid_request_error"),
    ("unknown_party", 400, "invalid_request_error"),
    // webhook endpoints
    ("endpoint_address_not_allowed", 400, "invalid_request_error"),
    ("webhook_endpoint_deleted", 409, "invalid_request_error"),
    // cards
    ("invalid_card_number", 400, "card_error"),
    ("invalid_expiry", 400, "card_error"),
    ("invalid_cvc", 400, "card_error"),
    ("expired_card", 402, "card_error"),
    ("card_declined", 402, "card_error"),
    ("insufficient_funds", 402, "card_error"),
    ("incorrect_cvc", 402, "card_error"),
    ("processing_error", 402, "card_error"),
    ("live_card_in_test_mode", 402, "card_error"),
    // who may do what
    ("invalid_api_key", 401, "authentication_error"),
    ("not_permitted", 403, "permission_error"),
    // order rules: the order is not in a state that allows this
    ("order_not_shipped", 409, "invalid_request_error"),
    ("order_already_shipped", 409, "invalid_request_error"),
    ("order_not_delivered", 409, "invalid_request_error"),
    ("order_already_delivered", 409, "invalid_request_error"),
    ("hold_already_released", 409, "invalid_request_error"),
    ("order_cancelled", 409, "invalid_request_error"),
    ("refund_exceeds_held", 400, "invalid_request_error"),
    ("no_cancel_request", 409, "invalid_request_error"),
    ("ship_by_passed", 409, "invalid_request_error"),
    ("cancel_answer_late", 409, "invalid_request_error"),
    ("cancel_already_requested", 409, "invalid_request_error"),
    ("protection_ended", 409, "invalid_request_error"),
    ("extension_too_early", 409, "invalid_request_error"),
    ("extension_already_used", 409, "invalid_request_error"),
    ("extension_out_of_range", 400, "invalid_request_error"),
    ("no_extension_request", 409, "invalid_request_error"),
    ("timer_not_due", 409, "invalid_request_error"),
    // ledger rules that reach the API
    ("unknown_account_kind", 400, "invalid_request_error"),
    ("empty_transaction", 400, "invalid_request_error"),
    ("too_many_transfers", 400, "invalid_request_error"),
    ("zero_amount", 400, "invalid_request_error"),
    ("same_account", 400, "invalid_request_error"),
    ("unbalanced", 400, "invalid_request_error"),
    ("unknown_account", 400, "invalid_request_error"),
    ("cross_currency", 400, "invalid_request_error"),
    ("balance_overflow", 400, "invalid_request_error"),
    ("transaction_id_conflict", 409, "invalid_request_error"),
    ("account_conflict", 409, "invalid_request_error"),
    ("hold_exists", 409, "invalid_request_error"),
    ("unknown_hold", 400, "invalid_request_error"),
    ("hold_already_resolved", 409, "invalid_request_error"),
    ("post_exceeds_hold", 400, "invalid_request_error"),
    // idempotency and concurrency
    ("idempotency_key_in_use", 409, "idempotency_error"),
    ("idempotency_key_reused", 422, "idempotency_error"),
    ("conflict", 409, "api_error"),
    // the store: a value the request carried cannot be stored (a NUL byte in text, …)
    ("row_refused", 422, "invalid_request_error"),
    ("internal_error", 500, "api_error"),
];

/// An error answer: a catalog code, a message, and the parameter at fault.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
}

fn known(code: &str) -> &'static str {
    CATALOG
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or("internal_error", |(c, _, _)| c)
}

impl ApiError {
    pub fn code(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code: known(code),
            message: message.into(),
            param: None,
        }
    }

    pub fn param(
        code: &'static str,
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

    /// The error's status and body, with the request's id.
    pub fn body(&self, request_id: &str) -> (StatusCode, serde_json::Value) {
        let (status, kind) = CATALOG
            .iter()
            .find(|(c, _, _)| *c == self.code)
            .map_or((500, "api_error"), |(_, s, t)| (*s, *t));
        let body = json!({"error": {
            "type": kind,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "request_id": request_id,
        }});
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, body)
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
        let status = CATALOG
            .iter()
            .find(|(c, _, _)| *c == self.code)
            .and_then(|(_, s, _)| StatusCode::from_u16(*s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
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
                code: known(code),
                message,
                param: param.map(str::to_string),
            },
            AppError::NotFound => ApiError::code("resource_missing", "no such object"),
            AppError::Unauthenticated => ApiError::code(
                "invalid_api_key",
                "give a valid API key as Authorization: Bearer sk_test_…",
            ),
            AppError::Conflict(what) => ApiError::code("conflict", what),
            AppError::Internal(detail) => {
                // The detail is for the operator's log, never for the caller.
                eprintln!("holdback: internal error: {detail}");
                ApiError::code(
                    "internal_error",
                    "something went wrong on our side; retry later",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CATALOG;
    use holdback_domain::ledger::LedgerError;
    use holdback_domain::order::OrderError;

    #[test]
    fn codes_are_unique_and_cover_every_rejection() {
        let mut codes: Vec<&str> = CATALOG.iter().map(|(c, _, _)| *c).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "a code appears twice in the catalog");
        let card = [
            "invalid_card_number",
            "invalid_expiry",
            "invalid_cvc",
            "expired_card",
            "card_declined",
            "insufficient_funds",
            "incorrect_cvc",
            "processing_error",
            "live_card_in_test_mode",
        ];
        let webhooks = [
            holdback_app::endpoint_address::NOT_ALLOWED,
            "webhook_endpoint_deleted",
        ];
        for code in LedgerError::ALL_CODES
            .iter()
            .chain(OrderError::ALL_CODES)
            .chain(&webhooks)
            .chain(holdback_domain::party::PartyError::ALL_CODES)
            .chain(&card)
        {
            assert!(codes.contains(code), "{code} is not in the catalog");
        }
        for (code, status, _) in CATALOG {
            assert!((400..600).contains(status), "{code}");
        }
    }
}
