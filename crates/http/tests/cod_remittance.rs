//! A carrier's remittance against parcels in every state, through the real server on SQLite
//! and PostgreSQL: a matched line posts once, a short-paid one posts nothing and stays owed, a
//! return's charge is booked as an expense out of the cash, a repeated line and an unknown
//! parcel post nothing, a collection the file lacks is pending or missing by the carrier's
//! cycle, and a later batch paying an already remitted parcel is a duplicate across batches.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::{Role, keys};
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, Server, T0};

async fn setup(s: &Server) {
    for (path, body) in [
        (
            "/v1/buyers",
            json!({"id": "buy_sara", "country": "SA", "region": "Riyadh", "phone_verified": true}),
        ),
        (
            "/v1/sellers",
            json!({"id": "sel_jeddah", "country": "SA", "cash_on_delivery": true}),
        ),
    ] {
        let a = s.post(path, &s.platform, body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}: {}", s.backend, a.body);
    }
}

/// Places, confirms and ships an order of `amount`; its id.
async fn shipped(s: &Server, amount: i64, tracking: &str) -> String {
    let b = s.backend;
    let a = s
        .post(
            "/v1/checkouts",
            &s.platform,
            json!({
                "buyer": "buy_sara", "currency": "sar", "cash_on_delivery": {},
                "items": [{"seller": "sel_jeddah", "description": "oud", "unit_amount": amount, "quantity": 1}],
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
    let order = a.body["orders"][0]["id"].as_str().unwrap().to_string();
    let payment = a.body["id"].as_str().unwrap();
    let path = format!("/v1/payments/{payment}/confirm_cash_on_delivery");
    assert_eq!(
        s.post(&path, &s.platform, json!({})).await.status,
        StatusCode::OK
    );
    let ship = json!({"carrier": "gulf_express", "tracking_number": tracking});
    let a = s
        .post(&format!("/v1/orders/{order}/ship"), &s.platform, ship)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
    order
}

async fn event(s: &Server, key: &str, tracking: &str, body: Value) {
    let a = s
        .post(&format!("/v1/parcels/{tracking}/events"), key, body)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}: {}", s.backend, a.body);
}

/// One statement line: AWB, order, COD amount, freight, COD charges, RTO charges, VAT, net
/// (minor units), status, date.
type Line<'a> = (
    &'a str,
    &'a str,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    &'a str,
    &'a str,
);

fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

/// A Gulf Express statement of batch `batch` with these lines and its total row.
fn statement(batch: &str, lines: &[Line<'_>]) -> Vec<u8> {
    let mut out = String::from(
        "COD remittance statement,,,,,,,,,,,,\r\nGulf Express,,,,,,,,,,,,\r\n\
         AWB No,Order No,Consignee,COD Amount,Freight,COD Charges,RTO Charges,VAT,Net Amount,Status,Delivery Date,Remittance No,Bank Ref\r\n",
    );
    let mut sums = [0i64; 6];
    for (awb, order, cod, freight, fee, rto, vat, net, status, date) in lines {
        out.push_str(&format!(
            "{awb},{order},Sara,{},{},{},{},{},{},{status},{date},{batch},600612345678\r\n",
            money(*cod),
            money(*freight),
            money(*fee),
            money(*rto),
            money(*vat),
            money(*net)
        ));
        for (sum, v) in sums.iter_mut().zip([cod, freight, fee, rto, vat, net]) {
            *sum += *v;
        }
    }
    out.push_str(&format!(
        "Total,,,{},{},{},{},{},{},,,,\r\n",
        money(sums[0]),
        money(sums[1]),
        money(sums[2]),
        money(sums[3]),
        money(sums[4]),
        money(sums[5])
    ));
    out.into_bytes()
}

async fn import(s: &Server, key: &str, file: &[u8]) -> Answer {
    use base64::Engine as _;
    let body = json!({
        "carrier_profile": "gulf_express",
        "file_base64": base64::engine::general_purpose::STANDARD.encode(file),
    });
    s.post("/v1/cod/remittances", key, body).await
}

fn class(report: &Value, name: &str) -> i64 {
    report["classes"][name]["lines"].as_i64().unwrap_or(0)
}

#[tokio::test]
async fn every_line_class_and_what_it_posts() {
    for db in TestDb::all("cod_remittance_classes").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        setup(&s).await;
        let gulf = keys::create(&s.app, &Role::Carrier("gulf_express".into()), false)
            .await
            .unwrap();
        let when = T0 / 1000 + 3600;
        let a = shipped(&s, 12_000, "GXA").await;
        let bb = shipped(&s, 30_000, "GXB").await;
        let c = shipped(&s, 20_000, "GXC").await;
        let d = shipped(&s, 15_000, "GXD").await;
        for (t, cash) in [("GXA", 14_625), ("GXB", 32_625), ("GXD", 17_625)] {
            event(&s, &gulf, t, json!({"id": format!("d-{t}"), "event": "delivered", "occurred": when, "cash_collected": cash})).await;
        }
        event(
            &s,
            &gulf,
            "GXC",
            json!({"id": "r-GXC", "event": "refused", "occurred": when}),
        )
        .await;
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            14_625 + 32_625 + 17_625,
            "{b}"
        );
        // A matched; B short paid (a freight above the rate card); C's return charged; A again;
        // an unknown parcel; D not in the file
        let file = statement(
            "GE-0001",
            &[
                (
                    "GXA",
                    &a,
                    14_625,
                    1_500,
                    500,
                    0,
                    300,
                    12_325,
                    "Delivered",
                    "22/11/2026",
                ),
                (
                    "GXB",
                    &bb,
                    32_625,
                    2_462,
                    816,
                    0,
                    347,
                    29_000,
                    "Delivered",
                    "22/11/2026",
                ),
                ("GXC", &c, 0, 0, 0, 2_500, 0, -2_500, "RTO", "22/11/2026"),
                (
                    "GXA",
                    &a,
                    14_625,
                    1_500,
                    500,
                    0,
                    300,
                    12_325,
                    "Delivered",
                    "22/11/2026",
                ),
                (
                    "GX404",
                    "ord_nowhere",
                    10_000,
                    1_500,
                    500,
                    0,
                    300,
                    7_700,
                    "Delivered",
                    "22/11/2026",
                ),
            ],
        );
        let r = import(&s, &gulf, &file).await;
        assert_eq!(r.status, StatusCode::OK, "{b}: {}", r.body);
        let r = r.body;
        assert_eq!(
            [
                class(&r, "matched"),
                class(&r, "short_paid"),
                class(&r, "duplicate"),
                class(&r, "unknown_parcel"),
                class(&r, "summary_row")
            ],
            [2, 1, 1, 1, 1],
            "{b}: {}",
            r["classes"]
        );
        assert_eq!(r["posted_now"], 2, "{b}: A and C's charge");
        assert_eq!(r["classes"]["short_paid"]["delta"], -962);
        assert_eq!(r["identity"]["ok"], true, "{b}: {}", r["identity"]);
        // (B is in the file, short paid: not counted as missing or pending)
        assert_eq!(r["collections"]["parcels"][0]["tracking"], "GXD");
        assert_eq!(
            r["collections"]["classes"]["pending_next_cycle"]["parcels"], 1,
            "{b}: {}",
            r["collections"]
        );
        // the books: A's cash in and its receivable cleared; C's charge out of the cash; B and D
        // still owed; the unknown parcel and the repeat posted nothing
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            32_625 + 17_625,
            "{b}"
        );
        assert_eq!(s.balance_of("test:cod_cash:SAR").await, 12_325 - 2_500);
        assert_eq!(s.balance_of("test:cod_expense:rto_charge:SAR").await, 2_500);
        assert_eq!(s.balance_of("test:cod_expense:freight:SAR").await, 1_500);
        let id = r["id"].as_str().unwrap();
        let lines = s
            .get(&format!("/v1/cod/remittances/{id}/lines?limit=10"), &gulf)
            .await
            .body;
        let b_line = &lines["data"][1];
        assert_eq!(b_line["class"], "short_paid", "{b}: {lines}");
        assert!(
            b_line["warnings"]
                .as_array()
                .unwrap()
                .contains(&json!("deduction_above_rate_card"))
        );
        assert_eq!(lines["data"][3]["warnings"], json!(["duplicate_in_file"]));
        // the next batch pays B in full and A again: A is a duplicate across batches; D, whose
        // cycle has passed by the batch's date, is missing from the file
        let file = statement(
            "GE-0002",
            &[
                (
                    "GXB",
                    &bb,
                    32_625,
                    1_500,
                    816,
                    0,
                    347,
                    29_962,
                    "Delivered",
                    "30/11/2026",
                ),
                (
                    "GXA",
                    &a,
                    14_625,
                    1_500,
                    500,
                    0,
                    300,
                    12_325,
                    "Delivered",
                    "30/11/2026",
                ),
            ],
        );
        let r = import(&s, &gulf, &file).await.body;
        assert_eq!(
            [class(&r, "matched"), class(&r, "duplicate")],
            [1, 1],
            "{b}: {}",
            r["classes"]
        );
        assert_eq!(
            r["collections"]["classes"]["missing_from_file"]["parcels"], 1,
            "{b}: {}",
            r["collections"]
        );
        assert_eq!(r["collections"]["parcels"][0]["tracking"], "GXD");
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            17_625,
            "{b}"
        );
        let _ = d;
        s.audit_clean().await;
    }
}
