//! Reconciliation with the provider: what the provider's statement says it did, against what
//! holdback recorded as done there (captured payments' card charges, succeeded refunds of
//! them). Bank transfers are the bank's, not the card provider's: they are left out, and so is
//! what went into a buyer's balance (no provider saw it).

use std::collections::HashSet;

use holdback_domain::payment::{Method, PaymentState};
use holdback_domain::reconcile::{self, Discrepancy, OpKind, RecordedOp};
use holdback_domain::refund::RefundState;
use holdback_domain::tender::Destination;

use crate::bank::BankConnector;
use crate::cards::CardConnector;
use crate::{App, AppError};

/// Compares `provider`'s statement with the records of `livemode`'s payments and refunds.
pub async fn provider(
    app: &App,
    provider: &dyn CardConnector,
    livemode: bool,
) -> Result<(usize, usize, Vec<Discrepancy>), AppError> {
    let statement = provider.statement().await?;
    let mut recorded = Vec::new();
    let mut not_cards = HashSet::new();
    for id in app.store.all_payment_ids().await? {
        let Some((p, _)) = app.store.payment(&id).await? else {
            continue;
        };
        for (index, t) in p.tenders.iter().enumerate() {
            if t.method != Method::Card {
                not_cards.insert((p.id.clone(), index));
            }
        }
        if p.livemode != livemode || !matches!(p.state, PaymentState::Captured { .. }) {
            continue;
        }
        recorded.extend(
            p.tenders
                .iter()
                .filter(|t| t.method == Method::Card)
                .map(|t| RecordedOp {
                    kind: OpKind::Charge,
                    reference: t.reference.clone(),
                    amount: t.amount,
                }),
        );
    }
    for r in app.store.all_refunds().await? {
        // (a refund into the buyer's balance never went to the provider)
        let card = !not_cards.contains(&(r.payment.clone(), r.tender))
            && r.destination == Destination::OriginalMethod;
        if card && r.livemode == livemode && matches!(r.state, RefundState::Succeeded { .. }) {
            recorded.push(RecordedOp {
                kind: OpKind::Refund,
                reference: r.id.clone(),
                amount: r.amount,
            });
        }
    }
    let found = reconcile::reconcile(&statement, &recorded);
    Ok((statement.len(), recorded.len(), found))
}

/// Compares the bank's payouts with the succeeded refunds of `livemode`'s bank transfers and
/// wallet payments (each paid back by the bank, under the refund's id).
pub async fn bank(
    app: &App,
    bank: &dyn BankConnector,
    livemode: bool,
) -> Result<(usize, usize, Vec<Discrepancy>), AppError> {
    let statement = bank.payouts().await?;
    let mut not_cards = HashSet::new();
    for id in app.store.all_payment_ids().await? {
        if let Some((p, _)) = app.store.payment(&id).await? {
            for (index, t) in p.tenders.iter().enumerate() {
                if t.method != Method::Card && !t.method.is_stored_value() {
                    not_cards.insert((p.id.clone(), index));
                }
            }
        }
    }
    let recorded: Vec<RecordedOp> = app
        .store
        .all_refunds()
        .await?
        .into_iter()
        .filter(|r| r.livemode == livemode && matches!(r.state, RefundState::Succeeded { .. }))
        .filter(|r| not_cards.contains(&(r.payment.clone(), r.tender)))
        .filter(|r| r.destination == Destination::OriginalMethod)
        .map(|r| RecordedOp {
            kind: OpKind::Refund,
            reference: r.id.clone(),
            amount: r.amount,
        })
        .collect();
    let found = reconcile::reconcile(&statement, &recorded);
    Ok((statement.len(), recorded.len(), found))
}
