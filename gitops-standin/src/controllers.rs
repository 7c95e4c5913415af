//! What kube-controller-manager and friends would do: status for workloads, Jobs, Pods, PVCs, Services,
//! Namespaces and CRDs, plus garbage collection (ownerReferences, foreground deletion, namespace cleanup).

use std::time::Instant;

use serde_json::{Value, json};

use crate::resources::{self, CRD_GROUP, CRD_KIND};
use crate::store::{Key, Store, now_rfc3339};
use crate::writes::{self, Propagation};

/// Annotation: a Job with `"true"` fails (BackoffLimitExceeded).
pub const FAIL_ANNOTATION: &str = "standin.gitops.dev/fail";
/// Annotation: a workload with `"true"` never becomes available (ProgressDeadlineExceeded).
pub const UNHEALTHY_ANNOTATION: &str = "standin.gitops.dev/unhealthy";

const MANAGER: &str = "kube-controller-manager";

/// Runs whatever is due at `now`.
pub(crate) fn run_due(store: &mut Store, now: Instant) {
    let due: Vec<Key> = store.reconcile_due.iter().filter(|(_, t)| **t <= now).map(|(k, _)| k.clone()).collect();
    for key in due {
        store.reconcile_due.remove(&key);
        reconcile(store, &key);
    }
    if store.gc_due.is_some_and(|t| t <= now) {
        store.gc_due = None;
        collect_garbage(store);
    }
}

fn annotation(obj: &Value, name: &str) -> bool {
    obj["metadata"]["annotations"][name] == "true"
}

fn reconcile(store: &mut Store, key: &Key) {
    let Some(obj) = store.get(key).map(|s| s.obj.clone()) else { return };
    if !obj["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let Some(desired) = desired_status(&obj) else { return };
    let status = keep_transition_times(&obj["status"], desired);
    if obj["status"] == status {
        return;
    }
    let Some(kind) = resources::by_group_kind(store, &key.group, &key.kind) else { return };
    // A status the object itself rejects (reject knob) simply stays unwritten, as a failing controller would.
    let _ = writes::status_write(store, &kind, key, &status, MANAGER, false);
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason, "message": message})
}

/// Conditions whose type and status did not change keep their timestamps, so reconciling is idempotent.
fn keep_transition_times(old: &Value, mut desired: Value) -> Value {
    let now = now_rfc3339();
    let old_conditions = old["conditions"].as_array().cloned().unwrap_or_default();
    if let Some(conditions) = desired["conditions"].as_array_mut() {
        for c in conditions {
            let prior = old_conditions.iter().find(|o| o["type"] == c["type"] && o["status"] == c["status"]);
            for field in ["lastTransitionTime", "lastUpdateTime"] {
                c[field] = prior.map_or_else(|| json!(now), |p| p[field].clone());
            }
        }
    }
    for field in ["startTime", "completionTime"] {
        if desired.get(field).is_some() {
            desired[field] = old.get(field).cloned().unwrap_or_else(|| json!(now));
        }
    }
    desired
}

/// Drops zero counters, as the real controllers' omitempty fields do.
fn without_zeros(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| x.as_i64() != Some(0));
    }
    v
}

fn desired_status(obj: &Value) -> Option<Value> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = obj["kind"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let generation = obj["metadata"]["generation"].clone();
    let unhealthy = annotation(obj, UNHEALTHY_ANNOTATION);
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = if unhealthy { 0 } else { replicas };
    let workload_conditions = || {
        if unhealthy {
            json!([
                condition(
                    "Available",
                    false,
                    "MinimumReplicasUnavailable",
                    &format!("{kind} does not have minimum availability.")
                ),
                condition(
                    "Progressing",
                    false,
                    "ProgressDeadlineExceeded",
                    &format!("ReplicaSet \"{name}-standin\" has timed out progressing.")
                ),
            ])
        } else {
            json!([
                condition("Available", true, "MinimumReplicasAvailable", &format!("{kind} has minimum availability.")),
                condition(
                    "Progressing",
                    true,
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet \"{name}-standin\" has successfully progressed.")
                ),
            ])
        }
    };
    let status = match (group, kind) {
        (CRD_GROUP, CRD_KIND) => {
            let spec = &obj["spec"];
            let storage = spec["versions"].as_array().into_iter().flatten().find(|v| v["storage"] == true);
            let mut names = spec["names"].clone();
            if names.is_object() && names["listKind"].is_null() {
                names["listKind"] = json!(format!("{}List", names["kind"].as_str().unwrap_or_default()));
            }
            json!({
                "acceptedNames": names,
                "storedVersions": storage.map(|v| vec![v["name"].clone()]).unwrap_or_default(),
                "conditions": [
                    condition("NamesAccepted", true, "NoConflicts", "no conflicts found"),
                    condition("Established", true, "InitialNamesAccepted", "the initial names have been accepted"),
                ],
            })
        }
        ("apps", "Deployment") => {
            let mut s = without_zeros(json!({
                "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready,
                "availableReplicas": ready, "unavailableReplicas": replicas - ready,
            }));
            s["observedGeneration"] = generation;
            s["conditions"] = workload_conditions();
            s
        }
        ("apps", "ReplicaSet") => {
            let mut s = without_zeros(json!({
                "replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
            }));
            s["observedGeneration"] = generation;
            s["replicas"] = json!(replicas);
            s["conditions"] = workload_conditions();
            s
        }
        ("apps", "StatefulSet") => {
            let mut s = without_zeros(json!({
                "replicas": replicas, "currentReplicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": ready, "availableReplicas": ready,
            }));
            s["observedGeneration"] = generation;
            s["replicas"] = json!(replicas);
            s["currentRevision"] = json!(format!("{name}-standin"));
            s["updateRevision"] = json!(format!("{name}-standin"));
            s["conditions"] = workload_conditions();
            s
        }
        ("apps", "DaemonSet") => {
            let ready = if unhealthy { 0 } else { 1 };
            let mut s = json!({
                "currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0,
                "numberReady": ready, "updatedNumberScheduled": 1, "numberAvailable": ready,
            });
            if unhealthy {
                s["numberUnavailable"] = json!(1);
            }
            s["observedGeneration"] = generation;
            s["conditions"] = workload_conditions();
            s
        }
        ("batch", "Job") => {
            if annotation(obj, FAIL_ANNOTATION) {
                json!({"startTime": "", "failed": 1, "conditions": [
                    condition("FailureTarget", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                    condition("Failed", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                ]})
            } else {
                json!({"startTime": "", "completionTime": "", "succeeded": 1, "conditions": [
                    condition("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods"),
                    condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods"),
                ]})
            }
        }
        ("", "Pod") => {
            let containers: Vec<Value> = obj["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    json!({"name": c["name"], "image": c["image"], "ready": !unhealthy, "started": true,
                        "restartCount": 0, "state": {"running": {"startedAt": obj["metadata"]["creationTimestamp"]}}})
                })
                .collect();
            json!({
                "phase": "Running",
                "startTime": "",
                "podIP": "10.244.0.10",
                "hostIP": "10.0.0.1",
                "containerStatuses": containers,
                "conditions": [
                    condition("PodScheduled", true, "", ""),
                    condition("Initialized", true, "", ""),
                    condition("ContainersReady", !unhealthy, "", ""),
                    condition("Ready", !unhealthy, "", ""),
                ],
            })
        }
        ("", "Namespace") => json!({"phase": "Active"}),
        // No metrics behind it: the autoscaler settles at its minimum, able to scale.
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let at = obj["spec"]["minReplicas"].as_i64().unwrap_or(1);
            json!({
                "currentReplicas": at,
                "desiredReplicas": at,
                "conditions": [
                    condition("AbleToScale", true, "ReadyForNewScale", "recommended size matches current size"),
                    condition("ScalingActive", true, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"),
                    condition("ScalingLimited", false, "DesiredWithinRange", "the desired count is within the acceptable range"),
                ],
            })
        }
        // As if every selected pod were healthy: one disruption allowed.
        ("policy", "PodDisruptionBudget") => json!({
            "observedGeneration": generation,
            "currentHealthy": 2,
            "desiredHealthy": 1,
            "disruptionsAllowed": 1,
            "expectedPods": 2,
            "conditions": [condition("DisruptionAllowed", true, "SufficientPods", "")],
        }),
        ("", "PersistentVolumeClaim") => {
            let mut s = json!({"phase": "Bound"});
            if let Some(modes) = obj["spec"]["accessModes"].as_array() {
                s["accessModes"] = json!(modes);
            }
            if let Some(size) = obj["spec"]["resources"]["requests"]["storage"].as_str() {
                s["capacity"] = json!({"storage": size});
            }
            s
        }
        ("", "Service") if obj["spec"]["type"] == "LoadBalancer" => {
            json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.10", "ipMode": "VIP"}]}})
        }
        _ => return None,
    };
    Some(clean_conditions(status))
}

/// Real conditions omit empty reason/message.
fn clean_conditions(mut status: Value) -> Value {
    if let Some(conditions) = status["conditions"].as_array_mut() {
        for c in conditions.iter_mut().filter_map(Value::as_object_mut) {
            c.retain(|_, v| v != "");
        }
    }
    status
}

/// Garbage collection until nothing more changes: namespace cleanup, CRD instance cleanup,
/// foreground and orphan deletion, and removal of dependents whose owners are all gone.
fn collect_garbage(store: &mut Store) {
    for _ in 0..64 {
        let before = store.rv;
        gc_pass(store);
        if store.rv == before {
            break;
        }
    }
}

fn gc_pass(store: &mut Store) {
    let keys: Vec<Key> = store.objects.keys().cloned().collect();
    let uids: std::collections::HashSet<String> =
        store.objects.values().filter_map(|s| s.obj["metadata"]["uid"].as_str().map(str::to_string)).collect();
    for key in keys {
        let Some(obj) = store.get(&key).map(|s| s.obj.clone()) else { continue };
        let deleting = !obj["metadata"]["deletionTimestamp"].is_null();

        if key.kind == "Namespace" && key.group.is_empty() && deleting {
            let contents: Vec<Key> = store.objects.keys().filter(|k| k.namespace == key.name).cloned().collect();
            if contents.is_empty() {
                store.remove(&key);
            }
            for k in contents {
                writes::delete_key(store, &k, Propagation::Background);
            }
            continue;
        }
        if !resources::defined(store, &key.group, &key.kind) {
            store.remove(&key);
            continue;
        }
        let finalizers = obj["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
        if deleting && finalizers.iter().any(|f| f == "foregroundDeletion") {
            let uid = obj["metadata"]["uid"].as_str().unwrap_or_default().to_string();
            let dependents: Vec<Key> = store
                .objects
                .iter()
                .filter(|(_, s)| writes::owner_uids(&s.obj).any(|u| u == uid))
                .map(|(k, _)| k.clone())
                .collect();
            if dependents.is_empty() {
                let mut o = obj.clone();
                o["metadata"]["finalizers"] =
                    json!(finalizers.into_iter().filter(|f| f != "foregroundDeletion").collect::<Vec<_>>());
                writes::internal_put(store, &key, o);
            }
            for dep in dependents {
                writes::delete_key(store, &dep, Propagation::Background);
            }
            continue;
        }
        if deleting && finalizers.iter().any(|f| f == "orphan") {
            let uid = obj["metadata"]["uid"].as_str().unwrap_or_default().to_string();
            let dependents: Vec<Key> = store
                .objects
                .iter()
                .filter(|(_, s)| writes::owner_uids(&s.obj).any(|u| u == uid))
                .map(|(k, _)| k.clone())
                .collect();
            for dep in dependents {
                let Some(mut o) = store.get(&dep).map(|s| s.obj.clone()) else { continue };
                if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"] != uid.as_str());
                    if refs.is_empty() {
                        o["metadata"].as_object_mut().map(|m| m.remove("ownerReferences"));
                    }
                }
                writes::internal_put(store, &dep, o);
            }
            let mut o = obj.clone();
            o["metadata"]["finalizers"] = json!(finalizers.into_iter().filter(|f| f != "orphan").collect::<Vec<_>>());
            writes::internal_put(store, &key, o);
            continue;
        }
        let owners: Vec<&str> = writes::owner_uids(&obj).collect();
        if owners.is_empty() {
            continue;
        }
        if owners.iter().all(|u| !uids.contains(*u)) {
            writes::delete_key(store, &key, Propagation::Background);
        } else if owners.iter().any(|u| !uids.contains(*u)) {
            let mut o = obj.clone();
            if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| r["uid"].as_str().is_some_and(|u| uids.contains(u)));
            }
            writes::internal_put(store, &key, o);
        }
    }
}
