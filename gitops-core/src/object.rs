//! Kubernetes objects as JSON trees, their identity, and where they came from.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schema::{schema, split_api_version};

/// Where an object was read from: enough for a user to find it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The source name: a file path, `-` for standard input, or a caller's label.
    pub source: Arc<str>,
    /// One-based document number in the source (counting empty documents).
    pub document: usize,
    /// One-based line where the document starts.
    pub line: usize,
    /// Zero-based position inside a `List` document, if the object came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
}

impl Origin {
    /// An origin for objects built in code rather than read from text.
    pub fn inline(label: &str) -> Origin {
        Origin { source: Arc::from(label), document: 1, line: 1, item: None }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {} (line {})", self.source, self.document, self.line)?;
        if let Some(i) = self.item {
            write!(f, ", item {i}")?;
        }
        Ok(())
    }
}

/// The identity of an object everywhere in the engine: objects are paired by key, never by
/// position. Cluster-scoped kinds have an empty namespace. The version is not part of it:
/// `apps/v1` and `apps/v1beta2` Deployments are the same object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceKey {
    /// API group, empty for the core group.
    pub group: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ResourceKey {
    /// Builds a key from its parts.
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> ResourceKey {
        ResourceKey {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// Parses the `group/Kind/namespace/name` form that [`fmt::Display`] writes.
    pub fn parse(s: &str) -> Option<ResourceKey> {
        let mut parts = s.splitn(4, '/');
        let (g, k, n, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if k.is_empty() || name.is_empty() {
            return None;
        }
        Some(ResourceKey::new(g, k, n, name))
    }
}

impl fmt::Display for ResourceKey {
    /// `group/Kind/namespace/name`, as Argo CD writes resource keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}/{}", self.group, self.kind, self.namespace, self.name)
    }
}

/// A Kubernetes object: a JSON object with at least `apiVersion`, `kind` and a name.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    value: Value,
    origin: Origin,
    /// The scope of a custom kind, once learnt ([`crate::scope`]); built-in kinds use the table.
    cluster_scoped: Option<bool>,
}

impl Object {
    /// Wraps a JSON tree that [`crate::manifest`] validated (or that the caller vouches for:
    /// a JSON object with string `apiVersion` and `kind`).
    pub fn new(value: Value, origin: Origin) -> Object {
        Object { value, origin, cluster_scoped: None }
    }

    /// Records the scope of this object's kind, learnt from a CRD or the target
    /// ([`crate::scope`]); [`Object::key`] and [`Object::is_cluster_scoped`] follow it.
    pub fn set_cluster_scoped(&mut self, cluster_scoped: bool) {
        self.cluster_scoped = Some(cluster_scoped);
    }

    /// The scope recorded with [`Object::set_cluster_scoped`], if any.
    pub fn recorded_scope(&self) -> Option<bool> {
        self.cluster_scoped
    }

    /// The JSON tree.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The JSON tree, mutably.
    pub fn value_mut(&mut self) -> &mut Value {
        &mut self.value
    }

    /// Unwraps the JSON tree.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// Where the object was read from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        str_at(&self.value, &["apiVersion"]).unwrap_or("")
    }

    /// API group (empty for core).
    pub fn group(&self) -> &str {
        split_api_version(self.api_version()).0
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        str_at(&self.value, &["kind"]).unwrap_or("")
    }

    /// `metadata.name` (empty if only `generateName` is set).
    pub fn name(&self) -> &str {
        str_at(&self.value, &["metadata", "name"]).unwrap_or("")
    }

    /// `metadata.namespace` as written (possibly empty).
    pub fn namespace(&self) -> &str {
        str_at(&self.value, &["metadata", "namespace"]).unwrap_or("")
    }

    /// `metadata`, if it is an object.
    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.value.get("metadata")?.as_object()
    }

    /// The value of an annotation.
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.metadata()?.get("annotations")?.get(name)?.as_str()
    }

    /// The value of a label.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.metadata()?.get("labels")?.get(name)?.as_str()
    }

    /// Whether this kind is cluster-scoped: as recorded ([`Object::set_cluster_scoped`]), else
    /// according to the built-in table (so a custom kind whose scope was never learnt counts
    /// as namespaced; [`crate::scope`] learns it).
    pub fn is_cluster_scoped(&self) -> bool {
        self.cluster_scoped.unwrap_or_else(|| schema().is_cluster_scoped(self.group(), self.kind()))
    }

    /// The identity of the object. An empty namespace of a namespaced kind becomes
    /// `default_namespace` (the destination namespace); cluster-scoped kinds have none.
    pub fn key(&self, default_namespace: &str) -> ResourceKey {
        self.key_with_scope(default_namespace, self.is_cluster_scoped())
    }

    /// Like [`Object::key`] with the scope decided by the caller (e.g. from a CRD).
    pub fn key_with_scope(&self, default_namespace: &str, cluster_scoped: bool) -> ResourceKey {
        let namespace = if cluster_scoped {
            ""
        } else if self.namespace().is_empty() {
            default_namespace
        } else {
            self.namespace()
        };
        ResourceKey::new(self.group(), self.kind(), namespace, self.name())
    }
}

/// The string at a path of object keys.
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_take_the_destination_namespace_unless_cluster_scoped() {
        let o = Object::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}),
            Origin::inline("t"),
        );
        assert_eq!(o.key("prod").to_string(), "apps/Deployment/prod/web");
        let ns = Object::new(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "namespace": "x"}}),
            Origin::inline("t"),
        );
        assert_eq!(ns.key("default").to_string(), "/Namespace//prod");
        assert_eq!(ResourceKey::parse("/Namespace//prod"), Some(ns.key("default")));
    }
}
