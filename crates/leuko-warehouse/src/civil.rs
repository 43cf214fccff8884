//! Civil dates and times in UTC as plain integers (days and microseconds since the Unix
//! epoch), with fast text rendering for the generator's CSV output.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Microseconds in a day.
pub const DAY_US: i64 = 86_400_000_000;

/// Parses an RFC 3339 date-time (`2026-06-30T00:00:00Z`) or a date (`2026-06-30`, midnight
/// UTC) into microseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos() / 1000).ok();
    }
    let date = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1_000_000)
}

/// (year, month, day) of a day number (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(days));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Appends `YYYY-MM-DDTHH:MM:SSZ` (seconds precision; the generator writes whole minutes).
pub fn format_timestamp(out: &mut String, us: i64) {
    let days = us.div_euclid(DAY_US);
    let secs = us.rem_euclid(DAY_US) / 1_000_000;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_agrees_with_the_time_crate() {
        for us in [
            0i64,
            951_782_400_000_000,
            1_782_777_600_123_456,
            -86_400_000_000,
        ] {
            let mut s = String::new();
            format_timestamp(&mut s, us);
            let expected = OffsetDateTime::from_unix_timestamp(us.div_euclid(1_000_000))
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok());
            assert_eq!(Some(s.clone()), expected);
            assert_eq!(
                parse_timestamp(&s),
                Some(us.div_euclid(1_000_000) * 1_000_000)
            );
        }
        assert_eq!(
            parse_timestamp("2026-06-30"),
            parse_timestamp("2026-06-30T00:00:00Z")
        );
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(parse_timestamp("30/06/2026"), None);
    }
}
