//! Runs the `health_test.yaml` fixtures through the public API.

use std::path::{Path, PathBuf};

use gitops_health::lua::{Clock, Engine};
use gitops_health::{HealthChecks, testfile};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn test_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("read fixture dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            test_files(&p, out);
        } else if p.file_name().is_some_and(|n| n == "health_test.yaml") {
            out.push(p);
        }
    }
}

/// Runs every case under `root` with `checks`; returns the number of cases.
fn run_all(root: &Path, checks: &HealthChecks) -> usize {
    let mut files = Vec::new();
    test_files(root, &mut files);
    assert!(!files.is_empty(), "no health_test.yaml under {}", root.display());
    let mut failures = Vec::new();
    let mut count = 0;
    for file in files {
        let cases = testfile::parse(&std::fs::read_to_string(&file).expect("read test file"))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in cases {
            count += 1;
            let input = file.parent().expect("parent").join(&case.input_path);
            let text = std::fs::read_to_string(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            let obj = testfile::first_document(&text).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            if let Err(m) = testfile::check(&case, &checks.assess(&obj)) {
                failures.push(format!("{}: expected {:?}, got {:?}", input.display(), m.expected, m.got));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {count} cases failed:\n{}", failures.len(), failures.join("\n"));
    count
}

#[test]
fn builtin_checks_match_argo_cd() {
    let n = run_all(&crate_dir().join("tests/fixtures/builtin"), &HealthChecks::builtin_only(Engine::default()));
    assert!(n >= 60, "only {n} built-in cases");
}

#[test]
fn bundled_scripts_pass_their_own_tests() {
    // Fixed clock: no bundled check may depend on the day the tests run.
    let checks = HealthChecks::new(Engine::default().with_clock(Clock::Fixed(1_790_000_000)));
    let n = run_all(&crate_dir().join("checks"), &checks);
    assert!(n >= 45, "only {n} bundled cases");
}
