//! Argo CD cluster secrets read into [`RegisteredCluster`]s, as Argo CD's `SecretToCluster`
//! reads them (`util/db/cluster.go`).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde_json::Value;

use super::config::{ClusterConfig, ConfigError};
use crate::Object;

/// The label that marks a Secret as an Argo CD cluster, and its value.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
/// The value of [`SECRET_TYPE_LABEL`] on cluster secrets.
pub const SECRET_TYPE_CLUSTER: &str = "cluster";
/// The annotation Argo CD drops from a cluster's annotations (`common.AnnotationKeyManagedBy`).
const MANAGED_BY_ANNOTATION: &str = "managed-by";

/// Why a cluster secret does not register. Messages name the secret and the field, never a
/// value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The object is not a Secret labelled `argocd.argoproj.io/secret-type: cluster`.
    #[error(
        "{kind} {secret} is not an Argo CD cluster secret (a v1 Secret labelled {SECRET_TYPE_LABEL}: {SECRET_TYPE_CLUSTER})"
    )]
    NotClusterSecret {
        /// `namespace/name` of the object.
        secret: String,
        /// Its kind.
        kind: String,
    },
    /// A `data` value is not base64.
    #[error("secret {secret}: {field} is not base64")]
    NotBase64 {
        /// `namespace/name` of the secret.
        secret: String,
        /// `data.KEY`.
        field: String,
    },
    /// A value is not UTF-8 text.
    #[error("secret {secret}: {field} is not UTF-8 text")]
    NotUtf8 {
        /// `namespace/name` of the secret.
        secret: String,
        /// `data.KEY` or `stringData.KEY`.
        field: String,
    },
    /// A `data` or `stringData` value is not a string.
    #[error("secret {secret}: {field} must be a string")]
    NotString {
        /// `namespace/name` of the secret.
        secret: String,
        /// `data.KEY` or `stringData.KEY`.
        field: String,
    },
    /// `config` does not read.
    #[error("secret {secret}: {field} {source}")]
    Config {
        /// `namespace/name` of the secret.
        secret: String,
        /// `data.config` or `stringData.config`.
        field: String,
        /// What is wrong in it.
        source: ConfigError,
    },
    /// No `server`: Argo CD would register a cluster no application can reach.
    #[error("secret {secret}: data.server is missing; set it to the API server URL of the cluster")]
    MissingServer {
        /// `namespace/name` of the secret.
        secret: String,
    },
    /// Two secrets register the same server URL; Argo CD's index would pick one of them.
    #[error("secret {secret}: server {server} is already registered by secret {first}; remove one of the two secrets")]
    DuplicateServer {
        /// `namespace/name` of the later secret, which is ignored.
        secret: String,
        /// `namespace/name` of the secret that keeps the server.
        first: String,
        /// The server URL.
        server: String,
    },
}

/// Where a registered cluster came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretRef {
    /// The secret's namespace.
    pub namespace: String,
    /// The secret's name.
    pub name: String,
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A cluster Argo CD can deploy to (Argo CD's `Cluster`, as read from its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredCluster {
    /// `name`; destinations may name the cluster by it. Empty if the secret has none.
    pub name: String,
    /// `server`, the API server URL, without trailing slashes (Argo CD trims them).
    pub server: String,
    /// `namespaces`: the only namespaces Argo CD manages there; empty means all.
    pub namespaces: Vec<String>,
    /// `clusterResources`: with a `namespaces` list, whether cluster-scoped kinds are managed.
    pub cluster_resources: bool,
    /// `project`: the project a project-scoped cluster belongs to; empty if global.
    pub project: String,
    /// `config`: how to connect.
    pub config: ClusterConfig,
    /// The secret's labels without `argocd.argoproj.io/secret-type` (for cluster generators).
    pub labels: BTreeMap<String, String>,
    /// The secret's annotations without `managed-by` (for cluster generators).
    pub annotations: BTreeMap<String, String>,
    /// The secret the cluster was read from; `None` for the built-in `in-cluster`.
    pub secret: Option<SecretRef>,
}

impl RegisteredCluster {
    /// A cluster named `name` at `server`, reached with `config`, registered by hand (no
    /// Secret, no namespace limit, no labels), as an embedder or a test builds one.
    pub fn new(name: impl Into<String>, server: impl Into<String>, config: ClusterConfig) -> RegisteredCluster {
        RegisteredCluster {
            name: name.into(),
            server: server.into(),
            namespaces: Vec::new(),
            cluster_resources: false,
            project: String::new(),
            config,
            labels: Default::default(),
            annotations: Default::default(),
            secret: None,
        }
    }

    /// Reads an Argo CD cluster secret. Values come from `stringData` over `data` (base64), as
    /// the API server merges them when the secret is written.
    pub fn from_secret(secret: &Object) -> Result<RegisteredCluster, SecretError> {
        let id = secret_id(secret);
        if !is_cluster_secret(secret) {
            return Err(SecretError::NotClusterSecret { secret: id, kind: secret.kind().to_string() });
        }
        let text = |key: &str| -> Result<Option<String>, SecretError> {
            match secret_value(secret, key) {
                None => Ok(None),
                Some(Err(e)) => Err(e),
                Some(Ok((field, bytes))) => {
                    String::from_utf8(bytes).map(Some).map_err(|_| SecretError::NotUtf8 { secret: id.clone(), field })
                }
            }
        };
        let server = text("server")?.map(|s| trim_server(&s).to_string()).unwrap_or_default();
        if server.is_empty() {
            return Err(SecretError::MissingServer { secret: id });
        }
        let config = match secret_value(secret, "config") {
            None => ClusterConfig::default(),
            Some(Err(e)) => return Err(e),
            Some(Ok((field, bytes))) => ClusterConfig::from_json(&bytes).map_err(|source| SecretError::Config {
                secret: id.clone(),
                field,
                source,
            })?,
        };
        let namespaces = text("namespaces")?
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|ns| !ns.is_empty())
            .map(str::to_string)
            .collect();
        let mut labels = string_map(secret, "labels");
        labels.remove(SECRET_TYPE_LABEL);
        let mut annotations = string_map(secret, "annotations");
        annotations.remove(MANAGED_BY_ANNOTATION);
        Ok(RegisteredCluster {
            name: text("name")?.unwrap_or_default(),
            server,
            namespaces,
            cluster_resources: text("clusterResources")?.as_deref() == Some("true"),
            project: text("project")?.unwrap_or_default(),
            config,
            labels,
            annotations,
            secret: Some(SecretRef { namespace: secret.namespace().to_string(), name: secret.name().to_string() }),
        })
    }
}

/// Whether an object is a Secret labelled as an Argo CD cluster.
pub fn is_cluster_secret(object: &Object) -> bool {
    object.group().is_empty()
        && object.kind() == "Secret"
        && object.label(SECRET_TYPE_LABEL) == Some(SECRET_TYPE_CLUSTER)
}

/// Argo CD stores and compares server URLs without trailing slashes (`strings.TrimRight`).
fn trim_server(server: &str) -> &str {
    server.trim_end_matches('/')
}

pub(crate) fn secret_id(secret: &Object) -> String {
    format!("{}/{}", secret.namespace(), secret.name())
}

/// The bytes of a secret key and the field they were read from (`stringData.KEY` wins over
/// `data.KEY`); `None` when the key is in neither.
pub(crate) fn secret_value(secret: &Object, key: &str) -> Option<Result<(String, Vec<u8>), SecretError>> {
    let v = secret.value();
    if let Some(value) = v.get("stringData").and_then(|d| d.get(key)) {
        let field = format!("stringData.{key}");
        return Some(match value {
            Value::String(s) => Ok((field, s.clone().into_bytes())),
            _ => Err(SecretError::NotString { secret: secret_id(secret), field }),
        });
    }
    let value = v.get("data").and_then(|d| d.get(key))?;
    let field = format!("data.{key}");
    Some(match value {
        Value::String(s) => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map(|bytes| (field.clone(), bytes))
            .map_err(|_| SecretError::NotBase64 { secret: secret_id(secret), field }),
        // A `data: {key: null}` written by hand is an absent value to the API server.
        Value::Null => return None,
        _ => Err(SecretError::NotString { secret: secret_id(secret), field }),
    })
}

fn string_map(object: &Object, which: &str) -> BTreeMap<String, String> {
    let Some(map) = object.metadata().and_then(|m| m.get(which)).and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Origin;
    use serde_json::json;

    pub(crate) fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    pub(crate) fn cluster_secret(name: &str, data: Value) -> Object {
        Object::new(
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": "argocd",
                             "labels": {SECRET_TYPE_LABEL: "cluster", "env": "prod"},
                             "annotations": {"managed-by": "argocd.argoproj.io", "team": "core"}},
                "stringData": data,
            }),
            Origin::inline("test"),
        )
    }

    #[test]
    fn data_is_base64_and_string_data_is_plain_and_wins() {
        let secret = Object::new(
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "prod", "namespace": "argocd", "labels": {SECRET_TYPE_LABEL: "cluster"}},
                "data": {"name": b64("prod"), "server": b64("https://prod.example.com/"),
                         "namespaces": b64(" web, ,api "), "clusterResources": b64("true"),
                         "project": b64("team-a"), "config": b64(r#"{"bearerToken": "t"}"#)},
                "stringData": {"name": "prod-east"},
            }),
            Origin::inline("t"),
        );
        let c = RegisteredCluster::from_secret(&secret).unwrap();
        assert_eq!(c.name, "prod-east");
        assert_eq!(c.server, "https://prod.example.com");
        assert_eq!(c.namespaces, ["web", "api"]);
        assert!(c.cluster_resources);
        assert_eq!(c.project, "team-a");
        assert_eq!(c.config.bearer_token.expose(), "t");
        assert_eq!(c.secret.as_ref().unwrap().to_string(), "argocd/prod");
    }

    #[test]
    fn labels_and_annotations_are_kept_without_argo_cd_bookkeeping() {
        let c = RegisteredCluster::from_secret(&cluster_secret("a", json!({"server": "https://a"}))).unwrap();
        assert_eq!(c.labels, BTreeMap::from([("env".to_string(), "prod".to_string())]));
        assert_eq!(c.annotations, BTreeMap::from([("team".to_string(), "core".to_string())]));
        assert!(!c.cluster_resources);
        assert!(c.namespaces.is_empty());
    }

    #[test]
    fn errors_name_secret_and_field_without_values() {
        let bad64 = Object::new(
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "prod", "namespace": "argocd", "labels": {SECRET_TYPE_LABEL: "cluster"}},
                   "data": {"server": "%%%s3cr3t"}}),
            Origin::inline("t"),
        );
        let e = RegisteredCluster::from_secret(&bad64).unwrap_err();
        assert_eq!(e.to_string(), "secret argocd/prod: data.server is not base64");

        let e = RegisteredCluster::from_secret(&cluster_secret(
            "prod",
            json!({"server": "https://p", "config": "{s3cr3t"}),
        ))
        .unwrap_err();
        assert!(e.to_string().starts_with("secret argocd/prod: stringData.config is not JSON: "), "{e}");
        assert!(!e.to_string().contains("s3cr3t"));

        let e = RegisteredCluster::from_secret(&cluster_secret(
            "prod",
            json!({"server": "https://p", "config": r#"{"tlsClientConfig": {"insecure": "yes"}}"#}),
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret argocd/prod: stringData.config holds a string at tlsClientConfig.insecure, where Argo CD expects a boolean"
        );

        let e = RegisteredCluster::from_secret(&cluster_secret("prod", json!({"name": "prod"}))).unwrap_err();
        assert_eq!(e, SecretError::MissingServer { secret: "argocd/prod".into() });
        assert!(e.to_string().contains("data.server is missing"));

        let e = RegisteredCluster::from_secret(&cluster_secret("prod", json!({"server": 1}))).unwrap_err();
        assert_eq!(e.to_string(), "secret argocd/prod: stringData.server must be a string");
    }

    #[test]
    fn other_objects_are_not_cluster_secrets() {
        let cm = Object::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "argocd"}}),
            Origin::inline("t"),
        );
        assert!(!is_cluster_secret(&cm));
        let e = RegisteredCluster::from_secret(&cm).unwrap_err();
        assert!(e.to_string().starts_with("ConfigMap argocd/x is not an Argo CD cluster secret"), "{e}");
    }
}
