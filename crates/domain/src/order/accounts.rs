//! The ledger accounts an order's money moves through, per mode.

use crate::ids::{AccountId, InvalidId};
use crate::ledger::{AccountKind, AccountSpec, TransferRequest};
use crate::money::{Currency, Money, MoneyError};

use super::Order;

/// The mode's part of a shared account's id: test and live money never meet in one account.
pub fn mode(livemode: bool) -> &'static str {
    if livemode { "live" } else { "test" }
}

/// The ledger accounts an order's money moves through. The order's escrow is its own; the
/// others are shared per mode and currency (and per seller).
pub struct EscrowAccounts {
    pub card_clearing: AccountId,
    pub escrow: AccountId,
    pub seller_payable: AccountId,
    pub commission: AccountId,
    pub refunds_payable: AccountId,
    /// What the platform spends on promotions (platform-funded coupons).
    pub promotions: AccountId,
}

impl EscrowAccounts {
    pub fn of(order: &Order) -> Result<EscrowAccounts, InvalidId> {
        let currency = order.captured.currency();
        let shared = SharedAccounts::of(order.livemode, currency)?;
        Ok(EscrowAccounts {
            card_clearing: shared.card_clearing,
            escrow: AccountId::parse(&format!("escrow:{}", order.id))?,
            seller_payable: AccountId::parse(&format!(
                "{}:seller_payable:{}:{}",
                mode(order.livemode),
                order.seller,
                currency.code()
            ))?,
            commission: shared.commission,
            refunds_payable: shared.refunds_payable,
            promotions: AccountId::parse(&format!(
                "{}:platform_promotions:{}",
                mode(order.livemode),
                currency.code()
            ))?,
        })
    }

    /// The movements that fill an order's escrow when it is paid: what the buyer paid from
    /// clearing, and what the platform pays (a platform-funded coupon) from promotions.
    pub fn fund(&self, order: &Order) -> Result<Vec<TransferRequest>, MoneyError> {
        let currency = order.captured.currency();
        let mut out = Vec::new();
        for (debit, amount) in [
            (
                &self.card_clearing,
                order.captured.minor() - order.promotion,
            ),
            (&self.promotions, order.promotion),
        ] {
            if amount > 0 {
                out.push(TransferRequest::Posted {
                    debit: debit.clone(),
                    credit: self.escrow.clone(),
                    amount: Money::from_minor(amount, currency)?,
                });
            }
        }
        Ok(out)
    }

    /// The specs to open (idempotently) before money moves.
    pub fn specs(&self, currency: Currency) -> Vec<AccountSpec> {
        let spec = |id: &AccountId, kind, bounded| AccountSpec {
            id: id.clone(),
            kind,
            currency,
            bounded,
        };
        vec![
            spec(
                &self.card_clearing,
                AccountKind::BuyerPaymentClearing,
                false,
            ),
            spec(&self.escrow, AccountKind::Escrow, true),
            spec(&self.seller_payable, AccountKind::SellerPayable, true),
            spec(&self.commission, AccountKind::CommissionRevenue, false),
            spec(&self.refunds_payable, AccountKind::RefundsPayable, true),
        ]
    }

    /// The specs to open for `order`: [`Self::specs`], and the promotions account when the
    /// platform pays part of it.
    pub fn specs_for(&self, order: &Order) -> Vec<AccountSpec> {
        let currency = order.captured.currency();
        let mut specs = self.specs(currency);
        if order.promotion > 0 {
            specs.push(AccountSpec {
                id: self.promotions.clone(),
                kind: AccountKind::PlatformPromotions,
                currency,
                bounded: false,
            });
        }
        specs
    }
}

/// The accounts of one mode and currency that every order shares.
pub struct SharedAccounts {
    pub card_clearing: AccountId,
    pub commission: AccountId,
    pub refunds_payable: AccountId,
    /// Money the buyers sent (a bank transfer) not yet applied to a payment: booked as it
    /// arrives, moved on when the payment has all of it, or refunded.
    pub unapplied: AccountId,
}

impl SharedAccounts {
    pub fn of(livemode: bool, currency: Currency) -> Result<SharedAccounts, InvalidId> {
        let (m, c) = (mode(livemode), currency.code());
        Ok(SharedAccounts {
            card_clearing: AccountId::parse(&format!("{m}:card_clearing:{c}"))?,
            commission: AccountId::parse(&format!("{m}:commission:{c}"))?,
            refunds_payable: AccountId::parse(&format!("{m}:refunds_payable:{c}"))?,
            unapplied: AccountId::parse(&format!("{m}:payments_unapplied:{c}"))?,
        })
    }
}

/// A buyer's balance (stored value) in a mode and currency: a liability of the platform that
/// never goes below zero.
pub fn buyer_balance(
    livemode: bool,
    buyer: &str,
    currency: Currency,
) -> Result<AccountId, InvalidId> {
    AccountId::parse(&format!(
        "{}:customer_balance:{buyer}:{}",
        mode(livemode),
        currency.code()
    ))
}

/// What a seller owes the platform and what a buyer holds as balance, per mode and currency:
/// where a charge beyond an order's hold goes (see `Settlement::Counterfeit`). The debt account
/// is unbounded on purpose: the seller's payable never goes below zero, and what it cannot cover
/// is recorded here as owed.
pub struct SellerAccounts {
    pub debt: AccountId,
    pub buyer_balance: AccountId,
}

impl SellerAccounts {
    pub fn of(order: &Order) -> Result<SellerAccounts, InvalidId> {
        let (m, c) = (mode(order.livemode), order.captured.currency().code());
        Ok(SellerAccounts {
            debt: AccountId::parse(&format!("{m}:seller_debt:{}:{c}", order.seller))?,
            buyer_balance: buyer_balance(order.livemode, &order.buyer, order.captured.currency())?,
        })
    }

    pub fn specs(&self, currency: Currency) -> Vec<AccountSpec> {
        vec![
            AccountSpec {
                id: self.debt.clone(),
                kind: AccountKind::SellerDebt,
                currency,
                bounded: false,
            },
            AccountSpec {
                id: self.buyer_balance.clone(),
                kind: AccountKind::CustomerBalance,
                currency,
                bounded: true,
            },
        ]
    }
}
