//! The one strict file loader every renderer goes through: a repository root, and paths
//! resolved inside it.
//!
//! Rendering is where GitOps tools have had their worst holes (Argo CD's 2022 advisories:
//! Helm value files read outside the repository, symlinks pointing out of it). Here a path
//! given by a manifest, an Application or a plugin is refused, with a clear error and before
//! anything is read, when it is absolute, when `..` climbs out of the root, or when a
//! symlink on the way (file or directory) points out of it. Symlinks that stay inside the
//! repository are followed. Anything that is not a regular file or a directory (a FIFO, a
//! socket, a device) is refused before it is opened, so a hostile tree cannot make a read
//! block, and a symlink loop is named as the loop.
//!
//! Programs that read a tree on their own (helm) are not handed the repository: they get a
//! private copy made by [`RepoRoot::copy_tree`], in which every file went through these checks
//! and in-repository symlinks became plain files, so nothing they follow can lead out, and
//! nothing can change between our check and their read.

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::regular::{self, NotRegular};

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
    #[error("{path}: leaves the repository root {root}{hint}")]
    Escapes {
        /// The path as given.
        path: String,
        /// The root it leaves: a directory, or a repository and its commit.
        root: String,
        /// How to widen it, for a local root.
        hint: &'static str,
    },
    /// A symlink on the way points out of the repository.
    #[error("{path}: a symlink points outside the repository root {root} (to {target})")]
    Symlink {
        /// The path as given.
        path: String,
        /// Where it leads.
        target: String,
        /// The root it leaves.
        root: String,
    },
    /// A FIFO, a socket or a device where a file or directory is expected.
    #[error("{path}: is {what}, not a regular file")]
    Special {
        /// The path as given.
        path: String,
        /// What it is: "a FIFO", "a socket", "a character device", "a block device".
        what: &'static str,
    },
    /// A directory that leads back to one of the directories it is in (a symlink to an
    /// ancestor), met where the tree has to be walked in full.
    #[error("directory cycle through {path} (it leads back to {target})")]
    Cycle {
        /// The directory (a symlink), relative to the root.
        path: String,
        /// The ancestor it leads back to, relative to the root.
        target: String,
    },
    /// A tree too large to copy.
    #[error("{path}: too large to copy (more than {limit})")]
    TooLarge {
        /// The directory being copied, relative to the root.
        path: String,
        /// The limit it went past.
        limit: String,
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

/// An I/O error met on `path`: a [`NotRegular`] it carries becomes [`Error::Special`].
fn io_error(path: &str, source: io::Error) -> Error {
    match NotRegular::of(&source) {
        Some(NotRegular { what }) => Error::Special { path: path.to_string(), what },
        None => Error::Io { path: path.to_string(), source },
    }
}

/// How much [`RepoRoot::copy_tree`] copies at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of file content.
    pub bytes: u64,
    /// Files and directories.
    pub entries: usize,
}

/// A file or directory met by [`RepoRoot::walk`].
struct Met<'a> {
    /// Its path below the directory walked, `/`-separated.
    below: &'a str,
    /// Its path relative to the root, for messages.
    shown: &'a str,
    /// Its real path (symlinks resolved; inside the root).
    real: &'a Path,
    /// Whether it is a directory (else a regular file).
    dir: bool,
}

/// A repository checked out on disk.
#[derive(Debug, Clone)]
pub struct RepoRoot {
    /// The root, canonical (symlinks resolved), so containment is a prefix test.
    root: PathBuf,
    /// The root as errors name it: the directory, or the repository and commit it was fetched
    /// at (never the cache directory, which means nothing to the user).
    shown: String,
    /// Whether the root is a local directory the user chose, which `--root` can widen.
    local: bool,
    /// Flux's source ignore rules: paths they match are not part of the source.
    ignore: Option<ignore::gitignore::Gitignore>,
}

impl RepoRoot {
    /// The root as a fetched repository: errors name `url` at `commit`, not the directory.
    pub fn fetched(mut self, url: &str, commit: &str) -> RepoRoot {
        self.shown = format!("{url} at {commit}");
        self.local = false;
        self
    }

    /// A root at `dir` (which must exist).
    pub fn new(dir: impl AsRef<Path>) -> Result<RepoRoot, Error> {
        let dir = dir.as_ref();
        let root = dir.canonicalize().map_err(|source| Error::Root { root: dir.display().to_string(), source })?;
        Ok(RepoRoot { shown: root.display().to_string(), root, local: true, ignore: None })
    }

    /// Applies Flux's source ignore rules (`.sourceignore` syntax, which is gitignore's):
    /// Flux's defaults (VCS directories, common binary files) and this engine's own state
    /// directory (`.gitops/`, where statuses and the default directory cluster are kept beside
    /// an app file: a Flux path holding the app file must not read its own target back as
    /// manifests), every `.sourceignore` file in
    /// the repository (each for its own directory), then `extra` (a GitRepository's
    /// `spec.ignore`, which Flux puts last so it can override). Ignored files are left out of
    /// listings and cannot be read.
    pub fn with_source_ignore(mut self, extra: Option<&str>) -> Result<RepoRoot, Error> {
        let mut b = ignore::gitignore::GitignoreBuilder::new(&self.root);
        let bad =
            |e: ignore::Error| Error::Io { path: ".sourceignore".into(), source: std::io::Error::other(e.to_string()) };
        for line in [
            ".git/",
            ".gitops/",
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
            // Read as any repository file is (a `.sourceignore` that is a FIFO, or a symlink
            // out of the repository, is refused), then handed over line by line as
            // `GitignoreBuilder::add` would.
            let rel = self.relative(&f);
            let text = self.read(&rel)?;
            for line in text.lines() {
                b.add_line(Some(f.clone()), line).map_err(bad)?;
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

    /// `path` (below the root) relative to the root, with `/` separators.
    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
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
                Component::ParentDir if depth == 0 => {
                    let hint = if self.local { " (a wider root can be given with --root)" } else { "" };
                    return Err(Error::Escapes { path: rel.to_string(), root: self.shown.clone(), hint });
                }
                Component::ParentDir => depth -= 1,
                Component::RootDir | Component::Prefix(_) => return Err(Error::Absolute { path: rel.to_string() }),
            }
        }
        let joined = self.root.join(given);
        let real = joined.canonicalize().map_err(|e| io_error(rel, regular::explain_loop(&joined, e)))?;
        if !real.starts_with(&self.root) {
            return Err(Error::Symlink {
                path: rel.to_string(),
                target: real.display().to_string(),
                root: self.shown.clone(),
            });
        }
        let meta = regular::metadata(&real).map_err(|e| io_error(rel, e))?;
        if real != self.root && self.ignored(&real, meta.is_dir()) {
            let source =
                std::io::Error::new(std::io::ErrorKind::NotFound, "excluded from the source by its ignore rules");
            return Err(Error::Io { path: rel.to_string(), source });
        }
        Ok(real)
    }

    /// Reads a text file inside the root.
    pub fn read(&self, rel: &str) -> Result<String, Error> {
        let path = self.resolve(rel)?;
        let bytes = regular::open_with(&path, true).and_then(|mut f| {
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut f, &mut bytes).map(|_| bytes)
        });
        let bytes = bytes.map_err(|e| io_error(rel, e))?;
        String::from_utf8(bytes).map_err(|_| Error::Io {
            path: rel.to_string(),
            source: io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"),
        })
    }

    /// Opens a regular file inside the root for reading.
    pub fn open(&self, rel: &str) -> Result<File, Error> {
        let path = self.resolve(rel)?;
        regular::open_with(&path, true).map_err(|e| io_error(rel, e))
    }

    /// The files under directory `rel` (itself included if it is a file), sorted by path,
    /// relative to the root with `/` separators; `recurse` descends into subdirectories.
    /// Hidden entries (`.git`, ...) are skipped; a symlink leading out of the root, to a file
    /// or a directory, is an error.
    pub fn files(&self, rel: &str, recurse: bool) -> Result<Vec<String>, Error> {
        self.collect(rel, recurse, &|_| true)
    }

    /// The files under directory `rel` whose name is one of `names`, found as [`RepoRoot::files`]
    /// finds files when recursing: only those files (and directories, to descend into them)
    /// are checked, so another file that a symlink leads out of the root, or a FIFO, does not
    /// stop the walk, as it is never read.
    pub fn files_named(&self, rel: &str, names: &[&str]) -> Result<Vec<String>, Error> {
        self.collect(rel, true, &|name| names.contains(&name))
    }

    /// [`RepoRoot::files`], keeping the files whose name `keep` accepts.
    fn collect(&self, rel: &str, recurse: bool, keep: &dyn Fn(&str) -> bool) -> Result<Vec<String>, Error> {
        let start = self.resolve(rel)?;
        if start.is_file() {
            return Ok(vec![self.relative(&start)]);
        }
        let mut out = Vec::new();
        let mut visited = std::collections::HashSet::new();
        visited.insert(start.clone());
        let mut stack = vec![start];
        // Directories reached through a symlink, walked once every real directory has been:
        // a directory reached twice (a symlink inside the root to another part of it, or to an
        // ancestor) is walked once, so a cycle cannot loop, and under its own name.
        let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
        loop {
            while let Some(dir) = stack.pop() {
                for (path, is_dir) in self.entries(&dir)? {
                    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                    if name.starts_with('.') || self.ignored(&path, is_dir) {
                        continue;
                    }
                    // A file left out is never read, so it needs no check; a directory (perhaps
                    // through a symlink) is checked before it is entered.
                    if !keep(&name) && !std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                        continue;
                    }
                    let shown = self.relative(&path);
                    let (real, meta) = self.inside(&path, &shown)?;
                    if !meta.is_dir() {
                        out.push(shown);
                    } else if recurse && is_dir {
                        if visited.insert(real) {
                            stack.push(path);
                        }
                    } else if recurse {
                        links.push((path, real));
                    }
                }
            }
            if links.is_empty() {
                break;
            }
            links.sort();
            for (path, real) in std::mem::take(&mut links) {
                if visited.insert(real) {
                    stack.push(path);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The entries of `dir` in name order (so the first error met is always the same one),
    /// each with whether it is a directory itself (not through a symlink).
    fn entries(&self, dir: &Path) -> Result<Vec<(PathBuf, bool)>, Error> {
        let io = |source| Error::Io { path: self.relative(dir), source };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            out.push((entry.path(), entry.file_type().is_ok_and(|t| t.is_dir())));
        }
        out.sort();
        Ok(out)
    }

    /// The real path and metadata of `path` (met walking the root; `shown` names it): refused
    /// when it leads out of the root or is not a regular file or directory.
    fn inside(&self, path: &Path, shown: &str) -> Result<(PathBuf, std::fs::Metadata), Error> {
        let real = path.canonicalize().map_err(|e| io_error(shown, regular::explain_loop(path, e)))?;
        if !real.starts_with(&self.root) {
            return Err(Error::Symlink {
                path: shown.to_string(),
                target: real.display().to_string(),
                root: self.shown.clone(),
            });
        }
        let meta = regular::metadata(&real).map_err(|e| io_error(shown, e))?;
        Ok((real, meta))
    }

    /// Walks directory `rel` in full, hidden entries included (only `.git` and what the source
    /// ignore rules leave out are skipped), handing every file and directory to `visit`,
    /// parents before children. Refuses, naming the path, a symlink out of the root, a special
    /// file, a symlink loop, and a directory that leads back to one it is in (a copy of it
    /// would never end, and helm would walk it without end).
    fn walk(&self, rel: &str, visit: &mut dyn FnMut(Met<'_>) -> Result<(), Error>) -> Result<(), Error> {
        let start = self.resolve(rel)?;
        if !start.is_dir() {
            return Err(Error::Io { path: rel.to_string(), source: io::Error::from_raw_os_error(libc::ENOTDIR) });
        }
        // Walked by the names the repository shows (symlinks kept), so errors name those. With
        // `..` in `rel` those names could lead elsewhere than the resolved directory (`link/..`
        // is the link's target's parent), so then the resolved directory itself is walked.
        let base = if rel.split('/').any(|c| c == "..") {
            start.clone()
        } else {
            rel.split('/').filter(|c| !c.is_empty() && *c != ".").fold(self.root.clone(), |p, c| p.join(c))
        };
        // Each directory still to walk: its path, its path below `rel`, and the real
        // directories from `rel` down to it (a cycle is one of them met again).
        let mut stack = vec![(base, String::new(), vec![start])];
        while let Some((dir, below, chain)) = stack.pop() {
            for (path, is_dir) in self.entries(&dir)? {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name == ".git" || self.ignored(&path, is_dir) {
                    continue;
                }
                let shown = self.relative(&path);
                let sub = if below.is_empty() { name } else { format!("{below}/{name}") };
                let (real, meta) = self.inside(&path, &shown)?;
                if meta.is_dir() {
                    if chain.contains(&real) {
                        return Err(Error::Cycle { path: shown, target: self.relative(&real) });
                    }
                    visit(Met { below: &sub, shown: &shown, real: &real, dir: true })?;
                    let mut chain = chain.clone();
                    chain.push(real);
                    stack.push((path, sub, chain));
                } else {
                    visit(Met { below: &sub, shown: &shown, real: &real, dir: false })?;
                }
            }
        }
        Ok(())
    }

    /// Walks directory `rel` in Go's `filepath.Walk` order: depth first, the entries of each
    /// directory in name order, a directory's contents right after it. Hidden entries are
    /// walked (`.git` and what the source ignore rules leave out are not); a symlink is not
    /// followed into a directory, as `Walk` does not (reading a file through [`RepoRoot::read`]
    /// keeps it inside the root). `visit` gets each entry's path relative to `rel` and whether it is a directory;
    /// returning `false` for a directory skips its contents.
    pub fn walk_in_order(
        &self,
        rel: &str,
        visit: &mut dyn FnMut(&str, bool) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let start = self.resolve(rel)?;
        if !start.is_dir() {
            return Err(Error::Io { path: rel.to_string(), source: io::Error::from_raw_os_error(libc::ENOTDIR) });
        }
        self.walk_dir(&start, "", visit)
    }

    fn walk_dir(
        &self,
        dir: &Path,
        below: &str,
        visit: &mut dyn FnMut(&str, bool) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        for (path, is_dir) in self.entries(dir)? {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name == ".git" || self.ignored(&path, is_dir) {
                continue;
            }
            let sub = if below.is_empty() { name } else { format!("{below}/{name}") };
            if visit(&sub, is_dir)? && is_dir {
                self.walk_dir(&path, &sub, visit)?;
            }
        }
        Ok(())
    }

    /// Checks every file and directory below directory `rel` as [`RepoRoot::copy_tree`] would
    /// copy them, reading nothing: for programs that are run in a directory of the repository
    /// and read it on their own (plugins).
    pub fn check_tree(&self, rel: &str) -> Result<(), Error> {
        self.walk(rel, &mut |_| Ok(()))
    }

    /// Copies directory `rel` into `dest` (created; it must not exist), through the same
    /// checks as every read: symlinks that stay inside the repository are copied as the files
    /// and directories they lead to, and anything leading out of it, a special file, a symlink
    /// loop or a directory cycle is refused, naming the path. Hidden files are copied (a
    /// chart's `.helmignore`); `.git` and what the source ignore rules leave out are not.
    /// Stops with [`Error::TooLarge`] past `limits`.
    pub fn copy_tree(&self, rel: &str, dest: &Path, limits: Limits) -> Result<(), Error> {
        let out = |path: &Path| {
            let shown = path.display().to_string();
            move |source| Error::Io { path: shown, source }
        };
        std::fs::create_dir_all(dest.parent().unwrap_or(dest)).map_err(out(dest))?;
        std::fs::create_dir(dest).map_err(out(dest))?;
        let (mut bytes, mut entries) = (0u64, 0usize);
        let too_large = |limit: String| Error::TooLarge { path: rel.to_string(), limit };
        self.walk(rel, &mut |met| {
            entries += 1;
            if entries > limits.entries {
                return Err(too_large(format!("{} files and directories", limits.entries)));
            }
            let to = dest.join(met.below);
            if met.dir {
                return std::fs::create_dir(&to).map_err(out(&to));
            }
            let from = regular::open_with(met.real, true).map_err(|e| io_error(met.shown, e))?;
            let mut target = File::create_new(&to).map_err(out(&to))?;
            // One byte past what is left tells "exactly at the limit" from "over it".
            let left = limits.bytes - bytes;
            let copied =
                io::copy(&mut io::Read::take(from, left + 1), &mut target).map_err(|e| io_error(met.shown, e))?;
            if copied > left {
                return Err(too_large(format!("{} MiB", limits.bytes >> 20)));
            }
            bytes += copied;
            Ok(())
        })
    }
}
