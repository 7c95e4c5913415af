//! The values a Flux `HelmRelease` (`helm.toolkit.fluxcd.io/v2`) renders its chart with, as
//! helm-controller composes them (`chartutil.ChartValuesFromReferences` of `fluxcd/pkg`):
//!
//! 1. each `spec.valuesFrom` reference, in order: the ConfigMap or Secret in the release's
//!    namespace, its `valuesKey` (default `values.yaml`); without `targetPath` the text is read
//!    as a YAML map (Helm's `chartutil.ReadValues`) and deep-merged into the result; with
//!    `targetPath` it is set at that path with Helm's `--set` parser ([`set_value`]), as a
//!    string when it is wrapped in quotes (`--set-string`);
//! 2. `spec.values`, merged last over everything.
//!
//! A missing object or key of an `optional` reference is skipped; any other failure is an
//! error in Flux's words (`could not resolve ConfigMap chart values reference 'ns/name' with
//! key 'values.yaml': resource not found`).
//!
//! One quirk is kept on purpose because it decides results: before a `targetPath` is set,
//! Flux merges `spec.values` into the result, and Go's maps and slices are references, so the
//! parts of the result taken from `spec.values` *are* `spec.values`. A `targetPath` that writes
//! into a nested map or an existing list item of `spec.values` therefore changes `spec.values`
//! itself, and survives the final merge; one that writes a top-level key does not (the final
//! merge puts `spec.values`' own value back). The composition here models Go's references
//! to give the same answers.
//!
//! [`config_digest`] is Flux's `status.lastAttemptedConfigDigest` of the composed values.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::Object;
use crate::yaml::{self, DuplicateKeys, emit};

/// Helm's `strvals.MaxIndex`: the largest list index `--set` accepts.
pub const MAX_INDEX: i64 = 65536;

/// Helm's `strvals.MaxNestedNameLevel`: how many dotted name parts `--set` follows.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// How deep one `--set` expression may nest keys and list indexes in total. Helm has no such
/// bound for indexes (`a[0][0]…` or `a[0].a[0].…` recurse on Go's growable stacks); here a
/// bound keeps an absurd expression from exhausting the stack.
const MAX_DEPTH: usize = 256;

/// The key a reference reads when it names none.
pub const DEFAULT_VALUES_KEY: &str = "values.yaml";

/// Why values could not be composed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A field of the HelmRelease is malformed.
    #[error("{origin}: {field}: {problem}")]
    Field {
        /// The HelmRelease, e.g. `HelmRelease apps/podinfo`.
        origin: String,
        /// The field, e.g. `spec.valuesFrom[1].kind`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A `spec.valuesFrom` reference does not resolve (Flux's `ErrValuesReference` text).
    #[error(transparent)]
    Reference(Box<ReferenceError>),
    /// A `--set` expression does not parse or does not fit the values (Helm's message).
    #[error("cannot set {expr:?}: {message}")]
    Set {
        /// The expression, `path=value`.
        expr: String,
        /// Helm's `strvals` error text.
        message: String,
    },
}

/// A `spec.valuesFrom` reference that does not resolve, in Flux's words after the release and
/// the entry: `could not resolve[ optional] <Kind> chart values reference '<ns>/<name>' with
/// key '<key>': <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{origin}: spec.valuesFrom[{index}]: could not resolve{} {kind} chart values reference '{namespace}/{name}' with key '{key}': {reason}",
    if *optional { " optional" } else { "" }
)]
pub struct ReferenceError {
    /// The HelmRelease.
    pub origin: String,
    /// Position of the reference in `spec.valuesFrom`.
    pub index: usize,
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// The release's namespace, where the object is looked up.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The data key.
    pub key: String,
    /// Whether the reference is optional (it still fails on a bad value).
    pub optional: bool,
    /// Why: `resource not found`, `key not found`, a YAML error, a `--set` error.
    pub reason: String,
}

/// One entry of `spec.valuesFrom`, with Flux's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuesReference {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// The object's name (in the HelmRelease's namespace).
    pub name: String,
    /// The data key, `values.yaml` unless given.
    pub values_key: String,
    /// Where a single value is set (`--set` path syntax); `None` merges a YAML map at the root.
    pub target_path: Option<String>,
    /// A missing object or key is skipped instead of failing.
    pub optional: bool,
}

/// Reads `spec.valuesFrom` (pass the HelmRelease's `spec`); a malformed entry is an error
/// naming `spec.valuesFrom[i].<field>`. The CRD's rules are applied as the API server would:
/// `kind` is `ConfigMap` or `Secret`, `name` is required (1 to 253 characters), `valuesKey`
/// is a data key (`[-._a-zA-Z0-9]+`, at most 253), `targetPath` is made of
/// `[a-zA-Z0-9_-./\]` and `[N]` indexes of up to 5 digits (at most 250 characters).
pub fn read_values_from(spec: &Value, origin: &str) -> Result<Vec<ValuesReference>, Error> {
    let field_err = |field: String, problem: String| Error::Field { origin: origin.to_string(), field, problem };
    let list = match spec.get("valuesFrom") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(field_err("spec.valuesFrom".into(), format!("must be a list, not {}", json_type(other))));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let at = |f: &str| format!("spec.valuesFrom[{i}]{f}");
        let Value::Object(entry) = entry else {
            return Err(field_err(at(""), format!("must be a map, not {}", json_type(entry))));
        };
        let string = |name: &str| -> Result<Option<&str>, Error> {
            match entry.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => {
                    Err(field_err(at(&format!(".{name}")), format!("must be a string, not {}", json_type(other))))
                }
            }
        };
        let kind = string("kind")?.unwrap_or_default();
        if kind != "ConfigMap" && kind != "Secret" {
            let problem = if kind.is_empty() {
                "required (ConfigMap or Secret)".to_string()
            } else {
                format!("must be ConfigMap or Secret, not {kind:?}")
            };
            return Err(field_err(at(".kind"), problem));
        }
        let name = string("name")?.unwrap_or_default();
        if name.is_empty() {
            return Err(field_err(at(".name"), "required".into()));
        }
        if name.chars().count() > 253 {
            return Err(field_err(at(".name"), "longer than 253 characters".into()));
        }
        let values_key = string("valuesKey")?.unwrap_or_default();
        if !values_key.is_empty() {
            let ok = values_key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !ok || values_key.len() > 253 {
                return Err(field_err(
                    at(".valuesKey"),
                    format!("{values_key:?} is not a data key (letters, digits, '-', '_', '.'; at most 253)"),
                ));
            }
        }
        let target_path = string("targetPath")?.unwrap_or_default();
        if !target_path.is_empty() && (target_path.chars().count() > 250 || !target_path_allowed(target_path)) {
            return Err(field_err(
                at(".targetPath"),
                format!(
                    "{target_path:?} does not match the CRD's pattern (letters, digits, '_-./\\' and [N] indexes of up to 5 digits; at most 250 characters)"
                ),
            ));
        }
        let optional = match entry.get("optional") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(field_err(at(".optional"), format!("must be a boolean, not {}", json_type(other))));
            }
        };
        out.push(ValuesReference {
            kind: kind.to_string(),
            name: name.to_string(),
            values_key: if values_key.is_empty() { DEFAULT_VALUES_KEY.to_string() } else { values_key.to_string() },
            target_path: (!target_path.is_empty()).then(|| target_path.to_string()),
            optional,
        });
    }
    Ok(out)
}

/// The CRD's `^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$`.
fn target_path_allowed(path: &str) -> bool {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'\\' | b'/') {
            i += 1;
        } else if c == b'[' {
            let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
            if !(1..=5).contains(&digits) || b.get(i + 1 + digits) != Some(&b']') {
                return false;
            }
            i += digits + 2;
        } else {
            return false;
        }
    }
    true
}

/// The name Go's `encoding/json` gives a JSON type in its errors.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The merged values: the references in `refs` resolved in order against `objects`, then
/// `values` (the HelmRelease's `spec.values`, if any) merged over everything.
///
/// `objects` are the candidates for the references: any objects; a reference matches the
/// core-group (`v1`) object of its kind and name in `namespace` (an object without a
/// namespace counts as being in `namespace`, as when it is applied with the release). When
/// several match, the last one wins (the one applied last).
///
/// A Secret's `data` is base64 (as the API server returns it); `stringData` (as written in
/// Git, before the API server folds it into `data`) is read too and wins for the same key. A
/// ConfigMap's `data` only is read (Flux ignores `binaryData`).
pub fn compose(
    origin: &str,
    namespace: &str,
    refs: &[ValuesReference],
    values: Option<&Value>,
    objects: &[Object],
) -> Result<Value, Error> {
    let spec_values = match values {
        None | Some(Value::Null) => new_map(BTreeMap::new()),
        Some(Value::Object(m)) => map_to_g(m),
        Some(other) => {
            return Err(Error::Field {
                origin: origin.to_string(),
                field: "spec.values".into(),
                problem: format!("must be a map, not {}", json_type(other)),
            });
        }
    };
    let mut result = new_map(BTreeMap::new());
    for (index, r) in refs.iter().enumerate() {
        let fail = |reason: String| {
            Error::Reference(Box::new(ReferenceError {
                origin: origin.to_string(),
                index,
                kind: r.kind.clone(),
                namespace: namespace.to_string(),
                name: r.name.clone(),
                key: r.values_key.clone(),
                optional: r.optional,
                reason,
            }))
        };
        if r.kind != "ConfigMap" && r.kind != "Secret" {
            return Err(fail("unsupported values reference kind".into()));
        }
        let found = objects.iter().rev().find(|o| {
            o.group().is_empty()
                && o.kind() == r.kind
                && o.name() == r.name
                && (o.namespace() == namespace || o.namespace().is_empty())
        });
        let Some(object) = found else {
            if r.optional {
                continue;
            }
            return Err(fail("resource not found".into()));
        };
        let Some(data) = data_of(object.value(), &r.kind, &r.values_key).map_err(fail)? else {
            if r.optional {
                continue;
            }
            return Err(fail("key not found".into()));
        };
        if let Some(path) = &r.target_path {
            // Flux merges spec.values in first; the result then shares its maps and lists.
            result = merge_g(&result, &spec_values);
            let text = String::from_utf8_lossy(&data);
            let (expr, as_string) = path_expression(path, &text);
            if let Err(message) = parse_into(&result, &expr, as_string) {
                return Err(fail(message));
            }
            continue;
        }
        let text = String::from_utf8(data).map_err(|_| fail("failed to read values data: not UTF-8 text".into()))?;
        let read = read_values(&text).map_err(|e| fail(format!("failed to read values data: {e}")))?;
        result = merge_g(&result, &map_to_g(&read));
    }
    result = merge_g(&result, &spec_values);
    Ok(map_from_g(&result))
}

/// Flux's `ReplacePathValue`: a text wrapped in single or double quotes is set as a string,
/// without every leading and trailing quote of either kind (Go's `strings.Trim`); any other
/// text goes through type inference. Returns the `--set` expression and whether it is a
/// `--set-string`.
fn path_expression(path: &str, text: &str) -> (String, bool) {
    let quoted = |q: char| text.starts_with(q) && text.ends_with(q);
    if quoted('\'') || quoted('"') {
        let trimmed = text.trim_matches(['\'', '"']);
        (format!("{path}={trimmed}"), true)
    } else {
        (format!("{path}={text}"), false)
    }
}

/// The bytes at `key` of a ConfigMap's `data` or a Secret's `data`/`stringData`; `None` when
/// the key is absent.
fn data_of(object: &Value, kind: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
    let text_at = |field: &str| -> Result<Option<&str>, String> {
        match object.get(field).and_then(|d| d.get(key)) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("{field}.{key} must be a string, not {}", json_type(other))),
        }
    };
    if kind == "Secret" {
        if let Some(s) = text_at("stringData")? {
            return Ok(Some(s.as_bytes().to_vec()));
        }
        return match text_at("data")? {
            None => Ok(None),
            Some(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(Some)
                .map_err(|e| format!("data.{key} is not base64: {e}")),
        };
    }
    Ok(text_at("data")?.map(|s| s.as_bytes().to_vec()))
}

/// Helm's `chartutil.ReadValues`: the first YAML document as a map; an empty or `null`
/// document is an empty map, any other non-map is an error.
fn read_values(text: &str) -> Result<Map<String, Value>, String> {
    let mut first = None;
    let read = yaml::for_each_document_with(
        text,
        // sigs.k8s.io/yaml's non-strict Unmarshal: the last of repeated keys wins.
        DuplicateKeys::LastWins,
        |d| {
            first = Some(d);
            // go-yaml v2's Unmarshal reads the first document only.
            Err(())
        },
        &mut Vec::new(),
    );
    if let Err(e) = read {
        return Err(format!("error converting YAML to JSON: {e}"));
    }
    match first {
        // Later documents are not read; an empty first one reads as nothing.
        Some(d) if d.index == 0 => match d.value {
            Value::Object(m) => Ok(m),
            Value::Null => Ok(Map::new()),
            other => Err(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type chartutil.Values",
                json_type(&other)
            )),
        },
        _ => Ok(Map::new()),
    }
}

/// Deep merge as Flux's `MergeMaps`: for each key of `overlay`, two maps merge recursively;
/// anything else (lists, scalars, `null`) replaces what `base` has. A `base` that is not a
/// map is replaced by `overlay` when `overlay` is one.
pub fn merge(base: &mut Value, overlay: &Value) {
    let Value::Object(over) = overlay else {
        *base = overlay.clone();
        return;
    };
    let Value::Object(into) = base else {
        *base = overlay.clone();
        return;
    };
    for (k, v) in over {
        match (into.get_mut(k), v) {
            (Some(existing @ Value::Object(_)), Value::Object(_)) => merge(existing, v),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Sets values as Helm's `--set` (`as_string` false: `strvals.ParseInto`) or `--set-string`
/// (`as_string` true: `strvals.ParseIntoString`) does with `expr`, e.g. `image.tag=1.2`,
/// `a.b[0].c=x,d={1,2}`.
///
/// The grammar is Helm's: `name=value` pairs split at unescaped `,`; names split at `.`
/// into nested maps and take `[N]` list indexes (`a[0][1]`, `a[1].b`); `{x,y}` is a list;
/// `\` escapes the next character. Values are typed (`true`/`false` in any case are
/// booleans, `null` in any case is null, integers not starting with `0` are int64, `0` is 0,
/// the rest strings) unless `as_string`. An index above [`MAX_INDEX`] or negative, a name
/// nested deeper than [`MAX_NESTED_NAME_LEVEL`], a name without `=`, or a path through a
/// value of the wrong type (a list where a map is needed...) is an error in Helm's words.
///
/// `values` must be a map (`null` counts as an empty one). On error it is left unchanged.
pub fn set_value(values: &mut Value, expr: &str, as_string: bool) -> Result<(), Error> {
    let set_err = |message: String| Error::Set { expr: expr.to_string(), message };
    let root = match values {
        Value::Null => new_map(BTreeMap::new()),
        Value::Object(m) => map_to_g(m),
        other => return Err(set_err(format!("the values are {}, not a map", json_type(other)))),
    };
    parse_into(&root, expr, as_string).map_err(set_err)?;
    *values = map_from_g(&root);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Go's values, references and all.

/// A Go `map[string]interface{}` (a reference).
type GMap = Rc<RefCell<BTreeMap<String, G>>>;
/// A Go `[]interface{}`: writes within its length go to the shared array; growing it makes a
/// new one (the only ways `strvals` changes a slice), so a `Vec` behind a reference models it.
type GList = Rc<RefCell<Vec<G>>>;

/// A value as Go's `interface{}` holds it: scalars by value, maps and slices by reference.
#[derive(Clone)]
enum G {
    /// A scalar decoded from JSON or YAML (Go holds its numbers as `float64`).
    Scalar(Value),
    /// An integer `--set` typed (an `int64` in Go).
    Int(i64),
    Map(GMap),
    List(GList),
}

fn new_map(m: BTreeMap<String, G>) -> GMap {
    Rc::new(RefCell::new(m))
}

fn to_g(v: &Value) -> G {
    match v {
        Value::Object(m) => G::Map(map_to_g(m)),
        Value::Array(a) => G::List(Rc::new(RefCell::new(a.iter().map(to_g).collect()))),
        other => G::Scalar(other.clone()),
    }
}

fn map_to_g(m: &Map<String, Value>) -> GMap {
    new_map(m.iter().map(|(k, v)| (k.clone(), to_g(v))).collect())
}

fn from_g(g: &G) -> Value {
    match g {
        G::Scalar(v) => v.clone(),
        G::Int(i) => Value::Number((*i).into()),
        G::Map(m) => map_from_g(m),
        G::List(l) => Value::Array(l.borrow().iter().map(from_g).collect()),
    }
}

fn map_from_g(m: &GMap) -> Value {
    Value::Object(m.borrow().iter().map(|(k, v)| (k.clone(), from_g(v))).collect())
}

/// Flux's `MergeMaps` on Go values: a new top map; keys `b` does not merge share `a`'s or
/// `b`'s values (references included), as Go's assignment does.
fn merge_g(a: &GMap, b: &GMap) -> GMap {
    let mut out = a.borrow().clone();
    for (k, v) in b.borrow().iter() {
        if let (G::Map(over), Some(G::Map(under))) = (v, out.get(k)) {
            let merged = merge_g(&under.clone(), over);
            out.insert(k.clone(), G::Map(merged));
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    new_map(out)
}

/// Go's name of a value's dynamic type, for the `interface conversion` errors Helm turns its
/// panics into.
fn go_type(g: Option<&G>) -> &'static str {
    match g {
        None | Some(G::Scalar(Value::Null)) => "nil",
        Some(G::Map(_)) => "map[string]interface {}",
        Some(G::List(_)) => "[]interface {}",
        Some(G::Scalar(Value::Bool(_))) => "bool",
        Some(G::Scalar(Value::String(_))) => "string",
        Some(G::Scalar(_)) => "float64",
        Some(G::Int(_)) => "int64",
    }
}

fn conversion_panic(found: Option<&G>, wanted: &str) -> Stop {
    Stop::Panic(format!("interface conversion: interface {{}} is {}, not {wanted}", go_type(found)))
}

// ---------------------------------------------------------------------------------------------
// Helm's strvals parser.

/// Why parsing stopped.
enum Stop {
    /// The input ended (Go's `io.EOF`, also when wrapped): the end of a successful parse.
    Eof,
    /// An error.
    Error(String),
    /// A Go runtime panic (a failed type assertion), which the nearest `key` turns into an
    /// error, skipping the rest of its work.
    Panic(String),
}

type Step<T> = Result<T, Stop>;

struct Parser {
    chars: Vec<char>,
    pos: usize,
    as_string: bool,
    depth: usize,
}

/// `strvals.ParseInto`/`ParseIntoString` into `root`, in place (partial writes stay, as in Go).
fn parse_into(root: &GMap, expr: &str, as_string: bool) -> Result<(), String> {
    let mut p = Parser { chars: expr.chars().collect(), pos: 0, as_string, depth: 0 };
    loop {
        match p.key(root, 0) {
            Ok(()) => continue,
            Err(Stop::Eof) => return Ok(()),
            Err(Stop::Error(e)) => return Err(e),
            // `key` converts panics; kept for completeness.
            Err(Stop::Panic(e)) => return Err(format!("unable to parse key: {e}")),
        }
    }
}

/// Helm's `set`: an empty key is not set.
fn set(data: &GMap, key: &str, value: G) {
    if !key.is_empty() {
        data.borrow_mut().insert(key.to_string(), value);
    }
}

/// Helm's `setIndex`: writes in place within the list, or into a grown copy.
fn set_index(list: GList, index: i64, value: G) -> (GList, Option<Stop>) {
    if index < 0 {
        return (list, Some(Stop::Error(format!("negative {index} index not allowed"))));
    }
    if index > MAX_INDEX {
        return (
            list,
            Some(Stop::Error(format!("index of {index} is greater than maximum supported index of {MAX_INDEX}"))),
        );
    }
    let i = index as usize;
    if i < list.borrow().len() {
        list.borrow_mut()[i] = value;
        return (list, None);
    }
    let mut grown = list.borrow().clone();
    grown.resize(i + 1, G::Scalar(Value::Null));
    grown[i] = value;
    (Rc::new(RefCell::new(grown)), None)
}

fn result_of(pair: (GList, Option<Stop>)) -> (GList, Step<()>) {
    match pair {
        (l, None) => (l, Ok(())),
        (l, Some(e)) => (l, Err(e)),
    }
}

impl Parser {
    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// Helm's `runesUntil`: the text up to one of `stop` (unescaped), the stop character, or
    /// `Eof` with the text read so far.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut v = String::new();
        loop {
            match self.read() {
                None => return (v, None),
                Some(c) if stop.contains(&c) => return (v, Some(c)),
                Some('\\') => match self.read() {
                    None => return (v, None),
                    Some(next) => v.push(next),
                },
                Some(c) => v.push(c),
            }
        }
    }

    fn typed(&self, text: String) -> G {
        match typed_value(text, self.as_string) {
            Value::Number(n) if n.is_i64() => G::Int(n.as_i64().unwrap_or_default()),
            other => G::Scalar(other),
        }
    }

    fn enter(&mut self) -> Step<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Stop::Error(format!("value name nests keys and indexes deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn key(&mut self, data: &GMap, level: usize) -> Step<()> {
        self.enter()?;
        let r = self.key_inner(data, level);
        self.depth -= 1;
        match r {
            Err(Stop::Panic(p)) => Err(Stop::Error(format!("unable to parse key: {p}"))),
            other => other,
        }
    }

    fn key_inner(&mut self, data: &GMap, level: usize) -> Step<()> {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        match last {
            None if k.is_empty() => Err(Stop::Eof),
            None => Err(Stop::Error(format!("key {} has no value", go_quote(&k)))),
            Some('[') => {
                let i = self.key_index()?;
                let existing = data.borrow().get(&k).cloned();
                let list = match existing {
                    None => Rc::new(RefCell::new(Vec::new())),
                    Some(G::List(l)) => l,
                    Some(other) => return Err(conversion_panic(Some(&other), "[]interface {}")),
                };
                let (list, r) = self.list_item(list, i, level);
                if let Err(Stop::Panic(p)) = r {
                    return Err(Stop::Panic(p));
                }
                set(data, &k, G::List(list));
                r
            }
            Some('=') => match self.val_list() {
                Ok(list) => {
                    set(data, &k, G::List(Rc::new(RefCell::new(list))));
                    Ok(())
                }
                Err(ListStop::Eof) => {
                    set(data, &k, G::Scalar(Value::String(String::new())));
                    Err(Stop::Eof)
                }
                Err(ListStop::NotList) => {
                    let (v, _) = self.until(&[',']);
                    set(data, &k, self.typed(v));
                    Ok(())
                }
                Err(ListStop::Error(e)) => Err(Stop::Error(e)),
            },
            Some(',') => {
                set(data, &k, G::Scalar(Value::String(String::new())));
                Err(Stop::Error(format!("key {} has no value (cannot end with ,)", go_quote(&k))))
            }
            Some(_) => {
                // '.'
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(Stop::Error(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )));
                }
                let existing = data.borrow().get(&k).cloned();
                let inner = match existing {
                    None => new_map(BTreeMap::new()),
                    Some(G::Map(m)) => m,
                    Some(other) => return Err(conversion_panic(Some(&other), "map[string]interface {}")),
                };
                let r = self.key(&inner, level);
                let empty = inner.borrow().is_empty();
                if r.is_ok() && empty {
                    return Err(Stop::Error(format!("key map {} has no value", go_quote(&k))));
                }
                if !empty {
                    set(data, &k, G::Map(inner));
                }
                r
            }
        }
    }

    /// Helm's `keyIndex`: the digits up to `]`, read by Go's `strconv.Atoi`. Input that ends
    /// first is an error: Helm 3 wraps the `io.EOF` and compares errors with `==`, so the
    /// wrapped one is no longer the end of input.
    fn key_index(&mut self) -> Step<i64> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return Err(Stop::Error("error parsing index: EOF".into()));
        }
        go_atoi(&v).map_err(|e| Stop::Error(format!("error parsing index: {e}")))
    }

    fn list_item(&mut self, list: GList, i: i64, level: usize) -> (GList, Step<()>) {
        if let Err(e) = self.enter() {
            return (list, Err(e));
        }
        let r = self.list_item_inner(list, i, level);
        self.depth -= 1;
        r
    }

    fn list_item_inner(&mut self, list: GList, i: i64, level: usize) -> (GList, Step<()>) {
        if i < 0 {
            return (list, Err(Stop::Error(format!("negative {i} index not allowed"))));
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return (list, Err(Stop::Error(format!("unexpected data at end of array index: {}", go_quote_runes(&k)))));
        }
        let at = usize::try_from(i).ok().and_then(|i| list.borrow().get(i).cloned());
        match last {
            None => (list, Err(Stop::Eof)),
            Some('=') => match self.val_list() {
                Ok(vl) => result_of(set_index(list, i, G::List(Rc::new(RefCell::new(vl))))),
                Err(ListStop::Eof) => result_of(set_index(list, i, G::Scalar(Value::String(String::new())))),
                Err(ListStop::NotList) => {
                    let (v, _) = self.until(&[',']);
                    let v = self.typed(v);
                    result_of(set_index(list, i, v))
                }
                Err(ListStop::Error(e)) => (list, Err(Stop::Error(e))),
            },
            Some('[') => {
                let next = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(e)),
                };
                let current = match at {
                    None | Some(G::Scalar(Value::Null)) => Rc::new(RefCell::new(Vec::new())),
                    Some(G::List(l)) => l,
                    Some(other) => return (list, Err(conversion_panic(Some(&other), "[]interface {}"))),
                };
                let (inner, r) = self.list_item(current, next, level);
                if let Err(e) = r {
                    return (list, Err(e));
                }
                result_of(set_index(list, i, G::List(inner)))
            }
            Some(_) => {
                // '.': a map in the list; a value of another type is replaced in place first.
                let inner = match at {
                    Some(G::Map(m)) => m,
                    Some(_) => {
                        let m = new_map(BTreeMap::new());
                        list.borrow_mut()[i as usize] = G::Map(m.clone());
                        m
                    }
                    None => new_map(BTreeMap::new()),
                };
                if let Err(e) = self.key(&inner, level) {
                    return (list, Err(e));
                }
                result_of(set_index(list, i, G::Map(inner)))
            }
        }
    }

    /// Helm's `valList`: a `{a,b}` list, or `NotList` (nothing consumed) when the value does
    /// not start with `{`.
    fn val_list(&mut self) -> Result<Vec<G>, ListStop> {
        match self.read() {
            None => return Err(ListStop::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(ListStop::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (item, last) = self.until(&[',', '}']);
            match last {
                None => return Err(ListStop::Error("list must terminate with '}'".into())),
                Some('}') => {
                    // A ',' right after the list is consumed with it.
                    if let Some(c) = self.read()
                        && c != ','
                    {
                        self.unread();
                    }
                    list.push(self.typed(item));
                    return Ok(list);
                }
                Some(_) => list.push(self.typed(item)),
            }
        }
    }
}

/// How `valList` ends without a list.
enum ListStop {
    Eof,
    NotList,
    Error(String),
}

/// Helm's `typedVal`.
fn typed_value(text: String, as_string: bool) -> Value {
    if as_string {
        return Value::String(text);
    }
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::Number(0.into());
    }
    if !text.is_empty()
        && !text.starts_with('0')
        && let Some(i) = go_parse_int(&text)
    {
        return Value::Number(i.into());
    }
    Value::String(text)
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits, within int64.
fn go_parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Rust's parser takes the same sign and digits (and refuses what overflows).
    s.parse::<i64>().ok()
}

/// Go's `strconv.Atoi` on a 64-bit platform, with its error text.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s)));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

/// Go's `%q` of a string (`strconv.Quote`).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_go_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `%q` of a `[]rune`: each rune as a quoted character, `['a' 'b']`.
fn go_quote_runes(s: &str) -> String {
    let parts: Vec<String> = s
        .chars()
        .map(|c| {
            let mut q = String::from("'");
            push_go_escaped(&mut q, c, '\'');
            q.push('\'');
            q
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

fn push_go_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_control() || c == '\u{feff}' => {
            if (c as u32) < 0x10000 {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push_str(&format!("\\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

// ---------------------------------------------------------------------------------------------
// The config digest.

/// Flux's `status.lastAttemptedConfigDigest` of composed values: `sha256:` and the hex SHA-256
/// of the values as `fluxcd/pkg/chartutil.DigestValues` encodes them, which is YAML (go-yaml
/// v2, keys sorted), not JSON. Empty values (and anything that is not a map, which Flux
/// never has) are encoded as nothing at all: `sha256:e3b0c442…b855`, the digest of no bytes.
///
/// Numbers are written as Flux holds them after decoding JSON (`float64`): whole ones as
/// integers, others in Go's shortest `%g` form (`0.5`, `1.2345675e+06`). Integers beyond
/// 2^53 are written exactly, where Flux would have rounded those it decoded (not those
/// `--set` typed).
pub fn config_digest(values: &Value) -> String {
    let mut text = String::new();
    if let Value::Object(m) = values
        && !m.is_empty()
    {
        encode_digest_yaml(values, &mut text);
    }
    let hash = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Writes `values` as Flux encodes them for the digest: `sigs.k8s.io/yaml`'s
/// `JSONObjectToYAMLObject` (whole floats become integers), every map's keys sorted bytewise
/// (Flux's `SortMapSlice`), then go-yaml v2's block emitter (2-space indentation, sequences
/// in maps not indented, long scalars folded at column 80).
///
/// Flux sorts maps nested directly in maps and in lists of maps, but not maps in lists of
/// lists, whose order is Go's random map order there; they are sorted here too.
fn encode_digest_yaml(values: &Value, out: &mut String) {
    emit::write_document(values, emit::Input::SortedMapSlices, out);
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::object::Origin;

    const HR: &str = "HelmRelease apps/podinfo";

    fn obj(v: Value) -> Object {
        Object::new(v, Origin::inline("test"))
    }

    fn config_map(name: &str, data: Value) -> Object {
        obj(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"}, "data": data}),
        )
    }

    fn secret(name: &str, data: Value) -> Object {
        obj(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "apps"}, "data": data}),
        )
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn refs(spec: Value) -> Vec<ValuesReference> {
        read_values_from(&spec, HR).unwrap()
    }

    fn set(init: Value, expr: &str, as_string: bool) -> Result<Value, String> {
        let mut v = init;
        match set_value(&mut v, expr, as_string) {
            Ok(()) => Ok(v),
            Err(Error::Set { message, .. }) => Err(message),
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    fn sha256_hex(text: &str) -> String {
        Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn read_values_from_applies_defaults() {
        let spec = json!({"valuesFrom": [
            {"kind": "ConfigMap", "name": "base"},
            {"kind": "Secret", "name": "s", "valuesKey": "tag", "targetPath": "image.tag", "optional": true},
        ]});
        assert_eq!(
            refs(spec),
            vec![
                ValuesReference {
                    kind: "ConfigMap".into(),
                    name: "base".into(),
                    values_key: "values.yaml".into(),
                    target_path: None,
                    optional: false
                },
                ValuesReference {
                    kind: "Secret".into(),
                    name: "s".into(),
                    values_key: "tag".into(),
                    target_path: Some("image.tag".into()),
                    optional: true
                },
            ]
        );
        assert!(read_values_from(&json!({}), HR).unwrap().is_empty());
    }

    #[test]
    fn read_values_from_names_the_bad_field() {
        let cases = [
            (json!({"valuesFrom": [{"kind": "Pod", "name": "x"}]}), "spec.valuesFrom[0].kind", "\"Pod\""),
            (
                json!({"valuesFrom": [{"kind": "Secret", "name": "ok"}, {"kind": "Secret"}]}),
                "spec.valuesFrom[1].name",
                "required",
            ),
            (
                json!({"valuesFrom": [{"kind": "Secret", "name": "x", "valuesKey": "a/b"}]}),
                "spec.valuesFrom[0].valuesKey",
                "a/b",
            ),
            (
                json!({"valuesFrom": [{"kind": "Secret", "name": "x", "targetPath": "a[123456]"}]}),
                "spec.valuesFrom[0].targetPath",
                "a[123456]",
            ),
            (
                json!({"valuesFrom": [{"kind": "Secret", "name": "x", "targetPath": "a=b"}]}),
                "spec.valuesFrom[0].targetPath",
                "a=b",
            ),
            (
                json!({"valuesFrom": [{"kind": "Secret", "name": "x", "optional": "yes"}]}),
                "spec.valuesFrom[0].optional",
                "string",
            ),
            (json!({"valuesFrom": {"kind": "Secret"}}), "spec.valuesFrom", "list"),
        ];
        for (spec, field, detail) in cases {
            let err = read_values_from(&spec, HR).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{HR}: {field}: ")), "{err}");
            assert!(err.contains(detail), "{err}");
        }
        // The CRD's path pattern allows escaped dots and 5-digit indexes.
        assert!(
            read_values_from(
                &json!({"valuesFrom": [{"kind": "Secret", "name": "x", "targetPath": "a\\.b[12345].c/d"}]}),
                HR
            )
            .is_ok()
        );
    }

    #[test]
    fn references_merge_in_order_and_values_come_last() {
        let objects = [
            config_map("first", json!({"values.yaml": "a: 1\nb: 1\nnested: {x: 1, z: [1, 2]}\n"})),
            config_map("second", json!({"values.yaml": "b: 2\nnested: {w: 2, z: [3]}\nc: null\n"})),
        ];
        let spec =
            json!({"valuesFrom": [{"kind": "ConfigMap", "name": "first"}, {"kind": "ConfigMap", "name": "second"}]});
        let values = json!({"a": 3, "nested": {"x": null}});
        let got = compose(HR, "apps", &refs(spec.clone()), Some(&values), &objects).unwrap();
        assert_eq!(got, json!({"a": 3, "b": 2, "c": null, "nested": {"x": null, "w": 2, "z": [3]}}));
        // Reversed order: the first reference now wins over the second.
        let reversed =
            json!({"valuesFrom": [{"kind": "ConfigMap", "name": "second"}, {"kind": "ConfigMap", "name": "first"}]});
        let got = compose(HR, "apps", &refs(reversed), None, &objects).unwrap();
        assert_eq!(got, json!({"a": 1, "b": 1, "c": null, "nested": {"x": 1, "w": 2, "z": [1, 2]}}));
    }

    #[test]
    fn target_path_values_are_typed_unless_quoted() {
        let objects = [
            secret(
                "s",
                json!({"replicas": b64("3"), "tag": b64("\"1.10\""), "on": b64("TRUE"), "quoted": b64("'true'")}),
            ),
            config_map("c", json!({"list": "{a,b}", "csv": "x,y=2", "float": "1.50", "big": "0123"})),
        ];
        let spec = json!({"valuesFrom": [
            {"kind": "Secret", "name": "s", "valuesKey": "replicas", "targetPath": "replicaCount"},
            {"kind": "Secret", "name": "s", "valuesKey": "tag", "targetPath": "image.tag"},
            {"kind": "Secret", "name": "s", "valuesKey": "on", "targetPath": "flags.on"},
            {"kind": "Secret", "name": "s", "valuesKey": "quoted", "targetPath": "flags.quoted"},
            {"kind": "ConfigMap", "name": "c", "valuesKey": "list", "targetPath": "hosts"},
            {"kind": "ConfigMap", "name": "c", "valuesKey": "csv", "targetPath": "first"},
            {"kind": "ConfigMap", "name": "c", "valuesKey": "float", "targetPath": "ratio"},
            {"kind": "ConfigMap", "name": "c", "valuesKey": "big", "targetPath": "code"},
        ]});
        let got = compose(HR, "apps", &refs(spec), None, &objects).unwrap();
        assert_eq!(
            got,
            json!({
                "replicaCount": 3,
                "image": {"tag": "1.10"},
                "flags": {"on": true, "quoted": "true"},
                "hosts": ["a", "b"],
                "first": "x", "y": 2,
                "ratio": "1.50",
                "code": "0123",
            })
        );
    }

    #[test]
    fn target_path_writes_through_shared_values_like_go() {
        // Expected results are what Flux's composition gives in Go (maps and slices shared
        // after merging spec.values in): nested writes survive, top-level ones do not.
        let cases = [
            (
                json!({"nested": {"x": 1}, "top": 1}),
                vec![("2", "nested.x"), ("5", "top")],
                json!({"nested": {"x": 2}, "top": 1}),
            ),
            (json!({"list": ["a", "b"]}), vec![("z", "list[0]")], json!({"list": ["z", "b"]})),
            (json!({"list": ["a", "b"]}), vec![("z", "list[2]")], json!({"list": ["a", "b"]})),
            (json!({"a": {"x": 1}}), vec![("2", "a.m"), ("a: {m: 3}", "")], json!({"a": {"m": 2, "x": 1}})),
            (
                json!({"a": {"b": {"c": 1}}}),
                vec![("q", "a.b.d"), ("a:\n  b:\n    c: 7\n    d: r", "")],
                json!({"a": {"b": {"c": 1, "d": "q"}}}),
            ),
            (json!({"l": [{"k": 1}]}), vec![("2", "l[0].k"), ("3", "l[0].j")], json!({"l": [{"j": 3, "k": 2}]})),
            (
                Value::Null,
                vec![("a: {m: 3}\nb: [1,2]", ""), ("9", "b[1]"), ("'x'", "a.z")],
                json!({"a": {"m": 3, "z": "x"}, "b": [1, 9]}),
            ),
        ];
        for (values, steps, want) in cases {
            let mut data = Map::new();
            let mut spec = Vec::new();
            for (i, (text, path)) in steps.iter().enumerate() {
                data.insert(format!("k{i}"), json!(text));
                let mut r = json!({"kind": "ConfigMap", "name": "c", "valuesKey": format!("k{i}")});
                if !path.is_empty() {
                    r["targetPath"] = json!(path);
                }
                spec.push(r);
            }
            let objects = [config_map("c", Value::Object(data))];
            let got = compose(HR, "apps", &refs(json!({"valuesFrom": spec})), Some(&values), &objects).unwrap();
            assert_eq!(got, want, "values {values} steps {steps:?}");
        }
    }

    #[test]
    fn optional_references_skip_what_is_missing() {
        let objects = [config_map("present", json!({"other": "x: 1"}))];
        let spec = json!({"valuesFrom": [
            {"kind": "ConfigMap", "name": "absent", "optional": true},
            {"kind": "Secret", "name": "present", "optional": true},
            {"kind": "ConfigMap", "name": "present", "optional": true},
            {"kind": "ConfigMap", "name": "present", "valuesKey": "other"},
        ]});
        let got = compose(HR, "apps", &refs(spec), Some(&json!({"y": 2})), &objects).unwrap();
        assert_eq!(got, json!({"x": 1, "y": 2}));
    }

    #[test]
    fn missing_references_fail_with_fluxs_message() {
        let objects = [
            config_map("present", json!({"other": "x: 1", "list": "- 1", "csv": "x,y"})),
            // Same name in another namespace, and a same-named object of another group.
            obj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "absent", "namespace": "other"}})),
            obj(
                json!({"apiVersion": "example.com/v1", "kind": "ConfigMap", "metadata": {"name": "absent", "namespace": "apps"}}),
            ),
        ];
        let fail =
            |r: Value| compose(HR, "apps", &refs(json!({"valuesFrom": [r]})), None, &objects).unwrap_err().to_string();
        assert_eq!(
            fail(json!({"kind": "ConfigMap", "name": "absent"})),
            "HelmRelease apps/podinfo: spec.valuesFrom[0]: could not resolve ConfigMap chart values reference 'apps/absent' with key 'values.yaml': resource not found"
        );
        assert_eq!(
            fail(json!({"kind": "ConfigMap", "name": "present", "valuesKey": "nope"})),
            "HelmRelease apps/podinfo: spec.valuesFrom[0]: could not resolve ConfigMap chart values reference 'apps/present' with key 'nope': key not found"
        );
        // Optional covers missing things only: a bad value still fails, and says optional.
        assert_eq!(
            fail(
                json!({"kind": "ConfigMap", "name": "present", "valuesKey": "csv", "targetPath": "a", "optional": true})
            ),
            "HelmRelease apps/podinfo: spec.valuesFrom[0]: could not resolve optional ConfigMap chart values reference 'apps/present' with key 'csv': key \"y\" has no value"
        );
        let err = fail(json!({"kind": "ConfigMap", "name": "present", "valuesKey": "list"}));
        assert!(
            err.ends_with("with key 'list': failed to read values data: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type chartutil.Values"),
            "{err}"
        );
        let err = compose(HR, "apps", &[], Some(&json!([1])), &objects).unwrap_err().to_string();
        assert_eq!(err, "HelmRelease apps/podinfo: spec.values: must be a map, not array");
    }

    #[test]
    fn secrets_are_decoded_and_string_data_wins() {
        let objects = [obj(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"values.yaml": b64("a: from-data\nb: kept\n"), "pw": b64("s3cr3t")},
            "stringData": {"values.yaml": "a: from-stringData\n"},
        }))];
        let spec = json!({"valuesFrom": [
            {"kind": "Secret", "name": "s"},
            {"kind": "Secret", "name": "s", "valuesKey": "pw", "targetPath": "auth.password"},
        ]});
        let got = compose(HR, "apps", &refs(spec), None, &objects).unwrap();
        assert_eq!(got, json!({"a": "from-stringData", "auth": {"password": "s3cr3t"}}));
        let bad = [secret("bad", json!({"values.yaml": "not base64!"}))];
        let err = compose(HR, "apps", &refs(json!({"valuesFrom": [{"kind": "Secret", "name": "bad"}]})), None, &bad)
            .unwrap_err();
        assert!(err.to_string().contains("data.values.yaml is not base64"), "{err}");
    }

    #[test]
    fn values_text_reads_like_helm() {
        // Empty text, comments only and `null` are empty maps; only the first document counts;
        // a repeated key keeps its last value.
        for (text, want) in [
            ("", json!({})),
            ("# nothing\n", json!({})),
            ("null", json!({})),
            ("a: 1\na: 2\n---\nb: 3\n", json!({"a": 2})),
            ("---\n---\nb: 3\n", json!({})),
        ] {
            let objects = [config_map("c", json!({"values.yaml": text}))];
            let got =
                compose(HR, "apps", &refs(json!({"valuesFrom": [{"kind": "ConfigMap", "name": "c"}]})), None, &objects);
            assert_eq!(got.unwrap(), want, "{text:?}");
        }
    }

    #[test]
    fn set_value_follows_helm_strvals() {
        // Expected results are Helm v3.17's strvals.ParseInto on the same input.
        let ok = [
            (json!({}), "a=1,b=2", json!({"a": 1, "b": 2})),
            (json!({}), "a.b.c=x", json!({"a": {"b": {"c": "x"}}})),
            (
                json!({}),
                "a=true,b=FALSE,c=Null,d=0,e=00,f=-5,g=+7,h=1.5,i=9223372036854775808,j=0x10,k=1_000",
                json!({"a": true, "b": false, "c": null, "d": 0, "e": "00", "f": -5, "g": 7, "h": "1.5", "i": "9223372036854775808", "j": "0x10", "k": "1_000"}),
            ),
            (json!({}), "a={1,b,true}", json!({"a": [1, "b", true]})),
            (json!({}), "a={}", json!({"a": [""]})),
            (json!({}), "a={x,y}c=1", json!({"a": ["x", "y"], "c": 1})),
            (json!({}), "a=,b=1", json!({"a": "", "b": 1})),
            (json!({}), "a.", json!({})),
            (json!({}), ".a=1", json!({})),
            (json!({}), "name[2]=x", json!({"name": [null, null, "x"]})),
            (json!({}), "name[1].x=y", json!({"name": [null, {"x": "y"}]})),
            (json!({}), "a[0][1]=z", json!({"a": [[null, "z"]]})),
            (json!({}), "a[0]", json!({"a": []})),
            (json!({}), "a[+1]=1", json!({"a": [null, 1]})),
            (json!({}), "a[0].=1", json!({"a": [{}]})),
            (json!({"a": [1, {"b": 2}]}), "a[1].c=3", json!({"a": [1, {"b": 2, "c": 3}]})),
            (json!({"a": [1, 2]}), "a[0].c=3", json!({"a": [{"c": 3}, 2]})),
            (json!({"a": [null, 2]}), "a[0][0]=3", json!({"a": [[3], 2]})),
            (json!({"a": {"b": 1}}), "a.c=2", json!({"a": {"b": 1, "c": 2}})),
            (json!({}), r"a\.b=1", json!({"a.b": 1})),
            (json!({}), r"a=x\,y", json!({"a": "x,y"})),
            (json!({}), r"a=x\=y", json!({"a": "x=y"})),
            (json!({}), r"a=b\\", json!({"a": "b\\"})),
            (json!({}), r"a\[0]=1", json!({"a[0]": 1})),
            (json!({}), "a=b=c", json!({"a": "b=c"})),
            (json!({}), "a b=c d", json!({"a b": "c d"})),
            (json!({}), "=1", json!({})),
            (json!({}), "a=1,", json!({"a": 1})),
            (json!({}), "a=-0,b=-,c=+", json!({"a": 0, "b": "-", "c": "+"})),
            (Value::Null, "a=1", json!({"a": 1})),
        ];
        for (init, expr, want) in ok {
            assert_eq!(set(init, expr, false), Ok(want), "{expr}");
        }
        assert_eq!(set(json!({}), "a=true,b=1,c={1,x}", true), Ok(json!({"a": "true", "b": "1", "c": ["1", "x"]})));
        let deep = (1..=31).map(|i| format!("k{i}")).collect::<Vec<_>>().join(".");
        assert!(set(json!({}), &format!("{deep}=1"), false).is_ok());
        let errors = [
            (json!({}), "a", "key \"a\" has no value"),
            (json!({}), "a,b=1", "key \"a\" has no value (cannot end with ,)"),
            (json!({}), ",a=1", "key \"\" has no value (cannot end with ,)"),
            (json!({}), "a.=1", "key map \"a\" has no value"),
            (json!({}), "a[0", "error parsing index: EOF"),
            (json!({}), "a[x]=1", "error parsing index: strconv.Atoi: parsing \"x\": invalid syntax"),
            (json!({}), "a[ 1]=1", "error parsing index: strconv.Atoi: parsing \" 1\": invalid syntax"),
            (
                json!({}),
                "a[99999999999999999999]=1",
                "error parsing index: strconv.Atoi: parsing \"99999999999999999999\": value out of range",
            ),
            (json!({}), "a[-1]=1", "negative -1 index not allowed"),
            (json!({}), "a[0][-2]=1", "negative -2 index not allowed"),
            (json!({}), "a[65537]=1", "index of 65537 is greater than maximum supported index of 65536"),
            (json!({}), "a[0]x=1", "unexpected data at end of array index: ['x']"),
            (json!({}), "a[0]é=1", "unexpected data at end of array index: ['é']"),
            (json!({}), "a={1,2", "list must terminate with '}'"),
            (json!({}), "a[0]={1,2", "list must terminate with '}'"),
            (json!({}), r"a\", "key \"a\" has no value"),
            (
                json!({"a": "s"}),
                "a.b=1",
                "unable to parse key: interface conversion: interface {} is string, not map[string]interface {}",
            ),
            (
                json!({"a": "s"}),
                "a[0]=1",
                "unable to parse key: interface conversion: interface {} is string, not []interface {}",
            ),
            (
                json!({"a": null}),
                "a[0]=1",
                "unable to parse key: interface conversion: interface {} is nil, not []interface {}",
            ),
            (
                json!({"a": [[1], 2]}),
                "a[1][0]=3",
                "unable to parse key: interface conversion: interface {} is float64, not []interface {}",
            ),
            (
                json!({}),
                "a=1,a.b=2",
                "unable to parse key: interface conversion: interface {} is int64, not map[string]interface {}",
            ),
        ];
        for (init, expr, want) in errors {
            assert_eq!(set(init, expr, false), Err(want.to_string()), "{expr}");
        }
        let too_deep = (1..=32).map(|i| format!("k{i}")).collect::<Vec<_>>().join(".");
        assert_eq!(
            set(json!({}), &format!("{too_deep}=1"), false),
            Err("value name nested level is greater than maximum supported nested level of 30".into())
        );
        // The largest index Helm accepts makes a list of 65537 items.
        let big = set(json!({}), "a[65536]=1", false).unwrap();
        assert_eq!(big["a"].as_array().map(Vec::len), Some(65537));
        // A failed expression leaves the values alone.
        let mut v = json!({"keep": 1});
        assert!(set_value(&mut v, "x=1,y", false).is_err());
        assert_eq!(v, json!({"keep": 1}));
        assert!(set_value(&mut json!([1]), "a=1", false).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing() {
        let expr = format!("a{}=1", "[0]".repeat(100_000));
        assert!(set(json!({}), &expr, false).is_err());
        let expr = format!("a{}=1", "[0].a".repeat(100_000));
        assert!(set(json!({}), &expr, false).is_err());
    }

    #[test]
    fn merge_replaces_all_but_maps() {
        let mut base = json!({"a": {"b": 1, "c": [1, 2]}, "d": 1, "e": {"f": 1}});
        merge(&mut base, &json!({"a": {"c": [3], "g": null}, "d": {"x": 1}, "e": null}));
        assert_eq!(base, json!({"a": {"b": 1, "c": [3], "g": null}, "d": {"x": 1}, "e": null}));
    }

    #[test]
    fn config_digest_matches_flux() {
        // Flux's own test vectors (fluxcd/pkg chartutil.TestDigestValues).
        assert_eq!(
            config_digest(&json!({})),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let v = json!({"replicas": 3, "image": {"tag": "latest", "repository": "nginx"},
                       "ports": [{"protocol": "TCP", "port": 8080}, {"port": 9090, "protocol": "UDP"}]});
        assert_eq!(config_digest(&v), "sha256:fcdc2b0de1581a3633ada4afee3f918f6eaa5b5ab38c3fef03d5b48d3f85d9f6");
        let v = json!({"replicas": 3, "test": {"632bd82398e71231a98004b6": "value4", "632bd817c559818a52307da2": "value3",
                       "632bd80ddf416cf32fd50679": "value2", "632bd80235a05f4192aefade": "value1"}});
        assert_eq!(config_digest(&v), "sha256:8a980fcbeadd6f05818f07e8aec14070c22250ca3d96af1fcd5f93b3e85b4d70");
        // go-yaml quotes what would read back as another type (the key `n` is YAML 1.1's
        // false), keeps HTML characters as they are, writes whole floats as integers, and
        // sorts keys bytewise (`B` before `a`).
        let v = json!({"a": "", "b": "yes", "c": "2001-12-14", "html": "<a>&</a>", "n": null, "f": 2.0, "g": 0.5,
                       "B": [1, "x", {"z": 1, "k": "two\nlines"}], "e": {}, "l": []});
        let yaml = "B:\n- 1\n- x\n- k: |-\n    two\n    lines\n  z: 1\na: \"\"\nb: \"yes\"\nc: \"2001-12-14\"\ne: {}\nf: 2\ng: 0.5\nhtml: <a>&</a>\nl: []\n\"n\": null\n";
        assert_eq!(config_digest(&v), format!("sha256:{}", sha256_hex(yaml)));
    }

    #[test]
    fn digest_yaml_scalars() {
        let text = |v: Value| {
            let mut out = String::new();
            encode_digest_yaml(&json!({ "k": v }), &mut out);
            out
        };
        assert_eq!(text(json!("it's")), "k: it's\n");
        assert_eq!(text(json!("#c")), "k: '#c'\n");
        assert_eq!(text(json!("a\tb")), "k: \"a\\tb\"\n");
        assert_eq!(text(json!("trailing\n")), "k: |\n  trailing\n");
        assert_eq!(text(json!("0x1F")), "k: \"0x1F\"\n");
        assert_eq!(text(json!("1:20")), "k: \"1:20\"\n");
        assert_eq!(text(json!(1234567.5)), "k: 1.2345675e+06\n");
        assert_eq!(text(json!(1e-7)), "k: 1e-07\n");
        assert_eq!(text(json!(1e20)), "k: 1e+20\n");
        // Long plain text folds after column 80.
        let long = "word ".repeat(20) + "end";
        let folded = text(json!(long));
        assert!(folded.lines().count() == 2 && folded.lines().all(|l| l.len() <= 90), "{folded}");
    }
}
