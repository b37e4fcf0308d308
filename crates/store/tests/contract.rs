//! The store contract: every test runs against SQLite, and against PostgreSQL when
//! `HOLDBACK_TEST_POSTGRES_URL` is set (otherwise a visible SKIPPED line is printed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use holdback_domain::ledger::{
    AccountKind, AccountOutcome, AccountSpec, Book, Head, HoldStatus, Outcome, TransactionRequest,
    TransferRequest,
};
use holdback_domain::{AccountId, Currency, ErrorCode, HoldId, Money, TxId};
use holdback_store::clock::{Clock, ManualClock};
use holdback_store::testing::TestDb;
use holdback_store::{Conflict, Ledger, Store, WriteError};

fn acc(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}
fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("USD").unwrap()).unwrap()
}
fn posted(id: &str, debit: &str, credit: &str, amount: Money) -> TransactionRequest {
    TransactionRequest {
        id: TxId::parse(id).unwrap(),
        transfers: vec![TransferRequest::Posted {
            debit: acc(debit),
            credit: acc(credit),
            amount,
        }],
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(1_700_000_000_000))
}

async fn open(ledger: &Ledger, id: &str, kind: AccountKind, currency: &str, bounded: bool) {
    let spec = AccountSpec {
        id: acc(id),
        kind,
        currency: Currency::parse(currency).unwrap(),
        bounded,
    };
    ledger.open_account(spec).await.unwrap();
}

/// A store with a USD clearing account, a bounded USD escrow and seller payable, a EUR balance.
async fn setup(db: &TestDb) -> (Store, Ledger) {
    let store = db.store().await.unwrap();
    let ledger = Ledger::start(store.clone(), clock());
    open(
        &ledger,
        "clearing",
        AccountKind::BuyerPaymentClearing,
        "USD",
        false,
    )
    .await;
    open(&ledger, "escrow", AccountKind::Escrow, "USD", true).await;
    open(&ledger, "seller", AccountKind::SellerPayable, "USD", true).await;
    open(
        &ledger,
        "balance_eur",
        AccountKind::CustomerBalance,
        "EUR",
        true,
    )
    .await;
    (store, ledger)
}

async fn assert_clean(store: &Store) {
    let report = store.audit().await.unwrap();
    assert!(
        report.is_clean(),
        "{}: {:?}",
        store.backend(),
        report.breaches
    );
}

#[tokio::test]
async fn migrations_run_once_and_again_safely() {
    for db in TestDb::all("migrations_run_once_and_again_safely").await {
        let store = Store::connect(&db.url).await.unwrap();
        assert_eq!(
            store.migrate().await.unwrap(),
            vec![
                "0001_ledger",
                "0002_orders",
                "0003_webhooks",
                "0004_catalog",
                "0005_history_chains",
                "0006_payments_refunds",
                "0007_parties",
                "0008_webhook_management",
                "0009_idempotency_claims",
                "0010_order_messages",
                "0011_evidence",
                "0012_order_disputes",
                "0013_disputes",
                "0014_mediator_keys",
                "0015_awaiting_payment",
                "0016_connector_notifications",
                "0017_gift_cards",
                "0018_refund_destination",
                "0019_coupons",
                "0020_cash_on_delivery",
                "0021_remittance_reversals",
                "0022_cod_modes"
            ]
        );
        assert!(store.migrate().await.unwrap().is_empty());
        let again = Store::connect(&db.url).await.unwrap();
        assert!(again.migrate().await.unwrap().is_empty());
        assert_clean(&store).await;
    }
}

/// Postings written under schema 4 (with per-account indexes, no history chain) are linked by
/// migration 5: the audit re-derives every link and each account's newest posting, and history
/// pages walk them.
#[tokio::test]
async fn the_history_chain_migration_links_postings_written_before_it() {
    for db in TestDb::all("the_history_chain_migration_links_postings_written_before_it").await {
        let b = db.backend();
        let store = Store::connect(&db.url).await.unwrap();
        store.migrate_to(4).await.unwrap();
        // a journal decided by the domain's book, stored as schema 4 stored it
        let mut book = Book::new(Head::EMPTY);
        for (id, kind, bounded) in [
            ("clearing", AccountKind::BuyerPaymentClearing, false),
            ("escrow", AccountKind::Escrow, true),
            ("seller", AccountKind::SellerPayable, true),
            ("idle", AccountKind::Escrow, true),
        ] {
            let spec = AccountSpec {
                id: acc(id),
                kind,
                currency: Currency::parse("USD").unwrap(),
                bounded,
            };
            book.open_account(spec, 1).unwrap();
        }
        let mut requests: Vec<TransactionRequest> = (0..5)
            .map(|i| posted(&format!("t{i}"), "clearing", "escrow", usd(100 + i)))
            .collect();
        requests.push(TransactionRequest {
            id: TxId::parse("two_legs").unwrap(),
            transfers: vec![
                TransferRequest::Posted {
                    debit: acc("escrow"),
                    credit: acc("seller"),
                    amount: usd(50),
                },
                TransferRequest::Posted {
                    debit: acc("clearing"),
                    credit: acc("escrow"),
                    amount: usd(7),
                },
            ],
        });
        requests.push(TransactionRequest {
            id: TxId::parse("hold").unwrap(),
            transfers: vec![TransferRequest::Pending {
                hold: HoldId::parse("h1").unwrap(),
                debit: acc("escrow"),
                credit: acc("seller"),
                amount: usd(30),
            }],
        });
        for r in &requests {
            book.execute(r, 1_000).unwrap();
        }
        let changes = book.take_changes();
        let mut sql = String::new();
        for a in &changes.opened_accounts {
            sql += &format!(
                "INSERT INTO accounts (id, kind, currency, bounded, debits_posted, \
                 credits_posted, debits_pending, credits_pending, created_at) \
                 VALUES ('{}', '{}', 'USD', {}, {}, {}, {}, {}, 1);\n",
                a.spec.id,
                a.spec.kind.code(),
                if a.spec.bounded { "TRUE" } else { "FALSE" },
                a.debits_posted,
                a.credits_posted,
                a.debits_pending,
                a.credits_pending
            );
        }
        for e in &changes.entries {
            sql += &format!(
                "INSERT INTO journal (seq, tx_id, fingerprint, committed_at, prev_hash, hash) \
                 VALUES ({}, '{}', '{}', {}, '{}', '{}');\n",
                e.seq,
                e.tx_id,
                e.fingerprint.to_hex(),
                e.committed_at,
                e.prev_hash.to_hex(),
                e.hash.to_hex()
            );
            for (idx, p) in e.postings.iter().enumerate() {
                sql += &format!(
                    "INSERT INTO postings (seq, idx, kind, hold_id, debit_account, \
                     credit_account, currency, posted, pending_delta) \
                     VALUES ({}, {idx}, '{}', {}, '{}', '{}', 'USD', {}, {});\n",
                    e.seq,
                    p.kind.code(),
                    p.hold
                        .as_ref()
                        .map_or("NULL".to_string(), |h| format!("'{h}'")),
                    p.debit,
                    p.credit,
                    p.posted,
                    p.pending_delta
                );
            }
        }
        for h in &changes.opened_holds {
            sql += &format!(
                "INSERT INTO holds (id, debit_account, credit_account, currency, amount, status, \
                 created_seq) VALUES ('{}', '{}', '{}', 'USD', {}, 'open', {});\n",
                h.id,
                h.debit,
                h.credit,
                h.amount.minor(),
                h.created_seq
            );
        }
        let head = changes.head.unwrap();
        sql += &format!(
            "UPDATE ledger_head SET seq = {}, hash = '{}', committed_at = {} WHERE id = 1;",
            head.seq,
            head.hash.to_hex(),
            head.committed_at
        );
        store.execute_raw(&sql).await.unwrap();

        assert_eq!(
            store.migrate().await.unwrap(),
            vec![
                "0005_history_chains",
                "0006_payments_refunds",
                "0007_parties",
                "0008_webhook_management",
                "0009_idempotency_claims",
                "0010_order_messages",
                "0011_evidence",
                "0012_order_disputes",
                "0013_disputes",
                "0014_mediator_keys",
                "0015_awaiting_payment",
                "0016_connector_notifications",
                "0017_gift_cards",
                "0018_refund_destination",
                "0019_coupons",
                "0020_cash_on_delivery",
                "0021_remittance_reversals",
                "0022_cod_modes"
            ],
            "{b}"
        );
        assert_clean(&store).await;
        let escrow = store.account(&acc("escrow")).await.unwrap().unwrap();
        assert_eq!(
            escrow.last_posting,
            book.account(&acc("escrow")).unwrap().last_posting
        );
        let idle = store.account(&acc("idle")).await.unwrap().unwrap();
        assert_eq!(idle.last_posting, None, "{b}");
        // newest first: the hold, both legs of two_legs (index 1, then 0), then t4 … t0
        let page = store.history(&acc("escrow"), None, 100).await.unwrap();
        let got: Vec<(i64, i32)> = page.lines.iter().map(|l| (l.seq, l.idx)).collect();
        assert_eq!(
            got,
            vec![
                (7, 0),
                (6, 1),
                (6, 0),
                (5, 0),
                (4, 0),
                (3, 0),
                (2, 0),
                (1, 0)
            ],
            "{b}"
        );
        // and the ledger goes on writing from the migrated chain heads
        let ledger = Ledger::start(store.clone(), clock());
        ledger
            .transact(posted("after", "clearing", "escrow", usd(1)))
            .await
            .unwrap();
        let page = store.history(&acc("escrow"), None, 2).await.unwrap();
        assert_eq!(
            page.lines
                .iter()
                .map(|l| (l.seq, l.idx))
                .collect::<Vec<_>>(),
            vec![(8, 0), (7, 0)],
            "{b}"
        );
        assert!(page.has_more, "{b}");
        assert_clean(&store).await;
    }
}

#[tokio::test]
async fn accounts_transfers_balances_and_history() {
    for db in TestDb::all("accounts_transfers_balances_and_history").await {
        let (store, ledger) = setup(&db).await;
        let b = db.backend();
        // opening the same account again is "exists"; a different spec is a conflict
        let same = AccountSpec {
            id: acc("escrow"),
            kind: AccountKind::Escrow,
            currency: Currency::parse("USD").unwrap(),
            bounded: true,
        };
        assert_eq!(
            ledger.open_account(same.clone()).await.unwrap(),
            AccountOutcome::Exists
        );
        let other = AccountSpec {
            bounded: false,
            ..same
        };
        let err = ledger.open_account(other).await.unwrap_err();
        assert!(
            matches!(&err, WriteError::Rejected(e) if e.code() == ErrorCode::AccountConflict),
            "{b}"
        );

        for i in 0..25 {
            let r = ledger
                .transact(posted(&format!("t{i}"), "clearing", "escrow", usd(100 + i)))
                .await
                .unwrap();
            assert_eq!(r.receipt().seq, i + 1, "{b}: gapless sequence");
        }
        let escrow = store.account(&acc("escrow")).await.unwrap().unwrap();
        let total: i64 = (0..25).map(|i| 100 + i).sum();
        assert_eq!(escrow.posted_balance(), i128::from(total), "{b}");
        let clearing = store.account(&acc("clearing")).await.unwrap().unwrap();
        assert_eq!(clearing.posted_balance(), i128::from(total), "{b}");

        // cursor pagination walks all 25 lines, newest first, 10 at a time
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.history(&acc("escrow"), cursor, 10).await.unwrap();
            seen.extend(page.lines.iter().map(|l| l.posting.posted));
            cursor = page.lines.last().map(|l| (l.seq, l.idx));
            if !page.has_more {
                break;
            }
        }
        assert_eq!(
            seen,
            (0..25).rev().map(|i| 100 + i).collect::<Vec<_>>(),
            "{b}"
        );
        // a cursor that is not one of the account's postings gives nothing, not someone else's
        assert!(
            store
                .history(&acc("seller"), Some((3, 0)), 10)
                .await
                .unwrap()
                .lines
                .is_empty(),
            "{b}"
        );
        assert!(
            store
                .history(&acc("seller"), None, 10)
                .await
                .unwrap()
                .lines
                .is_empty()
        );
        assert_clean(&store).await;
    }
}

#[tokio::test]
async fn two_phase_holds_resolve_exactly_once() {
    for db in TestDb::all("two_phase_holds_resolve_exactly_once").await {
        let (store, ledger) = setup(&db).await;
        let b = db.backend();
        let hold = HoldId::parse("h1").unwrap();
        ledger
            .transact(posted("fund", "clearing", "escrow", usd(1000)))
            .await
            .unwrap();
        ledger
            .transact(TransactionRequest {
                id: TxId::parse("reserve").unwrap(),
                transfers: vec![TransferRequest::Pending {
                    hold: hold.clone(),
                    debit: acc("escrow"),
                    credit: acc("seller"),
                    amount: usd(600),
                }],
            })
            .await
            .unwrap();
        let escrow = store.account(&acc("escrow")).await.unwrap().unwrap();
        assert_eq!(
            (escrow.posted_balance(), escrow.available()),
            (1000, 400),
            "{b}"
        );
        let post = |id: &str, amount| TransactionRequest {
            id: TxId::parse(id).unwrap(),
            transfers: vec![TransferRequest::PostPending {
                hold: hold.clone(),
                amount,
            }],
        };
        // two resolutions race: exactly one wins, the other is rejected by name
        let (a, c) = tokio::join!(
            ledger.transact(post("post_a", Some(usd(250)))),
            ledger.transact(TransactionRequest {
                id: TxId::parse("void_b").unwrap(),
                transfers: vec![TransferRequest::VoidPending { hold: hold.clone() }],
            })
        );
        let wins = [a.is_ok(), c.is_ok()].iter().filter(|x| **x).count();
        assert_eq!(wins, 1, "{b}: {a:?} {c:?}");
        let loser = if a.is_ok() { c } else { a };
        assert!(
            matches!(loser, Err(WriteError::Rejected(e)) if e.code() == ErrorCode::HoldAlreadyResolved)
        );
        let stored = store.hold(&hold).await.unwrap().unwrap();
        assert_ne!(stored.status, HoldStatus::Open, "{b}");
        // the database itself refuses a second resolution
        let err = store
            .execute_raw(
                "UPDATE holds SET status = 'open', posted_amount = NULL, resolved_seq = NULL",
            )
            .await;
        assert!(err.is_err(), "{b}: a resolved hold was reopened");
        // many resolutions of one hold at once (they land in one batch or several): one wins
        ledger
            .transact(TransactionRequest {
                id: TxId::parse("reserve2").unwrap(),
                transfers: vec![TransferRequest::Pending {
                    hold: HoldId::parse("h2").unwrap(),
                    debit: acc("escrow"),
                    credit: acc("seller"),
                    amount: usd(100),
                }],
            })
            .await
            .unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let ledger = ledger.clone();
                let hold = HoldId::parse("h2").unwrap();
                tokio::spawn(async move {
                    let transfer = if i % 2 == 0 {
                        TransferRequest::PostPending { hold, amount: None }
                    } else {
                        TransferRequest::VoidPending { hold }
                    };
                    ledger
                        .transact(TransactionRequest {
                            id: TxId::parse(&format!("resolve{i}")).unwrap(),
                            transfers: vec![transfer],
                        })
                        .await
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => wins += 1,
                Err(WriteError::Rejected(e)) => {
                    assert_eq!(e.code(), ErrorCode::HoldAlreadyResolved)
                }
                Err(e) => panic!("{b}: {e}"),
            }
        }
        assert_eq!(wins, 1, "{b}");
        assert_clean(&store).await;
    }
}

#[tokio::test]
async fn concurrent_writers_lose_no_update_and_keep_bounds() {
    for db in TestDb::all("concurrent_writers_lose_no_update_and_keep_bounds").await {
        let (store, ledger) = setup(&db).await;
        let b = db.backend();
        // escrow holds 5,000; 32 writers try 40 withdrawals of 7 each (8,960 in all)
        ledger
            .transact(posted("fund", "clearing", "escrow", usd(5_000)))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for w in 0..32 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0i64;
                for i in 0..40 {
                    let id = format!("w{w}_{i}");
                    match ledger
                        .transact(posted(&id, "escrow", "seller", usd(7)))
                        .await
                    {
                        Ok(_) => ok += 1,
                        Err(WriteError::Rejected(e)) => {
                            assert_eq!(e.code(), ErrorCode::BalanceInsufficient)
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                ok
            }));
        }
        let mut succeeded = 0;
        for t in tasks {
            succeeded += t.await.unwrap();
        }
        assert_eq!(
            succeeded,
            5_000 / 7,
            "{b}: every withdrawal that fit, and no more"
        );
        let escrow = store.account(&acc("escrow")).await.unwrap().unwrap();
        let seller = store.account(&acc("seller")).await.unwrap().unwrap();
        assert_eq!(
            escrow.posted_balance(),
            i128::from(5_000 - 7 * succeeded),
            "{b}"
        );
        assert_eq!(seller.posted_balance(), i128::from(7 * succeeded), "{b}");
        assert_eq!(
            store.head().await.unwrap().seq,
            1 + succeeded,
            "{b}: gapless"
        );
        assert_clean(&store).await;
    }
}

#[tokio::test]
async fn a_duplicate_id_racing_itself_commits_once() {
    for db in TestDb::all("a_duplicate_id_racing_itself_commits_once").await {
        let (store, ledger) = setup(&db).await;
        let b = db.backend();
        // two writers (as two nodes would have) and 24 concurrent submissions of one id
        let second = Ledger::start(store.clone(), clock());
        let mut tasks = Vec::new();
        for i in 0..24 {
            let ledger = if i % 2 == 0 {
                ledger.clone()
            } else {
                second.clone()
            };
            tasks.push(tokio::spawn(async move {
                ledger
                    .transact(posted("same", "clearing", "escrow", usd(42)))
                    .await
            }));
        }
        let mut committed = Vec::new();
        let mut existed = Vec::new();
        for t in tasks {
            match t.await.unwrap().unwrap() {
                Outcome::Committed(r) => committed.push(r),
                Outcome::Exists(r) => existed.push(r),
            }
        }
        assert_eq!(committed.len(), 1, "{b}");
        assert_eq!(existed.len(), 23, "{b}");
        assert!(
            existed.iter().all(|r| *r == committed[0]),
            "{b}: the original receipt"
        );
        let escrow = store.account(&acc("escrow")).await.unwrap().unwrap();
        assert_eq!(escrow.posted_balance(), 42, "{b}");
        // the same id with other content is refused
        let err = ledger
            .transact(posted("same", "clearing", "escrow", usd(43)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, WriteError::Rejected(e) if e.code() == ErrorCode::TransactionIdConflict)
        );
        // a retry in among new requests: the new ones commit once each, the retry exists
        let mut tasks = Vec::new();
        for i in 0..16 {
            let ledger = ledger.clone();
            let id = if i == 8 {
                "same".to_string()
            } else {
                format!("new{i}")
            };
            tasks.push(tokio::spawn(async move {
                ledger
                    .transact(posted(&id, "clearing", "escrow", usd(42)))
                    .await
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap().unwrap());
        }
        assert!(
            matches!(&outcomes[8], Outcome::Exists(r) if *r == committed[0]),
            "{b}"
        );
        let fresh = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Committed(_)))
            .count();
        assert_eq!(fresh, 15, "{b}");
        let escrow = store.account(&acc("escrow")).await.unwrap().unwrap();
        assert_eq!(escrow.posted_balance(), 42 * 16, "{b}");
        assert_clean(&store).await;
    }
}

#[tokio::test]
async fn a_rejection_does_not_disturb_its_batch() {
    for db in TestDb::all("a_rejection_does_not_disturb_its_batch").await {
        let (store, ledger) = setup(&db).await;
        let b = db.backend();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                let request = if i % 5 == 0 {
                    posted(&format!("bad{i}"), "clearing", "nobody", usd(1))
                } else {
                    posted(&format!("good{i}"), "clearing", "escrow", usd(1))
                };
                ledger.transact(request).await
            }));
        }
        let mut good = 0;
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(_) => good += 1,
                Err(WriteError::Rejected(e)) => {
                    assert_eq!((i % 5, e.code()), (0, ErrorCode::UnknownAccount), "{b}")
                }
                Err(e) => panic!("{b}: {e}"),
            }
        }
        assert_eq!(good, 160, "{b}");
        assert_eq!(store.head().await.unwrap().seq, 160, "{b}");
        assert_clean(&store).await;
    }
}

#[tokio::test]
async fn bad_input_is_named_and_writes_nothing() {
    for db in TestDb::all("bad_input_is_named_and_writes_nothing").await {
        let (store, ledger) = setup(&db).await;
        let b = db.backend();
        ledger
            .transact(posted("fund", "clearing", "escrow", usd(100)))
            .await
            .unwrap();
        let head = store.head().await.unwrap();
        let eur = Money::from_minor(5, Currency::parse("EUR").unwrap()).unwrap();
        let max = Money::from_minor(holdback_domain::MAX_AMOUNT, usd(0).currency()).unwrap();
        let cases = vec![
            (posted("x1", "clearing", "ghost", usd(1)), "unknown_account"),
            (posted("x2", "clearing", "escrow", eur), "cross_currency"),
            (
                posted("x3", "escrow", "seller", usd(101)),
                "balance_insufficient",
            ),
            (posted("x4", "clearing", "clearing", usd(1)), "same_account"),
            (posted("x5", "clearing", "escrow", usd(0)), "zero_amount"),
            (
                TransactionRequest {
                    id: TxId::parse("x6").unwrap(),
                    transfers: vec![],
                },
                "empty_transaction",
            ),
        ];
        for (request, code) in cases {
            let err = ledger.transact(request).await.unwrap_err();
            assert!(
                matches!(&err, WriteError::Rejected(e) if e.code().as_str() == code),
                "{b}: {err}"
            );
        }
        assert_eq!(
            store.head().await.unwrap(),
            head,
            "{b}: nothing was written"
        );

        // fill escrow with the largest amounts until its balance would overflow i64
        let big = |n: usize| TransactionRequest {
            id: TxId::parse(&format!("big{n}")).unwrap(),
            transfers: (0..64)
                .map(|_| TransferRequest::Posted {
                    debit: acc("clearing"),
                    credit: acc("escrow"),
                    amount: max,
                })
                .collect(),
        };
        let mut n = 0;
        let err = loop {
            n += 1;
            let before = store.head().await.unwrap();
            if let Err(e) = ledger.transact(big(n)).await {
                assert_eq!(store.head().await.unwrap(), before, "{b}");
                break e;
            }
        };
        assert!(
            matches!(&err, WriteError::Rejected(e) if e.code() == ErrorCode::BalanceOverflow),
            "{b}: {err}"
        );
        assert_clean(&store).await;
    }
}

#[tokio::test]
async fn the_database_refuses_to_rewrite_the_journal_and_verify_sees_tampering() {
    for db in TestDb::all("the_database_refuses_to_rewrite_the_journal").await {
        let (store, ledger) = setup(&db).await;
        let b = db.backend();
        for i in 0..3 {
            ledger
                .transact(posted(&format!("t{i}"), "clearing", "escrow", usd(10)))
                .await
                .unwrap();
        }
        for sql in [
            "UPDATE journal SET committed_at = 0",
            "DELETE FROM journal WHERE seq = 2",
            "UPDATE postings SET posted = 1",
            "DELETE FROM postings",
        ] {
            assert!(
                store.execute_raw(sql).await.is_err(),
                "{b}: {sql} was allowed"
            );
        }
        assert_clean(&store).await;
        // someone with DDL rights removes the guard and edits an amount: verify sees it
        let drop_guard = match b {
            "sqlite" => "DROP TRIGGER postings_no_update",
            _ => "DROP TRIGGER postings_no_update ON postings",
        };
        store.execute_raw(drop_guard).await.unwrap();
        store
            .execute_raw("UPDATE postings SET posted = 11 WHERE seq = 2")
            .await
            .unwrap();
        let report = store.audit().await.unwrap();
        let text: Vec<String> = report.breaches.iter().map(|x| x.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains("entry 2: stored hash")),
            "{b}: {text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("trigger postings_no_update")),
            "{b}: {text:?}"
        );
    }
}

// ---- units of work: orders, timers, events and idempotency, with the ledger --------------------

mod units {
    use super::*;
    use holdback_domain::order::{
        self, Actor, Commission, Decision, OrderCommand, OrderPlan, OrderPolicy, TimerKind,
    };
    use holdback_domain::process::Versioned;
    use holdback_store::{IdempotencyRecord, NewEvent, TimerCancel, TimerRow, Unit};

    const T0: i64 = 1_800_000_000_000;
    const DAY: i64 = 86_400_000;

    fn unit(d: &Decision, expected_version: i64, tx: &str, now: i64) -> Unit {
        let id = &d.order.id;
        Unit {
            accounts: d.accounts.clone(),
            ledger: (!d.transfers.is_empty()).then(|| TransactionRequest {
                id: TxId::parse(tx).unwrap(),
                transfers: d.transfers.clone(),
            }),
            orders: vec![Versioned {
                value: d.order.clone(),
                expected_version,
            }],
            set_timers: d
                .set_timers
                .iter()
                .map(|(kind, due_at)| TimerRow {
                    order_id: id.clone(),
                    kind: *kind,
                    due_at: *due_at,
                })
                .collect(),
            cancel_timers: d
                .cancel_timers
                .iter()
                .map(|kind| TimerCancel {
                    order_id: id.clone(),
                    kind: *kind,
                    only_if_due_at: None,
                })
                .collect(),
            events: d
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| NewEvent {
                    id: format!("evt_{tx}_{i}"),
                    kind: e.name().to_string(),
                    object_id: id.clone(),
                    payload: format!("{{\"type\":\"{}\"}}", e.name()),
                    created_at: now,
                    livemode: false,
                })
                .collect(),
            payments: vec![],
            refunds: vec![],
            idempotency: None,
            messages: vec![],
            ..Unit::default()
        }
    }

    /// A paid order of `price` cents from `buy_1` to `sel_1`, in test mode.
    fn paid(id: &str, price: i64) -> Decision {
        let plan = OrderPlan {
            id: id.to_string(),
            seller: "sel_1".into(),
            amount: usd(price),
            commission: Commission {
                basis_points: 500,
                fixed_minor: 0,
            },
            ship_by_ms: 7 * DAY,
            shipping_method: "standard".into(),
            delivery_guarantee: 30 * DAY,
            promotion: 0,
            cash_on_delivery: false,
        };
        order::paid(&plan, "buy_1", "pay_1", false, T0).unwrap()
    }

    async fn paid_order(ledger: &Ledger, id: &str, price: i64) -> Decision {
        let d = paid(id, price);
        ledger
            .commit(unit(&d, 0, &format!("pay_{id}"), T0))
            .await
            .unwrap();
        d
    }

    #[tokio::test]
    async fn a_unit_writes_order_ledger_timers_and_events_together() {
        for db in TestDb::all("a_unit_writes_order_ledger_timers_and_events_together").await {
            let store = db.store().await.unwrap();
            let ledger = Ledger::start(store.clone(), clock());
            let b = db.backend();
            let d = paid_order(&ledger, "ord_1", 2_500).await;
            let (stored, version) = store.order("ord_1").await.unwrap().unwrap();
            assert_eq!((stored, version), (d.order.clone(), 1), "{b}");
            let escrow = store.account(&acc("escrow:ord_1")).await.unwrap().unwrap();
            assert_eq!(escrow.posted_balance(), 2_500, "{b}");
            assert!(
                store
                    .due_timers(T0 + 7 * DAY - 1, 10)
                    .await
                    .unwrap()
                    .is_empty(),
                "{b}"
            );
            let due = store.due_timers(T0 + 7 * DAY, 10).await.unwrap();
            assert_eq!(due.len(), 1, "{b}");
            assert_eq!(
                (due[0].kind, due[0].order_id.as_str()),
                (TimerKind::ShipBy, "ord_1")
            );
            let events = store.events_after(0, false, 10).await.unwrap();
            let kinds: Vec<_> = events.iter().map(|e| e.event.kind.as_str()).collect();
            assert_eq!(kinds, ["order.paid"], "{b}");

            // shipping replaces the ship-by timer with the protection-end timer
            let p = OrderPolicy::default();
            let ship = OrderCommand::Ship {
                carrier: "ups".into(),
                tracking: "1Z".into(),
            };
            let s = order::decide(&d.order, Actor::Seller, &ship, T0 + DAY, &p).unwrap();
            ledger
                .commit(unit(&s, 1, "ship_1", T0 + DAY))
                .await
                .unwrap();
            let due = store.due_timers(T0 + 365 * DAY, 10).await.unwrap();
            assert_eq!(due.len(), 1, "{b}: {due:?}");
            assert_eq!(due[0].kind, TimerKind::ProtectionEnd);
            // retrying the same decision against the old version is a conflict and writes nothing
            let head = store.head().await.unwrap();
            let err = ledger
                .commit(unit(&s, 1, "ship_1b", T0 + DAY))
                .await
                .unwrap_err();
            assert!(
                matches!(err, WriteError::Conflict(Conflict::VersionMoved)),
                "{b}: {err}"
            );
            assert_eq!(store.head().await.unwrap(), head);
            assert_eq!(
                store.events_after(0, false, 10).await.unwrap().len(),
                2,
                "{b}"
            );
            assert_clean(&store).await;
        }
    }

    #[tokio::test]
    async fn a_refused_unit_writes_nothing() {
        for db in TestDb::all("a_refused_unit_writes_nothing").await {
            let store = db.store().await.unwrap();
            let ledger = Ledger::start(store.clone(), clock());
            let b = db.backend();
            let d = paid("ord_x", 100);
            let mut bad = unit(&d, 0, "pay_x", T0);
            // a transfer that overdraws the new escrow: the whole unit is refused
            bad.ledger = Some(posted(
                "pay_x",
                "escrow:ord_x",
                "test:card_clearing:USD",
                usd(1),
            ));
            let err = ledger.commit(bad).await.unwrap_err();
            assert!(
                matches!(&err, WriteError::Rejected(e) if e.code() == ErrorCode::BalanceInsufficient),
                "{b}: {err}"
            );
            assert!(store.order("ord_x").await.unwrap().is_none(), "{b}");
            assert!(
                store.account(&acc("escrow:ord_x")).await.unwrap().is_none(),
                "{b}"
            );
            assert!(
                store.due_timers(i64::MAX, 10).await.unwrap().is_empty(),
                "{b}"
            );
            assert!(
                store.events_after(0, false, 10).await.unwrap().is_empty(),
                "{b}"
            );
            assert_clean(&store).await;
        }
    }

    #[tokio::test]
    async fn racing_decisions_on_one_order_apply_once() {
        for db in TestDb::all("racing_decisions_on_one_order_apply_once").await {
            let store = db.store().await.unwrap();
            let b = db.backend();
            let first = Ledger::start(store.clone(), clock());
            let second = Ledger::start(store.clone(), clock());
            let p = OrderPolicy::default();
            let d = paid_order(&first, "ord_r", 10_000).await;
            let ship = OrderCommand::Ship {
                carrier: "ups".into(),
                tracking: "1Z".into(),
            };
            let s = order::decide(&d.order, Actor::Seller, &ship, T0 + DAY, &p).unwrap();
            first.commit(unit(&s, 1, "ship_r", T0 + DAY)).await.unwrap();
            let delivered = OrderCommand::MarkDelivered;
            let dl = order::decide(&s.order, Actor::Carrier, &delivered, T0 + 2 * DAY, &p).unwrap();
            first
                .commit(unit(&dl, 2, "deliver_r", T0 + 2 * DAY))
                .await
                .unwrap();
            // 16 schedulers on two nodes fire the protection-end timer at once
            let now = T0 + 60 * DAY;
            let fire = OrderCommand::Fire(TimerKind::ProtectionEnd);
            let done = order::decide(&dl.order, Actor::Scheduler, &fire, now, &p).unwrap();
            let mut tasks = Vec::new();
            for i in 0..16 {
                let ledger = if i % 2 == 0 {
                    first.clone()
                } else {
                    second.clone()
                };
                let u = unit(&done, 3, &format!("release_r_{i}"), now);
                tasks.push(tokio::spawn(async move { ledger.commit(u).await }));
            }
            let mut ok = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(_) => ok += 1,
                    Err(WriteError::Conflict(Conflict::VersionMoved)) => {}
                    Err(e) => panic!("{b}: {e}"),
                }
            }
            assert_eq!(ok, 1, "{b}: exactly one release");
            let seller = store
                .account(&acc("test:seller_payable:sel_1:USD"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(seller.posted_balance(), 9_500, "{b}");
            let escrow = store.account(&acc("escrow:ord_r")).await.unwrap().unwrap();
            assert_eq!(escrow.posted_balance(), 0, "{b}");
            let released = store
                .events_after(0, false, 100)
                .await
                .unwrap()
                .iter()
                .filter(|e| e.event.kind == "hold.released")
                .count();
            assert_eq!(released, 1, "{b}");
            assert!(
                store.due_timers(i64::MAX, 10).await.unwrap().is_empty(),
                "{b}"
            );
            assert_clean(&store).await;
        }
    }

    #[tokio::test]
    async fn idempotency_keys_and_conditional_timer_cancels() {
        for db in TestDb::all("idempotency_keys_and_conditional_timer_cancels").await {
            let store = db.store().await.unwrap();
            let ledger = Ledger::start(store.clone(), clock());
            let b = db.backend();
            let record = IdempotencyRecord {
                principal: "sk_test_1".into(),
                key: "key-1".into(),
                request_hash: "abc".into(),
                status: 201,
                body: "{\"id\":\"ord_k\"}".into(),
                created_at: T0,
                claim: None,
            };
            let d = paid("ord_k", 100);
            let mut u = unit(&d, 0, "pay_k", T0);
            u.idempotency = Some(record.clone());
            ledger.commit(u).await.unwrap();
            assert_eq!(
                store.idempotency("sk_test_1", "key-1").await.unwrap(),
                Some(record.clone())
            );
            assert!(
                store
                    .idempotency("sk_test_2", "key-1")
                    .await
                    .unwrap()
                    .is_none()
            );
            let again = Unit {
                idempotency: Some(record),
                ..Unit::default()
            };
            let err = ledger.commit(again).await.unwrap_err();
            assert!(
                matches!(err, WriteError::Conflict(Conflict::KeyUsed)),
                "{b}: {err}"
            );
            // a claimed key: only a unit naming the claim's token may write its response
            let claim = store
                .claim_key("sk_test_1", "key-2", "abc", "tok-a", T0, T0 + 1000)
                .await
                .unwrap();
            assert_eq!(claim, holdback_store::Claim::Claimed, "{b}");
            let taken = store
                .claim_key("sk_test_1", "key-2", "abc", "tok-b", T0 + 999, T0 + 2000)
                .await
                .unwrap();
            assert!(
                matches!(taken, holdback_store::Claim::InFlight { .. }),
                "{b}"
            );
            let keyed = |token: Option<&str>| Unit {
                idempotency: Some(IdempotencyRecord {
                    principal: "sk_test_1".into(),
                    key: "key-2".into(),
                    request_hash: "abc".into(),
                    status: 200,
                    body: "{}".into(),
                    created_at: T0,
                    claim: token.map(str::to_string),
                }),
                ..Unit::default()
            };
            for other in [None, Some("tok-b")] {
                let err = ledger.commit(keyed(other)).await.unwrap_err();
                assert!(
                    matches!(err, WriteError::Conflict(Conflict::KeyUsed)),
                    "{b}: {err}"
                );
            }
            assert!(
                store
                    .idempotency("sk_test_1", "key-2")
                    .await
                    .unwrap()
                    .is_none()
            );
            ledger.commit(keyed(Some("tok-a"))).await.unwrap();
            let done = store.idempotency("sk_test_1", "key-2").await.unwrap();
            assert_eq!(done.map(|r| r.status), Some(200), "{b}");
            let err = ledger.commit(keyed(Some("tok-a"))).await.unwrap_err();
            assert!(
                matches!(err, WriteError::Conflict(Conflict::KeyUsed)),
                "{b}: done is done"
            );
            // a cancel conditioned on an old due time leaves the moved timer alone
            let cancel = |due| Unit {
                cancel_timers: vec![TimerCancel {
                    order_id: "ord_k".into(),
                    kind: TimerKind::ShipBy,
                    only_if_due_at: Some(due),
                }],
                ..Unit::default()
            };
            ledger.commit(cancel(T0 + 1)).await.unwrap();
            assert_eq!(
                store.due_timers(i64::MAX, 10).await.unwrap().len(),
                1,
                "{b}"
            );
            ledger.commit(cancel(T0 + 7 * DAY)).await.unwrap();
            assert!(
                store.due_timers(i64::MAX, 10).await.unwrap().is_empty(),
                "{b}"
            );
        }
    }
}
