//! `/metrics`: the node's counters in the Prometheus text format, and the layer that counts
//! responses.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Ctx;

/// Responses by status class: 1xx … 5xx.
#[derive(Default)]
pub(crate) struct Counters {
    responses: [AtomicU64; 5],
    /// Bank notifications refused for their signature (missing, stale or not matching).
    pub(crate) bad_signatures: AtomicU64,
}

/// Counts every response by its status class.
pub(crate) async fn count(State(s): Ctx, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let class = usize::from(response.status().as_u16() / 100).clamp(1, 5) - 1;
    s.metrics.responses[class].fetch_add(1, Ordering::Relaxed);
    response
}

/// Prometheus text exposition of the node's counters.
pub(crate) async fn metrics(State(s): Ctx) -> Response {
    let mut out = String::from(
        "# HELP holdback_http_responses_total HTTP responses sent, by status class.\n\
         # TYPE holdback_http_responses_total counter\n",
    );
    for (i, n) in s.metrics.responses.iter().enumerate() {
        out.push_str(&format!(
            "holdback_http_responses_total{{class=\"{}xx\"}} {}\n",
            i + 1,
            n.load(Ordering::Relaxed)
        ));
    }
    out.push_str(&format!(
        "# HELP holdback_connector_signature_failures_total Connector notifications (bank, wallets) refused \
         for a missing, stale or wrong signature.\n\
         # TYPE holdback_connector_signature_failures_total counter\n\
         holdback_connector_signature_failures_total {}\n",
        s.metrics.bad_signatures.load(Ordering::Relaxed)
    ));
    out.push_str(
        "# HELP holdback_gift_card_failures_total Gift card codes refused, by reason (wrong codes, \
         lockouts, rate limits, cards not in a state to take the request).\n\
         # TYPE holdback_gift_card_failures_total counter\n",
    );
    for (reason, n) in s.app.guards.failures() {
        out.push_str(&format!(
            "holdback_gift_card_failures_total{{reason=\"{}\"}} {n}\n",
            reason.code()
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
