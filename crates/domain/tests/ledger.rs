//! Ledger core: table tests of every rejection, two-phase holds, tamper detection, and property
//! tests over random sequences of operations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_domain::audit::{Auditor, Breach};
use holdback_domain::ledger::{
    Account, AccountKind, AccountSpec, Book, Entry, Head, Hold, HoldStatus, JournalEntry,
    LedgerError, Outcome, PostingRef, Side, TransactionRequest, TransferRequest,
};
use holdback_domain::{AccountId, Currency, ErrorCode, HoldId, Money, TxId};
use proptest::prelude::*;

fn cur(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}
fn acc(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}
fn usd(minor: i64) -> Money {
    Money::from_minor(minor, cur("USD")).unwrap()
}
fn posted(debit: &str, credit: &str, amount: Money) -> TransferRequest {
    TransferRequest::Posted {
        debit: acc(debit),
        credit: acc(credit),
        amount,
    }
}
fn pending(hold: &str, debit: &str, credit: &str, amount: Money) -> TransferRequest {
    TransferRequest::Pending {
        hold: HoldId::parse(hold).unwrap(),
        debit: acc(debit),
        credit: acc(credit),
        amount,
    }
}
fn post_hold(hold: &str, amount: Option<Money>) -> TransferRequest {
    TransferRequest::PostPending {
        hold: HoldId::parse(hold).unwrap(),
        amount,
    }
}
fn void_hold(hold: &str) -> TransferRequest {
    TransferRequest::VoidPending {
        hold: HoldId::parse(hold).unwrap(),
    }
}
fn tx(id: &str, transfers: Vec<TransferRequest>) -> TransactionRequest {
    TransactionRequest {
        id: TxId::parse(id).unwrap(),
        transfers,
    }
}

/// A book with a USD card clearing account (unbounded asset), a bounded USD escrow, a bounded
/// seller payable, and a bounded EUR customer balance.
fn book() -> Book {
    let mut b = Book::new(Head::EMPTY);
    for (id, kind, code, bounded) in [
        ("clearing", AccountKind::BuyerPaymentClearing, "USD", false),
        ("escrow", AccountKind::Escrow, "USD", true),
        ("seller", AccountKind::SellerPayable, "USD", true),
        ("balance_eur", AccountKind::CustomerBalance, "EUR", true),
    ] {
        let spec = AccountSpec {
            id: acc(id),
            kind,
            currency: cur(code),
            bounded,
        };
        b.open_account(spec, 0).unwrap();
    }
    b
}

type Snapshot = (Vec<Account>, Vec<Hold>, Head);

fn snapshot(b: &Book) -> Snapshot {
    let mut accounts: Vec<Account> = b.accounts().cloned().collect();
    accounts.sort_by(|x, y| x.spec.id.cmp(&y.spec.id));
    let mut holds: Vec<Hold> = b.holds().cloned().collect();
    holds.sort_by(|x, y| x.id.cmp(&y.id));
    (accounts, holds, b.head())
}

fn audit(b: &Book, journal: &[JournalEntry]) -> Vec<Breach> {
    let mut auditor = Auditor::new();
    for e in journal {
        auditor.feed(e);
    }
    let (accounts, holds, head) = snapshot(b);
    auditor.finish(head, accounts, holds).breaches
}

#[test]
fn every_rejection_is_named_and_changes_nothing() {
    let mut b = book();
    b.execute(
        &tx("fund", vec![posted("clearing", "escrow", usd(1000))]),
        1,
    )
    .unwrap();
    b.execute(
        &tx("hold1", vec![pending("h1", "escrow", "seller", usd(300))]),
        2,
    )
    .unwrap();
    b.execute(&tx("void1", vec![void_hold("h1")]), 3).unwrap();
    let eur = Money::from_minor(5, cur("EUR")).unwrap();
    let table: Vec<(TransactionRequest, &str)> = vec![
        (tx("t", vec![]), "empty_transaction"),
        (
            tx("t", vec![posted("clearing", "escrow", usd(1)); 65]),
            "too_many_transfers",
        ),
        (
            tx("t", vec![posted("clearing", "escrow", usd(0))]),
            "zero_amount",
        ),
        (
            tx("t", vec![posted("escrow", "escrow", usd(1))]),
            "same_account",
        ),
        (
            tx("t", vec![posted("nobody", "escrow", usd(1))]),
            "unknown_account",
        ),
        (
            tx("t", vec![posted("clearing", "escrow", eur)]),
            "cross_currency",
        ),
        (
            tx("t", vec![posted("clearing", "balance_eur", usd(1))]),
            "cross_currency",
        ),
        (
            tx("t", vec![posted("escrow", "seller", usd(1001))]),
            "balance_insufficient",
        ),
        (
            // the second transfer fails: the first must not apply either
            tx(
                "t",
                vec![
                    posted("clearing", "escrow", usd(5)),
                    posted("seller", "escrow", usd(1)),
                ],
            ),
            "balance_insufficient",
        ),
        (
            tx("fund", vec![posted("clearing", "escrow", usd(999))]),
            "transaction_id_conflict",
        ),
        (
            tx("t", vec![pending("h1", "escrow", "seller", usd(1))]),
            "hold_exists",
        ),
        (tx("t", vec![post_hold("nope", None)]), "unknown_hold"),
        (tx("t", vec![void_hold("h1")]), "hold_already_resolved"),
        (
            tx("t", vec![post_hold("h1", None)]),
            "hold_already_resolved",
        ),
    ];
    for (request, code) in table {
        let before = snapshot(&b);
        let err = b.execute(&request, 10).unwrap_err();
        assert_eq!(err.code().as_str(), code, "{request:?}: {err}");
        assert_eq!(snapshot(&b), before, "a rejected {code} changed the book");
    }
}

#[test]
fn balances_overflow_by_name() {
    let mut b = book();
    let big = Money::from_minor(holdback_domain::MAX_AMOUNT, cur("USD")).unwrap();
    let mut n = 0;
    let err = loop {
        n += 1;
        match b.execute(
            &tx(&format!("big{n}"), vec![posted("clearing", "escrow", big)]),
            n,
        ) {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), ErrorCode::BalanceOverflow);
    assert!(n > 9000, "overflowed after {n} transfers");
}

#[test]
fn partial_post_releases_the_remainder_and_resolves_once() {
    let mut b = book();
    b.execute(
        &tx("fund", vec![posted("clearing", "escrow", usd(1000))]),
        1,
    )
    .unwrap();
    b.execute(
        &tx("r", vec![pending("h", "escrow", "seller", usd(600))]),
        2,
    )
    .unwrap();
    let escrow = b.account(&acc("escrow")).unwrap();
    assert_eq!((escrow.posted_balance(), escrow.available()), (1000, 400));
    // cannot spend what is reserved
    let err = b
        .execute(&tx("x", vec![posted("escrow", "seller", usd(401))]), 3)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::BalanceInsufficient);
    let err = b
        .execute(&tx("p0", vec![post_hold("h", Some(usd(601)))]), 3)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PostExceedsHold);
    b.execute(&tx("p", vec![post_hold("h", Some(usd(250)))]), 4)
        .unwrap();
    let escrow = b.account(&acc("escrow")).unwrap();
    assert_eq!((escrow.posted_balance(), escrow.available()), (750, 750));
    assert_eq!(b.account(&acc("seller")).unwrap().posted_balance(), 250);
    assert_eq!(
        b.hold(&HoldId::parse("h").unwrap()).unwrap().status,
        HoldStatus::Posted {
            amount: 250,
            seq: 3
        }
    );
    let err = b.execute(&tx("p2", vec![void_hold("h")]), 5).unwrap_err();
    assert_eq!(err.code(), ErrorCode::HoldAlreadyResolved);
}

#[test]
fn retry_with_same_content_returns_the_original_receipt() {
    let mut b = book();
    let request = tx("once", vec![posted("clearing", "escrow", usd(10))]);
    let first = b.execute(&request, 1).unwrap();
    let before = snapshot(&b);
    let again = b.execute(&request, 99).unwrap();
    assert!(matches!(first, Outcome::Committed(_)));
    assert_eq!(again, Outcome::Exists(first.receipt().clone()));
    assert_eq!(snapshot(&b), before);
}

#[test]
fn entries_must_balance_per_currency() {
    let id = TxId::parse("e").unwrap();
    let entry = |a: &str, side, m| Entry {
        account: acc(a),
        side,
        amount: m,
    };
    let err = TransactionRequest::from_entries(
        id.clone(),
        vec![
            entry("clearing", Side::Debit, usd(10)),
            entry("escrow", Side::Credit, usd(9)),
        ],
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unbalanced);
    let eur = Money::from_minor(10, cur("EUR")).unwrap();
    let err = TransactionRequest::from_entries(
        id.clone(),
        vec![
            entry("clearing", Side::Debit, usd(10)),
            entry("balance_eur", Side::Credit, eur),
        ],
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unbalanced);
    // one debit split across two credits becomes two transfers
    let request = TransactionRequest::from_entries(
        id,
        vec![
            entry("clearing", Side::Debit, usd(10)),
            entry("escrow", Side::Credit, usd(7)),
            entry("seller", Side::Credit, usd(3)),
        ],
    )
    .unwrap();
    assert_eq!(
        request.transfers,
        vec![
            posted("clearing", "escrow", usd(7)),
            posted("clearing", "seller", usd(3))
        ]
    );
}

#[test]
fn auditor_sees_tampering() {
    let mut b = book();
    let mut journal = Vec::new();
    for (i, amount) in [100, 200, 300].into_iter().enumerate() {
        b.execute(
            &tx(
                &format!("t{i}"),
                vec![posted("clearing", "escrow", usd(amount))],
            ),
            1,
        )
        .unwrap();
    }
    journal.extend(b.take_changes().entries);
    assert!(audit(&b, &journal).is_empty());

    // an edited amount breaks the entry's hash and the stored balances
    let mut edited = journal.clone();
    edited[1].postings[0].posted = 250;
    let breaches = audit(&b, &edited);
    assert!(
        breaches.contains(&Breach::HashMismatch { seq: 2 }),
        "{breaches:?}"
    );
    assert!(
        breaches
            .iter()
            .any(|x| matches!(x, Breach::BalanceMismatch { .. }))
    );

    // a history link pointing elsewhere, or a wrong newest posting, is seen
    let mut relinked = journal.clone();
    relinked[2].postings[0].credit_prev = None;
    assert_eq!(
        audit(&b, &relinked),
        vec![Breach::HistoryLink {
            seq: 3,
            idx: 0,
            account: acc("escrow")
        }]
    );
    let (mut accounts, holds, head) = snapshot(&b);
    for a in accounts.iter_mut().filter(|a| a.spec.id == acc("escrow")) {
        a.last_posting = Some(PostingRef { seq: 1, idx: 0 });
    }
    let mut auditor = Auditor::new();
    journal.iter().for_each(|e| auditor.feed(e));
    assert_eq!(
        auditor.finish(head, accounts, holds).breaches,
        vec![Breach::HistoryHead {
            account: acc("escrow")
        }]
    );

    // a deleted entry leaves a gap and a broken chain
    let mut deleted = journal.clone();
    deleted.remove(1);
    let breaches = audit(&b, &deleted);
    assert!(breaches.contains(&Breach::SequenceGap {
        expected: 2,
        found: 3
    }));
    assert!(breaches.contains(&Breach::BrokenChain { seq: 3 }));
}

// ---- property tests ------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Post {
        from: usize,
        to: usize,
        currency: usize,
        amount: i64,
    },
    Reserve {
        from: usize,
        to: usize,
        currency: usize,
        amount: i64,
    },
    PostHold {
        pick: usize,
        percent: Option<u8>,
    },
    VoidHold {
        pick: usize,
    },
    Retry {
        pick: usize,
    },
    ConflictingRetry {
        pick: usize,
    },
}

const CURRENCIES: [&str; 3] = ["USD", "JPY", "KWD"];
const ROLES: [(&str, AccountKind, bool); 4] = [
    ("clearing", AccountKind::BuyerPaymentClearing, false),
    ("escrow", AccountKind::Escrow, true),
    ("seller", AccountKind::SellerPayable, true),
    ("balance", AccountKind::CustomerBalance, true),
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, 0..4usize, 0..3usize, 1..5_000i64)
            .prop_map(|(from, to, currency, amount)| Op::Post { from, to, currency, amount }),
        3 => (0..4usize, 0..4usize, 0..3usize, 1..5_000i64)
            .prop_map(|(from, to, currency, amount)| Op::Reserve { from, to, currency, amount }),
        2 => (any::<usize>(), proptest::option::of(1..=100u8))
            .prop_map(|(pick, percent)| Op::PostHold { pick, percent }),
        2 => any::<usize>().prop_map(|pick| Op::VoidHold { pick }),
        2 => any::<usize>().prop_map(|pick| Op::Retry { pick }),
        1 => any::<usize>().prop_map(|pick| Op::ConflictingRetry { pick }),
    ]
}

fn model() -> Book {
    let mut b = Book::new(Head::EMPTY);
    for code in CURRENCIES {
        for (role, kind, bounded) in ROLES {
            let spec = AccountSpec {
                id: acc(&format!("{role}_{code}")),
                kind,
                currency: cur(code),
                bounded,
            };
            b.open_account(spec, 0).unwrap();
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ledger_invariants_hold_over_random_operations(ops in proptest::collection::vec(op(), 1..60)) {
        let mut b = model();
        let mut journal: Vec<JournalEntry> = Vec::new();
        let mut committed: Vec<TransactionRequest> = Vec::new();
        let mut holds: Vec<(HoldId, Currency)> = Vec::new();
        let mut resolved_once: std::collections::HashSet<HoldId> = Default::default();
        for (n, op) in ops.into_iter().enumerate() {
            let id = TxId::parse(&format!("tx{n}")).unwrap();
            let name = |i: usize, c: usize| acc(&format!("{}_{}", ROLES[i].0, CURRENCIES[c]));
            let money = |a: i64, c: usize| Money::from_minor(a, cur(CURRENCIES[c])).unwrap();
            let request = match op {
                Op::Post { from, to, currency, amount } => TransactionRequest {
                    id,
                    transfers: vec![TransferRequest::Posted {
                        debit: name(from, currency),
                        credit: name(to, currency),
                        amount: money(amount, currency),
                    }],
                },
                Op::Reserve { from, to, currency, amount } => {
                    let hold = HoldId::parse(&format!("h{n}")).unwrap();
                    holds.push((hold.clone(), cur(CURRENCIES[currency])));
                    TransactionRequest {
                        id,
                        transfers: vec![TransferRequest::Pending {
                            hold,
                            debit: name(from, currency),
                            credit: name(to, currency),
                            amount: money(amount, currency),
                        }],
                    }
                }
                Op::PostHold { pick, percent } if !holds.is_empty() => {
                    let (hold, _) = holds[pick % holds.len()].clone();
                    let amount = match (percent, b.hold(&hold)) {
                        (Some(p), Some(h)) => Some(
                            Money::from_minor((h.amount.minor() * i64::from(p) / 100).max(1), h.amount.currency())
                                .unwrap(),
                        ),
                        _ => None,
                    };
                    TransactionRequest { id, transfers: vec![TransferRequest::PostPending { hold, amount }] }
                }
                Op::VoidHold { pick } if !holds.is_empty() => {
                    let (hold, _) = holds[pick % holds.len()].clone();
                    TransactionRequest { id, transfers: vec![TransferRequest::VoidPending { hold }] }
                }
                Op::Retry { pick } | Op::ConflictingRetry { pick } if !committed.is_empty() => {
                    let original = committed[pick % committed.len()].clone();
                    let before = snapshot(&b);
                    if matches!(op, Op::Retry { .. }) {
                        // replaying any transaction id changes nothing and answers "exists"
                        let outcome = b.execute(&original, 1_000 + n as i64).unwrap();
                        prop_assert!(matches!(outcome, Outcome::Exists(_)));
                    } else {
                        let mut changed = original.clone();
                        changed.transfers.push(changed.transfers[0].clone());
                        let err = b.execute(&changed, 1_000 + n as i64).unwrap_err();
                        prop_assert_eq!(err.code(), ErrorCode::TransactionIdConflict);
                    }
                    prop_assert_eq!(snapshot(&b), before);
                    continue;
                }
                _ => continue,
            };
            let before = snapshot(&b);
            match b.execute(&request, n as i64) {
                Ok(outcome) => {
                    prop_assert!(matches!(outcome, Outcome::Committed(_)));
                    for t in &request.transfers {
                        if let TransferRequest::PostPending { hold, .. } | TransferRequest::VoidPending { hold } = t {
                            // a hold is resolved at most once
                            prop_assert!(resolved_once.insert(hold.clone()), "hold {} resolved twice", hold);
                        }
                    }
                    committed.push(request);
                }
                Err(e) => {
                    prop_assert_eq!(snapshot(&b), before, "rejected {} changed the book", e.code());
                    if let LedgerError::HoldAlreadyResolved(h) = &e {
                        prop_assert!(resolved_once.contains(h));
                    }
                }
            }
            journal.extend(b.take_changes().entries);
            // debits = credits per currency, bounds, pending = open holds, chain, stored = derived
            let breaches = audit(&b, &journal);
            prop_assert!(breaches.is_empty(), "{:?}", breaches);
        }
    }
}

#[test]
fn opening_and_executing_are_one() {
    let mut b = Book::new(Head::EMPTY);
    let spec = |id: &str, kind| AccountSpec {
        id: acc(id),
        kind,
        currency: cur("USD"),
        bounded: kind == AccountKind::Escrow,
    };
    let specs = vec![
        spec("card", AccountKind::BuyerPaymentClearing),
        spec("escrow:o1", AccountKind::Escrow),
    ];
    // the transfer is refused (escrow would go below zero): neither account is opened
    let bad = tx("t1", vec![posted("escrow:o1", "card", usd(5))]);
    let before = snapshot(&b);
    assert_eq!(
        b.execute_opening(&specs, Some(&bad), 1).unwrap_err().code(),
        ErrorCode::BalanceInsufficient
    );
    assert_eq!(snapshot(&b), before);
    assert!(b.take_changes().opened_accounts.is_empty());
    // accepted: both open and the transfer posts, in one change set
    let good = tx("t2", vec![posted("card", "escrow:o1", usd(5))]);
    assert!(b.execute_opening(&specs, Some(&good), 2).unwrap().is_some());
    let changes = b.take_changes();
    assert_eq!(changes.opened_accounts.len(), 2);
    assert_eq!(changes.entries.len(), 1);
    // opening again with the same specs is fine; a different spec is a conflict
    assert!(b.execute_opening(&specs, None, 3).unwrap().is_none());
    let other = vec![spec("card", AccountKind::Escrow)];
    assert_eq!(
        b.execute_opening(&other, None, 3).unwrap_err().code(),
        ErrorCode::AccountConflict
    );
}
