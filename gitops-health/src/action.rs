//! Resource actions, as Argo CD runs them: Lua scripts that offer (`discovery.lua`) and
//! perform (`<name>/action.lua`) operations on one live object, such as restarting a
//! Deployment or resuming a paused Rollout.
//!
//! The contract, as Argo CD's `util/lua`:
//! - a discovery script returns a table keyed by action name; each value may set `disabled`
//!   (default false), `displayName`, `iconClass` and `params` (a list of `{name, value,
//!   type, default}`); an empty table is "no actions", and an empty value (`{}`) an enabled
//!   action with nothing else;
//! - an action script reads the global `obj` and its parameters in the global
//!   `actionParams` (name to string), and returns either the changed object (to be patched)
//!   or a list of `{operation = "create"|"patch", resource = {...}}` (to create new objects,
//!   such as a Job from a CronJob);
//! - Lua cannot tell an empty map from an empty list and encodes both as `[]`: in a changed
//!   object, a `[]` where the input had a map is put back as the map (Argo CD's
//!   `cleanReturnedObj`), recursively through maps and lists;
//! - scripts run with Argo CD's restricted libraries (base and `table`; `os` through
//!   `require("os")`), whatever their origin, as Argo CD's API server runs them.
//!
//! Lookup, as Argo CD: an `argocd-cm` entry (`resource.customizations.actions.<group_Kind>`)
//! for the exact kind wins; with `mergeBuiltinActions: true` the tree's actions are offered
//! too (the ConfigMap's win on a name). The tree is the operator's directory over the bundled
//! actions (`<group>/<Kind>/actions/discovery.lua`, `<group>/<Kind>/actions/<name>/action.lua`,
//! exact kinds only: Argo CD has no wildcards for actions).

use std::collections::{BTreeMap, HashMap};

use gitops_core::settings::{ActionsOverride, Settings};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lua::{self, Engine, Libraries, Script};
use crate::scripts::group_kind_key;

/// Why an action could not be listed or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The script failed: its error, a timeout, the memory cap, or a non-table result.
    #[error("{}{source}", prefix(.origin))]
    Script {
        /// The script's file or `argocd-cm` key.
        origin: String,
        /// What went wrong, in Argo CD's words.
        source: lua::Error,
    },
    /// The script returned a table Argo CD would refuse.
    #[error("{}{problem}", prefix(.origin))]
    Output {
        /// The script's file or `argocd-cm` key.
        origin: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No action script for this kind and name.
    #[error("no action `{action}` for {group_kind}{}", available(.known))]
    UnknownAction {
        /// The action asked for.
        action: String,
        /// The object's `group/Kind`.
        group_kind: String,
        /// The actions there are for it.
        known: Vec<String>,
    },
    /// The discovery script offers the action but disables it for this object.
    #[error("action `{action}` is disabled for {object}")]
    Disabled {
        /// The action.
        action: String,
        /// The object, `Kind/name`.
        object: String,
    },
}

fn prefix(origin: &str) -> String {
    if origin.is_empty() { String::new() } else { format!("{origin}: ") }
}

fn available(known: &[String]) -> String {
    if known.is_empty() { " (it has no actions)".to_string() } else { format!(" (it has: {})", known.join(", ")) }
}

/// One script failed: the error as [`Error::Script`] names it. The engine's results carry no
/// origin, so callers add it with [`Error::at`].
impl From<lua::Error> for Error {
    fn from(source: lua::Error) -> Error {
        Error::Script { origin: String::new(), source }
    }
}

impl Error {
    /// The same error, naming the script it came from.
    pub fn at(self, where_: &str) -> Error {
        match self {
            Error::Script { source, .. } => Error::Script { origin: where_.to_string(), source },
            Error::Output { problem, .. } => Error::Output { origin: where_.to_string(), problem },
            other => other,
        }
    }
}

/// A parameter an action takes, as discovery describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionParam {
    /// Its name, the key in `actionParams`.
    #[serde(default)]
    pub name: String,
    /// A value set by the script.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// A type or format hint for a UI.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The default value shown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default: String,
}

/// An action a discovery script offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAction {
    /// The action's name (its directory).
    #[serde(default)]
    pub name: String,
    /// Its parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ActionParam>,
    /// Whether it is offered but cannot run on this object now.
    #[serde(default)]
    pub disabled: bool,
    /// An icon for a UI.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon_class: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
}

impl ResourceAction {
    /// The actions of a discovery script's result, sorted by name (Argo CD's order is Go's
    /// map order, that is none).
    pub fn from_result(value: &Value) -> Result<Vec<ResourceAction>, Error> {
        let out = |problem: String| Error::Output { origin: String::new(), problem };
        let map = match value {
            Value::Array(a) if a.is_empty() => return Ok(Vec::new()),
            Value::Object(m) => m,
            _ => return Err(out("discovery must return a table keyed by action name".into())),
        };
        let mut actions = Vec::with_capacity(map.len());
        for (name, v) in map {
            let mut action = match v {
                // `{}` encodes as `[]`, and so does any list: an enabled action, nothing else.
                Value::Array(_) => ResourceAction::default(),
                Value::Object(_) => serde_json::from_value::<ResourceAction>(v.clone())
                    .map_err(|e| out(format!("action `{name}`: {e}")))?,
                _ => {
                    return Err(out(format!(
                        "action `{name}`: expected a table, not {}",
                        gitops_core::manifest::type_name(v)
                    )));
                }
            };
            if action.name.is_empty() {
                action.name = name.clone();
            }
            actions.push(action);
        }
        actions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(actions)
    }
}

/// What to do with an object an action returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Patch the object with what changed (the default, and the only one of the old form).
    Patch,
    /// Create a new object.
    Create,
}

impl Operation {
    /// Its name in the list form.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Patch => "patch",
            Operation::Create => "create",
        }
    }
}

/// One object an action affects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// Patch or create.
    pub operation: Operation,
    /// The object as the action wants it.
    pub resource: Value,
}

/// What an action script returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionOutput {
    /// The objects it affects, in the order it listed them.
    pub impacts: Vec<Impact>,
}

impl ActionOutput {
    /// Reads an action's result: a list of `{operation, resource}` or, the old form, the
    /// changed object itself (a patch). Empty maps Lua turned into `[]` are put back where
    /// `original` had a map.
    pub fn from_result(value: Value, original: &Value) -> Result<ActionOutput, Error> {
        let out = |problem: String| Error::Output { origin: String::new(), problem };
        let impacts = match value {
            Value::Array(items) if items.is_empty() => {
                return Err(out("Lua output was not a valid json object or array".into()));
            }
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let Value::Object(mut m) = item else {
                        return Err(out(format!("result[{}]: expected {{operation, resource}}", i + 1)));
                    };
                    let operation = match m.remove("operation") {
                        Some(Value::String(s)) if s == "create" => Operation::Create,
                        Some(Value::String(s)) if s == "patch" => Operation::Patch,
                        Some(other) => {
                            return Err(out(format!("result[{}]: unsupported operation: {other}", i + 1)));
                        }
                        None => return Err(out(format!("result[{}]: `operation` is missing", i + 1))),
                    };
                    let resource = match m.remove("resource") {
                        Some(r @ Value::Object(_)) => r,
                        _ => return Err(out(format!("result[{}]: `resource` is not an object", i + 1))),
                    };
                    Ok(Impact { operation, resource })
                })
                .collect::<Result<Vec<_>, _>>()?,
            obj @ Value::Object(_) => vec![Impact { operation: Operation::Patch, resource: obj }],
            _ => return Err(out("Lua output was not a valid json object or array".into())),
        };
        let impacts = impacts
            .into_iter()
            .map(|mut i| {
                if i.operation == Operation::Patch {
                    restore_empty_maps(&mut i.resource, original);
                }
                i
            })
            .collect();
        Ok(ActionOutput { impacts })
    }
}

/// Argo CD's `cleanReturnedObj`: where `new` has `[]` and `old` a map, the map comes back;
/// maps and lists are followed where both sides have them.
fn restore_empty_maps(new: &mut Value, old: &Value) {
    match (new, old) {
        (Value::Object(n), Value::Object(o)) => {
            for (k, ov) in o {
                let Some(nv) = n.get_mut(k) else { continue };
                match (&*nv, ov) {
                    (Value::Array(a), Value::Object(_)) if a.is_empty() => *nv = ov.clone(),
                    _ => restore_empty_maps(nv, ov),
                }
            }
        }
        (Value::Array(n), Value::Array(o)) => {
            for (nv, ov) in n.iter_mut().zip(o) {
                if nv.is_object() || nv.is_array() {
                    restore_empty_maps(nv, ov);
                }
            }
        }
        _ => {}
    }
}

/// The action scripts of one kind.
#[derive(Debug, Clone, Default)]
struct KindActions {
    discovery: Option<Script>,
    actions: BTreeMap<String, Script>,
}

/// A script path that does not fit the actions layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path}: expected `<group>/<Kind>/actions/discovery.lua` or `<group>/<Kind>/actions/<name>/action.lua` (`<Kind>/actions/...` for the core group)"
)]
pub struct LayoutError {
    /// The offending path, relative to the tree's root.
    pub path: String,
}

/// Action scripts keyed by `group/Kind`, in Argo CD's `resource_customizations` layout.
#[derive(Debug, Clone, Default)]
pub struct ActionTree {
    kinds: HashMap<String, KindActions>,
}

/// The actions we bundle, compiled in: `(path in the tree, source)`.
const BUNDLED: &[(&str, &str)] = &[
    ("apps/DaemonSet/actions/discovery.lua", include_str!("../checks/apps/DaemonSet/actions/discovery.lua")),
    ("apps/DaemonSet/actions/restart/action.lua", include_str!("../checks/apps/DaemonSet/actions/restart/action.lua")),
    ("apps/Deployment/actions/discovery.lua", include_str!("../checks/apps/Deployment/actions/discovery.lua")),
    ("apps/Deployment/actions/pause/action.lua", include_str!("../checks/apps/Deployment/actions/pause/action.lua")),
    (
        "apps/Deployment/actions/restart/action.lua",
        include_str!("../checks/apps/Deployment/actions/restart/action.lua"),
    ),
    ("apps/Deployment/actions/resume/action.lua", include_str!("../checks/apps/Deployment/actions/resume/action.lua")),
    ("apps/Deployment/actions/scale/action.lua", include_str!("../checks/apps/Deployment/actions/scale/action.lua")),
    ("apps/StatefulSet/actions/discovery.lua", include_str!("../checks/apps/StatefulSet/actions/discovery.lua")),
    (
        "apps/StatefulSet/actions/restart/action.lua",
        include_str!("../checks/apps/StatefulSet/actions/restart/action.lua"),
    ),
    ("apps/StatefulSet/actions/scale/action.lua", include_str!("../checks/apps/StatefulSet/actions/scale/action.lua")),
    (
        "argoproj.io/AnalysisRun/actions/discovery.lua",
        include_str!("../checks/argoproj.io/AnalysisRun/actions/discovery.lua"),
    ),
    (
        "argoproj.io/AnalysisRun/actions/terminate/action.lua",
        include_str!("../checks/argoproj.io/AnalysisRun/actions/terminate/action.lua"),
    ),
    (
        "argoproj.io/Rollout/actions/abort/action.lua",
        include_str!("../checks/argoproj.io/Rollout/actions/abort/action.lua"),
    ),
    ("argoproj.io/Rollout/actions/discovery.lua", include_str!("../checks/argoproj.io/Rollout/actions/discovery.lua")),
    (
        "argoproj.io/Rollout/actions/pause/action.lua",
        include_str!("../checks/argoproj.io/Rollout/actions/pause/action.lua"),
    ),
    (
        "argoproj.io/Rollout/actions/promote-full/action.lua",
        include_str!("../checks/argoproj.io/Rollout/actions/promote-full/action.lua"),
    ),
    (
        "argoproj.io/Rollout/actions/restart/action.lua",
        include_str!("../checks/argoproj.io/Rollout/actions/restart/action.lua"),
    ),
    (
        "argoproj.io/Rollout/actions/resume/action.lua",
        include_str!("../checks/argoproj.io/Rollout/actions/resume/action.lua"),
    ),
    (
        "argoproj.io/Rollout/actions/retry/action.lua",
        include_str!("../checks/argoproj.io/Rollout/actions/retry/action.lua"),
    ),
    (
        "argoproj.io/Rollout/actions/skip-current-step/action.lua",
        include_str!("../checks/argoproj.io/Rollout/actions/skip-current-step/action.lua"),
    ),
    (
        "batch/CronJob/actions/create-job/action.lua",
        include_str!("../checks/batch/CronJob/actions/create-job/action.lua"),
    ),
    ("batch/CronJob/actions/discovery.lua", include_str!("../checks/batch/CronJob/actions/discovery.lua")),
    ("batch/CronJob/actions/resume/action.lua", include_str!("../checks/batch/CronJob/actions/resume/action.lua")),
    ("batch/CronJob/actions/suspend/action.lua", include_str!("../checks/batch/CronJob/actions/suspend/action.lua")),
    (
        "helm.toolkit.fluxcd.io/HelmRelease/actions/discovery.lua",
        include_str!("../checks/helm.toolkit.fluxcd.io/HelmRelease/actions/discovery.lua"),
    ),
    (
        "helm.toolkit.fluxcd.io/HelmRelease/actions/reconcile/action.lua",
        include_str!("../checks/helm.toolkit.fluxcd.io/HelmRelease/actions/reconcile/action.lua"),
    ),
    (
        "helm.toolkit.fluxcd.io/HelmRelease/actions/resume/action.lua",
        include_str!("../checks/helm.toolkit.fluxcd.io/HelmRelease/actions/resume/action.lua"),
    ),
    (
        "helm.toolkit.fluxcd.io/HelmRelease/actions/suspend/action.lua",
        include_str!("../checks/helm.toolkit.fluxcd.io/HelmRelease/actions/suspend/action.lua"),
    ),
    (
        "kustomize.toolkit.fluxcd.io/Kustomization/actions/discovery.lua",
        include_str!("../checks/kustomize.toolkit.fluxcd.io/Kustomization/actions/discovery.lua"),
    ),
    (
        "kustomize.toolkit.fluxcd.io/Kustomization/actions/reconcile/action.lua",
        include_str!("../checks/kustomize.toolkit.fluxcd.io/Kustomization/actions/reconcile/action.lua"),
    ),
    (
        "kustomize.toolkit.fluxcd.io/Kustomization/actions/resume/action.lua",
        include_str!("../checks/kustomize.toolkit.fluxcd.io/Kustomization/actions/resume/action.lua"),
    ),
    (
        "kustomize.toolkit.fluxcd.io/Kustomization/actions/suspend/action.lua",
        include_str!("../checks/kustomize.toolkit.fluxcd.io/Kustomization/actions/suspend/action.lua"),
    ),
    (
        "source.toolkit.fluxcd.io/GitRepository/actions/discovery.lua",
        include_str!("../checks/source.toolkit.fluxcd.io/GitRepository/actions/discovery.lua"),
    ),
    (
        "source.toolkit.fluxcd.io/GitRepository/actions/reconcile/action.lua",
        include_str!("../checks/source.toolkit.fluxcd.io/GitRepository/actions/reconcile/action.lua"),
    ),
    (
        "source.toolkit.fluxcd.io/GitRepository/actions/resume/action.lua",
        include_str!("../checks/source.toolkit.fluxcd.io/GitRepository/actions/resume/action.lua"),
    ),
    (
        "source.toolkit.fluxcd.io/GitRepository/actions/suspend/action.lua",
        include_str!("../checks/source.toolkit.fluxcd.io/GitRepository/actions/suspend/action.lua"),
    ),
];

impl ActionTree {
    /// An empty tree.
    pub fn new() -> ActionTree {
        ActionTree::default()
    }

    /// The actions this project bundles (those Argo CD ships for Deployment, StatefulSet,
    /// DaemonSet, CronJob, Argo Rollout and AnalysisRun, and Flux Kustomization, HelmRelease
    /// and GitRepository).
    pub fn bundled() -> ActionTree {
        let mut tree = ActionTree::new();
        for (path, source) in BUNDLED {
            // Fixed, well-formed paths; the unit tests load them all.
            let _ = tree.insert(path, source, &format!("bundled:{path}"));
        }
        tree
    }

    /// Whether `path` (relative to a tree's root) is an action script path: what a reader
    /// walking a directory should pass to [`ActionTree::insert`].
    pub fn is_action_path(path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or("");
        (name == "discovery.lua" || name == "action.lua") && path.contains("/actions/")
    }

    /// Adds the script at `path` (`/`-separated, relative to the tree root); `origin` names it
    /// in messages. A later insert at the same path replaces the earlier one.
    pub fn insert(&mut self, path: &str, source: &str, origin: &str) -> Result<(), LayoutError> {
        let bad = || LayoutError { path: path.to_string() };
        let (key, rest) = path.split_once("/actions/").ok_or_else(bad)?;
        if key.is_empty() || key.split('/').count() > 2 || key.split('/').any(str::is_empty) {
            return Err(bad());
        }
        let script = Script::new(source, Libraries::Restricted, origin);
        let entry = self.kinds.entry(key.to_string()).or_default();
        if rest == "discovery.lua" {
            entry.discovery = Some(script);
        } else {
            let name =
                rest.strip_suffix("/action.lua").filter(|n| !n.is_empty() && !n.contains('/')).ok_or_else(bad)?;
            entry.actions.insert(name.to_string(), script);
        }
        Ok(())
    }

    /// Puts `over`'s scripts on top of this tree's: the same path is replaced.
    pub fn overlay(&mut self, over: ActionTree) {
        for (key, kind) in over.kinds {
            let mine = self.kinds.entry(key).or_default();
            if kind.discovery.is_some() {
                mine.discovery = kind.discovery;
            }
            mine.actions.extend(kind.actions);
        }
    }

    /// How many scripts the tree holds.
    pub fn len(&self) -> usize {
        self.kinds.values().map(|k| k.actions.len() + usize::from(k.discovery.is_some())).sum()
    }

    /// Whether the tree holds no script.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The discovery script for `group/Kind`.
    pub fn discovery(&self, group: &str, kind: &str) -> Option<&Script> {
        self.kinds.get(&group_kind_key(group, kind))?.discovery.as_ref()
    }

    /// The script of action `name` for `group/Kind`.
    pub fn action(&self, group: &str, kind: &str, name: &str) -> Option<&Script> {
        self.kinds.get(&group_kind_key(group, kind))?.actions.get(name)
    }

    /// The `group/Kind` keys that have action scripts.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// The names of the action scripts for `group/Kind`.
    pub fn action_names(&self, group: &str, kind: &str) -> Vec<String> {
        self.kinds.get(&group_kind_key(group, kind)).map(|k| k.actions.keys().cloned().collect()).unwrap_or_default()
    }
}

/// Every action source, in Argo CD's precedence, and the engine that runs them.
#[derive(Debug, Clone)]
pub struct Actions {
    engine: Engine,
    overrides: Vec<ActionsOverride>,
    tree: ActionTree,
}

impl Default for Actions {
    fn default() -> Self {
        Actions::new(Engine::default())
    }
}

/// The kind of a JSON object: its group and kind.
fn group_kind_of(obj: &Value) -> (&str, &str) {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = gitops_core::schema::split_api_version(api_version).0;
    (group, obj.get("kind").and_then(Value::as_str).unwrap_or(""))
}

fn object_name(obj: &Value) -> String {
    let (_, kind) = group_kind_of(obj);
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    format!("{kind}/{name}")
}

impl Actions {
    /// The bundled actions, run by `engine`.
    pub fn new(engine: Engine) -> Actions {
        Actions { engine, overrides: Vec::new(), tree: ActionTree::bundled() }
    }

    /// The same, with no action at all but those of `tree` (for testing a tree alone).
    pub fn only(engine: Engine, tree: ActionTree) -> Actions {
        Actions { engine, overrides: Vec::new(), tree }
    }

    /// The operator's tree over the bundled one.
    pub fn with_tree(mut self, tree: ActionTree) -> Actions {
        self.tree.overlay(tree);
        self
    }

    /// The `argocd-cm` actions over everything else.
    pub fn with_settings(mut self, settings: &Settings) -> Actions {
        self.overrides = settings.actions.clone();
        self
    }

    /// Every `group/Kind` with actions, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut all: Vec<String> =
            self.tree.kinds().chain(self.overrides.iter().map(|o| o.group_kind.as_str())).map(str::to_string).collect();
        all.sort();
        all.dedup();
        all
    }

    /// The kinds with actions that `text` names, as `(group, Kind)`: `Kind` or `Kind.group`,
    /// case-insensitively, a plural `s` allowed (`rollouts`, `deployment.apps`).
    pub fn resolve_kind(&self, text: &str) -> Vec<(String, String)> {
        let (kind, group) = text.split_once('.').map_or((text, None), |(k, g)| (k, Some(g)));
        let mut found: Vec<(String, String)> = self
            .tree
            .kinds()
            .chain(self.overrides.iter().map(|o| o.group_kind.as_str()))
            .filter_map(|key| {
                let (g, k) = key.split_once('/').unwrap_or(("", key));
                let kind_ok = k.eq_ignore_ascii_case(kind) || format!("{k}s").eq_ignore_ascii_case(kind);
                let group_ok = group.is_none_or(|want| g.eq_ignore_ascii_case(want));
                (kind_ok && group_ok).then(|| (g.to_string(), k.to_string()))
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// The engine that runs them.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn override_for(&self, group: &str, kind: &str) -> Option<&ActionsOverride> {
        let key = group_kind_key(group, kind);
        self.overrides.iter().find(|o| o.group_kind == key)
    }

    /// The discovery scripts that apply to `obj`, first wins on a name.
    fn discovery_scripts(&self, group: &str, kind: &str) -> Vec<Script> {
        let mut scripts = Vec::new();
        if let Some(o) = self.override_for(group, kind) {
            if !o.discovery.trim().is_empty() {
                scripts.push(Script::new(
                    o.discovery.as_str(),
                    Libraries::Restricted,
                    format!("{} discovery.lua", o.key),
                ));
            }
            if !o.merge_builtin {
                return scripts;
            }
        }
        scripts.extend(self.tree.discovery(group, kind).cloned());
        scripts
    }

    /// The actions offered for `obj`, sorted by name (none when no discovery script applies).
    pub fn list(&self, obj: &Value) -> Result<Vec<ResourceAction>, Error> {
        let (group, kind) = group_kind_of(obj);
        let mut seen: BTreeMap<String, ResourceAction> = BTreeMap::new();
        for script in self.discovery_scripts(group, kind) {
            let found = self.engine.discover(&script, obj).map_err(|e| e.at(script.origin()))?;
            for a in found {
                seen.entry(a.name.clone()).or_insert(a);
            }
        }
        Ok(seen.into_values().collect())
    }

    /// The script of action `name` for `obj`'s kind.
    pub fn script(&self, obj: &Value, name: &str) -> Result<Script, Error> {
        let (group, kind) = group_kind_of(obj);
        if let Some(o) = self.override_for(group, kind)
            && let Some((_, src)) = o.definitions.iter().find(|(n, _)| n == name)
        {
            return Ok(Script::new(src.as_str(), Libraries::Restricted, format!("{} {name}", o.key)));
        }
        if let Some(s) = self.tree.action(group, kind, name) {
            return Ok(s.clone());
        }
        let mut known: Vec<String> = self.tree.action_names(group, kind);
        if let Some(o) = self.override_for(group, kind) {
            known.extend(o.definitions.iter().map(|(n, _)| n.clone()));
        }
        known.sort();
        known.dedup();
        Err(Error::UnknownAction { action: name.to_string(), group_kind: group_kind_key(group, kind), known })
    }

    /// Runs action `name` on `obj` with `params`. An action that discovery lists as disabled
    /// is refused, as Argo CD's API server refuses it.
    pub fn run(&self, obj: &Value, name: &str, params: &BTreeMap<String, String>) -> Result<ActionOutput, Error> {
        let script = self.script(obj, name)?;
        if self.list(obj)?.iter().any(|a| a.name == name && a.disabled) {
            return Err(Error::Disabled { action: name.to_string(), object: object_name(obj) });
        }
        self.engine.run_action(&script, obj, params).map_err(|e| e.at(script.origin()))
    }

    /// Runs action `name` on `obj` without asking discovery first (what `action_test.yaml`
    /// cases do).
    pub fn run_unchecked(
        &self,
        obj: &Value,
        name: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<ActionOutput, Error> {
        let script = self.script(obj, name)?;
        self.engine.run_action(&script, obj, params).map_err(|e| e.at(script.origin()))
    }
}

#[cfg(test)]
mod tests;
