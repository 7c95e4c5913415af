//! The `gitops` binary against a real `kube-apiserver` (the `k8s-testenv` harness, started once
//! for this binary; skipped, loudly, without `GITOPS_TESTENV`):
//! - the README's example syncs, and a second sync has nothing to do;
//! - after a sync of every example app, `gitops diff` against the cluster, client-side and
//!   `--server-side`, says Synced for every object: no false OutOfSync from server defaults;
//! - drift made by another field manager is OutOfSync in both modes;
//! - `gitops watch --leader-elect`: of two controllers on one Lease only the holder passes, and
//!   a controller that ends releases it, so the next one leads at once;
//! - a fleet on a kube hub: a root Application's children go to the hub and to a cluster its
//!   cluster Secret registers (token and CA, as Argo CD stores them); a second run changes
//!   nothing; a child removed from Git takes its resources with it (resources finalizer); the
//!   hub verbs read it; a Flux Kustomization reaches a cluster through its kubeConfig Secret;
//!   an ApplicationSet generates, walks and removes its Applications there; a RollingSync set
//!   syncs its apps step by step, writing its progress into its status; sets read the Secrets,
//!   ConfigMaps and resources their generators name;
//! - sync impersonation: writes as the AppProject's service account, refused where its RBAC
//!   refuses;
//! - Helm's release Secrets both ways with the real `helm` (`GITOPS_HELM`).
//!
//! The harness has no kubelet; the namespaces used here carry its pretend-kubelet label, so
//! Pods "run", Jobs complete and Deployments become available. A stand-in backup operator
//! completes the example's Backup custom resources (its Lua health check waits for that).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gitops_standin::testenv::{self, TestEnv};
use kube::api::{Patch, PatchParams};
use kube::core::Request;
use serde_json::{Value, json};

use crate::{err, out, repo};

/// Runs `gitops` with `KUBECONFIG` set and stdin fed; fails the test after `secs` (a sync that
/// waits for readiness that cannot come must fail, not hang the suite).
fn gitops_kube(env: &TestEnv, args: &[&str], stdin: Option<&str>, secs: u64) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops"));
    cmd.args(args).current_dir(repo()).env("NO_COLOR", "1").env("KUBECONFIG", env.kubeconfig());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn gitops");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("wait for gitops").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().expect("wait for gitops");
            panic!("gitops {args:?} still running after {secs} s:\n{}{}", out(&o), err(&o));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("wait for gitops")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

async fn client(env: &TestEnv) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(env.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Creates (or labels) namespaces so the harness's pretend kubelet runs their Pods.
fn kubelet_namespaces(env: &TestEnv, names: &[&str]) {
    runtime().block_on(async {
        let client = client(env).await;
        for name in names {
            let body = json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": {"k8s-testenv.gitops.dev/kubelet": "true"}}});
            let pp = PatchParams::apply("test").force();
            let req = Request::new("/api/v1/namespaces").patch(name, &pp, &Patch::Apply(&body)).expect("request");
            client.request::<Value>(req).await.unwrap_or_else(|e| panic!("namespace {name}: {e}"));
        }
    });
}

/// The example's backup operator: marks every Backup completed, until `stop`.
fn backup_operator(env: &'static TestEnv, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        runtime().block_on(async {
            let client = client(env).await;
            let mut completed = 0;
            while !stop.load(Ordering::SeqCst) {
                let list = Request::new("/apis/ops.example.com/v1/backups").list(&Default::default()).expect("list");
                if let Ok(backups) = client.request::<Value>(list).await {
                    for b in backups["items"].as_array().into_iter().flatten().filter(|b| b.get("status").is_none()) {
                        let (ns, name) = (b["metadata"]["namespace"].as_str(), b["metadata"]["name"].as_str());
                        let (Some(ns), Some(name)) = (ns, name) else { continue };
                        let status =
                            json!({"status": {"phase": "Completed", "lastSuccessfulTime": "2026-11-27T01:00:00Z"}});
                        let path = format!("/apis/ops.example.com/v1/namespaces/{ns}/backups");
                        let pp = PatchParams { field_manager: Some("backup-operator".into()), ..Default::default() };
                        let req = Request::new(path).patch_subresource("status", name, &pp, &Patch::Merge(&status));
                        if client.request::<Value>(req.expect("request")).await.is_ok() {
                            completed += 1;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            completed
        })
    })
}

/// An app file copied into `dir` (its status is kept beside it), with text replaced.
fn app_copy(dir: &Path, from: &str, to: &str, replace: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(repo().join(from)).expect("read app");
    for (a, b) in replace {
        assert!(text.contains(a), "{from} has {a}");
        text = text.replace(a, b);
    }
    let path = dir.join(to);
    std::fs::write(&path, text).expect("write app");
    path
}

/// `gitops diff` of a rendered app against the cluster; returns (exit code, output).
fn diff(env: &TestEnv, rendered: &str, app: &Path, server_side: bool) -> (Option<i32>, String) {
    let mut args = vec!["diff", "-", "kube:testenv", "--app", app.to_str().expect("utf-8"), "-o", "diff"];
    if server_side {
        args.push("--server-side");
    }
    let o = gitops_kube(env, &args, Some(rendered), 120);
    (o.status.code(), format!("{}{}", out(&o), err(&o)))
}

#[test]
fn every_example_syncs_into_a_real_api_server_and_then_diffs_synced() {
    let Some(env) = testenv::or_skip("every_example_syncs_into_a_real_api_server_and_then_diffs_synced") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = app_copy(dir.path(), "examples/plan/app.yaml", "plan.yaml", &[("name: shop", "name: example-plan")]);
    // A dry run first: its namespace and CRD do not exist yet, and the server checks both.
    let dry = gitops_kube(
        env,
        &["sync", "--dry-run", "--app", plan.to_str().expect("utf-8"), "--local", ".", "--target", "kube:testenv"],
        None,
        120,
    );
    assert_eq!(dry.status.code(), Some(0), "{}{}", out(&dry), err(&dry));
    assert!(out(&dry).contains("checked (dry run; its namespace is created by this sync)"), "{}", out(&dry));
    kubelet_namespaces(env, &["api-prod", "api-staging", "api-dev", "default", "shop"]);
    let stop = Arc::new(AtomicBool::new(false));
    let operator = backup_operator(env, Arc::clone(&stop));
    // The example's Lua checks, and one for the HPA: this cluster has no metrics server, so a
    // real HPA reports ScalingActive=False (FailedGetResourceMetric), which Argo CD (and we) call
    // Degraded; the examples are about syncing, not autoscaling.
    let checks = dir.path().join("health");
    crate::copy_dir(std::path::Path::new("examples/gitops-repo/apps/api-server/health"), &checks);
    std::fs::create_dir_all(checks.join("autoscaling/HorizontalPodAutoscaler")).expect("mkdir");
    std::fs::write(
        checks.join("autoscaling/HorizontalPodAutoscaler/health.lua"),
        "hs = {}\nhs.status = \"Healthy\"\nhs.message = \"no metrics server in the test cluster\"\nreturn hs\n",
    )
    .expect("write");
    let customizations = checks.to_str().expect("utf-8");

    // The README's example, as the README runs it, into the real API server.
    let production = app_copy(dir.path(), "examples/gitops-repo/argocd/api-server-production.yaml", "prod.yaml", &[]);
    let sync = |app: &Path, local: &str| {
        let args = ["sync", "--app", app.to_str().expect("utf-8"), "--local", local, "--target", "kube:testenv"];
        let mut args = args.to_vec();
        args.extend(["--customizations", customizations]);
        gitops_kube(env, &args, None, 300)
    };
    let first = sync(&production, "examples/gitops-repo");
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    let text = out(&first);
    assert!(text.contains("-> kube:testenv"), "{text}");
    assert!(text.contains("Last backup completed at"), "the Lua check decided: {text}");
    assert!(text.contains("Synced: successfully synced"), "{text}");
    let second = sync(&production, "examples/gitops-repo");
    assert_eq!(second.status.code(), Some(0), "{}{}", out(&second), err(&second));
    assert!(out(&second).contains("Synced: nothing to apply"), "{}", out(&second));

    // `gitops health --live`: what the app tracks, read from the cluster, as `argocd app get`
    // shows it; desired objects the cluster lacks are Missing.
    let health = gitops_kube(
        env,
        &[
            "health",
            "--live",
            "kube:testenv",
            "--app",
            production.to_str().expect("utf-8"),
            "--customizations",
            customizations,
        ],
        None,
        60,
    );
    assert_eq!(health.status.code(), Some(0), "{}{}", out(&health), err(&health));
    let said = out(&health);
    assert!(said.contains("Healthy      apps/Deployment") && said.contains("prod-api-server"), "{said}");
    assert!(said.contains("app health: Healthy"), "{said}");
    assert!(!said.contains("ReplicaSet"), "owned objects are not the app's: {said}");
    // As in Argo CD, a Missing object makes the app Missing only when every object is.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: prod-api-server}\n---\n";
    let never = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: never-synced}\n";
    for (wanted, code, app_health) in
        [(format!("{deployment}{never}"), 0, "Healthy"), (never.to_string(), 1, "Missing")]
    {
        let args = ["health", "-", "--live", "kube:testenv", "-n", "api-prod", "-o", "json"];
        let health = gitops_kube(env, &args, Some(&wanted), 60);
        assert_eq!(health.status.code(), Some(code), "{}{}", out(&health), err(&health));
        let report: Value = serde_json::from_str(&out(&health)).expect("json");
        let statuses: Vec<(&str, &str)> = report["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| (o["name"].as_str().unwrap_or_default(), o["status"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(statuses.first(), Some(&("never-synced", "Missing")), "{report}");
        assert_eq!(statuses.len(), 1 + usize::from(code == 0), "{report}");
        assert_eq!(report["health"]["status"], app_health, "{report}");
    }

    // Every example app: synced, then compared by `gitops diff`, both ways.
    let mut apps: Vec<(PathBuf, &str, String)> =
        vec![(production, "examples/gitops-repo", "apps/api-server/overlays/production".into())];
    for (overlay, ns, prefix) in [("staging", "api-staging", "staging"), ("development", "api-dev", "dev")] {
        let app = app_copy(
            dir.path(),
            "examples/gitops-repo/argocd/api-server-production.yaml",
            &format!("{overlay}.yaml"),
            &[
                ("name: api-server-production", &format!("name: api-server-{overlay}")),
                ("overlays/production", &format!("overlays/{overlay}")),
                ("namespace: api-prod", &format!("namespace: {ns}")),
                ("name: prod-api-server", &format!("name: {prefix}-api-server")),
            ],
        );
        apps.push((app, "examples/gitops-repo", format!("apps/api-server/overlays/{overlay}")));
    }
    let shop = app_copy(dir.path(), "examples/shop/app.yaml", "shop.yaml", &[("name: shop", "name: example-shop")]);
    apps.push((shop, ".", "examples/shop/desired".into()));
    apps.push((plan, ".", "examples/plan/desired".into()));

    let mut failures = Vec::new();
    for (app, local, path) in &apps {
        let name = app.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let synced = sync(app, local);
        if synced.status.code() != Some(0) {
            failures.push(format!("{name}: sync failed:\n{}{}", out(&synced), err(&synced)));
            continue;
        }
        let rendered = gitops_kube(env, &["render", &format!("{local}/{path}")], None, 60);
        assert_eq!(rendered.status.code(), Some(0), "{}", err(&rendered));
        for server_side in [false, true] {
            let (code, said) = diff(env, &out(&rendered), app, server_side);
            if code != Some(0) {
                failures.push(format!("{name} (server-side: {server_side}): not Synced after a sync:\n{said}"));
            }
        }
    }

    // Drift by another field manager is seen both ways.
    runtime().block_on(async {
        let client = client(env).await;
        let pp = PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "drifted:1"}]}}}});
        let req = Request::new("/apis/apps/v1/namespaces/api-prod/deployments")
            .patch("prod-api-server", &pp, &Patch::Strategic(&patch))
            .expect("request");
        client.request::<Value>(req).await.expect("drift");
    });
    let rendered = gitops_kube(env, &["render", "examples/gitops-repo/apps/api-server/overlays/production"], None, 60);
    for server_side in [false, true] {
        let (code, said) = diff(env, &out(&rendered), &apps[0].0, server_side);
        if code != Some(1) || !said.contains("drifted:1") {
            failures.push(format!("drift not seen (server-side: {server_side}): {said}"));
        }
    }

    // A reconcile pass that compares through the server sees the drift and heals it
    // (`selfHeal`), after which the server-side diff finds the Deployment as Git has it. The
    // image now belongs to field manager `kubectl-edit`: taking it back needs force, as in
    // Argo CD (without it the real server answers with a conflict naming that manager).
    let healed = gitops_kube(
        env,
        &[
            "reconcile",
            "--app",
            apps[0].0.to_str().expect("utf-8"),
            "--local",
            "examples/gitops-repo",
            "--target",
            "kube:testenv",
            "--server-side-diff",
            "--force-conflicts",
            "--customizations",
            customizations,
        ],
        None,
        300,
    );
    if healed.status.code() != Some(0) || !out(&healed).contains("Synced: successfully synced") {
        failures.push(format!("reconcile --server-side-diff did not heal:\n{}{}", out(&healed), err(&healed)));
    }
    let (code, said) = diff(env, &out(&rendered), &apps[0].0, true);
    if code != Some(0) {
        failures.push(format!("still not Synced after healing: {said}"));
    }

    stop.store(true, Ordering::SeqCst);
    assert!(operator.join().expect("operator") > 0, "the backup operator completed Backups");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Installs Argo CD's and Flux's CRDs (the ones a hub serves) on the harness's server.
fn install_controller_crds(env: &TestEnv) {
    runtime().block_on(async {
        let client = client(env).await;
        for (group, kind, plural, versions) in gitops_kube::hub::CONTROLLER_KINDS {
            let crd = gitops_kube::hub::controller_crd(group, kind, plural, versions);
            let name = crd["metadata"]["name"].as_str().unwrap().to_string();
            let req = Request::new("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
                .patch(&name, &PatchParams::apply("test").force(), &Patch::Apply(&crd))
                .expect("request");
            client.request::<Value>(req).await.unwrap_or_else(|e| panic!("CRD {name}: {e}"));
        }
    });
}

/// Spawns `gitops` with `KUBECONFIG` set, without waiting.
fn spawn_gitops(env: &TestEnv, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env("KUBECONFIG", env.kubeconfig())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gitops")
}

#[test]
fn two_watchers_on_one_lease_take_turns_and_never_pass_together() {
    let Some(env) = testenv::or_skip("two_watchers_on_one_lease_take_turns_and_never_pass_together") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
    std::fs::write(
        dir.path().join("src/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: elected}\ndata: {a: '1'}\n",
    )
    .expect("write");
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: elected, namespace: default}\nspec:\n  destination: {server: 'https://kubernetes.default.svc', namespace: default}\n  source: {repoURL: 'https://git.example.com/elected.git', path: src}\n  syncPolicy: {automated: {prune: true}}\n",
    )
    .expect("write");
    let src = dir.path().display().to_string();
    let watch = |passes: &str, interval: &str| {
        let args = [
            "watch",
            "--app",
            app.to_str().unwrap(),
            "--local",
            &src,
            "--target",
            "kube:testenv",
            "--leader-elect",
            "--interval",
            interval,
            "--passes",
            passes,
        ];
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let args_a = watch("3", "2s");
    let a = spawn_gitops(env, &args_a.iter().map(String::as_str).collect::<Vec<_>>());
    // B starts while A holds the Lease (A took it at its first pass).
    let deadline = Instant::now() + Duration::from_secs(30);
    let lease_held = || {
        runtime().block_on(async {
            let req = Request::new("/apis/coordination.k8s.io/v1/namespaces/default/leases")
                .get("gitops-elected", &Default::default())
                .expect("request");
            client(env).await.request::<Value>(req).await.ok().is_some_and(|l| {
                l.pointer("/spec/holderIdentity").and_then(Value::as_str).is_some_and(|h| !h.is_empty())
            })
        })
    };
    while !lease_held() {
        assert!(Instant::now() < deadline, "A never took the Lease");
        std::thread::sleep(Duration::from_millis(100));
    }
    let args_b = watch("1", "1s");
    let b = gitops_kube(env, &args_b.iter().map(String::as_str).collect::<Vec<_>>(), None, 60);
    let a = a.wait_with_output().expect("wait for A");
    let (text_a, text_b) = (out(&a), out(&b));
    assert_eq!(a.status.code(), Some(0), "{text_a}{}", err(&a));
    assert_eq!(b.status.code(), Some(0), "{text_b}{}", err(&b));
    assert!(text_a.contains("leading: Lease default/gitops-elected acquired by "), "{text_a}");
    assert_eq!(text_a.matches("elected -> kube").count(), 3, "A passed three times: {text_a}");
    assert!(
        text_b.contains("not the leader: Lease default/gitops-elected: ") && text_b.contains(" holds it (until "),
        "{text_b}"
    );
    assert!(!text_b.contains("elected -> kube"), "B never passed: {text_b}");
    // A released the Lease when it ended: the next controller leads at once.
    let c = gitops_kube(env, &args_b.iter().map(String::as_str).collect::<Vec<_>>(), None, 60);
    let text_c = out(&c);
    assert!(text_c.contains("leading: ") && text_c.contains("elected -> kube"), "{text_c}{}", err(&c));
}

/// The fleet of a root Application on a real API server as its hub: one child goes in-cluster,
/// one to the cluster `spoke`, registered by a cluster Secret that points at the same server
/// with the harness's token and CA (so it is reached through `connect_registered`).
#[test]
fn a_fleet_on_a_kube_hub_reaches_a_registered_cluster_and_cascades() {
    let Some(env) = testenv::or_skip("a_fleet_on_a_kube_hub_reaches_a_registered_cluster_and_cascades") else {
        return;
    };
    // The hub runs Argo CD and Flux: their CRDs are installed (as their install manifests do).
    install_controller_crds(env);
    let kubeconfig = std::fs::read_to_string(env.kubeconfig()).expect("kubeconfig");
    let field =
        |key: &str| kubeconfig.lines().find_map(|l| l.trim().strip_prefix(key)).map(str::trim).expect(key).to_string();
    let (server, ca, token) = (field("server:"), field("certificate-authority-data:"), field("token:"));
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    const URL: &str = "https://git.example.com/kube-fleet.git";
    write(
        "root.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: kroot, namespace: argocd}}\nspec:\n  source: {{repoURL: '{URL}', path: apps}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: argocd}}\n  syncPolicy: {{automated: {{prune: true, selfHeal: true}}, syncOptions: [CreateNamespace=true, PrunePropagationPolicy=background]}}\n"
        ),
    );
    let child = |name: &str, destination: &str, finalizer: bool| {
        let finalizers = if finalizer { ", finalizers: [resources-finalizer.argocd.argoproj.io]" } else { "" };
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd{finalizers}}}\nspec:\n  source: {{repoURL: '{URL}', path: {name}}}\n  destination: {{{destination}, namespace: {name}}}\n  syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}\n"
        )
    };
    write("apps/hub-app.yaml", &child("hub-app", "server: 'https://kubernetes.default.svc'", false));
    write("apps/spoke-app.yaml", &child("spoke-app", "name: spoke", true));
    let config = json!({"bearerToken": token, "tlsClientConfig": {"caData": ca}}).to_string();
    write(
        "apps/cluster-spoke.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: cluster-spoke, namespace: argocd, labels: {{argocd.argoproj.io/secret-type: cluster}}}}\nstringData:\n  name: spoke\n  server: '{server}'\n  config: '{config}'\n"
        ),
    );
    for app in ["hub-app", "spoke-app"] {
        write(
            &format!("{app}/cm.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {app}}}\ndata: {{from: {app}}}\n"),
        );
    }
    let local = format!("{URL}={}", dir.path().display());
    let root = dir.path().join("root.yaml");
    let args = ["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", "kube:testenv"];
    let first = gitops_kube(env, &args, None, 120);
    let text = out(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", err(&first));
    assert!(text.contains("hub-app -> kube:testenv"), "{text}");
    assert!(text.contains(&format!("spoke-app -> cluster spoke ({server})")), "{text}");
    let cm = |ns: &str| {
        runtime().block_on(async {
            let req = Request::new(format!("/api/v1/namespaces/{ns}/configmaps")).get(ns, &Default::default()).unwrap();
            client(env).await.request::<Value>(req).await.ok()
        })
    };
    assert_eq!(cm("hub-app").expect("on the hub")["data"]["from"], "hub-app");
    assert_eq!(cm("spoke-app").expect("on the spoke")["data"]["from"], "spoke-app");

    // The second pass runs the hub's app and the spoke's together (two workers).
    let again = gitops_kube(env, &[&args[..], &["--workers", "2"]].concat(), None, 120);
    let text = out(&again);
    assert_eq!(again.status.code(), Some(0), "{text}{}", err(&again));
    assert_eq!(text.matches("Synced: nothing to apply").count(), 3, "{text}");
    // Each child's pass wrote its status into its Application, so the root (whose health check
    // reads them, as an App-of-Apps parent's does) is Healthy now.
    assert!(
        text.starts_with(
            "kroot -> kube:testenv\nSynced: nothing to apply (3 objects in sync)\nrevision: local\nhealth: Healthy\n"
        ),
        "{text}"
    );
    let status = runtime().block_on(async {
        let req = Request::new("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications")
            .get("spoke-app", &Default::default())
            .unwrap();
        client(env).await.request::<Value>(req).await.expect("spoke-app")["status"].clone()
    });
    assert_eq!(
        (status["sync"]["status"].as_str(), status["health"]["status"].as_str()),
        (Some("Synced"), Some("Healthy"))
    );
    assert_eq!(status["resources"][0]["name"], "spoke-app", "{status:#}");
    // The hub's apps as `argocd app list` shows them, from the statuses written there.
    let list = gitops_kube(env, &["app", "list", "--hub", "kube:testenv", "-o", "json"], None, 60);
    let apps: Value = serde_json::from_str(&out(&list)).unwrap_or_else(|e| panic!("{e}: {}{}", out(&list), err(&list)));
    // Other tests of this binary share the server (and the `argocd` namespace): only this
    // fleet's apps are looked at.
    let seen: Vec<(&str, &str, &str)> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["sync"].as_str().unwrap(), a["health"].as_str().unwrap()))
        .filter(|(name, _, _)| ["hub-app", "spoke-app"].contains(name))
        .collect();
    assert_eq!(seen, [("hub-app", "Synced", "Healthy"), ("spoke-app", "Synced", "Healthy")]);

    std::fs::remove_file(dir.path().join("apps/spoke-app.yaml")).expect("rm");
    let removed = gitops_kube(env, &args, None, 120);
    let text = out(&removed);
    assert_eq!(removed.status.code(), Some(0), "{text}{}", err(&removed));
    assert!(
        text.contains("Application argocd/spoke-app deleted; 1 of its resources deleted from cluster spoke"),
        "{text}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while cm("spoke-app").is_some() {
        assert!(Instant::now() < deadline, "the spoke's ConfigMap is still there");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cm("hub-app").is_some(), "the other app is untouched");
    // The finalizer removed, the Application goes from the hub (pruned in the background: a
    // foreground deletion would wait for the garbage collector to notice the new kind first).
    let app = || {
        runtime().block_on(async {
            let req = Request::new("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications")
                .get("spoke-app", &Default::default())
                .unwrap();
            client(env).await.request::<Value>(req).await.ok()
        })
    };
    while let Some(left) = app() {
        assert!(Instant::now() < deadline, "the Application is still there: {left:#}\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // `app delete` on the kube hub: its resources first, then the Application.
    let deleted = gitops_kube(env, &["app", "delete", "hub-app", "--hub", "kube:testenv"], None, 60);
    assert!(
        out(&deleted).contains("application 'hub-app' deleted; 1 of its resources deleted"),
        "{}{}",
        out(&deleted),
        err(&deleted)
    );
    while cm("hub-app").is_some() {
        assert!(Instant::now() < deadline + Duration::from_secs(30), "hub-app's ConfigMap is still there");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Flux tree on a kube hub whose child Kustomization names a kubeConfig Secret: the child is
/// synced into the cluster that kubeconfig reaches (here the same server, through the harness's
/// kubeconfig stored in the Secret), and a second run changes nothing.
#[test]
fn a_flux_kustomization_reaches_its_cluster_through_its_kubeconfig_secret() {
    let Some(env) = testenv::or_skip("a_flux_kustomization_reaches_its_cluster_through_its_kubeconfig_secret") else {
        return;
    };
    install_controller_crds(env);
    let kubeconfig = std::fs::read_to_string(env.kubeconfig()).expect("kubeconfig");
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    const URL: &str = "https://git.example.com/flux-remote.git";
    write(
        "clusters/hub/sync.yaml",
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: flux-system}}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: fleet, namespace: flux-system}}\nspec: {{url: '{URL}', ref: {{branch: main}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: hubroot, namespace: flux-system}}\nspec: {{interval: 10m, path: ./clusters/hub, prune: true, sourceRef: {{kind: GitRepository, name: fleet}}}}\n"
        ),
    );
    let indented: String = kubeconfig.lines().map(|l| format!("    {l}\n")).collect();
    write(
        "clusters/hub/remote.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: remote-kubeconfig, namespace: flux-system}}\nstringData:\n  value: |\n{indented}---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: remote, namespace: flux-system}}\nspec:\n  interval: 10m\n  path: ./remote\n  prune: true\n  sourceRef: {{kind: GitRepository, name: fleet}}\n  kubeConfig: {{secretRef: {{name: remote-kubeconfig}}}}\n"
        ),
    );
    write(
        "remote/all.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-remote}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: remote, namespace: flux-remote}\ndata: {via: kubeconfig}\n",
    );
    let local = format!("{URL}={}", dir.path().display());
    let root = dir.path().join("clusters/hub/sync.yaml");
    let args = ["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", "kube:testenv"];
    let first = gitops_kube(env, &args, None, 120);
    let text = out(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", err(&first));
    assert!(text.contains("remote -> kube:Secret flux-system/remote-kubeconfig"), "{text}");
    assert!(!text.contains("clusters:") && !text.contains("token"), "the kubeconfig is never printed: {text}");
    let cm = runtime().block_on(async {
        let req = Request::new("/api/v1/namespaces/flux-remote/configmaps").get("remote", &Default::default()).unwrap();
        client(env).await.request::<Value>(req).await.ok()
    });
    assert_eq!(cm.expect("deployed through the kubeconfig")["data"]["via"], "kubeconfig");
    let again = gitops_kube(env, &args, None, 120);
    let text = out(&again);
    assert_eq!(text.matches("Synced: nothing to apply").count(), 2, "{text}");
    // Statuses written as Flux's controllers would: the root (which manages itself), its
    // child and their GitRepository are Ready, so the root is Healthy on the second run.
    assert!(
        text.starts_with(
            "hubroot -> kube:testenv\nSynced: nothing to apply (5 objects in sync)\nrevision: local\nhealth: Healthy\n"
        ),
        "{text}"
    );
    let listed = gitops_kube(env, &["get", "kustomizations", "--hub", "kube:testenv"], None, 60);
    assert!(out(&listed).contains("remote   local     False      True   Applied revision: local"), "{}", out(&listed));
}

/// An ApplicationSet on a kube hub: its Applications are generated, written into the hub (owned
/// by it) and walked; the second run changes nothing; an element removed from its list deletes
/// its Application, whose resources finalizer the walk then carries out.
#[test]
fn an_applicationset_on_a_kube_hub_generates_walks_and_removes_apps() {
    let Some(env) = testenv::or_skip("an_applicationset_on_a_kube_hub_generates_walks_and_removes_apps") else {
        return;
    };
    install_controller_crds(env);
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    const URL: &str = "https://git.example.com/appset-fleet.git";
    write(
        "root.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: asroot, namespace: argocd}}\nspec:\n  source: {{repoURL: '{URL}', path: apps}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: argocd}}\n  syncPolicy: {{automated: {{prune: true, selfHeal: true}}, syncOptions: [CreateNamespace=true]}}\n"
        ),
    );
    let appset = |elements: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: teams, namespace: argocd}}\nspec:\n  generators:\n  - list:\n      elements: [{elements}]\n  template:\n    metadata: {{name: 'team-{{{{team}}}}'}}\n    spec:\n      project: default\n      source: {{repoURL: '{URL}', path: team}}\n      destination: {{server: 'https://kubernetes.default.svc', namespace: 'team-{{{{team}}}}'}}\n      syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}\n"
        )
    };
    write("apps/teams.yaml", &appset("{team: red}, {team: blue}"));
    write("team/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: team}\ndata: {a: '1'}\n");
    let local = format!("{URL}={}", dir.path().display());
    let root = dir.path().join("root.yaml");
    let args = ["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", "kube:testenv"];
    let first = gitops_kube(env, &args, None, 120);
    let text = out(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", err(&first));
    assert!(text.contains("ApplicationSet argocd/teams: 2 generated; create [team-blue, team-red]"), "{text}");
    let cm = |ns: &str| {
        runtime().block_on(async {
            let req =
                Request::new(format!("/api/v1/namespaces/{ns}/configmaps")).get("team", &Default::default()).unwrap();
            client(env).await.request::<Value>(req).await.ok()
        })
    };
    assert!(cm("team-red").is_some() && cm("team-blue").is_some(), "{text}");

    let again = gitops_kube(env, &args, None, 120);
    let text = out(&again);
    assert!(text.contains("ApplicationSet argocd/teams: 2 generated; create [], update [], delete []"), "{text}");
    assert_eq!(text.matches("Synced: nothing to apply").count(), 3, "{text}");

    write("apps/teams.yaml", &appset("{team: red}"));
    let removed = gitops_kube(env, &args, None, 120);
    let text = out(&removed);
    assert_eq!(removed.status.code(), Some(0), "{text}{}", err(&removed));
    assert!(text.contains("delete [team-blue]"), "{text}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while cm("team-blue").is_some() {
        assert!(Instant::now() < deadline, "team-blue's ConfigMap is still there: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cm("team-red").is_some(), "{text}");
}

/// A RollingSync ApplicationSet on a kube hub: its apps are written with automated sync off
/// and synced step by step (dev, then staging, then the two prod apps one at a time), each step
/// only once the one before is Healthy; the set's status carries each app's progress and the
/// RolloutProgressing condition; once complete, a run changes nothing.
#[test]
fn a_rolling_sync_applicationset_syncs_its_apps_step_by_step() {
    let Some(env) = testenv::or_skip("a_rolling_sync_applicationset_syncs_its_apps_step_by_step") else {
        return;
    };
    install_controller_crds(env);
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    const URL: &str = "https://git.example.com/rolling-fleet.git";
    write(
        "root.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: rollroot, namespace: argocd}}\nspec:\n  source: {{repoURL: '{URL}', path: apps}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: argocd}}\n  syncPolicy: {{automated: {{prune: true, selfHeal: true}}, syncOptions: [CreateNamespace=true]}}\n"
        ),
    );
    write(
        "apps/regions.yaml",
        &format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: regions, namespace: argocd}}
spec:
  goTemplate: true
  generators:
  - list:
      elements:
      - {{region: dev, env: dev}}
      - {{region: staging, env: staging}}
      - {{region: prod-eu, env: prod}}
      - {{region: prod-us, env: prod}}
  strategy:
    type: RollingSync
    rollingSync:
      steps:
      - matchExpressions: [{{key: env, operator: In, values: [dev]}}]
      - matchExpressions: [{{key: env, operator: In, values: [staging]}}]
      - matchExpressions: [{{key: env, operator: In, values: [prod]}}]
        maxUpdate: 1
  template:
    metadata:
      name: 'rs-{{{{.region}}}}'
      labels: {{env: '{{{{.env}}}}'}}
    spec:
      project: default
      source: {{repoURL: '{URL}', path: region}}
      destination: {{server: 'https://kubernetes.default.svc', namespace: 'rs-{{{{.region}}}}'}}
      syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}
"#
        ),
    );
    write("region/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: region}\ndata: {a: '1'}\n");
    let local = format!("{URL}={}", dir.path().display());
    let root = dir.path().join("root.yaml");
    let args = ["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", "kube:testenv"];
    let get = |path: String| {
        let (base, name) = path.rsplit_once('/').expect("a path with a name");
        runtime().block_on(async {
            let req = Request::new(base).get(name, &Default::default()).unwrap();
            client(env).await.request::<Value>(req).await.ok()
        })
    };
    let deployed = |region: &str| get(format!("/api/v1/namespaces/rs-{region}/configmaps/region")).is_some();
    let regions = ["dev", "staging", "prod-eu", "prod-us"];
    // The run at which each region's ConfigMap first appears.
    let mut first_seen: Vec<Option<usize>> = vec![None; regions.len()];
    let mut runs = Vec::new();
    for run in 0..12 {
        let o = gitops_kube(env, &args, None, 120);
        let text = out(&o);
        // Exit 1 while apps wait their turn out of sync; never 2 (an error).
        assert!(matches!(o.status.code(), Some(0 | 1)), "run {run}: {text}{}", err(&o));
        assert!(!text.contains("RollingSync") || o.status.code() == Some(0) || text.contains("OutOfSync"), "{text}");
        if run == 0 {
            assert!(text.contains("4 generated; create [rs-dev, rs-prod-eu, rs-prod-us, rs-staging]"), "{text}");
        }
        for (i, r) in regions.iter().enumerate() {
            if first_seen[i].is_none() && deployed(r) {
                first_seen[i] = Some(run);
            }
        }
        let done = text.contains("RollingSync: ApplicationSet Rollout has completed")
            && first_seen.iter().all(Option::is_some);
        runs.push(text);
        if done {
            break;
        }
    }
    let log = runs.join("\n=====\n");
    let seen: Vec<usize> = first_seen.iter().map(|s| s.unwrap_or_else(|| panic!("not all deployed: {log}"))).collect();
    assert!(seen[0] < seen[1] && seen[1] < seen[2].min(seen[3]), "dev, then staging, then prod: {seen:?}\n{log}");
    assert_ne!(seen[2], seen[3], "maxUpdate 1: one prod app at a time: {seen:?}\n{log}");
    // The generated apps have automated sync off, and no operation is left on them.
    let app = get("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/rs-prod-us".into()).expect("app");
    assert_eq!(app["spec"]["syncPolicy"]["automated"]["enabled"], false, "{app}");
    assert!(app.get("operation").is_none(), "{app}");
    assert_eq!(app["status"]["operationState"]["phase"], "Succeeded", "{app}");
    let set = get("/apis/argoproj.io/v1alpha1/namespaces/argocd/applicationsets/regions".into()).expect("set");
    let entries = set["status"]["applicationStatus"].as_array().expect("applicationStatus");
    assert_eq!(entries.len(), 4, "{set}");
    assert!(entries.iter().all(|e| e["status"] == "Healthy"), "{set}");
    let condition = |kind: &str| {
        set["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == kind).cloned().unwrap_or_default()
    };
    assert_eq!(condition("RolloutProgressing")["message"], "ApplicationSet Rollout has completed", "{set}");
    assert_eq!(condition("ResourcesUpToDate")["status"], "True", "{set}");
    // `gitops appset get` shows each app's step and progress, and the conditions.
    let shown = gitops_kube(env, &["appset", "get", "regions", "--hub", "kube:testenv"], None, 60);
    let text = out(&shown);
    assert!(text.contains("Condition:     RolloutProgressing=False: ApplicationSet Rollout has completed"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("rs-prod-us") && l.trim_end().ends_with("3     Healthy")), "{text}");
    // Settled: a further run writes nothing.
    let again = gitops_kube(env, &args, None, 120);
    let text = out(&again);
    assert_eq!(again.status.code(), Some(0), "{text}{}", err(&again));
    assert!(text.contains("4 generated; create [], update [], delete []"), "{text}");
    assert!(!text.contains("syncing ["), "{text}");
    assert_eq!(text.matches("Synced: nothing to apply").count(), 5, "{text}");
}

/// A pull request ApplicationSet on a kube hub: the token comes from the Secret its `tokenRef`
/// names in the set's namespace (a kube hub lists only cluster Secrets, so it is read by name),
/// and one Application per matching pull request is generated.
#[test]
fn a_pull_request_set_on_a_kube_hub_reads_its_token_secret() {
    let Some(env) = testenv::or_skip("a_pull_request_set_on_a_kube_hub_reads_its_token_secret") else {
        return;
    };
    install_controller_crds(env);
    let server = crate::appset::Server::start(crate::appset::github);
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    const URL: &str = "https://git.example.com/pr-fleet.git";
    write(
        "root.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: prroot, namespace: argocd}}\nspec:\n  source: {{repoURL: '{URL}', path: apps}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: argocd}}\n  syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}\n"
        ),
    );
    write(
        "apps/token.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: github-token, namespace: argocd}\nstringData: {token: gh-secret-token}\n",
    );
    write(
        "apps/previews.yaml",
        &format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: previews, namespace: argocd}}
spec:
  goTemplate: true
  generators:
  - pullRequest:
      github:
        api: {}
        owner: acme
        repo: shop
        tokenRef: {{secretName: github-token, key: token}}
        labels: [preview]
  template:
    metadata: {{name: 'pr-{{{{.number}}}}'}}
    spec:
      project: default
      source: {{repoURL: '{URL}', path: preview}}
      destination: {{server: 'https://kubernetes.default.svc', namespace: 'pr-{{{{.number}}}}'}}
      syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}
"#,
            server.base
        ),
    );
    write("preview/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: preview}\ndata: {a: '1'}\n");
    let local = format!("{URL}={}", dir.path().display());
    let root = dir.path().join("root.yaml");
    let args = ["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", "kube:testenv"];
    let first = gitops_kube(env, &args, None, 120);
    let text = out(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", err(&first));
    assert!(text.contains("ApplicationSet argocd/previews: 2 generated; create [pr-12, pr-15]"), "{text}");
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.headers.get("authorization").map(String::as_str) == Some("Bearer gh-secret-token")),
        "every call carried the Secret's token"
    );
}

/// Sync impersonation (argocd-cm `application.sync.impersonation.enabled`): the app's writes
/// go to the API server as the service account its AppProject names for the destination, so
/// RBAC decides what it may apply: a ConfigMap the account may write is applied; a Secret it
/// may not is refused naming the account; a destination no entry matches syncs nothing.
#[test]
fn syncs_impersonate_the_projects_service_account() {
    let Some(env) = testenv::or_skip("syncs_impersonate_the_projects_service_account") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    // Set up by the admin: the namespace, the account, and what it may do (ConfigMaps only).
    write(
        "setup/rbac.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: imp-team}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: deployer, namespace: imp-team}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: configmaps, namespace: imp-team}\nrules:\n- {apiGroups: [''], resources: [configmaps], verbs: ['*']}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: deployer, namespace: imp-team}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmaps}\nsubjects:\n- {kind: ServiceAccount, name: deployer, namespace: imp-team}\n",
    );
    write(
        "setup.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: imp-setup, namespace: argocd}\nspec:\n  source: {repoURL: 'https://git.example.com/imp.git', path: setup}\n  destination: {server: 'https://kubernetes.default.svc', namespace: imp-team}\n",
    );
    let setup = dir.path().join("setup.yaml");
    let local = format!("https://git.example.com/imp.git={}", dir.path().display());
    let o = gitops_kube(
        env,
        &["sync", "--app", setup.to_str().unwrap(), "--local", &local, "--target", "kube:testenv"],
        None,
        120,
    );
    assert_eq!(o.status.code(), Some(0), "setup: {}{}", out(&o), err(&o));

    write(
        "argocd-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  application.sync.impersonation.enabled: 'true'\n",
    );
    write(
        "project.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: team, namespace: argocd}\nspec:\n  sourceRepos: ['*']\n  destinations: [{server: '*', namespace: '*'}]\n  clusterResourceWhitelist: [{group: '*', kind: '*'}]\n  destinationServiceAccounts:\n  - {server: 'https://kubernetes.default.svc', namespace: imp-team, defaultServiceAccount: deployer}\n",
    );
    let app = |name: &str, path: &str, namespace: &str| {
        write(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  project: team\n  source: {{repoURL: 'https://git.example.com/imp.git', path: {path}}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: {namespace}}}\n"
            ),
        );
        dir.path().join(format!("{name}.yaml"))
    };
    let (cm, project) = (dir.path().join("argocd-cm.yaml"), dir.path().join("project.yaml"));
    let sync = |app: &Path| {
        gitops_kube(
            env,
            &[
                "sync",
                "--app",
                app.to_str().unwrap(),
                "--local",
                &local,
                "--target",
                "kube:testenv",
                "--argocd-cm",
                cm.to_str().unwrap(),
                "--project",
                project.to_str().unwrap(),
            ],
            None,
            120,
        )
    };
    let get = |path: &str, name: &str| {
        runtime().block_on(async {
            let req = Request::new(path).get(name, &Default::default()).unwrap();
            client(env).await.request::<Value>(req).await.ok()
        })
    };

    write("allowed/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n");
    let o = sync(&app("imp-allowed", "allowed", "imp-team"));
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("as system:serviceaccount:imp-team:deployer"), "{}", out(&o));
    assert!(get("/api/v1/namespaces/imp-team/configmaps", "settings").is_some(), "{}", out(&o));

    write("secret/s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {k: v}\n");
    let o = sync(&app("imp-denied", "secret", "imp-team"));
    let text = format!("{}{}", out(&o), err(&o));
    assert_ne!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("system:serviceaccount:imp-team:deployer") && text.contains("forbidden"), "{text}");
    assert!(get("/api/v1/namespaces/imp-team/secrets", "creds").is_none(), "{text}");

    let o = sync(&app("imp-elsewhere", "allowed", "imp-other"));
    let text = format!("{}{}", out(&o), err(&o));
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(
        text.contains("no matching service account found for destination server https://kubernetes.default.svc and namespace imp-other"),
        "{text}"
    );
}

/// A plugin and a clusterDecisionResource ApplicationSet on a kube hub: the ConfigMaps their
/// generators name, the plugin token's Secret and the PlacementDecisions are not among what
/// the hub lists, so they are read for these sets (by name, and by listing the resource the
/// ConfigMap names); the plugin is called with the token, the decision's cluster is used.
#[test]
fn plugin_and_cluster_decision_sets_on_a_kube_hub_read_their_configmaps() {
    let Some(env) = testenv::or_skip("plugin_and_cluster_decision_sets_on_a_kube_hub_read_their_configmaps") else {
        return;
    };
    install_controller_crds(env);
    runtime().block_on(async {
        let client = client(env).await;
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "placementdecisions.cluster.open-cluster-management.io"},
            "spec": {"group": "cluster.open-cluster-management.io", "scope": "Namespaced",
                "names": {"kind": "PlacementDecision", "plural": "placementdecisions", "singular": "placementdecision",
                    "listKind": "PlacementDecisionList"},
                "versions": [{"name": "v1beta1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
        });
        let req = Request::new("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
            .patch("placementdecisions.cluster.open-cluster-management.io", &PatchParams::apply("test").force(), &Patch::Apply(&crd))
            .expect("request");
        client.request::<Value>(req).await.expect("CRD");
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}});
        let req = Request::new("/api/v1/namespaces")
            .patch("argocd", &PatchParams::apply("test").force(), &Patch::Apply(&namespace))
            .expect("request");
        client.request::<Value>(req).await.expect("namespace");
        // Without a status subresource, the status is stored with the object, as the
        // placement controller would have written it.
        let decision = json!({
            "apiVersion": "cluster.open-cluster-management.io/v1beta1", "kind": "PlacementDecision",
            "metadata": {"name": "web-decision", "namespace": "argocd",
                "labels": {"cluster.open-cluster-management.io/placement": "web"}},
            "status": {"decisions": [{"clusterName": "in-cluster", "reason": "picked"}, {"clusterName": "elsewhere", "reason": ""}]},
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let req = Request::new("/apis/cluster.open-cluster-management.io/v1beta1/namespaces/argocd/placementdecisions")
                .patch("web-decision", &PatchParams::apply("test").force(), &Patch::Apply(&decision))
                .expect("request");
            match client.request::<Value>(req).await {
                Ok(_) => break,
                // The CRD is being established.
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(e) => panic!("PlacementDecision: {e}"),
            }
        }
    });
    let server = crate::appset::Server::start(|seen, _| {
        if seen.headers.get("authorization").map(String::as_str) != Some("Bearer plugin-token") {
            return (401, vec![], json!({"message": "bad token"}));
        }
        (200, vec![], json!({"output": {"parameters": [{"app": "from-plugin"}]}}))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    const URL: &str = "https://git.example.com/duck-fleet.git";
    write(
        "root.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: duckroot, namespace: argocd}}\nspec:\n  source: {{repoURL: '{URL}', path: apps}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: argocd}}\n  syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}\n"
        ),
    );
    write(
        "apps/settings.yaml",
        &format!(
            r#"apiVersion: v1
kind: Secret
metadata: {{name: plugin-secret, namespace: argocd}}
stringData: {{plugin.token: plugin-token}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: my-plugin, namespace: argocd}}
data: {{baseUrl: '{}', token: '$plugin-secret:plugin.token'}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: ocm-placement, namespace: argocd}}
data: {{apiVersion: cluster.open-cluster-management.io/v1beta1, kind: placementdecisions, statusListKey: decisions, matchKey: clusterName}}
"#,
            server.base
        ),
    );
    write(
        "apps/sets.yaml",
        &format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: plugged, namespace: argocd}}
spec:
  goTemplate: true
  generators:
  - plugin: {{configMapRef: {{name: my-plugin}}}}
  template:
    metadata: {{name: '{{{{.app}}}}'}}
    spec:
      project: default
      source: {{repoURL: '{URL}', path: web}}
      destination: {{server: 'https://kubernetes.default.svc', namespace: '{{{{.app}}}}'}}
      syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: placed, namespace: argocd}}
spec:
  generators:
  - clusterDecisionResource:
      configMapRef: ocm-placement
      labelSelector: {{matchLabels: {{cluster.open-cluster-management.io/placement: web}}}}
  template:
    metadata: {{name: 'placed-{{{{clusterName}}}}'}}
    spec:
      project: default
      source: {{repoURL: '{URL}', path: web}}
      destination: {{server: '{{{{server}}}}', namespace: placed}}
      syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}
"#
        ),
    );
    write("web/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: '1'}\n");
    let local = format!("{URL}={}", dir.path().display());
    let root = dir.path().join("root.yaml");
    let args = ["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", "kube:testenv"];
    let first = gitops_kube(env, &args, None, 120);
    let text = out(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", err(&first));
    assert!(text.contains("ApplicationSet argocd/plugged: 1 generated; create [from-plugin]"), "{text}");
    assert!(text.contains("ApplicationSet argocd/placed: 1 generated; create [placed-in-cluster]"), "{text}");
    assert!(server.seen().iter().any(|s| s.path == "/api/v1/getparams.execute"), "the plugin was called");
}

/// Helm's release storage both ways on a real API server with the real `helm`: a release
/// `helm install` wrote reads back here (name, revision, status, chart, values, manifest); a
/// second revision written here (the first marked superseded) is what `helm list`, `helm
/// history` and `helm get values` then show.
#[test]
fn helm_release_secrets_are_read_and_written_as_helm_keeps_them() {
    use gitops_core::helm_storage::{self, Release, Status};
    let Some(env) = testenv::or_skip("helm_release_secrets_are_read_and_written_as_helm_keeps_them") else {
        return;
    };
    let Some(helm) = std::env::var_os("GITOPS_HELM").filter(|h| !h.is_empty()) else {
        eprintln!(
            "note: helm_release_secrets_are_read_and_written_as_helm_keeps_them needs GITOPS_HELM (the real helm); skipped"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    write("web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: '2.0'\n");
    write("web/values.yaml", "color: blue\n");
    write(
        "web/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {color: {{ .Values.color | quote }}}\n",
    );
    kubelet_namespaces(env, &["helm-store"]);
    let run = |args: &[&str]| {
        let o = Command::new(&helm)
            .args(args)
            .args(["--namespace", "helm-store", "--kubeconfig"])
            .arg(env.kubeconfig())
            .output()
            .expect("run helm");
        assert!(o.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Value>(&o.stdout).unwrap_or(Value::Null)
    };
    let chart = dir.path().join("web");
    run(&["install", "web", chart.to_str().unwrap(), "--set", "color=green", "-o", "json"]);
    let secrets = runtime().block_on(async {
        let req = Request::new("/api/v1/namespaces/helm-store/secrets").list(&Default::default()).unwrap();
        let list: Value = client(env).await.request(req).await.expect("list secrets");
        list["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut s| {
                s["apiVersion"] = json!("v1");
                s["kind"] = json!("Secret");
                gitops_core::Object::new(s, gitops_core::Origin::inline("the API server"))
            })
            .collect::<Vec<_>>()
    });
    let history = helm_storage::history(&secrets, "web").expect("helm's release reads");
    let [first] = history.as_slice() else { panic!("one revision: {history:?}") };
    assert_eq!((first.version, first.status, first.chart()), (1, Status::Deployed, "web-1.2.3".to_string()));
    assert_eq!(first.config, json!({"color": "green"}));
    assert!(first.manifest.contains("color: \"green\""), "{}", first.manifest);
    assert_eq!(first.description, "Install complete");

    // Revision 2, written here: the first superseded, the second deployed with new values.
    let mut superseded = first.clone();
    superseded.status = Status::Superseded;
    let second = Release {
        version: 2,
        status: Status::Deployed,
        description: "Upgrade complete".into(),
        config: json!({"color": "teal"}),
        manifest: first.manifest.replace("green", "teal"),
        ..first.clone()
    };
    runtime().block_on(async {
        let c = client(env).await;
        for (release, create) in [(&superseded, false), (&second, true)] {
            let secret = release.to_secret("helm-store", 1_796_000_000);
            let body = serde_json::to_vec(secret.value()).expect("json");
            let base = Request::new("/api/v1/namespaces/helm-store/secrets");
            let req = if create {
                base.create(&Default::default(), body)
            } else {
                base.replace(secret.name(), &Default::default(), {
                    let mut v = secret.value().clone();
                    let live: Value =
                        c.request(base.get(secret.name(), &Default::default()).unwrap()).await.expect("live secret");
                    v["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
                    serde_json::to_vec(&v).expect("json")
                })
            }
            .unwrap();
            c.request::<Value>(req).await.expect("write release secret");
        }
    });
    let listed = run(&["list", "-o", "json"]);
    assert_eq!(listed[0]["name"], "web", "{listed}");
    assert_eq!(listed[0]["revision"], "2", "{listed}");
    assert_eq!(listed[0]["status"], "deployed", "{listed}");
    assert_eq!(listed[0]["chart"], "web-1.2.3", "{listed}");
    let history = run(&["history", "web", "-o", "json"]);
    let statuses: Vec<(&str, &str)> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|h| (h["status"].as_str().unwrap_or(""), h["description"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(statuses, [("superseded", "Install complete"), ("deployed", "Upgrade complete")], "{history}");
    assert_eq!(run(&["get", "values", "web", "-o", "json"]), json!({"color": "teal"}));
}

/// A Flux HelmRelease on a kube hub, as `flux bootstrap` lays one out (a HelmRepository on
/// loopback HTTP, values from a ConfigMap): released with records the real `helm` reads (`helm
/// list`, `helm history`), its status written on the HelmRelease as helm-controller writes it;
/// the second run changes nothing; after `helm upgrade` changes the release behind its back,
/// the next run upgrades it back to what Git says, as helm-controller does.
#[test]
fn a_helm_release_on_a_kube_hub_is_released_as_helm_keeps_releases() {
    let Some(env) = testenv::or_skip("a_helm_release_on_a_kube_hub_is_released_as_helm_keeps_releases") else {
        return;
    };
    let Some(helm) = std::env::var_os("GITOPS_HELM").filter(|h| !h.is_empty()) else {
        eprintln!("note: a_helm_release_on_a_kube_hub_is_released_as_helm_keeps_releases needs GITOPS_HELM; skipped");
        return;
    };
    install_controller_crds(env);
    let dir = tempfile::tempdir().expect("tempdir");
    let charts = dir.path().join("charts");
    std::fs::create_dir_all(&charts).expect("mkdir");
    crate::charts::chart_repository(&charts, &["1.0.0", "1.2.3"]);
    let (url, _) = crate::charts::serve(&charts, None);
    let write = |rel: &str, text: &str| crate::write_under(dir.path(), rel, text);
    const GIT: &str = "https://git.example.com/helm-fleet.git";
    write(
        "clusters/hub/sync.yaml",
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: flux-system}}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: fleet, namespace: flux-system}}\nspec: {{url: '{GIT}', ref: {{branch: main}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: hubroot, namespace: flux-system}}\nspec: {{interval: 10m, path: ./clusters/hub, prune: true, sourceRef: {{kind: GitRepository, name: fleet}}}}\n"
        ),
    );
    write(
        "clusters/hub/web.yaml",
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: helmapps}}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: charts, namespace: flux-system}}\nspec: {{url: '{url}', interval: 10m}}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web-values, namespace: helmapps}}\ndata:\n  values.yaml: 'color: green'\n---\n\
             apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: web, namespace: helmapps}}\nspec:\n  interval: 5m\n  targetNamespace: helmshop\n\
             \x20 chart: {{spec: {{chart: web, version: 1.x, sourceRef: {{kind: HelmRepository, name: charts, namespace: flux-system}}}}}}\n\
             \x20 valuesFrom: [{{kind: ConfigMap, name: web-values}}]\n  install: {{createNamespace: true}}\n"
        ),
    );
    let local = format!("{GIT}={}", dir.path().display());
    let root = dir.path().join("clusters/hub/sync.yaml");
    let cache = dir.path().join("cache");
    let args = [
        "reconcile",
        "--app",
        root.to_str().unwrap(),
        "--local",
        &local,
        "--target",
        "kube:testenv",
        "--cache",
        cache.to_str().unwrap(),
    ];
    let first = gitops_kube(env, &args, None, 120);
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    let helm_json = |args: &[&str]| {
        let o = Command::new(&helm)
            .args(args)
            .args(["--namespace", "helmapps", "-o", "json", "--kubeconfig"])
            .arg(env.kubeconfig())
            .output()
            .expect("run helm");
        assert!(o.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Value>(&o.stdout).expect("helm's JSON")
    };
    let listed = helm_json(&["list"]);
    assert_eq!(listed[0]["name"], "helmshop-web", "{listed}");
    assert_eq!(listed[0]["namespace"], "helmshop", "{listed}");
    assert_eq!(listed[0]["revision"], "1", "{listed}");
    assert_eq!(listed[0]["status"], "deployed", "{listed}");
    assert_eq!(listed[0]["chart"], "web-1.2.3", "{listed}");
    let values = helm_json(&["get", "values", "helmshop-web"]);
    assert_eq!(values, json!({"color": "green"}));
    let hr = runtime().block_on(async {
        let req = Request::new("/apis/helm.toolkit.fluxcd.io/v2/namespaces/helmapps/helmreleases")
            .get("web", &Default::default())
            .unwrap();
        client(env).await.request::<Value>(req).await.expect("the HelmRelease")
    });
    let status = &hr["status"];
    assert_eq!(status["lastAttemptedRevision"], "1.2.3", "{status}");
    assert_eq!(status["history"][0]["version"], 1, "{status}");
    assert_eq!(status["history"][0]["status"], "deployed", "{status}");
    let ready = status["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "Ready")).cloned();
    assert_eq!(ready.as_ref().map(|c| c["status"].clone()), Some(json!("True")), "{status}");

    let again = gitops_kube(env, &args, None, 120);
    assert_eq!(again.status.code(), Some(0), "{}{}", out(&again), err(&again));
    assert_eq!(helm_json(&["history", "helmshop-web"]).as_array().map(Vec::len), Some(1), "{}", out(&again));
    let listed = gitops_kube(env, &["get", "helmreleases", "-A", "--hub", "kube:testenv"], None, 60);
    assert!(
        out(&listed).contains(
            "helmapps   web   1.2.3     False      True   Helm install succeeded for release helmshop/helmshop-web.v1 with chart web@1.2.3"
        ),
        "{}",
        out(&listed)
    );

    // `helm upgrade` behind the HelmRelease's back: the next run puts Git's values back.
    let o = Command::new(&helm)
        .args(["upgrade", "helmshop-web", "web", "--repo", &url, "--version", "1.2.3", "--namespace", "helmapps"])
        .args(["--set", "color=red", "--kubeconfig"])
        .arg(env.kubeconfig())
        .output()
        .expect("run helm upgrade");
    assert!(o.status.success(), "helm upgrade of our release: {}", String::from_utf8_lossy(&o.stderr));
    let third = gitops_kube(env, &args, None, 120);
    assert_eq!(third.status.code(), Some(0), "{}{}", out(&third), err(&third));
    let history = helm_json(&["history", "helmshop-web"]);
    let shown: Vec<(i64, String)> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|h| (h["revision"].as_i64().unwrap_or(0), h["status"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(shown, [(1, "superseded".into()), (2, "superseded".into()), (3, "deployed".into())], "{history}");
    assert_eq!(helm_json(&["get", "values", "helmshop-web"]), json!({"color": "green"}));

    // One HelmRelease of the hub, as `flux reconcile helmrelease --with-source`: in sync.
    let hub = ["--hub", "kube:testenv", "-n", "helmapps"];
    let one =
        ["reconcile", "helmrelease", "web", "--with-source", "--local", &local, "--cache", cache.to_str().unwrap()];
    let o = gitops_kube(env, &[&one[..], &hub[..]].concat(), None, 120);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(helm_json(&["history", "helmshop-web"]).as_array().map(Vec::len), Some(3));
    // Suspended, it is left alone; resumed, it is released again.
    let o = gitops_kube(env, &[&["suspend", "helmrelease", "web"][..], &hub[..]].concat(), None, 60);
    assert_eq!(out(&o).trim(), "► HelmRelease helmapps/web suspended", "{}", err(&o));
    let o = gitops_kube(env, &["get", "helmreleases", "-n", "helmapps", "--hub", "kube:testenv"], None, 60);
    assert!(out(&o).contains("web   1.2.3     True"), "{}", out(&o));
    let o = gitops_kube(env, &[&["resume", "hr", "web"][..], &hub[..]].concat(), None, 60);
    assert_eq!(out(&o).trim(), "► HelmRelease helmapps/web resumed", "{}", err(&o));
}

/// `test.enable`: after the install, the chart's test hook (a Job, `helm.sh/hook: test`) runs on
/// the real API server (its Pod completed by the harness's kubelet, the Job by the real Job
/// controller), and the HelmRelease's `TestSuccess` condition says so.
#[test]
fn a_helm_release_runs_its_chart_tests() {
    let Some(env) = testenv::or_skip("a_helm_release_runs_its_chart_tests") else {
        return;
    };
    if std::env::var_os("GITOPS_HELM").is_none_or(|h| h.is_empty()) {
        eprintln!("note: a_helm_release_runs_its_chart_tests needs GITOPS_HELM; skipped");
        return;
    }
    kubelet_namespaces(env, &["helmtests"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = dir.path().join("src/tested");
    let write = |rel: &str, text: &str| crate::write_under(&chart, rel, text);
    write("Chart.yaml", "apiVersion: v2\nname: tested\nversion: 1.0.0\n");
    write("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tested}\ndata: {a: b}\n");
    write(
        "templates/tests/check.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: tested-check\n  annotations: {helm.sh/hook: test}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: check, image: busybox, command: [\"true\"]}]\n",
    );
    let repo = dir.path().join("repo");
    let helm = std::env::var_os("GITOPS_HELM").expect("helm");
    for args in [
        vec!["package", chart.to_str().unwrap(), "-d", repo.to_str().unwrap()],
        vec!["repo", "index", repo.to_str().unwrap()],
    ] {
        let o = Command::new(&helm).args(&args).output().expect("run helm");
        assert!(o.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let (url, _) = crate::charts::serve(&repo, None);
    let release = dir.path().join("release.yaml");
    std::fs::write(
        &release,
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: charts, namespace: helmtests}}\nspec: {{url: '{url}'}}\n---\n\
             apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: tested, namespace: helmtests}}\nspec:\n\
             \x20 chart: {{spec: {{chart: tested, sourceRef: {{kind: HelmRepository, name: charts}}}}}}\n  test: {{enable: true}}\n  timeout: 60s\n"
        ),
    )
    .expect("write the release");
    let cache = dir.path().join("cache");
    let args = [
        "reconcile",
        "--app",
        release.to_str().unwrap(),
        "--target",
        "kube:testenv",
        "--cache",
        cache.to_str().unwrap(),
    ];
    let o = gitops_kube(env, &args, None, 120);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let kept =
        walk(&dir.path().join(".gitops")).into_iter().find(|p| p.ends_with(".release.json")).expect("status kept");
    let status: Value = serde_json::from_str(&std::fs::read_to_string(&kept).expect("read")).expect("json");
    let test = status["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "TestSuccess")).cloned();
    let test = test.unwrap_or_else(|| panic!("no TestSuccess: {status}"));
    assert_eq!(test["status"], "True", "{status}");
    assert_eq!(
        test["message"],
        "Helm test succeeded for release helmtests/tested.v1 with chart tested@1.0.0: 1 test hooks completed successfully"
    );
    let job = runtime().block_on(async {
        let req =
            Request::new("/apis/batch/v1/namespaces/helmtests/jobs").get("tested-check", &Default::default()).unwrap();
        client(env).await.request::<Value>(req).await.expect("the test Job, kept (before-hook-creation)")
    });
    let complete = job["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Complete"));
    assert!(complete, "{job}");

    // Version 1.1.0's test is a Pod that never finishes: the upgrade is released, the test runs
    // out of time, and TestSuccess and Ready say so.
    write("Chart.yaml", "apiVersion: v2\nname: tested\nversion: 1.1.0\n");
    write(
        "templates/tests/wait.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: tested-wait\n  annotations: {helm.sh/hook: test, helm.sh/hook-weight: '1'}\nspec:\n  restartPolicy: Never\n  containers: [{name: wait, image: busybox, command: [sleep, '3600']}]\n",
    );
    for args in [
        vec!["package", chart.to_str().unwrap(), "-d", repo.to_str().unwrap()],
        vec!["repo", "index", repo.to_str().unwrap()],
    ] {
        let o = Command::new(&helm).args(&args).output().expect("run helm");
        assert!(o.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let text = std::fs::read_to_string(&release)
        .expect("read")
        .replace("timeout: 60s", "timeout: 5s\n  upgrade: {remediation: {retries: 1}}");
    std::fs::write(&release, text).expect("write");
    let o = gitops_kube(env, &args, None, 120);
    let status: Value = serde_json::from_str(&std::fs::read_to_string(&kept).expect("read")).expect("json");
    let condition = |t: &str| {
        status["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == t)).cloned().unwrap_or_default()
    };
    assert_eq!(condition("TestSuccess")["status"], "False", "{status}\n{}{}", out(&o), err(&o));
    let message = condition("TestSuccess")["message"].as_str().unwrap_or("").to_string();
    assert!(
        message.starts_with("Helm test failed for release helmtests/tested.v2 with chart tested@1.1.0: /Pod/helmtests/tested-wait: timed out"),
        "{message}"
    );
    assert_eq!(condition("Ready")["status"], "False", "{status}");
    assert_eq!(status["upgradeFailures"], 1, "{status}");

    // The failed test fails the upgrade: the next run rolls back to revision 1, as
    // helm-controller remediates it (`upgrade.remediation.retries: 1`).
    let o = gitops_kube(env, &args, None, 120);
    let history = Command::new(&helm)
        .args(["history", "tested", "--namespace", "helmtests", "-o", "json", "--kubeconfig"])
        .arg(env.kubeconfig())
        .output()
        .expect("helm history");
    let history: Value = serde_json::from_slice(&history.stdout).expect("helm's JSON");
    let shown: Vec<(i64, String, String)> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            let t = |k: &str| h[k].as_str().unwrap_or("").to_string();
            (h["revision"].as_i64().unwrap_or(0), t("status"), t("description"))
        })
        .collect();
    assert_eq!(
        shown.last(),
        Some(&(3, "deployed".to_string(), "Rollback to 1".to_string())),
        "{history}\n{}{}",
        out(&o),
        err(&o)
    );
}

/// Every file under `dir` as a string path, recursively.
fn walk(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path.display().to_string());
        }
    }
    files
}
