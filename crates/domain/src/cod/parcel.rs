//! A cash-on-delivery parcel: what its carrier reports, and the cash it collects.
//!
//! A parcel is written when its order ships. The carrier reports events (`in_transit`,
//! `out_for_delivery`, `delivered` with the cash collected, `refused`, `undeliverable`), each
//! with the time it happened; they may arrive twice or out of order. The rules:
//!
//! - an event that repeats what is already known, or arrives after the parcel has moved past it
//!   (out for delivery reported after the delivery), changes nothing;
//! - `delivered` collects the cash: the carrier must report exactly what the parcel is to
//!   collect (the order's amount and the fee), and it becomes receivable from the carrier;
//! - `refused` and `undeliverable` send the parcel back to origin: the order is cancelled, and
//!   the return's cost is charged to whoever the policy names;
//! - a parcel that was collected cannot come back, nor a returned one be collected: such a
//!   report is refused as [`ParcelError::AlreadyFinal`], and nothing changes.

use crate::ErrorCode;
use crate::ids::InvalidId;
use crate::ledger::{AccountKind, TransferRequest};
use crate::money::{Money, MoneyError};
use crate::order::mode;

use super::{CodAccounts, RtoPayer, spec};

/// What a carrier reports about a parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CarrierEvent {
    InTransit,
    OutForDelivery,
    Delivered,
    Refused,
    Undeliverable,
}

impl CarrierEvent {
    pub const ALL: [CarrierEvent; 5] = [
        CarrierEvent::InTransit,
        CarrierEvent::OutForDelivery,
        CarrierEvent::Delivered,
        CarrierEvent::Refused,
        CarrierEvent::Undeliverable,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CarrierEvent::InTransit => "in_transit",
            CarrierEvent::OutForDelivery => "out_for_delivery",
            CarrierEvent::Delivered => "delivered",
            CarrierEvent::Refused => "refused",
            CarrierEvent::Undeliverable => "undeliverable",
        }
    }

    pub fn parse(code: &str) -> Option<CarrierEvent> {
        CarrierEvent::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// A remittance that paid a parcel's cash (or its return's charge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remitted {
    pub batch: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParcelState {
    /// With the carrier; `out_for_delivery` when it left for the door.
    InTransit { out_for_delivery: Option<i64> },
    /// Delivered and paid at the door at `at`; `remitted` once the carrier's remittance for it
    /// was matched.
    Collected { at: i64, remitted: Option<Remitted> },
    /// Refused at the door or not deliverable (`reason`): going back to the seller.
    Returned {
        at: i64,
        reason: CarrierEvent,
        remitted: Option<Remitted>,
    },
}

impl ParcelState {
    pub fn code(&self) -> &'static str {
        match self {
            ParcelState::InTransit {
                out_for_delivery: None,
            } => "in_transit",
            ParcelState::InTransit { .. } => "out_for_delivery",
            ParcelState::Collected { .. } => "collected",
            ParcelState::Returned {
                reason: CarrierEvent::Refused,
                ..
            } => "refused",
            ParcelState::Returned { .. } => "undeliverable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    pub id: String,
    pub carrier: String,
    pub tracking: String,
    pub order: String,
    pub payment: String,
    pub buyer: String,
    pub seller: String,
    pub livemode: bool,
    /// What the carrier collects at the door: the order's amount and the fee.
    pub cash: Money,
    pub fee: i64,
    /// What a return costs, and who pays it (fixed when the parcel ships).
    pub rto_cost: i64,
    pub rto_payer: RtoPayer,
    pub created_at: i64,
    /// The time of the latest event applied.
    pub last_event_at: i64,
    pub state: ParcelState,
    /// The latest remittance that took back the carrier's earlier payment for it (its cash is
    /// owed again; `state` is then collected and not remitted).
    pub reversed: Option<Remitted>,
}

/// What a decision did to the parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParcelEvent {
    OutForDelivery,
    Collected,
    Returned { reason: CarrierEvent },
}

impl ParcelEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ParcelEvent::OutForDelivery => "parcel.out_for_delivery",
            ParcelEvent::Collected => "parcel.collected",
            ParcelEvent::Returned { .. } => "parcel.returned",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelDecision {
    pub parcel: Parcel,
    /// Empty when the report changed nothing (a repeat, or news older than what is known).
    pub events: Vec<ParcelEvent>,
    pub accounts: Vec<crate::ledger::AccountSpec>,
    pub transfers: Vec<TransferRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParcelError {
    #[error("the parcel is already {0}: a {1} report contradicts it")]
    AlreadyFinal(&'static str, &'static str),
    #[error("the carrier must report the cash it collected: {expected} is due")]
    CashMissing { expected: i64 },
    #[error("the carrier reports {reported} collected, but {expected} is due")]
    CashMismatch { expected: i64, reported: i64 },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
}

impl ParcelError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ParcelError::AlreadyFinal(..) => ErrorCode::ParcelAlreadyFinal,
            ParcelError::CashMissing { .. } | ParcelError::CashMismatch { .. } => {
                ErrorCode::CollectionAmountMismatch
            }
            ParcelError::Money(e) => e.code(),
            ParcelError::InvalidId(_) => ErrorCode::InvalidId,
        }
    }
}

/// Decides one carrier report (`event` at `at`, with the cash it says it collected).
pub fn report(
    parcel: &Parcel,
    event: CarrierEvent,
    at: i64,
    cash: Option<i64>,
) -> Result<ParcelDecision, ParcelError> {
    let mut d = ParcelDecision {
        parcel: parcel.clone(),
        events: vec![],
        accounts: vec![],
        transfers: vec![],
    };
    let final_code = parcel.state.code();
    match (&parcel.state, event) {
        (ParcelState::InTransit { out_for_delivery }, CarrierEvent::OutForDelivery) => {
            if out_for_delivery.is_none() {
                d.parcel.state = ParcelState::InTransit {
                    out_for_delivery: Some(at),
                };
                d.events.push(ParcelEvent::OutForDelivery);
            }
        }
        (ParcelState::InTransit { .. }, CarrierEvent::InTransit) => {}
        (ParcelState::InTransit { .. }, CarrierEvent::Delivered) => {
            let expected = parcel.cash.minor();
            match cash {
                None => return Err(ParcelError::CashMissing { expected }),
                Some(reported) if reported != expected => {
                    return Err(ParcelError::CashMismatch { expected, reported });
                }
                Some(_) => {}
            }
            d.parcel.state = ParcelState::Collected { at, remitted: None };
            d.events.push(ParcelEvent::Collected);
        }
        (ParcelState::InTransit { .. }, CarrierEvent::Refused | CarrierEvent::Undeliverable) => {
            d.parcel.state = ParcelState::Returned {
                at,
                reason: event,
                remitted: None,
            };
            d.events.push(ParcelEvent::Returned { reason: event });
            charge_return(&mut d)?;
        }
        // news older than what is known, or a repeat: recorded by the caller, changes nothing
        (
            ParcelState::Collected { .. } | ParcelState::Returned { .. },
            CarrierEvent::InTransit | CarrierEvent::OutForDelivery,
        )
        | (ParcelState::Collected { .. }, CarrierEvent::Delivered)
        | (ParcelState::Returned { .. }, CarrierEvent::Refused | CarrierEvent::Undeliverable) => {}
        (ParcelState::Collected { .. }, CarrierEvent::Refused | CarrierEvent::Undeliverable)
        | (ParcelState::Returned { .. }, CarrierEvent::Delivered) => {
            return Err(ParcelError::AlreadyFinal(final_code, event.code()));
        }
    }
    if !d.events.is_empty() {
        d.parcel.last_event_at = parcel.last_event_at.max(at);
    }
    Ok(d)
}

/// The return's cost, charged as the policy said when the parcel shipped: to the buyer as a
/// recorded debt, or to the seller as its debt; the platform bears it by booking nothing here
/// (the carrier deducts it from a remittance, booked as an expense then).
fn charge_return(d: &mut ParcelDecision) -> Result<(), ParcelError> {
    let p = &d.parcel;
    if p.rto_cost <= 0 {
        return Ok(());
    }
    let currency = p.cash.currency();
    let debtor = match p.rto_payer {
        RtoPayer::Platform => return Ok(()),
        RtoPayer::Buyer => CodAccounts::buyer_debt(p.livemode, &p.buyer, currency)?,
        RtoPayer::Seller => crate::AccountId::parse(&format!(
            "{}:seller_debt:{}:{}",
            mode(p.livemode),
            p.seller,
            currency.code()
        ))?,
    };
    let kind = match p.rto_payer {
        RtoPayer::Seller => AccountKind::SellerDebt,
        _ => AccountKind::BuyerDebt,
    };
    let recovered = CodAccounts::of(p.livemode, currency)?.rto_recovered;
    d.accounts.push(spec(&debtor, kind, currency));
    d.accounts
        .push(spec(&recovered, AccountKind::RtoRecovered, currency));
    d.transfers.push(TransferRequest::Posted {
        debit: debtor,
        credit: recovered,
        amount: Money::from_minor(p.rto_cost, currency)?,
    });
    Ok(())
}
