//! Timestamps of the replay window: strict parsing of the three formats providers send
//! (`unix`, `unix_ms`, `rfc3339`) and the window check that rejects both too old and too
//! far in the future.

use crate::{config::TimestampFormat, verify::Rejection};

/// A parsed timestamp in milliseconds since the Unix epoch.
pub(crate) type Millis = i64;

/// Parse `raw` strictly in `format`; anything else is [`Rejection::InvalidTimestamp`].
pub(crate) fn parse(raw: &[u8], format: TimestampFormat) -> Result<Millis, Rejection> {
    match format {
        TimestampFormat::Unix => digits(raw, 12)?
            .checked_mul(1000)
            .ok_or(Rejection::InvalidTimestamp),
        TimestampFormat::UnixMs => digits(raw, 15),
        TimestampFormat::Rfc3339 => rfc3339(raw).ok_or(Rejection::InvalidTimestamp),
    }
}

/// Reject a timestamp further than `tolerance_ms` from `now` (unix seconds), either way.
pub(crate) fn check_window(ts: Millis, now: i64, tolerance_ms: i64) -> Result<(), Rejection> {
    let now_ms = now.saturating_mul(1000);
    if ts.abs_diff(now_ms) > tolerance_ms.unsigned_abs() {
        Err(Rejection::TimestampOutOfTolerance)
    } else {
        Ok(())
    }
}

/// ASCII digits only (no sign, no spaces), at most `max_len` of them.
fn digits(raw: &[u8], max_len: usize) -> Result<i64, Rejection> {
    if raw.is_empty() || raw.len() > max_len || !raw.iter().all(u8::is_ascii_digit) {
        return Err(Rejection::InvalidTimestamp);
    }
    Ok(raw.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, as RFC 3339 §5.6 (`t`/`z` accepted too).
fn rfc3339(raw: &[u8]) -> Option<Millis> {
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = raw.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, c: u8| raw.get(i).is_some_and(|b| b.eq_ignore_ascii_case(&c));
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if raw.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while raw.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start || i - start > 9 {
            return None;
        }
        let frac = &raw[start..i];
        millis = (0..3).fold(0, |n, k| {
            n * 10 + frac.get(k).map_or(0, |d| i64::from(d - b'0'))
        });
    }
    let offset_minutes = match raw.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (h, m) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// `now` (unix seconds) written in `format` (the signing side).
pub(crate) fn format(now: i64, format: TimestampFormat) -> String {
    match format {
        TimestampFormat::Unix => now.to_string(),
        TimestampFormat::UnixMs => now.saturating_mul(1000).to_string(),
        TimestampFormat::Rfc3339 => {
            let (days, secs) = (now.div_euclid(86_400), now.rem_euclid(86_400));
            let (y, m, d) = civil_from_days(days);
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                secs / 3600,
                secs % 3600 / 60,
                secs % 60
            )
        }
    }
}

/// The date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_formats_are_strict() {
        assert_eq!(
            parse(b"1700000000", TimestampFormat::Unix),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse(b"1700000000123", TimestampFormat::UnixMs),
            Ok(1_700_000_000_123)
        );
        for bad in [
            &b""[..],
            b"-5",
            b"+5",
            b" 5",
            b"5.0",
            b"abc",
            b"9999999999999999999",
        ] {
            assert_eq!(
                parse(bad, TimestampFormat::Unix),
                Err(Rejection::InvalidTimestamp)
            );
            assert_eq!(
                parse(bad, TimestampFormat::UnixMs),
                Err(Rejection::InvalidTimestamp)
            );
        }
    }

    #[test]
    fn rfc3339_matches_known_instants() {
        let p = |s: &str| parse(s.as_bytes(), TimestampFormat::Rfc3339);
        assert_eq!(p("1970-01-01T00:00:00Z"), Ok(0));
        // `date -u -d 2019-11-16T10:11:12Z +%s` = 1573899072
        assert_eq!(p("2019-11-16T10:11:12.634234626Z"), Ok(1_573_899_072_634));
        assert_eq!(p("2019-11-16T12:11:12+02:00"), Ok(1_573_899_072_000));
        assert_eq!(p("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
        for bad in [
            "",
            "2019-11-16",
            "2019-11-16T10:11:12",
            "2019-11-16 10:11:12Z",
            "2023-02-29T00:00:00Z",
            "2019-13-16T10:11:12Z",
            "2019-11-16T10:11:12.Z",
            "2019-11-16T10:11:12Z ",
            "2019-11-16T10:11:12+2:00",
            "+019-11-16T10:11:12Z",
        ] {
            assert_eq!(p(bad), Err(Rejection::InvalidTimestamp), "{bad}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for now in [0, 951_782_400, 1_573_899_072, 1_709_164_800, 4_102_444_799] {
            for f in [
                TimestampFormat::Unix,
                TimestampFormat::UnixMs,
                TimestampFormat::Rfc3339,
            ] {
                assert_eq!(
                    parse(format(now, f).as_bytes(), f),
                    Ok(now * 1000),
                    "{now} {f:?}"
                );
            }
        }
        assert_eq!(
            format(1_573_899_072, TimestampFormat::Rfc3339),
            "2019-11-16T10:11:12Z"
        );
    }

    #[test]
    fn window_rejects_past_and_future() {
        assert!(check_window(1_000_000, 1000, 300_000).is_ok());
        assert!(check_window(700_000, 1000, 300_000).is_ok());
        assert!(check_window(1_300_000, 1000, 300_000).is_ok());
        assert_eq!(
            check_window(699_999, 1000, 300_000),
            Err(Rejection::TimestampOutOfTolerance)
        );
        assert_eq!(
            check_window(1_300_001, 1000, 300_000),
            Err(Rejection::TimestampOutOfTolerance)
        );
    }
}
