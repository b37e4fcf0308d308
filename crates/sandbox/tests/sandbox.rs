//! The sandbox provider against real files in the temp directory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use holdback_domain::card::CardInput;
use holdback_domain::reconcile::{RecordedOp, reconcile};
use holdback_domain::{Currency, Money};
use holdback_sandbox::{
    ChargeRecord, Fault, FaultEffect, FaultOp, Sandbox, SandboxError, StatementKind,
};

/// 2026-11-21, UTC.
const NOW: i64 = 1_795_219_200_000;

/// A sandbox file of its own, removed (with its WAL) when the test ends.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "holdback-sandbox-{}-{n}-{name}.sqlite",
            std::process::id()
        ));
        let file = TempFile(path);
        file.remove();
        file
    }

    fn open(&self) -> Sandbox {
        Sandbox::open(&self.0).unwrap()
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.remove();
    }
}

fn card(number: &str) -> CardInput {
    card_expiring(number, 12, 2030)
}

fn card_expiring(number: &str, month: u8, year: u16) -> CardInput {
    let cvc = if number.starts_with('3') {
        "1234"
    } else {
        "123"
    };
    CardInput::parse(number, month, year, cvc).unwrap()
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("USD").unwrap()).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("EUR").unwrap()).unwrap()
}

const VISA: &str = "4242424242424242";
const REFUNDS_FAIL: &str = "4000000000005126";

/// The statement as (kind, reference, minor units), for comparing with what a test expects.
fn lines(sandbox: &Sandbox) -> Vec<(&'static str, String, i64)> {
    sandbox
        .statement()
        .unwrap()
        .into_iter()
        .map(|l| (l.kind.code(), l.reference, l.amount.minor()))
        .collect()
}

fn code<T: std::fmt::Debug>(result: Result<T, SandboxError>) -> &'static str {
    result.unwrap_err().code()
}

fn fault(op: FaultOp, effect: FaultEffect, times: u32) -> Fault {
    Fault { op, effect, times }
}

#[test]
fn a_charge_is_deduplicated_by_reference() {
    let file = TempFile::new("charge-dedup");
    let sandbox = file.open();
    let first = sandbox
        .charge(&card(VISA), usd(1000), "pay_1", NOW)
        .unwrap();
    assert!(
        first.id.starts_with("ch_") && first.id.len() == 27,
        "{}",
        first.id
    );
    assert_eq!(first.card.token, first.id);
    assert_eq!(first.card.last4, "4242");
    assert_eq!(first.card.brand.code(), "visa");
    assert_eq!(first.refunded, usd(0));
    assert_eq!(first.created_at, NOW);

    let again = sandbox
        .charge(&card(VISA), usd(1000), "pay_1", NOW + 5_000)
        .unwrap();
    assert_eq!(again, first, "a retry answers the first charge");

    let reused = [
        sandbox.charge(&card(VISA), usd(999), "pay_1", NOW),
        sandbox.charge(&card(VISA), eur(1000), "pay_1", NOW),
        sandbox.charge(&card("5555555555554444"), usd(1000), "pay_1", NOW),
        sandbox.charge(&card_expiring(VISA, 11, 2031), usd(1000), "pay_1", NOW),
    ];
    for result in reused {
        assert_eq!(code(result), "reference_reused");
    }
    assert_eq!(lines(&sandbox), [("charge", "pay_1".to_string(), 1000)]);
    assert_eq!(
        sandbox.charge_by_reference("pay_1").unwrap(),
        Some(first.clone())
    );
    assert_eq!(sandbox.charge_by_id(&first.id).unwrap(), Some(first));
    assert_eq!(sandbox.charge_by_reference("pay_2").unwrap(), None);

    let other = sandbox
        .charge(&card(VISA), usd(1000), "pay_2", NOW)
        .unwrap();
    assert_ne!(
        other.id,
        sandbox.charge_by_reference("pay_1").unwrap().unwrap().id
    );
    assert_eq!(
        code(sandbox.charge(&card(VISA), usd(0), "pay_3", NOW)),
        "invalid_amount"
    );
}

#[test]
fn refunds_are_deduplicated_and_never_exceed_the_charge() {
    let file = TempFile::new("refunds");
    let sandbox = file.open();
    let charge = sandbox
        .charge(&card(VISA), usd(1000), "pay_1", NOW)
        .unwrap();

    let first = sandbox
        .refund(&charge.id, usd(400), "ref_1", NOW + 1)
        .unwrap();
    assert!(
        first.id.starts_with("re_") && first.id.len() == 27,
        "{}",
        first.id
    );
    assert_eq!(
        (first.charge_id.as_str(), first.amount),
        (charge.id.as_str(), usd(400))
    );
    let again = sandbox
        .refund(&charge.id, usd(400), "ref_1", NOW + 2)
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        code(sandbox.refund(&charge.id, usd(300), "ref_1", NOW)),
        "reference_reused"
    );

    assert_eq!(
        code(sandbox.refund(&charge.id, usd(601), "ref_2", NOW)),
        "refund_exceeds_charge"
    );
    assert_eq!(
        sandbox.refund_by_reference("ref_2").unwrap(),
        None,
        "nothing recorded"
    );
    assert_eq!(
        code(sandbox.refund(&charge.id, eur(1), "ref_2", NOW)),
        "currency_mismatch"
    );
    assert_eq!(
        code(sandbox.refund(&charge.id, usd(0), "ref_2", NOW)),
        "invalid_amount"
    );
    assert_eq!(
        code(sandbox.refund("ch_nope", usd(1), "ref_2", NOW)),
        "no_such_charge"
    );

    let rest = sandbox
        .refund(&charge.id, usd(600), "ref_2", NOW + 3)
        .unwrap();
    assert_eq!(sandbox.refund_by_reference("ref_2").unwrap(), Some(rest));
    assert_eq!(
        code(sandbox.refund(&charge.id, usd(1), "ref_3", NOW)),
        "refund_exceeds_charge"
    );
    let after = sandbox.charge_by_reference("pay_1").unwrap().unwrap();
    assert_eq!(after.refunded, usd(1000));
    assert_eq!(
        lines(&sandbox),
        [
            ("charge", "pay_1".to_string(), 1000),
            ("refund", "ref_1".to_string(), 400),
            ("refund", "ref_2".to_string(), 600),
        ]
    );
}

#[test]
fn refunds_of_5126_fail_until_healed() {
    let file = TempFile::new("5126");
    let sandbox = file.open();
    let bad = sandbox
        .charge(&card(REFUNDS_FAIL), usd(500), "pay_1", NOW)
        .unwrap();
    let good = sandbox.charge(&card(VISA), usd(500), "pay_2", NOW).unwrap();
    for _ in 0..2 {
        let err = sandbox.refund(&bad.id, usd(100), "ref_1", NOW).unwrap_err();
        assert_eq!(err.code(), "refund_failed");
        assert!(!err.is_unknown_outcome());
    }
    assert_eq!(sandbox.refund_by_reference("ref_1").unwrap(), None);
    assert_eq!(code(sandbox.heal_refunds("ch_nope")), "no_such_charge");

    sandbox.heal_refunds(&bad.id).unwrap();
    let refund = sandbox.refund(&bad.id, usd(100), "ref_1", NOW).unwrap();
    assert_eq!(refund.charge_id, bad.id);
    sandbox.refund(&good.id, usd(500), "ref_2", NOW).unwrap();
    assert_eq!(
        lines(&sandbox),
        [
            ("charge", "pay_1".to_string(), 500),
            ("charge", "pay_2".to_string(), 500),
            ("refund", "ref_1".to_string(), 100),
            ("refund", "ref_2".to_string(), 500),
        ]
    );
}

#[test]
fn declines_record_nothing() {
    let file = TempFile::new("declines");
    let sandbox = file.open();
    let table = [
        (card("4000000000000002"), "card_declined"),
        (card("4000000000009995"), "insufficient_funds"),
        (card("4000000000000127"), "incorrect_cvc"),
        (card("4000000000000069"), "expired_card"),
        (card("4000000000000119"), "processing_error"),
        (card("4111111111111111"), "live_card_in_test_mode"),
        (card_expiring(VISA, 10, 2026), "expired_card"),
        (card_expiring(REFUNDS_FAIL, 10, 2026), "expired_card"),
    ];
    for (input, want) in table {
        let err = sandbox.charge(&input, usd(100), "pay_1", NOW).unwrap_err();
        assert_eq!(err.code(), want, "{input:?}");
        assert!(!err.is_unknown_outcome());
    }
    assert!(sandbox.statement().unwrap().is_empty());
    assert_eq!(sandbox.charge_by_reference("pay_1").unwrap(), None);
    // A declined reference was never used: a good card may take it.
    sandbox.charge(&card(VISA), usd(100), "pay_1", NOW).unwrap();
    assert_eq!(lines(&sandbox).len(), 1);
}

#[test]
fn a_timeout_records_nothing() {
    let file = TempFile::new("timeout");
    let sandbox = file.open();
    sandbox
        .add_fault(fault(FaultOp::Charge, FaultEffect::Timeout, 1))
        .unwrap();
    let err = sandbox
        .charge(&card(VISA), usd(100), "pay_1", NOW)
        .unwrap_err();
    assert_eq!(err, SandboxError::Timeout);
    assert!(err.is_unknown_outcome());
    assert_eq!(sandbox.charge_by_reference("pay_1").unwrap(), None);
    assert!(sandbox.statement().unwrap().is_empty());
    assert!(sandbox.faults().unwrap().is_empty(), "spent");
    sandbox.charge(&card(VISA), usd(100), "pay_1", NOW).unwrap();
    assert_eq!(lines(&sandbox), [("charge", "pay_1".to_string(), 100)]);
}

#[test]
fn a_lost_answer_records_once_and_a_retry_finds_it() {
    let file = TempFile::new("answer-lost");
    let sandbox = file.open();
    sandbox
        .add_fault(fault(FaultOp::Any, FaultEffect::AnswerLost, 1))
        .unwrap();

    let err = sandbox
        .charge(&card(VISA), usd(800), "pay_1", NOW)
        .unwrap_err();
    assert_eq!(err, SandboxError::AnswerLost);
    assert!(err.is_unknown_outcome());
    let recorded = sandbox.charge_by_reference("pay_1").unwrap().unwrap();
    let retried = sandbox
        .charge(&card(VISA), usd(800), "pay_1", NOW + 9)
        .unwrap();
    assert_eq!(retried, recorded);

    // A retry is a call like any other: an armed fault would hit it too.
    sandbox
        .add_fault(fault(FaultOp::Refund, FaultEffect::AnswerLost, 1))
        .unwrap();

    let err = sandbox
        .refund(&recorded.id, usd(300), "ref_1", NOW)
        .unwrap_err();
    assert_eq!(err.code(), "answer_lost");
    let refund = sandbox.refund_by_reference("ref_1").unwrap().unwrap();
    assert_eq!(
        sandbox
            .refund(&recorded.id, usd(300), "ref_1", NOW)
            .unwrap(),
        refund
    );
    assert_eq!(
        lines(&sandbox),
        [
            ("charge", "pay_1".to_string(), 800),
            ("refund", "ref_1".to_string(), 300)
        ]
    );
}

#[test]
fn a_failure_refuses_and_records_nothing() {
    let file = TempFile::new("fail");
    let sandbox = file.open();
    sandbox
        .add_fault(fault(FaultOp::Refund, FaultEffect::Fail, 1))
        .unwrap();
    let charge = sandbox.charge(&card(VISA), usd(100), "pay_1", NOW).unwrap();
    assert_eq!(
        sandbox.faults().unwrap().len(),
        1,
        "a charge does not spend a refund fault"
    );
    let err = sandbox
        .refund(&charge.id, usd(100), "ref_1", NOW)
        .unwrap_err();
    assert_eq!(err.code(), "processing_error");
    assert!(!err.is_unknown_outcome());
    assert_eq!(sandbox.refund_by_reference("ref_1").unwrap(), None);
    sandbox.refund(&charge.id, usd(100), "ref_1", NOW).unwrap();
    assert_eq!(lines(&sandbox).len(), 2);
}

#[test]
fn faults_count_down_oldest_first() {
    let file = TempFile::new("times");
    let sandbox = file.open();
    sandbox
        .add_fault(fault(FaultOp::Charge, FaultEffect::Timeout, 2))
        .unwrap();
    sandbox
        .add_fault(fault(FaultOp::Any, FaultEffect::Fail, 1))
        .unwrap();
    sandbox
        .add_fault(fault(FaultOp::Any, FaultEffect::Timeout, 0))
        .unwrap();
    assert_eq!(
        sandbox.faults().unwrap(),
        [
            fault(FaultOp::Charge, FaultEffect::Timeout, 2),
            fault(FaultOp::Any, FaultEffect::Fail, 1),
        ]
    );
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(match sandbox.charge(&card(VISA), usd(100), "pay_1", NOW) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        });
        if codes.len() == 1 {
            assert_eq!(sandbox.faults().unwrap()[0].times, 1);
        }
    }
    assert_eq!(codes, ["timeout", "timeout", "processing_error", "ok"]);
    assert!(sandbox.faults().unwrap().is_empty());

    sandbox
        .add_fault(fault(FaultOp::Any, FaultEffect::Timeout, 5))
        .unwrap();
    sandbox.clear_faults().unwrap();
    assert!(sandbox.faults().unwrap().is_empty());
    sandbox.charge(&card(VISA), usd(100), "pay_2", NOW).unwrap();
}

#[test]
#[allow(clippy::disallowed_methods)] // measures the stall with the real clock
fn a_stall_records_first_and_answers_after_the_delay() {
    let file = TempFile::new("stall");
    let caller = file.open();
    let observer = file.open();
    observer
        .add_fault(fault(FaultOp::Charge, FaultEffect::Stall { ms: 1_500 }, 1))
        .unwrap();
    let started = std::time::Instant::now();
    let call = std::thread::spawn(move || caller.charge(&card(VISA), usd(100), "pay_1", NOW));

    let mut seen: Option<ChargeRecord> = None;
    for _ in 0..500 {
        seen = observer.charge_by_reference("pay_1").unwrap();
        if seen.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = seen.expect("the provider recorded the charge while stalling");
    assert!(!call.is_finished(), "recorded before the answer");
    let answered = call.join().unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1_500));
    assert_eq!(answered, seen);
    assert_eq!(lines(&observer).len(), 1);
}

#[test]
fn two_handles_on_one_file_see_each_other() {
    let file = TempFile::new("two-handles");
    let server = file.open();
    let tests = file.open();
    let charge = server.charge(&card(VISA), usd(1000), "pay_1", NOW).unwrap();
    assert_eq!(
        tests.charge_by_reference("pay_1").unwrap(),
        Some(charge.clone())
    );
    tests.refund(&charge.id, usd(250), "ref_1", NOW).unwrap();
    assert_eq!(
        server.charge_by_id(&charge.id).unwrap().unwrap().refunded,
        usd(250)
    );

    tests
        .add_fault(fault(FaultOp::Refund, FaultEffect::Timeout, 1))
        .unwrap();
    let err = server
        .refund(&charge.id, usd(250), "ref_2", NOW)
        .unwrap_err();
    assert_eq!(
        err,
        SandboxError::Timeout,
        "a fault armed by one handle hits the other"
    );
    assert_eq!(tests.statement().unwrap(), server.statement().unwrap());

    drop(server);
    let reopened = file.open();
    assert_eq!(lines(&reopened).len(), 2, "the file outlives its users");
}

#[test]
fn concurrent_retries_charge_once() {
    let file = TempFile::new("concurrent");
    let handles = [file.open(), file.open(), file.open()];
    let threads: Vec<_> = (0..9)
        .map(|i| {
            let sandbox = handles[i % handles.len()].clone();
            std::thread::spawn(move || sandbox.charge(&card(VISA), usd(100), "pay_1", NOW))
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap().id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(lines(&handles[0]).len(), 1);
}

#[test]
fn the_statement_lists_exactly_the_operations_in_order() {
    let file = TempFile::new("statement");
    let sandbox = file.open();
    let a = sandbox
        .charge(&card(VISA), usd(1000), "pay_a", NOW)
        .unwrap();
    let _ = sandbox.charge(&card("4000000000000002"), usd(50), "pay_x", NOW + 1);
    let b = sandbox
        .charge(&card(REFUNDS_FAIL), eur(700), "pay_b", NOW + 2)
        .unwrap();
    sandbox.refund(&a.id, usd(100), "ref_a1", NOW + 3).unwrap();
    let _ = sandbox.refund(&b.id, eur(100), "ref_b1", NOW + 4);
    sandbox
        .add_fault(fault(FaultOp::Any, FaultEffect::AnswerLost, 1))
        .unwrap();
    let _ = sandbox.refund(&a.id, usd(200), "ref_a2", NOW + 5);
    sandbox.refund(&a.id, usd(200), "ref_a2", NOW + 6).unwrap();
    sandbox
        .charge(&card(VISA), usd(1000), "pay_a", NOW + 7)
        .unwrap();

    let statement = sandbox.statement().unwrap();
    let got: Vec<(StatementKind, &str, &str, Money, i64)> = statement
        .iter()
        .map(|l| {
            (
                l.kind,
                l.reference.as_str(),
                l.charge_id.as_str(),
                l.amount,
                l.at,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                StatementKind::Charge,
                "pay_a",
                a.id.as_str(),
                usd(1000),
                NOW
            ),
            (
                StatementKind::Charge,
                "pay_b",
                b.id.as_str(),
                eur(700),
                NOW + 2
            ),
            (
                StatementKind::Refund,
                "ref_a1",
                a.id.as_str(),
                usd(100),
                NOW + 3
            ),
            (
                StatementKind::Refund,
                "ref_a2",
                a.id.as_str(),
                usd(200),
                NOW + 5
            ),
        ]
    );
    assert_eq!(statement[0].id, a.id);

    // The statement feeds the domain's reconciliation directly.
    let provider: Vec<_> = statement.iter().map(|l| l.to_provider_op()).collect();
    let mut recorded: Vec<RecordedOp> = provider
        .iter()
        .map(|p| RecordedOp {
            kind: p.kind,
            reference: p.reference.clone(),
            amount: p.amount,
        })
        .collect();
    assert!(reconcile(&provider, &recorded).is_empty());
    recorded.pop();
    let found = reconcile(&provider, &recorded);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].to_string(),
        "missing_in_ledger refund ref_a2: the provider moved 2.00 USD, the ledger has nothing"
    );
}

#[test]
fn a_file_from_a_newer_layout_is_refused() {
    let file = TempFile::new("layout");
    drop(file.open());
    let conn = rusqlite::Connection::open(&file.0).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = Sandbox::open(&file.0).unwrap_err();
    assert_eq!(err.code(), "storage");
    assert!(err.to_string().contains("layout 99"), "{err}");
}
