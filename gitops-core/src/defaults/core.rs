//! The core group's kinds other than pods: ReplicationController, Service, Endpoints,
//! PersistentVolumeClaim, PersistentVolume, Namespace, LimitRange (sections 5, 9–11).

use serde_json::{Value, json};

use super::Object;
use super::pod::{copy_template_labels, pod_template_at, volume_source};
use super::tree::*;
/// ReplicationController (v1): selector and labels come from the template's labels.
pub(super) fn replication_controller(root: &mut Object) {
    let labels = non_empty_object(lookup(root, &["spec", "template", "metadata", "labels"]));
    if let Some(spec) = child(root, "spec") {
        set_default(spec, "replicas", json!(1));
        if let Some(labels) = &labels {
            set_default_if_empty(spec, "selector", Value::Object(labels.clone()));
        }
        pod_template_at(spec, "template");
    }
    copy_template_labels(root, labels);
}

/// Service (v1).
pub(super) fn service(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default_if_empty(spec, "type", json!("ClusterIP"));
    set_default_if_empty(spec, "sessionAffinity", json!("None"));
    match str_at(spec, "sessionAffinity") {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let timeout_missing = match spec.get("sessionAffinityConfig") {
                None | Some(Value::Null) => true,
                Some(Value::Object(config)) => match config.get("clientIP") {
                    None | Some(Value::Null) => true,
                    Some(Value::Object(client_ip)) => !is_set(client_ip, "timeoutSeconds"),
                    Some(_) => false,
                },
                Some(_) => false,
            };
            if timeout_missing {
                spec.insert("sessionAffinityConfig".to_owned(), json!({"clientIP": {"timeoutSeconds": 10800}}));
            }
        }
        _ => {}
    }
    each_object_in_list(spec, "ports", |port| {
        set_default_if_empty(port, "protocol", json!("TCP"));
        let unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            Some(_) => false,
        };
        if let Some(number) = port.get("port").filter(|p| p.is_number()).cloned()
            && unset
        {
            port.insert("targetPort".to_owned(), number);
        }
    });
    let service_type = str_at(spec, "type").unwrap_or_default().to_owned();
    let has_external_ips = spec.get("externalIPs").and_then(Value::as_array).is_some_and(|ips| !ips.is_empty());
    let externally_reachable = matches!(service_type.as_str(), "NodePort" | "LoadBalancer")
        || (service_type == "ClusterIP" && has_external_ips);
    if externally_reachable {
        set_default_if_empty(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(service_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
        if let Some(balancer) = path(root, &["status", "loadBalancer"]) {
            each_object_in_list(balancer, "ingress", |ingress| {
                if str_at(ingress, "ip").is_some_and(|ip| !ip.is_empty()) {
                    set_default(ingress, "ipMode", json!("VIP"));
                }
            });
        }
    }
}

/// Endpoints (v1).
pub(super) fn endpoints(root: &mut Object) {
    each_object_in_list(root, "subsets", |subset| {
        each_object_in_list(subset, "ports", |port| {
            set_default_if_empty(port, "protocol", json!("TCP"));
        });
    });
}

/// A PersistentVolumeClaim, also as a StatefulSet volume claim template.
pub(super) fn persistent_volume_claim(claim: &mut Object) {
    if let Some(spec) = child(claim, "spec") {
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
    // Status is a non-pointer struct whose phase the defaulting itself sets.
    if let Some(status) = child_or_insert(claim, "status") {
        set_default_if_empty(status, "phase", json!("Pending"));
    }
}

/// PersistentVolume (v1).
pub(super) fn persistent_volume(root: &mut Object) {
    if let Some(spec) = child(root, "spec") {
        set_default_if_empty(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        set_default(spec, "volumeMode", json!("Filesystem"));
        volume_source(spec);
    }
    if let Some(status) = child_or_insert(root, "status") {
        set_default_if_empty(status, "phase", json!("Pending"));
    }
}

/// Namespace (v1): the name label is forced on every write, the phase defaulted.
pub(super) fn namespace(root: &mut Object) {
    if let Some(metadata) = child(root, "metadata")
        && let Some(name) = str_at(metadata, "name").filter(|n| !n.is_empty())
    {
        let name = name.to_owned();
        if let Some(labels) = child_or_insert(metadata, "labels") {
            force_string(labels, "kubernetes.io/metadata.name", &name);
        }
    }
    if let Some(status) = child_or_insert(root, "status") {
        set_default_if_empty(status, "phase", json!("Active"));
    }
}

/// LimitRange (v1): container limits fall back to max, requests to the limit or the min.
pub(super) fn limit_range(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    each_object_in_list(spec, "limits", |item| {
        if str_at(item, "type") != Some("Container") {
            return;
        }
        let entries = |item: &Object, key: &str| -> Object {
            item.get(key).and_then(Value::as_object).cloned().unwrap_or_default()
        };
        let max = entries(item, "max");
        fill_missing_entries(item, "default", &max);
        let default = entries(item, "default");
        fill_missing_entries(item, "defaultRequest", &default);
        let min = entries(item, "min");
        fill_missing_entries(item, "defaultRequest", &min);
    });
}
