//! AppProjects enforced on syncs (`--project FILE`, and the hub's in a fleet), sync windows,
//! and `gitops project windows list|check` / `gitops project allowed`.

use std::path::Path;

use crate::{err, gitops, out};

const APP: &str = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: team-a
  destination: {server: 'https://kubernetes.default.svc', namespace: team-a-web}
  source: {repoURL: 'https://github.com/team-a/web.git', targetRevision: main, path: deploy}
  syncPolicy: {automated: {prune: true}, syncOptions: [CreateNamespace=true]}
";

const MANIFESTS: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: blue}
";

const CLUSTER_ROLE: &str = "---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: web-admin}
rules: []
";

/// team-a: its own repositories, its own namespaces, no cluster kinds but Namespaces.
const PROJECT: &str = "apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team-a, namespace: argocd}
spec:
  sourceRepos: ['https://github.com/team-a/*']
  destinations: [{server: 'https://kubernetes.default.svc', namespace: 'team-a-*'}]
  clusterResourceWhitelist: [{group: '', kind: Namespace}]
WINDOWS";

fn setup(manifests: &str, windows: &str) -> tempfile::TempDir {
    let dir = crate::app_repo(APP, manifests);
    std::fs::write(dir.path().join("project.yaml"), PROJECT.replace("WINDOWS", windows)).expect("write");
    dir
}

fn run(dir: &Path, command: &str, extra: &[&str]) -> std::process::Output {
    let app = dir.join("app.yaml");
    let project = dir.join("project.yaml");
    let mut args = vec![
        command,
        "--app",
        app.to_str().unwrap(),
        "--local",
        dir.to_str().unwrap(),
        "--project",
        project.to_str().unwrap(),
    ];
    args.extend(extra);
    gitops(&args, None)
}

fn stored(dir: &Path, rel: &str) -> bool {
    dir.join(".gitops/cluster").join(rel).exists()
}

/// A ClusterRole the project does not whitelist stops the whole sync before anything is
/// applied, naming the object and the rule; without it the app syncs, twice idempotently.
#[test]
fn a_kind_the_project_forbids_stops_the_sync_before_anything_is_applied() {
    let dir = setup(&format!("{MANIFESTS}{CLUSTER_ROLE}"), "");
    let o = run(dir.path(), "sync", &[]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    assert!(
        text.contains(
            "rbac.authorization.k8s.io/ClusterRole//web-admin: resource rbac.authorization.k8s.io:ClusterRole is not permitted in project team-a"
        ),
        "{text}"
    );
    assert!(!stored(dir.path(), "team-a-web/core/ConfigMap/settings.yaml"), "nothing applied: {text}");

    std::fs::write(dir.path().join("deploy/all.yaml"), MANIFESTS).expect("write");
    let first = run(dir.path(), "sync", &[]);
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    assert!(stored(dir.path(), "team-a-web/core/ConfigMap/settings.yaml"));
    let again = run(dir.path(), "sync", &[]);
    assert!(out(&again).contains("nothing to apply"), "{}", out(&again));
}

/// An app whose repository or destination the project does not allow gets Argo CD's
/// InvalidSpecError messages; a project that does not exist is named.
#[test]
fn app_level_rules_give_argo_cd_conditions() {
    let dir = setup(MANIFESTS, "");
    let app = APP.replace("github.com/team-a/web", "github.com/team-b/web").replace("team-a-web}", "kube-system}");
    std::fs::write(dir.path().join("app.yaml"), app).expect("write");
    let o = run(dir.path(), "sync", &[]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "InvalidSpecError: application repo https://github.com/team-b/web.git is not permitted in project 'team-a'"
        ),
        "{text}"
    );
    assert!(text.contains("InvalidSpecError: application destination server 'https://kubernetes.default.svc' and namespace 'kube-system' do not match any of the allowed destinations in project 'team-a'"), "{text}");

    std::fs::write(dir.path().join("app.yaml"), APP.replace("project: team-a", "project: team-z")).expect("write");
    let o = run(dir.path(), "sync", &[]);
    assert!(out(&o).contains("Application referencing project team-z which does not exist"), "{}", out(&o));
    assert!(!stored(dir.path(), "team-a-web/core/ConfigMap/settings.yaml"));
}

/// A deny window that is active holds back the automated sync of `reconcile`; a manual sync
/// goes through only with `manualSync`; `project windows check|list` say why.
#[test]
fn an_active_deny_window_holds_back_syncs() {
    let always = "  syncWindows: [{kind: deny, schedule: '* * * * *', duration: 1h, applications: ['web']}]\n";
    let dir = setup(MANIFESTS, always);
    let o = run(dir.path(), "reconcile", &[]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    assert!(
        text.contains("Sync operation blocked by sync window: blocked by active deny window #0 '* * * * *' for 1h"),
        "{text}"
    );
    assert!(!stored(dir.path(), "team-a-web/core/ConfigMap/settings.yaml"));
    let manual = run(dir.path(), "sync", &[]);
    assert_eq!(manual.status.code(), Some(1), "no manualSync: {}", out(&manual));

    let with_manual = always.replace("applications: ['web']", "applications: ['web'], manualSync: true");
    std::fs::write(dir.path().join("project.yaml"), PROJECT.replace("WINDOWS", &with_manual)).expect("write");
    let manual = run(dir.path(), "sync", &[]);
    assert_eq!(manual.status.code(), Some(0), "{}", out(&manual));
    assert!(stored(dir.path(), "team-a-web/core/ConfigMap/settings.yaml"));

    let project = dir.path().join("project.yaml");
    let app = dir.path().join("app.yaml");
    let check = |extra: &[&str]| {
        let mut args =
            vec!["project", "windows", "check", "--project", project.to_str().unwrap(), "--app", app.to_str().unwrap()];
        args.extend(extra);
        gitops(&args, None)
    };
    let blocked = check(&[]);
    assert_eq!(blocked.status.code(), Some(1));
    assert!(out(&blocked).starts_with("blocked: blocked by active deny window #0"), "{}", out(&blocked));
    let manual = check(&["--manual"]);
    assert_eq!(manual.status.code(), Some(0), "{}", out(&manual));
    let list = gitops(&["project", "windows", "list", "--project", project.to_str().unwrap()], None);
    let table = out(&list);
    assert!(table.starts_with("PROJECT  ID  STATUS  KIND"), "{table}");
    assert!(table.contains("team-a   0   Active  deny  * * * * *  1h"), "{table}");
}

/// An office-hours allow window in a time zone: outside it a sync is held back, inside it runs,
/// judged at fixed times (`--at`).
#[test]
fn allow_windows_exclude_everything_outside_them() {
    let office = "  syncWindows: [{kind: allow, schedule: '0 9 * * 1-5', duration: 8h, namespaces: ['team-a-*'], timeZone: Europe/Berlin}]\n";
    let dir = setup(MANIFESTS, office);
    let project = dir.path().join("project.yaml");
    let app = dir.path().join("app.yaml");
    let at = |time: &str| {
        gitops(
            &[
                "project",
                "windows",
                "check",
                "--project",
                project.to_str().unwrap(),
                "--app",
                app.to_str().unwrap(),
                "--at",
                time,
            ],
            None,
        )
    };
    // Monday 2026-12-07, 09:30 in Berlin is 08:30 UTC.
    let inside = at("2026-12-07T08:30:00Z");
    assert_eq!(inside.status.code(), Some(0), "{}", out(&inside));
    assert!(out(&inside).contains("inside allow window #0"), "{}", out(&inside));
    let saturday = at("2026-12-12T10:00:00Z");
    assert_eq!(saturday.status.code(), Some(1), "{}", out(&saturday));
    assert!(out(&saturday).contains("outside every allow window"), "{}", out(&saturday));
    let bad = at("next tuesday");
    assert_eq!(bad.status.code(), Some(2), "{}", err(&bad));
    let list = gitops(
        &["project", "windows", "list", "--project", project.to_str().unwrap(), "--at", "2026-12-12T10:00:00Z"],
        None,
    );
    assert!(
        out(&list).contains("Europe/Berlin") && out(&list).contains("2026-12-14T08:00:00Z"),
        "next start: {}",
        out(&list)
    );
}

/// `gitops project allowed` renders the app and checks it whole, without syncing.
#[test]
fn allowed_names_every_violation() {
    let dir = setup(&format!("{MANIFESTS}{CLUSTER_ROLE}"), "");
    let o = run(dir.path(), "project", &[]);
    assert_eq!(o.status.code(), Some(2), "`project` needs a subcommand: {}", err(&o));
    let app = dir.path().join("app.yaml");
    let project = dir.path().join("project.yaml");
    let args = [
        "project",
        "allowed",
        "--project",
        project.to_str().unwrap(),
        "--app",
        app.to_str().unwrap(),
        "--local",
        dir.path().to_str().unwrap(),
    ];
    let o = gitops(&args, None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    assert!(text.starts_with("not allowed: web in project team-a\n"), "{text}");
    assert!(
        text.contains(
            "ClusterRole//web-admin: resource rbac.authorization.k8s.io:ClusterRole is not permitted in project team-a"
        ),
        "{text}"
    );
    std::fs::write(dir.path().join("deploy/all.yaml"), MANIFESTS).expect("write");
    let o = gitops(&args, None);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(out(&o), "allowed: web in project team-a\n");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: x}\nspec: {sourceRepos: ['!*']}\n",
    )
    .expect("write");
    let o =
        gitops(&["project", "allowed", "--project", broken.to_str().unwrap(), "--app", app.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("spec.sourceRepos[0]: source repository has an invalid format, '!*'"), "{}", err(&o));
}

/// In a fleet, the AppProjects the root puts in the hub rule the apps it produces.
#[test]
fn a_fleet_obeys_the_hubs_app_projects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    let write = |rel: &str, text: &str| crate::write_under(&repo, rel, text);
    let url = "https://github.com/team-a/fleet.git";
    write(
        "root.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: root, namespace: argocd}}\nspec:\n  source: {{repoURL: '{url}', path: apps}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: argocd}}\n  syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}\n"
        ),
    );
    write("apps/project.yaml", &PROJECT.replace("WINDOWS", ""));
    let child = |name: &str, ns: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  project: team-a\n  source: {{repoURL: '{url}', path: deploy}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: {ns}}}\n  syncPolicy: {{automated: {{prune: true}}, syncOptions: [CreateNamespace=true]}}\n"
        )
    };
    write("apps/good.yaml", &child("good", "team-a-good"));
    write("apps/bad.yaml", &child("bad", "kube-system"));
    write("deploy/cm.yaml", MANIFESTS);
    let hub = dir.path().join("hub");
    let local = format!("{url}={}", repo.display());
    let target = format!("dir:{}", hub.display());
    let root = repo.join("root.yaml");
    let args = ["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", &target];
    let o = gitops(&args, None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "bad is refused: {text}{}", err(&o));
    assert!(hub.join("team-a-good/core/ConfigMap/settings.yaml").is_file(), "{text}");
    assert!(!hub.join("kube-system/core/ConfigMap/settings.yaml").exists(), "{text}");
    assert!(
        text.contains("namespace 'kube-system' do not match any of the allowed destinations in project 'team-a'"),
        "{text}"
    );
    let again = gitops(&args, None);
    assert!(
        out(&again).contains("good -> dir:") && out(&again).matches("Synced: nothing to apply").count() == 2,
        "{}",
        out(&again)
    );
}

/// With `orphanedResources`, objects in the app's namespace that no app manages are reported
/// (a warning with `warn: true`) and kept in the status; the ignore rules and what every
/// namespace has are left out.
#[test]
fn orphaned_resources_are_reported() {
    let monitor = "  orphanedResources: {warn: true, ignore: [{kind: Secret}]}\n";
    let dir = setup(MANIFESTS, monitor);
    let first = run(dir.path(), "sync", &[]);
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    assert!(!out(&first).contains("OrphanedResourceWarning"), "{}", out(&first));
    let ns = dir.path().join(".gitops/cluster/team-a-web/core");
    for (kind, name) in [("ConfigMap", "stray"), ("Secret", "ignored"), ("ConfigMap", "kube-root-ca.crt")] {
        std::fs::create_dir_all(ns.join(kind)).unwrap();
        std::fs::write(
            ns.join(kind).join(format!("{name}.yaml")),
            format!("apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: team-a-web}}\n"),
        )
        .unwrap();
    }
    let again = run(dir.path(), "reconcile", &[]);
    let text = out(&again);
    assert!(
        text.contains("OrphanedResourceWarning: Application has 1 orphaned resource: /ConfigMap/team-a-web/stray"),
        "{text}"
    );
    let status =
        std::fs::read_to_string(dir.path().join(".gitops/cluster/.status/application_argocd_web.json")).unwrap();
    assert!(status.contains("\"orphanedResources\": [\n    \"/ConfigMap/team-a-web/stray\"\n  ]"), "{status}");
}
