//! The document tree SOPS works on, as the Go `sops` builds it: ordered mappings whose keys
//! are strings or comments, sequences that may hold comments, and typed scalars (the types
//! decide the `type:` of an encrypted value and the bytes the MAC covers).

use zeroize::Zeroize;

/// A comment line of the document, without its `#`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// The text after `#`.
    pub text: String,
    /// Whether it stood after a value on the same line (YAML only).
    pub inline: bool,
}

/// A scalar or a collection.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`: never encrypted, never in the MAC.
    Null,
    /// A string (`type:str`).
    Str(String),
    /// An integer (`type:int`).
    Int(i64),
    /// A float (`type:float`).
    Float(f64),
    /// A boolean (`type:bool`).
    Bool(bool),
    /// A timestamp (`type:time`), kept as Go's RFC 3339 text with nanoseconds.
    Time(String),
    /// A comment inside a sequence.
    Comment(Comment),
    /// An ordered mapping.
    Map(Vec<Item>),
    /// A sequence.
    Seq(Vec<Value>),
}

/// A key of a mapping: a string, or a comment standing between entries.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// An entry's key.
    Str(String),
    /// A comment line; its item's value is `Null`.
    Comment(Comment),
}

/// One entry of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
}

impl Item {
    /// An entry with a string key.
    pub fn new(key: impl Into<String>, value: Value) -> Self {
        Item { key: Key::Str(key.into()), value }
    }

    /// A comment line between entries.
    pub fn comment(text: impl Into<String>, inline: bool) -> Self {
        Item { key: Key::Comment(Comment { text: text.into(), inline }), value: Value::Null }
    }
}

/// The documents of a file (YAML may hold several; the other formats one).
pub type Branches = Vec<Vec<Item>>;

impl Zeroize for Value {
    fn zeroize(&mut self) {
        match self {
            Value::Str(s) | Value::Time(s) => s.zeroize(),
            Value::Comment(c) => c.text.zeroize(),
            Value::Map(items) => items.iter_mut().for_each(Zeroize::zeroize),
            Value::Seq(values) => values.iter_mut().for_each(Zeroize::zeroize),
            Value::Int(i) => i.zeroize(),
            Value::Float(f) => *f = 0.0,
            Value::Bool(b) => *b = false,
            Value::Null => {}
        }
    }
}

impl Zeroize for Item {
    fn zeroize(&mut self) {
        if let Key::Comment(c) = &mut self.key {
            c.text.zeroize();
        }
        self.value.zeroize();
    }
}

/// Branches that wipe their plaintext when dropped.
#[derive(Debug, Default)]
pub struct Secret(pub Branches);

impl Drop for Secret {
    fn drop(&mut self) {
        for branch in &mut self.0 {
            branch.iter_mut().for_each(Zeroize::zeroize);
        }
    }
}

/// The bytes a value contributes to the MAC, and the plaintext it is encrypted from (`ToBytes`
/// in sops): Python-style `True`/`False`, Go's shortest float digits without exponent.
pub(crate) fn to_bytes(value: &Value) -> Option<String> {
    Some(match value {
        Value::Str(s) | Value::Time(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => go_float_f(*f),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Comment(c) => c.text.clone(),
        Value::Null | Value::Map(_) | Value::Seq(_) => return None,
    })
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn go_float_f(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        // Rust's Display is the shortest round-trip digits without an exponent, as Go's 'f', -1.
        let s = format!("{f}");
        if s == "-0" { "-0".to_string() } else { s }
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`: the exponent form below 1e-4 and from 1e6 up.
pub(crate) fn go_float_g(f: f64) -> String {
    if !f.is_finite() {
        return go_float_f(f);
    }
    // Shortest digits and decimal exponent from Rust's `{:e}` ("1.5e3", "-2e-7").
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        go_float_f(f)
    }
}

/// Go's `fmt` spelling of a float for dotenv values (`stores.ValToString`: `%G`, with `.0`
/// added to whole numbers).
pub(crate) fn go_float_upper_g(f: f64) -> String {
    let g = go_float_g(f).replace('e', "E");
    if !g.contains('.') && !g.contains('E') && f.is_finite() { format!("{f:.1}") } else { g }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_spelled_as_go_does() {
        assert_eq!(go_float_g(1.5), "1.5");
        assert_eq!(go_float_g(1e21), "1e+21");
        assert_eq!(go_float_g(1e20), "1e+20");
        assert_eq!(go_float_g(123456.0), "123456");
        assert_eq!(go_float_g(1234567.0), "1.234567e+06");
        assert_eq!(go_float_g(0.00001), "1e-05");
        assert_eq!(go_float_g(0.0001), "0.0001");
        assert_eq!(go_float_f(1e21), "1000000000000000000000");
        assert_eq!(go_float_f(f64::INFINITY), "+Inf");
        assert_eq!(go_float_upper_g(3.0), "3.0");
    }
}
