//! The refund worker: performs pending refunds at the provider, after their commit, and records
//! each outcome as a decision of its own; and the operator's view and retry.
//!
//! Every node may run it. A worker leases a refund before calling the provider (the lease
//! outlasts the call's timeout), calls it with the refund's own id as the reference (so a
//! repeated call refunds once), and records the outcome with the version it read: if another
//! node recorded first, this record is refused and changes nothing.

use std::time::Duration;

use holdback_domain::payment::Method;
use holdback_domain::process::Effects;
use holdback_domain::refund::{self, Refund, RefundCommand};
use holdback_store::Conflict;
use serde_json::Value;

use crate::cards::ProviderError;
use crate::{App, AppError, process, views};

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub succeeded: usize,
    pub failed: usize,
    pub unknown: usize,
    /// Leased by another worker, or recorded by one meanwhile.
    pub skipped: usize,
}

/// Refunds attempted at once by one worker: each waits on the provider and then on a group
/// commit, so doing them side by side drains a burst much faster than one after another.
pub const PARALLEL: usize = 16;

/// Attempts every refund due now (up to `batch`), [`PARALLEL`] at a time. One refund's trouble
/// does not stop the rest.
pub async fn tick(app: &App, batch: u32) -> Result<Pass, AppError> {
    let now = app.clock.now_ms();
    let mut pass = Pass::default();
    let mut due = app.store.due_refunds(now, batch).await?.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < PARALLEL {
            let Some(id) = due.next() else { break };
            let app = app.clone();
            running.spawn(async move {
                let outcome = attempt(&app, &id).await;
                (id, outcome)
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        match done {
            Ok((_, Ok(Some(RefundCommand::Succeeded { .. })))) => pass.succeeded += 1,
            Ok((_, Ok(Some(RefundCommand::Failed { .. })))) => pass.failed += 1,
            Ok((_, Ok(Some(_)))) => pass.unknown += 1,
            Ok((_, Ok(None))) => pass.skipped += 1,
            Ok((id, Err(e))) => {
                pass.skipped += 1;
                eprintln!("holdback: refund {id}: {e}");
            }
            Err(e) => {
                pass.skipped += 1;
                eprintln!("holdback: refund task: {e}");
            }
        }
    }
    Ok(pass)
}

/// One attempt at one refund: lease, call, record. `None` when it was not this worker's to do.
async fn attempt(app: &App, id: &str) -> Result<Option<RefundCommand>, AppError> {
    let now = app.clock.now_ms();
    let timeout = app.policy.provider_timeout_ms;
    let lease = 2 * i64::try_from(timeout).unwrap_or(i64::MAX / 4) + 5_000;
    if !app.store.lease_refund(id, now, now + lease).await? {
        return Ok(None);
    }
    let Some((r, version)) = app.store.refund(id).await? else {
        return Ok(None);
    };
    if !r.is_pending() {
        return Ok(None);
    }
    // A card is refunded by its provider; a bank transfer or a wallet payment is paid back
    // (to the account or wallet it came from) through the bank connector.
    let tender = app
        .store
        .payment(&r.payment)
        .await?
        .and_then(|(p, _)| p.tenders.get(r.tender).cloned());
    let method = tender.as_ref().map_or(Method::Card, |t| t.method);
    let by_bank = method != Method::Card;
    let account = tender.and_then(|t| t.payer_account);
    let call = if by_bank {
        if r.livemode {
            return Ok(None); // no live bank yet: the refund stays owed, and visible
        }
        let bank = app.cards.bank_test.clone();
        let (charge, amount, id) = (r.charge.clone(), r.amount, r.id.clone());
        Box::pin(async move {
            bank.payout(method, &charge, account.as_deref(), amount, &id)
                .await
        }) as crate::cards::BoxFuture<'static, _>
    } else {
        let connector = app.cards.for_mode(r.livemode)?.clone();
        let (charge, amount, id) = (r.charge.clone(), r.amount, r.id.clone());
        Box::pin(async move { connector.refund(&charge, amount, &id).await })
    };
    let command = match tokio::time::timeout(Duration::from_millis(timeout), call).await {
        Ok(Ok(provider_id)) => RefundCommand::Succeeded { provider_id },
        Ok(Err(ProviderError::Refused { reason, .. })) => RefundCommand::Failed {
            code: reason.to_string(),
        },
        Ok(Err(ProviderError::Unknown(reason))) => RefundCommand::Unknown { reason },
        Err(_) => RefundCommand::Unknown {
            reason: "the provider did not answer in time".into(),
        },
    };
    match record(app, &r, version, &command).await {
        Ok(_) => Ok(Some(command)),
        Err(e @ AppError::Conflict(_)) => {
            eprintln!("holdback: refund {id}: recorded elsewhere first ({e})");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Records `command` against a refund read at `version`, as one unit.
async fn record(
    app: &App,
    r: &Refund,
    version: i64,
    command: &RefundCommand,
) -> Result<Refund, AppError> {
    let now = app.clock.now_ms();
    let d = refund::decide(r, command, now, &app.policy.refunds)?;
    let after = d.refund.clone();
    let mut effects = Effects::default();
    let reactions = effects.refund(d, version);
    process::settle(app, &mut effects, reactions, now).await?;
    let unit = process::unit_of(app, &effects, None, now)?;
    match app.ledger.commit(unit).await {
        Ok(_) => Ok(after),
        Err(e) if process::changed(&e) => Err(AppError::Conflict(Conflict::VersionMoved)),
        Err(e) => Err(e.into()),
    }
}

/// An operator's retry of a failed refund: it becomes pending, due at once.
pub async fn retry(app: &App, id: &str) -> Result<Value, AppError> {
    let Some((r, version)) = app.store.refund(id).await? else {
        return Err(AppError::NotFound);
    };
    let after = record(app, &r, version, &RefundCommand::Retry).await?;
    Ok(views::refund(&after))
}

/// Refunds of one mode, by id after `after`; only failed ones (waiting for an operator) with
/// `failed`.
pub async fn list(
    app: &App,
    livemode: bool,
    failed: bool,
    after: &str,
    limit: u32,
) -> Result<Vec<Value>, AppError> {
    let status = if failed { "failed" } else { "" };
    let refunds = app
        .store
        .list_refunds(livemode, status, after, limit.clamp(1, 101))
        .await?;
    Ok(refunds.iter().map(views::refund).collect())
}

/// Runs [`tick`] (and the settling of stale payments) forever: again at once while a pass finds
/// a full batch due, else after `every`.
pub fn spawn(app: App, every: Duration) -> tokio::task::JoinHandle<()> {
    const BATCH: u32 = 64;
    tokio::spawn(async move {
        loop {
            let busy = match tick(&app, BATCH).await {
                Ok(pass) => {
                    let done = pass.succeeded + pass.failed + pass.unknown;
                    // a full batch with work done: more may be due (skipped ones alone are not)
                    done > 0 && done + pass.skipped >= BATCH as usize
                }
                Err(e) => {
                    eprintln!("holdback: refunds: {e}");
                    false
                }
            };
            if let Err(e) = crate::payments::settle_stale(&app, BATCH).await {
                eprintln!("holdback: payments: {e}");
            }
            if !busy {
                tokio::time::sleep(every).await;
            }
        }
    })
}
