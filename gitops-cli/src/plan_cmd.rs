//! `gitops plan DESIRED LIVE`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use gitops_core::Object;
use gitops_core::sync::prepare::{Inputs, prepare};
use gitops_core::sync::report::{PlanReport, Summary, retry_delays};
use gitops_core::sync::{Action, SyncPlan, Task};

use crate::app_input;
use crate::output::{BOLD, CYAN, GREEN, RED, RESET, YELLOW, kind_of};

/// Arguments of `gitops plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Desired state: a manifest file, a directory (read recursively) or `-` for stdin.
    pub desired: String,
    /// Live state: a file, a directory or `-` (objects as the API server returns them).
    pub live: String,
    /// An Argo CD Application or Flux Kustomization: sync options, automated prune and
    /// allowEmpty, destination namespace, ignoreDifferences; only live objects it tracks are pruned.
    #[arg(long, value_name = "FILE")]
    pub app: Option<PathBuf>,
    /// Destination namespace for objects that do not name one.
    #[arg(long, short = 'n', value_name = "NS", value_parser = crate::app_input::namespace_arg)]
    pub namespace: Option<String>,
    /// An argocd-cm ConfigMap: system-level ignoreDifferences, compare options, known types.
    #[arg(long, value_name = "FILE")]
    pub argocd_cm: Option<PathBuf>,
    /// Prune even if the app's sync policy does not (as a manual sync with "Prune" ticked).
    #[arg(long)]
    pub prune: bool,
    /// The revision being synced (names `generateName` hooks).
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub revision: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Refuse manifests that give a key twice in one mapping (by default the last value wins,
    /// with a warning naming both lines, as kubectl and Argo CD read them).
    #[arg(long)]
    pub strict: bool,
}

/// Output formats of `gitops plan`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The ordered steps, one line per task.
    Text,
    /// The stable JSON document.
    Json,
}

fn load(path: &str, reading: &gitops_render::Reading) -> Result<Vec<Object>, String> {
    gitops_render::load_with(path, reading).map_err(|e| e.to_string())
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(args: PlanArgs) -> Result<ExitCode, String> {
    if args.desired == "-" && args.live == "-" {
        return Err("DESIRED and LIVE cannot both be read from standard input".into());
    }
    let app = app_input::read_app(args.app.as_ref())?;
    let reading = app_input::reading(args.strict);
    let desired = load(&args.desired, &reading)?;
    let live = load(&args.live, &reading)?;
    app_input::print_warnings(&reading);
    let inputs = Inputs {
        app: app.as_ref(),
        namespace: args.namespace.as_deref(),
        settings: app_input::argocd_cm_settings(args.argocd_cm.as_deref())?,
        prune: args.prune,
        revision: &args.revision,
        started_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        predicted: None,
    };
    let (planned, retry) = prepare(&inputs, desired, live).map_err(|e| e.to_string())?;
    let mut out = anstream::stdout().lock();
    let w = |e: io::Error| format!("writing output: {e}");
    match args.output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &PlanReport::new(&planned, retry.as_ref()))
                .map_err(|e| w(e.into()))?;
            writeln!(out).map_err(w)?;
        }
        Format::Text => {
            print_text(&mut out, &planned).map_err(w)?;
            if let Some(r) = &retry {
                let delays: Vec<String> = retry_delays(r).iter().map(|d| format!("{}s", d.as_secs_f64())).collect();
                let limit = if r.limit < 0 { "unlimited".to_string() } else { r.limit.to_string() };
                writeln!(out, "on failure: retried {limit} times, waiting {} ...", delays.join(", ")).map_err(w)?;
            }
        }
    }
    Ok(if planned.has_work() || !planned.errors.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn action_text(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Unchanged => "unchanged",
        Action::Prune => "prune",
        Action::PruneSkipped => "prune skipped",
        Action::HookCreate => "hook create",
    }
}

/// Prints the plan as text, in the order the sync runs it.
pub(crate) fn print_text(out: &mut impl Write, p: &SyncPlan) -> io::Result<()> {
    let wk = p.tasks.iter().map(|t| kind_of(&t.key).len()).max().unwrap_or(0).max(4);
    let wn = p.tasks.iter().map(|t| t.key.namespace.len()).max().unwrap_or(0).max(9);
    let wm = p.tasks.iter().map(|t| t.key.name.len()).max().unwrap_or(0).max(4);
    let line = |out: &mut dyn Write, colour: &str, action: &str, t: &Task, reason: &str| {
        writeln!(
            out,
            "  {colour}{action:<13}{RESET} {:<wk$}  {:<wn$}  {:<wm$}  {reason}",
            kind_of(&t.key),
            t.key.namespace,
            t.key.name,
        )
    };
    // The tasks come in execution order; the one step that is not a task of its own, deleting
    // the instances of hooks an earlier sync left, runs after the wave's prunes.
    for wave in p.tasks.chunk_by(|a, b| (a.phase, a.wave) == (b.phase, b.wave)) {
        writeln!(out, "{BOLD}{} wave {}{RESET}", wave[0].phase.as_str(), wave[0].wave)?;
        let prunes = wave.iter().take_while(|t| t.is_prune()).count();
        for t in &wave[..prunes] {
            let colour = if t.action == Action::Prune { RED } else { CYAN };
            line(out, colour, action_text(t.action), t, &t.reason)?;
        }
        for t in wave.iter().filter(|t| t.replaces_earlier_hook()) {
            line(out, RED, "delete hook", t, "the instance an earlier sync left (BeforeHookCreation)")?;
        }
        for t in &wave[prunes..] {
            let colour = match t.action {
                Action::Create | Action::HookCreate => GREEN,
                Action::Update => YELLOW,
                Action::Prune => RED,
                Action::PruneSkipped => CYAN,
                Action::Unchanged => "",
            };
            line(out, colour, action_text(t.action), t, &t.reason)?;
        }
    }
    for s in &p.skipped {
        writeln!(out, "skipped {}: {}", s.key, s.reason)?;
    }
    for w in &p.warnings {
        writeln!(out, "{YELLOW}warning:{RESET} {w}")?;
    }
    for e in &p.errors {
        writeln!(out, "{RED}error:{RESET} {e} (the sync would not run)")?;
    }
    let c = Summary::of(p);
    writeln!(
        out,
        "{}: {} to create, {} to update, {} unchanged, {} to prune, {} prune skipped, {} hooks",
        if p.has_work() { "plan" } else { "nothing to do" },
        c.create,
        c.update,
        c.unchanged,
        c.prune,
        c.prune_skipped,
        c.hook
    )
}
