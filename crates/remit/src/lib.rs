//! placeholder
#![doc = "x"]
pub mod contract;
pub mod date;
pub mod decimal;
mod decode;
pub mod error;
pub mod kinds;
pub mod line;
pub mod profile;
mod source;

pub use contract::{Contract, Expected};
pub use decimal::{Decimal, Rounding};
pub use error::{FileError, ProfileError};
pub use kinds::{DeductionKind, Warning};
pub use line::{FileCheck, Lines, RawLine, open, open_path, validate};
pub use profile::{Columns, Field, Format, MultiPiece, Profile, Regime, SummaryRule};
