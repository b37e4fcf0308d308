//! Identifiers chosen by callers: accounts, transactions and holds.
//!
//! An id is 1 to 64 characters of `A-Z a-z 0-9 _ - . :`. That keeps ids safe to print, to put in a
//! URL path and to embed in SQL parameters and JSON without escaping.

use std::fmt;

pub const MAX_ID_LEN: usize = 64;

/// An id that failed validation: what kind of id it was meant to be, and the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} id {value:?}: expected 1 to 64 characters of A-Z, a-z, 0-9, _ - . :")]
pub struct InvalidId {
    pub what: &'static str,
    pub value: String,
}

fn valid(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<$name, InvalidId> {
                if valid(text) {
                    Ok($name(text.to_string()))
                } else {
                    Err(InvalidId { what: $what, value: text.to_string() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A ledger account, e.g. `escrow:ord_123` or `seller_payable:sel_9`.
    AccountId,
    "account"
);
id_type!(
    /// A ledger transaction; also its idempotency id, unique forever.
    TxId,
    "transaction"
);
id_type!(
    /// A two-phase hold (pending transfer), resolved exactly once by post or void.
    HoldId,
    "hold"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_alphabet_only() {
        assert!(AccountId::parse("escrow:ord_01.A-b").is_ok());
        assert!(AccountId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", " a", "a b", "a/b", "ä", "a'b", "a\"", &"a".repeat(65)] {
            let err = TxId::parse(bad).unwrap_err();
            assert_eq!(err.what, "transaction");
        }
    }
}
