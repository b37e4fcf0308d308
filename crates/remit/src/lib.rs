//! # holdback-remit: reading cash-on-delivery remittance files
//!
//! A courier that collects cash on delivery keeps it for a cycle (one to two weeks), takes its
//! charges out, and pays the rest to the marketplace in a batch, with a settlement file listing
//! each parcel. This crate turns such a file into canonical lines and says, line by line, how
//! each compares with what holdback expects. It does no storage, no posting, reads no clock and
//! opens no connection: it reads the bytes it is handed.
//!
//! ## The rules
//!
//! * **A profile describes a carrier.** [`Profile::from_toml`] reads the file layout (CSV, XLSX
//!   or JSON; encoding; separators; header row; which column is which), the statuses that mean
//!   "paid" and "returned", the date formats and fixed UTC offset, and the carrier's rate card.
//! * **Money is integers.** Amounts become minor units of the profile currency from their
//!   decimal text, never through binary floating point. More decimal places than the currency
//!   has are rounded by the contract's named rule (`half_up` or `half_even`) and flagged
//!   `excess_precision`. Rates are exact decimals too.
//! * **A file is refused whole, or read whole.** Bytes that are invalid in the declared
//!   encoding, a bank reference that a spreadsheet turned into exponent form, a date that two
//!   listed formats read as different days, an amount that is not an amount, a missing column:
//!   each is a [`FileError`] and the iterator stops there. Because such an error can come at
//!   the last line, run [`validate`] (read and discard) before posting anything, then read
//!   again to post.
//! * **Damage that can be worked around is a warning.** A tracking number in exponent form or
//!   with a `.0` tail is `awb_mangled` and the line is matched by its order reference; a
//!   tracking number that lost its leading zeros is padded back (`leading_zero_lost`).
//! * **Each line gets one class** ([`LineClass`]): matched, short or over paid (with the signed
//!   delta), duplicate (in this file or settled by an earlier batch), unknown parcel, paid for a
//!   returned parcel, not paid, reversal, total row, or a repeated piece. A deduction above the
//!   rate card is a warning on the line. A reversal takes back an earlier batch's payment for a
//!   parcel (expected: the negative of that payment's net); the parcel's collection is then
//!   `reversed`, and one named again after an earlier batch paid it is `already_settled`.
//! * **The batch must add up.** [`BatchTotals::check_identity`] checks gross − deductions = net
//!   over the lines, against the file's own total row and against the bank credit, and names
//!   every difference. A batch whose net is negative (more return charges than cash) is valid.
//! * **Streaming.** CSV is read one record at a time through a strict decoder; the
//!   [`Reconciler`] keeps only a set of 64-bit parcel hashes and running totals, so a file of a
//!   million lines reads in flat memory. XLSX and JSON files are read whole (they are small) but
//!   handed out line by line all the same.
//!
//! ## Use
//!
//! ```no_run
//! # use holdback_remit::*;
//! # struct Db;
//! # impl Collections for Db {
//! #     fn by_tracking(&mut self, _: &str) -> Option<Collection> { None }
//! #     fn by_order_ref(&mut self, _: &str) -> Option<Collection> { None }
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let profile = Profile::from_toml(&std::fs::read_to_string("carrier.toml")?)?;
//! let path = std::path::Path::new("remittance.csv");
//! // Pass 1: refuse the whole file before anything is posted.
//! validate(&profile, std::fs::File::open(path)?)?;
//! // Pass 2: classify and post.
//! let mut rec = Reconciler::new(&profile);
//! let mut db = Db;
//! for line in open_path(&profile, path)? {
//!     let result = rec.line(line?, &mut db);
//!     // post `result` …
//! }
//! let report = rec.report(Vec::new());
//! # Ok(()) }
//! ```

pub mod classify;
pub mod contract;
pub mod date;
pub mod decimal;
mod decode;
pub mod error;
pub mod kinds;
pub mod line;
pub mod profile;
pub mod report;
pub mod sample;
mod source;
pub mod totals;

/// The example carrier profiles shipped with the crate (invented carriers), by file name.
pub const EXAMPLE_PROFILES: &[(&str, &str)] = &[
    (
        "gulf_express_sa",
        include_str!("../profiles/gulf_express_sa.toml"),
    ),
    ("eurocod_de", include_str!("../profiles/eurocod_de.toml")),
    (
        "falcon_parcel_ae",
        include_str!("../profiles/falcon_parcel_ae.toml"),
    ),
    ("swiftcod_in", include_str!("../profiles/swiftcod_in.toml")),
];

pub use classify::{
    ClassTotal, Collection, CollectionClass, CollectionState, CollectionTotal, Collections,
    LineClass, LineResult, Reconciler, unremitted,
};
pub use contract::{Contract, Expected};
pub use decimal::{Decimal, Rounding};
pub use error::{FileError, ProfileError};
pub use kinds::{DeductionKind, Warning};
pub use line::{FileCheck, Lines, RawLine, open, open_path, validate};
pub use profile::{Columns, Field, Format, MultiPiece, Profile, Regime, SummaryRule};
pub use report::{CsvWriter, IdentityReport, Report, write_csv};
pub use sample::{SampleLine, SampleStatus, sample_line, sample_profile, write_sample_csv};
pub use totals::{BatchTotals, Difference, IdentityCheck, IdentityError, StatedTotals};
