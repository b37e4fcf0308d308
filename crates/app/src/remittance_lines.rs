//! A remittance's lines: a page of them as classified, and an operator's acceptance of one the
//! carrier paid other than the rate card says.
//!
//! The rules of accepting:
//!
//! - Only the platform (an operator) accepts, never the carrier, and only a line of an import
//!   that finished that is `short_paid` or `over_paid` (while no batch has paid its parcel), or a
//!   `reversal` that takes back another amount than the rate card says
//!   (`reversal_amount_mismatch`, while the earlier payment stands).
//! - A paying line then posts as a matched one does: the parcel's cash leaves the carrier's
//!   receivable, what the carrier paid is cash in, its itemised deductions are expenses of their
//!   kinds, and whatever they leave unexplained is booked `unitemised` (an expense when the
//!   carrier paid short, a gain when it paid over). The parcel is marked remitted by the line's
//!   batch, so its order is released once its protection has passed.
//! - A reversal then posts as an exact one does, with what it took back: the parcel's cash owed
//!   again, the cash out, the deductions given back, the rest `unitemised`; the parcel is no
//!   longer remitted.
//! - A line is accepted once: the parcel's version moves in the same unit. Accepting an accepted
//!   line answers it as it is and changes nothing, also when two acceptances race. The note and
//!   the operator's key are kept with the line and shown to the platform only.

use holdback_domain::cod::ParcelState;
use holdback_domain::ledger::TransactionRequest;
use holdback_domain::{Currency, ErrorCode, TxId};
use holdback_remit::DeductionKind;
use holdback_store::Unit;
use holdback_store::remittances::{LineAccepted, RemitMark, RemittanceLineRow};
use serde_json::{Value, json};

use crate::remittances::{Book, may_import};
use crate::{App, AppError, Principal, Role, process};

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
    Ok((rows.iter().map(|l| view(l, principal)).collect(), more))
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

/// The API object of a line (the operator's note and key for the platform only).
pub fn view(l: &RemittanceLineRow, principal: &Principal) -> Value {
    let platform = principal.role == Role::Platform;
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
        "accepted_note": if platform { l.accepted_note.clone() } else { None },
        "accepted_by": if platform { l.accepted_by.clone() } else { None },
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
    if note.chars().count() > MAX_NOTE {
        return Err(AppError::param(
            ErrorCode::ParameterInvalid,
            "note",
            format!("a note is at most {MAX_NOTE} characters"),
        ));
    }
    let line = app
        .store
        .remittance_line(id, line_no)
        .await?
        .ok_or(AppError::NotFound)?;
    if line.accepted_at.is_some() {
        return Ok(view(&line, principal));
    }
    if r.status != "done" {
        return Err(not_acceptable(format!(
            "remittance {id} is still being imported"
        )));
    }
    let reversal = match line.class.as_str() {
        "short_paid" | "over_paid" => false,
        "reversal"
            if line
                .warnings
                .split('|')
                .any(|w| w == "reversal_amount_mismatch") =>
        {
            true
        }
        other => {
            return Err(not_acceptable(format!(
                "line {line_no} is {other}: only short_paid and over_paid lines, and reversals \
                 of another amount, are accepted"
            )));
        }
    };
    let parcel_id = line.parcel.as_deref().unwrap_or_default();
    let (parcel, version) = app
        .store
        .parcel(parcel_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("line {line_no} names no parcel")))?;
    let currency = Currency::parse(&r.currency)?;
    let mut book = Book::new(&r, currency)?;
    let mut mark = RemitMark {
        batch: r.batch.clone(),
        at: app.clock.now_ms(),
        ..RemitMark::default()
    };
    let booked = if reversal {
        // (the carrier's rate card, when a profile of it is known: the deductions a reversal
        // gives back without listing them; else what it takes back is all unitemised)
        let contract = crate::remittances::profile(app, &r.carrier)
            .map(|p| p.contract.clone())
            .ok();
        let deductions = deductions(&line);
        let ok = book.reverse(
            &parcel,
            line.reported_net,
            &deductions,
            contract.as_ref(),
            &r.batch,
        );
        mark.reversed.push((parcel.id.clone(), version));
        ok
    } else {
        mark.parcels.push((parcel.id.clone(), version));
        book.post(&parcel, line.reported_net, &deductions(&line))
    };
    if !booked {
        return Err(not_acceptable(format!(
            "parcel {parcel_id} {}",
            standing(&parcel.state)
        )));
    }
    let mut unit = Unit {
        accounts: book.specs()?,
        line_accepted: Some(LineAccepted {
            remittance: r.id.clone(),
            line_no,
            at: mark.at,
            note: note.to_string(),
            by: principal.key_id.clone(),
        }),
        remitted: Some(mark),
        ..Unit::default()
    };
    let transfers = book.transfers()?;
    if !transfers.is_empty() {
        unit.ledger = Some(TransactionRequest {
            id: TxId::parse(&format!("{}_l{line_no}", r.id))?,
            transfers,
        });
    }
    match app.ledger.commit(unit).await {
        Ok(_) => {}
        // another acceptance of this line (or a batch paying the parcel) came first
        Err(e) if process::changed(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let line = app
        .store
        .remittance_line(id, line_no)
        .await?
        .ok_or(AppError::NotFound)?;
    if line.accepted_at.is_none() {
        let (parcel, _) = app
            .store
            .parcel(parcel_id)
            .await?
            .ok_or(AppError::NotFound)?;
        return Err(not_acceptable(format!(
            "parcel {parcel_id} {}",
            standing(&parcel.state)
        )));
    }
    // (the release that waited for this line; the scheduler runs it too, should this fail)
    if let Err(e) = crate::parcels::release_remitted(app, 1_000).await {
        eprintln!("holdback: releasing after accepting {id} line {line_no}: {e}");
    }
    Ok(view(&line, principal))
}

/// Where a parcel stands, when a line about it cannot be accepted.
fn standing(state: &ParcelState) -> String {
    match state {
        ParcelState::Collected {
            remitted: Some(p), ..
        }
        | ParcelState::Returned {
            remitted: Some(p), ..
        } => format!("was paid by batch {}: nothing is owed for it now", p.batch),
        ParcelState::Collected { remitted: None, .. } => {
            "is not paid by any batch: there is no payment to take back".to_string()
        }
        other => format!("is {}: nothing is owed for it now", other.code()),
    }
}
