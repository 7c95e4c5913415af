//! The stand-in driven through kube-rs's real client, the way the engine's adapter uses it.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use gitops_standin::{ApiServer, FAIL_ANNOTATION, REJECT_ANNOTATION, UNHEALTHY_ANNOTATION};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, PropagationPolicy, WatchEvent,
    WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{GroupVersionKind, ResourceExt};
use kube::discovery::{self, Discovery, Scope};
use kube::{Client, Config};
use serde_json::{Value, json};

async fn client(server: &ApiServer) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig("standin", "default")).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    Client::try_from(config).unwrap()
}

fn namespace(server: &ApiServer, name: &str) {
    server.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}), "test");
}

fn obj<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls until `check` passes; controllers and GC act after a short delay.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// (status, reason) of the condition of that type.
fn condition(status: &Value, kind: &str) -> (String, String) {
    let c = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == kind).unwrap();
    (c["status"].as_str().unwrap().into(), c["reason"].as_str().unwrap_or_default().into())
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "demo", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    })
}

#[tokio::test]
async fn discovery_lists_builtin_kinds() {
    let server = ApiServer::start();
    let c = client(&server).await;
    assert_eq!(c.apiserver_version().await.unwrap().major, "1");
    let d = Discovery::new(c.clone()).run().await.unwrap();
    let (ar, caps) = d.resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment")).unwrap();
    assert_eq!(ar.plural, "deployments");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));
    let (ns, caps) = d.resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace")).unwrap();
    assert_eq!((ns.plural.as_str(), caps.scope), ("namespaces", Scope::Cluster));
    for (g, v, k) in
        [("autoscaling", "v2", "HorizontalPodAutoscaler"), ("rbac.authorization.k8s.io", "v1", "ClusterRole")]
    {
        assert!(d.resolve_gvk(&GroupVersionKind::gvk(g, v, k)).is_some(), "{k}");
    }
    let (ar, _) = discovery::pinned_kind(&c, &GroupVersionKind::gvk("batch", "v1", "CronJob")).await.unwrap();
    assert_eq!(ar.plural, "cronjobs");
    assert!(discovery::pinned_kind(&c, &GroupVersionKind::gvk("example.com", "v1", "Widget")).await.is_err());
}

#[tokio::test]
async fn crd_is_served_once_established_and_its_removal_removes_instances() {
    let server = ApiServer::start();
    namespace(&server, "demo");
    let c = client(&server).await;
    let crds: Api<CustomResourceDefinition> = Api::all(c.clone());
    let crd = obj(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
    }));
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
    assert!(discovery::pinned_kind(&c, &gvk).await.is_err(), "served before Established");
    eventually("Established", || {
        server.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com").is_some_and(|o| {
            o["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
    })
    .await;
    let (ar, caps) = discovery::pinned_kind(&c, &gvk).await.unwrap();
    assert_eq!((ar.plural.as_str(), caps.scope), ("widgets", Scope::Namespaced));
    assert!(Discovery::new(c.clone()).run().await.unwrap().resolve_gvk(&gvk).is_some());

    let widgets: Api<DynamicObject> = Api::namespaced_with(c.clone(), "demo", &ar);
    let w: DynamicObject = obj(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1"}, "spec": {"size": 1}, "status": {"ignored": true}}));
    let created = widgets.create(&PostParams::default(), &w).await.unwrap();
    assert!(created.data.get("status").is_none(), "status subresource: main writes ignore status");
    assert_eq!(widgets.list(&ListParams::default()).await.unwrap().items.len(), 1);
    let raw = hyper::Request::get("/apis/example.com/v1/namespaces/demo/widgets").body(vec![]).unwrap();
    let list: Value = c.request(raw).await.unwrap();
    assert_eq!(
        (&list["kind"], &list["items"][0]["kind"]),
        (&json!("WidgetList"), &json!("Widget")),
        "CR items keep kind"
    );
    let err = widgets.patch("w1", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"size": 2}}))).await;
    assert_eq!(api_error(err.unwrap_err()).code, 415);

    crds.delete("widgets.example.com", &DeleteParams::default()).await.unwrap();
    eventually("instances removed", || server.get("example.com/v1", "Widget", "demo", "w1").is_none()).await;
}

#[tokio::test]
async fn create_get_list_with_selectors_and_pages() {
    let server = ApiServer::start();
    let c = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "demo");
    let cm = |name: &str, tier: &str| -> ConfigMap {
        obj(json!({"metadata": {"name": name, "labels": {"app": "shop", "tier": tier}}, "data": {"k": "v"}}))
    };

    let err = api_error(cms.create(&PostParams::default(), &cm("a", "fe")).await.unwrap_err());
    assert_eq!((err.code, err.message.as_str()), (404, "namespaces \"demo\" not found"));
    namespace(&server, "demo");

    for (name, tier) in [("a", "fe"), ("b", "be"), ("c", "fe"), ("d", "db"), ("e", "be")] {
        let created = cms.create(&PostParams::default(), &cm(name, tier)).await.unwrap();
        assert_eq!(created.metadata.generation, Some(1));
        assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    }
    let err = api_error(cms.create(&PostParams::default(), &cm("a", "fe")).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));

    let names =
        |l: kube::core::ObjectList<ConfigMap>| l.items.iter().map(|o| o.name_any()).collect::<Vec<_>>().join(",");
    for (selector, want) in [
        ("tier=fe", "a,c"),
        ("tier==be", "b,e"),
        ("tier!=fe", "b,d,e"),
        ("tier in (db,be)", "b,d,e"),
        ("tier notin (fe,be)", "d"),
        ("app,!missing", "a,b,c,d,e"),
        ("missing", ""),
        ("app=shop,tier=db", "d"),
    ] {
        assert_eq!(names(cms.list(&ListParams::default().labels(selector)).await.unwrap()), want, "{selector}");
    }
    let by_name = cms.list(&ListParams::default().fields("metadata.name=c")).await.unwrap();
    assert_eq!(names(by_name), "c");
    namespace(&server, "other");
    let elsewhere: Api<ConfigMap> = Api::namespaced(c.clone(), "other");
    elsewhere.create(&PostParams::default(), &cm("z", "fe")).await.unwrap();
    let everywhere: Api<ConfigMap> = Api::all(c.clone());
    assert_eq!(names(everywhere.list(&ListParams::default().labels("tier=fe")).await.unwrap()), "a,c,z");
    let in_other = everywhere.list(&ListParams::default().fields("metadata.namespace!=demo")).await.unwrap();
    assert_eq!(names(in_other), "z");

    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(2);
    loop {
        let page = cms.list(&params).await.unwrap();
        seen.extend(page.items.iter().map(|o| o.name_any()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);

    let err = api_error(cms.get("zzz").await.unwrap_err());
    assert_eq!(
        (err.code, err.message.as_str(), err.reason.as_str()),
        (404, "configmaps \"zzz\" not found", "NotFound")
    );
    let deployments: Api<Deployment> = Api::namespaced(c, "demo");
    let err = api_error(deployments.get("web").await.unwrap_err());
    assert_eq!(err.message, "deployments.apps \"web\" not found");
    assert_eq!(err.details.unwrap().group, "apps");

    let raw = server.requests();
    let list = raw.iter().find(|r| r.param("labelSelector") == Some("tier in (db,be)")).unwrap();
    assert_eq!(list.method, "GET");
    assert_eq!(list.path, "/api/v1/namespaces/demo/configmaps");
}

#[tokio::test]
async fn list_items_of_builtin_kinds_carry_no_type() {
    let server = ApiServer::start();
    namespace(&server, "demo");
    let c = client(&server).await;
    server
        .insert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "demo"}}), "t");
    let req = hyper::Request::get("/api/v1/namespaces/demo/configmaps").body(vec![]).unwrap();
    let list: Value = c.request(req).await.unwrap();
    assert_eq!(list["kind"], "ConfigMapList");
    assert!(list["items"][0].get("kind").is_none() && list["items"][0].get("apiVersion").is_none());
}

#[tokio::test]
async fn watch_streams_added_modified_deleted() {
    let server = ApiServer::start();
    namespace(&server, "demo");
    let c = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "demo");
    cms.create(&PostParams::default(), &obj(json!({"metadata": {"name": "old", "labels": {"w": "y"}}}))).await.unwrap();

    let wp = WatchParams::default().labels("w=y").timeout(10);
    let mut stream = cms.watch(&wp, "0").await.unwrap().boxed();
    let first = stream.try_next().await.unwrap().unwrap();
    assert!(matches!(first, WatchEvent::Added(ref o) if o.name_any() == "old"), "{first:?}");

    let rv = cms.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut from_rv = cms.watch(&wp, &rv).await.unwrap().boxed();
    cms.create(&PostParams::default(), &obj(json!({"metadata": {"name": "n", "labels": {"w": "y"}}}))).await.unwrap();
    cms.create(&PostParams::default(), &obj(json!({"metadata": {"name": "other"}}))).await.unwrap();
    let merge = Patch::Merge(json!({"data": {"a": "1"}}));
    cms.patch("n", &PatchParams::default(), &merge).await.unwrap();
    cms.patch("n", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"w": null}}}))).await.unwrap();
    cms.delete("old", &DeleteParams::default()).await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..4 {
        let ev = tokio::time::timeout(Duration::from_secs(5), from_rv.try_next()).await.unwrap().unwrap().unwrap();
        seen.push(match ev {
            WatchEvent::Added(o) => format!("ADDED {}", o.name_any()),
            WatchEvent::Modified(o) => format!("MODIFIED {} {:?}", o.name_any(), o.data.unwrap_or_default()),
            WatchEvent::Deleted(o) => format!("DELETED {}", o.name_any()),
            other => format!("{other:?}"),
        });
    }
    // Leaving the selector reads as DELETED, as with the real server.
    assert_eq!(seen, ["ADDED n", "MODIFIED n {\"a\": \"1\"}", "DELETED n", "DELETED old"]);
}

#[tokio::test]
async fn watch_from_a_compacted_version_is_expired() {
    let server = ApiServer::builder().history_limit(3).start();
    namespace(&server, "demo");
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "demo");
    for i in 0..5 {
        cms.create(&PostParams::default(), &obj(json!({"metadata": {"name": format!("c{i}")}}))).await.unwrap();
    }
    let mut stream = cms.watch(&WatchParams::default().timeout(5), "1").await.unwrap().boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(s) => assert_eq!((s.code, s.reason.as_str()), (410, "Expired")),
        other => panic!("{other:?}"),
    }
    assert!(stream.try_next().await.unwrap().is_none(), "the stream ends after the error");
    let mut timed =
        cms.watch(&WatchParams::default().timeout(1), &server.resource_version().to_string()).await.unwrap().boxed();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = timed.try_next().await.unwrap() {
            assert!(matches!(ev, WatchEvent::Bookmark(_)), "{ev:?}");
        }
    });
    end.await.expect("timeoutSeconds ends the stream");
}

#[tokio::test]
async fn server_side_apply_conflicts_force_and_removal() {
    let server = ApiServer::start();
    namespace(&server, "demo");
    server.insert(deployment("web", 3), "kubectl");
    let deployments: Api<Deployment> = Api::namespaced(client(&server).await, "demo");
    let pp = PatchParams::apply("gitops");

    let mut desired = deployment("web", 2);
    desired["metadata"]["labels"]["team"] = json!("a");
    let err = api_error(deployments.patch("web", &pp, &Patch::Apply(&desired)).await.unwrap_err());
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert_eq!(err.message, "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas");
    let cause = &err.details.unwrap().causes[0];
    assert_eq!((cause.reason.as_str(), cause.field.as_str()), ("FieldManagerConflict", ".spec.replicas"));

    let mut two = desired.clone();
    two["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let err = api_error(deployments.patch("web", &pp, &Patch::Apply(&two)).await.unwrap_err());
    assert_eq!(
        err.message,
        "Apply failed with 2 conflicts: conflicts with \"kubectl\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers"
    );

    let applied = deployments.patch("web", &pp.clone().force(), &Patch::Apply(&desired)).await.unwrap();
    assert_eq!(serde_json::to_value(&applied).unwrap()["spec"]["replicas"], 2);
    let managed = applied.metadata.managed_fields.clone().unwrap();
    let gitops = managed.iter().find(|m| m.manager.as_deref() == Some("gitops")).unwrap();
    assert_eq!(gitops.operation.as_deref(), Some("Apply"));
    assert_eq!(gitops.fields_type.as_deref(), Some("FieldsV1"));
    let fields = &gitops.fields_v1.as_ref().unwrap().0;
    assert_eq!(fields["f:metadata"]["f:labels"]["f:team"], json!({}));
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    let kubectl = managed.iter().find(|m| m.manager.as_deref() == Some("kubectl")).unwrap();
    assert_eq!(kubectl.operation.as_deref(), Some("Update"));
    assert!(kubectl.fields_v1.as_ref().unwrap().0["f:spec"].get("f:replicas").is_none(), "force moved ownership");
    assert!(kubectl.fields_v1.as_ref().unwrap().0["f:spec"].get("f:selector").is_some(), "shared, equal value");

    let rv = applied.resource_version();
    let again = deployments.patch("web", &pp, &Patch::Apply(&desired)).await.unwrap();
    assert_eq!(again.resource_version(), rv, "a no-op apply keeps the resourceVersion");

    // Dropping a field gitops alone owns removes it; one kubectl owns too stays.
    let mut smaller = desired.clone();
    smaller["metadata"]["labels"].as_object_mut().unwrap().remove("team");
    smaller["metadata"]["labels"].as_object_mut().unwrap().remove("app");
    let after = deployments.patch("web", &pp, &Patch::Apply(&smaller)).await.unwrap();
    let labels = after.metadata.labels.clone().unwrap();
    assert!(!labels.contains_key("team"));
    assert_eq!(labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(after.metadata.generation, Some(2), "metadata-only changes keep the generation");

    let created = deployments.patch("new", &pp, &Patch::Apply(&deployment("new", 1))).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let raw = server.requests();
    let apply = raw.iter().rev().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(apply.content_type.as_deref(), Some("application/apply-patch+yaml"));
    assert_eq!(apply.param("fieldManager"), Some("gitops"));
}

#[tokio::test]
async fn apply_needs_a_field_manager_and_patches_by_content_type() {
    let server = ApiServer::start();
    namespace(&server, "demo");
    let c = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "demo");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
    let err = cms.patch("c", &PatchParams::default(), &Patch::Apply(&cm)).await.unwrap_err();
    assert_eq!(api_error(err).code, 400);
    cms.patch("c", &PatchParams::apply("gitops"), &Patch::Apply(&cm)).await.unwrap();

    let merged =
        cms.patch("c", &PatchParams::default(), &Patch::Merge(json!({"data": {"a": null, "c": "3"}}))).await.unwrap();
    assert_eq!(serde_json::to_value(merged.data.unwrap()).unwrap(), json!({"b": "2", "c": "3"}));
    let json_patch = |ops: Value| {
        hyper::Request::patch("/api/v1/namespaces/demo/configmaps/c")
            .header("content-type", "application/json-patch+json")
            .body(ops.to_string().into_bytes())
            .unwrap()
    };
    let ops = json!([
        {"op": "test", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/b", "value": "20"},
        {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
    ]);
    let patched: ConfigMap = c.request(json_patch(ops)).await.unwrap();
    assert_eq!(patched.data.unwrap()["b"], "20");
    let failing = json!([{"op": "test", "path": "/data/b", "value": "nope"}]);
    let err = c.request::<ConfigMap>(json_patch(failing)).await.unwrap_err();
    assert_eq!(api_error(err).code, 422);
    let strategic =
        cms.patch("c", &PatchParams::default(), &Patch::Strategic(json!({"data": {"d": "4"}}))).await.unwrap();
    assert_eq!(strategic.data.unwrap()["d"], "4");

    // Updates took every field gitops applied, so its entry is gone; kube-rs sends no User-Agent.
    let managers: Vec<String> =
        cms.get("c").await.unwrap().managed_fields().iter().filter_map(|m| m.manager.clone()).collect();
    assert_eq!(managers, ["unknown"]);

    let stale: ConfigMap = obj(json!({"metadata": {"name": "c", "resourceVersion": "1"}, "data": {}}));
    let err = api_error(cms.replace("c", &PostParams::default(), &stale).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
}

#[tokio::test]
async fn dry_run_persists_nothing() {
    let server = ApiServer::start();
    namespace(&server, "demo");
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "demo");
    let cm: ConfigMap = obj(json!({"metadata": {"name": "c"}, "data": {"a": "1"}}));
    let pp = PostParams { dry_run: true, ..Default::default() };
    let created = cms.create(&pp, &cm).await.unwrap();
    assert_eq!(created.name_any(), "c");
    assert!(server.get("v1", "ConfigMap", "demo", "c").is_none());

    let apply = PatchParams::apply("gitops").dry_run();
    cms.patch("c", &apply, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}})))
        .await
        .unwrap();
    assert!(server.get("v1", "ConfigMap", "demo", "c").is_none());

    cms.create(&PostParams::default(), &cm).await.unwrap();
    let rv = server.resource_version();
    let merged =
        cms.patch("c", &PatchParams::default().dry_run(), &Patch::Merge(json!({"data": {"a": "2"}}))).await.unwrap();
    assert_eq!(merged.data.unwrap()["a"], "2");
    cms.delete("c", &DeleteParams { dry_run: true, ..Default::default() }).await.unwrap();
    assert_eq!(server.resource_version(), rv);
    assert_eq!(server.get("v1", "ConfigMap", "demo", "c").unwrap()["data"]["a"], "1");
}

/// An owner ConfigMap and a dependent whose ownerReference points at it.
async fn owner_and_dependent(server: &ApiServer, cms: &Api<ConfigMap>) -> String {
    let owner = cms.create(&PostParams::default(), &obj(json!({"metadata": {"name": "owner"}}))).await.unwrap();
    let uid = owner.uid().unwrap();
    let dependent = json!({"metadata": {"name": "dependent", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid, "blockOwnerDeletion": true}]}});
    cms.create(&PostParams::default(), &obj(dependent)).await.unwrap();
    assert!(server.get("v1", "ConfigMap", "demo", "dependent").is_some());
    uid
}

#[tokio::test]
async fn delete_propagation_policies() {
    let server = ApiServer::builder().controller_delay(Duration::from_millis(400)).start();
    namespace(&server, "demo");
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "demo");
    let exists = |name: &str| server.get("v1", "ConfigMap", "demo", name).is_some();

    // Background: the owner goes now, the dependent shortly after.
    owner_and_dependent(&server, &cms).await;
    let out = cms.delete("owner", &DeleteParams::background()).await.unwrap();
    assert!(out.is_right(), "removed at once: a Success status");
    assert!(!exists("owner") && exists("dependent"));
    eventually("dependent collected", || !exists("dependent")).await;

    // Foreground: the owner waits, marked, until its dependents are gone.
    owner_and_dependent(&server, &cms).await;
    let out = cms.delete("owner", &DeleteParams::foreground()).await.unwrap();
    let marked = out.left().expect("the owner stays for now");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.finalizers(), ["foregroundDeletion"]);
    eventually("owner and dependent gone", || !exists("owner") && !exists("dependent")).await;

    // Orphan: the dependent stays, without the reference.
    owner_and_dependent(&server, &cms).await;
    let dp = DeleteParams { propagation_policy: Some(PropagationPolicy::Orphan), ..Default::default() };
    cms.delete("owner", &dp).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dependent = server.get("v1", "ConfigMap", "demo", "dependent").unwrap();
    assert!(dependent["metadata"].get("ownerReferences").is_none(), "{dependent}");

    let err = api_error(cms.delete("owner", &DeleteParams::default()).await.unwrap_err());
    assert_eq!(err.code, 404);
}

#[tokio::test]
async fn finalizers_hold_deletion_and_namespaces_take_their_contents() {
    let server = ApiServer::start();
    namespace(&server, "demo");
    let c = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "demo");
    cms.create(&PostParams::default(), &obj(json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})))
        .await
        .unwrap();
    let held = cms.delete("held", &DeleteParams::default()).await.unwrap().left().unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    cms.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    assert!(server.get("v1", "ConfigMap", "demo", "held").is_none());

    cms.create(&PostParams::default(), &obj(json!({"metadata": {"name": "inside"}}))).await.unwrap();
    let namespaces: Api<Namespace> = Api::all(c);
    namespaces.delete("demo", &DeleteParams::default()).await.unwrap();
    let err =
        api_error(cms.create(&PostParams::default(), &obj(json!({"metadata": {"name": "late"}}))).await.unwrap_err());
    assert_eq!(err.code, 403, "{}", err.message);
    eventually("namespace and contents gone", || {
        server.get("v1", "Namespace", "", "demo").is_none() && server.get("v1", "ConfigMap", "demo", "inside").is_none()
    })
    .await;
}

#[tokio::test]
async fn controllers_report_workload_and_job_status() {
    let server = ApiServer::builder().controller_delay(Duration::from_millis(20)).start();
    let c = client(&server).await;
    let namespaces: Api<Namespace> = Api::all(c.clone());
    namespaces.create(&PostParams::default(), &obj(json!({"metadata": {"name": "demo"}}))).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(c.clone(), "demo");
    deployments.create(&PostParams::default(), &obj(deployment("web", 3))).await.unwrap();
    let mut sick = deployment("sick", 2);
    sick["metadata"]["annotations"] = json!({UNHEALTHY_ANNOTATION: "true"});
    deployments.create(&PostParams::default(), &obj(sick)).await.unwrap();
    let jobs: Api<Job> = Api::namespaced(c.clone(), "demo");
    let job = |name: &str, fail: bool| -> Job {
        let annotations = if fail { json!({FAIL_ANNOTATION: "true"}) } else { json!({}) };
        obj(json!({"metadata": {"name": name, "annotations": annotations},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}))
    };
    jobs.create(&PostParams::default(), &job("ok", false)).await.unwrap();
    jobs.create(&PostParams::default(), &job("bad", true)).await.unwrap();

    eventually("statuses", || {
        ["web", "sick"].iter().all(|n| server.get("apps/v1", "Deployment", "demo", n).unwrap()["status"].is_object())
            && ["ok", "bad"].iter().all(|n| server.get("batch/v1", "Job", "demo", n).unwrap()["status"].is_object())
    })
    .await;
    let ns = namespaces.get("demo").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));

    let web = deployments.get_status("web").await.unwrap();
    let status = serde_json::to_value(web.status.as_ref().unwrap()).unwrap();
    for (field, want) in [
        ("observedGeneration", 1),
        ("replicas", 3),
        ("readyReplicas", 3),
        ("updatedReplicas", 3),
        ("availableReplicas", 3),
    ] {
        assert_eq!(status[field], want, "{field}");
    }
    assert_eq!(condition(&status, "Progressing"), ("True".into(), "NewReplicaSetAvailable".into()));
    assert_eq!(condition(&status, "Available").0, "True");
    let status_manager = web.managed_fields().iter().find(|m| m.subresource.as_deref() == Some("status")).cloned();
    assert!(status_manager.is_some(), "controller status writes are owned through the status subresource");

    let sick = serde_json::to_value(deployments.get("sick").await.unwrap().status).unwrap();
    assert_eq!(condition(&sick, "Progressing"), ("False".into(), "ProgressDeadlineExceeded".into()));

    let ok = serde_json::to_value(jobs.get("ok").await.unwrap().status).unwrap();
    assert_eq!(ok["succeeded"], 1);
    assert!(ok["startTime"].is_string() && ok["completionTime"].is_string());
    assert_eq!(condition(&ok, "Complete").0, "True");
    let bad = serde_json::to_value(jobs.get("bad").await.unwrap().status).unwrap();
    assert_eq!(bad["failed"], 1);
    assert_eq!(condition(&bad, "Failed"), ("True".into(), "BackoffLimitExceeded".into()));

    // A spec change bumps generation; the controller catches up with observedGeneration.
    deployments.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 5}}))).await.unwrap();
    eventually("observedGeneration 2", || {
        let d = server.get("apps/v1", "Deployment", "demo", "web").unwrap();
        d["metadata"]["generation"] == 2 && d["status"]["observedGeneration"] == 2 && d["status"]["readyReplicas"] == 5
    })
    .await;
}

#[tokio::test]
async fn reject_knob_refuses_writes() {
    let server = ApiServer::start();
    namespace(&server, "demo");
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "demo");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {REJECT_ANNOTATION: "quota exceeded"}}});
    let err = api_error(cms.patch("c", &PatchParams::apply("gitops"), &Patch::Apply(&cm)).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(err.message.contains("quota exceeded"), "{}", err.message);
    assert!(server.get("v1", "ConfigMap", "demo", "c").is_none());
}
