//! What `kubectl argo rollouts get rollout` shows: the Rollout's status, strategy, step,
//! weights, images and replicas, and the tree of revisions with the ReplicaSets (and their
//! pods) and AnalysisRuns the Rollout owns.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::{Error, at, current_step, int_at, set_weight, steps, str_at};

/// The Rollout as the plugin shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Healthy, Paused, Degraded, Progressing, InvalidSpec...
    pub status: String,
    /// The icon of the status (✔, ॥, ✖, ◌...).
    pub icon: &'static str,
    /// Why (a pause reason, an abort message...); may be empty.
    pub message: String,
    /// `Canary` or `BlueGreen` (empty when neither is set).
    pub strategy: String,
    /// `N/M` of a canary with steps while `currentStepIndex` is set, else empty.
    pub step: String,
    /// The weight the canary is set to (canary only).
    pub set_weight: String,
    /// The weight the canary has (canary only).
    pub actual_weight: String,
    /// Images of ReplicaSets with replicas, sorted, each with its tags (stable, canary...).
    pub images: Vec<Image>,
    /// Replica counts.
    pub replicas: Replicas,
    /// Revisions, newest first.
    pub revisions: Vec<Revision>,
}

/// An image and the stacks that run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    /// The image reference.
    pub image: String,
    /// `active`, `canary`, `preview`, `stable`, sorted.
    pub tags: Vec<String>,
}

/// Replica counts of the Rollout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Replicas {
    /// `spec.replicas` (1 when unset).
    pub desired: i64,
    /// `status.replicas`.
    pub current: i64,
    /// `status.updatedReplicas`.
    pub updated: i64,
    /// `status.readyReplicas`.
    pub ready: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

/// One revision's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// The `rollout.argoproj.io/revision` annotation (0 when missing).
    pub revision: i64,
    /// Its ReplicaSets.
    pub replica_sets: Vec<ReplicaSet>,
    /// Its AnalysisRuns.
    pub analysis_runs: Vec<AnalysisRun>,
}

/// A ReplicaSet the Rollout owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaSet {
    /// Its name.
    pub name: String,
    /// Healthy, Progressing, ScaledDown, ReplicaFailure.
    pub status: String,
    /// The status' icon.
    pub icon: &'static str,
    /// `stable`, `canary`, `active`, `preview`.
    pub tags: Vec<String>,
    /// `status.replicas`.
    pub replicas: i64,
    /// `status.availableReplicas`.
    pub available: i64,
    /// Container images.
    pub images: Vec<String>,
    /// Its pods.
    pub pods: Vec<Pod>,
}

/// A pod of a ReplicaSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pod {
    /// Its name.
    pub name: String,
    /// Its status as kubectl shows it (Running, Pending, a container's waiting reason...).
    pub status: String,
    /// The status' icon.
    pub icon: &'static str,
    /// `ready:N/M`.
    pub ready: String,
}

/// An AnalysisRun the Rollout owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnalysisRun {
    /// Its name.
    pub name: String,
    /// Its phase (Pending when it has none).
    pub status: String,
    /// The phase's icon.
    pub icon: &'static str,
    /// Successful measurements, over all metrics.
    pub successful: i64,
    /// Failed ones.
    pub failed: i64,
    /// Inconclusive ones.
    pub inconclusive: i64,
    /// Errors.
    pub error: i64,
}

/// The icon of a Rollout status word.
pub fn rollout_icon(status: &str) -> &'static str {
    match status {
        "Progressing" => "◌",
        "Error" | "InvalidSpec" => "⚠",
        "Paused" => "॥",
        "Healthy" => "✔",
        "Degraded" => "✖",
        "Unknown" => "?",
        "ScaledDown" => "•",
        _ => " ",
    }
}

/// The icon of an analysis phase.
pub fn analysis_icon(phase: &str) -> &'static str {
    match phase {
        "Successful" => "✔",
        "Inconclusive" => "?",
        "Failed" => "✖",
        "Error" => "⚠",
        "Running" => "◌",
        "Pending" | "" => "◷",
        _ => " ",
    }
}

fn is_true(v: &Value, path: &[&str]) -> bool {
    at(v, path).and_then(Value::as_bool) == Some(true)
}

fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The Rollout's status word and message, as the plugin computes them.
pub fn status(rollout: &Value) -> (String, String) {
    let generation = int_at(rollout, &["metadata", "generation"]);
    // `observedGeneration` is a string; only a number is compared (older controllers wrote a
    // hash), and a number above the generation counts as observed.
    let observed = match at(rollout, &["status", "observedGeneration"]) {
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    if let (Some(g), Some(o)) = (generation, observed)
        && o < g
    {
        return ("Progressing".into(), "waiting for rollout spec update to be observed".into());
    }
    let pause_conditions = list(rollout, &["status", "pauseConditions"]);
    if is_true(rollout, &["status", "controllerPause"]) && pause_conditions.is_empty() {
        return ("Progressing".into(), "waiting for rollout to unpause".into());
    }
    let phase = str_at(rollout, &["status", "phase"]);
    if !phase.is_empty() {
        return (phase.to_string(), str_at(rollout, &["status", "message"]).to_string());
    }
    calculate(rollout, pause_conditions)
}

/// The controller's own computation, for Rollouts without `status.phase`.
fn calculate(rollout: &Value, pause_conditions: &[Value]) -> (String, String) {
    let progressing = |m: &str| ("Progressing".to_string(), m.to_string());
    for c in list(rollout, &["status", "conditions"]) {
        if str_at(c, &["type"]) == "InvalidSpec" {
            return ("Degraded".into(), format!("InvalidSpec: {}", str_at(c, &["message"])));
        }
        let reason = str_at(c, &["reason"]);
        if matches!(reason, "RolloutAborted" | "ProgressDeadlineExceeded") {
            return ("Degraded".into(), format!("{reason}: {}", str_at(c, &["message"])));
        }
    }
    if is_true(rollout, &["spec", "paused"]) {
        return ("Paused".into(), "manually paused".into());
    }
    if let Some(p) = pause_conditions.first() {
        return ("Paused".into(), str_at(p, &["reason"]).to_string());
    }
    let restart_at = str_at(rollout, &["spec", "restartAt"]);
    if !restart_at.is_empty() && restart_at != str_at(rollout, &["status", "restartedAt"]) {
        return progressing("rollout is restarting");
    }
    let desired = int_at(rollout, &["spec", "replicas"]).unwrap_or(1);
    let count = |k: &str| int_at(rollout, &["status", k]).unwrap_or(0);
    if count("updatedReplicas") < desired {
        return progressing("more replicas need to be updated");
    }
    if count("availableReplicas") < count("updatedReplicas") {
        return progressing("updated replicas are still becoming available");
    }
    let stable = str_at(rollout, &["status", "stableRS"]);
    let promoted = !stable.is_empty() && stable == str_at(rollout, &["status", "currentPodHash"]);
    if at(rollout, &["spec", "strategy", "blueGreen"]).is_some() {
        let active = str_at(rollout, &["status", "blueGreen", "activeSelector"]);
        if active.is_empty() || active != str_at(rollout, &["status", "currentPodHash"]) {
            return progressing("active service cutover pending");
        }
        if !promoted {
            let post = at(rollout, &["spec", "strategy", "blueGreen", "postPromotionAnalysis"]).is_some();
            let done = matches!(
                str_at(rollout, &["status", "blueGreen", "postPromotionAnalysisRunStatus", "status"]),
                "Successful" | "Failed" | "Error" | "Inconclusive"
            );
            return progressing(if post && !done {
                "waiting for analysis to complete"
            } else {
                "waiting for post-promotion verification to complete"
            });
        }
    } else if at(rollout, &["spec", "strategy", "canary"]).is_some() {
        if at(rollout, &["spec", "strategy", "canary", "trafficRouting"]).is_none()
            && count("replicas") > count("updatedReplicas")
        {
            return progressing("old replicas are pending termination");
        }
        if !promoted {
            return progressing("waiting for all steps to complete");
        }
    }
    ("Healthy".into(), String::new())
}

fn revision_of(obj: &Value) -> i64 {
    str_at(obj, &["metadata", "annotations", "rollout.argoproj.io/revision"]).parse().unwrap_or(0)
}

/// Whether `obj` names `owner` (by uid, or by kind and name when either has no uid) among its
/// owner references.
fn owned_by(obj: &Value, owner: &Value) -> bool {
    let uid = str_at(owner, &["metadata", "uid"]);
    list(obj, &["metadata", "ownerReferences"]).iter().any(|r| {
        let ruid = str_at(r, &["uid"]);
        if !uid.is_empty() && !ruid.is_empty() {
            ruid == uid
        } else {
            str_at(r, &["kind"]) == str_at(owner, &["kind"])
                && str_at(r, &["name"]) == str_at(owner, &["metadata", "name"])
        }
    })
}

fn replica_set_status(rs: &Value) -> &'static str {
    let spec_replicas = int_at(rs, &["spec", "replicas"]);
    let observed = int_at(rs, &["status", "observedGeneration"]).unwrap_or(0);
    if int_at(rs, &["metadata", "generation"]).unwrap_or(0) > observed {
        return "Progressing";
    }
    let failure = list(rs, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == "ReplicaFailure" && str_at(c, &["status"]) == "True");
    if failure {
        return "ReplicaFailure";
    }
    if spec_replicas.is_some_and(|r| int_at(rs, &["status", "availableReplicas"]).unwrap_or(0) < r) {
        return "Progressing";
    }
    if spec_replicas == Some(0) { "ScaledDown" } else { "Healthy" }
}

fn replica_set_icon(status: &str) -> &'static str {
    match status {
        "Progressing" => "◌",
        "Healthy" => "✔",
        "ReplicaFailure" => "✖",
        "ScaledDown" => "•",
        _ => " ",
    }
}

fn pod_info(pod: &Value) -> Pod {
    let containers = list(pod, &["status", "containerStatuses"]);
    let ready = containers.iter().filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true)).count();
    let total = list(pod, &["spec", "containers"]).len().max(containers.len());
    // As kubectl: a container's waiting or terminated reason wins over the pod's phase.
    let reason = containers.iter().find_map(|c| {
        let w = str_at(c, &["state", "waiting", "reason"]);
        let t = str_at(c, &["state", "terminated", "reason"]);
        [w, t].into_iter().find(|r| !r.is_empty())
    });
    let status = if at(pod, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating".to_string()
    } else {
        reason
            .or(Some(str_at(pod, &["status", "reason"])).filter(|r| !r.is_empty()))
            .unwrap_or_else(|| str_at(pod, &["status", "phase"]))
            .to_string()
    };
    let icon = match status.as_str() {
        "Running" if ready == total => "✔",
        "Succeeded" | "Completed" => "✔",
        "Running" | "Pending" | "ContainerCreating" | "PodInitializing" | "Terminating" | "" => "◌",
        _ => "✖",
    };
    Pod { name: str_at(pod, &["metadata", "name"]).to_string(), status, icon, ready: format!("ready:{ready}/{total}") }
}

fn analysis_run_info(run: &Value) -> AnalysisRun {
    let phase = str_at(run, &["status", "phase"]);
    let phase = if phase.is_empty() { "Pending" } else { phase };
    let sum = |k: &str| list(run, &["status", "metricResults"]).iter().filter_map(|m| int_at(m, &[k])).sum();
    AnalysisRun {
        name: str_at(run, &["metadata", "name"]).to_string(),
        status: phase.to_string(),
        icon: analysis_icon(phase),
        successful: sum("successful"),
        failed: sum("failed"),
        inconclusive: sum("inconclusive"),
        error: sum("error"),
    }
}

/// The Rollout as the plugin shows it, with the ReplicaSets, pods and AnalysisRuns of
/// `related` it owns (other objects are passed over).
pub fn info(rollout: &Value, related: &[Value]) -> Result<Info, Error> {
    let name = str_at(rollout, &["metadata", "name"]).to_string();
    if rollout.get("kind").and_then(Value::as_str) != Some("Rollout") {
        return Err(Error::Rollout { name, problem: "not a Rollout".into() });
    }
    fn of_kind<'a>(related: &'a [Value], kind: &'static str) -> impl Iterator<Item = &'a Value> {
        related.iter().filter(move |o| str_at(o, &["kind"]) == kind)
    }
    let canary = at(rollout, &["spec", "strategy", "canary"]).is_some();
    let blue_green = at(rollout, &["spec", "strategy", "blueGreen"]).is_some();
    let hash_of = |rs: &Value| str_at(rs, &["metadata", "labels", "rollouts-pod-template-hash"]).to_string();
    let stable = str_at(rollout, &["status", "stableRS"]);
    let current = str_at(rollout, &["status", "currentPodHash"]);
    let mut sets: Vec<(i64, ReplicaSet)> = of_kind(related, "ReplicaSet")
        .filter(|rs| owned_by(rs, rollout))
        .map(|rs| {
            let hash = hash_of(rs);
            let mut tags = Vec::new();
            if canary {
                if !hash.is_empty() && hash == stable {
                    tags.push("stable".to_string());
                } else if !hash.is_empty() && hash == current {
                    tags.push("canary".to_string());
                }
            }
            if blue_green {
                if !hash.is_empty() && hash == stable {
                    tags.push("stable".to_string());
                }
                if hash == str_at(rollout, &["status", "blueGreen", "activeSelector"]) && !hash.is_empty() {
                    tags.push("active".to_string());
                } else if hash == str_at(rollout, &["status", "blueGreen", "previewSelector"]) && !hash.is_empty() {
                    tags.push("preview".to_string());
                }
            }
            let status = replica_set_status(rs);
            let mut pods: Vec<Pod> = of_kind(related, "Pod").filter(|p| owned_by(p, rs)).map(pod_info).collect();
            pods.sort_by(|a, b| a.name.cmp(&b.name));
            let info = ReplicaSet {
                name: str_at(rs, &["metadata", "name"]).to_string(),
                status: status.to_string(),
                icon: replica_set_icon(status),
                tags,
                replicas: int_at(rs, &["status", "replicas"]).unwrap_or(0),
                available: int_at(rs, &["status", "availableReplicas"]).unwrap_or(0),
                images: list(rs, &["spec", "template", "spec", "containers"])
                    .iter()
                    .map(|c| str_at(c, &["image"]).to_string())
                    .collect(),
                pods,
            };
            (revision_of(rs), info)
        })
        .collect();
    sets.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let mut runs: Vec<(i64, AnalysisRun)> = of_kind(related, "AnalysisRun")
        .filter(|r| owned_by(r, rollout))
        .map(|r| (revision_of(r), analysis_run_info(r)))
        .collect();
    runs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let numbers: BTreeSet<i64> = sets.iter().map(|s| s.0).chain(runs.iter().map(|r| r.0)).collect();
    let revisions = numbers
        .into_iter()
        .rev()
        .map(|n| Revision {
            revision: n,
            replica_sets: sets.iter().filter(|s| s.0 == n).map(|s| s.1.clone()).collect(),
            analysis_runs: runs.iter().filter(|r| r.0 == n).map(|r| r.1.clone()).collect(),
        })
        .collect();

    let mut images: Vec<Image> = Vec::new();
    for (_, rs) in sets.iter().filter(|s| s.1.replicas > 0) {
        for image in &rs.images {
            match images.iter_mut().find(|i| &i.image == image) {
                Some(found) => found.tags.extend(rs.tags.iter().cloned()),
                None => images.push(Image { image: image.clone(), tags: rs.tags.clone() }),
            }
        }
    }
    for i in &mut images {
        i.tags.sort();
        i.tags.dedup();
    }
    images.sort_by(|a, b| a.image.cmp(&b.image));

    let count = |k: &str| int_at(rollout, &["status", k]).unwrap_or(0);
    let (mut strategy, mut step, mut weight, mut actual) = (String::new(), String::new(), String::new(), String::new());
    if canary {
        strategy = "Canary".into();
        let n = steps(rollout).len();
        if let Some(i) = int_at(rollout, &["status", "currentStepIndex"])
            && n > 0
        {
            step = format!("{i}/{n}");
        }
        let set = set_weight(rollout);
        weight = set.to_string();
        actual = if current_step(rollout).is_none() {
            "100".into()
        } else if count("availableReplicas") > 0 {
            if at(rollout, &["spec", "strategy", "canary", "trafficRouting"]).is_none() {
                let canary_available: i64 =
                    sets.iter().filter(|s| s.1.tags.iter().any(|t| t == "canary")).map(|s| s.1.available).sum();
                (canary_available * 100 / count("availableReplicas")).to_string()
            } else {
                set.to_string()
            }
        } else {
            "0".into()
        };
    } else if blue_green {
        strategy = "BlueGreen".into();
    }
    let (status, message) = status(rollout);
    Ok(Info {
        name,
        namespace: str_at(rollout, &["metadata", "namespace"]).to_string(),
        icon: rollout_icon(&status),
        status,
        message,
        strategy,
        step,
        set_weight: weight,
        actual_weight: actual,
        images,
        replicas: Replicas {
            desired: int_at(rollout, &["spec", "replicas"]).unwrap_or(1),
            current: count("replicas"),
            updated: count("updatedReplicas"),
            ready: count("readyReplicas"),
            available: count("availableReplicas"),
        },
        revisions,
    })
}
