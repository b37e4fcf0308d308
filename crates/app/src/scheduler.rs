//! Fires due timers. Every node may run it: a timer's effect is written with the order version
//! it was decided against, so when two nodes fire the same timer one write wins and the other is
//! refused as a conflict. A timer that is no longer due (the order moved on) is removed, unless
//! it was moved to a new time in the meantime.

use std::time::Duration;

use holdback_domain::order::{self, Actor, OrderCommand, OrderError};
use holdback_store::{TimerCancel, TimerRow, Unit, WriteError};

use crate::{App, AppError, orders};

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub fired: usize,
    pub stale: usize,
    pub lost_race: usize,
}

/// Fires every timer due now (up to `batch`).
pub async fn tick(app: &App, batch: u32) -> Result<Tick, AppError> {
    let now = app.clock.now_ms();
    let mut out = Tick::default();
    for timer in app.store.due_timers(now, batch).await? {
        let remove_stale = |t: &TimerRow| Unit {
            cancel_timers: vec![TimerCancel {
                order_id: t.order_id.clone(),
                kind: t.kind,
                only_if_due_at: Some(t.due_at),
            }],
            ..Unit::default()
        };
        let Some((order, version)) = app.store.order(&timer.order_id).await? else {
            continue;
        };
        let policy = app.policy.for_seller(&order.seller);
        let unit = match order::decide(
            &order,
            Actor::Scheduler,
            &OrderCommand::Fire(timer.kind),
            now,
            &policy,
        ) {
            Ok(d) => orders::unit_of(app, &d, version, now)?,
            Err(OrderError::TimerNotDue | OrderError::AlreadyReleased | OrderError::Cancelled) => {
                out.stale += 1;
                app.ledger.commit(remove_stale(&timer)).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match app.ledger.commit(unit).await {
            Ok(_) => out.fired += 1,
            Err(WriteError::Conflict(_)) => out.lost_race += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Runs [`tick`] forever, every `every`.
pub fn spawn(app: App, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = tick(&app, 256).await {
                eprintln!("holdback: scheduler: {e}");
            }
            tokio::time::sleep(every).await;
        }
    })
}
