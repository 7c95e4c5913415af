//! Argo CD notifications, pure (notifications-engine as Argo CD configures it): triggers read
//! from `argocd-notifications-cm` and run over an Application with [`crate::expr`], the
//! subscriptions of an app (annotations and the `subscriptions` key), and the notified state
//! kept in the app's `notified.notifications.argoproj.io` annotation so that a restart does
//! not send again.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde_json::Value;
use sha1::Digest as _;

pub mod service;
pub mod template;

use super::NotifyError;
use crate::expr::{Env, Program};

/// The annotation holding the notified state.
pub const NOTIFIED_ANNOTATION: &str = "notified.notifications.argoproj.io";
/// The prefix of subscription annotations.
pub const SUBSCRIBE_PREFIX: &str = "notifications.argoproj.io/subscribe.";
/// The most entries the notified state keeps (the oldest are dropped).
pub const NOTIFIED_MAX: usize = 100;

/// Argo CD's catalog triggers (`notifications_catalog/triggers`), as they ship.
pub const CATALOG_TRIGGERS: &str = r#"
on-created:
- description: Application is created.
  oncePer: app.metadata.name
  send: [app-created]
  when: "true"
on-deleted:
- description: Application is deleted.
  oncePer: app.metadata.name
  send: [app-deleted]
  when: app.metadata.deletionTimestamp != nil
on-deployed:
- description: Application is synced and healthy. Triggered once per commit.
  oncePer: app.status.operationState?.syncResult?.revision
  send: [app-deployed]
  when: app.status.operationState != nil and app.status.operationState.phase in ['Succeeded'] and app.status.health.status == 'Healthy'
on-health-degraded:
- description: Application has degraded
  send: [app-health-degraded]
  when: app.status.health.status == 'Degraded'
on-sync-failed:
- description: Application syncing has failed
  send: [app-sync-failed]
  when: app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']
on-sync-running:
- description: Application is being synced
  send: [app-sync-running]
  when: app.status.operationState != nil and app.status.operationState.phase in ['Running']
on-sync-status-unknown:
- description: Application status is 'Unknown'
  send: [app-sync-status-unknown]
  when: app.status.sync.status == 'Unknown'
on-sync-succeeded:
- description: Application syncing has succeeded
  send: [app-sync-succeeded]
  when: app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']
"#;

/// One condition of a trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The expression; empty reads as `false`.
    pub when: String,
    /// The templates sent.
    pub send: Vec<String>,
    /// An expression whose value makes the notification once per value.
    pub once_per: String,
    /// What it means.
    pub description: String,
    when_program: Program,
    once_per_program: Option<Program>,
}

/// A subscription of the `subscriptions` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `service:recipient` entries.
    pub recipients: Vec<Destination>,
    /// Triggers (empty: the default triggers).
    pub triggers: Vec<String>,
    /// A label selector of the apps it applies to (empty: all).
    pub selector: String,
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Destination {
    /// The service (`slack`, `webhook` name, `teams`, `email`, `github`).
    pub service: String,
    /// The channel, address, ... (may be empty).
    pub recipient: String,
}

/// What `argocd-notifications-cm` configures.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `trigger.<name>`.
    pub triggers: BTreeMap<String, Vec<Condition>>,
    /// `template.<name>`, as YAML read to JSON.
    pub templates: BTreeMap<String, Value>,
    /// `service.<type>` and `service.<type>.<name>`, by name (`slack`, or the webhook's name).
    pub services: BTreeMap<String, (String, Value)>,
    /// The `subscriptions` key.
    pub subscriptions: Vec<Subscription>,
    /// `defaultTriggers`.
    pub default_triggers: Vec<String>,
    /// `defaultTriggers.<service>`.
    pub default_triggers_by_service: BTreeMap<String, Vec<String>>,
    /// `context` (e.g. `argocdUrl`).
    pub context: BTreeMap<String, String>,
}

fn yaml(source: &str, key: &str, text: &str) -> Result<Value, NotifyError> {
    let docs = crate::yaml::parse_documents(text)
        .map_err(|e| NotifyError::Invalid { file: source.to_string(), reason: format!("{key}: {e}") })?;
    Ok(docs.into_iter().next().map(|d| d.value).unwrap_or(Value::Null))
}

fn bad(source: &str, reason: String) -> NotifyError {
    NotifyError::Invalid { file: source.to_string(), reason }
}

fn string_list(source: &str, key: &str, v: &Value) -> Result<Vec<String>, NotifyError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(|| bad(source, format!("{key}: strings are expected"))))
            .collect(),
        _ => Err(bad(source, format!("{key}: a list is expected"))),
    }
}

/// Reads a trigger's conditions (a YAML list of `{when, send, oncePer, description}`),
/// compiling their expressions (a compile error is an error, as notifications-engine's).
pub fn read_trigger(source: &str, name: &str, v: &Value) -> Result<Vec<Condition>, NotifyError> {
    let key = format!("trigger.{name}");
    let Value::Array(items) = v else { return Err(bad(source, format!("{key}: a list of conditions is expected"))) };
    let mut out = Vec::new();
    for (i, c) in items.iter().enumerate() {
        let text = |k: &str| match c.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(other) => Err(bad(source, format!("{key}[{i}].{k}: a string is expected, got {other}"))),
        };
        let when = text("when")?;
        let once_per = text("oncePer")?;
        let compile =
            |what: &str, text: &str| Program::parse(text).map_err(|e| bad(source, format!("{key}[{i}].{what}: {e}")));
        let when_program = compile("when", if when.is_empty() { "false" } else { &when })?;
        let once_per_program = if once_per.is_empty() { None } else { Some(compile("oncePer", &once_per)?) };
        out.push(Condition {
            send: string_list(source, &format!("{key}[{i}].send"), c.get("send").unwrap_or(&Value::Null))?,
            description: text("description")?,
            when,
            once_per,
            when_program,
            once_per_program,
        });
    }
    Ok(out)
}

impl Config {
    /// Argo CD's catalog: its triggers and templates, and nothing else.
    pub fn catalog() -> Config {
        let v = yaml("catalog", "triggers", CATALOG_TRIGGERS).expect("the catalog is YAML");
        let mut config = Config::default();
        for (name, conditions) in v.as_object().into_iter().flatten() {
            config
                .triggers
                .insert(name.clone(), read_trigger("catalog", name, conditions).expect("the catalog compiles"));
        }
        config.templates = template::catalog();
        config
    }

    /// This configuration over Argo CD's catalog (as when the catalog's install.yaml was
    /// applied and then the ConfigMap edited): the catalog's triggers and templates where
    /// this one has none of that name.
    pub fn over_catalog(mut self) -> Config {
        let catalog = Config::catalog();
        for (name, t) in catalog.triggers {
            self.triggers.entry(name).or_insert(t);
        }
        for (name, t) in catalog.templates {
            self.templates.entry(name).or_insert(t);
        }
        self
    }

    /// Reads an `argocd-notifications-cm` ConfigMap (`source` names it in errors).
    pub fn from_config_map(source: &str, cm: &Value) -> Result<Config, NotifyError> {
        let mut config = Config::default();
        let Some(data) = cm.get("data").and_then(Value::as_object) else { return Ok(config) };
        for (key, value) in data {
            let text = value.as_str().ok_or_else(|| bad(source, format!("data.{key}: a string is expected")))?;
            if let Some(name) = key.strip_prefix("trigger.") {
                config.triggers.insert(name.to_string(), read_trigger(source, name, &yaml(source, key, text)?)?);
            } else if let Some(name) = key.strip_prefix("template.") {
                config.templates.insert(name.to_string(), yaml(source, key, text)?);
            } else if let Some(rest) = key.strip_prefix("service.") {
                // `service.slack` is named `slack`; `service.webhook.github` is named `github`.
                let (kind, name) = rest.split_once('.').unwrap_or((rest, rest));
                config.services.insert(name.to_string(), (kind.to_string(), yaml(source, key, text)?));
            } else if key == "subscriptions" {
                let v = yaml(source, key, text)?;
                let Value::Array(items) = v else {
                    return Err(bad(source, "subscriptions: a list is expected".into()));
                };
                for (i, s) in items.iter().enumerate() {
                    let k = format!("subscriptions[{i}]");
                    let mut recipients = Vec::new();
                    for r in
                        string_list(source, &format!("{k}.recipients"), s.get("recipients").unwrap_or(&Value::Null))?
                    {
                        let (service, recipient) = r.split_once(':').unwrap_or((r.as_str(), ""));
                        recipients
                            .push(Destination { service: service.trim().into(), recipient: recipient.trim().into() });
                    }
                    config.subscriptions.push(Subscription {
                        recipients,
                        triggers: string_list(
                            source,
                            &format!("{k}.triggers"),
                            s.get("triggers").unwrap_or(&Value::Null),
                        )?,
                        selector: s.get("selector").and_then(Value::as_str).unwrap_or("").to_string(),
                    });
                }
            } else if key == "defaultTriggers" {
                config.default_triggers = string_list(source, key, &yaml(source, key, text)?)?;
            } else if let Some(service) = key.strip_prefix("defaultTriggers.") {
                config
                    .default_triggers_by_service
                    .insert(service.to_string(), string_list(source, key, &yaml(source, key, text)?)?);
            } else if key == "context" {
                let v = yaml(source, key, text)?;
                for (k, v) in v.as_object().into_iter().flatten() {
                    config.context.insert(k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string));
                }
            }
        }
        Ok(config)
    }

    /// The default triggers of a service.
    pub fn default_triggers_for(&self, service: &str) -> &[String] {
        self.default_triggers_by_service.get(service).unwrap_or(&self.default_triggers)
    }
}

/// The result of one condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionResult {
    /// `[i].<base64url(sha1(when))>`.
    pub key: String,
    /// The `oncePer` value (Go's `%v`), when the condition holds and has one.
    pub once_per: String,
    /// The templates to send.
    pub templates: Vec<String>,
    /// Whether `when` gave `true` (anything else, or an error, is false).
    pub triggered: bool,
    /// Why `when` (or `oncePer`) could not be evaluated, as notifications-engine logs it.
    pub error: Option<String>,
}

/// `[i].<base64url(sha1(when))>`, without padding.
pub fn condition_key(index: usize, when: &str) -> String {
    let digest = sha1::Sha1::digest(when.as_bytes());
    format!("[{index}].{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
}

/// Runs trigger `name` over `env` (which binds `app` and the time).
pub fn run_trigger(config: &Config, name: &str, env: &Env) -> Result<Vec<ConditionResult>, NotifyError> {
    let conditions = config.triggers.get(name).ok_or_else(|| NotifyError::Invalid {
        file: "triggers".into(),
        reason: format!("trigger '{name}' is not configured"),
    })?;
    let mut out = Vec::new();
    for (i, c) in conditions.iter().enumerate() {
        let mut result = ConditionResult {
            key: condition_key(i, &c.when),
            once_per: String::new(),
            templates: c.send.clone(),
            triggered: false,
            error: None,
        };
        match c.when_program.eval(env) {
            Ok(crate::expr::Val::Bool(b)) => result.triggered = b,
            Ok(_) => {}
            Err(e) => result.error = Some(format!("failed to execute when condition: {e}")),
        }
        if result.triggered
            && let Some(p) = &c.once_per_program
        {
            match p.eval(env) {
                Ok(v) => result.once_per = v.to_string(),
                Err(e) => result.error = Some(format!("failed to execute oncePer condition: {e}")),
            }
        }
        out.push(result);
    }
    Ok(out)
}

/// The destinations of an app by trigger: its annotations
/// `notifications.argoproj.io/subscribe.<trigger>.<service>: r1;r2` (or
/// `subscribe.<service>`, for the default triggers), then the ConfigMap's `subscriptions`
/// whose selector takes the app's labels. `annotations` may also hold the AppProject's.
pub fn destinations(
    config: &Config,
    annotations: &BTreeMap<String, String>,
    labels: &Value,
) -> BTreeMap<String, BTreeSet<Destination>> {
    let mut out: BTreeMap<String, BTreeSet<Destination>> = BTreeMap::new();
    for (key, value) in annotations {
        let Some(rest) = key.strip_prefix(SUBSCRIBE_PREFIX) else { continue };
        let (triggers, service): (Vec<String>, &str) = match rest.split_once('.') {
            Some((trigger, service)) => (vec![trigger.to_string()], service),
            None => (config.default_triggers_for(rest).to_vec(), rest),
        };
        for recipient in value.split([';', ',']).map(str::trim) {
            for t in &triggers {
                out.entry(t.clone())
                    .or_default()
                    .insert(Destination { service: service.to_string(), recipient: recipient.to_string() });
            }
        }
    }
    for s in &config.subscriptions {
        let selected = s.selector.trim().is_empty()
            || s.selector.parse::<crate::selector::LabelSelector>().is_ok_and(|sel| sel.matches(Some(labels)));
        if !selected {
            continue;
        }
        for d in &s.recipients {
            let triggers = if s.triggers.is_empty() { config.default_triggers_for(&d.service) } else { &s.triggers };
            for t in triggers {
                out.entry(t.clone()).or_default().insert(d.clone());
            }
        }
    }
    out
}

/// The notified state: key → Unix time of the notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifiedState(pub BTreeMap<String, i64>);

impl NotifiedState {
    /// Reads the annotation's JSON (an absent or unreadable one is empty, as Argo CD starts over).
    pub fn parse(annotation: Option<&str>) -> NotifiedState {
        NotifiedState(annotation.and_then(|a| serde_json::from_str(a).ok()).unwrap_or_default())
    }

    /// The annotation's JSON.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    /// Forgets an entry (a notification that could not be sent).
    pub fn forget(&mut self, key: &str) {
        self.0.remove(key);
    }

    /// `[oncePer:]trigger:conditionKey:service:recipient`.
    pub fn key(trigger: &str, result: &ConditionResult, dest: &Destination) -> String {
        let key = format!("{trigger}:{}:{}:{}", result.key, dest.service, dest.recipient);
        if result.once_per.is_empty() { key } else { format!("{}:{key}", result.once_per) }
    }

    /// Records that `dest` was (or is no longer) notified for `result`; whether the state
    /// changed. A condition turning false forgets the entry, so that it can fire again,
    /// unless it has `oncePer`. At most [`NOTIFIED_MAX`] entries are kept, the oldest dropped.
    pub fn set(
        &mut self,
        trigger: &str,
        result: &ConditionResult,
        dest: &Destination,
        notified: bool,
        now: i64,
    ) -> bool {
        let key = NotifiedState::key(trigger, result, dest);
        if self.0.contains_key(&key) == notified {
            return false;
        }
        if notified {
            self.0.insert(key, now);
            if self.0.len() > NOTIFIED_MAX {
                let mut by_age: Vec<(i64, String)> = self.0.iter().map(|(k, t)| (*t, k.clone())).collect();
                by_age.sort();
                for (_, k) in by_age.into_iter().take(self.0.len() - NOTIFIED_MAX) {
                    self.0.remove(&k);
                }
            }
        } else {
            if !result.once_per.is_empty() {
                return false;
            }
            self.0.remove(&key);
        }
        true
    }
}

/// One notification due: a template to send to a destination, and the state entry that
/// records it (forget it with [`NotifiedState::forget`] when sending fails, so that the next
/// run tries again, as notifications-engine does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The template.
    pub template: String,
    /// Where it goes.
    pub destination: Destination,
    /// The notified-state key.
    pub key: String,
}

/// What to send for one trigger over an app: for each condition that holds, each destination
/// not notified yet (the state is updated), and the state entries of conditions that no longer
/// hold are forgotten.
pub fn plan_sends(
    trigger: &str,
    results: &[ConditionResult],
    dests: &BTreeSet<Destination>,
    state: &mut NotifiedState,
    now: i64,
) -> Vec<Due> {
    let mut out = Vec::new();
    for r in results {
        for d in dests {
            if !r.triggered {
                state.set(trigger, r, d, false, now);
                continue;
            }
            if state.set(trigger, r, d, true, now) {
                let key = NotifiedState::key(trigger, r, d);
                out.extend(r.templates.iter().map(|t| Due {
                    template: t.clone(),
                    destination: d.clone(),
                    key: key.clone(),
                }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(phase: Option<&str>, health: &str, revision: &str) -> Env {
        let op = phase.map(|p| json!({"phase": p, "syncResult": {"revision": revision}}));
        Env::new().with(
            "app",
            json!({"metadata": {"name": "web"}, "status": {"health": {"status": health}, "sync": {"status": "Synced"}, "operationState": op}}),
        )
    }

    #[test]
    fn condition_keys_are_base64url_sha1_of_when() {
        // printf %s "true" | sha1sum → 5ffe533b830f08a0326348a9160afafc8ada44db.
        assert_eq!(condition_key(0, "true"), "[0].X_5TO4MPCKAyY0ipFgr6_IraRNs");
    }

    #[test]
    fn catalog_triggers_run_unchanged() {
        let c = Config::catalog();
        assert_eq!(c.triggers.len(), 8);
        let fired = |name: &str, env: &Env| run_trigger(&c, name, env).expect("runs")[0].triggered;
        let succeeded = app(Some("Succeeded"), "Healthy", "abc");
        let table = [
            ("on-sync-succeeded", &succeeded, true),
            ("on-deployed", &succeeded, true),
            ("on-health-degraded", &succeeded, false),
            ("on-sync-failed", &app(Some("Failed"), "Healthy", "abc"), true),
            ("on-sync-failed", &app(None, "Healthy", "abc"), false),
            ("on-sync-running", &app(Some("Running"), "Progressing", "abc"), true),
            ("on-deployed", &app(Some("Succeeded"), "Progressing", "abc"), false),
            ("on-health-degraded", &app(None, "Degraded", ""), true),
            ("on-created", &app(None, "Healthy", ""), true),
            ("on-deleted", &app(None, "Healthy", ""), false),
            ("on-sync-status-unknown", &app(None, "Healthy", ""), false),
        ];
        for (name, env, want) in table {
            assert_eq!(fired(name, env), want, "{name}");
        }
        let deployed = run_trigger(&c, "on-deployed", &succeeded).expect("runs");
        assert_eq!(deployed[0].once_per, "abc");
        assert!(run_trigger(&c, "on-nothing", &succeeded).is_err());
    }

    #[test]
    fn errors_and_non_booleans_count_as_false() {
        let cm = json!({"data": {"trigger.t": "- when: app.status.nothing.deeper == 1\n  send: [x]\n- when: \"'yes'\"\n  send: [why]\n"}});
        let c = Config::from_config_map("cm.yaml", &cm).expect("reads");
        let r = run_trigger(&c, "t", &app(None, "Healthy", "")).expect("runs");
        assert!(!r[0].triggered && r[0].error.as_deref().is_some_and(|e| e.contains("cannot fetch deeper")));
        assert!(!r[1].triggered && r[1].error.is_none());
        let bad = json!({"data": {"trigger.t": "- when: app ==\n"}});
        assert!(Config::from_config_map("cm.yaml", &bad).unwrap_err().to_string().contains("trigger.t[0].when"));
    }

    #[test]
    fn the_notified_state_sends_once_and_again_after_a_change() {
        let c = Config::catalog();
        let dests = BTreeSet::from([Destination { service: "slack".into(), recipient: "ops".into() }]);
        let mut state = NotifiedState::default();
        let degraded = app(None, "Degraded", "");
        let healthy = app(None, "Healthy", "");
        let sends = |env: &Env, state: &mut NotifiedState| {
            plan_sends(
                "on-health-degraded",
                &run_trigger(&c, "on-health-degraded", env).expect("runs"),
                &dests,
                state,
                1,
            )
            .len()
        };
        assert_eq!(sends(&degraded, &mut state), 1);
        assert_eq!(sends(&degraded, &mut state), 0, "already notified");
        // A restart reads the state back from the annotation.
        let mut restarted = NotifiedState::parse(Some(&state.to_annotation()));
        assert_eq!(sends(&degraded, &mut restarted), 0);
        assert_eq!(sends(&healthy, &mut restarted), 0);
        assert!(restarted.0.is_empty(), "forgotten when the condition no longer holds");
        assert_eq!(sends(&degraded, &mut restarted), 1);
        // oncePer: kept after the condition turns false, and keyed by its value.
        let mut state = NotifiedState::default();
        let deploy = |env: &Env, state: &mut NotifiedState| {
            plan_sends("on-deployed", &run_trigger(&c, "on-deployed", env).expect("runs"), &dests, state, 1)
        };
        assert_eq!(deploy(&app(Some("Succeeded"), "Healthy", "r1"), &mut state).len(), 1);
        assert_eq!(deploy(&app(Some("Running"), "Healthy", "r1"), &mut state).len(), 0);
        assert_eq!(deploy(&app(Some("Succeeded"), "Healthy", "r1"), &mut state).len(), 0);
        assert_eq!(deploy(&app(Some("Succeeded"), "Healthy", "r2"), &mut state).len(), 1);
        assert!(state.0.keys().any(|k| k.starts_with("r1:on-deployed:[0].")));
    }

    #[test]
    fn the_state_keeps_the_newest_hundred() {
        let mut state = NotifiedState::default();
        let d = Destination { service: "s".into(), recipient: "r".into() };
        for i in 0..105 {
            let r = ConditionResult {
                key: "[0].k".into(),
                once_per: i.to_string(),
                templates: vec![],
                triggered: true,
                error: None,
            };
            assert!(state.set("t", &r, &d, true, i));
        }
        assert_eq!(state.0.len(), NOTIFIED_MAX);
        assert!(!state.0.values().any(|t| *t < 5));
    }

    #[test]
    fn subscriptions_from_annotations_and_the_config_map() {
        let cm = json!({"data": {
            "defaultTriggers": "- on-sync-failed\n- on-health-degraded\n",
            "defaultTriggers.email": "[on-created]",
            "subscriptions": "- recipients: ['slack:audit', 'email:ops@example.com']\n  selector: team=a\n- recipients: ['teams:all']\n  triggers: [on-deployed]\n",
        }});
        let c = Config::from_config_map("cm.yaml", &cm).expect("reads");
        let annotations: BTreeMap<String, String> = [
            ("notifications.argoproj.io/subscribe.on-sync-succeeded.slack", "ops; dev"),
            ("notifications.argoproj.io/subscribe.email", "me@example.com"),
            ("other", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let d = |s: &str, r: &str| Destination { service: s.into(), recipient: r.into() };
        let got = destinations(&c, &annotations, &json!({"team": "a"}));
        assert_eq!(got["on-sync-succeeded"], BTreeSet::from([d("slack", "dev"), d("slack", "ops")]));
        assert_eq!(got["on-created"], BTreeSet::from([d("email", "me@example.com"), d("email", "ops@example.com")]));
        assert_eq!(got["on-sync-failed"], BTreeSet::from([d("slack", "audit")]));
        assert_eq!(got["on-deployed"], BTreeSet::from([d("teams", "all")]));
        let other_team = destinations(&c, &annotations, &json!({"team": "b"}));
        assert!(!other_team.contains_key("on-sync-failed"));
    }
}
