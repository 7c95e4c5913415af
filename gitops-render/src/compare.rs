//! Comparing two manifest streams read from paths (files, directories or standard input), as
//! `gitops diff DESIRED LIVE` does when LIVE is not a cluster.
//!
//! Desired objects go into a [`DiffSession`] one by one; live objects are compared as they
//! are read and dropped, so memory stays a small multiple of the input, whatever its size.

use gitops_core::app::{self, AppSpec};
use gitops_core::diff::{AppDiff, Comparator, DiffSession};

use crate::{Reading, for_each_object_with};

/// Why two streams could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path could not be read, or a manifest in it is invalid.
    #[error(transparent)]
    Read(#[from] crate::Error),
    /// Two desired objects share a key, or a comparison failed.
    #[error(transparent)]
    Diff(#[from] gitops_core::diff::Error),
}

/// Compares the objects at `desired` with those at `live` (each a path or `-`). With an
/// `app`, its `targetNamespace` is forced onto desired objects, and a live object outside the
/// desired set counts only when the app tracks it: what this app does not own is never
/// reported for pruning. `keep_changed`: keep the objects of those that differ, for a
/// unified diff (see [`gitops_core::ObjectDiff::slim`]).
pub fn diff_paths(
    comparator: &Comparator,
    desired: &str,
    live: &str,
    app: Option<&AppSpec>,
    reading: &Reading,
    keep_changed: bool,
) -> Result<AppDiff, Error> {
    let mut session = DiffSession::new(comparator);
    let force_namespace = app.is_some_and(|a| a.force_namespace);
    // The readers' callbacks fail with a read error only; a diff error waits here.
    let mut failure: Option<gitops_core::diff::Error> = None;
    for_each_object_with(desired, reading, |mut o| {
        if force_namespace {
            app::force_namespace(std::slice::from_mut(&mut o), comparator.namespace());
        }
        if let Err(e) = session.add_desired(o) {
            failure.get_or_insert(e);
        }
        Ok(())
    })?;
    if let Some(e) = failure.take() {
        return Err(e.into());
    }
    let mut results = Vec::new();
    for_each_object_with(live, reading, |live| {
        let untracked = app.is_some_and(|a| !app::is_tracked_by(&live, a));
        if untracked && !session.has_desired(&live) {
            return Ok(());
        }
        match session.compare_live(live) {
            Ok(Some(mut r)) => {
                r.slim(keep_changed);
                results.push(r);
            }
            Ok(None) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let skipped = session.finish(|mut r| {
        r.slim(keep_changed);
        results.push(r);
    })?;
    Ok(AppDiff::from_objects(results, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_core::diff::{DiffConfig, SyncStatus};

    #[test]
    fn untracked_live_objects_are_not_reported_with_an_app() {
        let dir = tempfile::tempdir().unwrap();
        let desired = dir.path().join("desired.yaml");
        let live = dir.path().join("live.yaml");
        std::fs::write(
            &desired,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\ndata: {k: v}\n",
        )
        .unwrap();
        std::fs::write(
            &live,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\ndata: {k: w}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: shop}\n",
        )
        .unwrap();
        let app_text = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  destination: {namespace: shop}\n";
        let app = app::read("app.yaml", &gitops_core::manifest::parse("app.yaml", app_text).unwrap()).unwrap();
        let comparator = Comparator::new(app::diff_config(Some(&app), None)).unwrap();
        let (d, l) = (desired.to_str().unwrap(), live.to_str().unwrap());
        let with_app = diff_paths(&comparator, d, l, Some(&app), &Reading::default(), true).unwrap();
        assert_eq!(with_app.objects.len(), 1, "the untracked ConfigMap is not this app's");
        assert_eq!(with_app.objects[0].status, SyncStatus::OutOfSync);
        assert!(!with_app.objects[0].predicted_live().is_null(), "kept for a unified diff");
        let comparator = Comparator::new(DiffConfig { namespace: "shop".into(), ..DiffConfig::default() }).unwrap();
        let without = diff_paths(&comparator, d, l, None, &Reading::default(), false).unwrap();
        assert_eq!(without.objects.len(), 2);
        assert!(without.objects[0].predicted_live().is_null(), "slimmed");
    }
}
