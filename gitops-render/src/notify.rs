//! Sending notifications: the requests `gitops_core::notify` builds, made over blocking HTTP(S)
//! (ureq, as chart repositories and SCM APIs are reached), through the provider's proxy and
//! with its CA, retried with backoff as Flux's retrying client does (connection errors, 429
//! and 5xx other than 501; 4 retries, waits doubling from 1 s up to 30 s by default). A
//! failure is an error value naming the URL with any token masked, never a panic.
//!
//! This lives on the desired side next to the chart-repository and SCM clients: it is the
//! same outbound HTTP, and a reconcile loop reaches it through whatever seam embeds it (the
//! CLI's `gitops notify send` today).

use std::sync::Arc;
use std::time::Duration;

use gitops_core::notify::argo::service::{self, GitHubApp, GitHubStep, Outgoing, Reply, SlackThreads};
use gitops_core::notify::flux::ProviderConfig;
use gitops_core::notify::payload::{self, Delivery, HttpRequest};

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The provider's proxy or CA cannot be used.
    #[error("{0}")]
    Setup(String),
    /// No response after every attempt.
    #[error("{method} {url}: {reason} (after {attempts} attempt(s))")]
    Unreachable {
        /// The method.
        method: String,
        /// The URL (token masked).
        url: String,
        /// The last error.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The service answered with a failure status.
    #[error("{method} {url}: HTTP {status}: {body} (after {attempts} attempt(s))")]
    Status {
        /// The method.
        method: String,
        /// The URL (token masked).
        url: String,
        /// The status.
        status: u16,
        /// The start of the response body.
        body: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// Slack's Web API answered `ok: false`.
    #[error("Slack responded with error: {0}")]
    Slack(String),
    /// A Teams webhook answered something else than `1` or nothing.
    #[error("teams webhook post error: {0}")]
    Teams(String),
    /// The SMTP exchange failed.
    #[error("SMTP {server}: {reason}")]
    Smtp {
        /// `host:port`.
        server: String,
        /// What the server said, or why the exchange stopped.
        reason: String,
    },
    /// A GitHub App token could not be had.
    #[error("GitHub App {app}: {reason}")]
    GitHubApp {
        /// The app ID.
        app: String,
        /// Why.
        reason: String,
    },
    /// A GitHub reply is not what the API returns (a list, an id).
    #[error("{url}: {reason}")]
    GitHubReply {
        /// The URL.
        url: String,
        /// What is wrong with the reply.
        reason: String,
    },
    /// A commit status listing is not the JSON list the forge returns.
    #[error("{url}: the commit statuses are not a JSON list: {reason}")]
    Listing {
        /// The URL (token masked).
        url: String,
        /// Why.
        reason: String,
    },
}

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The requests made, with the status each got (`METHOD URL -> STATUS`), tokens masked.
    pub requests: Vec<String>,
    /// Set when nothing needed sending (a commit status already there, a skipped event).
    pub skipped: Option<String>,
}

mod smtp;

/// How requests are retried and timed out, and which CAs Argo CD services are trusted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Retries after the first attempt (Flux: 4).
    pub retries: u32,
    /// The first wait; each next one doubles (Flux: 1 s).
    pub backoff: Duration,
    /// The longest wait (Flux: 30 s).
    pub max_backoff: Duration,
    /// The timeout of one request (a Provider's `spec.timeout`, 20 s by default).
    pub timeout: Duration,
    /// PEM certificates trusted instead of the bundled Mozilla roots by Argo CD services (HTTP
    /// and SMTP), as Go's `SSL_CERT_FILE` replaces the system roots of Argo CD's controller.
    /// Flux Providers have their own (`certSecretRef`).
    pub ca_pem: Option<Arc<str>>,
}

impl Default for Sender {
    fn default() -> Sender {
        Sender {
            retries: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(20),
            ca_pem: None,
        }
    }
}

impl Sender {
    /// Makes the requests of `delivery` for `provider`.
    pub fn deliver(&self, provider: &ProviderConfig, delivery: &Delivery) -> Result<Delivered, SendError> {
        let mask = |text: &str| mask(text, &provider.token);
        let mut done = Delivered { requests: Vec::new(), skipped: None };
        match delivery {
            Delivery::Skip(reason) => {
                done.skipped = Some(reason.clone());
                Ok(done)
            }
            Delivery::Post { request, slack_api } => {
                let agent = self.agent(&provider.proxy, provider.ca_pem.as_deref())?;
                let (_, body) = self.call(&agent, request, &mask, &mut done)?;
                if *slack_api {
                    check_slack(&body)?;
                }
                Ok(done)
            }
            Delivery::CommitStatus { list, create, status } => {
                let agent = self.agent(&provider.proxy, provider.ca_pem.as_deref())?;
                let (_, body) = self.call(&agent, list, &mask, &mut done)?;
                let listed: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| SendError::Listing { url: mask(&list.url), reason: e.to_string() })?;
                if !listed.is_array() {
                    return Err(SendError::Listing { url: mask(&list.url), reason: "not a list".into() });
                }
                if payload::already_set(status, &listed) {
                    done.skipped = Some(format!("commit status {} is already {}", status.context, status.state));
                    return Ok(done);
                }
                self.call(&agent, create, &mask, &mut done)?;
                Ok(done)
            }
        }
    }

    /// Sends what an Argo CD notification service builds (`gitops_core::notify::argo::service`):
    /// HTTP requests with this sender's retries, mails over SMTP, GitHub requests with a GitHub
    /// App installation token. `secrets` are masked in what is reported; `now_unix` dates the
    /// GitHub App's JWT. `threads` are the Slack threads of the service, updated by threaded messages.
    pub fn send_argo(
        &self,
        outgoing: &Outgoing,
        secrets: &[String],
        now_unix: i64,
        threads: &mut SlackThreads,
    ) -> Result<Delivered, SendError> {
        let mask = |text: &str| secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |t, s| mask(&t, s));
        let mut done = Delivered { requests: Vec::new(), skipped: None };
        match outgoing {
            Outgoing::Http { request, reply, insecure_skip_verify } => {
                let agent = self.agent_with("", self.argo_ca(), *insecure_skip_verify)?;
                let (_, body) = self.call(&agent, request, &mask, &mut done)?;
                match reply {
                    Reply::Status => {}
                    Reply::SlackApi => check_slack(&body)?,
                    Reply::Teams => {
                        let text = String::from_utf8_lossy(&body);
                        if !text.is_empty() && text != "1" {
                            return Err(SendError::Teams(mask(&text)));
                        }
                    }
                }
                Ok(done)
            }
            Outgoing::SlackThread(thread) => {
                let agent = self.agent_with("", self.argo_ca(), thread.insecure_skip_verify)?;
                let (post, update) = thread.requests(threads);
                if let Some(post) = post {
                    let (_, body) = self.call(&agent, &post, &mask, &mut done)?;
                    check_slack(&body)?;
                    let reply = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    thread.record_post(threads, &reply);
                }
                if let Some(update) = update {
                    let (_, body) = self.call(&agent, &update, &mask, &mut done)?;
                    check_slack(&body)?;
                }
                Ok(done)
            }
            Outgoing::Email(email) => {
                let session = smtp::send(email, self.ca_pem.as_deref(), self.timeout)?;
                let tls = if session.tls { " over TLS" } else { "" };
                let auth = session.auth.map(|m| format!(" AUTH {m}")).unwrap_or_default();
                done.requests.push(format!(
                    "SMTP {}:{}{tls}{auth} MAIL FROM {} RCPT TO {}",
                    email.host, email.port, email.from, email.to
                ));
                Ok(done)
            }
            Outgoing::GitHub { app, steps, insecure_skip_verify } => {
                let agent = self.agent_with("", self.argo_ca(), *insecure_skip_verify)?;
                let token = self.github_token(&agent, app, now_unix, &mask, &mut done)?;
                let mask = |text: &str| mask(&text.replace(&token, "*****"));
                let mut call = |request: &HttpRequest| -> Result<serde_json::Value, SendError> {
                    let mut request = request.clone();
                    request.headers.push(("Authorization".into(), format!("token {token}")));
                    let (_, body) = self.call(&agent, &request, &mask, &mut done)?;
                    // Some replies are empty or not JSON; only the steps reading them care.
                    Ok(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
                };
                for step in steps {
                    github_step(step, &mut call)?;
                }
                Ok(done)
            }
        }
    }

    /// An installation token: a JWT signed with the app's key, exchanged at `token_url`.
    fn github_token(
        &self,
        agent: &ureq::Agent,
        app: &GitHubApp,
        now_unix: i64,
        mask: &dyn Fn(&str) -> String,
        done: &mut Delivered,
    ) -> Result<String, SendError> {
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        use rsa::pkcs8::DecodePrivateKey as _;
        use rsa::signature::{SignatureEncoding as _, Signer as _};
        let fail = |reason: String| SendError::GitHubApp { app: app.app_id.clone(), reason };
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(&app.private_key)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(&app.private_key))
            .map_err(|e| fail(format!("privateKey is not an RSA private key in PEM: {e}")))?;
        let input = service::github_jwt_input(&app.app_id, now_unix);
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
        let signature = signer.try_sign(input.as_bytes()).map_err(|e| fail(format!("signing the JWT: {e}")))?;
        use base64::Engine as _;
        let jwt = format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        let request = HttpRequest {
            method: "POST".into(),
            url: app.token_url.clone(),
            headers: vec![
                ("Authorization".into(), format!("Bearer {jwt}")),
                ("Accept".into(), "application/vnd.github+json".into()),
            ],
            body: Vec::new(),
        };
        let mask = |text: &str| mask(&text.replace(&jwt, "*****"));
        let (_, body) = self.call(agent, &request, &mask, done)?;
        let reply: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| fail(format!("the token reply is not JSON: {e}")))?;
        reply
            .get("token")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| fail("the token reply has no token".into()))
    }

    fn agent(&self, proxy: &str, ca_pem: Option<&str>) -> Result<ureq::Agent, SendError> {
        self.agent_with(proxy, ca_pem.map(|pem| ("certSecretRef", pem)), false)
    }

    /// The CAs of Argo CD services, named for errors.
    fn argo_ca(&self) -> Option<(&str, &str)> {
        self.ca_pem.as_deref().map(|pem| ("the trusted CA certificates", pem))
    }

    /// An agent through `proxy`, trusting only `ca` (its name for errors, its PEM) when given.
    fn agent_with(&self, proxy: &str, ca: Option<(&str, &str)>, insecure: bool) -> Result<ureq::Agent, SendError> {
        let mut tls = ureq::tls::TlsConfig::builder().disable_verification(insecure);
        if let Some((name, pem)) = ca {
            let certs = pem_certificates(pem).map_err(|e| SendError::Setup(format!("{name}: {e}")))?;
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .user_agent(concat!("gitops/", env!("CARGO_PKG_VERSION")));
        if !proxy.is_empty() {
            let p = ureq::Proxy::new(proxy).map_err(|e| SendError::Setup(format!("proxy {proxy:?}: {e}")))?;
            config = config.proxy(Some(p));
        }
        Ok(config.build().new_agent())
    }

    /// One request, retried; a final status outside 2xx is an error: (status, body).
    fn call(
        &self,
        agent: &ureq::Agent,
        request: &HttpRequest,
        mask: &dyn Fn(&str) -> String,
        done: &mut Delivered,
    ) -> Result<(u16, Vec<u8>), SendError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = once(agent, request);
            let retry = match &outcome {
                Ok((status, _)) => *status == 429 || (*status >= 500 && *status != 501),
                Err(_) => true,
            };
            if let Ok((status, _)) = &outcome {
                done.requests.push(format!("{} {} -> {status}", request.method, mask(&request.url)));
            }
            if !retry || attempt > self.retries {
                return match outcome {
                    Ok((status, body)) => {
                        check_status(request, status, &body, mask, attempt)?;
                        Ok((status, body))
                    }
                    Err(reason) => Err(SendError::Unreachable {
                        method: request.method.clone(),
                        url: mask(&request.url),
                        reason: mask(&reason),
                        attempts: attempt,
                    }),
                };
            }
            let wait = self.backoff.saturating_mul(1 << (attempt - 1).min(16)).min(self.max_backoff);
            std::thread::sleep(wait);
        }
    }
}

/// One step of the `github` service, each request made by `call` (which gives the reply's JSON).
fn github_step(
    step: &GitHubStep,
    call: &mut dyn FnMut(&HttpRequest) -> Result<serde_json::Value, SendError>,
) -> Result<(), SendError> {
    let bad = |request: &HttpRequest, reason: String| SendError::GitHubReply { url: request.url.clone(), reason };
    match step {
        GitHubStep::Request(request) => {
            call(request)?;
        }
        GitHubStep::Deployment { list, create, deployments_url, status } => {
            let listed = call(list)?;
            let request = match service::deployment_status(deployments_url, status, &listed, None) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    let created = call(create)?;
                    service::deployment_status(deployments_url, status, &listed, Some(&created))
                        .map_err(|e| bad(create, e))?
                        .ok_or_else(|| bad(create, "no deployment was created".into()))?
                }
                Err(e) => return Err(bad(list, e)),
            };
            call(&request)?;
        }
        GitHubStep::PullRequestComment { pulls, repo_url, body, tag } => {
            let listed = call(pulls)?;
            for number in service::pull_request_numbers(&listed).map_err(|e| bad(pulls, e))? {
                let comments = match tag {
                    Some(_) => Some(call(&service::pull_request_comments(repo_url, number))?),
                    None => None,
                };
                call(&service::pull_request_comment(repo_url, number, body, tag.as_deref(), comments.as_ref()))?;
            }
        }
    }
    Ok(())
}

/// The certificates of a PEM CA bundle; none is an error.
fn pem_certificates(pem: &str) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let certs = crate::chart_repo::pem_certificates(pem).map_err(|e| format!("the CA does not parse: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate in the CA".into());
    }
    Ok(certs)
}

fn once(agent: &ureq::Agent, request: &HttpRequest) -> Result<(u16, Vec<u8>), String> {
    let mut builder = ureq::http::Request::builder().method(request.method.as_str()).uri(request.url.as_str());
    for (k, v) in &request.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let built = builder.body(request.body.clone()).map_err(|e| e.to_string())?;
    let mut response = agent.run(built).map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    // Replies are small; a cap keeps a hostile endpoint from filling memory.
    let body = response.body_mut().with_config().limit(1 << 20).read_to_vec().map_err(|e| e.to_string())?;
    Ok((status, body))
}

fn check_status(
    request: &HttpRequest,
    status: u16,
    body: &[u8],
    mask: &dyn Fn(&str) -> String,
    attempts: u32,
) -> Result<(), SendError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_string();
    Err(SendError::Status {
        method: request.method.clone(),
        url: mask(&request.url),
        status,
        body: mask(&text),
        attempts,
    })
}

fn check_slack(body: &[u8]) -> Result<(), SendError> {
    let reply: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| SendError::Slack(format!("unable to read the response: {e}")))?;
    if reply.get("ok").and_then(serde_json::Value::as_bool) == Some(true) {
        return Ok(());
    }
    Err(SendError::Slack(
        reply.get("error").and_then(serde_json::Value::as_str).unwrap_or("no error given").to_string(),
    ))
}

/// `text` with `token` replaced by `*****`, as Flux masks errors.
fn mask(text: &str, token: &str) -> String {
    if token.is_empty() { text.to_string() } else { text.replace(token, "*****") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_masked() {
        assert_eq!(mask("http://h/t0k/x", "t0k"), "http://h/*****/x");
        assert_eq!(mask("x", ""), "x");
    }

    #[test]
    fn slack_replies_are_read() {
        assert!(check_slack(br#"{"ok": true}"#).is_ok());
        assert_eq!(
            check_slack(br#"{"ok": false, "error": "channel_not_found"}"#).unwrap_err().to_string(),
            "Slack responded with error: channel_not_found"
        );
        assert!(check_slack(b"ok").is_err());
    }
}
