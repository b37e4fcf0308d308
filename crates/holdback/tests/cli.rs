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
        text(&out).contains("applied 0001_ledger, 0002_orders, 0003_webhooks"),
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
    let mut after: Option<String> = None;
    let mut lines = 0;
    loop {
        let mut args = vec!["ledger", "history", "load_escrow_0", "--limit", "2"];
        if let Some(a) = after.as_deref() {
            args.extend(["--after", a]);
        }
        let out = holdback(&db.url, &args);
        assert!(out.status.success(), "{}", text(&out));
        let page = text(&out);
        lines += page.lines().filter(|l| l.contains(" against ")).count();
        match page.lines().find_map(|l| l.strip_prefix("more: --after ")) {
            Some(cursor) => after = Some(cursor.to_string()),
            None => {
                assert!(page.contains("end of history"), "{page}");
                break;
            }
        }
    }
    assert!(lines >= 3, "only {lines} history lines");
    let out = holdback(&db.url, &["ledger", "balance", "nobody"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = holdback(
        &db.url,
        &["ledger", "history", "load_escrow_0", "--after", "x"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// The README's walkthrough, run as written against `serve --demo` (only the port in the `API=`
/// line is changed, to a free one).
#[test]
fn the_readme_walkthrough_works_verbatim() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the_readme_walkthrough_works_verbatim (curl is not installed)");
        return;
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split("## Walkthrough")
        .nth(1)
        .expect("a Walkthrough section");
    let script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a sh block in the walkthrough");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let script = script.replace(
        "API=http://127.0.0.1:8080",
        &format!("API=http://127.0.0.1:{port}"),
    );
    let db = TestDb::sqlite();
    let mut server = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", &db.url, "serve", "--demo", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let listening = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(listening.contains("listening on"), "{listening}");
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &script])
        .output()
        .expect("run the walkthrough");
    let _ = server.kill();
    let _ = server.wait();
    let printed = text(&out);
    assert!(out.status.success(), "the walkthrough failed:\n{printed}");
    for expected in [
        "\"object\":\"payment\"",
        "Idempotent-Replayed: true",
        "\"status\":\"shipped\"",
        "\"status\":\"delivered\"",
        "\"status\":\"completed\"",
        "\"amount_to_seller\":4750",
        "\"code\":\"hold_already_released\"",
        "\"code\":\"card_declined\"",
        "\"type\":\"hold.released\"",
    ] {
        assert!(
            printed.to_lowercase().contains(&expected.to_lowercase()),
            "{expected} not in:\n{printed}"
        );
    }
}
