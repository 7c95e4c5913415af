//! The ApplicationSet plugin generator's client: `POST {baseUrl}/api/v1/getparams.execute`
//! with the bearer token read from the Secret the plugin's ConfigMap names, as Argo CD's
//! ApplicationSet controller calls it (JSON body, `requestTimeout` seconds or 30 s).
//!
//! Errors name the URL and the HTTP status (with the answer's `message` or `error`, else the
//! start of its body) and never the token.

use std::time::Duration;

use gitops_core::appset::generators::{PluginCall, Plugins, SourceError};
use serde_json::Value;

use super::{Client, MAX_BODY};

/// Why a plugin call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token's Secret does not resolve.
    #[error("ConfigMap {config_map}: token: {source}")]
    Token {
        /// The plugin's ConfigMap.
        config_map: String,
        /// Why the Secret key does not resolve.
        source: super::Error,
    },
    /// The request did not complete (connection, timeout).
    #[error("POST {url}: {message}")]
    Request {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The plugin answered with an error status.
    #[error("POST {url}: HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The answer's `message` or `error`, else the start of its body.
        message: String,
    },
    /// The answer is not JSON.
    #[error("POST {url}: the answer is not JSON: {message}")]
    Decode {
        /// The URL.
        url: String,
        /// The parse error.
        message: String,
    },
}

/// Argo CD's default plugin request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// Makes one plugin call and returns the answer's JSON (`null` for an empty answer, which
    /// Argo CD reads as no parameter sets).
    pub fn plugin_call(&self, call: &PluginCall) -> Result<Value, Error> {
        let token =
            self.secret(&call.token).map_err(|source| Error::Token { config_map: call.config_map.clone(), source })?;
        let url = call.url();
        let timeout = call.timeout_seconds.map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        let body = serde_json::to_string(&call.body).expect("a JSON value always serializes");
        let mut request = self
            .http
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .config()
            .timeout_global(Some(timeout))
            .build();
        // Argo CD sends no Authorization header for an empty token.
        if !token.is_empty() {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let mut response =
            request.send(body).map_err(|e| Error::Request { url: url.clone(), message: e.to_string() })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| Error::Request { url: url.clone(), message: format!("reading the answer: {e}") })?;
        if !(200..300).contains(&status) {
            let parsed: Option<Value> = serde_json::from_str(&text).ok();
            let said = parsed
                .as_ref()
                .and_then(|v| v.get("message").or_else(|| v.get("error")))
                .and_then(Value::as_str)
                .map(str::to_string);
            let message = said.unwrap_or_else(|| {
                let start: String = text.chars().take(200).collect();
                start.split_whitespace().collect::<Vec<_>>().join(" ")
            });
            return Err(Error::Status { url, status, message });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| Error::Decode { url, message: e.to_string() })
    }
}

impl Plugins for Client {
    fn call(&self, call: &PluginCall) -> Result<Value, SourceError> {
        self.plugin_call(call).map_err(|e| SourceError::other(e.to_string()))
    }
}
