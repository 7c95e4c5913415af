//! GitHub's REST API: pull requests of a repository, repositories and branches of an
//! organization, contents of a path. `api` is GitHub Enterprise's server, where the API lives
//! under `/api/v3/` (added unless the URL already ends in it or names an `api.` host, as
//! go-github does); without it, `https://api.github.com/`. Requests send
//! `Authorization: Bearer TOKEN` when there is a token and page 100 at a time, following the
//! `page` of the `Link: <...>; rel="next"` header on the same server.

use gitops_core::appset::generators::{PullRequest, ScmRepository};
use serde_json::Value;

use super::{Auth, Error, Http, list, segment, text};

/// The API root, ending in `/`.
pub fn base(api: Option<&str>) -> String {
    let Some(api) = api.filter(|a| !a.is_empty()) else {
        return "https://api.github.com/".into();
    };
    let mut base = api.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    let host = base.split("://").nth(1).unwrap_or("").split('/').next().unwrap_or("");
    if !base.ends_with("/api/v3/") && !host.starts_with("api.") && !host.contains(".api.") {
        base.push_str("api/v3/");
    }
    base
}

fn auth(token: &str) -> Auth {
    if token.is_empty() { Auth::None } else { Auth::Authorization("Bearer", token.to_string()) }
}

const HEADERS: [(&str, &str); 2] = [("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")];

/// The `page` the `rel="next"` link of a `Link` header asks for.
pub fn next_page(link: Option<&str>) -> Option<u64> {
    link?.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.split(';').any(|p| p.trim().trim_start_matches("rel=").trim_matches('"') == "next") {
            return None;
        }
        let url = target.trim().trim_start_matches('<').trim_end_matches('>');
        let query = url.split_once('?')?.1;
        query.split('&').find_map(|kv| kv.strip_prefix("page=")).and_then(|p| p.parse().ok())
    })
}

/// Every page of a listing at `url` (which has its own query, with `per_page`).
fn all_pages(http: &Http, url: &str, token: &str) -> Result<Vec<Value>, Error> {
    let mut items = Vec::new();
    let mut page_url = url.to_string();
    for _ in 0..super::MAX_PAGES {
        let page = http.get_found(&page_url, &auth(token), &HEADERS, false)?;
        items.extend(list(&page_url, page.body)?);
        match next_page(page.link.as_deref()) {
            Some(n) => page_url = format!("{url}&page={n}"),
            None => return Ok(items),
        }
    }
    Err(Error::Decode { url: url.to_string(), message: format!("more than {} pages", super::MAX_PAGES) })
}

/// The open pull requests of `owner/repo` that carry every label of `labels`.
pub(crate) fn pull_requests(
    http: &Http,
    api: Option<&str>,
    token: &str,
    owner: &str,
    repo: &str,
    labels: &[String],
) -> Result<Vec<PullRequest>, Error> {
    let url = format!("{}repos/{}/{}/pulls?per_page=100", base(api), segment(owner), segment(repo));
    super::github_shaped_pulls(&url, all_pages(http, &url, token)?, labels)
}

/// The repositories of `organization`, each at its default branch.
pub(crate) fn repositories(
    http: &Http,
    api: Option<&str>,
    token: &str,
    organization: &str,
    clone_protocol: &str,
) -> Result<Vec<ScmRepository>, Error> {
    let url = format!("{}orgs/{}/repos?per_page=100", base(api), segment(organization));
    let mut out = Vec::new();
    for repo in all_pages(http, &url, token)? {
        let url_field = if clone_protocol == "https" { "/clone_url" } else { "/ssh_url" };
        out.push(ScmRepository {
            organization: text(&repo, "/owner/login"),
            repository: text(&repo, "/name"),
            repository_id: repo.get("id").and_then(Value::as_i64).unwrap_or(0),
            url: text(&repo, url_field),
            branch: text(&repo, "/default_branch"),
            sha: String::new(),
            labels: repo
                .get("topics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
        });
    }
    Ok(out)
}

/// `repo` at its default branch (none when the branch does not exist: an empty
/// repository), or at every branch.
pub(crate) fn branches(
    http: &Http,
    api: Option<&str>,
    token: &str,
    repo: &ScmRepository,
    all: bool,
) -> Result<Vec<ScmRepository>, Error> {
    let root = format!("{}repos/{}/{}/branches", base(api), segment(&repo.organization), segment(&repo.repository));
    let at = |b: &Value| ScmRepository { branch: text(b, "/name"), sha: text(b, "/commit/sha"), ..repo.clone() };
    if !all {
        let url = format!("{root}/{}", segment(&repo.branch));
        let page = http.get(&url, &auth(token), &HEADERS, false)?;
        if page.status == 404 {
            return Ok(Vec::new());
        }
        return Ok(vec![at(&page.body)]);
    }
    Ok(all_pages(http, &format!("{root}?per_page=100"), token)?.iter().map(at).collect())
}

/// Whether `path` exists in `repo` at its branch.
pub(crate) fn has_path(
    http: &Http,
    api: Option<&str>,
    token: &str,
    repo: &ScmRepository,
    file: &str,
) -> Result<bool, Error> {
    let url = super::contents_url(&base(api), repo, file);
    Ok(http.get(&url, &auth(token), &HEADERS, false)?.status != 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enterprise_bases_get_api_v3() {
        assert_eq!(base(None), "https://api.github.com/");
        assert_eq!(base(Some("https://ghe.example")), "https://ghe.example/api/v3/");
        assert_eq!(base(Some("https://ghe.example/api/v3")), "https://ghe.example/api/v3/");
        assert_eq!(base(Some("https://api.ghe.example/")), "https://api.ghe.example/");
    }

    #[test]
    fn next_page_comes_from_the_link_header() {
        let link = r#"<https://api.github.com/repositories/1/pulls?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/pulls?per_page=100&page=5>; rel="last""#;
        assert_eq!(next_page(Some(link)), Some(2));
        let last = r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=1>; rel="first""#;
        assert_eq!(next_page(Some(last)), None);
        assert_eq!(next_page(None), None);
    }
}
