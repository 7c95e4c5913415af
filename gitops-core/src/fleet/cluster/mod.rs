//! The cluster registry: the clusters Argo CD can deploy to, read from its cluster secrets,
//! and an application's destination resolved against them as Argo CD resolves it.
//!
//! - [`secret`]: one cluster secret read into a [`RegisteredCluster`];
//! - [`config`]: the typed `config` JSON of a cluster secret;
//! - [`destination`]: destination resolution errors and the `namespaces` /
//!   `clusterResources` checks;
//! - [`kubeconfig`]: the kubeconfig a Flux object reaches a remote cluster with.

pub mod config;
pub mod destination;
pub mod kubeconfig;
pub mod secret;

use std::collections::HashMap;

use crate::Object;

pub use config::{AwsAuthConfig, ClusterConfig, ConfigError, ExecProviderConfig, Sensitive, TlsClientConfig};
pub use destination::{DESTINATION_MISSING, DestinationError};
pub use kubeconfig::{KubeConfigError, flux_kubeconfig};
pub use secret::{RegisteredCluster, SecretError, SecretRef, is_cluster_secret};

/// The server URL of the cluster Argo CD runs in.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// The name of the built-in cluster when no secret registers [`IN_CLUSTER_SERVER`].
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// The clusters Argo CD knows: one per cluster secret, plus the built-in `in-cluster` unless a
/// secret registers its server (that secret then gives it its name, namespaces and config).
#[derive(Debug, Clone, Default)]
pub struct ClusterRegistry {
    clusters: Vec<RegisteredCluster>,
    by_server: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
    /// Whether `in-cluster` is the built-in one: then the name `in-cluster` always means it.
    builtin_in_cluster: bool,
}

impl ClusterRegistry {
    /// Registers the cluster secrets among `objects` (other objects are skipped). A secret
    /// that does not read is reported and left out; the others still register. Of two secrets
    /// with one server, the first keeps it and the second is reported. Argo CD reads cluster
    /// secrets from its own namespace only: pass those.
    pub fn from_objects(objects: &[Object]) -> (ClusterRegistry, Vec<SecretError>) {
        let mut registry = ClusterRegistry::default();
        let mut errors = Vec::new();
        for object in objects.iter().filter(|o| is_cluster_secret(o)) {
            match RegisteredCluster::from_secret(object) {
                Ok(cluster) => {
                    if let Err(e) = registry.insert(cluster) {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !registry.by_server.contains_key(IN_CLUSTER_SERVER) {
            registry.builtin_in_cluster = true;
            let builtin = RegisteredCluster {
                name: IN_CLUSTER_NAME.to_string(),
                server: IN_CLUSTER_SERVER.to_string(),
                namespaces: Vec::new(),
                cluster_resources: false,
                project: String::new(),
                config: ClusterConfig::default(),
                labels: Default::default(),
                annotations: Default::default(),
                secret: None,
            };
            registry.insert(builtin).expect("no secret registers the in-cluster server");
        }
        (registry, errors)
    }

    fn insert(&mut self, cluster: RegisteredCluster) -> Result<(), SecretError> {
        if let Some(&first) = self.by_server.get(&cluster.server) {
            let id = |c: &RegisteredCluster| c.secret.as_ref().map(ToString::to_string).unwrap_or_default();
            return Err(SecretError::DuplicateServer {
                secret: id(&cluster),
                first: id(&self.clusters[first]),
                server: cluster.server,
            });
        }
        let index = self.clusters.len();
        self.by_server.insert(cluster.server.clone(), index);
        self.by_name.entry(cluster.name.clone()).or_default().push(index);
        self.clusters.push(cluster);
        Ok(())
    }

    /// The registered clusters, in the order of their secrets, the built-in `in-cluster` last.
    pub fn clusters(&self) -> &[RegisteredCluster] {
        &self.clusters
    }

    /// The cluster with exactly this server URL. Argo CD trims trailing slashes from the
    /// secrets' servers but looks the destination's up as written (`GetCluster`), so
    /// `https://a/` in a destination does not find a cluster registered as `https://a/`.
    pub fn by_server(&self, server: &str) -> Option<&RegisteredCluster> {
        self.by_server.get(server).map(|&i| &self.clusters[i])
    }

    /// Resolves an application's `destination.server` / `destination.name` as Argo CD's
    /// `GetDestinationCluster` does: exactly one must be set (an empty string is unset); a
    /// name must match exactly one cluster.
    pub fn resolve(&self, server: Option<&str>, name: Option<&str>) -> Result<&RegisteredCluster, DestinationError> {
        let server = server.filter(|s| !s.is_empty());
        let name = name.filter(|n| !n.is_empty());
        match (server, name) {
            (Some(server), Some(name)) => {
                Err(DestinationError::BothNameAndServer { name: name.to_string(), server: server.to_string() })
            }
            (Some(server), None) => {
                self.by_server(server).ok_or_else(|| DestinationError::UnknownServer(server.to_string()))
            }
            (None, Some(name)) => {
                // Argo CD answers the built-in name before looking at secret names.
                if self.builtin_in_cluster && name == IN_CLUSTER_NAME {
                    return Ok(&self.clusters[self.by_server[IN_CLUSTER_SERVER]]);
                }
                match self.by_name.get(name).map(Vec::as_slice).unwrap_or_default() {
                    [] => Err(DestinationError::NoClusterWithName(name.to_string())),
                    [one] => Ok(&self.clusters[*one]),
                    several => Err(DestinationError::SeveralClustersWithName {
                        name: name.to_string(),
                        servers: several.iter().map(|&i| self.clusters[i].server.clone()).collect(),
                    }),
                }
            }
            (None, None) => Err(DestinationError::Missing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::secret::tests::cluster_secret;
    use super::*;
    use crate::ResourceKey;
    use serde_json::json;

    fn registry(secrets: Vec<Object>) -> ClusterRegistry {
        let (registry, errors) = ClusterRegistry::from_objects(&secrets);
        assert!(errors.is_empty(), "{errors:?}");
        registry
    }

    #[test]
    fn in_cluster_is_built_in_unless_a_secret_claims_its_server() {
        let r = registry(vec![cluster_secret("prod", json!({"name": "prod", "server": "https://prod"}))]);
        assert_eq!(r.clusters().len(), 2);
        let builtin = r.resolve(None, Some("in-cluster")).unwrap();
        assert_eq!((builtin.server.as_str(), builtin.secret.is_none()), (IN_CLUSTER_SERVER, true));
        assert_eq!(r.resolve(Some("https://kubernetes.default.svc"), None).unwrap().name, "in-cluster");
        assert!(matches!(
            r.resolve(Some("https://kubernetes.default.svc/"), None),
            Err(DestinationError::UnknownServer(_))
        ));

        let r = registry(vec![cluster_secret(
            "local",
            json!({"name": "local", "server": "https://kubernetes.default.svc/", "namespaces": "apps"}),
        )]);
        assert_eq!(r.clusters().len(), 1);
        let local = r.resolve(Some(IN_CLUSTER_SERVER), None).unwrap();
        assert_eq!((local.name.as_str(), local.namespaces.as_slice()), ("local", &["apps".to_string()][..]));
        assert_eq!(r.resolve(None, Some("local")).unwrap().server, IN_CLUSTER_SERVER);
        assert_eq!(
            r.resolve(None, Some("in-cluster")).unwrap_err().to_string(),
            "there are no clusters with this name: in-cluster"
        );
    }

    #[test]
    fn resolution_errors_are_argo_cds() {
        let r = registry(vec![
            cluster_secret("a", json!({"name": "east", "server": "https://a.example.com"})),
            cluster_secret("b", json!({"name": "east", "server": "https://b.example.com"})),
        ]);
        let msg = |s: Option<&str>, n: Option<&str>| r.resolve(s, n).unwrap_err().to_string();
        assert_eq!(
            msg(Some("https://a.example.com"), Some("east")),
            "application destination can't have both name and server defined: east https://a.example.com"
        );
        assert_eq!(msg(None, None), "Destination server missing from app spec");
        assert_eq!(msg(Some(""), Some("")), "Destination server missing from app spec");
        assert_eq!(msg(None, Some("west")), "there are no clusters with this name: west");
        assert_eq!(
            msg(None, Some("east")),
            "there are 2 clusters with the same name: [https://a.example.com https://b.example.com]"
        );
        assert_eq!(
            msg(Some("https://c.example.com"), None),
            "error getting cluster by server \"https://c.example.com\": rpc error: code = NotFound desc = cluster \"https://c.example.com\" not found"
        );
        // Registered as https://a.example.com/ (trimmed), looked up as written.
        let r = registry(vec![cluster_secret("a", json!({"name": "a", "server": "https://a.example.com/"}))]);
        assert_eq!(r.resolve(Some("https://a.example.com"), None).unwrap().name, "a");
        assert!(r.resolve(Some("https://a.example.com/"), None).is_err());
    }

    #[test]
    fn bad_and_duplicate_secrets_are_reported_and_the_rest_register() {
        let objects = vec![
            cluster_secret("a", json!({"name": "a", "server": "https://a"})),
            cluster_secret("broken", json!({"name": "b"})),
            cluster_secret("again", json!({"name": "a2", "server": "https://a/"})),
        ];
        let (r, errors) = ClusterRegistry::from_objects(&objects);
        assert_eq!(r.clusters().len(), 2);
        assert_eq!(errors.len(), 2);
        assert!(matches!(&errors[0], SecretError::MissingServer { secret } if secret == "argocd/broken"));
        assert_eq!(
            errors[1].to_string(),
            "secret argocd/again: server https://a is already registered by secret argocd/a; remove one of the two secrets"
        );
    }

    #[test]
    fn namespaces_list_and_cluster_resources() {
        let r = registry(vec![
            cluster_secret("ns", json!({"name": "ns", "server": "https://ns", "namespaces": "web,api"})),
            cluster_secret(
                "nscr",
                json!({"name": "nscr", "server": "https://nscr", "namespaces": "web", "clusterResources": "true"}),
            ),
        ]);
        let ns = r.resolve(None, Some("ns")).unwrap();
        assert!(ns.allows_namespace("web") && !ns.allows_namespace("db"));
        assert!(!ns.allows_cluster_resources());
        assert!(ns.check_managed(&ResourceKey::new("apps", "Deployment", "api", "x")).is_ok());
        assert_eq!(
            ns.check_managed(&ResourceKey::new("apps", "Deployment", "db", "pg")).unwrap_err().to_string(),
            "namespace \"db\" for Deployment \"pg\" is not managed"
        );
        assert_eq!(
            ns.check_managed(&ResourceKey::new("", "Namespace", "", "web")).unwrap_err().to_string(),
            "cluster level Namespace \"web\" can not be managed when in namespaced mode"
        );
        let nscr = r.resolve(None, Some("nscr")).unwrap();
        assert!(nscr.check_managed(&ResourceKey::new("", "Namespace", "", "web")).is_ok());
        let all = r.resolve(None, Some("in-cluster")).unwrap();
        assert!(all.allows_namespace("anything") && all.allows_cluster_resources());
    }
}
