//! Argo CD AppProjects: what an app of a project may deploy, from where, to where, and when.
//!
//! - [`AppProject::read`] reads and validates one (as Argo CD's `ValidateProject`: no `!*`, no
//!   destination, source or namespace twice, windows that parse);
//! - [`AppProject::check_app`]: the app-level rules (the app's namespace in `sourceNamespaces`,
//!   its repositories in `sourceRepos`, its destination in `destinations`), each broken rule an
//!   `InvalidSpecError` condition with Argo CD's message;
//! - [`AppProject::resource_refusal`]: the per-resource rules a sync checks before it applies
//!   anything (`cluster/namespaceResourceWhitelist/Blacklist`, the object's namespace among the
//!   destinations);
//! - [`windows`]: sync windows; [`AppProject::sync_decision`] decides for one app;
//! - [`AppProject::default_project`]: the `default` project Argo CD creates when none exists
//!   (everything permitted).
//!
//! Globs are Argo CD's: repositories match with `/` as a separator (after the URLs are
//! normalized: lowercased, no `.git`, scp-like and `ssh://` forms alike), destinations and
//! windows without, group/kind lists as Go's `filepath.Match`; a `!` pattern in `sourceRepos`
//! or `destinations` denies what it matches, whatever else allows it.
//!
//! # Example
//!
//! ```
//! use gitops_core::manifest;
//! use gitops_core::project::{AppProject, AppRef, Destination};
//!
//! let objects = manifest::parse("team-a.yaml", r#"
//! apiVersion: argoproj.io/v1alpha1
//! kind: AppProject
//! metadata: {name: team-a, namespace: argocd}
//! spec:
//!   sourceRepos: ["https://github.com/team-a/*"]
//!   destinations: [{server: "https://kubernetes.default.svc", namespace: "team-a-*"}]
//!   clusterResourceWhitelist: []
//! "#)?;
//! let project = AppProject::read(&objects[0])?;
//! let app = AppRef {
//!     name: "web".into(),
//!     namespace: "argocd".into(),
//!     project: "team-a".into(),
//!     repos: vec!["https://github.com/team-b/web.git".into()],
//!     destination: Destination::new("https://kubernetes.default.svc", "in-cluster", "team-a-web"),
//! };
//! let conditions = project.check_app(&app, "argocd", &[]);
//! assert_eq!(conditions, ["application repo https://github.com/team-b/web.git is not permitted in project 'team-a'"]);
//! assert_eq!(
//!     project.resource_refusal("rbac.authorization.k8s.io", "ClusterRole", "admin", "", &app.destination).as_deref(),
//!     Some("resource rbac.authorization.k8s.io:ClusterRole is not permitted in project team-a"),
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cron;
pub mod windows;

use serde_json::Value;

use std::collections::HashSet;

use crate::glob::Glob;
use crate::object::{Object, ResourceKey};
use crate::sync::{Action, SyncPlan};
use windows::{Decision, Subject, SyncWindow};

/// The condition type of the orphaned-resources warning (the start of its message).
pub const ORPHANED_RESOURCE_WARNING: &str = "OrphanedResourceWarning";

/// The project an Application names when it names none, and the one Argo CD creates.
pub const DEFAULT_PROJECT: &str = "default";

/// What is wrong with an AppProject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The object is not an AppProject.
    #[error("{origin}: {kind} is not an argoproj.io AppProject")]
    NotAProject {
        /// Where it was read from.
        origin: String,
        /// What it is.
        kind: String,
    },
    /// A field is invalid, as Argo CD's validation says it.
    #[error("AppProject {project} ({origin}): {field}: {message}")]
    Invalid {
        /// The project's name.
        project: String,
        /// Where it was read from.
        origin: String,
        /// The field (`spec.destinations[2].namespace`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Where an app goes: the cluster (its server URL and name, either may be empty when not
/// known) and the namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    /// The API server URL.
    pub server: String,
    /// The cluster's name.
    pub name: String,
    /// The namespace.
    pub namespace: String,
}

impl Destination {
    /// A destination from its parts.
    pub fn new(server: &str, name: &str, namespace: &str) -> Destination {
        Destination { server: server.to_string(), name: name.to_string(), namespace: namespace.to_string() }
    }
}

/// What the project rules read of an Application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppRef {
    /// Its name.
    pub name: String,
    /// The namespace of the Application object.
    pub namespace: String,
    /// `spec.project` (`default` when empty).
    pub project: String,
    /// The `repoURL` of each source.
    pub repos: Vec<String>,
    /// Its destination, with the cluster's server and name both filled in where known.
    pub destination: Destination,
}

impl AppRef {
    /// Reads an Application object; `resolve` gives the (server, name) of a destination as
    /// written (server, name), from the cluster registry (`None`: unknown, kept as written).
    pub fn of(app: &Object, resolve: impl Fn(&str, &str) -> Option<(String, String)>) -> AppRef {
        let v = app.value();
        let text = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        let mut repos: Vec<String> = v
            .pointer("/spec/sources")
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(|s| s.get("repoURL").and_then(Value::as_str)).map(str::to_string).collect())
            .unwrap_or_default();
        if repos.is_empty() {
            repos.extend(v.pointer("/spec/source/repoURL").and_then(Value::as_str).map(str::to_string));
        }
        let (server, name) = (text("/spec/destination/server"), text("/spec/destination/name"));
        let (server, name) = resolve(&server, &name).unwrap_or((server, name));
        let project = text("/spec/project");
        AppRef {
            name: app.name().to_string(),
            namespace: app.namespace().to_string(),
            project: if project.is_empty() { DEFAULT_PROJECT.to_string() } else { project },
            repos,
            destination: Destination { server, name, namespace: text("/spec/destination/namespace") },
        }
    }
}

/// A group/kind entry of a resource list, with Argo CD's optional `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupKind {
    group: String,
    kind: String,
    name: Option<String>,
}

/// An AppProject, read.
#[derive(Debug, Clone)]
pub struct AppProject {
    /// Its name.
    pub name: String,
    /// `sourceRepos`.
    pub source_repos: Vec<String>,
    /// `sourceNamespaces`.
    pub source_namespaces: Vec<String>,
    /// `destinations`.
    pub destinations: Vec<Destination>,
    cluster_whitelist: Option<Vec<GroupKind>>,
    cluster_blacklist: Vec<GroupKind>,
    namespace_whitelist: Option<Vec<GroupKind>>,
    namespace_blacklist: Vec<GroupKind>,
    /// `destinationServiceAccounts`: (server, namespace, service account).
    pub destination_service_accounts: Vec<(String, String, String)>,
    /// `orphanedResources`: set when orphaned resources are monitored.
    pub orphaned_resources: Option<OrphanedResources>,
    /// `permitOnlyProjectScopedClusters`.
    pub permit_only_project_scoped_clusters: bool,
    /// `syncWindows`.
    pub windows: Vec<SyncWindow>,
}

/// `spec.orphanedResources`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanedResources {
    /// `warn`: an `OrphanedResourceWarning` condition when some are found.
    pub warn: bool,
    /// `ignore`: (group, kind, name) globs of objects never reported.
    pub ignore: Vec<(String, String, String)>,
}

impl AppProject {
    /// The user a sync to `server` and `namespace` impersonates when sync impersonation is
    /// on (argocd-cm `application.sync.impersonation.enabled`), as Argo CD derives it: the first
    /// `destinationServiceAccounts` entry whose `server` and `namespace` globs match gives
    /// `system:serviceaccount:<namespace>:<account>` (the account may name its own namespace as
    /// `ns:account`). Errors with Argo CD's wording when none matches or the account is blank.
    pub fn service_account_for(&self, server: &str, namespace: &str) -> Result<String, String> {
        for (server_glob, namespace_glob, account) in &self.destination_service_accounts {
            if !(glob_ok(server_glob, server) && glob_ok(namespace_glob, namespace)) {
                continue;
            }
            let account = account.trim();
            if account.is_empty() || account.contains(' ') {
                return Err(format!("default service account contains invalid chars '{account}'"));
            }
            return Ok(match account.contains(':') {
                true => format!("system:serviceaccount:{account}"),
                false => format!("system:serviceaccount:{namespace}:{account}"),
            });
        }
        Err(format!("no matching service account found for destination server {server} and namespace {namespace}"))
    }

    /// The project Argo CD creates as `default` when the hub has none: any source, any
    /// destination, any resource.
    pub fn default_project() -> AppProject {
        let any = || GroupKind { group: "*".into(), kind: "*".into(), name: None };
        AppProject {
            name: DEFAULT_PROJECT.into(),
            source_repos: vec!["*".into()],
            source_namespaces: Vec::new(),
            destinations: vec![Destination::new("*", "*", "*")],
            cluster_whitelist: Some(vec![any()]),
            cluster_blacklist: Vec::new(),
            namespace_whitelist: None,
            namespace_blacklist: Vec::new(),
            destination_service_accounts: Vec::new(),
            orphaned_resources: None,
            permit_only_project_scoped_clusters: false,
            windows: Vec::new(),
        }
    }

    /// Reads and validates an AppProject object.
    pub fn read(object: &Object) -> Result<AppProject, Error> {
        if object.group() != "argoproj.io" || object.kind() != "AppProject" {
            return Err(Error::NotAProject { origin: object.origin().to_string(), kind: object.kind().to_string() });
        }
        let name = object.name().to_string();
        let invalid = |field: &str, message: String| Error::Invalid {
            project: name.clone(),
            origin: object.origin().to_string(),
            field: field.to_string(),
            message,
        };
        let empty = Value::Object(Default::default());
        let spec = object.value().get("spec").unwrap_or(&empty);
        let strings = |field: &str| -> Result<Vec<String>, Error> {
            match spec.get(field) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| invalid(&format!("spec.{field}[{i}]"), "must be a string".into()))
                    })
                    .collect(),
                Some(_) => Err(invalid(&format!("spec.{field}"), "must be a list of strings".into())),
            }
        };
        let items = |field: &str| -> Result<Vec<&Value>, Error> {
            match spec.get(field) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => Ok(items.iter().collect()),
                Some(_) => Err(invalid(&format!("spec.{field}"), "must be a list".into())),
            }
        };
        let field_text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
        let group_kinds = |field: &str| -> Result<Option<Vec<GroupKind>>, Error> {
            if spec.get(field).is_none_or(Value::is_null) {
                return Ok(None);
            }
            Ok(Some(
                items(field)?
                    .into_iter()
                    .map(|v| GroupKind {
                        group: field_text(v, "group"),
                        kind: field_text(v, "kind"),
                        name: v.get("name").and_then(Value::as_str).map(str::to_string),
                    })
                    .collect(),
            ))
        };

        let source_repos = strings("sourceRepos")?;
        let mut seen = std::collections::HashSet::new();
        for (i, repo) in source_repos.iter().enumerate() {
            if repo == "!*" {
                return Err(invalid(
                    &format!("spec.sourceRepos[{i}]"),
                    "source repository has an invalid format, '!*'".into(),
                ));
            }
            if !seen.insert(repo.clone()) {
                return Err(invalid(
                    &format!("spec.sourceRepos[{i}]"),
                    format!("source repository '{repo}' already added"),
                ));
            }
        }
        let source_namespaces = strings("sourceNamespaces")?;
        let mut seen = std::collections::HashSet::new();
        for (i, ns) in source_namespaces.iter().enumerate() {
            if !seen.insert(ns.clone()) {
                return Err(invalid(
                    &format!("spec.sourceNamespaces[{i}]"),
                    format!("source namespace '{ns}' already added"),
                ));
            }
        }
        let mut destinations = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, d) in items("destinations")?.into_iter().enumerate() {
            let d = Destination::new(&field_text(d, "server"), &field_text(d, "name"), &field_text(d, "namespace"));
            for (part, value) in [("name", &d.name), ("server", &d.server), ("namespace", &d.namespace)] {
                if value == "!*" {
                    return Err(invalid(
                        &format!("spec.destinations[{i}].{part}"),
                        format!("{part} has an invalid format, '!*'"),
                    ));
                }
            }
            let cluster = if d.server.is_empty() && !d.name.is_empty() { &d.name } else { &d.server };
            let key = format!("{cluster}/{}", d.namespace);
            if !seen.insert(key.clone()) {
                return Err(invalid(&format!("spec.destinations[{i}]"), format!("destination '{key}' already added")));
            }
            destinations.push(d);
        }
        let mut destination_service_accounts = Vec::new();
        for (i, d) in items("destinationServiceAccounts")?.into_iter().enumerate() {
            let (server, namespace) = (field_text(d, "server"), field_text(d, "namespace"));
            if server == "!*" || namespace == "!*" {
                return Err(invalid(
                    &format!("spec.destinationServiceAccounts[{i}]"),
                    "server and namespace may not be '!*'".into(),
                ));
            }
            destination_service_accounts.push((server, namespace, field_text(d, "defaultServiceAccount")));
        }
        let orphaned_resources = spec.get("orphanedResources").filter(|v| v.is_object()).map(|o| OrphanedResources {
            warn: o.get("warn").and_then(Value::as_bool).unwrap_or(false),
            ignore: o
                .get("ignore")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter().map(|i| (field_text(i, "group"), field_text(i, "kind"), field_text(i, "name"))).collect()
                })
                .unwrap_or_default(),
        });
        let mut windows = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, w) in items("syncWindows")?.into_iter().enumerate() {
            let at = format!("spec.syncWindows[{i}]");
            let window = SyncWindow::read(w).map_err(|e| invalid(&at, e.to_string()))?;
            let kind = field_text(w, "kind");
            if !seen.insert((kind.clone(), window.schedule_text.clone(), window.duration_text.clone())) {
                return Err(invalid(
                    &at,
                    format!(
                        "window '{kind}':'{}':'{}' already exists, update or edit",
                        window.schedule_text, window.duration_text
                    ),
                ));
            }
            if window.applications.is_empty() && window.namespaces.is_empty() && window.clusters.is_empty() {
                return Err(invalid(
                    &at,
                    format!(
                        "window '{kind}':'{}':'{}' requires one of application, cluster or namespace",
                        window.schedule_text, window.duration_text
                    ),
                ));
            }
            windows.push(window);
        }
        Ok(AppProject {
            name: object.name().to_string(),
            source_repos,
            source_namespaces,
            destinations,
            cluster_whitelist: group_kinds("clusterResourceWhitelist")?,
            cluster_blacklist: group_kinds("clusterResourceBlacklist")?.unwrap_or_default(),
            namespace_whitelist: group_kinds("namespaceResourceWhitelist")?,
            namespace_blacklist: group_kinds("namespaceResourceBlacklist")?.unwrap_or_default(),
            destination_service_accounts,
            orphaned_resources,
            permit_only_project_scoped_clusters: spec
                .get("permitOnlyProjectScopedClusters")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            windows,
        })
    }

    /// Whether `repo_url` is among `sourceRepos` (and matches no `!` pattern).
    pub fn source_permitted(&self, repo_url: &str) -> bool {
        let src = normalize_git_url(repo_url);
        let mut any = false;
        for pattern in &self.source_repos {
            let (deny, body) = match pattern.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, pattern.as_str()),
            };
            let body = normalize_git_url(body);
            let hit = body == "*" || Glob::with_separators(&body, &['/']).is_ok_and(|g| g.matches(&src));
            if deny {
                if hit {
                    return false;
                }
                // A deny pattern that does not match counts as a match, as in Argo CD.
                any = true;
            } else if hit {
                any = true;
            }
        }
        any
    }

    /// Whether `dest` (with its namespace) is among `destinations`, and no `!` entry denies it;
    /// with `permitOnlyProjectScopedClusters`, only clusters in `project_clusters` (name,
    /// server) are. A destination naming no cluster (an app whose cluster the command line
    /// chose, `--target`) is judged on its namespace alone.
    pub fn destination_permitted(&self, dest: &Destination, project_clusters: &[(String, String)]) -> bool {
        let mut any = false;
        let mut denied = false;
        let chosen_elsewhere = dest.name.is_empty() && dest.server.is_empty();
        for item in &self.destinations {
            let name = chosen_elsewhere || (!dest.name.is_empty() && negatable_match(&item.name, &dest.name));
            let server = chosen_elsewhere || (!dest.server.is_empty() && negatable_match(&item.server, &dest.server));
            let namespace = negatable_match(&item.namespace, &dest.namespace);
            if (server || name) && namespace {
                any = true;
            } else if (!name && item.name.starts_with('!'))
                || (!server && item.server.starts_with('!'))
                || (!namespace && item.namespace.starts_with('!'))
            {
                denied = true;
            }
        }
        if !any || denied {
            return false;
        }
        !self.permit_only_project_scoped_clusters
            || chosen_elsewhere
            || project_clusters
                .iter()
                .any(|(n, s)| (!n.is_empty() && *n == dest.name) || (!s.is_empty() && *s == dest.server))
    }

    /// Whether objects of `group`/`kind` named `name` may be deployed (`namespaced`: the kind
    /// is namespaced), per the resource white- and blacklists.
    pub fn group_kind_permitted(&self, group: &str, kind: &str, name: &str, namespaced: bool) -> bool {
        let (white, black) = if namespaced {
            (&self.namespace_whitelist, &self.namespace_blacklist)
        } else {
            (&self.cluster_whitelist, &self.cluster_blacklist)
        };
        // No namespaced whitelist means every namespaced kind; no cluster whitelist means none.
        let whitelisted = match white {
            None => namespaced,
            Some(list) => in_list(list, group, kind, name),
        };
        whitelisted && !in_list(black, group, kind, name)
    }

    /// Why an object may not be synced by an app of this project going to `dest`, as Argo CD's
    /// sync says it: its kind is not permitted, or its namespace is not a destination.
    pub fn resource_refusal(
        &self,
        group: &str,
        kind: &str,
        name: &str,
        namespace: &str,
        dest: &Destination,
    ) -> Option<String> {
        if !self.group_kind_permitted(group, kind, name, !namespace.is_empty()) {
            return Some(format!("resource {group}:{kind} is not permitted in project {}", self.name));
        }
        let at = Destination { namespace: namespace.to_string(), ..dest.clone() };
        // Per-resource checks do not look at project-scoped clusters: the app's check did.
        let open = AppProject { permit_only_project_scoped_clusters: false, ..self.clone() };
        if !namespace.is_empty() && !open.destination_permitted(&at, &[]) {
            return Some(format!("namespace {namespace} is not permitted in project '{}'", self.name));
        }
        None
    }

    /// The app-level rules, each broken one as Argo CD's `InvalidSpecError` message:
    /// the app's namespace (Applications outside `controller_namespace` must be in
    /// `sourceNamespaces`), its repositories, its destination.
    pub fn check_app(
        &self,
        app: &AppRef,
        controller_namespace: &str,
        project_clusters: &[(String, String)],
    ) -> Vec<String> {
        let mut conditions = Vec::new();
        if !app.namespace.is_empty()
            && app.namespace != controller_namespace
            && !self.source_namespaces.iter().any(|p| Glob::new(p).is_ok_and(|g| g.matches(&app.namespace)))
        {
            conditions.push(format!(
                "application '{}' in namespace '{}' is not allowed to use project {}",
                app.name, app.namespace, self.name
            ));
            return conditions;
        }
        for repo in &app.repos {
            if !self.source_permitted(repo) {
                conditions.push(format!("application repo {repo} is not permitted in project '{}'", self.name));
            }
        }
        if !self.destination_permitted(&app.destination, project_clusters) {
            conditions.push(format!(
                "application destination server '{}' and namespace '{}' do not match any of the allowed destinations in project '{}'",
                app.destination.server, app.destination.namespace, self.name
            ));
        }
        conditions
    }

    /// The windows governing `app`, with their indexes in `spec.syncWindows`.
    pub fn windows_for(&self, app: &AppRef) -> Vec<(usize, &SyncWindow)> {
        let subject = Subject {
            app: &app.name,
            namespace: &app.destination.namespace,
            server: &app.destination.server,
            cluster: &app.destination.name,
        };
        self.windows.iter().enumerate().filter(|(_, w)| w.matches(&subject)).collect()
    }

    /// Whether `app` may sync at `now` (Unix seconds); `manual`: asked for by hand.
    pub fn sync_decision(&self, app: &AppRef, manual: bool, now: i64) -> Decision {
        windows::decide(&self.windows_for(app), manual, now)
    }

    /// Whether a live object in the app's namespace that no app manages is left out of the
    /// orphaned-resources report: what every namespace has (the `default` ServiceAccount, the
    /// `kube-root-ca.crt` ConfigMap, the `kubernetes` Service of `default`) and what
    /// `orphanedResources.ignore` names (an empty kind or name matches any; an empty group only
    /// the core group), as Argo CD decides.
    pub fn orphan_excluded(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        let known = (namespace == "default" && group.is_empty() && kind == "Service" && name == "kubernetes")
            || (group.is_empty() && kind == "ServiceAccount" && name == "default")
            || (group.is_empty() && kind == "ConfigMap" && name == "kube-root-ca.crt");
        known
            || self.orphaned_resources.as_ref().is_some_and(|o| {
                o.ignore.iter().any(|(g, k, n)| {
                    (k.is_empty() || glob_ok(k, kind))
                        && (if g.is_empty() { group.is_empty() } else { glob_ok(g, group) })
                        && (n.is_empty() || glob_ok(n, name))
                })
            })
    }

    /// The orphaned resources among `live` (the objects in an app's destination namespace):
    /// top-level (no owner), tracked by no app, not among `managed` (the app's own keys), not
    /// excluded ([`AppProject::orphan_excluded`]); sorted. Empty unless the project monitors
    /// them (`orphanedResources`).
    pub fn orphans<'a>(
        &self,
        live: impl IntoIterator<Item = &'a Object>,
        managed: &HashSet<ResourceKey>,
    ) -> Vec<ResourceKey> {
        if self.orphaned_resources.is_none() {
            return Vec::new();
        }
        let mut found: Vec<ResourceKey> = live
            .into_iter()
            .filter(|o| {
                o.value().pointer("/metadata/ownerReferences").and_then(Value::as_array).is_none_or(Vec::is_empty)
            })
            .filter(|o| crate::app::tracking_names(o).is_empty())
            .map(|o| o.key(""))
            .filter(|k| !managed.contains(k) && !self.orphan_excluded(&k.group, &k.kind, &k.namespace, &k.name))
            .collect();
        found.sort();
        found
    }
}

/// What a sync of one Application checks against its project: its AppProject (none when the
/// project does not exist) and the app-level conditions found.
#[derive(Debug, Clone)]
pub struct ProjectRules {
    /// The project, when it exists.
    pub project: Option<AppProject>,
    /// The app, as the rules read it.
    pub app: AppRef,
    /// The app-level conditions (`InvalidSpecError` messages): a sync may not run while any.
    pub conditions: Vec<String>,
}

impl ProjectRules {
    /// The rules for `app` among `projects` (the hub's AppProjects): its project, else the
    /// implicit `default` one, else the condition Argo CD gives an app whose project is
    /// missing.
    pub fn for_app(
        projects: &[AppProject],
        app: AppRef,
        controller_namespace: &str,
        project_clusters: &[(String, String)],
    ) -> ProjectRules {
        let found = projects.iter().find(|p| p.name == app.project).cloned();
        let project = found.or_else(|| (app.project == DEFAULT_PROJECT).then(AppProject::default_project));
        let conditions = match &project {
            Some(p) => p.check_app(&app, controller_namespace, project_clusters),
            None => vec![format!("Application referencing project {} which does not exist", app.project)],
        };
        ProjectRules { project, app, conditions }
    }

    /// Why the plan may not run: each app-level condition (`InvalidSpecError: ...`), then each
    /// object the project does not permit (`KEY: resource ... is not permitted ...`), as Argo
    /// CD refuses the sync before it applies anything.
    pub fn plan_errors(&self, plan: &SyncPlan) -> Vec<String> {
        let mut errors: Vec<String> = self.conditions.iter().map(|c| format!("InvalidSpecError: {c}")).collect();
        let Some(project) = &self.project else { return errors };
        for task in &plan.tasks {
            if matches!(task.action, Action::PruneSkipped) {
                continue;
            }
            let k = &task.key;
            if let Some(why) = project.resource_refusal(&k.group, &k.kind, &k.name, &k.namespace, &self.app.destination)
            {
                errors.push(format!("{k}: {why}"));
            }
        }
        errors
    }

    /// Whether the sync windows let a sync run at `now` (Unix seconds); `manual`: asked for
    /// by hand. A missing project has no windows.
    pub fn window(&self, manual: bool, now: i64) -> Decision {
        match &self.project {
            Some(p) => p.sync_decision(&self.app, manual, now),
            None => windows::decide(&[], manual, now),
        }
    }
}

/// A gobwas glob without separators (`*` alone matches anything; a bad pattern nothing).
fn glob_ok(pattern: &str, value: &str) -> bool {
    pattern == "*" || Glob::new(pattern).is_ok_and(|g| g.matches(value))
}

/// Argo CD's destination glob: a `!pattern` matches what `pattern` does not.
fn negatable_match(pattern: &str, value: &str) -> bool {
    match pattern.strip_prefix('!') {
        Some(rest) => !glob_ok(rest, value),
        None => glob_ok(pattern, value),
    }
}

/// Go's `filepath.Match` over a group or kind (neither has a `/`, so gobwas' rules agree on
/// every pattern Argo CD documents); a bad pattern matches nothing.
fn in_list(list: &[GroupKind], group: &str, kind: &str, name: &str) -> bool {
    list.iter().any(|gk| {
        glob_ok(&gk.kind, kind)
            && glob_ok(&gk.group, group)
            && gk.name.as_deref().is_none_or(|n| n.is_empty() || glob_ok(n, name))
    })
}

/// A repository URL as Argo CD compares them (`git.NormalizeGitURL`): trimmed and lowercased,
/// scp-like `git@host:path` read as `git@host/path`, no `.git` suffix, no `ssh://` prefix.
pub fn normalize_git_url(url: &str) -> String {
    let mut u = url.trim().to_ascii_lowercase();
    if !u.contains("://")
        && let Some((user_host, path)) = u.split_once(':')
        && user_host.contains('@')
    {
        u = format!("{user_host}/{path}");
    }
    let u = u.strip_suffix(".git").unwrap_or(&u);
    u.strip_prefix("ssh://").unwrap_or(u).to_string()
}

#[cfg(test)]
mod tests;
