//! dotenv as sops' dotenv store reads and writes it: `KEY=value` lines (a `\n` in the text is a
//! line break in the value), `#` lines as comments, empty lines dropped.

use super::FormatError;
use crate::sops::tree::{Item, Key, Value, go_float_upper_g};

/// Reads the lines of a dotenv file.
pub(crate) fn read(text: &str) -> Result<Vec<Item>, FormatError> {
    let mut items = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            items.push(Item::comment(comment, false));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(FormatError::Dotenv(format!("invalid dotenv input line {}: no '='", n + 1)));
        };
        items.push(Item::new(key, Value::Str(value.replace("\\n", "\n"))));
    }
    Ok(items)
}

/// Writes the entries of a branch as dotenv lines.
pub(crate) fn write(items: &[Item]) -> Result<String, FormatError> {
    let mut out = String::new();
    for item in items {
        match &item.key {
            Key::Comment(c) => {
                out.push('#');
                out.push_str(&c.text);
                out.push('\n');
            }
            Key::Str(key) => {
                let value = match &item.value {
                    Value::Str(s) => s.replace('\n', "\\n"),
                    Value::Map(_) | Value::Seq(_) => {
                        return Err(FormatError::Dotenv(format!(
                            "cannot use complex value in dotenv file; offending key {key}"
                        )));
                    }
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => go_float_upper_g(*f),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => "<nil>".to_string(),
                    Value::Time(t) => rfc3339_seconds(t),
                    Value::Comment(c) => c.text.clone(),
                };
                out.push_str(key);
                out.push('=');
                out.push_str(&value);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Go's `time.RFC3339` (no fraction) of an RFC 3339 text.
fn rfc3339_seconds(t: &str) -> String {
    match (t.find('.'), t.rfind(['Z', '+', '-'])) {
        (Some(dot), Some(zone)) if zone > dot => format!("{}{}", &t[..dot], &t[zone..]),
        _ => t.to_string(),
    }
}
