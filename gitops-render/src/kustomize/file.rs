//! The kustomization file: reading `kustomization.yaml` into a model, as kustomize decodes it.
//!
//! kustomize decodes with Go's JSON decoder into a struct that rejects unknown fields but
//! matches field names without regard to case (`nameprefix:` works), so this reader does the
//! same: every field is looked up case-insensitively, and a field it does not know is an error
//! naming it. Fields kustomize knows but this renderer does not support (Helm charts, plugins)
//! are refused by name rather than ignored. The legacy fields kustomize folds in at build time
//! are folded here: `bases` after `resources`, `imageTags` after `images`, a generator's `env`
//! after its `envs`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::generators::{self, Behavior, Kind};

/// The file names kustomize accepts, in its order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A problem in a kustomization file: the field and what is wrong. The caller adds the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The field path, e.g. `patches[2].target.kind`.
    pub(crate) field: String,
    /// What is wrong.
    pub(crate) problem: String,
}

type Result<T> = std::result::Result<T, FieldError>;

fn fail<T>(field: impl Into<String>, problem: impl Into<String>) -> Result<T> {
    Err(FieldError { field: field.into(), problem: problem.into() })
}

/// `Kustomization` or `Component`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `kind: Kustomization` (or no kind).
    Kustomization,
    /// `kind: Component`.
    Component,
}

/// A patch's target selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selector {
    /// Group (a regular expression; empty matches any).
    pub(crate) group: String,
    /// Version (a regular expression).
    pub(crate) version: String,
    /// Kind (a regular expression).
    pub(crate) kind: String,
    /// Name (a regular expression, matched against the original or the current name).
    pub(crate) name: String,
    /// Namespace (a regular expression).
    pub(crate) namespace: String,
    /// A label selector.
    pub(crate) label_selector: String,
    /// An annotation selector.
    pub(crate) annotation_selector: String,
}

/// One entry of `patches`, `patchesStrategicMerge` or `patchesJson6902`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Patch {
    /// Where it was written, e.g. `patches[1]`.
    pub(crate) field: String,
    /// A file (relative to the kustomization) or inline text.
    pub(crate) source: PatchSource,
    /// The target selector, if any.
    pub(crate) target: Option<Selector>,
    /// `options.allowNameChange`.
    pub(crate) allow_name_change: bool,
    /// `options.allowKindChange`.
    pub(crate) allow_kind_change: bool,
}

/// Where a patch's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatchSource {
    /// A file, relative to the kustomization directory.
    Path(String),
    /// Inline text.
    Inline(String),
}

/// One `images` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Image {
    /// The image name to match (a regular expression, as kustomize uses it).
    pub(crate) name: String,
    /// The replacement name.
    pub(crate) new_name: String,
    /// The replacement tag.
    pub(crate) new_tag: String,
    /// The replacement digest.
    pub(crate) digest: String,
    /// A suffix appended to the tag.
    pub(crate) tag_suffix: String,
}

/// One `labels` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Labels {
    /// The labels.
    pub(crate) pairs: BTreeMap<String, String>,
    /// Also selectors (and templates).
    pub(crate) include_selectors: bool,
    /// Also pod templates.
    pub(crate) include_templates: bool,
    /// Extra field specs (`fields`), as written.
    pub(crate) fields: Vec<Value>,
}

/// One `replicas` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replicas {
    /// The resource name.
    pub(crate) name: String,
    /// The count.
    pub(crate) count: i64,
}

/// `sortOptions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SortOptions {
    /// `order: legacy`, with its kind lists.
    Legacy {
        /// `legacySortOptions.orderFirst`.
        order_first: Option<Vec<String>>,
        /// `legacySortOptions.orderLast`.
        order_last: Option<Vec<String>>,
    },
    /// `order: fifo`.
    Fifo,
}

/// A kustomization file, read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kustomization {
    /// `kind`.
    pub(crate) kind: Option<FileKind>,
    /// `resources` then `bases`.
    pub(crate) resources: Vec<(String, String)>,
    /// `components`.
    pub(crate) components: Vec<(String, String)>,
    /// `crds`.
    pub(crate) crds: Vec<String>,
    /// `configurations`.
    pub(crate) configurations: Vec<String>,
    /// `openapi.path`.
    pub(crate) openapi_path: Option<String>,
    /// `namePrefix`.
    pub(crate) name_prefix: Option<String>,
    /// `nameSuffix`.
    pub(crate) name_suffix: Option<String>,
    /// `namespace`.
    pub(crate) namespace: Option<String>,
    /// `commonLabels`.
    pub(crate) common_labels: BTreeMap<String, String>,
    /// `labels`.
    pub(crate) labels: Vec<Labels>,
    /// `commonAnnotations`.
    pub(crate) common_annotations: BTreeMap<String, String>,
    /// `patchesStrategicMerge`.
    pub(crate) patches_strategic_merge: Vec<Patch>,
    /// `patches`.
    pub(crate) patches: Vec<Patch>,
    /// `patchesJson6902`.
    pub(crate) patches_json6902: Vec<Patch>,
    /// `images` then `imageTags`.
    pub(crate) images: Vec<Image>,
    /// `replicas`.
    pub(crate) replicas: Vec<Replicas>,
    /// `configMapGenerator` then `secretGenerator`, with the field each came from.
    pub(crate) generators: Vec<(String, generators::Args)>,
    /// `generatorOptions`.
    pub(crate) generator_options: Option<generators::Options>,
    /// `sortOptions`.
    pub(crate) sort_options: Option<SortOptions>,
    /// `buildMetadata`.
    pub(crate) build_metadata: Vec<String>,
    /// `vars`, as written.
    pub(crate) vars: Vec<Value>,
    /// `replacements`, as written.
    pub(crate) replacements: Vec<Value>,
}

/// Looks fields up the way Go's JSON decoder does: an exact match first, then any match
/// ignoring case. The last duplicate wins, as in Go.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, prefix: &str, known: &[&str]) -> Result<Fields<'a>> {
        let shown = if prefix.is_empty() { "the file" } else { prefix };
        let Value::Object(map) = value else { return fail(shown, "must be a map") };
        for key in map.keys() {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                return fail(join(prefix, key), "unknown field");
            }
        }
        Ok(Fields { map, prefix: prefix.to_string() })
    }

    /// Go's JSON decoder sets a field from every key that names it, in the order of the JSON
    /// text, which `sigs.k8s.io/yaml` writes with sorted keys: so among keys differing only in
    /// case, the greatest in byte order wins (`nameprefix` over `namePrefix`); a `null` sets
    /// nothing.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map
            .iter()
            .filter(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null())
            .max_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, v)| v)
    }

    fn path(&self, name: &str) -> String {
        join(&self.prefix, name)
    }

    fn string(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => scalar_string(v)
                .map(Some)
                .ok_or_else(|| FieldError { field: self.path(name), problem: NOT_A_STRING.into() }),
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => fail(self.path(name), "must be true or false"),
        }
    }

    fn strings(&self, name: &str) -> Result<Vec<String>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    scalar_string(v).ok_or_else(|| FieldError {
                        field: format!("{}[{i}]", self.path(name)),
                        problem: "must be a string".into(),
                    })
                })
                .collect(),
            Some(_) => fail(self.path(name), "must be a list of strings"),
        }
    }

    fn list(&self, name: &str) -> Result<&'a [Value]> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => fail(self.path(name), "must be a list"),
        }
    }

    /// Go's JSON decoder fills one map from every key naming the field (`commonLabels` and
    /// `commonlabels` add up), in sorted key order.
    fn string_map(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let mut keys: Vec<(&String, &Value)> =
            self.map.iter().filter(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null()).collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = BTreeMap::new();
        for (_, value) in keys {
            let Value::Object(m) = value else { return fail(self.path(name), "must be a map of strings") };
            for (k, v) in m {
                let text = match v {
                    Value::Null => String::new(),
                    v => scalar_string(v).ok_or_else(|| FieldError {
                        field: format!("{}.{k}", self.path(name)),
                        problem: NOT_A_STRING.into(),
                    })?,
                };
                out.insert(k.clone(), text);
            }
        }
        Ok(out)
    }
}

/// kustomize reads its kustomization as YAML 1.1, where more words than `true` are booleans.
const NOT_A_STRING: &str =
    "must be a string (quote numbers and booleans; unquoted yes, no, on, off, y and n are booleans here)";

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

/// A string field: Go's decoder refuses numbers and booleans there (`nameSuffix: -01` or a
/// label value `1` must be quoted), and so do we.
fn scalar_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

const TOP: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// Reads a kustomization from its parsed YAML.
pub(crate) fn read(doc: &Value) -> Result<Kustomization> {
    let f = Fields::new(doc, "", TOP)?;
    for unsupported in
        ["helmGlobals", "helmCharts", "helmChartInflationGenerator", "generators", "transformers", "validators"]
    {
        if f.get(unsupported).is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty())) {
            return fail(unsupported, "not supported by the native renderer (no Helm or plugins inside kustomize)");
        }
    }
    let mut k = Kustomization { kind: read_kind(&f)?, ..Default::default() };
    let entries = |field: &str| -> Result<Vec<(String, String)>> {
        Ok(f.strings(field)?.into_iter().enumerate().map(|(i, item)| (format!("{field}[{i}]"), item)).collect())
    };
    k.resources = entries("resources")?;
    k.resources.extend(entries("bases")?);
    k.components = entries("components")?;
    k.crds = f.strings("crds")?;
    k.configurations = f.strings("configurations")?;
    if let Some(openapi) = f.get("openapi") {
        let o = Fields::new(openapi, "openapi", &["path", "version"])?;
        let path = o.string("path")?;
        let version = o.string("version")?;
        match (path, version) {
            (Some(_), Some(_)) => return fail("openapi", "builtin version and custom schema provided; give one"),
            (Some(p), None) => k.openapi_path = Some(p),
            (None, Some(v)) if v == "v1.21.2" || v.is_empty() => {}
            (None, Some(v)) => return fail("openapi.version", format!("`{v}` is not a built-in version (v1.21.2)")),
            (None, None) => {}
        }
    }
    k.name_prefix = f.string("namePrefix")?;
    k.name_suffix = f.string("nameSuffix")?;
    // kustomize skips its namespace transformer for an empty namespace.
    k.namespace = f.string("namespace")?.filter(|n| !n.is_empty());
    k.common_labels = f.string_map("commonLabels")?;
    k.common_annotations = f.string_map("commonAnnotations")?;
    for (i, item) in f.list("labels")?.iter().enumerate() {
        k.labels.push(read_labels(item, &format!("labels[{i}]"))?);
    }
    for (i, item) in f.list("patchesStrategicMerge")?.iter().enumerate() {
        let field = format!("patchesStrategicMerge[{i}]");
        let Some(text) = item.as_str() else { return fail(field, "must be a file path or inline YAML") };
        // An entry is inline YAML when it reads as a map; otherwise it names a file.
        let inline = text.contains('\n') || text.trim_start().starts_with('{');
        let source = if inline { PatchSource::Inline(text.to_string()) } else { PatchSource::Path(text.to_string()) };
        k.patches_strategic_merge.push(Patch {
            field,
            source,
            target: None,
            allow_name_change: false,
            allow_kind_change: false,
        });
    }
    for (i, item) in f.list("patches")?.iter().enumerate() {
        k.patches.push(read_patch(item, &format!("patches[{i}]"), true)?);
    }
    for (i, item) in f.list("patchesJson6902")?.iter().enumerate() {
        k.patches_json6902.push(read_patch(item, &format!("patchesJson6902[{i}]"), false)?);
    }
    for field in ["images", "imageTags"] {
        for (i, item) in f.list(field)?.iter().enumerate() {
            k.images.push(read_image(item, &format!("{field}[{i}]"))?);
        }
    }
    for (i, item) in f.list("replicas")?.iter().enumerate() {
        let field = format!("replicas[{i}]");
        let r = Fields::new(item, &field, &["name", "count"])?;
        let name = r.string("name")?.unwrap_or_default();
        let count = match r.get("count") {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| FieldError { field: r.path("count"), problem: "must be a whole number".into() })?,
            None => 0,
            Some(_) => return fail(r.path("count"), "must be a number"),
        };
        k.replicas.push(Replicas { name, count });
    }
    for (field, kind) in [("configMapGenerator", Kind::ConfigMap), ("secretGenerator", Kind::Secret)] {
        for (i, item) in f.list(field)?.iter().enumerate() {
            let at = format!("{field}[{i}]");
            k.generators.push((at.clone(), read_generator(item, &at, kind)?));
        }
    }
    if let Some(options) = f.get("generatorOptions") {
        k.generator_options = Some(read_options(options, "generatorOptions")?);
    }
    if let Some(sort) = f.get("sortOptions") {
        k.sort_options = Some(read_sort(sort)?);
    }
    k.build_metadata = f.strings("buildMetadata")?;
    k.vars = f.list("vars")?.to_vec();
    k.replacements = f.list("replacements")?.to_vec();
    Ok(k)
}

/// kustomize refuses a kustomization whose decoded form is all zero values: every field absent,
/// `null`, `""` or `false` (`kind` and `apiVersion` do not count), where the legacy `bases` and
/// `imageTags` count as absent when empty, because they are folded into `resources` and `images`.
/// An empty list or map elsewhere (`resources: []`) is not empty.
pub(crate) fn is_empty(doc: &Value) -> bool {
    let Value::Object(map) = doc else { return doc.is_null() };
    map.iter().all(|(key, value)| {
        let legacy = key.eq_ignore_ascii_case("bases") || key.eq_ignore_ascii_case("imageTags");
        key.eq_ignore_ascii_case("kind")
            || key.eq_ignore_ascii_case("apiVersion")
            || match value {
                Value::Null | Value::Bool(false) => true,
                Value::String(s) => s.is_empty(),
                Value::Array(items) => legacy && items.is_empty(),
                _ => false,
            }
    })
}

/// Applies an app's overrides to the top kustomization, as `kustomize edit` would write them.
pub(crate) fn apply_overrides(k: &mut Kustomization, o: &super::Overrides) -> Result<()> {
    if let Some(p) = &o.name_prefix {
        k.name_prefix = Some(p.clone());
    }
    if let Some(s) = &o.name_suffix {
        k.name_suffix = Some(s.clone());
    }
    if let Some(ns) = &o.namespace {
        k.namespace = Some(ns.clone());
    }
    k.common_labels.extend(o.common_labels.clone());
    k.common_annotations.extend(o.common_annotations.clone());
    for (i, item) in o.images.iter().enumerate() {
        let field = format!("overrides.images[{i}]");
        let image = match item {
            Value::String(text) => parse_image_override(text).ok_or_else(|| FieldError {
                field: field.clone(),
                problem: format!("`{text}` is not an image (name=newName:tag@digest)"),
            })?,
            other => read_image(other, &field)?,
        };
        match k.images.iter_mut().find(|i| i.name == image.name) {
            Some(existing) => *existing = image,
            None => k.images.push(image),
        }
    }
    for (i, item) in o.replicas.iter().enumerate() {
        let field = format!("overrides.replicas[{i}]");
        let r = Fields::new(item, &field, &["name", "count"])?;
        let name = r.string("name")?.unwrap_or_default();
        let count = r
            .get("count")
            .and_then(|c| c.as_i64().or_else(|| c.as_str()?.parse().ok()))
            .ok_or_else(|| FieldError { field: r.path("count"), problem: "must be a whole number".into() })?;
        match k.replicas.iter_mut().find(|r| r.name == name) {
            Some(existing) => existing.count = count,
            None => k.replicas.push(Replicas { name, count }),
        }
    }
    for (i, item) in o.patches.iter().enumerate() {
        k.patches.push(read_patch(item, &format!("overrides.patches[{i}]"), true)?);
    }
    Ok(())
}

/// `kustomize edit set image` syntax: `[name=]newName[:tag][@digest]`, or `name:tag` /
/// `name@digest` to keep the name.
fn parse_image_override(text: &str) -> Option<Image> {
    let (name, target) = match text.split_once('=') {
        Some((n, t)) => (Some(n), t),
        None => (None, text),
    };
    let (rest, digest) = match target.split_once('@') {
        Some((r, d)) => (r, d.to_string()),
        None => (target, String::new()),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (new_name, new_tag) = match rest[slash..].split_once(':') {
        Some((n, t)) => (format!("{}{n}", &rest[..slash]), t.to_string()),
        None => (rest.to_string(), String::new()),
    };
    if new_name.is_empty() {
        return None;
    }
    Some(match name {
        Some(n) => Image { name: n.to_string(), new_name, new_tag, digest, tag_suffix: String::new() },
        None => Image { name: new_name, new_name: String::new(), new_tag, digest, tag_suffix: String::new() },
    })
}

fn read_kind(f: &Fields<'_>) -> Result<Option<FileKind>> {
    let kind = match f.string("kind")?.as_deref() {
        None | Some("") => None,
        Some("Kustomization") => Some(FileKind::Kustomization),
        Some("Component") => Some(FileKind::Component),
        Some(other) => return fail("kind", format!("`{other}` is neither Kustomization nor Component")),
    };
    if let Some(api) = f.string("apiVersion")?.filter(|a| !a.is_empty()) {
        let expected = match kind {
            Some(FileKind::Component) => "kustomize.config.k8s.io/v1alpha1",
            _ => "kustomize.config.k8s.io/v1beta1",
        };
        if api != expected {
            return fail("apiVersion", format!("`{api}` does not go with this kind; expected {expected}"));
        }
    }
    Ok(kind)
}

fn read_labels(item: &Value, field: &str) -> Result<Labels> {
    let l = Fields::new(item, field, &["pairs", "includeSelectors", "includeTemplates", "fields"])?;
    Ok(Labels {
        pairs: l.string_map("pairs")?,
        include_selectors: l.bool("includeSelectors")?.unwrap_or(false),
        include_templates: l.bool("includeTemplates")?.unwrap_or(false),
        fields: l.list("fields")?.to_vec(),
    })
}

fn read_selector(value: &Value, field: &str) -> Result<Selector> {
    let t = Fields::new(
        value,
        field,
        &["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"],
    )?;
    let get = |name: &str| t.string(name).map(Option::unwrap_or_default);
    Ok(Selector {
        group: get("group")?,
        version: get("version")?,
        kind: get("kind")?,
        name: get("name")?,
        namespace: get("namespace")?,
        label_selector: get("labelSelector")?,
        annotation_selector: get("annotationSelector")?,
    })
}

fn read_patch(item: &Value, field: &str, modern: bool) -> Result<Patch> {
    let known: &[&str] = if modern { &["path", "patch", "target", "options"] } else { &["path", "patch", "target"] };
    let p = Fields::new(item, field, known)?;
    // kustomize treats a blank inline patch as no patch at all.
    let inline = p.string("patch")?.filter(|t| !t.trim().is_empty());
    let source = match (p.string("path")?, inline) {
        (Some(_), Some(_)) => return fail(field, "give either `path` or `patch`, not both"),
        (Some(path), None) => PatchSource::Path(path),
        (None, Some(text)) => PatchSource::Inline(text),
        (None, None) => return fail(field, "needs `path` or `patch` (a blank `patch` counts as none)"),
    };
    let target = p.get("target").map(|t| read_selector(t, &p.path("target"))).transpose()?;
    if !modern && target.is_none() {
        return fail(p.path("target"), "missing: a JSON 6902 patch needs a target");
    }
    let (mut allow_name_change, mut allow_kind_change) = (false, false);
    if let Some(options) = p.get("options") {
        let o = Fields::new(options, &p.path("options"), &["allowNameChange", "allowKindChange"])?;
        allow_name_change = o.bool("allowNameChange")?.unwrap_or(false);
        allow_kind_change = o.bool("allowKindChange")?.unwrap_or(false);
    }
    Ok(Patch { field: field.to_string(), source, target, allow_name_change, allow_kind_change })
}

fn read_image(item: &Value, field: &str) -> Result<Image> {
    let i = Fields::new(item, field, &["name", "newName", "newTag", "digest", "tagSuffix"])?;
    let get = |name: &str| i.string(name).map(Option::unwrap_or_default);
    Ok(Image {
        name: get("name")?,
        new_name: get("newName")?,
        new_tag: get("newTag")?,
        digest: get("digest")?,
        tag_suffix: get("tagSuffix")?,
    })
}

fn read_options(value: &Value, field: &str) -> Result<generators::Options> {
    let o = Fields::new(value, field, &["labels", "annotations", "disableNameSuffixHash", "immutable"])?;
    Ok(generators::Options {
        labels: o.string_map("labels")?,
        annotations: o.string_map("annotations")?,
        disable_name_suffix_hash: o.bool("disableNameSuffixHash")?,
        immutable: o.bool("immutable")?,
    })
}

fn read_generator(item: &Value, field: &str, kind: Kind) -> Result<generators::Args> {
    let known: &[&str] = match kind {
        Kind::ConfigMap => &["name", "namespace", "behavior", "literals", "files", "envs", "env", "options"],
        Kind::Secret => &["name", "namespace", "behavior", "literals", "files", "envs", "env", "options", "type"],
    };
    let g = Fields::new(item, field, known)?;
    let behavior = Behavior::parse(&g.string("behavior")?.unwrap_or_default())
        .map_err(|e| FieldError { field: g.path("behavior"), problem: e.to_string() })?;
    let mut envs = g.strings("envs")?;
    envs.extend(g.string("env")?.filter(|e| !e.is_empty()));
    Ok(generators::Args {
        kind,
        name: g.string("name")?.unwrap_or_default(),
        namespace: g.string("namespace")?.filter(|n| !n.is_empty()),
        behavior,
        envs,
        literals: g.strings("literals")?,
        files: g.strings("files")?,
        secret_type: g.string("type")?.filter(|t| !t.is_empty()),
        options: g.get("options").map(|o| read_options(o, &g.path("options"))).transpose()?,
    })
}

fn read_sort(value: &Value) -> Result<SortOptions> {
    let s = Fields::new(value, "sortOptions", &["order", "legacySortOptions"])?;
    match s.string("order")?.as_deref() {
        Some("fifo") => {
            if s.get("legacySortOptions").is_some() {
                return fail("sortOptions.legacySortOptions", "only allowed with `order: legacy`");
            }
            Ok(SortOptions::Fifo)
        }
        Some("legacy") => {
            let (mut order_first, mut order_last) = (None, None);
            if let Some(l) = s.get("legacySortOptions") {
                let l = Fields::new(l, "sortOptions.legacySortOptions", &["orderFirst", "orderLast"])?;
                order_first = l.get("orderFirst").map(|_| l.strings("orderFirst")).transpose()?;
                order_last = l.get("orderLast").map(|_| l.strings("orderLast")).transpose()?;
            }
            Ok(SortOptions::Legacy { order_first, order_last })
        }
        other => fail("sortOptions.order", format!("`{}` is not `legacy` or `fifo`", other.unwrap_or(""))),
    }
}
