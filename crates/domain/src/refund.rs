//! Refunds: money owed back to the buyer through the provider that took it, as an effect
//! recorded before it happens.
//!
//! A refund is created `Pending` in the same unit as the ledger transfer that reserves its money
//! (escrow → refunds payable). A worker then calls the provider with the refund's own id as the
//! provider's idempotency reference and records the outcome with [`decide`]:
//! - `Succeeded` moves the money on (refunds payable → the method's clearing account);
//! - a definite failure schedules another attempt with backoff, and after
//!   [`RefundPolicy::max_failures`] in a row the refund is `Failed` and waits for an operator,
//!   whose `Retry` makes it pending again. The money stays owed, and visible, all along;
//! - an unknown outcome (a timeout, a lost answer) only schedules another attempt: asking again
//!   with the same reference cannot refund twice.

use crate::ErrorCode;
use crate::ids::InvalidId;
use crate::ledger::TransferRequest;
use crate::money::Money;
use crate::order::{RefundReason, SharedAccounts};
use crate::payment::Payment;
use crate::tender::Destination;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundState {
    /// Waiting for the provider: the next attempt is due at `next_attempt_at`. `failures` counts
    /// the definite failures since the refund was created or an operator retried it.
    Pending {
        next_attempt_at: i64,
        failures: u32,
        last_error: Option<String>,
    },
    Succeeded {
        at: i64,
        provider_id: String,
    },
    /// Gave up retrying; waits for an operator.
    Failed {
        at: i64,
        last_error: String,
    },
}

impl RefundState {
    pub fn code(&self) -> &'static str {
        match self {
            RefundState::Pending { .. } => "pending",
            RefundState::Succeeded { .. } => "succeeded",
            RefundState::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub payment: String,
    pub order: String,
    /// The tender of the payment it goes back to, and that tender's charge at the provider.
    pub tender: usize,
    pub charge: String,
    pub amount: Money,
    pub reason: RefundReason,
    pub livemode: bool,
    pub created_at: i64,
    /// Calls made to the provider so far, of any outcome.
    pub attempts: u32,
    pub state: RefundState,
    /// Where the money went: back through the provider, or into the buyer's balance.
    pub destination: Destination,
}

impl Refund {
    /// A new refund, due at once.
    #[allow(clippy::too_many_arguments)]
    pub fn pending(
        id: &str,
        payment: &Payment,
        order: &str,
        tender: usize,
        charge: &str,
        amount: Money,
        reason: RefundReason,
        now: i64,
    ) -> Refund {
        Refund {
            id: id.to_string(),
            payment: payment.id.clone(),
            order: order.to_string(),
            tender,
            charge: charge.to_string(),
            amount,
            reason,
            livemode: payment.livemode,
            created_at: now,
            attempts: 0,
            state: RefundState::Pending {
                next_attempt_at: now,
                failures: 0,
                last_error: None,
            },
            destination: Destination::OriginalMethod,
        }
    }

    /// A refund no provider performs (into the buyer's balance, or of cash never collected):
    /// written succeeded, the ledger moving the money in the same unit.
    pub fn done_without_provider(mut self, to: Destination, now: i64) -> Refund {
        self.state = RefundState::Succeeded {
            at: now,
            provider_id: to.code().into(),
        };
        self.destination = to;
        self
    }

    pub fn is_pending(&self) -> bool {
        matches!(self.state, RefundState::Pending { .. })
    }
}

/// How refunds are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPolicy {
    /// Definite failures in a row before the refund waits for an operator.
    pub max_failures: u32,
    /// The wait after the first failure; each further failure multiplies it by 4, up to `max_backoff`.
    pub first_backoff: i64,
    pub max_backoff: i64,
    /// The wait after a first attempt whose outcome is unknown; it doubles with every attempt
    /// made so far, up to `max_backoff` (an outage is asked about less and less often, never
    /// given up on: asking again under the same reference is always safe).
    pub unknown_backoff: i64,
}

impl Default for RefundPolicy {
    fn default() -> Self {
        RefundPolicy {
            max_failures: 5,
            first_backoff: 60_000,
            max_backoff: 6 * 3_600_000,
            unknown_backoff: 10_000,
        }
    }
}

impl RefundPolicy {
    /// The wait after an unknown outcome, when `attempts` calls have been made.
    pub fn after_unknown(&self, attempts: u32) -> i64 {
        let factor = 2_i64.saturating_pow(attempts.saturating_sub(1).min(30));
        self.unknown_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The wait after the `failures`-th failure in a row (1-based).
    pub fn backoff(&self, failures: u32) -> i64 {
        let factor = 4_i64.saturating_pow(failures.saturating_sub(1));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundCommand {
    /// The provider refunded, under its own id.
    Succeeded { provider_id: String },
    /// The provider refused, by a stable code: nothing was refunded.
    Failed { code: String },
    /// The call's outcome is unknown (timed out, answer lost).
    Unknown { reason: String },
    /// An operator asks for another round of attempts.
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("the refund is not pending")]
    NotPending,
    #[error("only a failed refund can be retried")]
    NotFailed,
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
}

impl RefundError {
    pub fn code(&self) -> ErrorCode {
        match self {
            RefundError::NotPending => ErrorCode::RefundNotPending,
            RefundError::NotFailed => ErrorCode::RefundNotFailed,
            RefundError::InvalidId(_) => ErrorCode::InvalidId,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundEvent {
    Succeeded,
    /// A definite failure; `next_attempt_at` is `None` when it waits for an operator.
    Failed {
        next_attempt_at: Option<i64>,
    },
}

impl RefundEvent {
    pub fn name(&self) -> &'static str {
        match self {
            RefundEvent::Succeeded => "refund.succeeded",
            RefundEvent::Failed { .. } => "refund.failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDecision {
    pub refund: Refund,
    pub transfers: Vec<TransferRequest>,
    pub events: Vec<RefundEvent>,
}

/// Records an attempt's outcome, or an operator's retry.
pub fn decide(
    refund: &Refund,
    command: &RefundCommand,
    now: i64,
    policy: &RefundPolicy,
) -> Result<RefundDecision, RefundError> {
    let mut r = refund.clone();
    let mut transfers = Vec::new();
    let mut events = Vec::new();
    match (command, &refund.state) {
        (RefundCommand::Retry, RefundState::Failed { last_error, .. }) => {
            r.state = RefundState::Pending {
                next_attempt_at: now,
                failures: 0,
                last_error: Some(last_error.clone()),
            };
        }
        (RefundCommand::Retry, _) => return Err(RefundError::NotFailed),
        (_, RefundState::Succeeded { .. } | RefundState::Failed { .. }) => {
            return Err(RefundError::NotPending);
        }
        (RefundCommand::Succeeded { provider_id }, RefundState::Pending { .. }) => {
            r.attempts += 1;
            let accounts = SharedAccounts::of(r.livemode, r.amount.currency())?;
            transfers.push(TransferRequest::Posted {
                debit: accounts.refunds_payable,
                credit: accounts.card_clearing,
                amount: r.amount,
            });
            r.state = RefundState::Succeeded {
                at: now,
                provider_id: provider_id.clone(),
            };
            events.push(RefundEvent::Succeeded);
        }
        (RefundCommand::Failed { code }, RefundState::Pending { failures, .. }) => {
            r.attempts += 1;
            let failures = failures + 1;
            if failures >= policy.max_failures {
                r.state = RefundState::Failed {
                    at: now,
                    last_error: code.clone(),
                };
                events.push(RefundEvent::Failed {
                    next_attempt_at: None,
                });
            } else {
                let next = now + policy.backoff(failures);
                r.state = RefundState::Pending {
                    next_attempt_at: next,
                    failures,
                    last_error: Some(code.clone()),
                };
                events.push(RefundEvent::Failed {
                    next_attempt_at: Some(next),
                });
            }
        }
        (RefundCommand::Unknown { reason }, RefundState::Pending { failures, .. }) => {
            r.attempts += 1;
            r.state = RefundState::Pending {
                next_attempt_at: now + policy.after_unknown(r.attempts),
                failures: *failures,
                last_error: Some(reason.clone()),
            };
        }
    }
    Ok(RefundDecision {
        refund: r,
        transfers,
        events,
    })
}
