//! Predicting the live object after an apply: strategic merge for built-in kinds, JSON merge
//! for custom resources, three-way when the previous configuration is known.
//!
//! `predict(live, orig, desired)` changes `live` in place into what the API server would
//! hold after `kubectl apply` of `desired`, where `orig` is the configuration applied last
//! time (the `last-applied-configuration` annotation) or `None` for a two-way merge:
//! - maps merge key by key; a `null` in the desired state deletes the field;
//! - a field present in `orig` and absent from `desired` is deleted (three-way removal);
//!   without `orig`, a field only live has is kept, so it never shows as a difference;
//! - lists with a strategic merge key (containers by `name`, ports by `containerPort` and
//!   `protocol`, ...) merge element by element, matched by key, keeping live's order so a
//!   reordered manifest is not a change; lists of scalars with `merge` strategy merge as
//!   sets; all other lists, and every list of a custom resource, are replaced whole;
//! - `retainKeys` fields (Deployment `strategy`, volume sources) drop the keys the desired
//!   state does not name when they change; `replace` fields are replaced whole;
//! - in built-in kinds a zero or empty desired value (`false`, `0`, `""`, `[]`, `{}`) for a
//!   field live does not have is not a change: the server omits such values (`omitempty`).

use serde_json::{Map, Value};

use crate::schema::{Field, ListStrategy, Shape, schema};

static LEAF: Shape = Shape::Leaf;

/// Merges `desired` (and the removals since `orig`) into `live`, returning whether `live`
/// changed. `shape` is the built-in type of the object (`None` for custom resources, which
/// get JSON-merge semantics).
pub fn predict(live: &mut Value, orig: Option<&Value>, desired: &Value, shape: Option<&Shape>) -> bool {
    let typed = shape.is_some();
    merge_value(live, orig, desired, shape.unwrap_or(&LEAF), None, Ctx { typed, apply: true })
}

/// Whether [`predict`] would change `live`, without changing it (and without allocating
/// in the common case where nothing would): the fast path for objects in sync.
pub fn would_change(live: &mut Value, orig: Option<&Value>, desired: &Value, shape: Option<&Shape>) -> bool {
    let typed = shape.is_some();
    merge_value(live, orig, desired, shape.unwrap_or(&LEAF), None, Ctx { typed, apply: false })
}

/// How a merge runs: on a built-in kind or not, and for real or as a dry run that only
/// reports whether it would change anything (returning at the first change).
#[derive(Clone, Copy)]
struct Ctx {
    typed: bool,
    apply: bool,
}

fn merge_value(
    live: &mut Value,
    orig: Option<&Value>,
    desired: &Value,
    shape: &Shape,
    field: Option<&Field>,
    cx: Ctx,
) -> bool {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            if field.is_some_and(|f| f.replace) {
                let replaced = clean_map(d);
                if *l == replaced {
                    return false;
                }
                if cx.apply {
                    *l = replaced;
                }
                return true;
            }
            let retain = field.is_some_and(|f| f.retain_keys);
            merge_map_retaining(l, orig.and_then(Value::as_object), d, shape, cx, retain)
        }
        (Value::Array(l), Value::Array(d)) => {
            let (strategy, elem) = match (field, shape) {
                (Some(f), Shape::List(inner)) => (&f.list, &**inner),
                (None, Shape::List(inner)) => (&ListStrategy::Atomic, &**inner),
                _ => (&ListStrategy::Atomic, &LEAF),
            };
            merge_list(l, orig.and_then(Value::as_array), d, strategy, elem, cx)
        }
        (l, d) => {
            if *l == *d {
                return false;
            }
            if cx.apply {
                *l = clean(d);
            }
            true
        }
    }
}

/// Merges maps; with `retain`, keys the desired map does not name are dropped, but only
/// when the merge changes the map, as `kubectl apply` sends `$retainKeys` only then.
fn merge_map_retaining(
    l: &mut Map<String, Value>,
    o: Option<&Map<String, Value>>,
    d: &Map<String, Value>,
    shape: &Shape,
    cx: Ctx,
    retain: bool,
) -> bool {
    let changed = merge_map(l, o, d, shape, cx);
    if changed && retain && cx.apply {
        l.retain(|k, _| d.contains_key(k));
    }
    changed
}

fn merge_map(
    l: &mut Map<String, Value>,
    o: Option<&Map<String, Value>>,
    d: &Map<String, Value>,
    shape: &Shape,
    cx: Ctx,
) -> bool {
    let def = match shape {
        Shape::Def(id) => Some(schema().def(*id)),
        _ => None,
    };
    let mut changed = false;
    for (k, dv) in d {
        if dv.is_null() {
            // `null` asks for the field to be gone; a live `null` already is.
            if l.get(k).is_some_and(|lv| !lv.is_null()) {
                if !cx.apply {
                    return true;
                }
                l.remove(k);
                changed = true;
            }
            continue;
        }
        let field = def.and_then(|def| def.field(k));
        let child_shape = match (shape, field) {
            (Shape::Map(inner), _) => &**inner,
            (_, Some(f)) => &f.shape,
            _ => &LEAF,
        };
        match l.get_mut(k) {
            Some(lv) => {
                if merge_value(lv, o.and_then(|o| o.get(k)), dv, child_shape, field, cx) {
                    if !cx.apply {
                        return true;
                    }
                    changed = true;
                }
            }
            None => {
                if !(cx.typed && is_zero(dv)) {
                    if !cx.apply {
                        return true;
                    }
                    l.insert(k.clone(), clean(dv));
                    changed = true;
                }
            }
        }
    }
    if let Some(o) = o {
        for k in o.keys() {
            if !d.contains_key(k) && l.contains_key(k) {
                if !cx.apply {
                    return true;
                }
                l.remove(k);
                changed = true;
            }
        }
    }
    changed
}

fn merge_list(
    l: &mut Vec<Value>,
    o: Option<&Vec<Value>>,
    d: &[Value],
    strategy: &ListStrategy,
    elem: &Shape,
    cx: Ctx,
) -> bool {
    match strategy {
        ListStrategy::Atomic => {
            if l.as_slice() == d {
                return false;
            }
            if cx.apply {
                *l = d.iter().map(clean).collect();
            }
            true
        }
        ListStrategy::Set => {
            let removes = |x: &Value| o.is_some_and(|o| o.contains(x)) && !d.contains(x);
            let adds = d.iter().filter(|x| !x.is_null() && !l.contains(x)).count();
            let removed = l.iter().any(removes);
            if !cx.apply || (adds == 0 && !removed) {
                return adds > 0 || removed;
            }
            l.retain(|x| !removes(x));
            for x in d {
                if !x.is_null() && !l.contains(x) {
                    l.push(x.clone());
                }
            }
            true
        }
        ListStrategy::Keyed { keys, retain_keys } => {
            let mut changed = false;
            if let Some(o) = o {
                for oe in o {
                    if has_key(oe, keys)
                        && !d.iter().any(|de| same_key(oe, de, keys))
                        && l.iter().any(|le| same_key(le, oe, keys))
                    {
                        if !cx.apply {
                            return true;
                        }
                        l.retain(|le| !same_key(le, oe, keys));
                        changed = true;
                    }
                }
            }
            // The n-th desired element with a key pairs with the n-th live element with that
            // key, so even (invalid) repeated keys compare element for element.
            let mut used = vec![false; l.len()];
            for de in d {
                if de.is_null() {
                    continue;
                }
                let matched = if has_key(de, keys) {
                    (0..l.len()).find(|&i| !used[i] && same_key(&l[i], de, keys))
                } else {
                    // An element without its key (invalid, but possible) pairs only with an
                    // identical live element.
                    (0..l.len()).find(|&i| !used[i] && l[i] == *de)
                };
                match matched {
                    Some(i) => {
                        used[i] = true;
                        let oe = o.and_then(|o| o.iter().find(|oe| same_key(oe, de, keys)));
                        let element_changed = match (&mut l[i], de) {
                            (Value::Object(lm), Value::Object(dm)) => {
                                merge_map_retaining(lm, oe.and_then(Value::as_object), dm, elem, cx, *retain_keys)
                            }
                            (le, de) => merge_value(le, oe, de, elem, None, cx),
                        };
                        if element_changed {
                            if !cx.apply {
                                return true;
                            }
                            changed = true;
                        }
                    }
                    None => {
                        if !cx.apply {
                            return true;
                        }
                        l.push(clean(de));
                        used.push(true);
                        changed = true;
                    }
                }
            }
            changed
        }
    }
}

fn has_key(v: &Value, keys: &[String]) -> bool {
    v.as_object().is_some_and(|m| keys.iter().any(|k| m.get(k).is_some_and(|x| !x.is_null())))
}

/// Whether two list elements have the same merge key. A missing `protocol` counts as `TCP`,
/// its API-server default, so a manifest port matches the live port the server defaulted.
fn same_key(a: &Value, b: &Value, keys: &[String]) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return false };
    keys.iter().all(|k| {
        let av = a.get(k).filter(|v| !v.is_null());
        let bv = b.get(k).filter(|v| !v.is_null());
        if k == "protocol" {
            let tcp = Value::String("TCP".into());
            av.unwrap_or(&tcp) == bv.unwrap_or(&tcp)
        } else {
            av == bv
        }
    })
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        // A map holding only zero values is what the server stores as nothing at all.
        Value::Object(m) => m.values().all(is_zero),
    }
}

/// A copy without `null` map values: the server never stores them.
pub fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(clean_map(m)),
        Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
        other => other.clone(),
    }
}

fn clean_map(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), clean(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment_shape() -> Shape {
        Shape::Def(schema().kind("apps/v1", "Deployment").unwrap())
    }

    #[test]
    fn keyed_lists_merge_by_key_and_keep_live_order() {
        let mut live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "b", "image": "b:1", "imagePullPolicy": "IfNotPresent"},
            {"name": "a", "image": "a:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}});
        let before = live.clone();
        let desired = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "b:1"}]}}}});
        predict(&mut live, None, &desired, Some(&deployment_shape()));
        assert_eq!(live, before);
        let desired = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:2"}, {"name": "c", "image": "c"}]}}}});
        predict(&mut live, None, &desired, Some(&deployment_shape()));
        let names: Vec<&str> = live["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(live["spec"]["template"]["spec"]["containers"][1]["image"], "a:2");
    }

    #[test]
    fn three_way_removes_what_orig_had() {
        let mut live = json!({"metadata": {"labels": {"a": "1", "b": "2", "server": "x"}}, "spec": {"replicas": 3}});
        let orig = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 3}});
        let desired = json!({"metadata": {"labels": {"a": "1"}}, "spec": {}});
        predict(&mut live, Some(&orig), &desired, Some(&deployment_shape()));
        assert_eq!(live, json!({"metadata": {"labels": {"a": "1", "server": "x"}}, "spec": {}}));
    }

    #[test]
    fn custom_resources_replace_lists_and_keep_zero_values() {
        let mut live = json!({"spec": {"items": [{"n": "a", "x": 1}], "flag": true}});
        predict(&mut live, None, &json!({"spec": {"items": [{"n": "a"}], "other": false}}), None);
        assert_eq!(live, json!({"spec": {"items": [{"n": "a"}], "flag": true, "other": false}}));
    }

    #[test]
    fn zero_values_match_absent_in_built_in_kinds() {
        let mut live = json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        let before = live.clone();
        predict(
            &mut live,
            None,
            &json!({"spec": {"paused": false, "template": {"metadata": {"labels": {}}, "spec": {"containers": [{"name": "a", "args": []}]}}}}),
            Some(&deployment_shape()),
        );
        assert_eq!(live, before);
    }

    #[test]
    fn retain_keys_only_when_changed() {
        let mut live = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let before = live.clone();
        predict(&mut live, None, &json!({"spec": {"strategy": {"type": "RollingUpdate"}}}), Some(&deployment_shape()));
        assert_eq!(live, before);
        predict(&mut live, None, &json!({"spec": {"strategy": {"type": "Recreate"}}}), Some(&deployment_shape()));
        assert_eq!(live, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    }

    #[test]
    fn set_lists_merge_as_sets() {
        let shape = Shape::Def(schema().def_by_name("apimachinery.pkg.apis.meta.v1.ObjectMeta").unwrap());
        let mut live = json!({"finalizers": ["a", "server"]});
        predict(&mut live, Some(&json!({"finalizers": ["a", "b"]})), &json!({"finalizers": ["c"]}), Some(&shape));
        assert_eq!(live, json!({"finalizers": ["server", "c"]}));
    }
}
