//! What each Flux provider sends for an event, pure: the HTTP requests (URL, headers, JSON
//! body) in the shape each service expects, built as notification-controller builds them.
//! Sending them (retries, proxies, CAs) is the caller's.

use std::collections::BTreeMap;

use hmac::Mac as _;
use serde_json::{Value, json};

use super::event::{Event, SEVERITY_ERROR, SEVERITY_INFO};
use super::flux::{ProviderConfig, ProviderType, hex};

/// Why no request can be built for an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The provider's address does not parse for its type.
    #[error("invalid address {address:?}: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// A required secret value (the token) is missing.
    #[error("{0}")]
    Missing(String),
    /// The event cannot be told to this provider (no revision, an unknown severity).
    #[error("{0}")]
    Event(String),
}

/// One HTTP request to make.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `POST`, `GET`, `PUT`, ...
    pub method: String,
    /// The full URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for GET).
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    // Headers carry tokens: their names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpRequest {
    fn post_json(url: String, body: &Value) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// The Git forge of a commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    /// GitHub or GitHub Enterprise.
    GitHub,
    /// GitLab.
    GitLab,
    /// Gitea or Forgejo.
    Gitea,
}

/// A commit status to set: the state, context and description compared with the statuses the
/// commit already has, so that one already there is not set again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    /// The forge.
    pub forge: Forge,
    /// The commit.
    pub sha: String,
    /// `success`, `failure` / `failed`, `pending`.
    pub state: String,
    /// `<kind>/<name>/<provider uid's first segment>`, lowercase.
    pub context: String,
    /// The reason, its words split and lowercase (`reconciliation succeeded`).
    pub description: String,
}

/// What to do for one event and provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Send one request; `slack_api`: the response is Slack's Web API JSON (`ok: false` is a
    /// failure though the status is 200).
    Post {
        /// The request.
        request: HttpRequest,
        /// Check the body's `ok`.
        slack_api: bool,
    },
    /// List the commit's statuses, and create the status unless it is already there.
    CommitStatus {
        /// The GET of the statuses.
        list: HttpRequest,
        /// The POST of the new one.
        create: HttpRequest,
        /// What is set.
        status: CommitStatus,
    },
    /// Nothing to send (a commit status for a `Progressing` event, as Flux skips them).
    Skip(String),
}

/// The request(s) `provider` makes for `event`, whose metadata is already the notification's
/// (see [`super::flux::notification_metadata`]).
pub fn build(provider: &ProviderConfig, event: &Event) -> Result<Delivery, PayloadError> {
    let kind = provider.kind.ok_or_else(|| PayloadError::Missing("the provider has no type".into()))?;
    let address = provider.address.trim();
    check_url(address)?;
    let post = |request| Ok(Delivery::Post { request, slack_api: false });
    match kind {
        ProviderType::Generic | ProviderType::GenericHmac => {
            let body = event.to_json().into_bytes();
            let mut request = HttpRequest {
                method: "POST".into(),
                url: address.to_string(),
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("gotk-component".into(), event.reporting_controller.clone()),
                ],
                body,
            };
            for (k, v) in &provider.headers {
                request.headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                request.headers.push((k.clone(), v.clone()));
            }
            if kind == ProviderType::GenericHmac {
                if provider.token.is_empty() {
                    return Err(PayloadError::Missing("generic-hmac needs a token in the Secret (secretRef)".into()));
                }
                let signature = sign(provider.token.as_bytes(), &request.body);
                request = request.header("X-Signature", format!("sha256={signature}"));
            }
            post(request)
        }
        ProviderType::Slack => {
            let mut request = HttpRequest::post_json(address.to_string(), &slack_payload(provider, event, true));
            if !provider.token.is_empty() {
                request = request.header("Authorization", format!("Bearer {}", provider.token));
            }
            // Flux checks `ok` only for Slack's own chat.postMessage URL; any URL ending in
            // that method is taken as the Web API here, so that a local stand-in is checked too.
            let slack_api = path_of(address).ends_with("/chat.postMessage");
            Ok(Delivery::Post { request, slack_api })
        }
        ProviderType::Discord => {
            let url = if address.ends_with("/slack") { address.to_string() } else { join_path(address, "slack") };
            post(HttpRequest::post_json(url, &slack_payload(provider, event, false)))
        }
        ProviderType::MsTeams => {
            let connector = host_of(address).is_some_and(|h| h.ends_with(".webhook.office.com"));
            let body = if connector { teams_connector(event) } else { teams_card(event) };
            post(HttpRequest::post_json(address.to_string(), &body))
        }
        ProviderType::GoogleChat => post(HttpRequest::post_json(address.to_string(), &google_chat(event))),
        ProviderType::GitHub | ProviderType::GitLab | ProviderType::Gitea => commit_status(kind, provider, event),
    }
}

/// HMAC-SHA256 of `body` under `key`, lowercase hex: the `X-Signature` of generic-hmac.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

fn check_url(address: &str) -> Result<(), PayloadError> {
    let bad = |reason: &str| PayloadError::Address { address: address.to_string(), reason: reason.to_string() };
    if address.is_empty() {
        return Err(bad("empty"));
    }
    if address.chars().any(char::is_whitespace) {
        return Err(bad("contains spaces"));
    }
    Ok(())
}

/// `scheme://host[:port]` without userinfo, lowercase host; `None` when not a URL.
fn host_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = host.rsplit_once(':').filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
    Some(host.to_ascii_lowercase())
}

fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.find('/').map_or("", |i| &rest[i..])
}

/// `url` with `segment` joined to its path (Go's `path.Join`: one slash between).
fn join_path(url: &str, segment: &str) -> String {
    let (head, tail) = match url.find(['?', '#']) {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    format!("{}/{segment}{tail}", head.trim_end_matches('/'))
}

/// `kind/name.namespace` in lowercase kind, as Flux titles its messages.
fn object_title(event: &Event) -> String {
    let o = &event.involved_object;
    format!("{}/{}.{}", o.kind.to_lowercase(), o.name, o.namespace)
}

fn slack_payload(provider: &ProviderConfig, event: &Event, with_channel: bool) -> Value {
    let username = if provider.username.is_empty() { &event.reporting_controller } else { &provider.username };
    let color = if event.severity == SEVERITY_ERROR { "danger" } else { "good" };
    let fields: Vec<Value> =
        event.metadata.iter().map(|(k, v)| json!({"title": k, "value": v, "short": false})).collect();
    json!({
        "channel": if with_channel { provider.channel.as_str() } else { "" },
        "username": username,
        "icon_url": "",
        "icon_emoji": "",
        "attachments": [{
            "color": color,
            "author_name": object_title(event),
            "text": event.message,
            "mrkdwn_in": ["text"],
            "fields": fields,
        }],
    })
}

fn teams_connector(event: &Event) -> Value {
    let title = object_title(event);
    let facts: Vec<Value> = event.metadata.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
    json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": if event.severity == SEVERITY_ERROR { "FF0000" } else { "0076D7" },
        "summary": title,
        "sections": [{"activityTitle": event.message, "activitySubtitle": title, "facts": facts}],
    })
}

fn teams_card(event: &Event) -> Value {
    // `summary` first, then the other keys in order.
    let mut facts: Vec<Value> = Vec::new();
    if let Some(s) = event.metadata.get("summary") {
        facts.push(json!({"title": "summary", "value": s}));
    }
    facts.extend(event.metadata.iter().filter(|(k, _)| *k != "summary").map(|(k, v)| json!({"title": k, "value": v})));
    let mut message = json!({"type": "TextBlock", "text": event.message, "wrap": true});
    if event.severity == SEVERITY_ERROR {
        message["color"] = json!("attention");
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{
                    "type": "Container",
                    "items": [
                        {"type": "TextBlock", "text": object_title(event), "size": "large", "weight": "bolder", "wrap": true},
                        message,
                        {"type": "FactSet", "facts": facts},
                    ],
                }],
                "msteams": {"width": "Full"},
            },
        }],
    })
}

fn google_chat(event: &Event) -> Value {
    let text = if event.severity == SEVERITY_ERROR {
        format!("<font color=\"#ff0000\">{}</font>", event.message)
    } else {
        event.message.clone()
    };
    let widget =
        |text_paragraph: Value, key_value: Value| json!({"textParagraph": text_paragraph, "keyValue": key_value});
    let mut sections = vec![json!({"header": "", "widgets": [widget(json!({"text": text}), Value::Null)]})];
    if !event.metadata.is_empty() {
        let widgets: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| {
                widget(
                    Value::Null,
                    json!({"topLabel": k, "content": v, "contentMultiline": false, "bottomLabel": null, "icon": null}),
                )
            })
            .collect();
        sections.push(json!({"header": "", "widgets": widgets}));
    }
    json!({"cards": [{
        "header": {"title": object_title(event), "subtitle": event.reporting_controller, "imageUrl": null, "imageStyle": null},
        "sections": sections,
    }]})
}

/// The commit of a Flux revision: `main@sha1:<hex>`, `sha1:<hex>`, `<hex>`, or the older
/// `main/<hex>`; 40 (SHA-1) or 64 (SHA-256) hex digits.
pub fn revision_commit(revision: &str) -> Option<String> {
    let last = revision.rsplit_once('@').map_or(revision, |(_, r)| r);
    let last = last.rsplit_once('/').map_or(last, |(_, r)| r);
    let hash = last.strip_prefix("sha1:").or_else(|| last.strip_prefix("sha256:")).unwrap_or(last);
    let ok = matches!(hash.len(), 40 | 64) && hash.chars().all(|c| c.is_ascii_hexdigit());
    ok.then(|| hash.to_ascii_lowercase())
}

/// Go's `splitCamelcase` of a reason: runs of lower, upper, digit and other characters, an
/// upper run giving its last letter to a following lower run (`HTTPServer` → `HTTP`, `Server`).
pub fn split_camel_case(text: &str) -> Vec<String> {
    fn class(c: char) -> u8 {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in text.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i][0].is_uppercase()
            && runs[i + 1][0].is_lowercase()
            && let Some(moved) = runs[i].pop()
        {
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter().filter(|r| !r.is_empty()).map(|r| r.into_iter().collect()).collect()
}

/// Host (with scheme) and repository path of a Git address: `https://host/owner/repo(.git)`,
/// `ssh://git@host/owner/repo`, or `git@host:owner/repo` (SSH becomes https).
pub fn git_address(address: &str) -> Option<(String, String)> {
    let (scheme, host, path) = if let Some((scheme, rest)) = address.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        (scheme.to_ascii_lowercase(), host.to_string(), path.to_string())
    } else {
        let (user_host, path) = address.split_once(':')?;
        let host = user_host.rsplit('@').next().unwrap_or(user_host);
        ("ssh".to_string(), host.to_string(), path.to_string())
    };
    if host.is_empty() {
        return None;
    }
    let scheme = if scheme == "ssh" { "https".to_string() } else { scheme };
    let id = path.trim_start_matches('/');
    let id = id.strip_suffix(".git").unwrap_or(id).to_string();
    Some((format!("{scheme}://{host}"), id))
}

fn commit_status(kind: ProviderType, provider: &ProviderConfig, event: &Event) -> Result<Delivery, PayloadError> {
    let name = match kind {
        ProviderType::GitHub => "github",
        ProviderType::GitLab => "gitlab",
        _ => "gitea",
    };
    if provider.token.is_empty() {
        return Err(PayloadError::Missing(format!("{name} token cannot be empty (set token in the Secret)")));
    }
    let progressing = event.reason == "Progressing";
    if progressing && kind != ProviderType::Gitea {
        return Ok(Delivery::Skip(format!("{name}: Progressing events set no commit status")));
    }
    let revision =
        event.metadata.get("revision").ok_or_else(|| PayloadError::Event("missing revision metadata".into()))?;
    let sha = revision_commit(revision)
        .ok_or_else(|| PayloadError::Event(format!("failed to extract commit hash from '{revision}' revision")))?;
    let (host, id) = git_address(&provider.address).ok_or_else(|| PayloadError::Address {
        address: provider.address.clone(),
        reason: "not a Git repository address (https://host/owner/repo)".into(),
    })?;
    let description = split_camel_case(&event.reason).join(" ").to_lowercase();
    let o = &event.involved_object;
    let uid_head = provider.uid.split('-').next().unwrap_or("");
    let context = format!("{}/{}/{uid_head}", o.kind, o.name).to_lowercase();
    let severity_state = |success: &str, failure: &str| match event.severity.as_str() {
        SEVERITY_INFO => Ok(success.to_string()),
        SEVERITY_ERROR => Ok(failure.to_string()),
        other => Err(PayloadError::Event(format!("can't convert severity {other:?} to a {name} state"))),
    };
    let owner_repo = || -> Result<(String, String), PayloadError> {
        match id.split('/').collect::<Vec<_>>().as_slice() {
            [owner, repo] if !owner.is_empty() && !repo.is_empty() => Ok((owner.to_string(), repo.to_string())),
            _ => Err(PayloadError::Address {
                address: provider.address.clone(),
                reason: format!("invalid repository id {id:?}"),
            }),
        }
    };
    let get = |url: String| HttpRequest { method: "GET".into(), url, headers: Vec::new(), body: Vec::new() };
    let (list, create, status) = match kind {
        ProviderType::GitHub => {
            let (owner, repo) = owner_repo()?;
            let state = severity_state("success", "failure")?;
            let api = if host_of(&host).as_deref() == Some("github.com") {
                "https://api.github.com".to_string()
            } else {
                format!("{host}/api/v3")
            };
            let auth = ("Authorization".to_string(), format!("Bearer {}", provider.token));
            let accept = ("Accept".to_string(), "application/vnd.github.v3+json".to_string());
            let mut list = get(format!("{api}/repos/{owner}/{repo}/commits/{sha}/statuses?per_page=50"));
            list.headers = vec![auth.clone(), accept.clone()];
            let body = json!({"state": state, "description": description, "context": context});
            let create = HttpRequest::post_json(format!("{api}/repos/{owner}/{repo}/statuses/{sha}"), &body)
                .header(&auth.0, auth.1)
                .header(&accept.0, accept.1);
            (list, create, CommitStatus { forge: Forge::GitHub, sha, state, context, description })
        }
        ProviderType::GitLab => {
            let state = severity_state("success", "failed")?;
            let project = percent_encode(&id);
            let api = format!("{host}/api/v4/projects/{project}");
            let token = ("PRIVATE-TOKEN".to_string(), provider.token.clone());
            let mut list = get(format!("{api}/repository/commits/{sha}/statuses?name={}", percent_encode(&context)));
            list.headers = vec![token.clone()];
            let body = json!({"state": state, "name": context, "description": description});
            let create = HttpRequest::post_json(format!("{api}/statuses/{sha}"), &body).header(&token.0, token.1);
            (list, create, CommitStatus { forge: Forge::GitLab, sha, state, context, description })
        }
        _ => {
            let (owner, repo) = owner_repo()?;
            let state = if progressing { "pending".to_string() } else { severity_state("success", "failure")? };
            let api = format!("{host}/api/v1/repos/{owner}/{repo}");
            let auth = ("Authorization".to_string(), format!("token {}", provider.token));
            let mut list = get(format!("{api}/commits/{sha}/statuses?page=0&limit=50"));
            list.headers = vec![auth.clone()];
            let body = json!({"state": state, "target_url": "", "description": description, "context": context});
            let create = HttpRequest::post_json(format!("{api}/statuses/{sha}"), &body).header(&auth.0, auth.1);
            (list, create, CommitStatus { forge: Forge::Gitea, sha, state, context, description })
        }
    };
    Ok(Delivery::CommitStatus { list, create, status })
}

/// Percent-encoding of a path segment or query value (unreserved characters kept).
fn percent_encode(text: &str) -> String {
    encode(text, false)
}

/// Go's `url.QueryEscape`: as [`percent_encode`], but a space is `+` (form encoding).
pub fn query_escape(text: &str) -> String {
    encode(text, true)
}

fn encode(text: &str, form: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if form && b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `listed` (the forge's JSON list of the commit's statuses) already has `status`:
/// on GitHub and Gitea, the first entry with the same context decides (same state and
/// description); on GitLab, any entry with the same commit, state, description and name.
pub fn already_set(status: &CommitStatus, listed: &Value) -> bool {
    let Some(items) = listed.as_array() else { return false };
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    match status.forge {
        Forge::GitLab => items.iter().any(|i| {
            s(i, "sha") == status.sha
                && s(i, "status") == status.state
                && s(i, "description") == status.description
                && s(i, "name") == status.context
        }),
        Forge::GitHub | Forge::Gitea => {
            // Gitea's API names the state `status`.
            let state_key = if status.forge == Forge::GitHub { "state" } else { "status" };
            for i in items {
                let (context, state, description) = (s(i, "context"), s(i, state_key), s(i, "description"));
                if context.is_empty() || state.is_empty() || description.is_empty() {
                    continue;
                }
                if context == status.context {
                    return state == status.state && description == status.description;
                }
            }
            false
        }
    }
}

/// The JSON of a request body, for tests and messages.
pub fn body_json(request: &HttpRequest) -> Option<BTreeMap<String, Value>> {
    serde_json::from_slice(&request.body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::InvolvedObject;

    fn event(severity: &str, reason: &str) -> Event {
        Event {
            involved_object: InvolvedObject {
                kind: "Kustomization".into(),
                namespace: "apps".into(),
                name: "web".into(),
                api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
                uid: None,
            },
            severity: severity.into(),
            reason: reason.into(),
            message: "health check failed".into(),
            reporting_controller: "kustomize-controller".into(),
            metadata: BTreeMap::from([
                ("revision".into(), "main@sha1:0123456789abcdef0123456789abcdef01234567".into()),
                ("summary".into(), "prod".into()),
            ]),
            ..Event::default()
        }
    }

    fn provider(kind: ProviderType, address: &str) -> ProviderConfig {
        ProviderConfig {
            kind: Some(kind),
            address: address.into(),
            token: "t0k".into(),
            uid: "abcd-ef".into(),
            ..Default::default()
        }
    }

    #[test]
    fn hmac_signatures_match_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn generic_posts_the_event_with_headers_and_signature() {
        let mut p = provider(ProviderType::GenericHmac, "http://h/hook");
        p.headers.insert("X-Team".into(), "ops".into());
        let Delivery::Post { request, .. } = build(&p, &event("error", "HealthCheckFailed")).expect("builds") else {
            panic!("a post")
        };
        let header = |n: &str| request.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(header("gotk-component").as_deref(), Some("kustomize-controller"));
        assert_eq!(header("X-Team").as_deref(), Some("ops"));
        assert_eq!(header("X-Signature"), Some(format!("sha256={}", sign(b"t0k", &request.body))));
        let body = body_json(&request).expect("json");
        assert_eq!(body["involvedObject"]["name"], "web");
        p.token.clear();
        assert!(build(&p, &event("error", "x")).is_err());
    }

    #[test]
    fn slack_and_discord_attachments() {
        let mut p = provider(ProviderType::Slack, "http://127.0.0.1:1/api/chat.postMessage");
        p.channel = "ops".into();
        let Delivery::Post { request, slack_api } = build(&p, &event("error", "x")).expect("builds") else { panic!() };
        assert!(slack_api);
        let body = body_json(&request).expect("json");
        assert_eq!(body["channel"], "ops");
        assert_eq!(body["username"], "kustomize-controller");
        let a = &body["attachments"][0];
        assert_eq!((a["color"].as_str(), a["author_name"].as_str()), (Some("danger"), Some("kustomization/web.apps")));
        assert_eq!(a["fields"][0]["title"], "revision");
        assert!(request.headers.contains(&("Authorization".into(), "Bearer t0k".into())));
        let d = provider(ProviderType::Discord, "http://h/api/webhooks/1/x");
        let Delivery::Post { request, slack_api } = build(&d, &event("info", "x")).expect("builds") else { panic!() };
        assert!(!slack_api);
        assert_eq!(request.url, "http://h/api/webhooks/1/x/slack");
        assert_eq!(body_json(&request).expect("json")["attachments"][0]["color"], "good");
    }

    #[test]
    fn teams_card_or_connector_by_host() {
        let Delivery::Post { request, .. } =
            build(&provider(ProviderType::MsTeams, "http://h/w"), &event("error", "x")).expect("b")
        else {
            panic!()
        };
        let body = body_json(&request).expect("json");
        let items = &body["attachments"][0]["content"]["body"][0]["items"];
        assert_eq!(items[1]["color"], "attention");
        assert_eq!(items[2]["facts"][0]["title"], "summary");
        let Delivery::Post { request, .. } =
            build(&provider(ProviderType::MsTeams, "https://x.webhook.office.com/y"), &event("error", "x")).expect("b")
        else {
            panic!()
        };
        assert_eq!(body_json(&request).expect("json")["themeColor"], "FF0000");
    }

    #[test]
    fn commit_statuses_per_forge() {
        let e = event("info", "ReconciliationSucceeded");
        let cases = [
            (
                ProviderType::GitHub,
                "https://github.com/org/app",
                "https://api.github.com/repos/org/app/statuses/0123456789abcdef0123456789abcdef01234567",
                "success",
            ),
            (
                ProviderType::GitHub,
                "http://ghe.local:8080/org/app.git",
                "http://ghe.local:8080/api/v3/repos/org/app/statuses/0123456789abcdef0123456789abcdef01234567",
                "success",
            ),
            (
                ProviderType::GitLab,
                "git@gitlab.local:group/sub/app.git",
                "https://gitlab.local/api/v4/projects/group%2Fsub%2Fapp/statuses/0123456789abcdef0123456789abcdef01234567",
                "success",
            ),
            (
                ProviderType::Gitea,
                "ssh://git@gitea.local/org/app",
                "https://gitea.local/api/v1/repos/org/app/statuses/0123456789abcdef0123456789abcdef01234567",
                "success",
            ),
        ];
        for (kind, address, url, state) in cases {
            let Delivery::CommitStatus { create, status, .. } = build(&provider(kind, address), &e).expect("builds")
            else {
                panic!("{address}")
            };
            assert_eq!(create.url, url);
            assert_eq!(status.state, state);
            assert_eq!(status.context, "kustomization/web/abcd");
            assert_eq!(status.description, "reconciliation succeeded");
        }
        assert!(matches!(
            build(&provider(ProviderType::GitHub, "https://github.com/o/r"), &event("info", "Progressing")),
            Ok(Delivery::Skip(_))
        ));
        let Ok(Delivery::CommitStatus { status, .. }) =
            build(&provider(ProviderType::Gitea, "https://g/o/r"), &event("info", "Progressing"))
        else {
            panic!()
        };
        assert_eq!(status.state, "pending");
        let mut no_rev = event("error", "x");
        no_rev.metadata.insert("revision".into(), "main@sha1:xyz".into());
        assert!(
            build(&provider(ProviderType::GitLab, "https://g/o/r"), &no_rev)
                .unwrap_err()
                .to_string()
                .contains("commit hash")
        );
    }

    #[test]
    fn revisions_and_reasons() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        for rev in [
            format!("main@sha1:{sha}"),
            format!("sha1:{sha}"),
            sha.to_string(),
            format!("main/{sha}"),
            format!("refs/tags/v1@sha1:{sha}"),
        ] {
            assert_eq!(revision_commit(&rev).as_deref(), Some(sha), "{rev}");
        }
        assert_eq!(revision_commit("main@sha1:abc"), None);
        assert_eq!(split_camel_case("ReconciliationSucceeded"), ["Reconciliation", "Succeeded"]);
        assert_eq!(split_camel_case("HTTPServerV2Down"), ["HTTP", "Server", "V", "2", "Down"]);
        assert_eq!(split_camel_case("already_done"), ["already", "_", "done"]);
    }

    #[test]
    fn duplicates_are_found_as_each_forge_lists_them() {
        let st = |forge| CommitStatus {
            forge,
            sha: "s".into(),
            state: "success".into(),
            context: "c".into(),
            description: "d".into(),
        };
        let gh = json!([{"context": "c", "state": "success", "description": "d"}, {"context": "c", "state": "failure", "description": "d"}]);
        assert!(already_set(&st(Forge::GitHub), &gh));
        let newest_failed = json!([{"context": "c", "state": "failure", "description": "d"}, {"context": "c", "state": "success", "description": "d"}]);
        assert!(!already_set(&st(Forge::GitHub), &newest_failed));
        assert!(already_set(&st(Forge::Gitea), &json!([{"context": "c", "status": "success", "description": "d"}])));
        assert!(already_set(
            &st(Forge::GitLab),
            &json!([{"x": 1}, {"sha": "s", "status": "success", "description": "d", "name": "c"}])
        ));
        assert!(!already_set(
            &st(Forge::GitLab),
            &json!([{"sha": "other", "status": "success", "description": "d", "name": "c"}])
        ));
    }
}
