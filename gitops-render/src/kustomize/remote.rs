//! Remote bases: kustomize's Git URL syntax, read into a repository URL, a path inside it and
//! a revision. They are fetched through the Git source (and its cache), never over plain
//! HTTP: a URL that does not name a Git repository is refused.
//!
//! Accepted forms (those kustomize documents): `https://host/org/repo//path?ref=v1`,
//! `https://host/org/repo.git/path?ref=v1`, `ssh://git@host/org/repo//path`,
//! `git@host:org/repo.git//path`, `file:///srv/repo//path`, and `github.com/org/repo/path`
//! (GitHub, GitLab and Bitbucket shorthands: the first two path segments name the
//! repository). A leading `git::` is dropped, as kustomize drops it. `ref` (or `version`)
//! selects the revision; `timeout` and `submodules` are accepted and ignored.

/// Why a reference is not a Git repository URL we can fetch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RemoteError {
    /// A query parameter kustomize does not know.
    #[error("unknown query parameter `{0}` (kustomize knows ref, version, timeout, submodules)")]
    UnknownParameter(String),
    /// A scheme that is not a Git transport.
    #[error("`{0}://` is not a Git transport")]
    NotGit(String),
    /// Neither a URL nor a Git shorthand.
    #[error("not a URL")]
    NotUrl,
    /// A hosting shorthand without `org/repo`.
    #[error("names no repository (expected host/org/repo)")]
    NoRepository,
    /// Nothing separates the repository from the path in it.
    #[error("cannot tell the repository from the path in it: separate them with `//` (repo//path)")]
    Ambiguous,
}

/// A remote base, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remote {
    /// The repository URL for git.
    pub(crate) repo: String,
    /// The directory inside the repository (`.` for its root).
    pub(crate) path: String,
    /// The revision (`ref=`), if given; the default branch otherwise.
    pub(crate) revision: Option<String>,
}

/// Whether a `resources` entry is a remote reference rather than a local path.
pub(crate) fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git::")
        || entry.starts_with("git@")
        || ["github.com/", "gitlab.com/", "bitbucket.org/"].iter().any(|h| entry.starts_with(h))
}

const SHORTHAND_HOSTS: [&str; 3] = ["github.com", "gitlab.com", "bitbucket.org"];

/// Reads a remote reference; `Err` says why it is not a Git repository URL we can fetch.
pub(crate) fn parse(entry: &str) -> Result<Remote, RemoteError> {
    let entry = entry.strip_prefix("git::").unwrap_or(entry);
    let (location, query) = entry.split_once('?').unwrap_or((entry, ""));
    let mut revision = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("ref" | "version", v)) if !v.is_empty() => revision = Some(v.to_string()),
            Some(("timeout" | "submodules", _)) => {}
            _ => {
                return Err(RemoteError::UnknownParameter(pair.to_string()));
            }
        }
    }
    let (prefix, rest) = match location.split_once("://") {
        Some((scheme @ ("https" | "http" | "ssh" | "git" | "file"), rest)) => (format!("{scheme}://"), rest),
        Some((scheme, _)) => return Err(RemoteError::NotGit(scheme.to_string())),
        None if location.starts_with("git@") => (String::new(), location),
        None if SHORTHAND_HOSTS.iter().any(|h| location.starts_with(&format!("{h}/"))) => {
            ("https://".to_string(), location)
        }
        None => return Err(RemoteError::NotUrl),
    };
    let (repo, path) = split_repo(&prefix, rest)?;
    Ok(Remote { repo, path, revision })
}

/// Splits host-and-path into the repository and the directory inside it.
fn split_repo(prefix: &str, rest: &str) -> Result<(String, String), RemoteError> {
    let clean = |p: &str| {
        let p = p.trim_matches('/');
        if p.is_empty() { ".".to_string() } else { p.to_string() }
    };
    // `file:///srv/repo//dir`: the path itself starts with `/`, so look past the first one.
    let search_from = usize::from(prefix == "file://");
    if let Some(i) = rest[search_from..].find("//").map(|i| i + search_from) {
        return Ok((format!("{prefix}{}", &rest[..i]), clean(&rest[i + 2..])));
    }
    if let Some(i) = rest.find(".git/").or_else(|| rest.ends_with(".git").then(|| rest.len() - 4)) {
        let end = i + 4;
        return Ok((format!("{prefix}{}", &rest[..end]), clean(rest.get(end..).unwrap_or(""))));
    }
    let host = rest.split(['/', ':']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    if SHORTHAND_HOSTS.contains(&host) {
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.len() < 3 {
            return Err(RemoteError::NoRepository);
        }
        let repo = segments[..3].join("/");
        return Ok((format!("{prefix}{repo}"), clean(&segments[3..].join("/"))));
    }
    if prefix == "file://" {
        return Ok((format!("{prefix}{rest}"), ".".into()));
    }
    Err(RemoteError::Ambiguous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(entry: &str) -> (String, String, Option<String>) {
        let r = parse(entry).expect(entry);
        (r.repo, r.path, r.revision)
    }

    #[test]
    fn kustomize_remote_forms() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            p("https://github.com/acme/deploy//base/web?ref=v1.2.0"),
            ("https://github.com/acme/deploy".into(), "base/web".into(), some("v1.2.0"))
        );
        assert_eq!(
            p("git::https://git.example.com/acme/deploy.git/base?version=main&timeout=90s"),
            ("https://git.example.com/acme/deploy.git".into(), "base".into(), some("main"))
        );
        assert_eq!(
            p("git@github.com:acme/deploy.git//base"),
            ("git@github.com:acme/deploy.git".into(), "base".into(), None)
        );
        assert_eq!(p("file:///srv/repo//base?ref=v1"), ("file:///srv/repo".into(), "base".into(), some("v1")));
        assert_eq!(
            p("github.com/acme/deploy/base/web"),
            ("https://github.com/acme/deploy".into(), "base/web".into(), None)
        );
        assert_eq!(p("https://github.com/acme/deploy"), ("https://github.com/acme/deploy".into(), ".".into(), None));
        assert!(parse("https://example.com/manifests/app.yaml").is_err(), "plain HTTP files are not Git");
        assert!(parse("ftp://x/y//z").is_err());
        assert!(parse("https://github.com/acme/deploy//base?foo=1").is_err());
    }
}
