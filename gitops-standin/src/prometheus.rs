//! A real Prometheus for tests: Debian's `prometheus`, started on a free loopback port with
//! its TSDB in a temporary directory, scraping every 200 ms a metrics endpoint this module
//! serves on loopback ([`Canaries`]): per service, request counters that grow by 100 a scrape
//! with a fixed share of 5xx answers, and a p99 latency gauge.
//!
//! The binary is named by [`ENV_VAR`] (`.ci/run` sets it to `/usr/bin/prometheus`); unset,
//! [`or_skip`] says so and the test skips; set but unusable, the test fails.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The environment variable naming the `prometheus` binary.
pub const ENV_VAR: &str = "GITOPS_PROMETHEUS";

/// A service the metrics endpoint reports: its name, the share of 5xx answers, p99 latency.
#[derive(Debug, Clone)]
pub struct Service {
    /// The `service` label.
    pub name: String,
    /// Share of requests answered 5xx (0 to 1).
    pub error_ratio: f64,
    /// The `http_request_latency_p99_seconds` gauge.
    pub p99_seconds: f64,
}

/// The metrics endpoint: `/metrics` in Prometheus' text format.
pub struct Canaries {
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl Canaries {
    /// Serves `services` on a free loopback port until the process ends.
    pub fn serve(services: Vec<Service>) -> std::io::Result<Canaries> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let scrapes = Arc::new(AtomicU64::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                // The request line and headers, up to the blank line.
                while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                    line.clear();
                }
                let mut body =
                    String::from("# TYPE http_requests_total counter\n# TYPE http_request_latency_p99_seconds gauge\n");
                for s in &services {
                    let total = 100 * n;
                    let errors = (total as f64 * s.error_ratio).round() as u64;
                    body.push_str(&format!(
                        "http_requests_total{{service=\"{0}\",code=\"200\"}} {1}\nhttp_requests_total{{service=\"{0}\",code=\"500\"}} {2}\nhttp_request_latency_p99_seconds{{service=\"{0}\"}} {3}\n",
                        s.name,
                        total - errors,
                        errors,
                        s.p99_seconds
                    ));
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = (&stream).write_all(reply.as_bytes());
            }
        });
        Ok(Canaries { address })
    }
}

/// A running Prometheus; stopped and its storage removed when dropped.
pub struct TestPrometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Prometheus scraping `target` (`host:port`) for a test, or `None` after saying why the
/// test is skipped. Panics when [`ENV_VAR`] is set and Prometheus cannot start.
pub fn or_skip(test: &str, target: &str) -> Option<TestPrometheus> {
    let Some(binary) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) else {
        let line =
            format!("{test}: SKIPPED, no Prometheus: set {ENV_VAR}=/usr/bin/prometheus (apt-get install prometheus)\n");
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        return None;
    };
    Some(start(PathBuf::from(binary), target).unwrap_or_else(|e| panic!("{test}: {e}")))
}

fn start(binary: PathBuf, target: &str) -> Result<TestPrometheus, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 200ms\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: canaries\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n  static_configs:\n  - targets: ['{target}']\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.path().join("prometheus.log")).map_err(|e| e.to_string())?;
    let child = Command::new(&binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("{ENV_VAR}={}: cannot start: {e}", binary.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    let prometheus = TestPrometheus { child, url: url.clone(), _dir: dir };
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent();
    // Ready once a rate over the canaries' counters has two samples to go on.
    let probe = format!("{url}/api/v1/query?query=count(rate(http_requests_total%5B5s%5D)%20%3E%200)");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut r) = agent.get(&probe).call()
            && let Ok(text) = r.body_mut().read_to_string()
            && text.contains("\"result\":[{")
        {
            return Ok(prometheus);
        }
        if Instant::now() > deadline {
            return Err(format!("prometheus did not serve a rate of {target} on {url} within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
