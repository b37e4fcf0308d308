//! Coupons: a discount funded by the platform or by a seller, a fixed amount or a percentage,
//! with a minimum spend, validity dates, a limit per buyer and in all, perhaps for one seller's
//! orders only.
//!
//! - **Funding.** A platform-funded discount is paid by the platform: the order's escrow still
//!   holds the list price (the rest comes from the platform's promotions account) and the seller
//!   is paid on it. A seller-funded discount lowers the order's price: the seller is paid less.
//! - **Scope.** A seller's coupon, and a platform coupon restricted to a seller, apply to that
//!   seller's order in the cart; an unrestricted platform coupon applies to the whole cart, its
//!   minimum spend measured on the cart and its discount shared among the orders in proportion
//!   to their prices ([`allocate`]).
//! - **Amount.** A percentage is rounded down to the minor unit; a fixed amount is capped at
//!   the price; neither ever makes an order free (at least one minor unit is left to pay).
//! - **Uses** are counted on the coupon, which is written with a version in the same unit as
//!   the payment that uses it: of two buyers racing for the last use, one gets it, the other is
//!   told it is exhausted. A use on an order that is cancelled (or a payment that fails) is
//!   given back while the coupon is still valid.

use crate::ErrorCode;
use crate::money::Currency;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Funding {
    Platform,
    Seller(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// Minor units off.
    Fixed(i64),
    /// Basis points off (1 to 9,999).
    Percent(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupon {
    pub id: String,
    /// What buyers type (upper case).
    pub code: String,
    pub livemode: bool,
    pub funding: Funding,
    pub discount: Discount,
    pub currency: Currency,
    /// The least the order (or, unrestricted, the cart) must cost, minor units.
    pub min_spend: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub per_buyer: u32,
    pub total_limit: u32,
    /// Uses not given back.
    pub used: u32,
    /// For a platform coupon: the one seller whose orders it applies to, if any.
    pub seller: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    #[error("the coupon is not valid yet")]
    NotStarted,
    #[error("the coupon has expired")]
    Expired,
    #[error("the coupon has no uses left")]
    Exhausted,
    #[error("the buyer has used this coupon as often as it allows")]
    BuyerLimit,
    #[error("the coupon needs a spend of at least {min}; this is {spend}")]
    BelowMinimum { min: i64, spend: i64 },
    #[error("the coupon is for another seller's orders")]
    OtherSeller,
    #[error("the coupon is in {coupon}, the checkout in {checkout}")]
    CurrencyMismatch {
        coupon: Currency,
        checkout: Currency,
    },
}

impl CouponError {
    pub fn code(&self) -> ErrorCode {
        match self {
            CouponError::NotStarted => ErrorCode::CouponNotStarted,
            CouponError::Expired => ErrorCode::CouponExpired,
            CouponError::Exhausted => ErrorCode::CouponExhausted,
            CouponError::BuyerLimit => ErrorCode::CouponBuyerLimit,
            CouponError::BelowMinimum { .. } => ErrorCode::CouponBelowMinimum,
            CouponError::OtherSeller => ErrorCode::CouponOtherSeller,
            CouponError::CurrencyMismatch { .. } => ErrorCode::CurrencyMismatch,
        }
    }
}

impl Coupon {
    /// The seller whose order it applies to, or `None` for the whole cart.
    pub fn scope(&self) -> Option<&str> {
        match &self.funding {
            Funding::Seller(s) => Some(s),
            Funding::Platform => self.seller.as_deref(),
        }
    }

    pub fn platform_funded(&self) -> bool {
        self.funding == Funding::Platform
    }

    /// Whether it may be used now by a buyer who used it `buyer_uses` times, on a spend of
    /// `spend` in `currency`.
    pub fn check(
        &self,
        buyer_uses: u32,
        spend: i64,
        currency: Currency,
        now: i64,
    ) -> Result<(), CouponError> {
        if currency != self.currency {
            return Err(CouponError::CurrencyMismatch {
                coupon: self.currency,
                checkout: currency,
            });
        }
        if now < self.starts_at {
            return Err(CouponError::NotStarted);
        }
        if now >= self.ends_at {
            return Err(CouponError::Expired);
        }
        if self.used >= self.total_limit {
            return Err(CouponError::Exhausted);
        }
        if buyer_uses >= self.per_buyer {
            return Err(CouponError::BuyerLimit);
        }
        if spend < self.min_spend {
            return Err(CouponError::BelowMinimum {
                min: self.min_spend,
                spend,
            });
        }
        Ok(())
    }

    /// What it takes off `price` (minor units): never all of it.
    pub fn amount_off(&self, price: i64) -> i64 {
        let off = match self.discount {
            Discount::Fixed(a) => a,
            Discount::Percent(bps) => {
                i64::try_from(i128::from(price) * i128::from(bps) / 10_000).unwrap_or(0)
            }
        };
        off.clamp(0, (price - 1).max(0))
    }

    /// One more use.
    pub fn used_once(&self) -> Coupon {
        Coupon {
            used: self.used + 1,
            ..self.clone()
        }
    }

    /// A use given back (its order cancelled, its payment failed): only while it is valid.
    pub fn given_back(&self, now: i64) -> Option<Coupon> {
        (now < self.ends_at && self.used > 0).then(|| Coupon {
            used: self.used - 1,
            ..self.clone()
        })
    }
}

/// Shares `discount` among orders priced `prices`, in proportion, by the largest remainder (the
/// shares add up to `discount` exactly; a tie goes to the earlier order).
pub fn allocate(discount: i64, prices: &[i64]) -> Vec<i64> {
    let total: i128 = prices.iter().map(|p| i128::from(*p)).sum();
    if total <= 0 {
        return vec![0; prices.len()];
    }
    let d = i128::from(discount);
    let mut shares: Vec<i64> = Vec::with_capacity(prices.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(prices.len());
    for (i, p) in prices.iter().enumerate() {
        let exact = d * i128::from(*p);
        shares.push(i64::try_from(exact / total).unwrap_or(0));
        remainders.push((exact % total, i));
    }
    let mut left = discount - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn coupon(discount: Discount) -> Coupon {
        Coupon {
            id: "cp_1".into(),
            code: "SPRING".into(),
            livemode: false,
            funding: Funding::Platform,
            discount,
            currency: Currency::parse("USD").unwrap(),
            min_spend: 1000,
            starts_at: 100,
            ends_at: 200,
            per_buyer: 1,
            total_limit: 2,
            used: 0,
            seller: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_discount_is_shared_in_proportion_and_adds_up() {
        assert_eq!(allocate(100, &[1, 1, 1]), [34, 33, 33]);
        assert_eq!(allocate(1000, &[5000, 3000, 2000]), [500, 300, 200]);
        assert_eq!(allocate(7, &[2500, 2500]), [4, 3]);
        assert_eq!(allocate(0, &[10, 20]), [0, 0]);
        assert_eq!(allocate(5, &[]), Vec::<i64>::new());
        for (d, prices) in [(999, vec![333, 1, 4999]), (1, vec![7, 7, 7, 7])] {
            assert_eq!(allocate(d, &prices).iter().sum::<i64>(), d);
        }
    }

    #[test]
    fn amounts_round_down_and_never_make_an_order_free() {
        assert_eq!(coupon(Discount::Percent(1000)).amount_off(1999), 199);
        assert_eq!(coupon(Discount::Percent(9999)).amount_off(100), 99);
        assert_eq!(coupon(Discount::Fixed(500)).amount_off(2000), 500);
        assert_eq!(coupon(Discount::Fixed(5000)).amount_off(2000), 1999);
        assert_eq!(coupon(Discount::Fixed(5000)).amount_off(1), 0);
    }

    #[test]
    fn each_rule_refuses_by_name() {
        let usd = Currency::parse("USD").unwrap();
        let eur = Currency::parse("EUR").unwrap();
        let c = coupon(Discount::Fixed(100));
        assert_eq!(c.check(0, 1000, usd, 150), Ok(()));
        assert_eq!(c.check(0, 1000, usd, 99), Err(CouponError::NotStarted));
        assert_eq!(c.check(0, 1000, usd, 200), Err(CouponError::Expired));
        assert_eq!(c.check(1, 1000, usd, 150), Err(CouponError::BuyerLimit));
        assert_eq!(
            c.check(0, 999, usd, 150),
            Err(CouponError::BelowMinimum {
                min: 1000,
                spend: 999
            })
        );
        assert!(matches!(
            c.check(0, 1000, eur, 150),
            Err(CouponError::CurrencyMismatch { .. })
        ));
        let spent = c.used_once().used_once();
        assert_eq!(spent.check(0, 1000, usd, 150), Err(CouponError::Exhausted));
        assert_eq!(spent.given_back(150).unwrap().used, 1);
        assert_eq!(spent.given_back(200), None, "not after it expired");
    }
}
