//! `gitops health PATH...` and `gitops health test DIR`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use gitops_core::Object;
use gitops_health::{CheckSource, HealthChecks, HealthReport, HealthStatus, ObjectHealth};
use gitops_kube::{KubeCluster, inspect};
use gitops_render::health::{self, CaseProblem, Failure, TestRun};

use crate::output::{BOLD, GREEN, RED, RESET, YELLOW};

/// Arguments of `gitops health`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct HealthArgs {
    #[command(subcommand)]
    pub command: Option<HealthCommand>,
    /// Live objects: manifest files, directories (read recursively) or `-` for stdin.
    /// With --live, the desired objects whose live counterparts are assessed.
    /// (A path named `test` must be written `./test`.)
    #[arg(required_unless_present_any = ["live"], value_name = "PATH")]
    pub paths: Vec<String>,
    /// Read the live objects from a cluster, `kube` or `kube:CONTEXT`, as `argocd app get`
    /// shows their health: the counterparts of the objects in PATH (an absent one is
    /// Missing), and with --app every object the app tracks.
    #[arg(long, value_name = "CLUSTER", value_parser = cluster_arg)]
    pub live: Option<String>,
    /// The kubeconfig for --live (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE", requires = "live")]
    pub kubeconfig: Option<PathBuf>,
    /// With --live: an Argo CD Application or Flux Kustomization whose tracked objects are
    /// assessed; its destination namespace is the default one of PATH's objects.
    #[arg(long, value_name = "FILE", requires = "live")]
    pub app: Option<PathBuf>,
    /// With --live: the namespace of PATH's objects that name none.
    #[arg(long, short = 'n', value_name = "NS", requires = "live", value_parser = crate::app_input::namespace_arg)]
    pub namespace: Option<String>,
    /// An argocd-cm ConfigMap: its `resource.customizations.health.*` scripts take precedence.
    #[arg(long, value_name = "FILE")]
    pub argocd_cm: Option<PathBuf>,
    /// A directory of health scripts in Argo CD's layout (`<group>/<Kind>/health.lua`),
    /// over the bundled ones.
    #[arg(long, value_name = "DIR")]
    pub customizations: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Refuse manifests that give a key twice in one mapping (by default the last value wins,
    /// with a warning naming both lines, as kubectl and Argo CD read them).
    #[arg(long)]
    pub strict: bool,
}

/// Subcommands of `gitops health`.
#[derive(Subcommand, Debug)]
pub enum HealthCommand {
    /// Run every `health_test.yaml` under DIR as Argo CD's own test runner does.
    ///
    /// Exit status: 0 when every case passes, 1 when one fails, 2 when DIR cannot be read.
    Test {
        /// A directory in Argo CD's `resource_customizations` layout.
        dir: PathBuf,
    },
}

/// Output formats of `gitops health`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One line per object, then the app's health.
    Table,
    /// A JSON document: `objects` (key fields, `status`, `message`, `check`) and `health`.
    Json,
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(args: HealthArgs) -> Result<ExitCode, String> {
    if let Some(HealthCommand::Test { dir }) = args.command {
        return run_tests(&dir);
    }
    let checks = health_checks(args.customizations.as_deref(), args.argocd_cm.as_deref())?;
    if args.paths.iter().filter(|p| *p == "-").count() > 1 {
        return Err("standard input (`-`) can be read only once".into());
    }
    let mut read = Vec::new();
    let reading = crate::app_input::reading(args.strict);
    for path in &args.paths {
        gitops_render::for_each_object_with(path, &reading, |o| {
            read.push(o);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    }
    crate::app_input::print_warnings(&reading);
    let report = match args.live.as_deref().and_then(crate::app_input::cluster_target) {
        Some(context) => live_health(&args, context, &checks, read)?,
        None => HealthReport::new(read.iter().map(|o| ObjectHealth::assess(&checks, o)).collect()),
    };
    let mut out = anstream::stdout().lock();
    let written = match args.output {
        Format::Json => {
            // Through a `Value`, whose maps sort their keys: the document's key order.
            serde_json::to_value(&report)
                .and_then(|doc| serde_json::to_writer_pretty(&mut out, &doc))
                .map_err(io::Error::other)
                .and_then(|_| writeln!(out))
        }
        Format::Table => print_table(&mut out, &report),
    };
    written.map_err(|e| format!("writing output: {e}"))?;
    Ok(if report.is_healthy() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn cluster_arg(s: &str) -> Result<String, String> {
    match crate::app_input::cluster_target(s) {
        Some(_) => Ok(s.to_string()),
        None => Err("expected kube or kube:CONTEXT".into()),
    }
}

/// The health of the live counterparts of `desired` (absent ones Missing) and, with --app, of
/// every object the app tracks, read from the cluster.
fn live_health(
    args: &HealthArgs,
    context: Option<&str>,
    checks: &HealthChecks,
    desired: Vec<Object>,
) -> Result<HealthReport, String> {
    let app = crate::app_input::read_app(args.app.as_ref())?;
    let namespace = crate::app_input::diff_config(app.as_ref(), args.namespace.as_ref()).namespace;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))?;
    runtime.block_on(async {
        let cluster = KubeCluster::connect(args.kubeconfig.as_deref(), context).await.map_err(|e| e.to_string())?;
        inspect::health(&cluster, checks, app.as_ref(), &desired, &namespace).await.map_err(|e| e.to_string())
    })
}

fn colour(status: HealthStatus) -> &'static str {
    match status {
        HealthStatus::Healthy => GREEN,
        HealthStatus::Progressing | HealthStatus::Suspended => YELLOW,
        HealthStatus::Missing | HealthStatus::Degraded | HealthStatus::Unknown => RED,
    }
}

fn print_table(out: &mut impl Write, report: &HealthReport) -> io::Result<()> {
    let rows = &report.objects;
    let width = |f: &dyn Fn(&ObjectHealth) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let wk = width(&|r| r.group_kind().len(), 4);
    let wn = width(&|r| r.namespace.len(), 9);
    let wm = width(&|r| r.name.len(), 4);
    writeln!(out, "{BOLD}{:<11}  {:<wk$}  {:<wn$}  {:<wm$}  MESSAGE{RESET}", "STATUS", "KIND", "NAMESPACE", "NAME")?;
    for row in rows {
        let (status, colour, message) = match (row.status, &row.message) {
            (Some(s), m) => (s.as_str(), colour(s), m.as_deref().unwrap_or("").replace('\n', " ")),
            (None, _) if row.check == CheckSource::None => ("-", "", "no health check".to_string()),
            (None, _) => ("-", "", "the check gave no status".to_string()),
        };
        let note = if row.member.hook {
            " (hook: not counted)"
        } else if row.member.ignored {
            " (ignore-healthcheck: not counted)"
        } else {
            ""
        };
        writeln!(
            out,
            "{colour}{status:<11}{RESET}  {:<wk$}  {:<wn$}  {:<wm$}  {message}{note}",
            row.group_kind(),
            row.namespace,
            row.name
        )?;
    }
    let app = &report.health;
    let colour = colour(app.status);
    let detail = if app.message.is_empty() { String::new() } else { format!(" ({})", app.message) };
    writeln!(out, "\n{BOLD}app health:{RESET} {colour}{}{RESET}{detail}", app.status)
}

/// The bundled and built-in checks, with the scripts of a `resource_customizations` directory
/// and of an `argocd-cm` ConfigMap file over them.
pub(crate) fn health_checks(customizations: Option<&Path>, argocd_cm: Option<&Path>) -> Result<HealthChecks, String> {
    health::health_checks(customizations, argocd_cm).map_err(|e| e.to_string())
}

/// `gitops health test DIR`.
fn run_tests(dir: &Path) -> Result<ExitCode, String> {
    let run = health::run_tests(dir).map_err(|e| e.to_string())?;
    print_test_run(&mut anstream::stdout().lock(), dir, &run).map_err(|e| format!("writing output: {e}"))?;
    Ok(if run.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_test_run(out: &mut impl Write, dir: &Path, run: &TestRun) -> io::Result<()> {
    for failure in &run.failures {
        let (what, detail) = match failure {
            Failure::Untested { script } => (format!("{script}: no health_test.yaml beside it"), vec![]),
            Failure::TestFile { file, problem } => (format!("{file}: {problem}"), vec![]),
            Failure::Case { file, index, input_path, problem } => {
                let detail = match problem {
                    CaseProblem::Input { path, problem } => vec![format!("{path}: {problem}")],
                    CaseProblem::NoScript { group_kind } => {
                        vec![format!("no health.lua in {} for {group_kind}", dir.display())]
                    }
                    CaseProblem::Mismatch(m) => vec![
                        format!("expected: {:?} {:?}", m.expected.0, m.expected.1),
                        format!("got:      {:?} {:?}", m.got.0, m.got.1),
                    ],
                };
                (format!("{file} tests[{index}] ({input_path})"), detail)
            }
        };
        writeln!(out, "{RED}FAIL{RESET} {what}")?;
        detail.iter().try_for_each(|d| writeln!(out, "  {d}"))?;
    }
    writeln!(out, "{} passed, {} failed", run.passed, run.failures.len())
}
