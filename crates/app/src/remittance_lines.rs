//! A remittance's lines: a page of them as classified, and an operator's acceptance of one the
//! carrier paid other than the rate card says.
//!
//! The rules of accepting:
//!
//! - Only the platform (an operator) accepts, never the carrier, and only a `short_paid` or
//!   `over_paid` line of an import that finished, while no batch has paid its parcel.
//! - The line then posts as a matched one does: the parcel's cash leaves the carrier's
//!   receivable, what the carrier paid is cash in, its itemised deductions are expenses of their
//!   kinds, and whatever they leave unexplained is booked `unitemised` (an expense when the
//!   carrier paid short, a gain when it paid over). The parcel is marked remitted by the line's
//!   batch, so its order is released once its protection has passed.
//! - A line is accepted once: the parcel's version moves in the same unit. Accepting an accepted
//!   line answers it as it is and changes nothing.

use holdback_domain::cod::ParcelState;
use holdback_domain::ledger::TransactionRequest;
use holdback_domain::{Currency, ErrorCode, TxId};
use holdback_remit::DeductionKind;
use holdback_store::Unit;
use holdback_store::remittances::{LineAccepted, RemitMark, RemittanceLineRow};
use serde_json::{Value, json};

use crate::remittances::{Book, may_import};
use crate::{App, AppError, Principal, Role};

/// The longest note an operator may give with an acceptance.
pub const MAX_NOTE: usize = 500;

/// A page of a remittance's lines as classified, after line `after`.
pub async fn lines(
    app: &App,
    principal: &Principal,
    id: &str,
    after: i64,
    limit: u32,
) -> Result<(Vec<Value>, bool), AppError> {
    let r = app.store.remittance(id).await?.ok_or(AppError::NotFound)?;
    if r.livemode != principal.livemode || may_import(principal, &r.carrier).is_err() {
        return Err(AppError::NotFound);
    }
    let limit = limit.clamp(1, 1_000);
    let mut rows = app.store.remittance_lines(id, after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows.iter().map(view).collect(), more))
}

fn deductions(l: &RemittanceLineRow) -> Vec<(DeductionKind, i64)> {
    l.deductions
        .split('|')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let kind = DeductionKind::ALL.into_iter().find(|d| d.code() == k)?;
            Some((kind, v.parse().ok()?))
        })
        .collect()
}

/// The API object of a line.
pub fn view(l: &RemittanceLineRow) -> Value {
    json!({
        "object": "remittance_line",
        "line": l.line_no,
        "tracking": l.tracking,
        "parcel": l.parcel,
        "class": l.class,
        "expected_net": l.expected_net,
        "reported_net": l.reported_net,
        "delta": l.delta,
        "deductions": deductions(l)
            .into_iter()
            .map(|(k, v)| (k.code().to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>(),
        "warnings": l.warnings.split('|').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        "accepted": l.accepted_at.map(|at| at.div_euclid(1000)),
        "accepted_note": l.accepted_note,
    })
}

fn not_acceptable(why: String) -> AppError {
    AppError::rejected(ErrorCode::RemittanceLineNotAcceptable, why)
}

/// Accepts line `line_no` of remittance `id` as the carrier paid it, with the operator's `note`.
pub async fn accept(
    app: &App,
    principal: &Principal,
    id: &str,
    line_no: i64,
    note: &str,
) -> Result<Value, AppError> {
    let r = app.store.remittance(id).await?.ok_or(AppError::NotFound)?;
    if r.livemode != principal.livemode || may_import(principal, &r.carrier).is_err() {
        return Err(AppError::NotFound);
    }
    if principal.role != Role::Platform {
        return Err(AppError::rejected(
            ErrorCode::NotPermitted,
            "only the platform accepts a remittance line; a carrier cannot accept its own",
        ));
    }
    let line = app
        .store
        .remittance_line(id, line_no)
        .await?
        .ok_or(AppError::NotFound)?;
    if line.accepted_at.is_some() {
        return Ok(view(&line));
    }
    if r.status != "done" {
        return Err(not_acceptable(format!(
            "remittance {id} is still being imported"
        )));
    }
    if !matches!(line.class.as_str(), "short_paid" | "over_paid") {
        return Err(not_acceptable(format!(
            "line {line_no} is {}: only short_paid and over_paid lines are accepted",
            line.class
        )));
    }
    let parcel_id = line.parcel.as_deref().unwrap_or_default();
    let (parcel, version) = app
        .store
        .parcel(parcel_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("line {line_no} names no parcel")))?;
    let currency = Currency::parse(&r.currency)?;
    let mut book = Book::new(&r, currency)?;
    if !book.post(&parcel, line.reported_net, &deductions(&line)) {
        let state = match &parcel.state {
            ParcelState::Collected {
                remitted: Some(p), ..
            }
            | ParcelState::Returned {
                remitted: Some(p), ..
            } => format!("was paid by batch {}", p.batch),
            other => format!("is {}", other.code()),
        };
        return Err(not_acceptable(format!(
            "parcel {parcel_id} {state}: nothing is owed for it now"
        )));
    }
    let now = app.clock.now_ms();
    let mut unit = Unit {
        accounts: book.specs()?,
        remitted: Some(RemitMark {
            batch: r.batch.clone(),
            at: now,
            parcels: vec![(parcel.id.clone(), version)],
            ..RemitMark::default()
        }),
        line_accepted: Some(LineAccepted {
            remittance: r.id.clone(),
            line_no,
            at: now,
            note: note.to_string(),
        }),
        ..Unit::default()
    };
    let transfers = book.transfers()?;
    if !transfers.is_empty() {
        unit.ledger = Some(TransactionRequest {
            id: TxId::parse(&format!("{}_l{line_no}", r.id))?,
            transfers,
        });
    }
    app.ledger.commit(unit).await?;
    crate::parcels::release_remitted(app, 1_000).await?;
    let line = app
        .store
        .remittance_line(id, line_no)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(view(&line))
}
