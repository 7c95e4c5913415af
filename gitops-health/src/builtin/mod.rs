//! The health checks Argo CD builds in (gitops-engine `pkg/health`), for the 13 kinds it knows without Lua.
//!
//! [`check`] finds the check from the object's `apiVersion` and `kind`, and runs it on the object as it is:
//! the checks read their few fields straight from the `serde_json::Value` (see `access`), so a call allocates
//! nothing but the message (and, for an HPA `v1`, the conditions it parses out of an annotation). Deletion
//! ("Pending deletion") and Lua overrides come before this and are the caller's business.
//!
//! Argo CD converts each object to a typed Go struct first, which decides two kinds of Unknown kept here:
//! - a version it has no type for: `unsupported <Kind> GVK: <group>/<version>, Kind=<Kind>`;
//! - a field of the wrong JSON type (the conversion fails): `cannot read <Kind>: <field>: expected ..., got ...`.
//!   Only the fields a check's rules consult are read (its scalar fields, the fields it uses of every entry
//!   of the lists it scans, the other fields of the condition a rule picks), but all of them are read,
//!   whichever branch decides.

mod access;
mod apiservice;
mod batch;
mod hpa;
mod network;
mod pod;
mod storage;
mod workflow;
mod workloads;

use std::fmt::{self, Write as _};

use serde_json::Value;

use crate::status::{Health, HealthStatus};
use access::ReadError;

/// Whether a built-in check exists for this group and kind (any version).
///
/// The core group is `""`. A version the check does not type still has a check: it answers Unknown.
pub fn has_check(group: &str, kind: &str) -> bool {
    Check::find(group, kind).is_some()
}

/// Runs the built-in check for `obj` (a whole object as `serde_json::Value`).
///
/// `None` when no built-in check applies to its group and kind (a ConfigMap, a custom resource, a non-object).
/// A version Argo CD does not type, or a field of the wrong type, gives `Some` Unknown with a message that
/// says which.
pub fn check(obj: &Value) -> Option<Health> {
    // Go's unstructured getters read a non-string `kind` or `apiVersion` as "".
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = split_api_version(api_version)?;
    let check = Check::find(group, kind)?;
    let outcome = if check.accepts(version) { check.run(obj, version) } else { Err(Failure::Unsupported) };
    Some(outcome.unwrap_or_else(|failure| failure.into_health(check, group, version, kind)))
}

/// Splits an `apiVersion` as Kubernetes' `ParseGroupVersion` does: `v1` is the core group, `apps/v1` is group
/// `apps`. `None` for a string with more than one slash, which Go parses to an empty GVK with no check.
fn split_api_version(api_version: &str) -> Option<(&str, &str)> {
    if api_version == "/" {
        return Some(("", ""));
    }
    match api_version.split_once('/') {
        None => Some(("", api_version)),
        Some((_, version)) if version.contains('/') => None,
        Some(pair) => Some(pair),
    }
}

/// The built-in checks, one per group and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Pod,
    Service,
    PersistentVolumeClaim,
    Ingress,
    Job,
    HorizontalPodAutoscaler,
    ApiService,
    Workflow,
}

impl Check {
    /// The check for a group and kind, whatever the version.
    fn find(group: &str, kind: &str) -> Option<Check> {
        Some(match (group, kind) {
            ("apps", "Deployment") => Check::Deployment,
            ("apps", "StatefulSet") => Check::StatefulSet,
            ("apps", "DaemonSet") => Check::DaemonSet,
            ("apps", "ReplicaSet") => Check::ReplicaSet,
            ("", "Pod") => Check::Pod,
            ("", "Service") => Check::Service,
            ("", "PersistentVolumeClaim") => Check::PersistentVolumeClaim,
            ("extensions" | "networking.k8s.io", "Ingress") => Check::Ingress,
            ("batch", "Job") => Check::Job,
            ("autoscaling", "HorizontalPodAutoscaler") => Check::HorizontalPodAutoscaler,
            ("apiregistration.k8s.io", "APIService") => Check::ApiService,
            ("argoproj.io", "Workflow") => Check::Workflow,
            _ => return None,
        })
    }

    /// The versions Argo CD converts to a typed struct. Ingress and Workflow are read untyped, so any goes.
    fn accepts(self, version: &str) -> bool {
        match self {
            Check::Deployment
            | Check::StatefulSet
            | Check::DaemonSet
            | Check::ReplicaSet
            | Check::Pod
            | Check::Service
            | Check::PersistentVolumeClaim
            | Check::Job => version == "v1",
            Check::HorizontalPodAutoscaler => matches!(version, "v1" | "v2"),
            Check::ApiService => matches!(version, "v1" | "v1beta1"),
            Check::Ingress | Check::Workflow => true,
        }
    }

    /// Runs the check on an object of an accepted version.
    fn run(self, obj: &Value, version: &str) -> Result<Health, Failure> {
        Ok(match self {
            Check::Deployment => workloads::deployment(obj)?,
            Check::StatefulSet => workloads::stateful_set(obj)?,
            Check::DaemonSet => workloads::daemon_set(obj)?,
            Check::ReplicaSet => workloads::replica_set(obj)?,
            Check::Pod => pod::pod(obj)?,
            Check::Service => network::service(obj)?,
            Check::PersistentVolumeClaim => storage::persistent_volume_claim(obj)?,
            Check::Ingress => network::ingress(obj),
            Check::Job => batch::job(obj)?,
            Check::HorizontalPodAutoscaler => hpa::horizontal_pod_autoscaler(obj, version)?,
            Check::ApiService => apiservice::api_service(obj)?,
            Check::Workflow => workflow::workflow(obj)?,
        })
    }

    /// The kind as Argo CD's "unsupported ... GVK" message names it.
    fn label(self, kind: &str) -> &str {
        match self {
            Check::HorizontalPodAutoscaler => "HPA",
            _ => kind,
        }
    }
}

/// Why a check could not decide; each becomes Unknown with Argo CD's message.
#[derive(Debug)]
enum Failure {
    /// The version has no typed check.
    Unsupported,
    /// A field has the wrong JSON type.
    Unreadable(ReadError),
    /// An HPA v1 conditions annotation is not the JSON list it must be.
    ConditionsAnnotation(serde_json::Error),
}

impl From<ReadError> for Failure {
    fn from(error: ReadError) -> Failure {
        Failure::Unreadable(error)
    }
}

impl Failure {
    /// The Unknown health that reports this failure.
    fn into_health(self, check: Check, group: &str, version: &str, kind: &str) -> Health {
        let message = match self {
            // Go prints a GVK as "group/version, Kind=kind", so the core group leaves a bare leading slash.
            Failure::Unsupported => format!("unsupported {} GVK: {group}/{version}, Kind={kind}", check.label(kind)),
            Failure::Unreadable(error) => format!("cannot read {kind}: {error}"),
            Failure::ConditionsAnnotation(error) => {
                format!("failed to convert conditions annotation to typed: {error}")
            }
        };
        Health::new(HealthStatus::Unknown, message)
    }
}

/// Formats a string as Go's `%q` does: in double quotes, with quotes, backslashes and unprintable
/// characters escaped. Object names are DNS labels, so in practice only the quotes are added.
struct GoQuoted<'a>(&'a str);

impl fmt::Display for GoQuoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\u{07}' => f.write_str("\\a")?,
                '\u{08}' => f.write_str("\\b")?,
                '\u{0C}' => f.write_str("\\f")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\u{0B}' => f.write_str("\\v")?,
                c if c.is_ascii_control() => write!(f, "\\x{:02x}", u32::from(c))?,
                c if unprintable(c) => {
                    let code = u32::from(c);
                    if code < 0x10000 { write!(f, "\\u{code:04x}")? } else { write!(f, "\\U{code:08x}")? }
                }
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// An approximation of the characters outside ASCII that Go's `strconv.IsPrint` rejects: controls, spaces
/// (Go prints only U+0020 as is), and the invisible format characters.
fn unprintable(c: char) -> bool {
    !c.is_ascii()
        && (c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn api_version_split_follows_parse_group_version() {
        assert_eq!(split_api_version("v1"), Some(("", "v1")));
        assert_eq!(split_api_version("apps/v1"), Some(("apps", "v1")));
        assert_eq!(split_api_version(""), Some(("", "")));
        assert_eq!(split_api_version("/"), Some(("", "")));
        assert_eq!(split_api_version("apps/"), Some(("apps", "")));
        assert_eq!(split_api_version("a/b/c"), None);
    }

    #[test]
    fn has_check_covers_the_thirteen_kinds() {
        for (group, kind) in [
            ("apps", "Deployment"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("apps", "ReplicaSet"),
            ("", "Pod"),
            ("", "Service"),
            ("", "PersistentVolumeClaim"),
            ("extensions", "Ingress"),
            ("networking.k8s.io", "Ingress"),
            ("batch", "Job"),
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("apiregistration.k8s.io", "APIService"),
            ("argoproj.io", "Workflow"),
        ] {
            assert!(has_check(group, kind), "{group}/{kind}");
        }
        for (group, kind) in
            [("", "ConfigMap"), ("extensions", "Deployment"), ("apps", "deployment"), ("batch", "CronJob")]
        {
            assert!(!has_check(group, kind), "{group}/{kind}");
        }
    }

    #[test]
    fn no_check_gives_none() {
        assert_eq!(check(&json!({"apiVersion": "v1", "kind": "ConfigMap"})), None);
        assert_eq!(check(&json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment"})), None);
        assert_eq!(check(&json!({"apiVersion": "apps/v1/x", "kind": "Deployment"})), None);
        assert_eq!(check(&json!({"apiVersion": "apps/v1"})), None);
        assert_eq!(check(&json!(["not", "an", "object"])), None);
        assert_eq!(check(&json!(null)), None);
    }

    #[test]
    fn unsupported_versions_name_the_gvk() {
        let unknown = |m: &str| Some(Health::new(HealthStatus::Unknown, m));
        assert_eq!(check(&json!({"apiVersion": "v2", "kind": "Pod"})), unknown("unsupported Pod GVK: /v2, Kind=Pod"));
        assert_eq!(
            check(&json!({"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler"})),
            unknown("unsupported HPA GVK: autoscaling/v2beta2, Kind=HorizontalPodAutoscaler")
        );
        assert_eq!(check(&json!({"kind": "Pod"})), unknown("unsupported Pod GVK: /, Kind=Pod"));
        assert_eq!(
            check(&json!({"apiVersion": 1, "kind": "Service"})),
            unknown("unsupported Service GVK: /, Kind=Service")
        );
    }

    #[test]
    fn go_quoting() {
        assert_eq!(GoQuoted("web").to_string(), "\"web\"");
        assert_eq!(GoQuoted("a b~").to_string(), "\"a b~\"");
        assert_eq!(GoQuoted("a\"b\\c").to_string(), "\"a\\\"b\\\\c\"");
        assert_eq!(GoQuoted("a\nb\u{1}\u{7f}").to_string(), "\"a\\nb\\x01\\x7f\"");
        assert_eq!(GoQuoted("é\u{a0}\u{200b}").to_string(), "\"é\\u00a0\\u200b\"");
    }

    #[test]
    fn hostile_values_never_panic() {
        let values = [
            json!(null),
            json!(true),
            json!(-1),
            json!(1e300),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(2.5),
            json!("x"),
            json!([]),
            json!([null, 1, "x", {}]),
            json!({}),
            json!({"a": 1}),
        ];
        let kinds = [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "DaemonSet"),
            ("apps/v1", "ReplicaSet"),
            ("v1", "Pod"),
            ("v1", "Service"),
            ("v1", "PersistentVolumeClaim"),
            ("networking.k8s.io/v1", "Ingress"),
            ("batch/v1", "Job"),
            ("autoscaling/v1", "HorizontalPodAutoscaler"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("apiregistration.k8s.io/v1", "APIService"),
            ("argoproj.io/v1alpha1", "Workflow"),
        ];
        for (api_version, kind) in kinds {
            for value in &values {
                for part in ["metadata", "spec", "status"] {
                    let obj = json!({"apiVersion": api_version, "kind": kind, part: value});
                    assert!(check(&obj).is_some());
                }
                for field in ["conditions", "containerStatuses", "replicas", "loadBalancer", "phase"] {
                    let obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {"generation": 1,
                        "annotations": {"autoscaling.alpha.kubernetes.io/conditions": value}},
                        "spec": {field: value, "type": "LoadBalancer", "restartPolicy": "Always"},
                        "status": {"observedGeneration": 1, field: value, "phase": "Failed"}});
                    assert!(check(&obj).is_some());
                    let obj = json!({"apiVersion": api_version, "kind": kind,
                        "spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": value}}},
                        "status": {field: [{"state": {"terminated": value, "waiting": {"reason": value}}}]}});
                    assert!(check(&obj).is_some());
                }
            }
        }
    }
}
