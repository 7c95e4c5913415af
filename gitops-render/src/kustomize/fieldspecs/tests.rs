//! Every expected value below is what `kubectl kustomize` (kustomize v5.5.0) produced for the
//! same input when probed; the label and namespace helpers mimic kustomize's setters.

use serde_json::Value;

use super::parse::parse_field_spec;
use super::walk::visit;
use super::{Config, Error, FieldSpec, skips_name_change};

use serde_json::json;

/// kustomize's label setter: a created slot becomes a map; an existing `null` is left alone.
fn set_labels(obj: &mut Value, specs: &[&FieldSpec]) -> Result<(), Error> {
    let api = obj["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    for spec in specs.iter().filter(|s| s.applies_to(&api, &kind)) {
        visit(obj, &spec.path, spec.create, &mut |slot| {
            if slot.is_null() {
                if !spec.create {
                    return Ok(());
                }
                *slot = json!({});
            }
            let Value::Object(map) = slot else { return Err(Error::from_message("not a map".into())) };
            map.insert("x".into(), json!("lbl"));
            Ok(())
        })?;
    }
    Ok(())
}

fn common_labels(obj: &mut Value) -> Result<(), Error> {
    let specs: Vec<&FieldSpec> = Config::builtin().common_labels.iter().collect();
    set_labels(obj, &specs)
}

fn object(api: &str, kind: &str, spec: Value) -> Value {
    json!({"apiVersion": api, "kind": kind, "metadata": {"name": "e"}, "spec": spec})
}

#[test]
fn common_labels_on_bare_objects_match_kubectl() {
    let lbl = json!({"x": "lbl"});
    let sel_tmpl = json!({"x": 1, "selector": {"matchLabels": lbl}, "template": {"metadata": {"labels": lbl}}});
    let cases = [
        ("v1", "Service", json!({"x": 1, "selector": lbl})),
        ("ex.com/v1", "Service", json!({"x": 1, "selector": lbl})),
        ("ex.com/v2", "Service", json!({"x": 1})),
        ("v1", "ReplicationController", json!({"x": 1, "selector": lbl, "template": {"metadata": {"labels": lbl}}})),
        ("ex.com/v2", "ReplicationController", json!({"x": 1})),
        ("apps/v1", "Deployment", sel_tmpl.clone()),
        ("ex.com/v1", "Deployment", sel_tmpl.clone()),
        ("ex.com/v1", "DaemonSet", sel_tmpl.clone()),
        ("apps/v1", "StatefulSet", sel_tmpl.clone()),
        ("ex.com/v1", "StatefulSet", json!({"x": 1})),
        ("batch/v1", "Job", json!({"x": 1, "template": {"metadata": {"labels": lbl}}})),
        (
            "batch/v1",
            "CronJob",
            json!({"x": 1, "jobTemplate": {"metadata": {"labels": lbl}, "spec": {"template": {"metadata": {"labels": lbl}}}}}),
        ),
        ("policy/v1", "PodDisruptionBudget", json!({"x": 1})),
        ("networking.k8s.io/v1", "NetworkPolicy", json!({"x": 1})),
        ("v1", "Pod", json!({"x": 1})),
    ];
    for (api, kind, want) in cases {
        let mut obj = object(api, kind, json!({"x": 1}));
        common_labels(&mut obj).expect("labels");
        assert_eq!(obj["spec"], want, "{api} {kind}");
        assert_eq!(obj["metadata"]["labels"], lbl, "{api} {kind}");
    }
}

fn full_pod_spec() -> Value {
    let term = json!({"labelSelector": {"matchLabels": {"m": "v"}}, "topologyKey": "t"});
    json!({
        "affinity": {
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": term}],
                "requiredDuringSchedulingIgnoredDuringExecution": [term],
            },
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term, {"topologyKey": "u"}]},
        },
        "topologySpreadConstraints": [term, {"topologyKey": "u"}],
    })
}

#[test]
fn affinity_selectors_only_for_apps_deployments_and_existing_maps() {
    let labelled = json!({"labelSelector": {"matchLabels": {"m": "v", "x": "lbl"}}, "topologyKey": "t"});
    let mut apps = object("apps/v1", "Deployment", json!({"template": {"spec": full_pod_spec()}}));
    common_labels(&mut apps).expect("labels");
    let spec = &apps["spec"]["template"]["spec"];
    assert_eq!(spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0], labelled);
    assert_eq!(
        spec["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"],
        labelled
    );
    assert_eq!(
        spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
        json!([labelled, {"topologyKey": "u"}])
    );
    assert_eq!(spec["topologySpreadConstraints"], json!([labelled, {"topologyKey": "u"}]));

    let mut other = object("ex.com/v1", "Deployment", json!({"template": {"spec": full_pod_spec()}}));
    common_labels(&mut other).expect("labels");
    assert_eq!(other["spec"]["template"]["spec"], full_pod_spec());
}

#[test]
fn selectors_that_must_exist_are_not_created() {
    let exprs = json!({"matchExpressions": [{"key": "a", "operator": "Exists"}]});
    let mut job = object("batch/v1", "Job", json!({"selector": exprs.clone()}));
    common_labels(&mut job).expect("labels");
    assert_eq!(job["spec"]["selector"], exprs);
    let mut np = object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {}}}, {"ipBlock": {}}]}]}),
    );
    common_labels(&mut np).expect("labels");
    assert_eq!(
        np["spec"],
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"x": "lbl"}}}, {"ipBlock": {}}]}]})
    );
}

#[test]
fn volume_claim_templates_are_a_list_never_created() {
    let mut sts =
        object("apps/v1", "StatefulSet", json!({"volumeClaimTemplates": [{}, {"metadata": null}, {"spec": {}}]}));
    common_labels(&mut sts).expect("labels");
    let lbl = json!({"labels": {"x": "lbl"}});
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"],
        json!([{"metadata": lbl}, {"metadata": lbl}, {"metadata": lbl, "spec": {}}])
    );

    let mut bare = object("apps/v1", "StatefulSet", json!({}));
    common_labels(&mut bare).expect("labels");
    assert_eq!(bare["spec"].get("volumeClaimTemplates"), None);

    let mut null = object("apps/v1", "StatefulSet", json!({"volumeClaimTemplates": null}));
    common_labels(&mut null).expect("labels");
    assert_eq!(null["spec"]["volumeClaimTemplates"], json!([]));

    let mut map = object("apps/v1", "StatefulSet", json!({"volumeClaimTemplates": {"metadata": {}}}));
    common_labels(&mut map).expect("labels");
    assert_eq!(map["spec"]["volumeClaimTemplates"], json!({"metadata": {"labels": {"x": "lbl"}}}));
}

#[test]
fn lists_on_the_path_are_entered_and_scalars_are_errors() {
    let mut empty = object("apps/v1", "Deployment", json!([]));
    common_labels(&mut empty).expect("labels");
    assert_eq!(empty["spec"], json!([]));

    let mut list = object("apps/v1", "Deployment", json!([{}]));
    common_labels(&mut list).expect("labels");
    let lbl = json!({"x": "lbl"});
    assert_eq!(list["spec"], json!([{"selector": {"matchLabels": lbl}, "template": {"metadata": {"labels": lbl}}}]));

    let mut null = object("apps/v1", "Deployment", Value::Null);
    common_labels(&mut null).expect("labels");
    assert_eq!(null["spec"], json!({"selector": {"matchLabels": lbl}, "template": {"metadata": {"labels": lbl}}}));

    for spec in [json!(5), json!("str"), json!([1, 2]), json!({"template": {"spec": {"affinity": 5}}})] {
        let mut obj = object("apps/v1", "Deployment", spec.clone());
        let err = common_labels(&mut obj).expect_err("kubectl: expected sequence or mapping node");
        assert!(matches!(err, Error::NotTraversable { .. }), "{spec}: {err}");
    }
    let mut sts = object("apps/v1", "StatefulSet", json!({"volumeClaimTemplates": [5]}));
    assert!(matches!(common_labels(&mut sts), Err(Error::NotTraversable { .. })));
    let mut job = object("batch/v1", "Job", json!({"selector": 5}));
    let err = common_labels(&mut job).expect_err("scalar selector");
    assert_eq!(
        err,
        Error::NotTraversable {
            path: "spec/selector/matchLabels".into(),
            at: "spec/selector".into(),
            found: "a number"
        }
    );
}

#[test]
fn null_last_fields() {
    // create: false and null: kustomize's label setter leaves it; its scalar setters fill it.
    let mut job = object("batch/v1", "Job", json!({"selector": {"matchLabels": null}}));
    common_labels(&mut job).expect("labels");
    assert_eq!(job["spec"]["selector"], json!({"matchLabels": null}));
    let mut seen = Vec::new();
    visit(&mut job, "spec/selector/matchLabels", false, &mut |slot| {
        seen.push(slot.clone());
        Ok(())
    })
    .expect("visit");
    assert_eq!(seen, vec![Value::Null]);
    // create: true and null becomes a map.
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n", "labels": null}});
    common_labels(&mut cm).expect("labels");
    assert_eq!(cm["metadata"]["labels"], json!({"x": "lbl"}));
}

#[test]
fn path_syntax_follows_kustomize() {
    let mut obj =
        json!({"spec": {"x": {}}, "metadata": {"annotations": {"nginx.ingress.kubernetes.io/auth-secret": "s"}}});
    let mut found = Vec::new();
    visit(&mut obj, r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-secret", false, &mut |slot| {
        found.push(slot.clone());
        Ok(())
    })
    .expect("visit");
    assert_eq!(found, vec![json!("s")]);

    let set = |obj: &mut Value, path: &str| {
        visit(obj, path, true, &mut |slot| {
            *slot = json!("v");
            Ok(())
        })
    };
    set(&mut obj, "/spec/lead").expect("one leading slash is dropped");
    set(&mut obj, r"spec/a\/b/c").expect("escaped slash");
    set(&mut obj, "spec/x[]/y").expect("a map where a list is marked");
    set(&mut obj, "spec/z[]/y").expect("missing list: skipped");
    set(&mut obj, "spec/k[a=b]/y").expect("no selector syntax");
    assert_eq!(obj["spec"], json!({"lead": "v", "a/b": {"c": "v"}, "x": {"y": "v"}, "k[a=b]": {"y": "v"}}));
    for bad in ["//spec/q", "spec//q", "spec/q/", "spec/x/[]", ""] {
        assert_eq!(set(&mut obj, bad), Err(Error::EmptyField { path: bad.to_string() }), "{bad}");
    }
}

#[test]
fn template_and_annotation_tables() {
    let config = Config::builtin();
    let paths = |specs: Vec<&FieldSpec>, api: &str, kind: &str| -> Vec<String> {
        specs.into_iter().filter(|s| s.applies_to(api, kind)).map(|s| s.path.clone()).collect()
    };
    let templates = paths(config.label_specs(false, true).collect(), "batch/v1beta1", "CronJob");
    assert_eq!(
        templates,
        ["metadata/labels", "spec/jobTemplate/metadata/labels", "spec/jobTemplate/spec/template/metadata/labels"]
    );
    let sts = paths(config.label_specs(false, true).collect(), "apps/v1", "StatefulSet");
    assert_eq!(
        sts,
        ["metadata/labels", "spec/template/metadata/labels", "spec/volumeClaimTemplates[]/metadata/labels"]
    );
    assert_eq!(paths(config.label_specs(false, false).collect(), "apps/v1", "Deployment"), ["metadata/labels"]);
    // kubectl: a StatefulSet in any group gets template annotations, a Job only in batch.
    let annotations = |api: &str, kind: &str| paths(config.common_annotations.iter().collect(), api, kind);
    assert_eq!(annotations("ex.com/v1", "StatefulSet"), ["spec/template/metadata/annotations", "metadata/annotations"]);
    assert_eq!(annotations("ex.com/v1", "Job"), ["metadata/annotations"]);
    assert_eq!(
        annotations("ex.com/v1", "ReplicationController"),
        ["spec/template/metadata/annotations", "metadata/annotations"]
    );
}

#[test]
fn namespace_specs_match_kubectl() {
    let config = Config::builtin();
    let paths =
        |api: &str, kind: &str| -> Vec<String> { config.namespace_specs(api, kind).map(|s| s.path.clone()).collect() };
    assert_eq!(paths("v1", "Namespace"), ["metadata/name", "metadata/namespace"]);
    assert_eq!(paths("ex.com/v1", "Namespace"), ["metadata/namespace"]);
    assert_eq!(paths("v2", "Namespace"), ["metadata/namespace"]);
    assert_eq!(paths("ex.com/v1", "RoleBinding"), ["subjects", "metadata/namespace"]);
    assert_eq!(paths("ex.com/v1", "APIService"), ["metadata/namespace"]);

    // kubectl: APIService spec/service/namespace is created, the CRD conversion one is not,
    // but an existing null there is set.
    let set = |obj: &mut Value| {
        let (api, kind) = (
            obj["apiVersion"].as_str().unwrap_or_default().to_string(),
            obj["kind"].as_str().unwrap_or_default().to_string(),
        );
        for spec in config.namespace_specs(&api, &kind).filter(|s| s.path.starts_with("spec/")) {
            visit(obj, &spec.path, spec.create, &mut |slot| {
                *slot = json!("nsx");
                Ok(())
            })
            .expect("namespace");
        }
    };
    let mut api_service = object("apiregistration.k8s.io/v1", "APIService", json!({}));
    set(&mut api_service);
    assert_eq!(api_service["spec"], json!({"service": {"namespace": "nsx"}}));
    let mut crd = object("apiextensions.k8s.io/v1", "CustomResourceDefinition", json!({}));
    set(&mut crd);
    assert_eq!(crd["spec"], json!({}));
    let mut crd_null = object(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        json!({"conversion": {"webhook": {"clientConfig": {"service": {"name": "s", "namespace": null}}}}}),
    );
    set(&mut crd_null);
    assert_eq!(
        crd_null["spec"]["conversion"]["webhook"]["clientConfig"]["service"],
        json!({"name": "s", "namespace": "nsx"})
    );
}

#[test]
fn name_changes_skip_what_kubectl_skips() {
    for (api, kind) in [
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("ex.com/v1", "CustomResourceDefinition"),
        ("apiregistration.k8s.io/v1", "APIService"),
        ("v1", "Namespace"),
        ("ex.com/v1", "Namespace"),
    ] {
        assert!(skips_name_change(api, kind), "{api} {kind}");
    }
    for (api, kind) in
        [("ex.com/v1", "APIService"), ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("v1", "PersistentVolume")]
    {
        assert!(!skips_name_change(api, kind), "{api} {kind}");
    }
}

fn referrers<'a>(referral: &str, api: &str, kind: &str) -> Vec<&'a str> {
    let config = Config::builtin();
    config
        .name_references
        .iter()
        .filter(|r| r.gvk.kind == referral)
        .flat_map(|r| &r.referrers)
        .filter(|s| s.applies_to(api, kind))
        .map(|s| s.path.as_str())
        .collect()
}

#[test]
fn name_reference_table_matches_kubectl() {
    // kubectl renamed these fields (and no others) after a `namePrefix` on the referred objects.
    assert_eq!(referrers("ConfigMap", "v1", "ReplicationController"), Vec::<&str>::new());
    assert_eq!(referrers("ConfigMap", "ex.com/v2", "Pod"), Vec::<&str>::new());
    assert_eq!(referrers("ConfigMap", "ex.com/v2", "Deployment").len(), 6);
    assert_eq!(referrers("Secret", "v1", "Pod").len(), 7);
    assert_eq!(referrers("ServiceAccount", "apps/v1", "ReplicaSet"), Vec::<&str>::new());
    assert_eq!(
        referrers("ServiceAccount", "ex.com/v2", "ReplicationController"),
        ["spec/template/spec/serviceAccountName"]
    );
    assert_eq!(referrers("PersistentVolumeClaim", "v1", "PodTemplate"), Vec::<&str>::new());
    assert_eq!(referrers("Service", "ex.com/v1", "StatefulSet"), Vec::<&str>::new());
    assert_eq!(referrers("Service", "apps/v1beta1", "StatefulSet"), ["spec/serviceName"]);
    assert_eq!(
        referrers("StorageClass", "ex.com/v2", "StatefulSet"),
        ["spec/volumeClaimTemplates/spec/storageClassName"]
    );
    assert_eq!(
        referrers("Secret", "storage.k8s.io/v1", "StorageClass"),
        ["parameters/secretName", "parameters/adminSecretName", "parameters/userSecretName", "parameters/secretRef"]
    );
    assert_eq!(referrers("PersistentVolume", "rbac.authorization.k8s.io/v1", "ClusterRole"), ["rules/resourceNames"]);
    assert_eq!(referrers("ConfigMap", "v1", "Node"), ["spec/configSource/configMap"]);
    assert_eq!(referrers("Role", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), Vec::<&str>::new());
    assert_eq!(referrers("ClusterRole", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ["roleRef/name"]);
    assert_eq!(referrers("Deployment", "ex.com/v1", "HorizontalPodAutoscaler"), ["spec/scaleTargetRef/name"]);
    assert_eq!(referrers("DaemonSet", "autoscaling/v2", "HorizontalPodAutoscaler"), Vec::<&str>::new());
    let gvk =
        |kind: &str| Config::builtin().name_references.iter().find(|r| r.gvk.kind == kind).map(|r| r.gvk.to_string());
    assert_eq!(gvk("ConfigMap").as_deref(), Some("ConfigMap.v1.[noGrp]"));
    assert_eq!(gvk("Role").as_deref(), Some("Role.[noVer].rbac.authorization.k8s.io"));
    // kubectl never renames an Ingress's ingressClassName: kustomize's referral group is wrong.
    assert_eq!(gvk("IngressClass").as_deref(), Some("IngressClass.v1.networking.k8s.io/v1"));
    let total: usize = Config::builtin().name_references.iter().map(|r| r.referrers.len()).sum();
    assert_eq!(total, 167);
}

#[test]
fn image_fields_turn_null_lists_into_empty_ones() {
    let mut pod = object("v1", "Pod", json!({"containers": null, "initContainers": null}));
    for spec in &Config::builtin().images {
        visit(&mut pod, &spec.path, false, &mut |_| Ok(())).expect("images");
    }
    assert_eq!(pod["spec"], json!({"containers": [], "initContainers": []}));
    let mut bad = object("ex.com/v1", "Baz", json!({"containers": 5}));
    let spec = Config::builtin().images.first().expect("images table");
    assert!(matches!(visit(&mut bad, &spec.path, false, &mut |_| Ok(())), Err(Error::NotTraversable { .. })));
}

#[test]
fn var_reference_table_matches_kubectl() {
    // kubectl expanded `$(V)` in exactly these fields of these kinds (any group or version).
    let paths = |api: &str, kind: &str| -> Vec<String> {
        let specs = Config::builtin().var_references.iter().filter(|s| s.applies_to(api, kind));
        let mut out: Vec<String> = specs.map(|s| s.path.clone()).collect();
        out.sort();
        out
    };
    assert_eq!(paths("v1", "ReplicationController"), ["metadata/annotations", "metadata/labels"]);
    assert_eq!(paths("v1", "PodTemplate"), ["metadata/annotations", "metadata/labels"]);
    assert_eq!(
        paths("networking.k8s.io/v1", "Ingress"),
        ["metadata/annotations", "metadata/labels", "spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"]
    );
    assert!(paths("ex.com/v2", "Deployment").contains(&"spec/template/metadata/annotations".to_string()));
    assert!(paths("ex.com/v2", "Pod").contains(&"spec/volumes/nfs/server".to_string()));
    assert!(!paths("apps/v1", "StatefulSet").contains(&"spec/template/spec/volumes/nfs/server".to_string()));
    assert!(
        !paths("batch/v1", "CronJob").contains(&"spec/jobTemplate/spec/template/spec/volumes/nfs/server".to_string())
    );
    assert_eq!(paths("apps/v1", "ReplicaSet").len(), 11);
}

fn kinds(specs: &[FieldSpec]) -> String {
    let names: Vec<String> = specs.iter().map(|s| s.gvk.to_string()).collect();
    format!("[{}]", names.join(" "))
}

#[test]
fn replicas_list_in_kubectl_order() {
    assert_eq!(
        kinds(&Config::builtin().replicas),
        "[Deployment.[noVer].[noGrp] StatefulSet.[noVer].[noGrp] ReplicaSet.[noVer].[noGrp] ReplicationController.[noVer].[noGrp]]"
    );
    let mut config = Config::builtin().clone();
    let extra = json!({"replicas": [
        {"path": "spec/replicas", "kind": "Zed", "group": "a"}, {"path": "spec/r", "kind": "Abc"},
        {"path": "spec/r", "kind": "Foo", "version": "v1"}, {"path": "spec/r", "kind": "Service"},
        {"path": "spec/r", "kind": "Deployment", "group": "apps"}, {"path": "spec/r", "kind": "ValidatingWebhookConfiguration"},
        {"path": "spec/r"}, {"path": "spec/r", "group": "g"}, {"path": "spec/r", "version": "v"}, {"path": "spec/r", "kind": "abc"},
        {"path": "spec/r", "kind": "MutatingWebhookConfiguration"}, {"path": "spec/r", "kind": "_x"},
    ]});
    config.merge_configuration(&extra).expect("merge");
    // kubectl's "does not match a config with the following GVK" list for the same file
    // (the kind-less `spec/r` spec is dropped: it duplicates the Abc one).
    assert_eq!(
        kinds(&config.replicas),
        "[Service.[noVer].[noGrp] Deployment.[noVer].apps Deployment.[noVer].[noGrp] StatefulSet.[noVer].[noGrp] \
         Zed.[noVer].a [noKind].[noVer].g Foo.v1.[noGrp] [noKind].v.[noGrp] Abc.[noVer].[noGrp] ReplicaSet.[noVer].[noGrp] \
         ReplicationController.[noVer].[noGrp] _x.[noVer].[noGrp] abc.[noVer].[noGrp] \
         MutatingWebhookConfiguration.[noVer].[noGrp] ValidatingWebhookConfiguration.[noVer].[noGrp]]"
    );
}

fn merged(doc: Value) -> Result<Config, Error> {
    let mut config = Config::builtin().clone();
    config.merge_configuration(&doc).map(|()| config)
}

#[test]
fn configurations_merge_as_kubectl() {
    let builtin = Config::builtin();
    // A kind-less spec already covered by the Deployment one is dropped ...
    let same = merged(json!({"commonLabels": [{"path": "spec/selector/matchLabels", "create": true}]})).expect("merge");
    assert_eq!(same.common_labels, builtin.common_labels);
    // ... and one that disagrees on `create` is kubectl's "conflicting fieldspecs".
    for doc in [
        json!({"commonLabels": [{"path": "spec/selector/matchLabels", "create": false}]}),
        json!({"commonLabels": [{"path": "metadata/labels", "kind": "Foo", "create": false}]}),
        json!({"commonLabels": [{"path": "spec/x/lab", "kind": "Foo", "create": true}, {"path": "spec/x/lab", "kind": "Foo"}]}),
    ] {
        assert!(matches!(merged(doc.clone()), Err(Error::Conflict { .. })), "{doc}");
    }
    let foo = merged(json!({"commonLabels": [{"path": "spec/x/lab", "create": true, "kind": "Foo"}]})).expect("merge");
    assert_eq!(foo.common_labels.len(), builtin.common_labels.len() + 1);
    assert!(foo.common_labels.contains(&FieldSpec::new("", "", "Foo", "spec/x/lab", true)));

    // Keys match ignoring case; a known referral kind gains referrers, a new gvk is added.
    let refs = merged(json!({"NameReference": [
        {"Kind": "ConfigMap", "Version": "v1", "FieldSpecs": [{"Path": "spec/cmName", "Kind": "Foo"}]},
        {"kind": "ConfigMap", "fieldSpecs": [{"path": "spec/other", "kind": "Foo"}]},
    ]}))
    .expect("merge");
    assert_eq!(referrers_of(&refs, "ConfigMap.v1.[noGrp]", "Foo"), ["spec/cmName"]);
    assert_eq!(referrers_of(&refs, "ConfigMap.[noVer].[noGrp]", "Foo"), ["spec/other"]);

    let labels = merged(json!({"labels": [{"path": "spec/x/ll", "kind": "Foo", "create": true}]})).expect("merge");
    for (selectors, templates) in [(false, false), (false, true), (true, false)] {
        assert!(labels.label_specs(selectors, templates).any(|s| s.path == "spec/x/ll"));
    }
    assert!(!labels.common_labels.iter().any(|s| s.path == "spec/x/ll"));

    let numeric = merged(json!({"commonLabels": [{"path": 5, "kind": "Foo"}]})).expect("merge");
    assert!(numeric.common_labels.iter().any(|s| s.path == "5"));
    assert_eq!(merged(Value::Null).expect("empty file"), *builtin);
    assert_eq!(merged(json!({"commonLabels": null})).expect("null list"), *builtin);
    assert_eq!(
        merged(json!({"nameReference": [{"kind": "ConfigMap", "version": "v1"}]})).expect("no fieldSpecs"),
        *builtin
    );
}

fn referrers_of<'a>(config: &'a Config, gvk: &str, kind: &str) -> Vec<&'a str> {
    config
        .name_references
        .iter()
        .filter(|r| r.gvk.to_string() == gvk)
        .flat_map(|r| &r.referrers)
        .filter(|s| s.gvk.kind == kind)
        .map(|s| s.path.as_str())
        .collect()
}

#[test]
fn malformed_configurations_name_the_field() {
    let field = |doc: Value| match merged(doc) {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    };
    assert_eq!(field(json!({"unknownKey": 5})), "unknownKey");
    assert_eq!(field(json!({"metadataLabels": []})), "metadataLabels");
    assert_eq!(field(json!({"commonLabels": [{"path": "a", "bogus": 1}]})), "commonLabels[0].bogus");
    assert_eq!(field(json!({"commonLabels": [{"path": "a", "name": "f"}]})), "commonLabels[0].name");
    assert_eq!(field(json!({"commonLabels": 5})), "commonLabels");
    assert_eq!(field(json!({"commonLabels": [{"path": "a", "create": "yes"}]})), "commonLabels[0].create");
    assert_eq!(field(json!({"commonLabels": [{"path": "a", "create": 1}]})), "commonLabels[0].create");
    assert_eq!(
        field(json!({"nameReference": [{"kind": "ConfigMap", "fieldSpecs": 5}]})),
        "nameReference[0].fieldSpecs"
    );
    assert_eq!(field(json!({"nameReference": [{"kind": "ConfigMap", "bogus": 1}]})), "nameReference[0].bogus");
    assert_eq!(field(json!(["a"])), "");
    assert_eq!(parse_field_spec(&json!({"path": "a", "create": null})), Ok(FieldSpec::new("", "", "", "a", false)));
}
