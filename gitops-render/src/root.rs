//! The one strict file loader every renderer goes through: a repository root, and paths
//! resolved inside it.
//!
//! Rendering is where GitOps tools have had their worst holes (Argo CD's 2022 advisories:
//! Helm value files read outside the repository, symlinks pointing out of it). Here a path
//! given by a manifest, an Application or a plugin is refused, with a clear error and before
//! anything is read, when it is absolute, when `..` climbs out of the root, or when a
//! symlink on the way (file or directory) points out of it. Symlinks that stay inside the
//! repository are followed.

use std::path::{Component, Path, PathBuf};

/// A path that may not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The root itself cannot be used.
    #[error("{root}: cannot use as a repository root: {source}")]
    Root {
        /// The root given.
        root: String,
        /// Why.
        source: std::io::Error,
    },
    /// An absolute path where a repository path is expected.
    #[error("{path}: absolute paths are not allowed; give a path inside the repository")]
    Absolute {
        /// The path as given.
        path: String,
    },
    /// `..` leaves the repository.
    #[error("{path}: leaves the repository root")]
    Escapes {
        /// The path as given.
        path: String,
    },
    /// A symlink on the way points out of the repository.
    #[error("{path}: a symlink points outside the repository (to {target})")]
    Symlink {
        /// The path as given.
        path: String,
        /// Where it leads.
        target: String,
    },
    /// The path cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A repository checked out on disk.
#[derive(Debug, Clone)]
pub struct RepoRoot {
    /// The root, canonical (symlinks resolved), so containment is a prefix test.
    root: PathBuf,
    /// Flux's source ignore rules: paths they match are not part of the source.
    ignore: Option<ignore::gitignore::Gitignore>,
}

impl RepoRoot {
    /// A root at `dir` (which must exist).
    pub fn new(dir: impl AsRef<Path>) -> Result<RepoRoot, Error> {
        let dir = dir.as_ref();
        let root = dir.canonicalize().map_err(|source| Error::Root { root: dir.display().to_string(), source })?;
        Ok(RepoRoot { root, ignore: None })
    }

    /// Applies Flux's source ignore rules (`.sourceignore` syntax, which is gitignore's):
    /// Flux's defaults (VCS directories, common binary files), every `.sourceignore` file in
    /// the repository (each for its own directory), then `extra` (a GitRepository's
    /// `spec.ignore`, which Flux puts last so it can override). Ignored files are left out of
    /// listings and cannot be read.
    pub fn with_source_ignore(mut self, extra: Option<&str>) -> Result<RepoRoot, Error> {
        let mut b = ignore::gitignore::GitignoreBuilder::new(&self.root);
        let bad =
            |e: ignore::Error| Error::Io { path: ".sourceignore".into(), source: std::io::Error::other(e.to_string()) };
        for line in [
            ".git/",
            ".gitignore",
            ".gitmodules",
            ".gitattributes",
            "*.jpg",
            "*.jpeg",
            "*.gif",
            "*.png",
            "*.wmv",
            "*.flv",
            "*.tar.gz",
            "*.zip",
        ] {
            b.add_line(None, line).map_err(bad)?;
        }
        let mut found: Vec<PathBuf> = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != ".git" {
                    stack.push(p);
                } else if e.file_name() == ".sourceignore" {
                    found.push(p);
                }
            }
        }
        found.sort();
        for f in found {
            if let Some(e) = b.add(&f) {
                return Err(bad(e));
            }
        }
        for line in extra.unwrap_or("").lines() {
            b.add_line(None, line).map_err(bad)?;
        }
        self.ignore = Some(b.build().map_err(bad)?);
        Ok(self)
    }

    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        self.ignore.as_ref().is_some_and(|g| g.matched_path_or_any_parents(path, is_dir).is_ignore())
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Resolves a path relative to the root (`/`-separated, as written in a manifest) to the
    /// file or directory it names, refusing anything that leaves the root.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, Error> {
        let given = Path::new(rel);
        if given.is_absolute() || rel.starts_with('/') || rel.starts_with('\\') {
            return Err(Error::Absolute { path: rel.to_string() });
        }
        // Lexically first: `a/../../b` is refused even when `a` does not exist.
        let mut depth = 0usize;
        for c in given.components() {
            match c {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::ParentDir if depth == 0 => return Err(Error::Escapes { path: rel.to_string() }),
                Component::ParentDir => depth -= 1,
                Component::RootDir | Component::Prefix(_) => return Err(Error::Absolute { path: rel.to_string() }),
            }
        }
        let joined = self.root.join(given);
        let real = joined.canonicalize().map_err(|source| Error::Io { path: rel.to_string(), source })?;
        if !real.starts_with(&self.root) {
            return Err(Error::Symlink { path: rel.to_string(), target: real.display().to_string() });
        }
        if real != self.root && self.ignored(&real, real.is_dir()) {
            let source =
                std::io::Error::new(std::io::ErrorKind::NotFound, "excluded from the source by its ignore rules");
            return Err(Error::Io { path: rel.to_string(), source });
        }
        Ok(real)
    }

    /// Reads a text file inside the root.
    pub fn read(&self, rel: &str) -> Result<String, Error> {
        let path = self.resolve(rel)?;
        std::fs::read_to_string(&path).map_err(|source| Error::Io { path: rel.to_string(), source })
    }

    /// The files under directory `rel` (itself included if it is a file), sorted by path,
    /// relative to the root with `/` separators; `recurse` descends into subdirectories.
    /// Hidden entries (`.git`, ...) are skipped; a symlink leading out of the root, to a file
    /// or a directory, is an error.
    pub fn files(&self, rel: &str, recurse: bool) -> Result<Vec<String>, Error> {
        let start = self.resolve(rel)?;
        let rel_of = |p: &Path| {
            p.strip_prefix(&self.root)
                .unwrap_or(p)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        };
        if start.is_file() {
            return Ok(vec![rel_of(&start)]);
        }
        let mut out = Vec::new();
        let mut visited = std::collections::HashSet::new();
        visited.insert(start.clone());
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let io = |source| Error::Io { path: rel_of(&dir), source };
            for entry in std::fs::read_dir(&dir).map_err(io)? {
                let entry = entry.map_err(|source| Error::Io { path: rel_of(&dir), source })?;
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                let path = entry.path();
                if self.ignored(&path, entry.file_type().is_ok_and(|t| t.is_dir())) {
                    continue;
                }
                let shown = rel_of(&path);
                let real = path.canonicalize().map_err(|source| Error::Io { path: shown.clone(), source })?;
                if !real.starts_with(&self.root) {
                    return Err(Error::Symlink { path: shown, target: real.display().to_string() });
                }
                if real.is_dir() {
                    // A directory reached twice (a symlink inside the root to another part of
                    // it, or to an ancestor) is walked once, so a cycle cannot loop.
                    if recurse && visited.insert(real) {
                        stack.push(path);
                    }
                } else {
                    out.push(shown);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
