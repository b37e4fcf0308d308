//! The rules of cash on delivery as data: per country, each set of rules with the day it takes
//! effect (a value band can change with the law), the carriers that collect cash and where, and
//! the limits on a buyer's risk.

use std::collections::BTreeMap;

use crate::money::Currency;
use crate::order::{DAY, HOUR};

/// The order values a country allows cash on delivery for, in its currency (minor units, both
/// ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub min: i64,
    pub max: i64,
}

/// One country's rules from `effective_from` (ms) until a later set replaces them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryRules {
    pub effective_from: i64,
    pub currency: Currency,
    pub band: Band,
    /// A buyer with no earlier order may order at most this by cash on delivery.
    pub first_order_max: i64,
    /// The fee the buyer pays for paying at the door (minor units of `currency`).
    pub fee: i64,
    /// What a parcel's return to origin costs (charged as `rto_payer` says).
    pub rto_cost: i64,
    /// Regions of the country where no carrier collects cash (as the party's `region`).
    pub regions_excluded: Vec<String>,
    /// Product categories never sold for cash at the door here.
    pub categories_excluded: Vec<String>,
}

/// A carrier that collects cash: in which destination countries, and from which origin
/// countries it carries (empty: from anywhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodCarrier {
    pub id: String,
    pub collects_in: Vec<String>,
    pub from: Vec<String>,
}

impl CodCarrier {
    pub fn serves(&self, origin: &str, destination: &str) -> bool {
        self.collects_in.iter().any(|c| c == destination)
            && (self.from.is_empty() || self.from.iter().any(|c| c == origin))
    }
}

/// Who pays for a refused or undeliverable parcel's trip back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtoPayer {
    /// Recorded as the buyer's debt to the platform.
    Buyer,
    /// Taken from the seller (its payable, or recorded as its debt).
    Seller,
    /// The platform bears it.
    Platform,
}

impl RtoPayer {
    pub fn code(self) -> &'static str {
        match self {
            RtoPayer::Buyer => "buyer",
            RtoPayer::Seller => "seller",
            RtoPayer::Platform => "platform",
        }
    }

    pub fn parse(code: &str) -> Option<RtoPayer> {
        [RtoPayer::Buyer, RtoPayer::Seller, RtoPayer::Platform]
            .into_iter()
            .find(|p| p.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodPolicy {
    /// Per country (ISO 3166-1 alpha-2), its rule sets, oldest first.
    pub countries: BTreeMap<String, Vec<CountryRules>>,
    pub carriers: Vec<CodCarrier>,
    /// A buyer with this many refused parcels within `refusal_window_ms` is not offered cash on
    /// delivery.
    pub max_refusals: u32,
    pub refusal_window_ms: i64,
    /// The buyer confirms a cash-on-delivery order within this, or it is cancelled.
    pub confirm_within_ms: i64,
    pub rto_payer: RtoPayer,
    /// A phone verification code is good for this long ...
    pub code_ttl_ms: i64,
    /// ... and for this many wrong tries.
    pub code_attempts: u32,
}

impl CodPolicy {
    /// The rules of `country` in force at `now`: the latest set that took effect by then.
    pub fn rules_on(&self, country: &str, now: i64) -> Option<&CountryRules> {
        self.countries
            .get(country)?
            .iter()
            .filter(|r| r.effective_from <= now)
            .max_by_key(|r| r.effective_from)
    }
}

impl Default for CodPolicy {
    /// Saudi Arabia and the United Arab Emirates, collected by one carrier, `gulf_express`.
    /// The fee is about USD 7 in each currency.
    fn default() -> Self {
        let sa = CountryRules {
            effective_from: 0,
            currency: Currency::iso(iso_currency::Currency::SAR),
            band: Band {
                min: 4_877,
                max: 97_500,
            },
            first_order_max: 50_000,
            fee: 2_625,
            rto_cost: 2_500,
            regions_excluded: vec![],
            categories_excluded: vec!["gift_cards".into(), "jewellery".into()],
        };
        let ae = CountryRules {
            effective_from: 0,
            currency: Currency::iso(iso_currency::Currency::AED),
            band: Band {
                min: 2_000,
                max: 300_000,
            },
            first_order_max: 100_000,
            fee: 2_570,
            rto_cost: 2_000,
            regions_excluded: vec![],
            categories_excluded: vec!["gift_cards".into()],
        };
        CodPolicy {
            countries: BTreeMap::from([("SA".into(), vec![sa]), ("AE".into(), vec![ae])]),
            carriers: vec![CodCarrier {
                id: "gulf_express".into(),
                collects_in: vec!["SA".into(), "AE".into()],
                from: vec![],
            }],
            max_refusals: 2,
            refusal_window_ms: 180 * DAY,
            confirm_within_ms: 48 * HOUR,
            rto_payer: RtoPayer::Buyer,
            code_ttl_ms: 10 * 60_000,
            code_attempts: 5,
        }
    }
}
