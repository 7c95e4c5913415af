//! The fleet as a graph: apps are nodes; an edge goes from a parent to each app it produces
//! ([`super::children`]), and from a Flux app to each app in its `spec.dependsOn`.
//!
//! - [`cycles`]: apps that produce themselves or an ancestor, and `dependsOn` cycles;
//! - [`order`]: the order `dependsOn` imposes, and what an app waits for, with Flux's messages;
//! - [`mod@claims`]: resources two apps both render ([`claims()`]).
//!
//! Every query is linear in apps plus edges (cycle paths aside, which walk one cycle each).

pub mod claims;
pub mod cycles;
pub mod order;

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::children::ChildKind;
use crate::Object;

pub use claims::claims;
pub use order::ReadyOrder;

/// The identity of an app in the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId {
    /// What kind of app.
    pub kind: ChildKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl AppId {
    /// Builds an id from its parts.
    pub fn new(kind: ChildKind, namespace: &str, name: &str) -> AppId {
        AppId { kind, namespace: namespace.to_string(), name: name.to_string() }
    }

    /// The id of an app object, if its kind is an app kind; a manifest without a namespace
    /// takes `default_namespace`.
    pub fn of(object: &Object, default_namespace: &str) -> Option<AppId> {
        let kind = ChildKind::of(object.group(), object.kind())?;
        let namespace = if object.namespace().is_empty() { default_namespace } else { object.namespace() };
        Some(AppId::new(kind, namespace, object.name()))
    }

    /// `namespace/name`, as Flux writes a `NamespacedName` in its messages.
    pub fn namespaced_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl fmt::Display for AppId {
    /// `Kind namespace/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

impl From<&super::children::ChildApp> for AppId {
    fn from(child: &super::children::ChildApp) -> AppId {
        AppId::new(child.kind, &child.namespace, &child.name)
    }
}

/// One entry of a Flux `spec.dependsOn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependsOn {
    /// `namespace`; unset means the dependent's own namespace.
    pub namespace: Option<String>,
    /// `name`.
    pub name: String,
}

/// The `spec.dependsOn` of a Flux `Kustomization` or `HelmRelease` (entries without a name
/// are skipped: the API server rejects them).
pub fn depends_on(object: &Object) -> Vec<DependsOn> {
    let Some(entries) = object.value().pointer("/spec/dependsOn").and_then(Value::as_array) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let name = entry.get("name")?.as_str().filter(|n| !n.is_empty())?;
            let namespace = entry.get("namespace").and_then(Value::as_str).filter(|n| !n.is_empty());
            Some(DependsOn { namespace: namespace.map(str::to_string), name: name.to_string() })
        })
        .collect()
}

/// What is wrong in the fleet, one app at a time: each message is a condition for that app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The app produces itself, directly or through its children.
    #[error("{app} is part of an app-of-apps cycle: {}; remove the app that produces an ancestor", path_text(.path))]
    ProductionCycle {
        /// The app on the cycle.
        app: AppId,
        /// The cycle, from the app back to it.
        path: Vec<AppId>,
    },
    /// The app depends on itself through `dependsOn`: it can never become ready.
    #[error("{app} is part of a dependsOn cycle: {}; none of these can ever become ready", path_text(.path))]
    DependencyCycle {
        /// The app on the cycle.
        app: AppId,
        /// The cycle, from the app back to it.
        path: Vec<AppId>,
    },
    /// A `dependsOn` entry names an app that is not in the fleet. The text is the Flux
    /// controller's (kustomize-controller and helm-controller word it differently), with the
    /// API server's not-found error it wraps.
    #[error("{}", not_found_text(.dependency))]
    DependencyNotFound {
        /// The dependent app.
        app: AppId,
        /// The missing dependency.
        dependency: AppId,
    },
    /// A dependency exists but is not Ready (Flux's text).
    #[error("dependency '{}' is not ready", .dependency.namespaced_name())]
    DependencyNotReady {
        /// The dependent app.
        app: AppId,
        /// The dependency that is not ready.
        dependency: AppId,
    },
}

fn not_found_text(dependency: &AppId) -> String {
    let api_error =
        format!("{}.{} {:?} not found", dependency.kind.resource(), dependency.kind.group(), dependency.name);
    match dependency.kind {
        ChildKind::HelmRelease => format!("unable to get '{}' dependency: {api_error}", dependency.namespaced_name()),
        _ => format!("dependency '{}' not found: {api_error}", dependency.namespaced_name()),
    }
}

fn path_text(path: &[AppId]) -> String {
    path.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> ")
}

/// Apps, what they produce and what they depend on.
#[derive(Debug, Clone, Default)]
pub struct FleetGraph {
    apps: Vec<AppId>,
    index: HashMap<AppId, usize>,
    produces: Vec<Vec<usize>>,
    /// `dependsOn` targets as ids: a target may join the graph after its dependent, or never.
    depends: Vec<Vec<AppId>>,
}

impl FleetGraph {
    /// An empty fleet.
    pub fn new() -> FleetGraph {
        FleetGraph::default()
    }

    /// Adds an app (once; adding it again changes nothing). Returns its position.
    pub fn add_app(&mut self, id: AppId) -> usize {
        if let Some(&i) = self.index.get(&id) {
            return i;
        }
        let i = self.apps.len();
        self.index.insert(id.clone(), i);
        self.apps.push(id);
        self.produces.push(Vec::new());
        self.depends.push(Vec::new());
        i
    }

    /// Records that `parent` renders `child`.
    pub fn add_produced(&mut self, parent: AppId, child: AppId) {
        let p = self.add_app(parent);
        let c = self.add_app(child);
        if !self.produces[p].contains(&c) {
            self.produces[p].push(c);
        }
    }

    /// Records one `dependsOn` entry of `app`: the dependency is an app of the same kind, in
    /// the entry's namespace or else `app`'s own (as Flux resolves it).
    pub fn add_depends_on(&mut self, app: AppId, dependency: &DependsOn) {
        let target = AppId {
            kind: app.kind,
            namespace: dependency.namespace.clone().unwrap_or_else(|| app.namespace.clone()),
            name: dependency.name.clone(),
        };
        let i = self.add_app(app);
        if !self.depends[i].contains(&target) {
            self.depends[i].push(target);
        }
    }

    /// Adds an app object with its `dependsOn`; `None` if it is not an app kind.
    pub fn add_object(&mut self, object: &Object, default_namespace: &str) -> Option<AppId> {
        let id = AppId::of(object, default_namespace)?;
        self.add_app(id.clone());
        for dependency in depends_on(object) {
            self.add_depends_on(id.clone(), &dependency);
        }
        Some(id)
    }

    /// The apps, in the order they were added.
    pub fn apps(&self) -> &[AppId] {
        &self.apps
    }

    /// Whether the app is in the fleet.
    pub fn contains(&self, app: &AppId) -> bool {
        self.index.contains_key(app)
    }

    /// The `dependsOn` targets of an app, resolved to ids (present in the fleet or not).
    pub fn dependencies(&self, app: &AppId) -> &[AppId] {
        self.index.get(app).map(|&i| self.depends[i].as_slice()).unwrap_or_default()
    }

    /// The apps an app produces.
    pub fn produced_by(&self, app: &AppId) -> Vec<&AppId> {
        self.index.get(app).map(|&i| self.produces[i].iter().map(|&c| &self.apps[c]).collect()).unwrap_or_default()
    }

    /// `dependsOn` edges between apps present in the fleet, by position.
    fn dependency_edges(&self) -> Vec<Vec<usize>> {
        self.depends.iter().map(|targets| targets.iter().filter_map(|t| self.index.get(t).copied()).collect()).collect()
    }

    /// Every `dependsOn` entry naming an app that is not in the fleet.
    pub fn missing_dependencies(&self) -> Vec<GraphError> {
        let mut missing = Vec::new();
        for (i, targets) in self.depends.iter().enumerate() {
            for target in targets.iter().filter(|t| !self.index.contains_key(*t)) {
                missing.push(GraphError::DependencyNotFound { app: self.apps[i].clone(), dependency: target.clone() });
            }
        }
        missing
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::manifest;

    pub(crate) fn app(name: &str) -> AppId {
        AppId::new(ChildKind::Application, "argocd", name)
    }

    pub(crate) fn ks(name: &str) -> AppId {
        AppId::new(ChildKind::Kustomization, "flux-system", name)
    }

    #[test]
    fn depends_on_defaults_to_the_dependents_namespace() {
        let objects = manifest::parse(
            "ks.yaml",
            r#"
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps}
spec:
  dependsOn:
  - name: infra
  - name: crds
    namespace: platform
  - namespace: nameless
"#,
        )
        .unwrap();
        let mut graph = FleetGraph::new();
        let id = graph.add_object(&objects[0], "flux-system").unwrap();
        assert_eq!(id, ks("apps"));
        assert_eq!(graph.dependencies(&id), [ks("infra"), AppId::new(ChildKind::Kustomization, "platform", "crds")]);
        let missing: Vec<String> = graph.missing_dependencies().iter().map(ToString::to_string).collect();
        assert_eq!(
            missing,
            [
                "dependency 'flux-system/infra' not found: kustomizations.kustomize.toolkit.fluxcd.io \"infra\" not found",
                "dependency 'platform/crds' not found: kustomizations.kustomize.toolkit.fluxcd.io \"crds\" not found",
            ]
        );
        graph.add_app(ks("infra"));
        assert_eq!(graph.missing_dependencies().len(), 1);

        let mut graph = FleetGraph::new();
        let podinfo = AppId::new(ChildKind::HelmRelease, "apps", "podinfo");
        graph.add_depends_on(podinfo, &DependsOn { namespace: None, name: "redis".into() });
        assert_eq!(
            graph.missing_dependencies()[0].to_string(),
            "unable to get 'apps/redis' dependency: helmreleases.helm.toolkit.fluxcd.io \"redis\" not found"
        );
    }

    #[test]
    fn produced_edges_are_kept_once() {
        let mut graph = FleetGraph::new();
        graph.add_produced(app("root"), app("web"));
        graph.add_produced(app("root"), app("web"));
        assert_eq!(graph.produced_by(&app("root")), [&app("web")]);
        assert_eq!(graph.apps().len(), 2);
        assert!(graph.contains(&app("web")) && !graph.contains(&app("db")));
    }
}
