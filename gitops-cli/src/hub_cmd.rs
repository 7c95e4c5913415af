//! The fleet's apps as `argocd app ...` and `flux get|suspend|resume ...` show and change them:
//! `gitops app list|get|delete`, `gitops get kustomizations|helmreleases`, `gitops suspend|resume
//! kustomization`. They read the hub (`--hub dir:PATH`, the FileCluster a root app was
//! reconciled into, or `--hub kube[:CONTEXT]`, a Kubernetes hub, where each app's status is its
//! object's); which apps it holds, where they go and what their last pass left are the
//! library's (`gitops_kube::fleet`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use gitops_core::sync::options::Propagation;
use gitops_kube::KubeCluster;
use gitops_kube::cluster::Cluster;
use gitops_kube::fleet::{self, Cascade, Hub, HubApp, Place};
use serde_json::{Value, json};

use crate::sync_cmd::runtime;

/// Where the hub is.
#[derive(Args, Debug)]
pub struct HubArgs {
    /// The hub: `dir:PATH`, the FileCluster the root app was reconciled into (default:
    /// `.gitops/cluster`, the default target of an app file in the current directory), or
    /// `kube[:CONTEXT]`, a Kubernetes cluster running the fleet.
    #[arg(long, value_name = "dir:PATH|kube[:CONTEXT]", default_value = "dir:.gitops/cluster")]
    pub hub: String,
    /// The kubeconfig for `--hub kube` (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// An open hub.
enum Opened {
    Dir(PathBuf),
    Kube(Box<KubeCluster>, tokio::runtime::Runtime),
}

impl HubArgs {
    fn open(&self) -> Result<Opened, String> {
        if let Some(context) = crate::app_input::cluster_target(&self.hub) {
            let rt = runtime()?;
            let cluster = rt
                .block_on(KubeCluster::connect(self.kubeconfig.as_deref(), context))
                .map_err(|e| format!("--hub {}: {e}", self.hub))?;
            return Ok(Opened::Kube(Box::new(cluster), rt));
        }
        match self.hub.strip_prefix("dir:") {
            Some(p) if !p.is_empty() => {
                let path = PathBuf::from(p);
                if !path.is_dir() {
                    return Err(format!("--hub {}: no such directory (reconcile a root app into it first)", self.hub));
                }
                Ok(Opened::Dir(path))
            }
            _ => Err(format!("--hub {}: expected dir:PATH or kube[:CONTEXT]", self.hub)),
        }
    }

    /// The hub's objects of the fleet's kinds ([`fleet::HUB_KINDS`] on a kube hub; every
    /// object of a dir hub) and its apps.
    pub(crate) fn objects_and_apps(&self) -> Result<(Vec<gitops_core::Object>, Vec<HubApp>), String> {
        match self.open()? {
            Opened::Dir(path) => {
                let objects = gitops_kube::FileCluster::new(&path).list().map_err(|e| e.to_string())?;
                let apps = fleet::hub_apps(&path).map_err(|e| e.to_string())?;
                Ok((objects, apps))
            }
            Opened::Kube(cluster, rt) => {
                let objects = rt.block_on(list_hub(&cluster, fleet::HUB_KINDS))?;
                let apps = fleet::apps_of(&Hub::Kube, &objects, |_, o| gitops_core::fleet::status::status_of(o));
                Ok((objects, apps))
            }
        }
    }

    fn apps(&self) -> Result<(Opened, Vec<HubApp>), String> {
        let opened = self.open()?;
        let apps = match &opened {
            Opened::Dir(path) => fleet::hub_apps(path).map_err(|e| e.to_string())?,
            Opened::Kube(cluster, rt) => {
                let objects = rt.block_on(list_hub(cluster, fleet::HUB_KINDS))?;
                fleet::apps_of(&Hub::Kube, &objects, |_, o| gitops_core::fleet::status::status_of(o))
            }
        };
        Ok((opened, apps))
    }
}

async fn list_hub(
    cluster: &KubeCluster,
    kinds: &[(&str, &str, Option<&str>, Option<&str>)],
) -> Result<Vec<gitops_core::Object>, String> {
    let mut objects = Vec::new();
    for (api_version, kind, namespace, labels) in kinds {
        let listed = cluster.list_kind(api_version, kind, *namespace, *labels).await;
        objects.extend(listed.map_err(|e| format!("listing the hub's {kind}s: {e}"))?);
    }
    let values = fleet::values_sources(cluster, &objects).await;
    objects.extend(values.map_err(|e| format!("reading the HelmReleases' valuesFrom: {e}"))?);
    Ok(objects)
}

/// Deletes `app` from a Kubernetes hub as `argocd app delete` does: its resources first
/// (unless orphaned), then the finalizers the engine owns, then the object.
async fn delete_on_kube(
    hub: &KubeCluster,
    app: &HubApp,
    cascade: Cascade,
) -> Result<Vec<gitops_core::ResourceKey>, String> {
    let mut deleted = Vec::new();
    let e = |e: gitops_kube::cluster::Error| e.to_string();
    if let Ok(member) = &app.member
        && cascade != Cascade::Orphan
        && (member.spec.kind == gitops_core::app::AppKind::ArgoApplication || fleet::cascades(member))
    {
        let propagation =
            if cascade == Cascade::Background { Propagation::Background } else { Propagation::Foreground };
        deleted = match &member.target {
            Place::Cluster(c) => {
                let spoke = KubeCluster::connect_registered(c).await.map_err(e)?;
                fleet::delete_resources(&spoke, member, propagation).await.map_err(e)?
            }
            _ => fleet::delete_resources(hub, member, propagation).await.map_err(e)?,
        };
    }
    let key = app.object.key("");
    if let Ok(member) = &app.member {
        hub.remove_finalizers(&key, &fleet::controller_finalizers(member)).await.map_err(e)?;
    }
    hub.delete(&key, Propagation::Background, false).await.map_err(e)?;
    Ok(deleted)
}

/// `gitops app ...`.
#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// The hub's Argo CD Applications, as `argocd app list` shows them.
    List {
        #[command(flatten)]
        hub: HubArgs,
        /// Output: a table (`wide` is the same table), or `json`: a list of {name, namespace,
        /// kind, project, destination {server, name, namespace}, sync, health, revision,
        /// conditions}.
        #[arg(short, long, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// One Application: its source, destination and status, and its resources with their sync
    /// status and health, as `argocd app get` shows them.
    Get {
        /// The Application's name.
        name: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Deletes an Application from the hub, and its resources with it (unless
    /// `--cascade=orphan`), as `argocd app delete` does.
    Delete {
        /// The Application's name.
        name: String,
        /// What happens to its resources: deleted first (`foreground`, the default), after it
        /// (`background`), or left (`orphan`; `false` is accepted too).
        #[arg(long, value_name = "POLICY", default_value = "foreground", value_parser = parse_cascade)]
        cascade: Cascade,
        #[command(flatten)]
        hub: HubArgs,
    },
}

/// `app list` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table.
    Table,
    /// The same table (as `argocd app list -o wide`).
    Wide,
    /// A JSON list.
    Json,
}

fn parse_cascade(s: &str) -> Result<Cascade, String> {
    match s {
        "foreground" | "true" => Ok(Cascade::Foreground),
        "background" => Ok(Cascade::Background),
        "orphan" | "false" => Ok(Cascade::Orphan),
        _ => Err(format!("`{s}`: expected foreground, background or orphan")),
    }
}

/// `gitops get ...` (as `flux get`).
#[derive(Subcommand, Debug)]
pub enum GetCommand {
    /// Flux Kustomizations: NAME, REVISION, SUSPENDED, READY, MESSAGE.
    #[command(alias = "ks", alias = "kustomization")]
    Kustomizations(FluxListArgs),
    /// Flux HelmReleases: NAME, REVISION, SUSPENDED, READY, MESSAGE.
    #[command(alias = "hr", alias = "helmrelease")]
    Helmreleases(FluxListArgs),
}

/// What `gitops get kustomizations` lists.
#[derive(Args, Debug)]
pub struct FluxListArgs {
    /// Every namespace (a NAMESPACE column first).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// The namespace (default: flux-system).
    #[arg(short, long, default_value = "flux-system")]
    pub namespace: String,
    #[command(flatten)]
    pub hub: HubArgs,
}

/// `gitops suspend|resume kustomization|helmrelease NAME`.
#[derive(Subcommand, Debug)]
pub enum SuspendCommand {
    /// A Flux Kustomization: `spec.suspend` set (it is compared, never synced) or cleared.
    #[command(alias = "ks")]
    Kustomization(SuspendArgs),
    /// A Flux HelmRelease: `spec.suspend` set (no Helm action runs) or cleared.
    #[command(alias = "hr")]
    Helmrelease(SuspendArgs),
}

/// Which Flux object `gitops suspend|resume` changes.
#[derive(Args, Debug)]
pub struct SuspendArgs {
    /// Its name.
    name: String,
    /// Its namespace.
    #[arg(short, long, default_value = "flux-system")]
    namespace: String,
    #[command(flatten)]
    hub: HubArgs,
}

/// `gitops app ...`.
pub fn app(command: AppCommand) -> Result<ExitCode, String> {
    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    match command {
        AppCommand::List { hub, output } => {
            let (_, apps) = hub.apps()?;
            let apps: Vec<&HubApp> = apps.iter().filter(|a| is_application(a)).collect();
            if output == ListFormat::Json {
                let list: Vec<Value> = apps.iter().map(|a| app_json(a)).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&list).unwrap_or_default()).map_err(w)?;
            } else {
                print_app_table(&mut out, &apps).map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AppCommand::Get { name, hub } => {
            let (_, apps) = hub.apps()?;
            let app = find_application(&apps, &name)?;
            print_app(&mut out, app).map_err(w)?;
            let synced = app.status.as_ref().is_some_and(|s| s.is_synced());
            Ok(if synced { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AppCommand::Delete { name, cascade, hub } => {
            let (opened, apps) = hub.apps()?;
            let app = find_application(&apps, &name)?;
            let deleted = match &opened {
                Opened::Dir(path) => fleet::delete_app(path, app, cascade).map_err(|e| e.to_string())?,
                Opened::Kube(cluster, rt) => rt.block_on(delete_on_kube(cluster, app, cascade))?,
            };
            for k in &deleted {
                writeln!(out, "  delete       {k}").map_err(w)?;
            }
            let what = if cascade == Cascade::Orphan {
                "its resources left".to_string()
            } else {
                format!("{} of its resources deleted", deleted.len())
            };
            writeln!(out, "application '{name}' deleted; {what}").map_err(w)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `gitops get ...`.
pub fn get(command: GetCommand) -> Result<ExitCode, String> {
    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    match command {
        GetCommand::Kustomizations(args) => {
            let (_, apps) = args.hub.apps()?;
            let rows: Vec<[String; 6]> = apps
                .iter()
                .filter(|a| a.id.kind.kind() == "Kustomization")
                .filter(|a| args.all_namespaces || a.id.namespace == args.namespace)
                .map(flux_row)
                .collect();
            print_flux_table(&mut out, &rows, args.all_namespaces).map_err(w)?;
        }
        GetCommand::Helmreleases(args) => {
            let (_, apps) = args.hub.apps()?;
            let rows: Vec<[String; 6]> = apps
                .iter()
                .filter(|a| a.id.kind.kind() == "HelmRelease")
                .filter(|a| args.all_namespaces || a.id.namespace == args.namespace)
                .map(flux_row)
                .collect();
            print_flux_table(&mut out, &rows, args.all_namespaces).map_err(w)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gitops suspend ...` (`suspend`) or `gitops resume ...`.
pub fn suspend(command: SuspendCommand, suspend: bool) -> Result<ExitCode, String> {
    let (kind, SuspendArgs { name, namespace, hub }) = match command {
        SuspendCommand::Kustomization(args) => ("Kustomization", args),
        SuspendCommand::Helmrelease(args) => ("HelmRelease", args),
    };
    let (opened, apps) = hub.apps()?;
    let app = apps
        .iter()
        .find(|a| a.id.kind.kind() == kind && a.id.name == name && a.id.namespace == namespace)
        .ok_or_else(|| format!("{kind} {namespace}/{name} not found in the hub {}", hub.hub))?;
    let changed = match &opened {
        Opened::Dir(path) => fleet::set_suspend(path, app, suspend).map_err(|e| e.to_string())?,
        Opened::Kube(cluster, rt) => {
            let current = app.object.value().pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false);
            current != suspend
                && rt
                    .block_on(cluster.merge_patch(&app.object.key(""), &json!({"spec": {"suspend": suspend}})))
                    .map_err(|e| e.to_string())?
        }
    };
    let (verb, state) = if suspend { ("suspended", "suspended") } else { ("resumed", "not suspended") };
    if changed {
        println!("► {kind} {namespace}/{name} {verb}");
    } else {
        println!("{kind} {namespace}/{name} was already {state}");
    }
    Ok(ExitCode::SUCCESS)
}

fn is_application(a: &HubApp) -> bool {
    a.id.kind.kind() == "Application"
}

fn find_application<'a>(apps: &'a [HubApp], name: &str) -> Result<&'a HubApp, String> {
    // `argocd app get ns/name` and `name` both name an app.
    let (ns, name) = name.split_once('/').map_or((None, name), |(n, a)| (Some(n), a));
    apps.iter()
        .find(|a| is_application(a) && a.id.name == name && ns.is_none_or(|n| a.id.namespace == n))
        .ok_or_else(|| format!("application '{name}' not found in the hub"))
}

/// The string at `pointer` in `o`, or empty.
pub(crate) fn text<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// What `argocd app list` says of the sync policy.
fn sync_policy(o: &Value) -> &'static str {
    match o.pointer("/spec/syncPolicy/automated") {
        Some(a) if a.get("prune").and_then(Value::as_bool) == Some(true) => "Auto-Prune",
        Some(a) if !a.is_null() => "Auto",
        _ => "Manual",
    }
}

fn conditions(a: &HubApp) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = &a.member {
        out.push(e.clone());
    }
    if let Some(op) = a.status.as_ref().and_then(|s| s.last_operation.as_ref()).filter(|o| !o.succeeded()) {
        out.push(format!("sync {}: {}", op.phase, op.message));
    }
    out
}

/// An app's sync status and health, `Unknown` before its first pass.
pub(crate) fn sync_and_health(a: &HubApp) -> (String, String) {
    match &a.status {
        Some(s) => (s.sync.to_string(), s.health.status.to_string()),
        None => ("Unknown".into(), "Unknown".into()),
    }
}

fn app_json(a: &HubApp) -> Value {
    let o = a.object.value();
    let (sync, health) = sync_and_health(a);
    json!({
        "name": a.id.name,
        "namespace": a.id.namespace,
        "kind": "Application",
        "project": text(o, "/spec/project"),
        "destination": {
            "server": text(o, "/spec/destination/server"),
            "name": text(o, "/spec/destination/name"),
            "namespace": text(o, "/spec/destination/namespace"),
        },
        "sync": sync,
        "health": health,
        "revision": a.status.as_ref().map(|s| s.revision.clone()).unwrap_or_default(),
        "conditions": conditions(a),
    })
}

/// A table with columns as wide as their widest cell.
pub(crate) fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let mut l: String = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}  ")).collect();
        l.truncate(l.trim_end().len());
        l
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn print_app_table(out: &mut dyn Write, apps: &[&HubApp]) -> std::io::Result<()> {
    let header = [
        "NAME",
        "CLUSTER",
        "NAMESPACE",
        "PROJECT",
        "STATUS",
        "HEALTH",
        "SYNCPOLICY",
        "CONDITIONS",
        "REPO",
        "PATH",
        "TARGET",
    ];
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            let o = a.object.value();
            let (sync, health) = sync_and_health(a);
            let cluster = [text(o, "/spec/destination/server"), text(o, "/spec/destination/name")]
                .into_iter()
                .find(|c| !c.is_empty())
                .unwrap_or("")
                .to_string();
            let conditions = conditions(a);
            vec![
                format!("{}/{}", a.id.namespace, a.id.name),
                cluster,
                text(o, "/spec/destination/namespace").into(),
                text(o, "/spec/project").into(),
                sync,
                health,
                sync_policy(o).into(),
                if conditions.is_empty() { "<none>".into() } else { conditions.join("; ") },
                text(o, "/spec/source/repoURL").into(),
                text(o, "/spec/source/path").into(),
                text(o, "/spec/source/targetRevision").into(),
            ]
        })
        .collect();
    table(out, &header, &rows)
}

fn print_app(out: &mut dyn Write, a: &HubApp) -> std::io::Result<()> {
    let o = a.object.value();
    let (sync, health) = sync_and_health(a);
    let field = |out: &mut dyn Write, k: &str, v: &str| writeln!(out, "{:<15}{v}", format!("{k}:"));
    field(out, "Name", &format!("{}/{}", a.id.namespace, a.id.name))?;
    field(out, "Project", text(o, "/spec/project"))?;
    let server = [text(o, "/spec/destination/server"), text(o, "/spec/destination/name")]
        .into_iter()
        .find(|c| !c.is_empty())
        .unwrap_or("");
    field(out, "Server", server)?;
    field(out, "Namespace", text(o, "/spec/destination/namespace"))?;
    if let Ok(m) = &a.member {
        field(out, "Target", &m.target.describe())?;
    }
    field(out, "Repo", text(o, "/spec/source/repoURL"))?;
    field(out, "Target Rev", text(o, "/spec/source/targetRevision"))?;
    field(out, "Path", text(o, "/spec/source/path"))?;
    field(out, "SyncPolicy", sync_policy(o))?;
    let revision = a.status.as_ref().map(|s| s.revision.as_str()).unwrap_or("");
    field(out, "Sync Status", &format!("{sync} (revision {revision})"))?;
    field(out, "Health Status", &health)?;
    for c in conditions(a) {
        field(out, "Condition", &c)?;
    }
    let Some(status) = &a.status else {
        return writeln!(out, "\nNo pass has run yet: `gitops reconcile --app ROOT` first.");
    };
    writeln!(out)?;
    let rows: Vec<Vec<String>> = status
        .resources
        .iter()
        .map(|r| {
            vec![
                r.group.clone(),
                r.kind.clone(),
                r.namespace.clone(),
                r.name.clone(),
                r.status.to_string(),
                r.health.map(|h| h.to_string()).unwrap_or_default(),
                r.message.clone(),
            ]
        })
        .collect();
    table(out, &["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "MESSAGE"], &rows)?;
    if !status.orphaned_resources.is_empty() {
        writeln!(out, "\nOrphaned resources (in the app's namespace, managed by no app):")?;
        for key in &status.orphaned_resources {
            writeln!(out, "  {key}")?;
        }
    }
    Ok(())
}

fn flux_row(a: &HubApp) -> [String; 6] {
    let o = a.object.value();
    let suspended = o.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false);
    let helm = a.id.kind.kind() == "HelmRelease";
    let (ready, message) = match (&a.member, &a.status) {
        (Err(e), _) => ("False".to_string(), e.clone()),
        (Ok(_), None) => ("Unknown".into(), "not reconciled yet".into()),
        // What helm-controller said when it wrote the status, else what a pass found.
        (Ok(_), Some(s)) if s.is_ready() && helm => {
            let conditions = o.pointer("/status/conditions").and_then(Value::as_array);
            let said = conditions
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .and_then(|c| c["message"].as_str())
                .filter(|m| !m.is_empty());
            ("True".into(), said.unwrap_or("Helm release is deployed").to_string())
        }
        (Ok(_), Some(s)) if s.is_ready() => ("True".into(), format!("Applied revision: {}", s.revision)),
        (Ok(_), Some(s)) => ("False".into(), s.message.clone()),
    };
    // A HelmRelease's revision is its chart version (the digest of its values is kept apart).
    let revision = a.status.as_ref().map(|s| s.revision.clone()).unwrap_or_default();
    let revision = if helm { revision.split('@').next().unwrap_or_default().to_string() } else { revision };
    [
        a.id.namespace.clone(),
        a.id.name.clone(),
        revision,
        if suspended { "True" } else { "False" }.into(),
        ready,
        message,
    ]
}

fn print_flux_table(out: &mut dyn Write, rows: &[[String; 6]], all_namespaces: bool) -> std::io::Result<()> {
    let skip = usize::from(!all_namespaces);
    let header = ["NAMESPACE", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"];
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r[skip..].to_vec()).collect();
    table(out, &header[skip..], &rows)
}

/// `gitops reconcile kustomization|application NAME`: one app of the hub, passed now (as
/// `flux reconcile kustomization NAME` asks its controller to), with what it produced.
#[derive(clap::Parser, Debug)]
#[command(name = "gitops reconcile", about = "Pass one app of a hub now, as `flux reconcile kustomization NAME` does.")]
pub struct ReconcileOne {
    #[command(subcommand)]
    pub what: OneKind,
}

/// Which kind of app.
#[derive(Subcommand, Debug)]
pub enum OneKind {
    /// A Flux Kustomization of the hub.
    #[command(alias = "ks")]
    Kustomization(OneArgs),
    /// An Argo CD Application of the hub.
    #[command(alias = "app")]
    Application(OneArgs),
    /// A Flux HelmRelease of the hub.
    #[command(alias = "hr")]
    Helmrelease(OneArgs),
}

/// The app and how to render it.
#[derive(Args, Debug)]
pub struct OneArgs {
    /// Its name.
    pub name: String,
    /// Its namespace (default: flux-system for a Kustomization, argocd for an Application).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Fetch its source first (as `flux reconcile --with-source`); sources are always fetched
    /// here, so this is accepted for scripts written for flux.
    #[arg(long)]
    pub with_source: bool,
    #[command(flatten)]
    pub hub: HubArgs,
    /// `URL=DIR` (repeatable): serve the repository URL from DIR.
    #[arg(long, value_name = "URL=DIR")]
    pub local: Vec<crate::fleet_cmd::Local>,
    /// The Git cache (default: GITOPS_CACHE, else ~/.cache/gitops).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<String>,
    /// An Argo CD ConfigManagementPlugin manifest the app may name (repeatable).
    #[arg(long = "plugin", value_name = "FILE")]
    pub plugins: Vec<String>,
}

/// `gitops reconcile kustomization|application NAME`.
pub fn reconcile_one(cli: ReconcileOne) -> Result<ExitCode, String> {
    let (kind, args) = match cli.what {
        OneKind::Kustomization(a) => ("Kustomization", a),
        OneKind::Application(a) => ("Application", a),
        OneKind::Helmrelease(a) => ("HelmRelease", a),
    };
    let namespace =
        args.namespace.clone().unwrap_or_else(|| if kind == "Application" { "argocd" } else { "flux-system" }.into());
    let (opened, apps) = args.hub.apps()?;
    let found = apps
        .iter()
        .find(|a| a.id.kind.kind() == kind && a.id.name == args.name && a.id.namespace == namespace)
        .ok_or_else(|| format!("{kind} {namespace}/{} not found in the hub {}", args.name, args.hub.hub))?;
    let member = found.member.clone()?;
    let (target, status_store) = match (&opened, &member.target) {
        (Opened::Dir(hub), Place::Dir(dir)) => (
            gitops_kube::controller::TargetSpec::Dir(dir.clone()),
            gitops_kube::status::StatusStore::FileCluster(gitops_kube::FileCluster::new(hub)),
        ),
        (Opened::Kube(..), Place::Hub) => {
            let context = self::hub_context(&args.hub.hub);
            let name = KubeCluster::context_name(args.hub.kubeconfig.as_deref(), context.as_deref())
                .map_err(|e| e.to_string())?;
            (
                gitops_kube::controller::TargetSpec::Kube(context),
                gitops_kube::status::StatusStore::Beside { dir: ".gitops/status".into(), context: name },
            )
        }
        (_, place) => {
            return Err(format!(
                "{kind} {namespace}/{} goes to {}: reconcile it through its root app (gitops reconcile --app ROOT)",
                args.name,
                place.describe()
            ));
        }
    };
    let app_args = crate::sync_cmd::AppArgs {
        app: member.origin.clone(),
        name: None,
        local: args.local.clone(),
        target: None,
        kubeconfig: args.hub.kubeconfig.clone(),
        customizations: None,
        argocd_cm: None,
        cache: args.cache.clone(),
        strict: false,
        plugins: args.plugins.clone(),
        repo_creds: Vec::new(),
        revision: None,
        project: Vec::new(),
        as_subject: None,
        rbac_policy: None,
    };
    let dir = std::path::Path::new(".");
    let mut app = crate::sync_cmd::App::build(&app_args, &member.origin, &member.objects, target, dir, false)?;
    // The hub's AppProjects rule its Applications.
    let hub_objects = match &opened {
        Opened::Dir(hub) => gitops_kube::FileCluster::new(hub).list().map_err(|e| e.to_string())?,
        Opened::Kube(cluster, rt) => rt.block_on(list_hub(cluster, fleet::HUB_KINDS))?,
    };
    let mut project_errors = Vec::new();
    app.projects = Some(crate::project_cmd::Projects::of_hub(&hub_objects, &mut project_errors));
    for e in project_errors {
        eprintln!("gitops: warning: {e}");
    }
    app.runner.status_store_override = Some(status_store);
    let stop = crate::sync_cmd::stop_on_signals()?;
    let request = app.request(stop.clone(), false);
    let rt = match opened {
        Opened::Kube(_, rt) => rt,
        Opened::Dir(_) => runtime()?,
    };
    let pass = rt.block_on(app.pass(request, &mut anstream::stdout().lock()))?;
    Ok(crate::sync_cmd::exit_code(pass.verdict(stop.is_cancelled())))
}

/// The context of `--hub kube[:CONTEXT]`.
fn hub_context(hub: &str) -> Option<String> {
    crate::app_input::cluster_target(hub).flatten().map(str::to_string)
}
