//! A `HelmRelease` read, with the defaults helm-controller gives what is left out.
//!
//! Only what decides a release is read here: where the chart comes from, the release's name
//! and namespaces, how each Helm action runs and how a failed one is remediated. Values are
//! composed by [`super::values`]; scheduling fields (`interval`, `dependsOn`, `suspend`,
//! `timeout`, `kubeConfig`) by [`crate::app`], as for a Kustomization.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Object;

/// The API group of HelmReleases.
pub const GROUP: &str = "helm.toolkit.fluxcd.io";
/// The kind.
pub const KIND: &str = "HelmRelease";
/// Flux's label naming the HelmRelease that applied an object (its origin label).
pub const NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// Flux's label naming the HelmRelease's namespace on the objects it applied.
pub const NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";
/// Helm's label on every object of a release.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Helm's annotation naming the release that owns an object.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Helm's annotation naming the namespace of the release that owns an object.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";

/// Helm's limit on a release name (its Secrets' names and labels carry it).
pub const MAX_RELEASE_NAME: usize = 53;

/// A HelmRelease that cannot be used, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: `{field}`: {problem}")]
pub struct Error {
    /// The HelmRelease, as `HelmRelease <namespace>/<name>` (with its file when known).
    pub origin: String,
    /// The field, as `spec.chart.spec.sourceRef.kind`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A reference to a Flux source object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// `HelmRepository`, `GitRepository`, `Bucket`, `OCIRepository` or `HelmChart`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace (the HelmRelease's when not written).
    pub namespace: String,
}

/// Where the chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chart {
    /// `spec.chart.spec`: a chart of a HelmRepository (by name and version range) or a chart
    /// directory of a GitRepository or Bucket (by path); Flux makes a HelmChart of it.
    Template {
        /// `chart`: the chart's name, or its path in the source.
        chart: String,
        /// `version`: a semver range (`*` when not written); ignored for Git and Bucket.
        version: String,
        /// `sourceRef`.
        source: SourceRef,
        /// `valuesFiles`: value files of the chart, merged over its `values.yaml` in order.
        values_files: Vec<String>,
    },
    /// `spec.chartRef`: an OCIRepository holding the chart, or a HelmChart made elsewhere.
    Ref(SourceRef),
}

/// How Custom Resource Definitions of the chart's `crds/` are handled (`install.crds`,
/// `upgrade.crds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crds {
    /// Left alone.
    Skip,
    /// Created when missing, never updated.
    Create,
    /// Created or replaced.
    CreateReplace,
}

/// What a failed install or upgrade does next (`remediation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remediation {
    /// `retries`: how many times the action is tried again after a failure; negative is
    /// without end. 0: a failure stays until the spec changes.
    pub retries: i64,
    /// `ignoreTestFailures`: a failed test does not fail the release.
    pub ignore_test_failures: Option<bool>,
    /// `remediateLastFailure`: the last failure (when the retries are spent) is remediated
    /// too; by default for an upgrade with retries, never for an install.
    pub remediate_last_failure: bool,
    /// `strategy` (upgrade only): roll back to the last good release, or uninstall.
    pub strategy: Strategy,
}

/// How a failed upgrade is remediated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Back to the previous successful release (Flux's default).
    Rollback,
    /// The release is uninstalled.
    Uninstall,
}

/// `spec.install` or `spec.upgrade`: how the action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// `crds`.
    pub crds: Crds,
    /// `disableWait`: do not wait for the objects to be ready.
    pub disable_wait: bool,
    /// `disableHooks`: run no hooks.
    pub disable_hooks: bool,
    /// `remediation`.
    pub remediation: Remediation,
    /// `createNamespace` (install only): make the target namespace when missing.
    pub create_namespace: bool,
    /// `force` (upgrade only): replace objects whose update is refused.
    pub force: bool,
}

/// `spec.driftDetection.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftMode {
    /// Drift is not looked for (the default).
    Disabled,
    /// Drift is reported, not corrected.
    Warn,
    /// Drift is corrected.
    Enabled,
}

/// A HelmRelease, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmReleaseSpec {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Where the chart comes from.
    pub chart: Chart,
    /// The release's name: `releaseName`, else `[<targetNamespace>-]<name>`, shortened to
    /// Helm's 53 characters as Flux shortens it ([`shorten_release_name`]).
    pub release_name: String,
    /// The namespace the release's objects go to: `targetNamespace`, else the HelmRelease's.
    pub target_namespace: String,
    /// Where the release Secrets are kept: `storageNamespace`, else the HelmRelease's.
    pub storage_namespace: String,
    /// `install`.
    pub install: Action,
    /// `upgrade`.
    pub upgrade: Action,
    /// `test.enable`: run the chart's test hooks after an install or upgrade.
    pub test: bool,
    /// `test.ignoreFailures`: a failed test leaves the release Ready.
    pub test_ignore_failures: bool,
    /// `uninstall.keepHistory`.
    pub keep_history: bool,
    /// `driftDetection.mode`.
    pub drift: DriftMode,
    /// `driftDetection.ignore`, as written (JSON pointers with an optional target).
    pub drift_ignore: Vec<Value>,
    /// `maxHistory`: release Secrets kept (Flux's default 5; 0 keeps all).
    pub max_history: usize,
    /// `serviceAccountName`: the account the release's actions impersonate.
    pub service_account_name: Option<String>,
    /// `postRenderers`, as written (see gitops-render's post renderer).
    pub post_renderers: Option<Value>,
}

/// The release name helm-controller uses for a composed name: unchanged up to Helm's 53
/// characters, else its first 40, a dash and the first 12 hex digits of its SHA-256 (so two
/// long names stay apart).
pub fn shorten_release_name(name: &str) -> String {
    if name.len() <= MAX_RELEASE_NAME {
        return name.to_string();
    }
    let digest = crate::notify::flux::hex(&Sha256::digest(name.as_bytes()));
    // Kubernetes names are ASCII: cutting at a byte is cutting at a character.
    let head: String = name.chars().take(40).collect();
    format!("{head}-{}", &digest[..12])
}

/// Whether `o` is a HelmRelease.
pub fn is_helm_release(o: &Object) -> bool {
    o.group() == GROUP && o.kind() == KIND
}

impl HelmReleaseSpec {
    /// Reads the HelmRelease `o`.
    pub fn read(o: &Object) -> Result<HelmReleaseSpec, Error> {
        let origin = format!("HelmRelease {}/{} ({})", o.namespace(), o.name(), o.origin());
        let r = Reader { origin: &origin, spec: o.value().get("spec").unwrap_or(&Value::Null) };
        let namespace = if o.namespace().is_empty() { "default".to_string() } else { o.namespace().to_string() };
        let chart = r.chart(&namespace)?;
        let target = r.string("/targetNamespace")?.filter(|s| !s.is_empty());
        let release_name = match r.string("/releaseName")?.filter(|s| !s.is_empty()) {
            Some(n) if n.len() > MAX_RELEASE_NAME => {
                return Err(r.err("spec.releaseName", format!("longer than Helm's {MAX_RELEASE_NAME} characters")));
            }
            // Helm's rule for a release name is a DNS subdomain's: it names Secrets and labels.
            Some(n) => {
                crate::names::check_app_name("spec.releaseName", &n)
                    .map_err(|e| r.err("spec.releaseName", e.reason()))?;
                n
            }
            None => shorten_release_name(&match &target {
                Some(t) => format!("{t}-{}", o.name()),
                None => o.name().to_string(),
            }),
        };
        let storage = r.string("/storageNamespace")?.filter(|s| !s.is_empty());
        if let Some(ns) = &storage {
            crate::names::check_namespace_field("spec.storageNamespace", ns)
                .map_err(|e| r.err("spec.storageNamespace", e.reason()))?;
        }
        let drift = match r.string("/driftDetection/mode")?.as_deref() {
            None | Some("" | "disabled") => DriftMode::Disabled,
            Some("warn") => DriftMode::Warn,
            Some("enabled") => DriftMode::Enabled,
            Some(other) => {
                return Err(
                    r.err("spec.driftDetection.mode", format!("`{other}` is not one of enabled, warn, disabled"))
                );
            }
        };
        let drift_ignore = match r.spec.pointer("/driftDetection/ignore") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => return Err(r.err("spec.driftDetection.ignore", "not a list")),
        };
        let max_history = match r.spec.get("maxHistory") {
            None | Some(Value::Null) => 5,
            Some(v) => match v.as_i64() {
                Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(r.err("spec.maxHistory", "not a count (0 keeps every release)")),
            },
        };
        let post_renderers = match r.spec.get("postRenderers") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Array(_)) => Some(v.clone()),
            Some(_) => return Err(r.err("spec.postRenderers", "not a list")),
        };
        Ok(HelmReleaseSpec {
            name: o.name().to_string(),
            storage_namespace: storage.unwrap_or_else(|| namespace.clone()),
            target_namespace: target.unwrap_or_else(|| namespace.clone()),
            namespace,
            chart,
            release_name,
            install: r.action("install")?,
            upgrade: r.action("upgrade")?,
            test: r.bool("/test/enable")?.unwrap_or(false),
            test_ignore_failures: r.bool("/test/ignoreFailures")?.unwrap_or(false),
            keep_history: r.bool("/uninstall/keepHistory")?.unwrap_or(false),
            drift,
            drift_ignore,
            max_history,
            service_account_name: r.string("/serviceAccountName")?.filter(|s| !s.is_empty()),
            post_renderers,
        })
    }

    /// The name of the HelmChart Flux makes for a `spec.chart` template:
    /// `<namespace>-<name>`, in the source's namespace (`status.helmChart` names it so).
    pub fn helm_chart_name(&self) -> Option<String> {
        match &self.chart {
            Chart::Template { source, .. } => Some(format!("{}/{}-{}", source.namespace, self.namespace, self.name)),
            Chart::Ref(_) => None,
        }
    }
}

/// Reads fields of a HelmRelease's spec, naming them in errors.
struct Reader<'a> {
    origin: &'a str,
    spec: &'a Value,
}

impl Reader<'_> {
    fn err(&self, field: &str, problem: impl Into<String>) -> Error {
        Error { origin: self.origin.to_string(), field: field.to_string(), problem: problem.into() }
    }

    /// The field name of a pointer under `spec` (`/chart/spec/version` → `spec.chart.spec.version`).
    fn field(pointer: &str) -> String {
        format!("spec{}", pointer.replace('/', "."))
    }

    fn string(&self, pointer: &str) -> Result<Option<String>, Error> {
        match self.spec.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.err(&Self::field(pointer), "not a string")),
        }
    }

    fn bool(&self, pointer: &str) -> Result<Option<bool>, Error> {
        match self.spec.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(&Self::field(pointer), "not a boolean")),
        }
    }

    fn source_ref(&self, pointer: &str, own_namespace: &str, kinds: &[&str]) -> Result<SourceRef, Error> {
        let kind = self.string(&format!("{pointer}/kind"))?.unwrap_or_default();
        if !kinds.contains(&kind.as_str()) {
            return Err(self.err(
                &Self::field(&format!("{pointer}/kind")),
                format!("`{kind}` is not one of {}", kinds.join(", ")),
            ));
        }
        let name = self.string(&format!("{pointer}/name"))?.filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| self.err(&Self::field(&format!("{pointer}/name")), "missing"))?;
        let namespace = self.string(&format!("{pointer}/namespace"))?.filter(|n| !n.is_empty());
        Ok(SourceRef { kind, name, namespace: namespace.unwrap_or_else(|| own_namespace.to_string()) })
    }

    fn chart(&self, own_namespace: &str) -> Result<Chart, Error> {
        let template = self.spec.pointer("/chart/spec").filter(|v| !v.is_null());
        let chart_ref = self.spec.get("chartRef").filter(|v| !v.is_null());
        match (template, chart_ref) {
            (Some(_), Some(_)) => Err(self.err("spec.chartRef", "cannot be given with spec.chart; give one")),
            (None, None) => Err(self.err("spec.chart", "missing (give spec.chart.spec or spec.chartRef)")),
            (None, Some(_)) => {
                Ok(Chart::Ref(self.source_ref("/chartRef", own_namespace, &["OCIRepository", "HelmChart"])?))
            }
            (Some(_), None) => {
                let chart = self.string("/chart/spec/chart")?.filter(|c| !c.trim().is_empty());
                let chart = chart.ok_or_else(|| self.err("spec.chart.spec.chart", "missing"))?;
                let version = self.string("/chart/spec/version")?.filter(|v| !v.trim().is_empty());
                let values_files = match self.spec.pointer("/chart/spec/valuesFiles") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            v.as_str().map(str::to_string).ok_or_else(|| {
                                self.err(&format!("spec.chart.spec.valuesFiles[{i}]"), "not a file path")
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err(self.err("spec.chart.spec.valuesFiles", "not a list")),
                };
                Ok(Chart::Template {
                    chart: chart.trim().to_string(),
                    version: version.map_or_else(|| "*".to_string(), |v| v.trim().to_string()),
                    source: self.source_ref(
                        "/chart/spec/sourceRef",
                        own_namespace,
                        &["HelmRepository", "GitRepository", "Bucket"],
                    )?,
                    values_files,
                })
            }
        }
    }

    fn action(&self, which: &str) -> Result<Action, Error> {
        let install = which == "install";
        let crds = match self.string(&format!("/{which}/crds"))?.as_deref() {
            None | Some("") => {
                if install {
                    Crds::Create
                } else {
                    Crds::Skip
                }
            }
            Some("Skip") => Crds::Skip,
            Some("Create") => Crds::Create,
            Some("CreateReplace") => Crds::CreateReplace,
            Some(other) => {
                return Err(self.err(
                    &format!("spec.{which}.crds"),
                    format!("`{other}` is not one of Skip, Create, CreateReplace"),
                ));
            }
        };
        let retries = match self.spec.pointer(&format!("/{which}/remediation/retries")) {
            None | Some(Value::Null) => 0,
            Some(v) => v
                .as_i64()
                .ok_or_else(|| self.err(&format!("spec.{which}.remediation.retries"), "not a whole number"))?,
        };
        let strategy = match self.string(&format!("/{which}/remediation/strategy"))?.as_deref() {
            None | Some("" | "rollback") => Strategy::Rollback,
            Some("uninstall") => Strategy::Uninstall,
            Some(other) => {
                return Err(self.err(
                    &format!("spec.{which}.remediation.strategy"),
                    format!("`{other}` is not one of rollback, uninstall"),
                ));
            }
        };
        if install && strategy != Strategy::Rollback {
            return Err(self.err("spec.install.remediation.strategy", "an install is remediated by uninstalling only"));
        }
        Ok(Action {
            crds,
            disable_wait: self.bool(&format!("/{which}/disableWait"))?.unwrap_or(false),
            disable_hooks: self.bool(&format!("/{which}/disableHooks"))?.unwrap_or(false),
            remediation: Remediation {
                retries,
                ignore_test_failures: self.bool(&format!("/{which}/remediation/ignoreTestFailures"))?,
                // Flux: an install's last failure is left as it is unless asked; an upgrade's
                // is remediated whenever there are retries.
                remediate_last_failure: self
                    .bool(&format!("/{which}/remediation/remediateLastFailure"))?
                    .unwrap_or(!install && retries > 0),
                strategy: if install { Strategy::Uninstall } else { strategy },
            },
            create_namespace: install && self.bool("/install/createNamespace")?.unwrap_or(false),
            force: !install && self.bool("/upgrade/force")?.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<HelmReleaseSpec, Error> {
        let objects = crate::manifest::parse("hr.yaml", yaml).unwrap();
        HelmReleaseSpec::read(&objects[0])
    }

    #[test]
    fn defaults_follow_helm_controller() {
        let hr = read(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: apps}\n\
             spec:\n  interval: 5m\n  chart:\n    spec:\n      chart: podinfo\n      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}\n",
        )
        .unwrap();
        assert_eq!(hr.release_name, "podinfo");
        assert_eq!((hr.target_namespace.as_str(), hr.storage_namespace.as_str()), ("apps", "apps"));
        let Chart::Template { version, source, .. } = &hr.chart else { panic!("a template") };
        assert_eq!(version, "*");
        assert_eq!(source.namespace, "flux-system");
        assert_eq!(hr.install.crds, Crds::Create);
        assert_eq!(hr.upgrade.crds, Crds::Skip);
        assert_eq!(hr.upgrade.remediation.strategy, Strategy::Rollback);
        assert!(!hr.upgrade.remediation.remediate_last_failure);
        assert_eq!(hr.max_history, 5);
        assert_eq!(hr.drift, DriftMode::Disabled);
        assert_eq!(hr.helm_chart_name().as_deref(), Some("flux-system/apps-podinfo"));
    }

    #[test]
    fn release_name_takes_the_target_namespace_and_is_shortened_past_53() {
        let hr = read(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: apps}\n\
             spec:\n  targetNamespace: web\n  storageNamespace: store\n  chartRef: {kind: OCIRepository, name: podinfo}\n",
        )
        .unwrap();
        assert_eq!(hr.release_name, "web-podinfo");
        assert_eq!(hr.storage_namespace, "store");
        assert_eq!(
            hr.chart,
            Chart::Ref(SourceRef { kind: "OCIRepository".into(), name: "podinfo".into(), namespace: "apps".into() })
        );
        let long = "a".repeat(30) + "-" + &"b".repeat(30);
        let short = shorten_release_name(&long);
        assert_eq!(short.len(), 53);
        assert!(short.starts_with(&long[..40]));
        // The suffix is the start of the name's SHA-256, so it differs from another long name's.
        let digest = crate::notify::flux::hex(&Sha256::digest(long.as_bytes()));
        assert_eq!(&short[41..], &digest[..12]);
        assert_ne!(short, shorten_release_name(&(long.clone() + "c")));
        assert_eq!(shorten_release_name("short"), "short");
    }

    #[test]
    fn remediation_and_drift_are_read() {
        let hr = read(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: redis, namespace: db}\n\
             spec:\n  chart: {spec: {chart: ./charts/redis, sourceRef: {kind: GitRepository, name: repo}}}\n\
             \x20 install: {remediation: {retries: 3}}\n  upgrade: {remediation: {retries: -1, strategy: uninstall, remediateLastFailure: false}, crds: CreateReplace}\n\
             \x20 driftDetection: {mode: enabled, ignore: [{paths: [/spec/replicas]}]}\n  maxHistory: 0\n",
        )
        .unwrap();
        assert_eq!(hr.install.remediation.retries, 3);
        assert!(!hr.install.remediation.remediate_last_failure, "an install's defaults to false");
        assert_eq!(hr.upgrade.remediation.retries, -1);
        assert_eq!(hr.upgrade.remediation.strategy, Strategy::Uninstall);
        assert!(!hr.upgrade.remediation.remediate_last_failure);
        assert_eq!(hr.upgrade.crds, Crds::CreateReplace);
        assert_eq!(hr.drift, DriftMode::Enabled);
        assert_eq!(hr.drift_ignore.len(), 1);
        assert_eq!(hr.max_history, 0);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            ("spec: {}", "spec.chart"),
            ("spec: {chart: {spec: {chart: x, sourceRef: {kind: Nope, name: y}}}}", "spec.chart.spec.sourceRef.kind"),
            ("spec: {chart: {spec: {sourceRef: {kind: HelmRepository, name: y}}}}", "spec.chart.spec.chart"),
            ("spec: {chartRef: {kind: OCIRepository}}", "spec.chartRef.name"),
            (
                "spec: {chartRef: {kind: OCIRepository, name: a}, chart: {spec: {chart: x, sourceRef: {kind: HelmRepository, name: y}}}}",
                "spec.chartRef",
            ),
            ("spec: {chartRef: {kind: HelmChart, name: a}, driftDetection: {mode: on}}", "spec.driftDetection.mode"),
            (
                "spec: {chartRef: {kind: HelmChart, name: a}, upgrade: {remediation: {retries: x}}}",
                "spec.upgrade.remediation.retries",
            ),
            ("spec: {chartRef: {kind: HelmChart, name: a}, releaseName: ", "spec.releaseName"),
            ("spec: {chartRef: {kind: HelmChart, name: a}, releaseName: ../../etc/x}", "spec.releaseName"),
            ("spec: {chartRef: {kind: HelmChart, name: a}, storageNamespace: a/b}", "spec.storageNamespace"),
        ];
        for (spec, field) in cases {
            let spec =
                if spec.ends_with("releaseName: ") { format!("{spec}{}}}", "r".repeat(54)) } else { spec.to_string() };
            let yaml = format!(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: x, namespace: ns}}\n{spec}\n"
            );
            let err = read(&yaml).expect_err(&spec);
            assert_eq!(err.field, field, "{spec}: {err}");
            assert!(err.to_string().starts_with("HelmRelease ns/x (hr.yaml: document 1"), "{err}");
        }
    }
}
