//! Pods and pod templates (sections 1–4), in the core group and inside every workload.

use serde_json::{Value, json};

use super::Object;
use super::image::pull_policy;
use super::tree::*;
/// A Pod gets the PodSpec rules plus those of `SetDefaults_Pod`, which never run for templates
/// (they would otherwise change every workload's template on a server upgrade).
pub(super) fn pod(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    pod_spec(spec);
    set_default(spec, "enableServiceLinks", json!(true));
    default_toleration_seconds(spec);
    let host_network = spec.get("hostNetwork") == Some(&Value::Bool(true));
    for list in ["containers", "initContainers"] {
        each_object_in_list(spec, list, |container| {
            if let Some(resources) = child(container, "resources")
                && let Some(limits) = resources.get("limits").and_then(Value::as_object)
            {
                let limits = limits.clone();
                fill_missing_entries(resources, "requests", &limits);
            }
            if host_network {
                each_object_in_list(container, "ports", |port| {
                    if let Some(container_port) = port.get("containerPort").cloned()
                        && container_port.as_f64().is_some_and(|p| p != 0.0)
                    {
                        set_default_if_empty(port, "hostPort", container_port);
                    }
                });
            }
        });
    }
}

/// The taints the `DefaultTolerationSeconds` admission plugin (on by default) makes every Pod
/// tolerate for 300 s (its flags' defaults). `tolerations` is an atomic list, so a manifest that
/// lists its own replaces live's whole list in the prediction: without these, every Pod with
/// tolerations would be OutOfSync against what the server stored. Like the plugin, a toleration
/// the Pod already has for the taint (its key, or an empty key, with `NoExecute` or any effect)
/// means nothing is added for it.
fn default_toleration_seconds(spec: &mut Object) {
    const TAINTS: [&str; 2] = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];
    let tolerated = |taint: &str| {
        spec.get("tolerations").and_then(Value::as_array).is_some_and(|list| {
            list.iter().filter_map(Value::as_object).any(|t| {
                let key = str_at(t, "key").unwrap_or_default();
                let effect = str_at(t, "effect").unwrap_or_default();
                (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
            })
        })
    };
    let missing: Vec<&str> = TAINTS.into_iter().filter(|taint| !tolerated(taint)).collect();
    if missing.is_empty() {
        return;
    }
    // A `tolerations` value that is not a list is left for validation to reject.
    set_default(spec, "tolerations", json!([]));
    if let Some(Value::Array(list)) = spec.get_mut("tolerations") {
        for taint in missing {
            list.push(json!({"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

/// Defaults the PodTemplateSpec under `key` (`template` in every workload and PodTemplate).
pub(super) fn pod_template_at(parent: &mut Object, key: &str) {
    if let Some(spec) = path(parent, &[key, "spec"]) {
        pod_spec(spec);
    }
}

/// The rules every PodSpec gets, in a Pod or in any pod template.
pub(super) fn pod_spec(spec: &mut Object) {
    set_default_if_empty(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default_if_empty(spec, "restartPolicy", json!("Always"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default_if_empty(spec, "schedulerName", json!("default-scheduler"));
    service_account_alias(spec);
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        each_object_in_list(spec, list, container);
    }
    each_object_in_list(spec, "volumes", volume);
}

/// v1 conversion reads `serviceAccount` when `serviceAccountName` is empty and always writes
/// the alias back as a copy of the name, so the served object carries both, equal.
pub(super) fn service_account_alias(spec: &mut Object) {
    let name = [str_at(spec, "serviceAccountName"), str_at(spec, "serviceAccount")]
        .into_iter()
        .flatten()
        .find(|name| !name.is_empty())
        .map(str::to_owned);
    if let Some(name) = name {
        set_default_if_empty(spec, "serviceAccountName", json!(name));
        force_string(spec, "serviceAccount", &name);
    }
}

/// Containers, init containers and ephemeral containers share these rules.
pub(super) fn container(c: &mut Object) {
    let image = match c.get("image") {
        None | Some(Value::Null) => Some(""),
        Some(image) => image.as_str(),
    };
    if let Some(image) = image {
        let policy = pull_policy(image);
        set_default_if_empty(c, "imagePullPolicy", json!(policy));
    }
    set_default_if_empty(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default_if_empty(c, "terminationMessagePolicy", json!("File"));
    // `resources` is a non-pointer struct: the server prints `{}` even when nothing is set.
    set_default(c, "resources", json!({}));
    each_object_in_list(c, "ports", |port| {
        set_default_if_empty(port, "protocol", json!("TCP"));
    });
    each_object_in_list(c, "env", |env| {
        if let Some(value_from) = child(env, "valueFrom") {
            field_ref(value_from);
            if let Some(file_key_ref) = child(value_from, "fileKeyRef") {
                set_default(file_key_ref, "optional", json!(false));
            }
        }
    });
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child(c, key) {
            probe(p);
        }
    }
    for hook in ["postStart", "preStop"] {
        if let Some(action) = path(c, &["lifecycle", hook, "httpGet"]) {
            http_get(action);
        }
    }
}

/// Probe numbers are plain ints server-side, so an explicit `0` is defaulted like absence.
pub(super) fn probe(p: &mut Object) {
    set_default_if_empty(p, "timeoutSeconds", json!(1));
    set_default_if_empty(p, "periodSeconds", json!(10));
    set_default_if_empty(p, "successThreshold", json!(1));
    set_default_if_empty(p, "failureThreshold", json!(3));
    if let Some(action) = child(p, "httpGet") {
        http_get(action);
    }
    if let Some(grpc) = child(p, "grpc") {
        // A `+default=""` marker on a field without omitempty: live shows `service: ""`.
        set_default(grpc, "service", json!(""));
    }
}

/// HTTPGetAction, in probes and lifecycle hooks.
pub(super) fn http_get(action: &mut Object) {
    set_default_if_empty(action, "path", json!("/"));
    set_default_if_empty(action, "scheme", json!("HTTP"));
}

/// The `fieldRef` of an env var or downward-API item names its API version.
pub(super) fn field_ref(holder: &mut Object) {
    if let Some(field_ref) = child(holder, "fieldRef") {
        set_default_if_empty(field_ref, "apiVersion", json!("v1"));
    }
}

/// A pod volume and its source.
pub(super) fn volume(v: &mut Object) {
    // Any key besides the name is taken as a source, so that a source this code does not know
    // (a newer API) never gets a second one added next to it.
    if v.iter().all(|(key, value)| key == "name" || value.is_null()) {
        v.insert("emptyDir".to_owned(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = child(v, source) {
            set_default(s, "defaultMode", json!(420));
        }
    }
    if let Some(downward) = child(v, "downwardAPI") {
        each_object_in_list(downward, "items", field_ref);
    }
    if let Some(projected) = child(v, "projected") {
        each_object_in_list(projected, "sources", |source| {
            if let Some(downward) = child(source, "downwardAPI") {
                each_object_in_list(downward, "items", field_ref);
            }
            if let Some(token) = child(source, "serviceAccountToken") {
                set_default(token, "expirationSeconds", json!(3600));
            }
        });
    }
    if let Some(claim) = path(v, &["ephemeral", "volumeClaimTemplate", "spec"]) {
        set_default(claim, "volumeMode", json!("Filesystem"));
    }
    if let Some(image) = child(v, "image")
        && let Some(reference) = image.get("reference").map_or(Some(""), Value::as_str)
    {
        let policy = pull_policy(reference);
        set_default_if_empty(image, "pullPolicy", json!(policy));
    }
    volume_source(v);
}

/// The source rules shared by pod volumes and PersistentVolume specs.
pub(super) fn volume_source(source: &mut Object) {
    if let Some(host_path) = child(source, "hostPath") {
        // A pointer to "" is stored, so live shows `type: ""`.
        set_default(host_path, "type", json!(""));
    }
    if let Some(iscsi) = child(source, "iscsi") {
        set_default_if_empty(iscsi, "iscsiInterface", json!("default"));
    }
    if let Some(rbd) = child(source, "rbd") {
        set_default_if_empty(rbd, "pool", json!("rbd"));
        set_default_if_empty(rbd, "user", json!("admin"));
        set_default_if_empty(rbd, "keyring", json!("/etc/ceph/keyring"));
    }
    if let Some(azure) = child(source, "azureDisk") {
        set_default(azure, "cachingMode", json!("ReadWrite"));
        set_default(azure, "fsType", json!("ext4"));
        set_default(azure, "readOnly", json!(false));
        set_default(azure, "kind", json!("Shared"));
    }
    if let Some(scale_io) = child(source, "scaleIO") {
        set_default_if_empty(scale_io, "storageMode", json!("ThinProvisioned"));
        set_default_if_empty(scale_io, "fsType", json!("xfs"));
    }
}

/// An object with no labels of its own takes its template's (ReplicationController, Job).
pub(super) fn copy_template_labels(root: &mut Object, labels: Option<Object>) {
    if let (Some(labels), Some(metadata)) = (labels, child(root, "metadata")) {
        set_default_if_empty(metadata, "labels", Value::Object(labels));
    }
}
