//! Go's number syntax as the Go YAML readers use it: `strconv.ParseInt`/`ParseUint` with base
//! 0 (`0x`, `0o`, `0b` prefixes and a bare leading `0` for octal) or an explicit base, and the
//! float pattern go-yaml resolves plain scalars with; and go-yaml's timestamps.

/// An integer as go-yaml decodes it into an untyped value: `int64` when it fits, else `uint64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoInt {
    /// Fits an `int64`.
    Signed(i64),
    /// Only fits a `uint64`.
    Unsigned(u64),
}

/// `strconv.ParseInt(s, 0, 64)`, falling back to `strconv.ParseUint(s, 0, 64)` for positive
/// numbers beyond `int64`, as go-yaml does.
pub fn parse_int(s: &str) -> Option<GoInt> {
    let (sign, body) = match s.as_bytes().first()? {
        b'-' => (Some(true), &s[1..]),
        b'+' => (Some(false), &s[1..]),
        _ => (None, s),
    };
    let magnitude = parse_prefixed_uint(body)?;
    match sign {
        Some(true) if magnitude <= i64::MAX as u64 => Some(GoInt::Signed(-(magnitude as i64))),
        Some(true) if magnitude == i64::MAX as u64 + 1 => Some(GoInt::Signed(i64::MIN)),
        Some(true) => None,
        Some(false) => i64::try_from(magnitude).ok().map(GoInt::Signed),
        None => Some(i64::try_from(magnitude).map_or(GoInt::Unsigned(magnitude), GoInt::Signed)),
    }
}

/// An unsigned integer in Go's base-0 syntax (`0x`, `0o`, `0b`, a leading `0` for octal),
/// without a sign: `strconv.ParseUint(digits, 0, 64)`.
pub fn parse_prefixed_uint(digits: &str) -> Option<u64> {
    let prefixed = |p: &str| digits.get(..2).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let (radix, body) = if prefixed("0x") {
        (16, &digits[2..])
    } else if prefixed("0o") {
        (8, &digits[2..])
    } else if prefixed("0b") {
        (2, &digits[2..])
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    parse_uint_radix(body, radix)
}

/// `strconv.ParseInt(s, radix, 64)`: an optional sign, then digits.
pub fn parse_int_radix(s: &str, radix: u32) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_uint_radix(digits, radix)?;
    if negative { 0i64.checked_sub_unsigned(magnitude) } else { i64::try_from(magnitude).ok() }
}

/// `strconv.ParseUint(s, radix, 64)`: digits only, no sign.
pub fn parse_uint_radix(s: &str, radix: u32) -> Option<u64> {
    if s.is_empty() || !s.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(s, radix).ok()
}

/// `strconv.ParseFloat` for the decimal syntax YAML scalars use; `None` on overflow, as Go
/// reports a range error there.
pub fn parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut mantissa_digits = i - digits_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        mantissa_digits += i - frac;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// go-yaml's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
pub fn is_float_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml's base-60 float, `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: the emitters quote
/// such strings for YAML 1.1 readers.
pub fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i - start < 2 && b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        match i - start {
            1 => {}
            2 if b[start] <= b'5' => {}
            // A first digit above 5 cannot start a two-digit group; the regex backtracks to a
            // one-digit group, which then must be followed by `:`, `.` or the end.
            2 => i = start + 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml's last resort for `0b`/`-0b` (and, in v3, `0o`/`-0o` when `octal` is set)
/// prefixes: the rest is parsed with an explicit base, which also accepts a sign after the
/// prefix (`0b-1` is -1, while `-0b-1` is no number).
pub fn prefixed_fallback(plain: &str, octal: bool) -> Option<GoInt> {
    let bases: &[(&str, u32)] = if octal { &[("0b", 2), ("0o", 8)] } else { &[("0b", 2)] };
    for &(prefix, radix) in bases {
        if let Some(rest) = plain.strip_prefix(prefix) {
            return parse_int_radix(rest, radix)
                .map(GoInt::Signed)
                .or_else(|| parse_uint_radix(rest, radix).map(GoInt::Unsigned));
        }
        if let Some(rest) = plain.strip_prefix('-').and_then(|p| p.strip_prefix(prefix)) {
            return parse_int_radix(&format!("-{rest}"), radix).map(GoInt::Signed);
        }
    }
    None
}

/// A timestamp as go-yaml's `parseTimestamp` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Four-digit year.
    pub year: u32,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, from 1.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute, 0 to 59.
    pub minute: u32,
    /// Second, 0 to 59.
    pub second: u32,
    /// Nanoseconds (digits past the ninth are dropped, as Go does).
    pub nanos: u32,
    /// Offset east of UTC in minutes.
    pub offset_minutes: i32,
    /// Only a date was given (`2006-1-2`).
    pub date_only: bool,
}

impl Timestamp {
    /// Go's `time.Time.MarshalJSON` (RFC 3339 with trimmed nanoseconds).
    pub fn rfc3339_nano(&self) -> String {
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        if self.offset_minutes == 0 {
            s.push('Z');
        } else {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let m = self.offset_minutes.unsigned_abs();
            s.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
        }
        s
    }
}

/// One or two digits, as Go's `getnum(s, false)`.
fn take_num(s: &[u8]) -> Option<(u32, &[u8])> {
    let d0 = *s.first().filter(|c| c.is_ascii_digit())?;
    match s.get(1).filter(|c| c.is_ascii_digit()) {
        Some(d1) => Some((u32::from(d0 - b'0') * 10 + u32::from(d1 - b'0'), &s[2..])),
        None => Some((u32::from(d0 - b'0'), &s[1..])),
    }
}

fn take_lit(s: &[u8], c: u8) -> Option<&[u8]> {
    s.strip_prefix(&[c])
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml's `parseTimestamp`: text starting `YYYY-`, read by Go's `time.Parse` with the
/// layouts `2006-1-2T15:4:5.999999999Z07:00` (also with `t`), `2006-1-2 15:4:5.999999999`
/// and `2006-1-2`: one- or two-digit fields, checked ranges, and a space in the layout
/// matching a run of spaces (not tabs).
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let s = text.as_bytes();
    if s.len() < 5 || !s[..4].iter().all(u8::is_ascii_digit) || s[4] != b'-' {
        return None;
    }
    let year = s[..4].iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let (month, rest) = take_num(&s[5..])?;
    let (day, rest) = take_num(take_lit(rest, b'-')?)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut t = Timestamp {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset_minutes: 0,
        date_only: rest.is_empty(),
    };
    if rest.is_empty() {
        return Some(t);
    }
    let (sep, mut rest) = rest.split_first()?;
    if *sep == b' ' {
        // Go's `time.Parse` lets a space in the layout match a run of spaces.
        while let Some(r) = rest.strip_prefix(b" ") {
            rest = r;
        }
    }
    let (hour, rest) = take_num(rest)?;
    let (minute, rest) = take_num(take_lit(rest, b':')?)?;
    let (second, mut rest) = take_num(take_lit(rest, b':')?)?;
    if hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    (t.hour, t.minute, t.second) = (hour, minute, second);
    if matches!(rest.first(), Some(b'.' | b',')) && rest.get(1).is_some_and(u8::is_ascii_digit) {
        let n = 1 + rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let digits = &rest[1..n];
        t.nanos = digits.iter().take(9).fold(0u32, |a, d| a * 10 + u32::from(d - b'0'))
            * 10u32.pow(9u32.saturating_sub(digits.len().min(9) as u32));
        rest = &rest[n..];
    }
    match sep {
        b' ' if rest.is_empty() => Some(t),
        b'T' | b't' => {
            if rest == b"Z" {
                return Some(t);
            }
            let [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] = rest else { return None };
            if ![h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let hh = i32::from(h1 - b'0') * 10 + i32::from(h2 - b'0');
            let mm = i32::from(m1 - b'0') * 10 + i32::from(m2 - b'0');
            if hh > 24 || mm > 60 {
                return None;
            }
            t.offset_minutes = if *sign == b'-' { -(hh * 60 + mm) } else { hh * 60 + mm };
            Some(t)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_base_zero_integers() {
        assert_eq!(parse_int("0644"), Some(GoInt::Signed(420)));
        assert_eq!(parse_int("0x1F"), Some(GoInt::Signed(31)));
        assert_eq!(parse_int("-0b101"), Some(GoInt::Signed(-5)));
        assert_eq!(parse_int("18446744073709551615"), Some(GoInt::Unsigned(u64::MAX)));
        assert_eq!(parse_int("-9223372036854775808"), Some(GoInt::Signed(i64::MIN)));
        assert_eq!(parse_int("-9223372036854775809"), None);
        assert_eq!(parse_int("08"), None);
        assert_eq!(parse_prefixed_uint("0O17"), Some(15));
    }

    #[test]
    fn float_syntax() {
        for ok in ["1.", ".5", "-1e3", "+2.5E-1", "7"] {
            assert!(is_float_syntax(ok), "{ok}");
        }
        for bad in [".", "e3", "1e", "1.2.3", "0x1p3"] {
            assert!(!is_float_syntax(bad), "{bad}");
        }
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float("-2.5"), Some(-2.5));
    }

    #[test]
    fn timestamps_like_go_yaml() {
        assert!(parse_timestamp("2001-12-14T21:59:43.10-05:00").is_some());
        assert!(parse_timestamp("2000-02-29 1:2:3").is_some());
        assert!(parse_timestamp("2001-02-29").is_none());
        assert!(parse_timestamp("2001-13-01").is_none());
        // Probed with `kubectl kustomize`: a run of spaces is a timestamp (quoted on output), a
        // tab or a trailing space is not.
        assert!(parse_timestamp("2001-12-14   1:2:3.5").is_some());
        assert!(parse_timestamp("2001-12-14\t1:2:3").is_none());
        assert!(parse_timestamp("2001-12-14 ").is_none());
        let t = parse_timestamp("2001-12-14t21:59:43.1-05:30").map(|t| t.rfc3339_nano());
        assert_eq!(t.as_deref(), Some("2001-12-14T21:59:43.1-05:30"));
    }

    #[test]
    fn binary_prefix_fallback() {
        assert_eq!(prefixed_fallback("0b-1", false), Some(GoInt::Signed(-1)));
        assert_eq!(prefixed_fallback("-0b-1", false), None);
        assert_eq!(prefixed_fallback(&format!("0b{}", "1".repeat(64)), false), Some(GoInt::Unsigned(u64::MAX)));
        assert_eq!(prefixed_fallback("0o17", false), None);
        assert_eq!(prefixed_fallback("0o17", true), Some(GoInt::Signed(15)));
    }
}
