//! Cash on delivery through the real server, on SQLite and PostgreSQL: eligibility that names
//! every rule, the phone verified by a one-time code read from the event log, an order placed,
//! confirmed, shipped, collected at the door by its carrier (whose events may repeat or come
//! late), remitted and released after protection; refused parcels charged by policy until the
//! buyer is no longer offered cash on delivery; and a dispute refunded to the balance.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::{Role, keys, scheduler};
use holdback_store::clock::Clock as _;
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{DAY, Server, T0};

/// A buyer in Riyadh and a seller in Jeddah who accepts cash on delivery.
async fn parties(s: &Server, buyer: &str) {
    let a = s
        .post(
            "/v1/buyers",
            &s.platform,
            json!({"id": buyer, "country": "SA", "region": "Riyadh"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}: {}", s.backend, a.body);
    let a = s
        .post(
            "/v1/sellers",
            &s.platform,
            json!({"id": "sel_jeddah", "country": "SA", "cash_on_delivery": true}),
        )
        .await;
    assert!(
        a.status == StatusCode::CREATED || a.status == StatusCode::OK,
        "{}: {}",
        s.backend,
        a.body
    );
}

fn eligibility_path(buyer: &str, amount: i64) -> String {
    format!("/v1/cod/eligibility?buyer={buyer}&seller=sel_jeddah&amount={amount}&currency=sar")
}

fn failed(verdict: &Value) -> Vec<String> {
    verdict["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| {
            format!(
                "{}:{}",
                r["rule"].as_str().unwrap(),
                r["reason"].as_str().unwrap()
            )
        })
        .collect()
}

/// Verifies `buyer`'s phone: the code is read from the event log, a wrong one counted, the
/// right one taken once.
async fn verify_phone(s: &Server, buyer: &str) {
    let b = s.backend;
    let a = s
        .post(
            &format!("/v1/buyers/{buyer}/phone_verifications"),
            &s.platform,
            json!({"phone": "+966501234567"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
    assert!(
        a.body.get("code").is_none(),
        "the answer never shows the code"
    );
    let id = a.body["id"].as_str().unwrap().to_string();
    let events = s.get("/v1/events?limit=100", &s.platform).await.body;
    let code = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "phone_verification.code_sent" && e["data"]["object"]["id"] == id)
        .map(|e| e["data"]["object"]["code"].as_str().unwrap().to_string())
        .expect("the sandbox notifier writes the code to the event log");
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let path = format!("/v1/phone_verifications/{id}/confirm");
    let a = s.post(&path, &s.platform, json!({"code": wrong})).await;
    assert_eq!(a.body["error"]["code"], "verification_code_invalid", "{b}");
    let a = s.post(&path, &s.platform, json!({"code": code})).await;
    assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
    assert_eq!(a.body["status"], "verified");
    assert_eq!(a.body["attempts"], 2);
    let a = s.post(&path, &s.platform, json!({"code": code})).await;
    assert_eq!(a.body["error"]["code"], "verification_code_used", "{b}");
}

/// A cash-on-delivery checkout of SAR `amount` from sel_jeddah; its answer.
async fn checkout(s: &Server, buyer: &str, amount: i64) -> crate::common::Answer {
    s.post(
        "/v1/checkouts",
        &s.platform,
        json!({
            "buyer": buyer,
            "currency": "sar",
            "items": [{"seller": "sel_jeddah", "description": "oud", "unit_amount": amount, "quantity": 1}],
            "cash_on_delivery": {},
        }),
    )
    .await
}

/// Places, confirms and ships an order of `amount`; its id and tracking number.
async fn shipped(s: &Server, buyer: &str, amount: i64, tracking: &str) -> String {
    let b = s.backend;
    let a = checkout(s, buyer, amount).await;
    assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
    let payment = a.body["id"].as_str().unwrap().to_string();
    let order = a.body["orders"][0]["id"].as_str().unwrap().to_string();
    let a = s
        .post(
            &format!("/v1/payments/{payment}/confirm_cash_on_delivery"),
            &s.platform,
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
    assert_eq!(a.body["orders"][0]["status"], "paid", "{b}");
    let a = s
        .post(
            &format!("/v1/orders/{order}/ship"),
            &s.platform,
            json!({"carrier": "gulf_express", "tracking_number": tracking}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
    order
}

async fn event(s: &Server, key: &str, tracking: &str, body: Value) -> crate::common::Answer {
    s.post(&format!("/v1/parcels/{tracking}/events"), key, body)
        .await
}

fn secs(ms: i64) -> i64 {
    ms / 1000
}

#[tokio::test]
async fn collected_at_the_door_then_released_only_after_protection_and_remittance() {
    for db in TestDb::all("cod_collected").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        parties(&s, "buy_sara").await;
        let gulf = keys::create(&s.app, &Role::Carrier("gulf_express".into()), false)
            .await
            .unwrap();
        // every rule is answered; only the phone fails
        let v = s
            .get(&eligibility_path("buy_sara", 12_000), &s.platform)
            .await;
        assert_eq!(v.status, StatusCode::OK, "{b}: {}", v.body);
        assert_eq!(v.body["offered"], false);
        assert_eq!(v.body["rules"].as_array().unwrap().len(), 9);
        assert_eq!(
            failed(&v.body),
            ["phone_verified:phone_not_verified"],
            "{b}"
        );
        // a checkout before the phone is verified is refused with the verdict, nothing placed
        let before = s.get("/v1/orders?limit=100", &s.platform).await.body;
        let a = checkout(&s, "buy_sara", 12_000).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{b}: {}", a.body);
        assert_eq!(a.body["error"]["code"], "cash_on_delivery_not_offered");
        assert_eq!(
            failed(&a.body["error"]["detail"]),
            ["phone_verified:phone_not_verified"]
        );
        assert_eq!(
            s.get("/v1/orders?limit=100", &s.platform).await.body,
            before
        );
        verify_phone(&s, "buy_sara").await;
        let v = s
            .get(&eligibility_path("buy_sara", 12_000), &s.platform)
            .await
            .body;
        assert_eq!(v["offered"], true, "{b}: {v}");
        assert_eq!(v["fee"], json!({"amount": 2625, "currency": "sar"}));
        assert_eq!(v["carrier"], "gulf_express");
        // the order: placed, confirmed, shipped in a parcel that collects the order and the fee
        let order = shipped(&s, "buy_sara", 12_000, "GX100200300").await;
        let o = s
            .get(&format!("/v1/orders/{order}"), &s.platform)
            .await
            .body;
        assert_eq!(o["cash_on_delivery"], true);
        assert_eq!(o["status"], "shipped");
        assert_eq!(s.balance_of("test:cod_expected:SAR").await, 12_000, "{b}");
        // the carrier: out for delivery, then the wrong cash (refused, nothing changes), then
        // the right cash
        let now = secs(T0 + DAY);
        let a = event(
            &s,
            &gulf,
            "GX100200300",
            json!({"id": "ev1", "event": "out_for_delivery", "occurred": now}),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        assert_eq!(a.body["outcome"], "applied");
        assert_eq!(a.body["parcel"]["status"], "out_for_delivery");
        assert_eq!(a.body["parcel"]["amount_to_collect"], 14_625);
        let a = event(&s, &gulf, "GX100200300", json!({"id": "ev2", "event": "delivered", "occurred": now + 60, "cash_collected": 12_000})).await;
        assert_eq!(
            a.body["error"]["code"], "collection_amount_mismatch",
            "{b}: {}",
            a.body
        );
        let a = event(&s, &gulf, "GX100200300", json!({"id": "ev3", "event": "delivered", "occurred": now + 120, "cash_collected": 14_625})).await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        assert_eq!(a.body["parcel"]["status"], "collected");
        let parcel = a.body["parcel"]["id"].as_str().unwrap().to_string();
        // a repeat of an id, and news older than what is known, change nothing
        let a = event(&s, &gulf, "GX100200300", json!({"id": "ev3", "event": "delivered", "occurred": now + 120, "cash_collected": 14_625})).await;
        assert_eq!(a.body["outcome"], "duplicate_of_applied", "{b}");
        let a = event(
            &s,
            &gulf,
            "GX100200300",
            json!({"id": "ev4", "event": "out_for_delivery", "occurred": now - 60}),
        )
        .await;
        assert_eq!(a.body["outcome"], "ignored", "{b}");
        // another carrier does not see the parcel; the order is delivered; the cash is owed
        let other = keys::create(&s.app, &Role::Carrier("desert_post".into()), false)
            .await
            .unwrap();
        let a = event(
            &s,
            &other,
            "GX100200300",
            json!({"id": "x", "event": "refused", "occurred": now}),
        )
        .await;
        assert_eq!(a.body["error"]["code"], "parcel_not_found", "{b}");
        assert_eq!(
            s.get(&format!("/v1/parcels/{parcel}"), &other).await.status,
            StatusCode::NOT_FOUND
        );
        let o = s
            .get(&format!("/v1/orders/{order}"), &s.platform)
            .await
            .body;
        assert_eq!(o["status"], "delivered", "{b}");
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            14_625
        );
        assert_eq!(s.balance_of("test:cod_fees:SAR").await, 2_625);
        assert_eq!(s.balance_of("test:cod_expected:SAR").await, 0);
        // protection ends: the release waits for the remittance
        s.clock.advance_ms(16 * DAY);
        scheduler::tick(&s.app, 100).await.unwrap();
        let o = s
            .get(&format!("/v1/orders/{order}"), &s.platform)
            .await
            .body;
        assert_eq!(o["status"], "awaiting_remittance", "{b}: {o}");
        assert_eq!(o["amount_held"], 12_000);
        assert_eq!(s.balance_of("test:seller_payable:sel_jeddah:SAR").await, 0);
        s.audit_clean().await;
        // a file with a bank reference in exponent form is refused whole: nothing posted
        let bad = remittance(&order, "6.00612E+11", "146.25", "123.25");
        let a = import(&s, &gulf, &bad).await;
        assert_eq!(
            a.body["error"]["code"], "reference_in_exponent_form",
            "{b}: {}",
            a.body
        );
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            14_625
        );
        // the carrier's remittance: matched, posted, and the release that waited for it runs
        let file = remittance(&order, "600612345678", "146.25", "123.25");
        let a = import(&s, &gulf, &file).await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        assert_eq!(a.body["already_imported"], false);
        assert_eq!(a.body["posted_now"], 1);
        assert_eq!(a.body["classes"]["matched"]["lines"], 1, "{b}: {}", a.body);
        assert_eq!(a.body["classes"]["summary_row"]["lines"], 1);
        assert_eq!(
            a.body["identity"]["ok"], true,
            "{b}: {}",
            a.body["identity"]
        );
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            0
        );
        assert_eq!(s.balance_of("test:cod_cash:SAR").await, 12_325);
        assert_eq!(s.balance_of("test:cod_expense:freight:SAR").await, 1_500);
        assert_eq!(s.balance_of("test:cod_expense:cod_fee:SAR").await, 500);
        assert_eq!(s.balance_of("test:cod_expense:tax_on_fees:SAR").await, 300);
        let o = s
            .get(&format!("/v1/orders/{order}"), &s.platform)
            .await
            .body;
        assert_eq!(o["status"], "completed", "{b}: {o}");
        assert_eq!(
            s.balance_of("test:seller_payable:sel_jeddah:SAR").await,
            11_400
        );
        let p = s
            .get(&format!("/v1/parcels/{parcel}"), &s.platform)
            .await
            .body;
        assert_eq!(p["remittance"]["batch"], "GE-2026-0042", "{b}: {p}");
        // the same file again posts nothing; the same batch with other figures conflicts
        let journal = s.app.store.audit().await.unwrap().entries;
        let a = import(&s, &gulf, &file).await;
        assert_eq!(a.body["already_imported"], true, "{b}: {}", a.body);
        assert_eq!(a.body["posted_now"], 0);
        let other = remittance(&order, "600612345678", "146.25", "120.00");
        let a = import(&s, &gulf, &other).await;
        assert_eq!(
            a.body["error"]["code"], "remittance_batch_conflict",
            "{b}: {}",
            a.body
        );
        assert_eq!(
            s.app.store.audit().await.unwrap().entries,
            journal,
            "{b}: nothing posted"
        );
        let id = a_remittance(&s).await;
        let lines = s
            .get(&format!("/v1/cod/remittances/{id}/lines"), &gulf)
            .await;
        assert_eq!(lines.status, StatusCode::OK, "{b}: {}", lines.body);
        assert_eq!(lines.body["data"][0]["class"], "matched");
        assert_eq!(lines.body["data"][0]["deductions"]["freight"], 1_500);
        s.audit_clean().await;
    }
}

/// A Gulf Express statement (its profile's layout: two preamble lines, then the header) paying
/// the parcel GX100200300 of `order`, with a total row.
fn remittance(order: &str, bank_ref: &str, cod: &str, net: &str) -> Vec<u8> {
    format!(
        "COD remittance statement,,,,,,,,,,,,\r\n\
         Gulf Express GE-2026-0042,,,,,,,,,,,,\r\n\
         AWB No,Order No,Consignee,COD Amount,Freight,COD Charges,RTO Charges,VAT,Net Amount,Status,Delivery Date,Remittance No,Bank Ref\r\n\
         GX100200300,{order},Sara,{cod},15.00,5.00,0.00,3.00,{net},Delivered,22/11/2026,GE-2026-0042,{bank_ref}\r\n\
         Total,,,{cod},15.00,5.00,0.00,3.00,{net},,,,\r\n"
    )
    .into_bytes()
}

async fn import(s: &Server, key: &str, file: &[u8]) -> crate::common::Answer {
    use base64::Engine as _;
    let body = json!({
        "carrier_profile": "gulf_express",
        "file_base64": base64::engine::general_purpose::STANDARD.encode(file),
    });
    s.post("/v1/cod/remittances", key, body).await
}

/// The id of the (one) remittance imported.
async fn a_remittance(s: &Server) -> String {
    let events = s
        .app
        .store
        .remittance_of("gulf_express", false, "", "GE-2026-0042")
        .await
        .unwrap();
    events[0].id.clone()
}

#[tokio::test]
async fn refused_parcels_are_charged_by_policy_and_the_third_is_not_offered() {
    for db in TestDb::all("cod_refused").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        parties(&s, "buy_omar").await;
        verify_phone(&s, "buy_omar").await;
        let gulf = keys::create(&s.app, &Role::Carrier("gulf_express".into()), false)
            .await
            .unwrap();
        for (n, tracking) in ["GX1", "GX2"].iter().enumerate() {
            let order = shipped(&s, "buy_omar", 10_000, tracking).await;
            let when = secs(T0) + 3600;
            let reason = if n == 0 { "refused" } else { "undeliverable" };
            let a = event(
                &s,
                &gulf,
                tracking,
                json!({"id": format!("r{n}"), "event": reason, "occurred": when}),
            )
            .await;
            assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
            assert_eq!(a.body["parcel"]["status"], reason);
            let o = s
                .get(&format!("/v1/orders/{order}"), &s.platform)
                .await
                .body;
            assert_eq!(o["status"], "cancelled", "{b}");
            assert_eq!(o["amount_refunded"], 10_000);
            // a delivery reported after the return contradicts it: refused, nothing changes
            let a = event(&s, &gulf, tracking, json!({"id": format!("d{n}"), "event": "delivered", "occurred": when + 60, "cash_collected": 12_625})).await;
            assert_eq!(a.body["error"]["code"], "parcel_already_final", "{b}");
        }
        // the return costs were charged to the buyer as a debt; nothing reached a balance
        assert_eq!(
            s.balance_of("test:buyer_debt:buy_omar:SAR").await,
            5_000,
            "{b}"
        );
        assert_eq!(s.balance_of("test:rto_recovered:SAR").await, 5_000);
        assert_eq!(s.balance_of("test:customer_balance:buy_omar:SAR").await, 0);
        assert_eq!(s.balance_of("test:cod_expected:SAR").await, 0);
        // one refusal (the other was undeliverable) is not yet the limit; a second is
        let v = s
            .get(&eligibility_path("buy_omar", 10_000), &s.platform)
            .await
            .body;
        assert_eq!(v["offered"], true, "{b}: {v}");
        let order = shipped(&s, "buy_omar", 10_000, "GX3").await;
        let a = event(
            &s,
            &gulf,
            "GX3",
            json!({"id": "r3", "event": "refused", "occurred": secs(T0) + 7200}),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        let _ = order;
        let v = s
            .get(&eligibility_path("buy_omar", 10_000), &s.platform)
            .await
            .body;
        assert_eq!(
            failed(&v),
            ["refusal_history:too_many_refusals"],
            "{b}: {v}"
        );
        let refusals = v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == "refusal_history")
            .unwrap();
        assert_eq!(
            refusals["compared"],
            json!({"refusals": 2, "max_refusals": 2, "window_days": 180})
        );
        let a = checkout(&s, "buy_omar", 10_000).await;
        assert_eq!(
            a.body["error"]["code"], "cash_on_delivery_not_offered",
            "{b}"
        );
        // 180 days later the refusals have aged out
        s.clock.advance_ms(181 * DAY);
        let v = s
            .get(&eligibility_path("buy_omar", 10_000), &s.platform)
            .await
            .body;
        assert_eq!(v["offered"], true, "{b}: {v}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn a_dispute_on_a_cash_on_delivery_order_refunds_to_the_balance_never_to_cash() {
    for db in TestDb::all("cod_dispute").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        parties(&s, "buy_lina").await;
        verify_phone(&s, "buy_lina").await;
        let lina = keys::create(&s.app, &Role::Buyer("buy_lina".into()), false)
            .await
            .unwrap();
        let gulf = keys::create(&s.app, &Role::Carrier("gulf_express".into()), false)
            .await
            .unwrap();
        let order = shipped(&s, "buy_lina", 30_000, "GX9").await;
        let a = event(&s, &gulf, "GX9", json!({"id": "d9", "event": "delivered", "occurred": secs(T0) + 3600, "cash_collected": 32_625})).await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        s.clock.advance_ms(6 * DAY);
        let a = s
            .post(
                "/v1/disputes",
                &lina,
                json!({"order": order, "reason": "not_as_described", "requested": {"type": "full_refund"}}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        let id = a.body["id"].as_str().unwrap();
        let seller = keys::create(&s.app, &Role::Seller("sel_jeddah".into()), false)
            .await
            .unwrap();
        let a = s
            .post(
                &format!("/v1/disputes/{id}/respond"),
                &seller,
                json!({"answer": "accept"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        let o = s
            .get(&format!("/v1/orders/{order}"), &s.platform)
            .await
            .body;
        assert_eq!(o["status"], "cancelled", "{b}");
        assert_eq!(o["amount_refunded"], 30_000);
        // the refund went to the buyer's balance, at once: no provider, no "back to cash"
        assert_eq!(
            s.balance_of("test:customer_balance:buy_lina:SAR").await,
            30_000,
            "{b}"
        );
        let refunds = s
            .get(
                &format!("/v1/payments/{}", o["payment"].as_str().unwrap()),
                &s.platform,
            )
            .await
            .body;
        assert_eq!(
            refunds["refunds"][0]["destination"], "balance",
            "{b}: {refunds}"
        );
        assert_eq!(refunds["refunds"][0]["status"], "succeeded");
        // the carrier still owes the cash it collected
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            32_625
        );
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn an_unconfirmed_order_is_cancelled_after_48_hours() {
    for db in TestDb::all("cod_unconfirmed").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        parties(&s, "buy_huda").await;
        verify_phone(&s, "buy_huda").await;
        let a = checkout(&s, "buy_huda", 10_000).await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        assert_eq!(a.body["next_action"]["type"], "confirm_cash_on_delivery");
        assert_eq!(a.body["cash_on_delivery"]["amount_at_door"], 12_625);
        let order = a.body["orders"][0]["id"].as_str().unwrap().to_string();
        // not shippable before the buyer confirms
        let ship = json!({"carrier": "gulf_express", "tracking_number": "GX77"});
        let a = s
            .post(&format!("/v1/orders/{order}/ship"), &s.platform, &ship)
            .await;
        assert_eq!(a.body["error"]["code"], "order_awaiting_payment", "{b}");
        s.clock.advance_ms(48 * common::HOUR + 1);
        // too late to confirm, even before the scheduler has cancelled it
        let payment = s
            .get(&format!("/v1/orders/{order}"), &s.platform)
            .await
            .body["payment"]
            .as_str()
            .unwrap()
            .to_string();
        let path = format!("/v1/payments/{payment}/confirm_cash_on_delivery");
        let a = s.post(&path, &s.platform, json!({})).await;
        assert_eq!(
            a.body["error"]["code"], "confirmation_expired",
            "{b}: {}",
            a.body
        );
        scheduler::tick(&s.app, 100).await.unwrap();
        let o = s
            .get(&format!("/v1/orders/{order}"), &s.platform)
            .await
            .body;
        assert_eq!(o["status"], "expired", "{b}: {o}");
        assert_eq!(s.balance_of("test:cod_expected:SAR").await, 0);
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn before_the_door_there_is_no_dispute_nor_claim_and_a_late_delivery_still_collects() {
    for db in TestDb::all("cod_late_delivery").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        parties(&s, "buy_omar").await;
        verify_phone(&s, "buy_omar").await;
        let omar = keys::create(&s.app, &Role::Buyer("buy_omar".into()), false)
            .await
            .unwrap();
        let gulf = keys::create(&s.app, &Role::Carrier("gulf_express".into()), false)
            .await
            .unwrap();
        let order = shipped(&s, "buy_omar", 30_000, "GX7").await;
        let path = format!("/v1/orders/{order}");
        s.clock.advance_ms(6 * DAY);
        let before = s.get(&path, &s.platform).await.body;
        // the buyer has paid nothing yet: a dispute (now within its window) is refused and
        // changes nothing
        let a = s
            .post(
                "/v1/disputes",
                &omar,
                json!({"order": order, "reason": "not_received", "requested": {"type": "full_refund"}}),
            )
            .await;
        assert_eq!(
            a.body["error"]["code"], "cash_not_collected",
            "{b}: {}",
            a.body
        );
        assert_eq!(s.get(&path, &s.platform).await.body, before, "{b}");
        // the delivery guarantee passes with the parcel still out: no non-delivery claim, the
        // carrier's report decides
        s.clock.advance_ms(84 * DAY);
        scheduler::tick(&s.app, 100).await.unwrap();
        let o = s.get(&path, &s.platform).await.body;
        assert_eq!(o["status"], "shipped", "{b}: {o}");
        assert!(o["protection_ends"].as_i64().unwrap() < secs(s.clock.now_ms()));
        assert_eq!(o["non_delivery_claim"], Value::Null, "{b}: {o}");
        // delivered late: the cash is receivable, and the buyer's protection runs from the door
        let now = secs(s.clock.now_ms());
        let a = event(
            &s,
            &gulf,
            "GX7",
            json!({"id": "d7", "event": "delivered", "occurred": now, "cash_collected": 32_625}),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        let o = s.get(&path, &s.platform).await.body;
        assert_eq!(o["status"], "delivered", "{b}: {o}");
        assert!(o["protection_ends"].as_i64().unwrap() > now, "{b}: {o}");
        assert_eq!(
            s.balance_of("test:carrier_receivable:gulf_express:SAR")
                .await,
            32_625
        );
        // and now a dispute may be opened
        let a = s
            .post(
                "/v1/disputes",
                &omar,
                json!({"order": order, "reason": "not_as_described", "requested": {"type": "full_refund"}}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        s.audit_clean().await;
    }
}
