//! Canonical forms of Kubernetes `resource.Quantity` and Go `time.Duration` values.
//!
//! The API server never stores a quantity as the text it was sent: it parses it
//! (`k8s.io/apimachinery/pkg/api/resource`) and serialises it back in canonical form,
//! so a manifest saying `cpu: 1000m` comes back as `cpu: "1"`, and `memory: 1024Mi`
//! comes back as `"1Gi"`. Fields of type `metav1.Duration` behave the same way
//! (`timeout: 60m` comes back as `"1h0m0s"`). A diff that compared the raw text would
//! report these as drift forever, so the diff engine canonicalises both sides with the
//! functions here before comparing.
//!
//! Everything is exact integer arithmetic: a float round-trip would make values like
//! `0.1` or `129e6` compare wrongly. Nothing here panics; a value that cannot be handled
//! exactly (too many digits, absurd exponents, duration overflow) is reported as invalid,
//! and callers then fall back to comparing the raw text, which is the safe direction
//! (a spurious diff rather than a hidden one).
//!
//! Known, deliberate differences from Go (all about inputs nobody writes):
//! - Go accepts a quantity with no digits at all (`"Mi"`, `"."`, `"-"` parse as zero);
//!   here they are invalid.
//! - Go reuses the caller's original text for a few already-"canonical looking" inputs
//!   (e.g. `"+1"` or `"01"` print back verbatim); here the printed form is always the
//!   one `CanonicalizeBytes` computes, so canonicalise both sides of a comparison.
//! - Exponents that do not fit `i32` are rejected instead of being truncated as Go does,
//!   and decimal-SI values beyond `E` (10^18) print with an `e<exp>` suffix.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// Error for a string that is not a valid quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError {
    input: String,
    reason: &'static str,
}

impl QuantityError {
    fn new(input: &str, reason: &'static str) -> Self {
        QuantityError { input: input.to_owned(), reason }
    }
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid quantity {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for QuantityError {}

/// The suffix family a quantity was written in, which decides how it is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Written with an `e<exp>`/`E<exp>` suffix, printed as `<int>e<exp>`.
    DecimalExponent,
    /// Written with a power-of-1024 suffix (`Ki` … `Ei`), printed with one when exact.
    BinarySI,
    /// Written with a power-of-1000 suffix (`n` … `E`) or none.
    DecimalSI,
}

/// A parsed quantity: exact decimal value plus the suffix family it was written in.
///
/// The value is `±mantissa × 10^exp`, kept normalised (no trailing zeros in the
/// mantissa, zero is `+0 × 10^0`), so the derived equality compares values and
/// formats; two quantities of equal value but different formats are not equal
/// because they print differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    mantissa: u128,
    exp: i32,
    format: Format,
}

/// Go's `maxAllowed`: binary-SI quantities are clamped to the largest int64.
const MAX_BINARY: u128 = i64::MAX as u128;

/// Scale (power of ten) Go rounds every parsed value to: nano.
const NANO_EXP: i64 = -9;

/// Scale `SetDefaults_ResourceList` rounds resource values to: milli.
const MILLI_EXP: i64 = -3;

/// Decimal-SI suffixes for exponents -9, -6, …, 18.
const DECIMAL_SUFFIXES: [(i64, &str); 10] =
    [(-9, "n"), (-6, "u"), (-3, "m"), (0, ""), (3, "k"), (6, "M"), (9, "G"), (12, "T"), (15, "P"), (18, "E")];

/// Binary suffixes indexed by the power of 1024.
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// What a suffix multiplies the number by.
enum Suffix {
    /// `10^exp`, from a decimal-SI suffix.
    Decimal(i64),
    /// `1024^power`.
    Binary(u32),
    /// `10^exp`, from an `e<exp>` suffix.
    Exponent(i64),
}

fn interpret_suffix(suffix: &str) -> Option<Suffix> {
    if let Some(&(exp, _)) = DECIMAL_SUFFIXES.iter().find(|(_, s)| *s == suffix) {
        return Some(Suffix::Decimal(exp));
    }
    if let Some(power) = BINARY_SUFFIXES[1..].iter().position(|s| *s == suffix) {
        // `position` is at most 5, so the conversion cannot fail.
        return u32::try_from(power + 1).ok().map(Suffix::Binary);
    }
    let rest = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E'))?;
    // Go parses the exponent with strconv.ParseInt(_, 10, 64), which takes the same
    // syntax as Rust's integer parser (optional sign, ASCII digits). Go then truncates
    // to int32; out-of-range exponents are rejected here instead.
    let exp: i64 = rest.parse().ok()?;
    i32::try_from(exp).ok()?;
    Some(Suffix::Exponent(exp))
}

fn pow10(n: i64) -> Option<u128> {
    u32::try_from(n).ok().and_then(|n| 10u128.checked_pow(n))
}

/// Moves trailing zeros of the mantissa into the exponent so equal values compare equal.
fn strip_zeros(mut m: u128, mut e: i64) -> (u128, i64) {
    if m == 0 {
        return (0, 0);
    }
    while m.is_multiple_of(10) {
        m /= 10;
        e = e.saturating_add(1);
    }
    (m, e)
}

/// Rounds `m × 10^e` away from zero to a multiple of `10^target` (inf.RoundUp).
fn round_away(m: u128, e: i64, target: i64) -> (u128, i64) {
    if m == 0 || e >= target {
        return (m, e);
    }
    let shift = target.saturating_sub(e);
    match pow10(shift) {
        Some(p) => {
            let (q, r) = (m / p, m % p);
            // p >= 10, so q + 1 cannot overflow.
            let q = if r == 0 { q } else { q + 1 };
            strip_zeros(q, target)
        }
        // More than 38 digits to drop: the whole mantissa is below one unit of `target`.
        None => (1, target),
    }
}

/// Compares `m × 10^e` with the integer `n` without overflowing.
fn cmp_with_int(m: u128, e: i64, n: u128) -> Ordering {
    if m == 0 {
        return 0.cmp(&n);
    }
    if e >= 0 {
        match pow10(e).and_then(|p| m.checked_mul(p)) {
            Some(v) => v.cmp(&n),
            None => Ordering::Greater,
        }
    } else {
        match pow10(e.saturating_neg()).and_then(|p| n.checked_mul(p)) {
            Some(np) => m.cmp(&np),
            None => Ordering::Less,
        }
    }
}

impl Quantity {
    /// Parses a quantity the way Go's `resource.ParseQuantity` does.
    ///
    /// The value is rounded away from zero to nano precision, and binary-SI values are
    /// clamped to ±(2^63 − 1), as Go does. Inputs whose significant digits do not fit
    /// 128 bits are rejected rather than approximated.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let err = |reason| QuantityError::new(s, reason);
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return Err(err("empty string"));
        }
        let mut pos = 0;
        let negative = match bytes[0] {
            b'-' => {
                pos = 1;
                true
            }
            b'+' => {
                pos = 1;
                false
            }
            _ => false,
        };
        let int_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        let int_digits = &bytes[int_start..pos];
        let mut frac_digits: &[u8] = &[];
        if pos < bytes.len() && bytes[pos] == b'.' {
            pos += 1;
            let frac_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            frac_digits = &bytes[frac_start..pos];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(err("no digits"));
        }
        // Only ASCII bytes were consumed, so `pos` is a char boundary.
        let suffix = s.get(pos..).ok_or_else(|| err("malformed number"))?;
        let suffix = interpret_suffix(suffix).ok_or_else(|| err("unknown suffix"))?;
        let (format, dec_exp, bin_power) = match suffix {
            Suffix::Decimal(e) => (Format::DecimalSI, e, 0),
            Suffix::Binary(p) => (Format::BinarySI, 0, p),
            Suffix::Exponent(e) => (Format::DecimalExponent, e, 0),
        };

        let digits: Vec<u8> = int_digits.iter().chain(frac_digits).map(|b| b - b'0').collect();
        let (Some(first), Some(last)) = (digits.iter().position(|&d| d != 0), digits.iter().rposition(|&d| d != 0))
        else {
            // Go's parser special-cases "0" as DecimalSI, but every other zero keeps its
            // suffix family; the format of a zero is never visible in its text anyway.
            return Ok(Quantity { negative: false, mantissa: 0, exp: 0, format });
        };
        let mut mantissa: u128 = 0;
        for &d in &digits[first..=last] {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(d)))
                .ok_or_else(|| err("too many significant digits"))?;
        }
        let trailing = i64::try_from(digits.len() - 1 - last).map_err(|_| err("too long"))?;
        let frac_len = i64::try_from(frac_digits.len()).map_err(|_| err("too long"))?;
        let mut exp = dec_exp.saturating_sub(frac_len).saturating_add(trailing);

        let mut format = format;
        if format == Format::BinarySI {
            // 1024^k = 2^(10k) is an integer, so the product stays an exact decimal.
            let factor = 1u128 << (10 * bin_power);
            match mantissa.checked_mul(factor) {
                Some(m) => (mantissa, exp) = strip_zeros(m, exp),
                // An integer this large is far beyond the clamp below.
                None if exp >= 0 => (mantissa, exp) = (MAX_BINARY, 0),
                None => return Err(err("too many significant digits")),
            }
        }
        (mantissa, exp) = round_away(mantissa, exp, NANO_EXP);
        if format == Format::BinarySI {
            if cmp_with_int(mantissa, exp, MAX_BINARY) == Ordering::Greater {
                (mantissa, exp) = (MAX_BINARY, 0);
            }
            if cmp_with_int(mantissa, exp, 1) == Ordering::Less {
                format = Format::DecimalSI;
            }
        }
        let exp = i32::try_from(exp).map_err(|_| err("exponent out of range"))?;
        Ok(Quantity { negative, mantissa, exp, format })
    }

    /// Rounds away from zero to milli precision, as Go's `RoundUp(-3)` does (which is
    /// what the API server applies to every `ResourceList` value). Note that Go rounds
    /// magnitudes, so `-0.0001` becomes `-1m`. Returns true if the value changed (the
    /// opposite sense of Go's `exact` result).
    pub fn round_up_to_milli(&mut self) -> bool {
        let (m, e) = round_away(self.mantissa, i64::from(self.exp), MILLI_EXP);
        if m == self.mantissa && e == i64::from(self.exp) {
            return false;
        }
        match i32::try_from(e) {
            Ok(e) => {
                self.mantissa = m;
                self.exp = e;
                true
            }
            // Unreachable: rounding only moves the exponent up to about -3 + 38.
            Err(_) => false,
        }
    }

    /// The canonical string the API server prints (Go's `Quantity.String()` as computed
    /// by `CanonicalizeBytes`).
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_owned();
        }
        let sign = if self.negative { "-" } else { "" };
        let exp = i64::from(self.exp);
        // Binary form only for exact integers of magnitude >= 1024; anything else would
        // have to round, so Go falls back to decimal SI.
        if self.format == Format::BinarySI
            && exp >= 0
            && cmp_with_int(self.mantissa, exp, 1024) != Ordering::Less
            && let Some(mut v) = pow10(exp).and_then(|p| self.mantissa.checked_mul(p))
        {
            let mut power = 0;
            while power < BINARY_SUFFIXES.len() - 1 && v >= 1024 && v.is_multiple_of(1024) {
                v /= 1024;
                power += 1;
            }
            return format!("{sign}{v}{}", BINARY_SUFFIXES[power]);
        }
        // Engineering notation: lower the exponent to a multiple of three by appending
        // zeros to the mantissa (as text, so it cannot overflow).
        let pad = exp.rem_euclid(3);
        let exp3 = exp - pad;
        let zeros = "0".repeat(usize::try_from(pad).unwrap_or(0));
        let suffix: Cow<'static, str> = match self.format {
            Format::DecimalExponent if exp3 == 0 => Cow::Borrowed(""),
            Format::DecimalExponent => Cow::Owned(format!("e{exp3}")),
            Format::DecimalSI | Format::BinarySI => match DECIMAL_SUFFIXES.iter().find(|(e, _)| *e == exp3) {
                Some(&(_, s)) => Cow::Borrowed(s),
                None => Cow::Owned(format!("e{exp3}")),
            },
        };
        format!("{sign}{}{zeros}{suffix}", self.mantissa)
    }

    /// The suffix family the quantity was written in (after Go's parse-time adjustment:
    /// a binary-SI value strictly between -1 and 1 becomes decimal SI).
    pub fn format(&self) -> Format {
        self.format
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

/// The text Go's `encoding/json` would write for a JSON number, which is what the API
/// server actually parses when a manifest says `cpu: 1`.
fn number_text(n: &serde_json::Number) -> Option<String> {
    if let Some(i) = n.as_i64() {
        return Some(i.to_string());
    }
    // Kubernetes decodes numbers that do not fit int64 as float64, so a large u64 goes
    // through the float path below, like in Go.
    let f = n.as_f64()?;
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    // Go's encoder switches to exponent notation outside [1e-6, 1e21); the exponent
    // form then makes the quantity a DecimalExponent one, so mirror the switch. Both
    // languages print the shortest round-tripping digits.
    if abs == 0.0 || (1e-6..1e21).contains(&abs) { Some(format!("{f}")) } else { Some(format!("{f:e}")) }
}

/// Canonical form of a JSON value holding a quantity: strings are parsed, JSON numbers
/// are formatted as their decimal text first (the API server accepts `cpu: 1` and
/// returns `"1"`).
///
/// `round_milli` = true for values inside a `ResourceList` (`resources.limits`,
/// `resources.requests`, …), which the server rounds up to milli precision.
///
/// Returns `None` when the value is not a valid quantity (callers then leave it
/// untouched), when it is not a string or number, and when it is a string that is
/// already canonical (so callers avoid an allocation). A valid number always yields
/// `Some`, since the server returns it as a string. Surrounding whitespace in strings is
/// ignored, as the server's `UnmarshalJSON` trims it.
pub fn canonicalize_value(v: &Value, round_milli: bool) -> Option<Value> {
    let (text, original): (Cow<'_, str>, Option<&str>) = match v {
        Value::String(s) => (Cow::Borrowed(s.trim()), Some(s.as_str())),
        Value::Number(n) => (Cow::Owned(number_text(n)?), None),
        _ => return None,
    };
    let mut q = Quantity::parse(&text).ok()?;
    if round_milli {
        q.round_up_to_milli();
    }
    let canonical = q.canonical();
    if original == Some(canonical.as_str()) {
        return None;
    }
    Some(Value::String(canonical))
}

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// Magnitude bound of an int64 duration (the magnitude of `i64::MIN`).
const DURATION_LIMIT: u64 = 1 << 63;

fn duration_unit(unit: &[u8]) -> Option<u64> {
    match unit {
        b"ns" => Some(NANOSECOND),
        // "µs" (U+00B5 micro sign) and "μs" (U+03BC Greek mu) are both accepted by Go.
        b"us" | b"\xC2\xB5s" | b"\xCE\xBCs" => Some(MICROSECOND),
        b"ms" => Some(MILLISECOND),
        b"s" => Some(SECOND),
        b"m" => Some(MINUTE),
        b"h" => Some(HOUR),
        _ => None,
    }
}

/// Go's `leadingInt`: the leading decimal digits, failing on overflow past 2^63.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > DURATION_LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > DURATION_LIMIT {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Go's `leadingFraction`: fraction digits and their scale; extra precision is dropped
/// rather than treated as overflow.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1.0f64;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if !overflow {
            if x > (DURATION_LIMIT - 1) / 10 {
                overflow = true;
            } else {
                let y = x * 10 + u64::from(s[i] - b'0');
                if y > DURATION_LIMIT {
                    overflow = true;
                } else {
                    x = y;
                    scale *= 10.0;
                }
            }
        }
        i += 1;
    }
    (x, scale, &s[i..])
}

/// Go's `time.ParseDuration`, returning nanoseconds.
fn parse_go_duration(orig: &str) -> Option<i64> {
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while let Some(&c) = s.first() {
        if !(c == b'.' || c.is_ascii_digit()) {
            return None;
        }
        let before = s.len();
        let (v, rest) = leading_int(s)?;
        s = rest;
        let pre = before != s.len();

        let mut post = false;
        let mut f = 0u64;
        let mut scale = 1.0f64;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            let (ff, sc, rest) = leading_fraction(s);
            (f, scale, s) = (ff, sc, rest);
            post = before != s.len();
        }
        if !pre && !post {
            return None;
        }

        let unit_len = s.iter().position(|&c| c == b'.' || c.is_ascii_digit()).unwrap_or(s.len());
        if unit_len == 0 {
            return None;
        }
        let unit = duration_unit(&s[..unit_len])?;
        s = &s[unit_len..];

        if v > DURATION_LIMIT / unit {
            return None;
        }
        let mut v = v * unit;
        if f > 0 {
            // Go computes the fractional part in float64 and truncates; replicate it so
            // odd inputs like "1.0000000001h" land on the same nanosecond.
            let frac = (f as f64 * (unit as f64 / scale)) as u64;
            v = v.checked_add(frac)?;
            if v > DURATION_LIMIT {
                return None;
            }
        }
        // Go's own sum can wrap here for absurd inputs; treat that as overflow.
        total = total.checked_add(v)?;
        if total > DURATION_LIMIT {
            return None;
        }
    }
    if neg {
        // total <= 2^63, so the negation always fits.
        return Some(0i64.checked_sub_unsigned(total).unwrap_or(i64::MIN));
    }
    i64::try_from(total).ok()
}

/// `v / 10^prec` and the fraction `.ddd` with trailing zeros removed (Go's `fmtFrac`).
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let Some(p) = 10u64.checked_pow(prec) else {
        return (v, String::new());
    };
    let (int, frac) = (v / p, v % p);
    if frac == 0 {
        return (int, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (int, format!(".{}", digits.trim_end_matches('0')))
}

/// Go's `Duration.String()`.
fn format_go_duration(d: i64) -> String {
    let sign = if d < 0 { "-" } else { "" };
    let u = d.unsigned_abs();
    if u == 0 {
        return "0s".to_owned();
    }
    if u < SECOND {
        let (prec, unit) = if u < MICROSECOND {
            (0, "ns")
        } else if u < MILLISECOND {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (int, frac) = split_frac(u, prec);
        return format!("{sign}{int}{frac}{unit}");
    }
    let (secs, frac) = split_frac(u, 9);
    let (mins, s) = (secs / 60, secs % 60);
    if mins == 0 {
        return format!("{sign}{s}{frac}s");
    }
    let (hours, m) = (mins / 60, mins % 60);
    if hours == 0 { format!("{sign}{m}m{s}{frac}s") } else { format!("{sign}{hours}h{m}m{s}{frac}s") }
}

/// Canonical Go `time.Duration` text (what `metav1.Duration` marshals to), e.g.
/// `"60m"` → `"1h0m0s"`, `"1.5s"` → `"1.5s"`, `"0"` → `"0s"`, `"300ms"` → `"300ms"`,
/// `"1h"` → `"1h0m0s"`, `"-2m"` → `"-2m0s"`, `"1us"`/`"1µs"` → `"1µs"`.
///
/// A Go duration (`1h30m`, `5s`, `-1.5ms`) in nanoseconds; `None` if the text is not one or
/// overflows int64.
pub fn go_duration_nanos(s: &str) -> Option<i64> {
    parse_go_duration(s)
}

/// Returns `None` if the text is not a valid Go duration or overflows int64
/// nanoseconds.
pub fn canonical_duration(s: &str) -> Option<String> {
    parse_go_duration(s).map(format_go_duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(s: &str) -> String {
        match Quantity::parse(s) {
            Ok(q) => q.canonical(),
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn canon_milli(s: &str) -> String {
        let mut q = Quantity::parse(s).unwrap();
        q.round_up_to_milli();
        q.canonical()
    }

    #[test]
    fn canonical_examples() {
        let cases = [
            ("1000m", "1"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("5.", "5"),
            ("1.5", "1500m"),
            ("0.1", "100m"),
            ("100m", "100m"),
            ("1", "1"),
            ("2000", "2k"),
            ("1e3", "1e3"),
            ("1000000", "1M"),
            ("1M", "1M"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("123Mi", "123Mi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("2.5Gi", "2560Mi"),
            ("1Ki", "1Ki"),
            ("1023Ki", "1023Ki"),
            ("0.5Gi", "512Mi"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
            ("12e6", "12e6"),
            ("0", "0"),
            ("0m", "0"),
            ("0Mi", "0"),
            ("-0", "0"),
            ("-1", "-1"),
            ("+1", "1"),
            ("1.0", "1"),
            ("100.000", "100"),
            ("0.0001", "100u"),
            ("500Mi", "500Mi"),
            ("1n", "1n"),
            ("1u", "1u"),
            ("1k", "1k"),
            ("1G", "1G"),
            ("1T", "1T"),
            ("1P", "1P"),
            ("1E", "1E"),
            ("12E", "12E"),
            ("1000E", "1e21"),
            ("1E3", "1e3"),
            ("1e+3", "1e3"),
            ("1e-3", "1e-3"),
            ("80e-3", "80e-3"),
            ("1.5e3", "1500"),
            ("1500e-3", "1500e-3"),
            ("1e0", "1"),
            ("1Ei", "1Ei"),
            ("1025", "1025"),
            ("1025Ki", "1025Ki"),
            ("1234567m", "1234567m"),
            ("-1.5Gi", "-1536Mi"),
            ("-0.5Ki", "-512"),
            ("1.0005Ki", "1024512m"),
            ("10800e-4", "1080e-3"),
            ("1.08", "1080m"),
            ("0.1n", "1n"),
            ("-0.1n", "-1n"),
            ("0.0000000015", "2n"),
            ("1e-12", "1e-9"),
            ("00100m", "100m"),
            ("8Ei", "9223372036854775807"),
            ("-8Ei", "-9223372036854775807"),
            ("9223372036854775808", "9223372036854775808"),
            ("99999999999999999999999Ki", "9223372036854775807"),
            ("340282366920938463463374607431768211455", "340282366920938463463374607431768211455"),
            ("1e2147483647", "10e2147483646"),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "canonical({input:?})");
        }
    }

    #[test]
    fn round_up_to_milli() {
        let cases = [
            ("0.0001", "1m"),
            ("1.0001", "1001m"),
            ("500Mi", "500Mi"),
            ("1", "1"),
            ("100m", "100m"),
            ("1n", "1m"),
            ("-0.0001", "-1m"),
            ("0.0015", "2m"),
            ("0.001", "1m"),
            ("1.5Ki", "1536"),
            ("1.0000001Ki", "1024001m"), // 1024.0001024 is not an integer
            ("1e-9", "1e-3"),
        ];
        for (input, want) in cases {
            assert_eq!(canon_milli(input), want, "rounded({input:?})");
        }
        let mut q = Quantity::parse("0.0001").unwrap();
        assert!(q.round_up_to_milli());
        assert!(!q.round_up_to_milli());
        let mut q = Quantity::parse("1").unwrap();
        assert!(!q.round_up_to_milli());
    }

    #[test]
    fn invalid_inputs() {
        let cases = [
            "",
            "abc",
            "1.2.3",
            "1 Gi",
            "1Kb",
            "Mi",
            "1e",
            "--1",
            "1e3.5",
            ".",
            "-",
            "+",
            " 1",
            "1 ",
            "1i",
            "0.1mi",
            "1.1.M",
            "1+1.0M",
            "-3.01e-",
            "1kK",
            "1K",
            "1m5",
            "1Ki3",
            "1e99999999999",
            "1ee3",
            "1e+-3",
            "1µ",
            "１",
            "1e3e",
            "Ki1",
            // More significant digits than 128 bits hold.
            "3402823669209384634633746074317682114551",
        ];
        for input in cases {
            assert!(Quantity::parse(input).is_err(), "{input:?} should be invalid");
        }
        let e = Quantity::parse("1Kb").unwrap_err();
        assert!(e.to_string().contains("1Kb"));
    }

    #[test]
    fn formats() {
        let f = |s: &str| Quantity::parse(s).unwrap().format();
        assert_eq!(f("1"), Format::DecimalSI);
        assert_eq!(f("1m"), Format::DecimalSI);
        assert_eq!(f("1Ki"), Format::BinarySI);
        assert_eq!(f("0.5Ki"), Format::BinarySI);
        assert_eq!(f("0.0001Ki"), Format::DecimalSI);
        assert_eq!(f("1e3"), Format::DecimalExponent);
        assert_eq!("1Mi".parse::<Quantity>().unwrap(), Quantity::parse("1024Ki").unwrap());
        assert_ne!(Quantity::parse("1Ki").unwrap(), Quantity::parse("1024").unwrap());
    }

    #[test]
    fn json_values() {
        let c = |v: Value, r| canonicalize_value(&v, r);
        assert_eq!(c(json!(1), false), Some(json!("1")));
        assert_eq!(c(json!(0.5), false), Some(json!("500m")));
        assert_eq!(c(json!(2.5), false), Some(json!("2500m")));
        assert_eq!(c(json!(1e3), false), Some(json!("1k")));
        assert_eq!(c(json!(1000.0), false), Some(json!("1k")));
        assert_eq!(c(json!(-0.0), false), Some(json!("0")));
        assert_eq!(c(json!(1e21), false), Some(json!("1e21")));
        assert_eq!(c(json!(1.5e-7), false), Some(json!("150e-9")));
        assert_eq!(c(json!(u64::MAX), false), Some(json!("18446744073709552k")));
        assert_eq!(c(json!(0.0001), true), Some(json!("1m")));
        assert_eq!(c(json!("1000m"), false), Some(json!("1")));
        assert_eq!(c(json!("1"), false), None);
        assert_eq!(c(json!("1Gi"), true), None);
        assert_eq!(c(json!(" 1 "), false), Some(json!("1")));
        assert_eq!(c(json!("0.0001"), false), Some(json!("100u")));
        assert_eq!(c(json!("0.0001"), true), Some(json!("1m")));
        assert_eq!(c(json!("nonsense"), false), None);
        assert_eq!(c(json!(true), false), None);
        assert_eq!(c(json!(null), false), None);
        assert_eq!(c(json!(["1"]), false), None);
        assert_eq!(c(json!({"a": 1}), false), None);
    }

    #[test]
    fn durations() {
        let cases = [
            ("60m", "1h0m0s"),
            ("1.5s", "1.5s"),
            ("0", "0s"),
            ("-0", "0s"),
            ("+0", "0s"),
            ("0s", "0s"),
            ("300ms", "300ms"),
            ("1h", "1h0m0s"),
            ("-2m", "-2m0s"),
            ("1us", "1µs"),
            ("1µs", "1µs"),
            ("1μs", "1µs"),
            ("1.5us", "1.5µs"),
            ("1ns", "1ns"),
            ("1000ns", "1µs"),
            ("1001ns", "1.001µs"),
            ("150s", "2m30s"),
            ("72h3m0.5s", "72h3m0.5s"),
            ("1h30m", "1h30m0s"),
            ("90m", "1h30m0s"),
            ("1.5h", "1h30m0s"),
            (".5s", "500ms"),
            ("5.s", "5s"),
            ("1s1s", "2s"),
            ("1m-0s", ""),
            ("2562047h47m16.854775807s", "2562047h47m16.854775807s"),
            ("9223372036854775807ns", "2562047h47m16.854775807s"),
            ("-9223372036854775808ns", "-2562047h47m16.854775808s"),
            ("1.0000000001h", "1h0m0.00000036s"),
            ("0.1ns", "0s"),
            ("1.00000000000000000000001s", "1s"),
        ];
        for (input, want) in cases {
            let got = canonical_duration(input);
            if want.is_empty() {
                assert_eq!(got, None, "{input:?}");
            } else {
                assert_eq!(got.as_deref(), Some(want), "{input:?}");
            }
        }
        let invalid = [
            "",
            "-",
            "+",
            "1",
            "s",
            ".s",
            "-.s",
            "1d",
            "1 s",
            " 1s",
            "1s ",
            "1.2.3s",
            "9223372036854775808ns",
            "9223372036854775807ns1ns",
            "2562048h",
            "99999999999999999999s",
            "9223372036854775808ns9223372036854775808ns",
            "1S",
            "1sec",
            "1µ",
        ];
        for input in invalid {
            assert_eq!(canonical_duration(input), None, "{input:?}");
        }
    }

    /// Small deterministic generator so the property test needs no extra crates.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn digits(&mut self, max_len: usize) -> String {
            let len = self.below(max_len + 1);
            (0..len)
                .map(|_| {
                    // Bias towards zeros: trailing/leading zeros exercise normalisation.
                    if self.below(3) == 0 { '0' } else { char::from(b'0' + self.below(10) as u8) }
                })
                .collect()
        }
    }

    const SUFFIXES: [&str; 24] = [
        "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "e3", "e-3", "E6", "e0",
        "e-12", "e20", "e+7", "e-1",
    ];

    /// Approximate value of a quantity text, computed independently of the parser.
    fn approx(s: &str) -> f64 {
        let multipliers = [
            ("Ki", 1024f64),
            ("Mi", 1024f64.powi(2)),
            ("Gi", 1024f64.powi(3)),
            ("Ti", 1024f64.powi(4)),
            ("Pi", 1024f64.powi(5)),
            ("Ei", 1024f64.powi(6)),
            ("n", 1e-9),
            ("u", 1e-6),
            ("m", 1e-3),
            ("k", 1e3),
            ("M", 1e6),
            ("G", 1e9),
            ("T", 1e12),
            ("P", 1e15),
            ("E", 1e18),
        ];
        for (suffix, mult) in multipliers {
            if let Some(num) = s.strip_suffix(suffix) {
                return num.parse::<f64>().unwrap() * mult;
            }
        }
        s.parse::<f64>().unwrap()
    }

    #[test]
    fn property_canonical_is_a_fixed_point() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut checked = 0;
        for _ in 0..20_000 {
            let sign = ["", "-", "+"][rng.below(3)];
            let int = rng.digits(8);
            let frac = if rng.below(2) == 0 { format!(".{}", rng.digits(12)) } else { String::new() };
            let suffix = SUFFIXES[rng.below(SUFFIXES.len())];
            let input = format!("{sign}{int}{frac}{suffix}");
            let Ok(mut q) = Quantity::parse(&input) else {
                assert!(int.is_empty() && frac.len() <= 1, "{input:?} rejected");
                continue;
            };
            for round in [false, true] {
                if round {
                    q.round_up_to_milli();
                }
                let c = q.canonical();
                let again = Quantity::parse(&c).unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(again.canonical(), c, "{input:?}");
                assert_eq!(
                    (again.negative, again.mantissa, again.exp),
                    (q.negative, q.mantissa, q.exp),
                    "{input:?} -> {c:?} changed value"
                );
                // Independent check of the value, away from the nano rounding and the
                // binary clamp where an f64 approximation says nothing useful.
                let want = approx(&input);
                if !round && want.abs() > 1e-6 && want.abs() < 9e18 {
                    let got = approx(&c);
                    // Allow for Go's rounding up to a whole nano.
                    let tolerance = 1e-9 + want.abs() * 1e-12;
                    assert!((want - got).abs() <= tolerance, "{input:?} -> {c:?}: {want} vs {got}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 5_000, "only {checked} values cross-checked");
    }

    #[test]
    fn property_duration_fixed_point() {
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        let units = ["ns", "us", "µs", "ms", "s", "m", "h"];
        for _ in 0..5_000 {
            let parts = 1 + rng.below(3);
            let mut input = String::from(["", "-", "+"][rng.below(3)]);
            for _ in 0..parts {
                input.push_str(&rng.digits(5));
                if rng.below(2) == 0 {
                    input.push('.');
                    input.push_str(&rng.digits(4));
                }
                input.push_str(units[rng.below(units.len())]);
            }
            if let Some(c) = canonical_duration(&input) {
                assert_eq!(canonical_duration(&c).as_deref(), Some(c.as_str()), "{input:?}");
                assert_eq!(parse_go_duration(&c), parse_go_duration(&input), "{input:?}");
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let alphabet: Vec<char> = "0123456789.+-eEinumkKMGTPsh µμ9".chars().collect();
        let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
        for _ in 0..50_000 {
            let len = rng.below(45);
            let s: String = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
            if let Ok(mut q) = Quantity::parse(&s) {
                let c = q.canonical();
                assert!(Quantity::parse(&c).is_ok(), "{s:?} -> {c:?}");
                q.round_up_to_milli();
                let _ = q.canonical();
            }
            let _ = canonical_duration(&s);
            let _ = canonicalize_value(&Value::String(s), true);
        }
    }
}
