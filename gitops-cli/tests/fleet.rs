//! `gitops reconcile` of a root app and the fleet it produces, on FileClusters (examples/fleet).

use std::path::Path;

use super::{copy_dir, err, gitops, out, repo};

const FLEET_URL: &str = "https://git.example.com/fleet.git";

/// A copy of `examples/fleet` (its repository, served as FLEET_URL) in a new directory.
fn example_checkout() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let checkout = dir.path().join("fleet");
    copy_dir(&repo().join("examples/fleet"), &checkout);
    (dir, checkout)
}

fn reconcile(app: &Path, checkout: &Path, hub: &Path) -> std::process::Output {
    let local = format!("{FLEET_URL}={}", checkout.display());
    let target = format!("dir:{}", hub.display());
    gitops(&["reconcile", "--app", app.to_str().unwrap(), "--local", &local, "--target", &target], None)
}

/// The App-of-Apps: the root puts three Applications and a cluster Secret into the hub; each
/// Application goes to its cluster (in-cluster is the hub, `prod` the FileCluster beside it);
/// the second run applies nothing anywhere. An Application naming an unregistered cluster gets
/// Argo CD's message and the others go on.
#[test]
fn an_app_of_apps_deploys_to_two_clusters_and_settles() {
    let (dir, checkout) = example_checkout();
    let hub = dir.path().join("hub");
    let root = checkout.join("root.yaml");
    let first = reconcile(&root, &checkout, &hub);
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    let text = out(&first);
    assert!(text.contains("controller CRDs installed"), "{text}");
    for line in ["guestbook-dev -> dir:", "guestbook-prod -> dir:", "redis-prod -> dir:"] {
        assert!(text.contains(line), "{line}: {text}");
    }
    let prod = dir.path().join("clusters/prod");
    assert!(prod.join("guestbook/apps/Deployment/guestbook.yaml").is_file(), "prod got guestbook: {text}");
    assert!(prod.join("redis/apps/Deployment/redis.yaml").is_file(), "prod got redis");
    assert!(hub.join("guestbook/apps/Deployment/dev-guestbook.yaml").is_file(), "the hub got dev");
    assert!(!hub.join("guestbook/apps/Deployment/guestbook.yaml").exists(), "prod's app stays off the hub");

    let again = reconcile(&root, &checkout, &hub);
    let text = out(&again);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("Synced: nothing to apply").count(), 6, "root, three apps, two generated: {text}");
    assert!(text.contains("ApplicationSet argocd/overlays: 2 generated; create [], update [], delete []"), "{text}");

    let staging = std::fs::read_to_string(checkout.join("apps/redis-prod.yaml"))
        .unwrap()
        .replace("redis-prod", "redis-staging")
        .replace("name: prod", "name: staging");
    std::fs::write(checkout.join("apps/redis-staging.yaml"), staging).unwrap();
    let unknown = reconcile(&root, &checkout, &hub);
    let text = out(&unknown);
    assert_eq!(unknown.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Application argocd/redis-staging")
            && text.contains("there are no clusters with this name: staging"),
        "{text}"
    );
    assert_eq!(text.matches("Synced: nothing to apply").count(), 5, "the other apps went on: {text}");

    // Removed from Git: pruned from the hub by the root, and with Argo CD's resources finalizer
    // its resources go too; without the finalizer they stay.
    std::fs::remove_file(checkout.join("apps/redis-staging.yaml")).unwrap();
    let dev = checkout.join("apps/guestbook-dev.yaml");
    std::fs::write(
        &dev,
        std::fs::read_to_string(&dev).unwrap().replace("  finalizers: [resources-finalizer.argocd.argoproj.io]\n", ""),
    )
    .unwrap();
    let first_change = reconcile(&root, &checkout, &hub);
    assert_eq!(first_change.status.code(), Some(0), "{}", out(&first_change));
    assert!(
        out(&first_change).contains("guestbook-dev   differs from the desired state"),
        "the finalizer dropped: {}",
        out(&first_change)
    );
    std::fs::remove_file(&dev).unwrap();
    std::fs::remove_file(checkout.join("apps/redis-prod.yaml")).unwrap();
    let removed = reconcile(&root, &checkout, &hub);
    let text = out(&removed);
    assert_eq!(removed.status.code(), Some(0), "{text}");
    assert!(text.contains("Application argocd/redis-prod removed; 1 of its resources deleted from "), "{text}");
    assert!(!prod.join("redis/apps/Deployment/redis.yaml").exists(), "{text}");
    assert!(text.contains("Application argocd/guestbook-dev removed; its resources on "), "{text}");
    assert!(hub.join("guestbook/apps/Deployment/dev-guestbook.yaml").is_file(), "left without the finalizer");
    assert!(prod.join("guestbook/apps/Deployment/guestbook.yaml").is_file(), "the other apps are untouched");
}

/// A Flux tree: the bootstrap Kustomization manages itself (no cycle), and `apps` waits for
/// `infra` (`dependsOn`), which is passed first, so one run settles the fleet.
#[test]
fn a_flux_tree_passes_dependencies_first() {
    let (dir, checkout) = example_checkout();
    let hub = dir.path().join("hub");
    let root = checkout.join("flux/clusters/dev/flux-system/gotk-sync.yaml");
    let first = reconcile(&root, &checkout, &hub);
    let text = out(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", err(&first));
    let (infra, apps) = (text.find("infra -> dir:").expect("infra"), text.find("apps -> dir:").expect("apps"));
    assert!(infra < apps, "infra first: {text}");
    assert!(!text.contains("not ready") && !text.contains("cycle"), "{text}");
    assert!(hub.join("podinfo/core/ConfigMap/podinfo.yaml").is_file(), "apps deployed: {text}");
    let again = reconcile(&root, &checkout, &hub);
    assert_eq!(out(&again).matches("Synced: nothing to apply").count(), 3, "{}", out(&again));
}

/// `--workers 4` passes apps on different clusters together: the fleet ends as a sequential
/// pass leaves it, and each app's lines are printed whole, in the walk's order.
#[test]
fn workers_pass_apps_together_and_print_each_whole() {
    let run = |workers: &str| {
        let (dir, checkout) = example_checkout();
        let local = format!("{FLEET_URL}={}", checkout.display());
        let hub = dir.path().join("hub");
        let target = format!("dir:{}", hub.display());
        let root = checkout.join("root.yaml");
        let args = ["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", &target];
        let o = gitops(&[&args[..], &["--workers", workers]].concat(), None);
        assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
        let root_dir = dir.path().display().to_string();
        let text = out(&o).replace(&root_dir, "TMP");
        let files: Vec<String> = walkdir(dir.path())
            .into_iter()
            .filter(|p| !p.starts_with("fleet/") && !p.contains("/.status/") && !p.ends_with(".lock"))
            .collect();
        (text, files, dir)
    };
    let (sequential, files_one, _keep_one) = run("1");
    let (together, files_four, _keep_four) = run("4");
    assert_eq!(files_one, files_four, "the same objects on the hub and the clusters");
    assert_eq!(sequential, together, "the same lines in the same order");
    assert!(together.contains("guestbook-prod -> dir:TMP/clusters/prod"), "{together}");
    let o = gitops(&["reconcile", "--workers", "0", "--app", "x.yaml"], None);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}

/// `gitops watch` passes each app of a fleet on its own interval: a Kustomization's
/// `spec.interval` (`1h`, `10m` here) keeps it from the root's next pass.
#[test]
fn watched_kustomizations_keep_their_own_intervals() {
    let (dir, checkout) = example_checkout();
    let hub = dir.path().join("hub");
    let root = checkout.join("flux/clusters/dev/flux-system/gotk-sync.yaml");
    let local = format!("{FLEET_URL}={}", checkout.display());
    let target = format!("dir:{}", hub.display());
    let args = [
        "watch",
        "--app",
        root.to_str().unwrap(),
        "--local",
        &local,
        "--target",
        &target,
        "--interval",
        "300ms",
        "--interval-jitter",
        "0",
        "--passes",
        "2",
    ];
    let o = gitops(&args, None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    assert_eq!(text.matches("infra -> dir:").count(), 1, "infra's interval is 1h: {text}");
    assert_eq!(text.matches("apps -> dir:").count(), 1, "apps' is 10m: {text}");
    assert!(text.contains("2 of 3 apps not due (each passes on its own interval)"), "{text}");
    assert_eq!(text.matches("flux-system -> dir:").count(), 2, "the root takes --interval: {text}");
}

/// Every file under `root`, relative, sorted.
fn walkdir(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// The hub's apps as `argocd app list|get|delete` and `flux get|suspend|resume` show them.
#[test]
fn the_hub_verbs_list_get_delete_suspend_and_resume() {
    let (dir, checkout) = example_checkout();
    let hub = dir.path().join("hub");
    let first = reconcile(&checkout.join("root.yaml"), &checkout, &hub);
    assert_eq!(first.status.code(), Some(0), "{}", out(&first));
    let hub_arg = format!("dir:{}", hub.display());
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--hub", &hub_arg]);
        gitops(&all, None)
    };

    let list = run(&["app", "list", "-o", "json"]);
    let apps: serde_json::Value = serde_json::from_str(&out(&list)).expect("json");
    let names: Vec<&str> = apps.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["guestbook-dev", "guestbook-prod", "overlay-dev", "overlay-prod", "redis-prod"]);
    assert_eq!(apps[1]["destination"], serde_json::json!({"server": "", "name": "prod", "namespace": "guestbook"}));
    assert_eq!((apps[1]["sync"].as_str(), apps[1]["revision"].as_str()), (Some("Synced"), Some("local")));
    let table = out(&run(&["app", "list"]));
    assert!(table.starts_with("NAME  ") && table.contains("argocd/guestbook-prod  prod "), "{table}");
    assert!(table.contains("Auto-Prune"), "{table}");

    let get = run(&["app", "get", "guestbook-prod"]);
    let text = out(&get);
    assert_eq!(get.status.code(), Some(0), "{text}");
    assert!(text.contains("apps   Deployment  guestbook  guestbook  Synced"), "{text}");
    assert!(
        !text.contains("Namespace              guestbook"),
        "the namespace the sync made is not a resource: {text}"
    );
    let missing = run(&["app", "get", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(err(&missing).contains("application 'nope' not found in the hub"), "{}", err(&missing));

    let prod = dir.path().join("clusters/prod");
    let orphan = run(&["app", "delete", "guestbook-prod", "--cascade=orphan"]);
    assert!(out(&orphan).contains("application 'guestbook-prod' deleted; its resources left"), "{}", out(&orphan));
    assert!(prod.join("guestbook/apps/Deployment/guestbook.yaml").is_file());
    let cascade = run(&["app", "delete", "redis-prod"]);
    assert!(out(&cascade).contains("1 of its resources deleted"), "{}", out(&cascade));
    assert!(!prod.join("redis/apps/Deployment/redis.yaml").exists());
    let names = out(&run(&["app", "list", "-o", "json"]));
    assert!(!names.contains("redis-prod") && !names.contains("guestbook-prod"), "{names}");

    // Flux: the tree of the example, its Kustomizations listed, one suspended and resumed.
    let flux_hub = dir.path().join("flux-hub");
    let root = checkout.join("flux/clusters/dev/flux-system/gotk-sync.yaml");
    assert_eq!(reconcile(&root, &checkout, &flux_hub).status.code(), Some(0));
    let flux_arg = format!("dir:{}", flux_hub.display());
    let flux = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--hub", &flux_arg]);
        out(&gitops(&all, None))
    };
    let listed = flux(&["get", "kustomizations"]);
    assert!(listed.starts_with("NAME "), "{listed}");
    assert!(listed.contains("infra        local     False      True   Applied revision: local"), "{listed}");
    assert!(flux(&["get", "ks", "-A"]).starts_with("NAMESPACE "));
    assert_eq!(flux(&["suspend", "kustomization", "apps"]), "► Kustomization flux-system/apps suspended\n");
    assert!(flux(&["get", "ks"]).contains("apps         local     True "), "{}", flux(&["get", "ks"]));
    assert_eq!(flux(&["resume", "ks", "apps"]), "► Kustomization flux-system/apps resumed\n");

    // One app of the hub, now, as `flux reconcile kustomization NAME` (and the same for an
    // Application).
    let local = format!("{FLEET_URL}={}", checkout.display());
    let one = flux(&["reconcile", "kustomization", "apps", "--with-source", "--local", &local]);
    assert!(one.starts_with("apps -> dir:") && one.contains("Synced: nothing to apply"), "{one}");
    let app_one = gitops(&["reconcile", "app", "guestbook-dev", "--hub", &hub_arg, "--local", &local], None);
    assert!(out(&app_one).starts_with("guestbook-dev -> dir:"), "{}{}", out(&app_one), err(&app_one));
    let missing = gitops(&["reconcile", "ks", "nope", "--hub", &flux_arg], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(err(&missing).contains("Kustomization flux-system/nope not found in the hub"), "{}", err(&missing));
}

/// A commit is rendered once: the passes of `gitops watch` that find the same commit of the
/// same source keep what it rendered (a counting plugin says how often it ran), as Argo CD's
/// repo-server keeps manifests by commit; a new process renders again.
#[test]
fn a_watched_app_renders_each_commit_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("app")).expect("mkdir");
    let git = |args: &[&str]| crate::git_in(&repo, args);
    git(&["init", "-q"]);
    std::fs::write(
        repo.join("app/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: counted}\ndata: {a: '1'}\n",
    )
    .expect("write");
    git(&["add", "-A"]);
    git(&["commit", "-qm", "one"]);
    let counter = dir.path().join("renders.txt");
    let plugin = dir.path().join("plugin.yaml");
    std::fs::write(
        &plugin,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata: {{name: count}}\nspec:\n  generate:\n    command: [sh, -c]\n    args: ['echo run >> {}; cat cm.yaml']\n",
            counter.display()
        ),
    )
    .expect("write");
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: counted, namespace: argocd}}\nspec:\n  destination: {{server: 'https://kubernetes.default.svc', namespace: default}}\n  source: {{repoURL: 'file://{}', targetRevision: main, path: app, plugin: {{name: count}}}}\n  syncPolicy: {{automated: {{prune: true}}}}\n",
            repo.display()
        ),
    )
    .expect("write");
    let cache = dir.path().join("cache");
    let args = [
        "watch",
        "--app",
        app.to_str().unwrap(),
        "--plugin",
        plugin.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--interval",
        "1s",
        "--passes",
        "3",
    ];
    let o = gitops(&args, None);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(out(&o).matches("counted -> ").count(), 3, "three passes: {}", out(&o));
    let runs = || std::fs::read_to_string(&counter).unwrap_or_default().lines().count();
    assert_eq!(runs(), 1, "one commit, one render: {}", out(&o));
    let o = gitops(
        &[
            "reconcile",
            "--app",
            app.to_str().unwrap(),
            "--plugin",
            plugin.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(runs(), 2, "a new process renders again");
}

/// `gitops watch` passes the whole fleet each interval: the first pass deploys it, the second
/// finds every app in sync.
#[test]
fn watch_passes_the_whole_fleet() {
    let (dir, checkout) = example_checkout();
    let local = format!("{FLEET_URL}={}", checkout.display());
    let target = format!("dir:{}", dir.path().join("hub").display());
    let root = checkout.join("root.yaml");
    let args = [
        "watch",
        "--app",
        root.to_str().unwrap(),
        "--local",
        &local,
        "--target",
        &target,
        "--interval",
        "1s",
        "--passes",
        "2",
    ];
    let o = gitops(&args, None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    assert_eq!(text.matches("guestbook-prod -> dir:").count(), 2, "{text}");
    assert_eq!(text.matches("Synced: nothing to apply").count(), 6, "the second pass: {text}");
    // A git generator's set is generated again after its requeue time (3 minutes), not at
    // every pass; its apps are still passed.
    assert_eq!(text.matches("ApplicationSet argocd/overlays: 2 generated").count(), 1, "{text}");
    assert!(dir.path().join("clusters/prod/redis/apps/Deployment/redis.yaml").is_file(), "{text}");
}

/// Bad input in a fleet: an app that produces an app already in the fleet (a cycle), an app
/// whose spec cannot be read, and two apps claiming one resource are each named, and the rest
/// of the fleet goes on; a root that cannot render prunes nothing, and its apps still pass.
#[test]
fn a_fleet_names_cycles_bad_apps_and_shared_resources_and_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo_dir = dir.path().join("repo");
    let write = |rel: &str, text: &str| crate::write_under(&repo_dir, rel, text);
    let app = |name: &str, path: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  source: {{repoURL: '{FLEET_URL}', path: {path}}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: {name}}}\n  syncPolicy: {{automated: {{prune: true, selfHeal: true}}, syncOptions: [CreateNamespace=true]}}\n"
        )
    };
    write("root.yaml", &app("root", "apps").replace("namespace: root}", "namespace: argocd}"));
    write("apps/a.yaml", &app("a", "a"));
    write("apps/ok.yaml", &app("ok", "ok"));
    write(
        "apps/broken.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: broken, namespace: argocd}\nspec:\n  source: {repoURL: 'https://git.example.com/fleet.git', path: ok}\n",
    );
    write("a/b.yaml", &app("b", "b"));
    write("b/a.yaml", &app("a", "a"));
    write(
        "ok/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: shared}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shared}\n",
    );
    let hub = dir.path().join("hub");
    let root = repo_dir.join("root.yaml");
    let first = reconcile(&root, &repo_dir, &hub);
    let text = out(&first);
    assert_eq!(first.status.code(), Some(1), "{text}{}", err(&first));
    assert!(
        text.contains("Application argocd/a")
            && text.contains("already part of the fleet; produced again by b (a cycle of apps?)"),
        "{text}"
    );
    assert!(
        text.contains("Application argocd/broken") && text.contains("spec.destination"),
        "the unreadable app is named with its field: {text}"
    );
    assert!(text.contains("ok -> dir:"), "the rest goes on: {text}");
    assert!(
        text.contains("warning: argoproj.io/Application/argocd/a on ")
            && text.contains("is part of applications argocd/b and argocd/root"),
        "two apps claim one Application: {text}"
    );

    // A root that cannot render: nothing is pruned, and the apps in the hub still pass.
    write("apps/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [not, a, name]}\n");
    let failed = reconcile(&root, &repo_dir, &hub);
    let text = out(&failed);
    assert_eq!(failed.status.code(), Some(1), "{text}");
    assert!(text.contains("ok -> dir:") && text.contains("Synced: nothing to apply"), "{text}");
    assert!(!text.contains("removed;") && !text.contains("prune "), "nothing pruned: {text}");
    assert!(hub.join("argocd/argoproj.io/Application/ok.yaml").is_file());
}

/// Offline, a Flux Kustomization's `spec.kubeConfig.secretRef` names its cluster: the
/// FileCluster `clusters/NAME` beside the hub.
#[test]
fn a_kustomization_with_a_kubeconfig_goes_to_the_cluster_named_after_its_secret() {
    let (dir, checkout) = example_checkout();
    let apps = checkout.join("flux/clusters/dev/apps.yaml");
    let text = std::fs::read_to_string(&apps).unwrap();
    std::fs::write(&apps, format!("{text}  kubeConfig: {{secretRef: {{name: staging}}}}\n")).unwrap();
    std::fs::write(
        checkout.join("flux/apps/namespace.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: podinfo}\n",
    )
    .unwrap();
    let hub = dir.path().join("hub");
    let root = checkout.join("flux/clusters/dev/flux-system/gotk-sync.yaml");
    let o = reconcile(&root, &checkout, &hub);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    assert!(text.contains(&format!("apps -> dir:{}", dir.path().join("clusters/staging").display())), "{text}");
    assert!(dir.path().join("clusters/staging/podinfo/core/ConfigMap/podinfo.yaml").is_file(), "{text}");
    assert!(!hub.join("podinfo/core/ConfigMap/podinfo.yaml").exists());
}

/// An ApplicationSet in the hub generates its Applications (git directories over the
/// repository), which are walked like the others; a directory removed from Git removes its
/// Application, and with the finalizer the generator adds, its resources.
#[test]
fn an_applicationset_generates_apps_that_are_walked_and_removed_with_their_directory() {
    let (dir, checkout) = example_checkout();
    let staging = checkout.join("overlays/staging");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("kustomization.yaml"), "resources: [../../base/guestbook]\nnamePrefix: staging-\n")
        .unwrap();
    let hub = dir.path().join("hub");
    let root = checkout.join("root.yaml");
    let first = reconcile(&root, &checkout, &hub);
    let text = out(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", err(&first));
    assert!(
        text.contains(
            "ApplicationSet argocd/overlays: 3 generated; create [overlay-dev, overlay-prod, overlay-staging]"
        ),
        "{text}"
    );
    assert!(text.contains("overlay-staging -> dir:"), "{text}");
    let app = hub.join("argocd/argoproj.io/Application/overlay-staging.yaml");
    let stored = std::fs::read_to_string(&app).expect("generated");
    assert!(
        stored.contains("kind: ApplicationSet") && stored.contains("resources-finalizer.argocd.argoproj.io"),
        "{stored}"
    );
    let deployment = hub.join("overlay-staging/apps/Deployment/staging-guestbook.yaml");
    assert!(deployment.is_file(), "{text}");

    // A revision pinned by hand stays (the set's ignoreApplicationDifferences).
    let dev = hub.join("argocd/argoproj.io/Application/overlay-dev.yaml");
    let generated = std::fs::read_to_string(&dev).expect("overlay-dev");
    assert!(generated.contains("targetRevision: main"), "{generated}");
    std::fs::write(&dev, generated.replace("targetRevision: main", "targetRevision: v1.2.3")).unwrap();
    std::fs::remove_dir_all(&staging).unwrap();
    let second = reconcile(&root, &checkout, &hub);
    assert!(std::fs::read_to_string(&dev).unwrap().contains("targetRevision: v1.2.3"), "{}", out(&second));
    let text = out(&second);
    assert_eq!(second.status.code(), Some(0), "{text}{}", err(&second));
    assert!(text.contains("create [], update [], delete [overlay-staging]"), "{text}");
    assert!(text.contains("ApplicationSet argocd/overlays: 2 of overlay-staging's resources deleted"), "{text}");
    assert!(!app.exists() && !deployment.exists(), "{text}");
    assert!(hub.join("overlay-dev/apps/Deployment/dev-guestbook.yaml").is_file(), "the others stay");
}

/// A clusterDecisionResource ApplicationSet on a directory hub: the root puts the
/// PlacementDecision's CRD, the generator's ConfigMap, a PlacementDecision and the set into the
/// hub; the set reads them from the hub. Until the placement controller (here, the test)
/// writes the decision's status, it generates nothing; then one Application per decided
/// cluster that is registered (prod, by the root's cluster Secret), which is walked to it.
#[test]
fn a_cluster_decision_resource_set_reads_the_hubs_placement_decisions() {
    let (dir, checkout) = example_checkout();
    std::fs::write(
        checkout.join("apps/placed.yaml"),
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: placementdecisions.cluster.open-cluster-management.io}
spec:
  group: cluster.open-cluster-management.io
  scope: Namespaced
  names: {kind: PlacementDecision, plural: placementdecisions, singular: placementdecision, listKind: PlacementDecisionList}
  versions:
  - name: v1beta1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ocm-placement, namespace: argocd}
data: {apiVersion: cluster.open-cluster-management.io/v1beta1, kind: placementdecisions, statusListKey: decisions, matchKey: clusterName}
---
apiVersion: cluster.open-cluster-management.io/v1beta1
kind: PlacementDecision
metadata:
  name: redis-placement
  namespace: argocd
  labels: {cluster.open-cluster-management.io/placement: redis}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: placed, namespace: argocd}
spec:
  generators:
  - clusterDecisionResource:
      configMapRef: ocm-placement
      labelSelector: {matchLabels: {cluster.open-cluster-management.io/placement: redis}}
  template:
    metadata: {name: 'placed-{{clusterName}}'}
    spec:
      project: default
      source: {repoURL: 'https://git.example.com/fleet.git', targetRevision: main, path: base/redis}
      destination: {server: '{{server}}', namespace: placed}
      syncPolicy:
        automated: {prune: true}
        syncOptions: [CreateNamespace=true]
"#,
    )
    .unwrap();
    let hub = dir.path().join("hub");
    let o = reconcile(&checkout.join("root.yaml"), &checkout, &hub);
    let text = out(&o);
    assert!(text.contains("ApplicationSet argocd/placed: 0 generated; create []"), "{text}{}", err(&o));
    let stored = hub.join("argocd/cluster.open-cluster-management.io/PlacementDecision/redis-placement.yaml");
    let decision = std::fs::read_to_string(&stored).unwrap_or_else(|e| panic!("{}: {e}", stored.display()));
    let status = "status:\n  decisions:\n  - {clusterName: prod, reason: picked}\n  - {clusterName: unregistered, reason: picked}\n";
    std::fs::write(&stored, format!("{decision}{status}")).unwrap();
    let o = reconcile(&checkout.join("root.yaml"), &checkout, &hub);
    let text = out(&o);
    assert!(text.contains("ApplicationSet argocd/placed: 1 generated; create [placed-prod]"), "{text}{}", err(&o));
    assert!(text.contains("placed-prod -> dir:"), "{text}");
    assert!(dir.path().join("clusters/prod/placed/apps/Deployment/redis.yaml").is_file(), "{text}");
}
