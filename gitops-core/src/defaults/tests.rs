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
    expected["tolerations"] = default_tolerations();
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
                    {"name": "h", "hostPath": {"path": "/x", "type": "Directory"}}],
        "tolerations": [{"operator": "Exists"}]
    });
    check("", "v1", "Pod", json!({"spec": spec}), json!({"spec": spec}));
}

/// The two tolerations `DefaultTolerationSeconds` appends, in its order.
fn default_tolerations() -> Value {
    json!([
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    ])
}

#[test]
fn pod_default_toleration_seconds() {
    let tolerations = |input: Value| {
        defaulted("", "v1", "Pod", json!({"spec": {"tolerations": input}}))["spec"]["tolerations"].clone()
    };
    // Appended after the user's own, which stay first and as written (the list is atomic, so
    // a manifest with tolerations must predict the server's whole list).
    let user = json!({"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"});
    let mut expected = vec![user.clone()];
    expected.extend(default_tolerations().as_array().unwrap().iter().cloned());
    assert_eq!(tolerations(json!([user])), json!(expected));
    assert_eq!(tolerations(Value::Null), default_tolerations());
    // A toleration for the taint, with NoExecute or any effect, or one for every key, suffices.
    let not_ready = json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 30});
    assert_eq!(tolerations(json!([not_ready])), json!([not_ready, default_tolerations()[1]]));
    let everything = json!([{"operator": "Exists"}]);
    assert_eq!(tolerations(everything.clone()), everything);
    let any_key_no_execute = json!([{"operator": "Exists", "effect": "NoExecute"}]);
    assert_eq!(tolerations(any_key_no_execute.clone()), any_key_no_execute);
    // Another effect does not count for the taint.
    let no_schedule = json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"});
    assert_eq!(
        tolerations(json!([no_schedule])),
        json!([no_schedule, default_tolerations()[0], default_tolerations()[1]])
    );
    // Only Pods: the plugin admits Pods, not the templates of workloads.
    let template = defaulted("", "v1", "PodTemplate", json!({"template": {"spec": {}}}));
    assert_eq!(template["template"]["spec"].get("tolerations"), None);
    // Not a list: left for validation.
    assert_eq!(tolerations(json!("x")), json!("x"));
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
    let out =
        defaulted("batch", "v1", "CronJob", json!({"spec": {"jobTemplate": {"spec": {"template": template_in()}}}}));
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
    let out = defaulted("apps", "v1", "StatefulSet", json!({"spec": {"updateStrategy": {"type": "RollingUpdate"}}}));
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
fn mutating_admission_policies() {
    // Rules without a scope were OutOfSync against the server's `scope: "*"`.
    check(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingAdmissionPolicy",
        json!({"spec": {"reinvocationPolicy": "Never",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["configmaps"]}]},
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": "[]"}}]}}),
        json!({"spec": {
            "reinvocationPolicy": "Never",
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                   "resources": ["configmaps"], "scope": "*"}],
                "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}
            },
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": "[]"}}]
        }}),
    );
    check(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingAdmissionPolicyBinding",
        json!({"spec": {"policyName": "p", "matchResources": {"excludeResourceRules": [{"resources": ["pods"]}]}}}),
        json!({"spec": {"policyName": "p", "matchResources": {
            "excludeResourceRules": [{"resources": ["pods"], "scope": "*"}],
            "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}
        }}}),
    );
    // Values the user set stay, and the alpha and beta versions are not touched.
    let set = json!({"spec": {"failurePolicy": "Ignore", "reinvocationPolicy": "IfNeeded",
        "matchConstraints": {"resourceRules": [{"scope": "Namespaced"}], "matchPolicy": "Exact",
            "namespaceSelector": {"matchLabels": {"a": "b"}}, "objectSelector": {}}}});
    check("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicy", set.clone(), set);
    let beta = json!({"spec": {"matchConstraints": {"resourceRules": [{"resources": ["pods"]}]}}});
    check("admissionregistration.k8s.io", "v1beta1", "MutatingAdmissionPolicy", beta.clone(), beta);
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
            {"name": "gpu", "exactly": {"deviceClassName": "gpu", "allocationMode": "ExactCount", "count": 1,
                "tolerations": [{"key": "k", "operator": "Exists"}, {"key": "k2", "value": "v", "operator": "Equal"}]}},
            {"name": "any", "firstAvailable": [{"name": "a", "deviceClassName": "x", "allocationMode": "ExactCount", "count": 1,
                "tolerations": [{"key": "k", "operator": "Equal"}]}]}
        ]}}}}),
    );
    check(
        "resource.k8s.io",
        "v1beta1",
        "ResourceClaim",
        json!({"spec": {"devices": {"requests": [{"name": "gpu", "deviceClassName": "gpu", "tolerations": [{"key": "k"}]}]}}}),
        json!({"spec": {"devices": {"requests": [{"name": "gpu", "deviceClassName": "gpu", "allocationMode": "ExactCount", "count": 1,
            "tolerations": [{"key": "k", "operator": "Equal"}]}]}}}),
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
fn device_request_allocation_mode() {
    // v1 and v1beta2: on `exactly` and on each alternative; `count` only for ExactCount, and
    // a count the user set (not zero) stays.
    for version in ["v1", "v1beta2"] {
        check(
            "resource.k8s.io",
            version,
            "ResourceClaim",
            json!({"spec": {"devices": {"requests": [
                {"name": "a", "exactly": {"deviceClassName": "c"}},
                {"name": "b", "exactly": {"deviceClassName": "c", "allocationMode": "All"}},
                {"name": "c", "exactly": {"deviceClassName": "c", "count": 3}},
                {"name": "d", "firstAvailable": [{"name": "x", "deviceClassName": "c"}, {"name": "y", "deviceClassName": "c", "allocationMode": "All"}]}
            ]}}}),
            json!({"spec": {"devices": {"requests": [
                {"name": "a", "exactly": {"deviceClassName": "c", "allocationMode": "ExactCount", "count": 1}},
                {"name": "b", "exactly": {"deviceClassName": "c", "allocationMode": "All"}},
                {"name": "c", "exactly": {"deviceClassName": "c", "count": 3, "allocationMode": "ExactCount"}},
                {"name": "d", "firstAvailable": [
                    {"name": "x", "deviceClassName": "c", "allocationMode": "ExactCount", "count": 1},
                    {"name": "y", "deviceClassName": "c", "allocationMode": "All"}
                ]}
            ]}}}),
        );
    }
    // v1beta1: the request itself, only when it names a class (otherwise it has alternatives,
    // and the mode belongs to them); v1's `exactly`-less request is not touched.
    check(
        "resource.k8s.io",
        "v1beta1",
        "ResourceClaim",
        json!({"spec": {"devices": {"requests": [{"name": "d", "firstAvailable": [{"name": "x", "deviceClassName": "c"}]}]}}}),
        json!({"spec": {"devices": {"requests": [{"name": "d", "firstAvailable": [
            {"name": "x", "deviceClassName": "c", "allocationMode": "ExactCount", "count": 1}
        ]}]}}}),
    );
    let flat = json!({"spec": {"devices": {"requests": [{"name": "a", "deviceClassName": "c"}]}}});
    check("resource.k8s.io", "v1", "ResourceClaim", flat.clone(), flat);
}

#[test]
fn endpoint_slice_conditions() {
    // The struct is always served; `endpoints` is atomic, so a manifest's list must predict it.
    check(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        json!({"addressType": "IPv4", "endpoints": [
            {"addresses": ["10.0.0.1"]},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}}
        ]}),
        json!({"addressType": "IPv4", "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}}
        ]}),
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
    ("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicyBinding"),
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
