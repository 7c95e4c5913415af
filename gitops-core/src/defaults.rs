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
//! policies, CustomResourceDefinition and flow control (`v1` only: their beta versions had other
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
//!   `serviceAccountName: default` and its token volume and mounts, default tolerations,
//!   `priority`/`preemptionPolicy`, `overhead`, LimitRange-driven requests and limits, Ingress
//!   `ingressClassName` (they depend on other objects in the cluster);
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

use serde_json::{Map, Value, json};

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
        ("", "Pod") => pod(root),
        ("", "PodTemplate") => pod_template_at(root, "template"),
        ("", "ReplicationController") => replication_controller(root),
        ("", "Service") => service(root),
        ("", "Endpoints") => endpoints(root),
        ("", "PersistentVolumeClaim") => persistent_volume_claim(root),
        ("", "PersistentVolume") => persistent_volume(root),
        ("", "Secret") => set_default_if_empty(root, "type", json!("Opaque")),
        ("", "Namespace") => namespace(root),
        ("", "LimitRange") => limit_range(root),
        ("apps", "Deployment") => deployment(root),
        ("apps", "ReplicaSet") => replica_set(root),
        ("apps", "StatefulSet") => stateful_set(root),
        ("apps", "DaemonSet") => daemon_set(root),
        ("batch", "Job") => job(root),
        ("batch", "CronJob") => cron_job(root),
        ("autoscaling", "HorizontalPodAutoscaler") => horizontal_pod_autoscaler(version, root),
        ("networking.k8s.io", "NetworkPolicy") => network_policy(root),
        ("networking.k8s.io", "IngressClass") => {
            if let Some(parameters) = path(root, &["spec", "parameters"]) {
                set_default(parameters, "scope", json!("Cluster"));
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => each_object_in_list(root, "ports", |port| {
            set_default(port, "name", json!(""));
            set_default(port, "protocol", json!("TCP"));
        }),
        ("storage.k8s.io", "StorageClass") => {
            set_default(root, "reclaimPolicy", json!("Delete"));
            set_default(root, "volumeBindingMode", json!("Immediate"));
        }
        ("storage.k8s.io", "CSIDriver") => csi_driver(root),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => role_binding(root),
        ("scheduling.k8s.io", "PriorityClass") => {
            set_default(root, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") if version == "v1" => {
            webhooks(root, true);
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") if version == "v1" => {
            webhooks(root, false);
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") if version == "v1" => {
            validating_admission_policy(root);
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") if version == "v1" => {
            if let Some(resources) = path(root, &["spec", "matchResources"]) {
                match_resources(resources);
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") if version == "v1" => {
            custom_resource_definition(root);
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") if version == "v1" => {
            if let Some(spec) = child(root, "spec") {
                set_default_if_empty(spec, "matchingPrecedence", json!(1000));
            }
        }
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") if version == "v1" => {
            priority_level_configuration(root);
        }
        ("resource.k8s.io", "ResourceClaim") if is_dra_version(version) => {
            if let Some(spec) = child(root, "spec") {
                resource_claim_spec(spec);
            }
        }
        ("resource.k8s.io", "ResourceClaimTemplate") if is_dra_version(version) => {
            if let Some(spec) = path(root, &["spec", "spec"]) {
                resource_claim_spec(spec);
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

// ---------------------------------------------------------------------------------------------
// Small tree helpers. They treat `null` like an absent key because the server drops the nulls
// of optional fields on decode, and they never touch a value whose JSON type is not the one
// the rule expects.

/// Sets `key` when it is absent or null: the rule for optional (pointer) fields, where an
/// explicit zero such as `replicas: 0` is a value and stays.
fn set_default(map: &mut Object, key: &str, value: Value) {
    if matches!(map.get(key), None | Some(Value::Null)) {
        map.insert(key.to_owned(), value);
    }
}

/// Sets `key` when it is absent, null, or the zero value of the default's own JSON type
/// (`""`, `0`, `[]`, `{}`): the rule for plain value fields, where Go cannot tell zero from
/// unset. A value of another type is left for validation to reject.
fn set_default_if_empty(map: &mut Object, key: &str, value: Value) {
    let empty = match (map.get(key), &value) {
        (None | Some(Value::Null), _) => true,
        (Some(Value::String(s)), Value::String(_)) => s.is_empty(),
        (Some(Value::Number(n)), Value::Number(_)) => n.as_f64() == Some(0.0),
        (Some(Value::Array(a)), Value::Array(_)) => a.is_empty(),
        (Some(Value::Object(o)), Value::Object(_)) => o.is_empty(),
        _ => false,
    };
    if empty {
        map.insert(key.to_owned(), value);
    }
}

/// Sets `key` to a value the server forces, unless the field holds something that is not a
/// string (which the server would reject rather than overwrite).
fn force_string(map: &mut Object, key: &str, value: &str) {
    if matches!(map.get(key), None | Some(Value::Null | Value::String(_))) {
        map.insert(key.to_owned(), json!(value));
    }
}

/// The object under `key`, if there is one.
fn child<'a>(map: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    map.get_mut(key)?.as_object_mut()
}

/// The object under `key`, created empty when absent: for the non-pointer structs the server
/// always serializes (`resources: {}`) or creates before filling (`strategy`).
fn child_or_insert<'a>(map: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    set_default(map, key, Value::Object(Object::new()));
    child(map, key)
}

/// The object reached by following `keys` through nested objects.
fn path<'a>(map: &'a mut Object, keys: &[&str]) -> Option<&'a mut Object> {
    keys.iter().try_fold(map, |m, key| child(m, key))
}

/// The value reached by following `keys`, for reading a field another rule depends on.
fn lookup<'a>(map: &'a Object, keys: &[&str]) -> Option<&'a Value> {
    let (last, parents) = keys.split_last()?;
    parents.iter().try_fold(map, |m, key| m.get(*key)?.as_object())?.get(*last)
}

/// The string under `key`, if it is one.
fn str_at<'a>(map: &'a Object, key: &str) -> Option<&'a str> {
    map.get(key)?.as_str()
}

/// Whether `key` holds a value at all (the server's "pointer is not nil").
fn is_set(map: &Object, key: &str) -> bool {
    !matches!(map.get(key), None | Some(Value::Null))
}

/// Runs `f` on every object in the list under `key`; other elements are left alone.
fn each_object_in_list(map: &mut Object, key: &str, f: impl FnMut(&mut Object)) {
    if let Some(Value::Array(items)) = map.get_mut(key) {
        items.iter_mut().filter_map(Value::as_object_mut).for_each(f);
    }
}

/// The value if it is a non-empty object, cloned so it can be copied elsewhere in the tree.
fn non_empty_object(value: Option<&Value>) -> Option<Object> {
    value?.as_object().filter(|o| !o.is_empty()).cloned()
}

/// Copies every entry of `from` missing in the map under `key`, creating that map only when
/// there is something to copy (an empty one would be dropped by `omitempty` anyway).
fn fill_missing_entries(map: &mut Object, key: &str, from: &Object) {
    if from.is_empty() {
        return;
    }
    if let Some(target) = child_or_insert(map, key) {
        for (name, value) in from {
            target.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pods and pod templates (sections 1–4).

/// A Pod gets the PodSpec rules plus those of `SetDefaults_Pod`, which never run for templates
/// (they would otherwise change every workload's template on a server upgrade).
fn pod(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    pod_spec(spec);
    set_default(spec, "enableServiceLinks", json!(true));
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

/// Defaults the PodTemplateSpec under `key` (`template` in every workload and PodTemplate).
fn pod_template_at(parent: &mut Object, key: &str) {
    if let Some(spec) = path(parent, &[key, "spec"]) {
        pod_spec(spec);
    }
}

/// The rules every PodSpec gets, in a Pod or in any pod template.
fn pod_spec(spec: &mut Object) {
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
fn service_account_alias(spec: &mut Object) {
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
fn container(c: &mut Object) {
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
fn probe(p: &mut Object) {
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
fn http_get(action: &mut Object) {
    set_default_if_empty(action, "path", json!("/"));
    set_default_if_empty(action, "scheme", json!("HTTP"));
}

/// The `fieldRef` of an env var or downward-API item names its API version.
fn field_ref(holder: &mut Object) {
    if let Some(field_ref) = child(holder, "fieldRef") {
        set_default_if_empty(field_ref, "apiVersion", json!("v1"));
    }
}

/// A pod volume and its source.
fn volume(v: &mut Object) {
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
fn volume_source(source: &mut Object) {
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

// ---------------------------------------------------------------------------------------------
// Container image references. The default pull policy hangs on the tag the kubelet would pull,
// which Kubernetes gets from the Docker reference parser (`ParseImageName`): `Always` only for
// the tag `latest`, implied when there is neither tag nor digest; any parse error means no tag,
// hence `IfNotPresent`. The grammar is reproduced below because the error cases matter
// (`Alpine` does not parse; `localhost:5000/app` has a port, not a tag).

/// The pull policy the server derives from an image reference.
fn pull_policy(image: &str) -> &'static str {
    if resolves_to_latest(image) { "Always" } else { "IfNotPresent" }
}

/// Whether the reference parses and names the tag `latest`, explicitly or by omission.
fn resolves_to_latest(image: &str) -> bool {
    let Some(full) = normalized_reference(image) else {
        return false;
    };
    let (name_and_tag, digest) = match full.split_once('@') {
        Some((name_and_tag, digest)) => (name_and_tag, Some(digest)),
        None => (full.as_str(), None),
    };
    // A colon after the last slash separates the tag; earlier ones belong to a registry port.
    let (name, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name_and_tag, None),
    };
    let valid = name.len() <= 255 && is_repository_name(name) && tag.is_none_or(is_tag) && digest.is_none_or(is_digest);
    valid
        && match tag {
            Some(tag) => tag == "latest",
            None => digest.is_none(),
        }
}

/// The reference with Docker Hub's implied domain and `library/` prefix, as
/// `ParseNormalizedNamed` builds it; `None` for the inputs it rejects before parsing.
fn normalized_reference(image: &str) -> Option<String> {
    if image.len() == 64 && image.bytes().all(is_lower_hex) {
        return None;
    }
    let (domain, remainder) = match image.split_once('/') {
        Some(("index.docker.io", rest)) => ("docker.io", rest),
        Some((first, rest))
            if first == "localhost" || first.contains(['.', ':']) || first.chars().any(char::is_uppercase) =>
        {
            (first, rest)
        }
        // Neither a host nor localhost: a Docker Hub path, or a bare Docker Hub name.
        _ => ("docker.io", image),
    };
    let library = if domain == "docker.io" && !remainder.contains('/') { "library/" } else { "" };
    let remote_name = remainder.split(':').next().unwrap_or_default();
    if remote_name.chars().any(char::is_uppercase) {
        return None;
    }
    Some(format!("{domain}/{library}{remainder}"))
}

/// `[domain "/"] path-component ("/" path-component)*`.
fn is_repository_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let first = parts.next().unwrap_or_default();
    let has_more = name.contains('/');
    (is_path_component(first) || (has_more && is_domain(first))) && parts.all(is_path_component)
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn is_path_component(part: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    part.starts_with(alphanumeric)
        && part.ends_with(alphanumeric)
        && part.split(alphanumeric).all(|sep| matches!(sep, "" | "." | "_" | "__") || sep.chars().all(|c| c == '-'))
}

/// A registry host (DNS name, or bracketed IPv6) with an optional port.
fn is_domain(domain: &str) -> bool {
    let port_ok = |suffix: &str| {
        suffix.is_empty()
            || suffix.strip_prefix(':').is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
    };
    if let Some(bracketed) = domain.strip_prefix('[') {
        return bracketed.split_once(']').is_some_and(|(ip, suffix)| {
            !ip.is_empty() && ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') && port_ok(suffix)
        });
    }
    let (host, suffix) = domain.split_at(domain.find(':').unwrap_or(domain.len()));
    host.split('.').all(|label| {
        label.starts_with(|c: char| c.is_ascii_alphanumeric())
            && label.ends_with(|c: char| c.is_ascii_alphanumeric())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }) && port_ok(suffix)
}

/// `[\w][\w.-]{0,127}`.
fn is_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    tag.len() <= 128 && tag.starts_with(word) && tag.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// A digest the go-digest package accepts: a known algorithm and its exact lower-case hex length.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == length && hex.bytes().all(is_lower_hex)
}

/// `[0-9a-f]`.
fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

// ---------------------------------------------------------------------------------------------
// Workloads (sections 6–7).

/// Deployment (apps/v1).
fn deployment(root: &mut Object) {
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
fn replica_set(root: &mut Object) {
    if let Some(spec) = child(root, "spec") {
        set_default(spec, "replicas", json!(1));
        pod_template_at(spec, "template");
    }
}

/// StatefulSet (apps/v1).
fn stateful_set(root: &mut Object) {
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
fn daemon_set(root: &mut Object) {
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

/// ReplicationController (v1): selector and labels come from the template's labels.
fn replication_controller(root: &mut Object) {
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

/// An object with no labels of its own takes its template's (ReplicationController, Job).
fn copy_template_labels(root: &mut Object, labels: Option<Object>) {
    if let (Some(labels), Some(metadata)) = (labels, child(root, "metadata")) {
        set_default_if_empty(metadata, "labels", Value::Object(labels));
    }
}

/// Job (batch/v1). The selector and the uid-bearing labels the Job strategy generates are
/// not reproduced (see the module docs).
fn job(root: &mut Object) {
    let labels = non_empty_object(lookup(root, &["spec", "template", "metadata", "labels"]));
    if let Some(spec) = child(root, "spec") {
        if !is_set(spec, "completions") && !is_set(spec, "parallelism") {
            spec.insert("completions".to_owned(), json!(1));
        }
        set_default(spec, "parallelism", json!(1));
        let backoff = if is_set(spec, "backoffLimitPerIndex") { i32::MAX } else { 6 };
        set_default(spec, "backoffLimit", json!(backoff));
        set_default(spec, "completionMode", json!("NonIndexed"));
        set_default(spec, "suspend", json!(false));
        let has_failure_policy = is_set(spec, "podFailurePolicy");
        if let Some(policy) = child(spec, "podFailurePolicy") {
            each_object_in_list(policy, "rules", |rule| {
                each_object_in_list(rule, "onPodConditions", |pattern| {
                    set_default_if_empty(pattern, "status", json!("True"));
                });
            });
        }
        let replacement = if has_failure_policy { "Failed" } else { "TerminatingOrFailed" };
        set_default(spec, "podReplacementPolicy", json!(replacement));
        set_default(spec, "manualSelector", json!(false));
        pod_template_at(spec, "template");
    }
    copy_template_labels(root, labels);
}

/// CronJob (batch/v1). Its `jobTemplate.spec` gets no Job defaults, only the pod template's.
fn cron_job(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default_if_empty(spec, "concurrencyPolicy", json!("Allow"));
    set_default(spec, "suspend", json!(false));
    set_default(spec, "successfulJobsHistoryLimit", json!(3));
    set_default(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_spec) = path(spec, &["jobTemplate", "spec"]) {
        pod_template_at(job_spec, "template");
    }
}

// ---------------------------------------------------------------------------------------------
// Service and endpoints (sections 5, 9).

/// Service (v1).
fn service(root: &mut Object) {
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
fn endpoints(root: &mut Object) {
    each_object_in_list(root, "subsets", |subset| {
        each_object_in_list(subset, "ports", |port| {
            set_default_if_empty(port, "protocol", json!("TCP"));
        });
    });
}

/// NetworkPolicy (networking.k8s.io/v1).
fn network_policy(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    let has_egress = spec.get("egress").and_then(Value::as_array).is_some_and(|rules| !rules.is_empty());
    let types = if has_egress { json!(["Ingress", "Egress"]) } else { json!(["Ingress"]) };
    set_default_if_empty(spec, "policyTypes", types);
    for direction in ["ingress", "egress"] {
        each_object_in_list(spec, direction, |rule| {
            each_object_in_list(rule, "ports", |port| {
                set_default(port, "protocol", json!("TCP"));
            });
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Storage (section 10) and cluster-wide kinds (section 11).

/// A PersistentVolumeClaim, also as a StatefulSet volume claim template.
fn persistent_volume_claim(claim: &mut Object) {
    if let Some(spec) = child(claim, "spec") {
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
    // Status is a non-pointer struct whose phase the defaulting itself sets.
    if let Some(status) = child_or_insert(claim, "status") {
        set_default_if_empty(status, "phase", json!("Pending"));
    }
}

/// PersistentVolume (v1).
fn persistent_volume(root: &mut Object) {
    if let Some(spec) = child(root, "spec") {
        set_default_if_empty(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        set_default(spec, "volumeMode", json!("Filesystem"));
        volume_source(spec);
    }
    if let Some(status) = child_or_insert(root, "status") {
        set_default_if_empty(status, "phase", json!("Pending"));
    }
}

/// CSIDriver (storage.k8s.io/v1).
fn csi_driver(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default(spec, "attachRequired", json!(true));
    set_default(spec, "podInfoOnMount", json!(false));
    set_default(spec, "storageCapacity", json!(false));
    set_default(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    set_default_if_empty(spec, "volumeLifecycleModes", json!(["Persistent"]));
    set_default(spec, "requiresRepublish", json!(false));
    set_default(spec, "seLinuxMount", json!(false));
}

/// Namespace (v1): the name label is forced on every write, the phase defaulted.
fn namespace(root: &mut Object) {
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
fn limit_range(root: &mut Object) {
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

/// RoleBinding and ClusterRoleBinding (rbac.authorization.k8s.io/v1).
fn role_binding(root: &mut Object) {
    if let Some(role_ref) = child(root, "roleRef") {
        set_default_if_empty(role_ref, "apiGroup", json!("rbac.authorization.k8s.io"));
    }
    each_object_in_list(root, "subjects", |subject| {
        // ServiceAccount subjects get "" (the core group), which is invisible.
        if matches!(str_at(subject, "kind"), Some("User" | "Group")) {
            set_default_if_empty(subject, "apiGroup", json!("rbac.authorization.k8s.io"));
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Autoscaling (section 8).

/// HorizontalPodAutoscaler: `v1` and `v2` print different defaults for the same stored object.
fn horizontal_pod_autoscaler(version: &str, root: &mut Object) {
    let annotated_metrics =
        lookup(root, &["metadata", "annotations", "autoscaling.alpha.kubernetes.io/metrics"]).cloned();
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default(spec, "minReplicas", json!(1));
    match version {
        "v1"
            // No defaulter: conversion fills an 80 % CPU target when no metric is given, here or
            // in the annotation that carries v2 metrics, and prints it back.
            if !has_annotated_metrics(annotated_metrics.as_ref()) => {
                set_default(spec, "targetCPUUtilizationPercentage", json!(80));
            }
        "v2" | "v2beta2" => {
            set_default_if_empty(
                spec,
                "metrics",
                json!([{
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80}
                    }
                }]),
            );
            if let Some(behavior) = child(spec, "behavior") {
                scaling_rules(
                    behavior,
                    "scaleUp",
                    Some(0),
                    json!([
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                        {"type": "Percent", "value": 100, "periodSeconds": 15}
                    ]),
                );
                // No stabilization window: the controller's flag (300 s) applies instead.
                scaling_rules(
                    behavior,
                    "scaleDown",
                    None,
                    json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
                );
            }
        }
        _ => {}
    }
}

/// Whether the v1 metrics annotation holds metrics; one that does not parse as a list makes
/// the server fail the conversion, so no default is claimed for it either.
fn has_annotated_metrics(annotation: Option<&Value>) -> bool {
    match annotation {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => {
            serde_json::from_str::<Vec<Value>>(text).map_or(true, |metrics| !metrics.is_empty())
        }
        Some(_) => true,
    }
}

/// One HPA scaling direction: created whenever `behavior` exists, then filled field by field
/// (a given `policies` list replaces the default list whole).
fn scaling_rules(behavior: &mut Object, key: &str, window: Option<i64>, policies: Value) {
    if let Some(rules) = child_or_insert(behavior, key) {
        if let Some(window) = window {
            set_default(rules, "stabilizationWindowSeconds", json!(window));
        }
        set_default(rules, "selectPolicy", json!("Max"));
        set_default(rules, "policies", policies);
    }
}

// ---------------------------------------------------------------------------------------------
// API machinery kinds (section 11).

/// Mutating/ValidatingWebhookConfiguration v1 (the v1 documentation's values; the beta
/// versions had others).
fn webhooks(root: &mut Object, mutating: bool) {
    each_object_in_list(root, "webhooks", |webhook| {
        set_default(webhook, "failurePolicy", json!("Fail"));
        set_default(webhook, "matchPolicy", json!("Equivalent"));
        set_default(webhook, "namespaceSelector", json!({}));
        set_default(webhook, "objectSelector", json!({}));
        set_default(webhook, "timeoutSeconds", json!(10));
        if mutating {
            set_default(webhook, "reinvocationPolicy", json!("Never"));
        }
        each_object_in_list(webhook, "rules", rule_scope);
        if let Some(service) = path(webhook, &["clientConfig", "service"]) {
            set_default(service, "port", json!(443));
        }
    });
}

/// Admission rules match resources of every scope unless told otherwise.
fn rule_scope(rule: &mut Object) {
    set_default(rule, "scope", json!("*"));
}

/// ValidatingAdmissionPolicy v1.
fn validating_admission_policy(root: &mut Object) {
    if let Some(spec) = child(root, "spec") {
        set_default(spec, "failurePolicy", json!("Fail"));
        if let Some(constraints) = child(spec, "matchConstraints") {
            match_resources(constraints);
        }
    }
}

/// MatchResources of admission policies and their bindings; the rules inside are the same Go
/// type as webhook rules and get the same scope default.
fn match_resources(resources: &mut Object) {
    set_default(resources, "matchPolicy", json!("Equivalent"));
    set_default(resources, "namespaceSelector", json!({}));
    set_default(resources, "objectSelector", json!({}));
    each_object_in_list(resources, "resourceRules", rule_scope);
    each_object_in_list(resources, "excludeResourceRules", rule_scope);
}

/// CustomResourceDefinition (apiextensions.k8s.io/v1).
fn custom_resource_definition(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    if let Some(names) = child(spec, "names")
        && let Some(kind) = str_at(names, "kind").filter(|k| !k.is_empty())
    {
        let (singular, list_kind) = (kind.to_lowercase(), format!("{kind}List"));
        set_default_if_empty(names, "singular", json!(singular));
        set_default_if_empty(names, "listKind", json!(list_kind));
    }
    set_default(spec, "conversion", json!({"strategy": "None"}));
    if let Some(service) = path(spec, &["conversion", "webhook", "clientConfig", "service"]) {
        set_default(service, "port", json!(443));
    }
    let storage_version = spec
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .find(|version| version.get("storage") == Some(&Value::Bool(true)))
        .and_then(|version| str_at(version, "name"))
        .map(str::to_owned);
    if let Some(storage_version) = storage_version
        && let Some(status) = child_or_insert(root, "status")
    {
        set_default_if_empty(status, "storedVersions", json!([storage_version]));
    }
}

/// PriorityLevelConfiguration (flowcontrol.apiserver.k8s.io/v1).
fn priority_level_configuration(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    if let Some(limited) = child(spec, "limited") {
        set_default(limited, "nominalConcurrencyShares", json!(30));
        set_default(limited, "lendablePercent", json!(0));
        if let Some(queuing) = path(limited, &["limitResponse", "queuing"]) {
            set_default_if_empty(queuing, "queues", json!(64));
            set_default_if_empty(queuing, "handSize", json!(8));
            set_default_if_empty(queuing, "queueLengthLimit", json!(50));
        }
    }
    if let Some(exempt) = child(spec, "exempt") {
        set_default(exempt, "nominalConcurrencyShares", json!(0));
        set_default(exempt, "lendablePercent", json!(0));
    }
}

/// The resource.k8s.io versions whose DeviceToleration carries the `Equal` marker.
fn is_dra_version(version: &str) -> bool {
    matches!(version, "v1" | "v1beta1" | "v1beta2")
}

/// A ResourceClaimSpec: device tolerations sit on the request itself (v1beta1), on its
/// `exactly` block (v1, v1beta2) and on each `firstAvailable` alternative.
fn resource_claim_spec(spec: &mut Object) {
    let Some(devices) = child(spec, "devices") else {
        return;
    };
    let tolerations = |holder: &mut Object| {
        each_object_in_list(holder, "tolerations", |toleration| {
            set_default_if_empty(toleration, "operator", json!("Equal"));
        });
    };
    each_object_in_list(devices, "requests", |request| {
        tolerations(request);
        if let Some(exactly) = child(request, "exactly") {
            tolerations(exactly);
        }
        each_object_in_list(request, "firstAvailable", tolerations);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies the defaults, checks idempotence, and returns the result.
    fn defaulted(group: &str, version: &str, kind: &str, mut obj: Value) -> Value {
        apply(group, version, kind, &mut obj);
        let mut again = obj.clone();
        apply(group, version, kind, &mut again);
        assert_eq!(again, obj, "not idempotent for {group}/{version} {kind}");
        obj
    }

    /// Asserts that `input` defaults to exactly `expected`, and that `expected` is a fixed point.
    fn check(group: &str, version: &str, kind: &str, input: Value, expected: Value) {
        assert_eq!(defaulted(group, version, kind, input), expected);
        assert_eq!(defaulted(group, version, kind, expected.clone()), expected);
    }

    fn container_in() -> Value {
        json!({"name": "app", "image": "nginx:1.25"})
    }

    fn container_out() -> Value {
        json!({
            "name": "app",
            "image": "nginx:1.25",
            "imagePullPolicy": "IfNotPresent",
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "resources": {}
        })
    }

    fn pod_spec_in() -> Value {
        json!({"containers": [container_in()]})
    }

    /// The defaulted PodSpec of a template (no Pod-only fields).
    fn pod_spec_out() -> Value {
        json!({
            "containers": [container_out()],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30
        })
    }

    fn template_in() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec_in()})
    }

    fn template_out() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec_out()})
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn image_pull_policy_table() {
        let cases = [
            ("alpine".to_owned(), "Always"),
            ("alpine:3.6".to_owned(), "IfNotPresent"),
            ("alpine:latest".to_owned(), "Always"),
            (format!("alpine@{DIGEST}"), "IfNotPresent"),
            (format!("alpine:latest@{DIGEST}"), "Always"),
            (format!("alpine:3.6@{DIGEST}"), "IfNotPresent"),
            ("localhost:5000/app".to_owned(), "Always"),
            ("localhost:5000/app:1.2".to_owned(), "IfNotPresent"),
            ("localhost:5000/app:latest".to_owned(), "Always"),
            ("localhost:5000".to_owned(), "IfNotPresent"),
            ("[::1]:5000/app".to_owned(), "Always"),
            ("registry.example.com/team/app".to_owned(), "Always"),
            ("quay.io/prometheus/node-exporter:v1.8.0".to_owned(), "IfNotPresent"),
            ("docker.io/library/alpine".to_owned(), "Always"),
            ("my_org/some__app".to_owned(), "Always"),
            ("".to_owned(), "IfNotPresent"),
            // Parse errors mean "no tag", hence IfNotPresent, even without a tag:
            ("Alpine".to_owned(), "IfNotPresent"),
            ("alpine:".to_owned(), "IfNotPresent"),
            ("alpine:LATEST".to_owned(), "IfNotPresent"),
            ("alpine:latest@sha256:abc".to_owned(), "IfNotPresent"),
            ("alpine..x".to_owned(), "IfNotPresent"),
            ("-alpine".to_owned(), "IfNotPresent"),
            ("a b".to_owned(), "IfNotPresent"),
            ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_owned(), "IfNotPresent"),
        ];
        for (image, want) in cases {
            let out = defaulted("", "v1", "Pod", json!({"spec": {"containers": [{"name": "c", "image": image}]}}));
            assert_eq!(out["spec"]["containers"][0]["imagePullPolicy"], json!(want), "image {image:?}");
        }
    }

    #[test]
    fn pod_minimal() {
        let mut expected = pod_spec_out();
        expected["enableServiceLinks"] = json!(true);
        check(
            "",
            "v1",
            "Pod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec_in()}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": expected}),
        );
    }

    #[test]
    fn pod_only_rules() {
        let input = json!({"spec": {
            "hostNetwork": true,
            "containers": [{
                "name": "a", "image": "x:1",
                "ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 9081}],
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}
            }],
            "initContainers": [{"name": "i", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}],
            "ephemeralContainers": [{"name": "e", "image": "x:1", "ports": [{"containerPort": 82}]}]
        }});
        let out = defaulted("", "v1", "Pod", input);
        let spec = &out["spec"];
        assert_eq!(
            spec["containers"][0]["ports"],
            json!([
                {"containerPort": 80, "hostPort": 80, "protocol": "TCP"},
                {"containerPort": 81, "hostPort": 9081, "protocol": "TCP"}
            ])
        );
        assert_eq!(
            spec["containers"][0]["resources"],
            json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}})
        );
        assert_eq!(spec["initContainers"][0]["resources"], json!({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}));
        // Ephemeral containers are not part of the host-port rule.
        assert_eq!(spec["ephemeralContainers"][0]["ports"], json!([{"containerPort": 82, "protocol": "TCP"}]));
        assert_eq!(spec["enableServiceLinks"], json!(true));
    }

    #[test]
    fn pod_only_rules_not_in_templates() {
        let template = json!({"spec": {
            "hostNetwork": true,
            "containers": [{"name": "a", "image": "x:1", "ports": [{"containerPort": 80}],
                            "resources": {"limits": {"cpu": "1"}}}]
        }});
        let out = defaulted("", "v1", "PodTemplate", json!({"template": template}));
        let spec = &out["template"]["spec"];
        assert_eq!(spec.get("enableServiceLinks"), None);
        assert_eq!(spec["containers"][0]["ports"], json!([{"containerPort": 80, "protocol": "TCP"}]));
        assert_eq!(spec["containers"][0]["resources"], json!({"limits": {"cpu": "1"}}));
    }

    #[test]
    fn container_details() {
        let input = json!({"template": {"spec": {"containers": [{
            "name": "a",
            "image": "app",
            "ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 8080}],
            "env": [
                {"name": "A", "value": "x"},
                {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "C", "valueFrom": {"fileKeyRef": {"path": "f", "key": "k", "volumeName": "v"}}}
            ],
            "livenessProbe": {"httpGet": {"port": 8080}},
            "readinessProbe": {"grpc": {"port": 9090}, "periodSeconds": 0, "timeoutSeconds": 5},
            "startupProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 0},
            "lifecycle": {"preStop": {"httpGet": {"port": 8080, "path": "/stop"}},
                          "postStart": {"exec": {"command": ["true"]}}}
        }]}}});
        let expected_container = json!({
            "name": "a",
            "image": "app",
            "imagePullPolicy": "Always",
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "resources": {},
            "ports": [
                {"containerPort": 53, "protocol": "UDP"},
                {"containerPort": 8080, "protocol": "TCP"}
            ],
            "env": [
                {"name": "A", "value": "x"},
                {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}},
                {"name": "C", "valueFrom": {"fileKeyRef": {"path": "f", "key": "k", "volumeName": "v", "optional": false}}}
            ],
            "livenessProbe": {
                "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
            },
            "readinessProbe": {
                "grpc": {"port": 9090, "service": ""},
                "timeoutSeconds": 5, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
            },
            "startupProbe": {
                "tcpSocket": {"port": 8080}, "initialDelaySeconds": 0,
                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
            },
            "lifecycle": {
                "preStop": {"httpGet": {"port": 8080, "path": "/stop", "scheme": "HTTP"}},
                "postStart": {"exec": {"command": ["true"]}}
            }
        });
        let mut spec = pod_spec_out();
        spec["containers"] = json!([expected_container]);
        check("", "v1", "PodTemplate", input, json!({"template": {"spec": spec}}));
    }

    #[test]
    fn volumes() {
        let volumes_in = json!([
            {"name": "scratch"},
            {"name": "s", "secret": {"secretName": "s"}},
            {"name": "c", "configMap": {"name": "c", "defaultMode": 256}},
            {"name": "d", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {"name": "p", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}},
                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"configMap": {"name": "c"}}
            ]}},
            {"name": "h", "hostPath": {"path": "/var/log"}},
            {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
            {"name": "img", "image": {"reference": "ghcr.io/x/model:latest"}},
            {"name": "img2", "image": {"reference": "ghcr.io/x/model:v1"}},
            {"name": "iscsi", "iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0}},
            {"name": "rbd", "rbd": {"monitors": ["m"], "image": "i"}},
            {"name": "az", "azureDisk": {"diskName": "d", "diskURI": "u"}},
            {"name": "sio", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}}},
            {"name": "pvc", "persistentVolumeClaim": {"claimName": "data"}}
        ]);
        let volumes_out = json!([
            {"name": "scratch", "emptyDir": {}},
            {"name": "s", "secret": {"secretName": "s", "defaultMode": 420}},
            {"name": "c", "configMap": {"name": "c", "defaultMode": 256}},
            {"name": "d", "downwardAPI": {"defaultMode": 420, "items": [
                {"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}
            ]}},
            {"name": "p", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}]}},
                {"configMap": {"name": "c"}}
            ]}},
            {"name": "h", "hostPath": {"path": "/var/log", "type": ""}},
            {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {
                "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"
            }}}},
            {"name": "img", "image": {"reference": "ghcr.io/x/model:latest", "pullPolicy": "Always"}},
            {"name": "img2", "image": {"reference": "ghcr.io/x/model:v1", "pullPolicy": "IfNotPresent"}},
            {"name": "iscsi", "iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0, "iscsiInterface": "default"}},
            {"name": "rbd", "rbd": {"monitors": ["m"], "image": "i", "pool": "rbd", "user": "admin",
                                    "keyring": "/etc/ceph/keyring"}},
            {"name": "az", "azureDisk": {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite",
                                         "fsType": "ext4", "readOnly": false, "kind": "Shared"}},
            {"name": "sio", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"},
                                        "storageMode": "ThinProvisioned", "fsType": "xfs"}},
            {"name": "pvc", "persistentVolumeClaim": {"claimName": "data"}}
        ]);
        let mut spec_in = pod_spec_in();
        spec_in["volumes"] = volumes_in;
        let mut spec_out = pod_spec_out();
        spec_out["volumes"] = volumes_out;
        check("", "v1", "PodTemplate", json!({"template": {"spec": spec_in}}), json!({"template": {"spec": spec_out}}));
    }

    #[test]
    fn pod_user_values_kept() {
        let spec = json!({
            "dnsPolicy": "None",
            "restartPolicy": "Never",
            "schedulerName": "custom",
            "securityContext": {"runAsNonRoot": true},
            "terminationGracePeriodSeconds": 0,
            "enableServiceLinks": false,
            "containers": [{
                "name": "a",
                "image": "alpine",
                "imagePullPolicy": "Never",
                "terminationMessagePath": "/tmp/t",
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "resources": {"requests": {"cpu": "1"}},
                "livenessProbe": {"exec": {"command": ["x"]}, "timeoutSeconds": 2, "periodSeconds": 3,
                                  "successThreshold": 1, "failureThreshold": 4}
            }],
            "volumes": [{"name": "s", "secret": {"secretName": "s", "defaultMode": 0}},
                        {"name": "h", "hostPath": {"path": "/x", "type": "Directory"}}]
        });
        check("", "v1", "Pod", json!({"spec": spec}), json!({"spec": spec}));
    }

    #[test]
    fn service_account_alias() {
        let out = defaulted("", "v1", "PodTemplate", json!({"template": {"spec": {"serviceAccountName": "sa"}}}));
        assert_eq!(out["template"]["spec"]["serviceAccount"], json!("sa"));
        let out = defaulted("", "v1", "PodTemplate", json!({"template": {"spec": {"serviceAccount": "old"}}}));
        assert_eq!(out["template"]["spec"]["serviceAccountName"], json!("old"));
        // The name wins and the alias mirrors it, as the server prints it.
        let out = defaulted(
            "",
            "v1",
            "PodTemplate",
            json!({"template": {"spec": {"serviceAccountName": "new", "serviceAccount": "old"}}}),
        );
        assert_eq!(out["template"]["spec"]["serviceAccount"], json!("new"));
        let out = defaulted("", "v1", "PodTemplate", json!({"template": {"spec": {}}}));
        assert_eq!(out["template"]["spec"].get("serviceAccount"), None);
    }

    #[test]
    fn workload_kinds_reach_the_pod_template() {
        for (group, kind) in [
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("", "ReplicationController"),
            ("batch", "Job"),
        ] {
            let out = defaulted(group, "v1", kind, json!({"spec": {"template": template_in()}}));
            assert_eq!(out["spec"]["template"], template_out(), "{kind}");
        }
        let out = defaulted(
            "batch",
            "v1",
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": template_in()}}}}),
        );
        assert_eq!(out["spec"]["jobTemplate"]["spec"]["template"], template_out());
    }

    #[test]
    fn deployment() {
        check(
            "apps",
            "v1",
            "Deployment",
            json!({"metadata": {"name": "d"}, "spec": {
                "selector": {"matchLabels": {"app": "web"}}, "template": template_in()
            }}),
            json!({"metadata": {"name": "d"}, "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": template_out(),
                "replicas": 1,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            }}),
        );
    }

    #[test]
    fn deployment_user_values_kept() {
        let recreate = json!({"spec": {
            "replicas": 0, "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 0, "progressDeadlineSeconds": 60
        }});
        check("apps", "v1", "Deployment", recreate.clone(), recreate);
        check(
            "apps",
            "v1",
            "Deployment",
            json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec": {
                "replicas": 1,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            }}),
        );
    }

    #[test]
    fn replica_set() {
        check(
            "apps",
            "v1",
            "ReplicaSet",
            json!({"spec": {"template": template_in()}}),
            json!({"spec": {"template": template_out(), "replicas": 1}}),
        );
        check("apps", "v1", "ReplicaSet", json!({"spec": {"replicas": 3}}), json!({"spec": {"replicas": 3}}));
    }

    #[test]
    fn stateful_set() {
        check(
            "apps",
            "v1",
            "StatefulSet",
            json!({"spec": {
                "serviceName": "db",
                "template": template_in(),
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                    "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}
                }}]
            }}),
            json!({"spec": {
                "serviceName": "db",
                "template": template_out(),
                "replicas": 1,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "revisionHistoryLimit": 10,
                "volumeClaimTemplates": [{
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                             "volumeMode": "Filesystem"},
                    "status": {"phase": "Pending"}
                }]
            }}),
        );
    }

    #[test]
    fn stateful_set_strategy_rules() {
        // An explicit RollingUpdate type without rollingUpdate stays without it.
        let out =
            defaulted("apps", "v1", "StatefulSet", json!({"spec": {"updateStrategy": {"type": "RollingUpdate"}}}));
        assert_eq!(out["spec"]["updateStrategy"], json!({"type": "RollingUpdate"}));
        // A given rollingUpdate is filled in.
        let out = defaulted(
            "apps",
            "v1",
            "StatefulSet",
            json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}}),
        );
        assert_eq!(
            out["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2, "maxUnavailable": 1}})
        );
        let out = defaulted(
            "apps",
            "v1",
            "StatefulSet",
            json!({"spec": {"updateStrategy": {"type": "OnDelete"},
                            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"},
                            "podManagementPolicy": "Parallel"}}),
        );
        assert_eq!(out["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
        assert_eq!(
            out["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Delete", "whenScaled": "Retain"})
        );
        assert_eq!(out["spec"]["podManagementPolicy"], json!("Parallel"));
    }

    #[test]
    fn daemon_set() {
        check(
            "apps",
            "v1",
            "DaemonSet",
            json!({"spec": {"template": template_in()}}),
            json!({"spec": {
                "template": template_out(),
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10
            }}),
        );
        // Given type RollingUpdate still gets rollingUpdate, unlike StatefulSet.
        let out = defaulted(
            "apps",
            "v1",
            "DaemonSet",
            json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}}}}),
        );
        assert_eq!(
            out["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}})
        );
        let out = defaulted("apps", "v1", "DaemonSet", json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}));
        assert_eq!(out["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
    }

    #[test]
    fn replication_controller() {
        check(
            "",
            "v1",
            "ReplicationController",
            json!({"metadata": {"name": "rc"}, "spec": {"template": template_in()}}),
            json!({"metadata": {"name": "rc", "labels": {"app": "web"}}, "spec": {
                "template": template_out(), "replicas": 1, "selector": {"app": "web"}
            }}),
        );
        let kept = json!({"metadata": {"name": "rc", "labels": {"team": "a"}}, "spec": {
            "replicas": 2, "selector": {"app": "web", "tier": "x"}, "template": template_out()
        }});
        check("", "v1", "ReplicationController", kept.clone(), kept);
    }

    #[test]
    fn job() {
        let mut template = template_in();
        template["spec"]["restartPolicy"] = json!("Never");
        let mut template_defaulted = template_out();
        template_defaulted["spec"]["restartPolicy"] = json!("Never");
        check(
            "batch",
            "v1",
            "Job",
            json!({"metadata": {"name": "j"}, "spec": {"template": template}}),
            json!({"metadata": {"name": "j", "labels": {"app": "web"}}, "spec": {
                "template": template_defaulted,
                "completions": 1,
                "parallelism": 1,
                "backoffLimit": 6,
                "completionMode": "NonIndexed",
                "suspend": false,
                "podReplacementPolicy": "TerminatingOrFailed",
                "manualSelector": false
            }}),
        );
    }

    #[test]
    fn job_conditional_rules() {
        let out = defaulted("batch", "v1", "Job", json!({"spec": {"completions": 5}}));
        assert_eq!((&out["spec"]["completions"], &out["spec"]["parallelism"]), (&json!(5), &json!(1)));
        let out = defaulted("batch", "v1", "Job", json!({"spec": {"parallelism": 3}}));
        assert_eq!(out["spec"].get("completions"), None);
        assert_eq!(out["spec"]["parallelism"], json!(3));
        let out = defaulted(
            "batch",
            "v1",
            "Job",
            json!({"spec": {"backoffLimitPerIndex": 1, "completionMode": "Indexed", "completions": 3,
            "podFailurePolicy": {"rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                {"action": "FailJob", "onPodConditions": [{"type": "X", "status": "False"}]}
            ]}}}),
        );
        assert_eq!(out["spec"]["backoffLimit"], json!(2147483647));
        assert_eq!(out["spec"]["completionMode"], json!("Indexed"));
        assert_eq!(out["spec"]["podReplacementPolicy"], json!("Failed"));
        assert_eq!(
            out["spec"]["podFailurePolicy"]["rules"],
            json!([
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                {"action": "FailJob", "onPodConditions": [{"type": "X", "status": "False"}]}
            ])
        );
        let kept = json!({"metadata": {"labels": {"x": "y"}}, "spec": {
            "completions": 2, "parallelism": 2, "backoffLimit": 0, "completionMode": "NonIndexed",
            "suspend": true, "podReplacementPolicy": "Failed", "manualSelector": true,
            "template": {"metadata": {"labels": {"app": "web"}}}
        }});
        check("batch", "v1", "Job", kept.clone(), kept);
    }

    #[test]
    fn cron_job() {
        let mut template = template_in();
        template["spec"]["restartPolicy"] = json!("OnFailure");
        let mut template_defaulted = template_out();
        template_defaulted["spec"]["restartPolicy"] = json!("OnFailure");
        check(
            "batch",
            "v1",
            "CronJob",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}),
            json!({"spec": {
                "schedule": "* * * * *",
                // No Job defaults inside the job template.
                "jobTemplate": {"spec": {"template": template_defaulted}},
                "concurrencyPolicy": "Allow",
                "suspend": false,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1
            }}),
        );
        let kept = json!({"spec": {"concurrencyPolicy": "Forbid", "suspend": true,
                                   "successfulJobsHistoryLimit": 0, "failedJobsHistoryLimit": 0}});
        check("batch", "v1", "CronJob", kept.clone(), kept);
    }

    #[test]
    fn service_cluster_ip() {
        check(
            "",
            "v1",
            "Service",
            json!({"spec": {"selector": {"app": "web"}, "ports": [
                {"port": 80},
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
                {"port": 443, "targetPort": 0},
                {"port": 8443, "targetPort": ""}
            ]}}),
            json!({"spec": {
                "selector": {"app": "web"},
                "ports": [
                    {"port": 80, "protocol": "TCP", "targetPort": 80},
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
                    {"port": 443, "protocol": "TCP", "targetPort": 443},
                    {"port": 8443, "protocol": "TCP", "targetPort": 8443}
                ],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster"
            }}),
        );
    }

    #[test]
    fn service_types() {
        check(
            "",
            "v1",
            "Service",
            json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 8080}]},
                   "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"}]}}}),
            json!({"spec": {
                "type": "LoadBalancer",
                "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                "sessionAffinity": "None",
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": true
            }, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}, {"hostname": "lb.example"}]}}}),
        );
        check(
            "",
            "v1",
            "Service",
            json!({"spec": {"type": "NodePort", "externalTrafficPolicy": "Local"}}),
            json!({"spec": {"type": "NodePort", "sessionAffinity": "None",
                            "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Cluster"}}),
        );
        check(
            "",
            "v1",
            "Service",
            json!({"spec": {"externalIPs": ["10.0.0.1"]}}),
            json!({"spec": {"externalIPs": ["10.0.0.1"], "type": "ClusterIP", "sessionAffinity": "None",
                            "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster"}}),
        );
        check(
            "",
            "v1",
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "db.example"}}),
            json!({"spec": {"type": "ExternalName", "externalName": "db.example", "sessionAffinity": "None"}}),
        );
    }

    #[test]
    fn service_session_affinity() {
        check(
            "",
            "v1",
            "Service",
            json!({"spec": {"sessionAffinity": "None", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}),
            json!({"spec": {"sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster"}}),
        );
        check(
            "",
            "v1",
            "Service",
            json!({"spec": {"sessionAffinity": "ClientIP"}}),
            json!({"spec": {"sessionAffinity": "ClientIP", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
                            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}}),
        );
        check(
            "",
            "v1",
            "Service",
            json!({"spec": {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {}}}}),
            json!({"spec": {"sessionAffinity": "ClientIP", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
                            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}}),
        );
        let kept = json!({"spec": {"sessionAffinity": "ClientIP", "type": "ClusterIP",
                                   "internalTrafficPolicy": "Local",
                                   "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}});
        check("", "v1", "Service", kept.clone(), kept);
    }

    #[test]
    fn hpa_v2() {
        check(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            json!({"spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "d"}}}),
            json!({"spec": {
                "maxReplicas": 5,
                "scaleTargetRef": {"kind": "Deployment", "name": "d"},
                "minReplicas": 1,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80}}}]
            }}),
        );
        check(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            json!({"spec": {"minReplicas": 2, "metrics": [{"type": "Pods"}],
                            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
            json!({"spec": {
                "minReplicas": 2,
                "metrics": [{"type": "Pods"}],
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "selectPolicy": "Max",
                        "policies": [
                            {"type": "Pods", "value": 4, "periodSeconds": 15},
                            {"type": "Percent", "value": 100, "periodSeconds": 15}
                        ]
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": 60,
                        "selectPolicy": "Max",
                        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]
                    }
                }
            }}),
        );
        let out = defaulted(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            json!({"spec": {"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                                                     "selectPolicy": "Min"}}}}),
        );
        assert_eq!(
            out["spec"]["behavior"]["scaleUp"],
            json!({"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}], "selectPolicy": "Min",
                   "stabilizationWindowSeconds": 0})
        );
    }

    #[test]
    fn hpa_v1() {
        check(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            json!({"spec": {"maxReplicas": 5}}),
            json!({"spec": {"maxReplicas": 5, "minReplicas": 1, "targetCPUUtilizationPercentage": 80}}),
        );
        let kept = json!({"spec": {"maxReplicas": 5, "minReplicas": 3, "targetCPUUtilizationPercentage": 50}});
        check("autoscaling", "v1", "HorizontalPodAutoscaler", kept.clone(), kept);
        let annotated = json!({
            "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/metrics": "[{\"type\":\"Pods\"}]"}},
            "spec": {"maxReplicas": 5}
        });
        let out = defaulted("autoscaling", "v1", "HorizontalPodAutoscaler", annotated);
        assert_eq!(out["spec"], json!({"maxReplicas": 5, "minReplicas": 1}));
    }

    #[test]
    fn network_policy() {
        check(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}]}}),
            json!({"spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                            "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}]}}),
        );
        check(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            json!({"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 443}]}]}}),
            json!({"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                            "egress": [{"ports": [{"port": 443, "protocol": "TCP"}]}]}}),
        );
        let kept = json!({"spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": []}});
        check("networking.k8s.io", "v1", "NetworkPolicy", kept.clone(), kept);
    }

    #[test]
    fn ingress_class_endpoint_slice_endpoints() {
        check(
            "networking.k8s.io",
            "v1",
            "IngressClass",
            json!({"spec": {"controller": "x/y", "parameters": {"kind": "P", "name": "p"}}}),
            json!({"spec": {"controller": "x/y", "parameters": {"kind": "P", "name": "p", "scope": "Cluster"}}}),
        );
        let plain = json!({"spec": {"controller": "x/y"}});
        check("networking.k8s.io", "v1", "IngressClass", plain.clone(), plain);
        check(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            json!({"addressType": "IPv4", "endpoints": [], "ports": [{"port": 80}, {"name": "dns", "protocol": "UDP", "port": 53}]}),
            json!({"addressType": "IPv4", "endpoints": [], "ports": [
                {"port": 80, "name": "", "protocol": "TCP"},
                {"name": "dns", "protocol": "UDP", "port": 53}
            ]}),
        );
        check(
            "",
            "v1",
            "Endpoints",
            json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
            json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}]}),
        );
    }

    #[test]
    fn storage() {
        check(
            "",
            "v1",
            "PersistentVolumeClaim",
            json!({"spec": {"accessModes": ["ReadWriteOnce"]}}),
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
                   "status": {"phase": "Pending"}}),
        );
        let kept = json!({"spec": {"volumeMode": "Block", "storageClassName": ""}, "status": {"phase": "Bound"}});
        check("", "v1", "PersistentVolumeClaim", kept.clone(), kept);
        check(
            "",
            "v1",
            "PersistentVolume",
            json!({"spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"},
                            "rbd": {"monitors": ["m"], "image": "i"}}}),
            json!({"spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data", "type": ""},
                            "rbd": {"monitors": ["m"], "image": "i", "pool": "rbd", "user": "admin",
                                    "keyring": "/etc/ceph/keyring"},
                            "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
                   "status": {"phase": "Pending"}}),
        );
        check(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            json!({"provisioner": "x"}),
            json!({"provisioner": "x", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}),
        );
        let kept = json!({"provisioner": "x", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"});
        check("storage.k8s.io", "v1", "StorageClass", kept.clone(), kept);
        check(
            "storage.k8s.io",
            "v1",
            "CSIDriver",
            json!({"spec": {}}),
            json!({"spec": {
                "attachRequired": true, "podInfoOnMount": false, "storageCapacity": false,
                "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                "requiresRepublish": false, "seLinuxMount": false
            }}),
        );
        let kept = json!({"spec": {
            "attachRequired": false, "podInfoOnMount": true, "storageCapacity": true, "fsGroupPolicy": "File",
            "volumeLifecycleModes": ["Ephemeral"], "requiresRepublish": true, "seLinuxMount": true
        }});
        check("storage.k8s.io", "v1", "CSIDriver", kept.clone(), kept);
    }

    #[test]
    fn secret_namespace_limit_range() {
        check("", "v1", "Secret", json!({"data": {}}), json!({"data": {}, "type": "Opaque"}));
        let kept = json!({"type": "kubernetes.io/tls", "data": {}});
        check("", "v1", "Secret", kept.clone(), kept);
        check(
            "",
            "v1",
            "Namespace",
            json!({"metadata": {"name": "prod"}}),
            json!({"metadata": {"name": "prod", "labels": {"kubernetes.io/metadata.name": "prod"}},
                   "status": {"phase": "Active"}}),
        );
        // The server overwrites a wrong name label.
        check(
            "",
            "v1",
            "Namespace",
            json!({"metadata": {"name": "prod", "labels": {"team": "a", "kubernetes.io/metadata.name": "x"}}}),
            json!({"metadata": {"name": "prod", "labels": {"team": "a", "kubernetes.io/metadata.name": "prod"}},
                   "status": {"phase": "Active"}}),
        );
        check(
            "",
            "v1",
            "LimitRange",
            json!({"spec": {"limits": [
                {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}, "default": {"cpu": "1"}, "min": {"cpu": "100m", "memory": "64Mi"}},
                {"type": "Container", "min": {"cpu": "50m"}},
                {"type": "Pod", "max": {"cpu": "4"}}
            ]}}),
            json!({"spec": {"limits": [
                {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"},
                 "default": {"cpu": "1", "memory": "1Gi"},
                 "defaultRequest": {"cpu": "1", "memory": "1Gi"},
                 "min": {"cpu": "100m", "memory": "64Mi"}},
                {"type": "Container", "min": {"cpu": "50m"}, "defaultRequest": {"cpu": "50m"}},
                {"type": "Pod", "max": {"cpu": "4"}}
            ]}}),
        );
    }

    #[test]
    fn rbac_and_priority_class() {
        for kind in ["RoleBinding", "ClusterRoleBinding"] {
            check(
                "rbac.authorization.k8s.io",
                "v1",
                kind,
                json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
                    {"kind": "User", "name": "alice"},
                    {"kind": "Group", "name": "devs"},
                    {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}
                ]}),
                json!({"roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"},
                       "subjects": [
                    {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                    {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"},
                    {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}
                ]}),
            );
        }
        check(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            json!({"value": 1000}),
            json!({"value": 1000, "preemptionPolicy": "PreemptLowerPriority"}),
        );
        let kept = json!({"value": 1000, "preemptionPolicy": "Never"});
        check("scheduling.k8s.io", "v1", "PriorityClass", kept.clone(), kept);
    }

    #[test]
    fn webhook_configurations() {
        let webhook_in = json!({
            "name": "w.example.com",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"name": "svc", "namespace": "ns"}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]
        });
        let validating_out = json!({
            "name": "w.example.com",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"name": "svc", "namespace": "ns", "port": 443}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                       "scope": "*"}],
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "namespaceSelector": {},
            "objectSelector": {},
            "timeoutSeconds": 10
        });
        let mut mutating_out = validating_out.clone();
        mutating_out["reinvocationPolicy"] = json!("Never");
        check(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingWebhookConfiguration",
            json!({"webhooks": [webhook_in.clone()]}),
            json!({"webhooks": [validating_out]}),
        );
        check(
            "admissionregistration.k8s.io",
            "v1",
            "MutatingWebhookConfiguration",
            json!({"webhooks": [webhook_in.clone()]}),
            json!({"webhooks": [mutating_out]}),
        );
        // The removed beta version had other defaults: left alone.
        let beta = json!({"webhooks": [webhook_in]});
        check("admissionregistration.k8s.io", "v1beta1", "MutatingWebhookConfiguration", beta.clone(), beta);
        let kept = json!({"webhooks": [{"name": "w", "failurePolicy": "Ignore", "matchPolicy": "Exact",
            "namespaceSelector": {"matchLabels": {"a": "b"}}, "objectSelector": {}, "timeoutSeconds": 30,
            "reinvocationPolicy": "IfNeeded", "clientConfig": {"url": "https://x"}}]});
        check("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", kept.clone(), kept);
    }

    #[test]
    fn admission_policies() {
        check(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicy",
            json!({"spec": {"matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["deployments"]}]}, "validations": [{"expression": "true"}]}}),
            json!({"spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"],
                                       "resources": ["deployments"], "scope": "*"}],
                    "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}
                },
                "validations": [{"expression": "true"}]
            }}),
        );
        check(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicyBinding",
            json!({"spec": {"policyName": "p", "matchResources": {}}}),
            json!({"spec": {"policyName": "p", "matchResources": {
                "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}
            }}}),
        );
        let no_match = json!({"spec": {"policyName": "p", "validationActions": ["Deny"]}});
        check("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", no_match.clone(), no_match);
    }

    #[test]
    fn custom_resource_definition() {
        check(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            json!({"spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"kind": "CronTab", "plural": "crontabs"},
                "versions": [{"name": "v1beta1", "served": true, "storage": false},
                             {"name": "v1", "served": true, "storage": true}]}}),
            json!({"spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"kind": "CronTab", "plural": "crontabs", "singular": "crontab", "listKind": "CronTabList"},
                "versions": [{"name": "v1beta1", "served": true, "storage": false},
                             {"name": "v1", "served": true, "storage": true}],
                "conversion": {"strategy": "None"}},
                "status": {"storedVersions": ["v1"]}}),
        );
        let out = defaulted(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            json!({"spec": {"names": {"kind": "A", "singular": "b", "listKind": "C"},
                "conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                    "clientConfig": {"service": {"name": "s", "namespace": "n"}}}}}}),
        );
        assert_eq!(out["spec"]["names"], json!({"kind": "A", "singular": "b", "listKind": "C"}));
        assert_eq!(
            out["spec"]["conversion"]["webhook"]["clientConfig"]["service"],
            json!({"name": "s", "namespace": "n", "port": 443})
        );
        assert_eq!(out.get("status"), None);
    }

    #[test]
    fn flow_control() {
        check(
            "flowcontrol.apiserver.k8s.io",
            "v1",
            "FlowSchema",
            json!({"spec": {"priorityLevelConfiguration": {"name": "p"}}}),
            json!({"spec": {"priorityLevelConfiguration": {"name": "p"}, "matchingPrecedence": 1000}}),
        );
        check(
            "flowcontrol.apiserver.k8s.io",
            "v1",
            "PriorityLevelConfiguration",
            json!({"spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {"queues": 16}}}}}),
            json!({"spec": {"type": "Limited", "limited": {
                "nominalConcurrencyShares": 30, "lendablePercent": 0,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 16, "handSize": 8, "queueLengthLimit": 50}}
            }}}),
        );
        check(
            "flowcontrol.apiserver.k8s.io",
            "v1",
            "PriorityLevelConfiguration",
            json!({"spec": {"type": "Exempt", "exempt": {}}}),
            json!({"spec": {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}}),
        );
        let kept = json!({"spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 0, "lendablePercent": 50,
            "limitResponse": {"type": "Reject"}}}});
        check("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", kept.clone(), kept);
    }

    #[test]
    fn resource_claims_and_pod_certificate_requests() {
        check(
            "resource.k8s.io",
            "v1",
            "ResourceClaimTemplate",
            json!({"spec": {"spec": {"devices": {"requests": [
                {"name": "gpu", "exactly": {"deviceClassName": "gpu", "tolerations": [{"key": "k", "operator": "Exists"}, {"key": "k2", "value": "v"}]}},
                {"name": "any", "firstAvailable": [{"name": "a", "deviceClassName": "x", "tolerations": [{"key": "k"}]}]}
            ]}}}}),
            json!({"spec": {"spec": {"devices": {"requests": [
                {"name": "gpu", "exactly": {"deviceClassName": "gpu", "tolerations": [{"key": "k", "operator": "Exists"}, {"key": "k2", "value": "v", "operator": "Equal"}]}},
                {"name": "any", "firstAvailable": [{"name": "a", "deviceClassName": "x", "tolerations": [{"key": "k", "operator": "Equal"}]}]}
            ]}}}}),
        );
        check(
            "resource.k8s.io",
            "v1beta1",
            "ResourceClaim",
            json!({"spec": {"devices": {"requests": [{"name": "gpu", "deviceClassName": "gpu", "tolerations": [{"key": "k"}]}]}}}),
            json!({"spec": {"devices": {"requests": [{"name": "gpu", "deviceClassName": "gpu", "tolerations": [{"key": "k", "operator": "Equal"}]}]}}}),
        );
        check(
            "certificates.k8s.io",
            "v1beta1",
            "PodCertificateRequest",
            json!({"spec": {"signerName": "x/y"}}),
            json!({"spec": {"signerName": "x/y", "maxExpirationSeconds": 86400}}),
        );
    }

    #[test]
    fn unknown_kinds_and_groups_are_left_alone() {
        let obj = json!({"spec": {"template": template_in(), "replicas": null}});
        for (group, version, kind) in [
            ("example.com", "v1", "Deployment"),
            ("extensions", "v1beta1", "Deployment"),
            ("apps", "v1", "Widget"),
            ("", "v1", "ConfigMap"),
            ("policy", "v1", "PodDisruptionBudget"),
            ("networking.k8s.io", "v1", "Ingress"),
        ] {
            check(group, version, kind, obj.clone(), obj.clone());
        }
    }

    #[test]
    fn removed_beta_versions_get_v1_rules() {
        let out = defaulted("apps", "v1beta2", "Deployment", json!({"spec": {}}));
        assert_eq!(out["spec"]["replicas"], json!(1));
        let out = defaulted("batch", "v1beta1", "CronJob", json!({"spec": {}}));
        assert_eq!(out["spec"]["concurrencyPolicy"], json!("Allow"));
    }

    /// Every kind handled above, for the shape-abuse test.
    const KINDS: &[(&str, &str, &str)] = &[
        ("", "v1", "Pod"),
        ("", "v1", "PodTemplate"),
        ("", "v1", "ReplicationController"),
        ("", "v1", "Service"),
        ("", "v1", "Endpoints"),
        ("", "v1", "PersistentVolumeClaim"),
        ("", "v1", "PersistentVolume"),
        ("", "v1", "Secret"),
        ("", "v1", "Namespace"),
        ("", "v1", "LimitRange"),
        ("apps", "v1", "Deployment"),
        ("apps", "v1", "ReplicaSet"),
        ("apps", "v1", "StatefulSet"),
        ("apps", "v1", "DaemonSet"),
        ("batch", "v1", "Job"),
        ("batch", "v1", "CronJob"),
        ("autoscaling", "v1", "HorizontalPodAutoscaler"),
        ("autoscaling", "v2", "HorizontalPodAutoscaler"),
        ("networking.k8s.io", "v1", "NetworkPolicy"),
        ("networking.k8s.io", "v1", "IngressClass"),
        ("discovery.k8s.io", "v1", "EndpointSlice"),
        ("storage.k8s.io", "v1", "StorageClass"),
        ("storage.k8s.io", "v1", "CSIDriver"),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
        ("scheduling.k8s.io", "v1", "PriorityClass"),
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding"),
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration"),
        ("resource.k8s.io", "v1", "ResourceClaim"),
        ("resource.k8s.io", "v1", "ResourceClaimTemplate"),
        ("certificates.k8s.io", "v1beta1", "PodCertificateRequest"),
    ];

    #[test]
    fn wrong_shapes_do_not_panic() {
        let odd = [
            json!(null),
            json!(3),
            json!("spec"),
            json!([1, 2]),
            json!({}),
            json!({"spec": 3}),
            json!({"spec": null, "metadata": "x", "status": 7}),
            json!({"spec": {"containers": {}, "volumes": "x", "initContainers": [1, null, "x"]}}),
            json!({"spec": {"template": {"spec": {"containers": [{"image": 5, "ports": {}, "env": [{"valueFrom": 1}],
                "livenessProbe": [], "lifecycle": {"preStop": 3}, "resources": "x"}], "volumes": [3, {"secret": 1}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"image": "x", "resources": {"limits": 5}}], "hostNetwork": true}}}}),
            json!({"spec": {"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}, "requests": 4},
                "ports": [{"containerPort": "80"}]}], "hostNetwork": true}}),
            json!({"spec": {"strategy": "x", "updateStrategy": [], "template": 1, "jobTemplate": {"spec": 2},
                "volumeClaimTemplates": [{"spec": 1, "status": "x", "apiVersion": 3}]}}),
            json!({"spec": {"type": 5, "ports": [{"port": "80", "targetPort": null}], "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": "x", "externalIPs": "x"}}),
            json!({"spec": {"behavior": {"scaleUp": 1, "scaleDown": null}, "metrics": {}, "minReplicas": "x"}}),
            json!({"metadata": {"name": 5, "labels": [], "annotations": {"autoscaling.alpha.kubernetes.io/metrics": "not json"}},
                   "spec": {"names": 3, "versions": {}, "conversion": 1, "limits": [{"type": "Container", "max": 3, "default": "x"}]}}),
            json!({"roleRef": 1, "subjects": {}, "webhooks": [1, {"rules": {}, "clientConfig": {"service": 3}}]}),
            json!({"spec": {"devices": {"requests": [{"exactly": 1, "firstAvailable": {}, "tolerations": [1]}]}, "spec": 3}}),
            json!({"spec": {"limited": {"limitResponse": {"queuing": 4}}, "exempt": 1, "egress": 4, "ingress": [{"ports": 1}],
                            "parameters": 3, "matchConstraints": 2, "matchResources": []}}),
            json!({"subsets": [{"ports": [1]}], "ports": 2, "type": 3, "status": {"loadBalancer": {"ingress": 1}}}),
        ];
        for (group, version, kind) in KINDS {
            for obj in &odd {
                defaulted(group, version, kind, obj.clone());
            }
        }
    }

    #[test]
    fn wrong_typed_fields_are_left_alone() {
        let out = defaulted("", "v1", "Pod", json!({"spec": {"dnsPolicy": 0, "containers": {}}}));
        assert_eq!(out["spec"]["dnsPolicy"], json!(0));
        assert_eq!(out["spec"]["containers"], json!({}));
        let out = defaulted("", "v1", "Pod", json!({"spec": {"containers": [{"image": 5}]}}));
        assert_eq!(out["spec"]["containers"][0].get("imagePullPolicy"), None);
        let out = defaulted("apps", "v1", "Deployment", json!({"spec": {"strategy": "x"}}));
        assert_eq!(out["spec"]["strategy"], json!("x"));
        let out = defaulted("", "v1", "Service", json!({"spec": {"ports": [{"port": "80"}]}}));
        assert_eq!(out["spec"]["ports"], json!([{"port": "80", "protocol": "TCP"}]));
        let spec_three = json!({"spec": 3});
        check("apps", "v1", "Deployment", spec_three.clone(), spec_three);
    }
}
