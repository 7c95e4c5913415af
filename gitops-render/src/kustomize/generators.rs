//! `configMapGenerator` and `secretGenerator`: building the objects, `behavior: merge|replace`,
//! and the content-hash name suffix.
//!
//! Everything here follows what kustomize v5.5.0 (`kubectl kustomize`) does, probed case by case;
//! the few places where this module deliberately differs are marked "Deliberate:" below.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// A generator problem. Every message names the generator (`configMapGenerator "name"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Error {
    /// The entry has no `name`.
    #[error("a {field} entry has no `name`; every generated object needs one")]
    MissingName {
        /// `configMapGenerator` or `secretGenerator`.
        field: &'static str,
    },
    /// A `literals` entry that is not `key=value`.
    #[error("{generator}: literal {literal:?} is not `key=value` (the key must not be empty)")]
    InvalidLiteral {
        /// The generator, as `configMapGenerator "name"`.
        generator: String,
        /// The literal as written.
        literal: String,
    },
    /// A `literals` entry holding a character kustomize cannot carry through its YAML round trip.
    #[error(
        "{generator}: literal {literal:?} contains the character U+{code:04X}, which kustomize rejects \
         (\"control characters are not allowed\"); put the value in a file instead"
    )]
    UnencodableLiteral {
        /// The generator, as `configMapGenerator "name"`.
        generator: String,
        /// The literal as written.
        literal: String,
        /// The offending code point.
        code: u32,
    },
    /// A malformed `files` entry.
    #[error("{generator}: files entry {entry:?}: {problem}")]
    InvalidFileSource {
        /// The generator, as `configMapGenerator "name"`.
        generator: String,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Reading a file named by `files` or `envs` failed.
    #[error("{generator}: {field}: {message}")]
    Read {
        /// The generator, as `configMapGenerator "name"`.
        generator: String,
        /// `files` or `envs`.
        field: &'static str,
        /// The reader's message (it names the path).
        message: String,
    },
    /// A line of an `envs` file that cannot be used.
    #[error("{generator}: env file {path:?} line {line}: {problem}")]
    EnvLine {
        /// The generator, as `configMapGenerator "name"`.
        generator: String,
        /// The env file as named in `envs`.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The same key came from two sources (or twice from one).
    #[error("{generator}: the key {key:?} is given more than once (across envs, literals and files)")]
    RepeatedKey {
        /// The generator, as `configMapGenerator "name"`.
        generator: String,
        /// The repeated key.
        key: String,
    },
    /// `merge_into` was asked to apply `behavior: create`.
    #[error("{generator}: an object with this name already exists; set `behavior: merge` or `behavior: replace`")]
    NotMergeBehavior {
        /// The generator, as `configMapGenerator "name"`.
        generator: String,
    },
    /// The object to merge into is not a mapping.
    #[error("{generator}: the existing object it would merge into is not a mapping")]
    ExistingNotObject {
        /// The generator, as `configMapGenerator "name"`.
        generator: String,
    },
}

/// Which object a generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Kind {
    /// `configMapGenerator` → `ConfigMap`.
    #[default]
    ConfigMap,
    /// `secretGenerator` → `Secret`.
    Secret,
}

impl Kind {
    /// The kustomization field that holds generators of this kind.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configMapGenerator",
            Kind::Secret => "secretGenerator",
        }
    }

    /// The Kubernetes `kind` of the generated object.
    pub(crate) fn object_kind(self) -> &'static str {
        match self {
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        }
    }
}

/// `behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Behavior {
    /// `create` (the default): the object must not exist yet.
    #[default]
    Create,
    /// `merge`: data and metadata maps merged onto the existing object.
    Merge,
    /// `replace`: data replaced, metadata maps still merged.
    Replace,
}

impl Behavior {
    /// Reads the `behavior` field: `create`, `merge` or `replace` (exact case).
    ///
    /// Any other text, `""` included, means `create`: kustomize maps unknown values to
    /// "unspecified", which it treats exactly like `create` (probed: `behavior: foo` and
    /// `behavior: Merge` both generate a fresh object). Kept for byte-for-byte conformance; the
    /// `Result` leaves room to turn this into an error without changing callers.
    pub(crate) fn parse(text: &str) -> Result<Behavior, Error> {
        Ok(match text {
            "merge" => Behavior::Merge,
            "replace" => Behavior::Replace,
            _ => Behavior::Create,
        })
    }
}

/// `generatorOptions` or a generator's `options`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Options {
    /// Labels added to the generated object.
    pub(crate) labels: BTreeMap<String, String>,
    /// Annotations added to the generated object.
    pub(crate) annotations: BTreeMap<String, String>,
    /// `disableNameSuffixHash`.
    pub(crate) disable_name_suffix_hash: Option<bool>,
    /// `immutable`.
    pub(crate) immutable: Option<bool>,
}

/// One generator entry. `envs` already includes the legacy `env` field (appended by the caller).
#[derive(Debug, Clone, Default)]
pub(crate) struct Args {
    /// ConfigMap or Secret.
    pub(crate) kind: Kind,
    /// `name`.
    pub(crate) name: String,
    /// `namespace` (`None` when absent or empty).
    pub(crate) namespace: Option<String>,
    /// `behavior`.
    pub(crate) behavior: Behavior,
    /// `envs` (then the legacy `env`).
    pub(crate) envs: Vec<String>,
    /// `literals`.
    pub(crate) literals: Vec<String>,
    /// `files`.
    pub(crate) files: Vec<String>,
    /// `type` (Secrets only; `None` means `Opaque`).
    pub(crate) secret_type: Option<String>,
    /// `options`.
    pub(crate) options: Option<Options>,
}

/// A generated object and whether it gets the content-hash name suffix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Generated {
    /// The ConfigMap or Secret.
    pub(crate) object: Value,
    /// Whether the top level appends `-<hash_suffix(object)>` to its name.
    pub(crate) hash: bool,
}

/// Builds the object of one generator. `global` is the kustomization's `generatorOptions`.
/// `read` reads a file named by `files`/`envs` (relative to the kustomization; the caller's
/// strict loader confines it and its error text names the path); its errors are wrapped with
/// the generator's name and field.
pub(crate) fn generate(
    args: &Args,
    global: Option<&Options>,
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Generated, Error> {
    if args.name.is_empty() {
        return Err(Error::MissingName { field: args.kind.field() });
    }
    let generator = generator_label(args.kind, &args.name);
    let pairs = collect_pairs(args, &generator, read)?;
    let options = effective_options(args.options.as_ref(), global);
    let object = build_object(args, &pairs, &options);
    Ok(Generated { object, hash: !options.disable_name_suffix_hash })
}

/// `behavior: merge` / `replace` of `new` onto an existing object (from an earlier generator
/// or from plain resources) whose hash flag is `existing_hash`; returns the resulting hash flag.
///
/// `existing` becomes `new`'s object with the existing name and namespace, the existing labels
/// and annotations under the new ones and, for `merge`, the existing `data`/`binaryData` under
/// the new ones. Everything else of the existing object (`immutable`, a Secret's `type` or
/// `stringData`, extra fields) is dropped, as kustomize does. The result is hashed only if both
/// sides wanted the hash (probed: either side's `disableNameSuffixHash: true` wins).
pub(crate) fn merge_into(
    existing: &mut Value,
    existing_hash: bool,
    new: &Generated,
    behavior: Behavior,
) -> Result<bool, Error> {
    let generator = || generator_label_of(&new.object);
    if behavior == Behavior::Create {
        return Err(Error::NotMergeBehavior { generator: generator() });
    }
    let Value::Object(old) = existing else {
        return Err(Error::ExistingNotObject { generator: generator() });
    };
    let mut result = match &new.object {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_metadata(&mut result, old);
    if behavior == Behavior::Merge {
        for field in ["data", "binaryData"] {
            let merged = merged_string_map(old.get(field), result.get(field));
            set_or_remove_map(&mut result, field, merged);
        }
    }
    *existing = Value::Object(result);
    Ok(existing_hash && new.hash)
}

/// The 10-character content hash kustomize appends as `-<hash>` (spec §2).
///
/// Hashes Go's `json.Marshal` of `{"data", "kind", "name": ""}` plus `binaryData` (ConfigMap,
/// only when a mapping) or `type` and `stringData` (Secret, the latter only when a mapping).
/// A missing or null field hashes as `""`, a scalar as its text. Any kind other than `Secret`
/// takes the ConfigMap shape (kustomize refuses to hash other kinds; only generated objects,
/// which are ConfigMaps or Secrets, reach this).
pub(crate) fn hash_suffix(object: &Value) -> String {
    let field = |name: &str| object.get(name);
    let kind = field("kind").map(scalar_text).unwrap_or_default();
    let is_secret = kind == "Secret";
    let mut shape: Vec<(&str, HashValue<'_>)> = vec![("data", HashValue::of(field("data")))];
    if is_secret {
        shape.push(("kind", HashValue::Text(kind)));
        shape.push(("name", HashValue::Text(String::new())));
        if let Some(map @ Value::Object(_)) = field("stringData") {
            shape.push(("stringData", HashValue::Json(map)));
        }
        shape.push(("type", HashValue::of(field("type"))));
    } else {
        if let Some(map @ Value::Object(_)) = field("binaryData") {
            shape.insert(0, ("binaryData", HashValue::Json(map)));
        }
        shape.push(("kind", HashValue::Text(kind)));
        shape.push(("name", HashValue::Text(String::new())));
    }
    let mut json = String::from("{");
    for (i, (key, value)) in shape.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        write_go_string(&mut json, key);
        json.push(':');
        match value {
            HashValue::Text(text) => write_go_string(&mut json, text),
            HashValue::Json(value) => write_go_json(&mut json, value),
        }
    }
    json.push('}');
    encode_hash(&Sha256::digest(json.as_bytes()))
}

/// A field of the hashed shape: mappings are marshalled as JSON, anything else as its text.
enum HashValue<'a> {
    Text(String),
    Json(&'a Value),
}

impl<'a> HashValue<'a> {
    fn of(value: Option<&'a Value>) -> HashValue<'a> {
        match value {
            Some(map @ Value::Object(_)) => HashValue::Json(map),
            Some(other) => HashValue::Text(scalar_text(other)),
            None => HashValue::Text(String::new()),
        }
    }
}

/// First 10 hex digits with kustomize's substitution, which avoids vowels and look-alike digits.
fn encode_hash(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    digest
        .iter()
        .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]])
        .take(10)
        .map(|digit| match digit {
            b'0' => 'g',
            b'1' => 'h',
            b'3' => 'k',
            b'a' => 'm',
            b'e' => 't',
            other => char::from(other),
        })
        .collect()
}

/// Go `encoding/json` output for a value: sorted keys, no whitespace, Go's float format.
fn write_go_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_go_number(out, n),
        Value::String(s) => write_go_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted explicitly: serde_json's map order depends on its `preserve_order` feature.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(out, key);
                out.push(':');
                write_go_json(out, item);
            }
            out.push('}');
        }
    }
}

/// A number the way Go's `encoding/json` prints a `float64`: kustomize's hasher sees every
/// number as a float64 (probed: 9007199254740993 hashes as 9007199254740992, `1.0` as `1`), in
/// exponent form below 1e-6 and from 1e21 on.
fn write_go_number(out: &mut String, n: &serde_json::Number) {
    let Some(f) = n.as_f64() else {
        // Unreachable without serde_json's `arbitrary_precision`; the text is the best answer.
        let _ = write!(out, "{n}");
        return;
    };
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust prints `1e-7` / `1.5e22`; Go prints `1e-07` then trims to `1e-7`, and `1.5e+22`.
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = exponent.strip_prefix('-').map_or(("+", exponent), |d| ("-", d));
        let digits = if sign == "+" && digits.len() < 2 { format!("0{digits}") } else { digits.to_owned() };
        let _ = write!(out, "{mantissa}e{sign}{digits}");
    } else {
        let _ = write!(out, "{f}");
    }
}

/// A JSON string as Go's `encoding/json` writes it (Go ≥ 1.22): HTML-safe (`<>&` escaped),
/// U+2028/U+2029 escaped, `\b \f \n \r \t` short forms, other controls as `\u00XX`,
/// non-ASCII kept as UTF-8.
fn write_go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\0'..='\u{1f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// `configMapGenerator "name"`, the prefix of every message.
fn generator_label(kind: Kind, name: &str) -> String {
    format!("{} {name:?}", kind.field())
}

/// The label for an already generated object (used by `merge_into`).
fn generator_label_of(object: &Value) -> String {
    let kind = match object.get("kind").and_then(Value::as_str) {
        Some("Secret") => Kind::Secret,
        _ => Kind::ConfigMap,
    };
    let name = object.pointer("/metadata/name").map(scalar_text).unwrap_or_default();
    generator_label(kind, &name)
}

/// All key/value pairs in kustomize's source order (envs, literals, files), checked for repeats.
fn collect_pairs(
    args: &Args,
    generator: &str,
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let read_err = |field| move |message| Error::Read { generator: generator.to_owned(), field, message };
    let mut pairs = Vec::new();
    for path in &args.envs {
        let content = read(path).map_err(read_err("envs"))?;
        parse_env_file(&content, path, generator, &mut pairs)?;
    }
    for literal in &args.literals {
        let (key, value) = parse_literal(literal, generator)?;
        pairs.push((key.to_owned(), value.as_bytes().to_vec()));
    }
    for source in &args.files {
        let (key, path) = parse_file_source(source).map_err(|problem| Error::InvalidFileSource {
            generator: generator.to_owned(),
            entry: source.clone(),
            problem,
        })?;
        let content = read(path).map_err(read_err("files"))?;
        pairs.push((key.to_owned(), content));
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    if let Some((key, _)) = pairs.iter().find(|(key, _)| !seen.insert(key.as_str())) {
        return Err(Error::RepeatedKey { generator: generator.to_owned(), key: key.clone() });
    }
    Ok(pairs)
}

/// Lines longer than this stop Go's `bufio.Scanner`, which kustomize uses to read env files.
const MAX_ENV_LINE: usize = 64 * 1024 - 1;

/// Parses an env file the way kustomize does: lines split at `\n` with one trailing `\r`
/// dropped; a UTF-8 BOM stripped from the first line only; leading whitespace trimmed; blank
/// and `#` lines skipped; split at the first `=` (none → empty value); no quote removal, no
/// trailing trim, no `export` handling, no key validation; a line with an empty key is skipped.
fn parse_env_file(
    content: &[u8],
    path: &str,
    generator: &str,
    pairs: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), Error> {
    let line_err =
        |line, problem| Error::EnvLine { generator: generator.to_owned(), path: path.to_owned(), line, problem };
    let mut lines: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    // A final `\n` ends the last line; it does not start an empty one.
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    for (index, raw) in lines.into_iter().enumerate() {
        if raw.len() > MAX_ENV_LINE {
            // Deliberate: kustomize's scanner stops at such a line and silently drops it and
            // everything after it; an error is better than losing data without a word.
            return Err(line_err(index + 1, "is longer than 65535 bytes, which kustomize cannot read"));
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(mut line) = std::str::from_utf8(raw) else {
            return Err(line_err(index + 1, "is not valid UTF-8"));
        };
        if index == 0 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if !key.is_empty() {
            pairs.push((key.to_owned(), value.as_bytes().to_vec()));
        }
    }
    Ok(())
}

/// `key=value`, split at the first `=`; a value wrapped in matching `'…'` or `"…"` loses them.
fn parse_literal<'a>(literal: &'a str, generator: &str) -> Result<(&'a str, &'a str), Error> {
    let invalid = || Error::InvalidLiteral { generator: generator.to_owned(), literal: literal.to_owned() };
    if let Some(c) = literal.chars().find(|&c| !survives_yaml_round_trip(c)) {
        return Err(Error::UnencodableLiteral {
            generator: generator.to_owned(),
            literal: literal.to_owned(),
            code: u32::from(c),
        });
    }
    let (key, value) = literal.split_once('=').ok_or_else(invalid)?;
    if key.is_empty() {
        return Err(invalid());
    }
    Ok((key, remove_quotes(value)))
}

/// kustomize round-trips generator arguments through go-yaml, whose emitter writes these
/// characters raw and whose parser then rejects them (probed: U+007F, U+0080–U+009F except
/// U+0085, U+FFFE, U+FFFF fail with "control characters are not allowed").
fn survives_yaml_round_trip(c: char) -> bool {
    !matches!(c, '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
}

fn remove_quotes(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2
            && let Some(inner) = value.strip_prefix(quote).and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// `path` (key = its base name) or `key=path`; returns `(key, path)`.
fn parse_file_source(source: &str) -> Result<(&str, &str), &'static str> {
    match source.split_once('=') {
        None => Ok((go_path_base(source), source)),
        Some((_, rest)) if rest.contains('=') => Err("the key or the path contains `=`; use `key=path` with one `=`"),
        Some(("", _)) => Err("the key before `=` is empty"),
        Some((_, "")) => Err("the path after `=` is empty"),
        Some((key, path)) => Ok((key, path)),
    }
}

/// Go's `path.Base`: the last element after trailing slashes are removed.
fn go_path_base(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Effective options of one generator after folding in `generatorOptions`.
struct Effective {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    disable_name_suffix_hash: bool,
    immutable: bool,
}

/// Per key the generator's own labels/annotations win; a `true` flag at either level sticks.
fn effective_options(local: Option<&Options>, global: Option<&Options>) -> Effective {
    let union = |pick: fn(&Options) -> &BTreeMap<String, String>| {
        let mut map = global.map(|g| pick(g).clone()).unwrap_or_default();
        if let Some(local) = local {
            map.extend(pick(local).iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        map
    };
    let flag =
        |pick: fn(&Options) -> Option<bool>| [local, global].into_iter().flatten().any(|o| pick(o) == Some(true));
    Effective {
        labels: union(|o| &o.labels),
        annotations: union(|o| &o.annotations),
        disable_name_suffix_hash: flag(|o| o.disable_name_suffix_hash),
        immutable: flag(|o| o.immutable),
    }
}

fn build_object(args: &Args, pairs: &[(String, Vec<u8>)], options: &Effective) -> Value {
    let mut object = Map::new();
    object.insert("apiVersion".into(), "v1".into());
    object.insert("kind".into(), args.kind.object_kind().into());
    object.insert("metadata".into(), Value::Object(build_metadata(args, options)));
    match args.kind {
        Kind::ConfigMap => insert_config_map_data(&mut object, pairs),
        Kind::Secret => {
            // A Secret always gets `data`, even `{}` (probed), unlike a ConfigMap.
            let data = pairs.iter().map(|(k, v)| (k.clone(), Value::String(wrapped_base64(v)))).collect();
            object.insert("data".into(), Value::Object(data));
            object.insert("type".into(), args.secret_type.as_deref().unwrap_or("Opaque").into());
        }
    }
    if options.immutable {
        object.insert("immutable".into(), Value::Bool(true));
    }
    Value::Object(object)
}

fn build_metadata(args: &Args, options: &Effective) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("name".into(), args.name.clone().into());
    if let Some(namespace) = args.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        metadata.insert("namespace".into(), namespace.into());
    }
    for (field, map) in [("labels", &options.labels), ("annotations", &options.annotations)] {
        if !map.is_empty() {
            let map = map.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            metadata.insert(field.into(), Value::Object(map));
        }
    }
    metadata
}

/// UTF-8 values go to `data`, anything else base64-encoded to `binaryData`; an empty map is
/// left out entirely.
fn insert_config_map_data(object: &mut Map<String, Value>, pairs: &[(String, Vec<u8>)]) {
    let mut data = Map::new();
    let mut binary = Map::new();
    for (key, value) in pairs {
        match std::str::from_utf8(value) {
            Ok(text) => data.insert(key.clone(), text.into()),
            Err(_) => binary.insert(key.clone(), wrapped_base64(value).into()),
        };
    }
    for (field, map) in [("data", data), ("binaryData", binary)] {
        if !map.is_empty() {
            object.insert(field.into(), Value::Object(map));
        }
    }
}

/// Standard base64; from 70 characters on, every 70-character chunk (the last one too) is
/// followed by a newline, as kustomize writes it. The hash sees this text, so it must match.
fn wrapped_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    let mut rest = encoded.as_str();
    while !rest.is_empty() {
        // Base64 is ASCII, so any byte offset is a character boundary.
        let (chunk, tail) = rest.split_at(rest.len().min(LINE));
        out.push_str(chunk);
        out.push('\n');
        rest = tail;
    }
    out
}

/// Name and namespace from the existing object; labels and annotations merged, new winning.
fn merge_metadata(result: &mut Map<String, Value>, old: &Map<String, Value>) {
    let old_meta = old.get("metadata").and_then(Value::as_object);
    let old_field = |field: &str| old_meta.and_then(|m| m.get(field));
    let mut meta = match result.remove("metadata") {
        Some(Value::Object(meta)) => meta,
        _ => Map::new(),
    };
    for field in ["labels", "annotations"] {
        let merged = merged_string_map(old_field(field), meta.get(field));
        set_or_remove_map(&mut meta, field, merged);
    }
    meta.insert("name".into(), old_field("name").map(scalar_text).unwrap_or_default().into());
    match old_field("namespace").map(scalar_text).filter(|ns| !ns.is_empty()) {
        Some(namespace) => meta.insert("namespace".into(), namespace.into()),
        None => meta.remove("namespace"),
    };
    result.insert("metadata".into(), Value::Object(meta));
}

/// Union of two string maps (values read as their scalar text, as kustomize reads them),
/// the second one winning.
fn merged_string_map(old: Option<&Value>, new: Option<&Value>) -> Map<String, Value> {
    let mut merged = Map::new();
    for map in [old, new].into_iter().flatten().filter_map(Value::as_object) {
        for (key, value) in map {
            merged.insert(key.clone(), Value::String(scalar_text(value)));
        }
    }
    merged
}

fn set_or_remove_map(object: &mut Map<String, Value>, field: &str, map: Map<String, Value>) {
    if map.is_empty() {
        object.remove(field);
    } else {
        object.insert(field.to_owned(), Value::Object(map));
    }
}

/// The text kustomize reads from a YAML scalar node; null and collections read as `""`.
/// (A float reads back in its shortest form; the original spelling, e.g. `1.0`, is not known.)
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if !n.is_f64() => n.to_string(),
        Value::Number(n) => {
            let mut out = String::new();
            write_go_number(&mut out, n);
            out
        }
        Value::Bool(b) => b.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    //! Every expected name, hash and value below is what `kubectl kustomize` (kustomize v5.5.0,
    //! /usr/bin/kubectl v1.32.4) printed for the same input when probed.

    use serde_json::json;

    use super::*;

    fn no_files(path: &str) -> Result<Vec<u8>, String> {
        Err(format!("unexpected read of {path:?}"))
    }

    fn literals(kind: Kind, name: &str, literals: &[&str]) -> Args {
        Args { kind, name: name.into(), literals: literals.iter().map(|l| l.to_string()).collect(), ..Args::default() }
    }

    fn gen_with(args: &Args, files: &[(&str, &[u8])]) -> Result<Generated, Error> {
        let mut read = |path: &str| {
            files.iter().find(|(p, _)| *p == path).map(|(_, c)| c.to_vec()).ok_or_else(|| format!("no file {path:?}"))
        };
        generate(args, None, &mut read)
    }

    fn gen_ok(args: &Args) -> Generated {
        generate(args, None, &mut no_files).expect("probe input generates")
    }

    #[test]
    fn spec_vectors_and_empty_objects() {
        let empty = gen_ok(&literals(Kind::ConfigMap, "empty", &[]));
        assert_eq!(empty.object, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "empty"}}));
        assert!(empty.hash);
        assert_eq!(hash_suffix(&empty.object), "6ct58987ht");
        assert_eq!(hash_suffix(&gen_ok(&literals(Kind::ConfigMap, "one", &["one="])).object), "9g67k2htb6");
        let secret = gen_ok(&literals(Kind::Secret, "s-empty", &[]));
        assert_eq!(
            secret.object,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s-empty"}, "data": {}, "type": "Opaque"})
        );
        assert_eq!(hash_suffix(&secret.object), "46f8b28mk5");
        assert_eq!(hash_suffix(&gen_ok(&literals(Kind::ConfigMap, "a", &["k=1"])).object), "bbd6m56k95");
        assert_eq!(hash_suffix(&gen_ok(&literals(Kind::ConfigMap, "a", &["k=v"])).object), "bdg947hgcc");
    }

    #[test]
    fn tricky_literals() {
        let lits = [
            "lt=<a>&b",
            "uni=héllo ✓ 😀",
            "sep=a b c",
            "nl=\"line1\\nline2\"",
            "q1='quoted'",
            "q2=\"dq\"",
            "q3='mismatch\"",
            "q4='",
            "q5=''",
            "eq=a=b=c",
            "sp= leading and trailing",
            "bs=\u{8}\u{c}\u{1}\t\r\u{2028}\u{2029}\0",
        ];
        let g = gen_ok(&literals(Kind::ConfigMap, "tricky", &lits));
        assert_eq!(
            g.object["data"],
            json!({"lt": "<a>&b", "uni": "héllo ✓ 😀", "sep": "a b c", "nl": "line1\\nline2", "q1": "quoted",
                   "q2": "dq", "q3": "'mismatch\"", "q4": "'", "q5": "", "eq": "a=b=c",
                   "sp": " leading and trailing", "bs": "\u{8}\u{c}\u{1}\t\r\u{2028}\u{2029}\0"})
        );
        assert_eq!(hash_suffix(&g.object), "kt45cd62hf");
        let keys = gen_ok(&literals(Kind::ConfigMap, "a", &["a b=1", "a/b=2", "ü=3", ":=4"]));
        assert_eq!(hash_suffix(&keys.object), "9c2dmkh747");
    }

    #[test]
    fn secrets_wrap_base64_at_70_columns() {
        let long = format!("long={}", "a".repeat(54));
        let long2 = format!("long2={}", "a".repeat(135));
        let g = gen_ok(&literals(Kind::Secret, "s1", &["a=hello", &long, &long2]));
        let y = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYW";
        assert_eq!(
            g.object["data"],
            json!({"a": "aGVsbG8=", "long": format!("{y}\nFh\n"),
                   "long2": format!("{y}\nFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh\n\
                                     YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh\n")})
        );
        assert_eq!(hash_suffix(&g.object), "66kmc6fhdd");
        let tls = Args { secret_type: Some("kubernetes.io/tls".into()), ..literals(Kind::Secret, "s2", &["x=y"]) };
        let g = gen_ok(&tls);
        assert_eq!(g.object["type"], "kubernetes.io/tls");
        assert_eq!(hash_suffix(&g.object), "5m4gk962d9");
    }

    #[test]
    fn base64_wraps_from_70_characters() {
        let y = "YWFh".repeat(17);
        let g = gen_ok(&Args {
            literals: vec![
                format!("a51={}", "a".repeat(51)),
                format!("a52={}", "a".repeat(52)),
                format!("a105={}", "a".repeat(105)),
            ],
            ..literals(Kind::Secret, "w", &[])
        });
        assert_eq!(g.object["data"]["a51"], y);
        assert_eq!(g.object["data"]["a52"], format!("{y}YQ\n==\n"));
        assert_eq!(g.object["data"]["a105"], format!("{y}YW\nFh{}YWFh\n", "YWFh".repeat(16)));
        assert_eq!(hash_suffix(&g.object), "t8fg87h7dm");
    }

    #[test]
    fn env_files() {
        let a: &[u8] = b"\xef\xbb\xbfFIRST=1\n  # comment\n\n   LEAD=  x  \nNOVAL\nQ=\"quoted\"\nexport E=1\n\
                         CRLF=v\r\nEQ=a=b\n\t TAB=t\nLAST=end";
        let b: &[u8] = b"B=2\n\xef\xbb\xbfBOM2=x\n";
        let args = Args { envs: vec!["a.env".into(), "b.env".into()], ..literals(Kind::ConfigMap, "e", &[]) };
        let g = gen_with(&args, &[("a.env", a), ("b.env", b)]).expect("env files parse");
        assert_eq!(
            g.object["data"],
            json!({"\u{feff}BOM2": "x", "B": "2", "CRLF": "v", "EQ": "a=b", "FIRST": "1", "LAST": "end",
                   "LEAD": "  x  ", "NOVAL": "", "Q": "\"quoted\"", "TAB": "t", "export E": "1"})
        );
        assert_eq!(hash_suffix(&g.object), "bct42c4mcg");
        let weird = Args { envs: vec!["w".into()], ..literals(Kind::ConfigMap, "e", &[]) };
        let g = gen_with(&weird, &[("w", b"1A=1\nb.c=2\nd-e=3\n\xc3\xbc=4\n")]).expect("keys are not validated");
        assert_eq!(hash_suffix(&g.object), "2f5g487f5f");
        let g = gen_with(&weird, &[("w", b"=1\n")]).expect("an empty key is skipped");
        assert_eq!(hash_suffix(&g.object), "6ct58987ht");
        let g = gen_with(&weird, &[("w", b"a b=1\n")]).expect("a space in a key is kept");
        assert_eq!(hash_suffix(&g.object), "5ck52bh8kf");
    }

    #[test]
    fn env_file_errors() {
        let args = Args { envs: vec!["a.env".into()], ..literals(Kind::ConfigMap, "e", &[]) };
        let err = gen_with(&args, &[("a.env", b"A=\xff\n")]).expect_err("invalid UTF-8");
        assert!(matches!(err, Error::EnvLine { line: 1, .. }), "{err}");
        // kubectl accepts a 65535-byte line and silently stops at a 65536-byte one.
        let ok = format!("A={}\nZ=1\n", "x".repeat(65533));
        assert_eq!(
            gen_with(&args, &[("a.env", ok.as_bytes())]).map(|g| g.object["data"].as_object().map(Map::len)),
            Ok(Some(2))
        );
        let long = format!("A=1\nB={}\r\nZ=1\n", "x".repeat(65533));
        let err = gen_with(&args, &[("a.env", long.as_bytes())]).expect_err("line too long");
        assert!(matches!(err, Error::EnvLine { line: 2, .. }), "{err}");
        let err = gen_with(&args, &[]).expect_err("missing file");
        assert_eq!(err.to_string(), "configMapGenerator \"e\": envs: no file \"a.env\"");
    }

    #[test]
    fn files_and_binary_data() {
        let files: &[(&str, &[u8])] =
            &[("sub/f.txt", b"hello\n"), ("g", b"x"), ("bin", b"\x00\x01\xff\xfe"), ("zero", &[0; 100])];
        let args = Args {
            files: vec!["sub/f.txt".into(), "renamed=g".into(), "bin".into(), "zero".into()],
            ..literals(Kind::ConfigMap, "f", &[])
        };
        let g = gen_with(&args, files).expect("files load");
        assert_eq!(g.object["binaryData"], json!({"bin": "AAH//g=="}));
        assert_eq!(g.object["data"]["f.txt"], "hello\n");
        assert_eq!(g.object["data"]["renamed"], "x");
        assert_eq!(g.object["data"]["zero"], "\0".repeat(100));
        assert_eq!(hash_suffix(&g.object), "m2t7b66dbk");
        let secret = Args {
            kind: Kind::Secret,
            name: "s".into(),
            files: vec!["sub/f.txt".into(), "bin".into()],
            ..Args::default()
        };
        let g = gen_with(&secret, files).expect("files load");
        assert_eq!(g.object["data"], json!({"bin": "AAH//g==", "f.txt": "aGVsbG8K"}));
        assert_eq!(hash_suffix(&g.object), "5tbhk8d594");
        let slash = Args { files: vec!["d/f/".into()], ..literals(Kind::ConfigMap, "f", &[]) };
        let g = gen_with(&slash, &[("d/f/", b"x")]).expect("trailing slash");
        assert_eq!(g.object["data"], json!({"f": "x"}));
        assert_eq!(hash_suffix(&g.object), "khd82t6t74");
    }

    #[test]
    fn source_errors() {
        let err = |args: &Args| gen_with(args, &[("g", b"x")]).expect_err("probe input fails").to_string();
        let file = |source: &str| Args { files: vec![source.into()], ..literals(Kind::ConfigMap, "f", &[]) };
        for source in ["a=b=g", "=g", "g=", "="] {
            assert!(err(&file(source)).starts_with(&format!("configMapGenerator \"f\": files entry {source:?}: ")));
        }
        assert_eq!(
            err(&literals(Kind::ConfigMap, "a", &["novalue"])),
            "configMapGenerator \"a\": literal \"novalue\" is not `key=value` (the key must not be empty)"
        );
        assert!(err(&literals(Kind::ConfigMap, "a", &["=v"])).contains("literal \"=v\""));
        assert_eq!(
            err(&literals(Kind::Secret, "s", &["k=1", "k=2"])),
            "secretGenerator \"s\": the key \"k\" is given more than once (across envs, literals and files)"
        );
        let across = Args { files: vec!["A=g".into()], ..literals(Kind::ConfigMap, "e", &["A=1"]) };
        assert!(matches!(gen_with(&across, &[("g", b"x")]), Err(Error::RepeatedKey { .. })));
        assert_eq!(
            err(&literals(Kind::Secret, "", &[])),
            "a secretGenerator entry has no `name`; every generated object needs one"
        );
        for bad in ["k=a\u{7f}b", "k=a\u{80}", "k=\u{9f}", "k=\u{ffff}"] {
            assert!(matches!(
                gen_with(&literals(Kind::ConfigMap, "c", &[bad]), &[]),
                Err(Error::UnencodableLiteral { .. })
            ));
        }
        assert!(gen_with(&literals(Kind::ConfigMap, "c", &["k=\u{85}\u{feff}\u{10ffff}"]), &[]).is_ok());
    }

    #[test]
    fn behavior_parse_matches_kubectl() {
        assert_eq!(Behavior::parse(""), Ok(Behavior::Create));
        assert_eq!(Behavior::parse("merge"), Ok(Behavior::Merge));
        assert_eq!(Behavior::parse("replace"), Ok(Behavior::Replace));
        // kubectl generates a fresh object for these.
        assert_eq!(Behavior::parse("foo"), Ok(Behavior::Create));
        assert_eq!(Behavior::parse("Merge"), Ok(Behavior::Create));
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn options_precedence() {
        let global = Options {
            labels: labels(&[("g", "global"), ("both", "global")]),
            annotations: labels(&[("ga", "1"), ("both", "global")]),
            disable_name_suffix_hash: Some(true),
            immutable: Some(true),
        };
        let local = Options {
            labels: labels(&[("both", "local"), ("l", "local")]),
            annotations: labels(&[("both", "local")]),
            disable_name_suffix_hash: Some(false),
            immutable: Some(false),
        };
        let args = Args { options: Some(local), ..literals(Kind::ConfigMap, "a", &["k=v"]) };
        let g = generate(&args, Some(&global), &mut no_files).expect("generates");
        assert!(!g.hash);
        assert_eq!(
            g.object,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}, "immutable": true,
                   "metadata": {"name": "a", "annotations": {"both": "local", "ga": "1"},
                                "labels": {"both": "local", "g": "global", "l": "local"}}})
        );
        let secret = Args { options: Some(Options::default()), ..literals(Kind::Secret, "s", &["k=v"]) };
        let g = generate(&secret, Some(&global), &mut no_files).expect("generates");
        assert_eq!(g.object["metadata"]["labels"], json!({"both": "global", "g": "global"}));
        assert_eq!(g.object["immutable"], true);
        let local_only = Options { immutable: Some(true), ..Options::default() };
        let args = Args { options: Some(local_only), ..literals(Kind::ConfigMap, "b", &["k=v"]) };
        let off = Options { immutable: Some(false), ..Options::default() };
        let g = generate(&args, Some(&off), &mut no_files).expect("generates");
        assert_eq!((g.hash, &g.object["immutable"]), (true, &json!(true)));
        assert_eq!(hash_suffix(&g.object), "bdg947hgcc");
        let ns = Args { namespace: Some("456".into()), ..literals(Kind::ConfigMap, "true", &["k=1"]) };
        assert_eq!(gen_ok(&ns).object["metadata"], json!({"name": "true", "namespace": "456"}));
    }

    fn base_and_overlay(behavior: Behavior) -> Vec<(Value, bool)> {
        // Base: generators under `namePrefix: p-` of the overlay (the prefix is applied before
        // the overlay's generators merge in, so the existing names already carry it).
        let base_opts = Options {
            labels: labels(&[("l1", "base"), ("l2", "base")]),
            annotations: labels(&[("a1", "base")]),
            immutable: Some(true),
            ..Options::default()
        };
        let cm = Args { options: Some(base_opts), ..literals(Kind::ConfigMap, "cm", &["a=base", "b=base"]) };
        let cm2 = Args {
            options: Some(Options { disable_name_suffix_hash: Some(true), ..Options::default() }),
            ..literals(Kind::ConfigMap, "cm2", &["a=base", "b=base"])
        };
        let cm3 = Args { files: vec!["bin".into()], ..literals(Kind::ConfigMap, "cm3", &["x=1"]) };
        let sec = Args {
            secret_type: Some("kubernetes.io/tls".into()),
            options: Some(Options { immutable: Some(true), ..Options::default() }),
            ..literals(Kind::Secret, "sec", &["tls.crt=base", "tls.key=base"])
        };
        let overlay_cm = Args {
            behavior,
            options: Some(Options {
                labels: labels(&[("l2", "overlay"), ("l3", "overlay")]),
                disable_name_suffix_hash: Some(true),
                ..Options::default()
            }),
            ..literals(Kind::ConfigMap, "cm", &["b=overlay", "c=overlay"])
        };
        let overlay_cm2 = Args { behavior, ..literals(Kind::ConfigMap, "cm2", &["c=overlay"]) };
        let overlay_cm3 = Args { behavior, files: vec!["bin=bin2".into()], ..literals(Kind::ConfigMap, "cm3", &[]) };
        let overlay_sec = Args { behavior, ..literals(Kind::Secret, "sec", &["tls.key=overlay"]) };
        let files: &[(&str, &[u8])] = &[("bin", b"\xff\xfe"), ("bin2", b"\xfa")];
        [(cm, overlay_cm), (cm2, overlay_cm2), (cm3, overlay_cm3), (sec, overlay_sec)]
            .into_iter()
            .map(|(base, overlay)| {
                let base = gen_with(&base, files).expect("base generates");
                let mut existing = base.object;
                let name = format!("p-{}", existing["metadata"]["name"].as_str().unwrap_or_default());
                existing["metadata"]["name"] = name.into();
                let overlay = gen_with(&overlay, files).expect("overlay generates");
                let hash = merge_into(&mut existing, base.hash, &overlay, behavior).expect("merges");
                (existing, hash)
            })
            .collect()
    }

    #[test]
    fn merge_behavior() {
        let out = base_and_overlay(Behavior::Merge);
        assert_eq!(
            out[0],
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "base", "b": "overlay", "c": "overlay"},
                    "metadata": {"name": "p-cm", "annotations": {"a1": "base"},
                                 "labels": {"l1": "base", "l2": "overlay", "l3": "overlay"}}}),
                false
            )
        );
        assert_eq!(
            out[1],
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p-cm2"},
                    "data": {"a": "base", "b": "base", "c": "overlay"}}),
                false
            )
        );
        assert_eq!(
            out[2],
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p-cm3"},
                    "data": {"x": "1"}, "binaryData": {"bin": "+g=="}}),
                true
            )
        );
        assert_eq!(hash_suffix(&out[2].0), "bt8g9t2687");
        assert_eq!(
            out[3],
            (
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "p-sec"}, "type": "Opaque",
                    "data": {"tls.crt": "YmFzZQ==", "tls.key": "b3ZlcmxheQ=="}}),
                true
            )
        );
        assert_eq!(hash_suffix(&out[3].0), "2kmbhdt2b5");
    }

    #[test]
    fn replace_behavior() {
        let out = base_and_overlay(Behavior::Replace);
        assert_eq!(
            out[0].0,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"b": "overlay", "c": "overlay"},
                   "metadata": {"name": "p-cm", "annotations": {"a1": "base"},
                                "labels": {"l1": "base", "l2": "overlay", "l3": "overlay"}}})
        );
        assert_eq!(out[1].0["data"], json!({"c": "overlay"}));
        assert_eq!(
            out[2].0,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p-cm3"}, "binaryData": {"bin": "+g=="}})
        );
        assert_eq!(hash_suffix(&out[2].0), "fh97g82cm6");
        assert_eq!(out[3].0["data"], json!({"tls.key": "b3ZlcmxheQ=="}));
        assert_eq!(hash_suffix(&out[3].0), "6k5bb75tdf");
    }

    #[test]
    fn hash_flag_needs_both_sides() {
        let new = |hash| Generated { object: gen_ok(&literals(Kind::ConfigMap, "x", &["b=1"])).object, hash };
        for behavior in [Behavior::Merge, Behavior::Replace] {
            for (old_hash, new_hash) in [(true, true), (true, false), (false, true), (false, false)] {
                let mut existing = gen_ok(&literals(Kind::ConfigMap, "x", &["a=1"])).object;
                let hash = merge_into(&mut existing, old_hash, &new(new_hash), behavior).expect("merges");
                assert_eq!(hash, old_hash && new_hash, "{behavior:?} {old_hash} {new_hash}");
            }
        }
        let mut existing = json!({});
        assert!(matches!(
            merge_into(&mut existing, true, &new(true), Behavior::Create),
            Err(Error::NotMergeBehavior { .. })
        ));
        assert!(matches!(
            merge_into(&mut json!([]), true, &new(true), Behavior::Merge),
            Err(Error::ExistingNotObject { .. })
        ));
    }

    #[test]
    fn merge_onto_plain_resources() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "immutable": true, "extra": "field",
            "metadata": {"name": "cm", "labels": {"x": 1}, "annotations": {"y": "2"}, "finalizers": ["f"]},
            "data": {"a": 1, "n": true, "z": null}, "binaryData": {"bb": "AAAA"}});
        let args = Args {
            namespace: Some("default".into()),
            behavior: Behavior::Merge,
            ..literals(Kind::ConfigMap, "cm", &["b=overlay", "n=2"])
        };
        let hash = merge_into(&mut cm, false, &gen_ok(&args), Behavior::Merge).expect("merges");
        assert!(!hash);
        assert_eq!(
            cm,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "binaryData": {"bb": "AAAA"},
                   "data": {"a": "1", "b": "overlay", "n": "2", "z": ""},
                   "metadata": {"name": "cm", "labels": {"x": "1"}, "annotations": {"y": "2"}}})
        );
        let mut sec = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}, "type": "kubernetes.io/tls",
            "stringData": {"s": "x"}, "data": {"a": "YQ=="}});
        let args = Args { secret_type: Some("Opaque".into()), ..literals(Kind::Secret, "sec", &["b=overlay"]) };
        merge_into(&mut sec, false, &gen_ok(&args), Behavior::Merge).expect("merges");
        assert_eq!(
            sec,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}, "type": "Opaque",
                   "data": {"a": "YQ==", "b": "b3ZlcmxheQ=="}})
        );
        let mut ns =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-ns", "namespace": "other"}});
        let args = Args { namespace: Some("other".into()), ..literals(Kind::ConfigMap, "cm-ns", &["b=overlay"]) };
        merge_into(&mut ns, false, &gen_ok(&args), Behavior::Merge).expect("merges");
        assert_eq!(ns["metadata"], json!({"name": "cm-ns", "namespace": "other"}));
    }

    #[test]
    fn empty_secret_merge_drops_data_but_replace_keeps_it() {
        let empty = gen_ok(&literals(Kind::Secret, "s", &[]));
        let mut merged = empty.object.clone();
        merge_into(&mut merged, true, &empty, Behavior::Merge).expect("merges");
        assert_eq!(merged.get("data"), None);
        assert_eq!(hash_suffix(&merged), "8226t8dd99");
        let mut replaced = gen_ok(&literals(Kind::Secret, "t", &["a=b"])).object;
        merge_into(&mut replaced, true, &gen_ok(&literals(Kind::Secret, "t", &[])), Behavior::Replace)
            .expect("replaces");
        assert_eq!(hash_suffix(&replaced), "46f8b28mk5");
        let mut cm = gen_ok(&literals(Kind::ConfigMap, "c", &["a=b"])).object;
        merge_into(&mut cm, true, &gen_ok(&literals(Kind::ConfigMap, "c", &[])), Behavior::Replace).expect("replaces");
        assert_eq!(hash_suffix(&cm), "6ct58987ht");
    }

    #[test]
    fn hash_of_patched_objects() {
        // Generated `a=b` objects after a strategic-merge patch set the extra fields.
        let cm = |extra: Value| {
            let mut object =
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}, "data": {"a": "b"}});
            if let (Value::Object(o), Value::Object(e)) = (&mut object, extra) {
                o.extend(e);
            }
            hash_suffix(&object)
        };
        assert_eq!(cm(json!({"binaryData": {"x": "eA=="}})), "6fdf65mt7t");
        assert_eq!(cm(json!({"binaryData": "foo"})), "4h2mbtbbt6");
        assert_eq!(cm(json!({"data": {"a": "b", "m": {"z": 1, "a": [1, {"b": null}], "<": "&"}}})), "222c8h584k");
        let numbers = json!({"data": {"a": "b", "big": 1e23, "e": 1000.0, "f": 1.5, "g": 1.0, "i": 1, "n": 12345678901234567890u64,
                                      "neg": -0.000001, "sm": 1e-7, "t": true}});
        assert_eq!(cm(numbers), "4648btgh56");
        let secret = |extra: Value| {
            let mut object =
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "n"}, "data": {"a": "Yg=="}});
            if let (Value::Object(o), Value::Object(e)) = (&mut object, extra) {
                o.extend(e);
            }
            hash_suffix(&object)
        };
        assert_eq!(secret(json!({"type": "Opaque", "stringData": {"x": "y"}})), "m5f75hgmf4");
        assert_eq!(secret(json!({})), "254c6b4h75");
        assert_eq!(secret(json!({"type": 7})), "8hhb576h47");
    }

    #[test]
    fn numbers_hash_as_go_float64() {
        let hash = |v: Value| hash_suffix(&json!({"kind": "ConfigMap", "data": {"a": "b", "v": v}}));
        assert_eq!(hash(json!(1e21)), "7tt6fmfdb8");
        assert_eq!(hash(json!(1.5e300)), "957fbd559c");
        assert_eq!(hash(json!(1.25e-10)), "t2t52k2m59");
        assert_eq!(hash(json!(-0.0)), "m6k4g985cc");
        assert_eq!(hash(json!(1e20)), "45dtf7gd9t");
        assert_eq!(hash(json!(9007199254740993u64)), "c8hc74kg99");
    }
}
