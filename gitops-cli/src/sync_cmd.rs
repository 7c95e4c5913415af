//! `gitops sync`, `gitops reconcile`, `gitops watch` and `gitops status`: an app against a
//! target, once or in a loop, and what the last pass left.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use clap::Args;
use gitops_core::app::{self, AppSpec};
use gitops_core::{Object, quantity};
use gitops_kube::FileCluster;
use gitops_kube::executor::{Event, NOT_ASSESSED};
use gitops_kube::reconcile::{self, DesiredState, Pass, Policy, Rendered, Request};
use gitops_render::app::{self as render_app, Renderers};
use gitops_render::git::Cache;
use gitops_render::helm::Helm;
use gitops_render::source::{self, Source};

use crate::output::{BOLD, GREEN, RED, RESET, YELLOW};
use crate::plan_cmd;
use crate::render_cmd::{cache_dir, read_objects};

/// Set by Ctrl-C (SIGINT) or SIGTERM: a sync in progress is terminated, a watch stops.
static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// Installs the handlers for [`STOP`]. Without them a signal would kill the process between
/// two steps: every file would still be whole, but nothing would say what was done. A second
/// signal exits at once (status 130), for a sync that does not stop.
fn handle_signals() -> Result<(), String> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&STOP))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&STOP)))
            .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    }
    Ok(())
}

fn stop_flag() -> &'static AtomicBool {
    &STOP
}

fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The app and where it goes: what every command here takes.
#[derive(Args, Debug)]
pub struct AppArgs {
    /// An Argo CD Application, or a Flux Kustomization with its GitRepository, in one file.
    #[arg(long, value_name = "FILE")]
    pub app: String,
    /// Render from this local checkout of the app's repository instead of fetching it (as
    /// `argocd app sync --local`); the app's path is taken inside it.
    #[arg(long, value_name = "DIR")]
    pub local: Option<PathBuf>,
    /// Where the app goes: `dir:PATH`, a FileCluster (default: `.gitops/cluster` next to the
    /// app file). `kube[:CONTEXT]` comes with the Kubernetes adapter.
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// The Git cache (default: GITOPS_CACHE, else ~/.cache/gitops).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<String>,
}

/// Arguments of `gitops sync` and `gitops reconcile`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    pub app: AppArgs,
    /// Prune objects the app no longer has, even if its sync policy does not.
    #[arg(long)]
    pub prune: bool,
    /// Go through the plan without writing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `gitops watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub app: AppArgs,
    /// Time between passes, as Go writes durations (`30s`, `3m`); default: the Flux
    /// Kustomization's `spec.interval`, else 3m (Argo CD's reconciliation timeout).
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Stop after this many passes (default: run until stopped).
    #[arg(long, value_name = "N")]
    pub passes: Option<u64>,
}

/// An app, read, with what it needs to render.
struct App {
    spec: AppSpec,
    source: Source,
    object: Object,
    renderers: Renderers,
    local: Option<PathBuf>,
    target: PathBuf,
}

impl App {
    fn read(args: &AppArgs) -> Result<App, String> {
        let objects = read_objects(&args.app)?;
        let spec = app::read(&args.app, &objects).map_err(|e| e.to_string())?;
        let source = source::read(&objects).map_err(|e| e.to_string())?;
        let object = objects
            .iter()
            .find(|o| o.name() == spec.name && matches!(o.kind(), "Application" | "Kustomization"))
            .cloned()
            .ok_or_else(|| format!("{}: the app object is missing", args.app))?;
        let cache = cache_dir(args.cache.as_ref()).ok().map(Cache::new);
        let renderers = Renderers {
            cache: cache.unwrap_or_else(|| Cache::new(std::env::temp_dir().join("gitops-cache"))),
            helm: Helm::from_env(),
            plugins: Vec::new(),
        };
        Ok(App { spec, source, object, renderers, local: args.local.clone(), target: target_dir(args)? })
    }

    /// Spec fields nothing here acts on yet, said out loud rather than dropped.
    fn unsupported(&self) -> Vec<&str> {
        // Read by the renderer (the source and Flux's kustomize fields), by `watch` (interval),
        // by the policy (suspend), or meaningless for a FileCluster target (project, the
        // destination cluster).
        const HANDLED: &[&str] = &[
            "spec.source",
            "spec.project",
            "spec.interval",
            "spec.suspend",
            "spec.sourceRef",
            "spec.path",
            "spec.images",
            "spec.patches",
            "spec.namePrefix",
            "spec.nameSuffix",
        ];
        self.spec.unused.iter().map(String::as_str).filter(|f| !HANDLED.contains(f)).collect()
    }

    fn suspended(&self) -> bool {
        self.object.value().pointer("/spec/suspend").and_then(serde_json::Value::as_bool).unwrap_or(false)
    }

    fn interval(&self, flag: Option<&str>) -> Result<Duration, String> {
        let text = flag.or_else(|| self.object.value().pointer("/spec/interval").and_then(serde_json::Value::as_str));
        match text {
            None => Ok(Duration::from_secs(180)),
            Some(t) => quantity::go_duration_nanos(t)
                .filter(|n| *n > 0)
                .map(|n| Duration::from_nanos(n.unsigned_abs()))
                .ok_or_else(|| format!("interval `{t}` is not a positive duration such as 30s or 3m")),
        }
    }
}

impl DesiredState for App {
    fn render(&mut self) -> Result<Rendered, String> {
        let rendered = match &self.local {
            Some(dir) => render_app::render_local(&self.source, dir, &self.renderers),
            None => render_app::render(&self.source, None, &self.renderers),
        }
        .map_err(|e| e.to_string())?;
        Ok(Rendered { revision: rendered.commit, objects: rendered.objects })
    }
}

fn target_dir(args: &AppArgs) -> Result<PathBuf, String> {
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

/// Runs one pass and prints it: the plan when it syncs, each step, and the outcome.
fn run_pass(app: &mut App, request: Request, out: &mut impl Write) -> Result<Pass, String> {
    let w = |e: std::io::Error| format!("writing output: {e}");
    let cluster = FileCluster::new(&app.target);
    let policy = Policy::of(&app.spec, app.suspended());
    let mut lines = Vec::new();
    let spec = app.spec.clone();
    let pass = reconcile::pass(&spec, app, &cluster, policy, request, &mut |e: &Event| {
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
        lines.push(format!("  {:<12} {kind} {place}: {colour}{}{RESET}", e.verb, e.outcome));
    })?;
    let s = &pass.status;
    writeln!(out, "{BOLD}{}{RESET} at {} -> {}", s.app, s.revision, app.target.display()).map_err(w)?;
    let unsupported = app.unsupported();
    if !unsupported.is_empty() {
        writeln!(out, "{YELLOW}note{RESET}: not supported yet, without effect: {}", unsupported.join(", "))
            .map_err(w)?;
    }
    if pass.synced || !pass.plan.errors.is_empty() {
        plan_cmd::print_text(out, &pass.plan).map_err(w)?;
    }
    if pass.synced {
        writeln!(out, "\n{BOLD}sync{RESET} ({NOT_ASSESSED}; waves and hooks are not held back)").map_err(w)?;
        for line in &lines {
            writeln!(out, "{line}").map_err(w)?;
        }
        if let Some(op) = &s.last_operation {
            writeln!(out, "\n{} synced, {} pruned, {} failed", op.synced, op.pruned, op.failed).map_err(w)?;
            if !op.not_done.is_empty() {
                writeln!(out, "{YELLOW}not done{RESET}: {}", op.not_done.join(", ")).map_err(w)?;
            }
        }
        if stopped() {
            writeln!(out, "{YELLOW}stopped{RESET}: the operation was terminated (Ctrl-C)").map_err(w)?;
        }
    }
    let colour = if s.sync == "Synced" { GREEN } else { YELLOW };
    let detail = match (&s.last_operation, pass.synced) {
        (Some(op), true) if op.phase != "Succeeded" => format!("{RED}sync {}{RESET}: {}", op.phase, op.message),
        (Some(op), true) => op.message.clone(),
        _ => s.message.clone(),
    };
    writeln!(out, "{colour}{}{RESET}: {detail}", s.sync).map_err(w)?;
    Ok(pass)
}

fn exit_code(pass: &Pass) -> ExitCode {
    let failed = pass.status.last_operation.as_ref().is_some_and(|op| pass.synced && op.phase != "Succeeded");
    if stopped() {
        ExitCode::from(130)
    } else if failed || !pass.plan.errors.is_empty() || pass.status.sync != "Synced" {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `gitops sync`: one pass that syncs whatever the policy says.
pub fn sync(args: SyncArgs) -> Result<ExitCode, String> {
    let mut app = App::read(&args.app)?;
    handle_signals()?;
    let request = Request { sync: true, prune: args.prune, dry_run: args.dry_run, stop: Some(stop_flag()) };
    let pass = run_pass(&mut app, request, &mut anstream::stdout().lock())?;
    Ok(if args.dry_run && pass.plan.errors.is_empty() { ExitCode::SUCCESS } else { exit_code(&pass) })
}

/// `gitops reconcile`: one pass of the loop (syncs only as the policy says).
pub fn reconcile(args: SyncArgs) -> Result<ExitCode, String> {
    let mut app = App::read(&args.app)?;
    handle_signals()?;
    let request = Request { sync: false, prune: args.prune, dry_run: args.dry_run, stop: Some(stop_flag()) };
    let pass = run_pass(&mut app, request, &mut anstream::stdout().lock())?;
    Ok(exit_code(&pass))
}

/// `gitops watch`: a pass every interval. A failing pass is reported and retried at the next.
pub fn watch(args: WatchArgs) -> Result<ExitCode, String> {
    let mut app = App::read(&args.app)?;
    let interval = app.interval(args.interval.as_deref())?;
    handle_signals()?;
    let request = Request { stop: Some(stop_flag()), ..Request::default() };
    let mut n = 0u64;
    loop {
        n += 1;
        let mut out = anstream::stdout().lock();
        if let Err(e) = run_pass(&mut app, request, &mut out) {
            let _ = writeln!(out, "{RED}pass {n} failed{RESET}: {e}");
        }
        drop(out);
        if args.passes.is_some_and(|max| n >= max) {
            return Ok(ExitCode::SUCCESS);
        }
        // Sleeps in slices so that Ctrl-C is answered at once.
        let until = std::time::Instant::now() + interval;
        while !stopped() && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50).min(until - std::time::Instant::now()));
        }
        if stopped() {
            let mut out = anstream::stdout().lock();
            let _ = writeln!(out, "{YELLOW}stopped{RESET} after {n} passes");
            return Ok(ExitCode::from(130));
        }
    }
}

/// `gitops status`: what the last pass left.
pub fn status(args: AppArgs) -> Result<ExitCode, String> {
    let app = App::read(&args)?;
    let cluster = FileCluster::new(&app.target);
    let Some(s) = reconcile::read_status(&cluster, &app.spec.name).map_err(|e| e.to_string())? else {
        return Err(format!(
            "{}: no status yet in {}; run `gitops reconcile` first",
            app.spec.name,
            app.target.display()
        ));
    };
    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    writeln!(out, "app:         {}", s.app).map_err(w)?;
    writeln!(out, "sync:        {}", s.sync).map_err(w)?;
    writeln!(out, "health:      {}", s.health).map_err(w)?;
    writeln!(out, "revision:    {}", s.revision).map_err(w)?;
    writeln!(out, "synced at:   {}", s.synced_revision.as_deref().unwrap_or("never")).map_err(w)?;
    writeln!(out, "reconciled:  {} ({})", s.reconciled_at, s.message).map_err(w)?;
    if let Some(op) = &s.last_operation {
        writeln!(
            out,
            "last sync:   {} at {}: {} ({} synced, {} pruned, {} failed)",
            op.phase, op.finished_at, op.message, op.synced, op.pruned, op.failed
        )
        .map_err(w)?;
    }
    Ok(if s.sync == "Synced" { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
