//! A sync operation as a sans-IO state machine, following gitops-engine's re-entrant `Sync()`.
//!
//! The machine never touches a cluster. A driver loops: [`SyncOperation::next`] says what to do
//! ([`Step`]); the driver does it and reports back ([`SyncOperation::applied`] and friends), and
//! while the machine waits it feeds observed health ([`SyncOperation::observe`]) and the time.
//! Every request is handed out once; asking again before reporting only yields a [`Step::Wait`].
//!
//! Per (phase, wave), in order: prunes, deletion of hooks replaced under `BeforeHookCreation`,
//! applies in groups of consecutive same-kind tasks, then hook creation. The next wave starts
//! only when every task of this one is complete and successful; the last wave is not waited
//! for unless it holds hooks (Argo CD's "all tasks run").

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::options::Propagation;
use super::task::{Action, DeletePolicy, Phase, SyncPlan, Task};
use crate::object::ResourceKey;

/// How one sync operation runs (from the sync request and the app's sync options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationOptions {
    /// Apply and prune as dry runs only; nothing waits and no hook is created.
    pub dry_run: bool,
    /// Pruning is allowed for this operation; when not, `Prune` tasks become
    /// `PruneSkipped` "ignored (requires pruning)".
    pub prune: bool,
    /// `ApplyOutOfSyncOnly=true`: `Unchanged` tasks are left out entirely (not even health-gated).
    pub apply_out_of_sync_only: bool,
    /// A selective sync: only these objects. Hooks never run in one, as in Argo CD.
    pub selective: Option<BTreeSet<ResourceKey>>,
    /// How prunes delete (the driver reads it when handed [`Step::Prune`]).
    pub prune_propagation: Propagation,
    /// `Prune=confirm` prunes are approved; without it their wave waits for approval.
    pub prune_confirmed: bool,
    /// Argo CD's `ARGOCD_SYNC_WAVE_DELAY`: after a wave (other than the last) is applied, health
    /// is not trusted for this long, so a status not yet updated by its controller cannot
    /// release the next wave early (argo-cd#4669).
    pub wave_delay: Duration,
}

impl Default for OperationOptions {
    fn default() -> OperationOptions {
        OperationOptions {
            dry_run: false,
            prune: true,
            apply_out_of_sync_only: false,
            selective: None,
            prune_propagation: Propagation::Foreground,
            prune_confirmed: false,
            wave_delay: Duration::from_secs(2),
        }
    }
}

impl OperationOptions {
    /// The options an app's sync options imply (`ApplyOutOfSyncOnly`,
    /// `PrunePropagationPolicy`), with pruning as the sync policy or the request says.
    pub fn from_sync_options(options: &super::options::SyncOptions, prune: bool) -> OperationOptions {
        OperationOptions {
            prune,
            apply_out_of_sync_only: options.apply_out_of_sync_only,
            prune_propagation: options.prune_propagation,
            ..OperationOptions::default()
        }
    }
}

/// Why the cluster refused a request of the operation (an apply, a prune, a hook's creation or
/// deletion), in the driver's words: recorded as the task's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure(message.to_string())
    }
}

/// Where the operation is, with Argo CD's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationPhase {
    /// Work remains.
    Running,
    /// [`SyncOperation::terminate`] was called; running hooks are being deleted.
    Terminating,
    /// Every task ran successfully.
    Succeeded,
    /// A task failed, or the plan was refused, or the operation was terminated.
    Failed,
    /// Termination itself went wrong.
    Error,
}

impl OperationPhase {
    /// The phase as Argo CD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationPhase::Running => "Running",
            OperationPhase::Terminating => "Terminating",
            OperationPhase::Succeeded => "Succeeded",
            OperationPhase::Failed => "Failed",
            OperationPhase::Error => "Error",
        }
    }

    /// Whether the operation is over.
    pub fn is_completed(self) -> bool {
        matches!(self, OperationPhase::Succeeded | OperationPhase::Failed | OperationPhase::Error)
    }
}

impl std::fmt::Display for OperationPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the spelling, as status files and scripts have it.
impl PartialEq<&str> for OperationPhase {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The health of a task's live object as the driver sees it (mapped from the health crate, which
/// the core cannot depend on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Healthy (for a hook: completed successfully).
    Healthy,
    /// Still converging (for a hook: still running).
    Progressing,
    /// Paused on purpose.
    Suspended,
    /// Failed.
    Degraded,
    /// Health cannot be told.
    Unknown,
    /// The object is gone.
    Missing,
    /// No health check applies to this kind.
    NoCheck,
}

/// Argo CD's per-resource result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ResultCode {
    /// Applied (or created, for hooks).
    Synced,
    /// Could not be applied, pruned, created or deleted, or vanished while running.
    SyncFailed,
    /// Deleted.
    Pruned,
    /// Left in place.
    PruneSkipped,
}

/// Argo CD's `hookPhase` of a result; despite the name it is kept for every task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HookPhase {
    /// Applied or created; health or completion not yet known (or never awaited).
    Running,
    /// Done and fine.
    Succeeded,
    /// Done and not fine.
    Failed,
    /// Stopped by [`SyncOperation::terminate`].
    Terminated,
}

/// What happened to one task of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// The object.
    pub key: ResourceKey,
    /// The phase it ran in (results are keyed by key and phase, as in Argo CD).
    pub phase: Phase,
    /// The outcome; `None` when the task did not run.
    pub code: Option<ResultCode>,
    /// Where it is; `None` when the task did not run.
    pub hook_phase: Option<HookPhase>,
    /// Why, or what the cluster said.
    pub message: String,
}

/// What the driver does next. Indices are into [`SyncOperation::tasks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Apply these (one same-kind group, in parallel; as dry runs when `dry_run`), then report
    /// each with [`SyncOperation::applied`].
    Apply(Vec<usize>),
    /// Delete these live objects with `prune_propagation` (dry run when `dry_run`), then report
    /// each with [`SyncOperation::pruned`].
    Prune(Vec<usize>),
    /// Create these hooks, then report each with [`SyncOperation::hook_created`].
    CreateHooks(Vec<usize>),
    /// Delete these hooks (a previous instance under `BeforeHookCreation`, a completed hook
    /// under its delete policy, or a running hook on termination), then report each with
    /// [`SyncOperation::hook_deleted`].
    DeleteHooks(Vec<usize>),
    /// Nothing to do now: observe `health` (and whether `deletions` are gone) with
    /// [`SyncOperation::observe`], pause, and call [`SyncOperation::next`] again.
    Wait {
        /// Tasks whose health (hooks: completion) is awaited.
        health: Vec<usize>,
        /// Tasks whose live object must disappear (report [`Observed::Missing`] when it has).
        deletions: Vec<usize>,
        /// Argo CD's message for the wait.
        message: String,
    },
    /// The operation is over; see [`SyncOperation::phase`].
    Done,
}

/// A report the operation did not ask for: a driver bug, refused rather than guessed at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The index is not a task of the plan.
    #[error("task {0} is not in the plan")]
    UnknownTask(usize),
    /// The task was not handed out for this.
    #[error("task {task} ({key}) is not awaiting a {what} result")]
    Unexpected {
        /// The index.
        task: usize,
        /// Its object.
        key: ResourceKey,
        /// What was reported.
        what: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Not part of this operation.
    Skip,
    Pending,
    /// Handed to the driver; its report is awaited.
    Out(Req),
    /// A previous hook instance is being deleted; it is created again once it is gone.
    Replacing,
    /// Applied or created; health or completion awaited.
    Running,
    /// Pruned; disappearance awaited.
    Deleting,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Req {
    Apply,
    Prune,
    Create,
    DeleteOld,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cleanup {
    None,
    Asked,
    Done,
}

/// One sync operation over a [`SyncPlan`].
#[derive(Debug, Clone)]
pub struct SyncOperation {
    tasks: Vec<Task>,
    options: OperationOptions,
    started_at: SystemTime,
    st: Vec<St>,
    /// Whether the task's live object exists, as far as the operation knows.
    exists: Vec<bool>,
    cleanup: Vec<Cleanup>,
    /// Whether the cluster refused the task's apply, prune, creation or replacement.
    refused: Vec<bool>,
    results: Vec<TaskResult>,
    phase: OperationPhase,
    message: String,
    /// More than one (phase, wave) outside SyncFail: non-hook health then gates waves.
    multi_step: bool,
    last: Option<(Phase, i64)>,
    current: Option<(Phase, i64)>,
    settle_at: Option<SystemTime>,
    /// Set once a task failed: the message the operation will end with.
    failure: Option<String>,
    /// Final phase and message, held while the last hook deletions are reported.
    ending: Option<(OperationPhase, String)>,
    cleanup_errors: Vec<String>,
}

impl SyncOperation {
    /// Starts an operation at `now`. A plan with errors fails at once, naming them.
    pub fn new(plan: SyncPlan, options: OperationOptions, now: SystemTime) -> SyncOperation {
        let mut st = Vec::with_capacity(plan.tasks.len());
        let mut results = Vec::with_capacity(plan.tasks.len());
        for t in &plan.tasks {
            let skip = if t.is_hook() && options.selective.is_some() {
                Some("skipped: hooks do not run in a selective sync")
            } else if options.selective.as_ref().is_some_and(|s| !s.contains(&t.key)) {
                Some("skipped: not selected")
            } else if t.is_hook() && options.dry_run {
                Some("skipped: hooks are not created in a dry run")
            } else if options.apply_out_of_sync_only && t.action == Action::Unchanged {
                Some("skipped: in sync (ApplyOutOfSyncOnly=true)")
            } else {
                None
            };
            st.push(if skip.is_some() { St::Skip } else { St::Pending });
            let message = skip.unwrap_or_default().to_string();
            results.push(TaskResult { key: t.key.clone(), phase: t.phase, code: None, hook_phase: None, message });
        }
        let steps: BTreeSet<(Phase, i64)> = (0..st.len())
            .filter(|&i| st[i] != St::Skip && plan.tasks[i].phase != Phase::SyncFail)
            .map(|i| (plan.tasks[i].phase, plan.tasks[i].wave))
            .collect();
        let (phase, message) = if plan.errors.is_empty() {
            (OperationPhase::Running, String::new())
        } else {
            (OperationPhase::Failed, plan.errors.join("; "))
        };
        SyncOperation {
            exists: plan.tasks.iter().map(|t| t.live_exists).collect(),
            cleanup: vec![Cleanup::None; st.len()],
            refused: vec![false; st.len()],
            tasks: plan.tasks,
            options,
            started_at: now,
            st,
            results,
            phase,
            message,
            multi_step: steps.len() > 1,
            last: steps.last().copied(),
            current: None,
            settle_at: None,
            failure: None,
            ending: None,
            cleanup_errors: Vec::new(),
        }
    }

    /// What to do next. Calling it again before reporting on handed-out work is harmless.
    pub fn next(&mut self, now: SystemTime) -> Step {
        if self.phase.is_completed() {
            return Step::Done;
        }
        let outstanding = (0..self.st.len())
            .filter(|&i| matches!(self.st[i], St::Out(_)) || self.cleanup[i] == Cleanup::Asked)
            .count();
        if outstanding > 0 {
            return self.wait(
                Vec::new(),
                Vec::new(),
                format!("waiting for the results of {outstanding} requested tasks"),
            );
        }
        if let Some((phase, message)) = self.ending.take() {
            return self.finish(phase, message);
        }
        if self.phase == OperationPhase::Terminating {
            return self.terminate_step();
        }
        if self.failure.is_some() {
            return self.fail_step();
        }
        // Each turn either returns or finishes a wave, so this is bounded by the task count.
        for _ in 0..=self.tasks.len() {
            let Some(wave) = self.current.or_else(|| self.first_pending()) else {
                return self.complete();
            };
            self.current = Some(wave);
            let idx: Vec<usize> = (0..self.tasks.len())
                .filter(|&i| self.st[i] != St::Skip && (self.tasks[i].phase, self.tasks[i].wave) == wave)
                .collect();
            if let Some(step) = self.dispatch(&idx) {
                return step;
            }
            if self.options.dry_run {
                // A dry run reports every failure at once instead of stopping at the first wave.
                self.current = None;
                continue;
            }
            if idx.iter().any(|&i| self.refused[i]) {
                return self.fail("one or more objects failed to apply");
            }
            let hooks = idx.iter().any(|&i| self.tasks[i].is_hook());
            if Some(wave) == self.last && !hooks {
                return self.end(OperationPhase::Succeeded, "successfully synced (all tasks run)".into());
            }
            if Some(wave) != self.last {
                let settle =
                    *self.settle_at.get_or_insert_with(|| now.checked_add(self.options.wave_delay).unwrap_or(now));
                if now < settle {
                    let secs = self.options.wave_delay.as_secs_f64();
                    return self.wait(
                        Vec::new(),
                        Vec::new(),
                        format!("waiting {secs}s before checking health (sync wave delay)"),
                    );
                }
            }
            let running: Vec<usize> = idx
                .iter()
                .copied()
                .filter(|&i| self.st[i] == St::Running && (self.multi_step || self.tasks[i].is_hook()))
                .collect();
            if !running.is_empty() {
                let message = self.running_message(&running);
                return self.wait(running, Vec::new(), message);
            }
            let deleting: Vec<usize> = idx.iter().copied().filter(|&i| self.st[i] == St::Deleting).collect();
            if !deleting.is_empty() {
                let message = self.and_more("waiting for deletion of", &deleting, "resources");
                return self.wait(Vec::new(), deleting, message);
            }
            if idx.iter().any(|&i| self.st[i] == St::Failed) {
                return self.fail("one or more synchronization tasks completed unsuccessfully");
            }
            self.current = None;
            self.settle_at = None;
        }
        self.end(OperationPhase::Error, "the sync operation made no progress (internal error)".into())
    }

    /// Reports the apply of a task handed out in [`Step::Apply`].
    pub fn applied(&mut self, task: usize, result: Result<(), Failure>) -> Result<(), Error> {
        self.expect(task, Req::Apply, "apply")?;
        match result {
            Ok(()) => {
                self.exists[task] = true;
                let verb = if self.tasks[task].action == Action::Create { "created" } else { "configured" };
                self.applied_ok(task, ResultCode::Synced, verb);
            }
            Err(e) => self.request_failed(task, e.0),
        }
        Ok(())
    }

    /// Reports an apply of a task handed out in [`Step::Apply`] that the driver carried out by
    /// deleting the live object and creating it again (`Replace=true,Force=true`, or Flux's
    /// `force` on an immutable field); `why` says so in the task's result, as the step said it.
    pub fn recreated(&mut self, task: usize, why: &str) -> Result<(), Error> {
        self.expect(task, Req::Apply, "apply")?;
        self.exists[task] = true;
        self.applied_ok(task, ResultCode::Synced, &format!("recreated ({why})"));
        Ok(())
    }

    /// Reports the deletion of a task handed out in [`Step::Prune`]. `Ok` means the delete was
    /// accepted; the object may linger (finalizers, foreground deletion) until observed missing.
    pub fn pruned(&mut self, task: usize, result: Result<(), Failure>) -> Result<(), Error> {
        self.expect(task, Req::Prune, "prune")?;
        match result {
            Ok(()) => {
                self.applied_ok(task, ResultCode::Pruned, "pruned");
                // Pruned results are Succeeded at once (Argo CD); only the wave waits for the object.
                self.results[task].hook_phase = Some(HookPhase::Succeeded);
            }
            Err(e) => self.request_failed(task, e.0),
        }
        Ok(())
    }

    /// Reports the creation of a hook handed out in [`Step::CreateHooks`].
    pub fn hook_created(&mut self, task: usize, result: Result<(), Failure>) -> Result<(), Error> {
        self.expect(task, Req::Create, "hook creation")?;
        match result {
            Ok(()) => {
                self.exists[task] = true;
                self.applied_ok(task, ResultCode::Synced, "created");
            }
            Err(e) => self.request_failed(task, e.0),
        }
        Ok(())
    }

    /// Reports the deletion of a hook handed out in [`Step::DeleteHooks`].
    pub fn hook_deleted(&mut self, task: usize, result: Result<(), Failure>) -> Result<(), Error> {
        if self.st.get(task) == Some(&St::Out(Req::DeleteOld)) {
            match result {
                Ok(()) => self.st[task] = St::Replacing,
                Err(e) => {
                    self.request_failed(task, format!("failed to delete the previous instance of the hook: {e}"));
                }
            }
            return Ok(());
        }
        if self.cleanup.get(task) != Some(&Cleanup::Asked) {
            return Err(self.unexpected(task, "hook deletion"));
        }
        self.cleanup[task] = Cleanup::Done;
        match result {
            Ok(()) => self.exists[task] = false,
            Err(e) => self.cleanup_errors.push(format!("failed to delete hook {}: {e}", self.tasks[task].key)),
        }
        Ok(())
    }

    /// Reports what the driver saw of a task's live object, with the health message if any.
    /// Only tasks the operation is waiting on change; other observations are ignored. The driver
    /// removes Argo CD's hook finalizer itself once it sees a hook complete.
    pub fn observe(&mut self, task: usize, observed: Observed, message: &str) -> Result<(), Error> {
        if task >= self.tasks.len() {
            return Err(Error::UnknownTask(task));
        }
        if self.phase.is_completed() || self.phase == OperationPhase::Terminating {
            return Ok(());
        }
        let said = |default: String| if message.is_empty() { default } else { message.to_string() };
        match (self.st[task], observed) {
            (St::Running, Observed::Missing) => {
                self.exists[task] = false;
                let m = format!("Resource {} is missing, it might have been deleted", self.tasks[task].key);
                self.settle(task, Some(ResultCode::SyncFailed), false, m);
            }
            (St::Running, Observed::Healthy | Observed::NoCheck) => {
                let m = said(self.results[task].message.clone());
                self.settle(task, None, true, m);
            }
            (St::Running, Observed::Degraded) => {
                self.settle(task, None, false, said(format!("health is {observed:?}")))
            }
            // A hook whose health cannot be told has failed; a resource may still get there.
            (St::Running, Observed::Unknown) if self.tasks[task].is_hook() => {
                self.settle(task, None, false, said("health is Unknown".into()));
            }
            (St::Running, _) if !message.is_empty() => self.results[task].message = message.to_string(),
            (St::Deleting, Observed::Missing) => {
                self.exists[task] = false;
                self.st[task] = St::Succeeded;
            }
            (St::Replacing, Observed::Missing) => {
                self.exists[task] = false;
                self.st[task] = St::Pending;
            }
            _ => {}
        }
        Ok(())
    }

    /// A user approved the `Prune=confirm` prunes (Argo CD's deletion-approved annotation,
    /// newer than [`SyncOperation::started_at`]): the prunes waiting for it become prunes and
    /// the operation goes on.
    pub fn confirm_prunes(&mut self) {
        self.options.prune_confirmed = true;
        for (i, t) in self.tasks.iter_mut().enumerate() {
            if t.awaits_confirmation && self.st[i] == St::Pending {
                t.awaits_confirmation = false;
                t.action = if self.options.prune { Action::Prune } else { Action::PruneSkipped };
                t.reason = "confirmed; no longer in the desired state".into();
            }
        }
    }

    /// Argo CD's Terminate(): stop starting work, delete running hooks (and failed ones whose
    /// policy is `HookFailed`), then end Failed "Operation terminated".
    pub fn terminate(&mut self) {
        if !self.phase.is_completed() && self.ending.is_none() {
            self.phase = OperationPhase::Terminating;
            self.message = "operation is terminating".into();
        }
    }

    /// The operation's phase.
    pub fn phase(&self) -> OperationPhase {
        self.phase
    }

    /// The operation's message, in Argo CD's words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// One result per task of the plan, in plan order.
    pub fn results(&self) -> &[TaskResult] {
        &self.results
    }

    /// The plan's tasks, which step indices refer to.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// The options the operation runs with.
    pub fn options(&self) -> &OperationOptions {
        &self.options
    }

    /// When the operation started (a `Prune=confirm` approval must be newer than this).
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    fn first_pending(&self) -> Option<(Phase, i64)> {
        (0..self.tasks.len())
            .filter(|&i| self.st[i] == St::Pending && self.tasks[i].phase != Phase::SyncFail)
            .map(|i| (self.tasks[i].phase, self.tasks[i].wave))
            .min()
    }

    /// Hands out the next piece of work among `idx`, or `None` once all of it is out or done.
    fn dispatch(&mut self, idx: &[usize]) -> Option<Step> {
        let pending = |s: &Self, action: fn(&Task) -> bool| -> Vec<usize> {
            idx.iter().copied().filter(|&i| s.st[i] == St::Pending && action(&s.tasks[i])).collect()
        };
        let unconfirmed = pending(self, awaits_confirmation);
        if !unconfirmed.is_empty() && !self.options.dry_run && !self.options.prune_confirmed {
            let message = self.and_more("waiting for pruning confirmation of", &unconfirmed, "resources");
            return Some(self.wait(Vec::new(), Vec::new(), message));
        }
        for i in pending(self, |t| t.is_prune()) {
            if self.tasks[i].action == Action::PruneSkipped {
                // The plan's reason starts with Argo CD's "ignored (no prune)" / "(requires pruning)".
                let reason = self.tasks[i].reason.clone();
                self.settle(i, Some(ResultCode::PruneSkipped), true, reason);
            } else if !self.options.prune {
                self.settle(i, Some(ResultCode::PruneSkipped), true, "ignored (requires pruning)".into());
            }
        }
        let prunes = pending(self, |t| t.action == Action::Prune);
        if !prunes.is_empty() {
            return Some(Step::Prune(self.request(prunes, Req::Prune)));
        }
        let previous: Vec<usize> = pending(self, Task::is_hook)
            .into_iter()
            .filter(|&i| self.exists[i] && self.tasks[i].delete_policies.contains(&DeletePolicy::BeforeHookCreation))
            .collect();
        if !previous.is_empty() {
            return Some(Step::DeleteHooks(self.request(previous, Req::DeleteOld)));
        }
        let replacing: Vec<usize> = idx.iter().copied().filter(|&i| self.st[i] == St::Replacing).collect();
        if !replacing.is_empty() {
            let message = self.and_more("waiting for deletion of hook", &replacing, "hooks");
            return Some(self.wait(Vec::new(), replacing, message));
        }
        for i in pending(self, |t| t.action == Action::Unchanged) {
            self.applied_ok(i, ResultCode::Synced, "unchanged (in sync, not applied)");
        }
        let applies = pending(self, |t| matches!(t.action, Action::Create | Action::Update));
        if let Some(&first) = applies.first() {
            let kind = self.tasks[first].key.kind.clone();
            let group = applies.into_iter().take_while(|&i| self.tasks[i].key.kind == kind).collect();
            return Some(Step::Apply(self.request(group, Req::Apply)));
        }
        let hooks = pending(self, Task::is_hook);
        if hooks.is_empty() {
            return None;
        }
        // Argo CD would still create them; starting a Job against a wave that already failed
        // helps nobody, and the SyncFail hooks are the designated reaction.
        if self.failure.is_none() && idx.iter().any(|&i| self.refused[i]) {
            for i in hooks {
                self.st[i] = St::Skip;
                self.results[i].message = "not created: another task of its wave failed".into();
            }
            return None;
        }
        Some(Step::CreateHooks(self.request(hooks, Req::Create)))
    }

    fn fail(&mut self, base: &str) -> Step {
        let failed: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.st[i] == St::Failed && self.tasks[i].phase != Phase::SyncFail)
            .collect();
        self.failure = Some(self.with_reasons(base, &failed));
        self.current = None;
        self.fail_step()
    }

    /// Runs the SyncFail hooks, waits for them, then ends Failed.
    fn fail_step(&mut self) -> Step {
        let sync_fail: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.st[i] != St::Skip && self.tasks[i].phase == Phase::SyncFail)
            .collect();
        if let Some(step) = self.dispatch(&sync_fail) {
            return step;
        }
        // Resources still progressing are not awaited on failure: they cannot change the outcome.
        let running: Vec<usize> =
            (0..self.tasks.len()).filter(|&i| self.st[i] == St::Running && self.tasks[i].is_hook()).collect();
        if !running.is_empty() {
            let message = self.running_message(&running);
            return self.wait(running, Vec::new(), message);
        }
        let mut message = self.failure.clone().unwrap_or_default();
        let failed: Vec<usize> = sync_fail.into_iter().filter(|&i| self.st[i] == St::Failed).collect();
        if !failed.is_empty() {
            message = format!("{message}\n{}", self.with_reasons("one or more SyncFail hooks failed", &failed));
        }
        self.end(OperationPhase::Failed, message)
    }

    fn complete(&mut self) -> Step {
        if !self.options.dry_run {
            return self.end(OperationPhase::Succeeded, "successfully synced (no more tasks)".into());
        }
        if self.refused.contains(&true) {
            return self.fail("one or more objects failed to apply (dry run)");
        }
        self.end(OperationPhase::Succeeded, "successfully synced (dry run)".into())
    }

    /// Deletes the hooks whose policy matches their own outcome, then finishes. Argo CD's docs
    /// define the policies per hook ("deleted after the hook succeeded/failed"), so a hook that
    /// succeeded is removed under `HookSucceeded` even when a later wave fails; deletion waits
    /// until the end so SyncFail hooks can still inspect what failed.
    fn end(&mut self, phase: OperationPhase, message: String) -> Step {
        let delete: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].is_hook() && self.exists[i] && self.cleanup[i] == Cleanup::None)
            .filter(|&i| {
                let has = |p| self.tasks[i].delete_policies.contains(&p);
                (self.st[i] == St::Succeeded && has(DeletePolicy::HookSucceeded))
                    || (self.st[i] == St::Failed && has(DeletePolicy::HookFailed))
            })
            .collect();
        if delete.is_empty() {
            return self.finish(phase, message);
        }
        self.ending = Some((phase, message));
        self.ask_cleanup(delete)
    }

    fn terminate_step(&mut self) -> Step {
        let delete: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].is_hook() && self.exists[i] && self.cleanup[i] == Cleanup::None)
            .filter(|&i| {
                self.st[i] == St::Running
                    || (self.st[i] == St::Failed && self.tasks[i].delete_policies.contains(&DeletePolicy::HookFailed))
            })
            .collect();
        for &i in &delete {
            if self.st[i] == St::Running {
                self.st[i] = St::Failed;
                self.results[i].hook_phase = Some(HookPhase::Terminated);
                self.results[i].message = "terminated".into();
            }
        }
        if delete.is_empty() {
            return self.finish(OperationPhase::Failed, "Operation terminated".into());
        }
        self.ending = Some((OperationPhase::Failed, "Operation terminated".into()));
        self.ask_cleanup(delete)
    }

    fn finish(&mut self, mut phase: OperationPhase, mut message: String) -> Step {
        if !self.cleanup_errors.is_empty() {
            let errors = self.cleanup_errors.join("; ");
            message = if self.phase == OperationPhase::Terminating {
                phase = OperationPhase::Error;
                format!("Operation termination had errors: {errors}")
            } else {
                format!("{message}; {errors}")
            };
        }
        self.phase = phase;
        self.message = message;
        Step::Done
    }

    fn ask_cleanup(&mut self, delete: Vec<usize>) -> Step {
        for &i in &delete {
            self.cleanup[i] = Cleanup::Asked;
        }
        self.message = "deleting hooks".into();
        Step::DeleteHooks(delete)
    }

    fn request(&mut self, idx: Vec<usize>, req: Req) -> Vec<usize> {
        for &i in &idx {
            self.st[i] = St::Out(req);
        }
        self.message = "one or more tasks are running".into();
        idx
    }

    fn expect(&self, task: usize, req: Req, what: &'static str) -> Result<(), Error> {
        match self.st.get(task) {
            None => Err(Error::UnknownTask(task)),
            Some(St::Out(r)) if *r == req => Ok(()),
            Some(_) => Err(self.unexpected(task, what)),
        }
    }

    fn unexpected(&self, task: usize, what: &'static str) -> Error {
        match self.tasks.get(task) {
            Some(t) => Error::Unexpected { task, key: t.key.clone(), what },
            None => Error::UnknownTask(task),
        }
    }

    /// A successful apply/prune/create: complete at once in a dry run, else awaited.
    fn applied_ok(&mut self, i: usize, code: ResultCode, verb: &str) {
        let dry = self.options.dry_run;
        let message = if dry { format!("{verb} (dry run)") } else { verb.to_string() };
        let r = &mut self.results[i];
        (r.code, r.message) = (Some(code), message);
        r.hook_phase = Some(if dry { HookPhase::Succeeded } else { HookPhase::Running });
        self.st[i] = match (dry, code) {
            (true, _) => St::Succeeded,
            (false, ResultCode::Pruned) => St::Deleting,
            (false, _) => St::Running,
        };
    }

    /// A request the cluster refused: Argo CD's "failed to apply", unlike a later health failure.
    fn request_failed(&mut self, i: usize, message: String) {
        self.refused[i] = true;
        self.settle(i, Some(ResultCode::SyncFailed), false, message);
    }

    fn settle(&mut self, i: usize, code: Option<ResultCode>, ok: bool, message: String) {
        self.st[i] = if ok { St::Succeeded } else { St::Failed };
        let r = &mut self.results[i];
        r.code = code.or(r.code);
        r.hook_phase = Some(if ok { HookPhase::Succeeded } else { HookPhase::Failed });
        r.message = message;
    }

    fn wait(&mut self, health: Vec<usize>, deletions: Vec<usize>, message: String) -> Step {
        self.message.clone_from(&message);
        Step::Wait { health, deletions, message }
    }

    /// Argo CD names objects in messages as `group/Kind/name`.
    fn name(&self, i: usize) -> String {
        let k = &self.tasks[i].key;
        format!("{}/{}/{}", k.group, k.kind, k.name)
    }

    fn and_more(&self, what: &str, idx: &[usize], noun: &str) -> String {
        let first = idx.first().map(|&i| self.name(i)).unwrap_or_default();
        match idx.len() {
            0 | 1 => format!("{what} {first}"),
            n => format!("{what} {first} and {} more {noun}", n - 1),
        }
    }

    fn running_message(&self, running: &[usize]) -> String {
        let (hooks, resources): (Vec<usize>, Vec<usize>) = running.iter().partition(|&&i| self.tasks[i].is_hook());
        if hooks.is_empty() {
            return self.and_more("waiting for healthy state of", &resources, "resources");
        }
        let message = self.and_more("waiting for completion of hook", &hooks, "hooks");
        if resources.is_empty() { message } else { format!("{message} and {} more resources", resources.len()) }
    }

    fn with_reasons(&self, base: &str, failed: &[usize]) -> String {
        let reasons: Vec<&str> =
            failed.iter().map(|&i| self.results[i].message.as_str()).filter(|m| !m.is_empty()).collect();
        if reasons.is_empty() { base.to_string() } else { format!("{base}, reason: {}", reasons.join(", ")) }
    }
}

/// A prune the plan held back for `Prune=confirm`. The plan marks it `PruneSkipped` and says so
/// only in its reason; a dedicated field on [`Task`] would be sturdier than this prefix.
fn awaits_confirmation(t: &Task) -> bool {
    t.action == Action::PruneSkipped && t.awaits_confirmation
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::UNIX_EPOCH;

    use super::super::task::ApplyOptions;
    use super::*;

    fn task(kind: &str, name: &str, phase: Phase, wave: i64, action: Action) -> Task {
        Task {
            key: ResourceKey::new(if kind == "Deployment" { "apps" } else { "" }, kind, "ns", name),
            phase,
            wave,
            action,
            reason: String::new(),
            delete_policies: Vec::new(),
            options: ApplyOptions::default(),
            target: None,
            live_exists: matches!(action, Action::Update | Action::Unchanged | Action::Prune | Action::PruneSkipped),
            awaits_confirmation: false,
        }
    }

    fn res(kind: &str, name: &str, wave: i64, action: Action) -> Task {
        task(kind, name, Phase::Sync, wave, action)
    }

    fn hook(name: &str, phase: Phase, policies: &[DeletePolicy]) -> Task {
        Task { delete_policies: policies.to_vec(), ..task("Job", name, phase, 0, Action::HookCreate) }
    }

    fn op_with(tasks: Vec<Task>, options: OperationOptions) -> SyncOperation {
        SyncOperation::new(SyncPlan { tasks, ..SyncPlan::default() }, options, UNIX_EPOCH)
    }

    fn op(tasks: Vec<Task>) -> SyncOperation {
        op_with(tasks, OperationOptions::default())
    }

    /// A cluster that answers every request: applies fail for `apply_errors`, health comes from
    /// `health` (Healthy when unset), deletions are immediate.
    #[derive(Default)]
    struct Sim {
        secs: u64,
        steps: Vec<Step>,
        apply_errors: BTreeMap<usize, String>,
        health: BTreeMap<usize, Observed>,
    }

    impl Sim {
        fn step(&mut self, op: &mut SyncOperation) -> Step {
            self.secs += 5;
            let step = op.next(UNIX_EPOCH + Duration::from_secs(self.secs));
            let err = |i: &usize| self.apply_errors.get(i).map_or(Ok(()), |e| Err(Failure(e.clone())));
            match &step {
                Step::Apply(v) => v.iter().for_each(|i| op.applied(*i, err(i)).unwrap()),
                Step::Prune(v) => v.iter().for_each(|i| op.pruned(*i, Ok(())).unwrap()),
                Step::CreateHooks(v) => v.iter().for_each(|i| op.hook_created(*i, err(i)).unwrap()),
                Step::DeleteHooks(v) => v.iter().for_each(|i| op.hook_deleted(*i, Ok(())).unwrap()),
                Step::Wait { health, deletions, .. } => {
                    for i in health {
                        op.observe(*i, self.health.get(i).copied().unwrap_or(Observed::Healthy), "").unwrap();
                    }
                    deletions.iter().for_each(|i| op.observe(*i, Observed::Missing, "").unwrap());
                }
                Step::Done => {}
            }
            self.steps.push(step.clone());
            step
        }

        fn run(&mut self, op: &mut SyncOperation) -> Vec<Step> {
            for _ in 0..100 {
                if self.step(op) == Step::Done {
                    return self.steps.iter().filter(|s| !matches!(s, Step::Wait { .. })).cloned().collect();
                }
            }
            panic!("no end: {:?}", self.steps);
        }
    }

    fn codes(op: &SyncOperation) -> Vec<Option<ResultCode>> {
        op.results().iter().map(|r| r.code).collect()
    }

    #[test]
    fn single_wave_succeeds_without_waiting() {
        let mut op = op(vec![res("ConfigMap", "a", 0, Action::Create), res("Deployment", "d", 0, Action::Update)]);
        let mut sim = Sim::default();
        sim.health.insert(1, Observed::Progressing);
        assert_eq!(sim.run(&mut op), [Step::Apply(vec![0]), Step::Apply(vec![1]), Step::Done]);
        assert_eq!(sim.steps.len(), 3, "no wait: {:?}", sim.steps);
        assert_eq!((op.phase(), op.message()), (OperationPhase::Succeeded, "successfully synced (all tasks run)"));
        assert_eq!(op.results()[1].hook_phase, Some(HookPhase::Running));
    }

    #[test]
    fn multi_wave_waits_for_progressing_then_proceeds_on_healthy() {
        let mut op = op(vec![res("Deployment", "d", 0, Action::Create), res("Service", "s", 1, Action::Create)]);
        let mut sim = Sim::default();
        sim.health.insert(0, Observed::Progressing);
        assert_eq!(sim.step(&mut op), Step::Apply(vec![0]));
        for _ in 0..3 {
            sim.step(&mut op);
        }
        let wait = Step::Wait {
            health: vec![0],
            deletions: vec![],
            message: "waiting for healthy state of apps/Deployment/d".into(),
        };
        assert_eq!(sim.steps.last(), Some(&wait));
        sim.health.clear();
        assert_eq!(sim.run(&mut op).last(), Some(&Step::Done));
        assert!(sim.steps.contains(&Step::Apply(vec![1])));
        assert_eq!(op.phase(), OperationPhase::Succeeded);
        assert_eq!(op.results()[0].hook_phase, Some(HookPhase::Succeeded));
    }

    #[test]
    fn wave_delay_holds_health_checks() {
        let mut op = op(vec![res("Deployment", "d", 0, Action::Create), res("Service", "s", 1, Action::Create)]);
        let t = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(op.next(t(0)), Step::Apply(vec![0]));
        op.applied(0, Ok(())).unwrap();
        assert!(matches!(op.next(t(1)), Step::Wait { health, .. } if health.is_empty()));
        assert!(matches!(op.next(t(2)), Step::Wait { health, .. } if health.is_empty()));
        assert!(matches!(op.next(t(3)), Step::Wait { health, .. } if health == [0]));
    }

    #[test]
    fn degraded_fails_the_wave_and_runs_sync_fail_hooks() {
        let mut op = op(vec![
            res("Deployment", "d", 0, Action::Update),
            res("Service", "s", 1, Action::Create),
            hook("notify", Phase::SyncFail, &[DeletePolicy::HookSucceeded]),
        ]);
        let mut sim = Sim::default();
        sim.health.insert(0, Observed::Degraded);
        let steps = sim.run(&mut op);
        assert_eq!(steps, [Step::Apply(vec![0]), Step::CreateHooks(vec![2]), Step::DeleteHooks(vec![2]), Step::Done]);
        assert_eq!(op.phase(), OperationPhase::Failed);
        assert_eq!(
            op.message(),
            "one or more synchronization tasks completed unsuccessfully, reason: health is Degraded"
        );
        assert_eq!(codes(&op), [Some(ResultCode::Synced), None, Some(ResultCode::Synced)]);
        assert_eq!(op.results()[0].hook_phase, Some(HookPhase::Failed));
    }

    #[test]
    fn failing_sync_fail_hook_is_reported() {
        let mut op = op(vec![res("Deployment", "d", 0, Action::Update), hook("notify", Phase::SyncFail, &[])]);
        let mut sim = Sim::default();
        sim.apply_errors.insert(0, "admission denied".into());
        sim.health.insert(1, Observed::Degraded);
        sim.run(&mut op);
        assert_eq!(
            op.message(),
            "one or more objects failed to apply, reason: admission denied\n\
             one or more SyncFail hooks failed, reason: health is Degraded"
        );
    }

    #[test]
    fn pre_sync_hook_failing_stops_the_sync() {
        let mut op = op(vec![
            hook("migrate", Phase::PreSync, &[DeletePolicy::HookFailed]),
            res("Deployment", "d", 0, Action::Update),
        ]);
        let mut sim = Sim::default();
        sim.health.insert(0, Observed::Degraded);
        let steps = sim.run(&mut op);
        assert_eq!(steps, [Step::CreateHooks(vec![0]), Step::DeleteHooks(vec![0]), Step::Done]);
        let waited = |m: &str| sim.steps.iter().any(|s| matches!(s, Step::Wait { message, .. } if message == m));
        assert!(waited("waiting for completion of hook /Job/migrate"));
        assert_eq!(op.phase(), OperationPhase::Failed);
        assert!(op.message().starts_with("one or more synchronization tasks completed unsuccessfully"));
        assert_eq!(codes(&op)[1], None);
    }

    #[test]
    fn hook_succeeded_hooks_are_deleted_at_the_end() {
        let mut op = op(vec![
            hook("pre", Phase::PreSync, &[DeletePolicy::HookSucceeded]),
            res("Deployment", "d", 0, Action::Update),
            hook("post", Phase::PostSync, &[DeletePolicy::HookSucceeded]),
            hook("keep", Phase::PostSync, &[DeletePolicy::HookFailed]),
        ]);
        let steps = Sim::default().run(&mut op);
        assert_eq!(
            steps,
            [
                Step::CreateHooks(vec![0]),
                Step::Apply(vec![1]),
                Step::CreateHooks(vec![2, 3]),
                Step::DeleteHooks(vec![0, 2]),
                Step::Done
            ]
        );
        assert_eq!((op.phase(), op.message()), (OperationPhase::Succeeded, "successfully synced (no more tasks)"));
    }

    #[test]
    fn before_hook_creation_deletes_the_previous_hook_first() {
        let mut old = hook("migrate", Phase::PreSync, &[DeletePolicy::BeforeHookCreation]);
        old.live_exists = true;
        let mut op = op(vec![old, res("Deployment", "d", 0, Action::Update)]);
        let now = UNIX_EPOCH;
        assert_eq!(op.next(now), Step::DeleteHooks(vec![0]));
        op.hook_deleted(0, Ok(())).unwrap();
        let Step::Wait { deletions, message, .. } = op.next(now) else { panic!() };
        assert_eq!((deletions, message.as_str()), (vec![0], "waiting for deletion of hook /Job/migrate"));
        op.observe(0, Observed::Healthy, "").unwrap(); // still there, finalizer pending
        assert!(matches!(op.next(now), Step::Wait { .. }));
        op.observe(0, Observed::Missing, "").unwrap();
        assert_eq!(op.next(now), Step::CreateHooks(vec![0]));
    }

    #[test]
    fn prune_false_is_prune_skipped() {
        let mut skipped = res("ConfigMap", "old", 0, Action::PruneSkipped);
        skipped.reason = "ignored (no prune): Prune=false".into();
        let mut op = op(vec![skipped, res("ConfigMap", "new", 0, Action::Create)]);
        assert_eq!(Sim::default().run(&mut op), [Step::Apply(vec![1]), Step::Done]);
        assert_eq!(op.results()[0].code, Some(ResultCode::PruneSkipped));
        assert_eq!(op.results()[0].hook_phase, Some(HookPhase::Succeeded));
        assert!(op.results()[0].message.starts_with("ignored (no prune)"));
    }

    #[test]
    fn pruning_disabled_never_prunes() {
        let options = OperationOptions { prune: false, ..Default::default() };
        let mut op = op_with(vec![res("ConfigMap", "old", 0, Action::Prune)], options);
        assert_eq!(Sim::default().run(&mut op), [Step::Done]);
        assert_eq!(op.results()[0].code, Some(ResultCode::PruneSkipped));
        assert_eq!(op.results()[0].message, "ignored (requires pruning)");
        assert_eq!(op.phase(), OperationPhase::Succeeded);
    }

    #[test]
    fn prune_waits_for_deletion_before_the_next_wave() {
        let mut op = op(vec![res("ConfigMap", "old", 0, Action::Prune), res("ConfigMap", "new", 1, Action::Create)]);
        let t = UNIX_EPOCH + Duration::from_secs(60);
        assert_eq!(op.next(UNIX_EPOCH), Step::Prune(vec![0]));
        op.pruned(0, Ok(())).unwrap();
        assert_eq!(op.results()[0].code, Some(ResultCode::Pruned));
        op.next(UNIX_EPOCH); // the wave delay starts
        let wait =
            Step::Wait { health: vec![], deletions: vec![0], message: "waiting for deletion of /ConfigMap/old".into() };
        assert_eq!(op.next(t), wait);
        op.observe(0, Observed::Healthy, "").unwrap(); // still terminating
        assert_eq!(op.next(t), wait);
        op.observe(0, Observed::Missing, "").unwrap();
        assert_eq!(op.next(t), Step::Apply(vec![1]));
    }

    #[test]
    fn unconfirmed_prune_waits_for_confirmation() {
        let mut held = res("ConfigMap", "old", 0, Action::PruneSkipped);
        held.reason = "waits for confirmation (Prune=confirm)".into();
        held.awaits_confirmation = true;
        let mut op = op(vec![held, res("ConfigMap", "new", 0, Action::Create)]);
        let wait = op.next(UNIX_EPOCH);
        assert!(
            matches!(&wait, Step::Wait { message, .. } if message == "waiting for pruning confirmation of /ConfigMap/old")
        );
        assert_eq!(op.next(UNIX_EPOCH), wait);
        let mut confirmed = op.clone();
        confirmed.confirm_prunes();
        assert!(matches!(confirmed.next(UNIX_EPOCH), Step::Prune(v) if v == [0]));
        op.terminate();
        assert_eq!(op.next(UNIX_EPOCH), Step::Done);
        assert_eq!((op.phase(), op.message()), (OperationPhase::Failed, "Operation terminated"));
    }

    #[test]
    fn apply_error_runs_sync_fail_hooks_then_fails() {
        let mut op = op(vec![
            res("ConfigMap", "c", 0, Action::Update),
            res("Deployment", "d", 0, Action::Update),
            hook("post", Phase::PostSync, &[]),
            hook("alert", Phase::SyncFail, &[]),
        ]);
        let mut sim = Sim::default();
        sim.apply_errors.insert(0, "error validating data".into());
        let steps = sim.run(&mut op);
        assert_eq!(steps, [Step::Apply(vec![0]), Step::Apply(vec![1]), Step::CreateHooks(vec![3]), Step::Done]);
        assert_eq!(op.phase(), OperationPhase::Failed);
        assert_eq!(op.message(), "one or more objects failed to apply, reason: error validating data");
        assert_eq!(op.results()[0].code, Some(ResultCode::SyncFailed));
        assert_eq!(codes(&op)[2], None);
    }

    #[test]
    fn apply_out_of_sync_only_skips_unchanged() {
        let tasks = vec![res("ConfigMap", "same", 0, Action::Unchanged), res("Deployment", "d", 1, Action::Update)];
        let options = OperationOptions { apply_out_of_sync_only: true, ..Default::default() };
        let mut op = op_with(tasks.clone(), options);
        let mut sim = Sim::default();
        assert_eq!(sim.run(&mut op), [Step::Apply(vec![1]), Step::Done]);
        assert_eq!(sim.steps.len(), 2);
        assert_eq!(codes(&op), [None, Some(ResultCode::Synced)]);
        // Without the option the in-sync object is not applied but still gates its wave.
        let mut op = self::op(tasks);
        let mut sim = Sim::default();
        sim.health.insert(0, Observed::Progressing);
        assert!(matches!(sim.step(&mut op), Step::Wait { health, .. } if health.is_empty()));
        assert!(matches!(sim.step(&mut op), Step::Wait { health, .. } if health == [0]));
        assert_eq!(op.results()[0].message, "unchanged (in sync, not applied)");
    }

    #[test]
    fn selective_sync_runs_only_the_selection_and_no_hooks() {
        let d = res("Deployment", "d", 1, Action::Update);
        let options = OperationOptions { selective: Some(BTreeSet::from([d.key.clone()])), ..Default::default() };
        let mut op =
            op_with(vec![hook("pre", Phase::PreSync, &[]), res("ConfigMap", "c", 0, Action::Update), d], options);
        assert_eq!(Sim::default().run(&mut op), [Step::Apply(vec![2]), Step::Done]);
        assert_eq!(codes(&op), [None, None, Some(ResultCode::Synced)]);
        assert_eq!(op.phase(), OperationPhase::Succeeded);
    }

    #[test]
    fn dry_run_applies_every_wave_once_without_hooks_or_waits() {
        let options = OperationOptions { dry_run: true, ..Default::default() };
        let tasks = vec![
            hook("pre", Phase::PreSync, &[]),
            res("ConfigMap", "c", 0, Action::Create),
            res("Deployment", "d", 1, Action::Update),
            res("Secret", "old", 2, Action::Prune),
        ];
        let mut op = op_with(tasks.clone(), options.clone());
        let mut sim = Sim::default();
        let steps = sim.run(&mut op);
        assert_eq!(steps, [Step::Apply(vec![1]), Step::Apply(vec![2]), Step::Prune(vec![3]), Step::Done]);
        assert_eq!(sim.steps.len(), 4);
        assert_eq!((op.phase(), op.message()), (OperationPhase::Succeeded, "successfully synced (dry run)"));
        assert_eq!(op.results()[2].hook_phase, Some(HookPhase::Succeeded));
        assert_eq!(op.results()[3].message, "pruned (dry run)");
        // Every dry-run failure is reported, and the later waves still get their dry run.
        let mut op = op_with(tasks, options);
        let mut sim = Sim::default();
        sim.apply_errors.insert(1, "bad".into());
        sim.apply_errors.insert(2, "worse".into());
        assert_eq!(sim.run(&mut op).len(), 4);
        assert_eq!(op.message(), "one or more objects failed to apply (dry run), reason: bad, worse");
    }

    #[test]
    fn terminate_while_a_hook_runs() {
        let mut op = op(vec![hook("migrate", Phase::PreSync, &[]), res("Deployment", "d", 0, Action::Update)]);
        let mut sim = Sim::default();
        sim.health.insert(0, Observed::Progressing);
        assert_eq!(sim.step(&mut op), Step::CreateHooks(vec![0]));
        sim.step(&mut op);
        assert!(matches!(sim.step(&mut op), Step::Wait { health, .. } if health == [0]));
        op.terminate();
        assert_eq!(op.phase(), OperationPhase::Terminating);
        assert_eq!(op.next(UNIX_EPOCH), Step::DeleteHooks(vec![0]));
        op.hook_deleted(0, Ok(())).unwrap();
        assert_eq!(op.next(UNIX_EPOCH), Step::Done);
        assert_eq!((op.phase(), op.message()), (OperationPhase::Failed, "Operation terminated"));
        assert_eq!(op.results()[0].hook_phase, Some(HookPhase::Terminated));
        assert_eq!(codes(&op)[1], None);
    }

    #[test]
    fn termination_errors_end_in_error() {
        let mut op = op(vec![hook("migrate", Phase::PreSync, &[])]);
        assert_eq!(op.next(UNIX_EPOCH), Step::CreateHooks(vec![0]));
        op.hook_created(0, Ok(())).unwrap();
        op.terminate();
        assert_eq!(op.next(UNIX_EPOCH), Step::DeleteHooks(vec![0]));
        op.hook_deleted(0, Err("forbidden".into())).unwrap();
        assert_eq!(op.next(UNIX_EPOCH), Step::Done);
        assert_eq!(op.phase(), OperationPhase::Error);
        assert!(op.message().starts_with("Operation termination had errors"), "{}", op.message());
    }

    #[test]
    fn next_is_idempotent() {
        let mut op = op(vec![res("ConfigMap", "c", 0, Action::Create), res("Deployment", "d", 1, Action::Create)]);
        let t = UNIX_EPOCH + Duration::from_secs(10);
        assert_eq!(op.next(UNIX_EPOCH), Step::Apply(vec![0]));
        for _ in 0..3 {
            assert!(
                matches!(op.next(UNIX_EPOCH), Step::Wait { health, deletions, .. } if health.is_empty() && deletions.is_empty())
            );
        }
        op.applied(0, Ok(())).unwrap();
        assert_eq!(
            op.applied(0, Ok(())),
            Err(Error::Unexpected { task: 0, key: op.tasks()[0].key.clone(), what: "apply" })
        );
        op.next(UNIX_EPOCH);
        let wait = op.next(t);
        assert!(matches!(&wait, Step::Wait { health, .. } if health == &[0]));
        assert_eq!(op.next(t), wait);
        op.observe(0, Observed::NoCheck, "").unwrap();
        assert_eq!(op.next(t), Step::Apply(vec![1]));
        op.applied(1, Ok(())).unwrap();
        assert_eq!(op.next(t), Step::Done);
        assert_eq!(op.next(t), Step::Done);
    }

    #[test]
    fn a_resource_gone_while_running_fails() {
        let mut op = op(vec![res("Deployment", "d", 0, Action::Create), res("Service", "s", 1, Action::Create)]);
        let mut sim = Sim::default();
        sim.health.insert(0, Observed::Missing);
        sim.run(&mut op);
        assert_eq!(op.results()[0].code, Some(ResultCode::SyncFailed));
        assert_eq!(
            op.message(),
            "one or more synchronization tasks completed unsuccessfully, \
             reason: Resource apps/Deployment/ns/d is missing, it might have been deleted"
        );
    }

    #[test]
    fn plan_errors_fail_at_once() {
        let plan = SyncPlan {
            tasks: vec![res("ConfigMap", "c", 0, Action::Create)],
            errors: vec!["Shared resource found: x".into()],
            ..SyncPlan::default()
        };
        let mut op = SyncOperation::new(plan, OperationOptions::default(), UNIX_EPOCH);
        assert_eq!(op.next(UNIX_EPOCH), Step::Done);
        assert_eq!((op.phase(), op.message()), (OperationPhase::Failed, "Shared resource found: x"));
        assert_eq!(op.observe(7, Observed::Healthy, ""), Err(Error::UnknownTask(7)));
        assert_eq!(op.pruned(7, Ok(())), Err(Error::UnknownTask(7)));
    }
}
