//! Cash on delivery: the buyer pays the carrier at the door, the carrier pays the platform later,
//! and the seller is paid only after that.
//!
//! **Eligibility** ([`eligibility`]) is a pure function of the request, the buyer's history and
//! the policy in force on the day: every rule answers with its result, a reason code and the
//! values it compared, so that a "no" is never bare.
//!
//! **Money.** When the buyer confirms a cash-on-delivery order, its hold is funded from the
//! *cash expected* account (money the platform expects a carrier to collect); the order then
//! runs like any other. When the carrier reports the cash collected, the expectation becomes a
//! receivable from that carrier (one account per carrier, mode and currency), the fee included.
//! A refused or undeliverable parcel gives the hold back to *cash expected* (nothing was ever
//! paid), and its return cost is charged by policy. The carrier's remittance later clears the
//! receivable: the cash it paid, and its deductions as expenses. A hold is released to the
//! seller only once the remittance for its parcel was matched.

mod cash;
mod eligibility;
mod parcel;
mod policy;

pub(crate) use cash::{collect, confirm};

pub use eligibility::{CodRequest, Compared, Rule, RuleResult, Verdict, eligibility};
pub use parcel::{
    CarrierEvent, Parcel, ParcelDecision, ParcelError, ParcelEvent, ParcelState, Remitted, report,
};
pub use policy::{Band, CodCarrier, CodPolicy, CountryRules, RtoPayer};

use crate::ids::{AccountId, InvalidId};
use crate::ledger::{AccountKind, AccountSpec};
use crate::money::Currency;
use crate::order::mode;

/// The ledger accounts of cash on delivery in one mode and currency.
pub struct CodAccounts {
    /// Cash the platform expects carriers to collect for confirmed orders.
    pub expected: AccountId,
    /// The fees buyers pay for cash on delivery.
    pub fee_revenue: AccountId,
    /// Return costs recovered from buyers or sellers.
    pub rto_recovered: AccountId,
    /// What the carriers' remittances paid in.
    pub cash: AccountId,
    /// Withholding tax the carriers deducted, claimable from the tax office.
    pub tax_withheld: AccountId,
}

impl CodAccounts {
    pub fn of(livemode: bool, currency: Currency) -> Result<CodAccounts, InvalidId> {
        let (m, c) = (mode(livemode), currency.code());
        Ok(CodAccounts {
            expected: AccountId::parse(&format!("{m}:cod_expected:{c}"))?,
            fee_revenue: AccountId::parse(&format!("{m}:cod_fees:{c}"))?,
            rto_recovered: AccountId::parse(&format!("{m}:rto_recovered:{c}"))?,
            cash: AccountId::parse(&format!("{m}:cod_cash:{c}"))?,
            tax_withheld: AccountId::parse(&format!("{m}:tax_withheld:{c}"))?,
        })
    }

    /// What carrier `carrier` owes for cash it collected and has not yet remitted.
    pub fn receivable(
        livemode: bool,
        carrier: &str,
        currency: Currency,
    ) -> Result<AccountId, InvalidId> {
        AccountId::parse(&format!(
            "{}:carrier_receivable:{carrier}:{}",
            mode(livemode),
            currency.code()
        ))
    }

    /// A carrier's deduction of kind `kind` (freight, cod_fee, …), booked as an expense.
    pub fn expense(livemode: bool, kind: &str, currency: Currency) -> Result<AccountId, InvalidId> {
        AccountId::parse(&format!(
            "{}:cod_expense:{kind}:{}",
            mode(livemode),
            currency.code()
        ))
    }

    /// What a buyer owes the platform (a return cost charged to the buyer): a recorded debt,
    /// kept apart from the buyer's balance, which never goes below zero.
    pub fn buyer_debt(
        livemode: bool,
        buyer: &str,
        currency: Currency,
    ) -> Result<AccountId, InvalidId> {
        AccountId::parse(&format!(
            "{}:buyer_debt:{buyer}:{}",
            mode(livemode),
            currency.code()
        ))
    }

    /// The specs of the shared accounts (all unbounded: they are the platform's side).
    pub fn specs(&self, currency: Currency) -> Vec<AccountSpec> {
        [
            (&self.expected, AccountKind::CodExpected),
            (&self.fee_revenue, AccountKind::CodFeeRevenue),
            (&self.rto_recovered, AccountKind::RtoRecovered),
            (&self.cash, AccountKind::CodCash),
            (&self.tax_withheld, AccountKind::TaxWithheld),
        ]
        .into_iter()
        .map(|(id, kind)| spec(id, kind, currency))
        .collect()
    }
}

/// Each carrier's receivable against what it owes: the cash of the parcels it collected less
/// what it remitted (`owed`, by receivable account id; an account with nothing owed must be 0).
pub fn receivable_breaches(
    owed: &std::collections::BTreeMap<AccountId, i128>,
    balance: &dyn Fn(&AccountId) -> Option<i128>,
) -> Vec<crate::invariants::BusinessBreach> {
    owed.iter()
        .filter_map(|(account, owed)| {
            let balance = balance(account).unwrap_or(0);
            (balance != *owed).then(|| {
                crate::invariants::BusinessBreach::CarrierReceivableMismatch {
                    account: account.to_string(),
                    balance,
                    owed: *owed,
                }
            })
        })
        .collect()
}

/// An unbounded account of `kind`.
pub fn spec(id: &AccountId, kind: AccountKind, currency: Currency) -> AccountSpec {
    AccountSpec {
        id: id.clone(),
        kind,
        currency,
        bounded: false,
    }
}
