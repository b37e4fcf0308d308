//! Classifying lines against what holdback expects.

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Serialize;

use crate::contract::Expected;
use crate::date::DAY_MS;
use crate::kinds::{DeductionKind, Warning, push_warning};
use crate::line::RawLine;
use crate::profile::{MultiPiece, Profile, Regime};
use crate::totals::BatchTotals;

/// A cash-on-delivery collection as holdback recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    /// holdback's parcel id.
    pub parcel: String,
    pub tracking: String,
    pub order_ref: String,
    /// Cash the buyer paid the courier, minor units.
    pub collected: i64,
    pub state: CollectionState,
    /// When the courier collected it, epoch milliseconds.
    pub collected_at: Option<i64>,
}

/// Where a collection stands in holdback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CollectionState {
    /// Cash collected, not yet remitted.
    Collected,
    /// Still with the carrier: no cash collected, nothing expected.
    NotCollected,
    /// The parcel went back to the seller; no cash.
    Rto,
    /// Already paid out by the carrier in `batch`.
    Settled { batch: String },
    /// The carrier's earlier payment for it was taken back by the batch being read (holdback
    /// owes nothing more for it in this batch; it is owed again later).
    Reversed,
}

/// Lookups the app answers from its database.
pub trait Collections {
    fn by_tracking(&mut self, tracking: &str) -> Option<Collection>;
    fn by_order_ref(&mut self, order_ref: &str) -> Option<Collection>;
}

/// What a line of the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineClass {
    /// Pays exactly the expected net.
    Matched,
    /// Pays less than expected.
    ShortPaid,
    /// Pays more than expected.
    OverPaid,
    /// The parcel was already paid, earlier in this file or in an earlier batch; posts nothing.
    Duplicate,
    /// No collection has this tracking number or order reference.
    UnknownParcel,
    /// Pays cash for a parcel holdback recorded as returned to origin.
    RemittedButRto,
    /// The carrier's total row.
    SummaryRow,
    /// Its status is not a paid one (nor a return); posts nothing.
    NotPaid,
    /// A negative collected amount taking back an earlier payment.
    Reversal,
    /// A further piece of a parcel whose total is repeated on every piece; posts nothing.
    Piece,
}

impl LineClass {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            LineClass::Matched => "matched",
            LineClass::ShortPaid => "short_paid",
            LineClass::OverPaid => "over_paid",
            LineClass::Duplicate => "duplicate",
            LineClass::UnknownParcel => "unknown_parcel",
            LineClass::RemittedButRto => "remitted_but_rto",
            LineClass::SummaryRow => "summary_row",
            LineClass::NotPaid => "not_paid",
            LineClass::Reversal => "reversal",
            LineClass::Piece => "piece",
        }
    }
}

/// Where an expected collection stands after the file: for one the file does not pay, whether
/// it is late or still due; for one the file names but does not pay, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionClass {
    /// Collected more than a cycle before the batch date and still not remitted.
    MissingFromFile,
    /// Collected recently; expect it in the next batch.
    PendingNextCycle,
    /// Settled by an earlier batch; the file names it again and nothing more is owed by it.
    AlreadySettled,
    /// The file takes back an earlier batch's payment for it: the carrier owes its cash again.
    Reversed,
}

impl CollectionClass {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            CollectionClass::MissingFromFile => "missing_from_file",
            CollectionClass::PendingNextCycle => "pending_next_cycle",
            CollectionClass::AlreadySettled => "already_settled",
            CollectionClass::Reversed => "reversed",
        }
    }
}

/// Classes an expected collection that the file did not pay. Late means collected strictly more
/// than `cycle_days` whole days before `batch_date_ms`; a collection without a date is not late.
pub fn unremitted(collection: &Collection, batch_date_ms: i64, cycle_days: u32) -> CollectionClass {
    match collection.state {
        CollectionState::Settled { .. } => CollectionClass::AlreadySettled,
        CollectionState::Reversed => CollectionClass::Reversed,
        CollectionState::Collected | CollectionState::Rto | CollectionState::NotCollected => {
            match collection.collected_at {
                Some(at) if batch_date_ms - at > i64::from(cycle_days) * DAY_MS => {
                    CollectionClass::MissingFromFile
                }
                _ => CollectionClass::PendingNextCycle,
            }
        }
    }
}

/// The verdict on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineResult {
    pub row: u64,
    pub tracking: String,
    /// holdback's parcel, when the line was matched to one.
    pub parcel: Option<String>,
    pub class: LineClass,
    pub expected_net: Option<i64>,
    pub reported_net: i64,
    /// `reported_net − expected_net`; 0 when nothing was expected.
    pub delta: i64,
    pub deductions: Vec<(DeductionKind, i64)>,
    pub warnings: Vec<Warning>,
    /// What the line makes of its collection when it does not simply pay it: `already_settled`
    /// (an earlier batch paid it) or `reversed` (the line takes that payment back).
    pub collection: Option<CollectionClass>,
}

/// Count and money of one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ClassTotal {
    pub lines: u64,
    pub reported_net: i64,
    pub delta: i64,
}

/// Parcels of one collection class and the cash they collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CollectionTotal {
    pub parcels: u64,
    pub collected: i64,
}

/// Classifies the lines of one file, in file order, keeping what a file-wide view needs: the
/// parcels already seen (as 64-bit hashes), the batch totals and the per-class totals.
#[derive(Debug)]
pub struct Reconciler {
    profile: Profile,
    seen: HashSet<u64>,
    totals: BatchTotals,
    classes: BTreeMap<LineClass, ClassTotal>,
    collections: BTreeMap<CollectionClass, CollectionTotal>,
    batch: Option<String>,
    bank_reference: Option<String>,
}

fn key_hash(prefix: &str, s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    prefix.hash(&mut h);
    s.hash(&mut h);
    h.finish()
}

impl Reconciler {
    pub fn new(profile: &Profile) -> Reconciler {
        Reconciler {
            profile: profile.clone(),
            seen: HashSet::new(),
            totals: BatchTotals::default(),
            classes: BTreeMap::new(),
            collections: BTreeMap::new(),
            batch: None,
            bank_reference: None,
        }
    }

    /// Records what the bank statement says the carrier paid, for the identity check.
    pub fn set_bank_credit(&mut self, minor: i64) {
        self.totals.bank_credit = Some(minor);
    }

    /// The totals so far.
    pub fn totals(&self) -> &BatchTotals {
        &self.totals
    }

    /// Lines and money per class so far.
    pub fn classes(&self) -> &BTreeMap<LineClass, ClassTotal> {
        &self.classes
    }

    /// Collections the file named without paying them, per class so far.
    pub fn collections(&self) -> &BTreeMap<CollectionClass, CollectionTotal> {
        &self.collections
    }

    /// The first batch id and bank reference the file gave.
    pub fn batch(&self) -> (Option<&str>, Option<&str>) {
        (self.batch.as_deref(), self.bank_reference.as_deref())
    }

    pub(crate) fn profile(&self) -> &Profile {
        &self.profile
    }

    fn by_tracking(&self, raw: &RawLine, found: &mut impl Collections) -> Option<Collection> {
        if raw.tracking.is_empty() {
            return None;
        }
        found.by_tracking(&raw.tracking).or_else(|| {
            let stem = self.profile.tracking_stem(&raw.tracking);
            if stem == raw.tracking {
                None
            } else {
                found.by_tracking(stem)
            }
        })
    }

    fn find(&self, raw: &RawLine, found: &mut impl Collections) -> Option<Collection> {
        let by_ref = |found: &mut _| match raw.order_ref.as_deref() {
            Some(r) if !r.is_empty() => Collections::by_order_ref(found, r),
            _ => None,
        };
        if raw.awb_mangled() {
            // The tracking digits cannot be trusted: the order reference decides.
            return by_ref(found).or_else(|| self.by_tracking(raw, found));
        }
        self.by_tracking(raw, found).or_else(|| by_ref(found))
    }

    /// Classifies one line. The rules, in order:
    ///
    /// 1. a total row is `summary_row` and gives the file's stated totals;
    /// 2. a status that is neither paid nor returned is `not_paid` (no lookup);
    /// 3. the collection is looked up by tracking (then its piece stem), falling back to the
    ///    order reference; an `awb_mangled` line is looked up by order reference first;
    /// 4. a parcel (or, when unknown, a tracking stem) already seen in this file is `piece`
    ///    under `total_on_every_piece`, else `duplicate` with `duplicate_in_file`;
    /// 5. no collection: `unknown_parcel`;
    /// 6. a negative collected amount is a `reversal`: of cash an earlier batch settled (or this
    ///    batch reversed, when a stopped import is read again) it is expected to take back that
    ///    payment's net by the rate card; taking back exactly that, its collection is
    ///    `reversed`, else it is `reversal_amount_mismatch`; of anything else it has nothing to
    ///    take back (`nothing_to_reverse`);
    /// 7. a collection settled by an earlier batch: `duplicate` with `duplicate_across_batches`,
    ///    its collection `already_settled`;
    /// 8. a returned parcel: a line that pays cash is `remitted_but_rto`, a charge-only line is
    ///    compared with `−rto_charge`; a reversed collection is expected to pay 0;
    ///    a collected one is expected to pay the rate card's net of holdback's collected amount;
    /// 9. the reported net against that expectation gives `matched`, `short_paid` or
    ///    `over_paid`, and any itemised deduction above its expectation adds
    ///    `deduction_above_rate_card`.
    ///
    /// Every line except total rows and repeated pieces counts in the batch totals.
    pub fn line(&mut self, raw: RawLine, found: &mut impl Collections) -> LineResult {
        let mut result = LineResult {
            row: raw.row,
            tracking: raw.tracking.clone(),
            parcel: None,
            class: LineClass::SummaryRow,
            expected_net: None,
            reported_net: raw.net,
            delta: 0,
            deductions: raw.deductions.clone(),
            warnings: raw.warnings.clone(),
            collection: None,
        };
        if raw.summary {
            self.totals
                .state(&raw, self.profile.regime == Regime::Gross);
            return self.tally(result);
        }
        if self.batch.is_none() {
            self.batch.clone_from(&raw.batch);
        }
        if self.bank_reference.is_none() {
            self.bank_reference.clone_from(&raw.bank_reference);
        }
        if !raw.paid && !raw.rto {
            self.totals.add(&raw);
            result.class = LineClass::NotPaid;
            return self.tally(result);
        }
        let collection = self.find(&raw, found);
        let key = match &collection {
            Some(c) => key_hash("parcel", &c.parcel),
            None => key_hash("tracking", self.profile.tracking_stem(&raw.tracking)),
        };
        result.parcel = collection.as_ref().map(|c| c.parcel.clone());
        if !self.seen.insert(key) {
            if self.profile.multi_piece == MultiPiece::TotalOnEveryPiece {
                result.class = LineClass::Piece;
            } else {
                self.totals.add(&raw);
                result.class = LineClass::Duplicate;
                push_warning(&mut result.warnings, Warning::DuplicateInFile);
            }
            return self.tally(result);
        }
        self.totals.add(&raw);
        let Some(c) = collection else {
            result.class = LineClass::UnknownParcel;
            return self.tally(result);
        };
        let contract = &self.profile.contract;
        if raw.collected < 0 {
            result.class = LineClass::Reversal;
            match c.state {
                CollectionState::Settled { .. } | CollectionState::Reversed if c.collected > 0 => {
                    let paid = contract.expected(c.collected, false).net;
                    result.expected_net = Some(-paid);
                    result.delta = raw.net + paid;
                    if result.delta == 0 {
                        result.collection = Some(CollectionClass::Reversed);
                    } else {
                        push_warning(&mut result.warnings, Warning::ReversalAmountMismatch);
                    }
                }
                _ => push_warning(&mut result.warnings, Warning::NothingToReverse),
            }
            return self.tally_collection(result, c.collected);
        }
        let (expected, class_if_paid): (Expected, Option<LineClass>) = match &c.state {
            CollectionState::Settled { .. } => {
                result.class = LineClass::Duplicate;
                push_warning(&mut result.warnings, Warning::DuplicateAcrossBatches);
                result.collection = Some(CollectionClass::AlreadySettled);
                return self.tally_collection(result, c.collected);
            }
            CollectionState::Reversed | CollectionState::NotCollected => {
                (Expected::default(), None)
            }
            CollectionState::Rto => {
                let e = contract.expected(0, true);
                let cash = raw.collected > 0 && !raw.rto;
                (e, cash.then_some(LineClass::RemittedButRto))
            }
            CollectionState::Collected => (contract.expected(c.collected, false), None),
        };
        for (kind, v) in &raw.deductions {
            if *v > expected.of(*kind) {
                push_warning(&mut result.warnings, Warning::DeductionAboveRateCard);
            }
        }
        result.expected_net = Some(expected.net);
        result.delta = raw.net - expected.net;
        result.class = class_if_paid.unwrap_or(match result.delta {
            0 => LineClass::Matched,
            d if d < 0 => LineClass::ShortPaid,
            _ => LineClass::OverPaid,
        });
        self.tally(result)
    }

    fn tally_collection(&mut self, r: LineResult, collected: i64) -> LineResult {
        if let Some(class) = r.collection {
            let t = self.collections.entry(class).or_default();
            t.parcels += 1;
            t.collected += collected;
        }
        self.tally(r)
    }

    fn tally(&mut self, r: LineResult) -> LineResult {
        let t = self.classes.entry(r.class).or_default();
        t.lines += 1;
        t.reported_net += r.reported_net;
        t.delta += r.delta;
        r
    }
}
