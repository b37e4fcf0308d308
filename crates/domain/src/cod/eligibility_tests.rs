#![allow(clippy::unwrap_used)]

use super::*;
use crate::cod::{Band, CountryRules};
use crate::money::Currency;
use crate::order::DAY;

fn sar(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("sar").unwrap()).unwrap()
}

const SPORTS: &[String] = &[];

fn passing() -> CodRequest<'static> {
    CodRequest {
        seller_opted_in: true,
        origin_country: "SA",
        country: "SA",
        region: Some("Riyadh"),
        categories: SPORTS,
        amount: sar(12_000),
        previous_orders: 3,
        refusals: 0,
        phone_verified: true,
        now: 1_795_219_200_000,
    }
}

fn policy() -> CodPolicy {
    let mut p = CodPolicy::default();
    if let Some(sa) = p.countries.get_mut("SA") {
        sa[0].regions_excluded = vec!["Empty Quarter".into()];
    }
    p
}

#[test]
fn all_rules_passing_offers_cash_on_delivery_with_the_fee() {
    let v = eligibility(&passing(), &policy());
    assert!(v.offered, "{v:?}");
    assert_eq!(v.fee, Some(sar(2_625)));
    assert_eq!(v.carrier.as_deref(), Some("gulf_express"));
    assert_eq!(v.rules.len(), Rule::ALL.len());
    let order: Vec<Rule> = v.rules.iter().map(|r| r.rule).collect();
    assert_eq!(order, Rule::ALL);
    assert!(v.rules.iter().all(|r| r.passed && !r.reason.is_empty()));
}

#[test]
fn each_rule_failing_alone_is_named_as_the_reason() {
    let cats = vec!["jewellery".to_string()];
    type Spoil = Box<dyn Fn(&mut CodRequest<'_>)>;
    let table: Vec<(Rule, &str, Spoil)> = vec![
        (
            Rule::SellerOptedIn,
            "seller_not_opted_in",
            Box::new(|r| r.seller_opted_in = false),
        ),
        (
            Rule::RegionSupported,
            "region_not_supported",
            Box::new(|r| r.region = Some("Empty Quarter")),
        ),
        (
            Rule::CategoryAllowed,
            "category_excluded",
            Box::new(move |r| r.categories = Box::leak(cats.clone().into_boxed_slice())),
        ),
        (
            Rule::ValueInBand,
            "below_minimum",
            Box::new(|r| r.amount = sar(4_876)),
        ),
        (
            Rule::ValueInBand,
            "above_maximum",
            Box::new(|r| {
                r.amount = sar(97_501);
                r.previous_orders = 1;
            }),
        ),
        (
            Rule::FirstOrderCap,
            "first_order_cap_exceeded",
            Box::new(|r| {
                r.previous_orders = 0;
                r.amount = sar(50_001);
            }),
        ),
        (
            Rule::RefusalHistory,
            "too_many_refusals",
            Box::new(|r| r.refusals = 2),
        ),
        (
            Rule::PhoneVerified,
            "phone_not_verified",
            Box::new(|r| r.phone_verified = false),
        ),
    ];
    for (rule, reason, spoil) in table {
        let mut req = passing();
        spoil(&mut req);
        let v = eligibility(&req, &policy());
        assert!(!v.offered, "{rule:?} should fail");
        assert_eq!(v.fee, None);
        let failed: Vec<(Rule, &str)> = v.failed().map(|r| (r.rule, r.reason)).collect();
        assert_eq!(failed, vec![(rule, reason)], "{rule:?}");
        assert_eq!(v.rules.len(), Rule::ALL.len(), "every rule is reported");
    }
}

#[test]
fn an_unsupported_country_fails_its_rule_and_says_what_was_compared() {
    let mut req = passing();
    req.country = "DE";
    let v = eligibility(&req, &policy());
    assert!(!v.offered);
    let failed: Vec<&str> = v.failed().map(|r| r.rule.code()).collect();
    // no rules in force there: no region rule, no carrier, no band to be in
    assert_eq!(
        failed,
        [
            "country_supported",
            "region_supported",
            "carrier_available",
            "value_in_band"
        ]
    );
    let country = &v.rules[1];
    assert_eq!(country.reason, "country_not_supported");
    assert!(
        country
            .compared
            .contains(&("country", Compared::Text("DE".into())))
    );
}

#[test]
fn a_route_without_a_cash_carrier_is_refused_by_name() {
    let mut p = policy();
    p.carriers[0].from = vec!["SA".into()];
    let mut req = passing();
    req.origin_country = "CN";
    let v = eligibility(&req, &p);
    let failed: Vec<(&str, &str)> = v.failed().map(|r| (r.rule.code(), r.reason)).collect();
    assert_eq!(failed, [("carrier_available", "no_cash_carrier_for_route")]);
}

#[test]
fn the_band_compares_in_the_countrys_currency() {
    let mut req = passing();
    req.amount = Money::from_minor(12_000, Currency::parse("usd").unwrap()).unwrap();
    let v = eligibility(&req, &policy());
    let band = v
        .rules
        .iter()
        .find(|r| r.rule == Rule::ValueInBand)
        .unwrap();
    assert_eq!(
        (band.passed, band.reason),
        (false, "currency_not_collected")
    );
    assert!(band.compared.contains(&("min", Compared::Int(4_877))));
    assert!(band.compared.contains(&("max", Compared::Int(97_500))));
}

#[test]
fn rules_take_effect_on_their_date() {
    let mut p = policy();
    let from = passing().now + DAY;
    let stricter = CountryRules {
        effective_from: from,
        band: Band {
            min: 4_877,
            max: 10_000,
        },
        ..p.countries["SA"][0].clone()
    };
    p.countries.get_mut("SA").unwrap().push(stricter);
    let before = eligibility(&passing(), &p);
    assert!(before.offered);
    assert_eq!(before.effective_from, Some(0));
    let mut later = passing();
    later.now = from;
    let after = eligibility(&later, &p);
    let failed: Vec<&str> = after.failed().map(|r| r.reason).collect();
    assert_eq!(failed, ["above_maximum"]);
    assert_eq!(after.effective_from, Some(from));
}

#[test]
fn the_limits_are_inclusive() {
    for (amount, ok) in [
        (4_877, true),
        (4_876, false),
        (97_500, true),
        (97_501, false),
    ] {
        let mut req = passing();
        req.amount = sar(amount);
        assert_eq!(eligibility(&req, &policy()).offered, ok, "{amount}");
    }
    let mut first = passing();
    first.previous_orders = 0;
    first.amount = sar(50_000);
    assert!(eligibility(&first, &policy()).offered);
    let mut one_short = passing();
    one_short.refusals = 1;
    assert!(eligibility(&one_short, &policy()).offered);
}
