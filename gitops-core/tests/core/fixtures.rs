//! Runs every case under `tests/fixtures/diff/` (see its README for the format) and
//! reports all mismatches at once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gitops_core::diff::{Comparator, DiffConfig};
use gitops_core::ignore::IgnoreRuleSpec;
use gitops_core::settings::Settings;
use gitops_core::{Object, manifest, yaml};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    description: String,
    #[serde(default)]
    namespace: Option<String>,
    objects: Vec<ExpectedObject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedObject {
    key: String,
    status: String,
    #[serde(default)]
    changed: Option<Vec<String>>,
    #[serde(default)]
    ignored: Option<Vec<String>>,
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff");
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    out.sort();
    out
}

fn read_objects(path: &Path) -> Vec<Object> {
    match std::fs::read_to_string(path) {
        Ok(text) => manifest::parse(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}")),
        Err(_) => Vec::new(),
    }
}

fn read_value(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    let docs = yaml::parse_documents(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    docs.into_iter().next().map(|d| d.value)
}

/// Runs one case, returning its mismatches.
fn run_case(dir: &Path) -> Vec<String> {
    let expected: Expected = serde_json::from_value(read_value(&dir.join("expected.yaml")).expect("expected.yaml"))
        .unwrap_or_else(|e| panic!("{}: expected.yaml: {e}", dir.display()));
    let mut config = DiffConfig::default();
    if let Some(ns) = &expected.namespace {
        config.namespace = ns.clone();
    }
    if let Some(v) = read_value(&dir.join("ignore.yaml")) {
        config.ignore_differences = serde_json::from_value::<Vec<IgnoreRuleSpec>>(v).expect("ignore.yaml");
    }
    if let Some(cm) = read_value(&dir.join("argocd-cm.yaml")) {
        config.settings = Settings::from_config_map(&cm).expect("argocd-cm.yaml");
    }
    let comparator = Comparator::new(config).expect("config");
    let desired = read_objects(&dir.join("desired.yaml"));
    let live = read_objects(&dir.join("live.yaml"));
    let diff = match comparator.diff(desired, live) {
        Ok(d) => d,
        Err(e) => return vec![format!("diff failed: {e}")],
    };
    let mut problems = Vec::new();
    for want in &expected.objects {
        let Some(got) = diff.objects.iter().find(|o| o.key.to_string() == want.key) else {
            problems.push(format!(
                "{}: no result (got {:?})",
                want.key,
                diff.objects.iter().map(|o| o.key.to_string()).collect::<Vec<_>>()
            ));
            continue;
        };
        if got.status.to_string() != want.status {
            problems.push(format!(
                "{}: status {} (want {}); patch {}",
                want.key,
                got.status,
                want.status,
                serde_json::to_string(&got.patch).unwrap()
            ));
            continue;
        }
        if let Some(changed) = &want.changed {
            let got_paths: BTreeSet<String> = got.changed_paths().into_iter().collect();
            let want_paths: BTreeSet<String> = changed.iter().cloned().collect();
            if got_paths != want_paths {
                problems.push(format!("{}: changed {:?} (want {:?})", want.key, got_paths, want_paths));
            }
        }
        if let Some(ignored) = &want.ignored {
            let got_paths: BTreeSet<String> = got.ignored.iter().map(|i| i.path.clone()).collect();
            let want_paths: BTreeSet<String> = ignored.iter().cloned().collect();
            if got_paths != want_paths {
                problems.push(format!("{}: ignored {:?} (want {:?})", want.key, got_paths, want_paths));
            }
        }
    }
    for got in &diff.objects {
        if !expected.objects.iter().any(|w| w.key == got.key.to_string()) {
            problems.push(format!("{}: unexpected result {}", got.key, got.status));
        }
    }
    problems
        .into_iter()
        .map(|p| format!("{} ({}): {p}", dir.file_name().unwrap().to_string_lossy(), expected.description))
        .collect()
}

#[test]
fn diff_fixtures() {
    let cases = cases();
    assert!(cases.len() >= 40, "expected at least 40 fixture cases, found {}", cases.len());
    let problems: Vec<String> = cases.iter().flat_map(|c| run_case(c)).collect();
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn fixtures_are_half_unchanged_half_changed() {
    let (mut synced, mut changed) = (0, 0);
    for dir in cases() {
        let expected: Expected = serde_json::from_value(read_value(&dir.join("expected.yaml")).unwrap()).unwrap();
        if expected.objects.iter().all(|o| o.status == "Synced") {
            synced += 1;
        } else {
            changed += 1;
        }
    }
    assert!(synced >= 20 && changed >= 20, "{synced} unchanged and {changed} changed cases");
}
