//! Argo Rollouts analyses, pure: AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun
//! specs, their arguments, and the metric state machine of the Rollouts analysis controller.
//!
//! - Templates merge as a Rollout's analysis step merges them: metrics in order (a name twice
//!   is an error), arguments by name (a value given on the command line wins, an argument with
//!   neither value nor `valueFrom` must be given), `dryRun` metric names (`*` for all).
//! - `{{args.NAME}}` is replaced in the whole metric (query, address, headers, conditions), as
//!   Rollouts resolves a metric through its JSON text; an unresolved one is an error.
//! - A measurement's phase comes from `successCondition` and `failureCondition` evaluated over
//!   `result` ([`evaluate`]): both empty is Successful; only a success condition, a false one
//!   is Failed; only a failure condition, a false one is Successful; both false is
//!   Inconclusive; a condition that errors or is not a boolean is Error.
//! - [`Run`] decides which metric is measured when (`initialDelay`, `interval`, `count`;
//!   errors are retried after 10 s without an interval), counts the measurements, and assesses
//!   each metric: Failed when failed > `failureLimit` (default 0), Inconclusive when
//!   inconclusive > `inconclusiveLimit` (default 0), Error when consecutive errors >
//!   `consecutiveErrorLimit` (default 4), Successful when `count` measurements were taken (one
//!   without `interval` or `count`), else Running. Once a metric fails (Failed, Error or
//!   Inconclusive, not in dry run) the run is terminating: no new measurement, and metrics
//!   measured indefinitely end Successful. The run's phase is the worst of its metrics
//!   (Successful < Inconclusive < Error < Failed) once all are complete; dry-run metrics are
//!   measured and reported but do not count.
//!
//! Time is the caller's: milliseconds on any clock, passed in.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::expr::{Env, Program, Val};

/// Why an analysis cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A document is not an analysis template or run.
    #[error("{0}")]
    Document(String),
    /// A metric is invalid (names the metric and field).
    #[error("metric `{metric}`: {problem}")]
    Metric {
        /// The metric.
        metric: String,
        /// What is wrong.
        problem: String,
    },
    /// An argument is missing or conflicting.
    #[error("{0}")]
    Args(String),
}

/// Retry interval after an error when a metric has no interval (Rollouts' default).
pub const ERROR_RETRY_MS: u64 = 10_000;
/// Consecutive errors a metric tolerates by default.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i64 = 4;

/// A phase of a measurement, a metric or a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Phase {
    /// Not started.
    Pending,
    /// In progress.
    Running,
    /// Passed.
    Successful,
    /// Neither passed nor failed.
    Inconclusive,
    /// Could not be measured.
    Error,
    /// Failed.
    Failed,
}

impl Phase {
    /// Its name, as Rollouts writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Successful => "Successful",
            Phase::Inconclusive => "Inconclusive",
            Phase::Error => "Error",
            Phase::Failed => "Failed",
        }
    }

    /// Whether it is final.
    pub fn completed(self) -> bool {
        matches!(self, Phase::Successful | Phase::Inconclusive | Phase::Error | Phase::Failed)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An argument of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argument {
    /// Its name.
    pub name: String,
    /// Its value, if the template (or the caller) gives one.
    pub value: Option<String>,
    /// Whether it comes from a Secret or field reference (`valueFrom`), which a run from files
    /// cannot resolve: it must then be given.
    pub value_from: bool,
}

/// An analysis: arguments, metrics (as JSON, before arguments are substituted), dry-run names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spec {
    /// Arguments, in order.
    pub args: Vec<Argument>,
    /// Metrics, as written.
    pub metrics: Vec<Value>,
    /// Names of dry-run metrics (`*` for all).
    pub dry_run: Vec<String>,
    /// Whether the run was asked to stop (`spec.terminate` of an AnalysisRun).
    pub terminate: bool,
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

impl Spec {
    /// The spec of an AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun document.
    pub fn from_document(doc: &Value) -> Result<Spec, Error> {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = field(doc, &["metadata", "name"]).and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "AnalysisTemplate" | "ClusterAnalysisTemplate" | "AnalysisRun") {
            return Err(Error::Document(format!(
                "{kind}/{name}: expected an AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun"
            )));
        }
        let at = |what: &str| Error::Document(format!("{kind}/{name}: {what}"));
        let spec = doc.get("spec").ok_or_else(|| at("`spec` is missing"))?;
        let metrics = match spec.get("metrics") {
            Some(Value::Array(m)) if !m.is_empty() => m.clone(),
            _ => return Err(at("`spec.metrics` must be a non-empty list")),
        };
        let mut args = Vec::new();
        for a in spec.get("args").and_then(Value::as_array).into_iter().flatten() {
            let arg_name = a.get("name").and_then(Value::as_str).ok_or_else(|| at("an argument has no `name`"))?;
            let value = match a.get("value") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(at(&format!("argument `{arg_name}`: `value` must be a string"))),
            };
            args.push(Argument { name: arg_name.to_string(), value, value_from: a.get("valueFrom").is_some() });
        }
        let dry_run = spec
            .get("dryRun")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("metricName").and_then(Value::as_str).map(str::to_string))
            .collect();
        let terminate = spec.get("terminate").and_then(Value::as_bool).unwrap_or(false);
        Ok(Spec { args, metrics, dry_run, terminate })
    }

    /// Several templates as one, as a Rollout's analysis with several `templates` merges them.
    pub fn merge(specs: Vec<Spec>) -> Result<Spec, Error> {
        let mut out = Spec::default();
        for s in specs {
            for m in s.metrics {
                let name = m.get("name").and_then(Value::as_str).unwrap_or("");
                if out.metrics.iter().any(|x| x.get("name").and_then(Value::as_str) == Some(name)) {
                    return Err(Error::Document(format!("two templates define metric `{name}`")));
                }
                out.metrics.push(m);
            }
            for a in s.args {
                match out.args.iter_mut().find(|x| x.name == a.name) {
                    None => out.args.push(a),
                    Some(x) if x.value.is_none() => *x = a,
                    Some(x) if a.value.is_some() && a.value != x.value => {
                        return Err(Error::Args(format!("argument `{}` has two different values", a.name)));
                    }
                    Some(_) => {}
                }
            }
            out.dry_run.extend(s.dry_run);
            out.terminate |= s.terminate;
        }
        Ok(out)
    }

    /// The metrics with `given` arguments (name to value) over the template's, ready to run.
    pub fn resolve(&self, given: &BTreeMap<String, String>) -> Result<Vec<Metric>, Error> {
        let mut values = BTreeMap::new();
        for a in &self.args {
            match given.get(&a.name).or(a.value.as_ref()) {
                Some(v) => {
                    values.insert(a.name.clone(), v.clone());
                }
                None if a.value_from => {
                    return Err(Error::Args(format!(
                        "argument `{}` comes from `valueFrom`: give it with --arg {}=VALUE",
                        a.name, a.name
                    )));
                }
                None => return Err(Error::Args(format!("argument `{}` has no value: give it with --arg", a.name))),
            }
        }
        for name in given.keys() {
            if !self.args.iter().any(|a| &a.name == name) {
                return Err(Error::Args(format!("argument `{name}` is not declared by any template")));
            }
        }
        self.metrics
            .iter()
            .map(|m| {
                let name = m.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                let resolved =
                    substitute(m, &values).map_err(|problem| Error::Metric { metric: name.clone(), problem })?;
                let dry = self.dry_run.iter().any(|d| d == "*" || *d == name);
                Metric::from_json(&resolved, dry)
            })
            .collect()
    }
}

/// Replaces `{{args.NAME}}` (spaces allowed inside the braces) in every string of `v`.
fn substitute(v: &Value, args: &BTreeMap<String, String>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(substitute_str(s, args)?),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, args)).collect::<Result<_, _>>()?),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| Ok((k.clone(), substitute(x, args)?))).collect::<Result<_, String>>()?)
        }
        other => other.clone(),
    })
}

fn substitute_str(s: &str, args: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        let Some(j) = rest[i..].find("}}") else { break };
        let inner = rest[i + 2..i + j].trim();
        out.push_str(&rest[..i]);
        match inner.strip_prefix("args.") {
            Some(name) => match args.get(name) {
                Some(v) => out.push_str(v),
                None => return Err(format!("failed to resolve {{{{args.{name}}}}}")),
            },
            // Not an argument (`{{templates...}}` and the like): left as written.
            None => out.push_str(&rest[i..i + j + 2]),
        }
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A metric, resolved.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Its name.
    pub name: String,
    /// Time between measurements (none: measured once, unless it errors).
    pub interval_ms: Option<u64>,
    /// Wait before the first measurement.
    pub initial_delay_ms: u64,
    /// How many measurements to take (none with an interval: until the run ends).
    pub count: Option<i64>,
    /// `successCondition`.
    pub success: Option<(String, Program)>,
    /// `failureCondition`.
    pub failure: Option<(String, Program)>,
    /// `failureLimit` (negative: never fails on count).
    pub failure_limit: i64,
    /// `inconclusiveLimit`.
    pub inconclusive_limit: i64,
    /// `consecutiveErrorLimit`.
    pub consecutive_error_limit: i64,
    /// Whether it runs in dry-run mode.
    pub dry_run: bool,
    /// The provider's name (`prometheus`, `web`...) and its settings.
    pub provider: (String, Value),
}

fn duration_ms(metric: &str, what: &str, v: Option<&Value>) -> Result<Option<u64>, Error> {
    let bad = |problem: String| Error::Metric { metric: metric.to_string(), problem };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let nanos = crate::quantity::go_duration_nanos(s)
                .filter(|n| *n >= 0)
                .ok_or_else(|| bad(format!("`{what}`: `{s}` is not a duration (e.g. 30s, 5m)")))?;
            Ok(Some((nanos / 1_000_000) as u64))
        }
        Some(other) => Err(bad(format!("`{what}`: {other} is not a duration"))),
    }
}

fn int_field(metric: &str, what: &str, v: Option<&Value>) -> Result<Option<i64>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        // Counts and limits are IntOrString in Rollouts: a quoted number after `{{args}}`.
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
        Some(other) => Err(Error::Metric {
            metric: metric.to_string(),
            problem: format!("`{what}`: {other} is not a whole number"),
        }),
    }
}

impl Metric {
    /// A metric from its JSON (after arguments are substituted).
    pub fn from_json(m: &Value, dry_run: bool) -> Result<Metric, Error> {
        let name = m.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        if name.is_empty() {
            return Err(Error::Document("a metric has no `name`".into()));
        }
        let bad = |problem: String| Error::Metric { metric: name.clone(), problem };
        let condition = |key: &str| -> Result<Option<(String, Program)>, Error> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => {
                    let p = Program::parse(s).map_err(|e| bad(format!("`{key}` does not compile: {e}")))?;
                    Ok(Some((s.clone(), p)))
                }
                Some(_) => Err(bad(format!("`{key}` must be a string"))),
            }
        };
        let provider = match m.get("provider") {
            Some(Value::Object(p)) if p.len() == 1 => {
                let (k, v) = p.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap_or_default();
                (k, v)
            }
            Some(Value::Object(p)) if p.is_empty() => return Err(bad("`provider` names no provider".into())),
            Some(Value::Object(_)) => return Err(bad("`provider` names more than one provider".into())),
            _ => return Err(bad("`provider` is missing".into())),
        };
        let count = int_field(&name, "count", m.get("count"))?;
        let interval_ms = duration_ms(&name, "interval", m.get("interval"))?;
        if count.is_some_and(|c| c > 1) && interval_ms.is_none() {
            return Err(bad("`count` above 1 needs an `interval`".into()));
        }
        Ok(Metric {
            interval_ms,
            initial_delay_ms: duration_ms(&name, "initialDelay", m.get("initialDelay"))?.unwrap_or(0),
            count,
            success: condition("successCondition")?,
            failure: condition("failureCondition")?,
            failure_limit: int_field(&name, "failureLimit", m.get("failureLimit"))?.unwrap_or(0),
            inconclusive_limit: int_field(&name, "inconclusiveLimit", m.get("inconclusiveLimit"))?.unwrap_or(0),
            consecutive_error_limit: int_field(&name, "consecutiveErrorLimit", m.get("consecutiveErrorLimit"))?
                .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT),
            dry_run,
            provider,
            name,
        })
    }

    /// How many measurements it takes: `count`, else one without an interval, else no limit.
    pub fn effective_count(&self) -> Option<i64> {
        match (self.count, self.interval_ms) {
            (Some(c), _) => Some(c),
            (None, None) => Some(1),
            (None, Some(_)) => None,
        }
    }
}

/// A measurement's phase from the metric's conditions over `result`, with the error's text.
pub fn evaluate(metric: &Metric, result: &Val, now_nanos: i128) -> (Phase, Option<String>) {
    let run = |cond: &Option<(String, Program)>| -> Result<Option<bool>, String> {
        let Some((text, program)) = cond else { return Ok(None) };
        let env = Env::new().with_val("result", result.clone()).at(now_nanos);
        match program.eval(&env) {
            Ok(Val::Bool(b)) => Ok(Some(b)),
            Ok(other) => Err(format!("condition `{text}`: expected bool, but got {}", other.type_name())),
            Err(e) => Err(format!("condition `{text}`: {e}")),
        }
    };
    let (success, failure) = match (run(&metric.success), run(&metric.failure)) {
        (Ok(s), Ok(f)) => (s, f),
        (Err(e), _) | (_, Err(e)) => return (Phase::Error, Some(e)),
    };
    let (success, failed) = match (success, failure) {
        (None, None) => return (Phase::Successful, None),
        (Some(s), None) => (s, !s),
        (None, Some(f)) => (!f, f),
        (Some(s), Some(f)) => (s, f),
    };
    if failed {
        (Phase::Failed, None)
    } else if !success {
        (Phase::Inconclusive, None)
    } else {
        (Phase::Successful, None)
    }
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// Its phase.
    pub phase: Phase,
    /// The value, as the provider shows it (`[0.99]`).
    pub value: String,
    /// Why it errored, or what the provider said.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When it finished (the caller's milliseconds).
    pub finished_ms: u64,
}

/// A metric's measurements and counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricResult {
    /// The metric.
    pub name: String,
    /// Its phase.
    pub phase: Option<Phase>,
    /// Measurements taken, in order.
    pub measurements: Vec<Measurement>,
    /// Measurements counted (all but errors).
    pub count: i64,
    /// Successful ones.
    pub successful: i64,
    /// Failed ones.
    pub failed: i64,
    /// Inconclusive ones.
    pub inconclusive: i64,
    /// Errors.
    pub error: i64,
    /// Errors in a row.
    pub consecutive_error: i64,
    /// Whether the metric runs in dry-run mode.
    pub dry_run: bool,
    /// Why it ended as it did.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// An analysis run: which metric to measure when, and the phases that follow.
#[derive(Debug, Clone)]
pub struct Run {
    /// The metrics.
    pub metrics: Vec<Metric>,
    /// Their results, index for index.
    pub results: Vec<MetricResult>,
    started_ms: u64,
    terminate: bool,
}

impl Run {
    /// A run of `metrics` started at `now_ms`.
    pub fn new(metrics: Vec<Metric>, now_ms: u64) -> Run {
        let results = metrics
            .iter()
            .map(|m| MetricResult { name: m.name.clone(), dry_run: m.dry_run, ..Default::default() })
            .collect();
        Run { metrics, results, started_ms: now_ms, terminate: false }
    }

    /// Asks the run to stop (`spec.terminate`).
    pub fn terminate(&mut self) {
        self.terminate = true;
    }

    fn completed(&self, i: usize) -> bool {
        self.results[i].phase.is_some_and(Phase::completed)
    }

    /// Whether no new measurement is to be taken: asked to stop, or a metric (not in dry
    /// run) ended Failed, Error or Inconclusive.
    pub fn terminating(&self) -> bool {
        self.terminate
            || self
                .results
                .iter()
                .any(|r| !r.dry_run && matches!(r.phase, Some(Phase::Failed | Phase::Error | Phase::Inconclusive)))
    }

    /// The metrics to measure at `now_ms`, by index.
    pub fn due(&self, now_ms: u64) -> Vec<usize> {
        if self.terminating() {
            return Vec::new();
        }
        (0..self.metrics.len())
            .filter(|&i| !self.completed(i) && self.next_ms(i).is_some_and(|t| t <= now_ms))
            .collect()
    }

    /// When metric `i` is next measured (none when it is done).
    fn next_ms(&self, i: usize) -> Option<u64> {
        let (m, r) = (&self.metrics[i], &self.results[i]);
        if self.completed(i) {
            return None;
        }
        let Some(last) = r.measurements.last() else { return Some(self.started_ms + m.initial_delay_ms) };
        if m.effective_count().is_some_and(|c| r.count >= c) {
            return None;
        }
        let interval = m.interval_ms.unwrap_or(ERROR_RETRY_MS);
        Some(last.finished_ms + interval)
    }

    /// When anything is next due, if the run goes on.
    pub fn next_wake(&self) -> Option<u64> {
        if self.terminating() {
            return None;
        }
        (0..self.metrics.len()).filter_map(|i| self.next_ms(i)).min()
    }

    /// Records a measurement of metric `i`.
    pub fn record(&mut self, i: usize, measurement: Measurement) {
        let r = &mut self.results[i];
        match measurement.phase {
            Phase::Successful => r.successful += 1,
            Phase::Failed => r.failed += 1,
            Phase::Inconclusive => r.inconclusive += 1,
            Phase::Error => {
                r.error += 1;
                r.consecutive_error += 1;
            }
            Phase::Pending | Phase::Running => {}
        }
        if measurement.phase != Phase::Error {
            r.count += 1;
            r.consecutive_error = 0;
        }
        r.measurements.push(measurement);
    }

    fn assess_metric(&self, i: usize, terminating: bool) -> (Phase, String) {
        let (m, r) = (&self.metrics[i], &self.results[i]);
        if let Some(p) = r.phase.filter(|p| p.completed()) {
            return (p, r.message.clone());
        }
        if r.measurements.is_empty() {
            return if terminating {
                (Phase::Successful, "run terminated".into())
            } else {
                (Phase::Pending, String::new())
            };
        }
        if m.failure_limit >= 0 && r.failed > m.failure_limit {
            return (Phase::Failed, format!("failed ({}) > failureLimit ({})", r.failed, m.failure_limit));
        }
        if m.inconclusive_limit >= 0 && r.inconclusive > m.inconclusive_limit {
            let msg = format!("inconclusive ({}) > inconclusiveLimit ({})", r.inconclusive, m.inconclusive_limit);
            return (Phase::Inconclusive, msg);
        }
        if m.consecutive_error_limit >= 0 && r.consecutive_error > m.consecutive_error_limit {
            let msg = format!(
                "consecutiveErrors ({}) > consecutiveErrorLimit ({})",
                r.consecutive_error, m.consecutive_error_limit
            );
            return (Phase::Error, msg);
        }
        if let Some(c) = m.effective_count()
            && r.count >= c
        {
            return (Phase::Successful, format!("count ({c}) reached"));
        }
        if terminating {
            return (Phase::Successful, "run terminated".into());
        }
        (Phase::Running, String::new())
    }

    /// The run's message once it ended in `phase`, as Rollouts writes it: the first metric
    /// (not in dry run) that ended so, `Metric "NAME" assessed PHASE due to WHY`; empty when
    /// the run was Successful.
    pub fn message(&self, phase: Phase) -> String {
        if phase == Phase::Successful || !phase.completed() {
            return String::new();
        }
        self.results
            .iter()
            .find(|r| !r.dry_run && r.phase == Some(phase))
            .map(|r| format!("Metric \"{}\" assessed {phase} due to {}", r.name, r.message))
            .unwrap_or_default()
    }

    /// Assesses every metric and returns the run's phase: Running until every metric is
    /// complete, then the worst phase of those not in dry run (Successful when all are).
    pub fn assess(&mut self) -> Phase {
        let terminating = self.terminating();
        let mut worst: Option<Phase> = None;
        let mut all_done = true;
        for i in 0..self.metrics.len() {
            let (phase, message) = self.assess_metric(i, terminating);
            let r = &mut self.results[i];
            r.phase = Some(phase);
            if phase.completed() && r.message.is_empty() {
                r.message = message;
            }
            if !phase.completed() {
                all_done = false;
            } else if !r.dry_run {
                worst = Some(worst.map_or(phase, |w| w.max(phase)));
            }
        }
        // A metric that failed makes the run terminate: the others are assessed again with it.
        if !terminating && self.terminating() {
            return self.assess();
        }
        if !all_done {
            return Phase::Running;
        }
        worst.unwrap_or(Phase::Successful)
    }
}

#[cfg(test)]
mod tests;
