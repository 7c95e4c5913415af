//! GitLab's REST API (v4): the merge requests of a project. `api` is the server (its
//! `/api/v4/` added unless present), `https://gitlab.com/api/v4/` without it. Requests send
//! `PRIVATE-TOKEN` when there is a token, filter by `labels` and `state` on the server, and
//! page 100 at a time while the answer names an `X-Next-Page`.

use gitops_core::appset::generators::PullRequest;
use serde_json::Value;

use super::{Auth, Error, Http, list, segment, text};

/// The API root, ending in `/`.
pub fn base(api: Option<&str>) -> String {
    let Some(api) = api.filter(|a| !a.is_empty()) else {
        return "https://gitlab.com/api/v4/".into();
    };
    let mut base = api.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    if !base.ends_with("api/v4/") {
        base.push_str("api/v4/");
    }
    base
}

/// The merge requests of `project` (an ID or a `group/name` path) with every label of
/// `labels`, in `state` (every state when `None`, as GitLab's default).
pub(crate) fn merge_requests(
    http: &Http,
    api: Option<&str>,
    token: &str,
    project: &str,
    labels: &[String],
    state: Option<&str>,
) -> Result<Vec<PullRequest>, Error> {
    let mut url = format!("{}projects/{}/merge_requests?per_page=100", base(api), segment(project));
    if !labels.is_empty() {
        url.push_str(&format!("&labels={}", labels.iter().map(|l| segment(l)).collect::<Vec<_>>().join(",")));
    }
    if let Some(state) = state {
        url.push_str(&format!("&state={}", segment(state)));
    }
    let auth = if token.is_empty() { Auth::None } else { Auth::Header("PRIVATE-TOKEN", token.to_string()) };
    let mut out = Vec::new();
    let mut page_url = url.clone();
    for _ in 0..super::MAX_PAGES {
        let page = http.get_found(&page_url, &auth, &[], false)?;
        for mr in list(&page_url, page.body)? {
            let number = mr.get("iid").and_then(Value::as_u64).ok_or_else(|| Error::Decode {
                url: page_url.clone(),
                message: "a merge request without an iid".into(),
            })?;
            out.push(PullRequest {
                number,
                title: text(&mr, "/title"),
                branch: text(&mr, "/source_branch"),
                target_branch: text(&mr, "/target_branch"),
                head_sha: text(&mr, "/sha"),
                labels: mr
                    .get("labels")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect(),
                author: text(&mr, "/author/username"),
            });
        }
        match page.next_page.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(next) if next.bytes().all(|b| b.is_ascii_digit()) => page_url = format!("{url}&page={next}"),
            Some(next) => {
                return Err(Error::Decode { url: page_url, message: format!("X-Next-Page {next:?} is not a number") });
            }
            None => return Ok(out),
        }
    }
    Err(Error::Decode { url, message: format!("more than {} pages", super::MAX_PAGES) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_get_api_v4() {
        assert_eq!(base(None), "https://gitlab.com/api/v4/");
        assert_eq!(base(Some("https://gitlab.example")), "https://gitlab.example/api/v4/");
        assert_eq!(base(Some("https://gitlab.example/api/v4/")), "https://gitlab.example/api/v4/");
    }
}
