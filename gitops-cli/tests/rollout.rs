//! `gitops rollout`: the example canary and blue-green Rollouts stepped through against a real
//! Prometheus (Debian's, `GITOPS_PROMETHEUS`) scraping canaries served on loopback, written to
//! a FileCluster and shown by `rollout get`; the verbs as the bundled actions; a kube target
//! (the stand-in); bad input.

use std::path::Path;

use gitops_standin::prometheus::{self, Canaries, Service};
use serde_json::Value;

use crate::action::{stored, target};
use crate::{err, gitops, out, write_under};

const CANARY_ROLLOUT: &str = "examples/analysis/rollout-canary.yaml";
const BLUE_GREEN: &str = "examples/analysis/rollout-bluegreen.yaml";
const TEMPLATES: [&str; 2] = ["examples/analysis/canary.yaml", "examples/analysis/background.yaml"];

fn canaries() -> Canaries {
    Canaries::serve(vec![
        Service { name: "good".into(), error_ratio: 0.0, p99_seconds: 0.12 },
        Service { name: "bad".into(), error_ratio: 0.2, p99_seconds: 0.15 },
        Service { name: "slow".into(), error_ratio: 0.0, p99_seconds: 0.9 },
    ])
    .expect("serve metrics")
}

/// A FileCluster with namespace `shop` and the Rollout and AnalysisRun CRDs.
fn cluster() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write_under(
        root,
        "_cluster/core/Namespace/shop.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    for (plural, kind) in [("rollouts", "Rollout"), ("analysisruns", "AnalysisRun")] {
        write_under(
            root,
            &format!("_cluster/apiextensions.k8s.io/CustomResourceDefinition/{plural}.argoproj.io.yaml"),
            &format!(
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.argoproj.io\nspec:\n  group: argoproj.io\n  scope: Namespaced\n  names: {{kind: {kind}, plural: {plural}}}\n  versions:\n  - name: v1alpha1\n    served: true\n    storage: true\n"
            ),
        );
    }
    dir
}

/// The example with `from` replaced by `to`, written under `dir`.
fn example_with(dir: &Path, example: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(crate::repo().join(example)).expect("example");
    assert!(text.contains(from), "{example} has no {from}");
    let path = dir.join("rollout.yaml");
    std::fs::write(&path, text.replace(from, to)).expect("write");
    path.display().to_string()
}

fn run(rollout: &str, prom: &str, extra: &[&str]) -> std::process::Output {
    run_scaled(rollout, prom, "0.005", extra)
}

/// With a minute lasting `scale` minutes.
fn run_scaled(rollout: &str, prom: &str, scale: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["rollout", "run", rollout, "--templates", TEMPLATES[0], TEMPLATES[1]];
    args.extend(["--prometheus", prom, "--interval-scale", scale]);
    args.extend(extra);
    gitops(&args, None)
}

#[test]
fn a_healthy_canary_reaches_its_last_step_and_get_shows_it() {
    let metrics = canaries();
    let Some(prom) = prometheus::or_skip("rollout::a_healthy_canary", &metrics.address) else { return };
    let files = tempfile::tempdir().expect("tempdir");
    let rollout = example_with(files.path(), CANARY_ROLLOUT, "canary-service: shop-canary", "canary-service: good");
    let dir = cluster();
    let o = run(&rollout, &prom.url, &["--target", &target(dir.path())]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    for step in [
        "step 0: setWeight: 20",
        "step 1: pause: 2m",
        "step 2: analysis: canary",
        "step 3: setWeight: 60",
        "step 4: pause: 1m",
    ] {
        assert!(text.contains(step), "{step}\n{text}");
    }
    let stored_rollout = stored(dir.path(), "shop/argoproj.io/Rollout/shop.yaml");
    let hash = stored_rollout["status"]["currentPodHash"].as_str().expect("hash").to_string();
    let step_run = format!("shop-{hash}-1-2");
    let background = format!("shop-{hash}-1");
    assert!(text.contains(&format!("analysis {step_run} Successful")), "{text}");
    // The background analysis measured the canary (with its hash in a header) and was
    // terminated after the last step.
    assert!(text.contains(&format!("{background} p99: Successful [0.12]")), "{text}");
    assert!(text.contains(&format!("analysis {background} Successful")), "{text}");
    assert!(text.trim_end().ends_with("rollout shop: ✔ Healthy"), "{text}");
    assert_eq!(stored_rollout["status"]["phase"], "Healthy");
    assert_eq!(stored_rollout["status"]["currentStepIndex"], 5);
    assert_eq!(stored_rollout["status"]["stableRS"], hash.as_str());
    let run_doc = stored(dir.path(), &format!("shop/argoproj.io/AnalysisRun/{step_run}.yaml"));
    assert_eq!(run_doc["status"]["phase"], "Successful");
    assert_eq!(run_doc["spec"]["args"][0], serde_json::json!({"name": "service", "value": "good"}));
    assert_eq!(run_doc["metadata"]["ownerReferences"][0]["uid"], stored_rollout["metadata"]["uid"]);
    assert_eq!(run_doc["status"]["metricResults"][0]["successful"], 5);
    let bg_doc = stored(dir.path(), &format!("shop/argoproj.io/AnalysisRun/{background}.yaml"));
    assert_eq!(bg_doc["spec"]["args"][0], serde_json::json!({"name": "canary-hash", "value": hash}));

    let o = gitops(&["rollout", "get", "shop", "-n", "shop", "--target", &target(dir.path())], None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    for line in [
        "Name:            shop",
        "Status:          ✔ Healthy",
        "Strategy:        Canary",
        "  Step:          5/5",
        "  SetWeight:     100",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert!(text.contains("# revision:1"), "{text}");
    assert!(
        text.lines().any(|l| l.contains(&format!("α {step_run}")) && l.contains("✔ Successful") && l.contains("✔ 10")),
        "{text}"
    );
    let o = gitops(&["rollout", "get", "shop", "-n", "shop", "--target", &target(dir.path()), "-o", "json"], None);
    let info: Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!((info["status"].as_str(), info["icon"].as_str()), (Some("Healthy"), Some("✔")));
    assert_eq!(info["revisions"][0]["analysisRuns"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_bad_canary_aborts_after_failure_limit_and_a_slow_one_by_its_background_analysis() {
    let metrics = canaries();
    let Some(prom) = prometheus::or_skip("rollout::a_bad_canary", &metrics.address) else { return };
    let files = tempfile::tempdir().expect("tempdir");
    let rollout = example_with(files.path(), CANARY_ROLLOUT, "canary-service: shop-canary", "canary-service: bad");
    let dir = cluster();
    let o = run(&rollout, &prom.url, &["--target", &target(dir.path())]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    assert_eq!(text.matches("success-rate: Failed").count(), 3, "{text}");
    assert!(!text.contains("step 3"), "{text}");
    let why = "Metric \"success-rate\" assessed Failed due to failed (3) > failureLimit (2)";
    assert!(
        text.trim_end().ends_with(&format!(
            "rollout shop: ✖ Degraded: RolloutAborted: Rollout aborted update to revision 1: {why}"
        )),
        "{text}"
    );
    let stored_rollout = stored(dir.path(), "shop/argoproj.io/Rollout/shop.yaml");
    assert_eq!(stored_rollout["status"]["abort"], true);
    assert_eq!(stored_rollout["status"]["currentStepIndex"], 2);
    assert_eq!(stored_rollout["status"]["canary"]["currentStepAnalysisRunStatus"]["status"], "Failed");
    let o = gitops(&["rollout", "get", "shop", "-n", "shop", "--target", &target(dir.path())], None);
    let text = out(&o);
    assert!(text.contains("Status:          ✖ Degraded"), "{text}");
    assert!(
        text.contains(&format!("Message:         RolloutAborted: Rollout aborted update to revision 1: {why}")),
        "{text}"
    );
    assert!(text.contains("  SetWeight:     0"), "{text}");

    // Slow: the background analysis (failureLimit 1) fails at its second measurement, during
    // the two-minute pause, before the step analysis starts (a minute of margin: 0.6 s).
    let rollout = example_with(files.path(), CANARY_ROLLOUT, "canary-service: shop-canary", "canary-service: slow");
    let o = run_scaled(&rollout, &prom.url, "0.01", &["-o", "json"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    let doc: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["phase"], "Degraded");
    assert!(
        doc["message"]
            .as_str()
            .unwrap_or("")
            .ends_with("Metric \"p99\" assessed Failed due to failed (2) > failureLimit (1)"),
        "{text}"
    );
    assert_eq!(doc["status"]["currentStepIndex"], 1);
    assert_eq!(doc["analysisRuns"].as_array().map(Vec::len), Some(1), "{text}");
    assert_eq!(doc["analysisRuns"][0]["type"], "Background");
}

#[test]
fn blue_green_pre_promotion_failure_keeps_the_active_service_on_the_old_revision() {
    let metrics = canaries();
    let Some(prom) = prometheus::or_skip("rollout::blue_green", &metrics.address) else { return };
    let files = tempfile::tempdir().expect("tempdir");
    let live = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: checkout\n  namespace: shop\n  uid: u-checkout\n  annotations:\n    rollout.argoproj.io/revision: \"3\"\nspec:\n  template:\n    spec:\n      containers:\n      - name: checkout\n        image: registry.example/checkout:1.3.0\n  strategy:\n    blueGreen: {activeService: checkout}\nstatus:\n  phase: Healthy\n  stableRS: 7c9d8f6b5\n  currentPodHash: 7c9d8f6b5\n  blueGreen:\n    activeSelector: 7c9d8f6b5\n";
    let dir = cluster();
    write_under(dir.path(), "shop/argoproj.io/Rollout/checkout.yaml", live);
    let rollout = example_with(files.path(), BLUE_GREEN, "value: checkout-preview", "value: bad");
    let o = run(&rollout, &prom.url, &["--target", &target(dir.path())]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    assert!(!text.contains("active service"), "{text}");
    let stored_rollout = stored(dir.path(), "shop/argoproj.io/Rollout/checkout.yaml");
    let hash = stored_rollout["status"]["currentPodHash"].as_str().expect("hash").to_string();
    assert!(text.contains(&format!("analysis checkout-{hash}-4-pre Failed")), "{text}");
    assert_eq!(stored_rollout["status"]["blueGreen"]["activeSelector"], "7c9d8f6b5");
    assert_eq!(stored_rollout["status"]["blueGreen"]["previewSelector"], hash.as_str());
    assert_eq!(stored_rollout["status"]["stableRS"], "7c9d8f6b5");
    assert_eq!(stored_rollout["status"]["phase"], "Degraded");
    assert_eq!(stored_rollout["metadata"]["uid"], "u-checkout");
    assert_eq!(stored_rollout["status"]["blueGreen"]["prePromotionAnalysisRunStatus"]["status"], "Failed");

    // Healthy preview and active services: promoted after the pre-promotion analysis, stable
    // after the post-promotion one.
    let rollout = example_with(files.path(), BLUE_GREEN, "value: checkout-preview", "value: good");
    let rollout_text = std::fs::read_to_string(&rollout).expect("read").replace("value: checkout\n", "value: good\n");
    std::fs::write(&rollout, rollout_text).expect("write");
    let dir = cluster();
    write_under(dir.path(), "shop/argoproj.io/Rollout/checkout.yaml", live);
    let o = run(&rollout, &prom.url, &["--target", &target(dir.path())]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    let stored_rollout = stored(dir.path(), "shop/argoproj.io/Rollout/checkout.yaml");
    let hash = stored_rollout["status"]["currentPodHash"].as_str().expect("hash").to_string();
    let pre = text.find(&format!("analysis checkout-{hash}-4-pre Successful")).expect(&text);
    let switched = text.find(&format!("active service now selects {hash}")).expect(&text);
    let post = text.find(&format!("analysis checkout-{hash}-4-post Successful")).expect(&text);
    assert!(pre < switched && switched < post, "{text}");
    assert_eq!(stored_rollout["status"]["blueGreen"]["activeSelector"], hash.as_str());
    assert_eq!(stored_rollout["status"]["stableRS"], hash.as_str());
    let o = gitops(&["rollout", "get", "checkout", "-n", "shop", "--target", &target(dir.path()), "-o", "yaml"], None);
    assert!(out(&o).contains("status: Healthy\n"), "{}", out(&o));
    assert!(out(&o).contains("strategy: BlueGreen\n"), "{}", out(&o));
}

/// A canary paused at step 1 (of 3) with its ReplicaSets and a pod.
fn paused(dir: &Path) {
    write_under(
        dir,
        "shop/argoproj.io/Rollout/web.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\n  namespace: shop\n  uid: u-web\n  generation: 2\nspec:\n  replicas: 4\n  strategy:\n    canary:\n      steps:\n      - setWeight: 25\n      - pause: {}\n      - analysis: {templates: [{templateName: canary}]}\nstatus:\n  observedGeneration: \"2\"\n  phase: Paused\n  message: CanaryPauseStep\n  currentPodHash: new\n  stableRS: old\n  currentStepIndex: 1\n  controllerPause: true\n  pauseConditions:\n  - reason: CanaryPauseStep\n  replicas: 4\n  updatedReplicas: 1\n  readyReplicas: 4\n  availableReplicas: 4\n",
    );
    let rs = |name: &str, hash: &str, rev: u32, image: &str, n: u32| {
        format!(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\n  namespace: shop\n  generation: 1\n  labels: {{rollouts-pod-template-hash: {hash}}}\n  annotations: {{rollout.argoproj.io/revision: \"{rev}\"}}\n  ownerReferences:\n  - {{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: web, uid: u-web}}\nspec:\n  replicas: {n}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - {{name: web, image: \"{image}\"}}\nstatus:\n  observedGeneration: 1\n  replicas: {n}\n  availableReplicas: {n}\n"
        )
    };
    write_under(dir, "shop/apps/ReplicaSet/web-old.yaml", &rs("web-old", "old", 1, "web:1", 3));
    write_under(dir, "shop/apps/ReplicaSet/web-new.yaml", &rs("web-new", "new", 2, "web:2", 1));
    write_under(
        dir,
        "shop/core/Pod/web-new-x1.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-new-x1\n  namespace: shop\n  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-new, uid: x}\nspec:\n  containers:\n  - {name: web, image: \"web:2\"}\nstatus:\n  phase: Running\n  containerStatuses:\n  - {name: web, ready: true, state: {running: {}}}\n",
    );
}

#[test]
fn get_shows_the_tree_and_the_verbs_are_the_bundled_actions() {
    let dir = cluster();
    paused(dir.path());
    let t = target(dir.path());
    let on = |verb: &[&str]| {
        let mut args = vec!["rollout"];
        args.extend(verb);
        args.extend(["web", "-n", "shop", "--target", &t]);
        gitops(&args, None)
    };
    let o = on(&["get"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    for line in [
        "Status:          ॥ Paused",
        "Message:         CanaryPauseStep",
        "  Step:          1/3",
        "  SetWeight:     25",
        "  ActualWeight:  25",
        "Images:          web:1 (stable)",
        "                 web:2 (canary)",
        "  Desired:       4",
        "  Updated:       1",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    let tree: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("NAME")).collect();
    let expect = [
        ("⟳ web", "Rollout", "॥ Paused", ""),
        ("├──# revision:2", "", "", ""),
        ("│  └──⧉ web-new", "ReplicaSet", "✔ Healthy", "canary"),
        ("│     └──□ web-new-x1", "Pod", "✔ Running", "ready:1/1"),
        ("└──# revision:1", "", "", ""),
        ("   └──⧉ web-old", "ReplicaSet", "✔ Healthy", "stable"),
    ];
    assert_eq!(tree.len(), expect.len() + 1, "{text}");
    for (line, (name, kind, status, info)) in tree[1..].iter().zip(expect) {
        assert!(
            line.starts_with(name) && line.contains(kind) && line.contains(status) && line.ends_with(info),
            "{line}\n{text}"
        );
    }

    let status = || stored(dir.path(), "shop/argoproj.io/Rollout/web.yaml");
    // Paused: promote resumes (the pause conditions go), it does not skip a step.
    let o = on(&["promote"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("rollout 'web' promoted (action resume)"), "{}", out(&o));
    assert!(status()["status"].get("pauseConditions").is_none());
    assert_eq!(status()["status"]["currentStepIndex"], 1);
    // Not paused: promote skips the current step.
    let o = on(&["promote"]);
    assert!(out(&o).contains("(action skip-current-step)"), "{}", out(&o));
    assert_eq!(status()["status"]["currentStepIndex"], 2);
    let o = on(&["abort"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(status()["status"]["abort"], true);
    let o = on(&["retry"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(status()["status"].get("abort").is_none());
    on(&["pause"]);
    assert_eq!(status()["spec"]["paused"], true);
    on(&["resume"]);
    assert_eq!(status()["spec"]["paused"], false);
    let o = on(&["promote", "--full"]);
    assert!(out(&o).contains("rollout 'web' fully promoted (action promote-full)"), "{}", out(&o));
    assert_eq!(
        (status()["status"]["promoteFull"].as_bool(), status()["status"]["currentStepIndex"].as_i64()),
        (Some(true), Some(3))
    );

    let o = gitops(&["rollout", "get", "nope", "-n", "shop", "--target", &t], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("not found"), "{}", err(&o));
}

#[test]
fn bad_rollouts_and_templates_are_refused_before_anything_runs() {
    let files = tempfile::tempdir().expect("tempdir");
    let dir = cluster();
    paused(dir.path());
    let before = std::fs::read_to_string(dir.path().join("shop/argoproj.io/Rollout/web.yaml")).expect("read");
    let t = target(dir.path());
    // A template the files do not hold.
    let rollout = example_with(files.path(), CANARY_ROLLOUT, "templateName: canary", "templateName: canary-v2");
    let o = gitops(&["rollout", "run", &rollout, "--templates", TEMPLATES[0], TEMPLATES[1], "--target", &t], None);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("no AnalysisTemplate named `canary-v2` in the template files"), "{}", err(&o));
    assert!(out(&o).is_empty(), "{}", out(&o));
    // An experiment step.
    let rollout = example_with(files.path(), CANARY_ROLLOUT, "- setWeight: 60", "- experiment: {templates: []}");
    let o = gitops(&["rollout", "run", &rollout, "--templates", TEMPLATES[0], TEMPLATES[1]], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("Rollout/shop: step 3: experiment steps are not run here"), "{}", err(&o));
    // A fieldRef the Rollout does not have.
    let rollout = example_with(files.path(), CANARY_ROLLOUT, "shop.example/canary-service: shop-canary", "other: x");
    let o = gitops(&["rollout", "run", &rollout, "--templates", TEMPLATES[0], TEMPLATES[1]], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o)
            .contains("argument `service`: fieldPath `metadata.annotations['shop.example/canary-service']` is not set"),
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("shop/argoproj.io/Rollout/web.yaml")).expect("read"), before);
}

#[test]
fn get_and_promote_on_a_kube_target() {
    let server = gitops_standin::ApiServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig("standin", "default")).expect("write");
    let k = kubeconfig.display().to_string();
    server.insert(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}), "test");
    server.insert(
        serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "rollouts.argoproj.io"},
            "spec": {"group": "argoproj.io", "scope": "Namespaced", "names": {"kind": "Rollout", "plural": "rollouts"},
                     "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}}}]},
            "status": {"conditions": [{"type": "Established", "status": "True"}]}}),
        "test",
    );
    server.insert(
        serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 2, "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}},
            "status": {"phase": "Paused", "message": "CanaryPauseStep", "currentStepIndex": 1,
                       "pauseConditions": [{"reason": "CanaryPauseStep"}], "controllerPause": true}}),
        "test",
    );
    let on = |verb: &str| {
        gitops(&["rollout", verb, "web", "-n", "shop", "--target", "kube:standin", "--kubeconfig", &k], None)
    };
    let o = on("get");
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("Status:          ॥ Paused"), "{}", out(&o));
    assert!(out(&o).contains("  SetWeight:     50"), "{}", out(&o));
    let o = on("promote");
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let live = server.get("argoproj.io/v1alpha1", "Rollout", "shop", "web").expect("web");
    assert!(live["status"].get("pauseConditions").is_none(), "{live}");
    let o = on("get");
    assert!(out(&o).contains("Message:         waiting for rollout to unpause"), "{}", out(&o));
}

/// Serves `{"rate": 0.99}` to every request on loopback.
fn json_endpoint() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(&stream);
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = r#"{"rate": 0.99}"#;
            let _ = (&stream).write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                    .as_bytes(),
            );
        }
    });
    address
}

#[test]
fn run_writes_the_rollout_and_its_analysis_runs_to_a_kube_target() {
    let server = gitops_standin::ApiServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig("standin", "default")).expect("write");
    let k = kubeconfig.display().to_string();
    server.insert(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}), "test");
    for (plural, kind) in [("rollouts", "Rollout"), ("analysisruns", "AnalysisRun")] {
        server.insert(
            serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": format!("{plural}.argoproj.io")},
                "spec": {"group": "argoproj.io", "scope": "Namespaced", "names": {"kind": kind, "plural": plural},
                         "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}}}]},
                "status": {"conditions": [{"type": "Established", "status": "True"}]}}),
            "test",
        );
    }
    let url = json_endpoint();
    write_under(
        dir.path(),
        "template.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: rate\nspec:\n  metrics:\n  - name: rate\n    successCondition: result >= 0.95\n    provider:\n      web:\n        url: {url}/rate\n        jsonPath: \"{{$.rate}}\"\n"
        ),
    );
    write_under(
        dir.path(),
        "rollout.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - {name: api, image: \"api:2\"}\n  strategy:\n    canary:\n      steps:\n      - setWeight: 50\n      - analysis: {templates: [{templateName: rate}]}\n",
    );
    let path = |f: &str| dir.path().join(f).display().to_string();
    let o = gitops(
        &[
            "rollout",
            "run",
            &path("rollout.yaml"),
            "--templates",
            &path("template.yaml"),
            "--target",
            "kube:standin",
            "--kubeconfig",
            &k,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let rollout = server.get("argoproj.io/v1alpha1", "Rollout", "shop", "api").expect("rollout");
    assert_eq!(
        (rollout["status"]["phase"].as_str(), rollout["status"]["currentStepIndex"].as_i64()),
        (Some("Healthy"), Some(2))
    );
    let run = server.objects().into_iter().find(|o| o["kind"] == "AnalysisRun").expect("an AnalysisRun");
    // Owned by the Rollout as the server stored it.
    assert_eq!(run["metadata"]["ownerReferences"][0]["uid"], rollout["metadata"]["uid"]);
    assert_eq!(run["status"]["phase"], "Successful");
    assert_eq!(run["status"]["metricResults"][0]["measurements"][0]["value"], "0.99");
    let o = gitops(&["rollout", "get", "api", "-n", "shop", "--target", "kube:standin", "--kubeconfig", &k], None);
    assert!(out(&o).contains("Status:          ✔ Healthy"), "{}", out(&o));
    assert!(out(&o).lines().any(|l| l.contains("α api-") && l.contains("✔ Successful")), "{}", out(&o));
}
