//! Bitbucket Server's (Data Center's) REST API: the open pull requests of a repository, at
//! `{api}/rest/api/1.0/projects/{project}/repos/{repo}/pull-requests` (`/rest` added unless
//! `api` ends in it). Requests authenticate with HTTP basic auth or a bearer token, send the
//! headers that skip the XSRF check, and page 100 at a time until `isLastPage`, asking for
//! `nextPageStart`.

use base64::Engine as _;
use gitops_core::appset::generators::PullRequest;
use gitops_core::appset::generators::pull_request::BitbucketAuth;
use serde_json::Value;

use super::{Auth, Client, Error, Http, segment, text};

/// The REST root of the server `api`, without a trailing `/`.
pub fn base(api: &str) -> String {
    let api = api.trim_end_matches('/');
    if api.ends_with("/rest") { api.to_string() } else { format!("{api}/rest") }
}

/// The auth header of `auth`, its secrets read through `client`.
pub(crate) fn auth(client: &Client, auth: &BitbucketAuth) -> Result<Auth, Error> {
    Ok(match auth {
        BitbucketAuth::None => Auth::None,
        BitbucketAuth::Basic { username, password } => {
            let password = client.secret(password)?;
            let pair = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            Auth::Authorization("Basic", pair)
        }
        BitbucketAuth::Bearer(token) => Auth::Authorization("Bearer", client.secret(token)?),
    })
}

const HEADERS: [(&str, &str); 2] = [("X-Atlassian-Token", "no-check"), ("X-Requested-With", "XMLHttpRequest")];

/// The open pull requests of `project/repo`.
pub(crate) fn pull_requests(
    http: &Http,
    api: &str,
    auth: &Auth,
    project: &str,
    repo: &str,
) -> Result<Vec<PullRequest>, Error> {
    let url =
        format!("{}/api/1.0/projects/{}/repos/{}/pull-requests?limit=100", base(api), segment(project), segment(repo));
    let mut out = Vec::new();
    let mut page_url = url.clone();
    for _ in 0..super::MAX_PAGES {
        let page = http.get_found(&page_url, auth, &HEADERS, false)?.body;
        let values = page
            .get("values")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Decode { url: page_url.clone(), message: "no `values` list".into() })?;
        for pull in values {
            let number = pull.get("id").and_then(Value::as_u64).ok_or_else(|| Error::Decode {
                url: page_url.clone(),
                message: "a pull request without an id".into(),
            })?;
            out.push(PullRequest {
                number,
                title: text(pull, "/title"),
                branch: text(pull, "/fromRef/displayId"),
                target_branch: text(pull, "/toRef/displayId"),
                head_sha: text(pull, "/fromRef/latestCommit"),
                labels: Vec::new(),
                author: text(pull, "/author/user/name"),
            });
        }
        if page.get("isLastPage").and_then(Value::as_bool).unwrap_or(true) {
            return Ok(out);
        }
        let start = page.get("nextPageStart").and_then(Value::as_u64).ok_or_else(|| Error::Decode {
            url: page_url.clone(),
            message: "not the last page, but no nextPageStart".into(),
        })?;
        page_url = format!("{url}&start={start}");
    }
    Err(Error::Decode { url, message: format!("more than {} pages", super::MAX_PAGES) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_is_added_once() {
        assert_eq!(base("https://bb.example"), "https://bb.example/rest");
        assert_eq!(base("https://bb.example/rest/"), "https://bb.example/rest");
    }
}
