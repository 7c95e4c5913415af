//! The fleet from one root app: `gitops reconcile --app ROOT` passes ROOT, then every app ROOT
//! produced, each on the cluster its destination names, then the apps those produced, until no
//! new app appears. Which apps, where they go, in which order and what a removed app takes with
//! it are the library's (`gitops_kube::fleet`); this builds each app's renderer and prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use gitops_core::fleet::graph::{AppId, claims};
use gitops_core::{Object, ResourceKey};
use gitops_kube::cluster::Cluster;
use gitops_kube::controller::{CancellationToken, TargetSpec};
use gitops_kube::fleet::{self, Hub, Member, Next, Place, Walk};
use gitops_kube::reconcile::{Pass, Request, Verdict};
use gitops_kube::schedules::Schedules;
use gitops_kube::{FileCluster, KubeCluster};

use crate::output::{BOLD, RED, RESET, YELLOW};
use crate::sync_cmd::{App, AppArgs, FleetArgs, ReconcileArgs, SyncArgs, exit_code, runtime, stop_on_signals};

/// A `--local` argument: the app's own checkout (`DIR`), or a repository served from a
/// directory (`URL=DIR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    /// `DIR`: the app named on the command line renders from it.
    Own(PathBuf),
    /// `URL=DIR`: every app whose source is URL renders from DIR.
    Repo {
        /// The repository URL, as apps write it.
        url: String,
        /// The checkout.
        dir: PathBuf,
    },
}

impl FromStr for Local {
    type Err = String;

    fn from_str(s: &str) -> Result<Local, String> {
        // A URL has a scheme or is scp-like (`git@host:path`); a directory with `=` in its name
        // stays a directory.
        match s.split_once('=') {
            Some((url, dir)) if url.contains("://") || url.starts_with("git@") => {
                if dir.is_empty() {
                    return Err(format!("`{s}`: no directory after `=` (URL=DIR)"));
                }
                Ok(Local::Repo { url: url.to_string(), dir: PathBuf::from(dir) })
            }
            _ if s.is_empty() => Err("an empty directory".into()),
            _ => Ok(Local::Own(PathBuf::from(s))),
        }
    }
}

/// The checkout an app with source `repo_url` renders from: its own `--local DIR` (when `own`),
/// else the `--local URL=DIR` of its repository, else none (it is fetched).
pub fn local_for(locals: &[Local], repo_url: &str, own: bool) -> Option<PathBuf> {
    let own_dir = locals.iter().find_map(|l| match l {
        Local::Own(d) if own => Some(d.clone()),
        _ => None,
    });
    own_dir.or_else(|| {
        locals.iter().find_map(|l| match l {
            Local::Repo { url, dir } if gitops_render::git::same_repository(url, repo_url) => Some(dir.clone()),
            _ => None,
        })
    })
}

/// An app of the fleet, as reported at the end.
struct Row {
    app: String,
    target: String,
    outcome: Result<(String, String), String>,
}

/// What a pass of the fleet reports at its end.
#[derive(Default)]
struct Report {
    /// A row per app.
    rows: Vec<Row>,
    /// The resources each app passed manages, per cluster (two apps claiming one are said).
    claimed: BTreeMap<String, Vec<(AppId, Vec<ResourceKey>)>>,
}

/// The hub's AppProjects during one pass of the fleet.
#[derive(Default)]
struct HubProjects {
    /// As last read; `None` when the hub may have changed since.
    current: Option<Arc<crate::project_cmd::Projects>>,
    /// The invalid ones already said.
    said: BTreeSet<String>,
}

/// What every app of one pass of the fleet shares: where statuses are kept (the hub), and the
/// Git cache that fetches a repository and revision once.
#[derive(Clone)]
struct Shared {
    statuses: gitops_kube::status::StatusStore,
    git: gitops_render::git::Cache,
    /// The hub's AppProjects for this batch (none when `--project` rules instead).
    projects: Option<Arc<crate::project_cmd::Projects>>,
}

/// How the passes of a fleet run: `reconcile`'s flags (`watch` takes the defaults).
#[derive(Debug, Clone, Default)]
pub(crate) struct PassOptions {
    pub(crate) prune: bool,
    pub(crate) dry_run: bool,
    pub(crate) force_conflicts: bool,
    pub(crate) resources: Vec<gitops_core::sync::select::ResourceSelector>,
    pub(crate) server_side_diff: bool,
    /// `--workers`: how many apps pass at once.
    pub(crate) workers: usize,
    /// In `gitops watch`: each app's next pass (only the apps due are passed); `None` passes
    /// every app.
    pub(crate) schedules: Option<Schedules>,
    /// `--notify DIR`: Flux Alerts, Providers and Secrets to notify through.
    pub(crate) notify: Option<String>,
}

impl PassOptions {
    fn of(args: &SyncArgs, fleet: &FleetArgs) -> PassOptions {
        PassOptions {
            prune: args.prune,
            dry_run: args.dry_run,
            force_conflicts: args.force_conflicts,
            resources: args.resources.clone(),
            server_side_diff: args.server_side_diff,
            workers: usize::from(fleet.workers),
            schedules: None,
            notify: fleet.notify.clone(),
        }
    }

    /// How `gitops watch` passes: every app on its own schedule.
    pub(crate) fn watching(fleet: &FleetArgs, schedules: Schedules) -> PassOptions {
        PassOptions {
            workers: usize::from(fleet.workers),
            schedules: Some(schedules),
            notify: fleet.notify.clone(),
            ..PassOptions::default()
        }
    }

    /// Whether the app `object` passes now.
    fn is_due(&self, object: &Object) -> bool {
        self.schedules.as_ref().is_none_or(|s| s.is_due(object, tokio::time::Instant::now()))
    }
}

/// A root app and the fleet it produces, passed together.
pub(crate) struct Fleet {
    app_args: AppArgs,
    root: App,
    options: PassOptions,
    /// A kube hub, connected on first use (its apps and cluster Secrets are listed from it).
    hub_cluster: Option<KubeCluster>,
    /// The Kubernetes clusters the apps went to, by place: the apps on one share its
    /// connection and discovery, as Argo CD's apps share its cluster cache.
    connected: HashMap<String, KubeCluster>,
    /// `--notify`: where the passes' events go.
    notifier: Option<crate::notify_cmd::Notifier>,
}

impl Fleet {
    /// The root app of the command line.
    pub(crate) fn read(app_args: &AppArgs, options: PassOptions) -> Result<Fleet, String> {
        if app_args.local.iter().filter(|l| matches!(l, Local::Own(_))).count() > 1 {
            return Err("--local DIR given twice; other repositories are given as --local URL=DIR".into());
        }
        if app_args.revision.is_some() && app_args.local.iter().any(|l| matches!(l, Local::Own(_))) {
            return Err("--revision and --local DIR cannot be used together".into());
        }
        let root = App::read(app_args)?;
        let notifier = options.notify.as_deref().map(crate::notify_cmd::Notifier::load).transpose()?;
        Ok(Fleet { app_args: app_args.clone(), root, options, hub_cluster: None, connected: HashMap::new(), notifier })
    }

    /// The root app.
    pub(crate) fn root(&self) -> &App {
        &self.root
    }

    /// When the next app of a watched fleet is due (none before its first pass).
    pub(crate) fn next_due(&self) -> Option<tokio::time::Instant> {
        self.options.schedules.as_ref().and_then(Schedules::next_due)
    }

    fn request(&self, app: &App, stop: &CancellationToken) -> Request {
        let o = &self.options;
        Request {
            sync: false,
            prune: o.prune,
            dry_run: o.dry_run,
            force_conflicts: o.force_conflicts,
            resources: o.resources.clone(),
            ..app.request(stop.clone(), o.server_side_diff)
        }
    }

    /// The kube hub, connected as the root's target is.
    async fn hub_cluster(&mut self) -> Result<&KubeCluster, String> {
        if self.hub_cluster.is_none() {
            let runner = &self.root.runner;
            let context = runner.kube_context().map_err(|e| e.to_string())?;
            let cluster = KubeCluster::connect(runner.kubeconfig.as_deref(), context.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            self.hub_cluster = Some(cluster);
        }
        self.hub_cluster.as_ref().ok_or_else(|| "the hub is not connected".to_string())
    }

    /// The hub's objects an app on `place` may have produced (none when it is not the hub).
    async fn hub_objects(&mut self, walk: &Walk, hub: &Hub, place: &Place) -> Result<Arc<Vec<Object>>, String> {
        if !place.is(hub) {
            return Ok(Arc::default());
        }
        if let Hub::Dir(_) = hub {
            return walk.dir_objects().map_err(|e| e.to_string());
        }
        self.kube_hub_objects().await
    }

    /// The fleet objects of a kube hub ([`fleet::HUB_KINDS`]), listed now.
    async fn kube_hub_objects(&mut self) -> Result<Arc<Vec<Object>>, String> {
        let cluster = self.hub_cluster().await?;
        let mut objects = Vec::new();
        for (api_version, kind, namespace, labels) in fleet::HUB_KINDS {
            match cluster.list_kind(api_version, kind, *namespace, *labels).await {
                Ok(listed) => objects.extend(listed),
                // An account that may not list a kind (say, cluster Secrets) has no fleet of
                // it: the root is still reconciled.
                Err(gitops_kube::cluster::Error::Refused { code: 403..=405, .. }) => {}
                Err(e) => return Err(format!("listing the hub's {kind}s: {e}")),
            }
        }
        let values = fleet::values_sources(cluster, &objects).await;
        objects.extend(values.map_err(|e| format!("reading the HelmReleases' valuesFrom: {e}"))?);
        Ok(Arc::new(objects))
    }

    /// One pass of the root, then of every app it produced, recursively, each printed; then a
    /// table of the fleet.
    pub(crate) async fn pass(&mut self, stop: &CancellationToken, out: &mut dyn Write) -> Result<Verdict, String> {
        let dry_run = self.options.dry_run;
        let (hub, root_place) = match &self.root.runner.target {
            TargetSpec::Dir(p) => (Hub::Dir(p.clone()), Place::Dir(p.clone())),
            TargetSpec::Kube(_) => (Hub::Kube, Place::Hub),
            // A root reached otherwise is not on a hub the engine lists: it alone is passed.
            _ => {
                let request = self.request(&self.root, stop);
                let pass = self.root.pass(request, out).await?;
                return Ok(pass.verdict(stop.is_cancelled()));
            }
        };
        // The root's target is the hub when the root goes to the cluster it runs in (a Flux
        // Kustomization always does; an Application whose destination is in-cluster): Argo CD
        // and Flux run there, so a FileCluster hub serves their kinds.
        if let Hub::Dir(dir) = &hub
            && !dry_run
            && runs_in_its_target(&self.root.runner.spec)
        {
            let installed = gitops_kube::hub::install_controller_crds(&FileCluster::new(dir))
                .map_err(|e| format!("{}: installing the controllers' CRDs: {e}", dir.display()))?;
            if !installed.is_empty() {
                let _ = writeln!(
                    out,
                    "hub {}: {} controller CRDs installed (Argo CD, Flux)",
                    dir.display(),
                    installed.len()
                );
            }
        }
        let mut walk = Walk::new(hub.clone(), &self.root.runner.spec, &self.root.object);
        // Every app's status is kept where the root's is: on the hub.
        let hub_statuses = self.root.runner.status_store().map_err(|e| e.to_string())?;
        self.root.runner.list_cache = Some(walk.cache().clone());
        // Every app of this pass fetches a repository and revision once.
        let git = self.root.cache().for_one_pass();
        self.root.share_cache(&git);
        let root_spec = self.root.runner.spec.clone();
        if let Some(schedules) = &mut self.options.schedules {
            schedules.begin();
        }
        let mut report = Report::default();
        let shared = Shared { statuses: hub_statuses, git, projects: None };
        let mut projects = HubProjects::default();
        let mut verdict = Verdict::Succeeded;
        // In a watch, the apps not due are walked (what they produced may be) but not passed.
        let mut not_due = 0;
        let mut apps = vec![self.root.object.key("")];
        if self.options.is_due(&self.root.object) {
            if let Some(projects) = self.hub_projects(&walk, &hub, &mut projects, out).await? {
                self.root.projects = Some(projects);
            }
            verdict = self.pass_root(stop, out, &mut walk, &hub, &root_place, &mut report).await?;
            // The root may have put AppProjects into the hub.
            projects.current = None;
        } else {
            not_due += 1;
            let objects = self.hub_objects(&walk, &hub, &root_place).await?;
            walk.passed(&root_spec, &root_place, &objects);
        }
        loop {
            let batch = walk.next_batch(self.options.workers);
            if batch.is_empty() || stop.is_cancelled() {
                break;
            }
            let mut due = Vec::new();
            for next in batch {
                match next {
                    Next::Condition(c) => {
                        verdict = worse(verdict, Verdict::Failed);
                        report.rows.push(Row { app: c.app, target: String::new(), outcome: Err(c.message) });
                    }
                    Next::Finalize(member) => {
                        let outcome = match self.finalize(out, &member).await {
                            Ok(()) => Ok(("Deleted".to_string(), "-".to_string())),
                            Err(e) => {
                                verdict = worse(verdict, Verdict::Failed);
                                Err(e)
                            }
                        };
                        report.rows.push(Row { app: member.id.to_string(), target: member.target.describe(), outcome });
                    }
                    Next::Generate(appset) => {
                        apps.push(appset.key(""));
                        if !self.options.is_due(&appset) {
                            // Not due to generate again: the apps it has are walked.
                            not_due += 1;
                            let objects = match &hub {
                                Hub::Dir(_) => walk.dir_objects().map_err(|e| e.to_string())?,
                                Hub::Kube => self.kube_hub_objects().await?,
                            };
                            walk.generated(&appset, &objects);
                            continue;
                        }
                        match self.generate(out, &appset, &hub, dry_run).await {
                            Ok(objects) => {
                                // As Argo CD requeues a set: after its generators' shortest
                                // `requeueAfterSeconds`; a list or clusters set at every wake-up.
                                let requeue = appset
                                    .value()
                                    .get("spec")
                                    .and_then(gitops_core::appset::generators::appset_requeue_after_seconds);
                                if let (Some(schedules), Some(secs)) = (&mut self.options.schedules, requeue) {
                                    schedules.passed_after(&appset, std::time::Duration::from_secs(secs));
                                }
                                walk.generated(&appset, &objects)
                            }
                            Err(e) => {
                                verdict = worse(verdict, Verdict::Failed);
                                let app = format!("ApplicationSet {}/{}", appset.namespace(), appset.name());
                                report.rows.push(Row { app, target: String::new(), outcome: Err(e) });
                            }
                        }
                    }
                    Next::Automate(automation) => {
                        apps.push(automation.key(""));
                        if !self.options.is_due(&automation) {
                            not_due += 1;
                            continue;
                        }
                        let label = format!("ImageUpdateAutomation {}/{}", automation.namespace(), automation.name());
                        let outcome = self.automate(out, &automation, &hub, dry_run).await;
                        if outcome.is_err() {
                            verdict = worse(verdict, Verdict::Failed);
                        }
                        report.rows.push(Row { app: label, target: String::new(), outcome });
                    }
                    Next::Pass(member) => {
                        let object = member.objects.last();
                        apps.extend(object.map(|o| o.key("")));
                        let requested = object.and_then(gitops_core::fleet::status::requested_sync).is_some();
                        if object.is_some_and(|o| !self.options.is_due(o)) && !requested {
                            not_due += 1;
                            let objects = self.hub_objects(&walk, &hub, &member.target).await?;
                            walk.passed(&member.spec, &member.target, &objects);
                        } else {
                            due.push(*member);
                        }
                    }
                }
            }
            let on_hub = due.iter().any(|m| m.target.is(&hub));
            let batch_projects =
                if due.is_empty() { None } else { self.hub_projects(&walk, &hub, &mut projects, out).await? };
            let shared = Shared { projects: batch_projects, ..shared.clone() };
            let passes = self.pass_members(stop, out, &walk, &hub, &shared, due).await?;
            if on_hub {
                // An app on the hub may have changed its AppProjects.
                projects.current = None;
            }
            for (member, before, outcome) in passes {
                let target = member.target.describe();
                let label = member.id.to_string();
                let ran = outcome.as_ref().map_or(Verdict::Failed, |p| p.verdict(stop.is_cancelled()));
                verdict = worse(verdict, ran);
                if let (Some(schedules), Some(object)) = (&mut self.options.schedules, member.objects.last()) {
                    schedules.passed(object, &member.spec, false, ran);
                }
                let objects = match outcome {
                    Ok(pass) => {
                        if let (Some(notifier), Some(object)) = (&mut self.notifier, member.objects.last()) {
                            notifier.after_pass(object, &pass.status, pass.synced, out);
                        }
                        let status = (pass.status.sync.to_string(), pass.status.health.status.to_string());
                        if hub == Hub::Kube
                            && !dry_run
                            && let Some(object) = member.objects.last()
                            && let Err(e) = self
                                .write_status(
                                    object,
                                    &member.objects,
                                    &pass.status,
                                    pass.release.as_ref().and_then(|(s, _)| s.as_ref()),
                                )
                                .await
                        {
                            let _ = writeln!(out, "{RED}{label}{RESET}: writing its status: {e}");
                        }
                        if !dry_run
                            && let Some(object) = member.objects.last()
                            && gitops_core::fleet::status::requested_sync(object).is_some()
                            && let Err(e) = self.clear_operation(object, &hub).await
                        {
                            let _ = writeln!(out, "{RED}{label}{RESET}: clearing its operation: {e}");
                        }
                        report
                            .claimed
                            .entry(target.clone())
                            .or_default()
                            .push((member.id.clone(), resource_keys(&pass.status)));
                        report.rows.push(Row { app: label, target, outcome: Ok(status) });
                        let objects = self.hub_objects(&walk, &hub, &member.target).await?;
                        let after = walk.passed(&member.spec, &member.target, &objects);
                        self.cascade(out, before, &after, &mut report.rows).await;
                        continue;
                    }
                    Err(e) => {
                        report.rows.push(Row { app: label, target, outcome: Err(e) });
                        // What it produced before is still walked; nothing is deleted for it.
                        self.hub_objects(&walk, &hub, &member.target).await?
                    }
                };
                walk.passed(&member.spec, &member.target, &objects);
            }
        }
        if let Some(schedules) = &mut self.options.schedules {
            schedules.keep_only(&apps);
            if not_due > 0 {
                let _ = writeln!(out, "{not_due} of {} apps not due (each passes on its own interval)", apps.len());
            }
        }
        if !report.rows.is_empty() {
            print_fleet(out, &report.rows).map_err(|e| format!("writing output: {e}"))?;
        }
        // As Argo CD's SharedResourceWarning: a resource two apps of the fleet both manage on
        // one cluster is said, naming them (each sync makes it its own again).
        for (place, apps) in &report.claimed {
            for (key, owners) in claims(apps) {
                let owners: Vec<String> = owners.iter().map(|a| a.namespaced_name()).collect();
                let _ = writeln!(
                    out,
                    "{YELLOW}warning{RESET}: {key} on {place} is part of applications {}",
                    owners.join(" and ")
                );
            }
        }
        Ok(verdict)
    }

    /// The root's pass on `root_place`; then what it produced is walked next, and the apps it
    /// removed are cascaded. Its verdict; an error when it failed and produced no fleet (it
    /// fails as a single pass does).
    async fn pass_root(
        &mut self,
        stop: &CancellationToken,
        out: &mut dyn Write,
        walk: &mut Walk,
        hub: &Hub,
        root_place: &Place,
        report: &mut Report,
    ) -> Result<Verdict, String> {
        let root_spec = self.root.runner.spec.clone();
        let objects = self.hub_objects(walk, hub, root_place).await?;
        let before = walk.produced(&root_spec, root_place, &objects).0;
        let request = self.request(&self.root, stop);
        let root_id = AppId::of(&self.root.object, self.root.object.namespace());
        let root_pass = self.root.pass(request, out).await;
        if let Some(cluster) = self.root.runner.connected() {
            self.connected.entry(root_place.describe()).or_insert_with(|| cluster.clone());
        }
        let verdict = root_pass.as_ref().map_or(Verdict::Failed, |p| p.verdict(stop.is_cancelled()));
        if let Some(schedules) = &mut self.options.schedules {
            schedules.passed(&self.root.object, &root_spec, true, verdict);
        }
        let (root_status, root_error) = match root_pass {
            Ok(pass) => {
                if let Some(notifier) = &mut self.notifier {
                    notifier.after_pass(&self.root.object, &pass.status, pass.synced, out);
                }
                if let Some(id) = root_id {
                    report.claimed.entry(root_place.describe()).or_default().push((id, resource_keys(&pass.status)));
                }
                let release = pass.release.and_then(|(s, _)| s);
                (Some((pass.status, release)), None)
            }
            // The apps already in the hub are still passed (each is an app of its own, as in
            // Argo CD), but nothing is pruned or deleted on the root's failure.
            Err(e) => {
                let app = root_id.map_or_else(|| root_spec.name.clone(), |id| id.to_string());
                report.rows.push(Row { app, target: root_place.describe(), outcome: Err(e.clone()) });
                (None, Some(e))
            }
        };
        let objects = self.hub_objects(walk, hub, root_place).await?;
        // A root that manages its own object (`flux bootstrap`'s flux-system) reports on it too.
        if *hub == Hub::Kube
            && !self.options.dry_run
            && let Some((status, release)) = &root_status
            && let Some(own) = objects.iter().find(|o| o.key("") == self.root.object.key(""))
            && let Err(e) = self.write_status(own, &objects, status, release.as_ref()).await
        {
            let _ = writeln!(out, "{RED}{}{RESET}: writing its status: {e}", root_spec.name);
        }
        let after = walk.passed(&root_spec, root_place, &objects);
        match root_error {
            None => self.cascade(out, before, &after, &mut report.rows).await,
            // An app that is no fleet fails as a single pass does.
            Some(e) if walk.is_done() => return Err(e),
            Some(_) => {}
        }
        Ok(verdict)
    }

    /// Passes `due` (a batch of [`Walk::next_batch`]) together, each on its target, and returns
    /// each with the apps it had produced before and how its pass went. One app prints as it
    /// goes; several print each when all are done, in order.
    async fn pass_members(
        &mut self,
        stop: &CancellationToken,
        out: &mut dyn Write,
        walk: &Walk,
        hub: &Hub,
        shared: &Shared,
        due: Vec<Member>,
    ) -> Result<Vec<(Member, Vec<Member>, Result<Pass, String>)>, String> {
        let together = due.len() > 1;
        let mut prepared = Vec::new();
        for member in due {
            let objects = self.hub_objects(walk, hub, &member.target).await?;
            let before = walk.produced(&member.spec, &member.target, &objects).0;
            let placed = self.target_for(&member.target).await;
            let built = placed.and_then(|(spec, app_dir)| {
                App::build(&self.app_args, &member.origin, &member.objects, spec, &app_dir, false)
            });
            let shared_cluster = self.connected.get(&member.target.describe()).cloned();
            let requested = member.objects.last().and_then(gitops_core::fleet::status::requested_sync);
            let built = built.map(|mut app| {
                if let Some(cluster) = shared_cluster {
                    app.runner.share_cluster(cluster);
                }
                app.runner.list_cache = Some(walk.cache().clone());
                app.runner.status_store_override = Some(shared.statuses.clone());
                app.share_cache(&shared.git);
                app.progress_bar = !together;
                if shared.projects.is_some() {
                    app.projects = shared.projects.clone();
                }
                let mut request = self.request(&app, stop);
                // The app's `operation` asks for a sync (`argocd app sync`, a RollingSync set).
                if let Some(prune) = requested {
                    request.sync = true;
                    request.prune |= prune;
                }
                (app, request)
            });
            prepared.push((member, before, built));
        }
        if !together {
            let mut passed = Vec::new();
            for (member, before, built) in prepared {
                let _ = writeln!(out);
                let outcome = match built {
                    Ok((mut app, request)) => {
                        let outcome = app.pass(request, out).await;
                        self.keep_connection(&member.target, &app);
                        outcome
                    }
                    Err(e) => Err(e),
                };
                passed.push((member, before, outcome));
            }
            return Ok(passed);
        }
        let runs = prepared.iter_mut().map(|(_, _, built)| async move {
            let mut printed: Vec<u8> = b"\n".to_vec();
            let outcome = match built {
                Ok((app, request)) => app.pass(request.clone(), &mut printed).await,
                Err(e) => Err(e.clone()),
            };
            (outcome, printed)
        });
        let outcomes = futures::future::join_all(runs).await;
        let mut passed = Vec::new();
        for ((member, before, built), (outcome, printed)) in prepared.into_iter().zip(outcomes) {
            out.write_all(&printed).map_err(|e| format!("writing output: {e}"))?;
            if let Ok((app, _)) = &built {
                self.keep_connection(&member.target, app);
            }
            passed.push((member, before, outcome));
        }
        Ok(passed)
    }

    /// The hub's AppProjects (and cluster Secrets), for the Applications' project rules: read
    /// again only after a pass that may have changed them (`cache.current` cleared); none when
    /// `--project` files were given (they rule instead). A project that does not read is said
    /// once per pass.
    async fn hub_projects(
        &mut self,
        walk: &Walk,
        hub: &Hub,
        cache: &mut HubProjects,
        out: &mut dyn Write,
    ) -> Result<Option<Arc<crate::project_cmd::Projects>>, String> {
        if !self.app_args.project.is_empty() {
            return Ok(None);
        }
        if let Some(current) = &cache.current {
            return Ok(Some(current.clone()));
        }
        let objects = match hub {
            Hub::Dir(_) => walk.dir_objects().map_err(|e| e.to_string())?,
            Hub::Kube => self.kube_hub_objects().await?,
        };
        let mut errors = Vec::new();
        let projects = crate::project_cmd::Projects::of_hub(&objects, &mut errors);
        for e in errors {
            if cache.said.insert(e.clone()) {
                let _ = writeln!(out, "{YELLOW}warning{RESET}: {e}");
            }
        }
        cache.current = Some(projects.clone());
        Ok(Some(projects))
    }

    /// Keeps the Kubernetes cluster `app` connected to on `place` for the next apps there.
    fn keep_connection(&mut self, place: &Place, app: &App) {
        if let Some(cluster) = app.runner.connected() {
            self.connected.entry(place.describe()).or_insert_with(|| cluster.clone());
        }
    }

    /// The directory of the root app file (where statuses of apps on Kubernetes clusters are kept).
    fn root_dir(&self) -> PathBuf {
        Path::new(&self.app_args.app)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }

    /// The apps a pass removed from the hub: with Argo CD's resources finalizer (or a pruning
    /// Flux Kustomization) their resources are deleted too; without, they are left, and said so.
    async fn cascade(&mut self, out: &mut dyn Write, before: Vec<Member>, after: &[Member], rows: &mut Vec<Row>) {
        for gone in fleet::removed(before, after) {
            let target = gone.target.describe();
            let app = gone.id.to_string();
            if !fleet::cascades(&gone) {
                let _ = writeln!(out, "{app} removed; its resources on {target} are left (no resources finalizer)");
            } else if self.options.dry_run {
                let _ = writeln!(out, "{app} removed; its resources on {target} would be deleted (dry run)");
            } else {
                match self.delete_resources(&gone).await {
                    Ok(keys) => {
                        let _ = writeln!(out, "{app} removed; {} of its resources deleted from {target}", keys.len());
                        for k in keys {
                            let _ = writeln!(out, "  delete       {k}");
                        }
                    }
                    Err(e) => {
                        rows.push(Row { app, target, outcome: Err(format!("deleting its resources: {e}")) });
                        continue;
                    }
                }
            }
            rows.push(Row { app, target, outcome: Ok(("Deleted".to_string(), "-".to_string())) });
        }
    }

    /// Writes what `member`'s pass left into its app object's status on the kube hub, as Argo CD
    /// and Flux report on the objects they reconcile (`kubectl get applications`, a parent's
    /// health check, `flux get` read it there).
    /// A Flux app's GitRepository (found among `sources`) gets the status source-controller
    /// would give it for the revision fetched.
    async fn write_status(
        &mut self,
        object: &Object,
        sources: &[Object],
        status: &gitops_kube::reconcile::Status,
        release: Option<&serde_json::Value>,
    ) -> Result<(), String> {
        use gitops_core::fleet::status::{application_status, git_repository_status, kustomization_status};
        let generation = |o: &Object| o.value().pointer("/metadata/generation").and_then(serde_json::Value::as_i64);
        let hub = self.hub_cluster().await?;
        let value = if object.kind() == "Kustomization" {
            let source = object.value().pointer("/spec/sourceRef/name").and_then(serde_json::Value::as_str);
            if let Some(repo) = sources.iter().find(|o| {
                o.kind() == "GitRepository" && Some(o.name()) == source && o.namespace() == object.namespace()
            }) {
                let repo_status =
                    git_repository_status(&status.revision, &status.reconciled_at, generation(repo).unwrap_or(0));
                hub.patch_status(&repo.key(""), &repo_status).await.map_err(|e| e.to_string())?;
            }
            let waits = object.value().pointer("/spec/wait").and_then(serde_json::Value::as_bool).unwrap_or(false)
                || object
                    .value()
                    .pointer("/spec/healthChecks")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|h| !h.is_empty());
            kustomization_status(status, generation(object).unwrap_or(0), waits)
        } else if object.kind() == "HelmRelease" {
            // As helm-controller writes it; nothing when the pass decided nothing.
            let Some(release) = release else { return Ok(()) };
            release.clone()
        } else {
            application_status(status)
        };
        hub.patch_status(&object.key(""), &value).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// Runs one round of a Flux ImageUpdateAutomation of the hub, as image-automation-controller
    /// does at its interval: the hub's GitRepository and ImagePolicies decide what is set and
    /// where it is pushed; on a kube hub its status is written as Flux writes it. Returns the
    /// row's outcome (`Pushed` or `UpToDate`).
    async fn automate(
        &mut self,
        out: &mut dyn Write,
        object: &Object,
        hub: &Hub,
        dry_run: bool,
    ) -> Result<(String, String), String> {
        use gitops_core::image::automation::Automation;
        let label = format!("ImageUpdateAutomation {}/{}", object.namespace(), object.name());
        let automation = Automation::from_json(object.value()).map_err(|e| e.to_string())?;
        let interval = automation
            .interval
            .as_deref()
            .and_then(gitops_core::quantity::go_duration_nanos)
            .and_then(|n| u64::try_from(n).ok())
            .map(std::time::Duration::from_nanos);
        if let (Some(schedules), Some(interval)) = (&mut self.options.schedules, interval) {
            schedules.passed_after(object, interval);
        }
        if automation.suspend {
            let _ = writeln!(out, "{label}: suspended");
            return Ok(("Suspended".into(), "-".into()));
        }
        if dry_run {
            let _ = writeln!(out, "{label}: would run a round (dry run)");
            return Ok(("DryRun".into(), "-".into()));
        }
        let objects = match hub {
            Hub::Dir(p) => FileCluster::new(p).list().map_err(|e| e.to_string())?,
            Hub::Kube => self.kube_hub_objects().await?.to_vec(),
        };
        let cache = self.root.cache().clone();
        let crate::image_update_cmd::RoundReport { round, status, scanned } =
            crate::image_update_cmd::run_round(&objects, &automation, &cache).map_err(|e| match e {
                crate::image_update_cmd::RoundError::Input(e) | crate::image_update_cmd::RoundError::Git(e) => e,
            })?;
        for line in crate::image_update_cmd::summary(&automation, &round) {
            let _ = writeln!(out, "{line}");
        }
        if *hub == Hub::Kube {
            let cluster = self.hub_cluster().await?;
            for (object, status) in &scanned {
                if let Err(e) = cluster.patch_status(&object.key(""), status).await {
                    let _ = writeln!(out, "{label}: writing the status of {} {}: {e}", object.kind(), object.name());
                }
            }
            cluster.patch_status(&object.key(""), &status).await.map_err(|e| format!("writing its status: {e}"))?;
        }
        let done = if matches!(round.outcome, gitops_render::git_push::Outcome::Pushed { .. }) {
            "Pushed"
        } else {
            "UpToDate"
        };
        Ok((done.into(), "-".into()))
    }

    /// The core object `kind` `namespace/name` of the kube hub, if it exists.
    async fn hub_object(
        &mut self,
        label: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Object>, String> {
        let key = ResourceKey::new("", kind, namespace, name);
        Cluster::get(self.hub_cluster().await?, &key)
            .await
            .map_err(|e| format!("{label}: reading {kind} {namespace}/{name}: {e}"))
    }

    /// Runs an ApplicationSet as Argo CD's ApplicationSet controller does: its generators over the
    /// hub's cluster Secrets and the repositories it names (served by `--local URL=DIR`, else
    /// fetched), its Applications written into the hub per its `applicationsSync` policy
    /// (those it no longer generates deleted, with their resources when their finalizer says
    /// so). Returns the hub's objects afterwards.
    async fn generate(
        &mut self,
        out: &mut dyn Write,
        appset: &Object,
        hub: &Hub,
        dry_run: bool,
    ) -> Result<Arc<Vec<Object>>, String> {
        use gitops_core::appset::{self, Inputs};
        let label = format!("ApplicationSet {}/{}", appset.namespace(), appset.name());
        let place = match hub {
            Hub::Dir(p) => Place::Dir(p.clone()),
            Hub::Kube => Place::Hub,
        };
        let objects = match hub {
            Hub::Dir(p) => Arc::new(FileCluster::new(p).list().map_err(|e| e.to_string())?),
            Hub::Kube => self.kube_hub_objects().await?,
        };
        let (registry, _) = gitops_core::fleet::cluster::ClusterRegistry::from_objects(&objects);
        let now = jiff::Timestamp::now();
        let existing = self.applications_with_status(&objects, hub)?;
        let repositories = match crate::appset_cmd::repositories(appset, &self.app_args.local, Some(self.root.cache()))
        {
            Ok(r) => r,
            Err(e) => {
                let message = format!("{label}: {e}");
                if !dry_run {
                    let outcome = appset::status::Outcome::ParamsError(message.clone());
                    let owned: Vec<Object> =
                        existing.iter().filter(|a| appset::plan::is_owned_by(a, appset.name())).cloned().collect();
                    let status = appset::status::Status::new(appset, &outcome, &owned, None, &now.to_string());
                    self.write_appset_status(appset, &status, hub).await?;
                }
                return Err(message);
            }
        };
        let mut with_secrets;
        let mut scm_objects: &[Object] = &objects;
        if *hub == Hub::Kube {
            // A kube hub lists only cluster Secrets: the ones the providers name are read.
            with_secrets = objects.to_vec();
            let ns = appset.namespace();
            // A missing Secret or ConfigMap is named by the generator that needs it.
            for name in crate::appset_cmd::referenced_secrets(appset) {
                with_secrets.extend(self.hub_object(&label, "Secret", ns, &name).await?);
            }
            // Nor ConfigMaps or duck-typed resources: read for the sets whose plugin and
            // clusterDecisionResource generators name them.
            let mut config_maps = Vec::new();
            for name in crate::appset_cmd::referenced_config_maps(appset) {
                config_maps.extend(self.hub_object(&label, "ConfigMap", ns, &name).await?);
            }
            let (token_secrets, kinds) = crate::appset_cmd::config_map_reads(appset, &config_maps);
            for name in token_secrets {
                with_secrets.extend(self.hub_object(&label, "Secret", ns, &name).await?);
            }
            for (api_version, resource) in kinds {
                let listed = self.hub_cluster().await?.list_resource(&api_version, &resource, ns).await;
                with_secrets.extend(listed.map_err(|e| format!("{label}: listing {api_version} {resource}: {e}"))?);
            }
            with_secrets.extend(config_maps);
            scm_objects = &with_secrets;
        }
        let scm = crate::appset_cmd::scm_client(appset, scm_objects);
        let inputs = Inputs {
            clusters: Some(&registry),
            repositories: Some(&repositories),
            pull_requests: Some(&scm),
            scm_repositories: Some(&scm),
            plugins: Some(&scm),
            objects: Some(scm_objects),
            ..Inputs::default()
        };
        let pass = match appset::controller::pass(appset, appset::generate_all(appset, &inputs), &existing, now) {
            Ok(pass) => pass,
            Err(failed) => {
                if !dry_run {
                    self.write_appset_status(appset, &failed.status, hub).await?;
                }
                return Err(failed.message);
            }
        };
        for e in &pass.invalid {
            let _ = writeln!(out, "{YELLOW}warning{RESET}: {e}");
        }
        let plan = &pass.plan;
        let names = |v: &[Object]| v.iter().map(|o| o.name().to_string()).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            out,
            "\n{label}: {} generated; create [{}], update [{}], delete [{}]{}",
            pass.generated,
            names(&plan.create),
            names(&plan.update),
            names(&plan.delete),
            if plan.conflicts.is_empty() {
                String::new()
            } else {
                format!("; left alone (owned elsewhere): {}", plan.conflicts.join(", "))
            }
        );
        if let Some(progress) = &pass.progress {
            let to_sync: Vec<&str> = progress.to_sync().collect();
            let _ = writeln!(
                out,
                "{label}: RollingSync: {}{}",
                progress.condition.2,
                if to_sync.is_empty() { String::new() } else { format!("; syncing [{}]", to_sync.join(", ")) }
            );
        }
        if dry_run {
            return Ok(objects);
        }
        let (target, _) = self.target_for(&place).await?;
        // The controller writes an app's spec; its status is its own controller's, and the
        // field managers the server's.
        let without_status = |o: &Object| {
            let mut o = o.clone();
            if let Some(m) = o.value_mut().as_object_mut() {
                m.remove("status");
                if let Some(meta) = m.get_mut("metadata").and_then(serde_json::Value::as_object_mut) {
                    meta.remove("managedFields");
                }
            }
            o
        };
        let mut writes: Vec<(Object, bool)> =
            plan.create.iter().chain(&plan.update).map(|o| (without_status(o), true)).collect();
        writes.extend(plan.delete.iter().map(|o| (o.clone(), false)));
        for gone in &plan.delete {
            let member = gitops_kube::fleet::member(hub, &objects, &registry, gone);
            if let Ok(member) = member
                && gitops_kube::fleet::cascades(&member)
                && matches!(hub, Hub::Dir(_))
            {
                // A FileCluster deletes at once: the resources go first, as the finalizer would
                // have them (a kube hub keeps the app until the walk finalizes it).
                let keys = self.delete_resources(&member).await?;
                let _ = writeln!(out, "{label}: {} of {}'s resources deleted", keys.len(), gone.name());
            }
        }
        if let Err(e) = self.write_hub(&target, &writes).await {
            let message = format!("{label}: {e}");
            let outcome = appset::status::Outcome::WriteError(message.clone());
            let status = appset::status::Status::new(appset, &outcome, &[], None, &now.to_string());
            self.write_appset_status(appset, &status, hub).await?;
            return Err(message);
        }
        self.write_appset_status(appset, &pass.status, hub).await?;
        Ok(match hub {
            Hub::Dir(p) => Arc::new(FileCluster::new(p).list().map_err(|e| e.to_string())?),
            Hub::Kube => self.kube_hub_objects().await?,
        })
    }

    /// Removes the `operation` of an app whose requested sync ran, as Argo CD's application
    /// controller does when the operation completes (its result is in the status).
    async fn clear_operation(&mut self, app: &Object, hub: &Hub) -> Result<(), String> {
        let patch = serde_json::json!({"operation": null});
        let key = app.key("");
        let done = match hub {
            Hub::Dir(p) => {
                let cluster = FileCluster::new(p).locked().map_err(|e| e.to_string())?;
                cluster.merge_patch(&key, &patch, false).await
            }
            Hub::Kube => Cluster::merge_patch(self.hub_cluster().await?, &key, &patch, false).await,
        };
        done.map(drop).map_err(|e| e.to_string())
    }

    /// The hub's Applications with their status: on a kube hub as listed (their controller
    /// writes it there); in a directory hub from the status store, where their passes keep it.
    fn applications_with_status(&self, objects: &[Object], hub: &Hub) -> Result<Vec<Object>, String> {
        let apps = objects.iter().filter(|o| o.kind() == "Application" && o.group() == "argoproj.io");
        if *hub == Hub::Kube {
            return Ok(apps.cloned().collect());
        }
        let store = self.root.runner.status_store().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for app in apps {
            let mut app = app.clone();
            let name =
                gitops_core::app::status_name(gitops_core::app::AppKind::ArgoApplication, app.namespace(), app.name());
            // An app never passed (or whose status does not read) has no status yet.
            if let Ok(Some(status)) = store.read(&name) {
                app.value_mut()["status"] = gitops_core::fleet::status::application_status(&status);
            }
            out.push(app);
        }
        Ok(out)
    }

    /// Writes an ApplicationSet's status into the hub when it says something new (its status
    /// subresource on a kube hub; the object's `status` in a directory hub).
    async fn write_appset_status(
        &mut self,
        appset: &Object,
        status: &gitops_core::appset::status::Status,
        hub: &Hub,
    ) -> Result<(), String> {
        if !status.differs(appset) {
            return Ok(());
        }
        // A merge patch: keys the new status lacks are removed explicitly.
        let mut patch = status.0.clone();
        if let (Some(current), Some(p)) =
            (appset.value().get("status").and_then(serde_json::Value::as_object), patch.as_object_mut())
        {
            for key in current.keys() {
                p.entry(key.clone()).or_insert(serde_json::Value::Null);
            }
        }
        let patch = serde_json::json!({"status": patch});
        let key = appset.key("");
        let label = format!("ApplicationSet {}/{}: writing its status", appset.namespace(), appset.name());
        let written = match hub {
            Hub::Dir(p) => {
                let cluster = FileCluster::new(p).locked().map_err(|e| e.to_string())?;
                cluster.merge_patch(&key, &patch, true).await
            }
            Hub::Kube => Cluster::merge_patch(self.hub_cluster().await?, &key, &patch, true).await,
        };
        written.map(drop).map_err(|e| format!("{label}: {e}"))
    }

    /// Applies (`true`) or deletes (`false`) objects in the hub, as a controller writes its own
    /// objects.
    async fn write_hub(&mut self, target: &TargetSpec, writes: &[(Object, bool)]) -> Result<(), String> {
        use gitops_kube::cluster::ApplyMode;
        // A controller writes its objects whole, with no kubectl record of what it applied.
        const CONTROLLER_WRITE: ApplyMode = ApplyMode::ServerSide { force: true, take_over: false };
        let err = |e: gitops_kube::cluster::Error| e.to_string();
        match target {
            TargetSpec::Dir(dir) => {
                let cluster = FileCluster::new(dir).locked().map_err(|e| e.to_string())?;
                write_all(&cluster, writes, CONTROLLER_WRITE).await.map_err(err)?;
            }
            _ => write_all(self.hub_cluster().await?, writes, CONTROLLER_WRITE).await.map_err(err)?,
        }
        Ok(())
    }

    /// An app being deleted on a kube hub, as its controller finalizes it: its resources
    /// deleted when its finalizer says so, then the finalizer removed, so the object goes.
    async fn finalize(&mut self, out: &mut dyn Write, member: &Member) -> Result<(), String> {
        let app = member.id.to_string();
        let target = member.target.describe();
        let finalizers = fleet::controller_finalizers(member);
        if self.options.dry_run {
            let _ =
                writeln!(out, "{app} is being deleted; its finalizers {finalizers:?} would be carried out (dry run)");
            return Ok(());
        }
        if fleet::cascades(member) && !finalizers.is_empty() {
            let keys = self.delete_resources(member).await?;
            let _ = writeln!(out, "{app} deleted; {} of its resources deleted from {target}", keys.len());
            for k in keys {
                let _ = writeln!(out, "  delete       {k}");
            }
        } else {
            let _ = writeln!(out, "{app} deleted; its resources on {target} are left (no resources finalizer)");
        }
        if let Some(key) = member.objects.last().map(|o| o.key("")) {
            let hub = self.hub_cluster().await?;
            hub.remove_finalizers(&key, &finalizers).await.map_err(|e| format!("removing its finalizers: {e}"))?;
        }
        Ok(())
    }

    async fn delete_resources(&mut self, gone: &Member) -> Result<Vec<gitops_core::ResourceKey>, String> {
        let propagation = fleet::propagation(gone);
        let err = |e: gitops_kube::cluster::Error| e.to_string();
        match self.target_for(&gone.target).await?.0 {
            TargetSpec::Dir(dir) => fleet::delete_resources_in_dir(&dir, gone).map_err(|e| e.to_string()),
            TargetSpec::Kube(_) => {
                let cluster = self.hub_cluster().await?;
                fleet::delete_resources(cluster, gone, propagation).await.map_err(err)
            }
            TargetSpec::Registered(c) => {
                let cluster = KubeCluster::connect_registered(&c).await.map_err(err)?;
                fleet::delete_resources(&cluster, gone, propagation).await.map_err(err)
            }
            TargetSpec::Kubeconfig { name, text } => {
                let cluster = KubeCluster::connect_kubeconfig_text(text.expose(), &name).await.map_err(err)?;
                fleet::delete_resources(&cluster, gone, propagation).await.map_err(err)
            }
        }
    }

    /// The target of an app placed at `place`, and the directory its status is kept beside:
    /// a FileCluster's own, else the root app file's. A Flux kubeConfig Secret is read from the
    /// hub now (its kubeconfig is never printed).
    async fn target_for(&mut self, place: &Place) -> Result<(TargetSpec, PathBuf), String> {
        Ok(match place {
            Place::Dir(p) => (TargetSpec::Dir(p.clone()), p.clone()),
            Place::Hub => (self.root.runner.target.clone(), self.root_dir()),
            Place::Cluster(c) => (TargetSpec::Registered(c.clone()), self.root_dir()),
            Place::Kubeconfig { namespace, secret, key } => {
                let hub = self.hub_cluster().await?;
                let at = ResourceKey::new("", "Secret", namespace, secret);
                let name = format!("Secret {namespace}/{secret}");
                let found = hub.get(&at).await.map_err(|e| format!("reading the kubeConfig {name}: {e}"))?;
                let object = found.ok_or_else(|| format!("the kubeConfig {name} does not exist in the hub"))?;
                let text =
                    gitops_core::fleet::cluster::flux_kubeconfig(&object, key.as_deref()).map_err(|e| e.to_string())?;
                let text = gitops_core::fleet::cluster::Sensitive::new(text);
                (TargetSpec::Kubeconfig { name, text }, self.root_dir())
            }
        })
    }
}

/// Whether `app` goes to the cluster its controller runs in: a Flux Kustomization (no
/// `kubeConfig`), or an Application whose destination is in-cluster.
fn runs_in_its_target(app: &gitops_core::app::AppSpec) -> bool {
    use gitops_core::fleet::cluster::{IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
    match app.kind {
        gitops_core::app::AppKind::FluxKustomization | gitops_core::app::AppKind::FluxHelmRelease => true,
        gitops_core::app::AppKind::ArgoApplication => {
            app.rollout.destination_server.as_deref().is_some_and(|s| s.trim_end_matches('/') == IN_CLUSTER_SERVER)
                || app.rollout.destination_name.as_deref() == Some(IN_CLUSTER_NAME)
        }
    }
}

/// `gitops reconcile`: the root's pass, then the fleet it produced.
pub fn reconcile(args: ReconcileArgs) -> Result<ExitCode, String> {
    let mut fleet = Fleet::read(&args.sync.app, PassOptions::of(&args.sync, &args.fleet))?;
    // A person asking for a reconcile refreshes the root (`applications, get`); the apps it
    // produces are the controller's business.
    args.sync.app.authorize(&fleet.root().object, "get")?;
    let stop = stop_on_signals()?;
    let verdict = runtime()?.block_on(fleet.pass(&stop, &mut anstream::stdout().lock()))?;
    Ok(exit_code(verdict))
}

/// Applies (`true`) or deletes (`false`, in the background) each object on `cluster`.
async fn write_all<C: Cluster>(
    cluster: &C,
    writes: &[(Object, bool)],
    mode: gitops_kube::cluster::ApplyMode,
) -> Result<(), gitops_kube::cluster::Error> {
    for (o, apply) in writes {
        if *apply {
            cluster.apply(o, mode, false).await?;
        } else {
            cluster.delete(&o.key(""), gitops_core::sync::options::Propagation::Background, false).await?;
        }
    }
    Ok(())
}

/// The resources a pass left its app with.
fn resource_keys(status: &gitops_kube::reconcile::Status) -> Vec<ResourceKey> {
    status.resources.iter().map(|r| ResourceKey::new(&r.group, &r.kind, &r.namespace, &r.name)).collect()
}

fn worse(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::Stopped, _) | (_, Verdict::Stopped) => Verdict::Stopped,
        (Verdict::Failed, _) | (_, Verdict::Failed) => Verdict::Failed,
        _ => Verdict::Succeeded,
    }
}

fn print_fleet(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    writeln!(out, "\n{BOLD}fleet{RESET}")?;
    let w0 = rows.iter().map(|r| r.app.len()).max().unwrap_or(3).max(3);
    let w1 = rows.iter().map(|r| r.target.len()).max().unwrap_or(6).max(6);
    writeln!(out, "{:<w0$}  {:<w1$}  {:<10}  {:<11}  CONDITION", "APP", "TARGET", "SYNC", "HEALTH")?;
    for r in rows {
        match &r.outcome {
            Ok((sync, health)) => writeln!(out, "{:<w0$}  {:<w1$}  {sync:<10}  {health:<11}", r.app, r.target)?,
            Err(e) => writeln!(
                out,
                "{:<w0$}  {:<w1$}  {:<10}  {:<11}  {RED}{e}{RESET}",
                r.app, r.target, "Unknown", "Unknown"
            )?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locals_are_a_checkout_or_a_repository_served_from_a_directory() {
        assert_eq!("deploy".parse::<Local>(), Ok(Local::Own("deploy".into())));
        assert_eq!("a=b".parse::<Local>(), Ok(Local::Own("a=b".into())));
        let repo = "https://git.example.com/apps.git=../apps".parse::<Local>().unwrap();
        assert_eq!(repo, Local::Repo { url: "https://git.example.com/apps.git".into(), dir: "../apps".into() });
        assert!("https://x=".parse::<Local>().is_err());
        let locals = vec![Local::Own("root".into()), repo];
        assert_eq!(local_for(&locals, "https://GIT.example.com/apps/", false), Some("../apps".into()));
        assert_eq!(local_for(&locals, "https://git.example.com/other.git", false), None);
        assert_eq!(local_for(&locals, "https://git.example.com/other.git", true), Some("root".into()));
    }
}
