//! Disputes end to end through the real server, with the clock moved, on SQLite and (when
//! `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL: every golden path and timer branch, and the
//! rejections, each read before and after.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_app::{Role, keys, refunds, scheduler};
use holdback_domain::AccountId;
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, DAY, Server, T0, VISA, cart};

/// Bob's order of a fresh checkout (2 × 25.00, 5 % commission), shipped at `T0` by `method`.
async fn shipped(s: &Server, method: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut body = cart(VISA);
    body["items"][0]["description"] = json!(format!("tea set #{n}"));
    body["shipping_methods"] = json!({"sel_bob": method});
    let paid = s.post("/v1/checkouts", &s.platform, body).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    let order = paid.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["seller"] == "sel_bob")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ship = json!({"carrier": "dhl", "tracking_number": "JD1"});
    let a = s
        .post(&format!("/v1/orders/{order}/ship"), &s.bob, ship)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    order
}

/// The order delivered and its receipt confirmed by Alice: the hold released to Bob.
async fn completed(s: &Server, order: &str) -> Answer {
    let delivered = format!("/v1/orders/{order}/mark_delivered");
    let a = s.post(&delivered, &s.platform, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let confirm = format!("/v1/orders/{order}/confirm_receipt");
    s.post(&confirm, &s.alice, json!({})).await
}

async fn mediator(s: &Server) -> String {
    keys::create(&s.app, &Role::Mediator("med_erin".into()), false)
        .await
        .unwrap()
}

fn full_refund() -> Value {
    json!({"type": "full_refund"})
}

async fn open(s: &Server, order: &str, requested: Value) -> Answer {
    let body = json!({"order": order, "reason": "not_as_described", "requested": requested});
    s.post("/v1/disputes", &s.alice, body).await
}

async fn act(s: &Server, id: &str, action: &str, key: &str, body: Value) -> Answer {
    s.post(&format!("/v1/disputes/{id}/{action}"), key, body)
        .await
}

async fn order(s: &Server, id: &str) -> Value {
    s.get(&format!("/v1/orders/{id}"), &s.platform).await.body
}

async fn dispute(s: &Server, id: &str) -> Value {
    s.get(&format!("/v1/disputes/{id}"), &s.platform).await.body
}

/// Everything a refused request must leave as it was: the order, the disputes, the events.
async fn state(s: &Server, order_id: &str) -> Value {
    let disputes = s.get("/v1/disputes?limit=100", &s.platform).await.body;
    let events = s.get("/v1/events?limit=100", &s.platform).await.body;
    json!({"order": order(s, order_id).await, "disputes": disputes["data"], "events": events["data"]})
}

/// Fires due timers, then the refund worker; returns how many timers fired.
async fn tick(s: &Server) -> usize {
    let fired = scheduler::tick(&s.app, 100).await.unwrap().fired;
    refunds::tick(&s.app, 100).await.unwrap();
    fired
}

async fn opened(s: &Server, order: &str, requested: Value) -> String {
    let a = open(s, order, requested).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["status"], "negotiating");
    a.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_dispute_on_day_58_holds_the_release_until_a_mediator_decides() {
    for db in TestDb::all("dispute_day_58").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let erin = mediator(&s).await;
        let id_order = shipped(&s, "economy").await; // 60 days of protection
        s.clock.set_ms(T0 + 45 * DAY);
        let a = s
            .post(
                &format!("/v1/orders/{id_order}/mark_delivered"),
                &s.platform,
                json!({}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        assert_eq!(a.body["protection_ends"], (T0 + 60 * DAY) / 1000);

        s.clock.set_ms(T0 + 58 * DAY);
        let id = opened(&s, &id_order, full_refund()).await;
        assert_eq!(order(&s, &id_order).await["dispute"], id.as_str());
        // the mediator sees nothing until the dispute goes to mediation
        assert_eq!(
            s.get(&format!("/v1/disputes/{id}"), &erin).await.status,
            StatusCode::NOT_FOUND,
            "{b}"
        );

        // day 61: protection would have ended; the hold stays
        s.clock.set_ms(T0 + 61 * DAY);
        tick(&s).await;
        let o = order(&s, &id_order).await;
        assert_eq!(
            (o["status"].as_str(), o["amount_held"].as_i64()),
            (Some("delivered"), Some(5000)),
            "{b}"
        );

        let a = act(&s, &id, "respond", &s.bob, json!({"answer": "reject"})).await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        let a = act(&s, &id, "escalate", &s.alice, json!({})).await;
        assert_eq!(a.body["status"], "in_mediation", "{b}: {}", a.body);
        assert_eq!(a.body["mediation"]["decision_due"], (T0 + 68 * DAY) / 1000);
        let queue = s.get("/v1/disputes?status=in_mediation", &erin).await;
        assert_eq!(queue.body["data"][0]["id"], id.as_str(), "{b}");

        // rejected: protection resumes with the 2 days it had left
        s.clock.set_ms(T0 + 62 * DAY);
        let decision =
            json!({"outcome": {"type": "rejected"}, "reason": "item matches the listing"});
        let a = act(&s, &id, "decide", &erin, decision).await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        assert_eq!(a.body["outcome"]["closure"], "decided");
        assert_eq!(a.body["outcome"]["reason"], "item matches the listing");
        let o = order(&s, &id_order).await;
        assert_eq!(o["protection_ends"], (T0 + 64 * DAY) / 1000, "{b}");
        assert_eq!(o["dispute"], Value::Null);
        s.clock.set_ms(T0 + 64 * DAY);
        tick(&s).await;
        let o = order(&s, &id_order).await;
        assert_eq!(o["status"], "completed", "{b}: {o}");
        assert_eq!(o["release"]["amount_to_seller"], 4750);
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn a_mediators_30_percent_refund_splits_the_hold_in_one_transaction() {
    for db in TestDb::all("dispute_partial_30").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let erin = mediator(&s).await;
        let id_order = shipped(&s, "standard").await;
        s.clock.set_ms(T0 + 6 * DAY);
        let id = opened(
            &s,
            &id_order,
            json!({"type": "partial_refund", "amount": 2000}),
        )
        .await;
        let a = act(
            &s,
            &id,
            "respond",
            &s.bob,
            json!({"answer": "counter", "amount": 1000}),
        )
        .await;
        assert_eq!(
            a.body["negotiation"]["answer"],
            json!({"type": "counter", "amount": 1000}),
            "{b}"
        );
        s.clock.set_ms(T0 + 9 * DAY);
        let a = act(&s, &id, "escalate", &s.bob, json!({})).await;
        assert_eq!(
            a.body["mediation"]["escalated_by"], "seller",
            "{b}: {}",
            a.body
        );

        // a mediator's outcome above the hold is refused by name and changes nothing
        let before = state(&s, &id_order).await;
        let too_much =
            json!({"outcome": {"type": "partial_refund", "amount": 5001}, "reason": "r"});
        let a = act(&s, &id, "decide", &erin, too_much).await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("outcome_exceeds_held")),
            "{b}: {}",
            a.body
        );
        // and a party may not decide
        let a = act(
            &s,
            &id,
            "decide",
            &s.bob,
            json!({"outcome": {"type": "rejected"}, "reason": "r"}),
        )
        .await;
        assert_eq!(a.body["error"]["code"], "not_permitted", "{b}: {}", a.body);
        assert_eq!(state(&s, &id_order).await, before, "{b}");

        let decision =
            json!({"outcome": {"type": "partial_refund", "amount": 1500}, "reason": "scratched"});
        let a = act(&s, &id, "decide", &erin, decision).await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        assert_eq!(a.body["decided_by"], "med_erin", "{b}");
        assert_eq!(
            a.body["outcome"],
            json!({"type": "partial_refund", "amount": 1500, "closure": "decided", "reason": "scratched", "closed": (T0 + 9 * DAY) / 1000})
        );
        let o = order(&s, &id_order).await;
        assert_eq!(o["status"], "completed", "{b}");
        assert_eq!(o["amount_refunded"], 1500);
        // 70 % released, commission (5 %) only on the released part
        assert_eq!(
            o["release"],
            json!({"amount_to_seller": 3325, "commission": 175}),
            "{b}"
        );
        // the escrow was emptied by one transaction: refund and release together
        let escrow = AccountId::parse(&format!("escrow:{id_order}")).unwrap();
        let history = s.app.store.history(&escrow, None, 10).await.unwrap();
        let last = &history.lines[0].tx_id;
        let in_last: i64 = history
            .lines
            .iter()
            .filter(|l| &l.tx_id == last && l.posting.debit == escrow)
            .map(|l| l.posting.posted)
            .sum();
        assert_eq!(in_last, 5000, "{b}: {:?}", history.lines);
        tick(&s).await;
        let refunds = s
            .get(
                &format!("/v1/payments/{}", o["payment"].as_str().unwrap()),
                &s.platform,
            )
            .await;
        let refund = &refunds.body["refunds"][0];
        assert_eq!(
            (refund["amount"].as_i64(), refund["status"].as_str()),
            (Some(1500), Some("succeeded")),
            "{b}: {}",
            refunds.body
        );
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn seller_silence_grants_the_request_and_negotiation_escalates_at_15_days() {
    for db in TestDb::all("dispute_timers").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        // silence: the full refund is granted when the 5 days pass
        let silent_order = shipped(&s, "standard").await;
        let answered_order = shipped(&s, "standard").await;
        s.clock.set_ms(T0 + 5 * DAY);
        let silent = opened(&s, &silent_order, full_refund()).await;
        let answered = opened(&s, &answered_order, full_refund()).await;
        let a = act(
            &s,
            &answered,
            "respond",
            &s.bob,
            json!({"answer": "reject"}),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        s.clock.set_ms(T0 + 10 * DAY - 1);
        tick(&s).await; // the cart's other order, never shipped, is cancelled
        assert_eq!(dispute(&s, &silent).await["status"], "negotiating", "{b}");
        s.clock.set_ms(T0 + 10 * DAY);
        tick(&s).await;
        let d = dispute(&s, &silent).await;
        assert_eq!(
            (d["status"].as_str(), d["outcome"]["closure"].as_str()),
            (Some("closed"), Some("seller_silent")),
            "{b}: {d}"
        );
        let o = order(&s, &silent_order).await;
        assert_eq!(
            (o["status"].as_str(), o["amount_refunded"].as_i64()),
            (Some("cancelled"), Some(5000)),
            "{b}: {o}"
        );
        assert_eq!(dispute(&s, &answered).await["status"], "negotiating", "{b}");

        // the answered one goes to a mediator by itself at 15 days
        s.clock.set_ms(T0 + 20 * DAY);
        tick(&s).await;
        let d = dispute(&s, &answered).await;
        assert_eq!(
            (
                d["status"].as_str(),
                d["mediation"]["escalated_by"].as_str()
            ),
            (Some("in_mediation"), Some("timer")),
            "{b}: {d}"
        );
        // and is overdue once the SLA passes
        s.clock.set_ms(T0 + 27 * DAY);
        tick(&s).await;
        assert_eq!(
            dispute(&s, &answered).await["mediation"]["overdue"],
            true,
            "{b}"
        );
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn a_return_not_shipped_releases_and_one_delivered_but_unconfirmed_refunds() {
    for db in TestDb::all("dispute_returns").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let ignored = shipped(&s, "standard").await;
        let returned = shipped(&s, "standard").await;
        s.clock.set_ms(T0 + 5 * DAY);
        let rr = json!({"type": "return_and_refund"});
        let ignored_d = opened(&s, &ignored, rr.clone()).await;
        let returned_d = opened(&s, &returned, rr).await;
        for id in [&ignored_d, &returned_d] {
            let a = act(&s, id, "respond", &s.bob, json!({"answer": "accept"})).await;
            assert_eq!(a.body["status"], "awaiting_return", "{b}: {}", a.body);
            assert_eq!(a.body["return"]["ship_by"], (T0 + 15 * DAY) / 1000);
        }
        s.clock.set_ms(T0 + 8 * DAY);
        let a = act(
            &s,
            &returned_d,
            "return",
            &s.alice,
            json!({"tracking_number": "RR1"}),
        )
        .await;
        assert_eq!(a.body["status"], "return_shipped", "{b}: {}", a.body);

        // 10 days pass: the return never shipped goes to the seller
        s.clock.set_ms(T0 + 15 * DAY);
        tick(&s).await;
        let d = dispute(&s, &ignored_d).await;
        assert_eq!(d["outcome"]["closure"], "return_not_shipped", "{b}: {d}");
        let o = order(&s, &ignored).await;
        assert_eq!(
            (
                o["status"].as_str(),
                o["release"]["amount_to_seller"].as_i64()
            ),
            (Some("completed"), Some(4750)),
            "{b}: {o}"
        );

        // delivered back on day 16 and not confirmed: refunded on day 31
        s.clock.set_ms(T0 + 16 * DAY);
        let a = act(&s, &returned_d, "return_delivered", &s.platform, json!({})).await;
        assert_eq!(
            a.body["return"]["refund_due"],
            (T0 + 31 * DAY) / 1000,
            "{b}: {}",
            a.body
        );
        s.clock.set_ms(T0 + 31 * DAY - 1);
        tick(&s).await;
        assert_eq!(
            dispute(&s, &returned_d).await["status"],
            "return_shipped",
            "{b}"
        );
        s.clock.set_ms(T0 + 31 * DAY);
        tick(&s).await;
        let d = dispute(&s, &returned_d).await;
        assert_eq!(d["outcome"]["closure"], "return_unconfirmed", "{b}: {d}");
        let o = order(&s, &returned).await;
        assert_eq!(o["amount_refunded"], 5000, "{b}: {o}");
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn a_counterfeit_is_refunded_twice_the_price() {
    for db in TestDb::all("dispute_counterfeit").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let erin = mediator(&s).await;
        let id_order = shipped(&s, "standard").await;
        let a = completed(&s, &id_order).await;
        assert_eq!(a.body["status"], "completed", "{b}: {}", a.body);
        // released: only a counterfeit claim opens, and it goes straight to a mediator
        s.clock.set_ms(T0 + 6 * DAY);
        let a = open(&s, &id_order, full_refund()).await;
        assert_eq!(
            a.body["error"]["code"], "released_order_counterfeit_only",
            "{b}: {}",
            a.body
        );
        let body = json!({"order": id_order, "reason": "counterfeit", "requested": full_refund()});
        let a = s.post("/v1/disputes", &s.alice, body).await;
        assert_eq!(a.body["status"], "in_mediation", "{b}: {}", a.body);
        let id = a.body["id"].as_str().unwrap().to_string();
        let over = json!({"outcome": {"type": "counterfeit", "amount": 10001}, "reason": "fake"});
        assert_eq!(
            act(&s, &id, "decide", &erin, over).await.body["error"]["code"],
            "counterfeit_exceeds_limit",
            "{b}"
        );
        let decision =
            json!({"outcome": {"type": "counterfeit", "amount": 10000}, "reason": "fake"});
        let a = act(&s, &id, "decide", &erin, decision).await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.body);
        let o = order(&s, &id_order).await;
        // the released 50.00 back to the card and 50.00 more to Alice's balance, all of it
        // charged to Bob: his payable already paid out, it is recorded as his debt
        assert_eq!(o["amount_charged_to_seller"], 5000, "{b}: {o}");
        for (id, posted) in [
            ("test:customer_balance:buy_alice:USD", 5000),
            ("test:seller_debt:sel_bob:USD", 10000),
        ] {
            let account = s.app.store.account(&AccountId::parse(id).unwrap()).await;
            assert_eq!(
                account.unwrap().unwrap().posted_balance(),
                posted,
                "{b}: {id}"
            );
        }
        tick(&s).await;
        s.audit_clean().await;
    }
}

#[tokio::test]
async fn refused_disputes_are_named_and_change_nothing() {
    for db in TestDb::all("dispute_refusals").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let erin = mediator(&s).await;
        let id_order = shipped(&s, "standard").await;
        let before = state(&s, &id_order).await;
        // before shipment + 5 days
        s.clock.set_ms(T0 + 5 * DAY - 1);
        let a = open(&s, &id_order, full_refund()).await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("dispute_too_early")),
            "{b}: {}",
            a.body
        );
        // someone else's order
        let body = json!({"order": id_order, "reason": "damaged", "requested": full_refund()});
        let a = s.post("/v1/disputes", &s.dave, body).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{b}: {}", a.body);
        // an amount above the hold
        s.clock.set_ms(T0 + 5 * DAY);
        let a = open(
            &s,
            &id_order,
            json!({"type": "partial_refund", "amount": 5001}),
        )
        .await;
        assert_eq!(
            a.body["error"]["code"], "outcome_exceeds_held",
            "{b}: {}",
            a.body
        );
        // a shape the schema refuses
        let a = open(&s, &id_order, json!({"type": "partial_refund"})).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{b}: {}", a.body);
        assert_eq!(state(&s, &id_order).await, before, "{b}");

        let id = opened(&s, &id_order, full_refund()).await;
        let before = state(&s, &id_order).await;
        // a second open dispute
        let a = open(&s, &id_order, full_refund()).await;
        assert_eq!(
            a.body["error"]["code"], "dispute_already_open",
            "{b}: {}",
            a.body
        );
        // a mediator deciding one not in mediation (they cannot even see it)
        let decision = json!({"outcome": {"type": "full_refund"}, "reason": "r"});
        let a = act(&s, &id, "decide", &erin, decision.clone()).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{b}: {}", a.body);
        let a = act(&s, &id, "decide", &s.platform, decision).await;
        assert_eq!(a.body["error"]["code"], "not_permitted", "{b}: {}", a.body);
        // escalation before 3 days, someone else's dispute, a buyer answering for the seller
        let a = act(&s, &id, "escalate", &s.alice, json!({})).await;
        assert_eq!(
            a.body["error"]["code"], "escalation_too_early",
            "{b}: {}",
            a.body
        );
        assert_eq!(
            act(&s, &id, "escalate", &s.dave, json!({})).await.status,
            StatusCode::NOT_FOUND,
            "{b}"
        );
        assert_eq!(
            act(&s, &id, "respond", &s.carol, json!({"answer": "accept"}))
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{b}"
        );
        let a = act(&s, &id, "respond", &s.alice, json!({"answer": "accept"})).await;
        assert_eq!(a.body["error"]["code"], "not_permitted", "{b}: {}", a.body);
        assert_eq!(
            s.get(&format!("/v1/disputes/{id}"), &s.dave).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(state(&s, &id_order).await, before, "{b}");

        // after the claim window: 15 days after completion
        let other = shipped(&s, "standard").await;
        s.clock.set_ms(T0 + 6 * DAY);
        let a = completed(&s, &other).await;
        assert_eq!(a.body["status"], "completed", "{b}: {}", a.body);
        s.clock.set_ms(T0 + 21 * DAY);
        let body = json!({"order": other, "reason": "counterfeit", "requested": full_refund()});
        let before = state(&s, &other).await;
        let a = s.post("/v1/disputes", &s.alice, body).await;
        assert_eq!(
            a.body["error"]["code"], "dispute_window_closed",
            "{b}: {}",
            a.body
        );
        assert_eq!(state(&s, &other).await, before, "{b}");
    }
}

/// A 1×1 PNG, byte by byte.
fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    b.extend_from_slice(&[0x1F, 0x15, 0xC4, 0x89]);
    b.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    b
}

/// Uploads `bytes` named `name` to dispute `id` as `multipart/form-data`.
async fn upload(s: &Server, id: &str, key: &str, name: &str, bytes: &[u8]) -> Answer {
    let mut body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let res = s
        .http
        .post(format!("{}/v1/disputes/{id}/evidence", s.base))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(body)
        .send()
        .await
        .unwrap();
    Answer::of(res).await
}

#[tokio::test]
async fn evidence_and_messages_belong_to_the_disputes_parties() {
    for db in TestDb::all("dispute_evidence").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let erin = mediator(&s).await;
        let id_order = shipped(&s, "standard").await;
        s.clock.set_ms(T0 + 5 * DAY);
        let id = opened(&s, &id_order, full_refund()).await;
        let files = format!("/v1/disputes/{id}/evidence");

        let a = upload(&s, &id, &s.alice, "crack.png", &png()).await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        assert_eq!(a.body["kind"], "png");
        let file = a.body["id"].as_str().unwrap().to_string();
        // the seller sees the buyer's file and can fetch it, as an attachment
        let listed = s.get(&files, &s.bob).await;
        assert_eq!(listed.body["data"][0]["id"], file.as_str(), "{b}");
        let res = s
            .http
            .get(format!("{}/v1/files/{file}", s.base))
            .header("authorization", format!("Bearer {}", s.bob))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert!(
            res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        assert_eq!(res.bytes().await.unwrap().as_ref(), png().as_slice());

        let before = (
            state(&s, &id_order).await,
            s.get(&files, &s.platform).await.body,
        );
        // an executable renamed .jpg is refused by its content
        let mut exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec();
        exe.resize(256, 0);
        let a = upload(&s, &id, &s.alice, "photo.jpg", &exe).await;
        assert_eq!(
            a.body["error"]["code"], "evidence_type_not_allowed",
            "{b}: {}",
            a.body
        );
        // a file over the largest a file may be
        let mut big = png();
        big.resize(11 * 1024 * 1024, 0);
        let a = upload(&s, &id, &s.bob, "big.png", &big).await;
        assert_eq!(
            a.body["error"]["code"], "evidence_too_large",
            "{b}: {}",
            a.body
        );
        // someone else's dispute: as if it did not exist, for files, lists and messages
        assert_eq!(
            upload(&s, &id, &s.dave, "x.png", &png()).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(s.get(&files, &s.dave).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            s.get(&format!("/v1/files/{file}"), &s.carol).await.status,
            StatusCode::NOT_FOUND
        );
        let message = json!({"body": "mine", "files": [file]});
        let on_order = format!("/v1/orders/{id_order}/messages");
        assert_eq!(
            s.post(&on_order, &s.dave, message.clone()).await.status,
            StatusCode::NOT_FOUND
        );
        // the mediator, before the dispute goes to mediation
        assert_eq!(s.get(&files, &erin).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            s.post(&on_order, &erin, json!({"body": "hello"}))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        // a message naming a file that is not this order's evidence
        let foreign = json!({"body": "see this", "files": ["file_0000000000000000"]});
        let a = s.post(&on_order, &s.alice, foreign).await;
        assert_eq!(
            a.body["error"]["code"], "message_files_invalid",
            "{b}: {}",
            a.body
        );
        assert_eq!(
            (
                state(&s, &id_order).await,
                s.get(&files, &s.platform).await.body
            ),
            before,
            "{b}"
        );

        // a message names the evidence; after escalation the mediator reads and writes
        let a = s.post(&on_order, &s.alice, message).await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        s.clock.set_ms(T0 + 8 * DAY);
        act(&s, &id, "escalate", &s.alice, json!({})).await;
        assert_eq!(
            s.get(&files, &erin).await.body["data"][0]["id"],
            file.as_str(),
            "{b}"
        );
        let a = s
            .post(
                &on_order,
                &erin,
                json!({"body": "I am looking at the photo."}),
            )
            .await;
        assert_eq!(
            a.body["author"],
            json!({"role": "mediator", "id": "med_erin"}),
            "{b}: {}",
            a.body
        );
        let record = s.get(&on_order, &s.bob).await;
        assert_eq!(record.body["data"].as_array().unwrap().len(), 2, "{b}");

        // a closed dispute takes no more files
        let decision = json!({"outcome": {"type": "full_refund"}, "reason": "cracked"});
        act(&s, &id, "decide", &erin, decision).await;
        let a = upload(&s, &id, &s.bob, "late.png", &png()).await;
        assert_eq!(a.body["error"]["code"], "dispute_closed", "{b}: {}", a.body);
    }
}
