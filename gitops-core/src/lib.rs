//! The pure core of the gitops engine: manifests, normalization, and a desired-versus-live
//! diff as faithful as Argo CD's, with no I/O and no async runtime.
//!
//! Modules, from text to decisions:
//! - reading: [`manifest`] (YAML/JSON text in, [`Object`]s out, with origins and clear
//!   errors), [`yaml`] (the YAML 1.1 reader and the one event-to-tree builder, generic over a
//!   scalar resolver), [`object`] (objects and their identity, [`ResourceKey`]), [`names`]
//!   (the API server's rules for groups, kinds, namespaces and names);
//! - Kubernetes facts: [`schema`] (built-in kinds, scopes, strategic-merge keys), [`scope`]
//!   (the scope of custom kinds, learnt from CRDs), [`defaults`] (what the API server fills
//!   in, per API group), [`quantity`] and [`time`] (canonical quantities, durations and
//!   timestamps), [`selector`] (label selectors), [`semver_range`] (Masterminds semver versions
//!   and constraints, as Helm, Argo CD and Flux read them);
//! - comparing: [`normalize`], [`merge`] (strategic-merge and JSON patches), [`diff`] (the
//!   [`Comparator`]: normalize, ignore, predict, compare), [`ignore`] (`ignoreDifferences`:
//!   JSON pointers, jq, managed-fields managers), [`mask`] (Secret values), [`report`]
//!   (unified YAML diffs and the stable JSON report), [`settings`] (the diff keys of
//!   Argo CD's `argocd-cm`), [`glob`] (Argo CD's resource globs);
//! - [`health`]: Argo CD's health statuses and their order, shared by checks and app status;
//! - [`helm_storage`]: Helm 3's release Secrets (`sh.helm.release.v1.*`), read and written as
//!   `helm` keeps them;
//! - apps: [`app`] (Argo CD Applications and Flux Kustomizations as a sync needs them),
//!   [`app_fields`] (their known fields, to name misspelt ones);
//! - syncing: [`sync`] (options, plan, the sans-IO [`sync::operation::SyncOperation`],
//!   retries, the reconcile [`sync::policy`], app [`sync::status`] and the plan report);
//! - fleets: [`fleet`] (Argo CD's cluster registry and destination resolution, apps produced
//!   by apps, app-of-apps and `dependsOn` cycles and order, resources two apps claim),
//!   [`appset`] (ApplicationSets: generators, templates, the Applications they generate);
//! - images: [`image`] (image references, tag selection by Flux image policies and Argo CD
//!   Image Updater annotations);
//! - notifications: [`notify`] (Flux Alerts and Providers, Argo CD triggers and templates),
//!   [`expr`] (the expr language of Argo CD triggers and Argo Rollouts analyses);
//! - access: [`rbac`] (Argo CD's RBAC policies: who may do what to which object).
//!
//! Examples to start from (`cargo run -p gitops-core --example NAME`): `diff_files` compares
//! two manifest files; `sync_by_hand` drives a sync operation against an in-memory cluster.
//!
//! # Example
//!
//! ```
//! use gitops_core::{diff::{Comparator, DiffConfig, SyncStatus}, manifest};
//!
//! let desired = manifest::parse("git.yaml", r#"
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: web}
//! spec:
//!   replicas: 2
//!   selector: {matchLabels: {app: web}}
//!   template:
//!     metadata: {labels: {app: web}}
//!     spec:
//!       containers:
//!       - name: web
//!         image: nginx:1.27
//!         resources: {limits: {cpu: 1000m}}
//! "#)?;
//! // What the API server returns: defaults filled in, the quantity canonical, replicas drifted.
//! let live = manifest::parse("cluster.yaml", r#"
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: web, namespace: default, uid: 7c1a, resourceVersion: "42", generation: 3}
//! spec:
//!   replicas: 5
//!   progressDeadlineSeconds: 600
//!   revisionHistoryLimit: 10
//!   selector: {matchLabels: {app: web}}
//!   strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}
//!   template:
//!     metadata: {labels: {app: web}}
//!     spec:
//!       containers:
//!       - name: web
//!         image: nginx:1.27
//!         imagePullPolicy: IfNotPresent
//!         resources: {limits: {cpu: "1"}}
//!         terminationMessagePath: /dev/termination-log
//!         terminationMessagePolicy: File
//!       dnsPolicy: ClusterFirst
//!       restartPolicy: Always
//!       schedulerName: default-scheduler
//!       securityContext: {}
//!       terminationGracePeriodSeconds: 30
//! status: {replicas: 5}
//! "#)?;
//! let comparator = Comparator::new(DiffConfig::default())?;
//! let result = comparator.compare(Some(&desired[0]), Some(&live[0]))?;
//! assert_eq!(result.status, SyncStatus::OutOfSync);
//! assert_eq!(result.changed_paths(), ["/spec/replicas"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod analysis;
pub mod app;
pub mod app_fields;
pub mod appset;
pub mod defaults;
pub mod diff;
pub mod expr;
pub mod fleet;
pub mod glob;
pub mod health;
pub mod helm_release;
pub mod helm_storage;
pub mod ignore;
pub mod image;
pub mod json;
pub mod manifest;
pub mod mask;
pub mod merge;
pub mod merge_patch;
pub mod names;
pub mod normalize;
pub mod notify;
pub mod object;
pub mod project;
pub mod quantity;
pub mod rbac;
pub mod report;
pub mod rollout;
pub mod schema;
pub mod scope;
pub mod selector;
pub mod semver_range;
pub mod settings;
pub mod sync;
pub mod time;
pub mod yaml;

pub use diff::{AppDiff, Comparator, DiffConfig, ObjectDiff, SyncStatus};
pub use object::{Object, Origin, ResourceKey};

/// The README's library example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
