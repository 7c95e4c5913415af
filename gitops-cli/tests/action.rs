//! `gitops action list|run|test` on a FileCluster and a kube target (the stand-in), and the
//! bundled actions' own tests.

use std::path::Path;

use serde_json::Value;

use crate::{err, gitops, out, write_under};

const CHECKS: &str = "gitops-health/checks";

/// A FileCluster holding namespace `shop` with a Deployment, a CronJob and a Rollout (and its
/// CRD).
fn cluster() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write_under(
        root,
        "_cluster/core/Namespace/shop.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    write_under(
        root,
        "shop/apps/Deployment/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  uid: u-web\n  generation: 1\n  resourceVersion: \"1\"\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    );
    write_under(
        root,
        "shop/batch/CronJob/report.yaml",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: report\n  namespace: shop\n  uid: u-report\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: r\n            image: report:1\n",
    );
    write_under(
        root,
        "_cluster/apiextensions.k8s.io/CustomResourceDefinition/rollouts.argoproj.io.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: rollouts.argoproj.io\nspec:\n  group: argoproj.io\n  scope: Namespaced\n  names: {kind: Rollout, plural: rollouts}\n  versions:\n  - name: v1alpha1\n    served: true\n    storage: true\n",
    );
    write_under(
        root,
        "shop/argoproj.io/Rollout/shop.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: shop\n  namespace: shop\n  generation: 2\nspec:\n  strategy:\n    canary:\n      steps:\n      - setWeight: 20\n      - pause: {}\n      - setWeight: 60\nstatus:\n  observedGeneration: \"2\"\n  currentPodHash: abc\n  stableRS: old\n  currentStepIndex: 1\n  pauseConditions:\n  - reason: CanaryPauseStep\n",
    );
    dir
}

pub(crate) fn target(dir: &Path) -> String {
    format!("dir:{}", dir.display())
}

pub(crate) fn stored(dir: &Path, rel: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(rel)).expect(rel);
    gitops_core::yaml::parse_documents(&text).expect("yaml").remove(0).value
}

#[test]
fn the_bundled_actions_pass_their_own_tests() {
    let o = gitops(&["action", "test", CHECKS], None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    assert!(text.trim_end().ends_with("56 passed, 0 failed"), "{text}");
}

#[test]
fn a_wrong_expectation_fails_and_names_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::copy_dir(&crate::repo().join(CHECKS).join("apps/DaemonSet"), &dir.path().join("apps/DaemonSet"));
    let expected = dir.path().join("apps/DaemonSet/actions/testdata/daemonset-restarted.yaml");
    let text =
        std::fs::read_to_string(&expected).expect("read").replace("2024-01-02T03:04:05Z", "2024-01-02T03:04:06Z");
    std::fs::write(&expected, text).expect("write");
    let o = gitops(&["action", "test", &dir.path().display().to_string()], None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL apps/DaemonSet/actions/action_test.yaml actionTests[0] (restart)"), "{text}");
    assert!(text.contains("restartedAt: expected \"2024-01-02T03:04:06Z\", got \"2024-01-02T03:04:05Z\""), "{text}");
    assert!(text.trim_end().ends_with("2 passed, 1 failed"), "{text}");
    let o = gitops(&["action", "test", "/nonexistent/dir"], None);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
}

#[test]
fn list_shows_what_the_object_offers_now() {
    let dir = cluster();
    let o = gitops(&["action", "list", "deployment/web", "-n", "shop", "--target", &target(dir.path())], None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    let line =
        |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {text}")).to_string();
    assert!(line("resume").contains("true"), "{text}");
    assert!(line("pause").contains("false"), "{text}");
    assert!(line("scale").ends_with("replicas=3"), "{text}");
    let o =
        gitops(&["action", "list", "Rollout/shop", "-n", "shop", "--target", &target(dir.path()), "-o", "json"], None);
    let v: Value = serde_json::from_str(&out(&o)).expect("json");
    let disabled = |n: &str| v.as_array().unwrap().iter().find(|a| a["name"] == n).expect(n)["disabled"].clone();
    assert_eq!(
        (disabled("resume"), disabled("retry"), disabled("abort")),
        (Value::Bool(false), Value::Bool(true), Value::Bool(false))
    );
}

#[test]
fn run_patches_the_object_and_creates_jobs() {
    let dir = cluster();
    let t = target(dir.path());
    let o = gitops(&["action", "run", "deployment/web", "restart", "-n", "shop", "--target", &t], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("apps/Deployment/shop/web: patched by action restart"), "{}", out(&o));
    let web = stored(dir.path(), "shop/apps/Deployment/web.yaml");
    let stamp = web.pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt").expect("stamped");
    assert!(stamp.as_str().is_some_and(|s| s.ends_with('Z') && s.len() == 20), "{stamp}");
    assert_eq!(web["metadata"]["generation"], 2);
    assert_eq!(web["metadata"]["uid"], "u-web");

    let o = gitops(
        &["action", "run", "deployment/web", "scale", "--param", "replicas=5", "-n", "shop", "--target", &t],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(stored(dir.path(), "shop/apps/Deployment/web.yaml")["spec"]["replicas"], 5);

    // Rollout: status through the status subresource.
    let o = gitops(&["action", "run", "rollout/shop", "resume", "-n", "shop", "--target", &t, "-o", "json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(v[0]["patch"], serde_json::json!({"status": {"pauseConditions": null}}));
    let rollout = stored(dir.path(), "shop/argoproj.io/Rollout/shop.yaml");
    assert!(rollout["status"].get("pauseConditions").is_none(), "{rollout}");
    assert_eq!(rollout["status"]["currentStepIndex"], 1);

    let o = gitops(&["action", "run", "cronjob/report", "create-job", "-n", "shop", "--target", &t], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let line = out(&o);
    let key = line.split(':').next().expect("key");
    let name = key.rsplit('/').next().expect("name");
    assert!(key.starts_with("batch/Job/shop/report-"), "{line}");
    let job = stored(dir.path(), &format!("shop/batch/Job/{name}.yaml"));
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], "u-report");
    assert_eq!(job["spec"]["template"]["spec"]["containers"][0]["image"], "report:1");
}

#[test]
fn failing_or_refused_actions_change_nothing() {
    let dir = cluster();
    let t = target(dir.path());
    let before = std::fs::read(dir.path().join("shop/apps/Deployment/web.yaml")).expect("read");
    let custom = tempfile::tempdir().expect("tempdir");
    write_under(custom.path(), "apps/Deployment/actions/spin/action.lua", "while true do end\n");
    write_under(
        custom.path(),
        "apps/Deployment/actions/half/action.lua",
        "obj.spec.replicas = 9\nerror('half done', 0)\n",
    );
    let c = custom.path().display().to_string();
    for (args, message) in [
        (vec!["resume"], "action `resume` is disabled for Deployment/web"),
        (vec!["explode"], "no action `explode` for apps/Deployment"),
        (vec!["scale", "--param", "replicas=many"], "replicas must be a whole number >= 0, not many"),
        (vec!["spin", "--customizations", &c], "time budget"),
        (vec!["half", "--customizations", &c], "half done (nothing was changed)"),
    ] {
        let mut argv = vec!["action", "run", "deployment/web"];
        argv.extend(args.iter().copied());
        argv.extend(["-n", "shop", "--target", &t]);
        let o = gitops(&argv, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", out(&o));
        assert!(err(&o).contains(message), "{args:?}: {}", err(&o));
        assert_eq!(std::fs::read(dir.path().join("shop/apps/Deployment/web.yaml")).expect("read"), before, "{args:?}");
    }
    let o = gitops(&["action", "run", "deployment/gone", "restart", "-n", "shop", "--target", &t], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("apps/Deployment/shop/gone: not found"), "{}", err(&o));
    let o = gitops(&["action", "list", "widget/x", "--target", &t], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no actions for kind `widget`"), "{}", err(&o));
}

#[test]
fn run_on_a_kube_target_patches_status_and_creates() {
    let server = gitops_standin::ApiServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig("standin", "default")).expect("write");
    let k = kubeconfig.display().to_string();
    server.insert(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}), "test");
    server.insert(
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
        "test",
    );
    server.insert(
        serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report", "namespace": "shop", "uid": "u-1"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                     "containers": [{"name": "r", "image": "r:1"}]}}}}}}),
        "test",
    );
    let run = |args: &[&str]| {
        let mut argv = vec!["action", "run"];
        argv.extend(args);
        argv.extend(["-n", "shop", "--target", "kube:standin", "--kubeconfig", &k]);
        gitops(&argv, None)
    };
    let o = run(&["deployment/web", "scale", "--param", "replicas=4"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(server.get("apps/v1", "Deployment", "shop", "web").expect("web")["spec"]["replicas"], 4);
    let patches: Vec<_> = server.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 1, "one merge patch");
    assert_eq!(patches[0].content_type.as_deref(), Some("application/merge-patch+json"));
    assert_eq!(patches[0].body, r#"{"spec":{"replicas":4}}"#);
    let o = run(&["cronjob/report", "create-job"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let created = server.objects().into_iter().find(|o| o["kind"] == "Job").expect("a Job");
    // The server gave the CronJob its own uid; the Job's owner reference names it.
    let cron_uid = server.get("batch/v1", "CronJob", "shop", "report").expect("cronjob")["metadata"]["uid"].clone();
    assert_eq!(created["metadata"]["ownerReferences"][0]["uid"], cron_uid);
    let o = run(&["deployment/web", "pause"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = run(&["deployment/web", "pause"]);
    assert_eq!(o.status.code(), Some(2), "paused already: pause is disabled");
    assert!(err(&o).contains("action `pause` is disabled"), "{}", err(&o));
}
