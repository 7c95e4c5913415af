//! Rendering an app: fetch its [`Source`] at a revision into the Git cache (or, for a chart
//! of a Helm chart repository, the chart version its `targetRevision` selects into the chart
//! cache, see [`chart_repo`]), then render its path with the renderer its source section
//! names, through the strict loader.
//!
//! Argo CD and Flux differ in three places, all kept: Flux applies its source ignore rules
//! (`.sourceignore`, its defaults, `spec.ignore`), Argo CD does not; a Flux path without a
//! kustomization file is built from the kustomization Flux generates (its `.yaml`/`.yml`
//! manifests, and its subdirectories that hold a kustomization, as resources; see
//! [`kustomize::generated_resources`]), where Argo CD's default directory source does not
//! recurse; and Flux builds
//! kustomizations in accumulation order without kustomize's load restrictor, Argo CD in
//! `kustomize build`'s legacy order with it.

use std::path::Path;

use gitops_core::Object;

use crate::chart_repo::{self, ChartRepos};
use crate::directory::{self, DirectoryOptions};
use crate::git::{self, Cache, Checkout, Reference};
use crate::helm::{self, Helm, HelmOptions, RefRoots};
use crate::kustomize;
use crate::local::{self, Detected};
use crate::plugin::{self, Plugin, PluginContext};
use crate::root::{self, RepoRoot};
use crate::source::{Renderer, Source};

/// What rendering an app needs besides its source.
#[derive(Debug, Clone)]
pub struct Renderers {
    /// Where repositories are fetched to.
    pub cache: Cache,
    /// Where charts of chart repositories are fetched from and cached, with their
    /// credentials.
    pub charts: ChartRepos,
    /// How to run `helm template`.
    pub helm: Helm,
    /// The config management plugins the app may name.
    pub plugins: Vec<Plugin>,
    /// How manifests (files, Helm and plugin output) are read, and the warnings reading them
    /// gave.
    pub reading: std::sync::Arc<crate::Reading>,
    /// The SOPS keys of a Flux app's decryption Secret, while it renders: its generators'
    /// encrypted source files are decrypted before the build ([`crate::decrypt`]).
    pub sops_keys: Option<std::sync::Arc<gitops_secrets::sops::keys::Identities>>,
    /// Local checkouts standing in for repositories (`--local URL=DIR`), for the other
    /// sources of a multi-source app.
    pub locals: LocalRepos,
}

/// Local checkouts standing in for repositories, by URL.
#[derive(Debug, Clone, Default)]
pub struct LocalRepos(Vec<(String, std::path::PathBuf)>);

impl LocalRepos {
    /// Checkouts `dir` for repositories `url`.
    pub fn new(pairs: impl IntoIterator<Item = (String, std::path::PathBuf)>) -> LocalRepos {
        LocalRepos(pairs.into_iter().collect())
    }

    /// The checkout standing in for `repo_url` (URLs compared as [`git::same_repository`] does).
    pub fn find(&self, repo_url: &str) -> Option<&Path> {
        self.0.iter().find(|(url, _)| git::same_repository(url, repo_url)).map(|(_, dir)| dir.as_path())
    }
}

/// An app's rendered desired state.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The commit it was rendered from (40 hex digits).
    pub commit: String,
    /// What the revision resolved through, e.g. `refs/heads/main`.
    pub reference: String,
    /// The objects, in the renderer's order.
    pub objects: Vec<Object>,
    /// What a user should know that does not stop the render (Argo CD's
    /// `RepeatedResourceWarning` of a multi-source app).
    pub warnings: Vec<String>,
}

/// Why an app could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository or revision could not be fetched.
    #[error(transparent)]
    Git(#[from] git::Error),
    /// The chart could not be had from its chart repository.
    #[error(transparent)]
    Chart(#[from] chart_repo::Error),
    /// The path was refused or is missing in the checkout.
    #[error("{url} at {commit}: {source}")]
    Path {
        /// The repository URL, credentials scrubbed.
        url: String,
        /// The commit.
        commit: String,
        /// Why.
        source: root::Error,
    },
    /// The directory renderer failed.
    #[error(transparent)]
    Directory(#[from] directory::Error),
    /// Helm failed.
    #[error(transparent)]
    Helm(#[from] helm::Error),
    /// The plugin failed.
    #[error(transparent)]
    Plugin(#[from] plugin::Error),
    /// The app names a plugin that was not given.
    #[error(
        "spec.source.plugin.name: no plugin `{name}` is configured (known: {known}); pass its plugin.yaml with --plugin FILE"
    )]
    UnknownPlugin {
        /// The name asked for.
        name: String,
        /// The names configured.
        known: String,
    },
    /// Kustomize failed.
    #[error(transparent)]
    Kustomize(#[from] kustomize::Error),
    /// A HelmRelease's post renderers failed.
    #[error(transparent)]
    PostRender(#[from] crate::post_render::Error),
    /// A chart's `Chart.yaml` or `values.yaml` does not read as YAML.
    #[error("{path}: {problem}")]
    ChartFile {
        /// The file, in its chart.
        path: String,
        /// Why it does not read.
        problem: String,
    },
    /// A parameter override file (`.argocd-source*.yaml`) does not read.
    #[error(transparent)]
    Overrides(crate::source::Error),
    /// The path needs a renderer this version does not have.
    #[error("{path}: {what} is not supported yet")]
    Unsupported {
        /// The path in the repository.
        path: String,
        /// What is missing.
        what: String,
    },
}

pub use crate::local::kustomization_file;

/// Fetches `source` at its revision (or at `revision`, which overrides it) and renders it.
pub fn render(source: &Source, revision: Option<&str>, with: &Renderers) -> Result<Rendered, Error> {
    let (checkout, reference) = fetch(source, revision, with)?;
    render_checkout(source, &checkout, &reference, with)
}

/// Fetches `source` at its revision (or at `revision`, which overrides it), without rendering
/// it: a caller that rendered this commit before may keep what it rendered.
///
/// A chart of a chart repository is fetched as a checkout too: its directory, its version as
/// the commit (as Argo CD reports a chart's revision) and `<chart> <version>` as the
/// reference.
pub fn fetch(source: &Source, revision: Option<&str>, with: &Renderers) -> Result<(Checkout, Reference), Error> {
    let reference = match revision {
        Some(r) => Reference::Revision(r.to_string()),
        None => source.revision.clone(),
    };
    if let Some(chart) = &source.chart {
        // A Flux source's own Secret (`spec.secretRef`) authenticates to its repository.
        let own = source.helm_release.as_ref().and_then(|r| r.credentials.clone());
        let charts = match own {
            Some(credentials) => std::borrow::Cow::Owned(with.charts.clone().with_more_credentials(credentials)),
            None => std::borrow::Cow::Borrowed(&with.charts),
        };
        let fetched = charts.fetch(&source.repo_url, chart, &revision_text(&reference))?;
        let checkout =
            Checkout { reference: format!("{chart} {}", fetched.version), commit: fetched.version, dir: fetched.dir };
        return Ok((checkout, reference));
    }
    Ok((with.cache.checkout(&source.repo_url, &reference)?, reference))
}

/// Renders `source` from `checkout`, fetched for `reference` ([`fetch`]).
pub fn render_checkout(
    source: &Source,
    checkout: &Checkout,
    reference: &Reference,
    with: &Renderers,
) -> Result<Rendered, Error> {
    if !source.others.is_empty() {
        return render_sources(source, checkout, reference, with);
    }
    let objects =
        render_tree(source, &checkout.dir, &checkout.commit, &revision_text(reference), with, &RefRoots::new())?;
    Ok(Rendered {
        commit: checkout.commit.clone(),
        reference: checkout.reference.clone(),
        objects,
        warnings: Vec::new(),
    })
}

/// A multi-source app, its first source fetched to `checkout`: the others fetched (or taken
/// from [`Renderers::locals`]), each rendering source rendered with the `ref` sources' roots,
/// and the objects put together in source order, a later source's object replacing an
/// earlier one of the same kind, namespace and name (as Argo CD combines them). The commit is
/// every source's, joined by `,`, so that a change of any is a new revision.
fn render_sources(
    source: &Source,
    checkout: &Checkout,
    reference: &Reference,
    with: &Renderers,
) -> Result<Rendered, Error> {
    let mut fetched = vec![(source, checkout.clone(), reference.clone())];
    for other in &source.others {
        let (c, r) = match with.locals.find(&other.repo_url).filter(|_| other.chart.is_none()) {
            Some(dir) => (
                Checkout { commit: "local".into(), reference: dir.display().to_string(), dir: dir.to_path_buf() },
                other.revision.clone(),
            ),
            None => fetch(other, None, with)?,
        };
        fetched.push((other, c, r));
    }
    let mut refs = RefRoots::new();
    for (s, c, _) in &fetched {
        if let Some(name) = &s.ref_name {
            let path_error = |e| Error::Path { url: git::scrub(&s.repo_url), commit: c.commit.clone(), source: e };
            let mut root = RepoRoot::new(&c.dir).map_err(path_error)?;
            if c.commit != "local" {
                root = root.fetched(&git::scrub(&s.repo_url), &c.commit);
            }
            refs.insert(name.clone(), root);
        }
    }
    let mut objects: Vec<Object> = Vec::new();
    // How many sources rendered each object a later one replaced, in the order first met.
    let mut repeated: Vec<(gitops_core::ResourceKey, usize)> = Vec::new();
    for (s, c, r) in &fetched {
        if !s.renders {
            continue;
        }
        for o in render_tree(s, &c.dir, &c.commit, &revision_text(r), with, &refs)? {
            let key = o.key("");
            let before = objects.len();
            objects.retain(|e| e.key("") != key);
            if objects.len() < before {
                match repeated.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, n)) => *n += 1,
                    None => repeated.push((key, 2)),
                }
            }
            objects.push(o);
        }
    }
    // Argo CD's words for it (its RepeatedResourceWarning condition).
    let warnings = repeated
        .iter()
        .map(|(key, n)| {
            format!("RepeatedResourceWarning: Resource {key} appeared {n} times among application resources.")
        })
        .collect();
    let commit = fetched.iter().map(|(_, c, _)| c.commit.as_str()).collect::<Vec<_>>().join(",");
    let reference = fetched.iter().map(|(_, c, _)| c.reference.as_str()).collect::<Vec<_>>().join(", ");
    Ok(Rendered { commit, reference, objects, warnings })
}

/// The chart a Helm source renders, as Helm records it in a release: its `Chart.yaml` and its
/// `values.yaml` (the chart's defaults; an empty map when it has none). The chart is fetched
/// as [`fetch`] fetches it: from the cache after a render.
pub fn chart_files(source: &Source, with: &Renderers) -> Result<(serde_json::Value, serde_json::Value), Error> {
    let (checkout, _) = fetch(source, None, with)?;
    let path_error = |e| Error::Path { url: git::scrub(&source.repo_url), commit: checkout.commit.clone(), source: e };
    let root = RepoRoot::new(&checkout.dir).map_err(path_error)?;
    // A chart of a chart repository is fetched as its own directory.
    let dir = if source.chart.is_some() { "." } else { source.path.as_str() };
    let read = |name: &str, required: bool| -> Result<serde_json::Value, Error> {
        let rel = format!("{dir}/{name}");
        let text = match root.read(&rel) {
            Ok(text) => text,
            Err(root::Error::Io { source, .. }) if !required && source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(serde_json::Value::Object(Default::default()));
            }
            Err(e) => return Err(path_error(e)),
        };
        let shown = format!("{} {rel}", source.chart.as_deref().unwrap_or(&source.repo_url));
        let docs = gitops_core::yaml::parse_documents(&text)
            .map_err(|e| Error::ChartFile { path: shown.clone(), problem: e.to_string() })?;
        Ok(docs.into_iter().next().map(|d| d.value).unwrap_or(serde_json::Value::Object(Default::default())))
    };
    Ok((read("Chart.yaml", true)?, read("values.yaml", false)?))
}

/// Renders `source` from a local checkout of its repository at `dir` instead of fetching it
/// (as `argocd app sync --local` does); the commit is reported as `local`.
pub fn render_local(source: &Source, dir: &Path, with: &Renderers) -> Result<Rendered, Error> {
    if let Some(chart) = &source.chart {
        return Err(Error::Unsupported {
            path: chart.clone(),
            what: "a local checkout for a chart of a chart repository".into(),
        });
    }
    let checkout = Checkout { commit: "local".into(), reference: dir.display().to_string(), dir: dir.to_path_buf() };
    if !source.others.is_empty() {
        return render_sources(source, &checkout, &source.revision, with);
    }
    let objects = render_tree(source, dir, "local", &revision_text(&source.revision), with, &RefRoots::new())?;
    Ok(Rendered { commit: "local".into(), reference: dir.display().to_string(), objects, warnings: Vec::new() })
}

/// Renders the source's path inside the repository files at `tree`.
fn render_tree(
    source: &Source,
    tree: &Path,
    commit: &str,
    target_revision: &str,
    with: &Renderers,
    refs: &RefRoots,
) -> Result<Vec<Object>, Error> {
    // A chart of a chart repository renders from the tree holding its directory, under its
    // own name: messages name the chart, and value files stay inside it.
    let (tree, path) = match (&source.chart, tree.parent(), tree.file_name().and_then(|n| n.to_str())) {
        (Some(_), Some(parent), Some(name)) => (parent, name),
        _ => (tree, source.path.as_str()),
    };
    let path_error = |source_error| Error::Path {
        url: git::scrub(&source.repo_url),
        commit: commit.to_string(),
        source: source_error,
    };
    let mut root = RepoRoot::new(tree).map_err(path_error)?;
    if let Some(chart) = &source.chart {
        root = root.fetched(&format!("{} chart {chart}", git::scrub(&source.repo_url)), commit);
    } else if commit != "local" {
        root = root.fetched(&git::scrub(&source.repo_url), commit);
    }
    if source.source_ignore {
        root = root.with_source_ignore(source.ignore.as_deref()).map_err(path_error)?;
    }
    // The path first: a path leaving the checkout is refused before anything in it is read.
    let resolved = root.resolve(path).map_err(path_error)?;
    // Argo CD's parameter override files (`.argocd-source*.yaml`, written by Image Updater).
    let overridden = source
        .with_parameter_overrides(|rel| match root.resolve(rel) {
            Ok(_) => root.read(rel).map(Some),
            Err(root::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .map_err(Error::Overrides)?;
    let source = overridden.as_ref().unwrap_or(source);
    let detected = local::detect(&resolved);
    let objects = match &source.renderer {
        Renderer::Directory(options) => directory::render_with(&root, path, options, &with.reading)?,
        Renderer::Helm(options) => {
            // `passCredentials`: the chart repository's credentials go to the repositories of
            // its dependencies too (those with credentials of their own keep theirs).
            let passing = (options.pass_credentials && source.chart.is_some()).then(|| {
                with.charts.clone().with_more_credentials(chart_repo::RepoCredentials {
                    url: String::new(),
                    prefix: true,
                    credentials: with.charts.credentials_for(&source.repo_url),
                })
            });
            let charts = passing.as_ref().unwrap_or(&with.charts);
            let objects = helm::render_with_refs(&root, path, options, &with.helm, &with.reading, Some(charts), refs)?;
            match &source.helm_release {
                Some(release) => {
                    crate::post_render::post_render(&release.origin, objects, release.post_renderers.as_ref())?
                }
                None => objects,
            }
        }
        Renderer::Plugin { name, env, parameters } => {
            let plugin = with.plugins.iter().find(|p| &p.name == name).ok_or_else(|| Error::UnknownPlugin {
                name: name.clone(),
                known: with.plugins.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
            })?;
            let context = PluginContext {
                app_name: source.app_name.clone(),
                namespace: source.namespace.clone(),
                revision: commit.to_string(),
                target_revision: target_revision.to_string(),
                repo_url: git::scrub(&source.repo_url),
                env: env.clone(),
                parameters: parameters.clone(),
            };
            plugin::render_with(&root, path, plugin, &context, &with.reading)?
        }
        // Flux builds every path through kustomize, generating a kustomization where the path
        // has none (its manifests and the subdirectories that hold one).
        Renderer::Kustomize(_) | Renderer::Auto
            if matches!(detected, Detected::Kustomize(_)) || source.source_ignore =>
        {
            let overrides = match &source.renderer {
                Renderer::Kustomize(o) => o.clone(),
                _ => Default::default(),
            };
            // Argo CD runs `kustomize build` (legacy order, files confined to each
            // kustomization's directory); Flux uses the library (fifo, no restriction).
            let flux = source.source_ignore;
            let options = kustomize::Options {
                order: Some(if flux { kustomize::Order::Fifo } else { kustomize::Order::Legacy }),
                restrict_to_kustomization_dir: !flux,
                overrides,
                git: Some(with.cache.clone()),
                generate_missing: flux,
                decrypt_sources: match (&source.decryption, &with.sops_keys) {
                    (Some(_), Some(keys)) => {
                        let keys = keys.clone();
                        Some(kustomize::SourceDecryptor(std::sync::Arc::new(move |path: &str, bytes: &[u8]| {
                            crate::decrypt::decrypt_source(path, bytes, &keys).map_err(|e| e.to_string())
                        })))
                    }
                    _ => None,
                },
            };
            let values = kustomize::build(&root, path, &options)?;
            let origin = format!("{} {}", git::scrub(&source.repo_url), path);
            values.into_iter().map(|v| Object::new(v, gitops_core::Origin::inline(&origin))).collect()
        }
        Renderer::Kustomize(_) => {
            return Err(Error::Unsupported {
                path: path.to_string(),
                what: "a kustomize source without a kustomization file".into(),
            });
        }
        Renderer::Auto if detected == Detected::Helm => {
            let options = HelmOptions {
                release_name: source.app_name.clone(),
                namespace: source.namespace.clone(),
                ..Default::default()
            };
            helm::render_from(&root, path, &options, &with.helm, &with.reading, Some(&with.charts))?
        }
        Renderer::Auto => directory::render_with(&root, path, &DirectoryOptions::default(), &with.reading)?,
    };
    Ok(objects)
}

/// The revision as the app wrote it, for `ARGOCD_APP_SOURCE_TARGET_REVISION`.
fn revision_text(reference: &Reference) -> String {
    match reference {
        Reference::Head => "HEAD".into(),
        Reference::Branch(s)
        | Reference::Tag(s)
        | Reference::Commit(s)
        | Reference::Semver(s)
        | Reference::Revision(s) => s.clone(),
    }
}
