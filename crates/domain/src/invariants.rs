//! The business invariants over orders, payments and refunds together, with the ledger's
//! balances: what the aggregates say is owed must be what the accounts hold.
//!
//! The ledger's own invariants (balanced transactions, bounds, the hash chain) are the
//! [`crate::audit`]'s. These sit above them: the escrow rules "escrow balance = open holds" and
//! "refunded + released = captured for every terminal order", and the bookkeeping between an
//! order, its payment's tenders and the refunds in flight. [`check`] is pure: the caller hands
//! it the aggregates and a way to read an account's posted balance, and gets every breach, named.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::ids::AccountId;
use crate::money::Currency;
use crate::order::{Order, OrderState, SharedAccounts};
use crate::payment::{Payment, PaymentState};
use crate::refund::{Refund, RefundState};

/// One business invariant that does not hold. Amounts are minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusinessBreach {
    /// The order's escrow account does not hold what the order says it holds.
    EscrowMismatch {
        order: String,
        escrow: i128,
        held: i64,
    },
    /// A completed or cancelled order whose refunds and release do not add up to its capture.
    TerminalUnbalanced {
        order: String,
        captured: i64,
        refunded: i64,
        released: i64,
    },
    /// A payment whose tenders do not add up to its amount (or are in another currency).
    TendersDoNotAddUp {
        payment: String,
        amount: i64,
        tenders: i128,
    },
    /// A tender's `refunded` is not the sum of its refunds, or exceeds the tender.
    TenderRefundMismatch {
        payment: String,
        tender: usize,
        refunded: i64,
        refunds: i128,
        amount: i64,
    },
    /// The refunds-payable account of a mode and currency does not hold what the refunds not yet
    /// succeeded owe.
    RefundsPayableMismatch {
        account: String,
        balance: i128,
        owed: i128,
    },
    /// An order's `refunded` (with what was charged to the seller after release) is not the sum
    /// of its refunds.
    OrderRefundMismatch {
        order: String,
        refunded: i64,
        refunds: i128,
    },
    /// What a tender received beyond what its payment applied (money sent after the payment
    /// was complete or had expired, or more than was due) is not what its refunds of no order
    /// give back.
    UnappliedRefundMismatch {
        payment: String,
        tender: usize,
        unapplied: i64,
        refunds: i128,
    },
    /// The platform-promotions account of a mode and currency does not hold what the orders'
    /// platform-funded discounts cost (less what their refunds gave back to it).
    PromotionsMismatch {
        account: String,
        balance: i128,
        discounts: i128,
    },
    /// The gift-card liability of a mode and currency is not what its active cards hold.
    GiftCardLiabilityMismatch {
        account: String,
        balance: i128,
        active: i128,
    },
    /// A carrier's receivable is not the cash its collected parcels hold less what it remitted.
    CarrierReceivableMismatch {
        account: String,
        balance: i128,
        owed: i128,
    },
}

impl BusinessBreach {
    pub const ALL_CODES: &'static [&'static str] = &[
        "escrow_mismatch",
        "terminal_unbalanced",
        "tenders_do_not_add_up",
        "tender_refund_mismatch",
        "refunds_payable_mismatch",
        "order_refund_mismatch",
        "unapplied_refund_mismatch",
        "gift_card_liability_mismatch",
        "promotions_mismatch",
        "carrier_receivable_mismatch",
    ];

    pub fn code(&self) -> &'static str {
        match self {
            BusinessBreach::EscrowMismatch { .. } => "escrow_mismatch",
            BusinessBreach::TerminalUnbalanced { .. } => "terminal_unbalanced",
            BusinessBreach::TendersDoNotAddUp { .. } => "tenders_do_not_add_up",
            BusinessBreach::TenderRefundMismatch { .. } => "tender_refund_mismatch",
            BusinessBreach::RefundsPayableMismatch { .. } => "refunds_payable_mismatch",
            BusinessBreach::OrderRefundMismatch { .. } => "order_refund_mismatch",
            BusinessBreach::UnappliedRefundMismatch { .. } => "unapplied_refund_mismatch",
            BusinessBreach::GiftCardLiabilityMismatch { .. } => "gift_card_liability_mismatch",
            BusinessBreach::PromotionsMismatch { .. } => "promotions_mismatch",
            BusinessBreach::CarrierReceivableMismatch { .. } => "carrier_receivable_mismatch",
        }
    }
}

impl fmt::Display for BusinessBreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusinessBreach::CarrierReceivableMismatch {
                account,
                balance,
                owed,
            } => write!(
                f,
                "{account} holds {balance}, the carrier's collected and unremitted parcels {owed}"
            ),
            BusinessBreach::EscrowMismatch {
                order,
                escrow,
                held,
            } => write!(f, "order {order}: escrow holds {escrow}, the order {held}"),
            BusinessBreach::TerminalUnbalanced {
                order,
                captured,
                refunded,
                released,
            } => write!(
                f,
                "order {order}: refunded {refunded} + released {released} is not the {captured} captured"
            ),
            BusinessBreach::TendersDoNotAddUp {
                payment,
                amount,
                tenders,
            } => write!(
                f,
                "payment {payment}: tenders add up to {tenders}, the payment is {amount}"
            ),
            BusinessBreach::TenderRefundMismatch {
                payment,
                tender,
                refunded,
                refunds,
                amount,
            } => write!(
                f,
                "payment {payment} tender {tender}: refunded {refunded}, its refunds {refunds}, \
                 the tender {amount}"
            ),
            BusinessBreach::RefundsPayableMismatch {
                account,
                balance,
                owed,
            } => write!(
                f,
                "{account} holds {balance}, the refunds not yet succeeded owe {owed}"
            ),
            BusinessBreach::OrderRefundMismatch {
                order,
                refunded,
                refunds,
            } => write!(
                f,
                "order {order}: refunded {refunded}, its refunds add up to {refunds}"
            ),
            BusinessBreach::UnappliedRefundMismatch {
                payment,
                tender,
                unapplied,
                refunds,
            } => write!(
                f,
                "payment {payment} tender {tender}: {unapplied} received and not applied, its \
                 refunds of no order {refunds}"
            ),
            BusinessBreach::PromotionsMismatch {
                account,
                balance,
                discounts,
            } => write!(
                f,
                "{account}: holds {balance}, the orders' platform-funded discounts {discounts}"
            ),
            BusinessBreach::GiftCardLiabilityMismatch {
                account,
                balance,
                active,
            } => write!(
                f,
                "{account}: holds {balance}, the active gift cards {active}"
            ),
        }
    }
}

/// Checks every business invariant. `balance` reads an account's posted balance on its normal
/// side (`None`: no such account, read as zero). Breaches come in the order of the input.
pub fn check(
    orders: &[Order],
    payments: &[Payment],
    refunds: &[Refund],
    balance: &dyn Fn(&AccountId) -> Option<i128>,
) -> Vec<BusinessBreach> {
    let mut breaches = Vec::new();
    let mut by_order: HashMap<&str, i128> = HashMap::new();
    let mut by_tender: HashMap<(&str, usize), i128> = HashMap::new();
    // refunds of money no order took (sent beyond what was due, or too late)
    let mut unapplied: HashMap<(&str, usize), i128> = HashMap::new();
    let mut owed: BTreeMap<(bool, &'static str), (Currency, i128)> = BTreeMap::new();
    let mut promotions: BTreeMap<(bool, &'static str), (Currency, i128)> = BTreeMap::new();
    for r in refunds {
        let amount = i128::from(r.amount.minor());
        if r.order.is_empty() {
            *unapplied.entry((r.payment.as_str(), r.tender)).or_default() += amount;
        } else {
            *by_order.entry(r.order.as_str()).or_default() += amount;
            *by_tender.entry((r.payment.as_str(), r.tender)).or_default() += amount;
        }
        let due = match r.state {
            RefundState::Succeeded { .. } => 0,
            RefundState::Pending { .. } | RefundState::Failed { .. } => amount,
        };
        let currency = r.amount.currency();
        owed.entry((r.livemode, currency.code()))
            .or_insert((currency, 0))
            .1 += due;
    }

    for o in orders {
        escrow(o, balance, &mut breaches);
        terminal(o, &mut breaches);
        let refunds = by_order.get(o.id.as_str()).copied().unwrap_or(0);
        // What went back to the payment: out of the hold (less what went back to promotions),
        // and charged to the seller after it.
        let given_back = o.refunded - o.promotion_returned + o.charged_to_seller;
        if i128::from(given_back) != refunds {
            breaches.push(BusinessBreach::OrderRefundMismatch {
                order: o.id.clone(),
                refunded: given_back,
                refunds,
            });
        }
        let currency = o.captured.currency();
        owed.entry((o.livemode, currency.code()))
            .or_insert((currency, 0));
        // what the platform pays toward the order, once it is paid
        let funded = match o.state {
            OrderState::AwaitingPayment { .. } | OrderState::Expired { .. } => 0,
            _ => o.promotion - o.promotion_returned,
        };
        promotions
            .entry((o.livemode, currency.code()))
            .or_insert((currency, 0))
            .1 += i128::from(funded);
    }

    for p in payments {
        let tenders: i128 = p.tenders.iter().map(|t| i128::from(t.amount.minor())).sum();
        let one_currency = p
            .tenders
            .iter()
            .all(|t| t.amount.currency() == p.amount.currency());
        if tenders != i128::from(p.amount.minor()) || !one_currency {
            breaches.push(BusinessBreach::TendersDoNotAddUp {
                payment: p.id.clone(),
                amount: p.amount.minor(),
                tenders,
            });
        }
        for (index, t) in p.tenders.iter().enumerate() {
            // cash collected at a door is never more than due, nor given back unapplied
            if t.method == crate::tender::Method::CashOnDelivery {
                continue;
            }
            let applied = match p.state {
                PaymentState::Captured { .. } if t.received > 0 => t.amount.minor(),
                _ => 0,
            };
            let kept = match p.state {
                // still waiting: what came is held for the payment, nothing was given back
                PaymentState::RequiresAction { .. } => t.received,
                _ => applied,
            };
            let given_back = unapplied.get(&(p.id.as_str(), index)).copied().unwrap_or(0);
            if i128::from(t.received - kept) != given_back {
                breaches.push(BusinessBreach::UnappliedRefundMismatch {
                    payment: p.id.clone(),
                    tender: index,
                    unapplied: t.received - kept,
                    refunds: given_back,
                });
            }
            let refunds = by_tender.get(&(p.id.as_str(), index)).copied().unwrap_or(0);
            if i128::from(t.refunded) != refunds || t.refunded > t.amount.minor() {
                breaches.push(BusinessBreach::TenderRefundMismatch {
                    payment: p.id.clone(),
                    tender: index,
                    refunded: t.refunded,
                    refunds,
                    amount: t.amount.minor(),
                });
            }
        }
    }
    // Refunds of a tender the payment does not have are owed by no tender.
    let known: BTreeSet<(&str, usize)> = payments
        .iter()
        .flat_map(|p| (0..p.tenders.len()).map(move |i| (p.id.as_str(), i)))
        .collect();
    let mut strays: Vec<(&str, usize)> = by_tender
        .keys()
        .copied()
        .filter(|k| !known.contains(k) && payments.iter().any(|p| p.id == k.0))
        .collect();
    strays.sort_unstable();
    for (payment, tender) in strays {
        breaches.push(BusinessBreach::TenderRefundMismatch {
            payment: payment.to_string(),
            tender,
            refunded: 0,
            refunds: by_tender.get(&(payment, tender)).copied().unwrap_or(0),
            amount: 0,
        });
    }

    for ((livemode, _), (currency, discounts)) in promotions {
        let mode = if livemode { "live" } else { "test" };
        let Ok(account) =
            AccountId::parse(&format!("{mode}:platform_promotions:{}", currency.code()))
        else {
            continue;
        };
        let balance = balance(&account).unwrap_or(0);
        if balance != discounts {
            breaches.push(BusinessBreach::PromotionsMismatch {
                account: account.to_string(),
                balance,
                discounts,
            });
        }
    }
    for ((livemode, _), (currency, owed)) in owed {
        let Ok(shared) = SharedAccounts::of(livemode, currency) else {
            continue;
        };
        let account = shared.refunds_payable;
        let balance = balance(&account).unwrap_or(0);
        if balance != owed {
            breaches.push(BusinessBreach::RefundsPayableMismatch {
                account: account.to_string(),
                balance,
                owed,
            });
        }
    }
    breaches
}

/// The gift-card liability of each mode and currency against what its active cards hold
/// (`active`: their values summed, with every mode and currency that has a liability account).
pub fn gift_card_liability(
    active: &BTreeMap<(bool, Currency), i128>,
    balance: &dyn Fn(&AccountId) -> Option<i128>,
) -> Vec<BusinessBreach> {
    let mut breaches = Vec::new();
    for ((livemode, currency), active) in active {
        let Ok(books) = crate::gift_card::GiftCardAccounts::of(*livemode, *currency) else {
            continue;
        };
        let balance = balance(&books.liability).unwrap_or(0);
        if balance != *active {
            breaches.push(BusinessBreach::GiftCardLiabilityMismatch {
                account: books.liability.to_string(),
                balance,
                active: *active,
            });
        }
    }
    breaches
}

fn escrow(
    o: &Order,
    balance: &dyn Fn(&AccountId) -> Option<i128>,
    breaches: &mut Vec<BusinessBreach>,
) {
    let held = o.held();
    let escrow = match AccountId::parse(&format!("escrow:{}", o.id)) {
        Ok(id) => balance(&id).unwrap_or(0),
        Err(_) => 0,
    };
    if escrow != i128::from(held) {
        breaches.push(BusinessBreach::EscrowMismatch {
            order: o.id.clone(),
            escrow,
            held,
        });
    }
}

fn terminal(o: &Order, breaches: &mut Vec<BusinessBreach>) {
    let released = match &o.state {
        OrderState::Completed { release, .. } => release.to_seller + release.commission,
        OrderState::Cancelled { .. } => 0,
        OrderState::AwaitingPayment { .. }
        | OrderState::Expired { .. }
        | OrderState::Paid { .. }
        | OrderState::Shipped { .. }
        | OrderState::Delivered { .. }
        | OrderState::AwaitingRemittance { .. } => return,
    };
    let captured = o.captured.minor();
    if i128::from(o.refunded) + i128::from(released) != i128::from(captured) {
        breaches.push(BusinessBreach::TerminalUnbalanced {
            order: o.id.clone(),
            captured,
            refunded: o.refunded,
            released,
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::card::{Brand, StoredCard};
    use crate::money::Money;
    use crate::order::{
        self, Actor, Commission, OrderCommand, OrderPlan, OrderPolicy, Release, TimerKind,
    };
    use crate::payment::{self, PaymentCommand, PaymentEvent};

    const T0: i64 = 1_800_000_000_000;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("USD").unwrap()).unwrap()
    }

    fn plan(id: &str, amount: i64) -> OrderPlan {
        OrderPlan {
            id: id.to_string(),
            seller: "sel_1".to_string(),
            amount: usd(amount),
            commission: Commission {
                basis_points: 500,
                fixed_minor: 0,
            },
            ship_by_ms: 7 * order::DAY,
            shipping_method: "standard".to_string(),
            delivery_guarantee: 30 * order::DAY,
            promotion: 0,
            cash_on_delivery: false,
        }
    }

    /// A consistent world: payment `pay_1` of 10 000 for orders `ord_a` (6 000, of which 1 000
    /// refunded and succeeded, 2 000 refunded and pending) and `ord_b` (4 000, completed), with
    /// the balances the ledger would have.
    struct World {
        orders: Vec<Order>,
        payments: Vec<Payment>,
        refunds: Vec<Refund>,
        balances: HashMap<String, i128>,
    }

    impl World {
        fn check(&self) -> Vec<BusinessBreach> {
            let read = |id: &AccountId| self.balances.get(id.as_str()).copied();
            check(&self.orders, &self.payments, &self.refunds, &read)
        }

        fn codes(&self) -> Vec<&'static str> {
            self.check().iter().map(BusinessBreach::code).collect()
        }
    }

    fn world() -> World {
        let p = OrderPolicy::default();
        let processing = Payment::processing(
            "pay_1",
            "buy_1",
            false,
            usd(10_000),
            vec![plan("ord_a", 6_000), plan("ord_b", 4_000)],
            T0,
        )
        .unwrap();
        let card = StoredCard {
            brand: Brand::Visa,
            last4: "4242".to_string(),
            exp_month: 12,
            exp_year: 2030,
            token: "ch_1".to_string(),
        };
        let mut payment = payment::decide(
            &processing,
            &PaymentCommand::Capture { tender: 0, card },
            T0,
        )
        .unwrap()
        .payment;
        let a = order::paid(&plan("ord_a", 6_000), "buy_1", "pay_1", false, T0)
            .unwrap()
            .order;
        let b = order::paid(&plan("ord_b", 4_000), "buy_1", "pay_1", false, T0)
            .unwrap()
            .order;
        let mut refunds = Vec::new();
        let mut a = a;
        for (n, amount) in [(1, 1_000), (2, 2_000)] {
            let d = order::decide(
                &a,
                Actor::Platform,
                &OrderCommand::Refund {
                    amount: usd(amount),
                },
                T0 + order::HOUR,
                &p,
            )
            .unwrap();
            a = d.order;
            let pd = payment::decide(
                &payment,
                &PaymentCommand::Refund {
                    order: "ord_a".to_string(),
                    amount: usd(amount),
                    reason: order::RefundReason::Requested,
                    refund_id: format!("re_{n}"),
                    routing: crate::tender::RefundRouting::default(),
                },
                T0 + order::HOUR,
            )
            .unwrap();
            payment = pd.payment;
            for e in pd.events {
                if let PaymentEvent::RefundCreated(r) = e {
                    refunds.push(r);
                }
            }
        }
        refunds[0].state = RefundState::Succeeded {
            at: T0 + order::DAY,
            provider_id: "pr_1".to_string(),
        };
        let b = order::decide(
            &b,
            Actor::Seller,
            &OrderCommand::Ship {
                carrier: "dhl".to_string(),
                tracking: "JD1".to_string(),
            },
            T0 + order::DAY,
            &p,
        )
        .unwrap()
        .order;
        let b = order::decide(
            &b,
            Actor::Carrier,
            &OrderCommand::MarkDelivered,
            T0 + 2 * order::DAY,
            &p,
        )
        .unwrap()
        .order;
        let b = order::decide(
            &b,
            Actor::Scheduler,
            &OrderCommand::Fire(TimerKind::ProtectionEnd),
            T0 + 40 * order::DAY,
            &p,
        )
        .unwrap()
        .order;
        let balances = [
            ("escrow:ord_a", 3_000),
            ("escrow:ord_b", 0),
            ("test:refunds_payable:USD", 2_000),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        World {
            orders: vec![a, b],
            payments: vec![payment],
            refunds,
            balances,
        }
    }

    #[test]
    fn a_consistent_world_is_clean() {
        let w = world();
        assert_eq!(w.orders[1].release().unwrap().commission, 200);
        assert!(w.check().is_empty(), "{:?}", w.check());
    }

    #[test]
    fn escrow_mismatch() {
        let mut w = world();
        w.balances.insert("escrow:ord_a".to_string(), 2_999);
        assert_eq!(
            w.check(),
            vec![BusinessBreach::EscrowMismatch {
                order: "ord_a".to_string(),
                escrow: 2_999,
                held: 3_000
            }]
        );
        // a missing escrow account reads as empty
        w.balances.remove("escrow:ord_a");
        assert_eq!(w.codes(), ["escrow_mismatch"]);
    }

    #[test]
    fn terminal_unbalanced() {
        let mut w = world();
        if let OrderState::Completed { release, .. } = &mut w.orders[1].state {
            *release = Release {
                to_seller: 3_800,
                commission: 199,
            };
        }
        let breaches = w.check();
        assert_eq!(
            breaches,
            vec![BusinessBreach::TerminalUnbalanced {
                order: "ord_b".to_string(),
                captured: 4_000,
                refunded: 0,
                released: 3_999
            }]
        );
        assert_eq!(
            breaches[0].to_string(),
            "order ord_b: refunded 0 + released 3999 is not the 4000 captured"
        );
    }

    #[test]
    fn tenders_do_not_add_up() {
        let mut w = world();
        w.payments[0].amount = usd(10_001);
        assert_eq!(w.codes(), ["tenders_do_not_add_up"]);
        let mut w = world();
        let eur = Money::from_minor(10_000, Currency::parse("EUR").unwrap()).unwrap();
        w.payments[0].tenders[0].amount = eur;
        assert_eq!(w.codes(), ["tenders_do_not_add_up"]);
    }

    #[test]
    fn tender_refund_mismatch() {
        let mut w = world();
        w.payments[0].tenders[0].refunded = 2_000;
        assert_eq!(
            w.check(),
            vec![BusinessBreach::TenderRefundMismatch {
                payment: "pay_1".to_string(),
                tender: 0,
                refunded: 2_000,
                refunds: 3_000,
                amount: 10_000
            }]
        );
        // a refund from a tender the payment does not have
        let mut w = world();
        w.refunds[0].tender = 1;
        assert_eq!(
            w.codes(),
            ["tender_refund_mismatch", "tender_refund_mismatch"]
        );
    }

    #[test]
    fn tender_refunded_beyond_its_amount() {
        let mut w = world();
        w.payments[0].tenders[0].amount = usd(2_000);
        w.payments[0].amount = usd(2_000);
        assert_eq!(w.codes(), ["tender_refund_mismatch"]);
    }

    #[test]
    fn refunds_payable_mismatch() {
        let mut w = world();
        // the pending refund succeeded but its money did not move on
        w.refunds[1].state = RefundState::Succeeded {
            at: T0 + 2 * order::DAY,
            provider_id: "pr_2".to_string(),
        };
        let breaches = w.check();
        assert_eq!(
            breaches,
            vec![BusinessBreach::RefundsPayableMismatch {
                account: "test:refunds_payable:USD".to_string(),
                balance: 2_000,
                owed: 0
            }]
        );
        assert_eq!(
            breaches[0].to_string(),
            "test:refunds_payable:USD holds 2000, the refunds not yet succeeded owe 0"
        );
        // a failed refund is still owed
        let mut w = world();
        w.refunds[1].state = RefundState::Failed {
            at: T0,
            last_error: "card_closed".to_string(),
        };
        assert!(w.check().is_empty());
        // the live account is checked apart from the test one
        let mut w = world();
        w.balances.insert("test:refunds_payable:USD".to_string(), 0);
        w.balances
            .insert("live:refunds_payable:USD".to_string(), 2_000);
        for o in &mut w.orders {
            o.livemode = true;
        }
        let breaches = w.check();
        assert_eq!(
            breaches,
            vec![
                BusinessBreach::RefundsPayableMismatch {
                    account: "test:refunds_payable:USD".to_string(),
                    balance: 0,
                    owed: 2_000
                },
                BusinessBreach::RefundsPayableMismatch {
                    account: "live:refunds_payable:USD".to_string(),
                    balance: 2_000,
                    owed: 0
                },
            ]
        );
    }

    #[test]
    fn order_refund_mismatch() {
        let mut w = world();
        w.orders[0].refunded = 2_000;
        w.balances.insert("escrow:ord_a".to_string(), 4_000);
        assert_eq!(
            w.check(),
            vec![BusinessBreach::OrderRefundMismatch {
                order: "ord_a".to_string(),
                refunded: 2_000,
                refunds: 3_000
            }]
        );
    }

    #[test]
    fn codes_are_unique_snake_case_and_listed() {
        let mut codes = BusinessBreach::ALL_CODES.to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), BusinessBreach::ALL_CODES.len());
        for c in codes {
            assert!(
                c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{c}"
            );
        }
    }
}
