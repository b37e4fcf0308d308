//! Stored value in the random runs: the platform crediting a buyer's balance, gift cards
//! issued, sold, redeemed and expired, and checkouts that pay part or all from the balance
//! (with a card that succeeds or is declined), including one asking for more than the balance
//! holds, which the ledger must refuse whole. After every step the gift-card liability must be
//! what the active cards hold, and no balance below zero.

use std::collections::BTreeMap;

use holdback_domain::gift_card::{self, GiftCard, GiftCardCommand, GiftCardState};
use holdback_domain::invariants;
use holdback_domain::ledger::{AccountKind, AccountSpec, TransferRequest};
use holdback_domain::order::{OrderPlan, buyer_balance};
use holdback_domain::payment::{self, Payment, PaymentCommand, PaymentDecision};
use holdback_domain::process::Effects;
use holdback_domain::{AccountId, Currency, ErrorCode};
use proptest::prelude::*;

use super::common::{card, money, plan};
use super::{CURRENCIES, Op, Step, World};

#[derive(Debug, Clone)]
pub enum Stored {
    /// The platform adds to the buyer's balance.
    Credit {
        amount: i64,
        currency: usize,
        livemode: bool,
    },
    Issue {
        value: i64,
        currency: usize,
        livemode: bool,
    },
    Activate {
        pick: usize,
    },
    Redeem {
        pick: usize,
    },
    ExpireCards,
    /// A checkout paying `percent` of its total from the balance (as much as there is), the
    /// rest by card; `over`: asking one more than the balance holds.
    Split {
        amounts: Vec<i64>,
        currency: usize,
        livemode: bool,
        percent: i64,
        declined: bool,
        over: bool,
    },
    /// A card checkout with platform-funded coupons paying `percent` of each order.
    Promoted {
        amounts: Vec<i64>,
        currency: usize,
        livemode: bool,
        percent: i64,
    },
}

pub fn ops() -> impl Strategy<Value = Op> {
    let place = (0..CURRENCIES.len(), any::<bool>());
    prop_oneof![
        2 => (1..40_000i64, place.clone()).prop_map(|(amount, (currency, livemode))| {
            Op::Stored(Stored::Credit { amount, currency, livemode })
        }),
        2 => (1..40_000i64, place.clone()).prop_map(|(value, (currency, livemode))| {
            Op::Stored(Stored::Issue { value, currency, livemode })
        }),
        2 => any::<usize>().prop_map(|pick| Op::Stored(Stored::Activate { pick })),
        2 => any::<usize>().prop_map(|pick| Op::Stored(Stored::Redeem { pick })),
        1 => Just(Op::Stored(Stored::ExpireCards)),
        4 => (
            proptest::collection::vec(1..50_000i64, 1..=2),
            place,
            prop_oneof![Just(30i64), Just(100), Just(100)],
            proptest::bool::weighted(0.15),
            proptest::bool::weighted(0.1),
        )
            .prop_map(|(amounts, (currency, livemode), percent, declined, over)| {
                Op::Stored(Stored::Split { amounts, currency, livemode, percent, declined, over })
            }),
        3 => (
            proptest::collection::vec(2..50_000i64, 1..=3),
            (0..CURRENCIES.len(), any::<bool>()),
            1..=99i64,
        )
            .prop_map(|(amounts, (currency, livemode), percent)| {
                Op::Stored(Stored::Promoted { amounts, currency, livemode, percent })
            }),
    ]
}

fn currency(n: usize) -> Currency {
    Currency::parse(CURRENCIES[n]).unwrap()
}

impl World {
    fn card_at(&self, pick: usize) -> Option<String> {
        self.cards
            .keys()
            .nth(pick % self.cards.len().max(1))
            .cloned()
    }

    fn balance(&self, livemode: bool, c: Currency) -> i64 {
        let id = buyer_balance(livemode, "buy_1", c).unwrap();
        self.book
            .account(&id)
            .map_or(0, |a| i64::try_from(a.posted_balance()).unwrap())
    }

    /// One card decision as a unit; a rejection writes nothing.
    fn card_decision(&mut self, id: &str, command: &GiftCardCommand) -> Step {
        let (c, version) = self.cards[id].clone();
        let Ok(d) = gift_card::decide(&c, command, self.now) else {
            return Ok(());
        };
        *self.seen.entry(d.event.name()).or_default() += 1;
        let fx = Effects {
            accounts: d.accounts,
            transfers: d.transfers,
            ..Effects::default()
        };
        self.commit(fx)?;
        self.cards.insert(id.to_string(), (d.card, version + 1));
        Ok(())
    }

    /// The scheduler's sweep of cards past their expiry.
    pub fn expire_cards(&mut self) -> Step {
        let due: Vec<String> = self
            .cards
            .iter()
            .filter(|(_, (c, _))| {
                c.expires_at <= self.now
                    && matches!(c.state, GiftCardState::Issued | GiftCardState::Active(_))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.card_decision(&id, &GiftCardCommand::Expire)?;
        }
        Ok(())
    }

    pub fn stored(&mut self, op: &Stored) -> Step {
        match op {
            Stored::Credit {
                amount,
                currency: n,
                livemode,
            } => {
                let c = currency(*n);
                let balance = buyer_balance(*livemode, "buy_1", c).unwrap();
                let mode = if *livemode { "live" } else { "test" };
                let adjustments =
                    AccountId::parse(&format!("{mode}:balance_adjustments:{}", c.code())).unwrap();
                let fx = Effects {
                    accounts: vec![
                        AccountSpec {
                            id: balance.clone(),
                            kind: AccountKind::CustomerBalance,
                            currency: c,
                            bounded: true,
                        },
                        AccountSpec {
                            id: adjustments.clone(),
                            kind: AccountKind::BalanceAdjustments,
                            currency: c,
                            bounded: false,
                        },
                    ],
                    transfers: vec![TransferRequest::Posted {
                        debit: adjustments,
                        credit: balance,
                        amount: money(*amount, c.code()),
                    }],
                    ..Effects::default()
                };
                self.commit(fx)
            }
            Stored::Issue {
                value,
                currency: n,
                livemode,
            } => {
                let id = format!("gc_{:04}", self.cards.len() + 1);
                let bytes: [u8; gift_card::RANDOM_BYTES] = std::array::from_fn(|i| (i * 7) as u8);
                let canonical = gift_card::normalize(&gift_card::code_from_random(&bytes)).unwrap();
                let card = GiftCard {
                    id: id.clone(),
                    batch: "gcb_1".into(),
                    livemode: *livemode,
                    value: money(*value, currency(*n).code()),
                    code_hash: format!("hash_{id}"),
                    hint: gift_card::hint(&canonical),
                    created_at: self.now,
                    expires_at: self.now + 30 * holdback_domain::order::DAY,
                    state: GiftCardState::Issued,
                };
                self.cards.insert(id, (card, 1));
                Ok(())
            }
            Stored::Activate { pick } => {
                let Some(id) = self.card_at(*pick) else {
                    return Ok(());
                };
                let value = self.cards[&id].0.value;
                let command = GiftCardCommand::Activate {
                    retailer: "ret_1".into(),
                    till: "t".into(),
                    amount: value,
                };
                self.card_decision(&id, &command)
            }
            Stored::Redeem { pick } => {
                let Some(id) = self.card_at(*pick) else {
                    return Ok(());
                };
                let command = GiftCardCommand::Redeem {
                    buyer: "buy_1".into(),
                };
                self.card_decision(&id, &command)
            }
            Stored::ExpireCards => self.expire_cards(),
            Stored::Split {
                amounts,
                currency: n,
                livemode,
                percent,
                declined,
                over,
            } => self.split_checkout(amounts, *n, *livemode, *percent, *declined, *over),
            Stored::Promoted {
                amounts,
                currency: n,
                livemode,
                percent,
            } => self.promoted_checkout(amounts, *n, *livemode, *percent),
        }
    }

    /// A card checkout whose orders the platform pays `percent` of (a coupon it funds): the
    /// escrow holds the price, the buyer pays the rest.
    fn promoted_checkout(
        &mut self,
        amounts: &[i64],
        n: usize,
        livemode: bool,
        percent: i64,
    ) -> Step {
        let c = currency(n);
        self.checkouts += 1;
        let k = self.checkouts;
        let plans: Vec<OrderPlan> = amounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut p = plan(&format!("ord_{k}_{i}"), money(*a, c.code()));
                p.promotion = (a * percent / 100).clamp(0, a - 1);
                p
            })
            .collect();
        let paid: i64 = plans.iter().map(|p| p.amount.minor() - p.promotion).sum();
        let id = format!("pay_{k}");
        let p = Payment::processing(
            &id,
            "buy_1",
            livemode,
            money(paid, c.code()),
            plans,
            self.now,
        )
        .map_err(|e| e.to_string())?;
        let mut fx = Effects::default();
        let reactions = fx.payment(
            PaymentDecision {
                payment: p.clone(),
                events: vec![],
                accounts: vec![],
                transfers: vec![],
            },
            0,
        );
        self.follow(&mut fx, reactions)?;
        self.commit(fx)?;
        let token = format!("ch_{k}");
        self.provider.charge(&token, paid);
        let command = PaymentCommand::Capture {
            tender: 0,
            card: card(&token),
        };
        let d = payment::decide(&p, &command, self.now).map_err(|e| e.to_string())?;
        let mut fx = Effects::default();
        let reactions = fx.payment(d, 1);
        self.follow(&mut fx, reactions)?;
        *self.seen.entry("promoted").or_default() += 1;
        self.commit(fx)
    }

    fn split_checkout(
        &mut self,
        amounts: &[i64],
        n: usize,
        livemode: bool,
        percent: i64,
        declined: bool,
        over: bool,
    ) -> Step {
        let c = currency(n);
        let total: i64 = amounts.iter().sum();
        let balance = self.balance(livemode, c);
        let stored = if over {
            balance + 1
        } else {
            balance.min(total * percent / 100)
        };
        if stored == 0 || stored > total {
            return Ok(());
        }
        self.checkouts += 1;
        let k = self.checkouts;
        let plans: Vec<OrderPlan> = amounts
            .iter()
            .enumerate()
            .map(|(i, a)| plan(&format!("ord_{k}_{i}"), money(*a, c.code())))
            .collect();
        let id = format!("pay_{k}");
        let p = Payment::processing(
            &id,
            "buy_1",
            livemode,
            money(total, c.code()),
            plans,
            self.now,
        )
        .and_then(|p| p.with_stored_value(stored))
        .map_err(|e| e.to_string())?;
        let (accounts, transfers) = p.reserve_stored_value().map_err(|e| e.to_string())?;
        let mut fx = Effects::default();
        let mut first = PaymentDecision {
            payment: p.clone(),
            events: vec![],
            accounts,
            transfers,
        };
        let all_stored = stored == total;
        if all_stored {
            // captured in the unit that writes it
            let d = payment::decide(&p, &PaymentCommand::CaptureStoredValue, self.now)
                .map_err(|e| e.to_string())?;
            first.payment = d.payment;
            first.events = d.events;
            first.accounts.extend(d.accounts);
            first.transfers.extend(d.transfers);
        }
        let reactions = fx.payment(first, 0);
        self.follow(&mut fx, reactions)?;
        let before = (self.payments.len(), self.balance(livemode, c));
        match self.commit(fx) {
            Err(e) if over => {
                // more than the balance holds: refused whole, nothing written
                if !e.contains(ErrorCode::BalanceInsufficient.as_str()) {
                    return Err(format!("an overdrawn balance refused as {e}"));
                }
                if (self.payments.len(), self.balance(livemode, c)) != before {
                    return Err("an overdrawn checkout changed something".into());
                }
                *self.seen.entry("balance_insufficient").or_default() += 1;
                return Ok(());
            }
            Err(e) => return Err(e),
            Ok(()) if over => return Err("a checkout beyond the balance was written".into()),
            Ok(()) => {}
        }
        *self.seen.entry("split tender").or_default() += 1;
        if all_stored {
            return Ok(());
        }
        let command = if declined {
            PaymentCommand::Fail {
                code: ErrorCode::CardDeclined,
            }
        } else {
            let token = format!("ch_{k}");
            self.provider.charge(&token, p.provider_amount());
            PaymentCommand::Capture {
                tender: 0,
                card: card(&token),
            }
        };
        let d = payment::decide(&p, &command, self.now).map_err(|e| e.to_string())?;
        let mut fx = Effects::default();
        let reactions = fx.payment(d, 1);
        self.follow(&mut fx, reactions)?;
        self.commit(fx)
    }

    /// The gift-card liability against the active cards, per mode and currency.
    pub fn check_cards(&self) -> Step {
        let mut active: BTreeMap<(bool, Currency), i128> = BTreeMap::new();
        for a in self.book.accounts() {
            if a.spec.kind == AccountKind::GiftCardLiability {
                let live = a.spec.id.as_str().starts_with("live:");
                active.insert((live, a.spec.currency), 0);
            }
        }
        for (c, _) in self.cards.values() {
            *active.entry((c.livemode, c.value.currency())).or_default() += i128::from(c.balance());
        }
        let balance = |id: &AccountId| self.book.account(id).map(|a| a.posted_balance());
        let breaches = invariants::gift_card_liability(&active, &balance);
        if breaches.is_empty() {
            Ok(())
        } else {
            Err(format!("gift cards: {breaches:?}"))
        }
    }
}

/// A run through every stored-value path, checked after each step and settled at the end.
#[test]
fn balance_gift_cards_and_split_tender_keep_the_books() {
    use super::finish::finish;
    use holdback_domain::order::DAY;
    use holdback_domain::tender::Destination;

    let s = |op| Op::Stored(op);
    let split = |amounts: Vec<i64>, percent, declined, over| {
        Op::Stored(Stored::Split {
            amounts,
            currency: 0,
            livemode: false,
            percent,
            declined,
            over,
        })
    };
    let ops = vec![
        s(Stored::Credit {
            amount: 2000,
            currency: 0,
            livemode: false,
        }),
        s(Stored::Issue {
            value: 3000,
            currency: 0,
            livemode: false,
        }),
        s(Stored::Redeem { pick: 0 }), // not sold yet: refused, nothing moves
        s(Stored::Activate { pick: 0 }),
        s(Stored::Redeem { pick: 0 }),
        s(Stored::Redeem { pick: 0 }), // once only
        // 5000 in the balance: 1000 of a 1000 order, then 30 % of 4000 with a card
        split(vec![1000], 100, false, false),
        split(vec![4000], 30, false, false),
        // declined: the 30 % comes back
        split(vec![2000], 30, true, false),
        // one more than the balance holds: refused whole
        split(vec![9000], 100, false, true),
        // a second card sold and left to expire; a third never sold
        s(Stored::Issue {
            value: 700,
            currency: 0,
            livemode: false,
        }),
        s(Stored::Issue {
            value: 900,
            currency: 0,
            livemode: false,
        }),
        s(Stored::Activate { pick: 1 }),
        // the card-and-balance order refunded in full: the card first, then the balance
        Op::Order {
            pick: 1,
            command: 6,
            percent: 100,
        },
        Op::Advance(31 * DAY),
        Op::Scheduler,
    ];
    let mut w = World::new();
    for (n, op) in ops.iter().enumerate() {
        w.apply(op)
            .unwrap_or_else(|e| panic!("step {n} {op:?}: {e}"));
        w.check()
            .unwrap_or_else(|e| panic!("after step {n} {op:?}: {e}"));
    }
    for path in [
        "gift_card.activated",
        "gift_card.redeemed",
        "gift_card.expired",
        "split tender",
        "balance_insufficient",
    ] {
        assert!(w.seen.contains_key(path), "{path} in {:?}", w.seen.keys());
    }
    let usd = Currency::parse("USD").unwrap();
    let breakage = AccountId::parse("test:gift_card_breakage:USD").unwrap();
    assert_eq!(w.book.account(&breakage).unwrap().posted_balance(), 700);
    let mut to_balance: Vec<(usize, i64)> = w
        .refunds
        .values()
        .filter(|(r, _)| r.destination == Destination::Balance)
        .map(|(r, _)| (r.tender, r.amount.minor()))
        .collect();
    to_balance.sort_unstable();
    // the balance-only order, never shipped, cancelled by its ship-by timer; the split one's
    // balance part (its card part went back to the card)
    assert_eq!(to_balance, [(0, 1000), (1, 1200)], "the balance's refunds");
    // 2000 + 3000 − 1000 − 1200, then 1200 and 1000 back
    assert_eq!(w.balance(false, usd), 5000);
    finish(w).unwrap();
}
