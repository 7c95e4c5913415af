use super::*;
use crate::manifest;

fn project(spec: &str) -> AppProject {
    let text = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {{name: team-a, namespace: argocd}}\nspec:\n{spec}"
    );
    AppProject::read(&manifest::parse("project.yaml", &text).unwrap()[0]).unwrap()
}

fn project_err(spec: &str) -> String {
    let text = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {{name: team-a, namespace: argocd}}\nspec:\n{spec}"
    );
    AppProject::read(&manifest::parse("project.yaml", &text).unwrap()[0]).unwrap_err().to_string()
}

const IN_CLUSTER: &str = "https://kubernetes.default.svc";

#[test]
fn source_repos_are_globs_with_slash_separators_and_negations() {
    let p = project("  sourceRepos: ['https://github.com/team-a/*', 'git@github.com:team-a/infra.git']\n");
    assert!(p.source_permitted("https://github.com/team-a/web"));
    assert!(p.source_permitted("https://GitHub.com/team-a/web.git"), "normalized");
    assert!(!p.source_permitted("https://github.com/team-a/web/sub"), "* stops at /");
    assert!(!p.source_permitted("https://github.com/team-b/web"));
    assert!(p.source_permitted("ssh://git@github.com/team-a/infra"), "scp-like and ssh:// forms alike");
    let deny = project("  sourceRepos: ['*', '!https://github.com/team-a/secret']\n");
    assert!(deny.source_permitted("https://github.com/team-a/web"));
    assert!(!deny.source_permitted("https://github.com/team-a/secret.git"));
    let only_deny = project("  sourceRepos: ['!https://github.com/evil/*']\n");
    assert!(only_deny.source_permitted("https://github.com/team-a/web"), "an unmatched deny counts as a match");
    assert!(!project("  sourceRepos: []\n").source_permitted("https://x/y"));
}

#[test]
fn destinations_match_server_or_name_and_namespace_with_negations() {
    let p = project(&format!(
        "  destinations:\n  - {{server: '{IN_CLUSTER}', namespace: 'team-a-*'}}\n  - {{name: prod, namespace: '*'}}\n  - {{server: '*', namespace: '!kube-system'}}\n"
    ));
    assert!(p.destination_permitted(&Destination::new(IN_CLUSTER, "in-cluster", "team-a-web"), &[]));
    assert!(p.destination_permitted(&Destination::new("https://prod.example", "prod", "anything"), &[]));
    assert!(!p.destination_permitted(&Destination::new(IN_CLUSTER, "in-cluster", "kube-system"), &[]), "denied");
    let strict = project(&format!("  destinations: [{{server: '{IN_CLUSTER}', namespace: 'team-a-*'}}]\n"));
    assert!(!strict.destination_permitted(&Destination::new(IN_CLUSTER, "", "team-b"), &[]));
    assert!(!strict.destination_permitted(&Destination::new("https://other", "", "team-a-x"), &[]));
    let anywhere = Destination::new("", "", "team-a-web");
    assert!(strict.destination_permitted(&anywhere, &[]), "a cluster chosen by --target: the namespace decides");
    assert!(!strict.destination_permitted(&Destination::new("", "", "kube-system"), &[]));
    let scoped = project("  permitOnlyProjectScopedClusters: true\n  destinations: [{server: '*', namespace: '*'}]\n");
    let dest = Destination::new("https://prod.example", "prod", "web");
    assert!(!scoped.destination_permitted(&dest, &[]));
    assert!(scoped.destination_permitted(&dest, &[("prod".into(), String::new())]));
}

#[test]
fn resource_lists_as_argo_cd_reads_them() {
    // No namespaced whitelist: every namespaced kind; no cluster whitelist: no cluster kind.
    let p = project(&format!(
        "  destinations: [{{server: '{IN_CLUSTER}', namespace: 'team-a-*'}}]\n  namespaceResourceBlacklist: [{{group: '', kind: ResourceQuota}}, {{group: 'networking.k8s.io', kind: '*'}}]\n"
    ));
    let dest = Destination::new(IN_CLUSTER, "in-cluster", "team-a-web");
    assert_eq!(p.resource_refusal("apps", "Deployment", "web", "team-a-web", &dest), None);
    assert_eq!(
        p.resource_refusal("", "ResourceQuota", "q", "team-a-web", &dest).as_deref(),
        Some("resource :ResourceQuota is not permitted in project team-a")
    );
    assert!(p.resource_refusal("networking.k8s.io", "NetworkPolicy", "n", "team-a-web", &dest).is_some());
    assert_eq!(
        p.resource_refusal("", "Namespace", "team-a-web", "", &dest).as_deref(),
        Some("resource :Namespace is not permitted in project team-a")
    );
    assert_eq!(
        p.resource_refusal("", "ConfigMap", "c", "default", &dest).as_deref(),
        Some("namespace default is not permitted in project 'team-a'")
    );
    let cluster = project(
        "  clusterResourceWhitelist: [{group: '', kind: Namespace}, {group: 'rbac.authorization.k8s.io', kind: 'Cluster*', name: 'team-a-*'}]\n  namespaceResourceWhitelist: [{group: 'apps', kind: '*'}]\n  destinations: [{server: '*', namespace: '*'}]\n",
    );
    assert!(cluster.group_kind_permitted("", "Namespace", "x", false));
    assert!(cluster.group_kind_permitted("rbac.authorization.k8s.io", "ClusterRole", "team-a-view", false));
    assert!(!cluster.group_kind_permitted("rbac.authorization.k8s.io", "ClusterRole", "admin", false), "by name");
    assert!(cluster.group_kind_permitted("apps", "Deployment", "x", true));
    assert!(!cluster.group_kind_permitted("", "ConfigMap", "x", true), "a namespaced whitelist is exclusive");
    let empty = project("  namespaceResourceWhitelist: []\n");
    assert!(!empty.group_kind_permitted("apps", "Deployment", "x", true), "an empty whitelist permits nothing");
}

#[test]
fn app_checks_give_argo_cd_conditions() {
    let p = project(&format!(
        "  sourceRepos: ['https://github.com/team-a/*']\n  sourceNamespaces: ['team-a-apps']\n  destinations: [{{server: '{IN_CLUSTER}', namespace: 'team-a-*'}}]\n"
    ));
    let app = |ns: &str, repo: &str, dest_ns: &str| AppRef {
        name: "web".into(),
        namespace: ns.into(),
        project: "team-a".into(),
        repos: vec![repo.into()],
        destination: Destination::new(IN_CLUSTER, "in-cluster", dest_ns),
    };
    assert!(p.check_app(&app("argocd", "https://github.com/team-a/web", "team-a-web"), "argocd", &[]).is_empty());
    assert!(p.check_app(&app("team-a-apps", "https://github.com/team-a/web", "team-a-web"), "argocd", &[]).is_empty());
    assert_eq!(
        p.check_app(&app("elsewhere", "https://github.com/team-a/web", "team-a-web"), "argocd", &[]),
        ["application 'web' in namespace 'elsewhere' is not allowed to use project team-a"]
    );
    assert_eq!(
        p.check_app(&app("argocd", "https://github.com/team-b/web", "kube-system"), "argocd", &[]),
        [
            "application repo https://github.com/team-b/web is not permitted in project 'team-a'",
            "application destination server 'https://kubernetes.default.svc' and namespace 'kube-system' do not match any of the allowed destinations in project 'team-a'",
        ]
    );
    let object = &manifest::parse(
        "app.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec:\n  sources: [{repoURL: 'https://a/x'}, {repoURL: 'https://a/y', ref: values}]\n  destination: {name: in-cluster, namespace: web}\n",
    )
    .unwrap()[0];
    let read = AppRef::of(object, |_, name| (name == "in-cluster").then(|| (IN_CLUSTER.to_string(), name.to_string())));
    assert_eq!(read.project, "default");
    assert_eq!(read.repos, ["https://a/x", "https://a/y"]);
    assert_eq!(read.destination, Destination::new(IN_CLUSTER, "in-cluster", "web"));
    assert!(AppProject::default_project().check_app(&read, "argocd", &[]).is_empty());
}

#[test]
fn invalid_projects_are_refused_with_argo_cd_messages() {
    for (spec, says) in [
        ("  sourceRepos: ['!*']\n", "spec.sourceRepos[0]: source repository has an invalid format, '!*'"),
        ("  sourceRepos: [a, a]\n", "source repository 'a' already added"),
        (
            "  destinations: [{server: s, namespace: ns1}, {server: s, namespace: ns1}]\n",
            "destination 's/ns1' already added",
        ),
        ("  destinations: [{server: s, namespace: '!*'}]\n", "namespace has an invalid format, '!*'"),
        (
            "  syncWindows: [{kind: deny, schedule: '* * * * *', duration: 1h}]\n",
            "window 'deny':'* * * * *':'1h' requires one of application, cluster or namespace",
        ),
        (
            "  syncWindows: [{kind: deny, schedule: 'nightly', duration: 1h, applications: ['*']}]\n",
            "cannot parse schedule",
        ),
        ("  sourceRepos: a\n", "spec.sourceRepos: must be a list of strings"),
    ] {
        let e = project_err(spec);
        assert!(e.contains(says) && e.starts_with("AppProject team-a (project.yaml"), "{spec}: {e}");
    }
}

#[test]
fn orphans_are_untracked_top_level_objects_not_ignored() {
    let p = project(
        "  orphanedResources: {warn: true, ignore: [{kind: Secret, name: 'sh.helm.*'}, {group: 'apps', kind: ''}]}\n",
    );
    assert!(p.orphaned_resources.as_ref().is_some_and(|o| o.warn));
    assert!(p.orphan_excluded("", "ConfigMap", "web", "kube-root-ca.crt"), "known");
    assert!(p.orphan_excluded("", "Secret", "web", "sh.helm.release.v1.web.v1"));
    assert!(!p.orphan_excluded("", "Secret", "web", "token"));
    assert!(p.orphan_excluded("apps", "Deployment", "web", "x"), "an empty kind is any kind");
    assert!(!p.orphan_excluded("batch", "Job", "web", "x"));
    let live = manifest::parse(
        "live",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray, namespace: web}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ours, namespace: web}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other-app, namespace: web, annotations: {argocd.argoproj.io/tracking-id: 'api:/ConfigMap:web/other-app'}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: owned, namespace: web, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: r, uid: u}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-root-ca.crt, namespace: web}\n",
    )
    .unwrap();
    let managed: HashSet<ResourceKey> = [ResourceKey::new("", "ConfigMap", "web", "ours")].into();
    assert_eq!(p.orphans(&live, &managed), [ResourceKey::new("", "ConfigMap", "web", "stray")]);
    assert!(project("  sourceRepos: []\n").orphans(&live, &managed).is_empty(), "not monitored");
}

#[test]
fn urls_normalize_as_argo_cd_normalizes_them() {
    assert_eq!(normalize_git_url(" https://GitHub.com/Org/Repo.git "), "https://github.com/org/repo");
    assert_eq!(normalize_git_url("git@github.com:org/repo.git"), "git@github.com/org/repo");
    assert_eq!(normalize_git_url("ssh://git@github.com/org/repo"), "git@github.com/org/repo");
}

#[test]
fn syncs_impersonate_the_first_matching_destination_service_account() {
    let project = project(
        "  destinationServiceAccounts:\n\
         \x20 - {server: 'https://prod.*', namespace: 'shop-*', defaultServiceAccount: deployer}\n\
         \x20 - {server: '*', namespace: ops, defaultServiceAccount: 'ops-system:admin'}\n\
         \x20 - {server: '*', namespace: blank, defaultServiceAccount: ' '}\n",
    );
    assert_eq!(
        project.service_account_for("https://prod.example", "shop-eu").unwrap(),
        "system:serviceaccount:shop-eu:deployer"
    );
    assert_eq!(
        project.service_account_for("https://dev.example", "ops").unwrap(),
        "system:serviceaccount:ops-system:admin"
    );
    assert_eq!(
        project.service_account_for("https://dev.example", "shop-eu").unwrap_err(),
        "no matching service account found for destination server https://dev.example and namespace shop-eu"
    );
    assert!(project.service_account_for("https://x", "blank").unwrap_err().contains("invalid chars"));
}
