//! The live side of the gitops engine.
//!
//! - [`Cluster`]: what a sync needs from a live target (discovery, the objects an app tracks,
//!   get, apply in three modes, delete with a propagation policy, watch for changes);
//! - [`FileCluster`]: the embedded default target, a directory that stands in for a cluster,
//!   one YAML file per object at a fixed path, written atomically under a lock, read back with
//!   the fields a server adds (uid, resourceVersion, generation, creationTimestamp);
//! - [`KubeCluster`]: a Kubernetes API server through kube-rs (kubeconfig or in-cluster,
//!   cached discovery, client-side or server-side apply, dry runs, watches);
//! - [`executor`] runs the core's sync operation on a `Cluster`; [`reconcile`] is one pass of
//!   the reconcile loop (render, compare, plan, sync by policy, status);
//! - [`status`]: where each target keeps its apps' statuses;
//! - [`controller`]: the loop itself, a work queue of apps on their targets, each passed at its
//!   interval until a stop ([`controller::CancellationToken`]);
//! - [`inspect`]: read-only looks at a cluster, its diff against desired objects and the
//!   health of what it holds (`gitops diff` and `gitops health` against a cluster);
//! - [`client_side`]: `kubectl apply`'s three-way patch with the last-applied annotation;
//! - [`registered`]: a cluster registered with Argo CD (its cluster Secret) as a kube-rs
//!   configuration, for [`KubeCluster::connect_registered`];
//! - [`lease`]: leader election on a `coordination.k8s.io/v1` Lease, as client-go's.
//!
//! Example to start from: `cargo run -p gitops-kube --example controller_on_file_cluster` runs
//! the controller for an automated app on a FileCluster, with desired state from memory.
//!
//! FileCluster path scheme (documented, stable):
//! `<root>/<namespace or _cluster>/<group or core>/<Kind>/<name>.yaml`.
//!
//! ```
//! use gitops_core::ResourceKey;
//! use gitops_kube::FileCluster;
//! let c = FileCluster::new("/tmp/cluster");
//! let p = c.path_for(&ResourceKey::new("apps", "Deployment", "web", "frontend"))?;
//! assert!(p.ends_with("web/apps/Deployment/frontend.yaml"));
//! // Parts an API server would refuse never become paths.
//! assert!(c.path_for(&ResourceKey::new("", "ConfigMap", "../../etc", "x")).is_err());
//! # Ok::<(), gitops_kube::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod action;
pub mod client_side;
pub mod cluster;
pub mod controller;
pub mod executor;
pub mod file_cluster;
pub mod fleet;
pub mod helm_release;
pub mod hub;
pub mod inspect;
pub mod kube_cluster;
pub mod lease;
pub mod reconcile;
pub mod registered;
pub mod rollout;
pub mod schedules;
mod server_rules;
pub mod status;

pub use cluster::{Applied, ApplyMode, Cluster, Resource};
pub use file_cluster::{Error, FileCluster, ListCache, Lock, LockedFileCluster};
pub use kube_cluster::KubeCluster;
