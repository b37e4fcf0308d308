//! Dates as carriers write them, read without a calendar library.
//!
//! A profile lists the formats its carrier uses (`%Y-%m-%d`, `%d/%m/%Y`, …) and the carrier's
//! fixed UTC offset. A date is read with every listed format; when two formats read the same
//! text as different instants (`03/04/2026` as 3 April and as 4 March), the date is ambiguous
//! and the whole file is refused: guessing would post money against the wrong cycle.

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Lit(char),
}

/// One accepted date layout, parsed from a `strftime`-like pattern.
///
/// Supported: `%Y` (four-digit year), `%m`, `%d`, `%H`, `%M`, `%S` (one or two digits), `%%`,
/// and literal characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    pattern: String,
    parts: Vec<Part>,
}

impl DateFormat {
    /// Parses a pattern; `None` for an unknown `%` directive or a pattern without a full date.
    pub fn parse(pattern: &str) -> Option<DateFormat> {
        let mut parts = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                parts.push(Part::Lit(c));
                continue;
            }
            parts.push(match chars.next()? {
                'Y' => Part::Year,
                'm' => Part::Month,
                'd' => Part::Day,
                'H' => Part::Hour,
                'M' => Part::Minute,
                'S' => Part::Second,
                '%' => Part::Lit('%'),
                _ => return None,
            });
        }
        let has = |p: Part| parts.contains(&p);
        if !(has(Part::Year) && has(Part::Month) && has(Part::Day)) {
            return None;
        }
        Some(DateFormat {
            pattern: pattern.to_string(),
            parts,
        })
    }

    /// The pattern as written in the profile.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Reads `text` as local wall-clock time; milliseconds since the epoch as if local were UTC.
    pub fn read_local(&self, text: &str) -> Option<i64> {
        let bytes = text.as_bytes();
        let mut pos = 0usize;
        let (mut y, mut mo, mut d, mut h, mut mi, mut s) = (0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
        for part in &self.parts {
            match part {
                Part::Lit(c) => {
                    let mut buf = [0u8; 4];
                    let lit = c.encode_utf8(&mut buf).as_bytes();
                    if !bytes.get(pos..)?.starts_with(lit) {
                        return None;
                    }
                    pos += lit.len();
                }
                Part::Year => {
                    y = digits(bytes, &mut pos, 4, 4)?;
                }
                Part::Month => mo = digits(bytes, &mut pos, 1, 2)?,
                Part::Day => d = digits(bytes, &mut pos, 1, 2)?,
                Part::Hour => h = digits(bytes, &mut pos, 1, 2)?,
                Part::Minute => mi = digits(bytes, &mut pos, 1, 2)?,
                Part::Second => s = digits(bytes, &mut pos, 1, 2)?,
            }
        }
        if pos != bytes.len() {
            return None;
        }
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
            return None;
        }
        if h > 23 || mi > 59 || s > 59 {
            return None;
        }
        Some(days_from_civil(y, mo, d) * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000)
    }
}

fn digits(bytes: &[u8], pos: &mut usize, min: usize, max: usize) -> Option<i64> {
    let mut n = 0usize;
    let mut v = 0i64;
    while n < max {
        match bytes.get(*pos + n) {
            Some(b) if b.is_ascii_digit() => {
                v = v * 10 + i64::from(b - b'0');
                n += 1;
            }
            _ => break,
        }
    }
    if n < min {
        return None;
    }
    *pos += n;
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (negative before it).
///
/// Counts whole 400-year eras (146,097 days each) from 0000-03-01, then the day within the era
/// with years starting in March, so the leap day falls at the end of the counted year.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a fixed UTC offset such as `+03:00`, `-05:30`, `+0530` or `Z`; milliseconds east of UTC.
pub fn parse_offset(text: &str) -> Option<i64> {
    let t = text.trim();
    if t == "Z" || t.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, t.get(1..)?),
        b'-' => (-1, t.get(1..)?),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => (rest.get(..2)?, rest.get(2..)?),
        None => (rest, "0"),
    };
    let h: i64 = h.parse().ok()?;
    let m: i64 = m.parse().ok()?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    Some(sign * (h * 3600 + m * 60) * 1000)
}

/// Why a date could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateProblem {
    /// No listed format reads the text.
    Invalid,
    /// Two listed formats read it as different instants.
    Ambiguous,
}

/// Reads `text` with every format; returns UTC epoch milliseconds.
pub fn read_date(text: &str, formats: &[DateFormat], offset_ms: i64) -> Result<i64, DateProblem> {
    let t = text.trim();
    let mut found: Option<i64> = None;
    for f in formats {
        if let Some(v) = f.read_local(t) {
            match found {
                Some(prev) if prev != v => return Err(DateProblem::Ambiguous),
                _ => found = Some(v),
            }
        }
    }
    found.map(|v| v - offset_ms).ok_or(DateProblem::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p: &str) -> DateFormat {
        DateFormat::parse(p).unwrap_or_else(|| panic!("bad pattern {p}"))
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 3, 4), 20_516);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn formats_and_ambiguity() {
        let both = [f("%d/%m/%Y"), f("%m/%d/%Y")];
        assert_eq!(
            read_date("03/04/2026", &both, 0),
            Err(DateProblem::Ambiguous)
        );
        assert_eq!(
            read_date("13/04/2026", &both, 0),
            Ok(days_from_civil(2026, 4, 13) * DAY_MS)
        );
        assert_eq!(
            read_date("04/04/2026", &both, 0),
            Ok(days_from_civil(2026, 4, 4) * DAY_MS)
        );
        let ts = [f("%Y-%m-%d %H:%M:%S")];
        assert_eq!(
            read_date("2026-03-04 10:00:00", &ts, 3 * 3_600_000),
            Ok(days_from_civil(2026, 3, 4) * DAY_MS + 7 * 3_600_000)
        );
        assert_eq!(
            read_date("2026-02-30 10:00:00", &ts, 0),
            Err(DateProblem::Invalid)
        );
        assert_eq!(parse_offset("+03:00"), Some(10_800_000));
        assert_eq!(parse_offset("-0530"), Some(-19_800_000));
        assert!(DateFormat::parse("%q").is_none());
    }
}
