//! Whether a buyer may pay a seller's order at the door, and why.
//!
//! Every rule is evaluated, even after one has failed, and each answers with a reason code and
//! the values it compared. Cash on delivery is offered only when all of them pass:
//!
//! | rule | passes when |
//! |---|---|
//! | `seller_opted_in` | the seller accepts cash on delivery |
//! | `country_supported` | the buyer's country has rules in force on the day |
//! | `region_supported` | the buyer's region is not excluded there |
//! | `carrier_available` | a carrier collects cash in that country and carries from the seller's |
//! | `category_allowed` | no item is in a category the country excludes |
//! | `value_in_band` | the order is in the country's currency, within its band |
//! | `first_order_cap` | a buyer with no earlier order stays within the first-order cap |
//! | `refusal_history` | the buyer refused fewer parcels than the limit within the window |
//! | `phone_verified` | the buyer's phone was verified by a one-time code |

use crate::money::Money;

use super::policy::CodPolicy;

/// The rules, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    SellerOptedIn,
    CountrySupported,
    RegionSupported,
    CarrierAvailable,
    CategoryAllowed,
    ValueInBand,
    FirstOrderCap,
    RefusalHistory,
    PhoneVerified,
}

impl Rule {
    pub const ALL: [Rule; 9] = [
        Rule::SellerOptedIn,
        Rule::CountrySupported,
        Rule::RegionSupported,
        Rule::CarrierAvailable,
        Rule::CategoryAllowed,
        Rule::ValueInBand,
        Rule::FirstOrderCap,
        Rule::RefusalHistory,
        Rule::PhoneVerified,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Rule::SellerOptedIn => "seller_opted_in",
            Rule::CountrySupported => "country_supported",
            Rule::RegionSupported => "region_supported",
            Rule::CarrierAvailable => "carrier_available",
            Rule::CategoryAllowed => "category_allowed",
            Rule::ValueInBand => "value_in_band",
            Rule::FirstOrderCap => "first_order_cap",
            Rule::RefusalHistory => "refusal_history",
            Rule::PhoneVerified => "phone_verified",
        }
    }
}

/// A value a rule compared, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compared {
    Int(i64),
    Text(String),
    Bool(bool),
    Texts(Vec<String>),
    Missing,
}

/// One rule's answer: whether it passed, why (a code), and what it compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResult {
    pub rule: Rule,
    pub passed: bool,
    pub reason: &'static str,
    pub compared: Vec<(&'static str, Compared)>,
}

/// What eligibility is asked about: the order, the two parties and the buyer's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodRequest<'a> {
    pub seller_opted_in: bool,
    /// Where the seller ships from, and where the buyer is (ISO 3166-1 alpha-2).
    pub origin_country: &'a str,
    pub country: &'a str,
    pub region: Option<&'a str>,
    /// The categories of the items ordered.
    pub categories: &'a [String],
    /// The order's value, before the fee.
    pub amount: Money,
    /// The buyer's earlier orders (any method); 0 makes this a first order.
    pub previous_orders: u32,
    /// Cash-on-delivery parcels the buyer refused within the policy's window.
    pub refusals: u32,
    pub phone_verified: bool,
    pub now: i64,
}

/// The answer: offered or not, the fee and carrier when offered, and every rule's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub offered: bool,
    pub fee: Option<Money>,
    pub carrier: Option<String>,
    /// When the country's rules in force took effect (ms).
    pub effective_from: Option<i64>,
    pub rules: Vec<RuleResult>,
}

impl Verdict {
    /// The rules that failed, in report order.
    pub fn failed(&self) -> impl Iterator<Item = &RuleResult> {
        self.rules.iter().filter(|r| !r.passed)
    }
}

fn result(
    rule: Rule,
    passed: bool,
    (ok, no): (&'static str, &'static str),
    compared: Vec<(&'static str, Compared)>,
) -> RuleResult {
    RuleResult {
        rule,
        passed,
        reason: if passed { ok } else { no },
        compared,
    }
}

/// Evaluates every rule for `req` under `policy`.
pub fn eligibility(req: &CodRequest<'_>, policy: &CodPolicy) -> Verdict {
    use Compared::{Bool, Int, Missing, Text, Texts};
    let rules = policy.rules_on(req.country, req.now);
    let text = |s: &str| Text(s.to_string());
    let mut out = Vec::with_capacity(Rule::ALL.len());

    out.push(result(
        Rule::SellerOptedIn,
        req.seller_opted_in,
        ("seller_accepts_cash", "seller_not_opted_in"),
        vec![("seller_opted_in", Bool(req.seller_opted_in))],
    ));
    out.push(result(
        Rule::CountrySupported,
        rules.is_some(),
        ("country_supported", "country_not_supported"),
        vec![
            ("country", text(req.country)),
            (
                "supported_countries",
                Texts(policy.countries.keys().cloned().collect()),
            ),
        ],
    ));
    let excluded_regions = rules
        .map(|r| r.regions_excluded.clone())
        .unwrap_or_default();
    let region_ok = rules.is_some()
        && req
            .region
            .is_none_or(|region| !excluded_regions.iter().any(|x| x == region));
    out.push(result(
        Rule::RegionSupported,
        region_ok,
        ("region_supported", "region_not_supported"),
        vec![
            ("region", req.region.map_or(Missing, text)),
            ("excluded_regions", Texts(excluded_regions)),
        ],
    ));
    let carrier = policy
        .carriers
        .iter()
        .find(|c| c.serves(req.origin_country, req.country));
    out.push(result(
        Rule::CarrierAvailable,
        carrier.is_some(),
        ("carrier_collects_cash", "no_cash_carrier_for_route"),
        vec![
            ("origin_country", text(req.origin_country)),
            ("country", text(req.country)),
            ("carrier", carrier.map_or(Missing, |c| text(&c.id))),
        ],
    ));
    let excluded_categories = rules
        .map(|r| r.categories_excluded.clone())
        .unwrap_or_default();
    let hit: Vec<String> = req
        .categories
        .iter()
        .filter(|c| excluded_categories.contains(c))
        .cloned()
        .collect();
    out.push(result(
        Rule::CategoryAllowed,
        hit.is_empty(),
        ("no_excluded_category", "category_excluded"),
        vec![
            ("categories", Texts(req.categories.to_vec())),
            ("excluded_categories", Texts(excluded_categories)),
        ],
    ));
    let amount = req.amount.minor();
    let currency = req.amount.currency();
    let mut band = vec![
        ("amount", Int(amount)),
        ("currency", text(&currency.code().to_ascii_lowercase())),
    ];
    let band_reason = match rules {
        None => ("value_in_band", "country_not_supported"),
        Some(r) => {
            band.push(("min", Int(r.band.min)));
            band.push(("max", Int(r.band.max)));
            band.push((
                "band_currency",
                text(&r.currency.code().to_ascii_lowercase()),
            ));
            if r.currency != currency {
                ("value_in_band", "currency_not_collected")
            } else if amount < r.band.min {
                ("value_in_band", "below_minimum")
            } else if amount > r.band.max {
                ("value_in_band", "above_maximum")
            } else {
                ("value_in_band", "")
            }
        }
    };
    let in_band = band_reason.1.is_empty();
    out.push(result(Rule::ValueInBand, in_band, band_reason, band));
    let first = req.previous_orders == 0;
    let cap = rules.map(|r| r.first_order_max);
    let cap_ok = !first || cap.is_some_and(|cap| amount <= cap);
    out.push(result(
        Rule::FirstOrderCap,
        cap_ok,
        (
            if first {
                "within_first_order_cap"
            } else {
                "returning_buyer"
            },
            "first_order_cap_exceeded",
        ),
        vec![
            ("previous_orders", Int(i64::from(req.previous_orders))),
            ("amount", Int(amount)),
            ("first_order_max", cap.map_or(Missing, Int)),
        ],
    ));
    out.push(result(
        Rule::RefusalHistory,
        req.refusals < policy.max_refusals,
        ("refusals_below_limit", "too_many_refusals"),
        vec![
            ("refusals", Int(i64::from(req.refusals))),
            ("max_refusals", Int(i64::from(policy.max_refusals))),
            (
                "window_days",
                Int(policy.refusal_window_ms / crate::order::DAY),
            ),
        ],
    ));
    out.push(result(
        Rule::PhoneVerified,
        req.phone_verified,
        ("phone_verified", "phone_not_verified"),
        vec![("phone_verified", Bool(req.phone_verified))],
    ));

    let offered = out.iter().all(|r| r.passed);
    let fee = rules
        .filter(|_| offered)
        .and_then(|r| Money::from_minor(r.fee, r.currency).ok());
    Verdict {
        offered,
        fee,
        carrier: carrier.filter(|_| offered).map(|c| c.id.clone()),
        effective_from: rules.map(|r| r.effective_from),
        rules: out,
    }
}

#[cfg(test)]
#[path = "eligibility_tests.rs"]
mod tests;
