//! The card connector interface, and the stateless fallback sandbox.
//!
//! A connector charges, refunds and answers what it did under a reference. Each call carries a
//! reference the provider deduplicates by (the payment's id for a charge, the refund's id for a
//! refund), so that asking again after a timeout or a crash never charges or refunds twice. A
//! call either succeeds, is refused by name (nothing happened), or ends with its outcome unknown:
//! then the caller asks again with the same reference, or asks what happened. A real provider is
//! one more implementation of [`CardConnector`]; the domain does not change.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use holdback_domain::calendar::year_month;
use holdback_domain::card::{CardInput, StoredCard, sandbox_outcome};
use holdback_domain::reconcile::ProviderOp;
use holdback_domain::{ErrorCode, Money};
use holdback_store::clock::Clock;
use sha2::{Digest, Sha256};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A successful charge: what holdback keeps of the card, its token being the provider's charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub card: StoredCard,
}

/// How a provider call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused: nothing happened there. `code` is how holdback answers a refused
    /// charge (a `card_error`: `card_declined`, …); `reason` is the provider's own stable name
    /// for the refusal, which a failed refund records.
    #[error("{message}")]
    Refused {
        code: ErrorCode,
        reason: &'static str,
        message: String,
    },
    /// Nobody knows whether it happened (a timeout, a lost answer, a provider error). Ask again
    /// with the same reference.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

impl From<holdback_domain::card::CardError> for ProviderError {
    fn from(e: holdback_domain::card::CardError) -> Self {
        ProviderError::Refused {
            code: e.code(),
            reason: e.code().as_str(),
            message: e.to_string(),
        }
    }
}

pub trait CardConnector: Send + Sync {
    /// Captures `amount` from the card. The same `reference` never charges twice.
    fn charge<'a>(
        &'a self,
        card: &'a CardInput,
        amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Charge, ProviderError>>;

    /// Refunds `amount` of the charge `charge` (its token). The same `reference` refunds once.
    /// Returns the provider's id of the refund.
    fn refund<'a>(
        &'a self,
        charge: &'a str,
        amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// The charge made under `reference`, if the provider made one.
    fn find_charge<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<Charge>, ProviderError>>;

    /// Every operation that moved money at the provider, for reconciliation.
    fn statement(&self) -> BoxFuture<'_, Result<Vec<ProviderOp>, ProviderError>>;
}

/// A sandbox that keeps no state: Stripe's test card numbers, expiry checked against the clock;
/// refunds always succeed and no charge can be looked up. For benchmarks and unit tests only:
/// `serve` uses the stateful sandbox provider.
pub struct StatelessSandbox {
    pub clock: Arc<dyn Clock>,
}

impl CardConnector for StatelessSandbox {
    fn charge<'a>(
        &'a self,
        card: &'a CardInput,
        _amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Charge, ProviderError>> {
        Box::pin(async move {
            let (year, month) = year_month(self.clock.now_ms());
            sandbox_outcome(card, year, month)?;
            let token: String = Sha256::digest(reference.as_bytes())
                .iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect();
            Ok(Charge {
                card: StoredCard {
                    brand: card.number.brand(),
                    last4: card.number.last4().to_string(),
                    exp_month: card.exp_month,
                    exp_year: card.exp_year,
                    token: format!("ch_{token}"),
                },
            })
        })
    }

    fn refund<'a>(
        &'a self,
        _charge: &'a str,
        _amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move { Ok(format!("re_{reference}")) })
    }

    fn find_charge<'a>(
        &'a self,
        _reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<Charge>, ProviderError>> {
        Box::pin(async { Ok(None) })
    }

    fn statement(&self) -> BoxFuture<'_, Result<Vec<ProviderOp>, ProviderError>> {
        Box::pin(async {
            Err(ProviderError::Unknown(
                "the stateless sandbox keeps no statement".into(),
            ))
        })
    }
}
