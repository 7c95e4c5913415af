//! The built-in transformers: patches, namespace, name prefix and suffix, labels, annotations,
//! replicas and images. Each returns a plain message; the build adds the file and field.

use std::collections::BTreeMap;

use regex_lite::Regex;
use serde_json::{Map, Value};

use super::fieldspecs::{self, Config, FieldSpec};
use super::file::{Image, Labels, Patch, Replicas};
use super::resource::{Id, ResMap};
use super::schema::Schema;
use super::{select, shared, smp, yaml};

/// Applies one strategic-merge patch document: to every resource `target` selects, or, without
/// a target, to the one resource the document's own id names (now or before a rename).
pub(crate) fn strategic_merge(
    acc: &mut ResMap,
    doc: &Value,
    target: Option<&select::Compiled>,
    allow_name_change: bool,
    allow_kind_change: bool,
    schema: &Schema,
) -> Result<(), String> {
    let positions = match target {
        Some(t) => (0..acc.items.len()).filter(|&i| t.matches(&acc.items[i])).collect(),
        None => {
            let id = Id::of(doc);
            let found = acc.find(&id, schema);
            match found.len() {
                1 => found,
                0 => return Err(format!("no matches for Id {}; failed to find unique target for patch", id.shown())),
                _ => {
                    return Err(format!(
                        "multiple matches for Id {}; failed to find unique target for patch",
                        id.shown()
                    ));
                }
            }
        }
    };
    let mut deleted = Vec::new();
    for i in positions {
        let r = &mut acc.items[i];
        let before = r.id();
        let ty = schema.root(&before.api_version, &before.kind);
        let snap = shared::snapshot(r);
        let keep = smp::apply(&mut r.obj, doc, ty).map_err(|e| e.to_string())?;
        if !keep {
            deleted.push(i);
            continue;
        }
        shared::propagate(r, &snap);
        restore_identity(r, &before, allow_name_change, allow_kind_change);
    }
    for i in deleted.into_iter().rev() {
        acc.items.remove(i);
    }
    Ok(())
}

/// After a patch: the namespace is always put back; the name and kind unless the patch may
/// change them, in which case the old id is remembered.
fn restore_identity(r: &mut super::resource::Resource, before: &Id, allow_name: bool, allow_kind: bool) {
    let after = r.id();
    if after.namespace != before.namespace {
        if before.namespace.is_empty() {
            if let Some(Value::Object(meta)) = r.obj.get_mut("metadata") {
                meta.remove("namespace");
            }
        } else {
            r.set_meta("namespace", before.namespace.clone());
        }
    }
    if after.name != before.name && !allow_name {
        r.set_meta("name", before.name.clone());
    }
    let kind_changed = after.kind != before.kind || after.api_version != before.api_version;
    if kind_changed
        && !allow_kind
        && let Value::Object(obj) = &mut r.obj
    {
        obj.insert("kind".into(), Value::String(before.kind.clone()));
        obj.insert("apiVersion".into(), Value::String(before.api_version.clone()));
    }
    if r.id() != *before {
        r.history.push(before.clone());
    }
}

/// One `patches` (or `patchesJson6902`) entry: its text is a strategic-merge patch (one or
/// more YAML documents) or a JSON 6902 operation list, never both.
pub(crate) fn patch(acc: &mut ResMap, source: &str, text: &str, p: &Patch, schema: &Schema) -> Result<(), String> {
    let target = match &p.target {
        Some(t) => Some(select::compile(t).map_err(|(field, e)| format!("target.{field}: {e}"))?),
        None => None,
    };
    let legacy_json = p.field.starts_with("patchesJson6902");
    // kustomize v5.5 reads a `patches` file that is exactly empty as a JSON 6902 patch without
    // operations: with a target it changes nothing, without one it needs a target. Any other
    // text that holds no patch (blank lines, comments, `---`, `null`, `[]`) parses both as an
    // empty strategic-merge patch and as an empty operation list, which kustomize refuses.
    if text.is_empty() && !legacy_json {
        return match &target {
            Some(_) => Ok(()),
            None => Err(format!(
                "{source}: the patch file is empty: kustomize reads it as a JSON 6902 patch, which needs a `target`"
            )),
        };
    }
    let docs = yaml::parse_stream(source, text).map_err(|e| e.to_string())?;
    let no_ops = match docs.as_slice() {
        [] => true,
        [Value::Array(ops)] => ops.is_empty(),
        _ => false,
    };
    if no_ops {
        return Err(if legacy_json {
            format!("{source}: patch appears to be empty (no JSON 6902 operations)")
        } else {
            format!(
                "{source}: holds no patch: kustomize reads it both as an empty strategic-merge patch and as an \
                 empty JSON 6902 patch, and refuses it (illegally qualifies as both an SM and JSON patch)"
            )
        });
    }
    if let [Value::Array(ops)] = docs.as_slice() {
        let Some(target) = &target else { return Err("a JSON 6902 patch needs a `target`".into()) };
        for r in acc.items.iter_mut().filter(|r| target.matches(r)) {
            let before = r.id();
            json6902(&mut r.obj, ops).map_err(|e| format!("applying to {}: {e}", before.shown()))?;
            // kustomize applies it to the object as JSON: shared nodes are separate afterwards.
            r.links.clear();
            if r.id() != before {
                r.history.push(before);
            }
        }
        return Ok(());
    }
    if docs.iter().any(|d| !d.is_object()) {
        return Err("neither a strategic-merge patch (YAML maps) nor a JSON 6902 patch (a list of operations)".into());
    }
    if target.is_some() && docs.len() > 1 {
        return Err("a patch with a target must hold one document".into());
    }
    for doc in &docs {
        strategic_merge(acc, doc, target.as_ref(), p.allow_name_change, p.allow_kind_change, schema)?;
    }
    Ok(())
}

/// Applies JSON 6902 operations one by one, as kustomize's json-patch (evanphx, v4) does: a
/// `replace` of a key missing from an existing map adds it (v4 reads a missing key as null
/// instead of failing; fixture 105-patchesjson6902-inline-after-prefix).
fn json6902(obj: &mut Value, ops: &[Value]) -> Result<(), String> {
    for (i, op) in ops.iter().enumerate() {
        let mut op = op.clone();
        let path = op.get("path").and_then(Value::as_str).map(str::to_string);
        if op.get("op").and_then(Value::as_str) == Some("replace")
            && let Some(path) = path
            && obj.pointer(&path).is_none()
            && let Some((parent, _)) = path.rsplit_once('/')
            && obj.pointer(parent).is_some_and(Value::is_object)
            && let Value::Object(m) = &mut op
        {
            m.insert("op".into(), Value::String("add".into()));
        }
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(vec![op]))
            .map_err(|e| format!("operation {i}: not a valid JSON 6902 operation: {e}"))?;
        json_patch::patch(obj, &patch).map_err(|e| format!("operation {i}: {e}"))?;
    }
    Ok(())
}

/// Sets the namespace of every resource not known to be cluster-scoped, and the other fields
/// kustomize's namespace transformer owns.
pub(crate) fn namespace(acc: &mut ResMap, ns: &str, config: &Config, schema: &Schema) -> Result<(), String> {
    for r in &mut acc.items {
        let before = r.id();
        let cluster = schema.is_cluster_scoped(&before.api_version, &before.kind);
        for spec in config.namespace_specs(&before.api_version, &before.kind) {
            let is_meta_ns = spec.path == "metadata/namespace";
            if is_meta_ns && cluster {
                continue;
            }
            if spec.path == "subjects" {
                set_default_subjects(&mut r.obj, ns);
                continue;
            }
            fieldspecs::visit(&mut r.obj, &spec.path, spec.create, &mut |slot| {
                *slot = Value::String(ns.to_string());
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        }
        if r.id() != before {
            r.history.push(before);
        }
    }
    let mut seen: Vec<Id> = Vec::new();
    for r in &acc.items {
        let id = r.id();
        if seen.iter().any(|s| super::resource::same_id(s, &id, schema)) {
            return Err(format!("{} would be there twice after setting the namespace", id.shown()));
        }
        seen.push(id);
    }
    Ok(())
}

/// RoleBinding subjects: only those named `default` (the default service account) move.
fn set_default_subjects(obj: &mut Value, ns: &str) {
    let Some(Value::Array(subjects)) = obj.get_mut("subjects") else { return };
    for s in subjects {
        if s.get("name").and_then(Value::as_str) == Some("default")
            && let Value::Object(m) = s
        {
            m.insert("namespace".into(), Value::String(ns.to_string()));
        }
    }
}

/// `namePrefix` and `nameSuffix`, on every kind but those kustomize skips (judged by the
/// original id), at `metadata/name` and any other name field spec that applies.
pub(crate) fn prefix_suffix(
    acc: &mut ResMap,
    prefix: Option<&str>,
    suffix: Option<&str>,
    config: &Config,
) -> Result<(), String> {
    let (p, s) = (prefix.unwrap_or(""), suffix.unwrap_or(""));
    for r in &mut acc.items {
        let orig = r.original();
        if fieldspecs::skips_name_change(&orig.api_version, &orig.kind) {
            continue;
        }
        // kustomize runs a prefix (suffix) transformer only when one is set, and it records the
        // prefix (suffix) on each object it renames: the context name references compare.
        if !p.is_empty() {
            r.prefixes.push(p.to_string());
        }
        if !s.is_empty() {
            r.suffixes.push(s.to_string());
        }
        if p.is_empty() && s.is_empty() {
            continue;
        }
        r.remember();
        let (api, kind) = (r.api_version().to_string(), r.kind().to_string());
        for (specs, add, front) in [(&config.name_prefix, p, true), (&config.name_suffix, s, false)] {
            if add.is_empty() {
                continue;
            }
            for spec in specs.iter().filter(|sp| sp.applies_to(&api, &kind)) {
                fieldspecs::visit(&mut r.obj, &spec.path, spec.create, &mut |slot| {
                    if let Value::String(name) = slot {
                        *name = if front { format!("{add}{name}") } else { format!("{name}{add}") };
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// Sets `pairs` in the string map at every field spec that applies. Per object and key, the
/// fields created in one pass share a node, and an existing field is updated in place (see
/// `shared`).
fn set_pairs<'s>(
    acc: &mut ResMap,
    specs: impl Iterator<Item = &'s FieldSpec> + Clone,
    pairs: &BTreeMap<String, String>,
) -> Result<(), String> {
    if !acc.items.is_empty()
        && let Some(key) = pairs.keys().find(|k| !yaml::plain_key_reads_as_string(k))
    {
        return Err(format!(
            "key `{key}`: kustomize writes it unquoted and reads it back as a number, boolean, null or \
             timestamp, so the object cannot be converted to JSON (kubectl kustomize fails the same way)"
        ));
    }
    for r in &mut acc.items {
        let (api, kind) = (r.api_version().to_string(), r.kind().to_string());
        for (n, (key, value)) in pairs.iter().enumerate() {
            let placeholder = shared::placeholder(n);
            let snap = shared::snapshot(r);
            for spec in specs.clone().filter(|s| s.applies_to(&api, &kind)) {
                fieldspecs::visit(&mut r.obj, &spec.path, spec.create, &mut |slot| {
                    if slot.is_null() {
                        // An existing `null` map is left alone unless the spec creates.
                        if !spec.create {
                            return Ok(());
                        }
                        *slot = Value::Object(Map::new());
                    }
                    let Value::Object(map) = slot else {
                        return Err(fieldspecs::Error::from_message(format!("`{}` is not a map", spec.path)));
                    };
                    let new = if map.contains_key(key) { value.clone() } else { placeholder.clone() };
                    map.insert(key.clone(), Value::String(new));
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
            }
            shared::propagate(r, &snap);
            shared::settle(r, &placeholder, &Value::String(value.clone()));
        }
    }
    Ok(())
}

/// One `labels` entry.
pub(crate) fn labels(acc: &mut ResMap, labels: &Labels, config: &Config) -> Result<(), String> {
    let mut fields = Vec::with_capacity(labels.fields.len());
    for (i, f) in labels.fields.iter().enumerate() {
        fields.push(fieldspecs::parse_field_spec(f).map_err(|e| format!("fields[{i}]: {e}"))?);
    }
    let specs = config
        .label_entry_specs(labels.include_selectors, labels.include_templates, fields)
        .map_err(|e| format!("fields: {e}"))?;
    set_pairs(acc, specs.iter(), &labels.pairs)
}

/// `commonLabels`.
pub(crate) fn common_labels(acc: &mut ResMap, pairs: &BTreeMap<String, String>, config: &Config) -> Result<(), String> {
    set_pairs(acc, config.common_labels.iter(), pairs)
}

/// `commonAnnotations`.
pub(crate) fn annotations(acc: &mut ResMap, pairs: &BTreeMap<String, String>, config: &Config) -> Result<(), String> {
    set_pairs(acc, config.common_annotations.iter(), pairs)
}

/// One `replicas` entry: every workload that has (or had) this name.
pub(crate) fn replicas(acc: &mut ResMap, entry: &Replicas, config: &Config) -> Result<(), String> {
    let mut hit = false;
    for r in &mut acc.items {
        if !r.ids().any(|id| id.name == entry.name) {
            continue;
        }
        let (api, kind) = (r.api_version().to_string(), r.kind().to_string());
        for spec in config.replicas.iter().filter(|s| s.applies_to(&api, &kind)) {
            hit = true;
            fieldspecs::visit(&mut r.obj, &spec.path, spec.create, &mut |slot| {
                *slot = Value::from(entry.count);
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        }
    }
    if !hit {
        return Err(format!("resource with name {} does not match a config with the following GVK {}", entry.name, {
            let kinds: Vec<String> = config.replicas.iter().map(|s| s.gvk.to_string()).collect();
            format!("[{}]", kinds.join(" "))
        }));
    }
    Ok(())
}

/// One `images` entry: every container image it matches, anywhere in `containers` and
/// `initContainers` lists, and at the image field specs. CRDs are never touched.
pub(crate) fn images(acc: &mut ResMap, image: &Image, config: &Config) -> Result<(), String> {
    // kustomize builds this pattern unescaped: the name is a live regular expression.
    let pattern = format!("^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$", image.name);
    let Ok(re) = Regex::new(&pattern) else { return Ok(()) };
    for r in &mut acc.items {
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        let (api, kind) = (r.api_version().to_string(), r.kind().to_string());
        walk_containers(&mut r.obj, &re, image);
        for spec in config.images.iter().filter(|s| s.applies_to(&api, &kind)) {
            fieldspecs::visit(&mut r.obj, &spec.path, false, &mut |slot| {
                update_image(slot, &re, image);
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn walk_containers(v: &mut Value, re: &Regex, image: &Image) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if (k == "containers" || k == "initContainers")
                    && let Value::Array(items) = child
                {
                    for c in items.iter_mut() {
                        if let Some(slot) = c.get_mut("image") {
                            update_image(slot, re, image);
                        }
                    }
                }
                walk_containers(child, re, image);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk_containers(i, re, image)),
        _ => {}
    }
}

fn update_image(slot: &mut Value, re: &Regex, image: &Image) {
    let Value::String(current) = slot else { return };
    if !re.is_match(current) {
        return;
    }
    let (mut name, mut tag, mut digest) = split_image(current);
    if !image.new_name.is_empty() {
        name = image.new_name.clone();
    }
    match (image.new_tag.is_empty(), image.digest.is_empty()) {
        (false, false) => (tag, digest) = (image.new_tag.clone(), image.digest.clone()),
        (false, true) => (tag, digest) = (image.new_tag.clone(), String::new()),
        (true, false) => (tag, digest) = (String::new(), image.digest.clone()),
        (true, true) => {}
    }
    if !image.tag_suffix.is_empty() {
        tag.push_str(&image.tag_suffix);
    }
    let mut out = name;
    if !tag.is_empty() {
        out.push(':');
        out.push_str(&tag);
    }
    if !digest.is_empty() {
        out.push('@');
        out.push_str(&digest);
    }
    *slot = Value::String(out);
}

/// Splits an image into name, tag and digest; a `:` before the first `/` is a registry port.
fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (c, Some(a)) if c.is_none_or(|c| a < c) => (image[..a].to_string(), String::new(), image[a + 1..].to_string()),
        (Some(c), Some(a)) => (image[..c].to_string(), image[c + 1..a].to_string(), image[a + 1..].to_string()),
        (Some(c), None) => (image[..c].to_string(), image[c + 1..].to_string(), String::new()),
        (None, Some(_)) => (image.to_string(), String::new(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_around_registry_ports() {
        let s = |i: &str| {
            let (n, t, d) = split_image(i);
            format!("{n}|{t}|{d}")
        };
        assert_eq!(s("nginx"), "nginx||");
        assert_eq!(s("nginx:1.25"), "nginx|1.25|");
        assert_eq!(s("localhost:5000/app"), "localhost:5000/app||");
        assert_eq!(s("localhost:5000/app:v1@sha256:abc"), "localhost:5000/app|v1|sha256:abc");
        assert_eq!(s("app@sha256:abc"), "app||sha256:abc");
    }
}
