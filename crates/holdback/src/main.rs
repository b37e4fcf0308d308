//! The one holdback binary: `migrate`, `ledger verify`, `bench ledger` (and, with the escrow
//! lifecycle, `serve`). Every command takes `--database URL` or `HOLDBACK_DATABASE_URL`; the
//! default is the SQLite file `holdback.db` in the current folder.

mod bench;
mod bench_gift_cards;
mod bench_lifecycle;
mod bench_remittance;
mod cod_cli;
mod connectors_cli;
mod disputes_cli;
mod keys_cli;
mod load;
mod messages_cli;
mod ops;
mod policy;
mod policy_cod;
mod serve;

/// mimalloc instead of the system allocator: the ledger writer allocates many small rows and
/// strings per batch, and glibc's allocator was a sixth of its time (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use holdback_domain::{AccountId, Money};
use holdback_store::{DEFAULT_DATABASE_URL, Store};

/// Parses a history cursor `SEQ.IDX`.
fn parse_cursor(text: &str) -> Option<(i64, i32)> {
    let (seq, idx) = text.split_once('.')?;
    Some((seq.parse().ok()?, idx.parse().ok()?))
}

#[derive(Parser)]
#[command(
    name = "holdback",
    version,
    about = "Marketplace payments engine: escrow, ledger, disputes"
)]
struct Cli {
    /// Database URL: `postgres://…`, or a SQLite file (`sqlite:PATH` or a plain path).
    #[arg(long, global = true, env = "HOLDBACK_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or upgrade the database schema (embedded migrations).
    Migrate,
    /// Ledger operations.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Run the HTTP API (and the timer scheduler) on this database.
    Serve(Box<serve::ServeArgs>),
    /// API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Buyers and sellers (the platform creates them over the API too: `POST /v1/buyers`).
    Parties {
        #[command(subcommand)]
        command: keys_cli::PartiesCommand,
    },
    /// Durable timers.
    Timers {
        #[command(subcommand)]
        command: TimersCommand,
    },
    /// Refunds: the ones waiting for an operator, and retrying them.
    Refunds {
        #[command(subcommand)]
        command: ops::RefundsCommand,
    },
    /// Orders' message records.
    Messages {
        #[command(subcommand)]
        command: messages_cli::MessagesCommand,
    },
    /// Payment connectors: what they sent that no payment took.
    Connectors {
        #[command(subcommand)]
        command: connectors_cli::ConnectorsCommand,
    },
    /// Disputes: the mediation queue.
    Disputes {
        #[command(subcommand)]
        command: disputes_cli::DisputesCommand,
    },
    /// Cash on delivery: carriers' remittance files and event files.
    Cod {
        #[command(subcommand)]
        command: cod_cli::CodCommand,
    },
    /// Reconciliation with the outside world.
    Reconcile {
        #[command(subcommand)]
        command: ops::ReconcileCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Re-check every ledger invariant over the whole journal. Exits 0 with a one-line summary
    /// when all hold; 1 with a report of each breach.
    Verify,
    /// Show an account: kind, currency, bound, posted balance, pending in and out, available.
    Balance {
        /// The account id, e.g. `escrow:ord_123`.
        account: String,
    },
    /// List the postings of an account, oldest first, a page at a time.
    History {
        account: String,
        /// Show the lines before this cursor, newest first (printed at the end of the previous
        /// page).
        #[arg(long)]
        before: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Write transfers and holds from concurrent writers, printing `ack <tx_id> <seq>` for each
    /// committed one, until killed or `--seconds` pass (used by the crash tests).
    Load(load::LoadArgs),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an API key and print it (it is shown once; only its hash is kept).
    Create {
        /// `platform`, `buyer:ID`, `seller:ID` (a party that exists) or `mediator:ID` (a
        /// mediator's id, shaped like a party's: 1 to 32 characters of A-Z a-z 0-9 _ -).
        #[arg(long)]
        role: String,
        /// A live-mode key (`sk_live_…`) instead of a test-mode one.
        #[arg(long)]
        live: bool,
    },
    /// Revoke a key: it is refused (401 invalid_api_key) from its next request on.
    Revoke {
        /// The key's id: the 16 hex digits after `sk_test_`/`sk_live_` (or the whole key).
        key_id: String,
    },
    /// List the keys (never their secrets), with their role, mode and revocation.
    List,
}

#[derive(Subcommand)]
enum TimersCommand {
    /// List the timers that are due now, orders' and disputes' (the scheduler inside `serve` fires
    /// them).
    Due {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Durable transfers per second, one per commit and with group commit, against the raw
    /// limit of the same database, on SQLite and (when given) PostgreSQL.
    Ledger(bench::LedgerBenchArgs),
    /// Full order lifecycles over HTTP on loopback (checkout, ship, deliver, confirm) with K
    /// concurrent clients: completed orders/s and request p50/p99, beside a trivial axum POST.
    /// Pays through a sandbox provider file; `--refund-every N` refunds one order in N.
    Lifecycle(bench_lifecycle::LifecycleArgs),
    /// Gift cards issued, sold and redeemed through the application, K at a time: the rate of
    /// each stage, and redemptions/s by tenth of the run (the code lookup does not slow down
    /// as cards accumulate).
    GiftCards(bench_gift_cards::GiftCardBenchArgs),
    /// A carrier's remittance file of N lines (default 1,000,000) imported and reconciled end
    /// to end on a scratch database: wall time, lines/s, peak RSS, the re-import, the books.
    Remittance(bench_remittance::RemittanceBenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("holdback: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("holdback: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<Store> {
    Store::connect(url)
        .await
        .with_context(|| format!("cannot open the database {url}"))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Migrate => {
            let store = connect(&cli.database).await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("{}: schema is up to date", store.backend());
            } else {
                println!("{}: applied {}", store.backend(), applied.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            let store = connect(&cli.database).await?;
            let report = store
                .audit()
                .await
                .context("cannot read the ledger (has `holdback migrate` run?)")?;
            for breach in &report.breaches {
                println!("breach: {breach}");
            }
            let business = store
                .business_audit()
                .await
                .context("cannot read orders, payments and refunds")?;
            for breach in &business {
                println!("breach: {}: {breach}", breach.code());
            }
            println!(
                "ledger verify: {}; {} business breach(es) over orders, payments and refunds",
                report.summary(),
                business.len()
            );
            Ok(if report.is_clean() && business.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Ledger {
            command: LedgerCommand::Balance { account },
        } => {
            let store = connect(&cli.database).await?;
            let id = AccountId::parse(&account)?;
            let Some(a) = store.account(&id).await? else {
                eprintln!("holdback: no account {id}");
                return Ok(ExitCode::FAILURE);
            };
            let money = |minor: i128| -> String {
                i64::try_from(minor)
                    .ok()
                    .and_then(|m| Money::from_minor(m.abs(), a.spec.currency).ok())
                    .map_or(format!("{minor} (minor units)"), |m| {
                        format!("{}{m}", if minor < 0 { "-" } else { "" })
                    })
            };
            let bounded = if a.spec.bounded {
                "yes (never below zero)"
            } else {
                "no"
            };
            println!("{:<12}{}", "account", a.spec.id);
            println!("{:<12}{}", "kind", a.spec.kind.code());
            println!("{:<12}{bounded}", "bounded");
            println!("{:<12}{}", "posted", money(a.posted_balance()));
            println!("{:<12}{}", "pending in", money(a.pending_inflow()));
            println!("{:<12}{}", "pending out", money(a.pending_outflow()));
            println!("{:<12}{}", "available", money(a.available()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger {
            command:
                LedgerCommand::History {
                    account,
                    before,
                    limit,
                },
        } => {
            let store = connect(&cli.database).await?;
            let id = AccountId::parse(&account)?;
            let cursor = match before.as_deref().map(parse_cursor) {
                None => None,
                Some(Some(c)) => Some(c),
                Some(None) => anyhow::bail!("a cursor looks like 42.0 (sequence.index)"),
            };
            let page = store.history(&id, cursor, limit).await?;
            for line in &page.lines {
                let p = &line.posting;
                let (side, other) = if p.debit == id {
                    ("debit ", &p.credit)
                } else {
                    ("credit", &p.debit)
                };
                let amount = |minor: i64| {
                    Money::from_minor(minor.abs(), p.currency).map_or(minor.to_string(), |m| {
                        format!("{}{m}", if minor < 0 { "-" } else { "+" })
                    })
                };
                println!(
                    "{}.{}  {}  {}  {side}  posted {}  pending {}  {}  against {other}",
                    line.seq,
                    line.idx,
                    line.committed_at,
                    line.tx_id,
                    amount(p.posted),
                    amount(p.pending_delta),
                    p.kind.code()
                );
            }
            match (page.has_more, page.lines.last()) {
                (true, Some(last)) => println!("more: --before {}.{}", last.seq, last.idx),
                _ => println!("end of history"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger {
            command: LedgerCommand::Load(args),
        } => {
            let store = connect(&cli.database).await?;
            load::run(store, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            let store = connect(&cli.database).await?;
            serve::run(store, &cli.database, *args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Refunds { command } => {
            let store = connect(&cli.database).await?;
            ops::refunds(store, command).await
        }
        Command::Messages { command } => {
            let store = connect(&cli.database).await?;
            messages_cli::run(store, command).await
        }
        Command::Connectors { command } => {
            let store = connect(&cli.database).await?;
            connectors_cli::run(store, command).await
        }
        Command::Disputes { command } => {
            let store = connect(&cli.database).await?;
            disputes_cli::run(store, command).await
        }
        Command::Cod { command } => {
            let store = connect(&cli.database).await?;
            cod_cli::run(store, command).await
        }
        Command::Reconcile { command } => {
            let store = connect(&cli.database).await?;
            ops::reconcile(store, &cli.database, command).await
        }
        Command::Keys {
            command: KeysCommand::Create { role, live },
        } => {
            let store = connect(&cli.database).await?;
            store.migrate().await?;
            let role = serve::parse_role(&role)?;
            let app = serve::app(store, holdback_app::Policy::default());
            let key = holdback_app::keys::create(&app, &role, live)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{key}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Parties { command } => keys_cli::parties(&cli.database, command).await,
        Command::Keys {
            command: KeysCommand::Revoke { key_id },
        } => keys_cli::revoke(&cli.database, &key_id).await,
        Command::Keys {
            command: KeysCommand::List,
        } => keys_cli::list(&cli.database).await,
        Command::Timers {
            command: TimersCommand::Due { limit },
        } => {
            let store = connect(&cli.database).await?;
            let now = holdback_store::clock::Clock::now_ms(&holdback_store::clock::SystemClock);
            // (due at, kind, the order's or dispute's id), orders' first
            let mut due: Vec<(i64, &str, String)> = store
                .due_timers(now, limit)
                .await?
                .into_iter()
                .map(|t| (t.due_at, t.kind.code(), t.order_id))
                .collect();
            due.extend(
                store
                    .due_dispute_timers(now, limit)
                    .await?
                    .into_iter()
                    .map(|t| (t.due_at, t.kind.code(), t.dispute_id)),
            );
            for (due_at, kind, id) in &due {
                println!(
                    "{due_at}  {kind:<15} {id}  ({} s overdue)",
                    (now - due_at) / 1000
                );
            }
            println!("{} timer(s) due", due.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Lifecycle(args),
        } => {
            let clean = bench_lifecycle::run(args).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Bench {
            command: BenchCommand::GiftCards(args),
        } => {
            let clean = bench_gift_cards::run(args).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Bench {
            command: BenchCommand::Remittance(args),
        } => {
            let clean = bench_remittance::run(args).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Bench {
            command: BenchCommand::Ledger(args),
        } => {
            let clean = bench::ledger(args).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
