//! The delivery guarantee: how long after shipment a parcel must be delivered, by shipping
//! method, with overrides per destination country.

use std::collections::BTreeMap;

/// Per-country delivery guarantees (ms from shipment) that replace the shipping method's own,
/// keyed by the buyer's ISO 3166-1 alpha-2 country code in upper case. Filled from
/// configuration; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryGuarantees {
    pub by_country: BTreeMap<String, i64>,
}

impl DeliveryGuarantees {
    /// The window for a parcel of a method promising `method_guarantee`, to `country` (the
    /// buyer's, when known).
    pub fn window(&self, method_guarantee: i64, country: Option<&str>) -> i64 {
        country
            .and_then(|c| self.by_country.get(&c.to_ascii_uppercase()))
            .copied()
            .unwrap_or(method_guarantee)
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryGuarantees;
    use crate::order::DAY;

    #[test]
    fn a_country_override_replaces_the_methods_window() {
        let g = DeliveryGuarantees {
            by_country: [("RU".to_string(), 90 * DAY), ("BR".to_string(), 120 * DAY)].into(),
        };
        assert_eq!(g.window(30 * DAY, Some("ru")), 90 * DAY);
        assert_eq!(g.window(10 * DAY, Some("BR")), 120 * DAY);
        assert_eq!(g.window(30 * DAY, Some("DE")), 30 * DAY);
        assert_eq!(g.window(30 * DAY, None), 30 * DAY);
    }
}
