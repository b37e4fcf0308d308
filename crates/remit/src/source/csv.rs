//! Streaming CSV: the csv crate over the strict decoding reader; one record in memory at a time.

use std::io::Read;

use crate::FileError;
use crate::decode::{DecodingReader, fault_of};
use crate::profile::Profile;

pub(crate) struct CsvTable {
    reader: ::csv::Reader<DecodingReader<Box<dyn Read + Send>>>,
    record: ::csv::StringRecord,
    last_line: u64,
}

impl CsvTable {
    pub(crate) fn new(profile: &Profile, source: Box<dyn Read + Send>) -> CsvTable {
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(profile.delimiter)
            .quote(profile.quote)
            .from_reader(DecodingReader::new(source, profile.encoding));
        CsvTable {
            reader,
            record: ::csv::StringRecord::new(),
            last_line: 0,
        }
    }

    pub(crate) fn advance(&mut self) -> Option<Result<u64, FileError>> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => {
                // The record count, not the csv crate's line count (which lags on CRLF files):
                // what a spreadsheet shows as the row number.
                self.last_line += 1;
                Some(Ok(self.last_line))
            }
            Ok(false) => None,
            Err(e) => Some(Err(self.error(e))),
        }
    }

    fn error(&self, e: ::csv::Error) -> FileError {
        let row = self.last_line + 1;
        match e.into_kind() {
            ::csv::ErrorKind::Io(io) => match fault_of(&io) {
                Some(offset) => FileError::Encoding { offset },
                None => FileError::Io(io.to_string()),
            },
            other => FileError::Csv {
                row,
                message: format!("{other:?}"),
            },
        }
    }

    pub(crate) fn record(&self) -> &::csv::StringRecord {
        &self.record
    }
}
