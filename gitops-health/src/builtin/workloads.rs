//! The `apps/v1` workload controllers: Deployment, StatefulSet, DaemonSet and ReplicaSet.
//!
//! The rules are kubectl's `rollout status` ones, as gitops-engine borrowed them: a controller is healthy
//! once it has observed the latest spec and its replicas are updated and available. Each check reads all
//! its fields first, then decides, so a field of the wrong type fails the check whichever branch decides.

use serde_json::Value;

use super::GoQuoted;
use super::access::{Node, Read, first_condition};
use crate::status::{Health, HealthStatus};

/// `apps/v1` Deployment.
pub(super) fn deployment(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    let (metadata, spec, status) = (root.child("metadata")?, root.child("spec")?, root.child("status")?);
    let name = metadata.string("name")?;
    let generation = metadata.int_or_zero("generation")?;
    let paused = spec.boolean("paused")?;
    let desired = spec.int("replicas")?;
    let observed = status.int_or_zero("observedGeneration")?;
    let replicas = status.int_or_zero("replicas")?;
    let updated = status.int_or_zero("updatedReplicas")?;
    let available = status.int_or_zero("availableReplicas")?;
    let progressing_reason = match first_condition(&status, "Progressing")? {
        Some(progressing) => progressing.reason()?,
        None => "",
    };

    if paused {
        return Ok(Health::new(HealthStatus::Suspended, "Deployment is paused"));
    }
    if generation > observed {
        return Ok(Health::new(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        ));
    }
    Ok(if progressing_reason == "ProgressDeadlineExceeded" {
        Health::new(HealthStatus::Degraded, format!("Deployment {} exceeded its progress deadline", GoQuoted(name)))
    } else if let Some(desired) = desired.filter(|&desired| updated < desired) {
        Health::new(
            HealthStatus::Progressing,
            format!("Waiting for rollout to finish: {updated} out of {desired} new replicas have been updated..."),
        )
    } else if replicas > updated {
        let old = i128::from(replicas) - i128::from(updated);
        Health::new(
            HealthStatus::Progressing,
            format!("Waiting for rollout to finish: {old} old replicas are pending termination..."),
        )
    } else if available < updated {
        Health::new(
            HealthStatus::Progressing,
            format!("Waiting for rollout to finish: {available} of {updated} updated replicas are available..."),
        )
    } else {
        Health::bare(HealthStatus::Healthy)
    })
}

/// `apps/v1` StatefulSet.
pub(super) fn stateful_set(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    let (metadata, spec, status) = (root.child("metadata")?, root.child("spec")?, root.child("status")?);
    let update_strategy = spec.child("updateStrategy")?;
    let rolling_update = update_strategy.child("rollingUpdate")?;
    let generation = metadata.int_or_zero("generation")?;
    let desired = spec.int("replicas")?;
    let strategy = update_strategy.string("type")?;
    let partition = rolling_update.int("partition")?;
    let observed = status.int_or_zero("observedGeneration")?;
    let ready = status.int_or_zero("readyReplicas")?;
    let updated = status.int_or_zero("updatedReplicas")?;
    let current = status.int_or_zero("currentReplicas")?;
    let update_revision = status.string("updateRevision")?;
    let current_revision = status.string("currentRevision")?;

    if observed == 0 || generation > observed {
        return Ok(Health::new(HealthStatus::Progressing, "Waiting for statefulset spec update to be observed..."));
    }
    if let Some(desired) = desired.filter(|&desired| ready < desired) {
        let missing = i128::from(desired) - i128::from(ready);
        return Ok(Health::new(HealthStatus::Progressing, format!("Waiting for {missing} pods to be ready...")));
    }
    // A `rollingUpdate` block decides alone, even an empty one with no partition: upstream's quirk, kept.
    if strategy == "RollingUpdate" && rolling_update.exists() {
        if let (Some(desired), Some(partition)) = (desired, partition) {
            let target = i128::from(desired) - i128::from(partition);
            if i128::from(updated) < target {
                return Ok(Health::new(
                    HealthStatus::Progressing,
                    format!(
                        "Waiting for partitioned roll out to finish: {updated} out of {target} new pods have been updated..."
                    ),
                ));
            }
        }
        return Ok(Health::new(
            HealthStatus::Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        ));
    }
    if strategy == "OnDelete" {
        return Ok(Health::new(HealthStatus::Healthy, format!("statefulset has {ready} ready pods")));
    }
    Ok(if update_revision != current_revision {
        Health::new(
            HealthStatus::Progressing,
            format!(
                "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
            ),
        )
    } else {
        Health::new(
            HealthStatus::Healthy,
            format!("statefulset rolling update complete {current} pods at revision {current_revision}..."),
        )
    })
}

/// `apps/v1` DaemonSet.
pub(super) fn daemon_set(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    let (metadata, spec, status) = (root.child("metadata")?, root.child("spec")?, root.child("status")?);
    let name = metadata.string("name")?;
    let generation = metadata.int_or_zero("generation")?;
    let strategy = spec.child("updateStrategy")?.string("type")?;
    let observed = status.int_or_zero("observedGeneration")?;
    let desired = status.int_or_zero("desiredNumberScheduled")?;
    let updated = status.int_or_zero("updatedNumberScheduled")?;
    let available = status.int_or_zero("numberAvailable")?;

    if generation > observed {
        return Ok(Health::new(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        ));
    }
    Ok(if strategy == "OnDelete" {
        Health::new(HealthStatus::Healthy, format!("daemon set {updated} out of {desired} new pods have been updated"))
    } else if updated < desired {
        Health::new(
            HealthStatus::Progressing,
            format!(
                "Waiting for daemon set {} rollout to finish: {updated} out of {desired} new pods have been updated...",
                GoQuoted(name)
            ),
        )
    } else if available < desired {
        Health::new(
            HealthStatus::Progressing,
            format!(
                "Waiting for daemon set {} rollout to finish: {available} of {desired} updated pods are available...",
                GoQuoted(name)
            ),
        )
    } else {
        Health::bare(HealthStatus::Healthy)
    })
}

/// `apps/v1` ReplicaSet.
pub(super) fn replica_set(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    let (metadata, spec, status) = (root.child("metadata")?, root.child("spec")?, root.child("status")?);
    let generation = metadata.int_or_zero("generation")?;
    let desired = spec.int("replicas")?;
    let observed = status.int_or_zero("observedGeneration")?;
    let available = status.int_or_zero("availableReplicas")?;
    let failure = match first_condition(&status, "ReplicaFailure")? {
        Some(failure) if failure.status()? == "True" => Some(failure.message()?),
        _ => None,
    };

    if generation > observed {
        return Ok(Health::new(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        ));
    }
    Ok(if let Some(message) = failure {
        Health::new(HealthStatus::Degraded, message)
    } else if let Some(desired) = desired.filter(|&desired| available < desired) {
        Health::new(
            HealthStatus::Progressing,
            format!("Waiting for rollout to finish: {available} out of {desired} new replicas are available..."),
        )
    } else {
        Health::bare(HealthStatus::Healthy)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn deployment_without_replicas_skips_the_updated_rule() {
        let obj = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "replicas": 0}});
        assert_eq!(deployment(&obj), Ok(Health::bare(HealthStatus::Healthy)));
    }

    #[test]
    fn deployment_takes_the_first_progressing_condition() {
        let obj = json!({"metadata": {"name": "a"}, "status": {"conditions": [
            {"type": "Progressing", "reason": "NewReplicaSetAvailable"},
            {"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]}});
        assert_eq!(deployment(&obj), Ok(Health::bare(HealthStatus::Healthy)));
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let obj = json!({"status": {"replicas": i64::MAX, "updatedReplicas": i64::MIN}});
        assert_eq!(
            deployment(&obj).map(|h| h.message),
            Ok("Waiting for rollout to finish: 18446744073709551615 old replicas are pending termination...".into())
        );
        let obj = json!({"spec": {"replicas": i64::MAX, "updateStrategy": {"type": "RollingUpdate",
            "rollingUpdate": {"partition": i64::MIN}}}, "status": {"observedGeneration": 1, "readyReplicas": i64::MAX}});
        assert_eq!(
            stateful_set(&obj).map(|h| h.message),
            Ok("Waiting for partitioned roll out to finish: 0 out of 18446744073709551615 new pods have been updated..."
                .into())
        );
    }

    #[test]
    fn a_bad_field_fails_even_when_another_rule_decides() {
        let obj = json!({"spec": {"paused": true, "replicas": "3"}});
        assert_eq!(deployment(&obj).unwrap_err().to_string(), "spec.replicas: expected an integer, got a string");
    }
}
