//! Container image references. The default pull policy hangs on the tag the kubelet would pull,
//! which Kubernetes gets from the Docker reference parser (`ParseImageName`): `Always` only for
//! the tag `latest`, implied when there is neither tag nor digest; any parse error means no tag,
//! hence `IfNotPresent`. The grammar is reproduced here because the error cases matter
//! (`Alpine` does not parse; `localhost:5000/app` has a port, not a tag).
/// The pull policy the server derives from an image reference.
pub(super) fn pull_policy(image: &str) -> &'static str {
    if resolves_to_latest(image) { "Always" } else { "IfNotPresent" }
}

/// Whether the reference parses and names the tag `latest`, explicitly or by omission.
pub(super) fn resolves_to_latest(image: &str) -> bool {
    let Some(full) = normalized_reference(image) else {
        return false;
    };
    let (name_and_tag, digest) = match full.split_once('@') {
        Some((name_and_tag, digest)) => (name_and_tag, Some(digest)),
        None => (full.as_str(), None),
    };
    // A colon after the last slash separates the tag; earlier ones belong to a registry port.
    let (name, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name_and_tag, None),
    };
    let valid = name.len() <= 255 && is_repository_name(name) && tag.is_none_or(is_tag) && digest.is_none_or(is_digest);
    valid
        && match tag {
            Some(tag) => tag == "latest",
            None => digest.is_none(),
        }
}

/// The reference with Docker Hub's implied domain and `library/` prefix, as
/// `ParseNormalizedNamed` builds it; `None` for the inputs it rejects before parsing.
pub(super) fn normalized_reference(image: &str) -> Option<String> {
    if image.len() == 64 && image.bytes().all(is_lower_hex) {
        return None;
    }
    let (domain, remainder) = match image.split_once('/') {
        Some(("index.docker.io", rest)) => ("docker.io", rest),
        Some((first, rest))
            if first == "localhost" || first.contains(['.', ':']) || first.chars().any(char::is_uppercase) =>
        {
            (first, rest)
        }
        // Neither a host nor localhost: a Docker Hub path, or a bare Docker Hub name.
        _ => ("docker.io", image),
    };
    let library = if domain == "docker.io" && !remainder.contains('/') { "library/" } else { "" };
    let remote_name = remainder.split(':').next().unwrap_or_default();
    if remote_name.chars().any(char::is_uppercase) {
        return None;
    }
    Some(format!("{domain}/{library}{remainder}"))
}

/// `[domain "/"] path-component ("/" path-component)*`.
pub(super) fn is_repository_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let first = parts.next().unwrap_or_default();
    let has_more = name.contains('/');
    (is_path_component(first) || (has_more && is_domain(first))) && parts.all(is_path_component)
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
pub(super) fn is_path_component(part: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    part.starts_with(alphanumeric)
        && part.ends_with(alphanumeric)
        && part.split(alphanumeric).all(|sep| matches!(sep, "" | "." | "_" | "__") || sep.chars().all(|c| c == '-'))
}

/// A registry host (DNS name, or bracketed IPv6) with an optional port.
pub(super) fn is_domain(domain: &str) -> bool {
    let port_ok = |suffix: &str| {
        suffix.is_empty()
            || suffix.strip_prefix(':').is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
    };
    if let Some(bracketed) = domain.strip_prefix('[') {
        return bracketed.split_once(']').is_some_and(|(ip, suffix)| {
            !ip.is_empty() && ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') && port_ok(suffix)
        });
    }
    let (host, suffix) = domain.split_at(domain.find(':').unwrap_or(domain.len()));
    host.split('.').all(|label| {
        label.starts_with(|c: char| c.is_ascii_alphanumeric())
            && label.ends_with(|c: char| c.is_ascii_alphanumeric())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }) && port_ok(suffix)
}

/// `[\w][\w.-]{0,127}`.
pub(super) fn is_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    tag.len() <= 128 && tag.starts_with(word) && tag.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// A digest the go-digest package accepts: a known algorithm and its exact lower-case hex length.
pub(super) fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == length && hex.bytes().all(is_lower_hex)
}

/// `[0-9a-f]`.
pub(super) fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}
