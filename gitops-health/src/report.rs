//! The health of a set of live objects, as `gitops health` reports it: each object's
//! assessment and the app's aggregate, typed, for a front end to print as a table or JSON.

use gitops_core::{Object, ResourceKey};
use serde::Serialize;

use crate::aggregate::{AppHealth, Member, aggregate};
use crate::assess::{Assessment, CheckSource, HealthChecks};
use crate::status::{Health, HealthStatus};

/// One object's health, with the key fields that name it.
///
/// Serialized (through `serde_json::Value`, whose maps sort their keys) as the JSON
/// `gitops health -o json` prints for each object: `apiVersion`, `group`, `kind`,
/// `namespace`, `name`, `status` and `message` (`null` when no check gave a status), `check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectHealth {
    /// The object's `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// API group, empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The status, when a check gave one.
    pub status: Option<HealthStatus>,
    /// The check's message, when a check gave a status.
    pub message: Option<String>,
    /// Which check decided.
    pub check: CheckSource,
    /// How the object takes part in the app's health (not in the JSON document).
    #[serde(skip)]
    pub member: Member,
}

impl ObjectHealth {
    /// Assesses one live object with `checks`.
    pub fn assess(checks: &HealthChecks, object: &Object) -> ObjectHealth {
        let Assessment { health, source, .. } = checks.assess(object.value());
        let key = object.key(object.namespace());
        let member = Member::live(key.to_string(), object.value(), health.clone());
        let (status, message) = match health {
            Some(Health { status, message }) => (Some(status), Some(message)),
            None => (None, None),
        };
        let ResourceKey { group, kind, namespace, name } = key;
        ObjectHealth {
            api_version: object.api_version().to_string(),
            group,
            kind,
            namespace,
            name,
            status,
            message,
            check: source,
            member,
        }
    }

    /// A desired object the cluster does not hold: `Missing`, as Argo CD shows it.
    pub fn missing(api_version: &str, key: &ResourceKey) -> ObjectHealth {
        let member = Member::missing(key.to_string(), key.group.clone(), key.kind.clone());
        ObjectHealth {
            api_version: api_version.to_string(),
            group: key.group.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            status: Some(HealthStatus::Missing),
            message: Some(String::new()),
            check: CheckSource::None,
            member,
        }
    }

    /// `group/Kind`, or `Kind` for the core group.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() { self.kind.clone() } else { format!("{}/{}", self.group, self.kind) }
    }
}

/// The health of a set of live objects: each object's, in the order given, and the app's.
///
/// `serde_json::to_value` of it is the document `gitops health -o json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    /// Each object's health.
    pub objects: Vec<ObjectHealth>,
    /// The app's health, aggregated over the objects that count.
    pub health: AppHealth,
}

impl HealthReport {
    /// The report of these objects, with their aggregate.
    pub fn new(objects: Vec<ObjectHealth>) -> HealthReport {
        let health = aggregate(objects.iter().map(|o| &o.member));
        HealthReport { objects, health }
    }

    /// Whether the app is Healthy.
    pub fn is_healthy(&self) -> bool {
        self.health.status == HealthStatus::Healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_names_key_fields_status_message_and_check() {
        let object = |v| Object::new(v, gitops_core::Origin::inline("test"));
        let checks = HealthChecks::default();
        let cm = object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}));
        let svc = object(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"},
            "spec": {"type": "ClusterIP"},
        }));
        let report = HealthReport::new(vec![ObjectHealth::assess(&checks, &cm), ObjectHealth::assess(&checks, &svc)]);
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(
            v["objects"][0],
            json!({"apiVersion": "v1", "group": "", "kind": "ConfigMap", "namespace": "n", "name": "c",
                   "status": null, "message": null, "check": {"type": "none"}})
        );
        assert_eq!(v["objects"][1]["check"], json!({"type": "builtin"}));
        assert_eq!(v["health"]["status"], "Healthy");
        assert!(report.is_healthy());
        assert_eq!(report.objects[0].group_kind(), "ConfigMap");
    }
}
