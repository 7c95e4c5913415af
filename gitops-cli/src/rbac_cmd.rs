//! `gitops rbac can|validate`: Argo CD's `argocd admin settings rbac can|validate` on files.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Args, Subcommand};
use gitops_core::rbac::{self, Claims, Enforcer, ProjectRoles, RbacConfig};
use serde_json::Value;

/// Subcommands of `gitops rbac`.
#[derive(Subcommand, Debug)]
pub enum RbacCommand {
    /// Check whether SUBJECT (a user, group or role) may do ACTION on RESOURCE [OBJECT]:
    /// prints `Yes` or `No`, as `argocd admin settings rbac can`.
    ///
    /// RESOURCE may be a short name (`app`, `cert`, `cluster`, `proj`, `repo`, ...). For
    /// project-scoped resources a missing or `*` OBJECT means `*/*`.
    ///
    /// Exit status: 0 Yes, 1 No or an error (as argocd's), 2 bad usage.
    Can(CanArgs),
    /// Check that a policy reads as Argo CD would read it: prints `Policy is valid.` or
    /// `Policy is invalid: ...`, with warnings on standard error.
    ///
    /// Exit status: 0 valid, 1 invalid or empty (as argocd's), 2 bad usage.
    Validate(ValidateArgs),
}

/// Arguments of `gitops rbac can`.
#[derive(Args, Debug)]
pub struct CanArgs {
    /// The user, group or role asking (`alice`, `my-org:team`, `role:ops`, `proj:P:ROLE`).
    pub subject: String,
    /// `get`, `create`, `update`, `delete`, `sync`, `override`, `action/...`, `invoke`, ...
    pub action: String,
    /// `applications`, `clusters`, `projects`, ... or a short name (`app`, `cluster`, ...).
    pub resource: String,
    /// `PROJECT/APP`, `PROJECT/NAMESPACE/APP`, a cluster or repository URL, a name.
    pub object: Option<String>,
    /// The policy: a CSV file or an `argocd-rbac-cm` ConfigMap (its `policy.csv`,
    /// `policy.*.csv`, `policy.default` and `policy.matchMode`).
    #[arg(long, value_name = "FILE")]
    pub policy_file: PathBuf,
    /// The default role (overrides the ConfigMap's `policy.default`).
    #[arg(long, value_name = "ROLE")]
    pub default_role: Option<String>,
    /// Also use Argo CD's built-in policy (role:readonly, role:admin): `--use-builtin-policy=false`
    /// to leave it out.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value_t = true, default_missing_value = "true")]
    pub use_builtin_policy: bool,
    /// Refuse a RESOURCE or ACTION Argo CD does not have: `--strict=false` to check anything.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value_t = true, default_missing_value = "true")]
    pub strict: bool,
    /// Print nothing; the exit status is the answer.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// AppProject files whose roles (`spec.roles`: policies, groups) apply to requests on
    /// their projects' objects, as Argo CD's API server adds them (repeatable).
    #[arg(long = "project", value_name = "FILE")]
    pub projects: Vec<PathBuf>,
}

/// Arguments of `gitops rbac validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The policy: a CSV file or an `argocd-rbac-cm` ConfigMap.
    #[arg(long, value_name = "FILE")]
    pub policy_file: PathBuf,
}

/// Runs the command; `Err` is a usage error (exit 2). Input errors exit 1, as Argo CD's.
pub fn run(command: RbacCommand) -> Result<ExitCode, String> {
    let result = match command {
        RbacCommand::Can(args) => can(&args),
        RbacCommand::Validate(args) => validate(&args),
    };
    match result {
        Ok(code) => Ok(code),
        Err(message) => {
            eprintln!("gitops: {message}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn can(args: &CanArgs) -> Result<ExitCode, String> {
    let config = read_policy_file(&args.policy_file)?;
    let user = config.user_policy().map_err(|e| format!("invalid user policy: policy syntax error: {e}"))?;
    let default_role = args.default_role.clone().filter(|r| !r.is_empty()).or(config.default_role);
    let mut enforcer = Enforcer::new(user, default_role, args.use_builtin_policy);
    let resource = rbac::resolve_resource(&args.resource);
    if args.strict {
        rbac::check_request(resource, &args.action).map_err(|e| format!("error in RBAC request: {e}"))?;
    }
    let object = rbac::request_object(resource, args.object.as_deref());
    let allowed = if args.projects.is_empty() {
        enforcer.can(&args.subject, resource, &args.action, object)
    } else {
        for file in &args.projects {
            for project in read_projects(file)? {
                if let Err(e) = enforcer.add_project(&project) {
                    eprintln!("gitops: warning: {e}; the project's roles are left out, as Argo CD does");
                }
            }
        }
        let claims = Claims { subject: args.subject.clone(), groups: Vec::new() };
        enforcer.can_claims(&claims, resource, &args.action, object)
    };
    if !args.quiet {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", if allowed { "Yes" } else { "No" }).map_err(|e| format!("writing output: {e}"))?;
    }
    Ok(if allowed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn validate(args: &ValidateArgs) -> Result<ExitCode, String> {
    let config = read_policy_file(&args.policy_file)?;
    if config.is_empty() {
        return Err("Policy is empty or could not be loaded.".into());
    }
    let mut out = io::stdout().lock();
    let w = |e: io::Error| format!("writing output: {e}");
    match config.user_policy() {
        Ok(policy) => {
            for warning in rbac::validate(&policy) {
                eprintln!("gitops: warning: {warning}");
            }
            writeln!(out, "Policy is valid.").map_err(w)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            writeln!(out, "Policy is invalid: policy syntax error: {e}").map_err(w)?;
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The policy of `path`: an `argocd-rbac-cm` ConfigMap when the file is a YAML mapping (as
/// Argo CD tells them apart), else CSV text named after the file.
fn read_policy_file(path: &Path) -> Result<RbacConfig, String> {
    let text = gitops_render::regular::read_to_string(path)
        .map_err(|e| format!("error opening policy file: {}: {e}", path.display()))?;
    let first = gitops_core::yaml::parse_documents(&text).ok().and_then(|d| d.into_iter().next()).map(|d| d.value);
    match first {
        Some(cm @ Value::Object(_)) => {
            RbacConfig::from_config_map(&cm).map_err(|e| format!("could not read policy file: {}: {e}", path.display()))
        }
        _ => Ok(RbacConfig { policy: vec![(path.display().to_string(), text)], ..RbacConfig::default() }),
    }
}

/// The AppProjects of a YAML file (one or more documents).
fn read_projects(path: &Path) -> Result<Vec<ProjectRoles>, String> {
    let text = gitops_render::regular::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let documents = gitops_core::yaml::parse_documents(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    documents
        .iter()
        .map(|d| ProjectRoles::from_app_project(&d.value).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

/// Checks that `subject` may do `action` to the Argo CD Application `app` under the policy of
/// `policy_file` (and the roles of the AppProjects in `projects`), as Argo CD's API server checks
/// a user's request; the refusal is its message (`permission denied: applications, sync,
/// team-a/web, sub: alice`).
pub(crate) fn authorize(
    subject: &str,
    policy_file: &Path,
    projects: &[String],
    app: &gitops_core::Object,
    action: &str,
) -> Result<(), String> {
    let config = read_policy_file(policy_file)?;
    let user = config.user_policy().map_err(|e| format!("invalid user policy: policy syntax error: {e}"))?;
    let mut enforcer = Enforcer::new(user, config.default_role, true);
    for file in projects {
        for project in read_projects(Path::new(file))? {
            if let Err(e) = enforcer.add_project(&project) {
                eprintln!("gitops: warning: {e}; the project's roles are left out, as Argo CD does");
            }
        }
    }
    let project = app.value().pointer("/spec/project").and_then(Value::as_str).filter(|p| !p.is_empty());
    let project = project.unwrap_or(gitops_core::project::DEFAULT_PROJECT);
    // Apps outside the control plane's namespace are named with theirs (Argo CD's RBACName).
    let namespace = app.namespace();
    let object = if namespace.is_empty() || namespace == gitops_core::fleet::children::DEFAULT_CONTROLLER_NAMESPACE {
        format!("{project}/{}", app.name())
    } else {
        format!("{project}/{namespace}/{}", app.name())
    };
    let claims = Claims { subject: subject.to_string(), groups: Vec::new() };
    if enforcer.can_claims(&claims, "applications", action, &object) {
        Ok(())
    } else {
        Err(format!("permission denied: applications, {action}, {object}, sub: {subject}"))
    }
}
