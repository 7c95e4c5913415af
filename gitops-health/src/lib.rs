//! Health assessment of Kubernetes objects, as Argo CD does it, with no I/O.
//!
//! - [`builtin`]: Argo CD's built-in checks (Deployment, StatefulSet, DaemonSet, ReplicaSet,
//!   Pod, PVC, Service, Ingress, Job, HPA, APIService, Argo Workflow), same rules and messages.
//! - [`lua`]: an engine that runs Argo CD's Lua health scripts unchanged, sandboxed and
//!   bounded in time and memory.
//! - [`scripts`]: script trees in Argo CD's `resource_customizations` layout, and the checks
//!   this project bundles for the CRDs a GitOps user meets first.
//! - [`assess`]: which check decides, in Argo CD's precedence, and running it.
//! - [`aggregate`](mod@aggregate): an application's health from its objects'.
//! - [`report`]: the typed health report of a set of live objects (what `gitops health`
//!   prints as a table or JSON).
//! - [`action`]: Argo CD's resource actions (discovery and action scripts), bundled and
//!   custom, on the same Lua engine; [`actiontest`] reads `action_test.yaml` files.
//! - [`testfile`]: Argo CD's `health_test.yaml` format, for users testing their own scripts.
//!
//! Example to start from: `cargo run -p gitops-health --example custom_lua_check` assesses a
//! custom resource with your own Lua check next to the built-ins.
//!
//! ```
//! use gitops_health::{HealthChecks, HealthStatus};
//! use serde_json::json;
//!
//! let checks = HealthChecks::default();
//! let deployment = json!({
//!     "apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web", "generation": 2},
//!     "spec": {"replicas": 3},
//!     "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 1},
//! });
//! let health = checks.assess(&deployment).health.unwrap();
//! assert_eq!(health.status, HealthStatus::Progressing);
//! assert_eq!(health.message, "Waiting for rollout to finish: 1 out of 3 new replicas have been updated...");
//! ```

#![forbid(unsafe_code)]

pub mod action;
pub mod actiontest;
pub mod aggregate;
pub mod assess;
pub mod builtin;
pub mod lua;
pub mod report;
pub mod scripts;
mod status;
pub mod testfile;

pub use aggregate::{AppHealth, Member, aggregate};
pub use assess::{Assessment, CheckSource, HealthChecks};
pub use report::{HealthReport, ObjectHealth};
pub use status::{Health, HealthStatus};
