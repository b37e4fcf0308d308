//! Commission at release: as charged on one order, and as configured.

use crate::money::{Currency, Money};

/// How commission is charged at release on one order: a percentage (in basis points) plus a
/// fixed part in the order's own currency (minor units), never more than the amount released.
/// The percentage rounds half up. See [`CommissionRule`] for the configured form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commission {
    pub basis_points: u32,
    pub fixed_minor: i64,
}

impl Commission {
    /// Commission on `amount` minor units.
    pub fn on(self, amount: i64) -> i64 {
        let percent = (i128::from(amount) * i128::from(self.basis_points) + 5_000) / 10_000;
        let total = i128::from(self.fixed_minor) + percent;
        i64::try_from(total.clamp(0, i128::from(amount))).unwrap_or(amount)
    }
}

/// Commission as configured: a percentage and fixed parts, each fixed part with its currency.
/// An order takes the fixed part of its own currency, and none if no part is in that currency
/// (there is no exchange rate to convert one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionRule {
    pub basis_points: u32,
    pub fixed: Vec<Money>,
}

impl CommissionRule {
    pub fn percent(basis_points: u32) -> CommissionRule {
        CommissionRule {
            basis_points,
            fixed: vec![],
        }
    }

    /// The commission of an order in `currency`.
    pub fn for_currency(&self, currency: Currency) -> Commission {
        Commission {
            basis_points: self.basis_points,
            fixed_minor: self
                .fixed
                .iter()
                .find(|m| m.currency() == currency)
                .map_or(0, |m| m.minor()),
        }
    }
}
