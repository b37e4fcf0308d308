//! The JSON objects the API returns and events carry, in the project's API conventions: `id`, `object`,
//! `created` (Unix seconds), `livemode`, `metadata`, amounts in minor units with a lower-case
//! ISO currency.

use holdback_domain::Money;
use holdback_domain::card::StoredCard;
use holdback_domain::dispute::{Answer, Closure, Dispute, DisputeState, Request};
use holdback_domain::order::Order;
use holdback_domain::payment::{Payment, PaymentState};
use holdback_domain::refund::{Refund, RefundState};
use holdback_store::StoredEvent;
use serde_json::{Value, json};

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

pub fn currency(order_or_payment: holdback_domain::Currency) -> String {
    order_or_payment.code().to_ascii_lowercase()
}

pub fn order(o: &Order) -> Value {
    let protection = o.protection();
    json!({
        "id": o.id,
        "object": "order",
        "created": secs(o.paid_at),
        "livemode": o.livemode,
        "metadata": {},
        "status": o.status().code(),
        "buyer": o.buyer,
        "seller": o.seller,
        "payment": o.payment,
        "amount": o.captured.minor(),
        "currency": currency(o.captured.currency()),
        "amount_refunded": o.refunded,
        "amount_held": o.held(),
        // what the platform pays of the amount (a platform-funded coupon)
        "amount_platform_funded": o.promotion,
        "release": o.release().map(|r| json!({
            "amount_to_seller": r.to_seller,
            "commission": r.commission,
        })),
        "ship_by": secs(o.ship_by),
        "shipping_method": o.shipping_method,
        "shipment": o.shipment().map(|s| json!({
            "carrier": s.carrier,
            "tracking_number": s.tracking,
            "shipped": secs(s.shipped_at),
        })),
        "delivered": o.delivered_at().map(secs),
        "protection_ends": protection.map(|p| secs(p.ends)),
        "cancel_requested": o.cancel_requested().map(secs),
        "buyer_extension_used": protection.is_some_and(|p| p.buyer_extended),
        "extension_requested_days": protection
            .and_then(|p| p.extension_requested)
            .map(|ms| ms / 86_400_000),
        "non_delivery_claim": o.claim().map(secs),
        "dispute": o.dispute.as_ref().map(|d| d.id.clone()),
        "amount_charged_to_seller": o.charged_to_seller,
        "cash_on_delivery": o.cash_on_delivery,
        "release_due": match &o.state {
            holdback_domain::order::OrderState::AwaitingRemittance { due_at, .. } => Some(secs(*due_at)),
            _ => None,
        },
    })
}

/// A payment with its tenders, the orders it opened and its refunds.
pub fn payment(p: &Payment, orders: &[Order], refunds: &[Refund]) -> Value {
    let card = p.tenders.first().and_then(|t| t.card.as_ref());
    let failure = match &p.state {
        PaymentState::Failed { code, .. } => Some(code.as_str()),
        _ => None,
    };
    json!({
        "id": p.id,
        "object": "payment",
        "created": secs(p.created_at),
        "livemode": p.livemode,
        "metadata": {},
        "status": p.state.code(),
        "failure_code": failure,
        "buyer": p.buyer,
        "amount": p.amount.minor(),
        "currency": currency(p.amount.currency()),
        "amount_refunded": p.refunded(),
        "amount_due": p.amount_due(),
        // what the buyer must do (a bank transfer's instructions), set by the payments' view
        "next_action": null,
        // a cash-on-delivery checkout's terms, set in its answer
        "cash_on_delivery": null,
        "expires": match &p.state {
            PaymentState::RequiresAction { expires_at, .. } => Some(secs(*expires_at)),
            _ => None,
        },
        "method": p.tenders.first().map_or("card", |t| t.method.code()),
        "card": card.map(card_view),
        "tenders": p.tenders.iter().map(|t| json!({
            "method": t.method.code(),
            "amount": t.amount.minor(),
            "amount_refunded": t.refunded,
            "card": t.card.as_ref().map(card_view),
        })).collect::<Vec<_>>(),
        "orders": orders.iter().map(order).collect::<Vec<_>>(),
        "refunds": refunds.iter().map(refund).collect::<Vec<_>>(),
    })
}

fn card_view(c: &StoredCard) -> Value {
    json!({
        "brand": c.brand.code(),
        "last4": c.last4,
        "exp_month": c.exp_month,
        "exp_year": c.exp_year,
    })
}

pub fn refund(r: &Refund) -> Value {
    let (next_attempt, error, ended) = match &r.state {
        RefundState::Pending {
            next_attempt_at,
            last_error,
            ..
        } => (Some(secs(*next_attempt_at)), last_error.clone(), None),
        RefundState::Succeeded { at, .. } => (None, None, Some(secs(*at))),
        RefundState::Failed { at, last_error } => (None, Some(last_error.clone()), Some(secs(*at))),
    };
    json!({
        "id": r.id,
        "object": "refund",
        "created": secs(r.created_at),
        "livemode": r.livemode,
        "metadata": {},
        "status": r.state.code(),
        "payment": r.payment,
        // none for money no order took (sent beyond what was due, or after the expiry)
        "order": (!r.order.is_empty()).then_some(&r.order),
        "amount": r.amount.minor(),
        "currency": currency(r.amount.currency()),
        "reason": r.reason.code(),
        // back through the provider, or into the buyer's balance
        "destination": r.destination.code(),
        "attempts": r.attempts,
        "next_attempt": next_attempt,
        "failure_code": error,
        "settled": ended,
    })
}

/// An event as stored in the outbox: its payload is already the whole event object.
pub fn event(e: &StoredEvent) -> Value {
    serde_json::from_str(&e.event.payload)
        .unwrap_or_else(|_| json!({"id": e.event.id, "object": "event", "type": e.event.kind}))
}

/// A new event object wrapping `object`.
pub fn new_event(id: &str, kind: &str, created_ms: i64, livemode: bool, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "type": kind,
        "created": secs(created_ms),
        "livemode": livemode,
        "data": { "object": object },
    })
}

/// A dispute: what was fixed when it opened, and the data of the stage it is in (the other
/// stages' fields are null).
pub fn dispute(d: &Dispute) -> Value {
    let amount = |m: Option<Money>| m.map(|m| m.minor());
    let (mut negotiation, mut mediation, mut ret, mut outcome) =
        (Value::Null, Value::Null, Value::Null, Value::Null);
    match &d.state {
        DisputeState::Negotiating {
            answer_due,
            escalate_from,
            escalate_at,
            answer,
        } => {
            negotiation = json!({
                "answer_due": secs(*answer_due),
                "escalation_allowed": secs(*escalate_from),
                "auto_escalation": secs(*escalate_at),
                "answer": answer.map(|a| json!({
                    "type": a.code(),
                    "amount": match a { Answer::Counter(m) => Some(m.minor()), _ => None },
                })),
            });
        }
        DisputeState::InMediation {
            by,
            sla_due,
            overdue,
            ..
        } => {
            mediation = json!({
                "escalated_by": by.code(),
                "decision_due": secs(*sla_due),
                "overdue": overdue,
            });
        }
        DisputeState::AwaitingReturn { ship_by, refund } => {
            ret = json!({
                "ship_by": secs(*ship_by),
                "amount": refund.minor(),
                "tracking_number": null,
                "shipped": null,
                "delivered": null,
                "refund_due": null,
            });
        }
        DisputeState::ReturnShipped {
            tracking,
            shipped_at,
            delivered_at,
            refund_due,
            refund,
        } => {
            ret = json!({
                "ship_by": null,
                "amount": refund.minor(),
                "tracking_number": tracking,
                "shipped": secs(*shipped_at),
                "delivered": delivered_at.map(secs),
                "refund_due": refund_due.map(secs),
            });
        }
        DisputeState::Closed {
            outcome: o,
            closure,
            closed_at,
        } => {
            outcome = json!({
                "type": o.code(),
                "amount": amount(o.amount()),
                "closure": closure.code(),
                "reason": match closure { Closure::Decided { reason } => Some(reason), _ => None },
                "closed": secs(*closed_at),
            });
        }
    }
    let requested = match d.request {
        Request::PartialRefund(m) => Some(m),
        _ => None,
    };
    json!({
        "id": d.id,
        "object": "dispute",
        "created": secs(d.opened_at),
        "livemode": d.livemode,
        "metadata": {},
        "order": d.order,
        "buyer": d.buyer,
        "seller": d.seller,
        "status": d.status().code(),
        "reason": d.reason.code(),
        "amount": d.paid.minor(),
        "amount_held": d.held.minor(),
        "currency": currency(d.paid.currency()),
        "requested": {"type": d.request.code(), "amount": amount(requested)},
        "escalated": d.escalated_at.map(secs),
        "decided_by": d.decided_by,
        "due": d.due().map(secs),
        "negotiation": negotiation,
        "mediation": mediation,
        "return": ret,
        "outcome": outcome,
    })
}
