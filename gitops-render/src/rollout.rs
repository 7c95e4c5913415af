//! A Rollout stepped through from files, as the Rollouts controller would step it: the pure
//! progression of [`gitops_core::rollout::progress::Progress`], its timed pauses waited (on the
//! scaled clock of [`crate::analysis`]) and its analyses measured for real by
//! [`crate::analysis::run`] against their providers. The background analysis runs on a thread
//! of its own beside the steps: when it fails, the step in progress is cut short and the
//! update aborted; when the steps are done, it is terminated.
//!
//! Nothing here writes to a cluster: the caller gets the Rollout with its status and the
//! AnalysisRuns, and writes them where it wants.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gitops_core::analysis::{Measurement, Metric, Phase, Spec};
use gitops_core::rollout::progress::{Kind, Next, Progress, Start};
use serde_json::Value;

use crate::analysis::{self, Document, Options};

/// Why a Rollout could not be stepped through.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Rollout is invalid (names the field).
    #[error(transparent)]
    Rollout(#[from] gitops_core::rollout::Error),
    /// A template could not be read, or is invalid.
    #[error(transparent)]
    Analysis(#[from] analysis::Error),
    /// An analysis names a template none of the files holds.
    #[error("analysis {run}: no {kind} named `{name}` in the template files")]
    MissingTemplate {
        /// The AnalysisRun it would be.
        run: String,
        /// AnalysisTemplate or ClusterAnalysisTemplate.
        kind: &'static str,
        /// The template.
        name: String,
    },
}

/// What happened, as it happens (the background analysis reports from its own thread).
#[derive(Debug)]
pub enum Event<'a> {
    /// A canary step is reached: its index and the step as written.
    Step(usize, &'a Value),
    /// An analysis starts.
    AnalysisStarted(&'a Start),
    /// A measurement was taken.
    Measurement(&'a Start, &'a Metric, &'a Measurement),
    /// An analysis ended, with its run's message.
    AnalysisEnded(&'a Start, Phase, &'a str),
    /// Blue-green: the active service now selects this hash.
    Promoted(&'a str),
}

/// The end of a run: the Rollout with its status, and the AnalysisRuns, in the order they
/// started.
#[derive(Debug)]
pub struct Outcome {
    /// Where the progression stopped.
    pub progress: Progress,
    /// The AnalysisRun documents.
    pub runs: Vec<Value>,
}

/// The templates of `paths` by kind and name.
pub fn read_templates(paths: &[&Path]) -> Result<Vec<Document>, Error> {
    Ok(analysis::read_documents(paths)?)
}

/// The merged spec of `start`'s templates.
fn spec_of(start: &Start, templates: &[Document]) -> Result<Spec, Error> {
    let mut specs = Vec::new();
    for t in &start.templates {
        let kind = if t.cluster_scope { "ClusterAnalysisTemplate" } else { "AnalysisTemplate" };
        let found = templates
            .iter()
            .find(|d| d.kind == kind && d.name == t.name)
            .ok_or_else(|| Error::MissingTemplate { run: start.name.clone(), kind, name: t.name.clone() })?;
        specs.push(found.spec.clone());
    }
    Ok(Spec::merge(specs).map_err(analysis::Error::from)?)
}

/// The metrics of `start`, ready to run (templates found, arguments resolved, providers known).
fn metrics_of(start: &Start, templates: &[Document]) -> Result<(Spec, Vec<Metric>), Error> {
    let spec = spec_of(start, templates)?;
    let metrics = spec.resolve(&start.args).map_err(analysis::Error::from)?;
    analysis::check_providers(&metrics)?;
    Ok((spec, metrics))
}

/// Steps `rollout` through to Healthy, Paused or Degraded, measuring its analyses with
/// `templates` (from [`read_templates`]) and `options`. Every analysis is checked before
/// anything runs. `report` is called from this thread and the background analysis' one.
pub fn run(
    rollout: &Value,
    templates: &[Document],
    options: &Options,
    report: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Outcome, Error> {
    let mut progress = Progress::new(rollout)?;
    for start in progress.planned()? {
        metrics_of(&start, templates)?;
    }
    let scale = if options.interval_scale > 0.0 { options.interval_scale } else { 1.0 };
    // Set by the background analysis when it fails: the step analysis in progress stops.
    let background_failed = Arc::new(AtomicBool::new(false));
    // Set when the steps are done: the background analysis is terminated.
    let steps_done = Arc::new(AtomicBool::new(false));
    let background: Mutex<Option<(Start, Phase, String, Value)>> = Mutex::new(None);
    let mut runs = Vec::new();
    std::thread::scope(|scope| -> Result<(), Error> {
        let mut background_thread = None;
        let steps = progress.steps().to_vec();
        // The next step to report: steps are reported once reached, even those passed at once.
        let mut reported = progress.step_index().unwrap_or(0);
        loop {
            if background_failed.load(Ordering::SeqCst)
                && let Some((_, phase, message, _)) = background.lock().map_or(None, |b| b.clone())
            {
                progress.analysis_done(Kind::Background, phase.as_str(), &message);
            }
            let active_before = active(&progress);
            let next = progress.advance()?;
            if let Some(i) = progress.step_index() {
                while reported < (i + 1).min(steps.len()) {
                    report(Event::Step(reported, &steps[reported]));
                    reported += 1;
                }
            }
            if let Some(now) = active(&progress).filter(|a| Some(a) != active_before.as_ref()) {
                report(Event::Promoted(&now));
            }
            match next {
                Next::Done => break,
                Next::Wait { ms, .. } => {
                    let deadline = Instant::now() + Duration::from_secs_f64(ms as f64 * scale / 1000.0);
                    while Instant::now() < deadline && !background_failed.load(Ordering::SeqCst) {
                        std::thread::sleep((deadline - Instant::now()).min(Duration::from_millis(20)));
                    }
                    if !background_failed.load(Ordering::SeqCst) {
                        progress.pause_done();
                    }
                }
                Next::Analysis(start) if start.kind == Kind::Background => {
                    let (spec, metrics) = metrics_of(&start, templates)?;
                    let options = Options { stop: Some(steps_done.clone()), ..options.clone() };
                    let (failed, slot, progress_now) = (&background_failed, &background, progress.clone());
                    report(Event::AnalysisStarted(&start));
                    background_thread = Some(scope.spawn(move || {
                        let (phase, run) =
                            analysis::run(metrics, &options, &mut |m, x| report(Event::Measurement(&start, m, x)));
                        let message = run.message(phase);
                        report(Event::AnalysisEnded(&start, phase, &message));
                        let doc = progress_now.analysis_run(&start, &spec, &run, phase);
                        if let Ok(mut s) = slot.lock() {
                            *s = Some((start.clone(), phase, message, doc));
                        }
                        if phase != Phase::Successful {
                            failed.store(true, Ordering::SeqCst);
                        }
                    }));
                }
                Next::Analysis(start) => {
                    let (spec, metrics) = metrics_of(&start, templates)?;
                    report(Event::AnalysisStarted(&start));
                    let options = Options { stop: Some(background_failed.clone()), ..options.clone() };
                    let (phase, run) =
                        analysis::run(metrics, &options, &mut |m, x| report(Event::Measurement(&start, m, x)));
                    let message = run.message(phase);
                    report(Event::AnalysisEnded(&start, phase, &message));
                    runs.push(progress.analysis_run(&start, &spec, &run, phase));
                    if background_failed.load(Ordering::SeqCst) {
                        // The background analysis failed first: it aborts the update.
                        continue;
                    }
                    progress.analysis_done(start.kind, phase.as_str(), &message);
                }
            }
        }
        steps_done.store(true, Ordering::SeqCst);
        if let Some(t) = background_thread {
            let _ = t.join();
        }
        Ok(())
    })?;
    if let Some((_, phase, message, doc)) = background.into_inner().ok().flatten() {
        progress.analysis_done(Kind::Background, phase.as_str(), &message);
        runs.insert(0, doc);
    }
    Ok(Outcome { progress, runs })
}

fn active(p: &Progress) -> Option<String> {
    p.rollout().pointer("/status/blueGreen/activeSelector").and_then(Value::as_str).map(str::to_string)
}
