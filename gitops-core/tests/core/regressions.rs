//! Inputs that once crashed or misbehaved. Fuzz findings are copied into
//! `tests/fixtures/fuzzed/` and every file there must parse or fail cleanly.

use std::path::Path;

#[test]
fn fuzzed_inputs_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzzed");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let _ = gitops_core::manifest::parse(&path.display().to_string(), &text);
    }
}

/// Found with the examples repository: a completed hook Job left in the cluster (as
/// `BeforeHookCreation` leaves it) made every app look OutOfSync as "requiring pruning".
#[test]
fn a_live_hook_is_not_extraneous() {
    use gitops_core::{Comparator, DiffConfig, manifest};
    let live = manifest::parse(
        "live",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: default\n  annotations: {argocd.argoproj.io/hook: PreSync}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: old, namespace: default}\n",
    )
    .unwrap();
    let diff = Comparator::new(DiffConfig::default()).unwrap().diff(Vec::new(), live).unwrap();
    assert_eq!(diff.summary.requires_pruning, 1, "only the ConfigMap");
    assert_eq!(diff.objects.len(), 1);
    assert_eq!(diff.skipped.len(), 1);
    assert!(diff.skipped[0].reason.contains("never pruned"), "{:?}", diff.skipped);
}
