//! A sandbox card provider that keeps state the way a real one does.
//!
//! This crate stands in for the outside world. holdback calls a payment provider to charge and
//! refund cards, and the provider's record of what happened is not holdback's: it survives
//! holdback's crashes, rolled-back transactions and lost answers. To test that holdback copes
//! with that, the sandbox keeps its state in **its own SQLite file**, never in holdback's
//! database. The SQL in this crate is that file's SQL, not holdback's store (the rule "only the
//! store knows SQL" is about holdback's own data); nothing here reads or writes holdback's
//! tables.
//!
//! Like a real provider, it
//! - answers by Stripe's test card numbers (`holdback_domain::card::sandbox_outcome`), plus
//!   4000 0000 0000 5126, whose charges succeed and whose refunds then fail;
//! - deduplicates every call by the caller's reference: the same reference answers the first
//!   call's record again, and a reuse for a different request is refused;
//! - refuses to refund more than a charge has left;
//! - keeps a statement of every operation that moved money, in the order it was performed.
//!
//! Several processes may share one file (WAL, a busy timeout, and `BEGIN IMMEDIATE` around each
//! operation), so a test process can arm a [`Fault`] (a timeout, a lost answer, a stall, a
//! refusal) for a server process and read the statement afterwards.
//!
//! The API is synchronous; an async caller wraps each call in `spawn_blocking`. Time comes in as
//! an argument (`now_ms`), as everywhere in holdback.

mod db;
mod error;
mod payouts;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use holdback_domain::Money;
use holdback_domain::card::{CardInput, StoredCard};
use holdback_domain::reconcile::{OpKind, ProviderOp};
use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use error::SandboxError;
pub use payouts::PayoutRecord;

/// The card number whose charges succeed and whose refunds fail, until
/// [`Sandbox::heal_refunds`] is called for the charge.
pub const REFUNDS_FAIL_CARD: &str = "4000000000005126";

/// How long a call waits for another process's operation on the same file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A successful charge, as the provider keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRecord {
    /// `ch_` and 24 hex digits.
    pub id: String,
    pub reference: String,
    pub amount: Money,
    /// How much of it has been refunded so far (same currency as `amount`).
    pub refunded: Money,
    /// Brand, last four and expiry; the token is the charge id.
    pub card: StoredCard,
    pub created_at: i64,
}

/// A successful refund, as the provider keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    /// `re_` and 24 hex digits.
    pub id: String,
    pub reference: String,
    pub charge_id: String,
    pub amount: Money,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    Charge,
    Refund,
}

impl StatementKind {
    pub fn code(self) -> &'static str {
        match self {
            StatementKind::Charge => "charge",
            StatementKind::Refund => "refund",
        }
    }
}

/// One operation that moved money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub kind: StatementKind,
    /// The charge's or the refund's id.
    pub id: String,
    pub reference: String,
    /// For a refund the charge it refunds; for a charge its own id.
    pub charge_id: String,
    pub amount: Money,
    pub at: i64,
}

impl StatementLine {
    /// The line as the reconciliation in `holdback_domain::reconcile` reads it.
    pub fn to_provider_op(&self) -> ProviderOp {
        ProviderOp {
            kind: match self.kind {
                StatementKind::Charge => OpKind::Charge,
                StatementKind::Refund => OpKind::Refund,
            },
            reference: self.reference.clone(),
            amount: self.amount,
        }
    }
}

/// Which calls a fault affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    Charge,
    Refund,
    Any,
}

/// What an armed fault does to a call it affects. A fault affects every matching call, whether
/// the call would have succeeded, been refused, or been answered from an earlier call with the
/// same reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultEffect {
    /// The call never reaches the provider: nothing is recorded; the caller gets
    /// [`SandboxError::Timeout`].
    Timeout,
    /// The provider performs and records the call, but the caller gets
    /// [`SandboxError::AnswerLost`] instead of the answer.
    AnswerLost,
    /// The provider performs and records the call, then waits `ms` before answering, so that a
    /// test can kill the caller between the provider's record and holdback's.
    Stall { ms: u64 },
    /// The provider refuses the call as a processing error (`processing_error`); nothing is
    /// recorded. A definite answer: the caller may retry.
    Fail,
}

/// A fault armed in the sandbox file, for the next `times` calls that match `op`. Faults are
/// used oldest first; each affected call spends one of its `times`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub op: FaultOp,
    pub effect: FaultEffect,
    pub times: u32,
}

/// A handle on a sandbox file. Clones share one connection; handles opened separately on the
/// same path behave like separate processes.
#[derive(Clone)]
pub struct Sandbox {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("path", &self.path).finish()
    }
}

/// What an operation answers once its transaction has committed: the provider's answer, or a
/// refusal. Storage failures are the outer `Result` of the closures below.
type Answer<T> = Result<T, SandboxError>;

impl Sandbox {
    /// Opens (or creates) the sandbox file at `path` and creates its tables if missing.
    pub fn open(path: &Path) -> Result<Sandbox, SandboxError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SandboxError::Storage(format!(
                "journal_mode is {mode}, not WAL"
            )));
        }
        // NORMAL in WAL mode: a commit survives the process being killed (the case the sandbox
        // exists for); only a power loss could undo the last ones.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        let sandbox = Sandbox {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
        };
        sandbox.write(db::create_schema)?;
        Ok(sandbox)
    }

    /// The file this handle uses.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Captures `amount` from the card. Deduplicated by `reference`: the same reference answers
    /// the first charge again (same id, refunds so far included) and never charges twice; a reuse
    /// with a different amount, currency or card is refused ([`SandboxError::ReferenceReused`]).
    /// A refused charge records nothing, so its reference may be used again.
    pub fn charge(
        &self,
        card: &CardInput,
        amount: Money,
        reference: &str,
        now_ms: i64,
    ) -> Result<ChargeRecord, SandboxError> {
        self.perform(FaultOp::Charge, |tx| {
            db::charge(tx, card, amount, reference, now_ms)
        })
    }

    /// Refunds `amount` of charge `charge_id`. Deduplicated by `reference` like a charge (a
    /// reuse for another charge or amount is refused). Refused when it exceeds what the charge
    /// has left ([`SandboxError::RefundExceedsCharge`]), and for a charge made with
    /// 4000 0000 0000 5126 ([`SandboxError::RefundFailed`]) until [`Sandbox::heal_refunds`].
    /// Charge and refund references are separate namespaces.
    pub fn refund(
        &self,
        charge_id: &str,
        amount: Money,
        reference: &str,
        now_ms: i64,
    ) -> Result<RefundRecord, SandboxError> {
        self.perform(FaultOp::Refund, |tx| {
            db::refund(tx, charge_id, amount, reference, now_ms)
        })
    }

    /// The charge made with `reference`, if any (with its refunds so far).
    pub fn charge_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<ChargeRecord>, SandboxError> {
        self.read(|conn| db::charge_by(conn, db::ChargeKey::Reference(reference)))
    }

    /// The charge with id `id`, if any (with its refunds so far).
    pub fn charge_by_id(&self, id: &str) -> Result<Option<ChargeRecord>, SandboxError> {
        self.read(|conn| db::charge_by(conn, db::ChargeKey::Id(id)))
    }

    /// The refund made with `reference`, if any.
    pub fn refund_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<RefundRecord>, SandboxError> {
        self.read(|conn| db::refund_by_reference(conn, reference))
    }

    /// Every operation that moved money, oldest first, each once.
    pub fn statement(&self) -> Result<Vec<StatementLine>, SandboxError> {
        self.read(db::statement)
    }

    /// Arms a fault for the next `fault.times` matching calls, from any handle on this file.
    /// A fault with `times == 0` affects nothing and is not stored.
    pub fn add_fault(&self, fault: Fault) -> Result<(), SandboxError> {
        if fault.times == 0 {
            return Ok(());
        }
        self.write(|tx| db::add_fault(tx, fault))
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) -> Result<(), SandboxError> {
        self.write(db::clear_faults)
    }

    /// The faults still armed, oldest first, with the calls each has left.
    pub fn faults(&self) -> Result<Vec<Fault>, SandboxError> {
        self.read(db::faults)
    }

    /// From now on, refunds of charge `charge_id` succeed even if it was made with
    /// 4000 0000 0000 5126 (as when a provider's outage ends). [`SandboxError::NoSuchCharge`]
    /// if there is no such charge.
    pub fn heal_refunds(&self, charge_id: &str) -> Result<(), SandboxError> {
        self.write(|tx| db::heal_refunds(tx, charge_id))
    }

    /// Runs one charge or refund: takes the next matching fault, performs the call unless the
    /// fault stops it, commits, then answers as the fault says.
    fn perform<T>(
        &self,
        op: FaultOp,
        call: impl FnOnce(&Transaction<'_>) -> Result<Answer<T>, SandboxError>,
    ) -> Result<T, SandboxError> {
        let (effect, answer) = self.write(|tx| {
            let effect = db::take_fault(tx, op)?;
            let answer = match effect {
                Some(FaultEffect::Timeout) => Err(SandboxError::Timeout),
                Some(FaultEffect::Fail) => Err(SandboxError::Card(
                    holdback_domain::card::CardError::ProcessingError,
                )),
                _ => call(tx)?,
            };
            Ok((effect, answer))
        })?;
        match effect {
            Some(FaultEffect::AnswerLost) => Err(SandboxError::AnswerLost),
            Some(FaultEffect::Stall { ms }) => {
                std::thread::sleep(Duration::from_millis(ms));
                answer
            }
            _ => answer,
        }
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it, whatever answer `f` gives;
    /// a storage error rolls it back.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, SandboxError>,
    ) -> Result<T, SandboxError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs a read on the connection (each statement sees one committed state).
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SandboxError>,
    ) -> Result<T, SandboxError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }
}
