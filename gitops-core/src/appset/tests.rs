//! End-to-end cases of the ApplicationSet pipeline.

use serde_json::json;

use super::*;
use crate::fleet::cluster::ClusterRegistry;
use crate::manifest;

fn appset(yaml: &str) -> Object {
    manifest::parse("appset.yaml", yaml).unwrap().remove(0)
}

fn names(apps: &[Object]) -> Vec<&str> {
    apps.iter().map(Object::name).collect()
}

fn cluster_secret(name: &str, cluster: &str, server: &str, env: &str) -> Object {
    manifest::parse(
        "secret.yaml",
        &format!(
            r#"
apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: argocd
  labels: {{argocd.argoproj.io/secret-type: cluster, env: {env}}}
stringData: {{name: {cluster}, server: "{server}"}}
"#
        ),
    )
    .unwrap()
    .remove(0)
}

#[test]
fn flat_list_with_generator_template_selector_and_sorting() {
    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: demo, namespace: argocd, uid: u-1}
spec:
  generators:
  - list:
      elements:
      - {name: zeta, env: prod}
      - {name: alpha, env: prod}
      - {name: skipped, env: dev}
      template:
        metadata: {}
        spec:
          source: {path: "overridden/{{name}}"}
    selector:
      matchLabels: {env: prod}
  template:
    metadata:
      name: "{{name}}-{{env}}"
      labels: {env: "{{env}}", "team-{{name}}": "yes"}
    spec:
      project: default
      source: {repoURL: "https://git.example/r.git", path: "apps/{{name}}", targetRevision: HEAD}
      destination: {server: "https://kubernetes.default.svc", namespace: "{{ name }}"}
"#,
    );
    let apps = generate(&set, &Inputs::default()).unwrap();
    assert_eq!(names(&apps), ["alpha-prod", "zeta-prod"]);
    let a = apps[0].value();
    assert_eq!(a["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(a["kind"], "Application");
    assert_eq!(a["metadata"]["namespace"], "argocd");
    assert_eq!(a["metadata"]["labels"], json!({"env": "prod", "team-alpha": "yes"}));
    assert_eq!(a["metadata"]["finalizers"], json!(["resources-finalizer.argocd.argoproj.io"]));
    assert_eq!(a["spec"]["source"]["path"], "overridden/alpha", "the generator template wins");
    assert_eq!(a["spec"]["source"]["repoURL"], "https://git.example/r.git", "filled from spec.template");
    assert_eq!(a["spec"]["destination"]["namespace"], "alpha");
    assert_eq!(
        a["metadata"]["ownerReferences"],
        json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": "demo", "uid": "u-1",
            "controller": true, "blockOwnerDeletion": true}])
    );
    assert!(plan::is_owned_by(&apps[0], "demo"));
}

#[test]
fn matrix_of_clusters_and_git_directories_in_go_mode() {
    let secrets = [
        cluster_secret("cluster-staging", "staging", "https://staging.example:6443", "staging"),
        cluster_secret("cluster-prod", "prod", "https://prod.example:6443", "prod"),
    ];
    let (registry, errors) = ClusterRegistry::from_objects(&secrets);
    assert!(errors.is_empty());
    let mut repos = MemoryRepositories::default();
    repos.insert(
        "https://git.example/platform.git",
        "main",
        MemoryTree::new([
            ("addons/cert-manager/kustomization.yaml", "resources: []\n"),
            ("addons/ingress-nginx/kustomization.yaml", "resources: []\n"),
            ("addons/deprecated/kustomization.yaml", "resources: []\n"),
            ("addons/.git-crypt/keys", "x"),
            ("README.md", "# platform"),
        ]),
    );
    let inputs = Inputs { clusters: Some(&registry), repositories: Some(&repos), ..Inputs::default() };
    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: addons, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - matrix:
      generators:
      - clusters:
          selector:
            matchExpressions:
            - {key: env, operator: In, values: [staging, prod]}
          values:
            revision: '{{ if eq .name "prod" }}stable{{ else }}main{{ end }}'
      - git:
          repoURL: https://git.example/platform.git
          revision: main
          directories:
          - path: addons/*
          - path: addons/deprecated
            exclude: true
  template:
    metadata:
      name: '{{ .path.basename }}-{{ .name }}'
      labels:
        env: '{{ index .metadata.labels "env" }}'
    spec:
      project: platform
      source:
        repoURL: https://git.example/platform.git
        targetRevision: '{{ .values.revision }}'
        path: '{{ .path.path }}'
      destination:
        server: '{{ .server }}'
        namespace: '{{ .path.basename }}'
"#,
    );
    let apps = generate(&set, &inputs).unwrap();
    assert_eq!(
        names(&apps),
        ["cert-manager-prod", "cert-manager-staging", "ingress-nginx-prod", "ingress-nginx-staging"]
    );
    let by_name = |n: &str| apps.iter().find(|a| a.name() == n).unwrap().value().clone();
    let prod = by_name("ingress-nginx-prod");
    assert_eq!(
        prod["spec"]["destination"],
        json!({"server": "https://prod.example:6443", "namespace": "ingress-nginx"})
    );
    assert_eq!(prod["spec"]["source"]["path"], "addons/ingress-nginx");
    assert_eq!(prod["spec"]["source"]["targetRevision"], "stable");
    assert_eq!(prod["metadata"]["labels"]["env"], "prod");
    let staging = by_name("cert-manager-staging");
    assert_eq!(staging["spec"]["destination"]["server"], "https://staging.example:6443");
    assert_eq!(staging["spec"]["source"]["targetRevision"], "main");
    for app in &apps {
        assert_eq!(app.namespace(), "argocd");
    }
}

#[test]
fn duplicate_names_exclude_every_app_of_that_name_and_name_both() {
    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: dup, namespace: argocd}
spec:
  generators:
  - list: {elements: [{n: same}, {n: other}]}
  - list: {elements: [{n: same}]}
  template:
    metadata: {name: "{{n}}"}
    spec: {project: default, destination: {server: "https://kubernetes.default.svc", namespace: x}}
"#,
    );
    let generation = generate_all(&set, &Inputs::default()).unwrap();
    assert_eq!(names(&generation.apps), ["other"]);
    assert_eq!(
        generation.errors,
        [ValidationError::Duplicate {
            name: "same".into(),
            first_index: 0,
            first_set: 0,
            second_index: 1,
            second_set: 0,
        }]
    );
    let msg = generate(&set, &Inputs::default()).unwrap_err().to_string();
    assert!(msg.contains("generators[0] parameter set 0 and generators[1] parameter set 0"), "{msg}");

    // The existing `same` is not deleted: deletions count every generated name.
    let existing: Vec<Object> = generate_all(&set, &Inputs::default())
        .unwrap()
        .apps
        .into_iter()
        .chain([renamed(&generation.apps[0], "same")])
        .collect();
    let p = generation.plan("dup", &existing, SyncPolicy::Sync);
    assert!(p.delete.is_empty(), "{:?}", names(&p.delete));
}

fn renamed(app: &Object, name: &str) -> Object {
    let mut v = app.value().clone();
    v["metadata"]["name"] = json!(name);
    Object::new(v, app.origin().clone())
}

#[test]
fn invalid_and_missing_names_and_unresolved_destinations() {
    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: bad, namespace: argocd}
spec:
  generators:
  - list: {elements: [{n: Upper_Case, s: "https://kubernetes.default.svc"}, {n: "", s: x}, {n: ok, s: "https://nowhere"}]}
  template:
    metadata: {name: "{{n}}"}
    spec: {project: default, destination: {server: "{{s}}", namespace: x}}
"#,
    );
    let (registry, _) = ClusterRegistry::from_objects(&[]);
    let inputs = Inputs { clusters: Some(&registry), ..Inputs::default() };
    let generation = generate_all(&set, &inputs).unwrap();
    assert!(generation.apps.is_empty());
    let kinds: Vec<String> = generation.errors.iter().map(|e| e.to_string()).collect();
    assert!(kinds.iter().any(|e| e.contains("has no name")), "{kinds:?}");
    assert!(kinds.iter().any(|e| e.contains("\"Upper_Case\": metadata.name is not a valid name")), "{kinds:?}");
    assert!(kinds.iter().any(|e| e.starts_with("Application \"ok\": spec.destination")), "{kinds:?}");
    let msg = generate(&set, &inputs).unwrap_err().to_string();
    assert!(msg.contains("(and 2 more)"), "{msg}");
}

#[test]
fn a_generator_or_template_error_fails_the_whole_generation() {
    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: broken, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list: {elements: [{n: a}]}
  - plugin: {configMapRef: {name: p}}
  template:
    metadata: {name: "{{ .n }}"}
    spec: {project: default}
"#,
    );
    let e = generate(&set, &Inputs::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ApplicationSet argocd/broken: generators[1] (plugin): the plugin generator needs the ConfigMap \"p\" (the hub's objects), which was not provided"
    );

    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: broken, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list: {elements: [{n: a}, {m: b}]}
  template:
    metadata: {name: "{{ .n }}"}
    spec: {project: default}
"#,
    );
    let e = generate(&set, &Inputs::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ApplicationSet argocd/broken: generators[0] (list), parameter set 1: template: field `metadata.name`: map has no entry for key \"n\" (missingkey=error)"
    );
}

#[test]
fn go_mode_without_missingkey_error_prints_no_value() {
    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s, namespace: argocd}
spec:
  goTemplate: true
  generators:
  - list: {elements: [{n: a}]}
  template:
    metadata: {name: "{{ .n }}", annotations: {note: "{{ .missing }}"}}
    spec: {project: default}
"#,
    );
    let apps = generate(&set, &Inputs::default()).unwrap();
    assert_eq!(apps[0].value()["metadata"]["annotations"]["note"], "<no value>");
}

#[test]
fn template_patch_and_preserve_resources() {
    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s, namespace: argocd}
spec:
  goTemplate: true
  syncPolicy: {preserveResourcesOnDeletion: true, applicationsSync: create-update}
  generators:
  - list: {elements: [{n: a, auto: true}, {n: b, auto: false}]}
  template:
    metadata: {name: "{{ .n }}"}
    spec: {project: default, source: {repoURL: r, path: p}}
  templatePatch: |
    spec:
      project: other
    {{- if .auto }}
      syncPolicy:
        automated: {prune: true}
    {{- end }}
"#,
    );
    let apps = generate(&set, &Inputs::default()).unwrap();
    assert_eq!(apps[0].value()["spec"]["syncPolicy"], json!({"automated": {"prune": true}}));
    assert!(apps[1].value()["spec"].get("syncPolicy").is_none());
    assert_eq!(apps[0].value()["spec"]["project"], "default");
    assert!(apps[0].value()["metadata"].get("finalizers").is_none(), "preserveResourcesOnDeletion: no finalizer");
    assert_eq!(SyncPolicy::of(&set).unwrap(), SyncPolicy::CreateUpdate);
}

#[test]
fn several_generator_kinds_in_one_entry_each_generate_with_their_own_template() {
    let set = appset(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s, namespace: argocd}
spec:
  generators:
  - list:
      elements: [{n: a}]
      template: {metadata: {name: "list-{{n}}"}, spec: {}}
    clusters:
      template: {metadata: {name: "cluster-{{name}}"}, spec: {}}
  template:
    metadata: {name: "unused"}
    spec: {project: default, destination: {name: in-cluster, namespace: x}}
"#,
    );
    let (registry, _) = ClusterRegistry::from_objects(&[]);
    let inputs = Inputs { clusters: Some(&registry), ..Inputs::default() };
    let apps = generate(&set, &inputs).unwrap();
    assert_eq!(names(&apps), ["cluster-in-cluster", "list-a"]);
    assert_eq!(apps[0].value()["spec"]["project"], "default");
}

#[test]
fn spec_errors_name_the_field() {
    let set = appset("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s}\nspec: {}\n");
    assert_eq!(
        generate(&set, &Inputs::default()).unwrap_err().to_string(),
        "ApplicationSet /s: metadata.namespace: is required: Applications are created in it"
    );
    let set = appset(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s, namespace: a}\nspec: {goTemplate: true, goTemplateOptions: [bogus]}\n",
    );
    assert!(generate(&set, &Inputs::default()).unwrap_err().to_string().contains("spec.goTemplateOptions"));
    let set = appset(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s, namespace: a}\nspec: {generators: [{}]}\n",
    );
    assert!(generate(&set, &Inputs::default()).unwrap_err().to_string().contains("generators[0] (none)"));
}
