//! `KubeCluster`, the executor and a reconcile pass against a real `kube-apiserver` with etcd and
//! `kube-controller-manager` (the `k8s-testenv` harness, `tools/k8s-testenv`), started once for
//! this binary. The same ground as `kube.rs` covers on the stand-in, proven on the real thing:
//! - discovery, and kinds served or not;
//! - client-side apply: the last-applied annotation, no-op applies, removed fields;
//! - server-side apply: field managers, conflicts (with an update manager), force, dry runs;
//! - deletes with each propagation policy, carried out by the real garbage collector;
//! - `changed` woken by a controller's status write, and not by bookmarks or nothing;
//! - the objects an app tracks (Argo CD annotation, Flux label selector);
//! - a whole sync: a CRD established and waited for, hooks run and deleted, health, a second
//!   pass that finds every object Synced against the server's defaults; a refused object;
//! - recreation on an immutable-field refusal (a Deployment's selector): Flux's force annotation
//!   and `spec.force`, Argo CD's `Force=true` and `Force=true,Replace=true`, dry runs, and the old
//!   object put back when its replacement is refused.
//!
//! Each test works in its own namespace. There is no kubelet: Pods stay Pending unless their
//! namespace carries the harness's pretend-kubelet label ([`KUBELET`]), so tests either scale
//! to zero, use objects no controller gates, or label the namespace.
//!
//! Without `GITOPS_TESTENV` each test says it skipped; with it set, a harness that does not
//! start fails every test.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gitops_core::app::{AppKind, AppSpec, Automated};
use gitops_core::sync::options::Propagation;
use gitops_core::{Object, ResourceKey, manifest};
use gitops_health::HealthChecks;
use gitops_kube::cluster::{Applied, ApplyMode, Cluster, Error};
use gitops_kube::reconcile::{self, DesiredState, Policy, Progress, Rendered, Request, Target};
use gitops_kube::{KubeCluster, executor::Event};
use gitops_standin::testenv::{self, TestEnv};
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::Request as KubeRequest;
use serde_json::{Value, json};

/// The namespace label under which the harness marks Pods as run (Jobs' Pods succeed).
const KUBELET: &str = "k8s-testenv.gitops.dev/kubelet";

fn obj(yaml: &str) -> Object {
    manifest::parse("test", yaml).expect("parses").remove(0)
}

/// The control plane, or `None` (the test is skipped, and says so).
macro_rules! env_or_skip {
    ($name:expr) => {
        match testenv::or_skip($name) {
            Some(env) => env,
            None => return,
        }
    };
}

async fn connect(env: &TestEnv) -> KubeCluster {
    KubeCluster::connect(Some(env.kubeconfig()), None).await.expect("connects")
}

/// A raw kube-rs client, to act as other field managers and controllers would.
async fn client(env: &TestEnv) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(env.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Creates a namespace (labelled for the pretend kubelet when `kubelet`).
async fn namespace(cluster: &KubeCluster, name: &str, kubelet: bool) {
    let labels = if kubelet { format!("{{{KUBELET}: 'true'}}") } else { "{}".into() };
    let ns = obj(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {labels}}}\n"));
    cluster.apply(&ns, ApplyMode::ServerSide { force: true, take_over: false }, false).await.expect("namespace");
}

/// Creates `body` at the collection `path` as field manager `manager` (an Update, as kubectl
/// create or a controller would).
async fn create_as(client: &kube::Client, path: &str, body: &Value, manager: &str) -> Value {
    let pp = PostParams { dry_run: false, field_manager: Some(manager.into()) };
    let req = KubeRequest::new(path).create(&pp, serde_json::to_vec(body).unwrap()).unwrap();
    client.request::<Value>(req).await.unwrap_or_else(|e| panic!("create {path}: {e}"))
}

/// Merge-patches the object `name` at the collection `path` as field manager `manager`.
async fn patch_as(client: &kube::Client, path: &str, name: &str, patch: &Value, manager: &str) -> Value {
    let pp = PatchParams { field_manager: Some(manager.into()), ..Default::default() };
    let req = KubeRequest::new(path).patch(name, &pp, &Patch::Merge(patch)).unwrap();
    client.request::<Value>(req).await.unwrap_or_else(|e| panic!("patch {path}/{name}: {e}"))
}

async fn get(cluster: &KubeCluster, group: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
    cluster.get(&ResourceKey::new(group, kind, ns, name)).await.expect("get").map(Object::into_value)
}

/// Polls `cond` (with `changed` on `key` between looks) until it holds; fails after `secs`.
async fn eventually<F, Fut>(what: &str, secs: u64, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(Instant::now() < deadline, "{what}: not after {secs}s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn app(kind: AppKind, name: &str, ns: &str) -> AppSpec {
    AppSpec { destination_namespace: Some(ns.into()), ..AppSpec::new(kind, name) }
}

fn managers(v: &Value) -> Vec<String> {
    v["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter().filter_map(|m| Some(format!("{}/{}", m["manager"].as_str()?, m["operation"].as_str()?))).collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "current_thread")]
async fn connects_and_discovers_built_in_kinds() {
    let env = env_or_skip!("connects_and_discovers_built_in_kinds");
    let cluster = connect(env).await;
    assert_eq!(cluster.describe(), "kube:testenv");
    let deploy = cluster.resource("apps/v1", "Deployment").await.unwrap().expect("served");
    assert_eq!((deploy.plural.as_str(), deploy.namespaced), ("deployments", true));
    let ns = cluster.resource("v1", "Namespace").await.unwrap().expect("served");
    assert!(!ns.namespaced);
    let crd = cluster.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition").await.unwrap();
    assert!(crd.is_some_and(|c| !c.namespaced));
    assert_eq!(cluster.resource("example.com/v1", "Gadget").await.unwrap(), None);
    assert_eq!(cluster.resource("apps/v1beta1", "Deployment").await.unwrap(), None, "long gone from the server");
    let err = KubeCluster::connect(Some(env.kubeconfig()), Some("nope")).await.expect_err("no such context");
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn client_side_apply_records_what_it_applied_and_removes_what_was_dropped() {
    let env = env_or_skip!("client_side_apply_records_what_it_applied_and_removes_what_was_dropped");
    let cluster = connect(env).await;
    let kube = client(env).await;
    namespace(&cluster, "csa", false).await;
    let v1 =
        obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: csa}\ndata: {a: '1', b: '2'}\n");
    let (applied, stored) = cluster.apply(&v1, ApplyMode::ClientSide, false).await.unwrap();
    assert_eq!(applied, Applied::Created);
    let recorded = stored.annotation(gitops_kube::client_side::LAST_APPLIED).expect("last-applied");
    assert!(recorded.contains(r#""b":"2""#), "{recorded}");
    assert_eq!(stored.api_version(), "v1");
    assert_eq!(managers(stored.value()), ["gitops/Update"]);

    let (again, same) = cluster.apply(&v1, ApplyMode::ClientSide, false).await.unwrap();
    assert_eq!(again, Applied::Unchanged);
    assert_eq!(same.value()["metadata"]["resourceVersion"], stored.value()["metadata"]["resourceVersion"]);

    // Someone else adds a key; the next apply drops `b`: only `b` goes.
    patch_as(&kube, "/api/v1/namespaces/csa/configmaps", "settings", &json!({"data": {"theirs": "t"}}), "kubectl-edit")
        .await;
    let v2 = obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: csa}\ndata: {a: '1'}\n");
    assert_eq!(cluster.apply(&v2, ApplyMode::ClientSide, false).await.unwrap().0, Applied::Configured);
    let live = get(&cluster, "", "ConfigMap", "csa", "settings").await.unwrap();
    assert_eq!(live["data"], json!({"a": "1", "theirs": "t"}));

    // A dry run is validated and merged by the server, and stores nothing.
    let v3 = obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: csa}\ndata: {a: '3'}\n");
    let (_, predicted) = cluster.apply(&v3, ApplyMode::ClientSide, true).await.unwrap();
    assert_eq!(predicted.value()["data"]["a"], "3");
    assert_eq!(get(&cluster, "", "ConfigMap", "csa", "settings").await.unwrap()["data"]["a"], "1");
    let bad = obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad, namespace: csa}\ndata: {'not a key': x}\n");
    let err = cluster.apply(&bad, ApplyMode::ClientSide, true).await.expect_err("invalid");
    assert!(matches!(err, Error::Refused { code: 422, .. }), "{err}");

    // Replace: the object is replaced whole.
    let (applied, replaced) = cluster.apply(&v1, ApplyMode::Replace, false).await.unwrap();
    assert_eq!(applied, Applied::Configured);
    assert_eq!(replaced.value()["data"], json!({"a": "1", "b": "2"}));
}

#[tokio::test(flavor = "current_thread")]
async fn server_side_apply_reports_conflicts_and_forces_only_when_asked() {
    let env = env_or_skip!("server_side_apply_reports_conflicts_and_forces_only_when_asked");
    let cluster = connect(env).await;
    let kube = client(env).await;
    namespace(&cluster, "ssa", false).await;
    create_as(
        &kube,
        "/apis/apps/v1/namespaces/ssa/deployments",
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ssa"},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}}),
        "kubectl",
    )
    .await;
    let desired = obj(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ssa}\nspec:\n  replicas: 5\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n",
    );
    let err = cluster
        .apply(&desired, ApplyMode::ServerSide { force: false, take_over: false }, false)
        .await
        .expect_err("conflict");
    let Error::Conflict { message, .. } = &err else { panic!("{err}") };
    assert!(message.contains(r#"conflict with "kubectl""#) && message.contains(".spec.replicas"), "{message}");
    assert!(err.to_string().contains("Force=true"), "says how to resolve it: {err}");
    let replicas = |v: Option<Value>| v.expect("exists")["spec"]["replicas"].clone();
    assert_eq!(replicas(get(&cluster, "apps", "Deployment", "ssa", "web").await), 3);

    // A dry run changes nothing, even forced; it returns the object as it would be.
    let (_, predicted) =
        cluster.apply(&desired, ApplyMode::ServerSide { force: true, take_over: false }, true).await.unwrap();
    assert_eq!(predicted.value()["spec"]["replicas"], 5);
    assert_eq!(replicas(get(&cluster, "apps", "Deployment", "ssa", "web").await), 3);

    let (applied, stored) =
        cluster.apply(&desired, ApplyMode::ServerSide { force: true, take_over: false }, false).await.unwrap();
    assert_eq!(applied, Applied::ServerSideApplied);
    assert_eq!(stored.value()["spec"]["replicas"], 5);
    assert!(managers(stored.value()).contains(&"gitops/Apply".to_string()), "{:?}", managers(stored.value()));
    // The server defaulted what the manifest left out.
    assert_eq!(stored.value()["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(stored.value()["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");

    // Applying the same again is a no-op for the server: the spec and its generation stay.
    // (Not the resourceVersion: the deployment controller may write the status in between.)
    let (_, again) =
        cluster.apply(&desired, ApplyMode::ServerSide { force: false, take_over: false }, false).await.unwrap();
    assert_eq!(again.value()["metadata"]["generation"], stored.value()["metadata"]["generation"]);
    assert_eq!(again.value()["spec"], stored.value()["spec"]);

    let missing = obj("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: w, namespace: ssa}\n");
    let err = cluster
        .apply(&missing, ApplyMode::ServerSide { force: false, take_over: false }, false)
        .await
        .expect_err("unknown kind");
    assert!(matches!(err, Error::UnknownKind { .. }), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn deletes_follow_the_propagation_policy_through_the_real_garbage_collector() {
    let env = env_or_skip!("deletes_follow_the_propagation_policy_through_the_real_garbage_collector");
    let cluster = connect(env).await;
    let kube = client(env).await;
    namespace(&cluster, "gc", false).await;
    let cms = "/api/v1/namespaces/gc/configmaps";
    let pair = |owner: &'static str, dependent: &'static str| {
        let kube = kube.clone();
        async move {
            let o = create_as(&kube, cms, &json!({"metadata": {"name": owner}}), "test").await;
            let uid = o["metadata"]["uid"].clone();
            create_as(
                &kube,
                cms,
                &json!({"metadata": {"name": dependent,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid}]}}),
                "test",
            )
            .await;
        }
    };
    let key = |n: &str| ResourceKey::new("", "ConfigMap", "gc", n);

    pair("owner", "dependent").await;
    assert!(cluster.delete(&key("owner"), Propagation::Orphan, true).await.unwrap(), "dry run");
    assert!(get(&cluster, "", "ConfigMap", "gc", "owner").await.is_some(), "a dry run deletes nothing");
    assert!(cluster.delete(&key("owner"), Propagation::Orphan, false).await.unwrap());
    eventually("the orphaned owner goes", 60, || async {
        get(&cluster, "", "ConfigMap", "gc", "owner").await.is_none()
    })
    .await;
    let orphan = get(&cluster, "", "ConfigMap", "gc", "dependent").await.expect("orphaned, not deleted");
    assert!(orphan["metadata"].get("ownerReferences").is_none(), "{orphan}");
    assert!(!cluster.delete(&key("owner"), Propagation::Background, false).await.unwrap(), "already gone");

    pair("owner2", "dependent2").await;
    assert!(cluster.delete(&key("owner2"), Propagation::Background, false).await.unwrap());
    eventually("the collector deletes the dependent", 60, || async {
        get(&cluster, "", "ConfigMap", "gc", "dependent2").await.is_none()
    })
    .await;

    // Foreground: the owner stays, being deleted, until the collector removed its dependents.
    pair("owner3", "dependent3").await;
    assert!(cluster.delete(&key("owner3"), Propagation::Foreground, false).await.unwrap());
    if let Some(owner) = get(&cluster, "", "ConfigMap", "gc", "owner3").await {
        assert!(owner["metadata"]["deletionTimestamp"].is_string(), "{owner}");
        assert!(owner["metadata"]["finalizers"].to_string().contains("foregroundDeletion"), "{owner}");
    }
    eventually("a foreground delete finishes", 60, || async {
        get(&cluster, "", "ConfigMap", "gc", "owner3").await.is_none()
            && get(&cluster, "", "ConfigMap", "gc", "dependent3").await.is_none()
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn changed_wakes_on_a_controllers_write_and_not_before() {
    let env = env_or_skip!("changed_wakes_on_a_controllers_write_and_not_before");
    let cluster = connect(env).await;
    namespace(&cluster, "watch", false).await;
    // The deployment controller writes status (and a ReplicaSet) soon after the create.
    let web = obj(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: watch}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n",
    );
    let (_, stored) =
        cluster.apply(&web, ApplyMode::ServerSide { force: false, take_over: false }, false).await.unwrap();
    let rv = gitops_kube::cluster::resource_version(&stored);
    let t = Instant::now();
    cluster.changed(&[(web.key(""), rv)], Duration::from_secs(30)).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(20), "woken by the status update after {:?}", t.elapsed());
    eventually("the controller observes generation 1", 30, || async {
        let live = get(&cluster, "apps", "Deployment", "watch", "web").await.unwrap();
        live.pointer("/status/observedGeneration") == Some(&json!(1))
    })
    .await;

    // Nothing changes: the wait lasts its timeout (bookmarks and the replayed object are no news).
    let live = cluster.get(&web.key("")).await.unwrap().unwrap();
    let t = Instant::now();
    cluster
        .changed(&[(web.key(""), gitops_kube::cluster::resource_version(&live))], Duration::from_secs(3))
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(2900), "no news, yet woken after {:?}", t.elapsed());

    // An object that does not exist yet: its creation wakes the wait.
    let later = obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later, namespace: watch}\n");
    let t = Instant::now();
    let create = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cluster.apply(&later, ApplyMode::ServerSide { force: false, take_over: false }, false).await.unwrap();
    };
    let watched = [(later.key(""), None)];
    let wait = cluster.changed(&watched, Duration::from_secs(20));
    let (waited, ()) = tokio::join!(wait, create);
    waited.unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "woken by the creation after {:?}", t.elapsed());
}

#[tokio::test(flavor = "current_thread")]
async fn an_apps_objects_are_found_by_its_tracking() {
    let env = env_or_skip!("an_apps_objects_are_found_by_its_tracking");
    let cluster = connect(env).await;
    let kube = client(env).await;
    namespace(&cluster, "track", false).await;
    let cms = "/api/v1/namespaces/track/configmaps";
    let cm = |name: &str, meta: Value| {
        let mut m = json!({"name": name});
        m.as_object_mut().unwrap().extend(meta.as_object().unwrap().clone());
        json!({"metadata": m})
    };
    let annotated = json!({"annotations": {"argocd.argoproj.io/tracking-id": "tracker:/ConfigMap:track/tracked"}});
    create_as(&kube, cms, &cm("tracked", annotated), "t").await;
    let elsewhere = json!({"annotations": {"argocd.argoproj.io/tracking-id": "other:/ConfigMap:track/x"}});
    create_as(&kube, cms, &cm("someone-elses", elsewhere), "t").await;
    create_as(&kube, cms, &cm("untracked-desired", json!({})), "t").await;
    create_as(&kube, cms, &cm("flux", json!({"labels": {"kustomize.toolkit.fluxcd.io/name": "tracker"}})), "t").await;
    let desired: HashSet<ResourceKey> = [ResourceKey::new("", "ConfigMap", "track", "untracked-desired")].into();

    let names = |objects: Vec<Object>| objects.iter().map(|o| o.name().to_string()).collect::<Vec<_>>();
    let argo = cluster.live_for(&app(AppKind::ArgoApplication, "tracker", "track"), &desired).await.unwrap();
    assert_eq!(names(argo), ["tracked", "untracked-desired"]);
    let flux = cluster.live_for(&app(AppKind::FluxKustomization, "tracker", "track"), &HashSet::new()).await.unwrap();
    assert_eq!(names(flux), ["flux"]);
}

/// Desired objects given as text.
struct Fixed(String);

impl DesiredState for Fixed {
    fn render(&mut self) -> Result<Rendered, reconcile::RenderError> {
        let objects = manifest::parse("desired.yaml", &self.0).map_err(|e| e.to_string())?;
        Ok(Rendered { revision: "abc123".into(), objects })
    }
}

#[derive(Default)]
struct Log(Vec<Event>);

impl Progress for Log {
    fn planned(&mut self, _plan: &gitops_core::sync::SyncPlan, _syncing: bool) {}
    fn step(&mut self, event: &Event) {
        self.0.push(event.clone());
    }
}

/// A CRD and its resource, hooks as Jobs and a Deployment; Pods "run" (the namespace is
/// labelled for the pretend kubelet), so Jobs complete and the Deployment becomes available.
const SHOP: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {k8s-testenv.gitops.dev/kubelet: "true"}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: gear}
spec: {size: 3}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: HookSucceeded}
spec:
  template: {spec: {restartPolicy: Never, containers: [{name: m, image: 'migrate:1'}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {argocd.argoproj.io/sync-wave: "1"}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'web:1', ports: [{containerPort: 8080}], resources: {limits: {cpu: 500m, memory: 128Mi}}}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: notify
  annotations: {argocd.argoproj.io/hook: PostSync}
spec:
  template: {spec: {restartPolicy: Never, containers: [{name: notify, image: 'notify:1'}]}}
"#;

async fn sync_pass(spec: &AppSpec, desired: &str, cluster: &KubeCluster, request: Request) -> (reconcile::Pass, Log) {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = dir.path().join("status.json");
    let checks = HealthChecks::default();
    let target = Target { cluster, status: &status, health: &checks };
    let mut log = Log::default();
    let pass = reconcile::pass(spec, &mut Fixed(desired.into()), &target, Policy::of(spec), request, &mut log)
        .await
        .expect("a pass");
    (pass, log)
}

#[tokio::test(flavor = "current_thread")]
async fn a_sync_waits_for_crds_runs_hooks_awaits_health_and_then_is_synced() {
    let env = env_or_skip!("a_sync_waits_for_crds_runs_hooks_awaits_health_and_then_is_synced");
    let cluster = connect(env).await;
    let spec = AppSpec {
        automated: Some(Automated { prune: true, self_heal: true, allow_empty: false }),
        ..app(AppKind::ArgoApplication, "shop", "shop")
    };
    let request = Request { sync: true, wave_delay: Some(Duration::from_millis(100)), ..Request::default() };
    let (pass, log) = sync_pass(&spec, SHOP, &cluster, request).await;
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Succeeded", "{op:?}\n{:#?}", log.0);
    let said: Vec<String> =
        log.0.iter().map(|e| format!("{} {}/{}: {}", e.verb, e.key.kind, e.key.name, e.outcome)).collect();
    let at = |needle: &str| {
        said.iter().position(|l| l.starts_with(needle)).unwrap_or_else(|| panic!("{needle} in {said:#?}"))
    };
    assert!(at("hook Job/migrate: created") < at("apply CustomResourceDefinition/widgets.example.com"));
    assert!(at("apply CustomResourceDefinition/widgets.example.com") < at("apply Widget/gear"), "{said:#?}");
    assert!(at("apply Widget/gear") < at("apply Deployment/web"), "waves in order: {said:#?}");
    assert!(at("apply Deployment/web") < at("hook Job/notify"), "PostSync runs after the Deployment is healthy");
    assert!(at("hook Job/notify") < at("delete hook Job/migrate"), "HookSucceeded hooks go after success");
    assert!(get(&cluster, "example.com", "Widget", "shop", "gear").await.is_some());
    eventually("the hook Job deleted by its policy", 30, || async {
        get(&cluster, "batch", "Job", "shop", "migrate").await.is_none()
    })
    .await;
    assert!(get(&cluster, "batch", "Job", "shop", "notify").await.is_some(), "no delete policy: kept");
    let web = get(&cluster, "apps", "Deployment", "shop", "web").await.unwrap();
    assert_eq!(web["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"], "shop:apps/Deployment:shop/web");
    assert!(pass.status.health.to_string().starts_with("Healthy"), "{}", pass.status.health);

    // The second pass finds nothing to do: the server's defaults are no difference.
    let (again, _) = sync_pass(&spec, SHOP, &cluster, Request::default()).await;
    assert!(!again.synced, "{}", again.status.message);
    assert_eq!(
        again.status.sync,
        "Synced",
        "{:#?}",
        again.plan.tasks.iter().filter(|t| t.action != gitops_core::sync::Action::Unchanged).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn without_a_kubelet_a_deployment_stays_progressing_and_a_flux_health_check_times_out() {
    let env = env_or_skip!("without_a_kubelet_a_deployment_stays_progressing_and_a_flux_health_check_times_out");
    let cluster = connect(env).await;
    namespace(&cluster, "nokubelet", false).await;
    let desired = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: nokubelet}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'web:1'}]}
"#;
    let mut spec = app(AppKind::FluxKustomization, "infra", "nokubelet");
    spec.automated = Some(Automated { prune: true, self_heal: true, allow_empty: false });
    spec.rollout.health_checks = vec![ResourceKey::new("apps", "Deployment", "nokubelet", "web")];
    spec.rollout.timeout = Some(Duration::from_secs(3));
    spec.rollout.app_namespace = "flux-system".into();
    let (pass, _) = sync_pass(&spec, desired, &cluster, Request::default()).await;
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Failed", "{op:?}");
    assert!(
        op.message.starts_with(
            "health check failed after 3s: timeout waiting for: [apps/Deployment/nokubelet/web status: 'Progressing'"
        ),
        "{}",
        op.message
    );
    let web = get(&cluster, "apps", "Deployment", "nokubelet", "web").await.expect("applied");
    assert_eq!(web["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "infra");
    assert_eq!(web["status"]["replicas"], 1, "the ReplicaSet made its Pod: {web}");
    assert!(web["status"].get("availableReplicas").is_none(), "no Pod runs: {web}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_object_fails_its_wave_and_later_waves_never_run() {
    let env = env_or_skip!("a_refused_object_fails_its_wave_and_later_waves_never_run");
    let cluster = connect(env).await;
    namespace(&cluster, "refused", true).await;
    // The API server refuses the first ConfigMap (an invalid data key) with 422 Invalid.
    const DESIRED: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: first, annotations: {argocd.argoproj.io/sync-wave: "1"}}
data: {'not a key': x}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: second, annotations: {argocd.argoproj.io/sync-wave: "2"}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: cleanup
  annotations: {argocd.argoproj.io/hook: SyncFail}
spec:
  template: {spec: {restartPolicy: Never, containers: [{name: c, image: 'cleanup:1'}]}}
"#;
    let spec = app(AppKind::ArgoApplication, "refused", "refused");
    let request = Request { sync: true, wave_delay: Some(Duration::ZERO), ..Request::default() };
    let (pass, _) = sync_pass(&spec, DESIRED, &cluster, request).await;
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Failed", "{op:?}");
    let refused = pass.results.iter().find(|r| r.key.name == "first").unwrap();
    assert!(refused.message.contains("not a key"), "the server's reason: {refused:?}");
    assert!(get(&cluster, "", "ConfigMap", "refused", "second").await.is_none(), "wave 2 never ran");
    assert!(op.not_done.iter().any(|n| n.contains("second")), "{op:?}");
    assert!(get(&cluster, "batch", "Job", "refused", "cleanup").await.is_some(), "the SyncFail hook ran");
    assert_eq!(pass.status.sync, "OutOfSync");
}

/// A Deployment in `ns` selecting `app: <selector>` (a selector cannot change once created),
/// with `extra` metadata lines; scaled to zero, so it is healthy with no kubelet and makes no
/// Pods for the controllers to churn on while other tests run.
fn web(ns: &str, selector: &str, extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\n{extra}spec:\n  replicas: 0\n  selector: {{matchLabels: {{app: {selector}}}}}\n  template:\n    metadata: {{labels: {{app: {selector}}}}}\n    spec: {{containers: [{{name: web, image: 'web:1'}}]}}\n"
    )
}

fn uid(v: &Value) -> String {
    v["metadata"]["uid"].as_str().expect("a uid").to_string()
}

/// What the sync said of the Deployment `web`.
fn said_of_web(log: &Log) -> Vec<String> {
    log.0.iter().filter(|e| e.key.kind == "Deployment" && e.key.name == "web").map(|e| e.outcome.clone()).collect()
}

/// A changed `spec.selector` is refused by the API server (422, "field is immutable"): without
/// force the sync fails naming the field; Flux's `kustomize.toolkit.fluxcd.io/force: enabled`
/// deletes the Deployment, waits until it is gone and creates it again (a new uid).
#[tokio::test(flavor = "current_thread")]
async fn flux_force_recreates_a_deployment_whose_selector_changed() {
    let env = env_or_skip!("flux_force_recreates_a_deployment_whose_selector_changed");
    let cluster = connect(env).await;
    namespace(&cluster, "fluxforce", false).await;
    // Flux tracks by label across namespaces: an app name no other test uses, or each would
    // prune the other's Deployment.
    let mut spec = app(AppKind::FluxKustomization, "fluxforce", "fluxforce");
    spec.automated = Some(Automated { prune: true, self_heal: true, allow_empty: false });
    spec.rollout.app_namespace = "flux-system".into();
    let request = || Request { sync: true, wave_delay: Some(Duration::ZERO), ..Request::default() };
    let (pass, log) = sync_pass(&spec, &web("fluxforce", "web", ""), &cluster, request()).await;
    assert_eq!(pass.status.last_operation.as_ref().expect("synced").phase, "Succeeded", "{:#?}", log.0);
    let first = uid(&get(&cluster, "apps", "Deployment", "fluxforce", "web").await.expect("created"));

    let (pass, log) = sync_pass(&spec, &web("fluxforce", "web2", ""), &cluster, request()).await;
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Failed", "without force the refusal stands: {op:?}");
    let refused = pass.results.iter().find(|r| r.key.name == "web").expect("a result");
    assert!(
        refused.message.contains("spec.selector") && refused.message.contains("field is immutable"),
        "the server's words: {refused:?}"
    );
    assert!(said_of_web(&log).iter().all(|s| !s.contains("recreated")), "{:?}", said_of_web(&log));
    assert_eq!(uid(&get(&cluster, "apps", "Deployment", "fluxforce", "web").await.unwrap()), first, "untouched");

    // A dry run says what would happen and deletes nothing.
    let forced = web("fluxforce", "web2", "  annotations: {kustomize.toolkit.fluxcd.io/force: enabled}\n");
    let dry = Request { dry_run: true, ..request() };
    let (_, log) = sync_pass(&spec, &forced, &cluster, dry).await;
    let said = said_of_web(&log);
    assert!(said.iter().any(|s| s.starts_with("would be recreated (dry run; immutable field changed: ")), "{said:?}");
    assert_eq!(uid(&get(&cluster, "apps", "Deployment", "fluxforce", "web").await.unwrap()), first, "a dry run");

    let (pass, log) = sync_pass(&spec, &forced, &cluster, request()).await;
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Succeeded", "{op:?}\n{:#?}", log.0);
    let said = said_of_web(&log);
    assert!(
        said.iter().any(|s| s.starts_with("recreated (immutable field changed: ") && s.contains("field is immutable")),
        "{said:?}"
    );
    let live = get(&cluster, "apps", "Deployment", "fluxforce", "web").await.expect("created again");
    assert_ne!(uid(&live), first, "a new object");
    assert_eq!(live["spec"]["selector"]["matchLabels"]["app"], "web2");
    assert_eq!(live["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "fluxforce", "tracked as before");

    // The Kustomization's `spec.force: true` does the same for every object.
    spec.rollout.force = true;
    let (pass, log) = sync_pass(&spec, &web("fluxforce", "web3", ""), &cluster, request()).await;
    assert_eq!(pass.status.last_operation.as_ref().expect("synced").phase, "Succeeded", "{:#?}", log.0);
    assert!(said_of_web(&log).iter().any(|s| s.starts_with("recreated (")), "{:?}", said_of_web(&log));
    let again = get(&cluster, "apps", "Deployment", "fluxforce", "web").await.expect("created again");
    assert_ne!(uid(&again), uid(&live));

    // Flux's rule takes any 422 for an immutable field: an invalid value deletes the object too,
    // and its replacement is refused; the old object is then created again, as kubectl does.
    let invalid = web("fluxforce", "web4", "").replace("image: 'web:1'", "image: 'web:1', imagePullPolicy: Sometimes");
    let (pass, log) = sync_pass(&spec, &invalid, &cluster, request()).await;
    assert_eq!(pass.status.last_operation.as_ref().expect("synced").phase, "Failed", "{:#?}", log.0);
    let said = said_of_web(&log);
    assert!(
        said.iter().any(|s| s.contains("but creating it failed") && s.ends_with("the old object was created again")),
        "{said:?}"
    );
    let restored = get(&cluster, "apps", "Deployment", "fluxforce", "web").await.expect("put back");
    assert_eq!(restored["spec"]["selector"]["matchLabels"]["app"], "web3", "the old object");
}

/// Argo CD: no option, the refusal stands; `Force=true` (client-side apply) recreates on the
/// refusal as `kubectl apply --force` does; `Force=true,Replace=true` is `kubectl replace
/// --force`, delete then create.
#[tokio::test(flavor = "current_thread")]
async fn argo_force_recreates_a_deployment_whose_selector_changed() {
    let env = env_or_skip!("argo_force_recreates_a_deployment_whose_selector_changed");
    let cluster = connect(env).await;
    namespace(&cluster, "argoforce", false).await;
    let with = |options: &[&str]| AppSpec {
        sync_options: options.iter().map(|o| o.to_string()).collect(),
        ..app(AppKind::ArgoApplication, "forced", "argoforce")
    };
    let request = || Request { sync: true, wave_delay: Some(Duration::ZERO), ..Request::default() };
    let live_uid = || async { uid(&get(&cluster, "apps", "Deployment", "argoforce", "web").await.expect("there")) };
    let (pass, log) = sync_pass(&with(&[]), &web("argoforce", "web", ""), &cluster, request()).await;
    assert_eq!(pass.status.last_operation.as_ref().expect("synced").phase, "Succeeded", "{:#?}", log.0);
    let first = live_uid().await;

    let (pass, _) = sync_pass(&with(&[]), &web("argoforce", "web2", ""), &cluster, request()).await;
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Failed", "{op:?}");
    let refused = pass.results.iter().find(|r| r.key.name == "web").expect("a result");
    assert!(refused.message.contains("field is immutable"), "{refused:?}");
    assert_eq!(live_uid().await, first);

    // With server-side apply, Force=true only takes over fields: the refusal stands.
    let ssa = with(&["ServerSideApply=true", "Force=true"]);
    let (pass, _) = sync_pass(&ssa, &web("argoforce", "web2", ""), &cluster, request()).await;
    assert_eq!(pass.status.last_operation.as_ref().expect("synced").phase, "Failed");
    assert_eq!(live_uid().await, first);

    let (pass, log) = sync_pass(&with(&["Force=true"]), &web("argoforce", "web2", ""), &cluster, request()).await;
    assert_eq!(pass.status.last_operation.as_ref().expect("synced").phase, "Succeeded", "{:#?}", log.0);
    assert!(
        said_of_web(&log).iter().any(|s| s.starts_with("recreated (immutable field changed: ")),
        "{:?}",
        said_of_web(&log)
    );
    let second = live_uid().await;
    assert_ne!(second, first);

    let replace = with(&["Force=true", "Replace=true"]);
    let (pass, log) = sync_pass(&replace, &web("argoforce", "web3", ""), &cluster, request()).await;
    assert_eq!(pass.status.last_operation.as_ref().expect("synced").phase, "Succeeded", "{:#?}", log.0);
    assert!(said_of_web(&log).contains(&"recreated (Replace=true, Force=true)".to_string()), "{:?}", said_of_web(&log));
    let third = get(&cluster, "apps", "Deployment", "argoforce", "web").await.expect("there");
    assert_ne!(uid(&third), second);
    assert_eq!(third["spec"]["selector"]["matchLabels"]["app"], "web3");
    assert_eq!(
        third["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"],
        "forced:apps/Deployment:argoforce/web"
    );
}

/// Flux applies server-side and first takes over what kubectl left (its last-applied record,
/// the fields its managers own), so a key Git dropped goes; `ssa: Merge` leaves kubectl's fields
/// alone. Drift is found by server-side dry runs, so a second pass applies nothing.
#[tokio::test(flavor = "current_thread")]
async fn flux_takes_over_what_kubectl_applied_unless_merge() {
    let env = env_or_skip!("flux_takes_over_what_kubectl_applied_unless_merge");
    let cluster = connect(env).await;
    let raw = client(env).await;
    namespace(&cluster, "fluxssa", false).await;
    let path = "/api/v1/namespaces/fluxssa/configmaps";
    // As `kubectl apply` made them: the record, and kubectl's manager owning every key.
    for (name, data) in [("cfg", json!({"a": "1", "b": "2"})), ("kept", json!({"a": "1", "extra": "x"}))] {
        let record = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "fluxssa"}, "data": data});
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {"kubectl.kubernetes.io/last-applied-configuration": record.to_string()}},
            "data": data});
        create_as(&raw, path, &body, "kubectl-client-side-apply").await;
    }
    let desired = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: fluxssa}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kept, namespace: fluxssa, annotations: {kustomize.toolkit.fluxcd.io/ssa: Merge}}
data: {a: "1"}
"#;
    let mut spec = app(AppKind::FluxKustomization, "fluxssa", "fluxssa");
    spec.automated = Some(Automated { prune: true, self_heal: true, allow_empty: false });
    spec.rollout.app_namespace = "flux-system".into();
    let request =
        || Request { sync: true, server_side_diff: true, wave_delay: Some(Duration::ZERO), ..Request::default() };
    let (pass, log) = sync_pass(&spec, desired, &cluster, request()).await;
    assert_eq!(pass.status.last_operation.as_ref().expect("synced").phase, "Succeeded", "{:#?}", log.0);

    let cfg = get(&cluster, "", "ConfigMap", "fluxssa", "cfg").await.expect("cfg");
    assert_eq!(cfg["data"], json!({"a": "1"}), "the key Git dropped is gone");
    assert!(
        cfg["metadata"]["annotations"].get("kubectl.kubernetes.io/last-applied-configuration").is_none(),
        "{cfg:#}"
    );
    assert_eq!(managers(&cfg), ["gitops/Apply"], "{cfg:#}");

    let kept = get(&cluster, "", "ConfigMap", "fluxssa", "kept").await.expect("kept");
    assert_eq!(kept["data"], json!({"a": "1", "extra": "x"}), "Merge keeps kubectl's key");
    assert!(kept["metadata"]["annotations"].get("kubectl.kubernetes.io/last-applied-configuration").is_some());
    assert!(managers(&kept).contains(&"kubectl-client-side-apply/Update".to_string()), "{kept:#}");

    // The second pass finds both in sync and writes nothing.
    let versions =
        |a: &Value, b: &Value| (a["metadata"]["resourceVersion"].clone(), b["metadata"]["resourceVersion"].clone());
    let before = versions(&cfg, &kept);
    let (pass, log) = sync_pass(&spec, desired, &cluster, request()).await;
    assert_eq!(pass.status.sync, gitops_core::sync::status::SyncStatus::Synced, "{:#?}", log.0);
    let applied: Vec<_> = log
        .0
        .iter()
        .filter(|e| e.verb == "apply" && e.outcome != "unchanged")
        .map(|e| (&e.key.name, &e.outcome))
        .collect();
    assert!(applied.is_empty(), "nothing applied the second time: {applied:?}");
    let cfg = get(&cluster, "", "ConfigMap", "fluxssa", "cfg").await.unwrap();
    let kept = get(&cluster, "", "ConfigMap", "fluxssa", "kept").await.unwrap();
    assert_eq!(versions(&cfg, &kept), before);
}
