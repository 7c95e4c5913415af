//! `KubeCluster`, the executor and a reconcile pass, through kube-rs's real client against the
//! in-process API server stand-in (real HTTP on 127.0.0.1).
//!
//! Contents:
//! - connection and discovery: kubeconfig contexts, kinds served or not;
//! - client-side apply: the last-applied annotation, no-op applies, removed fields;
//! - server-side apply: the field manager, conflicts, force, dry runs;
//! - deletes with each propagation policy, and `changed` waking on a watch event;
//! - the objects an app tracks (Argo CD annotation, Flux label selector);
//! - a whole sync: a CRD waited for, hooks run and deleted, health awaited, a failing wave;
//! - a real cluster, when `GITOPS_TEST_KUBECONFIG` is set.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gitops_core::app::{AppKind, AppSpec, Automated};
use gitops_core::sync::options::Propagation;
use gitops_core::{Object, ResourceKey, manifest};
use gitops_health::HealthChecks;
use gitops_kube::cluster::{Applied, ApplyMode, Cluster, Error};
use gitops_kube::reconcile::{self, DesiredState, Policy, Progress, Rendered, Request, Target};
use gitops_kube::{KubeCluster, executor::Event};
use gitops_standin::ApiServer;
use serde_json::{Value, json};

fn obj(yaml: &str) -> Object {
    manifest::parse("test", yaml).expect("parses").remove(0)
}

async fn connect(server: &ApiServer) -> (KubeCluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, server.kubeconfig("standin", "default")).expect("write kubeconfig");
    let cluster = KubeCluster::connect(Some(&path), Some("standin")).await.expect("connects");
    (cluster, dir)
}

fn namespace(server: &ApiServer, name: &str) {
    server.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}), "test");
}

fn app(kind: AppKind, name: &str) -> AppSpec {
    AppSpec { destination_namespace: Some("shop".into()), ..AppSpec::new(kind, name) }
}

#[tokio::test(flavor = "current_thread")]
async fn connects_through_a_kubeconfig_context_and_discovers_kinds() {
    let server = ApiServer::start();
    let (cluster, dir) = connect(&server).await;
    assert_eq!(cluster.describe(), "kube:standin");
    let path = dir.path().join("kubeconfig");
    assert_eq!(KubeCluster::context_name(Some(&path), None).unwrap(), "standin");
    let deploy = cluster.resource("apps/v1", "Deployment").await.unwrap().expect("served");
    assert_eq!((deploy.plural.as_str(), deploy.namespaced), ("deployments", true));
    let ns = cluster.resource("v1", "Namespace").await.unwrap().expect("served");
    assert!(!ns.namespaced);
    assert_eq!(cluster.resource("example.com/v1", "Widget").await.unwrap(), None);
    let err = KubeCluster::connect(Some(&path), Some("nope")).await.expect_err("no such context");
    assert!(matches!(err, Error::Config(_)), "{err}");
    // Discovery is cached: asking again for a served kind sends no request.
    server.clear_requests();
    cluster.resource("apps/v1", "Deployment").await.unwrap();
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[tokio::test(flavor = "current_thread")]
async fn client_side_apply_records_what_it_applied_and_removes_what_was_dropped() {
    let server = ApiServer::start();
    namespace(&server, "shop");
    let (cluster, _dir) = connect(&server).await;
    let v1 =
        obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: '1', b: '2'}\n");
    let (applied, stored) = cluster.apply(&v1, ApplyMode::ClientSide, false).await.unwrap();
    assert_eq!(applied, Applied::Created);
    let recorded = stored.annotation(gitops_kube::client_side::LAST_APPLIED).expect("last-applied");
    assert!(recorded.contains(r#""b":"2""#), "{recorded}");
    assert_eq!(stored.api_version(), "v1");

    server.clear_requests();
    assert_eq!(cluster.apply(&v1, ApplyMode::ClientSide, false).await.unwrap().0, Applied::Unchanged);
    assert!(server.requests().iter().all(|r| r.method == "GET"), "a no-op apply only reads");

    // Someone else adds a key; the next apply drops `b`: only `b` goes.
    let mut live = server.get("v1", "ConfigMap", "shop", "settings").unwrap();
    live["data"]["theirs"] = json!("t");
    server.insert(live, "kubectl-edit");
    let v2 = obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: '1'}\n");
    assert_eq!(cluster.apply(&v2, ApplyMode::ClientSide, false).await.unwrap().0, Applied::Configured);
    let live = server.get("v1", "ConfigMap", "shop", "settings").unwrap();
    assert_eq!(live["data"], json!({"a": "1", "theirs": "t"}));
    let patch = server.requests().into_iter().find(|r| r.method == "PATCH").expect("a patch");
    assert_eq!(patch.content_type.as_deref(), Some("application/merge-patch+json"));
    assert_eq!(patch.param("fieldManager"), Some("gitops"));
}

#[tokio::test(flavor = "current_thread")]
async fn server_side_apply_reports_conflicts_and_forces_only_when_asked() {
    let server = ApiServer::start();
    namespace(&server, "shop");
    server.insert(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}}),
        "kubectl",
    );
    let (cluster, _dir) = connect(&server).await;
    let desired = obj(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 5\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n",
    );
    let err = cluster
        .apply(&desired, ApplyMode::ServerSide { force: false, take_over: false }, false)
        .await
        .expect_err("conflict");
    let Error::Conflict { message, .. } = &err else { panic!("{err}") };
    assert!(message.contains(r#"conflict with "kubectl""#) && message.contains(".spec.replicas"), "{message}");
    assert!(err.to_string().contains("Force=true"), "says how to resolve it: {err}");
    assert_eq!(server.get("apps/v1", "Deployment", "shop", "web").unwrap()["spec"]["replicas"], 3);

    // A dry run changes nothing, even forced.
    cluster.apply(&desired, ApplyMode::ServerSide { force: true, take_over: false }, true).await.unwrap();
    assert_eq!(server.get("apps/v1", "Deployment", "shop", "web").unwrap()["spec"]["replicas"], 3);

    server.clear_requests();
    let (applied, _) =
        cluster.apply(&desired, ApplyMode::ServerSide { force: true, take_over: false }, false).await.unwrap();
    assert_eq!(applied, Applied::ServerSideApplied);
    let live = server.get("apps/v1", "Deployment", "shop", "web").unwrap();
    assert_eq!(live["spec"]["replicas"], 5);
    let managers: Vec<&str> =
        live["metadata"]["managedFields"].as_array().unwrap().iter().filter_map(|m| m["manager"].as_str()).collect();
    assert!(managers.contains(&"gitops"), "{managers:?}");
    let patch = server.requests().into_iter().find(|r| r.method == "PATCH").expect("a patch");
    assert_eq!(patch.content_type.as_deref(), Some("application/apply-patch+yaml"));
    assert_eq!((patch.param("fieldManager"), patch.param("force")), (Some("gitops"), Some("true")));

    let missing = obj("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n");
    let err = cluster
        .apply(&missing, ApplyMode::ServerSide { force: false, take_over: false }, false)
        .await
        .expect_err("unknown kind");
    assert!(matches!(err, Error::UnknownKind { .. }), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn deletes_follow_the_propagation_policy_and_watches_wake_waits() {
    let server = ApiServer::builder().controller_delay(Duration::from_millis(50)).start();
    namespace(&server, "shop");
    let (cluster, _dir) = connect(&server).await;
    let owner = server.insert(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": "shop"}}),
        "test",
    );
    let uid = owner["metadata"]["uid"].clone();
    let dependent = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dependent", "namespace": "shop",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]}});
    server.insert(dependent, "test");
    let key = |n: &str| ResourceKey::new("", "ConfigMap", "shop", n);

    assert!(cluster.delete(&key("owner"), Propagation::Orphan, true).await.unwrap(), "dry run");
    assert!(server.get("v1", "ConfigMap", "shop", "owner").is_some(), "a dry run deletes nothing");
    assert!(cluster.delete(&key("owner"), Propagation::Orphan, false).await.unwrap());
    // As on a real API server, the owner stays (finalizer `orphan`) until the collector has
    // un-owned its dependents.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.get(&key("owner")).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "an orphaning delete finishes");
        cluster.changed(&[(key("owner"), None)], Duration::from_millis(200)).await.unwrap();
    }
    let orphan = server.get("v1", "ConfigMap", "shop", "dependent").expect("orphaned, not deleted");
    assert!(orphan["metadata"].get("ownerReferences").is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)));
    let delete = server.requests().into_iter().rfind(|r| r.method == "DELETE").unwrap();
    assert!(delete.body.contains(r#""propagationPolicy":"Orphan""#), "{}", delete.body);
    assert!(!cluster.delete(&key("owner"), Propagation::Background, false).await.unwrap(), "already gone");

    // A Deployment's status is written by the stand-in's controller after a delay: `changed`
    // wakes on that watch event instead of sleeping out its timeout.
    let web = obj(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n",
    );
    let (_, stored) =
        cluster.apply(&web, ApplyMode::ServerSide { force: false, take_over: false }, false).await.unwrap();
    let rv = gitops_kube::cluster::resource_version(&stored);
    let t = Instant::now();
    cluster.changed(&[(web.key(""), rv)], Duration::from_secs(20)).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "woken by the status update after {:?}", t.elapsed());
    let live = cluster.get(&web.key("")).await.unwrap().expect("exists");
    assert_eq!(live.value().pointer("/status/availableReplicas"), Some(&json!(1)));

    assert!(cluster.delete(&web.key(""), Propagation::Foreground, false).await.unwrap());
    let delete = server.requests().into_iter().rfind(|r| r.method == "DELETE").unwrap();
    assert!(delete.body.contains(r#""propagationPolicy":"Foreground""#), "{}", delete.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.get(&web.key("")).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "a foreground delete finishes");
        cluster.changed(&[(web.key(""), None)], Duration::from_millis(200)).await.unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_apps_objects_are_found_by_its_tracking() {
    let server = ApiServer::start();
    namespace(&server, "shop");
    let cm = |name: &str, meta: Value| {
        let mut m = json!({"name": name, "namespace": "shop"});
        m.as_object_mut().unwrap().extend(meta.as_object().unwrap().clone());
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": m})
    };
    server.insert(
        cm("tracked", json!({"annotations": {"argocd.argoproj.io/tracking-id": "shop:/ConfigMap:shop/tracked"}})),
        "t",
    );
    server.insert(
        cm("someone-elses", json!({"annotations": {"argocd.argoproj.io/tracking-id": "other:/ConfigMap:shop/x"}})),
        "t",
    );
    server.insert(cm("untracked-desired", json!({})), "t");
    server.insert(cm("flux", json!({"labels": {"kustomize.toolkit.fluxcd.io/name": "shop"}})), "t");
    let (cluster, _dir) = connect(&server).await;
    let desired: HashSet<ResourceKey> = [ResourceKey::new("", "ConfigMap", "shop", "untracked-desired")].into();

    let names = |objects: Vec<Object>| objects.iter().map(|o| o.name().to_string()).collect::<Vec<_>>();
    let argo = cluster.live_for(&app(AppKind::ArgoApplication, "shop"), &desired).await.unwrap();
    assert_eq!(names(argo), ["tracked", "untracked-desired"]);

    server.clear_requests();
    let flux = cluster.live_for(&app(AppKind::FluxKustomization, "shop"), &HashSet::new()).await.unwrap();
    assert_eq!(names(flux), ["flux"]);
    let selected = server.requests().iter().filter(|r| r.param("labelSelector").is_some()).count();
    assert!(selected > 0, "Flux tracking is filtered by the server");
}

/// Desired objects given as text.
struct Fixed(&'static str);

impl DesiredState for Fixed {
    fn render(&mut self) -> Result<Rendered, reconcile::RenderError> {
        let objects = manifest::parse("desired.yaml", self.0).map_err(|e| e.to_string())?;
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

const SHOP: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: shop}
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
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'web:1'}]}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: notify
  annotations: {argocd.argoproj.io/hook: PostSync}
spec:
  template: {spec: {restartPolicy: Never, containers: [{name: notify, image: 'notify:1'}]}}
"#;

#[tokio::test(flavor = "current_thread")]
async fn a_sync_waits_for_crds_runs_hooks_and_awaits_health() {
    let server = ApiServer::builder().controller_delay(Duration::from_millis(100)).start();
    let (cluster, dir) = connect(&server).await;
    let spec = AppSpec {
        automated: Some(Automated { prune: true, self_heal: true, allow_empty: false }),
        ..app(AppKind::ArgoApplication, "shop")
    };
    let status = dir.path().join("status.json");
    let checks = HealthChecks::default();
    let target = Target { cluster: &cluster, status: &status, health: &checks };
    let request = Request { sync: true, wave_delay: Some(Duration::from_millis(100)), ..Request::default() };
    let mut log = Log::default();
    let pass = reconcile::pass(&spec, &mut Fixed(SHOP), &target, Policy::of(&spec), request, &mut log).await.unwrap();
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Succeeded", "{op:?}\n{:#?}", log.0);
    let said: Vec<String> =
        log.0.iter().map(|e| format!("{} {}/{}: {}", e.verb, e.key.kind, e.key.name, e.outcome)).collect();
    let at = |needle: &str| {
        said.iter().position(|l| l.starts_with(needle)).unwrap_or_else(|| panic!("{needle} in {said:#?}"))
    };
    assert!(
        at("hook Job/migrate: created") < at("apply CustomResourceDefinition/widgets.example.com"),
        "PreSync first"
    );
    assert!(at("apply CustomResourceDefinition/widgets.example.com") < at("apply Widget/gear"), "{said:#?}");
    assert!(at("apply Widget/gear") < at("apply Deployment/web"), "waves in order: {said:#?}");
    assert!(at("apply Deployment/web") < at("hook Job/notify"), "PostSync runs after the Deployment is healthy");
    assert!(
        at("hook Job/notify") < at("delete hook Job/migrate"),
        "HookSucceeded hooks go when the sync has succeeded"
    );
    assert!(said.iter().any(|l| l.starts_with("wait ")), "waits are reported: {said:#?}");
    assert!(server.get("example.com/v1", "Widget", "shop", "gear").is_some());
    assert!(server.get("batch/v1", "Job", "shop", "migrate").is_none(), "deleted by its policy");
    assert!(server.get("batch/v1", "Job", "shop", "notify").is_some(), "no delete policy: kept");
    let web = server.get("apps/v1", "Deployment", "shop", "web").unwrap();
    assert_eq!(web["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"], "shop:apps/Deployment:shop/web");
    assert!(pass.status.health.to_string().starts_with("Healthy"), "{}", pass.status.health);
    let written = reconcile::read_status(&status).unwrap().expect("status written");
    assert_eq!(written.synced_revision.as_deref(), Some("abc123"));

    // The second pass finds nothing to do.
    let mut log = Log::default();
    let again = reconcile::pass(&spec, &mut Fixed(SHOP), &target, Policy::of(&spec), Request::default(), &mut log)
        .await
        .unwrap();
    assert!(!again.synced, "{}", again.status.message);
    assert_eq!(
        again.status.sync,
        "Synced",
        "{:#?}",
        again.plan.tasks.iter().filter(|t| t.action != gitops_core::sync::Action::Unchanged).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_object_fails_its_wave_and_later_waves_never_run() {
    let server = ApiServer::builder().controller_delay(Duration::from_millis(50)).start();
    namespace(&server, "shop");
    let (cluster, dir) = connect(&server).await;
    const DESIRED: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: first, annotations: {argocd.argoproj.io/sync-wave: "1", standin.gitops.dev/reject: "quota exceeded"}}
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
    let spec = app(AppKind::ArgoApplication, "shop");
    let status = dir.path().join("status.json");
    let checks = HealthChecks::default();
    let target = Target { cluster: &cluster, status: &status, health: &checks };
    let request = Request { sync: true, wave_delay: Some(Duration::ZERO), ..Request::default() };
    let mut log = Log::default();
    let pass =
        reconcile::pass(&spec, &mut Fixed(DESIRED), &target, Policy::of(&spec), request, &mut log).await.unwrap();
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Failed", "{op:?}");
    let refused = pass.results.iter().find(|r| r.key.name == "first").unwrap();
    assert!(refused.message.contains("quota exceeded"), "the server's reason: {refused:?}");
    assert!(server.get("v1", "ConfigMap", "shop", "second").is_none(), "wave 2 never ran");
    assert!(op.not_done.iter().any(|n| n.contains("second")), "{op:?}");
    assert!(server.get("batch/v1", "Job", "shop", "cleanup").is_some(), "the SyncFail hook ran");
    assert_eq!(pass.status.sync, "OutOfSync");
}

/// Against a real cluster: only when `GITOPS_TEST_KUBECONFIG` names a kubeconfig (its current
/// context is used, and a namespace `gitops-test-<pid>` is created and deleted).
#[tokio::test(flavor = "current_thread")]
async fn a_real_cluster_when_one_is_configured() {
    let Some(path) = std::env::var_os("GITOPS_TEST_KUBECONFIG") else {
        // Written to the stream itself, not through `eprintln!`, which the test harness hides
        // for passing tests: the skip must show in every run.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "a_real_cluster_when_one_is_configured: skipped (set GITOPS_TEST_KUBECONFIG to a kubeconfig to run it)"
        );
        return;
    };
    let cluster = KubeCluster::connect(Some(std::path::Path::new(&path)), None).await.expect("connects");
    let ns = format!("gitops-test-{}", std::process::id());
    let namespace = obj(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"));
    cluster
        .apply(&namespace, ApplyMode::ServerSide { force: false, take_over: false }, false)
        .await
        .expect("namespace");
    let cm = obj(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: probe, namespace: {ns}}}\ndata: {{a: '1'}}\n"
    ));
    cluster.apply(&cm, ApplyMode::ClientSide, false).await.expect("configmap");
    assert_eq!(cluster.apply(&cm, ApplyMode::ClientSide, false).await.expect("again").0, Applied::Unchanged);
    assert!(cluster.get(&cm.key("")).await.expect("get").is_some());
    cluster.delete(&namespace.key(""), Propagation::Foreground, false).await.expect("cleanup");
}

#[tokio::test(flavor = "current_thread")]
async fn flux_health_checks_fail_a_sync_whose_objects_never_become_ready_and_dependents_wait() {
    let server = ApiServer::builder().controller_delay(Duration::from_millis(50)).start();
    namespace(&server, "shop");
    let (cluster, dir) = connect(&server).await;
    const DESIRED: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {standin.gitops.dev/unhealthy: "true"}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'web:1'}]}
"#;
    let mut spec = app(AppKind::FluxKustomization, "infra");
    spec.automated = Some(Automated { prune: true, self_heal: true, allow_empty: false });
    spec.rollout.health_checks = vec![ResourceKey::new("apps", "Deployment", "shop", "web")];
    spec.rollout.timeout = Some(Duration::from_secs(2));
    spec.rollout.app_namespace = "flux-system".into();
    let status = dir.path().join("kustomization_flux-system_infra.json");
    let checks = HealthChecks::default();
    let target = Target { cluster: &cluster, status: &status, health: &checks };
    let pass = reconcile::pass(
        &spec,
        &mut Fixed(DESIRED),
        &target,
        Policy::of(&spec),
        Request::default(),
        &mut Log::default(),
    )
    .await
    .unwrap();
    let op = pass.status.last_operation.as_ref().expect("synced");
    assert_eq!(op.phase, "Failed", "{op:?}");
    assert!(
        op.message.starts_with(
            "health check failed after 2s: timeout waiting for: [apps/Deployment/shop/web status: 'Degraded']"
        ),
        "{}",
        op.message
    );

    let web = server.get("apps/v1", "Deployment", "shop", "web").expect("applied");
    assert_eq!(web["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "infra");
    assert_eq!(web["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"], "flux-system");

    // An app that depends on it is compared, not synced, while it is not ready.
    let mut dependent = app(AppKind::FluxKustomization, "apps");
    dependent.automated = spec.automated;
    dependent.rollout.depends_on = vec!["flux-system/infra".into()];
    let status = dir.path().join("apps.json");
    let target = Target { cluster: &cluster, status: &status, health: &checks };
    let desired = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: shop}\n";
    let mut fixed = Fixed(Box::leak(desired.to_string().into_boxed_str()));
    let pass = reconcile::pass(
        &dependent,
        &mut fixed,
        &target,
        Policy::of(&dependent),
        Request::default(),
        &mut Log::default(),
    )
    .await
    .unwrap();
    assert!(!pass.synced);
    assert_eq!(pass.status.message, "dependency 'flux-system/infra' is not ready");
    assert!(server.get("v1", "ConfigMap", "shop", "app").is_none());
}

#[test]
fn an_applications_destination_picks_the_kubeconfig_context() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- {name: dev-cluster, cluster: {server: 'https://dev.example:6443'}}\n- {name: prod-cluster, cluster: {server: 'https://prod.example:6443/'}}\ncontexts:\n- {name: dev, context: {cluster: dev-cluster, user: u}}\n- {name: prod, context: {cluster: prod-cluster, user: u}}\nusers:\n- {name: u, user: {token: t}}\n",
    )
    .expect("write");
    let pick =
        |name: Option<&str>, server: Option<&str>| KubeCluster::context_for_destination(Some(&path), name, server);
    assert_eq!(pick(Some("prod"), None).unwrap().as_deref(), Some("prod"));
    assert_eq!(pick(None, Some("https://prod.example:6443")).unwrap().as_deref(), Some("prod"));
    assert_eq!(pick(None, Some("https://kubernetes.default.svc")).unwrap(), None, "the current context");
    assert_eq!(pick(None, None).unwrap(), None);
    let e = pick(Some("staging"), None).unwrap_err().to_string();
    assert!(e.contains("spec.destination.name `staging`") && e.contains("--target kube:CONTEXT"), "{e}");
    let e = pick(None, Some("https://nowhere:6443")).unwrap_err().to_string();
    assert!(e.contains("https://nowhere:6443"), "{e}");
}

/// The stand-in refuses a changed Deployment selector as the real server does; Flux's
/// `force: enabled` label recreates the Deployment (the real-server test is in `apiserver.rs`).
#[tokio::test(flavor = "current_thread")]
async fn flux_force_recreates_a_deployment_whose_selector_changed() {
    const V1: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n";
    const V2: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web2}}\n  template:\n    metadata: {labels: {app: web2}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n";
    const FORCED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop, labels: {kustomize.toolkit.fluxcd.io/force: enabled}}\nspec:\n  selector: {matchLabels: {app: web2}}\n  template:\n    metadata: {labels: {app: web2}}\n    spec: {containers: [{name: web, image: 'web:1'}]}\n";
    let server = ApiServer::start();
    namespace(&server, "shop");
    let (cluster, dir) = connect(&server).await;
    let spec = AppSpec {
        automated: Some(Automated { prune: true, self_heal: true, allow_empty: false }),
        ..app(AppKind::FluxKustomization, "shop")
    };
    let status = dir.path().join("status.json");
    let checks = HealthChecks::default();
    let target = Target { cluster: &cluster, status: &status, health: &checks };
    let uid = || server.get("apps/v1", "Deployment", "shop", "web").expect("there")["metadata"]["uid"].clone();
    let mut outcomes = Vec::new();
    for desired in [V1, V2, FORCED] {
        let request = Request { sync: true, wave_delay: Some(Duration::ZERO), ..Request::default() };
        let mut log = Log::default();
        let pass =
            reconcile::pass(&spec, &mut Fixed(desired), &target, Policy::of(&spec), request, &mut log).await.unwrap();
        let phase = pass.status.last_operation.as_ref().expect("synced").phase;
        let said = log.0.iter().filter(|e| e.key.kind == "Deployment").map(|e| e.outcome.clone()).collect::<Vec<_>>();
        outcomes.push((phase, said, uid()));
    }
    let [(created, _, first), (refused, said, same), (forced, recreated, new)] = &outcomes[..] else { unreachable!() };
    assert_eq!(
        (created.as_str(), refused.as_str(), forced.as_str()),
        ("Succeeded", "Failed", "Succeeded"),
        "{outcomes:#?}"
    );
    assert!(said.iter().any(|s| s.contains("spec.selector") && s.contains("field is immutable")), "{said:?}");
    assert_eq!(first, same, "the refusal stands without force");
    assert!(recreated.iter().any(|s| s.starts_with("recreated (immutable field changed: ")), "{recreated:?}");
    assert_ne!(first, new, "a new object");
}
