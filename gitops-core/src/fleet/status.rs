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
        });
    }
    status
}

/// The `status` of a Flux Kustomization with `metadata.generation` `generation`: a `Ready`
/// condition (`True` with `Applied revision: R` when the pass left the app synced and healthy,
/// else `False` with the pass's message), the revisions applied and attempted.
pub fn kustomization_status(s: &Status, generation: i64) -> Value {
    let ready = s.is_ready();
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
    fn a_kustomization_is_ready_only_when_synced_and_healthy() {
        let ready = kustomization_status(&status(SyncStatus::Synced, HealthStatus::Healthy), 3);
        assert!(is_ready(&ready));
        assert_eq!(ready["conditions"][0]["message"], "Applied revision: abc");
        assert_eq!(ready["observedGeneration"], 3);
        let not = kustomization_status(&status(SyncStatus::OutOfSync, HealthStatus::Healthy), 3);
        assert!(!is_ready(&not));
        assert_eq!(not["conditions"][0]["message"], "nothing to apply");
    }
}
