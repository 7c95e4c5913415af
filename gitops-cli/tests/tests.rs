//! End-to-end tests of the `gitops` binary. Table of contents:
//! - `action`: `action test` of the bundled actions (and a wrong expectation failing);
//!   `action list|run` on a FileCluster (patches, status, a created Job), failing, looping,
//!   disabled and unknown actions leaving the object byte for byte as it was; `action run` on a
//!   kube target (the stand-in): one merge patch, a created Job, a disabled action refused.
//! - `analysis`: `analysis run` of the example canary template against a real Prometheus
//!   (Debian's, `GITOPS_PROMETHEUS`) scraping canaries served on loopback: the healthy one passes,
//!   the bad one fails after `failureLimit` measurements; unknown providers, conditions that do
//!   not compile, missing arguments and an unreachable Prometheus.
//! - `apiserver`: the README example and every example app synced into a real API server (the
//!   k8s-testenv harness, when `GITOPS_TESTENV` names it), then `gitops diff` (client-side and
//!   `--server-side`) Synced; drift seen; Flux HelmReleases on a kube hub released as the real
//!   `helm` reads releases (list, history, values, an upgrade behind their back undone), one
//!   HelmRelease reconciled, suspended and resumed; chart tests run (a Job completing, a Pod
//!   timing out and the upgrade rolled back for it).
//! - `appset`: `appset generate` of every seed-style ApplicationSet (list, clusters with values,
//!   git directories and files from real repositories, matrix, pull request previews and
//!   scmProvider against provider APIs served on 127.0.0.1), its errors; `appset list|get`.
//! - `charts`: an Argo CD Application of a chart from a chart repository on loopback HTTP,
//!   rendered and synced twice into a directory (downloaded once, nothing to apply again);
//!   basic auth from `--repo-creds` Secrets; a Flux HelmRelease of a HelmRepository installed
//!   with Helm's release record, in sync the second time, upgraded when its values change; a
//!   failed upgrade rolled back, retried, rolled back again, then stalled; HelmReleases in a
//!   Flux tree, one waiting (`dependsOn`) for another whose chart range matches nothing, one
//!   uninstalled (objects and records) when Git drops it; a HelmRepository behind basic auth
//!   read with its `secretRef`.
//! - `diff`: exit codes, output formats, --app, --ignore-differences, --argocd-cm, errors, and
//!   FIFOs refused (named on the command line or met in a directory) without blocking.
//! - `fleet`: `reconcile` of a root app and the apps it produces (App-of-Apps to two clusters,
//!   a Flux tree with dependsOn), settling in one run; an unknown cluster named.
//! - `health`: the table and JSON outputs, lookup options, exit codes, `health test`, and FIFOs
//!   refused without blocking.
//! - `image`: `image select` from tags files: Flux ImagePolicies (semver, filterTags with extract,
//!   numerical, alphabetical, the ImageRepository's exclusions) and Argo CD Image Updater
//!   annotations (strategies, allow/ignore, the update decision), exit statuses 0, 1 and 2;
//!   `image scan` against a real registry (Debian's docker-registry, `GITOPS_REGISTRY`).
//! - `image_update`: a Flux ImageUpdateAutomation run twice against a bare Git remote (markers
//!   set, commit author and message template, nothing to do the second time); bad markers and
//!   sources leave Git untouched; Image Updater override files rendered as Argo CD reads them.
//! - `notify`: `notify match` (Flux Alerts taking events: sources, severities, matchLabels
//!   against `--objects`, inclusion and exclusion lists, suspended Alerts; bad input exit 2);
//!   `notify send` to receivers on 127.0.0.1 recording each request: generic and generic-hmac
//!   (the signature checked with openssl), Slack webhook and bot token, Teams, Discord, Google
//!   Chat, GitHub/GitLab/Gitea commit statuses (set once), retries, a proxy; `notify trigger
//!   run` of Argo CD's catalog triggers and configured ones (time helpers) over an Application.
//! - `plan`: ordered steps, actions and reasons, the JSON plan, exit codes, refusals.
//! - `project`: AppProjects enforced on syncs and in a fleet, sync windows, `gitops project`.
//! - `rbac`: `rbac can` Yes/No and exit statuses, --quiet, --strict, ConfigMap overlays,
//!   regex mode, AppProject roles; `rbac validate` valid, invalid (naming the line), empty.
//! - `render`: the directory source, its options, outputs, refusals, apps fetched from Git, a
//!   single file whatever its extension, standard input (capped), and special files refused.
//! - `seal`: `seal`/`unseal` round trips, scopes (a strict secret renamed does not open), and
//!   with kubeseal (`GITOPS_KUBESEAL`): its SealedSecrets unsealed by us, ours by its
//!   `--recovery-unseal`, `--raw`, `--merge-into`.
//! - `sops`: `sops decrypt` byte for byte as the real sops (keys from flags, SOPS_AGE_KEY,
//!   SOPS_AGE_KEY_FILE, the default key file), failures exit 2 without plaintext, `sops encrypt` by
//!   `.sops.yaml` into files the real sops decrypts.
//! - `notify_argo`: Argo CD notifications from the CLI (`notify app`, `notify template notify`) to
//!   loopback receivers (Slack Web API, webhooks, Teams and Teams Workflows, an SMTP listener,
//!   GitHub with an App token: commit statuses, deployments, tagged pull request comments).
//! - `notify_mail`: the email service over TLS to an SMTP server with rustls on loopback: STARTTLS
//!   before AUTH with the CA of `SSL_CERT_FILE`, an untrusted certificate stopping before any
//!   credential, `insecure_skip_verify` with AUTH LOGIN, no password to a server without
//!   STARTTLS, TLS from the first byte on port 465.
//! - `rollout`: `rollout run` of the example canary (steps, background analysis) and blue-green
//!   Rollouts against a real Prometheus (`GITOPS_PROMETHEUS`): a healthy canary reaches its
//!   last step, a bad one aborts after `failureLimit`, a slow one by its background analysis, a
//!   failed pre-promotion analysis keeps the active service; `rollout get` (the plugin's tree)
//!   and the verbs as the bundled actions on a FileCluster and the stand-in (`get`, `promote`,
//!   and a `run` with a web analysis written there); bad Rollouts refused up front.
//! - `safety`: hostile identities and app fields, kubeconfig secrets, capped stdin, a full disk, dry runs.
//! - `sync`: syncs into a FileCluster: order, hooks, idempotence, drift, pruning and its limits.

mod action;
mod analysis;
mod apiserver;
mod appset;
mod charts;
mod diff;
mod fleet;
mod health;
mod image;
mod image_update;
mod notify;
mod notify_argo;
mod notify_mail;
mod plan;
mod project;
mod rbac;
mod render;
mod rollout;
mod safety;
mod seal;
mod sops;
mod sync;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// Runs `gitops` as [`gitops`] does, but fails the test if it is still running after 20 s (and
/// stops it): an input that blocks (a FIFO nobody writes to) fails instead of hanging the suite.
pub fn gitops_within(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops"));
    cmd.args(args).current_dir(repo()).env("NO_COLOR", "1");
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn gitops");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait for gitops").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gitops {args:?} was still running after 20 s: it blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("wait for gitops")
}

/// Makes a FIFO at `path` with the `mkfifo` program.
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A repository with an app file and its manifests: `app.yaml` and `deploy/all.yaml`.
pub fn app_repo(app_yaml: &str, manifests: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("app.yaml"), app_yaml).expect("write");
    std::fs::create_dir_all(dir.path().join("deploy")).expect("mkdir");
    std::fs::write(dir.path().join("deploy/all.yaml"), manifests).expect("write");
    dir
}

/// `gitops sync --app DIR/app.yaml --local DIR`, with extra arguments.
pub fn sync_local(dir: &Path, extra: &[&str]) -> Output {
    let app = dir.join("app.yaml");
    let mut args = vec!["sync", "--app", app.to_str().expect("utf-8"), "--local", dir.to_str().expect("utf-8")];
    args.extend(extra);
    gitops(&args, None)
}

/// Copies the directory `from` (relative to the repository root, or absolute) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(repo().join(from)).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&from.join(entry.file_name()), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Runs git in `dir` as a test author (name, email and `main` set), failing the test on an
/// error; returns its output.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Writes `text` to `rel` under `root`, making the directories it needs.
pub fn write_under(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}
