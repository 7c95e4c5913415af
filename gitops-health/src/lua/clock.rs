//! Calendar math behind the sandbox's safe `os` library: `os.time` and `os.date`, as Argo CD
//! offers them to Lua health checks.
//!
//! Everything here is pure (no I/O, no clock reads): conversion between Unix seconds and a
//! broken-down date ([`to_datetime`], [`from_fields`]) and a C-locale `strftime` subset
//! ([`format()`]). Dates use the proleptic Gregorian calendar through Howard Hinnant's
//! days-from-civil / civil-from-days algorithms, so every conversion is exact and O(1).
//!
//! All times are UTC. The sandbox has no time-zone database, so what Lua calls "local time"
//! is UTC too: `os.date(fmt)` and `os.date("!" .. fmt)` agree, and `%z`/`%Z` are always
//! `+0000`/`UTC`. Leap seconds do not exist here, as in Unix time.
//!
//! The supported range is years -99999 to 99999; outside it the conversions return `None`.
//! No input panics: range checks come before any arithmetic that could overflow, and
//! [`from_fields`] normalises in `i128`, which no combination of `i64` fields can overflow.

use std::fmt::Write as _;

/// Earliest supported year.
const MIN_YEAR: i64 = -99_999;
/// Latest supported year.
const MAX_YEAR: i64 = 99_999;
/// Seconds in a (leap-second-free) day.
const SECS_PER_DAY: i64 = 86_400;
/// Unix time of `MIN_YEAR`-01-01 00:00:00, the earliest supported instant.
const MIN_SECS: i64 = (days_from_civil(MIN_YEAR as i128, 1, 1) * SECS_PER_DAY as i128) as i64;
/// Unix time of `MAX_YEAR`-12-31 23:59:59, the latest supported instant.
const MAX_SECS: i64 = (days_from_civil(MAX_YEAR as i128 + 1, 1, 1) * SECS_PER_DAY as i128) as i64 - 1;

/// Full weekday names in the C locale, Sunday first.
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
/// Full month names in the C locale, January first.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Broken-down UTC time, as Lua's `os.date("*t")` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTime {
    /// Year, astronomical numbering (year 0 is 1 BC); e.g. 2023.
    pub year: i64,
    /// Month, 1 (January) to 12.
    pub month: i64,
    /// Day of the month, 1 to 31.
    pub day: i64,
    /// Hour, 0 to 23.
    pub hour: i64,
    /// Minute, 0 to 59.
    pub min: i64,
    /// Second, 0 to 59 (there are no leap seconds).
    pub sec: i64,
    /// Day of the week, 1 (Sunday) to 7 (Saturday).
    pub wday: i64,
    /// Day of the year, 1 (January 1st) to 366.
    pub yday: i64,
}

/// Days from 1970-01-01 to `year`-`month`-`day` in the proleptic Gregorian calendar.
///
/// `month` must be 1 to 12; `day` is taken as an offset (day 0 is the day before the 1st).
/// In `i128` this cannot overflow for any `year` within twice the `i64` range.
const fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (month + 9) % 12; // March = 0 .. February = 11
    let doy = (153 * mp + 2) / 5 + day - 1; // [0, 365] for a valid day
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Unix seconds to broken-down UTC time.
///
/// Returns `None` outside years -99999 to 99999.
pub(crate) fn to_datetime(secs: i64) -> Option<DateTime> {
    if !(MIN_SECS..=MAX_SECS).contains(&secs) {
        return None;
    }
    let days = secs.div_euclid(SECS_PER_DAY);
    let tod = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = gitops_core::time::civil_from_days(days);
    let yday = i64::try_from(i128::from(days) - days_from_civil(i128::from(year), 1, 1)).ok()? + 1;
    Some(DateTime {
        year,
        month,
        day,
        hour: tod / 3_600,
        min: tod % 3_600 / 60,
        sec: tod % 60,
        wday: (days + 4).rem_euclid(7) + 1, // 1970-01-01 was a Thursday
        yday,
    })
}

/// Broken-down UTC time to Unix seconds, like C `mktime` in UTC or Lua's `os.time{...}`.
///
/// Fields are normalised as `mktime` does: month 13 is January of the next year, month 0
/// December of the previous one, day 0 the last day of the previous month, second 75 one
/// minute and 15 seconds, and negative values count backwards. Returns `None` when the result
/// falls outside years -99999 to 99999. The arithmetic is done in `i128`, which no `i64`
/// inputs can overflow, so an out-of-range field can still be pulled back by another one.
pub(crate) fn from_fields(year: i64, month: i64, day: i64, hour: i64, min: i64, sec: i64) -> Option<i64> {
    let month0 = i128::from(month) - 1;
    let year = i128::from(year) + month0.div_euclid(12);
    let month = month0.rem_euclid(12) + 1;
    let days = days_from_civil(year, month, 1) + i128::from(day) - 1;
    let secs = days * i128::from(SECS_PER_DAY) + i128::from(hour) * 3_600 + i128::from(min) * 60 + i128::from(sec);
    i64::try_from(secs).ok().filter(|s| (MIN_SECS..=MAX_SECS).contains(s))
}

/// Formats `t` with a C-locale `strftime` subset, for `os.date(fmt, t)` once the caller has
/// stripped a leading `!` and handled `*t`.
///
/// Supported: `%a %A %b %B %c %d %D %e %F %H %I %j %m %M %n %p %S %t %T %u %w %x %X %y %Y %z
/// %Z %%`, with their C-locale meanings (`%c` is `%a %b %e %H:%M:%S %Y`, `%x` is `%m/%d/%y`,
/// `%X` is `%H:%M:%S`, `%z` is `+0000`, `%Z` is `UTC`, `%p` is `AM`/`PM`). As in glibc, `%Y`
/// is the plain year (no padding) and `%y` its last two digits without sign. Any other
/// conversion (e.g. `%q`) is copied through literally, as is a trailing lone `%`.
///
/// Fields outside their range never panic: names and `%u`/`%w`/`%I`/`%p` wrap them, numbers
/// print as they are.
pub(crate) fn format(fmt: &str, t: &DateTime) -> String {
    let mut out = String::with_capacity(fmt.len() + 16);
    format_into(&mut out, fmt, t);
    out
}

/// Appends `fmt` rendered for `t` to `out` (see [`format()`]).
fn format_into(out: &mut String, fmt: &str, t: &DateTime) {
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('%'),
            Some(spec) => {
                if !conversion(out, spec, t) {
                    out.push('%');
                    out.push(spec);
                }
            }
        }
    }
}

/// Appends conversion `%spec` for `t` to `out`; returns `false` (writing nothing) if `spec` is
/// not supported.
fn conversion(out: &mut String, spec: char, t: &DateTime) -> bool {
    // Index of the weekday with Sunday = 0, wrapping out-of-range values.
    let wday0 = (t.wday.rem_euclid(7) + 6) % 7;
    // Index of the month with January = 0, wrapping out-of-range values.
    let month0 = (t.month.rem_euclid(12) + 11) % 12;
    let weekday = WEEKDAYS[wday0 as usize];
    let month = MONTHS[month0 as usize];
    match spec {
        'a' => out.push_str(&weekday[..3]),
        'A' => out.push_str(weekday),
        'b' => out.push_str(&month[..3]),
        'B' => out.push_str(month),
        'c' => format_into(out, "%a %b %e %H:%M:%S %Y", t),
        'd' => number(out, t.day, 2, '0'),
        'D' | 'x' => format_into(out, "%m/%d/%y", t),
        'e' => number(out, t.day, 2, ' '),
        'F' => format_into(out, "%Y-%m-%d", t),
        'H' => number(out, t.hour, 2, '0'),
        'I' => number(out, if t.hour.rem_euclid(12) == 0 { 12 } else { t.hour.rem_euclid(12) }, 2, '0'),
        'j' => number(out, t.yday, 3, '0'),
        'm' => number(out, t.month, 2, '0'),
        'M' => number(out, t.min, 2, '0'),
        'n' => out.push('\n'),
        'p' => out.push_str(if t.hour.rem_euclid(24) < 12 { "AM" } else { "PM" }),
        'S' => number(out, t.sec, 2, '0'),
        't' => out.push('\t'),
        'T' | 'X' => format_into(out, "%H:%M:%S", t),
        'u' => number(out, if wday0 == 0 { 7 } else { wday0 }, 1, '0'),
        'w' => number(out, wday0, 1, '0'),
        'y' => number(out, (t.year % 100).abs(), 2, '0'),
        'Y' => number(out, t.year, 1, '0'),
        'z' => out.push_str("+0000"),
        'Z' => out.push_str("UTC"),
        '%' => out.push('%'),
        _ => return false,
    }
    true
}

/// Appends `n` in decimal, padded on the left with `fill` (`'0'` or `' '`) to `width` characters.
fn number(out: &mut String, n: i64, width: usize, fill: char) {
    // Writing to a `String` cannot fail.
    let _ = if fill == '0' { write!(out, "{n:0width$}") } else { write!(out, "{n:>width$}") };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a `DateTime` from its fields, for readable expectations.
    #[allow(clippy::too_many_arguments)]
    fn dt(year: i64, month: i64, day: i64, hour: i64, min: i64, sec: i64, wday: i64, yday: i64) -> DateTime {
        DateTime { year, month, day, hour, min, sec, wday, yday }
    }

    /// `from_fields` on the calendar fields of `t`.
    fn back(t: &DateTime) -> Option<i64> {
        from_fields(t.year, t.month, t.day, t.hour, t.min, t.sec)
    }

    /// Seconds in 300 (average Gregorian) years.
    const SPAN_300Y: i64 = 300 * 146_097 * SECS_PER_DAY / 400;

    /// A small deterministic xorshift generator for fuzz-style tests.
    struct Rng(u64);

    impl Rng {
        /// Next raw 64-bit value.
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// An `i64` biased towards extremes, small values and the supported range.
        fn i64(&mut self) -> i64 {
            const SPECIAL: [i64; 10] =
                [i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, 0, -1, 1, MIN_SECS, MAX_SECS, 12];
            let r = self.next();
            let v = self.next() as i64;
            match r % 5 {
                0 => SPECIAL[(v.unsigned_abs() % SPECIAL.len() as u64) as usize],
                1 => v,
                2 => v % 100,
                3 => v % (MAX_SECS + 100),
                _ => v % 1_000_000,
            }
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(to_datetime(0), Some(dt(1970, 1, 1, 0, 0, 0, 5, 1)));
        assert_eq!(to_datetime(951_782_400), Some(dt(2000, 2, 29, 0, 0, 0, 3, 60)));
        assert_eq!(to_datetime(1_700_000_000), Some(dt(2023, 11, 14, 22, 13, 20, 3, 318)));
        assert_eq!(to_datetime(-1), Some(dt(1969, 12, 31, 23, 59, 59, 4, 365)));
        assert_eq!(to_datetime(-86_400), Some(dt(1969, 12, 31, 0, 0, 0, 4, 365)));
        assert_eq!(to_datetime(-86_401), Some(dt(1969, 12, 30, 23, 59, 59, 3, 364)));
        assert_eq!(to_datetime(978_307_199), Some(dt(2000, 12, 31, 23, 59, 59, 1, 366)));
        assert_eq!(to_datetime(4_107_542_400), Some(dt(2100, 3, 1, 0, 0, 0, 2, 60))); // 2100 is not leap
        assert_eq!(to_datetime(-62_167_219_200), Some(dt(0, 1, 1, 0, 0, 0, 7, 1))); // year 0 is leap
        assert_eq!(to_datetime(-62_162_121_600), Some(dt(0, 2, 29, 0, 0, 0, 3, 60)));
        assert_eq!(from_fields(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(from_fields(2000, 2, 29, 0, 0, 0), Some(951_782_400));
        assert_eq!(from_fields(2023, 11, 14, 22, 13, 20), Some(1_700_000_000));
        assert_eq!(from_fields(1969, 12, 31, 23, 59, 59), Some(-1));
    }

    #[test]
    fn range_limits() {
        let fields = |t: DateTime| (t.year, t.month, t.day, t.hour, t.min, t.sec, t.yday);
        assert_eq!(to_datetime(MIN_SECS).map(fields), Some((-99_999, 1, 1, 0, 0, 0, 1)));
        assert_eq!(to_datetime(MAX_SECS).map(fields), Some((99_999, 12, 31, 23, 59, 59, 365)));
        assert_eq!(to_datetime(MIN_SECS - 1), None);
        assert_eq!(to_datetime(MAX_SECS + 1), None);
        assert_eq!(to_datetime(i64::MIN), None);
        assert_eq!(to_datetime(i64::MAX), None);
        assert_eq!(from_fields(-99_999, 1, 1, 0, 0, 0), Some(MIN_SECS));
        assert_eq!(from_fields(99_999, 12, 31, 23, 59, 59), Some(MAX_SECS));
        assert_eq!(from_fields(-99_999, 1, 1, 0, 0, -1), None);
        assert_eq!(from_fields(99_999, 12, 31, 23, 59, 60), None);
        assert_eq!(from_fields(100_000, 1, 1, 0, 0, -1), Some(MAX_SECS));
        assert_eq!(from_fields(-100_000, 12, 31, 23, 59, 60), Some(MIN_SECS));
    }

    #[test]
    fn extremes_do_not_panic() {
        let ext = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        for &a in &ext {
            for &b in &ext {
                for pos in 0..6 {
                    let mut f = [1970, 1, 1, 0, 0, 0];
                    f[pos] = a;
                    f[(pos + 1) % 6] = b;
                    if let Some(s) = from_fields(f[0], f[1], f[2], f[3], f[4], f[5]) {
                        assert!(to_datetime(s).is_some());
                    }
                }
            }
        }
        assert_eq!(from_fields(i64::MAX, i64::MAX, i64::MAX, i64::MAX, i64::MAX, i64::MAX), None);
        assert_eq!(from_fields(i64::MIN, i64::MIN, i64::MIN, i64::MIN, i64::MIN, i64::MIN), None);
        assert_eq!(from_fields(1970, 1, 1, 0, 0, i64::MAX), None);
        assert_eq!(from_fields(1970, i64::MAX, 1, 0, 0, 0), None);
        // A huge field pulled back into range by another.
        assert_eq!(from_fields(1970, 1, 1, 0, -(i64::MAX / 60), i64::MAX), Some(i64::MAX % 60));
        let weird = dt(i64::MIN, i64::MIN, i64::MIN, i64::MIN, i64::MIN, i64::MIN, i64::MIN, i64::MIN);
        assert!(!format("%a%A%b%B%c%d%D%e%F%H%I%j%m%M%p%S%T%u%w%x%X%y%Y", &weird).is_empty());
        let weird = dt(i64::MAX, i64::MAX, i64::MAX, i64::MAX, i64::MAX, i64::MAX, i64::MAX, i64::MAX);
        assert!(!format("%a%A%b%B%c%d%D%e%F%H%I%j%m%M%p%S%T%u%w%x%X%y%Y", &weird).is_empty());
    }

    #[test]
    fn fuzz() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let specs: Vec<char> = "aAbBcdDeFHIjmMnpStTuwxXyYzZ%qEO!é ".chars().collect();
        for _ in 0..200_000 {
            let s = rng.i64();
            match to_datetime(s) {
                Some(t) => assert_eq!(back(&t), Some(s), "{s}"),
                None => assert!(!(MIN_SECS..=MAX_SECS).contains(&s)),
            }
            let f = [rng.i64(), rng.i64(), rng.i64(), rng.i64(), rng.i64(), rng.i64()];
            if let Some(s) = from_fields(f[0], f[1], f[2], f[3], f[4], f[5]) {
                assert!(to_datetime(s).is_some());
            }
            let t = dt(rng.i64(), rng.i64(), rng.i64(), rng.i64(), rng.i64(), rng.i64(), rng.i64(), rng.i64());
            let fmt: String = (0..8)
                .map(|_| {
                    let c = specs[(rng.next() % specs.len() as u64) as usize];
                    if rng.next().is_multiple_of(2) { format!("%{c}") } else { c.to_string() }
                })
                .collect();
            let _ = format(&fmt, &t);
        }
    }

    #[test]
    fn matches_day_by_day_walk() {
        // An independent, naive calendar walked one day at a time across ±300 years.
        let is_leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_len = |y: i64, m: i64| match m {
            2 if is_leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        // Walk forward from 1970-01-01 (a Thursday) and backward to 1670 via the same walk
        // started at 1670-01-01 with the weekday found by counting days back from 1970.
        let mut days = -(1670..1970).map(|y| if is_leap(y) { 366 } else { 365 }).sum::<i64>();
        let (mut y, mut m, mut d, mut yday) = (1670, 1, 1, 1);
        let mut wday = (days + 4).rem_euclid(7) + 1;
        while y < 2270 {
            let tod = days.rem_euclid(SECS_PER_DAY); // vary the time of day too
            let want = dt(y, m, d, tod / 3_600, tod % 3_600 / 60, tod % 60, wday, yday);
            assert_eq!(to_datetime(days * SECS_PER_DAY + tod), Some(want));
            assert_eq!(from_fields(y, m, d, 0, 0, 0), Some(days * SECS_PER_DAY));
            days += 1;
            wday = wday % 7 + 1;
            yday += 1;
            d += 1;
            if d > month_len(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                    yday = 1;
                }
            }
        }
    }

    #[test]
    fn round_trips() {
        let mut s = -SPAN_300Y;
        while s <= SPAN_300Y {
            for secs in [s, s + 37, -s - 1] {
                let t = to_datetime(secs).unwrap();
                assert!((1..=12).contains(&t.month) && (1..=31).contains(&t.day));
                assert!((0..24).contains(&t.hour) && (0..60).contains(&t.min) && (0..60).contains(&t.sec));
                assert!((1..=7).contains(&t.wday) && (1..=366).contains(&t.yday));
                assert_eq!(back(&t), Some(secs));
            }
            s += 100_000;
        }
        for secs in [MIN_SECS, MIN_SECS + 1, MAX_SECS - 1, MAX_SECS] {
            assert_eq!(back(&to_datetime(secs).unwrap()), Some(secs));
        }
    }

    #[test]
    fn normalisation() {
        let at = |y, mo, d, h, mi, s| from_fields(y, mo, d, h, mi, s).unwrap();
        assert_eq!(at(2023, 13, 1, 0, 0, 0), at(2024, 1, 1, 0, 0, 0));
        assert_eq!(at(2023, 0, 1, 0, 0, 0), at(2022, 12, 1, 0, 0, 0));
        assert_eq!(at(2023, -1, 1, 0, 0, 0), at(2022, 11, 1, 0, 0, 0));
        assert_eq!(at(2023, -12, 1, 0, 0, 0), at(2021, 12, 1, 0, 0, 0));
        assert_eq!(at(2023, 25, 1, 0, 0, 0), at(2025, 1, 1, 0, 0, 0));
        assert_eq!(at(0, 12 * 2000 + 1, 1, 0, 0, 0), at(2000, 1, 1, 0, 0, 0));
        assert_eq!(at(2024, 3, 0, 0, 0, 0), at(2024, 2, 29, 0, 0, 0));
        assert_eq!(at(2023, 3, 0, 0, 0, 0), at(2023, 2, 28, 0, 0, 0));
        assert_eq!(at(2024, 1, 0, 0, 0, 0), at(2023, 12, 31, 0, 0, 0));
        assert_eq!(at(2024, 1, -30, 0, 0, 0), at(2023, 12, 1, 0, 0, 0));
        assert_eq!(at(2023, 2, 29, 0, 0, 0), at(2023, 3, 1, 0, 0, 0));
        assert_eq!(at(2023, 1, 366, 0, 0, 0), at(2024, 1, 1, 0, 0, 0));
        assert_eq!(at(2023, 1, 1, 0, 0, 75), at(2023, 1, 1, 0, 1, 15));
        assert_eq!(at(2023, 1, 1, 0, 0, -1), at(2022, 12, 31, 23, 59, 59));
        assert_eq!(at(2023, 1, 1, 24, 0, 0), at(2023, 1, 2, 0, 0, 0));
        assert_eq!(at(2023, 1, 1, -1, 0, 0), at(2022, 12, 31, 23, 0, 0));
        assert_eq!(at(2023, 1, 1, 0, 60, 0), at(2023, 1, 1, 1, 0, 0));
        assert_eq!(at(2023, 1, 1, 0, -61, 0), at(2022, 12, 31, 22, 59, 0));
        assert_eq!(at(1970, 1, 1, 0, 0, 1_700_000_000), 1_700_000_000);
        assert_eq!(at(1970, 1, 1, 0, 0, -1_700_000_000), -1_700_000_000);
        assert_eq!(at(2023, 14, -1, 25, -1, 3_661), at(2024, 1, 31, 2, 0, 1));
    }

    #[test]
    fn each_directive() {
        let t = to_datetime(1_700_000_000).unwrap(); // Tuesday 2023-11-14 22:13:20
        let cases = [
            ("%a", "Tue"),
            ("%A", "Tuesday"),
            ("%b", "Nov"),
            ("%B", "November"),
            ("%c", "Tue Nov 14 22:13:20 2023"),
            ("%d", "14"),
            ("%D", "11/14/23"),
            ("%e", "14"),
            ("%F", "2023-11-14"),
            ("%H", "22"),
            ("%I", "10"),
            ("%j", "318"),
            ("%m", "11"),
            ("%M", "13"),
            ("%n", "\n"),
            ("%p", "PM"),
            ("%S", "20"),
            ("%t", "\t"),
            ("%T", "22:13:20"),
            ("%u", "2"),
            ("%w", "2"),
            ("%x", "11/14/23"),
            ("%X", "22:13:20"),
            ("%y", "23"),
            ("%Y", "2023"),
            ("%z", "+0000"),
            ("%Z", "UTC"),
            ("%%", "%"),
        ];
        for (fmt, want) in cases {
            assert_eq!(format(fmt, &t), want, "{fmt}");
        }

        let epoch = to_datetime(0).unwrap(); // Thursday 1970-01-01 00:00:00
        assert_eq!(format("%c", &epoch), "Thu Jan  1 00:00:00 1970");
        assert_eq!(format("%d|%e|%H|%I|%p|%j|%u|%w|%m|%M|%S", &epoch), "01| 1|00|12|AM|001|4|4|01|00|00");
        let noon = to_datetime(12 * 3_600).unwrap();
        assert_eq!(format("%I %p", &noon), "12 PM");
        let one_pm = to_datetime(13 * 3_600 + 5).unwrap();
        assert_eq!(format("%I:%M:%S %p", &one_pm), "01:00:05 PM");

        let sunday = to_datetime(from_fields(2023, 11, 19, 9, 5, 7).unwrap()).unwrap();
        assert_eq!(format("%a %A %u %w", &sunday), "Sun Sunday 7 0");
        let saturday = to_datetime(from_fields(2023, 11, 18, 0, 0, 0).unwrap()).unwrap();
        assert_eq!(format("%a %A %u %w", &saturday), "Sat Saturday 6 6");
        let months: Vec<String> = (1..=12)
            .map(|m| format("%b %B", &to_datetime(from_fields(2023, m, 1, 0, 0, 0).unwrap()).unwrap()))
            .collect();
        assert_eq!(months[0], "Jan January");
        assert_eq!(months[1], "Feb February");
        assert_eq!(months[8], "Sep September");
        assert_eq!(months[11], "Dec December");

        let year5 = to_datetime(from_fields(5, 3, 4, 0, 0, 0).unwrap()).unwrap();
        assert_eq!(format("%Y %y %F", &year5), "5 05 5-03-04");
        let bc = to_datetime(from_fields(-44, 3, 15, 0, 0, 0).unwrap()).unwrap();
        assert_eq!(format("%Y %y", &bc), "-44 44");
        let leap_end = to_datetime(from_fields(2024, 12, 31, 0, 0, 0).unwrap()).unwrap();
        assert_eq!(format("%j", &leap_end), "366");
    }

    #[test]
    fn corpus_formats() {
        let t = to_datetime(1_700_000_000).unwrap();
        assert_eq!(format("%Y-%m-%dT%XZ", &t), "2023-11-14T22:13:20Z");
        assert_eq!(format("%Y-%m-%dT%X", &t), "2023-11-14T22:13:20");
        assert_eq!(format("%Y%m%d%H%M", &t), "202311142213");
        let t = to_datetime(-1).unwrap();
        assert_eq!(format("%Y-%m-%dT%XZ", &t), "1969-12-31T23:59:59Z");
        assert_eq!(format("%Y%m%d%H%M", &to_datetime(0).unwrap()), "197001010000");
    }

    #[test]
    fn literals_and_unknown_conversions() {
        let t = to_datetime(0).unwrap();
        assert_eq!(format("", &t), "");
        assert_eq!(format("plain text", &t), "plain text");
        assert_eq!(format("%q", &t), "%q");
        assert_eq!(format("%E%O%!", &t), "%E%O%!");
        assert_eq!(format("abc%", &t), "abc%");
        assert_eq!(format("%", &t), "%");
        assert_eq!(format("%%q", &t), "%q");
        assert_eq!(format("%%%", &t), "%%");
        assert_eq!(format("%é日付 %Y年", &t), "%é日付 1970年");
    }
}
