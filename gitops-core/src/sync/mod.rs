//! Sync planning and the sync operation, as Argo CD's gitops-engine does them, with no I/O.
//!
//! - [`hooks`]: hooks, phases, waves and delete policies from annotations (Helm's mapped);
//! - [`options`]: sync options, app-wide and per resource;
//! - [`order`]: Argo CD's task order, Namespace and CRD hoisting, prune-wave mirroring;
//! - [`plan`](mod@plan): the ordered tasks of a sync with an action and a reason each;
//! - [`prepare`]: from an app, desired and live objects to a plan (the diff, then the plan);
//! - [`respect`]: `RespectIgnoreDifferences`, the target keeping ignored live values;
//! - [`operation`]: the sync as a state machine that says what to do next and is fed results;
//! - [`retry`]: `syncPolicy.retry` and its backoff;
//! - [`policy`]: what a reconcile pass does with its plan (sync, compare only, refuse) and why;
//! - [`status`]: an app's status after a pass (sync status, health, last operation);
//! - [`report`]: the stable JSON document of a plan.

pub mod flux;
pub mod hooks;
pub mod operation;
pub mod options;
pub mod order;
pub mod plan;
pub mod policy;
pub mod prepare;
pub mod report;
pub mod respect;
pub mod retry;
pub mod select;
pub mod status;
pub mod task;

/// The field manager gitops writes as (server-side applies, and the updates of client-side
/// apply): the name the API server records in `metadata.managedFields`.
pub const FIELD_MANAGER: &str = "gitops";

pub use operation::{Failure, Observed, OperationOptions, OperationPhase, Step, SyncOperation};
pub use plan::{PlanConfig, PlanResource, plan};
pub use policy::{Decision, Policy};
pub use report::PlanReport;
pub use retry::RetryStrategy;
pub use task::{Action, ApplyOptions, DeletePolicy, FluxApply, Phase, Skipped, SyncPlan, Task};
