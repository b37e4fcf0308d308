//! The double-entry ledger, as a pure state machine.
//!
//! A [`Book`] is an in-memory view of the part of the ledger that a batch of requests touches:
//! the accounts, holds and transaction ids they name, plus the journal head. The store prefetches
//! those rows, runs every request of the batch through [`Book::execute`] (which decides, and
//! either applies the whole transaction or rejects it by name, leaving the book as it was), then
//! persists [`Book::take_changes`] in one database transaction. The property tests use a `Book`
//! that holds the whole ledger.
//!
//! Every transfer debits one account and credits another by the same amount in one currency, so a
//! transaction is balanced by construction. Two-phase holds follow TigerBeetle's model: a pending
//! transfer reserves funds, and is resolved exactly once by a post (in full, or in part with the
//! remainder released) or by a void.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::ErrorCode;
use crate::ids::{AccountId, HoldId, InvalidId, TxId};
use crate::money::{Currency, MAX_AMOUNT, Money, MoneyError};

/// Most transfers in one transaction.
pub const MAX_TRANSFERS: usize = 64;

/// Why the ledger refused a request. Nothing was written when one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("unknown account kind {0:?}")]
    UnknownAccountKind(String),
    #[error("a transaction needs at least one transfer")]
    EmptyTransaction,
    #[error("a transaction has at most {MAX_TRANSFERS} transfers")]
    TooManyTransfers,
    #[error("transfer {index} has a zero amount")]
    ZeroAmount { index: usize },
    #[error("transfer {index} debits and credits the same account")]
    SameAccount { index: usize },
    #[error("the entries do not balance in {currency}: debits {debits}, credits {credits}")]
    Unbalanced {
        currency: Currency,
        debits: i64,
        credits: i64,
    },
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
    #[error(
        "transfer {index}: account {account} is in {account_currency}, the amount in {amount_currency}"
    )]
    CrossCurrency {
        index: usize,
        account: AccountId,
        account_currency: Currency,
        amount_currency: Currency,
    },
    /// A bounded account's available balance would go below zero: `balance_insufficient`, a
    /// ledger rule (a card's refusal for want of funds is `insufficient_funds`).
    #[error("account {0} would go below zero")]
    InsufficientFunds(AccountId),
    #[error("account {0} would overflow its balance")]
    BalanceOverflow(AccountId),
    #[error("transaction {0} already exists with different content")]
    TransactionIdConflict(TxId),
    #[error("account {0} already exists with a different kind, currency or bound")]
    AccountConflict(AccountId),
    #[error("hold {0} already exists")]
    HoldExists(HoldId),
    #[error("unknown hold {0}")]
    UnknownHold(HoldId),
    #[error("hold {0} was already resolved")]
    HoldAlreadyResolved(HoldId),
    #[error("posting {amount} exceeds the {held} held by hold {hold}")]
    PostExceedsHold {
        hold: HoldId,
        amount: i64,
        held: i64,
    },
}

impl LedgerError {
    /// The stable snake_case code of this rejection.
    pub fn code(&self) -> ErrorCode {
        match self {
            LedgerError::InvalidId(_) => ErrorCode::InvalidId,
            LedgerError::Money(e) => e.code(),
            LedgerError::UnknownAccountKind(_) => ErrorCode::UnknownAccountKind,
            LedgerError::EmptyTransaction => ErrorCode::EmptyTransaction,
            LedgerError::TooManyTransfers => ErrorCode::TooManyTransfers,
            LedgerError::ZeroAmount { .. } => ErrorCode::ZeroAmount,
            LedgerError::SameAccount { .. } => ErrorCode::SameAccount,
            LedgerError::Unbalanced { .. } => ErrorCode::Unbalanced,
            LedgerError::UnknownAccount(_) => ErrorCode::UnknownAccount,
            LedgerError::CrossCurrency { .. } => ErrorCode::CrossCurrency,
            LedgerError::InsufficientFunds(_) => ErrorCode::BalanceInsufficient,
            LedgerError::BalanceOverflow(_) => ErrorCode::BalanceOverflow,
            LedgerError::TransactionIdConflict(_) => ErrorCode::TransactionIdConflict,
            LedgerError::AccountConflict(_) => ErrorCode::AccountConflict,
            LedgerError::HoldExists(_) => ErrorCode::HoldExists,
            LedgerError::UnknownHold(_) => ErrorCode::UnknownHold,
            LedgerError::HoldAlreadyResolved(_) => ErrorCode::HoldAlreadyResolved,
            LedgerError::PostExceedsHold { .. } => ErrorCode::PostExceedsHold,
        }
    }
}

/// Which side of an account its balance grows on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Debit,
    Credit,
}

macro_rules! account_kinds {
    ($($variant:ident = $code:literal, $side:ident;)*) => {
        /// The kinds of account the ledger knows, each with the side its balance grows on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AccountKind { $($variant,)* }

        impl AccountKind {
            pub const ALL: &'static [AccountKind] = &[$(AccountKind::$variant,)*];

            pub fn code(self) -> &'static str {
                match self { $(AccountKind::$variant => $code,)* }
            }

            pub fn parse(code: &str) -> Result<AccountKind, LedgerError> {
                match code {
                    $($code => Ok(AccountKind::$variant),)*
                    _ => Err(LedgerError::UnknownAccountKind(code.to_string())),
                }
            }

            /// Assets and expenses grow on the debit side; liabilities and revenue on the credit.
            pub fn normal_side(self) -> Side {
                match self { $(AccountKind::$variant => Side::$side,)* }
            }
        }
    };
}

account_kinds! {
    BuyerPaymentClearing = "buyer_payment_clearing", Debit;
    Escrow = "escrow", Credit;
    SellerPayable = "seller_payable", Credit;
    CommissionRevenue = "commission_revenue", Credit;
    PlatformPromotions = "platform_promotions", Debit;
    CustomerBalance = "customer_balance", Credit;
    GiftCardLiability = "gift_card_liability", Credit;
    CarrierCodReceivable = "carrier_cod_receivable", Debit;
    RefundsPayable = "refunds_payable", Credit;
    TaxPayable = "tax_payable", Credit;
    Fx = "fx", Debit;
    ChargebackLosses = "chargeback_losses", Debit;
    SellerDebt = "seller_debt", Debit;
    PaymentsUnapplied = "payments_unapplied", Credit;
    BalanceAdjustments = "balance_adjustments", Debit;
    RetailerReceivable = "retailer_receivable", Debit;
    GiftCardBreakage = "gift_card_breakage", Credit;
    CodExpected = "cod_expected", Debit;
    CodFeeRevenue = "cod_fee_revenue", Credit;
    RtoRecovered = "rto_recovered", Credit;
    CodCash = "cod_cash", Debit;
    TaxWithheld = "tax_withheld", Debit;
    CodExpense = "cod_expense", Debit;
    BuyerDebt = "buyer_debt", Debit;
}

/// What an account is: fixed when it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    pub id: AccountId,
    pub kind: AccountKind,
    pub currency: Currency,
    /// When set, the balance on the account's normal side may never go below zero, counting
    /// pending reservations against it.
    pub bounded: bool,
}

/// An account with its four running sums (TigerBeetle's layout). Balances are derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub spec: AccountSpec,
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
    pub created_at: i64,
    /// The newest posting that touched the account: the start of its history, which runs back
    /// through each posting's link to the one before (see [`Posting::debit_prev`]).
    pub last_posting: Option<PostingRef>,
}

impl Account {
    pub fn new(spec: AccountSpec, created_at: i64) -> Account {
        Account {
            spec,
            debits_posted: 0,
            credits_posted: 0,
            debits_pending: 0,
            credits_pending: 0,
            created_at,
            last_posting: None,
        }
    }

    /// The posted balance on the account's normal side.
    pub fn posted_balance(&self) -> i128 {
        let (d, c) = (
            i128::from(self.debits_posted),
            i128::from(self.credits_posted),
        );
        match self.spec.kind.normal_side() {
            Side::Debit => d - c,
            Side::Credit => c - d,
        }
    }

    /// Pending reservations against the normal side (what open holds take away).
    pub fn pending_outflow(&self) -> i128 {
        match self.spec.kind.normal_side() {
            Side::Debit => i128::from(self.credits_pending),
            Side::Credit => i128::from(self.debits_pending),
        }
    }

    /// Pending amounts that will arrive on the normal side when posted.
    pub fn pending_inflow(&self) -> i128 {
        match self.spec.kind.normal_side() {
            Side::Debit => i128::from(self.debits_pending),
            Side::Credit => i128::from(self.credits_pending),
        }
    }

    /// Posted balance less pending outflows: what the bound applies to.
    pub fn available(&self) -> i128 {
        self.posted_balance() - self.pending_outflow()
    }

    pub fn within_bound(&self) -> bool {
        !self.spec.bounded || self.available() >= 0
    }
}

/// One leg of a transaction request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferRequest {
    /// Moves `amount` from `debit` to `credit` at once.
    Posted {
        debit: AccountId,
        credit: AccountId,
        amount: Money,
    },
    /// Reserves `amount` under a new hold; nothing is posted until the hold is resolved.
    Pending {
        hold: HoldId,
        debit: AccountId,
        credit: AccountId,
        amount: Money,
    },
    /// Posts an open hold: in full (`amount` None) or in part, releasing the remainder.
    PostPending { hold: HoldId, amount: Option<Money> },
    /// Releases an open hold without posting anything.
    VoidPending { hold: HoldId },
}

/// One line of a leg-style request: an account, a side and an amount. See
/// [`TransactionRequest::from_entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub account: AccountId,
    pub side: Side,
    pub amount: Money,
}

/// A transaction as a caller asks for it. Its id is its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRequest {
    pub id: TxId,
    pub transfers: Vec<TransferRequest>,
}

impl TransactionRequest {
    /// Builds a transaction from debit and credit entries, as an accountant writes them. The
    /// entries must balance per currency; they are then paired into transfers.
    pub fn from_entries(id: TxId, entries: Vec<Entry>) -> Result<TransactionRequest, LedgerError> {
        let mut totals: BTreeMap<Currency, (i64, i64)> = BTreeMap::new();
        for e in &entries {
            let t = totals.entry(e.amount.currency()).or_default();
            let slot = match e.side {
                Side::Debit => &mut t.0,
                Side::Credit => &mut t.1,
            };
            *slot = slot
                .checked_add(e.amount.minor())
                .ok_or(MoneyError::Overflow)?;
        }
        if let Some((currency, (debits, credits))) = totals.iter().find(|(_, (d, c))| d != c) {
            return Err(LedgerError::Unbalanced {
                currency: *currency,
                debits: *debits,
                credits: *credits,
            });
        }
        // Pair debits with credits greedily, per currency, in the order given.
        let mut transfers = Vec::new();
        for currency in totals.keys() {
            let mut debits: Vec<(AccountId, i64)> = Vec::new();
            let mut credits: Vec<(AccountId, i64)> = Vec::new();
            for e in entries.iter().filter(|e| e.amount.currency() == *currency) {
                let list = match e.side {
                    Side::Debit => &mut debits,
                    Side::Credit => &mut credits,
                };
                list.push((e.account.clone(), e.amount.minor()));
            }
            let (mut i, mut j) = (0, 0);
            while i < debits.len() && j < credits.len() {
                let amount = debits[i].1.min(credits[j].1);
                if amount > 0 {
                    transfers.push(TransferRequest::Posted {
                        debit: debits[i].0.clone(),
                        credit: credits[j].0.clone(),
                        amount: Money::from_minor(amount, *currency)?,
                    });
                }
                debits[i].1 -= amount;
                credits[j].1 -= amount;
                if debits[i].1 == 0 {
                    i += 1;
                }
                if credits[j].1 == 0 {
                    j += 1;
                }
            }
        }
        Ok(TransactionRequest { id, transfers })
    }

    /// Checks what can be checked without the ledger's state.
    pub fn validate_shape(&self) -> Result<(), LedgerError> {
        if self.transfers.is_empty() {
            return Err(LedgerError::EmptyTransaction);
        }
        if self.transfers.len() > MAX_TRANSFERS {
            return Err(LedgerError::TooManyTransfers);
        }
        for (index, t) in self.transfers.iter().enumerate() {
            match t {
                TransferRequest::Posted {
                    debit,
                    credit,
                    amount,
                }
                | TransferRequest::Pending {
                    debit,
                    credit,
                    amount,
                    ..
                } => {
                    if amount.is_zero() {
                        return Err(LedgerError::ZeroAmount { index });
                    }
                    if debit == credit {
                        return Err(LedgerError::SameAccount { index });
                    }
                }
                TransferRequest::PostPending {
                    amount: Some(amount),
                    ..
                } if amount.is_zero() => return Err(LedgerError::ZeroAmount { index }),
                TransferRequest::PostPending { .. } | TransferRequest::VoidPending { .. } => {}
            }
        }
        Ok(())
    }

    /// The accounts this request names directly (holds name theirs through the hold).
    pub fn accounts(&self) -> impl Iterator<Item = &AccountId> {
        self.transfers.iter().flat_map(|t| match t {
            TransferRequest::Posted { debit, credit, .. }
            | TransferRequest::Pending { debit, credit, .. } => vec![debit, credit],
            _ => vec![],
        })
    }

    /// The holds this request creates or resolves.
    pub fn holds(&self) -> impl Iterator<Item = &HoldId> {
        self.transfers.iter().filter_map(|t| match t {
            TransferRequest::Pending { hold, .. }
            | TransferRequest::PostPending { hold, .. }
            | TransferRequest::VoidPending { hold } => Some(hold),
            TransferRequest::Posted { .. } => None,
        })
    }

    /// A digest of the request's content: the same id with the same fingerprint is a retry.
    pub fn fingerprint(&self) -> Hash {
        let mut c = Canon::new("holdback/tx-request/v1");
        c.text(self.id.as_str());
        c.int(self.transfers.len() as i64);
        for t in &self.transfers {
            match t {
                TransferRequest::Posted {
                    debit,
                    credit,
                    amount,
                } => {
                    c.text("posted").text(debit.as_str()).text(credit.as_str());
                    c.money(Some(*amount));
                }
                TransferRequest::Pending {
                    hold,
                    debit,
                    credit,
                    amount,
                } => {
                    c.text("pending").text(hold.as_str());
                    c.text(debit.as_str())
                        .text(credit.as_str())
                        .money(Some(*amount));
                }
                TransferRequest::PostPending { hold, amount } => {
                    c.text("post_pending").text(hold.as_str()).money(*amount);
                }
                TransferRequest::VoidPending { hold } => {
                    c.text("void_pending").text(hold.as_str());
                }
            }
        }
        c.finish()
    }
}

/// A SHA-256 digest, printed as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The `prev_hash` of the first journal entry.
    pub const GENESIS: Hash = Hash([0; 32]);

    pub fn to_hex(self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        out
    }

    pub fn from_hex(text: &str) -> Option<Hash> {
        if text.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A canonical, unambiguous byte encoding fed to SHA-256 (length-prefixed text, fixed-width ints).
struct Canon(Sha256);

impl Canon {
    fn new(domain: &str) -> Canon {
        let mut c = Canon(Sha256::new());
        c.text(domain);
        c
    }
    fn text(&mut self, s: &str) -> &mut Canon {
        self.0.update((s.len() as u64).to_be_bytes());
        self.0.update(s.as_bytes());
        self
    }
    fn hash(&mut self, h: Hash) -> &mut Canon {
        self.0.update(h.0);
        self
    }
    fn int(&mut self, v: i64) -> &mut Canon {
        self.0.update(v.to_be_bytes());
        self
    }
    fn money(&mut self, m: Option<Money>) -> &mut Canon {
        match m {
            Some(m) => self.text(m.currency().code()).int(m.minor()),
            None => self.text("").int(-1),
        }
    }
    fn finish(self) -> Hash {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.0.finalize());
        Hash(out)
    }
}

/// What a posting did, as stored in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingKind {
    Posted,
    Pending,
    PostPending,
    VoidPending,
}

impl PostingKind {
    pub fn code(self) -> &'static str {
        match self {
            PostingKind::Posted => "posted",
            PostingKind::Pending => "pending",
            PostingKind::PostPending => "post_pending",
            PostingKind::VoidPending => "void_pending",
        }
    }

    pub fn parse(code: &str) -> Option<PostingKind> {
        Some(match code {
            "posted" => PostingKind::Posted,
            "pending" => PostingKind::Pending,
            "post_pending" => PostingKind::PostPending,
            "void_pending" => PostingKind::VoidPending,
            _ => return None,
        })
    }
}

/// Where a posting sits in the journal: its entry's sequence number and its index there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PostingRef {
    pub seq: i64,
    pub idx: i32,
}

/// The effect of one transfer on its two accounts: `posted` is added to the debit account's
/// posted debits and the credit account's posted credits; `pending_delta` to their pending sums.
///
/// Each posting also links each of its accounts to that account's posting before it, so an
/// account's history is a chain from [`Account::last_posting`] back to its first posting. The
/// links are derived from the journal's order (the auditor re-derives and checks them) and are
/// not part of the entry's hash. The chain lets a store keep postings append-only, with no index
/// per account: a batch touching many accounts writes a few pages, not one per account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub kind: PostingKind,
    pub hold: Option<HoldId>,
    pub debit: AccountId,
    pub credit: AccountId,
    pub currency: Currency,
    pub posted: i64,
    pub pending_delta: i64,
    /// The debit account's previous posting (`None`: this is its first).
    pub debit_prev: Option<PostingRef>,
    /// The credit account's previous posting (`None`: this is its first).
    pub credit_prev: Option<PostingRef>,
}

/// An immutable journal entry: one committed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub seq: i64,
    pub tx_id: TxId,
    pub fingerprint: Hash,
    pub committed_at: i64,
    pub prev_hash: Hash,
    pub hash: Hash,
    pub postings: Vec<Posting>,
}

impl JournalEntry {
    /// The hash this entry must carry: it covers the previous hash, so tampering shows.
    pub fn compute_hash(
        prev_hash: Hash,
        seq: i64,
        tx_id: &TxId,
        fingerprint: Hash,
        committed_at: i64,
        postings: &[Posting],
    ) -> Hash {
        let mut c = Canon::new("holdback/journal-entry/v1");
        c.hash(prev_hash).int(seq).text(tx_id.as_str());
        c.hash(fingerprint).int(committed_at);
        c.int(postings.len() as i64);
        for p in postings {
            c.text(p.kind.code());
            c.text(p.hold.as_ref().map_or("", HoldId::as_str));
            c.text(p.debit.as_str()).text(p.credit.as_str());
            c.text(p.currency.code()).int(p.posted).int(p.pending_delta);
        }
        c.finish()
    }

    pub fn receipt(&self) -> Receipt {
        Receipt {
            seq: self.seq,
            tx_id: self.tx_id.clone(),
            committed_at: self.committed_at,
            hash: self.hash,
        }
    }
}

/// What a caller is told about a committed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub seq: i64,
    pub tx_id: TxId,
    pub committed_at: i64,
    pub hash: Hash,
}

/// The outcome of a request that was not rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Newly committed.
    Committed(Receipt),
    /// A retry of a committed transaction with the same content: the original receipt.
    Exists(Receipt),
}

impl Outcome {
    pub fn receipt(&self) -> &Receipt {
        match self {
            Outcome::Committed(r) | Outcome::Exists(r) => r,
        }
    }
}

/// Whether an account was opened by this request or already existed with the same spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountOutcome {
    Opened,
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    Open,
    Posted { amount: i64, seq: i64 },
    Voided { seq: i64 },
}

impl HoldStatus {
    pub fn code(self) -> &'static str {
        match self {
            HoldStatus::Open => "open",
            HoldStatus::Posted { .. } => "posted",
            HoldStatus::Voided { .. } => "voided",
        }
    }
}

/// A two-phase hold: a pending transfer waiting for its one resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Money,
    pub created_seq: i64,
    pub status: HoldStatus,
}

/// The newest journal entry: where the next one chains from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: Hash,
    pub committed_at: i64,
}

impl Head {
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: Hash::GENESIS,
        committed_at: 0,
    };
}

/// Everything a book changed since the last [`Book::take_changes`], for the store to persist.
#[derive(Debug, Default)]
pub struct Changes {
    pub opened_accounts: Vec<Account>,
    pub updated_accounts: Vec<Account>,
    pub opened_holds: Vec<Hold>,
    pub resolved_holds: Vec<Hold>,
    pub entries: Vec<JournalEntry>,
    pub head: Option<Head>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.opened_accounts.is_empty() && self.entries.is_empty()
    }
}

/// An in-memory view of (part of) the ledger. See the module documentation.
#[derive(Debug, Clone)]
pub struct Book {
    accounts: HashMap<AccountId, Account>,
    holds: HashMap<HoldId, Hold>,
    transactions: HashMap<TxId, (Hash, Receipt)>,
    head: Head,
    opened_accounts: BTreeSet<AccountId>,
    touched_accounts: BTreeSet<AccountId>,
    opened_holds: BTreeSet<HoldId>,
    resolved_holds: BTreeSet<HoldId>,
    entries: Vec<JournalEntry>,
}

impl Book {
    pub fn new(head: Head) -> Book {
        Book {
            accounts: HashMap::new(),
            holds: HashMap::new(),
            transactions: HashMap::new(),
            head,
            opened_accounts: BTreeSet::new(),
            touched_accounts: BTreeSet::new(),
            opened_holds: BTreeSet::new(),
            resolved_holds: BTreeSet::new(),
            entries: Vec::new(),
        }
    }

    /// Adds a stored account to the view (prefetch).
    pub fn load_account(&mut self, account: Account) {
        self.accounts.insert(account.spec.id.clone(), account);
    }

    /// Adds a stored hold to the view (prefetch).
    pub fn load_hold(&mut self, hold: Hold) {
        self.holds.insert(hold.id.clone(), hold);
    }

    /// Adds a committed transaction id with its fingerprint and receipt (prefetch).
    pub fn load_transaction(&mut self, fingerprint: Hash, receipt: Receipt) {
        self.transactions
            .insert(receipt.tx_id.clone(), (fingerprint, receipt));
    }

    pub fn head(&self) -> Head {
        self.head
    }

    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }

    pub fn hold(&self, id: &HoldId) -> Option<&Hold> {
        self.holds.get(id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn holds(&self) -> impl Iterator<Item = &Hold> {
        self.holds.values()
    }

    /// Opens an account; the same spec again is `Exists`, a different one is a conflict.
    pub fn open_account(
        &mut self,
        spec: AccountSpec,
        now: i64,
    ) -> Result<AccountOutcome, LedgerError> {
        if let Some(existing) = self.accounts.get(&spec.id) {
            return if existing.spec == spec {
                Ok(AccountOutcome::Exists)
            } else {
                Err(LedgerError::AccountConflict(spec.id))
            };
        }
        self.opened_accounts.insert(spec.id.clone());
        self.accounts
            .insert(spec.id.clone(), Account::new(spec, now));
        Ok(AccountOutcome::Opened)
    }

    /// Opens `specs` (those not open yet) and executes `request`, as one: on a rejection the
    /// book is unchanged, and no account of `specs` is opened.
    pub fn execute_opening(
        &mut self,
        specs: &[AccountSpec],
        request: Option<&TransactionRequest>,
        now: i64,
    ) -> Result<Option<Outcome>, LedgerError> {
        let mut new = Vec::new();
        for spec in specs {
            match self.accounts.get(&spec.id) {
                Some(existing) if existing.spec == *spec => {}
                Some(_) => return Err(LedgerError::AccountConflict(spec.id.clone())),
                None if new.contains(&spec.id) => {}
                None => new.push(spec.id.clone()),
            }
        }
        for spec in specs.iter().filter(|s| new.contains(&s.id)) {
            if !self.accounts.contains_key(&spec.id) {
                self.accounts
                    .insert(spec.id.clone(), Account::new(spec.clone(), now));
            }
        }
        match request.map(|r| self.execute(r, now)).transpose() {
            Ok(outcome) => {
                self.opened_accounts.extend(new);
                Ok(outcome)
            }
            Err(e) => {
                for id in &new {
                    self.accounts.remove(id);
                }
                Err(e)
            }
        }
    }

    /// Decides one transaction and, if it is accepted, applies all of it. On a rejection the
    /// book is unchanged.
    pub fn execute(
        &mut self,
        request: &TransactionRequest,
        now: i64,
    ) -> Result<Outcome, LedgerError> {
        request.validate_shape()?;
        let fingerprint = request.fingerprint();
        if let Some((stored, receipt)) = self.transactions.get(&request.id) {
            return if *stored == fingerprint {
                Ok(Outcome::Exists(receipt.clone()))
            } else {
                Err(LedgerError::TransactionIdConflict(request.id.clone()))
            };
        }

        let seq = self.head.seq + 1;
        let mut work = Work {
            book: self,
            accounts: BTreeMap::new(),
            holds: BTreeMap::new(),
        };
        let mut postings = Vec::with_capacity(request.transfers.len());
        for (index, transfer) in request.transfers.iter().enumerate() {
            postings.push(work.apply(index, transfer, seq)?);
        }
        if let Some(account) = work.accounts.values().find(|a| !a.within_bound()) {
            return Err(LedgerError::InsufficientFunds(account.spec.id.clone()));
        }
        let Work {
            accounts, holds, ..
        } = work;

        let committed_at = now.max(self.head.committed_at);
        let hash = JournalEntry::compute_hash(
            self.head.hash,
            seq,
            &request.id,
            fingerprint,
            committed_at,
            &postings,
        );
        let entry = JournalEntry {
            seq,
            tx_id: request.id.clone(),
            fingerprint,
            committed_at,
            prev_hash: self.head.hash,
            hash,
            postings,
        };
        for (id, account) in accounts {
            self.touched_accounts.insert(id.clone());
            self.accounts.insert(id, account);
        }
        for (id, hold) in holds {
            if !self.holds.contains_key(&id) {
                self.opened_holds.insert(id.clone());
            } else {
                self.resolved_holds.insert(id.clone());
            }
            self.holds.insert(id, hold);
        }
        let receipt = entry.receipt();
        self.transactions
            .insert(request.id.clone(), (fingerprint, receipt.clone()));
        self.head = Head {
            seq,
            hash,
            committed_at,
        };
        self.entries.push(entry);
        Ok(Outcome::Committed(receipt))
    }

    /// Hands over what changed since the last call, and starts a new change set.
    pub fn take_changes(&mut self) -> Changes {
        let mut changes = Changes::default();
        for id in std::mem::take(&mut self.opened_accounts) {
            self.touched_accounts.remove(&id);
            if let Some(a) = self.accounts.get(&id) {
                changes.opened_accounts.push(a.clone());
            }
        }
        for id in std::mem::take(&mut self.touched_accounts) {
            if let Some(a) = self.accounts.get(&id) {
                changes.updated_accounts.push(a.clone());
            }
        }
        let opened = std::mem::take(&mut self.opened_holds);
        for id in &opened {
            if let Some(h) = self.holds.get(id) {
                changes.opened_holds.push(h.clone());
            }
        }
        // A hold opened and resolved in the same change set is written once, in `opened_holds`,
        // already carrying its final status.
        for id in std::mem::take(&mut self.resolved_holds) {
            if let Some(h) = self.holds.get(&id) {
                if opened.contains(&id) {
                    continue;
                }
                changes.resolved_holds.push(h.clone());
            }
        }
        changes.entries = std::mem::take(&mut self.entries);
        if !changes.entries.is_empty() {
            changes.head = Some(self.head);
        }
        changes
    }
}

/// The working copies of one transaction in progress.
struct Work<'a> {
    book: &'a Book,
    accounts: BTreeMap<AccountId, Account>,
    holds: BTreeMap<HoldId, Hold>,
}

impl Work<'_> {
    fn account(&mut self, id: &AccountId) -> Result<&mut Account, LedgerError> {
        if !self.accounts.contains_key(id) {
            let stored = self
                .book
                .accounts
                .get(id)
                .ok_or_else(|| LedgerError::UnknownAccount(id.clone()))?;
            self.accounts.insert(id.clone(), stored.clone());
        }
        self.accounts
            .get_mut(id)
            .ok_or_else(|| LedgerError::UnknownAccount(id.clone()))
    }

    fn check_currency(
        &mut self,
        index: usize,
        id: &AccountId,
        currency: Currency,
    ) -> Result<(), LedgerError> {
        let account = self.account(id)?;
        if account.spec.currency != currency {
            return Err(LedgerError::CrossCurrency {
                index,
                account: id.clone(),
                account_currency: account.spec.currency,
                amount_currency: currency,
            });
        }
        Ok(())
    }

    /// Adds a posting's effect to both of its accounts, and links it into both histories.
    fn post(&mut self, posting: &mut Posting, here: PostingRef) -> Result<(), LedgerError> {
        let add = |field: &mut i64, delta: i64, id: &AccountId| -> Result<(), LedgerError> {
            *field = field
                .checked_add(delta)
                .ok_or_else(|| LedgerError::BalanceOverflow(id.clone()))?;
            Ok(())
        };
        let debit = self.account(&posting.debit)?;
        add(&mut debit.debits_posted, posting.posted, &posting.debit)?;
        add(
            &mut debit.debits_pending,
            posting.pending_delta,
            &posting.debit,
        )?;
        posting.debit_prev = debit.last_posting.replace(here);
        let credit = self.account(&posting.credit)?;
        add(&mut credit.credits_posted, posting.posted, &posting.credit)?;
        add(
            &mut credit.credits_pending,
            posting.pending_delta,
            &posting.credit,
        )?;
        posting.credit_prev = credit.last_posting.replace(here);
        Ok(())
    }

    fn open_hold(&mut self, id: &HoldId) -> Result<Hold, LedgerError> {
        let hold = match self.holds.get(id) {
            Some(h) => h.clone(),
            None => self
                .book
                .holds
                .get(id)
                .cloned()
                .ok_or_else(|| LedgerError::UnknownHold(id.clone()))?,
        };
        if hold.status != HoldStatus::Open {
            return Err(LedgerError::HoldAlreadyResolved(id.clone()));
        }
        Ok(hold)
    }

    fn apply(
        &mut self,
        index: usize,
        transfer: &TransferRequest,
        seq: i64,
    ) -> Result<Posting, LedgerError> {
        let mut posting = match transfer {
            TransferRequest::Posted {
                debit,
                credit,
                amount,
            } => {
                self.check_currency(index, debit, amount.currency())?;
                self.check_currency(index, credit, amount.currency())?;
                Posting {
                    kind: PostingKind::Posted,
                    hold: None,
                    debit: debit.clone(),
                    credit: credit.clone(),
                    currency: amount.currency(),
                    posted: amount.minor(),
                    pending_delta: 0,
                    debit_prev: None,
                    credit_prev: None,
                }
            }
            TransferRequest::Pending {
                hold,
                debit,
                credit,
                amount,
            } => {
                if self.holds.contains_key(hold) || self.book.holds.contains_key(hold) {
                    return Err(LedgerError::HoldExists(hold.clone()));
                }
                self.check_currency(index, debit, amount.currency())?;
                self.check_currency(index, credit, amount.currency())?;
                self.holds.insert(
                    hold.clone(),
                    Hold {
                        id: hold.clone(),
                        debit: debit.clone(),
                        credit: credit.clone(),
                        amount: *amount,
                        created_seq: seq,
                        status: HoldStatus::Open,
                    },
                );
                Posting {
                    kind: PostingKind::Pending,
                    hold: Some(hold.clone()),
                    debit: debit.clone(),
                    credit: credit.clone(),
                    currency: amount.currency(),
                    posted: 0,
                    pending_delta: amount.minor(),
                    debit_prev: None,
                    credit_prev: None,
                }
            }
            TransferRequest::PostPending { hold: id, amount } => {
                let mut hold = self.open_hold(id)?;
                let post = match amount {
                    None => hold.amount,
                    Some(a) if a.currency() != hold.amount.currency() => {
                        return Err(LedgerError::CrossCurrency {
                            index,
                            account: hold.debit.clone(),
                            account_currency: hold.amount.currency(),
                            amount_currency: a.currency(),
                        });
                    }
                    Some(a) if a.minor() > hold.amount.minor() => {
                        return Err(LedgerError::PostExceedsHold {
                            hold: id.clone(),
                            amount: a.minor(),
                            held: hold.amount.minor(),
                        });
                    }
                    Some(a) => *a,
                };
                hold.status = HoldStatus::Posted {
                    amount: post.minor(),
                    seq,
                };
                let posting = Posting {
                    kind: PostingKind::PostPending,
                    hold: Some(id.clone()),
                    debit: hold.debit.clone(),
                    credit: hold.credit.clone(),
                    currency: hold.amount.currency(),
                    posted: post.minor(),
                    pending_delta: -hold.amount.minor(),
                    debit_prev: None,
                    credit_prev: None,
                };
                self.holds.insert(id.clone(), hold);
                posting
            }
            TransferRequest::VoidPending { hold: id } => {
                let mut hold = self.open_hold(id)?;
                hold.status = HoldStatus::Voided { seq };
                let posting = Posting {
                    kind: PostingKind::VoidPending,
                    hold: Some(id.clone()),
                    debit: hold.debit.clone(),
                    credit: hold.credit.clone(),
                    currency: hold.amount.currency(),
                    posted: 0,
                    pending_delta: -hold.amount.minor(),
                    debit_prev: None,
                    credit_prev: None,
                };
                self.holds.insert(id.clone(), hold);
                posting
            }
        };
        debug_assert!(posting.posted <= MAX_AMOUNT);
        let idx = i32::try_from(index).map_err(|_| LedgerError::TooManyTransfers)?;
        self.post(&mut posting, PostingRef { seq, idx })?;
        Ok(posting)
    }
}
