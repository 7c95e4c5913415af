//! `gitops render PATH` and `gitops render --app FILE`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use gitops_render::app::{self, Renderers};
use gitops_render::chart_repo::{self, ChartRepos};
use gitops_render::directory::DirectoryOptions;
use gitops_render::git::Cache;
use gitops_render::helm::{Helm, HelmOptions, Parameter};
use gitops_render::local::{self, PathOptions, RenderedPath};
use gitops_render::plugin::Plugin;
use gitops_render::{kustomize, output, regular, source};

/// Arguments of `gitops render`.
#[derive(Args, Debug)]
pub struct RenderArgs {
    /// A kustomization directory (built natively, byte for byte as `kubectl kustomize`), a Helm
    /// chart directory (it holds Chart.yaml; rendered with `helm template`, GITOPS_HELM or
    /// `helm` on the PATH), a directory of manifests (Argo CD's directory source: only .yaml,
    /// .yml and .json files), one manifest file (whatever its extension, as `kubectl apply -f`
    /// reads it), or `-` for standard input (at most 256 MiB).
    #[arg(required_unless_present = "app", conflicts_with = "app")]
    pub path: Option<String>,
    /// Render what this Argo CD Application (or Flux Kustomization with its GitRepository, in
    /// one file) points at: its repository is fetched at its revision into the cache, and the
    /// commit it resolved to is printed on standard error.
    #[arg(long, value_name = "FILE")]
    pub app: Option<String>,
    /// With --app: the app to render when FILE holds several.
    #[arg(long, value_name = "NAME", requires = "app")]
    pub name: Option<String>,
    /// With --app: this revision (branch, tag, commit) instead of the app's.
    #[arg(long, value_name = "REV", requires = "app")]
    pub revision: Option<String>,
    /// The Git cache, for --app and for remote kustomize bases (default: GITOPS_CACHE, else
    /// ~/.cache/gitops).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<String>,
    /// With --app: an Argo CD ConfigManagementPlugin manifest (a sidecar's plugin.yaml) the
    /// app may name (repeatable).
    #[arg(long = "plugin", value_name = "FILE", requires = "app")]
    pub plugins: Vec<String>,
    /// Argo CD repository Secrets (`argocd.argoproj.io/secret-type: repository` or
    /// `repo-creds`, `type: helm`) with the credentials of chart repositories (repeatable).
    #[arg(long = "repo-creds", value_name = "FILE", requires = "app")]
    pub repo_creds: Vec<String>,
    /// Descend into subdirectories (Argo CD's `directory.recurse`; off by default, as there).
    #[arg(long)]
    pub recurse: bool,
    /// Only files whose path (relative to PATH) matches this glob (`directory.include`).
    #[arg(long, value_name = "GLOB")]
    pub include: Option<String>,
    /// No file whose path matches this glob (`directory.exclude`).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Option<String>,
    /// The repository root PATH lies in (default: the Git working tree around PATH, else PATH
    /// itself). Nothing outside it is read: value files and bases may use `../` only within it.
    #[arg(long, value_name = "DIR")]
    pub root: Option<String>,
    /// Helm: the release name (default: the chart directory's name, as Argo CD uses the app's).
    #[arg(long, value_name = "NAME")]
    pub release_name: Option<String>,
    /// Helm: the namespace to render for.
    #[arg(long, short = 'n', value_name = "NS", default_value = "default", value_parser = crate::app_input::namespace_arg)]
    pub namespace: String,
    /// Helm: a value file, relative to the chart (repeatable; later files win).
    #[arg(long = "values", value_name = "FILE")]
    pub value_files: Vec<String>,
    /// Helm: `--set NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Helm: `--set-string NAME=VALUE` (repeatable).
    #[arg(long = "set-string", value_name = "NAME=VALUE")]
    pub set_string: Vec<String>,
    /// Helm: leave the chart's CRDs out.
    #[arg(long)]
    pub skip_crds: bool,
    /// Kustomize: the output order; `legacy` (the default, as `kubectl kustomize`) or `none`
    /// (accumulation order, as `--reorder none` and Flux). Default: the kustomization's
    /// `sortOptions`, else legacy.
    #[arg(long, value_enum, value_name = "ORDER")]
    pub reorder: Option<Reorder>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
    /// Refuse manifests that give a key twice in one mapping (by default the last value wins,
    /// with a warning naming both lines, as kubectl and Argo CD read them).
    #[arg(long)]
    pub strict: bool,
}

/// `--reorder` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reorder {
    /// kustomize's legacy order.
    Legacy,
    /// Accumulation order.
    None,
}

/// Output formats of `gitops render`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML documents separated by `---`.
    Yaml,
    /// A JSON list.
    Json,
}

fn parameters(items: &[String], force_string: bool) -> Result<Vec<Parameter>, String> {
    items
        .iter()
        .map(|item| {
            let (name, value) = item.split_once('=').ok_or_else(|| {
                format!("--set{}: `{item}` is not NAME=VALUE", if force_string { "-string" } else { "" })
            })?;
            Ok(Parameter { name: name.to_string(), value: value.to_string(), force_string })
        })
        .collect()
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(args: RenderArgs) -> Result<ExitCode, String> {
    let reading = std::sync::Arc::new(crate::app_input::reading(args.strict));
    let rendered = match (&args.app, &args.path) {
        (Some(app_file), _) => RenderedPath::Objects(render_app(app_file, &args, &reading)?),
        (None, Some(path)) => local::render_path(path, &path_options(&args)?, &reading).map_err(|e| e.to_string())?,
        (None, None) => return Err("give a PATH or --app FILE".into()),
    };
    crate::app_input::print_warnings(&reading);
    let text = match (rendered, args.output) {
        (RenderedPath::Objects(objects), Format::Yaml) => output::yaml_stream(&objects).map_err(|e| e.to_string())?,
        (RenderedPath::Objects(objects), Format::Json) => output::json_list(&objects),
        (RenderedPath::Kustomize(values), Format::Yaml) => kustomize::to_yaml(&values),
        (RenderedPath::Kustomize(values), Format::Json) => {
            serde_json::to_string_pretty(&values).map_err(|e| format!("writing JSON: {e}"))? + "\n"
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(|e| format!("writing output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// The Git cache: `--cache`, else `GITOPS_CACHE`, else `$XDG_CACHE_HOME/gitops` or `~/.cache/gitops`.
pub(crate) fn cache_dir(flag: Option<&String>) -> Result<PathBuf, String> {
    if let Some(dir) = flag {
        return Ok(PathBuf::from(dir));
    }
    Cache::default_dir().ok_or_else(|| "no Git cache directory: set GITOPS_CACHE or pass --cache".into())
}

pub(crate) fn read_objects(file: impl AsRef<Path>) -> Result<Vec<gitops_core::Object>, String> {
    let (path, shown) = (file.as_ref(), file.as_ref().display());
    let text = regular::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    gitops_core::manifest::parse(&shown.to_string(), &text).map_err(|e| e.to_string())
}

/// Chart repositories, cached beside the Git cache, with the credentials of `--repo-creds
/// FILE` arguments (Argo CD repository Secrets; other objects in the files are passed over).
pub(crate) fn chart_repos(cache: &Cache, files: &[String]) -> Result<ChartRepos, String> {
    let mut credentials = Vec::new();
    for file in files {
        credentials.extend(read_objects(file)?.iter().filter_map(chart_repo::Credentials::from_secret));
    }
    Ok(ChartRepos::new(cache.root().join("charts")).with_credentials(credentials))
}

/// The config management plugins of `--plugin FILE` arguments.
pub(crate) fn read_plugins(files: &[String]) -> Result<Vec<Plugin>, String> {
    let mut plugins = Vec::new();
    for file in files {
        for o in read_objects(file)? {
            plugins.push(Plugin::from_manifest(&o).map_err(|e| format!("{file}: {e}"))?);
        }
    }
    Ok(plugins)
}

fn render_app(
    app_file: &str,
    args: &RenderArgs,
    reading: &std::sync::Arc<gitops_render::Reading>,
) -> Result<Vec<gitops_core::Object>, String> {
    let objects = crate::app_input::one_app(app_file, read_objects(app_file)?, args.name.as_deref())?;
    let source = source::read(&objects).map_err(|e| e.to_string())?;
    let plugins = read_plugins(&args.plugins)?;
    let cache = Cache::new(cache_dir(args.cache.as_ref())?);
    let renderers = Renderers {
        charts: chart_repos(&cache, &args.repo_creds)?,
        cache,
        helm: Helm::from_env(),
        plugins,
        reading: reading.clone(),
        sops_keys: None,
        locals: Default::default(),
    };
    let rendered = app::render(&source, args.revision.as_deref(), &renderers).map_err(|e| e.to_string())?;
    for w in &rendered.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "{} {} at {} ({}): {} objects",
        source.app_name,
        gitops_render::git::scrub(&source.repo_url),
        rendered.reference,
        rendered.commit,
        rendered.objects.len()
    );
    Ok(rendered.objects)
}

/// Renders the app among `objects` (an Application, or a Kustomization with its
/// GitRepository) from its source, with the chart repository credentials of `repo_creds`
/// files; no plugins.
pub(crate) fn render_objects(
    objects: &[gitops_core::Object],
    cache: &Cache,
    repo_creds: &[String],
) -> Result<Vec<gitops_core::Object>, String> {
    let source = source::read(objects).map_err(|e| e.to_string())?;
    let reading = std::sync::Arc::new(crate::app_input::reading(false));
    let renderers = Renderers {
        charts: chart_repos(cache, repo_creds)?,
        cache: cache.clone(),
        helm: Helm::from_env(),
        plugins: Vec::new(),
        reading,
        sops_keys: None,
        locals: Default::default(),
    };
    Ok(app::render(&source, None, &renderers).map_err(|e| e.to_string())?.objects)
}

/// How `gitops render PATH` renders, from its flags.
fn path_options(args: &RenderArgs) -> Result<PathOptions, String> {
    let mut parameters = parameters(&args.set, false)?;
    parameters.extend(self::parameters(&args.set_string, true)?);
    Ok(PathOptions {
        root: args.root.as_deref().map(PathBuf::from),
        directory: DirectoryOptions {
            recurse: args.recurse,
            include: args.include.clone(),
            exclude: args.exclude.clone(),
        },
        helm: HelmOptions {
            release_name: args.release_name.clone().unwrap_or_default(),
            namespace: args.namespace.clone(),
            value_files: args.value_files.clone(),
            parameters,
            skip_crds: args.skip_crds,
            ..Default::default()
        },
        helm_binary: Helm::from_env(),
        order: args.reorder.map(|r| match r {
            Reorder::Legacy => kustomize::Order::Legacy,
            Reorder::None => kustomize::Order::Fifo,
        }),
        // Only remote bases need it; without one they are refused by name.
        git: cache_dir(args.cache.as_ref()).ok().map(Cache::new),
    })
}
