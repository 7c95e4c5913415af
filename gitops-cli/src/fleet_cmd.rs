//! The fleet from one root app: `gitops reconcile --app ROOT` passes ROOT, then every app ROOT
//! produced (Argo CD Applications in the controller namespace, Flux Kustomizations), each on the
//! cluster its destination names, then the apps those produced, until no new app appears.
//!
//! The root's target is the hub: the apps it produces are objects there, and so are the cluster
//! Secrets (`argocd.argoproj.io/secret-type: cluster`) that name the other clusters. On a
//! FileCluster hub at `DIR`, the cluster registered as NAME is the FileCluster at
//! `<parent of DIR>/clusters/NAME` (so the default hub `.gitops/cluster` has its spokes at
//! `.gitops/clusters/NAME`), and `in-cluster` is the hub itself. What each app decides, and how
//! it renders, syncs and records its status, is the library's; this finds the apps and prints.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use gitops_core::Object;
use gitops_core::app;
use gitops_core::fleet::children::{self, ChildApp, ChildKind};
use gitops_core::fleet::cluster::{ClusterRegistry, IN_CLUSTER_SERVER};
use gitops_core::fleet::graph::{AppId, FleetGraph};
use gitops_kube::FileCluster;
use gitops_kube::controller::TargetSpec;
use gitops_kube::reconcile::{Pass, Request, Verdict};

use crate::output::{BOLD, RED, RESET};
use crate::sync_cmd::{App, SyncArgs, exit_code, runtime, stop_on_signals};

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

/// `gitops reconcile`: the root's pass, then the fleet it produced.
pub fn reconcile(args: SyncArgs) -> Result<ExitCode, String> {
    if args.app.local.iter().filter(|l| matches!(l, Local::Own(_))).count() > 1 {
        return Err("--local DIR given twice; other repositories are given as --local URL=DIR".into());
    }
    if args.app.revision.is_some() && args.app.local.iter().any(|l| matches!(l, Local::Own(_))) {
        return Err("--revision and --local DIR cannot be used together".into());
    }
    let mut root = App::read(&args.app)?;
    let stop = stop_on_signals()?;
    let mut out = anstream::stdout().lock();
    // The root's target is the hub: Argo CD and Flux run there, so it serves their kinds.
    if let TargetSpec::Dir(hub) = &root.runner.target
        && !args.dry_run
    {
        let installed = gitops_kube::hub::install_controller_crds(&FileCluster::new(hub))
            .map_err(|e| format!("{}: installing the controllers' CRDs: {e}", hub.display()))?;
        if !installed.is_empty() {
            let _ =
                writeln!(out, "hub {}: {} controller CRDs installed (Argo CD, Flux)", hub.display(), installed.len());
        }
    }
    let request = |app: &App| Request {
        sync: false,
        prune: args.prune,
        dry_run: args.dry_run,
        force_conflicts: args.force_conflicts,
        resources: args.resources.clone(),
        ..app.request(stop.clone(), args.server_side_diff)
    };
    let runtime = runtime()?;
    let first = request(&root);
    let pass = runtime.block_on(root.pass(first, &mut out))?;
    let mut verdict = pass.verdict(stop.is_cancelled());
    let TargetSpec::Dir(hub) = root.runner.target.clone() else {
        // A kube hub (Applications as custom resources, cluster Secrets from the API server)
        // comes with the controller's hub; one app is reconciled meanwhile.
        return Ok(exit_code(verdict));
    };
    let root_id = (kind_of(&root.object), root.object.namespace().to_string(), root.runner.spec.name.clone());
    let mut seen: HashSet<(ChildKind, String, String)> = HashSet::new();
    if let Some(k) = root_id.0 {
        seen.insert((k, root_id.1.clone(), root_id.2.clone()));
    }
    let mut queue = vec![(root.runner.spec.clone(), root.runner.spec.name.clone())];
    let mut rows = Vec::new();
    while let Some((parent, parent_name)) = queue.pop() {
        if stop.is_cancelled() {
            break;
        }
        let hub_objects = FileCluster::new(&hub).list().map_err(|e| format!("{}: {e}", hub.display()))?;
        let produced: Vec<Object> = hub_objects.iter().filter(|o| app::is_tracked_by(o, &parent)).cloned().collect();
        let default_ns = parent.destination_namespace.clone().unwrap_or_else(|| "default".into());
        let found = children::find_children(&produced, &default_ns, children::DEFAULT_CONTROLLER_NAMESPACE);
        for (child, why) in &found.not_reconciled {
            rows.push(Row { app: child.name.clone(), target: String::new(), outcome: Err(why.to_string()) });
        }
        let (registry, secret_errors) = ClusterRegistry::from_objects(&hub_objects);
        for e in secret_errors {
            let _ = writeln!(out, "{RED}cluster secret{RESET}: {e}");
        }
        for child in in_dependency_order(found.apps, &produced, &default_ns) {
            let id = (child.kind, child.namespace.clone(), child.name.clone());
            let label = format!("{} {}/{}", child.kind.kind(), child.namespace, child.name);
            if !matches!(child.kind, ChildKind::Application | ChildKind::Kustomization) {
                continue;
            }
            // An app that manages its own manifest (the flux-system Kustomization of `flux
            // bootstrap`, a root Application listing itself) is not a cycle.
            if child.name == parent.name && child.namespace == parent.rollout.app_namespace {
                continue;
            }
            if !seen.insert(id) {
                let why = format!("already part of the fleet; produced again by {parent_name} (a cycle of apps?)");
                rows.push(Row { app: label, target: String::new(), outcome: Err(why) });
                continue;
            }
            let Some(object) = hub_objects.iter().find(|o| o.key("") == child.key).cloned() else { continue };
            let outcome = child_pass(&args, &hub, &hub_objects, &registry, object, &request, &runtime, &mut out);
            match outcome {
                Ok((app, pass, target)) => {
                    verdict = worse(verdict, pass.verdict(stop.is_cancelled()));
                    let status = (pass.status.sync.to_string(), pass.status.health.status.to_string());
                    rows.push(Row { app: label, target, outcome: Ok(status) });
                    queue.push((app.runner.spec.clone(), app.runner.spec.name.clone()));
                }
                Err(e) => {
                    verdict = worse(verdict, Verdict::Failed);
                    rows.push(Row { app: label, target: String::new(), outcome: Err(e) });
                }
            }
        }
    }
    if !rows.is_empty() {
        print_fleet(&mut out, &rows).map_err(|e| format!("writing output: {e}"))?;
    }
    Ok(exit_code(verdict))
}

/// The apps a parent produced, each after the Flux Kustomizations it `dependsOn` (so that a
/// dependency is passed, and can be ready, before its dependents), else in the order found.
fn in_dependency_order(apps: Vec<ChildApp>, produced: &[Object], default_ns: &str) -> Vec<ChildApp> {
    let mut graph = FleetGraph::new();
    for o in produced {
        graph.add_object(o, default_ns);
    }
    let ready = graph.ready_order();
    let rank = |c: &ChildApp| {
        let id = AppId::from(c);
        ready.order.iter().chain(&ready.stuck).position(|a| *a == id).unwrap_or(usize::MAX)
    };
    let mut apps = apps;
    apps.sort_by_key(|c| rank(c));
    apps
}

fn kind_of(o: &Object) -> Option<ChildKind> {
    ChildKind::of(o.group(), o.kind())
}

fn worse(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::Stopped, _) | (_, Verdict::Stopped) => Verdict::Stopped,
        (Verdict::Failed, _) | (_, Verdict::Failed) => Verdict::Failed,
        _ => Verdict::Succeeded,
    }
}

/// One produced app: read from the hub (a Flux Kustomization with the GitRepositories there),
/// its destination resolved through the hub's cluster Secrets, and passed.
#[allow(clippy::too_many_arguments)]
fn child_pass(
    args: &SyncArgs,
    hub: &Path,
    hub_objects: &[Object],
    registry: &ClusterRegistry,
    object: Object,
    request: &dyn Fn(&App) -> Request,
    runtime: &tokio::runtime::Runtime,
    out: &mut dyn Write,
) -> Result<(App, Pass, String), String> {
    let origin = format!("{} (in {})", object.key(""), hub.display());
    let mut objects: Vec<Object> = hub_objects
        .iter()
        .filter(|o| o.group() == "source.toolkit.fluxcd.io" && o.namespace() == object.namespace())
        .cloned()
        .collect();
    objects.push(object.clone());
    let spec = app::read(&origin, &objects).map_err(|e| e.to_string())?;
    let target = match spec.kind {
        app::AppKind::ArgoApplication => {
            let server = spec.rollout.destination_server.as_deref();
            let name = spec.rollout.destination_name.as_deref();
            let cluster = registry.resolve(server, name).map_err(|e| e.to_string())?;
            if cluster.server.trim_end_matches('/') == IN_CLUSTER_SERVER {
                hub.to_path_buf()
            } else {
                spoke_dir(hub, &cluster.name)?
            }
        }
        // Flux applies into the cluster it runs in (spec.kubeConfig is refused when read).
        app::AppKind::FluxKustomization => hub.to_path_buf(),
    };
    let shown = target.display().to_string();
    let mut app = App::build(&args.app, &origin, &objects, TargetSpec::Dir(target.clone()), &target, false)?;
    let _ = writeln!(out);
    let pass = runtime.block_on(app.pass(request(&app), out))?;
    Ok((app, pass, shown))
}

/// The FileCluster of the registered cluster `name`: `<parent of hub>/clusters/<name>`.
fn spoke_dir(hub: &Path, name: &str) -> Result<PathBuf, String> {
    gitops_core::names::check_app_name("cluster name", name).map_err(|e| e.to_string())?;
    let parent = hub.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok(parent.join("clusters").join(name))
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
