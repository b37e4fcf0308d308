//! Parties: the buyers and sellers of a marketplace, as objects with their own terms.
//!
//! A party's id is chosen by the platform (`buy_alice`, `sel_bob`) and becomes part of ledger
//! account ids such as `seller_payable:test:sel_bob:usd`, whose limit is 64 characters; so a
//! party id is 1 to 32 characters of `A-Za-z0-9_-`. A seller has a ship-by window (the marketplace
//! rule: 3 to 10 days, default 7) and may have its own commission. Everything is checked here, before
//! anything is stored.

use std::collections::BTreeMap;

use crate::ErrorCode;
use crate::money::{Currency, MAX_AMOUNT, Money};

pub const MAX_PARTY_ID_LEN: usize = 32;
pub const MAX_REGION_LEN: usize = 64;
pub const MAX_METADATA_KEYS: usize = 20;
pub const MAX_METADATA_KEY_LEN: usize = 40;
pub const MAX_METADATA_VALUE_LEN: usize = 500;
pub const SHIP_BY_DAYS_DEFAULT: u32 = 7;
pub const SHIP_BY_DAYS_MIN: u32 = 3;
pub const SHIP_BY_DAYS_MAX: u32 = 10;

/// Why a party was refused. Each variant names its code and the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartyError {
    #[error(
        "a party id is 1 to {MAX_PARTY_ID_LEN} characters of A-Z, a-z, 0-9, _ and -, got {0:?}"
    )]
    InvalidId(String),
    #[error("country is an ISO 3166-1 alpha-2 code in upper case, such as DE, got {0:?}")]
    InvalidCountry(String),
    #[error("region is at most {MAX_REGION_LEN} characters and not blank")]
    InvalidRegion,
    #[error(
        "metadata has at most {MAX_METADATA_KEYS} keys of 1 to {MAX_METADATA_KEY_LEN} characters, \
         with values of at most {MAX_METADATA_VALUE_LEN} characters"
    )]
    InvalidMetadata,
    #[error("ship_by_days is {SHIP_BY_DAYS_MIN} to {SHIP_BY_DAYS_MAX}, got {0}")]
    ShipByDaysOutOfRange(i64),
    #[error("commission basis_points is 0 to 10000, got {0}")]
    InvalidBasisPoints(i64),
    #[error("commission fixed amount is 0 to {MAX_AMOUNT} minor units, got {0}")]
    InvalidFixed(i64),
}

impl PartyError {
    pub fn code(&self) -> ErrorCode {
        match self {
            PartyError::InvalidId(_) => ErrorCode::InvalidPartyId,
            PartyError::InvalidCountry(_) => ErrorCode::InvalidCountry,
            PartyError::InvalidRegion => ErrorCode::InvalidRegion,
            PartyError::InvalidMetadata => ErrorCode::InvalidMetadata,
            PartyError::ShipByDaysOutOfRange(_) => ErrorCode::ShipByDaysOutOfRange,
            PartyError::InvalidBasisPoints(_) | PartyError::InvalidFixed(_) => {
                ErrorCode::InvalidCommission
            }
        }
    }

    /// The request parameter at fault.
    pub fn param(&self) -> &'static str {
        match self {
            PartyError::InvalidId(_) => "id",
            PartyError::InvalidCountry(_) => "country",
            PartyError::InvalidRegion => "region",
            PartyError::InvalidMetadata => "metadata",
            PartyError::ShipByDaysOutOfRange(_) => "ship_by_days",
            PartyError::InvalidBasisPoints(_) => "commission[basis_points]",
            PartyError::InvalidFixed(_) => "commission[fixed][amount]",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyKind {
    Buyer,
    Seller,
}

impl PartyKind {
    /// `buyer` or `seller`: the `object` of the API and the stored kind.
    pub fn code(self) -> &'static str {
        match self {
            PartyKind::Buyer => "buyer",
            PartyKind::Seller => "seller",
        }
    }

    pub fn from_code(code: &str) -> Option<PartyKind> {
        match code {
            "buyer" => Some(PartyKind::Buyer),
            "seller" => Some(PartyKind::Seller),
            _ => None,
        }
    }
}

/// A seller's own commission: a percentage in basis points plus an optional fixed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartyCommission {
    pub basis_points: u32,
    pub fixed: Option<Money>,
}

/// What only a seller has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerTerms {
    pub ship_by_days: u32,
    /// `None`: the policy's commission applies.
    pub commission: Option<PartyCommission>,
    /// The seller accepts cash on delivery (one of the rules that must pass to offer it).
    pub cash_on_delivery: bool,
}

/// A buyer or a seller of one mode. `seller` is `Some` exactly for sellers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub id: String,
    pub kind: PartyKind,
    pub livemode: bool,
    /// ms since the Unix epoch.
    pub created_at: i64,
    pub country: String,
    pub region: Option<String>,
    pub phone_verified: bool,
    pub metadata: BTreeMap<String, String>,
    pub seller: Option<SellerTerms>,
}

/// A party as asked for, not yet checked. Numbers are wide so that out-of-range values are
/// refused by name rather than by a type error.
#[derive(Debug, Clone, Default)]
pub struct PartyInput {
    pub id: String,
    pub country: String,
    pub region: Option<String>,
    pub phone_verified: bool,
    pub metadata: BTreeMap<String, String>,
    /// Sellers only; `None` means the default.
    pub ship_by_days: Option<i64>,
    /// Sellers only: basis points, and the fixed part (minor units, currency).
    pub commission: Option<(i64, Option<(i64, Currency)>)>,
    /// Sellers only: accepts cash on delivery.
    pub cash_on_delivery: bool,
}

/// Checks a party id: 1 to 32 characters of `A-Za-z0-9_-`.
pub fn check_id(id: &str) -> Result<(), PartyError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_PARTY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PartyError::InvalidId(id.to_string()))
    }
}

/// Checks the shape of an ISO 3166-1 alpha-2 code: two upper-case ASCII letters.
pub fn check_country(country: &str) -> Result<(), PartyError> {
    if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(PartyError::InvalidCountry(country.to_string()))
    }
}

/// Checks a ship-by window in days.
pub fn check_ship_by_days(days: i64) -> Result<u32, PartyError> {
    match u32::try_from(days) {
        Ok(d) if (SHIP_BY_DAYS_MIN..=SHIP_BY_DAYS_MAX).contains(&d) => Ok(d),
        _ => Err(PartyError::ShipByDaysOutOfRange(days)),
    }
}

/// Checks a commission: 0 to 10000 basis points, and a fixed part of 0 or more minor units.
pub fn check_commission(
    basis_points: i64,
    fixed: Option<(i64, Currency)>,
) -> Result<PartyCommission, PartyError> {
    let bps = u32::try_from(basis_points)
        .ok()
        .filter(|b| *b <= 10_000)
        .ok_or(PartyError::InvalidBasisPoints(basis_points))?;
    let fixed = match fixed {
        None => None,
        Some((amount, currency)) => Some(
            Money::from_minor(amount, currency).map_err(|_| PartyError::InvalidFixed(amount))?,
        ),
    };
    Ok(PartyCommission {
        basis_points: bps,
        fixed,
    })
}

fn check_metadata(metadata: &BTreeMap<String, String>) -> Result<(), PartyError> {
    let ok = metadata.len() <= MAX_METADATA_KEYS
        && metadata.iter().all(|(k, v)| {
            !k.is_empty()
                && k.chars().count() <= MAX_METADATA_KEY_LEN
                && v.chars().count() <= MAX_METADATA_VALUE_LEN
        });
    if ok {
        Ok(())
    } else {
        Err(PartyError::InvalidMetadata)
    }
}

impl Party {
    /// A new party of `kind` from what was asked, checked field by field (id first).
    pub fn new(
        kind: PartyKind,
        input: PartyInput,
        livemode: bool,
        now: i64,
    ) -> Result<Party, PartyError> {
        check_id(&input.id)?;
        check_country(&input.country)?;
        if let Some(r) = &input.region
            && (r.trim().is_empty() || r.chars().count() > MAX_REGION_LEN)
        {
            return Err(PartyError::InvalidRegion);
        }
        check_metadata(&input.metadata)?;
        let seller = match kind {
            PartyKind::Buyer => None,
            PartyKind::Seller => Some(SellerTerms {
                ship_by_days: match input.ship_by_days {
                    None => SHIP_BY_DAYS_DEFAULT,
                    Some(d) => check_ship_by_days(d)?,
                },
                commission: input
                    .commission
                    .map(|(bps, fixed)| check_commission(bps, fixed))
                    .transpose()?,
                cash_on_delivery: input.cash_on_delivery,
            }),
        };
        Ok(Party {
            id: input.id,
            kind,
            livemode,
            created_at: now,
            country: input.country,
            region: input.region,
            phone_verified: input.phone_verified,
            metadata: input.metadata,
            seller,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn input(id: &str) -> PartyInput {
        PartyInput {
            id: id.into(),
            country: "DE".into(),
            ..PartyInput::default()
        }
    }

    #[test]
    fn ids_are_1_to_32_safe_characters() {
        for good in ["a", "buy_alice", "sel-bob_2", &"x".repeat(32)] {
            assert_eq!(check_id(good), Ok(()), "{good}");
        }
        for bad in ["", &"x".repeat(33), "sel:bob", "sel bob", "sél", "a/b"] {
            assert_eq!(
                check_id(bad).unwrap_err().code(),
                ErrorCode::InvalidPartyId,
                "{bad}"
            );
        }
    }

    #[test]
    fn countries_are_two_upper_case_letters() {
        assert_eq!(check_country("BR"), Ok(()));
        for bad in ["br", "B", "BRA", "B1", "", "ÄÖ"] {
            assert_eq!(
                check_country(bad).unwrap_err().code(),
                ErrorCode::InvalidCountry
            );
        }
    }

    #[test]
    fn sellers_get_defaults_and_ranges_are_enforced() {
        let p = Party::new(PartyKind::Seller, input("sel_bob"), false, 5).unwrap();
        let terms = p.seller.unwrap();
        assert_eq!(terms.ship_by_days, 7);
        assert_eq!(terms.commission, None);
        assert_eq!(p.created_at, 5);
        for (days, ok) in [(2, false), (3, true), (10, true), (11, false), (-1, false)] {
            let got = Party::new(
                PartyKind::Seller,
                PartyInput {
                    ship_by_days: Some(days),
                    ..input("s")
                },
                false,
                0,
            );
            assert_eq!(got.is_ok(), ok, "{days}");
            if !ok {
                assert_eq!(got.unwrap_err().code(), ErrorCode::ShipByDaysOutOfRange);
            }
        }
        let buyer = Party::new(PartyKind::Buyer, input("b"), true, 0).unwrap();
        assert_eq!(buyer.seller, None);
    }

    #[test]
    fn commissions_are_checked() {
        let usd = Currency::parse("usd").unwrap();
        let c = check_commission(800, Some((30, usd))).unwrap();
        assert_eq!(c.basis_points, 800);
        assert_eq!(c.fixed.unwrap().minor(), 30);
        assert_eq!(check_commission(10_000, None).unwrap().fixed, None);
        for (bps, fixed) in [(10_001, None), (-1, None), (100, Some((-1, usd)))] {
            assert_eq!(
                check_commission(bps, fixed).unwrap_err().code(),
                ErrorCode::InvalidCommission
            );
        }
        assert_eq!(
            check_commission(100, Some((MAX_AMOUNT + 1, usd))).unwrap_err(),
            PartyError::InvalidFixed(MAX_AMOUNT + 1)
        );
    }

    #[test]
    fn regions_and_metadata_have_limits() {
        let long = PartyInput {
            region: Some("r".repeat(65)),
            ..input("b")
        };
        assert_eq!(
            Party::new(PartyKind::Buyer, long, false, 0).unwrap_err(),
            PartyError::InvalidRegion
        );
        let many: BTreeMap<String, String> =
            (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        let too_many = PartyInput {
            metadata: many,
            ..input("b")
        };
        assert_eq!(
            Party::new(PartyKind::Buyer, too_many, false, 0).unwrap_err(),
            PartyError::InvalidMetadata
        );
    }
}
