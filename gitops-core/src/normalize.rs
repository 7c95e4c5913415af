//! Normalization applied to both sides before they are compared.
//!
//! These are the rewrites Argo CD always makes (its `Normalize` and typed "remarshal" steps,
//! see `argo-semantics.md` §1.3–1.4), done directly on JSON trees:
//! - `metadata.creationTimestamp` removed (and the `null` one inside embedded templates);
//! - Secret `stringData` folded into base64 `data`, `null` data values made `""`;
//! - Role/ClusterRole: `rules: []` made `null` (absent), and with `ignoreAggregatedRoles` the rules of
//!   an aggregated role dropped (the aggregation controller owns them);
//! - Endpoints ports get their `TCP` default;
//! - `resource.Quantity` values in built-in kinds in canonical form (`1000m` → `1`), and in
//!   custom-resource paths configured as known types (`knownTypeFields`).
//!
//! Every step is idempotent, which the property tests check.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::quantity;
use crate::schema::{DefId, KnownType, Shape, schema};

/// Options of the always-on normalization (from `resource.compareoptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Drop `rules` of ClusterRoles/Roles that have an `aggregationRule`.
    pub ignore_aggregated_roles: bool,
}

const OBJECT_META: &str = "apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Applies the always-on normalization to one object. `root` is its built-in definition
/// (`None` for custom resources).
pub fn normalize(obj: &mut Value, group: &str, kind: &str, root: Option<DefId>, opts: &NormalizeOptions) {
    normalize_structure(obj, group, kind, opts);
    if let Some(root) = root {
        canonicalize_typed(obj, &Shape::Def(root));
    }
}

/// The part of [`normalize`] that is not value canonicalization (creationTimestamp, Secret
/// data, role rules, Endpoints ports). The diff canonicalizes live objects only when it has
/// to: the API server already returns canonical values.
pub fn normalize_structure(obj: &mut Value, group: &str, kind: &str, opts: &NormalizeOptions) {
    let Some(map) = obj.as_object_mut() else { return };
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        meta.remove("creationTimestamp");
    }
    match (group, kind) {
        ("", "Secret") => normalize_secret(map),
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => {
            let aggregated = map.get("aggregationRule").is_some_and(|v| !v.is_null());
            let empty = map.get("rules").is_some_and(|r| r.as_array().is_some_and(Vec::is_empty));
            // Argo CD sets these to `null`, which the merge then reads as "delete": an aggregated
            // role written with `rules: []` is OutOfSync against the controller's rules unless
            // `ignoreAggregatedRoles` nulls both sides.
            if empty || (opts.ignore_aggregated_roles && aggregated) {
                map.insert("rules".into(), Value::Null);
            }
        }
        ("", "Endpoints") => normalize_endpoints(map),
        _ => {}
    }
}

fn normalize_secret(map: &mut Map<String, Value>) {
    if let Some(Value::Object(string_data)) = map.remove("stringData") {
        let data = map.entry("data").or_insert_with(|| Value::Object(Map::new()));
        if !data.is_object() {
            *data = Value::Object(Map::new());
        }
        if let Value::Object(data) = data {
            for (k, v) in string_data {
                let encoded = match v {
                    Value::String(s) => Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
                    Value::Null => Value::String(String::new()),
                    other => other,
                };
                data.insert(k, encoded);
            }
        }
    }
    if let Some(Value::Object(data)) = map.get_mut("data") {
        for v in data.values_mut() {
            if v.is_null() {
                *v = Value::String(String::new());
            }
        }
    }
}

fn normalize_endpoints(map: &mut Map<String, Value>) {
    let Some(Value::Array(subsets)) = map.get_mut("subsets") else { return };
    for subset in subsets {
        let Some(Value::Array(ports)) = subset.get_mut("ports") else { continue };
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if port.get("protocol").is_none_or(|p| p.is_null() || p == "") {
                port.insert("protocol".into(), Value::String("TCP".into()));
            }
        }
    }
}

/// What the typed round trip of a built-in kind changes: canonical quantities, and the
/// `creationTimestamp: null` that older servers and clients print in embedded metadata.
pub fn canonicalize_typed(value: &mut Value, shape: &Shape) {
    match (shape, value) {
        (Shape::Quantity, v) => canonical_quantity(v, false),
        (Shape::Map(inner), Value::Object(m)) => {
            if **inner == Shape::Quantity {
                // A map of quantities is a ResourceList: the server rounds up to milli units.
                for v in m.values_mut() {
                    canonical_quantity(v, true);
                }
            } else if !matches!(**inner, Shape::Leaf) {
                for v in m.values_mut() {
                    canonicalize_typed(v, inner);
                }
            }
        }
        (Shape::List(inner), Value::Array(items)) if !matches!(**inner, Shape::Leaf) => {
            for v in items {
                canonicalize_typed(v, inner);
            }
        }
        (Shape::Def(id), Value::Object(m)) => {
            let def = schema().def(*id);
            if def.name == OBJECT_META {
                if m.get("creationTimestamp").is_some_and(Value::is_null) {
                    m.remove("creationTimestamp");
                }
                return;
            }
            for (k, v) in m.iter_mut() {
                if let Some(field) = def.field(k) {
                    canonicalize_typed(v, &field.shape);
                }
            }
        }
        _ => {}
    }
}

fn canonical_quantity(v: &mut Value, round_milli: bool) {
    if let Some(c) = quantity::canonicalize_value(v, round_milli) {
        *v = c;
    }
}

/// A `knownTypeFields` entry: a dotted field path in a custom resource and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTypeField {
    /// Path segments (`spec.template.spec` → `["spec", "template", "spec"]`).
    pub path: Vec<String>,
    /// The type found there.
    pub ty: KnownType,
}

/// Canonicalizes the values at known-type paths of a custom resource. Arrays met on the
/// way are traversed element by element, as Argo CD does.
pub fn canonicalize_known_types(obj: &mut Value, fields: &[KnownTypeField]) {
    for f in fields {
        at_path(obj, &f.path, &mut |v| match f.ty {
            KnownType::Quantity => canonical_quantity(v, false),
            KnownType::Duration => {
                if let Some(d) = v.as_str().and_then(quantity::canonical_duration) {
                    *v = Value::String(d);
                }
            }
            KnownType::Def(id) => canonicalize_typed(v, &Shape::Def(id)),
        });
    }
}

fn at_path(v: &mut Value, path: &[String], f: &mut dyn FnMut(&mut Value)) {
    match v {
        Value::Array(items) => {
            for item in items {
                at_path(item, path, f);
            }
        }
        _ => match path.split_first() {
            None => f(v),
            Some((head, rest)) => {
                if let Some(child) = v.as_object_mut().and_then(|m| m.get_mut(head)) {
                    at_path(child, rest, f);
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn norm(mut v: Value) -> Value {
        let (g, k) = {
            let o = crate::object::Object::new(v.clone(), crate::object::Origin::inline("t"));
            (o.group().to_string(), o.kind().to_string())
        };
        let av = v["apiVersion"].as_str().unwrap_or("").to_string();
        let root = schema().kind(&av, &k);
        normalize(&mut v, &g, &k, root, &NormalizeOptions { ignore_aggregated_roles: true });
        v
    }

    #[test]
    fn secret_string_data_is_folded() {
        let v = norm(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "creationTimestamp": "x"},
            "data": {"a": "YQ==", "n": null}, "stringData": {"b": "hello", "a": "b"}}));
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "Yg==", "b": "aGVsbG8=", "n": ""}})
        );
    }

    #[test]
    fn quantities_in_built_in_kinds() {
        let v = norm(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": [{"name": "c",
              "resources": {"limits": {"cpu": 1, "memory": "1024Mi"}, "requests": {"cpu": "0.5", "memory": "0.0001"}}}],
              "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1000m"}}]}}}}));
        assert_eq!(v["spec"]["template"]["metadata"], json!({}));
        let c = &v["spec"]["template"]["spec"]["containers"][0]["resources"];
        assert_eq!(c, &json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1m"}}));
        assert_eq!(v["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]["sizeLimit"], "1");
    }

    #[test]
    fn aggregated_roles_and_empty_rules() {
        let v = norm(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}, "rules": [{"verbs": ["get"]}]}),
        );
        assert_eq!(v.get("rules"), Some(&Value::Null));
        let v = norm(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}, "rules": []}),
        );
        assert_eq!(v.get("rules"), Some(&Value::Null));
    }

    #[test]
    fn known_types_in_custom_resources() {
        let pod_spec = schema().known_type("core/v1/PodSpec").unwrap();
        let fields = vec![
            KnownTypeField { path: vec!["spec".into(), "template".into(), "spec".into()], ty: pod_spec },
            KnownTypeField { path: vec!["spec".into(), "items".into(), "size".into()], ty: KnownType::Quantity },
            KnownTypeField { path: vec!["spec".into(), "wait".into()], ty: KnownType::Duration },
        ];
        let mut v = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1000m"}}}]}},
            "items": [{"size": "2048Mi"}, {"size": "0.5"}], "wait": "60m"}});
        canonicalize_known_types(&mut v, &fields);
        assert_eq!(v["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"], "1");
        assert_eq!(v["spec"]["items"], json!([{"size": "2Gi"}, {"size": "500m"}]));
        assert_eq!(v["spec"]["wait"], "1h0m0s");
    }
}
