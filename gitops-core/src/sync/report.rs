//! The stable JSON document of a plan (`gitops plan -o json`): its tasks, grouped into the
//! steps a sync runs, with counts per action and the app's retry schedule.
//!
//! Fields are declared in alphabetical order: that is the order the document has always had
//! (it was once built as a sorted JSON map), and scripts may compare it byte for byte.

use serde::Serialize;

use super::retry::RetryStrategy;
use super::task::{Action, ApplyOptions, DeletePolicy, Phase, SyncPlan, Task};

/// How many tasks of each action a plan has; actions with none are left out of the JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Objects to create.
    #[serde(skip_serializing_if = "is_zero")]
    pub create: usize,
    /// Hooks to create.
    #[serde(skip_serializing_if = "is_zero")]
    pub hook: usize,
    /// Objects to prune.
    #[serde(skip_serializing_if = "is_zero")]
    pub prune: usize,
    /// Objects that would be pruned but are kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub prune_skipped: usize,
    /// Objects in sync.
    #[serde(skip_serializing_if = "is_zero")]
    pub unchanged: usize,
    /// Objects to update.
    #[serde(skip_serializing_if = "is_zero")]
    pub update: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// The counts of `plan`.
    pub fn of(plan: &SyncPlan) -> Summary {
        let mut s = Summary::default();
        for t in &plan.tasks {
            *match t.action {
                Action::Create => &mut s.create,
                Action::Update => &mut s.update,
                Action::Unchanged => &mut s.unchanged,
                Action::Prune => &mut s.prune,
                Action::PruneSkipped => &mut s.prune_skipped,
                Action::HookCreate => &mut s.hook,
            } += 1;
        }
        s
    }
}

/// A task's apply options, in the document's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// `Force=true`.
    pub force: bool,
    /// `Replace=true`.
    pub replace: bool,
    /// `ServerSideApply=true`.
    pub server_side_apply: bool,
    /// `SkipDryRunOnMissingResource=true`.
    pub skip_dry_run_on_missing_resource: bool,
    /// `Validate=false`.
    pub skip_validation: bool,
}

impl From<&ApplyOptions> for Options {
    fn from(o: &ApplyOptions) -> Options {
        Options {
            force: o.force,
            replace: o.replace,
            server_side_apply: o.server_side_apply,
            skip_dry_run_on_missing_resource: o.skip_dry_run_on_missing_resource,
            skip_validation: o.skip_validation,
        }
    }
}

/// One task of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReport {
    /// What is done.
    pub action: Action,
    /// For hooks: when they are deleted (empty otherwise).
    pub delete_policies: Vec<DeletePolicy>,
    /// The object's API group (empty for the core group).
    pub group: String,
    /// The object's key, as `group/kind/namespace/name`.
    pub key: String,
    /// The object's kind.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The object's namespace (empty when cluster-scoped).
    pub namespace: String,
    /// How it is applied.
    pub options: Options,
    /// Its phase.
    pub phase: Phase,
    /// Why, in words a user can act on.
    pub reason: String,
    /// Its wave.
    pub wave: i64,
}

impl From<&Task> for TaskReport {
    fn from(t: &Task) -> TaskReport {
        TaskReport {
            action: t.action,
            delete_policies: t.delete_policies.clone(),
            group: t.key.group.clone(),
            key: t.key.to_string(),
            kind: t.key.kind.clone(),
            name: t.key.name.clone(),
            namespace: t.key.namespace.clone(),
            options: (&t.options).into(),
            phase: t.phase,
            reason: t.reason.clone(),
            wave: t.wave,
        }
    }
}

/// One step of the sync: a phase and wave, its tasks, and the hooks deleted before its applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// Tasks whose earlier hook instance is deleted first (indexes into `tasks`).
    pub delete_hooks: Vec<usize>,
    /// The phase.
    pub phase: Phase,
    /// The step's tasks (indexes into the document's `tasks`).
    pub tasks: Vec<usize>,
    /// The wave.
    pub wave: i64,
}

/// An object the plan leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedReport {
    /// The object's key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// The app's retry schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryReport {
    /// The first waits (up to five).
    pub delays_seconds: Vec<f64>,
    /// How many retries (negative: unlimited).
    pub limit: i64,
}

/// The first waits of a retry schedule (up to five; none when retries are off).
pub fn retry_delays(r: &RetryStrategy) -> Vec<std::time::Duration> {
    (0..5u32).take_while(|n| r.should_retry(*n)).map(|n| r.delay(n)).collect()
}

/// The stable JSON document of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    /// Reasons the sync must not run.
    pub errors: Vec<String>,
    /// Whether the plan has anything to do.
    pub has_work: bool,
    /// The app's retry schedule, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryReport>,
    /// Objects left alone.
    pub skipped: Vec<SkippedReport>,
    /// The tasks grouped into steps, in the order a sync runs them.
    pub steps: Vec<StepReport>,
    /// Counts per action.
    pub summary: Summary,
    /// Every task, in execution order.
    pub tasks: Vec<TaskReport>,
    /// Things a user should know that do not stop the sync.
    pub warnings: Vec<String>,
}

impl PlanReport {
    /// The report of `plan`, with the app's retry strategy when it has one.
    pub fn new(plan: &SyncPlan, retry: Option<&RetryStrategy>) -> PlanReport {
        let mut steps: Vec<StepReport> = Vec::new();
        for (i, t) in plan.tasks.iter().enumerate() {
            if steps.last().is_none_or(|s| (s.phase, s.wave) != (t.phase, t.wave)) {
                steps.push(StepReport { delete_hooks: Vec::new(), phase: t.phase, tasks: Vec::new(), wave: t.wave });
            }
            if let Some(s) = steps.last_mut() {
                s.tasks.push(i);
                if t.replaces_earlier_hook() {
                    s.delete_hooks.push(i);
                }
            }
        }
        PlanReport {
            errors: plan.errors.clone(),
            has_work: plan.has_work(),
            retry: retry.map(|r| RetryReport {
                delays_seconds: retry_delays(r).iter().map(std::time::Duration::as_secs_f64).collect(),
                limit: r.limit,
            }),
            skipped: plan
                .skipped
                .iter()
                .map(|s| SkippedReport { key: s.key.to_string(), reason: s.reason.clone() })
                .collect(),
            steps,
            summary: Summary::of(plan),
            tasks: plan.tasks.iter().map(TaskReport::from).collect(),
            warnings: plan.warnings.clone(),
        }
    }
}
