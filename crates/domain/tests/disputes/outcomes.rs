//! Each outcome's money movement: one transaction with the order's change, accepted by a ledger
//! that holds the order's history.

use holdback_domain::ledger::{AccountSpec, Book, Head, TransactionRequest, TransferRequest};
use holdback_domain::order::{self, OrderPlan, OrderState};
use holdback_domain::{AccountId, TxId};

use super::*;

/// A ledger with the order's payment in its escrow (and, for a completed order, its release),
/// so that a unit's transfers are checked against real balances and bounds.
fn book_for(order: &Order) -> Book {
    let plan = OrderPlan {
        id: order.id.clone(),
        seller: order.seller.clone(),
        amount: order.captured,
        commission: order.commission,
        ship_by_ms: 7 * DAY,
        shipping_method: "standard".into(),
        delivery_guarantee: 30 * DAY,
        promotion: 0,
        cash_on_delivery: false,
    };
    let paid = order::paid(&plan, &order.buyer, &order.payment, false, T0).unwrap();
    let mut book = Book::new(Head::EMPTY);
    post(&mut book, &paid.accounts, paid.transfers, "paid");
    if let OrderState::Completed { release, .. } = &order.state {
        let a = order::EscrowAccounts::of(order).unwrap();
        let released = [
            (a.seller_payable, release.to_seller),
            (a.commission, release.commission),
        ]
        .into_iter()
        .map(|(credit, minor)| TransferRequest::Posted {
            debit: a.escrow.clone(),
            credit,
            amount: usd(minor),
        })
        .collect();
        post(&mut book, &[], released, "released");
    }
    book
}

fn post(book: &mut Book, accounts: &[AccountSpec], transfers: Vec<TransferRequest>, id: &str) {
    let request = TransactionRequest {
        id: TxId::parse(id).unwrap(),
        transfers,
    };
    book.execute_opening(accounts, Some(&request), T0).unwrap();
}

fn balance(book: &Book, id: &str) -> i128 {
    book.account(&AccountId::parse(id).unwrap())
        .map_or(0, |a| a.posted_balance())
}

/// Dispute `dsp_1` on the delivered order, with the mediator since `OPENED + 3 d`.
fn in_mediation() -> Dispute {
    apply(
        &rejected(),
        Actor::Buyer,
        DisputeCommand::Escalate,
        OPENED + 3 * DAY,
    )
}

fn mediate(d: &Dispute, outcome: Outcome, now: i64) -> DisputeDecision {
    try_apply(d, Actor::Mediator, decide_with(outcome), now).unwrap()
}

const ESCROW: &str = "escrow:ord_1";
const REFUNDS: &str = "test:refunds_payable:USD";
const SELLER: &str = "test:seller_payable:sel_1:USD";
const COMMISSION: &str = "test:commission:USD";
const DEBT: &str = "test:seller_debt:sel_1:USD";
const BALANCE: &str = "test:customer_balance:buy_1:USD";

fn t(debit: &str, credit: &str, minor: i64) -> (String, String, i64) {
    (debit.to_string(), credit.to_string(), minor)
}

#[test]
fn a_partial_refund_of_30_percent_splits_the_hold_with_commission_on_the_released_part() {
    let order = paused(&delivered_order());
    let now = OPENED + 4 * DAY;
    let (fx, rest) = unit(
        mediate(&in_mediation(), Outcome::PartialRefund(usd(3_000)), now),
        &order,
        now,
    );
    // one transaction: 30 % to the buyer, 70 % to the seller less 5 % commission on it
    assert_eq!(
        posted(&fx),
        [
            t(ESCROW, REFUNDS, 3_000),
            t(ESCROW, SELLER, 6_650),
            t(ESCROW, COMMISSION, 350)
        ]
    );
    let o = order_of(&fx);
    assert_eq!(o.status(), OrderStatus::Completed);
    assert_eq!(o.refunded, 3_000);
    assert_eq!(
        o.release(),
        Some(Release {
            to_seller: 6_650,
            commission: 350
        })
    );
    assert_eq!(o.dispute, None);
    assert_eq!(refund_of(&rest), [(3_000, RefundReason::Dispute)]);
    let mut book = book_for(&order);
    post(&mut book, &fx.accounts, fx.transfers.clone(), "settle");
    assert_eq!(balance(&book, ESCROW), 0);
    assert_eq!(balance(&book, SELLER), 6_650);
}

#[test]
fn a_full_refund_cancels_the_order_and_owes_the_buyer_everything() {
    let order = paused(&delivered_order());
    let d = open_dispute(Request::FullRefund);
    let now = OPENED + DAY;
    let accepted = try_apply(
        &d,
        Actor::Seller,
        DisputeCommand::Respond(Answer::Accept),
        now,
    )
    .unwrap();
    let (fx, rest) = unit(accepted, &order, now);
    assert_eq!(posted(&fx), [t(ESCROW, REFUNDS, 10_000)]);
    assert_eq!(order_of(&fx).status(), OrderStatus::Cancelled);
    assert_eq!(refund_of(&rest), [(10_000, RefundReason::Dispute)]);
    assert_eq!(
        closure(&fx.disputes[0].value),
        Some((Outcome::FullRefund, Closure::SellerAccepted))
    );
}

#[test]
fn rejected_resumes_protection_where_it_stopped() {
    let delivered = delivered_order();
    // delivered at T0 + 2 h: protection to T0 + 2 h + 15 d; paused at T0 + 1 h + 5 d
    let order = paused(&delivered);
    let left = (T0 + 2 * HOUR + 15 * DAY) - OPENED;
    assert_eq!(order.dispute.as_ref().unwrap().remaining, left);
    let now = OPENED + 8 * DAY;
    let (fx, rest) = unit(
        mediate(&in_mediation(), Outcome::Rejected, now),
        &order,
        now,
    );
    assert!(fx.transfers.is_empty() && rest.is_empty());
    let o = order_of(&fx);
    assert_eq!(o.status(), OrderStatus::Delivered);
    assert_eq!(o.protection().unwrap().ends, now + left);
    assert_eq!(
        fx.set_timers,
        [("ord_1".to_string(), TimerKind::ProtectionEnd, now + left)]
    );
    assert_eq!(o.dispute, None);
}

#[test]
fn rejected_completes_an_order_whose_protection_had_run_out() {
    // the dispute opened when protection had already ended (its timer not yet fired)
    let order = step(
        &delivered_order(),
        Actor::Platform,
        OrderCommand::OpenDispute {
            dispute: "dsp_1".into(),
        },
        T0 + 20 * DAY,
    );
    assert_eq!(order.dispute.as_ref().unwrap().remaining, 0);
    let now = T0 + 30 * DAY;
    let (fx, _) = unit(
        mediate(&in_mediation(), Outcome::Rejected, now),
        &order,
        now,
    );
    assert_eq!(
        posted(&fx),
        [t(ESCROW, SELLER, 9_500), t(ESCROW, COMMISSION, 500)]
    );
    assert_eq!(order_of(&fx).status(), OrderStatus::Completed);
}

#[test]
fn counterfeit_refunds_up_to_twice_the_price_the_excess_charged_to_the_seller() {
    let order = paused(&delivered_order());
    let now = OPENED + 4 * DAY;
    let (fx, rest) = unit(
        mediate(&in_mediation(), Outcome::Counterfeit(usd(20_000)), now),
        &order,
        now,
    );
    assert_eq!(
        posted(&fx),
        [t(ESCROW, REFUNDS, 10_000), t(DEBT, BALANCE, 10_000)]
    );
    let o = order_of(&fx);
    assert_eq!(
        (o.status(), o.refunded, o.charged_to_seller),
        (OrderStatus::Cancelled, 10_000, 0)
    );
    assert_eq!(refund_of(&rest), [(10_000, RefundReason::Dispute)]);
    let mut book = book_for(&order);
    post(&mut book, &fx.accounts, fx.transfers.clone(), "settle");
    // the seller's payable is untouched; what it owes is recorded as debt
    assert_eq!(balance(&book, SELLER), 0);
    assert_eq!(balance(&book, DEBT), 10_000);
    assert_eq!(balance(&book, BALANCE), 10_000);
    // more than twice the price is refused, and changes nothing
    let before = in_mediation();
    let err = try_apply(
        &before,
        Actor::Mediator,
        decide_with(Outcome::Counterfeit(usd(20_001))),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::CounterfeitExceedsLimit);
    assert_eq!(before, in_mediation());
}

#[test]
fn counterfeit_after_release_is_charged_to_the_seller_never_to_escrow() {
    let completed = completed_order();
    let d = open_on(
        &completed,
        DisputeReason::Counterfeit,
        Request::FullRefund,
        OPENED,
    );
    let order = paused(&completed);
    let (fx, _) = unit(d.clone(), &completed, OPENED);
    assert_eq!(order_of(&fx), &order);
    let now = OPENED + DAY;
    // a refund out of the released hold is refused by name
    let err = try_apply(
        &d.dispute,
        Actor::Mediator,
        decide_with(Outcome::FullRefund),
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::OutcomeExceedsHeld);
    let (fx, rest) = unit(
        mediate(&d.dispute, Outcome::Counterfeit(usd(15_000)), now),
        &order,
        now,
    );
    // the price back to the payment, the rest to the buyer's balance: all from the seller
    assert_eq!(
        posted(&fx),
        [t(DEBT, REFUNDS, 10_000), t(DEBT, BALANCE, 5_000)]
    );
    let o = order_of(&fx);
    assert_eq!(o.status(), OrderStatus::Completed);
    assert_eq!((o.refunded, o.charged_to_seller), (0, 10_000));
    assert_eq!(refund_of(&rest), [(10_000, RefundReason::Dispute)]);
    let mut book = book_for(&completed);
    post(&mut book, &fx.accounts, fx.transfers.clone(), "settle");
    assert_eq!(balance(&book, ESCROW), 0);
    assert_eq!(balance(&book, SELLER), 9_500);
    assert_eq!(balance(&book, DEBT), 15_000);
    // rejected after release: nothing moves, the order only forgets the dispute
    let (fx, _) = unit(mediate(&d.dispute, Outcome::Rejected, now), &order, now);
    assert!(fx.transfers.is_empty());
    assert_eq!(order_of(&fx).dispute, None);
}

#[test]
fn return_and_refund_refunds_on_the_sellers_confirmation() {
    let order = paused(&delivered_order());
    let d = open_dispute(Request::ReturnAndRefund);
    let d = apply(
        &d,
        Actor::Seller,
        DisputeCommand::Respond(Answer::Accept),
        OPENED + HOUR,
    );
    assert_eq!(d.status(), DisputeStatus::AwaitingReturn);
    let d = apply(
        &d,
        Actor::Buyer,
        DisputeCommand::ShipReturn {
            tracking: "RT1".into(),
        },
        OPENED + DAY,
    );
    let now = OPENED + 3 * DAY;
    let confirmed = try_apply(
        &d,
        Actor::Seller,
        DisputeCommand::ConfirmReturnReceived,
        now,
    )
    .unwrap();
    let (fx, rest) = unit(confirmed, &order, now);
    assert_eq!(posted(&fx), [t(ESCROW, REFUNDS, 10_000)]);
    assert_eq!(order_of(&fx).status(), OrderStatus::Cancelled);
    assert_eq!(refund_of(&rest), [(10_000, RefundReason::Dispute)]);
}
