//! The policy file's cash-on-delivery parts: `[cod]` (the limits on a buyer's risk, who pays
//! for returns, the phone codes, and per country its rule sets with the day each takes effect,
//! and the carriers that collect cash) and `[carrier_profiles]` (remittance file profiles by
//! name, read from TOML files).

use std::collections::BTreeMap;

use holdback_app::Policy;
use holdback_domain::Currency;
use holdback_domain::cod::{Band, CodCarrier, CountryRules, RtoPayer};
use serde::Deserialize;

const DAY: i64 = 86_400_000;

/// `[cod]`. A country listed in `[[cod.countries]]` replaces that country's default rules (all
/// its sets, one per effective date); `[[cod.carriers]]`, when given, replaces the carriers.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodFile {
    max_refusals: Option<u32>,
    refusal_window_days: Option<u32>,
    confirm_hours: Option<u32>,
    /// buyer, seller or platform.
    return_cost_payer: Option<String>,
    code_minutes: Option<u32>,
    code_attempts: Option<u32>,
    #[serde(default)]
    countries: Vec<CountryFile>,
    #[serde(default)]
    carriers: Vec<CarrierFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountryFile {
    country: String,
    /// `YYYY-MM-DD` (UTC): the day these rules take effect.
    effective: String,
    currency: String,
    /// The band, in minor units of `currency`.
    min: i64,
    max: i64,
    first_order_max: i64,
    fee: i64,
    return_cost: i64,
    #[serde(default)]
    regions_excluded: Vec<String>,
    #[serde(default)]
    categories_excluded: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CarrierFile {
    id: String,
    collects_in: Vec<String>,
    #[serde(default)]
    from: Vec<String>,
}

fn date_ms(text: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("policy file: cod.countries: effective {text:?} is YYYY-MM-DD");
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    anyhow::ensure!(
        (1970..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d),
        bad()
    );
    Ok(holdback_remit::date::days_from_civil(y, m, d) * DAY)
}

fn within(
    name: &str,
    value: Option<u32>,
    range: std::ops::RangeInclusive<u32>,
) -> anyhow::Result<Option<i64>> {
    match value {
        None => Ok(None),
        Some(v) if range.contains(&v) => Ok(Some(i64::from(v))),
        Some(_) => anyhow::bail!("policy file: cod.{name} must be in {range:?}"),
    }
}

/// Applies `[cod]` and `[carrier_profiles]` onto `policy`.
pub(crate) fn apply(
    cod: &CodFile,
    profiles: &BTreeMap<String, String>,
    policy: &mut Policy,
) -> anyhow::Result<()> {
    let p = &mut policy.cod;
    if let Some(n) = within("max_refusals", cod.max_refusals, 1..=100)? {
        p.max_refusals = u32::try_from(n)?;
    }
    if let Some(d) = within("refusal_window_days", cod.refusal_window_days, 1..=3650)? {
        p.refusal_window_ms = d * DAY;
    }
    if let Some(h) = within("confirm_hours", cod.confirm_hours, 1..=720)? {
        p.confirm_within_ms = h * 3_600_000;
    }
    if let Some(m) = within("code_minutes", cod.code_minutes, 1..=60)? {
        p.code_ttl_ms = m * 60_000;
    }
    if let Some(n) = within("code_attempts", cod.code_attempts, 1..=20)? {
        p.code_attempts = u32::try_from(n)?;
    }
    if let Some(payer) = &cod.return_cost_payer {
        p.rto_payer = RtoPayer::parse(payer).ok_or_else(|| {
            anyhow::anyhow!("policy file: cod.return_cost_payer is buyer, seller or platform")
        })?;
    }
    let mut countries: BTreeMap<String, Vec<CountryRules>> = BTreeMap::new();
    for c in &cod.countries {
        holdback_domain::party::check_country(&c.country)
            .map_err(|e| anyhow::anyhow!("policy file: cod.countries: {e}"))?;
        let currency = Currency::parse(&c.currency)
            .map_err(|e| anyhow::anyhow!("policy file: cod.countries {}: {e}", c.country))?;
        let amounts = [c.min, c.max, c.first_order_max, c.fee, c.return_cost];
        anyhow::ensure!(
            amounts
                .iter()
                .all(|a| (0..=holdback_domain::MAX_AMOUNT).contains(a))
                && c.min <= c.max,
            "policy file: cod.countries {}: amounts are minor units, min <= max",
            c.country
        );
        countries
            .entry(c.country.clone())
            .or_default()
            .push(CountryRules {
                effective_from: date_ms(&c.effective)?,
                currency,
                band: Band {
                    min: c.min,
                    max: c.max,
                },
                first_order_max: c.first_order_max,
                fee: c.fee,
                rto_cost: c.return_cost,
                regions_excluded: c.regions_excluded.clone(),
                categories_excluded: c.categories_excluded.clone(),
            });
    }
    for (country, mut sets) in countries {
        sets.sort_by_key(|r| r.effective_from);
        p.countries.insert(country, sets);
    }
    if !cod.carriers.is_empty() {
        p.carriers = Vec::new();
        for c in &cod.carriers {
            holdback_domain::party::check_id(&c.id)
                .map_err(|e| anyhow::anyhow!("policy file: cod.carriers: {e}"))?;
            for country in c.collects_in.iter().chain(&c.from) {
                holdback_domain::party::check_country(country)
                    .map_err(|e| anyhow::anyhow!("policy file: cod.carriers {}: {e}", c.id))?;
            }
            p.carriers.push(CodCarrier {
                id: c.id.clone(),
                collects_in: c.collects_in.clone(),
                from: c.from.clone(),
            });
        }
    }
    for (name, path) in profiles {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("policy file: carrier_profiles.{name}: {path}: {e}"))?;
        let profile = holdback_remit::Profile::from_toml(&text).map_err(|e| {
            anyhow::anyhow!("policy file: carrier_profiles.{name}: {}: {e}", e.code())
        })?;
        policy.carrier_profiles.insert(name.clone(), profile);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_are_days_since_the_epoch() {
        assert_eq!(date_ms("1970-01-01").unwrap(), 0);
        assert_eq!(date_ms("2026-11-21").unwrap(), 1_795_219_200_000);
        assert_eq!(date_ms("2000-03-01").unwrap(), 951_868_800_000);
        assert!(date_ms("2026-13-01").is_err());
        assert!(date_ms("21.11.2026").is_err());
    }

    #[test]
    fn the_cod_section_sets_rules_by_date_and_refuses_bad_values_by_name() {
        let p = crate::policy::parse(
            "[cod]\nreturn_cost_payer = \"seller\"\nmax_refusals = 3\n\
             [[cod.countries]]\ncountry = \"EG\"\neffective = \"2027-01-01\"\n\
             currency = \"egp\"\nmin = 5000\nmax = 500000\nfirst_order_max = 100000\n\
             fee = 35000\nreturn_cost = 4000\n\
             [[cod.countries]]\ncountry = \"EG\"\neffective = \"2026-01-01\"\n\
             currency = \"egp\"\nmin = 5000\nmax = 300000\nfirst_order_max = 100000\n\
             fee = 30000\nreturn_cost = 4000\n\
             [[cod.carriers]]\nid = \"nile_post\"\ncollects_in = [\"EG\"]\n",
        )
        .unwrap();
        assert_eq!(p.cod.rto_payer, RtoPayer::Seller);
        assert_eq!(p.cod.max_refusals, 3);
        let on = |date: &str| {
            p.cod
                .rules_on("EG", date_ms(date).unwrap())
                .map(|r| r.band.max)
        };
        assert_eq!(on("2025-12-31"), None);
        assert_eq!(on("2026-06-01"), Some(300_000));
        assert_eq!(on("2027-01-01"), Some(500_000));
        assert_eq!(p.cod.carriers.len(), 1);
        assert!(
            p.cod.countries.contains_key("SA"),
            "other countries keep their defaults"
        );
        for (text, named) in [
            ("[cod]\nreturn_cost_payer = \"nobody\"", "return_cost_payer"),
            ("[cod]\nmax_refusals = 0", "cod.max_refusals"),
            (
                "[carrier_profiles]\nx = \"/nonexistent.toml\"",
                "carrier_profiles.x",
            ),
        ] {
            let e = crate::policy::parse(text).unwrap_err().to_string();
            assert!(e.contains(named), "{text}: {e}");
        }
    }
}
