//! Money: a non-negative integer amount in a currency's minor unit, with the currency beside it.
//!
//! Decimal strings ("12.34") are parsed only at the edge, and excess precision is rejected, never
//! rounded away. Arithmetic is checked and every failure has a name.

use std::fmt;

use crate::ErrorCode;

/// The largest amount holdback accepts in one `Money` value, in minor units: 10^15. For USD that is
/// ten trillion dollars; for KWD (exponent 3) one trillion dinars. Sums of many amounts (account
/// balances) are kept in `i64` and checked separately.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// Why a money operation was refused. Each variant has a stable snake_case code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "unknown currency code {0:?}: expected an ISO 4217 code with a minor unit, such as USD"
    )]
    UnknownCurrency(String),
    #[error(
        "malformed amount {0:?}: expected digits with an optional decimal point, such as 12.34"
    )]
    MalformedAmount(String),
    #[error("amount {amount:?} has more decimal places than {currency} allows ({exponent})")]
    ExcessPrecision {
        amount: String,
        currency: Currency,
        exponent: u32,
    },
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount overflow: the result exceeds {MAX_AMOUNT} minor units")]
    Overflow,
    #[error("negative result: money cannot go below zero")]
    NegativeResult,
}

impl MoneyError {
    pub fn code(&self) -> ErrorCode {
        match self {
            MoneyError::UnknownCurrency(_) => ErrorCode::UnknownCurrency,
            MoneyError::MalformedAmount(_) => ErrorCode::MalformedAmount,
            MoneyError::ExcessPrecision { .. } => ErrorCode::ExcessPrecision,
            MoneyError::CurrencyMismatch { .. } => ErrorCode::CurrencyMismatch,
            MoneyError::Overflow => ErrorCode::AmountOverflow,
            MoneyError::NegativeResult => ErrorCode::NegativeResult,
        }
    }
}

/// An ISO 4217 currency that has a minor unit (funds and metals without one are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Parses a three-letter code, case-insensitively ("usd" and "USD" are the same currency).
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        match iso_currency::Currency::from_code(&upper) {
            Some(c) if c.exponent().is_some() && upper.len() == 3 => Ok(Currency(c)),
            _ => Err(MoneyError::UnknownCurrency(code.to_string())),
        }
    }

    /// A currency of the ISO table known to have a minor unit (for defaults written in code).
    pub(crate) const fn iso(currency: iso_currency::Currency) -> Currency {
        Currency(currency)
    }

    /// The upper-case ISO code, e.g. `USD`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// The number of decimal places of the minor unit: JPY 0, USD 2, KWD 3.
    pub fn exponent(self) -> u32 {
        self.0.exponent().map_or(0, u32::from)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A non-negative amount of money: `minor` units of `currency`, at most [`MAX_AMOUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Builds money from minor units, refusing negatives and amounts above [`MAX_AMOUNT`].
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::NegativeResult);
        }
        if minor > MAX_AMOUNT {
            return Err(MoneyError::Overflow);
        }
        Ok(Money { minor, currency })
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses a decimal string in major units ("12.34" USD is 1234 minor units). Accepts digits
    /// with at most one decimal point; refuses signs, exponents, separators, blanks, and more
    /// decimal places than the currency has.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let malformed = || MoneyError::MalformedAmount(text.to_string());
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(frac) {
            return Err(malformed());
        }
        if text.contains('.') && frac.is_empty() {
            return Err(malformed());
        }
        let exponent = currency.exponent();
        let significant = frac.trim_end_matches('0');
        if significant.len() > exponent as usize {
            return Err(MoneyError::ExcessPrecision {
                amount: text.to_string(),
                currency,
                exponent,
            });
        }
        let scale = 10i64.pow(exponent);
        let whole_value: i64 = whole.trim_start_matches('0').parse::<i64>().or_else(|_| {
            if whole.trim_start_matches('0').is_empty() {
                Ok(0)
            } else {
                Err(MoneyError::Overflow)
            }
        })?;
        let mut frac_value: i64 = 0;
        for i in 0..exponent as usize {
            let digit = significant
                .as_bytes()
                .get(i)
                .map_or(0, |b| i64::from(b - b'0'));
            frac_value = frac_value * 10 + digit;
        }
        let minor = whole_value
            .checked_mul(scale)
            .and_then(|v| v.checked_add(frac_value))
            .ok_or(MoneyError::Overflow)?;
        Money::from_minor(minor, currency)
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Money::from_minor(sum, self.currency)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Money::from_minor(self.minor - other.minor, self.currency)
    }
}

impl fmt::Display for Money {
    /// Renders the amount in major units with exactly the currency's decimal places: `12.30 USD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        if exponent == 0 {
            return write!(f, "{} {}", self.minor, self.currency);
        }
        let scale = 10i64.pow(exponent);
        write!(
            f,
            "{}.{:0width$} {}",
            self.minor / scale,
            self.minor % scale,
            self.currency,
            width = exponent as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn exponents_come_from_iso_4217() {
        assert_eq!(cur("JPY").exponent(), 0);
        assert_eq!(cur("USD").exponent(), 2);
        assert_eq!(cur("KWD").exponent(), 3);
        assert_eq!(cur("usd"), cur("USD"));
    }

    #[test]
    fn unknown_and_unitless_currencies_are_refused() {
        for code in ["", "US", "USDD", "ZZZ", "XAU", "XXX", "12$"] {
            let err = Currency::parse(code).unwrap_err();
            assert_eq!(err.code(), ErrorCode::UnknownCurrency, "{code}");
        }
    }

    #[test]
    fn parse_table() {
        let table: &[(&str, &str, Result<i64, &str>)] = &[
            ("12.34", "USD", Ok(1234)),
            ("12.3", "USD", Ok(1230)),
            ("12", "USD", Ok(1200)),
            ("0.01", "USD", Ok(1)),
            ("12.340", "USD", Ok(1234)),
            ("007", "JPY", Ok(7)),
            ("1000", "JPY", Ok(1000)),
            ("1.5", "JPY", Err("excess_precision")),
            ("1.0", "JPY", Ok(1)),
            ("1.234", "KWD", Ok(1234)),
            ("1.2345", "KWD", Err("excess_precision")),
            ("12.345", "USD", Err("excess_precision")),
            ("-1", "USD", Err("malformed_amount")),
            ("+1", "USD", Err("malformed_amount")),
            ("1e3", "USD", Err("malformed_amount")),
            ("1,000", "USD", Err("malformed_amount")),
            (" 1", "USD", Err("malformed_amount")),
            ("", "USD", Err("malformed_amount")),
            (".5", "USD", Err("malformed_amount")),
            ("5.", "USD", Err("malformed_amount")),
            ("1.2.3", "USD", Err("malformed_amount")),
            ("10000000000000", "USD", Ok(1_000_000_000_000_000)),
            ("10000000000000.01", "USD", Err("amount_overflow")),
            ("99999999999999999999999", "USD", Err("amount_overflow")),
        ];
        for (text, code, want) in table {
            let got = Money::parse(text, cur(code))
                .map(Money::minor)
                .map_err(|e| e.code().as_str());
            assert_eq!(&got, want, "{text} {code}");
        }
    }

    #[test]
    fn display_uses_the_exponent() {
        assert_eq!(
            Money::from_minor(1230, cur("USD")).unwrap().to_string(),
            "12.30 USD"
        );
        assert_eq!(
            Money::from_minor(5, cur("KWD")).unwrap().to_string(),
            "0.005 KWD"
        );
        assert_eq!(
            Money::from_minor(500, cur("JPY")).unwrap().to_string(),
            "500 JPY"
        );
    }

    #[test]
    fn arithmetic_failures_are_named() {
        let usd = |m| Money::from_minor(m, cur("USD")).unwrap();
        let eur = Money::from_minor(1, cur("EUR")).unwrap();
        assert_eq!(usd(2).checked_add(usd(3)).unwrap().minor(), 5);
        assert_eq!(
            usd(2).checked_add(eur).unwrap_err().code(),
            ErrorCode::CurrencyMismatch
        );
        assert_eq!(
            usd(2).checked_sub(usd(3)).unwrap_err().code(),
            ErrorCode::NegativeResult
        );
        assert_eq!(
            usd(MAX_AMOUNT).checked_add(usd(1)).unwrap_err().code(),
            ErrorCode::AmountOverflow
        );
        assert_eq!(
            Money::from_minor(-1, cur("USD")).unwrap_err().code(),
            ErrorCode::NegativeResult
        );
    }

    #[test]
    fn parse_then_display_round_trips() {
        for (text, code) in [("0.05", "USD"), ("123.456", "KWD"), ("42", "JPY")] {
            let m = Money::parse(text, cur(code)).unwrap();
            assert_eq!(m.to_string(), format!("{text} {code}"));
        }
    }
}
