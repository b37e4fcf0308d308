//! Payments: money taken from the buyer at checkout, in one or more tenders.
//!
//! A payment is written as `Processing` before any provider is called, with the orders it will
//! open planned in full (their ids included), so that a crash between the provider's charge and
//! holdback's record can be finished later by asking the provider about the payment's reference.
//! `Capture` opens the planned orders (see `process`); `Fail` records a refusal. A captured
//! payment owes refunds out of its tenders: each refund comes from one tender and never exceeds
//! what that tender has left.
//!
//! A method that confirms later (a bank transfer) starts the payment in `RequiresAction`, its
//! orders placed awaiting it. Money the bank reports is booked as it arrives (clearing → payments
//! unapplied) and applied once the whole amount is in: the payment is captured and its orders
//! paid (`Confirmed`). What comes beyond the amount, or after the payment expired or was
//! captured, is never kept: it is refunded through the refund path (a refund of no order). An
//! expiry with part of the money in refunds that part.

use crate::ErrorCode;
use crate::card::StoredCard;
use crate::ledger::{AccountKind, AccountSpec, TransferRequest};
use crate::money::{Money, MoneyError};
use crate::order::{OrderPlan, RefundReason, SharedAccounts, buyer_balance};
use crate::refund::Refund;

use crate::tender::{Destination, RefundRouting, split_refund};
pub use crate::tender::{Method, Tender};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentState {
    /// Waiting for the buyer's money (a bank transfer) until `expires_at`; its orders are placed
    /// awaiting it.
    RequiresAction {
        orders: Vec<String>,
        expires_at: i64,
        /// For a wallet: where the wallet sends the buyer's browser back to.
        return_url: Option<String>,
    },
    /// The buyer's money did not come in time: its orders were cancelled unpaid.
    Expired { at: i64, orders: Vec<String> },
    /// The buyer cancelled at the wallet: its orders were cancelled unpaid.
    Cancelled { at: i64, orders: Vec<String> },
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
            PaymentState::RequiresAction { .. } => "requires_action",
            PaymentState::Expired { .. } => "expired",
            PaymentState::Cancelled { .. } => "cancelled",
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
        // what the buyer pays of each order: its price less what the platform pays of it
        let mut sum = Money::zero(amount.currency());
        for plan in &plans {
            sum = sum.checked_add(plan.amount)?;
            sum = sum.checked_sub(Money::from_minor(plan.promotion, amount.currency())?)?;
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
                received: 0,
                payer_account: None,
            }],
            state: PaymentState::Processing { plans },
        })
    }

    /// A new payment by a method that confirms later (one tender, its reference the payment's
    /// id), waiting until `expires_at` for `amount`; `orders` are placed awaiting it.
    #[allow(clippy::too_many_arguments)]
    pub fn awaiting(
        id: &str,
        buyer: &str,
        livemode: bool,
        method: Method,
        amount: Money,
        orders: Vec<String>,
        expires_at: i64,
        return_url: Option<String>,
        now: i64,
    ) -> Payment {
        Payment {
            id: id.to_string(),
            buyer: buyer.to_string(),
            livemode,
            amount,
            created_at: now,
            tenders: vec![Tender {
                method,
                amount,
                refunded: 0,
                reference: id.to_string(),
                card: None,
                received: 0,
                payer_account: None,
            }],
            state: PaymentState::RequiresAction {
                orders,
                expires_at,
                return_url,
            },
        }
    }

    /// Pays `amount` of this new payment from the buyer's balance: a balance tender after the
    /// provider's, which keeps the rest (all of it: the provider's tender goes).
    pub fn with_stored_value(mut self, amount: i64) -> Result<Payment, PaymentError> {
        if amount == 0 {
            return Ok(self);
        }
        let total = self.amount.minor();
        if amount < 0 || amount > total || self.tenders.len() != 1 {
            return Err(PaymentError::StoredValueExceedsAmount { amount, total });
        }
        let currency = self.amount.currency();
        let balance = Tender {
            method: Method::Balance,
            amount: Money::from_minor(amount, currency)?,
            refunded: 0,
            reference: format!("{}:balance", self.id),
            card: None,
            received: 0,
            payer_account: None,
        };
        if amount == total {
            self.tenders = vec![balance];
        } else {
            self.tenders[0].amount = Money::from_minor(total - amount, currency)?;
            self.tenders.push(balance);
        }
        Ok(self)
    }

    /// What the provider's tenders are to take (the payment less its stored value).
    pub fn provider_amount(&self) -> i64 {
        self.tenders
            .iter()
            .filter(|t| !t.method.is_stored_value())
            .map(|t| t.amount.minor())
            .sum()
    }

    /// The ledger movement that takes the stored-value tenders from the buyer's balance when
    /// the payment is written (balance → clearing, where the capture takes it from with the
    /// provider's part). The balance account is bounded: a balance too small refuses the whole
    /// unit (`balance_insufficient`).
    pub fn reserve_stored_value(
        &self,
    ) -> Result<(Vec<AccountSpec>, Vec<TransferRequest>), PaymentError> {
        self.stored_value_moves(false)
    }

    /// The stored value given back to the balance when the payment fails, expires or is
    /// cancelled before it is captured.
    fn release_stored_value(
        &self,
    ) -> Result<(Vec<AccountSpec>, Vec<TransferRequest>), PaymentError> {
        self.stored_value_moves(true)
    }

    fn stored_value_moves(
        &self,
        back: bool,
    ) -> Result<(Vec<AccountSpec>, Vec<TransferRequest>), PaymentError> {
        let stored: i64 = self
            .tenders
            .iter()
            .filter(|t| t.method.is_stored_value())
            .map(|t| t.amount.minor())
            .sum();
        if stored == 0 {
            return Ok((vec![], vec![]));
        }
        let currency = self.amount.currency();
        let shared = SharedAccounts::of(self.livemode, currency)?;
        let balance = buyer_balance(self.livemode, &self.buyer, currency)?;
        let accounts = vec![
            AccountSpec {
                id: balance.clone(),
                kind: AccountKind::CustomerBalance,
                currency,
                bounded: true,
            },
            AccountSpec {
                id: shared.card_clearing.clone(),
                kind: AccountKind::BuyerPaymentClearing,
                currency,
                bounded: false,
            },
        ];
        let (debit, credit) = if back {
            (shared.card_clearing, balance)
        } else {
            (balance, shared.card_clearing)
        };
        let amount = Money::from_minor(stored, currency)?;
        Ok((
            accounts,
            vec![TransferRequest::Posted {
                debit,
                credit,
                amount,
            }],
        ))
    }

    pub fn refunded(&self) -> i64 {
        self.tenders.iter().map(|t| t.refunded).sum()
    }

    /// What is still due from the buyer while the payment waits for its money.
    pub fn amount_due(&self) -> i64 {
        match self.state {
            PaymentState::RequiresAction { .. } => {
                let received: i64 = self.tenders.iter().map(|t| t.received).sum();
                (self.provider_amount() - received).max(0)
            }
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCommand {
    /// The provider captured tender `tender`.
    Capture { tender: usize, card: StoredCard },
    /// A payment made wholly of stored value (the buyer's balance) is captured at once: no
    /// provider is involved.
    CaptureStoredValue,
    /// The provider refused, answered by `code` (a `card_error`).
    Fail { code: ErrorCode },
    /// Give `amount` of `order`'s money back: one refund per tender it comes from (shared and
    /// routed by `routing`, see [`split_refund`]), with ids `refund_id` for the first tender,
    /// `refund_id_1` for the second, …
    Refund {
        order: String,
        amount: Money,
        reason: RefundReason,
        refund_id: String,
        routing: RefundRouting,
    },
    /// The bank reports `amount` received for the payment's reference (each notification once).
    /// Money beyond what is due, or after the payment expired or was captured, is refunded by
    /// a refund `refund_id` (called only then).
    Receive {
        amount: Money,
        refund_id: String,
        /// The account the money came from, when the connector says.
        payer: Option<String>,
    },
    /// The payment's time ran out before all its money came: its orders are cancelled unpaid,
    /// and what did come is refunded by `refund_id`.
    Expire { refund_id: String },
    /// The wallet declined the payment (`code`): its orders are cancelled unpaid.
    Decline { code: ErrorCode },
    /// The buyer cancelled at the wallet: its orders are cancelled unpaid.
    Cancel,
    /// The buyer confirmed a cash-on-delivery order: its orders are paid from the cash the
    /// platform expects to collect (see `cod`).
    ConfirmCash,
    /// The carrier `carrier` collected the cash at the door, `fee` on top of what the order
    /// holds: it is now receivable from the carrier.
    CollectCash { carrier: String, fee: i64 },
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
    #[error("the payment is not waiting for money")]
    NotAwaitingMoney,
    #[error("the payment's time has not run out")]
    NotExpired,
    #[error("the amount received must be more than zero")]
    ZeroReceived,
    #[error("the stored value {amount} is not within the payment's {total}")]
    StoredValueExceedsAmount { amount: i64, total: i64 },
    #[error("only a payment made wholly of stored value is captured without a provider")]
    NotAllStoredValue,
    #[error("the payment is not paid by cash on delivery")]
    NotCashOnDelivery,
    #[error("the cash of this payment was already collected")]
    AlreadyCollected,
    #[error("the time to confirm this cash-on-delivery order has passed: it is cancelled")]
    ConfirmationLate,
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    InvalidId(#[from] crate::ids::InvalidId),
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
            PaymentError::NotAwaitingMoney => ErrorCode::PaymentNotAwaitingMoney,
            PaymentError::NotExpired => ErrorCode::TimerNotDue,
            PaymentError::ZeroReceived => ErrorCode::ZeroAmount,
            PaymentError::StoredValueExceedsAmount { .. } => ErrorCode::StoredValueExceedsTotal,
            PaymentError::NotAllStoredValue => ErrorCode::PaymentNotProcessing,
            PaymentError::NotCashOnDelivery => ErrorCode::NotCashOnDelivery,
            PaymentError::AlreadyCollected => ErrorCode::ParcelAlreadyFinal,
            PaymentError::ConfirmationLate => ErrorCode::ConfirmationExpired,
            PaymentError::Money(e) => e.code(),
            PaymentError::InvalidId(_) => ErrorCode::InvalidId,
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
    /// Written waiting for the buyer's money (a bank transfer): its orders are placed.
    RequiresAction,
    /// The money of a payment that waited for it is all in: its placed orders are paid.
    Confirmed {
        orders: Vec<String>,
    },
    /// The carrier collected `amount` (the fee included) at the door.
    Collected {
        amount: i64,
    },
    /// Part of the money came; `due` is still owed.
    PartiallyReceived {
        due: i64,
    },
    /// The time ran out: its placed orders are cancelled unpaid.
    Expired {
        orders: Vec<String>,
    },
    /// The wallet declined it: its placed orders are cancelled unpaid.
    Declined {
        orders: Vec<String>,
    },
    /// The buyer cancelled it at the wallet: its placed orders are cancelled unpaid.
    Cancelled {
        orders: Vec<String>,
    },
}

impl PaymentEvent {
    pub fn name(&self) -> &'static str {
        match self {
            PaymentEvent::Succeeded { .. } => "payment.succeeded",
            PaymentEvent::Failed => "payment.failed",
            // a refund to the balance is done when it is written
            PaymentEvent::RefundCreated(r) if !r.is_pending() => "refund.succeeded",
            PaymentEvent::RefundCreated(_) => "refund.created",
            PaymentEvent::RequiresAction => "payment.requires_action",
            PaymentEvent::Confirmed { .. } => "payment.succeeded",
            PaymentEvent::PartiallyReceived { .. } => "payment.partially_received",
            PaymentEvent::Collected { .. } => "payment.cash_collected",
            PaymentEvent::Expired { .. } => "payment.expired",
            PaymentEvent::Declined { .. } => "payment.failed",
            PaymentEvent::Cancelled { .. } => "payment.cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentDecision {
    pub payment: Payment,
    pub events: Vec<PaymentEvent>,
    /// Accounts to open and money to move with the decision (money that came from the bank).
    pub accounts: Vec<AccountSpec>,
    pub transfers: Vec<TransferRequest>,
}

/// Decides one command against one payment.
pub fn decide(
    payment: &Payment,
    command: &PaymentCommand,
    now: i64,
) -> Result<PaymentDecision, PaymentError> {
    let mut p = payment.clone();
    let mut events = Vec::new();
    let mut accounts = Vec::new();
    let mut transfers = Vec::new();
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
        (PaymentCommand::CaptureStoredValue, PaymentState::Processing { plans }) => {
            if !p.tenders.iter().all(|t| t.method.is_stored_value()) {
                return Err(PaymentError::NotAllStoredValue);
            }
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
            let (accounts, transfers) = payment.release_stored_value()?;
            return Ok(PaymentDecision {
                payment: p,
                events,
                accounts,
                transfers,
            });
        }
        (
            PaymentCommand::Capture { .. }
            | PaymentCommand::CaptureStoredValue
            | PaymentCommand::Fail { .. },
            _,
        ) => {
            return Err(PaymentError::NotProcessing);
        }
        (
            PaymentCommand::Refund {
                order,
                amount,
                reason,
                refund_id,
                routing,
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
            let parts = split_refund(&p.tenders, amount.minor(), routing, now).ok_or(
                PaymentError::RefundExceedsPaid {
                    requested: amount.minor(),
                    remaining,
                },
            )?;
            for part in parts {
                let tender = &mut p.tenders[part.tender];
                tender.refunded += part.amount;
                let id = match part.tender {
                    0 => refund_id.clone(),
                    n => format!("{refund_id}_{n}"),
                };
                // a card's charge, or the transfer's (or wallet payment's) own reference
                let charge = tender
                    .card
                    .as_ref()
                    .map_or(tender.reference.as_str(), |c| c.token.as_str());
                let money = Money::from_minor(part.amount, amount.currency())?;
                let refund = match part.destination {
                    Destination::OriginalMethod => Refund::pending(
                        &id,
                        payment,
                        order,
                        part.tender,
                        charge,
                        money,
                        *reason,
                        now,
                    ),
                    // no provider: written done, the ledger moving the money in the unit
                    to @ (Destination::Balance | Destination::Uncollected) => {
                        without_provider(payment, money, to, &mut accounts, &mut transfers)?;
                        Refund::pending(
                            &id,
                            payment,
                            order,
                            part.tender,
                            charge,
                            money,
                            *reason,
                            now,
                        )
                        .done_without_provider(to, now)
                    }
                };
                events.push(PaymentEvent::RefundCreated(refund));
            }
        }
        (PaymentCommand::Refund { .. }, _) => return Err(PaymentError::NotCaptured),
        (
            PaymentCommand::Receive {
                amount,
                refund_id,
                payer,
            },
            _,
        ) => {
            let mut d = received(payment, *amount, refund_id, now)?;
            if let (Some(payer), Some(t)) = (payer, d.payment.tenders.first_mut())
                && t.payer_account.is_none()
            {
                t.payer_account = Some(payer.clone());
            }
            return Ok(d);
        }
        (PaymentCommand::Expire { refund_id }, _) => return expire(payment, refund_id, now),
        (PaymentCommand::ConfirmCash, _) => return crate::cod::confirm(payment, now),
        (PaymentCommand::CollectCash { carrier, fee }, _) => {
            return crate::cod::collect(payment, carrier, *fee);
        }
        // a wallet confirms all at once: money already in (a bank transfer's) is not abandoned
        (PaymentCommand::Decline { .. } | PaymentCommand::Cancel, _)
            if payment.tenders.iter().any(|t| t.received > 0) =>
        {
            return Err(PaymentError::NotAwaitingMoney);
        }
        (PaymentCommand::Decline { code }, PaymentState::RequiresAction { orders, .. }) => {
            let orders = orders.clone();
            p.state = PaymentState::Failed {
                at: now,
                code: *code,
            };
            events.push(PaymentEvent::Declined { orders });
            (accounts, transfers) = payment.release_stored_value()?;
        }
        (PaymentCommand::Cancel, PaymentState::RequiresAction { orders, .. }) => {
            let orders = orders.clone();
            p.state = PaymentState::Cancelled {
                at: now,
                orders: orders.clone(),
            };
            events.push(PaymentEvent::Cancelled { orders });
            (accounts, transfers) = payment.release_stored_value()?;
        }
        (PaymentCommand::Decline { .. } | PaymentCommand::Cancel, _) => {
            return Err(PaymentError::NotAwaitingMoney);
        }
    }
    Ok(PaymentDecision {
        payment: p,
        events,
        accounts,
        transfers,
    })
}

/// Books a refund that no provider performs, out of refunds payable (where the order's refund
/// put it), at once: into the buyer's balance, or (cash never collected) back to the cash the
/// platform expected.
fn without_provider(
    payment: &Payment,
    amount: Money,
    to: Destination,
    accounts: &mut Vec<AccountSpec>,
    transfers: &mut Vec<TransferRequest>,
) -> Result<(), PaymentError> {
    let currency = amount.currency();
    let shared = SharedAccounts::of(payment.livemode, currency)?;
    let target = match to {
        Destination::Uncollected => AccountSpec {
            id: crate::cod::CodAccounts::of(payment.livemode, currency)?.expected,
            kind: AccountKind::CodExpected,
            currency,
            bounded: false,
        },
        _ => AccountSpec {
            id: buyer_balance(payment.livemode, &payment.buyer, currency)?,
            kind: AccountKind::CustomerBalance,
            currency,
            bounded: true,
        },
    };
    accounts.push(AccountSpec {
        id: shared.refunds_payable.clone(),
        kind: AccountKind::RefundsPayable,
        currency,
        bounded: true,
    });
    transfers.push(TransferRequest::Posted {
        debit: shared.refunds_payable,
        credit: target.id.clone(),
        amount,
    });
    accounts.push(target);
    Ok(())
}

/// The shared accounts money from the bank moves through, opened with the decision.
fn bank_accounts(p: &Payment) -> Result<(SharedAccounts, Vec<AccountSpec>), PaymentError> {
    let currency = p.amount.currency();
    let shared = SharedAccounts::of(p.livemode, currency)?;
    let spec = |id: &crate::AccountId, kind, bounded| AccountSpec {
        id: id.clone(),
        kind,
        currency,
        bounded,
    };
    let specs = vec![
        spec(
            &shared.card_clearing,
            AccountKind::BuyerPaymentClearing,
            false,
        ),
        spec(&shared.unapplied, AccountKind::PaymentsUnapplied, true),
        spec(&shared.refunds_payable, AccountKind::RefundsPayable, true),
    ];
    Ok((shared, specs))
}

/// Gives `amount` back out of the payments-unapplied account: a refund of no order.
fn refund_unapplied(
    d: &mut PaymentDecision,
    shared: &SharedAccounts,
    amount: i64,
    reason: RefundReason,
    refund_id: &str,
    now: i64,
) -> Result<(), PaymentError> {
    if amount <= 0 {
        return Ok(());
    }
    let money = Money::from_minor(amount, d.payment.amount.currency())?;
    d.transfers.push(TransferRequest::Posted {
        debit: shared.unapplied.clone(),
        credit: shared.refunds_payable.clone(),
        amount: money,
    });
    let reference = d.payment.tenders[0].reference.clone();
    let refund = Refund::pending(refund_id, &d.payment, "", 0, &reference, money, reason, now);
    d.events.push(PaymentEvent::RefundCreated(refund));
    Ok(())
}

fn received(
    payment: &Payment,
    amount: Money,
    refund_id: &str,
    now: i64,
) -> Result<PaymentDecision, PaymentError> {
    if amount.currency() != payment.amount.currency() {
        return Err(MoneyError::CurrencyMismatch {
            left: payment.amount.currency(),
            right: amount.currency(),
        }
        .into());
    }
    if amount.minor() <= 0 {
        return Err(PaymentError::ZeroReceived);
    }
    // Only money sent by bank transfer is reported: a card payment is never waiting for it.
    let by_bank = payment.tenders.first().is_some_and(|t| {
        !matches!(t.method, Method::Card | Method::CashOnDelivery) && !t.method.is_stored_value()
    });
    if matches!(payment.state, PaymentState::Processing { .. }) || !by_bank {
        return Err(PaymentError::NotAwaitingMoney);
    }
    let (shared, accounts) = bank_accounts(payment)?;
    let mut d = PaymentDecision {
        payment: payment.clone(),
        events: vec![],
        accounts,
        transfers: vec![TransferRequest::Posted {
            debit: shared.card_clearing.clone(),
            credit: shared.unapplied.clone(),
            amount,
        }],
    };
    let t = &mut d.payment.tenders[0];
    t.received = t.received.saturating_add(amount.minor());
    let (received, due) = (t.received, t.amount);
    match &payment.state {
        PaymentState::RequiresAction { orders, .. } if received >= due.minor() => {
            d.transfers.push(TransferRequest::Posted {
                debit: shared.unapplied.clone(),
                credit: shared.card_clearing.clone(),
                amount: due,
            });
            d.payment.state = PaymentState::Captured {
                at: now,
                orders: orders.clone(),
            };
            d.events.push(PaymentEvent::Confirmed {
                orders: orders.clone(),
            });
            let excess = received - due.minor();
            refund_unapplied(
                &mut d,
                &shared,
                excess,
                RefundReason::Overpaid,
                refund_id,
                now,
            )?;
        }
        PaymentState::RequiresAction { .. } => {
            d.events.push(PaymentEvent::PartiallyReceived {
                due: due.minor() - received,
            });
        }
        PaymentState::Captured { .. } | PaymentState::Failed { .. } => {
            let reason = RefundReason::Overpaid;
            refund_unapplied(&mut d, &shared, amount.minor(), reason, refund_id, now)?;
        }
        PaymentState::Expired { .. } | PaymentState::Cancelled { .. } => {
            let reason = RefundReason::PaymentExpired;
            refund_unapplied(&mut d, &shared, amount.minor(), reason, refund_id, now)?;
        }
        PaymentState::Processing { .. } => return Err(PaymentError::NotAwaitingMoney),
    }
    Ok(d)
}

fn expire(payment: &Payment, refund_id: &str, now: i64) -> Result<PaymentDecision, PaymentError> {
    let PaymentState::RequiresAction {
        orders, expires_at, ..
    } = &payment.state
    else {
        return Err(PaymentError::NotAwaitingMoney);
    };
    if now < *expires_at {
        return Err(PaymentError::NotExpired);
    }
    let (shared, accounts) = bank_accounts(payment)?;
    let mut d = PaymentDecision {
        payment: payment.clone(),
        events: vec![PaymentEvent::Expired {
            orders: orders.clone(),
        }],
        accounts,
        transfers: vec![],
    };
    d.payment.state = PaymentState::Expired {
        at: now,
        orders: orders.clone(),
    };
    let received: i64 = payment.tenders.iter().map(|t| t.received).sum();
    let reason = RefundReason::PaymentExpired;
    refund_unapplied(&mut d, &shared, received, reason, refund_id, now)?;
    let (accounts, transfers) = payment.release_stored_value()?;
    d.accounts.extend(accounts);
    d.transfers.extend(transfers);
    Ok(d)
}
