//! Parameter sets: what a generator hands to the template, in the two shapes Argo CD uses.
//!
//! - **flat** (`goTemplate: false`, the default): one level of string keys that may contain
//!   dots (`metadata.labels.env`), every value a string;
//! - **go** (`goTemplate: true`): a JSON object with nested maps, lists, numbers and bools.
//!
//! [`flatten`] turns any JSON value into the flat shape exactly as Argo CD's flattening does:
//! nested keys joined with `.`, list items by index (`a.0.b`), empty maps and lists give no
//! key at all, and scalars are printed as Go's `%v` prints them after a JSON round trip
//! (numbers are `float64`: `1` → `1`, `1.5` → `1.5`, `1e21` → `1e+21`, and, as in Go,
//! already `1000000` → `1e+06`; `null` → `<nil>`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Which shape parameter sets have, set by the ApplicationSet's `goTemplate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// fasttemplate mode: flat string parameters.
    Flat,
    /// Go template mode: nested JSON parameters.
    Go,
}

/// One parameter set: the values one generated Application is rendered with.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// Flat mode: dotted keys to strings.
    Flat(BTreeMap<String, String>),
    /// Go mode: a JSON object.
    Go(Map<String, Value>),
}

impl Params {
    /// An empty set in `mode`.
    pub fn empty(mode: Mode) -> Params {
        match mode {
            Mode::Flat => Params::Flat(BTreeMap::new()),
            Mode::Go => Params::Go(Map::new()),
        }
    }

    /// The shape of this set.
    pub fn mode(&self) -> Mode {
        match self {
            Params::Flat(_) => Mode::Flat,
            Params::Go(_) => Mode::Go,
        }
    }

    /// Whether the set has no parameter at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Params::Flat(m) => m.is_empty(),
            Params::Go(m) => m.is_empty(),
        }
    }

    /// The set as flat strings: a flat set as is, a go set through [`flatten`]. This is what
    /// a generator's post-selector is matched against.
    pub fn flattened(&self) -> BTreeMap<String, String> {
        match self {
            Params::Flat(m) => m.clone(),
            Params::Go(m) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    flatten_into(k, v, &mut out);
                }
                out
            }
        }
    }

    /// The set as a JSON object (a flat set becomes an object of strings).
    pub fn to_value(&self) -> Value {
        match self {
            Params::Flat(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
            Params::Go(m) => Value::Object(m.clone()),
        }
    }

    /// The value at a top-level key, as JSON (`None` when absent). Merge keys are looked up
    /// this way: `values.x` names a flat key, but in go mode only a top-level key.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Params::Flat(m) => m.get(key).map(|v| Value::String(v.clone())),
            Params::Go(m) => m.get(key).cloned(),
        }
    }
}

/// Flattens a JSON value into dotted keys (see the module documentation). A scalar at the
/// top gives one key, the empty string.
pub fn flatten(value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                flatten_into(k, v, &mut out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(&i.to_string(), v, &mut out);
            }
        }
        scalar => {
            out.insert(String::new(), go_format(scalar));
        }
    }
    out
}

/// Flattens `value` under `prefix` into `out`.
pub fn flatten_into(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                flatten_into(&format!("{prefix}.{k}"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(&format!("{prefix}.{i}"), v, out);
            }
        }
        scalar => {
            out.insert(prefix.to_string(), go_format(scalar));
        }
    }
}

/// A JSON value printed as Go's `fmt` `%v` prints what `encoding/json` decodes it to: strings
/// as is, numbers as `float64`, `null` as `<nil>`, lists as `[a b]`, maps as `map[k:v]`
/// (keys sorted).
pub fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format_float(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys.iter().map(|k| format!("{k}:{}", go_format(&m[*k]))).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// A `float64` printed as Go's `%v` (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest
/// digits that read back to the same value, in exponent form (`1e+06`, `1.5e-05`) when the
/// decimal exponent is below -4 or at least 6 (Go's fixed threshold for the shortest form).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".to_string() } else { "0".to_string() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `1.5e-5`, `1e21`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Argo CD's name sanitizing (`nameNormalized`, `*Normalized`, the `normalize` function):
/// lowercase, every character outside `[-a-z0-9.]` becomes `-`, cut to 253 characters, then
/// `-` and `.` trimmed from both ends.
pub fn normalize(name: &str) -> String {
    let lowered = name.to_lowercase();
    let replaced: String = lowered
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    let cut: String = replaced.chars().take(253).collect();
    cut.trim_matches(|c| c == '-' || c == '.').to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn floats_print_as_go_percent_v() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.0, "-2"),
            (1e21, "1e+21"),
            (1e20, "1e+20"),
            (999999.0, "999999"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (123456.5, "123456.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (0.0, "0"),
            (1e100, "1e+100"),
            (-1.5e300, "-1.5e+300"),
        ];
        for (f, want) in cases {
            assert_eq!(format_float(f), want, "{f}");
        }
    }

    #[test]
    fn flatten_joins_keys_and_indexes_and_skips_empty_containers() {
        let v = json!({
            "a": {"b": "x", "c": [ {"d": 1}, "e" ], "empty": {}, "none": []},
            "n": null, "t": true, "f": false, "big": 1e21, "int": 7, "float": 2.5,
        });
        let flat = flatten(&v);
        let want: BTreeMap<String, String> = [
            ("a.b", "x"),
            ("a.c.0.d", "1"),
            ("a.c.1", "e"),
            ("n", "<nil>"),
            ("t", "true"),
            ("f", "false"),
            ("big", "1e+21"),
            ("int", "7"),
            ("float", "2.5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(flat, want);
    }

    #[test]
    fn go_params_flatten_for_selectors_and_flat_ones_stay() {
        let go = Params::Go(json!({"path": {"basename": "web"}, "n": 3}).as_object().unwrap().clone());
        assert_eq!(go.flattened().get("path.basename").map(String::as_str), Some("web"));
        assert_eq!(go.flattened().get("n").map(String::as_str), Some("3"));
        let flat = Params::Flat([("a.b".to_string(), "c".to_string())].into());
        assert_eq!(flat.flattened().len(), 1);
        assert_eq!(flat.get("a.b"), Some(json!("c")));
        assert_eq!(go.get("path.basename"), None, "merge keys are top-level only in go mode");
    }

    #[test]
    fn go_format_of_containers() {
        assert_eq!(go_format(&json!(["a", 1, null])), "[a 1 <nil>]");
        assert_eq!(go_format(&json!({"b": 2, "a": "x"})), "map[a:x b:2]");
    }

    #[test]
    fn normalize_follows_argo() {
        assert_eq!(normalize("My_Cluster.Prod!"), "my-cluster.prod");
        assert_eq!(normalize("--a--"), "a");
        assert_eq!(normalize(".x."), "x");
        assert_eq!(normalize(&"a".repeat(300)).len(), 253);
        assert_eq!(normalize("Ünï"), "n");
    }
}
