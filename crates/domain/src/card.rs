//! Cards: checking what a buyer typed, and the sandbox's answers.
//!
//! A card number lives only in a [`CardNumber`], whose `Debug` and `Display` show the brand and
//! last four digits and nothing else, so a number cannot reach a log by accident. What holdback
//! keeps is a [`StoredCard`]: brand, last four, expiry and the provider's token.

use std::fmt;

use crate::ErrorCode;

/// Why a card was refused before or by the provider. Each has a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("the card number is not valid")]
    InvalidNumber,
    #[error("the expiry date is not valid")]
    InvalidExpiry,
    #[error("the security code must be 3 digits (4 for American Express)")]
    InvalidCvc,
    #[error("the card has expired")]
    ExpiredCard,
    #[error("the card was declined")]
    Declined,
    #[error("the card has insufficient funds")]
    InsufficientFunds,
    #[error("the security code is incorrect")]
    IncorrectCvc,
    #[error("the card could not be processed; try again")]
    ProcessingError,
    #[error("a real card number was used in test mode")]
    LiveCardInTestMode,
}

impl CardError {
    pub fn code(self) -> ErrorCode {
        match self {
            CardError::InvalidNumber => ErrorCode::InvalidCardNumber,
            CardError::InvalidExpiry => ErrorCode::InvalidExpiry,
            CardError::InvalidCvc => ErrorCode::InvalidCvc,
            CardError::ExpiredCard => ErrorCode::ExpiredCard,
            CardError::Declined => ErrorCode::CardDeclined,
            CardError::InsufficientFunds => ErrorCode::InsufficientFunds,
            CardError::IncorrectCvc => ErrorCode::IncorrectCvc,
            CardError::ProcessingError => ErrorCode::ProcessingError,
            CardError::LiveCardInTestMode => ErrorCode::LiveCardInTestMode,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Visa,
    Mastercard,
    Maestro,
    Amex,
    UnionPay,
}

impl Brand {
    pub fn code(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Maestro => "maestro",
            Brand::Amex => "amex",
            Brand::UnionPay => "unionpay",
        }
    }

    pub fn parse(code: &str) -> Option<Brand> {
        [
            Brand::Visa,
            Brand::Mastercard,
            Brand::Maestro,
            Brand::Amex,
            Brand::UnionPay,
        ]
        .into_iter()
        .find(|b| b.code() == code)
    }

    /// The brand from the number's leading digits (IIN ranges) and length.
    fn detect(digits: &str) -> Option<Brand> {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok());
        let len = digits.len();
        let two = prefix(2)?;
        let four = prefix(4)?;
        let six = prefix(6)?;
        if digits.starts_with('4') && matches!(len, 13 | 16 | 19) {
            Some(Brand::Visa)
        } else if ((51..=55).contains(&two) || (222_100..=272_099).contains(&six)) && len == 16 {
            Some(Brand::Mastercard)
        } else if matches!(two, 34 | 37) && len == 15 {
            Some(Brand::Amex)
        } else if two == 62 && (16..=19).contains(&len) {
            Some(Brand::UnionPay)
        } else if (matches!(
            four,
            5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
        )) && (12..=19).contains(&len)
        {
            Some(Brand::Maestro)
        } else {
            None
        }
    }
}

/// The Luhn checksum over a string of digits.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// A card number that passed the Luhn check and belongs to a known brand. Never printed whole.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber {
    digits: String,
    brand: Brand,
}

impl CardNumber {
    /// Accepts digits with optional spaces or dashes between groups.
    pub fn parse(text: &str) -> Result<CardNumber, CardError> {
        let digits: String = text.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::InvalidNumber);
        }
        if !luhn_valid(&digits) {
            return Err(CardError::InvalidNumber);
        }
        let brand = Brand::detect(&digits).ok_or(CardError::InvalidNumber)?;
        Ok(CardNumber { digits, brand })
    }

    pub fn brand(&self) -> Brand {
        self.brand
    }

    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// The digits, for handing to a payment provider; nowhere else.
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({} ****{})", self.brand.code(), self.last4())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ****{}", self.brand.code(), self.last4())
    }
}

/// What a buyer typed, checked: number, expiry, security code. Its `Debug` hides the number
/// (all but the last four) and the security code.
#[derive(Clone, PartialEq, Eq)]
pub struct CardInput {
    pub number: CardNumber,
    pub exp_month: u8,
    pub exp_year: u16,
    cvc: String,
}

impl CardInput {
    pub fn parse(
        number: &str,
        exp_month: u8,
        exp_year: u16,
        cvc: &str,
    ) -> Result<CardInput, CardError> {
        let number = CardNumber::parse(number)?;
        if !(1..=12).contains(&exp_month) || !(2000..=2099).contains(&exp_year) {
            return Err(CardError::InvalidExpiry);
        }
        let want = if number.brand() == Brand::Amex { 4 } else { 3 };
        if cvc.len() != want || !cvc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::InvalidCvc);
        }
        Ok(CardInput {
            number,
            exp_month,
            exp_year,
            cvc: cvc.to_string(),
        })
    }

    /// Whether the card is past its expiry month, given today's year and month.
    pub fn expired(&self, year: u16, month: u8) -> bool {
        (self.exp_year, self.exp_month) < (year, month)
    }
}

impl fmt::Debug for CardInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CardInput({:?}, {:02}/{}, cvc ***)",
            self.number, self.exp_month, self.exp_year
        )
    }
}

/// What holdback keeps of a card: never the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    pub brand: Brand,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub token: String,
}

/// The sandbox provider's answer for a card, by the well-known test card numbers (Stripe's):
/// `Ok(())` means the charge succeeds. A number outside the table is a real card, refused in
/// test mode. An expired card is refused whatever its number.
pub fn sandbox_outcome(card: &CardInput, year: u16, month: u8) -> Result<(), CardError> {
    if card.expired(year, month) {
        return Err(CardError::ExpiredCard);
    }
    match card.number.expose_digits() {
        "4242424242424242" | "4000056655665556" | "5555555555554444" | "2223003122003222"
        | "5200828282828210" | "378282246310005" | "371449635398431" | "6200000000000005"
        | "6759649826438453" => Ok(()),
        "4000000000000002" => Err(CardError::Declined),
        "4000000000009995" => Err(CardError::InsufficientFunds),
        "4000000000000069" => Err(CardError::ExpiredCard),
        "4000000000000127" => Err(CardError::IncorrectCvc),
        "4000000000000119" => Err(CardError::ProcessingError),
        _ => Err(CardError::LiveCardInTestMode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(number: &str) -> CardInput {
        let cvc = if number.starts_with('3') {
            "1234"
        } else {
            "123"
        };
        CardInput::parse(number, 12, 2030, cvc).unwrap()
    }

    #[test]
    fn test_numbers_behave_like_the_provider() {
        let table = [
            ("4242 4242 4242 4242", Ok(()), "visa"),
            ("5555-5555-5555-4444", Ok(()), "mastercard"),
            ("378282246310005", Ok(()), "amex"),
            ("6200000000000005", Ok(()), "unionpay"),
            ("6759649826438453", Ok(()), "maestro"),
            ("4000000000000002", Err("card_declined"), "visa"),
            ("4000000000009995", Err("insufficient_funds"), "visa"),
            ("4000000000000069", Err("expired_card"), "visa"),
            ("4000000000000127", Err("incorrect_cvc"), "visa"),
            ("4000000000000119", Err("processing_error"), "visa"),
            ("4111111111111111", Err("live_card_in_test_mode"), "visa"),
        ];
        for (number, want, brand) in table {
            let c = card(number);
            assert_eq!(c.number.brand().code(), brand, "{number}");
            let got = sandbox_outcome(&c, 2026, 11).map_err(|e| e.code().as_str());
            assert_eq!(got, want, "{number}");
        }
    }

    #[test]
    fn bad_input_is_named() {
        let cases = [
            (
                CardInput::parse("4242424242424241", 1, 2030, "123"),
                "invalid_card_number",
            ),
            (
                CardInput::parse("4242", 1, 2030, "123"),
                "invalid_card_number",
            ),
            (
                CardInput::parse("4242x24242424242", 1, 2030, "123"),
                "invalid_card_number",
            ),
            (
                CardInput::parse("9999999999999995", 1, 2030, "123"),
                "invalid_card_number",
            ),
            (
                CardInput::parse("4242424242424242", 13, 2030, "123"),
                "invalid_expiry",
            ),
            (
                CardInput::parse("4242424242424242", 0, 2030, "123"),
                "invalid_expiry",
            ),
            (
                CardInput::parse("4242424242424242", 1, 2030, "12"),
                "invalid_cvc",
            ),
            (
                CardInput::parse("378282246310005", 1, 2030, "123"),
                "invalid_cvc",
            ),
        ];
        for (result, code) in cases {
            assert_eq!(result.unwrap_err().code().as_str(), code);
        }
        let old = CardInput::parse("4242424242424242", 10, 2026, "123").unwrap();
        assert_eq!(
            sandbox_outcome(&old, 2026, 11).unwrap_err().code(),
            ErrorCode::ExpiredCard
        );
        assert!(
            sandbox_outcome(&old, 2026, 10).is_ok(),
            "valid through its expiry month"
        );
    }

    #[test]
    fn numbers_never_print_whole() {
        let c = CardInput::parse("4242424242424242", 12, 2030, "987").unwrap();
        let shown = format!("{c:?} {} {}", c.number, c.number.last4());
        assert!(!shown.contains("4242424242424242"), "{shown}");
        assert!(!shown.contains("987"), "{shown}");
        assert!(shown.contains("visa ****4242"), "{shown}");
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid(""));
    }
}
