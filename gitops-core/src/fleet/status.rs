//! An app's status as its controller writes it into the app object on a Kubernetes hub: the
//! `status` of an Argo CD Application (what `argocd app get` and an App-of-Apps parent's health
//! check read) or of a Flux Kustomization (its `Ready` condition, as `flux get` reads it),
//! made from the status a pass left ([`Status`]).

use serde_json::{Value, json};

use crate::sync::status::{Status, SyncStatus};

/// The `status` of an Argo CD Application: sync status and revision, health, when it was
/// reconciled, the last operation, and the resources with their sync status and health.
pub fn application_status(s: &Status) -> Value {
    let mut status = json!({
        "sync": {"status": s.sync.as_str(), "revision": s.revision},
        "health": {"status": s.health.status.to_string()},
        "reconciledAt": s.reconciled_at,
        "resources": s.resources.iter().map(|r| {
            let mut entry = json!({
                "group": r.group, "kind": r.kind, "namespace": r.namespace, "name": r.name,
                "status": r.status.as_str(),
            });
            if let Some(h) = r.health {
                entry["health"] = json!({"status": h.to_string()});
            }
            entry
        }).collect::<Vec<_>>(),
    });
    if !s.health.message.is_empty() {
        status["health"]["message"] = json!(s.health.message);
    }
    if let Some(op) = &s.last_operation {
        status["operationState"] = json!({
            "phase": op.phase.to_string(),
            "message": op.message,
            "syncResult": {"revision": op.revision},
            "finishedAt": op.finished_at,
        });
        if !op.started_at.is_empty() {
            status["operationState"]["startedAt"] = json!(op.started_at);
        }
    }
    status
}

/// A sync an Application asks for in its `operation` (as `argocd app sync` or a RollingSync
/// ApplicationSet sets it): `Some(prune)` when there is one.
pub fn requested_sync(app: &crate::Object) -> Option<bool> {
    if app.kind() != "Application" {
        return None;
    }
    let sync = app.value().pointer("/operation/sync").filter(|s| s.is_object())?;
    Some(sync.get("prune").and_then(Value::as_bool).unwrap_or(false))
}

/// The `status` of a Flux Kustomization with `metadata.generation` `generation`: a `Ready`
/// condition (`True` with `Applied revision: R` when the pass left the app synced and, if it
/// `waits` (`spec.wait` or `spec.healthChecks`), healthy, as kustomize-controller decides; else
/// `False` with the pass's message), the revisions applied and attempted.
pub fn kustomization_status(s: &Status, generation: i64, waits: bool) -> Value {
    let ready = if waits { s.is_ready() } else { s.is_synced() };
    let (condition, reason, message) = if ready {
        ("True", "ReconciliationSucceeded", format!("Applied revision: {}", s.revision))
    } else {
        ("False", "ReconciliationFailed", s.message.clone())
    };
    json!({
        "observedGeneration": generation,
        "lastAttemptedRevision": s.revision,
        "lastAppliedRevision": s.synced_revision.clone().unwrap_or_default(),
        "conditions": [{
            "type": "Ready", "status": condition, "reason": reason, "message": message,
            "lastTransitionTime": s.reconciled_at, "observedGeneration": generation,
        }],
    })
}

/// The `status` of a Flux GitRepository (generation `generation`) whose `revision` a pass
/// fetched at `at` (RFC 3339): an artifact and a `Ready` condition, as source-controller reports
/// them, so that `flux get sources git` and health checks see the source ready.
pub fn git_repository_status(revision: &str, at: &str, generation: i64) -> Value {
    json!({
        "observedGeneration": generation,
        "artifact": {"revision": revision, "lastUpdateTime": at},
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "Succeeded",
            "message": format!("stored artifact for revision '{revision}'"),
            "lastTransitionTime": at, "observedGeneration": generation,
        }],
    })
}

/// The status a pass left, as read back from an app object on a Kubernetes hub (what
/// [`application_status`] or [`kustomization_status`] wrote, or what Argo CD or Flux wrote);
/// `None` before any controller reported on it.
pub fn status_of(app: &crate::Object) -> Option<Status> {
    let status = app.value().get("status").filter(|s| s.is_object())?;
    let text = |p: &str| status.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    let file = if matches!(app.kind(), "Kustomization" | "HelmRelease") {
        let ready = status["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")?;
        let ok = ready["status"] == "True";
        json!({
            "app": app.name(),
            "sync": if ok { "Synced" } else { "OutOfSync" },
            "health": if ok { "Healthy" } else { "Unknown" },
            "revision": text("/lastAttemptedRevision"),
            "syncedRevision": text("/lastAppliedRevision"),
            "reconciledAt": ready["lastTransitionTime"].as_str().unwrap_or(""),
            "message": ready["message"].as_str().unwrap_or(""),
            "lastOperation": null,
        })
    } else {
        let health = match text("/health/message") {
            m if m.is_empty() => text("/health/status"),
            m => format!("{} ({m})", text("/health/status")),
        };
        let last = status.get("operationState").filter(|o| o.is_object()).map(|o| {
            json!({
                "phase": o["phase"].as_str().unwrap_or("Running"),
                "message": o["message"].as_str().unwrap_or(""),
                "revision": o.pointer("/syncResult/revision").and_then(Value::as_str).unwrap_or(""),
                "synced": 0, "pruned": 0, "failed": 0,
                "finishedAt": o["finishedAt"].as_str().unwrap_or(""),
                "startedAt": o["startedAt"].as_str().unwrap_or(""),
            })
        });
        json!({
            "app": app.name(),
            "sync": status.pointer("/sync/status").and_then(Value::as_str).unwrap_or("Unknown"),
            "health": if health.is_empty() { "Unknown".to_string() } else { health },
            "revision": text("/sync/revision"),
            "syncedRevision": null,
            "reconciledAt": text("/reconciledAt"),
            "message": "",
            "lastOperation": last,
            "resources": status.get("resources").cloned().unwrap_or(json!([])).as_array().map(|r| {
                r.iter().map(|e| json!({
                    "group": e["group"].as_str().unwrap_or(""), "kind": e["kind"].as_str().unwrap_or(""),
                    "namespace": e["namespace"].as_str().unwrap_or(""), "name": e["name"].as_str().unwrap_or(""),
                    "status": e["status"].as_str().unwrap_or("Unknown"),
                    "health": e.pointer("/health/status").cloned().unwrap_or(Value::Null),
                })).collect::<Vec<_>>()
            }),
        })
    };
    serde_json::from_value(file).ok()
}

/// Whether a Kustomization status says Ready (for messages and tests).
pub fn is_ready(status: &Value) -> bool {
    status["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// An app's sync status as an Application status records it.
pub fn sync_of(status: &Value) -> SyncStatus {
    match status.pointer("/sync/status").and_then(Value::as_str) {
        Some("Synced") => SyncStatus::Synced,
        Some("OutOfSync") => SyncStatus::OutOfSync,
        _ => SyncStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::status::{AppHealth, HealthStatus, ResourceStatus};

    fn status(sync: SyncStatus, health: HealthStatus) -> Status {
        Status {
            app: "web".into(),
            sync,
            health: AppHealth::new(health, String::new()),
            revision: "abc".into(),
            synced_revision: Some("abc".into()),
            reconciled_at: "2026-12-07T08:00:00Z".into(),
            message: "nothing to apply".into(),
            last_operation: None,
            orphaned_resources: Vec::new(),
            resources: vec![ResourceStatus {
                group: "apps".into(),
                kind: "Deployment".into(),
                namespace: "web".into(),
                name: "web".into(),
                status: SyncStatus::Synced,
                health: Some(HealthStatus::Healthy),
                message: String::new(),
            }],
        }
    }

    #[test]
    fn an_application_status_is_what_argocd_and_a_parents_health_check_read() {
        let s = application_status(&status(SyncStatus::Synced, HealthStatus::Healthy));
        assert_eq!(s["sync"], json!({"status": "Synced", "revision": "abc"}));
        assert_eq!(s["health"], json!({"status": "Healthy"}));
        assert_eq!(s["resources"][0]["health"], json!({"status": "Healthy"}));
        assert_eq!(sync_of(&s), SyncStatus::Synced);
        assert!(s.get("operationState").is_none());
    }

    #[test]
    fn what_is_written_reads_back() {
        let app = |kind: &str, status: Value| {
            crate::Object::new(
                json!({"apiVersion": "x/v1", "kind": kind, "metadata": {"name": "web"}, "status": status}),
                crate::object::Origin::inline("test"),
            )
        };
        let mut written = status(SyncStatus::Synced, HealthStatus::Healthy);
        let back = status_of(&app("Application", application_status(&written))).expect("a status");
        assert_eq!(
            (back.sync, back.health.status, back.revision.as_str()),
            (SyncStatus::Synced, HealthStatus::Healthy, "abc")
        );
        assert_eq!(back.resources, written.resources);
        written.sync = SyncStatus::OutOfSync;
        let back = status_of(&app("Kustomization", kustomization_status(&written, 1, true))).expect("a status");
        assert_eq!((back.sync, back.message.as_str()), (SyncStatus::OutOfSync, "nothing to apply"));
        assert!(status_of(&app("Application", Value::Null)).is_none());
    }

    #[test]
    fn a_kustomization_is_ready_only_when_synced_and_healthy() {
        let ready = kustomization_status(&status(SyncStatus::Synced, HealthStatus::Healthy), 3, true);
        assert!(is_ready(&ready));
        assert_eq!(ready["conditions"][0]["message"], "Applied revision: abc");
        assert_eq!(ready["observedGeneration"], 3);
        let not = kustomization_status(&status(SyncStatus::OutOfSync, HealthStatus::Healthy), 3, false);
        assert!(!is_ready(&not));
        let progressing = kustomization_status(&status(SyncStatus::Synced, HealthStatus::Progressing), 3, false);
        assert!(is_ready(&progressing), "without wait, applied is Ready");
        let waiting = kustomization_status(&status(SyncStatus::Synced, HealthStatus::Progressing), 3, true);
        assert!(!is_ready(&waiting));
        assert_eq!(not["conditions"][0]["message"], "nothing to apply");
    }
}
