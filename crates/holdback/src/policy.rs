//! The policy file (TOML): order timings, the default commission, per-seller commission,
//! `allow_private_webhook_addresses` (live webhook endpoints on private addresses),
//! `[limits]` (the most one checkout may charge, per currency), `[evidence]` (the sizes and
//! counts of dispute evidence files), `[disputes]` (the timings of disputes), and
//! `[guarantee_by_country]` (delivery guarantees per destination country), and `[gift_cards]`
//! (how long cards stay valid, and the guards against guessing codes), and `[refund_routing]`
//! (how refunds are shared among a payment's tenders, and which go to the buyer's balance), and
//! `[cod]` with `[carrier_profiles]` (cash on delivery: see `policy_cod`).

use std::collections::{BTreeMap, HashMap};

use holdback_app::{Policy, SellerPolicy};
use holdback_domain::order::{CommissionRule, OrderPolicy};
use holdback_domain::payment::Method;
use holdback_domain::tender::RefundOrder;
use holdback_domain::{Currency, Money};
use serde::Deserialize;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const MIB: u64 = 1024 * 1024;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    order: Timings,
    commission: Option<CommissionFile>,
    #[serde(default)]
    sellers: HashMap<String, SellerFile>,
    #[serde(default)]
    shipping: HashMap<String, ShippingFile>,
    /// Lets live webhook endpoints be http and point at private and loopback addresses.
    #[serde(default)]
    allow_private_webhook_addresses: bool,
    #[serde(default)]
    limits: LimitsFile,
    /// `[guarantee_by_country]`: `RU = 90`, the delivery guarantee in days to a buyer in that
    /// country, replacing the shipping method's (a country left out keeps its default).
    #[serde(default)]
    guarantee_by_country: BTreeMap<String, u32>,
    #[serde(default)]
    evidence: EvidenceFile,
    #[serde(default)]
    disputes: DisputesFile,
    #[serde(default)]
    gift_cards: GiftCardsFile,
    #[serde(default)]
    refund_routing: RoutingFile,
    /// `[cod]`: see `policy_cod`.
    #[serde(default)]
    cod: crate::policy_cod::CodFile,
    /// `[carrier_profiles]`: `name = "path/to/profile.toml"`.
    #[serde(default)]
    carrier_profiles: BTreeMap<String, String>,
}

/// `[refund_routing]`: which tenders a refund comes out of first (`stored_value_last`, the
/// default, or `stored_value_first`), the provider methods whose refunds go to the buyer's
/// balance instead, and whether an expired card's refund does.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    order: Option<String>,
    #[serde(default)]
    to_balance: Vec<String>,
    #[serde(default)]
    expired_cards_to_balance: bool,
}

/// `[gift_cards]`: how long an issued card stays valid (days), the wrong codes in a row that
/// lock a caller out and for how long (minutes), and the checks a client may make a minute.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GiftCardsFile {
    valid_days: Option<u32>,
    max_failures: Option<u32>,
    lockout_minutes: Option<u32>,
    checks_per_minute: Option<u32>,
}

/// `[disputes]`: the timings of disputes in days (see `DisputePolicy`), and the most a
/// counterfeit outcome may give back, as a multiple of the price.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DisputesFile {
    opens_after_shipment_days: Option<u32>,
    window_after_completion_days: Option<u32>,
    seller_answer_days: Option<u32>,
    escalate_after_days: Option<u32>,
    auto_escalate_days: Option<u32>,
    mediation_sla_days: Option<u32>,
    return_ship_days: Option<u32>,
    return_refund_days: Option<u32>,
    counterfeit_multiple: Option<u32>,
}

/// `[evidence]`: the largest file and video (MiB), and per dispute the most MiB and files.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EvidenceFile {
    max_file_mib: Option<u64>,
    max_video_mib: Option<u64>,
    max_dispute_mib: Option<u64>,
    max_dispute_files: Option<u64>,
}

/// `[limits]`: `checkout_max = { usd = 1000000 }`, the most one checkout may charge in minor
/// units, per currency (a currency left out keeps its default).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    #[serde(default)]
    checkout_max: BTreeMap<String, i64>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct ShippingFile {
    guarantee_days: u32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Timings {
    ship_by_days: Option<u32>,
    cancel_answer_hours: Option<u32>,
    after_delivery_days: Option<u32>,
    buyer_extension_days: Option<u32>,
    seller_extension_max_days: Option<u32>,
}

/// A commission: basis points, and fixed parts in minor units per currency
/// (`fixed = { usd = 30, eur = 25 }`); an order takes the fixed part of its own currency.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct CommissionFile {
    basis_points: u32,
    #[serde(default)]
    fixed: BTreeMap<String, i64>,
}

impl CommissionFile {
    fn check(&self, whose: &str) -> anyhow::Result<CommissionRule> {
        anyhow::ensure!(
            self.basis_points <= 10_000,
            "policy file: commission of {whose}: basis_points must be 0..=10000"
        );
        let mut fixed = Vec::new();
        for (currency, minor) in &self.fixed {
            let c = Currency::parse(currency).map_err(|e| {
                anyhow::anyhow!("policy file: commission of {whose}: fixed {currency}: {e}")
            })?;
            anyhow::ensure!(
                *minor >= 0,
                "policy file: commission of {whose}: a fixed part is not negative"
            );
            fixed.push(Money::from_minor(*minor, c)?);
        }
        Ok(CommissionRule {
            basis_points: self.basis_points,
            fixed,
        })
    }
}

/// A seller's own terms: ship-by days (3–10) and commission.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct SellerFile {
    ship_by_days: Option<u32>,
    commission: Option<CommissionFile>,
}

/// Parses a policy file's text onto the defaults.
pub fn parse(text: &str) -> anyhow::Result<Policy> {
    let file: File = toml::from_str(text).map_err(|e| anyhow::anyhow!("policy file: {e}"))?;
    let mut order = OrderPolicy::default();
    let t = &file.order;
    let set = |slot: &mut i64,
               value: Option<u32>,
               unit: i64,
               range: std::ops::RangeInclusive<u32>,
               name: &str| {
        if let Some(v) = value {
            anyhow::ensure!(
                range.contains(&v),
                "policy file: {name} must be in {range:?}"
            );
            *slot = i64::from(v) * unit;
        }
        Ok(())
    };
    set(
        &mut order.cancel_answer,
        t.cancel_answer_hours,
        HOUR,
        1..=720,
        "cancel_answer_hours",
    )?;
    set(
        &mut order.after_delivery,
        t.after_delivery_days,
        DAY,
        1..=365,
        "after_delivery_days",
    )?;
    set(
        &mut order.buyer_extension,
        t.buyer_extension_days,
        DAY,
        1..=30,
        "buyer_extension_days",
    )?;
    order.buyer_extension_window = order.buyer_extension;
    set(
        &mut order.seller_extension_max,
        t.seller_extension_max_days,
        DAY,
        0..=365,
        "seller_extension_max_days",
    )?;
    use holdback_domain::party::{SHIP_BY_DAYS_MAX, SHIP_BY_DAYS_MIN};
    let ship_by_range = SHIP_BY_DAYS_MIN..=SHIP_BY_DAYS_MAX;
    let ship_by = |days: Option<u32>, whose: &str| -> anyhow::Result<Option<u32>> {
        if let Some(d) = days {
            anyhow::ensure!(
                ship_by_range.contains(&d),
                "policy file: ship_by_days of {whose} must be in {ship_by_range:?}"
            );
        }
        Ok(days)
    };
    let mut policy = Policy {
        order,
        allow_private_webhook_addresses: file.allow_private_webhook_addresses,
        ..Policy::default()
    };
    if let Some(d) = ship_by(t.ship_by_days, "the marketplace")? {
        policy.ship_by_days = d;
    }
    if let Some(c) = &file.commission {
        policy.commission = c.check("the marketplace")?;
    }
    for (seller, terms) in file.sellers {
        anyhow::ensure!(
            holdback_domain::AccountId::parse(&seller).is_ok()
                && seller.len() <= holdback_app::checkout::MAX_PARTY_ID,
            "policy file: invalid seller id {seller:?}"
        );
        let commission = terms
            .commission
            .as_ref()
            .map(|c| c.check(&seller))
            .transpose()?;
        let ship_by_days = ship_by(terms.ship_by_days, &seller)?;
        policy.sellers.insert(
            seller,
            SellerPolicy {
                commission,
                ship_by_days,
            },
        );
    }
    for (currency, max) in &file.limits.checkout_max {
        let c = Currency::parse(currency)
            .map_err(|e| anyhow::anyhow!("policy file: limits.checkout_max.{currency}: {e}"))?;
        anyhow::ensure!(
            (1..=holdback_domain::MAX_AMOUNT).contains(max),
            "policy file: limits.checkout_max.{currency} must be 1..={}",
            holdback_domain::MAX_AMOUNT
        );
        policy.checkout_max.insert(c, *max);
    }
    let e = &file.evidence;
    let limits = &mut policy.evidence;
    for (slot, value, unit, range, name) in [
        (
            &mut limits.max_file_bytes,
            e.max_file_mib,
            MIB,
            1..=1024,
            "max_file_mib",
        ),
        (
            &mut limits.max_video_bytes,
            e.max_video_mib,
            MIB,
            1..=4096,
            "max_video_mib",
        ),
        (
            &mut limits.max_dispute_bytes,
            e.max_dispute_mib,
            MIB,
            1..=65_536,
            "max_dispute_mib",
        ),
        (
            &mut limits.max_dispute_files,
            e.max_dispute_files,
            1,
            1..=1000,
            "max_dispute_files",
        ),
    ] {
        if let Some(v) = value {
            anyhow::ensure!(
                range.contains(&v),
                "policy file: evidence.{name} must be in {range:?}"
            );
            *slot = v * unit;
        }
    }
    let d = &file.disputes;
    let timings = &mut policy.disputes;
    for (slot, value, range, name) in [
        (
            &mut timings.opens_after_shipment,
            d.opens_after_shipment_days,
            0..=365,
            "opens_after_shipment_days",
        ),
        (
            &mut timings.window_after_completion,
            d.window_after_completion_days,
            1..=365,
            "window_after_completion_days",
        ),
        (
            &mut timings.seller_answer,
            d.seller_answer_days,
            1..=60,
            "seller_answer_days",
        ),
        (
            &mut timings.escalate_after,
            d.escalate_after_days,
            0..=60,
            "escalate_after_days",
        ),
        (
            &mut timings.auto_escalate,
            d.auto_escalate_days,
            1..=120,
            "auto_escalate_days",
        ),
        (
            &mut timings.mediation_sla,
            d.mediation_sla_days,
            1..=120,
            "mediation_sla_days",
        ),
        (
            &mut timings.return_ship,
            d.return_ship_days,
            1..=60,
            "return_ship_days",
        ),
        (
            &mut timings.return_refund,
            d.return_refund_days,
            1..=120,
            "return_refund_days",
        ),
    ] {
        if let Some(v) = value {
            anyhow::ensure!(
                range.contains(&v),
                "policy file: disputes.{name} must be in {range:?}"
            );
            *slot = i64::from(v) * DAY;
        }
    }
    if let Some(m) = d.counterfeit_multiple {
        anyhow::ensure!(
            (1..=10).contains(&m),
            "policy file: disputes.counterfeit_multiple must be in 1..=10"
        );
        timings.counterfeit_multiple = i64::from(m);
    }
    let r = &file.refund_routing;
    let routing = &mut policy.refund_routing;
    routing.order = match r.order.as_deref() {
        None | Some("stored_value_last") => RefundOrder::StoredValueLast,
        Some("stored_value_first") => RefundOrder::StoredValueFirst,
        Some(other) => anyhow::bail!(
            "policy file: refund_routing.order is stored_value_last or stored_value_first, not {other:?}"
        ),
    };
    for code in &r.to_balance {
        match Method::parse(code) {
            Some(m) if !m.is_stored_value() => routing.to_balance.push(m),
            _ => anyhow::bail!(
                "policy file: refund_routing.to_balance names provider methods (card, \
                 bank_transfer, alipay, paypal, wechat_pay, webmoney), not {code:?}"
            ),
        }
    }
    routing.expired_cards_to_balance = r.expired_cards_to_balance;
    let g = &file.gift_cards;
    let cards = &mut policy.gift_cards;
    if let Some(days) = g.valid_days {
        anyhow::ensure!(
            (1..=3650).contains(&days),
            "policy file: gift_cards.valid_days must be in 1..=3650"
        );
        cards.valid_ms = i64::from(days) * DAY;
    }
    if let Some(n) = g.max_failures {
        anyhow::ensure!(
            (1..=100).contains(&n),
            "policy file: gift_cards.max_failures must be in 1..=100"
        );
        cards.max_failures = i64::from(n);
    }
    if let Some(m) = g.lockout_minutes {
        anyhow::ensure!(
            (1..=10_080).contains(&m),
            "policy file: gift_cards.lockout_minutes must be in 1..=10080"
        );
        cards.lockout_ms = i64::from(m) * 60_000;
    }
    if let Some(n) = g.checks_per_minute {
        anyhow::ensure!(
            (1..=10_000).contains(&n),
            "policy file: gift_cards.checks_per_minute must be in 1..=10000"
        );
        cards.checks_per_minute = n;
    }
    for (country, days) in &file.guarantee_by_country {
        holdback_domain::party::check_country(country)
            .map_err(|e| anyhow::anyhow!("policy file: guarantee_by_country: {e}"))?;
        anyhow::ensure!(
            (1..=365).contains(days),
            "policy file: guarantee_by_country.{country} must be in 1..=365"
        );
        policy
            .delivery_guarantees
            .by_country
            .insert(country.clone(), i64::from(*days) * DAY);
    }
    crate::policy_cod::apply(&file.cod, &file.carrier_profiles, &mut policy)?;
    for (method, m) in file.shipping {
        holdback_domain::AccountId::parse(&method)?;
        anyhow::ensure!(
            (1..=365).contains(&m.guarantee_days),
            "policy file: shipping {method}: guarantee_days must be in 1..=365"
        );
        policy
            .shipping
            .insert(method, i64::from(m.guarantee_days) * DAY);
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use holdback_domain::order::Commission;

    #[test]
    fn the_example_file_loads() {
        let text = include_str!("../../../policy.example.toml");
        let p = parse(text).unwrap();
        assert_eq!(
            p.order,
            OrderPolicy::default(),
            "the example states the defaults"
        );
        let usd = Currency::parse("USD").unwrap();
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(
            p.commission("sel_carol", usd),
            Commission {
                basis_points: 800,
                fixed_minor: 30
            }
        );
        assert_eq!(
            p.commission("sel_carol", eur),
            Commission {
                basis_points: 800,
                fixed_minor: 0
            },
            "a fixed part applies only in its own currency"
        );
        assert_eq!(
            p.commission("sel_bob", usd),
            Commission {
                basis_points: 500,
                fixed_minor: 0
            }
        );
        assert_eq!(p.ship_by_ms("sel_carol"), 5 * DAY);
        assert_eq!(p.ship_by_ms("sel_bob"), 7 * DAY);
        assert!(
            !p.allow_private_webhook_addresses,
            "the example keeps the default: off"
        );
        let allowing = parse("allow_private_webhook_addresses = true").unwrap();
        assert!(allowing.allow_private_webhook_addresses);
        assert_eq!(
            p.evidence,
            Policy::default().evidence,
            "the example states the defaults"
        );
        let evidence = parse("[evidence]\nmax_file_mib = 2\nmax_dispute_files = 5").unwrap();
        assert_eq!(evidence.evidence.max_file_bytes, 2 * MIB);
        assert_eq!(evidence.evidence.max_dispute_files, 5);
        assert_eq!(
            evidence.evidence.max_video_bytes,
            50 * MIB,
            "others keep their default"
        );
        for bad in ["[evidence]\nmax_file_mib = 0", "[evidence]\nmax_files = 3"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // the example states the gift cards' and refund routing's defaults
        assert_eq!(p.refund_routing, Policy::default().refund_routing);
        assert_eq!(
            p.gift_cards.lockout_ms,
            Policy::default().gift_cards.lockout_ms
        );
        let routed = parse(
            "[refund_routing]\norder = \"stored_value_first\"\nto_balance = [\"bank_transfer\"]\n\
             expired_cards_to_balance = true\n[gift_cards]\nlockout_minutes = 5",
        )
        .unwrap();
        assert_eq!(
            routed.refund_routing.to_balance,
            [holdback_domain::payment::Method::BankTransfer]
        );
        assert!(routed.refund_routing.expired_cards_to_balance);
        assert_eq!(routed.gift_cards.lockout_ms, 5 * 60_000);
        // the example states the dispute timings' defaults; a file may shorten them
        assert_eq!(p.disputes, Policy::default().disputes);
        let quick =
            parse("[disputes]\nopens_after_shipment_days = 0\nseller_answer_days = 2").unwrap();
        assert_eq!(quick.disputes.opens_after_shipment, 0);
        assert_eq!(quick.disputes.seller_answer, 2 * DAY);
        assert_eq!(
            quick.disputes.mediation_sla,
            Policy::default().disputes.mediation_sla
        );
        for bad in [
            "[disputes]\nseller_answer_days = 0",
            "[disputes]\ncounterfeit_multiple = 11",
            "[disputes]\nanswer_days = 3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // the example states the default checkout limits of USD and EUR
        assert_eq!(p.checkout_max, Policy::default().checkout_max);
        let limited = parse("[limits]\ncheckout_max = { jpy = 50000 }").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(limited.checkout_max[&jpy], 50_000);
        assert_eq!(
            limited.checkout_max[&usd], 1_000_000,
            "others keep their default"
        );
        // the example states the default guarantees per country
        assert_eq!(p.delivery_guarantees, Policy::default().delivery_guarantees);
        let de = parse("[guarantee_by_country]\nDE = 20").unwrap();
        assert_eq!(
            de.delivery_guarantees.window(30 * DAY, Some("DE")),
            20 * DAY
        );
        assert_eq!(
            de.delivery_guarantees.window(30 * DAY, Some("RU")),
            90 * DAY
        );
        for bad in [
            "[guarantee_by_country]\nde = 20",
            "[guarantee_by_country]\nDE = 0",
            "[limits]\ncheckout_max = { xyz = 5 }",
            "[limits]\ncheckout_max = { usd = 0 }",
            "[limits]\nmax = 5",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_files_are_refused_by_name() {
        for (text, says) in [
            ("[order]\nship_by_days = 2", "ship_by_days"),
            ("[order]\ndelivery_guarantee_days = 30", "unknown field"),
            (
                "[sellers.sel_x]\nship_by_days = 11",
                "ship_by_days of sel_x",
            ),
            (
                "[commission]\nbasis_points = 1\nfixed = { usd = -1 }",
                "not negative",
            ),
            (
                "[commission]\nbasis_points = 1\nfixed = { xyz = 1 }",
                "fixed xyz",
            ),
            ("[order]\nshipby = 3", "unknown field"),
            ("[commission]\nbasis_points = 20000", "basis_points"),
            ("[sellers.\"bad id\"]\nship_by_days = 5", "invalid seller"),
            ("not toml", "policy file"),
            (
                "[refund_routing]\norder = \"cards_first\"",
                "refund_routing.order",
            ),
            (
                "[refund_routing]\nto_balance = [\"balance\"]",
                "refund_routing.to_balance",
            ),
            ("[gift_cards]\nmax_failures = 0", "gift_cards.max_failures"),
            ("[gift_cards]\nvalid_days = 0", "gift_cards.valid_days"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.contains(says) || (says == "invalid seller" && err.contains("invalid")),
                "{text}: {err}"
            );
        }
        assert_eq!(parse("").unwrap().order, OrderPolicy::default());
        let p = parse("[order]\nship_by_days = 3").unwrap();
        assert_eq!(p.ship_by_ms("anyone"), 3 * DAY);
    }
}
