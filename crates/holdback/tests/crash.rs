//! A crash between the provider's record and holdback's: the real `holdback serve` pays through
//! a sandbox provider file; the test arms a stall in that file, waits until the provider has
//! performed the call (its statement shows it), SIGKILLs the server before it can record the
//! answer, and restarts it. The restarted server must finish the job exactly once: the refund
//! succeeds without a second refund at the provider, the payment is captured (with its orders)
//! without a second charge, and `reconcile provider` and `ledger verify` both exit 0.
//! Runs on SQLite, and on PostgreSQL when `HOLDBACK_TEST_POSTGRES_URL` is set.
//!
//! Both servers run with `--provider-timeout-ms 8000`: the killed server's refund lease (twice
//! the timeout plus 5 s, 21 s) must run out before the restarted one may take the refund, and
//! with the default 30 s timeout that would be 65 s. The kill comes within moments of the
//! provider's record, long before the 8 s timeout would let the first server record an
//! unknown outcome (which the tests would see: the refund's attempts would no longer be 0).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use holdback_sandbox::{Fault, FaultEffect, FaultOp, Sandbox, StatementKind};
use holdback_store::testing::TestDb;
use serde_json::{Value, json};

/// The provider timeout both servers run with (see the module's comment).
const PROVIDER_TIMEOUT_MS: &str = "8000";
/// How long a test waits for something the restarted server must do (bounded polling).
const PATIENCE: Duration = Duration::from_secs(90);
const CARD: &str = "4242424242424242";

fn holdback(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holdback"))
        .arg("--database")
        .arg(db)
        .args(args)
        .output()
        .expect("run holdback")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Creates a buyer or seller (`buyer:ID`), as the platform does before a key or an order names it.
fn party(db: &str, role: &str) {
    let out = holdback(
        db,
        &["parties", "create", "--role", role, "--country", "DE"],
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// A test-mode key for `role`; a buyer's or seller's party is created first.
fn key(db: &str, role: &str) -> String {
    if role != "platform" {
        party(db, role);
    }
    let out = holdback(db, &["keys", "create", "--role", role]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A sandbox provider file of the test's own, removed (with its WAL) when dropped.
struct SandboxFile(PathBuf);

impl SandboxFile {
    fn new(test: &str) -> SandboxFile {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        SandboxFile(std::env::temp_dir().join(format!(
            "holdback_{test}_{}_{}.sandbox.db",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        )))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for SandboxFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// `holdback serve` on a free port, paying through `sandbox`; returns the child and its base URL
/// once it listens.
fn serve(db: &str, sandbox: &SandboxFile, extra: &[&str]) -> (Child, String) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", db, "serve", "--sandbox", &sandbox.arg()])
        .args(["--provider-timeout-ms", PROVIDER_TIMEOUT_MS])
        .args(extra)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("listening on"), "{first}");
    (child, format!("http://127.0.0.1:{port}"))
}

fn sigkill(mut child: Child) {
    child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
    child.wait().expect("reap");
}

/// Polls `check` every 50 ms until it gives a value, at most `PATIENCE` worth of polls.
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let every = Duration::from_millis(50);
    for _ in 0..PATIENCE.as_millis() / every.as_millis() {
        if let Some(v) = check() {
            return v;
        }
        std::thread::sleep(every);
    }
    panic!("gave up waiting for {what}");
}

/// One HTTP call; answers the status and the JSON body (`Null` if there is none).
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: &str,
    idem: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut req = http
        .request(method, url)
        .header("authorization", format!("Bearer {key}"));
    if let Some(k) = idem {
        req = req.header("idempotency-key", k);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

fn cart(buyer: &str, seller: &str, amount: i64) -> Value {
    json!({
        "buyer": buyer, "currency": "usd",
        "items": [{"seller": seller, "description": "teapot", "unit_amount": amount, "quantity": 1}],
        "card": {"number": CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    })
}

/// The provider's statement lines of one kind under one reference.
fn at_provider(sandbox: &Sandbox, kind: StatementKind, reference: &str) -> usize {
    sandbox
        .statement()
        .unwrap()
        .iter()
        .filter(|l| l.kind == kind && l.reference == reference)
        .count()
}

/// `reconcile provider` and `ledger verify` both exit 0.
fn assert_books_agree(b: &str, db: &str, sandbox: &SandboxFile) {
    let out = holdback(db, &["reconcile", "provider", "--sandbox", &sandbox.arg()]);
    assert_eq!(out.status.code(), Some(0), "{b}: {}", text(&out));
    assert!(
        text(&out).contains("0 discrepancies"),
        "{b}: {}",
        text(&out)
    );
    let out = holdback(db, &["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{b}: {}", text(&out));
    assert!(
        text(&out).contains("0 business breach(es)"),
        "{b}: {}",
        text(&out)
    );
}

#[test]
fn sigkill_after_the_provider_refunds_and_before_the_record_refunds_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = holdback_app::webhooks::http_client();
    for db in rt.block_on(TestDb::all("sigkill_between_refund_and_record")) {
        let b = db.backend();
        let file = SandboxFile::new("crash_refund");
        assert!(holdback(&db.url, &["migrate"]).status.success(), "{b}");
        let platform = key(&db.url, "platform");
        let seller = key(&db.url, "seller:sel_crash");
        party(&db.url, "buyer:buy_crash");
        let (server, base) = serve(&db.url, &file, &[]);

        // a paid order
        let (status, paid) = rt
            .block_on(call(
                &http,
                reqwest::Method::POST,
                format!("{base}/v1/checkouts"),
                &platform,
                Some("crash-refund-1"),
                Some(cart("buy_crash", "sel_crash", 2500)),
            ))
            .unwrap();
        assert_eq!(status, 201, "{b}: {paid}");
        let payment = paid["id"].as_str().unwrap().to_string();
        let order = paid["orders"][0]["id"].as_str().unwrap().to_string();

        // the provider will refund, record it, and then not answer for 30 s
        let sandbox = Sandbox::open(file.path()).unwrap();
        sandbox
            .add_fault(Fault {
                op: FaultOp::Refund,
                effect: FaultEffect::Stall { ms: 30_000 },
                times: 1,
            })
            .unwrap();
        let (status, after) = rt
            .block_on(call(
                &http,
                reqwest::Method::POST,
                format!("{base}/v1/orders/{order}/refund"),
                &seller,
                None,
                Some(json!({"amount": 2500, "currency": "usd"})),
            ))
            .unwrap();
        assert_eq!(status, 200, "{b}: {after}");
        let (_, seen) = rt
            .block_on(call(
                &http,
                reqwest::Method::GET,
                format!("{base}/v1/payments/{payment}"),
                &platform,
                None,
                None,
            ))
            .unwrap();
        assert_eq!(seen["refunds"].as_array().map(Vec::len), Some(1), "{seen}");
        let refund = seen["refunds"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(seen["refunds"][0]["status"], "pending", "{b}: {seen}");

        // the refund worker calls the provider within a second; kill the server in the stall
        wait_for("the provider's refund", || {
            (at_provider(&sandbox, StatementKind::Refund, &refund) > 0).then_some(())
        });
        sigkill(server);

        // the provider refunded; holdback still has the refund pending, never attempted
        let at = sandbox
            .refund_by_reference(&refund)
            .unwrap()
            .expect("refund");
        assert_eq!(at.amount.minor(), 2500, "{b}");
        let out = holdback(&db.url, &["refunds", "list"]);
        assert!(out.status.success(), "{b}: {}", text(&out));
        let line = text(&out)
            .lines()
            .find(|l| l.starts_with(&refund))
            .unwrap_or_else(|| panic!("{b}: {refund} not listed:\n{}", text(&out)))
            .to_string();
        assert!(line.contains(" pending "), "{b}: {line}");
        assert!(line.contains("attempts 0"), "{b}: {line}");
        // so the books disagree now: the provider has a refund holdback has not recorded
        let out = holdback(
            &db.url,
            &["reconcile", "provider", "--sandbox", &file.arg()],
        );
        assert_eq!(out.status.code(), Some(1), "{b}: {}", text(&out));

        // restart (the provider answers again): the worker retries under the same reference
        sandbox.clear_faults().unwrap();
        let (server, base) = serve(&db.url, &file, &[]);
        let done = wait_for("the refund to succeed", || {
            let (_, r) = rt
                .block_on(call(
                    &http,
                    reqwest::Method::GET,
                    format!("{base}/v1/refunds/{refund}"),
                    &platform,
                    None,
                    None,
                ))
                .ok()?;
            (r["status"] != "pending").then_some(r)
        });
        sigkill(server);
        assert_eq!(done["status"], "succeeded", "{b}: {done}");
        assert_eq!(done["amount"], 2500, "{b}: {done}");
        assert_eq!(
            at_provider(&sandbox, StatementKind::Refund, &refund),
            1,
            "{b}: the provider refunded twice"
        );
        assert_eq!(
            at_provider(&sandbox, StatementKind::Charge, &payment),
            1,
            "{b}"
        );
        let out = holdback(&db.url, &["refunds", "list", "--failed"]);
        assert!(text(&out).contains("0 refund(s)"), "{b}: {}", text(&out));
        assert_books_agree(b, &db.url, &file);
    }
}

#[test]
fn sigkill_after_the_provider_charges_and_before_the_record_captures_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = holdback_app::webhooks::http_client();
    for db in rt.block_on(TestDb::all("sigkill_between_charge_and_record")) {
        let b = db.backend();
        let file = SandboxFile::new("crash_charge");
        assert!(holdback(&db.url, &["migrate"]).status.success(), "{b}");
        let platform = key(&db.url, "platform");
        party(&db.url, "buyer:buy_crash");
        party(&db.url, "seller:sel_crash");
        let (server, base) = serve(&db.url, &file, &[]);

        // the provider will charge, record it, and then not answer for 30 s
        let sandbox = Sandbox::open(file.path()).unwrap();
        sandbox
            .add_fault(Fault {
                op: FaultOp::Charge,
                effect: FaultEffect::Stall { ms: 30_000 },
                times: 1,
            })
            .unwrap();
        let checkout = {
            let (http, url, key) = (
                http.clone(),
                format!("{base}/v1/checkouts"),
                platform.clone(),
            );
            rt.spawn(async move {
                let body = Some(cart("buy_crash", "sel_crash", 4200));
                call(
                    &http,
                    reqwest::Method::POST,
                    url,
                    &key,
                    Some("crash-1"),
                    body,
                )
                .await
            })
        };
        let line = wait_for("the provider's charge", || {
            sandbox
                .statement()
                .unwrap()
                .into_iter()
                .find(|l| l.kind == StatementKind::Charge)
        });
        sigkill(server);
        // the checkout never got its answer
        let answered = rt.block_on(checkout).unwrap();
        assert!(answered.is_err(), "{b}: answered {answered:?}");

        // the provider charged; holdback has the payment processing, and no order
        let payment = line.reference.clone();
        assert_eq!(line.amount.minor(), 4200, "{b}");
        let store = rt.block_on(db.store()).unwrap();
        let (p, _) = rt
            .block_on(store.payment(&payment))
            .unwrap()
            .unwrap_or_else(|| panic!("{b}: no payment {payment}"));
        assert_eq!(p.state.code(), "processing", "{b}: {p:?}");
        rt.block_on(store.close());
        let out = holdback(
            &db.url,
            &["reconcile", "provider", "--sandbox", &file.arg()],
        );
        assert_eq!(out.status.code(), Some(1), "{b}: {}", text(&out));

        // restart with a short settle time: the server asks the provider and captures
        sandbox.clear_faults().unwrap();
        let (server, base) = serve(&db.url, &file, &["--settle-after-ms", "1000"]);
        let get = |base: &str| {
            rt.block_on(call(
                &http,
                reqwest::Method::GET,
                format!("{base}/v1/payments/{payment}"),
                &platform,
                None,
                None,
            ))
        };
        let captured = wait_for("the payment to settle", || {
            let (_, p) = get(&base).ok()?;
            (p["status"] != "processing").then_some(p)
        });
        assert_eq!(captured["status"], "succeeded", "{b}: {captured}");
        let orders = captured["orders"].as_array().unwrap();
        assert_eq!(orders.len(), 1, "{b}: {captured}");
        assert_eq!(orders[0]["status"], "paid", "{b}: {captured}");
        assert_eq!(orders[0]["amount"], 4200, "{b}: {captured}");

        // on PostgreSQL the killed node's claim on the key holds until its lease runs out (on
        // SQLite claims are each process's own, and died with it)
        let retry = |base: &str| {
            rt.block_on(call(
                &http,
                reqwest::Method::POST,
                format!("{base}/v1/checkouts"),
                &platform,
                Some("crash-1"),
                Some(cart("buy_crash", "sel_crash", 4200)),
            ))
            .unwrap()
        };
        if b == "postgres" {
            let (status, blocked) = retry(&base);
            assert_eq!(status, 409, "{b}: {blocked}");
            assert_eq!(
                blocked["error"]["code"], "idempotency_key_in_use",
                "{b}: {blocked}"
            );
        }
        sigkill(server);
        // a node whose clock is past the lease takes the key over
        let (server, base) = serve(&db.url, &file, &["--clock-offset-ms", "120000"]);

        // the buyer's retry of the same checkout answers that payment, and charges nothing
        let (status, again) = retry(&base);
        assert_eq!(status, 201, "{b}: {again}");
        assert_eq!(again["id"], payment.as_str(), "{b}: {again}");
        assert_eq!(again["orders"][0]["id"], orders[0]["id"], "{b}: {again}");
        sigkill(server);
        let statement = sandbox.statement().unwrap();
        assert_eq!(statement.len(), 1, "{b}: {statement:?}");
        assert_eq!(
            at_provider(&sandbox, StatementKind::Charge, &payment),
            1,
            "{b}"
        );
        assert_books_agree(b, &db.url, &file);
    }
}

/// A connector's notification of `amount` cents for `reference`, signed now with the serve's
/// test secret: the bank's (money received), or a wallet's callback (approved). The extra one
/// (`bn_extra`) says the account it came from. Answers the status and body, or the transport
/// error of a killed server.
async fn notify(
    http: &reqwest::Client,
    base: &str,
    connector: &str,
    id: &str,
    reference: &str,
    amount: i64,
) -> Result<(u16, Value), reqwest::Error> {
    let (mut body, secret) = if connector == "bank" {
        let body = json!({"id": id, "reference": reference, "amount": amount, "currency": "usd"});
        (body, BANK_SECRET)
    } else {
        let body = json!({"id": id, "payment": reference, "outcome": "approved", "amount": amount, "currency": "usd"});
        (body, WALLET_SECRET)
    };
    if id == "bn_extra" && connector == "bank" {
        body["payer_account"] = json!(PAYER);
    }
    let body = body.to_string();
    #[allow(clippy::disallowed_methods)]
    // the connector signs with the real clock, as serve reads it
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let res = http
        .post(format!("{base}/v1/connectors/{connector}/notifications"))
        .header(
            "holdback-signature",
            holdback_app::webhooks::signature(secret, t, &body),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

const BANK_SECRET: &str = "bank_secret_of_the_crash_test";
const WALLET_SECRET: &str = "wallet_secret_of_the_crash_test";
/// The account the crash test's extra transfer comes from.
const PAYER: &str = "DE02120300000000202051";

#[test]
fn sigkill_among_bank_notifications_then_redelivery_confirms_each_payment_once() {
    crash_among_notifications("bank");
}

#[test]
fn sigkill_among_wallet_callbacks_then_redelivery_confirms_each_payment_once() {
    crash_among_notifications("paypal");
}

/// Twenty payments waiting for `connector` (`bank` or a wallet); its notifications sent all at
/// once with the server SIGKILLed among them; all of them redelivered to a new node: each
/// payment confirmed once. Then money again for a complete payment, paid back through the
/// connector, and the books reconciled.
fn crash_among_notifications(connector: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = holdback_app::webhooks::http_client();
    for db in rt.block_on(TestDb::all(&format!(
        "sigkill_among_{connector}_notifications"
    ))) {
        let b = db.backend();
        let file = SandboxFile::new("crash_connector");
        assert!(holdback(&db.url, &["migrate"]).status.success(), "{b}");
        let platform = key(&db.url, "platform");
        party(&db.url, "buyer:buy_crash");
        party(&db.url, "seller:sel_crash");
        let secret = [
            "--bank-test-secret",
            BANK_SECRET,
            "--wallet-test-secret",
            WALLET_SECRET,
        ];
        let (server, base) = serve(&db.url, &file, &secret);
        // twenty payments waiting for their money
        let mut references = Vec::new();
        for i in 0..20 {
            let mut body = cart("buy_crash", "sel_crash", 1000 + i);
            body.as_object_mut().unwrap().remove("card");
            if connector == "bank" {
                body["bank_transfer"] = json!({});
            } else {
                body["wallet"] =
                    json!({"type": connector, "return_url": "https://shop.example/back"});
            }
            let (status, p) = rt
                .block_on(call(
                    &http,
                    reqwest::Method::POST,
                    format!("{base}/v1/checkouts"),
                    &platform,
                    None,
                    Some(body),
                ))
                .unwrap();
            assert_eq!(status, 201, "{b}: {p}");
            references.push((p["id"].as_str().unwrap().to_string(), 1000 + i));
        }
        // the connector sends all twenty at once; the server is killed among them
        let sent: Vec<_> = references
            .iter()
            .enumerate()
            .map(|(i, (reference, amount))| {
                let (http, base, reference, amount) =
                    (http.clone(), base.clone(), reference.clone(), *amount);
                let connector = connector.to_string();
                rt.spawn(async move {
                    notify(
                        &http,
                        &base,
                        &connector,
                        &format!("bn_{i}"),
                        &reference,
                        amount,
                    )
                    .await
                })
            })
            .collect();
        // killed once the first answer is back (or soon anyway): some taken, some cut off
        for _ in 0..60 {
            if sent.iter().any(|t| t.is_finished()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        sigkill(server);
        // some were taken before the kill, some were cut off
        let answered = sent
            .into_iter()
            .map(|t| rt.block_on(t))
            .filter(|r| matches!(r, Ok(Ok((200, _)))))
            .count();
        eprintln!("{b}: {answered} of 20 notifications answered before the kill");
        // the connector redelivers every one (it had no answer for most) to a new node
        let (server, base) = serve(&db.url, &file, &secret);
        for (i, (reference, amount)) in references.iter().enumerate() {
            let (status, answer) = rt
                .block_on(notify(
                    &http,
                    &base,
                    connector,
                    &format!("bn_{i}"),
                    reference,
                    *amount,
                ))
                .unwrap();
            assert_eq!(status, 200, "{b}: {answer}");
            assert_eq!(answer["outcome"], "applied", "{b}: {answer}");
        }
        // each payment confirmed once: succeeded, nothing refunded (a second receipt would be)
        for (reference, _) in &references {
            let (status, p) = rt
                .block_on(call(
                    &http,
                    reqwest::Method::GET,
                    format!("{base}/v1/payments/{reference}"),
                    &platform,
                    None,
                    None,
                ))
                .unwrap();
            assert_eq!(status, 200, "{b}");
            assert_eq!(p["status"], "succeeded", "{b}: {p}");
            assert_eq!(p["refunds"], json!([]), "{b}: {p}");
            assert_eq!(p["orders"][0]["status"], "paid", "{b}: {p}");
        }
        // money again after the payment was complete: paid back through the connector
        let (first, amount) = &references[0];
        let (status, _) = rt
            .block_on(notify(&http, &base, connector, "bn_extra", first, *amount))
            .unwrap();
        assert_eq!(status, 200, "{b}");
        wait_for("the payout", || {
            let (_, p) = rt
                .block_on(call(
                    &http,
                    reqwest::Method::GET,
                    format!("{base}/v1/payments/{first}"),
                    &platform,
                    None,
                    None,
                ))
                .ok()?;
            (p["refunds"][0]["status"] == "succeeded").then_some(())
        });
        sigkill(server);
        assert_books_agree(b, &db.url, &file);
        // paid back the way it came: to the account a transfer came from, or by the wallet
        let payouts = Sandbox::open(file.path()).unwrap().payouts().unwrap();
        assert_eq!(payouts.len(), 1, "{b}");
        let (via, account) = if connector == "bank" {
            ("bank", Some(PAYER))
        } else {
            (connector, None)
        };
        assert_eq!(payouts[0].via, via, "{b}");
        assert_eq!(payouts[0].account.as_deref(), account, "{b}");
        let out = holdback(
            &db.url,
            &["reconcile", "provider", "--sandbox", &file.arg()],
        );
        assert!(
            text(&out)
                .contains("reconcile bank: 1 payout(s) at the bank, 1 recorded, 0 discrepancies"),
            "{b}: {}",
            text(&out)
        );
    }
}
