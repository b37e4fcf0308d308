//! The binary end to end: crash safety under SIGKILL, `ledger verify` reports, bad input.
//! Runs on SQLite, and on PostgreSQL when `HOLDBACK_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use holdback_domain::TxId;
use holdback_store::testing::TestDb;

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

/// Starts the load generator, lets it acknowledge at least `want` transactions, SIGKILLs it,
/// and returns every (tx_id, seq) it acknowledged before dying.
fn load_then_kill(db: &str, run: &str, want: usize) -> Vec<(String, i64)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args([
            "--database",
            db,
            "ledger",
            "load",
            "--writers",
            "16",
            "--run",
            run,
        ])
        .args(["--seconds", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn load");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acks = Vec::new();
    let parse = |line: String| -> (String, i64) {
        let mut parts = line.split_whitespace();
        assert_eq!(parts.next(), Some("ack"), "{line}");
        let id = parts.next().expect("id").to_string();
        let seq = parts.next().expect("seq").parse().expect("seq number");
        (id, seq)
    };
    for line in lines.by_ref() {
        acks.push(parse(line.expect("line")));
        if acks.len() >= want {
            break;
        }
    }
    assert!(acks.len() >= want, "the load generator stopped early");
    child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
    child.wait().expect("reap");
    // lines already in the pipe were acknowledged before the kill: they count too
    for line in lines {
        match line {
            Ok(line) if line.starts_with("ack ") => acks.push(parse(line)),
            _ => break,
        }
    }
    acks
}

#[test]
fn sigkill_during_concurrent_writes_loses_nothing_acknowledged() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dbs = rt.block_on(TestDb::all("sigkill_during_concurrent_writes"));
    for db in &dbs {
        let b = db.backend();
        let out = holdback(&db.url, &["migrate"]);
        assert!(out.status.success(), "{b}: {}", text(&out));
        for round in 0..2 {
            let acks = load_then_kill(&db.url, &format!("r{round}"), 600);
            let out = holdback(&db.url, &["ledger", "verify"]);
            assert!(out.status.success(), "{b} round {round}: {}", text(&out));
            assert!(text(&out).contains("ledger verify: ok:"), "{}", text(&out));
            let store = rt.block_on(db.store()).unwrap();
            for (id, seq) in &acks {
                let receipt = rt
                    .block_on(store.receipt(&TxId::parse(id).unwrap()))
                    .unwrap()
                    .unwrap_or_else(|| panic!("{b}: acknowledged {id} is missing"));
                assert_eq!(receipt.seq, *seq, "{b}: {id}");
            }
            rt.block_on(store.close());
        }
    }
}

#[test]
fn verify_reports_each_breach_and_fails() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in rt.block_on(TestDb::all("verify_reports_each_breach_and_fails")) {
        let b = db.backend();
        load_then_kill(&db.url, "v", 50);
        let out = holdback(&db.url, &["ledger", "verify"]);
        assert!(out.status.success(), "{b}: {}", text(&out));
        let store = rt.block_on(db.store()).unwrap();
        let drop_guard = match b {
            "sqlite" => "DROP TRIGGER journal_no_update",
            _ => "DROP TRIGGER journal_no_update ON journal",
        };
        rt.block_on(store.execute_raw(drop_guard)).unwrap();
        rt.block_on(
            store.execute_raw("UPDATE journal SET committed_at = committed_at + 1 WHERE seq = 5"),
        )
        .unwrap();
        rt.block_on(store.close());
        let out = holdback(&db.url, &["ledger", "verify"]);
        assert_eq!(out.status.code(), Some(1), "{b}: {}", text(&out));
        let report = text(&out);
        assert!(
            report.contains("breach: entry 5: stored hash does not match"),
            "{report}"
        );
        assert!(
            report.contains("breach: database guard missing: trigger journal_no_update"),
            "{report}"
        );
        assert!(report.contains("ledger verify: BREACHED"), "{report}");
    }
}

#[test]
fn bad_databases_get_a_clear_error() {
    let out = holdback("sqlite:/nonexistent-dir/x/holdback.db", &["migrate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("cannot open the database"),
        "{}",
        text(&out)
    );
    let db = TestDb::sqlite();
    // verify before migrate explains itself instead of reporting a clean ledger
    let out = holdback(&db.url, &["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("has `holdback migrate` run?"),
        "{}",
        text(&out)
    );
    let out = holdback(&db.url, &["migrate"]);
    assert!(
        text(&out).contains("applied 0001_ledger, 0002_orders, 0003_webhooks, 0004_catalog"),
        "{}",
        text(&out)
    );
    let out = holdback(&db.url, &["migrate"]);
    assert!(
        text(&out).contains("schema is up to date"),
        "{}",
        text(&out)
    );
    let out = holdback(&db.url, &["ledger", "verify"]);
    assert!(
        text(&out).contains("ledger verify: ok: 0 journal entries"),
        "{}",
        text(&out)
    );
}

#[test]
fn balance_and_history_page_through_an_account() {
    let db = TestDb::sqlite();
    load_then_kill(&db.url, "bh", 60);
    let out = holdback(&db.url, &["ledger", "balance", "load_escrow_0"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("kind        escrow"), "{}", text(&out));
    assert!(text(&out).contains("bounded     yes"), "{}", text(&out));
    // page through the whole history two lines at a time, following the printed cursor
    let mut before: Option<String> = None;
    let mut seqs = Vec::new();
    loop {
        let mut args = vec!["ledger", "history", "load_escrow_0", "--limit", "2"];
        if let Some(b) = before.as_deref() {
            args.extend(["--before", b]);
        }
        let out = holdback(&db.url, &args);
        assert!(out.status.success(), "{}", text(&out));
        let page = text(&out);
        for line in page.lines().filter(|l| l.contains(" against ")) {
            let (seq, _) = line.split_once('.').unwrap();
            seqs.push(seq.parse::<i64>().unwrap());
        }
        match page.lines().find_map(|l| l.strip_prefix("more: --before ")) {
            Some(cursor) => before = Some(cursor.to_string()),
            None => {
                assert!(page.contains("end of history"), "{page}");
                break;
            }
        }
    }
    assert!(seqs.len() >= 3, "only {} history lines", seqs.len());
    assert!(
        seqs.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {seqs:?}"
    );
    let out = holdback(&db.url, &["ledger", "balance", "nobody"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = holdback(
        &db.url,
        &["ledger", "history", "load_escrow_0", "--before", "x"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// The README's walkthrough, run as written against `serve --demo` (only the port in the `API=`
/// line is changed, to a free one).
#[test]
fn the_readme_walkthrough_works_verbatim() {
    let Some(printed) = walkthrough("## Walkthrough: an order", &[]) else {
        return;
    };
    for expected in [
        "\"object\":\"payment\"",
        "Idempotent-Replayed: true",
        "\"status\":\"shipped\"",
        "\"status\":\"delivered\"",
        "\"status\":\"completed\"",
        "\"amount_to_seller\":4750",
        "\"code\":\"hold_already_released\"",
        "\"code\":\"card_declined\"",
        "\"object\":\"product\"",
        "\"shipping_method\":\"express\"",
        "\"type\":\"hold.released\"",
        "\"object\":\"seller\",",
        "\"ship_by_days\":5",
        "\"id\":\"sel_bob\"",
        "\"object\":\"refund\"",
        "\"amount_refunded\":1000",
        "\"next_attempt\":null",
        "\"object\":\"message\"",
        "\"prev_hash\":\"0000000000000000",
        "\"object\":\"message_export\"",
        "\"intact\":true",
        "\"status\":\"requires_action\"",
        "\"type\":\"bank_transfer_instructions\"",
        "\"outcome\":\"applied\"",
        "\"status\":\"awaiting_payment\"",
        "https://shop.example/thanks?payment=pay_",
        "&status=succeeded",
        // the mediator's empty list of orders
        "{\"data\":[],\"has_more\":false,\"object\":\"list\",\"url\":\"/v1/orders\"}",
    ] {
        assert!(
            printed.to_lowercase().contains(&expected.to_lowercase()),
            "{expected} not in:\n{printed}"
        );
    }
}

#[test]
fn the_readme_gift_card_walkthrough_works_verbatim() {
    let Some(printed) = walkthrough("## Walkthrough: a gift card", &[]) else {
        return;
    };
    for expected in [
        "\"object\":\"gift_card_batch\"",
        "\"codes_shown\":true",
        "\"object\":\"gift_card_check\"",
        "\"status\":\"inactive\"",
        "\"retailer\":\"ret_frank\"",
        "\"status\":\"active\"",
        "{\"amount\":2200,\"amount_refunded\":0,\"card\":{",
        "\"method\":\"balance\"",
        "\"code\":\"gift_card_redeemed\"",
        "\"amount_refunded\":4200",
        "{\"amount\":2000,\"currency\":\"usd\"}",
    ] {
        assert!(printed.contains(expected), "{expected} not in:\n{printed}");
    }
}

/// Runs the first `sh` block of the README section under `heading` against `serve --demo`
/// (with `serve_args` after it) on a scratch database; what the block printed, or `None` (with
/// a SKIPPED line) where curl is missing.
fn walkthrough(heading: &str, serve_args: &[&str]) -> Option<String> {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the README walkthrough {heading:?} (curl is not installed)");
        return None;
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let section = readme
        .split(heading)
        .nth(1)
        .expect("the walkthrough's section");
    let script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a sh block in the walkthrough");
    let port = free_port();
    let script = script.replace(
        "API=http://127.0.0.1:8080",
        &format!("API=http://127.0.0.1:{port}"),
    );
    let db = TestDb::sqlite();
    let mut server = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", &db.url, "serve", "--demo", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(serve_args)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let listening = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(listening.contains("listening on"), "{listening}");
    // the demo's keys as printed, up to the commands to try
    let printed: Vec<String> = lines
        .by_ref()
        .map_while(Result::ok)
        .take_while(|l| l != "try:")
        .collect();
    assert!(
        printed
            .iter()
            .any(|l| l.contains("mediator med_erin sk_test_de00000000000006_erin")),
        "{printed:?}"
    );
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &script])
        .output()
        .expect("run the walkthrough");
    let _ = server.kill();
    let _ = server.wait();
    let printed = text(&out);
    assert!(out.status.success(), "the walkthrough failed:\n{printed}");
    Some(printed)
}

#[test]
fn the_readme_cash_on_delivery_walkthrough_works_verbatim() {
    let Some(printed) = walkthrough("## Walkthrough: cash on delivery", &[]) else {
        return;
    };
    for expected in [
        "\"object\":\"cash_on_delivery_eligibility\"",
        "\"offered\":false",
        "\"reason\":\"phone_not_verified\"",
        "\"status\":\"verified\"",
        "\"type\":\"confirm_cash_on_delivery\"",
        "\"amount_at_door\":14625",
        "\"status\":\"paid\"",
        "\"status\":\"out_for_delivery\"",
        "\"status\":\"collected\"",
        "\"posted_now\":1",
        "\"already_imported\":true",
    ] {
        assert!(printed.contains(expected), "{expected} not in:\n{printed}");
    }
}

#[test]
fn the_readme_dispute_walkthrough_works_verbatim() {
    let Some(printed) = walkthrough(
        "## Walkthrough: a dispute",
        &["--policy", "examples/disputes-now.toml"],
    ) else {
        return;
    };
    for expected in [
        "\"object\":\"dispute\"",
        "\"status\":\"negotiating\"",
        "\"answer\":{\"amount\":1000,\"type\":\"counter\"}",
        "\"status\":\"in_mediation\"",
        "\"body\":\"The lid is cracked.\"",
        "\"closure\":\"decided\"",
        "\"amount_refunded\":1260",
        "\"amount_to_seller\":2793",
        "\"commission\":147",
        "\"type\":\"dispute.opened\"",
        "\"type\":\"dispute.escalated\"",
        "\"type\":\"dispute.closed\"",
    ] {
        assert!(printed.contains(expected), "{expected} not in:\n{printed}");
    }
}

/// The application on `store` with the real clock (inside a runtime: it starts its writer).
fn app_on(store: holdback_store::Store) -> holdback_app::App {
    let clock = std::sync::Arc::new(holdback_store::clock::SystemClock);
    holdback_app::App::new(
        store,
        clock.clone(),
        std::sync::Arc::new(holdback_app::ids::UuidIds),
        holdback_app::Policy::default(),
        holdback_app::App::stateless_cards(clock),
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

fn spawn_server(db: &str, port: u16) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", db, "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("listening on"), "{first}");
    child
}

fn rank(status: &str) -> u8 {
    match status {
        "paid" => 1,
        "shipped" => 2,
        "delivered" => 3,
        "completed" | "cancelled" => 4,
        _ => 0,
    }
}

#[test]
fn sigkill_of_the_server_under_load_loses_no_acknowledged_effect() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in rt.block_on(TestDb::all("sigkill_of_the_server_under_load")) {
        let b = db.backend();
        assert!(holdback(&db.url, &["migrate"]).status.success());
        let keys = Arc::new([
            key(&db.url, "platform"),
            key(&db.url, "buyer:buy_load"),
            key(&db.url, "seller:sel_load"),
        ]);
        let port = free_port();
        let mut server = spawn_server(&db.url, port);
        let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let base = format!("http://127.0.0.1:{port}");
        let http = holdback_app::webhooks::http_client();
        let tasks: Vec<_> = (0..8)
            .map(|c| {
                let (http, base, keys, acked) = (http.clone(), base.clone(), keys.clone(), acked.clone());
                rt.spawn(async move {
                    let post = |path: String, key: String, body: serde_json::Value| {
                        let http = http.clone();
                        let url = format!("{base}{path}");
                        async move {
                            let res = http
                                .post(url)
                                .header("authorization", format!("Bearer {key}"))
                                .header("content-type", "application/json")
                                .body(body.to_string())
                                .send()
                                .await
                                .ok()?;
                            if !res.status().is_success() {
                                return None;
                            }
                            res.json::<serde_json::Value>().await.ok()
                        }
                    };
                    for i in 0.. {
                        let cart = serde_json::json!({
                            "buyer": "buy_load", "currency": "usd",
                            "items": [{"seller": "sel_load", "unit_amount": 500 + i, "quantity": 1}],
                            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
                        });
                        let Some(paid) = post("/v1/checkouts".into(), keys[0].clone(), cart).await else { return };
                        let id = paid["orders"][0]["id"].as_str().unwrap_or_default().to_string();
                        acked.lock().unwrap().insert(id.clone(), "paid".into());
                        // leave every third order unshipped, every third undelivered
                        if i % 3 == 0 {
                            continue;
                        }
                        let ship = serde_json::json!({"carrier": "dhl", "tracking_number": format!("L{c}-{i}")});
                        let Some(o) = post(format!("/v1/orders/{id}/ship"), keys[2].clone(), ship).await else { return };
                        acked.lock().unwrap().insert(id.clone(), o["status"].as_str().unwrap_or_default().into());
                        if i % 3 == 1 {
                            continue;
                        }
                        for (action, k) in [("mark_delivered", 0), ("confirm_receipt", 1)] {
                            let Some(o) = post(format!("/v1/orders/{id}/{action}"), keys[k].clone(), serde_json::json!({})).await else { return };
                            acked.lock().unwrap().insert(id.clone(), o["status"].as_str().unwrap_or_default().into());
                        }
                    }
                })
            })
            .collect();
        // let the load run, then kill the server in the middle of it
        for _ in 0..1000 {
            if acked.lock().unwrap().len() >= 150 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server.kill().expect("SIGKILL");
        server.wait().expect("reap");
        for t in tasks {
            let _ = rt.block_on(t);
        }
        let acked = acked.lock().unwrap().clone();
        assert!(
            acked.len() >= 150,
            "{b}: only {} orders before the kill",
            acked.len()
        );

        // restart on the same database: every acknowledged effect is there
        let port = free_port();
        let mut server = spawn_server(&db.url, port);
        let base = format!("http://127.0.0.1:{port}");
        // orders unfinished as they are now: one acknowledged as delivered may have been
        // confirmed by a request the kill cut off before its answer
        let mut unfinished = 0;
        for (id, status) in &acked {
            let got: serde_json::Value = rt
                .block_on(async {
                    http.get(format!("{base}/v1/orders/{id}"))
                        .header("authorization", format!("Bearer {}", keys[0]))
                        .send()
                        .await?
                        .json()
                        .await
                })
                .expect("read order");
            let now = got["status"].as_str().unwrap_or_default();
            assert!(
                rank(now) >= rank(status),
                "{b}: {id} acknowledged {status}, now {now}"
            );
            unfinished += usize::from(rank(now) < 4);
        }
        let _ = server.kill();
        let _ = server.wait();
        let out = holdback(&db.url, &["ledger", "verify"]);
        assert!(out.status.success(), "{b}: {}", text(&out));

        // and the timers of unfinished orders survived the crash and still fire
        let store = rt.block_on(db.store()).unwrap();
        let _runtime = rt.enter();
        let clock = holdback_store::clock::ManualClock::new(i64::MAX / 4);
        let app = holdback_app::App::new(
            store.clone(),
            Arc::new(clock.clone()),
            Arc::new(holdback_app::ids::UuidIds),
            holdback_app::Policy::default(),
            holdback_app::App::stateless_cards(Arc::new(clock.clone())),
        );
        let due = rt
            .block_on(store.due_timers(i64::MAX / 4, 100_000))
            .unwrap()
            .len();
        assert!(
            due >= unfinished,
            "{b}: {due} timers for {unfinished} unfinished orders"
        );
        let tick = rt
            .block_on(holdback_app::scheduler::tick(&app, 100_000))
            .unwrap();
        assert!(tick.fired >= unfinished, "{b}: {tick:?}");
        assert!(rt.block_on(store.audit()).unwrap().is_clean(), "{b}");
    }
}

/// Two `serve` processes on one database, both running the scheduler eight days ahead: every
/// ship-by timer fires once (one cancellation and one refund per order).
#[test]
fn two_serve_processes_fire_each_timer_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in rt.block_on(TestDb::all("two_serve_processes_fire_each_timer_once")) {
        let b = db.backend();
        assert!(holdback(&db.url, &["migrate"]).status.success());
        let platform = key(&db.url, "platform");
        party(&db.url, "buyer:buy_n");
        party(&db.url, "seller:sel_n");
        let port = free_port();
        let mut first = spawn_server(&db.url, port);
        let http = holdback_app::webhooks::http_client();
        let orders = 12;
        for i in 0..orders {
            let cart = serde_json::json!({
                "buyer": "buy_n", "currency": "eur",
                "items": [{"seller": "sel_n", "unit_amount": 1000 + i, "quantity": 1}],
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
            });
            let status = rt
                .block_on(
                    http.post(format!("http://127.0.0.1:{port}/v1/checkouts"))
                        .header("authorization", format!("Bearer {platform}"))
                        .header("content-type", "application/json")
                        .body(cart.to_string())
                        .send(),
                )
                .unwrap()
                .status();
            assert!(status.is_success(), "{b}: {status}");
        }
        let _ = first.kill();
        let _ = first.wait();
        // two nodes, eight days later
        let offset = (8 * 86_400_000i64).to_string();
        let spawn_ahead = || {
            Command::new(env!("CARGO_BIN_EXE_holdback"))
                .args([
                    "--database",
                    &db.url,
                    "serve",
                    "--clock-offset-ms",
                    &offset,
                    "--listen",
                ])
                .arg(format!("127.0.0.1:{}", free_port()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn serve")
        };
        let (mut a, mut c) = (spawn_ahead(), spawn_ahead());
        let store = rt.block_on(db.store()).unwrap();
        let count = |kind: &str| {
            rt.block_on(store.events_after(0, false, 10_000))
                .unwrap()
                .iter()
                .filter(|e| e.event.kind == kind)
                .count()
        };
        // (up to 60 s: on a loaded machine two fresh nodes take a while)
        for _ in 0..1200 {
            if count("order.cancelled") >= orders as usize {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // give both schedulers a few more passes to do anything twice if they would
        std::thread::sleep(std::time::Duration::from_millis(2500));
        let _ = a.kill();
        let _ = c.kill();
        let _ = a.wait();
        let _ = c.wait();
        assert_eq!(count("order.cancelled"), orders as usize, "{b}");
        assert_eq!(count("refund.succeeded"), orders as usize, "{b}");
        let out = holdback(&db.url, &["ledger", "verify"]);
        assert!(out.status.success(), "{b}: {}", text(&out));
        rt.block_on(store.close());
    }
}

#[test]
fn a_revoked_key_is_refused_and_revoking_twice_is_harmless() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in rt.block_on(TestDb::all("a_revoked_key_is_refused")) {
        let b = db.backend();
        let whole = key(&db.url, "seller:sel_dan");
        let id = whole.split('_').nth(2).unwrap().to_string();
        let store = rt.block_on(db.store()).unwrap();
        let _runtime = rt.enter(); // the app starts its writer task
        let app = app_on(store.clone());
        assert!(
            rt.block_on(holdback_app::keys::authenticate(&app, &whole))
                .is_ok(),
            "{b}"
        );
        let out = holdback(&db.url, &["keys", "revoke", &id]);
        assert!(out.status.success(), "{b}: {}", text(&out));
        assert!(
            text(&out).contains(&format!("revoked key {id}")),
            "{}",
            text(&out)
        );
        assert!(matches!(
            rt.block_on(holdback_app::keys::authenticate(&app, &whole)),
            Err(holdback_app::AppError::Unauthenticated)
        ));
        // again, by the whole key: harmless, and it says so
        let again = holdback(&db.url, &["keys", "revoke", &whole]);
        assert!(again.status.success(), "{b}: {}", text(&again));
        assert!(text(&again).contains("already revoked"), "{}", text(&again));
        let unknown = holdback(&db.url, &["keys", "revoke", "ffffffffffffffff"]);
        assert!(!unknown.status.success(), "{b}");
        assert!(
            text(&unknown).contains("no API key ffffffffffffffff"),
            "{}",
            text(&unknown)
        );
        let listed = holdback(&db.url, &["keys", "list"]);
        let listed = text(&listed);
        assert!(
            listed.contains(&id) && listed.contains("seller:sel_dan"),
            "{listed}"
        );
        assert!(listed.contains("revoked at"), "{listed}");
        assert!(
            !listed.contains(whole.rsplit('_').next().unwrap()),
            "no secret: {listed}"
        );
        rt.block_on(store.close());
    }
}

#[test]
fn a_mediator_key_needs_no_party_and_is_listed_with_its_id() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in rt.block_on(TestDb::all("a_mediator_key_needs_no_party")) {
        let b = db.backend();
        let out = holdback(&db.url, &["keys", "create", "--role", "mediator:med_erin"]);
        assert!(out.status.success(), "{b}: {}", text(&out));
        let whole = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(whole.starts_with("sk_test_"), "{b}: {whole}");
        let id = whole.split('_').nth(2).unwrap().to_string();
        for bad in ["mediator:", "mediator:med.erin", "mediators:med_erin"] {
            let out = holdback(&db.url, &["keys", "create", "--role", bad]);
            assert!(!out.status.success(), "{b}: {bad}: {}", text(&out));
        }
        // a mediator is no party: it cannot be created as one
        let out = holdback(
            &db.url,
            &[
                "parties",
                "create",
                "--role",
                "mediator:med_erin",
                "--country",
                "DE",
            ],
        );
        assert!(!out.status.success(), "{b}: {}", text(&out));
        let listed = holdback(&db.url, &["keys", "list"]);
        let listed = text(&listed);
        let line = listed
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_else(|| panic!("{b}: {listed}"));
        assert!(line.contains("mediator:med_erin"), "{b}: {line}");
        assert!(line.contains("active"), "{b}: {line}");
        assert!(listed.contains("1 key(s)"), "{b}: {listed}");
        let store = rt.block_on(db.store()).unwrap();
        let _runtime = rt.enter(); // the app starts its writer task
        let app = app_on(store.clone());
        let who = rt
            .block_on(holdback_app::keys::authenticate(&app, &whole))
            .unwrap();
        assert_eq!(
            who.role,
            holdback_app::Role::Mediator("med_erin".into()),
            "{b}"
        );
        rt.block_on(store.close());
    }
}
