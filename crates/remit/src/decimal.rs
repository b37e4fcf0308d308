//! Exact decimal arithmetic for amounts and rates.
//!
//! Every amount in a remittance file is decimal text. We never go through binary floating
//! point: text becomes an integer mantissa and a count of decimal places (the scale), and
//! conversion to minor units multiplies or divides by a power of ten, rounding by a named rule
//! only when the text has more places than the currency has.

use serde::Deserialize;

/// How a value that falls between two minor units is settled.
///
/// Both rules send a value to the nearest minor unit; they differ only on an exact half:
/// `half_up` moves a half away from zero (2.5 → 3, −2.5 → −3), `half_even` moves it to the
/// even neighbour (2.5 → 2, 3.5 → 4). Carriers' rate cards usually say "round half up";
/// some tax authorities prescribe banker's rounding, which is `half_even`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// A half goes away from zero.
    #[default]
    HalfUp,
    /// A half goes to the even neighbour.
    HalfEven,
}

impl Rounding {
    /// The stable name used in profiles.
    pub fn code(self) -> &'static str {
        match self {
            Rounding::HalfUp => "half_up",
            Rounding::HalfEven => "half_even",
        }
    }

    /// `num / den` rounded to an integer by this rule. `den` must be positive.
    pub fn div(self, num: i128, den: i128) -> i128 {
        debug_assert!(den > 0);
        let q = num.div_euclid(den);
        let twice = 2 * num.rem_euclid(den);
        if twice < den {
            q
        } else if twice > den {
            q + 1
        } else {
            match self {
                // q is the floor: for a negative half it is already the value away from zero.
                Rounding::HalfUp => {
                    if num >= 0 {
                        q + 1
                    } else {
                        q
                    }
                }
                Rounding::HalfEven => {
                    if q % 2 == 0 {
                        q
                    } else {
                        q + 1
                    }
                }
            }
        }
    }
}

/// An exact decimal: `mantissa × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// The digits as an integer, signed.
    pub mantissa: i128,
    /// How many of those digits are after the decimal point.
    pub scale: u32,
}

/// The most digits we accept in one number: keeps every product inside i128.
const MAX_DIGITS: usize = 30;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Decimal {
    /// Parses plain decimal text such as `2.5`, `-0.75` or `15` (a `.` separator, no grouping).
    pub fn parse(text: &str) -> Option<Decimal> {
        parse_grouped(text, '.', None)
    }

    /// Parses a number literal as JSON or a spreadsheet writes it: `12.5`, `-3`, `1.2e3`.
    pub fn parse_literal(text: &str) -> Option<Decimal> {
        let t = text.trim();
        let (base, exp) = match t.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = t.get(i + 1..)?.parse().ok()?;
                (t.get(..i)?, e)
            }
            None => (t, 0),
        };
        let d = parse_grouped(base, '.', None)?;
        if exp == 0 {
            return Some(d);
        }
        let scale = i64::from(d.scale) - i64::from(exp);
        if scale >= 0 {
            Some(Decimal {
                mantissa: d.mantissa,
                scale: u32::try_from(scale).ok()?,
            })
        } else {
            let up = pow10(u32::try_from(-scale).ok()?)?;
            Some(Decimal {
                mantissa: d.mantissa.checked_mul(up)?,
                scale: 0,
            })
        }
    }

    /// True when the value is below zero.
    pub fn is_negative(self) -> bool {
        self.mantissa < 0
    }

    /// Converts to minor units of a currency with `exponent` decimal places. Returns the amount
    /// and whether the text had non-zero digits beyond the currency's places (then rounded by
    /// `rounding`). `None` when the value does not fit an i64.
    pub fn to_minor(self, exponent: u32, rounding: Rounding) -> Option<(i64, bool)> {
        let (value, excess) = if self.scale <= exponent {
            (
                self.mantissa.checked_mul(pow10(exponent - self.scale)?)?,
                false,
            )
        } else {
            let den = pow10(self.scale - exponent)?;
            (
                rounding.div(self.mantissa, den),
                self.mantissa.rem_euclid(den) != 0,
            )
        };
        Some((i64::try_from(value).ok()?, excess))
    }

    /// `amount × self / 100`, rounded by `rounding`: a percentage of an integer amount.
    pub fn percent_of(self, amount: i64, rounding: Rounding) -> Option<i64> {
        let num = i128::from(amount).checked_mul(self.mantissa)?;
        let den = pow10(self.scale)?.checked_mul(100)?;
        i64::try_from(rounding.div(num, den)).ok()
    }
}

fn is_space_like(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}')
}

/// Parses decimal text with a decimal separator and an optional thousands separator.
///
/// Accepted: optional sign (`-`, `+`, `−`), a trailing minus (`12.50-`), or parentheses
/// (`(12.50)`) for a negative; grouping in threes when a thousands separator is given (any
/// space-like separator — space, no-break space, narrow no-break space — stands for any
/// other). Anything else (letters, currency signs, a second decimal separator, groups that are
/// not three digits) is refused, so a file whose separators were swapped is caught rather than
/// read a thousand times too large.
pub fn parse_grouped(text: &str, decimal: char, thousands: Option<char>) -> Option<Decimal> {
    let mut s = text.trim();
    let mut negative = false;
    if let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        negative = true;
        s = inner.trim();
    }
    if let Some(rest) = s.strip_prefix(['-', '\u{2212}']) {
        negative = !negative;
        s = rest.trim_start();
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest.trim_start();
    } else if let Some(rest) = s.strip_suffix('-') {
        negative = !negative;
        s = rest.trim_end();
    }
    let (int_part, frac_part) = match s.split_once(decimal) {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !frac_part.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits = String::with_capacity(int_part.len() + frac_part.len());
    let space_sep = thousands.is_some_and(is_space_like);
    let is_sep = |c: char| match thousands {
        Some(_) if space_sep => is_space_like(c),
        Some(t) => c == t,
        None => false,
    };
    if int_part.contains(is_sep) {
        for (i, group) in int_part.split(is_sep).enumerate() {
            let ok_len = if i == 0 {
                (1..=3).contains(&group.len())
            } else {
                group.len() == 3
            };
            if !ok_len || !group.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            digits.push_str(group);
        }
    } else {
        if !int_part.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.push_str(int_part);
    }
    digits.push_str(frac_part);
    if digits.is_empty() || digits.len() > MAX_DIGITS {
        return None;
    }
    let magnitude: i128 = digits.parse().ok()?;
    Some(Decimal {
        mantissa: if negative { -magnitude } else { magnitude },
        scale: u32::try_from(frac_part.len()).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_rules_differ_only_on_halves() {
        assert_eq!(Rounding::HalfUp.div(25, 10), 3);
        assert_eq!(Rounding::HalfEven.div(25, 10), 2);
        assert_eq!(Rounding::HalfEven.div(35, 10), 4);
        assert_eq!(Rounding::HalfUp.div(-25, 10), -3);
        assert_eq!(Rounding::HalfEven.div(-25, 10), -2);
        assert_eq!(Rounding::HalfUp.div(26, 10), 3);
        assert_eq!(Rounding::HalfEven.div(-26, 10), -3);
        assert_eq!(Rounding::HalfUp.div(24, 10), 2);
    }

    #[test]
    fn grouped_numbers() {
        let d = parse_grouped("1\u{a0}234,56", ',', Some('\u{a0}'));
        assert_eq!(
            d,
            Some(Decimal {
                mantissa: 123456,
                scale: 2
            })
        );
        assert_eq!(
            parse_grouped("1 234 567,5", ',', Some('\u{202f}')),
            Some(Decimal {
                mantissa: 12345675,
                scale: 1
            })
        );
        assert_eq!(parse_grouped("1.234,56", ',', None), None);
        assert_eq!(parse_grouped("12,34.5", '.', Some(',')), None);
        assert_eq!(
            parse_grouped("(12.50)", '.', None),
            Some(Decimal {
                mantissa: -1250,
                scale: 2
            })
        );
        assert_eq!(
            parse_grouped("12.50-", '.', None),
            Some(Decimal {
                mantissa: -1250,
                scale: 2
            })
        );
        assert_eq!(parse_grouped("SAR 12", '.', None), None);
        assert_eq!(parse_grouped("", '.', None), None);
        assert_eq!(parse_grouped("-", '.', None), None);
    }

    #[test]
    fn minor_units_and_excess() {
        let d = Decimal::parse("48.705").unwrap_or(Decimal {
            mantissa: 0,
            scale: 0,
        });
        assert_eq!(d.to_minor(2, Rounding::HalfUp), Some((4871, true)));
        assert_eq!(d.to_minor(2, Rounding::HalfEven), Some((4870, true)));
        let z = Decimal::parse("48.700").unwrap_or(Decimal {
            mantissa: 0,
            scale: 0,
        });
        assert_eq!(z.to_minor(2, Rounding::HalfUp), Some((4870, false)));
        assert_eq!(
            Decimal::parse_literal("1.5e2").and_then(|d| d.to_minor(2, Rounding::HalfUp)),
            Some((15000, false))
        );
    }

    #[test]
    fn percentages() {
        let r = Decimal::parse("2.5").unwrap_or(Decimal {
            mantissa: 0,
            scale: 0,
        });
        assert_eq!(r.percent_of(4870, Rounding::HalfUp), Some(122));
        let vat = Decimal::parse("15").unwrap_or(Decimal {
            mantissa: 0,
            scale: 0,
        });
        // 15% of 1630 = 244.5
        assert_eq!(vat.percent_of(1630, Rounding::HalfUp), Some(245));
        assert_eq!(vat.percent_of(1630, Rounding::HalfEven), Some(244));
    }
}
