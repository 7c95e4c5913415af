//! YAML text to JSON trees, read the way Kubernetes reads it.
//!
//! Kubernetes decodes manifests with `sigs.k8s.io/yaml`, which sits on go-yaml v2 and so on
//! YAML 1.1 scalar rules: `yes`/`on`/`y` are booleans, `0644` is octal (420), `1_000` is an
//! integer. A YAML 1.2 reader gets those wrong, and every wrong scalar is a false OutOfSync,
//! so this module resolves plain scalars itself on top of the `granit-parser` event stream.
//! Building the tree directly from events (instead of through serde) is also about twice as
//! fast, which matters when a diff reads tens of thousands of objects.
//! The tree itself is built by [`tree::TreeBuilder`], which kustomize's readers share with
//! their own [`tree::ScalarResolver`]s; Go's number syntax is in [`go`]; go-yaml v2's writer
//! (what `sigs.k8s.io/yaml` prints) is [`emit`].
//!
//! Guarantees: never panics on any input; duplicate mapping keys are an error, or, when the
//! caller asks for [`DuplicateKeys::LastWins`] (what `sigs.k8s.io/yaml` and so kubectl and
//! Argo CD do), the last value wins and each repeat is reported with both lines; `<<` merge
//! keys are applied; aliases are expanded under a node budget per document (so a "billion
//! laughs" document fails instead of exhausting memory, while a long stream of documents that
//! each use a few aliases reads fine), and under a larger one for the whole stream; every
//! error carries a line and column. A UTF-8 byte order mark at the start is skipped.
//!
//! Text that starts with `{` or `[` is read as JSON first (fast, and JSON's own error
//! messages), and as YAML when it is not JSON: flow-style YAML such as
//! `{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}` starts the same way. The rule
//! is Kubernetes' (`k8s.io/apimachinery/pkg/util/yaml` `YAMLOrJSONDecoder`): once two JSON
//! values were read the stream is JSON and its error stands; otherwise reading goes on as
//! YAML after the values already read.

pub mod edit;
pub mod emit;
pub mod go;
pub mod tree;

use granit_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Number, Value};

use crate::json::Stopped;
pub use tree::DuplicateKeys;
use tree::{Budget, Key, MergeKeys, Rules, ScalarResolver, TreeBuilder, TreeError};

/// A document of a YAML or JSON stream, as a JSON tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Zero-based position of the document in the stream, counting empty documents too,
    /// so that it matches what a reader counts by `---` separators.
    pub index: usize,
    /// One-based line where the document's content starts.
    pub line: usize,
    /// The content.
    pub value: Value,
}

/// A syntax error, with the position it was found at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} column {column}: {message}")]
pub struct SyntaxError {
    /// Zero-based index of the document being read when the error was found.
    pub document: usize,
    /// One-based line.
    pub line: usize,
    /// One-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A key a mapping gives twice, read with [`DuplicateKeys::LastWins`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedKey {
    /// Zero-based index of the document, counted as [`Document::index`].
    pub document: usize,
    /// The key's path in the document, such as `metadata.labels.app` or
    /// `spec.containers[0].image`.
    pub path: String,
    /// One-based line of the earlier occurrence, whose value was dropped (0 if it could not
    /// be found again, e.g. behind an alias).
    pub first_line: usize,
    /// One-based line of the occurrence whose value was kept.
    pub line: usize,
}

/// How far aliases may expand a document and a stream.
const ALIAS_LIMITS: Budget =
    Budget { document_base: Some(100_000), per_char: 4, stream_base: 10_000_000, count_written: false };

/// Where a YAML reading starts in the caller's text, when it continues after JSON values.
#[derive(Debug, Clone, Copy, Default)]
struct Start {
    /// Documents before it.
    documents: usize,
    /// Lines before it.
    lines: usize,
    /// Characters before it on its own line.
    column: usize,
}

/// Reads every non-empty document of `text` and hands it to `each`, in order.
///
/// JSON input (first non-blank character `{` or `[`) takes a fast path through `serde_json`
/// with the same guarantees (duplicate keys refused, numbers canonical), and falls back to
/// YAML when it is not JSON (see the module documentation). A leading byte order mark is
/// skipped.
pub fn for_each_document<E>(
    text: &str,
    each: impl FnMut(Document) -> Result<(), E>,
) -> Result<Result<(), E>, SyntaxError> {
    for_each_document_with(text, DuplicateKeys::Refuse, each, &mut Vec::new())
}

/// [`for_each_document`], with duplicate keys handled as `duplicates` says; the keys given
/// twice are added to `repeated` once the whole text is read (none are refused: duplicate
/// keys are refused, as in [`for_each_document`], under [`DuplicateKeys::Refuse`]).
///
/// A JSON value with a key given twice is read again, on its own, as YAML, which handles the
/// repeat; the values after it are read as JSON again, so a repeat is handled alike in every
/// value of a stream.
pub fn for_each_document_with<E>(
    text: &str,
    duplicates: DuplicateKeys,
    mut each: impl FnMut(Document) -> Result<(), E>,
    repeated: &mut Vec<RepeatedKey>,
) -> Result<Result<(), E>, SyntaxError> {
    // Editors on Windows write a BOM; it is not part of the content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start_matches([' ', '\t', '\r', '\n']);
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return for_each_yaml(text, Start::default(), ALIAS_LIMITS, duplicates, each, repeated);
    }
    let mut json_from = 0usize;
    let mut shift = Start::default();
    let mut cursor = Cursor::default();
    let stopped = loop {
        let stopped = match crate::json::for_each_document(&text[json_from..], |mut d: Document| {
            d.index += shift.documents;
            d.line += shift.lines;
            each(d)
        }) {
            Ok(done) => return Ok(done),
            Err(stopped) => stopped,
        };
        let value_from = json_from + stopped.read_to;
        let documents = shift.documents + stopped.documents;
        let value_to = (duplicates == DuplicateKeys::LastWins && stopped.error.message.starts_with("duplicate key"))
            .then(|| json_value_end(text, value_from))
            .flatten();
        let Some(value_to) = value_to else {
            let mut error = stopped.error;
            if error.line <= 1 {
                error.column += shift.column;
            }
            error.line += shift.lines;
            error.document += shift.documents;
            break Stopped { error, documents, read_to: value_from };
        };
        if let Err(e) = for_each_yaml(
            &text[value_from..value_to],
            cursor.start(text, value_from, documents),
            ALIAS_LIMITS,
            duplicates,
            &mut each,
            repeated,
        )? {
            return Ok(Err(e));
        }
        json_from = value_to;
        shift = cursor.start(text, value_to, documents + 1);
    };
    if stopped.documents > 1 {
        return Err(stopped.error);
    }
    // As Kubernetes does, the rest is read from the next line (or the next non-blank
    // character, if the line goes on) after the last JSON value.
    let bytes = text.as_bytes();
    let mut from = stopped.read_to;
    while from < bytes.len() && matches!(bytes[from], b' ' | b'\t' | b'\r') {
        from += 1;
    }
    if from < bytes.len() && bytes[from] == b'\n' {
        from += 1;
    }
    let start = cursor.start(text, from, stopped.documents);
    match for_each_yaml(&text[from..], start, ALIAS_LIMITS, duplicates, each, repeated) {
        Ok(done) => Ok(done),
        // Neither reads it: the error found further into the text says more (JSON's on a tie:
        // flow-style YAML is the rarer of the two).
        Err(yaml) if (yaml.line, yaml.column) > (stopped.error.line, stopped.error.column) => Err(yaml),
        Err(_) => Err(stopped.error),
    }
}

/// Positions in a text, counted as a reading moves forward through it, so that finding
/// where each of many readings starts stays linear in the text's length.
#[derive(Debug, Default)]
struct Cursor {
    /// The byte counted to.
    at: usize,
    /// Lines before it.
    lines: usize,
    /// Characters before it on its own line.
    column: usize,
}

impl Cursor {
    /// Where a reading from byte `at` of `text` starts (never before the last one asked),
    /// after `documents` documents.
    fn start(&mut self, text: &str, at: usize, documents: usize) -> Start {
        let passed = &text[self.at.min(at)..at];
        match passed.rfind('\n') {
            Some(last) => {
                self.lines += passed.bytes().filter(|b| *b == b'\n').count();
                self.column = passed[last + 1..].chars().count();
            }
            None => self.column += passed.chars().count(),
        }
        self.at = self.at.max(at);
        Start { documents, lines: self.lines, column: self.column }
    }
}

/// The byte just after the JSON value that starts (after blanks) at `from`, when it is one;
/// keys are not checked here.
fn json_value_end(text: &str, from: usize) -> Option<usize> {
    let mut stream = serde_json::Deserializer::from_str(&text[from..]).into_iter::<serde::de::IgnoredAny>();
    match stream.next() {
        Some(Ok(_)) => Some(from + stream.byte_offset()),
        _ => None,
    }
}

/// Reads YAML documents; positions and indices are shifted by `start`.
fn for_each_yaml<E>(
    text: &str,
    start: Start,
    limits: Budget,
    duplicates: DuplicateKeys,
    mut each: impl FnMut(Document) -> Result<(), E>,
    repeated: &mut Vec<RepeatedKey>,
) -> Result<Result<(), E>, SyntaxError> {
    let mut builder = TreeBuilder::new(Yaml11 { duplicates, limits }, text.len());
    let mut parser = Parser::new_from_str(text);
    let mut document = 0usize;
    let index = |document: usize| start.documents + document.saturating_sub(1);
    let position = |line: usize, col: usize| {
        let column = if line <= 1 { col + start.column } else { col };
        (line + start.lines, column + 1)
    };
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ok) => ok,
            Err(e) => {
                let m = e.marker();
                let (line, column) = position(m.line(), m.col());
                return Err(SyntaxError { document: index(document), line, column, message: e.info().to_string() });
            }
        };
        let (line, column) = position(span.start.line(), span.start.col());
        let at =
            |problem: TreeError| SyntaxError { document: index(document), line, column, message: problem.to_string() };
        match event {
            Event::DocumentStart(..) => {
                document += 1;
                builder.start_document(span.start.index(), index(document));
            }
            Event::DocumentEnd => {
                if let Some((value, first_line)) = builder.finish_document()
                    && !value.is_null()
                {
                    let doc = Document { index: index(document), line: first_line, value };
                    if let Err(e) = each(doc) {
                        return Ok(Err(e));
                    }
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                builder.scalar(&text, style, tag.as_deref(), anchor, line).map_err(&at)?
            }
            Event::SequenceStart(_, anchor, _) => builder.open_sequence(anchor, line).map_err(&at)?,
            Event::MappingStart(_, anchor, _) => builder.open_mapping(anchor, line).map_err(&at)?,
            Event::SequenceEnd | Event::MappingEnd => builder.close(line).map_err(&at)?,
            Event::Alias(id) => builder.alias(id, span.start.index(), line).map_err(&at)?,
            _ => {}
        }
    }
    let repeats = builder.take_repeated();
    if !repeats.is_empty() {
        // Rare, so the earlier lines are found by reading the text again rather than by
        // keeping every key's line while building.
        let mut found: Vec<RepeatedKey> = repeats
            .into_iter()
            .map(|r| RepeatedKey { document: r.document, path: r.path, first_line: 0, line: r.line })
            .collect();
        find_first_lines(text, start, &mut found);
        repeated.extend(found);
    }
    Ok(Ok(()))
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A path as [`RepeatedKey::path`] spells it.
fn path_text<'a>(steps: impl Iterator<Item = &'a Step>) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// The lines (in text order) where each wanted key occurs, by document index and path (as
/// [`RepeatedKey::path`] spells it), read from the events of `text` (positions shifted by
/// `start`). Reading stops at the first syntax error: what was found until then is returned.
fn key_lines(
    text: &str,
    start: Start,
    wanted: std::collections::HashSet<(usize, String)>,
) -> std::collections::HashMap<(usize, String), Vec<usize>> {
    let last_document = wanted.iter().map(|(d, _)| *d).max().unwrap_or(0);
    let mut lines: std::collections::HashMap<(usize, String), Vec<usize>> =
        wanted.into_iter().map(|k| (k, Vec::new())).collect();
    // A frame per open collection: mappings hold the key being read (and whether the next
    // scalar is a key), sequences the index of the next item.
    enum Frame {
        Map { key: Option<String> },
        Seq { next: usize },
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut document = 0usize;
    let mut parser = Parser::new_from_str(text);
    let path_of = |stack: &[Frame], last: Option<&str>| -> String {
        let steps: Vec<Step> = stack
            .iter()
            .filter_map(|f| match f {
                Frame::Map { key } => key.clone().map(Step::Key),
                Frame::Seq { next } => Some(Step::Index(*next)),
            })
            .chain(last.map(|k| Step::Key(k.to_string())))
            .collect();
        path_text(steps.iter())
    };
    // A value finished: its parent moves on to the next key or item.
    let advance = |stack: &mut Vec<Frame>| match stack.last_mut() {
        Some(Frame::Map { key }) => *key = None,
        Some(Frame::Seq { next }) => *next += 1,
        None => {}
    };
    while let Some(Ok((event, span))) = parser.next_event() {
        match event {
            Event::DocumentStart(..) => {
                document += 1;
                if start.documents + document - 1 > last_document {
                    break;
                }
                stack.clear();
            }
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { key: None }) = stack.last() {
                    let index = start.documents + document.saturating_sub(1);
                    let path = path_of(&stack[..stack.len() - 1], Some(&value));
                    if let Some(at) = lines.get_mut(&(index, path)) {
                        at.push(span.start.line() + start.lines);
                    }
                    if let Some(Frame::Map { key }) = stack.last_mut() {
                        *key = Some(value.to_string());
                    }
                } else {
                    advance(&mut stack);
                }
            }
            Event::Alias(_) => {
                if let Some(Frame::Map { key: None }) = stack.last() {
                    // An aliased key: its text is not at hand; the value's frame still needs one.
                    if let Some(Frame::Map { key }) = stack.last_mut() {
                        *key = Some(String::new());
                    }
                } else {
                    advance(&mut stack);
                }
            }
            Event::SequenceStart(..) => stack.push(Frame::Seq { next: 0 }),
            Event::MappingStart(..) => stack.push(Frame::Map { key: None }),
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
                advance(&mut stack);
            }
            _ => {}
        }
    }
    lines
}

/// The line of the key at `path` (spelled as [`RepeatedKey::path`], such as
/// `metadata.labels.app`) in the document with index `document` of `text`, for pointing an
/// error at the field it is about. `None` when it cannot be found (the key comes from an
/// alias or a merge, or the text is a JSON stream YAML cannot read).
pub fn line_of(text: &str, document: usize, path: &str) -> Option<usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let wanted = std::iter::once((document, path.to_string())).collect();
    // The last occurrence: when a key repeats, its last value is the one read.
    key_lines(text, Start::default(), wanted).into_values().next()?.last().copied()
}

/// Fills in [`RepeatedKey::first_line`]: the line of the occurrence before each repeat, found
/// by reading the events of `text` again (positions shifted by `start`, as the first read).
fn find_first_lines(text: &str, start: Start, repeated: &mut [RepeatedKey]) {
    let wanted = repeated.iter().map(|r| (r.document, r.path.clone())).collect();
    let lines = key_lines(text, start, wanted);
    // The n-th repeat of a key (in text order, as they were found) follows its n-th
    // occurrence: occurrences on one line are told apart by order, not by line.
    let mut seen: std::collections::HashMap<(usize, String), usize> = std::collections::HashMap::new();
    for r in repeated {
        let key = (r.document, r.path.clone());
        let n = seen.entry(key.clone()).or_insert(0);
        r.first_line = lines.get(&key).and_then(|at| at.get(*n)).copied().unwrap_or(0);
        *n += 1;
    }
}

/// Reads all non-empty documents of `text`.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, SyntaxError> {
    let mut out = Vec::new();
    for_each_document(text, |d| {
        out.push(d);
        Ok::<(), std::convert::Infallible>(())
    })?
    .unwrap_or_else(|never| match never {});
    Ok(out)
}

/// YAML 1.1, as go-yaml v2 resolves scalars for an untyped target under `sigs.k8s.io/yaml`:
/// the reader of manifests. Keys keep their text (`y:` or `on:` as a key is a name, not a
/// boolean).
struct Yaml11 {
    duplicates: DuplicateKeys,
    limits: Budget,
}

impl ScalarResolver for Yaml11 {
    type Scalar = Value;

    fn rules(&self) -> Rules {
        Rules {
            duplicates: self.duplicates,
            merges: MergeKeys::Deferred,
            refuse_collection_key_at_open: false,
            budget: self.limits,
        }
    }

    fn resolve(&self, text: &str, style: ScalarStyle, tag: Option<&Tag>, as_key: bool) -> Result<Value, TreeError> {
        if as_key {
            return Ok(Value::String(text.to_string()));
        }
        let suffix = tag.and_then(|t| if t.is_yaml_core_schema() { Some(t.suffix().to_string()) } else { None });
        resolve_scalar(text, style, suffix.as_deref()).map_err(TreeError::Refused)
    }

    fn value(&self, scalar: Value) -> Result<Value, TreeError> {
        Ok(scalar)
    }

    fn key(&self, scalar: Value, _line: usize) -> Result<Key, TreeError> {
        let text = key_text(scalar).map_err(TreeError::Refused)?;
        Ok(if text == "<<" { Key::Merge } else { Key::Name { text, string: true } })
    }

    fn key_text(&self, scalar: &Value) -> Option<String> {
        key_text(scalar.clone()).ok()
    }
}

/// Mapping keys become JSON object keys. Scalars keep the text they resolve to, as
/// Kubernetes' YAML-to-JSON conversion does for numbers; collections cannot be keys.
fn key_text(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok("null".to_string()),
        Value::Array(_) | Value::Object(_) => Err("a mapping key must be a scalar".into()),
    }
}

/// Resolves one scalar the way go-yaml v2 resolves it for an untyped target.
fn resolve_scalar(text: &str, style: ScalarStyle, core_tag: Option<&str>) -> Result<Value, String> {
    if let Some(tag) = core_tag {
        return match tag {
            "str" | "binary" | "timestamp" => Ok(Value::String(text.to_string())),
            "null" => Ok(Value::Null),
            "bool" => match resolve_plain(text) {
                v @ Value::Bool(_) => Ok(v),
                _ => Err(format!("`{text}` is tagged !!bool but is not a boolean")),
            },
            "int" | "float" => match resolve_plain(text) {
                v @ Value::Number(_) => Ok(v),
                _ => Err(format!("`{text}` is tagged !!{tag} but is not a number")),
            },
            _ => Ok(resolve_by_style(text, style)),
        };
    }
    Ok(resolve_by_style(text, style))
}

fn resolve_by_style(text: &str, style: ScalarStyle) -> Value {
    if style == ScalarStyle::Plain { resolve_plain(text) } else { Value::String(text.to_string()) }
}

/// YAML 1.1 resolution of a plain scalar (go-yaml v2's table).
pub(crate) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if (first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.'))
        && let Some(n) = resolve_number(text)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

fn resolve_number(text: &str) -> Option<Number> {
    let plain: std::borrow::Cow<'_, str> = if text.contains('_') { text.replace('_', "").into() } else { text.into() };
    let (negative, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, &plain[..]),
    };
    if let Some(magnitude) = go::parse_prefixed_uint(digits) {
        return if negative {
            if magnitude <= i64::MAX as u64 {
                Some(Number::from(-(magnitude as i64)))
            } else if magnitude == i64::MAX as u64 + 1 {
                Some(Number::from(i64::MIN))
            } else {
                float_number(text_float(&plain)?)
            }
        } else {
            Some(Number::from(magnitude))
        };
    }
    if go::is_float_syntax(&plain) {
        return float_number(text_float(&plain)?);
    }
    None
}

fn text_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A float that holds a whole number becomes an integer: Go prints `1.0` as `1`, so the API
/// server's JSON never distinguishes them, and neither may we.
pub(crate) fn float_number(f: f64) -> Option<Number> {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Some(Number::from(f as i64));
    }
    Number::from_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.into_iter().next().unwrap().value
    }

    #[test]
    fn yaml_1_1_scalars() {
        let v = one(
            "a: yes\nb: off\nc: y\nd: 0644\ne: 0x1F\nf: 1_000\ng: 1.0\nh: 1.5\ni: ~\nj: '0644'\nk: 08\nl: 0o17\nm: -12\nn: 1e3\no: .5\np: 18446744073709551616\nq: 2024-01-01\nr: .inf\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": true, "d": 420, "e": 31, "f": 1000, "g": 1, "h": 1.5,
                   "i": null, "j": "0644", "k": 8, "l": 15, "m": -12, "n": 1000, "o": 0.5,
                   "p": 18446744073709551616.0, "q": "2024-01-01", "r": ".inf"})
        );
    }

    #[test]
    fn documents_are_counted_including_empty_ones() {
        let docs = parse_documents("# head\n---\n---\na: 1\n---\n# only a comment\n---\nb: 2\n").unwrap();
        let got: Vec<(usize, usize)> = docs.iter().map(|d| (d.index, d.line)).collect();
        assert_eq!(got, vec![(1, 4), (3, 8)]);
    }

    #[test]
    fn duplicate_keys_are_refused_with_a_position() {
        let e = parse_documents("a: 1\n---\nb: 2\nb: 3\n").unwrap_err();
        assert_eq!((e.document, e.line), (1, 4));
        assert!(e.message.contains("duplicate key `b`"), "{e}");
    }

    fn last_wins(text: &str) -> (Vec<Document>, Vec<RepeatedKey>) {
        let (mut docs, mut repeated) = (Vec::new(), Vec::new());
        for_each_document_with(
            text,
            DuplicateKeys::LastWins,
            |d| {
                docs.push(d);
                Ok::<(), ()>(())
            },
            &mut repeated,
        )
        .unwrap()
        .unwrap();
        (docs, repeated)
    }

    #[test]
    fn duplicate_keys_can_take_the_last_value_and_report_both_lines() {
        let text = "a: 1\n---\nkind: x\nspec:\n  items:\n  - name: a\n    image: one\n    image: two\n  - name: b\nkind: z\nspec2: {k: 1,\n  k: 2, k: 3}\n";
        let (docs, repeated) = last_wins(text);
        assert_eq!(
            docs[1].value,
            json!({"kind": "z", "spec": {"items": [{"name": "a", "image": "two"}, {"name": "b"}]}, "spec2": {"k": 3}})
        );
        let got: Vec<(usize, &str, usize, usize)> =
            repeated.iter().map(|r| (r.document, r.path.as_str(), r.first_line, r.line)).collect();
        assert_eq!(
            got,
            [(1, "spec.items[0].image", 7, 8), (1, "kind", 3, 10), (1, "spec2.k", 11, 12), (1, "spec2.k", 12, 12)]
        );
        // The refusing reader still refuses, at the repeat.
        assert_eq!(parse_documents(text).unwrap_err().line, 8);
    }

    #[test]
    fn json_with_a_repeated_key_is_read_as_yaml_when_the_last_wins() {
        let (docs, repeated) = last_wins("{\"a\": 1,\n \"a\": {\"b\": 2}}\n");
        assert_eq!(docs[0].value, json!({"a": {"b": 2}}));
        assert_eq!((repeated[0].path.as_str(), repeated[0].first_line, repeated[0].line), ("a", 1, 2));
    }

    #[test]
    fn merge_keys_and_anchors() {
        let v = one("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        assert_eq!(v, json!({"base": {"x": 1, "y": 2}, "use": {"x": 1, "y": 3}, "list": [{"x": 1, "y": 2}]}));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let e = parse_documents(&text).unwrap_err();
        assert!(e.message.contains("too many nodes"), "{e}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse_documents("a: 1\n---\nb: [2\n").unwrap_err();
        assert_eq!(e.document, 1);
        assert!(e.line >= 3, "{e:?}");
    }

    #[test]
    fn tags() {
        let v = one("a: !!str 1\nb: !!int \"7\"\nc: !custom yes\n");
        assert_eq!(v, json!({"a": "1", "b": 7, "c": true}));
    }

    /// A document of the kind the 2 000-document regression had: a list written out once and
    /// aliased many times. Each expands to about six nodes per character of its text, which
    /// exhausted a budget shared by the whole stream after a fraction of the documents.
    fn aliasing_document(i: usize) -> String {
        let base: Vec<String> = (0..40).map(|n| n.to_string()).collect();
        format!("---\nname: doc-{i}\nbase: &b [{}]\ncopies: [{}]\n", base.join(", "), vec!["*b"; 60].join(", "))
    }

    #[test]
    fn the_alias_budget_is_per_document() {
        let text: String = (0..2000).map(aliasing_document).collect();
        let docs = parse_documents(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(docs.len(), 2000);
        assert_eq!(docs[1999].value["copies"][59][39], json!(39));
        assert_eq!(docs[1999].index, 1999);
    }

    #[test]
    fn alias_budgets_bound_a_document_and_a_stream() {
        let limits = Budget { document_base: Some(1_000), per_char: 1, stream_base: 5_000, count_written: false };
        let read = |text: &str| {
            let mut n = 0;
            let each = |_| {
                n += 1;
                Ok::<(), ()>(())
            };
            for_each_yaml(text, Start::default(), limits, DuplicateKeys::Refuse, each, &mut Vec::new())
                .map(|r| r.map(|()| n).unwrap_or(0))
        };
        // 10 × 10 × 10 nodes from a few dozen characters: over the document's budget.
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
        let e = read(bomb).unwrap_err();
        assert!(e.message.contains("document expands to too many nodes"), "{e}");
        assert_eq!((e.document, e.line), (0, 3));
        // Each document may use its own budget: a heavy one does not starve the next.
        let heavy = "---\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n";
        assert_eq!(read(&heavy.repeat(4)), Ok(4));
        // Many documents, each within its budget, still add up to the stream's.
        let e = read(&heavy.repeat(40)).unwrap_err();
        assert!(e.message.contains("documents of this stream together expand"), "{e}");
        assert!(e.document > 4, "{e:?}");
    }

    #[test]
    fn flow_style_yaml_is_yaml_and_json_stays_json() {
        assert_eq!(one("{a: 1, b: yes, c: 0644, 'd': \"x\"}"), json!({"a": 1, "b": true, "c": 420, "d": "x"}));
        assert_eq!(
            one("  \n{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n"),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
        );
        assert_eq!(one("[a, {b: on}]"), json!(["a", {"b": true}]));
        // A flow document after a JSON one, separated as YAML separates documents.
        let docs = parse_documents("{\"a\": 1}\n---\n{b: 2}\n").unwrap();
        let got: Vec<(usize, usize, &Value)> = docs.iter().map(|d| (d.index, d.line, &d.value)).collect();
        assert_eq!(got, vec![(0, 1, &json!({"a": 1})), (1, 3, &json!({"b": 2}))]);
        // JSON keeps JSON's rules and speed: big numbers, duplicate keys, streams of values.
        assert_eq!(
            one("{\"n\": 18446744073709551616, \"f\": 1.0, \"s\": \"yes\"}"),
            json!({"n": 18446744073709551616.0, "f": 1, "s": "yes"})
        );
        let e = parse_documents("{\"a\": 1,\n \"a\": 2}").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{e}");
        assert_eq!((e.document, e.line), (0, 2));
        let e = parse_documents("{a: 1, a: 2}").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{e}");
        assert_eq!(parse_documents("{\"a\": 1}\n{\"a\": 2}\n").unwrap().len(), 2);
        // Two JSON values make a JSON stream: its error stands, YAML is not tried.
        let e = parse_documents("{\"a\": 1}\n{\"b\": 2}\n{c: 3}\n").unwrap_err();
        assert_eq!((e.document, e.line), (2, 3));
        assert!(e.message.contains("key must be a string"), "{e}");
        // Neither JSON nor YAML: the error further into the text, with its position.
        let e = parse_documents("{\"a\": 1,\n \"b\": [1, 2}\n").unwrap_err();
        assert_eq!((e.document, e.line), (0, 2), "{e}");
        let e = parse_documents("{apiVersion: v1, kind: ConfigMap,\n metadata: {name: [x}}\n").unwrap_err();
        assert_eq!((e.document, e.line), (0, 2), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(one("\u{feff}{\"a\": 1}"), json!({"a": 1}));
        assert_eq!(one("\u{feff}\n  {\"a\": 1}\n"), json!({"a": 1}));
        assert_eq!(one("\u{feff}a: 1\n"), json!({"a": 1}));
        assert_eq!(one("\u{feff}{a: 1}"), json!({"a": 1}));
        let docs = parse_documents("\u{feff}---\na: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.iter().map(|d| (d.index, d.line)).collect::<Vec<_>>(), vec![(0, 2), (1, 4)]);
    }

    /// A key given twice is read as kubectl reads it (the last wins) in every value of a JSON
    /// stream, not only the first two: the value is read on its own, and the stream goes on.
    #[test]
    fn a_repeated_key_in_any_value_of_a_json_stream_is_read_alike() {
        let text = "{\"a\": 1}\n{\"b\": 1, \"b\": 2}\n{\"c\": 3}\n  {\"d\": 1, \"d\": [4]} {\"e\": 5}\n";
        let mut docs = Vec::new();
        let mut repeated = Vec::new();
        let each = |d: Document| {
            docs.push((d.index, d.line, d.value));
            Ok::<(), ()>(())
        };
        for_each_document_with(text, DuplicateKeys::LastWins, each, &mut repeated).unwrap().unwrap();
        assert_eq!(
            docs,
            [
                (0, 1, json!({"a": 1})),
                (1, 2, json!({"b": 2})),
                (2, 3, json!({"c": 3})),
                (3, 4, json!({"d": [4]})),
                (4, 4, json!({"e": 5}))
            ]
        );
        let found: Vec<(usize, &str, usize)> = repeated.iter().map(|r| (r.document, r.path.as_str(), r.line)).collect();
        assert_eq!(found, [(1, "b", 2), (3, "d", 4)]);
        // Refused, the error is where the first repeat is.
        let e = parse_documents(text).unwrap_err();
        assert_eq!((e.document, e.line), (1, 2), "{e}");
        // A stream that breaks after a repeat still says where.
        let broken = "{\"a\": 1}\n{\"b\": 1, \"b\": 2}\n{\"c\": }\n";
        let e =
            for_each_document_with(broken, DuplicateKeys::LastWins, |_| Ok::<(), ()>(()), &mut Vec::new()).unwrap_err();
        assert_eq!((e.document, e.line), (2, 3), "{e}");
    }
}
