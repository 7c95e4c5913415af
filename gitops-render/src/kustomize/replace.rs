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
pub(crate) fn replacements(acc: &mut ResMap, entries: &[Value]) -> Result<(), String> {
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

/// The name of a `vars` entry, checked.
fn var_name(v: &Value) -> Result<&str, String> {
    v.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or_else(|| "a var needs a `name`".to_string())
}

/// Binds the `vars` a kustomization declares to the one object each names, as kustomize does
/// when it takes them in (after that kustomization's transformers, before any parent's): the
/// objref's group, version (from `apiVersion`, else `group` and `version`), kind and name must
/// equal one of the ids the object has had, exactly (no apiVersion means an empty version,
/// which matches nothing); the namespace counts only when the objref gives one (or the kind is
/// cluster-scoped). Several matches are an error; none leaves the var unbound, which fails
/// when it is resolved.
pub(crate) fn bind_vars(acc: &mut ResMap, declared: &[Value], schema: &super::schema::Schema) -> Result<(), String> {
    for v in declared {
        let name = var_name(v)?;
        let objref = v.get("objref").ok_or_else(|| format!("var '{name}': missing `objref`"))?;
        let field = |k: &str| objref.get(k).and_then(Value::as_str).unwrap_or("");
        let (group, version) = match field("apiVersion") {
            "" => (field("group"), field("version")),
            api => split_api_version(api),
        };
        let (kind, ref_name, namespace) = (field("kind"), field("name"), field("namespace"));
        let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        let with_namespace = !namespace.is_empty() || schema.is_cluster_scoped(&api_version, kind);
        let hits: Vec<usize> = (0..acc.items.len())
            .filter(|&i| {
                acc.items[i].ids().any(|id| {
                    id.kind == kind
                        && id.name == ref_name
                        && id.group() == group
                        && id.version() == version
                        && (!with_namespace || super::resource::same_namespace(namespace, &id.namespace))
                })
            })
            .collect();
        match hits.as_slice() {
            [] => {}
            [one] => acc.items[*one].ref_vars.push(name.to_string()),
            many => {
                return Err(format!(
                    "var '{name}': its objref matches {} objects ({}): unable to disambiguate; give the objref a \
                     namespace (or the right apiVersion)",
                    many.len(),
                    many.iter().map(|&i| acc.items[i].id().shown()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Resolves `vars` (declared by every kustomization, bound by [`bind_vars`]) and substitutes
/// `$(NAME)` in the fields the var references name, as kustomize's refvar filter does: only
/// string values change; a value that is exactly `$(NAME)` takes the var's value with its type
/// (a port stays a number), elsewhere the value is printed into the text; `$$` is a literal `$`;
/// an undeclared `$(NAME)` stays as written.
pub(crate) fn vars(acc: &mut ResMap, vars: &[Value], references: &[FieldSpec]) -> Result<(), String> {
    let mut resolved: Vec<(String, Value)> = Vec::new();
    for v in vars {
        let name = var_name(v)?;
        if resolved.iter().any(|(n, _)| n == name) {
            return Err(format!("var '{name}' already encountered"));
        }
        let Some(r) = acc.items.iter().find(|r| r.ref_vars.iter().any(|n| n == name)) else {
            return Err(format!(
                "var '{name}' cannot be mapped to a field in the set of known resources (no object had exactly \
                 its objref's apiVersion, kind and name where it was declared; without apiVersion the version is empty)"
            ));
        };
        let path = v.pointer("/fieldref/fieldpath").and_then(Value::as_str).filter(|p| !p.is_empty());
        let path = path.unwrap_or("metadata.name");
        let value = var_field(&r.obj, path).cloned().ok_or_else(|| {
            format!("var '{name}': field `{path}` not found in {} (the field kustomize looks up)", r.id().shown())
        })?;
        resolved.push((name.to_string(), value));
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

/// A var's `fieldpath`, as kustomize reads it: split at every dot; `name[2]` is the list
/// `name` and its element 2; a number indexes a list and a `[key=value]` piece picks the first
/// element whose `key` is `value`. Anything else is a map key, so `containers[name=web]` is a
/// key that never exists (kustomize fails there too).
fn var_field<'v>(obj: &'v Value, path: &str) -> Option<&'v Value> {
    let mut node = obj;
    for piece in path.split('.') {
        let (field, index) = match piece.strip_suffix(']').and_then(|p| p.split_once('[')) {
            Some((field, index))
                if !field.is_empty() && !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (field, Some(index))
            }
            _ => (piece, None),
        };
        for part in std::iter::once(field).chain(index) {
            node = match node {
                Value::Object(map) => map.get(part)?,
                Value::Array(items) => match part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                    Some(selector) => {
                        let (key, want) = selector.split_once('=')?;
                        items.iter().find(|i| element_matches(i, key, want))?
                    }
                    None => items.get(part.parse::<usize>().ok()?)?,
                },
                _ => return None,
            };
        }
    }
    Some(node)
}

fn substitute(slot: &mut Value, vars: &[(String, Value)]) {
    match slot {
        Value::String(s) => {
            if let Some(v) = expand(s, vars) {
                *slot = v;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, vars)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, vars)),
        _ => {}
    }
}

/// Kubernetes' `$(VAR)` expansion as kustomize forks it; `None` when nothing changes.
fn expand(input: &str, vars: &[(String, Value)]) -> Option<Value> {
    if !input.contains('$') {
        return None;
    }
    let lookup = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let (mut checkpoint, mut cursor) = (0usize, 0usize);
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match lookup(name) {
                            // The whole value is one reference: it takes the var's type.
                            Some(v) if input.len() == name.len() + 3 => return Some(v.clone()),
                            Some(v) => out.push_str(&text_of(v)),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // `$` and the next character are copied as they are.
                    let c = rest.chars().next().map_or(1, char::len_utf8);
                    out.push('$');
                    out.push_str(&rest[..c]);
                    c
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(input.get(checkpoint..).unwrap_or(""));
    (out != input).then_some(Value::String(out))
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
