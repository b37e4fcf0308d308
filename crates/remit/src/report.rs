//! Reports: a JSON-serialisable summary of a file, and a CSV with one row per line result.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::classify::{ClassTotal, CollectionTotal, LineResult, Reconciler};
use crate::kinds::DeductionKind;
use crate::totals::{BatchTotals, Difference};

/// The outcome of the batch identity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityReport {
    pub ok: bool,
    pub differences: Vec<Difference>,
}

/// Everything about one remittance file, ready for `serde_json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub carrier: String,
    /// ISO code of the profile currency; all amounts are its minor units.
    pub currency: String,
    /// The first batch id the file gave.
    pub batch: Option<String>,
    /// The first bank reference the file gave.
    pub bank_reference: Option<String>,
    pub totals: BatchTotals,
    /// Per class code: lines, reported net and summed delta.
    pub classes: BTreeMap<&'static str, ClassTotal>,
    /// Per collection class code: the collections the file named without paying them.
    pub collections: BTreeMap<&'static str, CollectionTotal>,
    pub identity: IdentityReport,
    /// The line results, when the caller kept them (empty when streamed elsewhere).
    pub lines: Vec<LineResult>,
}

impl Reconciler {
    /// The report so far. `lines` are the kept line results (pass an empty vector when they were
    /// streamed to a [`CsvWriter`] instead).
    pub fn report(&self, lines: Vec<LineResult>) -> Report {
        let identity = match self.totals().check_identity() {
            Ok(()) => IdentityReport {
                ok: true,
                differences: Vec::new(),
            },
            Err(e) => IdentityReport {
                ok: false,
                differences: e.differences,
            },
        };
        let (batch, bank_reference) = self.batch();
        Report {
            carrier: self.profile().carrier.clone(),
            currency: self.profile().currency.code().to_string(),
            batch: batch.map(str::to_string),
            bank_reference: bank_reference.map(str::to_string),
            totals: self.totals().clone(),
            classes: self.classes().iter().map(|(k, v)| (k.code(), *v)).collect(),
            collections: self
                .collections()
                .iter()
                .map(|(k, v)| (k.code(), *v))
                .collect(),
            identity,
            lines,
        }
    }
}

/// Writes line results as CSV, one row each, as they come.
///
/// Columns: `row, tracking, parcel, class, expected_net, reported_net, delta`, one column per
/// deduction kind (empty when the file did not itemise it), and `warnings` (codes joined by `|`).
pub struct CsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> std::fmt::Debug for CsvWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsvWriter")
    }
}

fn io_err(e: csv::Error) -> io::Error {
    io::Error::other(e.to_string())
}

impl<W: Write> CsvWriter<W> {
    /// Starts the CSV and writes its header row.
    pub fn new(out: W) -> io::Result<Self> {
        let mut inner = csv::Writer::from_writer(out);
        let mut header: Vec<&str> = vec![
            "row",
            "tracking",
            "parcel",
            "class",
            "expected_net",
            "reported_net",
            "delta",
        ];
        header.extend(DeductionKind::ALL.iter().map(|k| k.code()));
        header.push("warnings");
        inner.write_record(&header).map_err(io_err)?;
        Ok(CsvWriter { inner })
    }

    /// Writes one line result.
    pub fn write(&mut self, r: &LineResult) -> io::Result<()> {
        let mut rec: Vec<String> = vec![
            r.row.to_string(),
            r.tracking.clone(),
            r.parcel.clone().unwrap_or_default(),
            r.class.code().to_string(),
            r.expected_net.map(|v| v.to_string()).unwrap_or_default(),
            r.reported_net.to_string(),
            r.delta.to_string(),
        ];
        for kind in DeductionKind::ALL {
            let v = r
                .deductions
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, v)| *v)
                .reduce(|a, b| a + b);
            rec.push(v.map(|v| v.to_string()).unwrap_or_default());
        }
        rec.push(
            r.warnings
                .iter()
                .map(|w| w.code())
                .collect::<Vec<_>>()
                .join("|"),
        );
        self.inner.write_record(&rec).map_err(io_err)
    }

    /// Flushes and hands back the writer.
    pub fn finish(self) -> io::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

/// Writes all `lines` as CSV (see [`CsvWriter`] for the columns).
pub fn write_csv<'a>(
    lines: impl IntoIterator<Item = &'a LineResult>,
    out: impl Write,
) -> io::Result<()> {
    let mut w = CsvWriter::new(out)?;
    for l in lines {
        w.write(l)?;
    }
    w.finish()?;
    Ok(())
}
