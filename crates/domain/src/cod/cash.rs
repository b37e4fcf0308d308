//! The cash of a cash-on-delivery payment in the ledger: expected when the buyer confirms,
//! receivable from the carrier once collected, given back to the expectation when it never was.

use crate::ledger::{AccountKind, TransferRequest};
use crate::money::Money;
use crate::order::SharedAccounts;
use crate::payment::{Method, Payment, PaymentDecision, PaymentError, PaymentEvent, PaymentState};

use super::{CodAccounts, spec};

fn cash_tender(payment: &Payment) -> Result<&crate::payment::Tender, PaymentError> {
    match payment.tenders.as_slice() {
        [t] if t.method == Method::CashOnDelivery => Ok(t),
        _ => Err(PaymentError::NotCashOnDelivery),
    }
}

/// The buyer confirmed: the payment's orders are paid from the cash expected. The money goes
/// through clearing (as a bank transfer's does), where each order's payment takes it into its
/// escrow.
pub(crate) fn confirm(payment: &Payment, now: i64) -> Result<PaymentDecision, PaymentError> {
    let t = cash_tender(payment)?;
    let PaymentState::RequiresAction {
        orders, expires_at, ..
    } = &payment.state
    else {
        return Err(PaymentError::NotAwaitingMoney);
    };
    // past its time the order is being cancelled, whenever the scheduler gets to it
    if now >= *expires_at {
        return Err(PaymentError::ConfirmationLate);
    }
    let currency = t.amount.currency();
    let cod = CodAccounts::of(payment.livemode, currency)?;
    let shared = SharedAccounts::of(payment.livemode, currency)?;
    let mut p = payment.clone();
    p.state = PaymentState::Captured {
        at: now,
        orders: orders.clone(),
    };
    Ok(PaymentDecision {
        events: vec![PaymentEvent::Confirmed {
            orders: orders.clone(),
        }],
        accounts: vec![
            spec(&cod.expected, AccountKind::CodExpected, currency),
            spec(
                &shared.card_clearing,
                AccountKind::BuyerPaymentClearing,
                currency,
            ),
        ],
        transfers: vec![TransferRequest::Posted {
            debit: cod.expected,
            credit: shared.card_clearing,
            amount: t.amount,
        }],
        payment: p,
    })
}

/// The carrier collected at the door what the payment has not given back, and `fee` on top:
/// all of it is now receivable from the carrier; the fee is the platform's revenue.
pub(crate) fn collect(
    payment: &Payment,
    carrier: &str,
    fee: i64,
) -> Result<PaymentDecision, PaymentError> {
    let t = cash_tender(payment)?;
    if !matches!(payment.state, PaymentState::Captured { .. }) {
        return Err(PaymentError::NotCaptured);
    }
    if t.received > 0 {
        return Err(PaymentError::AlreadyCollected);
    }
    let currency = t.amount.currency();
    let goods = t.remaining();
    let total = goods.checked_add(fee).ok_or(crate::MoneyError::Overflow)?;
    let cod = CodAccounts::of(payment.livemode, currency)?;
    let receivable = CodAccounts::receivable(payment.livemode, carrier, currency)?;
    let mut accounts = vec![
        spec(&cod.expected, AccountKind::CodExpected, currency),
        spec(&receivable, AccountKind::CarrierCodReceivable, currency),
    ];
    let mut transfers = Vec::new();
    if goods > 0 {
        transfers.push(TransferRequest::Posted {
            debit: receivable.clone(),
            credit: cod.expected.clone(),
            amount: Money::from_minor(goods, currency)?,
        });
    }
    if fee > 0 {
        accounts.push(spec(&cod.fee_revenue, AccountKind::CodFeeRevenue, currency));
        transfers.push(TransferRequest::Posted {
            debit: receivable,
            credit: cod.fee_revenue,
            amount: Money::from_minor(fee, currency)?,
        });
    }
    let mut p = payment.clone();
    p.tenders[0].received = total;
    Ok(PaymentDecision {
        payment: p,
        events: vec![PaymentEvent::Collected { amount: total }],
        accounts,
        transfers,
    })
}
