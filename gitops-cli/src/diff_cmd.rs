//! `gitops diff DESIRED LIVE`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use gitops_core::app::AppSpec;
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
    /// The Sealed Secrets controller's private keys (PEM, or its backed-up key Secrets): for
    /// each SealedSecret whose ciphertexts differ, say which keys' values changed (never the
    /// values), or that it was only sealed again. LIVE must be files.
    #[arg(long = "sealed-secrets-key", value_name = "FILE")]
    pub sealed_secrets_keys: Vec<PathBuf>,
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
    if !args.sealed_secrets_keys.is_empty() {
        sealed_changes(&args, live)?;
    }
    Ok(if diff.summary.modified { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `--sealed-secrets-key`: a line per SealedSecret whose ciphertexts differ, naming the keys
/// whose values changed (or `values unchanged (sealed again)`).
fn sealed_changes(args: &DiffArgs, live: &str) -> Result<(), String> {
    use gitops_secrets::sealed::{KeyChange, changed_keys};
    if args.desired == "-" || live == "-" {
        return Err("--sealed-secrets-key needs DESIRED and LIVE as files or directories".into());
    }
    let mut keys = Vec::new();
    for path in &args.sealed_secrets_keys {
        keys.extend(crate::seal_cmd::private_keys(path)?);
    }
    let sealed = |path: &str| -> Result<Vec<gitops_core::Object>, String> {
        let mut out = Vec::new();
        gitops_render::for_each_object(path, |o| {
            if o.group() == "bitnami.com" && o.kind() == "SealedSecret" {
                out.push(o);
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    };
    let default_ns = args.namespace.clone().unwrap_or_else(|| "default".into());
    let ns =
        |o: &gitops_core::Object| if o.namespace().is_empty() { default_ns.clone() } else { o.namespace().to_string() };
    let live_objects = sealed(live)?;
    let mut out = std::io::stdout().lock();
    for want in sealed(&args.desired)? {
        let Some(have) = live_objects.iter().find(|h| h.name() == want.name() && ns(h) == ns(&want)) else { continue };
        if want.value().pointer("/spec/encryptedData") == have.value().pointer("/spec/encryptedData") {
            continue;
        }
        let label = format!("SealedSecret {}/{}", ns(&want), want.name());
        let line = match changed_keys(want.value(), have.value(), &keys) {
            Ok(changes) if changes.is_empty() => format!("{label}: values unchanged (sealed again)"),
            Ok(changes) => {
                let of = |f: fn(&KeyChange) -> Option<&String>| {
                    changes.iter().filter_map(f).map(String::as_str).collect::<Vec<_>>().join(", ")
                };
                let mut parts = Vec::new();
                for (what, list) in [
                    ("changed", of(|c| if let KeyChange::Changed(k) = c { Some(k) } else { None })),
                    ("added", of(|c| if let KeyChange::Added(k) = c { Some(k) } else { None })),
                    ("removed", of(|c| if let KeyChange::Removed(k) = c { Some(k) } else { None })),
                ] {
                    if !list.is_empty() {
                        parts.push(format!("{what}: {list}"));
                    }
                }
                format!("{label}: values {}", parts.join("; "))
            }
            Err(e) => format!("{label}: cannot unseal: {e}"),
        };
        writeln!(out, "{line}").map_err(|e| format!("writing output: {e}"))?;
    }
    Ok(())
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
        let server_side = args.server_side || app.is_some_and(|a| a.kind.is_flux());
        inspect::diff(&cluster, comparator, app, desired, server_side, keep_changed).await.map_err(|e| e.to_string())
    })?;
    for w in &compared.warnings {
        eprintln!("gitops: warning: {w}");
    }
    output::print(&compared.diff, args.output, args.explain).map_err(|e| format!("writing output: {e}"))?;
    Ok(if compared.diff.summary.modified { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
