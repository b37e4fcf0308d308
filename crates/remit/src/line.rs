//! Reading a remittance file into canonical lines.

use std::io::Read;

use serde::Serialize;

use crate::date::{DAY_MS, DateProblem, read_date};
use crate::decimal::{Decimal, parse_grouped};
use crate::error::FileError;
use crate::kinds::{DeductionKind, Warning, push_warning};
use crate::profile::{Field, Format, Profile, Regime};
use crate::source::{CellKind, RowRef, Table, csv::CsvTable, json, xlsx};

/// One line of a remittance file in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawLine {
    /// 1-based row of the file as a person sees it: the row number a spreadsheet shows for
    /// CSV (the record count; entirely empty lines are skipped and not counted) and XLSX, the
    /// position in the array for JSON.
    pub row: u64,
    /// The tracking number after repairs (leading zeros restored, a spreadsheet `.0` removed).
    pub tracking: String,
    /// The tracking cell as it was in the file.
    pub tracking_raw: String,
    pub order_ref: Option<String>,
    /// Cash collected from the buyer, minor units.
    pub collected: i64,
    /// Itemised deductions, positive when the carrier keeps money, in column order.
    pub deductions: Vec<(DeductionKind, i64)>,
    /// What the carrier says it pays for this line.
    pub net: i64,
    /// The status cell as written.
    pub status: Option<String>,
    /// The status is one of the profile's paid statuses (true when the file has no status).
    pub paid: bool,
    /// The status is one of the profile's returned-to-origin statuses.
    pub rto: bool,
    /// The date column in UTC epoch milliseconds.
    pub date_ms: Option<i64>,
    pub batch: Option<String>,
    pub bank_reference: Option<String>,
    /// The pieces cell as written (piece index or count).
    pub pieces: Option<String>,
    /// The consignee (buyer) name as written.
    pub consignee: Option<String>,
    /// This is the carrier's total row, not a parcel.
    pub summary: bool,
    pub warnings: Vec<Warning>,
}

impl RawLine {
    /// The sum of the itemised deductions.
    pub fn deductions_total(&self) -> i64 {
        self.deductions.iter().map(|(_, v)| *v).sum()
    }

    /// The itemised amount of one kind, when the file gives it.
    pub fn deduction(&self, kind: DeductionKind) -> Option<i64> {
        self.deductions
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| *v)
            .reduce(|a, b| a + b)
    }

    /// The tracking number failed a repair and cannot be trusted for matching.
    pub fn awb_mangled(&self) -> bool {
        self.warnings.contains(&Warning::AwbMangled)
    }
}

const DEDUCTION_FIELDS: [(Field, DeductionKind); 7] = [
    (Field::Freight, DeductionKind::Freight),
    (Field::CodFee, DeductionKind::CodFee),
    (Field::EarlyCodFee, DeductionKind::EarlyCodFee),
    (Field::RtoCharge, DeductionKind::RtoCharge),
    (Field::WeightDiscrepancy, DeductionKind::WeightDiscrepancy),
    (Field::TaxOnFees, DeductionKind::TaxOnFees),
    (Field::WithholdingTax, DeductionKind::WithholdingTax),
];

/// The lines of one file. Yields `Err` at most once, and nothing after it.
pub struct Lines {
    table: Table,
    mapper: Mapper,
    done: bool,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines").field("done", &self.done).finish()
    }
}

impl Iterator for Lines {
    type Item = Result<RawLine, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let row = match self.table.advance() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(row)) => row,
            };
            match self.mapper.map(row, &self.table.current()) {
                Ok(Some(line)) => return Some(Ok(line)),
                Ok(None) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Opens a remittance file: reads up to and including the header row and checks that every
/// column the profile names is there. CSV is then read record by record; XLSX and JSON are read
/// whole here and handed out line by line.
pub fn open(profile: &Profile, mut source: impl Read + Send + 'static) -> Result<Lines, FileError> {
    let mut table = match profile.format {
        Format::Csv => Table::Csv(Box::new(CsvTable::new(profile, Box::new(source)))),
        Format::Xlsx => {
            let mut bytes = Vec::new();
            source
                .read_to_end(&mut bytes)
                .map_err(|e| FileError::Io(e.to_string()))?;
            Table::Rows {
                rows: xlsx::read_rows(bytes, profile.sheet.as_deref())?.into_iter(),
                current: Vec::new(),
            }
        }
        Format::Json => {
            let mut bytes = Vec::new();
            source
                .read_to_end(&mut bytes)
                .map_err(|e| FileError::Io(e.to_string()))?;
            let text = crate::decode::decode_all(&bytes, profile.encoding)
                .map_err(|offset| FileError::Encoding { offset })?;
            Table::Rows {
                rows: json::read_rows(&text, profile)?.into_iter(),
                current: Vec::new(),
            }
        }
    };
    let header_row = if profile.format == Format::Json {
        0
    } else {
        profile.header_row
    };
    loop {
        match table.advance() {
            None => return Err(FileError::MissingHeader { row: header_row }),
            Some(Err(e)) => return Err(e),
            Some(Ok(row)) if row >= header_row => break,
            Some(Ok(_)) => {}
        }
    }
    let mapper = Mapper::new(profile, &table.current())?;
    Ok(Lines {
        table,
        mapper,
        done: false,
    })
}

/// Opens a file on disk.
pub fn open_path(profile: &Profile, path: &std::path::Path) -> Result<Lines, FileError> {
    let f = std::fs::File::open(path).map_err(|e| FileError::Io(e.to_string()))?;
    open(profile, std::io::BufReader::new(f))
}

/// What a validation pass saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FileCheck {
    /// Lines read, the summary row included.
    pub lines: u64,
    /// Summary rows among them.
    pub summary_rows: u64,
}

/// Reads the whole file and discards the lines: the pass to run before posting anything, so a
/// file refused at its last line is refused before its first line was posted.
pub fn validate(
    profile: &Profile,
    source: impl Read + Send + 'static,
) -> Result<FileCheck, FileError> {
    let mut check = FileCheck::default();
    for line in open(profile, source)? {
        let line = line?;
        check.lines += 1;
        if line.summary {
            check.summary_rows += 1;
        }
    }
    Ok(check)
}

/// Turns rows into lines for one file.
struct Mapper {
    profile: Profile,
    slots: [Option<usize>; Field::ALL.len()],
}

fn fold(s: &str) -> String {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .to_lowercase()
}

/// Spreadsheet scientific notation: `1.23457E+11`, `6E+11`.
pub(crate) fn is_exponent_form(s: &str) -> bool {
    let Some((mantissa, exp)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let Some(exp_digits) = exp.strip_prefix(['+', '-']) else {
        return false;
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac) && digits(exp_digits)
}

impl Mapper {
    fn new(profile: &Profile, header: &RowRef<'_>) -> Result<Mapper, FileError> {
        let names: Vec<String> = (0..header.len())
            .map(|i| header.get(i).map(|(t, _)| fold(t)).unwrap_or_default())
            .collect();
        let mut slots = [None; Field::ALL.len()];
        for field in Field::ALL {
            if let Some(want) = profile.columns.get(field) {
                let w = fold(want);
                match names.iter().position(|n| *n == w) {
                    Some(i) => slots[field.slot()] = Some(i),
                    None => {
                        return Err(FileError::MissingColumn {
                            name: want.to_string(),
                        });
                    }
                }
            }
        }
        Ok(Mapper {
            profile: profile.clone(),
            slots,
        })
    }

    fn cell<'a>(&self, row: &RowRef<'a>, field: Field) -> Option<(&'a str, CellKind)> {
        self.slots[field.slot()]
            .and_then(|i| row.get(i))
            .map(|(t, k)| (t.trim(), k))
            .filter(|(t, _)| !t.is_empty())
    }

    fn amount(
        &self,
        row_no: u64,
        row: &RowRef<'_>,
        field: Field,
        warnings: &mut Vec<Warning>,
    ) -> Result<Option<i64>, FileError> {
        let Some((text, kind)) = self.cell(row, field) else {
            return Ok(None);
        };
        let p = &self.profile;
        let dec = match kind {
            CellKind::Text => parse_grouped(text, p.decimal_separator, p.thousands_separator),
            _ => Decimal::parse_literal(text),
        };
        let bad = || FileError::BadAmount {
            row: row_no,
            column: field.code().to_string(),
            value: text.to_string(),
        };
        let (minor, excess) = dec
            .and_then(|d| d.to_minor(p.currency.exponent(), p.contract.rounding))
            .ok_or_else(bad)?;
        if excess {
            push_warning(warnings, Warning::ExcessPrecision);
        }
        Ok(Some(minor))
    }

    fn reference(
        &self,
        row_no: u64,
        row: &RowRef<'_>,
        field: Field,
    ) -> Result<Option<String>, FileError> {
        let Some((text, kind)) = self.cell(row, field) else {
            return Ok(None);
        };
        let lost = matches!(kind, CellKind::Number { integer: false }) || is_exponent_form(text);
        if lost {
            return Err(FileError::ExponentReference {
                row: row_no,
                column: field.code().to_string(),
                value: text.to_string(),
            });
        }
        Ok(Some(text.to_string()))
    }

    fn tracking(&self, raw: &str, kind: CellKind, warnings: &mut Vec<Warning>) -> String {
        let t = raw.trim().trim_start_matches('\'').trim();
        let mangled = |w: &mut Vec<Warning>| push_warning(w, Warning::AwbMangled);
        if matches!(kind, CellKind::Number { integer: false }) || is_exponent_form(t) {
            mangled(warnings);
            // A whole number written with a `.0` tail is still worth a lookup by its digits.
            return strip_zero_fraction(t).unwrap_or(t).to_string();
        }
        if let Some(digits) = strip_zero_fraction(t) {
            mangled(warnings);
            return digits.to_string();
        }
        if t.starts_with('#') {
            mangled(warnings);
            return t.to_string();
        }
        if let Some(len) = self.profile.tracking_length
            && !t.is_empty()
            && t.len() < len
            && t.bytes().all(|b| b.is_ascii_digit())
        {
            push_warning(warnings, Warning::LeadingZeroLost);
            return format!("{t:0>len$}");
        }
        t.to_string()
    }

    fn date(&self, row_no: u64, row: &RowRef<'_>) -> Result<Option<i64>, FileError> {
        let Some((text, kind)) = self.cell(row, Field::Date) else {
            return Ok(None);
        };
        let p = &self.profile;
        if kind == CellKind::DateSerial || matches!(kind, CellKind::Number { .. }) {
            // Spreadsheet serial: days since 1899-12-30 in local time, fraction = time of day.
            let ms = Decimal::parse_literal(text).and_then(|d| {
                let num = d.mantissa.checked_mul(i128::from(DAY_MS))?;
                let local = crate::decimal::Rounding::HalfUp.div(num, 10i128.checked_pow(d.scale)?);
                i64::try_from(local).ok()
            });
            return match ms {
                Some(v) => Ok(Some(v - 25_569 * DAY_MS - p.timezone_ms)),
                None => Err(FileError::BadDate {
                    row: row_no,
                    value: text.to_string(),
                }),
            };
        }
        match read_date(text, &p.date_formats, p.timezone_ms) {
            Ok(v) => Ok(Some(v)),
            Err(DateProblem::Ambiguous) => Err(FileError::AmbiguousDate {
                row: row_no,
                value: text.to_string(),
            }),
            Err(DateProblem::Invalid) => Err(FileError::BadDate {
                row: row_no,
                value: text.to_string(),
            }),
        }
    }

    fn is_summary(&self, row: &RowRef<'_>, tracking_empty: bool, has_amount: bool) -> bool {
        let rule = &self.profile.summary_row;
        if rule.tracking_empty_with_amount && tracking_empty && has_amount {
            return true;
        }
        if rule.first_column_matches.is_empty() {
            return false;
        }
        let first = (0..row.len())
            .filter_map(|i| row.get(i))
            .map(|(t, _)| t.trim())
            .find(|t| !t.is_empty());
        let Some(first) = first.map(fold) else {
            return false;
        };
        rule.first_column_matches
            .iter()
            .any(|p| first.starts_with(&fold(p)))
    }

    fn map(&self, row_no: u64, row: &RowRef<'_>) -> Result<Option<RawLine>, FileError> {
        if row.all_blank() {
            return Ok(None);
        }
        let p = &self.profile;
        let (tracking_raw, tracking_kind) = self
            .cell(row, Field::Tracking)
            .unwrap_or(("", CellKind::Text));
        let amount_fields = DEDUCTION_FIELDS
            .iter()
            .map(|(f, _)| *f)
            .chain([Field::CodAmount, Field::Net]);
        let has_amount = amount_fields.clone().any(|f| self.cell(row, f).is_some());
        let summary = self.is_summary(row, tracking_raw.is_empty(), has_amount);
        if tracking_raw.is_empty() && !has_amount {
            return Ok(None);
        }
        let mut warnings = Vec::new();
        let amount = self
            .amount(row_no, row, Field::CodAmount, &mut warnings)?
            .unwrap_or(0);
        let mut deductions = Vec::new();
        for (field, kind) in DEDUCTION_FIELDS {
            if let Some(v) = self.amount(row_no, row, field, &mut warnings)? {
                deductions.push((kind, if p.deductions_negative { -v } else { v }));
            }
        }
        let total: i64 = deductions.iter().map(|(_, v)| *v).sum();
        let net_cell = self.amount(row_no, row, Field::Net, &mut warnings)?;
        let (mut collected, mut net) = match p.regime {
            Regime::Gross => (amount, net_cell.unwrap_or(amount - total)),
            Regime::Net => {
                let net = net_cell.unwrap_or(amount);
                (net + total, net)
            }
        };
        let status = self.cell(row, Field::Status).map(|(t, _)| t.to_string());
        let folded = status.as_deref().map(fold);
        let reversal = folded
            .as_ref()
            .is_some_and(|s| p.reversal_statuses.contains(s));
        if reversal {
            collected = -collected.abs();
            net = -net.abs();
            for (_, v) in &mut deductions {
                *v = -v.abs();
            }
        }
        let rto = match &folded {
            Some(s) => p.rto_statuses.contains(s),
            None => {
                collected == 0
                    && deductions
                        .iter()
                        .any(|(k, v)| *k == DeductionKind::RtoCharge && *v > 0)
            }
        };
        let paid = match &folded {
            Some(s) => reversal || p.paid_statuses.contains(s),
            None => !rto,
        };
        let text_of = |f: Field| self.cell(row, f).map(|(t, _)| t.to_string());
        let mut line = RawLine {
            row: row_no,
            tracking: tracking_raw.to_string(),
            tracking_raw: tracking_raw.to_string(),
            order_ref: text_of(Field::OrderRef),
            collected,
            deductions,
            net,
            status,
            paid,
            rto,
            date_ms: None,
            batch: None,
            bank_reference: None,
            pieces: text_of(Field::Pieces),
            consignee: text_of(Field::Consignee),
            summary,
            warnings,
        };
        if summary {
            return Ok(Some(line));
        }
        line.tracking = self.tracking(tracking_raw, tracking_kind, &mut line.warnings);
        line.date_ms = self.date(row_no, row)?;
        line.batch = self.reference(row_no, row, Field::Batch)?;
        line.bank_reference = self.reference(row_no, row, Field::BankReference)?;
        Ok(Some(line))
    }
}

/// `123456789012.0` → `123456789012`.
fn strip_zero_fraction(t: &str) -> Option<&str> {
    let (int, frac) = t.split_once('.')?;
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b == b'0');
    ok.then_some(int)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponent_forms() {
        assert!(is_exponent_form("1.23457E+11"));
        assert!(is_exponent_form("6E+11"));
        assert!(is_exponent_form("6.00612e-05"));
        assert!(!is_exponent_form("12E45"));
        assert!(!is_exponent_form("E+11"));
        assert!(!is_exponent_form("AWB1E+1X"));
        assert_eq!(strip_zero_fraction("123.00"), Some("123"));
        assert_eq!(strip_zero_fraction("123.5"), None);
    }
}
