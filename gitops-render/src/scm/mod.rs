//! Clients for the pull request and repository APIs the ApplicationSet `pullRequest` and
//! `scmProvider` generators read: [`github`], [`gitlab`], [`gitea`], [`bitbucket_server`];
//! and for the services the `plugin` generator calls: [`plugin`].
//!
//! [`Client`] implements the core's [`PullRequests`], [`ScmRepositories`] and
//! [`Plugins`](gitops_core::appset::generators::Plugins) over blocking
//! HTTP (ureq, rustls). Each provider pages as its API documents (GitHub's `Link: rel="next"`,
//! GitLab's `X-Next-Page`, Gitea's `page`/`limit`, Bitbucket Server's `isLastPage` and
//! `nextPageStart`) and sends its own auth header. Tokens come from the Secrets the client is
//! given (`tokenRef: {secretName, key}` in the ApplicationSet's namespace), else, as Argo CD
//! does, from `GITHUB_TOKEN`, `GITLAB_TOKEN` or `GITEA_TOKEN` when [`Client::env_tokens`] is
//! on. A rate-limited answer is an error naming when the limit resets.

pub mod bitbucket_server;
pub mod gitea;
pub mod github;
pub mod gitlab;
pub mod plugin;

use std::time::Duration;

use base64::Engine as _;
use gitops_core::Object;
use gitops_core::appset::generators::{
    PullRequest, PullRequestProvider, PullRequests, ScmProvider, ScmRepositories, ScmRepository, SecretRef, SourceError,
};
use serde_json::Value;

/// The most pages one listing follows: a server that never stops paging is an error, not a
/// hang.
const MAX_PAGES: usize = 1000;

/// The largest response body read.
const MAX_BODY: u64 = 32 << 20;

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request did not complete (connection, TLS, timeout).
    #[error("GET {url}: {message}")]
    Request {
        /// The URL (no credentials in it).
        url: String,
        /// What failed.
        message: String,
    },
    /// The server answered with an error status.
    #[error("GET {url}: HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The server refuses more requests for now.
    #[error("GET {url}: HTTP {status}: rate limit exceeded; {when}")]
    RateLimited {
        /// The URL.
        url: String,
        /// The status code (403 or 429).
        status: u16,
        /// When to try again (`the limit resets at 2026-...Z`, `retry after 60 s`).
        when: String,
    },
    /// The answer is not the JSON the API documents.
    #[error("GET {url}: unexpected answer: {message}")]
    Decode {
        /// The URL.
        url: String,
        /// What did not fit.
        message: String,
    },
    /// A `tokenRef` or `passwordRef` does not resolve.
    #[error("Secret {namespace}/{name}, key {key:?}: {reason}")]
    Secret {
        /// The Secret's namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A provider setting cannot be used.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// Whether the server said the repository or organization does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Status { status: 404, .. })
    }
}

impl From<Error> for SourceError {
    fn from(e: Error) -> SourceError {
        SourceError { not_found: e.is_not_found(), message: e.to_string() }
    }
}

/// One answer: its status, the headers the pagers read, and the JSON body.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) link: Option<String>,
    pub(crate) next_page: Option<String>,
    pub(crate) body: Value,
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    None,
    /// `Authorization: <scheme> <token>` (`Bearer`, `token`, `Basic`).
    Authorization(&'static str, String),
    /// A header of its own (`PRIVATE-TOKEN`).
    Header(&'static str, String),
}

/// The HTTP side shared by the providers.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    agent: ureq::Agent,
    insecure: ureq::Agent,
}

impl Http {
    fn new(timeout: Duration) -> Http {
        let agent = |insecure: bool| -> ureq::Agent {
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .tls_config(ureq::tls::TlsConfig::builder().disable_verification(insecure).build())
                .user_agent(concat!("gitops/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        };
        Http { agent: agent(false), insecure: agent(true) }
    }

    /// GETs `url` and reads its JSON body. `Ok` for 2xx and 404 (callers decide what a
    /// missing object means); rate limits and other statuses are errors.
    pub(crate) fn get(&self, url: &str, auth: &Auth, extra: &[(&str, &str)], insecure: bool) -> Result<Page, Error> {
        let agent = if insecure { &self.insecure } else { &self.agent };
        let mut request = agent.get(url).header("Accept", "application/json");
        match auth {
            Auth::None => {}
            Auth::Authorization(scheme, token) => {
                request = request.header("Authorization", &format!("{scheme} {token}"));
            }
            Auth::Header(name, token) => request = request.header(*name, token),
        }
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        let mut response =
            request.call().map_err(|e| Error::Request { url: url.to_string(), message: e.to_string() })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string).filter(|v| !v.is_empty())
        };
        let link = header("link");
        let next_page = header("x-next-page");
        let remaining = header("x-ratelimit-remaining");
        let reset = header("x-ratelimit-reset");
        let retry_after = header("retry-after");
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| Error::Request { url: url.to_string(), message: format!("reading the answer: {e}") })?;
        let limited = status == 429 || (status == 403 && remaining.as_deref() == Some("0"));
        if limited {
            let when = match (reset.as_deref().and_then(|r| r.parse::<i64>().ok()), retry_after) {
                (Some(epoch), _) => format!("the limit resets at {}", gitops_core::time::rfc3339(epoch)),
                (None, Some(after)) => format!("retry after {after} s"),
                (None, None) => "try again later".to_string(),
            };
            return Err(Error::RateLimited { url: url.to_string(), status, when });
        }
        if status == 404 {
            return Ok(Page { status, link, next_page, body: Value::Null });
        }
        if !(200..300).contains(&status) {
            let mut body: String = text.chars().take(200).collect();
            body = body.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(Error::Status { url: url.to_string(), status, body });
        }
        let body = serde_json::from_str(&text)
            .map_err(|e| Error::Decode { url: url.to_string(), message: format!("not JSON: {e}") })?;
        Ok(Page { status, link, next_page, body })
    }

    /// Like [`Http::get`], with a 404 an error.
    pub(crate) fn get_found(
        &self,
        url: &str,
        auth: &Auth,
        extra: &[(&str, &str)],
        insecure: bool,
    ) -> Result<Page, Error> {
        let page = self.get(url, auth, extra, insecure)?;
        if page.status == 404 {
            return Err(Error::Status { url: url.to_string(), status: 404, body: "not found".into() });
        }
        Ok(page)
    }
}

/// Percent-encodes one path segment (a GitLab `group/project` becomes `group%2Fproject`).
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a repository path, keeping its `/`.
pub(crate) fn path(s: &str) -> String {
    s.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// The items of a page that must be a JSON list.
pub(crate) fn list(url: &str, body: Value) -> Result<Vec<Value>, Error> {
    match body {
        Value::Array(items) => Ok(items),
        other => Err(Error::Decode { url: url.to_string(), message: format!("expected a list, got {}", kind(&other)) }),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string field of an API object (empty when absent).
/// The URL of `file` in `repo` at its branch, on an API shaped as GitHub's (`base` ends in `/`).
pub(crate) fn contents_url(base: &str, repo: &ScmRepository, file: &str) -> String {
    format!(
        "{base}repos/{}/{}/contents/{}?ref={}",
        segment(&repo.organization),
        segment(&repo.repository),
        path(file),
        segment(&repo.branch)
    )
}

/// The pull requests of a listing shaped as GitHub's (Gitea's mirrors it) that carry every
/// label of `labels`.
pub(crate) fn github_shaped_pulls(url: &str, pulls: Vec<Value>, labels: &[String]) -> Result<Vec<PullRequest>, Error> {
    let mut out = Vec::new();
    for pull in pulls {
        let names: Vec<String> =
            pull.get("labels").and_then(Value::as_array).into_iter().flatten().map(|l| text(l, "/name")).collect();
        if !labels.iter().all(|l| names.contains(l)) {
            continue;
        }
        let number = pull
            .get("number")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::Decode { url: url.to_string(), message: "a pull request without a number".into() })?;
        out.push(PullRequest {
            number,
            title: text(&pull, "/title"),
            branch: text(&pull, "/head/ref"),
            target_branch: text(&pull, "/base/ref"),
            head_sha: text(&pull, "/head/sha"),
            labels: names,
            author: text(&pull, "/user/login"),
        });
    }
    Ok(out)
}

pub(crate) fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The clients of every supported provider, with the Secrets tokens are read from.
#[derive(Debug, Clone)]
pub struct Client {
    http: Http,
    secrets: Vec<Object>,
    namespace: String,
    env_tokens: bool,
}

impl Client {
    /// A client for an ApplicationSet in `namespace`, reading `tokenRef`s from `secrets`
    /// (Secret objects; one without a namespace counts as in `namespace`).
    pub fn new(namespace: &str, secrets: Vec<Object>) -> Client {
        Client {
            http: Http::new(Duration::from_secs(30)),
            secrets: secrets.into_iter().filter(|o| o.kind() == "Secret" && o.group().is_empty()).collect(),
            namespace: namespace.to_string(),
            env_tokens: true,
        }
    }

    /// Whether a provider without a `tokenRef` uses `GITHUB_TOKEN`, `GITLAB_TOKEN` or
    /// `GITEA_TOKEN` from the environment (on by default, as in Argo CD).
    pub fn env_tokens(mut self, on: bool) -> Client {
        self.env_tokens = on;
        self
    }

    /// Sets the timeout of every request (30 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Client {
        self.http = Http::new(timeout);
        self
    }

    /// The value of a Secret key, as `tokenRef` names it.
    pub fn secret(&self, r: &SecretRef) -> Result<String, Error> {
        let err = |reason: &str| Error::Secret {
            namespace: self.namespace.clone(),
            name: r.secret_name.clone(),
            key: r.key.clone(),
            reason: reason.to_string(),
        };
        let secret = self
            .secrets
            .iter()
            .rev()
            .find(|o| o.name() == r.secret_name && (o.namespace().is_empty() || o.namespace() == self.namespace))
            .ok_or_else(|| err("no such Secret was given"))?;
        let v = secret.value();
        if let Some(s) = v.pointer(&format!("/stringData/{}", r.key.replace('~', "~0").replace('/', "~1"))) {
            return s.as_str().map(|s| s.trim().to_string()).ok_or_else(|| err("the stringData value is not a string"));
        }
        let encoded = v
            .get("data")
            .and_then(|d| d.get(&r.key))
            .ok_or_else(|| err("the Secret has no such key"))?
            .as_str()
            .ok_or_else(|| err("the data value is not a string"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| err(&format!("the data value is not base64: {e}")))?;
        // A token pasted with its newline still authenticates, as Argo CD trims it too.
        String::from_utf8(bytes).map(|s| s.trim().to_string()).map_err(|_| err("the value is not UTF-8"))
    }

    /// The token of `r`, else the environment's `env` (when allowed), else none.
    fn token(&self, r: Option<&SecretRef>, env: &str) -> Result<String, Error> {
        match r {
            Some(r) => self.secret(r),
            None if self.env_tokens => Ok(std::env::var(env).unwrap_or_default()),
            None => Ok(String::new()),
        }
    }
}

impl PullRequests for Client {
    fn list(&self, provider: &PullRequestProvider) -> Result<Vec<PullRequest>, SourceError> {
        let result = match provider {
            PullRequestProvider::GitHub { api, owner, repo, token, labels } => self
                .token(token.as_ref(), "GITHUB_TOKEN")
                .and_then(|t| github::pull_requests(&self.http, api.as_deref(), &t, owner, repo, labels)),
            PullRequestProvider::GitLab { api, project, token, labels, state } => {
                self.token(token.as_ref(), "GITLAB_TOKEN").and_then(|t| {
                    gitlab::merge_requests(&self.http, api.as_deref(), &t, project, labels, state.as_deref())
                })
            }
            PullRequestProvider::Gitea { api, owner, repo, token, labels, insecure } => self
                .token(token.as_ref(), "GITEA_TOKEN")
                .and_then(|t| gitea::pull_requests(&self.http, api, &t, owner, repo, labels, *insecure)),
            PullRequestProvider::BitbucketServer { api, project, repo, auth } => bitbucket_server::auth(self, auth)
                .and_then(|a| bitbucket_server::pull_requests(&self.http, api, &a, project, repo)),
        };
        result.map_err(SourceError::from)
    }
}

impl ScmRepositories for Client {
    fn list(&self, provider: &ScmProvider, clone_protocol: &str) -> Result<Vec<ScmRepository>, SourceError> {
        let result = match provider {
            ScmProvider::GitHub { api, organization, token, .. } => self
                .token(token.as_ref(), "GITHUB_TOKEN")
                .and_then(|t| github::repositories(&self.http, api.as_deref(), &t, organization, clone_protocol)),
            ScmProvider::Gitea { api, owner, token, insecure, .. } => self
                .token(token.as_ref(), "GITEA_TOKEN")
                .and_then(|t| gitea::repositories(&self.http, api, &t, owner, clone_protocol, *insecure)),
        };
        result.map_err(SourceError::from)
    }

    fn branches(&self, provider: &ScmProvider, repo: &ScmRepository) -> Result<Vec<ScmRepository>, SourceError> {
        let result = match provider {
            ScmProvider::GitHub { api, token, all_branches, .. } => self
                .token(token.as_ref(), "GITHUB_TOKEN")
                .and_then(|t| github::branches(&self.http, api.as_deref(), &t, repo, *all_branches)),
            ScmProvider::Gitea { api, owner, token, all_branches, insecure } => self
                .token(token.as_ref(), "GITEA_TOKEN")
                .and_then(|t| gitea::branches(&self.http, api, &t, owner, repo, *all_branches, *insecure)),
        };
        result.map_err(SourceError::from)
    }

    fn has_path(&self, provider: &ScmProvider, repo: &ScmRepository, path: &str) -> Result<bool, SourceError> {
        let result = match provider {
            ScmProvider::GitHub { api, token, .. } => self
                .token(token.as_ref(), "GITHUB_TOKEN")
                .and_then(|t| github::has_path(&self.http, api.as_deref(), &t, repo, path)),
            ScmProvider::Gitea { api, token, insecure, .. } => self
                .token(token.as_ref(), "GITEA_TOKEN")
                .and_then(|t| gitea::has_path(&self.http, api, &t, repo, path, *insecure)),
        };
        result.map_err(SourceError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(yaml: &str) -> Object {
        gitops_core::manifest::parse("s.yaml", yaml).unwrap().remove(0)
    }

    #[test]
    fn secrets_resolve_from_data_or_string_data_in_the_sets_namespace() {
        let client = Client::new(
            "argocd",
            vec![
                secret(
                    "apiVersion: v1\nkind: Secret\nmetadata: {name: gh, namespace: argocd}\ndata: {token: dG9rZW4tMQo=}\n",
                ),
                secret("apiVersion: v1\nkind: Secret\nmetadata: {name: gl}\nstringData: {token: tok-2}\n"),
                secret(
                    "apiVersion: v1\nkind: Secret\nmetadata: {name: other, namespace: elsewhere}\nstringData: {token: x}\n",
                ),
            ],
        );
        let r = |name: &str, key: &str| SecretRef { secret_name: name.into(), key: key.into() };
        assert_eq!(client.secret(&r("gh", "token")).unwrap(), "token-1");
        assert_eq!(client.secret(&r("gl", "token")).unwrap(), "tok-2");
        let e = client.secret(&r("other", "token")).unwrap_err();
        assert_eq!(e.to_string(), "Secret argocd/other, key \"token\": no such Secret was given");
        let e = client.secret(&r("gh", "nope")).unwrap_err();
        assert_eq!(e.to_string(), "Secret argocd/gh, key \"nope\": the Secret has no such key");
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("group/sub project"), "group%2Fsub%20project");
        assert_eq!(path("a b/c.yaml"), "a%20b/c.yaml");
    }
}
