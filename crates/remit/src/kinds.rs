//! Small vocabularies shared by reading and classification: deduction kinds and warnings.

use serde::Serialize;

/// A charge the carrier takes out of the cash it collected before paying the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeductionKind {
    /// Shipping charge for the parcel.
    Freight,
    /// The fee for handling cash on delivery.
    CodFee,
    /// The fee for being paid before the normal cycle.
    EarlyCodFee,
    /// The charge for bringing an undelivered parcel back to the seller.
    RtoCharge,
    /// Extra freight after the carrier re-weighed the parcel.
    WeightDiscrepancy,
    /// Tax (e.g. VAT) charged on the carrier's fees.
    TaxOnFees,
    /// Tax withheld on the fees.
    WithholdingTax,
}

impl DeductionKind {
    /// Every kind, in the order columns and reports list them.
    pub const ALL: [DeductionKind; 7] = [
        DeductionKind::Freight,
        DeductionKind::CodFee,
        DeductionKind::EarlyCodFee,
        DeductionKind::RtoCharge,
        DeductionKind::WeightDiscrepancy,
        DeductionKind::TaxOnFees,
        DeductionKind::WithholdingTax,
    ];

    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            DeductionKind::Freight => "freight",
            DeductionKind::CodFee => "cod_fee",
            DeductionKind::EarlyCodFee => "early_cod_fee",
            DeductionKind::RtoCharge => "rto_charge",
            DeductionKind::WeightDiscrepancy => "weight_discrepancy",
            DeductionKind::TaxOnFees => "tax_on_fees",
            DeductionKind::WithholdingTax => "withholding_tax",
        }
    }
}

/// Something about a line worth a person's look; a warning never refuses the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// The tracking number was damaged by a spreadsheet (exponent form, a trailing `.0`, a
    /// float too large to hold its digits, `####`): the line is matched by order reference.
    AwbMangled,
    /// The tracking number lost its leading zeros; it was padded back to the profile's length.
    LeadingZeroLost,
    /// An amount had non-zero digits beyond the currency's minor unit; it was rounded by the
    /// contract's rule.
    ExcessPrecision,
    /// The same parcel appears earlier in this file.
    DuplicateInFile,
    /// The parcel was already settled by an earlier batch.
    DuplicateAcrossBatches,
    /// An itemised deduction is larger than the rate card allows.
    DeductionAboveRateCard,
    /// A reversal of a parcel no earlier batch paid (or one already reversed): it takes back
    /// nothing and posts nothing.
    NothingToReverse,
    /// A reversal takes back other than what the earlier payment paid by the rate card: it
    /// posts nothing unless an operator accepts it.
    ReversalAmountMismatch,
}

impl Warning {
    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Warning::AwbMangled => "awb_mangled",
            Warning::LeadingZeroLost => "leading_zero_lost",
            Warning::ExcessPrecision => "excess_precision",
            Warning::DuplicateInFile => "duplicate_in_file",
            Warning::DuplicateAcrossBatches => "duplicate_across_batches",
            Warning::DeductionAboveRateCard => "deduction_above_rate_card",
            Warning::NothingToReverse => "nothing_to_reverse",
            Warning::ReversalAmountMismatch => "reversal_amount_mismatch",
        }
    }
}

/// Adds `w` once.
pub(crate) fn push_warning(list: &mut Vec<Warning>, w: Warning) {
    if !list.contains(&w) {
        list.push(w);
    }
}
