//! `gitops sync` into a FileCluster, end to end.

use std::path::Path;

use crate::{err, gitops, out};

const APP: &str = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop, namespace: argocd}
spec:
  destination: {namespace: shop}
  source: {repoURL: https://git.example.com/shop.git, targetRevision: main, path: deploy}
  syncPolicy:
    automated: {prune: PRUNE}
";

const MANIFESTS: &str = "apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, annotations: {argocd.argoproj.io/sync-wave: '1'}}
data: {mode: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {argocd.argoproj.io/sync-wave: '2'}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: 'nginx:1.25'}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: HookSucceeded}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
";

fn setup(prune: bool) -> tempfile::TempDir {
    crate::app_repo(&APP.replace("PRUNE", &prune.to_string()), MANIFESTS)
}

fn sync(dir: &Path, extra: &[&str]) -> std::process::Output {
    crate::sync_local(dir, extra)
}

fn stored(dir: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(".gitops/cluster").join(rel)).ok()
}

#[test]
fn first_sync_creates_in_order_and_the_second_applies_nothing() {
    let dir = setup(true);
    let o = sync(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let text = out(&o);
    let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("`{needle}` in {text}"));
    assert!(at("hook         batch/Job shop/migrate: created") < at("ConfigMap shop/settings: created"));
    assert!(at("ConfigMap shop/settings: created") < at("apps/Deployment shop/web: created"), "waves in order");
    assert!(text.contains("delete hook  batch/Job shop/migrate: deleted"), "{text}");
    assert!(text.contains("Synced: successfully synced"), "{text}");
    let cm = stored(dir.path(), "shop/core/ConfigMap/settings.yaml").expect("stored");
    assert!(cm.contains("argocd.argoproj.io/tracking-id: shop:/ConfigMap:shop/settings"), "{cm}");
    assert!(cm.contains("resourceVersion:") && cm.contains("uid:"), "{cm}");
    assert!(stored(dir.path(), "shop/batch/Job/migrate.yaml").is_none(), "the hook was deleted once done");
    let again = sync(dir.path(), &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(out(&again).contains("Synced: nothing to apply (3 objects in sync)"), "{}", out(&again));
}

#[test]
fn drift_is_reverted_and_removed_manifests_pruned_only_when_allowed() {
    for prune in [false, true] {
        let dir = setup(prune);
        assert_eq!(sync(dir.path(), &[]).status.code(), Some(0));
        let cm = dir.path().join(".gitops/cluster/shop/core/ConfigMap/settings.yaml");
        let drifted = std::fs::read_to_string(&cm).expect("read").replace("mode: blue", "mode: green");
        std::fs::write(&cm, drifted).expect("write");
        let without_web: Vec<&str> = MANIFESTS.split("---\n").filter(|d| !d.contains("kind: Deployment")).collect();
        std::fs::write(dir.path().join("deploy/all.yaml"), without_web.join("---\n")).expect("write");
        let o = sync(dir.path(), &[]);
        // A prune left undone keeps the app OutOfSync (Argo CD's requiresPruning), so exit 1.
        assert_eq!(o.status.code(), Some(if prune { 0 } else { 1 }), "{}", out(&o));
        assert!(out(&o).contains("ConfigMap shop/settings: configured"), "{}", out(&o));
        assert!(std::fs::read_to_string(&cm).expect("read").contains("mode: blue"), "drift reverted");
        let web = stored(dir.path(), "shop/apps/Deployment/web.yaml");
        assert_eq!(web.is_none(), prune, "pruned only with prune on: {}", out(&o));
        if !prune {
            assert!(out(&o).contains("OutOfSync: "), "{}", out(&o));
            let status = gitops(&["status", "--app", dir.path().join("app.yaml").to_str().expect("utf-8")], None);
            assert!(out(&status).contains("sync:        OutOfSync"), "{}", out(&status));
            let again = sync(dir.path(), &[]);
            assert_eq!(again.status.code(), Some(1), "{}", out(&again));
            assert!(out(&again).contains("1 object requires pruning, which this sync does not do"), "{}", out(&again));
            let o = sync(dir.path(), &["--prune"]);
            assert_eq!(o.status.code(), Some(0), "{}", out(&o));
            assert!(out(&o).contains("apps/Deployment shop/web: pruned"), "{}", out(&o));
            assert!(stored(dir.path(), "shop/apps/Deployment/web.yaml").is_none());
        }
    }
}

#[test]
fn objects_the_app_does_not_own_are_never_pruned_and_an_empty_render_prunes_nothing() {
    let dir = setup(true);
    assert_eq!(sync(dir.path(), &[]).status.code(), Some(0));
    let foreign = dir.path().join(".gitops/cluster/shop/core/ConfigMap/foreign.yaml");
    std::fs::write(&foreign, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign, namespace: shop}\n")
        .expect("write");
    std::fs::write(dir.path().join("deploy/all.yaml"), "").expect("write");
    let o = sync(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("sync refused"), "{}", out(&o));
    assert!(stored(dir.path(), "shop/core/ConfigMap/settings.yaml").is_some(), "nothing pruned without allowEmpty");
    assert!(foreign.exists());
    std::fs::write(dir.path().join("deploy/all.yaml"), MANIFESTS.split("---\n").next().expect("namespace"))
        .expect("write");
    let o = sync(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(stored(dir.path(), "shop/core/ConfigMap/settings.yaml").is_none(), "owned and gone from Git: pruned");
    assert!(foreign.exists(), "never prune what the app does not own");
    let o = gitops(&["sync", "--app", "x.yaml", "--target", "kube"], None);
    assert_eq!(o.status.code(), Some(2));
}

/// Objects that carry the app's marks without being the app's: a ReplicaSet the Deployment
/// made (instance label and its own tracking id copied from the template by a chart, plus an
/// owner reference) and a ConfigMap whose tracking id was copied from `settings`. Argo CD
/// manages root objects only, and only those whose tracking id names themselves: `diff` must
/// not report them for pruning and `sync --prune` must leave them alone, while a genuinely
/// stale object of the app is still pruned.
#[test]
fn owned_objects_and_copied_tracking_ids_are_neither_reported_nor_pruned() {
    let dir = setup(false);
    assert_eq!(sync(dir.path(), &[]).status.code(), Some(0));
    let cluster = dir.path().join(".gitops/cluster");
    let replica_set = cluster.join("shop/apps/ReplicaSet/web-5d4f.yaml");
    std::fs::create_dir_all(replica_set.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &replica_set,
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-5d4f\n  namespace: shop\n  labels: {app.kubernetes.io/instance: shop}\n  annotations: {argocd.argoproj.io/tracking-id: 'shop:apps/ReplicaSet:shop/web-5d4f'}\n  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: 0b8c, controller: true}]\nspec:\n  selector: {matchLabels: {app: web}}\n",
    )
    .expect("write");
    let copy = cluster.join("shop/core/ConfigMap/copy.yaml");
    std::fs::write(
        &copy,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: copy\n  namespace: shop\n  annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:shop/settings'}\n",
    )
    .expect("write");
    let stale = cluster.join("shop/core/ConfigMap/stale.yaml");
    std::fs::write(
        &stale,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stale\n  namespace: shop\n  annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:shop/stale'}\n",
    )
    .expect("write");

    let app = dir.path().join("app.yaml");
    let desired = dir.path().join("deploy");
    let args = |format: &'static str| {
        vec![
            "diff".to_string(),
            desired.display().to_string(),
            cluster.display().to_string(),
            "--app".to_string(),
            app.display().to_string(),
            "-o".to_string(),
            format.to_string(),
        ]
    };
    for format in ["json", "summary"] {
        let argv = args(format);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let o = gitops(&argv, None);
        assert_eq!(o.status.code(), Some(1), "the stale ConfigMap differs: {}{}", out(&o), err(&o));
        let text = out(&o);
        assert!(!text.contains("web-5d4f") && !text.contains("/copy"), "{text}");
        assert!(text.contains("ConfigMap/shop/stale"), "{text}");
    }
    let o = gitops(&args("json").iter().map(String::as_str).collect::<Vec<_>>(), None);
    let report: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(report["summary"]["requiresPruning"], 1, "{report}");

    let o = sync(dir.path(), &["--prune"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("ConfigMap shop/stale: pruned"), "{}", out(&o));
    assert!(!stale.exists(), "the app's own stale object is pruned");
    assert!(replica_set.exists(), "an owned object is never pruned: {}", out(&o));
    assert!(copy.exists(), "a copied tracking id is not this object's: {}", out(&o));
}

#[test]
fn the_readme_example_syncs_and_then_has_nothing_to_do() {
    let target = tempfile::tempdir().expect("tempdir");
    let to = format!("dir:{}", target.path().display());
    let args = [
        "sync",
        "--app",
        "examples/gitops-repo/argocd/api-server-production.yaml",
        "--local",
        "examples/gitops-repo",
        "--target",
        &to,
    ];
    let first = gitops(&args, None);
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    assert!(
        out(&first).contains("ops.example.com/Backup api-prod/prod-api-server-nightly: created"),
        "{}",
        out(&first)
    );
    assert!(out(&first).contains("Synced: successfully synced"), "{}", out(&first));
    let second = gitops(&args, None);
    assert_eq!(second.status.code(), Some(0));
    assert!(out(&second).contains("Synced: nothing to apply"), "{}", out(&second));
}

fn run(dir: &Path, command: &str, extra: &[&str]) -> std::process::Output {
    let app = dir.join("app.yaml");
    let mut args = vec![command, "--app", app.to_str().expect("utf-8"), "--local", dir.to_str().expect("utf-8")];
    args.extend(extra);
    gitops(&args, None)
}

fn drift(dir: &Path) {
    let cm = dir.join(".gitops/cluster/shop/core/ConfigMap/settings.yaml");
    let drifted = std::fs::read_to_string(&cm).expect("read").replace("mode: blue", "mode: green");
    std::fs::write(&cm, drifted).expect("write");
}

#[test]
fn reconcile_follows_the_policy_and_status_reports_the_last_pass() {
    // Automated without selfHeal: the first pass syncs the new revision; drift at that
    // revision is reported, not reverted.
    let dir = setup(false);
    let o = run(dir.path(), "status", &[]);
    assert_eq!(o.status.code(), Some(2), "no status yet: {}", err(&o));
    let o = run(dir.path(), "reconcile", &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("ConfigMap shop/settings: created"), "{}", out(&o));
    drift(dir.path());
    let o = run(dir.path(), "reconcile", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("OutOfSync: out of sync at the synced revision; selfHeal is off"), "{}", out(&o));
    let s = run(dir.path(), "status", &[]);
    assert_eq!(s.status.code(), Some(1));
    let text = out(&s);
    assert!(text.contains("sync:        OutOfSync") && text.contains("revision:    local"), "{text}");
    assert!(text.contains("last sync:   Succeeded"), "{text}");
    // With selfHeal the next pass reverts it; `watch` runs passes at the interval.
    let app = std::fs::read_to_string(dir.path().join("app.yaml")).expect("read");
    std::fs::write(dir.path().join("app.yaml"), app.replace("prune: false", "prune: false, selfHeal: true"))
        .expect("write");
    let o = run(dir.path(), "watch", &["--interval", "1ms", "--passes", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let text = out(&o);
    assert!(text.contains("ConfigMap shop/settings: configured"), "{text}");
    assert_eq!(text.matches("Synced: ").count(), 2, "two passes: {text}");
    assert_eq!(run(dir.path(), "status", &[]).status.code(), Some(0));
}

#[test]
fn manual_and_suspended_apps_are_compared_not_synced() {
    let dir = setup(false);
    let app = std::fs::read_to_string(dir.path().join("app.yaml")).expect("read");
    let manual: String = app.lines().take_while(|l| !l.contains("syncPolicy")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("app.yaml"), manual).expect("write");
    let o = run(dir.path(), "reconcile", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("OutOfSync: out of sync; no automated sync policy"), "{}", out(&o));
    assert!(stored(dir.path(), "shop/core/ConfigMap/settings.yaml").is_none());
    let flux = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: shop, namespace: flux-system}\nspec: {url: 'https://git.example.com/shop.git', ref: {branch: main}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: shop, namespace: flux-system}\nspec:\n  interval: 5m\n  suspend: true\n  dependsOn: [{name: infra}]\n  prune: true\n  path: ./deploy\n  targetNamespace: shop\n  sourceRef: {kind: GitRepository, name: shop}\n";
    std::fs::write(dir.path().join("app.yaml"), flux).expect("write");
    let o = run(dir.path(), "reconcile", &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("suspended, so not synced"), "{}", out(&o));
    assert!(!out(&o).contains("not supported"), "{}", out(&o));
    assert!(!out(&o).contains("note: the app is suspended"), "reconcile just says it is not synced: {}", out(&o));
    // A sync asked for by hand runs, and says the app is suspended.
    let o = run(dir.path(), "sync", &[]);
    assert!(
        out(&o).contains("note: the app is suspended (spec.suspend: true); syncing because it was asked for"),
        "{}",
        out(&o)
    );
    assert!(stored(dir.path(), "shop/core/ConfigMap/settings.yaml").is_some(), "{}", out(&o));
    std::fs::remove_dir_all(dir.path().join(".gitops")).expect("clean");
    std::fs::write(dir.path().join("app.yaml"), flux.replace("suspend: true", "suspend: false")).expect("write");
    let o = run(dir.path(), "reconcile", &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("OutOfSync: dependency 'flux-system/infra' is not ready"), "{}", out(&o));
    assert!(stored(dir.path(), "shop/core/ConfigMap/settings.yaml").is_none());
}

#[test]
fn a_failing_sync_is_retried_with_backoff_then_reported_failed() {
    let dir = setup(true);
    let app = std::fs::read_to_string(dir.path().join("app.yaml")).expect("read");
    let retry = "    retry: {limit: 2, backoff: {duration: 1ms, factor: 2, maxDuration: 10ms}}\n";
    std::fs::write(dir.path().join("app.yaml"), format!("{app}{retry}")).expect("write");
    // An API server refuses this name, and so does a FileCluster.
    let bad = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n";
    std::fs::write(dir.path().join("deploy/all.yaml"), format!("{MANIFESTS}{bad}")).expect("write");
    let o = run(dir.path(), "reconcile", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert_eq!(text.matches("ConfigMap shop/Bad_Name: ").count(), 3, "one attempt and two retries: {text}");
    assert!(text.contains("metadata.name: Invalid value: \"Bad_Name\""), "{text}");
    let s = out(&run(dir.path(), "status", &[]));
    assert!(s.contains("last sync:   Failed") && s.contains("(retried 2 times)."), "{s}");
}

#[test]
fn ctrl_c_stops_a_watch_cleanly() {
    use std::io::{BufRead, BufReader};
    let dir = setup(true);
    let app = dir.path().join("app.yaml");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["watch", "--app", app.to_str().expect("utf-8"), "--local", dir.path().to_str().expect("utf-8")])
        .args(["--interval", "1h"])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn gitops watch");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("Synced: ") {
            break;
        }
    }
    assert!(seen.contains("Synced: "), "{seen}");
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{seen}{rest:?}");
    assert!(rest.iter().any(|l| l.contains("stopped after 1 passes")), "{rest:?}");
}

#[test]
fn the_readme_example_syncs_into_a_kubernetes_cluster_through_kube_rs() {
    let server = std::sync::Arc::new(
        gitops_standin::ApiServer::builder().controller_delay(std::time::Duration::from_millis(50)).start(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig("standin", "default")).expect("write");
    let app = dir.path().join("api-server-production.yaml");
    std::fs::copy(crate::repo().join("examples/gitops-repo/argocd/api-server-production.yaml"), &app)
        .expect("copy app");
    let args = [
        "sync",
        "--app",
        app.to_str().expect("utf-8"),
        "--local",
        "examples/gitops-repo",
        "--target",
        "kube:standin",
        "--kubeconfig",
        kubeconfig.to_str().expect("utf-8"),
        "--customizations",
        "examples/gitops-repo/apps/api-server/health",
    ];
    // The backup operator the example's CR needs: its Lua check waits for a completed backup.
    let operator = {
        let server = std::sync::Arc::clone(&server);
        std::thread::spawn(move || {
            for _ in 0..600 {
                if let Some(mut backup) =
                    server.get("ops.example.com/v1", "Backup", "api-prod", "prod-api-server-nightly")
                {
                    backup["status"] =
                        serde_json::json!({"phase": "Completed", "lastSuccessfulTime": "2026-11-27T01:00:00Z"});
                    server.insert(backup, "backup-operator");
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            false
        })
    };
    let first = gitops(&args, None);
    assert!(operator.join().expect("operator"), "the Backup was created");
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    let text = out(&first);
    assert!(text.contains("-> kube:standin"), "{text}");
    assert!(text.contains("Last backup completed at"), "the Lua check decided: {text}");
    assert!(text.contains("Synced: successfully synced"), "{text}");
    assert!(text.contains("KIND") && text.contains("RESULT"), "a summary table: {text}");
    assert!(server.get("apps/v1", "Deployment", "api-prod", "prod-api-server").is_some(), "{text}");
    assert!(server.get("ops.example.com/v1", "Backup", "api-prod", "prod-api-server-nightly").is_some(), "{text}");
    let applies: Vec<_> = server.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert!(applies.iter().all(|r| r.param("fieldManager") == Some("gitops")), "ServerSideApply=true: {applies:?}");
    let second = gitops(&args, None);
    assert_eq!(second.status.code(), Some(0), "{}{}", out(&second), err(&second));
    assert!(out(&second).contains("Synced: nothing to apply"), "{}", out(&second));
    let status = gitops(
        &[
            "status",
            "--app",
            app.to_str().expect("utf-8"),
            "--target",
            "kube:standin",
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(status.status.code(), Some(0), "{}{}", out(&status), err(&status));
    assert!(out(&status).contains("health:      Healthy"), "{}", out(&status));
}

#[test]
fn a_terminal_gets_a_progress_bar_under_the_step_lines() {
    let dir = setup(true);
    let app = dir.path().join("app.yaml");
    // `script` runs the command on a pseudo-terminal, as a user's shell would.
    let command = format!(
        "{} sync --app {} --local {}",
        env!("CARGO_BIN_EXE_gitops"),
        app.to_str().expect("utf-8"),
        dir.path().to_str().expect("utf-8")
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run `script` (util-linux)");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("[======                  ] 1/4 "), "a bar after the first step: {text:?}");
    let blank = format!("\r{}\r", " ".repeat("[============            ] 2/4 ".len()));
    assert!(
        text.contains(&format!("{blank}  apply        ConfigMap shop/settings: created")),
        "lines clear the bar: {text:?}"
    );
    assert!(text.contains("[========================] 4/4 "), "{text:?}");
    // Piped output gets no bar.
    assert!(!out(&sync(dir.path(), &[])).contains('\r'));
}

/// Found syncing public examples: with `CreateNamespace=true` the second sync planned `create
/// Namespace` again (the namespace it made is tracked by no app, so it was never listed), and so
/// every pass re-ran the PreSync hooks.
#[test]
fn a_second_sync_with_create_namespace_applies_nothing() {
    let dir = setup(true);
    let manifests: Vec<&str> = MANIFESTS.split("---\n").filter(|d| !d.contains("kind: Namespace")).collect();
    std::fs::write(dir.path().join("deploy/all.yaml"), manifests.join("---\n")).expect("write");
    let app = std::fs::read_to_string(dir.path().join("app.yaml")).expect("read");
    std::fs::write(dir.path().join("app.yaml"), format!("{app}    syncOptions: [CreateNamespace=true]\n"))
        .expect("write");
    let first = sync(dir.path(), &[]);
    assert_eq!(first.status.code(), Some(0), "{}", out(&first));
    assert!(out(&first).contains("Namespace shop: created"), "{}", out(&first));
    for _ in 0..2 {
        let again = sync(dir.path(), &[]);
        assert_eq!(again.status.code(), Some(0), "{}", out(&again));
        assert!(out(&again).contains("Synced: nothing to apply"), "{}", out(&again));
        assert!(!out(&again).contains("hook"), "no hook runs again: {}", out(&again));
    }
}

/// Several apps in one `--app` file: the one named by `--name`, never the first by chance.
#[test]
fn several_apps_in_one_file_need_a_name() {
    let dir = setup(true);
    let app = std::fs::read_to_string(dir.path().join("app.yaml")).expect("read");
    let other = app.replace("name: shop,", "name: shop-canary,");
    std::fs::write(dir.path().join("app.yaml"), format!("{app}---\n{other}")).expect("write");
    let o = sync(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("holds 2 apps (shop, shop-canary); name the one to use (--name NAME)"), "{}", err(&o));
    let o = sync(dir.path(), &["--name", "shop-canary"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).starts_with("shop-canary -> "), "{}", out(&o));
}

/// A cluster that cannot be reached is named, with the cause, not just "client error (Connect)".
#[test]
fn an_unreachable_cluster_is_named_with_the_cause() {
    let dir = setup(true);
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\nusers: [{name: dev, user: {token: abc}}]\ncontexts: [{name: dev, context: {cluster: c, user: dev}}]\n",
    )
    .expect("write");
    let o = sync(dir.path(), &["--target", "kube", "--kubeconfig", kubeconfig.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("at https://127.0.0.1:1/: "), "{}", err(&o));
    assert!(err(&o).contains("Connection refused"), "{}", err(&o));
}

/// A misspelt field is named, with the one meant, by every verb that reads the app, instead of
/// being ignored in silence.
#[test]
fn misspelt_app_fields_are_named() {
    let dir = setup(true);
    let app = std::fs::read_to_string(dir.path().join("app.yaml")).expect("read");
    let typo = app
        .replace("  source:", "  sycnPolicy: {}\n  source:")
        .replace("path: deploy", "path: deploy, targetRevison: v1");
    std::fs::write(dir.path().join("app.yaml"), typo).expect("write");
    let app_path = dir.path().join("app.yaml");
    let app_arg = app_path.to_str().expect("utf-8");
    let expected = [
        "spec.source.targetRevison: not a field of an Application (did you mean spec.source.targetRevision?); it is ignored",
        "spec.sycnPolicy: not a field of an Application (did you mean spec.syncPolicy?); it is ignored",
    ];
    let deploy = dir.path().join("deploy");
    for o in [
        sync(dir.path(), &[]),
        gitops(&["diff", deploy.to_str().expect("utf-8"), deploy.to_str().expect("utf-8"), "--app", app_arg], None),
        gitops(&["status", "--app", app_arg], None),
    ] {
        for line in expected {
            assert!(err(&o).contains(line), "{}", err(&o));
        }
        assert!(!out(&o).contains("not supported yet"), "{}", out(&o));
    }
}

/// `sync --plugin FILE` gives the app the config management plugin it names (and without it,
/// the error names the flag); `sync --revision REV` renders that revision, as
/// `argocd app sync --revision` does.
#[test]
fn sync_takes_plugins_and_a_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str]| {
        crate::git_in(dir.path(), args);
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
    std::fs::write(dir.path().join("app/stage.txt"), "one").expect("write");
    git(&["add", "-A"]);
    git(&["commit", "-qm", "one"]);
    git(&["tag", "v1"]);
    std::fs::write(dir.path().join("app/stage.txt"), "two").expect("write");
    git(&["commit", "-qam", "two"]);
    let plugin = dir.path().join("plugin.yaml");
    std::fs::write(
        &plugin,
        "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata: {name: gen}\nspec:\n  generate:\n    command: [sh, -c]\n    args: ['printf \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: stage}\\ndata: {stage: %s}\\n\" \"$(cat stage.txt)\"']\n",
    )
    .expect("write");
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop, namespace: argocd}}\nspec:\n  destination: {{namespace: shop}}\n  source: {{repoURL: 'file://{}', targetRevision: main, path: app, plugin: {{name: gen}}}}\n  syncPolicy: {{syncOptions: [CreateNamespace=true]}}\n",
            dir.path().display()
        ),
    )
    .expect("write");
    let cache = dir.path().join("cache");
    let base = ["sync", "--app", app.to_str().expect("utf-8"), "--cache", cache.to_str().expect("utf-8")];
    let o = gitops(&base, None);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("pass its plugin.yaml with --plugin FILE"), "{}", err(&o));
    let with_plugin = [&base[..], &["--plugin", plugin.to_str().expect("utf-8"), "--revision", "v1"]].concat();
    let o = gitops(&with_plugin, None);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let stored =
        std::fs::read_to_string(dir.path().join(".gitops/cluster/shop/core/ConfigMap/stage.yaml")).expect("stored");
    assert!(stored.contains("stage: one"), "rendered at v1: {stored}");
}

/// `sync --resource GROUP:KIND:NAME` syncs only what it names and runs no hook, as Argo CD's
/// selective sync; what it leaves out keeps the app OutOfSync.
#[test]
fn a_selective_sync_touches_only_the_named_resources() {
    let dir = setup(true);
    let o = sync(dir.path(), &["--resource", ":ConfigMap:shop/settings", "--resource", ":Namespace:shop"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let stdout = out(&o);
    assert!(stdout.contains("ConfigMap shop/settings: created"), "{stdout}");
    assert!(!stdout.contains("migrate") && !stdout.contains("Deployment"), "no hook, nothing else: {stdout}");
    assert!(stored(dir.path(), "shop/apps/Deployment/web.yaml").is_none());
    assert!(stdout.contains("OutOfSync"), "{stdout}");
    let o = sync(dir.path(), &["--resource", "apps:Deployment"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("expected GROUP:KIND:NAME"), "{}", err(&o));
    let o = sync(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(stored(dir.path(), "shop/apps/Deployment/web.yaml").is_some());
}

/// A FileCluster refuses what an API server refuses: an object in a namespace that does not
/// exist fails (a dry run too, as on a server), naming the namespace and the two ways out;
/// the namespaces every cluster starts with are there, and `CreateNamespace=true` makes it.
#[test]
fn a_namespace_that_does_not_exist_fails_the_object_as_a_server_would() {
    let app = |options: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop, namespace: argocd}}\nspec:\n  destination: {{namespace: shop}}\n  source: {{repoURL: https://git.example.com/shop.git, path: deploy}}\n{options}"
        )
    };
    let manifests = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: kube-public}\n";
    let dir = crate::app_repo(&app(""), manifests);
    for extra in [&["--dry-run"][..], &[]] {
        let o = crate::sync_local(dir.path(), extra);
        let stdout = out(&o);
        assert_eq!(o.status.code(), Some(1), "{stdout}{}", err(&o));
        assert!(
            stdout.contains("namespace \"shop\" does not exist in the cluster directory; add the Namespace to the app or sync with CreateNamespace=true"),
            "{stdout}"
        );
        assert!(stdout.contains("1 synced, 0 pruned, 1 failed"), "kube-public exists from the start: {stdout}");
    }
    assert!(!dir.path().join(".gitops/cluster/shop").exists());
    std::fs::write(dir.path().join("app.yaml"), app("  syncPolicy: {syncOptions: [CreateNamespace=true]}\n"))
        .expect("write");
    let o = crate::sync_local(dir.path(), &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("checked (dry run; its namespace is created by this sync)"), "{}", out(&o));
    let o = crate::sync_local(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(dir.path().join(".gitops/cluster/shop/core/ConfigMap/settings.yaml").is_file());
}

/// A custom object reaches a FileCluster only after its CRD, as on a server: synced alone it
/// fails naming the missing CRD; a dry run of the whole app checks it as the CRD is created by
/// the same sync; the whole app syncs.
#[test]
fn a_custom_object_needs_its_crd_in_the_cluster_directory() {
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  destination: {namespace: default}\n  source: {repoURL: https://git.example.com/shop.git, path: deploy}\n";
    let manifests = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: backups.ops.example.com}\nspec:\n  group: ops.example.com\n  scope: Namespaced\n  names: {kind: Backup, plural: backups}\n  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]\n---\napiVersion: ops.example.com/v1\nkind: Backup\nmetadata: {name: nightly}\nspec: {schedule: '0 3 * * *'}\n";
    let dir = crate::app_repo(app, manifests);
    let o = crate::sync_local(dir.path(), &["--resource", "ops.example.com:Backup:nightly"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("the cluster serves no Backup in ops.example.com/v1"), "{}", out(&o));
    let o = crate::sync_local(dir.path(), &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("checked (dry run; its CRD is created by this sync)"), "{}", out(&o));
    let o = crate::sync_local(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(dir.path().join(".gitops/cluster/default/ops.example.com/Backup/nightly.yaml").is_file());
}

/// `--argocd-cm` gives a pass argocd-cm's diff settings too: drift its ignoreDifferences cover
/// is no drift, as `diff --argocd-cm` and `plan --argocd-cm` see it.
#[test]
fn an_argocd_cm_ignore_rule_is_no_drift_for_a_pass() {
    let dir = setup(true);
    assert_eq!(sync(dir.path(), &[]).status.code(), Some(0));
    let cm = dir.path().join(".gitops/cluster/shop/core/ConfigMap/settings.yaml");
    let drifted = std::fs::read_to_string(&cm).expect("read").replace("mode: blue", "mode: green");
    std::fs::write(&cm, drifted).expect("write");
    let argocd_cm = dir.path().join("argocd-cm.yaml");
    std::fs::write(
        &argocd_cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  resource.customizations.ignoreDifferences.ConfigMap: |\n    jsonPointers:\n    - /data/mode\n",
    )
    .expect("write");
    let o = sync(dir.path(), &["--argocd-cm", argocd_cm.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("Synced: nothing to apply (3 objects in sync)"), "{}", out(&o));
    assert!(std::fs::read_to_string(&cm).expect("read").contains("mode: green"), "ignored, so left");
    // Without it the drift is reverted.
    let o = sync(dir.path(), &[]);
    assert!(out(&o).contains("ConfigMap shop/settings: configured"), "{}", out(&o));
}

/// The tree `flux bootstrap` writes: `clusters/dev/apps.yaml` names the GitRepository that lives
/// in `clusters/dev/flux-system/gotk-sync.yaml`. It is found there (and said so); the second
/// sync applies nothing. Without it anywhere, the error names where it was looked for.
#[test]
fn a_flux_bootstrap_tree_finds_its_git_repository_beside_the_app() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |rel: &str, text: &str| crate::write_under(root, rel, text);
    write(
        "clusters/dev/flux-system/gotk-sync.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\nspec: {url: 'https://git.example.com/fleet.git', ref: {branch: main}}\n",
    );
    write(
        "clusters/dev/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./apps/dev\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    );
    write("apps/dev/kustomization.yaml", "namespace: web\nresources: [ns.yaml, cm.yaml]\n");
    write("apps/dev/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n");
    write("apps/dev/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: '1'}\n");
    let app = root.join("clusters/dev/apps.yaml");
    let target = format!("dir:{}", root.join("cluster").display());
    let args = ["sync", "--app", app.to_str().unwrap(), "--local", root.to_str().unwrap(), "--target", &target];
    let first = gitops(&args, None);
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    assert!(err(&first).contains("GitRepository flux-system/flux-system read from "), "{}", err(&first));
    assert!(out(&first).contains("ConfigMap web/web: created"), "{}", out(&first));
    let again = gitops(&args, None);
    assert!(out(&again).contains("Synced: nothing to apply (2 objects in sync)"), "{}", out(&again));

    std::fs::remove_file(root.join("clusters/dev/flux-system/gotk-sync.yaml")).expect("rm");
    let missing = gitops(&args, None);
    assert_eq!(missing.status.code(), Some(2), "{}", err(&missing));
    assert!(
        err(&missing).contains("no GitRepository flux-system/flux-system in YAML files under "),
        "{}",
        err(&missing)
    );
    assert!(err(&missing).contains("GitRepository `flux-system` is not among the objects given"), "{}", err(&missing));
}
