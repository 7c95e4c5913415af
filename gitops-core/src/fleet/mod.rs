//! Fleets: many apps over many clusters (App-of-Apps, ApplicationSets, Flux trees).
//!
//! - [`cluster`]: the clusters Argo CD can deploy to, read from its cluster secrets, and an
//!   app's destination resolved against them with Argo CD's messages; the kubeconfig a Flux
//!   object reaches a remote cluster with;
//! - [`children`]: the apps an app renders, and those their controller will not reconcile;
//! - [`graph`]: the fleet as a graph: app-of-apps and `dependsOn` cycles, the `dependsOn`
//!   order with Flux's messages, and resources two apps both claim;
//! - [`status`]: an app's status as its controller writes it into an Application or a
//!   Kustomization.
//!
//! All of it is pure: objects in, decisions out.
//!
//! # Example
//!
//! ```
//! use gitops_core::fleet::{children, cluster::ClusterRegistry, graph::{AppId, FleetGraph}};
//! use gitops_core::manifest;
//!
//! // The cluster secrets Argo CD holds.
//! let secrets = manifest::parse("secrets.yaml", r#"
//! apiVersion: v1
//! kind: Secret
//! metadata:
//!   name: prod
//!   namespace: argocd
//!   labels: {argocd.argoproj.io/secret-type: cluster, env: prod}
//! stringData:
//!   name: prod
//!   server: https://prod.example.com
//!   namespaces: web,api
//!   config: '{"bearerToken": "…", "tlsClientConfig": {"insecure": false}}'
//! "#)?;
//! let (clusters, errors) = ClusterRegistry::from_objects(&secrets);
//! assert!(errors.is_empty());
//! let prod = clusters.resolve(None, Some("prod"))?;
//! assert_eq!(prod.server, "https://prod.example.com");
//! assert!(prod.allows_namespace("web") && !prod.allows_cluster_resources());
//! assert_eq!(
//!     clusters.resolve(None, Some("staging")).unwrap_err().to_string(),
//!     "there are no clusters with this name: staging"
//! );
//!
//! // What the root app rendered: two Applications, one of them itself.
//! let rendered = manifest::parse("root.yaml", r#"
//! apiVersion: argoproj.io/v1alpha1
//! kind: Application
//! metadata: {name: web, namespace: argocd}
//! ---
//! apiVersion: argoproj.io/v1alpha1
//! kind: Application
//! metadata: {name: root, namespace: argocd}
//! "#)?;
//! let found = children::find_children(&rendered, "argocd", children::DEFAULT_CONTROLLER_NAMESPACE);
//! let root = AppId::new(children::ChildKind::Application, "argocd", "root");
//! let mut fleet = FleetGraph::new();
//! for child in &found.apps {
//!     fleet.add_produced(root.clone(), child.into());
//! }
//! let cycles = fleet.production_cycles();
//! assert_eq!(cycles.len(), 1);
//! assert!(cycles[0].to_string().contains("Application argocd/root -> Application argocd/root"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod children;
pub mod cluster;
pub mod graph;
pub mod status;
