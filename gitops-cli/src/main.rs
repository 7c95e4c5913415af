//! `gitops`: the command-line front end. Argument parsing, wiring and printing only; the
//! logic lives in the library crates.

#![forbid(unsafe_code)]

mod action_cmd;
mod analysis_cmd;
mod app_input;
mod appset_cmd;
mod diff_cmd;
mod fleet_cmd;
mod health_cmd;
mod hub_cmd;
mod image_cmd;
mod image_update_cmd;
mod notify_cmd;
mod output;
mod plan_cmd;
mod project_cmd;
mod rbac_cmd;
mod render_cmd;
mod rollout_cmd;
mod seal_cmd;
mod sops_cmd;
mod sync_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// A diff allocates and frees millions of small nodes; mimalloc does that markedly faster
// than glibc's malloc and keeps freed memory from piling up in per-thread arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// GitOps reconciliation engine: compare what Git declares with what runs.
#[derive(Parser, Debug)]
#[command(name = "gitops", version, about, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compare desired manifests with live objects, the way Argo CD does.
    ///
    /// Exit status: 0 when nothing differs, 1 when something does, 2 on bad usage or input.
    Diff(diff_cmd::DiffArgs),
    /// Assess the health of live objects as Argo CD does (built-in checks, Lua scripts).
    ///
    /// Exit status: 0 when the aggregate is Healthy, 1 otherwise, 2 on bad usage or input.
    /// `gitops health test DIR` runs Argo CD-style health_test.yaml files.
    Health(health_cmd::HealthArgs),
    /// Plan a sync as Argo CD would run it: ordered steps (phase, wave) and, per object, the
    /// action and why.
    ///
    /// Exit status: 0 when there is nothing to do, 1 when the plan has work (or would be
    /// refused), 2 on bad usage or input.
    Plan(plan_cmd::PlanArgs),
    /// Render the desired state of a directory as Argo CD's directory source does, reading
    /// nothing outside it.
    ///
    /// Exit status: 0 on success, 2 on bad usage or input (naming the file and field).
    Render(render_cmd::RenderArgs),
    /// Sync an app into a target: render it, compare with what the target holds, plan, and
    /// run the plan (waves, hooks, prunes), printing each step and a summary.
    ///
    /// Exit status: 0 when Synced, 1 when the sync failed or was refused, 2 on bad usage or
    /// input.
    Sync(sync_cmd::SyncArgs),
    /// One pass of the reconcile loop (as `flux reconcile --with-source`): render, compare,
    /// and sync only as the app's policy says (automated, selfHeal, suspend); writes the status.
    /// Then every app it produced (a fleet), recursively. `gitops reconcile
    /// kustomization|helmrelease|application NAME --hub HUB` passes one app of a hub instead.
    ///
    /// Exit status: 0 when Synced after the pass, 1 otherwise, 2 on bad usage or input.
    Reconcile(sync_cmd::ReconcileArgs),
    /// The reconcile loop: a pass every interval (the Flux Kustomization's, else 3 minutes).
    Watch(sync_cmd::WatchArgs),
    /// The status the last pass left: sync status, health, revision, last operation.
    ///
    /// Exit status: 0 when Synced, 1 otherwise, 2 when there is no status yet.
    Status(sync_cmd::AppArgs),
    /// The hub's Argo CD Applications, as `argocd app list|get|delete` show and delete them.
    #[command(subcommand)]
    App(hub_cmd::AppCommand),
    /// ApplicationSets: `generate` previews the Applications of a file (as `argocd appset
    /// generate`); `list` and `get` show the hub's (as `argocd appset list|get`).
    ///
    /// Exit status: 0 on success, 2 on bad usage or input (the file, a generator or template
    /// error, duplicate names, a provider's error, a hub that cannot be read).
    #[command(subcommand)]
    Appset(appset_cmd::AppsetCommand),
    /// The hub's Flux objects, as `flux get kustomizations|helmreleases` list them.
    #[command(subcommand)]
    Get(hub_cmd::GetCommand),
    /// Suspends a Flux Kustomization or HelmRelease in the hub (compared, never synced), as
    /// `flux suspend`.
    #[command(subcommand)]
    Suspend(hub_cmd::SuspendCommand),
    /// Resumes a suspended Flux Kustomization or HelmRelease in the hub, as `flux resume`.
    #[command(subcommand)]
    Resume(hub_cmd::SuspendCommand),
    /// Argo CD AppProjects: sync windows (`windows list|check`) and whether an app is
    /// `allowed` by its project.
    #[command(subcommand)]
    Project(project_cmd::ProjectCommand),
    /// Argo CD RBAC on files, as `argocd admin settings rbac can|validate`: may SUBJECT do
    /// ACTION on RESOURCE [OBJECT] under a policy (CSV or argocd-rbac-cm ConfigMap)?
    ///
    /// Exit status: 0 Yes / valid, 1 No / invalid / an input error (as argocd's), 2 bad usage.
    #[command(subcommand)]
    Rbac(rbac_cmd::RbacCommand),
    /// Image automation: the tag a Flux ImagePolicy or an Argo CD Image Updater image selects
    /// (`image select` from a list of tags, `image scan` from a registry), and one round of a
    /// Flux ImageUpdateAutomation (`image update`).
    ///
    /// Exit status: 0 a tag (or the list, or the round ran), 1 no tag qualifies (or Git
    /// failed), 2 bad input or a registry error.
    #[command(subcommand)]
    Image(image_cmd::ImageCommand),
    /// SOPS files: `decrypt` prints exactly what `sops --decrypt` prints (age and OpenPGP
    /// keys); `encrypt` follows `.sops.yaml` creation rules into files sops decrypts.
    ///
    /// Exit status: 0 on success, 2 on bad usage or when a file cannot be decrypted or
    /// encrypted (naming the file and why, never a decrypted value).
    #[command(subcommand)]
    Sops(sops_cmd::SopsCommand),
    /// Seal a Secret for the Sealed Secrets controller as kubeseal does (`--cert`, `--scope`,
    /// `--merge-into`, `--raw`).
    ///
    /// Exit status: 0 sealed, 2 on bad usage or input.
    Seal(seal_cmd::SealArgs),
    /// Open a SealedSecret offline with the controller's private keys, as `kubeseal
    /// --recovery-unseal`.
    ///
    /// Exit status: 0 unsealed, 2 on bad usage or when a value does not open (naming its key).
    Unseal(seal_cmd::UnsealArgs),
    /// Notifications: Flux Alerts and Providers (`match`, `send`), Argo CD triggers and
    /// templates (`trigger run`, `template notify`, as `argocd admin notifications`).
    ///
    /// Exit status: 0 done, 1 a send failed, 2 bad usage or input.
    #[command(subcommand)]
    Notify(notify_cmd::NotifyCommand),
    /// Argo CD resource actions: `list` and `run` them on a live object (restart a Deployment,
    /// resume or promote a Rollout, create a Job from a CronJob), `test` a directory of them.
    ///
    /// Exit status: 0 done, 1 a failed test or a write the target refused, 2 bad usage or input.
    #[command(subcommand)]
    Action(action_cmd::ActionCommand),
    /// Argo Rollouts analyses: `run` AnalysisTemplates against Prometheus or web endpoints
    /// as the Rollouts analysis controller does.
    ///
    /// Exit status: 0 Successful, 1 Failed or Inconclusive, 2 Error or bad input.
    #[command(subcommand)]
    Analysis(analysis_cmd::AnalysisCommand),
    /// Argo Rollouts as `kubectl argo rollouts`: `get` a Rollout with its revisions and
    /// analysis runs; `promote`, `abort`, `retry`, `pause`, `resume` it (the bundled Rollout
    /// actions); `run` a Rollout from a file through its canary steps or blue-green promotion,
    /// its analyses measured for real.
    ///
    /// Exit status: 0 done (`run`: Healthy), 1 a write the target refused (`run`: Degraded or
    /// Paused), 2 bad usage or input.
    #[command(subcommand)]
    Rollout(rollout_cmd::RolloutCommand),
}

/// The top-level `--help`: the whole tool in a few lines.
const LONG_ABOUT: &str = "\
GitOps reconciliation engine: the engine inside Argo CD and Flux, as one command.

It takes a desired state (manifests from a directory or a Git revision: plain YAML, Kustomize,
Helm) and a live state (a Kubernetes cluster, or a directory standing in for one) and tells what
differs, the way Argo CD would, whether the objects are healthy, and in what order a sync would
apply, prune and run hooks; then it runs that sync, once or as a reconcile loop. It reads Argo CD
Applications and Flux Kustomizations (with their GitRepository) as they are.";

const AFTER_HELP: &str = "\
Checks on files, no cluster needed:
  gitops render PATH                     what a directory, overlay or chart renders to
  gitops diff DESIRED LIVE               what differs (exit 1 when anything does)
  gitops health LIVE                     health of live objects, with Argo CD's checks and Lua scripts
  gitops plan DESIRED LIVE               the sync Argo CD would run, step by step
  gitops rbac can SUBJECT ACTION RESOURCE [OBJECT] --policy-file FILE   Argo CD RBAC: Yes or No
  gitops image select --tags FILE --policy POLICY.yaml   the tag a Flux ImagePolicy (or an Argo CD
                                         Image Updater image: --app APP.yaml --image ALIAS) selects
  gitops image scan IMAGE [--policy ...]  an image's tags from its registry, or the selected one
  gitops sops decrypt FILE [--age-key K]  a SOPS file decrypted (sops encrypt FILE: by .sops.yaml)
  gitops seal SECRET --cert CERT         a SealedSecret, as kubeseal (unseal: --recovery-private-key)
  gitops notify match --alerts PATH --event EVENT.yaml   the Flux Alerts that take an event
  gitops action test DIR                 run the action_test.yaml files of Lua resource actions
Running an app (an Argo CD Application or a Flux Kustomization file):
  gitops sync --app FILE [--local DIR]   render, compare, plan and sync once
  gitops reconcile / watch / status      one pass of the loop as the app's policy says, the loop, its status
A fleet (apps that make apps, many clusters; the hub is the root app's target):
  gitops reconcile --app ROOT --local URL=DIR   the root, then every app it produced, recursively
  gitops app list / get NAME / delete NAME      the hub's Applications (as argocd app ...)
  gitops appset generate FILE / list / get NAME  an ApplicationSet's Applications; the hub's sets
  gitops get kustomizations [-A]                the hub's Kustomizations; suspend / resume kustomization NAME
Operating what runs (--target dir:PATH or kube[:CONTEXT]):
  gitops action list KIND/NAME -n NS     the resource actions an object offers (argocd app actions list)
  gitops action run KIND/NAME ACTION     run one: restart, resume, promote-full, create-job...
  gitops analysis run TEMPLATE... [--arg N=V] [--prometheus URL]   an Argo Rollouts analysis, measured
Targets (--target): dir:PATH, a directory standing in for a cluster (the default:
.gitops/cluster next to the app file), or kube[:CONTEXT] through the kubeconfig.
Exit status: 0 in sync / healthy / done, 1 differences / unhealthy / failed, 2 bad usage or input.
See `gitops COMMAND --help` for each command.";

fn main() -> ExitCode {
    // `gitops reconcile kustomization|application NAME` (flux's and argocd's shape) has its own
    // parser: `gitops reconcile --app FILE` keeps its required flag.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let one = ["kustomization", "ks", "application", "app", "helmrelease", "hr"];
    if argv.get(1).is_some_and(|a| a == "reconcile") && argv.get(2).is_some_and(|a| one.iter().any(|o| a == *o)) {
        let cli = hub_cmd::ReconcileOne::parse_from(
            std::iter::once("gitops reconcile".into()).chain(argv[2..].iter().cloned()),
        );
        return finish(hub_cmd::reconcile_one(cli));
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Diff(args) => diff_cmd::run(args),
        Command::Health(args) => health_cmd::run(args),
        Command::Plan(args) => plan_cmd::run(args),
        Command::Render(args) => render_cmd::run(args),
        Command::Sync(args) => sync_cmd::sync(args),
        Command::Reconcile(args) => sync_cmd::reconcile(args),
        Command::Watch(args) => sync_cmd::watch(args),
        Command::Status(args) => sync_cmd::status(args),
        Command::App(command) => hub_cmd::app(command),
        Command::Appset(command) => appset_cmd::run(command),
        Command::Get(command) => hub_cmd::get(command),
        Command::Suspend(command) => hub_cmd::suspend(command, true),
        Command::Resume(command) => hub_cmd::suspend(command, false),
        Command::Project(command) => project_cmd::run(command),
        Command::Rbac(command) => rbac_cmd::run(command),
        Command::Image(command) => image_cmd::run(command),
        Command::Sops(command) => sops_cmd::run(command),
        Command::Seal(args) => seal_cmd::seal(args),
        Command::Unseal(args) => seal_cmd::unseal(args),
        Command::Notify(command) => notify_cmd::run(command),
        Command::Action(command) => action_cmd::run(command),
        Command::Analysis(command) => analysis_cmd::run(command),
        Command::Rollout(command) => rollout_cmd::run(command),
    };
    finish(result)
}

/// The exit status of a command's result, with its error printed.
fn finish(result: Result<ExitCode, String>) -> ExitCode {
    match result {
        Ok(code) => code,
        // The reader went away (`gitops diff ... | head`): nothing more to say, as ripgrep and
        // the coreutils exit quietly. Output errors are reported as "writing output: <io error>".
        Err(e) if e.starts_with("writing output:") && e.contains("Broken pipe") => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitops: error: {e}");
            ExitCode::from(2)
        }
    }
}
