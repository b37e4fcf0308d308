//! The holdback shell: use cases as *load, decide, persist*.
//!
//! Each use case loads what it needs from the store, lets the pure domain decide, and hands the
//! decision to the group-commit writer as one [`holdback_store::Unit`]: order rows, ledger
//! postings, timers, outbox events and the idempotent response, written together or not at all.
//! A decision made against an order that changed meanwhile is refused by the writer and decided
//! again. `App` carries the store, the clock, the id generator, the card connector and the
//! policies, passed explicitly: no globals.

pub mod balance;
pub mod bank;
pub mod cards;
pub mod catalog;
pub mod checkout;
pub mod cod;
pub mod coupons;
pub mod disputes;
pub mod endpoint_address;
pub mod evidence;
pub mod files;
pub mod gift_cards;
pub mod idempotency;
pub mod ids;
pub mod keys;
pub mod messages;
pub mod orders;
pub mod parcels;
pub mod parties;
pub mod payments;
pub mod process;
pub mod reconcile;
pub mod refunds;
pub mod remittance_lines;
pub mod remittances;
pub mod sandbox;
pub mod scheduler;
pub mod views;
pub mod wallets;
pub mod webhook_endpoints;
pub mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use holdback_domain::card::CardError;
use holdback_domain::dispute::DisputePolicy;
use holdback_domain::evidence::EvidenceLimits;
use holdback_domain::ledger::LedgerError;
use holdback_domain::order::{
    Commission, CommissionRule, DeliveryGuarantees, OrderError, OrderPolicy,
};
use holdback_domain::payment::PaymentError;
use holdback_domain::refund::{RefundError, RefundPolicy};
use holdback_domain::{Currency, ErrorCode, InvalidId, MoneyError};
use holdback_store::clock::Clock;
use holdback_store::{Conflict, Ledger, Store, StoreError, WriteError};

use crate::cards::CardConnector;
use crate::ids::IdGen;

/// What a seller's terms override: commission and ship-by days (3–10).
#[derive(Debug, Clone, Default)]
pub struct SellerPolicy {
    pub commission: Option<CommissionRule>,
    pub ship_by_days: Option<u32>,
}

/// Policies: the order timings, commission and ship-by days (with per-seller overrides), the
/// shipping methods with their delivery guarantees (ms from shipment), and how provider calls
/// are timed out and refunds retried.
#[derive(Debug, Clone)]
pub struct Policy {
    pub order: OrderPolicy,
    pub ship_by_days: u32,
    pub commission: CommissionRule,
    pub sellers: HashMap<String, SellerPolicy>,
    pub shipping: BTreeMap<String, i64>,
    /// Per destination country (the buyer's), a delivery guarantee that replaces the method's.
    pub delivery_guarantees: DeliveryGuarantees,
    /// The timings of disputes.
    pub disputes: DisputePolicy,
    pub refunds: RefundPolicy,
    /// A provider call not answered within this has an unknown outcome.
    pub provider_timeout_ms: u64,
    /// A checkout without an Idempotency-Key that repeats one from the same key within this
    /// answers with the first one's payment instead of charging again.
    pub duplicate_window_ms: i64,
    /// A payment still processing this long after it was created is settled by asking the
    /// provider (longer than `provider_timeout_ms`, so the call that made it has given up).
    pub settle_after_ms: i64,
    /// Lets live webhook endpoints be `http` and point at loopback, private, link-local and
    /// other reserved addresses (tests, private deployments); see [`endpoint_address`].
    pub allow_private_webhook_addresses: bool,
    /// The most one checkout may charge, per currency (minor units); a currency not listed is
    /// bounded only by the ledger's own maximum.
    pub checkout_max: BTreeMap<Currency, i64>,
    /// Evidence files of disputes: the largest file, the largest video, and how many files and
    /// bytes one dispute may have.
    pub evidence: EvidenceLimits,
    /// Bank transfers: how long a payment waits for its money, the platform's account the
    /// buyer pays into, and the secrets the bank signs its notifications with.
    pub bank: bank::BankPolicy,
    /// Wallets: how long a payment waits for the buyer's approval, the secrets the (sandbox)
    /// wallets sign their callbacks with, and where this server is reached from outside.
    pub wallets: wallets::WalletPolicy,
    /// Gift cards: how long they stay valid, the lockout after wrong codes, the checks a
    /// client may make a minute, and the keys codes are hashed under.
    pub gift_cards: gift_cards::GiftCardPolicy,
    /// How refunds are shared among a payment's tenders (stored value last by default) and
    /// which parts go to the buyer's balance instead of back to the provider.
    pub refund_routing: holdback_domain::tender::RefundRouting,
    /// How many platform and seller coupons one order takes.
    pub coupons: coupons::CouponPolicy,
    /// Cash on delivery: the rules per country (with the day each takes effect), the carriers
    /// that collect cash, the limits on a buyer's risk, who pays for returns.
    pub cod: holdback_domain::cod::CodPolicy,
    /// How each carrier's remittance files are read, by profile name (the example profiles
    /// by default, each also by its carrier's id).
    pub carrier_profiles: BTreeMap<String, holdback_remit::Profile>,
}

/// The default most one checkout may charge: about USD 10,000 in each of these currencies
/// (major units; the minor units follow from each currency's exponent).
pub const CHECKOUT_MAX_DEFAULT: &[(&str, i64)] = &[
    ("USD", 10_000),
    ("EUR", 10_000),
    ("GBP", 8_000),
    ("CHF", 10_000),
    ("CAD", 14_000),
    ("AUD", 15_000),
    ("CNY", 70_000),
    ("JPY", 1_500_000),
    ("KRW", 14_000_000),
    ("INR", 850_000),
    ("BRL", 55_000),
    ("MXN", 180_000),
    ("TRY", 350_000),
    ("RUB", 1_000_000),
    ("PLN", 40_000),
    ("VND", 250_000_000),
    ("IDR", 160_000_000),
];

impl Default for Policy {
    /// Economy 60 days, standard 30, express 10 (to Russia 90, to Brazil 120); ship within 7
    /// days; 5 % commission.
    fn default() -> Self {
        let day = 86_400_000;
        Policy {
            order: OrderPolicy::default(),
            ship_by_days: holdback_domain::party::SHIP_BY_DAYS_DEFAULT,
            commission: CommissionRule::percent(500),
            sellers: HashMap::new(),
            shipping: [
                ("economy", 60 * day),
                ("standard", 30 * day),
                ("express", 10 * day),
            ]
            .into_iter()
            .map(|(m, g)| (m.to_string(), g))
            .collect(),
            delivery_guarantees: DeliveryGuarantees {
                by_country: [("RU", 90 * day), ("BR", 120 * day)]
                    .into_iter()
                    .map(|(c, g)| (c.to_string(), g))
                    .collect(),
            },
            disputes: DisputePolicy::default(),
            refunds: RefundPolicy::default(),
            provider_timeout_ms: 30_000,
            duplicate_window_ms: 10 * 60_000,
            settle_after_ms: 120_000,
            allow_private_webhook_addresses: false,
            checkout_max: CHECKOUT_MAX_DEFAULT
                .iter()
                .filter_map(|(code, major)| {
                    let c = Currency::parse(code).ok()?;
                    Some((c, major * 10_i64.pow(c.exponent())))
                })
                .collect(),
            evidence: EvidenceLimits::default(),
            bank: bank::BankPolicy::default(),
            wallets: wallets::WalletPolicy::default(),
            gift_cards: gift_cards::GiftCardPolicy::default(),
            refund_routing: holdback_domain::tender::RefundRouting::default(),
            coupons: coupons::CouponPolicy::default(),
            cod: holdback_domain::cod::CodPolicy::default(),
            carrier_profiles: remittances::example_profiles(),
        }
    }
}

impl Policy {
    /// The commission of a seller's order in `currency`.
    pub fn commission(&self, seller: &str, currency: Currency) -> Commission {
        self.sellers
            .get(seller)
            .and_then(|s| s.commission.as_ref())
            .unwrap_or(&self.commission)
            .for_currency(currency)
    }

    /// How long a seller has to ship after payment (ms).
    pub fn ship_by_ms(&self, seller: &str) -> i64 {
        let days = self
            .sellers
            .get(seller)
            .and_then(|s| s.ship_by_days)
            .unwrap_or(self.ship_by_days);
        i64::from(days) * holdback_domain::order::DAY
    }
}

/// The card connectors, one per mode. Test mode always has one (the sandbox); live mode has
/// one only when a real provider is configured, and a live checkout without it is refused.
#[derive(Clone)]
pub struct Connectors {
    pub test: Arc<dyn CardConnector>,
    pub live: Option<Arc<dyn CardConnector>>,
    /// The bank that pays back bank transfers in test mode (live mode has none yet: a live
    /// bank transfer's refund waits, owed, for one).
    pub bank_test: Arc<dyn bank::BankConnector>,
}

impl Connectors {
    pub fn for_mode(&self, livemode: bool) -> Result<&Arc<dyn CardConnector>, AppError> {
        if !livemode {
            return Ok(&self.test);
        }
        self.live.as_ref().ok_or_else(|| {
            AppError::rejected(
                ErrorCode::LivemodeUnavailable,
                "no live payment provider is configured: live payments are refused",
            )
        })
    }
}

/// Everything a use case needs.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub ledger: Ledger,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub cards: Connectors,
    pub policy: Arc<Policy>,
    /// Idempotency keys held by this process's running requests (SQLite only).
    pub claims: Arc<idempotency::LocalClaims>,
    /// Where uploaded files' content is kept (by default the folder
    /// [`files::DEFAULT_FOLDER`] in the current folder; `serve` sets its own).
    pub files: Arc<dyn files::FileStore>,
    /// Refused gift-card codes by reason, and the clients' checks this minute.
    pub guards: Arc<gift_cards::Guards>,
}

impl App {
    /// The application on a store: starts its group-commit writer. Test mode pays through
    /// `test_cards`; live mode has no provider until one is set in `cards.live`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        policy: Policy,
        test_cards: Arc<dyn CardConnector>,
    ) -> App {
        App {
            ledger: Ledger::start(store.clone(), clock.clone()),
            store,
            cards: Connectors {
                test: test_cards,
                live: None,
                bank_test: Arc::new(bank::StatelessBank),
            },
            clock,
            ids,
            policy: Arc::new(policy),
            claims: Arc::default(),
            files: Arc::new(files::LocalFiles::new(files::DEFAULT_FOLDER)),
            guards: Arc::default(),
        }
    }

    /// The stateless sandbox on `clock` (benchmarks and tests that need no provider state).
    pub fn stateless_cards(clock: Arc<dyn Clock>) -> Arc<dyn CardConnector> {
        Arc::new(cards::StatelessSandbox { clock })
    }
}

/// Who is calling, from their API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Platform,
    Buyer(String),
    Seller(String),
    /// A person who decides disputes escalated to mediation, by an id shaped like a party's
    /// (`med_erin`). Not a party: no row in the parties table, no country. Until disputes are
    /// stored a mediator sees no order, payment, refund, event, webhook endpoint, party or
    /// product (each answers as missing, each list is empty) and is refused (`not_permitted`)
    /// what a buyer is refused.
    Mediator(String),
    /// A shop that sells gift cards for cash and records each sale (activation), by an id
    /// shaped like a party's (`ret_corner_shop`). Not a party. A retailer sees only the gift
    /// cards it activated; everything else answers as missing (a list, empty) or is refused
    /// (`not_permitted`), as for a mediator.
    Retailer(String),
    /// A carrier that reports its parcels' events and remits the cash it collects, by its id
    /// in the policy (`gulf_express`). Not a party. A carrier sees only its own parcels and
    /// remittances; everything else answers as missing or is refused, as for a retailer.
    Carrier(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub role: Role,
    pub livemode: bool,
}

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Refused by a rule; nothing changed. `code` is stable; `param` names the field at fault.
    #[error("{message}")]
    Rejected {
        code: ErrorCode,
        message: String,
        param: Option<&'static str>,
    },
    /// Refused by rules that explain themselves: `detail` says what each rule found (a
    /// cash-on-delivery verdict). Nothing changed.
    #[error("{message}")]
    Explained {
        code: ErrorCode,
        message: String,
        param: &'static str,
        detail: Box<serde_json::Value>,
    },
    /// No such object, or one the caller may not see (the two are not told apart).
    #[error("no such object")]
    NotFound,
    /// The API key is missing, malformed, unknown or revoked.
    #[error("invalid API key")]
    Unauthenticated,
    /// Another request changed the same object at the same time; retry.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// A failure of the system, not of the request. The text is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn rejected(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError::Rejected {
            code,
            message: message.into(),
            param: None,
        }
    }

    pub fn param(code: ErrorCode, param: &'static str, message: impl Into<String>) -> AppError {
        AppError::Rejected {
            code,
            message: message.into(),
            param: Some(param),
        }
    }
}

impl From<OrderError> for AppError {
    fn from(e: OrderError) -> Self {
        AppError::rejected(e.code(), e.to_string())
    }
}
impl From<PaymentError> for AppError {
    fn from(e: PaymentError) -> Self {
        AppError::rejected(e.code(), e.to_string())
    }
}
impl From<RefundError> for AppError {
    fn from(e: RefundError) -> Self {
        AppError::rejected(e.code(), e.to_string())
    }
}
impl From<cards::ProviderError> for AppError {
    fn from(e: cards::ProviderError) -> Self {
        match e {
            cards::ProviderError::Refused { code, message, .. } => AppError::Rejected {
                code,
                message,
                param: Some("card"),
            },
            cards::ProviderError::Unknown(what) => AppError::Internal(what),
        }
    }
}
impl From<holdback_domain::process::ReactionError> for AppError {
    fn from(e: holdback_domain::process::ReactionError) -> Self {
        use holdback_domain::process::ReactionError;
        match e {
            ReactionError::MissingPayment(id) => AppError::Internal(format!("no payment {id}")),
            ReactionError::MissingOrder(id) => AppError::Internal(format!("no order {id}")),
            e @ (ReactionError::ForAnOrder(_) | ReactionError::NotForAnOrder(_)) => {
                AppError::Internal(e.to_string())
            }
            ReactionError::Payment(e) => e.into(),
            ReactionError::Order(e) => e.into(),
        }
    }
}
impl From<LedgerError> for AppError {
    fn from(e: LedgerError) -> Self {
        AppError::rejected(e.code(), e.to_string())
    }
}
impl From<MoneyError> for AppError {
    fn from(e: MoneyError) -> Self {
        AppError::rejected(e.code(), e.to_string())
    }
}
impl From<CardError> for AppError {
    fn from(e: CardError) -> Self {
        AppError::param(e.code(), "card", e.to_string())
    }
}
impl From<InvalidId> for AppError {
    fn from(e: InvalidId) -> Self {
        AppError::rejected(ErrorCode::InvalidId, e.to_string())
    }
}
impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}
impl From<WriteError> for AppError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Rejected(e) => e.into(),
            WriteError::Conflict(what) => AppError::Conflict(what),
            // The request's own rows cannot be stored; asking again gives the same rows.
            WriteError::Refused(what) => AppError::rejected(ErrorCode::RowRefused, what),
            WriteError::Unavailable(what) => AppError::Internal(what),
        }
    }
}
