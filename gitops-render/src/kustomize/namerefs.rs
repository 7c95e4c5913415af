//! Name references: after every transformer, a field that names another object (a ConfigMap
//! in a Deployment's `envFrom`, a ServiceAccount in a RoleBinding's subjects...) is rewritten to
//! that object's final name, whatever prefixes, suffixes and hashes it got.
//!
//! A referrer's value may be any name the object ever had. Candidates must be of the referred
//! kind (a `roleRef` also names which kind) and, unless cluster-scoped, in the referrer's
//! namespace; between look-alikes, the one renamed with the same prefixes and suffixes as the
//! referrer wins; a reference that still fits several different objects is an error.

use gitops_core::schema::split_api_version;
use serde_json::Value;

use super::fieldspecs::{self, Config, FieldSpec, Gvk, NameReference};
use super::resource::{ResMap, Resource, same_namespace};
use super::schema::Schema;

/// What a candidate is, for matching (copied out so the referrers can be changed).
struct Candidate {
    kind: String,
    api_version: String,
    names: Vec<String>,
    /// Every namespace it has had (a subject may still name the original one).
    namespaces: Vec<String>,
    name: String,
    namespace: String,
    cluster: bool,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

fn gvk_selects(gvk: &Gvk, api_version: &str, kind: &str) -> bool {
    FieldSpec { gvk: gvk.clone(), path: String::new(), create: false }.applies_to(api_version, kind)
}

/// Rewrites every name reference in `acc`.
pub fn fix(acc: &mut ResMap, config: &Config, schema: &Schema) -> Result<(), String> {
    for reference in &config.name_references {
        let candidates: Vec<Candidate> = acc
            .items
            .iter()
            .filter(|r| gvk_selects(&reference.gvk, r.api_version(), r.kind()))
            .map(|r| Candidate {
                kind: r.kind().to_string(),
                api_version: r.api_version().to_string(),
                names: r.ids().map(|id| id.name).collect(),
                namespaces: r.ids().map(|id| id.namespace).collect(),
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
            fix_referrer(r, reference, &candidates, schema)?;
        }
    }
    Ok(())
}

fn fix_referrer(
    r: &mut Resource,
    reference: &NameReference,
    candidates: &[Candidate],
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
        role_ref_kind: r.obj.pointer("/roleRef/kind").and_then(Value::as_str).map(str::to_string),
        shown: r.id().shown(),
    };
    for spec in specs {
        let role_ref = spec.path.starts_with("roleRef");
        fieldspecs::visit(&mut r.obj, &spec.path, false, &mut |node| {
            rewrite(node, candidates, &ctx, role_ref).map_err(fieldspecs::Error::from_message)
        })
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

struct Referrer {
    namespace: String,
    cluster: bool,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    role_ref_kind: Option<String>,
    shown: String,
}

fn rewrite(node: &mut Value, candidates: &[Candidate], ctx: &Referrer, role_ref: bool) -> Result<(), String> {
    match node {
        Value::String(old) => {
            if let Some(c) = choose(old, None, candidates, ctx, role_ref)? {
                *old = c.name.clone();
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite(item, candidates, ctx, role_ref)?;
            }
        }
        Value::Object(map) => {
            // A RoleBinding subject (or another `{name, namespace}` reference): the namespace
            // written there narrows the candidates and follows the chosen one.
            let Some(old) = map.get("name").and_then(Value::as_str).map(str::to_string) else { return Ok(()) };
            let ns = map.get("namespace").and_then(Value::as_str).map(str::to_string);
            if let Some(c) = choose(&old, ns.as_deref(), candidates, ctx, role_ref)? {
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
    ctx: &Referrer,
    role_ref: bool,
) -> Result<Option<&'c Candidate>, String> {
    let mut hits: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.names.iter().any(|n| n == old))
        .filter(|c| match namespace {
            Some(ns) => c.cluster || c.namespaces.iter().any(|n| same_namespace(ns, n)),
            None => {
                c.cluster || ctx.cluster || c.kind == "ServiceAccount" || same_namespace(&ctx.namespace, &c.namespace)
            }
        })
        .collect();
    // A roleRef names its kind; it only decides between several candidates.
    if role_ref
        && hits.len() > 1
        && let Some(kind) = ctx.role_ref_kind.as_deref()
    {
        let of_kind: Vec<&Candidate> = hits.iter().copied().filter(|c| c.kind == kind).collect();
        if !of_kind.is_empty() {
            hits = of_kind;
        }
    }
    if hits.len() > 1 {
        let same_context: Vec<&Candidate> =
            hits.iter().copied().filter(|c| c.prefixes == ctx.prefixes && c.suffixes == ctx.suffixes).collect();
        if !same_context.is_empty() {
            hits = same_context;
        }
    }
    match hits.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [first, rest @ ..] if rest.iter().all(|c| c.name == first.name && c.namespace == first.namespace) => {
            Ok(Some(first))
        }
        many => Err(format!(
            "{}: found multiple possible referrals for `{old}`: {}",
            ctx.shown,
            many.iter().map(|c| format!("{} {}/{}", c.api_version, c.kind, c.name)).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Adds the name references a `crds:` file declares: OpenAPI definitions (kustomize's format:
/// a map of definition name to `{Schema, Dependencies}`, or a plain `definitions` map) whose
/// properties carry `x-kubernetes-object-ref-kind` (and optionally `-api-version` and
/// `-name-key`). Properties are followed through `$ref` into the other definitions; each kind
/// is a definition with `apiVersion` and `kind` properties, named by its last segment.
pub fn add_crd_references(config: &mut Config, doc: &Value) -> Result<(), String> {
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
