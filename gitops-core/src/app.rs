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
    /// `helm.toolkit.fluxcd.io` `HelmRelease`: a chart released with Helm's records.
    FluxHelmRelease,
}

impl AppKind {
    /// Whether Flux runs apps of this kind (they always sync on their own, go to the cluster
    /// their controller runs in unless a kubeConfig says otherwise, and are never OutOfSync for
    /// what they leave unpruned).
    pub fn is_flux(self) -> bool {
        matches!(self, AppKind::FluxKustomization | AppKind::FluxHelmRelease)
    }
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
    /// A HelmRelease's release: its name, namespaces, actions and remediation.
    pub helm: Option<Box<crate::helm_release::spec::HelmReleaseSpec>>,
    /// Spec fields present but not used by a diff (reported so nothing is silently lost).
    pub unused: Vec<String>,
}

impl AppSpec {
    /// An app of `kind` named `name` with nothing else set (no destination, options,
    /// automation or retry), for callers that build one by hand rather than [`read`] it.
    pub fn new(kind: AppKind, name: impl Into<String>) -> AppSpec {
        AppSpec {
            kind,
            name: name.into(),
            destination_namespace: None,
            force_namespace: false,
            ignore_differences: Vec::new(),
            sync_options: Vec::new(),
            automated: None,
            retry: None,
            rollout: Rollout::default(),
            helm: None,
            unused: Vec::new(),
        }
    }

    /// The name its status is kept under: `<kind>_<namespace>_<name>` (`application_argocd_web`,
    /// `kustomization_flux-system_apps`), so that an Application and a Kustomization, or two
    /// apps of one name in two namespaces, never share a status; the bare name for an app
    /// object written without a namespace. `_` is in no Kubernetes name, so the parts never
    /// run together.
    pub fn status_name(&self) -> String {
        status_name(self.kind, &self.rollout.app_namespace, &self.name)
    }
}

/// [`AppSpec::status_name`] of the app of `kind` named `namespace/name` (a `dependsOn` entry's,
/// say).
pub fn status_name(kind: AppKind, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        return name.to_string();
    }
    let kind = match kind {
        AppKind::ArgoApplication => "application",
        AppKind::FluxKustomization => "kustomization",
        AppKind::FluxHelmRelease => "helmrelease",
    };
    format!("{kind}_{namespace}_{name}")
}

/// Checks that `status_name` is one [`status_name`] gives (so that, as a file name, it stays
/// in its directory): a valid app name, or `<kind>_<namespace>_<name>` of valid parts.
pub fn check_status_name(status_name: &str) -> Result<(), names::Error> {
    let mut parts = status_name.split('_');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(name), None, None, None) => names::check_app_name("metadata.name", name),
        (Some("application" | "kustomization" | "helmrelease"), Some(namespace), Some(name), None) => {
            names::check_namespace(namespace)?;
            names::check_app_name("metadata.name", name)
        }
        _ => names::check_app_name("metadata.name", status_name),
    }
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
    /// Argo CD's `syncPolicy.managedNamespaceMetadata`: labels and annotations the namespace
    /// `CreateNamespace=true` makes (or finds) must carry, as `{labels: {..}, annotations: {..}}`.
    pub managed_namespace_metadata: Option<Value>,
    /// Flux's `spec.force`: an object whose update the API server refuses because an immutable
    /// field changed is deleted and created again (see [`crate::sync::flux::recreate`]).
    pub force: bool,
    /// Flux's `spec.suspend`: the app is compared but never synced on its own.
    pub suspend: bool,
    /// Flux's `spec.kubeConfig.secretRef`: the Secret (in the Kustomization's namespace) whose
    /// kubeconfig reaches the cluster the app goes to, and the key that holds it (Flux's
    /// `value`, then `value.yaml`, when none is given).
    pub kube_config: Option<KubeConfigRef>,
    /// Flux's `spec.interval`, the time between reconcile passes, or why it cannot be used.
    /// Only a loop of passes needs it, so one that cannot be read does not stop a single pass.
    pub interval: Option<Result<std::time::Duration, Error>>,
}

/// Where a Flux Kustomization's kubeconfig is: `spec.kubeConfig.secretRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeConfigRef {
    /// The Secret's name.
    pub secret: String,
    /// The key, when the Kustomization names one.
    pub key: Option<String>,
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
    /// Several apps, and none chosen: which one is meant is never guessed.
    #[error("{source_name}: holds {} apps ({}); name the one to use (--name NAME)", names.len(), names.join(", "))]
    Ambiguous {
        /// The source read.
        source_name: String,
        /// The names of the apps found.
        names: Vec<String>,
    },
    /// The app asked for by name is not among the objects.
    #[error("{source_name}: no app named {name} (found: {})", if found.is_empty() { "none".to_string() } else { found.join(", ") })]
    NoSuchApp {
        /// The source read.
        source_name: String,
        /// The name asked for.
        name: String,
        /// The names of the apps found.
        found: Vec<String>,
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

/// Whether `o` is an app: an Argo CD Application or a Flux Kustomization.
pub fn is_app(o: &Object) -> bool {
    matches!(
        (o.group(), o.kind()),
        ("argoproj.io", "Application")
            | ("kustomize.toolkit.fluxcd.io", "Kustomization")
            | ("helm.toolkit.fluxcd.io", "HelmRelease")
    )
}

/// The app among `objects`: the one called `name`, else the only one. Several apps and no
/// name is an error naming them all, never the first by chance.
pub fn select<'a>(source: &str, objects: &'a [Object], name: Option<&str>) -> Result<&'a Object, Error> {
    let apps: Vec<&Object> = objects.iter().filter(|o| is_app(o)).collect();
    let names = || apps.iter().map(|o| o.name().to_string()).collect::<Vec<_>>();
    match name {
        Some(name) => apps.iter().copied().find(|o| o.name() == name).ok_or_else(|| Error::NoSuchApp {
            source_name: source.to_string(),
            name: name.to_string(),
            found: names(),
        }),
        None => match apps.as_slice() {
            [] => Err(Error::NotFound { source_name: source.to_string() }),
            [one] => Ok(one),
            _ => Err(Error::Ambiguous { source_name: source.to_string(), names: names() }),
        },
    }
}

/// Reads the Application or Kustomization among `objects` (the only one: see [`read_named`]
/// to choose among several). Its name and namespaces must pass the API server's rules: they
/// end up in object namespaces, tracking ids and the paths where a FileCluster keeps status.
pub fn read(source: &str, objects: &[Object]) -> Result<AppSpec, Error> {
    read_named(source, objects, None)
}

/// [`read`] of the app called `name` (or of the only one, without a name).
pub fn read_named(source: &str, objects: &[Object], name: Option<&str>) -> Result<AppSpec, Error> {
    let o = select(source, objects, name)?;
    let (spec, namespace_field) = match (o.group(), o.kind()) {
        ("argoproj.io", "Application") => (read_argo(o)?, "spec.destination.namespace"),
        ("helm.toolkit.fluxcd.io", "HelmRelease") => (read_helm_release(o)?, "spec.targetNamespace"),
        _ => (read_flux(o)?, "spec.targetNamespace"),
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
    Ok(spec)
}

const ARGO_USED: &[&str] = &["destination", "ignoreDifferences", "syncPolicy"];
const FLUX_USED: &[&str] = &[
    "targetNamespace",
    "prune",
    "wait",
    "healthChecks",
    "timeout",
    "retryInterval",
    "dependsOn",
    "force",
    "kubeConfig",
];

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

/// `spec.suspend`, as a boolean; anything else is read as not suspended, as before it was
/// typed (a Kustomization's schema refuses it anyway).
fn suspend(o: &Object) -> bool {
    o.value().pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false)
}

/// `spec.interval`, if set, as a positive Go duration.
fn interval(o: &Object) -> Option<Result<std::time::Duration, Error>> {
    let text = o.value().pointer("/spec/interval")?.as_str()?;
    Some(
        crate::quantity::go_duration_nanos(text)
            .filter(|n| *n > 0)
            .map(|n| std::time::Duration::from_nanos(n.unsigned_abs()))
            .ok_or_else(|| {
                field_error(o, "spec.interval", format!("`{text}` is not a positive duration such as 30s or 3m"))
            }),
    )
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
    let force = match spec.and_then(|s| s.get("force")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(field_error(o, "spec.force", "not a boolean")),
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
    let kube_config = match spec.and_then(|s| s.get("kubeConfig")).filter(|k| !k.is_null()) {
        None => None,
        Some(k) => {
            let secret = k.pointer("/secretRef/name").and_then(Value::as_str).filter(|n| !n.is_empty());
            let Some(secret) = secret else {
                return Err(field_error(
                    o,
                    "spec.kubeConfig.secretRef.name",
                    "missing (configMapRef is not supported)",
                ));
            };
            names::check_app_name("spec.kubeConfig.secretRef.name", secret)
                .map_err(|e| field_error(o, "spec.kubeConfig.secretRef.name", e.to_string()))?;
            let key = k.pointer("/secretRef/key").and_then(Value::as_str).filter(|k| !k.is_empty());
            Some(KubeConfigRef { secret: secret.to_string(), key: key.map(str::to_string) })
        }
    };
    Ok(Rollout {
        wait,
        health_checks,
        kube_config,
        timeout: optional_duration(spec, "timeout", o)?,
        retry_interval: optional_duration(spec, "retryInterval", o)?,
        depends_on,
        app_namespace: own_namespace,
        force,
        suspend: suspend(o),
        interval: interval(o),
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
    // Argo CD refuses an Application with no destination: where would it sync to?
    if spec.and_then(|s| s.get("destination")).is_none_or(Value::is_null) {
        return Err(field_err(
            "spec.destination",
            "missing: an Application names where it syncs to (server or name, and namespace)".into(),
        ));
    }
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
        // Argo CD 3's switch: `automated` kept but off (a RollingSync ApplicationSet writes it).
        Some(v) if v.get("enabled") == Some(&Value::Bool(false)) => None,
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
            managed_namespace_metadata: managed_namespace_metadata(policy, &field_err)?,
            suspend: suspend(o),
            interval: interval(o),
            ..Rollout::default()
        },
        helm: None,
        unused: unused(spec, ARGO_USED),
    })
}

/// `syncPolicy.managedNamespaceMetadata`, checked: `labels` and `annotations` maps of strings.
fn managed_namespace_metadata(
    policy: Option<&Value>,
    field_err: &dyn Fn(&str, String) -> Error,
) -> Result<Option<Value>, Error> {
    let Some(m) = policy.and_then(|p| p.get("managedNamespaceMetadata")).filter(|m| !m.is_null()) else {
        return Ok(None);
    };
    for part in ["labels", "annotations"] {
        match m.get(part) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) if map.values().all(Value::is_string) => {}
            Some(_) => {
                return Err(field_err(
                    &format!("spec.syncPolicy.managedNamespaceMetadata.{part}"),
                    "not a map of strings".into(),
                ));
            }
        }
    }
    Ok(Some(m.clone()))
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
        helm: None,
        unused: unused(spec, FLUX_USED),
    })
}

/// Fields of a HelmRelease's spec this engine acts on.
const HELM_RELEASE_USED: &[&str] = &[
    "chart",
    "chartRef",
    "releaseName",
    "targetNamespace",
    "storageNamespace",
    "values",
    "valuesFrom",
    "install",
    "upgrade",
    "driftDetection",
    "dependsOn",
    "timeout",
    "kubeConfig",
    "maxHistory",
    "postRenderers",
];

/// A HelmRelease as an app: its objects go to the target namespace (Helm puts objects that
/// name none there and leaves the others where they say); it syncs on its own, always removes
/// what the chart no longer renders (as a Helm upgrade does), and corrects drift only with
/// `driftDetection.mode: enabled`. A release waits for its objects unless both actions say
/// `disableWait`.
fn read_helm_release(o: &Object) -> Result<AppSpec, Error> {
    use crate::helm_release::spec::{DriftMode, HelmReleaseSpec};
    let release = HelmReleaseSpec::read(o).map_err(|e| Error::Field {
        origin: o.origin().to_string(),
        field: e.field,
        problem: e.problem,
    })?;
    let spec = o.value().get("spec");
    let mut rollout = flux_rollout(o)?;
    rollout.wait = !(release.install.disable_wait && release.upgrade.disable_wait);
    // `upgrade.force`: an object whose update is refused is replaced.
    rollout.force = release.upgrade.force;
    // Flux's default: five minutes for each Helm action.
    rollout.timeout = rollout.timeout.or(Some(std::time::Duration::from_secs(300)));
    Ok(AppSpec {
        kind: AppKind::FluxHelmRelease,
        name: o.name().to_string(),
        destination_namespace: Some(release.target_namespace.clone()),
        force_namespace: false,
        ignore_differences: drift_ignore(o, &release.drift_ignore)?,
        sync_options: if release.install.create_namespace { vec!["CreateNamespace=true".into()] } else { Vec::new() },
        automated: Some(Automated { prune: true, self_heal: release.drift == DriftMode::Enabled, allow_empty: true }),
        retry: None,
        rollout,
        helm: Some(Box::new(release)),
        unused: unused(spec, HELM_RELEASE_USED),
    })
}

/// `driftDetection.ignore` as ignore rules: each rule's JSON pointer `paths` on the objects its
/// `target` selects (every object without one; a selector field left out matches any).
/// Label and annotation selectors are refused by name: the ignore rules select by group, kind,
/// name and namespace only.
fn drift_ignore(o: &Object, rules: &[Value]) -> Result<Vec<IgnoreRuleSpec>, Error> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let at = |f: &str| format!("spec.driftDetection.ignore[{i}].{f}");
        let paths = match rule.get("paths") {
            Some(Value::Array(paths)) if paths.iter().all(Value::is_string) => {
                paths.iter().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>()
            }
            _ => return Err(field_error(o, &at("paths"), "needs a list of JSON pointers")),
        };
        let target = rule.get("target").filter(|t| !t.is_null());
        for selector in ["labelSelector", "annotationSelector"] {
            if target.and_then(|t| t.get(selector)).is_some_and(|v| !v.is_null()) {
                return Err(field_error(o, &at(&format!("target.{selector}")), "not supported yet"));
            }
        }
        let text = |f: &str| target.and_then(|t| t.get(f)).and_then(Value::as_str).unwrap_or("").to_string();
        let any = |s: String| if s.is_empty() { "*".to_string() } else { s };
        out.push(IgnoreRuleSpec {
            group: any(text("group")),
            kind: any(text("kind")),
            name: text("name"),
            namespace: text("namespace"),
            json_pointers: paths,
            ..IgnoreRuleSpec::default()
        });
    }
    Ok(out)
}

/// Argo CD's annotation naming the Argo CD installation that applied an object.
pub const INSTALLATION_ID: &str = "argocd.argoproj.io/installation-id";
/// Argo CD's instance label (label-based tracking).
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Flux's label naming the Kustomization that applied an object.
pub const FLUX_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// Flux's label naming the HelmRelease that applied an object.
pub const HELM_RELEASE_NAME_LABEL: &str = crate::helm_release::spec::NAME_LABEL;
/// Flux's label naming the namespace of the HelmRelease that applied an object.
pub const HELM_RELEASE_NAMESPACE_LABEL: &str = crate::helm_release::spec::NAMESPACE_LABEL;

/// Argo CD's tracking id, `<app>:<group>/<kind>:<namespace>/<name>`, as Argo CD parses it
/// (`util/argo/resource_tracking.go` `ParseAppInstanceValue`): split at the first two colons
/// (so a name may hold colons), each of the last two parts split at exactly one slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingId<'a> {
    /// The app's instance name: `<app>`, or `<app namespace>_<app>` for apps outside the
    /// control plane's namespace.
    pub app: &'a str,
    /// API group of the object it names (empty for the core group).
    pub group: &'a str,
    /// Kind of the object it names.
    pub kind: &'a str,
    /// Namespace of the object it names (for cluster-scoped objects, the app's destination).
    pub namespace: &'a str,
    /// Name of the object it names.
    pub name: &'a str,
}

impl<'a> TrackingId<'a> {
    /// Parses a tracking id; `None` for any other shape, which Argo CD does not read as
    /// tracking at all.
    pub fn parse(text: &'a str) -> Option<TrackingId<'a>> {
        let mut parts = text.splitn(3, ':');
        let (app, group_kind, namespace_name) = (parts.next()?, parts.next()?, parts.next()?);
        let one_slash = |s: &'a str| s.split_once('/').filter(|(_, rest)| !rest.contains('/'));
        let (group, kind) = one_slash(group_kind)?;
        let (namespace, name) = one_slash(namespace_name)?;
        Some(TrackingId { app, group, kind, namespace, name })
    }

    /// Whether the id names `o` itself, as Argo CD's `isSelfReferencedObj` decides
    /// (`controller/state.go`): name, group and kind equal, and the namespace equal unless
    /// the object has none (cluster-scoped objects carry the app's destination namespace).
    /// An id copied onto another object names that other object and fails this.
    pub fn names(&self, o: &Object) -> bool {
        (o.namespace() == self.namespace || o.namespace().is_empty())
            && o.name() == self.name
            && o.group() == self.group
            && o.kind() == self.kind
    }
}

/// Why a live object is not a root object, if it is not: it names owners in
/// `metadata.ownerReferences`, or Argo CD infers an owner for it
/// (gitops-engine `pkg/cache/references.go` `resolveResourceReferences`): core `Endpoints`
/// belong to the Service of their name, service-account token Secrets to their ServiceAccount,
/// OLM `ClusterServiceVersion`s to their `olm.operatorGroup`. Argo CD only ever manages root
/// objects (`GetManagedLiveObjs` keeps those with no owner references): the rest are made
/// and removed by their owner, which is what any prune of them would fight.
pub fn owner_of(o: &Object) -> Option<String> {
    let meta = o.metadata();
    let owners = meta.and_then(|m| m.get("ownerReferences"));
    match owners {
        None | Some(Value::Null) => {}
        Some(Value::Array(refs)) if refs.is_empty() => {}
        Some(Value::Array(refs)) => {
            let first = &refs[0];
            let text = |f: &str| first.get(f).and_then(Value::as_str).unwrap_or("?");
            let more = if refs.len() > 1 { format!(" (and {} more)", refs.len() - 1) } else { String::new() };
            return Some(format!("{} {}{more}", text("kind"), text("name")));
        }
        // Malformed owner references still mean someone else may own it: never ours to delete.
        Some(_) => return Some("an owner (malformed metadata.ownerReferences)".into()),
    }
    match (o.group(), o.kind()) {
        ("", "Endpoints") => Some(format!("Service {} (Endpoints belong to their Service)", o.name())),
        ("", "Secret") => {
            let is_token = o.value().get("type").and_then(Value::as_str) == Some("kubernetes.io/service-account-token");
            let account = o.annotation("kubernetes.io/service-account.name").filter(|n| !n.is_empty());
            let uid = o.annotation("kubernetes.io/service-account.uid").filter(|u| !u.is_empty());
            match (is_token, account, uid) {
                (true, Some(account), Some(_)) => Some(format!("ServiceAccount {account} (its token Secret)")),
                _ => None,
            }
        }
        ("operators.coreos.com", "ClusterServiceVersion") => {
            o.annotation("olm.operatorGroup").filter(|g| !g.is_empty()).map(|g| format!("OperatorGroup {g} (OLM)"))
        }
        _ => None,
    }
}

/// Whether `instance` (an instance label or the app part of a tracking id) names `app`:
/// its name, or `<namespace>_<name>` with the app's own namespace (Argo CD's
/// `InstanceName` for apps outside the control plane's namespace). Another namespace's app
/// of the same name is another app.
fn names_app(instance: &str, app: &AppSpec) -> bool {
    instance == app.name
        || (!app.rollout.app_namespace.is_empty()
            && instance.strip_prefix(app.rollout.app_namespace.as_str()).and_then(|r| r.strip_prefix('_'))
                == Some(app.name.as_str()))
}

/// The refusal for an object another app (or none) tracks.
const NOT_TRACKED: &str = "not tracked by this app: never pruned";

/// Why a live object may not be pruned (nor reported as requiring pruning), if it may not:
/// the one check every prune path makes, from the diff's extraneous objects to the plan's
/// prune tasks and the executor's last look before a delete.
///
/// Rules, as Argo CD applies them:
/// - only root objects: not one with owners ([`owner_of`]);
/// - with a tracking id (annotation `argocd.argoproj.io/tracking-id`), it decides, whatever the
///   instance label says (annotation and annotation+label tracking): it must parse, name the
///   object itself ([`TrackingId::names`], so a copied annotation does not count) and, with
///   `app`, name the app; an object stamped with an installation id belongs to another
///   Argo CD installation;
/// - without one, for an Argo CD app, the instance label `app.kubernetes.io/instance` must
///   name the app (label tracking); for a Flux Kustomization, its name label must.
///
/// Without `app` (a diff of two snapshots), only the first two rules apply.
pub fn prune_refusal(o: &Object, app: Option<&AppSpec>) -> Option<String> {
    if let Some(owner) = owner_of(o) {
        return Some(format!("owned by {owner}: its owner manages it, never pruned"));
    }
    let annotation = o.annotation(crate::diff::TRACKING_ID);
    let is_flux = app.is_some_and(|a| a.kind.is_flux());
    if let Some(text) = annotation
        && !is_flux
    {
        let Some(id) = TrackingId::parse(text) else {
            return Some(format!(
                "its tracking id `{text}` is not `<app>:<group>/<kind>:<namespace>/<name>`: never pruned"
            ));
        };
        if !id.names(o) {
            return Some(format!(
                "its tracking id names {}/{} {}/{}, not this object (a copied annotation): never pruned",
                id.group, id.kind, id.namespace, id.name
            ));
        }
        if o.annotation(INSTALLATION_ID).is_some_and(|i| !i.is_empty()) {
            return Some("applied by another Argo CD installation (installation-id): never pruned".into());
        }
        return match app {
            Some(a) if !names_app(id.app, a) => Some(NOT_TRACKED.to_string()),
            _ => None,
        };
    }
    let app = app?;
    let label = match app.kind {
        AppKind::ArgoApplication => o.label(INSTANCE_LABEL),
        AppKind::FluxKustomization => o.label(FLUX_NAME_LABEL),
        AppKind::FluxHelmRelease => o.label(HELM_RELEASE_NAME_LABEL),
    };
    let tracked = match app.kind {
        AppKind::ArgoApplication => label.is_some_and(|l| names_app(l, app)),
        AppKind::FluxKustomization => label == Some(app.name.as_str()),
        // Two HelmReleases of one name in two namespaces label their objects apart.
        AppKind::FluxHelmRelease => {
            label == Some(app.name.as_str())
                && o.label(HELM_RELEASE_NAMESPACE_LABEL).is_none_or(|n| n == app.rollout.app_namespace)
        }
    };
    (!tracked).then(|| NOT_TRACKED.to_string())
}

/// Whether a live object belongs to this application and may be pruned by it: see
/// [`prune_refusal`], of which this is the yes/no answer. Only such objects may be reported
/// for pruning or deleted.
pub fn is_tracked_by(o: &Object, app: &AppSpec) -> bool {
    prune_refusal(o, Some(app)).is_none()
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
        AppKind::FluxHelmRelease => {
            mark_helm_owned(o, app);
            (
                "labels",
                std::iter::once((HELM_RELEASE_NAME_LABEL, app.name.clone()))
                    .chain(
                        (!flux_namespace.is_empty())
                            .then(|| (HELM_RELEASE_NAMESPACE_LABEL, flux_namespace.to_string())),
                    )
                    .collect(),
            )
        }
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

/// Helm's ownership marks, which Helm itself writes on every object of a release and checks
/// before it adopts one: `app.kubernetes.io/managed-by: Helm` and the release's name and
/// namespace annotations. With them, `helm upgrade` takes over a release this engine made, and
/// this engine one `helm install` made.
fn mark_helm_owned(o: &mut Object, app: &AppSpec) {
    use crate::helm_release::spec::{MANAGED_BY_LABEL, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
    let Some(release) = app.helm.as_deref() else { return };
    let Some(meta) = o
        .value_mut()
        .as_object_mut()
        .map(|obj| obj.entry("metadata").or_insert_with(|| Value::Object(Default::default())))
    else {
        return;
    };
    let Some(meta) = meta.as_object_mut() else { return };
    for (field, key, value) in [
        ("labels", MANAGED_BY_LABEL, "Helm"),
        ("annotations", RELEASE_NAME_ANNOTATION, release.release_name.as_str()),
        ("annotations", RELEASE_NAMESPACE_ANNOTATION, release.target_namespace.as_str()),
    ] {
        let map = meta.entry(field).or_insert_with(|| Value::Object(Default::default()));
        if !map.is_object() {
            *map = Value::Object(Default::default());
        }
        if let Some(map) = map.as_object_mut() {
            map.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
}

/// The application a live object is tracked by, if any (whichever app that is): the app of
/// Argo CD's tracking id (its name, without the `<namespace>_` of an instance name), else its
/// instance label, else Flux's name label.
pub fn tracking_app(o: &Object) -> Option<&str> {
    if let Some(id) = o.annotation(crate::diff::TRACKING_ID).and_then(TrackingId::parse) {
        return Some(id.app.rsplit_once('_').map(|(_, n)| n).unwrap_or(id.app));
    }
    o.label(INSTANCE_LABEL).or_else(|| o.label(FLUX_NAME_LABEL)).or_else(|| o.label(HELM_RELEASE_NAME_LABEL))
}

/// Every app name a live object's tracking marks could name (its tracking id's app, its
/// instance label, its Flux name label; an instance name `<namespace>_<name>` gives `<name>`):
/// an object [`is_tracked_by`] an app always lists the app's name here, so an index by these
/// names finds an app's objects without looking at every object.
pub fn tracking_names(o: &Object) -> Vec<&str> {
    let mut names = Vec::with_capacity(4);
    let annotation = o.annotation(crate::diff::TRACKING_ID);
    let id_app = annotation.and_then(|t| t.split_once(':').map(|(app, _)| app));
    let marks = [id_app, o.label(INSTANCE_LABEL), o.label(FLUX_NAME_LABEL), o.label(HELM_RELEASE_NAME_LABEL)];
    for mark in marks.into_iter().flatten() {
        let name = mark.rsplit_once('_').map_or(mark, |(_, n)| n);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
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
    fn a_helm_release_reads_as_an_app_that_tracks_and_marks_its_objects_as_flux_and_helm_do() {
        let objects = manifest::parse(
            "hr.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: apps}\n\
             spec:\n  targetNamespace: shop\n  chartRef: {kind: OCIRepository, name: web}\n  install: {createNamespace: true}\n\
             \x20 dependsOn: [{name: cache}]\n  driftDetection: {mode: enabled, ignore: [{paths: [/spec/replicas], target: {kind: Deployment}}]}\n",
        )
        .unwrap();
        let app = read("hr.yaml", &objects).unwrap();
        assert_eq!(app.kind, AppKind::FluxHelmRelease);
        assert_eq!(app.status_name(), "helmrelease_apps_web");
        assert!(check_status_name(&app.status_name()).is_ok());
        assert_eq!(app.destination_namespace.as_deref(), Some("shop"));
        assert_eq!(app.sync_options, ["CreateNamespace=true"]);
        assert_eq!(app.automated, Some(Automated { prune: true, self_heal: true, allow_empty: true }));
        assert_eq!(app.rollout.depends_on, ["apps/cache"]);
        assert_eq!(app.rollout.timeout, Some(std::time::Duration::from_secs(300)), "Flux's default");
        let rule = &app.ignore_differences[0];
        assert_eq!((rule.group.as_str(), rule.kind.as_str()), ("*", "Deployment"));
        assert_eq!(rule.json_pointers, ["/spec/replicas"]);

        let mut cm =
            manifest::parse("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n").unwrap().remove(0);
        mark_tracked(&mut cm, &app, "shop", "apps");
        assert_eq!(cm.label("helm.toolkit.fluxcd.io/name"), Some("web"));
        assert_eq!(cm.label("helm.toolkit.fluxcd.io/namespace"), Some("apps"));
        assert_eq!(cm.label("app.kubernetes.io/managed-by"), Some("Helm"));
        assert_eq!(cm.annotation("meta.helm.sh/release-name"), Some("shop-web"));
        assert_eq!(cm.annotation("meta.helm.sh/release-namespace"), Some("shop"));
        assert!(is_tracked_by(&cm, &app));
        assert_eq!(tracking_app(&cm), Some("web"));
        // The HelmRelease of the same name in another namespace does not own it.
        let mut other = app.clone();
        other.rollout.app_namespace = "staging".into();
        assert!(!is_tracked_by(&cm, &other));

        let bad = manifest::parse(
            "hr.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: apps}\n\
             spec: {chartRef: {kind: OCIRepository, name: web}, driftDetection: {ignore: [{paths: [/a], target: {labelSelector: x=y}}]}}\n",
        )
        .unwrap();
        let err = read("hr.yaml", &bad).unwrap_err().to_string();
        assert!(err.contains("spec.driftDetection.ignore[0].target.labelSelector"), "{err}");
    }

    #[test]
    fn statuses_are_named_by_kind_namespace_and_name() {
        let read_one = |text: &str| read("app.yaml", &crate::manifest::parse("app.yaml", text).unwrap()).unwrap();
        let argo = read_one(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec: {destination: {name: in-cluster, namespace: web}}\n",
        );
        let flux = read_one(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: web, namespace: flux-system}\nspec: {}\n",
        );
        let bare = read_one(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec: {destination: {name: in-cluster, namespace: web}}\n",
        );
        assert_eq!(argo.status_name(), "application_argocd_web");
        assert_eq!(flux.status_name(), "kustomization_flux-system_web");
        assert_eq!(bare.status_name(), "web");
        for name in [argo.status_name(), flux.status_name(), bare.status_name(), "a.b".into()] {
            assert!(check_status_name(&name).is_ok(), "{name}");
        }
        for bad in ["", "..", "a/b", "application_ns", "application_ns_", "secret_ns_x", "application_NS_x", "a_b_c_d"]
        {
            assert!(check_status_name(bad).is_err(), "{bad:?}");
        }
    }

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
        assert!(!app.rollout.force, "spec.force is off unless set");
        let bad = manifest::parse(
            "a.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\nspec: {destination: {namespace: a}, ignoreDifferences: [{kind: Deployment, jsonPointer: [/x]}]}\n",
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

        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  wait: true\n  force: true\n  timeout: 2m30s\n  retryInterval: 1m\n  healthChecks:\n  - {apiVersion: apps/v1, kind: Deployment, name: web, namespace: shop}\n  - {apiVersion: v1, kind: Namespace, name: shop}\n  - {apiVersion: v1, kind: ConfigMap, name: settings}\n  dependsOn: [{name: infra}, {name: crds, namespace: platform}]\n";
        let app = read("k.yaml", &manifest::parse("k.yaml", flux).unwrap()).unwrap();
        let r = &app.rollout;
        assert!(r.wait);
        assert!(r.force, "spec.force is read");
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
            ("force: 'yes'", "spec.force"),
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

    fn live(text: &str) -> Object {
        manifest::parse("live", text).unwrap().remove(0)
    }

    fn argo_app(namespace: &str) -> AppSpec {
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop, namespace: {namespace}}}\nspec: {{destination: {{namespace: shop}}}}\n"
        );
        read("app.yaml", &manifest::parse("app.yaml", &text).unwrap()).unwrap()
    }

    #[test]
    fn only_root_objects_whose_tracking_names_themselves_may_be_pruned() {
        let app = argo_app("argocd");
        let owned = live(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-5d4f\n  namespace: shop\n  labels: {app.kubernetes.io/instance: shop}\n  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}]\n",
        );
        let reason = prune_refusal(&owned, Some(&app)).expect("an owned object is never pruned");
        assert!(reason.contains("owned by Deployment web"), "{reason}");
        assert!(prune_refusal(&owned, None).is_some(), "not even without an app");
        assert!(!is_tracked_by(&owned, &app));

        let copied = live(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: copy\n  namespace: shop\n  annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:shop/settings'}\n",
        );
        let reason = prune_refusal(&copied, Some(&app)).expect("a copied id names another object");
        assert!(reason.contains("/ConfigMap shop/settings, not this object"), "{reason}");
        assert!(prune_refusal(&copied, None).is_some());

        let cases = [
            // The core group is the empty group part; namespaces must match.
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:shop/settings'}}\n",
                true,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/tracking-id: 'shop:apps/ConfigMap:shop/settings'}}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:other/settings'}}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/tracking-id: 'shop:/Secret:shop/settings'}}\n",
                false,
            ),
            // Cluster-scoped objects carry the app's destination namespace in their id.
            (
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, annotations: {argocd.argoproj.io/tracking-id: 'shop:/Namespace:shop/shop'}}\n",
                true,
            ),
            (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r, annotations: {argocd.argoproj.io/tracking-id: 'shop:rbac.authorization.k8s.io/ClusterRole:/r'}}\n",
                true,
            ),
            // A name may hold colons; a slash more is another shape.
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 'a:b', namespace: shop, annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:shop/a:b'}}\n",
                true,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:shop/settings/x'}}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/tracking-id: shop}}\n",
                false,
            ),
            // The id decides over the label, and names the app (`<namespace>_<app>` for apps
            // outside the control plane's namespace: another namespace is another app).
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, labels: {app.kubernetes.io/instance: shop}, annotations: {argocd.argoproj.io/tracking-id: 'other:/ConfigMap:shop/settings'}}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/tracking-id: 'team-b_shop:/ConfigMap:shop/settings'}}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:shop/settings', argocd.argoproj.io/installation-id: other}}\n",
                false,
            ),
            // Label tracking.
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, labels: {app.kubernetes.io/instance: shop}}\n",
                true,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, labels: {app.kubernetes.io/instance: shop2}}\n",
                false,
            ),
            // Owners Argo CD infers: Endpoints of a Service, a ServiceAccount's token Secret.
            (
                "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web, namespace: shop, labels: {app.kubernetes.io/instance: shop}}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/service-account-token\nmetadata: {name: t, namespace: shop, labels: {app.kubernetes.io/instance: shop}, annotations: {kubernetes.io/service-account.name: default, kubernetes.io/service-account.uid: u2}}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop, labels: {app.kubernetes.io/instance: shop}, ownerReferences: []}\n",
                true,
            ),
        ];
        for (text, prunable) in cases {
            let o = live(text);
            assert_eq!(
                prune_refusal(&o, Some(&app)).is_none(),
                prunable,
                "{text}: {:?}",
                prune_refusal(&o, Some(&app))
            );
        }

        let in_team_a = argo_app("team-a");
        for (id, ok) in [("team-a_shop", true), ("shop", true), ("team-b_shop", false), ("team-a_shop2", false)] {
            let o = live(&format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: s, namespace: shop, annotations: {{argocd.argoproj.io/tracking-id: '{id}:/ConfigMap:shop/s'}}}}\n"
            ));
            assert_eq!(is_tracked_by(&o, &in_team_a), ok, "{id}");
        }
    }

    #[test]
    fn flux_objects_are_tracked_by_label_and_roots_only() {
        let text = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec: {prune: true}\n";
        let app = read("k.yaml", &manifest::parse("k.yaml", text).unwrap()).unwrap();
        let root = live(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a, labels: {kustomize.toolkit.fluxcd.io/name: apps}}\n",
        );
        assert!(is_tracked_by(&root, &app));
        let owned = live(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, labels: {kustomize.toolkit.fluxcd.io/name: apps}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u}]}\n",
        );
        assert!(!is_tracked_by(&owned, &app));
    }

    #[test]
    fn several_apps_are_never_chosen_by_chance_and_an_application_needs_a_destination() {
        let kustomization = |name: &str| {
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec: {{path: ./{name}, sourceRef: {{kind: GitRepository, name: repo}}}}\n"
            )
        };
        let objs =
            manifest::parse("k.yaml", &format!("{}---\n{}", kustomization("infra"), kustomization("apps"))).unwrap();
        let e = read("k.yaml", &objs).unwrap_err().to_string();
        assert_eq!(e, "k.yaml: holds 2 apps (infra, apps); name the one to use (--name NAME)");
        assert_eq!(read_named("k.yaml", &objs, Some("apps")).unwrap().name, "apps");
        let e = read_named("k.yaml", &objs, Some("web")).unwrap_err().to_string();
        assert_eq!(e, "k.yaml: no app named web (found: infra, apps)");
        let nowhere = manifest::parse(
            "a.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\nspec: {source: {path: .}}\n",
        )
        .unwrap();
        let e = read("a.yaml", &nowhere).unwrap_err().to_string();
        assert!(e.contains("field `spec.destination`: missing"), "{e}");
    }
}
