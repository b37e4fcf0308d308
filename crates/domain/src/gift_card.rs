//! Gift cards: codes sold for cash by authorised retailers, redeemed into a buyer's balance.
//!
//! **Codes.** A code is 19 random symbols (95 bits) and one check symbol, from the 32 symbols
//! `0-9 A-Z` without `I`, `L`, `O` and `U` (nothing that reads as another), shown in five groups
//! of four: `7KQ2-M9XD-…`. Reading one back forgives case, spaces and dashes, and takes `O` as
//! zero and `I`/`L` as one. The check symbol is the Luhn algorithm over base 32: any one symbol
//! mistyped, and most neighbours swapped, fail the check before the code is looked up. Holdback
//! keeps only a keyed hash of a code (the shell's); the code itself is shown once, at issue.
//!
//! **The card.** Issued cards are worth nothing yet. A retailer's recorded sale for cash
//! activates one (`Activate`): the retailer now owes the platform the card's value (retailer
//! receivable) and the platform owes it to whoever holds the card (gift-card liability).
//! Redemption moves the whole value into one buyer's balance, once. A card not redeemed by its
//! expiry expires: if it was active, its value leaves the liability as breakage income.

use crate::ErrorCode;
use crate::ids::{AccountId, InvalidId};
use crate::ledger::{AccountKind, AccountSpec, TransferRequest};
use crate::money::Money;
use crate::order::{buyer_balance, mode};

/// The symbols of a code, in the order of their values.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random symbols in a code (5 bits each: 95 bits).
pub const RANDOM_SYMBOLS: usize = 19;
/// The random bytes a code is made from (the first 95 bits are used).
pub const RANDOM_BYTES: usize = 12;
/// Symbols in a code with its check symbol.
pub const SYMBOLS: usize = RANDOM_SYMBOLS + 1;

fn value_of(symbol: u8) -> Option<u8> {
    let s = match symbol.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        s => s,
    };
    ALPHABET.iter().position(|a| *a == s).map(|v| v as u8)
}

/// The Luhn mod 32 check value of `values` (each below 32).
fn check_value(values: &[u8]) -> u8 {
    let mut sum = 0u32;
    // doubled from the rightmost symbol leftwards, every other one
    for (i, v) in values.iter().rev().enumerate() {
        let mut addend = u32::from(*v) * if i % 2 == 0 { 2 } else { 1 };
        addend = addend / 32 + addend % 32;
        sum += addend;
    }
    ((32 - sum % 32) % 32) as u8
}

/// A code from 12 random bytes (of which 95 bits are used), grouped for reading.
pub fn code_from_random(bytes: &[u8; RANDOM_BYTES]) -> String {
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(*b);
    }
    // the top 95 of the 96 bits, five at a time
    let mut values = [0u8; SYMBOLS];
    for (i, v) in values.iter_mut().take(RANDOM_SYMBOLS).enumerate() {
        let shift = 96 - 5 * (i + 1);
        *v = ((bits >> shift) & 31) as u8;
    }
    values[RANDOM_SYMBOLS] = check_value(&values[..RANDOM_SYMBOLS]);
    let mut out = String::with_capacity(SYMBOLS + 4);
    for (i, v) in values.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(*v)]));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "a gift card code is 20 symbols (0-9, A-Z without I, L, O, U), dashes and spaces aside"
    )]
    Malformed,
    #[error("the code's check symbol does not match: a symbol was mistyped")]
    CheckDigit,
}

impl CodeError {
    pub fn code(self) -> ErrorCode {
        match self {
            CodeError::Malformed => ErrorCode::GiftCardCodeMalformed,
            CodeError::CheckDigit => ErrorCode::GiftCardCheckDigit,
        }
    }
}

/// The canonical form of a code as typed (upper case, no separators, look-alikes read as the
/// symbol they resemble), once its check symbol is right. What is hashed and looked up.
pub fn normalize(typed: &str) -> Result<String, CodeError> {
    let mut values = Vec::with_capacity(SYMBOLS);
    for b in typed.bytes() {
        if b == b'-' || b == b' ' {
            continue;
        }
        if values.len() == SYMBOLS {
            return Err(CodeError::Malformed);
        }
        values.push(value_of(b).ok_or(CodeError::Malformed)?);
    }
    if values.len() != SYMBOLS {
        return Err(CodeError::Malformed);
    }
    if check_value(&values[..RANDOM_SYMBOLS]) != values[RANDOM_SYMBOLS] {
        return Err(CodeError::CheckDigit);
    }
    Ok(values
        .iter()
        .map(|v| char::from(ALPHABET[usize::from(*v)]))
        .collect())
}

/// The last four symbols of a canonical code: shown to tell cards apart, never enough to use.
pub fn hint(canonical: &str) -> String {
    canonical[canonical.len().saturating_sub(4)..].to_string()
}

/// A retailer's recorded sale of a card for cash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub retailer: String,
    /// The retailer's own reference of the sale (its till receipt).
    pub till: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiftCardState {
    /// Printed, not sold: worth nothing yet.
    Issued,
    /// Sold for cash: spendable.
    Active(Activation),
    /// Its value is in `buyer`'s balance.
    Redeemed {
        activation: Activation,
        buyer: String,
        at: i64,
    },
    /// Not redeemed in time; `activation` is set when its value went to breakage.
    Expired {
        activation: Option<Activation>,
        at: i64,
    },
}

impl GiftCardState {
    pub fn code(&self) -> &'static str {
        match self {
            GiftCardState::Issued => "inactive",
            GiftCardState::Active(_) => "active",
            GiftCardState::Redeemed { .. } => "redeemed",
            GiftCardState::Expired { .. } => "expired",
        }
    }

    pub fn activation(&self) -> Option<&Activation> {
        match self {
            GiftCardState::Issued => None,
            GiftCardState::Active(a) | GiftCardState::Redeemed { activation: a, .. } => Some(a),
            GiftCardState::Expired { activation, .. } => activation.as_ref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCard {
    pub id: String,
    /// The batch it was issued in.
    pub batch: String,
    pub livemode: bool,
    pub value: Money,
    /// The keyed hash of its canonical code (the shell computes it; the code is never kept).
    pub code_hash: String,
    /// The code's last four symbols.
    pub hint: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: GiftCardState,
}

impl GiftCard {
    /// What the card holds for its bearer now: its value while active, nothing otherwise.
    pub fn balance(&self) -> i64 {
        match self.state {
            GiftCardState::Active(_) => self.value.minor(),
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiftCardCommand {
    /// A retailer sold the card for `amount` in cash (which must be its value).
    Activate {
        retailer: String,
        till: String,
        amount: Money,
    },
    /// The bearer moves the value into `buyer`'s balance.
    Redeem { buyer: String },
    /// The card's time ran out.
    Expire,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GiftCardError {
    #[error("the card has not been sold by a retailer yet")]
    Inactive,
    #[error("the card was already activated")]
    AlreadyActive,
    #[error("the card was already redeemed")]
    Redeemed,
    #[error("the card has expired")]
    Expired,
    #[error("the card is worth {value}; the sale recorded {amount}")]
    AmountMismatch { value: Money, amount: Money },
    #[error("the card's expiry has not come")]
    NotDue,
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
}

impl GiftCardError {
    pub fn code(&self) -> ErrorCode {
        match self {
            GiftCardError::Inactive => ErrorCode::GiftCardInactive,
            GiftCardError::AlreadyActive => ErrorCode::GiftCardAlreadyActive,
            GiftCardError::Redeemed => ErrorCode::GiftCardRedeemed,
            GiftCardError::Expired => ErrorCode::GiftCardExpired,
            GiftCardError::AmountMismatch { .. } => ErrorCode::GiftCardAmountMismatch,
            GiftCardError::NotDue => ErrorCode::TimerNotDue,
            GiftCardError::InvalidId(_) => ErrorCode::InvalidId,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiftCardEvent {
    Activated,
    Redeemed,
    Expired,
}

impl GiftCardEvent {
    pub fn name(self) -> &'static str {
        match self {
            GiftCardEvent::Activated => "gift_card.activated",
            GiftCardEvent::Redeemed => "gift_card.redeemed",
            GiftCardEvent::Expired => "gift_card.expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCardDecision {
    pub card: GiftCard,
    pub event: GiftCardEvent,
    pub accounts: Vec<AccountSpec>,
    pub transfers: Vec<TransferRequest>,
}

/// The ledger accounts of gift cards in one mode and currency.
pub struct GiftCardAccounts {
    /// What the platform owes the bearers of active cards.
    pub liability: AccountId,
    /// Value of cards that expired unspent: income.
    pub breakage: AccountId,
}

impl GiftCardAccounts {
    pub fn of(livemode: bool, currency: crate::Currency) -> Result<GiftCardAccounts, InvalidId> {
        let (m, c) = (mode(livemode), currency.code());
        Ok(GiftCardAccounts {
            liability: AccountId::parse(&format!("{m}:gift_card_liability:{c}"))?,
            breakage: AccountId::parse(&format!("{m}:gift_card_breakage:{c}"))?,
        })
    }
}

/// The cash a retailer owes the platform for the cards it sold.
pub fn retailer_receivable(
    livemode: bool,
    retailer: &str,
    currency: crate::Currency,
) -> Result<AccountId, InvalidId> {
    AccountId::parse(&format!(
        "{}:retailer_receivable:{retailer}:{}",
        mode(livemode),
        currency.code()
    ))
}

fn spec(
    id: &AccountId,
    kind: AccountKind,
    currency: crate::Currency,
    bounded: bool,
) -> AccountSpec {
    AccountSpec {
        id: id.clone(),
        kind,
        currency,
        bounded,
    }
}

/// Decides one command against one card.
pub fn decide(
    card: &GiftCard,
    command: &GiftCardCommand,
    now: i64,
) -> Result<GiftCardDecision, GiftCardError> {
    let currency = card.value.currency();
    let books = GiftCardAccounts::of(card.livemode, currency)?;
    let liability = spec(
        &books.liability,
        AccountKind::GiftCardLiability,
        currency,
        true,
    );
    let mut d = GiftCardDecision {
        card: card.clone(),
        event: GiftCardEvent::Activated,
        accounts: vec![],
        transfers: vec![],
    };
    let expired = now >= card.expires_at;
    match (command, &card.state) {
        (_, GiftCardState::Expired { .. }) => return Err(GiftCardError::Expired),
        (_, GiftCardState::Redeemed { .. }) => return Err(GiftCardError::Redeemed),
        (GiftCardCommand::Expire, _) if !expired => return Err(GiftCardError::NotDue),
        (GiftCardCommand::Expire, state) => {
            let activation = state.activation().cloned();
            if activation.is_some() {
                d.accounts.push(liability);
                d.accounts.push(spec(
                    &books.breakage,
                    AccountKind::GiftCardBreakage,
                    currency,
                    false,
                ));
                d.transfers.push(TransferRequest::Posted {
                    debit: books.liability,
                    credit: books.breakage,
                    amount: card.value,
                });
            }
            d.card.state = GiftCardState::Expired {
                activation,
                at: now,
            };
            d.event = GiftCardEvent::Expired;
        }
        (_, _) if expired => return Err(GiftCardError::Expired),
        (GiftCardCommand::Activate { .. }, GiftCardState::Active(_)) => {
            return Err(GiftCardError::AlreadyActive);
        }
        (
            GiftCardCommand::Activate {
                retailer,
                till,
                amount,
            },
            GiftCardState::Issued,
        ) => {
            if *amount != card.value {
                return Err(GiftCardError::AmountMismatch {
                    value: card.value,
                    amount: *amount,
                });
            }
            let receivable = retailer_receivable(card.livemode, retailer, currency)?;
            d.accounts.push(spec(
                &receivable,
                AccountKind::RetailerReceivable,
                currency,
                false,
            ));
            d.accounts.push(liability);
            d.transfers.push(TransferRequest::Posted {
                debit: receivable,
                credit: books.liability,
                amount: card.value,
            });
            d.card.state = GiftCardState::Active(Activation {
                retailer: retailer.clone(),
                till: till.clone(),
                at: now,
            });
        }
        (GiftCardCommand::Redeem { .. }, GiftCardState::Issued) => {
            return Err(GiftCardError::Inactive);
        }
        (GiftCardCommand::Redeem { buyer }, GiftCardState::Active(activation)) => {
            let balance = buyer_balance(card.livemode, buyer, currency)?;
            d.accounts.push(liability);
            d.accounts
                .push(spec(&balance, AccountKind::CustomerBalance, currency, true));
            d.transfers.push(TransferRequest::Posted {
                debit: books.liability,
                credit: balance,
                amount: card.value,
            });
            d.card.state = GiftCardState::Redeemed {
                activation: activation.clone(),
                buyer: buyer.clone(),
                at: now,
            };
            d.event = GiftCardEvent::Redeemed;
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_code_reads_back_whatever_its_case_and_separators() {
        let code = code_from_random(&[0xA5; RANDOM_BYTES]);
        assert_eq!(code.len(), SYMBOLS + 4);
        assert_eq!(code.matches('-').count(), 4);
        let canonical = normalize(&code).unwrap();
        assert_eq!(canonical, code.replace('-', ""));
        assert_eq!(
            normalize(&code.to_lowercase().replace('-', " ")).unwrap(),
            canonical
        );
        assert_eq!(hint(&canonical), canonical[16..]);
    }

    #[test]
    fn every_single_mistyped_symbol_fails_the_check() {
        let canonical =
            normalize(&code_from_random(&[7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])).unwrap();
        for i in 0..SYMBOLS {
            for s in ALPHABET {
                let mut typed = canonical.clone().into_bytes();
                if typed[i] == *s {
                    continue;
                }
                typed[i] = *s;
                let typed = String::from_utf8(typed).unwrap();
                assert_eq!(normalize(&typed), Err(CodeError::CheckDigit), "{typed}");
            }
        }
    }

    #[test]
    fn look_alikes_read_as_the_symbol_they_resemble() {
        let canonical = normalize(&code_from_random(&[0; RANDOM_BYTES])).unwrap();
        assert!(canonical.starts_with("0000"));
        let typed = format!("OoO0{}", &canonical[4..]);
        assert_eq!(normalize(&typed).unwrap(), canonical);
        assert_eq!(normalize("ABC"), Err(CodeError::Malformed));
        assert_eq!(
            normalize(&format!("{canonical}0")),
            Err(CodeError::Malformed)
        );
        assert_eq!(
            normalize(&format!("U{}", &canonical[1..])),
            Err(CodeError::Malformed)
        );
    }
}
