//! A fleet on a hub: the apps a root app produced, where each goes, in which order they are
//! passed, and what happens to the resources of an app that was removed.
//!
//! The hub is the cluster Argo CD and Flux run in: a FileCluster ([`Hub::Dir`]) or a Kubernetes
//! cluster ([`Hub::Kube`]). The apps are objects there: Argo CD Applications in the controller
//! namespace, Flux Kustomizations (with the GitRepositories beside them). An Application's
//! destination is resolved through the cluster Secrets in the hub, as Argo CD resolves it:
//! `in-cluster` is the hub; a registered cluster NAME is, for a FileCluster hub, the FileCluster
//! at `<parent of the hub>/clusters/NAME`, and for a Kubernetes hub the cluster its Secret
//! describes ([`Place::Cluster`]). A Kustomization applies into the hub.
//!
//! [`Walk`] is the order of passes, without doing them: the caller passes each [`Member`] it is
//! given (rendering and printing are the caller's) and tells the walk what each pass left, so the
//! apps that app produced are walked next. Apps that produce themselves (the `flux-system`
//! Kustomization of `flux bootstrap`) are not cycles; an app produced a second time, an unknown
//! cluster and an unreadable app are [`Condition`]s, and the rest of the fleet goes on.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gitops_core::app::{self, AppKind, AppSpec};
use gitops_core::fleet::children::{self, ChildApp, ChildKind};
use gitops_core::fleet::cluster::{ClusterRegistry, IN_CLUSTER_SERVER};
use gitops_core::fleet::graph::{AppId, FleetGraph};
use gitops_core::sync::options::{Propagation, SyncOptions};
use gitops_core::{Object, ResourceKey};

use crate::cluster::Cluster;
use crate::file_cluster::{self, FileCluster, ListCache};

/// Argo CD's finalizer that deletes an Application's resources with it (and its foreground and
/// background variants).
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// What went wrong reading the hub or a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The hub or a cluster directory could not be read or written.
    #[error("{path}: {source}")]
    Cluster {
        /// The FileCluster's directory.
        path: String,
        /// Why.
        #[source]
        source: file_cluster::Error,
    },
}

fn cluster_error(path: &Path) -> impl Fn(file_cluster::Error) -> Error + '_ {
    move |source| Error::Cluster { path: path.display().to_string(), source }
}

/// The kind of hub a fleet runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hub {
    /// A FileCluster directory; its spokes are FileClusters beside it.
    Dir(PathBuf),
    /// A Kubernetes cluster (its objects are listed by the caller); its spokes are the
    /// clusters its cluster Secrets describe.
    Kube,
}

/// Where an app of the fleet goes.
#[derive(Debug, Clone)]
pub enum Place {
    /// A FileCluster (the hub's, or a spoke's beside it).
    Dir(PathBuf),
    /// The Kubernetes hub itself (in-cluster).
    Hub,
    /// A cluster registered with a cluster Secret in a Kubernetes hub.
    Cluster(Box<gitops_core::fleet::cluster::RegisteredCluster>),
    /// The cluster a Flux Kustomization's `spec.kubeConfig.secretRef` reaches, from a
    /// Kubernetes hub: the Secret `namespace/secret` holds the kubeconfig (the caller reads it:
    /// [`gitops_core::fleet::cluster::flux_kubeconfig`]).
    Kubeconfig {
        /// The Secret's namespace (the Kustomization's).
        namespace: String,
        /// The Secret's name.
        secret: String,
        /// The key that holds the kubeconfig, when the Kustomization names one.
        key: Option<String>,
    },
}

impl Place {
    /// Where output says the app goes.
    pub fn describe(&self) -> String {
        match self {
            Place::Dir(p) => p.display().to_string(),
            Place::Hub => "the hub".into(),
            Place::Cluster(c) => format!("cluster {} ({})", c.name, c.server),
            Place::Kubeconfig { namespace, secret, .. } => format!("the kubeconfig of Secret {namespace}/{secret}"),
        }
    }

    /// Whether this is the hub `hub`, where apps produce apps.
    pub fn is(&self, hub: &Hub) -> bool {
        match (self, hub) {
            (Place::Dir(p), Hub::Dir(h)) => p == h,
            (Place::Hub, Hub::Kube) => true,
            _ => false,
        }
    }
}

/// An app of the fleet, read from the hub and ready to be passed.
#[derive(Debug, Clone)]
pub struct Member {
    /// Which app.
    pub id: AppId,
    /// Where it was read from, for messages (`argoproj.io/Application argocd/web (in HUB)`).
    pub origin: String,
    /// The app object and the sources beside it (a Flux Kustomization's GitRepositories).
    pub objects: Vec<Object>,
    /// The app, read.
    pub spec: AppSpec,
    /// Where it goes.
    pub target: Place,
    /// It is being deleted (a Kubernetes hub keeps it, with `metadata.deletionTimestamp`, until
    /// the finalizers its controller owns are removed): it is finalized, not passed.
    pub deleting: bool,
}

/// An app of the fleet that is not passed, and why (as Argo CD and Flux would say it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The app, as `Kind namespace/name`.
    pub app: String,
    /// Why.
    pub message: String,
}

/// The next thing a walk asks of its caller.
#[derive(Debug)]
pub enum Next {
    /// Pass this app, then call [`Walk::passed`] with it.
    Pass(Box<Member>),
    /// This app is not passed.
    Condition(Condition),
    /// This app is being deleted: delete its resources if [`cascades`] says so, then remove
    /// [`controller_finalizers`] from it.
    Finalize(Box<Member>),
    /// This ApplicationSet (an object of the hub) is to generate its Applications
    /// ([`gitops_core::appset`]); the caller writes them into the hub, then calls
    /// [`Walk::generated`] so they are walked.
    Generate(Box<Object>),
    /// This Flux ImageUpdateAutomation (an object of the hub, put there by an app) is to run
    /// a round ([`gitops_core::image::automation`]); it produces no apps.
    Automate(Box<Object>),
}

/// The API group of Flux's image automation objects.
const AUTOMATION_GROUP: &str = "image.toolkit.fluxcd.io";
/// The kind [`Next::Automate`] is about.
const AUTOMATION_KIND: &str = "ImageUpdateAutomation";

/// The order in which a fleet's apps are passed, from a root app on a FileCluster hub.
#[derive(Debug)]
pub struct Walk {
    hub: Hub,
    controller_namespace: String,
    queue: VecDeque<Next>,
    seen: HashSet<AppId>,
    /// Image update automations queued in this walk.
    automations: HashSet<ResourceKey>,
    cache: ListCache,
}

impl Walk {
    /// A walk of the apps `root` (read from `root_object`) produces on `hub`.
    pub fn new(hub: Hub, root: &AppSpec, root_object: &Object) -> Walk {
        let mut seen = HashSet::new();
        if let Some(id) = AppId::of(root_object, &root.rollout.app_namespace) {
            seen.insert(id);
        }
        Walk {
            hub,
            controller_namespace: children::DEFAULT_CONTROLLER_NAMESPACE.to_string(),
            queue: VecDeque::new(),
            seen,
            automations: HashSet::new(),
            cache: ListCache::default(),
        }
    }

    /// The listings of the hub and the clusters kept for this walk: give it to each pass's
    /// FileCluster ([`FileCluster::with_cache`]), so that a cluster is read once per change
    /// rather than once per app.
    pub fn cache(&self) -> &ListCache {
        &self.cache
    }

    /// Whether nothing is left to pass or report (until a [`Walk::passed`] adds more).
    pub fn is_done(&self) -> bool {
        self.queue.is_empty()
    }

    /// The objects of a FileCluster hub (shared through the walk's cache); a Kubernetes hub's
    /// are listed by the caller.
    pub fn dir_objects(&self) -> Result<Arc<Vec<Object>>, Error> {
        match &self.hub {
            Hub::Dir(path) => {
                FileCluster::new(path).with_cache(self.cache.clone()).list_shared().map_err(cluster_error(path))
            }
            Hub::Kube => Ok(Arc::default()),
        }
    }

    /// After a pass of `spec` on `target` (the root on the hub, or a member given by
    /// [`Walk::next`]), given the hub's objects now: the apps it produced there are walked
    /// next, each after the Kustomizations it `dependsOn`. Returns every app it has now (to
    /// compare with [`Walk::produced`] before the pass).
    pub fn passed(&mut self, spec: &AppSpec, target: &Place, hub_objects: &[Object]) -> Vec<Member> {
        let ((members, conditions), appsets) = self.produced_with_appsets(spec, target, hub_objects);
        self.queue.extend(conditions.into_iter().map(Next::Condition));
        for object in appsets {
            if object.kind() == AUTOMATION_KIND {
                if self.automations.insert(object.key("")) {
                    self.queue.push_back(Next::Automate(Box::new(object)));
                }
            } else if let Some(id) = AppId::of(&object, object.namespace())
                && self.seen.insert(id)
            {
                self.queue.push_back(Next::Generate(Box::new(object)));
            }
        }
        for m in &members {
            if self.seen.insert(m.id.clone()) {
                let next = if m.deleting { Next::Finalize } else { Next::Pass };
                self.queue.push_back(next(Box::new(m.clone())));
            } else {
                let message = format!("already part of the fleet; produced again by {} (a cycle of apps?)", spec.name);
                self.queue.push_back(Next::Condition(Condition { app: m.id.to_string(), message }));
            }
        }
        members
    }

    /// The apps `parent` (which goes to `target`) has among the hub's objects, in dependency
    /// order, with the conditions of those that cannot be passed (not reconciled where they
    /// are, unknown cluster, unreadable). An app on another cluster produces none: apps are read
    /// from the hub only, as Argo CD and Flux only watch their own cluster.
    pub fn produced(&self, parent: &AppSpec, target: &Place, hub_objects: &[Object]) -> (Vec<Member>, Vec<Condition>) {
        self.produced_with_appsets(parent, target, hub_objects).0
    }

    /// [`Walk::produced`], and the ApplicationSets `parent` put in the hub.
    fn produced_with_appsets(
        &self,
        parent: &AppSpec,
        target: &Place,
        hub_objects: &[Object],
    ) -> ((Vec<Member>, Vec<Condition>), Vec<Object>) {
        let mut generate = Vec::new();
        if !target.is(&self.hub) {
            return ((Vec::new(), Vec::new()), generate);
        }
        let objects = hub_objects;
        let produced: Vec<Object> = objects.iter().filter(|o| app::is_tracked_by(o, parent)).cloned().collect();
        let default_ns = parent.destination_namespace.clone().unwrap_or_else(|| "default".into());
        let found = children::find_children(&produced, &default_ns, &self.controller_namespace);
        let mut conditions: Vec<Condition> = found
            .not_reconciled
            .iter()
            .map(|(c, why)| Condition { app: AppId::from(c).to_string(), message: why.to_string() })
            .collect();
        let (registry, secret_errors) = ClusterRegistry::from_objects(objects);
        conditions.extend(
            secret_errors.into_iter().map(|e| Condition { app: "cluster secret".into(), message: e.to_string() }),
        );
        let mut members = Vec::new();
        for child in found.apps.iter().filter(|c| c.kind == ChildKind::ApplicationSet) {
            let Some(object) = objects.iter().find(|o| o.key("") == child.key) else { continue };
            generate.push(object.clone());
        }
        // Image update automations run where Flux runs them: on the hub.
        generate
            .extend(produced.iter().filter(|o| o.group() == AUTOMATION_GROUP && o.kind() == AUTOMATION_KIND).cloned());
        for child in in_dependency_order(found.apps, &produced, &default_ns) {
            // ApplicationSets are generated, not passed; sources are read with the apps that
            // name them.
            if !matches!(child.kind, ChildKind::Application | ChildKind::Kustomization | ChildKind::HelmRelease) {
                continue;
            }
            // An app that manages its own manifest is not a cycle.
            if child.name == parent.name && child.namespace == parent.rollout.app_namespace {
                continue;
            }
            let Some(object) = objects.iter().find(|o| o.key("") == child.key) else { continue };
            match member(&self.hub, objects, &registry, object) {
                Ok(m) => members.push(m),
                Err(message) => conditions.push(Condition { app: AppId::from(&child).to_string(), message }),
            }
        }
        ((members, conditions), generate)
    }

    /// After the caller wrote the Applications of `appset` into the hub (now holding
    /// `hub_objects`): those it controls are walked next.
    pub fn generated(&mut self, appset: &Object, hub_objects: &[Object]) {
        let (registry, _) = ClusterRegistry::from_objects(hub_objects);
        let owned = hub_objects.iter().filter(|o| {
            o.kind() == "Application"
                && o.namespace() == self.controller_namespace
                && gitops_core::appset::plan::is_owned_by(o, appset.name())
        });
        for object in owned {
            let Some(id) = AppId::of(object, object.namespace()) else { continue };
            if !self.seen.insert(id.clone()) {
                continue;
            }
            self.queue.push_back(match member(&self.hub, hub_objects, &registry, object) {
                Ok(m) if m.deleting => Next::Finalize(Box::new(m)),
                Ok(m) => Next::Pass(Box::new(m)),
                Err(message) => Next::Condition(Condition { app: id.to_string(), message }),
            });
        }
    }
}

impl Walk {
    /// Up to `max` apps to pass together (a controller's workers), or the one next thing to do
    /// that is not a pass; empty when the fleet is walked (until a [`Walk::passed`] adds more).
    /// Apps are taken in the walk's order while none of them `dependsOn` an app already taken
    /// (a dependency is passed, and can become ready, before its dependents) and no two go to
    /// one FileCluster directory (a pass holds its directory's lock throughout).
    pub fn next_batch(&mut self, max: usize) -> Vec<Next> {
        let Some(first) = self.queue.pop_front() else { return Vec::new() };
        let mut batch = vec![first];
        while batch.len() < max.max(1)
            && let [Next::Pass(_), ..] = batch.as_slice()
            && let Some(Next::Pass(next)) = self.queue.front()
            && batch.iter().all(|taken| match taken {
                Next::Pass(taken) => !depends_on(next, taken) && !same_directory(&next.target, &taken.target),
                _ => false,
            })
            && let Some(next) = self.queue.pop_front()
        {
            batch.push(next);
        }
        batch
    }
}

/// Whether `member` names `other` in its `dependsOn` (Kustomizations name Kustomizations,
/// HelmReleases HelmReleases).
fn depends_on(member: &Member, other: &Member) -> bool {
    let same_kind = match member.spec.kind {
        AppKind::FluxKustomization => ChildKind::Kustomization,
        AppKind::FluxHelmRelease => ChildKind::HelmRelease,
        AppKind::ArgoApplication => return false,
    };
    other.id.kind == same_kind
        && member.spec.rollout.depends_on.iter().any(|d| {
            let (namespace, name) = d.rsplit_once('/').unwrap_or(("", d));
            name == other.id.name && (namespace.is_empty() || namespace == other.id.namespace)
        })
}

/// Whether two places are one FileCluster directory.
fn same_directory(a: &Place, b: &Place) -> bool {
    matches!((a, b), (Place::Dir(a), Place::Dir(b)) if a == b)
}

/// The next app to pass, or condition to report; `None` when the fleet is walked (until a
/// [`Walk::passed`] adds more).
impl Iterator for Walk {
    type Item = Next;

    fn next(&mut self) -> Option<Next> {
        self.queue.pop_front()
    }
}

/// The app `object` of `hub` (holding `hub_objects`), read, with the place its destination
/// resolves to through `registry`; why not, as Argo CD or Flux would say it.
pub fn member(
    hub: &Hub,
    hub_objects: &[Object],
    registry: &ClusterRegistry,
    object: &Object,
) -> Result<Member, String> {
    let shown = match hub {
        Hub::Dir(p) => p.display().to_string(),
        Hub::Kube => "the hub".into(),
    };
    let origin = format!("{} (in {shown})", object.key(""));
    let at_hub = || match hub {
        Hub::Dir(p) => Place::Dir(p.clone()),
        Hub::Kube => Place::Hub,
    };
    // A HelmRelease's source is often in another namespace (`flux-system`), and its values
    // come from ConfigMaps and Secrets of its own.
    let helm_release = gitops_core::helm_release::spec::is_helm_release(object);
    let referenced = if helm_release { helm_release_references(object, hub_objects) } else { Vec::new() };
    let mut objects: Vec<Object> = hub_objects
        .iter()
        .filter(|o| {
            (o.group() == "source.toolkit.fluxcd.io" && (helm_release || o.namespace() == object.namespace()))
                || (o.group().is_empty()
                    && referenced
                        .iter()
                        .any(|k| k.kind == o.kind() && k.namespace == o.namespace() && k.name == o.name()))
        })
        .cloned()
        .collect();
    objects.push(object.clone());
    let spec = app::read(&origin, &objects).map_err(|e| e.to_string())?;
    let target = match spec.kind {
        AppKind::ArgoApplication => {
            let server = spec.rollout.destination_server.as_deref();
            let name = spec.rollout.destination_name.as_deref();
            let cluster = registry.resolve(server, name).map_err(|e| e.to_string())?;
            match hub {
                _ if cluster.server.trim_end_matches('/') == IN_CLUSTER_SERVER => at_hub(),
                Hub::Dir(p) => Place::Dir(spoke_dir(p, &cluster.name)?),
                Hub::Kube => Place::Cluster(Box::new(cluster.clone())),
            }
        }
        // Flux applies into the cluster it runs in, or the one its kubeConfig Secret reaches;
        // offline, that cluster is the FileCluster named after the Secret.
        AppKind::FluxKustomization | AppKind::FluxHelmRelease => match (&spec.rollout.kube_config, hub) {
            (None, _) => at_hub(),
            (Some(kc), Hub::Dir(p)) => Place::Dir(spoke_dir(p, &kc.secret)?),
            (Some(kc), Hub::Kube) => Place::Kubeconfig {
                namespace: object.namespace().to_string(),
                secret: kc.secret.clone(),
                key: kc.key.clone(),
            },
        },
    };
    let id = AppId::of(object, object.namespace()).ok_or_else(|| format!("{origin}: not an app"))?;
    let deleting = object.value().pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null());
    Ok(Member { id, origin, objects, spec, target, deleting })
}

/// The ConfigMaps and Secrets a HelmRelease reads: each `spec.valuesFrom` entry (in its
/// namespace), and the `spec.secretRef` of every HelmRepository and OCIRepository among
/// `hub_objects` (in theirs: its chart may come from any of them).
pub fn helm_release_references(helm_release: &Object, hub_objects: &[Object]) -> Vec<ResourceKey> {
    let text = |v: &serde_json::Value, p: &str| v.pointer(p).and_then(serde_json::Value::as_str).map(str::to_string);
    let entries = helm_release.value().pointer("/spec/valuesFrom").and_then(serde_json::Value::as_array);
    let mut keys: Vec<ResourceKey> = entries
        .into_iter()
        .flatten()
        .filter_map(|e| Some((text(e, "/kind")?, text(e, "/name")?)))
        .filter(|(kind, _)| matches!(kind.as_str(), "ConfigMap" | "Secret"))
        .map(|(kind, name)| ResourceKey::new("", &kind, helm_release.namespace(), &name))
        .collect();
    for source in hub_objects
        .iter()
        .filter(|o| o.group() == "source.toolkit.fluxcd.io" && matches!(o.kind(), "HelmRepository" | "OCIRepository"))
    {
        if let Some(name) = text(source.value(), "/spec/secretRef/name") {
            keys.push(ResourceKey::new("", "Secret", source.namespace(), &name));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The ConfigMaps and Secrets the HelmReleases among `objects` read (`spec.valuesFrom`, their
/// sources' `spec.secretRef`: [`helm_release_references`]), read from the hub `cluster`: a
/// Kubernetes hub lists its apps and sources, not every ConfigMap, so these are read one by one. Those that do not exist are
/// left out (a release that needs one says so when its values are composed).
pub async fn values_sources<C: Cluster>(cluster: &C, objects: &[Object]) -> Result<Vec<Object>, crate::cluster::Error> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for hr in objects.iter().filter(|o| gitops_core::helm_release::spec::is_helm_release(o)) {
        for key in helm_release_references(hr, objects) {
            if seen.insert(key.clone())
                && let Some(o) = cluster.get(&key).await?
            {
                found.push(o);
            }
        }
    }
    Ok(found)
}

/// An app found in a hub, whatever produced it.
#[derive(Debug, Clone)]
pub struct HubApp {
    /// Which app.
    pub id: AppId,
    /// The app object as the hub holds it.
    pub object: Object,
    /// The app read and placed, or why it cannot be.
    pub member: Result<Member, String>,
    /// What its last pass left, if one ran.
    pub status: Option<crate::reconcile::Status>,
}

/// The kinds a Kubernetes hub's fleet is made of, as `(apiVersion, kind, namespace, label
/// selector)`: what a caller lists from the hub for a [`Walk`] or [`apps_of`].
pub const HUB_KINDS: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("argoproj.io/v1alpha1", "Application", Some(children::DEFAULT_CONTROLLER_NAMESPACE), None),
    ("argoproj.io/v1alpha1", "ApplicationSet", Some(children::DEFAULT_CONTROLLER_NAMESPACE), None),
    ("argoproj.io/v1alpha1", "AppProject", Some(children::DEFAULT_CONTROLLER_NAMESPACE), None),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", None, None),
    ("source.toolkit.fluxcd.io/v1", "GitRepository", None, None),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease", None, None),
    ("source.toolkit.fluxcd.io/v1", "HelmRepository", None, None),
    ("source.toolkit.fluxcd.io/v1", "HelmChart", None, None),
    ("source.toolkit.fluxcd.io/v1", "OCIRepository", None, None),
    // Image automation (a hub without these CRDs lists none).
    ("image.toolkit.fluxcd.io/v1beta2", "ImageRepository", None, None),
    ("image.toolkit.fluxcd.io/v1beta2", "ImagePolicy", None, None),
    ("image.toolkit.fluxcd.io/v1beta2", "ImageUpdateAutomation", None, None),
    ("v1", "Secret", Some(children::DEFAULT_CONTROLLER_NAMESPACE), Some("argocd.argoproj.io/secret-type=cluster")),
];

/// Every app of the hub at `hub`: Argo CD Applications in the controller namespace and Flux
/// Kustomizations, in name order (namespace, then name), with the status of their last pass
/// (kept on the hub).
pub fn hub_apps(hub: &Path) -> Result<Vec<HubApp>, Error> {
    let objects = FileCluster::new(hub).list().map_err(cluster_error(hub))?;
    let statuses = crate::status::StatusStore::FileCluster(FileCluster::new(hub));
    Ok(apps_of(&Hub::Dir(hub.to_path_buf()), &objects, |m, _| statuses.read(&m.spec.status_name()).ok().flatten()))
}

/// Every app among a hub's `objects` (see [`hub_apps`]), with the status `status_of` finds
/// for it (on a Kubernetes hub, the app object's own status:
/// [`gitops_core::fleet::status::status_of`]).
pub fn apps_of(
    hub: &Hub,
    objects: &[Object],
    status_of: impl Fn(&Member, &Object) -> Option<crate::reconcile::Status>,
) -> Vec<HubApp> {
    let (registry, _) = ClusterRegistry::from_objects(objects);
    let mut apps = Vec::new();
    for object in objects {
        let Some(kind) = ChildKind::of(object.group(), object.kind()) else { continue };
        let argo_here = kind == ChildKind::Application && object.namespace() == children::DEFAULT_CONTROLLER_NAMESPACE;
        if !(argo_here || matches!(kind, ChildKind::Kustomization | ChildKind::HelmRelease)) {
            continue;
        }
        let Some(id) = AppId::of(object, object.namespace()) else { continue };
        let member = member(hub, objects, &registry, object);
        let status = member.as_ref().ok().and_then(|m| status_of(m, object));
        apps.push(HubApp { id, object: object.clone(), member, status });
    }
    apps.sort_by(|a, b| {
        (&a.id.namespace, &a.id.name, a.id.kind.kind()).cmp(&(&b.id.namespace, &b.id.name, b.id.kind.kind()))
    });
    apps
}

/// The FileCluster of the registered cluster `name`: `<parent of the hub>/clusters/<name>`.
pub fn spoke_dir(hub: &Path, name: &str) -> Result<PathBuf, String> {
    gitops_core::names::check_app_name("cluster name", name).map_err(|e| e.to_string())?;
    let parent = hub.parent().unwrap_or(Path::new(""));
    Ok(parent.join("clusters").join(name))
}

/// The apps a parent produced, each after the Flux Kustomizations it `dependsOn` (so that a
/// dependency is passed, and can be ready, before its dependents), else in the order found.
fn in_dependency_order(mut apps: Vec<ChildApp>, produced: &[Object], default_ns: &str) -> Vec<ChildApp> {
    let mut graph = FleetGraph::new();
    for o in produced {
        graph.add_object(o, default_ns);
    }
    let ready = graph.ready_order();
    let rank = |c: &ChildApp| {
        let id = AppId::from(c);
        ready.order.iter().chain(&ready.stuck).position(|a| *a == id).unwrap_or(usize::MAX)
    };
    apps.sort_by_key(|c| rank(c));
    apps
}

/// Whether removing `member`'s app object deletes its resources: an Application with Argo CD's
/// resources finalizer (without it they are left, as in Argo CD), a Kustomization with
/// `spec.prune` that is not suspended (Flux's default deletion policy mirrors prune).
pub fn cascades(member: &Member) -> bool {
    match member.spec.kind {
        AppKind::ArgoApplication => member.objects.iter().filter(|o| o.kind() == "Application").any(|o| {
            o.value()
                .pointer("/metadata/finalizers")
                .and_then(|f| f.as_array())
                .is_some_and(|f| f.iter().filter_map(|v| v.as_str()).any(|f| f.starts_with(RESOURCES_FINALIZER)))
        }),
        AppKind::FluxKustomization => member.spec.automated.is_some_and(|a| a.prune) && !member.spec.rollout.suspend,
        // Deleting a HelmRelease uninstalls its release, unless it is suspended.
        AppKind::FluxHelmRelease => !member.spec.rollout.suspend,
    }
}

/// Deletes the resources `member` tracks on `cluster` (its target), as Argo CD's finalizer (or
/// Flux's garbage collection) does when the app is deleted, with `propagation`: see
/// [`deleted_with`] for what is kept. Returns what was deleted.
pub async fn delete_resources<C: Cluster>(
    cluster: &C,
    member: &Member,
    propagation: Propagation,
) -> Result<Vec<ResourceKey>, crate::cluster::Error> {
    let mut deleted = Vec::new();
    let mut objects = cluster.live_for(&member.spec, &HashSet::new()).await?;
    // A HelmRelease's release records go with it, as `helm uninstall` deletes them.
    if let Some(release) = member.spec.helm.as_deref() {
        let labels = [("owner", "helm"), ("name", release.release_name.as_str())];
        objects.extend(cluster.list_labeled("v1", "Secret", &release.storage_namespace, &labels).await?);
    }
    for o in objects {
        let key = o.key("");
        if deleted_with(&o, member) && cluster.delete(&key, propagation, false).await? {
            deleted.push(key);
        }
    }
    Ok(deleted)
}

/// The finalizers of `member`'s app object that the engine, as its controller, removes once it
/// has deleted what they hold: Argo CD's resources finalizer (and its variants) and Flux's.
pub fn controller_finalizers(member: &Member) -> Vec<String> {
    let app = member.objects.last();
    let finalizers = app.and_then(|o| o.value().pointer("/metadata/finalizers")).and_then(|f| f.as_array());
    finalizers
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str())
        .filter(|f| f.starts_with(RESOURCES_FINALIZER) || *f == FLUX_FINALIZER)
        .map(str::to_string)
        .collect()
}

/// Flux's finalizer on its objects (removed by its controller once the object is cleaned up).
pub const FLUX_FINALIZER: &str = "finalizers.fluxcd.io";

/// How an app's resources are deleted with it: in the background with Argo CD's
/// `resources-finalizer.argocd.argoproj.io/background`, else in the foreground (Argo CD's
/// default, and the plain finalizer's).
pub fn propagation(member: &Member) -> Propagation {
    let background = member.objects.iter().any(|o| {
        o.value()
            .pointer("/metadata/finalizers")
            .and_then(|f| f.as_array())
            .is_some_and(|f| f.iter().any(|v| v.as_str() == Some("resources-finalizer.argocd.argoproj.io/background")))
    });
    if background { Propagation::Background } else { Propagation::Foreground }
}

/// [`delete_resources`] on the FileCluster at `dir`, under its lock, without a runtime (for
/// callers that are not async; deletion there is immediate whatever the propagation).
pub fn delete_resources_in_dir(dir: &Path, member: &Member) -> Result<Vec<ResourceKey>, Error> {
    let cluster = FileCluster::new(dir);
    let lock = cluster.lock().map_err(cluster_error(dir))?;
    let mut deleted = Vec::new();
    for o in cluster.list().map_err(cluster_error(dir))? {
        let key = o.key("");
        if deleted_with(&o, member) && cluster.delete(&lock, &key).map_err(cluster_error(dir))? {
            deleted.push(key);
        }
    }
    Ok(deleted)
}

/// Whether `o` goes when `member` is deleted: it tracks the app, and is not marked
/// `Delete=false` (Argo CD) or `prune: disabled` (Flux).
pub fn deleted_with(o: &Object, member: &Member) -> bool {
    if let Some(release) = member.spec.helm.as_deref()
        && is_release_record(o, release)
    {
        // `uninstall.keepHistory` keeps them, as `helm uninstall --keep-history` does.
        return !release.keep_history;
    }
    app::is_tracked_by(o, &member.spec) && !kept_on_delete(o, &member.spec)
}

/// Whether `o` is one of the Helm release records (`sh.helm.release.v1.<name>.v<N>`) of
/// `release`, in its storage namespace.
fn is_release_record(o: &Object, release: &gitops_core::helm_release::spec::HelmReleaseSpec) -> bool {
    o.group().is_empty()
        && o.kind() == "Secret"
        && o.namespace() == release.storage_namespace
        && o.label("owner") == Some("helm")
        && o.label("name") == Some(release.release_name.as_str())
}

fn kept_on_delete(o: &Object, spec: &AppSpec) -> bool {
    match spec.kind {
        AppKind::ArgoApplication => {
            SyncOptions::default().for_resource(o.value()).is_ok_and(|(options, _)| options.keep_on_delete)
        }
        AppKind::FluxKustomization => gitops_core::sync::flux::prune_disabled(o.value()),
        // `helm uninstall` keeps what a chart marks `helm.sh/resource-policy: keep`.
        AppKind::FluxHelmRelease => o.annotation("helm.sh/resource-policy") == Some("keep"),
    }
}

/// What deleting an app does to its resources, as `argocd app delete --cascade` /
/// `--propagation-policy` say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cascade {
    /// The resources are deleted, then the app (Argo CD's default, foreground).
    Foreground,
    /// The app is deleted and its resources after it (on a FileCluster, at once).
    Background,
    /// Only the app is deleted; its resources stay.
    Orphan,
}

/// Deletes `app` from the hub at `hub`, and its resources first unless `cascade` is
/// [`Cascade::Orphan`] (a Flux Kustomization only when it prunes, as Flux's deletion policy
/// says). Returns the resources deleted. An app its parent still has in Git comes back at the
/// parent's next pass, as in Argo CD.
pub fn delete_app(hub: &Path, app: &HubApp, cascade: Cascade) -> Result<Vec<ResourceKey>, Error> {
    let mut deleted = Vec::new();
    if let Ok(member) = &app.member
        && let Place::Dir(dir) = &member.target
    {
        let with_resources = match member.spec.kind {
            AppKind::ArgoApplication => cascade != Cascade::Orphan,
            AppKind::FluxKustomization | AppKind::FluxHelmRelease => cascade != Cascade::Orphan && cascades(member),
        };
        if with_resources {
            deleted = delete_resources_in_dir(dir, member)?;
        }
    }
    let cluster = FileCluster::new(hub);
    let lock = cluster.lock().map_err(cluster_error(hub))?;
    cluster.delete(&lock, &app.object.key("")).map_err(cluster_error(hub))?;
    Ok(deleted)
}

/// Sets a Flux Kustomization's (or any app object's) `spec.suspend` in the hub, as `flux
/// suspend|resume kustomization` do; false when it already was so (nothing written).
pub fn set_suspend(hub: &Path, app: &HubApp, suspend: bool) -> Result<bool, Error> {
    let current = app.object.value().pointer("/spec/suspend").and_then(serde_json::Value::as_bool).unwrap_or(false);
    if current == suspend {
        return Ok(false);
    }
    let mut object = app.object.clone();
    if let Some(spec) = object.value_mut().get_mut("spec").and_then(serde_json::Value::as_object_mut) {
        spec.insert("suspend".into(), suspend.into());
    }
    let cluster = FileCluster::new(hub);
    let lock = cluster.lock().map_err(cluster_error(hub))?;
    cluster.apply(&lock, &object).map_err(cluster_error(hub))?;
    Ok(true)
}

/// The apps of `before` (what a parent produced before its pass) that the pass removed from the
/// hub: their resources go with them when [`cascades`] says so.
pub fn removed(before: Vec<Member>, after: &[Member]) -> Vec<Member> {
    let kept: HashSet<&AppId> = after.iter().map(|m| &m.id).collect();
    before.into_iter().filter(|m| !kept.contains(&m.id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_core::manifest;

    fn objects(yaml: &str) -> Vec<Object> {
        manifest::parse("test", yaml).unwrap()
    }

    #[test]
    fn the_finalizer_decides_whether_an_applications_resources_go_with_it() {
        let with = objects(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a, namespace: argocd, finalizers: [resources-finalizer.argocd.argoproj.io/background]}\nspec: {destination: {server: 'https://kubernetes.default.svc', namespace: a}, source: {repoURL: 'https://x/r.git', path: p}}\n",
        );
        let spec = app::read("test", &with).unwrap();
        let id = AppId::of(&with[0], "argocd").unwrap();
        let member = Member {
            id,
            origin: "test".into(),
            objects: with.clone(),
            spec,
            target: Place::Dir("t".into()),
            deleting: false,
        };
        assert_eq!(controller_finalizers(&member), ["resources-finalizer.argocd.argoproj.io/background"]);
        assert_eq!(propagation(&member), Propagation::Background);
        assert!(cascades(&member));
        let mut without = member.clone();
        without.objects[0].value_mut()["metadata"].as_object_mut().unwrap().remove("finalizers");
        assert!(!cascades(&without));
        assert_eq!(removed(vec![member.clone()], std::slice::from_ref(&member)).len(), 0);
        assert_eq!(removed(vec![member], &[]).len(), 1);
    }

    #[test]
    fn a_batch_keeps_dependencies_apart_and_one_directory_to_one_pass() {
        let member = |kind: &str, name: &str, depends: &str, target: Place| {
            let text = if kind == "Kustomization" {
                format!(
                    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec: {{dependsOn: [{depends}], sourceRef: {{kind: GitRepository, name: r}}, path: p}}\n"
                )
            } else {
                format!(
                    "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec: {{destination: {{server: 'https://kubernetes.default.svc', namespace: a}}, source: {{repoURL: 'https://x/r.git', path: p}}}}\n"
                )
            };
            let objects = objects(&text);
            let spec = app::read("test", &objects).unwrap();
            let id = AppId::of(&objects[0], objects[0].namespace()).unwrap();
            Next::Pass(Box::new(Member { id, origin: "test".into(), objects, spec, target, deleting: false }))
        };
        let root = objects(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: root, namespace: flux-system}\nspec: {sourceRef: {kind: GitRepository, name: r}, path: p}\n",
        );
        let mut walk = Walk::new(Hub::Kube, &app::read("test", &root).unwrap(), &root[0]);
        walk.queue.extend([
            member("Kustomization", "infra", "", Place::Hub),
            member("Application", "web", "", Place::Dir("b".into())),
            member("Kustomization", "apps", "{name: infra}", Place::Hub),
            member("Application", "api", "", Place::Dir("c".into())),
            member("Application", "db", "", Place::Dir("c".into())),
            Next::Condition(Condition { app: "x".into(), message: "y".into() }),
            member("Application", "cache", "", Place::Hub),
        ]);
        let names = |batch: Vec<Next>| -> Vec<String> {
            batch
                .into_iter()
                .map(|n| match n {
                    Next::Pass(m) => m.id.name,
                    Next::Condition(c) => format!("condition {}", c.app),
                    _ => "other".into(),
                })
                .collect()
        };
        assert_eq!(names(walk.next_batch(8)), ["infra", "web"], "apps waits for infra");
        assert_eq!(names(walk.next_batch(8)), ["apps", "api"], "db waits for api's directory");
        assert_eq!(names(walk.next_batch(1)), ["db"]);
        assert_eq!(names(walk.next_batch(8)), ["condition x"], "a condition is alone");
        assert_eq!(names(walk.next_batch(8)), ["cache"]);
        assert!(walk.next_batch(8).is_empty());
    }

    #[test]
    fn spokes_live_beside_the_hub_and_their_names_cannot_leave_it() {
        assert_eq!(spoke_dir(Path::new("/f/hub"), "prod").unwrap(), Path::new("/f/clusters/prod"));
        assert_eq!(spoke_dir(Path::new("hub"), "prod").unwrap(), Path::new("clusters/prod"));
        assert!(spoke_dir(Path::new("/f/hub"), "../etc").is_err());
    }
}
