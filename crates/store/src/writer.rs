//! Group commit: one writer task per process takes every queued ledger request, decides them all
//! against one prefetched [`Book`], and commits the result in one durable database transaction.
//!
//! A caller is answered only after the transaction holding its request has committed. A request
//! the ledger rejects is answered with its rejection and leaves the batch untouched: the book
//! applies a transaction wholly or not at all, so the others in the batch go ahead. If the commit
//! itself fails, every caller in that batch is told the write is unavailable, and nothing of the
//! batch was written; retrying with the same transaction id is safe.
//!
//! One bad unit never fails its batch. Its rows are checked before it is decided (no NUL in a
//! text value, every `CHECK` of the row tables), so a unit the database would refuse is refused
//! with [`WriteError::Refused`] before its ledger transaction touches the book. What the checks
//! cannot foresee (a unique or foreign key violation) is caught by a savepoint around each unit's
//! rows: the unit's rows are rolled back, but its ledger postings were already written with the
//! whole batch's, so the batch is rolled back and decided again from scratch without that unit,
//! which alone is answered `Refused`. Only errors about the rows themselves are pinned on a unit
//! (a constraint, a value the database refuses); any other failure still fails the batch.
//!
//! Several processes may write to one PostgreSQL database: each batch first locks the journal
//! head row, which serialises batches across nodes and keeps the sequence gapless. On SQLite the
//! batch runs under `BEGIN IMMEDIATE`, which does the same across processes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use holdback_domain::ledger::{
    AccountOutcome, AccountSpec, Book, Changes, LedgerError, Outcome, TransactionRequest,
};
use holdback_domain::process::Kind;
use holdback_domain::{AccountId, HoldId, TxId};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use sqlx::postgres::PgPool;

use crate::unit::{Statement, Unit};
use crate::{Conflict, Store, StoreError, postgres, sqlite};

/// Most requests decided and committed together.
pub const MAX_BATCH: usize = 1024;

/// A write to the ledger.
#[derive(Debug, Clone)]
pub enum Command {
    OpenAccount(AccountSpec),
    Transact(TransactionRequest),
    /// Everything one decision writes, atomically with its ledger transaction.
    Unit(Box<Unit>),
}

/// The answer to a command that was not rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Account(AccountOutcome),
    Transaction(Outcome),
    /// The unit was written; the outcome of its ledger transaction, if it had one.
    Unit(Option<Outcome>),
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The ledger refused the request by name; nothing was written.
    #[error(transparent)]
    Rejected(#[from] LedgerError),
    /// The database failed; nothing of the batch was written (or, if the failure came during the
    /// commit itself, the outcome is unknown). Retry with the same id.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// What the decision was based on changed before it could be written (an order's version,
    /// an idempotency key now taken); nothing was written. Reload and decide again.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The unit's rows cannot be stored (a text value with a NUL byte, a value its table's
    /// `CHECK` refuses, a unique or foreign key the database refused); nothing of the unit was
    /// written, and the rest of its batch was. Deciding again gives the same rows: the API
    /// answers it as `row_refused`, not as a failure of the system.
    #[error("row refused: {0}")]
    Refused(&'static str),
}

/// The refusal of a unit whose rows the database refused although they passed every check.
pub const ROWS_REFUSED: &str = "the database refused the request's rows";

/// Most times one batch is decided again without the units whose rows the database refused;
/// each attempt finds every such unit of its own, so a second retry is needed only when a unit
/// refused before leaves another unit deciding differently. Past this the batch fails.
pub(crate) const MAX_ATTEMPTS: usize = 4;

pub(crate) type Job = (Command, oneshot::Sender<Result<Reply, WriteError>>);

/// A handle to the process's ledger writer. Cheap to clone; the writer stops when every handle
/// is dropped.
#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

/// Counters of the writer since it started.
#[derive(Debug, Default)]
pub struct Stats {
    /// Database transactions committed (or attempted).
    pub batches: AtomicU64,
    /// Requests decided in them.
    pub requests: AtomicU64,
}

impl Ledger {
    /// Starts the writer task for `store`. Call once per process and share the handle.
    pub fn start(store: Store, clock: Arc<dyn Clock>) -> Ledger {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let stats = Arc::new(Stats::default());
        match store {
            Store::Sqlite(pool) => {
                let path = pool.connect_options().get_filename().to_path_buf();
                sqlite::spawn_writer(path, clock, rx, MAX_BATCH, stats.clone());
            }
            Store::Postgres(pool) => {
                tokio::spawn(run_postgres(pool, clock, rx, MAX_BATCH, stats.clone()));
            }
        }
        Ledger { tx, stats }
    }

    /// (batches, requests) so far: their ratio is the mean group-commit batch size.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.batches.load(Ordering::Relaxed),
            self.stats.requests.load(Ordering::Relaxed),
        )
    }

    pub async fn submit(&self, command: Command) -> Result<Reply, WriteError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.tx
            .send((command, reply_tx))
            .await
            .map_err(|_| WriteError::Unavailable("the ledger writer has stopped".into()))?;
        reply_rx
            .await
            .map_err(|_| WriteError::Unavailable("the ledger writer has stopped".into()))?
    }

    pub async fn open_account(&self, spec: AccountSpec) -> Result<AccountOutcome, WriteError> {
        match self.submit(Command::OpenAccount(spec)).await? {
            Reply::Account(outcome) => Ok(outcome),
            _ => Err(WriteError::Unavailable("mismatched reply".into())),
        }
    }

    pub async fn transact(&self, request: TransactionRequest) -> Result<Outcome, WriteError> {
        match self.submit(Command::Transact(request)).await? {
            Reply::Transaction(outcome) => Ok(outcome),
            _ => Err(WriteError::Unavailable("mismatched reply".into())),
        }
    }

    /// Writes a unit of work: all of it, or (on a rejection or conflict) none of it.
    pub async fn commit(&self, unit: Unit) -> Result<Option<Outcome>, WriteError> {
        match self.submit(Command::Unit(Box::new(unit))).await? {
            Reply::Unit(outcome) => Ok(outcome),
            _ => Err(WriteError::Unavailable("mismatched reply".into())),
        }
    }
}

async fn run_postgres(
    pool: PgPool,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<Job>,
    max: usize,
    stats: Arc<Stats>,
) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max);
    while rx.recv_many(&mut jobs, max).await > 0 {
        // Callers answered by the last commit are usually about to send their next request:
        // one yield lets them join this batch instead of waiting a whole commit for the next.
        if jobs.len() < max {
            tokio::task::yield_now().await;
            while jobs.len() < max {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .requests
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let commands: Vec<&Command> = jobs.iter().map(|(c, _)| c).collect();
        let result = postgres::commit_batch(&pool, &commands, clock.now_ms()).await;
        answer(&mut jobs, result);
    }
}

/// Answers every job of a batch: each its own reply, or all the same failure.
pub(crate) fn answer(
    jobs: &mut Vec<Job>,
    result: Result<Vec<Result<Reply, WriteError>>, StoreError>,
) {
    match result {
        Ok(replies) => {
            for ((_, reply_tx), reply) in jobs.drain(..).zip(replies) {
                let _ = reply_tx.send(reply);
            }
        }
        Err(error) => {
            let message = error.to_string();
            eprintln!("holdback: ledger batch of {} failed: {message}", jobs.len());
            for (_, reply_tx) in jobs.drain(..) {
                let _ = reply_tx.send(Err(WriteError::Unavailable(message.clone())));
            }
        }
    }
}

/// What a batch must prefetch: the ids its commands name.
#[derive(Debug, Default)]
pub(crate) struct Wanted {
    pub accounts: BTreeSet<AccountId>,
    pub holds: BTreeSet<HoldId>,
    pub transactions: BTreeSet<TxId>,
    /// Aggregates whose versions the batch's units check.
    pub versions: BTreeSet<(Kind, String)>,
    pub keys: BTreeSet<(String, String)>,
    /// Orders whose message chains the batch's units append to.
    pub chains: BTreeSet<String>,
}

impl Wanted {
    pub fn of(commands: &[&Command]) -> Wanted {
        let mut wanted = Wanted::default();
        for command in commands {
            let (specs, request) = match command {
                Command::OpenAccount(spec) => (std::slice::from_ref(spec), None),
                Command::Transact(request) => (&[][..], Some(request)),
                Command::Unit(unit) => {
                    wanted
                        .versions
                        .extend(unit.versions().map(|(kind, id, _)| (kind, id.to_string())));
                    if let Some(k) = &unit.idempotency {
                        wanted.keys.insert((k.principal.clone(), k.key.clone()));
                    }
                    wanted
                        .chains
                        .extend(unit.messages.iter().map(|m| m.order.clone()));
                    (&unit.accounts[..], unit.ledger.as_ref())
                }
            };
            wanted.accounts.extend(specs.iter().map(|s| s.id.clone()));
            if let Some(request) = request {
                wanted.transactions.insert(request.id.clone());
                wanted.accounts.extend(request.accounts().cloned());
                wanted.holds.extend(request.holds().cloned());
            }
        }
        wanted
    }
}

/// Rows other than the ledger's that a batch read before deciding.
#[derive(Debug, Default)]
pub(crate) struct Prefetched {
    /// Current version of each named aggregate (absent: none yet).
    pub versions: HashMap<(Kind, String), i64>,
    /// Idempotency keys already in the table: `None` when done, or the token of the request
    /// that claimed it (the one unit allowed to write its response).
    pub keys: HashMap<(String, String), Option<String>>,
    /// The head of each named message chain (absent: no message yet).
    pub heads: crate::messages::Heads,
}

/// The pure middle of a batch: decide every command against the prefetched state. Returns the
/// replies, the ledger changes, and which commands are units to write.
pub(crate) fn decide(
    book: &mut Book,
    prefetched: &mut Prefetched,
    commands: &[&Command],
    now: i64,
    refused: &BTreeSet<usize>,
) -> (Vec<Result<Reply, WriteError>>, Changes, Vec<Accepted>) {
    let mut accepted = Vec::new();
    let replies = decide_more(book, prefetched, commands, 0, now, refused, &mut accepted);
    (replies, book.take_changes(), accepted)
}

/// A unit the batch decided to write: its position in the batch and its row statements.
pub(crate) struct Accepted {
    pub position: usize,
    pub statements: Vec<Statement>,
}

/// Decides `commands`, which follow `first` commands already decided in the same book, and adds
/// the units to write to `accepted`. The units at the positions in `refused` (counted from the
/// batch's start) had their rows refused by the database in an earlier attempt of this batch:
/// they are answered so without being decided.
pub(crate) fn decide_more(
    book: &mut Book,
    prefetched: &mut Prefetched,
    commands: &[&Command],
    first: usize,
    now: i64,
    refused: &BTreeSet<usize>,
    accepted: &mut Vec<Accepted>,
) -> Vec<Result<Reply, WriteError>> {
    commands
        .iter()
        .enumerate()
        .map(|(i, command)| match command {
            Command::OpenAccount(spec) => book
                .open_account(spec.clone(), now)
                .map(Reply::Account)
                .map_err(WriteError::from),
            Command::Transact(request) => book
                .execute(request, now)
                .map(Reply::Transaction)
                .map_err(WriteError::from),
            Command::Unit(_) if refused.contains(&(first + i)) => {
                Err(WriteError::Refused(ROWS_REFUSED))
            }
            Command::Unit(unit) => decide_unit(book, prefetched, unit, now).map(|(reply, rows)| {
                accepted.push(Accepted {
                    position: first + i,
                    statements: rows,
                });
                reply
            }),
        })
        .collect()
}

/// Decides one unit: its rows are built and checked first, so a unit the database would refuse
/// leaves the book untouched.
fn decide_unit(
    book: &mut Book,
    prefetched: &mut Prefetched,
    unit: &Unit,
    now: i64,
) -> Result<(Reply, Vec<Statement>), WriteError> {
    let rows = unit.rows(now).map_err(WriteError::Refused)?;
    if let Some(k) = &unit.idempotency
        && let Some(holder) = prefetched.keys.get(&(k.principal.clone(), k.key.clone()))
        && (holder.is_none() || *holder != k.claim)
    {
        // Done, or claimed by another request: this one's claim was lost (its lease passed).
        return Err(WriteError::Conflict(Conflict::KeyUsed));
    }
    for (kind, id, expected) in unit.versions() {
        let current = prefetched
            .versions
            .get(&(kind, id.to_string()))
            .copied()
            .unwrap_or(0);
        if current != expected {
            return Err(WriteError::Conflict(Conflict::VersionMoved));
        }
    }
    let heads = chain_heads(&prefetched.heads, unit)?;
    let outcome = book.execute_opening(&unit.accounts, unit.ledger.as_ref(), now)?;
    if matches!(outcome, Some(Outcome::Exists(_))) && unit.versions().next().is_some() {
        // The ledger id was used before, by another decision: writing these rows would pair
        // them with postings made for something else.
        return Err(WriteError::Conflict(Conflict::LedgerIdUsed));
    }
    for (kind, id, expected) in unit.versions() {
        prefetched
            .versions
            .insert((kind, id.to_string()), expected + 1);
    }
    if let Some(k) = &unit.idempotency {
        prefetched
            .keys
            .insert((k.principal.clone(), k.key.clone()), None);
    }
    prefetched.heads.extend(heads);
    Ok((Reply::Unit(outcome), rows))
}

/// The chain heads after the unit's messages, if each follows the head before it: its `seq`
/// the head's plus one (1 for a chain's first) and its `prev_hash` the head's hash (the genesis
/// hash for a chain's first). Otherwise another message came first: the unit is refused.
fn chain_heads(
    heads: &crate::messages::Heads,
    unit: &Unit,
) -> Result<crate::messages::Heads, WriteError> {
    use holdback_domain::message::GENESIS_HASH;
    let mut after = crate::messages::Heads::new();
    for m in &unit.messages {
        let (seq, hash) = after
            .get(&m.order)
            .or_else(|| heads.get(&m.order))
            .map_or((0, GENESIS_HASH), |(s, h)| (*s, h.as_str()));
        if m.seq != seq + 1 || m.prev_hash != hash {
            return Err(WriteError::Conflict(Conflict::ChainMoved));
        }
        after.insert(m.order.clone(), (m.seq, m.hash.clone()));
    }
    Ok(after)
}

/// How one attempt at a batch ended, short of a database failure.
pub(crate) enum Attempt {
    /// Committed: every command's reply.
    Committed(Vec<Result<Reply, WriteError>>),
    /// Rolled back, because the database refused the rows of the units at these positions.
    Refused(Vec<usize>),
}

pub(crate) fn conflict(what: Conflict) -> StoreError {
    StoreError::Conflict(what)
}
