//! The policy file (TOML): order timings, the default commission, per-seller commission.

use std::collections::HashMap;

use holdback_app::Policy;
use holdback_domain::order::{Commission, OrderPolicy};
use serde::Deserialize;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    order: Timings,
    commission: Option<CommissionFile>,
    #[serde(default)]
    sellers: HashMap<String, CommissionFile>,
    #[serde(default)]
    shipping: HashMap<String, ShippingFile>,
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
    delivery_guarantee_days: Option<u32>,
    after_delivery_days: Option<u32>,
    buyer_extension_days: Option<u32>,
    seller_extension_max_days: Option<u32>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct CommissionFile {
    basis_points: u32,
    #[serde(default)]
    fixed_minor: i64,
}

impl CommissionFile {
    fn check(self, whose: &str) -> anyhow::Result<Commission> {
        anyhow::ensure!(
            self.basis_points <= 10_000 && self.fixed_minor >= 0,
            "commission of {whose}: basis_points must be 0..=10000 and fixed_minor not negative"
        );
        Ok(Commission {
            basis_points: self.basis_points,
            fixed_minor: self.fixed_minor,
        })
    }
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
        &mut order.ship_by,
        t.ship_by_days,
        DAY,
        1..=60,
        "ship_by_days",
    )?;
    set(
        &mut order.cancel_answer,
        t.cancel_answer_hours,
        HOUR,
        1..=720,
        "cancel_answer_hours",
    )?;
    set(
        &mut order.delivery_guarantee,
        t.delivery_guarantee_days,
        DAY,
        1..=365,
        "delivery_guarantee_days",
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
    if let Some(c) = file.commission {
        order.commission = c.check("the marketplace")?;
    }
    let mut commissions = HashMap::new();
    for (seller, c) in file.sellers {
        holdback_domain::AccountId::parse(&seller)?;
        commissions.insert(seller.clone(), c.check(&seller)?);
    }
    let mut policy = Policy {
        order,
        commissions,
        ..Policy::default()
    };
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

    #[test]
    fn the_example_file_loads() {
        let text = include_str!("../../../policy.example.toml");
        let p = parse(text).unwrap();
        assert_eq!(
            p.order,
            OrderPolicy::default(),
            "the example states the defaults"
        );
        assert_eq!(
            p.for_seller("sel_carol").commission,
            Commission {
                basis_points: 800,
                fixed_minor: 30
            }
        );
        assert_eq!(
            p.for_seller("sel_bob").commission,
            Commission {
                basis_points: 500,
                fixed_minor: 0
            }
        );
    }

    #[test]
    fn bad_files_are_refused_by_name() {
        for (text, says) in [
            ("[order]\nship_by_days = 0", "ship_by_days"),
            ("[order]\nshipby = 3", "unknown field"),
            ("[commission]\nbasis_points = 20000", "basis_points"),
            ("[sellers.\"bad id\"]\nbasis_points = 1", "invalid seller"),
            ("not toml", "policy file"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.contains(says) || (says == "invalid seller" && err.contains("invalid")),
                "{text}: {err}"
            );
        }
        assert_eq!(parse("").unwrap().order, OrderPolicy::default());
        let p = parse("[order]\nship_by_days = 3").unwrap();
        assert_eq!(p.order.ship_by, 3 * DAY);
    }
}
