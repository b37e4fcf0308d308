//! The pure core of holdback: money, identifiers, and the double-entry ledger as a state machine,
//! with the auditor that re-checks its invariants.
//!
//! Nothing here does IO, reads a clock, spawns a task or knows SQL: time comes in as an argument
//! (`now`, milliseconds since the Unix epoch) and every decision is a plain function of its inputs.
//! The store prefetches state into a [`ledger::Book`], lets it decide, and persists the changes.

pub mod audit;
pub mod calendar;
pub mod card;
pub mod cod;
pub mod coupon;
pub mod dispute;
pub mod error_code;
pub mod evidence;
pub mod gift_card;
pub mod ids;
pub mod invariants;
pub mod ledger;
pub mod message;
pub mod money;
pub mod order;
pub mod party;
pub mod payment;
pub mod process;
pub mod reconcile;
pub mod refund;
pub mod tender;

pub use error_code::{ErrorCode, ErrorKind};
pub use ids::{AccountId, HoldId, InvalidId, TxId};
pub use money::{Currency, MAX_AMOUNT, Money, MoneyError};
