//! Reconciliation with the provider: what the provider's statement says it did, against what
//! holdback recorded as done there (captured payments' charges, succeeded refunds).

use holdback_domain::payment::PaymentState;
use holdback_domain::reconcile::{self, Discrepancy, OpKind, RecordedOp};
use holdback_domain::refund::RefundState;

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
    for id in app.store.all_payment_ids().await? {
        let Some((p, _)) = app.store.payment(&id).await? else {
            continue;
        };
        if p.livemode != livemode || !matches!(p.state, PaymentState::Captured { .. }) {
            continue;
        }
        recorded.extend(p.tenders.iter().map(|t| RecordedOp {
            kind: OpKind::Charge,
            reference: t.reference.clone(),
            amount: t.amount,
        }));
    }
    for r in app.store.all_refunds().await? {
        if r.livemode == livemode && matches!(r.state, RefundState::Succeeded { .. }) {
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
