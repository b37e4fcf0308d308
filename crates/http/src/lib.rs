//! The holdback HTTP JSON API (axum). Handlers parse, call one use case, and convert; rules,
//! SQL and the clock live elsewhere.
//!
//! Conventions: `/v1`, `Authorization: Bearer sk_test_…`, one error body
//! `{"error":{"type","code","message","param","request_id"}}` with codes declared once
//! ([`holdback_domain::ErrorCode`]), a `Request-Id` header on every response, `Idempotency-Key`
//! on POST (the same request, compared by its canonical JSON, is replayed with
//! `Idempotent-Replayed: true`; a different request with the same key is refused; the same key
//! still running, on any node, answers 409), cursor pagination with `limit` and
//! `starting_after`.
//!
//! The pieces every handler shares: [`caller::Caller`] (the authenticated key, an extractor),
//! [`idempotency::Idempotency`] (every POST's key, body and replay), [`reply::Reply`] and
//! [`errors::ApiError`] (what a handler returns), and the request-id layer in [`reply`]. Each
//! resource is one module under `routes/` with its DTOs, handlers and `router()`.

mod caller;
pub mod errors;
mod idempotency;
mod metrics;
mod params;
mod reply;
mod routes;
mod schema;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use holdback_app::App;
use holdback_domain::ErrorCode;
use serde_json::json;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::errors::ApiError;
use crate::reply::Reply;

struct Shared {
    app: App,
    metrics: metrics::Counters,
}

type Ctx = State<Arc<Shared>>;

/// The digest a POST is known by under its Idempotency-Key (method, path, canonical JSON body):
/// for tests that leave a claim behind as a crashed node would.
#[doc(hidden)]
pub use idempotency::fingerprint as request_fingerprint;

/// The documented part of the API: every route here is in the OpenAPI document.
fn api() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::with_openapi(schema::ApiDoc::openapi())
        .merge(routes::checkouts::router())
        .merge(routes::orders::router())
        .merge(routes::messages::router())
        .merge(routes::disputes::router())
        .merge(routes::evidence::router())
        .merge(routes::payments::router())
        .merge(routes::bank::router())
        .merge(routes::events::router())
        .merge(routes::webhooks::router())
        .merge(routes::catalog::router())
        .merge(routes::parties::router())
        .merge(routes::balance::router())
        .merge(routes::gift_cards::router())
        .merge(routes::cod::router())
        .merge(routes::coupons::router())
}

/// The OpenAPI 3.1 document, generated from the routes and their types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api().split_for_parts().1;
    schema::finish(&mut doc);
    doc
}

/// The router for the whole API.
pub fn router(app: App) -> Router {
    let shared = Arc::new(Shared {
        app,
        metrics: metrics::Counters::default(),
    });
    let (routes, mut doc) = api().split_for_parts();
    schema::finish(&mut doc);
    let doc = doc.to_pretty_json().unwrap_or_default();
    routes
        .merge(routes::sandbox::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/openapi.json",
            get(move || async move { ([("content-type", "application/json")], doc.clone()) }),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            reply::request_id,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            metrics::count,
        ))
        .with_state(shared)
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

async fn healthz() -> Reply {
    Reply::ok(json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::code(ErrorCode::RouteNotFound, "no such endpoint")
}
