//! The Kubernetes API server's defaulting, applied to JSON trees.
//!
//! A manifest in Git says only what its author cared about; the object the API server returns
//! for it also carries every field the server filled in on decode (`imagePullPolicy`,
//! `dnsPolicy`, `strategy`, `sessionAffinity`, probe thresholds, ...). A diff of the two would
//! report all of those as drift. Running [`apply`] on the desired side first makes a manifest
//! compare equal to its live object, so that what remains in a diff is change someone made.
//!
//! The rules follow the API server of Kubernetes 1.36 with default feature gates
//! (`shared/data/k8s-defaults.md`, sections 1–11). They fill only what is absent (or, for the
//! plain value fields Go cannot tell from unset, empty), so a value the user wrote always
//! reaches the comparison as written. Rules that depend on another field see that field after
//! the rules before it ran, as in the server (a Deployment's `rollingUpdate` appears because
//! `strategy.type` was defaulted to `RollingUpdate`).
//!
//! A few fields are not defaults but values the server forces on every read; a manifest that
//! says otherwise could never compare equal, so the server's value wins here too:
//! the Namespace label `kubernetes.io/metadata.name` (always the name), the PodSpec alias
//! `serviceAccount` (always a copy of `serviceAccountName`, which itself is filled from the
//! alias), StatefulSet `volumeClaimTemplates[].apiVersion`/`kind` (`v1`/`PersistentVolumeClaim`,
//! set by conversion), and a Service's `sessionAffinityConfig`, dropped when the affinity is
//! `None`.
//!
//! Kinds are matched by group and kind. Versions matter only where their defaults differ:
//! HorizontalPodAutoscaler (`v1` vs `v2`/`v2beta2`), webhook configurations, admission
//! policies (validating and mutating), CustomResourceDefinition and flow control (`v1` only: their beta versions had other
//! defaults). The removed beta versions of `apps` and `batch` kinds get the `v1` rules; the
//! `extensions` group is left alone (its defaults differed and it is no longer served).
//!
//! # Deliberately not applied
//!
//! Values that do not follow from the object itself, which the differ has to handle by other
//! means (ignoring them on the live side):
//!
//! - allocated values: Service `clusterIP(s)`, `ipFamilies`, `ipFamilyPolicy`,
//!   `ports[].nodePort`, `healthCheckNodePort` (they depend on the cluster's ranges and
//!   free addresses);
//! - admission-plugin values: PVC `storageClassName` (default StorageClass), Pod
//!   `serviceAccountName: default` and its token volume and mounts,
//!   `priority`/`preemptionPolicy`, `overhead`, LimitRange-driven requests and limits, Ingress
//!   `ingressClassName` (they depend on other objects in the cluster). The one exception is
//!   `DefaultTolerationSeconds`: its two Pod tolerations follow from the Pod alone, and because
//!   `tolerations` is an atomic list a Pod manifest with tolerations of its own could never
//!   compare equal without them;
//! - Job `spec.selector` and the generated `controller-uid`/`job-name` labels (they embed the
//!   Job's uid); the user's template labels *are* copied to an unlabelled Job;
//! - controller-written annotations (`deployment.kubernetes.io/revision`,
//!   `deprecated.daemonset.template.generation`, HPA v1 metric annotations) and controller-owned
//!   status, including the empty `status: {}` / `status.loadBalancer: {}` shells;
//! - Namespace `spec.finalizers` (set by the create strategy and frozen after it);
//! - Pod-level `spec.resources` defaults (`PodLevelResources`): they need quantity arithmetic
//!   over the containers' requests with init and sidecar container rules the table does not
//!   spell out, and a wrong sum is worse than none;
//! - quantity rounding and canonical printing (`1000m` → `"1"`) and `creationTimestamp: null`
//!   in embedded metadata: representation, not defaults; the comparison must handle them;
//! - Secret `stringData` folded into `data`: it rewrites user values, and the differ
//!   normalizes Secrets itself;
//! - rules for old or unreleased servers: the `hostNetwork` host-port copy inside pod templates
//!   (≤1.27 only; it is kept for Pod objects), HPA `selectionStrategy` (unreleased), and the
//!   markers of alpha APIs (`ResourcePoolStatusRequest.limit`, `PodGroup.disruptionMode`),
//!   which are off with default gates;
//! - defaults with no visible effect (`omitempty` drops them): ConfigMap `data: {}`,
//!   `LocalObjectReference.name: ""`, ReplicationController `minReadySeconds: 0`.

mod admissionregistration;
mod apiextensions;
mod apps;
mod autoscaling;
mod batch;
mod core;
mod flowcontrol;
mod image;
mod networking;
mod pod;
mod rbac;
mod resource;
mod storage;
#[cfg(test)]
mod tests;
mod tree;

use serde_json::{Map, Value, json};

use tree::{child, each_object_in_list, path, set_default, set_default_if_empty};

/// A JSON object, the shape of every Kubernetes object and nested struct.
type Object = Map<String, Value>;

/// Fills in what the API server would for an object of this group and kind.
/// Only absent (or empty, where the table says "if empty") fields are filled; values the user set are
/// never changed. Idempotent: applying twice equals applying once. Unknown kinds are left alone.
/// Never panics, whatever the shape of `obj` (fields of the wrong JSON type are left alone).
///
/// The exceptions to "never changed" are the few values the server forces whatever the request
/// says, listed in the module documentation.
pub fn apply(group: &str, version: &str, kind: &str, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match (group, kind) {
        ("", "Pod") => pod::pod(root),
        ("", "PodTemplate") => pod::pod_template_at(root, "template"),
        ("", "ReplicationController") => core::replication_controller(root),
        ("", "Service") => core::service(root),
        ("", "Endpoints") => core::endpoints(root),
        ("", "PersistentVolumeClaim") => core::persistent_volume_claim(root),
        ("", "PersistentVolume") => core::persistent_volume(root),
        ("", "Secret") => set_default_if_empty(root, "type", json!("Opaque")),
        ("", "Namespace") => core::namespace(root),
        ("", "LimitRange") => core::limit_range(root),
        ("apps", "Deployment") => apps::deployment(root),
        ("apps", "ReplicaSet") => apps::replica_set(root),
        ("apps", "StatefulSet") => apps::stateful_set(root),
        ("apps", "DaemonSet") => apps::daemon_set(root),
        ("batch", "Job") => batch::job(root),
        ("batch", "CronJob") => batch::cron_job(root),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::horizontal_pod_autoscaler(version, root),
        ("networking.k8s.io", "NetworkPolicy") => networking::network_policy(root),
        ("networking.k8s.io", "IngressClass") => {
            if let Some(parameters) = path(root, &["spec", "parameters"]) {
                set_default(parameters, "scope", json!("Cluster"));
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            each_object_in_list(root, "ports", |port| {
                set_default(port, "name", json!(""));
                set_default(port, "protocol", json!("TCP"));
            });
            // `conditions` is a struct, not a pointer: `omitempty` does not drop it, so every
            // endpoint is served with at least `conditions: {}`, and `endpoints` is an atomic
            // list that a manifest's replaces whole.
            each_object_in_list(root, "endpoints", |endpoint| {
                set_default(endpoint, "conditions", json!({}));
            });
        }
        ("storage.k8s.io", "StorageClass") => {
            set_default(root, "reclaimPolicy", json!("Delete"));
            set_default(root, "volumeBindingMode", json!("Immediate"));
        }
        ("storage.k8s.io", "CSIDriver") => storage::csi_driver(root),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => rbac::role_binding(root),
        ("scheduling.k8s.io", "PriorityClass") => {
            set_default(root, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") if version == "v1" => {
            admissionregistration::webhooks(root, true);
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") if version == "v1" => {
            admissionregistration::webhooks(root, false);
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") if version == "v1" => {
            admissionregistration::validating_admission_policy(root);
        }
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy") if version == "v1" => {
            admissionregistration::mutating_admission_policy(root);
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding" | "MutatingAdmissionPolicyBinding")
            if version == "v1" =>
        {
            if let Some(resources) = path(root, &["spec", "matchResources"]) {
                admissionregistration::match_resources(resources);
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") if version == "v1" => {
            apiextensions::custom_resource_definition(root);
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") if version == "v1" => {
            if let Some(spec) = child(root, "spec") {
                set_default_if_empty(spec, "matchingPrecedence", json!(1000));
            }
        }
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") if version == "v1" => {
            flowcontrol::priority_level_configuration(root);
        }
        ("resource.k8s.io", "ResourceClaim") if resource::is_dra_version(version) => {
            if let Some(spec) = child(root, "spec") {
                resource::resource_claim_spec(version, spec);
            }
        }
        ("resource.k8s.io", "ResourceClaimTemplate") if resource::is_dra_version(version) => {
            if let Some(spec) = path(root, &["spec", "spec"]) {
                resource::resource_claim_spec(version, spec);
            }
        }
        ("certificates.k8s.io", "PodCertificateRequest") if version == "v1beta1" => {
            if let Some(spec) = child(root, "spec") {
                set_default(spec, "maxExpirationSeconds", json!(86400));
            }
        }
        _ => {}
    }
}
