//! The stand-in from a plain synchronous test, over raw HTTP/1.1: the wire format, and bad input that
//! must come back as a Kubernetes `Status` rather than a panic or a dropped connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use gitops_standin::ApiServer;
use serde_json::{Value, json};

/// Sends one request and returns (HTTP code, body as JSON).
fn call(server: &ApiServer, method: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let addr = server.url().trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: raw-test/1.0\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}")))
}

fn get(server: &ApiServer, path: &str) -> (u16, Value) {
    call(server, "GET", path, "application/json", "")
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn discovery_documents() {
    let server = ApiServer::start();
    assert_eq!(get(&server, "/version").1["major"], "1");
    assert_eq!(get(&server, "/api").1["versions"], json!(["v1"]));
    let groups = get(&server, "/apis").1;
    let apps = groups["groups"].as_array().unwrap().iter().find(|g| g["name"] == "apps").unwrap();
    assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
    let (code, list) = get(&server, "/apis/apps/v1");
    assert_eq!((code, &list["kind"]), (200, &json!("APIResourceList")));
    let names: Vec<&str> = list["resources"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    assert!(names.contains(&"deployments") && names.contains(&"deployments/status"), "{names:?}");
    let core = get(&server, "/api/v1").1;
    let ns = core["resources"].as_array().unwrap().iter().find(|r| r["name"] == "namespaces").unwrap();
    assert_eq!((&ns["namespaced"], &ns["singularName"]), (&json!(false), &json!("namespace")));
}

#[test]
fn bad_requests_get_status_errors() {
    let server = ApiServer::start();
    server.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}}), "seed");
    server
        .insert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}}), "seed");
    let cm = "/api/v1/namespaces/d/configmaps";
    let cases: &[(&str, &str, &str, &str, u16, &str)] = &[
        ("GET", "/nope", "application/json", "", 404, "NotFound"),
        ("GET", "/apis/apps/v9/deployments", "application/json", "", 404, "NotFound"),
        ("GET", "/apis/apps/v1/namespaces/d/deployments/a/b/c", "application/json", "", 404, "NotFound"),
        ("GET", "/api/v1/namespaces/d/namespaces", "application/json", "", 404, "NotFound"),
        ("DELETE", "/api", "application/json", "", 405, "MethodNotAllowed"),
        ("POST", cm, "application/json", "{not json", 400, "BadRequest"),
        ("POST", cm, "application/json", "[1]", 400, "BadRequest"),
        ("POST", cm, "application/json", r#"{"metadata":{}}"#, 422, "Invalid"),
        ("POST", cm, "application/json", r#"{"metadata":"x"}"#, 400, "BadRequest"),
        ("POST", cm, "application/json", r#"{"kind":"Secret","metadata":{"name":"s"}}"#, 400, "BadRequest"),
        ("POST", cm, "application/json", r#"{"metadata":{"name":"e","namespace":"other"}}"#, 400, "BadRequest"),
        ("GET", &format!("{cm}?labelSelector=a%20in%20(b"), "application/json", "", 400, "BadRequest"),
        ("GET", &format!("{cm}?fieldSelector=spec.x%3D1"), "application/json", "", 400, "BadRequest"),
        ("GET", &format!("{cm}?limit=abc"), "application/json", "", 400, "BadRequest"),
        ("GET", &format!("{cm}?continue=garbage"), "application/json", "", 400, "BadRequest"),
        ("GET", &format!("{cm}?watch=true&resourceVersion=abc"), "application/json", "", 400, "BadRequest"),
        ("PATCH", &format!("{cm}/c"), "text/plain", "{}", 415, "UnsupportedMediaType"),
        ("PATCH", &format!("{cm}/c"), "application/apply-patch+yaml", "{}", 400, "BadRequest"),
        ("PATCH", &format!("{cm}/c?fieldManager=m"), "application/apply-patch+yaml", "a: [", 400, "BadRequest"),
        ("PATCH", &format!("{cm}/c"), "application/json-patch+json", r#"{"op":"add"}"#, 422, "Invalid"),
        ("PATCH", &format!("{cm}/c"), "application/json-patch+json", r#"[{"op":"move","path":"/a"}]"#, 422, "Invalid"),
        ("PATCH", &format!("{cm}/c"), "application/merge-patch+json", "7", 400, "BadRequest"),
        ("PATCH", &format!("{cm}/zz"), "application/merge-patch+json", "{}", 404, "NotFound"),
        ("PUT", &format!("{cm}/c"), "application/json", r#"{"metadata":{"name":"other"}}"#, 400, "BadRequest"),
        ("DELETE", &format!("{cm}/c"), "application/json", r#"{"propagationPolicy":"Sideways"}"#, 400, "BadRequest"),
        (
            "POST",
            "/api/v1/namespaces/nope/configmaps",
            "application/json",
            r#"{"metadata":{"name":"x"}}"#,
            404,
            "NotFound",
        ),
        ("PUT", &format!("{cm}/c/status"), "application/json", "{}", 404, "NotFound"),
    ];
    for (method, path, content_type, body, code, reason) in cases {
        let (got, status) = call(&server, method, path, content_type, body);
        assert_eq!(
            (got, status["reason"].as_str().unwrap_or_default()),
            (*code, *reason),
            "{method} {path} {body}: {status}"
        );
        assert_eq!(
            (&status["kind"], &status["status"], &status["code"]),
            (&json!("Status"), &json!("Failure"), &json!(code))
        );
    }
    let log = server.requests();
    assert_eq!(log.len(), cases.len());
    assert_eq!(log[11].param("labelSelector"), Some("a in (b"));
    assert_eq!(log[5].body, "{not json");
    assert_eq!(get(&server, &format!("{cm}/c")).0, 200, "still serving");
    let (code, _) = call(&server, "DELETE", "/api/v1/configmaps", "application/json", "");
    assert_eq!((code, get(&server, &format!("{cm}/c")).0), (200, 404), "deletecollection across namespaces");
}

#[test]
fn status_subresource_and_server_fields() {
    let server = ApiServer::builder().controller_delay(Duration::from_secs(3600)).start();
    server.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}}), "seed");
    let path = "/apis/apps/v1/namespaces/d/deployments";
    let body = json!({"metadata": {"name": "w", "uid": "mine", "resourceVersion": ""}, "spec": {"replicas": 1},
        "status": {"replicas": 9}});
    let (code, created) = call(&server, "POST", path, "application/json", &body.to_string());
    assert_eq!(code, 201);
    assert_ne!(created["metadata"]["uid"], "mine", "clients cannot set server fields");
    assert!(created.get("status").is_none(), "main-resource writes ignore status");
    assert_eq!(created["metadata"]["managedFields"][0]["manager"], "raw-test", "manager from the User-Agent");

    let status = json!({"status": {"replicas": 4}});
    let (code, updated) =
        call(&server, "PATCH", &format!("{path}/w/status"), "application/merge-patch+json", &status.to_string());
    assert_eq!((code, &updated["status"]["replicas"]), (200, &json!(4)));
    assert_eq!(updated["metadata"]["generation"], 1, "status changes keep the generation");
    let sub = updated["metadata"]["managedFields"].as_array().unwrap().iter().find(|m| m["subresource"] == "status");
    assert_eq!(sub.unwrap()["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    let spec = json!({"spec": {"replicas": 2}, "status": {"replicas": 0}});
    let (_, updated) = call(&server, "PATCH", &format!("{path}/w"), "application/merge-patch+json", &spec.to_string());
    assert_eq!((&updated["status"]["replicas"], &updated["metadata"]["generation"]), (&json!(4), &json!(2)));

    let rv = server.resource_version();
    let (_, same) = call(&server, "PATCH", &format!("{path}/w"), "application/merge-patch+json", &spec.to_string());
    assert_eq!(same["metadata"]["resourceVersion"], rv.to_string(), "a no-op write keeps the resourceVersion");

    let (_, list) = get(&server, &format!("{path}?limit=1"));
    assert_eq!(list["metadata"]["resourceVersion"], rv.to_string());
    assert!(list["metadata"].get("continue").is_none());
}

#[test]
fn controllers_for_pods_claims_services_and_namespaces() {
    let server = ApiServer::builder().controller_delay(Duration::from_millis(10)).start();
    server.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}}), "seed");
    let seed = |kind: &str, name: &str, spec: Value| {
        server.insert(
            json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "d"}, "spec": spec}),
            "seed",
        )
    };
    seed("Pod", "p", json!({"containers": [{"name": "c", "image": "nginx"}]}));
    seed(
        "PersistentVolumeClaim",
        "v",
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
    );
    seed("Service", "lb", json!({"type": "LoadBalancer", "ports": [{"port": 80}]}));
    seed("Service", "plain", json!({"ports": [{"port": 80}]}));
    let status = |kind: &str, ns: &str, name: &str| server.get("v1", kind, ns, name).unwrap()["status"].clone();
    wait_for("statuses", || {
        status("Pod", "d", "p")["phase"] == "Running"
            && status("PersistentVolumeClaim", "d", "v")["phase"] == "Bound"
            && status("Service", "d", "lb")["loadBalancer"]["ingress"][0]["ip"].is_string()
            && status("Namespace", "", "d")["phase"] == "Active"
    });
    let ready = status("Pod", "d", "p")["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert!(ready);
    assert_eq!(status("PersistentVolumeClaim", "d", "v")["capacity"]["storage"], "1Gi");
    assert!(status("Service", "d", "plain").is_null());

    let seeded = server.insert(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "s", "namespace": "d"}, "status": {"phase": "Failed"}}),
        "seed",
    );
    assert_eq!(seeded["status"]["phase"], "Failed", "insert writes a given status");
    assert_eq!(server.objects().iter().filter(|o| o["kind"] == "Pod").count(), 2);
}

#[test]
fn kubeconfig_names_the_server() {
    let server = ApiServer::start();
    let text = server.kubeconfig("ctx", "apps");
    assert!(text.contains(&format!("server: \"{}\"", server.url())), "{text}");
    assert!(text.contains("token: standin") && text.contains("current-context: \"ctx\""), "{text}");
    assert!(text.contains("namespace: \"apps\""), "{text}");
}
