//! ApplicationSet generators: each turns its spec (and what it reads: clusters, a Git tree)
//! into parameter sets.
//!
//! - [`list`]: `elements` and `elementsYaml`;
//! - [`clusters`]: the cluster registry, filtered by a label selector;
//! - [`git`]: a repository's directories or files (with [`pathmatch`] for globs);
//! - [`combine`]: `matrix` and `merge`, over the others;
//! - [`pull_request`]: open pull requests, read through [`PullRequests`];
//! - [`scm_provider`]: an organization's repositories, read through [`ScmRepositories`];
//! - [`plugin`]: the parameter sets an HTTP plugin answers, called through [`Plugins`];
//! - [`cluster_decision`]: `clusterDecisionResource`, the clusters that duck-typed resources
//!   (Open Cluster Management's PlacementDecisions, ...) list in their status.
//!
//! The plugin and clusterDecisionResource generators read their ConfigMap (and the
//! duck-typed resources) from [`Inputs::objects`], in the set's namespace.
//!
//! [`run_child`] runs one entry of a matrix/merge's `generators`: its one generator, then its
//! post-selector.

pub mod cluster_decision;
pub mod clusters;
pub mod combine;
pub mod git;
pub mod list;
pub mod pathmatch;
pub mod plugin;
pub mod pull_request;
pub mod scm_provider;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::Object;
use crate::appset::params::{Mode, Params};
use crate::appset::selector::{Selector, SelectorError};
use crate::appset::template::{Engine, GoOptions, TemplateError};
use crate::fleet::cluster::ClusterRegistry;
pub use plugin::{PluginCall, Plugins};
pub use pull_request::{PullRequest, PullRequestProvider, PullRequests, SecretRef, SourceError};
pub use scm_provider::{ScmProvider, ScmRepositories, ScmRepository};

/// Every generator kind an entry of `generators` may hold, in Argo CD's field order.
pub const KINDS: [&str; 9] =
    ["list", "clusters", "git", "scmProvider", "clusterDecisionResource", "pullRequest", "matrix", "merge", "plugin"];

/// Why a generator gives no parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    /// A generator kind this engine does not implement yet.
    #[error("the {kind} generator is not supported yet")]
    NotSupported {
        /// The kind (`pullRequest`, ...).
        kind: String,
    },
    /// An entry with none of the generator kinds.
    #[error("the entry names no generator (one of list, clusters, git, matrix, merge, ...)")]
    NoGenerator,
    /// An entry whose only fields are no generator kind Argo CD knows (a typo, most often).
    #[error("unknown generator {}: expected one of {}", unknown.join(", "), KINDS.join(", "))]
    Unknown {
        /// The entry's fields that are not generators.
        unknown: Vec<String>,
    },
    /// A matrix or merge child with several generator kinds.
    #[error("more than one generator in one child entry: {}", kinds.join(", "))]
    MoreThanOne {
        /// The kinds found.
        kinds: Vec<String>,
    },
    /// A field has the wrong shape or value.
    #[error("{field}: {message}")]
    Field {
        /// The field (`list.elements[2].replicas`).
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A `values` entry does not render.
    #[error("{field}: {source}")]
    Values {
        /// The field (`clusters.values.env`).
        field: String,
        /// The template error.
        source: TemplateError,
    },
    /// A selector does not read.
    #[error(transparent)]
    Selector(#[from] SelectorError),
    /// The generator needs an input the caller did not provide.
    #[error("the {kind} generator needs {what}, which was not provided")]
    MissingInput {
        /// The generator kind.
        kind: String,
        /// What it needs.
        what: String,
    },
    /// A pull request or SCM provider did not answer (the message names the URL and why).
    #[error("{kind}: {message}")]
    Source {
        /// `pullRequest` or `scmProvider`.
        kind: String,
        /// What went wrong.
        message: String,
    },
    /// No tree for this repository and revision.
    #[error("git: repository {repo_url} at revision {revision:?} is not available")]
    NoRepository {
        /// `repoURL`.
        repo_url: String,
        /// `revision`.
        revision: String,
    },
    /// A git file does not parse as a YAML/JSON object or list of objects.
    #[error("git: file {path} does not parse as a YAML/JSON object or list of objects: {message}")]
    BadFile {
        /// The file's path in the repository.
        path: String,
        /// The parse error.
        message: String,
    },
    /// A matrix needs exactly two children.
    #[error("matrix: found {count} child generators; matrix needs exactly two")]
    MatrixChildren {
        /// How many there are.
        count: usize,
    },
    /// A merge needs at least two children.
    #[error("merge: found {count} child generators; merge needs at least two")]
    MergeChildren {
        /// How many there are.
        count: usize,
    },
    /// A merge without `mergeKeys`.
    #[error("merge: mergeKeys must name at least one key")]
    NoMergeKeys,
    /// Two parameter sets of one merge child have the same merge key.
    #[error("merge: child generator {child} gives two parameter sets with the merge key {key}")]
    NonUniqueMergeKey {
        /// The child's index.
        child: usize,
        /// The key (JSON).
        key: String,
    },
    /// In flat mode, the two matrix children give one key different values.
    #[error(
        "matrix: both children set the parameter {key:?}, to {first:?} and {second:?} (flat mode needs them equal)"
    )]
    Conflict {
        /// The key.
        key: String,
        /// The value from the first child.
        first: String,
        /// The value from the second child.
        second: String,
    },
    /// Matrix and merge can be nested once only.
    #[error("{kind}: matrix and merge may be nested only one level deep")]
    TooDeep {
        /// `matrix` or `merge`.
        kind: String,
    },
    /// A child of a matrix or merge failed.
    #[error("child generator {index} ({kind}): {source}")]
    Child {
        /// The child's index.
        index: usize,
        /// Its kind.
        kind: String,
        /// Why it failed.
        source: Box<GeneratorError>,
    },
    /// A matrix child does not render with the first child's parameters.
    #[error("interpolating child generator with the first child's parameters: {0}")]
    Interpolate(TemplateError),
}

/// A repository tree at one revision, as the generator reads it.
pub trait RepoTree {
    /// Every directory, recursively, as a path relative to the root (no `.`, no trailing
    /// `/`). Hidden ones may be included: the generator skips them.
    fn directories(&self) -> Vec<String>;
    /// Every file (tracked by Git), as a path relative to the root.
    fn files(&self) -> Vec<String>;
    /// The content of a file listed by [`RepoTree::files`].
    fn read(&self, path: &str) -> Option<Vec<u8>>;
}

/// The repositories the git generator can read.
pub trait Repositories {
    /// The tree of `repo_url` at `revision` (as written in the generator, unresolved), or
    /// `None` when it is not available.
    fn tree(&self, repo_url: &str, revision: &str) -> Option<&dyn RepoTree>;
}

/// An in-memory [`RepoTree`]: files and their contents; directories are their parents.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    files: BTreeMap<String, Vec<u8>>,
    directories: BTreeSet<String>,
}

impl MemoryTree {
    /// A tree of these files (`path`, content).
    pub fn new<P: Into<String>, C: Into<Vec<u8>>>(files: impl IntoIterator<Item = (P, C)>) -> MemoryTree {
        let mut tree = MemoryTree::default();
        for (path, content) in files {
            tree.add_file(path.into(), content.into());
        }
        tree
    }

    /// Adds a file, and its parent directories.
    pub fn add_file(&mut self, path: String, content: Vec<u8>) {
        let mut dir = path.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            self.directories.insert(parent.to_string());
            dir = parent;
        }
        self.files.insert(path, content);
    }

    /// Adds an empty directory.
    pub fn add_directory(&mut self, path: &str) {
        self.add_file(format!("{path}/.keep"), Vec::new());
        self.files.remove(&format!("{path}/.keep"));
    }
}

impl RepoTree for MemoryTree {
    fn directories(&self) -> Vec<String> {
        self.directories.iter().cloned().collect()
    }

    fn files(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.files.get(path).cloned()
    }
}

/// In-memory [`Repositories`]: trees by repository URL and revision.
#[derive(Debug, Clone, Default)]
pub struct MemoryRepositories {
    trees: BTreeMap<(String, String), MemoryTree>,
}

impl MemoryRepositories {
    /// Registers `tree` as `repo_url` at `revision`.
    pub fn insert(&mut self, repo_url: &str, revision: &str, tree: MemoryTree) {
        self.trees.insert((repo_url.to_string(), revision.to_string()), tree);
    }
}

impl Repositories for MemoryRepositories {
    fn tree(&self, repo_url: &str, revision: &str) -> Option<&dyn RepoTree> {
        self.trees.get(&(repo_url.to_string(), revision.to_string())).map(|t| t as &dyn RepoTree)
    }
}

/// What the generators read besides the ApplicationSet.
#[derive(Clone, Copy, Default)]
pub struct Inputs<'a> {
    /// The clusters (for the `clusters` generator).
    pub clusters: Option<&'a ClusterRegistry>,
    /// The repositories (for the `git` generator).
    pub repositories: Option<&'a dyn Repositories>,
    /// The controller's `applicationsetcontroller.enable.new.git.file.globbing`: git file
    /// patterns use doublestar (`*` within a segment, `**` across) instead of Git pathspecs.
    pub new_git_file_globbing: bool,
    /// The pull request providers (for the `pullRequest` generator).
    pub pull_requests: Option<&'a dyn PullRequests>,
    /// The SCM providers (for the `scmProvider` generator).
    pub scm_repositories: Option<&'a dyn ScmRepositories>,
    /// The plugin services (for the `plugin` generator).
    pub plugins: Option<&'a dyn Plugins>,
    /// Objects of the hub the `plugin` and `clusterDecisionResource` generators read: their
    /// ConfigMaps and the duck-typed resources. Only those in the set's namespace (or naming
    /// none) count; others may be given.
    pub objects: Option<&'a [Object]>,
}

impl std::fmt::Debug for Inputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs")
            .field("clusters", &self.clusters.map(|c| c.clusters().len()))
            .field("repositories", &self.repositories.is_some())
            .field("new_git_file_globbing", &self.new_git_file_globbing)
            .field("pull_requests", &self.pull_requests.is_some())
            .field("scm_repositories", &self.scm_repositories.is_some())
            .field("plugins", &self.plugins.is_some())
            .field("objects", &self.objects.map(<[Object]>::len))
            .finish()
    }
}

/// What every generator runs with.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The template engine (mode and Go options) of the ApplicationSet.
    pub engine: Engine,
    /// What the generators read.
    pub inputs: &'a Inputs<'a>,
    /// The ApplicationSet's name (the plugin generator sends it).
    pub appset: &'a str,
    /// The ApplicationSet's namespace: ConfigMaps and duck-typed resources are read in it.
    pub namespace: &'a str,
}

impl Context<'_> {
    /// The parameter mode.
    pub fn mode(&self) -> Mode {
        self.engine.mode
    }
}

/// The generator kinds an entry holds (non-null fields named in [`KINDS`]).
pub fn kinds_of(entry: &Value) -> Vec<&'static str> {
    KINDS.iter().copied().filter(|k| entry.get(k).is_some_and(|v| !v.is_null())).collect()
}

/// Runs generator `kind` on its spec (`entry[kind]`). `depth` is 0 at the top level, 1 in a
/// matrix or merge; a matrix or merge at depth 2 is [`GeneratorError::TooDeep`].
pub fn run_kind(kind: &str, spec: &Value, cx: &Context<'_>, depth: usize) -> Result<Vec<Params>, GeneratorError> {
    match kind {
        "list" => list::generate(spec, cx),
        "clusters" => clusters::generate(spec, cx),
        "git" => git::generate(spec, cx),
        "pullRequest" => pull_request::generate(spec, cx),
        "scmProvider" => scm_provider::generate(spec, cx),
        "plugin" => plugin::generate(spec, cx),
        "clusterDecisionResource" => cluster_decision::generate(spec, cx),
        "matrix" | "merge" if depth >= 2 => Err(GeneratorError::TooDeep { kind: kind.to_string() }),
        "matrix" => combine::matrix(spec, cx, depth),
        "merge" => combine::merge(spec, cx, depth),
        other => Err(GeneratorError::NotSupported { kind: other.to_string() }),
    }
}

/// The default wait between generations for the git and clusterDecisionResource generators
/// (Argo CD's `ARGOCD_APPLICATIONSET_CONTROLLER_REQUEUE_AFTER` default), in seconds.
pub const DEFAULT_REQUEUE_SECONDS: u64 = 180;

/// The default wait for the pullRequest, scmProvider and plugin generators, in seconds.
pub const DEFAULT_PROVIDER_REQUEUE_SECONDS: u64 = 1800;

/// How long the controller waits before generating an entry of `spec.generators` again, in
/// seconds (Argo CD's `GetRequeueAfter`): the generator's `requeueAfterSeconds`, else its
/// default; `None` for list and clusters (which change only with the ApplicationSet or the
/// cluster Secrets). A matrix or merge waits the shortest of its children's non-zero waits.
pub fn requeue_after_seconds(entry: &Value) -> Option<u64> {
    let mut shortest: Option<u64> = None;
    for kind in kinds_of(entry) {
        let spec = &entry[kind];
        let own = spec.get("requeueAfterSeconds").and_then(Value::as_u64);
        let wait = match kind {
            "list" | "clusters" => None,
            "git" | "clusterDecisionResource" => Some(own.unwrap_or(DEFAULT_REQUEUE_SECONDS)),
            "pullRequest" | "scmProvider" | "plugin" => Some(own.unwrap_or(DEFAULT_PROVIDER_REQUEUE_SECONDS)),
            _ => spec
                .get("generators")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(requeue_after_seconds)
                .filter(|s| *s > 0)
                .min(),
        };
        shortest = match (shortest, wait.filter(|s| *s > 0)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    shortest
}

/// How long the controller waits before generating the whole ApplicationSet again: the
/// shortest wait of its generators (see [`requeue_after_seconds`]), `None` when none asks.
pub fn appset_requeue_after_seconds(appset_spec: &Value) -> Option<u64> {
    appset_spec
        .get("generators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(requeue_after_seconds)
        .min()
}

/// Why an entry with no generator kind gives nothing: its unknown fields, when it has some.
pub fn no_generator(entry: &Value) -> GeneratorError {
    // The fields every entry may carry besides its generator.
    const COMMON: [&str; 2] = ["selector", "values"];
    let unknown: Vec<String> = entry
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| !v.is_null() && !COMMON.contains(&k.as_str()) && !KINDS.contains(&k.as_str()))
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    if unknown.is_empty() { GeneratorError::NoGenerator } else { GeneratorError::Unknown { unknown } }
}

/// Runs one child entry of a matrix or merge: exactly one generator, its spec first rendered
/// with `with` (the first matrix child's parameters) when given, then the post-selector.
pub fn run_child(
    entry: &Value,
    cx: &Context<'_>,
    depth: usize,
    with: Option<&Params>,
) -> Result<Vec<Params>, GeneratorError> {
    let kinds = kinds_of(entry);
    let kind = match kinds.as_slice() {
        [] => return Err(no_generator(entry)),
        [one] => *one,
        several => return Err(GeneratorError::MoreThanOne { kinds: several.iter().map(|k| k.to_string()).collect() }),
    };
    let interpolated;
    let entry = match with {
        Some(p) if !p.is_empty() => {
            interpolated = interpolate(entry, p, cx)?;
            &interpolated
        }
        _ => entry,
    };
    let params = run_kind(kind, &entry[kind], cx, depth)?;
    post_select(entry, "selector", params)
}

/// Keeps the parameter sets that `entry.selector` (a label selector over the flattened
/// parameters) matches.
pub fn post_select(entry: &Value, field: &str, params: Vec<Params>) -> Result<Vec<Params>, GeneratorError> {
    let selector = Selector::from_json(field, entry.get("selector"))?;
    if selector.is_empty() {
        return Ok(params);
    }
    Ok(params.into_iter().filter(|p| selector.matches(&p.flattened())).collect())
}

/// Renders every string of a child entry with `params` (Argo CD's `InterpolateGenerator`).
/// The generators' own `values` are rendered with `missingkey=error`, and a value that does
/// not render is kept as written, so it can still refer to the child's own parameters.
fn interpolate(entry: &Value, params: &Params, cx: &Context<'_>) -> Result<Value, GeneratorError> {
    let mut out = cx.engine.render_value("", entry, params).map_err(GeneratorError::Interpolate)?;
    let strict = Engine { options: GoOptions { missing_key_error: true }, ..cx.engine };
    for kind in KINDS {
        let Some(values) = entry.get(kind).and_then(|g| g.get("values")).and_then(Value::as_object) else {
            continue;
        };
        let mut rendered = Map::new();
        for (k, v) in values {
            let value = match v.as_str() {
                Some(text) => match strict.render_str("", text, params) {
                    Ok(r) => Value::String(r),
                    Err(_) => v.clone(),
                },
                None => v.clone(),
            };
            rendered.insert(k.clone(), value);
        }
        if let Some(g) = out.get_mut(kind).and_then(Value::as_object_mut) {
            g.insert("values".into(), Value::Object(rendered));
        }
    }
    Ok(out)
}

/// Adds a generator's `values` (a map of strings, each rendered against `params` as they are
/// before any value is added): flat `values.<k>`, go `values: {k: ...}` (only when there are
/// values).
pub fn append_values(
    field: &str,
    values: Option<&Value>,
    params: &mut Params,
    cx: &Context<'_>,
) -> Result<(), GeneratorError> {
    let Some(values) = values.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let values = values.as_object().ok_or_else(|| GeneratorError::Field {
        field: field.to_string(),
        message: "must be a map of strings".into(),
    })?;
    let mut rendered = Vec::with_capacity(values.len());
    for (k, v) in values {
        let at = format!("{field}.{k}");
        let text = v
            .as_str()
            .ok_or_else(|| GeneratorError::Field { field: at.clone(), message: "must be a string".into() })?;
        let r =
            cx.engine.render_str(&at, text, params).map_err(|source| GeneratorError::Values { field: at, source })?;
        rendered.push((k.clone(), r));
    }
    if rendered.is_empty() {
        return Ok(());
    }
    match params {
        Params::Flat(m) => {
            for (k, v) in rendered {
                m.insert(format!("values.{k}"), v);
            }
        }
        Params::Go(m) => {
            let map: Map<String, Value> = rendered.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            m.insert("values".into(), Value::Object(map));
        }
    }
    Ok(())
}

/// The `data` of the ConfigMap `name` in the set's namespace among [`Inputs::objects`] (the
/// last one given wins, as a later file overrides an earlier one). `field` names the spec
/// field that refers to it, for errors.
pub(crate) fn config_map_data<'v>(
    cx: &Context<'v>,
    kind: &str,
    field: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, GeneratorError> {
    let objects = cx.inputs.objects.ok_or_else(|| GeneratorError::MissingInput {
        kind: kind.to_string(),
        what: format!("the ConfigMap {name:?} (the hub's objects)"),
    })?;
    let found = objects
        .iter()
        .rev()
        .find(|o| {
            o.kind() == "ConfigMap"
                && o.group().is_empty()
                && o.name() == name
                && (o.namespace().is_empty() || o.namespace() == cx.namespace)
        })
        .ok_or_else(|| GeneratorError::Field {
            field: field.to_string(),
            message: format!("no ConfigMap {}/{name} was found", cx.namespace),
        })?;
    let mut data = BTreeMap::new();
    for (k, v) in found.value().get("data").and_then(Value::as_object).into_iter().flatten() {
        let text = v.as_str().ok_or_else(|| GeneratorError::Field {
            field: field.to_string(),
            message: format!("ConfigMap {}/{name}: data.{k} is not a string", cx.namespace),
        })?;
        data.insert(k.clone(), text.to_string());
    }
    Ok(data)
}

/// A string field of a generator spec (`None` when absent or null).
pub(crate) fn opt_str<'v>(spec: &'v Value, kind: &str, key: &str) -> Result<Option<&'v str>, GeneratorError> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(GeneratorError::Field { field: format!("{kind}.{key}"), message: "must be a string".into() }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cx_with<'a>(mode: Mode, inputs: &'a Inputs<'a>) -> Context<'a> {
        Context { engine: Engine::new(mode, &[]).unwrap(), inputs, appset: "", namespace: "" }
    }

    #[test]
    fn requeue_waits_follow_argo_defaults() {
        assert_eq!(requeue_after_seconds(&json!({"list": {}})), None);
        assert_eq!(requeue_after_seconds(&json!({"git": {}})), Some(180));
        assert_eq!(requeue_after_seconds(&json!({"pullRequest": {}})), Some(1800));
        assert_eq!(requeue_after_seconds(&json!({"pullRequest": {"requeueAfterSeconds": 60}})), Some(60));
        let matrix =
            json!({"matrix": {"generators": [{"clusters": {}}, {"scmProvider": {"requeueAfterSeconds": 300}}]}});
        assert_eq!(requeue_after_seconds(&matrix), Some(300));
        let spec = json!({"generators": [{"list": {}}, {"git": {}}, {"pullRequest": {}}]});
        assert_eq!(appset_requeue_after_seconds(&spec), Some(180));
        assert_eq!(appset_requeue_after_seconds(&json!({"generators": [{"list": {}}]})), None);
    }

    #[test]
    fn kinds_and_children() {
        assert_eq!(kinds_of(&json!({"list": {}, "selector": {}, "git": null})), ["list"]);
        let inputs = Inputs::default();
        let cx = cx_with(Mode::Flat, &inputs);
        let e = run_child(&json!({"list": {"elements": []}, "clusters": {}}), &cx, 1, None).unwrap_err();
        assert_eq!(e, GeneratorError::MoreThanOne { kinds: vec!["list".into(), "clusters".into()] });
        assert_eq!(run_child(&json!({"selector": {}}), &cx, 1, None).unwrap_err(), GeneratorError::NoGenerator);
        let e = run_child(&json!({"lists": {}, "selector": {}}), &cx, 1, None).unwrap_err();
        assert_eq!(e, GeneratorError::Unknown { unknown: vec!["`lists`".into()] });
        assert!(e.to_string().starts_with("unknown generator `lists`: expected one of list, clusters, git"), "{e}");
    }

    #[test]
    fn post_selector_uses_flattened_params() {
        let inputs = Inputs::default();
        let cx = cx_with(Mode::Go, &inputs);
        let entry = json!({
            "list": {"elements": [{"a": {"b": "x"}}, {"a": {"b": "y"}}]},
            "selector": {"matchLabels": {"a.b": "y"}},
        });
        let got = run_child(&entry, &cx, 1, None).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].get("a"), Some(json!({"b": "y"})));
    }

    #[test]
    fn values_render_against_own_params_only() {
        let inputs = Inputs::default();
        let cx = cx_with(Mode::Flat, &inputs);
        let mut p = Params::Flat([("name".to_string(), "web".to_string())].into());
        append_values("clusters.values", Some(&json!({"a": "{{name}}-x", "b": "{{values.a}}"})), &mut p, &cx).unwrap();
        let flat = p.flattened();
        assert_eq!(flat["values.a"], "web-x");
        assert_eq!(flat["values.b"], "{{values.a}}", "a value cannot refer to another value");

        let cx = cx_with(Mode::Go, &inputs);
        let mut p = Params::Go(json!({"name": "web"}).as_object().unwrap().clone());
        append_values("git.values", Some(&json!({"a": "{{ .name | upper }}"})), &mut p, &cx).unwrap();
        assert_eq!(p.get("values"), Some(json!({"a": "WEB"})));
        let mut q = Params::Go(Map::new());
        append_values("git.values", Some(&json!({})), &mut q, &cx).unwrap();
        assert_eq!(q.get("values"), None, "no values key without values");
        let e = append_values("git.values", Some(&json!({"a": 1})), &mut q, &cx).unwrap_err();
        assert_eq!(e.to_string(), "git.values.a: must be a string");
    }

    #[test]
    fn interpolation_keeps_values_that_refer_to_the_childs_own_params() {
        let inputs = Inputs::default();
        let cx = Context { engine: Engine::new(Mode::Go, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        let a = Params::Go(json!({"env": "prod"}).as_object().unwrap().clone());
        let entry =
            json!({"git": {"revision": "{{ .env }}", "values": {"v": "{{ .path.basename }}", "e": "{{ .env }}"}}});
        let out = interpolate(&entry, &a, &cx).unwrap();
        assert_eq!(out["git"]["revision"], "prod");
        assert_eq!(out["git"]["values"], json!({"v": "{{ .path.basename }}", "e": "prod"}));
    }

    #[test]
    fn memory_tree_lists_parent_directories() {
        let mut t = MemoryTree::new([("apps/web/a.yaml", "x"), ("top.yaml", "y")]);
        t.add_directory("empty/dir");
        assert_eq!(t.directories(), ["apps", "apps/web", "empty", "empty/dir"]);
        assert_eq!(t.files(), ["apps/web/a.yaml", "top.yaml"]);
        assert_eq!(t.read("top.yaml").as_deref(), Some(&b"y"[..]));
    }
}
