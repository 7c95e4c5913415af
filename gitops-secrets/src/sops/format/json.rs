//! JSON as sops' JSON store reads it (`encoding/json` tokens: objects keep their order and
//! repeated keys, integers that fit int64 stay integers) and writes it (`json.Marshal` values,
//! `json.Indent` with a tab, a final newline). Also the binary store's wrapping.

use super::FormatError;
use crate::sops::tree::{Item, Key, Value, go_float_f};

/// Reads a JSON document whose top level is an object.
pub(crate) fn read(text: &str) -> Result<Vec<Item>, FormatError> {
    let mut p = P { b: text.as_bytes(), i: 0, depth: 0 };
    p.ws();
    match p.b.get(p.i) {
        Some(b'{') => {}
        Some(b'[') => {
            return Err(FormatError::Json(
                "SOPS only supports JSON files with a top-level object (starting with '{'), not arrays or other types"
                    .into(),
            ));
        }
        _ => return Err(FormatError::Json("SOPS only supports JSON files with a top-level object".into())),
    }
    match p.value()? {
        Value::Map(items) => Ok(items),
        _ => Err(FormatError::Json("expected an object".into())),
    }
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn err(&self, what: &str) -> FormatError {
        FormatError::Json(format!("{what} at offset {}", self.i))
    }

    fn eat(&mut self, c: u8) -> Result<(), FormatError> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn value(&mut self) -> Result<Value, FormatError> {
        self.ws();
        self.depth += 1;
        if self.depth > 10_000 {
            return Err(self.err("nested too deeply"));
        }
        let v = match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let key = self.string()?;
                        self.eat(b':')?;
                        let value = self.value()?;
                        items.push(Item::new(key, value));
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("expected ',' or '}'")),
                        }
                    }
                }
                Value::Map(items)
            }
            Some(b'[') => {
                self.i += 1;
                let mut values = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        values.push(self.value()?);
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("expected ',' or ']'")),
                        }
                    }
                }
                Value::Seq(values)
            }
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                Value::Bool(true)
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                Value::Bool(false)
            }
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Value::Null
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number()?,
            _ => return Err(self.err("invalid JSON value")),
        };
        self.depth -= 1;
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, FormatError> {
        let start = self.i;
        while self.b.get(self.i).is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err("invalid number"))?;
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        text.parse::<f64>().ok().filter(|f| f.is_finite()).map(Value::Float).ok_or_else(|| self.err("invalid number"))
    }

    fn string(&mut self) -> Result<String, FormatError> {
        self.ws();
        if self.b.get(self.i) != Some(&b'"') {
            return Err(self.err("expected a string"));
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.b.get(self.i).is_some_and(|c| *c != b'"' && *c != b'\\') {
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err("invalid UTF-8"))?);
            match self.b.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = *self.b.get(self.i).ok_or_else(|| self.err("unterminated string"))?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) && self.b[self.i..].starts_with(b"\\u") {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    self.i = save;
                                    0xFFFD
                                }
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                _ => return Err(self.err("unterminated string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, FormatError> {
        let s = self.b.get(self.i..self.i + 4).ok_or_else(|| self.err("bad \\u escape"))?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(s).unwrap_or("x"), 16).map_err(|_| self.err("bad \\u escape"))
    }
}

/// The JSON text of a branch, as sops' JSON store writes it.
pub(crate) fn write(items: &[Item], indent: &str) -> Result<String, FormatError> {
    let mut out = String::new();
    map(items, indent, 0, &mut out)?;
    out.push('\n');
    Ok(out)
}

fn newline(out: &mut String, indent: &str, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(indent);
    }
}

fn map(items: &[Item], indent: &str, depth: usize, out: &mut String) -> Result<(), FormatError> {
    out.push('{');
    let mut empty = true;
    for item in items {
        let Key::Str(key) = &item.key else { continue };
        if !empty {
            out.push(',');
        }
        newline(out, indent, depth + 1);
        string(key, out);
        out.push_str(": ");
        value(&item.value, indent, depth + 1, out)?;
        empty = false;
    }
    if !empty {
        newline(out, indent, depth);
    }
    out.push('}');
    Ok(())
}

fn value(v: &Value, indent: &str, depth: usize, out: &mut String) -> Result<(), FormatError> {
    match v {
        Value::Map(items) => map(items, indent, depth, out)?,
        Value::Seq(values) => {
            out.push('[');
            let mut empty = true;
            for v in values.iter().filter(|v| !matches!(v, Value::Comment(_))) {
                if !empty {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                value(v, indent, depth + 1, out)?;
                empty = false;
            }
            if !empty {
                newline(out, indent, depth);
            }
            out.push(']');
        }
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Str(s) | Value::Time(s) => string(s, out),
        Value::Comment(c) => string(&c.text, out),
    }
    Ok(())
}

/// `encoding/json`'s float: shortest digits, the exponent form below 1e-6 and from 1e21 up,
/// with a two-digit exponent trimmed to one digit.
fn json_float(f: f64) -> Result<String, FormatError> {
    if !f.is_finite() {
        return Err(FormatError::Json(format!("json: unsupported value: {}", go_float_f(f))));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let e = format!("{f:e}");
        let (m, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        Ok(format!("{m}e{}{}", if exp < 0 { '-' } else { '+' }, exp.abs()))
    } else {
        Ok(go_float_f(f))
    }
}

/// `json.Marshal` of a string, HTML-safe as Go writes it.
fn string(s: &str, out: &mut String) {
    gitops_core::json::go_string(s, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_order_and_types() {
        let items = read(r#"{"b": 1, "a": [true, 1.5, null, "x<"], "c": {}, "d": 1e3}"#).unwrap();
        let text = write(&items, "\t").unwrap();
        assert_eq!(
            text,
            "{\n\t\"b\": 1,\n\t\"a\": [\n\t\ttrue,\n\t\t1.5,\n\t\tnull,\n\t\t\"x\\u003c\"\n\t],\n\t\"c\": {},\n\t\"d\": 1000\n}\n"
        );
    }
}
