//! `gitops health` and `gitops health test`.

use serde_json::Value;

use crate::{err, gitops, gitops_within, mkfifo, out};

const LIVE: &str = "examples/health/live";
const CUSTOM: &str = "examples/health/customizations";
const CM: &str = "examples/health/argocd-cm.yaml";

#[test]
fn example_reports_each_object_and_the_aggregate() {
    let o = gitops(&["health", LIVE, "--customizations", CUSTOM, "--argocd-cm", CM], None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    assert!(text.contains("Healthy      apps/Deployment"), "{text}");
    assert!(text.contains("Progressing  apps/StatefulSet"), "{text}");
    assert!(text.contains("Waiting for 1 pods to be ready..."), "{text}");
    assert!(text.contains("3 shards ready"), "{text}");
    assert!(text.contains("Certificate is up to date"), "{text}");
    assert!(text.contains("no health check"), "{text}");
    assert!(text.contains("Job failed: Job has reached the specified backoff limit (hook: not counted)"), "{text}");
    assert!(text.contains("app health: Progressing (1 object Progressing: apps/StatefulSet/shop/db)"), "{text}");
}

#[test]
fn json_gives_key_fields_status_message_and_check() {
    let o = gitops(&["health", LIVE, "--customizations", CUSTOM, "--argocd-cm", CM, "-o", "json"], None);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let v: Value = serde_json::from_str(&out(&o)).expect("JSON");
    assert_eq!(v["health"]["status"], "Progressing");
    assert_eq!(v["health"]["causes"][0], "apps/StatefulSet/shop/db");
    let objects = v["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 6);
    let by_name = |n: &str| objects.iter().find(|o| o["name"] == n).expect(n);
    let widget = by_name("cache");
    assert_eq!((widget["group"].as_str(), widget["kind"].as_str()), (Some("example.com"), Some("Widget")));
    assert_eq!(widget["namespace"], "shop");
    assert_eq!(widget["status"], "Healthy");
    assert_eq!(widget["check"]["type"], "lua");
    let job = by_name("migrate");
    assert_eq!(job["check"]["origin"], "resource.customizations.health.batch_Job");
    assert_eq!(by_name("web")["check"]["type"], "builtin");
    let cm = by_name("web-config");
    assert_eq!((cm["status"].is_null(), cm["check"]["type"].as_str()), (true, Some("none")));
}

#[test]
fn healthy_input_exits_0_and_stdin_works() {
    let text = std::fs::read_to_string(crate::repo().join(LIVE).join("web-deployment.yaml")).expect("read");
    let o = gitops(&["health", "-"], Some(&text));
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("app health: Healthy"), "{}", out(&o));
}

#[test]
fn bad_input_exits_2_and_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n").expect("write");
    let o = gitops(&["health", bad.to_str().expect("utf-8")], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("bad.yaml"), "{}", err(&o));
    let o = gitops(&["health", LIVE, "--customizations", "no/such/dir"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no/such/dir"), "{}", err(&o));
    let cm = dir.path().join("cm.yaml");
    std::fs::write(&cm, "data:\n  resource.customizations.useOpenLibs.apps_Deployment: maybe\n").expect("write");
    let o = gitops(&["health", LIVE, "--argocd-cm", cm.to_str().expect("utf-8")], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("resource.customizations.useOpenLibs.apps_Deployment"), "{}", err(&o));
}

#[test]
fn test_runner_passes_the_bundled_checks_and_the_example() {
    for dir in ["gitops-health/checks", CUSTOM] {
        let o = gitops(&["health", "test", dir], None);
        let text = out(&o);
        assert_eq!(o.status.code(), Some(0), "{dir}: {text}{}", err(&o));
        assert!(text.trim_end().ends_with(" passed, 0 failed"), "{text}");
    }
}

#[test]
fn test_runner_reports_failures_as_argo_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let kind_dir = root.join("example.com/Gadget");
    std::fs::create_dir_all(kind_dir.join("testdata")).expect("mkdir");
    std::fs::write(kind_dir.join("health.lua"), "return {status = obj.status.phase, message = obj.status.msg}\n")
        .expect("write");
    // Field names in any case; the input's first document only; one case fails on a message.
    std::fs::write(
        kind_dir.join("health_test.yaml"),
        "tests:\n- healthStatus:\n    status: Healthy\n    message: fine\n  inputPath: testdata/ok.yaml\n\
         - HealthStatus:\n    Status: Degraded\n    message: \"broken\\n\"\n  InputPath: testdata/bad.yaml\n\
         - healthStatus:\n    status: Healthy\n  inputpath: testdata/missing.yaml\n",
    )
    .expect("write");
    let gadget = |phase: &str, msg: &str| {
        format!(
            "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {{name: g}}\nstatus: {{phase: {phase}, msg: {msg:?}}}\n---\nnot: [valid\n"
        )
    };
    std::fs::write(kind_dir.join("testdata/ok.yaml"), gadget("Healthy", "fine")).expect("write");
    std::fs::write(kind_dir.join("testdata/bad.yaml"), gadget("Degraded", "broken")).expect("write");
    // A script without a test file is a failure too, as in Argo CD.
    std::fs::create_dir_all(root.join("example.com/Orphan")).expect("mkdir");
    std::fs::write(root.join("example.com/Orphan/health.lua"), "return nil\n").expect("write");

    let o = gitops(&["health", "test", root.to_str().expect("utf-8")], None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    assert!(text.contains("FAIL example.com/Orphan/health.lua: no health_test.yaml beside it"), "{text}");
    assert!(text.contains("FAIL example.com/Gadget/health_test.yaml tests[1] (testdata/bad.yaml)"), "{text}");
    assert!(text.contains("expected: \"Degraded\" \"broken\\n\""), "{text}");
    assert!(text.contains("got:      \"Degraded\" \"broken\""), "{text}");
    assert!(text.contains("tests[2] (testdata/missing.yaml)"), "{text}");
    assert!(text.trim_end().ends_with("1 passed, 3 failed"), "{text}");

    let o = gitops(&["health", "test", "no/such/dir"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn fifos_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipe = dir.path().join("pipe.yaml");
    mkfifo(&pipe);
    let scripts = dir.path().join("scripts/example.com/Gadget");
    std::fs::create_dir_all(&scripts).expect("mkdir");
    mkfifo(&scripts.join("health.lua"));
    let p = pipe.to_str().expect("utf-8");
    let s = dir.path().join("scripts");
    let s = s.to_str().expect("utf-8");
    for args in [
        &["health", p][..],
        &["health", LIVE, "--argocd-cm", p],
        &["health", LIVE, "--customizations", s],
        &["health", "test", s],
    ] {
        let o = gitops_within(args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(err(&o).contains("is a FIFO, not a regular file"), "{args:?}: {}", err(&o));
    }
}

/// `--live` takes a cluster (`kube`, `kube:CONTEXT`) and nothing else; --app and --kubeconfig
/// only with it; an unreachable cluster is named with its URL.
#[test]
fn live_health_reads_a_cluster_and_says_which_when_it_cannot() {
    let o = gitops(&["health", "--live", "dir:x"], None);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("expected kube or kube:CONTEXT"), "{}", err(&o));
    let o = gitops(&["health", LIVE, "--app", "examples/shop/app.yaml"], None);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--live"), "{}", err(&o));
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\nusers: [{name: dev, user: {token: abc}}]\ncontexts: [{name: dev, context: {cluster: c, user: dev}}]\n",
    )
    .expect("write");
    let o = gitops(
        &[
            "health",
            "--live",
            "kube",
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8"),
            "--app",
            "examples/shop/app.yaml",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}{}", out(&o), err(&o));
    assert!(err(&o).contains("https://127.0.0.1:1/"), "{}", err(&o));
}
