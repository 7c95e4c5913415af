//! Rendering a path on the local disk, as `gitops render PATH` does: find the repository root
//! it lies in, pick the renderer its directory calls for, and render it through that root.
//!
//! The root bounds every read (value files, bases, symlinks): without one given, it is the Git
//! work tree around the path, else the current directory when the path lies inside it (so
//! `overlays/production` may use `../../base`, as `kubectl kustomize` allows), else the path's
//! own directory. The renderer is chosen as for an app whose source names none ([`detect`]).

use std::path::{Path, PathBuf};

use gitops_core::{Object, manifest};
use serde_json::Value;

use crate::directory::{self, DirectoryOptions};
use crate::git::Cache;
use crate::helm::{self, Helm, HelmOptions};
use crate::kustomize;
use crate::regular;
use crate::root::{self, RepoRoot};

/// The renderer a directory calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// It holds a kustomization file (the name is the one found).
    Kustomize(&'static str),
    /// It holds a `Chart.yaml`.
    Helm,
    /// Neither: a directory of manifests.
    Directory,
}

/// The kustomization file in `dir`, if there is one.
pub fn kustomization_file(dir: &Path) -> Option<&'static str> {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"].into_iter().find(|n| dir.join(n).is_file())
}

/// The renderer `dir` calls for, in Argo CD's order of discovery: a kustomization file wins
/// over a `Chart.yaml`, and a directory with neither is a directory of manifests.
pub fn detect(dir: &Path) -> Detected {
    match kustomization_file(dir) {
        Some(name) => Detected::Kustomize(name),
        None if dir.join("Chart.yaml").is_file() => Detected::Helm,
        None => Detected::Directory,
    }
}

/// How [`render_path`] renders.
#[derive(Debug, Clone)]
pub struct PathOptions {
    /// The repository root; `None` finds one (see [`default_root`]).
    pub root: Option<PathBuf>,
    /// For a directory of manifests.
    pub directory: DirectoryOptions,
    /// For a chart; an empty `release_name` means the chart directory's name.
    pub helm: HelmOptions,
    /// How to run `helm template`.
    pub helm_binary: Helm,
    /// For a kustomization: the output order, `None` for its `sortOptions` (else legacy).
    pub order: Option<kustomize::Order>,
    /// For a kustomization's remote bases; without a cache they are refused by name.
    pub git: Option<Cache>,
}

impl Default for PathOptions {
    /// Argo CD's defaults, helm as [`Helm::from_env`] finds it, no Git cache.
    fn default() -> PathOptions {
        PathOptions {
            root: None,
            directory: DirectoryOptions::default(),
            helm: HelmOptions::default(),
            helm_binary: Helm::from_env(),
            order: None,
            git: None,
        }
    }
}

/// What a path rendered to.
#[derive(Debug, Clone)]
pub enum RenderedPath {
    /// Objects: from a manifest file, standard input, a directory of manifests or a chart.
    Objects(Vec<Object>),
    /// A kustomization's output, to be printed byte for byte as `kubectl kustomize` prints it
    /// (see [`kustomize::to_yaml`]).
    Kustomize(Vec<Value>),
}

/// Why a path could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path (or its directory) cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path lies outside the root given.
    #[error("{path}: not inside the repository root {root}")]
    Outside {
        /// The path.
        path: String,
        /// The root.
        root: String,
    },
    /// The root cannot be used, or a file was refused by it.
    #[error(transparent)]
    Root(#[from] root::Error),
    /// Standard input cannot be read.
    #[error(transparent)]
    Input(#[from] crate::Error),
    /// A manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// The directory of manifests cannot be rendered.
    #[error(transparent)]
    Directory(#[from] directory::Error),
    /// Helm failed.
    #[error(transparent)]
    Helm(#[from] helm::Error),
    /// Kustomize failed.
    #[error(transparent)]
    Kustomize(#[from] kustomize::Error),
}

/// The Git work tree `dir` lies in (the nearest ancestor holding `.git`), the natural root
/// for an overlay that refers to `../../base`.
fn enclosing_repository(dir: &Path) -> Option<PathBuf> {
    let start = dir.canonicalize().ok()?;
    start.ancestors().find(|a| a.join(".git").exists()).map(Path::to_path_buf)
}

/// The root directory `base` is rendered in when none is given: the Git work tree around it;
/// outside one, the current directory when `base` lies inside it, else `base` itself.
pub fn default_root(base: &Path) -> PathBuf {
    if let Some(work_tree) = enclosing_repository(base) {
        return work_tree;
    }
    let real = |p: &Path| p.canonicalize().ok();
    match (std::env::current_dir().ok().as_deref().and_then(real), real(base)) {
        (Some(cwd), Some(base_real)) if base_real.starts_with(&cwd) => cwd,
        _ => base.to_path_buf(),
    }
}

/// Renders `path`: `-` (standard input, at most [`crate::MAX_INPUT_BYTES`]), one manifest
/// file (whatever its name, as `kubectl apply -f` reads it), or a directory with the renderer
/// [`detect`] picks, reading manifests as `reading` says.
pub fn render_path(path: &str, options: &PathOptions, reading: &crate::Reading) -> Result<RenderedPath, Error> {
    if path == "-" {
        let text = crate::read_bounded(std::io::stdin().lock(), "-")?;
        return Ok(RenderedPath::Objects(reading.parse("-", &text)?));
    }
    let path = Path::new(path);
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| Error::Io { path, source }
    };
    let meta = regular::metadata(path).map_err(io(path))?;
    let (base, name) = if meta.is_dir() {
        (path.to_path_buf(), None)
    } else {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (parent.to_path_buf(), path.file_name().map(|n| n.to_string_lossy().into_owned()))
    };
    let root_dir = options.root.clone().unwrap_or_else(|| default_root(&base));
    let root = RepoRoot::new(&root_dir)?;
    let base_real = base.canonicalize().map_err(io(&base))?;
    let Ok(inside) = base_real.strip_prefix(root.path()) else {
        return Err(Error::Outside { path: path.display().to_string(), root: root.path().display().to_string() });
    };
    let mut rel: String = inside.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
    if let Some(n) = name {
        rel = if rel.is_empty() { n } else { format!("{rel}/{n}") };
    }
    let rel = if rel.is_empty() { ".".to_string() } else { rel };
    if !meta.is_dir() {
        // Named on the command line, a file is read whatever its name, as `kubectl apply -f`
        // reads it; only files met inside a directory must look like manifests (Argo CD's rule).
        // Still through the root: a symlink out of it is refused.
        let text = root.read(&rel)?;
        return Ok(RenderedPath::Objects(reading.parse(&path.display().to_string(), &text)?));
    }
    let objects = match detect(&base_real) {
        Detected::Kustomize(_) => {
            let kustomize = kustomize::Options { order: options.order, git: options.git.clone(), ..Default::default() };
            return Ok(RenderedPath::Kustomize(kustomize::build(&root, &rel, &kustomize)?));
        }
        Detected::Helm => {
            let mut helm = options.helm.clone();
            if helm.release_name.is_empty() {
                // Argo CD uses the app's name; here the chart directory's stands in for it.
                helm.release_name = base_real
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "release-name".into());
            }
            helm::render_with(&root, &rel, &helm, &options.helm_binary, reading)?
        }
        Detected::Directory => directory::render_with(&root, &rel, &options.directory, reading)?,
    };
    Ok(RenderedPath::Objects(objects))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kustomization_wins_over_a_chart() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect(dir.path()), Detected::Directory);
        std::fs::write(dir.path().join("Chart.yaml"), "name: x\n").unwrap();
        assert_eq!(detect(dir.path()), Detected::Helm);
        std::fs::write(dir.path().join("Kustomization"), "resources: []\n").unwrap();
        assert_eq!(detect(dir.path()), Detected::Kustomize("Kustomization"));
    }

    #[test]
    fn a_path_outside_the_root_given_is_refused() {
        let (root, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let options = PathOptions { root: Some(root.path().to_path_buf()), ..Default::default() };
        let e = render_path(other.path().to_str().unwrap(), &options, &crate::Reading::default()).unwrap_err();
        assert!(matches!(e, Error::Outside { .. }), "{e}");
    }
}
