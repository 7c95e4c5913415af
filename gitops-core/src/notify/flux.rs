//! Flux's notification-controller, pure: Alerts and Providers read from their manifests
//! (`notification.toolkit.fluxcd.io` v1beta3, and v1beta1/v1beta2 as Flux reads them), which
//! Alerts take an event, the metadata a notification carries, and the rate-limit key.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use sha2::Digest as _;

use super::NotifyError;
use super::event::{Event, InvolvedObject, SEVERITY_ERROR, SEVERITY_INFO};

/// The API group of Alerts and Providers.
pub const GROUP: &str = "notification.toolkit.fluxcd.io";
/// The metadata prefix Flux controllers copy object annotations under.
pub const EVENT_PREFIX: &str = "event.toolkit.fluxcd.io/";

/// One entry of `spec.eventSources`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSource {
    /// The kind of object.
    pub kind: String,
    /// A name, or `*` for every object of the kind.
    pub name: String,
    /// The namespace; empty means the Alert's.
    pub namespace: String,
    /// `matchLabels`, when given (only read with `name: '*'`, as Flux does).
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// A Flux Alert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alert {
    /// `metadata.namespace` (`default` when missing).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.providerRef.name`.
    pub provider: String,
    /// `spec.eventSeverity`: `info` (the default) or `error`.
    pub severity: String,
    /// `spec.eventSources`.
    pub sources: Vec<EventSource>,
    /// `spec.inclusionList`.
    pub inclusion: Vec<String>,
    /// `spec.exclusionList`.
    pub exclusion: Vec<String>,
    /// `spec.eventMetadata` (v1beta3 only).
    pub event_metadata: BTreeMap<String, String>,
    /// `spec.summary`.
    pub summary: String,
    /// `spec.suspend`.
    pub suspend: bool,
}

impl Alert {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The provider types this engine sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderType {
    /// `generic`: the event's JSON, POSTed.
    Generic,
    /// `generic-hmac`: the same, with an `X-Signature` HMAC of the body.
    GenericHmac,
    /// `slack`: an attachment, to a webhook or `chat.postMessage` with a bot token.
    Slack,
    /// `msteams`: an Adaptive Card (or a MessageCard to an Office 365 connector).
    MsTeams,
    /// `discord`: Slack-formatted, to the webhook's `/slack` path.
    Discord,
    /// `googlechat`: a card.
    GoogleChat,
    /// `github`: a commit status on the event's revision.
    GitHub,
    /// `gitlab`: a commit status.
    GitLab,
    /// `gitea`: a commit status.
    Gitea,
}

impl ProviderType {
    /// Reads `spec.type`.
    pub fn parse(text: &str) -> Option<ProviderType> {
        Some(match text {
            "generic" => ProviderType::Generic,
            "generic-hmac" => ProviderType::GenericHmac,
            "slack" => ProviderType::Slack,
            "msteams" => ProviderType::MsTeams,
            "discord" => ProviderType::Discord,
            "googlechat" => ProviderType::GoogleChat,
            "github" => ProviderType::GitHub,
            "gitlab" => ProviderType::GitLab,
            "gitea" => ProviderType::Gitea,
            _ => return None,
        })
    }

    /// Whether the provider sets Git commit statuses.
    pub fn is_commit_status(self) -> bool {
        matches!(self, ProviderType::GitHub | ProviderType::GitLab | ProviderType::Gitea)
    }
}

/// A Flux Provider, as written (secrets not read yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid` (commit status contexts use its first segment).
    pub uid: String,
    /// `spec.type`.
    pub kind: ProviderType,
    /// `spec.address`.
    pub address: String,
    /// `spec.channel`.
    pub channel: String,
    /// `spec.username`.
    pub username: String,
    /// `spec.proxy`.
    pub proxy: String,
    /// `spec.secretRef.name`.
    pub secret_ref: Option<String>,
    /// `spec.certSecretRef.name`.
    pub cert_secret_ref: Option<String>,
    /// `spec.suspend`.
    pub suspend: bool,
    /// `spec.timeout` as written (`20s`), when given.
    pub timeout: Option<String>,
}

impl Provider {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A Provider with its Secrets read: what a notification is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The type.
    pub kind: Option<ProviderType>,
    /// The address (the Secret's `address` wins over `spec.address`).
    pub address: String,
    /// `spec.channel`.
    pub channel: String,
    /// The username (the Secret's wins).
    pub username: String,
    /// The Secret's `password`.
    pub password: String,
    /// The proxy URL (the Secret's wins).
    pub proxy: String,
    /// The Secret's `token`.
    pub token: String,
    /// The Secret's `headers` (a YAML map), sent with generic requests.
    pub headers: BTreeMap<String, String>,
    /// The PEM CA bundle of `certSecretRef` (`ca.crt`, or the older `caFile`).
    pub ca_pem: Option<String>,
    /// The Provider's UID.
    pub uid: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret").field("namespace", &self.namespace).field("name", &self.name).finish_non_exhaustive()
    }
}

/// A Kubernetes Secret's decoded data (`data` base64-decoded, `stringData` over it).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// Key to value.
    pub data: BTreeMap<String, String>,
}

impl Secret {
    /// Reads a `v1` Secret (`source` names it in errors).
    pub fn from_value(source: &str, v: &Value) -> Result<Secret, NotifyError> {
        use base64::Engine as _;
        let bad = |reason: String| NotifyError::Invalid { file: source.to_string(), reason };
        let (namespace, name) = meta(v);
        let mut data = BTreeMap::new();
        if let Some(m) = v.get("data").and_then(Value::as_object) {
            for (k, val) in m {
                let text = val.as_str().ok_or_else(|| bad(format!("Secret {name}: data.{k} is not a string")))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|e| bad(format!("Secret {name}: data.{k} is not base64: {e}")))?;
                let s = String::from_utf8(bytes).map_err(|_| bad(format!("Secret {name}: data.{k} is not UTF-8")))?;
                data.insert(k.clone(), s);
            }
        }
        if let Some(m) = v.get("stringData").and_then(Value::as_object) {
            for (k, val) in m {
                let s = val.as_str().ok_or_else(|| bad(format!("Secret {name}: stringData.{k} is not a string")))?;
                data.insert(k.clone(), s.to_string());
            }
        }
        Ok(Secret { namespace, name, data })
    }
}

fn meta(v: &Value) -> (String, String) {
    let m = v.get("metadata");
    let ns = m.and_then(|m| m.get("namespace")).and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("default");
    let name = m.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("");
    (ns.to_string(), name.to_string())
}

fn string_map(source: &str, what: &str, v: Option<&Value>) -> Result<Option<BTreeMap<String, String>>, NotifyError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let s = v.as_str().ok_or_else(|| NotifyError::Invalid {
                    file: source.to_string(),
                    reason: format!("{what}.{k}: a string is expected, got {v}"),
                })?;
                out.insert(k.clone(), s.to_string());
            }
            Ok(Some(out))
        }
        Some(other) => Err(NotifyError::Invalid {
            file: source.to_string(),
            reason: format!("{what}: a map is expected, got {other}"),
        }),
    }
}

fn strings(source: &str, what: &str, v: Option<&Value>) -> Result<Vec<String>, NotifyError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| NotifyError::Invalid {
                    file: source.to_string(),
                    reason: format!("{what}: strings are expected, got {i}"),
                })
            })
            .collect(),
        Some(other) => Err(NotifyError::Invalid {
            file: source.to_string(),
            reason: format!("{what}: a list is expected, got {other}"),
        }),
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The API version of a notification object, checked: `v1beta1`, `v1beta2`, `v1beta3`.
fn version<'a>(source: &str, v: &'a Value, kind: &str) -> Result<Option<&'a str>, NotifyError> {
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if v.get("kind").and_then(Value::as_str) != Some(kind) {
        return Ok(None);
    }
    match api.strip_prefix(GROUP).and_then(|r| r.strip_prefix('/')) {
        Some(ver @ ("v1beta1" | "v1beta2" | "v1beta3")) => Ok(Some(ver)),
        _ => Err(NotifyError::Invalid {
            file: source.to_string(),
            reason: format!("{kind} with apiVersion {api:?}: {GROUP}/v1beta3 (or v1beta2, v1beta1) is expected"),
        }),
    }
}

/// Reads an Alert; `Ok(None)` when the document is not an Alert. `warnings` gets what Flux
/// would drop (`eventMetadata` on v1beta1/v1beta2, which have no such field).
pub fn read_alert(source: &str, v: &Value, warnings: &mut Vec<String>) -> Result<Option<Alert>, NotifyError> {
    let Some(ver) = version(source, v, "Alert")? else { return Ok(None) };
    let (namespace, name) = meta(v);
    let bad =
        |reason: String| NotifyError::Invalid { file: source.to_string(), reason: format!("Alert {name}: {reason}") };
    if name.is_empty() {
        return Err(bad("metadata.name is required".into()));
    }
    let empty = Value::Null;
    let spec = v.get("spec").unwrap_or(&empty);
    let provider = spec.get("providerRef").map(|r| text(r, "name")).unwrap_or_default();
    if provider.is_empty() {
        return Err(bad("spec.providerRef.name is required".into()));
    }
    let severity = match spec.get("eventSeverity").and_then(Value::as_str).unwrap_or("") {
        "" | SEVERITY_INFO => SEVERITY_INFO.to_string(),
        SEVERITY_ERROR => SEVERITY_ERROR.to_string(),
        other => return Err(bad(format!("spec.eventSeverity {other:?}: `info` or `error` is expected"))),
    };
    let mut sources = Vec::new();
    match spec.get("eventSources") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, s) in items.iter().enumerate() {
                let kind = text(s, "kind");
                let sname = text(s, "name");
                if kind.is_empty() || sname.is_empty() {
                    return Err(bad(format!("spec.eventSources[{i}]: kind and name are required")));
                }
                let labels = string_map(
                    source,
                    &format!("Alert {name}: spec.eventSources[{i}].matchLabels"),
                    s.get("matchLabels"),
                )?;
                sources.push(EventSource { kind, name: sname, namespace: text(s, "namespace"), match_labels: labels });
            }
        }
        _ => return Err(bad("spec.eventSources: at least one source is required".into())),
    }
    let inclusion = strings(source, &format!("Alert {name}: spec.inclusionList"), spec.get("inclusionList"))?;
    let exclusion = strings(source, &format!("Alert {name}: spec.exclusionList"), spec.get("exclusionList"))?;
    let mut event_metadata =
        string_map(source, &format!("Alert {name}: spec.eventMetadata"), spec.get("eventMetadata"))?
            .unwrap_or_default();
    if ver != "v1beta3" && !event_metadata.is_empty() {
        warnings.push(format!("{source}: Alert {namespace}/{name}: spec.eventMetadata is a v1beta3 field; {ver} has none, so it is dropped as Flux does"));
        event_metadata.clear();
    }
    Ok(Some(Alert {
        namespace,
        name,
        provider,
        severity,
        sources,
        inclusion,
        exclusion,
        event_metadata,
        summary: text(spec, "summary"),
        suspend: spec.get("suspend").and_then(Value::as_bool).unwrap_or(false),
    }))
}

/// Reads a Provider; `Ok(None)` when the document is not a Provider.
pub fn read_provider(source: &str, v: &Value) -> Result<Option<Provider>, NotifyError> {
    if version(source, v, "Provider")?.is_none() {
        return Ok(None);
    }
    let (namespace, name) = meta(v);
    let bad = |reason: String| NotifyError::Invalid {
        file: source.to_string(),
        reason: format!("Provider {name}: {reason}"),
    };
    if name.is_empty() {
        return Err(bad("metadata.name is required".into()));
    }
    let empty = Value::Null;
    let spec = v.get("spec").unwrap_or(&empty);
    let type_text = text(spec, "type");
    let kind = ProviderType::parse(&type_text).ok_or_else(|| {
        bad(format!(
            "spec.type {type_text:?} is not supported here (generic, generic-hmac, slack, msteams, discord, googlechat, github, gitlab, gitea)"
        ))
    })?;
    let reference = |key: &str| spec.get(key).map(|r| text(r, "name")).filter(|s| !s.is_empty());
    Ok(Some(Provider {
        namespace,
        name,
        uid: v.get("metadata").map(|m| text(m, "uid")).unwrap_or_default(),
        kind,
        address: text(spec, "address"),
        channel: text(spec, "channel"),
        username: text(spec, "username"),
        proxy: text(spec, "proxy"),
        secret_ref: reference("secretRef"),
        cert_secret_ref: reference("certSecretRef"),
        suspend: spec.get("suspend").and_then(Value::as_bool).unwrap_or(false),
        timeout: spec.get("timeout").and_then(Value::as_str).map(str::to_string),
    }))
}

/// The Provider with its Secrets (found in the Provider's namespace): the Secret's `address`,
/// `username`, `password`, `proxy`, `token` and `headers` override the spec, and
/// `certSecretRef` gives the CA (`ca.crt`, or `caFile` as older Flux reads it).
pub fn resolve(provider: &Provider, secrets: &[Secret]) -> Result<ProviderConfig, NotifyError> {
    let find = |name: &str| secrets.iter().find(|s| s.name == name && s.namespace == provider.namespace);
    let bad = |reason: String| NotifyError::Provider { provider: provider.id(), reason };
    let mut cfg = ProviderConfig {
        kind: Some(provider.kind),
        address: provider.address.clone(),
        channel: provider.channel.clone(),
        username: provider.username.clone(),
        proxy: provider.proxy.clone(),
        uid: provider.uid.clone(),
        ..ProviderConfig::default()
    };
    if let Some(name) = &provider.secret_ref {
        let secret =
            find(name).ok_or_else(|| bad(format!("Secret {}/{name} (secretRef) not found", provider.namespace)))?;
        let d = &secret.data;
        if let Some(a) = d.get("address") {
            cfg.address = a.trim().to_string();
        }
        if let Some(u) = d.get("username") {
            cfg.username = u.clone();
        }
        if let Some(p) = d.get("password") {
            cfg.password = p.clone();
        }
        if let Some(p) = d.get("proxy") {
            cfg.proxy = p.trim().to_string();
        }
        if let Some(t) = d.get("token") {
            cfg.token = t.trim().to_string();
        }
        if let Some(h) = d.get("headers") {
            let docs = crate::yaml::parse_documents(h).map_err(|e| bad(format!("Secret {name}: headers: {e}")))?;
            if let Some(doc) = docs.first() {
                cfg.headers = string_map(&format!("Secret {name}"), "headers", Some(&doc.value))
                    .map_err(|e| bad(e.to_string()))?
                    .unwrap_or_default();
            }
        }
    }
    if let Some(name) = &provider.cert_secret_ref {
        let secret =
            find(name).ok_or_else(|| bad(format!("Secret {}/{name} (certSecretRef) not found", provider.namespace)))?;
        let ca = secret.data.get("ca.crt").or_else(|| secret.data.get("caFile"));
        cfg.ca_pem = Some(ca.ok_or_else(|| bad(format!("Secret {name} has no ca.crt (or caFile) key")))?.clone());
    }
    if cfg.address.is_empty() {
        return Err(bad("no address: set spec.address or the Secret's address".into()));
    }
    Ok(cfg)
}

/// The outcome of routing one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// Indexes of the Alerts that take the event, each once, in the order given.
    pub alerts: Vec<usize>,
    /// What Flux would log or record as a warning event (bad regexes, objects not found).
    pub warnings: Vec<String>,
}

/// Which `alerts` take `event`, as Flux's event handler decides, `labels` giving the labels
/// of the involved object (`None`: it could not be fetched). For each Alert:
/// 1. a suspended Alert takes nothing;
/// 2. some `eventSources` entry matches: same kind and namespace (an empty source namespace
///    is the Alert's), a severity the Alert admits (`info` admits errors too), and the name
///    equal or `*`; with `*` and `matchLabels`, the object's labels must carry them all (an
///    object that cannot be fetched matches no labels, with a warning);
/// 3. `inclusionList` is empty or one of its regexes is found in the message;
/// 4. none of `exclusionList` is found in the message.
///
/// Regexes are Go RE2, unanchored; one that does not compile is skipped with a warning (it
/// never includes and never excludes).
pub fn route(
    alerts: &[Alert],
    event: &Event,
    labels: &dyn Fn(&InvolvedObject) -> Option<BTreeMap<String, String>>,
) -> Routing {
    let mut out = Routing::default();
    let o = &event.involved_object;
    let mut fetched: Option<Option<BTreeMap<String, String>>> = None;
    for (i, alert) in alerts.iter().enumerate() {
        if alert.suspend {
            continue;
        }
        let mut taken = false;
        for source in &alert.sources {
            let namespace = if source.namespace.is_empty() { &alert.namespace } else { &source.namespace };
            if o.namespace != *namespace || o.kind != source.kind {
                continue;
            }
            if event.severity != alert.severity && alert.severity != SEVERITY_INFO {
                continue;
            }
            if source.name == "*" {
                let Some(wanted) = &source.match_labels else {
                    taken = true;
                    break;
                };
                let have = fetched.get_or_insert_with(|| labels(o));
                match have {
                    Some(have) if wanted.iter().all(|(k, v)| have.get(k) == Some(v)) => {
                        taken = true;
                        break;
                    }
                    Some(_) => {}
                    None => out.warnings.push(format!(
                        "Alert {}: {}/{} {}/{} not found: its labels cannot be matched",
                        alert.id(),
                        o.api_version,
                        o.kind,
                        o.namespace,
                        o.name
                    )),
                }
            } else if source.name == o.name {
                taken = true;
                break;
            }
        }
        if !taken {
            continue;
        }
        if !alert.inclusion.is_empty()
            && !any_found(alert, &alert.inclusion, "inclusionList", &event.message, &mut out.warnings)
        {
            continue;
        }
        if any_found(alert, &alert.exclusion, "exclusionList", &event.message, &mut out.warnings) {
            continue;
        }
        out.alerts.push(i);
    }
    out
}

fn any_found(alert: &Alert, patterns: &[String], list: &str, message: &str, warnings: &mut Vec<String>) -> bool {
    let mut found = false;
    for p in patterns {
        match crate::rbac::compile_go(p) {
            Some(re) => found = found || re.is_match(message),
            None => {
                warnings.push(format!("Alert {}: {list}: failed to compile regex {p:?}; it is skipped", alert.id()))
            }
        }
    }
    found
}

/// The metadata a notification carries, and warnings for keys that were overridden. From the
/// lowest precedence up: the event's `event.toolkit.fluxcd.io/<key>` entries (as `<key>`),
/// the Alert's `eventMetadata`, its `summary` (as `summary`), then the involved object's
/// `<group>/<key>` entries (as `<key>`; `checksum` and `digest` are left out). Other keys of
/// the event are dropped, as Flux drops them.
pub fn notification_metadata(event: &Event, alert: &Alert) -> (BTreeMap<String, String>, Vec<String>) {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut put = |k: &str, v: &str, layer: &str, out: &mut BTreeMap<String, String>| {
        if let Some(old) = out.insert(k.to_string(), v.to_string())
            && old != v
        {
            warnings.push(format!("Alert {}: metadata key {k:?} from {layer} overrides {old:?}", alert.id()));
        }
    };
    for (k, v) in &event.metadata {
        if let Some(key) = k.strip_prefix(EVENT_PREFIX) {
            put(key, v, "the event's annotations", &mut out);
        }
    }
    for (k, v) in &alert.event_metadata {
        put(k, v, "spec.eventMetadata", &mut out);
    }
    if !alert.summary.is_empty() {
        put("summary", &alert.summary, "spec.summary", &mut out);
    }
    let group = event.involved_object.group();
    let prefix = format!("{group}/");
    for (k, v) in &event.metadata {
        if let Some(key) = k.strip_prefix(&prefix)
            && !key.eq_ignore_ascii_case("checksum")
            && !key.eq_ignore_ascii_case("digest")
        {
            put(key, v, "the event", &mut out);
        }
    }
    (out, warnings)
}

/// Flux's event key: sha256 (hex) of `event`, the involved object's name, namespace and
/// kind, the message, and when present its `<group>/originRevision`, `<group>/revision` and
/// `<group>/token` metadata, each `field=value`, joined by `/`. Events with one key within
/// the rate-limit window are sent once.
pub fn event_key(event: &Event) -> String {
    let o = &event.involved_object;
    let mut parts = vec![
        "event".to_string(),
        format!("name={}", o.name),
        format!("namespace={}", o.namespace),
        format!("kind={}", o.kind),
        format!("message={}", event.message),
    ];
    for (field, key) in [("originRevision", "originRevision"), ("revision", "revision"), ("token", "token")] {
        if let Some(v) = event.group_metadata(key) {
            parts.push(format!("{field}={v}"));
        }
    }
    hex(&sha2::Sha256::digest(parts.join("/").as_bytes()))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Flux's rate limiter (`--rate-limit-interval`, 5 minutes by default): an event whose key was
/// admitted less than a window ago is dropped. Time is given by the caller (seconds).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    window: f64,
    admitted: HashMap<String, f64>,
}

impl RateLimiter {
    /// Flux's default window.
    pub const DEFAULT_WINDOW_SECONDS: f64 = 300.0;

    /// A limiter with a window of `seconds` (0 admits everything).
    pub fn new(seconds: f64) -> RateLimiter {
        RateLimiter { window: seconds, admitted: HashMap::new() }
    }

    /// Whether `event` goes through at time `now` (seconds), recording it when it does.
    pub fn admit(&mut self, event: &Event, now: f64) -> bool {
        let window = self.window;
        // Keys past their window are forgotten, so the map stays as small as the traffic.
        self.admitted.retain(|_, at| now - *at < window);
        let key = event_key(event);
        if self.admitted.contains_key(&key) {
            return false;
        }
        if window > 0.0 {
            self.admitted.insert(key, now);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, ns: &str, name: &str, severity: &str, message: &str) -> Event {
        Event {
            involved_object: InvolvedObject {
                kind: kind.into(),
                namespace: ns.into(),
                name: name.into(),
                api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
                uid: None,
            },
            severity: severity.into(),
            message: message.into(),
            reason: "ReconciliationFailed".into(),
            ..Event::default()
        }
    }

    fn alert(yaml: &str) -> Alert {
        let v = crate::yaml::parse_documents(yaml).expect("yaml").remove(0).value;
        read_alert("a.yaml", &v, &mut Vec::new()).expect("reads").expect("an alert")
    }

    const HEAD: &str =
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: a, namespace: apps}\n";

    #[test]
    fn routing_table() {
        let no_labels = |_: &InvolvedObject| None;
        let team_a = |_: &InvolvedObject| Some(BTreeMap::from([("team".to_string(), "a".to_string())]));
        type Labels<'a> = &'a dyn Fn(&InvolvedObject) -> Option<BTreeMap<String, String>>;
        let cases: &[(&str, Event, Labels, bool)] = &[
            // The source namespace defaults to the alert's.
            (
                "eventSources: [{kind: Kustomization, name: web}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &no_labels,
                true,
            ),
            (
                "eventSources: [{kind: Kustomization, name: web}]",
                event("Kustomization", "other", "web", "info", "m"),
                &no_labels,
                false,
            ),
            (
                "eventSources: [{kind: Kustomization, name: web, namespace: other}]",
                event("Kustomization", "other", "web", "info", "m"),
                &no_labels,
                true,
            ),
            // Kind and name must be equal; `*` is the only wildcard (no globs).
            (
                "eventSources: [{kind: GitRepository, name: web}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &no_labels,
                false,
            ),
            (
                "eventSources: [{kind: Kustomization, name: '*'}]",
                event("Kustomization", "apps", "anything", "info", "m"),
                &no_labels,
                true,
            ),
            (
                "eventSources: [{kind: Kustomization, name: 'we*'}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &no_labels,
                false,
            ),
            // info admits errors; error admits only errors.
            (
                "eventSources: [{kind: Kustomization, name: web}]",
                event("Kustomization", "apps", "web", "error", "m"),
                &no_labels,
                true,
            ),
            (
                "eventSeverity: error\n  eventSources: [{kind: Kustomization, name: web}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &no_labels,
                false,
            ),
            (
                "eventSeverity: error\n  eventSources: [{kind: Kustomization, name: web}]",
                event("Kustomization", "apps", "web", "error", "m"),
                &no_labels,
                true,
            ),
            // Any source may match.
            (
                "eventSources: [{kind: GitRepository, name: '*'}, {kind: Kustomization, name: web}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &no_labels,
                true,
            ),
            // matchLabels with `*`: the object's labels must carry them; not found is no match.
            (
                "eventSources: [{kind: Kustomization, name: '*', matchLabels: {team: a}}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &team_a,
                true,
            ),
            (
                "eventSources: [{kind: Kustomization, name: '*', matchLabels: {team: b}}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &team_a,
                false,
            ),
            (
                "eventSources: [{kind: Kustomization, name: '*', matchLabels: {team: a}}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &no_labels,
                false,
            ),
            // With a name, Flux does not look at matchLabels.
            (
                "eventSources: [{kind: Kustomization, name: web, matchLabels: {team: b}}]",
                event("Kustomization", "apps", "web", "info", "m"),
                &team_a,
                true,
            ),
            // Inclusion: some regex found anywhere in the message (unanchored).
            (
                "eventSources: [{kind: Kustomization, name: web}]\n  inclusionList: ['fail', 'x^']",
                event("Kustomization", "apps", "web", "info", "health check failed"),
                &no_labels,
                true,
            ),
            (
                "eventSources: [{kind: Kustomization, name: web}]\n  inclusionList: ['^fail']",
                event("Kustomization", "apps", "web", "info", "health check failed"),
                &no_labels,
                false,
            ),
            // Exclusion wins over inclusion.
            (
                "eventSources: [{kind: Kustomization, name: web}]\n  inclusionList: ['fail']\n  exclusionList: ['health']",
                event("Kustomization", "apps", "web", "info", "health check failed"),
                &no_labels,
                false,
            ),
            // A bad regex never includes and never excludes.
            (
                "eventSources: [{kind: Kustomization, name: web}]\n  inclusionList: ['(']",
                event("Kustomization", "apps", "web", "info", "("),
                &no_labels,
                false,
            ),
            (
                "eventSources: [{kind: Kustomization, name: web}]\n  exclusionList: ['(', 'nothing']",
                event("Kustomization", "apps", "web", "info", "("),
                &no_labels,
                true,
            ),
            // Suspended alerts take nothing.
            (
                "suspend: true\n  eventSources: [{kind: Kustomization, name: web}]",
                event("Kustomization", "apps", "web", "error", "m"),
                &no_labels,
                false,
            ),
        ];
        for (spec, e, labels, want) in cases {
            let a = alert(&format!("{HEAD}spec:\n  providerRef: {{name: p}}\n  {spec}\n"));
            let got = route(std::slice::from_ref(&a), e, *labels);
            assert_eq!(
                !got.alerts.is_empty(),
                *want,
                "{spec} / {}/{} {}: {:?}",
                e.involved_object.namespace,
                e.involved_object.name,
                e.message,
                got.warnings
            );
        }
    }

    #[test]
    fn bad_regexes_and_missing_objects_warn() {
        let a = alert(&format!(
            "{HEAD}spec:\n  providerRef: {{name: p}}\n  eventSources: [{{kind: K, name: '*', matchLabels: {{a: b}}}}]\n  exclusionList: ['a{{2}}{{2}}']\n"
        ));
        let e = event("K", "apps", "x", "info", "m");
        let got = route(std::slice::from_ref(&a), &e, &|_| None);
        assert!(got.alerts.is_empty());
        assert!(got.warnings[0].contains("not found"), "{:?}", got.warnings);
        let a = alert(&format!(
            "{HEAD}spec:\n  providerRef: {{name: p}}\n  eventSources: [{{kind: K, name: x}}]\n  exclusionList: ['a**']\n"
        ));
        let got = route(std::slice::from_ref(&a), &e, &|_| None);
        assert_eq!(got.alerts, [0]);
        assert!(got.warnings[0].contains("failed to compile regex \"a**\""), "{:?}", got.warnings);
    }

    #[test]
    fn an_alert_matched_by_two_sources_is_taken_once() {
        let a = alert(&format!(
            "{HEAD}spec:\n  providerRef: {{name: p}}\n  eventSources: [{{kind: K, name: x}}, {{kind: K, name: '*'}}]\n"
        ));
        let got = route(&[a.clone(), a], &event("K", "apps", "x", "info", "m"), &|_| None);
        assert_eq!(got.alerts, [0, 1]);
    }

    #[test]
    fn metadata_precedence() {
        let mut e = event("Kustomization", "apps", "web", "info", "m");
        e.metadata = BTreeMap::from([
            ("event.toolkit.fluxcd.io/env".into(), "from-annotation".into()),
            ("event.toolkit.fluxcd.io/team".into(), "ops".into()),
            ("kustomize.toolkit.fluxcd.io/revision".into(), "main@sha1:abc".into()),
            ("kustomize.toolkit.fluxcd.io/summary".into(), "from-event".into()),
            ("kustomize.toolkit.fluxcd.io/checksum".into(), "dropped".into()),
            ("source.toolkit.fluxcd.io/other".into(), "dropped".into()),
        ]);
        let a = alert(&format!(
            "{HEAD}spec:\n  providerRef: {{name: p}}\n  eventSources: [{{kind: K, name: x}}]\n  summary: from-alert\n  eventMetadata: {{env: prod, cluster: eu}}\n"
        ));
        let (meta, warnings) = notification_metadata(&e, &a);
        let want: BTreeMap<String, String> = [
            ("cluster", "eu"),
            ("env", "prod"),
            ("revision", "main@sha1:abc"),
            ("summary", "from-event"),
            ("team", "ops"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(meta, want);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn event_keys_follow_flux() {
        let mut e = event("Kustomization", "apps", "web", "info", "applied");
        // sha256("event/name=web/namespace=apps/kind=Kustomization/message=applied"), by sha256sum.
        // Expected values from `printf %s 'event/name=web/...' | sha256sum`.
        assert_eq!(event_key(&e), "88e46034c3553fbeb32529e8ec443946133da59203ed33ceca0baac25c264d9c");
        e.metadata.insert("kustomize.toolkit.fluxcd.io/revision".into(), "main@sha1:abc".into());
        let with_revision = event_key(&e);
        assert_eq!(with_revision, "eeb2d7c7cac94fe3bf7ef0d4cfef3f17e206e15b8d8bb9ac38890112366acfee");
        // Metadata of another group, or other keys, do not count.
        e.metadata.insert("kustomize.toolkit.fluxcd.io/summary".into(), "x".into());
        e.metadata.insert("source.toolkit.fluxcd.io/token".into(), "t".into());
        assert_eq!(event_key(&e), with_revision);
        e.severity = "error".into();
        assert_eq!(event_key(&e), with_revision);
    }

    #[test]
    fn the_rate_limiter_drops_repeats_within_the_window() {
        let mut limiter = RateLimiter::new(300.0);
        let e = event("K", "apps", "x", "error", "failed");
        let other = event("K", "apps", "x", "error", "failed again");
        assert!(limiter.admit(&e, 0.0));
        assert!(!limiter.admit(&e, 10.0));
        assert!(limiter.admit(&other, 10.0));
        assert!(!limiter.admit(&e, 299.0));
        assert!(limiter.admit(&e, 300.0));
        let mut none = RateLimiter::new(0.0);
        assert!(none.admit(&e, 0.0) && none.admit(&e, 0.0));
    }

    #[test]
    fn providers_resolve_their_secrets() {
        let v = crate::yaml::parse_documents(
            "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: p, namespace: apps, uid: 1234-5678}\n\
             spec: {type: generic, address: http://spec, secretRef: {name: s}, certSecretRef: {name: ca}}\n",
        )
        .expect("yaml")
        .remove(0)
        .value;
        let p = read_provider("p.yaml", &v).expect("reads").expect("a provider");
        let secret = |name: &str, data: &[(&str, &str)]| Secret {
            namespace: "apps".into(),
            name: name.into(),
            data: data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        let cfg = resolve(
            &p,
            &[
                secret("s", &[("address", "http://secret\n"), ("token", "t"), ("headers", "X-A: b\n")]),
                secret("ca", &[("caFile", "PEM")]),
            ],
        )
        .expect("resolves");
        assert_eq!(cfg.address, "http://secret");
        assert_eq!(cfg.token, "t");
        assert_eq!(cfg.headers.get("X-A").map(String::as_str), Some("b"));
        assert_eq!(cfg.ca_pem.as_deref(), Some("PEM"));
        let e = resolve(&p, &[secret("s", &[])]).expect_err("no CA secret").to_string();
        assert!(e.contains("apps/ca") && e.contains("certSecretRef"), "{e}");
        let wrong_ns = Secret { namespace: "other".into(), ..secret("s", &[]) };
        assert!(resolve(&p, &[wrong_ns]).is_err());
    }

    #[test]
    fn bad_alerts_name_the_field() {
        let cases = [
            ("spec: {eventSources: [{kind: K, name: x}]}", "providerRef"),
            ("spec: {providerRef: {name: p}}", "eventSources"),
            ("spec: {providerRef: {name: p}, eventSources: [{kind: K}]}", "eventSources[0]"),
            (
                "spec: {providerRef: {name: p}, eventSeverity: warn, eventSources: [{kind: K, name: x}]}",
                "eventSeverity",
            ),
            ("spec: {providerRef: {name: p}, eventSources: [{kind: K, name: x}], inclusionList: x}", "inclusionList"),
        ];
        for (spec, needle) in cases {
            let v = crate::yaml::parse_documents(&format!("{HEAD}{spec}\n")).expect("yaml").remove(0).value;
            let e = read_alert("a.yaml", &v, &mut Vec::new()).expect_err(spec).to_string();
            assert!(e.contains(needle) && e.contains("a.yaml"), "{spec}: {e}");
        }
        let v = crate::yaml::parse_documents(
            "apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Alert\nmetadata: {name: a}\n",
        )
        .expect("yaml")
        .remove(0)
        .value;
        assert!(read_alert("a.yaml", &v, &mut Vec::new()).is_err());
        let mut warnings = Vec::new();
        let v = crate::yaml::parse_documents(
            "apiVersion: notification.toolkit.fluxcd.io/v1beta2\nkind: Alert\nmetadata: {name: a}\nspec: {providerRef: {name: p}, eventSources: [{kind: K, name: x}], eventMetadata: {a: b}}\n",
        )
        .expect("yaml")
        .remove(0)
        .value;
        let a = read_alert("a.yaml", &v, &mut warnings).expect("reads").expect("alert");
        assert!(a.event_metadata.is_empty() && warnings.len() == 1 && a.namespace == "default");
    }
}
