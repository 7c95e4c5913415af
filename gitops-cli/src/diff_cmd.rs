//! `gitops diff DESIRED LIVE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use std::collections::HashSet;

use gitops_core::ResourceKey;
use gitops_core::app::{self, AppSpec};
use gitops_core::diff::{AppDiff, Comparator, DiffSession, SyncStatus};
use gitops_core::ignore::IgnoreRuleSpec;
use gitops_kube::{KubeCluster, reconcile};
use serde_json::Value;

use crate::{app_input, output};

/// Arguments of `gitops diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Desired state: a manifest file, a directory (read recursively) or `-` for stdin.
    pub desired: String,
    /// Live state: a file, a directory or `-` (objects as the API server returns them), or
    /// `kube` / `kube:CONTEXT`: the objects in a Kubernetes cluster (with --app, every object the
    /// app tracks; without, the desired objects' counterparts).
    #[arg(required_unless_present = "live_option", conflicts_with = "live_option")]
    pub live: Option<String>,
    /// LIVE as an option, as `gitops health --live` takes it: `--live kube:CONTEXT`.
    #[arg(long = "live", value_name = "LIVE")]
    pub live_option: Option<String>,
    /// The kubeconfig when LIVE is a cluster (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// When LIVE is a cluster: compare through the API server, as Argo CD's server-side diff
    /// (`ServerSideDiff=true`): each desired object that exists is server-side applied as a dry
    /// run (field manager `gitops`, forced) and the server's answer compared with live, so
    /// defaults, admission and conversion are the server's own.
    #[arg(long)]
    pub server_side: bool,
    /// Destination namespace for objects that do not name one.
    #[arg(long, short = 'n', value_name = "NS", value_parser = crate::app_input::namespace_arg)]
    pub namespace: Option<String>,
    /// A YAML list of ignoreDifferences entries, as in an Application's spec.
    #[arg(long, value_name = "FILE")]
    pub ignore_differences: Option<PathBuf>,
    /// An Argo CD Application or Flux Kustomization: destination namespace and
    /// ignoreDifferences are taken from it, and only live objects it tracks can be pruned.
    #[arg(long, value_name = "FILE")]
    pub app: Option<PathBuf>,
    /// An argocd-cm ConfigMap: system-level ignoreDifferences, compare options, known types.
    #[arg(long, value_name = "FILE")]
    pub argocd_cm: Option<PathBuf>,
    /// Explain each result: diff mode, ignored paths and the rules that ignored them.
    #[arg(long)]
    pub explain: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Diff)]
    pub output: Format,
    /// Show Secret values instead of masks (never do this in shared logs).
    #[arg(long)]
    pub show_secrets: bool,
    /// Refuse manifests that give a key twice in one mapping (by default the last value wins,
    /// with a warning naming both lines, as kubectl and Argo CD read them).
    #[arg(long)]
    pub strict: bool,
}

/// Output formats of `gitops diff`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A unified YAML diff per differing object, then a summary.
    Diff,
    /// The stable JSON report.
    Json,
    /// The JSON report as YAML.
    Yaml,
    /// One line per object and the totals.
    Summary,
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(args: DiffArgs) -> Result<ExitCode, String> {
    let live = args.live.as_deref().or(args.live_option.as_deref()).unwrap_or_default();
    if args.desired == "-" && live == "-" {
        return Err("DESIRED and LIVE cannot both be read from standard input".into());
    }
    let app = app_input::read_app(args.app.as_ref())?;
    let mut config = app_input::diff_config(app.as_ref(), args.namespace.as_ref());
    if let Some(p) = &args.ignore_differences {
        let value = app_input::single_document(p)?;
        let rules: Vec<IgnoreRuleSpec> = match value {
            Value::Null => Vec::new(),
            v => serde_json::from_value(v)
                .map_err(|e| format!("{}: not a list of ignoreDifferences entries: {e}", p.display()))?,
        };
        config.ignore_differences.extend(rules);
    }
    config.settings = app_input::argocd_cm_settings(args.argocd_cm.as_deref())?;
    config.reveal_secrets = args.show_secrets;
    let comparator = Comparator::new(config).map_err(|e| e.to_string())?;
    if let Some(context) = crate::app_input::cluster_target(live) {
        return run_on_cluster(&args, app.as_ref(), &comparator, context);
    }
    if args.server_side {
        return Err("--server-side needs a cluster as LIVE (kube or kube:CONTEXT)".into());
    }

    // Desired objects go into the session one by one (kept compact there); live objects are
    // compared as they are read and dropped, so memory stays a small multiple of the input.
    let mut session = DiffSession::new(&comparator);
    let force_namespace = app.as_ref().is_some_and(|a| a.force_namespace);
    let mut failure: Option<String> = None;
    let reading = app_input::reading(args.strict);
    gitops_render::for_each_object_with(&args.desired, &reading, |mut o| {
        if force_namespace {
            app::force_namespace(std::slice::from_mut(&mut o), comparator.namespace());
        }
        if let Err(e) = session.add_desired(o) {
            failure.get_or_insert(e.to_string());
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    if let Some(e) = failure.take() {
        return Err(e);
    }
    let keep_objects = args.output == Format::Diff;
    let mut results = Vec::new();
    let mut keep = |mut r: gitops_core::ObjectDiff| {
        if !keep_objects || r.status == SyncStatus::Synced {
            r.drop_objects();
        }
        results.push(r);
    };
    gitops_render::for_each_object_with(live, &reading, |live| {
        // With an application, a live object outside the desired set counts only if the
        // application tracks it: never report for pruning what this app does not own.
        let untracked = app.as_ref().is_some_and(|a| !app::is_tracked_by(&live, a));
        if untracked && !session.has_desired(&live) {
            return Ok(());
        }
        match session.compare_live(live) {
            Ok(Some(r)) => keep(r),
            Ok(None) => {}
            Err(e) => {
                failure.get_or_insert(e.to_string());
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    app_input::print_warnings(&reading);
    if let Some(e) = failure {
        return Err(e);
    }
    let skipped = session.finish(&mut keep).map_err(|e| e.to_string())?;
    let diff = AppDiff::from_objects(results, skipped);
    output::print(&diff, args.output, args.explain).map_err(|e| format!("writing output: {e}"))?;
    Ok(if diff.summary.modified { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The diff against a cluster: desired objects are marked with the app's tracking as a sync
/// would apply them (so what a sync wrote compares equal), live objects are read from the
/// cluster, and with `--server-side` pairs are compared through server-side apply dry runs.
fn run_on_cluster(
    args: &DiffArgs,
    app: Option<&AppSpec>,
    comparator: &Comparator,
    context: Option<&str>,
) -> Result<ExitCode, String> {
    let namespace = comparator.namespace().to_string();
    let mut desired = Vec::new();
    gitops_render::for_each_object(&args.desired, |o| {
        desired.push(o);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    if let Some(a) = app {
        if a.force_namespace {
            app::force_namespace(&mut desired, &namespace);
        }
        for o in &mut desired {
            app::mark_tracked(o, a, &namespace, &a.rollout.app_namespace);
        }
    }
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))?;
    let (live, predicted, warnings) = runtime.block_on(async {
        let cluster = KubeCluster::connect(args.kubeconfig.as_deref(), context).await.map_err(|e| e.to_string())?;
        let keys: HashSet<ResourceKey> =
            desired.iter().filter(|o| !o.name().is_empty()).map(|o| o.key(&namespace)).collect();
        let live = gitops_kube::cluster::live_objects(&cluster, app, &keys).await.map_err(|e| e.to_string())?;
        let (predicted, warnings) = if args.server_side {
            reconcile::predictions(&cluster, &desired, &live, &namespace).await
        } else {
            Default::default()
        };
        Ok::<_, String>((live, predicted, warnings))
    })?;
    for w in &warnings {
        eprintln!("gitops: warning: {w}");
    }
    let mut session = DiffSession::with_desired(comparator, desired).map_err(|e| e.to_string())?;
    session.set_predictions(predicted);
    let keep_objects = args.output == Format::Diff;
    let mut results = Vec::new();
    let mut keep = |mut r: gitops_core::ObjectDiff| {
        if !keep_objects || r.status == SyncStatus::Synced {
            r.drop_objects();
        }
        results.push(r);
    };
    for l in live {
        if let Some(r) = session.compare_live(l).map_err(|e| e.to_string())? {
            keep(r);
        }
    }
    let skipped = session.finish(&mut keep).map_err(|e| e.to_string())?;
    let diff = AppDiff::from_objects(results, skipped);
    output::print(&diff, args.output, args.explain).map_err(|e| format!("writing output: {e}"))?;
    Ok(if diff.summary.modified { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
