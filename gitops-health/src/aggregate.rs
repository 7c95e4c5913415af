//! An application's health from its objects', as Argo CD's controller computes it.
//!
//! The worst status wins, in the order Healthy < Suspended < Progressing < Missing < Degraded
//! < Unknown. Left out: hooks, objects annotated `argocd.argoproj.io/ignore-healthcheck:
//! "true"`, objects with no status, and child Applications that report Missing or Unknown.
//! A missing object is reported as Missing but does not worsen the app (Argo CD ≥ 3.4),
//! unless every object that counts is missing: then the app is Missing.

use serde::Serialize;
use serde_json::Value;

use crate::status::{Health, HealthStatus};

/// The annotation that keeps an object out of app health.
pub const IGNORE_HEALTHCHECK: &str = "argocd.argoproj.io/ignore-healthcheck";

/// One object of the app, as aggregation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// How to name it in the app's message (e.g. its resource key).
    pub name: String,
    /// Its API group.
    pub group: String,
    /// Its kind.
    pub kind: String,
    /// Its health; `None` when no check applies.
    pub health: Option<Health>,
    /// Whether it exists in the cluster (a desired object not yet created does not).
    pub present: bool,
    /// Whether it is a sync hook or a `Skip` resource (Argo CD or Helm annotation).
    pub hook: bool,
    /// Whether it carries `argocd.argoproj.io/ignore-healthcheck: "true"`.
    pub ignored: bool,
}

impl Member {
    /// A present object: `hook` and `ignored` are read from its annotations.
    pub fn live(name: impl Into<String>, obj: &Value, health: Option<Health>) -> Member {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let annotation = |k: &str| obj.pointer("/metadata/annotations").and_then(|a| a.get(k)).and_then(Value::as_str);
        // `Skip` resources are never applied, so they do not count either.
        let hook = annotation("argocd.argoproj.io/hook").is_some()
            || annotation("helm.sh/hook").is_some_and(|h| h.trim() != "crd-install");
        Member {
            name: name.into(),
            group: gitops_core::schema::split_api_version(api_version).0.to_string(),
            kind: obj.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
            health,
            present: true,
            hook,
            ignored: annotation(IGNORE_HEALTHCHECK) == Some("true"),
        }
    }

    /// A desired object absent from the cluster.
    pub fn missing(name: impl Into<String>, group: impl Into<String>, kind: impl Into<String>) -> Member {
        Member {
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
            health: Some(Health::bare(HealthStatus::Missing)),
            present: false,
            hook: false,
            ignored: false,
        }
    }
}

/// An app's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppHealth {
    /// The worst status that counts.
    pub status: HealthStatus,
    /// Which objects have it, e.g. `2 objects Degraded: apps/Deployment/shop/web, ...`;
    /// empty when Healthy.
    pub message: String,
    /// The names of the objects with that status.
    pub causes: Vec<String>,
}

/// Aggregates the members' health.
pub fn aggregate<'a>(members: impl IntoIterator<Item = &'a Member>) -> AppHealth {
    let mut worst = HealthStatus::Healthy;
    let mut causes: Vec<&str> = Vec::new();
    let (mut counted, mut missing) = (0usize, 0usize);
    let mut missing_names: Vec<&str> = Vec::new();
    for m in members {
        if m.hook || m.ignored {
            continue;
        }
        counted += 1;
        if !m.present {
            missing += 1;
            missing_names.push(&m.name);
            continue;
        }
        let Some(h) = &m.health else { continue };
        if m.group == "argoproj.io"
            && m.kind == "Application"
            && matches!(h.status, HealthStatus::Missing | HealthStatus::Unknown)
        {
            continue;
        }
        if h.status.severity() > worst.severity() {
            worst = h.status;
            causes.clear();
        }
        if h.status == worst && worst != HealthStatus::Healthy {
            causes.push(&m.name);
        }
    }
    if counted > 0 && missing == counted {
        worst = HealthStatus::Missing;
        causes = missing_names;
    }
    let message = match causes.len() {
        0 => String::new(),
        1 => format!("1 object {worst}: {}", causes[0]),
        n => format!("{n} objects {worst}: {}", causes.join(", ")),
    };
    AppHealth { status: worst, message, causes: causes.into_iter().map(str::to_string).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(name: &str, status: Option<HealthStatus>) -> Member {
        Member::live(name, &json!({"apiVersion": "apps/v1", "kind": "Deployment"}), status.map(Health::bare))
    }

    #[test]
    fn worst_wins_and_names_its_objects() {
        let ms = [
            member("a", Some(HealthStatus::Healthy)),
            member("b", Some(HealthStatus::Progressing)),
            member("c", Some(HealthStatus::Suspended)),
            member("d", Some(HealthStatus::Progressing)),
            member("e", None),
        ];
        let h = aggregate(&ms);
        assert_eq!(h.status, HealthStatus::Progressing);
        assert_eq!(h.message, "2 objects Progressing: b, d");
        let all = HealthStatus::ALL.map(|s| member(s.as_str(), Some(s)));
        assert_eq!(aggregate(&all).status, HealthStatus::Unknown);
        assert_eq!(aggregate(&[]).status, HealthStatus::Healthy);
    }

    #[test]
    fn hooks_ignored_objects_and_child_apps_do_not_count() {
        let hook = Member::live(
            "hook",
            &json!({"kind": "Job", "apiVersion": "batch/v1", "metadata": {"annotations": {"argocd.argoproj.io/hook": "PreSync"}}}),
            Some(Health::bare(HealthStatus::Degraded)),
        );
        let skip = Member::live(
            "skip",
            &json!({"kind": "Job", "apiVersion": "batch/v1", "metadata": {"annotations": {"argocd.argoproj.io/hook": "Skip"}}}),
            Some(Health::bare(HealthStatus::Progressing)),
        );
        let helm = Member::live(
            "helm",
            &json!({"kind": "Job", "apiVersion": "batch/v1", "metadata": {"annotations": {"helm.sh/hook": "pre-install"}}}),
            Some(Health::bare(HealthStatus::Degraded)),
        );
        let ignored = Member::live(
            "ignored",
            &json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"annotations": {IGNORE_HEALTHCHECK: "true"}}}),
            Some(Health::bare(HealthStatus::Degraded)),
        );
        let child = Member::live(
            "child",
            &json!({"kind": "Application", "apiVersion": "argoproj.io/v1alpha1"}),
            Some(Health::bare(HealthStatus::Unknown)),
        );
        assert!(hook.hook && helm.hook && skip.hook && ignored.ignored);
        let h = aggregate(&[hook, skip, helm, ignored, child, member("web", Some(HealthStatus::Suspended))]);
        assert_eq!((h.status, h.message.as_str()), (HealthStatus::Suspended, "1 object Suspended: web"));
    }

    #[test]
    fn missing_objects_count_only_when_all_are_missing() {
        let some = [member("a", Some(HealthStatus::Healthy)), Member::missing("b", "apps", "Deployment")];
        assert_eq!(aggregate(&some).status, HealthStatus::Healthy);
        let all = [Member::missing("a", "", "Service"), Member::missing("b", "apps", "Deployment")];
        let h = aggregate(&all);
        assert_eq!((h.status, h.message.as_str()), (HealthStatus::Missing, "2 objects Missing: a, b"));
    }
}
