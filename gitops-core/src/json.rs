//! JSON streams to JSON trees, with the same guarantees as the YAML reader; and strings as
//! Go's `encoding/json` writes them ([`go_string`]).
//!
//! `serde_json::Value`'s own deserializer keeps the last of two duplicate keys and keeps
//! `1.0` apart from `1`; a manifest reader must refuse the first and the diff must not see
//! the second. This visitor builds the tree itself to do both.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

use crate::yaml::{Document, SyntaxError, float_number};

/// Where a JSON stream stopped being JSON: the error, and how much was read before it, so
/// the caller can read the rest as YAML (flow-style YAML starts with `{` too).
#[derive(Debug)]
pub(crate) struct Stopped {
    /// What the JSON reader found.
    pub error: SyntaxError,
    /// Values read (and handed over) before the error.
    pub documents: usize,
    /// Byte offset just after the last value read (0 if none).
    pub read_to: usize,
}

/// Reads every top-level JSON value of `text` (a stream of concatenated values).
pub(crate) fn for_each_document<E>(
    text: &str,
    mut each: impl FnMut(Document) -> Result<(), E>,
) -> Result<Result<(), E>, Stopped> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Canonical>();
    let mut index = 0usize;
    // Lines are counted incrementally so a long stream is read in linear time.
    let (mut counted_to, mut line) = (0usize, 1usize);
    let mut read_to = 0usize;
    loop {
        let start = skip_ws(text, stream.byte_offset());
        if start >= text.len() {
            return Ok(Ok(()));
        }
        line += newlines(&text.as_bytes()[counted_to..start]);
        counted_to = start;
        match stream.next() {
            None => return Ok(Ok(())),
            Some(Ok(Canonical(value))) => {
                if !value.is_null()
                    && let Err(e) = each(Document { index, line, value })
                {
                    return Ok(Err(e));
                }
                index += 1;
                read_to = stream.byte_offset();
            }
            Some(Err(e)) => {
                let error = SyntaxError {
                    document: index,
                    line: e.line().max(1),
                    column: e.column().max(1),
                    message: strip_position(&e.to_string()),
                };
                return Err(Stopped { error, documents: index, read_to });
            }
        }
    }
}

/// A JSON value read with duplicate keys refused and whole floats made integers.
struct Canonical(Value);

impl<'de> serde::Deserialize<'de> for Canonical {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CanonicalValue.deserialize(d).map(Canonical)
    }
}

fn skip_ws(text: &str, mut at: usize) -> usize {
    let b = text.as_bytes();
    while at < b.len() && matches!(b[at], b' ' | b'\t' | b'\r' | b'\n') {
        at += 1;
    }
    at
}

fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

struct CanonicalValue;

impl<'de> DeserializeSeed<'de> for CanonicalValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        float_number(v).map(Value::Number).ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(CanonicalValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}` in an object")));
            }
            let v = map.next_value_seed(CanonicalValue)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// A string as Go's `encoding/json` writes it (`json.Marshal`, HTML-safe): quoted, with
/// `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes, control characters as `\b`, `\f`, `\n`,
/// `\r`, `\t` or `\u00XX` (Go 1.22 and later), appended to `out`. Digests that hash Go's JSON
/// (Flux's release digest, SOPS' MAC input) need its bytes exactly.
pub fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn docs(text: &str) -> Result<Vec<Document>, SyntaxError> {
        let mut out = Vec::new();
        for_each_document(text, |d| {
            out.push(d);
            Ok::<(), ()>(())
        })
        .map_err(|stopped| stopped.error)?
        .unwrap();
        Ok(out)
    }

    #[test]
    fn stream_of_objects_with_lines() {
        let d = docs("{\"a\": 1.0}\n\n{\"b\": [1, 2.5]}\n").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].index, d[0].line, &d[0].value), (0, 1, &json!({"a": 1})));
        assert_eq!((d[1].index, d[1].line, &d[1].value), (1, 3, &json!({"b": [1, 2.5]})));
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = docs("{\"a\": 1}\n{\"b\": 1,\n \"b\": 2}").unwrap_err();
        assert_eq!(e.document, 1);
        assert_eq!(e.line, 3);
        assert!(e.message.contains("duplicate key `b`"), "{e}");
    }
}
