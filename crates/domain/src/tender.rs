//! Tenders: the parts of a payment, each paid one way, and the one policy by which a refund is
//! shared among them and routed.
//!
//! **Sharing a refund** ([`split_refund`]): by default stored value goes back last. The part a
//! provider took (card, bank transfer, wallet) is refunded first, up to what that tender has
//! left; only then the part paid from the buyer's balance. `StoredValueFirst` turns the order
//! round. No tender ever gives back more than it paid.
//!
//! **Routing** ([`RefundRouting`]): each part goes back the way it came, except that a
//! stored-value part always goes back to the balance, and policy may send a provider part to
//! the balance too: for the methods it names, or when the card that paid has expired. Each
//! part's [`Destination`] is recorded on its refund.

use crate::calendar::year_month;
use crate::card::StoredCard;
use crate::money::Money;

/// How a tender was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Card,
    /// The buyer sends the money from their bank; the bank's notification confirms it.
    BankTransfer,
    /// Wallets: the buyer is redirected to the wallet, approves there, and comes back; the
    /// wallet's signed callback confirms the payment.
    Alipay,
    Paypal,
    WechatPay,
    Webmoney,
    /// The buyer's balance on the platform (stored value: what gift cards, refunds and the
    /// platform's adjustments put there). No provider: it moves in the ledger alone.
    Balance,
    /// Cash the carrier collects at the door and remits later. Nothing is paid back "to
    /// cash": a refund of what was collected goes to the balance; of what was not, nowhere.
    CashOnDelivery,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Card,
        Method::BankTransfer,
        Method::Alipay,
        Method::Paypal,
        Method::WechatPay,
        Method::Webmoney,
        Method::Balance,
        Method::CashOnDelivery,
    ];
    pub const WALLETS: [Method; 4] = [
        Method::Alipay,
        Method::Paypal,
        Method::WechatPay,
        Method::Webmoney,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Method::Card => "card",
            Method::BankTransfer => "bank_transfer",
            Method::Alipay => "alipay",
            Method::Paypal => "paypal",
            Method::WechatPay => "wechat_pay",
            Method::Webmoney => "webmoney",
            Method::Balance => "balance",
            Method::CashOnDelivery => "cash_on_delivery",
        }
    }

    /// Whether money paid this way sits on the platform (no provider took it).
    pub fn is_stored_value(self) -> bool {
        self == Method::Balance
    }

    pub fn is_wallet(self) -> bool {
        Method::WALLETS.contains(&self)
    }

    /// The currencies a wallet settles (ISO codes), as the provider has them: Alipay and WeChat
    /// Pay settle yuan; PayPal and WebMoney their own lists. Card and bank transfer: any.
    pub fn settles(self) -> Option<&'static [&'static str]> {
        match self {
            Method::Card | Method::BankTransfer | Method::Balance | Method::CashOnDelivery => None,
            Method::Alipay | Method::WechatPay => Some(&["CNY"]),
            Method::Paypal => Some(&["USD", "EUR", "GBP", "JPY", "CAD", "AUD"]),
            Method::Webmoney => Some(&["USD", "EUR", "RUB"]),
        }
    }

    pub fn parse(code: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.code() == code)
    }
}

/// One part of a payment, paid by one method at one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tender {
    pub method: Method,
    pub amount: Money,
    /// Given back to the buyer (or owed to them by a refund in flight) so far, minor units.
    pub refunded: i64,
    /// The reference the provider deduplicates this tender's charge by.
    pub reference: String,
    /// What the provider answered: the card's brand, last four, expiry and the charge's token.
    pub card: Option<StoredCard>,
    /// For a method that confirms later: what the buyer sent so far, minor units (it may be
    /// less than `amount`, or more; what is not applied to the payment is refunded). For cash
    /// on delivery: the cash the carrier collected, the fee included (0 until then).
    pub received: i64,
    /// For a bank transfer: the account the buyer paid from, as the bank reported it; what is
    /// paid back goes there.
    pub payer_account: Option<String>,
}

impl Tender {
    pub fn remaining(&self) -> i64 {
        self.amount.minor() - self.refunded
    }
}

/// Which tenders a refund comes out of first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RefundOrder {
    /// Provider-paid tenders first, stored value last (the default).
    #[default]
    StoredValueLast,
    /// Stored value first, then the provider-paid tenders.
    StoredValueFirst,
}

/// Where the parts of refunds go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundRouting {
    pub order: RefundOrder,
    /// Provider methods whose refunds go to the buyer's balance instead.
    pub to_balance: Vec<Method>,
    /// A card whose expiry month has passed is refunded to the balance.
    pub expired_cards_to_balance: bool,
}

/// Where one part of a refund went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Back through the provider that took it.
    OriginalMethod,
    /// Into the buyer's balance.
    Balance,
    /// Nowhere: the cash was never collected (a cash-on-delivery parcel that came back), so
    /// the hold goes back to the cash the platform expected.
    Uncollected,
}

impl Destination {
    pub fn code(self) -> &'static str {
        match self {
            Destination::OriginalMethod => "original_method",
            Destination::Balance => "balance",
            Destination::Uncollected => "uncollected",
        }
    }

    pub fn parse(code: &str) -> Option<Destination> {
        [
            Destination::OriginalMethod,
            Destination::Balance,
            Destination::Uncollected,
        ]
        .into_iter()
        .find(|d| d.code() == code)
    }
}

/// One tender's part of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub tender: usize,
    pub amount: i64,
    pub destination: Destination,
}

/// Shares `amount` among `tenders` by `routing` at `now`: which tender gives back how much, and
/// where it goes. `None` when the tenders have less than `amount` left.
pub fn split_refund(
    tenders: &[Tender],
    amount: i64,
    routing: &RefundRouting,
    now: i64,
) -> Option<Vec<Part>> {
    let left: i64 = tenders.iter().map(Tender::remaining).sum();
    if amount < 0 || amount > left {
        return None;
    }
    let mut indexes: Vec<usize> = (0..tenders.len()).collect();
    let stored_first = routing.order == RefundOrder::StoredValueFirst;
    // a stable sort: within each group, the tenders keep their order
    indexes.sort_by_key(|i| tenders[*i].method.is_stored_value() != stored_first);
    let (year, month) = year_month(now);
    let mut out = Vec::new();
    let mut due = amount;
    for i in indexes {
        let t = &tenders[i];
        let take = due.min(t.remaining());
        if take <= 0 {
            continue;
        }
        due -= take;
        let expired = t
            .card
            .as_ref()
            .is_some_and(|c| (c.exp_year, c.exp_month) < (year, month));
        let destination = if t.method == Method::CashOnDelivery {
            if t.received == 0 {
                Destination::Uncollected
            } else {
                Destination::Balance
            }
        } else if t.method.is_stored_value()
            || routing.to_balance.contains(&t.method)
            || (routing.expired_cards_to_balance && expired)
        {
            Destination::Balance
        } else {
            Destination::OriginalMethod
        };
        out.push(Part {
            tender: i,
            amount: take,
            destination,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Currency;
    use crate::card::Brand;

    const NOW: i64 = 1_795_219_200_000; // 2026-11-21

    fn tender(method: Method, amount: i64, refunded: i64, card_exp: Option<(u16, u8)>) -> Tender {
        let usd = Currency::parse("USD").unwrap();
        Tender {
            method,
            amount: Money::from_minor(amount, usd).unwrap(),
            refunded,
            reference: "pay_1".into(),
            card: card_exp.map(|(exp_year, exp_month)| StoredCard {
                brand: Brand::Visa,
                last4: "4242".into(),
                exp_month,
                exp_year,
                token: "ch_1".into(),
            }),
            received: 0,
            payer_account: None,
        }
    }

    /// (tenders as (method, amount, refunded, card expiry), refund, routing) → parts as
    /// (tender, amount, destination), or None.
    #[test]
    fn refunds_share_out_by_the_one_policy() {
        use Destination::{Balance as B, OriginalMethod as O};
        let card = |amount, refunded| (Method::Card, amount, refunded, Some((2030, 12)));
        let old_card = |amount, refunded| (Method::Card, amount, refunded, Some((2026, 10)));
        let bal = |amount, refunded| (Method::Balance, amount, refunded, None);
        let bank = |amount, refunded| (Method::BankTransfer, amount, refunded, None);
        let default = RefundRouting::default();
        let first = RefundRouting {
            order: RefundOrder::StoredValueFirst,
            ..RefundRouting::default()
        };
        let expired = RefundRouting {
            expired_cards_to_balance: true,
            ..RefundRouting::default()
        };
        let banks = RefundRouting {
            to_balance: vec![Method::BankTransfer],
            ..RefundRouting::default()
        };
        type Row = (
            Vec<(Method, i64, i64, Option<(u16, u8)>)>,
            i64,
            RefundRouting,
            Option<Vec<(usize, i64, Destination)>>,
        );
        let table: Vec<Row> = vec![
            // the card part first, up to what the card paid; the balance last
            (
                vec![card(7000, 0), bal(3000, 0)],
                10_000,
                default.clone(),
                Some(vec![(0, 7000, O), (1, 3000, B)]),
            ),
            (
                vec![card(7000, 0), bal(3000, 0)],
                5000,
                default.clone(),
                Some(vec![(0, 5000, O)]),
            ),
            (
                vec![card(7000, 5000), bal(3000, 0)],
                4000,
                default.clone(),
                Some(vec![(0, 2000, O), (1, 2000, B)]),
            ),
            // stored value first when policy says
            (
                vec![card(7000, 0), bal(3000, 0)],
                5000,
                first.clone(),
                Some(vec![(1, 3000, B), (0, 2000, O)]),
            ),
            // never more than the tenders have left
            (
                vec![card(7000, 0), bal(3000, 0)],
                10_001,
                default.clone(),
                None,
            ),
            (
                vec![card(7000, 7000), bal(3000, 2999)],
                2,
                default.clone(),
                None,
            ),
            (vec![card(7000, 0)], -1, default.clone(), None),
            // a refund of nothing has no parts
            (vec![card(7000, 0)], 0, default.clone(), Some(vec![])),
            // an expired card: back to the card by default, to the balance by policy
            (
                vec![old_card(7000, 0), bal(3000, 0)],
                8000,
                default.clone(),
                Some(vec![(0, 7000, O), (1, 1000, B)]),
            ),
            (
                vec![old_card(7000, 0), bal(3000, 0)],
                8000,
                expired.clone(),
                Some(vec![(0, 7000, B), (1, 1000, B)]),
            ),
            (vec![card(7000, 0)], 100, expired, Some(vec![(0, 100, O)])),
            // a method routed to the balance
            (
                vec![bank(5000, 0), bal(500, 0)],
                5200,
                banks,
                Some(vec![(0, 5000, B), (1, 200, B)]),
            ),
            // all balance
            (vec![bal(3000, 0)], 3000, default, Some(vec![(0, 3000, B)])),
        ];
        for (i, (tenders, amount, routing, want)) in table.into_iter().enumerate() {
            let tenders: Vec<Tender> = tenders
                .into_iter()
                .map(|(m, a, r, exp)| tender(m, a, r, exp))
                .collect();
            let got = split_refund(&tenders, amount, &routing, NOW).map(|parts| {
                parts
                    .iter()
                    .map(|p| (p.tender, p.amount, p.destination))
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, want, "row {i}");
        }
    }
}
