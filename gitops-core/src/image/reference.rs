//! Image references as Docker and containerd read them (`distribution/reference`,
//! `ParseNormalizedNamed`): `[registry[:port]/]path[:tag][@algorithm:hex]`.
//!
//! Normalization, which decides which registry is asked and under which repository name:
//! - the first `/`-separated component is a registry only if it holds a `.` or a `:`, is
//!   `localhost`, or has an upper-case letter (`nginx/app` is Docker Hub's `nginx/app`,
//!   `registry.local/app` and `host:5000/app` are registries);
//! - no registry means `docker.io`, and `index.docker.io` is `docker.io` too;
//! - a one-component Docker Hub path is an official image: `nginx` is `docker.io/library/nginx`;
//! - path components are lower case `[a-z0-9]` runs joined by `.`, `_`, `__` or dashes; a tag is
//!   `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; a digest is `algorithm:hex` with a known algorithm and
//!   the right length (`sha256` 64 hex digits); the whole name is at most 255 bytes.
//!
//! # Example
//!
//! ```
//! use gitops_core::image::reference::ImageRef;
//!
//! let r = ImageRef::parse("nginx:1.27")?;
//! assert_eq!(r.registry, "docker.io");
//! assert_eq!(r.repository, "library/nginx");
//! assert_eq!(r.to_string(), "docker.io/library/nginx:1.27");
//! assert_eq!(r.familiar_name(), "nginx");
//!
//! let r = ImageRef::parse(&format!("localhost:5000/team/app@sha256:{}", "a".repeat(64)))?;
//! assert_eq!(r.registry, "localhost:5000");
//! assert_eq!(r.with_tag("v2").to_string(), format!("localhost:5000/team/app:v2@sha256:{}", "a".repeat(64)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

/// Docker Hub's registry name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's registry API answers on (references say `docker.io`).
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The longest repository name (`registry/path`) accepted, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// The longest tag accepted, in bytes.
pub const MAX_TAG_LEN: usize = 128;

/// Why a text is not an image reference; the messages are Docker's, with the text named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Nothing to read.
    #[error("invalid image reference \"\": repository name must have at least one component")]
    Empty,
    /// A bare 64-hex-digit name, which Docker reserves for image IDs.
    #[error("invalid image reference {0:?}: a repository name cannot be a 64-digit hexadecimal string (an image ID)")]
    ImageId(String),
    /// The path has upper-case letters.
    #[error("invalid image reference {0:?}: the repository name must be lowercase")]
    Uppercase(String),
    /// The registry, path, tag or digest breaks the grammar.
    #[error("invalid image reference {text:?}: {reason}")]
    Format {
        /// The reference as written.
        text: String,
        /// Which part is wrong.
        reason: &'static str,
    },
    /// `registry/path` is longer than [`MAX_NAME_LEN`].
    #[error("invalid image reference {0:?}: the repository name is longer than 255 bytes")]
    NameTooLong(String),
    /// A digest with an algorithm Docker does not know, or the wrong length of hex digits.
    #[error(
        "invalid image reference {text:?}: bad digest {digest:?} (sha256 needs 64, sha384 96, sha512 128 lowercase hex digits)"
    )]
    Digest {
        /// The reference as written.
        text: String,
        /// The digest part.
        digest: String,
    },
}

/// An image reference, normalized: the registry is always named (`docker.io` when none is
/// written) and official Docker Hub images carry their `library/` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// `host[:port]` (`docker.io`, `ghcr.io`, `localhost:5000`, `[::1]:5000`).
    pub registry: String,
    /// The path in the registry (`library/nginx`, `team/app`).
    pub repository: String,
    /// The tag, if one is written.
    pub tag: Option<String>,
    /// The digest (`sha256:<hex>`), if one is written.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Reads a reference as `docker pull` does (`ParseNormalizedNamed`).
    pub fn parse(text: &str) -> Result<ImageRef, Error> {
        if text.is_empty() {
            return Err(Error::Empty);
        }
        if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::ImageId(text.to_owned()));
        }
        let (registry, rest) = split_registry(text);
        let registry = if registry == "index.docker.io" { DOCKER_HUB } else { registry };
        // Docker checks the case of the path before the grammar, to say what is wrong.
        let path_end = rest.find([':', '@']).unwrap_or(rest.len());
        if rest[..path_end].bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(Error::Uppercase(text.to_owned()));
        }
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (rest, None),
        };
        let (path, tag) = match rest.split_once(':') {
            Some((p, t)) => (p, Some(t)),
            None => (rest, None),
        };
        let format = |reason| Error::Format { text: text.to_owned(), reason };
        if !valid_registry(registry) {
            return Err(format("bad registry host"));
        }
        if path.is_empty() || !path.split('/').all(valid_path_component) {
            return Err(format(
                "bad repository path (lowercase letters and digits, separated by `.`, `_`, `__`, `-` or `/`)",
            ));
        }
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(format(
                "bad tag (letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, at most 128)",
            ));
        }
        if let Some(digest) = digest
            && !valid_digest(digest)
        {
            return Err(Error::Digest { text: text.to_owned(), digest: digest.to_owned() });
        }
        let repository =
            if registry == DOCKER_HUB && !path.contains('/') { format!("library/{path}") } else { path.to_owned() };
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(Error::NameTooLong(text.to_owned()));
        }
        Ok(ImageRef {
            registry: registry.to_owned(),
            repository,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// The full name without tag or digest: `registry/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as Docker prints it for people (`FamiliarName`): `docker.io/` and then
    /// `library/` left out (`nginx`, `team/app`, `ghcr.io/org/app`).
    pub fn familiar_name(&self) -> String {
        if self.registry != DOCKER_HUB {
            return self.name();
        }
        match self.repository.strip_prefix("library/") {
            Some(rest) if !rest.contains('/') => rest.to_owned(),
            _ => self.repository.clone(),
        }
    }

    /// The same image with another tag (the digest kept).
    pub fn with_tag(&self, tag: impl Into<String>) -> ImageRef {
        ImageRef { tag: Some(tag.into()), ..self.clone() }
    }

    /// The same image with another digest (the tag kept).
    pub fn with_digest(&self, digest: impl Into<String>) -> ImageRef {
        ImageRef { digest: Some(digest.into()), ..self.clone() }
    }

    /// The same name with neither tag nor digest.
    pub fn without_tag(&self) -> ImageRef {
        ImageRef { tag: None, digest: None, ..self.clone() }
    }

    /// Whether the image lives on Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    /// The `host[:port]` the registry API answers on: Docker Hub's is not `docker.io`.
    pub fn api_host(&self) -> &str {
        if self.is_docker_hub() { DOCKER_HUB_API_HOST } else { &self.registry }
    }

    /// Whether the registry is on this machine (`localhost`, `127.x.x.x`, `[::1]`, any port),
    /// where registries are commonly served over plain HTTP.
    pub fn is_local(&self) -> bool {
        let host = host_of(&self.registry);
        host == "localhost" || host.starts_with("127.") || host == "[::1]"
    }
}

/// `host[:port]` without the port.
fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry.find(']').map_or(registry, |end| &registry[..=end]);
    }
    registry.split_once(':').map_or(registry, |(h, _)| h)
}

impl fmt::Display for ImageRef {
    /// `registry/repository[:tag][@digest]`, which [`ImageRef::parse`] reads back unchanged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = Error;

    fn from_str(text: &str) -> Result<ImageRef, Error> {
        ImageRef::parse(text)
    }
}

/// An image as written split into its name, tag and digest, without checking or normalizing
/// any of them (`registry:5000/app:1.2@sha256:…` → `registry:5000/app`, `1.2`, `sha256:…`): the
/// tag is after the last `:` that follows the last `/`, since a port comes before it.
pub fn split_as_written(text: &str) -> (&str, Option<&str>, Option<&str>) {
    let (image, digest) = match text.split_once('@') {
        Some((i, d)) => (i, Some(d)),
        None => (text, None),
    };
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], Some(&image[slash + i + 1..]), digest),
        None => (image, None, digest),
    }
}

/// Docker's `splitDockerDomain`, before the `index.docker.io` rename: the registry as written
/// (`docker.io` when none) and the rest.
pub fn split_registry(text: &str) -> (&str, &str) {
    match text.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, text),
    }
}

/// `host[:port]`: dot-separated DNS labels of letters, digits and inner dashes, or an IPv6
/// address in brackets.
fn valid_registry(registry: &str) -> bool {
    let (host, port) = if registry.starts_with('[') {
        let Some(end) = registry.find(']') else { return false };
        let inner = &registry[1..end];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        (None, registry[end + 1..].strip_prefix(':').map(Some).unwrap_or(Some("")))
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), Some("")),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return false;
        }
    }
    match port {
        // After `]`, something other than `:port` (`[::1]x`).
        None => false,
        Some("") => !registry.ends_with(':'),
        Some(p) => p.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// `[a-z0-9]+` runs joined by one `.`, one or two `_`, or any number of `-`.
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}` (`\w` being ASCII letters, digits and `_`).
pub fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm:hex` with an algorithm Docker verifies and its length of lowercase hex digits.
pub fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else { return false };
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_normalize_as_docker_pull_reads_them() {
        // (written, registry, repository, tag, digest)
        let sha = format!("sha256:{HEX}");
        type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
        let cases: &[Case] = &[
            ("nginx", "docker.io", "library/nginx", None, None),
            ("nginx:1.27", "docker.io", "library/nginx", Some("1.27"), None),
            ("docker.io/nginx", "docker.io", "library/nginx", None, None),
            ("index.docker.io/nginx:latest", "docker.io", "library/nginx", Some("latest"), None),
            ("docker.io/library/nginx", "docker.io", "library/nginx", None, None),
            ("bitnami/redis:7", "docker.io", "bitnami/redis", Some("7"), None),
            ("a/b/c", "docker.io", "a/b/c", None, None),
            ("ghcr.io/org/app:v1.2.3", "ghcr.io", "org/app", Some("v1.2.3"), None),
            ("ghcr.io/app", "ghcr.io", "app", None, None),
            ("localhost/app", "localhost", "app", None, None),
            ("localhost:5000/team/app:dev", "localhost:5000", "team/app", Some("dev"), None),
            ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None, None),
            ("[::1]:5000/app", "[::1]:5000", "app", None, None),
            ("Registry/app", "Registry", "app", None, None),
            (
                "my-registry.example.com/a_b/c__d/e---f.g:_tag",
                "my-registry.example.com",
                "a_b/c__d/e---f.g",
                Some("_tag"),
                None,
            ),
        ];
        for (text, registry, repository, tag, digest) in cases {
            let r = ImageRef::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((r.registry.as_str(), r.repository.as_str()), (*registry, *repository), "{text}");
            assert_eq!((r.tag.as_deref(), r.digest.as_deref()), (*tag, *digest), "{text}");
            assert_eq!(ImageRef::parse(&r.to_string()).as_ref(), Ok(&r), "{text} reads back");
        }
        let r = ImageRef::parse(&format!("quay.io/org/app:1.0@{sha}")).unwrap();
        assert_eq!((r.tag.as_deref(), r.digest.as_deref()), (Some("1.0"), Some(sha.as_str())));
        let r = ImageRef::parse(&format!("app@{sha}")).unwrap();
        assert_eq!((r.name(), r.tag, r.digest), ("docker.io/library/app".to_owned(), None, Some(sha.clone())));
    }

    #[test]
    fn malformed_references_are_refused_with_the_reason() {
        let long_path = format!("r.io/{}", "a".repeat(251));
        let cases: &[(&str, &str)] = &[
            ("", "at least one component"),
            (HEX, "image ID"),
            ("Nginx", "lowercase"),
            ("docker.io/Team/app", "lowercase"),
            ("ghcr.io/org/App:1", "lowercase"),
            ("nginx:", "bad tag"),
            ("nginx:-x", "bad tag"),
            ("nginx:.x", "bad tag"),
            ("nginx:a+b", "bad tag"),
            ("nginx:~1.2", "bad tag"),
            ("nginx:1:2", "bad tag"),
            ("-nginx", "bad repository path"),
            ("ngin..x", "bad repository path"),
            ("ngin___x", "bad repository path"),
            ("a//b", "bad repository path"),
            ("app/", "bad repository path"),
            ("ghcr.io/", "bad repository path"),
            ("-bad.io/app", "bad registry"),
            ("host:port/app", "bad registry"),
            ("host:/app", "bad registry"),
            ("[zz]:5000/app", "bad registry"),
            ("app@sha256:abc", "bad digest"),
            ("app@md5:0123456789abcdef0123456789abcdef", "bad digest"),
            (&long_path, "longer than 255"),
        ];
        for (text, reason) in cases {
            let err = ImageRef::parse(text).expect_err(text).to_string();
            assert!(err.contains(reason), "{text}: {err}");
        }
        let upper_hex = format!("app@sha256:{}", HEX.to_uppercase());
        assert!(matches!(ImageRef::parse(&upper_hex), Err(Error::Digest { .. })));
        // 255 bytes in all is still a name.
        assert!(ImageRef::parse(&format!("r.io/{}", "a".repeat(250))).is_ok());
        assert!(valid_tag(&"t".repeat(128)) && !valid_tag(&"t".repeat(129)));
    }

    #[test]
    fn names_print_full_or_familiar_and_tags_swap() {
        let cases: &[(&str, &str, &str)] = &[
            ("nginx:1", "docker.io/library/nginx", "nginx"),
            ("docker.io/library/a/b", "docker.io/library/a/b", "library/a/b"),
            ("team/app", "docker.io/team/app", "team/app"),
            ("ghcr.io/org/app", "ghcr.io/org/app", "ghcr.io/org/app"),
        ];
        for (text, full, familiar) in cases {
            let r = ImageRef::parse(text).unwrap();
            assert_eq!((r.name().as_str(), r.familiar_name().as_str()), (*full, *familiar), "{text}");
        }
        let r = ImageRef::parse("localhost:5000/app:1").unwrap();
        assert_eq!(r.with_tag("2").to_string(), "localhost:5000/app:2");
        assert_eq!(r.with_digest(format!("sha256:{HEX}")).to_string(), format!("localhost:5000/app:1@sha256:{HEX}"));
        assert_eq!(r.without_tag().to_string(), "localhost:5000/app");
        assert!(r.is_local() && !r.is_docker_hub());
        assert_eq!(ImageRef::parse("nginx").unwrap().api_host(), "registry-1.docker.io");
        assert_eq!(ImageRef::parse("ghcr.io/a/b").unwrap().api_host(), "ghcr.io");
        assert!(ImageRef::parse("[::1]:5000/a").unwrap().is_local());
        assert!(!ImageRef::parse("ghcr.io/a").unwrap().is_local());
    }
}
