//! `gitops sync --app FILE`: one sync of an app into a target.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Args;
use gitops_core::app;
use gitops_core::sync::operation::{OperationOptions, OperationPhase, SyncOperation};
use gitops_core::sync::options::SyncOptions;
use gitops_core::sync::{Action, SyncPlan};
use gitops_kube::FileCluster;
use gitops_kube::executor::{self, Event, NOT_ASSESSED};
use gitops_render::app::{self as render_app, Renderers};
use gitops_render::git::Cache;
use gitops_render::helm::Helm;
use gitops_render::source;

use crate::output::{BOLD, GREEN, RED, RESET, YELLOW};
use crate::render_cmd::{cache_dir, read_objects};
use crate::{plan_cmd, planning};

/// Arguments of `gitops sync`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// An Argo CD Application, or a Flux Kustomization with its GitRepository, in one file.
    #[arg(long, value_name = "FILE")]
    pub app: String,
    /// Render from this local checkout of the app's repository instead of fetching it (as
    /// `argocd app sync --local`); the app's path is taken inside it.
    #[arg(long, value_name = "DIR")]
    pub local: Option<PathBuf>,
    /// Where to sync: `dir:PATH`, a FileCluster (default: `.gitops/cluster` next to the app
    /// file). `kube[:CONTEXT]` comes with the Kubernetes adapter.
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// Prune objects the app no longer has, even if its sync policy does not.
    #[arg(long)]
    pub prune: bool,
    /// Go through the plan without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// The Git cache (default: GITOPS_CACHE, else ~/.cache/gitops).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<String>,
}

fn target_dir(args: &SyncArgs) -> Result<PathBuf, String> {
    match args.target.as_deref() {
        None => {
            let parent = Path::new(&args.app).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            Ok(parent.join(".gitops/cluster"))
        }
        Some(t) if t.starts_with("dir:") => Ok(PathBuf::from(&t[4..])),
        Some(t) if t == "kube" || t.starts_with("kube:") => {
            Err(format!("--target {t}: syncing into a Kubernetes cluster is not available yet; use dir:PATH"))
        }
        Some(t) => Err(format!("--target {t}: expected dir:PATH")),
    }
}

/// Whether anything is out of sync (hooks alone do not make a sync: as Argo CD's automated
/// sync, an app already in sync is left alone).
fn out_of_sync(plan: &SyncPlan) -> bool {
    plan.tasks.iter().any(|t| matches!(t.action, Action::Create | Action::Update | Action::Prune))
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(args: SyncArgs) -> Result<ExitCode, String> {
    let objects = read_objects(&args.app)?;
    let spec = app::read(&args.app, &objects).map_err(|e| e.to_string())?;
    let source = source::read(&objects).map_err(|e| e.to_string())?;
    let cache = cache_dir(args.cache.as_ref()).ok().map(Cache::new);
    let renderers = Renderers {
        cache: cache.unwrap_or_else(|| Cache::new(std::env::temp_dir().join("gitops-cache"))),
        helm: Helm::from_env(),
        plugins: Vec::new(),
    };
    let rendered = match &args.local {
        Some(dir) => render_app::render_local(&source, dir, &renderers),
        None => render_app::render(&source, None, &renderers),
    }
    .map_err(|e| e.to_string())?;
    let namespace = spec.destination_namespace.clone().unwrap_or_else(|| "default".into());
    let flux_namespace = objects
        .iter()
        .find(|o| o.kind() == "Kustomization" && o.name() == spec.name)
        .map(|o| o.namespace().to_string())
        .unwrap_or_default();
    let mut desired = rendered.objects;
    for o in &mut desired {
        app::mark_tracked(o, &spec, &namespace, &flux_namespace);
    }
    let dir = target_dir(&args)?;
    let cluster = FileCluster::new(&dir);
    let lock = cluster.lock().map_err(|e| e.to_string())?;
    let live = cluster.list().map_err(|e| e.to_string())?;
    let (plan, _retry) = planning::build(Some(&spec), desired, live, None, args.prune, &rendered.commit)?;

    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    writeln!(out, "{BOLD}{}{RESET} at {} ({}) -> {}", spec.name, rendered.reference, rendered.commit, dir.display())
        .map_err(w)?;
    if !plan.errors.is_empty() {
        plan_cmd::print_text(&mut out, &plan).map_err(w)?;
        writeln!(out, "{RED}sync refused{RESET}").map_err(w)?;
        return Ok(ExitCode::from(1));
    }
    if !out_of_sync(&plan) {
        let n = plan.tasks.iter().filter(|t| t.action == Action::Unchanged).count();
        writeln!(out, "{GREEN}Synced{RESET}: nothing to apply ({n} objects in sync)").map_err(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    plan_cmd::print_text(&mut out, &plan).map_err(w)?;

    let (sync_options, _) =
        SyncOptions::parse(spec.sync_options.iter().map(String::as_str)).map_err(|e| e.to_string())?;
    let automated = spec.automated.unwrap_or_default();
    let options = OperationOptions {
        dry_run: args.dry_run,
        // Nothing on a FileCluster changes after an apply: no status to wait for.
        wave_delay: Duration::ZERO,
        ..OperationOptions::from_sync_options(&sync_options, automated.prune || args.prune)
    };
    let mut op = SyncOperation::new(plan, options, SystemTime::now());
    writeln!(out, "\n{BOLD}sync{RESET} ({NOT_ASSESSED}; waves and hooks are not held back)").map_err(w)?;
    let mut failed_write = None;
    executor::run(&mut op, &cluster, &lock, &spec, &mut |e: &Event| {
        let colour = if e.failed {
            RED
        } else if e.outcome == "unchanged" {
            ""
        } else {
            GREEN
        };
        let kind = if e.key.group.is_empty() { e.key.kind.clone() } else { format!("{}/{}", e.key.group, e.key.kind) };
        let place =
            if e.key.namespace.is_empty() { e.key.name.clone() } else { format!("{}/{}", e.key.namespace, e.key.name) };
        if let Err(err) = writeln!(out, "  {:<12} {kind} {place}: {colour}{}{RESET}", e.verb, e.outcome) {
            failed_write = Some(err);
        }
    })
    .map_err(|e| e.to_string())?;
    if let Some(e) = failed_write {
        return Err(w(e));
    }
    drop(lock);
    let results = op.results();
    let count =
        |code: gitops_core::sync::operation::ResultCode| results.iter().filter(|r| r.code == Some(code)).count();
    use gitops_core::sync::operation::ResultCode as Code;
    writeln!(
        out,
        "\n{} synced, {} pruned, {} prune skipped, {} failed",
        count(Code::Synced),
        count(Code::Pruned),
        count(Code::PruneSkipped),
        count(Code::SyncFailed)
    )
    .map_err(w)?;
    let (word, colour, code) = match op.phase() {
        OperationPhase::Succeeded => ("Synced", GREEN, ExitCode::SUCCESS),
        OperationPhase::Running | OperationPhase::Terminating => ("Incomplete", YELLOW, ExitCode::from(1)),
        _ => ("Failed", RED, ExitCode::from(1)),
    };
    let message = op.message();
    writeln!(out, "{colour}{word}{RESET}{}", if message.is_empty() { String::new() } else { format!(": {message}") })
        .map_err(w)?;
    Ok(code)
}
