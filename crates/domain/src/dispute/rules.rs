//! What each command does to a dispute in each stage: the branches of `decide`, and the
//! straight-line helpers they share (grant, close, escalate).

use crate::money::Money;
use crate::order::{Order, OrderState};

use super::{
    Actor, Answer, Claim, Closure, Dispute, DisputeCommand, DisputeDecision, DisputeError,
    DisputeEvent, DisputePolicy, DisputeReason, DisputeState, DisputeTimer, Escalation, Outcome,
    Request, Settlement, held_of, positive,
};

/// The buyer opens a dispute on `order` (as it is now).
pub fn open(
    claim: &Claim,
    order: &Order,
    actor: Actor,
    now: i64,
    policy: &DisputePolicy,
) -> Result<DisputeDecision, DisputeError> {
    if !matches!(actor, Actor::Buyer | Actor::Platform) {
        return Err(DisputeError::NotPermitted("open"));
    }
    let too_early = DisputeError::TooEarly(policy.opens_after_shipment);
    let released = match &order.state {
        OrderState::AwaitingPayment { .. } | OrderState::Paid { .. } => return Err(too_early),
        // paid at the door: nothing is paid before the delivery, so nothing to dispute
        OrderState::Shipped { .. } if order.cash_on_delivery => {
            return Err(DisputeError::CashNotCollected);
        }
        OrderState::Cancelled { .. } | OrderState::Expired { .. } => {
            return Err(DisputeError::OrderCancelled);
        }
        OrderState::Completed { completed_at, .. } => {
            if now >= completed_at + policy.window_after_completion {
                return Err(DisputeError::WindowClosed);
            }
            true
        }
        OrderState::Shipped { .. }
        | OrderState::Delivered { .. }
        | OrderState::AwaitingRemittance { .. } => false,
    };
    if order.dispute.is_some() {
        return Err(DisputeError::AlreadyOpen);
    }
    if order.claim().is_some() {
        return Err(DisputeError::ClaimOpen);
    }
    let shipped_at = order.shipment().map_or(order.paid_at, |s| s.shipped_at);
    if now < shipped_at + policy.opens_after_shipment {
        return Err(too_early);
    }
    if released && claim.reason != DisputeReason::Counterfeit {
        return Err(DisputeError::CounterfeitOnly);
    }
    let held = held_of(order)?;
    if let Request::PartialRefund(amount) = claim.request {
        positive(amount, order.captured)?;
        within_held(amount, held)?;
    }
    let mut d = DisputeDecision {
        dispute: Dispute {
            id: claim.id.clone(),
            order: order.id.clone(),
            buyer: order.buyer.clone(),
            seller: order.seller.clone(),
            livemode: order.livemode,
            paid: order.captured,
            held,
            reason: claim.reason,
            request: claim.request,
            opened_at: now,
            escalated_at: None,
            decided_by: None,
            state: DisputeState::Closed {
                outcome: Outcome::Rejected,
                closure: Closure::SellerSilent,
                closed_at: now,
            },
        },
        events: vec![DisputeEvent::Opened],
        set_timers: vec![],
        cancel_timers: vec![],
    };
    if released {
        // Nothing is held to negotiate over: a mediator decides at once.
        escalate(&mut d, Escalation::AfterRelease, now, policy);
    } else {
        d.dispute.state = DisputeState::Negotiating {
            answer_due: now + policy.seller_answer,
            escalate_from: now + policy.escalate_after,
            escalate_at: now + policy.auto_escalate,
            answer: None,
        };
        d.set_timers = vec![
            (DisputeTimer::SellerAnswer, now + policy.seller_answer),
            (DisputeTimer::AutoEscalate, now + policy.auto_escalate),
        ];
    }
    Ok(d)
}

/// Decides one command against one dispute.
pub fn decide(
    dispute: &Dispute,
    actor: Actor,
    command: &DisputeCommand,
    now: i64,
    policy: &DisputePolicy,
) -> Result<DisputeDecision, DisputeError> {
    if !command.allowed(actor) {
        return Err(DisputeError::NotPermitted(command.code()));
    }
    let mut d = DisputeDecision {
        dispute: dispute.clone(),
        events: vec![],
        set_timers: vec![],
        cancel_timers: vec![],
    };
    match dispute.state.clone() {
        DisputeState::Closed { .. } if matches!(command, DisputeCommand::Fire(_)) => {
            return Err(DisputeError::TimerNotDue);
        }
        DisputeState::Closed { .. } => return Err(DisputeError::Closed),
        DisputeState::Negotiating {
            answer_due,
            escalate_from,
            escalate_at,
            answer,
        } => {
            let silent = answer.is_none() && now >= answer_due;
            let over = now >= escalate_at;
            match command {
                DisputeCommand::Respond(_) if answer.is_some() => {
                    return Err(DisputeError::AlreadyAnswered);
                }
                DisputeCommand::Respond(_) if silent => return Err(DisputeError::AnswerLate),
                DisputeCommand::Respond(Answer::Accept) => {
                    d.events.push(DisputeEvent::Responded(Answer::Accept));
                    grant(
                        &mut d,
                        dispute.request.into(),
                        Closure::SellerAccepted,
                        now,
                        policy,
                    );
                }
                DisputeCommand::Respond(a) => {
                    if let Answer::Counter(amount) = a {
                        positive(*amount, dispute.paid)?;
                        within_held(*amount, dispute.held)?;
                    }
                    d.dispute.state = DisputeState::Negotiating {
                        answer_due,
                        escalate_from,
                        escalate_at,
                        answer: Some(*a),
                    };
                    d.cancel_timers = vec![DisputeTimer::SellerAnswer];
                    d.events.push(DisputeEvent::Responded(*a));
                }
                DisputeCommand::AcceptCounter => {
                    let Some(Answer::Counter(amount)) = answer else {
                        return Err(DisputeError::NoCounterOffer);
                    };
                    if over {
                        return Err(DisputeError::NotNegotiating);
                    }
                    d.events.push(DisputeEvent::CounterAccepted);
                    let outcome = Outcome::PartialRefund(amount);
                    close(&mut d, outcome, Closure::CounterAccepted, now);
                }
                DisputeCommand::Escalate => {
                    if now < escalate_from {
                        return Err(DisputeError::EscalationTooEarly(policy.escalate_after));
                    }
                    if silent {
                        return Err(DisputeError::AnswerLate);
                    }
                    let by = match actor {
                        Actor::Seller => Escalation::Seller,
                        _ => Escalation::Buyer,
                    };
                    escalate(&mut d, by, now, policy);
                }
                // Silence grants the request, even when the escalation's timer comes first.
                DisputeCommand::Fire(
                    k @ (DisputeTimer::SellerAnswer | DisputeTimer::AutoEscalate),
                ) if silent && (*k == DisputeTimer::SellerAnswer || over) => {
                    let request = dispute.request.into();
                    grant(&mut d, request, Closure::SellerSilent, now, policy);
                }
                DisputeCommand::Fire(DisputeTimer::AutoEscalate) if over => {
                    escalate(&mut d, Escalation::Timer, now, policy);
                }
                DisputeCommand::Fire(_) => return Err(DisputeError::TimerNotDue),
                DisputeCommand::Decide { .. } => return Err(DisputeError::NotInMediation),
                DisputeCommand::ShipReturn { .. }
                | DisputeCommand::ReturnDelivered
                | DisputeCommand::ConfirmReturnReceived => {
                    return Err(DisputeError::NoReturnExpected);
                }
            }
        }
        DisputeState::InMediation {
            escalated_at,
            by,
            sla_due,
            overdue,
        } => match command {
            DisputeCommand::Decide {
                outcome,
                reason,
                by,
            } => {
                if reason.trim().is_empty() {
                    return Err(DisputeError::ReasonMissing);
                }
                check_outcome(dispute, *outcome, policy)?;
                d.dispute.decided_by = Some(by.clone());
                d.events.push(DisputeEvent::Decided(*outcome));
                let closure = Closure::Decided {
                    reason: reason.clone(),
                };
                grant(&mut d, *outcome, closure, now, policy);
            }
            DisputeCommand::Fire(DisputeTimer::MediationSla) if !overdue && now >= sla_due => {
                d.dispute.state = DisputeState::InMediation {
                    escalated_at,
                    by,
                    sla_due,
                    overdue: true,
                };
                d.cancel_timers = vec![DisputeTimer::MediationSla];
                d.events.push(DisputeEvent::MediationOverdue);
            }
            DisputeCommand::Fire(_) => return Err(DisputeError::TimerNotDue),
            DisputeCommand::Respond(_)
            | DisputeCommand::AcceptCounter
            | DisputeCommand::Escalate => return Err(DisputeError::NotNegotiating),
            DisputeCommand::ShipReturn { .. }
            | DisputeCommand::ReturnDelivered
            | DisputeCommand::ConfirmReturnReceived => return Err(DisputeError::NoReturnExpected),
        },
        DisputeState::AwaitingReturn { ship_by, refund } => match command {
            DisputeCommand::ShipReturn { tracking } => {
                if now >= ship_by {
                    return Err(DisputeError::ReturnShipByPassed);
                }
                d.dispute.state = DisputeState::ReturnShipped {
                    tracking: tracking.clone(),
                    shipped_at: now,
                    delivered_at: None,
                    refund_due: None,
                    refund,
                };
                d.cancel_timers = vec![DisputeTimer::ReturnShipBy];
                d.events.push(DisputeEvent::ReturnShipped);
            }
            DisputeCommand::ReturnDelivered | DisputeCommand::ConfirmReturnReceived => {
                return Err(DisputeError::ReturnNotShipped);
            }
            DisputeCommand::Fire(DisputeTimer::ReturnShipBy) if now >= ship_by => {
                let outcome = Outcome::ReturnAndRefund;
                closed(
                    &mut d,
                    outcome,
                    Closure::ReturnNotShipped,
                    Settlement::Release,
                    now,
                );
            }
            other => return Err(not_in_return(other)),
        },
        DisputeState::ReturnShipped {
            tracking,
            shipped_at,
            delivered_at,
            refund_due,
            refund,
        } => match command {
            DisputeCommand::ReturnDelivered => {
                if delivered_at.is_some() {
                    return Err(DisputeError::ReturnAlreadyDelivered);
                }
                let due = now + policy.return_refund;
                d.dispute.state = DisputeState::ReturnShipped {
                    tracking,
                    shipped_at,
                    delivered_at: Some(now),
                    refund_due: Some(due),
                    refund,
                };
                d.set_timers = vec![(DisputeTimer::ReturnRefund, due)];
                d.events.push(DisputeEvent::ReturnDelivered);
            }
            DisputeCommand::ConfirmReturnReceived => {
                d.events.push(DisputeEvent::ReturnReceived);
                let settlement = Settlement::Split { refund };
                let outcome = Outcome::ReturnAndRefund;
                closed(&mut d, outcome, Closure::ReturnReceived, settlement, now);
            }
            DisputeCommand::Fire(DisputeTimer::ReturnRefund)
                if refund_due.is_some_and(|t| now >= t) =>
            {
                let settlement = Settlement::Split { refund };
                let outcome = Outcome::ReturnAndRefund;
                closed(&mut d, outcome, Closure::ReturnUnconfirmed, settlement, now);
            }
            DisputeCommand::ShipReturn { .. } => return Err(DisputeError::NoReturnExpected),
            other => return Err(not_in_return(other)),
        },
    }
    Ok(d)
}

/// The rejection of a command that has no place while a return is under way.
fn not_in_return(command: &DisputeCommand) -> DisputeError {
    match command {
        DisputeCommand::Decide { .. } => DisputeError::NotInMediation,
        DisputeCommand::Fire(_) => DisputeError::TimerNotDue,
        _ => DisputeError::NotNegotiating,
    }
}

fn within_held(amount: Money, held: Money) -> Result<(), DisputeError> {
    if amount.minor() > held.minor() {
        return Err(DisputeError::ExceedsHeld {
            requested: amount.minor(),
            held: held.minor(),
        });
    }
    Ok(())
}

/// A mediator's outcome must fit the money: refunds within what the hold had, a counterfeit
/// refund within the policy's multiple of the price.
fn check_outcome(
    dispute: &Dispute,
    outcome: Outcome,
    policy: &DisputePolicy,
) -> Result<(), DisputeError> {
    match outcome {
        Outcome::Rejected => Ok(()),
        Outcome::FullRefund | Outcome::ReturnAndRefund if dispute.held.is_zero() => {
            Err(DisputeError::ExceedsHeld {
                requested: dispute.paid.minor(),
                held: 0,
            })
        }
        Outcome::FullRefund | Outcome::ReturnAndRefund => Ok(()),
        Outcome::PartialRefund(amount) => {
            positive(amount, dispute.paid)?;
            within_held(amount, dispute.held)
        }
        Outcome::Counterfeit(amount) => {
            positive(amount, dispute.paid)?;
            let limit = dispute
                .paid
                .minor()
                .saturating_mul(policy.counterfeit_multiple);
            if amount.minor() > limit {
                return Err(DisputeError::CounterfeitExceedsLimit {
                    requested: amount.minor(),
                    limit,
                });
            }
            Ok(())
        }
    }
}

fn escalate(d: &mut DisputeDecision, by: Escalation, now: i64, policy: &DisputePolicy) {
    let sla_due = now + policy.mediation_sla;
    d.dispute.escalated_at = Some(now);
    d.dispute.state = DisputeState::InMediation {
        escalated_at: now,
        by,
        sla_due,
        overdue: false,
    };
    d.cancel_timers = vec![DisputeTimer::SellerAnswer, DisputeTimer::AutoEscalate];
    d.set_timers = vec![(DisputeTimer::MediationSla, sla_due)];
    d.events.push(DisputeEvent::Escalated(by));
}

/// The outcome is granted: a return is awaited first, anything else closes the dispute.
fn grant(
    d: &mut DisputeDecision,
    outcome: Outcome,
    closure: Closure,
    now: i64,
    policy: &DisputePolicy,
) {
    if outcome == Outcome::ReturnAndRefund {
        let ship_by = now + policy.return_ship;
        d.dispute.state = DisputeState::AwaitingReturn {
            ship_by,
            refund: d.dispute.held,
        };
        d.cancel_timers = vec![
            DisputeTimer::SellerAnswer,
            DisputeTimer::AutoEscalate,
            DisputeTimer::MediationSla,
        ];
        d.set_timers = vec![(DisputeTimer::ReturnShipBy, ship_by)];
    } else {
        close(d, outcome, closure, now);
    }
}

/// Closes with the settlement the outcome means for the order.
fn close(d: &mut DisputeDecision, outcome: Outcome, closure: Closure, now: i64) {
    let settlement = match outcome {
        Outcome::FullRefund | Outcome::ReturnAndRefund => Settlement::Split {
            refund: d.dispute.held,
        },
        Outcome::PartialRefund(refund) => Settlement::Split { refund },
        Outcome::Rejected => Settlement::Resume,
        Outcome::Counterfeit(amount) => Settlement::Counterfeit { amount },
    };
    closed(d, outcome, closure, settlement, now);
}

fn closed(
    d: &mut DisputeDecision,
    outcome: Outcome,
    closure: Closure,
    settlement: Settlement,
    now: i64,
) {
    d.dispute.state = DisputeState::Closed {
        outcome,
        closure,
        closed_at: now,
    };
    d.set_timers.clear();
    d.cancel_timers = DisputeTimer::ALL.to_vec();
    d.events.push(DisputeEvent::Closed(settlement));
}
