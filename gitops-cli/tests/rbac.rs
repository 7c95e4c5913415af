//! `gitops rbac can|validate`: the words and exit statuses of `argocd admin settings rbac`.

use std::path::Path;

use crate::{err, gitops, out};

const POLICY_CSV: &str = "\
# Team A deploys its own apps, except production ones.
p, role:team-a, applications, sync, team-a/*, allow
p, role:team-a, applications, sync, team-a/prod-*, deny
g, alice, role:team-a
g, \"ACME, Inc.:ops\", role:admin
";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8").to_string()
}

/// `gitops rbac can ARGS... --policy-file FILE`: (exit code, stdout, stderr).
fn can(policy: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["rbac", "can"];
    all.extend(args);
    all.extend(["--policy-file", policy]);
    let o = gitops(&all, None);
    (o.status.code().unwrap_or(-1), out(&o), err(&o))
}

#[test]
fn can_answers_yes_or_no_with_the_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write(dir.path(), "policy.csv", POLICY_CSV);
    let table: &[(&[&str], &str)] = &[
        (&["alice", "sync", "applications", "team-a/web"], "Yes"),
        (&["alice", "sync", "applications", "team-a/prod-web"], "No"),
        (&["alice", "sync", "app", "team-b/web"], "No"),
        (&["alice", "get", "applications", "team-a/web"], "No"),
        (&["admin", "delete", "cluster", "https://kubernetes.default.svc"], "Yes"),
        (&["ACME, Inc.:ops", "create", "proj", "x"], "Yes"),
        // Project-scoped resources without an object mean every app (`*/*`).
        (&["role:readonly", "get", "applications"], "Yes"),
        (&["role:readonly", "get", "logs", "*"], "Yes"),
        // The default role is checked first.
        (&["bob", "get", "applications", "team-a/web", "--default-role", "role:readonly"], "Yes"),
        (&["bob", "get", "applications", "team-a/web"], "No"),
        // Without the built-in policy, admin is nobody.
        (&["admin", "get", "clusters", "x", "--use-builtin-policy=false"], "No"),
        (&["admin", "get", "clusters", "x", "--use-builtin-policy"], "Yes"),
    ];
    for (args, answer) in table {
        let (code, stdout, stderr) = can(&csv, args);
        assert_eq!(stdout, format!("{answer}\n"), "{args:?}: {stderr}");
        assert_eq!(code, if *answer == "Yes" { 0 } else { 1 }, "{args:?}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn quiet_answers_with_the_exit_status_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write(dir.path(), "policy.csv", POLICY_CSV);
    assert_eq!(can(&csv, &["alice", "sync", "app", "team-a/web", "--quiet"]), (0, String::new(), String::new()));
    assert_eq!(can(&csv, &["alice", "sync", "app", "team-a/prod-web", "-q"]), (1, String::new(), String::new()));
}

#[test]
fn strict_refuses_unknown_resources_and_actions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write(dir.path(), "policy.csv", "p, bob, widgets, get, *, allow\np, bob, logs, delete, */*, allow\n");
    let (code, stdout, stderr) = can(&csv, &["bob", "get", "widgets", "w1"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("error in RBAC request: 'widgets' is not a valid resource name"), "{stderr}");
    let (code, _, stderr) = can(&csv, &["bob", "delete", "log", "a/b"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("'delete' is not a valid action for logs"), "{stderr}");
    let (code, _, stderr) = can(&csv, &["bob", "sync/x", "app", "a/b"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("'sync/x' is not a valid action for applications"), "{stderr}");
    // Not strict: anything is checked.
    assert_eq!(can(&csv, &["bob", "get", "widgets", "w1", "--strict=false"]).1, "Yes\n");
    assert_eq!(can(&csv, &["bob", "delete", "logs", "a/b", "--strict=false"]).1, "Yes\n");
}

#[test]
fn config_map_with_overlays_default_role_and_regex_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cm = write(
        dir.path(),
        "argocd-rbac-cm.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-rbac-cm
  namespace: argocd
data:
  policy.default: role:readonly
  policy.csv: |
    g, alice, role:deployer
  policy.overlay.csv: |
    p, role:deployer, applications, sync, team-a/*, allow
  policy.zz-deny.csv: |
    p, role:deployer, applications, sync, team-a/prod-*, deny
"#,
    );
    assert_eq!(can(&cm, &["alice", "sync", "applications", "team-a/web"]).1, "Yes\n");
    assert_eq!(can(&cm, &["alice", "sync", "applications", "team-a/prod-web"]).1, "No\n");
    // policy.default from the ConfigMap, and overridden on the command line.
    assert_eq!(can(&cm, &["bob", "get", "applications", "team-b/web"]).1, "Yes\n");
    assert_eq!(can(&cm, &["bob", "get", "applications", "team-b/web", "--default-role", "role:none"]).1, "No\n");

    let regex = write(
        dir.path(),
        "regex-cm.yaml",
        "data:\n  policy.matchMode: regex\n  policy.csv: |\n    p, carol, applications, get, ^team-a/.*$, allow\n",
    );
    assert_eq!(can(&regex, &["carol", "get", "app", "team-a/web"]).1, "Yes\n");
    assert_eq!(can(&regex, &["carol", "get", "app", "xteam-a/web"]).1, "No\n");
    // The unanchored regex `get` also matches `forget`.
    let regex2 = write(
        dir.path(),
        "regex2.yaml",
        "data:\n  policy.matchMode: regex\n  policy.csv: p, d, clusters, get, .*, allow\n",
    );
    assert_eq!(can(&regex2, &["d", "forget", "clusters", "x", "--strict=false"]).1, "Yes\n");
}

#[test]
fn project_roles_from_app_projects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write(dir.path(), "policy.csv", "p, role:x, clusters, get, *, allow\n");
    let project = write(
        dir.path(),
        "project.yaml",
        r#"apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team-a, namespace: argocd}
spec:
  roles:
  - name: deployer
    policies:
    - p, proj:team-a:deployer, applications, sync, team-a/*, allow
    groups: [team-a-devs]
"#,
    );
    let with = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--project", project.as_str()]);
        can(&csv, &a).1
    };
    assert_eq!(with(&["proj:team-a:deployer", "sync", "app", "team-a/web"]), "Yes\n");
    assert_eq!(with(&["proj:team-a:deployer", "sync", "app", "team-b/web"]), "No\n");
    assert_eq!(with(&["proj:team-a:deployer", "get", "proj", "team-a"]), "Yes\n");
    assert_eq!(with(&["team-a-devs", "sync", "app", "team-a/web"]), "Yes\n");
    // Without --project the roles are unknown, as in argocd's `rbac can`.
    assert_eq!(can(&csv, &["proj:team-a:deployer", "sync", "app", "team-a/web"]).1, "No\n");
    // A file that is not an AppProject is an error.
    let (code, _, stderr) = can(&csv, &["x", "get", "app", "a/b", "--project", &csv]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not an AppProject"), "{stderr}");
}

#[test]
fn validate_says_valid_or_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let validate = |path: &str| {
        let o = gitops(&["rbac", "validate", "--policy-file", path], None);
        (o.status.code().unwrap_or(-1), out(&o), err(&o))
    };
    let good = write(dir.path(), "good.csv", "p, role:ops, clusters, get, *, allow\ng, \"ops, inc\", role:ops\n");
    assert_eq!(validate(&good), (0, "Policy is valid.\n".into(), String::new()));

    let bad = write(dir.path(), "bad.csv", "p, a, clusters, get, *, allow\n\ng, alice\n");
    let (code, stdout, _) = validate(&bad);
    assert_eq!(code, 1);
    assert!(stdout.starts_with("Policy is invalid: policy syntax error: "), "{stdout}");
    assert!(stdout.contains("bad.csv line 3: invalid RBAC policy `g, alice`: a `g` line has 3 fields"), "{stdout}");

    // Roles without permissions are a warning, as in Argo CD.
    let warn = write(dir.path(), "warn.csv", "g, alice, role:ghost\n");
    let (code, stdout, stderr) = validate(&warn);
    assert_eq!((code, stdout.as_str()), (0, "Policy is valid.\n"));
    assert!(stderr.contains("user defined roles not found in policies: role:ghost"), "{stderr}");

    // A ConfigMap: the error names the overlay key and its line.
    let cm = write(dir.path(), "cm.yaml", "data:\n  policy.csv: 'g, a, b'\n  policy.x.csv: |\n    p, b, clusters\n");
    let (code, stdout, _) = validate(&cm);
    assert_eq!(code, 1);
    assert!(stdout.contains("policy.x.csv line 1: invalid RBAC policy `p, b, clusters`"), "{stdout}");

    let empty = write(dir.path(), "empty.yaml", "data: {}\n");
    let (code, stdout, stderr) = validate(&empty);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("Policy is empty or could not be loaded."), "{stderr}");

    let (code, _, stderr) = validate(&dir.path().join("missing.csv").to_string_lossy());
    assert_eq!(code, 1);
    assert!(stderr.contains("error opening policy file"), "{stderr}");
}

#[test]
fn can_refuses_an_invalid_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.csv", "p, alice, applications, get, */*\n");
    let (code, stdout, stderr) = can(&bad, &["alice", "get", "app", "a/b"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("invalid user policy: policy syntax error: "), "{stderr}");
    assert!(stderr.contains("bad.csv line 1"), "{stderr}");
    // Bad usage is exit 2.
    let o = gitops(&["rbac", "can", "alice", "get"], None);
    assert_eq!(o.status.code(), Some(2));
}

/// `--as SUBJECT --rbac-policy FILE`: a sync is checked as Argo CD's API server checks a user's
/// request, with the AppProject's roles; nothing is written when it is refused.
#[test]
fn a_sync_on_behalf_of_a_user_is_checked_first() {
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec:\n  project: team-a\n  destination: {namespace: team-a-web}\n  source: {repoURL: 'https://github.com/team-a/web.git', path: deploy}\n  syncPolicy: {syncOptions: [CreateNamespace=true]}\n";
    let dir = crate::app_repo(app, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n");
    let policy = dir.path().join("rbac.csv");
    std::fs::write(&policy, "p, role:deployer, applications, sync, team-a/*, allow\ng, alice, role:deployer\n")
        .unwrap();
    let project = dir.path().join("project.yaml");
    std::fs::write(
        &project,
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: team-a, namespace: argocd}\nspec:\n  sourceRepos: ['*']\n  destinations: [{server: '*', namespace: '*'}]\n  clusterResourceWhitelist: [{group: '', kind: Namespace}]\n  roles:\n  - name: ci\n    policies: ['p, proj:team-a:ci, applications, sync, team-a/*, allow']\n    groups: [team-a-ci]\n",
    )
    .unwrap();
    let sync = |subject: &str| {
        crate::sync_local(
            dir.path(),
            &["--as", subject, "--rbac-policy", policy.to_str().unwrap(), "--project", project.to_str().unwrap()],
        )
    };
    let bob = sync("bob");
    assert_eq!(bob.status.code(), Some(2), "{}", crate::out(&bob));
    assert!(
        crate::err(&bob).contains("permission denied: applications, sync, team-a/web, sub: bob"),
        "{}",
        crate::err(&bob)
    );
    assert!(!dir.path().join(".gitops/cluster/team-a-web").exists(), "nothing written");
    let alice = sync("alice");
    assert_eq!(alice.status.code(), Some(0), "{}{}", crate::out(&alice), crate::err(&alice));
    let token = sync("proj:team-a:ci");
    assert_eq!(token.status.code(), Some(0), "a project role's token: {}", crate::err(&token));
    let without_policy = crate::sync_local(dir.path(), &["--as", "alice"]);
    assert_eq!(without_policy.status.code(), Some(2), "--as needs --rbac-policy");
}
