//! Integration tests of gitops-render. Table of contents:
//! - `root`: the strict loader: `..`, absolute paths and symlinks out of the repository are
//!   refused before anything is read;
//! - `directory`: Argo CD's directory source (recurse, include, exclude, order);
//! - `helm`: charts through a real Helm engine (values precedence, namespace, CRDs, errors,
//!   value files confined to the repository);
//! - `plugin`: config management plugins (environment, failures, timeouts, confinement);
//! - `app`: Argo CD Applications and Flux Kustomizations fetched from real repositories
//!   (revisions and overrides, semver refs, source ignore, plugins, charts, refusals);
//! - `kustomize`: the native Kustomize renderer against `kubectl kustomize`, byte for byte,
//!   over the fixture corpus (both orders) and the error fixtures.

mod app;
mod directory;
mod helm;
mod kustomize;
mod plugin;
mod root;

use std::path::Path;

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
