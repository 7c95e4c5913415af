//! The cluster generator: one parameter set per registered cluster whose secret matches the
//! generator's `selector` (a label selector over the secret's labels, which always include
//! `argocd.argoproj.io/secret-type: cluster`).
//!
//! - clusters are de-duplicated by name, the last secret with a name winning (Argo CD keys
//!   the secrets it lists by `data.name`);
//! - the built-in `in-cluster` is included only when the selector is empty and no secret
//!   registers its server; it comes first, as Argo CD appends it while listing clusters,
//!   before the secrets;
//! - parameters: `name`, `nameNormalized`, `server`, `project`, and the secret's labels and
//!   annotations (flat `metadata.labels.<k>` / `metadata.annotations.<k>`; go `metadata:
//!   {labels, annotations}`, each only when non-empty), then `values`;
//! - `flatList: true` gives a single set `{clusters: [...]}` holding them all.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Context, GeneratorError, append_values};
use crate::appset::params::{Mode, Params, flatten_into, normalize};
use crate::appset::selector::Selector;
use crate::fleet::cluster::secret::{SECRET_TYPE_CLUSTER, SECRET_TYPE_LABEL};
use crate::fleet::cluster::{IN_CLUSTER_SERVER, RegisteredCluster};

/// Runs a `clusters` generator spec against `cx.inputs.clusters`.
pub fn generate(spec: &Value, cx: &Context<'_>) -> Result<Vec<Params>, GeneratorError> {
    let registry = cx
        .inputs
        .clusters
        .ok_or_else(|| GeneratorError::MissingInput { kind: "clusters".into(), what: "the cluster registry".into() })?;
    let selector = Selector::from_json("clusters.selector", spec.get("selector"))?;
    let flat_list = match spec.get("flatList") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(GeneratorError::Field {
                field: "clusters.flatList".into(),
                message: "must be a boolean".into(),
            });
        }
    };

    // The secrets that match, by name: the last one wins, in the place of the first.
    let mut order: Vec<&str> = Vec::new();
    let mut by_name: BTreeMap<&str, &RegisteredCluster> = BTreeMap::new();
    for cluster in registry.clusters().iter().filter(|c| c.secret.is_some()) {
        let mut labels = cluster.labels.clone();
        labels.insert(SECRET_TYPE_LABEL.to_string(), SECRET_TYPE_CLUSTER.to_string());
        if !selector.matches(&labels) {
            continue;
        }
        if by_name.insert(cluster.name.as_str(), cluster).is_none() {
            order.push(cluster.name.as_str());
        }
    }

    let mut out = Vec::new();
    let builtin = registry.clusters().iter().find(|c| c.secret.is_none() && c.server == IN_CLUSTER_SERVER);
    if let Some(local) = builtin.filter(|_| selector.is_empty()) {
        let mut p = base_params(local, cx.mode(), false);
        append_values("clusters.values", spec.get("values"), &mut p, cx)?;
        out.push(p);
    }
    for name in order {
        let mut p = base_params(by_name[name], cx.mode(), true);
        append_values("clusters.values", spec.get("values"), &mut p, cx)?;
        out.push(p);
    }

    if !flat_list {
        return Ok(out);
    }
    let all: Vec<Value> = out.iter().map(Params::to_value).collect();
    Ok(vec![match cx.mode() {
        Mode::Go => {
            let mut m = Map::new();
            m.insert("clusters".into(), Value::Array(all));
            Params::Go(m)
        }
        Mode::Flat => {
            let mut m = BTreeMap::new();
            for (i, v) in all.iter().enumerate() {
                flatten_into(&format!("clusters.{i}"), v, &mut m);
            }
            Params::Flat(m)
        }
    }])
}

fn base_params(cluster: &RegisteredCluster, mode: Mode, from_secret: bool) -> Params {
    let mut labels = cluster.labels.clone();
    if from_secret {
        labels.insert(SECRET_TYPE_LABEL.to_string(), SECRET_TYPE_CLUSTER.to_string());
    }
    match mode {
        Mode::Flat => {
            let mut m = BTreeMap::new();
            m.insert("name".to_string(), cluster.name.clone());
            m.insert("nameNormalized".to_string(), normalize(&cluster.name));
            m.insert("server".to_string(), cluster.server.clone());
            m.insert("project".to_string(), cluster.project.clone());
            for (k, v) in &labels {
                m.insert(format!("metadata.labels.{k}"), v.clone());
            }
            for (k, v) in &cluster.annotations {
                m.insert(format!("metadata.annotations.{k}"), v.clone());
            }
            Params::Flat(m)
        }
        Mode::Go => {
            let mut m = Map::new();
            m.insert("name".into(), Value::String(cluster.name.clone()));
            m.insert("nameNormalized".into(), Value::String(normalize(&cluster.name)));
            m.insert("server".into(), Value::String(cluster.server.clone()));
            m.insert("project".into(), Value::String(cluster.project.clone()));
            if from_secret {
                let strings = |b: &BTreeMap<String, String>| {
                    Value::Object(b.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
                };
                let mut meta = Map::new();
                if !cluster.annotations.is_empty() {
                    meta.insert("annotations".into(), strings(&cluster.annotations));
                }
                if !labels.is_empty() {
                    meta.insert("labels".into(), strings(&labels));
                }
                m.insert("metadata".into(), Value::Object(meta));
            }
            Params::Go(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Object;
    use crate::appset::generators::Inputs;
    use crate::appset::template::Engine;
    use crate::fleet::cluster::ClusterRegistry;
    use crate::object::Origin;

    pub(crate) fn secret(name: &str, cluster: &str, server: &str, labels: Value) -> Object {
        let mut l = labels.as_object().cloned().unwrap_or_default();
        l.insert("argocd.argoproj.io/secret-type".into(), json!("cluster"));
        Object::new(
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": "argocd", "labels": l, "annotations": {"team": "core"}},
                "stringData": {"name": cluster, "server": server, "project": "p1"},
            }),
            Origin::inline("test"),
        )
    }

    fn run(mode: Mode, spec: Value, objects: &[Object]) -> Result<Vec<Params>, GeneratorError> {
        let (registry, errors) = ClusterRegistry::from_objects(objects);
        assert!(errors.is_empty(), "{errors:?}");
        let inputs = Inputs { clusters: Some(&registry), ..Inputs::default() };
        let cx = Context { engine: Engine::new(mode, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        generate(&spec, &cx)
    }

    fn names(ps: &[Params]) -> Vec<String> {
        ps.iter().map(|p| p.flattened()["name"].clone()).collect()
    }

    #[test]
    fn flat_params_with_labels_annotations_and_values() {
        let objects = [secret("s1", "Prod_EU", "https://prod", json!({"env": "prod"}))];
        let got = run(Mode::Flat, json!({"values": {"where": "{{name}}@{{metadata.labels.env}}"}}), &objects).unwrap();
        assert_eq!(names(&got), ["in-cluster", "Prod_EU"], "no selector: the built-in cluster comes too");
        let p = got[1].flattened();
        assert_eq!(p["nameNormalized"], "prod-eu");
        assert_eq!(p["server"], "https://prod");
        assert_eq!(p["project"], "p1");
        assert_eq!(p["metadata.labels.env"], "prod");
        assert_eq!(p["metadata.labels.argocd.argoproj.io/secret-type"], "cluster");
        assert_eq!(p["metadata.annotations.team"], "core");
        assert_eq!(p["values.where"], "Prod_EU@prod");
        let local = got[0].flattened();
        assert_eq!(local["server"], IN_CLUSTER_SERVER);
        assert_eq!(local["project"], "");
        assert_eq!(local["values.where"], "in-cluster@{{metadata.labels.env}}");
    }

    #[test]
    fn selector_filters_secrets_and_drops_the_builtin() {
        let objects = [
            secret("s1", "a", "https://a", json!({"env": "prod"})),
            secret("s2", "b", "https://b", json!({"env": "dev"})),
        ];
        let got = run(Mode::Flat, json!({"selector": {"matchLabels": {"env": "prod"}}}), &objects).unwrap();
        assert_eq!(names(&got), ["a"]);
        let got = run(
            Mode::Flat,
            json!({"selector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]}}),
            &objects,
        )
        .unwrap();
        assert_eq!(names(&got), ["a", "b"]);
        let got = run(
            Mode::Flat,
            json!({"selector": {"matchLabels": {"argocd.argoproj.io/secret-type": "cluster"}}}),
            &objects,
        )
        .unwrap();
        assert_eq!(names(&got), ["a", "b"], "the secret-type label is there to match");
    }

    #[test]
    fn a_secret_for_the_in_cluster_server_replaces_the_builtin() {
        let objects = [secret("s0", "local", IN_CLUSTER_SERVER, json!({}))];
        let got = run(Mode::Flat, json!({}), &objects).unwrap();
        assert_eq!(names(&got), ["local"]);
    }

    #[test]
    fn duplicate_names_last_wins() {
        let objects = [
            secret("s1", "dup", "https://one", json!({})),
            secret("s2", "other", "https://two", json!({})),
            secret("s3", "dup", "https://three", json!({})),
        ];
        let got = run(Mode::Flat, json!({"selector": {"matchLabels": {}}}), &objects).unwrap();
        assert_eq!(names(&got), ["in-cluster", "dup", "other"], "an empty matchLabels is no selector");
        assert_eq!(got[1].flattened()["server"], "https://three");
    }

    #[test]
    fn go_params_nest_metadata_and_flat_list_wraps_all() {
        let objects = [secret("s1", "a", "https://a", json!({"env": "prod"}))];
        let spec = json!({"selector": {"matchLabels": {"env": "prod"}}, "values": {"v": "{{ .metadata.labels.env }}"}});
        let got = run(Mode::Go, spec, &objects).unwrap();
        assert_eq!(
            got[0].to_value(),
            json!({
                "name": "a", "nameNormalized": "a", "server": "https://a", "project": "p1",
                "metadata": {
                    "labels": {"env": "prod", "argocd.argoproj.io/secret-type": "cluster"},
                    "annotations": {"team": "core"},
                },
                "values": {"v": "prod"},
            })
        );
        let got = run(Mode::Go, json!({"flatList": true}), &objects).unwrap();
        assert_eq!(got.len(), 1);
        let all = got[0].get("clusters").unwrap();
        assert_eq!(all.as_array().unwrap().len(), 2);
        assert_eq!(all[1]["name"], "a");
        let got = run(Mode::Flat, json!({"flatList": true}), &objects).unwrap();
        assert_eq!(got[0].flattened()["clusters.1.server"], "https://a");
    }

    #[test]
    fn needs_a_registry() {
        let inputs = Inputs::default();
        let cx = Context { engine: Engine::new(Mode::Flat, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        let e = generate(&json!({}), &cx).unwrap_err();
        assert_eq!(e.to_string(), "the clusters generator needs the cluster registry, which was not provided");
    }
}
