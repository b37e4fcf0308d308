//! How aggregates become rows: the statements a unit runs after its ledger postings, shared by
//! both backends as SQL text plus bound values, and the version check's reads.

use holdback_domain::order::{Order, OrderState};
use holdback_domain::payment::{Payment, PaymentState};
use holdback_domain::process::Kind;
use holdback_domain::refund::{Refund, RefundState};

use crate::idempotency::RECORD_KEY as INSERT_KEY;
use crate::unit::{Statement, Unit, Val};

/// The current version of one aggregate, by kind.
pub(crate) fn select_version(kind: Kind) -> &'static str {
    match kind {
        Kind::Order => "SELECT version FROM orders WHERE id = $1",
        Kind::Payment => "SELECT version FROM payments WHERE id = $1",
        Kind::Refund => "SELECT version FROM refunds WHERE id = $1",
        Kind::Dispute => "SELECT version FROM disputes WHERE id = $1",
        Kind::GiftCard => "SELECT version FROM gift_cards WHERE id = $1",
        Kind::Coupon => "SELECT version FROM coupons WHERE id = $1",
        Kind::Parcel => "SELECT version FROM parcels WHERE id = $1",
    }
}

/// The table of an aggregate kind (for PostgreSQL's `= ANY` prefetch).
pub(crate) fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Order => "orders",
        Kind::Payment => "payments",
        Kind::Refund => "refunds",
        Kind::Dispute => "disputes",
        Kind::GiftCard => "gift_cards",
        Kind::Coupon => "coupons",
        Kind::Parcel => "parcels",
    }
}

const UPSERT_ORDER: &str = "INSERT INTO orders (id, buyer, seller, payment_id, currency, captured, refunded, \
     released_to_seller, released_commission, status, paid_at, ship_by, carrier, tracking, \
     shipped_at, delivered_at, protection_ends, cancel_requested_at, buyer_extended, \
     extension_requested, seller_extended, commission_bps, commission_fixed, livemode, version, \
     updated_at, shipping_method, delivery_guarantee, ended_at, claim_opened_at, dispute_id, \
     dispute_opened_at, dispute_remaining, charged_to_seller, expires_at, ship_by_ms, promotion, \
     promotion_returned, cash_on_delivery, release_due_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, \
     $37, $38, $39, $40) \
     ON CONFLICT (id) DO UPDATE SET refunded = excluded.refunded, \
     paid_at = excluded.paid_at, ship_by = excluded.ship_by, \
     expires_at = excluded.expires_at, ship_by_ms = excluded.ship_by_ms, \
     released_to_seller = excluded.released_to_seller, \
     released_commission = excluded.released_commission, status = excluded.status, \
     carrier = excluded.carrier, tracking = excluded.tracking, shipped_at = excluded.shipped_at, \
     delivered_at = excluded.delivered_at, protection_ends = excluded.protection_ends, \
     cancel_requested_at = excluded.cancel_requested_at, \
     buyer_extended = excluded.buyer_extended, \
     extension_requested = excluded.extension_requested, \
     seller_extended = excluded.seller_extended, version = excluded.version, \
     updated_at = excluded.updated_at, ended_at = excluded.ended_at, \
     claim_opened_at = excluded.claim_opened_at, dispute_id = excluded.dispute_id, \
     dispute_opened_at = excluded.dispute_opened_at, \
     dispute_remaining = excluded.dispute_remaining, \
     charged_to_seller = excluded.charged_to_seller, \
     promotion_returned = excluded.promotion_returned, release_due_at = excluded.release_due_at";
const UPSERT_PAYMENT: &str = "INSERT INTO payments (id, buyer, currency, amount, method, \
     card_brand, card_last4, card_exp_month, card_exp_year, provider_token, livemode, created_at, \
     status, failure_code, captured_at, version, expires_at, return_url) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
     ON CONFLICT (id) DO UPDATE SET card_brand = excluded.card_brand, \
     card_last4 = excluded.card_last4, card_exp_month = excluded.card_exp_month, \
     card_exp_year = excluded.card_exp_year, provider_token = excluded.provider_token, \
     status = excluded.status, failure_code = excluded.failure_code, \
     captured_at = excluded.captured_at, version = excluded.version, \
     expires_at = excluded.expires_at";
const UPSERT_TENDER: &str = "INSERT INTO payment_tenders (payment_id, idx, method, currency, \
     amount, refunded, reference, card_brand, card_last4, card_exp_month, card_exp_year, \
     provider_token, received, payer_account) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT (payment_id, idx) DO UPDATE SET refunded = excluded.refunded, \
     received = excluded.received, payer_account = excluded.payer_account, \
     card_brand = excluded.card_brand, card_last4 = excluded.card_last4, \
     card_exp_month = excluded.card_exp_month, card_exp_year = excluded.card_exp_year, \
     provider_token = excluded.provider_token";
const INSERT_PLAN: &str = "INSERT INTO payment_plans (payment_id, idx, order_id, seller, amount, \
     commission_bps, commission_fixed, ship_by_ms, shipping_method, delivery_guarantee, promotion) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (payment_id, idx) DO NOTHING";
const UPSERT_REFUND: &str = "INSERT INTO refunds (id, payment_id, order_id, tender, charge, \
     currency, amount, reason, livemode, status, attempts, failures, next_attempt_at, last_error, \
     provider_id, ended_at, created_at, version, destination) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19) \
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, \
     failures = excluded.failures, next_attempt_at = excluded.next_attempt_at, \
     last_error = excluded.last_error, provider_id = excluded.provider_id, \
     ended_at = excluded.ended_at, version = excluded.version, lease_until = 0";
const SET_TIMER: &str = "INSERT INTO timers (order_id, kind, due_at) VALUES ($1, $2, $3) \
     ON CONFLICT (order_id, kind) DO UPDATE SET due_at = excluded.due_at";
const CANCEL_TIMER: &str = "DELETE FROM timers WHERE order_id = $1 AND kind = $2";
const CANCEL_TIMER_IF_DUE: &str =
    "DELETE FROM timers WHERE order_id = $1 AND kind = $2 AND due_at = $3";
const INSERT_EVENT: &str = "INSERT INTO events (id, type, object_id, payload, created_at, \
     livemode) VALUES ($1, $2, $3, $4, $5, $6)";

fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

fn order_values(order: &Order, version: i64, now: i64) -> Vec<Val> {
    let shipment = order.shipment();
    let protection = order.protection();
    let release = order.release();
    let ended_at = match &order.state {
        OrderState::Completed { completed_at, .. } => Some(*completed_at),
        OrderState::Cancelled { cancelled_at, .. } => Some(*cancelled_at),
        OrderState::Expired { expired_at } => Some(*expired_at),
        _ => None,
    };
    let awaiting = match &order.state {
        OrderState::AwaitingPayment {
            expires_at,
            ship_by_ms,
        } => Some((*expires_at, *ship_by_ms)),
        _ => None,
    };
    vec![
        text(&order.id),
        text(&order.buyer),
        text(&order.seller),
        text(&order.payment),
        text(order.captured.currency().code()),
        Val::Int(order.captured.minor()),
        Val::Int(order.refunded),
        Val::OptInt(release.map(|r| r.to_seller)),
        Val::OptInt(release.map(|r| r.commission)),
        text(order.status().code()),
        Val::Int(order.paid_at),
        Val::Int(order.ship_by),
        Val::OptText(shipment.map(|s| s.carrier.clone())),
        Val::OptText(shipment.map(|s| s.tracking.clone())),
        Val::OptInt(shipment.map(|s| s.shipped_at)),
        Val::OptInt(order.delivered_at()),
        Val::OptInt(protection.map(|p| p.ends)),
        Val::OptInt(order.cancel_requested()),
        Val::Bool(protection.is_some_and(|p| p.buyer_extended)),
        Val::OptInt(protection.and_then(|p| p.extension_requested)),
        Val::Int(protection.map_or(0, |p| p.seller_extended)),
        Val::Int(i64::from(order.commission.basis_points)),
        Val::Int(order.commission.fixed_minor),
        Val::Bool(order.livemode),
        Val::Int(version),
        Val::Int(now),
        text(&order.shipping_method),
        Val::Int(order.delivery_guarantee),
        Val::OptInt(ended_at),
        Val::OptInt(order.claim()),
        Val::OptText(order.dispute.as_ref().map(|d| d.id.clone())),
        Val::OptInt(order.dispute.as_ref().map(|d| d.opened_at)),
        Val::OptInt(order.dispute.as_ref().map(|d| d.remaining)),
        Val::Int(order.charged_to_seller),
        Val::OptInt(awaiting.map(|a| a.0)),
        Val::OptInt(awaiting.map(|a| a.1)),
        Val::Int(order.promotion),
        Val::Int(order.promotion_returned),
        Val::Bool(order.cash_on_delivery),
        Val::OptInt(match &order.state {
            OrderState::AwaitingRemittance { due_at, .. } => Some(*due_at),
            _ => None,
        }),
    ]
}

fn payment_statements(p: &Payment, version: i64, out: &mut Vec<Statement>) {
    let first = p.tenders.first();
    let card = first.and_then(|t| t.card.as_ref());
    let (failure, captured_at) = match &p.state {
        PaymentState::Failed { code, .. } => (Some(code.as_str().to_string()), None),
        PaymentState::Captured { at, .. }
        | PaymentState::Expired { at, .. }
        | PaymentState::Cancelled { at, .. } => (None, Some(*at)),
        PaymentState::Processing { .. } | PaymentState::RequiresAction { .. } => (None, None),
    };
    let (expires_at, return_url) = match &p.state {
        PaymentState::RequiresAction {
            expires_at,
            return_url,
            ..
        } => (Some(*expires_at), return_url.clone()),
        _ => (None, None),
    };
    out.push((
        UPSERT_PAYMENT,
        vec![
            text(&p.id),
            text(&p.buyer),
            text(p.amount.currency().code()),
            Val::Int(p.amount.minor()),
            text(first.map_or("card", |t| t.method.code())),
            Val::OptText(card.map(|c| c.brand.code().to_string())),
            Val::OptText(card.map(|c| c.last4.clone())),
            Val::OptInt(card.map(|c| i64::from(c.exp_month))),
            Val::OptInt(card.map(|c| i64::from(c.exp_year))),
            Val::OptText(card.map(|c| c.token.clone())),
            Val::Bool(p.livemode),
            Val::Int(p.created_at),
            text(p.state.code()),
            Val::OptText(failure),
            Val::OptInt(captured_at),
            Val::Int(version),
            Val::OptInt(expires_at),
            Val::OptText(return_url),
        ],
    ));
    for (i, t) in p.tenders.iter().enumerate() {
        let card = t.card.as_ref();
        out.push((
            UPSERT_TENDER,
            vec![
                text(&p.id),
                Val::Int(i as i64),
                text(t.method.code()),
                text(t.amount.currency().code()),
                Val::Int(t.amount.minor()),
                Val::Int(t.refunded),
                text(&t.reference),
                Val::OptText(card.map(|c| c.brand.code().to_string())),
                Val::OptText(card.map(|c| c.last4.clone())),
                Val::OptInt(card.map(|c| i64::from(c.exp_month))),
                Val::OptInt(card.map(|c| i64::from(c.exp_year))),
                Val::OptText(card.map(|c| c.token.clone())),
                Val::Int(t.received),
                Val::OptText(t.payer_account.clone()),
            ],
        ));
    }
    if let PaymentState::Processing { plans } = &p.state {
        for (i, plan) in plans.iter().enumerate() {
            out.push((
                INSERT_PLAN,
                vec![
                    text(&p.id),
                    Val::Int(i as i64),
                    text(&plan.id),
                    text(&plan.seller),
                    Val::Int(plan.amount.minor()),
                    Val::Int(i64::from(plan.commission.basis_points)),
                    Val::Int(plan.commission.fixed_minor),
                    Val::Int(plan.ship_by_ms),
                    text(&plan.shipping_method),
                    Val::Int(plan.delivery_guarantee),
                    Val::Int(plan.promotion),
                ],
            ));
        }
    }
}

fn refund_values(r: &Refund, version: i64) -> Vec<Val> {
    let (next, failures, error, provider, ended) = match &r.state {
        RefundState::Pending {
            next_attempt_at,
            failures,
            last_error,
        } => (
            Some(*next_attempt_at),
            *failures,
            last_error.clone(),
            None,
            None,
        ),
        RefundState::Succeeded { at, provider_id } => {
            (None, 0, None, Some(provider_id.clone()), Some(*at))
        }
        RefundState::Failed { at, last_error } => {
            (None, 0, Some(last_error.clone()), None, Some(*at))
        }
    };
    vec![
        text(&r.id),
        text(&r.payment),
        text(&r.order),
        Val::Int(r.tender as i64),
        text(&r.charge),
        text(r.amount.currency().code()),
        Val::Int(r.amount.minor()),
        text(r.reason.code()),
        Val::Bool(r.livemode),
        text(r.state.code()),
        Val::Int(i64::from(r.attempts)),
        Val::Int(i64::from(failures)),
        Val::OptInt(next),
        Val::OptText(error),
        Val::OptText(provider),
        Val::OptInt(ended),
        Val::Int(r.created_at),
        Val::Int(version),
        text(r.destination.code()),
    ]
}

/// A text value with a NUL byte: PostgreSQL refuses it in `TEXT`, and SQLite would store a
/// string that C code reading the row cuts short. Refused on both, so that both agree.
pub(crate) const NUL_IN_TEXT: &str = "a text value contains a NUL byte";
/// `payment_tenders`: `CHECK (amount > 0)`, `CHECK (refunded >= 0 AND refunded <= amount)`.
pub(crate) const TENDER_OUT_OF_RANGE: &str =
    "a tender's amount is not positive or its refunded amount is outside 0 to the amount";
/// `refunds`: `CHECK (amount > 0)`.
pub(crate) const REFUND_NOT_POSITIVE: &str = "a refund's amount is not positive";

impl Unit {
    /// The row statements of this unit, checked against what the database would refuse in any
    /// case: the `CHECK` constraints of the row tables (mirrored here; keep them in step with the
    /// migrations) and NUL bytes in text. What only the database can know (whether an event id
    /// is taken, whether a timer's order exists) is left to the savepoint around the unit's rows.
    pub(crate) fn rows(&self, now: i64) -> Result<Vec<Statement>, &'static str> {
        for p in &self.payments {
            if p.value
                .tenders
                .iter()
                .any(|t| t.amount.minor() <= 0 || t.refunded < 0 || t.refunded > t.amount.minor())
            {
                return Err(TENDER_OUT_OF_RANGE);
            }
        }
        if self.refunds.iter().any(|r| r.value.amount.minor() <= 0) {
            return Err(REFUND_NOT_POSITIVE);
        }
        let statements = self.statements(now);
        let nul = |v: &Val| match v {
            Val::Text(s) | Val::OptText(Some(s)) => s.contains('\0'),
            _ => false,
        };
        if statements.iter().any(|(_, values)| values.iter().any(nul)) {
            return Err(NUL_IN_TEXT);
        }
        Ok(statements)
    }

    /// The row statements of this unit, after its ledger postings, in the order to run them.
    pub(crate) fn statements(&self, now: i64) -> Vec<Statement> {
        let mut out = Vec::new();
        for w in &self.payments {
            payment_statements(&w.value, w.expected_version + 1, &mut out);
        }
        for w in &self.orders {
            out.push((
                UPSERT_ORDER,
                order_values(&w.value, w.expected_version + 1, now),
            ));
        }
        for w in &self.refunds {
            out.push((
                UPSERT_REFUND,
                refund_values(&w.value, w.expected_version + 1),
            ));
        }
        for w in &self.disputes {
            out.push(crate::disputes::statement(w, now));
        }
        for w in &self.gift_cards {
            out.push(crate::gift_cards::statement(w, now));
        }
        for w in &self.coupons {
            out.push(crate::coupons::statement(w, now));
        }
        for w in &self.parcels {
            out.push(crate::parcels::statement(w, now));
        }
        out.extend(
            self.parcel_events
                .iter()
                .map(crate::parcels::event_statement),
        );
        out.extend(self.cod_terms.iter().map(crate::parcels::terms_statement));
        // (one row a statement: PostgreSQL's writer turns a batch's rows of one statement into
        // one insert over arrays)
        out.extend(
            self.remittance_lines
                .iter()
                .map(crate::remittances::line_statement),
        );
        if let Some(m) = &self.remitted {
            out.extend(crate::remittances::mark_statements(m));
        }
        out.extend(
            self.line_accepted
                .iter()
                .map(crate::remittances::accept_statement),
        );
        out.extend(
            self.remittance_chunk
                .iter()
                .map(crate::remittances::progress_statement),
        );
        out.extend(self.coupon_uses.iter().map(crate::coupons::insert_use));
        out.extend(
            self.coupon_uses_given_back
                .iter()
                .map(|(coupon, order)| crate::coupons::give_back(coupon, order, now)),
        );
        out.extend(self.messages.iter().map(crate::messages::statement));
        out.extend(self.notifications.iter().map(crate::connectors::statement));
        out.extend(
            self.cancel_dispute_timers
                .iter()
                .map(crate::disputes::cancel_timer),
        );
        out.extend(
            self.set_dispute_timers
                .iter()
                .map(crate::disputes::set_timer),
        );
        for c in &self.cancel_timers {
            let mut vals = vec![text(&c.order_id), text(c.kind.code())];
            match c.only_if_due_at {
                Some(due) => {
                    vals.push(Val::Int(due));
                    out.push((CANCEL_TIMER_IF_DUE, vals));
                }
                None => out.push((CANCEL_TIMER, vals)),
            }
        }
        for t in &self.set_timers {
            out.push((
                SET_TIMER,
                vec![text(&t.order_id), text(t.kind.code()), Val::Int(t.due_at)],
            ));
        }
        for e in &self.events {
            out.push((
                INSERT_EVENT,
                vec![
                    text(&e.id),
                    text(&e.kind),
                    text(&e.object_id),
                    text(&e.payload),
                    Val::Int(e.created_at),
                    Val::Bool(e.livemode),
                ],
            ));
        }
        if let Some(k) = &self.idempotency {
            out.push((
                INSERT_KEY,
                vec![
                    text(&k.principal),
                    text(&k.key),
                    text(&k.request_hash),
                    Val::Int(i64::from(k.status)),
                    text(&k.body),
                    Val::Int(k.created_at),
                    Val::OptText(k.claim.clone()),
                ],
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::unit::NewEvent;
    use holdback_domain::payment::{Method, Tender};
    use holdback_domain::process::Versioned;
    use holdback_domain::{Currency, ErrorCode, Money};

    fn payment(amount: i64, refunded: i64) -> Versioned<Payment> {
        let usd = |m| Money::from_minor(m, Currency::parse("USD").unwrap()).unwrap();
        Versioned {
            value: Payment {
                id: "pay_1".into(),
                buyer: "buy_1".into(),
                livemode: false,
                amount: usd(amount),
                created_at: 1,
                tenders: vec![Tender {
                    method: Method::Card,
                    amount: usd(amount),
                    refunded,
                    reference: "pay_1".into(),
                    card: None,
                    received: 0,
                    payer_account: None,
                }],
                state: PaymentState::Failed {
                    at: 1,
                    code: ErrorCode::CardDeclined,
                },
            },
            expected_version: 0,
        }
    }

    #[test]
    fn rows_the_database_would_refuse_are_refused_first() {
        let ok = Unit {
            payments: vec![payment(100, 100)],
            ..Unit::default()
        };
        assert_eq!(ok.rows(5).unwrap().len(), 2);
        for (amount, refunded) in [(100, 101), (100, -1), (0, 0)] {
            let bad = Unit {
                payments: vec![payment(amount, refunded)],
                ..Unit::default()
            };
            assert_eq!(
                bad.rows(5).unwrap_err(),
                TENDER_OUT_OF_RANGE,
                "{amount} {refunded}"
            );
        }
        let mut nul = ok.clone();
        nul.events.push(NewEvent {
            id: "evt_1".into(),
            kind: "payment.failed".into(),
            object_id: "pay_1".into(),
            payload: "{\"x\":\"\u{0}\"}".into(),
            created_at: 5,
            livemode: false,
        });
        assert_eq!(nul.rows(5).unwrap_err(), NUL_IN_TEXT);
        nul.events[0].payload = "{\"x\":\"\\u0000\"}".into(); // escaped in JSON: stored as is
        assert_eq!(nul.rows(5).unwrap().len(), 3);
    }
}
