//! The clusterDecisionResource generator: the clusters that duck-typed resources (an Open
//! Cluster Management PlacementDecision, or any resource shaped like one) list in their
//! status, as Argo CD's duck-type generator reads them.
//!
//! - `configMapRef` (a string) names a ConfigMap in the set's namespace with `apiVersion`
//!   (`group/version`), `kind` (the resource, as Argo CD's dynamic client takes it: the
//!   plural `placementdecisions`; the kind `PlacementDecision` is accepted too),
//!   `statusListKey` (default `clusters`) and `matchKey`;
//! - exactly one of `name` and `labelSelector` selects the resources of that kind in the
//!   set's namespace (taken from [`Inputs::objects`](super::Inputs::objects)), in name
//!   order; none found is an error;
//! - a resource without a status is skipped; each entry of its `status.<statusListKey>`
//!   whose `<matchKey>` names a registered cluster (the built-in `in-cluster` included)
//!   gives one parameter set: `name` and `server` of that cluster, then every field of the
//!   entry (strings, set over `name` and `server` when they share a key), then `values`
//!   as written (Argo CD does not render this generator's values);
//! - an entry without `<matchKey>`, or naming no registered cluster, gives nothing; a
//!   ConfigMap without `matchKey` gives nothing at all, as in Argo CD.
//!
//! `requeueAfterSeconds` defaults to 3 minutes.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Context, GeneratorError, config_map_data};
use crate::Object;
use crate::appset::params::{Mode, Params};
use crate::appset::selector::Selector;

fn field(at: &str, message: impl Into<String>) -> GeneratorError {
    GeneratorError::Field { field: at.to_string(), message: message.into() }
}

/// Whether an object of `kind` is of the resource the ConfigMap names (`placementdecisions`,
/// or the kind itself, in any case).
pub fn is_resource(kind: &str, resource: &str) -> bool {
    let kind = kind.to_ascii_lowercase();
    let resource = resource.to_ascii_lowercase();
    if kind == resource {
        return true;
    }
    // The plural the API server would give the kind, by its default rules.
    let plural = if let Some(stem) = kind.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u'])) {
        format!("{stem}ies")
    } else if kind.ends_with('s') || kind.ends_with('x') || kind.ends_with("ch") || kind.ends_with("sh") {
        format!("{kind}es")
    } else {
        format!("{kind}s")
    };
    plural == resource
}

/// What a spec reads: the ConfigMap's settings and how resources are selected.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionSource {
    /// `apiVersion` of the resources.
    pub api_version: String,
    /// `kind` (the resource name, or the kind).
    pub resource: String,
    /// `statusListKey`.
    pub status_list_key: String,
    /// `matchKey` (empty: the generator gives nothing).
    pub match_key: String,
    /// `name`, when it selects by name.
    pub name: Option<String>,
}

/// Reads the spec's `configMapRef` ConfigMap (no I/O: from `cx.inputs.objects`) and checks
/// the spec's selection; also returns the label selector.
pub fn source(spec: &Value, cx: &Context<'_>) -> Result<(DecisionSource, Selector), GeneratorError> {
    let at = "clusterDecisionResource.configMapRef";
    let cm_name = match spec.get("configMapRef") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(field(at, "is required (the name of a ConfigMap with apiVersion, kind, matchKey)")),
    };
    let name = super::opt_str(spec, "clusterDecisionResource", "name")?.filter(|s| !s.is_empty()).map(str::to_string);
    let selector_spec = spec.get("labelSelector").filter(|v| !v.is_null());
    let has_selector = selector_spec
        .is_some_and(|s| ["matchLabels", "matchExpressions"].iter().any(|k| s.get(k).is_some_and(|v| !v.is_null())));
    let selector = Selector::from_json("clusterDecisionResource.labelSelector", selector_spec)?;
    match (&name, has_selector) {
        (None, false) => {
            return Err(field(
                "clusterDecisionResource",
                "set one of name and labelSelector (matchLabels or matchExpressions)",
            ));
        }
        (Some(_), true) => {
            return Err(field("clusterDecisionResource", "set either name or labelSelector, not both"));
        }
        _ => {}
    }
    let data = config_map_data(cx, "clusterDecisionResource", at, &cm_name)?;
    let cm = format!("ConfigMap {}/{cm_name}", cx.namespace);
    let api_version = data.get("apiVersion").cloned().unwrap_or_default();
    if api_version.find('/').is_none_or(|i| i < 1) {
        return Err(field(at, format!("{cm}: data.apiVersion must be group/version, not {api_version:?}")));
    }
    let resource = data.get("kind").cloned().unwrap_or_default();
    if resource.is_empty() {
        return Err(field(at, format!("{cm}: data.kind is required (the resource, as placementdecisions)")));
    }
    let status_list_key = data.get("statusListKey").filter(|s| !s.is_empty()).cloned().unwrap_or("clusters".into());
    let match_key = data.get("matchKey").cloned().unwrap_or_default();
    Ok((DecisionSource { api_version, resource, status_list_key, match_key, name }, selector))
}

/// The selected resources among `objects`, in name order.
pub fn resources<'o>(
    source: &DecisionSource,
    selector: &Selector,
    objects: &'o [Object],
    namespace: &str,
) -> Vec<&'o Object> {
    let mut found: Vec<&Object> = objects
        .iter()
        .filter(|o| {
            o.api_version() == source.api_version
                && is_resource(o.kind(), &source.resource)
                && (o.namespace().is_empty() || o.namespace() == namespace)
                && match &source.name {
                    Some(name) => o.name() == name,
                    None => selector.matches(&labels(o)),
                }
        })
        .collect();
    found.sort_by(|a, b| a.name().cmp(b.name()));
    found
}

fn labels(o: &Object) -> BTreeMap<String, String> {
    o.value()
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect()
}

/// Runs a `clusterDecisionResource` generator spec against `cx.inputs.clusters` and
/// `cx.inputs.objects`.
pub fn generate(spec: &Value, cx: &Context<'_>) -> Result<Vec<Params>, GeneratorError> {
    let registry = cx.inputs.clusters.ok_or_else(|| GeneratorError::MissingInput {
        kind: "clusterDecisionResource".into(),
        what: "the cluster registry".into(),
    })?;
    let (source, selector) = source(spec, cx)?;
    let values: Vec<(String, String)> = match spec.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| field(&format!("clusterDecisionResource.values.{k}"), "must be a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(field("clusterDecisionResource.values", "must be a map of strings")),
    };
    let found = resources(&source, &selector, cx.inputs.objects.unwrap_or_default(), cx.namespace);
    if found.is_empty() {
        let which = match &source.name {
            Some(name) => format!("named {name:?}"),
            None => "matching labelSelector".to_string(),
        };
        return Err(field(
            "clusterDecisionResource",
            format!("no {} {} {which} found in namespace {}", source.api_version, source.resource, cx.namespace),
        ));
    }
    if source.match_key.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for resource in found {
        let Some(status) = resource.value().get("status").filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        else {
            continue;
        };
        let at = format!(
            "{} {}/{}: status.{}",
            resource.kind(),
            resource.namespace(),
            resource.name(),
            source.status_list_key
        );
        let entries = match status.get(&source.status_list_key) {
            Some(Value::Array(items)) => items,
            _ => return Err(field(&at, "must be a list of maps")),
        };
        for (i, entry) in entries.iter().enumerate() {
            let entry = entry.as_object().ok_or_else(|| field(&format!("{at}[{i}]"), "must be a map"))?;
            let wanted = match entry.get(&source.match_key) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.is_empty() => continue,
                Some(Value::String(s)) => s,
                Some(_) => return Err(field(&format!("{at}[{i}].{}", source.match_key), "must be a string")),
            };
            let Some(cluster) = registry.clusters().iter().find(|c| &c.name == wanted) else { continue };
            let mut strings: Vec<(String, String)> =
                vec![("name".into(), cluster.name.clone()), ("server".into(), cluster.server.clone())];
            for (k, v) in entry {
                let v = v.as_str().ok_or_else(|| field(&format!("{at}[{i}].{k}"), "must be a string"))?;
                strings.push((k.clone(), v.to_string()));
            }
            out.push(match cx.mode() {
                Mode::Flat => {
                    let mut m: BTreeMap<String, String> = strings.into_iter().collect();
                    for (k, v) in &values {
                        m.insert(format!("values.{k}"), v.clone());
                    }
                    Params::Flat(m)
                }
                Mode::Go => {
                    let mut m: Map<String, Value> = strings.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                    if !values.is_empty() {
                        let v: Map<String, Value> =
                            values.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                        m.insert("values".into(), Value::Object(v));
                    }
                    Params::Go(m)
                }
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::appset::generators::Inputs;
    use crate::appset::template::Engine;
    use crate::fleet::cluster::ClusterRegistry;
    use crate::object::Origin;

    fn object(v: Value) -> Object {
        Object::new(v, Origin::inline("test"))
    }

    fn cluster_secret(name: &str, server: &str) -> Object {
        object(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("c-{name}"), "namespace": "argocd",
                "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": name, "server": server},
        }))
    }

    fn config_map(data: Value) -> Object {
        object(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "ocm", "namespace": "argocd"}, "data": data}))
    }

    fn decision(name: &str, labels: Value, decisions: Value) -> Object {
        object(json!({
            "apiVersion": "cluster.open-cluster-management.io/v1beta1", "kind": "PlacementDecision",
            "metadata": {"name": name, "namespace": "argocd", "labels": labels},
            "status": {"decisions": decisions},
        }))
    }

    fn objects(extra: Vec<Object>) -> Vec<Object> {
        let mut all = vec![
            cluster_secret("a", "https://a"),
            cluster_secret("b", "https://b"),
            config_map(json!({"apiVersion": "cluster.open-cluster-management.io/v1beta1",
                "kind": "placementdecisions", "statusListKey": "decisions", "matchKey": "clusterName"})),
        ];
        all.extend(extra);
        all
    }

    fn run(mode: Mode, spec: Value, objects: &[Object]) -> Result<Vec<Params>, GeneratorError> {
        let (registry, errors) = ClusterRegistry::from_objects(objects);
        assert!(errors.is_empty(), "{errors:?}");
        let inputs = Inputs { clusters: Some(&registry), objects: Some(objects), ..Inputs::default() };
        let cx =
            Context { engine: Engine::new(mode, &[]).unwrap(), inputs: &inputs, appset: "set", namespace: "argocd" };
        generate(&spec, &cx)
    }

    #[test]
    fn decisions_name_registered_clusters() {
        let all = objects(vec![
            decision("p2", json!({"placement": "web"}), json!([{"clusterName": "b", "reason": "r2"}])),
            decision(
                "p1",
                json!({"placement": "web"}),
                json!([{"clusterName": "a", "reason": "r1"}, {"clusterName": "gone"}, {"reason": "no key"},
                       {"clusterName": "in-cluster"}]),
            ),
            decision("other", json!({"placement": "db"}), json!([{"clusterName": "a"}])),
        ]);
        let spec = json!({"configMapRef": "ocm", "labelSelector": {"matchLabels": {"placement": "web"}},
            "values": {"v": "{{name}}"}});
        let got = run(Mode::Flat, spec, &all).unwrap();
        let flat: Vec<_> = got.iter().map(Params::flattened).collect();
        let names: Vec<&str> = flat.iter().map(|p| p["name"].as_str()).collect();
        assert_eq!(names, ["a", "in-cluster", "b"], "resources in name order, unknown clusters skipped");
        assert_eq!(flat[0]["server"], "https://a");
        assert_eq!(flat[0]["clusterName"], "a");
        assert_eq!(flat[0]["reason"], "r1");
        assert_eq!(flat[0]["values.v"], "{{name}}", "values are not rendered, as in Argo CD");
        assert_eq!(flat[1]["server"], "https://kubernetes.default.svc");
        assert_eq!(flat[0].len(), 5, "{:?}", flat[0]);

        let got = run(Mode::Go, json!({"configMapRef": "ocm", "name": "p2", "values": {"x": "y"}}), &all).unwrap();
        assert_eq!(
            got[0].to_value(),
            json!({"name": "b", "server": "https://b", "clusterName": "b", "reason": "r2", "values": {"x": "y"}})
        );
    }

    #[test]
    fn resources_match_by_plural_or_kind() {
        assert!(is_resource("PlacementDecision", "placementdecisions"));
        assert!(is_resource("PlacementDecision", "PlacementDecision"));
        assert!(is_resource("Policy", "policies"));
        assert!(is_resource("Gateway", "gateways"));
        assert!(is_resource("Ingress", "ingresses"));
        assert!(!is_resource("Placement", "placementdecisions"));
    }

    #[test]
    fn no_match_key_gives_nothing_and_errors_name_the_field() {
        let d = decision("p1", json!({}), json!([{"clusterName": "a"}]));
        let mut all = objects(vec![d.clone()]);
        all[2] = config_map(json!({"apiVersion": "cluster.open-cluster-management.io/v1beta1",
            "kind": "placementdecisions", "statusListKey": "decisions"}));
        assert_eq!(run(Mode::Flat, json!({"configMapRef": "ocm", "name": "p1"}), &all).unwrap(), []);

        let all = objects(vec![d]);
        let e = run(Mode::Flat, json!({"configMapRef": "ocm"}), &all).unwrap_err();
        assert_eq!(
            e.to_string(),
            "clusterDecisionResource: set one of name and labelSelector (matchLabels or matchExpressions)"
        );
        let e =
            run(Mode::Flat, json!({"configMapRef": "ocm", "name": "p1", "labelSelector": {"matchLabels": {}}}), &all)
                .unwrap_err();
        assert_eq!(e.to_string(), "clusterDecisionResource: set either name or labelSelector, not both");
        let e = run(Mode::Flat, json!({"configMapRef": "ocm", "name": "nope"}), &all).unwrap_err();
        assert_eq!(
            e.to_string(),
            "clusterDecisionResource: no cluster.open-cluster-management.io/v1beta1 placementdecisions named \"nope\" found in namespace argocd"
        );
        let e = run(Mode::Flat, json!({"configMapRef": "missing", "name": "p1"}), &all).unwrap_err();
        assert_eq!(e.to_string(), "clusterDecisionResource.configMapRef: no ConfigMap argocd/missing was found");
        let bad = objects(vec![decision("p1", json!({}), json!([{"clusterName": "a", "score": 3}]))]);
        let e = run(Mode::Flat, json!({"configMapRef": "ocm", "name": "p1"}), &bad).unwrap_err();
        assert_eq!(e.to_string(), "PlacementDecision argocd/p1: status.decisions[0].score: must be a string");
        let bad = objects(vec![decision("p1", json!({}), json!({"clusterName": "a"}))]);
        let e = run(Mode::Flat, json!({"configMapRef": "ocm", "name": "p1"}), &bad).unwrap_err();
        assert_eq!(e.to_string(), "PlacementDecision argocd/p1: status.decisions: must be a list of maps");
    }
}
