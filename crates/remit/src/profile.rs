//! Carrier profiles: how one carrier's remittance file is laid out and what its rate card says.
//!
//! A profile is TOML. Unknown keys are refused so a typo cannot silently fall back to a default.
//! Rates are written as strings (`"2.5"`) or integers, never as TOML floats.

use holdback_domain::Currency;
use serde::{Deserialize, Deserializer, Serialize};

use crate::contract::Contract;
use crate::date::{DateFormat, parse_offset};
use crate::decimal::{Decimal, Rounding};
use crate::error::ProfileError;

/// The container the carrier sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Delimited text.
    Csv,
    /// An Excel workbook (Office Open XML).
    Xlsx,
    /// A JSON array of objects, or an object holding one under `lines_key`.
    Json,
}

/// Whether the file's amount column is what the buyer paid or what the carrier pays us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// `cod_amount` is the cash collected; net = collected − deductions.
    #[default]
    Gross,
    /// `cod_amount` is already net of deductions; collected = net + itemised deductions.
    Net,
}

/// How a parcel shipped as several pieces appears in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiPiece {
    /// Every piece line repeats the whole parcel's amounts: the first line counts, the others
    /// are classed `piece` and post nothing.
    TotalOnEveryPiece,
    /// Each line carries its own amount and is a parcel of its own.
    #[default]
    AmountPerPiece,
}

/// A canonical field of a remittance line, mapped to a header in the file by `[columns]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Tracking,
    OrderRef,
    CodAmount,
    Freight,
    CodFee,
    EarlyCodFee,
    RtoCharge,
    WeightDiscrepancy,
    TaxOnFees,
    WithholdingTax,
    Net,
    Status,
    Date,
    Batch,
    BankReference,
    Pieces,
    Consignee,
}

impl Field {
    /// Every field, in a fixed order (the index of a field in this list is its slot).
    pub const ALL: [Field; 17] = [
        Field::Tracking,
        Field::OrderRef,
        Field::CodAmount,
        Field::Freight,
        Field::CodFee,
        Field::EarlyCodFee,
        Field::RtoCharge,
        Field::WeightDiscrepancy,
        Field::TaxOnFees,
        Field::WithholdingTax,
        Field::Net,
        Field::Status,
        Field::Date,
        Field::Batch,
        Field::BankReference,
        Field::Pieces,
        Field::Consignee,
    ];

    /// The key under `[columns]`.
    pub fn code(self) -> &'static str {
        match self {
            Field::Tracking => "tracking",
            Field::OrderRef => "order_ref",
            Field::CodAmount => "cod_amount",
            Field::Freight => "freight",
            Field::CodFee => "cod_fee",
            Field::EarlyCodFee => "early_cod_fee",
            Field::RtoCharge => "rto_charge",
            Field::WeightDiscrepancy => "weight_discrepancy",
            Field::TaxOnFees => "tax_on_fees",
            Field::WithholdingTax => "withholding_tax",
            Field::Net => "net",
            Field::Status => "status",
            Field::Date => "date",
            Field::Batch => "batch",
            Field::BankReference => "bank_reference",
            Field::Pieces => "pieces",
            Field::Consignee => "consignee",
        }
    }

    /// The slot of this field in [`Field::ALL`].
    pub fn slot(self) -> usize {
        self as usize
    }
}

/// `[columns]`: the header of the file's column for each canonical field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub tracking: String,
    pub order_ref: Option<String>,
    pub cod_amount: String,
    pub freight: Option<String>,
    pub cod_fee: Option<String>,
    pub early_cod_fee: Option<String>,
    pub rto_charge: Option<String>,
    pub weight_discrepancy: Option<String>,
    pub tax_on_fees: Option<String>,
    pub withholding_tax: Option<String>,
    pub net: Option<String>,
    pub status: Option<String>,
    pub date: Option<String>,
    pub batch: Option<String>,
    pub bank_reference: Option<String>,
    pub pieces: Option<String>,
    /// The buyer's name, carried through for people reading the report.
    pub consignee: Option<String>,
}

impl Columns {
    /// The configured header for `field`, if any.
    pub fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::Tracking => Some(&self.tracking),
            Field::CodAmount => Some(&self.cod_amount),
            Field::OrderRef => self.order_ref.as_deref(),
            Field::Freight => self.freight.as_deref(),
            Field::CodFee => self.cod_fee.as_deref(),
            Field::EarlyCodFee => self.early_cod_fee.as_deref(),
            Field::RtoCharge => self.rto_charge.as_deref(),
            Field::WeightDiscrepancy => self.weight_discrepancy.as_deref(),
            Field::TaxOnFees => self.tax_on_fees.as_deref(),
            Field::WithholdingTax => self.withholding_tax.as_deref(),
            Field::Net => self.net.as_deref(),
            Field::Status => self.status.as_deref(),
            Field::Date => self.date.as_deref(),
            Field::Batch => self.batch.as_deref(),
            Field::BankReference => self.bank_reference.as_deref(),
            Field::Pieces => self.pieces.as_deref(),
            Field::Consignee => self.consignee.as_deref(),
        }
    }
}

/// `[summary_row]`: how to tell the carrier's total row from a parcel line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryRule {
    /// Case-insensitive prefixes of the first cell (`"Total"`, `"المجموع"`).
    #[serde(default)]
    pub first_column_matches: Vec<String>,
    /// A line with no tracking number but an amount is a total.
    #[serde(default)]
    pub tracking_empty_with_amount: bool,
}

/// A rate written as `"2.5"` or `15` in the profile.
#[derive(Debug, Clone)]
struct RateText(String);

impl<'de> Deserialize<'de> for RateText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RateText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a rate as a decimal string such as \"2.5\", or an integer")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RateText, E> {
                Ok(RateText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RateText, E> {
                Ok(RateText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RateText, E> {
                Ok(RateText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawContract {
    freight: Option<i64>,
    cod_fee_rate: Option<RateText>,
    cod_fee_min: Option<i64>,
    cod_fee_flat: Option<i64>,
    early_cod_fee_rate: Option<RateText>,
    tax_on_fees_rate: Option<RateText>,
    withholding_tax_rate: Option<RateText>,
    rto_charge: Option<i64>,
    rounding: Option<Rounding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    carrier: String,
    currency: String,
    format: Format,
    encoding: Option<String>,
    delimiter: Option<String>,
    quote: Option<String>,
    decimal_separator: Option<String>,
    thousands_separator: Option<String>,
    header_row: Option<u64>,
    sheet: Option<String>,
    lines_key: Option<String>,
    columns: Columns,
    date_formats: Option<Vec<String>>,
    timezone: Option<String>,
    paid_statuses: Option<Vec<String>>,
    rto_statuses: Option<Vec<String>>,
    reversal_statuses: Option<Vec<String>>,
    regime: Option<Regime>,
    cycle_days: Option<u32>,
    summary_row: Option<SummaryRule>,
    multi_piece: Option<MultiPiece>,
    piece_suffix_separator: Option<String>,
    tracking_length: Option<usize>,
    deductions_negative: Option<bool>,
    contract: Option<RawContract>,
}

/// A checked carrier profile. Build it with [`Profile::from_toml`].
#[derive(Debug, Clone)]
pub struct Profile {
    pub carrier: String,
    pub currency: Currency,
    pub format: Format,
    /// The declared text encoding (UTF-8 when not given).
    pub encoding: &'static encoding_rs::Encoding,
    pub delimiter: u8,
    pub quote: u8,
    pub decimal_separator: char,
    pub thousands_separator: Option<char>,
    /// 1-based row holding the column headers; rows above it are preamble.
    pub header_row: u64,
    pub sheet: Option<String>,
    pub lines_key: Option<String>,
    pub columns: Columns,
    pub date_formats: Vec<DateFormat>,
    /// The carrier's fixed offset from UTC in milliseconds (east positive).
    pub timezone_ms: i64,
    /// Lower-cased, trimmed.
    pub paid_statuses: Vec<String>,
    /// Lower-cased, trimmed.
    pub rto_statuses: Vec<String>,
    /// Status values of a line that takes back an earlier payment (lower-cased, trimmed): its
    /// amounts are read as taken back (negative), whatever their sign in the file.
    pub reversal_statuses: Vec<String>,
    pub regime: Regime,
    pub cycle_days: u32,
    pub summary_row: SummaryRule,
    pub multi_piece: MultiPiece,
    pub piece_suffix_separator: Option<char>,
    /// When set, an all-digit tracking number shorter than this lost its leading zeros.
    pub tracking_length: Option<usize>,
    /// The file writes deductions as negative numbers; they are negated on reading.
    pub deductions_negative: bool,
    pub contract: Contract,
}

fn invalid(key: &str, reason: &str) -> ProfileError {
    ProfileError::Invalid {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

fn one_char(key: &str, v: Option<String>, default: char) -> Result<char, ProfileError> {
    match v {
        None => Ok(default),
        Some(s) => {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(invalid(key, "must be exactly one character")),
            }
        }
    }
}

fn one_byte(key: &str, v: Option<String>, default: u8) -> Result<u8, ProfileError> {
    let c = one_char(key, v, char::from(default))?;
    u8::try_from(c)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| invalid(key, "must be one ASCII character"))
}

fn rate(key: &str, v: Option<RateText>) -> Result<Decimal, ProfileError> {
    match v {
        None => Ok(Decimal {
            mantissa: 0,
            scale: 0,
        }),
        Some(RateText(s)) => {
            Decimal::parse(&s)
                .filter(|d| !d.is_negative())
                .ok_or(ProfileError::Rate {
                    key: key.to_string(),
                    value: s,
                })
        }
    }
}

fn non_negative(key: &str, v: Option<i64>) -> Result<i64, ProfileError> {
    match v {
        Some(x) if x < 0 => Err(invalid(key, "must not be negative")),
        Some(x) => Ok(x),
        None => Ok(0),
    }
}

fn fold(list: Option<Vec<String>>) -> Vec<String> {
    list.unwrap_or_default()
        .iter()
        .map(|s| s.trim().to_lowercase())
        .collect()
}

impl Profile {
    /// Reads and checks a profile.
    pub fn from_toml(text: &str) -> Result<Profile, ProfileError> {
        let raw: RawProfile =
            toml::from_str(text).map_err(|e| ProfileError::Toml(e.to_string()))?;
        let currency =
            Currency::parse(&raw.currency).map_err(|_| ProfileError::Currency(raw.currency))?;
        let label = raw.encoding.unwrap_or_else(|| "utf-8".to_string());
        let encoding = encoding_rs::Encoding::for_label(label.trim().as_bytes())
            .ok_or(ProfileError::Encoding(label))?;
        let decimal_separator = one_char("decimal_separator", raw.decimal_separator, '.')?;
        let thousands_separator = match raw.thousands_separator {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => Some(one_char("thousands_separator", Some(s), ',')?),
        };
        if thousands_separator == Some(decimal_separator) {
            return Err(invalid(
                "thousands_separator",
                "must differ from decimal_separator",
            ));
        }
        if decimal_separator.is_ascii_digit()
            || thousands_separator.is_some_and(|c| c.is_ascii_digit())
        {
            return Err(invalid(
                "decimal_separator",
                "a digit cannot be a separator",
            ));
        }
        let header_row = raw.header_row.unwrap_or(1);
        if header_row == 0 {
            return Err(invalid("header_row", "rows count from 1"));
        }
        let patterns = raw
            .date_formats
            .unwrap_or_else(|| vec!["%Y-%m-%d".to_string(), "%Y-%m-%d %H:%M:%S".to_string()]);
        let date_formats = patterns
            .into_iter()
            .map(|p| DateFormat::parse(&p).ok_or(ProfileError::DateFormat(p)))
            .collect::<Result<Vec<_>, _>>()?;
        let tz = raw.timezone.unwrap_or_else(|| "+00:00".to_string());
        let timezone_ms = parse_offset(&tz).ok_or(ProfileError::Timezone(tz))?;
        let c = raw.contract.unwrap_or_default();
        let contract = Contract {
            freight: non_negative("contract.freight", c.freight)?,
            cod_fee_rate: rate("contract.cod_fee_rate", c.cod_fee_rate)?,
            cod_fee_min: non_negative("contract.cod_fee_min", c.cod_fee_min)?,
            cod_fee_flat: non_negative("contract.cod_fee_flat", c.cod_fee_flat)?,
            early_cod_fee_rate: rate("contract.early_cod_fee_rate", c.early_cod_fee_rate)?,
            tax_on_fees_rate: rate("contract.tax_on_fees_rate", c.tax_on_fees_rate)?,
            withholding_tax_rate: rate("contract.withholding_tax_rate", c.withholding_tax_rate)?,
            rto_charge: non_negative("contract.rto_charge", c.rto_charge)?,
            rounding: c.rounding.unwrap_or_default(),
        };
        let piece_suffix_separator = match raw.piece_suffix_separator {
            None => None,
            Some(s) => Some(one_char("piece_suffix_separator", Some(s), '-')?),
        };
        if raw.columns.tracking.trim().is_empty() || raw.columns.cod_amount.trim().is_empty() {
            return Err(invalid(
                "columns",
                "tracking and cod_amount must name a column",
            ));
        }
        if raw.columns.status.is_some() && raw.paid_statuses.as_ref().is_none_or(Vec::is_empty) {
            return Err(invalid(
                "paid_statuses",
                "a profile with a status column must list the paid statuses",
            ));
        }
        if raw.tracking_length == Some(0) {
            return Err(invalid("tracking_length", "must be positive"));
        }
        Ok(Profile {
            carrier: raw.carrier,
            currency,
            format: raw.format,
            encoding,
            delimiter: one_byte("delimiter", raw.delimiter, b',')?,
            quote: one_byte("quote", raw.quote, b'"')?,
            decimal_separator,
            thousands_separator,
            header_row,
            sheet: raw.sheet,
            lines_key: raw.lines_key,
            columns: raw.columns,
            date_formats,
            timezone_ms,
            paid_statuses: fold(raw.paid_statuses),
            rto_statuses: fold(raw.rto_statuses),
            reversal_statuses: fold(raw.reversal_statuses),
            regime: raw.regime.unwrap_or_default(),
            cycle_days: raw.cycle_days.unwrap_or(14),
            summary_row: raw.summary_row.unwrap_or_default(),
            multi_piece: raw.multi_piece.unwrap_or_default(),
            piece_suffix_separator,
            tracking_length: raw.tracking_length,
            deductions_negative: raw.deductions_negative.unwrap_or(false),
            contract,
        })
    }

    /// The tracking stem: the tracking number without a piece suffix (`123-2` → `123` when the
    /// separator is `-` and the suffix is all digits). Without a separator, the tracking itself.
    pub fn tracking_stem<'a>(&self, tracking: &'a str) -> &'a str {
        if let Some(sep) = self.piece_suffix_separator
            && let Some((stem, suffix)) = tracking.rsplit_once(sep)
            && !stem.is_empty()
            && !suffix.is_empty()
            && suffix.chars().all(|c| c.is_ascii_digit())
        {
            return stem;
        }
        tracking
    }
}
