//! Importing a carrier's remittance file: read through the carrier's profile, every line
//! classified against the parcels holdback knows, matched lines posted to the ledger once.
//!
//! The rules:
//!
//! - **A file is refused whole, or read whole.** A first pass reads every line and throws them
//!   away: bytes not in the declared encoding, a bank reference in spreadsheet exponent form, a
//!   date the profile cannot settle, refuse the file by name before anything is posted.
//! - **Once per file, once per batch.** The same bytes again answer `already_imported` and post
//!   nothing; the same batch id with other bytes is a conflict (`remittance_batch_conflict`).
//! - **Matched lines post, each once, ever.** The carrier's receivable is cleared by the cash its
//!   parcel collected; what the carrier paid is cash in; each deduction is an expense of its kind;
//!   withholding tax is a tax asset. A returned parcel's charge is an expense paid out of the
//!   cash. The parcel is marked remitted in the same transaction, under its version, so no line
//!   can post it twice. Short or over paid lines, unknown parcels and duplicates post nothing.
//! - **A reversal takes back an earlier batch's payment** for a parcel. When it takes back
//!   exactly what that payment paid (its net by the rate card), it posts the payment undone:
//!   the parcel's cash is receivable from the carrier again, the cash it takes back leaves,
//!   and the deductions it gives back (itemised, or else the rate card's) are taken off their
//!   expenses. The parcel is no longer remitted (a later batch may pay it again; an order not
//!   yet released waits for that), and remembers the batch that reversed it. A reversal of
//!   anything else (`nothing_to_reverse`) posts nothing; one of another amount
//!   (`reversal_amount_mismatch`) posts nothing unless an operator accepts it.
//! - **Chunks.** Lines are posted in chunks of [`CHUNK`], each in its own transaction with the
//!   remittance's progress; an import stopped by a crash is resumed by importing the same file
//!   again: chunks already posted are classified again but not posted.
//! - **Collections** are reported by class: those the file does not have, `missing_from_file`
//!   when their cycle has passed, `pending_next_cycle` otherwise; those it names without paying,
//!   `already_settled` (an earlier batch paid them) or `reversed` (it takes that payment back).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Arc;

use holdback_domain::cod::{CodAccounts, Parcel, ParcelState, spec};
use holdback_domain::ledger::{AccountKind, AccountSpec, TransactionRequest, TransferRequest};
use holdback_domain::{AccountId, Currency, ErrorCode, Money, TxId};
use holdback_remit::{
    Collection, CollectionClass, CollectionState, Collections, Contract, DeductionKind, FileError,
    LineClass, LineResult, Profile, RawLine, Reconciler, unremitted,
};
use holdback_store::Unit;
use holdback_store::remittances::{ChunkDone, RemitMark, RemittanceLineRow, RemittanceRow};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{App, AppError, Principal, Role};

/// The example carrier profiles, by file name and by carrier id.
pub fn example_profiles() -> BTreeMap<String, Profile> {
    let mut out = BTreeMap::new();
    for (name, text) in holdback_remit::EXAMPLE_PROFILES {
        if let Ok(p) = Profile::from_toml(text) {
            out.insert(p.carrier.clone(), p.clone());
            out.insert((*name).to_string(), p);
        }
    }
    out
}

/// The profile named `name` (a profile's name or its carrier's id).
pub fn profile<'a>(app: &'a App, name: &str) -> Result<&'a Profile, AppError> {
    app.policy.carrier_profiles.get(name).ok_or_else(|| {
        AppError::param(
            ErrorCode::CarrierProfileNotFound,
            "carrier_profile",
            format!("no carrier profile {name:?}"),
        )
    })
}

/// A remittance as the API shows it: its report, or (while importing) its progress.
pub async fn get(app: &App, principal: &Principal, id: &str) -> Result<Value, AppError> {
    let r = app.store.remittance(id).await?.ok_or(AppError::NotFound)?;
    if r.livemode != principal.livemode || may_import(principal, &r.carrier).is_err() {
        return Err(AppError::NotFound);
    }
    if r.status == "done" {
        let mut v: Value = serde_json::from_str(&r.report).unwrap_or(Value::Null);
        v["status"] = json!("done");
        return Ok(v);
    }
    Ok(json!({
        "id": r.id,
        "object": "remittance",
        "livemode": r.livemode,
        "created": r.created_at.div_euclid(1000),
        "status": r.status,
        "carrier": r.carrier,
        "batch": r.batch,
        "file_sha256": r.file_sha256,
        "chunks_done": r.chunks_done,
    }))
}

/// Lines posted per transaction.
pub const CHUNK: usize = 5_000;

/// Where a remittance file's bytes are.
#[derive(Debug, Clone)]
pub enum Source {
    Path(std::path::PathBuf),
    Bytes(Arc<Vec<u8>>),
}

impl Source {
    fn reader(&self) -> Result<Box<dyn Read + Send>, AppError> {
        Ok(match self {
            Source::Path(p) => Box::new(std::io::BufReader::new(
                std::fs::File::open(p).map_err(|e| refused("file_unreadable", &e.to_string()))?,
            )),
            Source::Bytes(b) => Box::new(std::io::Cursor::new(SharedBytes(b.clone()))),
        })
    }

    fn sha256(&self) -> Result<String, AppError> {
        let mut h = Sha256::new();
        let mut r = self.reader()?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = r
                .read(&mut buf)
                .map_err(|e| refused("file_unreadable", &e.to_string()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }
}

struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn refused(code: &str, message: &str) -> AppError {
    let error = match code {
        "file_encoding_invalid" => ErrorCode::FileEncodingInvalid,
        "reference_in_exponent_form" => ErrorCode::ReferenceInExponentForm,
        "date_ambiguous" => ErrorCode::DateAmbiguous,
        _ => ErrorCode::RemittanceFileInvalid,
    };
    AppError::param(error, "file", format!("{code}: {message}"))
}

fn file_error(e: &FileError) -> AppError {
    refused(e.code(), &e.to_string())
}

/// What an import reports as it goes: lines posted so far, of the file's lines.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// The parcels of one chunk, as the reconciler looks them up.
struct Found<'a> {
    by_tracking: HashMap<String, usize>,
    by_order: HashMap<String, usize>,
    parcels: &'a [(Parcel, i64)],
    batch: &'a str,
}

fn collection(p: &Parcel, batch: &str) -> Collection {
    let (state, at) = match &p.state {
        ParcelState::InTransit { .. } => (CollectionState::NotCollected, None),
        ParcelState::Collected { at, remitted } => (
            match (remitted, &p.reversed) {
                (Some(r), _) if r.batch != batch => CollectionState::Settled {
                    batch: r.batch.clone(),
                },
                // read again after this batch reversed it (a resumed import)
                (None, Some(r)) if r.batch == batch => CollectionState::Reversed,
                _ => CollectionState::Collected,
            },
            Some(*at),
        ),
        ParcelState::Returned { at, remitted, .. } => (
            match remitted {
                Some(r) if r.batch != batch => CollectionState::Settled {
                    batch: r.batch.clone(),
                },
                _ => CollectionState::Rto,
            },
            Some(*at),
        ),
    };
    Collection {
        parcel: p.id.clone(),
        tracking: p.tracking.clone(),
        order_ref: p.order.clone(),
        collected: match p.state {
            ParcelState::Collected { .. } => p.cash.minor(),
            _ => 0,
        },
        state,
        collected_at: at,
    }
}

impl Collections for Found<'_> {
    fn by_tracking(&mut self, tracking: &str) -> Option<Collection> {
        let i = *self.by_tracking.get(tracking)?;
        Some(collection(&self.parcels[i].0, self.batch))
    }

    fn by_order_ref(&mut self, order_ref: &str) -> Option<Collection> {
        let i = *self.by_order.get(order_ref)?;
        Some(collection(&self.parcels[i].0, self.batch))
    }
}

/// Who may import for `carrier`: the platform (an operator), or the carrier itself.
pub(crate) fn may_import(principal: &Principal, carrier: &str) -> Result<(), AppError> {
    match &principal.role {
        Role::Platform => Ok(()),
        Role::Carrier(c) if c == carrier => Ok(()),
        _ => Err(AppError::rejected(
            ErrorCode::NotPermitted,
            "only the platform, or the carrier itself, imports a carrier's remittance",
        )),
    }
}

/// Imports one remittance file of `profile`'s carrier; answers the report.
pub async fn import(
    app: &App,
    principal: &Principal,
    profile: &Profile,
    source: &Source,
    progress: Progress<'_>,
) -> Result<Value, AppError> {
    may_import(principal, &profile.carrier)?;
    let sha = source.sha256()?;
    // pass 1: the whole file must read, or nothing is posted
    let check = holdback_remit::validate(profile, source.reader()?).map_err(|e| file_error(&e))?;
    let batch = first_batch(profile, source)?.unwrap_or_else(|| format!("file_{}", &sha[..16]));
    let existing = app
        .store
        .remittance_of(&profile.carrier, principal.livemode, &sha, &batch)
        .await?;
    let row = match existing.as_slice() {
        [] => {
            let row = RemittanceRow {
                id: app.ids.next("rmt"),
                carrier: profile.carrier.clone(),
                batch: batch.clone(),
                file_sha256: sha.clone(),
                livemode: principal.livemode,
                currency: profile.currency.code().to_string(),
                status: "importing".into(),
                chunks_done: 0,
                lines: 0,
                posted: 0,
                gross: 0,
                deductions: 0,
                net: 0,
                report: String::new(),
                created_at: app.clock.now_ms(),
            };
            if !app.store.start_remittance(&row).await? {
                return Err(AppError::Conflict(holdback_store::Conflict::KeyUsed));
            }
            row
        }
        [r] if r.file_sha256 == sha && r.livemode == principal.livemode => {
            if r.status == "done" {
                let mut report: Value = serde_json::from_str(&r.report).unwrap_or(Value::Null);
                report["already_imported"] = json!(true);
                report["posted_now"] = json!(0);
                return Ok(report);
            }
            r.clone()
        }
        _ => {
            return Err(AppError::param(
                ErrorCode::RemittanceBatchConflict,
                "file",
                format!(
                    "batch {batch:?} of {} was imported with other figures",
                    profile.carrier
                ),
            ));
        }
    };
    post(app, profile, source, row, check.lines, progress).await
}

/// The batch id the file gives on its first line that has one.
fn first_batch(profile: &Profile, source: &Source) -> Result<Option<String>, AppError> {
    for line in holdback_remit::open(profile, source.reader()?).map_err(|e| file_error(&e))? {
        let line = line.map_err(|e| file_error(&e))?;
        if let Some(b) = line.batch.filter(|b| !b.is_empty()) {
            return Ok(Some(b));
        }
        if !line.summary {
            break;
        }
    }
    Ok(None)
}

/// Pass 2: classify every line, post the matched ones chunk by chunk, then report.
async fn post(
    app: &App,
    profile: &Profile,
    source: &Source,
    mut row: RemittanceRow,
    total: u64,
    progress: Progress<'_>,
) -> Result<Value, AppError> {
    let mut rec = Reconciler::new(profile);
    let mut in_file = InFile::default();
    let mut lines = holdback_remit::open(profile, source.reader()?).map_err(|e| file_error(&e))?;
    let mut chunk_no = 0i64;
    let mut posted_now = 0u64;
    let mut read = 0u64;
    let mut latest = 0i64;
    loop {
        let mut raw: Vec<RawLine> = Vec::with_capacity(CHUNK);
        for line in lines.by_ref() {
            raw.push(line.map_err(|e| file_error(&e))?);
            if raw.len() == CHUNK {
                break;
            }
        }
        if raw.is_empty() {
            break;
        }
        chunk_no += 1;
        read += raw.len() as u64;
        latest = latest.max(raw.iter().filter_map(|l| l.date_ms).max().unwrap_or(0));
        let posted = chunk(app, profile, &mut rec, &mut in_file, raw, &row, chunk_no).await?;
        posted_now += posted;
        progress(read, total);
    }
    let now = app.clock.now_ms();
    let date = if latest > 0 { latest } else { now };
    let report = finish(app, profile, &rec, &in_file, &row, date).await?;
    let totals = rec.totals();
    row.lines = i64::try_from(totals.lines).unwrap_or(i64::MAX);
    row.gross = totals.gross;
    row.deductions = totals.deductions;
    row.net = totals.net;
    row.report = report.to_string();
    app.store.finish_remittance(&row).await?;
    crate::parcels::release_remitted(app, 1_000).await?;
    let mut report = report;
    report["already_imported"] = json!(false);
    report["posted_now"] = json!(posted_now);
    Ok(report)
}

/// Classifies one chunk and posts its matched lines in one unit (unless a run before this one
/// posted it already). Returns the lines it posted.
#[allow(clippy::too_many_arguments)]
async fn chunk(
    app: &App,
    profile: &Profile,
    rec: &mut Reconciler,
    in_file: &mut InFile,
    raw: Vec<RawLine>,
    row: &RemittanceRow,
    chunk_no: i64,
) -> Result<u64, AppError> {
    let mut trackings = Vec::new();
    let mut orders = Vec::new();
    for l in &raw {
        if !l.tracking.is_empty() {
            trackings.push(l.tracking.clone());
            let stem = profile.tracking_stem(&l.tracking);
            if stem != l.tracking {
                trackings.push(stem.to_string());
            }
        }
        if let Some(o) = l.order_ref.as_ref().filter(|o| !o.is_empty()) {
            orders.push(o.clone());
        }
    }
    let parcels = app
        .store
        .parcels_for_lines(&profile.carrier, row.livemode, &trackings, &orders)
        .await?;
    let mut found = Found {
        by_tracking: HashMap::new(),
        by_order: HashMap::new(),
        parcels: &parcels,
        batch: &row.batch,
    };
    // (all of the remittance's mode: the lookup names it)
    for (i, (p, _)) in parcels.iter().enumerate() {
        found.by_tracking.insert(p.tracking.clone(), i);
        found.by_order.insert(p.order.clone(), i);
    }
    let results: Vec<LineResult> = raw.into_iter().map(|l| rec.line(l, &mut found)).collect();
    let by_id: HashMap<&str, &(Parcel, i64)> =
        parcels.iter().map(|p| (p.0.id.as_str(), p)).collect();
    for r in &results {
        if let Some(p) = &r.parcel {
            in_file.add(p);
            if let (Some(class), Some((parcel, _))) = (r.collection, by_id.get(p.as_str())) {
                in_file.list(listed(parcel, &row.batch, class));
            }
        }
    }
    if chunk_no <= row.chunks_done {
        return Ok(0);
    }
    let now = app.clock.now_ms();
    let mut book = Book::new(row, profile.currency)?;
    let mut unit = Unit::default();
    // the parcels paid, marked remitted under the versions read (one statement per 500)
    let mut mark = RemitMark {
        batch: row.batch.clone(),
        at: now,
        ..RemitMark::default()
    };
    for r in &results {
        unit.remittance_lines.push(line_row(row, r));
        let Some(&(parcel, version)) = r.parcel.as_deref().and_then(|id| by_id.get(id)) else {
            continue;
        };
        if r.class == LineClass::Matched && book.post(parcel, r.reported_net, &r.deductions) {
            mark.parcels.push((parcel.id.clone(), *version));
        }
        let reverses = r.class == LineClass::Reversal
            && r.delta == 0
            && r.collection == Some(CollectionClass::Reversed);
        if reverses
            && book.reverse(
                parcel,
                r.reported_net,
                &r.deductions,
                Some(&profile.contract),
                &row.batch,
            )
        {
            mark.reversed.push((parcel.id.clone(), *version));
        }
    }
    let posted = i64::try_from(mark.parcels.len() + mark.reversed.len()).unwrap_or(i64::MAX);
    if mark.touched().next().is_some() {
        unit.remitted = Some(mark);
    }
    unit.accounts = book.specs()?;
    let transfers = book.transfers()?;
    if !transfers.is_empty() {
        unit.ledger = Some(TransactionRequest {
            id: TxId::parse(&format!("{}_{chunk_no}", row.id))?,
            transfers,
        });
    }
    unit.remittance_chunk = Some(ChunkDone {
        remittance: row.id.clone(),
        chunk: chunk_no,
        posted,
    });
    app.ledger.commit(unit).await?;
    Ok(u64::try_from(posted).unwrap_or(0))
}

fn line_row(row: &RemittanceRow, r: &LineResult) -> RemittanceLineRow {
    RemittanceLineRow {
        remittance: row.id.clone(),
        line_no: i64::try_from(r.row).unwrap_or(i64::MAX),
        tracking: r.tracking.clone(),
        parcel: r.parcel.clone(),
        class: r.class.code().to_string(),
        expected_net: r.expected_net,
        reported_net: r.reported_net,
        delta: r.delta,
        deductions: r
            .deductions
            .iter()
            .map(|(k, v)| format!("{}={v}", k.code()))
            .collect::<Vec<_>>()
            .join("|"),
        warnings: r
            .warnings
            .iter()
            .map(|w| w.code())
            .collect::<Vec<_>>()
            .join("|"),
        accepted_at: None,
        accepted_note: None,
        accepted_by: None,
    }
}

/// The ledger movements of one chunk's matched lines, summed per account, each against the
/// carrier's receivable: what the carrier paid (cash), each deduction (an expense; withholding
/// tax a tax asset), and what is left of the parcel's cash unexplained by them.
pub(crate) struct Book {
    livemode: bool,
    currency: Currency,
    receivable: AccountId,
    /// Signed sums by where they go (the account ids are made once, at the end).
    sums: BTreeMap<Slot, i128>,
}

/// Where a part of a matched line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Cash,
    Deduction(DeductionKind),
    Unitemised,
}

impl Book {
    pub(crate) fn new(row: &RemittanceRow, currency: Currency) -> Result<Book, AppError> {
        Ok(Book {
            livemode: row.livemode,
            currency,
            receivable: CodAccounts::receivable(row.livemode, &row.carrier, currency)?,
            sums: BTreeMap::new(),
        })
    }

    fn add(&mut self, slot: Slot, amount: i64) {
        *self.sums.entry(slot).or_insert(0) += i128::from(amount);
    }

    /// Books one line of `parcel` that pays `net` after `deductions`; `false` when the parcel
    /// is not one a remittance pays.
    pub(crate) fn post(
        &mut self,
        parcel: &Parcel,
        net: i64,
        deductions: &[(DeductionKind, i64)],
    ) -> bool {
        let clears = match parcel.state {
            ParcelState::Collected { remitted: None, .. } => parcel.cash.minor(),
            ParcelState::Returned { remitted: None, .. } => 0,
            _ => return false,
        };
        self.book(clears, net, deductions);
        true
    }

    /// Books a reversal line of `batch` taking back `net` of what an earlier batch paid for
    /// `parcel`: the parcel's cash receivable again, the cash taken back, and the deductions
    /// given back (the line's, whatever their sign in the file, or when it itemises none, the
    /// rate card's; without one, what it takes back is unitemised). `false` when no earlier
    /// batch paid the parcel's cash.
    pub(crate) fn reverse(
        &mut self,
        parcel: &Parcel,
        net: i64,
        deductions: &[(DeductionKind, i64)],
        contract: Option<&Contract>,
        batch: &str,
    ) -> bool {
        let ParcelState::Collected {
            remitted: Some(paid),
            ..
        } = &parcel.state
        else {
            return false;
        };
        if paid.batch == batch {
            return false;
        }
        let cash = parcel.cash.minor();
        let given_back: Vec<_> = match contract {
            _ if deductions.iter().any(|(_, v)| *v != 0) => {
                deductions.iter().map(|(k, v)| (*k, -v.abs())).collect()
            }
            Some(contract) => {
                let e = contract.expected(cash, false);
                DeductionKind::ALL.iter().map(|k| (*k, -e.of(*k))).collect()
            }
            None => Vec::new(),
        };
        self.book(-cash, net, &given_back);
        true
    }

    /// Books cash `net` and `deductions` against the receivable, which moves by `clears` (what
    /// they do not explain is unitemised).
    fn book(&mut self, clears: i64, net: i64, deductions: &[(DeductionKind, i64)]) {
        self.add(Slot::Cash, net);
        let mut explained = net;
        for (kind, amount) in deductions.iter().filter(|(_, a)| *a != 0) {
            self.add(Slot::Deduction(*kind), *amount);
            explained += amount;
        }
        if clears != explained {
            self.add(Slot::Unitemised, clears - explained);
        }
    }

    /// The account of a slot, and its kind.
    fn account(&self, slot: Slot) -> Result<(AccountId, AccountKind), AppError> {
        let accounts = CodAccounts::of(self.livemode, self.currency)?;
        let expense = |code: &str| CodAccounts::expense(self.livemode, code, self.currency);
        Ok(match slot {
            Slot::Cash => (accounts.cash, AccountKind::CodCash),
            Slot::Deduction(DeductionKind::WithholdingTax) => {
                (accounts.tax_withheld, AccountKind::TaxWithheld)
            }
            Slot::Deduction(kind) => (expense(kind.code())?, AccountKind::CodExpense),
            Slot::Unitemised => (expense("unitemised")?, AccountKind::CodExpense),
        })
    }

    pub(crate) fn specs(&self) -> Result<Vec<AccountSpec>, AppError> {
        let mut out = vec![spec(
            &self.receivable,
            AccountKind::CarrierCodReceivable,
            self.currency,
        )];
        for slot in self.sums.keys() {
            let (id, kind) = self.account(*slot)?;
            out.push(spec(&id, kind, self.currency));
        }
        Ok(out)
    }

    pub(crate) fn transfers(&self) -> Result<Vec<TransferRequest>, AppError> {
        let mut out = Vec::new();
        for (slot, sum) in &self.sums {
            let (id, _) = self.account(*slot)?;
            let amount = i64::try_from(sum.unsigned_abs())
                .map_err(|_| AppError::Internal("a remittance sum overflows".into()))?;
            if amount == 0 {
                continue;
            }
            let money = Money::from_minor(amount, self.currency)?;
            let (debit, credit) = if *sum > 0 {
                (id, self.receivable.clone())
            } else {
                (self.receivable.clone(), id)
            };
            out.push(TransferRequest::Posted {
                debit,
                credit,
                amount: money,
            });
        }
        Ok(out)
    }
}

/// The parcels a file named, as 64-bit hashes of their ids (flat memory for a large file), and
/// the first of those it named without paying them, for the report.
#[derive(Default)]
struct InFile(std::collections::HashSet<u64>, Vec<Value>);

impl InFile {
    fn key(id: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
    }

    fn add(&mut self, id: &str) {
        self.0.insert(InFile::key(id));
    }

    fn has(&self, id: &str) -> bool {
        self.0.contains(&InFile::key(id))
    }

    fn list(&mut self, collection: Value) {
        if self.1.len() < LISTED {
            self.1.push(collection);
        }
    }
}

/// How many collections a report lists one by one (all are counted).
const LISTED: usize = 1_000;

/// A collection as a report lists it: its parcel, class and the cash it collected.
fn listed(p: &Parcel, batch: &str, class: CollectionClass) -> Value {
    json!({
        "parcel": p.id,
        "tracking": p.tracking,
        "class": class.code(),
        "collected": collection(p, batch).collected,
    })
}

/// The report: the reconciler's, with the carrier's collections the file did not have.
async fn finish(
    app: &App,
    profile: &Profile,
    rec: &Reconciler,
    in_file: &InFile,
    row: &RemittanceRow,
    batch_date: i64,
) -> Result<Value, AppError> {
    let report = rec.report(Vec::new());
    let mut value = serde_json::to_value(&report).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut missing: BTreeMap<&'static str, (u64, i64)> = rec
        .collections()
        .iter()
        .map(|(k, t)| (k.code(), (t.parcels, t.collected)))
        .collect();
    let mut shown = in_file.1.clone();
    let mut after = String::new();
    loop {
        let page = app
            .store
            .unremitted_parcels(&profile.carrier, row.livemode, &after, 1_000)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for p in page.iter().filter(|p| !in_file.has(&p.id)) {
            let c = collection(p, &row.batch);
            let class = unremitted(&c, batch_date, profile.cycle_days);
            let e = missing.entry(class.code()).or_default();
            e.0 += 1;
            e.1 += c.collected;
            if shown.len() < LISTED {
                shown.push(listed(p, &row.batch, class));
            }
        }
    }
    value["id"] = json!(row.id);
    value["object"] = json!("remittance");
    value["livemode"] = json!(row.livemode);
    value["created"] = json!(row.created_at.div_euclid(1000));
    value["batch"] = json!(row.batch);
    value["file_sha256"] = json!(row.file_sha256);
    value["collections"] = json!({
        "classes": missing.iter().map(|(k, (n, m))| ((*k).to_string(), json!({"parcels": n, "collected": m}))).collect::<serde_json::Map<_, _>>(),
        "parcels": shown,
    });
    Ok(value)
}
