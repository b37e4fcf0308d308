//! The carrier's rate card and what it says each line should cost.

use serde::Serialize;

use crate::decimal::{Decimal, Rounding};
use crate::kinds::DeductionKind;

/// The carrier's rate card. Amounts are minor units of the profile currency; rates are exact
/// decimal percentages.
///
/// For a delivered parcel that collected `c`:
/// - freight is the flat `freight`;
/// - the COD fee is `cod_fee_rate`% of `c`, rounded, raised to `cod_fee_min`, plus `cod_fee_flat`;
/// - the early-COD fee is `early_cod_fee_rate`% of `c`, rounded;
/// - the tax on fees is `tax_on_fees_rate`% of (freight + COD fee + early-COD fee), rounded;
/// - the withholding tax is `withholding_tax_rate`% of the same fees, rounded;
/// - net is `c` minus all of those.
///
/// For a parcel returned to origin nothing was collected and only `rto_charge` is due, so the
/// expected net is `−rto_charge`. Every rounding uses `rounding`, applied once per charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contract {
    pub freight: i64,
    #[serde(serialize_with = "ser_dec")]
    pub cod_fee_rate: Decimal,
    pub cod_fee_min: i64,
    pub cod_fee_flat: i64,
    #[serde(serialize_with = "ser_dec")]
    pub early_cod_fee_rate: Decimal,
    #[serde(serialize_with = "ser_dec")]
    pub tax_on_fees_rate: Decimal,
    #[serde(serialize_with = "ser_dec")]
    pub withholding_tax_rate: Decimal,
    pub rto_charge: i64,
    pub rounding: Rounding,
}

fn ser_dec<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (i, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{i}.{frac}")
    }
}

impl Default for Contract {
    fn default() -> Self {
        let zero = Decimal {
            mantissa: 0,
            scale: 0,
        };
        Contract {
            freight: 0,
            cod_fee_rate: zero,
            cod_fee_min: 0,
            cod_fee_flat: 0,
            early_cod_fee_rate: zero,
            tax_on_fees_rate: zero,
            withholding_tax_rate: zero,
            rto_charge: 0,
            rounding: Rounding::HalfUp,
        }
    }
}

/// What the rate card says one line should deduct and pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Expected {
    pub freight: i64,
    pub cod_fee: i64,
    pub early_cod_fee: i64,
    pub tax_on_fees: i64,
    pub withholding_tax: i64,
    pub rto_charge: i64,
    /// Collected minus every deduction above.
    pub net: i64,
}

impl Expected {
    /// The expected amount of one deduction kind (0 for kinds the rate card does not price,
    /// such as weight discrepancies).
    pub fn of(&self, kind: DeductionKind) -> i64 {
        match kind {
            DeductionKind::Freight => self.freight,
            DeductionKind::CodFee => self.cod_fee,
            DeductionKind::EarlyCodFee => self.early_cod_fee,
            DeductionKind::RtoCharge => self.rto_charge,
            DeductionKind::WeightDiscrepancy => 0,
            DeductionKind::TaxOnFees => self.tax_on_fees,
            DeductionKind::WithholdingTax => self.withholding_tax,
        }
    }

    /// The sum of all expected deductions.
    pub fn deductions(&self) -> i64 {
        DeductionKind::ALL.iter().map(|k| self.of(*k)).sum()
    }
}

impl Contract {
    fn pct(&self, rate: Decimal, amount: i64) -> i64 {
        rate.percent_of(amount, self.rounding).unwrap_or(i64::MAX)
    }

    /// The expected deductions and net for a parcel that collected `collected_minor`, or for a
    /// parcel returned to origin when `rto` is true (then `collected_minor` is ignored).
    pub fn expected(&self, collected_minor: i64, rto: bool) -> Expected {
        if rto {
            return Expected {
                rto_charge: self.rto_charge,
                net: -self.rto_charge,
                ..Expected::default()
            };
        }
        let cod_fee = self
            .pct(self.cod_fee_rate, collected_minor)
            .max(self.cod_fee_min)
            .saturating_add(self.cod_fee_flat);
        let early_cod_fee = self.pct(self.early_cod_fee_rate, collected_minor);
        let fees = self
            .freight
            .saturating_add(cod_fee)
            .saturating_add(early_cod_fee);
        let mut e = Expected {
            freight: self.freight,
            cod_fee,
            early_cod_fee,
            tax_on_fees: self.pct(self.tax_on_fees_rate, fees),
            withholding_tax: self.pct(self.withholding_tax_rate, fees),
            rto_charge: 0,
            net: 0,
        };
        e.net = collected_minor.saturating_sub(e.deductions());
        e
    }
}
