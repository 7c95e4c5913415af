//! kustomize's strategic merge patch: kyaml's `merge2` walk as `patches` and
//! `patchesStrategicMerge` use it (spec §4), reproduced from probes of `kubectl kustomize`
//! (kustomize v5.5.0) where kyaml's behaviour departs from the Kubernetes one.
//!
//! Maps merge recursively, scalars from the patch win and `null` deletes. Lists merge only when
//! the schema marks them associative (`merge` strategy); everything else, and every list of a
//! resource without schema, is replaced by the patch's list verbatim. Directives: `$patch:
//! delete|replace|merge` in maps and associative lists; other `$`-keys (`$setElementOrder/...`,
//! `$retainKeys`, `$deleteFromPrimitiveList/...`) are ordinary keys to kyaml and copied.

use serde_json::{Map, Value};

use super::schema::{ListMerge, TypeRef};

/// The directive key.
const PATCH: &str = "$patch";

/// Errors applying a strategic-merge patch.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// `$patch` with a value other than `delete`, `replace` or `merge` (kyaml's message).
    #[error("unknown patch strategy '{value}' at {path} in strategic-merge patch")]
    UnknownDirective {
        /// The `$patch` value.
        value: String,
        /// Where in the patch (dotted field path).
        path: String,
    },
    /// The patch has a map where the target has a list, or similar (kyaml's message).
    #[error("wrong node kind: expected {expected} but got {got} at {path} in strategic-merge patch")]
    WrongKind {
        /// The target's node kind.
        expected: &'static str,
        /// The patch's node kind.
        got: &'static str,
        /// Where in the patch (dotted field path).
        path: String,
    },
    /// The patch document is not a map.
    #[error("strategic-merge patch must be a map, got {got}")]
    NotAMap {
        /// The patch's node kind.
        got: &'static str,
    },
}

/// Applies one strategic-merge patch document to `target` as kustomize's `patches` and
/// `patchesStrategicMerge` do (kyaml merge2, spec §4). `ty` is the target's root type (None: no
/// schema, so every list is replaced). Returns Ok(false) when the patch deletes the whole object
/// (`$patch: delete` at the root). Does NOT restore name/kind/namespace (the caller does).
pub(crate) fn apply(target: &mut Value, patch: &Value, ty: Option<TypeRef<'_>>) -> Result<bool, Error> {
    let Value::Object(patch) = patch else { return Err(Error::NotAMap { got: kind_name(patch) }) };
    let mut path = Vec::new();
    match directive(patch, &path)? {
        Directive::Delete => return Ok(false),
        // Probed: `$patch: replace` at the document root leaves the target as it was.
        Directive::Replace => return Ok(true),
        Directive::Merge => {}
    }
    match target {
        Value::Object(map) => merge_map(map, patch, ty, &mut path)?,
        other => *other = Value::Object(merged_new_map(patch, ty, &mut path)?),
    }
    Ok(true)
}

/// A map's or list element's `$patch` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

fn directive(map: &Map<String, Value>, path: &[&str]) -> Result<Directive, Error> {
    match map.get(PATCH) {
        None => Ok(Directive::Merge),
        Some(Value::String(s)) if s == "merge" => Ok(Directive::Merge),
        Some(Value::String(s)) if s == "replace" => Ok(Directive::Replace),
        Some(Value::String(s)) if s == "delete" => Ok(Directive::Delete),
        Some(other) => Err(Error::UnknownDirective { value: scalar_text(other), path: shown(path) }),
    }
}

/// Merges patch map `patch` into `target` (directives of `patch` itself already handled).
fn merge_map<'p>(
    target: &mut Map<String, Value>,
    patch: &'p Map<String, Value>,
    ty: Option<TypeRef<'_>>,
    path: &mut Vec<&'p str>,
) -> Result<(), Error> {
    for (key, value) in patch {
        if key == PATCH {
            continue;
        }
        path.push(key);
        merge_field(target, key, value, ty.and_then(|t| t.field(key)), path)?;
        path.pop();
    }
    Ok(())
}

fn merge_field<'p>(
    target: &mut Map<String, Value>,
    key: &str,
    value: &'p Value,
    ty: Option<TypeRef<'_>>,
    path: &mut Vec<&'p str>,
) -> Result<(), Error> {
    let existing = target.get_mut(key).filter(|v| !v.is_null());
    match value {
        Value::Null => {
            target.remove(key);
        }
        Value::Object(patch) => match directive(patch, path)? {
            Directive::Delete => {
                target.remove(key);
            }
            Directive::Replace => {
                check_kind(existing.as_deref(), value, path)?;
                target.insert(key.to_string(), Value::Object(without_directive(patch)));
            }
            Directive::Merge => match existing {
                Some(Value::Object(map)) => merge_map(map, patch, ty, path)?,
                Some(other) => return Err(wrong_kind(other, value, path)),
                None => {
                    let merged = merged_new_map(patch, ty, path)?;
                    target.insert(key.to_string(), Value::Object(merged));
                }
            },
        },
        Value::Array(items) => {
            check_kind(existing.as_deref(), value, path)?;
            let current = existing.map(|v| std::mem::take(v).as_array_mut().map(std::mem::take).unwrap_or_default());
            match merge_list(current, items, ty, path)? {
                Some(list) => {
                    target.insert(key.to_string(), Value::Array(list));
                }
                None => {
                    target.remove(key);
                }
            }
        }
        scalar => {
            check_kind(existing.as_deref(), value, path)?;
            target.insert(key.to_string(), scalar.clone());
        }
    }
    Ok(())
}

/// A patch map applied where the target has nothing: nulls and nested directives still apply.
fn merged_new_map<'p>(
    patch: &'p Map<String, Value>,
    ty: Option<TypeRef<'_>>,
    path: &mut Vec<&'p str>,
) -> Result<Map<String, Value>, Error> {
    let mut map = Map::new();
    merge_map(&mut map, patch, ty, path)?;
    Ok(map)
}

fn without_directive(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter().filter(|(k, _)| *k != PATCH).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Merges a patch list into the target's list (None: the target has none). Returns None when
/// the field is to be removed.
fn merge_list<'p>(
    target: Option<Vec<Value>>,
    patch: &'p [Value],
    ty: Option<TypeRef<'_>>,
    path: &mut Vec<&'p str>,
) -> Result<Option<Vec<Value>>, Error> {
    let merge = ty.map_or(ListMerge::Replace, TypeRef::list_merge);
    if merge == ListMerge::Replace {
        return Ok(Some(patch.to_vec()));
    }
    // A list-level directive is an element that is a map holding only `$patch`.
    let mut replace = false;
    for item in patch {
        if let Value::Object(map) = item {
            let d = directive(map, path)?;
            if map.len() == 1 && d == Directive::Delete {
                return Ok(None);
            }
            replace |= map.len() == 1 && d == Directive::Replace;
        }
    }
    if replace {
        // The patch's elements replace the list, each applied as new: their own directives
        // (a nested `$patch: replace`, nulls) still act (fixture 084-patches-replace-directive).
        let items = ty.and_then(TypeRef::elements);
        let mut out = Vec::new();
        for v in patch.iter().filter(|v| !is_list_directive(v)) {
            match v {
                Value::Object(m) => out.push(Value::Object(merged_new_map(m, items, path)?)),
                other => out.push(other.clone()),
            }
        }
        return Ok(Some(out));
    }
    let Some(target) = target else {
        return merge_list(Some(Vec::new()), patch, ty, path);
    };
    // Probed: an empty patch list leaves an associative target list alone.
    if patch.is_empty() {
        return Ok(Some(target));
    }
    let items = ty.and_then(TypeRef::elements);
    match merge {
        ListMerge::Keys(keys) => merge_keyed(target, patch, keys, items, path).map(Some),
        _ => Ok(Some(merge_set(target, patch))),
    }
}

fn is_list_directive(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.len() == 1 && m.contains_key(PATCH))
}

/// A primitive list merged as a set: the patch's values first (once each), then the target's
/// values the patch does not have (probed: `[a, b]` + `[c, a]` gives `[c, a, b]`).
fn merge_set(target: Vec<Value>, patch: &[Value]) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(patch.len() + target.len());
    for v in patch.iter().cloned().chain(target) {
        if seen.insert(scalar_text(&v)) {
            out.push(v);
        }
    }
    out
}

/// One list element with its merge-key values ("" when missing, as kyaml reads them).
struct Keyed<'v> {
    tuple: Vec<String>,
    value: &'v Value,
}

fn keyed<'v>(items: &'v [Value], keys: &[String]) -> Vec<Keyed<'v>> {
    let tuple = |v: &Value| keys.iter().map(|k| v.get(k).map(scalar_text).unwrap_or_default()).collect();
    items.iter().map(|value| Keyed { tuple: tuple(value), value }).collect()
}

/// An associative list merged by `keys`.
///
/// Probed behaviour of kustomize v5.5.0 (kyaml), which this follows rather than apimachinery:
/// * one effective key (no element sets a second key): the patch's elements first, in patch
///   order, each merged with its target counterpart, then the untouched target elements;
/// * several effective keys (e.g. ports with `protocol`): new patch elements first, then the
///   target elements in target order, patched in place;
/// * a patch element whose key values only partly agree with a target element's (port 80
///   without protocol against port 80/TCP), or a multi-key delete with a key missing, makes
///   kyaml leave the target list as it was;
/// * elements missing the (single) key: kyaml keeps only the target's key-less elements.
fn merge_keyed<'p>(
    target: Vec<Value>,
    patch: &'p [Value],
    keys: &[String],
    items: Option<TypeRef<'_>>,
    path: &mut Vec<&'p str>,
) -> Result<Vec<Value>, Error> {
    let t = keyed(&target, keys);
    let p = keyed(patch, keys);
    let secondary_used = t.iter().chain(&p).any(|e| e.tuple.iter().skip(1).any(|v| !v.is_empty()));
    if !secondary_used {
        let keyless = |e: &Keyed<'_>| e.tuple.iter().all(String::is_empty);
        if t.iter().chain(&p).any(keyless) {
            return Ok(t.iter().filter(|e| keyless(e)).map(|e| e.value.clone()).collect());
        }
        return merge_patch_first(&t, &p, items, path);
    }
    if conflicts(&t, &p, path)? {
        return Ok(target);
    }
    merge_target_order(&t, &p, items, path)
}

/// Whether kyaml gives up on this multi-key merge and keeps the target list (see
/// [`merge_keyed`]).
fn conflicts(t: &[Keyed<'_>], p: &[Keyed<'_>], path: &[&str]) -> Result<bool, Error> {
    for pe in p {
        let deletes = element_directive(pe.value, path)? == Directive::Delete;
        if deletes && pe.tuple.iter().any(String::is_empty) {
            return Ok(true);
        }
        let partial = |te: &&Keyed<'_>| {
            te.tuple != pe.tuple && te.tuple.iter().zip(&pe.tuple).all(|(a, b)| a == b || a.is_empty() || b.is_empty())
        };
        if t.iter().any(|te| partial(&te)) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn element_directive(v: &Value, path: &[&str]) -> Result<Directive, Error> {
    v.as_object().map_or(Ok(Directive::Merge), |m| directive(m, path))
}

fn merge_patch_first<'p>(
    t: &[Keyed<'_>],
    p: &[Keyed<'p>],
    items: Option<TypeRef<'_>>,
    path: &mut Vec<&'p str>,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::with_capacity(t.len() + p.len());
    let mut done: Vec<&[String]> = Vec::with_capacity(p.len());
    for pe in p {
        if done.contains(&pe.tuple.as_slice()) {
            continue;
        }
        done.push(&pe.tuple);
        let te = t.iter().find(|te| te.tuple == pe.tuple);
        if let Some(v) = merge_element(te.map(|e| e.value), pe.value, items, path)? {
            out.push(v);
        }
    }
    for te in t {
        if !p.iter().any(|pe| pe.tuple == te.tuple) {
            out.push(te.value.clone());
        }
    }
    Ok(out)
}

fn merge_target_order<'p>(
    t: &[Keyed<'_>],
    p: &[Keyed<'p>],
    items: Option<TypeRef<'_>>,
    path: &mut Vec<&'p str>,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::with_capacity(t.len() + p.len());
    for (i, pe) in p.iter().enumerate() {
        let first = !p.iter().take(i).any(|q| q.tuple == pe.tuple);
        if first && !t.iter().any(|te| te.tuple == pe.tuple) {
            out.extend(merge_element(None, pe.value, items, path)?);
        }
    }
    for te in t {
        match p.iter().find(|pe| pe.tuple == te.tuple) {
            Some(pe) => out.extend(merge_element(Some(te.value), pe.value, items, path)?),
            None => out.push(te.value.clone()),
        }
    }
    Ok(out)
}

/// One element of an associative list: the target's (if any) merged with the patch's. None when
/// the patch deletes it.
fn merge_element<'p>(
    target: Option<&Value>,
    patch: &'p Value,
    items: Option<TypeRef<'_>>,
    path: &mut Vec<&'p str>,
) -> Result<Option<Value>, Error> {
    let Value::Object(pmap) = patch else { return Ok(Some(patch.clone())) };
    match (directive(pmap, path)?, target) {
        (Directive::Delete, _) => Ok(None),
        // Probed: an element's own `$patch: replace` keeps the target element unchanged.
        (Directive::Replace, Some(t)) => Ok(Some(t.clone())),
        (Directive::Replace, None) => Ok(Some(Value::Object(without_directive(pmap)))),
        (Directive::Merge, Some(Value::Object(t))) => {
            let mut merged = t.clone();
            merge_map(&mut merged, pmap, items, path)?;
            Ok(Some(Value::Object(merged)))
        }
        (Directive::Merge, Some(other)) => Err(wrong_kind(other, patch, path)),
        (Directive::Merge, None) => Ok(Some(Value::Object(merged_new_map(pmap, items, path)?))),
    }
}

fn check_kind(target: Option<&Value>, patch: &Value, path: &[&str]) -> Result<(), Error> {
    match target {
        Some(t) if kind_name(t) != kind_name(patch) => Err(wrong_kind(t, patch, path)),
        _ => Ok(()),
    }
}

fn wrong_kind(target: &Value, patch: &Value, path: &[&str]) -> Error {
    Error::WrongKind { expected: kind_name(target), got: kind_name(patch), path: shown(path) }
}

/// kyaml's node kind names.
fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "MappingNode",
        Value::Array(_) => "SequenceNode",
        _ => "ScalarNode",
    }
}

/// A scalar as kyaml compares it: its text (`1` and `"1"` are the same key).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn shown(path: &[&str]) -> String {
    if path.is_empty() { "the document root".to_string() } else { path.join(".") }
}

#[cfg(test)]
mod tests {
    //! Every expected value here is what `kubectl kustomize` (kustomize v5.5.0) printed for the
    //! same base and `patches: [{path: p.yaml}]`, compared semantically.
    use super::super::schema::Schema;
    use super::*;
    use serde_json::json;

    fn deployment(container: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [container]}}}})
    }

    /// Patches the single container `c` of a Deployment and returns it.
    fn container(target: Value, patch: Value) -> Value {
        let mut t = deployment(target);
        let ty = Schema::builtin().root("apps/v1", "Deployment");
        assert!(apply(&mut t, &deployment(patch), ty).expect("patch applies"));
        t["spec"]["template"]["spec"]["containers"][0].clone()
    }

    fn ports(target: Value, patch: Value) -> Value {
        container(json!({"name": "c", "ports": target}), json!({"name": "c", "ports": patch}))["ports"].clone()
    }

    fn env(target: Value, patch: Value) -> Value {
        container(json!({"name": "c", "env": target}), json!({"name": "c", "env": patch}))["env"].clone()
    }

    #[test]
    fn deployment_overview() {
        let mut t = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "c1", "image": "i1", "args": ["a", "b"],
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                    {"name": "c2", "image": "i2"}],
                "tolerations": [{"key": "k1"}, {"key": "k2"}]}}}});
        let p = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "finalizers": ["c", "a"], "labels": {"x": null, "z": "3"}},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "c2", "image": "new"}, {"name": "c3", "image": "i3"},
                    {"name": "c1", "args": ["z"], "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}]}],
                "tolerations": [{"key": "k3"}]}}}});
        let ty = Schema::builtin().root("apps/v1", "Deployment");
        assert!(apply(&mut t, &p, ty).unwrap());
        assert_eq!(
            t,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "finalizers": ["c", "a", "b"], "labels": {"y": "2", "z": "3"}},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "c2", "image": "new"}, {"name": "c3", "image": "i3"},
                    {"name": "c1", "image": "i1", "args": ["z"], "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}]}],
                "tolerations": [{"key": "k3"}]}}}})
        );
    }

    #[test]
    fn single_key_order_and_directives() {
        let abc = json!([{"name": "A", "value": "a"}, {"name": "B", "value": "b"}, {"name": "C", "value": "c"}]);
        assert_eq!(
            env(abc, json!([{"name": "C", "value": "x"}, {"name": "A", "value": "y"}])),
            json!([{"name": "C", "value": "x"}, {"name": "A", "value": "y"}, {"name": "B", "value": "b"}])
        );
        let ab = json!([{"name": "A", "value": "a"}, {"name": "B", "value": "b"}]);
        assert_eq!(env(ab.clone(), json!([{"name": "A", "value": "y", "$patch": "replace"}])), ab);
        assert_eq!(
            env(ab.clone(), json!([{"name": "A", "value": null}])),
            json!([{"name": "A"}, {"name": "B", "value": "b"}])
        );
        let a = json!([{"name": "A", "value": "a"}]);
        assert_eq!(
            env(a.clone(), json!([{"name": "B", "value": "b", "$patch": "replace"}])),
            json!([{"name": "B", "value": "b"}, {"name": "A", "value": "a"}])
        );
        assert_eq!(
            env(a.clone(), json!([{"name": "A", "value": "b", "$patch": "merge"}])),
            json!([{"name": "A", "value": "b"}])
        );
        assert_eq!(env(a.clone(), json!([{"name": "B", "$patch": "delete"}])), a);
        assert_eq!(
            env(json!([{"name": 1, "value": "a"}]), json!([{"name": "1", "value": "b"}])),
            json!([{"name": "1", "value": "b"}])
        );
        // kyaml's handling of key-less elements.
        assert_eq!(env(ab.clone(), json!([{"value": "nokey"}])), json!([]));
        assert_eq!(
            env(json!([{"name": "A", "value": "a"}, {"value": "nokey"}]), json!([{"name": "B", "value": "b"}])),
            json!([{"value": "nokey"}])
        );
        let added = container(
            json!({"name": "c", "image": "x"}),
            json!({"name": "c", "env": [{"name": "A", "value": null}, {"name": "B", "$patch": "delete"}]}),
        );
        assert_eq!(added["env"], json!([{"name": "A"}]));
    }

    #[test]
    fn multi_key_ports() {
        let p = |port: u16| json!({"containerPort": port});
        let pp = |port: u16, proto: &str| json!({"containerPort": port, "protocol": proto});
        let named = |mut v: Value, n: &str| {
            v["name"] = json!(n);
            v
        };
        // Missing protocol on both sides: merged by port alone, patch first.
        assert_eq!(ports(json!([p(80)]), json!([named(p(80), "t")])), json!([named(p(80), "t")]));
        assert_eq!(ports(json!([p(80)]), json!([p(81)])), json!([p(81), p(80)]));
        assert_eq!(
            ports(json!([named(p(80), "x"), named(p(81), "y")]), json!([{"containerPort": 81, "hostPort": 1}])),
            json!([{"containerPort": 81, "hostPort": 1, "name": "y"}, named(p(80), "x")])
        );
        assert_eq!(
            ports(json!([named(p(80), "x"), named(p(81), "y")]), json!([{"containerPort": 80, "$patch": "delete"}])),
            json!([named(p(81), "y")])
        );
        // Partial agreement (port without protocol vs port/TCP): kyaml keeps the target list.
        assert_eq!(ports(json!([pp(80, "TCP")]), json!([named(p(80), "t")])), json!([pp(80, "TCP")]));
        assert_eq!(ports(json!([p(80)]), json!([named(pp(80, "TCP"), "t")])), json!([p(80)]));
        assert_eq!(ports(json!([p(80), pp(81, "UDP")]), json!([named(p(81), "u")])), json!([p(80), pp(81, "UDP")]));
        assert_eq!(
            ports(
                json!([named(p(80), "x"), named(pp(81, "UDP"), "y")]),
                json!([{"containerPort": 80, "$patch": "delete"}])
            ),
            json!([named(p(80), "x"), named(pp(81, "UDP"), "y")])
        );
        // Full keys: new elements first, then the target's in target order, patched in place.
        assert_eq!(
            ports(json!([pp(80, "TCP")]), json!([named(p(81), "u")])),
            json!([named(p(81), "u"), pp(80, "TCP")])
        );
        assert_eq!(
            ports(json!([p(80), pp(81, "UDP")]), json!([named(pp(82, "TCP"), "t")])),
            json!([named(pp(82, "TCP"), "t"), p(80), pp(81, "UDP")])
        );
        assert_eq!(
            ports(json!([named(pp(80, "TCP"), "x"), named(pp(80, "UDP"), "y")]), json!([named(pp(80, "UDP"), "z")])),
            json!([named(pp(80, "TCP"), "x"), named(pp(80, "UDP"), "z")])
        );
        assert_eq!(
            ports(json!([named(p(80), "x"), named(p(81), "y")]), json!([named(p(81), "z"), pp(82, "UDP")])),
            json!([pp(82, "UDP"), named(p(80), "x"), named(p(81), "z")])
        );
        assert_eq!(
            ports(
                json!([named(pp(80, "TCP"), "x"), named(pp(81, "UDP"), "y")]),
                json!([{"containerPort": 80, "protocol": "TCP", "$patch": "delete"}])
            ),
            json!([named(pp(81, "UDP"), "y")])
        );
    }

    #[test]
    fn list_directives() {
        let t = json!([{"containerPort": 80, "protocol": "TCP", "name": "x"}]);
        assert_eq!(
            ports(t.clone(), json!([{"$patch": "replace"}, {"containerPort": 9}])),
            json!([{"containerPort": 9}])
        );
        assert_eq!(ports(t.clone(), json!([])), t);
        let gone =
            container(json!({"name": "c", "ports": t.clone()}), json!({"name": "c", "ports": [{"$patch": "delete"}]}));
        assert_eq!(gone, json!({"name": "c"}));
        let gone = container(json!({"name": "c", "ports": t}), json!({"name": "c", "ports": null}));
        assert_eq!(gone, json!({"name": "c"}));
        // Plain lists are replaced verbatim, directives included.
        let args = container(
            json!({"name": "c", "args": ["a", "b"]}),
            json!({"name": "c", "args": [{"$patch": "replace"}, "c"]}),
        );
        assert_eq!(args["args"], json!([{"$patch": "replace"}, "c"]));
        let args = container(json!({"name": "c", "args": ["a", "b"]}), json!({"name": "c", "args": []}));
        assert_eq!(args["args"], json!([]));
    }

    #[test]
    fn maps_and_copied_keys() {
        let r = |patch: Value| {
            container(
                json!({"name": "c", "resources": {"limits": {"cpu": 1, "memory": 2}}}),
                json!({"name": "c", "resources": patch}),
            )["resources"]
                .clone()
        };
        assert_eq!(r(json!({"limits": {"cpu": 3, "$patch": "replace"}})), json!({"limits": {"cpu": 3}}));
        assert_eq!(r(json!({"limits": {"$patch": "delete"}})), json!({}));
        assert_eq!(r(json!({"limits": null})), json!({}));
        assert_eq!(r(json!({"limits": {}})), json!({"limits": {"cpu": 1, "memory": 2}}));
        assert_eq!(
            r(json!({"requests": {"$patch": "replace"}})),
            json!({"limits": {"cpu": 1, "memory": 2}, "requests": {}})
        );
        assert_eq!(
            r(json!({"$retainKeys": ["limits"], "limits": {"cpu": 3}})),
            json!({"$retainKeys": ["limits"], "limits": {"cpu": 3, "memory": 2}})
        );
        let c = container(
            json!({"name": "c", "env": [{"name": "A", "value": "a"}, {"name": "B", "value": "b"}]}),
            json!({"name": "c", "$setElementOrder/env": [{"name": "B"}, {"name": "A"}], "env": [{"name": "A", "value": "z"}]}),
        );
        assert_eq!(c["$setElementOrder/env"], json!([{"name": "B"}, {"name": "A"}]));
        assert_eq!(c["env"], json!([{"name": "A", "value": "z"}, {"name": "B", "value": "b"}]));
        let added = container(
            json!({"name": "c"}),
            json!({"name": "c", "resources": {"limits": {"cpu": null, "memory": 1}, "requests": {"$patch": "delete"}}}),
        );
        assert_eq!(added["resources"], json!({"limits": {"memory": 1}}));
    }

    #[test]
    fn finalizers_set_merge() {
        let run = |patch: Value| {
            let mut t = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "finalizers": ["a", "b"]}});
            let p =
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "finalizers": patch}});
            apply(&mut t, &p, Schema::builtin().root("apps/v1", "Deployment")).unwrap();
            t["metadata"].get("finalizers").cloned()
        };
        assert_eq!(run(json!(["b", "b", "c"])), Some(json!(["b", "c", "a"])));
        assert_eq!(run(json!([])), Some(json!(["a", "b"])));
        assert_eq!(run(json!([{"$patch": "replace"}, "c"])), Some(json!(["c"])));
        assert_eq!(run(json!([{"$patch": "delete"}])), None);
        assert_eq!(run(json!([1, true])), Some(json!([1, true, "a", "b"])));
    }

    #[test]
    fn no_schema_replaces_lists() {
        let mut t = json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f", "finalizers": ["a", "b"]},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "x": [1, 2]}});
        let p = json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f", "finalizers": ["c"]},
            "spec": {"containers": [{"name": "b", "image": "z"}]}});
        assert!(apply(&mut t, &p, Schema::builtin().root("example.com/v1", "Foo")).unwrap());
        assert_eq!(
            t,
            json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f", "finalizers": ["c"]},
            "spec": {"containers": [{"name": "b", "image": "z"}], "x": [1, 2]}})
        );
    }

    #[test]
    fn root_directives() {
        let base =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "finalizers": ["a", "b"]}});
        let ty = Schema::builtin().root("apps/v1", "Deployment");
        let mut t = base.clone();
        assert!(
            !apply(
                &mut t,
                &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "$patch": "delete"}),
                ty
            )
            .unwrap()
        );
        let mut t = base.clone();
        let replace = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "$patch": "replace", "spec": {"replicas": 2}});
        assert!(apply(&mut t, &replace, ty).unwrap());
        assert_eq!(t, base);
        let mut t = base.clone();
        apply(&mut t, &json!({"metadata": {"name": "d", "$patch": "replace", "labels": {"a": "b"}}}), ty).unwrap();
        assert_eq!(t["metadata"], json!({"name": "d", "labels": {"a": "b"}}));
        let mut t = base.clone();
        apply(&mut t, &json!({"spec": {"$patch": "delete"}}), ty).unwrap();
        assert_eq!(t, base);
    }

    #[test]
    fn errors() {
        let ty = Schema::builtin().root("apps/v1", "Deployment");
        let bad = |target: Value, patch: Value| {
            let mut t = deployment(target);
            apply(&mut t, &deployment(patch), ty).unwrap_err().to_string()
        };
        let env = json!({"name": "c", "env": [{"name": "A"}]});
        assert!(
            bad(env.clone(), json!({"name": "c", "env": [{"name": "A", "$patch": "bogus"}]}))
                .contains("unknown patch strategy 'bogus'")
        );
        assert!(
            bad(env.clone(), json!({"name": "c", "env": [{"$patch": "bogus"}]}))
                .contains("unknown patch strategy 'bogus'")
        );
        assert!(
            bad(json!({"name": "c", "resources": {}}), json!({"name": "c", "resources": {"$patch": "bogus"}}))
                .contains("unknown patch strategy")
        );
        let e = bad(env, json!({"name": "c", "env": {"name": "A"}}));
        assert!(e.contains("expected SequenceNode but got MappingNode"), "{e}");
        assert!(
            bad(json!({"name": "c", "env": {"name": "A"}}), json!({"name": "c", "env": [{"name": "A"}]}))
                .contains("expected MappingNode but got SequenceNode")
        );
        assert!(
            bad(json!({"name": "c", "image": "x"}), json!({"name": "c", "image": ["a"]}))
                .contains("expected ScalarNode but got SequenceNode")
        );
        assert!(
            bad(json!({"name": "c", "resources": {"limits": {}}}), json!({"name": "c", "resources": 5}))
                .contains("expected MappingNode but got ScalarNode")
        );
        assert!(matches!(apply(&mut json!({}), &json!([1]), None), Err(Error::NotAMap { .. })));
    }
}
