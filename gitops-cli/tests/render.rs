//! `gitops render`.

use std::os::unix::fs::symlink;

use serde_json::Value;

use crate::{err, gitops, gitops_env, gitops_within, mkfifo, out};

#[test]
fn renders_a_directory_as_yaml_that_reads_back() {
    let o = gitops(&["render", "examples/plan/desired"], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert_eq!(text.matches("---\n").count(), 7, "{text}");
    let back = gitops_core_parse(&text);
    assert_eq!(back.len(), 7);
    let json = gitops(&["render", "examples/plan/desired", "-o", "json"], None);
    let v: Value = serde_json::from_str(&out(&json)).expect("JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(7));
    assert_eq!(v, Value::Array(back), "YAML and JSON outputs hold the same objects");
}

/// The objects of a YAML stream, as JSON values (through the binary's own JSON output of a
/// file holding the stream).
fn gitops_core_parse(yaml: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("all.yaml");
    std::fs::write(&f, yaml).expect("write");
    let o = gitops(&["render", f.to_str().expect("utf-8"), "-o", "json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    serde_json::from_str::<Vec<Value>>(&out(&o)).expect("JSON")
}

#[test]
fn recurse_include_and_exclude() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\n");
    std::fs::create_dir_all(dir.path().join("env")).expect("mkdir");
    std::fs::write(dir.path().join("a.yaml"), cm("a")).expect("write");
    std::fs::write(dir.path().join("env/prod.yaml"), cm("prod")).expect("write");
    std::fs::write(dir.path().join("env/dev.yaml"), cm("dev")).expect("write");
    let p = dir.path().to_str().expect("utf-8");
    let names = |args: &[&str]| {
        let mut all = vec!["render", p, "-o", "json"];
        all.extend(args);
        let o = gitops(&all, None);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let v: Vec<Value> = serde_json::from_str(&out(&o)).expect("JSON");
        v.iter().map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>()
    };
    assert_eq!(names(&[]), ["a"]);
    assert_eq!(names(&["--recurse"]), ["a", "dev", "prod"]);
    assert_eq!(names(&["--recurse", "--exclude", "env/d*"]), ["a", "prod"]);
    assert_eq!(names(&["--recurse", "--include", "env/*"]), ["dev", "prod"]);
}

#[test]
fn symlinks_out_of_the_directory_and_unsupported_sources_exit_2() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("stolen.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
        .expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    symlink(outside.path().join("stolen.yaml"), dir.path().join("link.yaml")).expect("symlink");
    let o = gitops(&["render", dir.path().to_str().expect("utf-8")], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("link.yaml: a symlink points outside the repository"), "{}", err(&o));
    assert!(out(&o).is_empty(), "nothing is written: {}", out(&o));
    // A chart is rendered with helm (see gitops-render's tests for a real Helm engine); a
    // missing helm is a clear error.
    let chart = tempfile::tempdir().expect("tempdir");
    std::fs::write(chart.path().join("Chart.yaml"), "apiVersion: v2\nname: x\nversion: 0.1.0\n").expect("write");
    let o = gitops_env(&["render", chart.path().to_str().expect("utf-8")], None, &[("GITOPS_HELM", "/no/such/helm")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("helm is not installed (looked for `/no/such/helm`)"), "{}", err(&o));
    let kustomize = tempfile::tempdir().expect("tempdir");
    std::fs::write(kustomize.path().join("kustomization.yaml"), "resources: []\nnamePrefx: p-\n").expect("write");
    let o = gitops(&["render", kustomize.path().to_str().expect("utf-8")], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("kustomization.yaml: `namePrefx`: unknown field"), "{}", err(&o));
}

#[test]
fn an_app_is_fetched_from_git_and_its_commit_reported() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("repo");
    std::fs::create_dir_all(repo.join("deploy")).expect("mkdir");
    let git = |args: &[&str]| crate::git_in(&repo, args);
    git(&["init", "-q"]);
    std::fs::write(repo.join("deploy/a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n")
        .expect("write");
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "one"]);
    let first = git(&["rev-parse", "HEAD"]);
    std::fs::write(repo.join("deploy/a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second}\n")
        .expect("write");
    git(&["commit", "-q", "-am", "two"]);
    let second = git(&["rev-parse", "HEAD"]);
    let app = work.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  source: {{repoURL: 'file://{}', targetRevision: main, path: deploy}}\n",
            repo.display()
        ),
    )
    .expect("write app");
    let cache = work.path().join("cache");
    let (app, cache) = (app.to_str().expect("utf-8"), cache.to_str().expect("utf-8"));
    let o = gitops(&["render", "--app", app, "--cache", cache], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("name: second"), "{}", out(&o));
    assert!(err(&o).contains(&format!("at refs/heads/main ({second}): 1 objects")), "{}", err(&o));
    let o = gitops(&["render", "--app", app, "--cache", cache, "--revision", &first, "-o", "json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("\"first\""), "{}", out(&o));
    let o = gitops(&["render", "--app", app, "--cache", cache, "--revision", "v9"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("revision `v9` not found"), "{}", err(&o));
    assert!(out(&o).is_empty());
}

#[test]
fn a_kustomization_renders_as_kubectl_kustomize_prints_it() {
    let fixture = "gitops-render/tests/fixtures/kustomize/004-overlay-of-overlay";
    for extra in [&[][..], &["--reorder", "none"][..]] {
        let mut ours = vec!["render", fixture];
        ours.extend(extra);
        let o = gitops(&ours, None);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let kubectl = std::process::Command::new("kubectl")
            .arg("kustomize")
            .arg(crate::repo().join(fixture))
            .args(extra)
            .output()
            .expect("kubectl ships with this machine image");
        assert!(kubectl.status.success());
        assert_eq!(out(&o), String::from_utf8_lossy(&kubectl.stdout), "{extra:?}");
    }
}

#[test]
fn a_file_named_on_the_command_line_is_read_whatever_its_extension_and_dash_is_standard_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\n");
    std::fs::write(dir.path().join("manifest.txt"), cm("from-txt")).expect("write");
    std::fs::write(dir.path().join("a.yaml"), cm("from-yaml")).expect("write");
    // As `kubectl apply -f manifest.txt` reads it.
    let o = gitops(&["render", dir.path().join("manifest.txt").to_str().expect("utf-8")], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("name: from-txt"), "{}", out(&o));
    // Inside a directory, only .yaml, .yml and .json are manifests, as in Argo CD.
    let o = gitops(&["render", dir.path().to_str().expect("utf-8")], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("name: from-yaml") && !out(&o).contains("from-txt"), "{}", out(&o));
    // `-` is standard input, as for `gitops diff`.
    let o = gitops(&["render", "-", "-o", "json"], Some(&cm("from-stdin")));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: Vec<Value> = serde_json::from_str(&out(&o)).expect("JSON");
    assert_eq!(v[0]["metadata"]["name"], "from-stdin");
    let o = gitops(&["render", "-"], Some("kind: ConfigMap\n"));
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("-: document 1"), "{}", err(&o));
}

#[test]
fn standard_input_is_read_up_to_a_limit() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["render", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    // gitops stops reading past the limit and exits; the broken pipe that follows is expected.
    let writer = std::thread::spawn(move || {
        let chunk = format!("# {}\n", "x".repeat(1 << 20));
        for _ in 0..257 {
            if stdin.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
    });
    let o = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        err(&o).trim(),
        "gitops: error: -: larger than 256 MiB, the most gitops reads from one file or from standard input"
    );
}

#[test]
fn special_files_and_symlink_loops_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").expect("write");
    let pipe = dir.path().join("pipe.yaml");
    mkfifo(&pipe);
    let (d, p) = (dir.path().to_str().expect("utf-8"), pipe.to_str().expect("utf-8"));
    for args in [&["render", d][..], &["render", p], &["render", "--app", p]] {
        let o = gitops_within(args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(err(&o).contains("pipe.yaml: is a FIFO, not a regular file"), "{args:?}: {}", err(&o));
    }
    std::fs::remove_file(&pipe).expect("rm");
    symlink("b.yaml", dir.path().join("a-loop.yaml")).expect("symlink");
    symlink("a-loop.yaml", dir.path().join("b.yaml")).expect("symlink");
    let o = gitops_within(&["render", d], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("a-loop.yaml: a symlink loop (a-loop.yaml -> b.yaml -> a-loop.yaml)"), "{}", err(&o));
}

/// Outside a Git work tree, `render overlays/production` from the top of the layout may use
/// `../../base` (the current directory is the root, as for `kubectl kustomize`); from inside the
/// overlay it may not, and the error says which root was used and how to widen it.
#[test]
fn outside_a_git_work_tree_the_current_directory_is_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let top = dir.path();
    std::fs::create_dir_all(top.join("base")).expect("mkdir");
    std::fs::create_dir_all(top.join("overlays/production")).expect("mkdir");
    std::fs::write(top.join("base/kustomization.yaml"), "resources: [cm.yaml]\n").expect("write");
    std::fs::write(top.join("base/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n").expect("write");
    std::fs::write(top.join("overlays/production/kustomization.yaml"), "resources: [../../base]\nnamePrefix: prod-\n")
        .expect("write");
    let render = |cwd: &std::path::Path, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gitops"))
            .arg("render")
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("run")
    };
    let o = render(top, &["overlays/production"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("name: prod-cm"), "{}", out(&o));
    let overlay = top.join("overlays/production");
    let o = render(&overlay, &["."]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let real = overlay.canonicalize().expect("real");
    assert!(
        err(&o).contains(&format!(
            "../../base: leaves the repository root {} (a wider root can be given with --root)",
            real.display()
        )),
        "{}",
        err(&o)
    );
    let o = render(&overlay, &[".", "--root", top.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
}
