//! Resources as kustomize tracks them during a build: the object, every id it has had (a
//! rename by prefix, suffix, namespace or hash keeps the old ones, and most lookups accept any
//! of them), the prefixes and suffixes applied (used to pick between look-alike references),
//! and, for generated objects, whether they get the content-hash suffix.

use gitops_core::schema::split_api_version;
use serde_json::Value;

use std::sync::Arc;

use super::buildmeta::Origin;
use super::schema::Schema;

/// One id: apiVersion, kind, name, namespace (as written; compare with [`same_namespace`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Id {
    /// `apiVersion`.
    pub(crate) api_version: String,
    /// `kind`.
    pub(crate) kind: String,
    /// `metadata.name`.
    pub(crate) name: String,
    /// `metadata.namespace` (empty when absent).
    pub(crate) namespace: String,
}

impl Id {
    /// The id of an object as it stands.
    pub(crate) fn of(obj: &Value) -> Id {
        Id {
            api_version: top(obj, "apiVersion").to_string(),
            kind: top(obj, "kind").to_string(),
            name: meta(obj, "name").to_string(),
            namespace: meta(obj, "namespace").to_string(),
        }
    }

    /// `group` of the apiVersion (empty for the core group).
    pub(crate) fn group(&self) -> &str {
        split_api_version(&self.api_version).0
    }

    /// `version` of the apiVersion.
    pub(crate) fn version(&self) -> &str {
        split_api_version(&self.api_version).1
    }

    /// As kustomize prints an id in messages: `Kind.version.group/name.namespace`.
    pub(crate) fn shown(&self) -> String {
        let group = if self.group().is_empty() { "[noGrp]" } else { self.group() };
        let ns = if self.namespace.is_empty() { "[noNs]" } else { &self.namespace };
        format!("{}.{}.{}/{}.{}", self.kind, self.version(), group, self.name, ns)
    }
}

/// A top-level string field (empty when absent). Plain lookups: these run for every pair of
/// objects in some steps, and `Value::pointer` unescapes every segment it walks.
fn top<'v>(obj: &'v Value, field: &str) -> &'v str {
    obj.get(field).and_then(Value::as_str).unwrap_or("")
}

/// A string field of `metadata` (empty when absent).
fn meta<'v>(obj: &'v Value, field: &str) -> &'v str {
    obj.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or("")
}

/// Whether two namespaces are the same for kustomize: empty and `default` are one.
pub(crate) fn same_namespace(a: &str, b: &str) -> bool {
    fn effective(s: &str) -> &str {
        if s.is_empty() { "default" } else { s }
    }
    effective(a) == effective(b)
}

/// A resource being built.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// The object.
    pub(crate) obj: Value,
    /// Earlier ids, oldest first (the original is the first, when the object was renamed).
    pub(crate) history: Vec<Id>,
    /// Name prefixes applied, innermost first.
    pub(crate) prefixes: Vec<String>,
    /// Name suffixes applied, innermost first.
    pub(crate) suffixes: Vec<String>,
    /// For a generated ConfigMap or Secret: whether it gets the hash suffix.
    pub(crate) hash: Option<bool>,
    /// Where it came from, for messages.
    pub(crate) origin: String,
    /// Fields that share one YAML node in kustomize (see `shared`), as JSON pointers.
    pub(crate) links: Vec<Vec<String>>,
    /// With `buildMetadata`: the file or generator it came from.
    pub(crate) meta_origin: Option<Arc<Origin>>,
    /// With `buildMetadata`: the transformers that ran over it, in order.
    pub(crate) transformations: Vec<Arc<Origin>>,
    /// The `vars` whose objref names this object (bound where each var is declared).
    pub(crate) ref_vars: Vec<String>,
}

impl Resource {
    /// A resource read from `origin`.
    pub(crate) fn new(obj: Value, origin: impl Into<String>) -> Resource {
        Resource {
            obj,
            history: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            hash: None,
            origin: origin.into(),
            links: Vec::new(),
            meta_origin: None,
            transformations: Vec::new(),
            ref_vars: Vec::new(),
        }
    }

    /// The current id.
    pub(crate) fn id(&self) -> Id {
        Id::of(&self.obj)
    }

    /// The original id (before any rename).
    pub(crate) fn original(&self) -> Id {
        self.history.first().cloned().unwrap_or_else(|| self.id())
    }

    /// The current id and every earlier one, newest first.
    pub(crate) fn ids(&self) -> impl Iterator<Item = Id> + '_ {
        std::iter::once(self.id()).chain(self.history.iter().rev().cloned())
    }

    /// `apiVersion`.
    pub(crate) fn api_version(&self) -> &str {
        top(&self.obj, "apiVersion")
    }

    /// `kind`.
    pub(crate) fn kind(&self) -> &str {
        top(&self.obj, "kind")
    }

    /// `metadata.name`.
    pub(crate) fn name(&self) -> &str {
        meta(&self.obj, "name")
    }

    /// `metadata.namespace` (empty when absent).
    pub(crate) fn namespace(&self) -> &str {
        meta(&self.obj, "namespace")
    }

    /// Records the current id before a change that renames the object.
    pub(crate) fn remember(&mut self) {
        let id = self.id();
        if self.history.last() != Some(&id) {
            self.history.push(id);
        }
    }

    /// Sets `metadata.<field>` (a string), creating `metadata` if needed.
    pub(crate) fn set_meta(&mut self, field: &str, value: String) {
        if let Value::Object(obj) = &mut self.obj {
            let meta = obj.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
            if !meta.is_object() {
                *meta = Value::Object(Default::default());
            }
            if let Value::Object(m) = meta {
                m.insert(field.to_string(), Value::String(value));
            }
        }
    }

    /// Whether `id` names this resource now (compared in place, without copying the id).
    pub(crate) fn is_now(&self, id: &Id, schema: &Schema) -> bool {
        self.kind() == id.kind
            && self.api_version() == id.api_version
            && self.name() == id.name
            && (same_namespace(self.namespace(), &id.namespace) || schema.is_cluster_scoped(&id.api_version, &id.kind))
    }

    /// Whether `id` names this resource now or under an earlier id.
    pub(crate) fn answers_to(&self, id: &Id, schema: &Schema) -> bool {
        self.is_now(id, schema) || self.history.iter().any(|mine| same_id(mine, id, schema))
    }
}

/// Whether two ids name the same object: same apiVersion and kind, same name, and the same
/// namespace unless the kind is cluster-scoped.
pub(crate) fn same_id(a: &Id, b: &Id, schema: &Schema) -> bool {
    a.kind == b.kind
        && a.api_version == b.api_version
        && a.name == b.name
        && (same_namespace(&a.namespace, &b.namespace) || schema.is_cluster_scoped(&a.api_version, &a.kind))
}

/// Resources in accumulation order.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResMap {
    /// The resources.
    pub(crate) items: Vec<Resource>,
}

impl ResMap {
    /// Appends, refusing a second resource with the same current id.
    pub(crate) fn add(&mut self, r: Resource, schema: &Schema) -> Result<(), String> {
        let id = r.id();
        if let Some(existing) = self.items.iter().find(|e| e.is_now(&id, schema)) {
            return Err(format!(
                "may not add resource with an already registered id: {} (from {}; already from {})",
                id.shown(),
                r.origin,
                existing.origin
            ));
        }
        self.items.push(r);
        Ok(())
    }

    /// The positions of resources that answer to `id` (now or before).
    pub(crate) fn find(&self, id: &Id, schema: &Schema) -> Vec<usize> {
        (0..self.items.len()).filter(|&i| self.items[i].answers_to(id, schema)).collect()
    }
}
