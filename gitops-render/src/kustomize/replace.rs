//! Copying values between objects: `replacements` (a source field copied into target fields,
//! run last among a kustomization's transformers) and the deprecated `vars` (`$(NAME)` in the
//! fields kustomize lists, resolved once at the top after names are final).
//!
//! Field paths are kustomize's: dot-separated keys; `[key=value]` picks the list elements whose
//! `key` equals `value`; `*` every element; a number an index; `[a.b]` a key holding dots.

use gitops_core::schema::split_api_version;
use serde_json::{Map, Value};

use super::fieldspecs::{self, FieldSpec};
use super::resource::{ResMap, Resource};

/// Splits a field path at dots outside brackets.
fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut depth) = (String::new(), 0usize);
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// One path segment.
enum Segment<'a> {
    Key(&'a str),
    Match(&'a str, &'a str),
    All,
    Index(usize),
}

fn segment(text: &str) -> Segment<'_> {
    if text == "*" {
        return Segment::All;
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return match inner.split_once('=') {
            Some((k, v)) => Segment::Match(k, v),
            None => Segment::Key(inner),
        };
    }
    match text.parse::<usize>() {
        Ok(i) => Segment::Index(i),
        Err(_) => Segment::Key(text),
    }
}

fn element_matches(item: &Value, key: &str, want: &str) -> bool {
    match item.get(key) {
        Some(Value::String(s)) => s == want,
        Some(Value::Number(n)) => want.parse::<serde_json::Number>().is_ok_and(|w| w == *n),
        Some(Value::Bool(b)) => want == if *b { "true" } else { "false" },
        _ => false,
    }
}

/// Every value at `path` in `v`; with `create`, missing maps (and `[k=v]` elements) are made.
fn lookup<'v>(v: &'v mut Value, path: &[String], create: bool, out: &mut Vec<&'v mut Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match (segment(first), v) {
        (Segment::Key(k), Value::Object(map)) => {
            if !map.contains_key(k) {
                if !create {
                    return;
                }
                let fresh = if rest.first().is_some_and(|r| r.starts_with('[') && r.contains('=')) {
                    Value::Array(Vec::new())
                } else if rest.is_empty() {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                };
                map.insert(k.to_string(), fresh);
            }
            if let Some(child) = map.get_mut(k) {
                lookup(child, rest, create, out);
            }
        }
        (Segment::Match(k, want), Value::Array(items)) => {
            if create && !items.iter().any(|i| element_matches(i, k, want)) {
                let mut m = Map::new();
                m.insert(k.to_string(), Value::String(want.to_string()));
                items.push(Value::Object(m));
            }
            for item in items.iter_mut().filter(|i| element_matches(i, k, want)) {
                lookup(item, rest, create, out);
            }
        }
        (Segment::All, Value::Array(items)) => {
            for item in items.iter_mut() {
                lookup(item, rest, create, out);
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(item) = items.get_mut(i) {
                lookup(item, rest, create, out);
            }
        }
        _ => {}
    }
}

/// The value at `path` in `v` (the first one, for paths with `*`).
fn get(v: &Value, path: &str) -> Option<Value> {
    let mut copy = v.clone();
    let mut found = Vec::new();
    lookup(&mut copy, &split_path(path), false, &mut found);
    found.into_iter().next().map(|x| x.clone())
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A `select`/`reject`/`source` selector of replacements: exact fields, empty matching any,
/// checked against every id the object has had.
fn selects(sel: &Value, r: &Resource) -> bool {
    let want = |k: &str| sel.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let by_id = r.ids().any(|id| {
        want("group").is_none_or(|g| g == id.group())
            && want("version").is_none_or(|v| v == id.version())
            && want("kind").is_none_or(|k| k == id.kind)
            && want("name").is_none_or(|n| n == id.name)
            && want("namespace").is_none_or(|n| n == id.namespace)
    });
    let selector = |key: &str, meta: &str| {
        want(key).is_none_or(|text| {
            let s = super::file::Selector {
                label_selector: if meta == "labels" { text.to_string() } else { String::new() },
                annotation_selector: if meta == "annotations" { text.to_string() } else { String::new() },
                ..Default::default()
            };
            super::select::compile(&s).is_ok_and(|c| c.matches(r))
        })
    };
    by_id && selector("labelSelector", "labels") && selector("annotationSelector", "annotations")
}

/// Reads one replacement's `options` (`delimiter`, `index`, `create`).
struct ValueOptions {
    delimiter: Option<String>,
    index: i64,
    create: bool,
}

fn options(v: Option<&Value>) -> ValueOptions {
    let get = |k: &str| v.and_then(|o| o.get(k));
    ValueOptions {
        delimiter: get("delimiter").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_string),
        index: get("index").and_then(Value::as_i64).unwrap_or(0),
        create: get("create").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// Applies `replacements` entries (files already inlined) to `acc`.
pub fn replacements(acc: &mut ResMap, entries: &[Value]) -> Result<(), String> {
    for (i, entry) in entries.iter().enumerate() {
        // A replacement sets the target node in place: fields sharing it follow.
        let snaps: Vec<_> = acc.items.iter().map(super::shared::snapshot).collect();
        apply_replacement(acc, entry).map_err(|e| format!("[{i}]: {e}"))?;
        for (r, snap) in acc.items.iter_mut().zip(&snaps) {
            super::shared::propagate(r, snap);
        }
    }
    Ok(())
}

fn apply_replacement(acc: &mut ResMap, entry: &Value) -> Result<(), String> {
    let source = entry.get("source").ok_or("missing `source`")?;
    let matches: Vec<&Resource> = acc.items.iter().filter(|r| selects(source, r)).collect();
    let found = match matches.as_slice() {
        [one] => *one,
        [] => return Err(format!("nothing selected by source {source}")),
        _ => return Err(format!("multiple matches for source selector {source}")),
    };
    let field = source.get("fieldPath").and_then(Value::as_str).unwrap_or("metadata.name");
    let mut value = get(&found.obj, field).ok_or_else(|| format!("source field `{field}` not found"))?;
    let source_options = options(source.get("options"));
    if let Some(d) = &source_options.delimiter {
        let text = text_of(&value);
        let parts: Vec<&str> = text.split(d.as_str()).collect();
        let index = usize::try_from(source_options.index).ok().filter(|&i| i < parts.len());
        let Some(index) = index else {
            return Err(format!("options.index {} is out of bounds for `{text}`", source_options.index));
        };
        value = Value::String(parts[index].to_string());
    }
    let targets = entry.get("targets").and_then(Value::as_array).ok_or("missing `targets`")?;
    for target in targets {
        let select = target.get("select").cloned().unwrap_or(Value::Object(Map::new()));
        let rejects: Vec<Value> = target.get("reject").and_then(Value::as_array).cloned().unwrap_or_default();
        let paths: Vec<String> = target
            .get("fieldPaths")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let opts = options(target.get("options"));
        for r in acc.items.iter_mut() {
            if !selects(&select, r) || rejects.iter().any(|rej| selects(rej, r)) {
                continue;
            }
            for path in &paths {
                let mut slots = Vec::new();
                lookup(&mut r.obj, &split_path(path), opts.create, &mut slots);
                if slots.is_empty() && !opts.create {
                    return Err(format!("unable to find field `{path}` in replacement target {}", r.id().shown()));
                }
                for slot in slots {
                    set_value(slot, &value, &opts);
                }
            }
        }
    }
    Ok(())
}

fn set_value(slot: &mut Value, value: &Value, opts: &ValueOptions) {
    let Some(d) = &opts.delimiter else {
        *slot = value.clone();
        return;
    };
    let current = text_of(slot);
    let mut parts: Vec<String> = current.split(d.as_str()).map(str::to_string).collect();
    let new = text_of(value);
    match usize::try_from(opts.index) {
        Ok(i) if i < parts.len() => parts[i] = new,
        Ok(_) => parts.push(new),
        Err(_) => parts.insert(0, new),
    }
    *slot = Value::String(parts.join(d));
}

/// A `vars` entry, resolved.
struct Var {
    name: String,
    value: Value,
}

/// Resolves `vars` (collected from every layer) and substitutes `$(NAME)` in the fields the
/// var references name.
pub fn vars(acc: &mut ResMap, vars: &[Value], references: &[FieldSpec]) -> Result<(), String> {
    let mut resolved: Vec<Var> = Vec::new();
    for v in vars {
        let name = v.get("name").and_then(Value::as_str).ok_or("a var needs a `name`")?.to_string();
        if resolved.iter().any(|r| r.name == name) {
            return Err(format!("var '{name}' already encountered"));
        }
        let objref = v.get("objref").ok_or_else(|| format!("var '{name}': missing `objref`"))?;
        let want = |k: &str| objref.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let (group, version) = match want("apiVersion").map(split_api_version) {
            Some((g, v)) => (Some(g), Some(v)),
            None => (want("group"), want("version")),
        };
        let hits: Vec<&Resource> = acc
            .items
            .iter()
            .filter(|r| {
                r.ids().any(|id| {
                    want("kind").is_none_or(|k| k == id.kind)
                        && want("name").is_none_or(|n| n == id.name)
                        && want("namespace").is_none_or(|n| super::resource::same_namespace(n, &id.namespace))
                        && group.is_none_or(|g| g == id.group())
                        && version.is_none_or(|v| v == id.version())
                })
            })
            .collect();
        let r = match hits.as_slice() {
            [one] => *one,
            [] => return Err(format!("var '{name}' cannot be mapped to a field in the set of known resources")),
            _ => return Err(format!("var '{name}': unable to disambiguate its objref")),
        };
        let path = v.pointer("/fieldref/fieldpath").and_then(Value::as_str).unwrap_or("metadata.name");
        let path = path.replace('[', ".[");
        let value = get(&r.obj, &path).ok_or_else(|| format!("var '{name}': field `{path}` not found"))?;
        resolved.push(Var { name, value });
    }
    if resolved.is_empty() {
        return Ok(());
    }
    for r in &mut acc.items {
        let (api, kind) = (r.api_version().to_string(), r.kind().to_string());
        for spec in references.iter().filter(|s| s.applies_to(&api, &kind)) {
            fieldspecs::visit(&mut r.obj, &spec.path, false, &mut |slot| {
                substitute(slot, &resolved);
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn substitute(slot: &mut Value, vars: &[Var]) {
    match slot {
        Value::String(s) => {
            if let Some(var) = vars.iter().find(|v| *s == format!("$({})", v.name)) {
                *slot = var.value.clone();
                return;
            }
            let mut text = s.clone();
            for v in vars {
                text = text.replace(&format!("$({})", v.name), &text_of(&v.value));
            }
            *s = text;
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, vars)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, vars)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_outside_brackets() {
        assert_eq!(split_path("a.[name=x.y].b"), ["a", "[name=x.y]", "b"]);
        let v =
            serde_json::json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}]}});
        assert_eq!(get(&v, "spec.containers.[name=b].image"), Some(Value::String("y:2".into())));
        assert_eq!(get(&v, "spec.containers.0.name"), Some(Value::String("a".into())));
        assert_eq!(get(&v, "spec.missing"), None);
    }
}
