//! `gitops sync`, `gitops reconcile`, `gitops watch` and `gitops status`: an app against a
//! target, once or in a loop, and what the last pass left. What a pass does, where statuses
//! are kept and how the loop runs are the library's (`gitops_kube::controller`); this reads
//! arguments and prints.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use clap::Args;
use gitops_core::app;
use gitops_core::sync::SyncPlan;
use gitops_kube::KubeCluster;
use gitops_kube::controller::{
    self, AppRunner, CancellationToken, Controller, Ended, Reconciler, Schedule, TargetSpec,
};
use gitops_kube::executor::{Event, NOT_ASSESSED};
use gitops_kube::lease::{LeaderState, LeaseLock};
use gitops_kube::reconcile::{DesiredState, Pass, Progress, RenderError, Rendered, Request, Verdict};
use gitops_render::app::{self as render_app, Renderers};
use gitops_render::git::Cache;
use gitops_render::helm::Helm;
use gitops_render::source::{self, Source};

use crate::health_cmd::health_checks;
use crate::output::{BOLD, GREEN, RED, RESET, YELLOW, kind_of, place_of};
use crate::plan_cmd;
use crate::render_cmd::{cache_dir, read_objects, read_plugins};

/// Set by Ctrl-C (SIGINT) or SIGTERM; a watcher thread then cancels the token the library
/// listens to (a signal handler may only set a flag).
static SIGNALLED: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// Installs the signal handlers and returns the stop token they cancel: a sync in progress is
/// terminated, a watch stops. Without them a signal would kill the process between two steps:
/// every file would still be whole, but nothing would say what was done. A second signal exits
/// at once (status 130), for a sync that does not stop.
pub(crate) fn stop_on_signals() -> Result<CancellationToken, String> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&SIGNALLED))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&SIGNALLED)))
            .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    }
    let token = CancellationToken::new();
    let cancel = token.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while !SIGNALLED.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            cancel.cancel();
        })
        .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    Ok(token)
}

/// The app and where it goes: what every command here takes.
#[derive(Args, Debug, Clone)]
pub struct AppArgs {
    /// An Argo CD Application, or a Flux Kustomization with its GitRepository, in one file.
    #[arg(long, value_name = "FILE")]
    pub app: String,
    /// The app to use when FILE holds several (several Flux Kustomizations, say).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Render from this local checkout of the app's repository instead of fetching it (as
    /// `argocd app sync --local`); the app's path is taken inside it. `URL=DIR` (repeatable)
    /// serves the repository URL from DIR, for the app and every app it produces.
    #[arg(long, value_name = "[URL=]DIR")]
    pub local: Vec<crate::fleet_cmd::Local>,
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
    /// An `argocd-cm` ConfigMap: its health checks (`resource.customizations...` keys) and its
    /// diff settings (system-level ignoreDifferences, compare options, known types).
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
    /// Argo CD repository Secrets (`argocd.argoproj.io/secret-type: repository` or
    /// `repo-creds`, `type: helm`) with the credentials of chart repositories (repeatable).
    #[arg(long = "repo-creds", value_name = "FILE")]
    pub repo_creds: Vec<String>,
    /// Render this revision (branch, tag, commit) instead of the app's `targetRevision`, as
    /// `argocd app sync --revision` does.
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    /// A file of Argo CD AppProjects (repeatable): an Application's project rules (sources,
    /// destinations, resource kinds, sync windows) are enforced on every sync. In a fleet the
    /// hub's AppProjects are used.
    #[arg(long, value_name = "FILE")]
    pub project: Vec<String>,
    /// Act on behalf of this Argo CD user: the request is checked against `--rbac-policy`
    /// first (`applications, sync` for `gitops sync`, `applications, get` for `gitops
    /// reconcile`, on `<project>/<app>`), as Argo CD's API server checks it.
    #[arg(long = "as", value_name = "SUBJECT", requires = "rbac_policy")]
    pub as_subject: Option<String>,
    /// An `argocd-rbac-cm` ConfigMap or a policy CSV file, for `--as` (AppProject roles come
    /// from `--project`).
    #[arg(long, value_name = "FILE", requires = "as_subject")]
    pub rbac_policy: Option<PathBuf>,
}

impl AppArgs {
    /// With `--as`: whether the user may do `action` to the app `object`.
    pub(crate) fn authorize(&self, object: &gitops_core::Object, action: &str) -> Result<(), String> {
        match (&self.as_subject, &self.rbac_policy) {
            (Some(subject), Some(policy)) => crate::rbac_cmd::authorize(subject, policy, &self.project, object, action),
            _ => Ok(()),
        }
    }
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

/// Arguments of `gitops reconcile`.
#[derive(Args, Debug)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// How the apps of a fleet are passed.
#[derive(Args, Debug, Clone)]
pub struct FleetArgs {
    /// Pass up to N apps of the fleet at once (as Argo CD's `--status-processors`), each
    /// printed when it is done: apps on Kubernetes clusters overlap their round trips. An app
    /// waits for the Kustomizations it `dependsOn`; two apps on one directory cluster never
    /// pass together.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// Notify as Flux's notification-controller and Argo CD's notifications do: after each pass
    /// of a Kustomization, its event goes through the Alerts of the files under DIR to their
    /// Providers (Secrets from DIR too); after each pass of an Application, its subscribed
    /// triggers of DIR's argocd-notifications-cm run (state kept in DIR/.notified). A failing
    /// provider is a warning; it never stops a pass.
    #[arg(long, value_name = "DIR")]
    pub notify: Option<String>,
}

/// Arguments of `gitops watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub app: AppArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Time between passes of the app, as Go writes durations (`30s`, `3m`); default: the Flux
    /// Kustomization's `spec.interval`, else 3m (Argo CD's reconciliation timeout). In a fleet
    /// every app keeps its own: a Kustomization its `spec.interval`, an Application this one;
    /// an app whose object changed passes at the next wake-up.
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Stop after this many passes (default: run until stopped).
    #[arg(long, value_name = "N")]
    pub passes: Option<u64>,
    /// Move each wait at random by up to this percent of it, either way, so that controllers
    /// started together do not pass together (as Flux's `--interval-jitter-percentage`).
    #[arg(long, value_name = "PERCENT", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub interval_jitter: u32,
    /// On a kube target, pass only while holding a `coordination.k8s.io` Lease, so that two
    /// controllers never reconcile the same fleet (as Flux's controllers elect a leader).
    #[arg(long)]
    pub leader_elect: bool,
    /// The Lease, `NAMESPACE/NAME` (default: the app object's namespace, else `default`, and
    /// `gitops-<app>`).
    #[arg(long, value_name = "NAMESPACE/NAME", requires = "leader_elect")]
    pub lease: Option<String>,
}

/// Renders the app's desired state through gitops-render.
pub(crate) struct Desired {
    source: Source,
    renderers: Renderers,
    local: Option<PathBuf>,
    /// `--revision`: rendered instead of the app's own.
    revision: Option<String>,
    /// The commit last rendered from Git and what it rendered to: the same commit of the same
    /// source renders the same (as Argo CD's repo-server caches manifests by commit), so a pass
    /// that finds it again does not render it again.
    last: Option<(String, Vec<gitops_core::Object>)>,
}

impl DesiredState for Desired {
    fn render(&mut self) -> Result<Rendered, RenderError> {
        let rendered = match &self.local {
            // A local checkout has no commit to know it by: it is read every time.
            Some(dir) => render_app::render_local(&self.source, dir, &self.renderers),
            None => {
                let (checkout, reference) = render_app::fetch(&self.source, self.revision.as_deref(), &self.renderers)?;
                if let Some((commit, objects)) = &self.last
                    && *commit == checkout.commit
                {
                    return Ok(Rendered { revision: self.revision_of(commit), objects: objects.clone() });
                }
                render_app::render_checkout(&self.source, &checkout, &reference, &self.renderers)
            }
        };
        crate::app_input::print_warnings(&self.renderers.reading);
        let rendered = rendered?;
        for w in &rendered.warnings {
            eprintln!("warning: {w}");
        }
        if self.local.is_none() {
            self.last = Some((rendered.commit.clone(), rendered.objects.clone()));
        }
        Ok(Rendered { revision: self.revision_of(&rendered.commit), objects: rendered.objects })
    }

    fn helm_chart(&mut self) -> Option<Result<gitops_kube::helm_release::HelmChart, RenderError>> {
        let release = self.source.helm_release.as_ref()?;
        // The composed values are the source's inline values (JSON, see gitops-render's source).
        let config = match &self.source.renderer {
            gitops_render::source::Renderer::Helm(o) => o.values.as_deref().and_then(|t| serde_json::from_str(t).ok()),
            _ => None,
        };
        let config = config.unwrap_or_else(|| serde_json::json!({}));
        let chart = render_app::chart_files(&self.source, &self.renderers);
        Some(
            chart
                .map(|(metadata, values)| gitops_kube::helm_release::HelmChart {
                    metadata,
                    values,
                    config,
                    config_digest: release.config_digest.clone(),
                })
                .map_err(|e| Box::new(e) as RenderError),
        )
    }

    fn decryption_secret(&self) -> Option<gitops_core::ResourceKey> {
        let (namespace, name) = self.source.decryption.as_ref()?;
        Some(gitops_core::ResourceKey::new("", "Secret", namespace, name))
    }

    fn render_with_secret(&mut self, secret: Option<&gitops_core::Object>) -> Result<Rendered, RenderError> {
        use gitops_render::decrypt;
        let Some((namespace, name)) = self.source.decryption.clone() else { return self.render() };
        // Without a secretRef there are no keys: an encrypted resource then fails to decrypt.
        let ids = match secret {
            Some(secret) => decrypt::keys_from_secret(secret).map_err(|e| Box::new(e) as RenderError)?,
            None if name.is_empty() => gitops_secrets::sops::keys::Identities::new(),
            None => return Err(Box::new(decrypt::Error::NoSecret { namespace, name })),
        };
        // The generators' encrypted files are decrypted during the build, the resources after.
        let ids = Arc::new(ids);
        self.renderers.sops_keys = Some(ids.clone());
        let rendered = self.render();
        self.renderers.sops_keys = None;
        let mut rendered = rendered?;
        rendered.objects = decrypt::decrypt_objects(rendered.objects, &ids).map_err(|e| Box::new(e) as RenderError)?;
        Ok(rendered)
    }
}

impl Desired {
    /// The revision a render of `commit` is: the commit (or chart version); for a HelmRelease,
    /// with the digest of its values after an `@`, so that new values are a new revision to
    /// release, as a new chart version is.
    fn revision_of(&self, commit: &str) -> String {
        match &self.source.helm_release {
            Some(release) => format!("{commit}@{}", release.config_digest),
            None => commit.to_string(),
        }
    }
}

/// An app, read, on its target.
pub(crate) struct App {
    pub(crate) runner: AppRunner<Desired>,
    /// The app object as written.
    pub(crate) object: gitops_core::Object,
    /// argocd-cm's diff settings.
    settings: gitops_core::settings::Settings,
    /// A progress bar under the step lines on a terminal (not when the output is kept to be
    /// printed later, as a fleet's apps passing together do).
    pub(crate) progress_bar: bool,
    /// The AppProjects its rules come from (`--project`, or the hub's), when any are known.
    pub(crate) projects: Option<Arc<crate::project_cmd::Projects>>,
}

impl App {
    pub(crate) fn read(args: &AppArgs) -> Result<App, String> {
        let objects = crate::app_input::one_app(&args.app, read_objects(&args.app)?, args.name.as_deref())?;
        let app_dir = Path::new(&args.app).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let target = TargetSpec::parse(args.target.as_deref(), app_dir).map_err(|e| e.to_string())?;
        App::build(args, &args.app, &objects, target, app_dir, true)
    }

    /// The app among `objects` (read from `origin`), going to `target`, with the command's
    /// options; `own_local`: a `--local DIR` without a URL is this app's checkout (the app named
    /// on the command line, not the apps it produces).
    pub(crate) fn build(
        args: &AppArgs,
        origin: &str,
        objects: &[gitops_core::Object],
        target: TargetSpec,
        app_dir: &Path,
        own_local: bool,
    ) -> Result<App, String> {
        let spec = app::read(origin, objects).map_err(|e| e.to_string())?;
        let source = source::read(objects).map_err(|e| e.to_string())?;
        let object = app::select(origin, objects, None).map_err(|e| e.to_string())?.clone();
        let cache = cache_dir(args.cache.as_ref()).ok().map(Cache::new);
        let cache = cache.unwrap_or_else(|| Cache::new(std::env::temp_dir().join("gitops-cache")));
        let renderers = Renderers {
            charts: crate::render_cmd::chart_repos(&cache, &args.repo_creds)?,
            cache,
            helm: Helm::from_env(),
            plugins: read_plugins(&args.plugins)?,
            reading: Arc::new(crate::app_input::reading(args.strict)),
            sops_keys: None,
            // A multi-source app's other sources are served by `--local URL=DIR` too.
            locals: gitops_render::app::LocalRepos::new(args.local.iter().filter_map(|l| match l {
                crate::fleet_cmd::Local::Repo { url, dir } => Some((url.clone(), dir.clone())),
                crate::fleet_cmd::Local::Own(_) => None,
            })),
        };
        let local = crate::fleet_cmd::local_for(&args.local, &source.repo_url, own_local);
        let revision = if own_local { args.revision.clone() } else { None };
        let desired = Desired { source, renderers, local, revision, last: None };
        let checks = health_checks(args.customizations.as_deref(), args.argocd_cm.as_deref())?;
        let runner = AppRunner::new(spec, desired, target, args.kubeconfig.clone(), app_dir, checks)
            .map_err(|e| e.to_string())?;
        let settings = crate::app_input::argocd_cm_settings(args.argocd_cm.as_deref())?;
        let projects = crate::project_cmd::Projects::read(&args.project)?;
        Ok(App { runner, object, settings, progress_bar: true, projects })
    }

    /// Fetches through `cache` (a fleet's walk shares one, so each repository and revision is
    /// fetched once per pass).
    pub(crate) fn share_cache(&mut self, cache: &Cache) {
        self.runner.desired.renderers.cache = cache.clone();
    }

    /// The Git cache this app fetches through.
    pub(crate) fn cache(&self) -> &Cache {
        &self.runner.desired.renderers.cache
    }

    /// A request for a pass of this app.
    pub(crate) fn request(&self, stop: CancellationToken, server_side_diff: bool) -> Request {
        Request {
            stop,
            server_side_diff: controller::server_side_diff(&self.runner.target, &self.object, server_side_diff),
            settings: self.settings.clone(),
            project: self.projects.as_ref().and_then(|p| p.rules(&self.object)),
            ..Request::default()
        }
    }

    /// Runs one pass and prints it: the plan when it syncs, each step as it is done, a summary
    /// table, and the outcome.
    pub(crate) async fn pass(&mut self, request: Request, out: &mut dyn Write) -> Result<Pass, String> {
        let w = |e: std::io::Error| format!("writing output: {e}");
        let spec = &self.runner.spec;
        let mut printer = Printer {
            out,
            tty: self.progress_bar && std::io::stdout().is_terminal(),
            app: spec.name.clone(),
            // `flux reconcile` refuses a suspended Kustomization; a sync asked for by hand runs.
            suspended_sync: request.sync && spec.rollout.suspend,
            unsupported: controller::unsupported_fields(spec, &self.object),
            assesses_health: false,
            total: 0,
            done: 0,
            bar: 0,
            error: None,
        };
        let stop = request.stop.clone();
        self.runner.impersonate = impersonation(&self.runner.target, &request)?;
        // A HelmRelease's `serviceAccountName`: helm-controller acts as that account of the
        // HelmRelease's namespace.
        if let Some(release) = self.runner.spec.helm.as_deref()
            && let Some(account) = &release.service_account_name
            && !matches!(self.runner.target, TargetSpec::Dir(_))
        {
            self.runner.impersonate = Some(format!("system:serviceaccount:{}:{account}", release.namespace));
        }
        if self.runner.spec.helm.is_some() {
            self.runner.helm_object = gitops_kube::helm_release::ReleaseObject {
                status: self.object.value().get("status").cloned().unwrap_or_default(),
                generation: self.object.value().pointer("/metadata/generation").and_then(|g| g.as_i64()).unwrap_or(0),
            };
        }
        let pass = self.runner.pass(request, &mut printer).await;
        printer.clear_bar();
        if let Some(e) = printer.error.take() {
            return Err(w(e));
        }
        let pass = pass.map_err(|e| e.to_string())?;
        print_outcome(printer.out, &pass, printer.assesses_health, stop.is_cancelled()).map_err(w)?;
        Ok(pass)
    }
}

/// The user a pass's writes impersonate when argocd-cm turns sync impersonation on: the
/// service account the app's AppProject names for its destination. An app whose project is
/// not known, or names no account for the destination, is not synced at all (never as the
/// controller instead). A FileCluster has no users: nothing to impersonate.
fn impersonation(target: &TargetSpec, request: &Request) -> Result<Option<String>, String> {
    if !request.settings.sync_impersonation || matches!(target, TargetSpec::Dir(_)) {
        return Ok(None);
    }
    let refused = |why: String| format!("sync impersonation (application.sync.impersonation.enabled): {why}");
    let rules = request.project.as_ref().ok_or_else(|| {
        refused("the app's AppProject is not known; pass it with --project FILE (or run the app in its fleet)".into())
    })?;
    let Some(project) = &rules.project else {
        return Err(refused(format!("AppProject {} does not exist", rules.app.project)));
    };
    let destination = &rules.app.destination;
    project.service_account_for(&destination.server, &destination.namespace).map(Some).map_err(refused)
}

/// Prints a pass as it goes: the plan, one line per step (with a progress bar under them on a
/// terminal), then a summary table.
struct Printer<'a> {
    out: &'a mut dyn Write,
    tty: bool,
    app: String,
    /// A sync asked for by hand of a suspended app: said before it runs.
    suspended_sync: bool,
    /// Spec fields without effect, said before the pass.
    unsupported: Vec<String>,
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

impl Progress for Printer<'_> {
    fn begin(&mut self, target: &str, assesses_health: bool) {
        self.assesses_health = assesses_health;
        let app = self.app.clone();
        self.write(format_args!("{BOLD}{app}{RESET} -> {target}\n"));
        if self.suspended_sync {
            self.write(format_args!(
                "{YELLOW}note{RESET}: the app is suspended (spec.suspend: true); syncing because it was asked for\n"
            ));
        }
        if !self.unsupported.is_empty() {
            let fields = self.unsupported.join(", ");
            self.write(format_args!("{YELLOW}note{RESET}: not supported yet, without effect: {fields}\n"));
        }
    }

    fn planned(&mut self, plan: &SyncPlan, syncing: bool) {
        if (syncing || !plan.errors.is_empty())
            && self.error.is_none()
            && let Err(e) = plan_cmd::print_text(&mut self.out, plan)
        {
            self.error = Some(e);
        } else if !syncing {
            // The app's conditions are said even when there is nothing to sync.
            let condition = gitops_core::project::ORPHANED_RESOURCE_WARNING;
            for w in plan.warnings.iter().filter(|w| w.starts_with(condition)) {
                self.write(format_args!("{YELLOW}warning{RESET}: {w}\n"));
            }
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

/// What a pass left: the summary table and counts when it synced, then the app's sync
/// status, revision and health.
fn print_outcome(out: &mut dyn Write, pass: &Pass, assesses_health: bool, stopped: bool) -> std::io::Result<()> {
    let s = &pass.status;
    if pass.synced {
        print_summary(out, pass)?;
        if let Some(op) = &s.last_operation {
            writeln!(out, "\n{} synced, {} pruned, {} failed", op.synced, op.pruned, op.failed)?;
            if !op.not_done.is_empty() {
                writeln!(out, "{YELLOW}not done{RESET}: {}", op.not_done.join(", "))?;
            }
        }
        if stopped {
            writeln!(out, "{YELLOW}stopped{RESET}: the operation was terminated (Ctrl-C)")?;
        }
    }
    let colour = if s.sync == gitops_core::sync::status::SyncStatus::Synced { GREEN } else { YELLOW };
    let detail = match (&s.last_operation, pass.synced) {
        (Some(op), true) if !op.succeeded() => format!("{RED}sync {}{RESET}: {}", op.phase, op.message),
        (Some(op), true) => op.message.clone(),
        _ => s.message.clone(),
    };
    writeln!(out, "{colour}{}{RESET}: {detail}", s.sync)?;
    writeln!(out, "revision: {}", s.revision)?;
    if assesses_health {
        writeln!(out, "health: {}", s.health)?;
    }
    if let Some(e) = &pass.status_error {
        writeln!(out, "{RED}status not saved{RESET}: {e}")?;
    }
    Ok(())
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

pub(crate) fn exit_code(verdict: Verdict) -> ExitCode {
    match verdict {
        Verdict::Succeeded => ExitCode::SUCCESS,
        Verdict::Failed => ExitCode::from(1),
        Verdict::Stopped => ExitCode::from(130),
    }
}

/// The async runtime of one command: one thread, as one sync drives one cluster.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))
}

/// One pass of `gitops sync` (`sync`: whatever the policy says) or `gitops reconcile`.
fn once(args: SyncArgs, sync: bool) -> Result<ExitCode, String> {
    let mut app = App::read(&args.app)?;
    args.app.authorize(&app.object, if sync { "sync" } else { "get" })?;
    let stop = stop_on_signals()?;
    let request = Request {
        sync,
        prune: args.prune,
        dry_run: args.dry_run,
        force_conflicts: args.force_conflicts,
        resources: args.resources.clone(),
        ..app.request(stop.clone(), args.server_side_diff)
    };
    let pass = runtime()?.block_on(app.pass(request, &mut anstream::stdout().lock()))?;
    let stopped = stop.is_cancelled();
    Ok(exit_code(if sync && args.dry_run { pass.dry_run_verdict(stopped) } else { pass.verdict(stopped) }))
}

/// `gitops sync`: one pass that syncs whatever the policy says.
pub fn sync(args: SyncArgs) -> Result<ExitCode, String> {
    once(args, true)
}

/// `gitops reconcile`: one pass of the loop (syncs only as the policy says), then one of every
/// app the app produced, recursively (see [`crate::fleet_cmd`]).
pub fn reconcile(args: ReconcileArgs) -> Result<ExitCode, String> {
    crate::fleet_cmd::reconcile(args)
}

/// The app, and the fleet it produces, as the controller drives them: each pass printed, a
/// pass that cannot run reported.
struct Watched {
    fleet: crate::fleet_cmd::Fleet,
    stop: CancellationToken,
    /// With `--leader-elect`: the Lease, and the cluster it lives in.
    lease: Option<(LeaseLock, KubeCluster)>,
}

impl Reconciler for Watched {
    async fn reconcile(&mut self, n: u64) -> Verdict {
        let mut out = anstream::stdout().lock();
        if let Some((lock, cluster)) = &self.lease {
            let skipped = match lock.try_acquire_or_renew(cluster.client()).await {
                Ok(LeaderState::Leading { acquired: true, .. }) => {
                    let _ = writeln!(out, "leading: Lease {} acquired by {}", lock.describe(), lock.identity);
                    None
                }
                Ok(LeaderState::Leading { .. }) => None,
                Ok(LeaderState::Following { holder, expires }) => Some(format!(
                    "{holder} holds it (until {} unless renewed)",
                    gitops_kube::lease::format_micro_time(expires)
                )),
                Ok(LeaderState::LostRace) => Some("another candidate took it this round".into()),
                Err(e) => {
                    let _ = writeln!(out, "{RED}pass {n} failed{RESET}: {e}");
                    return Verdict::Failed;
                }
            };
            if let Some(why) = skipped {
                let _ = writeln!(out, "not the leader: Lease {}: {why}; pass {n} skipped", lock.describe());
                return Verdict::Succeeded;
            }
        }
        match self.fleet.pass(&self.stop, &mut out).await {
            Ok(verdict) => verdict,
            Err(e) => {
                let _ = writeln!(out, "{RED}pass {n} failed{RESET}: {e}");
                Verdict::Failed
            }
        }
    }

    fn next_due(&self) -> Option<tokio::time::Instant> {
        self.fleet.next_due()
    }
}

/// `gitops watch`: a pass every interval. A failing pass is reported and retried at the next.
pub fn watch(args: WatchArgs) -> Result<ExitCode, String> {
    if args.app.as_subject.is_some() {
        return Err("--as is for a request a person makes; the controller (gitops watch) acts as itself".into());
    }
    let interval = args.interval.as_deref().map(controller::parse_interval).transpose().map_err(|e| e.to_string())?;
    let schedules = gitops_kube::schedules::Schedules::new(interval, args.interval_jitter);
    let options = crate::fleet_cmd::PassOptions::watching(&args.fleet, schedules);
    let fleet = crate::fleet_cmd::Fleet::read(&args.app, options)?;
    let schedule = Schedule {
        jitter_percent: args.interval_jitter,
        ..Schedule::of(&fleet.root().runner.spec, interval).map_err(|e| e.to_string())?
    };
    let stop = stop_on_signals()?;
    let runtime = runtime()?;
    let lease =
        if args.leader_elect { Some(runtime.block_on(lease_for(&args, &fleet, schedule.interval))?) } else { None };
    let mut controller = Controller::new(stop.clone());
    controller.add(Watched { fleet, stop, lease }, schedule, args.passes);
    let ended = runtime.block_on(controller.run());
    // Let another candidate take over at once, as client-go's ReleaseOnCancel does.
    if let Some(Watched { lease: Some((lock, cluster)), .. }) = controller.into_apps().pop()
        && let Err(e) = runtime.block_on(lock.release(cluster.client()))
    {
        eprintln!("gitops: warning: releasing {}: {e}", lock.describe());
    }
    match ended {
        Ended::Done => Ok(ExitCode::SUCCESS),
        Ended::Stopped { passes } => {
            let _ = writeln!(anstream::stdout().lock(), "{YELLOW}stopped{RESET} after {passes} passes");
            Ok(ExitCode::from(130))
        }
    }
}

/// The Lease of `--leader-elect`, on the app's kube target. It is renewed at the start of each
/// pass, so it lasts two intervals and a minute: a leader that stops passing is replaced after
/// that long.
async fn lease_for(
    args: &WatchArgs,
    fleet: &crate::fleet_cmd::Fleet,
    interval: Duration,
) -> Result<(LeaseLock, KubeCluster), String> {
    let runner = &fleet.root().runner;
    if !matches!(runner.target, TargetSpec::Kube(_)) {
        return Err("--leader-elect needs a kube target (a dir target is locked for each pass already)".into());
    }
    let app = fleet.root();
    let (namespace, name) = match &args.lease {
        Some(l) => l
            .split_once('/')
            .map(|(n, m)| (n.to_string(), m.to_string()))
            .ok_or_else(|| format!("--lease {l}: expected NAMESPACE/NAME"))?,
        None => {
            let ns = app.object.namespace();
            (if ns.is_empty() { "default".to_string() } else { ns.to_string() }, format!("gitops-{}", runner.spec.name))
        }
    };
    gitops_core::names::check_app_name("--lease namespace", &namespace).map_err(|e| e.to_string())?;
    gitops_core::names::check_app_name("--lease name", &name).map_err(|e| e.to_string())?;
    let context = runner.kube_context().map_err(|e| e.to_string())?;
    let cluster =
        KubeCluster::connect(runner.kubeconfig.as_deref(), context.as_deref()).await.map_err(|e| e.to_string())?;
    let host = std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
    let identity = format!("{}_{}", host.unwrap_or_else(|| "gitops".into()), std::process::id());
    let duration = interval * 2 + Duration::from_secs(60);
    Ok((LeaseLock::new(&namespace, &name, &identity, duration), cluster))
}

/// `gitops status`: what the last pass left.
pub fn status(args: AppArgs) -> Result<ExitCode, String> {
    let app = App::read(&args)?;
    args.authorize(&app.object, "get")?;
    let path = app.runner.status_path().map_err(|e| e.to_string())?;
    let Some(s) = gitops_kube::reconcile::read_status(&path).map_err(|e| e.to_string())? else {
        return Err(format!(
            "{}: no status yet for {} ({}); run `gitops reconcile` first",
            app.runner.spec.name,
            app.runner.target.name(),
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
    Ok(if s.sync == gitops_core::sync::status::SyncStatus::Synced { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
