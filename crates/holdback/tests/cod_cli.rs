//! `holdback cod reconcile` and `holdback cod events` as an operator runs them: a carrier's
//! statement read through its profile (here against a database that knows none of its parcels),
//! the JSON report and the CSV of lines, the same file again posting nothing, a file refused
//! whole by name (exit 2), a line that is not short or over paid refused by `cod accept`, and events for parcels the carrier does not have refused one by one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use holdback_store::testing::TestDb;
use serde_json::Value;

fn holdback(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holdback"))
        .args(["--database", db])
        .args(args)
        .output()
        .expect("run holdback")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../remit/tests/files")
        .join(name)
}

#[tokio::test]
async fn a_statement_is_reconciled_once_and_a_damaged_one_refused_whole() {
    for db in TestDb::all("cod_cli").await {
        let url = db.url.clone();
        let dir = std::env::temp_dir().join(format!(
            "holdback-cod-cli-{}-{}",
            std::process::id(),
            db.backend()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let statement = fixture("gulf_express_sa.csv");
        let csv = dir.join("lines.csv");
        let out = holdback(
            &url,
            &[
                "cod",
                "reconcile",
                statement.to_str().unwrap(),
                "--carrier",
                "gulf_express",
                "--json",
                "--csv",
                csv.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["already_imported"], false);
        assert_eq!(report["posted_now"], 0, "no parcel is known: nothing posts");
        assert!(
            report["classes"]["unknown_parcel"]["lines"]
                .as_i64()
                .unwrap()
                > 0,
            "{report}"
        );
        assert_eq!(report["carrier"], "gulf_express");
        let lines = std::fs::read_to_string(&csv).unwrap();
        let mut rows = lines.lines();
        assert_eq!(
            rows.next().unwrap(),
            "line,tracking,parcel,class,expected_net,reported_net,delta,deductions,warnings"
        );
        let rows: Vec<&str> = rows.collect();
        assert_eq!(
            rows.len() as i64,
            report["totals"]["lines"].as_i64().unwrap() + 1,
            "each line, and the total row"
        );
        assert!(rows.iter().any(|r| r.contains("awb_mangled")), "{lines}");
        // a line of an unknown parcel is not one an operator can accept: refused, exit 2
        let unknown = rows.iter().find(|r| r.contains("unknown_parcel")).unwrap();
        let line = unknown.split(',').next().unwrap();
        let id = report["id"].as_str().unwrap();
        let out = holdback(&url, &["cod", "accept", id, line, "--note", "why not"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("only short_paid and over_paid"), "{err}");
        // the same file again: already imported, nothing posted (the summary says so)
        let out = holdback(
            &url,
            &[
                "cod",
                "reconcile",
                statement.to_str().unwrap(),
                "--carrier",
                "gulf_express",
            ],
        );
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("already imported: nothing posted"), "{text}");
        // a reference that a spreadsheet turned into exponent form: refused whole, by name
        let bytes = std::fs::read(&statement).unwrap();
        let bad = dir.join("damaged.csv");
        // (byte for byte: the Windows-1256 text around it is left as it is)
        let mut raw = bytes.clone();
        let (from, to) = (b"600612345678".as_slice(), b"6.00612E+11".as_slice());
        if let Some(at) = raw.windows(from.len()).position(|w| w == from) {
            raw.splice(at..at + from.len(), to.iter().copied());
        }
        assert_ne!(raw, bytes);
        std::fs::write(&bad, &raw).unwrap();
        let out = holdback(
            &url,
            &[
                "cod",
                "reconcile",
                bad.to_str().unwrap(),
                "--carrier",
                "gulf_express",
            ],
        );
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("reference_in_exponent_form"), "{err}");
        // an unknown profile is refused by name
        let out = holdback(
            &url,
            &[
                "cod",
                "reconcile",
                bad.to_str().unwrap(),
                "--carrier",
                "nobody",
            ],
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no carrier profile"));
        // events for parcels the carrier does not have: each refused, none applied
        let events = dir.join("events.csv");
        std::fs::write(&events, "event_id,tracking,event,occurred,cash_collected\ne1,GX404,delivered,1795222800,12625\n").unwrap();
        let out = holdback(
            &url,
            &[
                "cod",
                "events",
                events.to_str().unwrap(),
                "--carrier",
                "gulf_express",
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("0 applied, 0 ignored or repeated, 1 refused")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
