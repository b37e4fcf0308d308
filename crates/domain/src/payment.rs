//! Payments: money taken from the buyer at checkout, in one or more tenders.
//!
//! A payment is written as `Processing` before any provider is called, with the orders it will
//! open planned in full (their ids included), so that a crash between the provider's charge and
//! holdback's record can be finished later by asking the provider about the payment's reference.
//! `Capture` opens the planned orders (see `process`); `Fail` records a refusal. A captured
//! payment owes refunds out of its tenders: each refund comes from one tender and never exceeds
//! what that tender has left.

use crate::ErrorCode;
use crate::card::StoredCard;
use crate::money::{Money, MoneyError};
use crate::order::{OrderPlan, RefundReason};
use crate::refund::Refund;

/// How a tender was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Card,
}

impl Method {
    pub fn code(self) -> &'static str {
        match self {
            Method::Card => "card",
        }
    }

    pub fn parse(code: &str) -> Option<Method> {
        (code == "card").then_some(Method::Card)
    }
}

/// One part of a payment, paid by one method at one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tender {
    pub method: Method,
    pub amount: Money,
    /// Given back to the buyer (or owed to them by a refund in flight) so far, minor units.
    pub refunded: i64,
    /// The reference the provider deduplicates this tender's charge by.
    pub reference: String,
    /// What the provider answered: the card's brand, last four, expiry and the charge's token.
    pub card: Option<StoredCard>,
}

impl Tender {
    pub fn remaining(&self) -> i64 {
        self.amount.minor() - self.refunded
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentState {
    /// Written before the provider is called: the orders to open once it is captured.
    Processing { plans: Vec<OrderPlan> },
    /// Captured; the orders it opened.
    Captured { at: i64, orders: Vec<String> },
    /// The provider refused; nothing was captured. `code` is how the API answers it.
    Failed { at: i64, code: ErrorCode },
}

impl PaymentState {
    pub fn code(&self) -> &'static str {
        match self {
            PaymentState::Processing { .. } => "processing",
            PaymentState::Captured { .. } => "succeeded",
            PaymentState::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: String,
    pub buyer: String,
    pub livemode: bool,
    pub amount: Money,
    pub created_at: i64,
    pub tenders: Vec<Tender>,
    pub state: PaymentState,
}

impl Payment {
    /// A new payment of one card tender, before the provider is called. Its reference at the
    /// provider is its own id. The planned orders must add up to `amount`, in its currency.
    pub fn processing(
        id: &str,
        buyer: &str,
        livemode: bool,
        amount: Money,
        plans: Vec<OrderPlan>,
        now: i64,
    ) -> Result<Payment, PaymentError> {
        let mut sum = Money::zero(amount.currency());
        for plan in &plans {
            sum = sum.checked_add(plan.amount)?;
        }
        if sum != amount || plans.is_empty() {
            return Err(PaymentError::PlansDoNotAddUp);
        }
        Ok(Payment {
            id: id.to_string(),
            buyer: buyer.to_string(),
            livemode,
            amount,
            created_at: now,
            tenders: vec![Tender {
                method: Method::Card,
                amount,
                refunded: 0,
                reference: id.to_string(),
                card: None,
            }],
            state: PaymentState::Processing { plans },
        })
    }

    pub fn refunded(&self) -> i64 {
        self.tenders.iter().map(|t| t.refunded).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCommand {
    /// The provider captured tender `tender`.
    Capture { tender: usize, card: StoredCard },
    /// The provider refused, answered by `code` (a `card_error`).
    Fail { code: ErrorCode },
    /// Give `amount` of `order`'s money back: one refund per tender it comes from, with ids
    /// `refund_id`, `refund_id_1`, …
    Refund {
        order: String,
        amount: Money,
        reason: RefundReason,
        refund_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("the payment is not processing")]
    NotProcessing,
    #[error("the payment was not captured")]
    NotCaptured,
    #[error("no such tender")]
    NoSuchTender,
    #[error("the planned orders do not add up to the payment")]
    PlansDoNotAddUp,
    #[error("the order was not paid by this payment")]
    NotThisPaymentsOrder,
    #[error("the refund of {requested} exceeds the {remaining} the payment has left")]
    RefundExceedsPaid { requested: i64, remaining: i64 },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl PaymentError {
    pub fn code(&self) -> ErrorCode {
        match self {
            PaymentError::NotProcessing => ErrorCode::PaymentNotProcessing,
            PaymentError::NotCaptured => ErrorCode::PaymentNotCaptured,
            PaymentError::NoSuchTender => ErrorCode::NoSuchTender,
            PaymentError::PlansDoNotAddUp => ErrorCode::PlansDoNotAddUp,
            PaymentError::NotThisPaymentsOrder => ErrorCode::NotThisPaymentsOrder,
            PaymentError::RefundExceedsPaid { .. } => ErrorCode::RefundExceedsPaid,
            PaymentError::Money(e) => e.code(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    /// Captured: the planned orders open.
    Succeeded {
        plans: Vec<OrderPlan>,
    },
    Failed,
    /// A refund was created (pending at the provider).
    RefundCreated(Refund),
}

impl PaymentEvent {
    pub fn name(&self) -> &'static str {
        match self {
            PaymentEvent::Succeeded { .. } => "payment.succeeded",
            PaymentEvent::Failed => "payment.failed",
            PaymentEvent::RefundCreated(_) => "refund.created",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentDecision {
    pub payment: Payment,
    pub events: Vec<PaymentEvent>,
}

/// Decides one command against one payment.
pub fn decide(
    payment: &Payment,
    command: &PaymentCommand,
    now: i64,
) -> Result<PaymentDecision, PaymentError> {
    let mut p = payment.clone();
    let mut events = Vec::new();
    match (command, &payment.state) {
        (PaymentCommand::Capture { tender, card }, PaymentState::Processing { plans }) => {
            let t = p
                .tenders
                .get_mut(*tender)
                .ok_or(PaymentError::NoSuchTender)?;
            t.card = Some(card.clone());
            p.state = PaymentState::Captured {
                at: now,
                orders: plans.iter().map(|plan| plan.id.clone()).collect(),
            };
            events.push(PaymentEvent::Succeeded {
                plans: plans.clone(),
            });
        }
        (PaymentCommand::Fail { code }, PaymentState::Processing { .. }) => {
            p.state = PaymentState::Failed {
                at: now,
                code: *code,
            };
            events.push(PaymentEvent::Failed);
        }
        (PaymentCommand::Capture { .. } | PaymentCommand::Fail { .. }, _) => {
            return Err(PaymentError::NotProcessing);
        }
        (
            PaymentCommand::Refund {
                order,
                amount,
                reason,
                refund_id,
            },
            PaymentState::Captured { orders, .. },
        ) => {
            if !orders.contains(order) {
                return Err(PaymentError::NotThisPaymentsOrder);
            }
            if amount.currency() != payment.amount.currency() {
                return Err(MoneyError::CurrencyMismatch {
                    left: payment.amount.currency(),
                    right: amount.currency(),
                }
                .into());
            }
            let remaining: i64 = p.tenders.iter().map(Tender::remaining).sum();
            if amount.minor() > remaining {
                return Err(PaymentError::RefundExceedsPaid {
                    requested: amount.minor(),
                    remaining,
                });
            }
            let mut left = amount.minor();
            for (index, tender) in p.tenders.iter_mut().enumerate() {
                let take = left.min(tender.remaining());
                if take == 0 {
                    continue;
                }
                left -= take;
                tender.refunded += take;
                let id = match index {
                    0 => refund_id.clone(),
                    n => format!("{refund_id}_{n}"),
                };
                let charge = tender.card.as_ref().map_or("", |c| c.token.as_str());
                events.push(PaymentEvent::RefundCreated(Refund::pending(
                    &id,
                    payment,
                    order,
                    index,
                    charge,
                    Money::from_minor(take, amount.currency())?,
                    *reason,
                    now,
                )));
            }
        }
        (PaymentCommand::Refund { .. }, _) => return Err(PaymentError::NotCaptured),
    }
    Ok(PaymentDecision { payment: p, events })
}
