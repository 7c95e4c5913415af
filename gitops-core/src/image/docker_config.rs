//! Registry credentials from a docker-registry Secret (`kubernetes.io/dockerconfigjson`): the
//! `auths` of its `.dockerconfigjson`, looked up by registry host as Docker and the kubelet
//! do (`https://index.docker.io/v1/` and friends are Docker Hub; a scheme and a path after
//! the host are ignored).

use base64::Engine;
use serde_json::Value;

/// A username and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// A `.dockerconfigjson` that does not read; the message never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not JSON, or no `auths` object.
    #[error(".dockerconfigjson: {0}")]
    Format(String),
    /// An entry of `auths` is unusable.
    #[error(".dockerconfigjson: auths[{registry:?}]: {reason}")]
    Entry {
        /// The `auths` key.
        registry: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The host an `auths` key or a registry name stands for, Docker Hub's names made one.
pub fn normalize_host(key: &str) -> String {
    let rest = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".to_owned(),
        _ => host,
    }
}

/// The credentials `auths` holds for `registry` (`host[:port]`), if any: `auth` (base64 of
/// `user:password`) or else `username` and `password`.
pub fn credentials_for(config_json: &str, registry: &str) -> Result<Option<Credentials>, Error> {
    let config: Value = serde_json::from_str(config_json).map_err(|e| Error::Format(format!("not JSON: {e}")))?;
    let auths =
        config.get("auths").and_then(Value::as_object).ok_or_else(|| Error::Format("no `auths` object".into()))?;
    let wanted = normalize_host(registry);
    for (key, entry) in auths {
        if normalize_host(key) != wanted {
            continue;
        }
        let entry_error = |reason| Error::Entry { registry: key.clone(), reason };
        let entry = entry.as_object().ok_or_else(|| entry_error("must be an object"))?;
        if let Some(auth) = entry.get("auth").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| entry_error("`auth` is not base64"))?;
            let decoded = String::from_utf8(decoded).map_err(|_| entry_error("`auth` is not UTF-8"))?;
            let (username, password) =
                decoded.split_once(':').ok_or_else(|| entry_error("`auth` is not user:password"))?;
            return Ok(Some(Credentials { username: username.into(), password: password.into() }));
        }
        let field = |name| entry.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
        let (username, password) = (field("username"), field("password"));
        if username.is_empty() && password.is_empty() {
            return Err(entry_error("neither `auth` nor `username`/`password`"));
        }
        return Ok(Some(Credentials { username, password }));
    }
    Ok(None)
}

/// The `.dockerconfigjson` of a docker-registry Secret object (`data`, base64, or
/// `stringData`).
pub fn from_secret(secret: &Value) -> Result<String, Error> {
    if let Some(text) = secret.pointer("/stringData/.dockerconfigjson").and_then(Value::as_str) {
        return Ok(text.to_owned());
    }
    let data = secret
        .pointer("/data/.dockerconfigjson")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Format("the Secret has no data.\".dockerconfigjson\"".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| Error::Format("data.\".dockerconfigjson\" is not base64".into()))?;
    String::from_utf8(bytes).map_err(|_| Error::Format("data.\".dockerconfigjson\" is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn credentials_are_found_by_host() {
        let config = json!({"auths": {
            "https://index.docker.io/v1/": {"auth": b64("hub:secret")},
            "127.0.0.1:5000": {"username": "team", "password": "p:w"},
            "http://registry.local/v2/": {"auth": b64("local:pw")},
            "broken.io": {"auth": "!!!"},
        }})
        .to_string();
        let get = |r| credentials_for(&config, r);
        assert_eq!(get("docker.io").unwrap().unwrap().username, "hub");
        assert_eq!(get("registry-1.docker.io").unwrap().unwrap().password, "secret");
        assert_eq!(get("127.0.0.1:5000").unwrap().unwrap().password, "p:w");
        assert_eq!(get("REGISTRY.local").unwrap().unwrap().username, "local");
        assert_eq!(get("127.0.0.1:5001").unwrap(), None);
        assert_eq!(get("ghcr.io").unwrap(), None);
        let err = get("broken.io").unwrap_err().to_string();
        assert!(err.contains("not base64") && !err.contains("!!!"), "{err}");
        assert!(credentials_for("{}", "x").is_err());
        assert!(credentials_for("nope", "x").is_err());
        assert!(!format!("{:?}", get("docker.io").unwrap().unwrap()).contains("secret"));
    }

    #[test]
    fn secrets_hold_the_config_in_data_or_string_data() {
        let text = r#"{"auths":{}}"#;
        assert_eq!(from_secret(&json!({"data": {".dockerconfigjson": b64(text)}})).unwrap(), text);
        assert_eq!(from_secret(&json!({"stringData": {".dockerconfigjson": text}})).unwrap(), text);
        assert!(from_secret(&json!({"data": {}})).is_err());
        assert!(from_secret(&json!({"data": {".dockerconfigjson": "%%"}})).is_err());
    }
}
