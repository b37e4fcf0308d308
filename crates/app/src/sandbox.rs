//! The sandbox provider as a card connector: the [`holdback_sandbox::Sandbox`], whose state lives
//! in a file of its own, called off the async runtime. This is what `serve` uses in test mode.

use std::sync::Arc;

use holdback_domain::card::CardInput;
use holdback_domain::reconcile::ProviderOp;
use holdback_domain::{ErrorCode, Money};
use holdback_sandbox::{Sandbox, SandboxError};
use holdback_store::clock::Clock;

use crate::cards::{BoxFuture, CardConnector, Charge, ProviderError};

/// A card connector on a sandbox file.
pub struct SandboxCards {
    pub sandbox: Sandbox,
    pub clock: Arc<dyn Clock>,
}

impl SandboxCards {
    pub fn open(path: &std::path::Path, clock: Arc<dyn Clock>) -> Result<SandboxCards, String> {
        let sandbox =
            Sandbox::open(path).map_err(|e| format!("sandbox {}: {e}", path.display()))?;
        Ok(SandboxCards { sandbox, clock })
    }
}

fn provider_error(e: SandboxError) -> ProviderError {
    if e.is_unknown_outcome() {
        return ProviderError::Unknown(e.to_string());
    }
    let code = match &e {
        SandboxError::Card(card) => card.code(),
        // Not about the card: holdback never asks for these (a reference is never reused for
        // another call, an amount is never zero), and a refund's refusal reaches no caller.
        SandboxError::RefundExceedsCharge
        | SandboxError::RefundFailed
        | SandboxError::NoSuchCharge
        | SandboxError::ReferenceReused
        | SandboxError::CurrencyMismatch
        | SandboxError::InvalidAmount
        | SandboxError::Timeout
        | SandboxError::AnswerLost
        | SandboxError::Storage(_) => ErrorCode::PaymentFailed,
    };
    ProviderError::Refused {
        code,
        reason: e.code(),
        message: e.to_string(),
    }
}

/// Runs a blocking sandbox call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SandboxError> + Send + 'static,
) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ProviderError::Unknown(format!("sandbox call: {e}")))?
        .map_err(provider_error)
}

impl CardConnector for SandboxCards {
    fn charge<'a>(
        &'a self,
        card: &'a CardInput,
        amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Charge, ProviderError>> {
        let (sandbox, card, reference) =
            (self.sandbox.clone(), card.clone(), reference.to_string());
        let now = self.clock.now_ms();
        Box::pin(async move {
            let record = blocking(move || sandbox.charge(&card, amount, &reference, now)).await?;
            Ok(Charge { card: record.card })
        })
    }

    fn refund<'a>(
        &'a self,
        charge: &'a str,
        amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        let (sandbox, charge, reference) = (
            self.sandbox.clone(),
            charge.to_string(),
            reference.to_string(),
        );
        let now = self.clock.now_ms();
        Box::pin(async move {
            let record = blocking(move || sandbox.refund(&charge, amount, &reference, now)).await?;
            Ok(record.id)
        })
    }

    fn find_charge<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<Charge>, ProviderError>> {
        let (sandbox, reference) = (self.sandbox.clone(), reference.to_string());
        Box::pin(async move {
            let record = blocking(move || sandbox.charge_by_reference(&reference)).await?;
            Ok(record.map(|r| Charge { card: r.card }))
        })
    }

    fn statement(&self) -> BoxFuture<'_, Result<Vec<ProviderOp>, ProviderError>> {
        let sandbox = self.sandbox.clone();
        Box::pin(async move {
            let lines = blocking(move || sandbox.statement()).await?;
            Ok(lines.iter().map(|l| l.to_provider_op()).collect())
        })
    }
}
