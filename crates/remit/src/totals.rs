//! Batch totals and the batch identity: gross − deductions = net = what the bank received.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kinds::DeductionKind;
use crate::line::RawLine;

/// What the carrier's own total row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StatedTotals {
    /// The row of the (last) summary row.
    pub row: u64,
    /// The stated gross, when the total row gives a non-zero collected amount.
    pub gross: Option<i64>,
    /// The stated deductions, when the total row itemises any.
    pub deductions: Option<i64>,
    /// The stated net.
    pub net: i64,
}

/// Running totals over a file's parcel lines (every line but summary rows and repeated pieces).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BatchTotals {
    pub lines: u64,
    /// Sum of collected.
    pub gross: i64,
    pub deductions_by_kind: BTreeMap<DeductionKind, i64>,
    /// Sum of all deductions.
    pub deductions: i64,
    /// Sum of reported nets.
    pub net: i64,
    /// What the bank statement says arrived, when the app knows it.
    pub bank_credit: Option<i64>,
    /// The file's own total row, when it has one.
    pub stated: Option<StatedTotals>,
}

impl BatchTotals {
    pub(crate) fn add(&mut self, line: &RawLine) {
        self.lines += 1;
        self.gross += line.collected;
        for (k, v) in &line.deductions {
            *self.deductions_by_kind.entry(*k).or_insert(0) += *v;
            self.deductions += *v;
        }
        self.net += line.net;
    }

    /// Records a total row. In the net regime its amount column is a net, so it states no gross.
    pub(crate) fn state(&mut self, line: &RawLine, gross_regime: bool) {
        self.stated = Some(StatedTotals {
            row: line.row,
            gross: (gross_regime && line.collected != 0).then_some(line.collected),
            deductions: (!line.deductions.is_empty()).then(|| line.deductions_total()),
            net: line.net,
        });
    }

    /// Checks the batch identity and reports every difference (`found − expected`).
    ///
    /// Checked: the lines' gross minus their deductions equals the lines' net; the total row's
    /// gross, deductions and net (those it states) equal the lines'; the bank credit (when set)
    /// equals the lines' net. A negative net is fine: a batch of returns costs money.
    pub fn check_identity(&self) -> Result<(), IdentityError> {
        let mut differences = Vec::new();
        let mut check = |what: IdentityCheck, expected: i64, found: i64| {
            if expected != found {
                differences.push(Difference {
                    check: what,
                    expected,
                    found,
                    delta: found - expected,
                });
            }
        };
        check(
            IdentityCheck::LineNet,
            self.gross - self.deductions,
            self.net,
        );
        if let Some(s) = &self.stated {
            if let Some(g) = s.gross {
                check(IdentityCheck::StatedGross, self.gross, g);
            }
            if let Some(d) = s.deductions {
                check(IdentityCheck::StatedDeductions, self.deductions, d);
            }
            check(IdentityCheck::StatedNet, self.net, s.net);
        }
        if let Some(b) = self.bank_credit {
            check(IdentityCheck::BankCredit, self.net, b);
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(IdentityError { differences })
        }
    }
}

/// Which equality of the batch identity failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    /// Σ collected − Σ deductions ≠ Σ net over the lines.
    LineNet,
    /// The total row's gross ≠ Σ collected.
    StatedGross,
    /// The total row's deductions ≠ Σ deductions.
    StatedDeductions,
    /// The total row's net ≠ Σ net.
    StatedNet,
    /// The bank credit ≠ Σ net.
    BankCredit,
}

impl IdentityCheck {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            IdentityCheck::LineNet => "line_net",
            IdentityCheck::StatedGross => "stated_gross",
            IdentityCheck::StatedDeductions => "stated_deductions",
            IdentityCheck::StatedNet => "stated_net",
            IdentityCheck::BankCredit => "bank_credit",
        }
    }
}

/// One failed equality: `delta = found − expected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub check: IdentityCheck,
    pub expected: i64,
    pub found: i64,
    pub delta: i64,
}

/// The batch does not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("batch does not add up: {}", describe(.differences))]
pub struct IdentityError {
    pub differences: Vec<Difference>,
}

fn describe(d: &[Difference]) -> String {
    d.iter()
        .map(|x| format!("{} off by {}", x.check.code(), x.delta))
        .collect::<Vec<_>>()
        .join(", ")
}

impl IdentityError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        "batch_identity_broken"
    }
}
