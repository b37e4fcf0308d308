//! Disputes in the process test: opening them on random orders, random commands by every role,
//! their timers fired at random times, and a mediator who decides what is still open when the
//! run settles.

use holdback_domain::dispute::{
    self, Answer, Claim, Dispute, DisputeCommand, DisputePolicy, DisputeReason, DisputeState,
    DisputeTimer, Outcome, Request,
};
use holdback_domain::money::Money;
use holdback_domain::order::{Actor, DAY, Order, TimerKind};
use holdback_domain::process::Effects;
use proptest::prelude::*;

use super::{Op, Step, World};

pub const DISPUTE_COMMANDS: usize = 14;

pub fn ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (any::<usize>(), 0..5usize, 0..3usize, 1..=120i64).prop_map(
            |(pick, reason, request, percent)| Op::OpenDispute {
                pick,
                reason,
                request,
                percent
            }
        ),
        // every command, and more often the way to a mediator's counterfeit decision
        6 => (
            any::<usize>(),
            prop_oneof![4 => 0..DISPUTE_COMMANDS, 1 => Just(1), 1 => Just(4), 1 => Just(10)],
            1..=250i64
        )
            .prop_map(
            |(pick, command, percent)| Op::Dispute {
                pick,
                command,
                percent
            }
        ),
        2 => (any::<usize>(), 0..DisputeTimer::ALL.len())
            .prop_map(|(pick, kind)| Op::FireDispute { pick, kind }),
    ]
}

/// A mix for the dispute property: orders shipped, delivered and confirmed, time passing in
/// steps of days, and mostly dispute operations, with the refund worker and the scheduler.
pub fn dispute_heavy_ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<usize>(), 0..3usize).prop_map(|(pick, command)| Op::Order {
            pick,
            command,
            percent: 0
        }),
        3 => prop_oneof![0..DAY, 0..6 * DAY, 0..16 * DAY].prop_map(Op::Advance),
        2 => Just(Op::Scheduler),
        4 => (any::<usize>(), super::answer()).prop_map(|(pick, answer)| Op::Worker { pick, answer }),
        1 => (any::<usize>(), 0..TimerKind::ALL.len()).prop_map(|(pick, kind)| Op::Fire { pick, kind }),
        12 => ops(),
    ]
}

/// `percent` of `base` (at least 1 minor unit), in `base`'s currency.
pub fn part(base: Money, percent: i64) -> Money {
    Money::from_minor((base.minor() * percent / 100).max(1), base.currency()).unwrap()
}

/// The `n`-th dispute command, by the first role that may give it (the seller escalates at 5).
pub fn command(n: usize, d: &Dispute, percent: i64) -> (Actor, DisputeCommand) {
    let decide = |outcome| DisputeCommand::Decide {
        outcome,
        reason: "seen the evidence".into(),
        by: "med_1".into(),
    };
    let cmd = match n {
        0 => DisputeCommand::Respond(Answer::Accept),
        1 => DisputeCommand::Respond(Answer::Reject),
        2 => DisputeCommand::Respond(Answer::Counter(part(d.paid, percent))),
        3 => DisputeCommand::AcceptCounter,
        4 | 5 => DisputeCommand::Escalate,
        6 => decide(Outcome::FullRefund),
        7 => decide(Outcome::PartialRefund(part(d.paid, percent))),
        8 => decide(Outcome::ReturnAndRefund),
        9 => decide(Outcome::Rejected),
        10 => decide(Outcome::Counterfeit(part(d.paid, percent))),
        11 => DisputeCommand::ShipReturn {
            tracking: "RT1".into(),
        },
        12 => DisputeCommand::ReturnDelivered,
        _ => DisputeCommand::ConfirmReturnReceived,
    };
    let actor = if n == 5 {
        Actor::Seller
    } else {
        [
            Actor::Buyer,
            Actor::Seller,
            Actor::Mediator,
            Actor::Carrier,
            Actor::Platform,
        ]
        .into_iter()
        .find(|a| cmd.allowed(*a))
        .unwrap()
    };
    (actor, cmd)
}

impl World {
    /// An order a dispute may open on (shipped, delivered or completed), else any order.
    fn pick_order(&self, pick: usize) -> Option<Order> {
        let all: Vec<&Order> = self.orders.values().map(|(o, _)| o).collect();
        let shipped: Vec<&Order> = all
            .iter()
            .copied()
            .filter(|o| {
                o.shipment().is_some() && !o.status().is_terminal() || o.release().is_some()
            })
            .collect();
        let from = if shipped.is_empty() { all } else { shipped };
        (!from.is_empty()).then(|| from[pick % from.len()].clone())
    }

    /// An open dispute, else any dispute.
    fn pick_dispute(&self, pick: usize) -> Option<String> {
        let all: Vec<&Dispute> = self.disputes.values().map(|(d, _)| d).collect();
        let open: Vec<&Dispute> = all
            .iter()
            .copied()
            .filter(|d| !matches!(d.state, DisputeState::Closed { .. }))
            .collect();
        let from = if open.is_empty() { all } else { open };
        (!from.is_empty()).then(|| from[pick % from.len()].id.clone())
    }

    pub fn open_dispute(
        &mut self,
        pick: usize,
        reason: usize,
        request: usize,
        percent: i64,
    ) -> Step {
        let Some(order) = self.pick_order(pick) else {
            return Ok(());
        };
        let request = match request {
            0 => Request::FullRefund,
            1 => Request::PartialRefund(part(order.captured, percent)),
            _ => Request::ReturnAndRefund,
        };
        self.open_dispute_on(&order.id, DisputeReason::ALL[reason], request)
            .map(|_| ())
    }

    /// The buyer opens a dispute on `order`: its id if the rules let it open.
    pub fn open_dispute_on(
        &mut self,
        order: &str,
        reason: DisputeReason,
        request: Request,
    ) -> Result<Option<String>, String> {
        self.dispute_ids += 1;
        let claim = Claim {
            id: format!("dsp_{}", self.dispute_ids),
            reason,
            request,
        };
        let policy = DisputePolicy::default();
        let order = &self.orders[order].0;
        let Ok(d) = dispute::open(&claim, order, Actor::Buyer, self.now, &policy) else {
            return Ok(None);
        };
        *self.seen.entry("dispute opened").or_default() += 1;
        let mut fx = Effects::default();
        let reactions = fx.dispute(d, 0);
        self.follow(&mut fx, reactions)?;
        self.commit(fx)?;
        Ok(Some(claim.id))
    }

    /// One dispute decision as a unit; a rejection writes nothing.
    pub fn dispute(
        &mut self,
        id: &str,
        actor: Actor,
        command: &DisputeCommand,
    ) -> Result<Option<dispute::DisputeError>, String> {
        let (current, version) = self.disputes[id].clone();
        match dispute::decide(
            &current,
            actor,
            command,
            self.now,
            &DisputePolicy::default(),
        ) {
            Ok(d) => {
                if let DisputeState::Closed { outcome, .. } = &d.dispute.state {
                    *self.seen.entry(outcome.code()).or_default() += 1;
                }
                let mut fx = Effects::default();
                let reactions = fx.dispute(d, version);
                self.follow(&mut fx, reactions)?;
                self.commit(fx)?;
                Ok(None)
            }
            Err(e) => Ok(Some(e)),
        }
    }

    pub fn dispute_op(&mut self, pick: usize, n: usize, percent: i64) -> Step {
        let Some(id) = self.pick_dispute(pick) else {
            return Ok(());
        };
        let (actor, cmd) = command(n, &self.disputes[&id].0, percent);
        self.dispute(&id, actor, &cmd).map(|_| ())
    }

    /// Fires a dispute timer: one set and due must be accepted, one not set must be refused.
    pub fn fire_dispute(&mut self, pick: usize, kind: usize) -> Step {
        let Some(id) = self.pick_dispute(pick) else {
            return Ok(());
        };
        let kind = DisputeTimer::ALL[kind];
        let set = self.dispute_timers.get(&(id.clone(), kind)).copied();
        let refused = self.dispute(&id, Actor::Scheduler, &DisputeCommand::Fire(kind))?;
        super::timer_verdict(kind.code(), &id, set, refused, self.now)
    }

    /// What no timer moves on: a mediator decides (rejected) and the carrier delivers returns.
    pub fn unblock_disputes(&mut self) -> Step {
        let ids: Vec<String> = self.disputes.keys().cloned().collect();
        for id in ids {
            let cmd = match &self.disputes[&id].0.state {
                DisputeState::InMediation { .. } => DisputeCommand::Decide {
                    outcome: Outcome::Rejected,
                    reason: "no evidence".into(),
                    by: "med_1".into(),
                },
                DisputeState::ReturnShipped {
                    delivered_at: None, ..
                } => DisputeCommand::ReturnDelivered,
                _ => continue,
            };
            let actor = match cmd {
                DisputeCommand::Decide { .. } => Actor::Mediator,
                _ => Actor::Carrier,
            };
            if let Some(e) = self.dispute(&id, actor, &cmd)? {
                return Err(format!("{id} refused {cmd:?} while settling: {e}"));
            }
        }
        Ok(())
    }
}
