//! The sandbox's payouts: money the platform sends back to a buyer who paid by bank transfer or
//! with a wallet (a refund of that transfer, or the wallet's refund), kept in the sandbox file
//! beside the card operations, each with the connector it went through.
//! A payout is deduplicated by its reference: the same reference pays out once and answers the
//! first payout again.

use holdback_domain::Money;
use rusqlite::{OptionalExtension as _, Transaction, params};

use crate::{Sandbox, SandboxError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS payouts (
    seq       INTEGER PRIMARY KEY,
    id        TEXT    NOT NULL UNIQUE,
    reference TEXT    NOT NULL UNIQUE,
    payment   TEXT    NOT NULL,
    via       TEXT    NOT NULL,
    account   TEXT,
    amount    INTEGER NOT NULL CHECK (amount > 0),
    currency  TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
";

/// One payout as the bank keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRecord {
    pub id: String,
    /// The caller's reference (holdback's refund id).
    pub reference: String,
    /// The payment reference of the transfer it gives back.
    pub payment: String,
    /// The connector it went through: `bank`, or the wallet (`alipay`, `paypal`, …).
    pub via: String,
    /// The account it is paid to (none: back to where the transfer came from, as the bank
    /// knows it).
    pub account: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub at: i64,
}

const COLUMNS: &str =
    "SELECT id, reference, payment, via, account, amount, currency, at FROM payouts";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<PayoutRecord> {
    Ok(PayoutRecord {
        id: r.get(0)?,
        reference: r.get(1)?,
        payment: r.get(2)?,
        via: r.get(3)?,
        account: r.get(4)?,
        amount: r.get(5)?,
        currency: r.get(6)?,
        at: r.get(7)?,
    })
}

fn existing(tx: &Transaction<'_>, reference: &str) -> Result<Option<PayoutRecord>, SandboxError> {
    let sql = format!("{COLUMNS} WHERE reference = ?1");
    Ok(tx.query_row(&sql, [reference], record).optional()?)
}

impl Sandbox {
    /// Pays `amount` back for the transfer of `payment`, under `reference`: once per reference
    /// (a retry answers the first payout; the same reference with another amount is refused).
    pub fn payout(
        &self,
        via: &str,
        payment: &str,
        account: Option<&str>,
        amount: Money,
        reference: &str,
        now_ms: i64,
    ) -> Result<PayoutRecord, SandboxError> {
        if amount.minor() <= 0 {
            return Err(SandboxError::InvalidAmount);
        }
        self.write(|tx| {
            tx.execute_batch(SCHEMA)?;
            if let Some(first) = existing(tx, reference)? {
                if first.amount != amount.minor()
                    || first.payment != payment
                    || first.via != via
                    || first.account.as_deref() != account
                {
                    return Err(SandboxError::ReferenceReused);
                }
                return Ok(first);
            }
            let seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM payouts", [], |r| {
                    r.get(0)
                })?;
            let record = PayoutRecord {
                id: format!("po_sandbox_{seq:08}"),
                reference: reference.to_string(),
                payment: payment.to_string(),
                via: via.to_string(),
                account: account.map(str::to_string),
                amount: amount.minor(),
                currency: amount.currency().code().to_string(),
                at: now_ms,
            };
            tx.execute(
                "INSERT INTO payouts (seq, id, reference, payment, via, account, amount, currency, \
                 at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    seq,
                    record.id,
                    record.reference,
                    record.payment,
                    record.via,
                    record.account,
                    record.amount,
                    record.currency,
                    record.at
                ],
            )?;
            Ok(record)
        })
    }

    /// Every payout, oldest first.
    pub fn payouts(&self) -> Result<Vec<PayoutRecord>, SandboxError> {
        self.write(|tx| {
            tx.execute_batch(SCHEMA)?;
            let mut stmt = tx.prepare(&format!("{COLUMNS} ORDER BY seq"))?;
            let rows = stmt.query_map([], record)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use holdback_domain::Currency;

    #[test]
    fn a_payout_happens_once_per_reference() {
        let dir = std::env::temp_dir().join(format!("sandbox_payouts_{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let s = Sandbox::open(&dir).unwrap();
        let usd = |m| Money::from_minor(m, Currency::parse("USD").unwrap()).unwrap();
        let iban = Some("DE02120300000000202051");
        let first = s
            .payout("bank", "pay_1", iban, usd(500), "re_1", 10)
            .unwrap();
        let again = s
            .payout("bank", "pay_1", iban, usd(500), "re_1", 20)
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(first.account.as_deref(), iban);
        assert!(matches!(
            s.payout("bank", "pay_1", iban, usd(600), "re_1", 30),
            Err(SandboxError::ReferenceReused)
        ));
        assert!(matches!(
            s.payout("bank", "pay_1", None, usd(500), "re_1", 30),
            Err(SandboxError::ReferenceReused)
        ));
        s.payout("paypal", "pay_2", None, usd(100), "re_2", 40)
            .unwrap();
        let all = s.payouts().unwrap();
        assert_eq!(
            all.iter().map(|p| p.amount).collect::<Vec<_>>(),
            vec![500, 100]
        );
        let _ = std::fs::remove_file(&dir);
    }
}
