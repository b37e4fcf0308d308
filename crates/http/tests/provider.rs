//! holdback against the stateful sandbox provider: the real server on port 0, a clock the tests
//! move, the sandbox's own file per test and backend, and faults armed in that file from a
//! separate handle (as another process would). Every test ends with the provider's statement
//! and holdback's records agreeing, and the ledger and business audits clean.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use holdback_app::sandbox::SandboxCards;
use holdback_app::{Role, keys, payments, reconcile, refunds, scheduler};
use holdback_domain::ErrorCode;
use holdback_domain::party::PartyKind;
use holdback_domain::refund::RefundState;
use holdback_sandbox::{
    Fault, FaultEffect, FaultOp, REFUNDS_FAIL_CARD, Sandbox, StatementKind, StatementLine,
};
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{DAY, T0, VISA};

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn unique() -> usize {
    UNIQUE.fetch_add(1, Ordering::Relaxed)
}

/// The sandbox file of one test on one backend, removed at the end.
struct SandboxFile(PathBuf);

impl Drop for SandboxFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

mod common;

use common::Answer;

/// The server of one test, paying through the sandbox in a file of its own.
struct Server {
    server: common::Server,
    /// A handle of its own on the server's sandbox file, like another process's.
    sandbox: Sandbox,
    _file: SandboxFile,
}

impl std::ops::Deref for Server {
    type Target = common::Server;

    fn deref(&self) -> &common::Server {
        &self.server
    }
}

async fn start(db: &TestDb) -> Server {
    let path = std::env::temp_dir().join(format!(
        "holdback_provider_{}_{}_{}.sandbox",
        std::process::id(),
        db.backend(),
        unique()
    ));
    let file = SandboxFile(path.clone());
    let server = common::Server::builder(db)
        .cards(|clock| Arc::new(SandboxCards::open(&path, Arc::new(clock.clone())).unwrap()))
        .start()
        .await;
    let sandbox = Sandbox::open(&path).unwrap();
    Server {
        server,
        sandbox,
        _file: file,
    }
}

/// A cart of priced lines, one per (seller, amount), each with a description of its own (so that
/// two carts are never taken for a retry of one another).
fn cart(buyer: &str, card: &str, lines: &[(&str, i64)]) -> Value {
    let n = unique();
    let items: Vec<Value> = lines
        .iter()
        .map(|(seller, amount)| {
            json!({"seller": seller, "description": format!("item #{n}"), "unit_amount": amount, "quantity": 1})
        })
        .collect();
    json!({
        "buyer": buyer,
        "currency": "usd",
        "items": items,
        "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    })
}

impl Server {
    async fn act(&self, order: &str, action: &str, key: &str, body: Value) -> Answer {
        self.post(&format!("/v1/orders/{order}/{action}"), key, body)
            .await
    }

    /// A checkout by the platform for alice that must succeed (its sellers are created if
    /// need be): the payment object.
    async fn pay(&self, card: &str, lines: &[(&str, i64)]) -> Value {
        for (seller, _) in lines {
            common::ensure_party(&self.app, PartyKind::Seller, seller).await;
        }
        let a = self
            .send(
                "POST",
                "/v1/checkouts",
                &self.platform,
                None,
                Some(&cart("buy_alice", card, lines).to_string()),
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::CREATED,
            "{}: {}",
            self.backend,
            a.body
        );
        a.body
    }

    async fn order(&self, id: &str) -> Value {
        self.get(&format!("/v1/orders/{id}"), &self.platform)
            .await
            .body
    }

    async fn payment(&self, id: &str) -> Value {
        let a = self
            .get(&format!("/v1/payments/{id}"), &self.platform)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}: {}", self.backend, a.body);
        a.body
    }

    fn statement(&self) -> Vec<StatementLine> {
        self.sandbox.statement().unwrap()
    }

    fn provider_refunds(&self) -> Vec<StatementLine> {
        self.statement()
            .into_iter()
            .filter(|l| l.kind == StatementKind::Refund)
            .collect()
    }

    fn provider_charges(&self) -> Vec<StatementLine> {
        self.statement()
            .into_iter()
            .filter(|l| l.kind == StatementKind::Charge)
            .collect()
    }

    /// (event type, object id) of every test-mode event, oldest first.
    async fn events(&self) -> Vec<(String, String)> {
        self.app
            .store
            .events_after(0, false, 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.event.kind, e.event.object_id))
            .collect()
    }

    async fn count_events(&self, kind: &str, object: &str) -> usize {
        self.events()
            .await
            .iter()
            .filter(|(k, o)| k == kind && o == object)
            .count()
    }

    async fn refunds_payable(&self) -> i64 {
        self.app
            .store
            .account(&holdback_domain::AccountId::parse("test:refunds_payable:USD").unwrap())
            .await
            .unwrap()
            .map_or(0, |a| i64::try_from(a.posted_balance()).unwrap())
    }

    /// The provider's statement and holdback's records agree; every refund record that
    /// succeeded was made exactly once at the provider, with its amount, and nothing else was;
    /// the ledger and business audits are clean.
    async fn all_agree(&self) {
        let b = self.backend;
        let (ops, recorded, found) =
            reconcile::provider(&self.app, self.app.cards.test.as_ref(), false)
                .await
                .unwrap();
        assert!(found.is_empty(), "{b}: {found:?}");
        assert_eq!(ops, recorded, "{b}");
        let by_ref: BTreeMap<String, Vec<StatementLine>> = self
            .provider_refunds()
            .into_iter()
            .fold(BTreeMap::new(), |mut m, l| {
                m.entry(l.reference.clone()).or_default().push(l);
                m
            });
        let records = self.app.store.all_refunds().await.unwrap();
        for r in &records {
            let lines = by_ref.get(&r.id).map_or(&[][..], Vec::as_slice);
            match r.state {
                RefundState::Succeeded { .. } => {
                    assert_eq!(
                        lines.len(),
                        1,
                        "{b}: refund {} at the provider {lines:?}",
                        r.id
                    );
                    assert_eq!(lines[0].amount, r.amount, "{b}: {}", r.id);
                }
                _ => assert!(
                    lines.is_empty(),
                    "{b}: {} not succeeded but made: {lines:?}",
                    r.id
                ),
            }
        }
        assert!(
            by_ref.keys().all(|k| records.iter().any(|r| r.id == *k)),
            "{b}: a refund at the provider with no record"
        );
        let report = self.app.store.audit().await.unwrap();
        assert!(report.is_clean(), "{b}: {:?}", report.breaches);
        let business = self.app.store.business_audit().await.unwrap();
        assert!(business.is_empty(), "{b}: {business:?}");
    }

    /// What must not change when a request is refused.
    async fn snapshot(
        &self,
        objects: &[(&str, &str)],
    ) -> (holdback_domain::ledger::Head, usize, usize, Vec<Value>) {
        let head = self.app.store.head().await.unwrap();
        let payments = self.app.store.all_payment_ids().await.unwrap().len();
        let mut seen = Vec::new();
        for (kind, id) in objects {
            seen.push(match *kind {
                "order" => self.order(id).await,
                _ => self.payment(id).await,
            });
        }
        (head, self.statement().len(), payments, seen)
    }
}

fn orders_by_seller(payment: &Value) -> BTreeMap<String, String> {
    payment["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["seller"].as_str().unwrap().to_string(),
                o["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pid(payment: &Value) -> String {
    payment["id"].as_str().unwrap().to_string()
}

fn code(a: &Answer) -> &str {
    a.body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn each_refund_path_reaches_the_provider_exactly_once() {
    for db in TestDb::all("each_refund_path_reaches_the_provider_exactly_once").await {
        let s = start(&db).await;
        let b = s.backend;
        let paid = s
            .pay(
                VISA,
                &[
                    ("sel_a", 1000),
                    ("sel_b", 2000),
                    ("sel_c", 3000),
                    ("sel_d", 4000),
                    ("sel_e", 5000),
                ],
            )
            .await;
        let payment = pid(&paid);
        let o = orders_by_seller(&paid);
        let p = &s.platform;
        // b: the buyer cancels, the seller accepts
        assert_eq!(
            s.act(&o["sel_b"], "request_cancel", &s.alice, json!({}))
                .await
                .status,
            StatusCode::OK,
            "{b}"
        );
        let accepted = s
            .act(&o["sel_b"], "answer_cancel", p, json!({"accept": true}))
            .await;
        assert_eq!(
            accepted.body["status"], "cancelled",
            "{b}: {}",
            accepted.body
        );
        // c: the buyer cancels, the seller stays silent
        assert_eq!(
            s.act(&o["sel_c"], "request_cancel", &s.alice, json!({}))
                .await
                .status,
            StatusCode::OK,
            "{b}"
        );
        // d: a full refund; e: shipped, then a partial one
        let full = s
            .act(
                &o["sel_d"],
                "refund",
                p,
                json!({"amount": 4000, "currency": "usd"}),
            )
            .await;
        assert_eq!(full.body["status"], "cancelled", "{b}: {}", full.body);
        s.act(
            &o["sel_e"],
            "ship",
            p,
            json!({"carrier": "dhl", "tracking_number": "E1"}),
        )
        .await;
        let partial = s
            .act(
                &o["sel_e"],
                "refund",
                p,
                json!({"amount": 1234, "currency": "usd"}),
            )
            .await;
        assert_eq!(
            (
                partial.body["status"].as_str(),
                partial.body["amount_refunded"].as_i64()
            ),
            (Some("shipped"), Some(1234)),
            "{b}: {}",
            partial.body
        );
        // c's answer time passes, then a's ship-by
        s.clock.set_ms(T0 + 2 * DAY + 60_000);
        assert_eq!(scheduler::tick(&s.app, 100).await.unwrap().fired, 1, "{b}");
        s.clock.set_ms(T0 + 7 * DAY + 1);
        assert_eq!(scheduler::tick(&s.app, 100).await.unwrap().fired, 1, "{b}");
        assert_eq!(s.order(&o["sel_a"]).await["status"], "cancelled", "{b}");
        assert_eq!(s.order(&o["sel_c"]).await["status"], "cancelled", "{b}");

        // nothing reached the provider before the worker
        assert!(s.provider_refunds().is_empty(), "{b}");
        assert_eq!(
            s.refunds_payable().await,
            1000 + 2000 + 3000 + 4000 + 1234,
            "{b}"
        );
        let pass = refunds::tick(&s.app, 100).await.unwrap();
        assert_eq!(
            pass,
            refunds::Pass {
                succeeded: 5,
                ..Default::default()
            },
            "{b}"
        );
        let again = refunds::tick(&s.app, 100).await.unwrap();
        assert_eq!(
            again,
            refunds::Pass::default(),
            "{b}: a second pass does nothing"
        );

        let view = s.payment(&payment).await;
        let shown = view["refunds"].as_array().unwrap();
        assert_eq!(shown.len(), 5, "{b}: {view}");
        let mut reasons = BTreeSet::new();
        let lines = s.provider_refunds();
        assert_eq!(lines.len(), 5, "{b}: {lines:?}");
        let charge = s.sandbox.charge_by_reference(&payment).unwrap().unwrap();
        for r in shown {
            let id = r["id"].as_str().unwrap();
            assert_eq!(r["status"], "succeeded", "{b}: {r}");
            assert_eq!(r["attempts"], 1, "{b}: {r}");
            let at: Vec<_> = lines.iter().filter(|l| l.reference == id).collect();
            assert_eq!(at.len(), 1, "{b}: {id}");
            assert_eq!(
                Some(at[0].amount.minor()),
                r["amount"].as_i64(),
                "{b}: {id}"
            );
            assert_eq!(at[0].charge_id, charge.id, "{b}");
            assert_eq!(s.count_events("refund.succeeded", id).await, 1, "{b}: {id}");
            let order = r["order"].as_str().unwrap();
            let seller = o.iter().find(|(_, oid)| *oid == order).unwrap().0.clone();
            reasons.insert((
                seller,
                r["reason"].as_str().unwrap().to_string(),
                r["amount"].as_i64().unwrap(),
            ));
        }
        let expected: BTreeSet<(String, String, i64)> = [
            ("sel_a", "ship_by_missed", 1000),
            ("sel_b", "cancel_accepted", 2000),
            ("sel_c", "cancel_unanswered", 3000),
            ("sel_d", "requested", 4000),
            ("sel_e", "requested", 1234),
        ]
        .into_iter()
        .map(|(s, r, a)| (s.to_string(), r.to_string(), a))
        .collect();
        assert_eq!(reasons, expected, "{b}");
        assert_eq!(view["amount_refunded"], 11_234, "{b}");
        assert_eq!(charge.refunded.minor(), 11_234, "{b}");
        let events = s.events().await;
        assert_eq!(
            events
                .iter()
                .filter(|(k, _)| k == "refund.succeeded")
                .count(),
            5,
            "{b}"
        );
        assert_eq!(s.refunds_payable().await, 0, "{b}: nothing owed any more");
        s.all_agree().await;
    }
}

#[tokio::test]
async fn faults_at_the_provider_neither_lose_nor_double_money() {
    for db in TestDb::all("faults_at_the_provider_neither_lose_nor_double_money").await {
        let s = start(&db).await;
        let b = s.backend;
        let p = &s.platform;
        let fault = |op, effect| {
            s.sandbox
                .add_fault(Fault {
                    op,
                    effect,
                    times: 1,
                })
                .unwrap()
        };
        let refund_record = |id: String| {
            let app = s.app.clone();
            async move { app.store.refund(&id).await.unwrap().unwrap().0 }
        };
        // One refund of a fresh order: its id.
        let refund_one = || async {
            let paid = s.pay(VISA, &[("sel_bob", 1500)]).await;
            let order = orders_by_seller(&paid)["sel_bob"].clone();
            let done = s
                .act(
                    &order,
                    "refund",
                    p,
                    json!({"amount": 1500, "currency": "usd"}),
                )
                .await;
            assert_eq!(done.status, StatusCode::OK, "{b}: {}", done.body);
            let view = s.payment(&pid(&paid)).await;
            view["refunds"][0]["id"].as_str().unwrap().to_string()
        };

        // refund Timeout: nothing at the provider; pending; the retry after 10 s succeeds once
        let id = refund_one().await;
        fault(FaultOp::Refund, FaultEffect::Timeout);
        let pass = refunds::tick(&s.app, 100).await.unwrap();
        assert_eq!(
            pass,
            refunds::Pass {
                unknown: 1,
                ..Default::default()
            },
            "{b}"
        );
        assert!(
            s.sandbox.refund_by_reference(&id).unwrap().is_none(),
            "{b}: not made"
        );
        let r = refund_record(id.clone()).await;
        assert!(
            matches!(r.state, RefundState::Pending { next_attempt_at, .. } if next_attempt_at == s.clock_now() + 10_000),
            "{b}: {r:?}"
        );
        assert_eq!(
            refunds::tick(&s.app, 100).await.unwrap(),
            refunds::Pass::default(),
            "{b}: not due yet"
        );
        s.clock.advance_ms(10_001);
        assert_eq!(
            refunds::tick(&s.app, 100).await.unwrap().succeeded,
            1,
            "{b}"
        );
        assert_eq!(
            s.provider_refunds()
                .iter()
                .filter(|l| l.reference == id)
                .count(),
            1,
            "{b}"
        );
        assert_eq!(s.count_events("refund.succeeded", &id).await, 1, "{b}");
        s.all_agree().await;

        // refund AnswerLost: the provider did it, holdback does not know; the retry is answered
        // from the provider's record and recorded once
        let id = refund_one().await;
        fault(FaultOp::Refund, FaultEffect::AnswerLost);
        assert_eq!(refunds::tick(&s.app, 100).await.unwrap().unknown, 1, "{b}");
        let made = s
            .sandbox
            .refund_by_reference(&id)
            .unwrap()
            .expect("made at the provider");
        assert!(refund_record(id.clone()).await.is_pending(), "{b}");
        let (_, _, found) = reconcile::provider(&s.app, s.app.cards.test.as_ref(), false)
            .await
            .unwrap();
        assert_eq!(
            found.len(),
            1,
            "{b}: the unrecorded refund shows meanwhile: {found:?}"
        );
        s.clock.advance_ms(10_001);
        assert_eq!(
            refunds::tick(&s.app, 100).await.unwrap().succeeded,
            1,
            "{b}"
        );
        assert_eq!(
            s.provider_refunds()
                .iter()
                .filter(|l| l.reference == id)
                .count(),
            1,
            "{b}: once"
        );
        match refund_record(id.clone()).await.state {
            RefundState::Succeeded { provider_id, .. } => assert_eq!(provider_id, made.id, "{b}"),
            other => panic!("{b}: {other:?}"),
        }
        assert_eq!(s.count_events("refund.succeeded", &id).await, 1, "{b}");
        s.all_agree().await;

        // refund Fail (definite): refund.failed, then success a minute later
        let id = refund_one().await;
        fault(FaultOp::Refund, FaultEffect::Fail);
        assert_eq!(refunds::tick(&s.app, 100).await.unwrap().failed, 1, "{b}");
        assert!(s.sandbox.refund_by_reference(&id).unwrap().is_none(), "{b}");
        assert_eq!(s.count_events("refund.failed", &id).await, 1, "{b}");
        let shown = s.get(&format!("/v1/refunds/{id}"), p).await.body;
        assert_eq!(
            (shown["status"].as_str(), shown["failure_code"].as_str()),
            (Some("pending"), Some("processing_error")),
            "{b}: {shown}"
        );
        s.clock.advance_ms(30_000);
        assert_eq!(
            refunds::tick(&s.app, 100).await.unwrap(),
            refunds::Pass::default(),
            "{b}: backoff"
        );
        s.clock.advance_ms(30_001);
        assert_eq!(
            refunds::tick(&s.app, 100).await.unwrap().succeeded,
            1,
            "{b}"
        );
        assert_eq!(
            s.provider_refunds()
                .iter()
                .filter(|l| l.reference == id)
                .count(),
            1,
            "{b}"
        );
        assert_eq!(s.count_events("refund.succeeded", &id).await, 1, "{b}");
        s.all_agree().await;

        // charge Timeout / AnswerLost at checkout, retried with the same Idempotency-Key
        for (effect, key) in [
            (FaultEffect::Timeout, "k-timeout"),
            (FaultEffect::AnswerLost, "k-lost"),
        ] {
            let body = cart("buy_alice", VISA, &[("sel_bob", 2100), ("sel_carol", 900)]);
            let charges = s.provider_charges().len();
            fault(FaultOp::Charge, effect);
            let first = s
                .send(
                    "POST",
                    "/v1/checkouts",
                    p,
                    Some(key),
                    Some(&body.to_string()),
                )
                .await;
            assert_eq!(
                (first.status, code(&first)),
                (StatusCode::CONFLICT, "payment_processing"),
                "{b}: {effect:?} {}",
                first.body
            );
            let made = s.provider_charges().len() - charges;
            assert_eq!(
                made,
                usize::from(effect == FaultEffect::AnswerLost),
                "{b}: {effect:?}"
            );
            let second = s
                .send(
                    "POST",
                    "/v1/checkouts",
                    p,
                    Some(key),
                    Some(&body.to_string()),
                )
                .await;
            assert_eq!(
                second.status,
                StatusCode::CREATED,
                "{b}: {effect:?} {}",
                second.body
            );
            assert_eq!(second.body["orders"].as_array().unwrap().len(), 2, "{b}");
            let payment = pid(&second.body);
            let lines: Vec<_> = s
                .provider_charges()
                .into_iter()
                .filter(|l| l.reference == payment)
                .collect();
            assert_eq!(lines.len(), 1, "{b}: {effect:?} charged once: {lines:?}");
            assert_eq!(lines[0].amount.minor(), 3000, "{b}");
            assert_eq!(s.provider_charges().len(), charges + 1, "{b}");
            let third = s
                .send(
                    "POST",
                    "/v1/checkouts",
                    p,
                    Some(key),
                    Some(&body.to_string()),
                )
                .await;
            assert_eq!(
                (third.status, pid(&third.body)),
                (StatusCode::CREATED, payment.clone()),
                "{b}: replayed"
            );
            assert_eq!(
                s.count_events("payment.succeeded", &payment).await,
                1,
                "{b}"
            );
            s.all_agree().await;
        }

        // charge AnswerLost, no client retry: settled by asking the provider → captured
        let before: BTreeSet<String> = s
            .app
            .store
            .all_payment_ids()
            .await
            .unwrap()
            .into_iter()
            .collect();
        fault(FaultOp::Charge, FaultEffect::AnswerLost);
        let lost = s
            .post(
                "/v1/checkouts",
                p,
                cart("buy_alice", VISA, &[("sel_bob", 700)]),
            )
            .await;
        assert_eq!(code(&lost), "payment_processing", "{b}: {}", lost.body);
        let new_payment = |before: &BTreeSet<String>| {
            let app = s.app.clone();
            let before = before.clone();
            async move {
                let ids: Vec<String> = app
                    .store
                    .all_payment_ids()
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|i| !before.contains(i))
                    .collect();
                assert_eq!(ids.len(), 1, "{ids:?}");
                ids[0].clone()
            }
        };
        let payment = new_payment(&before).await;
        assert_eq!(s.payment(&payment).await["status"], "processing", "{b}");
        assert_eq!(
            payments::settle_stale(&s.app, 100).await.unwrap(),
            0,
            "{b}: too early"
        );
        s.clock.advance_ms(s.app.policy.settle_after_ms + 1);
        assert_eq!(payments::settle_stale(&s.app, 100).await.unwrap(), 1, "{b}");
        let view = s.payment(&payment).await;
        assert_eq!(view["status"], "succeeded", "{b}: {view}");
        assert_eq!(view["orders"].as_array().unwrap().len(), 1, "{b}: {view}");
        assert_eq!(view["orders"][0]["status"], "paid", "{b}");
        assert_eq!(
            s.provider_charges()
                .iter()
                .filter(|l| l.reference == payment)
                .count(),
            1,
            "{b}"
        );
        assert_eq!(
            payments::settle_stale(&s.app, 100).await.unwrap(),
            0,
            "{b}: settled once"
        );
        s.all_agree().await;

        // charge Timeout, no client retry: the provider made nothing → failed, no orders
        let before: BTreeSet<String> = s
            .app
            .store
            .all_payment_ids()
            .await
            .unwrap()
            .into_iter()
            .collect();
        let orders_before = s.get("/v1/orders?limit=100", p).await.body["data"]
            .as_array()
            .unwrap()
            .len();
        fault(FaultOp::Charge, FaultEffect::Timeout);
        let timed_out = s
            .post(
                "/v1/checkouts",
                p,
                cart("buy_alice", VISA, &[("sel_bob", 800)]),
            )
            .await;
        assert_eq!(
            code(&timed_out),
            "payment_processing",
            "{b}: {}",
            timed_out.body
        );
        let payment = new_payment(&before).await;
        s.clock.advance_ms(s.app.policy.settle_after_ms + 1);
        assert_eq!(payments::settle_stale(&s.app, 100).await.unwrap(), 1, "{b}");
        let view = s.payment(&payment).await;
        assert_eq!(
            (view["status"].as_str(), view["failure_code"].as_str()),
            (Some("failed"), Some("charge_not_found")),
            "{b}: {view}"
        );
        assert!(view["orders"].as_array().unwrap().is_empty(), "{b}");
        assert_eq!(
            s.get("/v1/orders?limit=100", p).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            orders_before,
            "{b}: no orders"
        );
        assert!(
            s.sandbox.charge_by_reference(&payment).unwrap().is_none(),
            "{b}"
        );
        assert!(
            s.sandbox.faults().unwrap().is_empty(),
            "{b}: every fault was used"
        );
        s.all_agree().await;
    }
}

impl Server {
    fn clock_now(&self) -> i64 {
        holdback_store::clock::Clock::now_ms(&self.clock)
    }
}

#[tokio::test]
async fn a_refund_the_provider_keeps_refusing_waits_for_an_operator() {
    for db in TestDb::all("a_refund_the_provider_keeps_refusing_waits_for_an_operator").await {
        let s = start(&db).await;
        let b = s.backend;
        let p = &s.platform;
        let paid = s.pay(REFUNDS_FAIL_CARD, &[("sel_bob", 2500)]).await;
        let payment = pid(&paid);
        let order = orders_by_seller(&paid)["sel_bob"].clone();
        let done = s
            .act(
                &order,
                "refund",
                p,
                json!({"amount": 2500, "currency": "usd"}),
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{b}: {}", done.body);
        let id = s.payment(&payment).await["refunds"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let policy = s.app.policy.refunds;

        // five definite failures, each after the backoff of the one before
        let fail_until_given_up = |first: u32| {
            let s = &s;
            let id = id.clone();
            async move {
                for n in first..=policy.max_failures {
                    if n > first {
                        let early = refunds::tick(&s.app, 100).await.unwrap();
                        assert_eq!(
                            early,
                            refunds::Pass::default(),
                            "{b}: failure {n} not due yet"
                        );
                        s.clock.advance_ms(policy.backoff(n - 1));
                    }
                    let pass = refunds::tick(&s.app, 100).await.unwrap();
                    assert_eq!(
                        pass,
                        refunds::Pass {
                            failed: 1,
                            ..Default::default()
                        },
                        "{b}: failure {n}"
                    );
                    let r = s.app.store.refund(&id).await.unwrap().unwrap().0;
                    if n < policy.max_failures {
                        assert!(r.is_pending(), "{b}: {r:?}");
                    } else {
                        assert!(matches!(r.state, RefundState::Failed { .. }), "{b}: {r:?}");
                    }
                }
            }
        };
        fail_until_given_up(1).await;
        assert_eq!(s.count_events("refund.failed", &id).await, 5, "{b}");
        s.clock.advance_ms(30 * DAY);
        assert_eq!(
            refunds::tick(&s.app, 100).await.unwrap(),
            refunds::Pass::default(),
            "{b}: given up"
        );
        let failed = s.get("/v1/refunds?status=failed", p).await;
        assert_eq!(failed.status, StatusCode::OK, "{b}: {}", failed.body);
        let listed: Vec<&str> = failed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(listed, vec![id.as_str()], "{b}");
        assert_eq!(
            failed.body["data"][0]["failure_code"], "refund_failed",
            "{b}: {}",
            failed.body
        );
        let not_platform = s.get("/v1/refunds?status=failed", &s.alice).await;
        assert_eq!(code(&not_platform), "not_permitted", "{b}");
        assert_eq!(s.refunds_payable().await, 2500, "{b}: the money is owed");
        assert!(s.provider_refunds().is_empty(), "{b}");
        s.all_agree().await;

        // the operator retries while the provider still refuses: it fails again
        let retried = refunds::retry(&s.app, &id).await.unwrap();
        assert_eq!(retried["status"], "pending", "{b}: {retried}");
        let again = refunds::retry(&s.app, &id).await;
        assert!(
            matches!(
                &again,
                Err(holdback_app::AppError::Rejected {
                    code: ErrorCode::RefundNotFailed,
                    ..
                })
            ),
            "{b}: {again:?}"
        );
        fail_until_given_up(1).await;
        assert_eq!(s.count_events("refund.failed", &id).await, 10, "{b}");
        assert!(s.provider_refunds().is_empty(), "{b}");
        assert_eq!(s.refunds_payable().await, 2500, "{b}");

        // the provider heals the charge; the operator's retry succeeds once
        let charge = s.sandbox.charge_by_reference(&payment).unwrap().unwrap();
        s.sandbox.heal_refunds(&charge.id).unwrap();
        refunds::retry(&s.app, &id).await.unwrap();
        let pass = refunds::tick(&s.app, 100).await.unwrap();
        assert_eq!(
            pass,
            refunds::Pass {
                succeeded: 1,
                ..Default::default()
            },
            "{b}"
        );
        assert_eq!(
            refunds::tick(&s.app, 100).await.unwrap(),
            refunds::Pass::default(),
            "{b}"
        );
        let shown = s.get(&format!("/v1/refunds/{id}"), p).await.body;
        assert_eq!(shown["status"], "succeeded", "{b}: {shown}");
        assert_eq!(s.count_events("refund.succeeded", &id).await, 1, "{b}");
        let lines = s.provider_refunds();
        assert_eq!(lines.len(), 1, "{b}: {lines:?}");
        assert_eq!(
            (lines[0].reference.as_str(), lines[0].amount.minor()),
            (id.as_str(), 2500),
            "{b}"
        );
        assert!(
            s.get("/v1/refunds?status=failed", p).await.body["data"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{b}"
        );
        assert_eq!(s.refunds_payable().await, 0, "{b}");
        s.all_agree().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_racing_auto_confirm_ends_one_way() {
    for db in TestDb::all("a_refund_racing_auto_confirm_ends_one_way").await {
        let s = Arc::new(start(&db).await);
        let b = s.backend;
        let p = s.platform.clone();
        // 100 orders from two checkouts of 50 sellers, each shipped and delivered at T0
        let mut orders = Vec::new();
        for c in 0..2 {
            let sellers: Vec<String> = (0..50).map(|i| format!("sel_r{c}_{i}")).collect();
            let lines: Vec<(&str, i64)> = sellers
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), 1000 + i as i64))
                .collect();
            let paid = s.pay(VISA, &lines).await;
            orders.extend(orders_by_seller(&paid).into_values());
        }
        assert_eq!(orders.len(), 100, "{b}");
        for o in &orders {
            assert_eq!(
                s.act(
                    o,
                    "ship",
                    &p,
                    json!({"carrier": "dhl", "tracking_number": "R"})
                )
                .await
                .status,
                StatusCode::OK,
                "{b}"
            );
            assert_eq!(
                s.act(o, "mark_delivered", &p, json!({})).await.body["status"],
                "delivered",
                "{b}"
            );
        }
        s.clock.set_ms(T0 + 15 * DAY);
        let mut amounts = Vec::new();
        for o in &orders {
            amounts.push((o.clone(), s.order(o).await["amount"].as_i64().unwrap()));
        }
        let mut refunds_asked = Vec::new();
        for (o, amount) in amounts {
            let (s, p) = (s.clone(), p.clone());
            refunds_asked.push(tokio::spawn(async move {
                // "conflict" asks the client to retry: refunds of orders of one payment all
                // change that payment, and 50 of them at once can exhaust the server's attempts
                let mut conflicts = 0;
                loop {
                    let a = s
                        .act(
                            &o,
                            "refund",
                            &p,
                            json!({"amount": amount, "currency": "usd"}),
                        )
                        .await;
                    if code(&a) == "conflict" && conflicts < 50 {
                        conflicts += 1;
                        continue;
                    }
                    return (o, a.status, a.body, conflicts);
                }
            }));
        }
        let (x, y) = tokio::join!(scheduler::tick(&s.app, 1000), scheduler::tick(&s.app, 1000));
        let (x, y) = (x.unwrap(), y.unwrap());
        let mut answers = BTreeMap::new();
        let mut conflicts = 0;
        for h in refunds_asked {
            let (o, status, body, c) = h.await.unwrap();
            conflicts += c;
            answers.insert(o, (status, body));
        }
        let rest = scheduler::tick(&s.app, 1000).await.unwrap();
        let (mut completed, mut cancelled) = (0, 0);
        let all_refunds = s.app.store.all_refunds().await.unwrap();
        for o in &orders {
            let view = s.order(o).await;
            let mine: Vec<_> = all_refunds.iter().filter(|r| r.order == *o).collect();
            let (status, body) = &answers[o];
            match view["status"].as_str() {
                Some("completed") => {
                    completed += 1;
                    assert!(mine.is_empty(), "{b}: {o} completed and refunded");
                    assert_eq!(view["amount_refunded"], 0, "{b}");
                    assert_eq!(
                        (*status, body["error"]["code"].as_str()),
                        (StatusCode::CONFLICT, Some("hold_already_released")),
                        "{b}: {o}: {body}"
                    );
                }
                Some("cancelled") => {
                    cancelled += 1;
                    assert_eq!(mine.len(), 1, "{b}: {o}: {mine:?}");
                    assert_eq!(view["release"], Value::Null, "{b}");
                    assert_eq!(Some(mine[0].amount.minor()), view["amount"].as_i64(), "{b}");
                    assert_eq!(*status, StatusCode::OK, "{b}: {o}: {body}");
                }
                other => panic!("{b}: {o} ended {other:?}"),
            }
        }
        eprintln!(
            "{b}: {completed} completed, {cancelled} refunded, {conflicts} conflicts retried; ticks {x:?} {y:?} {rest:?}"
        );
        assert_eq!(completed + cancelled, 100, "{b}");
        assert_eq!(
            x.fired + y.fired + rest.fired,
            completed,
            "{b}: each release fired once"
        );
        let pass = refunds::tick(&s.app, 1000).await.unwrap();
        assert_eq!(
            pass,
            refunds::Pass {
                succeeded: cancelled,
                ..Default::default()
            },
            "{b}"
        );
        assert_eq!(s.provider_refunds().len(), cancelled, "{b}");
        assert_eq!(
            refunds::tick(&s.app, 1000).await.unwrap(),
            refunds::Pass::default(),
            "{b}"
        );
        s.all_agree().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_racing_an_extension_request_keeps_both() {
    for db in TestDb::all("a_refund_racing_an_extension_request_keeps_both").await {
        let s = Arc::new(start(&db).await);
        let b = s.backend;
        const ROUNDS: usize = 12;
        let mut orders = Vec::new();
        for _ in 0..ROUNDS {
            let paid = s.pay(VISA, &[("sel_bob", 3000)]).await;
            let o = orders_by_seller(&paid)["sel_bob"].clone();
            assert_eq!(
                s.act(
                    &o,
                    "ship",
                    &s.bob,
                    json!({"carrier": "dhl", "tracking_number": "X"})
                )
                .await
                .status,
                StatusCode::OK,
                "{b}"
            );
            orders.push(o);
        }
        s.clock.set_ms(T0 + 5 * DAY);
        let mut tasks = Vec::new();
        for (i, o) in orders.iter().enumerate() {
            // even rounds: a full refund by the seller; odd: a partial one by the platform
            let (key, amount) = if i % 2 == 0 {
                (s.bob.clone(), 3000)
            } else {
                (s.platform.clone(), 1000)
            };
            let (s1, s2, o1, o2) = (s.clone(), s.clone(), o.clone(), o.clone());
            tasks.push(tokio::spawn(async move {
                // which request is sent first alternates every two rounds (the delay only skews the
                // race; nothing asserts on timing)
                let refund_first = i % 4 >= 2;
                let ext = async {
                    if refund_first {
                        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                    }
                    s1.act(&o1, "request_extension", &s1.alice, json!({"days": 5}))
                        .await
                };
                let refund = async {
                    if !refund_first {
                        tokio::task::yield_now().await;
                    }
                    s2.act(
                        &o2,
                        "refund",
                        &key,
                        json!({"amount": amount, "currency": "usd"}),
                    )
                    .await
                };
                let (ext, refund) = tokio::join!(ext, refund);
                (o1, amount, ext, refund)
            }));
        }
        let mut extension_first = 0;
        for t in tasks {
            let (o, amount, ext, refund) = t.await.unwrap();
            assert_eq!(refund.status, StatusCode::OK, "{b}: {o}: {}", refund.body);
            let view = s.order(&o).await;
            assert_eq!(
                view["amount_refunded"], amount,
                "{b}: {o}: the refund is kept: {view}"
            );
            let mine: Vec<_> = s
                .app
                .store
                .all_refunds()
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.order == o)
                .collect();
            assert_eq!(mine.len(), 1, "{b}: {o}: {mine:?}");
            assert_eq!(mine[0].amount.minor(), amount, "{b}");
            let extension_ok = ext.status == StatusCode::OK;
            if extension_ok {
                extension_first += 1;
            }
            if amount == 3000 {
                assert_eq!(view["status"], "cancelled", "{b}: {view}");
                if !extension_ok {
                    assert_eq!(code(&ext), "order_cancelled", "{b}: {o}: {}", ext.body);
                }
                assert_eq!(
                    s.count_events("order.extension_requested", &o).await,
                    usize::from(extension_ok),
                    "{b}: {o}"
                );
            } else {
                assert_eq!(ext.status, StatusCode::OK, "{b}: {o}: {}", ext.body);
                assert_eq!(
                    (
                        view["status"].as_str(),
                        view["extension_requested_days"].as_i64()
                    ),
                    (Some("shipped"), Some(5)),
                    "{b}: {o}: the extension request is kept: {view}"
                );
            }
        }
        eprintln!("{b}: the extension request came first in {extension_first} of {ROUNDS}");
        let pass = refunds::tick(&s.app, 100).await.unwrap();
        assert_eq!(
            pass,
            refunds::Pass {
                succeeded: ROUNDS,
                ..Default::default()
            },
            "{b}"
        );
        assert_eq!(s.provider_refunds().len(), ROUNDS, "{b}");
        s.all_agree().await;
    }
}

#[tokio::test]
async fn each_rejection_is_named_and_moves_no_money() {
    for db in TestDb::all("each_rejection_is_named_and_moves_no_money").await {
        let s = start(&db).await;
        let b = s.backend;
        let p = s.platform.clone();
        let paid = s.pay(VISA, &[("sel_bob", 2000), ("sel_carol", 3000)]).await;
        let payment = pid(&paid);
        let o = orders_by_seller(&paid);
        let (bob_order, carol_order) = (o["sel_bob"].clone(), o["sel_carol"].clone());
        s.act(&carol_order, "request_cancel", &s.alice, json!({}))
            .await;
        let watched = [
            ("payment", payment.as_str()),
            ("order", bob_order.as_str()),
            ("order", carol_order.as_str()),
        ];

        let live = keys::create(&s.app, &Role::Platform, true).await.unwrap();
        let long = "x".repeat(33);
        let many: Vec<String> = (0..65).map(|i| format!("sel_m{i}")).collect();
        let many_lines: Vec<(&str, i64)> = many.iter().map(|s| (s.as_str(), 100)).collect();
        let checkouts: Vec<(&str, Value, &str)> = vec![
            (
                live.as_str(),
                cart("buy_alice", VISA, &[("sel_bob", 500)]),
                "livemode_unavailable",
            ),
            (
                p.as_str(),
                cart(&long, VISA, &[("sel_bob", 500)]),
                "invalid_party_id",
            ),
            (
                p.as_str(),
                cart("buy_alice", VISA, &[(long.as_str(), 500)]),
                "invalid_party_id",
            ),
            (
                p.as_str(),
                cart("buy_alice", VISA, &many_lines),
                "too_many_sellers",
            ),
        ];
        for (key, body, expected) in checkouts {
            let before = s.snapshot(&watched).await;
            let a = s
                .send("POST", "/v1/checkouts", key, None, Some(&body.to_string()))
                .await;
            assert!(a.status.is_client_error(), "{b}: {expected}: {}", a.body);
            assert_eq!(code(&a), expected, "{b}: {}", a.body);
            assert_eq!(
                s.snapshot(&watched).await,
                before,
                "{b}: {expected} changed something"
            );
        }

        // the cancellation answer after 48 h
        s.clock.set_ms(T0 + 2 * DAY + 1);
        let before = s.snapshot(&watched).await;
        let late = s
            .act(&carol_order, "answer_cancel", &p, json!({"accept": false}))
            .await;
        assert_eq!(code(&late), "cancel_answer_late", "{b}: {}", late.body);
        let late = s
            .act(&carol_order, "answer_cancel", &p, json!({"accept": true}))
            .await;
        assert_eq!(code(&late), "cancel_answer_late", "{b}: {}", late.body);
        assert_eq!(s.snapshot(&watched).await, before, "{b}");

        // the shipment after ship-by (the timer has not fired yet)
        s.clock.set_ms(T0 + 7 * DAY + 1);
        let before = s.snapshot(&watched).await;
        let ship = s
            .act(
                &bob_order,
                "ship",
                &s.bob,
                json!({"carrier": "dhl", "tracking_number": "L"}),
            )
            .await;
        assert_eq!(code(&ship), "ship_by_passed", "{b}: {}", ship.body);
        assert_eq!(s.snapshot(&watched).await, before, "{b}");
        assert_eq!(s.statement().len(), 1, "{b}: only the one charge");
        assert!(s.app.store.all_refunds().await.unwrap().is_empty(), "{b}");

        // the timers then do what the refused requests could not, once
        assert_eq!(scheduler::tick(&s.app, 100).await.unwrap().fired, 2, "{b}");
        assert_eq!(
            refunds::tick(&s.app, 100).await.unwrap().succeeded,
            2,
            "{b}"
        );
        assert_eq!(s.provider_refunds().len(), 2, "{b}");
        s.all_agree().await;
    }
}
