use serde_json::Value;

use super::{parse_kustomization, parse_stream, write_document};

use serde_json::json;

/// Renders every document of `text` the way kustomize prints them, joined by `---`.
fn render(text: &str) -> String {
    let docs = parse_stream("t.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_document(d, &mut out);
    }
    out
}

/// Probes: (name, input document, what `kubectl kustomize` (kustomize v5.5.0) printed for
/// it, or the error it reported), from a fixture file of `tests/fixtures/kustomize-yaml`.
fn probes(json: &str, said: &str) -> Vec<(String, String, String)> {
    let rows: Vec<Value> = serde_json::from_str(json).expect("probe fixtures are JSON");
    let field = |row: &Value, key: &str| row[key].as_str().expect("probe fields are strings").to_string();
    rows.iter().map(|row| (field(row, "name"), field(row, "input"), field(row, said))).collect()
}

/// Documents probed with `kubectl kustomize`, and what it printed.
fn probed() -> Vec<(String, String, String)> {
    probes(include_str!("../../../tests/fixtures/kustomize-yaml/probed.json"), "kubectl")
}

/// Documents `kubectl kustomize` refused, and the error it reported.
fn refused() -> Vec<(String, String, String)> {
    probes(include_str!("../../../tests/fixtures/kustomize-yaml/refused.json"), "kubectl_error")
}

#[test]
fn probed_documents_render_like_kubectl() {
    let mut failures = Vec::new();
    let probed = probed();
    for (name, input, want) in &probed {
        let got = render(input);
        if got != *want {
            failures.push(format!("{name}:\n--- want\n{want}--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), probed.len(), failures.join("\n"));
}

#[test]
fn documents_kustomize_refuses_are_errors() {
    for (name, input, kubectl_said) in refused() {
        assert!(parse_stream("t.yaml", &input).is_err(), "{name} parsed, but kubectl said: {kubectl_said}");
    }
}

// Stream-level cases; expected output probed with `kubectl kustomize` on the same file.
const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ";

#[test]
fn kustomization_files_read_as_go_yaml_v2() {
    let read = |text: &str| parse_kustomization("k.yaml", text).unwrap();
    assert_eq!(
        read("a: yes\nb: n\nc: On\nd: 2024-01-02\ne: 2.0\nf: 1.5\ng: 0o12\nh: 1_000\n"),
        Some(json!({"a": true, "b": false, "c": true, "d": "2024-01-02", "e": 2, "f": 1.5, "g": 10, "h": 1000}))
    );
    assert_eq!(read("a: 1\na: 2\n---\n[not yaml\n"), Some(json!({"a": 2})));
    assert_eq!(read("m: {1: a, true: b, 1.5: c}\n"), Some(json!({"m": {"1": "a", "true": "b", "1.5": "c"}})));
    assert_eq!(read("m: {a: 1, <<: {a: 2, b: 3}, b: 4}\n"), Some(json!({"m": {"a": 2, "b": 4}})));
    assert_eq!(read("# nothing\n"), None);
    assert!(parse_kustomization("k.yaml", "m: {~: a}\n").is_err());
    assert!(parse_kustomization("k.yaml", "m: .inf\n").is_err());
}

#[test]
fn stream_splitting_follows_kyaml() {
    let a = format!("{CM}a\n");
    let b = format!("{CM}b\n");
    // BOM and CRLF are accepted.
    let k = "apiVersion: v1\ndata:\n  k: v\nkind: ConfigMap\nmetadata:\n  name: a\n";
    assert_eq!(render(&format!("\u{feff}{CM}a\ndata:\n  k: v\n")), k);
    let k = "apiVersion: v1\ndata:\n  k: |\n    x\n    y\nkind: ConfigMap\nmetadata:\n  name: a\n";
    assert_eq!(render(&format!("{CM}a\r\ndata:\r\n  k: |\r\n    x\r\n    y\r\n")), k);
    // Only the first document after a `...` end marker is read.
    assert_eq!(render(&format!("{a}...\n{b}")), a);
    // Only the first JSON object of a piece is read.
    assert_eq!(
        render(
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n{\"apiVersion\": \"v1\"}\n"
        ),
        a
    );
    // Empty, comment-only and null documents are skipped; `---` on the first line starts a document.
    assert_eq!(render(&format!("---\n{a}---\n# c\n---\nnull\n---\n~\n---\n{b}")), format!("{a}---\n{b}"));
    assert_eq!(render(""), "");
    assert_eq!(render("# x\n# y\n"), "");
}

#[test]
fn stream_errors_name_document_and_line() {
    let e = parse_stream("r.yaml", &format!("{CM}a\n--- x\n{CM}b\n")).unwrap_err();
    assert_eq!(e.position(), (1, 5));
    assert!(e.to_string().contains("invalid document separator: --- x"), "{e}");
    let e = parse_stream("r.yaml", &format!("{CM}a\n---\n{CM}b\ndata:\n\tk: v\n")).unwrap_err();
    assert!(e.to_string().starts_with("r.yaml: document 2: line 11: "), "{e}");
    let e = parse_stream("r.yaml", &format!("{CM}a\n---\n{CM}b\ndata:\n  k: 1\n  k: 2\n")).unwrap_err();
    assert_eq!(e.position(), (2, 12), "{e}");
    assert!(e.to_string().starts_with("r.yaml: document 2: line 12: mapping key `k`"), "{e}");
    // A piece that starts with `...` is refused by go-yaml.
    assert!(parse_stream("r.yaml", &format!("{CM}a\n---\n...\n")).is_err());
    // Anchors do not cross documents.
    assert!(parse_stream("r.yaml", &format!("{CM}a\nv: &x 1\n---\n{CM}b\nv: *x\n")).is_err());
}

#[test]
fn values_keep_what_kustomize_needs() {
    let docs =
        parse_stream("t.yaml", "a: 1.0\nb: 012\nc: yes\nd: 2020-01-01\ne: !!binary aGVsbG8=\nf: 1_000\n").unwrap();
    assert_eq!(
        docs,
        vec![json!({"a": 1.0, "b": 10, "c": "yes", "d": "2020-01-01T00:00:00Z", "e": "hello", "f": 1000})]
    );
    // Top-level non-string keys keep their text; a list or scalar document is returned as is.
    assert_eq!(
        parse_stream("t", "1: a\ntrue: b\n0x10: c\n").unwrap(),
        vec![json!({"1": "a", "true": "b", "0x10": "c"})]
    );
    assert_eq!(parse_stream("t", "- a\n- 1\n").unwrap(), vec![json!(["a", 1])]);
    assert_eq!(parse_stream("t", "hello\n").unwrap(), vec![json!("hello")]);
}

#[test]
fn writer_handles_odd_values_without_panicking() {
    let v = json!({"k": ["\u{feff}a b\n", "\u{85}--- x", "", " ", "\n", {"": []}, [[]], "a".repeat(300)]});
    let mut out = String::new();
    write_document(&v, &mut out);
    assert!(out.ends_with('\n'));
    let mut out = String::new();
    write_document(&json!("top"), &mut out);
    assert_eq!(out, "top\n");
}

#[test]
fn timestamps_with_a_run_of_spaces_are_quoted() {
    // Probed: `kubectl kustomize` quotes these (Go's `time.Parse` lets a layout space match a
    // run of spaces), and leaves `-0b-1` plain (not a number for go-yaml v2).
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"2001-12-14  21:59:43\"\n  c: \"2001-12-14   1:2:3.5\"\n  e: \"-0b-1\"\n";
    let want = "apiVersion: v1\ndata:\n  a: \"2001-12-14  21:59:43\"\n  c: \"2001-12-14   1:2:3.5\"\n  e: -0b-1\nkind: ConfigMap\nmetadata:\n  name: x\n";
    assert_eq!(render(doc), want);
}
