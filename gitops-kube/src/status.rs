//! Where an app's status is kept between passes, per target: one JSON file per app in a
//! directory, so that `gitops status` and the apps that depend on it (Flux's `dependsOn`) read
//! what the last pass left.
//!
//! - a FileCluster keeps it with its objects: `<root>/.status/<app>.json`;
//! - for a Kubernetes cluster it is kept beside the app file, per kubeconfig context:
//!   `<app dir>/.gitops/status/kube-<context>/<app>.json`.
//!
//! The app file's directory is usually a repository, which can commit a symlink where these
//! files go and lead writes anywhere: no link on the way is followed.

use std::path::{Path, PathBuf};

use gitops_core::sync::status::Status;

use crate::file_cluster::{self, FileCluster};

/// A status that cannot be found, read or kept.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The FileCluster's status file is unusable (a symlink on the way, an invalid app name,
    /// unreadable JSON).
    #[error(transparent)]
    File(#[from] file_cluster::Error),
    /// A part of the path to a kube target's status is a symlink.
    #[error("{}: is a symlink; gitops does not follow links to its status", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A part of a default place beside the app file is a symlink.
    #[error(
        "{}: is a symlink; gitops does not follow links at its default target (pass --target dir:PATH)",
        path.display()
    )]
    DefaultSymlink {
        /// The link.
        path: PathBuf,
    },
    /// The app's name cannot be a file name.
    #[error("app {app:?}: {problem}")]
    Name {
        /// The name.
        app: String,
        /// Why.
        problem: String,
    },
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// `<app dir>/.gitops/<leaf>`, the default place of a target or of kube status, refused when a
/// part of it is a symlink. A target chosen with `--target dir:PATH` is trusted instead.
pub fn beside_app(app_dir: &Path, leaf: &str) -> Result<PathBuf, Error> {
    let dir = app_dir.join(".gitops");
    for p in [dir.clone(), dir.join(leaf)] {
        if is_symlink(&p) {
            return Err(Error::DefaultSymlink { path: p });
        }
    }
    Ok(dir.join(leaf))
}

/// Where the statuses of the apps of one target are kept.
#[derive(Debug, Clone)]
pub enum StatusStore {
    /// In a FileCluster's directory: `<root>/.status/<app>.json`.
    FileCluster(FileCluster),
    /// Beside the app file, for a Kubernetes cluster: `<dir>/kube-<context>/<app>.json`, the
    /// context's characters other than letters, digits, `-`, `_` and `.` replaced by `_`.
    Beside {
        /// `<app dir>/.gitops/status` (see [`beside_app`]).
        dir: PathBuf,
        /// The kubeconfig context.
        context: String,
    },
}

impl StatusStore {
    /// The status file of the app whose [`AppSpec::status_name`] is `app`; that is checked
    /// ([`gitops_core::app::check_status_name`]), so the path stays inside the store.
    ///
    /// [`AppSpec::status_name`]: gitops_core::app::AppSpec::status_name
    pub fn path(&self, app: &str) -> Result<PathBuf, Error> {
        match self {
            StatusStore::FileCluster(cluster) => Ok(crate::reconcile::status_path(cluster, app)?),
            StatusStore::Beside { dir, context } => {
                gitops_core::app::check_status_name(app)
                    .map_err(|e| Error::Name { app: app.to_string(), problem: e.to_string() })?;
                let context: String = context
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                    .collect();
                let dir = dir.join(format!("kube-{context}"));
                let file = dir.join(format!("{app}.json"));
                for p in [&dir, &file] {
                    if is_symlink(p) {
                        return Err(Error::Symlink { path: p.clone() });
                    }
                }
                Ok(file)
            }
        }
    }

    /// The status the last pass of the app whose status name is `app` left, if any.
    pub fn read(&self, app: &str) -> Result<Option<Status>, Error> {
        Ok(crate::reconcile::read_status(&self.path(app)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_statuses_are_kept_per_context_beside_the_app() {
        let store = StatusStore::Beside { dir: PathBuf::from("app/.gitops/status"), context: "admin@prod:1".into() };
        assert_eq!(store.path("shop").unwrap(), Path::new("app/.gitops/status/kube-admin_prod_1/shop.json"));
        assert!(store.path("../x").is_err());
        assert_eq!(
            store.path("kustomization_flux-system_apps").unwrap(),
            Path::new("app/.gitops/status/kube-admin_prod_1/kustomization_flux-system_apps.json")
        );
        for bad in ["x_../y_z", "application_a_b_c", "pod_ns_name", "application__x", "_x"] {
            assert!(store.path(bad).is_err(), "{bad}");
        }
        let store = StatusStore::FileCluster(FileCluster::new("c"));
        assert_eq!(store.path("shop").unwrap(), Path::new("c/.status/shop.json"));
    }
}
