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

/// A snapshot diff without an app: a ReplicaSet with an owner and a ConfigMap whose tracking
/// id was copied from another object were reported as requiring pruning.
#[test]
fn owned_objects_and_copied_tracking_ids_are_not_extraneous() {
    use gitops_core::{Comparator, DiffConfig, manifest};
    let live = manifest::parse(
        "live",
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-5d4f\n  namespace: default\n  labels: {app.kubernetes.io/instance: shop}\n  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: copy\n  namespace: default\n  annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:default/settings'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: old, namespace: default}\n",
    )
    .unwrap();
    let diff = Comparator::new(DiffConfig::default()).unwrap().diff(Vec::new(), live).unwrap();
    assert_eq!(diff.summary.requires_pruning, 1, "only the plain ConfigMap: {:?}", diff.skipped);
    assert_eq!(diff.objects[0].key.name, "old");
    assert_eq!(diff.skipped.len(), 2);
}

/// The fuzz corpora hold hand-made hostile inputs (alias bombs across a stream, flow-style
/// YAML, byte order marks, Secrets with unreadable last-applied configurations, identities
/// aiming out of a FileCluster): each must
/// parse or fail cleanly, and a set compared with itself must be in sync, as the fuzz
/// targets check. Runs only where the corpora are checked out.
#[test]
fn fuzz_corpus_inputs_hold_the_fuzz_targets_properties() {
    use gitops_core::{Comparator, DiffConfig, manifest};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let read = |dir: &str| -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { return Vec::new() };
        entries
            .map(|e| e.unwrap().path())
            .map(|p| (p.display().to_string(), String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()))
            .collect()
    };
    for (name, text) in read("parse_manifests") {
        let _ = manifest::parse(&name, &text);
    }
    let comparator = Comparator::new(DiffConfig::default()).unwrap();
    for (name, text) in read("compare") {
        let (desired, live) = text.split_once('\0').unwrap_or((&text, &text));
        let (Ok(desired), Ok(live)) = (manifest::parse("desired", desired), manifest::parse("live", live)) else {
            continue;
        };
        for o in &desired {
            assert!(!comparator.compare(Some(o), Some(o)).unwrap().is_modified(), "{name}");
        }
        let _ = comparator.diff(desired, live);
    }
    // Identities: group, kind, namespace, name and apiVersion, one per line. Whatever passes the
    // API server's rules must be safe as a path component.
    let safe = |s: &str| !s.contains(['/', '\0']) && s != "." && s != "..";
    for (name, text) in read("identity") {
        let mut parts = text.splitn(5, '\n');
        let mut next = || parts.next().unwrap_or("").to_string();
        let key = gitops_core::ResourceKey { group: next(), kind: next(), namespace: next(), name: next() };
        if gitops_core::names::check_key(&key).is_ok() {
            for part in [&key.group, &key.kind, &key.namespace, &key.name] {
                assert!(safe(part), "{name}: {part:?} passed the rules");
            }
        }
    }
}
