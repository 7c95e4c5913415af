//! Scalar resolution as go-yaml v3 (kyaml) and go-yaml v2 (`sigs.k8s.io/yaml`) do it when
//! reading: YAML core tags, plain scalars, numbers, `!!binary`.

use std::borrow::Cow;

use gitops_core::appset::params::format_float;
use gitops_core::yaml::go::{self, GoInt, parse_timestamp, prefixed_fallback};
use granit_parser::{ScalarStyle, Tag};
use serde_json::{Number, Value};

use super::Dialect;

/// The namespace of `!!` tags.
pub(super) const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// A scalar as go-yaml v3 resolved it: the JSON value plus whether it may key a mapping that
/// Go's `encoding/json` can print (only `!!str` keys can, below the top level).
#[derive(Debug, Clone)]
pub(super) struct Scalar {
    pub(super) value: Value,
    /// The source text, kept only where it differs from a string value: a key takes it where
    /// kyaml stringifies keys (top-level mappings).
    pub(super) source_text: Option<String>,
    pub(super) string_key: bool,
    /// A plain, untagged `<<`: a merge key.
    pub(super) merge: bool,
    /// Why kustomize would refuse this scalar as a value (`.inf`, `.nan`).
    pub(super) invalid: Option<&'static str>,
}

/// What a plain scalar resolves to under a YAML core tag.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Resolved {
    Null,
    Bool(bool),
    Int(Number),
    Float(f64),
    /// A date-only timestamp (`2006-1-2`), which kustomize prints as RFC 3339 midnight UTC.
    Date(String),
    Str,
}

pub(super) fn resolve(dialect: Dialect, text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar, String> {
    let resolve_plain = match dialect {
        Dialect::Kyaml => resolve_plain_v3,
        Dialect::SigsV2 => resolve_plain_v2,
    };
    let string = |string_key| Ok(Scalar::new(Value::String(text.to_string()), text, string_key));
    let core = match tag {
        None => None,
        Some(t) => match t.suffix_in_namespace(CORE_TAG_PREFIX) {
            Some(suffix) => Some(suffix.into_owned()),
            // A non-specific `!` tag changes nothing; any other local tag makes the text a string.
            None if t.handle() == "!" && t.suffix().is_empty() => None,
            None => return string(false),
        },
    };
    let Some(core) = core else {
        if style != ScalarStyle::Plain {
            return string(true);
        }
        let mut scalar = plain_scalar(resolve_plain(text), text);
        scalar.merge = text == "<<";
        return Ok(scalar);
    };
    let resolved = || resolve_plain(text);
    let typed = |value| Ok(Scalar::new(value, text, false));
    let wrong = |name: &str| {
        let found = match resolve_plain(text) {
            Resolved::Null => "null",
            Resolved::Bool(_) => "bool",
            Resolved::Int(_) => "int",
            Resolved::Float(_) => "float",
            Resolved::Date(_) => "timestamp",
            Resolved::Str => "str",
        };
        Err(format!("cannot decode !!{found} `{text}` as a !!{name}"))
    };
    let number = |n: Number| typed(Value::Number(n));
    match core.as_str() {
        "str" => string(true),
        "binary" => typed(Value::String(decode_binary(text)?)),
        "null" => match resolved() {
            Resolved::Null => typed(Value::Null),
            _ => wrong("null"),
        },
        "bool" => match resolved() {
            Resolved::Bool(b) => typed(Value::Bool(b)),
            _ => wrong("bool"),
        },
        "int" => match resolved() {
            Resolved::Int(n) => number(n),
            _ => wrong("int"),
        },
        "float" => match resolved() {
            Resolved::Int(n) => number(float_value(n.as_f64().unwrap_or(0.0))?),
            Resolved::Float(f) => number(float_value(f)?),
            _ => wrong("float"),
        },
        "timestamp" => match parse_timestamp(text) {
            Some(t) => typed(Value::String(t.rfc3339_nano())),
            None => wrong("timestamp"),
        },
        _ => Ok(plain_scalar(resolve_plain(text), text)),
    }
}

pub(super) fn float_value(f: f64) -> Result<Number, String> {
    Number::from_f64(f)
        .ok_or_else(|| "`.inf` and `.nan` cannot be converted to JSON; kustomize refuses them".to_string())
}

impl Scalar {
    pub(super) fn new(value: Value, text: &str, string_key: bool) -> Self {
        let source_text = match &value {
            Value::String(s) if s == text => None,
            _ => Some(text.to_string()),
        };
        Scalar { value, source_text, string_key, merge: false, invalid: None }
    }

    /// The key this scalar makes for `sigs.k8s.io/yaml`, which turns keys of every type into
    /// strings (numbers in Go's formatting); `None` for a null key, which it refuses.
    pub(super) fn into_v2_key(self) -> Option<String> {
        match self.value {
            Value::String(s) => Some(s),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) if n.is_f64() => Some(format_float(n.as_f64().unwrap_or(0.0))),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The key this scalar makes in a JSON object: its source text, as kyaml's conversion of
    /// the document root stringifies non-string keys.
    pub(super) fn into_key_text(self) -> String {
        match (self.source_text, self.value) {
            (Some(text), _) => text,
            (None, Value::String(s)) => s,
            (None, other) => other.to_string(),
        }
    }
}

pub(super) fn plain_scalar(resolved: Resolved, text: &str) -> Scalar {
    let value = match resolved {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(n) => Value::Number(n),
        Resolved::Float(f) => match Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None => {
                // Fine as a top-level key (kyaml keeps its text); refused as a value.
                let mut s = Scalar::new(Value::String(text.to_string()), text, false);
                s.invalid = Some("`.inf` and `.nan` cannot be converted to JSON; kustomize refuses them (quote it)");
                return s;
            }
        },
        Resolved::Date(d) => Value::String(d),
        Resolved::Str => return Scalar::new(Value::String(text.to_string()), text, true),
    };
    Scalar::new(value, text, false)
}

/// go-yaml v2's `resolve("", text)` for a plain scalar, as `sigs.k8s.io/yaml` turns it into
/// JSON: YAML 1.1 booleans, timestamps kept as their text (v2 decodes them into `interface{}` as
/// strings), and a float with no fraction written as an integer (Go's JSON encoder prints
/// `1.0` as `1`, which then decodes into an integer field).
pub(super) fn resolve_plain_v2(text: &str) -> Resolved {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Resolved::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Resolved::Bool(false),
        _ => {}
    }
    if text.as_bytes().first().is_some_and(|b| b.is_ascii_digit() || *b == b'+' || *b == b'-')
        && parse_timestamp(text).is_some()
    {
        return Resolved::Str;
    }
    let resolved = match text.as_bytes().first() {
        Some(b'0'..=b'9' | b'+' | b'-') => {
            let plain: Cow<'_, str> = if text.contains('_') { text.replace('_', "").into() } else { text.into() };
            match go::parse_int(&plain) {
                Some(GoInt::Signed(i)) => Resolved::Int(Number::from(i)),
                Some(GoInt::Unsigned(u)) => Resolved::Int(Number::from(u)),
                None if go::is_float_syntax(&plain) => go::parse_float(&plain).map_or(Resolved::Str, Resolved::Float),
                None => match prefixed_fallback(&plain, false) {
                    Some(GoInt::Signed(i)) => Resolved::Int(Number::from(i)),
                    Some(GoInt::Unsigned(u)) => Resolved::Int(Number::from(u)),
                    None => Resolved::Str,
                },
            }
        }
        _ => resolve_plain_v3(text),
    };
    match resolved {
        Resolved::Float(f) if f.fract() == 0.0 && f.abs() < 1e21 && f.abs() <= i64::MAX as f64 => {
            Resolved::Int(Number::from(f as i64))
        }
        other => other,
    }
}

/// Whether kyaml reads `key`, written as a plain (unquoted) mapping key, back as a string.
/// kustomize's label and annotation transformers write their keys that way, so a key such as
/// `1`, `true`, `null` or `2024-01-01` comes back as a number, boolean, null or timestamp, and
/// the object can no longer be converted to JSON.
pub fn plain_key_reads_as_string(key: &str) -> bool {
    matches!(resolve_plain_v3(key), Resolved::Str)
}

/// go-yaml v3's `resolve("", text)` for a plain scalar.
pub(super) fn resolve_plain_v3(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes().first() {
        Some(b'.') => go::parse_float(text).map_or(Resolved::Str, Resolved::Float),
        Some(b'0'..=b'9' | b'+' | b'-') => resolve_number_like(text),
        _ => Resolved::Str,
    }
}

pub(super) fn resolve_number_like(text: &str) -> Resolved {
    if let Some(t) = parse_timestamp(text)
        && t.date_only
    {
        return Resolved::Date(t.rfc3339_nano());
    }
    let plain: Cow<'_, str> = if text.contains('_') { text.replace('_', "").into() } else { text.into() };
    match go::parse_int(&plain) {
        Some(GoInt::Signed(i)) => return Resolved::Int(Number::from(i)),
        Some(GoInt::Unsigned(u)) => return Resolved::Int(Number::from(u)),
        None => {}
    }
    if go::is_float_syntax(&plain)
        && let Some(f) = go::parse_float(&plain)
    {
        return Resolved::Float(f);
    }
    match prefixed_fallback(&plain, true) {
        Some(GoInt::Signed(i)) => Resolved::Int(Number::from(i)),
        Some(GoInt::Unsigned(u)) => Resolved::Int(Number::from(u)),
        None => Resolved::Str,
    }
}

pub(super) fn decode_binary(text: &str) -> Result<String, String> {
    use base64::Engine as _;
    // Go's StdEncoding skips line breaks inside the data.
    let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "!!binary value contains invalid base64 data".to_string())?;
    Ok(go_lossy_utf8(&bytes))
}

/// Go's JSON encoder replaces every byte of an invalid UTF-8 sequence by U+FFFD.
pub(super) fn go_lossy_utf8(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                // Go decodes rune by rune: each byte that does not start a valid rune is one
                // replacement character.
                let bad = e.error_len().unwrap_or(rest.len()).max(1);
                for _ in 0..bad.min(rest.len()) {
                    out.push('\u{fffd}');
                }
                bytes = rest.get(bad..).unwrap_or_default();
            }
        }
    }
}
