//! Calendar arithmetic for timestamps, without a clock: callers pass the seconds (the core does
//! no I/O, and reading the clock is the caller's business).

/// Calendar date `(year, month, day)` of `days` since 1970-01-01 (proleptic Gregorian).
///
/// Exact for any `days` within ±25 billion years (no overflow in `i64`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // March = 0 .. February = 11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds as Kubernetes writes timestamps: RFC 3339 in UTC, whole seconds
/// (`2026-11-26T23:40:00Z`).
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", tod / 3600, tod % 3600 / 60, tod % 60)
}

/// [`rfc3339`] of a time in milliseconds since the epoch, with the milliseconds
/// (`2026-12-07T10:00:00.250Z`): statuses whose order within one second matters (a sync that
/// started after a request made the same second) are written so.
pub fn rfc3339_millis(millis: i64) -> String {
    let text = rfc3339(millis.div_euclid(1000));
    format!("{}.{:03}Z", text.trim_end_matches('Z'), millis.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_written_and_read_back_in_order() {
        assert_eq!(rfc3339_millis(1_795_736_400_250), "2026-11-26T23:40:00.250Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        let (a, b): (jiff::Timestamp, jiff::Timestamp) =
            (rfc3339_millis(1_000).parse().unwrap(), rfc3339_millis(1_001).parse().unwrap());
        assert!(a < b);
    }

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_736_400), "2026-11-26T23:40:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}

/// A duration as Go's `time.Duration.String` writes it for whole seconds (`2s`, `2m30s`,
/// `5m0s`, `1h0m0s`), as Flux's messages show durations; fractions of a second are dropped.
pub fn go_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod go_duration_tests {
    use std::time::Duration;

    #[test]
    fn writes_durations_as_go_does() {
        // Go: time.Duration(n * time.Second).String()
        for (secs, text) in [(0, "0s"), (2, "2s"), (150, "2m30s"), (300, "5m0s"), (3600, "1h0m0s"), (3723, "1h2m3s")] {
            assert_eq!(super::go_duration(Duration::from_secs(secs)), text);
        }
    }
}
