//! Where rows come from: a streaming CSV reader, or a whole workbook / JSON document already
//! turned into rows. Every source hands out rows of cells with the row number a person sees.

pub(crate) mod csv;
pub(crate) mod json;
pub(crate) mod xlsx;

/// What kind of value a cell held in its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellKind {
    /// Text (every CSV cell).
    Text,
    /// A number stored as a number (XLSX, JSON). `integer` is true when the text is the exact
    /// integer the number holds (no fraction, and for spreadsheet floats below 2^53).
    Number { integer: bool },
    /// A spreadsheet date: the text is the serial day number (days since 1899-12-30).
    DateSerial,
}

/// One cell: its text and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cell {
    pub text: String,
    pub kind: CellKind,
}

impl Cell {
    pub(crate) fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            kind: CellKind::Text,
        }
    }
}

/// A row being looked at.
pub(crate) enum RowRef<'a> {
    Csv(&'a ::csv::StringRecord),
    Cells(&'a [Cell]),
}

impl<'a> RowRef<'a> {
    pub(crate) fn get(&self, i: usize) -> Option<(&'a str, CellKind)> {
        match self {
            RowRef::Csv(r) => r.get(i).map(|s| (s, CellKind::Text)),
            RowRef::Cells(c) => c.get(i).map(|c| (c.text.as_str(), c.kind)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            RowRef::Csv(r) => r.len(),
            RowRef::Cells(c) => c.len(),
        }
    }

    pub(crate) fn all_blank(&self) -> bool {
        (0..self.len()).all(|i| self.get(i).is_none_or(|(t, _)| t.trim().is_empty()))
    }
}

/// A source of rows.
pub(crate) enum Table {
    Csv(Box<csv::CsvTable>),
    Rows {
        rows: std::vec::IntoIter<(u64, Vec<Cell>)>,
        current: Vec<Cell>,
    },
}

impl Table {
    /// Moves to the next row; returns its row number.
    pub(crate) fn advance(&mut self) -> Option<Result<u64, crate::FileError>> {
        match self {
            Table::Csv(t) => t.advance(),
            Table::Rows { rows, current } => rows.next().map(|(n, cells)| {
                *current = cells;
                Ok(n)
            }),
        }
    }

    /// The row last moved to.
    pub(crate) fn current(&self) -> RowRef<'_> {
        match self {
            Table::Csv(t) => RowRef::Csv(t.record()),
            Table::Rows { current, .. } => RowRef::Cells(current),
        }
    }
}
