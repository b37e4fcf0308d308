//! Every answer the sandbox can give other than success, each with a stable code.

use holdback_domain::card::CardError;

/// Why the provider refused a call, or why the caller got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// The card was refused (a test number that declines, an expired card, a real card number,
    /// or an armed [`crate::FaultEffect::Fail`]). Nothing was recorded.
    #[error(transparent)]
    Card(#[from] CardError),
    /// The refund is larger than what the charge has left to refund. Nothing was recorded.
    #[error("the refund exceeds what the charge has left to refund")]
    RefundExceedsCharge,
    /// The charge was made with 4000 0000 0000 5126, whose refunds fail. Nothing was recorded.
    #[error("the provider could not refund this charge")]
    RefundFailed,
    /// No charge has this id.
    #[error("no such charge")]
    NoSuchCharge,
    /// The reference was used before for a different call (another amount, currency, card or
    /// charge). Nothing was recorded.
    #[error("the reference was already used for a different request")]
    ReferenceReused,
    /// The refund's currency is not the charge's.
    #[error("the currency differs from the charge's")]
    CurrencyMismatch,
    /// A charge or refund of zero.
    #[error("the amount must be greater than zero")]
    InvalidAmount,
    /// The call never reached the provider; the caller cannot know that, so the outcome is
    /// unknown to it.
    #[error("the provider did not answer in time")]
    Timeout,
    /// The provider performed and recorded the call, but its answer was lost on the way back.
    #[error("the connection to the provider was lost before its answer arrived")]
    AnswerLost,
    /// The sandbox's own file failed; whether the call was recorded is unknown.
    #[error("sandbox storage failed: {0}")]
    Storage(String),
}

impl SandboxError {
    /// A stable snake_case code. A card refusal answers the card error's own code.
    pub fn code(&self) -> &'static str {
        match self {
            SandboxError::Card(e) => e.code().as_str(),
            SandboxError::RefundExceedsCharge => "refund_exceeds_charge",
            SandboxError::RefundFailed => "refund_failed",
            SandboxError::NoSuchCharge => "no_such_charge",
            SandboxError::ReferenceReused => "reference_reused",
            SandboxError::CurrencyMismatch => "currency_mismatch",
            SandboxError::InvalidAmount => "invalid_amount",
            SandboxError::Timeout => "timeout",
            SandboxError::AnswerLost => "answer_lost",
            SandboxError::Storage(_) => "storage",
        }
    }

    /// Whether the caller cannot tell if the call happened. It must then retry with the same
    /// reference (which answers the first call's record if there was one) or look the
    /// reference up; it must not assume either outcome.
    pub fn is_unknown_outcome(&self) -> bool {
        matches!(
            self,
            SandboxError::Timeout | SandboxError::AnswerLost | SandboxError::Storage(_)
        )
    }
}

impl From<rusqlite::Error> for SandboxError {
    fn from(e: rusqlite::Error) -> Self {
        SandboxError::Storage(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_unknown_outcomes_named() {
        let all = [
            SandboxError::Card(CardError::Declined),
            SandboxError::RefundExceedsCharge,
            SandboxError::RefundFailed,
            SandboxError::NoSuchCharge,
            SandboxError::ReferenceReused,
            SandboxError::CurrencyMismatch,
            SandboxError::InvalidAmount,
            SandboxError::Timeout,
            SandboxError::AnswerLost,
            SandboxError::Storage("disk".to_string()),
        ];
        let mut codes: Vec<&str> = all.iter().map(SandboxError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        let unknown: Vec<&str> = all
            .iter()
            .filter(|e| e.is_unknown_outcome())
            .map(SandboxError::code)
            .collect();
        assert_eq!(unknown, ["timeout", "answer_lost", "storage"]);
    }
}
