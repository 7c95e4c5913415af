//! YAML in and out, byte for byte as `kubectl kustomize` (kustomize v5.5) does it.
//!
//! Reading follows kustomize's path: kyaml splits the stream at `---` lines itself and reads
//! only the first document of each piece, parses with go-yaml v3 (YAML 1.2-ish scalars: `yes`
//! and `on` are strings, `012` is octal, `1_000` is an integer), expands anchors and `<<` merge
//! keys, re-encodes the node (which changes some folded `>` scalars) and converts each document
//! to JSON through Go's `encoding/json`. Values that path
//! refuses (duplicate keys, `.inf`, non-string keys in nested mappings, characters go-yaml v2
//! cannot read back) are errors here too, so a render never prints what kustomize would refuse.
//!
//! Writing follows `sigs.k8s.io/yaml.JSONToYAML`: the JSON is decoded by go-yaml v2 (YAML 1.1
//! resolution) and emitted by its libyaml-derived emitter: [`write_document`], which is
//! [`gitops_core::yaml::emit`] given JSON text.

mod reader;
mod scalars;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use gitops_core::yaml::emit;
use gitops_core::yaml::tree::TreeBuilder;
pub(crate) use scalars::plain_key_reads_as_string;
use serde_json::Value;

use reader::{Scalars, parse_first_document, split_documents};

/// Why a YAML stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not YAML that kustomize reads, or a document holds something kustomize
    /// refuses (a duplicate key, `.inf`, a nested non-string key, an unprintable character...).
    #[error("{source_name}: document {document}: line {line}: {problem}")]
    Invalid {
        /// The file (or other source) the stream came from.
        source_name: String,
        /// One-based number of the document in the stream, counting empty documents.
        document: usize,
        /// One-based line of the stream the problem was found at.
        line: usize,
        /// What is wrong, in words a user can act on.
        problem: String,
    },
}

impl Error {
    /// The one-based document number and line the error is about.
    pub fn position(&self) -> (usize, usize) {
        match self {
            Error::Invalid { document, line, .. } => (*document, *line),
        }
    }
}

/// Parses every document of a YAML (or JSON) stream the way kustomize reads resource and patch
/// files: go-yaml v3 (kyaml) scalar resolution, anchors/aliases and `<<` merge keys expanded,
/// explicit tags honoured (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!binary`...), then
/// the conversion to JSON kustomize does. Empty documents (nothing, only comments, or `null`) are
/// skipped. `source` names the file in errors.
pub fn parse_stream(source: &str, text: &str) -> Result<Vec<Value>, Error> {
    // kyaml replaces Windows line ends first, then splits the text itself.
    let text: Cow<'_, str> = if text.contains("\r\n") { text.replace("\r\n", "\n").into() } else { text.into() };
    let mut out = Vec::new();
    let mut builder = TreeBuilder::new(Scalars { dialect: Dialect::Kyaml }, text.len());
    for (index, chunk) in split_documents(&text).enumerate() {
        let chunk = chunk.map_err(|(line, problem)| Error::Invalid {
            source_name: source.to_string(),
            document: index + 1,
            line,
            problem,
        })?;
        let fail = |line: usize, problem: String| Error::Invalid {
            source_name: source.to_string(),
            document: index + 1,
            line,
            problem,
        };
        if let Some(value) =
            parse_first_document(chunk.text, chunk.first_line - 1, &mut builder).map_err(|(l, p)| fail(l, p))?
        {
            check_printable(&value).map_err(|p| fail(builder.first_line(), p.to_string()))?;
            out.push(value);
        }
    }
    Ok(out)
}

/// Appends one resource exactly as `kubectl kustomize` prints it: kustomize marshals the object
/// to JSON and converts it with `sigs.k8s.io/yaml.JSONToYAML` (go-yaml v2 decode + emit). No
/// `---` separator is written (the caller joins documents with `---\n`).
pub fn write_document(value: &Value, out: &mut String) {
    emit::write_document(value, emit::Input::JsonText, out);
}

/// Which Go YAML reader kustomize uses for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// kyaml (go-yaml v3): resource, patch and most other files.
    Kyaml,
    /// `sigs.k8s.io/yaml` (go-yaml v2, YAML 1.1, then `encoding/json`): the kustomization file
    /// itself and `configurations` files.
    SigsV2,
}

/// Parses a kustomization (or `configurations`) file as kustomize reads it: `sigs.k8s.io/yaml`'s
/// `YAMLToJSON`, which is go-yaml v2. Only the first document counts (what follows is never
/// read); scalars resolve by YAML 1.1, so `yes`, `y`, `on`, `off`, `n`, `no` are booleans (a
/// label value `yes` is refused later, as kustomize refuses it) and timestamps stay strings;
/// a repeated key is no error, the last one wins; mapping keys of any scalar type become strings
/// at every level; a `<<` merge overwrites the keys before it. `None` for an empty document.
pub fn parse_kustomization(source: &str, text: &str) -> Result<Option<Value>, Error> {
    let text: Cow<'_, str> = if text.contains("\r\n") { text.replace("\r\n", "\n").into() } else { text.into() };
    let mut builder = TreeBuilder::new(Scalars { dialect: Dialect::SigsV2 }, text.len());
    let fail =
        |line: usize, problem: String| Error::Invalid { source_name: source.to_string(), document: 1, line, problem };
    let value = parse_first_document(&text, 0, &mut builder).map_err(|(l, p)| fail(l, p))?;
    if let Some(v) = &value {
        check_printable(v).map_err(|p| fail(builder.first_line(), p.to_string()))?;
    }
    Ok(value)
}

/// A value `kubectl kustomize` fails to print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unprintable {
    /// A string holds DEL, a C1 control (but NEL) or U+FFFE/U+FFFF.
    #[error("string contains control character U+{0:04X}, which kustomize cannot print")]
    ControlInString(u32),
    /// A string has a document marker right after a NEL.
    #[error("string {0:?} has `---` or `...` right after a NEL (U+0085), which kustomize cannot print")]
    MarkerAfterNel(String),
    /// A key holds DEL, a C1 control (but NEL) or U+FFFE/U+FFFF.
    #[error("key contains control character U+{0:04X}, which kustomize cannot print")]
    ControlInKey(u32),
    /// A key holds a NEL.
    #[error("key {0:?} contains a NEL (U+0085) line break, which kustomize cannot print")]
    NelInKey(String),
}

/// Refuses values `kubectl kustomize` fails to print, naming the problem: strings with DEL, C1
/// controls (but NEL) or U+FFFE/U+FFFF (Go's JSON encoder leaves them unescaped and go-yaml's
/// reader rejects them), keys with a NEL, and a NEL right before `---` or `...`.
/// [`parse_stream`] applies it to every document; call it on values built another way (for
/// example generated from file contents) before [`write_document`], which cannot fail.
pub(crate) fn check_printable(value: &Value) -> Result<(), Unprintable> {
    let bad =
        |s: &str| s.chars().find(|&c| matches!(c, '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}'));
    match value {
        Value::String(s) => {
            if let Some(c) = bad(s) {
                return Err(Unprintable::ControlInString(c as u32));
            }
            if nel_before_document_marker(s) {
                return Err(Unprintable::MarkerAfterNel(s.clone()));
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(check_printable),
        Value::Object(m) => m.iter().try_for_each(|(k, v)| {
            if let Some(c) = bad(k) {
                return Err(Unprintable::ControlInKey(c as u32));
            }
            // Go's JSON leaves NEL unescaped and go-yaml then reads it as a line break inside
            // the key, which a flow mapping key may not contain.
            if k.contains('\u{85}') {
                return Err(Unprintable::NelInKey(k.clone()));
            }
            check_printable(v)
        }),
        _ => Ok(()),
    }
}

/// go-yaml v2 reads a raw NEL in kustomize's JSON as a line break, and a line starting with a
/// document marker then ends the document in the middle of the string.
fn nel_before_document_marker(s: &str) -> bool {
    s.match_indices('\u{85}').any(|(i, nel)| {
        let rest = &s[i + nel.len()..];
        (rest.starts_with("---") || rest.starts_with("...")) && rest[3..].starts_with([' ', '\u{85}'])
    })
}
