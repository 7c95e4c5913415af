//! An empirical audit of `gitops_core::defaults` against a real `kube-apiserver` (the
//! `k8s-testenv` harness): every manifest in `tests/fixtures/defaults/` is created with
//! `?dryRun=All`, so the server decodes, defaults and admits it and answers with what it would
//! store, and that answer (live) is compared with the manifest (desired). Argo CD calls such a
//! pair Synced; a diff that says OutOfSync there is a false alarm a user would see after every
//! sync. The table in `shared/data/k8s-defaults.md` was written from reading the server's code;
//! this binary checks it against the server itself.
//!
//! Each pair is compared two-way and three-way (with the manifest as the last-applied
//! annotation, as a client-side apply leaves it). Then every fixture is created for real, read
//! back and deleted, and what the GET returned is compared the same way.
//!
//! All fixtures are compared before anything fails, and the one failure lists every pair that
//! was not Synced (kind, file, changed paths, the patch), so a run shows the whole picture.
//!
//! Negative cases keep the diff honest: the server's answer is then changed in a field the
//! manifest set, and that must be OutOfSync.
//!
//! Without `GITOPS_TESTENV` the test says it skipped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gitops_core::diff::{Comparator, DiffConfig, SyncStatus};
use gitops_core::object::Origin;
use gitops_core::{Object, manifest};
use gitops_kube::KubeCluster;
use gitops_kube::client_side::LAST_APPLIED;
use gitops_kube::cluster::Cluster;
use gitops_standin::testenv;
use kube::api::{DeleteParams, PostParams};
use kube::core::Request as KubeRequest;
use serde_json::{Value, json};

/// The namespace the namespaced fixtures are created in (a dry run stores nothing, but
/// admission still needs the namespace and its `default` ServiceAccount to exist).
const NAMESPACE: &str = "defaults-audit";

/// Every fixture, sorted by file name, with the objects it holds.
fn fixtures() -> Vec<(String, Vec<Object>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/defaults");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("fixture readable");
            let objects = manifest::parse(&name, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, objects)
        })
        .collect()
}

/// A raw kube-rs client: the dry-run create is a plain POST.
async fn client(env: &testenv::TestEnv) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(env.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Creates the audit namespace (if absent) and waits for the controller-manager to give it the
/// `default` ServiceAccount, without which the ServiceAccount admission plugin refuses Pods.
async fn prepare_namespace(client: &kube::Client) {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    let req = KubeRequest::new("/api/v1/namespaces")
        .create(&PostParams::default(), serde_json::to_vec(&ns).unwrap())
        .unwrap();
    match client.request::<Value>(req).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("create namespace {NAMESPACE}: {e}"),
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let req = KubeRequest::new(format!("/api/v1/namespaces/{NAMESPACE}/serviceaccounts"))
            .get("default", &Default::default());
        if client.request::<Value>(req.unwrap()).await.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "no default ServiceAccount in {NAMESPACE} after 60s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The collection URL of a kind, or `None` when the server does not serve it.
async fn collection(cluster: &KubeCluster, object: &Object) -> Option<String> {
    let resource = cluster.resource(object.api_version(), object.kind()).await.expect("discovery")?;
    let prefix = if object.group().is_empty() {
        format!("/api/{}", object.api_version())
    } else {
        format!("/apis/{}", object.api_version())
    };
    Some(if resource.namespaced {
        format!("{prefix}/namespaces/{NAMESPACE}/{}", resource.plural)
    } else {
        format!("{prefix}/{}", resource.plural)
    })
}

/// What the server would store for `object`: a create with `dryRun=All`.
async fn dry_run_create(client: &kube::Client, url: &str, object: &Object) -> Result<Value, String> {
    let params = PostParams { dry_run: true, field_manager: Some("defaults-audit".into()) };
    let req = KubeRequest::new(url).create(&params, serde_json::to_vec(object.value()).unwrap()).unwrap();
    client.request::<Value>(req).await.map_err(|e| e.to_string())
}

/// Creates `object` for real, reads it back as a sync would find it, and deletes it again, so
/// that no fixture (a LimitRange, a ResourceQuota) changes how the next one is admitted.
async fn create_and_read_back(client: &kube::Client, url: &str, object: &Object) -> Result<Value, String> {
    let params = PostParams { dry_run: false, field_manager: Some("defaults-audit".into()) };
    let req = KubeRequest::new(url).create(&params, serde_json::to_vec(object.value()).unwrap()).unwrap();
    client.request::<Value>(req).await.map_err(|e| format!("create: {e}"))?;
    let read = KubeRequest::new(url).get(object.name(), &Default::default()).unwrap();
    let live = client.request::<Value>(read).await.map_err(|e| format!("get: {e}"));
    let delete = KubeRequest::new(url).delete(object.name(), &DeleteParams::background()).unwrap();
    client.request::<Value>(delete).await.map_err(|e| format!("delete: {e}"))?;
    live
}

/// A field the manifest set, and a value that differs from it: changing live there must show.
struct Negative {
    file: &'static str,
    pointer: &'static str,
    value: Value,
}

/// The negative cases: user-set fields of several kinds, in lists and in nested structs.
fn negatives() -> Vec<Negative> {
    let neg = |file, pointer, value| Negative { file, pointer, value };
    vec![
        neg("apps-deployment.yaml", "/spec/replicas", json!(7)),
        neg("apps-deployment.yaml", "/spec/template/spec/containers/0/image", json!("nginx:1.0")),
        neg("core-service-clusterip.yaml", "/spec/ports/0/targetPort", json!(9999)),
        neg("core-pod-probes.yaml", "/spec/containers/0/readinessProbe/httpGet/path", json!("/other")),
        neg("admissionregistration-validatingwebhook.yaml", "/webhooks/0/rules/0/operations/0", json!("DELETE")),
        neg("autoscaling-hpa-v2-behavior.yaml", "/spec/maxReplicas", json!(99)),
        neg("rbac-clusterrole.yaml", "/rules/0/verbs/0", json!("delete")),
        neg("storage-storageclass.yaml", "/parameters/type", json!("gp2")),
        neg("core-configmap.yaml", "/data/mode", json!("changed")),
        neg("core-pod-security.yaml", "/spec/tolerations/0/value", json!("db")),
        neg("discovery-endpointslice.yaml", "/endpoints/0/addresses/0", json!("10.9.9.9")),
        neg(
            "resource-resourceclaim.yaml",
            "/spec/devices/requests/0/exactly/deviceClassName",
            json!("fpga.example.com"),
        ),
    ]
}

/// A field only live has (`spec.minReadySeconds`, set by someone else) is no difference, as in
/// Argo CD; once the last-applied annotation says the manifest had set it, dropping it from the
/// manifest is one.
fn only_live_fields(comparator: &Comparator, desired: &Object, live: &Value) -> Result<(), String> {
    let mut theirs = live.clone();
    theirs["spec"]["minReadySeconds"] = json!(5);
    let compare = |live: Value| {
        let live = Object::new(live, Origin::inline("changed dry run"));
        comparator.compare(Some(desired), Some(&live)).map(|d| d.status).map_err(|e| e.to_string())
    };
    let status = compare(theirs.clone())?;
    if status != SyncStatus::Synced {
        return Err(format!("a field only live has: {status:?}, not Synced"));
    }
    let mut recorded = desired.value().clone();
    recorded["spec"]["minReadySeconds"] = json!(5);
    theirs["metadata"]["annotations"] = json!({LAST_APPLIED: serde_json::to_string(&recorded).unwrap()});
    let status = compare(theirs)?;
    if status != SyncStatus::OutOfSync {
        return Err(format!("a field last-applied set and the manifest dropped: {status:?}, not OutOfSync"));
    }
    Ok(())
}

/// One pair that was not what it should be, described for the failure message.
fn describe(file: &str, object: &Object, what: &str, diff: &gitops_core::ObjectDiff) -> String {
    let patch = serde_json::to_string(&diff.patch).unwrap_or_default();
    format!(
        "{file}: {} {} {what}: {:?}\n    changed: {:?}\n    patch: {patch}",
        object.api_version(),
        object.kind(),
        diff.status,
        diff.changed_paths()
    )
}

#[tokio::test(flavor = "current_thread")]
async fn every_fixture_is_synced_against_what_the_server_would_store() {
    let Some(env) = testenv::or_skip("every_fixture_is_synced_against_what_the_server_would_store") else {
        return;
    };
    let cluster = KubeCluster::connect(Some(env.kubeconfig()), None).await.expect("connects");
    let client = client(env).await;
    prepare_namespace(&client).await;
    let comparator = Comparator::new(DiffConfig { namespace: NAMESPACE.into(), ..DiffConfig::default() }).unwrap();
    let negatives = negatives();

    let mut failures = Vec::new();
    let mut not_served = Vec::new();
    let mut compared = 0;
    let mut negatives_checked = 0;
    for (file, objects) in fixtures() {
        for object in objects {
            let Some(url) = collection(&cluster, &object).await else {
                not_served.push(format!("{file}: {} {}", object.api_version(), object.kind()));
                continue;
            };
            let live = match dry_run_create(&client, &url, &object).await {
                Ok(live) => live,
                Err(e) => {
                    failures.push(format!("{file}: {} {} refused: {e}", object.api_version(), object.kind()));
                    continue;
                }
            };
            compared += 1;
            // Compared two-way (as created by `kubectl create` or server-side apply) and
            // three-way (as left by a client-side apply, which records the manifest in the
            // last-applied annotation): both must find nothing.
            let mut applied = live.clone();
            if let Some(Value::Object(metadata)) = applied.get_mut("metadata") {
                let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
                if let Value::Object(annotations) = annotations {
                    let recorded = serde_json::to_string(object.value()).unwrap();
                    annotations.insert(LAST_APPLIED.into(), Value::String(recorded));
                }
            }
            for (how, live) in [("two-way", &live), ("three-way", &applied)] {
                let live_object = Object::new(live.clone(), Origin::inline("dry-run create"));
                match comparator.compare(Some(&object), Some(&live_object)) {
                    Ok(diff) if diff.status == SyncStatus::Synced => {}
                    Ok(diff) => failures.push(describe(&file, &object, &format!("against its dry run ({how})"), &diff)),
                    Err(e) => failures.push(format!("{file}: compare failed: {e}")),
                }
            }
            for negative in negatives.iter().filter(|n| n.file == file) {
                negatives_checked += 1;
                let mut changed = live.clone();
                match changed.pointer_mut(negative.pointer) {
                    Some(slot) => *slot = negative.value.clone(),
                    None => {
                        failures.push(format!("{file}: negative case: live has no {}", negative.pointer));
                        continue;
                    }
                }
                let changed = Object::new(changed, Origin::inline("changed dry run"));
                match comparator.compare(Some(&object), Some(&changed)) {
                    Ok(diff) if diff.status == SyncStatus::OutOfSync => {}
                    Ok(diff) => {
                        failures.push(describe(&file, &object, &format!("with {} changed", negative.pointer), &diff))
                    }
                    Err(e) => failures.push(format!("{file}: compare failed: {e}")),
                }
            }
            if file == "apps-deployment.yaml" {
                negatives_checked += 1;
                if let Err(e) = only_live_fields(&comparator, &object, &live) {
                    failures.push(format!("{file}: {e}"));
                }
            }
        }
    }
    // The same objects created for real and read back, as the issue reports them: what a GET
    // returns after a sync must compare Synced too (controllers may have added to it by then;
    // what only live has is no difference).
    let mut read_back = 0;
    for (file, objects) in fixtures() {
        for object in objects {
            let Some(url) = collection(&cluster, &object).await else {
                continue;
            };
            match create_and_read_back(&client, &url, &object).await {
                Ok(live) => {
                    read_back += 1;
                    let live = Object::new(live, Origin::inline("read back"));
                    match comparator.compare(Some(&object), Some(&live)) {
                        Ok(diff) if diff.status == SyncStatus::Synced => {}
                        Ok(diff) => failures.push(describe(&file, &object, "read back after a create", &diff)),
                        Err(e) => failures.push(format!("{file}: compare failed: {e}")),
                    }
                }
                Err(e) => failures.push(format!("{file}: {} {} {e}", object.api_version(), object.kind())),
            }
        }
    }
    eprintln!(
        "defaults audit: {compared} objects compared to their dry run, {read_back} read back, \
         {negatives_checked} negative cases"
    );
    if !not_served.is_empty() {
        eprintln!("not served by this server (skipped):\n  {}", not_served.join("\n  "));
    }
    assert_eq!(negatives_checked, negatives.len() + 1, "a negative case names a fixture that is missing or not served");
    assert!(failures.is_empty(), "{} of the audit's checks failed:\n{}", failures.len(), failures.join("\n"));
}
