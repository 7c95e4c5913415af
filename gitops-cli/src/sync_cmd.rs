//! `gitops sync`, `gitops reconcile`, `gitops watch` and `gitops status`: an app against a
//! target, once or in a loop, and what the last pass left.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use clap::Args;
use gitops_core::app::{self, AppSpec};
use gitops_core::sync::SyncPlan;
use gitops_core::{Object, ResourceKey, quantity};
use gitops_health::HealthChecks;
use gitops_kube::executor::{Event, NOT_ASSESSED};
use gitops_kube::reconcile::{self, DesiredState, Pass, Policy, Progress, Rendered, Request, Target};
use gitops_kube::{Cluster, FileCluster, KubeCluster};
use gitops_render::app::{self as render_app, Renderers};
use gitops_render::git::Cache;
use gitops_render::helm::Helm;
use gitops_render::source::{self, Source};

use crate::health_cmd::health_checks;
use crate::output::{BOLD, GREEN, RED, RESET, YELLOW};
use crate::plan_cmd;
use crate::render_cmd::{cache_dir, read_objects, read_plugins};

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
    /// The app to use when FILE holds several (several Flux Kustomizations, say).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Render from this local checkout of the app's repository instead of fetching it (as
    /// `argocd app sync --local`); the app's path is taken inside it.
    #[arg(long, value_name = "DIR")]
    pub local: Option<PathBuf>,
    /// Where the app goes: `dir:PATH`, a FileCluster (default: `.gitops/cluster` next to the
    /// app file), or `kube[:CONTEXT]`, a Kubernetes cluster (the kubeconfig's current context,
    /// or CONTEXT).
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// The kubeconfig for `--target kube` (default: KUBECONFIG, else ~/.kube/config, else the
    /// in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Health checks in Argo CD's `resource_customizations` layout, over the bundled ones.
    #[arg(long, value_name = "DIR")]
    pub customizations: Option<PathBuf>,
    /// Health checks from an `argocd-cm` ConfigMap (its `resource.customizations...` keys).
    #[arg(long, value_name = "FILE")]
    pub argocd_cm: Option<PathBuf>,
    /// The Git cache (default: GITOPS_CACHE, else ~/.cache/gitops).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<String>,
    /// Refuse manifests that give a key twice in one mapping (by default the last value wins,
    /// with a warning naming both lines, as kubectl and Argo CD read them).
    #[arg(long)]
    pub strict: bool,
    /// An Argo CD ConfigManagementPlugin manifest (a sidecar's plugin.yaml) the app may name
    /// (repeatable), as the repo server would have it.
    #[arg(long = "plugin", value_name = "FILE")]
    pub plugins: Vec<String>,
    /// Render this revision (branch, tag, commit) instead of the app's `targetRevision`, as
    /// `argocd app sync --revision` does.
    #[arg(long, value_name = "REV", conflicts_with = "local")]
    pub revision: Option<String>,
}

/// Arguments of `gitops sync` and `gitops reconcile`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    pub app: AppArgs,
    /// Prune objects the app no longer has, even if its sync policy does not.
    #[arg(long)]
    pub prune: bool,
    /// Go through the plan without writing anything (server-side dry runs on a cluster).
    #[arg(long)]
    pub dry_run: bool,
    /// Server-side applies take over fields another field manager owns.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Sync only this resource, `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME` (the core
    /// group is empty: `:ConfigMap:settings`); repeatable. As Argo CD's selective sync, no
    /// hook runs.
    #[arg(long = "resource", value_name = "GROUP:KIND:NAME")]
    pub resources: Vec<gitops_core::sync::select::ResourceSelector>,
    /// Compare through the API server, as Argo CD's `ServerSideDiff=true` (also turned on by
    /// the app's annotation `argocd.argoproj.io/compare-options: ServerSideDiff=true`): a
    /// server-side apply dry run of each object predicts live. Kube targets only.
    #[arg(long)]
    pub server_side_diff: bool,
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

/// Where an app goes.
#[derive(Debug, Clone)]
enum TargetSpec {
    /// A FileCluster directory.
    Dir(PathBuf),
    /// A Kubernetes cluster: a kubeconfig context, or the current one.
    Kube(Option<String>),
}

/// An app, read, with what it needs to render and to sync.
struct App {
    spec: AppSpec,
    source: Source,
    object: Object,
    renderers: Renderers,
    local: Option<PathBuf>,
    /// `--revision`: rendered instead of the app's own.
    revision: Option<String>,
    target: TargetSpec,
    kubeconfig: Option<PathBuf>,
    /// Where a kube target's status is kept: `.gitops/status` next to the app file.
    status_dir: PathBuf,
    checks: HealthChecks,
    /// Connected once, kept for every pass (discovery stays cached).
    kube: Option<KubeCluster>,
}

impl App {
    fn read(args: &AppArgs) -> Result<App, String> {
        let objects = crate::app_input::one_app(&args.app, read_objects(&args.app)?, args.name.as_deref())?;
        let spec = app::read(&args.app, &objects).map_err(|e| e.to_string())?;
        let source = source::read(&objects).map_err(|e| e.to_string())?;
        let object = app::select(&args.app, &objects, None).map_err(|e| e.to_string())?.clone();
        let cache = cache_dir(args.cache.as_ref()).ok().map(Cache::new);
        let renderers = Renderers {
            cache: cache.unwrap_or_else(|| Cache::new(std::env::temp_dir().join("gitops-cache"))),
            helm: Helm::from_env(),
            plugins: read_plugins(&args.plugins)?,
            reading: Arc::new(crate::app_input::reading(args.strict)),
        };
        let app_dir = Path::new(&args.app).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Ok(App {
            spec,
            source,
            object,
            renderers,
            local: args.local.clone(),
            revision: args.revision.clone(),
            target: target_spec(args.target.as_deref(), app_dir)?,
            kubeconfig: args.kubeconfig.clone(),
            status_dir: beside_app(app_dir, "status")?,
            checks: health_checks(args.customizations.as_deref(), args.argocd_cm.as_deref())?,
            kube: None,
        })
    }

    /// Spec fields nothing here acts on yet, said out loud rather than dropped.
    fn unsupported(&self) -> Vec<&str> {
        // Read by the renderer (the source and Flux's kustomize fields), by `watch` (interval),
        // by the policy (suspend), or chosen by --target instead (project, the destination cluster).
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
        // Fields the kind does not have at all were named when the app was read.
        let unknown: Vec<String> = gitops_core::app_fields::unknown(&self.object).into_iter().map(|u| u.path).collect();
        self.spec
            .unused
            .iter()
            .map(String::as_str)
            .filter(|f| !HANDLED.contains(f) && !unknown.iter().any(|u| u == f))
            .collect()
    }

    /// Whether passes compare through the API server: asked for with `--server-side-diff` or by
    /// the app's compare options (`ServerSideDiff=true`, as Argo CD reads them), on a kube target
    /// (a directory has no server to ask).
    fn server_side_diff(&self, flag: bool) -> bool {
        let annotated = self
            .object
            .annotation(gitops_core::diff::COMPARE_OPTIONS)
            .is_some_and(|o| o.split(',').any(|x| x.trim().eq_ignore_ascii_case("ServerSideDiff=true")));
        matches!(self.target, TargetSpec::Kube(_)) && (flag || annotated)
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

    /// Where the status of this app on this target is kept.
    fn status_path(&self) -> Result<PathBuf, String> {
        match &self.target {
            TargetSpec::Dir(root) => {
                reconcile::status_path(&FileCluster::new(root), &self.spec.name).map_err(|e| e.to_string())
            }
            TargetSpec::Kube(_) => {
                let context = self.kube_context()?;
                let context = KubeCluster::context_name(self.kubeconfig.as_deref(), context.as_deref())
                    .map_err(|e| e.to_string())?;
                let dir: String = context
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                    .collect();
                let dir = self.status_dir.join(format!("kube-{dir}"));
                let file = dir.join(format!("{}.json", self.spec.name));
                for p in [&dir, &file] {
                    if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
                        return Err(format!(
                            "{}: is a symlink; gitops does not follow links to its status",
                            p.display()
                        ));
                    }
                }
                Ok(file)
            }
        }
    }

    /// The kubeconfig context of a kube target: the one named in `--target kube:CONTEXT`,
    /// else the one reaching the Application's destination, else the current one (`None`).
    fn kube_context(&self) -> Result<Option<String>, String> {
        match &self.target {
            TargetSpec::Kube(Some(c)) => Ok(Some(c.clone())),
            TargetSpec::Kube(None) => KubeCluster::context_for_destination(
                self.kubeconfig.as_deref(),
                self.spec.rollout.destination_name.as_deref(),
                self.spec.rollout.destination_server.as_deref(),
            )
            .map_err(|e| e.to_string()),
            TargetSpec::Dir(_) => Ok(None),
        }
    }

    /// Where output says the app goes.
    fn target_name(&self) -> String {
        match &self.target {
            TargetSpec::Dir(root) => root.display().to_string(),
            TargetSpec::Kube(None) => "kube (current context)".into(),
            TargetSpec::Kube(Some(c)) => format!("kube:{c}"),
        }
    }
}

impl DesiredState for App {
    fn render(&mut self) -> Result<Rendered, String> {
        let rendered = match &self.local {
            Some(dir) => render_app::render_local(&self.source, dir, &self.renderers),
            None => render_app::render(&self.source, self.revision.as_deref(), &self.renderers),
        };
        crate::app_input::print_warnings(&self.renderers.reading);
        let rendered = rendered.map_err(|e| e.to_string())?;
        Ok(Rendered { revision: rendered.commit, objects: rendered.objects })
    }
}

/// `<app dir>/.gitops/<leaf>`, the default place of a target or of kube status, refused when a
/// part of it is a symlink: the app file's directory is usually a repository, which can commit a
/// link there that leads writes anywhere. A target chosen with `--target dir:PATH` is trusted.
fn beside_app(app_dir: &Path, leaf: &str) -> Result<PathBuf, String> {
    let dir = app_dir.join(".gitops");
    for p in [dir.clone(), dir.join(leaf)] {
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!(
                "{}: is a symlink; gitops does not follow links at its default target (pass --target dir:PATH)",
                p.display()
            ));
        }
    }
    Ok(dir.join(leaf))
}

fn target_spec(target: Option<&str>, app_dir: &Path) -> Result<TargetSpec, String> {
    match target {
        None => Ok(TargetSpec::Dir(beside_app(app_dir, "cluster")?)),
        Some(t) if t.starts_with("dir:") && t.len() > 4 => Ok(TargetSpec::Dir(PathBuf::from(&t[4..]))),
        Some("kube") => Ok(TargetSpec::Kube(None)),
        Some(t) if t.starts_with("kube:") && t.len() > 5 => Ok(TargetSpec::Kube(Some(t[5..].to_string()))),
        Some(t) => Err(format!("--target {t}: expected dir:PATH, kube or kube:CONTEXT")),
    }
}

/// The async runtime of one command: one thread, as one sync drives one cluster.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))
}

/// Prints a pass as it goes: the plan, one line per step (with a progress bar under them on a
/// terminal), then a summary table.
struct Printer<'a> {
    out: &'a mut dyn Write,
    tty: bool,
    assesses_health: bool,
    total: usize,
    done: usize,
    /// The width of the bar on screen (0: none).
    bar: usize,
    error: Option<std::io::Error>,
}

impl Printer<'_> {
    fn write(&mut self, text: std::fmt::Arguments<'_>) {
        if self.error.is_none()
            && let Err(e) = self.out.write_fmt(text).and_then(|()| self.out.flush())
        {
            self.error = Some(e);
        }
    }

    /// Blanks the bar with spaces: escape sequences would be stripped under NO_COLOR.
    fn clear_bar(&mut self) {
        if self.bar > 0 {
            let blank = " ".repeat(self.bar);
            self.write(format_args!("\r{blank}\r"));
            self.bar = 0;
        }
    }

    fn draw_bar(&mut self, note: &str) {
        if !self.tty || self.total == 0 {
            return;
        }
        const WIDTH: usize = 24;
        // Hook deletions are steps too, beyond the plan's tasks.
        let done = self.done.min(self.total);
        let filled = done * WIDTH / self.total;
        let note: String = note.chars().take(60).collect();
        let bar = format!("[{}{}] {done}/{} {note}", "=".repeat(filled), " ".repeat(WIDTH - filled), self.total);
        self.clear_bar();
        self.write(format_args!("{bar}"));
        self.bar = bar.chars().count();
    }
}

fn kind_of(k: &ResourceKey) -> String {
    if k.group.is_empty() { k.kind.clone() } else { format!("{}/{}", k.group, k.kind) }
}

fn place_of(k: &ResourceKey) -> String {
    if k.namespace.is_empty() { k.name.clone() } else { format!("{}/{}", k.namespace, k.name) }
}

impl Progress for Printer<'_> {
    fn planned(&mut self, plan: &SyncPlan, syncing: bool) {
        if (syncing || !plan.errors.is_empty())
            && self.error.is_none()
            && let Err(e) = plan_cmd::print_text(&mut self.out, plan)
        {
            self.error = Some(e);
        }
        if syncing {
            self.total = plan.tasks.len();
            let note = if self.assesses_health {
                String::new()
            } else {
                format!(" ({NOT_ASSESSED}; waves and hooks are not held back)")
            };
            self.write(format_args!("\n{BOLD}sync{RESET}{note}\n"));
        }
    }

    fn step(&mut self, e: &Event) {
        if e.verb == "wait" {
            if self.tty {
                self.draw_bar(&e.outcome);
            } else {
                self.write(format_args!("  {:<12} {}\n", "wait", e.outcome));
            }
            return;
        }
        self.done += 1;
        let colour = if e.failed {
            RED
        } else if e.outcome == "unchanged" {
            ""
        } else {
            GREEN
        };
        self.clear_bar();
        self.write(format_args!(
            "  {:<12} {} {}: {colour}{}{RESET}\n",
            e.verb,
            kind_of(&e.key),
            place_of(&e.key),
            e.outcome
        ));
        self.draw_bar("");
    }
}

/// Runs one pass on `cluster` and prints it: the plan when it syncs, each step as it is done,
/// a summary table, and the outcome.
async fn run_pass_on<C: Cluster>(
    app: &mut App,
    cluster: &C,
    request: Request,
    out: &mut dyn Write,
) -> Result<Pass, String> {
    let w = |e: std::io::Error| format!("writing output: {e}");
    let status = app.status_path()?;
    let policy = Policy::of(&app.spec, app.suspended());
    writeln!(out, "{BOLD}{}{RESET} -> {}", app.spec.name, cluster.describe()).map_err(w)?;
    if request.sync && app.suspended() {
        // `flux reconcile` refuses a suspended Kustomization; a sync asked for by hand runs.
        writeln!(
            out,
            "{YELLOW}note{RESET}: the app is suspended (spec.suspend: true); syncing because it was asked for"
        )
        .map_err(w)?;
    }
    let unsupported = app.unsupported();
    if !unsupported.is_empty() {
        writeln!(out, "{YELLOW}note{RESET}: not supported yet, without effect: {}", unsupported.join(", "))
            .map_err(w)?;
    }
    let spec = app.spec.clone();
    let checks = app.checks.clone();
    let tty = std::io::stdout().is_terminal();
    let mut printer =
        Printer { out, tty, assesses_health: cluster.assesses_health(), total: 0, done: 0, bar: 0, error: None };
    let target = Target { cluster, status: &status, health: &checks };
    let pass = reconcile::pass(&spec, app, &target, policy, request, &mut printer).await;
    printer.clear_bar();
    if let Some(e) = printer.error.take() {
        return Err(w(e));
    }
    let pass = pass?;
    let s = &pass.status;
    if pass.synced {
        print_summary(out, &pass).map_err(w)?;
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
    writeln!(out, "revision: {}", s.revision).map_err(w)?;
    if cluster.assesses_health() {
        writeln!(out, "health: {}", s.health).map_err(w)?;
    }
    if let Some(e) = &pass.status_error {
        writeln!(out, "{RED}status not saved{RESET}: {e}").map_err(w)?;
    }
    Ok(pass)
}

/// The table `argocd app sync` ends with: every object, its phase, result and message.
fn print_summary(out: &mut dyn Write, pass: &Pass) -> std::io::Result<()> {
    let rows: Vec<[String; 5]> = pass
        .results
        .iter()
        .map(|r| {
            let result = r.code.map_or_else(|| "-".to_string(), |c| format!("{c:?}"));
            [kind_of(&r.key), place_of(&r.key), format!("{:?}", r.phase), result, r.message.clone()]
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let head = ["KIND", "NAME", "PHASE", "RESULT", "MESSAGE"];
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(head[i].len());
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    writeln!(out)?;
    writeln!(out, "{BOLD}{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}{RESET}", head[0], head[1], head[2], head[3], head[4])?;
    for r in &rows {
        let colour = if r[3] == "SyncFailed" { RED } else { "" };
        writeln!(out, "{:<w0$}  {:<w1$}  {:<w2$}  {colour}{:<w3$}{RESET}  {}", r[0], r[1], r[2], r[3], r[4])?;
    }
    Ok(())
}

/// Runs one pass on the app's target: a FileCluster under its lock for the pass, or the
/// Kubernetes cluster (connected on first use).
async fn run_pass(app: &mut App, request: Request, out: &mut dyn Write) -> Result<Pass, String> {
    match app.target.clone() {
        TargetSpec::Dir(root) => {
            // A dry run writes nothing, so it takes no lock: the target may be read-only.
            let cluster = if request.dry_run {
                FileCluster::new(root).for_dry_run()
            } else {
                FileCluster::new(root).locked().map_err(|e| e.to_string())?
            };
            run_pass_on(app, &cluster, request, out).await
        }
        TargetSpec::Kube(_) => {
            let cluster = match app.kube.take() {
                Some(c) => c,
                None => {
                    let context = app.kube_context()?;
                    KubeCluster::connect(app.kubeconfig.as_deref(), context.as_deref())
                        .await
                        .map_err(|e| e.to_string())?
                }
            };
            let pass = run_pass_on(app, &cluster, request, out).await;
            app.kube = Some(cluster);
            pass
        }
    }
}

fn exit_code(pass: &Pass) -> ExitCode {
    let failed = pass.status.last_operation.as_ref().is_some_and(|op| pass.synced && op.phase != "Succeeded");
    if stopped() {
        ExitCode::from(130)
    } else if failed || !pass.plan.errors.is_empty() || pass.status.sync != "Synced" || pass.status_error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn request(args: &SyncArgs, sync: bool, app: &App) -> Request {
    Request {
        sync,
        prune: args.prune,
        dry_run: args.dry_run,
        stop: Some(stop_flag()),
        force_conflicts: args.force_conflicts,
        wave_delay: None,
        resources: args.resources.clone(),
        server_side_diff: app.server_side_diff(args.server_side_diff),
    }
}

/// `gitops sync`: one pass that syncs whatever the policy says.
pub fn sync(args: SyncArgs) -> Result<ExitCode, String> {
    let mut app = App::read(&args.app)?;
    handle_signals()?;
    let request = request(&args, true, &app);
    let pass = runtime()?.block_on(run_pass(&mut app, request, &mut anstream::stdout().lock()))?;
    // A dry run leaves the app as it was (OutOfSync): it succeeds when the server took every
    // object, and fails, as `argocd app sync --dry-run` does, when one was refused.
    let dry_run_passed =
        pass.plan.errors.is_empty() && pass.status.last_operation.as_ref().is_none_or(|op| op.phase == "Succeeded");
    Ok(if args.dry_run && dry_run_passed { ExitCode::SUCCESS } else { exit_code(&pass) })
}

/// `gitops reconcile`: one pass of the loop (syncs only as the policy says).
pub fn reconcile(args: SyncArgs) -> Result<ExitCode, String> {
    let mut app = App::read(&args.app)?;
    handle_signals()?;
    let request = request(&args, false, &app);
    let pass = runtime()?.block_on(run_pass(&mut app, request, &mut anstream::stdout().lock()))?;
    Ok(exit_code(&pass))
}

/// `gitops watch`: a pass every interval. A failing pass is reported and retried at the next.
pub fn watch(args: WatchArgs) -> Result<ExitCode, String> {
    let mut app = App::read(&args.app)?;
    let interval = app.interval(args.interval.as_deref())?;
    handle_signals()?;
    let request =
        Request { stop: Some(stop_flag()), server_side_diff: app.server_side_diff(false), ..Request::default() };
    runtime()?.block_on(async {
        let mut n = 0u64;
        loop {
            n += 1;
            let mut out = anstream::stdout().lock();
            let failed = match run_pass(&mut app, request.clone(), &mut out).await {
                Ok(pass) => exit_code(&pass) != ExitCode::SUCCESS,
                Err(e) => {
                    let _ = writeln!(out, "{RED}pass {n} failed{RESET}: {e}");
                    true
                }
            };
            drop(out);
            if args.passes.is_some_and(|max| n >= max) {
                return Ok(ExitCode::SUCCESS);
            }
            // Flux tries again sooner after a failure when the Kustomization says so.
            let wait = if failed { app.spec.rollout.retry_interval.unwrap_or(interval) } else { interval };
            // Sleeps in slices so that Ctrl-C is answered at once.
            let until = tokio::time::Instant::now() + wait;
            while !stopped() && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(50).min(until - tokio::time::Instant::now())).await;
            }
            if stopped() {
                let mut out = anstream::stdout().lock();
                let _ = writeln!(out, "{YELLOW}stopped{RESET} after {n} passes");
                return Ok(ExitCode::from(130));
            }
        }
    })
}

/// `gitops status`: what the last pass left.
pub fn status(args: AppArgs) -> Result<ExitCode, String> {
    let app = App::read(&args)?;
    let path = app.status_path()?;
    let Some(s) = reconcile::read_status(&path).map_err(|e| e.to_string())? else {
        return Err(format!(
            "{}: no status yet for {} ({}); run `gitops reconcile` first",
            app.spec.name,
            app.target_name(),
            path.display()
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
