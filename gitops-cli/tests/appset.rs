//! `gitops appset generate|list|get`: the seed-style ApplicationSets (a list per environment,
//! clusters with values, git directories with an exclusion, git `config.json` files, a matrix
//! of clusters × list, pull request previews, a plugin, PlacementDecisions) end to end; git
//! repositories made with `git`, and the pull request and SCM APIs and a generator plugin
//! served over HTTP on 127.0.0.1 by a small server here that speaks each provider's shapes
//! (paging, auth headers, a rate limit).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{copy_dir, err, git_in, gitops, gitops_env, out, repo, write_under};

/// `gitops appset generate FILE ARGS... -o json` with `env`; the Applications when it exits 0.
fn generate(file: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, Vec<Value>) {
    let mut all = vec!["appset", "generate", file.to_str().unwrap(), "-o", "json"];
    all.extend(args);
    let o = gitops_env(&all, None, env);
    let apps = if o.status.code() == Some(0) {
        serde_json::from_str(&out(&o)).unwrap_or_else(|e| panic!("not a JSON list: {e}: {}", out(&o)))
    } else {
        Vec::new()
    };
    (o, apps)
}

fn names(apps: &[Value]) -> Vec<&str> {
    apps.iter().map(|a| a["metadata"]["name"].as_str().unwrap_or("")).collect()
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", out(o), err(o));
}

fn fails_with(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "stdout:\n{}\nstderr:\n{}", out(o), err(o));
    assert!(err(o).contains(needle), "expected {needle:?} in:\n{}", err(o));
}

fn cluster_secret(name: &str, server: &str, env: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-{name}\n  namespace: argocd\n  labels: {{argocd.argoproj.io/secret-type: cluster, env: {env}}}\nstringData:\n  name: {name}\n  server: {server}\n  config: '{{}}'\n"
    )
}

/// A list per environment: one Application each, in element order, in the set's namespace,
/// with the template's labels and finalizer; the same in YAML.
#[test]
fn a_list_per_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("envs.yaml");
    write_under(
        dir.path(),
        "envs.yaml",
        r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: guestbook, namespace: team-a}
spec:
  generators:
  - list:
      elements:
      - {env: staging, server: "https://staging.example:6443"}
      - {env: dev, server: "https://dev.example:6443"}
      - {env: prod, server: "https://prod.example:6443", values: {replicas: "3"}}
  template:
    metadata:
      name: 'guestbook-{{env}}'
      labels: {env: '{{env}}'}
      annotations: {replicas: '{{values.replicas}}'}
    spec:
      project: default
      source: {repoURL: "https://git.example/apps.git", path: 'envs/{{env}}', targetRevision: HEAD}
      destination: {server: '{{server}}', namespace: guestbook}
"#,
    );
    let (o, apps) = generate(&file, &[], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["guestbook-staging", "guestbook-dev", "guestbook-prod"], "generation order");
    let prod = &apps[2];
    assert_eq!(prod["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(prod["kind"], "Application");
    assert_eq!(prod["metadata"]["namespace"], "team-a");
    assert_eq!(prod["metadata"]["labels"], json!({"env": "prod"}));
    assert_eq!(prod["metadata"]["annotations"], json!({"replicas": "3"}));
    assert_eq!(apps[0]["metadata"]["annotations"], json!({"replicas": "{{values.replicas}}"}), "fasttemplate");
    assert_eq!(prod["metadata"]["finalizers"], json!(["resources-finalizer.argocd.argoproj.io"]));
    assert!(prod["metadata"].get("ownerReferences").is_none());
    assert_eq!(prod["spec"]["source"]["path"], "envs/prod");
    assert_eq!(prod["spec"]["destination"]["server"], "https://prod.example:6443");

    let yaml = gitops(&["appset", "generate", file.to_str().unwrap()], None);
    ok(&yaml);
    assert_eq!(out(&yaml).matches("kind: Application\n").count(), 3, "{}", out(&yaml));
    assert!(out(&yaml).starts_with("---\n"), "{}", out(&yaml));
}

/// The clusters generator over `--clusters` Secrets (a directory): the selector keeps the
/// labelled clusters (and drops in-cluster), `values` render from each cluster's labels.
/// Destinations are not checked against the clusters: a template naming another server
/// still generates, as with `argocd appset generate`.
#[test]
fn clusters_with_values() {
    let dir = tempfile::tempdir().unwrap();
    write_under(dir.path(), "clusters/prod.yaml", &cluster_secret("prod-eu", "https://prod-eu.example:6443", "prod"));
    write_under(dir.path(), "clusters/dev.yaml", &cluster_secret("dev", "https://dev.example:6443", "dev"));
    write_under(
        dir.path(),
        "clusters/other.yaml",
        &cluster_secret("prod-us", "https://prod-us.example:6443", "prod")
            .replace("env: prod", "env: prod, tier: gold"),
    );
    write_under(
        dir.path(),
        "set.yaml",
        r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: monitoring, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - clusters:
      selector: {matchLabels: {env: prod}}
      values:
        revision: 'release-{{ .metadata.labels.env }}'
        tier: '{{ index .metadata.labels "tier" | default "standard" }}'
  template:
    metadata: {name: 'monitoring-{{ .nameNormalized }}'}
    spec:
      project: '{{ .values.tier }}'
      source: {repoURL: "https://git.example/monitoring.git", targetRevision: '{{ .values.revision }}', path: deploy}
      destination: {server: '{{ .server }}', namespace: monitoring}
"#,
    );
    let clusters = dir.path().join("clusters");
    let (o, apps) = generate(&dir.path().join("set.yaml"), &["--clusters", clusters.to_str().unwrap()], &[]);
    ok(&o);
    let mut got: Vec<(String, String, String, String)> = apps
        .iter()
        .map(|a| {
            (
                a["metadata"]["name"].as_str().unwrap().to_string(),
                a["spec"]["destination"]["server"].as_str().unwrap().to_string(),
                a["spec"]["source"]["targetRevision"].as_str().unwrap().to_string(),
                a["spec"]["project"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "monitoring-prod-eu".into(),
                "https://prod-eu.example:6443".into(),
                "release-prod".into(),
                "standard".into()
            ),
            ("monitoring-prod-us".into(), "https://prod-us.example:6443".into(), "release-prod".into(), "gold".into()),
        ]
    );

    // Without a selector every cluster comes, and in-cluster with them.
    let all = std::fs::read_to_string(dir.path().join("set.yaml"))
        .unwrap()
        .replace("      selector: {matchLabels: {env: prod}}\n", "")
        .replace("'release-{{ .metadata.labels.env }}'", "'release-{{ .name }}'")
        .replace(r#"'{{ index .metadata.labels "tier" | default "standard" }}'"#, "standard")
        .replace("server: '{{ .server }}'", "server: 'https://unregistered.example'");
    write_under(dir.path(), "all.yaml", &all);
    let (o, apps) = generate(&dir.path().join("all.yaml"), &["--clusters", clusters.to_str().unwrap()], &[]);
    ok(&o);
    let mut n = names(&apps);
    n.sort();
    assert_eq!(n, ["monitoring-dev", "monitoring-in-cluster", "monitoring-prod-eu", "monitoring-prod-us"]);
}

/// Git directories with an excluded glob, from a real repository fetched through the Git
/// cache (a file:// URL, no --local), at a branch.
#[test]
fn git_directories_with_an_excluded_glob() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    std::fs::create_dir_all(&origin).unwrap();
    git_in(&origin, &["init", "-q"]);
    for app in ["web", "api", "legacy-web", "legacy-api", ".hidden"] {
        write_under(&origin, &format!("apps/{app}/kustomization.yaml"), "resources: []\n");
    }
    write_under(&origin, "apps/web/nested/kustomization.yaml", "resources: []\n");
    git_in(&origin, &["add", "-A"]);
    git_in(&origin, &["commit", "-qm", "apps"]);
    git_in(&origin, &["checkout", "-qb", "release"]);
    write_under(&origin, "apps/batch/kustomization.yaml", "resources: []\n");
    git_in(&origin, &["add", "-A"]);
    git_in(&origin, &["commit", "-qm", "batch on release"]);
    git_in(&origin, &["checkout", "-q", "main"]);
    let url = format!("file://{}", origin.display());
    let set = format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: apps, namespace: argocd}}
spec:
  generators:
  - git:
      repoURL: {url}
      revision: release
      directories:
      - path: apps/*
      - path: apps/legacy-*
        exclude: true
  template:
    metadata: {{name: '{{{{path.basename}}}}'}}
    spec:
      project: default
      source: {{repoURL: {url}, targetRevision: release, path: '{{{{path}}}}'}}
      destination: {{server: https://kubernetes.default.svc, namespace: '{{{{path[1]}}}}'}}
"#
    );
    write_under(dir.path(), "set.yaml", &set);
    let cache = dir.path().join("cache");
    let (o, apps) = generate(&dir.path().join("set.yaml"), &[], &[("GITOPS_CACHE", cache.to_str().unwrap())]);
    ok(&o);
    assert_eq!(names(&apps), ["api", "batch", "web"], "path order; legacy-* excluded, hidden and nested skipped");
    assert_eq!(apps[1]["spec"]["source"]["path"], "apps/batch", "the release branch was read");
    assert_eq!(apps[2]["spec"]["destination"]["namespace"], "web");

    // The same repository from a checkout (--local URL=DIR): main has no batch.
    let local = format!("{url}={}", origin.display());
    let (o, apps) = generate(&dir.path().join("set.yaml"), &["--local", &local], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["api", "web"]);
}

/// Git files: each `config.json` (one indented with tabs, legal JSON) gives one Application
/// from its keys; the path parameters name the file's directory.
#[test]
fn git_files_config_json() {
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("config");
    std::fs::create_dir_all(&checkout).unwrap();
    write_under(
        &checkout,
        "clusters/prod/config.json",
        "{\n\t\"cluster\": {\n\t\t\"name\": \"prod\",\n\t\t\"address\": \"https://prod.example:6443\"\n\t},\n\t\"replicas\": 3\n}\n",
    );
    write_under(
        &checkout,
        "clusters/dev/config.json",
        r#"{"cluster": {"name": "dev", "address": "https://dev.example:6443"}, "replicas": 1}"#,
    );
    write_under(&checkout, "clusters/dev/notes.yaml", "not: used\n");
    git_in(&checkout, &["init", "-q"]);
    git_in(&checkout, &["add", "-A"]);
    git_in(&checkout, &["commit", "-qm", "config"]);
    const URL: &str = "https://git.example/config.git";
    write_under(
        dir.path(),
        "set.yaml",
        &format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: guestbook, namespace: argocd}}
spec:
  generators:
  - git:
      repoURL: {URL}
      revision: HEAD
      files:
      - path: "clusters/**/config.json"
  template:
    metadata: {{name: '{{{{cluster.name}}}}-guestbook'}}
    spec:
      project: default
      source:
        repoURL: {URL}
        path: '{{{{path}}}}'
        helm: {{parameters: [{{name: replicas, value: '{{{{replicas}}}}'}}, {{name: file, value: '{{{{path.filename}}}}'}}]}}
      destination: {{server: '{{{{cluster.address}}}}', namespace: guestbook}}
"#
        ),
    );
    let local = format!("{URL}={}", checkout.display());
    let (o, apps) = generate(&dir.path().join("set.yaml"), &["--local", &local], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["dev-guestbook", "prod-guestbook"], "files in path order");
    let prod = &apps[1];
    assert_eq!(prod["spec"]["destination"]["server"], "https://prod.example:6443", "the tab-indented file");
    assert_eq!(prod["spec"]["source"]["path"], "clusters/prod");
    assert_eq!(
        prod["spec"]["source"]["helm"]["parameters"],
        json!([{"name": "replicas", "value": "3"}, {"name": "file", "value": "config.json"}])
    );
}

/// A matrix of clusters × list: each cluster's `values` name a value file from its `env`
/// label; every app of the list goes to every selected cluster.
#[test]
fn a_matrix_of_clusters_and_a_list_with_a_label_derived_value_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut secrets = cluster_secret("prod", "https://prod.example:6443", "production");
    secrets.push_str("---\n");
    secrets.push_str(&cluster_secret("stage", "https://stage.example:6443", "staging"));
    write_under(dir.path(), "clusters.yaml", &secrets);
    write_under(
        dir.path(),
        "set.yaml",
        r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: platform, namespace: argocd}
spec:
  generators:
  - matrix:
      generators:
      - clusters:
          selector: {matchExpressions: [{key: env, operator: Exists}]}
          values: {valueFile: 'values-{{metadata.labels.env}}.yaml'}
      - list:
          elements: [{app: ingress}, {app: cert-manager}]
  template:
    metadata: {name: '{{app}}-{{name}}'}
    spec:
      project: default
      source:
        repoURL: https://git.example/platform.git
        path: 'charts/{{app}}'
        helm: {valueFiles: ['{{values.valueFile}}']}
      destination: {server: '{{server}}', namespace: '{{app}}'}
"#,
    );
    let clusters = dir.path().join("clusters.yaml");
    let (o, apps) = generate(&dir.path().join("set.yaml"), &["--clusters", clusters.to_str().unwrap()], &[]);
    ok(&o);
    let mut got: Vec<(String, String)> = apps
        .iter()
        .map(|a| {
            (
                a["metadata"]["name"].as_str().unwrap().to_string(),
                a["spec"]["source"]["helm"]["valueFiles"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("cert-manager-prod".into(), "values-production.yaml".into()),
            ("cert-manager-stage".into(), "values-staging.yaml".into()),
            ("ingress-prod".into(), "values-production.yaml".into()),
            ("ingress-stage".into(), "values-staging.yaml".into()),
        ]
    );
}

/// Problems are exit 2 with a message naming them: the file, duplicates (every name),
/// a matrix without two children, an unknown generator, a template error, a bad --clusters.
#[test]
fn errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let set = |name: &str, generators: &str, extra: &str| {
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n{extra}  generators:\n{generators}  template:\n    metadata: {{name: 'app-{{{{ .a }}}}'}}\n    spec: {{project: default, destination: {{server: https://kubernetes.default.svc}}}}\n"
        );
        write_under(dir.path(), &format!("{name}.yaml"), &text);
        dir.path().join(format!("{name}.yaml"))
    };
    let (o, _) = generate(&dir.path().join("missing.yaml"), &[], &[]);
    fails_with(&o, "missing.yaml");

    let dup = set("dup", "  - list: {elements: [{a: x}, {a: w}, {a: x}, {a: w}]}\n", "  goTemplate: true\n");
    let (o, _) = generate(&dup, &[], &[]);
    fails_with(&o, "ApplicationSet argocd/dup");
    assert!(
        err(&o).contains("\"app-x\" is generated twice") && err(&o).contains("\"app-w\" is generated twice"),
        "{}",
        err(&o)
    );

    let matrix = set(
        "matrix",
        "  - matrix: {generators: [{list: {elements: [{a: x}]}}, {list: {elements: [{b: y}]}}, {list: {elements: [{c: z}]}}]}\n",
        "  goTemplate: true\n",
    );
    let (o, _) = generate(&matrix, &[], &[]);
    fails_with(
        &o,
        "ApplicationSet argocd/matrix: generators[0] (matrix): matrix: found 3 child generators; matrix needs exactly two",
    );

    let unknown = set("unknown", "  - lists: {elements: [{a: x}]}\n", "  goTemplate: true\n");
    let (o, _) = generate(&unknown, &[], &[]);
    fails_with(
        &o,
        "ApplicationSet argocd/unknown: generators[0] (none): unknown generator `lists`: expected one of list,",
    );

    let template = set(
        "template",
        "  - list: {elements: [{b: x}]}\n",
        "  goTemplate: true\n  goTemplateOptions: [\"missingkey=error\"]\n",
    );
    let (o, _) = generate(&template, &[], &[]);
    fails_with(&o, "ApplicationSet argocd/template: generators[0] (list), parameter set 0: template:");

    write_under(
        dir.path(),
        "bad-clusters/c.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: c, namespace: argocd, labels: {argocd.argoproj.io/secret-type: cluster}}\nstringData: {name: c}\n",
    );
    let ok_set = set("fine", "  - list: {elements: [{a: x}]}\n", "  goTemplate: true\n");
    let bad = dir.path().join("bad-clusters");
    let (o, _) = generate(&ok_set, &["--clusters", bad.to_str().unwrap()], &[]);
    fails_with(&o, "--clusters");
    let (o, apps) = generate(&ok_set, &[], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["app-x"]);
}

/// `appset list` and `appset get` over the hub a fleet reconcile left (examples/fleet's
/// ApplicationSet `overlays` and the Applications it owns).
#[test]
fn list_and_get_read_the_hub() {
    const FLEET_URL: &str = "https://git.example.com/fleet.git";
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("fleet");
    copy_dir(&repo().join("examples/fleet"), &checkout);
    let hub = dir.path().join("hub");
    let local = format!("{FLEET_URL}={}", checkout.display());
    let target = format!("dir:{}", hub.display());
    let root = checkout.join("root.yaml");
    let o = gitops(&["reconcile", "--app", root.to_str().unwrap(), "--local", &local, "--target", &target], None);
    ok(&o);
    let set = std::fs::read_to_string(checkout.join("apps/appset-overlays.yaml")).unwrap();
    let set = gitops_core::manifest::parse("appset-overlays.yaml", &set).unwrap().remove(0).value().clone();

    let o = gitops(&["appset", "list", "--hub", &target, "-o", "json"], None);
    ok(&o);
    let list: Vec<Value> = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "overlays");
    assert_eq!(list[0]["namespace"], "argocd");
    assert_eq!(list[0]["project"], set["spec"]["template"]["spec"]["project"]);
    assert_eq!(list[0]["repo"], set["spec"]["template"]["spec"]["source"]["repoURL"]);
    let owned: Vec<String> =
        list[0]["applications"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(owned.len(), 2, "{owned:?}");
    let apps = gitops(&["app", "list", "--hub", &target, "-o", "json"], None);
    ok(&apps);
    let apps: Vec<Value> = serde_json::from_str(&out(&apps)).unwrap();
    for name in &owned {
        assert!(apps.iter().any(|a| a["name"] == json!(name)), "{name} is an Application of the hub: {apps:?}");
    }

    let o = gitops(&["appset", "list", "--hub", &target], None);
    ok(&o);
    let table = out(&o);
    assert!(table.starts_with("NAME "), "{table}");
    for column in ["NAMESPACE", "PROJECT", "SYNCPOLICY", "CONDITIONS", "REPO", "PATH", "TARGET"] {
        assert!(table.lines().next().unwrap().contains(column), "{table}");
    }
    assert!(table.lines().nth(1).unwrap().starts_with("overlays "), "{table}");

    let o = gitops(&["appset", "get", "overlays", "--hub", &target], None);
    ok(&o);
    let text = out(&o);
    assert!(text.contains("Name:          argocd/overlays"), "{text}");
    assert!(text.contains("Generators:    git"), "{text}");
    for name in &owned {
        let line = text.lines().find(|l| l.starts_with(name.as_str())).unwrap_or_else(|| panic!("{name}: {text}"));
        assert!(line.contains("Synced"), "{line}");
    }
    let o = gitops(&["appset", "get", "nope", "--hub", &target], None);
    fails_with(&o, "applicationset 'nope' not found");
}

// ---------------------------------------------------------------------------------------
// Pull request and SCM providers, served on 127.0.0.1.

/// One request the server saw.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) headers: BTreeMap<String, String>,
    /// The method (`GET`, `POST`).
    pub(crate) method: String,
    /// The body, as the Content-Length header sizes it.
    pub(crate) body: String,
}

/// An answer: status, extra headers, JSON body.
pub(crate) type Answer = (u16, Vec<(String, String)>, Value);

/// A provider API on 127.0.0.1: a thread answering each request with `route`, one
/// connection per request.
pub(crate) struct Server {
    pub(crate) base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub(crate) fn start(route: impl Fn(&Seen, &str) -> Answer + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (record, me) = (seen.clone(), base.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let method = line.split_whitespace().next().unwrap_or("").to_string();
                let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut headers = BTreeMap::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let length = headers.get("content-length").and_then(|l| l.parse::<usize>().ok()).unwrap_or(0);
                let mut body = vec![0; length];
                if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                    continue;
                }
                let body = String::from_utf8_lossy(&body).into_owned();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let query = query
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let request = Seen { path: path.to_string(), query, headers, method, body };
                record.lock().unwrap().push(request.clone());
                let (status, extra, body) = route(&request, &me);
                let body = body.to_string();
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    response.push_str(&format!("{k}: {v}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&body);
                let _ = stream.write_all(response.as_bytes());
                let _ = stream.flush();
            }
        });
        Server { base, seen }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn unauthorized() -> Answer {
    (401, vec![], json!({"message": "Bad credentials"}))
}

fn not_found() -> Answer {
    (404, vec![], json!({"message": "Not Found"}))
}

fn github_pull(number: u64, branch: &str, title: &str, labels: &[&str], sha: &str) -> Value {
    json!({
        "number": number, "title": title, "state": "open",
        "head": {"ref": branch, "sha": sha}, "base": {"ref": "main", "sha": "0000"},
        "labels": labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "user": {"login": format!("dev{number}")},
    })
}

/// GitHub: pulls over two pages (`Link: rel="next"`), Bearer auth checked, a rate-limited
/// repository; an organization's repositories over two pages, default branches and contents.
pub(crate) fn github(seen: &Seen, base: &str) -> Answer {
    if seen.headers.get("authorization").map(String::as_str) != Some("Bearer gh-secret-token") {
        return unauthorized();
    }
    let page = seen.query.get("page").map(String::as_str).unwrap_or("1");
    let next = |path: &str| {
        vec![(
            "Link".to_string(),
            format!(
                "<{base}{path}?per_page=100&page=2>; rel=\"next\", <{base}{path}?per_page=100&page=2>; rel=\"last\""
            ),
        )]
    };
    match (seen.path.as_str(), page) {
        ("/api/v3/repos/acme/shop/pulls", "1") => (
            200,
            next("/api/v3/repos/acme/shop/pulls"),
            json!([
                github_pull(12, "feature/Add_Cart", "Add a cart", &["preview"], "a1b2c3d4e5f6a7b8c9d0"),
                github_pull(13, "docs/typo", "Fix a typo", &[], "1111111111111111"),
            ]),
        ),
        ("/api/v3/repos/acme/shop/pulls", "2") => (
            200,
            vec![],
            json!([github_pull(15, "fix/checkout", "Fix checkout", &["preview", "urgent"], "ffee0011223344556677")]),
        ),
        ("/api/v3/repos/acme/limited/pulls", _) => (
            403,
            vec![("X-RateLimit-Remaining".into(), "0".into()), ("X-RateLimit-Reset".into(), "1798761600".into())],
            json!({"message": "API rate limit exceeded"}),
        ),
        ("/api/v3/orgs/acme/repos", "1") => (
            200,
            next("/api/v3/orgs/acme/repos"),
            json!([
                {"id": 101, "name": "shop", "owner": {"login": "acme"}, "default_branch": "main",
                 "ssh_url": "git@github.example:acme/shop.git", "clone_url": "https://github.example/acme/shop.git", "topics": ["deploy"]},
                {"id": 102, "name": "docs", "owner": {"login": "acme"}, "default_branch": "main",
                 "ssh_url": "git@github.example:acme/docs.git", "clone_url": "https://github.example/acme/docs.git", "topics": []},
            ]),
        ),
        ("/api/v3/orgs/acme/repos", "2") => (
            200,
            vec![],
            json!([{"id": 103, "name": "billing", "owner": {"login": "acme"}, "default_branch": "trunk",
                "ssh_url": "git@github.example:acme/billing.git", "clone_url": "https://github.example/acme/billing.git", "topics": ["deploy", "pci"]}]),
        ),
        ("/api/v3/repos/acme/shop/branches/main", _) => {
            (200, vec![], json!({"name": "main", "commit": {"sha": "5a5a5a5a5a5a5a5a"}}))
        }
        ("/api/v3/repos/acme/billing/branches/trunk", _) => {
            (200, vec![], json!({"name": "trunk", "commit": {"sha": "b1b1b1b1b1b1b1b1"}}))
        }
        ("/api/v3/repos/acme/shop/contents/deploy", _) if seen.query.get("ref").map(String::as_str) == Some("main") => {
            (200, vec![], json!([{"name": "kustomization.yaml"}]))
        }
        _ => not_found(),
    }
}

fn write_secret(dir: &Path, rel: &str, name: &str, key: &str, value: &str) {
    write_under(
        dir,
        rel,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: previews}}\nstringData: {{{key}: {value}}}\n"
        ),
    );
}

const PREVIEW_TEMPLATE: &str = r#"  template:
    metadata:
      name: 'shop-{{ .branch_slug }}-{{ .number }}'
      labels: {pr: '{{ .number }}', author: '{{ .author }}'}
      annotations: {labels: '{{ join "," .labels }}', title: '{{ .title }}'}
    spec:
      project: previews
      source:
        repoURL: https://github.example/acme/shop.git
        targetRevision: '{{ .head_sha }}'
        path: deploy
        kustomize: {images: ['shop:{{ .head_short_sha }}', 'shop-7:{{ .head_short_sha_7 }}']}
      destination: {server: https://kubernetes.default.svc, namespace: '{{ .values.ns }}'}
"#;

/// A pull request preview set against GitHub: the `preview` label filter (all pages), a
/// branch filter, the token from a `--secrets` Secret, every parameter; then a rate limit
/// names its reset time.
#[test]
fn pull_request_previews_from_github() {
    let server = Server::start(github);
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "secrets/gh.yaml", "github-token", "token", "gh-secret-token");
    let set = |repo: &str| {
        format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: shop-previews, namespace: previews}}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - pullRequest:
      github:
        api: {}
        owner: acme
        repo: {repo}
        tokenRef: {{secretName: github-token, key: token}}
        labels: [preview]
      filters:
      - branchMatch: "^(feature|fix)/"
      requeueAfterSeconds: 120
      values: {{ns: 'preview-{{{{ .number }}}}'}}
{PREVIEW_TEMPLATE}"#,
            server.base
        )
    };
    write_under(dir.path(), "set.yaml", &set("shop"));
    let secrets = dir.path().join("secrets");
    let (o, apps) = generate(&dir.path().join("set.yaml"), &["--secrets", secrets.to_str().unwrap()], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["shop-feature-add-cart-12", "shop-fix-checkout-15"]);
    let first = &apps[0];
    assert_eq!(first["metadata"]["namespace"], "previews");
    assert_eq!(first["metadata"]["labels"], json!({"pr": "12", "author": "dev12"}));
    assert_eq!(first["metadata"]["annotations"], json!({"labels": "preview", "title": "Add a cart"}));
    assert_eq!(first["spec"]["source"]["targetRevision"], "a1b2c3d4e5f6a7b8c9d0");
    assert_eq!(first["spec"]["source"]["kustomize"]["images"], json!(["shop:a1b2c3d4", "shop-7:a1b2c3d"]));
    assert_eq!(first["spec"]["destination"]["namespace"], "preview-12");
    assert_eq!(apps[1]["metadata"]["annotations"]["labels"], "preview,urgent");
    let pages: Vec<Option<String>> =
        server.seen().iter().filter(|s| s.path.ends_with("/pulls")).map(|s| s.query.get("page").cloned()).collect();
    assert_eq!(pages, [None, Some("2".to_string())], "two pages");

    // Without the Secret the server refuses: the error names the URL and the status.
    let (o, _) = generate(&dir.path().join("set.yaml"), &[], &[("GITHUB_TOKEN", "")]);
    fails_with(&o, "Secret previews/github-token, key \"token\": no such Secret was given");

    write_under(dir.path(), "limited.yaml", &set("limited"));
    let (o, _) = generate(&dir.path().join("limited.yaml"), &["--secrets", secrets.to_str().unwrap()], &[]);
    fails_with(&o, "HTTP 403: rate limit exceeded; the limit resets at 2027-01-01T00:00:00Z");
    assert!(err(&o).contains("generators[0] (pullRequest)"), "{}", err(&o));
}

/// GitLab merge requests: `PRIVATE-TOKEN` from GITLAB_TOKEN, labels and state passed to the
/// API, `X-Next-Page` paging; a project path is one encoded segment.
#[test]
fn pull_request_previews_from_gitlab() {
    let server = Server::start(|seen, _| {
        if seen.headers.get("private-token").map(String::as_str) != Some("gl-env-token") {
            return unauthorized();
        }
        if seen.path != "/api/v4/projects/acme%2Fshop/merge_requests" {
            return not_found();
        }
        assert_eq!(seen.query.get("labels").map(String::as_str), Some("preview"));
        assert_eq!(seen.query.get("state").map(String::as_str), Some("opened"));
        let mr = |iid: u64, branch: &str| {
            json!({"iid": iid, "title": format!("MR {iid}"), "source_branch": branch, "target_branch": "main",
                "sha": format!("{iid:0>12}"), "labels": ["preview"], "author": {"username": "gl"}})
        };
        match seen.query.get("page").map(String::as_str) {
            None => (200, vec![("X-Next-Page".into(), "2".into())], json!([mr(4, "feat/one"), mr(5, "feat/two")])),
            Some("2") => (200, vec![("X-Next-Page".into(), String::new())], json!([mr(6, "feat/three")])),
            _ => not_found(),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    write_under(
        dir.path(),
        "set.yaml",
        &format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: shop-previews, namespace: previews}}
spec:
  goTemplate: true
  generators:
  - pullRequest:
      gitlab: {{api: '{}', project: acme/shop, labels: [preview], pullRequestState: opened}}
      values: {{ns: 'mr-{{{{ .number }}}}'}}
{PREVIEW_TEMPLATE}"#,
            server.base
        ),
    );
    let (o, apps) = generate(&dir.path().join("set.yaml"), &[], &[("GITLAB_TOKEN", "gl-env-token")]);
    ok(&o);
    assert_eq!(names(&apps), ["shop-feat-one-4", "shop-feat-two-5", "shop-feat-three-6"]);
    assert_eq!(apps[2]["spec"]["source"]["targetRevision"], "000000000006");
    assert_eq!(server.seen().len(), 2);
}

/// Gitea pulls (`Authorization: token`, page/limit until an empty page, labels filtered here)
/// and Bitbucket Server pull requests (basic auth from a Secret's data, `isLastPage` and
/// `nextPageStart`).
#[test]
fn pull_request_previews_from_gitea_and_bitbucket_server() {
    let server = Server::start(|seen, _| match seen.path.as_str() {
        "/api/v1/repos/acme/shop/pulls" => {
            if seen.headers.get("authorization").map(String::as_str) != Some("token gitea-token") {
                return unauthorized();
            }
            assert_eq!(seen.query.get("state").map(String::as_str), Some("open"));
            let pull = |n: u64, labels: &[&str]| {
                json!({"number": n, "title": format!("PR {n}"), "head": {"ref": format!("topic-{n}"), "sha": format!("{n:0>10}")},
                    "base": {"ref": "main"}, "labels": labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
                    "user": {"login": "gt"}})
            };
            match seen.query.get("page").map(String::as_str) {
                Some("1") => (200, vec![], json!([pull(1, &["preview"]), pull(2, &[])])),
                Some("2") => (200, vec![], json!([pull(3, &["preview"])])),
                _ => (200, vec![], json!([])),
            }
        }
        "/rest/api/1.0/projects/ACME/repos/shop/pull-requests" => {
            // "bb:bb-password"
            if seen.headers.get("authorization").map(String::as_str) != Some("Basic YmI6YmItcGFzc3dvcmQ=") {
                return unauthorized();
            }
            let pr = |id: u64| {
                json!({"id": id, "title": format!("BB {id}"), "fromRef": {"displayId": format!("bb/{id}"), "latestCommit": format!("{id:0>9}")},
                    "toRef": {"displayId": "master"}, "author": {"user": {"name": "bbdev"}}})
            };
            match seen.query.get("start").map(String::as_str) {
                None => (200, vec![], json!({"values": [pr(7), pr(8)], "isLastPage": false, "nextPageStart": 2})),
                Some("2") => (200, vec![], json!({"values": [pr(9)], "isLastPage": true})),
                _ => not_found(),
            }
        }
        _ => not_found(),
    });
    let dir = tempfile::tempdir().unwrap();
    write_under(
        dir.path(),
        "secrets.yaml",
        // base64 of "gitea-token" and "bb-password".
        "apiVersion: v1\nkind: Secret\nmetadata: {name: scm, namespace: previews}\ndata: {gitea: Z2l0ZWEtdG9rZW4=, bb: YmItcGFzc3dvcmQ=}\n",
    );
    let write = |name: &str, provider: String| {
        write_under(
            dir.path(),
            name,
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: p, namespace: previews}}\nspec:\n  goTemplate: true\n  generators:\n  - pullRequest:\n{provider}      values: {{ns: 'pr-{{{{ .number }}}}'}}\n{PREVIEW_TEMPLATE}"
            ),
        );
        dir.path().join(name)
    };
    let secrets = dir.path().join("secrets.yaml");
    let gitea = write(
        "gitea.yaml",
        format!(
            "      gitea: {{api: '{}', owner: acme, repo: shop, labels: [preview], tokenRef: {{secretName: scm, key: gitea}}}}\n",
            server.base
        ),
    );
    let (o, apps) = generate(&gitea, &["--secrets", secrets.to_str().unwrap()], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["shop-topic-1-1", "shop-topic-3-3"]);
    let gitea_pages = server.seen().iter().filter(|s| s.path.contains("/api/v1/")).count();
    assert_eq!(gitea_pages, 3, "two pages and the empty one");

    let bitbucket = write(
        "bb.yaml",
        format!(
            "      bitbucketServer: {{api: '{}', project: ACME, repo: shop, basicAuth: {{username: bb, passwordRef: {{secretName: scm, key: bb}}}}}}\n",
            server.base
        ),
    );
    let (o, apps) = generate(&bitbucket, &["--secrets", secrets.to_str().unwrap()], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["shop-bb-7-7", "shop-bb-8-8", "shop-bb-9-9"]);
    assert_eq!(apps[0]["metadata"]["labels"]["author"], "bbdev");
}

/// scmProvider over a GitHub organization: two pages of repositories, a label filter run
/// before branches are read, a pathsExist filter, https clone URLs, every parameter.
#[test]
fn scm_provider_over_a_github_organization() {
    let server = Server::start(github);
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "gh.yaml", "gh", "token", "gh-secret-token");
    let set = |filters: &str| {
        format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: org, namespace: previews}}
spec:
  generators:
  - scmProvider:
      github: {{api: '{}', organization: acme, tokenRef: {{secretName: gh, key: token}}}}
      cloneProtocol: https
      filters: {filters}
  template:
    metadata:
      name: '{{{{repository}}}}-{{{{branchNormalized}}}}'
      annotations: {{labels: '{{{{labels}}}}', sha: '{{{{short_sha}}}}', sha7: '{{{{short_sha_7}}}}', org: '{{{{organization}}}}'}}
    spec:
      project: default
      source: {{repoURL: '{{{{url}}}}', targetRevision: '{{{{sha}}}}', path: deploy}}
      destination: {{server: https://kubernetes.default.svc, namespace: '{{{{repository}}}}'}}
"#,
            server.base
        )
    };
    write_under(dir.path(), "labels.yaml", &set("[{labelMatch: ^deploy$}]"));
    let secrets = dir.path().join("gh.yaml");
    let (o, apps) = generate(&dir.path().join("labels.yaml"), &["--secrets", secrets.to_str().unwrap()], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["shop-main", "billing-trunk"]);
    assert_eq!(
        apps[1]["metadata"]["annotations"],
        json!({"labels": "deploy,pci", "sha": "b1b1b1b1", "sha7": "b1b1b1b", "org": "acme"})
    );
    assert_eq!(apps[1]["spec"]["source"]["repoURL"], "https://github.example/acme/billing.git");
    assert!(!server.seen().iter().any(|s| s.path.contains("/docs/")), "docs was filtered before its branches");

    write_under(dir.path(), "paths.yaml", &set("[{pathsExist: [deploy/]}]"));
    let (o, apps) = generate(&dir.path().join("paths.yaml"), &["--secrets", secrets.to_str().unwrap()], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["shop-main"]);
}

/// scmProvider over a Gitea organization: repositories and their labels paged until an empty
/// page, every branch (`allBranches`), `pathsExist` asked at each branch, `ssh` URLs by default.
#[test]
fn scm_provider_over_a_gitea_organization() {
    let server = Server::start(|seen, _| {
        if seen.headers.get("authorization").map(String::as_str) != Some("token gitea-org-token") {
            return unauthorized();
        }
        let first = seen.query.get("page").map(String::as_str) == Some("1");
        let page = |items: Value| (200, vec![], if first { items } else { json!([]) });
        match seen.path.as_str() {
            "/api/v1/orgs/acme/repos" => page(json!([{"id": 201, "name": "web", "default_branch": "main",
                "ssh_url": "git@gitea.example:acme/web.git", "html_url": "https://gitea.example/acme/web"}])),
            "/api/v1/repos/acme/web/labels" => page(json!([{"name": "team-a"}, {"name": "deploy"}])),
            "/api/v1/repos/acme/web/branches" => page(json!([
                {"name": "main", "commit": {"id": "c0ffee00112233"}},
                {"name": "feature/X", "commit": {"id": "beef0000999988"}},
            ])),
            "/api/v1/repos/acme/web/contents/chart" if seen.query.get("ref").map(String::as_str) == Some("main") => {
                (200, vec![], json!({"type": "dir"}))
            }
            _ => not_found(),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    write_under(
        dir.path(),
        "token.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: gitea, namespace: argocd}\nstringData: {token: gitea-org-token}\n",
    );
    let set = |filters: &str| {
        format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: org, namespace: argocd}}
spec:
  generators:
  - scmProvider:
      gitea: {{api: '{}', owner: acme, allBranches: true, tokenRef: {{secretName: gitea, key: token}}}}
      filters: {filters}
  template:
    metadata: {{name: '{{{{repository}}}}-{{{{branchNormalized}}}}', annotations: {{labels: '{{{{labels}}}}'}}}}
    spec:
      project: default
      source: {{repoURL: '{{{{url}}}}', targetRevision: '{{{{short_sha}}}}', path: chart}}
      destination: {{server: https://kubernetes.default.svc, namespace: web}}
"#,
            server.base
        )
    };
    let token = dir.path().join("token.yaml");
    write_under(dir.path(), "all.yaml", &set("[]"));
    let (o, apps) = generate(&dir.path().join("all.yaml"), &["--secrets", token.to_str().unwrap()], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["web-main", "web-feature-x"]);
    assert_eq!(apps[1]["spec"]["source"]["targetRevision"], "beef0000");
    assert_eq!(apps[0]["spec"]["source"]["repoURL"], "git@gitea.example:acme/web.git");
    assert_eq!(apps[0]["metadata"]["annotations"]["labels"], "team-a,deploy");

    write_under(dir.path(), "chart.yaml", &set("[{pathsExist: [chart]}]"));
    let (o, apps) = generate(&dir.path().join("chart.yaml"), &["--secrets", token.to_str().unwrap()], &[]);
    ok(&o);
    assert_eq!(names(&apps), ["web-main"]);
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s.path.ends_with("/contents/chart")
                && s.query.get("ref").map(String::as_str) == Some("feature%2FX")),
        "the other branch was asked too"
    );
}

/// A plugin on 127.0.0.1 as Argo CD's documentation describes one: it answers
/// `POST /api/v1/getparams.execute` with a bearer token, one parameter set per entry of the
/// input's `envs`, and 401 with a message otherwise.
fn plugin(seen: &Seen, _: &str) -> Answer {
    if seen.method != "POST" || seen.path != "/api/v1/getparams.execute" {
        return not_found();
    }
    if seen.headers.get("authorization").map(String::as_str) != Some("Bearer strong-password") {
        return (401, vec![], json!({"message": "bad token"}));
    }
    let Ok(body) = serde_json::from_str::<Value>(&seen.body) else {
        return (400, vec![], json!({"error": "not JSON"}));
    };
    let input = &body["input"]["parameters"];
    let team = input["team"].as_str().unwrap_or("none");
    let sets: Vec<Value> = input["envs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| json!({"env": e, "digest": format!("sha256:{team}-{}", e.as_str().unwrap_or(""))}))
        .collect();
    (200, vec![], json!({"output": {"parameters": sets}}))
}

/// The plugin generator in a matrix: each list element calls the plugin with its own input
/// (the body and the bearer token checked by the server), the answer's sets carry
/// `generator.input.parameters` and `values`; a wrong token is a 401 named with the URL,
/// and the token is never printed; a missing ConfigMap is named.
#[test]
fn plugin_generator_over_a_loopback_plugin() {
    let server = Server::start(plugin);
    let dir = tempfile::tempdir().unwrap();
    write_under(
        dir.path(),
        "objects/cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: my-plugin, namespace: argocd}}\ndata:\n  baseUrl: '{}'\n  token: '$plugin-secret:plugin.token'\n  requestTimeout: '10'\n",
            server.base
        ),
    );
    // `printf strong-password | base64`, as the Secret stores it.
    let secret = |value: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: plugin-secret, namespace: argocd}}\ndata: {{plugin.token: {value}}}\n"
        )
    };
    write_under(dir.path(), "good/secret.yaml", &secret("c3Ryb25nLXBhc3N3b3Jk"));
    // `printf wrong-password | base64`.
    write_under(dir.path(), "bad/secret.yaml", &secret("d3JvbmctcGFzc3dvcmQ="));
    write_under(
        dir.path(),
        "set.yaml",
        r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: plugged, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - matrix:
      generators:
      - list: {elements: [{team: a}, {team: b}]}
      - plugin:
          configMapRef: {name: my-plugin}
          input: {parameters: {team: '{{ .team }}', envs: [dev, prod]}}
          values: {link: 'https://teams.example/{{ .team }}'}
  template:
    metadata:
      name: '{{ .team }}-{{ .env }}'
      annotations:
        from-input: '{{ .generator.input.parameters.team }}'
        digest: '{{ .digest }}'
        link: '{{ .values.link }}'
    spec:
      project: default
      source: {repoURL: https://git.example/apps.git, path: '{{ .env }}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{ .team }}'}
"#,
    );
    let set = dir.path().join("set.yaml");
    let objects = dir.path().join("objects");
    let (good, bad) = (dir.path().join("good"), dir.path().join("bad"));
    let args = |secrets: &Path| {
        vec!["--objects".to_string(), objects.display().to_string(), "--secrets".into(), secrets.display().to_string()]
    };
    let good_args = args(&good);
    let (o, apps) = generate(&set, &good_args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    ok(&o);
    assert_eq!(names(&apps), ["a-dev", "a-prod", "b-dev", "b-prod"]);
    assert_eq!(
        apps[3]["metadata"]["annotations"],
        json!({"from-input": "b", "digest": "sha256:b-prod", "link": "https://teams.example/b"})
    );
    let calls = server.seen();
    assert_eq!(calls.len(), 2, "one call per list element");
    let bodies: Vec<Value> = calls.iter().map(|c| serde_json::from_str(&c.body).unwrap()).collect();
    assert_eq!(
        bodies[0],
        json!({"applicationSetName": "plugged", "input": {"parameters": {"team": "a", "envs": ["dev", "prod"]}}})
    );
    assert_eq!(bodies[1]["input"]["parameters"]["team"], "b");
    assert_eq!(calls[0].headers.get("content-type").map(String::as_str), Some("application/json"));

    let bad_args = args(&bad);
    let (o, _) = generate(&set, &bad_args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    fails_with(&o, &format!("plugin: POST {}/api/v1/getparams.execute: HTTP 401: bad token", server.base));
    assert!(!err(&o).contains("wrong-password") && !out(&o).contains("wrong-password"), "{}", err(&o));

    let (o, _) = generate(&set, &["--secrets", good.to_str().unwrap()], &[]);
    fails_with(&o, "plugin.configMapRef.name: no ConfigMap argocd/my-plugin was found");
    let (o, _) = generate(&set, &["--objects", objects.to_str().unwrap()], &[]);
    fails_with(
        &o,
        "ConfigMap my-plugin: token: Secret argocd/plugin-secret, key \"plugin.token\": no such Secret was given",
    );
}

/// clusterDecisionResource over an Open Cluster Management PlacementDecision read from
/// `--objects`: the decisions that name a registered cluster (from `--clusters`) give its
/// name and server and the decision's fields; one naming no cluster is left out; selection
/// by label and by name.
#[test]
fn cluster_decision_resource_from_placement_decisions() {
    let dir = tempfile::tempdir().unwrap();
    write_under(dir.path(), "clusters/a.yaml", &cluster_secret("east", "https://east.example", "prod"));
    write_under(dir.path(), "clusters/b.yaml", &cluster_secret("west", "https://west.example", "prod"));
    write_under(
        dir.path(),
        "objects/ocm.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata: {name: ocm-placement, namespace: argocd}
data:
  apiVersion: cluster.open-cluster-management.io/v1beta1
  kind: placementdecisions
  statusListKey: decisions
  matchKey: clusterName
---
apiVersion: cluster.open-cluster-management.io/v1beta1
kind: PlacementDecision
metadata:
  name: guestbook-decision-1
  namespace: argocd
  labels: {cluster.open-cluster-management.io/placement: guestbook}
status:
  decisions:
  - {clusterName: west, reason: spread}
  - {clusterName: nowhere, reason: not registered}
  - {clusterName: east, reason: affinity}
---
apiVersion: cluster.open-cluster-management.io/v1beta1
kind: PlacementDecision
metadata:
  name: other-decision
  namespace: argocd
  labels: {cluster.open-cluster-management.io/placement: other}
status:
  decisions:
  - {clusterName: east, reason: other}
"#,
    );
    let set = |select: &str| {
        format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: book-import, namespace: argocd}}
spec:
  generators:
  - clusterDecisionResource:
      configMapRef: ocm-placement
      {select}
      requeueAfterSeconds: 30
      values: {{tier: gold}}
  template:
    metadata:
      name: '{{{{clusterName}}}}-guestbook'
      annotations: {{reason: '{{{{reason}}}}', tier: '{{{{values.tier}}}}'}}
    spec:
      project: default
      source: {{repoURL: https://github.com/argoproj/argocd-example-apps.git, path: guestbook}}
      destination: {{server: '{{{{server}}}}', namespace: guestbook}}
"#
        )
    };
    write_under(
        dir.path(),
        "by-label.yaml",
        &set("labelSelector: {matchLabels: {cluster.open-cluster-management.io/placement: guestbook}}"),
    );
    write_under(dir.path(), "by-name.yaml", &set("name: other-decision"));
    let clusters = dir.path().join("clusters");
    let objects = dir.path().join("objects");
    let args = ["--clusters", clusters.to_str().unwrap(), "--objects", objects.to_str().unwrap()];
    let (o, apps) = generate(&dir.path().join("by-label.yaml"), &args, &[]);
    ok(&o);
    assert_eq!(names(&apps), ["west-guestbook", "east-guestbook"]);
    assert_eq!(apps[0]["spec"]["destination"]["server"], "https://west.example");
    assert_eq!(apps[1]["metadata"]["annotations"], json!({"reason": "affinity", "tier": "gold"}));
    let (o, apps) = generate(&dir.path().join("by-name.yaml"), &args, &[]);
    ok(&o);
    assert_eq!(names(&apps), ["east-guestbook"]);
    assert_eq!(apps[0]["metadata"]["annotations"]["reason"], "other");

    // Without the cluster Secrets, only in-cluster is registered: no decision names it.
    let (o, apps) = generate(&dir.path().join("by-name.yaml"), &["--objects", objects.to_str().unwrap()], &[]);
    ok(&o);
    assert_eq!(apps, Vec::<Value>::new());
    let (o, _) = generate(&dir.path().join("by-label.yaml"), &["--clusters", clusters.to_str().unwrap()], &[]);
    fails_with(&o, "clusterDecisionResource.configMapRef: no ConfigMap argocd/ocm-placement was found");
}
