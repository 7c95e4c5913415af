//! Name references: after every transformer, a field that names another object (a ConfigMap
//! in a Deployment's `envFrom`, a ServiceAccount in a RoleBinding's subjects...) is rewritten to
//! that object's final name, whatever prefixes, suffixes and hashes it got.
//!
//! kustomize's sieve, step by step: a candidate must be of the referred kind and have been
//! renamed from the referrer's value (an object never renamed is no candidate: nothing to fix);
//! a `roleRef` also names the kind and group; unless the referrer is cluster-scoped, the
//! candidate must be in the referrer's namespace (cluster-scoped candidates and ServiceAccounts
//! always pass). One left wins; otherwise only those whose prefixes and suffixes end like the
//! referrer's stay, and none left means the reference is left alone; several with one name
//! pick the first, several names are an error. A `{name, namespace}` map (RoleBinding subjects,
//! webhook services) first narrows the candidates to its namespace: the objects originally
//! there, else those there now.

use gitops_core::schema::split_api_version;
use serde_json::Value;

use super::fieldspecs::{self, Config, FieldSpec, Gvk, NameReference};
use super::resource::{ResMap, Resource, same_namespace};
use super::schema::Schema;

/// What a candidate is, for matching (copied out so the referrers can be changed).
struct Candidate {
    kind: String,
    api_version: String,
    /// Names it had before a rename (kustomize's previous ids; the current one is not among them).
    previous_names: Vec<String>,
    /// Kinds and groups of those previous ids, for a `roleRef`.
    previous_kinds: Vec<(String, String)>,
    original_namespace: String,
    name: String,
    namespace: String,
    cluster: bool,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

fn gvk_selects(gvk: &Gvk, api_version: &str, kind: &str) -> bool {
    FieldSpec { gvk: gvk.clone(), path: String::new(), create: false }.applies_to(api_version, kind)
}

/// Where an object is, for kustomize's "could this referrer refer to it" subset.
struct Scope {
    /// Effective (`""` is `default`) original namespace.
    original: String,
    /// Effective current namespace.
    current: String,
    /// Current namespace as written.
    raw: String,
    cluster: bool,
}

fn effective(ns: &str) -> &str {
    if ns.is_empty() { "default" } else { ns }
}

/// Rewrites every name reference in `acc`.
pub(crate) fn fix(acc: &mut ResMap, config: &Config, schema: &Schema) -> Result<(), String> {
    let scopes: Vec<Scope> = acc
        .items
        .iter()
        .map(|r| Scope {
            original: effective(&r.original().namespace).to_string(),
            current: effective(r.namespace()).to_string(),
            raw: r.namespace().to_string(),
            cluster: schema.is_cluster_scoped(r.api_version(), r.kind()),
        })
        .collect();
    for reference in &config.name_references {
        let candidates: Vec<Candidate> = acc
            .items
            .iter()
            .filter(|r| gvk_selects(&reference.gvk, r.api_version(), r.kind()))
            .map(|r| Candidate {
                kind: r.kind().to_string(),
                api_version: r.api_version().to_string(),
                previous_names: r.history.iter().map(|id| id.name.clone()).collect(),
                previous_kinds: r.history.iter().map(|id| (id.kind.clone(), id.group().to_string())).collect(),
                original_namespace: r.original().namespace,
                name: r.name().to_string(),
                namespace: r.namespace().to_string(),
                cluster: schema.is_cluster_scoped(r.api_version(), r.kind()),
                prefixes: r.prefixes.clone(),
                suffixes: r.suffixes.clone(),
            })
            .collect();
        if candidates.is_empty() {
            continue;
        }
        for r in &mut acc.items {
            fix_referrer(r, reference, &candidates, &scopes, schema)?;
        }
    }
    Ok(())
}

fn fix_referrer(
    r: &mut Resource,
    reference: &NameReference,
    candidates: &[Candidate],
    scopes: &[Scope],
    schema: &Schema,
) -> Result<(), String> {
    let (api, kind) = (r.api_version().to_string(), r.kind().to_string());
    let specs: Vec<&FieldSpec> = reference.referrers.iter().filter(|s| s.applies_to(&api, &kind)).collect();
    if specs.is_empty() {
        return Ok(());
    }
    let ctx = Referrer {
        namespace: r.namespace().to_string(),
        cluster: schema.is_cluster_scoped(&api, &kind),
        prefixes: r.prefixes.clone(),
        suffixes: r.suffixes.clone(),
        // kustomize ignores a roleRef lacking its kind or apiGroup.
        role_ref: r
            .obj
            .pointer("/roleRef/kind")
            .and_then(Value::as_str)
            .zip(r.obj.pointer("/roleRef/apiGroup").and_then(Value::as_str))
            .map(|(k, g)| (k.to_string(), g.to_string())),
        // A RoleBinding may refer to ServiceAccounts in the namespaces its subjects name.
        subject_namespaces: match (kind.as_str(), r.obj.get("subjects")) {
            ("RoleBinding", Some(Value::Array(subjects))) => subjects
                .iter()
                .filter(|s| s.get("kind").and_then(Value::as_str) == Some("ServiceAccount"))
                .filter_map(|s| s.get("namespace").and_then(Value::as_str).map(str::to_string))
                .collect(),
            _ => Vec::new(),
        },
        shown: r.id().shown(),
    };
    for spec in specs {
        let role_ref = spec.path.ends_with("roleRef/name");
        fieldspecs::visit(&mut r.obj, &spec.path, false, &mut |node| {
            rewrite(node, candidates, scopes, &ctx, role_ref).map_err(fieldspecs::Error::from_message)
        })
        .map_err(|e| format!("{} `{}`: {e}", ctx.shown, spec.path))?;
    }
    Ok(())
}

struct Referrer {
    namespace: String,
    cluster: bool,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    /// The roleRef's kind and apiGroup.
    role_ref: Option<(String, String)>,
    subject_namespaces: Vec<String>,
    shown: String,
}

impl Referrer {
    /// kustomize's `SubsetThatCouldBeReferencedByResource`: a cluster-scoped referrer may refer
    /// to anything; a namespaced one to cluster-scoped objects, objects in its namespace, and
    /// (a RoleBinding) objects in the namespaces its ServiceAccount subjects name.
    fn may_refer_to(&self, cluster: bool, current: &str, raw: &str) -> bool {
        self.cluster
            || cluster
            || effective(&self.namespace) == current
            || self.subject_namespaces.iter().any(|n| n == raw)
    }
}

fn rewrite(
    node: &mut Value,
    candidates: &[Candidate],
    scopes: &[Scope],
    ctx: &Referrer,
    role_ref: bool,
) -> Result<(), String> {
    match node {
        Value::String(old) => {
            if let Some(c) = choose(old, None, candidates, scopes, ctx, role_ref)? {
                *old = c.name.clone();
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite(item, candidates, scopes, ctx, role_ref)?;
            }
        }
        Value::Object(map) => {
            // A RoleBinding subject (or another `{name, namespace}` reference): the namespace
            // written there narrows the candidates and follows the chosen one.
            let Some(old) = map.get("name").and_then(Value::as_str).map(str::to_string) else { return Ok(()) };
            let ns = map.get("namespace").and_then(Value::as_str).map(str::to_string);
            if let Some(c) = choose(&old, ns.as_deref(), candidates, scopes, ctx, role_ref)? {
                map.insert("name".into(), Value::String(c.name.clone()));
                if !c.namespace.is_empty() {
                    map.insert("namespace".into(), Value::String(c.namespace.clone()));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn choose<'c>(
    old: &str,
    namespace: Option<&str>,
    candidates: &'c [Candidate],
    scopes: &[Scope],
    ctx: &Referrer,
    role_ref: bool,
) -> Result<Option<&'c Candidate>, String> {
    let mut pool: Vec<&Candidate> =
        candidates.iter().filter(|c| ctx.may_refer_to(c.cluster, effective(&c.namespace), &c.namespace)).collect();
    if let Some(ns) = namespace {
        // kustomize groups every object the referrer may refer to (of any kind) by original
        // namespace; only if none was originally in `ns` does it look at current namespaces.
        let by_original =
            scopes.iter().any(|s| !s.cluster && s.original == ns && ctx.may_refer_to(s.cluster, &s.current, &s.raw));
        pool.retain(|c| !c.cluster && effective(if by_original { &c.original_namespace } else { &c.namespace }) == ns);
    }
    pool.retain(|c| c.previous_names.iter().any(|n| n == old));
    if role_ref && let Some((kind, group)) = &ctx.role_ref {
        pool.retain(|c| c.previous_kinds.iter().any(|(k, g)| k == kind && (group.is_empty() || g == group)));
    }
    if !ctx.cluster {
        pool.retain(|c| c.cluster || c.kind == "ServiceAccount" || same_namespace(&ctx.namespace, &c.namespace));
    }
    if pool.len() > 1 {
        pool.retain(|c| same_ending(&c.prefixes, &ctx.prefixes) && same_ending(&c.suffixes, &ctx.suffixes));
    }
    match pool.as_slice() {
        [] => Ok(None),
        [first, rest @ ..] if rest.iter().all(|c| c.name == first.name) => Ok(Some(first)),
        many => Err(format!(
            "found multiple possible referrals for `{old}`: {}",
            many.iter()
                .map(|c| format!("{} {}/{}{}", c.api_version, c.kind, c.name, in_namespace(&c.namespace)))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn in_namespace(ns: &str) -> String {
    if ns.is_empty() { String::new() } else { format!(" in namespace {ns}") }
}

/// kustomize's `SameEndingSubSlice`: the shorter list is the end of the longer one (two empty
/// lists agree; an empty and a non-empty one do not).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}

/// Adds the name references a `crds:` file declares: OpenAPI definitions (kustomize's format:
/// a map of definition name to `{Schema, Dependencies}`, or a plain `definitions` map) whose
/// properties carry `x-kubernetes-object-ref-kind` (and optionally `-api-version` and
/// `-name-key`). Properties are followed through `$ref` into the other definitions; each kind
/// is a definition with `apiVersion` and `kind` properties, named by its last segment.
pub(crate) fn add_crd_references(config: &mut Config, doc: &Value) -> Result<(), String> {
    let defs = match doc.get("definitions") {
        Some(Value::Object(d)) => d,
        _ => doc.as_object().ok_or("not a map of OpenAPI definitions")?,
    };
    let schema_of = |def: &'_ Value| def.get("Schema").cloned().unwrap_or_else(|| def.clone());
    for (name, def) in defs {
        let schema = schema_of(def);
        let is_kind =
            schema.pointer("/properties/kind").is_some() && schema.pointer("/properties/apiVersion").is_some();
        if !is_kind {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name).to_string();
        let mut found = Vec::new();
        collect_refs(&schema, "", defs, &schema_of, 0, &mut found);
        for (path, ref_kind, ref_api, name_key) in found {
            let (group, version) = match ref_api.as_deref().map(split_api_version) {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (String::new(), String::new()),
            };
            let referrer = FieldSpec {
                gvk: Gvk { kind: kind.clone(), ..Default::default() },
                path: format!("{path}/{}", name_key.unwrap_or_else(|| "name".into())),
                create: false,
            };
            let gvk = Gvk { group, version, kind: ref_kind };
            match config.name_references.iter_mut().find(|r| r.gvk == gvk) {
                Some(r) if r.referrers.contains(&referrer) => {}
                Some(r) => r.referrers.push(referrer),
                None => config.name_references.push(NameReference { gvk, referrers: vec![referrer] }),
            }
        }
    }
    Ok(())
}

type Found = (String, String, Option<String>, Option<String>);

fn collect_refs(
    schema: &Value,
    path: &str,
    defs: &serde_json::Map<String, Value>,
    schema_of: &dyn Fn(&Value) -> Value,
    depth: usize,
    out: &mut Vec<Found>,
) {
    // Definitions may refer to each other in a cycle; real schemas are far shallower.
    if depth > 16 {
        return;
    }
    let Some(Value::Object(props)) = schema.get("properties") else { return };
    for (field, prop) in props {
        let here = if path.is_empty() { field.clone() } else { format!("{path}/{field}") };
        let s = |k: &str| prop.get(k).and_then(Value::as_str).map(str::to_string);
        if let Some(kind) = s("x-kubernetes-object-ref-kind") {
            out.push((
                here.clone(),
                kind,
                s("x-kubernetes-object-ref-api-version"),
                s("x-kubernetes-object-ref-name-key"),
            ));
            continue;
        }
        if let Some(target) = s("$ref").and_then(|r| defs.get(r.trim_start_matches("#/definitions/")).map(schema_of)) {
            collect_refs(&target, &here, defs, schema_of, depth + 1, out);
        } else {
            collect_refs(prop, &here, defs, schema_of, depth + 1, out);
        }
    }
}
