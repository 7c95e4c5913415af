//! `gitops diff DESIRED LIVE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use gitops_core::app::{AppKind, AppSpec};
use gitops_core::diff::Comparator;
use gitops_core::ignore::IgnoreRuleSpec;
use gitops_kube::{KubeCluster, inspect};
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

    let reading = app_input::reading(args.strict);
    let keep_changed = args.output == Format::Diff;
    let diff =
        gitops_render::compare::diff_paths(&comparator, &args.desired, live, app.as_ref(), &reading, keep_changed);
    app_input::print_warnings(&reading);
    let diff = diff.map_err(|e| e.to_string())?;
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
    let mut desired = Vec::new();
    gitops_render::for_each_object(&args.desired, |o| {
        desired.push(o);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))?;
    let keep_changed = args.output == Format::Diff;
    let compared = runtime.block_on(async {
        let cluster = KubeCluster::connect(args.kubeconfig.as_deref(), context).await.map_err(|e| e.to_string())?;
        // Flux finds drift by server-side apply dry runs: so does a diff of a Flux app.
        let server_side = args.server_side || app.is_some_and(|a| a.kind == AppKind::FluxKustomization);
        inspect::diff(&cluster, comparator, app, desired, server_side, keep_changed).await.map_err(|e| e.to_string())
    })?;
    for w in &compared.warnings {
        eprintln!("gitops: warning: {w}");
    }
    output::print(&compared.diff, args.output, args.explain).map_err(|e| format!("writing output: {e}"))?;
    Ok(if compared.diff.summary.modified { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
