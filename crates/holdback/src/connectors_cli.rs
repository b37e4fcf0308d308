//! `holdback connectors …`: what the payment connectors sent that no payment took.

use std::process::ExitCode;

use holdback_store::{NotificationOutcome, Store};

#[derive(clap::Subcommand)]
pub enum ConnectorsCommand {
    /// Connector notifications (the bank's, the wallets') whose reference names no payment of
    /// their mode, oldest first: the connector and its id, mode, when it came, the reference,
    /// the amount, and the raw body as it came.
    /// They are kept, never dropped, for an operator to match by hand.
    Unmatched {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

pub async fn run(store: Store, command: ConnectorsCommand) -> anyhow::Result<ExitCode> {
    let ConnectorsCommand::Unmatched { limit } = command;
    let rows = store
        .notifications(NotificationOutcome::Unmatched, limit)
        .await?;
    for n in &rows {
        println!(
            "{} {}  {}  {}  reference {}  {} {}  {}",
            n.connector,
            n.notification_id,
            if n.livemode { "live" } else { "test" },
            n.received_at,
            n.reference.as_deref().unwrap_or("-"),
            n.amount.unwrap_or(0),
            n.currency.as_deref().unwrap_or("-"),
            n.body
        );
    }
    println!("connectors unmatched: {} notification(s)", rows.len());
    Ok(ExitCode::SUCCESS)
}
