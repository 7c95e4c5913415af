//! A FileCluster as a fleet's hub: the cluster Argo CD and Flux run in, so it serves their kinds.
//!
//! A real hub has the controllers' CustomResourceDefinitions installed before any app arrives;
//! a FileCluster refuses objects of kinds whose CRD it does not hold (as a server would), so a
//! hub directory gets these CRDs, once, before the root app is synced into it. Their schemas
//! keep every field (the controllers' own validation is theirs, not the hub's).

use serde_json::{Value, json};

use crate::file_cluster::{Error, FileCluster};
use gitops_core::{Object, object::Origin};

/// The kinds a hub serves: `(group, kind, plural, versions served, the newest first)`.
pub const CONTROLLER_KINDS: &[(&str, &str, &str, &[&str])] = &[
    ("argoproj.io", "Application", "applications", &["v1alpha1"]),
    ("argoproj.io", "ApplicationSet", "applicationsets", &["v1alpha1"]),
    ("argoproj.io", "AppProject", "appprojects", &["v1alpha1"]),
    ("kustomize.toolkit.fluxcd.io", "Kustomization", "kustomizations", &["v1", "v1beta2"]),
    ("source.toolkit.fluxcd.io", "GitRepository", "gitrepositories", &["v1", "v1beta2"]),
    ("source.toolkit.fluxcd.io", "OCIRepository", "ocirepositories", &["v1", "v1beta2"]),
    ("source.toolkit.fluxcd.io", "HelmRepository", "helmrepositories", &["v1", "v1beta2"]),
    ("source.toolkit.fluxcd.io", "HelmChart", "helmcharts", &["v1", "v1beta2"]),
    ("helm.toolkit.fluxcd.io", "HelmRelease", "helmreleases", &["v2", "v2beta2"]),
    ("image.toolkit.fluxcd.io", "ImageRepository", "imagerepositories", &["v1beta2", "v1"]),
    ("image.toolkit.fluxcd.io", "ImagePolicy", "imagepolicies", &["v1beta2", "v1"]),
    ("image.toolkit.fluxcd.io", "ImageUpdateAutomation", "imageupdateautomations", &["v1beta2", "v1"]),
];

/// The CRD of one controller kind: namespaced, every version served, the first stored, a
/// schema that keeps unknown fields and a status subresource.
pub fn controller_crd(group: &str, kind: &str, plural: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({
                "name": v, "served": true, "storage": i == 0,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}},
            })
        })
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural, "singular": kind.to_ascii_lowercase()},
            "versions": versions,
        },
    })
}

/// Installs the [`CONTROLLER_KINDS`] CRDs the hub does not hold yet, under its lock; returns the
/// names of those installed (none when all were there, so a second run writes nothing).
pub fn install_controller_crds(hub: &FileCluster) -> Result<Vec<String>, Error> {
    let lock = hub.lock()?;
    let mut installed = Vec::new();
    for (group, kind, plural, versions) in CONTROLLER_KINDS {
        let crd = Object::new(controller_crd(group, kind, plural, versions), Origin::inline("hub"));
        if hub.get(&crd.key(""))?.is_none() {
            hub.apply(&lock, &crd)?;
            installed.push(crd.name().to_string());
        }
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_serves_the_controllers_kinds_once_installed_and_installs_them_once() {
        let dir = tempfile::tempdir().unwrap();
        let hub = FileCluster::new(dir.path());
        assert!(hub.serves("argoproj.io", "Application").unwrap().is_none(), "not before");
        let first = install_controller_crds(&hub).unwrap();
        assert_eq!(first.len(), CONTROLLER_KINDS.len());
        assert!(first.contains(&"kustomizations.kustomize.toolkit.fluxcd.io".to_string()));
        assert!(hub.serves("argoproj.io", "Application").unwrap().is_some());
        assert!(hub.serves("helm.toolkit.fluxcd.io", "HelmRelease").unwrap().is_some());
        assert!(install_controller_crds(&hub).unwrap().is_empty(), "the second time writes nothing");
    }
}
