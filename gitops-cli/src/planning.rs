//! From an app, its desired objects and the live ones to a sync plan (the core's
//! `sync::prepare`, with the current time).

use gitops_core::Object;
use gitops_core::app::AppSpec;
use gitops_core::sync::prepare::prepare;
use gitops_core::sync::{RetryStrategy, SyncPlan};

/// Diffs and plans; see `gitops_core::sync::prepare::prepare`.
pub fn build(
    app: Option<&AppSpec>,
    desired: Vec<Object>,
    live: Vec<Object>,
    namespace: Option<&String>,
    prune: bool,
    revision: &str,
) -> Result<(SyncPlan, Option<RetryStrategy>), String> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    prepare(app, desired, live, namespace, prune, revision, now)
}
