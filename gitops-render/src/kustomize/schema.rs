//! The type information kustomize (kyaml) consults for strategic-merge patches and scope: which
//! `apiVersion`+`kind` has which root definition, which kinds are cluster-scoped, and for every
//! definition the fields that can hold lists worth merging by key.
//!
//! The built-in table is kustomize v5.5.0's embedded Kubernetes v1.21.2 schema, reconstructed by
//! `tools/gen-kustomize-schema.py` into `data/kustomize-schema.json` and parsed once on first use.
//! A kustomization's `openapi: {path: ...}` replaces it with [`Schema::from_openapi`].

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The generated table (see the generator script for its format).
const BUILTIN_TABLE: &str = include_str!("../../data/kustomize-schema.json");

/// Errors reading a custom OpenAPI schema.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The document has no `definitions` object, so it is not an OpenAPI v2 (swagger) document.
    #[error(
        "openapi schema has no `definitions` object; kustomize's `openapi.path` needs an OpenAPI v2 (swagger) document"
    )]
    NoDefinitions,
}

/// How an associative or plain list merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListMerge<'a> {
    /// The patch's list replaces the target's (no `merge` strategy, or no schema).
    Replace,
    /// Merged as a set of primitive values (`merge` strategy without keys, e.g. `finalizers`).
    Set,
    /// Elements matched by these keys and merged (`merge` strategy with merge key(s)).
    Keys(&'a [String]),
}

/// The shape of a field's value.
#[derive(Debug)]
enum Shape {
    /// An object of the definition with this index.
    Def(usize),
    /// A map whose values all have the inner shape.
    Map(Box<Shape>),
    /// A list of the inner shape; `merge` is None for replace, Some(keys) for merge by keys
    /// (empty: set merge).
    List { item: Box<Shape>, merge: Option<Vec<String>> },
    /// An object described inline (custom schemas): its fields' shapes.
    Object(HashMap<String, Shape>),
    /// A leaf (scalar, free-form object): nothing below is typed.
    Leaf,
}

/// The type information kustomize uses: its embedded Kubernetes v1.21.2 OpenAPI schema, or a
/// custom one from a kustomization's `openapi: {path: ...}`.
#[derive(Debug)]
pub(crate) struct Schema {
    /// `apiVersion/kind` to root definition index.
    kinds: HashMap<String, usize>,
    /// `apiVersion/kind` of cluster-scoped kinds.
    cluster: HashSet<String>,
    /// Fields of each definition.
    defs: Vec<HashMap<String, Shape>>,
    /// `Shape::Def(i)` for every definition, so a root [`TypeRef`] can borrow one.
    def_shapes: Vec<Shape>,
}

/// A type in a schema (a definition), used to walk down an object alongside its value.
#[derive(Clone, Copy)]
pub(crate) struct TypeRef<'a> {
    schema: &'a Schema,
    shape: &'a Shape,
}

impl std::fmt::Debug for TypeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypeRef").field(self.shape).finish()
    }
}

impl<'a> TypeRef<'a> {
    /// The type of field `name` of this object (or of any value of this map), if typed.
    pub(crate) fn field(self, name: &str) -> Option<TypeRef<'a>> {
        let shape = match self.shape {
            Shape::Def(i) => self.schema.defs.get(*i)?.get(name)?,
            Shape::Map(inner) => inner,
            Shape::Object(fields) => fields.get(name)?,
            Shape::List { .. } | Shape::Leaf => return None,
        };
        Some(TypeRef { schema: self.schema, shape })
    }

    /// The type of this list's elements, if typed.
    pub(crate) fn elements(self) -> Option<TypeRef<'a>> {
        match self.shape {
            Shape::List { item, .. } => Some(TypeRef { schema: self.schema, shape: item }),
            _ => None,
        }
    }

    /// How this list merges ([`ListMerge::Replace`] when this is not a list).
    pub(crate) fn list_merge(self) -> ListMerge<'a> {
        match self.shape {
            Shape::List { merge: Some(keys), .. } if keys.is_empty() => ListMerge::Set,
            Shape::List { merge: Some(keys), .. } => ListMerge::Keys(keys),
            _ => ListMerge::Replace,
        }
    }
}

impl Schema {
    /// kustomize's built-in schema (Kubernetes v1.21.2), parsed on first use.
    pub(crate) fn builtin() -> &'static Schema {
        static BUILTIN: OnceLock<Schema> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let table: Value =
                serde_json::from_str(BUILTIN_TABLE).expect("the embedded kustomize schema table is valid JSON");
            Schema::from_table(&table)
        })
    }

    /// A schema read from an OpenAPI v2 (swagger) document, as `openapi.path` gives one; it
    /// replaces the built-in one entirely (spec §1.18).
    pub(crate) fn from_openapi(doc: &Value) -> Result<Schema, Error> {
        let definitions = doc.get("definitions").and_then(Value::as_object).ok_or(Error::NoDefinitions)?;
        let mut builder = Builder::new(definitions.keys().map(String::as_str));
        for (i, def) in definitions.values().enumerate() {
            let props = def.get("properties").and_then(Value::as_object);
            for (field, prop) in props.into_iter().flatten() {
                let shape = builder.openapi_shape(prop);
                if let Some(fields) = builder.defs.get_mut(i) {
                    fields.insert(field.clone(), shape);
                }
            }
        }
        let mut kinds = HashMap::new();
        for (i, def) in definitions.values().enumerate() {
            for gvk in def.get("x-kubernetes-group-version-kind").and_then(Value::as_array).into_iter().flatten() {
                if let Some(key) = gvk_key(gvk) {
                    kinds.insert(key, i);
                }
            }
        }
        let cluster = cluster_scoped_from_paths(doc.get("paths").and_then(Value::as_object));
        Ok(builder.finish(kinds, cluster))
    }

    /// The root type of `apiVersion`+`kind` (exact match, as kyaml looks it up), if known.
    pub(crate) fn root(&self, api_version: &str, kind: &str) -> Option<TypeRef<'_>> {
        let index = *self.kinds.get(&format!("{api_version}/{kind}"))?;
        Some(TypeRef { schema: self, shape: self.def_shapes.get(index)? })
    }

    /// Whether this apiVersion+kind is known to be cluster-scoped (the namespace transformer
    /// leaves those alone; unknown kinds are namespaced).
    pub(crate) fn is_cluster_scoped(&self, api_version: &str, kind: &str) -> bool {
        self.cluster.contains(&format!("{api_version}/{kind}"))
    }

    /// Builds the schema from the generated compact table.
    fn from_table(table: &Value) -> Schema {
        let empty = Map::new();
        let defs = table.get("defs").and_then(Value::as_object).unwrap_or(&empty);
        let mut builder = Builder::new(defs.keys().map(String::as_str));
        for (i, fields) in defs.values().enumerate() {
            for (field, shape) in fields.as_object().into_iter().flatten() {
                let shape = builder.table_shape(shape.as_str().unwrap_or(""));
                if let Some(slot) = builder.defs.get_mut(i) {
                    slot.insert(field.clone(), shape);
                }
            }
        }
        let kinds = table.get("kinds").and_then(Value::as_object).unwrap_or(&empty);
        let kinds =
            kinds.iter().filter_map(|(gvk, def)| Some((gvk.clone(), *builder.index.get(def.as_str()?)?))).collect();
        let cluster = table.get("cluster").and_then(Value::as_array).into_iter().flatten();
        let cluster = cluster.filter_map(Value::as_str).map(str::to_string).collect();
        builder.finish(kinds, cluster)
    }
}

/// Collects definitions by index while shapes are parsed.
struct Builder {
    index: HashMap<String, usize>,
    defs: Vec<HashMap<String, Shape>>,
}

impl Builder {
    fn new<'n>(names: impl Iterator<Item = &'n str>) -> Builder {
        let index: HashMap<String, usize> = names.enumerate().map(|(i, n)| (n.to_string(), i)).collect();
        let defs = (0..index.len()).map(|_| HashMap::new()).collect();
        Builder { index, defs }
    }

    fn finish(self, kinds: HashMap<String, usize>, cluster: HashSet<String>) -> Schema {
        let def_shapes = (0..self.defs.len()).map(Shape::Def).collect();
        Schema { kinds, cluster, defs: self.defs, def_shapes }
    }

    /// Parses the table's shape grammar: `{}S`, `[]S`, `[]S|k1,k2`, `[]S|`, or a definition.
    fn table_shape(&self, text: &str) -> Shape {
        if let Some(inner) = text.strip_prefix("{}") {
            return Shape::Map(Box::new(self.table_shape(inner)));
        }
        if let Some(rest) = text.strip_prefix("[]") {
            let (item, merge) = match rest.split_once('|') {
                Some((item, "")) => (item, Some(Vec::new())),
                Some((item, keys)) => (item, Some(keys.split(',').map(str::to_string).collect())),
                None => (rest, None),
            };
            return Shape::List { item: Box::new(self.table_shape(item)), merge };
        }
        self.index.get(text).map_or(Shape::Leaf, |i| Shape::Def(*i))
    }

    /// The shape of an OpenAPI v2 property, with kyaml's list merge rule: associative iff
    /// `x-kubernetes-patch-strategy` contains `merge`; keys from `x-kubernetes-list-map-keys`,
    /// else `x-kubernetes-patch-merge-key`, else none (a set).
    fn openapi_shape(&self, prop: &Value) -> Shape {
        if let Some(target) = ref_target(prop) {
            return self.index.get(target).map_or(Shape::Leaf, |i| Shape::Def(*i));
        }
        match prop.get("type").and_then(Value::as_str) {
            Some("array") => {
                let item = prop.get("items").map_or(Shape::Leaf, |items| self.openapi_shape(items));
                Shape::List { item: Box::new(item), merge: openapi_list_merge(prop) }
            }
            Some("object") => match (prop.get("additionalProperties"), prop.get("properties")) {
                (Some(values @ Value::Object(_)), _) => Shape::Map(Box::new(self.openapi_shape(values))),
                // An inline object (fixture 142-openapi-custom-schema-cr-merge-keys).
                (_, Some(Value::Object(props))) => {
                    Shape::Object(props.iter().map(|(k, v)| (k.clone(), self.openapi_shape(v))).collect())
                }
                _ => Shape::Leaf,
            },
            _ => Shape::Leaf,
        }
    }
}

/// The definition named by `$ref` (also through a one-element `allOf`).
fn ref_target(prop: &Value) -> Option<&str> {
    let reference = prop.get("$ref").or_else(|| prop.get("allOf")?.as_array()?.first()?.get("$ref"))?;
    reference.as_str()?.strip_prefix("#/definitions/")
}

fn openapi_list_merge(prop: &Value) -> Option<Vec<String>> {
    let strategy = prop.get("x-kubernetes-patch-strategy")?.as_str()?;
    if !strategy.split(',').any(|s| s == "merge") {
        return None;
    }
    if let Some(keys) = prop.get("x-kubernetes-list-map-keys").and_then(Value::as_array) {
        return Some(keys.iter().filter_map(Value::as_str).map(str::to_string).collect());
    }
    let key = prop.get("x-kubernetes-patch-merge-key").and_then(Value::as_str);
    Some(key.map(str::to_string).into_iter().collect())
}

/// `apiVersion/kind` of one `x-kubernetes-group-version-kind` entry.
fn gvk_key(gvk: &Value) -> Option<String> {
    let group = gvk.get("group").and_then(Value::as_str).unwrap_or("");
    let version = gvk.get("version")?.as_str()?;
    let kind = gvk.get("kind")?.as_str()?;
    Some(if group.is_empty() { format!("{version}/{kind}") } else { format!("{group}/{version}/{kind}") })
}

/// Kinds whose operations appear only under paths without a `{namespace}` segment.
fn cluster_scoped_from_paths(paths: Option<&Map<String, Value>>) -> HashSet<String> {
    let mut namespaced = HashSet::new();
    let mut seen = HashSet::new();
    for (path, ops) in paths.into_iter().flatten() {
        for op in ops.as_object().into_iter().flat_map(|o| o.values()) {
            let Some(key) = op.get("x-kubernetes-group-version-kind").and_then(gvk_key) else { continue };
            if path.contains("{namespace}") {
                namespaced.insert(key.clone());
            }
            seen.insert(key);
        }
    }
    seen.retain(|k| !namespaced.contains(k));
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(t: Option<TypeRef<'_>>) -> Option<Vec<String>> {
        match t?.list_merge() {
            ListMerge::Keys(k) => Some(k.to_vec()),
            ListMerge::Set => Some(Vec::new()),
            ListMerge::Replace => None,
        }
    }

    fn path<'a>(mut t: TypeRef<'a>, steps: &[&str]) -> Option<TypeRef<'a>> {
        for step in steps {
            t = if *step == "[]" { t.elements()? } else { t.field(step)? };
        }
        Some(t)
    }

    #[test]
    fn deployment_merge_keys() {
        let s = Schema::builtin();
        let d = s.root("apps/v1", "Deployment").expect("Deployment is in v1.21.2");
        let pod = path(d, &["spec", "template", "spec"]).unwrap();
        assert_eq!(keys(pod.field("containers")), Some(vec!["name".to_string()]));
        assert_eq!(keys(pod.field("volumes")), Some(vec!["name".to_string()]));
        assert_eq!(keys(pod.field("tolerations")), None);
        let c = path(pod, &["containers", "[]"]).unwrap();
        assert_eq!(keys(c.field("ports")), Some(vec!["containerPort".to_string(), "protocol".to_string()]));
        assert_eq!(keys(c.field("env")), Some(vec!["name".to_string()]));
        assert_eq!(keys(c.field("args")), None);
        assert_eq!(keys(path(d, &["metadata", "finalizers"])), Some(vec![]));
        assert_eq!(keys(path(d, &["metadata", "labels"])), None);
    }

    #[test]
    fn v1_21_2_only() {
        let s = Schema::builtin();
        // Probed: these have a schema in kustomize v5.5.0 (finalizers merge) ...
        for (av, k) in [
            ("batch/v1beta1", "CronJob"),
            ("extensions/v1beta1", "Ingress"),
            ("policy/v1beta1", "PodDisruptionBudget"),
            ("autoscaling/v2beta2", "HorizontalPodAutoscaler"),
        ] {
            assert!(s.root(av, k).is_some(), "{av} {k}");
        }
        // ... and these, newer than v1.21.2, none (finalizers replaced).
        assert!(s.root("autoscaling/v2", "HorizontalPodAutoscaler").is_none());
        assert!(s.root("policy/v1", "Eviction").is_none());
        assert!(s.root("example.com/v1", "Foo").is_none());
        let cron = s.root("batch/v1beta1", "CronJob").unwrap();
        let pod = path(cron, &["spec", "jobTemplate", "spec", "template", "spec"]).unwrap();
        assert_eq!(keys(pod.field("containers")), Some(vec!["name".to_string()]));
        // Probed: PDB v1beta1 status.conditions merge by type; HPA v2beta2's are replaced.
        let pdb = s.root("policy/v1beta1", "PodDisruptionBudget").unwrap();
        assert_eq!(keys(path(pdb, &["status", "conditions"])), Some(vec!["type".to_string()]));
        let hpa = s.root("autoscaling/v2beta2", "HorizontalPodAutoscaler").unwrap();
        assert_eq!(keys(path(hpa, &["status", "conditions"])), None);
        // EphemeralContainer ports got merge keys only after v1.21.2.
        let pod = s.root("v1", "Pod").unwrap();
        assert_eq!(keys(path(pod, &["spec", "ephemeralContainers", "[]", "ports"])), None);
    }

    #[test]
    fn cluster_scope_as_probed() {
        // `kubectl kustomize` with `namespace: zz`: these kept no namespace ...
        let s = Schema::builtin();
        for (av, k) in [
            ("v1", "Namespace"),
            ("rbac.authorization.k8s.io/v1", "ClusterRole"),
            ("storage.k8s.io/v1beta1", "StorageClass"),
            ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
            ("policy/v1beta1", "PodSecurityPolicy"),
            // kubectl kustomize leaves APIService's metadata.namespace alone (it sets only
            // spec.service.namespace): fixture 046-namespace-apiservice.
            ("apiregistration.k8s.io/v1", "APIService"),
        ] {
            assert!(s.is_cluster_scoped(av, k), "{av} {k}");
        }
        // ... and these got one.
        for (av, k) in [
            ("authorization.k8s.io/v1", "SubjectAccessReview"),
            ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"),
            ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
            ("cert-manager.io/v1", "ClusterIssuer"),
            ("v1", "ConfigMap"),
        ] {
            assert!(!s.is_cluster_scoped(av, k), "{av} {k}");
        }
    }

    #[test]
    fn custom_openapi() {
        let doc = json!({
            "definitions": {
                "com.example.v1.Foo": {
                    "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Foo"}],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/definitions/com.example.v1.Item"},
                            "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "id"},
                        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge,retainKeys"},
                        "byName": {"type": "object", "additionalProperties": {"$ref": "#/definitions/com.example.v1.Item"}}
                    }
                },
                "com.example.v1.Item": {"properties": {"id": {"type": "string"}}}
            },
            "paths": {"/apis/example.com/v1/foos": {"get": {"x-kubernetes-group-version-kind": {"group": "example.com", "version": "v1", "kind": "Foo"}}}}
        });
        let s = Schema::from_openapi(&doc).unwrap();
        let foo = s.root("example.com/v1", "Foo").unwrap();
        assert_eq!(keys(foo.field("items")), Some(vec!["id".to_string()]));
        assert_eq!(keys(foo.field("tags")), Some(vec![]));
        assert!(foo.field("byName").and_then(|m| m.field("any")).is_some());
        assert!(s.is_cluster_scoped("example.com/v1", "Foo"));
        assert!(s.root("apps/v1", "Deployment").is_none());
        assert!(matches!(Schema::from_openapi(&json!({})), Err(Error::NoDefinitions)));
    }
}
