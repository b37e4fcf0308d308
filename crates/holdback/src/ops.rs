//! Operator commands about money at the provider: refunds waiting for an operator, and the
//! reconciliation of the provider's statement with holdback's records.

use std::process::ExitCode;
use std::sync::Arc;

use holdback_app::{Policy, refunds};
use holdback_store::Store;
use holdback_store::clock::SystemClock;

#[derive(clap::Subcommand)]
pub enum RefundsCommand {
    /// List refunds (newest last): all, or with --failed those the provider kept refusing,
    /// which wait for an operator (the money stays owed to the buyer).
    List {
        #[arg(long)]
        failed: bool,
        /// Live-mode refunds instead of test-mode ones.
        #[arg(long)]
        live: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Make a failed refund pending again: `serve`'s refund worker attempts it at once.
    Retry { id: String },
}

#[derive(clap::Subcommand)]
pub enum ReconcileCommand {
    /// Compare the sandbox provider's statement with holdback's records (test mode): every
    /// charge and refund the provider made must be recorded once, with the same amount, and
    /// the other way round. Exits 0 only when they agree.
    Provider {
        /// The sandbox provider's state file (as `serve --sandbox`, with the same default).
        #[arg(long, env = "HOLDBACK_SANDBOX")]
        sandbox: Option<std::path::PathBuf>,
    },
}

pub async fn refunds(store: Store, command: RefundsCommand) -> anyhow::Result<ExitCode> {
    let app = crate::serve::app(store, Policy::default());
    match command {
        RefundsCommand::List {
            failed,
            live,
            limit,
        } => {
            let list = refunds::list(&app, live, failed, "", limit)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for r in &list {
                println!(
                    "{}  {:<9} {:>12} {}  payment {}  order {}  attempts {}  {}",
                    r["id"].as_str().unwrap_or(""),
                    r["status"].as_str().unwrap_or(""),
                    r["amount"],
                    r["currency"].as_str().unwrap_or(""),
                    r["payment"].as_str().unwrap_or(""),
                    r["order"].as_str().unwrap_or(""),
                    r["attempts"],
                    r["failure_code"].as_str().unwrap_or(""),
                );
            }
            println!("{} refund(s)", list.len());
            Ok(ExitCode::SUCCESS)
        }
        RefundsCommand::Retry { id } => match refunds::retry(&app, &id).await {
            Ok(r) => {
                println!("{id}: {}", r["status"].as_str().unwrap_or(""));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("holdback: refund {id}: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

pub async fn reconcile(
    store: Store,
    database: &str,
    command: ReconcileCommand,
) -> anyhow::Result<ExitCode> {
    let ReconcileCommand::Provider { sandbox } = command;
    let sandbox = sandbox.unwrap_or_else(|| crate::serve::default_sandbox(database));
    anyhow::ensure!(
        sandbox.exists(),
        "no sandbox provider file at {}",
        sandbox.display()
    );
    let app =
        crate::serve::app_on_sandbox(store, Policy::default(), Arc::new(SystemClock), &sandbox)?;
    let (provider, recorded, found) =
        holdback_app::reconcile::provider(&app, app.cards.test.as_ref(), false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    for d in &found {
        println!("{}: {d}", d.code());
    }
    println!(
        "reconcile provider: {provider} operation(s) at the provider, {recorded} recorded, {} discrepanc{}",
        found.len(),
        if found.len() == 1 { "y" } else { "ies" }
    );
    // the bank's payouts (bank transfers and wallet payments paid back), in the same file
    let (payouts, paid_back, at_bank) =
        holdback_app::reconcile::bank(&app, app.cards.bank_test.as_ref(), false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    for d in &at_bank {
        println!("{}: {d}", d.code());
    }
    println!(
        "reconcile bank: {payouts} payout(s) at the bank, {paid_back} recorded, {} discrepanc{}",
        at_bank.len(),
        if at_bank.len() == 1 { "y" } else { "ies" }
    );
    let found: Vec<_> = found.into_iter().chain(at_bank).collect();
    Ok(if found.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
