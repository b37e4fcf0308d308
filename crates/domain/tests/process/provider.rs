//! The simulated card provider of the process test.

use std::collections::HashMap;

use holdback_domain::refund::Refund;

/// The provider's books: charges by token, and what each refund reference did.
#[derive(Default)]
pub struct Provider {
    pub charges: HashMap<String, i64>,
    /// reference → (charge, amount, times the money actually moved)
    pub refunds: HashMap<String, (String, i64, u32)>,
    pub calls: u32,
}

impl Provider {
    pub fn charge(&mut self, token: &str, amount: i64) {
        assert!(self.charges.insert(token.to_string(), amount).is_none());
    }

    /// Money a buyer sent for `reference` (a bank transfer, a wallet payment): the bank pays
    /// refunds of it back, up to what came.
    pub fn receive(&mut self, reference: &str, amount: i64) {
        *self.charges.entry(reference.to_string()).or_default() += amount;
    }

    pub fn refunded(&self, charge: &str) -> i64 {
        self.refunds
            .values()
            .filter(|(c, _, n)| c == charge && *n > 0)
            .map(|(_, a, _)| a)
            .sum()
    }

    /// A call for `r`: whether the refund has happened at the provider afterwards.
    pub fn call(&mut self, r: &Refund, execute: bool) -> Result<bool, String> {
        self.calls += 1;
        let charge = self
            .charges
            .get(&r.charge)
            .copied()
            .ok_or_else(|| format!("refund {} names an unknown charge {:?}", r.id, r.charge))?;
        let done = self.refunds.get(&r.id).is_some_and(|(_, _, n)| *n > 0);
        if let Some((c, a, _)) = self.refunds.get(&r.id)
            && (c != &r.charge || *a != r.amount.minor())
        {
            return Err(format!("reference {} reused with other content", r.id));
        }
        if done || !execute {
            return Ok(done);
        }
        if self.refunded(&r.charge) + r.amount.minor() > charge {
            // a real provider refuses; the domain must never ask
            return Err(format!("refund {} exceeds charge {}", r.id, r.charge));
        }
        let entry =
            self.refunds
                .entry(r.id.clone())
                .or_insert((r.charge.clone(), r.amount.minor(), 0));
        entry.2 += 1;
        Ok(true)
    }
}
