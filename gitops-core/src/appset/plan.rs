//! What the ApplicationSet controller writes: the generated Applications against the ones
//! that exist, under the AppSet's `applicationsSync` policy.
//!
//! An existing Application belongs to an ApplicationSet when its controller owner reference
//! (`ownerReferences[]` with `controller: true`) is `argoproj.io/v1alpha1` `ApplicationSet`
//! of that name: Argo CD finds its apps through that index (`.metadata.controller`).
//!
//! - create: a generated app with no existing app of its name;
//! - update (`create-update`, `sync`): an owned app whose `spec`, labels, annotations or
//!   finalizers differ from the generated one, or that a RollingSync set asks to sync (an
//!   `operation`); the write keeps the existing object and replaces those (the annotations `notified.notifications.argoproj.io` and
//!   `argocd.argoproj.io/refresh` are kept);
//! - delete (`create-delete`, `sync`): an owned app whose name was not generated. Whether the
//!   deletion cascades is the app's own finalizer's business: `preserveResourcesOnDeletion`
//!   acts only when rendering (it stops the resources finalizer being added);
//! - an existing app of a generated name owned by another controller is a conflict, never
//!   written.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::Object;

/// Annotations the controller keeps on an app it updates.
pub const PRESERVED_ANNOTATIONS: [&str; 2] = ["notified.notifications.argoproj.io", "argocd.argoproj.io/refresh"];

/// Why a sync policy does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `spec.syncPolicy.applicationsSync` is not one of the four policies.
    #[error(
        "ApplicationSet {appset}: spec.syncPolicy.applicationsSync {value:?} is not one of create-only, create-update, create-delete, sync"
    )]
    Policy {
        /// The ApplicationSet.
        appset: String,
        /// The value.
        value: String,
    },
}

/// `spec.syncPolicy.applicationsSync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Only create apps.
    CreateOnly,
    /// Create and update, never delete.
    CreateUpdate,
    /// Create and delete, never update.
    CreateDelete,
    /// Create, update and delete (the default).
    #[default]
    Sync,
}

impl SyncPolicy {
    /// The policy of an ApplicationSet (absent: [`SyncPolicy::Sync`]).
    pub fn of(appset: &Object) -> Result<SyncPolicy, PlanError> {
        match appset.value().pointer("/spec/syncPolicy/applicationsSync") {
            None | Some(Value::Null) => Ok(SyncPolicy::Sync),
            Some(Value::String(s)) => SyncPolicy::parse(s)
                .ok_or_else(|| PlanError::Policy { appset: appset.name().to_string(), value: s.clone() }),
            Some(other) => Err(PlanError::Policy { appset: appset.name().to_string(), value: other.to_string() }),
        }
    }

    /// Reads `create-only`, `create-update`, `create-delete` or `sync`.
    pub fn parse(text: &str) -> Option<SyncPolicy> {
        Some(match text {
            "create-only" => SyncPolicy::CreateOnly,
            "create-update" => SyncPolicy::CreateUpdate,
            "create-delete" => SyncPolicy::CreateDelete,
            "sync" => SyncPolicy::Sync,
            _ => return None,
        })
    }

    /// Whether existing apps are updated.
    pub fn updates(self) -> bool {
        matches!(self, SyncPolicy::CreateUpdate | SyncPolicy::Sync)
    }

    /// Whether apps no longer generated are deleted.
    pub fn deletes(self) -> bool {
        matches!(self, SyncPolicy::CreateDelete | SyncPolicy::Sync)
    }
}

/// What to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Apps to create, as generated.
    pub create: Vec<Object>,
    /// Apps to update: the existing object with the generated spec, labels, annotations and
    /// finalizers.
    pub update: Vec<Object>,
    /// Existing apps to delete.
    pub delete: Vec<Object>,
    /// Names of generated apps left alone because an app of that name is owned by another
    /// controller (or by none, under a policy that does not update).
    pub conflicts: Vec<String>,
}

/// Whether `app` is controlled by the ApplicationSet `owner`.
pub fn is_owned_by(app: &Object, owner: &str) -> bool {
    controller_of(app).is_some_and(|(kind, name)| kind == "ApplicationSet" && name == owner)
}

/// The controller owner reference of an object (`argoproj.io/v1alpha1` kind and name).
fn controller_of(app: &Object) -> Option<(&str, &str)> {
    let refs = app.value().pointer("/metadata/ownerReferences")?.as_array()?;
    refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)).and_then(|r| {
        let api = r.get("apiVersion").and_then(Value::as_str)?;
        if api != "argoproj.io/v1alpha1" {
            return Some(("", ""));
        }
        Some((r.get("kind").and_then(Value::as_str)?, r.get("name").and_then(Value::as_str)?))
    })
}

/// Plans the writes of ApplicationSet `owner`: `desired` are its valid generated apps,
/// `existing` the Applications in its namespace (any owner), see the module documentation.
pub fn plan(owner: &str, desired: &[Object], existing: &[Object], policy: SyncPolicy) -> Plan {
    let keep: BTreeSet<String> = desired.iter().map(|a| a.name().to_string()).collect();
    plan_keeping(owner, desired, existing, policy, &keep)
}

/// [`plan`], deleting only owned apps whose name is not in `generated` (every generated
/// name, valid or not: Argo CD computes deletions from the full generated list).
pub fn plan_keeping(
    owner: &str,
    desired: &[Object],
    existing: &[Object],
    policy: SyncPolicy,
    generated: &BTreeSet<String>,
) -> Plan {
    let by_name: BTreeMap<&str, &Object> = existing.iter().map(|a| (a.name(), a)).collect();
    let mut out = Plan::default();
    for app in desired {
        match by_name.get(app.name()) {
            None => out.create.push(app.clone()),
            Some(current) if is_owned_by(current, owner) => {
                if policy.updates()
                    && let Some(updated) = updated(current, app)
                {
                    out.update.push(updated);
                }
            }
            Some(current) if controller_of(current).is_none() && policy.updates() => {
                // Argo CD's CreateOrUpdate adopts an app no controller owns.
                let mut adopted = updated(current, app).unwrap_or_else(|| (*current).clone());
                set_owner_refs(&mut adopted, app);
                out.update.push(adopted);
            }
            Some(_) => out.conflicts.push(app.name().to_string()),
        }
    }
    if policy.deletes() {
        for app in existing {
            if is_owned_by(app, owner) && !generated.contains(app.name()) {
                out.delete.push(app.clone());
            }
        }
    }
    out
}

fn set_owner_refs(target: &mut Object, from: &Object) {
    if let Some(refs) = from.value().pointer("/metadata/ownerReferences")
        && let Some(m) = target.value_mut().get_mut("metadata").and_then(Value::as_object_mut)
    {
        m.insert("ownerReferences".into(), refs.clone());
    }
}

/// The existing app with the generated spec, labels, annotations and finalizers, or `None`
/// when nothing would change.
fn updated(current: &Object, generated: &Object) -> Option<Object> {
    let mut out = current.clone();
    let gen_meta = generated.metadata().cloned().unwrap_or_default();
    let v = out.value_mut();
    let obj = v.as_object_mut()?;
    obj.insert("spec".into(), generated.value().get("spec").cloned().unwrap_or(Value::Object(Map::new())));
    // A sync asked for by a RollingSync set (an operation already there is left to its controller).
    if let Some(op) = generated.value().get("operation").filter(|o| !o.is_null()) {
        obj.insert("operation".into(), op.clone());
    }
    let meta = obj.entry("metadata").or_insert_with(|| Value::Object(Map::new())).as_object_mut()?;
    let kept: Vec<(String, Value)> = meta
        .get("annotations")
        .and_then(Value::as_object)
        .map(|a| PRESERVED_ANNOTATIONS.iter().filter_map(|k| a.get(*k).map(|v| (k.to_string(), v.clone()))).collect())
        .unwrap_or_default();
    for key in ["labels", "annotations", "finalizers"] {
        match gen_meta.get(key) {
            Some(v) => meta.insert(key.into(), v.clone()),
            None => meta.remove(key),
        };
    }
    if !kept.is_empty() {
        let ann = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = ann.as_object_mut() {
            for (k, v) in kept {
                a.insert(k, v);
            }
        }
    }
    (out.value() != current.value()).then_some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::object::Origin;

    fn app(name: &str, owner: Option<&str>, path: &str) -> Object {
        let mut meta = json!({"name": name, "namespace": "argocd"});
        if let Some(o) = owner {
            meta["ownerReferences"] = json!([{
                "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": o,
                "controller": true, "blockOwnerDeletion": true,
            }]);
        }
        Object::new(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta,
                "spec": {"source": {"path": path}}}),
            Origin::inline("test"),
        )
    }

    fn names(objects: &[Object]) -> Vec<&str> {
        objects.iter().map(Object::name).collect()
    }

    #[test]
    fn policies_read_and_gate_writes() {
        assert_eq!(SyncPolicy::parse("create-only"), Some(SyncPolicy::CreateOnly));
        assert_eq!(SyncPolicy::parse("nope"), None);
        let set = Object::new(
            json!({"kind": "ApplicationSet", "metadata": {"name": "s"}, "spec": {"syncPolicy": {"applicationsSync": "bad"}}}),
            Origin::inline("t"),
        );
        assert!(SyncPolicy::of(&set).unwrap_err().to_string().contains("\"bad\""));

        let desired = [app("a", Some("set"), "new"), app("b", Some("set"), "b")];
        let existing = [app("a", Some("set"), "old"), app("gone", Some("set"), "x"), app("other", Some("else"), "y")];
        let p = plan("set", &desired, &existing, SyncPolicy::Sync);
        assert_eq!((names(&p.create), names(&p.update), names(&p.delete)), (vec!["b"], vec!["a"], vec!["gone"]));
        assert_eq!(p.update[0].value()["spec"]["source"]["path"], "new");
        let p = plan("set", &desired, &existing, SyncPolicy::CreateOnly);
        assert_eq!((names(&p.create), names(&p.update), names(&p.delete)), (vec!["b"], vec![], vec![]));
        let p = plan("set", &desired, &existing, SyncPolicy::CreateUpdate);
        assert_eq!((names(&p.update), names(&p.delete)), (vec!["a"], vec![]));
        let p = plan("set", &desired, &existing, SyncPolicy::CreateDelete);
        assert_eq!((names(&p.update), names(&p.delete)), (vec![], vec!["gone"]));
    }

    #[test]
    fn unchanged_apps_are_not_updated_and_foreign_ones_conflict() {
        let desired = [app("a", Some("set"), "p"), app("b", Some("set"), "p")];
        let existing = [app("a", Some("set"), "p"), app("b", Some("other-set"), "p")];
        let p = plan("set", &desired, &existing, SyncPolicy::Sync);
        assert!(p.update.is_empty() && p.create.is_empty() && p.delete.is_empty());
        assert_eq!(p.conflicts, ["b"]);
    }

    #[test]
    fn unowned_apps_are_adopted_and_preserved_annotations_kept() {
        let desired = [app("a", Some("set"), "p")];
        let mut loose = app("a", None, "p");
        loose.value_mut()["metadata"]["annotations"] = json!({"argocd.argoproj.io/refresh": "hard", "other": "x"});
        let p = plan("set", &desired, &[loose], SyncPolicy::Sync);
        assert_eq!(names(&p.update), ["a"]);
        let meta = &p.update[0].value()["metadata"];
        assert_eq!(meta["annotations"], json!({"argocd.argoproj.io/refresh": "hard"}));
        assert!(is_owned_by(&p.update[0], "set"));
    }

    #[test]
    fn deletion_spares_names_generated_even_if_invalid() {
        let existing = [app("dup", Some("set"), "p")];
        let generated: BTreeSet<String> = ["dup".to_string()].into();
        let p = plan_keeping("set", &[], &existing, SyncPolicy::Sync, &generated);
        assert!(p.delete.is_empty());
        let p = plan("set", &[], &existing, SyncPolicy::Sync);
        assert_eq!(names(&p.delete), ["dup"]);
    }
}
