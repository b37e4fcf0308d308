//! The one holdback binary: `migrate`, `ledger verify`, `bench ledger` (and, with the escrow
//! lifecycle, `serve`). Every command takes `--database URL` or `HOLDBACK_DATABASE_URL`; the
//! default is the SQLite file `holdback.db` in the current folder.

mod bench;
mod load;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use holdback_store::{DEFAULT_DATABASE_URL, Store};

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
    /// Write transfers and holds from concurrent writers, printing `ack <tx_id> <seq>` for each
    /// committed one, until killed or `--seconds` pass (used by the crash tests).
    Load(load::LoadArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Durable transfers per second, one per commit and with group commit, against the raw
    /// limit of the same database, on SQLite and (when given) PostgreSQL.
    Ledger(bench::LedgerBenchArgs),
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
            println!("ledger verify: {}", report.summary());
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Ledger {
            command: LedgerCommand::Load(args),
        } => {
            let store = connect(&cli.database).await?;
            load::run(store, args).await?;
            Ok(ExitCode::SUCCESS)
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
