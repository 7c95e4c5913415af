//! Timestamps as go-yaml v3 reads them (`time.Parse` with its four layouts) and as Go prints
//! them (`time.RFC3339Nano`).

/// A YAML timestamp in Go's RFC 3339 spelling with nanoseconds, or `None` if go-yaml v3 would
/// not read `s` as one.
pub(crate) fn parse_yaml_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    let year = digits(b, &mut i, 4, 4)?;
    expect(b, &mut i, b'-')?;
    let month = digits(b, &mut i, 1, 2)?;
    expect(b, &mut i, b'-')?;
    let day = digits(b, &mut i, 1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in(year, month) {
        return None;
    }
    if i == b.len() {
        return Some(format!("{year:04}-{month:02}-{day:02}T00:00:00Z"));
    }
    let with_zone = match b[i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    i += 1;
    let hour = digits(b, &mut i, 1, 2)?;
    expect(b, &mut i, b':')?;
    let minute = digits(b, &mut i, 1, 2)?;
    expect(b, &mut i, b':')?;
    let second = digits(b, &mut i, 1, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut frac = String::new();
    if i + 1 < b.len() && matches!(b[i], b'.' | b',') && b[i + 1].is_ascii_digit() {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            if frac.len() < 9 {
                frac.push(b[i] as char);
            }
            i += 1;
        }
    }
    let zone = if with_zone {
        match b.get(i)? {
            b'Z' => {
                i += 1;
                "Z".to_string()
            }
            sign @ (b'+' | b'-') => {
                let sign = *sign as char;
                i += 1;
                let h = digits(b, &mut i, 2, 2)?;
                expect(b, &mut i, b':')?;
                let m = digits(b, &mut i, 2, 2)?;
                if h > 23 || m > 59 {
                    return None;
                }
                if h == 0 && m == 0 { "Z".to_string() } else { format!("{sign}{h:02}:{m:02}") }
            }
            _ => return None,
        }
    } else {
        "Z".to_string()
    };
    if i != b.len() {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() { String::new() } else { format!(".{frac}") };
    Some(format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{frac}{zone}"))
}

fn digits(b: &[u8], i: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *i;
    while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
        *i += 1;
    }
    if *i - start < min {
        return None;
    }
    std::str::from_utf8(&b[start..*i]).ok()?.parse().ok()
}

fn expect(b: &[u8], i: &mut usize, c: u8) -> Option<()> {
    (b.get(*i) == Some(&c)).then(|| *i += 1)
}

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_yaml_timestamp as p;

    #[test]
    fn go_yaml_timestamps() {
        assert_eq!(p("2001-12-14").as_deref(), Some("2001-12-14T00:00:00Z"));
        assert_eq!(p("2001-12-14t21:59:43.10-05:00").as_deref(), Some("2001-12-14T21:59:43.1-05:00"));
        assert_eq!(p("2001-12-14 21:59:43.10").as_deref(), Some("2001-12-14T21:59:43.1Z"));
        assert_eq!(p("2001-2-3T4:05:06+00:00").as_deref(), Some("2001-02-03T04:05:06Z"));
        assert_eq!(p("2001-02-30"), None);
        assert_eq!(p("2001-12-14T21:59:43"), None);
        assert_eq!(p("12345"), None);
    }
}
