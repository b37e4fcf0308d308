//! Re-checks the ledger's invariants from its journal, pure and streaming.
//!
//! Feed every journal entry in sequence order to an [`Auditor`], then hand it the stored head,
//! accounts and holds. It derives every balance and hold state from the journal alone and reports
//! each place where the stored state, the hash chain or a ledger invariant disagrees.
//! `holdback ledger verify` and the property tests both use it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::ids::{AccountId, HoldId, TxId};
use crate::ledger::{Account, Hash, Head, Hold, HoldStatus, JournalEntry, PostingKind, PostingRef};
use crate::money::Currency;

/// One invariant that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    SequenceGap {
        expected: i64,
        found: i64,
    },
    BrokenChain {
        seq: i64,
    },
    HashMismatch {
        seq: i64,
    },
    TimeWentBack {
        seq: i64,
    },
    DuplicateTransactionId {
        tx_id: TxId,
    },
    EmptyTransaction {
        seq: i64,
    },
    MalformedPosting {
        seq: i64,
        reason: &'static str,
    },
    AccountMissing {
        account: AccountId,
    },
    PostingCurrency {
        seq: i64,
        account: AccountId,
    },
    BalanceMismatch {
        account: AccountId,
        field: &'static str,
        stored: i64,
        derived: i128,
    },
    BoundViolated {
        account: AccountId,
        available: i128,
    },
    CurrencyImbalance {
        currency: Currency,
        debits: i128,
        credits: i128,
    },
    HeadMismatch {
        stored_seq: i64,
        derived_seq: i64,
    },
    HoldMissing {
        hold: HoldId,
    },
    HoldNotInJournal {
        hold: HoldId,
    },
    HoldResolvedTwice {
        hold: HoldId,
        resolutions: u32,
    },
    HoldStateMismatch {
        hold: HoldId,
        stored: &'static str,
        derived: &'static str,
    },
    PendingNotOpenHolds {
        account: AccountId,
        field: &'static str,
        stored: i64,
        open_holds: i128,
    },
    /// A posting's link to its account's previous posting is not that posting.
    HistoryLink {
        seq: i64,
        idx: i32,
        account: AccountId,
    },
    /// An account's newest-posting pointer is not its newest posting.
    HistoryHead {
        account: AccountId,
    },
    /// A guard the database should have (such as the append-only triggers) is absent.
    GuardMissing {
        what: String,
    },
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::SequenceGap { expected, found } => {
                write!(f, "sequence gap: expected entry {expected}, found {found}")
            }
            Breach::BrokenChain { seq } => {
                write!(
                    f,
                    "entry {seq}: prev_hash is not the hash of the entry before"
                )
            }
            Breach::HashMismatch { seq } => {
                write!(
                    f,
                    "entry {seq}: stored hash does not match its content (tampered?)"
                )
            }
            Breach::TimeWentBack { seq } => {
                write!(f, "entry {seq}: committed earlier than the entry before")
            }
            Breach::DuplicateTransactionId { tx_id } => {
                write!(f, "transaction id {tx_id} appears more than once")
            }
            Breach::EmptyTransaction { seq } => write!(f, "entry {seq} has no postings"),
            Breach::MalformedPosting { seq, reason } => {
                write!(f, "entry {seq}: malformed posting: {reason}")
            }
            Breach::AccountMissing { account } => {
                write!(
                    f,
                    "account {account} is in the journal but not in the accounts table"
                )
            }
            Breach::PostingCurrency { seq, account } => {
                write!(
                    f,
                    "entry {seq}: posting currency differs from account {account}'s"
                )
            }
            Breach::BalanceMismatch {
                account,
                field,
                stored,
                derived,
            } => write!(
                f,
                "account {account}: stored {field} {stored} but the journal sums to {derived}"
            ),
            Breach::BoundViolated { account, available } => {
                write!(
                    f,
                    "account {account} is bounded but its available balance is {available}"
                )
            }
            Breach::CurrencyImbalance {
                currency,
                debits,
                credits,
            } => write!(
                f,
                "{currency}: debits {debits} differ from credits {credits}"
            ),
            Breach::HeadMismatch {
                stored_seq,
                derived_seq,
            } => write!(
                f,
                "journal head says entry {stored_seq} (with its hash); the journal ends at {derived_seq}"
            ),
            Breach::HoldMissing { hold } => {
                write!(
                    f,
                    "hold {hold} is in the journal but not in the holds table"
                )
            }
            Breach::HoldNotInJournal { hold } => {
                write!(f, "hold {hold} is stored but no journal entry created it")
            }
            Breach::HoldResolvedTwice { hold, resolutions } => {
                write!(f, "hold {hold} was resolved {resolutions} times")
            }
            Breach::HoldStateMismatch {
                hold,
                stored,
                derived,
            } => write!(
                f,
                "hold {hold}: stored {stored}, the journal says {derived}"
            ),
            Breach::PendingNotOpenHolds {
                account,
                field,
                stored,
                open_holds,
            } => write!(
                f,
                "account {account}: {field} is {stored} but its open holds sum to {open_holds}"
            ),
            Breach::HistoryLink { seq, idx, account } => write!(
                f,
                "posting {seq}.{idx}: its link to the previous posting of {account} is wrong"
            ),
            Breach::HistoryHead { account } => write!(
                f,
                "account {account}: the stored newest posting is not its newest posting"
            ),
            Breach::GuardMissing { what } => write!(f, "database guard missing: {what}"),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    debits_posted: i128,
    credits_posted: i128,
    debits_pending: i128,
    credits_pending: i128,
}

#[derive(Debug, Default)]
struct HoldTrace {
    created: u32,
    amount: i64,
    resolutions: u32,
    last: Option<(PostingKind, i64, i64)>,
}

/// The result of an audit.
#[derive(Debug, Default)]
pub struct AuditReport {
    pub entries: u64,
    pub postings: u64,
    pub accounts: u64,
    pub holds: u64,
    pub open_holds: u64,
    pub breaches: Vec<Breach>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.breaches.is_empty()
    }

    /// The one-line summary `ledger verify` prints.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} journal entries, {} postings, {} accounts, {} holds ({} open), {} breaches",
            if self.is_clean() { "ok" } else { "BREACHED" },
            self.entries,
            self.postings,
            self.accounts,
            self.holds,
            self.open_holds,
            self.breaches.len()
        )
    }
}

/// Streams the journal and derives what the stored state must be. See the module docs.
#[derive(Debug)]
pub struct Auditor {
    next_seq: i64,
    prev_hash: Hash,
    last_committed_at: i64,
    sums: HashMap<AccountId, Sums>,
    currency_seen: HashMap<AccountId, (Currency, i64)>,
    holds: HashMap<HoldId, HoldTrace>,
    tx_ids: HashSet<TxId>,
    /// Each account's newest posting so far: what the next posting's link must name.
    last_posting: HashMap<AccountId, PostingRef>,
    report: AuditReport,
}

impl Default for Auditor {
    fn default() -> Self {
        Auditor::new()
    }
}

impl Auditor {
    pub fn new() -> Auditor {
        Auditor {
            next_seq: 1,
            prev_hash: Hash::GENESIS,
            last_committed_at: i64::MIN,
            sums: HashMap::new(),
            currency_seen: HashMap::new(),
            holds: HashMap::new(),
            tx_ids: HashSet::new(),
            last_posting: HashMap::new(),
            report: AuditReport::default(),
        }
    }

    fn breach(&mut self, b: Breach) {
        self.report.breaches.push(b);
    }

    /// Feeds the next journal entry, in sequence order.
    pub fn feed(&mut self, e: &JournalEntry) {
        self.report.entries += 1;
        if e.seq != self.next_seq {
            self.breach(Breach::SequenceGap {
                expected: self.next_seq,
                found: e.seq,
            });
        }
        self.next_seq = e.seq + 1;
        if e.prev_hash != self.prev_hash {
            self.breach(Breach::BrokenChain { seq: e.seq });
        }
        let recomputed = JournalEntry::compute_hash(
            e.prev_hash,
            e.seq,
            &e.tx_id,
            e.fingerprint,
            e.committed_at,
            &e.postings,
        );
        if recomputed != e.hash {
            self.breach(Breach::HashMismatch { seq: e.seq });
        }
        self.prev_hash = e.hash;
        if e.committed_at < self.last_committed_at {
            self.breach(Breach::TimeWentBack { seq: e.seq });
        }
        self.last_committed_at = e.committed_at;
        if !self.tx_ids.insert(e.tx_id.clone()) {
            self.breach(Breach::DuplicateTransactionId {
                tx_id: e.tx_id.clone(),
            });
        }
        if e.postings.is_empty() {
            self.breach(Breach::EmptyTransaction { seq: e.seq });
        }
        for (idx, p) in e.postings.iter().enumerate() {
            self.report.postings += 1;
            let here = PostingRef {
                seq: e.seq,
                idx: i32::try_from(idx).unwrap_or(i32::MAX),
            };
            for (account, link) in [(&p.debit, p.debit_prev), (&p.credit, p.credit_prev)] {
                if self.last_posting.insert(account.clone(), here) != link {
                    self.breach(Breach::HistoryLink {
                        seq: e.seq,
                        idx: here.idx,
                        account: account.clone(),
                    });
                }
            }
            if let Some(reason) = malformed(p.kind, p.hold.is_some(), p.posted, p.pending_delta)
                .or_else(|| (p.debit == p.credit).then_some("debit and credit are one account"))
            {
                self.breach(Breach::MalformedPosting { seq: e.seq, reason });
            }
            for account in [&p.debit, &p.credit] {
                let seen = self
                    .currency_seen
                    .entry(account.clone())
                    .or_insert((p.currency, e.seq));
                if seen.0 != p.currency {
                    let account = account.clone();
                    self.breach(Breach::PostingCurrency {
                        seq: e.seq,
                        account,
                    });
                }
            }
            let d = self.sums.entry(p.debit.clone()).or_default();
            d.debits_posted += i128::from(p.posted);
            d.debits_pending += i128::from(p.pending_delta);
            let c = self.sums.entry(p.credit.clone()).or_default();
            c.credits_posted += i128::from(p.posted);
            c.credits_pending += i128::from(p.pending_delta);
            if let Some(hold) = &p.hold {
                let trace = self.holds.entry(hold.clone()).or_default();
                match p.kind {
                    PostingKind::Pending => {
                        trace.created += 1;
                        trace.amount = p.pending_delta;
                    }
                    _ => {
                        trace.resolutions += 1;
                        trace.last = Some((p.kind, p.posted, e.seq));
                        if -p.pending_delta != trace.amount || p.posted > trace.amount {
                            self.breach(Breach::MalformedPosting {
                                seq: e.seq,
                                reason: "hold resolution does not match the amount held",
                            });
                        }
                    }
                }
            }
        }
    }

    /// Compares the derived state with the stored one and returns the report.
    pub fn finish(
        mut self,
        head: Head,
        accounts: impl IntoIterator<Item = Account>,
        holds: impl IntoIterator<Item = Hold>,
    ) -> AuditReport {
        let derived_seq = self.next_seq - 1;
        if head.seq != derived_seq || head.hash != self.prev_hash {
            self.breach(Breach::HeadMismatch {
                stored_seq: head.seq,
                derived_seq,
            });
        }

        let mut open_pending: HashMap<AccountId, (i128, i128)> = HashMap::new();
        let mut seen_holds = HashSet::new();
        for hold in holds {
            self.report.holds += 1;
            seen_holds.insert(hold.id.clone());
            let trace = self.holds.get(&hold.id).map(|t| (t.resolutions, t.last));
            let derived = match trace {
                None => {
                    self.breach(Breach::HoldNotInJournal {
                        hold: hold.id.clone(),
                    });
                    continue;
                }
                Some((resolutions, last)) => {
                    if resolutions > 1 {
                        self.breach(Breach::HoldResolvedTwice {
                            hold: hold.id.clone(),
                            resolutions,
                        });
                    }
                    match last {
                        None => HoldStatus::Open,
                        Some((PostingKind::PostPending, amount, seq)) => {
                            HoldStatus::Posted { amount, seq }
                        }
                        Some((_, _, seq)) => HoldStatus::Voided { seq },
                    }
                }
            };
            if derived != hold.status {
                self.breach(Breach::HoldStateMismatch {
                    hold: hold.id.clone(),
                    stored: hold.status.code(),
                    derived: derived.code(),
                });
            }
            if hold.status == HoldStatus::Open {
                self.report.open_holds += 1;
                let amount = i128::from(hold.amount.minor());
                open_pending.entry(hold.debit.clone()).or_default().0 += amount;
                open_pending.entry(hold.credit.clone()).or_default().1 += amount;
            }
        }
        let mut missing: Vec<HoldId> = self
            .holds
            .keys()
            .filter(|h| !seen_holds.contains(*h))
            .cloned()
            .collect();
        missing.sort();
        for hold in missing {
            self.breach(Breach::HoldMissing { hold });
        }

        let mut per_currency: BTreeMap<Currency, Sums> = BTreeMap::new();
        let mut seen_accounts = HashSet::new();
        for a in accounts {
            self.report.accounts += 1;
            let id = a.spec.id.clone();
            seen_accounts.insert(id.clone());
            let derived = self.sums.get(&id).copied().unwrap_or_default();
            let fields = [
                ("debits_posted", a.debits_posted, derived.debits_posted),
                ("credits_posted", a.credits_posted, derived.credits_posted),
                ("debits_pending", a.debits_pending, derived.debits_pending),
                (
                    "credits_pending",
                    a.credits_pending,
                    derived.credits_pending,
                ),
            ];
            for (field, stored, derived) in fields {
                if i128::from(stored) != derived {
                    self.breach(Breach::BalanceMismatch {
                        account: id.clone(),
                        field,
                        stored,
                        derived,
                    });
                }
            }
            let (open_debits, open_credits) = open_pending.get(&id).copied().unwrap_or_default();
            for (field, stored, open) in [
                ("debits_pending", a.debits_pending, open_debits),
                ("credits_pending", a.credits_pending, open_credits),
            ] {
                if i128::from(stored) != open {
                    self.breach(Breach::PendingNotOpenHolds {
                        account: id.clone(),
                        field,
                        stored,
                        open_holds: open,
                    });
                }
            }
            if let Some((currency, seq)) = self.currency_seen.get(&id).copied()
                && currency != a.spec.currency
            {
                self.breach(Breach::PostingCurrency {
                    seq,
                    account: id.clone(),
                });
            }
            if a.last_posting != self.last_posting.get(&id).copied() {
                self.breach(Breach::HistoryHead {
                    account: id.clone(),
                });
            }
            if !a.within_bound() {
                self.breach(Breach::BoundViolated {
                    account: id.clone(),
                    available: a.available(),
                });
            }
            let t = per_currency.entry(a.spec.currency).or_default();
            t.debits_posted += i128::from(a.debits_posted);
            t.credits_posted += i128::from(a.credits_posted);
            t.debits_pending += i128::from(a.debits_pending);
            t.credits_pending += i128::from(a.credits_pending);
        }
        let mut unknown: Vec<AccountId> = self
            .sums
            .keys()
            .filter(|a| !seen_accounts.contains(*a))
            .cloned()
            .collect();
        unknown.sort();
        for account in unknown {
            self.breach(Breach::AccountMissing { account });
        }
        for (currency, t) in per_currency {
            if t.debits_posted != t.credits_posted {
                self.breach(Breach::CurrencyImbalance {
                    currency,
                    debits: t.debits_posted,
                    credits: t.credits_posted,
                });
            }
            if t.debits_pending != t.credits_pending {
                self.breach(Breach::CurrencyImbalance {
                    currency,
                    debits: t.debits_pending,
                    credits: t.credits_pending,
                });
            }
        }
        self.report
    }
}

fn malformed(kind: PostingKind, has_hold: bool, posted: i64, pending: i64) -> Option<&'static str> {
    let ok = match kind {
        PostingKind::Posted => !has_hold && posted > 0 && pending == 0,
        PostingKind::Pending => has_hold && posted == 0 && pending > 0,
        PostingKind::PostPending => has_hold && posted > 0 && pending < 0,
        PostingKind::VoidPending => has_hold && posted == 0 && pending < 0,
    };
    (!ok).then_some("amounts do not fit the posting kind")
}
