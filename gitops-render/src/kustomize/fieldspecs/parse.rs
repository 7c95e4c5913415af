//! Reading `configurations` files and field specs as kustomize decodes them: case-insensitive
//! keys, unknown keys refused, scalars in string fields read as their text.

use serde_json::{Map, Value};

use super::{Error, FieldSpec, Gvk, NameReference};

/// The field spec tables of a configurations file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    NamePrefix,
    NameSuffix,
    Namespace,
    CommonLabels,
    Labels,
    TemplateLabels,
    CommonAnnotations,
    VarReference,
    Images,
    Replicas,
}

/// The keys of kustomize's `TransformerConfig`; `nameReference` is last (it is not a table).
pub(super) const CONFIG_KEYS: &[&str] = &[
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "templateLabels",
    "commonAnnotations",
    "varReference",
    "images",
    "replicas",
    "nameReference",
];
pub(super) const CONFIG_TABLES: &[Table] = &[
    Table::NamePrefix,
    Table::NameSuffix,
    Table::Namespace,
    Table::CommonLabels,
    Table::Labels,
    Table::TemplateLabels,
    Table::CommonAnnotations,
    Table::VarReference,
    Table::Images,
    Table::Replicas,
];

impl Table {
    pub(super) fn key(self) -> &'static str {
        CONFIG_TABLES.iter().position(|t| *t == self).and_then(|i| CONFIG_KEYS.get(i)).copied().unwrap_or("")
    }
}

pub(super) const SPEC_KEYS: &[&str] = &["group", "version", "kind", "path", "create"];
pub(super) const REFERENCE_KEYS: &[&str] = &["group", "version", "kind", "fieldSpecs"];

/// Parses one field spec as kustomize decodes it: keys `group`, `version`, `kind`, `path`,
/// `create` (case-insensitive, unknown keys refused); numbers and booleans in the string
/// fields read as their text, `null` as empty or false.
pub(crate) fn parse_field_spec(value: &Value) -> Result<FieldSpec, Error> {
    parse_spec(value, "")
}

pub(super) fn parse_spec(value: &Value, field: &str) -> Result<FieldSpec, Error> {
    let map = as_map(value, field, "a field spec (group, version, kind, path, create)")?;
    let mut spec = FieldSpec { gvk: Gvk::default(), path: String::new(), create: false };
    for (index, key, value) in known_keys(map, SPEC_KEYS, field)? {
        let here = join(field, key);
        match index {
            0 => spec.gvk.group = string_value(value, &here)?,
            1 => spec.gvk.version = string_value(value, &here)?,
            2 => spec.gvk.kind = string_value(value, &here)?,
            3 => spec.path = string_value(value, &here)?,
            _ => spec.create = bool_value(value, &here)?,
        }
    }
    Ok(spec)
}

pub(super) fn parse_specs(value: &Value, field: &str) -> Result<Vec<FieldSpec>, Error> {
    list_value(value, field)?.iter().enumerate().map(|(i, v)| parse_spec(v, &format!("{field}[{i}]"))).collect()
}

pub(super) fn parse_references(value: &Value, field: &str) -> Result<Vec<NameReference>, Error> {
    let mut out = Vec::new();
    for (i, item) in list_value(value, field)?.iter().enumerate() {
        let here = format!("{field}[{i}]");
        let map = as_map(item, &here, "a name reference (group, version, kind, fieldSpecs)")?;
        let mut reference = NameReference { gvk: Gvk::default(), referrers: Vec::new() };
        for (index, key, value) in known_keys(map, REFERENCE_KEYS, &here)? {
            let at = join(&here, key);
            match index {
                0 => reference.gvk.group = string_value(value, &at)?,
                1 => reference.gvk.version = string_value(value, &at)?,
                2 => reference.gvk.kind = string_value(value, &at)?,
                _ => reference.referrers = parse_specs(value, &at)?,
            }
        }
        out.push(reference);
    }
    Ok(out)
}

/// The keys of `map` resolved against `known` as Go's JSON decoder does: an exact match, else a
/// match ignoring case. Returns (index into `known`, key, value) in map order; later entries
/// overwrite earlier ones for the same field, as in Go.
pub(super) fn known_keys<'a>(
    map: &'a Map<String, Value>,
    known: &[&str],
    field: &str,
) -> Result<Vec<(usize, &'a str, &'a Value)>, Error> {
    map.iter()
        .map(|(key, value)| {
            let index = known
                .iter()
                .position(|k| k == key)
                .or_else(|| known.iter().position(|k| k.eq_ignore_ascii_case(key)))
                .ok_or_else(|| {
                    Error::invalid(&join(field, key), format!("unknown field (known: {})", known.join(", ")))
                })?;
            Ok((index, key.as_str(), value))
        })
        .collect()
}

pub(super) fn as_map<'a>(value: &'a Value, field: &str, what: &str) -> Result<&'a Map<String, Value>, Error> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Error::invalid(field, format!("must be {what}, not {}", describe(other)))),
    }
}

pub(super) fn list_value<'a>(value: &'a Value, field: &str) -> Result<&'a [Value], Error> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(&[]),
        other => Err(Error::invalid(field, format!("must be a list, not {}", describe(other)))),
    }
}

/// kustomize reads YAML into Go strings through the struct's types, so scalars become text.
pub(super) fn string_value(value: &Value, field: &str) -> Result<String, Error> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(Error::invalid(field, format!("must be a string, not {}", describe(other)))),
    }
}

pub(super) fn bool_value(value: &Value, field: &str) -> Result<bool, Error> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(Error::invalid(field, format!("must be true or false, not {}", describe(other)))),
    }
}

pub(super) fn join(field: &str, key: &str) -> String {
    if field.is_empty() { key.to_string() } else { format!("{field}.{key}") }
}

pub(super) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}
