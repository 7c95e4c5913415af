//! Tables of requests and answers: Argo CD's documented examples and our own cases.

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn enforcer(csv: &str, default_role: Option<&str>) -> Enforcer {
    let policy = Policy::from_csv(csv, MatchMode::Glob).expect("policy reads");
    Enforcer::new(policy, default_role.map(String::from), true)
}

/// Runs a table of `(subject, resource, action, object, allowed)`.
fn check(rbac: &Enforcer, table: &[(&str, &str, &str, &str, bool)]) {
    for &(sub, res, act, obj, want) in table {
        assert_eq!(rbac.can(sub, res, act, obj), want, "can {sub} {act} {res} {obj:?}");
    }
}

#[test]
fn builtin_roles() {
    let rbac = enforcer("", None);
    check(
        &rbac,
        &[
            ("admin", "applications", "get", "default/guestbook", true),
            ("admin", "applications", "delete", "default/guestbook", true),
            ("admin", "applications", "update/apps/Deployment/ns/web", "default/guestbook", true),
            ("admin", "applications", "action/apps/Deployment/restart", "default/guestbook", true),
            ("admin", "applications", "get", "default/argocd-apps/guestbook", true),
            ("admin", "clusters", "create", "https://kubernetes.default.svc", true),
            ("admin", "exec", "create", "default/guestbook", true),
            ("admin", "extensions", "invoke", "metrics", false),
            ("admin", "logs", "get", "default/guestbook", true),
            ("role:readonly", "applications", "get", "default/guestbook", true),
            ("role:readonly", "applications", "sync", "default/guestbook", false),
            ("role:readonly", "clusters", "get", "https://kubernetes.default.svc", true),
            ("role:readonly", "projects", "delete", "default", false),
            ("alice", "applications", "get", "default/guestbook", false),
        ],
    );
    // Without the built-in policy, admin is nobody.
    let bare = Enforcer::new(Policy::new(MatchMode::Glob), None, false);
    assert!(!bare.can("admin", "applications", "get", "default/guestbook"));
}

#[test]
fn documented_rbac_cm_example() {
    // The argocd-rbac-cm example of Argo CD's operator manual.
    let rbac = enforcer(
        "p, my-org:team-alpha, applications, sync, my-project/*, allow\n\
         g, my-org:team-beta, role:admin\n",
        Some("role:readonly"),
    );
    check(
        &rbac,
        &[
            ("my-org:team-alpha", "applications", "sync", "my-project/guestbook", true),
            ("my-org:team-alpha", "applications", "sync", "other-project/guestbook", false),
            ("my-org:team-alpha", "applications", "delete", "my-project/guestbook", false),
            // Everyone reads through the default role.
            ("my-org:team-alpha", "applications", "get", "other-project/guestbook", true),
            ("my-org:team-beta", "clusters", "delete", "https://kubernetes.default.svc", true),
            ("someone", "repositories", "get", "https://github.com/org/repo", true),
            ("someone", "repositories", "create", "https://github.com/org/repo", false),
        ],
    );
}

#[test]
fn org_admin_and_any_namespace_objects() {
    let rbac = enforcer(
        "p, role:org-admin, applications, *, */*, allow\n\
         p, role:org-admin, clusters, get, *, allow\n\
         p, role:org-admin, repositories, *, *, allow\n\
         p, role:team, applications, get, team-a/team-a-ns/*, allow\n\
         p, role:team, applications, get, team-a/*, allow\n\
         g, my-org:my-team, role:org-admin\n\
         g, carol, role:team\n",
        None,
    );
    check(
        &rbac,
        &[
            ("my-org:my-team", "applications", "sync", "default/app", true),
            ("my-org:my-team", "applications", "override", "default/ns/app", true),
            ("my-org:my-team", "clusters", "update", "https://kubernetes.default.svc", false),
            ("my-org:my-team", "repositories", "delete", "https://github.com/a/b", true),
            ("carol", "applications", "get", "team-a/team-a-ns/web", true),
            // `*` crosses `/`: `team-a/*` also covers apps in any namespace of the project.
            ("carol", "applications", "get", "team-a/other-ns/web", true),
            ("carol", "applications", "get", "team-b/web", false),
        ],
    );
}

#[test]
fn fine_grained_actions() {
    let rbac = enforcer(
        "p, example-user, applications, delete/*/Pod/*/*, default/prod-app, allow\n\
         p, example-user, applications, update/apps/Deployment/*/*, default/prod-app, allow\n\
         p, example-user, applications, action/apps/Deployment/restart, default/*, allow\n\
         p, example-user, applications, action//Pod/*, default/*, allow\n\
         p, example-user, applications, update, default/*, allow\n",
        None,
    );
    check(
        &rbac,
        &[
            ("example-user", "applications", "delete//Pod/prod/web-0", "default/prod-app", true),
            ("example-user", "applications", "delete/apps/Deployment/prod/web", "default/prod-app", false),
            ("example-user", "applications", "delete", "default/prod-app", false),
            ("example-user", "applications", "update/apps/Deployment/prod/web", "default/prod-app", true),
            ("example-user", "applications", "update/apps/StatefulSet/prod/db", "default/prod-app", false),
            // A plain `update` does not grant updating the resources inside (Argo CD v3).
            ("example-user", "applications", "update", "default/prod-app", true),
            ("example-user", "applications", "update//ConfigMap/prod/cfg", "default/prod-app", false),
            ("example-user", "applications", "action/apps/Deployment/restart", "default/web", true),
            ("example-user", "applications", "action/apps/Deployment/scale", "default/web", false),
            ("example-user", "applications", "action//Pod/delete", "default/web", true),
        ],
    );
}

#[test]
fn cluster_urls_with_globs() {
    let rbac = enforcer(
        "p, ops, clusters, get, https://*.example.com, allow\n\
         p, ops, clusters, update, https://kubernetes.default.svc, allow\n\
         p, ops, clusters, get, my-project/*, allow\n",
        None,
    );
    check(
        &rbac,
        &[
            ("ops", "clusters", "get", "https://k8s.eu.example.com", true),
            ("ops", "clusters", "get", "https://k8s.example.org", false),
            ("ops", "clusters", "update", "https://kubernetes.default.svc", true),
            ("ops", "clusters", "update", "https://kubernetes.default.svc:443", false),
            ("ops", "clusters", "get", "my-project/https://dev.internal", true),
        ],
    );
}

#[test]
fn deny_beats_allow() {
    // The operator manual's example: all but create and delete on a project's apps.
    let rbac = enforcer(
        "p, role:test-db-admins, applications, *, staging-db-admins/*, allow\n\
         p, role:test-db-admins, applications, create, staging-db-admins/*, deny\n\
         p, role:test-db-admins, applications, delete, staging-db-admins/*, deny\n\
         p, role:test-db-admins, applications, *, staging-db-admins/*, allow\n\
         g, db-admins, role:test-db-admins\n\
         p, db-admins, applications, get, secret/*, deny\n\
         p, role:test-db-admins, applications, get, secret/*, allow\n",
        None,
    );
    check(
        &rbac,
        &[
            ("db-admins", "applications", "sync", "staging-db-admins/db", true),
            ("db-admins", "applications", "create", "staging-db-admins/db", false),
            ("db-admins", "applications", "delete", "staging-db-admins/db", false),
            // A deny on the subject beats an allow of its role: one enforcement.
            ("db-admins", "applications", "get", "secret/db", false),
            ("role:test-db-admins", "applications", "get", "secret/db", true),
        ],
    );
}

#[test]
fn default_role_cannot_be_denied() {
    let csv = "p, mallory, applications, get, */*, deny\n";
    let rbac = enforcer(csv, Some("role:readonly"));
    assert!(rbac.can("mallory", "applications", "get", "default/app"));
    // Without the default role the deny holds.
    assert!(!enforcer(csv, None).can("mallory", "applications", "get", "default/app"));
    // A deny on the default role itself does not stop the subject's own allow either.
    let rbac = enforcer("p, role:base, clusters, get, *, deny\np, alice, clusters, get, *, allow\n", Some("role:base"));
    assert!(rbac.can("alice", "clusters", "get", "https://x"));
}

#[test]
fn quoted_subjects() {
    let rbac = enforcer(
        "p, \"role,admin\", clusters, get, *, allow\n\
         g, \"ACME, Inc.:ops\", \"role,admin\"\n",
        None,
    );
    assert!(rbac.can("role,admin", "clusters", "get", "https://x"));
    assert!(rbac.can("ACME, Inc.:ops", "clusters", "get", "https://x"));
    assert!(!rbac.can("role", "clusters", "get", "https://x"));
    // A glob with a comma needs quoting too; unquoted, the line has too many fields.
    let rbac = enforcer("p, dev, applications, \"{get,sync}\", */*, allow\n", None);
    assert!(rbac.can("dev", "applications", "sync", "a/b"));
    assert!(!rbac.can("dev", "applications", "delete", "a/b"));
    assert!(Policy::from_csv("p, dev, applications, {get,sync}, */*, allow", MatchMode::Glob).is_err());
}

#[test]
fn regex_mode_is_unanchored() {
    let policy = Policy::from_csv(
        "p, alice, applications, get, ^team-a/.*$, allow\n\
         p, bob, applications, sync, prod, allow\n\
         p, carol, applications, (get|sync, team/.*, allow\n",
        MatchMode::Regex,
    )
    .unwrap();
    let rbac = Enforcer::new(policy, None, true);
    check(
        &rbac,
        &[
            ("alice", "applications", "get", "team-a/web", true),
            ("alice", "applications", "get", "xteam-a/web", false),
            // `get` is unanchored: `forget` would match too; `sync` matches `resync`.
            ("bob", "applications", "resync", "preprod/web", true),
            ("bob", "applications", "sync", "team/web", false),
            // A bad regex matches nothing and does not panic.
            ("carol", "applications", "get", "team/web", false),
            // The built-in `*` patterns are no regexes: admin loses most of its rights.
            ("admin", "applications", "get", "default/web", false),
        ],
    );
}

#[test]
fn config_map_overlays_default_and_mode() {
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-rbac-cm"},
        "data": {
            "policy.z.csv": "p, zed, clusters, get, *, allow",
            "policy.csv": "g, alice, role:ops",
            "policy.a.csv": "p, role:ops, clusters, get, .*, allow",
            "policy.default": "role:readonly",
            "policy.matchMode": "regex",
            "scopes": "[groups, email]",
            "policy.notes": "not a policy",
        },
    });
    let config = RbacConfig::from_config_map(&cm).unwrap();
    let keys: Vec<&str> = config.policy.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["policy.csv", "policy.a.csv", "policy.z.csv"]);
    assert_eq!(config.default_role.as_deref(), Some("role:readonly"));
    assert_eq!(config.match_mode, MatchMode::Regex);
    assert_eq!(config.scopes().unwrap(), ["groups", "email"]);
    let policy = config.user_policy().unwrap();
    assert!(policy.enforce("alice", "clusters", "get", "x"));
    // An error names the key and its line.
    let bad = json!({"data": {"policy.csv": "", "policy.b.csv": "# b\np, x, y"}});
    let e = RbacConfig::from_config_map(&bad).unwrap().user_policy().unwrap_err();
    assert!(e.to_string().starts_with("policy.b.csv line 2: invalid RBAC policy `p, x, y`"), "{e}");
    // No data, an empty default, no scopes.
    let empty = RbacConfig::from_config_map(&json!({"data": {"policy.default": ""}})).unwrap();
    assert!(empty.is_empty() && empty.default_role.is_none());
    assert_eq!(empty.scopes().unwrap(), ["groups"]);
    assert!(RbacConfig::from_config_map(&json!({"data": {"policy.default": 1}})).is_err());
    assert!(RbacConfig::from_config_map(&json!({"data": {"scopes": "{a: b}"}})).unwrap().scopes().is_err());
}

fn project() -> ProjectRoles {
    ProjectRoles::from_app_project(&json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "team-a"},
        "spec": {"roles": [
            {"name": "deployer",
             "policies": ["p, proj:team-a:deployer, applications, sync, team-a/*, allow",
                          "p, proj:team-a:deployer, applications, sync, team-a/prod-*, deny"],
             "groups": ["team-a-devs"]},
            {"name": "viewer", "policies": []},
        ]},
    }))
    .unwrap()
}

#[test]
fn project_roles_apply_to_their_project() {
    let mut rbac = enforcer("g, ops, role:admin\np, team-a-devs, logs, get, */*, allow\n", None);
    rbac.add_project(&project()).unwrap();
    let dev = Claims { subject: "dave".into(), groups: vec!["team-a-devs".into()] };
    assert!(rbac.can_claims(&dev, "applications", "sync", "team-a/web"));
    assert!(rbac.can_claims(&dev, "applications", "sync", "team-a/ns/web"));
    assert!(!rbac.can_claims(&dev, "applications", "sync", "team-a/prod-web"));
    assert!(!rbac.can_claims(&dev, "applications", "sync", "team-b/web"));
    // Every role may read its own project.
    assert!(rbac.can_claims(&dev, "projects", "get", "team-a"));
    assert!(!rbac.can_claims(&dev, "projects", "get", "team-b"));
    // A group with only `p` lines (no `g` line) is never considered.
    assert!(!rbac.can_claims(&dev, "logs", "get", "team-b/web"));
    // A plain `can` (as `argocd admin settings rbac can`) has no project roles.
    assert!(!rbac.can("team-a-devs", "applications", "sync", "team-a/web"));
    // Project tokens act in their own project only.
    let token = Claims { subject: "proj:team-a:deployer".into(), groups: vec![] };
    assert!(rbac.can_claims(&token, "applications", "sync", "team-a/web"));
    assert!(!rbac.can_claims(&token, "applications", "sync", "team-b/web"));
    let viewer = Claims { subject: "proj:team-a:viewer".into(), groups: vec![] };
    assert!(rbac.can_claims(&viewer, "projects", "get", "team-a"));
    assert!(!rbac.can_claims(&viewer, "applications", "sync", "team-a/web"));
    // The user is checked before the groups, each on its own.
    let ops = Claims { subject: "ops".into(), groups: vec!["team-a-devs".into()] };
    assert!(rbac.can_claims(&ops, "applications", "sync", "team-a/prod-web"));
}

#[test]
fn groups_count_only_with_a_role() {
    let rbac = enforcer(
        "g, my-org:ops, role:admin\np, my-org:devs, applications, sync, */*, allow\n\
         p, my-org:ops, clusters, delete, *, deny\n",
        None,
    );
    let user =
        |groups: &[&str]| Claims { subject: "erin".into(), groups: groups.iter().map(|g| g.to_string()).collect() };
    assert!(rbac.can_claims(&user(&["my-org:ops"]), "clusters", "create", "https://x"));
    // The group's own deny holds within its own enforcement.
    assert!(!rbac.can_claims(&user(&["my-org:ops"]), "clusters", "delete", "https://x"));
    // `my-org:devs` has `p` lines but no `g` line: Argo CD never checks it.
    assert!(!rbac.can_claims(&user(&["my-org:devs"]), "applications", "sync", "default/web"));
    assert!(rbac.can("my-org:devs", "applications", "sync", "default/web"));
    // The user's own deny does not cancel what a group grants: separate enforcements.
    let rbac = enforcer("p, erin, applications, get, */*, deny\ng, readers, role:readonly\n", None);
    assert!(rbac.can_claims(&user(&["readers"]), "applications", "get", "default/web"));
    assert!(!rbac.can_claims(&user(&[]), "applications", "get", "default/web"));
}

#[test]
fn a_project_whose_roles_do_not_read_falls_back() {
    let mut rbac = enforcer("", None);
    let mut p = project();
    p.roles[0].policies.push("p, broken".into());
    let e = rbac.add_project(&p).unwrap_err();
    assert!(e.to_string().contains("AppProject team-a line"), "{e}");
    let dev = Claims { subject: "dave".into(), groups: vec!["team-a-devs".into()] };
    assert!(!rbac.can_claims(&dev, "applications", "sync", "team-a/web"));
    assert!(rbac.can_claims(&Claims { subject: "admin".into(), groups: vec![] }, "applications", "sync", "team-a/web"));
}

#[test]
fn app_projects_that_do_not_read() {
    let cases = [
        (json!({"kind": "ConfigMap", "metadata": {"name": "x"}}), "AppProject x: not an AppProject"),
        (json!({"kind": "AppProject", "metadata": {}}), "AppProject ?: has no `metadata.name`"),
        (json!({"kind": "AppProject", "metadata": {"name": "p"}, "spec": {"roles": {}}}), "`spec.roles` is not a list"),
        (
            json!({"kind": "AppProject", "metadata": {"name": "p"}, "spec": {"roles": [{"policies": []}]}}),
            "`spec.roles[0]` has no name",
        ),
        (
            json!({"kind": "AppProject", "metadata": {"name": "p"}, "spec": {"roles": [{"name": "r", "groups": [1]}]}}),
            "`spec.roles[0].groups` has an item that is not a string",
        ),
    ];
    for (value, want) in cases {
        let e = ProjectRoles::from_app_project(&value).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn claims_from_a_token() {
    let scopes = vec!["groups".to_string(), "email".to_string()];
    let c = Claims::from_token(
        &json!({"sub": "abc", "federated_claims": {"user_id": "alice"}, "groups": ["a", 1, "b"], "email": "al@x"}),
        &scopes,
    );
    assert_eq!(c, Claims { subject: "alice".into(), groups: vec!["a".into(), "b".into(), "al@x".into()] });
    assert_eq!(Claims::from_token(&json!({"sub": "abc"}), &scopes).subject, "abc");
}

#[test]
fn strict_request_checks() {
    assert_eq!(resolve_resource("app"), "applications");
    assert_eq!(resolve_resource("cert"), "certificates");
    assert_eq!(resolve_resource("key"), "gpgkeys");
    assert_eq!(resolve_resource("widgets"), "widgets");
    assert!(check_request("applications", "update/apps/Deployment/ns/web").is_ok());
    assert!(check_request("applications", "action/apps/Deployment/restart").is_ok());
    assert!(check_request("applications", "sync").is_ok());
    assert!(check_request("extensions", "invoke").is_ok());
    assert_eq!(check_request("widgets", "get").unwrap_err().to_string(), "'widgets' is not a valid resource name");
    assert_eq!(
        check_request("applications", "sync/x").unwrap_err().to_string(),
        "'sync/x' is not a valid action for applications"
    );
    assert_eq!(check_request("logs", "delete").unwrap_err().to_string(), "'delete' is not a valid action for logs");
    assert_eq!(request_object("applications", None), "*/*");
    assert_eq!(request_object("clusters", Some("*")), "*/*");
    assert_eq!(request_object("projects", None), "");
    assert_eq!(request_object("projects", Some("*")), "*");
    assert_eq!(request_object("applications", Some("a/b")), "a/b");
}

#[test]
fn validation_warnings() {
    let policy = Policy::from_csv(
        "g, alice, role:ghost\ng, bob, role:real\ng, role:child, role:real\ng, carol, role:void\n\
         p, role:real, clusters, get, *, allow\np, x, clusters, get, [bad, allow\np, x, clusters, get, *, Allow\n",
        MatchMode::Glob,
    )
    .unwrap();
    let warnings: Vec<String> = validate(&policy).iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "user defined roles not found in policies: role:ghost,role:void",
            "policy.csv line 6: the object pattern `[bad` is not a valid glob: the line never applies",
            "policy.csv line 7: the effect `Allow` is neither `allow` nor `deny`: the line never applies",
        ]
    );
    assert!(validate(&Policy::builtin(MatchMode::Glob)).is_empty());
}

/// A role chain `sub -> r0 -> r1 ...` of random length, with allows on random roles.
fn chain_policy(depth: usize, allows: &[usize], deny_at: usize, object: &str) -> String {
    let mut csv = String::from("g, sub, r0\n");
    for i in 1..depth {
        csv += &format!("g, r{}, r{i}\n", i - 1);
    }
    let name = |i: usize| if i == 0 { "sub".to_string() } else { format!("r{}", i - 1) };
    for &a in allows {
        csv += &format!("p, {}, applications, *, */*, allow\n", name(a % (depth + 1)));
        csv += &format!("p, {}, applications, sync, {object}, allow\n", name(a % (depth + 1)));
    }
    csv += &format!("p, {}, applications, sync, {object}, deny\n", name(deny_at % (depth + 1)));
    csv
}

proptest! {
    /// A deny line that applies to a subject (directly or through one of its roles) always
    /// wins over any number of allows for that subject chain, in any order.
    #[test]
    fn a_deny_always_wins_for_its_subject(
        depth in 1usize..9,
        allows in proptest::collection::vec(0usize..10, 0..6),
        deny_at in 0usize..10,
        project in "[a-z]{1,6}",
        app in "[a-z0-9-]{1,8}",
        deny_first in any::<bool>(),
    ) {
        let object = format!("{project}/{app}");
        let mut csv = chain_policy(depth, &allows, deny_at, &object);
        if deny_first {
            let mut lines: Vec<&str> = csv.lines().collect();
            lines.reverse();
            csv = lines.join("\n");
        }
        let rbac = enforcer(&csv, None);
        prop_assert!(!rbac.can("sub", "applications", "sync", &object));
        // The allows still work for what the deny does not cover.
        prop_assert_eq!(rbac.can("sub", "applications", "get", &object), !allows.is_empty());
    }
}

proptest! {
    /// Any policy text reads or fails with an error naming a line, and any request is
    /// answered, in both modes: nothing in a policy file or a request makes it panic.
    #[test]
    fn never_panics_on_input(
        lines in proptest::collection::vec(
            prop_oneof![
                "[pg ,\"*?{}\\[\\]!\\\\a-c/.()^$|+-]{0,30}",
                // Well-formed lines whose patterns are anything.
                ("[*?{}\\[\\]!\\\\a-c/.()^$|+-]{0,8}", "[*?{}\\[\\]!\\\\a-c/.()^$|+-]{0,8}")
                    .prop_map(|(a, b)| format!("p, s, {a}, {b}, {a}{b}, deny\ng, a, s\np, a, {b}, *, {a}, allow")),
            ],
            0..8,
        ),
        value in "[a-c/*?{}\\[\\]]{0,12}",
        regex in any::<bool>(),
    ) {
        let mode = if regex { MatchMode::Regex } else { MatchMode::Glob };
        let text = lines.join("\n");
        match Policy::from_csv(&text, mode) {
            Ok(policy) => {
                let rbac = Enforcer::new(policy.clone(), Some("a".into()), true);
                for rule in policy.rules() {
                    let _ = rbac.can(&rule.subject, &value, &value, &value);
                }
                let _ = validate(&policy);
            }
            Err(e) => prop_assert!(e.to_string().contains(" line "), "{}", e),
        }
    }
}

#[test]
fn enforcers_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Enforcer>();
    shared::<Policy>();
}

#[test]
fn each_project_has_its_own_roles() {
    let mut rbac = enforcer("", None);
    rbac.add_project(&project()).unwrap();
    let mut other = project();
    other.name = "team-b".into();
    other.roles[0].policies = vec!["p, proj:team-b:deployer, applications, sync, team-b/*, allow".into()];
    other.roles[0].groups = vec!["team-b-devs".into()];
    rbac.add_project(&other).unwrap();
    let a = Claims { subject: "dave".into(), groups: vec!["team-a-devs".into()] };
    let b = Claims { subject: "erin".into(), groups: vec!["team-b-devs".into()] };
    assert!(rbac.can_claims(&a, "applications", "sync", "team-a/web"));
    assert!(!rbac.can_claims(&a, "applications", "sync", "team-b/web"));
    assert!(rbac.can_claims(&b, "applications", "sync", "team-b/web"));
    assert!(!rbac.can_claims(&b, "applications", "sync", "team-a/web"));
}
