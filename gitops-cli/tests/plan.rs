//! `gitops plan`.

use serde_json::Value;

use crate::{err, gitops, out};

const ARGS: [&str; 5] = ["plan", "examples/plan/desired", "examples/plan/live", "--app", "examples/plan/app.yaml"];

#[test]
fn example_plan_orders_steps_and_says_why() {
    let o = gitops(&ARGS, None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let at = |needle: &str| {
        // A step header matches whole; anything else matches within a line.
        let found = if needle.contains(" wave ") {
            lines.iter().position(|l| *l == needle)
        } else {
            lines.iter().position(|l| l.contains(needle))
        };
        found.unwrap_or_else(|| panic!("{needle}:\n{text}"))
    };
    // The namespace is hoisted ahead of the PreSync hook that runs in it.
    assert!(at("create        Namespace") < at("hook create   batch/Job"));
    assert!(at("PreSync wave 0") < at("Sync wave 0"));
    // The CRD comes before its custom resource.
    assert!(at("CustomResourceDefinition") < at("example.com/Widget"));
    // PruneLast moves prunes after every Sync wave; Prune=false is kept.
    assert!(at("Sync wave 2") < at("Sync wave 3"));
    assert!(lines.iter().any(|l| l.starts_with("prune skipped ConfigMap") && l.ends_with("Prune=false")), "{text}");
    // A Helm post-upgrade hook runs PostSync; an untracked object is never pruned.
    assert!(at("PostSync wave 0") < at("smoke-test"));
    assert!(text.contains("PreSync hook; deleted once it succeeds (HookSucceeded)"), "{text}");
    assert!(text.contains("skipped /ConfigMap/shop/team-notes: not tracked by this app: never pruned"), "{text}");
    assert!(
        text.contains("plan: 4 to create, 1 to update, 0 unchanged, 1 to prune, 1 prune skipped, 2 hooks"),
        "{text}"
    );
}

#[test]
fn json_plan_is_stable() {
    let mut args = ARGS.to_vec();
    args.extend(["-o", "json"]);
    let o = gitops(&args, None);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let v: Value = serde_json::from_str(&out(&o)).expect("JSON");
    assert_eq!(v["hasWork"], true);
    assert_eq!(v["summary"]["create"], 4);
    let tasks = v["tasks"].as_array().expect("tasks");
    let web = tasks.iter().find(|t| t["key"] == "apps/Deployment/shop/web").expect("web");
    assert_eq!(
        (web["phase"].as_str(), web["wave"].as_i64(), web["action"].as_str()),
        (Some("Sync"), Some(2), Some("update"))
    );
    let migrate = tasks.iter().find(|t| t["name"] == "migrate").expect("hook");
    assert_eq!(migrate["action"], "hookCreate");
    assert_eq!(migrate["deletePolicies"][0], "HookSucceeded");
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["phase"], "PreSync");
    let covered: usize = steps.iter().map(|s| s["tasks"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(covered, tasks.len());
    assert!(v["errors"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(v["retry"]["limit"], 5);
    assert_eq!(v["retry"]["delaysSeconds"][4], 80.0);
}

#[test]
fn nothing_to_do_exits_0() {
    let o = gitops(&["plan", "examples/shop/live/web-service.yaml", "examples/shop/live/web-service.yaml"], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("nothing to do"), "{}", out(&o));
}

#[test]
fn an_empty_render_is_refused_and_bad_input_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().to_str().expect("utf-8");
    let o = gitops(&["plan", empty, "examples/plan/live", "--app", "examples/plan/app.yaml"], None);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(out(&o).contains("allowEmpty"), "{}", out(&o));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations: {argocd.argoproj.io/sync-options: Prune=maybe}\n")
        .expect("write");
    let o = gitops(&["plan", bad.to_str().expect("utf-8"), "examples/plan/live"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("Prune=maybe"), "{}", err(&o));
}

#[test]
fn plans_print_and_list_tasks_in_execution_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (desired, live) = (dir.path().join("desired.yaml"), dir.path().join("live.yaml"));
    let seed = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: seed\n  namespace: shop\n  annotations: {argocd.argoproj.io/hook: Sync}\n";
    std::fs::write(&desired, format!("apiVersion: v1\nkind: Service\nmetadata: {{name: api, namespace: shop}}\nspec: {{ports: [{{port: 80}}]}}\n---\n{seed}"))
        .expect("write");
    // A Deployment sorts after a Service in Argo CD's kind order, but the sync prunes it first.
    std::fs::write(
        &live,
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: legacy, namespace: shop}}\n---\n{seed}"),
    )
    .expect("write");
    let (d, l) = (desired.to_str().expect("utf-8"), live.to_str().expect("utf-8"));
    let o = gitops(&["plan", d, l, "--prune"], None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle}:\n{text}"));
    assert!(at("prune         apps/Deployment") < at("delete hook   batch/Job"), "{text}");
    assert!(at("delete hook   batch/Job") < at("create        Service"), "{text}");
    assert!(at("create        Service") < at("hook create   batch/Job"), "{text}");

    let o = gitops(&["plan", d, l, "--prune", "-o", "json"], None);
    let v: Value = serde_json::from_str(&out(&o)).expect("JSON");
    let order: Vec<(&str, &str)> = v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| (t["action"].as_str().unwrap_or(""), t["name"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(order, [("prune", "legacy"), ("create", "api"), ("hookCreate", "seed")]);
    assert_eq!(v["steps"][0]["deleteHooks"], serde_json::json!([2]));
}

/// A custom kind's scope comes from its CRD (in the desired state or the target), never from a
/// guess: a ClusterIssuer gets no namespace, and one whose scope nothing tells is refused.
#[test]
fn custom_kinds_are_scoped_by_their_crd_or_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer =
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\nspec: {selfSigned: {}}\n";
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: clusterissuers.cert-manager.io}\nspec: {group: cert-manager.io, scope: Cluster, names: {kind: ClusterIssuer, plural: clusterissuers}, versions: [{name: v1, served: true, storage: true}]}\n";
    let (desired, live, empty) = (dir.path().join("d.yaml"), dir.path().join("live.yaml"), dir.path().join("e.yaml"));
    std::fs::write(&desired, issuer).expect("write");
    std::fs::write(&live, crd).expect("write");
    std::fs::write(&empty, "").expect("write");
    let (d, l, e) = (desired.to_str().expect("utf-8"), live.to_str().expect("utf-8"), empty.to_str().expect("utf-8"));
    // The target holds the CRD: the issuer is cluster-scoped.
    let o = gitops(&["plan", d, l, "-n", "shop", "-o", "json"], None);
    let v: Value = serde_json::from_str(&out(&o)).unwrap_or_else(|_| panic!("{}{}", out(&o), err(&o)));
    let keys: Vec<&str> = v["tasks"].as_array().expect("tasks").iter().filter_map(|t| t["key"].as_str()).collect();
    assert!(keys.contains(&"cert-manager.io/ClusterIssuer//letsencrypt"), "{keys:?}");
    // Nothing tells: refused, asking for the CRD.
    let o = gitops(&["plan", d, e, "-n", "shop"], None);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("the scope of ClusterIssuer (cert-manager.io) is unknown"), "{}", err(&o));
    assert!(err(&o).contains("add its CRD"), "{}", err(&o));
}

/// `--argocd-cm` gives plan the system-level diff settings `diff --argocd-cm` applies: a
/// difference its ignoreDifferences cover is no work.
#[test]
fn an_argocd_cm_ignore_rule_leaves_nothing_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deployment = |replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: 'nginx:1.27'}}]}}\n"
        )
    };
    let (desired, live, cm) = (dir.path().join("d.yaml"), dir.path().join("l.yaml"), dir.path().join("cm.yaml"));
    std::fs::write(&desired, deployment(2)).expect("write");
    std::fs::write(&live, deployment(5)).expect("write");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  resource.customizations.ignoreDifferences.apps_Deployment: |\n    jsonPointers:\n    - /spec/replicas\n",
    )
    .expect("write");
    let (d, l, c) = (desired.to_str().expect("utf-8"), live.to_str().expect("utf-8"), cm.to_str().expect("utf-8"));
    let o = gitops(&["plan", d, l], None);
    assert_eq!(o.status.code(), Some(1), "replicas differ: {}{}", out(&o), err(&o));
    assert!(out(&o).contains("1 to update"), "{}", out(&o));
    let o = gitops(&["plan", d, l, "--argocd-cm", c], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("nothing to do: 0 to create, 0 to update, 1 unchanged"), "{}", out(&o));
}
