//! The fleet from one root app: `gitops reconcile --app ROOT` passes ROOT, then every app ROOT
//! produced, each on the cluster its destination names, then the apps those produced, until no
//! new app appears. Which apps, where they go, in which order and what a removed app takes with
//! it are the library's (`gitops_kube::fleet`); this builds each app's renderer and prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use gitops_kube::FileCluster;
use gitops_kube::controller::{CancellationToken, TargetSpec};
use gitops_kube::fleet::{self, Member, Next, Walk};
use gitops_kube::reconcile::{Request, Verdict};

use crate::output::{BOLD, RED, RESET};
use crate::sync_cmd::{App, AppArgs, SyncArgs, exit_code, runtime, stop_on_signals};

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

/// Repository URLs compared as the same repository: no trailing `/` or `.git`, host case-blind.
fn same_repo(a: &str, b: &str) -> bool {
    let norm = |u: &str| u.trim_end_matches('/').trim_end_matches(".git").to_ascii_lowercase();
    norm(a) == norm(b)
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
            Local::Repo { url, dir } if same_repo(url, repo_url) => Some(dir.clone()),
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

/// How the passes of a fleet run: `reconcile`'s flags (`watch` takes the defaults).
#[derive(Debug, Clone, Default)]
pub(crate) struct PassOptions {
    pub(crate) prune: bool,
    pub(crate) dry_run: bool,
    pub(crate) force_conflicts: bool,
    pub(crate) resources: Vec<gitops_core::sync::select::ResourceSelector>,
    pub(crate) server_side_diff: bool,
}

impl PassOptions {
    fn of(args: &SyncArgs) -> PassOptions {
        PassOptions {
            prune: args.prune,
            dry_run: args.dry_run,
            force_conflicts: args.force_conflicts,
            resources: args.resources.clone(),
            server_side_diff: args.server_side_diff,
        }
    }
}

/// A root app and the fleet it produces, passed together.
pub(crate) struct Fleet {
    app_args: AppArgs,
    root: App,
    options: PassOptions,
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
        Ok(Fleet { app_args: app_args.clone(), root, options })
    }

    /// The root app.
    pub(crate) fn root(&self) -> &App {
        &self.root
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

    /// One pass of the root, then of every app it produced, recursively, each printed; then a
    /// table of the fleet. On a kube target only the root is passed (a kube hub is not walked
    /// yet).
    pub(crate) async fn pass(&mut self, stop: &CancellationToken, out: &mut dyn Write) -> Result<Verdict, String> {
        let dry_run = self.options.dry_run;
        let TargetSpec::Dir(hub) = self.root.runner.target.clone() else {
            let request = self.request(&self.root, stop);
            let pass = self.root.pass(request, out).await?;
            return Ok(pass.verdict(stop.is_cancelled()));
        };
        // The root's target is the hub when the root goes to the cluster it runs in (a Flux
        // Kustomization always does; an Application whose destination is in-cluster): Argo CD
        // and Flux run there, so it serves their kinds.
        if !dry_run && runs_in_its_target(&self.root.runner.spec) {
            let installed = gitops_kube::hub::install_controller_crds(&FileCluster::new(&hub))
                .map_err(|e| format!("{}: installing the controllers' CRDs: {e}", hub.display()))?;
            if !installed.is_empty() {
                let _ = writeln!(
                    out,
                    "hub {}: {} controller CRDs installed (Argo CD, Flux)",
                    hub.display(),
                    installed.len()
                );
            }
        }
        let mut walk = Walk::new(&hub, &self.root.runner.spec, &self.root.object);
        let fail = |e: fleet::Error| e.to_string();
        self.root.runner.list_cache = Some(walk.cache().clone());
        // Every app of this pass fetches a repository and revision once.
        let git = self.root.cache().for_one_pass();
        self.root.share_cache(&git);
        let before = walk.produced(&self.root.runner.spec, &hub).map_err(fail)?.0;
        let request = self.request(&self.root, stop);
        let pass = self.root.pass(request, out).await?;
        let mut verdict = pass.verdict(stop.is_cancelled());
        let after = walk.passed(&self.root.runner.spec, &hub).map_err(fail)?;
        let mut rows = Vec::new();
        cascade(out, before, &after, dry_run, &mut rows);
        while let Some(next) = walk.next() {
            if stop.is_cancelled() {
                break;
            }
            let member = match next {
                Next::Condition(c) => {
                    verdict = worse(verdict, Verdict::Failed);
                    rows.push(Row { app: c.app, target: String::new(), outcome: Err(c.message) });
                    continue;
                }
                Next::Pass(member) => member,
            };
            let target = member.target.display().to_string();
            let label = member.id.to_string();
            let before = walk.produced(&member.spec, &member.target).map_err(fail)?.0;
            let _ = writeln!(out);
            let outcome = match App::build(
                &self.app_args,
                &member.origin,
                &member.objects,
                TargetSpec::Dir(member.target.clone()),
                &member.target,
                false,
            ) {
                Ok(mut app) => {
                    app.runner.list_cache = Some(walk.cache().clone());
                    app.share_cache(&git);
                    let request = self.request(&app, stop);
                    app.pass(request, out).await
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok(pass) => {
                    verdict = worse(verdict, pass.verdict(stop.is_cancelled()));
                    let status = (pass.status.sync.to_string(), pass.status.health.status.to_string());
                    rows.push(Row { app: label, target, outcome: Ok(status) });
                    let after = walk.passed(&member.spec, &member.target).map_err(fail)?;
                    cascade(out, before, &after, dry_run, &mut rows);
                }
                Err(e) => {
                    verdict = worse(verdict, Verdict::Failed);
                    rows.push(Row { app: label, target, outcome: Err(e) });
                }
            }
        }
        if !rows.is_empty() {
            print_fleet(out, &rows).map_err(|e| format!("writing output: {e}"))?;
        }
        Ok(verdict)
    }
}

/// Whether `app` goes to the cluster its controller runs in: a Flux Kustomization (no
/// `kubeConfig`), or an Application whose destination is in-cluster.
fn runs_in_its_target(app: &gitops_core::app::AppSpec) -> bool {
    use gitops_core::fleet::cluster::{IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
    match app.kind {
        gitops_core::app::AppKind::FluxKustomization => true,
        gitops_core::app::AppKind::ArgoApplication => {
            app.rollout.destination_server.as_deref().is_some_and(|s| s.trim_end_matches('/') == IN_CLUSTER_SERVER)
                || app.rollout.destination_name.as_deref() == Some(IN_CLUSTER_NAME)
        }
    }
}

/// `gitops reconcile`: the root's pass, then the fleet it produced.
pub fn reconcile(args: SyncArgs) -> Result<ExitCode, String> {
    let mut fleet = Fleet::read(&args.app, PassOptions::of(&args))?;
    let stop = stop_on_signals()?;
    let verdict = runtime()?.block_on(fleet.pass(&stop, &mut anstream::stdout().lock()))?;
    Ok(exit_code(verdict))
}

/// The apps a pass removed from the hub: with Argo CD's resources finalizer (or a pruning Flux
/// Kustomization) their resources are deleted too; without, they are left, and said so.
fn cascade(out: &mut dyn Write, before: Vec<Member>, after: &[Member], dry_run: bool, rows: &mut Vec<Row>) {
    for gone in fleet::removed(before, after) {
        let target = gone.target.display().to_string();
        let (app, outcome) = (gone.id.to_string(), Ok(("Deleted".to_string(), "-".to_string())));
        if !fleet::cascades(&gone) {
            let _ = writeln!(out, "{app} removed; its resources on {target} are left (no resources finalizer)");
        } else if dry_run {
            let _ = writeln!(out, "{app} removed; its resources on {target} would be deleted (dry run)");
        } else {
            match fleet::delete_resources(&gone) {
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
        rows.push(Row { app, target, outcome });
    }
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
