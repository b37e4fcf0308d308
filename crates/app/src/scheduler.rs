//! Fires due timers. Every node may run it: a timer's effect is written with the order version
//! it was decided against, so when two nodes fire the same timer one write wins and the other is
//! refused as a conflict. A timer that is no longer due (the order moved on) is removed, unless
//! it was moved to a new time in the meantime.

use std::time::Duration;

use holdback_domain::order::{self, Actor, OrderCommand, OrderError};
use holdback_store::{TimerCancel, TimerRow, Unit, WriteError};

use crate::{App, AppError, disputes, orders};

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub fired: usize,
    pub stale: usize,
    pub lost_race: usize,
    /// Timers whose firing failed this pass (left for the next).
    pub failed: usize,
}

/// Fires every timer due now (up to `batch` orders' timers and `batch` disputes'). A timer whose
/// firing fails is reported and left for the next pass; the pass goes on with the others.
pub async fn tick(app: &App, batch: u32) -> Result<Tick, AppError> {
    let now = app.clock.now_ms();
    let mut out = Tick::default();
    // payments whose time to be paid ran out (their expiry is their own row's, not a timer's)
    match crate::bank::expire_due(app, batch).await {
        Ok(n) => out.fired += n,
        Err(e) => {
            out.failed += 1;
            eprintln!("holdback: scheduler: expiring payments: {e}");
        }
    }
    // gift cards whose time ran out unredeemed (their expiry is their own row's too)
    match crate::gift_cards::expire_due(app, batch).await {
        Ok(n) => out.fired += n,
        Err(e) => {
            out.failed += 1;
            eprintln!("holdback: scheduler: expiring gift cards: {e}");
        }
    }
    // releases that waited for a carrier's remittance which has come since
    match crate::parcels::release_remitted(app, batch).await {
        Ok(n) => out.fired += n,
        Err(e) => {
            out.failed += 1;
            eprintln!("holdback: scheduler: releasing remitted orders: {e}");
        }
    }
    for timer in app.store.due_dispute_timers(now, batch).await? {
        match disputes::fire(app, &timer, now).await {
            Ok(disputes::Fired::Done) => out.fired += 1,
            Ok(disputes::Fired::Stale) => out.stale += 1,
            Ok(disputes::Fired::LostRace) => out.lost_race += 1,
            Err(e) => {
                out.failed += 1;
                eprintln!(
                    "holdback: scheduler: timer {} of {}: {e}",
                    timer.kind.code(),
                    timer.dispute_id
                );
            }
        }
    }
    for timer in app.store.due_timers(now, batch).await? {
        match fire(app, &timer, now).await {
            Ok(Fired::Done) => out.fired += 1,
            Ok(Fired::Stale) => out.stale += 1,
            Ok(Fired::LostRace) => out.lost_race += 1,
            Err(e) => {
                out.failed += 1;
                eprintln!(
                    "holdback: scheduler: timer {} of {}: {e}",
                    timer.kind.code(),
                    timer.order_id
                );
            }
        }
    }
    Ok(out)
}

enum Fired {
    Done,
    Stale,
    LostRace,
}

async fn fire(app: &App, timer: &TimerRow, now: i64) -> Result<Fired, AppError> {
    let remove_stale = Unit {
        cancel_timers: vec![TimerCancel {
            order_id: timer.order_id.clone(),
            kind: timer.kind,
            only_if_due_at: Some(timer.due_at),
        }],
        ..Unit::default()
    };
    let Some((order, version)) = app.store.order(&timer.order_id).await? else {
        app.ledger.commit(remove_stale).await?;
        return Ok(Fired::Stale);
    };
    let command = OrderCommand::Fire(timer.kind);
    let d = match order::decide(&order, Actor::Scheduler, &command, now, &app.policy.order) {
        Ok(d) => d,
        Err(OrderError::TimerNotDue | OrderError::AlreadyReleased | OrderError::Cancelled) => {
            app.ledger.commit(remove_stale).await?;
            return Ok(Fired::Stale);
        }
        Err(e) => return Err(e.into()),
    };
    let (unit, _) = orders::unit_for(app, d, version, now).await?;
    match app.ledger.commit(unit).await {
        Ok(_) => Ok(Fired::Done),
        Err(WriteError::Conflict(_)) => Ok(Fired::LostRace),
        Err(e) => Err(e.into()),
    }
}

/// Most idempotency keys one pass deletes: the purge keeps up with any realistic rate of keyed
/// requests (a pass a second) without holding the database for long.
pub const PURGE_BATCH: u32 = 1000;

/// Runs [`tick`] forever, every `every`, and purges idempotency keys older than a day
/// ([`crate::idempotency::purge`], a bounded delete per pass).
pub fn spawn(app: App, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = tick(&app, 256).await {
                eprintln!("holdback: scheduler: {e}");
            }
            if let Err(e) = crate::idempotency::purge(&app, PURGE_BATCH).await {
                eprintln!("holdback: scheduler: purging idempotency keys: {e}");
            }
            tokio::time::sleep(every).await;
        }
    })
}
