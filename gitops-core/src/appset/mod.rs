//! Argo CD ApplicationSets, pure: from an ApplicationSet (and the clusters, repository trees
//! and hub objects its generators read) to the Applications it generates, and what the controller
//! writes for them.
//!
//! - [`params`]: parameter sets, flat or Go-shaped, and Argo CD's flattening;
//! - [`generators`]: `list`, `clusters`, `git`, `matrix`, `merge`, `pullRequest`,
//!   `scmProvider` and `plugin` (over provider traits the caller implements),
//!   `clusterDecisionResource` (over the hub's objects and clusters the caller gives), the
//!   post-selector, `values`;
//! - [`selector`]: label selector objects (`matchLabels`, `matchExpressions`);
//! - [`template`]: fasttemplate and Go templates, generator templates, `templatePatch`;
//! - [`plan`](mod@plan): the sync policy and the create/update/delete plan;
//! - [`ignore`]: `ignoreApplicationDifferences`, the fields an update leaves as they are;
//! - [`progressive`]: RollingSync progressive syncs, step by step;
//! - [`status`](mod@status): the set's own `status` (conditions, app progress, resources);
//! - [`controller`]: one pass of the controller over a set: writes and status together.
//!
//! [`generate`] runs the whole pipeline: for each entry of `spec.generators`, its generator
//! gives parameter sets, its `selector` filters them, and each renders the template (the
//! entry's own `template` merged over `spec.template`) into an Application in the
//! ApplicationSet's namespace, owned by it. Any generator or template error fails the whole
//! generation, as in Argo CD. The Applications are then validated (a name, a valid name, no
//! name twice, a destination that resolves when clusters are given) and sorted by name.
//!
//! # Example
//!
//! ```
//! use gitops_core::appset::{self, Inputs};
//! use gitops_core::manifest;
//!
//! let set = manifest::parse("appset.yaml", r#"
//! apiVersion: argoproj.io/v1alpha1
//! kind: ApplicationSet
//! metadata: {name: guestbook, namespace: argocd}
//! spec:
//!   goTemplate: true
//!   goTemplateOptions: ["missingkey=error"]
//!   generators:
//!   - list:
//!       elements:
//!       - {cluster: Engineering-Dev, url: "https://dev.example"}
//!       - {cluster: Engineering-Prod, url: "https://prod.example"}
//!   template:
//!     metadata:
//!       name: '{{ .cluster | normalize }}-guestbook'
//!     spec:
//!       project: default
//!       source: {repoURL: "https://github.com/argoproj/argocd-example-apps", path: guestbook}
//!       destination: {server: '{{ .url }}', namespace: guestbook}
//! "#)?;
//! let apps = appset::generate(&set[0], &Inputs::default())?;
//! let names: Vec<&str> = apps.iter().map(|a| a.name()).collect();
//! assert_eq!(names, ["engineering-dev-guestbook", "engineering-prod-guestbook"]);
//! assert_eq!(apps[1].value()["spec"]["destination"]["server"], "https://prod.example");
//! assert_eq!(apps[0].namespace(), "argocd");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod controller;
pub mod generators;
pub mod ignore;
pub mod params;
pub mod plan;
pub mod progressive;
pub mod selector;
pub mod status;
pub mod template;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::Object;
use crate::object::Origin;
pub use generators::{GeneratorError, Inputs, MemoryRepositories, MemoryTree, RepoTree, Repositories};
pub use params::{Mode, Params};
pub use plan::{Plan, PlanError, SyncPolicy, plan};
use template::{Engine, RenderContext, TemplateError, merge_templates, render_application_owned};

/// Why an ApplicationSet generates nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The object is not an ApplicationSet, or its spec is malformed.
    #[error("ApplicationSet {appset}: {field}: {message}")]
    Spec {
        /// The ApplicationSet (`namespace/name`).
        appset: String,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A generator failed (the whole generation stops, as in Argo CD).
    #[error("ApplicationSet {appset}: generators[{index}] ({kind}): {source}")]
    Generator {
        /// The ApplicationSet.
        appset: String,
        /// The entry's index in `spec.generators`.
        index: usize,
        /// The generator kind.
        kind: String,
        /// Why.
        source: Box<GeneratorError>,
    },
    /// The template did not render with one parameter set.
    #[error("ApplicationSet {appset}: generators[{index}] ({kind}), parameter set {set}: template: {source}")]
    Template {
        /// The ApplicationSet.
        appset: String,
        /// The entry's index in `spec.generators`.
        index: usize,
        /// The generator kind.
        kind: String,
        /// The parameter set's index in what the entry generated.
        set: usize,
        /// Why.
        source: Box<TemplateError>,
    },
    /// Some generated Applications are invalid (see [`Generation::errors`]).
    #[error("ApplicationSet {appset}: {}", summary(errors))]
    Invalid {
        /// The ApplicationSet.
        appset: String,
        /// Every validation error, sorted.
        errors: Vec<ValidationError>,
    },
}

fn summary(errors: &[ValidationError]) -> String {
    match errors {
        [] => "no error".into(),
        [one] => one.to_string(),
        [last_first @ .., last] => format!("{last} (and {} more)", last_first.len()),
    }
}

/// A generated Application that the controller would not write.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum ValidationError {
    /// No `metadata.name`.
    #[error("generators[{index}] parameter set {set}: the Application has no name; generateName is not supported")]
    NoName {
        /// The generator entry.
        index: usize,
        /// The parameter set.
        set: usize,
    },
    /// A name the API server refuses.
    #[error("Application {name:?}: metadata.name is not a valid name ({reason})")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Two generated Applications with one name: both are left out.
    #[error(
        "Application {name:?} is generated twice (generators[{first_index}] parameter set {first_set} and generators[{second_index}] parameter set {second_set}); neither is written"
    )]
    Duplicate {
        /// The name.
        name: String,
        /// The first one's generator entry.
        first_index: usize,
        /// The first one's parameter set.
        first_set: usize,
        /// The second one's generator entry.
        second_index: usize,
        /// The second one's parameter set.
        second_set: usize,
    },
    /// The destination does not resolve against the cluster registry.
    #[error("Application {name:?}: spec.destination: {reason}")]
    Destination {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Everything one generation gives: the valid Applications, sorted by name, the invalid ones'
/// errors, and every generated name (deletions are computed from those, valid or not).
#[derive(Debug, Clone, Default)]
pub struct Generation {
    /// The valid Applications, sorted by name.
    pub apps: Vec<Object>,
    /// Why the others are left out, sorted.
    pub errors: Vec<ValidationError>,
    /// Every generated name.
    pub names: BTreeSet<String>,
}

impl Generation {
    /// The writes for this generation against `existing` (see [`plan::plan_keeping`]).
    pub fn plan(&self, owner: &str, existing: &[Object], policy: SyncPolicy) -> Plan {
        self.plan_ignoring(owner, existing, policy, &ignore::IgnoreDifferences::default())
    }

    /// [`Generation::plan`], each generated app first given the existing app's values at the
    /// paths of `ignore` (`spec.ignoreApplicationDifferences`).
    pub fn plan_ignoring(
        &self,
        owner: &str,
        existing: &[Object],
        policy: SyncPolicy,
        ignore: &ignore::IgnoreDifferences,
    ) -> Plan {
        if ignore.is_empty() {
            return plan::plan_keeping(owner, &self.apps, existing, policy, &self.names);
        }
        plan::plan_keeping(owner, &self.with_ignored(existing, ignore), existing, policy, &self.names)
    }

    /// The generated apps, each given the existing app's values at the paths of `ignore`.
    pub fn with_ignored(&self, existing: &[Object], ignore: &ignore::IgnoreDifferences) -> Vec<Object> {
        if ignore.is_empty() {
            return self.apps.clone();
        }
        let by_name: BTreeMap<&str, &Object> = existing.iter().map(|a| (a.name(), a)).collect();
        self.apps
            .iter()
            .map(|a| by_name.get(a.name()).map_or_else(|| a.clone(), |current| ignore.keep(current, a)))
            .collect()
    }
}

/// Generates the Applications of `appset`, failing on any generator, template or validation
/// error (see the module documentation). [`generate_all`] keeps the valid ones instead.
pub fn generate(appset: &Object, inputs: &Inputs<'_>) -> Result<Vec<Object>, Error> {
    let generation = generate_all(appset, inputs)?;
    if !generation.errors.is_empty() {
        return Err(Error::Invalid { appset: id(appset), errors: generation.errors });
    }
    Ok(generation.apps)
}

fn id(appset: &Object) -> String {
    format!("{}/{}", appset.namespace(), appset.name())
}

/// Generates the Applications of `appset` as Argo CD's controller does: any generator or
/// template error fails the whole generation, while invalid Applications are left out and
/// reported in [`Generation::errors`].
pub fn generate_all(appset: &Object, inputs: &Inputs<'_>) -> Result<Generation, Error> {
    let mut out = run(appset, inputs, true)?;
    // Names looked up once each, not once per comparison.
    out.apps.sort_by_cached_key(|a| a.name().to_string());
    Ok(out)
}

/// Generates the Applications of `appset` as `argocd appset generate` previews them: in
/// generation order (generator by generator, parameter set by parameter set), with
/// destinations not checked against the clusters; otherwise as [`generate_all`].
pub fn generate_preview(appset: &Object, inputs: &Inputs<'_>) -> Result<Generation, Error> {
    run(appset, inputs, false)
}

fn run(appset: &Object, inputs: &Inputs<'_>, check_destinations: bool) -> Result<Generation, Error> {
    let appset_id = id(appset);
    let spec_err = |field: &str, message: &str| Error::Spec {
        appset: appset_id.clone(),
        field: field.to_string(),
        message: message.to_string(),
    };
    if appset.kind() != "ApplicationSet" || appset.group() != "argoproj.io" {
        return Err(spec_err("kind", "not an argoproj.io ApplicationSet"));
    }
    if appset.namespace().is_empty() {
        return Err(spec_err("metadata.namespace", "is required: Applications are created in it"));
    }
    let spec = appset.value().get("spec").cloned().unwrap_or(Value::Null);
    let go = match spec.get("goTemplate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(spec_err("spec.goTemplate", "must be a boolean")),
    };
    let options: Vec<String> = match spec.get("goTemplateOptions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| spec_err("spec.goTemplateOptions", "must be a list of strings"))?,
        Some(_) => return Err(spec_err("spec.goTemplateOptions", "must be a list of strings")),
    };
    let mode = if go { Mode::Go } else { Mode::Flat };
    let engine = Engine::new(mode, &options).map_err(|e| spec_err("spec.goTemplateOptions", &e.to_string()))?;
    let spec_template = spec.get("template").cloned().unwrap_or_else(|| Value::Object(Map::new()));
    if !spec_template.is_object() {
        return Err(spec_err("spec.template", "must be an object"));
    }
    let template_patch = match spec.get("templatePatch") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(spec_err("spec.templatePatch", "must be a string")),
    };
    let preserve = spec.pointer("/syncPolicy/preserveResourcesOnDeletion").and_then(Value::as_bool).unwrap_or(false);
    let entries = match spec.get("generators") {
        Some(Value::Array(items)) => items.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(spec_err("spec.generators", "must be a list")),
    };
    let cx = generators::Context { engine, inputs, appset: appset.name(), namespace: appset.namespace() };
    let render_cx =
        RenderContext { namespace: appset.namespace(), template_patch, preserve_resources_on_deletion: preserve };

    // (app, generator index, set index)
    let mut generated: Vec<(Value, usize, usize)> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let kinds = generators::kinds_of(entry);
        if kinds.is_empty() {
            return Err(Error::Generator {
                appset: appset_id.clone(),
                index,
                kind: "none".into(),
                source: Box::new(generators::no_generator(entry)),
            });
        }
        for kind in kinds {
            let gen_err = |source| Error::Generator {
                appset: appset_id.clone(),
                index,
                kind: kind.to_string(),
                source: Box::new(source),
            };
            let sets = generators::run_kind(kind, &entry[kind], &cx, 0).map_err(gen_err)?;
            let sets =
                generators::post_select(entry, &format!("generators[{index}].selector"), sets).map_err(gen_err)?;
            let template = match entry[kind].get("template") {
                Some(t) if t.as_object().is_some_and(|m| !m.is_empty()) => merge_templates(&spec_template, t),
                _ => spec_template.clone(),
            };
            for (set, params) in sets.into_iter().enumerate() {
                let app = render_application_owned(&cx.engine, &template, params, &render_cx).map_err(|source| {
                    Error::Template {
                        appset: appset_id.clone(),
                        index,
                        kind: kind.to_string(),
                        set,
                        source: Box::new(source),
                    }
                })?;
                generated.push((app, index, set));
            }
        }
    }

    let mut out = Generation::default();
    // Names borrowed from the generated apps: ten thousand Applications are ten thousand
    // strings not copied twice.
    let mut first_of: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut duplicated: BTreeSet<String> = BTreeSet::new();
    for (app, index, set) in &generated {
        let name = str_at(app, "metadata", "name");
        if name.is_empty() {
            out.errors.push(ValidationError::NoName { index: *index, set: *set });
            continue;
        }
        match first_of.entry(name) {
            std::collections::btree_map::Entry::Occupied(first) => {
                let (first_index, first_set) = *first.get();
                duplicated.insert(name.to_string());
                out.errors.push(ValidationError::Duplicate {
                    name: name.to_string(),
                    first_index,
                    first_set,
                    second_index: *index,
                    second_set: *set,
                });
            }
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert((*index, *set));
            }
        }
    }
    out.names = first_of.into_keys().map(str::to_string).collect();
    for (app, _, _) in generated {
        let name = str_at(&app, "metadata", "name");
        if name.is_empty() || duplicated.contains(name) {
            continue;
        }
        if let Err(e) = crate::names::check_app_name("metadata.name", name) {
            out.errors.push(ValidationError::BadName { name: name.to_string(), reason: e.reason() });
            continue;
        }
        if let Some(registry) = inputs.clusters.filter(|_| check_destinations) {
            let destination = app.get("spec").and_then(|s| s.get("destination"));
            let server = destination.and_then(|d| d.get("server")).and_then(Value::as_str);
            let dest_name = destination.and_then(|d| d.get("name")).and_then(Value::as_str);
            if let Err(e) = registry.resolve(server, dest_name) {
                out.errors.push(ValidationError::Destination { name: name.to_string(), reason: e.to_string() });
                continue;
            }
        }
        out.apps.push(into_application(app, appset));
    }
    out.errors.sort();
    Ok(out)
}

/// The string at `a.b` in `v`, or empty (a JSON pointer would allocate for each of the
/// thousands of Applications).
fn str_at<'v>(v: &'v Value, a: &str, b: &str) -> &'v str {
    v.get(a).and_then(|x| x.get(b)).and_then(Value::as_str).unwrap_or("")
}

/// The rendered template as an Application object owned by the ApplicationSet.
fn into_application(rendered: Value, appset: &Object) -> Object {
    let mut app = Map::new();
    app.insert("apiVersion".into(), json!("argoproj.io/v1alpha1"));
    app.insert("kind".into(), json!("Application"));
    let mut rendered = match rendered {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut metadata = match rendered.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut owner = Map::new();
    owner.insert("apiVersion".into(), json!("argoproj.io/v1alpha1"));
    owner.insert("kind".into(), json!("ApplicationSet"));
    owner.insert("name".into(), json!(appset.name()));
    if let Some(uid) = appset.value().pointer("/metadata/uid") {
        owner.insert("uid".into(), uid.clone());
    }
    owner.insert("controller".into(), json!(true));
    owner.insert("blockOwnerDeletion".into(), json!(true));
    metadata.insert("ownerReferences".into(), Value::Array(vec![Value::Object(owner)]));
    app.insert("metadata".into(), Value::Object(metadata));
    for (k, v) in rendered {
        app.insert(k, v);
    }
    let name = app["metadata"]["name"].as_str().unwrap_or("").to_string();
    Object::new(Value::Object(app), Origin::inline(&format!("ApplicationSet {}: {name}", appset.name())))
}

#[cfg(test)]
mod tests;
