//! Runs a sync operation (the core's sans-IO state machine) on a [`Cluster`].
//!
//! Each step the operation asks for is carried out and reported back:
//! - applies of one kind group run in parallel, each in the mode its sync options choose
//!   (client-side apply, server-side apply as `gitops`, or replace);
//! - an object whose kind the cluster does not serve yet, and whose CRD this sync applied, waits
//!   (watching the CRD) until the CRD is established and its kind is served;
//! - an object whose task says so is recreated: deleted (background propagation), waited for
//!   until gone, and applied again, when the server refuses its update as immutable (Flux's
//!   `force`, Argo CD's `Force=true`), or whenever it exists (`Replace=true,Force=true`); see
//!   [`Recreate`];
//! - hooks are created like other objects; their completion is their health;
//! - before a prune the live object is read again and deleted only if this app still tracks it:
//!   nothing the app does not own is ever pruned; deletes use the operation's propagation;
//! - waits for health and for deletions watch the objects waited on instead of polling.
//!
//! A target with no controllers (a directory) cannot tell health: objects waited on are reported
//! healthy ("not assessed") and hooks complete once created; the caller's output says so.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use gitops_core::app::{AppSpec, prune_refusal};
use gitops_core::sync::operation::{Failure, Observed, Step, SyncOperation};
use gitops_core::sync::options::{Propagation, Recreate};
use gitops_core::sync::task::Task;
use gitops_core::{Object, Origin, ResourceKey};
use gitops_health::{HealthChecks, HealthStatus};
use serde_json::Value;

use crate::cluster::{Applied, ApplyMode, Cluster, Error, resource_version};
use crate::controller::CancellationToken;

/// What the health of objects on a target without controllers is reported as.
pub use gitops_core::sync::status::NOT_ASSESSED;

/// The longest a wait goes without looking again (wave delays are measured in time, not events;
/// a stop request is noticed within it too).
const POLL: Duration = Duration::from_secs(1);

/// How long an object waits for the CRD of its kind to be established.
const CRD_TIMEOUT: Duration = Duration::from_secs(60);

/// How the outcome of a recreated object starts (`recreated (why)`).
const RECREATED: &str = "recreated (";

/// How long an object being recreated may take to go (its finalizers run first).
const RECREATE_TIMEOUT: Duration = Duration::from_secs(60);

/// One step done, for progress output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What was done: `apply`, `prune`, `hook`, `delete hook`, `wait`.
    pub verb: &'static str,
    /// The object.
    pub key: ResourceKey,
    /// What came of it: `created`, `configured`, `unchanged`, `pruned`, an error...
    pub outcome: String,
    /// Whether it failed.
    pub failed: bool,
}

/// How the executor runs.
pub struct Settings<'a> {
    /// The app (its tracking decides what may be pruned).
    pub app: &'a AppSpec,
    /// The health checks for objects waited on (on a target that assesses health).
    pub health: &'a HealthChecks,
    /// Cancelled (by a Ctrl-C handler) to terminate the operation.
    pub stop: Option<&'a CancellationToken>,
    /// Server-side applies take over fields other managers own (`--force-conflicts`).
    pub force_conflicts: bool,
    /// When to terminate the operation if it has not ended (Flux's `spec.timeout`).
    pub deadline: Option<Instant>,
}

/// Drives `op` to its end on `cluster`, calling `progress` after each step.
///
/// When `stop` is cancelled (Ctrl-C), the operation is terminated as Argo CD terminates one: no
/// new work starts, running hooks are deleted, and it ends Failed; the results say what was not
/// done. Errors are failures to read the cluster that stop the run; a refused object is reported
/// to the operation as a failed task instead; failed reads while waiting are reported and retried.
pub async fn run<C: Cluster>(
    op: &mut SyncOperation,
    cluster: &C,
    settings: &Settings<'_>,
    progress: &mut dyn FnMut(&Event),
) -> Result<(), Error> {
    let dry_run = op.options().dry_run;
    let mut terminated = false;
    let mut waiting_for: Option<String> = None;
    // The stop request is looked at only before asking for the next step: work handed out
    // must be done and reported, or the operation would wait for it forever.
    let mut next = |op: &mut SyncOperation| {
        let late = settings.deadline.is_some_and(|d| Instant::now() >= d);
        if !terminated && (late || settings.stop.is_some_and(CancellationToken::is_cancelled)) {
            op.terminate();
            terminated = true;
        }
        op.next(SystemTime::now())
    };
    let mut step = next(op);
    loop {
        match step {
            Step::Done => return Ok(()),
            Step::Apply(ids) | Step::CreateHooks(ids) => {
                if !dry_run {
                    await_kinds(op, &ids, cluster, settings.stop).await?;
                }
                let jobs: Vec<_> = ids.iter().map(|&i| apply_job(op, i, settings.force_conflicts)).collect();
                let crds = crds_in_sync(op);
                let namespaces = namespaces_created(op);
                let results = futures::future::join_all(
                    jobs.iter().map(|job| apply_one(&crds, &namespaces, job, cluster, dry_run, settings.stop)),
                )
                .await;
                for (job, result) in jobs.iter().zip(results) {
                    let hook = op.tasks()[job.index].is_hook();
                    progress(&event(op, job.index, if hook { "hook" } else { "apply" }, result.clone()));
                    // Reports are for tasks the operation just handed out, so it cannot refuse them.
                    let _ = match result {
                        Ok(outcome) if !hook && !dry_run && outcome.starts_with(RECREATED) => {
                            let why = outcome[RECREATED.len()..].trim_end_matches(')');
                            op.recreated(job.index, why)
                        }
                        result if hook => op.hook_created(job.index, result.map(drop).map_err(Failure)),
                        result => op.applied(job.index, result.map(drop).map_err(Failure)),
                    };
                }
            }
            Step::Prune(ids) => {
                let propagation = op.options().prune_propagation;
                let results = futures::future::join_all(
                    ids.iter().map(|&i| prune(op, i, cluster, settings.app, propagation, dry_run)),
                )
                .await;
                for (&i, result) in ids.iter().zip(results) {
                    progress(&event(op, i, "prune", result.clone()));
                    let _ = op.pruned(i, result.map(drop).map_err(Failure));
                }
            }
            Step::DeleteHooks(ids) => {
                for i in ids {
                    let key = op.tasks()[i].key.clone();
                    let result = match cluster.delete(&key, Propagation::Background, dry_run).await {
                        Ok(_) if dry_run => Ok("deleted (dry run)".to_string()),
                        Ok(_) => Ok("deleted".to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    progress(&event(op, i, "delete hook", result.clone()));
                    let _ = op.hook_deleted(i, result.map(drop).map_err(Failure));
                }
            }
            Step::Wait { health, deletions, message } => {
                // A failed read while waiting (the API server restarting, a timeout) is reported and
                // read again: the operation only ends by its own rules, a stop or its deadline.
                let watched = match observe(op, &health, &deletions, cluster, settings.health).await {
                    Ok(watched) => watched,
                    Err(e) => {
                        let key = ResourceKey::new("", "", "", "");
                        progress(&Event { verb: "wait", key, outcome: format!("cannot read: {e}"), failed: true });
                        waiting_for = None;
                        Vec::new()
                    }
                };
                let again = next(op);
                let Step::Wait { message: still, .. } = &again else {
                    step = again;
                    continue;
                };
                // Said once per distinct wait, for progress output.
                if *still == message && waiting_for.as_deref() != Some(message.as_str()) {
                    let key = health.iter().chain(&deletions).next().map(|&i| op.tasks()[i].key.clone());
                    let key = key.unwrap_or_else(|| ResourceKey::new("", "", "", ""));
                    progress(&Event { verb: "wait", key, outcome: message.clone(), failed: false });
                    waiting_for = Some(message);
                }
                // Nothing was released: wait for one of the objects to change, or for time to pass.
                cluster.changed(&watched, POLL).await?;
            }
        }
        step = next(op);
    }
}

/// One object to write, taken out of the operation so that writes can run side by side.
struct ApplyJob {
    index: usize,
    /// The task's key, as the app keys the object (what deletes and reads take).
    key: ResourceKey,
    object: Option<Object>,
    mode: ApplyMode,
    existed: bool,
    recreate: Recreate,
}

fn apply_job(op: &SyncOperation, i: usize, force_conflicts: bool) -> ApplyJob {
    let task = &op.tasks()[i];
    let object = task.target.clone().map(|target| with_namespace(target, task));
    let mode = if let Some(flux) = task.options.flux {
        // kustomize-controller always forces ownership.
        ApplyMode::ServerSide { force: true, take_over: flux.take_over }
    } else if task.options.replace {
        ApplyMode::Replace
    } else if task.options.server_side_apply {
        ApplyMode::ServerSide { force: task.options.force || force_conflicts, take_over: false }
    } else {
        ApplyMode::ClientSide
    };
    ApplyJob {
        index: i,
        key: task.key.clone(),
        object,
        mode,
        existed: task.live_exists,
        recreate: task.options.recreate,
    }
}

/// A namespaced object that names no namespace goes to the one its key says; an object whose
/// key has no namespace is cluster-scoped (the plan learnt the scope of custom kinds).
fn with_namespace(target: Value, task: &Task) -> Object {
    let mut obj = Object::new(target, Origin::inline("desired"));
    if task.key.namespace.is_empty() {
        obj.set_cluster_scoped(true);
    }
    if !task.key.namespace.is_empty()
        && obj.namespace().is_empty()
        && let Some(meta) = obj.value_mut().get_mut("metadata").and_then(|m| m.as_object_mut())
    {
        meta.insert("namespace".into(), task.key.namespace.clone().into());
    }
    obj
}

async fn apply_one<C: Cluster>(
    crds: &[(&str, &str, usize)],
    namespaces: &HashSet<&str>,
    job: &ApplyJob,
    cluster: &C,
    dry_run: bool,
    stop: Option<&CancellationToken>,
) -> Result<String, String> {
    let Some(obj) = &job.object else { return Err("nothing to apply (no desired object)".into()) };
    if dry_run
        && crd_for(crds, obj.value()).is_some()
        && cluster.resource(obj.api_version(), obj.kind()).await.ok().flatten().is_none()
    {
        return Ok("checked (dry run; its CRD is created by this sync)".into());
    }
    // `kubectl replace --force`: the object is deleted and created, whatever its update would do.
    if job.existed && job.recreate == Recreate::Always {
        let why = "Replace=true, Force=true".to_string();
        if dry_run {
            // Still checked by the server, as the replace it stands for; a refusal as immutable
            // is what the recreation is for, so it does not fail the dry run.
            return match cluster.apply(obj, job.mode, true).await {
                Ok(_) => Ok(format!("would be recreated (dry run; {why})")),
                Err(Error::Refused { code, reason, message, .. })
                    if gitops_core::sync::options::is_immutable_refusal(code, &reason, &message) =>
                {
                    Ok(format!("would be recreated (dry run; {why})"))
                }
                Err(e) => Err(e.to_string()),
            };
        }
        return recreate(obj, job, cluster, stop, why).await;
    }
    match cluster.apply(obj, job.mode, dry_run).await {
        Ok((Applied::ServerSideApplied, _)) if !job.existed => Ok(dry(dry_run, "created")),
        Ok((applied, _)) => Ok(dry(dry_run, applied.as_str())),
        // A real API server checks that the namespace exists, even in a dry run, and a dry run
        // created none: the object can be checked no further (Argo CD's dry run is client-side).
        Err(Error::Refused { code: 404, .. }) if dry_run && namespaces.contains(obj.namespace()) => {
            Ok("checked (dry run; its namespace is created by this sync)".into())
        }
        // Flux's force and `kubectl apply --force`: an update the server refuses as one the
        // object cannot take is done by deleting it and creating it anew. Only an object that
        // existed: a refused creation has nothing to recreate.
        Err(Error::Refused { code, reason, message, .. })
            if job.existed && job.recreate.after_refusal(code, &reason, &message) =>
        {
            let why = format!("immutable field changed: {message}");
            // A dry run never deletes: it says what the sync would do.
            if dry_run {
                Ok(format!("would be recreated (dry run; {why})"))
            } else {
                recreate(obj, job, cluster, stop, why).await
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Deletes the object of `job`, waits until it is gone, and applies `obj` in its place; `why`
/// goes into the outcome (`recreated (why)`).
///
/// The delete propagates in the background, as Flux and kubectl delete for a recreation: the
/// object goes at once and the garbage collector removes its dependants (a Deployment's
/// ReplicaSets and Pods) after, so the new object is not held up by them, and the old Pods
/// keep serving until the new ones start. Foreground would keep the object, and so the name,
/// until every dependant is gone (no garbage collector, no end). The new object does not adopt
/// the old dependants: they still name the old one as their controller.
///
/// Should the new object be refused once the old is gone, the old one is created again, as
/// `kubectl apply --force` does, so that a refused sync does not leave less than it found.
async fn recreate<C: Cluster>(
    obj: &Object,
    job: &ApplyJob,
    cluster: &C,
    stop: Option<&CancellationToken>,
    why: String,
) -> Result<String, String> {
    let key = &job.key;
    let old = cluster.get(key).await.map_err(|e| format!("{why}; cannot read it to recreate it: {e}"))?;
    if let Some(old) = &old {
        cluster
            .delete(key, Propagation::Background, false)
            .await
            .map_err(|e| format!("{why}; cannot delete it to recreate it: {e}"))?;
        await_gone(cluster, key, old, stop).await.map_err(|e| format!("{why}; deleted to be recreated, but {e}"))?;
    }
    match cluster.apply(obj, job.mode, false).await {
        Ok(_) => Ok(format!("{RECREATED}{why})")),
        Err(e) => {
            let Some(old) = old else { return Err(e.to_string()) };
            let restored = match cluster.apply(&restorable(old), ApplyMode::Replace, false).await {
                Ok(_) => "the old object was created again".to_string(),
                Err(r) => format!("the old object could not be created again either: {r}"),
            };
            Err(format!("deleted to be recreated ({why}), but creating it failed: {e}; {restored}"))
        }
    }
}

/// Waits until `old` is gone from `key` (or another object, with another uid, took its place).
async fn await_gone<C: Cluster>(
    cluster: &C,
    key: &ResourceKey,
    old: &Object,
    stop: Option<&CancellationToken>,
) -> Result<(), String> {
    let uid = |o: &Object| o.value().pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string);
    let old_uid = uid(old);
    let deadline = Instant::now() + RECREATE_TIMEOUT;
    loop {
        let Some(live) = cluster.get(key).await.map_err(|e| format!("cannot read it: {e}"))? else { return Ok(()) };
        if old_uid.is_some() && uid(&live) != old_uid {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline || stop.is_some_and(CancellationToken::is_cancelled) {
            let finalizers = live.value().pointer("/metadata/finalizers").map(Value::to_string);
            let held = finalizers.map(|f| format!(" (finalizers: {f})")).unwrap_or_default();
            return Err(format!("it is still there after {}s{held}", RECREATE_TIMEOUT.as_secs()));
        }
        let watched = [(key.clone(), resource_version(&live))];
        cluster.changed(&watched, POLL.min(deadline - now)).await.map_err(|e| format!("cannot watch it: {e}"))?;
    }
}

/// The object as it was, to create again: what the server sets on creation is left out.
fn restorable(mut old: Object) -> Object {
    if let Some(meta) = old.value_mut().get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(field);
        }
    }
    if let Some(o) = old.value_mut().as_object_mut() {
        o.remove("status");
    }
    old
}

/// The namespaces this sync creates (Namespace tasks, `CreateNamespace=true` included, of
/// namespaces not in the cluster).
fn namespaces_created(op: &SyncOperation) -> HashSet<&str> {
    op.tasks()
        .iter()
        .filter(|t| t.key.group.is_empty() && t.key.kind == "Namespace" && !t.live_exists && !t.is_prune())
        .map(|t| t.key.name.as_str())
        .collect()
}

fn dry(dry_run: bool, outcome: &str) -> String {
    if dry_run { format!("{outcome} (dry run)") } else { outcome.to_string() }
}

/// The kinds the CRDs of this sync define: `(group, kind, CRD task)`. Read once per step, so
/// that matching objects against them does not scan every task for every object.
fn crds_in_sync(op: &SyncOperation) -> Vec<(&str, &str, usize)> {
    op.tasks()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.key.group == "apiextensions.k8s.io" && t.key.kind == "CustomResourceDefinition")
        .filter_map(|(i, t)| {
            let crd = t.target.as_ref()?;
            Some((crd.pointer("/spec/group")?.as_str()?, crd.pointer("/spec/names/kind")?.as_str()?, i))
        })
        .collect()
}

/// The CRD task among `crds` that defines the kind of `target`, if any.
fn crd_for(crds: &[(&str, &str, usize)], target: &Value) -> Option<usize> {
    let api_version = target.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = target.get("kind").and_then(Value::as_str).unwrap_or_default();
    crds.iter().find(|(g, k, _)| *g == group && *k == kind).map(|&(_, _, i)| i)
}

/// Waits until the kinds of `ids` whose CRDs this sync applied are served (Argo CD relies on
/// retries here; waiting on the CRD's watch is quicker and says why). Objects still unknown
/// after the timeout fail at apply with the cluster's "no such kind" error.
async fn await_kinds<C: Cluster>(
    op: &SyncOperation,
    ids: &[usize],
    cluster: &C,
    stop: Option<&CancellationToken>,
) -> Result<(), Error> {
    let deadline = Instant::now() + CRD_TIMEOUT;
    let crds = crds_in_sync(op);
    let mut waiting: Vec<(String, String, ResourceKey)> = Vec::new();
    let mut seen = HashSet::new();
    for &i in ids {
        let Some(target) = op.tasks()[i].target.as_ref() else { continue };
        let Some(crd) = crd_for(&crds, target) else { continue };
        let text = |field: &str| target.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
        let (api_version, kind) = (text("apiVersion"), text("kind"));
        if seen.insert((api_version.clone(), kind.clone())) {
            waiting.push((api_version, kind, op.tasks()[crd].key.clone()));
        }
    }
    while !waiting.is_empty() && Instant::now() < deadline && !stop.is_some_and(CancellationToken::is_cancelled) {
        let mut still = Vec::new();
        for (api_version, kind, crd) in waiting {
            if cluster.resource(&api_version, &kind).await?.is_none() {
                still.push((api_version, kind, crd));
            }
        }
        waiting = still;
        if waiting.is_empty() {
            break;
        }
        let mut watched = Vec::new();
        for (_, _, crd) in &waiting {
            let rv = cluster.get(crd).await?.as_ref().and_then(resource_version);
            watched.push((crd.clone(), rv));
        }
        cluster.changed(&watched, POLL).await?;
    }
    Ok(())
}

/// Reports the health of `health` and the presence of `deletions`; returns what to watch.
async fn observe<C: Cluster>(
    op: &mut SyncOperation,
    health: &[usize],
    deletions: &[usize],
    cluster: &C,
    checks: &HealthChecks,
) -> Result<Vec<(ResourceKey, Option<String>)>, Error> {
    if !cluster.assesses_health() {
        for &i in health {
            let _ = op.observe(i, Observed::Healthy, NOT_ASSESSED);
        }
    }
    let health: &[usize] = if cluster.assesses_health() { health } else { &[] };
    let keys: Vec<ResourceKey> = health.iter().chain(deletions).map(|&i| op.tasks()[i].key.clone()).collect();
    let lives = read_all(cluster, &keys).await;
    let mut watched = Vec::new();
    for ((n, &i), live) in health.iter().chain(deletions).enumerate().zip(lives) {
        let live = live?;
        let (observed, message) = match &live {
            None => (Observed::Missing, String::new()),
            Some(_) if n >= health.len() => (Observed::Progressing, String::new()),
            Some(o) => assessed(checks, o),
        };
        let _ = op.observe(i, observed, &message);
        watched.push((op.tasks()[i].key.clone(), live.as_ref().and_then(resource_version)));
    }
    Ok(watched)
}

/// Objects did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum ReadyError {
    /// The deadline passed (or a stop came) with these objects not ready, in Flux's words.
    #[error("timeout waiting for: [{}]", pending.join(", "))]
    Timeout {
        /// Each object not ready and its status.
        pending: Vec<String>,
    },
    /// The cluster could not be read or watched.
    #[error(transparent)]
    Cluster(#[from] Error),
}

/// Waits until every object of `keys` is ready (healthy, or with no health check), as Flux's
/// `wait` and `healthChecks` ask, or until `deadline`; says which were not, in Flux's words.
pub async fn await_ready<C: Cluster>(
    cluster: &C,
    keys: &[ResourceKey],
    checks: &HealthChecks,
    deadline: Instant,
    stop: Option<&CancellationToken>,
) -> Result<(), ReadyError> {
    loop {
        let mut pending = Vec::new();
        let mut watched = Vec::new();
        for (key, live) in keys.iter().zip(read_all(cluster, keys).await) {
            let live = live?;
            let (observed, _) = live.as_ref().map_or((Observed::Missing, String::new()), |o| assessed(checks, o));
            if !matches!(observed, Observed::Healthy | Observed::NoCheck) {
                pending.push(format!("{key} status: '{observed:?}'"));
            }
            watched.push((key.clone(), live.as_ref().and_then(resource_version)));
        }
        if pending.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline || stop.is_some_and(CancellationToken::is_cancelled) {
            return Err(ReadyError::Timeout { pending });
        }
        cluster.changed(&watched, POLL.min(deadline - now)).await?;
    }
}

/// Reads `keys` side by side: a wave (or a Flux `wait`) may wait on many objects.
pub(crate) async fn read_all<C: Cluster>(cluster: &C, keys: &[ResourceKey]) -> Vec<Result<Option<Object>, Error>> {
    futures::future::join_all(keys.iter().map(|k| cluster.get(k))).await
}

/// An object's health as the operation takes it.
fn assessed(checks: &HealthChecks, o: &Object) -> (Observed, String) {
    let a = checks.assess(o.value());
    let Some(h) = a.health else { return (Observed::NoCheck, String::new()) };
    let observed = match h.status {
        HealthStatus::Healthy => Observed::Healthy,
        HealthStatus::Progressing => Observed::Progressing,
        HealthStatus::Suspended => Observed::Suspended,
        HealthStatus::Degraded => Observed::Degraded,
        HealthStatus::Missing => Observed::Missing,
        HealthStatus::Unknown => Observed::Unknown,
    };
    (observed, h.message)
}

fn event(op: &SyncOperation, i: usize, verb: &'static str, result: Result<String, String>) -> Event {
    let key = op.tasks()[i].key.clone();
    match result {
        Ok(outcome) => Event { verb, key, outcome, failed: false },
        Err(outcome) => Event { verb, key, outcome, failed: true },
    }
}

async fn prune<C: Cluster>(
    op: &SyncOperation,
    i: usize,
    cluster: &C,
    app: &AppSpec,
    propagation: Propagation,
    dry_run: bool,
) -> Result<String, String> {
    let key = &op.tasks()[i].key;
    let Some(live) = cluster.get(key).await.map_err(|e| e.to_string())? else { return Ok("already gone".into()) };
    // Checked again at the moment of deletion, whatever the plan said.
    if let Some(reason) = prune_refusal(&live, Some(app)) {
        return Err(format!("not pruned: {key}: {reason} (app {})", app.name));
    }
    match cluster.delete(key, propagation, dry_run).await {
        Ok(_) => Ok(dry(dry_run, "pruned")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {

    use gitops_core::app::{AppKind, AppSpec};
    use gitops_core::manifest;
    use gitops_core::sync::operation::{OperationOptions, OperationPhase, SyncOperation};
    use gitops_core::sync::prepare::{Inputs, prepare};

    use super::*;
    use crate::FileCluster;

    /// An Argo CD app `shop` syncing into namespace `shop`, with no automation.
    fn shop_app() -> AppSpec {
        AppSpec { destination_namespace: Some("shop".into()), ..AppSpec::new(AppKind::ArgoApplication, "shop") }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stop_terminates_the_operation_and_nothing_more_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = FileCluster::new(dir.path()).locked().unwrap();
        let app = shop_app();
        let desired = manifest::parse(
            "d",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {argocd.argoproj.io/sync-wave: '1'}}\n",
        )
        .unwrap();
        let (plan, _) =
            prepare(&Inputs { app: Some(&app), revision: "rev", ..Inputs::default() }, desired, Vec::new()).unwrap();
        let options = OperationOptions { wave_delay: std::time::Duration::ZERO, ..OperationOptions::default() };
        let mut op = SyncOperation::new(plan, options, SystemTime::now());
        let stop = CancellationToken::new();
        stop.cancel();
        let mut events = Vec::new();
        let checks = HealthChecks::default();
        let settings =
            Settings { app: &app, health: &checks, stop: Some(&stop), force_conflicts: false, deadline: None };
        run(&mut op, &cluster, &settings, &mut |e| events.push(e.clone())).await.unwrap();
        assert_eq!(op.phase(), OperationPhase::Failed);
        assert!(events.is_empty(), "{events:?}");
        assert!(op.results().iter().all(|r| r.code.is_none()), "nothing ran");
        assert!(cluster.cluster().list().unwrap().is_empty());
    }

    /// `Replace=true,Force=true` deletes and creates an object that differs (a new uid); a dry
    /// run says so and deletes nothing; an object that does not exist yet is just created.
    #[tokio::test(flavor = "current_thread")]
    async fn replace_and_force_recreate_an_existing_object_and_a_dry_run_only_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = FileCluster::new(dir.path()).locked().unwrap();
        let app = AppSpec { sync_options: vec!["Replace=true".into(), "Force=true".into()], ..shop_app() };
        let namespace = manifest::parse("ns", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n").unwrap();
        cluster.cluster().apply(cluster.lock().expect("locked"), &namespace[0]).unwrap();
        let key = ResourceKey::new("", "ConfigMap", "shop", "a");
        let uid = || {
            let live = cluster.cluster().get(&key).unwrap().expect("there");
            live.value().pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string)
        };
        let recreated_result = std::cell::RefCell::new(None);
        let sync = async |data: &str, dry_run: bool| {
            let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {{k: '{data}'}}\n");
            let live = cluster.cluster().list().unwrap().into_iter().filter(|o| o.kind() == "ConfigMap").collect();
            let inputs = Inputs { app: Some(&app), revision: "rev", ..Inputs::default() };
            let (plan, _) = prepare(&inputs, manifest::parse("d", &text).unwrap(), live).unwrap();
            let options =
                OperationOptions { wave_delay: std::time::Duration::ZERO, dry_run, ..OperationOptions::default() };
            let mut op = SyncOperation::new(plan, options, SystemTime::now());
            let checks = HealthChecks::default();
            let settings = Settings { app: &app, health: &checks, stop: None, force_conflicts: false, deadline: None };
            let mut events = Vec::new();
            run(&mut op, &cluster, &settings, &mut |e| events.push(e.clone())).await.unwrap();
            assert_eq!(op.phase(), OperationPhase::Succeeded, "{events:?}");
            *recreated_result.borrow_mut() = op.results().iter().find(|r| r.key.name == "a").map(|r| r.message.clone());
            events.into_iter().filter(|e| e.key.name == "a").map(|e| e.outcome).collect::<Vec<_>>()
        };
        assert_eq!(sync("1", false).await, ["created"]);
        let first = uid();
        assert_eq!(sync("2", true).await, ["would be recreated (dry run; Replace=true, Force=true)"]);
        assert_eq!(uid(), first, "a dry run deletes nothing");
        assert_eq!(sync("2", false).await, ["recreated (Replace=true, Force=true)"]);
        let result = recreated_result.borrow().clone();
        assert_eq!(result.as_deref(), Some("recreated (Replace=true, Force=true)"), "the task's result says it too");
        assert_ne!(uid(), first, "a new object");
        let live = cluster.cluster().get(&key).unwrap().expect("there");
        assert_eq!(live.value().pointer("/data/k"), Some(&Value::from("2")));
    }

    /// The plan said prune, but by the time of the delete the object has an owner (or a
    /// caller built the plan itself): the executor's own look refuses it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_prune_of_an_object_that_has_an_owner_at_delete_time_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = FileCluster::new(dir.path()).locked().unwrap();
        let app = shop_app();
        let stale = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stale\n  namespace: shop\n  annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:shop/stale'}\n";
        let live = manifest::parse("live", stale).unwrap();
        let keep = manifest::parse("d", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\n").unwrap();
        let (plan, _) =
            prepare(&Inputs { app: Some(&app), prune: true, revision: "rev", ..Inputs::default() }, keep, live)
                .unwrap();
        assert!(plan.tasks.iter().any(|t| t.key.name == "stale" && t.action == gitops_core::sync::Action::Prune));
        let owned =
            format!("{stale}  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1}}]\n");
        let owned = manifest::parse("live", &owned).unwrap().remove(0);
        let namespace = manifest::parse("ns", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n").unwrap();
        cluster.cluster().apply(cluster.lock().expect("locked"), &namespace[0]).unwrap();
        cluster.cluster().apply(cluster.lock().expect("locked"), &owned).unwrap();
        let options = OperationOptions { wave_delay: std::time::Duration::ZERO, ..OperationOptions::default() };
        let mut op = SyncOperation::new(plan, options, SystemTime::now());
        let checks = HealthChecks::default();
        let settings = Settings { app: &app, health: &checks, stop: None, force_conflicts: false, deadline: None };
        let mut events = Vec::new();
        run(&mut op, &cluster, &settings, &mut |e| events.push(e.clone())).await.unwrap();
        let refused = events.iter().find(|e| e.key.name == "stale").expect("the prune ran");
        assert!(refused.failed && refused.outcome.contains("owned by Deployment web"), "{events:?}");
        assert!(cluster.cluster().get(&ResourceKey::new("", "ConfigMap", "shop", "stale")).unwrap().is_some());
    }
}
