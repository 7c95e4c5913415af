//! Integration tests of gitops-render. Table of contents:
//! - `root`: the strict loader: `..`, absolute paths, symlinks out of the repository and
//!   special files (FIFOs, sockets) are refused before anything is read; symlink loops are
//!   named shortly;
//! - `directory`: Argo CD's directory source (recurse, include, exclude, order);
//! - `helm`: charts through a real Helm engine (values precedence, namespace, CRDs, schema
//!   validation and test hooks skipped, errors,
//!   value files and every chart file confined to the repository, locally and from Git);
//! - `chart_repo`: charts from a chart repository on loopback HTTP (version ranges and
//!   prereleases, digests, the cache, basic auth, HTTPS with a CA, named errors, hostile
//!   archives, an Application rendered from one, umbrella chart dependencies from a chart
//!   repository and from an OCI registry, `passCredentials` reaching a dependency's repository);
//! - `registry`: the image registry client against a real registry (Debian's docker-registry,
//!   `GITOPS_REGISTRY`): tags paginated and capped, manifests and indexes, platforms, creation
//!   times, 404 and basic auth; bearer tokens, retries and `Retry-After` against a loopback server;
//! - `plugin`: config management plugins (environment, failures, timeouts, confinement);
//! - `app`: Argo CD Applications and Flux Kustomizations fetched from real repositories
//!   (revisions and overrides, semver refs, source ignore, plugins, charts, refusals);
//! - `post_render`: a Flux HelmRelease's `spec.postRenderers` against `kubectl kustomize` run on
//!   the kustomization helm-controller builds (patches, images, v2beta1 fields, sequences,
//!   refusals);
//! - `kustomize`: the native Kustomize renderer against `kubectl kustomize`, byte for byte,
//!   over the fixture corpus (both orders) and the error fixtures.

mod app;
mod chart_repo;
mod directory;
mod helm;
mod kustomize;
mod plugin;
mod post_render;
mod registry;
mod root;

use std::path::Path;
use std::time::Duration;

/// Writes `files` (path, content) under `dir`, creating parents.
pub fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
}

/// A ConfigMap manifest.
pub fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{a: b}}\n")
}

/// Makes a FIFO at `path` (with the `mkfifo` program: no unsafe code, no extra crate).
pub fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Runs `f` on a thread of its own and fails the test if it has not returned within `limit`:
/// a read that blocks (on a FIFO nobody writes to) fails instead of hanging the suite.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| panic!("still running after {limit:?}: it blocked"))
}
