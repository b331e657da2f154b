//! Dates of the event listings and log lines, in UTC (no date crate needed for these two).

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Keycloak's `DateUtil`: a `yyyy-MM-dd` date (Java's `LocalDate.parse`: four-digit year, two-
/// digit month and day, a real date) is the first millisecond of that day (UTC) or, with
/// `end`, its last; anything without `-` is read as an epoch timestamp in milliseconds
/// (`Long.parseLong`: digits with an optional `+`). `None` when it is neither.
pub fn parse_date_param(v: &str, end: bool) -> Option<i64> {
    if v.contains('-') {
        let b = v.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |s: &str| -> Option<i64> {
            s.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| s.parse().ok())
                .flatten()
        };
        let (y, m, d) = (num(&v[0..4])?, num(&v[5..7])?, num(&v[8..10])?);
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return None;
        }
        let start = days_from_civil(y, m, d) * 86_400_000;
        Some(if end { start + 86_399_999 } else { start })
    } else {
        let digits = v.strip_prefix('+').unwrap_or(v);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

/// An ISO 8601 UTC timestamp with milliseconds (`2024-05-28T12:00:00.000Z`).
pub fn iso8601(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_keycloaks_date_util() {
        assert_eq!(parse_date_param("1970-01-01", false), Some(0));
        assert_eq!(parse_date_param("1970-01-01", true), Some(86_399_999));
        assert_eq!(
            parse_date_param("2020-01-01", false),
            Some(1_577_836_800_000)
        );
        assert_eq!(
            parse_date_param("2024-02-29", false),
            Some(1_709_164_800_000)
        );
        assert_eq!(parse_date_param("1700000000", false), Some(1_700_000_000));
        assert_eq!(parse_date_param("0", true), Some(0));
        for bad in [
            "x",
            "2020-1-1",
            "2020-13-01",
            "2023-02-29",
            "-1",
            "1.5",
            "",
            "2020-01-01T00",
            "99999999999999999999",
        ] {
            assert_eq!(parse_date_param(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn iso_timestamps() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_709_164_800_123), "2024-02-29T00:00:00.123Z");
        assert_eq!(iso8601(1_577_836_799_999), "2019-12-31T23:59:59.999Z");
    }
}
