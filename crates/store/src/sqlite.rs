//! The SQLite ledger writer: a thread of its own with a connection of its own.
//!
//! sqlx runs each SQLite statement on a worker thread and hands it back and forth with the async
//! caller; for a writer that runs a few hundred statements per batch those hand-offs cost more
//! than the statements. So the writer keeps one synchronous connection (rusqlite, linked to the
//! same SQLite library as sqlx) on a dedicated thread and does the whole batch there: `BEGIN
//! IMMEDIATE`, prefetch, decide, persist with cached prepared statements, `COMMIT`. Reads and
//! migrations stay on the sqlx pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::collections::{BTreeSet, HashMap};

use holdback_domain::AccountId;
use holdback_domain::ledger::{Account, Book, Changes};
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use tokio::sync::mpsc;

use crate::aggregates::select_version;
use crate::clock::Clock;
use crate::idempotency::SELECT_KEY_HOLDER;
use crate::writer::{
    Attempt, Command, Job, MAX_ATTEMPTS, Prefetched, Reply, Stats, Wanted, WriteError, conflict,
    decide_more,
};
use crate::{Conflict, StoreError, rows};

pub(crate) const SELECT_TRIGGER_NAMES: &str =
    "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name";

/// Opens the writer's connection with the same settings as the pool's.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "journal_mode is {mode}, not WAL"
        )));
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Starts the writer thread for the SQLite file at `path`.
pub(crate) fn spawn_writer(
    path: PathBuf,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<Job>,
    max: usize,
    stats: Arc<Stats>,
) {
    let run = move || {
        let checkpointer = Checkpointer::start(path.clone());
        let mut conn: Option<Connection> = None;
        let mut memory = Memory::default();
        let mut jobs: Vec<Job> = Vec::with_capacity(max);
        let mut answered = 0;
        while rx.blocking_recv_many(&mut jobs, max) > 0 {
            let gather = Gather {
                rx: &mut rx,
                max,
                target: answered.min(max),
            };
            let now = clock.now_ms();
            let result = match conn.as_mut() {
                Some(c) => commit_batch(c, &mut jobs, gather, now, &mut memory),
                None => open(&path).and_then(|c| {
                    commit_batch(conn.insert(c), &mut jobs, gather, now, &mut memory)
                }),
            };
            answered = jobs.len();
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats
                .requests
                .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            crate::writer::answer(&mut jobs, result);
        }
        checkpointer.stop();
    };
    if let Err(e) = std::thread::Builder::new()
        .name("holdback-sqlite-writer".into())
        .spawn(run)
    {
        // Without its thread the receiver is dropped, and every submit reports the writer gone.
        eprintln!("holdback: cannot start the SQLite writer thread: {e}");
    }
}

/// How often the background checkpointer copies committed WAL frames into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Moves WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the
/// commit that crosses the threshold, copying the WAL into the database file and syncing it while
/// every caller of that batch waits. The writer's connection turns it off; this thread runs a
/// `PASSIVE` checkpoint on a connection of its own, which proceeds alongside the writer, and the
/// writer restarts the WAL from its beginning once a checkpoint has caught up.
struct Checkpointer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: PathBuf) -> Checkpointer {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("holdback-sqlite-checkpoint".into())
            .spawn(move || {
                let Ok(conn) = open(&path) else { return };
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        eprintln!("holdback: WAL checkpoint failed: {e}");
                    }
                }
            })
            .ok();
        Checkpointer { stop, thread }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long the writer waits, at most, for the callers it has just answered to come back.
const LINGER: Duration = Duration::from_micros(200);

/// Where a batch takes more jobs from while it decides the first ones. Callers answered by the
/// last commit usually send their next request at once; without a pause they would miss this
/// batch and wait a whole commit for the next. So the writer decides what it has, then takes
/// what has come meanwhile, until as many jobs as it last answered are here or [`LINGER`] has
/// passed. A lone caller (last batch of one) never waits.
struct Gather<'a> {
    rx: &'a mut mpsc::Receiver<Job>,
    max: usize,
    target: usize,
}

impl Gather<'_> {
    /// Adds queued jobs to `jobs`, waiting for them up to [`LINGER`] after `start`. False when
    /// the batch is complete: nothing came and the target is met, the batch is full, or the
    /// time is up.
    fn more(&mut self, jobs: &mut Vec<Job>, start: std::time::Instant) -> bool {
        loop {
            let before = jobs.len();
            while jobs.len() < self.max {
                match self.rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if jobs.len() > before {
                return true;
            }
            if jobs.len() >= self.target || jobs.len() >= self.max || start.elapsed() >= LINGER {
                return false;
            }
            std::thread::sleep(Duration::from_micros(20));
        }
    }
}

/// What the writer keeps between batches: the accounts as its own last commit left them, valid
/// while the journal head is still that commit's (another process writing to the same file moves
/// the head, and the writer then forgets them all). Only ledger entries change an account row,
/// and every entry moves the head.
#[derive(Default)]
struct Memory {
    head_seq: Option<i64>,
    accounts: HashMap<AccountId, Account>,
}

/// Most accounts the writer remembers; past this it starts again from empty.
const MEMORY_ACCOUNTS: usize = 100_000;

impl Memory {
    fn forget(&mut self) {
        self.head_seq = None;
        self.accounts.clear();
    }

    fn remember(&mut self, head_seq: i64, changes: &Changes) {
        if self.accounts.len() > MEMORY_ACCOUNTS {
            self.accounts.clear();
        }
        for a in changes
            .opened_accounts
            .iter()
            .chain(&changes.updated_accounts)
        {
            self.accounts.insert(a.spec.id.clone(), a.clone());
        }
        self.head_seq = Some(head_seq);
    }
}

/// Runs one batch, taking more jobs from `gather` while it decides. Transaction ids are not
/// looked up first: almost every id is new, and the journal's unique index checks them anyway as
/// the entries go in. If one was committed before, the batch is rolled back and run again (with
/// the jobs it has) with every id looked up, so that its request is answered with the original
/// receipt (or rejected, if its content differs). If the database refuses a unit's rows, the
/// batch is rolled back and run again without that unit, which alone is refused.
fn commit_batch(
    conn: &mut Connection,
    jobs: &mut Vec<Job>,
    gather: Gather<'_>,
    now: i64,
    memory: &mut Memory,
) -> Result<Vec<Result<Reply, WriteError>>, StoreError> {
    let mut gather = Some(gather);
    let mut look_up_ids = false;
    let mut refused = BTreeSet::new();
    let mut attempts = 0;
    let result = loop {
        attempts += 1;
        match try_batch(
            conn,
            jobs,
            gather.take(),
            now,
            memory,
            look_up_ids,
            &refused,
        ) {
            Err(StoreError::Conflict(Conflict::IdCommittedBefore)) if !look_up_ids => {
                look_up_ids = true
            }
            Ok(Attempt::Committed(replies)) => break Ok(replies),
            Ok(Attempt::Refused(units)) if attempts < MAX_ATTEMPTS => refused.extend(units),
            Ok(Attempt::Refused(_)) => break Err(conflict(Conflict::RowsKeptRefused)),
            Err(e) => break Err(e),
        }
    };
    if result.is_err() {
        memory.forget();
    }
    result
}

/// Whether the database refused a statement for the rows it writes (a constraint, a value), so
/// that the failure belongs to the unit that wrote them and not to the batch.
fn refuses_rows(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{ConstraintViolation, TooBig, TypeMismatch};
    matches!(
        error.sqlite_error_code(),
        Some(ConstraintViolation | TooBig | TypeMismatch)
    )
}

fn try_batch(
    conn: &mut Connection,
    jobs: &mut Vec<Job>,
    mut gather: Option<Gather<'_>>,
    now: i64,
    memory: &mut Memory,
    look_up_ids: bool,
    refused: &BTreeSet<usize>,
) -> Result<Attempt, StoreError> {
    #[allow(clippy::disallowed_methods)] // a pause, not a time of day
    let start = std::time::Instant::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let head = tx
        .prepare_cached(rows::SELECT_HEAD)?
        .query_row([], |row| Ok(rows::head(row)))??;
    if memory.head_seq != Some(head.seq) {
        memory.forget();
    }
    let mut book = Book::new(head);
    let mut prefetched = Prefetched::default();
    let mut replies = Vec::with_capacity(jobs.len());
    let mut accepted = Vec::new();
    loop {
        let decided = replies.len();
        let commands: Vec<&Command> = jobs[decided..].iter().map(|(c, _)| c).collect();
        let wanted = Wanted::of(&commands);
        load(&tx, &mut book, &wanted, memory, look_up_ids)?;
        load_rows(&tx, &mut prefetched, &wanted)?;
        replies.extend(decide_more(
            &mut book,
            &mut prefetched,
            &commands,
            decided,
            now,
            refused,
            &mut accepted,
        ));
        if !gather.as_mut().is_some_and(|g| g.more(jobs, start)) {
            break;
        }
    }
    let changes = book.take_changes();
    if !changes.is_empty() {
        persist(&tx, &changes, look_up_ids)?;
    }
    // Each unit's rows under a savepoint of their own: a unit whose rows the database refuses
    // is rolled back to it, and the others go on, so that one attempt finds every such unit.
    let mut bad = Vec::new();
    for unit in &accepted {
        tx.prepare_cached("SAVEPOINT unit")?.execute([])?;
        let written = unit.statements.iter().try_for_each(|(sql, values)| {
            tx.prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))
                .map(drop)
        });
        match written {
            Ok(()) => {}
            Err(e) if refuses_rows(&e) => {
                eprintln!("holdback: the rows of a unit were refused: {e}");
                tx.prepare_cached("ROLLBACK TO unit")?.execute([])?;
                bad.push(unit.position);
            }
            Err(e) => return Err(e.into()),
        }
        tx.prepare_cached("RELEASE unit")?.execute([])?;
    }
    if !bad.is_empty() {
        // The refused units' ledger postings went in with the batch's: none of it may commit.
        return Ok(Attempt::Refused(bad));
    }
    tx.commit()?;
    memory.remember(book.head().seq, &changes);
    Ok(Attempt::Committed(replies))
}

/// Adds to `book` what `wanted` names and the book does not hold yet (what it holds may already
/// be changed by this batch's decisions): holds, then accounts, from the writer's memory or the
/// database; with `look_up_ids`, committed transactions too.
fn load(
    conn: &Connection,
    book: &mut Book,
    wanted: &Wanted,
    memory: &Memory,
    look_up_ids: bool,
) -> Result<(), StoreError> {
    let mut account_ids: BTreeSet<&AccountId> = wanted.accounts.iter().collect();
    let mut held = Vec::new();
    let mut select = conn.prepare_cached(rows::SELECT_HOLD_BY_ID)?;
    for id in wanted.holds.iter().filter(|h| book.hold(h).is_none()) {
        if let Some(hold) = select
            .query_row([id.as_str()], |row| Ok(rows::hold(row)))
            .optional()?
        {
            held.push(hold?);
        }
    }
    for hold in &held {
        account_ids.extend([&hold.debit, &hold.credit]);
    }
    let mut select = conn.prepare_cached(rows::SELECT_ACCOUNT_BY_ID)?;
    for id in account_ids {
        if book.account(id).is_some() {
            continue;
        }
        if let Some(account) = memory.accounts.get(id) {
            book.load_account(account.clone());
        } else if let Some(account) = select
            .query_row([id.as_str()], |row| Ok(rows::account(row)))
            .optional()?
        {
            book.load_account(account?);
        }
    }
    held.into_iter().for_each(|h| book.load_hold(h));
    if look_up_ids {
        // A transaction this batch decided is not in the journal yet, so nothing overwrites it.
        let mut select = conn.prepare_cached(rows::SELECT_COMMITTED_BY_TX_ID)?;
        for id in &wanted.transactions {
            if let Some(known) = select
                .query_row([id.as_str()], |row| Ok(rows::committed(row)))
                .optional()?
            {
                let (fingerprint, receipt) = known?;
                book.load_transaction(fingerprint, receipt);
            }
        }
    }
    Ok(())
}

/// Adds the order versions, idempotency keys (done or claimed) and message chain heads named by
/// the batch's units, but for those already known (this batch's decisions may have moved them
/// on).
fn load_rows(
    conn: &Connection,
    prefetched: &mut Prefetched,
    wanted: &Wanted,
) -> Result<(), StoreError> {
    for (kind, id) in &wanted.versions {
        let key = (*kind, id.clone());
        if prefetched.versions.contains_key(&key) {
            continue;
        }
        let mut select = conn.prepare_cached(select_version(*kind))?;
        if let Some(v) = select.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
            prefetched.versions.insert(key, v);
        }
    }
    let mut select = conn.prepare_cached(SELECT_KEY_HOLDER)?;
    for (principal, key) in &wanted.keys {
        let k = (principal.clone(), key.clone());
        if prefetched.keys.contains_key(&k) {
            continue;
        }
        // The batch holds the database's write lock: no claim changes until it commits.
        if let Some(holder) = select
            .query_row([principal, key], |r| r.get::<_, Option<String>>(0))
            .optional()?
        {
            prefetched.keys.insert(k, holder);
        }
    }
    crate::messages::load_heads_sqlite(conn, &mut prefetched.heads, &wanted.chains)?;
    Ok(())
}

/// Writes a batch's ledger changes. With `ids_looked_up` false, a transaction id already in the
/// journal is [`Conflict::IdCommittedBefore`].
fn persist(conn: &Connection, changes: &Changes, ids_looked_up: bool) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(rows::INSERT_ACCOUNT)?;
    for a in &changes.opened_accounts {
        insert.execute(params![
            a.spec.id.as_str(),
            a.spec.kind.code(),
            a.spec.currency.code(),
            a.spec.bounded,
            a.created_at
        ])?;
    }
    let mut journal = conn.prepare_cached(
        "INSERT INTO journal (seq, tx_id, fingerprint, committed_at, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tx_id) DO NOTHING",
    )?;
    let mut posting = conn.prepare_cached(
        "INSERT INTO postings (seq, idx, kind, hold_id, debit_account, credit_account, currency, \
         posted, pending_delta, debit_prev_seq, debit_prev_idx, credit_prev_seq, \
         credit_prev_idx) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )?;
    for e in &changes.entries {
        let inserted = journal.execute(params![
            e.seq,
            e.tx_id.as_str(),
            e.fingerprint.to_hex(),
            e.committed_at,
            e.prev_hash.to_hex(),
            e.hash.to_hex()
        ])?;
        if inserted != 1 {
            return Err(conflict(if ids_looked_up {
                Conflict::IdNotNew
            } else {
                Conflict::IdCommittedBefore
            }));
        }
        for (idx, p) in e.postings.iter().enumerate() {
            let (debit_prev_seq, debit_prev_idx) = rows::posting_ref_columns(p.debit_prev);
            let (credit_prev_seq, credit_prev_idx) = rows::posting_ref_columns(p.credit_prev);
            posting.execute(params![
                e.seq,
                idx as i64,
                p.kind.code(),
                p.hold.as_ref().map(|h| h.as_str()),
                p.debit.as_str(),
                p.credit.as_str(),
                p.currency.code(),
                p.posted,
                p.pending_delta,
                debit_prev_seq,
                debit_prev_idx,
                credit_prev_seq,
                credit_prev_idx
            ])?;
        }
    }
    let mut update = conn.prepare_cached(rows::UPDATE_ACCOUNT_SUMS)?;
    for a in changes
        .opened_accounts
        .iter()
        .chain(&changes.updated_accounts)
    {
        // An account a posting touched has a newest posting; one only opened has nothing to
        // update.
        if a.last_posting.is_some() {
            let (last_seq, last_idx) = rows::posting_ref_columns(a.last_posting);
            update.execute(params![
                a.debits_posted,
                a.credits_posted,
                a.debits_pending,
                a.credits_pending,
                last_seq,
                last_idx,
                a.spec.id.as_str()
            ])?;
        }
    }
    let mut insert = conn.prepare_cached(rows::INSERT_HOLD)?;
    for h in &changes.opened_holds {
        let (status, posted_amount, resolved_seq) = rows::hold_status_columns(h.status);
        insert.execute(params![
            h.id.as_str(),
            h.debit.as_str(),
            h.credit.as_str(),
            h.amount.currency().code(),
            h.amount.minor(),
            status,
            posted_amount,
            h.created_seq,
            resolved_seq
        ])?;
    }
    let mut resolve = conn.prepare_cached(rows::RESOLVE_HOLD)?;
    for h in &changes.resolved_holds {
        let (status, posted_amount, resolved_seq) = rows::hold_status_columns(h.status);
        if resolve.execute(params![status, posted_amount, resolved_seq, h.id.as_str()])? != 1 {
            return Err(conflict(Conflict::HoldNotOpen));
        }
    }
    if let Some(head) = changes.head {
        let first = changes.entries.first().map_or(head.seq, |e| e.seq);
        let moved = conn.prepare_cached(rows::UPDATE_HEAD)?.execute(params![
            head.seq,
            head.hash.to_hex(),
            head.committed_at,
            first - 1
        ])?;
        if moved != 1 {
            return Err(conflict(Conflict::HeadMoved));
        }
    }
    Ok(())
}
