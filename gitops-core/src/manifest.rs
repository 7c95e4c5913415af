//! Manifest text in, objects out.
//!
//! Multi-document YAML or JSON; `kind: List` and `*List` documents flattened; empty and
//! comment-only documents skipped. Every object remembers its [`Origin`]. Bad input is an
//! [`Error`] that names the source, the document, the line of the field at fault and what is
//! wrong. Nothing here panics.
//!
//! A key given twice in one mapping is refused by [`parse`] and [`for_each`]. kubectl and Argo
//! CD read manifests through `sigs.k8s.io/yaml`, whose go-yaml v2 `Unmarshal` keeps the last
//! value, so a repository that deploys with them may hold such keys: [`parse_with`] and
//! [`for_each_with`] under [`Strictness::Lenient`] read them the same way and return a
//! [`Warning`] naming both lines.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::object::{Object, Origin, ResourceKey};
use crate::yaml;

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not valid YAML or JSON.
    #[error("{source_name}: document {document}: line {line} column {column}: {message}")]
    Syntax {
        /// Source name.
        source_name: String,
        /// One-based document number.
        document: usize,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What the parser found.
        message: String,
    },
    /// A document is valid YAML but not a Kubernetes object.
    #[error("{source_name}: document {document} (line {line}){item}: {problem}", item = item_text(*.item))]
    Invalid {
        /// Source name.
        source_name: String,
        /// One-based document number.
        document: usize,
        /// One-based line where the document starts.
        line: usize,
        /// Position inside a List document.
        item: Option<usize>,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// Two objects of one desired set have the same key.
    #[error("{0}")]
    Duplicate(Box<DuplicateKey>),
}

/// Two objects with one key, and where each was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} is defined twice: at {first} and at {second}")]
pub struct DuplicateKey {
    /// The key both objects have.
    pub key: ResourceKey,
    /// Where the first was read.
    pub first: Origin,
    /// Where the second was read.
    pub second: Origin,
}

impl Error {
    /// The error for a second object with an already used key.
    pub fn duplicate(key: ResourceKey, first: &Origin, second: &Origin) -> Error {
        Error::Duplicate(Box::new(DuplicateKey { key, first: first.clone(), second: second.clone() }))
    }
}

fn item_text(item: Option<usize>) -> String {
    item.map(|i| format!(", item {i}")).unwrap_or_default()
}

/// How a reader treats a mapping that gives one key twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Refuse the file (`--strict`).
    #[default]
    Strict,
    /// Keep the last value and warn, as kubectl and Argo CD read it.
    Lenient,
}

/// Something a lenient reading accepted that a strict one refuses: a key given twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: line {first_line} and line {line} both set {path}; the last wins")]
pub struct Warning {
    /// Source name.
    pub source_name: String,
    /// One-based document number.
    pub document: usize,
    /// The key's path in its document (`metadata.labels.app`, `spec.containers[0].image`).
    pub path: String,
    /// One-based line of the value dropped (0 if it could not be found again).
    pub first_line: usize,
    /// One-based line of the value kept.
    pub line: usize,
}

/// Objects read by [`parse_with`], and what the reading warned about.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The objects, in order.
    pub objects: Vec<Object>,
    /// Keys given twice (only under [`Strictness::Lenient`]).
    pub warnings: Vec<Warning>,
}

/// Reads all objects of `text`, naming them after `source`; a key given twice is an error.
pub fn parse(source: &str, text: &str) -> Result<Vec<Object>, Error> {
    Ok(parse_with(source, text, Strictness::Strict)?.objects)
}

/// Reads all objects of `text`, with duplicate keys handled as `strictness` says.
pub fn parse_with(source: &str, text: &str, strictness: Strictness) -> Result<Parsed, Error> {
    let mut objects = Vec::new();
    let warnings = for_each_with(source, text, strictness, |o| {
        objects.push(o);
        Ok(())
    })?;
    Ok(Parsed { objects, warnings })
}

/// Reads the objects of `text` one at a time, so a caller can process a large stream
/// without holding all of it. `each` may stop the walk by returning an error. A key given
/// twice is an error.
pub fn for_each(source: &str, text: &str, each: impl FnMut(Object) -> Result<(), Error>) -> Result<(), Error> {
    for_each_with(source, text, Strictness::Strict, each).map(drop)
}

/// [`for_each`] with duplicate keys handled as `strictness` says; returns the warnings (given
/// once the whole text is read).
pub fn for_each_with(
    source: &str,
    text: &str,
    strictness: Strictness,
    mut each: impl FnMut(Object) -> Result<(), Error>,
) -> Result<Vec<Warning>, Error> {
    let source_name: Arc<str> = Arc::from(source);
    let duplicates = match strictness {
        Strictness::Strict => yaml::DuplicateKeys::Refuse,
        Strictness::Lenient => yaml::DuplicateKeys::LastWins,
    };
    let mut repeated = Vec::new();
    let result = yaml::for_each_document_with(
        text,
        duplicates,
        |doc| {
            let origin = Origin { source: source_name.clone(), document: doc.index + 1, line: doc.line, item: None };
            objects_of_document(doc.value, origin, &mut each)
        },
        &mut repeated,
    );
    match result {
        Ok(Ok(())) => Ok(repeated
            .into_iter()
            .map(|r| Warning {
                source_name: source.to_string(),
                document: r.document + 1,
                path: r.path,
                first_line: r.first_line,
                line: r.line,
            })
            .collect()),
        Ok(Err(Failed::Caller(e))) => Err(e),
        Ok(Err(Failed::Field { mut error, path })) => {
            // Found again only now that something is wrong, so reading costs nothing extra.
            if let (Error::Invalid { document, line, .. }, Some(path)) = (&mut error, path)
                && let Some(at) = yaml::line_of(text, *document - 1, &path)
            {
                *line = at;
            }
            Err(error)
        }
        Err(e) => Err(Error::Syntax {
            source_name: source.to_string(),
            document: e.document + 1,
            line: e.line,
            column: e.column,
            message: e.message,
        }),
    }
}

/// Why reading stopped inside a document.
enum Failed {
    /// The caller's `each` stopped it.
    Caller(Error),
    /// A document is not an object; `path` names the field at fault, if there is one, so
    /// the error can give its line.
    Field { error: Error, path: Option<String> },
}

/// The error for a document (or List item) that is not a valid object; `field` is the
/// field at fault, relative to the object.
fn invalid(origin: &Origin, field: Option<&str>, problem: impl Into<String>) -> Failed {
    let error = Error::Invalid {
        source_name: origin.source.to_string(),
        document: origin.document,
        line: origin.line,
        item: origin.item,
        problem: problem.into(),
    };
    let path = match (origin.item, field) {
        (Some(i), Some(f)) => Some(format!("items[{i}].{f}")),
        (Some(i), None) => Some(format!("items[{i}]")),
        (None, f) => f.map(str::to_string),
    };
    Failed::Field { error, path }
}

/// How messages name a JSON value's type: `a string`, `a list`, `a mapping`...
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn objects_of_document(
    value: Value,
    origin: Origin,
    each: &mut impl FnMut(Object) -> Result<(), Error>,
) -> Result<(), Failed> {
    let Value::Object(map) = &value else {
        return Err(invalid(&origin, None, format!("is {}, not a mapping (a Kubernetes object)", type_name(&value))));
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    let is_list = kind.ends_with("List")
        && map.get("items").is_some_and(Value::is_array)
        && map.get("metadata").and_then(|m| m.get("name")).is_none();
    if !is_list {
        let object = validate(value, origin)?;
        return each(object).map_err(Failed::Caller);
    }
    let Value::Object(mut map) = value else { unreachable!("checked above") };
    let Some(Value::Array(items)) = map.remove("items") else { unreachable!("checked above") };
    for (i, item) in items.into_iter().enumerate() {
        let origin = Origin { item: Some(i), ..origin.clone() };
        if item.is_null() {
            continue;
        }
        if !item.is_object() {
            return Err(invalid(&origin, None, format!("list item is {}, not a mapping", type_name(&item))));
        }
        objects_of_document(item, origin, each)?;
    }
    Ok(())
}

/// Checks the fields every object needs, naming the one that is wrong.
fn validate(value: Value, origin: Origin) -> Result<Object, Failed> {
    let map = value.as_object().ok_or_else(|| invalid(&origin, None, "not a mapping"))?;
    for field in ["apiVersion", "kind"] {
        match map.get(field) {
            None => return Err(invalid(&origin, None, format!("missing `{field}`"))),
            Some(Value::Null) => return Err(invalid(&origin, Some(field), format!("missing `{field}`"))),
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(invalid(&origin, Some(field), format!("`{field}` is empty")));
            }
            Some(Value::String(_)) => {}
            Some(other) => {
                return Err(invalid(&origin, Some(field), format!("`{field}` is {}, not a string", type_name(other))));
            }
        }
    }
    let metadata = match map.get("metadata") {
        None => return Err(invalid(&origin, None, "missing `metadata.name`")),
        Some(Value::Null) => return Err(invalid(&origin, Some("metadata"), "missing `metadata.name`")),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(invalid(
                &origin,
                Some("metadata"),
                format!("`metadata` is {}, not a mapping", type_name(other)),
            ));
        }
    };
    for field in ["name", "generateName", "namespace"] {
        match metadata.get(field) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => {
                let path = format!("metadata.{field}");
                return Err(invalid(&origin, Some(&path), format!("`{path}` is {}, not a string", type_name(other))));
            }
        }
    }
    let name = metadata.get("name").and_then(Value::as_str).unwrap_or("");
    let generate = metadata.get("generateName").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() && generate.is_empty() {
        return Err(invalid(&origin, Some("metadata"), "missing `metadata.name` (and no `metadata.generateName`)"));
    }
    for field in ["labels", "annotations"] {
        match metadata.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                if let Some((k, v)) = m.iter().find(|(_, v)| !v.is_string() && !v.is_null()) {
                    let path = format!("metadata.{field}.{k}");
                    return Err(invalid(
                        &origin,
                        Some(&path),
                        format!("`{path}` is {}, not a string (quote it)", type_name(v)),
                    ));
                }
            }
            Some(other) => {
                let path = format!("metadata.{field}");
                return Err(invalid(&origin, Some(&path), format!("`{path}` is {}, not a mapping", type_name(other))));
            }
        }
    }
    Ok(Object::new(value, origin))
}

/// Indexes a desired set by key, refusing two objects with the same key. Objects without
/// a name (hooks with `generateName`) are not indexed: each is its own instance.
pub fn index_unique(objects: &[Object], default_namespace: &str) -> Result<HashMap<ResourceKey, usize>, Error> {
    let mut seen: HashMap<ResourceKey, usize> = HashMap::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        if o.name().is_empty() {
            continue;
        }
        let key = o.key(default_namespace);
        if let Some(&first) = seen.get(&key) {
            return Err(Error::duplicate(key, objects[first].origin(), o.origin()));
        }
        seen.insert(key, i);
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_flattened_and_origins_kept() {
        let text = "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n---\n# nothing\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n";
        let objs = parse("m.yaml", text).unwrap();
        let names: Vec<&str> = objs.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["a", "b", "s"]);
        assert_eq!(objs[1].origin().item, Some(1));
        assert_eq!(objs[2].origin().document, 3);
        assert_eq!(objs[2].origin().line, 14);
    }

    #[test]
    fn errors_name_source_document_and_field() {
        let cases = [
            ("- a\n- b\n", "document 1 (line 1): is a list, not a mapping"),
            ("kind: ConfigMap\nmetadata: {name: x}\n", "missing `apiVersion`"),
            ("apiVersion: v1\nkind: ConfigMap\n", "missing `metadata.name`"),
            ("apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n", "no `metadata.generateName`"),
            ("apiVersion: v1\nkind: 3\nmetadata: {name: x}\n", "`kind` is a number"),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: {a: 1}}\n",
                "`metadata.labels.a` is a number",
            ),
            ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: 1, a: 2}\n", "duplicate key `a`"),
        ];
        for (text, want) in cases {
            let e = parse("f.yaml", text).unwrap_err().to_string();
            assert!(e.starts_with("f.yaml: document 1"), "{e}");
            assert!(e.contains(want), "{e} should contain {want}");
        }
    }

    #[test]
    fn field_errors_give_the_line_of_the_field() {
        let cases = [
            (
                "# shop\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    app: shop\n    version: 2\n",
                "f.yaml: document 1 (line 9): `metadata.labels.version` is a number, not a string (quote it)",
            ),
            (
                "apiVersion: v1\n\nkind: [ConfigMap]\nmetadata: {name: x}\n",
                "f.yaml: document 1 (line 3): `kind` is a list",
            ),
            (
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n    namespace: 7\n",
                "f.yaml: document 1 (line 12), item 1: `metadata.namespace` is a number",
            ),
            // JSON reads as flow YAML for finding the line.
            (
                "{\"apiVersion\": \"v1\",\n \"kind\": \"ConfigMap\",\n \"metadata\": {\"name\": \"x\",\n   \"annotations\": {\"a\": true}}}\n",
                "f.yaml: document 1 (line 4): `metadata.annotations.a` is a boolean",
            ),
            // A field that is missing has no line of its own: the document's is given.
            ("\napiVersion: v1\nmetadata: {name: x}\n", "f.yaml: document 1 (line 2): missing `kind`"),
        ];
        for (text, want) in cases {
            let e = parse("f.yaml", text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}\nshould start with\n{want}");
        }
    }

    #[test]
    fn lenient_reading_keeps_the_last_of_a_repeated_key_and_names_both_lines() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {app: a}\ndata:\n  mode: blue\n  mode: green\nmetadata:\n  name: z\n";
        let e = parse("cm.yaml", text).unwrap_err().to_string();
        assert!(e.contains("line 8 column 9: duplicate key `mode`"), "{e}");
        let parsed = parse_with("cm.yaml", text, Strictness::Lenient).unwrap();
        assert_eq!(parsed.objects[0].name(), "z");
        assert_eq!(parsed.objects[0].value()["data"]["mode"], "green");
        let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                "cm.yaml: line 7 and line 8 both set data.mode; the last wins",
                "cm.yaml: line 3 and line 9 both set metadata; the last wins",
            ]
        );
        assert!(parse_with("cm.yaml", text, Strictness::Strict).is_err());
    }

    #[test]
    fn duplicates_name_both_origins() {
        let objs = parse("a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n").unwrap();
        let e = index_unique(&objs, "default").unwrap_err().to_string();
        assert_eq!(
            e,
            "/ConfigMap/default/x is defined twice: at a.yaml: document 1 (line 1) and at a.yaml: document 2 (line 5)"
        );
    }

    #[test]
    fn flow_style_json_and_byte_order_marks() {
        let objs =
            parse("f.yaml", "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {on: yes}}\n").unwrap();
        assert_eq!(objs[0].name(), "x");
        assert_eq!(objs[0].value()["data"]["on"], serde_json::json!(true));
        let json = "\u{feff}{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"j\"}}";
        assert_eq!(parse("f.json", json).unwrap()[0].name(), "j");
        assert_eq!(
            parse("f.yaml", "\u{feff}apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\n").unwrap()[0].name(),
            "z"
        );
        let e = parse("f.json", "{\"apiVersion\": \"v1\",\n \"kind\": [\"ConfigMap\"}\n").unwrap_err().to_string();
        assert!(e.starts_with("f.json: document 1: line 2 column "), "{e}");
        let cm = |n: &str| {
            format!("{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"{n}\"}}}}\n")
        };
        let e = parse("f.json", &format!("{}{}{{\"c\": }}\n", cm("a"), cm("b"))).unwrap_err().to_string();
        assert!(e.starts_with("f.json: document 3: line 3 column 7: expected value"), "{e}");
    }
}
