//! The `apps` group: Deployment, ReplicaSet, StatefulSet, DaemonSet (section 6).

use serde_json::json;

use super::Object;
use super::core::persistent_volume_claim;
use super::pod::pod_template_at;
use super::tree::*;
/// Deployment (apps/v1).
pub(super) fn deployment(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    if let Some(strategy) = child_or_insert(spec, "strategy") {
        set_default_if_empty(strategy, "type", json!("RollingUpdate"));
        // With `Recreate` a rollingUpdate block would be rejected, so none is created.
        if str_at(strategy, "type") == Some("RollingUpdate")
            && let Some(rolling) = child_or_insert(strategy, "rollingUpdate")
        {
            set_default(rolling, "maxUnavailable", json!("25%"));
            set_default(rolling, "maxSurge", json!("25%"));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    pod_template_at(spec, "template");
}

/// ReplicaSet (apps/v1).
pub(super) fn replica_set(root: &mut Object) {
    if let Some(spec) = child(root, "spec") {
        set_default(spec, "replicas", json!(1));
        pod_template_at(spec, "template");
    }
}

/// StatefulSet (apps/v1).
pub(super) fn stateful_set(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default_if_empty(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = child_or_insert(spec, "updateStrategy") {
        // Unlike Deployment and DaemonSet, `rollingUpdate` is created only when the type itself
        // was defaulted; `type: RollingUpdate` alone stays without it.
        if !is_set(strategy, "type") || str_at(strategy, "type") == Some("") {
            strategy.insert("type".to_owned(), json!("RollingUpdate"));
            set_default(strategy, "rollingUpdate", json!({}));
        }
        if str_at(strategy, "type") == Some("RollingUpdate")
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            set_default(rolling, "partition", json!(0));
            set_default(rolling, "maxUnavailable", json!(1));
        }
    }
    if let Some(policy) = child_or_insert(spec, "persistentVolumeClaimRetentionPolicy") {
        set_default_if_empty(policy, "whenDeleted", json!("Retain"));
        set_default_if_empty(policy, "whenScaled", json!("Retain"));
    }
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    each_object_in_list(spec, "volumeClaimTemplates", |claim| {
        // Conversion to apps/v1 stamps these on every read, whatever was sent.
        force_string(claim, "apiVersion", "v1");
        force_string(claim, "kind", "PersistentVolumeClaim");
        persistent_volume_claim(claim);
    });
    pod_template_at(spec, "template");
}

/// DaemonSet (apps/v1).
pub(super) fn daemon_set(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    if let Some(strategy) = child_or_insert(spec, "updateStrategy") {
        set_default_if_empty(strategy, "type", json!("RollingUpdate"));
        if str_at(strategy, "type") == Some("RollingUpdate")
            && let Some(rolling) = child_or_insert(strategy, "rollingUpdate")
        {
            set_default(rolling, "maxUnavailable", json!(1));
            set_default(rolling, "maxSurge", json!(0));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    pod_template_at(spec, "template");
}
