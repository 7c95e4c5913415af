//! The live side of the gitops engine.
//!
//! This first layer is the read half of `FileCluster`, the embedded default target: a
//! directory that stands in for a cluster, one YAML file per object at a fixed path. The
//! write half (atomic writes, locking), the async `Cluster` trait and the kube-rs client
//! arrive with the sync issue.
//!
//! Path scheme (documented, stable): `<root>/<namespace or _cluster>/<group or core>/<Kind>/<name>.yaml`.
//!
//! ```
//! use gitops_core::ResourceKey;
//! use gitops_kube::FileCluster;
//! let c = FileCluster::new("/tmp/cluster");
//! let p = c.path_for(&ResourceKey::new("apps", "Deployment", "web", "frontend"));
//! assert!(p.ends_with("web/apps/Deployment/frontend.yaml"));
//! ```

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use gitops_core::{Object, ResourceKey, manifest};

/// Why the file cluster could not be read.
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
    /// A stored object is invalid.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// A stored file holds an object whose key does not match its path.
    #[error("{path}: holds {found}, but its path says {expected}")]
    Misplaced {
        /// The file.
        path: String,
        /// The key its path encodes.
        expected: String,
        /// The key of the object inside.
        found: String,
    },
}

/// A directory standing in for a cluster.
#[derive(Debug, Clone)]
pub struct FileCluster {
    root: PathBuf,
}

const CLUSTER_DIR: &str = "_cluster";
const CORE_DIR: &str = "core";

impl FileCluster {
    /// A file cluster rooted at `root` (created on first write, later).
    pub fn new(root: impl Into<PathBuf>) -> FileCluster {
        FileCluster { root: root.into() }
    }

    /// Where the object with this key is stored.
    pub fn path_for(&self, key: &ResourceKey) -> PathBuf {
        let ns = if key.namespace.is_empty() { CLUSTER_DIR } else { &key.namespace };
        let group = if key.group.is_empty() { CORE_DIR } else { &key.group };
        self.root.join(ns).join(group).join(&key.kind).join(format!("{}.yaml", key.name))
    }

    /// Every stored object, ordered by key. A file whose content does not match its path is
    /// an error: the path is the object's identity.
    pub fn list(&self) -> Result<Vec<Object>, Error> {
        let mut out = Vec::new();
        if !self.root.exists() {
            return Ok(out);
        }
        for ns in read_dir_sorted(&self.root)? {
            for group in read_dir_sorted(&ns)? {
                for kind in read_dir_sorted(&group)? {
                    for file in read_dir_sorted(&kind)? {
                        if file.extension().and_then(|e| e.to_str()) != Some("yaml") {
                            continue;
                        }
                        let text = std::fs::read_to_string(&file)
                            .map_err(|source| Error::Io { path: file.display().to_string(), source })?;
                        for o in manifest::parse(&file.display().to_string(), &text)? {
                            let found = o.key("");
                            let expected = self.key_of_path(&file).unwrap_or_else(|| found.clone());
                            if found != expected {
                                return Err(Error::Misplaced {
                                    path: file.display().to_string(),
                                    expected: expected.to_string(),
                                    found: found.to_string(),
                                });
                            }
                            out.push(o);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn key_of_path(&self, file: &Path) -> Option<ResourceKey> {
        let rel = file.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        let [ns, group, kind, name] = parts.as_slice() else { return None };
        let ns = if *ns == CLUSTER_DIR { "" } else { ns };
        let group = if *group == CORE_DIR { "" } else { group };
        Some(ResourceKey::new(group, kind, ns, name.strip_suffix(".yaml")?))
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |source| Error::Io { path: dir.display().to_string(), source };
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir).map_err(io)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_objects_by_path_and_checks_identity() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCluster::new(dir.path());
        let key = ResourceKey::new("", "ConfigMap", "web", "settings");
        let p = c.path_for(&key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: web}\n").unwrap();
        let ns = c.path_for(&ResourceKey::new("", "Namespace", "", "web"));
        std::fs::create_dir_all(ns.parent().unwrap()).unwrap();
        std::fs::write(&ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n").unwrap();
        let keys: Vec<String> = c.list().unwrap().iter().map(|o| o.key("").to_string()).collect();
        assert_eq!(keys, ["/Namespace//web", "/ConfigMap/web/settings"]);
        std::fs::write(&p, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: web}\n").unwrap();
        assert!(matches!(c.list(), Err(Error::Misplaced { .. })));
    }
}
