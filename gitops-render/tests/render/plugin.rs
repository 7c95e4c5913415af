//! Config management plugins.

use std::time::{Duration, Instant};

use gitops_render::plugin::{self, Error, Plugin, PluginContext};
use gitops_render::root::RepoRoot;

use crate::write;

fn sh(script: &str, timeout_ms: u64) -> Plugin {
    Plugin {
        name: "test".into(),
        command: "sh".into(),
        args: vec!["-c".into(), script.into()],
        timeout: Duration::from_millis(timeout_ms),
    }
}

fn ctx() -> PluginContext {
    PluginContext {
        app_name: "shop".into(),
        namespace: "prod".into(),
        revision: "0123abc".into(),
        target_revision: "main".into(),
        repo_url: "https://git.example.com/shop.git".into(),
        env: vec![("COLOR".into(), "blue".into())],
        parameters: vec![("replica-count".into(), "3".into())],
    }
}

#[test]
fn the_plugin_runs_in_the_source_directory_with_argo_cd_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), &[("apps/web/marker", "here")]);
    let root = RepoRoot::new(dir.path()).expect("root");
    let script = r#"cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: $ARGOCD_APP_NAME-$(cat marker)
  namespace: $ARGOCD_APP_NAMESPACE
data:
  revision: "$ARGOCD_APP_REVISION"
  path: "$ARGOCD_APP_SOURCE_PATH"
  color: "$ARGOCD_ENV_COLOR"
  replicas: "$PARAM_REPLICA_COUNT"
EOF"#;
    let objects = plugin::render(&root, "apps/web", &sh(script, 5_000), &ctx()).expect("render");
    assert_eq!(objects.len(), 1);
    let o = objects[0].value();
    assert_eq!(o["metadata"]["name"], "shop-here");
    assert_eq!(o["metadata"]["namespace"], "prod");
    assert_eq!(o["data"]["revision"], "0123abc");
    assert_eq!(o["data"]["path"], "apps/web");
    assert_eq!(o["data"]["color"], "blue");
    assert_eq!(o["data"]["replicas"], "3");
}

#[test]
fn failures_surface_stderr_and_timeouts_stop_the_plugin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = RepoRoot::new(dir.path()).expect("root");
    let e = plugin::render(&root, ".", &sh("echo 'values.yaml: no such key' >&2; exit 3", 5_000), &ctx())
        .expect_err("failure");
    assert!(matches!(e, Error::Failed { .. }), "{e}");
    assert!(e.to_string().contains("values.yaml: no such key"), "{e}");
    let start = Instant::now();
    let e = plugin::render(&root, ".", &sh("sleep 5", 200), &ctx()).expect_err("timeout");
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(3), "the plugin was not stopped: {:?}", start.elapsed());
    let e = plugin::render(&root, ".", &sh("echo 'not: [yaml'", 5_000), &ctx()).expect_err("output");
    assert!(e.to_string().starts_with("plugin test: output is not valid manifests"), "{e}");
    let missing = Plugin { command: "/no/such/program".into(), ..sh("", 1_000) };
    assert!(matches!(plugin::render(&root, ".", &missing, &ctx()), Err(Error::Spawn { .. })));
}

#[test]
fn a_plugin_never_runs_outside_the_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), &[("repo/a", "")]);
    let root = RepoRoot::new(dir.path().join("repo")).expect("root");
    let marker = dir.path().join("ran");
    let script = format!("touch {}", marker.display());
    for bad in ["..", "../repo/..", "/tmp"] {
        let e = plugin::render(&root, bad, &sh(&script, 5_000), &ctx()).expect_err(bad);
        assert!(matches!(e, Error::Path(_)), "{bad}: {e}");
    }
    assert!(!marker.exists(), "the plugin must not have run");
}

#[test]
fn a_plugin_source_with_a_symlink_out_or_a_fifo_is_refused_before_the_plugin_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), &[("secret.txt", "s3cr3t"), ("repo/app/a.yaml", "")]);
    let root = RepoRoot::new(dir.path().join("repo")).expect("root");
    let marker = dir.path().join("ran");
    let script = format!("touch {}; cat * >/dev/null", marker.display());
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), dir.path().join("repo/app/secret.txt")).expect("symlink");
    let e = plugin::render(&root, "app", &sh(&script, 5_000), &ctx()).expect_err("symlink out");
    assert!(matches!(e, Error::Path(_)), "{e}");
    assert!(e.to_string().starts_with("app/secret.txt: a symlink points outside the repository"), "{e}");
    std::fs::remove_file(dir.path().join("repo/app/secret.txt")).expect("rm");
    crate::mkfifo(&dir.path().join("repo/app/pipe.yaml"));
    let (r, s) = (root.clone(), script.clone());
    let e = crate::within(Duration::from_secs(10), move || plugin::render(&r, "app", &sh(&s, 5_000), &ctx()))
        .expect_err("FIFO");
    assert_eq!(e.to_string(), "app/pipe.yaml: is a FIFO, not a regular file");
    assert!(!marker.exists(), "the plugin must not have run");
}
