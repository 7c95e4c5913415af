//! A real Kubernetes control plane for tests: `kube-apiserver`, `kube-controller-manager` and
//! etcd, built from Kubernetes' own Go modules by `tools/k8s-testenv/build.sh` (as
//! controller-runtime's envtest provides them), started once per test binary on free loopback
//! ports.
//!
//! The stand-in above answers in microseconds and lets tests steer controllers; this is the
//! real thing, for what only the real server can prove (field ownership, defaulting, dry runs,
//! discovery, watches, conflicts, garbage collection).
//!
//! Where the harness binary comes from: the environment variable [`ENV_VAR`] names it (`.ci/run`
//! sets it to what `tools/k8s-testenv/build.sh` printed). When it is unset, [`shared`] returns
//! [`Unavailable::NotConfigured`] and tests say loudly that they skipped; when it is set but the
//! control plane cannot start, that is a test failure.
//!
//! Lifetime: the harness is a child process whose standard input is a pipe from this process.
//! When the test binary exits (however it exits), the kernel closes the pipe; the harness sees
//! EOF, stops the servers and removes its directory. The servers themselves die with the harness
//! (`PR_SET_PDEATHSIG`).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The environment variable naming the `k8s-testenv` binary.
pub const ENV_VAR: &str = "GITOPS_TESTENV";

/// How long the control plane may take to come up (etcd, the API server's post-start hooks, the
/// controller manager's first service account) on a busy 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(240);

/// Why no real control plane is available.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unavailable {
    /// [`ENV_VAR`] is unset: the caller should skip, saying so.
    #[error(
        "{ENV_VAR} is not set; build the harness with `tools/k8s-testenv/build.sh` (Go needed) and run with \
         {ENV_VAR}=<the path it prints>"
    )]
    NotConfigured,
    /// It is set, and starting failed: the caller should fail.
    #[error("the k8s-testenv control plane did not start: {0}")]
    Failed(String),
}

/// A running control plane.
#[derive(Debug)]
pub struct TestEnv {
    kubeconfig: PathBuf,
    dir: PathBuf,
    // Held so the pipe stays open as long as the process lives; never written to.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

impl TestEnv {
    /// The admin kubeconfig (context `testenv`, user in group `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The harness's directory: certificates, the servers' logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tail of a server's log (`kube-apiserver`, `kube-controller-manager`, `etcd`), for
    /// failure messages.
    pub fn log_tail(&self, server: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join(format!("{server}.log"))).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

static SHARED: OnceLock<Result<TestEnv, Unavailable>> = OnceLock::new();

/// The control plane of this test binary, started on first use.
pub fn shared() -> Result<&'static TestEnv, Unavailable> {
    SHARED.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// The control plane for a test, or `None` after telling the terminal why the test is skipped.
/// Panics (failing the test) when [`ENV_VAR`] is set and the control plane cannot start: in CI
/// an absent harness must not pass as a skip.
pub fn or_skip(test: &str) -> Option<&'static TestEnv> {
    match shared() {
        Ok(env) => Some(env),
        Err(Unavailable::NotConfigured) => {
            // Written to the stream itself, not through `eprintln!`, which the test harness
            // captures for passing tests: the skip must show in every run.
            let line = format!("{test}: SKIPPED, no real API server: {}\n", Unavailable::NotConfigured);
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

fn start() -> Result<TestEnv, Unavailable> {
    let Some(binary) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) else {
        return Err(Unavailable::NotConfigured);
    };
    let failed = |what: String| Unavailable::Failed(what);
    let binary = PathBuf::from(binary);
    if !binary.is_file() {
        return Err(failed(format!(
            "{ENV_VAR}={}: no such file (build it with tools/k8s-testenv/build.sh)",
            binary.display()
        )));
    }
    let dir = std::env::temp_dir().join(format!(
        "gitops-testenv-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
    ));
    let mut child = Command::new(&binary)
        .arg("up")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e}", binary.display())))?;
    let stdin = child.stdin.take().ok_or_else(|| failed("no stdin pipe".into()))?;
    let stdout = child.stdout.take().ok_or_else(|| failed("no stdout pipe".into()))?;
    let mut stderr = child.stderr.take().ok_or_else(|| failed("no stderr pipe".into()))?;

    // The harness prints one line, `ready <kubeconfig>`, or exits with its reason on stderr.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let started = Instant::now();
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            return Err(failed(format!("not ready after {START_TIMEOUT:?}; logs in {}", dir.display())));
        }
    };
    let Some(kubeconfig) = line.trim_end().strip_prefix("ready ") else {
        let _ = child.wait();
        let mut reason = String::new();
        let _ = stderr.read_to_string(&mut reason);
        return Err(failed(format!("{}; logs in {}", reason.trim(), dir.display())));
    };
    // Stderr is drained so the harness never blocks on a full pipe.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
    });
    let line = format!("k8s-testenv: control plane up in {:.1?} ({})\n", started.elapsed(), dir.display());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    Ok(TestEnv { kubeconfig: PathBuf::from(kubeconfig), dir, _stdin: Mutex::new(stdin), _child: Mutex::new(child) })
}
