//! Image registries over the OCI Distribution API (blocking HTTP, as chart repositories):
//! tags, manifests and indexes, and the config blob's creation time.
//!
//! - Tags: `GET /v2/<name>/tags/list?n=<page>`, following `Link: <...>; rel="next"` until
//!   the registry stops or [`Options::max_tags`] are read.
//! - Manifests: OCI image manifests and indexes, Docker schema 2 manifests and manifest lists;
//!   the digest is `Docker-Content-Digest` (else the sha256 of the bytes, which is what it
//!   stands for). An index resolves to the first entry for one of the wanted platforms
//!   (`os/arch[/variant]`, [`Platform`]); its config blob's `created` is the image's
//!   creation time (newest-build).
//! - Auth as `docker pull` does it: anonymous first; a `401` with a `WWW-Authenticate:
//!   Bearer realm=..., service=..., scope=...` challenge is answered by asking the realm for a
//!   token (with the credentials as basic auth when there are some), kept for the next
//!   requests; a `Basic` challenge is answered with the credentials.
//! - `429` and `5xx` are retried with exponential backoff, a `Retry-After` in seconds
//!   honoured (capped), [`Options::retries`] times.
//!
//! Errors name the registry, the repository and the status, with what to check.

use std::cell::RefCell;
use std::time::Duration;

use base64::Engine as _;
use gitops_core::image::docker_config::Credentials;
use gitops_core::image::reference::ImageRef;
use gitops_core::image::updater::Platform;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::chart_repo::{TlsSettings, http_agent};

/// Media types asked for when reading a manifest.
pub const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
/// The largest manifest read.
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// The largest config blob read.
pub const CONFIG_LIMIT: u64 = 8 << 20;
/// The largest tags page read.
pub const PAGE_LIMIT: u64 = 16 << 20;
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a registry did not answer as needed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection (refused, DNS, TLS, timeout).
    #[error("registry {registry} unreachable for repository {repository}: {reason}")]
    Unreachable {
        /// `host[:port]`.
        registry: String,
        /// The repository.
        repository: String,
        /// Why.
        reason: String,
    },
    /// A status other than success.
    #[error("{status} from {registry} for repository {repository}{what}: {hint}")]
    Status {
        /// `401 Unauthorized`, `404 Not Found`...
        status: String,
        /// `host[:port]`.
        registry: String,
        /// The repository.
        repository: String,
        /// ` (manifest 1.0)`, ` (tags)`...
        what: String,
        /// What to check.
        hint: &'static str,
    },
    /// An answer that does not read.
    #[error("registry {registry}, repository {repository}: {reason}")]
    Protocol {
        /// `host[:port]`.
        registry: String,
        /// The repository.
        repository: String,
        /// What is wrong.
        reason: String,
    },
    /// A TLS setting that does not read.
    #[error("registry {registry}: {reason}")]
    Tls {
        /// `host[:port]`.
        registry: String,
        /// What is wrong.
        reason: String,
    },
}

/// How to talk to a registry.
#[derive(Debug, Clone)]
pub struct Options {
    /// Plain HTTP (also used for `localhost` and `127.x` registries, as Docker does).
    pub insecure_http: bool,
    /// PEM CA certificates trusted instead of the Mozilla roots.
    pub ca_pem: Option<String>,
    /// Credentials (from a docker-registry Secret).
    pub credentials: Option<Credentials>,
    /// Each request's time budget.
    pub timeout: Duration,
    /// The most tags read.
    pub max_tags: usize,
    /// Tags asked for per page (`n=`).
    pub page_size: usize,
    /// Retries of a `429` or `5xx`.
    pub retries: u32,
    /// The first backoff (doubled at each retry).
    pub backoff: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            insecure_http: false,
            ca_pem: None,
            credentials: None,
            timeout: Duration::from_secs(30),
            max_tags: 10_000,
            page_size: 1000,
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

/// A manifest as read: its digest, media type and JSON.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `sha256:...`.
    pub digest: String,
    /// The media type (`Content-Type`, else the document's `mediaType`).
    pub media_type: String,
    /// The document.
    pub json: Value,
}

impl Manifest {
    /// Whether this is an index (OCI) or a manifest list (Docker).
    pub fn is_index(&self) -> bool {
        self.media_type.contains("index")
            || self.media_type.contains("manifest.list")
            || self.json.get("manifests").is_some()
    }
}

/// What a tag resolves to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The tag's own manifest digest (an index's when it is one).
    pub digest: String,
    /// The digest of the platform's image manifest (the same as `digest` for a plain image).
    pub image_digest: String,
    /// The config's `created`, if any.
    pub created: Option<jiff::Timestamp>,
}

/// One repository of one registry.
pub struct Registry {
    agent: ureq::Agent,
    base: String,
    registry: String,
    repository: String,
    options: Options,
    /// The `Authorization` value that worked last (a bearer token, or basic).
    authorization: RefCell<Option<String>>,
}

impl Registry {
    /// A client for the image's repository (its tag and digest are ignored).
    pub fn new(image: &ImageRef, options: Options) -> Result<Registry, Error> {
        let host = image.api_host().to_owned();
        let scheme = if options.insecure_http || image.is_local() { "http" } else { "https" };
        let tls = TlsSettings { insecure: false, ca_pem: options.ca_pem.as_deref(), client: None };
        let agent =
            http_agent(&tls, options.timeout).map_err(|reason| Error::Tls { registry: host.clone(), reason })?;
        Ok(Registry {
            agent,
            base: format!("{scheme}://{host}"),
            registry: image.registry.clone(),
            repository: image.repository.clone(),
            options,
            authorization: RefCell::new(None),
        })
    }

    /// All tags, in the registry's order, up to [`Options::max_tags`].
    pub fn tags(&self) -> Result<Vec<String>, Error> {
        let mut tags = Vec::new();
        let mut url = format!("{}/v2/{}/tags/list?n={}", self.base, self.repository, self.options.page_size);
        loop {
            let (response, body) = self.get(&url, &[], PAGE_LIMIT, " (tags)")?;
            let json: Value =
                serde_json::from_slice(&body).map_err(|e| self.protocol(format!("tags list is not JSON: {e}")))?;
            let page = match json.get("tags") {
                Some(Value::Array(items)) => items,
                Some(Value::Null) | None => &Vec::new(),
                Some(_) => return Err(self.protocol("tags list: `tags` is not a list".into())),
            };
            for tag in page {
                let tag = tag.as_str().ok_or_else(|| self.protocol("tags list: a tag is not a string".into()))?;
                if tags.len() >= self.options.max_tags {
                    return Ok(tags);
                }
                tags.push(tag.to_owned());
            }
            match next_link(response.link.as_deref()) {
                Some(next) if !page.is_empty() => url = self.absolute(&next),
                _ => return Ok(tags),
            }
        }
    }

    /// The manifest a tag or digest names.
    pub fn manifest(&self, reference: &str) -> Result<Manifest, Error> {
        let url = format!("{}/v2/{}/manifests/{}", self.base, self.repository, reference);
        let accept = MANIFEST_TYPES.join(", ");
        let (response, body) =
            self.get(&url, &[("Accept", &accept)], MANIFEST_LIMIT, &format!(" (manifest {reference})"))?;
        let json: Value = serde_json::from_slice(&body)
            .map_err(|e| self.protocol(format!("manifest {reference} is not JSON: {e}")))?;
        let digest = response.digest.unwrap_or_else(|| format!("sha256:{:x}", Sha256::digest(&body)));
        let media_type = response
            .content_type
            .filter(|t| !t.is_empty() && t != "application/json")
            .or_else(|| json.get("mediaType").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        Ok(Manifest { digest, media_type, json })
    }

    /// A tag's digest, and with `created` its platform image's creation time. An index
    /// resolves to its first entry for one of `platforms` (any entry when none is given).
    pub fn resolve(&self, tag: &str, platforms: &[Platform], created: bool) -> Result<Resolved, Error> {
        let top = self.manifest(tag)?;
        let image = if top.is_index() {
            let entries = top.json.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default();
            let chosen = entries
                .iter()
                .find(|m| {
                    let p = |k: &str| m.pointer(&format!("/platform/{k}")).and_then(Value::as_str).unwrap_or("");
                    platforms.is_empty()
                        || platforms.iter().any(|want| want.matches(p("os"), p("architecture"), p("variant")))
                })
                .ok_or_else(|| {
                    let wanted: Vec<String> = platforms.iter().map(ToString::to_string).collect();
                    self.protocol(format!("tag {tag}: no image for platform {} in its index", wanted.join(" or ")))
                })?;
            let digest = chosen
                .get("digest")
                .and_then(Value::as_str)
                .ok_or_else(|| self.protocol(format!("tag {tag}: an index entry has no digest")))?;
            if created {
                Some(self.manifest(digest)?)
            } else {
                Some(Manifest { digest: digest.to_owned(), media_type: String::new(), json: Value::Null })
            }
        } else {
            None
        };
        let image_manifest = image.as_ref().unwrap_or(&top);
        let created = if created { self.created(image_manifest, tag)? } else { None };
        Ok(Resolved { digest: top.digest.clone(), image_digest: image_manifest.digest.clone(), created })
    }

    /// A blob (a layer or a config) by digest, up to `limit` bytes, checked against its digest.
    pub fn blob(&self, digest: &str, limit: u64) -> Result<Vec<u8>, Error> {
        let url = format!("{}/v2/{}/blobs/{}", self.base, self.repository, digest);
        let (_, body) = self.get(&url, &[], limit, &format!(" (blob {digest})"))?;
        let actual = format!("sha256:{:x}", Sha256::digest(&body));
        if actual != digest {
            return Err(self.protocol(format!("blob {digest}: its content has digest {actual}")));
        }
        Ok(body)
    }

    /// The `created` of an image manifest's config blob.
    fn created(&self, manifest: &Manifest, tag: &str) -> Result<Option<jiff::Timestamp>, Error> {
        let Some(config) = manifest.json.pointer("/config/digest").and_then(Value::as_str) else {
            return Err(self.protocol(format!("tag {tag}: the image manifest has no config")));
        };
        let url = format!("{}/v2/{}/blobs/{}", self.base, self.repository, config);
        let (_, body) = self.get(&url, &[], CONFIG_LIMIT, &format!(" (config of {tag})"))?;
        let json: Value =
            serde_json::from_slice(&body).map_err(|e| self.protocol(format!("config of {tag} is not JSON: {e}")))?;
        json.get("created")
            .and_then(Value::as_str)
            .map(|t| {
                t.parse::<jiff::Timestamp>().map_err(|e| self.protocol(format!("config of {tag}: created {t:?}: {e}")))
            })
            .transpose()
    }

    fn protocol(&self, reason: String) -> Error {
        Error::Protocol { registry: self.registry.clone(), repository: self.repository.clone(), reason }
    }

    fn absolute(&self, link: &str) -> String {
        if link.starts_with("http://") || link.starts_with("https://") {
            link.to_owned()
        } else {
            format!("{}{}", self.base, link)
        }
    }

    /// GETs `url` with auth, retries and a size limit; the body of a success.
    fn get(&self, url: &str, headers: &[(&str, &str)], limit: u64, what: &str) -> Result<(Head, Vec<u8>), Error> {
        let mut attempt = 0;
        let mut challenged = false;
        loop {
            let mut request = self.agent.get(url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            if let Some(auth) = self.authorization.borrow().as_ref() {
                request = request.header("Authorization", auth.as_str());
            }
            let mut response = request.call().map_err(|e| self.unreachable(e.to_string()))?;
            let status = response.status();
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            if status.is_success() {
                let head = Head {
                    link: header("link"),
                    digest: header("docker-content-digest"),
                    content_type: header("content-type"),
                };
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(limit)
                    .read_to_vec()
                    .map_err(|e| self.unreachable(format!("reading{what}: {e}")))?;
                return Ok((head, body));
            }
            let code = status.as_u16();
            if code == 401 && !challenged {
                challenged = true;
                if let Some(challenge) = header("www-authenticate") {
                    self.answer(&challenge)?;
                    continue;
                }
            }
            if (code == 429 || status.is_server_error()) && attempt < self.options.retries {
                let wait = header("retry-after")
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
                    .unwrap_or(self.options.backoff * 2u32.saturating_pow(attempt));
                attempt += 1;
                std::thread::sleep(wait);
                continue;
            }
            let hint = match code {
                401 => "check the pull secret (its .dockerconfigjson must hold credentials for this registry host)",
                403 => "the credentials may not read this repository",
                404 => "check the image name (and the tag)",
                429 => "rate limited: retries exhausted",
                _ if status.is_server_error() => "the registry failed: retries exhausted",
                _ => "unexpected status",
            };
            return Err(Error::Status {
                status: format!("{code} {}", status.canonical_reason().unwrap_or("")).trim_end().to_owned(),
                registry: self.registry.clone(),
                repository: self.repository.clone(),
                what: what.to_owned(),
                hint,
            });
        }
    }

    fn unreachable(&self, reason: String) -> Error {
        Error::Unreachable { registry: self.registry.clone(), repository: self.repository.clone(), reason }
    }

    /// Sets the `Authorization` a challenge asks for: basic credentials, or a bearer token
    /// from the realm (anonymous when there are no credentials).
    fn answer(&self, challenge: &str) -> Result<(), Error> {
        let (scheme, params) = parse_challenge(challenge);
        let basic = self.options.credentials.as_ref().map(|c| {
            let pair = format!("{}:{}", c.username, c.password);
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
        });
        if scheme.eq_ignore_ascii_case("basic") {
            *self.authorization.borrow_mut() = basic;
            return Ok(());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.protocol(format!("unsupported authentication challenge {scheme:?}")));
        }
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.protocol("a Bearer challenge without realm".into()))?;
        let mut query: Vec<String> = Vec::new();
        for key in ["service", "scope"] {
            if let Some((_, v)) = params.iter().find(|(k, _)| k == key) {
                query.push(format!("{key}={}", encode_query(v)));
            }
        }
        if !params.iter().any(|(k, _)| k == "scope") {
            query.push(format!("scope={}", encode_query(&format!("repository:{}:pull", self.repository))));
        }
        let url = if query.is_empty() {
            realm.clone()
        } else {
            format!("{realm}{}{}", if realm.contains('?') { '&' } else { '?' }, query.join("&"))
        };
        let mut request = self.agent.get(&url);
        if let Some(basic) = &basic {
            request = request.header("Authorization", basic.as_str());
        }
        let mut response = request.call().map_err(|e| self.unreachable(format!("token service {realm}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::Status {
                status: format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))
                    .trim_end()
                    .to_owned(),
                registry: self.registry.clone(),
                repository: self.repository.clone(),
                what: format!(" (token from {realm})"),
                hint: "check the pull secret (its .dockerconfigjson must hold credentials for this registry host)",
            });
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| self.unreachable(e.to_string()))?;
        let json: Value = serde_json::from_slice(&body)
            .map_err(|e| self.protocol(format!("token service {realm}: not JSON: {e}")))?;
        let token = json
            .get("token")
            .or_else(|| json.get("access_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.protocol(format!("token service {realm}: no token in the answer")))?;
        *self.authorization.borrow_mut() = Some(format!("Bearer {token}"));
        Ok(())
    }
}

/// The headers kept from a response.
struct Head {
    link: Option<String>,
    digest: Option<String>,
    content_type: Option<String>,
}

/// The target of a `rel="next"` link (`<url>; rel="next"`), if any.
pub fn next_link(link: Option<&str>) -> Option<String> {
    for part in link?.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            return Some(target.trim_start_matches('<').trim_end_matches('>').to_owned());
        }
    }
    None
}

/// `Scheme k="v", k2=v2`: the scheme and its parameters (keys lower-cased).
pub fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_owned(), params)
}

fn encode_query(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_links_read_as_registries_write_them() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            params,
            [
                ("realm".to_owned(), "https://auth.example/token".to_owned()),
                ("service".to_owned(), "registry.example".to_owned()),
                ("scope".to_owned(), "repository:team/app:pull,push".to_owned()),
            ]
        );
        let (scheme, params) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((scheme.as_str(), params[0].1.as_str()), ("Basic", "Registry Realm"));
        let (_, params) = parse_challenge("Bearer realm=http://x/t, service=s");
        assert_eq!(params[1], ("service".to_owned(), "s".to_owned()));

        assert_eq!(
            next_link(Some(r#"</v2/app/tags/list?last=b&n=2>; rel="next""#)).as_deref(),
            Some("/v2/app/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(Some(r#"<https://r/a?x=1>; rel="prev", <https://r/b>; rel=next"#)).as_deref(),
            Some("https://r/b")
        );
        assert_eq!(next_link(Some(r#"</x>; rel="prev""#)), None);
        assert_eq!(next_link(None), None);
        assert_eq!(encode_query("repository:team/app:pull"), "repository%3Ateam%2Fapp%3Apull");
    }
}
