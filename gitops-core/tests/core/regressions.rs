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
