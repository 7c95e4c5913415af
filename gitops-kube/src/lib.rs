//! The live side of the gitops engine.
//!
//! [`FileCluster`] is the embedded default target: a directory that stands in for a cluster,
//! one YAML file per object at a fixed path, written atomically under a lock, read back with
//! the fields a server adds (uid, resourceVersion, generation, creationTimestamp).
//! [`executor`] runs the core's sync operation on it; [`reconcile`] is one pass of the
//! reconcile loop (render, compare, plan, sync by policy, status). The async `Cluster` trait and the
//! kube-rs client arrive with the rest of the live side.
//!
//! Path scheme (documented, stable): `<root>/<namespace or _cluster>/<group or core>/<Kind>/<name>.yaml`.
//!
//! ```
//! use gitops_core::ResourceKey;
//! use gitops_kube::FileCluster;
//! let c = FileCluster::new("/tmp/cluster");
//! let p = c.path_for(&ResourceKey::new("apps", "Deployment", "web", "frontend"));
//! assert!(p.ends_with("web/apps/Deployment/frontend.yaml"));
//! ```

#![forbid(unsafe_code)]

pub mod executor;
pub mod file_cluster;
pub mod reconcile;

pub use file_cluster::{Applied, Error, FileCluster, Lock};
