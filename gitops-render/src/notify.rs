//! Sending notifications: the requests `gitops_core::notify` builds, made over blocking HTTP(S)
//! (ureq, as chart repositories and SCM APIs are reached), through the provider's proxy and
//! with its CA, retried with backoff as Flux's retrying client does (connection errors, 429
//! and 5xx other than 501; 4 retries, waits doubling from 1 s up to 30 s by default). A
//! failure is an error value naming the URL with any token masked, never a panic.
//!
//! This lives on the desired side next to the chart-repository and SCM clients: it is the
//! same outbound HTTP, and a reconcile loop reaches it through whatever seam embeds it (the
//! CLI's `gitops notify send` today).

use std::time::Duration;

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

/// How requests are retried and timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    /// Retries after the first attempt (Flux: 4).
    pub retries: u32,
    /// The first wait; each next one doubles (Flux: 1 s).
    pub backoff: Duration,
    /// The longest wait (Flux: 30 s).
    pub max_backoff: Duration,
    /// The timeout of one request (a Provider's `spec.timeout`, 20 s by default).
    pub timeout: Duration,
}

impl Default for Sender {
    fn default() -> Sender {
        Sender {
            retries: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(20),
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

    fn agent(&self, proxy: &str, ca_pem: Option<&str>) -> Result<ureq::Agent, SendError> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(pem) = ca_pem {
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(pem.as_bytes()) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                    Ok(_) => {}
                    Err(e) => return Err(SendError::Setup(format!("certSecretRef: the CA does not parse: {e}"))),
                }
            }
            if certs.is_empty() {
                return Err(SendError::Setup("certSecretRef: no PEM certificate in the CA".into()));
            }
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
