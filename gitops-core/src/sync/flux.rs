//! Flux's per-object apply policies: the `kustomize.toolkit.fluxcd.io/ssa`, `.../force` and
//! `.../prune` annotations a manifest may carry, as kustomize-controller reads them (values
//! compared without regard to case).
//!
//! `force: enabled` (annotation or label), like the Kustomization's `spec.force: true`, makes an
//! update the API server refuses because an immutable field changed (a Deployment's
//! `spec.selector`, a Job's `spec.template`) delete the object, wait until it is gone and apply
//! it again ([`recreate`]; the executor carries it out and says "recreated" and why).
//!
//! ```
//! use gitops_core::sync::flux::{self, ApplyPolicy};
//! let v = serde_json::json!({"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/ssa": "ifnotpresent"}}});
//! assert_eq!(flux::apply_policy(&v), ApplyPolicy::IfNotPresent);
//! ```

use serde_json::Value;

use super::options::Recreate;

/// The annotation choosing how an object is applied.
pub const SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// The annotation (or label) that, `enabled`, recreates an object whose update the API server
/// refuses because an immutable field changed.
pub const FORCE: &str = "kustomize.toolkit.fluxcd.io/force";
/// The annotation (or label) that keeps an object from being pruned.
pub const PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
/// The older annotation that, `disabled`, stops an object from being applied or pruned.
pub const RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";

/// How Flux applies an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyPolicy {
    /// The default: the manifest's state is enforced.
    Override,
    /// Fields other managers added are kept (server-side apply without taking them over).
    Merge,
    /// Created when missing, never updated after.
    IfNotPresent,
    /// Never applied, even though the source holds it.
    Ignore,
}

fn meta<'a>(o: &'a Value, map: &str, key: &str) -> Option<&'a str> {
    o.get("metadata").and_then(|m| m.get(map)).and_then(|m| m.get(key)).and_then(Value::as_str)
}

fn is(value: Option<&str>, word: &str) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case(word))
}

/// The object's apply policy (`Override` when unset or unknown, as Flux treats it).
pub fn apply_policy(o: &Value) -> ApplyPolicy {
    if is(meta(o, "annotations", RECONCILE), "disabled") {
        return ApplyPolicy::Ignore;
    }
    match meta(o, "annotations", SSA) {
        Some(v) if v.eq_ignore_ascii_case("merge") => ApplyPolicy::Merge,
        Some(v) if v.eq_ignore_ascii_case("ifnotpresent") => ApplyPolicy::IfNotPresent,
        Some(v) if v.eq_ignore_ascii_case("ignore") => ApplyPolicy::Ignore,
        _ => ApplyPolicy::Override,
    }
}

/// Whether the object asks to be recreated when an immutable field changes: the annotation or
/// the label `kustomize.toolkit.fluxcd.io/force: enabled` (Flux's force selector matches both).
pub fn force(o: &Value) -> bool {
    is(meta(o, "annotations", FORCE), "enabled") || is(meta(o, "labels", FORCE), "enabled")
}

/// How Flux recreates an object: on an update the API server refuses as immutable
/// ([`super::options::is_immutable_refusal`]), when the Kustomization says `spec.force: true`
/// (`spec_force`) or the desired or the live object carries [`FORCE`] (kustomize-controller
/// looks at both, so a live object marked by hand is recreated too); never otherwise, and the
/// refusal is the sync's error.
pub fn recreate(spec_force: bool, desired: &Value, live: Option<&Value>) -> Recreate {
    if spec_force || force(desired) || live.is_some_and(force) { Recreate::OnImmutable } else { Recreate::Never }
}

/// Whether pruning the object is disabled, by annotation or label (`prune: disabled`), or by
/// `reconcile: disabled`.
pub fn prune_disabled(o: &Value) -> bool {
    is(meta(o, "annotations", PRUNE), "disabled")
        || is(meta(o, "labels", PRUNE), "disabled")
        || is(meta(o, "annotations", RECONCILE), "disabled")
}

/// Annotations kustomize-controller removes before it applies: kubectl's record of a
/// client-side apply (left in place, it would make a later `kubectl apply` three-way merge
/// against a stale record) and Flux v1's checksums.
pub const CLEANUP_ANNOTATIONS: [&str; 3] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "kustomize.toolkit.fluxcd.io/checksum",
    "fluxcd.io/sync-checksum",
];

/// Labels kustomize-controller removes before it applies (Flux v1's garbage-collection mark).
pub const CLEANUP_LABELS: [&str; 1] = ["fluxcd.io/sync-gc-mark"];

/// The field managers whose fields are taken over, as `(name prefix, operation)`: kubectl's
/// applies and edits (client-side and server-side), `before-first-apply` (the server's name for
/// what existed before the first server-side apply), and the updates gitops itself made with
/// client-side apply before. kustomize-controller's own entries are taken over too: gitops
/// replaces it, and its stale entries would otherwise keep alive fields Git no longer has.
pub const TAKEN_OVER: [(&str, &str); 5] = [
    ("kubectl", "Apply"),
    ("kubectl", "Update"),
    ("before-first-apply", "Update"),
    ("kustomize-controller", "Update"),
    ("kustomize-controller", "Apply"),
];

/// Whether Flux takes over the fields other tools manage on this object before applying it:
/// always, unless the desired or the live object says `kustomize.toolkit.fluxcd.io/ssa: Merge`
/// (then what kubectl or a person added stays theirs).
pub fn takes_over(desired: &Value, live: Option<&Value>) -> bool {
    apply_policy(desired) != ApplyPolicy::Merge && live.is_none_or(|l| apply_policy(l) != ApplyPolicy::Merge)
}

fn taken_over(entry: &Value, manager: &str) -> bool {
    let field = |f: &str| entry.get(f).and_then(Value::as_str).unwrap_or("");
    // An entry for a subresource such as `status` is a controller's own business; only
    // whole-object entries are taken over.
    if !field("subresource").is_empty() {
        return false;
    }
    let (name, operation) = (field("manager"), field("operation"));
    (name == manager && operation == "Update")
        || TAKEN_OVER.iter().any(|(prefix, op)| name.starts_with(prefix) && operation == *op)
}

/// The managers of `live` whose fields [`takeover_patch`] moves to `manager`, as
/// `name (Operation)`, in the order the object lists them.
pub fn taken_over_managers(live: &Value, manager: &str) -> Vec<String> {
    let entries = live.pointer("/metadata/managedFields").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    entries
        .iter()
        .filter(|e| taken_over(e, manager))
        .map(|e| {
            let field = |f: &str| e.get(f).and_then(Value::as_str).unwrap_or("").to_string();
            format!("{} ({})", field("manager"), field("operation"))
        })
        .collect()
}

/// The JSON patch (RFC 6902) that makes `live` ready for Flux's server-side apply as `manager`,
/// or `None` when nothing needs to change: the [`CLEANUP_ANNOTATIONS`] and [`CLEANUP_LABELS`]
/// removed, and the fields of every [`TAKEN_OVER`] manager (and of `manager`'s own updates)
/// moved into `manager`'s apply entry, so that the apply that follows removes the fields the
/// manifest no longer has, as kustomize-controller's cleanup does. The first taken-over entry
/// is renamed when `manager` has no apply entry yet; the others are merged into it.
pub fn takeover_patch(live: &Value, manager: &str) -> Option<Value> {
    let mut ops = Vec::new();
    for (map, keys) in [("annotations", &CLEANUP_ANNOTATIONS[..]), ("labels", &CLEANUP_LABELS[..])] {
        for key in keys {
            let path = format!("/metadata/{map}/{}", pointer_token(key));
            if live.pointer(&path).is_some() {
                ops.push(serde_json::json!({"op": "remove", "path": path}));
            }
        }
    }
    if let Some(entries) = live.pointer("/metadata/managedFields").and_then(Value::as_array)
        && let Some(merged) = merged_entries(entries, manager)
    {
        ops.push(serde_json::json!({"op": "replace", "path": "/metadata/managedFields", "value": merged}));
    }
    (!ops.is_empty()).then_some(Value::Array(ops))
}

fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn merged_entries(entries: &[Value], manager: &str) -> Option<Vec<Value>> {
    let ours = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
            && e.get("subresource").and_then(Value::as_str).unwrap_or("").is_empty()
    };
    let mut target: Option<Value> = entries.iter().find(|e| ours(e)).cloned();
    let mut kept = Vec::with_capacity(entries.len());
    let mut edited = false;
    for e in entries {
        if ours(e) {
            continue;
        }
        if !taken_over(e, manager) {
            kept.push(e.clone());
            continue;
        }
        edited = true;
        match &mut target {
            None => {
                let mut renamed = e.clone();
                if let Value::Object(m) = &mut renamed {
                    m.insert("manager".into(), manager.into());
                    m.insert("operation".into(), "Apply".into());
                }
                target = Some(renamed);
            }
            Some(t) => {
                let fields = e.get("fieldsV1").cloned().unwrap_or(Value::Null);
                match t.get_mut("fieldsV1") {
                    Some(into) => union_fields(into, fields),
                    None if !fields.is_null() => {
                        if let Value::Object(m) = t {
                            m.insert("fieldsV1".into(), fields);
                        }
                    }
                    None => {}
                }
            }
        }
    }
    if !edited {
        return None;
    }
    kept.extend(target);
    Some(kept)
}

/// The union of two `fieldsV1` sets: both are tries of JSON objects (`f:name`, `k:{..}`,
/// `v:..`, `i:..` and `.` keys), so the union is a deep merge of their maps.
fn union_fields(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => union_fields(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (into @ Value::Null, from) => *into = from,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn force_is_read_from_the_spec_the_annotation_or_the_label_of_either_side() {
        let plain = json!({"metadata": {"name": "web"}});
        let annotated = json!({"metadata": {"annotations": {FORCE: "Enabled"}}});
        let labelled = json!({"metadata": {"labels": {FORCE: "enabled"}}});
        let disabled = json!({"metadata": {"annotations": {FORCE: "disabled"}}});
        assert_eq!(recreate(false, &plain, None), Recreate::Never);
        assert_eq!(recreate(false, &plain, Some(&plain)), Recreate::Never);
        assert_eq!(recreate(false, &disabled, None), Recreate::Never);
        assert_eq!(recreate(true, &plain, None), Recreate::OnImmutable);
        assert_eq!(recreate(false, &annotated, None), Recreate::OnImmutable);
        assert_eq!(recreate(false, &labelled, None), Recreate::OnImmutable);
        assert_eq!(recreate(false, &plain, Some(&labelled)), Recreate::OnImmutable);
    }

    fn entry(manager: &str, operation: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    #[test]
    fn a_kubectl_applied_object_loses_the_record_and_its_fields_become_ours() {
        let status = json!({"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
            "fieldsV1": {"f:status": {"f:replicas": {}}}});
        let live = json!({"metadata": {
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "a"},
        "labels": {"fluxcd.io/sync-gc-mark": "x"},
        "managedFields": [
            entry("kubectl-client-side-apply", "Update", json!({"f:spec": {"f:replicas": {}, "f:paused": {}}})),
            status.clone(),
        ]}});
        let patch = takeover_patch(&live, "gitops").unwrap();
        let mut renamed = entry("gitops", "Apply", json!({"f:spec": {"f:replicas": {}, "f:paused": {}}}));
        renamed["apiVersion"] = json!("apps/v1");
        assert_eq!(
            patch,
            json!([
                {"op": "remove", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"},
                {"op": "remove", "path": "/metadata/labels/fluxcd.io~1sync-gc-mark"},
                {"op": "replace", "path": "/metadata/managedFields", "value": [status, renamed]},
            ])
        );
        assert_eq!(taken_over_managers(&live, "gitops"), ["kubectl-client-side-apply (Update)"]);
        // The patch applies: the record is gone, the other annotation stays.
        let mut patched = live.clone();
        json_patch::patch(&mut patched, &serde_json::from_value::<json_patch::Patch>(patch).unwrap()).unwrap();
        assert_eq!(patched["metadata"]["annotations"], json!({"team": "a"}));
        assert_eq!(takeover_patch(&patched, "gitops"), None, "a second cleanup has nothing to do");
    }

    #[test]
    fn several_entries_merge_into_our_apply_entry_as_a_union_of_fields() {
        let live = json!({"metadata": {"managedFields": [
            entry("before-first-apply", "Update", json!({"f:spec": {"f:template": {"f:spec": {"f:a": {}}}}})),
            entry("gitops", "Apply", json!({"f:spec": {"f:replicas": {}}})),
            entry("kubectl", "Apply", json!({"f:spec": {"f:template": {"f:spec": {"f:b": {}}}}})),
            entry("gitops", "Update", json!({"f:metadata": {"f:labels": {}}})),
            entry("helm", "Update", json!({"f:data": {}})),
            entry("kubectl-edit", "Update", json!({"f:spec": {"f:replicas": {}, "f:paused": {}}})),
        ]}});
        let patch = takeover_patch(&live, "gitops").unwrap();
        let entries = patch[0]["value"].as_array().unwrap();
        let managers: Vec<_> = entries.iter().map(|e| e["manager"].as_str().unwrap()).collect();
        assert_eq!(managers, ["helm", "gitops"], "unrelated managers keep their fields; ours comes last");
        assert_eq!(
            entries[1]["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}, "f:paused": {}, "f:template": {"f:spec": {"f:a": {}, "f:b": {}}}},
                   "f:metadata": {"f:labels": {}}})
        );
        assert_eq!(entries[1]["operation"], "Apply");
    }

    #[test]
    fn nothing_to_take_over_is_no_patch_and_merge_on_either_side_keeps_others_fields() {
        let clean = json!({"metadata": {"annotations": {"a": "b"}, "managedFields": [
            entry("gitops", "Apply", json!({"f:spec": {}})),
            entry("kubectl", "Update", json!({"f:status": {}})).as_object().cloned().map(|mut m| {
                m.insert("subresource".into(), json!("status"));
                Value::Object(m)
            }).unwrap(),
        ]}});
        assert_eq!(takeover_patch(&clean, "gitops"), None);
        assert!(taken_over_managers(&clean, "gitops").is_empty());
        let merge = json!({"metadata": {"annotations": {SSA: "merge"}}});
        let plain = json!({"metadata": {"name": "x"}});
        assert!(takes_over(&plain, None) && takes_over(&plain, Some(&plain)));
        assert!(!takes_over(&merge, Some(&plain)));
        assert!(!takes_over(&plain, Some(&merge)));
    }
}
