//! `gitops diff`.

use serde_json::Value;

use crate::{err, gitops, gitops_within, mkfifo, out};

const DESIRED: &str = "examples/shop/desired";
const LIVE: &str = "examples/shop/live";

#[test]
fn bundled_example_shows_drift_and_exits_1() {
    let o = gitops(&["diff", DESIRED, LIVE, "--app", "examples/shop/app.yaml"], None);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("--- live apps/Deployment/default/web"), "{text}");
    assert!(text.contains("-  replicas: 3\n+  replicas: 2"), "{text}");
    assert!(text.contains("OutOfSync: 3 synced, 1 out of sync, 1 missing, 1 requiring pruning"), "{text}");
    assert!(!text.contains("\x1b["), "no colour when stdout is not a terminal");
}

#[test]
fn json_report_is_stable_and_masks_secrets() {
    let o = gitops(&["diff", DESIRED, LIVE, "--app", "examples/shop/app.yaml", "-o", "json"], None);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let v: Value = serde_json::from_str(&out(&o)).expect("valid JSON");
    assert_eq!(v["modified"], true);
    assert_eq!(v["summary"]["outOfSync"], 1);
    let objects = v["objects"].as_array().expect("objects");
    let web = objects.iter().find(|o| o["key"] == "apps/Deployment/default/web").expect("web");
    assert_eq!(web["status"], "OutOfSync");
    assert_eq!(web["group"], "apps");
    assert_eq!(web["kind"], "Deployment");
    assert_eq!(web["namespace"], "default");
    assert_eq!(web["name"], "web");
    assert_eq!(web["patch"][0]["path"], "/spec/replicas");
    let secret = objects.iter().find(|o| o["kind"] == "Secret").expect("secret");
    assert_eq!(secret["status"], "Synced");
    assert!(objects.iter().all(|o| o["key"].is_string() && o["status"].is_string()));
}

#[test]
fn identical_sets_exit_0_and_stdin_works() {
    let text = std::fs::read_to_string(crate::repo().join("examples/shop/live/web-service.yaml")).unwrap();
    let o = gitops(&["diff", "-", "examples/shop/live/web-service.yaml", "-o", "summary"], Some(&text));
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("Synced           /Service/default/web"), "{}", out(&o));
}

#[test]
fn untracked_live_objects_are_not_pruned_with_an_app() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.yaml");
    std::fs::write(&live, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: someone-elses, namespace: default}\n")
        .unwrap();
    let desired = dir.path().join("desired.yaml");
    std::fs::write(&desired, "").unwrap();
    let (l, d) = (live.to_str().unwrap(), desired.to_str().unwrap());
    let without_app = gitops(&["diff", d, l, "-o", "summary"], None);
    assert_eq!(without_app.status.code(), Some(1));
    assert!(out(&without_app).contains("RequiresPruning"));
    let with_app = gitops(&["diff", d, l, "--app", "examples/shop/app.yaml", "-o", "summary"], None);
    assert_eq!(with_app.status.code(), Some(0), "{}", out(&with_app));
}

#[test]
fn ignore_differences_file_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("ignore.yaml");
    std::fs::write(&rules, "- group: apps\n  kind: Deployment\n  jsonPointers: [/spec/replicas]\n").unwrap();
    let o = gitops(
        &["diff", DESIRED, LIVE, "--ignore-differences", rules.to_str().unwrap(), "--explain", "-o", "summary"],
        None,
    );
    let text = out(&o);
    assert!(text.contains("Synced           apps/Deployment/default/web"), "{text}");
    assert!(text.contains("ignored: /spec/replicas by `/spec/replicas` (spec.ignoreDifferences[0])"), "{text}");
    assert!(text.contains("mode: three-way"), "{text}");
}

#[test]
fn bad_input_exits_2_naming_file_document_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n").unwrap();
    let o = gitops(&["diff", bad.to_str().unwrap(), LIVE], None);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("bad.yaml: document 2 (line 7): missing `metadata.name`"), "{e}");
    let o = gitops(&["diff", DESIRED, "no/such/dir"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no/such/dir"), "{}", err(&o));
    let o = gitops(&["diff", DESIRED], None);
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, "- kind: Deployment\n  jqPathExpressions: ['def f: f; f']\n").unwrap();
    let o = gitops(&["diff", DESIRED, LIVE, "--ignore-differences", rules.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}

#[test]
fn duplicate_desired_keys_name_both_origins() {
    let dir = tempfile::tempdir().unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\n";
    std::fs::write(dir.path().join("a.yaml"), cm).unwrap();
    std::fs::write(dir.path().join("b.yaml"), cm).unwrap();
    let o = gitops(&["diff", dir.path().to_str().unwrap(), LIVE], None);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(
        e.contains("/ConfigMap/default/dup is defined twice") && e.contains("a.yaml") && e.contains("b.yaml"),
        "{e}"
    );
}

#[test]
fn fifos_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipe = dir.path().join("pipe.yaml");
    mkfifo(&pipe);
    std::fs::create_dir(dir.path().join("live")).expect("mkdir");
    mkfifo(&dir.path().join("live/pipe.yaml"));
    let p = pipe.to_str().expect("utf-8");
    let live = dir.path().join("live");
    let live = live.to_str().expect("utf-8");
    for args in [
        &["diff", p, LIVE][..],
        &["diff", DESIRED, live],
        &["diff", DESIRED, LIVE, "--app", p],
        &["diff", DESIRED, LIVE, "--ignore-differences", p],
        &["diff", DESIRED, LIVE, "--argocd-cm", p],
        &["plan", p, LIVE],
    ] {
        let o = gitops_within(args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(err(&o).contains("pipe.yaml: is a FIFO, not a regular file"), "{args:?}: {}", err(&o));
    }
}

/// A failing jq rule on a Secret must not print its values, in any output format: not the
/// error's value (`error(.data.password)`), not a type error quoting it, not a reason that
/// differs with it. The diff itself masks them as always.
#[test]
fn jq_rule_failures_never_print_secret_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = |value: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: default}}\ntype: Opaque\ndata: {{password: {value}, user: YWRtaW4=}}\n"
        )
    };
    // base64 of "s3cr3t-hunter2" and of "an0ther-value"
    let (live_value, desired_value) = ("czNjcjN0LWh1bnRlcjI=", "YW4wdGhlci12YWx1ZQ==");
    std::fs::write(dir.path().join("live.yaml"), secret(live_value)).expect("write");
    std::fs::write(dir.path().join("desired.yaml"), secret(desired_value)).expect("write");
    std::fs::write(
        dir.path().join("rules.yaml"),
        r#"- kind: Secret
  jqPathExpressions:
  - '.data | keys | .[]'
  - 'error(.data.password)'
  - '.data.password | error'
  - 'tostring | error'
  - '.data.password | .x'
  - 'select(.data.password | startswith("czNj")) | error'
"#,
    )
    .expect("write");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let mut seen_warning = false;
    for format in [&["-o", "diff", "--explain"][..], &["-o", "summary", "--explain"], &["-o", "json"], &["-o", "yaml"]]
    {
        let mut args = vec!["diff".to_string(), path("desired.yaml"), path("live.yaml")];
        args.extend(["--ignore-differences".to_string(), path("rules.yaml")]);
        args.extend(format.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = gitops(&args, None);
        assert_eq!(o.status.code(), Some(1), "{format:?}: {}{}", out(&o), err(&o));
        let all = format!("{}{}", out(&o), err(&o));
        for needle in [live_value, desired_value, "czNjcjN0", "s3cr3t", "hunter2", "YW4wdGhlci", "an0ther"] {
            assert!(!all.contains(needle), "{format:?} shows {needle}: {all}");
        }
        seen_warning |= all.contains("failed on this Secret");
    }
    assert!(seen_warning, "the failing rules are reported");
}

/// A key given twice is read as kubectl and Argo CD read it (the last wins) with a warning
/// naming both lines, by every command that reads manifests; `--strict` refuses the file.
#[test]
fn duplicate_keys_warn_and_the_last_wins_unless_strict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let desired = dir.path().join("cm.yaml");
    std::fs::write(
        &desired,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  mode: blue\n  mode: green\n",
    )
    .expect("write");
    let live = dir.path().join("live.yaml");
    std::fs::write(
        &live,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: default}\ndata: {mode: green}\n",
    )
    .expect("write");
    let (d, l) = (desired.to_str().expect("utf-8"), live.to_str().expect("utf-8"));
    let warning = format!("warning: {d}: line 7 and line 8 both set data.mode; the last wins");
    for args in [vec!["diff", d, l], vec!["plan", d, l], vec!["render", d], vec!["health", d]] {
        let o = gitops(&args, None);
        assert!(err(&o).contains(&warning), "{args:?}: {}", err(&o));
        assert_ne!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
        let mut strict = args.clone();
        strict.push("--strict");
        let o = gitops(&strict, None);
        assert_eq!(o.status.code(), Some(2), "{strict:?}: {}", out(&o));
        assert!(err(&o).contains("line 8 column 9: duplicate key `mode`"), "{strict:?}: {}", err(&o));
    }
    // The last value is the one compared: live holds it, so nothing differs.
    let o = gitops(&["diff", d, l], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(gitops(&["render", d], None).stdout.windows(11).any(|w| w == b"mode: green"));
}

/// LIVE may be given as `--live`, as `gitops health --live` takes it; once, not twice.
#[test]
fn live_is_a_positional_or_an_option() {
    let positional = gitops(&["diff", "examples/shop/desired", "examples/shop/live", "-o", "json"], None);
    let option = gitops(&["diff", "examples/shop/desired", "--live", "examples/shop/live", "-o", "json"], None);
    assert_eq!(positional.status.code(), Some(1), "{}", err(&positional));
    assert_eq!((option.status.code(), out(&option)), (Some(1), out(&positional)));
    let both = gitops(&["diff", "examples/shop/desired", "examples/shop/live", "--live", "kube"], None);
    assert_eq!(both.status.code(), Some(2));
    assert!(err(&both).contains("cannot be used with"), "{}", err(&both));
}
