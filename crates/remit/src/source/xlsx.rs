//! XLSX workbooks, read whole with calamine (settlement workbooks are small) and turned into rows.
//!
//! A spreadsheet stores numbers as binary doubles. This is the one place the crate sees one:
//! each is immediately written back as the shortest decimal text that reads back to the same
//! double (what the spreadsheet showed when it saved it), and all further work is on that text.
//! A number is an exact integer id only when that text is all digits and below 2^53; anything
//! else in a tracking or reference column has lost digits.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::{Cell, CellKind};
use crate::FileError;

/// 2^53: above this a double no longer holds every integer.
const EXACT_LIMIT: i128 = 9_007_199_254_740_992;

/// The cell for a spreadsheet number.
fn number_cell(text: String) -> Cell {
    let digits = text.strip_prefix('-').unwrap_or(&text);
    let integer = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<i128>().is_ok_and(|v| v < EXACT_LIMIT);
    Cell {
        text,
        kind: CellKind::Number { integer },
    }
}

fn cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::text(""),
        Data::String(s) => Cell::text(s.clone()),
        Data::Int(i) => Cell {
            text: i.to_string(),
            kind: CellKind::Number { integer: true },
        },
        Data::Float(f) => number_cell(f.to_string()),
        Data::Bool(b) => Cell::text(if *b { "TRUE" } else { "FALSE" }),
        Data::DateTime(dt) => Cell {
            text: dt.as_f64().to_string(),
            kind: CellKind::DateSerial,
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::text(s.clone()),
        Data::Error(e) => Cell::text(e.to_string()),
    }
}

/// Reads one sheet (the named one, else the first) into rows numbered as the spreadsheet shows.
pub(crate) fn read_rows(
    bytes: Vec<u8>,
    sheet: Option<&str>,
) -> Result<Vec<(u64, Vec<Cell>)>, FileError> {
    let mut wb: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| FileError::Xlsx(e.to_string()))?;
    let names = wb.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.trim().eq_ignore_ascii_case(s.trim()))
            .cloned()
            .ok_or_else(|| FileError::MissingSheet(s.to_string()))?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| FileError::Xlsx("workbook has no sheets".to_string()))?,
    };
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| FileError::Xlsx(e.to_string()))?;
    let first_row = range.start().map_or(0, |(r, _)| u64::from(r));
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| (first_row + i as u64 + 1, row.iter().map(cell).collect()))
        .collect())
}
