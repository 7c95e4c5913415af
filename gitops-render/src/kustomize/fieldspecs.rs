//! Field specs: where kustomize's built-in transformers look inside an object, and the walker
//! that visits those places.
//!
//! A field spec is a group/version/kind selector (an empty part matches anything) plus a
//! slash-separated path and a `create` flag. The tables below are kustomize v5.5.0's built-in
//! transformer configuration exactly as `kubectl kustomize` holds it in memory: a
//! `configurations` file whose merge fails makes kubectl print the whole merged configuration,
//! and the tables were copied from that print, in its order (kustomize sorts each table by
//! kind rank, then `group_version_kind`). Every table was then exercised with probe
//! kustomizations (labels, annotations, namespace, prefix and suffix, name references, vars,
//! images, replicas, each with kinds in other groups and versions) and agreed.
//!
//! Two namespace rules live in kustomize's code rather than in its table; they are listed in
//! [`Config::namespace`] so one table drives the namespace transformer: `metadata/namespace`
//! (set only on objects not known to be cluster-scoped) and RoleBinding/ClusterRoleBinding
//! `subjects` (only subjects named `default` move).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::OnceLock;

pub use gitops_core::schema::split_api_version;

use super::order::{ORDER_FIRST, ORDER_LAST};
use serde_json::{Map, Value};

/// Why a field spec could not be followed or a configuration not merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The path runs into a scalar where it has to go on into a map or a list.
    #[error(
        "field `{path}`: `{at}` is {found}, but the path goes on below it (kustomize: expected sequence or mapping node)"
    )]
    NotTraversable {
        /// The field spec's path.
        path: String,
        /// The part of the path that was reached.
        at: String,
        /// What was found there, e.g. `a number`.
        found: &'static str,
    },
    /// The path holds an empty field name (`//`, a trailing `/` or a bare `[]`).
    #[error(
        "field `{path}`: empty field name (a `//`, a trailing `/` or a bare `[]`); kustomize cannot set or create it"
    )]
    EmptyField {
        /// The field spec's path.
        path: String,
    },
    /// A configurations file or a field spec is malformed.
    #[error("`{field}`: {problem}")]
    Invalid {
        /// Where, e.g. `commonLabels[2].create`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// Two field specs for the same path disagree on `create` (kustomize: conflicting fieldspecs).
    #[error(
        "`{field}`: conflicting fieldspecs: `{path}` for {gvk} with `create: {create}` clashes with the same path for {other} with `create: {other_create}`"
    )]
    Conflict {
        /// The table, e.g. `commonLabels`.
        field: String,
        /// The path both specs name.
        path: String,
        /// The incoming spec's group/version/kind, in kustomize's notation.
        gvk: String,
        /// The incoming spec's `create`.
        create: bool,
        /// The spec already listed.
        other: String,
        /// Its `create`.
        other_create: bool,
    },
    /// A message from a visitor callback.
    #[error("{0}")]
    Message(String),
}

impl Error {
    /// An error a visitor callback reports as it is.
    pub fn from_message(message: String) -> Error {
        Error::Message(message)
    }

    fn invalid(field: &str, problem: impl Into<String>) -> Error {
        Error::Invalid { field: field.to_string(), problem: problem.into() }
    }
}

/// A group/version/kind selector; an empty part matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gvk {
    /// The API group (`apps`); empty matches any group, the core group included.
    pub group: String,
    /// The version (`v1`); empty matches any.
    pub version: String,
    /// The kind (`Deployment`); empty matches any.
    pub kind: String,
}

impl Gvk {
    /// A selector from its three parts.
    pub fn new(group: &str, version: &str, kind: &str) -> Gvk {
        Gvk { group: group.to_string(), version: version.to_string(), kind: kind.to_string() }
    }

    /// Whether an object of this apiVersion and kind is selected.
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        let (group, version) = split_api_version(api_version);
        self.selects(group, version, kind)
    }

    /// Whether `self`, taken as an object's id, is selected by `selector` (kustomize's
    /// `IsSelected`): every non-empty part of `selector` equals the same part of `self`.
    pub fn is_selected_by(&self, selector: &Gvk) -> bool {
        selector.selects(&self.group, &self.version, &self.kind)
    }

    fn selects(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }

    /// Kustomize's table order (`Gvk.IsLessThan`): kind rank first, then the
    /// `group_version_kind` string with empty parts spelled `~G`, `~V`, `~K`.
    pub fn kustomize_cmp(&self, other: &Gvk) -> Ordering {
        kind_rank(&self.kind).cmp(&kind_rank(&other.kind)).then_with(|| self.sort_string().cmp(&other.sort_string()))
    }

    fn sort_string(&self) -> String {
        let (group, version, kind) = (&self.group, &self.version, &self.kind);
        format!("{}_{}_{}", or_placeholder(group, "~G"), or_placeholder(version, "~V"), or_placeholder(kind, "~K"))
    }
}

/// Kustomize's notation, as in its messages: `Deployment.[noVer].apps`.
impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, version, group) = (&self.kind, &self.version, &self.group);
        write!(
            f,
            "{}.{}.{}",
            or_placeholder(kind, "[noKind]"),
            or_placeholder(version, "[noVer]"),
            or_placeholder(group, "[noGrp]")
        )
    }
}

fn or_placeholder<'a>(part: &'a str, placeholder: &'a str) -> &'a str {
    if part.is_empty() { placeholder } else { part }
}

// Kustomize sorts its field spec tables with the same kind ranks as its legacy output order.
fn kind_rank(kind: &str) -> i32 {
    if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        return i as i32 - ORDER_FIRST.len() as i32;
    }
    ORDER_LAST.iter().position(|k| *k == kind).map_or(0, |i| i as i32 + 1)
}

/// One field spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Which objects it applies to.
    pub gvk: Gvk,
    /// Slash-separated path; `\/` is a slash inside a key, a `[]` suffix marks a list.
    pub path: String,
    /// Whether missing maps (and the last field) are created.
    pub create: bool,
}

impl FieldSpec {
    /// A field spec from its parts.
    pub fn new(group: &str, version: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
        FieldSpec { gvk: Gvk::new(group, version, kind), path: path.to_string(), create }
    }

    /// Whether it applies to an object of this apiVersion and kind.
    pub fn applies_to(&self, api_version: &str, kind: &str) -> bool {
        self.gvk.matches(api_version, kind)
    }
}

/// Kustomize's notation: `Deployment.[noVer].apps:true:spec/selector/matchLabels`.
impl fmt::Display for FieldSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.gvk, self.create, self.path)
    }
}

/// A kind that is referred to by name, and the fields that refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameReference {
    /// The referred kind.
    pub gvk: Gvk,
    /// The fields naming it. A path ending at a map (`subjects`, `webhooks/clientConfig/service`,
    /// Node `spec/configSource/configMap`) refers by that map's `name` and `namespace`.
    pub referrers: Vec<FieldSpec>,
}

/// The field spec tables a build uses: the built-ins plus any `configurations:` files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `commonLabels`, and `labels` entries with `includeSelectors`.
    pub common_labels: Vec<FieldSpec>,
    /// `labels` entries with `includeTemplates`, besides [`Config::metadata_labels`].
    pub template_labels: Vec<FieldSpec>,
    /// Every `labels` entry: `metadata/labels`.
    pub metadata_labels: Vec<FieldSpec>,
    /// Every `labels` entry, whatever its flags: the `labels` key of `configurations` files
    /// (empty built in; `commonLabels` ignores it).
    pub labels: Vec<FieldSpec>,
    /// `commonAnnotations`.
    pub common_annotations: Vec<FieldSpec>,
    /// `namePrefix`: every field listed gets the prefix (built in: `metadata/name`), on objects
    /// [`skips_name_change`] does not exempt.
    pub name_prefix: Vec<FieldSpec>,
    /// `nameSuffix`, as [`Config::name_prefix`].
    pub name_suffix: Vec<FieldSpec>,
    /// `namespace`; filter it with [`Config::namespace_specs`]. `metadata/namespace` is only for
    /// objects not known to be cluster-scoped; `subjects` only moves subjects named `default`.
    pub namespace: Vec<FieldSpec>,
    /// `images`.
    pub images: Vec<FieldSpec>,
    /// `replicas`.
    pub replicas: Vec<FieldSpec>,
    /// Name references, fixed once at the top of a build.
    pub name_references: Vec<NameReference>,
    /// `vars`: the fields where `$(VAR)` is expanded.
    pub var_references: Vec<FieldSpec>,
}

/// Whether `namePrefix`/`nameSuffix` leave this object alone (kustomize checks the object's
/// original id): any CustomResourceDefinition or Namespace, and APIService in
/// `apiregistration.k8s.io`. Cluster-scoped kinds such as ClusterRole are renamed.
pub fn skips_name_change(api_version: &str, kind: &str) -> bool {
    let (group, _) = split_api_version(api_version);
    kind == "CustomResourceDefinition"
        || kind == "Namespace"
        || (kind == "APIService" && group == "apiregistration.k8s.io")
}

impl Config {
    /// kustomize's built-in tables.
    pub fn builtin() -> &'static Config {
        static BUILTIN: OnceLock<Config> = OnceLock::new();
        BUILTIN.get_or_init(|| Config {
            common_labels: specs(COMMON_LABELS),
            template_labels: specs(TEMPLATE_LABELS),
            metadata_labels: specs(METADATA_LABELS),
            labels: Vec::new(),
            common_annotations: specs(COMMON_ANNOTATIONS),
            name_prefix: specs(NAME_PREFIX),
            name_suffix: specs(NAME_SUFFIX),
            namespace: namespace_table(),
            images: specs(IMAGES),
            replicas: specs(REPLICAS),
            name_references: NAME_REFERENCES
                .iter()
                .map(|((group, version, kind), referrers)| NameReference {
                    gvk: Gvk::new(group, version, kind),
                    referrers: specs(referrers),
                })
                .collect(),
            var_references: specs(VAR_REFERENCES),
        })
    }

    /// Adds the specs of a `configurations:` file (one YAML document, already parsed to JSON;
    /// kustomize reads only the first document of the file) as kustomize merges them: a spec
    /// whose path is already listed for an object its selector covers is dropped, or is an
    /// error if the two disagree on `create`; name references of a kind already listed join
    /// its referrers. Keys are matched as Go's JSON decoder does (exact, then ignoring case)
    /// and unknown keys are errors, as in kustomize.
    pub fn merge_configuration(&mut self, doc: &Value) -> Result<(), Error> {
        let map = match doc {
            Value::Null => return Ok(()),
            Value::Object(map) => map,
            other => {
                let found = describe(other);
                return Err(Error::invalid(
                    "",
                    format!("a configurations file is a map of field spec lists, not {found}"),
                ));
            }
        };
        let mut tables: Vec<(Table, Vec<FieldSpec>)> = Vec::new();
        let mut references = Vec::new();
        for (index, key, value) in known_keys(map, CONFIG_KEYS, "")? {
            match CONFIG_TABLES.get(index) {
                Some(&table) => {
                    let list = parse_specs(value, key)?;
                    tables.retain(|(t, _)| *t != table);
                    tables.push((table, list));
                }
                None => references = parse_references(value, key)?,
            }
        }
        for (table, incoming) in tables {
            self.merge_table(table, incoming)?;
        }
        self.merge_references(references)
    }

    /// Merges the configuration a base (or remote base) ended with into this one, as kustomize
    /// merges a base's accumulator into its parent's: table by table, each spec not already
    /// listed joins (a different `create` for the same path is an error), then each table is
    /// sorted again.
    pub fn merge_config(&mut self, other: &Config) -> Result<(), Error> {
        for &table in CONFIG_TABLES {
            let incoming = match table {
                Table::NamePrefix => &other.name_prefix,
                Table::NameSuffix => &other.name_suffix,
                Table::Namespace => &other.namespace,
                Table::CommonLabels => &other.common_labels,
                Table::Labels => &other.labels,
                Table::TemplateLabels => &other.template_labels,
                Table::CommonAnnotations => &other.common_annotations,
                Table::VarReference => &other.var_references,
                Table::Images => &other.images,
                Table::Replicas => &other.replicas,
            };
            let current = self.table_mut(table);
            merge_specs(current, incoming.clone(), table.key())?;
            current.sort_by(|a, b| a.gvk.kustomize_cmp(&b.gvk));
        }
        for reference in &other.name_references {
            merge_reference(&mut self.name_references, reference.clone())?;
        }
        self.name_references.sort_by(|a, b| a.gvk.kustomize_cmp(&b.gvk));
        Ok(())
    }

    /// The `namespace` specs for an object: those that apply, less `metadata/name` unless the
    /// apiVersion is exactly `v1` (kustomize renames only core Namespace objects).
    pub fn namespace_specs<'s, 'k>(
        &'s self,
        api_version: &'k str,
        kind: &'k str,
    ) -> impl Iterator<Item = &'s FieldSpec> + use<'s, 'k> {
        self.namespace
            .iter()
            .filter(move |s| s.applies_to(api_version, kind) && (s.path != "metadata/name" || api_version == "v1"))
    }

    /// The specs of one `labels` entry (before its own `fields`): `includeSelectors` means the
    /// `commonLabels` table, `includeTemplates` adds the pod-template paths to `metadata/labels`;
    /// the `labels` key of `configurations` files joins every entry.
    pub fn label_specs(&self, include_selectors: bool, include_templates: bool) -> impl Iterator<Item = &FieldSpec> {
        let (base, templates): (&[FieldSpec], &[FieldSpec]) = if include_selectors {
            (&self.common_labels, &[])
        } else if include_templates {
            (&self.metadata_labels, &self.template_labels)
        } else {
            (&self.metadata_labels, &[])
        };
        base.iter().chain(templates).chain(&self.labels)
    }

    /// The specs of one `labels` entry with its own `fields`: kustomize starts from `fields` and
    /// merges the built-in specs into them, so a field spec for the same path decides (a
    /// `MyApp` `metadata/labels` spec keeps the label off every other kind) and one with another
    /// `create` is an error, as in kustomize ("failed to merge labels: conflicting fieldspecs").
    pub fn label_entry_specs(
        &self,
        include_selectors: bool,
        include_templates: bool,
        mut fields: Vec<FieldSpec>,
    ) -> Result<Vec<FieldSpec>, Error> {
        if fields.is_empty() {
            return Ok(self.label_specs(include_selectors, include_templates).cloned().collect());
        }
        let (base, templates): (&[FieldSpec], &[FieldSpec]) = if include_selectors {
            (&self.common_labels, &[])
        } else if include_templates {
            (&self.metadata_labels, &self.template_labels)
        } else {
            (&self.metadata_labels, &[])
        };
        merge_specs(&mut fields, base.iter().chain(templates).cloned().collect(), "labels")?;
        fields.extend(self.labels.iter().cloned());
        Ok(fields)
    }

    fn table_mut(&mut self, table: Table) -> &mut Vec<FieldSpec> {
        match table {
            Table::NamePrefix => &mut self.name_prefix,
            Table::NameSuffix => &mut self.name_suffix,
            Table::Namespace => &mut self.namespace,
            Table::CommonLabels => &mut self.common_labels,
            Table::Labels => &mut self.labels,
            Table::TemplateLabels => &mut self.template_labels,
            Table::CommonAnnotations => &mut self.common_annotations,
            Table::VarReference => &mut self.var_references,
            Table::Images => &mut self.images,
            Table::Replicas => &mut self.replicas,
        }
    }

    /// kustomize merges the file into an empty config, the result into the defaults, sorts,
    /// and merges that into the (empty) accumulator's config: the last step re-checks the
    /// sorted table against itself, which is where a narrower spec with another `create`
    /// than a broader one fails.
    fn merge_table(&mut self, table: Table, incoming: Vec<FieldSpec>) -> Result<(), Error> {
        let field = table.key();
        let mut file = Vec::with_capacity(incoming.len());
        merge_specs(&mut file, incoming, field)?;
        let current = self.table_mut(table);
        merge_specs(current, file, field)?;
        current.sort_by(|a, b| a.gvk.kustomize_cmp(&b.gvk));
        let sorted = std::mem::take(current);
        merge_specs(current, sorted, field)
    }

    fn merge_references(&mut self, incoming: Vec<NameReference>) -> Result<(), Error> {
        let mut file: Vec<NameReference> = Vec::new();
        for reference in incoming {
            merge_reference(&mut file, reference)?;
        }
        for reference in file {
            merge_reference(&mut self.name_references, reference)?;
        }
        self.name_references.sort_by(|a, b| a.gvk.kustomize_cmp(&b.gvk));
        Ok(())
    }
}

/// kustomize's namespace table plus the two rules its filter hard-codes, in kustomize's order.
fn namespace_table() -> Vec<FieldSpec> {
    let mut table: Vec<FieldSpec> =
        [NAMESPACE, NAMESPACE_SUBJECTS, NAMESPACE_META].into_iter().flat_map(specs).collect();
    table.sort_by(|a, b| a.gvk.kustomize_cmp(&b.gvk));
    table
}

/// A name reference of a kind already listed (same group, version and kind) joins its referrers.
fn merge_reference(into: &mut Vec<NameReference>, reference: NameReference) -> Result<(), Error> {
    match into.iter_mut().find(|r| r.gvk == reference.gvk) {
        Some(existing) => merge_specs(&mut existing.referrers, reference.referrers, "nameReference"),
        None => {
            into.push(reference);
            Ok(())
        }
    }
}

/// kustomize's `FsSlice.MergeOne`: an incoming spec is "already there" when an existing spec
/// with the same path is selected by the incoming selector (so a kind-less spec matches a
/// Deployment one); the first such spec decides, and a different `create` is an error.
fn merge_specs(existing: &mut Vec<FieldSpec>, incoming: Vec<FieldSpec>, field: &str) -> Result<(), Error> {
    for spec in incoming {
        match existing.iter().find(|e| e.path == spec.path && e.gvk.is_selected_by(&spec.gvk)) {
            Some(e) if e.create != spec.create => {
                return Err(Error::Conflict {
                    field: field.to_string(),
                    path: spec.path,
                    gvk: spec.gvk.to_string(),
                    create: spec.create,
                    other: e.gvk.to_string(),
                    other_create: e.create,
                });
            }
            Some(_) => {}
            None => existing.push(spec),
        }
    }
    Ok(())
}

/// The field spec tables of a configurations file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    NamePrefix,
    NameSuffix,
    Namespace,
    CommonLabels,
    Labels,
    TemplateLabels,
    CommonAnnotations,
    VarReference,
    Images,
    Replicas,
}

/// The keys of kustomize's `TransformerConfig`; `nameReference` is last (it is not a table).
const CONFIG_KEYS: &[&str] = &[
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "templateLabels",
    "commonAnnotations",
    "varReference",
    "images",
    "replicas",
    "nameReference",
];
const CONFIG_TABLES: &[Table] = &[
    Table::NamePrefix,
    Table::NameSuffix,
    Table::Namespace,
    Table::CommonLabels,
    Table::Labels,
    Table::TemplateLabels,
    Table::CommonAnnotations,
    Table::VarReference,
    Table::Images,
    Table::Replicas,
];

impl Table {
    fn key(self) -> &'static str {
        CONFIG_TABLES.iter().position(|t| *t == self).and_then(|i| CONFIG_KEYS.get(i)).copied().unwrap_or("")
    }
}

const SPEC_KEYS: &[&str] = &["group", "version", "kind", "path", "create"];
const REFERENCE_KEYS: &[&str] = &["group", "version", "kind", "fieldSpecs"];

/// Parses one field spec as kustomize decodes it: keys `group`, `version`, `kind`, `path`,
/// `create` (case-insensitive, unknown keys refused); numbers and booleans in the string
/// fields read as their text, `null` as empty or false.
pub fn parse_field_spec(value: &Value) -> Result<FieldSpec, Error> {
    parse_spec(value, "")
}

fn parse_spec(value: &Value, field: &str) -> Result<FieldSpec, Error> {
    let map = as_map(value, field, "a field spec (group, version, kind, path, create)")?;
    let mut spec = FieldSpec { gvk: Gvk::default(), path: String::new(), create: false };
    for (index, key, value) in known_keys(map, SPEC_KEYS, field)? {
        let here = join(field, key);
        match index {
            0 => spec.gvk.group = string_value(value, &here)?,
            1 => spec.gvk.version = string_value(value, &here)?,
            2 => spec.gvk.kind = string_value(value, &here)?,
            3 => spec.path = string_value(value, &here)?,
            _ => spec.create = bool_value(value, &here)?,
        }
    }
    Ok(spec)
}

fn parse_specs(value: &Value, field: &str) -> Result<Vec<FieldSpec>, Error> {
    list_value(value, field)?.iter().enumerate().map(|(i, v)| parse_spec(v, &format!("{field}[{i}]"))).collect()
}

fn parse_references(value: &Value, field: &str) -> Result<Vec<NameReference>, Error> {
    let mut out = Vec::new();
    for (i, item) in list_value(value, field)?.iter().enumerate() {
        let here = format!("{field}[{i}]");
        let map = as_map(item, &here, "a name reference (group, version, kind, fieldSpecs)")?;
        let mut reference = NameReference { gvk: Gvk::default(), referrers: Vec::new() };
        for (index, key, value) in known_keys(map, REFERENCE_KEYS, &here)? {
            let at = join(&here, key);
            match index {
                0 => reference.gvk.group = string_value(value, &at)?,
                1 => reference.gvk.version = string_value(value, &at)?,
                2 => reference.gvk.kind = string_value(value, &at)?,
                _ => reference.referrers = parse_specs(value, &at)?,
            }
        }
        out.push(reference);
    }
    Ok(out)
}

/// The keys of `map` resolved against `known` as Go's JSON decoder does: an exact match, else a
/// match ignoring case. Returns (index into `known`, key, value) in map order; later entries
/// overwrite earlier ones for the same field, as in Go.
fn known_keys<'a>(
    map: &'a Map<String, Value>,
    known: &[&str],
    field: &str,
) -> Result<Vec<(usize, &'a str, &'a Value)>, Error> {
    map.iter()
        .map(|(key, value)| {
            let index = known
                .iter()
                .position(|k| k == key)
                .or_else(|| known.iter().position(|k| k.eq_ignore_ascii_case(key)))
                .ok_or_else(|| {
                    Error::invalid(&join(field, key), format!("unknown field (known: {})", known.join(", ")))
                })?;
            Ok((index, key.as_str(), value))
        })
        .collect()
}

fn as_map<'a>(value: &'a Value, field: &str, what: &str) -> Result<&'a Map<String, Value>, Error> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Error::invalid(field, format!("must be {what}, not {}", describe(other)))),
    }
}

fn list_value<'a>(value: &'a Value, field: &str) -> Result<&'a [Value], Error> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(&[]),
        other => Err(Error::invalid(field, format!("must be a list, not {}", describe(other)))),
    }
}

/// kustomize reads YAML into Go strings through the struct's types, so scalars become text.
fn string_value(value: &Value, field: &str) -> Result<String, Error> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(Error::invalid(field, format!("must be a string, not {}", describe(other)))),
    }
}

fn bool_value(value: &Value, field: &str) -> Result<bool, Error> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(Error::invalid(field, format!("must be true or false, not {}", describe(other)))),
    }
}

fn join(field: &str, key: &str) -> String {
    if field.is_empty() { key.to_string() } else { format!("{field}.{key}") }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Calls `f` on every value at `path` inside `obj`, as kustomize's field spec filter does.
///
/// Lists met along the path are entered element by element (the path does not name them);
/// `\/` escapes a slash inside a key, one leading `/` is ignored, and a `[]` suffix marks a
/// field as a list: it is never created, and a `null` there becomes `[]`. With `create`,
/// missing or `null` maps along the way are created, and a missing last field is inserted as
/// `Value::Null` for `f` to fill. Without `create` missing fields are skipped, but an existing
/// `null` last field is still passed to `f` (kustomize's map setters leave it alone, its
/// scalar setters overwrite it). A scalar where the path has to go on is an error, as is an
/// empty field name, exactly where kustomize errors.
pub fn visit(
    obj: &mut Value,
    path: &str,
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), Error>,
) -> Result<(), Error> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    Walker { path, create, f }.node(obj, Some(rest))
}

struct Walker<'p, 'f> {
    path: &'p str,
    create: bool,
    f: &'f mut dyn FnMut(&mut Value) -> Result<(), Error>,
}

impl Walker<'_, '_> {
    /// `rest` is the path still to follow; `None` once it is used up.
    fn node(&mut self, node: &mut Value, rest: Option<&str>) -> Result<(), Error> {
        let Some(rest) = rest else { return (self.f)(node) };
        match node {
            Value::Null => Ok(()),
            Value::Array(items) => items.iter_mut().try_for_each(|item| self.node(item, Some(rest))),
            Value::Object(map) => self.field(map, rest),
            other => Err(self.not_traversable(rest, other)),
        }
    }

    fn field(&mut self, map: &mut Map<String, Value>, rest: &str) -> Result<(), Error> {
        let (segment, next) = next_segment(rest);
        let (name, is_list) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (&*segment, false),
        };
        if name.is_empty() {
            return Err(Error::EmptyField { path: self.path.to_string() });
        }
        let creating = self.create && !is_list;
        if !map.contains_key(name) {
            if !creating {
                return Ok(());
            }
            let slot = if next.is_some() { Value::Object(Map::new()) } else { Value::Null };
            map.insert(name.to_string(), slot);
        }
        let Some(child) = map.get_mut(name) else { return Ok(()) };
        if child.is_null() {
            if is_list {
                *child = Value::Array(Vec::new());
            } else if creating && next.is_some() {
                *child = Value::Object(Map::new());
            }
        }
        self.node(child, next)
    }

    fn not_traversable(&self, rest: &str, found: &Value) -> Error {
        let done = self.path.len().saturating_sub(rest.len());
        let at = self.path.get(..done).unwrap_or(self.path).trim_end_matches('/');
        Error::NotTraversable { path: self.path.to_string(), at: at.to_string(), found: describe(found) }
    }
}

/// The first segment of `rest` and what follows it, as kustomize's `PathSplitter` splits:
/// a piece ending in `\` is joined to the next with a `/` (the `\` dropped).
fn next_segment(rest: &str) -> (Cow<'_, str>, Option<&str>) {
    let Some((head, mut tail)) = rest.split_once('/') else { return (Cow::Borrowed(rest), None) };
    let Some(escaped) = head.strip_suffix('\\') else { return (Cow::Borrowed(head), Some(tail)) };
    let mut segment = String::from(escaped);
    loop {
        segment.push('/');
        let Some((piece, after)) = tail.split_once('/') else {
            segment.push_str(tail);
            return (Cow::Owned(segment), None);
        };
        match piece.strip_suffix('\\') {
            Some(escaped) => {
                segment.push_str(escaped);
                tail = after;
            }
            None => {
                segment.push_str(piece);
                return (Cow::Owned(segment), Some(after));
            }
        }
    }
}

/// (group, version, kind, path, create)
type Row = (&'static str, &'static str, &'static str, &'static str, bool);
/// (group, version, kind) of a referred kind.
type Referral = (&'static str, &'static str, &'static str);

const CREATE: bool = true;
const EXISTING: bool = false;

fn specs(rows: &[Row]) -> Vec<FieldSpec> {
    rows.iter()
        .map(|(group, version, kind, path, create)| FieldSpec::new(group, version, kind, path, *create))
        .collect()
}

/// Every `labels` entry: the one path kustomize's labels transformer always sets.
#[rustfmt::skip]
const METADATA_LABELS: &[Row] = &[
    ("", "", "", "metadata/labels", CREATE),
];

/// Hard-coded in kustomize's namespace filter rather than in its table: RoleBinding and
/// ClusterRoleBinding `subjects` (any group; only subjects named `default` move) ...
#[rustfmt::skip]
const NAMESPACE_SUBJECTS: &[Row] = &[
    ("", "", "RoleBinding", "subjects", EXISTING),
    ("", "", "ClusterRoleBinding", "subjects", EXISTING),
];

/// ... and `metadata/namespace`, only on objects not known to be cluster-scoped.
#[rustfmt::skip]
const NAMESPACE_META: &[Row] = &[
    ("", "", "", "metadata/namespace", CREATE),
];

/// `namePrefix`: the fields that get the prefix.
#[rustfmt::skip]
const NAME_PREFIX: &[Row] = &[
    ("", "", "", "metadata/name", EXISTING),
];

/// `nameSuffix`: the fields that get the suffix.
#[rustfmt::skip]
const NAME_SUFFIX: &[Row] = &[
    ("", "", "", "metadata/name", EXISTING),
];

/// `namespace`: kustomize's table. Its `metadata/name` entry only ever applies to apiVersion `v1`
/// (kustomize's filter drops it for every other apiVersion; see [`Config::namespace_specs`]).
#[rustfmt::skip]
const NAMESPACE: &[Row] = &[
    ("", "", "Namespace", "metadata/name", CREATE),
    ("apiextensions.k8s.io", "", "CustomResourceDefinition", "spec/conversion/webhook/clientConfig/service/namespace", EXISTING),
    ("apiregistration.k8s.io", "", "APIService", "spec/service/namespace", CREATE),
];

/// `commonLabels` and `labels` with `includeSelectors`.
#[rustfmt::skip]
const COMMON_LABELS: &[Row] = &[
    ("", "v1", "Service", "spec/selector", CREATE),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", EXISTING),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", EXISTING),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", EXISTING),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", EXISTING),
    ("apps", "", "Deployment", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", EXISTING),
    ("", "", "Deployment", "spec/template/metadata/labels", CREATE),
    ("", "", "Deployment", "spec/selector/matchLabels", CREATE),
    ("apps", "", "StatefulSet", "spec/selector/matchLabels", CREATE),
    ("apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", CREATE),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", EXISTING),
    ("policy", "", "PodDisruptionBudget", "spec/selector/matchLabels", EXISTING),
    ("batch", "", "Job", "spec/selector/matchLabels", EXISTING),
    ("batch", "", "Job", "spec/template/metadata/labels", CREATE),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", EXISTING),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", EXISTING),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/podSelector/matchLabels", EXISTING),
    ("", "v1", "ReplicationController", "spec/template/metadata/labels", CREATE),
    ("", "v1", "ReplicationController", "spec/selector", CREATE),
    ("", "", "DaemonSet", "spec/template/metadata/labels", CREATE),
    ("", "", "DaemonSet", "spec/selector/matchLabels", CREATE),
    ("", "", "ReplicaSet", "spec/template/metadata/labels", CREATE),
    ("", "", "ReplicaSet", "spec/selector/matchLabels", CREATE),
    ("", "", "", "metadata/labels", CREATE),
];

/// `labels` with `includeTemplates`, less the `metadata/labels` entry kustomize also lists here
/// (it is [`METADATA_LABELS`]).
#[rustfmt::skip]
const TEMPLATE_LABELS: &[Row] = &[
    ("", "", "Deployment", "spec/template/metadata/labels", CREATE),
    ("apps", "", "StatefulSet", "spec/template/metadata/labels", CREATE),
    ("apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", CREATE),
    ("batch", "", "Job", "spec/template/metadata/labels", CREATE),
    ("", "v1", "ReplicationController", "spec/template/metadata/labels", CREATE),
    ("", "", "DaemonSet", "spec/template/metadata/labels", CREATE),
    ("", "", "ReplicaSet", "spec/template/metadata/labels", CREATE),
];

/// `commonAnnotations`.
#[rustfmt::skip]
const COMMON_ANNOTATIONS: &[Row] = &[
    ("", "", "Deployment", "spec/template/metadata/annotations", CREATE),
    ("", "", "StatefulSet", "spec/template/metadata/annotations", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/annotations", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", CREATE),
    ("batch", "", "Job", "spec/template/metadata/annotations", CREATE),
    ("", "v1", "ReplicationController", "spec/template/metadata/annotations", CREATE),
    ("", "", "DaemonSet", "spec/template/metadata/annotations", CREATE),
    ("", "", "ReplicaSet", "spec/template/metadata/annotations", CREATE),
    ("", "", "", "metadata/annotations", CREATE),
];

/// `vars`: where `$(VAR)` is expanded. The CronJob `spec/jobTemplate/spec/template/volumes/nfs/server`
/// entry lacks a `spec/` in kustomize too, so it never matches a real CronJob.
#[rustfmt::skip]
const VAR_REFERENCES: &[Row] = &[
    ("", "", "Service", "spec/ports/port", EXISTING),
    ("", "", "Service", "spec/ports/targetPort", EXISTING),
    ("", "", "PersistentVolume", "spec/nfs/server", EXISTING),
    ("", "", "Deployment", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "Deployment", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "Deployment", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "Deployment", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "Deployment", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "Deployment", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "Deployment", "spec/template/spec/volumes/nfs/server", EXISTING),
    ("", "", "Deployment", "spec/template/metadata/annotations", EXISTING),
    ("", "", "Deployment", "spec/template/spec/containers/command", EXISTING),
    ("", "", "Deployment", "spec/template/spec/containers/args", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/containers/command", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/containers/args", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/command", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/args", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/env/value", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/command", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/volumes/nfs/server", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/args", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/containers/command", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/volumes/nfs/server", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/containers/args", EXISTING),
    ("", "", "Ingress", "spec/tls/secretName", EXISTING),
    ("", "", "Ingress", "spec/tls/hosts", EXISTING),
    ("", "", "Ingress", "spec/rules/host", EXISTING),
    ("", "", "Job", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "Job", "spec/template/spec/volumes/nfs/server", EXISTING),
    ("", "", "Job", "spec/template/spec/containers/args", EXISTING),
    ("", "", "Job", "spec/template/spec/containers/command", EXISTING),
    ("", "", "Job", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "Job", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "Job", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "Job", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "Job", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "Pod", "spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "Pod", "spec/containers/args", EXISTING),
    ("", "", "Pod", "spec/initContainers/command", EXISTING),
    ("", "", "Pod", "spec/initContainers/env/value", EXISTING),
    ("", "", "Pod", "spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "Pod", "spec/volumes/nfs/server", EXISTING),
    ("", "", "Pod", "spec/initContainers/args", EXISTING),
    ("", "", "Pod", "spec/containers/env/value", EXISTING),
    ("", "", "Pod", "spec/containers/command", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/volumes/nfs/server", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/containers/command", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/containers/args", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "", "metadata/labels", EXISTING),
    ("", "", "", "metadata/annotations", EXISTING),
];

/// `images`: kustomize lists them with `create: true`, but its image filter never creates a field.
#[rustfmt::skip]
const IMAGES: &[Row] = &[
    ("", "", "", "spec/containers[]/image", CREATE),
    ("", "", "", "spec/initContainers[]/image", CREATE),
    ("", "", "", "spec/template/spec/containers[]/image", CREATE),
    ("", "", "", "spec/template/spec/initContainers[]/image", CREATE),
];

/// `replicas`.
#[rustfmt::skip]
const REPLICAS: &[Row] = &[
    ("", "", "Deployment", "spec/replicas", CREATE),
    ("", "", "StatefulSet", "spec/replicas", CREATE),
    ("", "", "ReplicaSet", "spec/replicas", CREATE),
    ("", "", "ReplicationController", "spec/replicas", CREATE),
];

/// Name references: each referral kind and the fields that name it. Kustomize's own quirks are
/// kept: Secret lists Ingress `spec/tls/secretName` twice, and IngressClass has the group
/// `networking.k8s.io/v1`, so no real IngressClass is ever matched.
#[rustfmt::skip]
const NAME_REFERENCES: &[(Referral, &[Row])] = &[
    (("storage.k8s.io", "v1", "StorageClass"), &[
        ("", "", "PersistentVolume", "spec/storageClassName", EXISTING),
        ("", "", "PersistentVolumeClaim", "spec/storageClassName", EXISTING),
        ("", "", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName", EXISTING),
    ]),
    (("", "v1", "ServiceAccount"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "subjects", EXISTING),
        ("rbac.authorization.k8s.io", "", "ClusterRoleBinding", "subjects", EXISTING),
        ("", "", "Pod", "spec/serviceAccountName", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "Deployment", "spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "ReplicationController", "spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "Job", "spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/serviceAccountName", EXISTING),
    ]),
    (("rbac.authorization.k8s.io", "", "Role"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name", EXISTING),
    ]),
    (("rbac.authorization.k8s.io", "", "ClusterRole"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name", EXISTING),
        ("rbac.authorization.k8s.io", "", "ClusterRoleBinding", "roleRef/name", EXISTING),
    ]),
    (("", "v1", "ConfigMap"), &[
        ("", "v1", "Pod", "spec/volumes/configMap/name", EXISTING),
        ("", "v1", "Pod", "spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "v1", "Pod", "spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "v1", "Pod", "spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "v1", "Pod", "spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "v1", "Pod", "spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/volumes/configMap/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "Job", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Node", "spec/configSource/configMap", EXISTING),
        ("", "", "Role", "rules/resourceNames", EXISTING),
        ("", "", "ClusterRole", "rules/resourceNames", EXISTING),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap", EXISTING),
    ]),
    (("", "v1", "Secret"), &[
        ("", "v1", "Pod", "spec/volumes/secret/secretName", EXISTING),
        ("", "v1", "Pod", "spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "v1", "Pod", "spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "v1", "Pod", "spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "v1", "Pod", "spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "v1", "Pod", "spec/imagePullSecrets/name", EXISTING),
        ("", "v1", "Pod", "spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "PodTemplate", "template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "Deployment", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "Job", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "Ingress", "spec/tls/secretName", EXISTING),
        ("", "", "Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret", EXISTING),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret", EXISTING),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret", EXISTING),
        ("", "", "Ingress", "spec/tls/secretName", EXISTING),
        ("", "", "ServiceAccount", "imagePullSecrets/name", EXISTING),
        ("", "", "StorageClass", "parameters/secretName", EXISTING),
        ("", "", "StorageClass", "parameters/adminSecretName", EXISTING),
        ("", "", "StorageClass", "parameters/userSecretName", EXISTING),
        ("", "", "StorageClass", "parameters/secretRef", EXISTING),
        ("", "", "Role", "rules/resourceNames", EXISTING),
        ("", "", "ClusterRole", "rules/resourceNames", EXISTING),
        ("serving.knative.dev", "v1", "Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "PersistentVolume", "spec/azureFile/secretName", EXISTING),
    ]),
    (("", "v1", "Service"), &[
        ("apps", "", "StatefulSet", "spec/serviceName", EXISTING),
        ("", "", "Ingress", "spec/rules/http/paths/backend/serviceName", EXISTING),
        ("", "", "Ingress", "spec/backend/serviceName", EXISTING),
        ("", "", "Ingress", "spec/rules/http/paths/backend/service/name", EXISTING),
        ("", "", "Ingress", "spec/defaultBackend/service/name", EXISTING),
        ("apiregistration.k8s.io", "", "APIService", "spec/service/name", EXISTING),
        ("admissionregistration.k8s.io", "", "ValidatingWebhookConfiguration", "webhooks/clientConfig/service", EXISTING),
        ("admissionregistration.k8s.io", "", "MutatingWebhookConfiguration", "webhooks/clientConfig/service", EXISTING),
    ]),
    (("scheduling.k8s.io", "v1", "PriorityClass"), &[
        ("", "", "Pod", "spec/priorityClassName", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/priorityClassName", EXISTING),
        ("", "", "Deployment", "spec/template/spec/priorityClassName", EXISTING),
        ("", "", "ReplicationController", "spec/template/spec/priorityClassName", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/priorityClassName", EXISTING),
        ("", "", "Job", "spec/template/spec/priorityClassName", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/priorityClassName", EXISTING),
    ]),
    (("", "v1", "PersistentVolume"), &[
        ("", "", "PersistentVolumeClaim", "spec/volumeName", EXISTING),
        ("", "", "ClusterRole", "rules/resourceNames", EXISTING),
    ]),
    (("", "v1", "PersistentVolumeClaim"), &[
        ("", "", "Pod", "spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "ReplicationController", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
    ]),
    (("", "", "Deployment"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", EXISTING),
    ]),
    (("", "", "StatefulSet"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", EXISTING),
    ]),
    (("admissionregistration.k8s.io", "", "ValidatingAdmissionPolicy"), &[
        ("admissionregistration.k8s.io", "", "ValidatingAdmissionPolicyBinding", "spec/policyName", EXISTING),
    ]),
    (("networking.k8s.io/v1", "v1", "IngressClass"), &[
        ("", "", "Ingress", "spec/ingressClassName", EXISTING),
    ]),
    (("", "", "ReplicaSet"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", EXISTING),
    ]),
    (("", "", "ReplicationController"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", EXISTING),
    ]),
];

#[cfg(test)]
mod tests {
    //! Every expected value below is what `kubectl kustomize` (kustomize v5.5.0) produced for the
    //! same input when probed; the label and namespace helpers mimic kustomize's setters.

    use serde_json::json;

    use super::*;

    /// kustomize's label setter: a created slot becomes a map; an existing `null` is left alone.
    fn set_labels(obj: &mut Value, specs: &[&FieldSpec]) -> Result<(), Error> {
        let api = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        for spec in specs.iter().filter(|s| s.applies_to(&api, &kind)) {
            visit(obj, &spec.path, spec.create, &mut |slot| {
                if slot.is_null() {
                    if !spec.create {
                        return Ok(());
                    }
                    *slot = json!({});
                }
                let Value::Object(map) = slot else { return Err(Error::from_message("not a map".into())) };
                map.insert("x".into(), json!("lbl"));
                Ok(())
            })?;
        }
        Ok(())
    }

    fn common_labels(obj: &mut Value) -> Result<(), Error> {
        let specs: Vec<&FieldSpec> = Config::builtin().common_labels.iter().collect();
        set_labels(obj, &specs)
    }

    fn object(api: &str, kind: &str, spec: Value) -> Value {
        json!({"apiVersion": api, "kind": kind, "metadata": {"name": "e"}, "spec": spec})
    }

    #[test]
    fn common_labels_on_bare_objects_match_kubectl() {
        let lbl = json!({"x": "lbl"});
        let sel_tmpl = json!({"x": 1, "selector": {"matchLabels": lbl}, "template": {"metadata": {"labels": lbl}}});
        let cases = [
            ("v1", "Service", json!({"x": 1, "selector": lbl})),
            ("ex.com/v1", "Service", json!({"x": 1, "selector": lbl})),
            ("ex.com/v2", "Service", json!({"x": 1})),
            (
                "v1",
                "ReplicationController",
                json!({"x": 1, "selector": lbl, "template": {"metadata": {"labels": lbl}}}),
            ),
            ("ex.com/v2", "ReplicationController", json!({"x": 1})),
            ("apps/v1", "Deployment", sel_tmpl.clone()),
            ("ex.com/v1", "Deployment", sel_tmpl.clone()),
            ("ex.com/v1", "DaemonSet", sel_tmpl.clone()),
            ("apps/v1", "StatefulSet", sel_tmpl.clone()),
            ("ex.com/v1", "StatefulSet", json!({"x": 1})),
            ("batch/v1", "Job", json!({"x": 1, "template": {"metadata": {"labels": lbl}}})),
            (
                "batch/v1",
                "CronJob",
                json!({"x": 1, "jobTemplate": {"metadata": {"labels": lbl}, "spec": {"template": {"metadata": {"labels": lbl}}}}}),
            ),
            ("policy/v1", "PodDisruptionBudget", json!({"x": 1})),
            ("networking.k8s.io/v1", "NetworkPolicy", json!({"x": 1})),
            ("v1", "Pod", json!({"x": 1})),
        ];
        for (api, kind, want) in cases {
            let mut obj = object(api, kind, json!({"x": 1}));
            common_labels(&mut obj).expect("labels");
            assert_eq!(obj["spec"], want, "{api} {kind}");
            assert_eq!(obj["metadata"]["labels"], lbl, "{api} {kind}");
        }
    }

    fn full_pod_spec() -> Value {
        let term = json!({"labelSelector": {"matchLabels": {"m": "v"}}, "topologyKey": "t"});
        json!({
            "affinity": {
                "podAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": term}],
                    "requiredDuringSchedulingIgnoredDuringExecution": [term],
                },
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term, {"topologyKey": "u"}]},
            },
            "topologySpreadConstraints": [term, {"topologyKey": "u"}],
        })
    }

    #[test]
    fn affinity_selectors_only_for_apps_deployments_and_existing_maps() {
        let labelled = json!({"labelSelector": {"matchLabels": {"m": "v", "x": "lbl"}}, "topologyKey": "t"});
        let mut apps = object("apps/v1", "Deployment", json!({"template": {"spec": full_pod_spec()}}));
        common_labels(&mut apps).expect("labels");
        let spec = &apps["spec"]["template"]["spec"];
        assert_eq!(spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0], labelled);
        assert_eq!(
            spec["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"],
            labelled
        );
        assert_eq!(
            spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json!([labelled, {"topologyKey": "u"}])
        );
        assert_eq!(spec["topologySpreadConstraints"], json!([labelled, {"topologyKey": "u"}]));

        let mut other = object("ex.com/v1", "Deployment", json!({"template": {"spec": full_pod_spec()}}));
        common_labels(&mut other).expect("labels");
        assert_eq!(other["spec"]["template"]["spec"], full_pod_spec());
    }

    #[test]
    fn selectors_that_must_exist_are_not_created() {
        let exprs = json!({"matchExpressions": [{"key": "a", "operator": "Exists"}]});
        let mut job = object("batch/v1", "Job", json!({"selector": exprs.clone()}));
        common_labels(&mut job).expect("labels");
        assert_eq!(job["spec"]["selector"], exprs);
        let mut np = object(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {}}}, {"ipBlock": {}}]}]}),
        );
        common_labels(&mut np).expect("labels");
        assert_eq!(
            np["spec"],
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"x": "lbl"}}}, {"ipBlock": {}}]}]})
        );
    }

    #[test]
    fn volume_claim_templates_are_a_list_never_created() {
        let mut sts =
            object("apps/v1", "StatefulSet", json!({"volumeClaimTemplates": [{}, {"metadata": null}, {"spec": {}}]}));
        common_labels(&mut sts).expect("labels");
        let lbl = json!({"labels": {"x": "lbl"}});
        assert_eq!(
            sts["spec"]["volumeClaimTemplates"],
            json!([{"metadata": lbl}, {"metadata": lbl}, {"metadata": lbl, "spec": {}}])
        );

        let mut bare = object("apps/v1", "StatefulSet", json!({}));
        common_labels(&mut bare).expect("labels");
        assert_eq!(bare["spec"].get("volumeClaimTemplates"), None);

        let mut null = object("apps/v1", "StatefulSet", json!({"volumeClaimTemplates": null}));
        common_labels(&mut null).expect("labels");
        assert_eq!(null["spec"]["volumeClaimTemplates"], json!([]));

        let mut map = object("apps/v1", "StatefulSet", json!({"volumeClaimTemplates": {"metadata": {}}}));
        common_labels(&mut map).expect("labels");
        assert_eq!(map["spec"]["volumeClaimTemplates"], json!({"metadata": {"labels": {"x": "lbl"}}}));
    }

    #[test]
    fn lists_on_the_path_are_entered_and_scalars_are_errors() {
        let mut empty = object("apps/v1", "Deployment", json!([]));
        common_labels(&mut empty).expect("labels");
        assert_eq!(empty["spec"], json!([]));

        let mut list = object("apps/v1", "Deployment", json!([{}]));
        common_labels(&mut list).expect("labels");
        let lbl = json!({"x": "lbl"});
        assert_eq!(
            list["spec"],
            json!([{"selector": {"matchLabels": lbl}, "template": {"metadata": {"labels": lbl}}}])
        );

        let mut null = object("apps/v1", "Deployment", Value::Null);
        common_labels(&mut null).expect("labels");
        assert_eq!(null["spec"], json!({"selector": {"matchLabels": lbl}, "template": {"metadata": {"labels": lbl}}}));

        for spec in [json!(5), json!("str"), json!([1, 2]), json!({"template": {"spec": {"affinity": 5}}})] {
            let mut obj = object("apps/v1", "Deployment", spec.clone());
            let err = common_labels(&mut obj).expect_err("kubectl: expected sequence or mapping node");
            assert!(matches!(err, Error::NotTraversable { .. }), "{spec}: {err}");
        }
        let mut sts = object("apps/v1", "StatefulSet", json!({"volumeClaimTemplates": [5]}));
        assert!(matches!(common_labels(&mut sts), Err(Error::NotTraversable { .. })));
        let mut job = object("batch/v1", "Job", json!({"selector": 5}));
        let err = common_labels(&mut job).expect_err("scalar selector");
        assert_eq!(
            err,
            Error::NotTraversable {
                path: "spec/selector/matchLabels".into(),
                at: "spec/selector".into(),
                found: "a number"
            }
        );
    }

    #[test]
    fn null_last_fields() {
        // create: false and null: kustomize's label setter leaves it; its scalar setters fill it.
        let mut job = object("batch/v1", "Job", json!({"selector": {"matchLabels": null}}));
        common_labels(&mut job).expect("labels");
        assert_eq!(job["spec"]["selector"], json!({"matchLabels": null}));
        let mut seen = Vec::new();
        visit(&mut job, "spec/selector/matchLabels", false, &mut |slot| {
            seen.push(slot.clone());
            Ok(())
        })
        .expect("visit");
        assert_eq!(seen, vec![Value::Null]);
        // create: true and null becomes a map.
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n", "labels": null}});
        common_labels(&mut cm).expect("labels");
        assert_eq!(cm["metadata"]["labels"], json!({"x": "lbl"}));
    }

    #[test]
    fn path_syntax_follows_kustomize() {
        let mut obj =
            json!({"spec": {"x": {}}, "metadata": {"annotations": {"nginx.ingress.kubernetes.io/auth-secret": "s"}}});
        let mut found = Vec::new();
        visit(&mut obj, r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-secret", false, &mut |slot| {
            found.push(slot.clone());
            Ok(())
        })
        .expect("visit");
        assert_eq!(found, vec![json!("s")]);

        let set = |obj: &mut Value, path: &str| {
            visit(obj, path, true, &mut |slot| {
                *slot = json!("v");
                Ok(())
            })
        };
        set(&mut obj, "/spec/lead").expect("one leading slash is dropped");
        set(&mut obj, r"spec/a\/b/c").expect("escaped slash");
        set(&mut obj, "spec/x[]/y").expect("a map where a list is marked");
        set(&mut obj, "spec/z[]/y").expect("missing list: skipped");
        set(&mut obj, "spec/k[a=b]/y").expect("no selector syntax");
        assert_eq!(obj["spec"], json!({"lead": "v", "a/b": {"c": "v"}, "x": {"y": "v"}, "k[a=b]": {"y": "v"}}));
        for bad in ["//spec/q", "spec//q", "spec/q/", "spec/x/[]", ""] {
            assert_eq!(set(&mut obj, bad), Err(Error::EmptyField { path: bad.to_string() }), "{bad}");
        }
    }

    #[test]
    fn template_and_annotation_tables() {
        let config = Config::builtin();
        let paths = |specs: Vec<&FieldSpec>, api: &str, kind: &str| -> Vec<String> {
            specs.into_iter().filter(|s| s.applies_to(api, kind)).map(|s| s.path.clone()).collect()
        };
        let templates = paths(config.label_specs(false, true).collect(), "batch/v1beta1", "CronJob");
        assert_eq!(
            templates,
            ["metadata/labels", "spec/jobTemplate/metadata/labels", "spec/jobTemplate/spec/template/metadata/labels"]
        );
        let sts = paths(config.label_specs(false, true).collect(), "apps/v1", "StatefulSet");
        assert_eq!(
            sts,
            ["metadata/labels", "spec/template/metadata/labels", "spec/volumeClaimTemplates[]/metadata/labels"]
        );
        assert_eq!(paths(config.label_specs(false, false).collect(), "apps/v1", "Deployment"), ["metadata/labels"]);
        // kubectl: a StatefulSet in any group gets template annotations, a Job only in batch.
        let annotations = |api: &str, kind: &str| paths(config.common_annotations.iter().collect(), api, kind);
        assert_eq!(
            annotations("ex.com/v1", "StatefulSet"),
            ["spec/template/metadata/annotations", "metadata/annotations"]
        );
        assert_eq!(annotations("ex.com/v1", "Job"), ["metadata/annotations"]);
        assert_eq!(
            annotations("ex.com/v1", "ReplicationController"),
            ["spec/template/metadata/annotations", "metadata/annotations"]
        );
    }

    #[test]
    fn namespace_specs_match_kubectl() {
        let config = Config::builtin();
        let paths = |api: &str, kind: &str| -> Vec<String> {
            config.namespace_specs(api, kind).map(|s| s.path.clone()).collect()
        };
        assert_eq!(paths("v1", "Namespace"), ["metadata/name", "metadata/namespace"]);
        assert_eq!(paths("ex.com/v1", "Namespace"), ["metadata/namespace"]);
        assert_eq!(paths("v2", "Namespace"), ["metadata/namespace"]);
        assert_eq!(paths("ex.com/v1", "RoleBinding"), ["subjects", "metadata/namespace"]);
        assert_eq!(paths("ex.com/v1", "APIService"), ["metadata/namespace"]);

        // kubectl: APIService spec/service/namespace is created, the CRD conversion one is not,
        // but an existing null there is set.
        let set = |obj: &mut Value| {
            let (api, kind) = (
                obj["apiVersion"].as_str().unwrap_or_default().to_string(),
                obj["kind"].as_str().unwrap_or_default().to_string(),
            );
            for spec in config.namespace_specs(&api, &kind).filter(|s| s.path.starts_with("spec/")) {
                visit(obj, &spec.path, spec.create, &mut |slot| {
                    *slot = json!("nsx");
                    Ok(())
                })
                .expect("namespace");
            }
        };
        let mut api_service = object("apiregistration.k8s.io/v1", "APIService", json!({}));
        set(&mut api_service);
        assert_eq!(api_service["spec"], json!({"service": {"namespace": "nsx"}}));
        let mut crd = object("apiextensions.k8s.io/v1", "CustomResourceDefinition", json!({}));
        set(&mut crd);
        assert_eq!(crd["spec"], json!({}));
        let mut crd_null = object(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            json!({"conversion": {"webhook": {"clientConfig": {"service": {"name": "s", "namespace": null}}}}}),
        );
        set(&mut crd_null);
        assert_eq!(
            crd_null["spec"]["conversion"]["webhook"]["clientConfig"]["service"],
            json!({"name": "s", "namespace": "nsx"})
        );
    }

    #[test]
    fn name_changes_skip_what_kubectl_skips() {
        for (api, kind) in [
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            ("ex.com/v1", "CustomResourceDefinition"),
            ("apiregistration.k8s.io/v1", "APIService"),
            ("v1", "Namespace"),
            ("ex.com/v1", "Namespace"),
        ] {
            assert!(skips_name_change(api, kind), "{api} {kind}");
        }
        for (api, kind) in
            [("ex.com/v1", "APIService"), ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("v1", "PersistentVolume")]
        {
            assert!(!skips_name_change(api, kind), "{api} {kind}");
        }
    }

    fn referrers<'a>(referral: &str, api: &str, kind: &str) -> Vec<&'a str> {
        let config = Config::builtin();
        config
            .name_references
            .iter()
            .filter(|r| r.gvk.kind == referral)
            .flat_map(|r| &r.referrers)
            .filter(|s| s.applies_to(api, kind))
            .map(|s| s.path.as_str())
            .collect()
    }

    #[test]
    fn name_reference_table_matches_kubectl() {
        // kubectl renamed these fields (and no others) after a `namePrefix` on the referred objects.
        assert_eq!(referrers("ConfigMap", "v1", "ReplicationController"), Vec::<&str>::new());
        assert_eq!(referrers("ConfigMap", "ex.com/v2", "Pod"), Vec::<&str>::new());
        assert_eq!(referrers("ConfigMap", "ex.com/v2", "Deployment").len(), 6);
        assert_eq!(referrers("Secret", "v1", "Pod").len(), 7);
        assert_eq!(referrers("ServiceAccount", "apps/v1", "ReplicaSet"), Vec::<&str>::new());
        assert_eq!(
            referrers("ServiceAccount", "ex.com/v2", "ReplicationController"),
            ["spec/template/spec/serviceAccountName"]
        );
        assert_eq!(referrers("PersistentVolumeClaim", "v1", "PodTemplate"), Vec::<&str>::new());
        assert_eq!(referrers("Service", "ex.com/v1", "StatefulSet"), Vec::<&str>::new());
        assert_eq!(referrers("Service", "apps/v1beta1", "StatefulSet"), ["spec/serviceName"]);
        assert_eq!(
            referrers("StorageClass", "ex.com/v2", "StatefulSet"),
            ["spec/volumeClaimTemplates/spec/storageClassName"]
        );
        assert_eq!(
            referrers("Secret", "storage.k8s.io/v1", "StorageClass"),
            [
                "parameters/secretName",
                "parameters/adminSecretName",
                "parameters/userSecretName",
                "parameters/secretRef"
            ]
        );
        assert_eq!(
            referrers("PersistentVolume", "rbac.authorization.k8s.io/v1", "ClusterRole"),
            ["rules/resourceNames"]
        );
        assert_eq!(referrers("ConfigMap", "v1", "Node"), ["spec/configSource/configMap"]);
        assert_eq!(referrers("Role", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), Vec::<&str>::new());
        assert_eq!(referrers("ClusterRole", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ["roleRef/name"]);
        assert_eq!(referrers("Deployment", "ex.com/v1", "HorizontalPodAutoscaler"), ["spec/scaleTargetRef/name"]);
        assert_eq!(referrers("DaemonSet", "autoscaling/v2", "HorizontalPodAutoscaler"), Vec::<&str>::new());
        let gvk = |kind: &str| {
            Config::builtin().name_references.iter().find(|r| r.gvk.kind == kind).map(|r| r.gvk.to_string())
        };
        assert_eq!(gvk("ConfigMap").as_deref(), Some("ConfigMap.v1.[noGrp]"));
        assert_eq!(gvk("Role").as_deref(), Some("Role.[noVer].rbac.authorization.k8s.io"));
        // kubectl never renames an Ingress's ingressClassName: kustomize's referral group is wrong.
        assert_eq!(gvk("IngressClass").as_deref(), Some("IngressClass.v1.networking.k8s.io/v1"));
        let total: usize = Config::builtin().name_references.iter().map(|r| r.referrers.len()).sum();
        assert_eq!(total, 167);
    }

    #[test]
    fn image_fields_turn_null_lists_into_empty_ones() {
        let mut pod = object("v1", "Pod", json!({"containers": null, "initContainers": null}));
        for spec in &Config::builtin().images {
            visit(&mut pod, &spec.path, false, &mut |_| Ok(())).expect("images");
        }
        assert_eq!(pod["spec"], json!({"containers": [], "initContainers": []}));
        let mut bad = object("ex.com/v1", "Baz", json!({"containers": 5}));
        let spec = Config::builtin().images.first().expect("images table");
        assert!(matches!(visit(&mut bad, &spec.path, false, &mut |_| Ok(())), Err(Error::NotTraversable { .. })));
    }

    #[test]
    fn var_reference_table_matches_kubectl() {
        // kubectl expanded `$(V)` in exactly these fields of these kinds (any group or version).
        let paths = |api: &str, kind: &str| -> Vec<String> {
            let specs = Config::builtin().var_references.iter().filter(|s| s.applies_to(api, kind));
            let mut out: Vec<String> = specs.map(|s| s.path.clone()).collect();
            out.sort();
            out
        };
        assert_eq!(paths("v1", "ReplicationController"), ["metadata/annotations", "metadata/labels"]);
        assert_eq!(paths("v1", "PodTemplate"), ["metadata/annotations", "metadata/labels"]);
        assert_eq!(
            paths("networking.k8s.io/v1", "Ingress"),
            ["metadata/annotations", "metadata/labels", "spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"]
        );
        assert!(paths("ex.com/v2", "Deployment").contains(&"spec/template/metadata/annotations".to_string()));
        assert!(paths("ex.com/v2", "Pod").contains(&"spec/volumes/nfs/server".to_string()));
        assert!(!paths("apps/v1", "StatefulSet").contains(&"spec/template/spec/volumes/nfs/server".to_string()));
        assert!(
            !paths("batch/v1", "CronJob")
                .contains(&"spec/jobTemplate/spec/template/spec/volumes/nfs/server".to_string())
        );
        assert_eq!(paths("apps/v1", "ReplicaSet").len(), 11);
    }

    fn kinds(specs: &[FieldSpec]) -> String {
        let names: Vec<String> = specs.iter().map(|s| s.gvk.to_string()).collect();
        format!("[{}]", names.join(" "))
    }

    #[test]
    fn replicas_list_in_kubectl_order() {
        assert_eq!(
            kinds(&Config::builtin().replicas),
            "[Deployment.[noVer].[noGrp] StatefulSet.[noVer].[noGrp] ReplicaSet.[noVer].[noGrp] ReplicationController.[noVer].[noGrp]]"
        );
        let mut config = Config::builtin().clone();
        let extra = json!({"replicas": [
            {"path": "spec/replicas", "kind": "Zed", "group": "a"}, {"path": "spec/r", "kind": "Abc"},
            {"path": "spec/r", "kind": "Foo", "version": "v1"}, {"path": "spec/r", "kind": "Service"},
            {"path": "spec/r", "kind": "Deployment", "group": "apps"}, {"path": "spec/r", "kind": "ValidatingWebhookConfiguration"},
            {"path": "spec/r"}, {"path": "spec/r", "group": "g"}, {"path": "spec/r", "version": "v"}, {"path": "spec/r", "kind": "abc"},
            {"path": "spec/r", "kind": "MutatingWebhookConfiguration"}, {"path": "spec/r", "kind": "_x"},
        ]});
        config.merge_configuration(&extra).expect("merge");
        // kubectl's "does not match a config with the following GVK" list for the same file
        // (the kind-less `spec/r` spec is dropped: it duplicates the Abc one).
        assert_eq!(
            kinds(&config.replicas),
            "[Service.[noVer].[noGrp] Deployment.[noVer].apps Deployment.[noVer].[noGrp] StatefulSet.[noVer].[noGrp] \
             Zed.[noVer].a [noKind].[noVer].g Foo.v1.[noGrp] [noKind].v.[noGrp] Abc.[noVer].[noGrp] ReplicaSet.[noVer].[noGrp] \
             ReplicationController.[noVer].[noGrp] _x.[noVer].[noGrp] abc.[noVer].[noGrp] \
             MutatingWebhookConfiguration.[noVer].[noGrp] ValidatingWebhookConfiguration.[noVer].[noGrp]]"
        );
    }

    fn merged(doc: Value) -> Result<Config, Error> {
        let mut config = Config::builtin().clone();
        config.merge_configuration(&doc).map(|()| config)
    }

    #[test]
    fn configurations_merge_as_kubectl() {
        let builtin = Config::builtin();
        // A kind-less spec already covered by the Deployment one is dropped ...
        let same =
            merged(json!({"commonLabels": [{"path": "spec/selector/matchLabels", "create": true}]})).expect("merge");
        assert_eq!(same.common_labels, builtin.common_labels);
        // ... and one that disagrees on `create` is kubectl's "conflicting fieldspecs".
        for doc in [
            json!({"commonLabels": [{"path": "spec/selector/matchLabels", "create": false}]}),
            json!({"commonLabels": [{"path": "metadata/labels", "kind": "Foo", "create": false}]}),
            json!({"commonLabels": [{"path": "spec/x/lab", "kind": "Foo", "create": true}, {"path": "spec/x/lab", "kind": "Foo"}]}),
        ] {
            assert!(matches!(merged(doc.clone()), Err(Error::Conflict { .. })), "{doc}");
        }
        let foo =
            merged(json!({"commonLabels": [{"path": "spec/x/lab", "create": true, "kind": "Foo"}]})).expect("merge");
        assert_eq!(foo.common_labels.len(), builtin.common_labels.len() + 1);
        assert!(foo.common_labels.contains(&FieldSpec::new("", "", "Foo", "spec/x/lab", true)));

        // Keys match ignoring case; a known referral kind gains referrers, a new gvk is added.
        let refs = merged(json!({"NameReference": [
            {"Kind": "ConfigMap", "Version": "v1", "FieldSpecs": [{"Path": "spec/cmName", "Kind": "Foo"}]},
            {"kind": "ConfigMap", "fieldSpecs": [{"path": "spec/other", "kind": "Foo"}]},
        ]}))
        .expect("merge");
        assert_eq!(referrers_of(&refs, "ConfigMap.v1.[noGrp]", "Foo"), ["spec/cmName"]);
        assert_eq!(referrers_of(&refs, "ConfigMap.[noVer].[noGrp]", "Foo"), ["spec/other"]);

        let labels = merged(json!({"labels": [{"path": "spec/x/ll", "kind": "Foo", "create": true}]})).expect("merge");
        for (selectors, templates) in [(false, false), (false, true), (true, false)] {
            assert!(labels.label_specs(selectors, templates).any(|s| s.path == "spec/x/ll"));
        }
        assert!(!labels.common_labels.iter().any(|s| s.path == "spec/x/ll"));

        let numeric = merged(json!({"commonLabels": [{"path": 5, "kind": "Foo"}]})).expect("merge");
        assert!(numeric.common_labels.iter().any(|s| s.path == "5"));
        assert_eq!(merged(Value::Null).expect("empty file"), *builtin);
        assert_eq!(merged(json!({"commonLabels": null})).expect("null list"), *builtin);
        assert_eq!(
            merged(json!({"nameReference": [{"kind": "ConfigMap", "version": "v1"}]})).expect("no fieldSpecs"),
            *builtin
        );
    }

    fn referrers_of<'a>(config: &'a Config, gvk: &str, kind: &str) -> Vec<&'a str> {
        config
            .name_references
            .iter()
            .filter(|r| r.gvk.to_string() == gvk)
            .flat_map(|r| &r.referrers)
            .filter(|s| s.gvk.kind == kind)
            .map(|s| s.path.as_str())
            .collect()
    }

    #[test]
    fn malformed_configurations_name_the_field() {
        let field = |doc: Value| match merged(doc) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        };
        assert_eq!(field(json!({"unknownKey": 5})), "unknownKey");
        assert_eq!(field(json!({"metadataLabels": []})), "metadataLabels");
        assert_eq!(field(json!({"commonLabels": [{"path": "a", "bogus": 1}]})), "commonLabels[0].bogus");
        assert_eq!(field(json!({"commonLabels": [{"path": "a", "name": "f"}]})), "commonLabels[0].name");
        assert_eq!(field(json!({"commonLabels": 5})), "commonLabels");
        assert_eq!(field(json!({"commonLabels": [{"path": "a", "create": "yes"}]})), "commonLabels[0].create");
        assert_eq!(field(json!({"commonLabels": [{"path": "a", "create": 1}]})), "commonLabels[0].create");
        assert_eq!(
            field(json!({"nameReference": [{"kind": "ConfigMap", "fieldSpecs": 5}]})),
            "nameReference[0].fieldSpecs"
        );
        assert_eq!(field(json!({"nameReference": [{"kind": "ConfigMap", "bogus": 1}]})), "nameReference[0].bogus");
        assert_eq!(field(json!(["a"])), "");
        assert_eq!(parse_field_spec(&json!({"path": "a", "create": null})), Ok(FieldSpec::new("", "", "", "a", false)));
    }
}
