//! Which check decides an object's health, in Argo CD's precedence, and running it.
//!
//! 1. An object being deleted (a `deletionTimestamp` and no hook finalizer) is
//!    `Progressing` "Pending deletion"; nothing runs.
//! 2. An `argocd-cm` script for its exact `group/Kind`, then the first wildcard key that
//!    matches (keys in lexicographic order; Argo CD's choice here depends on Go's map order).
//! 3. A script from the trees: the operator's directory over the bundled checks, exact path
//!    then wildcard directories.
//! 4. The built-in check for its kind.
//!
//! A script that returns nothing gives no status and the built-in check is not consulted,
//! as in Argo CD; a script error gives `Unknown` with the error's text.

use gitops_core::glob::Glob;
use gitops_core::settings::Settings;
use serde::Serialize;
use serde_json::Value;

use crate::builtin;
use crate::lua::{self, Engine, Libraries, Script};
use crate::scripts::{ScriptTree, group_kind_key};
use crate::status::{Health, HealthStatus};

/// The finalizer Argo CD puts on hooks; a hook being deleted keeps its real health.
const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

/// An `argocd-cm` health key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argocd-cm key `{key}`: `{pattern}` is not a valid group/kind pattern: {problem}")]
pub struct SettingsError {
    /// The ConfigMap key.
    pub key: String,
    /// The group/kind pattern it names.
    pub pattern: String,
    /// What is wrong with it.
    pub problem: String,
}

/// What decided an object's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CheckSource {
    /// The object is being deleted.
    DeletionPending,
    /// A Lua script; `origin` is its file or `argocd-cm` key.
    Lua {
        /// Where the script came from.
        origin: String,
    },
    /// The built-in check for its kind.
    Builtin,
    /// No check applies: the object takes no part in app health.
    None,
}

/// The outcome of assessing one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The health, or `None` when no check applies or a script returned no status.
    pub health: Option<Health>,
    /// Which check decided.
    pub source: CheckSource,
    /// The script's error, when it failed (the health is then `Unknown` with its text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The health checks of an installation: configured scripts, script trees, built-ins.
#[derive(Debug, Clone)]
pub struct HealthChecks {
    engine: Engine,
    exact: Vec<(String, Script)>,
    wildcard: Vec<(Glob, Script)>,
    tree: ScriptTree,
}

impl Default for HealthChecks {
    /// The bundled scripts and the built-in checks, with default limits.
    fn default() -> Self {
        HealthChecks::new(Engine::default())
    }
}

impl HealthChecks {
    /// The bundled scripts and the built-in checks, run by `engine`.
    pub fn new(engine: Engine) -> HealthChecks {
        HealthChecks { engine, exact: Vec::new(), wildcard: Vec::new(), tree: ScriptTree::bundled() }
    }

    /// Only the built-in checks (no bundled scripts).
    pub fn builtin_only(engine: Engine) -> HealthChecks {
        HealthChecks { engine, exact: Vec::new(), wildcard: Vec::new(), tree: ScriptTree::new() }
    }

    /// Adds the health scripts of an `argocd-cm`: they run with the restricted libraries
    /// unless their `useOpenLibs` is set.
    pub fn with_settings(mut self, settings: &Settings) -> Result<HealthChecks, SettingsError> {
        for o in &settings.health {
            let libraries = if o.use_open_libs { Libraries::Trusted } else { Libraries::Restricted };
            let script = Script::new(o.script.as_str(), libraries, o.key.as_str());
            if !o.group_kind.contains(['*', '?', '[', '{']) {
                self.exact.retain(|(k, _)| *k != o.group_kind);
                self.exact.push((o.group_kind.clone(), script));
            } else {
                let glob = Glob::new(&o.group_kind).map_err(|problem| SettingsError {
                    key: o.key.clone(),
                    pattern: o.group_kind.clone(),
                    problem: problem.to_string(),
                })?;
                self.wildcard.push((glob, script));
            }
        }
        Ok(self)
    }

    /// Puts an operator's script tree over the current one (by default the bundled scripts).
    pub fn with_tree(mut self, tree: ScriptTree) -> HealthChecks {
        self.tree.overlay(tree);
        self
    }

    /// Replaces the script tree altogether (e.g. to test a directory on its own).
    pub fn replace_tree(mut self, tree: ScriptTree) -> HealthChecks {
        self.tree = tree;
        self
    }

    /// The engine that runs scripts.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The script that decides the health of `group`/`kind`, if any.
    pub fn script_for(&self, group: &str, kind: &str) -> Option<&Script> {
        let key = group_kind_key(group, kind);
        if let Some((_, s)) = self.exact.iter().find(|(k, _)| *k == key) {
            return Some(s);
        }
        if let Some((_, s)) = self.wildcard.iter().find(|(g, _)| g.matches(&key)) {
            return Some(s);
        }
        self.tree.lookup(group, kind)
    }

    /// Assesses one object as the API server returns it.
    pub fn assess(&self, obj: &Value) -> Assessment {
        if deletion_pending(obj) {
            return Assessment {
                health: Some(Health::new(HealthStatus::Progressing, "Pending deletion")),
                source: CheckSource::DeletionPending,
                error: None,
            };
        }
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let group = gitops_core::schema::split_api_version(api_version).0;
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if let Some(script) = self.script_for(group, kind) {
            return self.run(script, obj);
        }
        match builtin::check(obj) {
            Some(h) => Assessment { health: Some(h), source: CheckSource::Builtin, error: None },
            None => Assessment { health: None, source: CheckSource::None, error: None },
        }
    }

    /// Runs one script on `obj`, turning an error into `Unknown` as Argo CD does.
    pub fn run(&self, script: &Script, obj: &Value) -> Assessment {
        let source = CheckSource::Lua { origin: script.origin().to_string() };
        match self.engine.evaluate(script, obj) {
            Ok(health) => Assessment { health, source, error: None },
            Err(e) => error_assessment(e, source),
        }
    }
}

fn error_assessment(e: lua::Error, source: CheckSource) -> Assessment {
    let text = e.to_string();
    Assessment { health: Some(Health::new(HealthStatus::Unknown, text.clone())), source, error: Some(text) }
}

/// A `deletionTimestamp` without Argo CD's hook finalizer.
fn deletion_pending(obj: &Value) -> bool {
    let Some(meta) = obj.get("metadata") else { return false };
    if meta.get("deletionTimestamp").is_none_or(Value::is_null) {
        return false;
    }
    let hook_finalizer = meta
        .get("finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(HOOK_FINALIZER)));
    !hook_finalizer
}
