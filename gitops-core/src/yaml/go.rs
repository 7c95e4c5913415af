//! Go's number syntax as the Go YAML readers use it: `strconv.ParseInt`/`ParseUint` with base
//! 0 (`0x`, `0o`, `0b` prefixes and a bare leading `0` for octal) or an explicit base, and the
//! float pattern go-yaml resolves plain scalars with.

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
}
