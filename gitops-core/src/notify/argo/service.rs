//! Argo CD notification services, pure: what `slack`, `webhook`, `teams`, `teams-workflows`,
//! `email` and `github` send for a rendered [`Notification`], from their `service.<type>[.<name>]` options in
//! `argocd-notifications-cm` (with `$key` references replaced from
//! argocd-notifications-secret, as notifications-engine does). Sending is
//! `gitops_render::notify`'s.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};

use super::super::NotifyError;
use super::super::payload::{HttpRequest, query_escape};
use super::template::Notification;
use crate::appset::template::go::full_name_by_repo_url;

/// How a reply tells success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A 2xx status.
    Status,
    /// Slack's Web API: a 2xx status and `ok: true` in the JSON body.
    SlackApi,
    /// A Teams incoming webhook: a 2xx status and a body of `1` or nothing.
    Teams,
}

/// A mail to send over SMTP.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    /// The SMTP server.
    pub host: String,
    /// Its port (465: TLS from the start; otherwise STARTTLS when the server offers it).
    pub port: u16,
    /// The user to authenticate as (`AUTH PLAIN`, or `LOGIN`; empty: no authentication).
    pub username: String,
    /// Its password.
    pub password: String,
    /// The sender.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The body.
    pub body: String,
    /// `html: true`: the body is `text/html`.
    pub html: bool,
    /// Do not verify the server's certificate.
    pub insecure_skip_verify: bool,
}

impl std::fmt::Debug for Email {
    // The password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish()
    }
}

/// A GitHub App installation, whose token authenticates the request.
#[derive(Clone, PartialEq, Eq)]
pub struct GitHubApp {
    /// `appID`.
    pub app_id: String,
    /// `installationID`.
    pub installation_id: String,
    /// `privateKey` (PEM).
    pub private_key: String,
    /// `POST` here with the app's JWT gives the installation token.
    pub token_url: String,
}

impl std::fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubApp").field("app_id", &self.app_id).field("token_url", &self.token_url).finish()
    }
}

/// What to send for one notification and destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// One HTTP request.
    Http {
        /// The request.
        request: HttpRequest,
        /// How the reply tells success.
        reply: Reply,
        /// Do not verify the server's certificate.
        insecure_skip_verify: bool,
    },
    /// A Slack message in a thread (its template's `groupingKey`).
    SlackThread(SlackThread),
    /// A mail.
    Email(Email),
    /// GitHub API calls made with a GitHub App installation token (`Authorization: token ...`).
    GitHub {
        /// The app.
        app: GitHubApp,
        /// What to do, in order (the template's `status`, `deployment`, `pullRequestComment`).
        steps: Vec<GitHubStep>,
        /// Do not verify the server's certificate.
        insecure_skip_verify: bool,
    },
}

/// How a Slack message with a `groupingKey` is delivered once its thread exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryPolicy {
    /// Post into the thread (the default).
    Post,
    /// Post into the thread and update its first message.
    PostAndUpdate,
    /// Only update the thread's first message.
    Update,
}

/// A Slack message grouped in a thread by its template's `groupingKey`: the first message of
/// a key starts the thread, later ones go into it (and may update the first, per `deliveryPolicy`).
#[derive(Clone, PartialEq, Eq)]
pub struct SlackThread {
    /// The Web API base (`https://slack.com/api`).
    pub api: String,
    /// The bot token.
    pub token: String,
    /// The message's form fields (`channel`, `text`, `attachments`, ...).
    pub form: BTreeMap<String, String>,
    /// The channel named by the subscription.
    pub recipient: String,
    /// The thread's key.
    pub grouping_key: String,
    /// What later messages do.
    pub policy: DeliveryPolicy,
    /// Do not verify the server's certificate.
    pub insecure_skip_verify: bool,
}

impl std::fmt::Debug for SlackThread {
    // The token stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackThread")
            .field("api", &self.api)
            .field("recipient", &self.recipient)
            .field("grouping_key", &self.grouping_key)
            .field("policy", &self.policy)
            .finish()
    }
}

/// The Slack threads a service has started: per channel (as subscribed) and grouping key, the
/// `ts` of the thread's first message, and the channel's ID (`chat.update` wants the ID). Kept
/// between runs so that a restart keeps posting into the same threads; the field names are
/// notifications-engine's state snapshot's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlackThreads {
    /// Channel → grouping key → `ts`.
    #[serde(rename = "ThreadTSs", default)]
    pub thread_ts: BTreeMap<String, BTreeMap<String, String>>,
    /// Channel → channel ID.
    #[serde(rename = "ChannelIDs", default)]
    pub channel_ids: BTreeMap<String, String>,
}

/// A Slack Web API call with a form body.
fn slack_call(api: &str, token: &str, method: &str, form: &BTreeMap<String, String>) -> HttpRequest {
    let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", query_escape(v))).collect();
    HttpRequest {
        method: "POST".into(),
        url: format!("{api}/{method}"),
        headers: vec![
            ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
            ("Authorization".into(), format!("Bearer {token}")),
        ],
        body: body.join("&").into_bytes(),
    }
}

impl SlackThread {
    /// What to send given the threads started so far: a `chat.postMessage` (the thread's first
    /// message, or a reply in it) and a `chat.update` of the first message, as
    /// notifications-engine's threaded client does.
    pub fn requests(&self, threads: &SlackThreads) -> (Option<HttpRequest>, Option<HttpRequest>) {
        let ts = threads.thread_ts.get(&self.recipient).and_then(|t| t.get(&self.grouping_key));
        let mut form = self.form.clone();
        if let Some(ts) = ts {
            form.insert("thread_ts".into(), ts.clone());
        }
        let post = (ts.is_none() || self.policy != DeliveryPolicy::Update)
            .then(|| slack_call(&self.api, &self.token, "chat.postMessage", &form));
        let update = ts.filter(|_| self.policy != DeliveryPolicy::Post).map(|ts| {
            // Replies are not broadcast by an edit; the first message is addressed by its ID.
            form.remove("reply_broadcast");
            form.insert("ts".into(), ts.clone());
            form.insert("as_user".into(), "true".into());
            let channel = threads.channel_ids.get(&self.recipient).unwrap_or(&self.recipient);
            form.insert("channel".into(), channel.clone());
            slack_call(&self.api, &self.token, "chat.update", &form)
        });
        (post, update)
    }

    /// Records what `chat.postMessage` answered (`channel`, `ts`): the channel's ID, and the
    /// thread's `ts` when this message started it.
    pub fn record_post(&self, threads: &mut SlackThreads, reply: &Value) {
        if let Some(channel) = reply.get("channel").and_then(Value::as_str) {
            threads.channel_ids.insert(self.recipient.clone(), channel.to_string());
        }
        let thread = threads.thread_ts.entry(self.recipient.clone()).or_default();
        if let Some(ts) = reply.get("ts").and_then(Value::as_str) {
            thread.entry(self.grouping_key.clone()).or_insert_with(|| ts.to_string());
        }
    }
}

/// One thing the `github` service does; requests are without their `Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHubStep {
    /// One request (a commit status).
    Request(HttpRequest),
    /// A deployment status: on the first deployment `list` returns (this revision and
    /// environment), else on the one `create` makes; see [`deployment_status`].
    Deployment {
        /// `GET .../deployments?ref=&environment=`.
        list: HttpRequest,
        /// `POST .../deployments`.
        create: HttpRequest,
        /// `.../repos/OWNER/REPO/deployments`.
        deployments_url: String,
        /// The status' JSON body.
        status: Vec<u8>,
    },
    /// A comment on every pull request holding the revision; see [`pull_request_comment`].
    PullRequestComment {
        /// `GET .../commits/REVISION/pulls`.
        pulls: HttpRequest,
        /// `.../repos/OWNER/REPO`.
        repo_url: String,
        /// The comment (its tag marker already appended when tagged).
        body: String,
        /// The marker of a tagged comment (`<!-- argocd-notifications TAG -->`): a comment
        /// holding it is edited instead of a new one added.
        tag: Option<String>,
    },
}

/// A GitHub API request: JSON accepted, and sent when there is a body.
fn github_request(method: &str, url: String, body: Option<&Value>) -> HttpRequest {
    let mut headers = vec![("Accept".to_string(), "application/vnd.github+json".to_string())];
    if body.is_some() {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    HttpRequest {
        method: method.into(),
        url,
        headers,
        body: body.map(|b| serde_json::to_vec(b).unwrap_or_default()).unwrap_or_default(),
    }
}

/// `text` cut to `max` characters, the last three being `...` (notifications-engine's `trunc`).
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        text.chars().take(max - 3).chain("...".chars()).collect()
    } else {
        text.to_string()
    }
}

/// The deployment status request of a [`GitHubStep::Deployment`], once its deployment is
/// known: `listed` (the list's reply) gives the first one's `id`, else `created` (the create's
/// reply, `None` when not made yet). `Ok(None)`: the deployment must be created first.
pub fn deployment_status(
    deployments_url: &str,
    status: &[u8],
    listed: &Value,
    created: Option<&Value>,
) -> Result<Option<HttpRequest>, String> {
    let id = match listed.as_array() {
        None => return Err("the deployments listed are not a JSON list".into()),
        Some(items) if !items.is_empty() => items[0].get("id"),
        Some(_) => match created {
            None => return Ok(None),
            Some(c) => c.get("id"),
        },
    };
    let id = id.and_then(Value::as_i64).ok_or("the deployment has no numeric id")?;
    let mut request = github_request("POST", format!("{deployments_url}/{id}/statuses"), None);
    request.headers.push(("Content-Type".into(), "application/json".into()));
    request.body = status.to_vec();
    Ok(Some(request))
}

/// The pull request numbers of `GET .../commits/REVISION/pulls`'s reply.
pub fn pull_request_numbers(pulls: &Value) -> Result<Vec<i64>, String> {
    let items = pulls.as_array().ok_or("the pull requests listed are not a JSON list")?;
    Ok(items.iter().filter_map(|p| p.get("number").and_then(Value::as_i64)).collect())
}

/// The request that puts `body` on pull request `number`: an edit of the first comment of
/// `comments` (the issue's comments, when the comment is tagged) holding `tag`, else a new
/// comment.
pub fn pull_request_comment(
    repo_url: &str,
    number: i64,
    body: &str,
    tag: Option<&str>,
    comments: Option<&Value>,
) -> HttpRequest {
    let existing = tag.zip(comments.and_then(Value::as_array)).and_then(|(tag, comments)| {
        comments
            .iter()
            .find(|c| c.get("body").and_then(Value::as_str).is_some_and(|b| b.contains(tag)))
            .and_then(|c| c.get("id").and_then(Value::as_i64))
    });
    let payload = json!({"body": body});
    match existing {
        Some(id) => github_request("PATCH", format!("{repo_url}/issues/comments/{id}"), Some(&payload)),
        None => github_request("POST", format!("{repo_url}/issues/{number}/comments"), Some(&payload)),
    }
}

/// `GET` the comments of pull request `number` (to find a tagged one).
pub fn pull_request_comments(repo_url: &str, number: i64) -> HttpRequest {
    github_request("GET", format!("{repo_url}/issues/{number}/comments"), None)
}

/// Options with every `$key` in their strings replaced by the secret's value (unknown keys
/// are left as written, as notifications-engine does).
pub fn resolve_secrets(options: &Value, secrets: &BTreeMap<String, String>) -> Value {
    match options {
        Value::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find('$') {
                out.push_str(&rest[..i]);
                let after = &rest[i + 1..];
                let end = after.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).unwrap_or(after.len());
                let key = &after[..end];
                match secrets.get(key).filter(|_| !key.is_empty()) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('$');
                        out.push_str(key);
                    }
                }
                rest = &after[end..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| resolve_secrets(i, secrets)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve_secrets(v, secrets))).collect()),
        other => other.clone(),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn flag(v: &Value, key: &str) -> bool {
    match v.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// A scalar option as text (`appID: 123` or `appID: "123"`).
fn scalar(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// What service `name` of type `kind` (its options resolved) sends for `n` to `recipient`.
pub fn build(
    kind: &str,
    name: &str,
    options: &Value,
    n: &Notification,
    recipient: &str,
) -> Result<Outgoing, NotifyError> {
    let bad = |reason: String| NotifyError::Invalid { file: format!("service.{kind}"), reason };
    let insecure_skip_verify = flag(options, "insecureSkipVerify");
    match kind {
        "slack" => {
            let token = text(options, "token");
            if token.is_empty() {
                return Err(bad("token: is missing (chat.postMessage needs a bot token)".into()));
            }
            let api = match text(options, "apiURL") {
                "" => "https://slack.com/api/",
                u => u,
            };
            let mut form: BTreeMap<&str, String> = BTreeMap::new();
            form.insert("channel", recipient.to_string());
            form.insert("text", n.message.clone());
            let section = &n.section;
            let username = match text(section, "username") {
                "" => text(options, "username"),
                u => u,
            };
            if !username.is_empty() {
                form.insert("username", username.to_string());
            }
            let icon = match text(section, "icon") {
                "" => text(options, "icon"),
                i => i,
            };
            if icon.len() > 2 && icon.starts_with(':') && icon.ends_with(':') {
                form.insert("icon_emoji", icon.to_string());
            } else if icon.starts_with("http://") || icon.starts_with("https://") {
                form.insert("icon_url", icon.to_string());
            }
            if !section.is_null() {
                let list = |field: &str| -> Result<Value, NotifyError> {
                    match text(section, field).trim() {
                        "" => Ok(json!([])),
                        raw => serde_json::from_str::<Value>(raw)
                            .ok()
                            .filter(Value::is_array)
                            .ok_or_else(|| bad(format!("failed to unmarshal {field} '{raw}': not a JSON list"))),
                    }
                };
                form.insert("attachments", list("attachments")?.to_string());
                let blocks = list("blocks")?;
                if blocks.as_array().is_some_and(|b| !b.is_empty()) {
                    form.insert("blocks", blocks.to_string());
                }
            }
            if flag(options, "disableUnfurl") {
                form.insert("unfurl_links", "false".into());
                form.insert("unfurl_media", "false".into());
            }
            if flag(section, "notifyBroadcast") {
                form.insert("reply_broadcast", "true".into());
            }
            let form: BTreeMap<String, String> = form.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let api = api.trim_end_matches('/').to_string();
            let grouping_key = text(section, "groupingKey");
            if grouping_key.is_empty() {
                let request = slack_call(&api, token, "chat.postMessage", &form);
                return Ok(Outgoing::Http { request, reply: Reply::SlackApi, insecure_skip_verify });
            }
            let policy = match text(section, "deliveryPolicy") {
                "PostAndUpdate" => DeliveryPolicy::PostAndUpdate,
                "Update" => DeliveryPolicy::Update,
                _ => DeliveryPolicy::Post,
            };
            Ok(Outgoing::SlackThread(SlackThread {
                api,
                token: token.to_string(),
                form,
                recipient: recipient.to_string(),
                grouping_key: grouping_key.to_string(),
                policy,
                insecure_skip_verify,
            }))
        }
        "webhook" => {
            let url = text(options, "url");
            if url.is_empty() {
                return Err(bad(format!("service.webhook.{name}: url is missing")));
            }
            let mut request = HttpRequest {
                method: "GET".into(),
                url: url.to_string(),
                headers: Vec::new(),
                body: n.message.clone().into_bytes(),
            };
            if let Value::Object(_) = &n.section {
                request.body = text(&n.section, "body").as_bytes().to_vec();
                if !text(&n.section, "method").is_empty() {
                    request.method = text(&n.section, "method").to_string();
                }
                let path = text(&n.section, "path");
                if !path.is_empty() {
                    request.url = format!("{}/{}", url.trim_end_matches('/'), path.trim_start_matches('/'));
                }
            }
            for h in options.get("headers").and_then(Value::as_array).into_iter().flatten() {
                let (k, v) = (text(h, "name"), text(h, "value"));
                // Later headers of the same name replace earlier ones (Go's Header.Set).
                request.headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                request.headers.push((k.to_string(), v.to_string()));
            }
            if let Some(auth) = options.get("basicAuth").filter(|a| a.is_object()) {
                let pair = format!("{}:{}", text(auth, "username"), text(auth, "password"));
                request.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
                request.headers.push((
                    "Authorization".into(),
                    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)),
                ));
            }
            Ok(Outgoing::Http { request, reply: Reply::Status, insecure_skip_verify })
        }
        "teams" => {
            let url = options
                .get("recipientUrls")
                .and_then(|r| r.get(recipient))
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("no teams webhook configured for recipient {recipient}")))?;
            let s = &n.section;
            let body = if !text(s, "template").is_empty() {
                text(s, "template").as_bytes().to_vec()
            } else {
                let mut card = json!({
                    "@type": "MessageCard",
                    "context": "https://schema.org/extensions",
                    "title": text(s, "title"),
                    "summary": text(s, "summary"),
                    "text": if text(s, "text").is_empty() { n.message.as_str() } else { text(s, "text") },
                });
                if !text(s, "themeColor").is_empty() {
                    card["themeColor"] = json!(text(s, "themeColor"));
                }
                let parse = |field: &str, what: &str| -> Result<Option<Value>, NotifyError> {
                    match text(s, field).trim() {
                        "" => Ok(None),
                        raw => serde_json::from_str::<Value>(raw)
                            .map(Some)
                            .map_err(|e| bad(format!("teams {what} unmarshalling error {e}"))),
                    }
                };
                let mut sections = match parse("sections", "sections")? {
                    Some(Value::Array(items)) => items,
                    Some(_) => return Err(bad("teams sections unmarshalling error: not a list".into())),
                    None => Vec::new(),
                };
                if let Some(facts) = parse("facts", "facts")? {
                    sections.push(json!({"facts": facts}));
                }
                if !sections.is_empty() {
                    card["sections"] = Value::Array(sections);
                }
                if let Some(actions) = parse("potentialAction", "potential action")? {
                    card["potentialAction"] = actions;
                }
                serde_json::to_vec(&card).unwrap_or_default()
            };
            let request = HttpRequest {
                method: "POST".into(),
                url: url.to_string(),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body,
            };
            Ok(Outgoing::Http { request, reply: Reply::Teams, insecure_skip_verify })
        }
        "teams-workflows" => {
            let url = options
                .get("recipientUrls")
                .and_then(|r| r.get(recipient))
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("no teams-workflows webhook configured for recipient {recipient}")))?;
            check_workflows_url(url).map_err(|e| bad(format!("invalid webhook URL for recipient {recipient}: {e}")))?;
            let card = adaptive_card(&n.section, &n.message).map_err(bad)?;
            let body = if flag(options, "rawCardPayload") {
                card
            } else {
                json!({
                    "type": "message",
                    "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
                })
            };
            let request = HttpRequest {
                method: "POST".into(),
                url: url.to_string(),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: serde_json::to_vec(&body).unwrap_or_default(),
            };
            Ok(Outgoing::Http { request, reply: Reply::Status, insecure_skip_verify })
        }
        "email" => {
            let port = match options.get("port") {
                Some(Value::Number(p)) => p.as_u64(),
                Some(Value::String(p)) => p.parse().ok(),
                _ => None,
            }
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| bad("port: a port number is expected".into()))?;
            let host = text(options, "host");
            if host.is_empty() {
                return Err(bad("host: is missing".into()));
            }
            let body = match text(&n.section, "body") {
                "" => n.message.clone(),
                b => b.to_string(),
            };
            Ok(Outgoing::Email(Email {
                host: host.to_string(),
                port,
                username: text(options, "username").to_string(),
                password: text(options, "password").to_string(),
                from: text(options, "from").to_string(),
                to: recipient.to_string(),
                subject: text(&n.section, "subject").to_string(),
                body,
                html: flag(options, "html"),
                insecure_skip_verify: flag(options, "insecure_skip_verify"),
            }))
        }
        "github" => {
            let s = &n.section;
            if !s.is_object() {
                return Err(bad("config is empty: the template has no github section".into()));
            }
            let part = |key: &str| s.get(key).filter(|v| v.is_object());
            let (status, deployment, comment) = (part("status"), part("deployment"), part("pullRequestComment"));
            if status.is_none() && deployment.is_none() && comment.is_none() {
                return Err(bad(
                    "the github section has no status, deployment or pullRequestComment (checkRun and repositoryDispatch are not supported)"
                        .into(),
                ));
            }
            let repo_url = text(s, "repoURLPath");
            let full = full_name_by_repo_url(repo_url).unwrap_or_default();
            let Some((owner, repo)) = full.split_once('/') else {
                return Err(bad(format!("GitHub.repoURL ({repo_url}) does not have a `/`")));
            };
            let (api, token_base) = match text(options, "enterpriseBaseURL").trim_end_matches('/') {
                "" => ("https://api.github.com".to_string(), "https://api.github.com".to_string()),
                base if base.ends_with("/api/v3") => (base.to_string(), base.to_string()),
                base => (format!("{base}/api/v3"), base.to_string()),
            };
            let app = GitHubApp {
                app_id: scalar(options, "appID"),
                installation_id: scalar(options, "installationID"),
                private_key: text(options, "privateKey").to_string(),
                token_url: format!(
                    "{token_base}/app/installations/{}/access_tokens",
                    scalar(options, "installationID")
                ),
            };
            if app.app_id.is_empty() || app.installation_id.is_empty() || app.private_key.is_empty() {
                return Err(bad("appID, installationID and privateKey are required".into()));
            }
            let repo_api = format!("{api}/repos/{owner}/{repo}");
            let revision = text(s, "revisionPath");
            // GitHub takes at most 140 characters of description.
            let description = truncate(&n.message, 140);
            let mut steps = Vec::new();
            if let Some(status) = status {
                let body = json!({
                    "state": text(status, "state"),
                    "description": description,
                    "context": text(status, "label"),
                    "target_url": text(status, "targetURL"),
                });
                steps.push(GitHubStep::Request(github_request(
                    "POST",
                    format!("{repo_api}/statuses/{revision}"),
                    Some(&body),
                )));
            }
            if let Some(d) = deployment {
                let environment = text(d, "environment");
                let mut query = vec![format!("ref={}", query_escape(revision))];
                if !environment.is_empty() {
                    query.push(format!("environment={}", query_escape(environment)));
                }
                let reference = match text(d, "reference") {
                    "" => revision,
                    r => r,
                };
                // Absent: `null`, GitHub then checks every context (an empty list checks none).
                let required = match d.get("requiredContexts") {
                    Some(Value::Array(items)) => Value::Array(items.clone()),
                    _ => Value::Null,
                };
                let bool_or = |key: &str, default: bool| match d.get(key) {
                    Some(Value::Bool(b)) => *b,
                    Some(Value::String(v)) => v == "true",
                    _ => default,
                };
                let create = json!({
                    "ref": reference,
                    "environment": environment,
                    "required_contexts": required,
                    "auto_merge": bool_or("autoMerge", true),
                    "transient_environment": bool_or("transientEnvironment", false),
                });
                let status = json!({
                    "state": text(d, "state"),
                    "log_url": text(d, "logURL"),
                    "description": description,
                    "environment": environment,
                    "environment_url": text(d, "environmentURL"),
                });
                steps.push(GitHubStep::Deployment {
                    list: github_request("GET", format!("{repo_api}/deployments?{}", query.join("&")), None),
                    create: github_request("POST", format!("{repo_api}/deployments"), Some(&create)),
                    deployments_url: format!("{repo_api}/deployments"),
                    status: serde_json::to_vec(&status).unwrap_or_default(),
                });
            }
            if let Some(c) = comment {
                let tag = match text(c, "commentTag") {
                    "" => None,
                    t => Some(format!("<!-- argocd-notifications {t} -->")),
                };
                // GitHub takes at most 65536 characters of comment.
                let mut body = truncate(text(c, "content"), 65536);
                if let Some(tag) = &tag {
                    body = format!("{body}\n{tag}");
                }
                steps.push(GitHubStep::PullRequestComment {
                    pulls: github_request("GET", format!("{repo_api}/commits/{revision}/pulls"), None),
                    repo_url: repo_api.clone(),
                    body,
                    tag,
                });
            }
            Ok(Outgoing::GitHub { app, steps, insecure_skip_verify })
        }
        other => Err(bad(format!(
            "service type {other:?} is not supported (slack, webhook, teams, teams-workflows, email, github)"
        ))),
    }
}

/// Why `url` is not a Teams Workflows webhook as notifications-engine accepts them: HTTPS (plain
/// HTTP only to localhost and 127.x), a host, and a Power Automate address
/// (`api.powerautomate.com`, `api.powerplatform.com`, `flow.microsoft.com`,
/// `webhook.office.com/workflows`, or `/powerautomate/` in the path).
fn check_workflows_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| "webhook URL must use HTTPS scheme".to_string())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    let local = host == "localhost" || host.starts_with("127.");
    let allowed = scheme.eq_ignore_ascii_case("https") || (local && scheme.eq_ignore_ascii_case("http"));
    if !allowed {
        return Err("webhook URL must use HTTPS scheme".into());
    }
    if host.is_empty() {
        return Err("webhook URL must have a valid host".into());
    }
    let lower = url.to_ascii_lowercase();
    let known = [
        "api.powerautomate.com",
        "api.powerplatform.com",
        "flow.microsoft.com",
        "webhook.office.com/workflows",
        "/powerautomate/",
    ];
    if !known.iter().any(|k| lower.contains(k)) {
        return Err("webhook URL does not appear to be a valid Microsoft Teams Workflows URL (Power Automate). Expected patterns: api.powerautomate.com, api.powerplatform.com, flow.microsoft.com, or webhook.office.com/workflows".into());
    }
    Ok(())
}

/// The Adaptive Card of a `teams-workflows` section: its `adaptiveCard` as written, else one
/// built from the MessageCard fields (`title`, `text` or the message, `themeColor`, `facts`,
/// `sections`' facts, `potentialAction`'s OpenUri actions), as notifications-engine converts them.
fn adaptive_card(section: &Value, message: &str) -> Result<Value, String> {
    let custom = text(section, "adaptiveCard");
    if !custom.is_empty() {
        return serde_json::from_str::<Value>(custom)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| format!("teams-workflows adaptiveCard unmarshalling error: not a JSON object: {custom}"));
    }
    let list = |field: &str, what: &str| -> Result<Vec<serde_json::Map<String, Value>>, String> {
        let raw = text(section, field);
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        let items: Vec<Value> =
            serde_json::from_str(raw).map_err(|e| format!("teams-workflows {what} unmarshalling error {e}"))?;
        items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                other => Err(format!("teams-workflows {what} unmarshalling error: {other} is not an object")),
            })
            .collect()
    };
    let (facts, sections, actions) =
        (list("facts", "facts")?, list("sections", "sections")?, list("potentialAction", "potential action")?);
    // Facts are `{name, value}`; a value that is not a string is printed as Go's `%v` would.
    let fact_set = |facts: &[Value]| -> Option<Value> {
        let facts: Vec<Value> = facts
            .iter()
            .filter_map(|f| {
                let name = f.get("name")?.as_str()?;
                let value = match f.get("value") {
                    None => String::new(),
                    Some(Value::String(v)) => v.clone(),
                    Some(v) => v.to_string(),
                };
                Some(json!({"title": name, "value": value}))
            })
            .collect();
        (!facts.is_empty()).then(|| json!({"type": "FactSet", "facts": facts}))
    };
    let mut body = Vec::new();
    let title = text(section, "title");
    if !title.is_empty() {
        let mut block = json!({"type": "TextBlock", "text": title, "size": "Large", "weight": "Bolder", "wrap": true});
        if !text(section, "themeColor").is_empty() {
            block["color"] = json!(text(section, "themeColor"));
        }
        body.push(block);
    }
    let text_block = match text(section, "text") {
        "" => message,
        t => t,
    };
    if !text_block.is_empty() {
        body.push(json!({"type": "TextBlock", "text": text_block, "wrap": true}));
    }
    let facts: Vec<Value> = facts.into_iter().map(Value::Object).collect();
    body.extend(fact_set(&facts));
    for s in &sections {
        if let Some(Value::Array(f)) = s.get("facts") {
            body.extend(fact_set(f));
        }
    }
    let actions: Vec<Value> = actions
        .iter()
        .filter(|a| a.get("@type").and_then(Value::as_str) == Some("OpenUri"))
        .filter_map(|a| {
            let url = a.get("targets")?.get(0)?.get("uri")?.as_str().filter(|u| !u.is_empty())?;
            let mut action = json!({"type": "Action.OpenUrl", "url": url});
            if let Some(name) = a.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                action["title"] = json!(name);
            }
            Some(action)
        })
        .collect();
    let mut card = json!({"type": "AdaptiveCard", "version": "1.4", "body": body});
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    Ok(card)
}

/// The signing input of a GitHub App JWT (`base64url(header).base64url(claims)`), issued a
/// minute in the past (clock drift) and valid ten minutes, as ghinstallation issues it.
pub fn github_jwt_input(app_id: &str, now_unix: i64) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let issuer = app_id.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(app_id.to_string()));
    format!(
        "{}.{}",
        b64(&json!({"alg": "RS256", "typ": "JWT"})),
        b64(&json!({"iat": now_unix - 60, "exp": now_unix + 600, "iss": issuer}))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(message: &str, section: Value) -> Notification {
        Notification { message: message.into(), section }
    }

    #[test]
    fn secrets_are_replaced_anywhere_in_strings() {
        let secrets = BTreeMap::from([("slack-token".to_string(), "xoxb-1".to_string())]);
        let v = resolve_secrets(
            &json!({"token": "$slack-token", "h": ["Bearer $slack-token!", "$nope"], "n": 1}),
            &secrets,
        );
        assert_eq!(v, json!({"token": "xoxb-1", "h": ["Bearer xoxb-1!", "$nope"], "n": 1}));
    }

    #[test]
    fn slack_posts_a_form_to_chat_post_message() {
        let opts =
            json!({"token": "xoxb-1", "username": "argocd", "icon": ":rocket:", "apiURL": "http://127.0.0.1:1/api/"});
        let section = json!({"attachments": "[{\"title\": \"web\"}]", "groupingKey": "", "notifyBroadcast": false});
        let Outgoing::Http { request, reply, .. } =
            build("slack", "slack", &opts, &n("hi there", section), "ops").unwrap()
        else {
            panic!("http")
        };
        assert_eq!(reply, Reply::SlackApi);
        assert_eq!(request.url, "http://127.0.0.1:1/api/chat.postMessage");
        let body = String::from_utf8(request.body).unwrap();
        assert_eq!(
            body,
            "attachments=%5B%7B%22title%22%3A%22web%22%7D%5D&channel=ops&icon_emoji=%3Arocket%3A&text=hi+there&username=argocd"
        );
        assert!(request.headers.contains(&("Authorization".into(), "Bearer xoxb-1".into())));
        assert!(build("slack", "slack", &json!({}), &n("x", Value::Null), "ops").is_err());
        let bad = build("slack", "slack", &opts, &n("x", json!({"attachments": "[{"})), "ops").unwrap_err();
        assert!(bad.to_string().contains("failed to unmarshal attachments"));
    }

    #[test]
    fn webhooks_take_method_path_body_headers_and_basic_auth() {
        let opts = json!({"url": "http://h/base/", "headers": [{"name": "X-A", "value": "1"}], "basicAuth": {"username": "u", "password": "p"}});
        let Outgoing::Http { request, .. } = build(
            "webhook",
            "hook",
            &opts,
            &n("msg", json!({"method": "POST", "path": "/apps/web", "body": "{}"})),
            "",
        )
        .unwrap() else {
            panic!("http")
        };
        assert_eq!(
            (request.method.as_str(), request.url.as_str(), request.body.as_slice()),
            ("POST", "http://h/base/apps/web", &b"{}"[..])
        );
        assert!(request.headers.contains(&("Authorization".into(), "Basic dTpw".into())));
        let Outgoing::Http { request, .. } = build("webhook", "hook", &opts, &n("msg", Value::Null), "").unwrap()
        else {
            panic!("http")
        };
        assert_eq!(
            (request.method.as_str(), request.url.as_str(), request.body.as_slice()),
            ("GET", "http://h/base/", &b"msg"[..])
        );
    }

    #[test]
    fn teams_cards_email_and_github_statuses() {
        let opts = json!({"recipientUrls": {"ops": "http://t/hook"}});
        let section = json!({"title": "T", "facts": "[{\"name\": \"a\", \"value\": \"b\"}]", "themeColor": "#fff"});
        let Outgoing::Http { request, reply, .. } = build("teams", "teams", &opts, &n("m", section), "ops").unwrap()
        else {
            panic!("http")
        };
        assert_eq!(reply, Reply::Teams);
        let card: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(card["@type"], "MessageCard");
        assert_eq!(card["text"], "m");
        assert_eq!(card["sections"][0]["facts"][0]["name"], "a");
        assert!(
            build("teams", "teams", &opts, &n("m", Value::Null), "dev")
                .unwrap_err()
                .to_string()
                .contains("recipient dev")
        );

        let mail = json!({"host": "127.0.0.1", "port": 2525, "from": "cd@example.com"});
        let Outgoing::Email(e) =
            build("email", "email", &mail, &n("body", json!({"subject": "S"})), "me@example.com").unwrap()
        else {
            panic!("email")
        };
        assert_eq!((e.subject.as_str(), e.body.as_str(), e.to.as_str(), e.port), ("S", "body", "me@example.com", 2525));

        let gh = json!({"appID": 12, "installationID": "34", "privateKey": "PEM", "enterpriseBaseURL": "http://127.0.0.1:9"});
        let section = json!({"repoURLPath": "https://github.com/acme/web.git", "revisionPath": "abc", "status": {"state": "success", "label": "cd/web", "targetURL": "u"}});
        let Outgoing::GitHub { app, steps, .. } = build("github", "github", &gh, &n("deployed", section), "").unwrap()
        else {
            panic!("github")
        };
        let [GitHubStep::Request(request)] = steps.as_slice() else { panic!("one request: {steps:?}") };
        assert_eq!(app.token_url, "http://127.0.0.1:9/app/installations/34/access_tokens");
        assert_eq!(request.url, "http://127.0.0.1:9/api/v3/repos/acme/web/statuses/abc");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({"state": "success", "description": "deployed", "context": "cd/web", "target_url": "u"})
        );
        assert!(github_jwt_input("12", 1000).starts_with("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."));
    }

    #[test]
    fn slack_threads_start_then_take_replies_and_updates() {
        let opts = json!({"token": "xoxb-1", "apiURL": "http://127.0.0.1:1/api"});
        let section =
            |policy: &str| json!({"groupingKey": "web-abc", "notifyBroadcast": true, "deliveryPolicy": policy});
        let form = |r: &HttpRequest| String::from_utf8(r.body.clone()).unwrap();
        let thread = |policy: &str| match build("slack", "slack", &opts, &n("hi", section(policy)), "ops").unwrap() {
            Outgoing::SlackThread(t) => t,
            other => panic!("{other:?}"),
        };
        let mut threads = SlackThreads::default();
        // The first message of a key starts the thread, whatever the policy.
        for policy in ["Post", "PostAndUpdate", "Update"] {
            let (post, update) = thread(policy).requests(&threads);
            assert!(post.is_some_and(|p| !form(&p).contains("thread_ts")) && update.is_none(), "{policy}");
        }
        let t = thread("PostAndUpdate");
        t.record_post(&mut threads, &json!({"ok": true, "channel": "C1", "ts": "100.1"}));
        t.record_post(&mut threads, &json!({"ok": true, "channel": "C1", "ts": "100.2"}));
        assert_eq!(threads.thread_ts["ops"]["web-abc"], "100.1", "a reply does not move the thread");
        let (post, update) = t.requests(&threads);
        let (post, update) = (form(&post.unwrap()), form(&update.unwrap()));
        assert!(
            post.contains("channel=ops") && post.contains("thread_ts=100.1") && post.contains("reply_broadcast=true"),
            "{post}"
        );
        assert!(
            update.contains("channel=C1") && update.contains("ts=100.1") && !update.contains("reply_broadcast"),
            "{update}"
        );
        assert!(matches!(thread("Post").requests(&threads), (Some(_), None)));
        assert!(matches!(thread("Update").requests(&threads), (None, Some(_))));
        let text = serde_json::to_value(&threads).unwrap();
        assert_eq!(text, json!({"ThreadTSs": {"ops": {"web-abc": "100.1"}}, "ChannelIDs": {"ops": "C1"}}));
    }

    #[test]
    fn github_deployments_and_pull_request_comments() {
        let gh = json!({"appID": 12, "installationID": 34, "privateKey": "PEM"});
        let section = json!({
            "repoURLPath": "https://github.com/acme/web", "revisionPath": "abc",
            "deployment": {"state": "success", "environment": "prod env", "environmentURL": "https://web", "logURL": "https://cd/web", "requiredContexts": [], "autoMerge": false},
            "pullRequestComment": {"content": "Deployed abc", "commentTag": "deploy"},
        });
        let Outgoing::GitHub { steps, .. } = build("github", "github", &gh, &n(&"x".repeat(200), section), "").unwrap()
        else {
            panic!("github")
        };
        let [
            GitHubStep::Deployment { list, create, deployments_url, status },
            GitHubStep::PullRequestComment { pulls, repo_url, body, tag },
        ] = steps.as_slice()
        else {
            panic!("{steps:?}")
        };
        assert_eq!(list.url, "https://api.github.com/repos/acme/web/deployments?ref=abc&environment=prod+env");
        assert_eq!(
            serde_json::from_slice::<Value>(&create.body).unwrap(),
            json!({"ref": "abc", "environment": "prod env", "required_contexts": [], "auto_merge": false, "transient_environment": false})
        );
        let status: Value = serde_json::from_slice(status).unwrap();
        assert_eq!(status["description"].as_str().map(|d| d.chars().count()), Some(140));
        assert_eq!(status["environment_url"], "https://web");
        // The first deployment listed is reused; else the one created.
        let r = deployment_status(deployments_url, b"{}", &json!([{"id": 7}, {"id": 6}]), None).unwrap().unwrap();
        assert_eq!(
            (r.method.as_str(), r.url.as_str()),
            ("POST", "https://api.github.com/repos/acme/web/deployments/7/statuses")
        );
        assert_eq!(deployment_status(deployments_url, b"{}", &json!([]), None), Ok(None));
        let r = deployment_status(deployments_url, b"{}", &json!([]), Some(&json!({"id": 9}))).unwrap().unwrap();
        assert!(r.url.ends_with("/deployments/9/statuses"));
        assert!(deployment_status(deployments_url, b"{}", &json!({"message": "Not Found"}), None).is_err());

        assert_eq!(pulls.url, "https://api.github.com/repos/acme/web/commits/abc/pulls");
        assert_eq!(pull_request_numbers(&json!([{"number": 3}, {"number": 5}])), Ok(vec![3, 5]));
        assert_eq!(body, "Deployed abc\n<!-- argocd-notifications deploy -->");
        let tag = tag.as_deref();
        let comments =
            json!([{"id": 1, "body": "other"}, {"id": 2, "body": "old\n<!-- argocd-notifications deploy -->"}]);
        let edit = pull_request_comment(repo_url, 3, body, tag, Some(&comments));
        assert_eq!(
            (edit.method.as_str(), edit.url.as_str()),
            ("PATCH", "https://api.github.com/repos/acme/web/issues/comments/2")
        );
        let new = pull_request_comment(repo_url, 3, body, tag, Some(&json!([])));
        assert_eq!(
            (new.method.as_str(), new.url.as_str()),
            ("POST", "https://api.github.com/repos/acme/web/issues/3/comments")
        );
        assert_eq!(serde_json::from_slice::<Value>(&new.body).unwrap(), json!({"body": body}));

        let e = build(
            "github",
            "github",
            &gh,
            &n("m", json!({"repoURLPath": "https://github.com/a/b", "checkRun": {"name": "x"}})),
            "",
        );
        assert!(e.unwrap_err().to_string().contains("no status, deployment or pullRequestComment"));
    }

    #[test]
    fn teams_workflows_cards_from_fields_or_as_written() {
        let opts = json!({"recipientUrls": {"ops": "https://api.powerautomate.com/webhook/x", "raw": "http://127.0.0.1:9/powerautomate/hook"}, "rawCardPayload": false});
        let section = json!({
            "title": "Synced", "themeColor": "Good", "summary": "unused",
            "facts": "[{\"name\": \"Sync\", \"value\": \"Synced\"}, {\"name\": \"Replicas\", \"value\": 3}, {\"value\": \"no name\"}]",
            "sections": "[{\"facts\": [{\"name\": \"Namespace\", \"value\": \"prod\"}]}, {\"text\": \"no facts\"}]",
            "potentialAction": "[{\"@type\": \"OpenUri\", \"name\": \"Open\", \"targets\": [{\"os\": \"default\", \"uri\": \"https://cd/app\"}]}, {\"@type\": \"HttpPOST\", \"name\": \"x\"}]",
        });
        let Outgoing::Http { request, reply, .. } =
            build("teams-workflows", "teams-workflows", &opts, &n("the message", section), "ops").unwrap()
        else {
            panic!("http")
        };
        assert_eq!((reply, request.url.as_str()), (Reply::Status, "https://api.powerautomate.com/webhook/x"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["type"], "message");
        assert_eq!(body["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(
            body["attachments"][0]["content"],
            json!({
                "type": "AdaptiveCard", "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "Synced", "size": "Large", "weight": "Bolder", "color": "Good", "wrap": true},
                    {"type": "TextBlock", "text": "the message", "wrap": true},
                    {"type": "FactSet", "facts": [{"title": "Sync", "value": "Synced"}, {"title": "Replicas", "value": "3"}]},
                    {"type": "FactSet", "facts": [{"title": "Namespace", "value": "prod"}]},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://cd/app"}],
            })
        );

        // `adaptiveCard` wins and is sent as written; `rawCardPayload` drops the envelope.
        let raw = json!({"recipientUrls": {"ops": "http://127.0.0.1:9/powerautomate/hook"}, "rawCardPayload": true});
        let custom = r#"{"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Container", "items": [{"type": "Badge", "text": "ok"}]}]}"#;
        let Outgoing::Http { request, .. } =
            build("teams-workflows", "tw", &raw, &n("m", json!({"title": "ignored", "adaptiveCard": custom})), "ops")
                .unwrap()
        else {
            panic!("http")
        };
        assert_eq!(
            serde_json::from_slice::<Value>(&request.body).unwrap(),
            serde_json::from_str::<Value>(custom).unwrap()
        );

        // Only the message: a card with its text.
        let Outgoing::Http { request, .. } =
            build("teams-workflows", "tw", &raw, &n("just this", Value::Null), "ops").unwrap()
        else {
            panic!("http")
        };
        assert_eq!(
            serde_json::from_slice::<Value>(&request.body).unwrap(),
            json!({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "just this", "wrap": true}]})
        );

        for (url, why) in [
            ("https://example.com/webhook", "does not appear to be a valid Microsoft Teams Workflows URL"),
            ("http://api.powerautomate.com/webhook", "must use HTTPS scheme"),
            ("ftp://api.powerautomate.com/webhook", "must use HTTPS scheme"),
            ("https:///powerautomate/x", "must have a valid host"),
        ] {
            let opts = json!({"recipientUrls": {"ops": url}});
            let e = build("teams-workflows", "tw", &opts, &n("m", Value::Null), "ops").unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("recipient ops"), "{url}: {e}");
        }
        let e = build("teams-workflows", "tw", &opts, &n("m", Value::Null), "dev").unwrap_err().to_string();
        assert!(e.contains("no teams-workflows webhook configured for recipient dev"), "{e}");
        let e = build("teams-workflows", "tw", &opts, &n("m", json!({"facts": "{"})), "ops").unwrap_err().to_string();
        assert!(e.contains("teams-workflows facts unmarshalling error"), "{e}");
    }
}
