//! Selective sync: the resources `argocd app sync --resource GROUP:KIND:NAME` names, the only
//! ones such a sync applies or prunes (and it runs no hooks, as Argo CD's selective sync).
//!
//! ```
//! use gitops_core::{ResourceKey, sync::select::ResourceSelector};
//! let s: ResourceSelector = "apps:Deployment:shop/web".parse()?;
//! assert!(s.matches(&ResourceKey::new("apps", "Deployment", "shop", "web")));
//! assert!(!s.matches(&ResourceKey::new("apps", "Deployment", "other", "web")));
//! let any_namespace: ResourceSelector = ":ConfigMap:settings".parse()?;
//! assert!(any_namespace.matches(&ResourceKey::new("", "ConfigMap", "shop", "settings")));
//! # Ok::<(), gitops_core::sync::select::Error>(())
//! ```

use crate::ResourceKey;

/// One `--resource` argument: `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME` (the core
/// group is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSelector {
    /// The API group (empty for the core group).
    pub group: String,
    /// The kind.
    pub kind: String,
    /// The namespace, when given; any namespace otherwise.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

/// A `--resource` argument that is not `GROUP:KIND:[NAMESPACE/]NAME`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--resource {0}: expected GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME (the core group is empty: :ConfigMap:name)"
)]
pub struct Error(String);

impl std::str::FromStr for ResourceSelector {
    type Err = Error;

    fn from_str(s: &str) -> Result<ResourceSelector, Error> {
        let mut parts = s.splitn(3, ':');
        let (Some(group), Some(kind), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error(s.to_string()));
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, name)) => (Some(ns.to_string()), name),
            None => (None, rest),
        };
        if kind.is_empty() || name.is_empty() || name.contains('/') {
            return Err(Error(s.to_string()));
        }
        Ok(ResourceSelector { group: group.to_string(), kind: kind.to_string(), namespace, name: name.to_string() })
    }
}

impl ResourceSelector {
    /// Whether the selector names the object with this key.
    pub fn matches(&self, key: &ResourceKey) -> bool {
        key.group == self.group
            && key.kind == self.kind
            && key.name == self.name
            && self.namespace.as_deref().is_none_or(|ns| ns == key.namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_as_argo_cd_writes_them() {
        assert!("apps:Deployment".parse::<ResourceSelector>().is_err());
        assert!("apps::web".parse::<ResourceSelector>().is_err());
        assert!("apps:Deployment:a/b/c".parse::<ResourceSelector>().is_err());
        let s: ResourceSelector = "rbac.authorization.k8s.io:ClusterRole:system:x".parse().unwrap();
        assert_eq!((s.kind.as_str(), s.name.as_str()), ("ClusterRole", "system:x"), "names may hold colons");
    }
}
