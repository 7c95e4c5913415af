//! The `Cluster` trait: what the executor and the reconcile loop need from a live target.
//!
//! Two targets implement it: [`crate::LockedFileCluster`] (a directory, the embedded default)
//! and [`crate::KubeCluster`] (a Kubernetes API server through kube-rs). The methods are async
//! because a real cluster is a network away; the engine drives one cluster from one task, so
//! the futures are `Send` for embedders but the engine never needs to spawn them.
//!
//! Tracking, as Argo CD and Flux record it and as every prune checks it again just before
//! deleting: Argo CD apps own objects whose annotation `argocd.argoproj.io/tracking-id` is
//! `<app>:<group>/<kind>:<namespace>/<name>` and names the object itself (or, for apps deployed
//! with the older label method, whose label `app.kubernetes.io/instance` is the app's name);
//! Flux Kustomizations own objects labelled `kustomize.toolkit.fluxcd.io/name: <app>`. Only root
//! objects are ever owned: one with `metadata.ownerReferences` (a ReplicaSet of a Deployment,
//! its Pods) is its owner's, never listed as the app's and never pruned. The one check is
//! [`gitops_core::app::prune_refusal`]; [`gitops_core::app::is_tracked_by`] is its yes/no form.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use gitops_core::app::{AppSpec, is_tracked_by};
use gitops_core::sync::options::Propagation;
use gitops_core::{Object, ResourceKey};

/// Why a cluster operation failed. Messages name the object and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory target failed.
    #[error(transparent)]
    File(#[from] crate::file_cluster::Error),
    /// The cluster has no API for this kind (its CRD is missing or not yet established).
    #[error("the cluster serves no {kind} in {api_version}: is its CustomResourceDefinition installed?")]
    UnknownKind {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// Server-side apply found fields that another field manager owns.
    #[error("{key}: {message} (sync with the Force=true sync option, or --force-conflicts, to take them over)")]
    Conflict {
        /// The object.
        key: String,
        /// The server's words, naming the fields and their manager.
        message: String,
    },
    /// The server refused the request (invalid object, forbidden, not found...).
    #[error("{key}: {message}")]
    Refused {
        /// The object, or the request.
        key: String,
        /// The server's message.
        message: String,
        /// The HTTP status code.
        code: u16,
        /// The status reason (`Invalid`, `Conflict`, `AlreadyExists`...; empty when the server
        /// gave none): 409 is both `Conflict` and `AlreadyExists`, and only the first may lead
        /// to recreating an object ([`gitops_core::sync::options::is_immutable_refusal`]).
        reason: String,
    },
    /// The cluster could not be reached or answered something unreadable.
    #[error("{context}: {message}")]
    Transport {
        /// What was being done.
        context: String,
        /// The client's error.
        message: String,
    },
    /// The kubeconfig or in-cluster configuration could not be used.
    #[error("cluster configuration: {0}")]
    Config(String),
    /// A target implemented outside this crate failed, in its own terms.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// A kind the cluster serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `group/version`, or `v1`.
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The plural resource name in URLs (`deployments`).
    pub plural: String,
    /// Whether objects of this kind live in a namespace.
    pub namespaced: bool,
}

/// How an object is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// `kubectl apply`: the object is created or patched, and the annotation
    /// `kubectl.kubernetes.io/last-applied-configuration` records what was applied, so fields
    /// removed from the manifest are removed from the object next time (Argo CD's default).
    ClientSide,
    /// Server-side apply as field manager `gitops`; a field another manager owns with another
    /// value is a conflict unless `force` (Argo CD's `ServerSideApply=true`).
    ServerSide {
        /// Take over conflicting fields.
        force: bool,
        /// First take over the fields kubectl and earlier client-side applies manage, and drop
        /// kubectl's last-applied record, as Flux's kustomize-controller does
        /// ([`gitops_core::sync::flux::takeover_patch`]), so that the apply removes the fields
        /// the manifest no longer has. Not done on a dry run (it would be a write).
        take_over: bool,
    },
    /// `kubectl replace`: the object is replaced whole (or created) (`Replace=true`).
    Replace,
}

pub use gitops_core::sync::FIELD_MANAGER;

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The object did not exist.
    Created,
    /// It existed and changed.
    Configured,
    /// It existed and nothing changed.
    Unchanged,
    /// Server-side applied: the server merged it (it does not say whether anything changed).
    ServerSideApplied,
}

impl Applied {
    /// The word kubectl prints for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Created => "created",
            Applied::Configured => "configured",
            Applied::Unchanged => "unchanged",
            Applied::ServerSideApplied => "serverside-applied",
        }
    }
}

/// The live target of a sync.
pub trait Cluster {
    /// How the target is named in output: `dir:PATH`, `kube:CONTEXT`.
    fn describe(&self) -> String;

    /// Whether controllers run there, so that health can be assessed (false for a directory).
    fn assesses_health(&self) -> bool;

    /// The API serving `kind` in `api_version`, from cached discovery (refreshed when the kind
    /// is not found, as a CRD may have just been established); `None` when there is none.
    fn resource(&self, api_version: &str, kind: &str) -> impl Future<Output = Result<Option<Resource>, Error>> + Send;

    /// Whether objects of `kind` in `api_version` are cluster-scoped, as the target knows it
    /// (discovery, stored CRDs); `None` when it does not know the kind. Desired objects of
    /// custom kinds that name no namespace are keyed by this ([`gitops_core::scope`]).
    fn cluster_scoped(&self, api_version: &str, kind: &str)
    -> impl Future<Output = Result<Option<bool>, Error>> + Send;

    /// Every object the app tracks, plus every object at the key of one of `desired`
    /// (tracked or not: applying over it adopts it), keyed as the app keys them.
    fn live_for(
        &self,
        app: &AppSpec,
        desired: &HashSet<ResourceKey>,
    ) -> impl Future<Output = Result<Vec<Object>, Error>> + Send;

    /// Every object in `namespace` (of the kinds this account may list), for the report of
    /// orphaned resources ([`gitops_core::project::AppProject::orphans`]).
    fn namespace_objects(&self, namespace: &str) -> impl Future<Output = Result<Vec<Object>, Error>> + Send;

    /// Every object of `kind` (in `api_version`) in `namespace` carrying each of `labels` (a
    /// label selector of equalities): Helm's release Secrets, say.
    fn list_labeled(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<Object>, Error>> + Send;

    /// The object with this key, if it exists.
    fn get(&self, key: &ResourceKey) -> impl Future<Output = Result<Option<Object>, Error>> + Send;

    /// Writes `obj` (which names its namespace when namespaced) in `mode`; with `dry_run`
    /// the server validates and merges it but stores nothing. Returns what happened and the
    /// object as stored (or as it would be).
    fn apply(
        &self,
        obj: &Object,
        mode: ApplyMode,
        dry_run: bool,
    ) -> impl Future<Output = Result<(Applied, Object), Error>> + Send;

    /// Merge-patches (RFC 7386) the object at `key`, as `kubectl patch --type=merge`; with
    /// `status`, its status subresource (the patch is then `{"status": ...}`). False when
    /// there is no such object, or no status subresource for its kind.
    fn merge_patch(
        &self,
        key: &ResourceKey,
        patch: &serde_json::Value,
        status: bool,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Deletes the object with this key; false when it did not exist. With `Foreground`, the
    /// object stays (being deleted) until its dependents are gone.
    fn delete(
        &self,
        key: &ResourceKey,
        propagation: Propagation,
        dry_run: bool,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Resolves when one of `watched` (a key and the resourceVersion last seen, `None` when it
    /// did not exist) changes, or after `timeout`, whichever comes first. Used to wait for
    /// health and deletions without polling the server.
    fn changed(
        &self,
        watched: &[(ResourceKey, Option<String>)],
        timeout: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Keeps, of `objects`, those the app tracks (root objects only, see
/// [`gitops_core::app::prune_refusal`]) or that sit at a desired key: what
/// [`Cluster::live_for`] returns.
pub fn select_live(app: &AppSpec, desired: &HashSet<ResourceKey>, objects: Vec<Object>) -> Vec<Object> {
    objects.into_iter().filter(|o| is_live_for(o, app, desired)).collect()
}

/// Whether `o` is on the live side of `app`'s comparison: it tracks it, or it sits at a
/// desired key (see [`select_live`]).
pub fn is_live_for(o: &Object, app: &AppSpec, desired: &HashSet<ResourceKey>) -> bool {
    is_tracked_by(o, app) || desired.contains(&o.key(""))
}

/// The live side of a comparison or a health report: with an app, every object it tracks
/// or that sits at a desired key ([`Cluster::live_for`]); without, the object at each
/// desired key that exists, in key order.
pub async fn live_objects<C: Cluster>(
    cluster: &C,
    app: Option<&AppSpec>,
    desired: &HashSet<ResourceKey>,
) -> Result<Vec<Object>, Error> {
    if let Some(app) = app {
        return cluster.live_for(app, desired).await;
    }
    let mut keys: Vec<&ResourceKey> = desired.iter().collect();
    keys.sort();
    let mut found = Vec::new();
    for key in keys {
        found.extend(cluster.get(key).await?);
    }
    Ok(found)
}

/// The resourceVersion of an object, as [`Cluster::changed`] takes it.
pub fn resource_version(o: &Object) -> Option<String> {
    o.value().pointer("/metadata/resourceVersion").and_then(|v| v.as_str()).map(str::to_string)
}
