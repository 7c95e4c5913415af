//! Gitea's REST API (`/api/v1/`): pull requests of a repository, repositories, labels and
//! branches of an owner, contents of a path. Requests send `Authorization: token TOKEN` when
//! there is a token and page with `page` and `limit` until a page comes back empty (the
//! server may cap `limit` below what is asked, so a short page does not mean the last one).

use gitops_core::appset::generators::{PullRequest, ScmRepository};
use serde_json::Value;

use super::{Auth, Error, Http, list, segment, text};

const LIMIT: usize = 50;

/// The API root of the server `api`, ending in `/`.
pub fn base(api: &str) -> String {
    format!("{}/api/v1/", api.trim_end_matches('/'))
}

fn auth(token: &str) -> Auth {
    if token.is_empty() { Auth::None } else { Auth::Authorization("token", token.to_string()) }
}

/// Every item of a listing at `url`.
fn all_pages(http: &Http, url: &str, token: &str, insecure: bool) -> Result<Vec<Value>, Error> {
    let mut items = Vec::new();
    let sep = if url.contains('?') { '&' } else { '?' };
    for page in 1..=super::MAX_PAGES {
        let page_url = format!("{url}{sep}page={page}&limit={LIMIT}");
        let got = list(&page_url, http.get_found(&page_url, &auth(token), &[], insecure)?.body)?;
        if got.is_empty() {
            return Ok(items);
        }
        items.extend(got);
    }
    Err(Error::Decode { url: url.to_string(), message: format!("more than {} pages", super::MAX_PAGES) })
}

/// The open pull requests of `owner/repo` that carry every label of `labels`.
pub(crate) fn pull_requests(
    http: &Http,
    api: &str,
    token: &str,
    owner: &str,
    repo: &str,
    labels: &[String],
    insecure: bool,
) -> Result<Vec<PullRequest>, Error> {
    let url = format!("{}repos/{}/{}/pulls?state=open", base(api), segment(owner), segment(repo));
    super::github_shaped_pulls(&url, all_pages(http, &url, token, insecure)?, labels)
}

/// The repositories of the organization `owner`, each at its default branch, with its
/// labels (Gitea's issue labels, as Argo CD reads them). For `https`, the URL is the
/// repository's web URL, as Argo CD takes it.
pub(crate) fn repositories(
    http: &Http,
    api: &str,
    token: &str,
    owner: &str,
    clone_protocol: &str,
    insecure: bool,
) -> Result<Vec<ScmRepository>, Error> {
    let url = format!("{}orgs/{}/repos", base(api), segment(owner));
    let mut out = Vec::new();
    for repo in all_pages(http, &url, token, insecure)? {
        let name = text(&repo, "/name");
        let labels_url = format!("{}repos/{}/{}/labels", base(api), segment(owner), segment(&name));
        let labels = all_pages(http, &labels_url, token, insecure)?.iter().map(|l| text(l, "/name")).collect();
        let url_field = if clone_protocol == "https" { "/html_url" } else { "/ssh_url" };
        out.push(ScmRepository {
            organization: owner.to_string(),
            repository: name,
            repository_id: repo.get("id").and_then(Value::as_i64).unwrap_or(0),
            url: text(&repo, url_field),
            branch: text(&repo, "/default_branch"),
            sha: String::new(),
            labels,
        });
    }
    Ok(out)
}

/// `repo` at its default branch (which must exist), or at every branch.
pub(crate) fn branches(
    http: &Http,
    api: &str,
    token: &str,
    owner: &str,
    repo: &ScmRepository,
    all: bool,
    insecure: bool,
) -> Result<Vec<ScmRepository>, Error> {
    let root = format!("{}repos/{}/{}/branches", base(api), segment(owner), segment(&repo.repository));
    let at = |b: &Value| ScmRepository { branch: text(b, "/name"), sha: text(b, "/commit/id"), ..repo.clone() };
    if !all {
        let url = format!("{root}/{}", segment(&repo.branch));
        let page = http.get(&url, &auth(token), &[], insecure)?;
        if page.status == 404 {
            return Err(Error::Config(format!(
                "GET {url}: HTTP 404 for the default branch {:?} of {}: check the repository",
                repo.branch, repo.repository
            )));
        }
        return Ok(vec![ScmRepository { branch: repo.branch.clone(), ..at(&page.body) }]);
    }
    Ok(all_pages(http, &root, token, insecure)?.iter().map(at).collect())
}

/// Whether `path` (a file or a directory) exists in `repo` at its branch.
pub(crate) fn has_path(
    http: &Http,
    api: &str,
    token: &str,
    repo: &ScmRepository,
    file: &str,
    insecure: bool,
) -> Result<bool, Error> {
    let url = super::contents_url(&base(api), repo, file);
    Ok(http.get(&url, &auth(token), &[], insecure)?.status != 404)
}
