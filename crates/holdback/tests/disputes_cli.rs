//! `holdback disputes list`: the mediation queue read from the database, with the SLA measured
//! on the real clock. A server whose clock runs 20 days behind makes a dispute escalated then,
//! whose 7-day SLA has therefore passed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use holdback_store::testing::TestDb;

const BEHIND: &str = "--clock-offset-ms=-1728000000"; // 20 days

fn holdback(db: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", db])
        .args(args)
        .output()
        .expect("run holdback");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checkout, ship, deliver, open and escalate a dispute, with the demo's keys.
const SCRIPT: &str = r#"
ALICE=sk_test_de00000000000002_alice
BOB=sk_test_de00000000000003_bob
PLATFORM=sk_test_de00000000000001_platform
ORDER=$(curl -s $API/v1/checkouts -H "Authorization: Bearer $ALICE" \
  --json '{"buyer":"buy_alice","currency":"usd","items":[{"product":"prod_demo_teapot","quantity":1}],"card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}' \
  | grep -o '"id":"ord_[0-9a-f]*"' | head -n 1 | cut -d '"' -f 4)
curl -sf $API/v1/orders/$ORDER/ship -H "Authorization: Bearer $BOB" --json '{"carrier":"dhl","tracking_number":"T1"}' > /dev/null
curl -sf $API/v1/orders/$ORDER/mark_delivered -H "Authorization: Bearer $PLATFORM" --json '{}' > /dev/null
ID=$(curl -sf $API/v1/disputes -H "Authorization: Bearer $ALICE" \
  --json "{\"order\":\"$ORDER\",\"reason\":\"damaged\",\"requested\":{\"type\":\"full_refund\"}}" \
  | grep -o '"id":"dp_[0-9a-f]*"' | head -n 1 | cut -d '"' -f 4)
curl -sf $API/v1/disputes/$ID/escalate -H "Authorization: Bearer $BOB" --json '{}' > /dev/null
echo $ID
"#;

#[test]
fn the_mediation_queue_lists_disputes_past_their_deadline() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the_mediation_queue_lists_disputes_past_their_deadline (no curl)");
        return;
    }
    let db = TestDb::sqlite();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut server = Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", &db.url, "serve", "--demo", BEHIND, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--policy", "examples/disputes-now.toml"])
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(id.starts_with("dp_"), "{id:?}");

    // on the real clock the 7 days have passed: overdue by about 13 days
    let overdue = holdback(&db.url, &["disputes", "list", "--overdue"]);
    assert!(overdue.contains(&id), "{overdue}");
    assert!(overdue.contains("escalated by seller"), "{overdue}");
    assert!(
        overdue.contains("overdue by 12d 23h") || overdue.contains("overdue by 13d"),
        "{overdue}"
    );
    assert!(
        overdue.contains("1 dispute(s) past their deadline"),
        "{overdue}"
    );
    // on the server's clock it is not overdue yet, but it is in the queue
    let on_time = holdback(&db.url, &["disputes", "list", "--overdue", BEHIND]);
    assert!(
        on_time.contains("0 dispute(s) past their deadline"),
        "{on_time}"
    );
    let queue = holdback(&db.url, &["disputes", "list", BEHIND]);
    assert!(
        queue.contains(&id) && queue.contains("due in 6d 23h"),
        "{queue}"
    );
    // as JSON: the dispute as the API shows it
    let json = holdback(&db.url, &["disputes", "list", "--json"]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["mediation"]["escalated_by"], "seller");
    // its SLA timer is among the timers due (the scheduler marks the dispute overdue)
    let timers = holdback(&db.url, &["timers", "due"]);
    assert!(
        timers.contains(&format!("dispute_mediation_sla {id}")),
        "{timers}"
    );
    // live mode's queue is another one
    let live = holdback(&db.url, &["disputes", "list", "--live"]);
    assert!(live.contains("0 dispute(s) with a mediator"), "{live}");
}
