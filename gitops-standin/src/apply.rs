//! Server-side apply and field ownership (`metadata.managedFields`).
//!
//! Ownership is tracked per leaf path: maps recurse, while scalars, lists and empty maps are leaves.
//! That is coarser than the real server for lists (no associative list keys), which is the point of a
//! stand-in: what users see (conflicts, removals, managedFields) keeps the same shape.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::status::ApiError;
use crate::store::now_rfc3339;

/// A field path, one map key per element.
pub(crate) type Path = Vec<String>;

/// Metadata the server owns; never part of a manager's field set and never taken from clients.
pub(crate) const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// `Apply` (server-side apply) or `Update` (every other write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Apply,
    Update,
}

/// Which part of an object a write may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The main resource: everything but `status` when the kind has a status subresource.
    Main,
    /// The `status` subresource.
    Status,
    /// Everything ownable, to prune field sets after a write.
    All,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Managed {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: BTreeSet<Path>,
}

impl Managed {
    fn is(&self, manager: &str, operation: Operation, subresource: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == subresource
    }

    /// How conflicts name this manager, as Kubernetes prints it.
    fn display(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// Fields equal apart from time, so a no-op write can be recognised.
pub(crate) fn same_ownership(a: &[Managed], b: &[Managed]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.manager == y.manager
                && x.operation == y.operation
                && x.api_version == y.api_version
                && x.subresource == y.subresource
                && x.fields == y.fields
        })
}

fn subresource(scope: Scope) -> Option<&'static str> {
    if scope == Scope::Status { Some("status") } else { None }
}

/// The leaves of `obj` that a write in `scope` may own, with their values.
pub(crate) fn leaves(obj: &Value, status_subresource: bool, scope: Scope) -> BTreeMap<Path, Value> {
    let mut out = BTreeMap::new();
    let Some(map) = obj.as_object() else { return out };
    for (key, value) in map {
        let included = match key.as_str() {
            "apiVersion" | "kind" => false,
            "metadata" => scope != Scope::Status,
            "status" => match scope {
                Scope::Main => !status_subresource,
                Scope::Status | Scope::All => true,
            },
            _ => scope != Scope::Status,
        };
        if !included {
            continue;
        }
        if key == "metadata" {
            let Some(meta) = value.as_object() else { continue };
            for (k, v) in meta {
                if k == "name" || k == "namespace" || SERVER_METADATA.contains(&k.as_str()) {
                    continue;
                }
                walk(&mut vec![key.clone(), k.clone()], v, &mut out);
            }
        } else {
            walk(&mut vec![key.clone()], value, &mut out);
        }
    }
    out
}

fn walk(path: &mut Path, value: &Value, out: &mut BTreeMap<Path, Value>) {
    match value.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.clone());
                walk(path, v, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone(), value.clone());
        }
    }
}

fn is_empty_map(v: &Value) -> bool {
    v.as_object().is_some_and(Map::is_empty)
}

/// Whether the live value already satisfies a config leaf: an empty map in a config asks only for a map.
fn same(live: Option<&Value>, config: &Value) -> bool {
    match live {
        Some(live) if is_empty_map(config) => live.is_object(),
        Some(live) => live == config,
        None => false,
    }
}

/// `a` is `b` or one contains the other: ownership of one covers part of the other.
fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

pub(crate) fn get_path<'a>(obj: &'a Value, path: &Path) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.as_object()?.get(k))
}

/// Sets a value, turning whatever stands in the way into maps (client data may have any shape).
pub(crate) fn set_path(obj: &mut Value, path: &Path, value: Value) {
    let mut cur = obj;
    for k in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(map) = cur.as_object_mut() else { return };
        cur = map.entry(k.clone()).or_insert(Value::Null);
    }
    *cur = value;
}

/// Removes a leaf and then any map it leaves empty (but never `metadata` itself).
fn remove_path(obj: &mut Value, path: &Path) {
    fn go(v: &mut Value, path: &[String], depth: usize) {
        let Some(map) = v.as_object_mut() else { return };
        match path {
            [] => {}
            [last] => {
                map.remove(last);
            }
            [first, rest @ ..] => {
                if let Some(child) = map.get_mut(first) {
                    go(child, rest, depth + 1);
                    let empty = child.as_object().is_some_and(Map::is_empty);
                    if empty && !(depth == 0 && first == "metadata") {
                        map.remove(first);
                    }
                }
            }
        }
    }
    go(obj, path, 0);
}

/// Drops owned paths that no longer exist and entries that own nothing.
pub(crate) fn prune(managed: &mut Vec<Managed>, obj: &Value, status_subresource: bool) {
    let present = leaves(obj, status_subresource, Scope::All);
    for m in managed.iter_mut() {
        m.fields.retain(|p| present.contains_key(p) || present.keys().any(|q| q.starts_with(p)));
    }
    managed.retain(|m| !m.fields.is_empty());
}

/// Records a non-apply write: `manager` takes the leaves whose value it changed.
pub(crate) fn record_update(
    managed: &mut Vec<Managed>,
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    status_subresource: bool,
    scope: Scope,
) {
    let old_leaves = old.map(|o| leaves(o, status_subresource, scope)).unwrap_or_default();
    let changed: Vec<Path> = leaves(new, status_subresource, scope)
        .into_iter()
        .filter(|(p, v)| old_leaves.get(p) != Some(v))
        .map(|(p, _)| p)
        .collect();
    if changed.is_empty() {
        return;
    }
    let sub = subresource(scope);
    for m in managed.iter_mut().filter(|m| !m.is(manager, Operation::Update, sub)) {
        m.fields.retain(|p| !changed.iter().any(|c| overlaps(p, c)));
    }
    let entry = entry(managed, manager, Operation::Update, sub);
    entry.fields.retain(|p| !changed.iter().any(|c| overlaps(p, c)));
    entry.fields.extend(changed);
    entry.api_version = api_version.to_string();
    entry.time = now_rfc3339();
}

fn entry<'a>(managed: &'a mut Vec<Managed>, manager: &str, operation: Operation, sub: Option<&str>) -> &'a mut Managed {
    let idx = match managed.iter().position(|m| m.is(manager, operation, sub)) {
        Some(i) => i,
        None => {
            managed.push(Managed {
                manager: manager.to_string(),
                operation,
                api_version: String::new(),
                time: String::new(),
                subresource: sub.map(str::to_string),
                fields: BTreeSet::new(),
            });
            managed.len() - 1
        }
    };
    &mut managed[idx]
}

/// The apply request: who applies what.
pub(crate) struct ApplyRequest<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub force: bool,
    pub status_subresource: bool,
    pub scope: Scope,
}

/// Server-side apply of `config` onto `live` (absent: create). Returns the merged object; `managed` is updated.
pub(crate) fn apply(
    live: Option<&Value>,
    managed: &mut Vec<Managed>,
    config: &Value,
    req: &ApplyRequest<'_>,
) -> Result<Value, ApiError> {
    let sub = subresource(req.scope);
    let config_leaves = leaves(config, req.status_subresource, req.scope);
    let mut result = match live {
        Some(live) => live.clone(),
        None => {
            let mut obj = json!({"apiVersion": config["apiVersion"], "kind": config["kind"], "metadata": {}});
            obj["metadata"]["name"] = config["metadata"]["name"].clone();
            if config["metadata"]["namespace"].is_string() {
                obj["metadata"]["namespace"] = config["metadata"]["namespace"].clone();
            }
            obj
        }
    };

    let mut conflicts: Vec<(usize, Path, Path)> = Vec::new();
    for (path, value) in &config_leaves {
        if same(get_path(&result, path), value) {
            continue;
        }
        for (i, m) in managed.iter().enumerate() {
            if m.is(req.manager, Operation::Apply, sub) {
                continue;
            }
            for owned in m.fields.iter().filter(|o| overlaps(o, path)) {
                conflicts.push((i, path.clone(), owned.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !req.force {
            let mut list: Vec<(String, String)> =
                conflicts.iter().map(|(i, path, _)| (managed[*i].display(), format!(".{}", path.join(".")))).collect();
            list.dedup();
            return Err(ApiError::apply_conflict(&list));
        }
        for (i, _, owned) in &conflicts {
            managed[*i].fields.remove(owned);
        }
    }

    let previously: BTreeSet<Path> =
        managed.iter().find(|m| m.is(req.manager, Operation::Apply, sub)).map(|m| m.fields.clone()).unwrap_or_default();
    for path in &previously {
        // Still applied if applied as is, if it now lies under a scalar/list the config sets whole,
        // or if it became a map the config fills.
        let still_applied = config_leaves
            .iter()
            .any(|(p, v)| p == path || (path.starts_with(p) && !is_empty_map(v)) || p.starts_with(path));
        let shared = managed.iter().any(|m| !m.is(req.manager, Operation::Apply, sub) && m.fields.contains(path));
        if !still_applied && !shared {
            remove_path(&mut result, path);
        }
    }
    for (path, value) in &config_leaves {
        if !same(get_path(&result, path), value) {
            set_path(&mut result, path, value.clone());
        }
    }

    let entry = entry(managed, req.manager, Operation::Apply, sub);
    entry.fields = config_leaves.into_keys().collect();
    entry.api_version = req.api_version.to_string();
    entry.time = now_rfc3339();
    Ok(result)
}

/// `metadata.managedFields` as the real server renders it.
pub(crate) fn render(managed: &[Managed]) -> Value {
    let entries: Vec<Value> = managed
        .iter()
        .map(|m| {
            let mut fields = Value::Object(Map::new());
            for path in &m.fields {
                let prefixed: Path = path.iter().map(|k| format!("f:{k}")).collect();
                set_path(&mut fields, &prefixed, json!({}));
            }
            let mut e = json!({
                "manager": m.manager,
                "operation": if m.operation == Operation::Apply { "Apply" } else { "Update" },
                "apiVersion": m.api_version,
                "time": m.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            });
            if let Some(sub) = &m.subresource {
                e["subresource"] = json!(sub);
            }
            e
        })
        .collect();
    Value::Array(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(manager: &str, force: bool) -> ApplyRequest<'_> {
        ApplyRequest { manager, api_version: "apps/v1", force, status_subresource: true, scope: Scope::Main }
    }

    #[test]
    fn leaves_skip_server_fields_and_status() {
        let obj = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "uid": "u", "labels": {"a": "1"}},
            "spec": {"r": 1, "l": [1], "e": {}}, "status": {"s": 1}});
        let l: Vec<String> = leaves(&obj, true, Scope::Main).keys().map(|p| p.join(".")).collect();
        assert_eq!(l, ["metadata.labels.a", "spec.e", "spec.l", "spec.r"]);
    }

    #[test]
    fn apply_conflicts_forces_and_removes() {
        let live =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}, "spec": {"replicas": 3}});
        let mut managed = Vec::new();
        record_update(&mut managed, None, &live, "kubectl", "apps/v1", true, Scope::Main);
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "labels": {"a": "b"}},
            "spec": {"replicas": 2}});
        let err = apply(Some(&live), &mut managed, &config, &req("gitops", false)).unwrap_err();
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
        );
        let merged = apply(Some(&live), &mut managed, &config, &req("gitops", true)).unwrap();
        assert_eq!(merged["spec"]["replicas"], 2);
        prune(&mut managed, &merged, true);
        assert_eq!(managed.len(), 1);
        let config2 =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}, "spec": {"replicas": 2}});
        let merged2 = apply(Some(&merged), &mut managed, &config2, &req("gitops", false)).unwrap();
        assert!(merged2["metadata"].get("labels").is_none(), "{merged2}");
        assert_eq!(render(&managed)[0]["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    }
}
