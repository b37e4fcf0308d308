//! A carrier's remittance against parcels in every state, through the real server on SQLite
//! and PostgreSQL: a matched line posts once, a short-paid one posts nothing and stays owed, a
//! return's charge is booked as an expense out of the cash, a repeated line and an unknown
//! parcel post nothing, a collection the file lacks is pending or missing by the carrier's
//! cycle, a later batch paying an already remitted parcel is a duplicate across batches (its
//! collection already settled), and a reversal of an earlier payment posts it undone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::{Role, keys, scheduler};
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, Server, T0};

/// A server with an SA buyer and an opted-in seller, and the carrier's key.
async fn setup(db: &TestDb) -> (Server, String) {
    let s = Server::start(db).await;
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
    let gulf = keys::create(&s.app, &Role::Carrier("gulf_express".into()), false)
        .await
        .unwrap();
    (s, gulf)
}

/// The carrier reports `tracking` delivered an hour after T0, with `cash` collected.
async fn delivered(s: &Server, gulf: &str, tracking: &str, cash: i64) {
    let when = T0 / 1000 + 3600;
    let body = json!({"id": format!("d-{tracking}"), "event": "delivered", "occurred": when, "cash_collected": cash});
    event(s, gulf, tracking, body).await;
}

/// Places and confirms an order of `amount`; its id.
async fn confirmed(s: &Server, amount: i64) -> String {
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
    order
}

async fn ship(s: &Server, order: &str, tracking: &str) -> Answer {
    let ship = json!({"carrier": "gulf_express", "tracking_number": tracking});
    s.post(&format!("/v1/orders/{order}/ship"), &s.platform, ship)
        .await
}

/// Places, confirms and ships an order of `amount`; its id.
async fn shipped(s: &Server, amount: i64, tracking: &str) -> String {
    let order = confirmed(s, amount).await;
    let a = ship(s, &order, tracking).await;
    assert_eq!(a.status, StatusCode::OK, "{}: {}", s.backend, a.body);
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

/// The collections a report lists, as (tracking, class).
fn collections(report: &Value) -> Vec<(&str, &str)> {
    report["collections"]["parcels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let text = |k: &str| p[k].as_str().unwrap();
            (text("tracking"), text("class"))
        })
        .collect()
}

/// The carrier's receivable and these test-mode SAR accounts (`cod_cash`, …), in that order.
async fn books(s: &Server, accounts: &[&str]) -> Vec<i64> {
    let mut out = vec![
        s.balance_of("test:carrier_receivable:gulf_express:SAR")
            .await,
    ];
    for a in accounts {
        out.push(s.balance_of(&format!("test:{a}:SAR")).await);
    }
    out
}

/// What moved from `before` to `after`, account by account.
fn moved(before: &[i64], after: &[i64]) -> Vec<i64> {
    after.iter().zip(before).map(|(x, y)| x - y).collect()
}

fn class(report: &Value, name: &str) -> i64 {
    report["classes"][name]["lines"].as_i64().unwrap_or(0)
}

#[tokio::test]
async fn every_line_class_and_what_it_posts() {
    for db in TestDb::all("cod_remittance_classes").await {
        let (s, gulf) = setup(&db).await;
        let b = s.backend;
        let a = shipped(&s, 12_000, "GXA").await;
        let bb = shipped(&s, 30_000, "GXB").await;
        let c = shipped(&s, 20_000, "GXC").await;
        let d = shipped(&s, 15_000, "GXD").await;
        for (t, cash) in [("GXA", 14_625), ("GXB", 32_625), ("GXD", 17_625)] {
            delivered(&s, &gulf, t, cash).await;
        }
        event(
            &s,
            &gulf,
            "GXC",
            json!({"id": "r-GXC", "event": "refused", "occurred": T0 / 1000 + 3600}),
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
        assert_eq!(
            collections(&r),
            [("GXA", "already_settled"), ("GXD", "missing_from_file")],
            "{b}"
        );
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            17_625,
            "{b}"
        );
        let _ = d;
        s.audit_clean().await;
        reversals(&s, &gulf, [&a, &bb, &d]).await;
        s.audit_clean().await;
    }
}

/// After batches GE-0001 (A paid) and GE-0002 (B paid): GE-0003 takes back A's payment (a
/// "Reversal" line), reverses D which no batch paid, and names B again; GE-0004 pays A again.
async fn reversals(s: &Server, gulf: &str, [a, bb, d]: [&str; 3]) {
    let b = s.backend;
    let receivable = "test:carrier_receivable:gulf_express:SAR";
    let charges = [
        "cod_cash",
        "cod_expense:freight",
        "cod_expense:cod_fee",
        "cod_expense:tax_on_fees",
    ];
    let before = books(s, &charges).await;
    let file = statement(
        "GE-0003",
        &[
            (
                "GXA",
                a,
                -14_625,
                -1_500,
                -500,
                0,
                -300,
                -12_325,
                "Reversal",
                "05/12/2026",
            ),
            (
                "GXD",
                d,
                -17_625,
                0,
                0,
                0,
                0,
                -17_625,
                "Delivered",
                "05/12/2026",
            ),
            (
                "GXB",
                bb,
                32_625,
                1_500,
                816,
                0,
                347,
                29_962,
                "Delivered",
                "05/12/2026",
            ),
        ],
    );
    let r = import(s, gulf, &file).await;
    assert_eq!(r.status, StatusCode::OK, "{b}: {}", r.body);
    let r = r.body;
    assert_eq!(
        [class(&r, "reversal"), class(&r, "duplicate")],
        [2, 1],
        "{b}: {}",
        r["classes"]
    );
    assert_eq!(r["posted_now"], 1, "{b}: only A's reversal posts");
    assert_eq!(r["identity"]["ok"], true, "{b}: {}", r["identity"]);
    assert_eq!(
        collections(&r),
        [("GXA", "reversed"), ("GXB", "already_settled")],
        "{b}: D is in the file, so neither missing nor pending"
    );
    assert_eq!(r["collections"]["classes"]["reversed"]["collected"], 14_625);
    // A's payment undone: its cash owed again, the cash taken back, the charges given back
    let after = books(s, &charges).await;
    assert_eq!(
        moved(&before, &after),
        [14_625, -12_325, -1_500, -500, -300],
        "{b}"
    );
    let id = r["id"].as_str().unwrap();
    let lines = s
        .get(&format!("/v1/cod/remittances/{id}/lines?limit=10"), gulf)
        .await
        .body;
    let line = |i: usize| lines["data"][i].clone();
    assert_eq!(
        (line(0)["expected_net"].clone(), line(0)["delta"].clone()),
        (json!(-12_325), json!(0)),
        "{b}: {lines}"
    );
    assert_eq!(line(1)["warnings"], json!(["nothing_to_reverse"]), "{b}");
    let parcel = line(0)["parcel"].as_str().unwrap().to_string();
    let view = s.get(&format!("/v1/parcels/{parcel}"), gulf).await.body;
    assert_eq!(view["remittance"], Value::Null, "{b}: {view}");
    assert_eq!(view["reversal"]["batch"], "GE-0003", "{b}: {view}");
    // the same file again posts nothing
    let again = import(s, gulf, &file).await.body;
    assert_eq!(
        (
            again["already_imported"].clone(),
            again["posted_now"].clone()
        ),
        (json!(true), json!(0)),
        "{b}"
    );
    assert_eq!(s.balance_of(receivable).await, after[0], "{b}");
    // a later batch pays A again: matched, its cash cleared once more
    let file = statement(
        "GE-0004",
        &[(
            "GXA",
            a,
            14_625,
            1_500,
            500,
            0,
            300,
            12_325,
            "Delivered",
            "12/12/2026",
        )],
    );
    let r = import(s, gulf, &file).await.body;
    assert_eq!(class(&r, "matched"), 1, "{b}: {}", r["classes"]);
    assert_eq!(s.balance_of(receivable).await, before[0], "{b}");
    let view = s.get(&format!("/v1/parcels/{parcel}"), gulf).await.body;
    assert_eq!(view["remittance"]["batch"], "GE-0004", "{b}: {view}");
    // GE-0005 takes back 290.00 of B's 299.62: not what was paid, so nothing posts until the
    // platform accepts it; then B's payment is undone with what the carrier took back
    let file = statement(
        "GE-0005",
        &[(
            "GXB",
            bb,
            -32_625,
            -1_500,
            -816,
            0,
            -347,
            -29_000,
            "Reversal",
            "19/12/2026",
        )],
    );
    let r = import(s, gulf, &file).await.body;
    assert_eq!(r["posted_now"], 0, "{b}: {}", r["classes"]);
    let id = r["id"].as_str().unwrap();
    let path = format!("/v1/cod/remittances/{id}/lines/4/accept");
    let line = s
        .get(&format!("/v1/cod/remittances/{id}/lines"), gulf)
        .await
        .body;
    assert_eq!(line["data"][0]["delta"], 962, "{b}: {line}");
    assert_eq!(
        line["data"][0]["warnings"],
        json!(["reversal_amount_mismatch"]),
        "{b}"
    );
    let charges = [
        "cod_cash",
        "cod_expense:freight",
        "cod_expense:cod_fee",
        "cod_expense:tax_on_fees",
        "cod_expense:unitemised",
    ];
    let before = books(s, &charges).await;
    let ok = s
        .post(
            &path,
            &s.platform,
            json!({"note": "agreed with the carrier"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{b}: {}", ok.body);
    let by = ok.body["accepted_by"].as_str().unwrap_or_default();
    assert!(
        !by.is_empty(),
        "{b}: the operator's key is kept: {}",
        ok.body
    );
    let after = books(s, &charges).await;
    assert_eq!(
        moved(&before, &after),
        [32_625, -29_000, -1_500, -816, -347, -962],
        "{b}"
    );
    let again = s.post(&path, &s.platform, json!({"note": "twice"})).await;
    assert_eq!(
        again.body["accepted_note"], "agreed with the carrier",
        "{b}"
    );
    assert_eq!(books(s, &charges).await, after, "{b}");
    // the carrier sees the line accepted, not the operator's note nor key
    let line = s
        .get(&format!("/v1/cod/remittances/{id}/lines"), gulf)
        .await
        .body;
    assert!(line["data"][0]["accepted"].is_i64(), "{b}: {line}");
    assert_eq!(line["data"][0]["accepted_note"], Value::Null, "{b}");
    let parcel = line["data"][0]["parcel"].as_str().unwrap();
    let view = s.get(&format!("/v1/parcels/{parcel}"), gulf).await.body;
    assert_eq!(view["reversal"]["batch"], "GE-0005", "{b}: {view}");
}

#[tokio::test]
async fn the_platform_accepts_a_short_paid_line_once_and_the_order_is_released() {
    for db in TestDb::all("cod_remittance_accept").await {
        let (s, gulf) = setup(&db).await;
        let b = s.backend;
        let a = shipped(&s, 12_000, "GXA").await;
        let c = shipped(&s, 30_000, "GXC").await;
        // a third order cannot ship under A's tracking number: refused by name, still paid
        let third = confirmed(&s, 5_000).await;
        let a3 = ship(&s, &third, "GXA").await;
        assert_eq!(
            a3.body["error"]["code"], "tracking_number_in_use",
            "{b}: {}",
            a3.body
        );
        let o = s
            .get(&format!("/v1/orders/{third}"), &s.platform)
            .await
            .body;
        assert_eq!(o["status"], "paid", "{b}: {o}");
        for (t, cash) in [("GXA", 14_625), ("GXC", 32_625)] {
            delivered(&s, &gulf, t, cash).await;
        }
        // protection ends for both: their release waits for the remittance
        s.clock.advance_ms(16 * common::DAY);
        scheduler::tick(&s.app, 100).await.unwrap();
        // A paid 3.25 short with the charges as the rate card says (unexplained); C matched
        let file = statement(
            "GE-0100",
            &[
                (
                    "GXA",
                    &a,
                    14_625,
                    1_500,
                    500,
                    0,
                    300,
                    12_000,
                    "Delivered",
                    "22/11/2026",
                ),
                (
                    "GXC",
                    &c,
                    32_625,
                    1_500,
                    816,
                    0,
                    347,
                    29_962,
                    "Delivered",
                    "22/11/2026",
                ),
            ],
        );
        let r = import(&s, &gulf, &file).await.body;
        assert_eq!(
            [class(&r, "short_paid"), class(&r, "matched")],
            [1, 1],
            "{b}: {}",
            r["classes"]
        );
        let id = r["id"].as_str().unwrap();
        let accept = |line: i64, key: &str, note: &str| {
            let path = format!("/v1/cod/remittances/{id}/lines/{line}/accept");
            let (key, body) = (key.to_string(), json!({"note": note}));
            let s = &s;
            async move { s.post(&path, &key, body).await }
        };
        let order = |o: String| {
            let s = &s;
            async move { s.get(&format!("/v1/orders/{o}"), &s.platform).await.body }
        };
        assert_eq!(
            order(a.clone()).await["status"],
            "awaiting_remittance",
            "{b}"
        );
        assert_eq!(order(c.clone()).await["status"], "completed", "{b}");
        let accounts = [
            "cod_cash",
            "cod_expense:unitemised",
            "seller_payable:sel_jeddah",
        ];
        let before = books(&s, &accounts).await;
        assert_eq!(before[0], 14_625, "{b}: A still owed");
        // the carrier cannot accept its own shortfall; a matched line is not one to accept; a
        // line that does not exist is not found: each changes nothing
        let refused = accept(4, &gulf, "ok").await;
        assert_eq!(
            refused.body["error"]["code"], "not_permitted",
            "{b}: {}",
            refused.body
        );
        let refused = accept(5, &s.platform, "").await;
        assert_eq!(
            refused.body["error"]["code"], "remittance_line_not_acceptable",
            "{b}: {}",
            refused.body
        );
        assert_eq!(
            accept(99, &s.platform, "").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(books(&s, &accounts).await, before, "{b}");
        // the platform accepts A's line (row 4: after the two preamble lines and the header)
        let ok = accept(4, &s.platform, "carrier confirmed a cash shortfall").await;
        assert_eq!(ok.status, StatusCode::OK, "{b}: {}", ok.body);
        assert_eq!(ok.body["class"], "short_paid");
        assert_eq!(
            ok.body["accepted_note"],
            "carrier confirmed a cash shortfall"
        );
        assert!(ok.body["accepted"].as_i64().is_some(), "{b}: {}", ok.body);
        let after = books(&s, &accounts).await;
        assert_eq!(
            moved(&before, &after),
            [-14_625, 12_000, 325, 11_400],
            "{b}: A released"
        );
        assert_eq!(order(a.clone()).await["status"], "completed", "{b}");
        // again: the line as it is, nothing moves
        let again = accept(4, &s.platform, "twice").await;
        assert_eq!(again.status, StatusCode::OK, "{b}: {}", again.body);
        assert_eq!(
            again.body["accepted_note"],
            "carrier confirmed a cash shortfall"
        );
        assert_eq!(books(&s, &accounts).await, after, "{b}");
        s.audit_clean().await;
    }
}
