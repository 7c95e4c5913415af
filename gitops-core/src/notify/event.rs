//! The event as Flux controllers emit it (`event.toolkit.fluxcd.io/v1beta1` `Event`): what a
//! reconcile says happened to an object, before any Alert looks at it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::NotifyError;

/// `info`: a normal event; Alerts with `eventSeverity: info` (the default) take it.
pub const SEVERITY_INFO: &str = "info";
/// `error`: a failure; every Alert takes it.
pub const SEVERITY_ERROR: &str = "error";

/// The object an event is about (a `corev1.ObjectReference`, as Flux fills it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvolvedObject {
    /// `Kustomization`, `GitRepository`, `HelmRelease`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The object's namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The object's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The object's UID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// `group/version` (`kustomize.toolkit.fluxcd.io/v1`) or `version` for the core group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
}

impl InvolvedObject {
    /// The API group of `apiVersion` (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }
}

/// An event, with the fields and JSON names of Flux's `Event`, in the order Go writes them
/// (the `generic` provider posts this JSON as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The object the event is about.
    pub involved_object: InvolvedObject,
    /// `info` or `error`.
    pub severity: String,
    /// When it happened (RFC 3339).
    #[serde(default)]
    pub timestamp: String,
    /// The human-readable text, which inclusion and exclusion lists are matched against.
    #[serde(default)]
    pub message: String,
    /// `ReconciliationSucceeded`, `ReconciliationFailed`, `HealthCheckFailed`,
    /// `DependencyNotReady`, `Progressing`, ...
    #[serde(default)]
    pub reason: String,
    /// `<group>/revision`, `<group>/originRevision`, `<group>/token`, annotations copied as
    /// `event.toolkit.fluxcd.io/<key>`, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// `kustomize-controller`, `source-controller`, ...
    #[serde(default)]
    pub reporting_controller: String,
    /// The controller's pod, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_instance: Option<String>,
}

impl Event {
    /// Reads an event from a YAML or JSON document (`source` names it in errors). The
    /// involved object needs a kind, a namespace and a name; the severity must be `info` or
    /// `error`; metadata values must be strings.
    pub fn from_value(source: &str, value: &Value) -> Result<Event, NotifyError> {
        let bad = |reason: String| NotifyError::Invalid { file: source.to_string(), reason };
        if !value.is_object() {
            return Err(bad("an event is a mapping (involvedObject, severity, message, ...)".into()));
        }
        for field in ["kind", "namespace", "name", "uid", "apiVersion"] {
            if let Some(v) = value.get("involvedObject").and_then(|o| o.get(field))
                && !v.is_string()
            {
                return Err(bad(format!("involvedObject.{field}: a string is expected (quote it), got {v}")));
            }
        }
        for field in ["severity", "timestamp", "message", "reason", "reportingController", "reportingInstance"] {
            if let Some(v) = value.get(field)
                && !v.is_string()
            {
                return Err(bad(format!("{field}: a string is expected (quote it), got {v}")));
            }
        }
        if let Some(meta) = value.get("metadata").and_then(Value::as_object) {
            for (k, v) in meta {
                if !v.is_string() {
                    return Err(bad(format!("metadata.{k}: a string is expected (quote it), got {v}")));
                }
            }
        }
        let event: Event = serde_json::from_value(value.clone()).map_err(|e| bad(e.to_string()))?;
        let o = &event.involved_object;
        for (field, v) in [("kind", &o.kind), ("namespace", &o.namespace), ("name", &o.name)] {
            if v.is_empty() {
                return Err(bad(format!("involvedObject.{field} is required")));
            }
        }
        if event.severity != SEVERITY_INFO && event.severity != SEVERITY_ERROR {
            return Err(bad(format!("severity {:?}: `info` or `error` is expected", event.severity)));
        }
        Ok(event)
    }

    /// Reads the one event of a YAML or JSON text.
    pub fn parse(source: &str, text: &str) -> Result<Event, NotifyError> {
        let docs = crate::yaml::parse_documents(text)
            .map_err(|e| NotifyError::Invalid { file: source.to_string(), reason: e.to_string() })?;
        match docs.as_slice() {
            [one] => Event::from_value(source, &one.value),
            [] => Err(NotifyError::Invalid { file: source.to_string(), reason: "no event in the file".into() }),
            _ => Err(NotifyError::Invalid {
                file: source.to_string(),
                reason: format!("{} documents: one event per file is expected", docs.len()),
            }),
        }
    }

    /// The value of `<group>/<key>` in the metadata, the group being the involved object's.
    pub fn group_metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(&format!("{}/{key}", self.involved_object.group())).map(String::as_str)
    }

    /// The event as JSON text, as the generic providers post it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_from_yaml_with_their_group() {
        let e = Event::parse(
            "EVENT.yaml",
            "involvedObject: {kind: Kustomization, namespace: apps, name: web, apiVersion: kustomize.toolkit.fluxcd.io/v1}\n\
             severity: error\nreason: ReconciliationFailed\nmessage: boom\n\
             metadata: {kustomize.toolkit.fluxcd.io/revision: main@sha1:abc}\nreportingController: kustomize-controller\n",
        )
        .expect("parses");
        assert_eq!(e.involved_object.group(), "kustomize.toolkit.fluxcd.io");
        assert_eq!(e.group_metadata("revision"), Some("main@sha1:abc"));
        // Go's field order and omitted empties, as the generic provider posts it.
        assert!(e.to_json().starts_with(r#"{"involvedObject":{"kind":"Kustomization","namespace":"apps","name":"web","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"error","#));
    }

    #[test]
    fn bad_events_name_the_field() {
        let cases = [
            ("severity: info\nmessage: x\n", "involvedObject"),
            ("involvedObject: {kind: K, namespace: ns}\nseverity: info\n", "involvedObject.name"),
            ("involvedObject: {kind: K, namespace: ns, name: x}\nseverity: warning\n", "severity"),
            ("involvedObject: {kind: K, namespace: ns, name: x}\nseverity: info\nmetadata: {a: 1}\n", "metadata.a"),
            ("- a\n", "mapping"),
            ("involvedObject: {kind: K, namespace: n, name: x}\nseverity: info\n", "involvedObject.namespace"),
        ];
        for (text, needle) in cases {
            let e = Event::parse("E.yaml", text).expect_err(text).to_string();
            assert!(e.contains(needle) && e.contains("E.yaml"), "{text}: {e}");
        }
    }

    #[test]
    fn core_group_objects_have_an_empty_group() {
        let o = InvolvedObject { api_version: "v1".into(), ..Default::default() };
        assert_eq!(o.group(), "");
    }
}
