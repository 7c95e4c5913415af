//! One pass of the reconcile loop, and the app status it leaves for `gitops status`.
//!
//! A pass renders the desired state (through a [`DesiredState`] the caller provides, so this
//! crate never depends on the renderers), lists what the target holds, compares and plans, and
//! syncs when the policy says so, as Argo CD's automated sync decides: an out-of-sync app is
//! synced when its revision is new, and, for drift at a revision already synced, only with
//! `selfHeal` (Flux always heals). A suspended app is compared but never synced, and a Flux app
//! waits for its `dependsOn`: the decision itself is the core's
//! ([`gitops_core::sync::policy`]). The status is written, atomically, after every pass to the
//! path the caller gives (see [`crate::status::StatusStore`]; a FileCluster keeps it next to its
//! objects, [`status_path`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::SystemTime;

use gitops_core::app::{self, AppSpec};
use gitops_core::scope::{self, ScopeSource};
use gitops_core::settings::Settings;
use gitops_core::sync::operation::{OperationOptions, OperationPhase, ResultCode, SyncOperation, TaskResult};
use gitops_core::sync::options::SyncOptions;
use gitops_core::sync::policy::{self, Decision, Situation};
use gitops_core::sync::prepare::{self, Inputs, prepare};
use gitops_core::sync::select::ResourceSelector;
use gitops_core::sync::status::{AppHealth, HealthStatus, ResourceStatus, SyncStatus};
use gitops_core::sync::{Action, RetryStrategy, SyncPlan};
use gitops_core::{Object, ResourceKey};
use gitops_health::{HealthChecks, Member};

use crate::cluster::Cluster;
use crate::controller::CancellationToken;
use crate::executor::{self, Event};
use crate::file_cluster::{Error as FileError, FileCluster};

pub use gitops_core::sync::policy::{Policy, out_of_sync};
pub use gitops_core::sync::status::{LastOperation, Status};

/// What a render failed with, from whatever renders for the caller.
pub type RenderError = Box<dyn std::error::Error + Send + Sync>;

/// Where desired state comes from: the CLI backs it with gitops-render.
pub trait DesiredState {
    /// Renders the app's objects now.
    fn render(&mut self) -> Result<Rendered, RenderError>;

    /// The Secret of the target whose keys decrypt the app's encrypted manifests (Flux's
    /// `spec.decryption.secretRef`), read before each render; `None` when there is none.
    fn decryption_secret(&self) -> Option<ResourceKey> {
        None
    }

    /// Renders with the decryption Secret as the target holds it (`None`: it does not exist).
    fn render_with_secret(&mut self, secret: Option<&Object>) -> Result<Rendered, RenderError> {
        let _ = secret;
        self.render()
    }

    /// For a Flux HelmRelease: the chart it releases and the values it releases it with;
    /// `None` for any other app.
    fn helm_chart(&mut self) -> Option<Result<crate::helm_release::HelmChart, RenderError>> {
        None
    }
}

/// A render: the revision it came from and its objects.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The commit (or `local`).
    pub revision: String,
    /// The objects.
    pub objects: Vec<Object>,
}

/// A pass that could not be carried out (a sync that ran and failed is not an error: its
/// status says so).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The desired state could not be rendered.
    #[error("{0}")]
    Render(#[source] RenderError),
    /// The target could not be read or written.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::Error),
    /// The scope of a custom kind could not be told.
    #[error(transparent)]
    Scope(#[from] gitops_core::scope::Error),
    /// No plan could be made.
    #[error(transparent)]
    Prepare(#[from] prepare::Error),
    /// The app's sync options are malformed.
    #[error("app: {0}")]
    Options(#[from] gitops_core::sync::options::Error),
    /// The previous status could not be read.
    #[error(transparent)]
    Status(#[from] FileError),
    /// The status could not be written as JSON.
    #[error("the status cannot be written: {0}")]
    Json(#[from] serde_json::Error),
}

/// Now, with milliseconds: a RollingSync ApplicationSet orders an app's sync and reconcile
/// after its own request, often made the same second.
fn now_rfc3339_millis() -> String {
    let millis = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    gitops_core::time::rfc3339_millis(i64::try_from(millis).unwrap_or(0))
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    gitops_core::time::rfc3339(i64::try_from(secs).unwrap_or(0))
}

/// A selective sync's plan: only the tasks of the selected resources, no hooks (as Argo CD's
/// selective sync runs none); with the count of out-of-sync tasks it left out. No selectors
/// keep the plan whole.
fn select(mut plan: SyncPlan, resources: &[ResourceSelector]) -> (SyncPlan, usize) {
    if resources.is_empty() {
        return (plan, 0);
    }
    let chosen = |t: &gitops_core::sync::task::Task| {
        t.action != Action::HookCreate && resources.iter().any(|r| r.matches(&t.key))
    };
    let left_out = policy::left_out(&plan, chosen);
    plan.tasks.retain(chosen);
    (plan, left_out)
}

/// Where a FileCluster keeps the status of the app whose status name
/// ([`gitops_core::app::AppSpec::status_name`]) is `app`: `<root>/.status/<app>.json`. The name
/// is checked, so the path stays inside.
pub fn status_path(cluster: &FileCluster, app: &str) -> Result<std::path::PathBuf, FileError> {
    gitops_core::app::check_status_name(app)
        .map_err(|e| FileError::Invalid { key: format!("app {app:?}"), problem: e.to_string() })?;
    let path = cluster.root().join(".status").join(format!("{app}.json"));
    cluster.check_plain(&path)?;
    Ok(path)
}

/// The status the last pass left at `path`, if any.
pub fn read_status(path: &Path) -> Result<Option<Status>, FileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| FileError::Invalid { key: path.display().to_string(), problem: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FileError::Io { path: path.display().to_string(), source }),
    }
}

/// How a pass ended, for an exit status or a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// In sync, or synced successfully, and the status saved.
    Succeeded,
    /// Out of sync after the pass, a sync failed, the plan had errors, or the status could
    /// not be saved.
    Failed,
    /// A stop came (Ctrl-C).
    Stopped,
}

/// What a pass saw and did, for the caller to print.
#[derive(Debug)]
pub struct Pass {
    /// The plan it made.
    pub plan: SyncPlan,
    /// What it decided to do, and why.
    pub decision: Decision,
    /// Whether it synced.
    pub synced: bool,
    /// The status it wrote.
    pub status: Status,
    /// The result of every task of the last sync attempt (empty when it did not sync).
    pub results: Vec<TaskResult>,
    /// Why the status could not be saved (a full disk, say), if it could not: the pass itself
    /// is still reported whole.
    pub status_error: Option<FileError>,
    /// For a HelmRelease: the `status` its HelmRelease object gets, as helm-controller writes
    /// it (none for a dry run), and what it decided ([`crate::helm_release`]).
    pub release: Option<(Option<serde_json::Value>, gitops_core::helm_release::remediation::Next)>,
}

impl Pass {
    /// Whether the pass ran a sync that did not succeed.
    pub fn sync_failed(&self) -> bool {
        self.synced && self.status.last_operation.as_ref().is_some_and(|op| !op.succeeded())
    }

    /// How the pass ended; `stopped`: a stop came during it.
    pub fn verdict(&self, stopped: bool) -> Verdict {
        if stopped {
            Verdict::Stopped
        } else if self.sync_failed()
            || !self.plan.errors.is_empty()
            || self.status.sync != SyncStatus::Synced
            || self.status_error.is_some()
        {
            Verdict::Failed
        } else {
            Verdict::Succeeded
        }
    }

    /// How a dry run ended: it leaves the app as it was (OutOfSync), so it succeeds when the
    /// plan had no errors and the target took every object, and fails, as
    /// `argocd app sync --dry-run` does, when one was refused.
    pub fn dry_run_verdict(&self, stopped: bool) -> Verdict {
        if self.plan.errors.is_empty() && !self.sync_failed() { Verdict::Succeeded } else { self.verdict(stopped) }
    }
}

/// A [`Progress`] that says nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn planned(&mut self, _plan: &SyncPlan, _syncing: bool) {}
    fn step(&mut self, _event: &Event) {}
}

/// What a pass tells its caller as it goes.
pub trait Progress {
    /// The pass starts on `target` (described as [`Cluster::describe`] does);
    /// `assesses_health`: whether the target can tell health.
    fn begin(&mut self, target: &str, assesses_health: bool) {
        let _ = (target, assesses_health);
    }
    /// The plan is made; `syncing` says whether a sync follows.
    fn planned(&mut self, plan: &SyncPlan, syncing: bool);
    /// A sync step was done, or a wait began.
    fn step(&mut self, event: &Event);
}

/// What the caller asks of a pass on top of the policy.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Sync whatever the policy says (`gitops sync`), when out of sync.
    pub sync: bool,
    /// Allow pruning (a manual sync with "Prune" ticked).
    pub prune: bool,
    /// Go through the sync without writing anything (and leave the status alone).
    pub dry_run: bool,
    /// Cancelled (by a Ctrl-C handler) to terminate a sync in progress; retries stop too.
    pub stop: CancellationToken,
    /// Server-side applies take over fields other managers own.
    pub force_conflicts: bool,
    /// Argo CD's `ARGOCD_SYNC_WAVE_DELAY` (default 2 s) on a target that assesses health.
    pub wave_delay: Option<std::time::Duration>,
    /// A selective sync (`--resource`): only these are applied or pruned, and no hook runs.
    pub resources: Vec<ResourceSelector>,
    /// Compare through the API server (Argo CD's `ServerSideDiff=true`): each desired object
    /// that exists live is server-side applied as a dry run, and the server's answer compared
    /// with live (see [`predictions`]).
    pub server_side_diff: bool,
    /// argocd-cm's diff settings (system-level ignoreDifferences, compare options, known types).
    pub settings: Settings,
    /// The app's AppProject rules: a plan they refuse is not run, and a sync their windows
    /// hold back waits (an Argo CD Application; none for a Flux app, or when no project is
    /// known).
    pub project: Option<gitops_core::project::ProjectRules>,
}

/// Where a pass works: the target, where its status is kept, and the health checks it uses.
pub struct Target<'a, C> {
    /// The cluster.
    pub cluster: &'a C,
    /// The app's status file, as a [`crate::status::StatusStore`] gives it. The statuses of
    /// the apps it depends on (Flux's `dependsOn`) are read beside it, `<name>.json`, as every
    /// store keeps them.
    pub status: &'a Path,
    /// Health checks for waits and for the app's health.
    pub health: &'a HealthChecks,
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Runs one pass for `app` on `target`; progress of a sync goes to `progress`.
pub async fn pass<C: Cluster>(
    app: &AppSpec,
    desired: &mut dyn DesiredState,
    target: &Target<'_, C>,
    policy: Policy,
    request: Request,
    progress: &mut dyn Progress,
) -> Result<Pass, Error> {
    let Request {
        sync: sync_now,
        prune,
        dry_run,
        stop,
        force_conflicts,
        wave_delay,
        resources,
        server_side_diff,
        settings,
        project,
    } = request;
    let cluster = target.cluster;
    let rendered = match desired.decryption_secret() {
        Some(key) => {
            let secret = cluster.get(&key).await?;
            desired.render_with_secret(secret.as_ref())
        }
        None => desired.render(),
    }
    .map_err(Error::Render)?;
    let namespace = app.destination_namespace.clone().unwrap_or_else(|| "default".into());
    let marked = mark_desired(app, cluster, rendered.objects, &namespace).await?;
    // A retry plans again from the same desired objects: keep a copy only when one may come.
    let kept = app.retry.is_some().then(|| marked.clone());
    let mut keys: HashSet<ResourceKey> = marked.iter().map(|o| o.key(&namespace)).collect();
    // With `CreateNamespace=true`, whether the destination namespace exists decides whether the
    // sync makes it: it is looked up with the desired objects (it is tracked by no app).
    if SyncOptions::parse(app.sync_options.iter().map(String::as_str)).is_ok_and(|(o, _)| o.create_namespace) {
        keys.insert(ResourceKey::new("", "Namespace", "", &namespace));
    }
    let previous = read_status(target.status)?;
    let mut live = cluster.live_for(app, &keys).await?;
    scope::resolve_live(&mut live);
    // Unless the pass writes, the objects listed now are what the app's health is judged on:
    // kept so that they need not be read again (only where health is assessed at all).
    let listed: Option<HashMap<ResourceKey, Object>> =
        cluster.assesses_health().then(|| live.iter().map(|o| (o.key(&namespace), o.clone())).collect());
    let started = unix_now();
    let (predicted, ssd_warnings) =
        if server_side_diff { predictions(cluster, &marked, &live, &namespace).await } else { Default::default() };
    let inputs = Inputs {
        app: Some(app),
        settings,
        prune: prune || policy.prune,
        revision: &rendered.revision,
        ..Inputs::default()
    };
    let (mut plan, retry) =
        prepare(&Inputs { started_at: started, predicted: Some(&predicted), ..inputs.clone() }, marked, live)?;
    plan.warnings.extend(ssd_warnings);
    if let Some(rules) = &project {
        plan.errors.extend(rules.plan_errors(&plan));
    }
    // What a selective sync leaves out stays out of sync after it.
    let (plan, left_out) = select(plan, &resources);
    let synced_revision = previous.as_ref().and_then(|s| s.synced_revision.clone());
    let mut situation = Situation::of_plan(&plan, app.kind, left_out);
    situation.requested = sync_now;
    situation.revision = rendered.revision.clone();
    situation.synced_revision = synced_revision.clone();
    if let Some(rules) = &project {
        let window = rules.window(sync_now, started);
        situation.window_block = (!window.allowed).then_some(window.reason);
    }
    // A suspended app is only compared, whatever its dependencies.
    if !policy.suspended {
        situation.unready_dependency = unready_dependency(app, target.status).map(str::to_string);
    }
    let decision = policy::decide(policy, &situation);
    let should_sync = decision.syncs();
    let drifted = situation.out_of_sync;
    let mut status = Status {
        app: app.name.clone(),
        sync: situation.sync_status(!drifted),
        health: AppHealth::default(),
        revision: rendered.revision.clone(),
        synced_revision: if drifted { synced_revision } else { Some(rendered.revision.clone()) },
        reconciled_at: now_rfc3339_millis(),
        message: decision.to_string(),
        last_operation: previous.and_then(|s| s.last_operation),
        resources: Vec::new(),
        orphaned_resources: Vec::new(),
    };
    let mut plan = plan;
    if let Some(project) = project.as_ref().and_then(|r| r.project.as_ref())
        && let Some(monitor) = &project.orphaned_resources
    {
        let orphans = project.orphans(&cluster.namespace_objects(&namespace).await?, &keys);
        if monitor.warn && !orphans.is_empty() {
            let n = orphans.len();
            plan.warnings.push(format!(
                "{}: Application has {n} orphaned resource{}: {}",
                gitops_core::project::ORPHANED_RESOURCE_WARNING,
                if n == 1 { "" } else { "s" },
                orphans.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ));
        }
        status.orphaned_resources = orphans.iter().map(ToString::to_string).collect();
    }
    let plan_copy = plan.clone();
    progress.planned(&plan_copy, should_sync);
    let mut results = Vec::new();
    if should_sync {
        let syncing = Syncing {
            app,
            cluster,
            health: target.health,
            stop: &stop,
            inputs,
            namespace: &namespace,
            keys: &keys,
            kept,
            resources: &resources,
            server_side_diff,
            retry,
            dry_run,
            force_conflicts,
            wave_delay,
        };
        let (operation, last_results) = syncing.run(plan, progress).await?;
        if operation.succeeded() && !dry_run {
            status.sync = situation.sync_status(true);
            status.synced_revision = Some(rendered.revision.clone());
        }
        status.last_operation = Some(operation);
        results = last_results;
    }
    let listed = listed.filter(|_| !should_sync || dry_run);
    let (health, healths) = app_health(cluster, &plan_copy, target.health, listed).await?;
    status.health = health;
    let synced_now = !dry_run && status.last_operation.as_ref().is_some_and(|o| o.succeeded()) && should_sync;
    status.resources = resource_statuses(&plan_copy, synced_now, &healths);
    let status_error = if dry_run {
        None
    } else {
        let text = serde_json::to_string_pretty(&status)? + "\n";
        crate::file_cluster::write_atomic(target.status, text.as_bytes()).err()
    };
    Ok(Pass { plan: plan_copy, decision, synced: should_sync, status, results, status_error, release: None })
}

/// The rendered objects as the pass compares them: custom kinds that name no namespace scoped
/// (from desired CRDs, else the target), every object marked as the app's.
async fn mark_desired<C: Cluster>(
    app: &AppSpec,
    cluster: &C,
    mut objects: Vec<Object>,
    namespace: &str,
) -> Result<Vec<Object>, Error> {
    let crds = scope::Scopes::from_crds(objects.iter());
    let mut known = scope::Scopes::new();
    for o in objects.iter().filter(|o| scope::needs_scope(o)) {
        let (group, kind) = (o.group(), o.kind());
        if crds.cluster_scoped(group, kind).is_none()
            && known.cluster_scoped(group, kind).is_none()
            && let Some(cluster_scoped) = cluster.cluster_scoped(o.api_version(), kind).await?
        {
            known.insert(group, kind, cluster_scoped);
        }
    }
    scope::resolve(&mut objects, &known)?;
    for o in &mut objects {
        app::mark_tracked(o, app, namespace, &app.rollout.app_namespace);
    }
    Ok(objects)
}

/// What the sync of a pass works with.
struct Syncing<'a, C> {
    app: &'a AppSpec,
    cluster: &'a C,
    health: &'a HealthChecks,
    stop: &'a CancellationToken,
    /// How a retry plans again.
    inputs: Inputs<'a>,
    namespace: &'a str,
    /// What a retry reads live again.
    keys: &'a HashSet<ResourceKey>,
    /// What a retry plans from.
    kept: Option<Vec<Object>>,
    resources: &'a [ResourceSelector],
    server_side_diff: bool,
    retry: Option<RetryStrategy>,
    dry_run: bool,
    force_conflicts: bool,
    wave_delay: Option<std::time::Duration>,
}

impl<C: Cluster> Syncing<'_, C> {
    /// Runs `plan`, then Flux's readiness checks, and retries as the app's `syncPolicy.retry`
    /// says (Argo CD's backoff, planning again from what the target holds then). Returns the
    /// last attempt: the operation as the status keeps it, and every task's result.
    async fn run(
        &self,
        mut plan: SyncPlan,
        progress: &mut dyn Progress,
    ) -> Result<(LastOperation, Vec<TaskResult>), Error> {
        let started_at = now_rfc3339_millis();
        let app = self.app;
        let (sync_options, _) = SyncOptions::parse(app.sync_options.iter().map(String::as_str))?;
        let mut options = OperationOptions {
            dry_run: self.dry_run,
            ..OperationOptions::from_sync_options(&sync_options, self.inputs.prune)
        };
        if let Some(delay) = self.wave_delay {
            options.wave_delay = delay;
        }
        if !self.cluster.assesses_health() {
            // Nothing there changes after an apply: no status to wait for.
            options.wave_delay = std::time::Duration::ZERO;
        }
        let timeout = app.rollout.timeout;
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let settings = executor::Settings {
            app,
            health: self.health,
            stop: Some(self.stop),
            force_conflicts: self.force_conflicts,
            deadline,
        };
        let mut retries = 0u32;
        loop {
            let mut op = SyncOperation::new(plan, options.clone(), SystemTime::now());
            executor::run(&mut op, self.cluster, &settings, &mut |e| progress.step(e)).await?;
            let mut succeeded = op.phase() == OperationPhase::Succeeded;
            let mut message = op.message().to_string();
            if let Some(t) = timeout.filter(|_| deadline.is_some_and(|d| std::time::Instant::now() >= d) && !succeeded)
            {
                message.push_str(&format!(" (timeout of {} exceeded)", gitops_core::time::go_duration(t)));
            }
            // Flux's `wait` and `healthChecks`: the apply succeeded, now the objects must be ready.
            let ready: Vec<ResourceKey> = if app.rollout.wait {
                op.tasks().iter().filter(|t| !t.is_hook() && !t.is_prune()).map(|t| t.key.clone()).collect()
            } else {
                app.rollout.health_checks.clone()
            };
            if succeeded && !self.dry_run && !ready.is_empty() && self.cluster.assesses_health() {
                let limit = timeout.unwrap_or(std::time::Duration::from_secs(300));
                let until = deadline.unwrap_or_else(|| std::time::Instant::now() + limit);
                if let Err(e) = executor::await_ready(self.cluster, &ready, self.health, until, Some(self.stop)).await {
                    succeeded = false;
                    message = format!("health check failed after {}: {e}", gitops_core::time::go_duration(limit));
                }
            }
            let will_retry = !succeeded
                && !self.dry_run
                && !self.stop.is_cancelled()
                && self.retry.as_ref().is_some_and(|r| r.should_retry(retries));
            if will_retry {
                let at =
                    self.retry.as_ref().map_or(SystemTime::now(), |r| r.next_retry_at(SystemTime::now(), retries + 1));
                message.push_str(&gitops_core::sync::retry::retrying_suffix(retries + 1, at));
            } else {
                message.push_str(&gitops_core::sync::retry::retried_suffix(retries));
            }
            if !will_retry {
                let count = |code| op.results().iter().filter(|r| r.code == Some(code)).count();
                let operation = LastOperation {
                    phase: if succeeded { op.phase() } else { OperationPhase::Failed },
                    message,
                    revision: self.inputs.revision.to_string(),
                    synced: count(ResultCode::Synced),
                    pruned: count(ResultCode::Pruned),
                    failed: count(ResultCode::SyncFailed),
                    not_done: op
                        .results()
                        .iter()
                        .filter(|r| r.code.is_none())
                        .map(|r| format!("{} ({:?})", r.key, r.phase))
                        .collect(),
                    finished_at: now_rfc3339(),
                    started_at,
                };
                return Ok((operation, op.results().to_vec()));
            }
            // Argo CD's retry: wait the backoff, then sync again from what the target holds now.
            let wait = self.retry.as_ref().map_or(std::time::Duration::ZERO, |r| r.delay(retries));
            tokio::time::sleep(wait).await;
            retries += 1;
            let live = self.cluster.live_for(app, self.keys).await?;
            let desired = self.kept.clone().unwrap_or_default();
            let (predicted, _) = if self.server_side_diff {
                predictions(self.cluster, &desired, &live, self.namespace).await
            } else {
                Default::default()
            };
            let again = Inputs { started_at: unix_now(), predicted: Some(&predicted), ..self.inputs.clone() };
            plan = select(prepare(&again, desired, live)?.0, self.resources).0;
        }
    }
}

/// What the API server says applying each desired object that exists live would leave: a
/// server-side apply dry run as the app's field manager, forced (a conflict is no prediction),
/// as Argo CD's server-side diff runs it. Hooks and objects with only `generateName` are not
/// compared, and objects missing from live need no prediction. An object the server refuses
/// is compared as usual, with a warning saying why.
pub async fn predictions<C: Cluster>(
    cluster: &C,
    desired: &[Object],
    live: &[Object],
    namespace: &str,
) -> (HashMap<ResourceKey, Object>, Vec<String>) {
    let existing: HashSet<ResourceKey> = live.iter().map(|o| o.key(namespace)).collect();
    let mut out = HashMap::new();
    let mut warnings = Vec::new();
    for d in desired {
        let key = d.key(namespace);
        if d.name().is_empty() || gitops_core::diff::hook_reason(d).is_some() || !existing.contains(&key) {
            continue;
        }
        let mut d = d.clone();
        if d.namespace().is_empty()
            && !key.namespace.is_empty()
            && let Some(serde_json::Value::Object(meta)) = d.value_mut().get_mut("metadata")
        {
            meta.insert("namespace".into(), key.namespace.clone().into());
        }
        match cluster.apply(&d, crate::cluster::ApplyMode::ServerSide { force: true, take_over: false }, true).await {
            Ok((_, predicted)) => {
                out.insert(key, predicted);
            }
            Err(e) => warnings.push(format!("server-side diff of {key}: {e}; compared client-side")),
        }
    }
    (out, warnings)
}

/// The app's resources as the pass leaves them: what the plan found, then what the sync did
/// (`synced`: it ran and succeeded), with each one's health where it was assessed. Hooks are
/// not resources of the app; a pruned object is gone.
fn resource_statuses(
    plan: &SyncPlan,
    synced: bool,
    healths: &HashMap<ResourceKey, HealthStatus>,
) -> Vec<ResourceStatus> {
    let mut out = Vec::new();
    // The namespace `CreateNamespace=true` makes is the sync's, not a resource of the app (and
    // it is planned only while it is missing), as Argo CD leaves it out of the app's resources.
    let made_namespace =
        |t: &&gitops_core::sync::Task| t.phase == gitops_core::sync::Phase::PreSync && t.key.kind == "Namespace";
    for t in plan.tasks.iter().filter(|t| !t.is_hook() && !made_namespace(t)) {
        let (status, message) = match t.action {
            Action::Prune if synced => continue,
            Action::Prune | Action::PruneSkipped => (SyncStatus::OutOfSync, format!("requires pruning: {}", t.reason)),
            Action::Create | Action::Update if synced => (SyncStatus::Synced, String::new()),
            Action::Create | Action::Update => (SyncStatus::OutOfSync, t.reason.clone()),
            Action::Unchanged | Action::HookCreate => (SyncStatus::Synced, String::new()),
        };
        let k = &t.key;
        out.push(ResourceStatus {
            group: k.group.clone(),
            kind: k.kind.clone(),
            namespace: k.namespace.clone(),
            name: k.name.clone(),
            status,
            health: healths.get(k).copied(),
            message,
        });
    }
    out
}

/// The app's health after the pass, as Argo CD aggregates it over the objects it deploys, and
/// each object's own.
async fn app_health<C: Cluster>(
    cluster: &C,
    plan: &SyncPlan,
    checks: &HealthChecks,
    listed: Option<HashMap<ResourceKey, Object>>,
) -> Result<(AppHealth, HashMap<ResourceKey, HealthStatus>), crate::cluster::Error> {
    if !cluster.assesses_health() {
        return Ok((AppHealth::not_assessed(), HashMap::new()));
    }
    let keys: Vec<ResourceKey> =
        plan.tasks.iter().filter(|t| !t.is_hook() && !t.is_prune()).map(|t| t.key.clone()).collect();
    let lives = match listed {
        Some(mut listed) => keys.iter().map(|k| Ok(listed.remove(k))).collect(),
        None => executor::read_all(cluster, &keys).await,
    };
    let mut members = Vec::new();
    let mut each = HashMap::new();
    for (key, live) in keys.into_iter().zip(lives) {
        let name = key.to_string();
        members.push(match live? {
            Some(o) => {
                let health = checks.assess(o.value()).health;
                // An object no check applies to has no health of its own (Argo CD leaves it out).
                if let Some(h) = &health {
                    each.insert(key, h.status);
                }
                Member::live(name, o.value(), health)
            }
            None => {
                each.insert(key.clone(), HealthStatus::Missing);
                Member::missing(name, key.group, key.kind)
            }
        });
    }
    let health = gitops_health::aggregate(&members);
    Ok((AppHealth::new(health.status, health.message), each))
}

/// The first of the app's dependencies (Flux's `dependsOn`) whose last pass, as its status next
/// to this app's records it, did not leave it synced and healthy (or healthy as far as the
/// target can tell).
fn unready_dependency<'a>(app: &'a AppSpec, status: &Path) -> Option<&'a str> {
    app.rollout.depends_on.iter().map(String::as_str).find(|dependency| {
        let (namespace, name) = dependency.rsplit_once('/').unwrap_or(("", dependency));
        // A Kustomization depends on Kustomizations, whose statuses are kept beside its own.
        let file = gitops_core::app::status_name(app.kind, namespace, name);
        // `app::read` refuses such names; checked again because the name becomes a path.
        let ready = gitops_core::app::check_status_name(&file).is_ok()
            && read_status(&status.with_file_name(format!("{file}.json"))).ok().flatten().is_some_and(|s| s.is_ready());
        !ready
    })
}
