//! The civil (proleptic Gregorian, UTC) calendar, for rules that depend on the month, such as a
//! card's expiry. Time comes in as milliseconds since the Unix epoch, as everywhere in the core.

/// The UTC year and month of a time in ms since the epoch, from the day count (the usual
/// era-of-400-years conversion). Years beyond `u16` saturate; they do not occur in practice.
pub fn year_month(ms: i64) -> (u16, u8) {
    let days = ms.div_euclid(86_400_000);
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based = (5 * day_of_year + 2) / 153;
    let month = if march_based < 10 {
        march_based + 3
    } else {
        march_based - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        u16::try_from(year).unwrap_or(u16::MAX),
        u8::try_from(month).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::year_month;

    #[test]
    fn calendar() {
        let table = [
            (0, (1970, 1)),
            (-1, (1969, 12)),
            (1_795_219_200_000, (2026, 11)), // 2026-11-21
            (951_782_400_000, (2000, 2)),    // 2000-02-29
            (951_868_800_000, (2000, 3)),    // 2000-03-01
            (1_767_225_599_999, (2025, 12)), // 2025-12-31T23:59:59.999
            (1_767_225_600_000, (2026, 1)),  // 2026-01-01
        ];
        for (ms, want) in table {
            assert_eq!(year_month(ms), want, "{ms}");
        }
    }
}
