//! Client-side apply, as `kubectl apply` does it without `--server-side`.
//!
//! The object is written with the annotation `kubectl.kubernetes.io/last-applied-configuration`
//! holding what was applied. The next apply sends a JSON merge patch (RFC 7386) computed three
//! ways: the desired values where live differs, and a deletion for every field the last apply
//! set that the desired object no longer has. Fields set by others (controllers, defaults) are
//! left alone. kubectl sends strategic merge patches to built-in kinds, which merge lists by key;
//! a merge patch replaces a changed list whole, which converges to the same desired list.

use serde_json::{Map, Value};

/// The annotation that records the last client-side apply.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `desired` with the last-applied annotation set to `desired` itself (without the annotation
/// and without server-set fields), as kubectl writes it.
pub fn with_last_applied(desired: &Value) -> Value {
    let mut recorded = desired.clone();
    if let Some(meta) = recorded.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
        for f in ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"] {
            meta.remove(f);
        }
    }
    let text = serde_json::to_string(&recorded).unwrap_or_default();
    let mut out = desired.clone();
    if let Some(meta) = out.as_object_mut().map(|o| o.entry("metadata").or_insert_with(|| Value::Object(Map::new())))
        && let Value::Object(meta) = meta
    {
        let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        if !annotations.is_object() {
            *annotations = Value::Object(Map::new());
        }
        if let Value::Object(a) = annotations {
            a.insert(LAST_APPLIED.into(), Value::String(text));
        }
    }
    out
}

/// The configuration the last client-side apply recorded on `live`, if readable.
pub fn last_applied(live: &Value) -> Option<Value> {
    let text = live.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
    serde_json::from_str(text).ok()
}

/// The merge patch that takes `live` to `desired`: desired values where they differ, `null`
/// for fields in `last` (the previous apply) that `desired` dropped and `live` still has.
pub fn merge_patch(last: Option<&Value>, desired: &Value, live: &Value) -> Value {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => Value::Object(patch_maps(last.and_then(Value::as_object), d, l)),
        _ => desired.clone(),
    }
}

fn patch_maps(
    last: Option<&Map<String, Value>>,
    desired: &Map<String, Value>,
    live: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, d) in desired {
        match (d, live.get(k)) {
            (Value::Object(dm), Some(Value::Object(lm))) => {
                let sub = patch_maps(last.and_then(|m| m.get(k)).and_then(Value::as_object), dm, lm);
                if !sub.is_empty() {
                    out.insert(k.clone(), Value::Object(sub));
                }
            }
            (_, Some(l)) if l == d => {}
            _ => {
                out.insert(k.clone(), d.clone());
            }
        }
    }
    for k in last.into_iter().flat_map(|m| m.keys()) {
        if !desired.contains_key(k) && live.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_annotation_records_the_object_without_itself() {
        let d = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
        let out = with_last_applied(&d);
        let recorded = last_applied(&out).unwrap();
        assert_eq!(recorded, d);
        // Applying twice records the same thing: the annotation never nests.
        assert_eq!(last_applied(&with_last_applied(&out)).unwrap(), d);
    }

    #[test]
    fn the_patch_sets_changes_and_deletes_only_what_the_last_apply_set() {
        let last =
            json!({"metadata": {"name": "a", "labels": {"old": "x", "keep": "y"}}, "data": {"gone": "1", "k": "v"}});
        let desired = json!({"metadata": {"name": "a", "labels": {"keep": "y"}}, "data": {"k": "w"}});
        let live = json!({
            "metadata": {"name": "a", "uid": "u", "labels": {"old": "x", "keep": "y", "added-by-someone": "z"}},
            "data": {"gone": "1", "k": "v", "theirs": "t"}
        });
        let patch = merge_patch(Some(&last), &desired, &live);
        assert_eq!(patch, json!({"metadata": {"labels": {"old": null}}, "data": {"k": "w", "gone": null}}));
    }

    #[test]
    fn nothing_to_patch_when_live_already_matches() {
        let desired = json!({"metadata": {"name": "a"}, "spec": {"replicas": 2, "list": [1, 2]}});
        let live =
            json!({"metadata": {"name": "a", "uid": "u"}, "spec": {"replicas": 2, "list": [1, 2]}, "status": {}});
        assert_eq!(merge_patch(Some(&desired), &desired, &live), json!({}));
    }
}
