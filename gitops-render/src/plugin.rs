//! Config management plugins, in the style of Argo CD's: a command run in the source
//! directory, its standard output read as manifests.
//!
//! The command gets Argo CD's environment (`ARGOCD_APP_NAME`, `ARGOCD_APP_NAMESPACE`,
//! `ARGOCD_APP_REVISION`, `ARGOCD_APP_SOURCE_PATH`, `ARGOCD_APP_SOURCE_REPO_URL`,
//! `ARGOCD_APP_SOURCE_TARGET_REVISION`), the app's plugin environment with the `ARGOCD_ENV_`
//! prefix Argo CD adds, and parameters as `PARAM_<NAME>`. It runs with a timeout (then it is
//! killed) and its standard error is reported when it fails. The source path goes through the
//! strict loader, so a plugin never runs outside the repository, and the directory is checked
//! in full before the plugin starts (as Argo CD checks a repository for symlinks out of it
//! before any tool runs): a symlink leading out of the repository, a FIFO or other special
//! file, a symlink loop or a directory cycle anywhere below it is refused, naming the path. A
//! plugin is a program: what it reads beyond its directory is up to it.

use std::process::Command;
use std::time::Duration;

use gitops_core::{Object, manifest};

use crate::process;
use crate::root::{self, RepoRoot};

/// A plugin: what to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    /// Its name (for messages).
    pub name: String,
    /// The program.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// How long it may run.
    pub timeout: Duration,
}

/// What a plugin is told about the app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginContext {
    /// The app's name.
    pub app_name: String,
    /// Its destination namespace.
    pub namespace: String,
    /// The commit being rendered.
    pub revision: String,
    /// The revision as the app asks for it (branch, tag...).
    pub target_revision: String,
    /// The repository URL.
    pub repo_url: String,
    /// The app's plugin environment (`spec.source.plugin.env`), given with `ARGOCD_ENV_`.
    pub env: Vec<(String, String)>,
    /// Plugin parameters (`spec.source.plugin.parameters`), given as `PARAM_<NAME>`.
    pub parameters: Vec<(String, String)>,
}

/// A plugin run that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source path was refused or is missing.
    #[error(transparent)]
    Path(#[from] root::Error),
    /// The program could not be started.
    #[error("plugin {plugin}: cannot run `{command}`: {source}")]
    Spawn {
        /// The plugin.
        plugin: String,
        /// The program.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// It ran past its timeout and was killed.
    #[error("plugin {plugin}: timed out after {timeout:?} and was stopped")]
    Timeout {
        /// The plugin.
        plugin: String,
        /// The timeout.
        timeout: Duration,
    },
    /// It exited with an error.
    #[error("plugin {plugin}: {status}: {stderr}")]
    Failed {
        /// The plugin.
        plugin: String,
        /// How it exited.
        status: String,
        /// What it printed on standard error (trimmed, at most 4 KiB).
        stderr: String,
    },
    /// A ConfigManagementPlugin manifest that cannot be used.
    #[error("{origin}: `{field}`: {problem}")]
    Definition {
        /// The manifest it was read from.
        origin: String,
        /// The field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// Its output is not manifests.
    #[error("plugin {plugin}: output is not valid manifests: {source}")]
    Output {
        /// The plugin.
        plugin: String,
        /// The parse error.
        source: manifest::Error,
    },
}

impl Plugin {
    /// Reads an Argo CD `ConfigManagementPlugin` (a sidecar's `plugin.yaml`). Its name is
    /// `metadata.name`, or `<name>-<spec.version>` when a version is given, as Argo CD names it.
    /// `spec.generate.command` (a list) and `args` make the command; the timeout is Argo CD's
    /// default of 90 s. `spec.init`, `spec.parameters.dynamic` and `spec.preserveFileMode` are not
    /// supported and are refused rather than ignored.
    pub fn from_manifest(o: &Object) -> Result<Plugin, Error> {
        let err = |field: &str, problem: &str| Error::Definition {
            origin: o.origin().to_string(),
            field: field.to_string(),
            problem: problem.to_string(),
        };
        if o.kind() != "ConfigManagementPlugin" {
            return Err(err("kind", "not a ConfigManagementPlugin"));
        }
        let spec = o.value().get("spec").ok_or_else(|| err("spec", "missing"))?;
        for field in ["init", "preserveFileMode"] {
            if spec.get(field).is_some_and(|v| !v.is_null() && v != &serde_json::Value::Bool(false)) {
                return Err(err(&format!("spec.{field}"), "not supported; fold it into spec.generate"));
            }
        }
        if spec.pointer("/parameters/dynamic").is_some_and(|v| !v.is_null()) {
            return Err(err("spec.parameters.dynamic", "dynamic parameters are not supported"));
        }
        let strings = |field: &str| -> Result<Vec<String>, Error> {
            match spec.pointer(&format!("/generate/{field}")) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| err(&format!("spec.generate.{field}"), "not a list of strings"))
                    })
                    .collect(),
                Some(_) => Err(err(&format!("spec.generate.{field}"), "not a list of strings")),
            }
        };
        let mut command = strings("command")?;
        if command.is_empty() {
            return Err(err("spec.generate.command", "missing"));
        }
        let program = command.remove(0);
        command.extend(strings("args")?);
        let name = match spec.get("version").and_then(serde_json::Value::as_str).filter(|v| !v.is_empty()) {
            Some(version) => format!("{}-{version}", o.name()),
            None => o.name().to_string(),
        };
        Ok(Plugin { name, command: program, args: command, timeout: Duration::from_secs(90) })
    }
}

/// Runs `plugin` in `path` (inside `root`) and parses what it prints; a key given twice is an
/// error.
pub fn render(root: &RepoRoot, path: &str, plugin: &Plugin, ctx: &PluginContext) -> Result<Vec<Object>, Error> {
    render_with(root, path, plugin, ctx, &crate::Reading::default())
}

/// [`render`], reading the output as `reading` says (and adding its warnings there).
pub fn render_with(
    root: &RepoRoot,
    path: &str,
    plugin: &Plugin,
    ctx: &PluginContext,
    reading: &crate::Reading,
) -> Result<Vec<Object>, Error> {
    let dir = root.resolve(path)?;
    root.check_tree(path)?;
    let mut cmd = Command::new(&plugin.command);
    cmd.args(&plugin.args)
        .current_dir(&dir)
        .env("ARGOCD_APP_NAME", &ctx.app_name)
        .env("ARGOCD_APP_NAMESPACE", &ctx.namespace)
        .env("ARGOCD_APP_REVISION", &ctx.revision)
        .env("ARGOCD_APP_SOURCE_PATH", path)
        .env("ARGOCD_APP_SOURCE_REPO_URL", &ctx.repo_url)
        .env("ARGOCD_APP_SOURCE_TARGET_REVISION", &ctx.target_revision);
    for (k, v) in &ctx.env {
        cmd.env(format!("ARGOCD_ENV_{k}"), v);
    }
    for (k, v) in &ctx.parameters {
        cmd.env(format!("PARAM_{}", k.to_ascii_uppercase().replace(['-', '.'], "_")), v);
    }
    let done = process::run(cmd, plugin.timeout).map_err(|f| match f {
        process::Failure::Spawn(source) => {
            Error::Spawn { plugin: plugin.name.clone(), command: plugin.command.clone(), source }
        }
        process::Failure::Timeout => Error::Timeout { plugin: plugin.name.clone(), timeout: plugin.timeout },
    })?;
    if !done.status.success() {
        return Err(Error::Failed {
            plugin: plugin.name.clone(),
            status: done.status.to_string(),
            stderr: process::clip(&String::from_utf8_lossy(&done.stderr), 4096),
        });
    }
    let out = done.stdout;
    let text = String::from_utf8_lossy(&out);
    reading
        .parse(&format!("plugin {}", plugin.name), &text)
        .map_err(|source| Error::Output { plugin: plugin.name.clone(), source })
}
