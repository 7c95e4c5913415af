//! What a diff needs from an Argo CD `Application` or a Flux `Kustomization`.
//!
//! The destination namespace and the `ignoreDifferences` rules of an Application, or the
//! `targetNamespace` of a Kustomization (which Flux forces onto every namespaced object).
//! The full application model (sources, sync policy) belongs to a later layer; fields this
//! reader does not use are listed in [`AppSpec::unused`] rather than silently dropped.

use serde_json::Value;

use crate::ignore::IgnoreRuleSpec;
use crate::names;
use crate::object::{Object, ResourceKey};

/// Which tool's application object was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    /// `argoproj.io` `Application`.
    ArgoApplication,
    /// `kustomize.toolkit.fluxcd.io` `Kustomization`.
    FluxKustomization,
}

/// The diff-relevant part of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    /// Which tool it is for.
    pub kind: AppKind,
    /// `metadata.name` (Argo CD's tracking ids and instance labels use it).
    pub name: String,
    /// Where objects without a namespace go.
    pub destination_namespace: Option<String>,
    /// Flux's `targetNamespace` overrides the namespace of every namespaced object.
    pub force_namespace: bool,
    /// `spec.ignoreDifferences`.
    pub ignore_differences: Vec<IgnoreRuleSpec>,
    /// `syncPolicy.syncOptions` (Argo CD).
    pub sync_options: Vec<String>,
    /// Automated sync: `syncPolicy.automated` (Argo CD) or Flux's `spec.prune` (a Flux
    /// Kustomization always syncs automatically).
    pub automated: Option<Automated>,
    /// `syncPolicy.retry` as written (see [`crate::sync::retry`]).
    pub retry: Option<Value>,
    /// Where the app goes and what a sync waits for beyond its waves.
    pub rollout: Rollout,
    /// Spec fields present but not used by a diff (reported so nothing is silently lost).
    pub unused: Vec<String>,
}

/// Where an app goes and what its sync waits for, beyond what the diff needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollout {
    /// Argo CD's `spec.destination.server`: the API server URL.
    pub destination_server: Option<String>,
    /// Argo CD's `spec.destination.name`: the cluster's name.
    pub destination_name: Option<String>,
    /// Flux's `spec.wait`: after the apply, every applied object must become ready.
    pub wait: bool,
    /// Flux's `spec.healthChecks`: these objects must become ready after the apply.
    pub health_checks: Vec<ResourceKey>,
    /// Flux's `spec.timeout`: how long the apply and the health checks may take.
    pub timeout: Option<std::time::Duration>,
    /// Flux's `spec.retryInterval`: when to try again after a failure.
    pub retry_interval: Option<std::time::Duration>,
    /// Flux's `spec.dependsOn`, as `namespace/name`: Kustomizations that must be ready first.
    pub depends_on: Vec<String>,
    /// The app object's own namespace (`metadata.namespace`): Flux labels what it applies with it.
    pub app_namespace: String,
}

/// Argo CD's `syncPolicy.automated`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    /// Delete what the desired state no longer has.
    #[serde(default)]
    pub prune: bool,
    /// Revert drift made in the cluster.
    #[serde(default)]
    pub self_heal: bool,
    /// Allow a sync whose render is empty (it would prune everything).
    #[serde(default)]
    pub allow_empty: bool,
}

/// An application object that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No Application or Kustomization among the objects.
    #[error("{source_name}: no Argo CD Application or Flux Kustomization found")]
    NotFound {
        /// The source read.
        source_name: String,
    },
    /// A field has the wrong shape.
    #[error("{origin}: field `{field}`: {problem}")]
    Field {
        /// Where the object was read.
        origin: String,
        /// The field.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

/// Finds the first Application or Kustomization among `objects` and reads it. Its name and
/// namespaces must pass the API server's rules: they end up in object namespaces, tracking ids
/// and the paths where a FileCluster keeps status.
pub fn read(source: &str, objects: &[Object]) -> Result<AppSpec, Error> {
    for o in objects {
        let (spec, namespace_field) = match (o.group(), o.kind()) {
            ("argoproj.io", "Application") => (read_argo(o)?, "spec.destination.namespace"),
            ("kustomize.toolkit.fluxcd.io", "Kustomization") => (read_flux(o)?, "spec.targetNamespace"),
            _ => continue,
        };
        let invalid = |e: names::Error| field_error(o, e.field, e.reason());
        names::check_app_name("metadata.name", &spec.name).map_err(invalid)?;
        if !o.namespace().is_empty() {
            names::check_namespace(o.namespace()).map_err(invalid)?;
        }
        if let Some(ns) = &spec.destination_namespace {
            names::check_namespace_field(namespace_field, ns).map_err(invalid)?;
        }
        for dependency in &spec.rollout.depends_on {
            let (namespace, name) = dependency.rsplit_once('/').unwrap_or(("", dependency));
            names::check_app_name("spec.dependsOn.name", name).map_err(invalid)?;
            if !namespace.is_empty() {
                names::check_namespace_field("spec.dependsOn.namespace", namespace).map_err(invalid)?;
            }
        }
        return Ok(spec);
    }
    Err(Error::NotFound { source_name: source.to_string() })
}

const ARGO_USED: &[&str] = &["destination", "ignoreDifferences", "syncPolicy"];
const FLUX_USED: &[&str] =
    &["targetNamespace", "prune", "wait", "healthChecks", "timeout", "retryInterval", "dependsOn"];

fn unused(spec: Option<&Value>, used: &[&str]) -> Vec<String> {
    spec.and_then(Value::as_object)
        .map(|m| m.keys().filter(|k| !used.contains(&k.as_str())).map(|k| format!("spec.{k}")).collect())
        .unwrap_or_default()
}

fn field_error(o: &Object, field: &str, problem: impl Into<String>) -> Error {
    Error::Field { origin: o.origin().to_string(), field: field.to_string(), problem: problem.into() }
}

/// A string at `pointer` under `spec`, if set; the field is named as `spec.a.b` in errors.
fn optional_string(spec: Option<&Value>, pointer: &str, o: &Object) -> Result<Option<String>, Error> {
    match spec.and_then(|s| s.pointer(pointer)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
        Some(_) => Err(field_error(o, &format!("spec{}", pointer.replace('/', ".")), "not a string")),
    }
}

/// A Go duration (`5m`, `1h30m`) at `spec.<field>`, if set.
fn optional_duration(spec: Option<&Value>, field: &str, o: &Object) -> Result<Option<std::time::Duration>, Error> {
    let Some(text) = optional_string(spec, &format!("/{field}"), o)? else { return Ok(None) };
    crate::quantity::go_duration_nanos(&text)
        .filter(|n| *n > 0)
        .map(|n| Some(std::time::Duration::from_nanos(n.unsigned_abs())))
        .ok_or_else(|| {
            field_error(o, &format!("spec.{field}"), format!("`{text}` is not a duration such as 30s or 5m"))
        })
}

/// Flux's wait, health checks, timeout, retry interval and dependencies. References that name
/// no namespace are in the Kustomization's own, as Flux reads them.
fn flux_rollout(o: &Object) -> Result<Rollout, Error> {
    let spec = o.value().get("spec");
    let own_namespace = o.namespace().to_string();
    let wait = match spec.and_then(|s| s.get("wait")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(field_error(o, "spec.wait", "not a boolean")),
    };
    let list = |field: &str| -> Result<Vec<serde_json::Map<String, Value>>, Error> {
        match spec.and_then(|s| s.get(field)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_object().cloned().ok_or_else(|| field_error(o, &format!("spec.{field}[{i}]"), "not a map"))
                })
                .collect(),
            Some(_) => Err(field_error(o, &format!("spec.{field}"), "not a list")),
        }
    };
    let text = |item: &serde_json::Map<String, Value>, field: &str, at: &str| -> Result<String, Error> {
        match item.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(field_error(o, &format!("{at}.{field}"), "not a string")),
        }
    };
    let mut health_checks = Vec::new();
    for (i, item) in list("healthChecks")?.iter().enumerate() {
        let at = format!("spec.healthChecks[{i}]");
        let (api_version, kind, name) =
            (text(item, "apiVersion", &at)?, text(item, "kind", &at)?, text(item, "name", &at)?);
        if kind.is_empty() || name.is_empty() {
            return Err(field_error(o, &at, "needs a kind and a name"));
        }
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let namespace = Some(text(item, "namespace", &at)?).filter(|n| !n.is_empty()).unwrap_or(own_namespace.clone());
        let cluster_scoped = crate::schema::schema().is_cluster_scoped(group, &kind);
        let namespace = if cluster_scoped { String::new() } else { namespace };
        health_checks.push(ResourceKey::new(group, &kind, &namespace, &name));
    }
    let mut depends_on = Vec::new();
    for (i, item) in list("dependsOn")?.iter().enumerate() {
        let at = format!("spec.dependsOn[{i}]");
        let name = text(item, "name", &at)?;
        if name.is_empty() {
            return Err(field_error(o, &at, "needs a name"));
        }
        let namespace = Some(text(item, "namespace", &at)?).filter(|n| !n.is_empty()).unwrap_or(own_namespace.clone());
        depends_on.push(format!("{namespace}/{name}"));
    }
    Ok(Rollout {
        wait,
        health_checks,
        timeout: optional_duration(spec, "timeout", o)?,
        retry_interval: optional_duration(spec, "retryInterval", o)?,
        depends_on,
        app_namespace: own_namespace,
        ..Rollout::default()
    })
}

fn read_argo(o: &Object) -> Result<AppSpec, Error> {
    let spec = o.value().get("spec");
    let field_err = |field: &str, problem: String| Error::Field {
        origin: o.origin().to_string(),
        field: field.to_string(),
        problem,
    };
    let namespace = match spec.and_then(|s| s.pointer("/destination/namespace")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
        Some(_) => return Err(field_err("spec.destination.namespace", "not a string".into())),
    };
    let ignore_differences = match spec.and_then(|s| s.get("ignoreDifferences")) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| field_err("spec.ignoreDifferences", e.to_string()))?,
    };
    let policy = spec.and_then(|s| s.get("syncPolicy"));
    let sync_options = match policy.and_then(|p| p.get("syncOptions")) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| field_err("spec.syncPolicy.syncOptions", format!("not a list of strings: {e}")))?,
    };
    let automated = match policy.and_then(|p| p.get("automated")) {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(serde_json::from_value(v.clone()).map_err(|e| field_err("spec.syncPolicy.automated", e.to_string()))?)
        }
    };
    Ok(AppSpec {
        kind: AppKind::ArgoApplication,
        name: o.name().to_string(),
        destination_namespace: namespace,
        force_namespace: false,
        ignore_differences,
        sync_options,
        automated,
        retry: policy.and_then(|p| p.get("retry")).filter(|r| !r.is_null()).cloned(),
        rollout: Rollout {
            destination_server: optional_string(spec, "/destination/server", o)?,
            destination_name: optional_string(spec, "/destination/name", o)?,
            app_namespace: o.namespace().to_string(),
            ..Rollout::default()
        },
        unused: unused(spec, ARGO_USED),
    })
}

fn read_flux(o: &Object) -> Result<AppSpec, Error> {
    let spec = o.value().get("spec");
    let target = match spec.and_then(|s| s.get("targetNamespace")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
        Some(_) => {
            return Err(Error::Field {
                origin: o.origin().to_string(),
                field: "spec.targetNamespace".into(),
                problem: "not a string".into(),
            });
        }
    };
    let prune = match spec.and_then(|s| s.get("prune")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(Error::Field {
                origin: o.origin().to_string(),
                field: "spec.prune".into(),
                problem: "not a boolean".into(),
            });
        }
    };
    Ok(AppSpec {
        kind: AppKind::FluxKustomization,
        name: o.name().to_string(),
        force_namespace: target.is_some(),
        destination_namespace: target,
        ignore_differences: Vec::new(),
        sync_options: Vec::new(),
        // Flux reconciles on its own; drift is always reverted.
        automated: Some(Automated { prune, self_heal: true, allow_empty: false }),
        retry: None,
        rollout: flux_rollout(o)?,
        unused: unused(spec, FLUX_USED),
    })
}

/// Whether a live object belongs to this application: Argo CD's tracking annotation
/// (`<app>:<group>/<kind>:<namespace>/<name>`) or instance label, or Flux's
/// `kustomize.toolkit.fluxcd.io/name` label. Only such objects may be reported for pruning.
pub fn is_tracked_by(o: &Object, app: &AppSpec) -> bool {
    match app.kind {
        AppKind::ArgoApplication => {
            let by_annotation = o
                .annotation(crate::diff::TRACKING_ID)
                .and_then(|id| id.split_once(':'))
                .is_some_and(|(name, _)| name == app.name || name.rsplit_once('_').is_some_and(|(_, n)| n == app.name));
            by_annotation || o.label("app.kubernetes.io/instance") == Some(app.name.as_str())
        }
        AppKind::FluxKustomization => o.label("kustomize.toolkit.fluxcd.io/name") == Some(app.name.as_str()),
    }
}

/// The diff settings of an app: its destination namespace (unless `namespace` overrides it)
/// and its ignoreDifferences.
pub fn diff_config(app: Option<&AppSpec>, namespace: Option<&str>) -> crate::diff::DiffConfig {
    let mut config = crate::diff::DiffConfig::default();
    if let Some(ns) = app.and_then(|a| a.destination_namespace.clone()) {
        config.namespace = ns;
    }
    if let Some(ns) = namespace {
        config.namespace = ns.to_string();
    }
    if let Some(a) = app {
        config.ignore_differences.extend(a.ignore_differences.iter().cloned());
    }
    config
}

/// Marks a desired object as this app's, as Argo CD and Flux do when they apply it: Argo CD's
/// tracking annotation `<app>:<group>/<kind>:<namespace>/<name>` (namespace as the object will
/// live: `namespace` for namespaced objects that name none), or Flux's name and namespace
/// labels (`flux_namespace`: the Kustomization's own namespace; left out when unknown).
pub fn mark_tracked(o: &mut Object, app: &AppSpec, namespace: &str, flux_namespace: &str) {
    let ns = if o.is_cluster_scoped() {
        String::new()
    } else if o.namespace().is_empty() {
        namespace.to_string()
    } else {
        o.namespace().to_string()
    };
    let (field, entries): (&str, Vec<(&str, String)>) = match app.kind {
        AppKind::ArgoApplication => (
            "annotations",
            vec![(crate::diff::TRACKING_ID, format!("{}:{}/{}:{ns}/{}", app.name, o.group(), o.kind(), o.name()))],
        ),
        AppKind::FluxKustomization => (
            "labels",
            std::iter::once(("kustomize.toolkit.fluxcd.io/name", app.name.clone()))
                .chain(
                    (!flux_namespace.is_empty())
                        .then(|| ("kustomize.toolkit.fluxcd.io/namespace", flux_namespace.to_string())),
                )
                .collect(),
        ),
    };
    let Some(obj) = o.value_mut().as_object_mut() else { return };
    let meta = obj.entry("metadata").or_insert_with(|| serde_json::Value::Object(Default::default()));
    let Some(meta) = meta.as_object_mut() else { return };
    let map = meta.entry(field).or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !map.is_object() {
        *map = serde_json::Value::Object(Default::default());
    }
    if let Some(map) = map.as_object_mut() {
        for (k, v) in entries {
            map.insert(k.to_string(), serde_json::Value::String(v));
        }
    }
}

/// The application a live object is tracked by, if any (whichever app that is): the name
/// in Argo CD's tracking annotation, else its instance label, else Flux's name label.
pub fn tracking_app(o: &Object) -> Option<&str> {
    if let Some((name, _)) = o.annotation(crate::diff::TRACKING_ID).and_then(|id| id.split_once(':')) {
        // `<namespace>_<app>` when apps live in several namespaces.
        return Some(name.rsplit_once('_').map(|(_, n)| n).unwrap_or(name));
    }
    o.label("app.kubernetes.io/instance").or_else(|| o.label("kustomize.toolkit.fluxcd.io/name"))
}

/// Sets `metadata.namespace` of every namespaced object, as Flux's `targetNamespace` does.
pub fn force_namespace(objects: &mut [Object], namespace: &str) {
    for o in objects.iter_mut() {
        if o.is_cluster_scoped() {
            continue;
        }
        if let Some(Value::Object(meta)) = o.value_mut().get_mut("metadata") {
            meta.insert("namespace".into(), Value::String(namespace.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;

    #[test]
    fn reads_an_argo_application() {
        let objs = manifest::parse(
            "app.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: guestbook, namespace: argocd}\nspec:\n  project: default\n  source: {repoURL: https://example.com/repo.git, path: guestbook}\n  destination: {server: https://kubernetes.default.svc, namespace: prod}\n  ignoreDifferences:\n  - group: apps\n    kind: Deployment\n    jsonPointers: [/spec/replicas]\n",
        )
        .unwrap();
        let app = read("app.yaml", &objs).unwrap();
        assert_eq!(app.destination_namespace.as_deref(), Some("prod"));
        assert_eq!(app.ignore_differences.len(), 1);
        assert_eq!(app.unused, ["spec.project", "spec.source"]);
    }

    #[test]
    fn reads_a_flux_kustomization_and_reports_bad_fields() {
        let objs = manifest::parse(
            "k.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec: {targetNamespace: web, interval: 5m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: repo}}\n",
        )
        .unwrap();
        let app = read("k.yaml", &objs).unwrap();
        assert_eq!(app.destination_namespace.as_deref(), Some("web"));
        assert!(app.force_namespace);
        let bad = manifest::parse(
            "a.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\nspec: {ignoreDifferences: [{kind: Deployment, jsonPointer: [/x]}]}\n",
        )
        .unwrap();
        let e = read("a.yaml", &bad).unwrap_err().to_string();
        assert!(e.contains("field `spec.ignoreDifferences`: unknown field `jsonPointer`"), "{e}");
    }

    #[test]
    fn reads_where_an_app_goes_and_what_its_sync_waits_for() {
        let argo = manifest::parse(
            "app.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {destination: {name: prod-eu, server: 'https://10.0.0.1:6443'}}\n",
        )
        .unwrap();
        let rollout = read("app.yaml", &argo).unwrap().rollout;
        assert_eq!(rollout.destination_name.as_deref(), Some("prod-eu"));
        assert_eq!(rollout.destination_server.as_deref(), Some("https://10.0.0.1:6443"));

        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  wait: true\n  timeout: 2m30s\n  retryInterval: 1m\n  healthChecks:\n  - {apiVersion: apps/v1, kind: Deployment, name: web, namespace: shop}\n  - {apiVersion: v1, kind: Namespace, name: shop}\n  - {apiVersion: v1, kind: ConfigMap, name: settings}\n  dependsOn: [{name: infra}, {name: crds, namespace: platform}]\n";
        let app = read("k.yaml", &manifest::parse("k.yaml", flux).unwrap()).unwrap();
        let r = &app.rollout;
        assert!(r.wait);
        assert_eq!(r.timeout, Some(std::time::Duration::from_secs(150)));
        assert_eq!(r.retry_interval, Some(std::time::Duration::from_secs(60)));
        let checks: Vec<String> = r.health_checks.iter().map(ToString::to_string).collect();
        let expected = [
            ResourceKey::new("apps", "Deployment", "shop", "web"),
            ResourceKey::new("", "Namespace", "", "shop"),
            ResourceKey::new("", "ConfigMap", "flux-system", "settings"),
        ];
        assert_eq!(checks, expected.iter().map(ToString::to_string).collect::<Vec<_>>());
        assert_eq!(r.depends_on, ["flux-system/infra", "platform/crds"]);
        assert!(app.unused.is_empty(), "{:?}", app.unused);

        for (bad, field) in [
            ("timeout: soon", "spec.timeout"),
            ("wait: 'yes'", "spec.wait"),
            ("healthChecks: [{kind: Deployment}]", "spec.healthChecks[0]"),
            ("dependsOn: [{name: 3}]", "spec.dependsOn[0].name"),
        ] {
            let text = format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: k}}\nspec: {{{bad}}}\n"
            );
            let e = read("k.yaml", &manifest::parse("k.yaml", &text).unwrap()).unwrap_err().to_string();
            assert!(e.contains(&format!("field `{field}`")), "{bad}: {e}");
        }
    }
}
