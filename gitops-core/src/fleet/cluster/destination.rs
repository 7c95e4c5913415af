//! An application's destination resolved to a registered cluster, and what that cluster lets
//! Argo CD manage, with Argo CD's own messages (`util/argo/argo.go` `GetDestinationCluster`;
//! the namespace checks of the cluster cache, `GetManagedLiveObjs`).

use super::RegisteredCluster;
use crate::ResourceKey;

/// Argo CD's message when a destination has neither a server nor a name
/// (`argo.ErrDestinationMissing`).
pub const DESTINATION_MISSING: &str = "Destination server missing from app spec";

/// Why a destination does not resolve, or a cluster does not let an object be managed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// Both `server` and `name` are set.
    #[error("application destination can't have both name and server defined: {name} {server}")]
    BothNameAndServer {
        /// `destination.name`.
        name: String,
        /// `destination.server`.
        server: String,
    },
    /// Neither `server` nor `name` is set.
    #[error("{DESTINATION_MISSING}")]
    Missing,
    /// No cluster has this name.
    #[error("there are no clusters with this name: {0}")]
    NoClusterWithName(String),
    /// Several clusters share this name; Argo CD refuses to guess.
    #[error("there are {} clusters with the same name: [{}]", .servers.len(), .servers.join(" "))]
    SeveralClustersWithName {
        /// The name.
        name: String,
        /// The servers of the clusters that carry it.
        servers: Vec<String>,
    },
    /// No cluster has this server URL. The text is Argo CD's, gRPC status included, since
    /// that is what users see in the app's conditions and search for.
    #[error("error getting cluster by server {}: rpc error: code = NotFound desc = cluster {} not found", go_quote(.0), go_quote(.0))]
    UnknownServer(String),
    /// A cluster-scoped object on a cluster registered with a `namespaces` list and without
    /// `clusterResources: "true"`.
    #[error("cluster level {kind} {} can not be managed when in namespaced mode", go_quote(.name))]
    ClusterLevelInNamespacedMode {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
    },
    /// A namespaced object outside the cluster's `namespaces` list.
    #[error("namespace {} for {kind} {} is not managed", go_quote(.namespace), go_quote(.name))]
    NamespaceNotManaged {
        /// The object's namespace.
        namespace: String,
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
    },
}

/// Go's `%q` for the names Kubernetes allows (printable text): quotes, with `"` and `\`
/// escaped.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

impl RegisteredCluster {
    /// Whether objects in `namespace` may be managed: always when the cluster has no
    /// `namespaces` list.
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|ns| ns == namespace)
    }

    /// Whether cluster-scoped objects may be managed: without a `namespaces` list always, with
    /// one only when `clusterResources` is `"true"`.
    pub fn allows_cluster_resources(&self) -> bool {
        self.namespaces.is_empty() || self.cluster_resources
    }

    /// Whether the object with this key may be managed here (an empty namespace is a
    /// cluster-scoped object), with Argo CD's message when not.
    pub fn check_managed(&self, key: &ResourceKey) -> Result<(), DestinationError> {
        if key.namespace.is_empty() {
            if !self.allows_cluster_resources() {
                return Err(DestinationError::ClusterLevelInNamespacedMode {
                    kind: key.kind.clone(),
                    name: key.name.clone(),
                });
            }
        } else if !self.allows_namespace(&key.namespace) {
            return Err(DestinationError::NamespaceNotManaged {
                namespace: key.namespace.clone(),
                kind: key.kind.clone(),
                name: key.name.clone(),
            });
        }
        Ok(())
    }
}
