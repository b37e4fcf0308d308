//! How the aggregates work together: the reaction table, and [`Effects`], everything one unit
//! of work writes.
//!
//! Each aggregate (order, payment, refund, dispute) decides alone. Rules that cross them are a pure table,
//! [`react`]: an event of one aggregate becomes a command to another, applied in the same unit
//! (so an order cancelled and the refund of its payment are written together, or not at all).
//! The shell runs the table: it loads each target, lets it decide, and adds the decision to the
//! unit's [`Effects`], until no reaction is left.

use crate::cod::{Parcel, ParcelDecision, ParcelEvent};
use crate::dispute::{Dispute, DisputeDecision, DisputeEvent, DisputeTimer};
use crate::ledger::{AccountSpec, TransferRequest};
use crate::money::Money;
use crate::order::{
    self, Actor, Order, OrderCommand, OrderError, OrderEvent, OrderPlan, OrderPolicy, RefundReason,
    Settlement, TimerKind,
};
use crate::payment::{self, Payment, PaymentCommand, PaymentDecision, PaymentError, PaymentEvent};
use crate::refund::{Refund, RefundDecision, RefundEvent};
use crate::tender::RefundRouting;

/// The kinds of aggregate the store keeps with a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Order,
    Payment,
    Refund,
    Dispute,
    GiftCard,
    Coupon,
    Parcel,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Order,
        Kind::Payment,
        Kind::Refund,
        Kind::Dispute,
        Kind::GiftCard,
        Kind::Coupon,
        Kind::Parcel,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Kind::Order => "order",
            Kind::Payment => "payment",
            Kind::Refund => "refund",
            Kind::Dispute => "dispute",
            Kind::GiftCard => "gift_card",
            Kind::Coupon => "coupon",
            Kind::Parcel => "parcel",
        }
    }
}

/// A command one aggregate's event gives to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    /// The order's money left its escrow: its payment refunds it.
    RefundPayment {
        payment: String,
        order: String,
        amount: Money,
        reason: RefundReason,
    },
    /// The payment was captured: its planned order opens.
    OpenOrder {
        plan: OrderPlan,
        payment: String,
        buyer: String,
        livemode: bool,
    },
    /// The payment owes a refund: the refund is written, pending at the provider.
    CreateRefund(Box<Refund>),
    /// A dispute opened: its order's protection clock stops.
    PauseOrder { order: String, dispute: String },
    /// A dispute closed: its order moves the money of the outcome.
    SettleOrder {
        order: String,
        dispute: String,
        settlement: Settlement,
    },
    /// The payment an order was placed awaiting is confirmed: the order is paid.
    PayOrder { order: String },
    /// The payment an order was placed awaiting expired: the order is cancelled unpaid.
    CancelUnpaid { order: String },
    /// A cash-on-delivery parcel was delivered and paid: its order is delivered ...
    DeliverOrder { order: String },
    /// ... and its payment's cash is receivable from the carrier.
    CollectPayment {
        payment: String,
        carrier: String,
        fee: i64,
    },
    /// A cash-on-delivery parcel came back: its order is cancelled.
    ReturnOrder { order: String },
}

impl Reaction {
    pub fn name(&self) -> &'static str {
        match self {
            Reaction::RefundPayment { .. } => "payment.refund",
            Reaction::OpenOrder { .. } => "order.open",
            Reaction::CreateRefund(_) => "refund.create",
            Reaction::PauseOrder { .. } => "order.pause",
            Reaction::SettleOrder { .. } => "order.settle",
            Reaction::PayOrder { .. } => "order.pay",
            Reaction::CancelUnpaid { .. } => "order.cancel_unpaid",
            Reaction::DeliverOrder { .. } => "order.deliver",
            Reaction::CollectPayment { .. } => "payment.collect",
            Reaction::ReturnOrder { .. } => "order.return_to_origin",
        }
    }

    /// The order this reaction is given to, when it is given to an order.
    pub fn order(&self) -> Option<&str> {
        match self {
            Reaction::PauseOrder { order, .. }
            | Reaction::SettleOrder { order, .. }
            | Reaction::PayOrder { order }
            | Reaction::CancelUnpaid { order }
            | Reaction::DeliverOrder { order }
            | Reaction::ReturnOrder { order } => Some(order),
            _ => None,
        }
    }
}

/// An event of any aggregate, with the aggregate as it is after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    Order(&'a Order, &'a OrderEvent),
    Payment(&'a Payment, &'a PaymentEvent),
    Refund(&'a Refund, &'a RefundEvent),
    Dispute(&'a Dispute, &'a DisputeEvent),
    Parcel(&'a Parcel, &'a ParcelEvent),
}

/// The reaction table: what each event makes other aggregates do.
pub fn react(event: Event<'_>) -> Vec<Reaction> {
    match event {
        Event::Order(order, OrderEvent::RefundDue { amount, reason }) => {
            vec![Reaction::RefundPayment {
                payment: order.payment.clone(),
                order: order.id.clone(),
                amount: *amount,
                reason: *reason,
            }]
        }
        Event::Payment(payment, PaymentEvent::Succeeded { plans }) => plans
            .iter()
            .map(|plan| Reaction::OpenOrder {
                plan: plan.clone(),
                payment: payment.id.clone(),
                buyer: payment.buyer.clone(),
                livemode: payment.livemode,
            })
            .collect(),
        Event::Payment(_, PaymentEvent::RefundCreated(refund)) => {
            vec![Reaction::CreateRefund(Box::new(refund.clone()))]
        }
        Event::Payment(_, PaymentEvent::Confirmed { orders }) => orders
            .iter()
            .map(|order| Reaction::PayOrder {
                order: order.clone(),
            })
            .collect(),
        Event::Payment(
            _,
            PaymentEvent::Expired { orders }
            | PaymentEvent::Declined { orders }
            | PaymentEvent::Cancelled { orders },
        ) => orders
            .iter()
            .map(|order| Reaction::CancelUnpaid {
                order: order.clone(),
            })
            .collect(),
        Event::Dispute(dispute, DisputeEvent::Opened) => vec![Reaction::PauseOrder {
            order: dispute.order.clone(),
            dispute: dispute.id.clone(),
        }],
        Event::Dispute(dispute, DisputeEvent::Closed(settlement)) => {
            vec![Reaction::SettleOrder {
                order: dispute.order.clone(),
                dispute: dispute.id.clone(),
                settlement: settlement.clone(),
            }]
        }
        Event::Parcel(parcel, ParcelEvent::Collected) => vec![
            Reaction::CollectPayment {
                payment: parcel.payment.clone(),
                carrier: parcel.carrier.clone(),
                fee: parcel.fee,
            },
            Reaction::DeliverOrder {
                order: parcel.order.clone(),
            },
        ],
        Event::Parcel(parcel, ParcelEvent::Returned { .. }) => vec![Reaction::ReturnOrder {
            order: parcel.order.clone(),
        }],
        Event::Order(..)
        | Event::Payment(..)
        | Event::Refund(..)
        | Event::Dispute(..)
        | Event::Parcel(..) => vec![],
    }
}

/// An aggregate to write, with the version it was decided against (0: a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    pub expected_version: i64,
}

/// An event to publish: its name and the object it is about (rendered as that object is at the
/// end of the unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub name: &'static str,
    pub kind: Kind,
    pub id: String,
    /// Whether the object is in live mode.
    pub livemode: bool,
}

/// Everything one unit of work writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub orders: Vec<Versioned<Order>>,
    pub payments: Vec<Versioned<Payment>>,
    pub refunds: Vec<Versioned<Refund>>,
    pub disputes: Vec<Versioned<Dispute>>,
    pub accounts: Vec<AccountSpec>,
    pub transfers: Vec<TransferRequest>,
    pub events: Vec<Published>,
    /// (order id, kind, due at)
    pub set_timers: Vec<(String, TimerKind, i64)>,
    /// (order id, kind)
    pub cancel_timers: Vec<(String, TimerKind)>,
    /// (dispute id, kind, due at)
    pub set_dispute_timers: Vec<(String, DisputeTimer, i64)>,
    /// (dispute id, kind)
    pub cancel_dispute_timers: Vec<(String, DisputeTimer)>,
    /// How the payments' refunds in this unit are shared among tenders and routed (policy).
    pub routing: RefundRouting,
    /// Coupons whose use this unit gives back (an order cancelled, a payment failed), with the
    /// orders whose uses they were.
    pub coupons: Vec<Versioned<crate::coupon::Coupon>>,
    pub coupon_uses_given_back: Vec<(String, String)>,
    pub parcels: Vec<Versioned<Parcel>>,
}

/// Puts `value` in `list`, replacing an earlier write of the same aggregate in this unit (which
/// keeps the version the unit first decided against).
fn put<T>(list: &mut Vec<Versioned<T>>, value: T, expected: i64, same: impl Fn(&T) -> bool) {
    match list.iter_mut().find(|v| same(&v.value)) {
        Some(v) => v.value = value,
        None => list.push(Versioned {
            value,
            expected_version: expected,
        }),
    }
}

impl Effects {
    /// Adds an order's decision; returns what it makes others do.
    pub fn order(&mut self, d: order::Decision, expected_version: i64) -> Vec<Reaction> {
        let id = d.order.id.clone();
        let reactions = d
            .events
            .iter()
            .flat_map(|e| react(Event::Order(&d.order, e)))
            .collect();
        for e in &d.events {
            self.publish(e.name(), Kind::Order, &id, d.order.livemode);
        }
        self.accounts.extend(d.accounts);
        self.transfers.extend(d.transfers);
        for (kind, due) in d.set_timers {
            self.cancel_timers
                .retain(|(o, k)| !(*o == id && *k == kind));
            self.set_timers.push((id.clone(), kind, due));
        }
        for kind in d.cancel_timers {
            self.set_timers
                .retain(|(o, k, _)| !(*o == id && *k == kind));
            self.cancel_timers.push((id.clone(), kind));
        }
        put(&mut self.orders, d.order, expected_version, |o| o.id == id);
        reactions
    }

    /// Adds a payment's decision; returns what it makes others do.
    pub fn payment(&mut self, d: PaymentDecision, expected_version: i64) -> Vec<Reaction> {
        let id = d.payment.id.clone();
        let reactions = d
            .events
            .iter()
            .flat_map(|e| react(Event::Payment(&d.payment, e)))
            .collect();
        for e in &d.events {
            // A refund's creation is published as the refund's own event.
            if let PaymentEvent::RefundCreated(r) = e {
                self.publish(e.name(), Kind::Refund, &r.id, r.livemode);
            } else {
                self.publish(e.name(), Kind::Payment, &id, d.payment.livemode);
            }
        }
        self.accounts.extend(d.accounts);
        self.transfers.extend(d.transfers);
        put(&mut self.payments, d.payment, expected_version, |p| {
            p.id == id
        });
        reactions
    }

    /// Adds a refund's decision (or a new refund, with version 0).
    pub fn refund(&mut self, d: RefundDecision, expected_version: i64) -> Vec<Reaction> {
        let id = d.refund.id.clone();
        let reactions = d
            .events
            .iter()
            .flat_map(|e| react(Event::Refund(&d.refund, e)))
            .collect();
        for e in &d.events {
            self.publish(e.name(), Kind::Refund, &id, d.refund.livemode);
        }
        self.transfers.extend(d.transfers);
        put(&mut self.refunds, d.refund, expected_version, |r| {
            r.id == id
        });
        reactions
    }

    /// Adds a dispute's decision (a new dispute with version 0); returns what it makes others do.
    pub fn dispute(&mut self, d: DisputeDecision, expected_version: i64) -> Vec<Reaction> {
        let id = d.dispute.id.clone();
        let reactions = d
            .events
            .iter()
            .flat_map(|e| react(Event::Dispute(&d.dispute, e)))
            .collect();
        for e in &d.events {
            self.publish(e.name(), Kind::Dispute, &id, d.dispute.livemode);
        }
        for (kind, due) in d.set_timers {
            self.cancel_dispute_timers
                .retain(|(o, k)| !(*o == id && *k == kind));
            self.set_dispute_timers.push((id.clone(), kind, due));
        }
        for kind in d.cancel_timers {
            self.set_dispute_timers
                .retain(|(o, k, _)| !(*o == id && *k == kind));
            self.cancel_dispute_timers.push((id.clone(), kind));
        }
        put(&mut self.disputes, d.dispute, expected_version, |x| {
            x.id == id
        });
        reactions
    }

    /// Adds a parcel's decision (a new parcel with version 0); returns what it makes others do.
    pub fn parcel(&mut self, d: ParcelDecision, expected_version: i64) -> Vec<Reaction> {
        let id = d.parcel.id.clone();
        let reactions = d
            .events
            .iter()
            .flat_map(|e| react(Event::Parcel(&d.parcel, e)))
            .collect();
        for e in &d.events {
            self.publish(e.name(), Kind::Parcel, &id, d.parcel.livemode);
        }
        self.accounts.extend(d.accounts);
        self.transfers.extend(d.transfers);
        put(&mut self.parcels, d.parcel, expected_version, |p| {
            p.id == id
        });
        reactions
    }

    /// The order this unit already holds, if any.
    pub fn order_in_unit(&self, id: &str) -> Option<&Versioned<Order>> {
        self.orders.iter().find(|o| o.value.id == id)
    }

    /// The order a reaction needs that this unit does not hold yet: the caller loads it (with
    /// its version) and gives it to [`Effects::apply_to_order`].
    pub fn needs_order(&self, reaction: &Reaction) -> Option<String> {
        reaction
            .order()
            .filter(|id| self.order_in_unit(id).is_none())
            .map(str::to_string)
    }

    /// Applies a reaction given to an order (see [`Reaction::order`]): the order decides it as
    /// the platform, and its decision joins the unit. `loaded` is the order
    /// [`Effects::needs_order`] named, as stored with its version.
    pub fn apply_to_order(
        &mut self,
        reaction: Reaction,
        loaded: Option<(Order, i64)>,
        now: i64,
        policy: &OrderPolicy,
    ) -> Result<Vec<Reaction>, ReactionError> {
        let (id, command) = match reaction {
            Reaction::PauseOrder { order, dispute } => {
                (order, OrderCommand::OpenDispute { dispute })
            }
            Reaction::SettleOrder {
                order,
                dispute,
                settlement,
            } => (
                order,
                OrderCommand::Settle {
                    dispute,
                    settlement,
                },
            ),
            Reaction::PayOrder { order } => (order, OrderCommand::Pay),
            Reaction::CancelUnpaid { order } => (order, OrderCommand::CancelUnpaid),
            Reaction::DeliverOrder { order } => (order, OrderCommand::MarkCollected),
            Reaction::ReturnOrder { order } => (order, OrderCommand::ReturnToOrigin),
            other => return Err(ReactionError::NotForAnOrder(other.name())),
        };
        let (current, version) = match self.order_in_unit(&id) {
            Some(v) => (v.value.clone(), v.expected_version),
            None => loaded.ok_or(ReactionError::MissingOrder(id))?,
        };
        let d = order::decide(&current, Actor::Platform, &command, now, policy)?;
        Ok(self.order(d, version))
    }

    /// A refund the payment created: written new, pending.
    pub fn new_refund(&mut self, refund: Refund) {
        let id = refund.id.clone();
        put(&mut self.refunds, refund, 0, |r| r.id == id);
    }

    fn publish(&mut self, name: &'static str, kind: Kind, id: &str, livemode: bool) {
        self.events.push(Published {
            name,
            kind,
            id: id.to_string(),
            livemode,
        });
    }

    /// The payment this unit already holds, if any (a second decision must build on it).
    pub fn payment_in_unit(&self, id: &str) -> Option<&Versioned<Payment>> {
        self.payments.iter().find(|p| p.value.id == id)
    }

    /// The payment a reaction needs that this unit does not hold yet: the caller loads it (with
    /// its version) and gives it to [`Effects::apply`].
    pub fn needs(&self, reaction: &Reaction) -> Option<String> {
        match reaction {
            Reaction::RefundPayment { payment, .. } | Reaction::CollectPayment { payment, .. }
                if self.payment_in_unit(payment).is_none() =>
            {
                Some(payment.clone())
            }
            _ => None,
        }
    }

    /// Applies one reaction to this unit and returns the reactions it causes. `loaded` is the
    /// payment [`Effects::needs`] named, as stored with its version; `refund_id` names a refund
    /// the payment creates (called only then).
    pub fn apply(
        &mut self,
        reaction: Reaction,
        loaded: Option<(Payment, i64)>,
        refund_id: impl FnOnce() -> String,
        now: i64,
    ) -> Result<Vec<Reaction>, ReactionError> {
        Ok(match reaction {
            Reaction::RefundPayment {
                payment,
                order,
                amount,
                reason,
            } => {
                let (current, version) = match self.payment_in_unit(&payment) {
                    Some(v) => (v.value.clone(), v.expected_version),
                    None => loaded.ok_or(ReactionError::MissingPayment(payment))?,
                };
                let command = PaymentCommand::Refund {
                    order,
                    amount,
                    reason,
                    refund_id: refund_id(),
                    routing: self.routing.clone(),
                };
                let d = payment::decide(&current, &command, now)?;
                self.payment(d, version)
            }
            Reaction::OpenOrder {
                plan,
                payment,
                buyer,
                livemode,
            } => {
                let d = order::paid(&plan, &buyer, &payment, livemode, now)?;
                self.order(d, 0)
            }
            Reaction::CollectPayment {
                payment,
                carrier,
                fee,
            } => {
                let (current, version) = match self.payment_in_unit(&payment) {
                    Some(v) => (v.value.clone(), v.expected_version),
                    None => loaded.ok_or(ReactionError::MissingPayment(payment))?,
                };
                let d =
                    payment::decide(&current, &PaymentCommand::CollectCash { carrier, fee }, now)?;
                self.payment(d, version)
            }
            Reaction::CreateRefund(refund) => {
                self.new_refund(*refund);
                vec![]
            }
            other @ (Reaction::PauseOrder { .. }
            | Reaction::SettleOrder { .. }
            | Reaction::PayOrder { .. }
            | Reaction::CancelUnpaid { .. }
            | Reaction::DeliverOrder { .. }
            | Reaction::ReturnOrder { .. }) => {
                return Err(ReactionError::ForAnOrder(other.name()));
            }
        })
    }
}

/// Why a reaction could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReactionError {
    #[error("no payment {0}")]
    MissingPayment(String),
    #[error("no order {0}")]
    MissingOrder(String),
    #[error("{0} is given to an order: apply it with apply_to_order")]
    ForAnOrder(&'static str),
    #[error("{0} is not given to an order")]
    NotForAnOrder(&'static str),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Order(#[from] OrderError),
}
