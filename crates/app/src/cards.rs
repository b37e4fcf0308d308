//! The card connector interface and the sandbox connector.
//!
//! A connector charges and refunds; each call carries a reference that the provider uses to
//! deduplicate, so that a retried request never charges twice. A real provider is one more
//! implementation of [`CardConnector`]; the domain does not change.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use holdback_domain::Money;
use holdback_domain::card::{CardError, CardInput, StoredCard, sandbox_outcome};
use holdback_store::clock::Clock;
use sha2::{Digest, Sha256};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A successful charge: what holdback keeps of the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub card: StoredCard,
}

pub trait CardConnector: Send + Sync {
    /// Captures `amount` from the card. The same `reference` never charges twice.
    fn charge<'a>(
        &'a self,
        card: &'a CardInput,
        amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Charge, CardError>>;

    /// Refunds `amount` of an earlier charge (by its token). The same `reference` refunds once.
    fn refund<'a>(
        &'a self,
        token: &'a str,
        amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<(), CardError>>;
}

/// The sandbox: Stripe's test card numbers (DOMAIN.md §7), expiry checked against the clock.
pub struct SandboxCards {
    pub clock: Arc<dyn Clock>,
}

impl CardConnector for SandboxCards {
    fn charge<'a>(
        &'a self,
        card: &'a CardInput,
        _amount: Money,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Charge, CardError>> {
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
                    token: format!("tok_{token}"),
                },
            })
        })
    }

    fn refund<'a>(
        &'a self,
        _token: &'a str,
        _amount: Money,
        _reference: &'a str,
    ) -> BoxFuture<'a, Result<(), CardError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The UTC year and month of a time in ms since the epoch (civil calendar from day count).
pub fn year_month(ms: i64) -> (u16, u8) {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        u16::try_from(year).unwrap_or(u16::MAX),
        u8::try_from(month).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::year_month;

    #[test]
    fn calendar() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(1_795_219_200_000), (2026, 11)); // 2026-11-21
        assert_eq!(year_month(951_782_400_000), (2000, 2)); // 2000-02-29
        assert_eq!(year_month(951_868_800_000), (2000, 3)); // 2000-03-01
    }
}
