//! Gift card codes are never kept in clear: `serve --demo` on a SQLite file, its output and
//! errors captured; a card issued (under an Idempotency-Key, whose stored answer is kept),
//! checked, sold, mistyped, redeemed on the spot in a checkout, and the events read. Then the
//! database's files (the WAL and shared memory too) and everything the server printed are
//! searched for the code, grouped and plain: it is in none of them, nor in any event.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use holdback_store::testing::TestDb;

/// Prints the code on the first line, then the events.
const SCRIPT: &str = r#"
PLATFORM=sk_test_de00000000000001_platform
ALICE=sk_test_de00000000000002_alice
FRANK=sk_test_de00000000000007_frank
CODE=$(curl -sf $API/v1/gift_cards -H "Authorization: Bearer $PLATFORM" -H 'Idempotency-Key: batch-1' \
  --json '{"count":1,"amount":2000,"currency":"usd"}' | grep -o '"code":"[^"]*"' | cut -d '"' -f 4)
echo "$CODE"
curl -sf $API/v1/gift_cards/check -H "Authorization: Bearer $ALICE" --json "{\"code\":\"$CODE\"}" > /dev/null
curl -sf $API/v1/gift_cards/activate -H "Authorization: Bearer $FRANK" -H 'Idempotency-Key: sale-1' \
  --json "{\"code\":\"$CODE\",\"amount\":2000,\"currency\":\"usd\",\"till_reference\":\"t1\"}" > /dev/null
# a mistyped code (its last symbol changed), refused and counted
WRONG="${CODE%?}$( [ "${CODE: -1}" = 0 ] && echo 1 || echo 0 )"
curl -s $API/v1/gift_cards/redeem -H "Authorization: Bearer $ALICE" \
  --json "{\"code\":\"$WRONG\",\"buyer\":\"buy_alice\"}" | grep -q gift_card_check_digit
curl -sf $API/v1/checkouts -H "Authorization: Bearer $ALICE" -H 'Idempotency-Key: pay-1' \
  --json "{\"buyer\":\"buy_alice\",\"currency\":\"usd\",\"items\":[{\"product\":\"prod_demo_teapot\",\"quantity\":1}],\"gift_card\":\"$CODE\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":12,\"exp_year\":2030,\"cvc\":\"123\"}}" \
  | grep -q '"status":"succeeded"'
curl -sf "$API/v1/events?limit=100" -H "Authorization: Bearer $PLATFORM"
"#;

#[test]
fn codes_are_in_no_file_log_or_event() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: codes_are_in_no_file_log_or_event (no curl)");
        return;
    }
    let db = TestDb::sqlite();
    let file = db.url.trim_start_matches("sqlite:").to_string();
    let log = std::env::temp_dir().join(format!("holdback_gc_log_{}.txt", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut server = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", &db.url, "serve", "--demo", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(root)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("listening on"), "{first}");
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", SCRIPT])
        .env("API", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    // what the server printed after its first line, to the end
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = server.kill();
    let _ = server.wait();
    let printed: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, events) = stdout.split_once('\n').unwrap();
    assert_eq!(code.len(), 24, "{code}");
    let plain = code.replace('-', "");
    assert!(events.contains("gift_card.redeemed"), "{events}");
    let mut searched = vec![
        ("the events".to_string(), events.as_bytes().to_vec()),
        (
            "the server's output".into(),
            printed.join("\n").into_bytes(),
        ),
        ("the server's errors".into(), std::fs::read(&log).unwrap()),
    ];
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(bytes) = std::fs::read(format!("{file}{suffix}")) {
            searched.push((format!("the database file{suffix}"), bytes));
        }
    }
    assert!(searched.len() >= 4, "the database file is missing");
    for (what, bytes) in &searched {
        for form in [code, plain.as_str(), &code.to_lowercase()] {
            let found = bytes.windows(form.len()).any(|w| w == form.as_bytes());
            assert!(!found, "the code {form} is in {what}");
        }
    }
    // the last four symbols, and only those, are kept (as the card's hint)
    let db_bytes = std::fs::read(&file).unwrap();
    let wal = std::fs::read(format!("{file}-wal")).unwrap_or_default();
    let hint = &plain[16..];
    assert!(
        db_bytes.windows(4).any(|w| w == hint.as_bytes())
            || wal.windows(4).any(|w| w == hint.as_bytes()),
        "the hint {hint} is kept"
    );
    let _ = std::fs::remove_file(&log);
}
