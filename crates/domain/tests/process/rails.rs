//! Payments that wait for their money in the process test: checkouts by bank transfer and by
//! wallet with their orders placed, the connectors' notifications in any order, duplicated
//! (a redelivery the shell recognises by its id and drops), short, over and late, wallet
//! declines and cancellations, and expiry by the scheduler.

use holdback_domain::ErrorCode;
use holdback_domain::order::{self, OrderPlan};
use holdback_domain::payment::{
    self, Method, Payment, PaymentCommand, PaymentDecision, PaymentEvent, PaymentState,
};
use holdback_domain::process::Effects;
use proptest::prelude::*;

use super::{CURRENCIES, Op, Step, World, money, plan};

/// How long a payment of `method` waits (bank transfer 3 days, a wallet 30 minutes).
fn wait(method: Method) -> i64 {
    if method.is_wallet() {
        30 * 60_000
    } else {
        3 * 86_400_000
    }
}

pub fn ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (
            proptest::collection::vec(1..50_000i64, 1..=3),
            0..CURRENCIES.len(),
            any::<bool>(),
            // past card, and before the balance and cash on delivery (last): what a payment
            // waits for at a provider
            1..Method::ALL.len() - 2,
        )
            .prop_map(|(amounts, currency, livemode, method)| Op::Deferred {
                amounts,
                currency,
                livemode,
                method
            }),
        // a share of what is due: short, exact, over; or a redelivery of one taken before
        5 => (any::<usize>(), prop_oneof![Just(40i64), Just(100), Just(100), Just(130)], proptest::bool::weighted(0.2))
            .prop_map(|(pick, percent, again)| Op::Notify { pick, percent, again }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, cancel)| Op::WalletRefusal { pick, cancel }),
        1 => Just(Op::ExpirePayments),
    ]
}

impl World {
    /// The non-card payments, by id.
    fn deferred(&self) -> Vec<String> {
        self.payments
            .iter()
            .filter(|(_, (p, _))| p.tenders.first().is_some_and(|t| t.method != Method::Card))
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn deferred_checkout(
        &mut self,
        amounts: &[i64],
        currency: usize,
        livemode: bool,
        method: usize,
    ) -> Step {
        let method = Method::ALL[method];
        self.checkouts += 1;
        let n = self.checkouts;
        let code = CURRENCIES[currency];
        let plans: Vec<OrderPlan> = amounts
            .iter()
            .enumerate()
            .map(|(k, a)| plan(&format!("ord_{n}_{k}"), money(*a, code)))
            .collect();
        let total = money(amounts.iter().sum(), code);
        let id = format!("pay_{n}");
        let expires_at = self.now + wait(method);
        let orders = plans.iter().map(|p| p.id.clone()).collect();
        let p = Payment::awaiting(
            &id, "buy_1", livemode, method, total, orders, expires_at, None, self.now,
        );
        let mut fx = Effects::default();
        let decision = PaymentDecision {
            payment: p,
            events: vec![PaymentEvent::RequiresAction],
            accounts: vec![],
            transfers: vec![],
        };
        fx.payment(decision, 0);
        for plan in &plans {
            fx.order(
                order::placed(plan, "buy_1", &id, livemode, self.now, expires_at),
                0,
            );
        }
        *self.seen.entry("awaiting_payment").or_default() += 1;
        self.commit(fx)
    }

    /// One payment decision as a unit (with its reactions); a rejection writes nothing.
    pub(super) fn payment_decision(&mut self, id: &str, command: &PaymentCommand) -> Step {
        let (p, version) = self.payments[id].clone();
        let Ok(d) = payment::decide(&p, command, self.now) else {
            return Ok(());
        };
        *self.seen.entry(d.payment.state.code()).or_default() += 1;
        let mut fx = Effects::default();
        let reactions = fx.payment(d, version);
        self.follow(&mut fx, reactions)?;
        self.commit(fx)
    }

    pub fn notify(&mut self, pick: usize, percent: i64, again: bool) -> Step {
        let ids = self.deferred();
        let Some(id) = ids.get(pick % ids.len().max(1)).cloned() else {
            return Ok(());
        };
        if again && self.notified > 0 {
            // the connector redelivers one the shell took before: found by its id, dropped
            return Ok(());
        }
        self.notified += 1;
        let p = &self.payments[&id].0;
        let due = p.amount_due().max(p.amount.minor());
        let amount = (due * percent / 100).max(1);
        self.refund_ids += 1;
        let command = PaymentCommand::Receive {
            amount: money(amount, p.amount.currency().code()),
            refund_id: format!("re_{}", self.refund_ids),
            payer: None,
        };
        let before = self.payments[&id].1;
        self.payment_decision(&id, &command)?;
        if self.payments[&id].1 != before {
            // taken: the money is at the bank
            self.provider.receive(&id, amount);
        }
        Ok(())
    }

    pub fn wallet_refusal(&mut self, pick: usize, cancel: bool) -> Step {
        let ids = self.deferred();
        let Some(id) = ids.get(pick % ids.len().max(1)).cloned() else {
            return Ok(());
        };
        let command = if cancel {
            PaymentCommand::Cancel
        } else {
            PaymentCommand::Decline {
                code: ErrorCode::PaymentFailed,
            }
        };
        self.payment_decision(&id, &command)
    }

    /// The scheduler's sweep: every payment whose time ran out expires.
    pub fn expire_payments(&mut self) -> Step {
        let due: Vec<String> = self
            .payments
            .iter()
            .filter(|(_, (p, _))| {
                matches!(p.state, PaymentState::RequiresAction { expires_at, .. } if expires_at <= self.now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.refund_ids += 1;
            let command = PaymentCommand::Expire {
                refund_id: format!("re_{}", self.refund_ids),
            };
            self.payment_decision(&id, &command)?;
        }
        Ok(())
    }
}
