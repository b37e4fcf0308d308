//! Cash on delivery in the random runs: orders placed to be paid at the door, confirmed by the
//! buyer (or left to expire), shipped with a parcel, and the carrier's reports in any order and
//! any number (the wrong cash among them, which must change nothing), the remittance that pays
//! a collected parcel, and the release it lets through. The order commands, timers and disputes
//! of the other ops reach these orders too. After every step the carrier's receivable must be
//! what its collected, unremitted parcels hold.

use holdback_domain::cod::{
    self, CarrierEvent, CodAccounts, Parcel, ParcelState, Remitted, RtoPayer,
};
use holdback_domain::ledger::{AccountKind, AccountSpec, TransferRequest};
use holdback_domain::order::{OrderState, placed};
use holdback_domain::payment::{Method, PaymentEvent};
use proptest::prelude::*;

use super::*;

const FEE: i64 = 700;
const RTO: i64 = 450;

#[derive(Debug, Clone)]
pub enum Cod {
    Place {
        amount: i64,
        currency: usize,
        livemode: bool,
    },
    Confirm {
        pick: usize,
    },
    Ship {
        pick: usize,
    },
    /// The carrier reports `event` about a parcel, `ago` ms in the past; `wrong_cash`: with
    /// a collected amount one unit short.
    Report {
        pick: usize,
        event: usize,
        ago: i64,
        wrong_cash: bool,
    },
    /// The carrier's remittance pays a collected parcel, and the release waiting for it runs.
    Remit {
        pick: usize,
    },
}

pub fn ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1..50_000i64, 0..CURRENCIES.len(), any::<bool>())
            .prop_map(|(amount, currency, livemode)| Op::Cod(Cod::Place { amount, currency, livemode })),
        2 => any::<usize>().prop_map(|pick| Op::Cod(Cod::Confirm { pick })),
        2 => any::<usize>().prop_map(|pick| Op::Cod(Cod::Ship { pick })),
        4 => (any::<usize>(), 0..CarrierEvent::ALL.len(), 0..2 * DAY, proptest::bool::weighted(0.1))
            .prop_map(|(pick, event, ago, wrong_cash)| Op::Cod(Cod::Report { pick, event, ago, wrong_cash })),
        2 => any::<usize>().prop_map(|pick| Op::Cod(Cod::Remit { pick })),
    ]
}

impl World {
    fn cod_orders(&self, status: &str) -> Vec<String> {
        self.orders
            .values()
            .filter(|(o, _)| o.cash_on_delivery && o.status().code() == status)
            .map(|(o, _)| o.id.clone())
            .collect()
    }

    fn pick_parcel(&self, pick: usize) -> Option<String> {
        let ids: Vec<&String> = self.parcels.keys().collect();
        ids.get(pick % ids.len().max(1)).map(|s| (*s).clone())
    }

    pub fn cod(&mut self, op: &Cod) -> Step {
        match op {
            Cod::Place {
                amount,
                currency,
                livemode,
            } => self.place_cod(*amount, *currency, *livemode),
            Cod::Confirm { pick } => {
                let ids = self.cod_orders("awaiting_payment");
                let Some(id) = ids.get(pick % ids.len().max(1)) else {
                    return Ok(());
                };
                let payment = self.orders[id].0.payment.clone();
                self.payment_decision(&payment, &PaymentCommand::ConfirmCash)
            }
            Cod::Ship { pick } => self.ship_cod(*pick),
            Cod::Report {
                pick,
                event,
                ago,
                wrong_cash,
            } => self.report(*pick, CarrierEvent::ALL[*event], *ago, *wrong_cash),
            Cod::Remit { pick } => self.remit(*pick),
        }
    }

    fn place_cod(&mut self, amount: i64, currency: usize, livemode: bool) -> Step {
        self.checkouts += 1;
        let n = self.checkouts;
        let mut plan = plan(&format!("ord_{n}_0"), money(amount, CURRENCIES[currency]));
        plan.cash_on_delivery = true;
        let id = format!("pay_{n}");
        let expires_at = self.now + 2 * DAY;
        let p = Payment::awaiting(
            &id,
            "buy_1",
            livemode,
            Method::CashOnDelivery,
            plan.amount,
            vec![plan.id.clone()],
            expires_at,
            None,
            self.now,
        );
        let mut fx = Effects::default();
        fx.payment(
            PaymentDecision {
                payment: p,
                events: vec![PaymentEvent::RequiresAction],
                accounts: vec![],
                transfers: vec![],
            },
            0,
        );
        fx.order(
            placed(&plan, "buy_1", &id, livemode, self.now, expires_at),
            0,
        );
        *self.seen.entry("cod_placed").or_default() += 1;
        self.commit(fx)
    }

    /// Ships a confirmed order; the parcel is written in the same unit.
    fn ship_cod(&mut self, pick: usize) -> Step {
        let ids = self.cod_orders("paid");
        let Some(id) = ids.get(pick % ids.len().max(1)).cloned() else {
            return Ok(());
        };
        let (o, version) = self.orders[&id].clone();
        let tracking = format!("GX{}", self.parcels.len() + 1);
        let command = OrderCommand::Ship {
            carrier: "gulf_express".into(),
            tracking: tracking.clone(),
        };
        let Ok(d) = order::decide(
            &o,
            Actor::Seller,
            &command,
            self.now,
            &OrderPolicy::default(),
        ) else {
            return Ok(());
        };
        let currency = o.captured.currency();
        let parcel = Parcel {
            id: format!("pcl_{tracking}"),
            carrier: "gulf_express".into(),
            tracking,
            order: o.id.clone(),
            payment: o.payment.clone(),
            buyer: o.buyer.clone(),
            seller: o.seller.clone(),
            livemode: o.livemode,
            cash: money(o.held() + FEE, currency.code()),
            fee: FEE,
            rto_cost: RTO,
            rto_payer: [RtoPayer::Buyer, RtoPayer::Seller, RtoPayer::Platform]
                [self.parcels.len() % 3],
            created_at: self.now,
            last_event_at: self.now,
            state: ParcelState::InTransit {
                out_for_delivery: None,
            },
            reversed: None,
        };
        let mut fx = Effects::default();
        let reactions = fx.order(d, version);
        self.follow(&mut fx, reactions)?;
        fx.parcel(
            cod::ParcelDecision {
                parcel,
                events: vec![],
                accounts: vec![],
                transfers: vec![],
            },
            0,
        );
        *self.seen.entry("cod_shipped").or_default() += 1;
        self.commit(fx)
    }

    fn report(&mut self, pick: usize, event: CarrierEvent, ago: i64, wrong: bool) -> Step {
        let Some(id) = self.pick_parcel(pick) else {
            return Ok(());
        };
        let (parcel, version) = self.parcels[&id].clone();
        let cash = parcel.cash.minor() - i64::from(wrong);
        let Ok(d) = cod::report(&parcel, event, self.now - ago, Some(cash)) else {
            *self.seen.entry("cod_report_refused").or_default() += 1;
            return Ok(());
        };
        if wrong && event == CarrierEvent::Delivered && !d.events.is_empty() {
            return Err(format!("{id}: a collection one unit short was taken"));
        }
        if d.events.is_empty() {
            *self.seen.entry("cod_report_ignored").or_default() += 1;
            return Ok(());
        }
        *self.seen.entry(d.parcel.state.code()).or_default() += 1;
        let mut fx = Effects::default();
        let reactions = fx.parcel(d, version);
        // a report the order cannot take (a dispute is open on it) is refused whole
        if self.follow(&mut fx, reactions).is_err() {
            *self.seen.entry("cod_report_refused").or_default() += 1;
            return Ok(());
        }
        self.commit(fx)
    }

    /// The carrier pays a collected parcel in full: the cash comes in and the receivable is
    /// cleared; then an order waiting for it is released.
    fn remit(&mut self, pick: usize) -> Step {
        let Some(id) = self.pick_parcel(pick) else {
            return Ok(());
        };
        let (mut parcel, version) = self.parcels[&id].clone();
        let ParcelState::Collected { at, remitted: None } = parcel.state else {
            return Ok(());
        };
        let currency = parcel.cash.currency();
        let accounts = CodAccounts::of(parcel.livemode, currency).unwrap();
        let receivable =
            CodAccounts::receivable(parcel.livemode, &parcel.carrier, currency).unwrap();
        parcel.state = ParcelState::Collected {
            at,
            remitted: Some(Remitted {
                batch: format!("rb_{}", self.units),
                at: self.now,
            }),
        };
        let mut fx = Effects::default();
        fx.accounts.push(AccountSpec {
            id: accounts.cash.clone(),
            kind: AccountKind::CodCash,
            currency,
            bounded: false,
        });
        fx.transfers.push(TransferRequest::Posted {
            debit: accounts.cash,
            credit: receivable,
            amount: parcel.cash,
        });
        let order = parcel.order.clone();
        fx.parcel(
            cod::ParcelDecision {
                parcel,
                events: vec![],
                accounts: vec![],
                transfers: vec![],
            },
            version,
        );
        self.commit(fx)?;
        *self.seen.entry("cod_remitted").or_default() += 1;
        if self.orders[&order].0.status().code() == "awaiting_remittance" {
            self.order(&order, Actor::Platform, &OrderCommand::ReleaseRemitted)?;
        }
        Ok(())
    }

    /// Releases every order waiting for a remittance whose parcel was remitted (the app's
    /// scheduler does this on each tick: a release may fall due after its remittance came).
    pub fn release_remitted(&mut self) -> Step {
        let due: Vec<String> = self
            .parcels
            .values()
            .filter(|(p, _)| {
                matches!(
                    p.state,
                    ParcelState::Collected {
                        remitted: Some(_),
                        ..
                    }
                ) && self.orders[&p.order].0.status().code() == "awaiting_remittance"
            })
            .map(|(p, _)| p.order.clone())
            .collect();
        for order in due {
            if let Some(e) = self.order(&order, Actor::Scheduler, &OrderCommand::ReleaseRemitted)? {
                return Err(format!("{order}: its release was refused: {e}"));
            }
        }
        Ok(())
    }

    /// What must hold of cash on delivery after any step: each carrier's receivable is what its
    /// collected, unremitted parcels hold; an order released by cash was remitted first.
    pub fn check_cod(&self) -> Step {
        let mut due: BTreeMap<String, i128> = BTreeMap::new();
        for (p, _) in self.parcels.values() {
            let id = CodAccounts::receivable(p.livemode, &p.carrier, p.cash.currency()).unwrap();
            let owed = match p.state {
                ParcelState::Collected { remitted: None, .. } => i128::from(p.cash.minor()),
                _ => 0,
            };
            *due.entry(id.as_str().to_string()).or_default() += owed;
            if let OrderState::Completed { .. } = self.orders[&p.order].0.state
                && !matches!(
                    p.state,
                    ParcelState::Collected {
                        remitted: Some(_),
                        ..
                    }
                )
            {
                return Err(format!("order {} released before its cash came", p.order));
            }
        }
        for (id, owed) in due {
            let balance = self
                .book
                .account(&AccountId::parse(&id).unwrap())
                .map_or(0, |a| a.posted_balance());
            if balance != owed {
                return Err(format!("{id} is {balance}, its parcels owe {owed}"));
            }
        }
        Ok(())
    }

    /// At the end: every parcel still out is delivered and paid, every collection remitted.
    pub fn settle_cod(&mut self) -> Step {
        let ids: Vec<String> = self.parcels.keys().cloned().collect();
        for (n, id) in ids.iter().enumerate() {
            if matches!(self.parcels[id].0.state, ParcelState::InTransit { .. })
                && self.orders[&self.parcels[id].0.order].0.status().code() == "shipped"
            {
                self.report(n, CarrierEvent::Delivered, 0, false)?;
            }
            self.remit(n)?;
        }
        Ok(())
    }
}

/// A fixed run through every cash-on-delivery path, with what each must have done.
#[test]
fn a_scripted_cash_on_delivery_run() {
    use holdback_domain::dispute::{Answer, DisputeCommand, DisputeReason, Request};
    let mut w = World::new();
    let balance = |w: &World, part: &str| -> i128 {
        w.book
            .accounts()
            .filter(|a| a.spec.id.as_str().contains(part))
            .map(|a| a.posted_balance())
            .sum()
    };
    let step = |w: &mut World, op: Cod| {
        w.cod(&op).unwrap_or_else(|e| panic!("{op:?}: {e}"));
        w.check().unwrap_or_else(|e| panic!("after {op:?}: {e}"));
    };
    // four orders placed: 1 delivered and remitted, 2 refused, 3 disputed, 4 never confirmed
    for amount in [10_000, 20_000, 30_000, 40_000] {
        step(
            &mut w,
            Cod::Place {
                amount,
                currency: 0,
                livemode: false,
            },
        );
    }
    for _ in 0..3 {
        step(&mut w, Cod::Confirm { pick: 0 });
    }
    assert_eq!(w.cod_orders("paid").len(), 3);
    assert_eq!(
        balance(&w, ":cod_expected:"),
        60_000,
        "the cash expected for three orders"
    );
    for _ in 0..3 {
        step(&mut w, Cod::Ship { pick: 0 });
    }
    let parcels: Vec<String> = w.parcels.keys().cloned().collect();
    assert_eq!(parcels.len(), 3);
    // the wrong cash changes nothing; the right cash collects; a late out-for-delivery is news
    // older than what is known
    let before = w.parcels[&parcels[0]].clone();
    step(
        &mut w,
        Cod::Report {
            pick: 0,
            event: 2,
            ago: 0,
            wrong_cash: true,
        },
    );
    assert_eq!(w.parcels[&parcels[0]], before);
    step(
        &mut w,
        Cod::Report {
            pick: 0,
            event: 2,
            ago: 0,
            wrong_cash: false,
        },
    );
    step(
        &mut w,
        Cod::Report {
            pick: 0,
            event: 1,
            ago: DAY,
            wrong_cash: false,
        },
    );
    step(
        &mut w,
        Cod::Report {
            pick: 0,
            event: 2,
            ago: 0,
            wrong_cash: false,
        },
    );
    assert_eq!(
        w.parcels[&parcels[0]].1, 2,
        "written once by the collection alone"
    );
    assert_eq!(w.parcels[&parcels[0]].0.state.code(), "collected");
    assert_eq!(
        balance(&w, ":carrier_receivable:gulf_express:"),
        i128::from(10_000 + FEE)
    );
    assert_eq!(balance(&w, ":cod_fees:"), i128::from(FEE));
    // refused: the order is cancelled, nothing reaches the buyer, the return is charged
    step(
        &mut w,
        Cod::Report {
            pick: 1,
            event: 3,
            ago: 0,
            wrong_cash: false,
        },
    );
    let refused = &w.parcels[&parcels[1]].0;
    assert_eq!(refused.state.code(), "refused");
    assert_eq!(w.orders[&refused.order].0.status().code(), "cancelled");
    assert_eq!(balance(&w, ":customer_balance:"), 0);
    // 60,000 expected: 10,000 is now the carrier's to pay, the refused 20,000 no longer expected
    assert_eq!(balance(&w, ":cod_expected:"), 30_000);
    let debt = match refused.rto_payer {
        RtoPayer::Buyer => balance(&w, ":buyer_debt:"),
        RtoPayer::Seller => balance(&w, ":seller_debt:"),
        RtoPayer::Platform => 0,
    };
    assert_eq!(
        debt,
        if refused.rto_payer == RtoPayer::Platform {
            0
        } else {
            i128::from(RTO)
        }
    );
    // a delivery reported after the refusal contradicts it: refused, nothing changes
    let before = w.parcels[&parcels[1]].clone();
    step(
        &mut w,
        Cod::Report {
            pick: 1,
            event: 2,
            ago: 0,
            wrong_cash: false,
        },
    );
    assert_eq!(w.parcels[&parcels[1]], before);
    // delivered, then a dispute refunds part of it to the buyer's balance
    step(
        &mut w,
        Cod::Report {
            pick: 2,
            event: 2,
            ago: 0,
            wrong_cash: false,
        },
    );
    let disputed = w.parcels[&parcels[2]].0.order.clone();
    w.now += 6 * DAY;
    let dsp = w
        .open_dispute_on(&disputed, DisputeReason::ALL[1], Request::FullRefund)
        .unwrap()
        .expect("a dispute opens on a delivered cash-on-delivery order");
    w.dispute(
        &dsp,
        Actor::Seller,
        &DisputeCommand::Respond(Answer::Accept),
    )
    .unwrap();
    w.check().unwrap();
    assert_eq!(
        balance(&w, ":customer_balance:"),
        30_000,
        "refunded to the balance"
    );
    assert_eq!(w.orders[&disputed].0.status().code(), "cancelled");
    // the remitted order: protection ends, the release waits for the remittance, then runs
    let first = w.parcels[&parcels[0]].0.order.clone();
    w.now += 30 * DAY;
    w.scheduler().unwrap();
    w.check().unwrap();
    assert_eq!(w.orders[&first].0.status().code(), "awaiting_remittance");
    assert_eq!(w.orders[&first].0.held(), 10_000);
    step(&mut w, Cod::Remit { pick: 0 });
    assert_eq!(w.orders[&first].0.status().code(), "completed");
    // the disputed parcel's cash is still the carrier's to pay
    assert_eq!(
        balance(&w, ":carrier_receivable:"),
        30_000 + i128::from(FEE)
    );
    assert_eq!(balance(&w, ":cod_cash:"), 10_000 + i128::from(FEE));
    // the unconfirmed order expires with its payment
    w.expire_payments().unwrap();
    w.check().unwrap();
    let expired = w.cod_orders("expired");
    assert_eq!(expired.len(), 1);
    finish(w).unwrap();
}
