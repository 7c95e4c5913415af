//! Helm charts, rendered by `helm template` as Argo CD renders them.
//!
//! The chart, its value files and `--set-file` files are all read through the strict loader:
//! a value file may sit anywhere inside the repository (`../values/prod.yaml`), never outside
//! it (Argo CD's 2022 advisory). Remote value files are refused. Inline values go through a
//! temporary file, after the value files, then `--set`, `--set-string` and `--set-file`
//! parameters, as Argo CD passes them. CRDs are included unless `skip_crds`. The `helm`
//! program is `GITOPS_HELM` when set, else `helm` on the PATH.
//!
//! Helm never sees the repository. It follows symlinks anywhere in a chart (templates,
//! `Chart.yaml`, `files/` read by `.Files.Get`, `charts/`, `crds/`, `.helmignore`), out of the
//! repository too, so checking paths and then pointing helm at the chart would leave every
//! file helm reads unchecked, and a check before helm's own read could be overtaken by a
//! change in between. Instead the chart directory is copied, through the strict loader, into
//! a private temporary directory (symlinks inside the repository become plain files; links
//! out of it, FIFOs and other special files, symlink loops and directory cycles are refused,
//! naming the path), value and `--set-file` files are copied beside it, and helm renders the
//! copy. Charts are small (Helm itself caps a chart at 100 MiB); the copy is bounded by
//! [`CHART_LIMITS`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gitops_core::{Object, manifest};

use crate::chart_repo::ChartRepos;
use crate::process;
use crate::root::{self, Limits, RepoRoot};

/// The most a chart's copy may hold: Helm's own cap on a chart's expanded size, and a number
/// of files and directories no real chart comes near (symlinks inside the repository that
/// lead to one directory many times over would otherwise copy it that many times).
pub const CHART_LIMITS: Limits = Limits { bytes: 100 << 20, entries: 10_000 };

/// A Helm parameter (`spec.source.helm.parameters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The value path, e.g. `image.tag`.
    pub name: String,
    /// The value.
    pub value: String,
    /// `forceString`: passed with `--set-string`.
    pub force_string: bool,
}

/// The `helm` section of a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmOptions {
    /// `releaseName` (Argo CD defaults it to the app's name).
    pub release_name: String,
    /// The namespace the chart is rendered for.
    pub namespace: String,
    /// `valueFiles`, relative to the chart directory, inside the repository.
    pub value_files: Vec<String>,
    /// `values` / `valuesObject`: inline values as YAML text.
    pub values: Option<String>,
    /// `parameters`.
    pub parameters: Vec<Parameter>,
    /// `fileParameters`: (value path, file relative to the chart directory).
    pub file_parameters: Vec<(String, String)>,
    /// `skipCrds`.
    pub skip_crds: bool,
    /// `skipSchemaValidation`: the chart's `values.schema.json` is not checked.
    pub skip_schema_validation: bool,
    /// `skipTests`: the chart's test hooks are left out.
    pub skip_tests: bool,
    /// `passCredentials`: the chart repository's credentials are sent to the repositories of
    /// its dependencies too.
    pub pass_credentials: bool,
    /// `ignoreMissingValueFiles`: a value file that does not exist is left out, not an error.
    pub ignore_missing_value_files: bool,
    /// `apiVersions`.
    pub api_versions: Vec<String>,
    /// `kubeVersion`.
    pub kube_version: Option<String>,
}

/// A chart that cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path was refused or is missing.
    #[error(transparent)]
    Path(#[from] root::Error),
    /// A value file given as a URL.
    #[error("valueFiles: {0}: remote value files are not supported; keep them in the repository")]
    Remote(String),
    /// A value file `$<ref>/...` names no source with that `ref`.
    #[error("valueFiles: {file}: no source of the app has `ref: {name}` (refs: {known})")]
    UnknownRef {
        /// The value file as written.
        file: String,
        /// The ref it names.
        name: String,
        /// The refs the app has.
        known: String,
    },
    /// No helm program.
    #[error("helm is not installed (looked for `{0}`): install Helm 3 or set GITOPS_HELM to its path")]
    Missing(String),
    /// helm could not be run.
    #[error("helm: {0}")]
    Io(std::io::Error),
    /// helm ran too long.
    #[error("helm template timed out after {0:?}")]
    Timeout(Duration),
    /// helm failed; its message.
    #[error("helm template {chart}: {stderr}")]
    Failed {
        /// The chart path.
        chart: String,
        /// What helm printed.
        stderr: String,
    },
    /// Dependencies the chart declares that are not in its `charts/` directory: helm refuses
    /// to render (what it would leave out is not known), and so do we.
    #[error(
        "helm template {chart}: found in Chart.yaml, but missing in charts/ directory: {}; run `helm dependency build`",
        missing.join(", ")
    )]
    MissingDependencies {
        /// The chart path.
        chart: String,
        /// The dependencies missing.
        missing: Vec<String>,
    },
    /// A dependency could not be fetched from its chart repository.
    #[error(transparent)]
    Dependency(Box<crate::chart_repo::Error>),
    /// helm's output is not manifests.
    #[error("helm template {chart}: output is not valid manifests: {source}")]
    Output {
        /// The chart path.
        chart: String,
        /// The parse error.
        source: manifest::Error,
    },
}

/// How to run helm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helm {
    /// The program.
    pub program: PathBuf,
    /// Extra environment for it.
    pub env: Vec<(String, String)>,
    /// How long `helm template` may run.
    pub timeout: Duration,
}

impl Helm {
    /// `GITOPS_HELM` when set, else `helm` on the PATH; 90 s (Argo CD's default exec timeout).
    pub fn from_env() -> Helm {
        let program = std::env::var_os("GITOPS_HELM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("helm"));
        Helm { program, env: Vec::new(), timeout: Duration::from_secs(90) }
    }
}

/// A repository path relative to the chart directory.
fn beside(chart: &str, file: &str) -> Result<String, Error> {
    if file.contains("://") {
        return Err(Error::Remote(file.to_string()));
    }
    let chart = chart.trim_end_matches('/');
    Ok(if chart.is_empty() || chart == "." { file.to_string() } else { format!("{chart}/{file}") })
}

/// Copies repository file `rel` into `dir` (created), keeping its name, through the strict
/// loader; the copy's path.
fn stage(root: &RepoRoot, rel: &str, dir: &Path) -> Result<PathBuf, Error> {
    let mut from = root.open(rel)?;
    std::fs::create_dir_all(dir).map_err(Error::Io)?;
    let name = Path::new(rel).file_name().map_or_else(|| "file".into(), |n| n.to_os_string());
    let to = dir.join(name);
    let mut file = std::fs::File::create_new(&to).map_err(Error::Io)?;
    std::io::copy(&mut from, &mut file).map_err(|source| root::Error::Io { path: rel.to_string(), source })?;
    Ok(to)
}

/// The dependencies `Chart.yaml` (or a v1 chart's `requirements.yaml`) declares that `charts/`
/// lacks, as `helm template` checks before rendering: a subchart directory counts by its
/// `Chart.yaml` name, an archive by its file name (`<name>-<version>.tgz`). A file that cannot
/// be read declares nothing here; helm reports it itself.
fn missing_dependencies(chart: &Path) -> Vec<String> {
    let read = |p: &Path| -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(p).ok()?;
        gitops_core::yaml::parse_documents(&text).ok()?.into_iter().next().map(|d| d.value)
    };
    let declared: Vec<String> = [chart.join("Chart.yaml"), chart.join("requirements.yaml")]
        .iter()
        .filter_map(|p| read(p))
        .filter_map(|v| v.get("dependencies").and_then(|d| d.as_array()).cloned())
        .flatten()
        .filter_map(|d| d.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect();
    if declared.is_empty() {
        return declared;
    }
    let mut present = Vec::new();
    let mut archives = Vec::new();
    for entry in std::fs::read_dir(chart.join("charts")).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".tgz") {
            archives.push(stem.to_string());
        } else if let Some(n) =
            read(&entry.path().join("Chart.yaml")).and_then(|v| v["name"].as_str().map(str::to_string))
        {
            present.push(n);
        }
    }
    declared
        .into_iter()
        .filter(|d| {
            !present.contains(d)
                && !archives.iter().any(|a| a.strip_prefix(d.as_str()).is_some_and(|v| v.starts_with('-')))
        })
        .collect()
}

/// Renders the chart at `chart` (a directory inside `root`); a key given twice in its output
/// is an error.
pub fn render(root: &RepoRoot, chart: &str, options: &HelmOptions, helm: &Helm) -> Result<Vec<Object>, Error> {
    render_with(root, chart, options, helm, &crate::Reading::default())
}

/// [`render`], reading the output as `reading` says (and adding its warnings there).
pub fn render_with(
    root: &RepoRoot,
    chart: &str,
    options: &HelmOptions,
    helm: &Helm,
    reading: &crate::Reading,
) -> Result<Vec<Object>, Error> {
    render_from(root, chart, options, helm, reading, None)
}

/// [`render_with`], and the dependencies the chart declares but its `charts/` lacks fetched
/// from their chart repositories through `repos` (as `helm dependency build`, see
/// [`ChartRepos::build_dependencies`]) before helm runs; without `repos` they are an error.
pub fn render_from(
    root: &RepoRoot,
    chart: &str,
    options: &HelmOptions,
    helm: &Helm,
    reading: &crate::Reading,
    repos: Option<&ChartRepos>,
) -> Result<Vec<Object>, Error> {
    render_with_refs(root, chart, options, helm, reading, repos, &RefRoots::new())
}

/// The repositories of a multi-source app's `ref` sources, by ref name: a value file
/// `$<ref>/<path>` is `<path>` from the root of that source's checkout.
pub type RefRoots = std::collections::BTreeMap<String, RepoRoot>;

/// [`render_from`] for a chart of a multi-source app, whose value files may name files of its
/// `ref` sources (`$<ref>/<path>`, as Argo CD allows at the start of a value file only).
pub fn render_with_refs(
    root: &RepoRoot,
    chart: &str,
    options: &HelmOptions,
    helm: &Helm,
    reading: &crate::Reading,
    repos: Option<&ChartRepos>,
    refs: &RefRoots,
) -> Result<Vec<Object>, Error> {
    let dir = root.resolve(chart)?;
    // Removed when dropped, after helm has run.
    let work = tempfile::Builder::new().prefix("gitops-helm-").tempdir().map_err(Error::Io)?;
    // Under its own name: helm's messages and `.Chart` lookups may show the directory.
    let copy = work.path().join("chart").join(dir.file_name().unwrap_or("chart".as_ref()));
    root.copy_tree(chart, &copy, CHART_LIMITS)?;
    let mut missing = missing_dependencies(&copy);
    if let Some(repos) = repos
        && !missing.is_empty()
    {
        repos.build_dependencies(&copy, &missing).map_err(|e| Error::Dependency(Box::new(e)))?;
        missing = missing_dependencies(&copy);
    }
    if !missing.is_empty() {
        return Err(Error::MissingDependencies { chart: chart.to_string(), missing });
    }
    let mut cmd = Command::new(&helm.program);
    cmd.envs(helm.env.iter().map(|(k, v)| (k, v)));
    cmd.arg("template").arg(&copy).arg("--name-template").arg(&options.release_name);
    if !options.namespace.is_empty() {
        cmd.arg("--namespace").arg(&options.namespace);
    }
    if let Some(v) = &options.kube_version {
        cmd.arg("--kube-version").arg(v);
    }
    for v in &options.api_versions {
        cmd.arg("--api-versions").arg(v);
    }
    for (i, f) in options.value_files.iter().enumerate() {
        // `$<ref>/<path>`: from the root of the app's source with that ref.
        let (from, rel) = match f.strip_prefix('$').filter(|_| !refs.is_empty()) {
            Some(rest) => {
                let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
                let ref_root = refs.get(name).ok_or_else(|| Error::UnknownRef {
                    file: f.clone(),
                    name: name.to_string(),
                    known: refs.keys().cloned().collect::<Vec<_>>().join(", "),
                })?;
                if path.contains("://") {
                    return Err(Error::Remote(f.clone()));
                }
                (ref_root, path.to_string())
            }
            None => (root, beside(chart, f)?),
        };
        let staged = match stage(from, &rel, &work.path().join(format!("values/{i}"))) {
            // Only a file that is not there is ignored: one leaving the repository still fails.
            Err(Error::Path(root::Error::Io { source, .. }))
                if options.ignore_missing_value_files && source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue;
            }
            staged => staged?,
        };
        cmd.arg("--values").arg(staged);
    }
    if let Some(text) = options.values.as_deref().filter(|v| !v.trim().is_empty()) {
        let path = work.path().join("inline-values.yaml");
        let mut f = std::fs::File::create_new(&path).map_err(Error::Io)?;
        f.write_all(text.as_bytes()).map_err(Error::Io)?;
        cmd.arg("--values").arg(path);
    }
    for p in &options.parameters {
        let flag = if p.force_string { "--set-string" } else { "--set" };
        cmd.arg(flag).arg(format!("{}={}", p.name, p.value));
    }
    for (i, (name, file)) in options.file_parameters.iter().enumerate() {
        let staged = stage(root, &beside(chart, file)?, &work.path().join(format!("set-file/{i}")))?;
        cmd.arg("--set-file").arg(format!("{name}={}", staged.display()));
    }
    if options.skip_tests {
        cmd.arg("--skip-tests");
    }
    if options.skip_schema_validation {
        cmd.arg("--skip-schema-validation");
    }
    if !options.skip_crds {
        cmd.arg("--include-crds");
    }
    let done = process::run(cmd, helm.timeout).map_err(|f| match f {
        process::Failure::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Error::Missing(helm.program.display().to_string())
        }
        process::Failure::Spawn(e) => Error::Io(e),
        process::Failure::Timeout => Error::Timeout(helm.timeout),
    })?;
    if !done.status.success() {
        // Paths into the copy mean nothing to the user; the chart's own path does.
        let stderr = String::from_utf8_lossy(&done.stderr).replace(&copy.display().to_string(), chart);
        return Err(Error::Failed { chart: chart.to_string(), stderr: process::clip(&stderr, 4096) });
    }
    drop(work);
    let text = String::from_utf8_lossy(&done.stdout);
    reading
        .parse(&format!("helm template {chart}"), &text)
        .map_err(|source| Error::Output { chart: chart.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_count_by_subchart_name_or_archive_name() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path();
        std::fs::create_dir_all(chart.join("charts/cache")).unwrap();
        std::fs::write(
            chart.join("Chart.yaml"),
            "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies: [{name: redis}, {name: redis-ha}, {name: pg}, {name: mq}]\n",
        )
        .unwrap();
        // A subchart counts by the name its Chart.yaml gives, not by its directory's name.
        std::fs::write(chart.join("charts/cache/Chart.yaml"), "apiVersion: v2\nname: mq\nversion: 1.0.0\n").unwrap();
        std::fs::write(chart.join("charts/redis-17.0.0.tgz"), "").unwrap();
        std::fs::write(chart.join("charts/pgadmin-1.0.0.tgz"), "").unwrap();
        assert_eq!(missing_dependencies(chart), ["redis-ha", "pg"]);
        std::fs::write(chart.join("requirements.yaml"), "dependencies: [{name: legacy}]\n").unwrap();
        assert_eq!(missing_dependencies(chart), ["redis-ha", "pg", "legacy"]);
    }
}
