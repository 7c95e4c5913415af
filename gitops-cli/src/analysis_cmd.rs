//! `gitops analysis run`: Argo Rollouts analyses from template files, measured as the
//! Rollouts analysis controller measures them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use gitops_core::analysis::Phase;
use gitops_render::analysis::{self, Options};

use crate::output::{BOLD, GREEN, RED, RESET, YELLOW};

/// Subcommands of `gitops analysis`.
#[derive(Subcommand, Debug)]
pub enum AnalysisCommand {
    /// Runs the metrics of AnalysisTemplates, ClusterAnalysisTemplates or AnalysisRuns
    /// (merged, as a Rollout merges the templates of one analysis) until the run completes:
    /// prints each measurement, each metric's phase and the run's phase.
    ///
    /// Exit status: 0 Successful, 1 Failed or Inconclusive, 2 Error, or bad input (an unknown
    /// provider, a condition that does not compile, a missing argument).
    Run(RunArgs),
}

/// Arguments of `gitops analysis run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Files holding the templates (other documents in them are passed over).
    #[arg(required = true, value_name = "TEMPLATE")]
    pub templates: Vec<PathBuf>,
    /// An argument, `NAME=VALUE`, over the templates' own values; repeatable.
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Terminate the run after this long (scaled, e.g. `10m`), so that metrics measured
    /// indefinitely (an interval and no count) end, as when their Rollout step ends.
    #[arg(long, value_name = "DURATION")]
    pub terminate_after: Option<String>,
}

/// How analyses are measured (shared with `gitops rollout run`).
#[derive(Args, Debug)]
pub struct MeasureArgs {
    /// The Prometheus every `prometheus` metric queries, instead of its `address`.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Multiply every interval and initial delay (and a Rollout's pauses) by this (0.01 runs
    /// a `1m` interval in 0.6 s), to try a template without waiting real time.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    pub interval_scale: f64,
}

impl MeasureArgs {
    /// The options they give, checked.
    pub(crate) fn options(&self) -> Result<Options, String> {
        if !(self.interval_scale > 0.0 && self.interval_scale.is_finite()) {
            return Err("--interval-scale must be a number above 0".into());
        }
        Ok(Options { prometheus: self.prometheus.clone(), interval_scale: self.interval_scale, ..Default::default() })
    }
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(command: AnalysisCommand) -> Result<ExitCode, String> {
    let AnalysisCommand::Run(args) = command;
    let options = args.measure.options()?;
    let terminate_after = match &args.terminate_after {
        None => None,
        Some(t) => Some(Duration::from_nanos(
            gitops_core::quantity::go_duration_nanos(t)
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("--terminate-after: `{t}` is not a duration"))? as u64,
        )),
    };
    let paths: Vec<&Path> = args.templates.iter().map(PathBuf::as_path).collect();
    let spec = analysis::read_spec(&paths).map_err(|e| e.to_string())?;
    let given = analysis::parse_args(args.args.iter().map(String::as_str))?;
    let metrics = spec.resolve(&given).map_err(|e| e.to_string())?;
    analysis::check_providers(&metrics).map_err(|e| e.to_string())?;
    let options = Options { terminate_after, ..options };
    let mut out = anstream::stdout().lock();
    let mut counts = std::collections::HashMap::new();
    let mut failed_write = None;
    let (phase, run) = analysis::run(metrics, &options, &mut |metric, m| {
        let n = counts.entry(metric.name.clone()).or_insert(0);
        *n += 1;
        let dry = if metric.dry_run { " (dry run)" } else { "" };
        let message = if m.message.is_empty() { String::new() } else { format!("  {}", m.message) };
        if let Err(e) =
            writeln!(out, "{}{dry} #{n}: {}{}{RESET} {}{message}", metric.name, colour(m.phase), m.phase, m.value)
                .and_then(|_| out.flush())
        {
            failed_write.get_or_insert(e);
        }
    });
    if let Some(e) = failed_write {
        return Err(format!("writing output: {e}"));
    }
    let written = (|| -> std::io::Result<()> {
        for r in &run.results {
            let p = r.phase.unwrap_or(Phase::Pending);
            let dry = if r.dry_run { " (dry run)" } else { "" };
            let why = if r.message.is_empty() { String::new() } else { format!(" ({})", r.message) };
            writeln!(
                out,
                "{BOLD}metric {}{dry}:{RESET} {}{p}{RESET}{why}: {} successful, {} failed, {} inconclusive, {} error",
                r.name,
                colour(p),
                r.successful,
                r.failed,
                r.inconclusive,
                r.error
            )?;
        }
        writeln!(out, "{BOLD}phase:{RESET} {}{phase}{RESET}", colour(phase))
    })();
    written.map_err(|e| format!("writing output: {e}"))?;
    Ok(match phase {
        Phase::Successful => ExitCode::SUCCESS,
        Phase::Failed | Phase::Inconclusive => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}

fn colour(p: Phase) -> &'static str {
    match p {
        Phase::Successful => GREEN,
        Phase::Failed | Phase::Error => RED,
        _ => YELLOW,
    }
}
