//! `holdback disputes …`: the mediation queue, for the people who run it.

use std::process::ExitCode;
use std::sync::Arc;

use holdback_app::{Policy, disputes};
use holdback_store::Store;
use holdback_store::clock::{Clock, OffsetClock, SystemClock};

#[derive(clap::Subcommand)]
pub enum DisputesCommand {
    /// The disputes waiting for a mediator, soonest decision deadline (SLA) first: id, order,
    /// who escalated, the deadline, and how late it is. Exits 0 whatever it lists.
    List {
        /// Only those past their deadline.
        #[arg(long)]
        overdue: bool,
        /// Live mode's queue (test mode's by default).
        #[arg(long)]
        live: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line: the disputes as the API shows them.
        #[arg(long)]
        json: bool,
        /// Read the clock this many milliseconds ahead, as a server run with the same
        /// `--clock-offset-ms` does.
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        clock_offset_ms: i64,
    },
}

pub async fn run(store: Store, command: DisputesCommand) -> anyhow::Result<ExitCode> {
    let DisputesCommand::List {
        overdue,
        live,
        limit,
        json,
        clock_offset_ms,
    } = command;
    let clock: Arc<dyn Clock> = match clock_offset_ms {
        0 => Arc::new(SystemClock),
        offset => Arc::new(OffsetClock(offset)),
    };
    let now = clock.now_ms();
    let app = crate::serve::app_with_clock(store, Policy::default(), clock);
    let queue = disputes::queue(&app, live, overdue, limit)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for d in &queue {
        if json {
            println!("{}", holdback_app::views::dispute(d));
            continue;
        }
        let due = d.due().unwrap_or(now);
        let late = if now >= due {
            format!("overdue by {}", span(now - due))
        } else {
            format!("due in {}", span(due - now))
        };
        let by = match &d.state {
            holdback_domain::dispute::DisputeState::InMediation { by, .. } => by.code(),
            _ => "",
        };
        println!("{}  order {}  escalated by {by:<13} {late}", d.id, d.order);
    }
    println!(
        "disputes list: {} dispute(s){}",
        queue.len(),
        if overdue {
            " past their deadline"
        } else {
            " with a mediator"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A duration as days, hours and minutes.
fn span(ms: i64) -> String {
    let minutes = ms / 60_000;
    format!(
        "{}d {}h {}m",
        minutes / 1440,
        minutes / 60 % 24,
        minutes % 60
    )
}
