//! `holdback bench ledger`: durable transfers per second through the ledger, one per commit and
//! with group commit, beside the raw limit of the same database measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use holdback_app::ids::{IdGen as _, UuidIds};
use holdback_domain::ledger::{AccountKind, AccountSpec, TransactionRequest, TransferRequest};
use holdback_domain::{AccountId, Currency, Money, TxId};
use holdback_store::clock::SystemClock;
use holdback_store::testing::TestDb;
use holdback_store::{Ledger, bench};

#[derive(clap::Args)]
pub struct LedgerBenchArgs {
    /// Concurrent submitters for the group-commit run.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Transfers in the group-commit run.
    #[arg(long, default_value_t = 50_000)]
    transfers: usize,
    /// Transfers in each one-per-commit run (raw SQL and holdback).
    #[arg(long, default_value_t = 3_000)]
    sequential: usize,
    /// A PostgreSQL server to measure as well; a scratch database is created there and dropped.
    #[arg(long, env = "HOLDBACK_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Also run pgbench's TPC-B (scale 64, `--clients` clients, 15 s) in the PostgreSQL scratch
    /// database and print the group-commit rate against it. Needs `pgbench` on the PATH.
    #[arg(long, requires = "postgres")]
    pgbench: bool,
}

#[allow(clippy::disallowed_methods)] // a benchmark reads the monotonic clock
fn stopwatch() -> impl FnMut() -> Duration {
    let start = Instant::now();
    move || start.elapsed()
}

fn rate(n: usize, taken: Duration) -> f64 {
    n as f64 / taken.as_secs_f64().max(1e-9)
}

pub async fn ledger(args: LedgerBenchArgs) -> anyhow::Result<bool> {
    println!(
        "{:<9} {:<34} {:>9} {:>8} {:>12} {:>14} {:>8}",
        "backend", "run", "transfers", "seconds", "transfers/s", "raw 1/commit/s", "ratio"
    );
    let mut clean = bench_backend(&TestDb::sqlite(), &args).await?;
    match &args.postgres {
        Some(url) => {
            let db = TestDb::postgres_at(url).await?;
            clean &= bench_backend(&db, &args).await?;
        }
        None => println!("postgres: skipped (give --postgres URL or HOLDBACK_BENCH_POSTGRES_URL)"),
    }
    Ok(clean)
}

async fn bench_backend(db: &TestDb, args: &LedgerBenchArgs) -> anyhow::Result<bool> {
    let store = db.store().await?;
    let backend = store.backend();
    let line = |run: &str, n: usize, taken: Duration, raw: f64| {
        let r = rate(n, taken);
        println!(
            "{backend:<9} {run:<34} {n:>9} {:>8.2} {r:>12.0} {raw:>14.0} {:>7.1}x",
            taken.as_secs_f64(),
            r / raw
        );
    };

    let raw_taken = bench::raw_one_per_commit(&store, args.sequential as i64, stopwatch()).await?;
    let raw = rate(args.sequential, raw_taken);
    line(
        "raw SQL, 1 transfer per commit",
        args.sequential,
        raw_taken,
        raw,
    );

    let ledger = Ledger::start(store.clone(), Arc::new(SystemClock));
    let accounts = open_accounts(&ledger, args.clients.max(1)).await?;

    let mut clock = stopwatch();
    for _ in 0..args.sequential {
        ledger.transact(transfer(&accounts, "txn", 0)?).await?;
    }
    line(
        "holdback, 1 transfer per commit",
        args.sequential,
        clock(),
        raw,
    );

    let per_client = args.transfers / args.clients.max(1);
    let before = ledger.stats();
    let mut clock = stopwatch();
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let ledger = ledger.clone();
        let accounts = accounts.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                ledger.transact(transfer(&accounts, "txn", c)?).await?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let taken = clock();
    let (batches, requests) = ledger.stats();
    let (batches, requests) = (batches - before.0, requests - before.1);
    let label = format!("holdback, group commit, {} clients", args.clients);
    line(&label, per_client * args.clients, taken, raw);
    let group_rate = rate(per_client * args.clients, taken);
    println!(
        "{backend:<9} group commit: {requests} requests in {batches} commits, mean batch {:.1}",
        requests as f64 / batches.max(1) as f64
    );

    let report = store.audit().await?;
    println!("{backend:<9} ledger verify: {}", report.summary());
    store.close().await;
    if args.pgbench && backend == "postgres" {
        let tps = pgbench_tpc_b(&db.url, args.clients)?;
        println!(
            "{backend:<9} pgbench TPC-B, scale 64, {} clients: {tps:.0} tps; group commit / pgbench = {:.2}x",
            args.clients,
            group_rate / tps
        );
    }
    Ok(report.is_clean())
}

/// Runs pgbench's built-in TPC-B in the scratch database and returns its tps.
fn pgbench_tpc_b(url: &str, clients: usize) -> anyhow::Result<f64> {
    let run = |args: &[&str]| -> anyhow::Result<String> {
        let out = std::process::Command::new("pgbench")
            .args(args)
            .arg(url)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "pgbench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    run(&["-i", "-s", "64", "-q"])?;
    let clients = clients.to_string();
    let out = run(&["-c", &clients, "-j", "2", "-T", "15"])?;
    out.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps line in pgbench output"))
}

#[derive(Clone)]
struct Accounts {
    clearing: AccountId,
    escrows: Arc<Vec<AccountId>>,
    usd: Currency,
}

async fn open_accounts(ledger: &Ledger, n: usize) -> anyhow::Result<Accounts> {
    let usd = Currency::parse("USD")?;
    let clearing = AccountId::parse("bench_clearing")?;
    ledger
        .open_account(AccountSpec {
            id: clearing.clone(),
            kind: AccountKind::BuyerPaymentClearing,
            currency: usd,
            bounded: false,
        })
        .await?;
    let mut escrows = Vec::new();
    for i in 0..n {
        let id = AccountId::parse(&format!("bench_escrow_{i}"))?;
        ledger
            .open_account(AccountSpec {
                id: id.clone(),
                kind: AccountKind::Escrow,
                currency: usd,
                bounded: true,
            })
            .await?;
        escrows.push(id);
    }
    Ok(Accounts {
        clearing,
        escrows: Arc::new(escrows),
        usd,
    })
}

fn transfer(a: &Accounts, run: &str, client: usize) -> anyhow::Result<TransactionRequest> {
    Ok(TransactionRequest {
        id: TxId::parse(&UuidIds.next(run))?,
        transfers: vec![TransferRequest::Posted {
            debit: a.clearing.clone(),
            credit: a.escrows[client % a.escrows.len()].clone(),
            amount: Money::from_minor(100, a.usd)?,
        }],
    })
}
