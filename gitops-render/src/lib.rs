//! The desired side of the gitops engine: where manifests come from.
//!
//! [`load`] reads plain manifests from a file, a directory (recursively) or standard input,
//! in a stable order, parsing files on all cores. [`git`] fetches repositories at a revision
//! into a cache; [`root`] is the strict loader every renderer reads through (nothing outside
//! the repository); [`directory`] is Argo CD's directory source; [`helm`] renders charts with
//! `helm template`, from a path or from a chart repository ([`chart_repo`]); [`plugin`] runs config management plugins; [`post_render`] runs a Flux HelmRelease's `spec.postRenderers` over the objects Helm rendered; [`source`] reads an Argo CD
//! Application's or a Flux Kustomization's source, and [`app`] fetches and renders it;
//! [`kustomize`] builds kustomizations natively, byte for byte as `kubectl kustomize`;
//! [`local`] renders a path on the local disk (root discovery, renderer detection), as
//! `gitops render PATH` does; [`health`] reads health script trees and runs their tests;
//! [`registry`] lists an image's tags and reads its manifests (OCI Distribution API);
//! [`notify`] sends notifications (Flux providers, Argo CD services); [`compare`] diffs two manifest streams read from paths; [`scm`] reads the pull request and
//! repository APIs of GitHub, GitLab, Gitea and Bitbucket Server for ApplicationSets; [`output`] writes rendered objects; [`regular`] opens files that are regular files, and
//! only those (a FIFO, a socket or a device is refused without blocking).
//!
//! ```no_run
//! let objects = gitops_render::load("examples/shop/desired")?;
//! println!("{} objects", objects.len());
//! # Ok::<(), gitops_render::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod action;
pub mod analysis;
pub mod app;
pub mod chart_repo;
pub mod compare;
pub mod decrypt;
pub mod directory;
pub mod git;
pub mod git_push;
pub mod health;
pub mod helm;
pub mod image_update;
pub mod kustomize;
pub mod local;
pub mod notify;
pub mod output;
pub mod plugin;
pub mod post_render;
mod process;
pub mod registry;
pub mod regular;
pub mod rollout;
pub mod root;
pub mod scm;
pub mod source;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use gitops_core::manifest::{Strictness, Warning};
use gitops_core::{Object, manifest};

/// Why manifests could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid UTF-8 text.
    #[error("{path}: not UTF-8 text")]
    NotText {
        /// The path.
        path: String,
    },
    /// An input is larger than [`MAX_INPUT_BYTES`].
    #[error("{path}: larger than {limit} MiB, the most gitops reads from one file or from standard input")]
    TooLarge {
        /// The file, or `-`.
        path: String,
        /// The limit, in MiB.
        limit: u64,
    },
    /// A manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
}

/// How manifests are read, and what reading them warned about. Shared by reference across
/// the threads that parse files; warnings gathered from all of them.
#[derive(Debug, Default)]
pub struct Reading {
    strictness: Strictness,
    warnings: Mutex<Vec<Warning>>,
}

impl Reading {
    /// A reading with duplicate keys handled as `strictness` says.
    pub fn new(strictness: Strictness) -> Reading {
        Reading { strictness, warnings: Mutex::new(Vec::new()) }
    }

    /// How duplicate keys are handled.
    pub fn strictness(&self) -> Strictness {
        self.strictness
    }

    /// The warnings so far, in the order they were given, leaving none behind.
    pub fn take_warnings(&self) -> Vec<Warning> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn add(&self, warnings: Vec<Warning>) {
        if !warnings.is_empty() {
            self.warnings.lock().unwrap_or_else(|p| p.into_inner()).extend(warnings);
        }
    }

    /// Parses `text` as this reading says, keeping its warnings.
    pub fn parse(&self, source: &str, text: &str) -> Result<Vec<Object>, manifest::Error> {
        let parsed = manifest::parse_with(source, text, self.strictness)?;
        self.add(parsed.warnings);
        Ok(parsed.objects)
    }

    fn for_each(
        &self,
        source: &str,
        text: &str,
        each: impl FnMut(Object) -> Result<(), manifest::Error>,
    ) -> Result<(), manifest::Error> {
        let warnings = manifest::for_each_with(source, text, self.strictness, each)?;
        self.add(warnings);
        Ok(())
    }
}

/// Whether a file name looks like a manifest: `.yaml`, `.yml` or `.json`.
pub fn is_manifest_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// The manifest files under `path` (itself if it is a file, whatever its name), sorted by path
/// so output order never depends on the file system. Hidden entries (`.git`, ...) are skipped;
/// a directory reached twice through symlinks is read once (so a symlink back to an ancestor
/// cannot loop); a FIFO, socket or device is refused without being opened.
pub fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| Error::Io { path, source }
    };
    let meta = regular::metadata(path).map_err(io(path))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut visited = std::collections::HashSet::new();
    visited.insert(path.canonicalize().map_err(io(path))?);
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let p = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = regular::metadata(&p).map_err(io(&p))?;
            if ft.is_dir() {
                if visited.insert(p.canonicalize().map_err(io(&p))?) {
                    stack.push(p);
                }
            } else if is_manifest_file(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The most read from one manifest file or from standard input: 256 MiB, far above any real
/// manifest set, but a bound, so that `gitops diff - < /dev/zero` ends with an error instead of
/// exhausting memory.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Reads at most [`MAX_INPUT_BYTES`] from `input` as UTF-8 text; `name` names it in errors.
pub fn read_bounded(input: impl Read, name: &str) -> Result<String, Error> {
    read_bounded_sized(input, name, 0)
}

/// [`read_bounded`] into a buffer made for `expected` bytes: a file's length, so that it is read
/// in one call and not in a series of growing ones (a `Take` hides the file's size from std).
fn read_bounded_sized(input: impl Read, name: &str, expected: u64) -> Result<String, Error> {
    let too_large = || Error::TooLarge { path: name.to_string(), limit: MAX_INPUT_BYTES >> 20 };
    if expected > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    // One byte more than expected, so that reaching the end needs no second, growing read.
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).saturating_add(1));
    input
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Io { path: name.to_string(), source })?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| Error::NotText { path: name.to_string() })
}

fn read_text(path: &Path) -> Result<String, Error> {
    let name = path.display().to_string();
    let io = |source| Error::Io { path: name.clone(), source };
    let file = regular::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    read_bounded_sized(file, &name, len)
}

/// Reads all objects from a file, a directory, or `-` (standard input); a key given twice
/// is an error.
pub fn load(path: &str) -> Result<Vec<Object>, Error> {
    load_with(path, &Reading::default())
}

/// [`load`], reading manifests as `reading` says (and adding its warnings there).
pub fn load_with(path: &str, reading: &Reading) -> Result<Vec<Object>, Error> {
    let mut out = Vec::new();
    for_each_object_with(path, reading, |o| {
        out.push(o);
        Ok(())
    })?;
    Ok(out)
}

/// Reads objects from a file, a directory, or `-`, handing each to `each` as soon as its
/// file is parsed; files are parsed on all cores and delivered in path order, so a large
/// live set never has to be held in memory at once. A key given twice is an error.
pub fn for_each_object(path: &str, each: impl FnMut(Object) -> Result<(), Error>) -> Result<(), Error> {
    for_each_object_with(path, &Reading::default(), each)
}

/// [`for_each_object`], reading manifests as `reading` says (and adding its warnings there).
pub fn for_each_object_with(
    path: &str,
    reading: &Reading,
    mut each: impl FnMut(Object) -> Result<(), Error>,
) -> Result<(), Error> {
    if path == "-" {
        let text = read_bounded(std::io::stdin().lock(), "-")?;
        return reading.for_each("-", &text, |o| each(o).map_err(|e| into_manifest_error(e, "-"))).map_err(Error::from);
    }
    let files = manifest_files(Path::new(path))?;
    for_each_object_in_with(&files, reading, each)
}

/// Reads objects from these files (already chosen and ordered), handing each to `each` in
/// file order; files are parsed on all cores. A key given twice is an error.
pub fn for_each_object_in(files: &[PathBuf], each: impl FnMut(Object) -> Result<(), Error>) -> Result<(), Error> {
    for_each_object_in_with(files, &Reading::default(), each)
}

/// [`for_each_object_in`], reading manifests as `reading` says (and adding its warnings
/// there, in file order).
pub fn for_each_object_in_with(
    files: &[PathBuf],
    reading: &Reading,
    mut each: impl FnMut(Object) -> Result<(), Error>,
) -> Result<(), Error> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len().max(1));
    if threads <= 1 {
        for f in files {
            let text = read_text(f)?;
            let name = f.display().to_string();
            reading.for_each(&name, &text, |o| each(o).map_err(|e| into_manifest_error(e, &name)))?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    // Results arrive out of order; a slot per file restores path order. The channel is
    // bounded so readers cannot run far ahead of the consumer.
    type Parsed = Result<manifest::Parsed, Error>;
    let (tx, rx) = mpsc::sync_channel::<(usize, Parsed)>(threads * 2);
    let failed = Mutex::new(false);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, failed) = (&next, &failed);
            scope.spawn(move || {
                loop {
                    if *failed.lock().unwrap_or_else(|p| p.into_inner()) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { return };
                    let result = read_text(f).and_then(|text| {
                        Ok(manifest::parse_with(&f.display().to_string(), &text, reading.strictness)?)
                    });
                    if tx.send((i, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: Vec<Option<Parsed>> = (0..files.len()).map(|_| None).collect();
        let mut cursor = 0;
        let mut outcome = Ok(());
        for (i, result) in rx {
            pending[i] = Some(result);
            while cursor < pending.len() {
                let Some(result) = pending[cursor].take() else { break };
                cursor += 1;
                let delivered = result.and_then(|parsed| {
                    reading.add(parsed.warnings);
                    parsed.objects.into_iter().try_for_each(&mut each)
                });
                if let Err(e) = delivered {
                    *failed.lock().unwrap_or_else(|p| p.into_inner()) = true;
                    outcome = Err(e);
                    break;
                }
            }
            if outcome.is_err() {
                break;
            }
        }
        outcome
    })
}

/// `manifest::for_each` wants its own error type back from the callback; carry ours
/// through it as an invalid-document error that keeps the message.
fn into_manifest_error(e: Error, source: &str) -> manifest::Error {
    match e {
        Error::Manifest(m) => m,
        other => manifest::Error::Invalid {
            source_name: source.to_string(),
            document: 0,
            line: 0,
            item: None,
            problem: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_read_recursively_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\n");
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("b/c/z.yaml"), cm("z")).unwrap();
        std::fs::write(dir.path().join("a.yml"), cm("a")).unwrap();
        std::fs::write(
            dir.path().join("b/m.json"),
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"m\"}}",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "# not a manifest").unwrap();
        std::fs::write(dir.path().join(".git/x.yaml"), "not: [valid").unwrap();
        for _ in 0..5 {
            let names: Vec<String> =
                load(dir.path().to_str().unwrap()).unwrap().iter().map(|o| o.name().to_string()).collect();
            assert_eq!(names, ["a", "z", "m"], "sorted by path: b/c/z.yaml before b/m.json");
        }
    }

    #[test]
    fn special_files_are_refused_and_symlinked_directories_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\n");
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/x.yaml"), cm("x")).unwrap();
        // A symlink back to an ancestor, and a second way into `a`.
        std::os::unix::fs::symlink("..", dir.path().join("a/up")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let names: Vec<String> =
            load(dir.path().to_str().unwrap()).unwrap().iter().map(|o| o.name().to_string()).collect();
        assert_eq!(names, ["x"]);
        let fifo = dir.path().join("pipe.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let (tx, rx) = std::sync::mpsc::channel();
        let (d, f) = (dir.path().to_str().unwrap().to_string(), fifo.to_str().unwrap().to_string());
        std::thread::spawn(move || {
            let _ = tx.send((load(&d).map(|_| ()), load(&f).map(|_| ())));
        });
        let (in_dir, named) = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("blocked on the FIFO");
        for e in [in_dir.unwrap_err(), named.unwrap_err()] {
            assert_eq!(e.to_string(), format!("{}: is a FIFO, not a regular file", fifo.display()));
        }
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yaml"), "apiVersion: v1\nkind: ConfigMap\n").unwrap();
        std::fs::write(dir.path().join("ok.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").unwrap();
        let e = load(dir.path().to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("bad.yaml: document 1 (line 1): missing `metadata.name`"), "{e}");
        let e = load(dir.path().join("nope").to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("nope: No such file"), "{e}");
    }
}
