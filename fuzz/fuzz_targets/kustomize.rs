//! Native Kustomize must never panic, whatever the bytes: the input is split into a
//! kustomization, a resource file and a patch file, built in a scratch directory; and every
//! YAML document it holds must read back from our own output as the same value.
#![no_main]

use gitops_render::kustomize::{self, Options, yaml};
use gitops_render::root::RepoRoot;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Numbers compared as f64: `1.0` prints as `1`, which reads back as an integer.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().map(Value::from).unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalized(v))).collect()),
        other => other.clone(),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, "\n%%\n");
    let (kustomization, resource, patch) =
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    for part in [kustomization, resource, patch] {
        // A NEL (U+0085) is a line break to go-yaml: kustomize's own output does not read
        // back the same either, so the round trip is only checked without it.
        if part.contains('\u{85}') {
            continue;
        }
        if let Ok(docs) = yaml::parse_stream("fuzz", part) {
            for doc in docs.iter().filter(|d| d.is_object()) {
                let mut out = String::new();
                yaml::write_document(doc, &mut out);
                let back = yaml::parse_stream("ours", &out).expect("our own output reads back");
                assert_eq!(back.len(), 1, "one document: {out}");
                assert_eq!(normalized(&back[0]), normalized(doc), "round trip through {out}");
            }
        }
    }
    let Ok(dir) = tempfile::tempdir() else { return };
    for (name, content) in [("kustomization.yaml", kustomization), ("r.yaml", resource), ("p.yaml", patch)] {
        if std::fs::write(dir.path().join(name), content).is_err() {
            return;
        }
    }
    if let Ok(root) = RepoRoot::new(dir.path()) {
        let _ = kustomize::render(&root, ".", &Options::default());
    }
});
