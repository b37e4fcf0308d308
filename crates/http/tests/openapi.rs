//! The OpenAPI document is generated from the routes; this snapshot shows every API change as a
//! diff. After a deliberate change: `HOLDBACK_UPDATE_SNAPSHOTS=1 cargo test -p holdback-http
//! --test openapi`, then review and commit docs/openapi.json.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use serde_json::Value;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

#[test]
fn openapi_document_matches_the_snapshot() {
    let doc = holdback_http::openapi().to_pretty_json().unwrap() + "\n";
    if std::env::var_os("HOLDBACK_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &doc).unwrap();
    }
    let stored = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        doc == stored,
        "the API changed; review it, then rerun with HOLDBACK_UPDATE_SNAPSHOTS=1:\n{doc}"
    );
    let v: Value = serde_json::from_str(&doc).unwrap();
    assert!(
        v["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        v["openapi"]
    );
    for path in [
        "/v1/checkouts",
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/orders/{id}/ship",
        "/v1/orders/{id}/confirm_receipt",
        "/v1/orders/{id}/refund",
        "/v1/events",
        "/v1/webhook_endpoints",
        "/v1/buyers",
        "/v1/buyers/{id}",
        "/v1/sellers",
        "/v1/sellers/{id}",
    ] {
        assert!(v["paths"][path].is_object(), "{path} is not documented");
    }
    assert_eq!(
        v["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
}
