//! Argo Rollouts on a target: the objects `gitops rollout get` shows beside a Rollout, and a
//! Rollout stepped through from files (its status and AnalysisRuns) written back, as the
//! Rollouts controller would have written them.

use gitops_core::{Object, Origin, ResourceKey};
use serde::Serialize;
use serde_json::Value;

use crate::action::write_patch;
use crate::cluster::{self, ApplyMode, Cluster};

/// Why a Rollout could not be read from or written to a target.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Rollout at the key.
    #[error("{key}: not found on {target}")]
    NotFound {
        /// The Rollout asked for.
        key: String,
        /// The target.
        target: String,
    },
    /// The target refused a write or could not be read.
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    /// A status could not be written.
    #[error("the status could not be written: {0}")]
    Status(String),
}

/// The key of Rollout `name` in `namespace`.
pub fn key(namespace: &str, name: &str) -> ResourceKey {
    ResourceKey::new("argoproj.io", "Rollout", namespace, name)
}

/// The Rollout at `key` and the ReplicaSets, Pods and AnalysisRuns of its namespace (which of
/// them it owns is [`gitops_core::rollout::info`]'s to say).
pub async fn get<C: Cluster>(cluster: &C, key: &ResourceKey) -> Result<(Value, Vec<Value>), Error> {
    let rollout =
        cluster.get(key).await?.ok_or_else(|| Error::NotFound { key: key.to_string(), target: cluster.describe() })?;
    let related = cluster
        .namespace_objects(&key.namespace)
        .await?
        .into_iter()
        .filter(|o| matches!(o.kind(), "ReplicaSet" | "Pod" | "AnalysisRun"))
        .map(Object::into_value)
        .collect();
    Ok((rollout.into_value(), related))
}

/// One object written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The object.
    pub key: String,
    /// `created`, `configured` or `unchanged`.
    pub applied: &'static str,
}

/// Writes `rollout` (replaced whole, its status through the status subresource) and then
/// `runs`, each owned by the Rollout as stored (its uid set in their owner reference).
pub async fn write<C: Cluster>(cluster: &C, rollout: &Value, runs: &[Value]) -> Result<Vec<Written>, Error> {
    let mut written = Vec::new();
    let origin = Origin::inline("rollout run");
    let stored = put(cluster, rollout, &origin, &mut written).await?;
    let uid = stored.value().pointer("/metadata/uid").cloned();
    for run in runs {
        let mut run = run.clone();
        if let (Some(uid), Some(owner)) = (&uid, run.pointer_mut("/metadata/ownerReferences/0")) {
            owner["uid"] = uid.clone();
        }
        put(cluster, &run, &origin, &mut written).await?;
    }
    Ok(written)
}

async fn put<C: Cluster>(
    cluster: &C,
    value: &Value,
    origin: &Origin,
    written: &mut Vec<Written>,
) -> Result<Object, Error> {
    let mut body = value.clone();
    let status = body.as_object_mut().and_then(|m| m.remove("status"));
    let obj = Object::new(body, origin.clone());
    let (applied, stored) = cluster.apply(&obj, ApplyMode::Replace, false).await?;
    let key = stored.key("");
    if let Some(mut status) = status {
        // The status was computed for the spec just written: it has observed its generation.
        if let (Some(generation), Some(observed)) = (
            stored.value().pointer("/metadata/generation").and_then(Value::as_i64),
            status.get_mut("observedGeneration"),
        ) {
            *observed = Value::String(generation.to_string());
        }
        write_patch(cluster, &key, serde_json::json!({ "status": status })).await.map_err(|e| match e {
            crate::action::Error::Cluster(c) => Error::Cluster(c),
            other => Error::Status(format!("{key}: {other}")),
        })?;
    }
    written.push(Written { key: key.to_string(), applied: applied.as_str() });
    Ok(stored)
}
