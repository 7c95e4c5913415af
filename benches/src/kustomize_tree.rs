//! Generator of a layered Kustomize tree for the render benchmark: a base and two overlays (the
//! second on top of the first) that exercise the transformers GitOps repositories lean on.
//!
//! Layout written under `dir`:
//! - `base/`: one file per application (Deployment, Service, ServiceAccount, a plain ConfigMap the
//!   Deployment mounts) plus a `configMapGenerator` entry per application the Deployment reads
//!   through `envFrom`; `commonLabels`.
//! - `overlays/staging/`: `namePrefix`, `commonLabels`, a strategic-merge patch selected by
//!   `labelSelector`, `images`, a `secretGenerator` referenced by every Deployment.
//! - `overlays/prod/`: `namePrefix`, `labels`, a strategic-merge patch selected by a name regex,
//!   a JSON 6902 patch on every Service, `images`, `replicas`, a generator `merge` into the staging
//!   Secret and a new ConfigMap.
//!
//! The prod `labels` use keys the lower layers do not set: kubectl shares one YAML node between
//! every place `commonLabels` wrote a value, so rewriting such a key would also rewrite selectors
//! (fixtures 170-174 cover that quirk; the benchmark measures speed, not that corner).
//!
//! Each application renders to 5 objects; the overlays add 2 more, so the output holds
//! `5 * apps + 2` objects with `apps = max(1, (objects - 2) / 5)` (1000 asks give 997).

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Objects the overlays add on top of the applications (the staging Secret and the prod ConfigMap).
const OVERLAY_OBJECTS: usize = 2;
/// Objects each application renders to.
const OBJECTS_PER_APP: usize = 5;
/// Applications whose replica count the prod overlay sets by name.
const REPLICA_OVERRIDES: usize = 10;

/// Writes the base and both overlays under `dir` for about `objects` rendered objects and returns
/// the top overlay's directory (`dir/overlays/prod`), the one to build.
///
/// Existing files at those paths are overwritten; `dir` must be writable.
pub fn write_layered_overlay(dir: &Path, objects: usize) -> io::Result<PathBuf> {
    let apps = (objects.saturating_sub(OVERLAY_OBJECTS) / OBJECTS_PER_APP).max(1);
    let base = dir.join("base");
    let staging = dir.join("overlays").join("staging");
    let prod = dir.join("overlays").join("prod");
    for d in [&base, &staging, &prod] {
        fs::create_dir_all(d)?;
    }
    write_base(&base, apps)?;
    write_staging(&staging)?;
    write_prod(&prod, apps)?;
    Ok(prod)
}

/// Name of application `i`; zero-padded so names sort the same way as numbers.
fn app_name(i: usize) -> String {
    format!("app-{i:04}")
}

/// Tier label of application `i`: the staging patch selects the `web` ones.
fn tier(i: usize) -> &'static str {
    if i.is_multiple_of(3) { "worker" } else { "web" }
}

fn write_base(base: &Path, apps: usize) -> io::Result<()> {
    let mut kustomization =
        String::from("# generated benchmark base\ncommonLabels:\n  app.kubernetes.io/part-of: bench\nresources:\n");
    let mut generators = String::from("configMapGenerator:\n");
    for i in 0..apps {
        let name = app_name(i);
        let _ = writeln!(kustomization, "- {name}.yaml");
        let _ = write!(generators, "- name: {name}-env\n  literals:\n  - APP={name}\n  - SHARD={}\n", i % 16);
        fs::write(base.join(format!("{name}.yaml")), app_manifest(i))?;
    }
    kustomization.push_str(&generators);
    fs::write(base.join("kustomization.yaml"), kustomization)
}

/// The four plain objects of application `i`, in one multi-document file.
fn app_manifest(i: usize) -> String {
    let name = app_name(i);
    let tier = tier(i);
    format!(
        "apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  app.yaml: |
    name: {name}
    port: 8080
    upstream: http://{name}:80
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels:
    app: {name}
    tier: {tier}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
    tier: {tier}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
        tier: {tier}
    spec:
      serviceAccountName: {name}
      containers:
      - name: app
        image: acme/app:1.0.0
        ports:
        - name: http
          containerPort: 8080
        envFrom:
        - configMapRef:
            name: {name}-env
        - secretRef:
            name: shared-secrets
        env:
        - name: LOG_LEVEL
          value: info
        volumeMounts:
        - name: config
          mountPath: /etc/app
      - name: proxy
        image: envoyproxy/envoy:v1.29.0
        args: [\"-c\", \"/etc/envoy/envoy.yaml\"]
      volumes:
      - name: config
        configMap:
          name: {name}-config
"
    )
}

fn write_staging(staging: &Path) -> io::Result<()> {
    fs::write(
        staging.join("kustomization.yaml"),
        "# generated benchmark overlay (staging)
namePrefix: stg-
resources:
- ../../base
commonLabels:
  env: staging
patches:
- target:
    kind: Deployment
    labelSelector: tier=web
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: app
            resources:
              requests:
                cpu: 100m
                memory: 128Mi
            env:
            - name: LOG_LEVEL
              value: debug
images:
- name: acme/app
  newTag: 1.1.0
secretGenerator:
- name: shared-secrets
  literals:
  - DB_PASSWORD=staging
  - API_TOKEN=staging-token
",
    )
}

fn write_prod(prod: &Path, apps: usize) -> io::Result<()> {
    let mut kustomization = String::from(
        "# generated benchmark overlay (prod, on top of staging)
namePrefix: prod-
resources:
- ../staging
labels:
- pairs:
    release: prod
    team: platform
  includeTemplates: true
patches:
- target:
    kind: Deployment
    name: stg-app-00[0-4].*
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
      annotations:
        bench.example.com/canary: \"true\"
    spec:
      template:
        spec:
          tolerations:
          - key: dedicated
            operator: Equal
            value: prod
            effect: NoSchedule
- target:
    version: v1
    kind: Service
  patch: |-
    - op: add
      path: /spec/sessionAffinity
      value: ClientIP
    - op: replace
      path: /spec/ports/0/port
      value: 8080
images:
- name: acme/app
  newName: registry.example.com/acme/app
- name: envoyproxy/envoy
  newTag: v1.30.1
replicas:
",
    );
    for i in 0..apps.min(REPLICA_OVERRIDES) {
        let _ = write!(kustomization, "- name: {}\n  count: {}\n", app_name(i), 2 + i % 3);
    }
    kustomization.push_str(
        "secretGenerator:
- name: shared-secrets
  behavior: merge
  literals:
  - DB_PASSWORD=production
configMapGenerator:
- name: prod-global
  literals:
  - REGION=eu-west-1
  - CLUSTER=prod-1
",
    );
    fs::write(prod.join("kustomization.yaml"), kustomization)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_base_and_two_overlays_and_returns_the_top_one() {
        let dir = std::env::temp_dir().join(format!("kustomize-tree-test-{}", std::process::id()));
        let top = write_layered_overlay(&dir, 22).expect("write the tree");
        assert_eq!(top, dir.join("overlays").join("prod"));
        let base = fs::read_to_string(dir.join("base").join("kustomization.yaml")).expect("base kustomization");
        // 22 objects: (22 - 2) / 5 = 4 applications.
        assert_eq!(base.matches(".yaml\n").count(), 4);
        assert!(dir.join("base").join("app-0003.yaml").is_file());
        assert!(dir.join("overlays").join("staging").join("kustomization.yaml").is_file());
        let _ = fs::remove_dir_all(&dir);
    }
}
