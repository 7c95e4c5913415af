//! The pieces of Go's standard library both image tools lean on, with Go's exact rules:
//! - [`compile`]: a Go RE2 regular expression (the `regex` crate reads the same syntax;
//!   tags are ASCII, where Go's ASCII-only `\d`, `\w`, `\s` and `\b` agree with the crate's);
//! - [`expand`]: `Regexp.Expand`, the template `$1`, `${1}`, `$name`, `${name}`, `$$`;
//! - [`parse_float`]: `strconv.ParseFloat(s, 64)`, hexadecimal floats, `Inf`, `NaN` and
//!   digit-separating underscores included;
//! - Go's `filepath.Match` is [`crate::appset::generators::pathmatch::go_path_match`].

use regex::{Captures, Regex};

/// Compiles a Go regular expression; the error is the crate's message, which names the
/// position.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    // Go has no size limit to speak of for patterns this short; the crate's default (10 MB
    // compiled) refuses only patterns no tag filter needs.
    Regex::new(pattern)
}

/// Go's `Regexp.Expand(nil, template, src, match)`: the template with each `$name`,
/// `${name}` (a group number or name) replaced by what that group matched, `$$` by `$`.
///
/// Go's rules, kept because they decide what a Flux `extract` yields:
/// - a name is the longest run of letters, digits and `_` (`$1x` is the group *named* `1x`,
///   which is why `${1}x` exists); a number with a leading zero is a name too;
/// - a group that did not take part, a number past the last group or an unknown name
///   expand to nothing;
/// - a `$` not followed by a name (or `${` without `}`) is kept as it is.
pub fn expand(regex: &Regex, template: &str, caps: &Captures<'_>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = template_name(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => regex.capture_names().position(|n| n == Some(name)).and_then(|i| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// A leading `name` or `{name}` (the `$` already gone) and what follows it.
fn template_name(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body.find(|c: char| !(c.is_alphabetic() || c.is_numeric() || c == '_')).unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    if braced {
        let after = body[end..].strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, &body[end..]))
}

/// Go reads a name as a group number when it is all ASCII digits, below 10^8 as it goes,
/// and has no leading zero.
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    let mut n: usize = 0;
    for b in name.bytes() {
        if !b.is_ascii_digit() || n >= 100_000_000 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

/// Why `strconv.ParseFloat` refuses a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FloatError {
    /// Not a Go floating-point literal.
    #[error("invalid syntax")]
    Syntax,
    /// Too large for a float64 (Go returns ±Inf with this error).
    #[error("value out of range")]
    Range,
}

/// Go's `strconv.ParseFloat(s, 64)`: decimal (`1`, `-1.5`, `.5`, `5.`, `1e3`) and hexadecimal
/// (`0x1.8p1`, exponent required) literals, `_` between digits, `Inf`/`Infinity` with a
/// sign and `NaN` without one (any case). Out of range is an error; underflow is zero.
pub fn parse_float(s: &str) -> Result<f64, FloatError> {
    if let Some(f) = special(s) {
        return Ok(f);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'+') => {
            i = 1;
            false
        }
        Some(b'-') => {
            i = 1;
            true
        }
        _ => false,
    };
    let hex = i + 2 < b.len() && b[i] == b'0' && b[i + 1].eq_ignore_ascii_case(&b'x');
    if hex {
        i += 2;
    }
    let base: u64 = if hex { 16 } else { 10 };
    let max_digits = if hex { 16 } else { 19 };
    let (mut underscores, mut saw_dot, mut saw_digits) = (false, false, false);
    let (mut mantissa, mut nd, mut nd_mant, mut dp, mut trunc) = (0u64, 0i64, 0i64, 0i64, false);
    while i < b.len() {
        let c = b[i];
        let digit = match c {
            b'_' => {
                underscores = true;
                i += 1;
                continue;
            }
            b'.' if !saw_dot => {
                saw_dot = true;
                dp = nd;
                i += 1;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            b'a'..=b'f' | b'A'..=b'F' if hex => u64::from(c.to_ascii_lowercase() - b'a' + 10),
            _ => break,
        };
        saw_digits = true;
        i += 1;
        if digit == 0 && nd == 0 {
            dp -= 1;
            continue;
        }
        nd += 1;
        if nd_mant < max_digits {
            mantissa = mantissa * base + digit;
            nd_mant += 1;
        } else if digit != 0 {
            trunc = true;
        }
    }
    if !saw_digits {
        return Err(FloatError::Syntax);
    }
    if !saw_dot {
        dp = nd;
    }
    if hex {
        dp *= 4;
        nd_mant *= 4;
    }
    let exponent_char = if hex { b'p' } else { b'e' };
    if i < b.len() && b[i].eq_ignore_ascii_case(&exponent_char) {
        i += 1;
        let mut sign = 1;
        match b.get(i) {
            Some(b'+') => i += 1,
            Some(b'-') => {
                i += 1;
                sign = -1;
            }
            _ => {}
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(FloatError::Syntax);
        }
        let mut e: i64 = 0;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            if b[i] == b'_' {
                underscores = true;
            } else if e < 10_000 {
                e = e * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        dp += e * sign;
    } else if hex {
        return Err(FloatError::Syntax);
    }
    if i != b.len() || (underscores && !underscores_ok(s)) {
        return Err(FloatError::Syntax);
    }
    if hex {
        let exp = if mantissa != 0 { dp - nd_mant } else { 0 };
        return hex_float(mantissa, exp, trunc, negative);
    }
    // The syntax is Go's; the value is the correctly rounded one, which Rust computes too.
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    let value: f64 = plain.parse().map_err(|_| FloatError::Syntax)?;
    if value.is_infinite() { Err(FloatError::Range) } else { Ok(value) }
}

/// `Inf`, `+Infinity`, `-inf`, `NaN` in any case (Go's `special`): the whole text or nothing.
fn special(s: &str) -> Option<f64> {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'+') => (1.0, &s[1..]),
        Some(b'-') => (-1.0, &s[1..]),
        _ => {
            if s.eq_ignore_ascii_case("nan") {
                return Some(f64::NAN);
            }
            (1.0, s)
        }
    };
    (body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity")).then_some(sign * f64::INFINITY)
}

/// Go's `underscoreOK`: `_` only between digits, or between a base prefix and a digit.
fn underscores_ok(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `atofHex` for float64: `mantissa * 2^exp`, rounded half to even to 53 bits, with
/// `trunc` standing for nonzero digits dropped while reading.
fn hex_float(mut mantissa: u64, mut exp: i64, trunc: bool, negative: bool) -> Result<f64, FloatError> {
    const MANT_BITS: u32 = 52;
    const BIAS: i64 = -1023;
    const MAX_EXP: i64 = (1 << 11) + BIAS - 2;
    const MIN_EXP: i64 = BIAS + 1;
    exp += i64::from(MANT_BITS);
    while mantissa != 0 && mantissa >> (MANT_BITS + 2) == 0 {
        mantissa <<= 1;
        exp -= 1;
    }
    if trunc {
        mantissa |= 1;
    }
    while mantissa >> (1 + MANT_BITS + 2) != 0 {
        mantissa = (mantissa >> 1) | (mantissa & 1);
        exp += 1;
    }
    while mantissa > 1 && exp < MIN_EXP - 2 {
        mantissa = (mantissa >> 1) | (mantissa & 1);
        exp += 1;
    }
    let mut round = mantissa & 3;
    mantissa >>= 2;
    round |= mantissa & 1;
    exp += 2;
    if round == 3 {
        mantissa += 1;
        if mantissa == 1 << (1 + MANT_BITS) {
            mantissa >>= 1;
            exp += 1;
        }
    }
    if mantissa >> MANT_BITS == 0 {
        exp = BIAS;
    }
    if exp > MAX_EXP {
        return Err(FloatError::Range);
    }
    let mut bits = mantissa & ((1 << MANT_BITS) - 1);
    bits |= (((exp - BIAS) & ((1 << 11) - 1)) as u64) << MANT_BITS;
    if negative {
        bits |= 1 << 63;
    }
    Ok(f64::from_bits(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_follows_go_template_rules() {
        let re = compile(r"^(?P<major>\d+)\.(\d+)(?:-(?P<pre>\w+))?$").unwrap();
        // (template, input, expansion)
        let cases = [
            ("$1", "12.3", "12"),
            ("${1}", "12.3", "12"),
            ("$major.$2", "12.3", "12.3"),
            ("${major}x", "12.3", "12x"),
            ("$1x", "12.3", ""),
            ("$01", "12.3", ""),
            ("$9", "12.3", ""),
            ("$0", "12.3", "12.3"),
            ("$pre", "12.3", ""),
            ("$pre", "12.3-rc1", "rc1"),
            ("$$1", "12.3", "$1"),
            ("a$", "12.3", "a$"),
            ("$-", "12.3", "$-"),
            ("${1", "12.3", "${1"),
            ("${}", "12.3", "${}"),
            ("v$major-$2", "1.2", "v1-2"),
            ("plain", "1.2", "plain"),
            ("", "1.2", ""),
        ];
        for (template, input, want) in cases {
            let caps = re.captures(input).unwrap();
            assert_eq!(expand(&re, template, &caps), want, "{template:?} on {input:?}");
        }
        // A name made of letters beyond ASCII is still one name.
        let re = compile(r"(?P<é>a)").unwrap();
        let caps = re.captures("a").unwrap();
        assert_eq!(expand(&re, "[$é]", &caps), "[a]");
    }

    #[test]
    fn parse_float_accepts_what_go_accepts() {
        let ok: &[(&str, f64)] = &[
            ("1", 1.0),
            ("-1.5", -1.5),
            ("+2", 2.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E-2", 0.01),
            ("007", 7.0),
            ("0.001", 0.001),
            ("1_000", 1000.0),
            ("1_0.2_5", 10.25),
            ("0x10p0", 16.0),
            ("0x1.8p1", 3.0),
            ("0X_1p4", 16.0),
            ("0x.8p0", 0.5),
            ("-0x1p-2", -0.25),
            ("0x1p-1074", 5e-324),
            ("0x1.fffffffffffff8p0", 2.0),
            ("1e-400", 0.0),
            ("Inf", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
            ("+INF", f64::INFINITY),
            ("20240131120000", 20240131120000.0),
        ];
        for (text, want) in ok {
            assert_eq!(parse_float(text), Ok(*want), "{text}");
        }
        assert!(parse_float("NaN").unwrap().is_nan());
        assert!(parse_float("nan").unwrap().is_nan());
        let bad = [
            "", "+", ".", "e3", "1e", "1e+", "1.2.3", "v1", "1a", "0x1", "0x", "0x1.8", "+nan", "infin", "1__0", "_1",
            "1_", "1_.5", "1._5", "0b101", "1 ", " 1", "1,5", "0x1g", "1e3_",
        ];
        for text in bad {
            assert_eq!(parse_float(text), Err(FloatError::Syntax), "{text}");
        }
        assert_eq!(parse_float("1e400"), Err(FloatError::Range));
        assert_eq!(parse_float("0x1p1024"), Err(FloatError::Range));
        assert_eq!(parse_float("0x1p1023"), Ok(8.98846567431158e307));
    }
}
