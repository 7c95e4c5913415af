//! The step progression of the Rollouts controller, sans I/O: [`Progress`] says what comes
//! next ([`Next`]: an analysis to run, a timed pause to wait, or the end) and takes back what
//! the caller saw (a pause elapsed, an analysis' phase), keeping the Rollout's `status` as the
//! controller writes it.
//!
//! - Canary: steps in order from `currentStepIndex`. `setWeight` (and the traffic steps
//!   `setCanaryScale`, `setHeaderRoute`, `setMirrorRoute`) move on at once; `pause` with a
//!   `duration` waits it; `pause: {}` stops the Rollout Paused (`CanaryPauseStep`, controller
//!   pause) until it is promoted; `analysis` runs an AnalysisRun named
//!   `<rollout>-<hash>-<revision>-<step>` and moves on when it is Successful. The background
//!   analysis (`strategy.canary.analysis`) starts once the step index reaches `startingStep`
//!   (0 by default), runs beside the steps as `<rollout>-<hash>-<revision>`, and is terminated
//!   when the last step is done. Past the last step the new revision is stable: Healthy.
//! - Blue-green: `prePromotionAnalysis` (`...-pre`) runs while the preview serves the new
//!   revision and the active service still selects the stable one; when it succeeds the active
//!   service is switched (`autoPromotionEnabled: false` pauses instead, `BlueGreenPause`), then
//!   `postPromotionAnalysis` (`...-post`) runs, and the new revision becomes stable.
//! - An analysis that ends Failed or Error aborts the update: `status.abort`, phase Degraded
//!   with `RolloutAborted: Rollout aborted update to revision N: <the run's message>`, the
//!   canary weight back to 0 and, in blue-green, the active service on the stable revision.
//!   Inconclusive pauses it (`InconclusiveAnalysisRun`) for a person to promote or abort.
//! - Analysis arguments: `value`, `valueFrom.podTemplateHashValue` (`Latest`: the new
//!   revision's hash, `Stable`: the stable one's) and `valueFrom.fieldRef.fieldPath` over the
//!   Rollout (`metadata.name`, `metadata.labels['app']`, `spec.replicas`...).
//!
//! `experiment` steps are refused: experiments are not run here.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Error, at, int_at, str_at};
use crate::analysis::{Phase, Run, Spec};

/// Which analysis of a Rollout a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The analysis of canary step N (0-based).
    Step(usize),
    /// The canary's background analysis.
    Background,
    /// Blue-green's pre-promotion analysis.
    PrePromotion,
    /// Blue-green's post-promotion analysis.
    PostPromotion,
}

impl Kind {
    /// The `rollout-type` label the controller puts on the run.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Step(_) => "Step",
            Kind::Background => "Background",
            Kind::PrePromotion => "PrePromotion",
            Kind::PostPromotion => "PostPromotion",
        }
    }

    fn status_path(self) -> [&'static str; 2] {
        match self {
            Kind::Step(_) => ["canary", "currentStepAnalysisRunStatus"],
            Kind::Background => ["canary", "currentBackgroundAnalysisRunStatus"],
            Kind::PrePromotion => ["blueGreen", "prePromotionAnalysisRunStatus"],
            Kind::PostPromotion => ["blueGreen", "postPromotionAnalysisRunStatus"],
        }
    }
}

/// A template an analysis names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    /// `templateName`.
    pub name: String,
    /// `clusterScope`: a ClusterAnalysisTemplate.
    pub cluster_scope: bool,
}

/// An analysis to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// Which one.
    pub kind: Kind,
    /// The AnalysisRun's name.
    pub name: String,
    /// Its templates, merged in order.
    pub templates: Vec<TemplateRef>,
    /// Its arguments, resolved.
    pub args: BTreeMap<String, String>,
}

/// What the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Start this analysis. A step, pre- or post-promotion analysis is waited for (then
    /// [`Progress::analysis_done`]); the background one runs beside the steps.
    Analysis(Start),
    /// Wait this long (a timed pause of step `step`), then call [`Progress::pause_done`].
    Wait {
        /// The step.
        step: usize,
        /// Milliseconds.
        ms: u64,
    },
    /// The Rollout is Healthy, Paused or Degraded: see [`Progress::phase`]. A background
    /// analysis still running is to be terminated.
    Done,
}

#[derive(Debug, Clone)]
enum Strategy {
    Canary { steps: Vec<Value>, background: Option<(usize, Value)> },
    BlueGreen { pre: Option<Value>, post: Option<Value>, auto_promote: bool },
}

/// A Rollout being stepped through.
#[derive(Debug, Clone)]
pub struct Progress {
    rollout: Value,
    strategy: Strategy,
    hash: String,
    revision: i64,
    background_started: bool,
    pre_done: bool,
    post_done: bool,
    waiting: Option<Kind>,
}

/// A hash of the pod template in the controller's alphabet, for Rollouts whose status names
/// none (`status.currentPodHash` is used when set). FNV-1a over the template's JSON: stable for
/// one template, not the controller's own value (it hashes Go's printing of the struct).
pub fn pod_template_hash(template: &Value) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in template.to_string().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string().bytes().map(|b| SAFE[usize::from(b) % SAFE.len()] as char).collect()
}

/// The Rollout `desired` (from Git) as an update of `live` (on the target): the live uid and
/// the stable revision (`status.stableRS`, else the live pod hash once Healthy; blue-green's
/// active selector) carried over, the revision annotation moved on by one when the pod
/// template changed. The progression then starts from step 0 as the controller's does.
pub fn update_of(live: &Value, desired: &Value) -> Value {
    let mut out = desired.clone();
    if !out.is_object() {
        return out;
    }
    if !out.get("metadata").is_some_and(Value::is_object) {
        out["metadata"] = json!({});
    }
    if let Some(uid) = at(live, &["metadata", "uid"]) {
        out["metadata"]["uid"] = uid.clone();
    }
    let live_hash = match str_at(live, &["status", "currentPodHash"]) {
        "" => pod_template_hash(at(live, &["spec", "template"]).unwrap_or(&Value::Null)),
        h => h.to_string(),
    };
    let new_hash = pod_template_hash(at(desired, &["spec", "template"]).unwrap_or(&Value::Null));
    let stable = match str_at(live, &["status", "stableRS"]) {
        "" if str_at(live, &["status", "phase"]) == "Healthy" => live_hash.clone(),
        s => s.to_string(),
    };
    let revision: i64 = str_at(live, &["metadata", "annotations", "rollout.argoproj.io/revision"]).parse().unwrap_or(1);
    let revision = if new_hash == live_hash { revision } else { revision + 1 };
    if !out["metadata"].get("annotations").is_some_and(Value::is_object) {
        out["metadata"]["annotations"] = json!({});
    }
    out["metadata"]["annotations"]["rollout.argoproj.io/revision"] = json!(revision.to_string());
    let mut status = json!({"stableRS": stable, "currentPodHash": new_hash});
    if let Some(active) = at(live, &["status", "blueGreen", "activeSelector"]) {
        status["blueGreen"] = json!({"activeSelector": active});
    }
    out["status"] = status;
    out
}

fn analysis_of(v: &Value, what: &str, name: &str) -> Result<Value, Error> {
    let templates = v.get("templates").and_then(Value::as_array);
    if templates.is_none_or(|t| t.is_empty()) {
        return Err(Error::Rollout {
            name: name.into(),
            problem: format!("{what}: `templates` must be a non-empty list"),
        });
    }
    for t in templates.into_iter().flatten() {
        if t.get("templateName").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(Error::Rollout {
                name: name.into(),
                problem: format!("{what}: a template has no `templateName`"),
            });
        }
    }
    Ok(v.clone())
}

/// The value at a field path of the Rollout: `a.b`, `a[0].b`, `metadata.labels['k']`.
fn field_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = obj;
    let mut rest = path.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let key = r[..end].trim().trim_matches(|c| c == '\'' || c == '"');
            at = match key.parse::<usize>() {
                Ok(i) if !r[..end].contains('\'') && !r[..end].contains('"') => at.get(i)?,
                _ => at.get(key)?,
            };
            rest = &r[end + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            at = at.get(&rest[..end])?;
            rest = &rest[end..];
        }
    }
    Some(at)
}

impl Progress {
    /// A Rollout to step through from its `status` (a fresh status starts at step 0). Its
    /// revision is the `rollout.argoproj.io/revision` annotation (1 when unset).
    pub fn new(rollout: &Value) -> Result<Progress, Error> {
        let name = str_at(rollout, &["metadata", "name"]).to_string();
        let bad = |problem: String| Error::Rollout { name: name.clone(), problem };
        if rollout.get("kind").and_then(Value::as_str) != Some("Rollout") || name.is_empty() {
            return Err(bad("not a Rollout with a `metadata.name`".into()));
        }
        let strategy =
            match (at(rollout, &["spec", "strategy", "canary"]), at(rollout, &["spec", "strategy", "blueGreen"])) {
                (Some(c), None) => {
                    let steps = c.get("steps").and_then(Value::as_array).cloned().unwrap_or_default();
                    for (i, s) in steps.iter().enumerate() {
                        let known =
                            ["setWeight", "pause", "analysis", "setCanaryScale", "setHeaderRoute", "setMirrorRoute"];
                        match s.as_object().and_then(|m| m.keys().next()).map(String::as_str) {
                            Some("experiment") => {
                                return Err(bad(format!("step {i}: experiment steps are not run here")));
                            }
                            Some(k) if known.contains(&k) => {}
                            other => return Err(bad(format!("step {i}: unknown step `{}`", other.unwrap_or("")))),
                        }
                        if let Some(a) = s.get("analysis") {
                            analysis_of(a, &format!("step {i} analysis"), &name)?;
                        }
                        if let Some(d) = at(s, &["pause", "duration"]) {
                            pause_ms(d)
                                .ok_or_else(|| bad(format!("step {i}: pause duration {d} is not a duration")))?;
                        }
                    }
                    let background = match c.get("analysis") {
                        None => None,
                        Some(a) => {
                            let starting = a.get("startingStep").and_then(Value::as_i64).unwrap_or(0).max(0) as usize;
                            Some((starting, analysis_of(a, "strategy.canary.analysis", &name)?))
                        }
                    };
                    Strategy::Canary { steps, background }
                }
                (None, Some(b)) => Strategy::BlueGreen {
                    pre: b
                        .get("prePromotionAnalysis")
                        .map(|a| analysis_of(a, "prePromotionAnalysis", &name))
                        .transpose()?,
                    post: b
                        .get("postPromotionAnalysis")
                        .map(|a| analysis_of(a, "postPromotionAnalysis", &name))
                        .transpose()?,
                    auto_promote: b.get("autoPromotionEnabled").and_then(Value::as_bool).unwrap_or(true),
                },
                _ => return Err(bad("`spec.strategy` must have one of `canary` and `blueGreen`".into())),
            };
        let hash = match str_at(rollout, &["status", "currentPodHash"]) {
            "" => pod_template_hash(at(rollout, &["spec", "template"]).unwrap_or(&Value::Null)),
            h => h.to_string(),
        };
        let revision =
            str_at(rollout, &["metadata", "annotations", "rollout.argoproj.io/revision"]).parse().unwrap_or(1);
        let mut rollout = rollout.clone();
        if !rollout.get("status").is_some_and(Value::is_object) {
            rollout["status"] = json!({});
        }
        let mut p = Progress {
            rollout,
            strategy,
            hash,
            revision,
            background_started: false,
            pre_done: false,
            post_done: false,
            waiting: None,
        };
        let generation = int_at(&p.rollout, &["metadata", "generation"]).unwrap_or(1);
        let hash = p.hash.clone();
        let blue_green = matches!(p.strategy, Strategy::BlueGreen { .. });
        let status = p.status_mut();
        status.insert("currentPodHash".into(), json!(hash));
        status.insert("observedGeneration".into(), json!(generation.to_string()));
        if !blue_green && !status.contains_key("currentStepIndex") {
            status.insert("currentStepIndex".into(), json!(0));
        }
        if blue_green {
            let stable = status.get("stableRS").and_then(Value::as_str).unwrap_or("").to_string();
            let bg = status.entry("blueGreen").or_insert_with(|| json!({}));
            if let Some(bg) = bg.as_object_mut() {
                bg.insert("previewSelector".into(), json!(hash));
                bg.entry("activeSelector").or_insert(json!(stable));
            }
        }
        let stable = str_at(&p.rollout, &["status", "stableRS"]).to_string();
        if stable == p.hash {
            // Nothing new to roll out: the controller leaves it fully promoted.
            let done = p.steps().len();
            if !blue_green {
                p.status_mut().insert("currentStepIndex".into(), json!(done));
            }
            p.set_phase("Healthy", "");
        } else {
            p.set_phase("Progressing", "more replicas need to be updated");
        }
        Ok(p)
    }

    fn status_mut(&mut self) -> &mut Map<String, Value> {
        match self.rollout.get_mut("status").and_then(Value::as_object_mut) {
            Some(m) => m,
            None => unreachable!("the status is made an object in new"),
        }
    }

    fn set_phase(&mut self, phase: &str, message: &str) {
        let s = self.status_mut();
        s.insert("phase".into(), json!(phase));
        s.insert("message".into(), json!(message));
    }

    /// The Rollout with its status as it stands.
    pub fn rollout(&self) -> &Value {
        &self.rollout
    }

    /// `status.phase`: Progressing, Healthy, Paused or Degraded.
    pub fn phase(&self) -> &str {
        str_at(&self.rollout, &["status", "phase"])
    }

    /// `status.message`.
    pub fn message(&self) -> &str {
        str_at(&self.rollout, &["status", "message"])
    }

    /// The new revision's pod template hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The revision being rolled out.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// `status.currentStepIndex` (canary).
    pub fn step_index(&self) -> Option<usize> {
        int_at(&self.rollout, &["status", "currentStepIndex"]).map(|i| i.max(0) as usize)
    }

    /// The canary's steps (empty for blue-green).
    pub fn steps(&self) -> &[Value] {
        match &self.strategy {
            Strategy::Canary { steps, .. } => steps,
            Strategy::BlueGreen { .. } => &[],
        }
    }

    fn finished(&self) -> bool {
        matches!(self.phase(), "Healthy" | "Paused" | "Degraded")
    }

    fn start(&mut self, kind: Kind, analysis: &Value) -> Result<Next, Error> {
        let base = format!("{}-{}-{}", str_at(&self.rollout, &["metadata", "name"]), self.hash, self.revision);
        let name = match kind {
            Kind::Step(i) => format!("{base}-{i}"),
            Kind::Background => base,
            Kind::PrePromotion => format!("{base}-pre"),
            Kind::PostPromotion => format!("{base}-post"),
        };
        let templates = analysis
            .get("templates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| TemplateRef {
                name: str_at(t, &["templateName"]).to_string(),
                cluster_scope: t.get("clusterScope").and_then(Value::as_bool).unwrap_or(false),
            })
            .collect();
        let args = self.resolve_args(analysis)?;
        let [group, field] = kind.status_path();
        let entry = json!({"name": name, "status": "Running"});
        let s = self.status_mut();
        let g = s.entry(group).or_insert_with(|| json!({}));
        if let Some(g) = g.as_object_mut() {
            g.insert(field.into(), entry);
        }
        if kind != Kind::Background {
            self.waiting = Some(kind);
        }
        Ok(Next::Analysis(Start { kind, name, templates, args }))
    }

    fn resolve_args(&self, analysis: &Value) -> Result<BTreeMap<String, String>, Error> {
        let name = str_at(&self.rollout, &["metadata", "name"]).to_string();
        let mut out = BTreeMap::new();
        for a in analysis.get("args").and_then(Value::as_array).into_iter().flatten() {
            let arg = str_at(a, &["name"]).to_string();
            let bad = |problem: String| Error::Rollout {
                name: name.clone(),
                problem: format!("argument `{arg}`: {problem}"),
            };
            let value = if let Some(v) = a.get("value").and_then(Value::as_str) {
                v.to_string()
            } else if let Some(from) = a.get("valueFrom") {
                if let Some(which) = from.get("podTemplateHashValue").and_then(Value::as_str) {
                    match which {
                        "Latest" => self.hash.clone(),
                        "Stable" => str_at(&self.rollout, &["status", "stableRS"]).to_string(),
                        other => return Err(bad(format!("podTemplateHashValue `{other}`: expected Latest or Stable"))),
                    }
                } else if let Some(path) = at(from, &["fieldRef", "fieldPath"]).and_then(Value::as_str) {
                    match field_path(&self.rollout, path) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => {
                            return Err(bad(format!("fieldPath `{path}` is not set on the Rollout")));
                        }
                        Some(other) => other.to_string(),
                    }
                } else {
                    return Err(bad("`valueFrom` needs `podTemplateHashValue` or `fieldRef.fieldPath`".into()));
                }
            } else {
                return Err(bad("needs `value` or `valueFrom`".into()));
            };
            out.insert(arg, value);
        }
        Ok(out)
    }

    /// Every analysis this Rollout may start from where it stands, arguments resolved, so
    /// that templates, providers and arguments are checked before anything runs.
    pub fn planned(&self) -> Result<Vec<Start>, Error> {
        let mut probe = self.clone();
        let mut out = Vec::new();
        let analyses: Vec<(Kind, Value)> = match &self.strategy {
            Strategy::Canary { steps, background } => {
                let from = self.step_index().unwrap_or(0);
                let mut v: Vec<(Kind, Value)> = steps
                    .iter()
                    .enumerate()
                    .skip(from)
                    .filter_map(|(i, s)| s.get("analysis").map(|a| (Kind::Step(i), a.clone())))
                    .collect();
                if let Some((_, a)) = background {
                    v.insert(0, (Kind::Background, a.clone()));
                }
                v
            }
            Strategy::BlueGreen { pre, post, .. } => [(Kind::PrePromotion, pre), (Kind::PostPromotion, post)]
                .into_iter()
                .filter_map(|(k, a)| a.clone().map(|a| (k, a)))
                .collect(),
        };
        for (kind, analysis) in analyses {
            if let Next::Analysis(start) = probe.start(kind, &analysis)? {
                out.push(start);
            }
        }
        Ok(out)
    }

    /// What to do next.
    pub fn advance(&mut self) -> Result<Next, Error> {
        if self.finished() {
            return Ok(Next::Done);
        }
        if let Some(kind) = self.waiting {
            return Err(Error::Rollout {
                name: str_at(&self.rollout, &["metadata", "name"]).to_string(),
                problem: format!("the {} analysis has not ended", kind.label()),
            });
        }
        match self.strategy.clone() {
            Strategy::Canary { steps, background } => loop {
                let index = self.step_index().unwrap_or(0);
                if let Some((starting, analysis)) = &background
                    && !self.background_started
                    && index >= *starting
                    && index < steps.len()
                {
                    self.background_started = true;
                    return self.start(Kind::Background, analysis);
                }
                let Some(step) = steps.get(index) else {
                    let hash = self.hash.clone();
                    let s = self.status_mut();
                    s.insert("currentStepIndex".into(), json!(steps.len()));
                    s.insert("stableRS".into(), json!(hash));
                    self.set_phase("Healthy", "");
                    return Ok(Next::Done);
                };
                if let Some(pause) = step.get("pause") {
                    match pause.get("duration").and_then(pause_ms) {
                        Some(ms) => return Ok(Next::Wait { step: index, ms }),
                        None => {
                            let s = self.status_mut();
                            s.insert("pauseConditions".into(), json!([{"reason": "CanaryPauseStep"}]));
                            s.insert("controllerPause".into(), json!(true));
                            self.set_phase("Paused", "CanaryPauseStep");
                            return Ok(Next::Done);
                        }
                    }
                }
                if let Some(analysis) = step.get("analysis") {
                    return self.start(Kind::Step(index), analysis);
                }
                self.status_mut().insert("currentStepIndex".into(), json!(index + 1));
            },
            Strategy::BlueGreen { pre, post, auto_promote } => {
                if let Some(a) = pre.as_ref().filter(|_| !self.pre_done) {
                    return self.start(Kind::PrePromotion, a);
                }
                let active = str_at(&self.rollout, &["status", "blueGreen", "activeSelector"]).to_string();
                if active != self.hash {
                    if !auto_promote {
                        let s = self.status_mut();
                        s.insert("pauseConditions".into(), json!([{"reason": "BlueGreenPause"}]));
                        s.insert("controllerPause".into(), json!(true));
                        self.set_phase("Paused", "BlueGreenPause");
                        return Ok(Next::Done);
                    }
                    self.set_active(&self.hash.clone());
                }
                if let Some(a) = post.as_ref().filter(|_| !self.post_done) {
                    return self.start(Kind::PostPromotion, a);
                }
                let hash = self.hash.clone();
                self.status_mut().insert("stableRS".into(), json!(hash));
                self.set_phase("Healthy", "");
                Ok(Next::Done)
            }
        }
    }

    /// The AnalysisRun the controller would have written for `start`: owned by the Rollout,
    /// labelled with the pod template hash and `rollout-type`, annotated with the revision,
    /// the templates' metrics and the resolved arguments in its spec, and what `run` measured
    /// (ended in `phase`) in its status.
    pub fn analysis_run(&self, start: &Start, spec: &Spec, run: &Run, phase: Phase) -> Value {
        let meta = |k: &str| self.rollout.get("metadata").and_then(|m| m.get(k)).cloned().unwrap_or(Value::Null);
        let mut owner = json!({
            "apiVersion": self.rollout.get("apiVersion").cloned().unwrap_or(json!("argoproj.io/v1alpha1")),
            "kind": "Rollout", "name": meta("name"), "controller": true, "blockOwnerDeletion": true,
        });
        if let Some(uid) = meta("uid").as_str() {
            owner["uid"] = json!(uid);
        }
        let mut metadata = json!({
            "name": start.name,
            "labels": {"rollouts-pod-template-hash": self.hash, "rollout-type": start.kind.label()},
            "annotations": {"rollout.argoproj.io/revision": self.revision.to_string()},
            "ownerReferences": [owner],
        });
        if let Some(ns) = meta("namespace").as_str() {
            metadata["namespace"] = json!(ns);
        }
        if let Kind::Step(i) = start.kind {
            metadata["labels"]["step-index"] = json!(i.to_string());
        }
        let args: Vec<Value> = start.args.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
        let mut run_spec = json!({"metrics": spec.metrics, "args": args});
        if !spec.dry_run.is_empty() {
            run_spec["dryRun"] = spec.dry_run.iter().map(|d| json!({"metricName": d})).collect();
        }
        let results: Vec<Value> = run
            .results
            .iter()
            .map(|r| {
                let measurements: Vec<Value> = r
                    .measurements
                    .iter()
                    .map(|m| {
                        let mut v = json!({"phase": m.phase.as_str(), "value": m.value});
                        if !m.message.is_empty() {
                            v["message"] = json!(m.message);
                        }
                        v
                    })
                    .collect();
                let mut v = json!({
                    "name": r.name, "phase": r.phase.unwrap_or(Phase::Pending).as_str(),
                    "count": r.count, "successful": r.successful, "failed": r.failed,
                    "inconclusive": r.inconclusive, "error": r.error, "consecutiveError": r.consecutive_error,
                    "measurements": measurements,
                });
                if !r.message.is_empty() {
                    v["message"] = json!(r.message);
                }
                if r.dry_run {
                    v["dryRun"] = json!(true);
                }
                v
            })
            .collect();
        let mut status = json!({"phase": phase.as_str(), "metricResults": results});
        let message = run.message(phase);
        if !message.is_empty() {
            status["message"] = json!(message);
        }
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": metadata,
               "spec": run_spec, "status": status})
    }

    fn set_active(&mut self, hash: &str) {
        if let Some(bg) = self.status_mut().get_mut("blueGreen").and_then(Value::as_object_mut) {
            bg.insert("activeSelector".into(), json!(hash));
        }
    }

    /// The timed pause of the current step has elapsed.
    pub fn pause_done(&mut self) {
        let index = self.step_index().unwrap_or(0);
        self.status_mut().insert("currentStepIndex".into(), json!(index + 1));
    }

    /// An analysis ended with `phase` (Successful, Failed, Error, Inconclusive) and the run's
    /// `message`.
    pub fn analysis_done(&mut self, kind: Kind, phase: &str, message: &str) {
        let [group, field] = kind.status_path();
        if let Some(entry) =
            self.status_mut().get_mut(group).and_then(|g| g.get_mut(field)).and_then(Value::as_object_mut)
        {
            entry.insert("status".into(), json!(phase));
            if !message.is_empty() {
                entry.insert("message".into(), json!(message));
            }
        }
        if self.waiting == Some(kind) {
            self.waiting = None;
        }
        if self.finished() {
            return;
        }
        match phase {
            "Successful" => match kind {
                Kind::Step(i) => {
                    self.status_mut().insert("currentStepIndex".into(), json!(i + 1));
                }
                Kind::PrePromotion => self.pre_done = true,
                Kind::PostPromotion => self.post_done = true,
                Kind::Background => {}
            },
            "Inconclusive" => {
                let s = self.status_mut();
                s.insert("pauseConditions".into(), json!([{"reason": "InconclusiveAnalysisRun"}]));
                s.insert("controllerPause".into(), json!(true));
                self.set_phase("Paused", "InconclusiveAnalysisRun");
            }
            _ => self.abort(message),
        }
    }

    fn abort(&mut self, why: &str) {
        let mut message = format!("Rollout aborted update to revision {}", self.revision);
        if !why.is_empty() {
            message = format!("{message}: {why}");
        }
        if let Strategy::BlueGreen { .. } = self.strategy {
            let stable = str_at(&self.rollout, &["status", "stableRS"]).to_string();
            self.set_active(&stable);
        }
        let s = self.status_mut();
        s.insert("abort".into(), json!(true));
        s.insert(
            "conditions".into(),
            json!([{"type": "Progressing", "status": "False", "reason": "RolloutAborted", "message": message}]),
        );
        self.set_phase("Degraded", &format!("RolloutAborted: {message}"));
    }
}

/// A pause duration: a number of seconds or a Go duration (`30s`, `1m`).
fn pause_ms(d: &Value) -> Option<u64> {
    match d {
        Value::Number(n) => n.as_u64().map(|s| s * 1000),
        Value::String(s) => match s.parse::<u64>() {
            Ok(secs) => Some(secs * 1000),
            Err(_) => crate::quantity::go_duration_nanos(s).filter(|n| *n >= 0).map(|n| (n / 1_000_000) as u64),
        },
        _ => None,
    }
}
