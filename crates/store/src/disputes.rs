//! Disputes as rows: the statements a unit runs for them and their timers, and their reads (one,
//! a page by order or status, the mediation queue, the timers due).
//!
//! A dispute row has the columns of every stage; those of the stages it is not in are null. The
//! stage's data is read back from the columns its `status` names.

use holdback_domain::Money;
use holdback_domain::dispute::{
    Answer, Closure, Dispute, DisputeReason, DisputeState, DisputeStatus, DisputeTimer, Escalation,
    Outcome, Request,
};
use holdback_domain::process::Versioned;

use crate::rows::{Get, corrupt, currency};
use crate::unit::{Statement, Val};
use crate::{Cursor, Store, StoreError, with_pool};

const UPSERT_DISPUTE: &str = "INSERT INTO disputes (id, order_id, buyer, seller, livemode, \
     currency, paid, held, reason, request, request_amount, opened_at, escalated_at, status, \
     answer_due, escalate_from, escalate_at, answer, counter_amount, escalated_by, sla_due, \
     overdue, return_ship_by, return_refund, return_tracking, return_shipped_at, \
     return_delivered_at, return_refund_due, outcome, outcome_amount, closure, decision_reason, \
     closed_at, version, updated_at, decided_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36) \
     ON CONFLICT (id) DO UPDATE SET escalated_at = excluded.escalated_at, \
     status = excluded.status, answer_due = excluded.answer_due, \
     escalate_from = excluded.escalate_from, escalate_at = excluded.escalate_at, \
     answer = excluded.answer, counter_amount = excluded.counter_amount, \
     escalated_by = excluded.escalated_by, sla_due = excluded.sla_due, \
     overdue = excluded.overdue, return_ship_by = excluded.return_ship_by, \
     return_refund = excluded.return_refund, return_tracking = excluded.return_tracking, \
     return_shipped_at = excluded.return_shipped_at, \
     return_delivered_at = excluded.return_delivered_at, \
     return_refund_due = excluded.return_refund_due, outcome = excluded.outcome, \
     outcome_amount = excluded.outcome_amount, closure = excluded.closure, \
     decision_reason = excluded.decision_reason, closed_at = excluded.closed_at, \
     version = excluded.version, updated_at = excluded.updated_at, \
     decided_by = excluded.decided_by";
pub(crate) const SET_TIMER: &str = "INSERT INTO dispute_timers (dispute_id, kind, due_at) \
     VALUES ($1, $2, $3) ON CONFLICT (dispute_id, kind) DO UPDATE SET due_at = excluded.due_at";
const CANCEL_TIMER: &str = "DELETE FROM dispute_timers WHERE dispute_id = $1 AND kind = $2";
const CANCEL_TIMER_IF_DUE: &str =
    "DELETE FROM dispute_timers WHERE dispute_id = $1 AND kind = $2 AND due_at = $3";
const SELECT_DUE_TIMERS: &str = "SELECT dispute_id, kind, due_at FROM dispute_timers \
     WHERE due_at <= $1 ORDER BY due_at, dispute_id, kind LIMIT $2";
macro_rules! dispute_columns {
    () => {
        "SELECT id, order_id, buyer, seller, livemode, currency, paid, held, reason, request, \
         request_amount, opened_at, escalated_at, status, answer_due, escalate_from, escalate_at, \
         answer, counter_amount, escalated_by, sla_due, overdue, return_ship_by, return_refund, \
         return_tracking, return_shipped_at, return_delivered_at, return_refund_due, outcome, \
         outcome_amount, closure, decision_reason, closed_at, decided_by, version \
         FROM disputes "
    };
}
const SELECT_DISPUTE: &str = concat!(dispute_columns!(), "WHERE id = $1");
/// $1 livemode, $2 status or '', $3 order or '', $4 buyer or '', $5 seller or '', $6 escalated
/// only (a mediator's view), $7 cursor, $8 limit.
const SELECT_PAGE: &str = concat!(
    dispute_columns!(),
    "WHERE livemode = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR order_id = $3) \
     AND ($4 = '' OR buyer = $4) AND ($5 = '' OR seller = $5) \
     AND (NOT $6 OR escalated_at IS NOT NULL) AND id > $7 ORDER BY id LIMIT $8"
);
const SELECT_PAGE_BEFORE: &str = concat!(
    dispute_columns!(),
    "WHERE livemode = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR order_id = $3) \
     AND ($4 = '' OR buyer = $4) AND ($5 = '' OR seller = $5) \
     AND (NOT $6 OR escalated_at IS NOT NULL) AND id < $7 ORDER BY id DESC LIMIT $8"
);
/// The mediation queue: in mediation, soonest SLA first; with `$2`, only those past it.
const SELECT_QUEUE: &str = concat!(
    dispute_columns!(),
    "WHERE status = 'in_mediation' AND livemode = $1 AND sla_due <= $2 \
     ORDER BY sla_due, id LIMIT $3"
);

/// A dispute's timer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeTimerRow {
    pub dispute_id: String,
    pub kind: DisputeTimer,
    pub due_at: i64,
}

/// Removes a dispute's timer; with `only_if_due_at`, only if it still has that due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeTimerCancel {
    pub dispute_id: String,
    pub kind: DisputeTimer,
    pub only_if_due_at: Option<i64>,
}

/// Which disputes a page holds: all of one mode, narrowed by the fields given.
#[derive(Debug, Clone, Copy, Default)]
pub struct DisputeFilter<'a> {
    pub livemode: bool,
    pub status: Option<DisputeStatus>,
    pub order: Option<&'a str>,
    pub buyer: Option<&'a str>,
    pub seller: Option<&'a str>,
    /// Only disputes that went to a mediator (what a mediator sees).
    pub escalated_only: bool,
}

fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

/// The upsert of one dispute, at the version after `expected_version`.
pub(crate) fn statement(w: &Versioned<Dispute>, now: i64) -> Statement {
    let d = &w.value;
    let mut negotiating = (None, None, None, None, None);
    let mut mediation = (None, None, false);
    let mut ret = (None, None, None, None, None, None);
    let mut closed = (None, None, None, None, None);
    match &d.state {
        DisputeState::Negotiating {
            answer_due,
            escalate_from,
            escalate_at,
            answer,
        } => {
            negotiating = (
                Some(*answer_due),
                Some(*escalate_from),
                Some(*escalate_at),
                answer.map(|a| a.code().to_string()),
                match answer {
                    Some(Answer::Counter(m)) => Some(m.minor()),
                    _ => None,
                },
            );
        }
        DisputeState::InMediation {
            by,
            sla_due,
            overdue,
            ..
        } => mediation = (Some(by.code().to_string()), Some(*sla_due), *overdue),
        DisputeState::AwaitingReturn { ship_by, refund } => {
            ret.0 = Some(*ship_by);
            ret.1 = Some(refund.minor());
        }
        DisputeState::ReturnShipped {
            tracking,
            shipped_at,
            delivered_at,
            refund_due,
            refund,
        } => {
            ret = (
                None,
                Some(refund.minor()),
                Some(tracking.clone()),
                Some(*shipped_at),
                *delivered_at,
                *refund_due,
            );
        }
        DisputeState::Closed {
            outcome,
            closure,
            closed_at,
        } => {
            let reason = match closure {
                Closure::Decided { reason } => Some(reason.clone()),
                _ => None,
            };
            closed = (
                Some(outcome.code().to_string()),
                outcome.amount().map(|m| m.minor()),
                Some(closure.code().to_string()),
                reason,
                Some(*closed_at),
            );
        }
    }
    let request_amount = match d.request {
        Request::PartialRefund(m) => Some(m.minor()),
        _ => None,
    };
    let values = vec![
        text(&d.id),
        text(&d.order),
        text(&d.buyer),
        text(&d.seller),
        Val::Bool(d.livemode),
        text(d.paid.currency().code()),
        Val::Int(d.paid.minor()),
        Val::Int(d.held.minor()),
        text(d.reason.code()),
        text(d.request.code()),
        Val::OptInt(request_amount),
        Val::Int(d.opened_at),
        Val::OptInt(d.escalated_at),
        text(d.status().code()),
        Val::OptInt(negotiating.0),
        Val::OptInt(negotiating.1),
        Val::OptInt(negotiating.2),
        Val::OptText(negotiating.3),
        Val::OptInt(negotiating.4),
        Val::OptText(mediation.0),
        Val::OptInt(mediation.1),
        Val::Bool(mediation.2),
        Val::OptInt(ret.0),
        Val::OptInt(ret.1),
        Val::OptText(ret.2),
        Val::OptInt(ret.3),
        Val::OptInt(ret.4),
        Val::OptInt(ret.5),
        Val::OptText(closed.0),
        Val::OptInt(closed.1),
        Val::OptText(closed.2),
        Val::OptText(closed.3),
        Val::OptInt(closed.4),
        Val::Int(w.expected_version + 1),
        Val::Int(now),
        Val::OptText(d.decided_by.clone()),
    ];
    (UPSERT_DISPUTE, values)
}

pub(crate) fn set_timer(t: &DisputeTimerRow) -> Statement {
    (
        SET_TIMER,
        vec![text(&t.dispute_id), text(t.kind.code()), Val::Int(t.due_at)],
    )
}

pub(crate) fn cancel_timer(c: &DisputeTimerCancel) -> Statement {
    let mut values = vec![text(&c.dispute_id), text(c.kind.code())];
    match c.only_if_due_at {
        Some(due) => {
            values.push(Val::Int(due));
            (CANCEL_TIMER_IF_DUE, values)
        }
        None => (CANCEL_TIMER, values),
    }
}

fn parse<T: Copy>(all: &[T], code: impl Fn(T) -> &'static str, s: &str) -> Option<T> {
    all.iter().copied().find(|v| code(*v) == s)
}

fn required<T>(v: Option<T>, what: &str) -> Result<T, StoreError> {
    v.ok_or_else(|| corrupt(format!("a dispute row without {what}")))
}

/// A dispute row and its version.
pub(crate) fn dispute(row: &impl Get) -> Result<(Dispute, i64), StoreError> {
    let c = currency(row.text("currency")?)?;
    let money = |minor: i64| Money::from_minor(minor, c).map_err(corrupt);
    let int = |column: &str| required(row.opt_int(column)?, column);
    let reason = row.text("reason")?;
    let reason =
        DisputeReason::parse(&reason).ok_or_else(|| corrupt(format!("reason {reason:?}")))?;
    let request = match row.text("request")?.as_str() {
        "full_refund" => Request::FullRefund,
        "partial_refund" => Request::PartialRefund(money(int("request_amount")?)?),
        "return_and_refund" => Request::ReturnAndRefund,
        other => return Err(corrupt(format!("request {other:?}"))),
    };
    let status = row.text("status")?;
    let status =
        DisputeStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status:?}")))?;
    let state = match status {
        DisputeStatus::Negotiating => DisputeState::Negotiating {
            answer_due: int("answer_due")?,
            escalate_from: int("escalate_from")?,
            escalate_at: int("escalate_at")?,
            answer: match row.opt_text("answer")?.as_deref() {
                None => None,
                Some("accept") => Some(Answer::Accept),
                Some("reject") => Some(Answer::Reject),
                Some("counter") => Some(Answer::Counter(money(int("counter_amount")?)?)),
                Some(other) => return Err(corrupt(format!("answer {other:?}"))),
            },
        },
        DisputeStatus::InMediation => {
            let by = required(row.opt_text("escalated_by")?, "escalated_by")?;
            let all = [
                Escalation::Buyer,
                Escalation::Seller,
                Escalation::Timer,
                Escalation::AfterRelease,
            ];
            DisputeState::InMediation {
                escalated_at: int("escalated_at")?,
                by: parse(&all, Escalation::code, &by)
                    .ok_or_else(|| corrupt(format!("escalated_by {by:?}")))?,
                sla_due: int("sla_due")?,
                overdue: row.flag("overdue")?,
            }
        }
        DisputeStatus::AwaitingReturn => DisputeState::AwaitingReturn {
            ship_by: int("return_ship_by")?,
            refund: money(int("return_refund")?)?,
        },
        DisputeStatus::ReturnShipped => DisputeState::ReturnShipped {
            tracking: required(row.opt_text("return_tracking")?, "return_tracking")?,
            shipped_at: int("return_shipped_at")?,
            delivered_at: row.opt_int("return_delivered_at")?,
            refund_due: row.opt_int("return_refund_due")?,
            refund: money(int("return_refund")?)?,
        },
        DisputeStatus::Closed => {
            let amount = row.opt_int("outcome_amount")?;
            let amount = || money(required(amount, "outcome_amount")?);
            let outcome = match required(row.opt_text("outcome")?, "outcome")?.as_str() {
                "full_refund" => Outcome::FullRefund,
                "partial_refund" => Outcome::PartialRefund(amount()?),
                "return_and_refund" => Outcome::ReturnAndRefund,
                "rejected" => Outcome::Rejected,
                "counterfeit" => Outcome::Counterfeit(amount()?),
                other => return Err(corrupt(format!("outcome {other:?}"))),
            };
            let closure = match required(row.opt_text("closure")?, "closure")?.as_str() {
                "seller_accepted" => Closure::SellerAccepted,
                "seller_silent" => Closure::SellerSilent,
                "counter_accepted" => Closure::CounterAccepted,
                "decided" => Closure::Decided {
                    reason: row.opt_text("decision_reason")?.unwrap_or_default(),
                },
                "return_received" => Closure::ReturnReceived,
                "return_unconfirmed" => Closure::ReturnUnconfirmed,
                "return_not_shipped" => Closure::ReturnNotShipped,
                other => return Err(corrupt(format!("closure {other:?}"))),
            };
            DisputeState::Closed {
                outcome,
                closure,
                closed_at: int("closed_at")?,
            }
        }
    };
    let dispute = Dispute {
        id: row.text("id")?,
        order: row.text("order_id")?,
        buyer: row.text("buyer")?,
        seller: row.text("seller")?,
        livemode: row.flag("livemode")?,
        paid: money(row.int("paid")?)?,
        held: money(row.int("held")?)?,
        reason,
        request,
        opened_at: row.int("opened_at")?,
        escalated_at: row.opt_int("escalated_at")?,
        decided_by: row.opt_text("decided_by")?,
        state,
    };
    Ok((dispute, row.int("version")?))
}

fn timer(row: &impl Get) -> Result<DisputeTimerRow, StoreError> {
    let kind = row.text("kind")?;
    Ok(DisputeTimerRow {
        dispute_id: row.text("dispute_id")?,
        kind: DisputeTimer::parse(&kind)
            .ok_or_else(|| corrupt(format!("dispute timer kind {kind:?}")))?,
        due_at: row.int("due_at")?,
    })
}

impl Store {
    /// A dispute and its version.
    pub async fn dispute(&self, id: &str) -> Result<Option<(Dispute, i64)>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(SELECT_DISPUTE).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(dispute).transpose()
        })
    }

    /// Disputes by id that `filter` admits, after `cursor` (or just before it), ascending.
    pub async fn list_disputes(
        &self,
        filter: &DisputeFilter<'_>,
        cursor: Cursor<'_>,
        limit: u32,
    ) -> Result<Vec<Dispute>, StoreError> {
        let (sql, at, reverse) = match cursor {
            Cursor::After(id) => (SELECT_PAGE, id, false),
            Cursor::Before(id) => (SELECT_PAGE_BEFORE, id, true),
        };
        let mut disputes = with_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(filter.livemode)
                .bind(filter.status.map_or("", DisputeStatus::code))
                .bind(filter.order.unwrap_or(""))
                .bind(filter.buyer.unwrap_or(""))
                .bind(filter.seller.unwrap_or(""))
                .bind(filter.escalated_only)
                .bind(at)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| dispute(r).map(|(d, _)| d)).collect::<Result<Vec<_>, _>>()?
        });
        if reverse {
            disputes.reverse();
        }
        Ok(disputes)
    }

    /// The mediation queue of one mode: disputes with a mediator whose SLA deadline is at or
    /// before `due_by`, soonest first (`i64::MAX`: the whole queue).
    pub async fn mediation_queue(
        &self,
        livemode: bool,
        due_by: i64,
        limit: u32,
    ) -> Result<Vec<Dispute>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_QUEUE)
                .bind(livemode)
                .bind(due_by)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| dispute(r).map(|(d, _)| d)).collect()
        })
    }

    /// Dispute timers due at `now` or earlier, soonest first.
    pub async fn due_dispute_timers(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<DisputeTimerRow>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(SELECT_DUE_TIMERS)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(timer).collect()
        })
    }
}
