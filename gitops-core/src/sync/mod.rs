//! Sync planning and the sync operation, as Argo CD's gitops-engine does them, with no I/O.
//!
//! - [`hooks`]: hooks, phases, waves and delete policies from annotations (Helm's mapped);
//! - [`options`]: sync options, app-wide and per resource;
//! - [`order`]: Argo CD's task order, Namespace and CRD hoisting, prune-wave mirroring;
//! - [`plan`]: the ordered tasks of a sync with an action and a reason each;
//! - [`operation`]: the sync as a state machine that says what to do next and is fed results;
//! - [`retry`]: `syncPolicy.retry` and its backoff.

pub mod hooks;
pub mod options;
pub mod order;
pub mod plan;
pub mod task;

pub use plan::{PlanConfig, PlanResource, plan};
pub use task::{Action, ApplyOptions, DeletePolicy, Phase, Skipped, SyncPlan, Task};
