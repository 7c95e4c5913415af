//! kustomize's shared label and annotation values, reproduced.
//!
//! When kustomize's label or annotation transformer writes one key into several fields of an
//! object (metadata, selectors, pod templates), every new field receives the same YAML node.
//! Later writes to one of them that update the node in place (another labels pass over an
//! existing key, a strategic-merge patch, a replacement) therefore change all of them, while
//! a JSON 6902 patch, which round-trips the object through JSON, breaks the sharing. This is
//! surprising, but it is what `kubectl kustomize` prints (fixtures 170 to 174), and an
//! engine that renders differently would deploy something else than Argo CD does.
//!
//! A resource keeps each set of fields that share a node as a group of JSON pointers; a
//! step that may update in place is wrapped in [`snapshot`] and [`propagate`].

use serde_json::Value;

use super::resource::Resource;

/// The values of every linked field before a step.
pub(crate) struct Snapshot(Vec<Vec<Option<Value>>>);

/// Records the linked fields' values of `r`.
pub(crate) fn snapshot(r: &Resource) -> Snapshot {
    Snapshot(r.links.iter().map(|group| group.iter().map(|p| r.obj.pointer(p).cloned()).collect()).collect())
}

/// After a step: where one field of a group changed, the shared node changed, so every field
/// of the group that still exists takes the new value.
pub(crate) fn propagate(r: &mut Resource, before: &Snapshot) {
    for (group, old) in r.links.iter().zip(&before.0) {
        let changed = group
            .iter()
            .zip(old)
            .filter_map(|(p, was)| r.obj.pointer(p).filter(|now| Some(*now) != was.as_ref()).cloned())
            .next_back();
        let Some(value) = changed else { continue };
        for p in group {
            if let Some(slot) = r.obj.pointer_mut(p) {
                *slot = value.clone();
            }
        }
    }
}

/// A placeholder written where a pass creates a new field, so the fields that get the same
/// new node can be found afterwards. It cannot come from YAML input (a NUL character).
pub(crate) fn placeholder(n: usize) -> String {
    format!("\u{0}gitops-shared-node-{n}")
}

/// Replaces every `placeholder` in `r` with `value` and records the fields as one group.
pub(crate) fn settle(r: &mut Resource, placeholder: &str, value: &Value) {
    let mut found = Vec::new();
    find(&r.obj, placeholder, &mut String::new(), &mut found);
    for p in &found {
        if let Some(slot) = r.obj.pointer_mut(p) {
            *slot = value.clone();
        }
    }
    if found.len() > 1 {
        r.links.push(found);
    }
}

fn find(v: &Value, placeholder: &str, at: &mut String, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s == placeholder => out.push(at.clone()),
        Value::Object(map) => {
            for (k, child) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                find(child, placeholder, at, out);
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                find(child, placeholder, at, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}
