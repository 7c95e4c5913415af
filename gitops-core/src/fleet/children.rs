//! Apps produced by apps: the Argo CD Applications and ApplicationSets and the Flux
//! Kustomizations, sources and HelmReleases among the objects an app rendered (App-of-Apps).
//!
//! Argo CD reconciles Applications and ApplicationSets only in its own namespace unless told
//! otherwise (`application.namespaces`), so one rendered elsewhere is reported, not counted.
//! Flux reconciles its objects in every namespace.

use std::fmt;

use crate::{Object, ResourceKey};

/// The namespace Argo CD runs in and reconciles Applications in by default.
pub const DEFAULT_CONTROLLER_NAMESPACE: &str = "argocd";

/// The kinds of app-like objects one app can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChildKind {
    /// `argoproj.io` `Application`.
    Application,
    /// `argoproj.io` `ApplicationSet`.
    ApplicationSet,
    /// `kustomize.toolkit.fluxcd.io` `Kustomization`.
    Kustomization,
    /// `helm.toolkit.fluxcd.io` `HelmRelease`.
    HelmRelease,
    /// `source.toolkit.fluxcd.io` `GitRepository`.
    GitRepository,
    /// `source.toolkit.fluxcd.io` `OCIRepository`.
    OciRepository,
    /// `source.toolkit.fluxcd.io` `HelmRepository`.
    HelmRepository,
}

impl ChildKind {
    /// Every kind, in declaration order.
    pub const ALL: [ChildKind; 7] = [
        ChildKind::Application,
        ChildKind::ApplicationSet,
        ChildKind::Kustomization,
        ChildKind::HelmRelease,
        ChildKind::GitRepository,
        ChildKind::OciRepository,
        ChildKind::HelmRepository,
    ];

    /// The kind of an object of this API group and kind, if it is one of these.
    pub fn of(group: &str, kind: &str) -> Option<ChildKind> {
        ChildKind::ALL.into_iter().find(|k| k.group() == group && k.kind() == kind)
    }

    /// The API group.
    pub fn group(self) -> &'static str {
        match self {
            ChildKind::Application | ChildKind::ApplicationSet => "argoproj.io",
            ChildKind::Kustomization => "kustomize.toolkit.fluxcd.io",
            ChildKind::HelmRelease => "helm.toolkit.fluxcd.io",
            ChildKind::GitRepository | ChildKind::OciRepository | ChildKind::HelmRepository => {
                "source.toolkit.fluxcd.io"
            }
        }
    }

    /// The `kind` as written in manifests.
    pub fn kind(self) -> &'static str {
        match self {
            ChildKind::Application => "Application",
            ChildKind::ApplicationSet => "ApplicationSet",
            ChildKind::Kustomization => "Kustomization",
            ChildKind::HelmRelease => "HelmRelease",
            ChildKind::GitRepository => "GitRepository",
            ChildKind::OciRepository => "OCIRepository",
            ChildKind::HelmRepository => "HelmRepository",
        }
    }

    /// The resource (plural) name, as the API server names it in its errors.
    pub fn resource(self) -> &'static str {
        match self {
            ChildKind::Application => "applications",
            ChildKind::ApplicationSet => "applicationsets",
            ChildKind::Kustomization => "kustomizations",
            ChildKind::HelmRelease => "helmreleases",
            ChildKind::GitRepository => "gitrepositories",
            ChildKind::OciRepository => "ocirepositories",
            ChildKind::HelmRepository => "helmrepositories",
        }
    }

    /// Whether Argo CD reconciles this kind (then only in its own namespace).
    pub fn is_argo_cd(self) -> bool {
        matches!(self, ChildKind::Application | ChildKind::ApplicationSet)
    }
}

impl fmt::Display for ChildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

/// An app produced by another app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChildApp {
    /// What kind of app.
    pub kind: ChildKind,
    /// Its namespace (the parent's default namespace when the manifest has none).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its resource key, as the parent's diff and prune know it.
    pub key: ResourceKey,
}

/// Why a produced app will not be reconciled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChildError {
    /// An Argo CD app outside the controller's namespace.
    #[error(
        "{kind} {namespace}/{name} is not in the Argo CD namespace {controller_namespace}: Argo CD only \
         reconciles {kind}s there unless the namespace is listed in application.namespaces"
    )]
    OutsideControllerNamespace {
        /// `Application` or `ApplicationSet`.
        kind: ChildKind,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The controller namespace.
        controller_namespace: String,
    },
}

/// The apps among a rendering: those their controller will reconcile, and those it will not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Children {
    /// Apps their controller reconciles, in rendering order.
    pub apps: Vec<ChildApp>,
    /// Apps rendered where their controller will not look, each with the reason.
    pub not_reconciled: Vec<(ChildApp, ChildError)>,
}

/// The child apps among `objects`, the desired objects of one app.
///
/// `default_namespace` is where a manifest without a namespace lands: for an Argo CD parent,
/// its destination namespace; for a Flux parent, its `spec.targetNamespace` when set (kustomize
/// then writes it on every object), else the parent's own namespace. That last choice is
/// ours: it keeps a namespace-less child next to the Kustomization that produced it.
/// `controller_namespace` is where Argo CD runs ([`DEFAULT_CONTROLLER_NAMESPACE`] unless
/// installed elsewhere).
pub fn find_children(objects: &[Object], default_namespace: &str, controller_namespace: &str) -> Children {
    let mut children = Children::default();
    for object in objects {
        let Some(kind) = ChildKind::of(object.group(), object.kind()) else { continue };
        // All of these kinds are namespaced, whatever an unlearnt scope table says.
        let key = object.key_with_scope(default_namespace, false);
        let child = ChildApp { kind, namespace: key.namespace.clone(), name: key.name.clone(), key };
        if kind.is_argo_cd() && child.namespace != controller_namespace {
            let reason = ChildError::OutsideControllerNamespace {
                kind,
                namespace: child.namespace.clone(),
                name: child.name.clone(),
                controller_namespace: controller_namespace.to_string(),
            };
            children.not_reconciled.push((child, reason));
        } else {
            children.apps.push(child);
        }
    }
    children
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;

    const RENDERED: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: stray, namespace: team-a}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: clusters}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: flux-system}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo}
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: oci, namespace: flux-system}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: flux-system}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: not-an-app, namespace: argocd}
---
apiVersion: example.com/v1
kind: Application
metadata: {name: other-group, namespace: argocd}
"#;

    #[test]
    fn finds_argo_and_flux_apps_and_ignores_the_rest() {
        let objects = manifest::parse("rendered.yaml", RENDERED).unwrap();
        let children = find_children(&objects, "argocd", DEFAULT_CONTROLLER_NAMESPACE);
        let found: Vec<String> =
            children.apps.iter().map(|c| format!("{} {}/{}", c.kind, c.namespace, c.name)).collect();
        assert_eq!(
            found,
            [
                "Application argocd/web",
                "ApplicationSet argocd/clusters",
                "Kustomization flux-system/infra",
                "GitRepository argocd/repo",
                "OCIRepository flux-system/oci",
                "HelmRepository flux-system/charts",
                "HelmRelease apps/podinfo",
            ]
        );
        assert_eq!(children.apps[0].key.to_string(), "argoproj.io/Application/argocd/web");
        assert_eq!(children.not_reconciled.len(), 1);
        let (stray, reason) = &children.not_reconciled[0];
        assert_eq!(stray.name, "stray");
        assert_eq!(
            reason.to_string(),
            "Application team-a/stray is not in the Argo CD namespace argocd: Argo CD only reconciles \
             Applications there unless the namespace is listed in application.namespaces"
        );
    }

    #[test]
    fn namespace_less_apps_take_the_default_namespace() {
        let objects = manifest::parse("rendered.yaml", RENDERED).unwrap();
        let children = find_children(&objects, "flux-system", "argocd");
        let repo = children.apps.iter().find(|c| c.name == "repo").unwrap();
        assert_eq!(repo.namespace, "flux-system");
        // The ApplicationSet lands in flux-system too, where Argo CD does not look.
        assert!(children.not_reconciled.iter().any(|(c, _)| c.name == "clusters"));
    }
}
