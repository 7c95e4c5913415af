//! The `config` of an Argo CD cluster secret: how to reach and authenticate to the cluster
//! (Argo CD's `ClusterConfig`, `TLSClientConfig`, `ExecProviderConfig`, `AWSAuthConfig`).
//!
//! The JSON is read field by field rather than through a serde derive: serde_json's type
//! errors quote the offending value (`invalid type: string "…"`), and a cluster config holds
//! tokens, passwords and keys that must never reach a log. Errors here name the field and the
//! JSON types only.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

/// Why a cluster config does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not JSON at all (the reason names a position, never the text).
    #[error("is not JSON: {0}")]
    NotJson(String),
    /// A field holds a JSON value of the wrong type.
    #[error("holds {found} at {path}, where Argo CD expects {expected}")]
    WrongType {
        /// Dotted path of the field, e.g. `tlsClientConfig.insecure`.
        path: String,
        /// The JSON type Argo CD expects there.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A byte field (`caData`, `certData`, `keyData`) is not base64, as Go's JSON requires.
    #[error("holds text that is not base64 at {0} (Go's JSON encodes byte fields as base64)")]
    NotBase64(String),
}

/// A value that must not be printed: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Sensitive<T> {
        Sensitive(value)
    }

    /// The secret value, for the code that hands it to a client.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to reach and authenticate to a cluster (Argo CD's `ClusterConfig`). Absent fields are
/// empty, as Go's zero values are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterConfig {
    /// `username` for basic authentication.
    pub username: String,
    /// `password` for basic authentication.
    pub password: Sensitive<String>,
    /// `bearerToken`, e.g. a service account token.
    pub bearer_token: Sensitive<String>,
    /// `tlsClientConfig`.
    pub tls_client_config: TlsClientConfig,
    /// `awsAuthConfig`, for EKS clusters (`argocd-k8s-auth aws`).
    pub aws_auth_config: Option<AwsAuthConfig>,
    /// `execProviderConfig`, a client-go exec credential plugin.
    pub exec_provider_config: Option<ExecProviderConfig>,
    /// `disableCompression`.
    pub disable_compression: bool,
    /// `proxyUrl`.
    pub proxy_url: String,
}

/// TLS settings of a cluster connection (Argo CD's `TLSClientConfig`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsClientConfig {
    /// `insecure`: skip verification of the server certificate.
    pub insecure: bool,
    /// `serverName` for SNI and certificate checks.
    pub server_name: String,
    /// `caData`, PEM bytes (base64 in the JSON).
    pub ca_data: Vec<u8>,
    /// `certData`, PEM bytes of the client certificate (base64 in the JSON).
    pub cert_data: Vec<u8>,
    /// `keyData`, PEM bytes of the client key (base64 in the JSON).
    pub key_data: Sensitive<Vec<u8>>,
}

/// EKS authentication (Argo CD's `AWSAuthConfig`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AwsAuthConfig {
    /// `clusterName`.
    pub cluster_name: String,
    /// `roleARN`.
    pub role_arn: String,
    /// `profile`.
    pub profile: String,
}

/// A client-go exec credential plugin (Argo CD's `ExecProviderConfig`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecProviderConfig {
    /// `command`.
    pub command: String,
    /// `args`.
    pub args: Vec<String>,
    /// `env`, passed to the command.
    pub env: BTreeMap<String, String>,
    /// `apiVersion` of the `ExecCredential` the plugin returns.
    pub api_version: String,
    /// `installHint`, shown when the command is missing.
    pub install_hint: String,
}

impl ClusterConfig {
    /// Reads the JSON text of a secret's `config`. Empty text is an empty config, as in
    /// Argo CD's `SecretToCluster`.
    pub fn from_json(text: &[u8]) -> Result<ClusterConfig, ConfigError> {
        if text.is_empty() {
            return Ok(ClusterConfig::default());
        }
        let value: Value = serde_json::from_slice(text).map_err(|e| ConfigError::NotJson(position_only(&e)))?;
        let root = Fields::new(&value, "")?;
        let tls = match root.object("tlsClientConfig")? {
            Some(t) => TlsClientConfig {
                insecure: t.bool("insecure")?,
                server_name: t.string("serverName")?,
                ca_data: t.bytes("caData")?,
                cert_data: t.bytes("certData")?,
                key_data: Sensitive(t.bytes("keyData")?),
            },
            None => TlsClientConfig::default(),
        };
        let aws = match root.object("awsAuthConfig")? {
            Some(a) => Some(AwsAuthConfig {
                cluster_name: a.string("clusterName")?,
                role_arn: a.string("roleARN")?,
                profile: a.string("profile")?,
            }),
            None => None,
        };
        let exec = match root.object("execProviderConfig")? {
            Some(x) => Some(ExecProviderConfig {
                command: x.string("command")?,
                args: x.strings("args")?,
                env: x.string_map("env")?,
                api_version: x.string("apiVersion")?,
                install_hint: x.string("installHint")?,
            }),
            None => None,
        };
        Ok(ClusterConfig {
            username: root.string("username")?,
            password: Sensitive(root.string("password")?),
            bearer_token: Sensitive(root.string("bearerToken")?),
            tls_client_config: tls,
            aws_auth_config: aws,
            exec_provider_config: exec,
            disable_compression: root.bool("disableCompression")?,
            proxy_url: root.string("proxyUrl")?,
        })
    }
}

/// serde_json's syntax errors name a position and what was expected, never the text; its
/// data errors may quote a value, so only their position is kept.
fn position_only(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => e.to_string(),
        _ => format!("invalid value at line {} column {}", e.line(), e.column()),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One JSON object of the config and its dotted path, for error messages.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, path: &str) -> Result<Fields<'a>, ConfigError> {
        match value {
            Value::Object(map) => {
                Ok(Fields { map, prefix: if path.is_empty() { String::new() } else { format!("{path}.") } })
            }
            other => Err(ConfigError::WrongType {
                path: if path.is_empty() { "the top level".to_string() } else { path.to_string() },
                expected: "an object",
                found: type_name(other),
            }),
        }
    }

    fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The field's value; `null` counts as absent, as Go's decoder leaves a zero value.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, expected: &'static str, found: &Value) -> ConfigError {
        ConfigError::WrongType { path: self.path(key), expected, found: type_name(found) }
    }

    fn string(&self, key: &str) -> Result<String, ConfigError> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.wrong(key, "a boolean", other)),
        }
    }

    fn bytes(&self, key: &str) -> Result<Vec<u8>, ConfigError> {
        let text = self.string(key)?;
        // Go's decoder skips line breaks inside base64 text; PEM pasted with them still reads.
        let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| ConfigError::NotBase64(self.path(key)))
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(ConfigError::WrongType {
                        path: format!("{}[{i}]", self.path(key)),
                        expected: "a string",
                        found: type_name(other),
                    }),
                })
                .collect(),
            Some(other) => Err(self.wrong(key, "an array of strings", other)),
        }
    }

    fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, ConfigError> {
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(value) => {
                let fields = Fields::new(value, &self.path(key))?;
                fields.map.keys().map(|k| Ok((k.clone(), fields.string(k)?))).collect()
            }
        }
    }

    fn object(&self, key: &str) -> Result<Option<Fields<'a>>, ConfigError> {
        self.get(key).map(|v| Fields::new(v, &self.path(key))).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field_and_decodes_byte_fields() {
        let json = br#"{
            "username": "admin", "password": "pw", "bearerToken": "tok",
            "tlsClientConfig": {"insecure": true, "serverName": "api", "caData": "Q0E=",
                                "certData": "Q0VS\nVA==", "keyData": "S0VZ"},
            "awsAuthConfig": {"clusterName": "eks", "roleARN": "arn:aws:iam::1:role/x", "profile": "p"},
            "execProviderConfig": {"command": "gke-auth", "args": ["--x"], "env": {"A": "1"},
                                   "apiVersion": "client.authentication.k8s.io/v1", "installHint": "install it"},
            "disableCompression": true, "proxyUrl": "http://proxy:3128", "unknownField": 1
        }"#;
        let c = ClusterConfig::from_json(json).unwrap();
        assert_eq!(c.username, "admin");
        assert_eq!(c.password.expose(), "pw");
        assert_eq!(c.bearer_token.expose(), "tok");
        assert!(c.tls_client_config.insecure);
        assert_eq!(c.tls_client_config.server_name, "api");
        assert_eq!(c.tls_client_config.ca_data, b"CA");
        assert_eq!(c.tls_client_config.cert_data, b"CERT");
        assert_eq!(c.tls_client_config.key_data.expose(), b"KEY");
        assert_eq!(c.aws_auth_config.as_ref().unwrap().role_arn, "arn:aws:iam::1:role/x");
        let exec = c.exec_provider_config.as_ref().unwrap();
        assert_eq!((exec.command.as_str(), exec.args.as_slice()), ("gke-auth", &["--x".to_string()][..]));
        assert_eq!(exec.env.get("A").map(String::as_str), Some("1"));
        assert_eq!(exec.install_hint, "install it");
        assert!(c.disable_compression);
        assert_eq!(c.proxy_url, "http://proxy:3128");
        assert_eq!(ClusterConfig::from_json(b"").unwrap(), ClusterConfig::default());
    }

    #[test]
    fn errors_name_the_field_and_never_the_value() {
        let e = ClusterConfig::from_json(br#"{"tlsClientConfig": {"insecure": "s3cr3t"}}"#).unwrap_err();
        assert_eq!(e.to_string(), "holds a string at tlsClientConfig.insecure, where Argo CD expects a boolean");
        let e = ClusterConfig::from_json(br#"{"bearerToken": 12345}"#).unwrap_err();
        assert_eq!(e.to_string(), "holds a number at bearerToken, where Argo CD expects a string");
        assert!(!e.to_string().contains("12345"));
        let e = ClusterConfig::from_json(br#"{"tlsClientConfig": {"keyData": "not base64!"}}"#).unwrap_err();
        assert!(e.to_string().starts_with("holds text that is not base64 at tlsClientConfig.keyData"), "{e}");
        let e = ClusterConfig::from_json(br#"{"execProviderConfig": {"args": ["a", 1]}}"#).unwrap_err();
        assert_eq!(e.to_string(), "holds a number at execProviderConfig.args[1], where Argo CD expects a string");
        let e = ClusterConfig::from_json(b"{\"bearerToken\": \"s3cr3t\"").unwrap_err();
        assert!(matches!(e, ConfigError::NotJson(_)));
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(
            format!("{:?}", ClusterConfig::from_json(br#"{"password": "hunter2"}"#).unwrap()).contains("<redacted>")
        );
    }
}
