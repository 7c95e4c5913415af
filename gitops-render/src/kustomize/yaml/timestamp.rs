//! Timestamps: go-yaml's `parseTimestamp` with Go's `time.Parse` rules for its four layouts.

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Timestamp {
    pub(super) year: u32,
    pub(super) month: u32,
    pub(super) day: u32,
    pub(super) hour: u32,
    pub(super) minute: u32,
    pub(super) second: u32,
    pub(super) nanos: u32,
    /// Offset east of UTC in minutes.
    pub(super) offset_minutes: i32,
    pub(super) date_only: bool,
}

impl Timestamp {
    /// Go's `time.Time.MarshalJSON` (RFC 3339 with trimmed nanoseconds).
    pub(super) fn rfc3339_nano(&self) -> String {
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
pub(super) fn take_num(s: &[u8]) -> Option<(u32, &[u8])> {
    let d0 = *s.first().filter(|c| c.is_ascii_digit())?;
    match s.get(1).filter(|c| c.is_ascii_digit()) {
        Some(d1) => Some((u32::from(d0 - b'0') * 10 + u32::from(d1 - b'0'), &s[2..])),
        None => Some((u32::from(d0 - b'0'), &s[1..])),
    }
}

pub(super) fn take_lit(s: &[u8], c: u8) -> Option<&[u8]> {
    s.strip_prefix(&[c])
}

pub(super) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml's `parseTimestamp`: `2006-1-2T15:4:5.999999999Z07:00` (also with `t`),
/// `2006-1-2 15:4:5.999999999` and `2006-1-2`.
pub(super) fn parse_timestamp(text: &str) -> Option<Timestamp> {
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
    let (sep, rest) = rest.split_first()?;
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
