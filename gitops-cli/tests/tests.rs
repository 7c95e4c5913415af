//! End-to-end tests of the `gitops` binary. Table of contents:
//! - `diff`: exit codes, output formats, --app, --ignore-differences, --argocd-cm, errors.
//! - `health`: the table and JSON outputs, lookup options, exit codes, and `health test`.
//! - `plan`: ordered steps, actions and reasons, the JSON plan, exit codes, refusals.
//! - `render`: the directory source, its options, outputs, refusals, and apps fetched from Git.
//! - `safety`: hostile identities and app fields, kubeconfig secrets, capped stdin, a full disk, dry runs.
//! - `sync`: syncs into a FileCluster: order, hooks, idempotence, drift, pruning and its limits.

mod diff;
mod health;
mod plan;
mod render;
mod safety;
mod sync;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root (for the bundled example).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Runs `gitops` with arguments, optionally feeding stdin.
pub fn gitops(args: &[&str], stdin: Option<&str>) -> Output {
    gitops_env(args, stdin, &[])
}

/// Runs `gitops` with arguments and extra environment, optionally feeding stdin.
pub fn gitops_env(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops"));
    cmd.args(args).current_dir(repo()).env("NO_COLOR", "1").envs(env.iter().copied());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn gitops");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for gitops")
}

/// stdout as text.
pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
