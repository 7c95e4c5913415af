//! AppProjects: where an Application's project rules come from (`--project FILE`, or the hub's
//! AppProjects in a fleet), and `gitops project windows list|check` / `gitops project allowed`
//! for ad-hoc checks. The rules themselves are the library's (`gitops_core::project`).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use gitops_core::Object;
use gitops_core::fleet::children::DEFAULT_CONTROLLER_NAMESPACE;
use gitops_core::fleet::cluster::{ClusterRegistry, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
use gitops_core::project::{AppProject, AppRef, ProjectRules};
use gitops_core::scope::ScopeSource;
use gitops_kube::reconcile::DesiredState;

use crate::output::{GREEN, RED, RESET};
use crate::render_cmd::read_objects;

/// The AppProjects an app's rules come from, and the clusters its destination resolves through.
#[derive(Debug, Clone, Default)]
pub(crate) struct Projects {
    projects: Vec<AppProject>,
    registry: ClusterRegistry,
}

impl Projects {
    /// The AppProjects in `files` (each may hold several; other kinds are skipped), with only
    /// the built-in `in-cluster` registered.
    pub(crate) fn read(files: &[String]) -> Result<Option<Arc<Projects>>, String> {
        if files.is_empty() {
            return Ok(None);
        }
        let mut projects = Vec::new();
        for file in files {
            let objects = read_objects(file)?;
            let before = projects.len();
            for o in objects.iter().filter(|o| o.group() == "argoproj.io" && o.kind() == "AppProject") {
                projects.push(AppProject::read(o).map_err(|e| e.to_string())?);
            }
            if projects.len() == before {
                return Err(format!("--project {file}: holds no argoproj.io AppProject"));
            }
        }
        Ok(Some(Arc::new(Projects { projects, registry: ClusterRegistry::from_objects(&[]).0 })))
    }

    /// The hub's AppProjects (in the controller namespace, as Argo CD reads them) and cluster
    /// Secrets; an AppProject that does not read is reported through `errors`.
    pub(crate) fn of_hub(objects: &[Object], errors: &mut Vec<String>) -> Arc<Projects> {
        let mut projects = Vec::new();
        for o in objects.iter().filter(|o| {
            o.group() == "argoproj.io" && o.kind() == "AppProject" && o.namespace() == DEFAULT_CONTROLLER_NAMESPACE
        }) {
            match AppProject::read(o) {
                Ok(p) => projects.push(p),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Arc::new(Projects { projects, registry: ClusterRegistry::from_objects(objects).0 })
    }

    /// The rules for the Argo CD Application `object` (none for a Flux app).
    pub(crate) fn rules(&self, object: &Object) -> Option<ProjectRules> {
        if object.group() != "argoproj.io" || object.kind() != "Application" {
            return None;
        }
        let app = AppRef::of(object, |server, name| {
            let found = self.registry.resolve(Some(server), Some(name)).ok()?;
            Some((found.server.clone(), found.name.clone()))
        });
        let app = with_in_cluster(app);
        let scoped: Vec<(String, String)> = self
            .registry
            .clusters()
            .iter()
            .filter(|c| c.project == app.project)
            .map(|c| (c.name.clone(), c.server.clone()))
            .collect();
        Some(ProjectRules::for_app(&self.projects, app, DEFAULT_CONTROLLER_NAMESPACE, &scoped))
    }
}

/// The built-in cluster known by either of its names, whatever the registry says.
fn with_in_cluster(mut app: AppRef) -> AppRef {
    let d = &mut app.destination;
    if d.name == IN_CLUSTER_NAME && d.server.is_empty() {
        d.server = IN_CLUSTER_SERVER.to_string();
    } else if d.server.trim_end_matches('/') == IN_CLUSTER_SERVER && d.name.is_empty() {
        d.name = IN_CLUSTER_NAME.to_string();
    }
    app
}

/// `gitops project ...`.
#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// A project's sync windows: `list` them (with whether each is active now), or `check`
    /// whether an app may sync now.
    #[command(subcommand)]
    Windows(WindowsCommand),
    /// Whether an Application is allowed by its project: its namespace, repositories and
    /// destination, and each object it renders (kind and namespace), as a sync checks them.
    ///
    /// Exit status: 0 when allowed, 1 when something is not, 2 on bad usage or input.
    Allowed(Box<AllowedArgs>),
}

/// `gitops project windows ...`.
#[derive(Subcommand, Debug)]
pub enum WindowsCommand {
    /// The windows of each project in FILE, as `argocd proj windows list` shows them.
    List(ListArgs),
    /// Whether the app may sync now (or `--at`), and which windows decide it.
    ///
    /// Exit status: 0 when a sync may run, 1 when the windows hold it back, 2 on bad input.
    Check(CheckArgs),
}

/// Arguments of `gitops project windows list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// A file holding AppProjects.
    #[arg(long, value_name = "FILE")]
    pub project: String,
    /// Judge "active" at this time (RFC 3339, `2026-12-11T17:30:00Z`) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// Arguments of `gitops project windows check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// A file holding AppProjects (repeatable).
    #[arg(long, value_name = "FILE", required = true)]
    pub project: Vec<String>,
    /// The Argo CD Application.
    #[arg(long, value_name = "FILE")]
    pub app: String,
    /// The sync is asked for by hand (`manualSync` windows let it through).
    #[arg(long)]
    pub manual: bool,
    /// Decide at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// Arguments of `gitops project allowed` (the AppProjects: `--project FILE`, required).
#[derive(Args, Debug)]
pub struct AllowedArgs {
    #[command(flatten)]
    pub app: crate::sync_cmd::AppArgs,
}

/// Runs `gitops project ...`.
pub fn run(command: ProjectCommand) -> Result<ExitCode, String> {
    match command {
        ProjectCommand::Windows(WindowsCommand::List(args)) => list(args),
        ProjectCommand::Windows(WindowsCommand::Check(args)) => check(args),
        ProjectCommand::Allowed(args) => allowed(*args),
    }
}

fn now_or(at: Option<&str>) -> Result<i64, String> {
    match at {
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .map_err(|e| format!("--at {text}: not an RFC 3339 time ({e})")),
        None => {
            Ok(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64))
        }
    }
}

fn list(args: ListArgs) -> Result<ExitCode, String> {
    let now = now_or(args.at.as_deref())?;
    let projects = Projects::read(std::slice::from_ref(&args.project))?.unwrap_or_default();
    let mut out = anstream::stdout().lock();
    let header = [
        "PROJECT",
        "ID",
        "STATUS",
        "KIND",
        "SCHEDULE",
        "DURATION",
        "APPLICATIONS",
        "NAMESPACES",
        "CLUSTERS",
        "MANUALSYNC",
        "TIMEZONE",
        "USEANDOPERATOR",
        "NEXT",
    ];
    let list = |l: &[String]| if l.is_empty() { "-".to_string() } else { l.join(",") };
    let mut rows = Vec::new();
    for p in &projects.projects {
        for (i, w) in p.windows.iter().enumerate() {
            rows.push(vec![
                p.name.clone(),
                i.to_string(),
                if w.is_active(now) { "Active" } else { "Inactive" }.to_string(),
                if w.kind == gitops_core::project::windows::Kind::Allow { "allow" } else { "deny" }.to_string(),
                w.schedule_text.clone(),
                w.duration_text.clone(),
                list(&w.applications),
                list(&w.namespaces),
                list(&w.clusters),
                if w.manual_sync { "Enabled" } else { "Disabled" }.to_string(),
                if w.time_zone.is_empty() { "UTC".to_string() } else { w.time_zone.clone() },
                if w.and_operator { "Enabled" } else { "Disabled" }.to_string(),
                w.next_start(now).map_or_else(|| "-".to_string(), gitops_core::time::rfc3339),
            ]);
        }
    }
    crate::hub_cmd::table(&mut out, &header, &rows).map_err(|e| format!("writing output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn app_object(file: &str) -> Result<Object, String> {
    let objects = read_objects(file)?;
    let apps: Vec<&Object> =
        objects.iter().filter(|o| o.group() == "argoproj.io" && o.kind() == "Application").collect();
    match apps.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!("{file}: holds no argoproj.io Application")),
        _ => Err(format!("{file}: holds {} Applications; give a file with one", apps.len())),
    }
}

fn check(args: CheckArgs) -> Result<ExitCode, String> {
    let now = now_or(args.at.as_deref())?;
    let projects = Projects::read(&args.project)?.unwrap_or_default();
    let object = app_object(&args.app)?;
    let Some(rules) = projects.rules(&object) else { return Err(format!("{}: not an Application", args.app)) };
    let decision = rules.window(args.manual, now);
    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    if decision.allowed {
        writeln!(out, "{GREEN}allowed{RESET}: {}", decision.reason).map_err(w)?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(out, "{RED}blocked{RESET}: {}", decision.reason).map_err(w)?;
        Ok(ExitCode::from(1))
    }
}

fn allowed(args: AllowedArgs) -> Result<ExitCode, String> {
    if args.app.project.is_empty() {
        return Err("gitops project allowed needs --project FILE (the AppProjects)".into());
    }
    let projects = Projects::read(&args.app.project)?.unwrap_or_default();
    let mut app = crate::sync_cmd::App::read(&args.app)?;
    let Some(rules) = projects.rules(&app.object) else {
        return Err(format!("{}: project rules apply to Argo CD Applications", args.app.app));
    };
    let mut problems: Vec<String> = rules.conditions.clone();
    let namespace = app.runner.spec.destination_namespace.clone().unwrap_or_else(|| "default".into());
    if let Some(project) = &rules.project {
        let rendered = app.runner.desired.render().map_err(|e| e.to_string())?;
        let crds = gitops_core::scope::Scopes::from_crds(&rendered.objects);
        for o in &rendered.objects {
            let mut key = o.key(&namespace);
            let cluster_scoped = crds
                .cluster_scoped(&key.group, &key.kind)
                .unwrap_or_else(|| gitops_core::schema::schema().is_cluster_scoped(&key.group, &key.kind));
            if cluster_scoped {
                key.namespace.clear();
            }
            if let Some(why) =
                project.resource_refusal(&key.group, &key.kind, &key.name, &key.namespace, &rules.app.destination)
            {
                problems.push(format!("{key}: {why}"));
            }
        }
    }
    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    let project = rules.project.as_ref().map_or(rules.app.project.as_str(), |p| p.name.as_str());
    if problems.is_empty() {
        writeln!(out, "{GREEN}allowed{RESET}: {} in project {project}", rules.app.name).map_err(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{RED}not allowed{RESET}: {} in project {project}", rules.app.name).map_err(w)?;
    for p in problems {
        writeln!(out, "  {p}").map_err(w)?;
    }
    Ok(ExitCode::from(1))
}
