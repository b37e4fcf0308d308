//! The holdback shell: use cases as *load, decide, persist*.
//!
//! Each use case loads what it needs from the store, lets the pure domain decide, and hands the
//! decision to the group-commit writer as one [`holdback_store::Unit`]: order rows, ledger
//! postings, timers, outbox events and the idempotent response, written together or not at all.
//! A decision made against an order that changed meanwhile is refused by the writer and decided
//! again. `App` carries the store, the clock, the id generator, the card connector and the
//! policies, passed explicitly: no globals.

pub mod cards;
pub mod catalog;
pub mod checkout;
pub mod ids;
pub mod keys;
pub mod orders;
pub mod parties;
pub mod scheduler;
pub mod views;
pub mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use holdback_domain::card::CardError;
use holdback_domain::ledger::LedgerError;
use holdback_domain::order::{Commission, OrderError, OrderPolicy};
use holdback_domain::{InvalidId, MoneyError};
use holdback_store::clock::Clock;
use holdback_store::{Ledger, Store, StoreError, WriteError};

use crate::cards::CardConnector;
use crate::ids::IdGen;

/// Policies: the order timings and commission, with per-seller commission overrides, and the
/// shipping methods with their delivery guarantees (ms from shipment).
#[derive(Debug, Clone)]
pub struct Policy {
    pub order: OrderPolicy,
    pub commissions: HashMap<String, Commission>,
    pub shipping: BTreeMap<String, i64>,
}

impl Default for Policy {
    /// DOMAIN.md §4: economy 60 days, standard 30, express 10.
    fn default() -> Self {
        let day = 86_400_000;
        Policy {
            order: OrderPolicy::default(),
            commissions: HashMap::new(),
            shipping: [
                ("economy", 60 * day),
                ("standard", 30 * day),
                ("express", 10 * day),
            ]
            .into_iter()
            .map(|(m, g)| (m.to_string(), g))
            .collect(),
        }
    }
}

impl Policy {
    pub fn for_seller(&self, seller: &str) -> OrderPolicy {
        let mut p = self.order;
        if let Some(c) = self.commissions.get(seller) {
            p.commission = *c;
        }
        p
    }
}

/// Everything a use case needs.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub ledger: Ledger,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub cards: Arc<dyn CardConnector>,
    pub policy: Arc<Policy>,
}

impl App {
    /// The application on a store: starts its group-commit writer, and uses the sandbox card
    /// connector (the only one there is so far).
    pub fn new(store: Store, clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>, policy: Policy) -> App {
        App {
            ledger: Ledger::start(store.clone(), clock.clone()),
            store,
            cards: Arc::new(cards::SandboxCards {
                clock: clock.clone(),
            }),
            clock,
            ids,
            policy: Arc::new(policy),
        }
    }
}

/// Who is calling, from their API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Platform,
    Buyer(String),
    Seller(String),
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
        code: &'static str,
        message: String,
        param: Option<&'static str>,
    },
    /// No such object, or one the caller may not see (the two are not told apart).
    #[error("no such object")]
    NotFound,
    /// The API key is missing, malformed, unknown or revoked.
    #[error("invalid API key")]
    Unauthenticated,
    /// Another request changed the same object at the same time; retry.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A failure of the system, not of the request. The text is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn rejected(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Rejected {
            code,
            message: message.into(),
            param: None,
        }
    }

    pub fn param(code: &'static str, param: &'static str, message: impl Into<String>) -> AppError {
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
        AppError::rejected("invalid_id", e.to_string())
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
            WriteError::Unavailable(what) => AppError::Internal(what),
        }
    }
}
