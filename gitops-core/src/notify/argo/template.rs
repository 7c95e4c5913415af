//! Argo CD notification templates, pure: a `template.<name>` of `argocd-notifications-cm`
//! rendered for one service with Go `text/template` ([`crate::appset::template::go`]) over
//! notifications-engine's data: `.app` (the Application as it is, integers kept), `.context`
//! (the ConfigMap's `context`, `argocdUrl` defaulting to `https://localhost:4000`),
//! `.secrets` (argocd-notifications-secret), `.serviceType` (the destination's service), and
//! the helpers reached with `call` (`.repo.RepoURLToHTTPS`, `.repo.FullNameByRepoURL`,
//! `.repo.QueryEscape`, `.strings.ReplaceAll`, `.strings.ToUpper`, `.strings.ToLower`).
//!
//! `message` and the section of the service being sent to are rendered (every string in it,
//! at any depth; booleans such as `slack.notifyBroadcast` kept): `slack`, `teams`, `email`,
//! `github`, and for a webhook `webhook.<its name>`. Unlike notifications-engine, which parses
//! every section when the ConfigMap loads, a section is parsed only when used: Argo CD's
//! current catalog ships `teams.potentialAction` entries with a stray `{{- end }}`, which
//! notifications-engine refuses; here only sending such a template to Teams fails, naming the
//! field.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::super::NotifyError;
use crate::appset::template::go::{self, GoData, GoOptions};

/// Argo CD's catalog templates (`notifications_catalog/templates/*.yaml`), as they ship.
pub const CATALOG_TEMPLATES: [(&str, &str); 8] = [
    ("app-created", include_str!("catalog/app-created.yaml")),
    ("app-deleted", include_str!("catalog/app-deleted.yaml")),
    ("app-deployed", include_str!("catalog/app-deployed.yaml")),
    ("app-health-degraded", include_str!("catalog/app-health-degraded.yaml")),
    ("app-sync-failed", include_str!("catalog/app-sync-failed.yaml")),
    ("app-sync-running", include_str!("catalog/app-sync-running.yaml")),
    ("app-sync-status-unknown", include_str!("catalog/app-sync-status-unknown.yaml")),
    ("app-sync-succeeded", include_str!("catalog/app-sync-succeeded.yaml")),
];

/// The default of `context.argocdUrl`, as Argo CD's.
pub const DEFAULT_ARGOCD_URL: &str = "https://localhost:4000";

/// A template rendered for one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// `message`, rendered (empty when the template has none).
    pub message: String,
    /// The service's section, every string rendered (`Null` when the template has none).
    pub section: Value,
}

/// The section of a template a service reads: `webhook.<name>` for webhooks, else the
/// service's type.
fn section_of<'a>(template: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    if kind == "webhook" { template.get("webhook").and_then(|w| w.get(name)) } else { template.get(kind) }
}

/// The template data: `.app`, `.context`, `.secrets`, `.serviceType` and the `call` helpers.
pub fn data(
    app: &Value,
    context: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
    service: &str,
) -> GoData {
    let mut context: Map<String, Value> = context.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    context.entry("argocdUrl").or_insert_with(|| Value::String(DEFAULT_ARGOCD_URL.into()));
    let helpers = |group: &str, names: &[&str]| -> Value {
        Value::Object(names.iter().map(|n| (n.to_string(), go::function(&format!("{group}.{n}")))).collect())
    };
    GoData::exact(json!({
        "app": app,
        "context": context,
        "secrets": secrets,
        "serviceType": service,
        "repo": helpers("repo", &["RepoURLToHTTPS", "FullNameByRepoURL", "QueryEscape", "GetCommitMetadata", "GetAppDetails"]),
        "strings": helpers("strings", &["ReplaceAll", "ToUpper", "ToLower"]),
    }))
}

/// Renders template `name` (its YAML read to JSON) for a destination whose service is of
/// `kind` (`slack`, `webhook`, ...) and named `service` (`slack`, or the webhook's name).
pub fn render(
    name: &str,
    template: &Value,
    kind: &str,
    service: &str,
    data: &GoData,
) -> Result<Notification, NotifyError> {
    let fail = |field: &str, e: go::GoError| NotifyError::Invalid {
        file: format!("template.{name}"),
        reason: format!("{field}: {e}"),
    };
    let message = match template.get("message") {
        Some(Value::String(m)) => go::render_data(m, data, GoOptions::default()).map_err(|e| fail("message", e))?,
        _ => String::new(),
    };
    let mut section = section_of(template, kind, service).cloned().unwrap_or(Value::Null);
    if kind == "github"
        && let Value::Object(m) = &mut section
    {
        // notifications-engine's defaults: the app's source and the synced revision.
        m.entry("repoURLPath").or_insert_with(|| json!("{{.app.spec.source.repoURL}}"));
        m.entry("revisionPath").or_insert_with(|| json!("{{.app.status.operationState.syncResult.revision}}"));
    }
    let prefix = if kind == "webhook" { format!("webhook.{service}") } else { kind.to_string() };
    render_strings(&mut section, &prefix, data, &fail)?;
    Ok(Notification { message, section })
}

fn render_strings(
    v: &mut Value,
    path: &str,
    data: &GoData,
    fail: &dyn Fn(&str, go::GoError) -> NotifyError,
) -> Result<(), NotifyError> {
    match v {
        Value::String(s) => *s = go::render_data(s, data, GoOptions::default()).map_err(|e| fail(path, e))?,
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                render_strings(item, &format!("{path}[{i}]"), data, fail)?;
            }
        }
        Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                render_strings(item, &format!("{path}.{k}"), data, fail)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Argo CD's catalog templates read to JSON.
pub fn catalog() -> BTreeMap<String, Value> {
    CATALOG_TEMPLATES
        .iter()
        .map(|(name, text)| {
            let doc = crate::yaml::parse_documents(text).expect("the catalog is YAML").remove(0);
            (name.to_string(), doc.value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {"source": {"repoURL": "git@github.com:acme/web.git"}},
            "status": {
                "sync": {"status": "Synced", "revision": "abc123"},
                "health": {"status": "Degraded"},
                "operationState": {"phase": "Succeeded", "finishedAt": "2024-05-01T10:00:00Z", "syncResult": {"revision": "abc123"}},
                "conditions": [{"type": "SyncError", "message": "a \"quoted\" failure"}],
            },
        })
    }

    fn ctx() -> BTreeMap<String, String> {
        BTreeMap::from([("argocdUrl".to_string(), "https://cd.example.com".to_string())])
    }

    #[test]
    fn the_catalog_renders_for_slack_and_email() {
        let templates = catalog();
        assert_eq!(templates.len(), 8);
        let data = data(&app(), &ctx(), &BTreeMap::new(), "slack");
        for (name, t) in &templates {
            let n = render(name, t, "slack", "slack", &data).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(n.message.contains("web"), "{name}: {}", n.message);
            if let Some(Value::String(a)) = n.section.get("attachments") {
                let parsed: Value = serde_json::from_str(a).unwrap_or_else(|e| panic!("{name}: {e}: {a}"));
                assert_eq!(parsed[0]["title"], "web", "{name}");
                assert_eq!(parsed[0]["fields"][1]["title"], "Repository", "{name}");
                assert_eq!(parsed[0]["fields"].as_array().unwrap().last().unwrap()["value"], "a \"quoted\" failure");
            }
            let email = render(name, t, "email", "email", &data).expect("renders for email");
            assert!(email.section["subject"].as_str().is_some_and(|s| s.contains("web")), "{name}");
        }
        let n = render("app-sync-succeeded", &templates["app-sync-succeeded"], "slack", "slack", &data).unwrap();
        assert!(
            n.message.starts_with(
                ":white_check_mark: Application web has been successfully synced at 2024-05-01T10:00:00Z."
            )
        );
        assert!(n.message.contains("https://cd.example.com/applications/web?operation=true"));
        let created = render("app-created", &templates["app-created"], "email", "email", &data).unwrap();
        assert_eq!(created.section["subject"], "Application web has been created.", "anchors are followed");
    }

    #[test]
    fn the_service_type_and_multiple_sources_change_the_output() {
        let templates = catalog();
        let mut multi = app();
        multi["spec"] = json!({"sources": [{"repoURL": "https://a.example/x"}, {"repoURL": "https://b.example/y"}]});
        let data = data(&multi, &ctx(), &BTreeMap::new(), "webhook-x");
        let n = render("app-deployed", &templates["app-deployed"], "slack", "slack", &data).unwrap();
        assert!(n.message.starts_with(" Application web is now running"), "{:?}", n.message);
        let a: Value = serde_json::from_str(n.section["attachments"].as_str().unwrap()).unwrap();
        assert_eq!(a[0]["fields"][1]["title"], "Repositories");
        assert_eq!(
            a[0]["fields"][1]["value"],
            ":arrow_heading_up: https://a.example/x\n:arrow_heading_up: https://b.example/y"
        );
    }

    #[test]
    fn the_catalogs_teams_actions_fail_naming_the_field() {
        let templates = catalog();
        let data = data(&app(), &ctx(), &BTreeMap::new(), "teams");
        let err = render("app-deployed", &templates["app-deployed"], "teams", "teams", &data).unwrap_err();
        assert!(err.to_string().contains("template.app-deployed: teams.potentialAction"), "{err}");
    }

    #[test]
    fn webhook_sections_github_defaults_secrets_and_call() {
        let t: Value = crate::yaml::parse_documents(
            "message: hi {{.app.metadata.name}}\nwebhook:\n  hook:\n    method: POST\n    path: /apps/{{.app.metadata.name}}\n    body: '{\"repo\": \"{{call .repo.RepoURLToHTTPS .app.spec.source.repoURL}}\", \"t\": \"{{.secrets.token}}\"}'\n  other:\n    path: '{{ .nope.deeper }}'\ngithub:\n  status:\n    state: success\n    label: cd/{{.app.metadata.name}}\n",
        )
        .unwrap()
        .remove(0)
        .value;
        let secrets = BTreeMap::from([("token".to_string(), "s3cr3t".to_string())]);
        let data = data(&app(), &ctx(), &secrets, "hook");
        let n = render("t", &t, "webhook", "hook", &data).unwrap();
        assert_eq!(n.message, "hi web");
        assert_eq!(n.section["path"], "/apps/web");
        assert_eq!(n.section["body"], r#"{"repo": "https://github.com/acme/web.git", "t": "s3cr3t"}"#);
        let g = render("t", &t, "github", "github", &data).unwrap();
        assert_eq!(g.section["repoURLPath"], "git@github.com:acme/web.git");
        assert_eq!(g.section["revisionPath"], "abc123");
        assert_eq!(g.section["status"]["label"], "cd/web");
        assert_eq!(render("t", &t, "slack", "slack", &data).unwrap().section, Value::Null);
    }
}
