//! Argo CD's `directory` source: the manifests of one directory of the repository.
//!
//! `recurse` (default false, as in Argo CD) descends into subdirectories; `include` and
//! `exclude` are globs over the path relative to the directory, as Argo CD matches them
//! (gobwas syntax, `*` crossing `/`, `{a,b}` alternatives): a file must match `include` when
//! it is given and must not match `exclude`. Only `.yaml`, `.yml` and `.json` files are read;
//! a `.jsonnet` file, which Argo CD renders with Jsonnet, is an error unless excluded. The
//! output is in path order.

use gitops_core::Object;
use gitops_core::glob::Glob;

use crate::root::{self, RepoRoot};

/// The `directory` section of an Argo CD Application source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryOptions {
    /// Descend into subdirectories.
    pub recurse: bool,
    /// Only files matching this glob.
    pub include: Option<String>,
    /// No file matching this glob.
    pub exclude: Option<String>,
}

/// A directory that cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path was refused or could not be read.
    #[error(transparent)]
    Path(#[from] root::Error),
    /// An include or exclude pattern is malformed.
    #[error("directory.{field}: `{pattern}` is not a valid glob: {problem}")]
    Glob {
        /// `include` or `exclude`.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// What is wrong.
        problem: String,
    },
    /// A manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] crate::Error),
    /// A Jsonnet file, which Argo CD would render and we cannot: never skipped in silence.
    #[error(
        "{path}: Jsonnet is not supported (Argo CD's directory source renders .jsonnet files); leave it out with directory.exclude"
    )]
    Jsonnet {
        /// The file, relative to the repository.
        path: String,
    },
}

fn compile(field: &'static str, pattern: &Option<String>) -> Result<Option<Glob>, Error> {
    match pattern.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => {
            Glob::new(p).map(Some).map_err(|e| Error::Glob { field, pattern: p.to_string(), problem: e.to_string() })
        }
    }
}

/// The manifest files `path` (a directory inside `root`) renders, relative to the root.
pub fn files(root: &RepoRoot, path: &str, options: &DirectoryOptions) -> Result<Vec<String>, Error> {
    let include = compile("include", &options.include)?;
    let exclude = compile("exclude", &options.exclude)?;
    let base = path.trim_matches('/');
    let base = if base == "." { "" } else { base };
    let mut out = Vec::new();
    for file in root.files(if base.is_empty() { "." } else { base }, options.recurse)? {
        let jsonnet = file.ends_with(".jsonnet");
        if !jsonnet && !crate::is_manifest_file(std::path::Path::new(&file)) {
            continue;
        }
        let relative = if base.is_empty() {
            file.as_str()
        } else {
            file.strip_prefix(base).and_then(|r| r.strip_prefix('/')).unwrap_or(&file)
        };
        if include.as_ref().is_some_and(|g| !g.matches(relative))
            || exclude.as_ref().is_some_and(|g| g.matches(relative))
        {
            continue;
        }
        if jsonnet {
            return Err(Error::Jsonnet { path: file });
        }
        out.push(file);
    }
    Ok(out)
}

/// Renders `path` (a directory inside `root`) as Argo CD's directory source does; a key given
/// twice in a manifest is an error.
pub fn render(root: &RepoRoot, path: &str, options: &DirectoryOptions) -> Result<Vec<Object>, Error> {
    render_with(root, path, options, &crate::Reading::default())
}

/// [`render`], reading manifests as `reading` says (and adding its warnings there).
pub fn render_with(
    root: &RepoRoot,
    path: &str,
    options: &DirectoryOptions,
    reading: &crate::Reading,
) -> Result<Vec<Object>, Error> {
    let files: Vec<std::path::PathBuf> = files(root, path, options)?.iter().map(|f| root.path().join(f)).collect();
    let mut out = Vec::new();
    crate::for_each_object_in_with(&files, reading, |o| {
        out.push(o);
        Ok(())
    })?;
    Ok(out)
}
