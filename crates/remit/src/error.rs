//! Errors. Each variant has a stable snake_case `code()` the app can show and match on.

/// A carrier profile that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The text is not TOML, or has a key we do not know, or a value of the wrong type.
    #[error("carrier profile is not readable: {0}")]
    Toml(String),
    /// The currency code is not an ISO 4217 currency with a minor unit.
    #[error("carrier profile names unknown currency {0:?}")]
    Currency(String),
    /// The encoding label is not one encoding_rs knows.
    #[error("carrier profile names unknown encoding {0:?}")]
    Encoding(String),
    /// A rate is not exact decimal text (rates are written as strings like "2.5").
    #[error("carrier profile key {key} is not a decimal rate: {value:?}")]
    Rate { key: String, value: String },
    /// A date pattern uses a directive we do not read, or lacks a year, month or day.
    #[error("carrier profile date format {0:?} is not supported")]
    DateFormat(String),
    /// The time zone is not a fixed offset like "+03:00".
    #[error("carrier profile time zone {0:?} is not a fixed UTC offset")]
    Timezone(String),
    /// Any other inconsistent value.
    #[error("carrier profile key {key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl ProfileError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::Toml(_) => "profile_unreadable",
            ProfileError::Currency(_) => "profile_currency_unknown",
            ProfileError::Encoding(_) => "profile_encoding_unknown",
            ProfileError::Rate { .. } => "profile_rate_invalid",
            ProfileError::DateFormat(_) => "profile_date_format_invalid",
            ProfileError::Timezone(_) => "profile_timezone_invalid",
            ProfileError::Invalid { .. } => "profile_invalid",
        }
    }
}

/// A remittance file refused as a whole. Once a [`crate::Lines`] iterator yields one of these
/// it yields nothing more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// A byte (or sequence) that is not valid in the profile's encoding, at this byte offset of
    /// the file.
    #[error("file is not valid in its declared encoding at byte {offset}")]
    Encoding { offset: u64 },
    /// A reference column holds a number in spreadsheet exponent form: its digits are gone.
    #[error("row {row}: {column} {value:?} is in exponent form; its digits cannot be recovered")]
    ExponentReference {
        row: u64,
        column: String,
        value: String,
    },
    /// Two of the profile's date formats read this date as different days.
    #[error("row {row}: date {value:?} reads differently under the profile's formats")]
    AmbiguousDate { row: u64, value: String },
    /// No date format of the profile reads this date.
    #[error("row {row}: date {value:?} matches none of the profile's formats")]
    BadDate { row: u64, value: String },
    /// A column named by the profile is not in the header row.
    #[error("column {name:?} is not in the file's header row")]
    MissingColumn { name: String },
    /// The file ends before its header row.
    #[error("file ends before header row {row}")]
    MissingHeader { row: u64 },
    /// An amount that is not decimal text in the profile's number format, or does not fit.
    #[error("row {row}: {column} {value:?} is not an amount")]
    BadAmount {
        row: u64,
        column: String,
        value: String,
    },
    /// The CSV layer could not read a record (e.g. an unterminated quote).
    #[error("CSV could not be read near row {row}: {message}")]
    Csv { row: u64, message: String },
    /// The XLSX workbook could not be opened or read.
    #[error("spreadsheet could not be read: {0}")]
    Xlsx(String),
    /// The profile's sheet is not in the workbook.
    #[error("sheet {0:?} is not in the workbook")]
    MissingSheet(String),
    /// The JSON document is not an array of objects (or an object holding one under the
    /// profile's `lines_key`).
    #[error("JSON could not be read: {0}")]
    Json(String),
    /// Reading the source failed.
    #[error("file could not be read: {0}")]
    Io(String),
}

impl FileError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Encoding { .. } => "file_encoding_invalid",
            FileError::ExponentReference { .. } => "reference_in_exponent_form",
            FileError::AmbiguousDate { .. } => "date_ambiguous",
            FileError::BadDate { .. } => "date_invalid",
            FileError::MissingColumn { .. } => "column_missing",
            FileError::MissingHeader { .. } => "header_missing",
            FileError::BadAmount { .. } => "amount_invalid",
            FileError::Csv { .. } => "csv_malformed",
            FileError::Xlsx(_) => "xlsx_unreadable",
            FileError::MissingSheet(_) => "sheet_missing",
            FileError::Json(_) => "json_malformed",
            FileError::Io(_) => "file_unreadable",
        }
    }

    /// The file row the error is about, when it is about one.
    pub fn row(&self) -> Option<u64> {
        match self {
            FileError::ExponentReference { row, .. }
            | FileError::AmbiguousDate { row, .. }
            | FileError::BadDate { row, .. }
            | FileError::BadAmount { row, .. }
            | FileError::Csv { row, .. }
            | FileError::MissingHeader { row } => Some(*row),
            _ => None,
        }
    }
}
