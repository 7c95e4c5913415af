//! The kind table (built-ins plus served CRD versions) and the discovery documents built from it.

use serde_json::{Value, json};

use crate::store::Store;

/// One served group/version/kind and how it is stored and addressed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    /// Has a `status` subresource, so writes to the main resource leave `status` alone.
    pub status: bool,
    pub builtin: bool,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

/// (group, version, kind, plural, namespaced, has status subresource)
const BUILTINS: &[(&str, &str, &str, &str, bool, bool)] = &[
    ("", "v1", "Namespace", "namespaces", false, true),
    ("", "v1", "ConfigMap", "configmaps", true, false),
    ("", "v1", "Secret", "secrets", true, false),
    ("", "v1", "Service", "services", true, true),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, false),
    ("", "v1", "Pod", "pods", true, true),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, true),
    ("apps", "v1", "Deployment", "deployments", true, true),
    ("apps", "v1", "StatefulSet", "statefulsets", true, true),
    ("apps", "v1", "DaemonSet", "daemonsets", true, true),
    ("apps", "v1", "ReplicaSet", "replicasets", true, true),
    ("batch", "v1", "Job", "jobs", true, true),
    ("batch", "v1", "CronJob", "cronjobs", true, true),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, true),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, false),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, false),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, false),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, true),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, true),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, true),
];

pub(crate) const CRD_GROUP: &str = "apiextensions.k8s.io";
pub(crate) const CRD_KIND: &str = "CustomResourceDefinition";

fn builtins() -> impl Iterator<Item = Kind> {
    BUILTINS.iter().map(|&(group, version, kind, plural, namespaced, status)| Kind {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        status,
        builtin: true,
    })
}

/// Versions a CRD serves, in spec order; empty until the CRD is Established.
pub(crate) fn crd_kinds(crd: &Value) -> Vec<Kind> {
    let established = crd["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
    if !established || !crd["metadata"]["deletionTimestamp"].is_null() {
        return Vec::new();
    }
    let spec = &crd["spec"];
    let names = &spec["names"];
    let (Some(group), Some(kind), Some(plural)) =
        (spec["group"].as_str(), names["kind"].as_str(), names["plural"].as_str())
    else {
        return Vec::new();
    };
    let singular = names["singular"].as_str().map_or_else(|| kind.to_lowercase(), str::to_string);
    let namespaced = spec["scope"] != "Cluster";
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] != false)
        .filter_map(|v| {
            Some(Kind {
                group: group.into(),
                version: v["name"].as_str()?.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: singular.clone(),
                namespaced,
                status: v["subresources"]["status"].is_object(),
                builtin: false,
            })
        })
        .collect()
}

/// Every served kind: built-ins, then established CRDs.
pub(crate) fn all(store: &Store) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = builtins().collect();
    for crd in store.list_kind(CRD_GROUP, CRD_KIND) {
        kinds.extend(crd_kinds(&crd.obj));
    }
    kinds
}

/// The kind served at `/{group}/{version}/{plural}`.
pub(crate) fn resolve(store: &Store, group: &str, version: &str, plural: &str) -> Option<Kind> {
    all(store).into_iter().find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// The kind for an object's `apiVersion` + `kind`.
pub(crate) fn by_kind(store: &Store, api_version: &str, kind: &str) -> Option<Kind> {
    all(store).into_iter().find(|k| k.api_version() == api_version && k.kind == kind)
}

/// Any served version of a stored group/kind (storage is shared across versions).
pub(crate) fn by_group_kind(store: &Store, group: &str, kind: &str) -> Option<Kind> {
    all(store).into_iter().find(|k| k.group == group && k.kind == kind)
}

/// Whether instances of a group/kind may exist: a built-in, or a CRD (in any state) defines it.
pub(crate) fn defined(store: &Store, group: &str, kind: &str) -> bool {
    builtins().any(|k| k.group == group && k.kind == kind)
        || store
            .list_kind(CRD_GROUP, CRD_KIND)
            .any(|crd| crd.obj["spec"]["group"] == group && crd.obj["spec"]["names"]["kind"] == kind)
}

const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// `GET /api`.
pub(crate) fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// `GET /api/v1` and `GET /apis/{group}/{version}`; `None` if nothing is served there.
pub(crate) fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<Kind> = all(store).into_iter().filter(|k| k.group == group && k.version == version).collect();
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for k in &kinds {
        resources.push(json!({
            "name": k.plural,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": VERBS,
        }));
        if k.status {
            resources.push(json!({
                "name": format!("{}/status", k.plural),
                "singularName": "",
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = kinds[0].api_version();
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

/// One `APIGroup` per non-core group, versions in first-seen order, the first being preferred.
fn groups(store: &Store) -> Vec<Value> {
    let mut order: Vec<(String, Vec<String>)> = Vec::new();
    for k in all(store).into_iter().filter(|k| !k.group.is_empty()) {
        match order.iter_mut().find(|(g, _)| *g == k.group) {
            Some((_, versions)) if !versions.contains(&k.version) => versions.push(k.version),
            Some(_) => {}
            None => order.push((k.group, vec![k.version])),
        }
    }
    order
        .into_iter()
        .map(|(group, versions)| {
            let gv: Vec<Value> =
                versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
            json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gv, "preferredVersion": gv[0]})
        })
        .collect()
}

/// `GET /apis`.
pub(crate) fn group_list(store: &Store) -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups(store)})
}

/// `GET /apis/{group}`.
pub(crate) fn group(store: &Store, name: &str) -> Option<Value> {
    groups(store).into_iter().find(|g| g["name"] == name)
}

/// `GET /version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-standin",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}
