//! Read-only looks at a cluster, as `argocd app diff` and `argocd app get` take them: what
//! differs between desired objects and what the cluster holds, and how healthy that is.
//! Nothing is written (a server-side diff sends dry runs only).

use std::collections::{BTreeMap, HashSet};

use gitops_core::app::{self, AppSpec};
use gitops_core::diff::{AppDiff, Comparator, DiffSession};
use gitops_core::{Object, ResourceKey, scope};
use gitops_health::{HealthChecks, HealthReport, ObjectHealth};

use crate::cluster::{self, Cluster};
use crate::reconcile;

/// Why a cluster could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster could not be read.
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    /// Two desired objects share a key, or a comparison failed.
    #[error(transparent)]
    Diff(#[from] gitops_core::diff::Error),
}

/// A diff against a cluster, with what the server said about objects it would refuse.
#[derive(Debug)]
pub struct Compared {
    /// The comparison.
    pub diff: AppDiff,
    /// Server-side diff only: objects the server refused to predict, compared as usual.
    pub warnings: Vec<String>,
}

/// Compares `desired` with the cluster. With an `app`, desired objects get its
/// `targetNamespace` and tracking marks as a sync would apply them (so what a sync wrote
/// compares equal), and every object the app tracks is read; without, the desired objects'
/// counterparts. `server_side`: pairs are compared through server-side apply dry runs, as
/// Argo CD's `ServerSideDiff=true`. `keep_changed`: see [`gitops_core::ObjectDiff::slim`].
pub async fn diff<C: Cluster>(
    cluster: &C,
    comparator: &Comparator,
    app: Option<&AppSpec>,
    mut desired: Vec<Object>,
    server_side: bool,
    keep_changed: bool,
) -> Result<Compared, Error> {
    let namespace = comparator.namespace().to_string();
    if let Some(a) = app {
        if a.force_namespace {
            app::force_namespace(&mut desired, &namespace);
        }
        for o in &mut desired {
            app::mark_tracked(o, a, &namespace, &a.rollout.app_namespace);
        }
    }
    let keys: HashSet<ResourceKey> =
        desired.iter().filter(|o| !o.name().is_empty()).map(|o| o.key(&namespace)).collect();
    let live = cluster::live_objects(cluster, app, &keys).await?;
    let (predicted, warnings) = if server_side {
        reconcile::predictions(cluster, &desired, &live, &namespace).await
    } else {
        Default::default()
    };
    let mut session = DiffSession::with_desired(comparator, desired)?;
    session.set_predictions(predicted);
    let mut results = Vec::new();
    for l in live {
        if let Some(mut r) = session.compare_live(l)? {
            r.slim(keep_changed);
            results.push(r);
        }
    }
    let skipped = session.finish(|mut r| {
        r.slim(keep_changed);
        results.push(r);
    })?;
    Ok(Compared { diff: AppDiff::from_objects(results, skipped), warnings })
}

/// The health of the live counterparts of `desired` (one the cluster does not hold is
/// Missing; objects without a namespace are looked for in `namespace`) and, with an `app`, of
/// every object it tracks, in key order. The scope of a custom kind is the cluster's to say; a
/// kind it does not serve holds nothing, so its object is Missing.
pub async fn health<C: Cluster>(
    cluster: &C,
    checks: &HealthChecks,
    app: Option<&AppSpec>,
    desired: &[Object],
    namespace: &str,
) -> Result<HealthReport, Error> {
    let mut wanted = BTreeMap::new();
    for o in desired.iter().filter(|o| !o.name().is_empty()) {
        let key = if scope::needs_scope(o) {
            let cluster_scoped = cluster.cluster_scoped(o.api_version(), o.kind()).await?;
            o.key_with_scope(namespace, cluster_scoped.unwrap_or(false))
        } else {
            o.key(namespace)
        };
        wanted.insert(key, o.api_version().to_string());
    }
    let keys: HashSet<ResourceKey> = wanted.keys().cloned().collect();
    let live = cluster::live_objects(cluster, app, &keys).await?;
    let mut found: BTreeMap<ResourceKey, ObjectHealth> =
        live.iter().map(|o| (o.key(""), ObjectHealth::assess(checks, o))).collect();
    for (key, api_version) in wanted {
        found.entry(key.clone()).or_insert_with(|| ObjectHealth::missing(&api_version, &key));
    }
    Ok(HealthReport::new(found.into_values().collect()))
}
