//! `holdback bench remittance`: a carrier's remittance file of N lines imported and reconciled
//! end to end through the application, on a scratch database.
//!
//! Setup (timed apart): one parcel per line of the sample file (`holdback_remit::sample_line`),
//! bulk-inserted: delivered lines' parcels collected with the line's cash, returns refused at
//! the door, `Pending` lines' parcels still in transit (the file says nothing is paid for them);
//! plus one collected parcel per 100 lines that the file does not have (half collected long
//! before the batch, half within its cycle), so the report's unremitted pass has work. The
//! collections are booked to the carrier's receivable in one ledger transaction. Then:
//!
//! 1. the import of the file (timed): wall time, lines/s, lines posted, classes, peak RSS;
//! 2. the same file again (timed): `already_imported`, nothing posted;
//! 3. the books: ledger verify and the business audit clean, and the carrier's receivable
//!    equal to the cash of the collections the file did not have.

use std::path::PathBuf;
use std::time::Instant;

use holdback_app::remittances::{self, Source};
use holdback_app::{App, Principal, Role};
use holdback_domain::cod::{CarrierEvent, CodAccounts, Parcel, ParcelState, RtoPayer, spec};
use holdback_domain::ledger::{AccountKind, TransactionRequest, TransferRequest};
use holdback_domain::{Currency, Money, TxId};
use holdback_remit::{SampleStatus, sample_line};
use holdback_store::Unit;
use holdback_store::testing::TestDb;

#[derive(clap::Args)]
pub struct RemittanceBenchArgs {
    /// Lines in the remittance file (one parcel each).
    #[arg(long, default_value_t = 1_000_000)]
    lines: u64,
    /// Run on a scratch database on this PostgreSQL server instead of a SQLite file in the
    /// temp folder.
    #[arg(long)]
    postgres: Option<String>,
}

/// 2026-03-01T00:00Z: collections of the file's parcels (the file's dates are 2026-03-01..14).
const COLLECTED_AT: i64 = 1_772_323_200_000;
/// 2026-02-01T00:00Z: collections long before the batch (beyond the 14-day cycle).
const LONG_AGO: i64 = 1_769_904_000_000;
/// Parcels inserted per setup transaction.
const SETUP_BATCH: u64 = 50_000;

#[allow(clippy::disallowed_methods)] // a benchmark reads the monotonic clock
fn now() -> Instant {
    Instant::now()
}

/// The process's peak and current resident set (MB), from /proc/self/status.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0)
}

fn print_rss(when: &str) {
    let (peak, now) = rss();
    println!("rss {when:<22} peak (VmHWM) {peak:>7.1} MB, now (VmRSS) {now:>7.1} MB");
}

fn order_ref(i: u64) -> String {
    format!("ord_bench_{i:010}")
}

/// The parcel of line `i` (or, past the file's end, a collection the file does not have).
fn parcel(i: u64, lines: u64, sar: Currency) -> anyhow::Result<Parcel> {
    let s = sample_line(i);
    let cash = if s.collected > 0 {
        s.collected
    } else {
        1000 + i64::try_from(i % 50_000)?
    };
    let state = if i > lines {
        ParcelState::Collected {
            at: if i.is_multiple_of(2) {
                LONG_AGO
            } else {
                COLLECTED_AT
            },
            remitted: None,
        }
    } else {
        match s.status {
            SampleStatus::Delivered => ParcelState::Collected {
                at: COLLECTED_AT,
                remitted: None,
            },
            SampleStatus::Rto => ParcelState::Returned {
                at: COLLECTED_AT,
                reason: CarrierEvent::Refused,
                remitted: None,
            },
            SampleStatus::Pending => ParcelState::InTransit {
                out_for_delivery: Some(COLLECTED_AT),
            },
        }
    };
    Ok(Parcel {
        id: format!("pcl_bench_{i:010}"),
        carrier: "sample_cod".into(),
        tracking: s.tracking,
        order: order_ref(i),
        payment: format!("pay_bench_{i:010}"),
        buyer: "buy_bench".into(),
        seller: "sel_bench".into(),
        livemode: false,
        cash: Money::from_minor(cash, sar)?,
        fee: 0,
        rto_cost: 2000,
        rto_payer: RtoPayer::Platform,
        created_at: COLLECTED_AT - 86_400_000,
        last_event_at: COLLECTED_AT,
        state,
        reversed: None,
    })
}

/// Removes the sample file when the bench ends, also on an error.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub async fn run(args: RemittanceBenchArgs) -> anyhow::Result<bool> {
    let db = match &args.postgres {
        Some(url) => TestDb::postgres_at(url).await?,
        None => TestDb::sqlite(),
    };
    let store = db.store().await?;
    let backend = db.backend();
    let app: App = crate::serve::app(store.clone(), holdback_app::Policy::default());
    let profile = holdback_remit::sample_profile()?;
    let sar = profile.currency;
    let n = args.lines;
    let extra = n / 100;
    println!(
        "holdback bench remittance: {n} lines on {backend} ({} cores)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    print_rss("before setup");

    // setup: the parcels, their collections in the ledger, the file
    let start = now();
    let mut owed_by_file = 0i64;
    let mut owed_beyond = 0i64;
    let mut first = 1u64;
    while first <= n + extra {
        let last = (first + SETUP_BATCH - 1).min(n + extra);
        let mut batch = Vec::with_capacity(usize::try_from(last - first + 1)?);
        for i in first..=last {
            let p = parcel(i, n, sar)?;
            if matches!(p.state, ParcelState::Collected { .. }) {
                if i > n {
                    owed_beyond += p.cash.minor();
                } else {
                    owed_by_file += p.cash.minor();
                }
            }
            batch.push(p);
        }
        holdback_store::bench::insert_parcels(&store, batch, COLLECTED_AT).await?;
        first = last + 1;
    }
    holdback_store::bench::analyze_parcels(&store).await?;
    let receivable = CodAccounts::receivable(false, "sample_cod", sar)?;
    let cod = CodAccounts::of(false, sar)?;
    app.ledger
        .commit(Unit {
            accounts: vec![
                spec(&receivable, AccountKind::CarrierCodReceivable, sar),
                spec(&cod.expected, AccountKind::CodExpected, sar),
            ],
            ledger: Some(TransactionRequest {
                id: TxId::parse("bench_collections")?,
                transfers: vec![TransferRequest::Posted {
                    debit: receivable.clone(),
                    credit: cod.expected.clone(),
                    amount: Money::from_minor(owed_by_file + owed_beyond, sar)?,
                }],
            }),
            ..Unit::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let file = TempFile(std::env::temp_dir().join(format!(
        "holdback_bench_remittance_{}.csv",
        std::process::id()
    )));
    let net = holdback_remit::write_sample_csv(std::fs::File::create(&file.0)?, n, order_ref)?;
    let bytes = std::fs::metadata(&file.0)?.len();
    println!(
        "setup: {} parcels ({n} in the file, {extra} not) and a {:.1} MB file in {:.2} s; \
         receivable {} (net in the file {net})",
        n + extra,
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64(),
        owed_by_file + owed_beyond,
    );
    print_rss("after setup");

    // the import
    let platform = Principal {
        key_id: "bench".into(),
        role: Role::Platform,
        livemode: false,
    };
    let source = Source::Path(file.0.clone());
    let start = now();
    let report = remittances::import(&app, &platform, &profile, &source, &|_, _| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let taken = start.elapsed().as_secs_f64();
    let posted = report["posted_now"].as_u64().unwrap_or(0);
    println!(
        "import:   {n} lines in {taken:.2} s ({:.0} lines/s), {posted} posted",
        n as f64 / taken.max(1e-9)
    );
    let classes = report["classes"].as_object().cloned().unwrap_or_default();
    let names: Vec<String> = classes
        .iter()
        .map(|(k, v)| format!("{k} {}", v["lines"].as_u64().unwrap_or(0)))
        .collect();
    println!("          classes: {}", names.join(", "));
    let collections = &report["collections"]["classes"];
    println!("          collections not in the file: {collections}");
    print_rss("after import");
    let (peak, _) = rss();

    // the same file again
    let start = now();
    let again = remittances::import(&app, &platform, &profile, &source, &|_, _| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let retaken = start.elapsed().as_secs_f64();
    let already = again["already_imported"] == true;
    let reposted = again["posted_now"].as_u64().unwrap_or(u64::MAX);
    println!("re-import: {retaken:.2} s, already_imported {already}, {reposted} posted");
    print_rss("after re-import");

    // the books
    let balance = store
        .account(&receivable)
        .await?
        .map_or(0, |a| a.posted_balance());
    let audit = store.audit().await?;
    let business = store.business_audit().await?;
    for b in &business {
        println!("breach: {b:?}");
    }
    println!(
        "books: receivable {balance} (the collections the file lacks: {owed_beyond}); \
         ledger verify: {}; {} business breach(es)",
        audit.summary(),
        business.len()
    );
    let matched = classes
        .get("matched")
        .and_then(|v| v["lines"].as_u64())
        .unwrap_or(0);
    let fits = taken <= 30.0 && peak <= 200.0 && retaken <= 10.0;
    println!(
        "targets (import <= 30 s, peak RSS <= 200 MB, re-import <= 10 s): {}",
        if fits { "met" } else { "missed" }
    );
    Ok(posted == matched
        && already
        && reposted == 0
        && balance == i128::from(owed_beyond)
        && audit.is_clean()
        && business.is_empty())
}
