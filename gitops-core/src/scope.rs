//! Whether objects of a kind live in a namespace.
//!
//! Built-in kinds answer from the schema table (`data/k8s-schema.json`). A custom kind's scope
//! is written in its CustomResourceDefinition (`spec.scope`), which may be in the desired state
//! or only in the target; guessing "namespaced" gives a ClusterIssuer or a GatewayClass the
//! destination namespace, so that it never pairs with its live object and is applied where no
//! API server would put it. The scope is therefore learnt, in this order, from CRDs in the
//! desired state, from what the target knows (a [`ScopeSource`]: stored CRDs, discovery, or
//! the live objects themselves), and otherwise refused with an [`Error`] asking for the CRD.
//!
//! Only an object that names no namespace needs its scope decided: one that names a namespace
//! is read as namespaced, as written (a cluster-scoped object with a namespace is an error the
//! API server reports). Live objects come from a server, which gives every namespaced object
//! its namespace: a live object of a custom kind without one is cluster-scoped.

use std::collections::HashMap;

use serde_json::Value;

use crate::object::Object;
use crate::schema::schema;

/// A custom kind whose scope nothing tells.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{origin}: the scope of {kind} ({}) is unknown: it is not a built-in kind and no CustomResourceDefinition \
     for it is in the desired state or the target; add its CRD (or give the object a namespace if it is namespaced)",
    if group.is_empty() { "core group" } else { group.as_str() }
)]
pub struct Error {
    /// Where the object was read.
    pub origin: String,
    /// Its API group.
    pub group: String,
    /// Its kind.
    pub kind: String,
}

/// What the live side knows about the scope of kinds (a FileCluster's stored CRDs, a cluster's
/// discovery, the live objects read).
pub trait ScopeSource {
    /// `Some(true)` for a cluster-scoped kind, `Some(false)` for a namespaced one, `None` when
    /// this source does not know the kind.
    fn cluster_scoped(&self, group: &str, kind: &str) -> Option<bool>;
}

/// Scopes learnt from CRDs and live objects, by group and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    known: HashMap<(String, String), bool>,
}

impl ScopeSource for Scopes {
    fn cluster_scoped(&self, group: &str, kind: &str) -> Option<bool> {
        self.known.get(&(group.to_string(), kind.to_string())).copied()
    }
}

impl Scopes {
    /// No scopes known.
    pub fn new() -> Scopes {
        Scopes::default()
    }

    /// Records the scope of a kind (a later record wins).
    pub fn insert(&mut self, group: &str, kind: &str, cluster_scoped: bool) {
        self.known.insert((group.to_string(), kind.to_string()), cluster_scoped);
    }

    /// Learns from `o` if it is a CRD (`spec.group`, `spec.names.kind`, `spec.scope`); returns
    /// the kind it defines.
    pub fn learn_crd(&mut self, o: &Object) -> Option<(String, String)> {
        let (group, kind, cluster_scoped) = crd_scope(o)?;
        self.insert(&group, &kind, cluster_scoped);
        Some((group, kind))
    }

    /// Learns from every CRD among `objects`.
    pub fn from_crds<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Scopes {
        let mut scopes = Scopes::new();
        for o in objects {
            scopes.learn_crd(o);
        }
        scopes
    }

    /// Learns from live objects: their CRDs, and each custom object's namespace (a server
    /// gives one to every namespaced object). CRDs win over instances.
    pub fn observe_live<'a>(&mut self, objects: impl IntoIterator<Item = &'a Object>) {
        let mut crds = Vec::new();
        for o in objects {
            if let Some(found) = crd_scope(o) {
                crds.push(found);
            } else if !is_built_in(o.group(), o.kind()) {
                self.known.entry((o.group().to_string(), o.kind().to_string())).or_insert(o.namespace().is_empty());
            }
        }
        for (group, kind, cluster_scoped) in crds {
            self.insert(&group, &kind, cluster_scoped);
        }
    }
}

/// The group, kind and scope a CRD defines, if `o` is one.
fn crd_scope(o: &Object) -> Option<(String, String, bool)> {
    if o.group() != "apiextensions.k8s.io" || o.kind() != "CustomResourceDefinition" {
        return None;
    }
    let spec = o.value().get("spec")?;
    let group = spec.get("group").and_then(Value::as_str)?;
    let kind = spec.pointer("/names/kind").and_then(Value::as_str)?;
    let cluster_scoped = spec.get("scope").and_then(Value::as_str) == Some("Cluster");
    Some((group.to_string(), kind.to_string(), cluster_scoped))
}

/// Whether the schema table knows this kind (its scope is then the table's).
pub fn is_built_in(group: &str, kind: &str) -> bool {
    schema().is_built_in(group, kind)
}

/// Whether `o`'s scope must be learnt before it can be keyed: a custom kind, no namespace, no
/// scope recorded yet.
pub fn needs_scope(o: &Object) -> bool {
    o.recorded_scope().is_none() && o.namespace().is_empty() && !is_built_in(o.group(), o.kind())
}

/// Decides the scope of every desired object that needs one ([`needs_scope`]): from the CRDs
/// among `objects`, then `target`; the first object nothing speaks for is the error.
pub fn resolve(objects: &mut [Object], target: &dyn ScopeSource) -> Result<(), Error> {
    let desired = Scopes::from_crds(objects.iter());
    for o in objects.iter_mut().filter(|o| needs_scope(o)) {
        let (group, kind) = (o.group().to_string(), o.kind().to_string());
        let cluster_scoped = desired
            .cluster_scoped(&group, &kind)
            .or_else(|| target.cluster_scoped(&group, &kind))
            .ok_or_else(|| Error { origin: o.origin().to_string(), group, kind })?;
        o.set_cluster_scoped(cluster_scoped);
    }
    Ok(())
}

/// Decides the scope of live objects of custom kinds: a server gives every namespaced object
/// its namespace, so one without is cluster-scoped.
pub fn resolve_live(objects: &mut [Object]) {
    for o in objects.iter_mut() {
        resolve_live_one(o);
    }
}

/// [`resolve_live`] for one object.
pub fn resolve_live_one(o: &mut Object) {
    if needs_scope(o) {
        o.set_cluster_scoped(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;

    fn objects(text: &str) -> Vec<Object> {
        manifest::parse("m.yaml", text).unwrap()
    }

    const ISSUER: &str = "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\n";
    const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: clusterissuers.cert-manager.io}\nspec: {group: cert-manager.io, scope: Cluster, names: {kind: ClusterIssuer, plural: clusterissuers}}\n";

    #[test]
    fn a_crd_in_the_desired_state_decides() {
        let mut desired = objects(&format!("{ISSUER}---\n{CRD}"));
        resolve(&mut desired, &Scopes::new()).unwrap();
        assert_eq!(desired[0].key("shop").to_string(), "cert-manager.io/ClusterIssuer//letsencrypt");
    }

    #[test]
    fn the_target_decides_next_and_otherwise_the_crd_is_asked_for() {
        let mut target = Scopes::new();
        target.observe_live(&objects(CRD));
        let mut desired = objects(ISSUER);
        resolve(&mut desired, &target).unwrap();
        assert_eq!(desired[0].key("shop").namespace, "");
        let e = resolve(&mut objects(ISSUER), &Scopes::new()).unwrap_err().to_string();
        assert!(
            e.starts_with("m.yaml: document 1 (line 1): the scope of ClusterIssuer (cert-manager.io) is unknown"),
            "{e}"
        );
        assert!(e.contains("add its CRD"), "{e}");
    }

    #[test]
    fn namespaced_and_built_in_objects_need_nothing_and_live_objects_tell_by_their_namespace() {
        let mut desired = objects(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, namespace: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n",
        );
        resolve(&mut desired, &Scopes::new()).unwrap();
        assert_eq!(desired[1].key("shop").namespace, "shop");
        let mut live = objects(&format!(
            "{ISSUER}---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: c, namespace: shop}}\n"
        ));
        let mut observed = Scopes::new();
        observed.observe_live(&live);
        assert_eq!(observed.cluster_scoped("cert-manager.io", "ClusterIssuer"), Some(true));
        assert_eq!(observed.cluster_scoped("cert-manager.io", "Certificate"), Some(false));
        resolve_live(&mut live);
        assert_eq!(live[0].key("shop").namespace, "");
    }
}
