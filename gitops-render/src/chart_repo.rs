//! Helm chart repositories over HTTP(S): the `index.yaml`, version resolution, the chart
//! archive, verified and cached, and its safe extraction.
//!
//! An Argo CD Application whose source names a `chart` reads `repoURL` as a chart repository.
//! Its `targetRevision` is resolved as Helm resolves `helm pull --version`: a version written
//! exactly as an entry of the index is that entry; anything else is a Masterminds constraint
//! ([`gitops_core::semver_range`]), and the highest matching version wins, prereleases only
//! when the constraint names one; empty or `*` is the latest release.
//!
//! The archive's sha256 must be the index entry's `digest`: a mismatch is refused, never
//! cached and never rendered. Archives are cached by digest under the cache directory, and so
//! is their extracted tree, each written whole (a temporary file or directory, then a rename),
//! so a chart is downloaded once whatever the number of renders. An entry without a digest
//! cannot be verified: it is downloaded at each render and cached by its own sha256 only.
//!
//! Extraction refuses what Helm refuses and more: absolute paths, `..`, symlinks and hard
//! links, devices and FIFOs, and archives beyond [`CHART_LIMITS`] (bytes expanded and
//! entries). As Helm's loader, the archive's first path component is dropped: the chart is
//! what lies under it.
//!
//! Credentials, as Argo CD's repository Secrets give them ([`Credentials::from_secret`]):
//! basic auth (`username`, `password`), a client certificate (`tlsClientCertData`,
//! `tlsClientCertKey`), `insecure` (no certificate verification), and a CA bundle
//! (`tlsCACertData` here; Argo CD reads CAs from `argocd-tls-certs-cm`). With a CA, only that CA
//! is trusted; without, the Mozilla roots. As Helm (without `--pass-credentials`), credentials
//! go to the repository's own host only, not to a chart URL on another host.
//!
//! OCI registries (`oci://host/path`, as `helm pull oci://host/path/chart --version`): the chart
//! is the repository `path/chart`; its tags are its versions (`+` written `_`, as Helm pushes
//! them), resolved as above; the manifest's Helm chart layer
//! (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`) is the archive, verified against
//! its digest, cached and extracted the same way. The repository credentials' username and
//! password answer the registry's challenge.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use gitops_core::Object;
use gitops_core::semver_range::{Constraints, Version};
use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::git::scrub;
use crate::helm::CHART_LIMITS;

/// The largest `index.yaml` read (the biggest public indexes are a few tens of MiB).
pub const INDEX_LIMIT: u64 = 256 << 20;

/// Why a chart could not be had from its repository. Each names the repository (credentials
/// scrubbed) and the chart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository (or the chart's URL) could not be reached.
    #[error("chart repository {url}: cannot fetch {what}: {reason}")]
    Unreachable {
        /// The URL asked for.
        url: String,
        /// `index.yaml`, or the chart and its version.
        what: String,
        /// Why (connection refused, TLS, timeout...).
        reason: String,
    },
    /// The server answered with an error status.
    #[error("chart repository {url}: {what}: HTTP {status}{hint}")]
    Status {
        /// The URL asked for.
        url: String,
        /// `index.yaml`, or the chart and its version.
        what: String,
        /// The status code.
        status: u16,
        /// What to check.
        hint: &'static str,
    },
    /// A response was larger than allowed.
    #[error("chart repository {url}: {what} is larger than {limit} bytes")]
    TooLarge {
        /// The URL asked for.
        url: String,
        /// What was being read.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// `index.yaml` is not a chart repository index.
    #[error("chart repository {repo}: index.yaml is not a valid index: {reason}")]
    BadIndex {
        /// The repository URL.
        repo: String,
        /// Why.
        reason: String,
    },
    /// The index has no such chart.
    #[error("chart repository {repo}: no chart named `{chart}` in its index.yaml")]
    NoChart {
        /// The repository URL.
        repo: String,
        /// The chart asked for.
        chart: String,
    },
    /// No version of the chart satisfies `targetRevision`.
    #[error("chart repository {repo}: no version of chart `{chart}` matches `{wanted}` (it has {available})")]
    NoVersion {
        /// The repository URL.
        repo: String,
        /// The chart.
        chart: String,
        /// The version or range asked for.
        wanted: String,
        /// The highest versions the index has, for the message.
        available: String,
    },
    /// `targetRevision` is neither a version nor a constraint.
    #[error("chart repository {repo}: chart `{chart}`: targetRevision: {source}")]
    BadVersion {
        /// The repository URL.
        repo: String,
        /// The chart.
        chart: String,
        /// Why it cannot be read.
        source: gitops_core::semver_range::Error,
    },
    /// The index entry has no URL to download the chart from.
    #[error("chart repository {repo}: chart `{chart}` {version} has no download URL in index.yaml")]
    NoUrl {
        /// The repository URL.
        repo: String,
        /// The chart.
        chart: String,
        /// The version.
        version: String,
    },
    /// The archive is not what the index says it is.
    #[error(
        "chart repository {}: chart `{}` {} from {}: digest mismatch: index.yaml says sha256 {}, the download is {}; refusing it",
        .0.repo, .0.chart, .0.version, .0.url, .0.expected, .0.actual
    )]
    DigestMismatch(Box<Mismatch>),
    /// The archive cannot be extracted safely.
    #[error("chart repository {repo}: chart `{chart}` {version}: archive refused: {reason}")]
    BadArchive {
        /// The repository URL.
        repo: String,
        /// The chart.
        chart: String,
        /// The version.
        version: String,
        /// What is wrong.
        reason: String,
    },
    /// A dependency of a chart cannot be built.
    #[error("chart {chart}: dependency `{dependency}`: {reason}")]
    Dependency {
        /// The chart that declares it.
        chart: String,
        /// The dependency's name (`*` for all).
        dependency: String,
        /// Why.
        reason: String,
    },
    /// The credentials given cannot be used.
    #[error("chart repository {repo}: credentials: {reason}")]
    Credentials {
        /// The repository URL.
        repo: String,
        /// What is wrong.
        reason: String,
    },
    /// The repository URL is not an HTTP(S) URL.
    #[error("chart repository {repo}: {reason}")]
    Url {
        /// The repository URL.
        repo: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The cache could not be written.
    #[error("chart cache {}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A chart archive whose digest is not the index's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The repository URL.
    pub repo: String,
    /// The chart.
    pub chart: String,
    /// The version.
    pub version: String,
    /// Where it was downloaded from.
    pub url: String,
    /// The digest of the index.
    pub expected: String,
    /// The digest of the download.
    pub actual: String,
}

/// How to authenticate to a chart repository (Argo CD repository Secret fields).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `username`, for basic auth.
    pub username: Option<String>,
    /// `password`, for basic auth.
    pub password: Option<String>,
    /// A PEM CA bundle to trust instead of the Mozilla roots.
    pub ca_pem: Option<String>,
    /// `tlsClientCertData`: a PEM client certificate (chain).
    pub client_cert_pem: Option<String>,
    /// `tlsClientCertKey`: its PEM private key.
    pub client_key_pem: Option<String>,
    /// `insecure`: skip certificate verification.
    pub insecure: bool,
}

impl fmt::Debug for Credentials {
    // Never prints a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ca_pem", &self.ca_pem.is_some())
            .field("client_cert", &self.client_cert_pem.is_some())
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Credentials for the repositories whose URL they match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoCredentials {
    /// The repository URL (`argocd.argoproj.io/secret-type: repository`: this URL exactly), or
    /// a URL prefix (`repo-creds`: every repository under it).
    pub url: String,
    /// Whether `url` is a prefix (a `repo-creds` Secret).
    pub prefix: bool,
    /// The credentials.
    pub credentials: Credentials,
}

impl Credentials {
    /// The credentials of an Argo CD repository Secret (`repository` or `repo-creds`, `data` in
    /// base64 or `stringData`) of `type: helm`; `None` for another object or a Secret of another
    /// type (`git`, the default, or `oci`).
    pub fn from_secret(o: &Object) -> Option<RepoCredentials> {
        if o.kind() != "Secret" || !o.group().is_empty() {
            return None;
        }
        let label = o.value().pointer("/metadata/labels/argocd.argoproj.io~1secret-type").and_then(|v| v.as_str());
        let prefix = match label {
            Some("repository") => false,
            Some("repo-creds") => true,
            _ => return None,
        };
        let field = |k: &str| -> Option<String> {
            if let Some(s) = o.value().pointer(&format!("/stringData/{k}")).and_then(|v| v.as_str()) {
                return Some(s.to_string());
            }
            let b = o.value().pointer(&format!("/data/{k}")).and_then(|v| v.as_str())?;
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
            String::from_utf8(bytes).ok()
        };
        // Argo CD reads a Secret without a type as a Git repository's.
        if field("type").as_deref() != Some("helm") {
            return None;
        }
        Some(RepoCredentials {
            url: field("url")?,
            prefix,
            credentials: Credentials {
                username: field("username").filter(|s| !s.is_empty()),
                password: field("password"),
                ca_pem: field("tlsCACertData").filter(|s| !s.trim().is_empty()),
                client_cert_pem: field("tlsClientCertData").filter(|s| !s.trim().is_empty()),
                client_key_pem: field("tlsClientCertKey").filter(|s| !s.trim().is_empty()),
                insecure: field("insecure").is_some_and(|s| s == "true"),
            },
        })
    }
}

impl Credentials {
    /// The credentials of the Secret a Flux HelmRepository or OCIRepository names in
    /// `spec.secretRef` (`data` in base64, or `stringData`): `username` and `password`, and
    /// TLS as source-controller reads it (`ca.crt`, `tls.crt`, `tls.key`; the older `caFile`,
    /// `certFile`, `keyFile`).
    pub fn from_flux_secret(o: &Object) -> Credentials {
        let field = |keys: &[&str]| -> Option<String> {
            keys.iter().find_map(|k| {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                if let Some(s) = o.value().pointer(&format!("/stringData/{escaped}")).and_then(|v| v.as_str()) {
                    return Some(s.to_string());
                }
                let b = o.value().pointer(&format!("/data/{escaped}")).and_then(|v| v.as_str())?;
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
                String::from_utf8(bytes).ok()
            })
        };
        let pem = |keys: &[&str]| field(keys).filter(|s| !s.trim().is_empty());
        Credentials {
            username: field(&["username"]).filter(|s| !s.is_empty()),
            password: field(&["password"]),
            ca_pem: pem(&["ca.crt", "caFile"]),
            client_cert_pem: pem(&["tls.crt", "certFile"]),
            client_key_pem: pem(&["tls.key", "keyFile"]),
            insecure: false,
        }
    }
}

/// A chart version as the index lists it, its URL made absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartVersion {
    /// The chart's name.
    pub name: String,
    /// The version, as the index writes it.
    pub version: String,
    /// The sha256 the index gives (lowercase hex), if any.
    pub digest: Option<String>,
    /// Where to download it.
    pub url: String,
}

/// A chart fetched and extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedChart {
    /// The chart directory (it holds `Chart.yaml`); shared, do not modify.
    pub dir: PathBuf,
    /// The version.
    pub version: String,
    /// The archive's sha256 (lowercase hex).
    pub digest: String,
    /// Whether it was downloaded now (not found in the cache).
    pub downloaded: bool,
}

/// Chart repositories, with a cache of charts by digest.
#[derive(Debug, Clone)]
pub struct ChartRepos {
    root: PathBuf,
    timeout: Duration,
    credentials: Vec<RepoCredentials>,
}

/// One index entry, the fields used.
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    urls: Option<Vec<String>>,
    #[serde(default)]
    digest: Option<String>,
}

impl ChartRepos {
    /// Charts cached under `root` (created on first use), 60 s per request, no credentials.
    pub fn new(root: impl Into<PathBuf>) -> ChartRepos {
        ChartRepos { root: root.into(), timeout: Duration::from_secs(60), credentials: Vec::new() }
    }

    /// With these credentials (the first that matches a URL is used; an exact `repository`
    /// one before a `repo-creds` prefix, the longest prefix first).
    pub fn with_credentials(mut self, credentials: Vec<RepoCredentials>) -> ChartRepos {
        self.credentials = credentials;
        self
    }

    /// With `credentials` too, ahead of those given before (a Flux source's own Secret).
    pub fn with_more_credentials(mut self, credentials: RepoCredentials) -> ChartRepos {
        self.credentials.insert(0, credentials);
        self
    }

    /// With this time limit per request.
    pub fn with_timeout(mut self, timeout: Duration) -> ChartRepos {
        self.timeout = timeout;
        self
    }

    /// The credentials for `repo_url`.
    pub fn credentials_for(&self, repo_url: &str) -> Credentials {
        let norm = |u: &str| u.trim_end_matches('/').to_ascii_lowercase();
        let url = norm(repo_url);
        if let Some(c) = self.credentials.iter().find(|c| !c.prefix && norm(&c.url) == url) {
            return c.credentials.clone();
        }
        self.credentials
            .iter()
            .filter(|c| c.prefix && url.starts_with(&norm(&c.url)))
            .max_by_key(|c| c.url.len())
            .map(|c| c.credentials.clone())
            .unwrap_or_default()
    }

    /// The version of `chart` that `wanted` (an Argo CD `targetRevision`) selects in the
    /// repository's index.
    pub fn resolve(&self, repo_url: &str, chart: &str, wanted: &str) -> Result<ChartVersion, Error> {
        self.resolve_in(&Repo::new(repo_url, self)?, chart, wanted)
    }

    fn resolve_in(&self, repo: &Repo, chart: &str, wanted: &str) -> Result<ChartVersion, Error> {
        let index = repo.get(&repo.index_url(), "index.yaml", INDEX_LIMIT, false)?;
        let entries = parse_index(&index, chart).map_err(|reason| Error::BadIndex { repo: repo.shown(), reason })?;
        let entries = entries.ok_or_else(|| Error::NoChart { repo: repo.shown(), chart: chart.to_string() })?;
        let entry = select(&entries, wanted).map_err(|e| match e {
            Selection::Bad(source) => Error::BadVersion { repo: repo.shown(), chart: chart.to_string(), source },
            Selection::None => Error::NoVersion {
                repo: repo.shown(),
                chart: chart.to_string(),
                wanted: wanted.to_string(),
                available: available(&entries),
            },
        })?;
        let version = entry.version.clone().unwrap_or_default();
        let url = entry.urls.iter().flatten().find(|u| !u.is_empty()).ok_or_else(|| Error::NoUrl {
            repo: repo.shown(),
            chart: chart.to_string(),
            version: version.clone(),
        })?;
        let digest = entry
            .digest
            .as_deref()
            .map(|d| d.trim().trim_start_matches("sha256:").to_ascii_lowercase())
            .filter(|d| !d.is_empty());
        // It names files in the cache: anything but a sha256 is refused, never used as a path.
        if let Some(d) = &digest
            && !(d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::BadIndex {
                repo: repo.shown(),
                reason: format!("chart `{chart}` {version}: digest `{d}` is not a sha256 (64 hex digits)"),
            });
        }
        Ok(ChartVersion { name: chart.to_string(), version, digest, url: resolve_url(&repo.base, url) })
    }

    /// Resolves `chart` at `wanted` ([`ChartRepos::resolve`]) and returns its extracted
    /// directory, downloading and verifying it unless the cache has it.
    pub fn fetch(&self, repo_url: &str, chart: &str, wanted: &str) -> Result<FetchedChart, Error> {
        if let Some(path) = repo_url.strip_prefix("oci://") {
            return self.fetch_oci(repo_url, path.trim_end_matches('/'), chart, wanted);
        }
        let repo = Repo::new(repo_url, self)?;
        let found = self.resolve_in(&repo, chart, wanted)?;
        let trees = self.root.join("trees");
        if let Some(digest) = &found.digest
            && let Some(dir) = chart_dir(&trees.join(digest))
        {
            return Ok(FetchedChart { dir, version: found.version, digest: digest.clone(), downloaded: false });
        }
        let (bytes, actual, downloaded) = self.archive(&repo, &found)?;
        self.unpack(&repo.shown(), &found, &bytes, &actual, downloaded)
    }

    /// Extracts a verified chart archive into the tree cache (under its digest) unless it is
    /// there, and returns its directory.
    fn unpack(
        &self,
        shown: &str,
        found: &ChartVersion,
        bytes: &[u8],
        digest: &str,
        downloaded: bool,
    ) -> Result<FetchedChart, Error> {
        let archive_error = |reason: String| Error::BadArchive {
            repo: shown.to_string(),
            chart: found.name.clone(),
            version: found.version.clone(),
            reason,
        };
        let trees = self.root.join("trees");
        let target = trees.join(digest);
        if chart_dir(&target).is_none() {
            let tmp = self.root.join("tmp");
            mkdir(&tmp)?;
            let stage = tempfile::Builder::new().prefix("chart-").tempdir_in(&tmp).map_err(io_at(&tmp))?;
            let into = stage.path().join(chart_dir_name(&found.name));
            extract(bytes, &into).map_err(archive_error)?;
            mkdir(&trees)?;
            // Another process may have put the same chart there first; either copy is whole.
            if std::fs::rename(stage.path(), &target).is_err() && chart_dir(&target).is_none() {
                return Err(Error::Io {
                    path: target,
                    source: std::io::Error::other("cannot move the chart in place"),
                });
            }
        }
        let dir = chart_dir(&target).ok_or_else(|| archive_error("no chart directory".into()))?;
        Ok(FetchedChart { dir, version: found.version.clone(), digest: digest.to_string(), downloaded })
    }

    /// [`ChartRepos::fetch`] from an OCI registry: `registry_path/chart`, its tags as versions.
    fn fetch_oci(&self, repo_url: &str, registry_path: &str, chart: &str, wanted: &str) -> Result<FetchedChart, Error> {
        let shown = scrub(repo_url);
        let (registry, found, layer) = self.resolve_oci(repo_url, registry_path, chart, wanted)?;
        let (version, digest) = (found.version.clone(), found.digest.clone().unwrap_or_default());
        let trees = self.root.join("trees");
        if let Some(dir) = chart_dir(&trees.join(&digest)) {
            return Ok(FetchedChart { dir, version, digest, downloaded: false });
        }
        let bytes = registry
            .blob(&layer, CHART_LIMITS.bytes)
            .map_err(|e| Error::BadIndex { repo: shown.clone(), reason: e.to_string() })?;
        self.unpack(&shown, &found, &bytes, &digest, true)
    }

    /// The chart `chart` of the OCI registry path `registry_path` at `wanted` (a tag or a
    /// range over its tags): the registry, the version found (its digest the chart layer's)
    /// and the layer to download.
    fn resolve_oci(
        &self,
        repo_url: &str,
        registry_path: &str,
        chart: &str,
        wanted: &str,
    ) -> Result<(crate::registry::Registry, ChartVersion, String), Error> {
        use crate::registry::{Options, Registry};
        const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
        let shown = scrub(repo_url);
        let oci = |reason: String| Error::BadIndex { repo: shown.clone(), reason };
        let image = gitops_core::image::reference::ImageRef::parse(&format!("{registry_path}/{chart}"))
            .map_err(|e| oci(format!("chart `{chart}`: {e}")))?;
        let creds = self.credentials_for(repo_url);
        let options = Options {
            ca_pem: creds.ca_pem.clone(),
            credentials: creds.username.clone().map(|username| gitops_core::image::docker_config::Credentials {
                username,
                password: creds.password.clone().unwrap_or_default(),
            }),
            timeout: self.timeout,
            ..Options::default()
        };
        let registry = Registry::new(&image, options).map_err(|e| oci(e.to_string()))?;
        let tags = registry.tags().map_err(|e| oci(e.to_string()))?;
        // Helm pushes `1.0.0+build` as the tag `1.0.0_build`.
        let entries: Vec<Entry> =
            tags.iter().map(|t| Entry { version: Some(t.replace('_', "+")), urls: None, digest: None }).collect();
        let entry = select(&entries, wanted).map_err(|e| match e {
            Selection::Bad(source) => Error::BadVersion { repo: shown.clone(), chart: chart.to_string(), source },
            Selection::None => Error::NoVersion {
                repo: shown.clone(),
                chart: chart.to_string(),
                wanted: wanted.to_string(),
                available: available(&entries),
            },
        })?;
        let version = entry.version.clone().unwrap_or_default();
        let manifest = registry.manifest(&version.replace('+', "_")).map_err(|e| oci(e.to_string()))?;
        let layer = manifest
            .json
            .get("layers")
            .and_then(serde_json::Value::as_array)
            .and_then(|layers| {
                layers.iter().find(|l| l.get("mediaType").and_then(serde_json::Value::as_str) == Some(CHART_LAYER))
            })
            .and_then(|l| l.get("digest").and_then(serde_json::Value::as_str))
            .ok_or_else(|| {
                oci(format!("chart `{chart}` {version}: the manifest has no Helm chart layer ({CHART_LAYER})"))
            })?
            .to_string();
        let digest = layer.trim_start_matches("sha256:").to_string();
        if !(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(oci(format!("chart `{chart}` {version}: layer digest `{layer}` is not a sha256")));
        }
        let found = ChartVersion { name: chart.to_string(), version, digest: Some(digest), url: String::new() };
        Ok((registry, found, layer))
    }

    /// The archive of `found`: from the cache when its digest is known and the cached copy
    /// has it, else downloaded, verified and cached. With its sha256, and whether it was
    /// downloaded.
    fn archive(&self, repo: &Repo, found: &ChartVersion) -> Result<(Vec<u8>, String, bool), Error> {
        let what = format!("chart `{}` {}", found.name, found.version);
        let cached = found.digest.as_ref().map(|d| self.root.join("archives").join(format!("{d}.tgz")));
        let (bytes, downloaded) = match cached.as_ref().and_then(|p| std::fs::read(p).ok()) {
            Some(bytes) if Some(sha256_hex(&bytes)) == found.digest => (bytes, false),
            _ => (repo.get(&found.url, &what, CHART_LIMITS.bytes, true)?, true),
        };
        let actual = sha256_hex(&bytes);
        if let Some(expected) = &found.digest
            && *expected != actual
        {
            return Err(Error::DigestMismatch(Box::new(Mismatch {
                repo: repo.shown(),
                chart: found.name.clone(),
                version: found.version.clone(),
                url: scrub(&found.url),
                expected: expected.clone(),
                actual,
            })));
        }
        if downloaded && let Some(path) = &cached {
            self.write_whole(path, &bytes)?;
        }
        Ok((bytes, actual, downloaded))
    }

    /// Puts into `chart/charts/` the archives of the dependencies named in `missing` that
    /// `Chart.yaml` (or a v1 chart's `requirements.yaml`) declares, as `helm dependency build`
    /// does: each from its chart repository, at the version `Chart.lock` (`requirements.lock`)
    /// pins, else the highest that its version range admits; verified like any chart. The
    /// archive is named `<name>-<version>.tgz`; aliases and conditions are helm's business at
    /// render time. A lock whose dependencies are not those of `Chart.yaml` (names and
    /// repositories, in order) is refused as out of sync, as helm refuses it (helm compares a
    /// digest of both; this compares the lists). Dependencies from OCI registries
    /// (`oci://host/path`, the chart `path/<name>` at a tag or a range over its tags) are pulled
    /// as `helm pull` pulls them. Dependencies from
    /// repositories named (`@name`, `alias:name`) rather than given by URL, or from a local
    /// `file://` path are refused by name.
    pub fn build_dependencies(&self, chart: &Path, missing: &[String]) -> Result<Vec<String>, Error> {
        let read = |name: &str| -> Option<serde_json::Value> {
            let text = std::fs::read_to_string(chart.join(name)).ok()?;
            gitops_core::yaml::parse_documents(&text).ok()?.into_iter().next().map(|d| d.value)
        };
        let shown = chart.file_name().map_or_else(|| "chart".into(), |n| n.to_string_lossy().into_owned());
        let bad = |dependency: &str, reason: String| Error::Dependency {
            chart: shown.clone(),
            dependency: dependency.to_string(),
            reason,
        };
        let (declared, lock) = match read("Chart.yaml").and_then(|c| c.get("dependencies").cloned()) {
            Some(d) => (d, read("Chart.lock")),
            None => (
                read("requirements.yaml").and_then(|r| r.get("dependencies").cloned()).unwrap_or_default(),
                read("requirements.lock"),
            ),
        };
        let declared = declared.as_array().cloned().unwrap_or_default();
        let field = |d: &serde_json::Value, k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let locked = lock.map(|l| l.get("dependencies").and_then(|d| d.as_array()).cloned().unwrap_or_default());
        if let Some(locked) = &locked {
            let key =
                |d: &serde_json::Value| (field(d, "name"), field(d, "repository").trim_end_matches('/').to_string());
            if locked.len() != declared.len() || locked.iter().zip(&declared).any(|(l, d)| key(l) != key(d)) {
                return Err(bad(
                    "*",
                    "Chart.lock is out of sync with the dependencies of Chart.yaml; run `helm dependency update`"
                        .into(),
                ));
            }
        }
        let mut added = Vec::new();
        for (i, d) in declared.iter().enumerate() {
            let name = field(d, "name");
            if !missing.contains(&name) {
                continue;
            }
            let repository = field(d, "repository");
            let lower = repository.to_ascii_lowercase();
            let wanted = match locked.as_ref().and_then(|l| l.get(i)) {
                Some(l) => field(l, "version"),
                None => field(d, "version"),
            };
            // A dependency of an OCI registry: `repository` is the path holding the chart.
            if lower.starts_with("oci://") {
                let path = repository["oci://".len()..].trim_end_matches('/');
                let (registry, found, layer) = self.resolve_oci(&repository, path, &name, &wanted)?;
                let file = format!("{name}-{}.tgz", found.version);
                let charts = chart.join("charts");
                mkdir(&charts)?;
                if !charts.join(&file).exists() {
                    let bytes = registry
                        .blob(&layer, CHART_LIMITS.bytes)
                        .map_err(|e| Error::BadIndex { repo: scrub(&repository), reason: e.to_string() })?;
                    self.write_whole(&charts.join(&file), &bytes)?;
                    added.push(file);
                }
                continue;
            }
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                let why = if lower.starts_with("file://") || repository.is_empty() {
                    "a local dependency must be in the chart's charts/ directory".to_string()
                } else {
                    format!("repository `{repository}` is not a URL; give the chart repository's URL")
                };
                return Err(bad(&name, why));
            }
            let repo = Repo::new(&repository, self)?;
            let found = self.resolve_in(&repo, &name, &wanted)?;
            let (bytes, _, _) = self.archive(&repo, &found)?;
            let file = format!("{name}-{}.tgz", found.version);
            let charts = chart.join("charts");
            mkdir(&charts)?;
            if !charts.join(&file).exists() {
                self.write_whole(&charts.join(&file), &bytes)?;
                added.push(file);
            }
        }
        Ok(added)
    }

    /// Writes `bytes` to `path` through a temporary file and a rename: never half a file.
    fn write_whole(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let dir = path.parent().unwrap_or(&self.root);
        mkdir(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_at(dir))?;
        tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(io_at(tmp.path()))?;
        tmp.persist(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e.error })?;
        Ok(())
    }
}

/// The chart's directory name in the cache: its name, if a plain one.
fn chart_dir_name(chart: &str) -> String {
    let plain = !chart.is_empty()
        && chart != "."
        && chart != ".."
        && chart.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain { chart.to_string() } else { "chart".to_string() }
}

/// The one directory inside an extracted tree, if the tree is there.
fn chart_dir(tree: &Path) -> Option<PathBuf> {
    let mut entries = std::fs::read_dir(tree).ok()?.flatten();
    let first = entries.next()?;
    first.file_type().ok()?.is_dir().then(|| first.path())
}

fn mkdir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(io_at(dir))
}

fn io_at(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A repository to talk to: its URL and an HTTP agent with its credentials.
struct Repo {
    base: String,
    credentials: Credentials,
    agent: ureq::Agent,
}

impl Repo {
    fn new(repo_url: &str, repos: &ChartRepos) -> Result<Repo, Error> {
        let base = repo_url.trim().to_string();
        let lower = base.to_ascii_lowercase();
        if lower.starts_with("oci://") {
            return Err(Error::Url { repo: scrub(&base), reason: "OCI registries are not supported yet" });
        }
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(Error::Url { repo: scrub(&base), reason: "not an http:// or https:// chart repository URL" });
        }
        let credentials = repos.credentials_for(&base);
        let bad = |reason: String| Error::Credentials { repo: scrub(&base), reason };
        let client = match (&credentials.client_cert_pem, &credentials.client_key_pem) {
            (Some(cert), Some(key)) => Some((cert.as_str(), key.as_str())),
            (None, None) => None,
            _ => return Err(bad("tlsClientCertData and tlsClientCertKey go together".into())),
        };
        let tls = TlsSettings { insecure: credentials.insecure, ca_pem: credentials.ca_pem.as_deref(), client };
        let agent = http_agent(&tls, repos.timeout).map_err(bad)?;
        Ok(Repo { base, credentials, agent })
    }

    fn shown(&self) -> String {
        scrub(&self.base)
    }

    fn index_url(&self) -> String {
        format!("{}/index.yaml", self.base.trim_end_matches('/'))
    }

    /// GETs `url`, at most `limit` bytes; `raw`: ask for the bytes as stored (a chart's digest
    /// is that of the archive, not of a decoded transfer).
    fn get(&self, url: &str, what: &str, limit: u64, raw: bool) -> Result<Vec<u8>, Error> {
        let mut request = self.agent.get(url);
        if raw {
            request = request.header("Accept-Encoding", "identity");
        }
        if let Some(user) = &self.credentials.username
            && same_origin(url, &self.base)
        {
            use base64::Engine as _;
            let pair = format!("{user}:{}", self.credentials.password.as_deref().unwrap_or(""));
            let token = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header("Authorization", format!("Basic {token}"));
        }
        let shown = scrub(url);
        let mut response = request.call().map_err(|e| Error::Unreachable {
            url: shown.clone(),
            what: what.to_string(),
            reason: e.to_string(),
        })?;
        let status = response.status().as_u16();
        if status != 200 {
            let hint = match status {
                401 | 403 => " (check the repository's username and password)",
                404 => " (not found: check the repository URL and chart)",
                _ => "",
            };
            return Err(Error::Status { url: shown, what: what.to_string(), status, hint });
        }
        response.body_mut().with_config().limit(limit).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => Error::TooLarge { url: shown.clone(), what: what.to_string(), limit },
            e => Error::Unreachable { url: shown.clone(), what: what.to_string(), reason: e.to_string() },
        })
    }
}

/// How an HTTPS peer is trusted and who we are to it.
pub(crate) struct TlsSettings<'a> {
    /// No certificate verification.
    pub insecure: bool,
    /// PEM CA certificates: only these are trusted (else the Mozilla roots).
    pub ca_pem: Option<&'a str>,
    /// A PEM client certificate (chain) and its PEM key.
    pub client: Option<(&'a str, &'a str)>,
}

/// The blocking HTTP agent chart repositories and image registries are read with: rustls,
/// statuses as responses (not errors), a global timeout; the error names the TLS setting.
pub(crate) fn http_agent(tls: &TlsSettings<'_>, timeout: Duration) -> Result<ureq::Agent, String> {
    let mut config = ureq::tls::TlsConfig::builder().disable_verification(tls.insecure);
    if let Some(pem) = tls.ca_pem {
        let certs = pem_certificates(pem).map_err(|e| format!("CA: {e}"))?;
        if certs.is_empty() {
            return Err("CA: no PEM certificate found".into());
        }
        config = config.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    if let Some((cert, key)) = tls.client {
        let chain = pem_certificates(cert).map_err(|e| format!("tlsClientCertData: {e}"))?;
        let key = ureq::tls::PrivateKey::from_pem(key.as_bytes()).map_err(|e| format!("tlsClientCertKey: {e}"))?;
        config = config.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
    }
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .tls_config(config.build())
        .user_agent(concat!("gitops/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent())
}

pub(crate) fn pem_certificates(pem: &str) -> Result<Vec<ureq::tls::Certificate<'static>>, ureq::Error> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem.as_bytes()) {
        if let ureq::tls::PemItem::Certificate(c) = item? {
            certs.push(c);
        }
    }
    Ok(certs)
}

/// Scheme, host and port of a URL, lowercased.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

fn same_origin(a: &str, b: &str) -> bool {
    origin(a).is_some() && origin(a) == origin(b)
}

/// A chart URL of the index against the repository URL, as Helm resolves it: absolute URLs
/// as they are, `/path` from the host, anything else under the repository URL (as if it
/// ended with `/`); `.` and `..` segments are resolved.
fn resolve_url(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let Some((scheme, rest)) = base.split_once("://") else { return reference.to_string() };
    if let Some(host_relative) = reference.strip_prefix("//") {
        return format!("{scheme}://{host_relative}");
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let joined = if reference.starts_with('/') {
        reference.to_string()
    } else {
        format!("{}/{reference}", path.trim_end_matches('/'))
    };
    let (path, query) = joined.split_once('?').map_or((joined.as_str(), None), |(p, q)| (p, Some(q)));
    let mut segments: Vec<&str> = Vec::new();
    for s in path.split('/').skip(1) {
        match s {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = format!("{scheme}://{authority}/{}", segments.join("/"));
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Why no entry was selected.
enum Selection {
    Bad(gitops_core::semver_range::Error),
    None,
}

/// The entry `wanted` selects, as Helm's `IndexFile.Get`: the entry written exactly so, else
/// the highest version that satisfies `wanted` as a constraint (`*` when empty). Entries
/// whose version is not semver are passed over, as Helm passes over them.
fn select<'a>(entries: &'a [Entry], wanted: &str) -> Result<&'a Entry, Selection> {
    let wanted = wanted.trim();
    if !wanted.is_empty()
        && let Some(e) = entries.iter().find(|e| e.version.as_deref() == Some(wanted))
    {
        return Ok(e);
    }
    let constraint = Constraints::parse(if wanted.is_empty() { "*" } else { wanted }).map_err(Selection::Bad)?;
    let versions: Vec<(Version, &Entry)> =
        entries.iter().filter_map(|e| Some((Version::parse(e.version.as_deref()?).ok()?, e))).collect();
    constraint.highest(versions.iter().map(|(v, e)| (v, *e))).map(|(_, e)| e).ok_or(Selection::None)
}

/// The five highest versions, for a message.
fn available(entries: &[Entry]) -> String {
    let versions: BTreeSet<Version> =
        entries.iter().filter_map(|e| Version::parse(e.version.as_deref()?).ok()).collect();
    if versions.is_empty() {
        return "no valid versions".into();
    }
    let top: Vec<String> = versions.iter().rev().take(5).map(|v| v.to_string()).collect();
    let more = versions.len().saturating_sub(top.len());
    if more > 0 { format!("{}, and {more} more", top.join(", ")) } else { top.join(", ") }
}

/// The entries of `chart` in an index (`None`: no such chart). Only that chart's entries are
/// built; the rest of a large index is read past.
fn parse_index(bytes: &[u8], chart: &str) -> Result<Option<Vec<Entry>>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    // Public indexes run to a million nodes and more; the defaults suit configuration files.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 50_000_000;
    budget.max_events = 100_000_000;
    budget.max_total_scalar_bytes = INDEX_LIMIT as usize;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    let index =
        serde_saphyr::with_deserializer_from_str_with_options(text, options, |d| IndexSeed(chart).deserialize(d))
            .map_err(|e| e.to_string())?;
    match index {
        Some(found) => Ok(found),
        None => Err("no `entries`".into()),
    }
}

/// The top level of an index: `entries` (the chart's, if there) wanted, the rest skipped.
/// `None` when there is no `entries` key at all.
struct IndexSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for IndexSeed<'_> {
    type Value = Option<Option<Vec<Entry>>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for IndexSeed<'_> {
    type Value = Option<Option<Vec<Entry>>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chart repository index (a map with `entries`)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "entries" {
                found = Some(map.next_value_seed(EntriesSeed(self.0))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// `entries`: the list of the one chart wanted; the others skipped unbuilt.
struct EntriesSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = Option<Vec<Entry>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = Option<Vec<Entry>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of chart names to lists of versions")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.0 {
                found = Some(map.next_value::<Option<Vec<Option<Entry>>>>()?.into_iter().flatten().flatten().collect());
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Extracts a gzipped tar chart archive into `into` (created): its first path component
/// dropped, as Helm's loader does; only regular files and directories; nothing outside
/// `into`; within [`CHART_LIMITS`].
fn extract(archive: &[u8], into: &Path) -> Result<(), String> {
    std::fs::create_dir_all(into).map_err(|e| format!("{}: {e}", into.display()))?;
    // Bounded whatever the archive claims: a gzip bomb stops at the limit (contents, plus room
    // for the headers of as many entries as allowed).
    let room = CHART_LIMITS.bytes + 1024 * CHART_LIMITS.entries as u64 + (1 << 20);
    let gz = flate2::read::GzDecoder::new(archive).take(room);
    let mut tar = tar::Archive::new(gz);
    let mut total: u64 = 0;
    let mut count = 0usize;
    let mut files = 0usize;
    for entry in tar.entries().map_err(|e| format!("not a gzipped tar archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("not a gzipped tar archive: {e}"))?;
        count += 1;
        if count > CHART_LIMITS.entries {
            return Err(format!("more than {} entries", CHART_LIMITS.entries));
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory | tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(format!("{name}: a link; chart archives hold regular files only"));
            }
            other => return Err(format!("{name}: {other:?} entries are not allowed")),
        }
        let rel = inside(&name)?;
        let Some(rel) = rel else { continue };
        // `size()`: the size a PAX header gives, where there is one.
        let size = entry.size();
        total += size;
        if total > CHART_LIMITS.bytes {
            return Err(format!("larger than {} bytes expanded", CHART_LIMITS.bytes));
        }
        let path = into.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{name}: {e}"))?;
        }
        let mut file = std::fs::File::create_new(&path).map_err(|e| format!("{name}: {e}"))?;
        let copied =
            std::io::copy(&mut (&mut entry).take(CHART_LIMITS.bytes), &mut file).map_err(|e| format!("{name}: {e}"))?;
        if copied != size {
            return Err(format!("{name}: truncated"));
        }
        files += 1;
    }
    if files == 0 || !into.join("Chart.yaml").is_file() {
        return Err("no Chart.yaml at the top of the chart".into());
    }
    Ok(())
}

/// The path of an archive entry under the chart directory (its first component dropped), or
/// `None` for an entry at the top level; refused if it is absolute or climbs.
fn inside(name: &str) -> Result<Option<PathBuf>, String> {
    let mut out = PathBuf::new();
    let mut top = true;
    for c in Path::new(name).components() {
        match c {
            // The archive's top directory, whatever its name: Helm's loader drops it too.
            Component::Normal(_) if top => top = false,
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("{name}: refers to a parent directory")),
            Component::RootDir | Component::Prefix(_) => return Err(format!("{name}: an absolute path")),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_urls_resolve_against_the_repository() {
        let cases = [
            ("https://charts.example.com", "web-1.0.0.tgz", "https://charts.example.com/web-1.0.0.tgz"),
            ("https://charts.example.com/", "web-1.0.0.tgz", "https://charts.example.com/web-1.0.0.tgz"),
            ("https://h/repo/stable", "charts/web-1.0.0.tgz", "https://h/repo/stable/charts/web-1.0.0.tgz"),
            ("https://h/repo/stable/", "../other/web.tgz", "https://h/repo/other/web.tgz"),
            ("https://h/repo/stable", "/abs/web.tgz", "https://h/abs/web.tgz"),
            ("https://h/repo", "./web.tgz?x=1", "https://h/repo/web.tgz?x=1"),
            ("https://h/repo", "https://cdn.example.com/web.tgz", "https://cdn.example.com/web.tgz"),
            ("https://h/repo", "//cdn.example.com/web.tgz", "https://cdn.example.com/web.tgz"),
            ("http://127.0.0.1:8080/r?token=a", "web.tgz", "http://127.0.0.1:8080/r/web.tgz"),
        ];
        for (base, reference, expected) in cases {
            assert_eq!(resolve_url(base, reference), expected, "{base} + {reference}");
        }
        assert!(same_origin("https://H:443/a", "https://h:443/b"));
        assert!(!same_origin("https://h/a", "https://cdn/a"));
        assert!(!same_origin("http://h/a", "https://h/a"));
    }

    fn entries(versions: &[&str]) -> Vec<Entry> {
        versions
            .iter()
            .map(|v| Entry { version: Some(v.to_string()), urls: Some(vec![format!("web-{v}.tgz")]), digest: None })
            .collect()
    }

    #[test]
    fn versions_are_selected_as_helm_selects_them() {
        let all = entries(&["1.0.0", "1.2.3", "1.2.10", "1.3.0-rc.1", "2.0.0", "v2.1.0", "not-semver", "2.2.0-beta"]);
        let pick = |w: &str| select(&all, w).ok().and_then(|e| e.version.clone());
        assert_eq!(pick("1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(pick("1.2.x").as_deref(), Some("1.2.10"));
        assert_eq!(pick(">=1.0.0 <2.0.0").as_deref(), Some("1.2.10"), "the prerelease stays out");
        assert_eq!(pick(">=1.0.0-0 <2.0.0").as_deref(), Some("1.3.0-rc.1"));
        assert_eq!(pick("").as_deref(), Some("v2.1.0"), "latest release, `v` prefix read");
        assert_eq!(pick("*").as_deref(), Some("v2.1.0"));
        assert_eq!(pick("2.1.0").as_deref(), Some("v2.1.0"), "not written so: a constraint");
        assert_eq!(pick("not-semver").as_deref(), Some("not-semver"), "an exact entry, as Helm");
        assert_eq!(pick("1.2"), Some("1.2.10".into()), "a partial version is a range");
        assert!(matches!(select(&all, "3.x"), Err(Selection::None)));
        assert!(matches!(select(&all, ">=>1"), Err(Selection::Bad(_))));
        assert_eq!(available(&all), "2.2.0-beta, 2.1.0, 2.0.0, 1.3.0-rc.1, 1.2.10, and 2 more");
    }

    #[test]
    fn only_the_wanted_charts_entries_are_read() {
        let index = "apiVersion: v1\ngenerated: x\nentries:\n  other:\n  - {version: 9.9.9, urls: [o.tgz], unknown: {deep: [1, 2]}}\n  web:\n  - version: 1.10\n    urls: [web-1.10.tgz]\n    digest: abc\n    created: 2024-01-01T00:00:00Z\n  - null\n  empty: null\n";
        let web = parse_index(index.as_bytes(), "web").expect("parse").expect("web");
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].version.as_deref(), Some("1.10"), "a version that YAML would read as a float stays text");
        assert_eq!(parse_index(index.as_bytes(), "nope").expect("parse").map(|e| e.len()), None);
        assert_eq!(parse_index(index.as_bytes(), "empty").expect("parse").map(|e| e.len()), Some(0));
        assert!(parse_index(b"apiVersion: v1\n", "web").is_err());
        assert!(parse_index(b"- a\n- b\n", "web").is_err());
        assert!(parse_index(b"entries: [\n", "web").is_err());
    }

    fn targz(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut b = tar::Builder::new(gz);
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("../../etc/passwd").expect("link");
            }
            // Written raw: the builder's own path checks would stop the hostile names.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            b.append(&h, *data).expect("append");
        }
        b.into_inner().expect("tar").finish().expect("gz")
    }

    #[test]
    fn archives_extract_under_the_chart_directory_only() {
        let reg = tar::EntryType::Regular;
        let good = targz(&[
            ("web/Chart.yaml", reg, b"name: web\n"),
            ("web/templates/cm.yaml", reg, b"kind: ConfigMap\n"),
            ("web/", tar::EntryType::Directory, b""),
        ]);
        let dir = tempfile::tempdir().expect("tempdir");
        extract(&good, &dir.path().join("web")).expect("extract");
        assert!(dir.path().join("web/templates/cm.yaml").is_file());
        for (bad, why) in [
            (targz(&[("web/Chart.yaml", reg, b"x"), ("web/../../evil", reg, b"x")]), "parent directory"),
            (targz(&[("web/Chart.yaml", reg, b"x"), ("/etc/evil", reg, b"x")]), "absolute"),
            (targz(&[("web/Chart.yaml", reg, b"x"), ("web/link", tar::EntryType::Symlink, b"")]), "a link"),
            (targz(&[("web/Chart.yaml", reg, b"x"), ("web/fifo", tar::EntryType::Fifo, b"")]), "Fifo"),
            (targz(&[("web/values.yaml", reg, b"x")]), "no Chart.yaml"),
            (b"not gzip at all".to_vec(), "not a gzipped tar"),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let e = extract(&bad, &dir.path().join("web")).expect_err(why);
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn credentials_come_from_argo_cd_repository_secrets() {
        let objects = gitops_core::manifest::parse(
            "secrets.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a, labels: {argocd.argoproj.io/secret-type: repository}}\nstringData: {type: helm, url: 'https://charts.example.com/', username: u, password: p, insecure: 'true'}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b, labels: {argocd.argoproj.io/secret-type: repo-creds}}\ndata: {type: aGVsbQ==, url: aHR0cHM6Ly9jaGFydHMuZXhhbXBsZS5jb20=, username: YWxs, password: eA==}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: c, labels: {argocd.argoproj.io/secret-type: repository}}\nstringData: {type: git, url: 'https://charts.example.com/git'}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: e, labels: {argocd.argoproj.io/secret-type: repository}}\nstringData: {url: 'https://charts.example.com/untyped'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n",
        )
        .expect("parse");
        let creds: Vec<RepoCredentials> = objects.iter().filter_map(Credentials::from_secret).collect();
        assert_eq!(creds.len(), 2, "git secrets and other objects are not chart credentials");
        let repos = ChartRepos::new("/nonexistent").with_credentials(creds);
        let exact = repos.credentials_for("https://charts.example.com");
        assert_eq!((exact.username.as_deref(), exact.insecure), (Some("u"), true));
        let prefixed = repos.credentials_for("https://charts.example.com/stable");
        assert_eq!(prefixed.username.as_deref(), Some("all"));
        assert_eq!(repos.credentials_for("https://other.example.com"), Credentials::default());
        assert!(!format!("{exact:?}").contains("\"p\""), "Debug hides the password");
    }
}
