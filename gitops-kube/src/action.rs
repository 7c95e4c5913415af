//! Running a resource action on a live object, as Argo CD's API server does
//! (`argocd app actions run`): the object is read, the action script runs on it
//! ([`gitops_health::action::Actions`]), and what it returned is written:
//! - a changed object (`patch`) is written as the JSON merge patch from the live object to it;
//!   a change to `status` goes to the status subresource first (Rollout's `abort`, `retry`,
//!   `promote-full` write status), and into the main patch when the kind has none;
//! - a new object (`create`) is created, in the action object's namespace when it names none;
//!   an object that already exists is refused, as a create is.
//!
//! Nothing is written when the script fails, so the object is left as it was.

use std::collections::BTreeMap;

use gitops_core::merge_patch;
use gitops_core::{Object, ResourceKey};
use gitops_health::action::{self, Actions, Operation, ResourceAction};
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{self, ApplyMode, Cluster};

/// Why an action could not be listed or run on a target.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No object at the key.
    #[error("{key}: not found on {target}")]
    NotFound {
        /// The object asked for.
        key: String,
        /// The target.
        target: String,
    },
    /// The action script failed or is not there; nothing was written.
    #[error("{0} (nothing was changed)")]
    Action(#[from] action::Error),
    /// An object the action creates exists already.
    #[error("{key}: already exists (the action creates it)")]
    AlreadyExists {
        /// The object.
        key: String,
    },
    /// The target refused a write or could not be read.
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Merge-patched (`status` when the status subresource took part of it).
    Patched {
        /// Whether the status subresource was patched.
        status: bool,
    },
    /// The action changed nothing in it.
    Unchanged,
    /// Created.
    Created,
}

/// One object an action wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The object.
    pub key: String,
    /// What the action asked for.
    pub operation: &'static str,
    /// What was done.
    pub outcome: Outcome,
    /// The merge patch sent (patches only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
}

async fn live<C: Cluster>(cluster: &C, key: &ResourceKey) -> Result<Object, Error> {
    cluster.get(key).await?.ok_or_else(|| Error::NotFound { key: key.to_string(), target: cluster.describe() })
}

/// The actions offered for the object at `key`.
pub async fn list<C: Cluster>(cluster: &C, actions: &Actions, key: &ResourceKey) -> Result<Vec<ResourceAction>, Error> {
    let obj = live(cluster, key).await?;
    Ok(actions.list(obj.value())?)
}

/// Runs action `name` on the object at `key` and writes what it returned.
pub async fn run<C: Cluster>(
    cluster: &C,
    actions: &Actions,
    key: &ResourceKey,
    name: &str,
    params: &BTreeMap<String, String>,
) -> Result<Vec<Written>, Error> {
    let obj = live(cluster, key).await?;
    let output = actions.run(obj.value(), name, params)?;
    let mut written = Vec::new();
    for impact in output.impacts {
        let mut target = Object::new(impact.resource, obj.origin().clone());
        match impact.operation {
            Operation::Patch => {
                let target_key = target.key(&key.namespace);
                let current = if target_key == *key { obj.clone() } else { live(cluster, &target_key).await? };
                let patch = merge_patch::create(current.value(), target.value());
                written.push(write_patch(cluster, &target_key, patch).await?);
            }
            Operation::Create => {
                if target.namespace().is_empty()
                    && !key.namespace.is_empty()
                    && !target.is_cluster_scoped()
                    && let Some(meta) = target.value_mut().get_mut("metadata").and_then(Value::as_object_mut)
                {
                    meta.insert("namespace".into(), Value::String(key.namespace.clone()));
                }
                let new_key = target.key("");
                if cluster.get(&new_key).await?.is_some() {
                    return Err(Error::AlreadyExists { key: new_key.to_string() });
                }
                cluster.apply(&target, ApplyMode::Replace, false).await?;
                written.push(Written {
                    key: new_key.to_string(),
                    operation: Operation::Create.as_str(),
                    outcome: Outcome::Created,
                    patch: None,
                });
            }
        }
    }
    Ok(written)
}

/// Sends `patch`: its `status` to the status subresource (and with the rest when the kind has
/// none), the rest as a merge patch of the object.
pub(crate) async fn write_patch<C: Cluster>(cluster: &C, key: &ResourceKey, patch: Value) -> Result<Written, Error> {
    let done = |outcome, patch| Written { key: key.to_string(), operation: Operation::Patch.as_str(), outcome, patch };
    let Value::Object(mut rest) = patch.clone() else { return Ok(done(Outcome::Unchanged, None)) };
    if rest.is_empty() {
        return Ok(done(Outcome::Unchanged, None));
    }
    let mut status = false;
    if let Some(s) = rest.remove("status") {
        let status_patch = serde_json::json!({ "status": s });
        if cluster.merge_patch(key, &status_patch, true).await? {
            status = true;
        } else {
            rest.insert("status".into(), s);
        }
    }
    if !rest.is_empty() && !cluster.merge_patch(key, &Value::Object(rest), false).await? {
        return Err(Error::NotFound { key: key.to_string(), target: cluster.describe() });
    }
    Ok(done(Outcome::Patched { status }, Some(patch)))
}
