//! A pass of a Flux HelmRelease: what helm-controller decides from the release's history and
//! status ([`gitops_core::helm_release::remediation`]), the objects applied as any app's are,
//! and the Helm release record written into the target's storage namespace as Helm writes it
//! ([`gitops_core::helm_release::history`]), so that `helm list`, `helm history` and
//! `helm upgrade` work on what this engine released, and it upgrades what `helm` installed.
//!
//! An install or upgrade is a sync of the rendered objects (requested, whatever the policy);
//! a release already deployed with the desired chart and values is only compared (drift is
//! corrected with `driftDetection.mode: enabled`); a release out of retries is compared and
//! left. A failed action is remediated as the HelmRelease says: rolled back (the target
//! revision's manifest applied again, what it did not hold pruned) or uninstalled (everything
//! the release applied pruned), each recorded as Helm records `helm rollback` and
//! `helm uninstall`.

use std::time::SystemTime;

use gitops_core::ResourceKey;
use gitops_core::app::AppSpec;
use gitops_core::helm_release::history::{self, Attempt, Failure, Kind, Stage};
use gitops_core::helm_release::remediation::{self, Done, Next};
use gitops_core::helm_release::spec::{DriftMode, HelmReleaseSpec};
use gitops_core::helm_release::status::{self as release_status, Outcome};
use gitops_core::helm_storage::{self, Release};
use gitops_core::sync::Action;
use gitops_core::sync::policy::Policy;
use serde_json::Value;

use gitops_core::sync::options::Propagation;

use crate::cluster::{ApplyMode, Cluster};
use crate::reconcile::{self, DesiredState, Error, Pass, Progress, Request, Target};

/// The chart a HelmRelease releases and the values it is released with.
#[derive(Debug, Clone, PartialEq)]
pub struct HelmChart {
    /// The chart's `Chart.yaml`.
    pub metadata: Value,
    /// The chart's `values.yaml` (its defaults).
    pub values: Value,
    /// The values composed from `valuesFrom` and `values` (`helm get values`).
    pub config: Value,
    /// Their digest, as helm-controller records it.
    pub config_digest: String,
}

/// The HelmRelease object's own state, read from the hub: its `status` and `metadata.generation`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReleaseObject {
    /// `status` (Null before any controller wrote one).
    pub status: Value,
    /// `metadata.generation`.
    pub generation: i64,
}

fn now() -> String {
    let d = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(d.as_secs()).unwrap_or(0);
    // Helm writes nanoseconds; the seconds' text with them put in keeps the RFC 3339 shape.
    let text = gitops_core::time::rfc3339(secs);
    match text.strip_suffix('Z') {
        Some(head) => format!("{head}.{:09}Z", d.subsec_nanos()),
        None => text,
    }
}

/// Where the HelmRelease's own status is kept beside the app's pass status
/// (`<status>.release.json`): the hub's HelmRelease object holds it on a Kubernetes hub, but a
/// HelmRelease synced from a file, or on a directory hub, has nowhere else to keep it, and
/// helm-controller's decisions (retries, whether it made the release) need it.
fn kept_status_path(status: &std::path::Path) -> std::path::PathBuf {
    status.with_extension("release.json")
}

/// The HelmRelease's status: the hub object's, else the one kept beside the pass status.
fn kept_status(object: &ReleaseObject, status: &std::path::Path) -> Result<Value, Error> {
    if object.status.as_object().is_some_and(|s| !s.is_empty()) {
        return Ok(object.status.clone());
    }
    let path = kept_status_path(status);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Error::Status(crate::file_cluster::Error::Invalid {
                key: path.display().to_string(),
                problem: e.to_string(),
            })
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Null),
        Err(source) => Err(Error::Status(crate::file_cluster::Error::Io { path: path.display().to_string(), source })),
    }
}

/// The release's records on the target.
async fn read_history<C: Cluster>(cluster: &C, release: &HelmReleaseSpec) -> Result<Vec<Release>, Error> {
    let labels = [("owner", "helm"), ("name", release.release_name.as_str())];
    let secrets = cluster.list_labeled("v1", "Secret", &release.storage_namespace, &labels).await?;
    helm_storage::history(&secrets, &release.release_name).map_err(|e| Error::Render(Box::new(e)))
}

/// Writes what an action recorded: revisions created or replaced, then old ones deleted.
async fn write<C: Cluster>(cluster: &C, release: &HelmReleaseSpec, writes: &history::Writes) -> Result<(), Error> {
    let created = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for r in &writes.put {
        let secret = r.to_secret(&release.storage_namespace, i64::try_from(created).unwrap_or(0));
        cluster.apply(&secret, ApplyMode::ServerSide { force: true, take_over: false }, false).await?;
    }
    for name in &writes.delete {
        let key = ResourceKey::new("", "Secret", &release.storage_namespace, name);
        cluster.delete(&key, Propagation::Background, false).await?;
    }
    Ok(())
}

/// The manifest Helm keeps in a release: the objects the sync applied (not its hooks), each a
/// YAML document.
fn manifest_of(pass: &Pass) -> String {
    let mut out = String::new();
    for t in &pass.plan.tasks {
        if !matches!(t.action, Action::Create | Action::Update | Action::Unchanged) {
            continue;
        }
        let Some(target) = &t.target else { continue };
        let text = serde_saphyr::to_string(target).unwrap_or_else(|_| target.to_string());
        out.push_str("---\n");
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// How the test hooks of a release went: how many ran, and the first failure; each hook's
/// name, phase (`Succeeded`, `Failed`), and when it started and completed.
struct Tested {
    ran: usize,
    failure: Option<String>,
    hooks: Vec<(String, &'static str, String, String)>,
}

/// Runs the chart's test hooks (`helm.sh/hook: test`) among `objects`, as `helm test` does: in
/// hook-weight order, each created afresh (a previous instance deleted first), waited for
/// until its Pod succeeds or fails (a Job: completes or fails), then deleted as its
/// `helm.sh/hook-delete-policy` says. On a target without controllers nothing can run: no tests.
async fn run_tests<C: Cluster>(
    cluster: &C,
    release: &HelmReleaseSpec,
    objects: Vec<gitops_core::Object>,
    timeout: std::time::Duration,
) -> Result<Tested, Error> {
    use gitops_core::sync::hooks::{HELM_HOOK, HELM_HOOK_DELETE_POLICY, HELM_HOOK_WEIGHT};
    let mut tests: Vec<gitops_core::Object> = objects
        .into_iter()
        .filter(|o| {
            o.annotation(HELM_HOOK).is_some_and(|h| h.split(',').any(|p| matches!(p.trim(), "test" | "test-success")))
        })
        .collect();
    if tests.is_empty() || !cluster.assesses_health() {
        return Ok(Tested { ran: 0, failure: None, hooks: Vec::new() });
    }
    let weight = |o: &gitops_core::Object| {
        o.annotation(HELM_HOOK_WEIGHT).and_then(|w| w.trim().parse::<i64>().ok()).unwrap_or(0)
    };
    tests.sort_by_key(|o| (weight(o), o.kind().to_string(), o.name().to_string()));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut ran = 0;
    let mut hooks = Vec::new();
    for mut test in tests {
        if test.namespace().is_empty()
            && let Some(meta) = test.value_mut().get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.insert("namespace".into(), Value::String(release.target_namespace.clone()));
        }
        let key = test.key("");
        let policies: Vec<String> = test
            .annotation(HELM_HOOK_DELETE_POLICY)
            .unwrap_or("before-hook-creation")
            .split(',')
            .map(|p| p.trim().to_string())
            .collect();
        cluster.delete(&key, Propagation::Background, false).await?;
        wait_gone(cluster, &key, deadline).await?;
        cluster.apply(&test, ApplyMode::ServerSide { force: true, take_over: false }, false).await?;
        ran += 1;
        let started = now();
        let outcome = wait_done(cluster, &key, deadline).await?;
        let phase = if outcome.is_ok() { "Succeeded" } else { "Failed" };
        hooks.push((test.name().to_string(), phase, started, now()));
        let delete = match &outcome {
            Ok(()) => policies.iter().any(|p| p == "hook-succeeded"),
            Err(_) => policies.iter().any(|p| p == "hook-failed"),
        };
        if delete {
            cluster.delete(&key, Propagation::Background, false).await?;
        }
        if let Err(why) = outcome {
            return Ok(Tested { ran, failure: Some(format!("{key}: {why}")), hooks });
        }
    }
    Ok(Tested { ran, failure: None, hooks })
}

/// Waits until the object at `key` is gone (a previous test instance being deleted).
async fn wait_gone<C: Cluster>(cluster: &C, key: &ResourceKey, deadline: tokio::time::Instant) -> Result<(), Error> {
    while let Some(o) = cluster.get(key).await? {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Err(Error::Render(format!("{key}: the previous test instance is still being deleted").into()));
        }
        cluster.changed(&[(key.clone(), crate::cluster::resource_version(&o))], left).await?;
    }
    Ok(())
}

/// Waits until the test at `key` is done: `Ok` when its Pod succeeded (its Job completed; any
/// other kind once it exists), `Err` with why when it failed or the time ran out.
async fn wait_done<C: Cluster>(
    cluster: &C,
    key: &ResourceKey,
    deadline: tokio::time::Instant,
) -> Result<Result<(), String>, Error> {
    loop {
        let live = cluster.get(key).await?;
        let done = match &live {
            None => None,
            Some(o) => match o.kind() {
                "Pod" => match o.value().pointer("/status/phase").and_then(Value::as_str) {
                    Some("Succeeded") => Some(Ok(())),
                    Some("Failed") => Some(Err("the test Pod failed".to_string())),
                    _ => None,
                },
                "Job" => {
                    let conditions = o.value().pointer("/status/conditions").and_then(Value::as_array);
                    let holds =
                        |t: &str| conditions.is_some_and(|c| c.iter().any(|c| c["type"] == t && c["status"] == "True"));
                    if holds("Complete") {
                        Some(Ok(()))
                    } else if holds("Failed") {
                        Some(Err("the test Job failed".to_string()))
                    } else {
                        None
                    }
                }
                _ => Some(Ok(())),
            },
        };
        if let Some(done) = done {
            return Ok(done);
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(Err("timed out waiting for the test to finish".to_string()));
        }
        let version = live.as_ref().and_then(crate::cluster::resource_version);
        cluster.changed(&[(key.clone(), version)], left).await?;
    }
}

/// The `TestSuccess` condition helm-controller writes after the tests of revision `version`,
/// and the hooks' phases in its snapshot (`testHooks`); a failure not ignored also makes the
/// release not Ready and counts as a failure of the action, so that the next pass remediates
/// it as helm-controller does ([`remediation::next`]).
#[allow(clippy::too_many_arguments)]
fn record_tests(
    status: &mut Value,
    release: &HelmReleaseSpec,
    tested: &Tested,
    version: u32,
    wanted: &remediation::Desired,
    ignored: bool,
    done: Done,
    generation: i64,
    now: &str,
) {
    let name = format!("{}/{}.v{version}", release.target_namespace, release.release_name);
    let chart = format!("{}@{}", wanted.chart_name, wanted.chart_version);
    let (state, reason, message) = match &tested.failure {
        None if tested.ran == 0 => (
            "True",
            "TestSucceeded",
            format!("Helm test succeeded for release {name} with chart {chart}: no test hooks were run"),
        ),
        None => (
            "True",
            "TestSucceeded",
            format!(
                "Helm test succeeded for release {name} with chart {chart}: {} test hooks completed successfully",
                tested.ran
            ),
        ),
        Some(why) => ("False", "TestFailed", format!("Helm test failed for release {name} with chart {chart}: {why}")),
    };
    let condition = serde_json::json!({"type": "TestSuccess", "status": state, "reason": reason, "message": message,
        "observedGeneration": generation, "lastTransitionTime": now});
    if let Some(latest) = status.pointer_mut("/history/0")
        && latest.get("version").and_then(Value::as_u64) == Some(u64::from(version))
        && !tested.hooks.is_empty()
    {
        let hooks: serde_json::Map<String, Value> = tested
            .hooks
            .iter()
            .map(|(name, phase, started, completed)| {
                let key = format!("{}/{name}", release.target_namespace);
                (key, serde_json::json!({"phase": phase, "lastStarted": started, "lastCompleted": completed}))
            })
            .collect();
        latest["testHooks"] = Value::Object(hooks);
    }
    if tested.failure.is_some() && !ignored {
        remediation::count(status, done, true, true);
    }
    let Some(st) = status.as_object_mut() else { return };
    let conditions = st.entry("conditions").or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = conditions.as_array_mut() {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some("TestSuccess"));
        list.push(condition);
        if tested.failure.is_some() && !ignored {
            for c in list.iter_mut().filter(|c| c.get("type").and_then(Value::as_str) == Some("Ready")) {
                c["status"] = Value::String("False".into());
                c["reason"] = Value::String("TestFailed".into());
                c["message"] = Value::String(message.clone());
            }
        }
    }
}

/// A revision of the release to apply again: a rollback's target (its manifest), or none
/// for an uninstall.
struct Revision {
    revision: String,
    objects: Vec<gitops_core::Object>,
}

impl Revision {
    fn of(r: &Release) -> Result<Revision, Error> {
        let shown = format!("release {} revision {}", r.name, r.version);
        let objects = gitops_core::manifest::parse(&shown, &r.manifest).map_err(|e| Error::Render(Box::new(e)))?;
        Ok(Revision { revision: format!("{} (revision {})", r.chart(), r.version), objects })
    }
}

impl DesiredState for Revision {
    fn render(&mut self) -> Result<reconcile::Rendered, reconcile::RenderError> {
        Ok(reconcile::Rendered { revision: self.revision.clone(), objects: self.objects.clone() })
    }
}

/// One pass of the HelmRelease `app` (whose release is `release`), rendered by `desired`, on
/// `target`; `object`: the HelmRelease's status and generation as the hub has them. The pass
/// carries the HelmRelease's new status and the decision ([`Pass::release`]).
#[allow(clippy::too_many_arguments)]
pub async fn pass<C: Cluster, D: DesiredState>(
    app: &AppSpec,
    release: &HelmReleaseSpec,
    desired: &mut D,
    target: &Target<'_, C>,
    policy: Policy,
    mut request: Request,
    progress: &mut dyn Progress,
    object: &ReleaseObject,
) -> Result<Pass, Error> {
    let chart = match desired.helm_chart() {
        Some(chart) => chart.map_err(Error::Render)?,
        None => return Err(Error::Render("a HelmRelease whose chart is not known".into())),
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (chart_name, chart_version) = (text(&chart.metadata, "name"), text(&chart.metadata, "version"));
    let wanted = remediation::Desired {
        chart_name: &chart_name,
        chart_version: &chart_version,
        config_digest: &chart.config_digest,
    };
    let cluster = target.cluster;
    let dry_run = request.dry_run;
    // Helm keeps its records in the storage namespace; without it nothing could be recorded,
    // so nothing is applied either.
    let storage = ResourceKey::new("", "Namespace", "", &release.storage_namespace);
    if cluster.get(&storage).await?.is_none() {
        return Err(Error::Render(
            format!(
                "HelmRelease {}/{}: the storage namespace `{}` does not exist on {}: Helm keeps the release's records there",
                release.namespace,
                release.name,
                release.storage_namespace,
                cluster.describe()
            )
            .into(),
        ));
    }
    let mut history = read_history(cluster, release).await?;
    let mut status = kept_status(object, target.status)?;
    let mut next = remediation::next(release, &status, object.generation, &history, &wanted);
    // A release left pending by an action that never finished is marked failed first.
    if let Next::Unlock { .. } = next
        && !dry_run
        && let Some(unlocked) = history::unlock(&history)
    {
        let writes = history::Writes { put: vec![unlocked], delete: Vec::new() };
        write(cluster, release, &writes).await?;
        let outcome = Outcome { done: Done::Unlock, error: None, desired: wanted, written: &writes.put, now: &now() };
        status = release_status::after_action(release, &status, object.generation, &outcome);
        history = read_history(cluster, release).await?;
        next = remediation::next(release, &status, object.generation, &history, &wanted);
    }
    // A suspended HelmRelease runs no Helm action: it is only compared.
    let suspended = app.rollout.suspend && !request.sync;
    let acts = !suspended && matches!(next, Next::Install | Next::Upgrade { .. });
    // A remediation applies what another revision holds (a rollback), or nothing (an uninstall:
    // everything the release applied is pruned), instead of what the chart renders now.
    let mut remedy = match &next {
        _ if suspended => None,
        Next::Rollback { to } => {
            let target = history.iter().find(|r| r.version == *to).ok_or_else(|| {
                Error::Render(
                    format!("HelmRelease {}/{}: no revision {to} to roll back to", release.namespace, release.name)
                        .into(),
                )
            })?;
            Some(Revision::of(target)?)
        }
        Next::Uninstall => Some(Revision { revision: "uninstalled".into(), objects: Vec::new() }),
        _ => None,
    };
    // Only an action syncs; drift of a deployed release is corrected only when the HelmRelease
    // asks for it.
    let policy = Policy {
        automated: acts || remedy.is_some() || (next == Next::InSync && release.drift == DriftMode::Enabled),
        prune: true,
        self_heal: release.drift == DriftMode::Enabled,
        ..policy
    };
    request.sync = request.sync || acts || remedy.is_some();
    let mut pass = match &mut remedy {
        Some(revision) => reconcile::pass(app, revision, target, policy, request, progress).await?,
        None => reconcile::pass(app, desired, target, policy, request, progress).await?,
    };
    if dry_run {
        pass.release = Some((None, next));
        return Ok(pass);
    }
    let time = now();
    let ok = if pass.synced { !pass.sync_failed() } else { pass.status.is_synced() };
    let message =
        pass.status.last_operation.as_ref().map_or_else(|| pass.status.message.clone(), |op| op.message.clone());
    // A pass that was held back (a dependency not ready, a sync window) ran no Helm action:
    // nothing is recorded, as helm-controller records nothing before it acts.
    let held_back = !pass.synced && !pass.status.is_synced();
    let (kind, done) = match &next {
        _ if suspended || held_back => (None, Done::Unlock),
        Next::Install => (Some(Kind::Install { replace: !history.is_empty() }), Done::Install),
        Next::Upgrade { .. } => (Some(Kind::Upgrade), Done::Upgrade),
        Next::Rollback { to } => (Some(Kind::Rollback { to: *to }), Done::Rollback),
        Next::Uninstall => (Some(Kind::Uninstall { keep_history: release.keep_history }), Done::Uninstall),
        _ => (None, Done::Unlock),
    };
    let status = match (kind, &next) {
        (Some(kind), _) => {
            if let (Next::Upgrade { clear_history: true }, Some(s)) = (&next, status.as_object_mut()) {
                s.remove("history");
            }
            let attempt = Attempt {
                kind,
                failure: (!ok).then(|| Failure { stage: Stage::Apply, message: message.clone() }),
                chart_metadata: chart.metadata.clone(),
                chart_values: chart.values.clone(),
                config: chart.config.clone(),
                manifest: manifest_of(&pass),
                notes: String::new(),
                extra: Default::default(),
                now: time.clone(),
            };
            let writes = history::record(
                &history,
                &release.release_name,
                &release.target_namespace,
                &attempt,
                release.max_history,
            )
            .map_err(|e| Error::Render(Box::new(e)))?;
            write(cluster, release, &writes).await?;
            let error = (!ok).then_some(message.as_str());
            let outcome = Outcome { done, error, desired: wanted, written: &writes.put, now: &time };
            let mut status = release_status::after_action(release, &status, object.generation, &outcome);
            // `test.enable`: the chart's test hooks after a successful install or upgrade.
            if ok && release.test && matches!(done, Done::Install | Done::Upgrade) {
                let objects = desired.render().map_err(Error::Render)?.objects;
                let timeout = app.rollout.timeout.unwrap_or(std::time::Duration::from_secs(300));
                let tested = run_tests(cluster, release, objects, timeout).await?;
                let shown = writes.put.last().map_or(0, |r| r.version);
                let ignored = release.test_ignore_failures
                    || match done {
                        Done::Install => release.install.remediation.ignore_test_failures,
                        _ => release.upgrade.remediation.ignore_test_failures,
                    }
                    .unwrap_or(false);
                record_tests(&mut status, release, &tested, shown, &wanted, ignored, done, object.generation, &time);
            }
            status
        }
        (None, Next::Stalled { reason, message }) => {
            release_status::mark_stalled(&mut status, reason, message, object.generation, &time);
            status
        }
        (None, _) => status,
    };
    let text = serde_json::to_string_pretty(&status)? + "\n";
    crate::file_cluster::write_atomic(&kept_status_path(target.status), text.as_bytes())?;
    pass.release = Some((Some(status), next));
    Ok(pass)
}
