//! The images an app runs, as Argo CD lists them in an Application's `status.summary.images`
//! (and Argo CD Image Updater reads them there): every container, init container and
//! ephemeral container image of the pod templates among the app's objects, once each, sorted.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Object;

/// Where each kind keeps its pod spec.
fn pod_spec(o: &Object) -> Option<&Value> {
    let v = o.value();
    match (o.group(), o.kind()) {
        ("", "Pod") => v.get("spec"),
        ("batch", "CronJob") => v.pointer("/spec/jobTemplate/spec/template/spec"),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job")
        | ("", "ReplicationController")
        | ("argoproj.io", "Rollout") => v.pointer("/spec/template/spec"),
        _ => None,
    }
}

/// The images of `objects`' pod templates, sorted and each once.
pub fn images(objects: &[Object]) -> Vec<String> {
    let mut out = BTreeSet::new();
    for spec in objects.iter().filter_map(pod_spec) {
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            for c in spec.get(list).and_then(Value::as_array).into_iter().flatten() {
                if let Some(image) = c.get("image").and_then(Value::as_str).filter(|i| !i.is_empty()) {
                    out.insert(image.to_string());
                }
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_of_every_pod_template_once_sorted() {
        let text = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {initContainers: [{name: i, image: busybox:1}], containers: [{name: a, image: 'ghcr.io/o/web:v1'}, {name: b, image: busybox:1}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: alpine:3}]}}}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-workload}
data: {image: nope}
";
        let objects = crate::manifest::parse("t.yaml", text).unwrap();
        assert_eq!(images(&objects), ["alpine:3", "busybox:1", "ghcr.io/o/web:v1"]);
    }
}
