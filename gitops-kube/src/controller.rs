//! The reconcile loop: apps on their targets, each passed again at its interval (sooner after a
//! failure when the app says so), until a stop.
//!
//! - [`TargetSpec`]: where an app goes (a FileCluster directory or a Kubernetes context);
//! - [`AppRunner`]: one app on its target: connects once, keeps its status in the target's
//!   [`StatusStore`], runs [`reconcile::pass`]es;
//! - [`Schedule`]: an app's interval and its wait after a failure;
//! - [`Controller`]: a work queue of apps, driving a pass of whichever is due next.
//!
//! A stop is a [`CancellationToken`]: cancelling it terminates a sync in progress (as Argo CD
//! terminates an operation) and ends the loop between passes.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gitops_core::app::{self, AppSpec};
use gitops_health::HealthChecks;
use tokio::time::Instant;
pub use tokio_util::sync::CancellationToken;

use crate::cluster::{self, Cluster};
use crate::file_cluster::{self, FileCluster};
use crate::kube_cluster::KubeCluster;
use crate::reconcile::{self, DesiredState, Pass, Policy, Progress, Request, Target, Verdict};
use crate::status::{self, StatusStore, beside_app};

/// How long an app waits between passes when neither it nor the caller says.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(180);

/// What stops an app from being reconciled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--target` is none of the forms a target takes.
    #[error("--target {0}: expected dir:PATH, kube or kube:CONTEXT")]
    Target(String),
    /// An interval that is not a positive duration.
    #[error("interval `{0}` is not a positive duration such as 30s or 3m")]
    Interval(String),
    /// The app's own interval cannot be used.
    #[error(transparent)]
    App(#[from] app::Error),
    /// The status store cannot be used.
    #[error(transparent)]
    Status(#[from] status::Error),
    /// The FileCluster cannot be locked.
    #[error(transparent)]
    File(#[from] file_cluster::Error),
    /// The Kubernetes cluster cannot be reached, or its kubeconfig read.
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    /// The pass failed.
    #[error(transparent)]
    Pass(#[from] reconcile::Error),
}

/// Where an app goes.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetSpec {
    /// A FileCluster directory.
    Dir(PathBuf),
    /// A Kubernetes cluster: a kubeconfig context, or the current one.
    Kube(Option<String>),
    /// A cluster registered with an Argo CD cluster Secret (a spoke of a kube hub).
    Registered(Box<gitops_core::fleet::cluster::RegisteredCluster>),
    /// The cluster a kubeconfig reaches (a Flux Kustomization's `spec.kubeConfig`), its current
    /// context; `name` says where it came from.
    Kubeconfig {
        /// Where the kubeconfig came from (`Secret ns/name`), for output and status files.
        name: String,
        /// The kubeconfig text.
        text: gitops_core::fleet::cluster::Sensitive<String>,
    },
}

impl TargetSpec {
    /// Reads `dir:PATH`, `kube` or `kube:CONTEXT`; none is the FileCluster beside the app file,
    /// `<app dir>/.gitops/cluster` (refused when a part of it is a symlink).
    pub fn parse(target: Option<&str>, app_dir: &Path) -> Result<TargetSpec, Error> {
        match target {
            None => Ok(TargetSpec::Dir(beside_app(app_dir, "cluster")?)),
            Some(t) if t.starts_with("dir:") && t.len() > 4 => Ok(TargetSpec::Dir(PathBuf::from(&t[4..]))),
            Some("kube") => Ok(TargetSpec::Kube(None)),
            Some(t) if t.starts_with("kube:") && t.len() > 5 => Ok(TargetSpec::Kube(Some(t[5..].to_string()))),
            Some(t) => Err(Error::Target(t.to_string())),
        }
    }

    /// Where output says the app goes.
    pub fn name(&self) -> String {
        match self {
            TargetSpec::Dir(root) => root.display().to_string(),
            TargetSpec::Kube(None) => "kube (current context)".into(),
            TargetSpec::Kube(Some(c)) => format!("kube:{c}"),
            TargetSpec::Registered(c) => crate::registered::describe(c),
            TargetSpec::Kubeconfig { name, .. } => format!("the kubeconfig of {name}"),
        }
    }
}

/// Reads an interval written as Go writes durations (`30s`, `3m`).
pub fn parse_interval(text: &str) -> Result<Duration, Error> {
    gitops_core::quantity::go_duration_nanos(text)
        .filter(|n| *n > 0)
        .map(|n| Duration::from_nanos(n.unsigned_abs()))
        .ok_or_else(|| Error::Interval(text.to_string()))
}

/// When an app is passed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The time between passes.
    pub interval: Duration,
    /// The time before the next pass after one that failed (Flux's `retryInterval`; else the
    /// interval).
    pub retry_interval: Option<Duration>,
    /// How far, in percent of the wait, each wait is moved at random either way, so that many
    /// apps (or controllers) started together do not pass together (Flux's controllers'
    /// `--interval-jitter-percentage`, 5 by default there); 0 keeps waits exact.
    pub jitter_percent: u32,
}

impl Schedule {
    /// The schedule of `app`: `interval` if given, else the app's `spec.interval`, else
    /// [`DEFAULT_INTERVAL`] (Argo CD's reconciliation timeout).
    pub fn of(app: &AppSpec, interval: Option<Duration>) -> Result<Schedule, Error> {
        let interval = match (interval, &app.rollout.interval) {
            (Some(i), _) => i,
            (None, Some(i)) => i.clone()?,
            (None, None) => DEFAULT_INTERVAL,
        };
        Ok(Schedule { interval, retry_interval: app.rollout.retry_interval, jitter_percent: 0 })
    }

    /// How long to wait after a pass that ended so.
    pub fn after(&self, verdict: Verdict) -> Duration {
        match verdict {
            Verdict::Succeeded => self.interval,
            Verdict::Failed | Verdict::Stopped => self.retry_interval.unwrap_or(self.interval),
        }
    }

    /// [`Schedule::after`], moved by `unit` (in -1..=1) times [`Schedule::jitter_percent`] of it.
    pub fn jittered(&self, verdict: Verdict, unit: f64) -> Duration {
        let wait = self.after(verdict);
        let share = f64::from(self.jitter_percent.min(100)) / 100.0 * unit.clamp(-1.0, 1.0);
        wait.mul_f64(1.0 + share)
    }
}

/// A number in -1..=1 that differs from call to call (the jitter of a wait needs no better).
pub(crate) fn unit_sample() -> f64 {
    use std::hash::BuildHasher;
    let bits = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    (bits % 2_000_001) as f64 / 1_000_000.0 - 1.0
}

/// Whether passes compare through the API server: asked for (`--server-side-diff`), by the
/// app's compare options (`ServerSideDiff=true`, as Argo CD reads them), or because the app is a
/// Flux Kustomization (kustomize-controller finds drift by server-side apply dry runs, and only
/// they see that fields kubectl still owns stay when Flux applies), on a kube target (a
/// directory has no server to ask).
pub fn server_side_diff(target: &TargetSpec, app: &gitops_core::Object, asked: bool) -> bool {
    let annotated = app
        .annotation(gitops_core::diff::COMPARE_OPTIONS)
        .is_some_and(|o| o.split(',').any(|x| x.trim().eq_ignore_ascii_case("ServerSideDiff=true")));
    let flux = app.group() == "kustomize.toolkit.fluxcd.io";
    !matches!(target, TargetSpec::Dir(_)) && (asked || annotated || flux)
}

/// Spec fields nothing here acts on yet, to be said out loud rather than dropped: fields the
/// diff does not use, less those the renderer (the source, Flux's kustomize fields), the loop
/// (interval), the policy (suspend) or the target (project, destination) take care of, and
/// less fields the kind does not have at all (named when the app was read).
pub fn unsupported_fields(spec: &AppSpec, object: &gitops_core::Object) -> Vec<String> {
    const HANDLED: &[&str] = &[
        "spec.source",
        "spec.sources",
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
    let unknown: Vec<String> = gitops_core::app_fields::unknown(object).into_iter().map(|u| u.path).collect();
    spec.unused.iter().filter(|f| !HANDLED.contains(&f.as_str()) && !unknown.contains(f)).cloned().collect()
}

/// One app on its target, passed as often as asked: a Kubernetes cluster is connected once and
/// kept (discovery stays cached), a FileCluster is locked for each pass.
pub struct AppRunner<D> {
    /// The app.
    pub spec: AppSpec,
    /// Where its desired state comes from.
    pub desired: D,
    /// Where it goes.
    pub target: TargetSpec,
    /// The kubeconfig for a kube target (default: as kubectl finds it).
    pub kubeconfig: Option<PathBuf>,
    /// Where a kube target's status is kept: `<app dir>/.gitops/status`.
    pub status_dir: PathBuf,
    /// Health checks for waits and for the app's health.
    pub checks: HealthChecks,
    /// Listings of a FileCluster target shared with other apps' passes (a fleet's walk).
    pub list_cache: Option<crate::file_cluster::ListCache>,
    /// Where the status is kept instead of the target's own store: a fleet keeps every app's
    /// status on its hub (as Argo CD and Flux keep it in the app objects there), so that a
    /// Kustomization finds the status of one it `dependsOn` whichever cluster each goes to.
    pub status_store_override: Option<StatusStore>,
    /// The user a kube target's writes impersonate (Argo CD's sync impersonation: the
    /// service account of the app's AppProject for its destination); reads stay the
    /// connection's own. Ignored for a FileCluster, which has no users.
    pub impersonate: Option<String>,
    /// For a HelmRelease: its status and generation as the hub has them, read by the pass to
    /// decide the Helm action (see [`crate::helm_release`]).
    pub helm_object: crate::helm_release::ReleaseObject,
    kube: Option<KubeCluster>,
}

impl<D: DesiredState> AppRunner<D> {
    /// The app `spec` from the file in `app_dir`, rendered by `desired`, going to `target`.
    pub fn new(
        spec: AppSpec,
        desired: D,
        target: TargetSpec,
        kubeconfig: Option<PathBuf>,
        app_dir: &Path,
        checks: HealthChecks,
    ) -> Result<AppRunner<D>, Error> {
        let status_dir = beside_app(app_dir, "status")?;
        Ok(AppRunner {
            spec,
            desired,
            target,
            kubeconfig,
            status_dir,
            checks,
            list_cache: None,
            status_store_override: None,
            impersonate: None,
            helm_object: Default::default(),
            kube: None,
        })
    }

    /// The kubeconfig context of a kube target: the one named in `kube:CONTEXT`, else the one
    /// reaching the Application's destination, else the current one (`None`).
    pub fn kube_context(&self) -> Result<Option<String>, Error> {
        match &self.target {
            TargetSpec::Kube(Some(c)) => Ok(Some(c.clone())),
            TargetSpec::Kube(None) => Ok(KubeCluster::context_for_destination(
                self.kubeconfig.as_deref(),
                self.spec.rollout.destination_name.as_deref(),
                self.spec.rollout.destination_server.as_deref(),
            )?),
            TargetSpec::Dir(_) | TargetSpec::Registered(_) | TargetSpec::Kubeconfig { .. } => Ok(None),
        }
    }

    /// Where the statuses of the target's apps are kept.
    pub fn status_store(&self) -> Result<StatusStore, Error> {
        if let Some(store) = &self.status_store_override {
            return Ok(store.clone());
        }
        match &self.target {
            TargetSpec::Dir(root) => Ok(StatusStore::FileCluster(FileCluster::new(root))),
            TargetSpec::Kube(_) => {
                let context = self.kube_context()?;
                let context = KubeCluster::context_name(self.kubeconfig.as_deref(), context.as_deref())?;
                Ok(StatusStore::Beside { dir: self.status_dir.clone(), context })
            }
            TargetSpec::Registered(c) => {
                Ok(StatusStore::Beside { dir: self.status_dir.clone(), context: format!("cluster-{}", c.name) })
            }
            TargetSpec::Kubeconfig { name, .. } => {
                Ok(StatusStore::Beside { dir: self.status_dir.clone(), context: format!("kubeconfig-{name}") })
            }
        }
    }

    /// Where this app's status is kept.
    pub fn status_path(&self) -> Result<PathBuf, Error> {
        Ok(self.status_store()?.path(&self.spec.status_name())?)
    }

    /// Passes through `cluster` (a clone of one already connected, sharing its connection and
    /// discovery, as a fleet's apps on one cluster do) instead of connecting on first use.
    pub fn share_cluster(&mut self, cluster: KubeCluster) {
        self.kube = Some(cluster);
    }

    /// The Kubernetes cluster its passes went through, once connected.
    pub fn connected(&self) -> Option<&KubeCluster> {
        self.kube.as_ref()
    }

    /// Runs one pass on the target: a FileCluster under its lock for the pass (none for a dry
    /// run, which writes nothing: the target may be read-only), or the Kubernetes cluster
    /// (connected on first use).
    pub async fn pass(&mut self, request: Request, progress: &mut dyn Progress) -> Result<Pass, Error> {
        match self.target.clone() {
            TargetSpec::Dir(root) => {
                let mut cluster = FileCluster::new(root);
                if let Some(cache) = &self.list_cache {
                    cluster = cluster.with_cache(cache.clone());
                }
                let cluster = if request.dry_run { cluster.for_dry_run() } else { cluster.locked()? };
                self.pass_on(&cluster, request, progress).await
            }
            TargetSpec::Kube(_) | TargetSpec::Registered(_) | TargetSpec::Kubeconfig { .. } => {
                let cluster = match (self.kube.take(), &self.target) {
                    (Some(c), _) => c,
                    (None, TargetSpec::Registered(c)) => KubeCluster::connect_registered(c).await?,
                    (None, TargetSpec::Kubeconfig { name, text }) => {
                        KubeCluster::connect_kubeconfig_text(text.expose(), name).await?
                    }
                    (None, _) => {
                        let context = self.kube_context()?;
                        KubeCluster::connect(self.kubeconfig.as_deref(), context.as_deref()).await?
                    }
                };
                let pass = match self.impersonate.clone() {
                    Some(user) => match cluster.impersonating(&user) {
                        Ok(writing) => self.pass_on(&writing, request, progress).await,
                        Err(e) => Err(e.into()),
                    },
                    None => self.pass_on(&cluster, request, progress).await,
                };
                self.kube = Some(cluster);
                pass
            }
        }
    }

    async fn pass_on<C: Cluster>(
        &mut self,
        cluster: &C,
        request: Request,
        progress: &mut dyn Progress,
    ) -> Result<Pass, Error> {
        let status = self.status_path()?;
        progress.begin(&cluster.describe(), cluster.assesses_health());
        let target = Target { cluster, status: &status, health: &self.checks };
        let policy = Policy::of(&self.spec);
        if let Some(release) = self.spec.helm.clone() {
            let object = self.helm_object.clone();
            let passed = crate::helm_release::pass(
                &self.spec,
                &release,
                &mut self.desired,
                &target,
                policy,
                request,
                progress,
                &object,
            )
            .await?;
            return Ok(passed);
        }
        Ok(reconcile::pass(&self.spec, &mut self.desired, &target, policy, request, progress).await?)
    }
}

/// Something the [`Controller`] drives: one pass at a time.
pub trait Reconciler {
    /// Runs pass number `n` (from 1) and says how it ended; a pass that could not run at all
    /// is a failure (the caller reports why).
    fn reconcile(&mut self, n: u64) -> impl Future<Output = Verdict>;

    /// When it wants its next pass, if it knows better than its [`Schedule`] (a fleet whose
    /// apps each keep their own interval: [`crate::schedules::Schedules`]); the controller then
    /// wakes it at that time instead.
    fn next_due(&self) -> Option<Instant> {
        None
    }
}

struct Entry<R> {
    app: R,
    schedule: Schedule,
    due: Instant,
    passes: u64,
    limit: Option<u64>,
}

/// How a [`Controller::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every app did the passes it was limited to.
    Done,
    /// A stop came; `passes`: how many the app passed last had done.
    Stopped {
        /// Passes of the app passed last.
        passes: u64,
    },
}

/// A work queue of apps: each is passed when due, then again after its [`Schedule`].
pub struct Controller<R> {
    queue: Vec<Entry<R>>,
    /// Apps that did their passes.
    finished: Vec<R>,
    stop: CancellationToken,
}

impl<R: Reconciler> Controller<R> {
    /// An empty queue that runs until `stop` is cancelled.
    pub fn new(stop: CancellationToken) -> Controller<R> {
        Controller { queue: Vec::new(), finished: Vec::new(), stop }
    }

    /// The apps, finished or not, in no particular order.
    pub fn into_apps(self) -> Vec<R> {
        self.finished.into_iter().chain(self.queue.into_iter().map(|e| e.app)).collect()
    }

    /// Adds an app, due at once; `limit`: leave the queue after that many passes.
    pub fn add(&mut self, app: R, schedule: Schedule, limit: Option<u64>) {
        self.queue.push(Entry { app, schedule, due: Instant::now(), passes: 0, limit });
    }

    /// Passes the apps as they fall due, until each has done its passes or a stop comes.
    pub async fn run(&mut self) -> Ended {
        let mut last = 0;
        loop {
            let Some(next) = self.queue.iter().enumerate().min_by_key(|(_, e)| e.due).map(|(i, _)| i) else {
                return Ended::Done;
            };
            let due = self.queue[next].due;
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Ended::Stopped { passes: last },
                () = tokio::time::sleep_until(due) => {}
            }
            let entry = &mut self.queue[next];
            entry.passes += 1;
            last = entry.passes;
            let verdict = entry.app.reconcile(entry.passes).await;
            if entry.limit.is_some_and(|max| entry.passes >= max) {
                self.finished.push(self.queue.remove(next).app);
                continue;
            }
            entry.due = entry
                .app
                .next_due()
                .unwrap_or_else(|| Instant::now() + entry.schedule.jittered(verdict, unit_sample()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting {
        verdicts: Vec<Verdict>,
        stop_after: Option<(u64, CancellationToken)>,
    }

    impl Reconciler for Counting {
        async fn reconcile(&mut self, n: u64) -> Verdict {
            if let Some((at, token)) = &self.stop_after
                && n >= *at
            {
                token.cancel();
            }
            self.verdicts.get(n as usize - 1).copied().unwrap_or(Verdict::Succeeded)
        }
    }

    fn schedule() -> Schedule {
        Schedule { interval: Duration::from_millis(1), retry_interval: None, jitter_percent: 0 }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn apps_are_passed_until_their_limit() {
        let mut c = Controller::new(CancellationToken::new());
        c.add(Counting { verdicts: vec![Verdict::Failed], stop_after: None }, schedule(), Some(3));
        c.add(Counting { verdicts: Vec::new(), stop_after: None }, schedule(), Some(1));
        assert_eq!(c.run().await, Ended::Done);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stop_ends_the_loop_between_passes() {
        let stop = CancellationToken::new();
        let mut c = Controller::new(stop.clone());
        c.add(Counting { verdicts: Vec::new(), stop_after: Some((2, stop.clone())) }, schedule(), None);
        assert_eq!(c.run().await, Ended::Stopped { passes: 2 });
    }

    struct Fixed;

    impl DesiredState for Fixed {
        fn render(&mut self) -> Result<reconcile::Rendered, reconcile::RenderError> {
            let objects = gitops_core::manifest::parse(
                "desired.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\n",
            )?;
            Ok(reconcile::Rendered { revision: "abc".into(), objects })
        }
    }

    /// An app on a FileCluster, driven by the controller: the first pass syncs (a new revision),
    /// the second finds it in sync, and the status is kept in the cluster's directory.
    #[tokio::test(flavor = "current_thread")]
    async fn the_controller_drives_an_app_on_a_file_cluster() {
        struct Driven(AppRunner<Fixed>, Vec<Pass>);
        impl Reconciler for Driven {
            async fn reconcile(&mut self, _n: u64) -> Verdict {
                let pass = self.0.pass(Request::default(), &mut reconcile::Silent).await.expect("pass");
                let verdict = pass.verdict(false);
                self.1.push(pass);
                verdict
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let app = gitops_core::manifest::parse(
            "app.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  destination: {namespace: default}\n  syncPolicy: {automated: {}}\n",
        )
        .expect("app");
        let spec = app::read("app.yaml", &app).expect("spec");
        let target = TargetSpec::parse(None, dir.path()).expect("default target");
        assert_eq!(target, TargetSpec::Dir(dir.path().join(".gitops/cluster")));
        let runner = AppRunner::new(spec, Fixed, target, None, dir.path(), HealthChecks::default()).expect("runner");
        let schedule = Schedule::of(&runner.spec, Some(Duration::from_millis(1))).expect("schedule");
        let mut controller = Controller::new(CancellationToken::new());
        controller.add(Driven(runner, Vec::new()), schedule, Some(2));
        assert_eq!(controller.run().await, Ended::Done);
        let Some(Driven(runner, passes)) = controller.into_apps().pop() else { panic!("the app is kept") };
        assert_eq!(passes.len(), 2);
        assert!(passes[0].synced, "{}", passes[0].status.message);
        assert!(!passes[1].synced, "{}", passes[1].status.message);
        assert_eq!(passes[1].status.message, "nothing to apply (1 object in sync)");
        let kept = runner.status_store().expect("store").read("application_argocd_shop").expect("read").expect("kept");
        assert_eq!(kept.synced_revision.as_deref(), Some("abc"));
        assert!(dir.path().join(".gitops/cluster/.status/application_argocd_shop.json").is_file());
    }

    #[test]
    fn a_failure_waits_the_retry_interval() {
        let s = Schedule {
            interval: Duration::from_secs(60),
            retry_interval: Some(Duration::from_secs(5)),
            jitter_percent: 0,
        };
        assert_eq!(s.after(Verdict::Succeeded), Duration::from_secs(60));
        assert_eq!(s.after(Verdict::Failed), Duration::from_secs(5));
        assert_eq!(s.jittered(Verdict::Succeeded, 1.0), Duration::from_secs(60), "no jitter asked");
        let j = Schedule { jitter_percent: 10, ..s };
        assert_eq!(j.jittered(Verdict::Succeeded, 1.0), Duration::from_secs(66));
        assert_eq!(j.jittered(Verdict::Succeeded, -1.0), Duration::from_secs(54));
        assert_eq!(j.jittered(Verdict::Failed, 0.0), Duration::from_secs(5));
        let samples: Vec<f64> = (0..50).map(|_| unit_sample()).collect();
        assert!(samples.iter().all(|u| (-1.0..=1.0).contains(u)));
        assert!(samples.windows(2).any(|w| w[0] != w[1]), "the samples vary");
        assert!(parse_interval("0s").is_err());
        assert_eq!(parse_interval("1m30s").unwrap(), Duration::from_secs(90));
    }
}
