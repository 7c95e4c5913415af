//! Progressive syncs: `spec.strategy.type: RollingSync`, as Argo CD's ApplicationSet
//! controller runs them.
//!
//! The steps sort the generated Applications by their labels (an app belongs to the first step
//! whose `matchExpressions` all hold; one in no step is never synced by the set). Generated apps
//! are written with automated sync switched off, and the set syncs them itself, step by step,
//! by setting an app's `operation` as `argocd app sync` does. Each app carries a progress
//! entry in the set's `status.applicationStatus`:
//!
//! - `Waiting`: its revision or spec changed since it was last seen (or it is new); an app that
//!   is already synced moves on at once (to `Healthy`, or `Progressing` if it is not healthy);
//! - `Pending`: its step may run and its step's `maxUpdate` has room: a sync was asked for;
//! - `Progressing`: a sync started after it became pending (or the app has an error that keeps
//!   it from syncing);
//! - `Healthy`: synced and healthy.
//!
//! A step may run once every app of the steps before it is `Healthy` (and exists). `maxUpdate`
//! (a count or a percentage of the step's apps, rounded down but at least one for a percentage
//! above `0%`; all when unset) bounds how many apps of a step are pending or progressing at once.
//! The set's `RolloutProgressing` condition names the first step not yet healthy.
//!
//! Departures from Argo CD, on purpose: an unknown operator or a `maxUpdate` that does not read
//! is an error of the set (Argo CD logs it, then selects nothing or drops the bound: a typo would
//! sync every production app at once); apps in no step are not counted in the first step's
//! `maxUpdate`; the spec compared with the app's is the one that would be written (automated sync
//! off), so a template with `automated` set does not look changed on every pass.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Object;

/// Why `spec.strategy` does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ApplicationSet {appset}: {field}: {message}")]
pub struct StrategyError {
    /// The ApplicationSet (`namespace/name`).
    pub appset: String,
    /// The field (`spec.strategy.rollingSync.steps[1].maxUpdate`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A `RollingSync` strategy with at least one step (Argo CD runs none without steps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollingSync {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// `rollingSync.defaultPrune`: syncs prune unless the app's `automated.prune` says.
    pub default_prune: bool,
    /// `deletionOrder: Reverse`: apps deleted last step first.
    pub reverse_deletion: bool,
}

/// One step: which apps, and how many of them at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// All must hold for an app to be in the step.
    pub match_expressions: Vec<Expression>,
    /// `maxUpdate`; `None` is every app of the step.
    pub max_update: Option<MaxUpdate>,
}

/// A step's `matchExpressions` entry (`In` or `NotIn` over an app label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    /// The label key.
    pub key: String,
    /// `In` (`true`) or `NotIn`.
    pub is_in: bool,
    /// The values.
    pub values: Vec<String>,
}

/// `maxUpdate`, Kubernetes' IntOrString.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaxUpdate {
    /// At most this many apps.
    Count(i64),
    /// At most this share of the step's apps, in percent.
    Percent(i64),
}

impl Expression {
    /// Whether the expression holds for labels `labels`: a missing label fails `In` and passes
    /// `NotIn`.
    fn holds(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        match labels.and_then(|l| l.get(&self.key)).and_then(Value::as_str) {
            Some(v) => self.values.iter().any(|x| x == v) == self.is_in,
            None => !self.is_in,
        }
    }
}

impl MaxUpdate {
    /// How many of `total` apps may update at once.
    fn limit(&self, total: usize) -> usize {
        match *self {
            MaxUpdate::Count(n) => usize::try_from(n).unwrap_or(0),
            MaxUpdate::Percent(p) => {
                let scaled = usize::try_from(p).unwrap_or(0).saturating_mul(total) / 100;
                if p > 0 { scaled.max(1) } else { scaled }
            }
        }
    }
}

impl RollingSync {
    /// The set's RollingSync strategy, or `None` when it has none (no `strategy`, `AllAtOnce`,
    /// or RollingSync without steps: every app is then written as generated).
    pub fn of(appset: &Object) -> Result<Option<RollingSync>, StrategyError> {
        let err = |field: &str, message: String| StrategyError {
            appset: format!("{}/{}", appset.namespace(), appset.name()),
            field: field.to_string(),
            message,
        };
        let Some(strategy) = appset.value().pointer("/spec/strategy").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let kind = match strategy.get("type") {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(err("spec.strategy.type", "must be a string".into())),
        };
        match kind {
            "" | "AllAtOnce" => return Ok(None),
            "RollingSync" => {}
            other => {
                return Err(err("spec.strategy.type", format!("{other:?} is neither AllAtOnce nor RollingSync")));
            }
        }
        let Some(rolling) = strategy.get("rollingSync").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let steps = match rolling.get("steps") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(steps)) if steps.is_empty() => return Ok(None),
            Some(Value::Array(steps)) => steps,
            Some(_) => return Err(err("spec.strategy.rollingSync.steps", "must be a list".into())),
        };
        let mut out = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let at = format!("spec.strategy.rollingSync.steps[{i}]");
            let mut match_expressions = Vec::new();
            match step.get("matchExpressions") {
                None | Some(Value::Null) => {}
                Some(Value::Array(exprs)) => {
                    for (j, e) in exprs.iter().enumerate() {
                        let at = format!("{at}.matchExpressions[{j}]");
                        let key = e.get("key").and_then(Value::as_str).filter(|k| !k.is_empty());
                        let key = key.ok_or_else(|| err(&format!("{at}.key"), "must be a non-empty string".into()))?;
                        let is_in = match e.get("operator").and_then(Value::as_str) {
                            Some("In") => true,
                            Some("NotIn") => false,
                            other => {
                                return Err(err(
                                    &format!("{at}.operator"),
                                    format!("{other:?}: a RollingSync step selects with In or NotIn only"),
                                ));
                            }
                        };
                        let values = match e.get("values") {
                            None | Some(Value::Null) => Vec::new(),
                            Some(Value::Array(v)) => v
                                .iter()
                                .map(|x| x.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                                .ok_or_else(|| err(&format!("{at}.values"), "must be a list of strings".into()))?,
                            Some(_) => return Err(err(&format!("{at}.values"), "must be a list of strings".into())),
                        };
                        match_expressions.push(Expression { key: key.to_string(), is_in, values });
                    }
                }
                Some(_) => return Err(err(&format!("{at}.matchExpressions"), "must be a list".into())),
            }
            let max_update = match step.get("maxUpdate") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(MaxUpdate::Count(n.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                    err(&format!("{at}.maxUpdate"), format!("{n} is not a whole number of apps (0 or more)"))
                })?)),
                Some(Value::String(s)) => {
                    let percent = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()).filter(|p| *p >= 0);
                    Some(MaxUpdate::Percent(percent.ok_or_else(|| {
                        err(
                            &format!("{at}.maxUpdate"),
                            format!("{s:?} is neither a count nor a percentage like \"10%\""),
                        )
                    })?))
                }
                Some(_) => return Err(err(&format!("{at}.maxUpdate"), "must be a count or a percentage".into())),
            };
            out.push(Step { match_expressions, max_update });
        }
        let default_prune = rolling.get("defaultPrune").and_then(Value::as_bool).unwrap_or(false);
        let reverse_deletion =
            strategy.get("deletionOrder").and_then(Value::as_str).is_some_and(|d| d.eq_ignore_ascii_case("Reverse"));
        Ok(Some(RollingSync { steps: out, default_prune, reverse_deletion }))
    }

    /// The index of the step `app` belongs to: the first whose expressions all hold.
    pub fn step_of(&self, app: &Object) -> Option<usize> {
        let labels = app.value().pointer("/metadata/labels").and_then(Value::as_object);
        self.steps.iter().position(|s| s.match_expressions.iter().all(|e| e.holds(labels)))
    }
}

/// Where an app stands in the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Changed; not yet asked to sync.
    Waiting,
    /// Asked to sync.
    Pending,
    /// Its sync started.
    Progressing,
    /// Synced and healthy.
    Healthy,
}

/// One entry of the set's `status.applicationStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProgress {
    /// The Application's name.
    pub application: String,
    /// When `status` last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Why.
    #[serde(default)]
    pub message: String,
    /// The phase.
    pub status: Phase,
    /// The step, from 1; `-1` for an app in no step.
    #[serde(default)]
    pub step: String,
    /// The revisions the app was at when last seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_revisions: Vec<String>,
}

/// What one pass of the set decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The new `status.applicationStatus`, one entry per existing app.
    pub statuses: Vec<AppProgress>,
    /// Apps whose step may run now.
    pub may_sync: BTreeSet<String>,
    /// The names in each step.
    pub steps: Vec<Vec<String>>,
    /// The `RolloutProgressing` condition: `(status, reason, message)`.
    pub condition: (&'static str, &'static str, String),
}

impl Progress {
    /// The apps to be asked to sync now: pending ones whose step may run.
    pub fn to_sync(&self) -> impl Iterator<Item = &str> {
        self.statuses
            .iter()
            .filter(|s| s.status == Phase::Pending && self.may_sync.contains(&s.application))
            .map(|s| s.application.as_str())
    }
}

fn text<'a>(app: &'a Object, pointer: &str) -> Option<&'a str> {
    app.value().pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Argo CD's `status.GetRevisions()`: `sync.revisions` of a multi-source app, else `sync.revision`.
fn revisions(app: &Object) -> Vec<String> {
    if let Some(list) = app.value().pointer("/status/sync/revisions").and_then(Value::as_array)
        && !list.is_empty()
    {
        return list.iter().filter_map(Value::as_str).map(str::to_string).collect();
    }
    text(app, "/status/sync/revision").map(|r| vec![r.to_string()]).unwrap_or_default()
}

fn time(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(|s| s.parse().ok())
}

/// Whether two specs are equal with empty maps, lists and nulls taken as absent (Go's
/// `cmpopts.EquateEmpty` over the typed spec).
fn same_spec(a: &Value, b: &Value) -> bool {
    fn pruned(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => {
                let m: serde_json::Map<String, Value> =
                    m.iter().filter_map(|(k, v)| pruned(v).map(|v| (k.clone(), v))).collect();
                (!m.is_empty()).then_some(Value::Object(m))
            }
            Value::Array(a) if a.is_empty() => None,
            Value::Array(a) => Some(Value::Array(a.iter().map(|v| pruned(v).unwrap_or(Value::Null)).collect())),
            Value::String(s) if s.is_empty() => None,
            Value::Bool(false) => None,
            other => Some(other.clone()),
        }
    }
    pruned(a) == pruned(b)
}

/// Whether the app has a condition that keeps it from syncing at all.
fn has_blocking_error(app: &Object) -> bool {
    app.value().pointer("/status/conditions").and_then(Value::as_array).is_some_and(|c| {
        c.iter().any(|c| matches!(c.get("type").and_then(Value::as_str), Some("InvalidSpecError" | "UnknownError")))
    })
}

/// One pass of the rollout: `previous` is the set's `status.applicationStatus`, `current` the
/// Applications the set owns (with their `status`), `desired` what would be written for them now
/// (see [`rollout_apps`]: automated sync off, no `operation`), `now` the time of the pass.
pub fn advance(
    rolling: &RollingSync,
    previous: &[AppProgress],
    current: &[Object],
    desired: &[Object],
    now: Timestamp,
) -> Progress {
    let now_text = now.to_string();
    let mut steps: Vec<Vec<String>> = vec![Vec::new(); rolling.steps.len()];
    let mut step_of: BTreeMap<&str, usize> = BTreeMap::new();
    for app in desired {
        if let Some(i) = rolling.step_of(app) {
            steps[i].push(app.name().to_string());
            step_of.insert(app.name(), i);
        }
    }
    let step_label = |name: &str| step_of.get(name).map_or_else(|| "-1".to_string(), |i| (i + 1).to_string());
    let by_name: BTreeMap<&str, &AppProgress> = previous.iter().map(|p| (p.application.as_str(), p)).collect();
    let desired_spec: BTreeMap<&str, &Value> =
        desired.iter().filter_map(|a| a.value().get("spec").map(|s| (a.name(), s))).collect();

    let mut statuses = Vec::with_capacity(current.len());
    for app in current {
        let name = app.name();
        let health = text(app, "/status/health/status").unwrap_or("");
        let synced = text(app, "/status/sync/status") == Some("Synced");
        let revs = revisions(app);
        let mut entry = by_name.get(name).map(|p| (*p).clone()).unwrap_or_else(|| AppProgress {
            application: name.to_string(),
            last_transition_time: Some(now_text.clone()),
            message: "No Application status found, defaulting status to Waiting".into(),
            status: Phase::Waiting,
            step: step_label(name),
            target_revisions: revs.clone(),
        });
        let was = entry.status;
        let since = time(entry.last_transition_time.as_deref());
        entry.step = step_label(name);
        let set = |entry: &mut AppProgress, phase: Phase, message: &str| {
            entry.status = phase;
            entry.message = message.to_string();
            entry.last_transition_time = Some(now_text.clone());
        };
        let revisions_changed = entry.target_revisions != revs;
        let spec_changed =
            desired_spec.get(name).is_some_and(|d| !same_spec(d, app.value().get("spec").unwrap_or(&Value::Null)));
        if revisions_changed || spec_changed {
            entry.target_revisions = revs;
            let message = match (revisions_changed, spec_changed) {
                (true, true) => "Application has pending changes (revision and spec differ), setting status to Waiting",
                (true, false) => "Application has pending changes, setting status to Waiting",
                _ => "Application has pending changes (spec differs), setting status to Waiting",
            };
            set(&mut entry, Phase::Waiting, message);
        }
        if entry.status == Phase::Waiting {
            if synced {
                if health == "Healthy" {
                    set(&mut entry, Phase::Healthy, "Application resource has synced, updating status to Healthy");
                } else {
                    set(
                        &mut entry,
                        Phase::Progressing,
                        "Application resource has synced, updating status to Progressing",
                    );
                }
            }
        } else {
            if was == Phase::Pending {
                let reconciled = time(text(app, "/status/reconciledAt"));
                let seen_since = reconciled.is_none() || matches!((reconciled, since), (Some(r), Some(s)) if r > s);
                if seen_since {
                    let started = time(text(app, "/status/operationState/startedAt"));
                    let phase = text(app, "/status/operationState/phase").unwrap_or("");
                    if matches!((started, since), (Some(st), Some(s)) if st > s) {
                        let message = match phase {
                            "Succeeded" => {
                                "Application resource completed a sync successfully, updating status from Pending to Progressing"
                            }
                            "Failed" | "Error" => {
                                "Application resource completed a sync, updating status from Pending to Progressing"
                            }
                            _ => "Application resource became Progressing, updating status from Pending to Progressing",
                        };
                        set(&mut entry, Phase::Progressing, message);
                    } else if has_blocking_error(app) {
                        set(
                            &mut entry,
                            Phase::Progressing,
                            "Application resource has error and cannot sync, updating status to Progressing",
                        );
                    }
                }
            }
            if was == Phase::Progressing && health == "Healthy" && synced {
                set(
                    &mut entry,
                    Phase::Healthy,
                    "Application resource became Healthy, updating status from Progressing to Healthy",
                );
            }
        }
        statuses.push(entry);
    }

    // Which steps may run: each, until one that is not wholly healthy (or not wholly created).
    let existing: BTreeSet<&str> = current.iter().map(Object::name).collect();
    let phase_of: BTreeMap<&str, Phase> = statuses.iter().map(|s| (s.application.as_str(), s.status)).collect();
    let mut may_sync = BTreeSet::new();
    for names in &steps {
        may_sync.extend(names.iter().cloned());
        let done =
            names.iter().all(|n| existing.contains(n.as_str()) && phase_of.get(n.as_str()) == Some(&Phase::Healthy));
        if !done {
            break;
        }
    }

    // Waiting apps of a runnable step become pending, within the step's maxUpdate.
    let mut totals = vec![0usize; steps.len()];
    let mut updating = vec![0usize; steps.len()];
    for s in &statuses {
        if let Some(&i) = step_of.get(s.application.as_str()) {
            totals[i] += 1;
            if matches!(s.status, Phase::Pending | Phase::Progressing) {
                updating[i] += 1;
            }
        }
    }
    for s in &mut statuses {
        let Some(&i) = step_of.get(s.application.as_str()) else { continue };
        let room = rolling.steps[i].max_update.as_ref().is_none_or(|m| updating[i] < m.limit(totals[i]));
        if s.status == Phase::Waiting && may_sync.contains(&s.application) && room {
            s.status = Phase::Pending;
            s.message =
                "Application moved to Pending status, watching for the Application resource to start Progressing"
                    .into();
            s.last_transition_time = Some(now_text.clone());
            updating[i] += 1;
        }
    }

    // The condition: the first step (with apps) whose apps are not all healthy.
    let mut first_unhealthy = None;
    for (i, names) in steps.iter().enumerate() {
        let listed: Vec<Phase> = names.iter().filter_map(|n| phase_of_now(&statuses, n)).collect();
        if !listed.is_empty() && listed.iter().any(|p| *p != Phase::Healthy) {
            first_unhealthy = Some(i + 1);
            break;
        }
    }
    let condition = match first_unhealthy {
        Some(step) => {
            ("True", "ApplicationSetModified", format!("ApplicationSet is performing rollout of step {step}"))
        }
        None => ("False", "ApplicationSetRolloutComplete", "ApplicationSet Rollout has completed".to_string()),
    };
    Progress { statuses, may_sync, steps, condition }
}

fn phase_of_now(statuses: &[AppProgress], name: &str) -> Option<Phase> {
    statuses.iter().find(|s| s.application == name).map(|s| s.status)
}

/// Writes `app` as a RollingSync set writes its Applications: automated sync off (Argo CD 3's
/// `automated.enabled: false`, the rest of `automated` kept). Returns whether the template had it
/// on, and whether it prunes.
pub fn without_autosync(app: &mut Object, rolling: &RollingSync) -> bool {
    let automated = app.value().pointer("/spec/syncPolicy/automated").filter(|a| a.is_object()).cloned();
    let enabled = automated.as_ref().is_some_and(|a| a.get("enabled").and_then(Value::as_bool) != Some(false));
    let prune = match &automated {
        Some(a) if enabled => a.get("prune").and_then(Value::as_bool).unwrap_or(rolling.default_prune),
        _ => rolling.default_prune,
    };
    if enabled && let Some(a) = app.value_mut().pointer_mut("/spec/syncPolicy/automated") {
        a["enabled"] = Value::Bool(false);
    }
    prune
}

/// The Applications to write after [`advance`]: `desired` (already through [`without_autosync`])
/// with an `operation` on each app to sync now, as Argo CD's RollingSync asks for a sync.
/// `prunes` says, per app name, whether its sync prunes.
pub fn rollout_apps(mut desired: Vec<Object>, progress: &Progress, prunes: &BTreeMap<String, bool>) -> Vec<Object> {
    let to_sync: BTreeSet<&str> = progress.to_sync().collect();
    for app in &mut desired {
        if !to_sync.contains(app.name()) {
            continue;
        }
        let prune = prunes.get(app.name()).copied().unwrap_or(false);
        let policy = app.value().pointer("/spec/syncPolicy").cloned().unwrap_or(Value::Null);
        let mut sync = json!({"prune": prune});
        if let Some(options) = policy.get("syncOptions").filter(|o| o.as_array().is_some_and(|a| !a.is_empty())) {
            sync["syncOptions"] = options.clone();
        }
        let retry = policy.get("retry").filter(|r| r.is_object()).cloned().unwrap_or_else(|| json!({"limit": 5}));
        if let Some(obj) = app.value_mut().as_object_mut() {
            obj.insert(
                "operation".into(),
                json!({
                    "initiatedBy": {"username": "applicationset-controller", "automated": true},
                    "info": [{"name": "Reason", "value": "ApplicationSet RollingSync triggered a sync of this Application resource"}],
                    "sync": sync,
                    "retry": retry,
                }),
            );
        }
    }
    desired
}

/// Reads the set's `status.applicationStatus` (entries that do not read are dropped: the pass
/// starts them again as new).
pub fn previous(appset: &Object) -> Vec<AppProgress> {
    appset
        .value()
        .pointer("/status/applicationStatus")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|e| serde_json::from_value(e.clone()).ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
