//! A real image registry for tests: Debian's `docker-registry` (the CNCF distribution
//! registry), started on a free loopback port with filesystem storage in a temporary directory,
//! optionally behind htpasswd basic auth; and a pusher that writes images through the
//! registry API (blob uploads, config blobs with `created`, manifests, indexes).
//!
//! The binary is named by [`ENV_VAR`] (`.ci/run` sets it to `/usr/bin/docker-registry`); unset,
//! [`or_skip`] says so and the test skips; set but unusable, the test fails. Basic auth needs
//! `htpasswd` (apache2-utils) to write a bcrypt entry.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The environment variable naming the `docker-registry` binary.
pub const ENV_VAR: &str = "GITOPS_REGISTRY";

/// A running registry; stopped and its storage removed when dropped.
pub struct TestRegistry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// `(user, password)` when started with basic auth.
    pub basic: Option<(String, String)>,
    _dir: tempfile::TempDir,
    agent: ureq::Agent,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registry for a test, or `None` after saying on the terminal why the test is skipped.
/// Panics when [`ENV_VAR`] is set and the registry cannot start.
pub fn or_skip(test: &str, basic: Option<(&str, &str)>) -> Option<TestRegistry> {
    let Some(binary) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) else {
        let line = format!(
            "{test}: SKIPPED, no image registry: set {ENV_VAR}=/usr/bin/docker-registry (apt-get install docker-registry apache2-utils)\n"
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        return None;
    };
    Some(start(PathBuf::from(binary), basic).unwrap_or_else(|e| panic!("{test}: {e}")))
}

fn start(binary: PathBuf, basic: Option<(&str, &str)>) -> Result<TestRegistry, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let host = format!("127.0.0.1:{port}");
    let storage = dir.path().join("storage");
    let mut config = format!(
        "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nhttp:\n  addr: {host}\n",
        storage.display()
    );
    if let Some((user, password)) = basic {
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .map_err(|e| format!("htpasswd (apache2-utils) is needed for basic auth: {e}"))?;
        if !out.status.success() {
            return Err(format!("htpasswd failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let file = dir.path().join("htpasswd");
        std::fs::write(&file, &out.stdout).map_err(|e| e.to_string())?;
        config.push_str(&format!("auth:\n  htpasswd:\n    realm: test-registry\n    path: {}\n", file.display()));
    }
    let config_path = dir.path().join("config.yml");
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
    let child = Command::new(&binary)
        .arg("serve")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{ENV_VAR}={}: cannot start: {e}", binary.display()))?;
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let registry = TestRegistry {
        child,
        host: host.clone(),
        basic: basic.map(|(u, p)| (u.to_owned(), p.to_owned())),
        _dir: dir,
        agent,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = registry.agent.get(&format!("http://{host}/v2/")).call()
            && matches!(r.status().as_u16(), 200 | 401)
        {
            return Ok(registry);
        }
        if Instant::now() > deadline {
            return Err(format!("docker-registry did not answer on {host} within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An image pushed: its manifest digest.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `sha256:...` of the manifest (or index) bytes.
    pub digest: String,
}

impl TestRegistry {
    fn auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.basic {
            Some((u, p)) => {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                request.header("Authorization", format!("Basic {token}"))
            }
            None => request,
        }
    }

    fn auth_post(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        self.auth(self.agent.post(url))
    }

    /// Uploads a blob (monolithic: POST then PUT with the digest); its digest.
    pub fn push_blob(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = format!("sha256:{:x}", Sha256::digest(bytes));
        let r = self
            .auth_post(&format!("http://{}/v2/{repository}/blobs/uploads/", self.host))
            .send_empty()
            .expect("upload start");
        assert_eq!(r.status().as_u16(), 202, "blob upload start");
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location").to_owned();
        let location = if location.starts_with("http") { location } else { format!("http://{}{location}", self.host) };
        let sep = if location.contains('?') { '&' } else { '?' };
        let r = self
            .auth(self.agent.put(&format!("{location}{sep}digest={digest}")))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .expect("upload");
        assert_eq!(r.status().as_u16(), 201, "blob upload");
        digest
    }

    /// Puts a manifest (or index) under a tag; its digest.
    pub fn push_manifest(&self, repository: &str, tag: &str, media_type: &str, json: &serde_json::Value) -> Pushed {
        let bytes = serde_json::to_vec(json).expect("json");
        let r = self
            .auth(self.agent.put(&format!("http://{}/v2/{repository}/manifests/{tag}", self.host)))
            .header("Content-Type", media_type)
            .send(&bytes[..])
            .expect("manifest put");
        assert_eq!(r.status().as_u16(), 201, "manifest put {repository}:{tag}");
        Pushed { digest: format!("sha256:{:x}", Sha256::digest(&bytes)) }
    }

    /// Pushes a minimal OCI image (a config with `created`, `os`, `architecture`, one layer)
    /// under `tag` (or only by digest when `tag` is a digest placeholder `""`).
    pub fn push_image(&self, repository: &str, tag: &str, created: &str, os: &str, arch: &str) -> Pushed {
        let config = serde_json::json!({
            "created": created,
            "architecture": arch,
            "os": os,
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": {},
        });
        let config_bytes = serde_json::to_vec(&config).expect("json");
        let config_digest = self.push_blob(repository, &config_bytes);
        let layer = format!("layer of {repository} {tag} {arch}").into_bytes();
        let layer_digest = self.push_blob(repository, &layer);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_bytes.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
        });
        let reference = if tag.is_empty() {
            format!("sha256:{:x}", Sha256::digest(serde_json::to_vec(&manifest).expect("json")))
        } else {
            tag.to_owned()
        };
        self.push_manifest(repository, &reference, "application/vnd.oci.image.manifest.v1+json", &manifest)
    }

    /// Pushes an OCI index of one image per `(os, arch, variant, created)` under `tag`.
    pub fn push_index(
        &self,
        repository: &str,
        tag: &str,
        images: &[(&str, &str, &str, &str)],
    ) -> (Pushed, Vec<Pushed>) {
        let mut entries = Vec::new();
        let mut pushed = Vec::new();
        for (os, arch, variant, created) in images {
            let image = self.push_image(repository, "", created, os, arch);
            let mut platform = serde_json::json!({"os": os, "architecture": arch});
            if !variant.is_empty() {
                platform["variant"] = serde_json::Value::String((*variant).to_owned());
            }
            entries.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": image.digest,
                "size": 0,
                "platform": platform,
            }));
            pushed.push(image);
        }
        // Sizes must be right for strict registries: fill them in from what was stored.
        for entry in &mut entries {
            let digest = entry["digest"].as_str().expect("digest").to_owned();
            let r = self
                .auth(self.agent.head(&format!("http://{}/v2/{repository}/manifests/{digest}", self.host)))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .call()
                .expect("head");
            let size: u64 = r
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            entry["size"] = serde_json::json!(size);
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        });
        (self.push_manifest(repository, tag, "application/vnd.oci.image.index.v1+json", &index), pushed)
    }
}
