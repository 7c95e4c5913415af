//! `gitops action list|run|test`: Argo CD resource actions on a target, and their tests.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use gitops_core::ResourceKey;
use gitops_health::action::{Actions, ResourceAction};
use gitops_health::actiontest::Mismatch;
use gitops_health::lua::Engine;
use gitops_kube::action::{self, Outcome, Written};
use gitops_kube::controller::TargetSpec;
use gitops_kube::{Cluster, FileCluster, KubeCluster};
use gitops_render::action::{CaseProblem, Failure, TestRun};

use crate::output::{BOLD, GREEN, RED, RESET};

/// Subcommands of `gitops action`.
#[derive(Subcommand, Debug)]
pub enum ActionCommand {
    /// The actions a live object offers, as `argocd app actions list`: name, whether it is
    /// disabled now, its display name and parameters.
    ///
    /// Exit status: 0 listed (even none), 2 bad usage, an unknown object or a failing script.
    List(ListArgs),
    /// Runs an action on a live object, as `argocd app actions run`: the object as the script
    /// returns it is merge-patched (status through the status subresource), new objects the
    /// script returns with `operation: create` are created. Nothing is written when the
    /// script fails.
    ///
    /// Exit status: 0 done, 1 the target refused a write, 2 bad usage, an unknown object or
    /// action, a disabled action, or a failing script.
    Run(RunArgs),
    /// Runs every `actions/action_test.yaml` under DIR as Argo CD's test runner does, with the
    /// clock at 2024-01-02T03:04:05Z (so `restart` and `create-job` give fixed output).
    ///
    /// Exit status: 0 when every case passes, 1 when one fails, 2 when DIR cannot be read.
    Test {
        /// A directory in Argo CD's `resource_customizations` layout.
        dir: PathBuf,
    },
}

/// The target a command acts on.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// The target: `dir:PATH` (a FileCluster), `kube` or `kube:CONTEXT`.
    #[arg(long, value_name = "TARGET")]
    pub target: String,
    /// The kubeconfig for a kube target (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

impl ClusterArgs {
    /// Runs `op` on this target's cluster.
    pub(crate) fn on<O: OnCluster>(&self, op: &O) -> Result<O::Output, String> {
        on_target(&self.target, self.kubeconfig.as_deref(), op)
    }
}

/// Where the object is and which actions apply.
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// The object: `KIND/NAME` (`Rollout/web`, `deployment.apps/web`, `rollouts/web`).
    #[arg(value_name = "KIND/NAME")]
    pub object: String,
    /// Its namespace.
    #[arg(long, short = 'n', value_name = "NS", default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// An argocd-cm ConfigMap: its `resource.customizations.actions.*` take precedence.
    #[arg(long, value_name = "FILE")]
    pub argocd_cm: Option<PathBuf>,
    /// A directory of actions in Argo CD's layout (`<group>/<Kind>/actions/...`), over the
    /// bundled ones.
    #[arg(long, value_name = "DIR")]
    pub customizations: Option<PathBuf>,
}

/// Arguments of `gitops action list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// Arguments of `gitops action run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The action.
    pub action: String,
    /// A parameter, `NAME=VALUE` (the script reads it in `actionParams`); repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// Output formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Lines for people.
    Table,
    /// A JSON document.
    Json,
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(command: ActionCommand) -> Result<ExitCode, String> {
    match command {
        ActionCommand::Test { dir } => run_tests(&dir),
        ActionCommand::List(args) => {
            let (actions, key) = resolve(&args.target)?;
            let exec = Exec { actions: &actions, key: &key, op: Op::List };
            let Done::List(found) = args.target.cluster.on(&exec)?.map_err(|e| e.to_string())? else {
                unreachable!("a list gives a list")
            };
            print_list(&found, args.output).map_err(|e| format!("writing output: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        ActionCommand::Run(args) => {
            let (actions, key) = resolve(&args.target)?;
            let params = gitops_render::action::parse_params(args.params.iter().map(String::as_str))?;
            let exec = Exec { actions: &actions, key: &key, op: Op::Run { name: &args.action, params: &params } };
            match args.target.cluster.on(&exec)? {
                Ok(Done::List(_)) => unreachable!("a run gives what it wrote"),
                Ok(Done::Run(written)) => {
                    print_written(&written, &args.action, args.output).map_err(|e| format!("writing output: {e}"))?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(action::Error::Cluster(e)) => {
                    eprintln!("gitops: error: {e}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

/// The actions that apply and the object's key.
fn resolve(args: &TargetArgs) -> Result<(Actions, ResourceKey), String> {
    let actions =
        gitops_render::action::actions(args.customizations.as_deref(), args.argocd_cm.as_deref(), Engine::default())
            .map_err(|e| e.to_string())?;
    let (kind, name) = args
        .object
        .split_once('/')
        .filter(|(k, n)| !k.is_empty() && !n.is_empty())
        .ok_or_else(|| format!("`{}`: expected KIND/NAME", args.object))?;
    let (group, kind) = match &actions.resolve_kind(kind)[..] {
        [one] => one.clone(),
        [] => return Err(format!("no actions for kind `{kind}` (kinds with actions: {})", known_kinds(&actions))),
        many => {
            let names: Vec<String> = many.iter().map(|(g, k)| format!("{k}.{g}")).collect();
            return Err(format!("`{kind}` is ambiguous: write one of {}", names.join(", ")));
        }
    };
    Ok((actions, ResourceKey::new(&group, &kind, &args.namespace, name)))
}

fn known_kinds(actions: &Actions) -> String {
    actions.kinds().join(", ")
}

/// What to do on the target.
enum Op<'a> {
    List,
    Run { name: &'a str, params: &'a std::collections::BTreeMap<String, String> },
}

/// What it gave.
enum Done {
    List(Vec<ResourceAction>),
    Run(Vec<Written>),
}

/// An action op with what it needs.
struct Exec<'a> {
    actions: &'a Actions,
    key: &'a ResourceKey,
    op: Op<'a>,
}

impl OnCluster for Exec<'_> {
    type Output = Result<Done, action::Error>;

    async fn on<C: Cluster>(&self, cluster: &C) -> Self::Output {
        match &self.op {
            Op::List => action::list(cluster, self.actions, self.key).await.map(Done::List),
            Op::Run { name, params } => action::run(cluster, self.actions, self.key, name, params).await.map(Done::Run),
        }
    }
}

/// Something done on a target's cluster, whichever kind of target it is.
pub(crate) trait OnCluster {
    /// What it gives.
    type Output;
    /// Does it on `cluster`.
    async fn on<C: Cluster>(&self, cluster: &C) -> Self::Output;
}

/// Runs `op` on the cluster of `target` (`dir:PATH`, `kube`, `kube:CONTEXT`); the error is a
/// target that cannot be opened.
pub(crate) fn on_target<O: OnCluster>(target: &str, kubeconfig: Option<&Path>, op: &O) -> Result<O::Output, String> {
    let spec = TargetSpec::parse(Some(target), Path::new(".")).map_err(|e| e.to_string())?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))?;
    match spec {
        TargetSpec::Dir(root) => {
            if !root.is_dir() {
                return Err(format!("{}: not a directory", root.display()));
            }
            let cluster = FileCluster::new(root).locked().map_err(|e| e.to_string())?;
            Ok(runtime.block_on(op.on(&cluster)))
        }
        TargetSpec::Kube(context) => runtime.block_on(async {
            let cluster = KubeCluster::connect(kubeconfig, context.as_deref()).await.map_err(|e| e.to_string())?;
            Ok(op.on(&cluster).await)
        }),
        _ => Err(format!("`{target}`: expected dir:PATH, kube or kube:CONTEXT")),
    }
}

fn print_list(found: &[ResourceAction], format: Format) -> io::Result<()> {
    let mut out = anstream::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, found).map_err(io::Error::other)?;
        return writeln!(out);
    }
    if found.is_empty() {
        return writeln!(out, "no actions");
    }
    let w = found.iter().map(|a| a.name.len()).max().unwrap_or(0).max(6);
    let d = found.iter().map(|a| a.display_name.len()).max().unwrap_or(0).max(12);
    writeln!(out, "{BOLD}{:<w$}  {:<8}  {:<d$}  PARAMS{RESET}", "ACTION", "DISABLED", "DISPLAY NAME")?;
    for a in found {
        let params: Vec<String> = a
            .params
            .iter()
            .map(|p| if p.default.is_empty() { p.name.clone() } else { format!("{}={}", p.name, p.default) })
            .collect();
        writeln!(out, "{:<w$}  {:<8}  {:<d$}  {}", a.name, a.disabled, a.display_name, params.join(" "))?;
    }
    Ok(())
}

fn print_written(written: &[Written], action: &str, format: Format) -> io::Result<()> {
    let mut out = anstream::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, written).map_err(io::Error::other)?;
        return writeln!(out);
    }
    for w in written {
        let what = match &w.outcome {
            Outcome::Patched { status: true } => "patched (with status)",
            Outcome::Patched { status: false } => "patched",
            Outcome::Unchanged => "unchanged",
            Outcome::Created => "created",
        };
        writeln!(out, "{}: {GREEN}{what}{RESET} by action {action}", w.key)?;
    }
    Ok(())
}

/// `gitops action test DIR`.
fn run_tests(dir: &Path) -> Result<ExitCode, String> {
    let run = gitops_render::action::run_tests(dir).map_err(|e| e.to_string())?;
    print_test_run(&mut anstream::stdout().lock(), &run).map_err(|e| format!("writing output: {e}"))?;
    Ok(if run.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_test_run(out: &mut impl Write, run: &TestRun) -> io::Result<()> {
    for failure in &run.failures {
        let (what, detail) = match failure {
            Failure::TestFile { file, problem } => (format!("{file}: {problem}"), vec![]),
            Failure::Case { file, case, input_path, problem } => {
                let detail = match problem {
                    CaseProblem::Input { path, problem } => vec![format!("{path}: {problem}")],
                    CaseProblem::Mismatch(Mismatch::Error(e)) => vec![format!("error: {e}")],
                    CaseProblem::Mismatch(Mismatch::NoError) => vec!["expected an error, the action succeeded".into()],
                    CaseProblem::Mismatch(Mismatch::Unexpected(found)) => {
                        found.iter().map(|a| format!("discovered, not in result: {a}")).collect()
                    }
                    CaseProblem::Mismatch(Mismatch::Output(diffs)) => diffs.clone(),
                };
                (format!("{file} {case} ({input_path})"), detail)
            }
        };
        writeln!(out, "{RED}FAIL{RESET} {what}")?;
        detail.iter().try_for_each(|d| writeln!(out, "  {d}"))?;
    }
    writeln!(out, "{} passed, {} failed", run.passed, run.failures.len())
}
