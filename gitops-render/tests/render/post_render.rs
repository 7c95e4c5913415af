//! Flux HelmRelease `spec.postRenderers` against the real kustomize: each case runs our post
//! rendering over a few rendered objects, and `kubectl kustomize --reorder none` over the
//! directories helm-controller builds for the same post renderers (the objects as
//! `helm-output.yaml`, written here as JSON documents, and a hand-written `kustomization.yaml`
//! per post renderer, each fed the output of the one before); the printed results must be equal
//! byte for byte. Refusals must be refused by kubectl too, and ours must name the field.

use gitops_core::{Object, Origin};
use gitops_render::kustomize;
use gitops_render::post_render::post_render;
use serde_json::{Value, json};

use crate::kustomize::kubectl;

const ORIGIN: &str = "HelmRelease apps/podinfo";

/// What a chart might render: a Deployment and a Service in `apps`, a ConfigMap without a
/// namespace.
fn rendered() -> Vec<Object> {
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "apps", "labels": {"app": "podinfo"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {
                "metadata": {"labels": {"app": "podinfo"}},
                "spec": {
                    "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                    "containers": [
                        {"name": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.5.0",
                         "env": [{"name": "LEVEL", "value": "info"}]},
                        {"name": "sidecar", "image": "nginx:1.25"}
                    ]
                }
            }
        }
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": "apps"},
        "spec": {"selector": {"app": "podinfo"}, "ports": [{"name": "http", "port": 9898}]}
    });
    let config = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "podinfo-config"},
        "data": {"level": "info", "port": "9898"}
    });
    [deployment, service, config].into_iter().map(|v| Object::new(v, Origin::inline("helm template"))).collect()
}

/// The rendered objects as helm-controller's input file, written independently of our YAML
/// writer (JSON is YAML).
fn input_file(objects: &[Value]) -> String {
    objects.iter().map(|o| format!("{o}\n")).collect::<Vec<_>>().join("---\n")
}

/// kubectl over `kustomizations` in sequence, starting from `objects`: the last output.
fn kubectl_chain(objects: &[Value], kustomizations: &[&str]) -> Result<String, String> {
    let mut input = input_file(objects);
    for k in kustomizations {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::write(dir.path(), &[("helm-output.yaml", &input), ("kustomization.yaml", k)]);
        let out = kubectl(dir.path(), true);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        input = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    Ok(input)
}

fn values(objects: &[Object]) -> Vec<Value> {
    objects.iter().map(|o| o.value().clone()).collect()
}

/// Runs both and asserts equal output; returns ours.
fn same_as_kubectl(renderers: Value, kustomizations: &[&str]) -> Vec<Object> {
    let input = rendered();
    let want = kubectl_chain(&values(&input), kustomizations).unwrap_or_else(|e| panic!("kubectl failed: {e}"));
    let ours = post_render(ORIGIN, input, Some(&renderers)).unwrap_or_else(|e| panic!("we failed: {e}"));
    assert_eq!(kustomize::to_yaml(&values(&ours)), want, "post renderers {renderers}");
    ours
}

fn find<'a>(objects: &'a [Object], kind: &str) -> &'a Object {
    objects.iter().find(|o| o.kind() == kind).unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn strategic_merge_patch_targeted_by_kind() {
    let patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: not-used-with-a-target\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: podinfo\n        env:\n        - name: LEVEL\n          value: debug\n        - name: EXTRA\n          value: \"1\"\n      - name: sidecar\n        $patch: delete\n";
    let renderers = json!([{"kustomize": {"patches": [{"patch": patch, "target": {"kind": "Deployment"}}]}}]);
    let k = format!(
        "resources: [helm-output.yaml]\npatches:\n- target:\n    kind: Deployment\n  patch: |\n{}",
        patch.lines().map(|l| format!("    {l}\n")).collect::<String>()
    );
    let out = same_as_kubectl(renderers, &[&k]);
    let d = find(&out, "Deployment").value();
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["spec"]["template"]["spec"]["containers"].as_array().map(Vec::len), Some(1), "sidecar deleted");
    assert_eq!(d["metadata"]["name"], "podinfo", "a targeted patch's own name is ignored");
    let cm = find(&out, "ConfigMap");
    assert_eq!(cm.namespace(), "", "an object without a namespace stays without one");
    assert!(cm.value()["metadata"].get("namespace").is_none());
    assert_eq!(&*cm.origin().source, "HelmRelease apps/podinfo post-renderer 0");
}

#[test]
fn json6902_patch_targeted_by_name_reaches_every_kind_of_that_name() {
    // YAML operations and, in a second entry, JSON ones; `name` matches the Deployment and the
    // Service alike (a regular expression, anchored), not the ConfigMap.
    let yaml_ops = "- op: add\n  path: /metadata/annotations\n  value:\n    patched: \"yes\"\n";
    let json_ops =
        r#"[{"op": "replace", "path": "/data/level", "value": "warn"}, {"op": "remove", "path": "/data/port"}]"#;
    let renderers = json!([{"kustomize": {"patches": [
        {"patch": yaml_ops, "target": {"name": "podinfo"}},
        {"patch": json_ops, "target": {"name": "podinfo-.*", "version": "v1"}}
    ]}}]);
    let k = format!(
        "resources: [helm-output.yaml]\npatches:\n- target: {{name: podinfo}}\n  patch: |\n{}- target: {{name: podinfo-.*, version: v1}}\n  patch: '{json_ops}'\n",
        yaml_ops.lines().map(|l| format!("    {l}\n")).collect::<String>()
    );
    let out = same_as_kubectl(renderers, &[&k]);
    assert_eq!(find(&out, "Service").annotation("patched"), Some("yes"));
    assert_eq!(find(&out, "Deployment").annotation("patched"), Some("yes"));
    assert_eq!(find(&out, "ConfigMap").value()["data"], json!({"level": "warn"}));
}

#[test]
fn images_are_overridden_in_containers_and_init_containers() {
    let renderers = json!([{"kustomize": {"images": [
        {"name": "ghcr.io/stefanprodan/podinfo", "newName": "registry.local:5000/podinfo", "newTag": "6.7.1"},
        {"name": "busybox", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000001"},
        {"name": "not-used", "newTag": "x"}
    ]}}]);
    let k = "resources: [helm-output.yaml]\nimages:\n- name: ghcr.io/stefanprodan/podinfo\n  newName: registry.local:5000/podinfo\n  newTag: 6.7.1\n- name: busybox\n  digest: sha256:0000000000000000000000000000000000000000000000000000000000000001\n- name: not-used\n  newTag: x\n";
    let out = same_as_kubectl(renderers, &[k]);
    let spec = &find(&out, "Deployment").value()["spec"]["template"]["spec"];
    assert_eq!(spec["containers"][0]["image"], "registry.local:5000/podinfo:6.7.1");
    assert!(spec["initContainers"][0]["image"].as_str().is_some_and(|i| i.starts_with("busybox@sha256:")));
}

#[test]
fn post_renderers_run_in_order_each_on_the_output_of_the_one_before() {
    // The second patch's target is a label the first adds: it only matches in this order.
    let first =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\n  namespace: apps\n  labels:\n    tier: web\n";
    let second = "- op: add\n  path: /spec/type\n  value: NodePort\n";
    let renderers = json!([
        {"kustomize": {"patches": [{"patch": first}]}},
        {"kustomize": {
            "patches": [{"patch": second, "target": {"labelSelector": "tier=web"}}],
            "images": [{"name": "nginx", "newTag": "1.27"}]
        }}
    ]);
    let indent = |t: &str| t.lines().map(|l| format!("    {l}\n")).collect::<String>();
    let k1 = format!("resources: [helm-output.yaml]\npatches:\n- patch: |\n{}", indent(first));
    let k2 = format!(
        "resources: [helm-output.yaml]\npatches:\n- target: {{labelSelector: tier=web}}\n  patch: |\n{}images:\n- {{name: nginx, newTag: \"1.27\"}}\n",
        indent(second)
    );
    let out = same_as_kubectl(renderers.clone(), &[&k1, &k2]);
    assert_eq!(find(&out, "Service").value()["spec"]["type"], "NodePort");
    assert_eq!(&*find(&out, "Service").origin().source, "HelmRelease apps/podinfo post-renderer 1");
    // The other order leaves the Service's type alone, as kubectl does.
    let Value::Array(mut swapped) = renderers else { unreachable!() };
    swapped.reverse();
    let input = rendered();
    let want = kubectl_chain(&values(&input), &[&k2, &k1]).expect("kubectl");
    let ours = post_render(ORIGIN, input, Some(&Value::Array(swapped))).expect("ours");
    assert_eq!(kustomize::to_yaml(&values(&ours)), want);
    assert!(find(&ours, "Service").value()["spec"].get("type").is_none());
}

#[test]
fn v2beta1_patches_strategic_merge_and_json6902() {
    let renderers = json!([{"kustomize": {
        "patchesStrategicMerge": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "podinfo-config"}, "data": {"extra": "yes"}}
        ],
        "patchesJson6902": [{
            "target": {"group": "apps", "version": "v1", "kind": "Deployment", "name": "podinfo", "namespace": "apps"},
            "patch": [{"op": "replace", "path": "/spec/replicas", "value": 2}]
        }]
    }}]);
    let k = "resources: [helm-output.yaml]\npatchesStrategicMerge:\n- '{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"podinfo-config\"},\"data\":{\"extra\":\"yes\"}}'\npatchesJson6902:\n- target: {group: apps, version: v1, kind: Deployment, name: podinfo, namespace: apps}\n  patch: '[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]'\n";
    let out = same_as_kubectl(renderers, &[k]);
    assert_eq!(find(&out, "Deployment").value()["spec"]["replicas"], 2);
    assert_eq!(find(&out, "ConfigMap").value()["data"]["extra"], "yes");
}

#[test]
fn a_target_that_matches_nothing_changes_nothing() {
    let ops = "- op: add\n  path: /metadata/labels/x\n  value: y\n";
    let renderers = json!([{"kustomize": {"patches": [{"patch": ops, "target": {"kind": "StatefulSet"}}]}}]);
    let k = "resources: [helm-output.yaml]\npatches:\n- target: {kind: StatefulSet}\n  patch: |\n    - op: add\n      path: /metadata/labels/x\n      value: y\n";
    let out = same_as_kubectl(renderers, &[k]);
    assert_eq!(values(&out), values(&rendered()));
}

#[test]
fn no_objects_stay_no_objects() {
    let renderers = json!([{"kustomize": {"images": [{"name": "nginx", "newTag": "1.27"}]}}]);
    let want = kubectl_chain(&[], &["resources: [helm-output.yaml]\nimages:\n- {name: nginx, newTag: \"1.27\"}\n"]);
    assert_eq!(want.as_deref(), Ok(""));
    assert!(post_render(ORIGIN, Vec::new(), Some(&renderers)).expect("ours").is_empty());
}

/// A case kubectl must refuse and we must refuse naming `field`, saying `why`.
fn both_refuse(renderers: Value, kustomization: &str, field: &str, why: &str) {
    let input = rendered();
    if let Ok(out) = kubectl_chain(&values(&input), &[kustomization]) {
        panic!("kubectl succeeded, not a refusal:\n{out}");
    }
    match post_render(ORIGIN, input, Some(&renderers)) {
        Ok(_) => panic!("we succeeded where kubectl fails: {renderers}"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.starts_with(&format!("{ORIGIN}: `{field}`: {why}")), "{e}");
        }
    }
}

#[test]
fn a_patch_that_does_not_parse_is_refused_naming_it() {
    let good = r#"[{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]"#;
    let patches = json!([{"patch": good, "target": {"kind": "Service"}}, {"patch": "- op: [nope", "target": {"kind": "Service"}}]);
    both_refuse(
        json!([{"kustomize": {}}, {"kustomize": {"patches": patches}}]),
        &format!(
            "resources: [helm-output.yaml]\npatches:\n- target: {{kind: Service}}\n  patch: '{good}'\n- target: {{kind: Service}}\n  patch: '- op: [nope'\n"
        ),
        "spec.postRenderers[1].kustomize.patches[1]",
        "document 1: line 1: unclosed bracket",
    );
}

#[test]
fn a_strategic_merge_patch_naming_no_object_is_refused() {
    let patch = "apiVersion: v1\nkind: Service\nmetadata:\n  name: nope\nspec:\n  type: NodePort\n";
    both_refuse(
        json!([{"kustomize": {"patches": [{"patch": patch}]}}]),
        "resources: [helm-output.yaml]\npatches:\n- patch: |\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: nope\n    spec:\n      type: NodePort\n",
        "spec.postRenderers[0].kustomize.patches[0]",
        "no matches for Id Service.v1.[noGrp]/nope.[noNs]",
    );
}

#[test]
fn fields_flux_does_not_have_are_refused_before_kustomize_reads_them() {
    // kustomize would read `path` from its directory; Flux's API has no such field.
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = dir.path().join("patch.yaml");
    std::fs::write(&outside, "- op: add\n  path: /metadata/labels/x\n  value: y\n").expect("write");
    for (renderers, field) in [
        (json!([{"kustomize": {"patches": [{"path": outside.display().to_string()}]}}]), "patches[0].path"),
        (json!([{"kustomize": {"namespace": "other"}}]), "namespace"),
        (json!([{"kustomize": {"images": [{"name": "nginx", "tagSuffix": "-x"}]}}]), "images[0].tagSuffix"),
        (
            json!([{"kustomize": {"patches": [{"patch": "a: b", "target": {"kinds": "Service"}}]}}]),
            "patches[0].target.kinds",
        ),
    ] {
        let e = post_render(ORIGIN, rendered(), Some(&renderers)).expect_err("refused").to_string();
        assert!(e.starts_with(&format!("{ORIGIN}: `spec.postRenderers[0].kustomize.{field}`: unknown field")), "{e}");
    }
    let e = post_render(ORIGIN, rendered(), Some(&json!([{"kustomize": {}, "helm": {}}]))).expect_err("refused");
    assert!(e.to_string().starts_with(&format!("{ORIGIN}: `spec.postRenderers[0].helm`: unknown field")), "{e}");
}

#[test]
fn objects_kustomize_refuses_are_named_as_the_rendered_objects() {
    // Two objects with one identity: kustomize refuses to accumulate them.
    let mut input = rendered();
    input.push(input[2].clone());
    let want = kubectl_chain(&values(&input), &["resources: [helm-output.yaml]\n"]);
    assert!(want.is_err(), "kubectl accepted a duplicate: {want:?}");
    let e = post_render(ORIGIN, input, Some(&json!([{"kustomize": {}}]))).expect_err("refused").to_string();
    let want = format!(
        "{ORIGIN}: `spec.postRenderers[0]`: the rendered objects: may not add resource with an already registered id: ConfigMap.v1.[noGrp]/podinfo-config"
    );
    assert!(e.starts_with(&want), "{e}");
    assert!(!e.contains(&std::env::temp_dir().display().to_string()), "no temporary path in {e}");
}
