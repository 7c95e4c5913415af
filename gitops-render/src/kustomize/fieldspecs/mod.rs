//! Field specs: where kustomize's built-in transformers look inside an object, and the walker
//! that visits those places.
//!
//! A field spec is a group/version/kind selector (an empty part matches anything) plus a
//! slash-separated path and a `create` flag. The tables (in `tables`) are kustomize v5.5.0's built-in
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

mod parse;
mod tables;
#[cfg(test)]
mod tests;
mod walk;

use std::cmp::Ordering;
use std::fmt;
use std::sync::OnceLock;

pub(crate) use gitops_core::schema::split_api_version;

use super::order::{ORDER_FIRST, ORDER_LAST};
pub(crate) use parse::parse_field_spec;
use serde_json::Value;
pub(crate) use walk::visit;

use parse::{CONFIG_KEYS, CONFIG_TABLES, Table, describe, known_keys, parse_references, parse_specs};
use tables::{
    COMMON_ANNOTATIONS, COMMON_LABELS, IMAGES, METADATA_LABELS, NAME_PREFIX, NAME_REFERENCES, NAME_SUFFIX, NAMESPACE,
    NAMESPACE_META, NAMESPACE_SUBJECTS, REPLICAS, TEMPLATE_LABELS, VAR_REFERENCES, specs,
};

/// Why a field spec could not be followed or a configuration not merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Error {
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
    pub(crate) fn from_message(message: String) -> Error {
        Error::Message(message)
    }

    fn invalid(field: &str, problem: impl Into<String>) -> Error {
        Error::Invalid { field: field.to_string(), problem: problem.into() }
    }
}

/// A group/version/kind selector; an empty part matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Gvk {
    /// The API group (`apps`); empty matches any group, the core group included.
    pub(crate) group: String,
    /// The version (`v1`); empty matches any.
    pub(crate) version: String,
    /// The kind (`Deployment`); empty matches any.
    pub(crate) kind: String,
}

impl Gvk {
    /// A selector from its three parts.
    pub(crate) fn new(group: &str, version: &str, kind: &str) -> Gvk {
        Gvk { group: group.to_string(), version: version.to_string(), kind: kind.to_string() }
    }

    /// Whether an object of this apiVersion and kind is selected.
    pub(crate) fn matches(&self, api_version: &str, kind: &str) -> bool {
        let (group, version) = split_api_version(api_version);
        self.selects(group, version, kind)
    }

    /// Whether `self`, taken as an object's id, is selected by `selector` (kustomize's
    /// `IsSelected`): every non-empty part of `selector` equals the same part of `self`.
    pub(crate) fn is_selected_by(&self, selector: &Gvk) -> bool {
        selector.selects(&self.group, &self.version, &self.kind)
    }

    fn selects(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }

    /// Kustomize's table order (`Gvk.IsLessThan`): kind rank first, then the
    /// `group_version_kind` string with empty parts spelled `~G`, `~V`, `~K`.
    pub(crate) fn kustomize_cmp(&self, other: &Gvk) -> Ordering {
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
pub(crate) struct FieldSpec {
    /// Which objects it applies to.
    pub(crate) gvk: Gvk,
    /// Slash-separated path; `\/` is a slash inside a key, a `[]` suffix marks a list.
    pub(crate) path: String,
    /// Whether missing maps (and the last field) are created.
    pub(crate) create: bool,
}

impl FieldSpec {
    /// A field spec from its parts.
    pub(crate) fn new(group: &str, version: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
        FieldSpec { gvk: Gvk::new(group, version, kind), path: path.to_string(), create }
    }

    /// Whether it applies to an object of this apiVersion and kind.
    pub(crate) fn applies_to(&self, api_version: &str, kind: &str) -> bool {
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
pub(crate) struct NameReference {
    /// The referred kind.
    pub(crate) gvk: Gvk,
    /// The fields naming it. A path ending at a map (`subjects`, `webhooks/clientConfig/service`,
    /// Node `spec/configSource/configMap`) refers by that map's `name` and `namespace`.
    pub(crate) referrers: Vec<FieldSpec>,
}

/// The field spec tables a build uses: the built-ins plus any `configurations:` files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// `commonLabels`, and `labels` entries with `includeSelectors`.
    pub(crate) common_labels: Vec<FieldSpec>,
    /// `labels` entries with `includeTemplates`, besides [`Config::metadata_labels`].
    pub(crate) template_labels: Vec<FieldSpec>,
    /// Every `labels` entry: `metadata/labels`.
    pub(crate) metadata_labels: Vec<FieldSpec>,
    /// Every `labels` entry, whatever its flags: the `labels` key of `configurations` files
    /// (empty built in; `commonLabels` ignores it).
    pub(crate) labels: Vec<FieldSpec>,
    /// `commonAnnotations`.
    pub(crate) common_annotations: Vec<FieldSpec>,
    /// `namePrefix`: every field listed gets the prefix (built in: `metadata/name`), on objects
    /// [`skips_name_change`] does not exempt.
    pub(crate) name_prefix: Vec<FieldSpec>,
    /// `nameSuffix`, as [`Config::name_prefix`].
    pub(crate) name_suffix: Vec<FieldSpec>,
    /// `namespace`; filter it with [`Config::namespace_specs`]. `metadata/namespace` is only for
    /// objects not known to be cluster-scoped; `subjects` only moves subjects named `default`.
    pub(crate) namespace: Vec<FieldSpec>,
    /// `images`.
    pub(crate) images: Vec<FieldSpec>,
    /// `replicas`.
    pub(crate) replicas: Vec<FieldSpec>,
    /// Name references, fixed once at the top of a build.
    pub(crate) name_references: Vec<NameReference>,
    /// `vars`: the fields where `$(VAR)` is expanded.
    pub(crate) var_references: Vec<FieldSpec>,
}

/// Whether `namePrefix`/`nameSuffix` leave this object alone (kustomize checks the object's
/// original id): any CustomResourceDefinition or Namespace, and APIService in
/// `apiregistration.k8s.io`. Cluster-scoped kinds such as ClusterRole are renamed.
pub(crate) fn skips_name_change(api_version: &str, kind: &str) -> bool {
    let (group, _) = split_api_version(api_version);
    kind == "CustomResourceDefinition"
        || kind == "Namespace"
        || (kind == "APIService" && group == "apiregistration.k8s.io")
}

impl Config {
    /// kustomize's built-in tables.
    pub(crate) fn builtin() -> &'static Config {
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
    pub(crate) fn merge_configuration(&mut self, doc: &Value) -> Result<(), Error> {
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
    pub(crate) fn merge_config(&mut self, other: &Config) -> Result<(), Error> {
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
    pub(crate) fn namespace_specs<'s, 'k>(
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
    pub(crate) fn label_specs(
        &self,
        include_selectors: bool,
        include_templates: bool,
    ) -> impl Iterator<Item = &FieldSpec> {
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
    pub(crate) fn label_entry_specs(
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
