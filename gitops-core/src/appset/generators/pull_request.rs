//! The pullRequest generator: one parameter set per open pull (merge) request of a
//! repository, read through [`PullRequests`] (the HTTP clients live in an adapter crate).
//!
//! The spec names one provider ([`PullRequestProvider`]: `github`, `gitlab`, `gitea`,
//! `bitbucketServer`); the provider filters by `labels` itself where its API can. Then
//! `filters` keep a request when any one filter matches it, and a filter matches when all of
//! its fields do: `branchMatch` (the head branch), `targetBranchMatch`, `titleMatch`, each an
//! unanchored regular expression.
//!
//! Parameters: `number`, `title`, `branch`, `branch_slug`, `target_branch`,
//! `target_branch_slug`, `head_sha`, `head_short_sha` (8 characters), `head_short_sha_7`,
//! `author`, and in Go mode only `labels` (a list); then `values`. A repository the provider
//! does not find fails the generator unless `continueOnRepoNotFoundError` is set, when it
//! gives nothing.

use serde_json::{Map, Value};

use super::{Context, GeneratorError, append_values};
use crate::appset::params::{Mode, Params};

/// A reference to one key of a Secret in the ApplicationSet's namespace (`tokenRef`,
/// `passwordRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// `secretName`.
    pub secret_name: String,
    /// `key`.
    pub key: String,
}

/// Why a provider gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// What went wrong, for the user (the adapter names the URL and the status).
    pub message: String,
    /// The repository (or organization) does not exist, as far as the provider says (404).
    pub not_found: bool,
}

impl SourceError {
    /// An error that is not a missing repository.
    pub fn other(message: impl Into<String>) -> SourceError {
        SourceError { message: message.into(), not_found: false }
    }
}

/// The provider a pullRequest generator reads, with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullRequestProvider {
    /// `github`: `GET /repos/{owner}/{repo}/pulls`.
    GitHub {
        /// `api` (GitHub Enterprise), or `None` for api.github.com.
        api: Option<String>,
        /// `owner`.
        owner: String,
        /// `repo`.
        repo: String,
        /// `tokenRef`.
        token: Option<SecretRef>,
        /// `labels`: a request must carry all of them.
        labels: Vec<String>,
    },
    /// `gitlab`: `GET /projects/{project}/merge_requests`.
    GitLab {
        /// `api`, or `None` for gitlab.com.
        api: Option<String>,
        /// `project` (an ID or a `group/name` path).
        project: String,
        /// `tokenRef`.
        token: Option<SecretRef>,
        /// `labels`, passed to the API.
        labels: Vec<String>,
        /// `pullRequestState` (`opened`, `closed`, `merged`, `locked`; all when unset).
        state: Option<String>,
    },
    /// `gitea`: `GET /api/v1/repos/{owner}/{repo}/pulls?state=open`.
    Gitea {
        /// `api`: the Gitea server.
        api: String,
        /// `owner`.
        owner: String,
        /// `repo`.
        repo: String,
        /// `tokenRef`.
        token: Option<SecretRef>,
        /// `labels`: a request must carry all of them.
        labels: Vec<String>,
        /// `insecure`: skip TLS verification.
        insecure: bool,
    },
    /// `bitbucketServer`: `GET /rest/api/1.0/projects/{project}/repos/{repo}/pull-requests`.
    BitbucketServer {
        /// `api`: the server.
        api: String,
        /// `project` (the project key).
        project: String,
        /// `repo` (the repository slug).
        repo: String,
        /// `basicAuth` or `bearerToken`.
        auth: BitbucketAuth,
    },
}

/// How to authenticate to Bitbucket Server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BitbucketAuth {
    /// Anonymous.
    None,
    /// `basicAuth: {username, passwordRef}`.
    Basic {
        /// `username`.
        username: String,
        /// `passwordRef`.
        password: SecretRef,
    },
    /// `bearerToken: {tokenRef}`.
    Bearer(SecretRef),
}

/// One pull request as the provider lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number (GitLab's `iid`, Bitbucket's `id`).
    pub number: u64,
    /// Its title.
    pub title: String,
    /// The head (source) branch.
    pub branch: String,
    /// The base (target) branch.
    pub target_branch: String,
    /// The head commit.
    pub head_sha: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// Its author's login.
    pub author: String,
}

/// Lists the open pull requests of a provider's repository.
pub trait PullRequests {
    /// The pull requests of the repository `provider` names, in the provider's order, with
    /// the provider-side label filter applied.
    fn list(&self, provider: &PullRequestProvider) -> Result<Vec<PullRequest>, SourceError>;
}

/// One `filters` entry.
#[derive(Debug)]
struct Filter {
    branch: Option<regex_lite::Regex>,
    target_branch: Option<regex_lite::Regex>,
    title: Option<regex_lite::Regex>,
}

impl Filter {
    fn matches(&self, pr: &PullRequest) -> bool {
        let hit = |re: &Option<regex_lite::Regex>, text: &str| re.as_ref().is_none_or(|re| re.is_match(text));
        hit(&self.branch, &pr.branch) && hit(&self.target_branch, &pr.target_branch) && hit(&self.title, &pr.title)
    }
}

/// Compiles the regular expression at `spec[key]` (`None` when absent).
pub(crate) fn regex_field(spec: &Value, at: &str, key: &str) -> Result<Option<regex_lite::Regex>, GeneratorError> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => regex_lite::Regex::new(s).map(Some).map_err(|e| GeneratorError::Field {
            field: format!("{at}.{key}"),
            message: format!("{s:?} is not a valid regular expression: {e}"),
        }),
        Some(_) => Err(GeneratorError::Field { field: format!("{at}.{key}"), message: "must be a string".into() }),
    }
}

fn filters(spec: &Value) -> Result<Vec<Filter>, GeneratorError> {
    let list = match spec.get("filters") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(GeneratorError::Field {
                field: "pullRequest.filters".into(),
                message: "must be a list of {branchMatch, targetBranchMatch, titleMatch}".into(),
            });
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            let at = format!("pullRequest.filters[{i}]");
            Ok(Filter {
                branch: regex_field(f, &at, "branchMatch")?,
                target_branch: regex_field(f, &at, "targetBranchMatch")?,
                title: regex_field(f, &at, "titleMatch")?,
            })
        })
        .collect()
}

/// A required string field.
pub(crate) fn required(spec: &Value, at: &str, key: &str) -> Result<String, GeneratorError> {
    match spec.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(GeneratorError::Field { field: format!("{at}.{key}"), message: "is required (a string)".into() }),
    }
}

/// An optional string field (empty counts as unset).
pub(crate) fn optional(spec: &Value, at: &str, key: &str) -> Result<Option<String>, GeneratorError> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(GeneratorError::Field { field: format!("{at}.{key}"), message: "must be a string".into() }),
    }
}

/// An optional boolean field (false when unset).
pub(crate) fn flag(spec: &Value, at: &str, key: &str) -> Result<bool, GeneratorError> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(GeneratorError::Field { field: format!("{at}.{key}"), message: "must be a boolean".into() }),
    }
}

fn string_list(spec: &Value, at: &str, key: &str) -> Result<Vec<String>, GeneratorError> {
    let bad = || GeneratorError::Field { field: format!("{at}.{key}"), message: "must be a list of strings".into() };
    match spec.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(bad)).collect(),
        Some(_) => Err(bad()),
    }
}

/// A `{secretName, key}` reference (`None` when absent).
pub(crate) fn secret_ref(spec: &Value, at: &str, key: &str) -> Result<Option<SecretRef>, GeneratorError> {
    let at = format!("{at}.{key}");
    match spec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(r @ Value::Object(_)) => {
            Ok(Some(SecretRef { secret_name: required(r, &at, "secretName")?, key: required(r, &at, "key")? }))
        }
        Some(_) => Err(GeneratorError::Field { field: at, message: "must be {secretName, key}".into() }),
    }
}

/// Reads the provider of a `pullRequest` spec: exactly one of the supported providers.
pub fn provider(spec: &Value) -> Result<PullRequestProvider, GeneratorError> {
    const SUPPORTED: [&str; 4] = ["github", "gitlab", "gitea", "bitbucketServer"];
    const KNOWN_UNSUPPORTED: [&str; 3] = ["bitbucket", "azuredevops", "scmManager"];
    let set: Vec<&str> = SUPPORTED.iter().copied().filter(|k| spec.get(k).is_some_and(|v| !v.is_null())).collect();
    let name = match set.as_slice() {
        [one] => *one,
        [] => {
            let other = KNOWN_UNSUPPORTED.iter().find(|k| spec.get(*k).is_some_and(|v| !v.is_null()));
            return Err(GeneratorError::Field {
                field: "pullRequest".into(),
                message: match other {
                    Some(k) => format!("the {k} provider is not supported (supported: {})", SUPPORTED.join(", ")),
                    None => format!("names no provider (one of {})", SUPPORTED.join(", ")),
                },
            });
        }
        several => {
            return Err(GeneratorError::Field {
                field: "pullRequest".into(),
                message: format!("names more than one provider: {}", several.join(", ")),
            });
        }
    };
    let p = &spec[name];
    let at = format!("pullRequest.{name}");
    Ok(match name {
        "github" => PullRequestProvider::GitHub {
            api: optional(p, &at, "api")?,
            owner: required(p, &at, "owner")?,
            repo: required(p, &at, "repo")?,
            token: secret_ref(p, &at, "tokenRef")?,
            labels: string_list(p, &at, "labels")?,
        },
        "gitlab" => PullRequestProvider::GitLab {
            api: optional(p, &at, "api")?,
            project: required(p, &at, "project")?,
            token: secret_ref(p, &at, "tokenRef")?,
            labels: string_list(p, &at, "labels")?,
            state: optional(p, &at, "pullRequestState")?,
        },
        "gitea" => PullRequestProvider::Gitea {
            api: required(p, &at, "api")?,
            owner: required(p, &at, "owner")?,
            repo: required(p, &at, "repo")?,
            token: secret_ref(p, &at, "tokenRef")?,
            labels: string_list(p, &at, "labels")?,
            insecure: flag(p, &at, "insecure")?,
        },
        _ => {
            let auth = if let Some(basic) = p.get("basicAuth").filter(|v| !v.is_null()) {
                let at = format!("{at}.basicAuth");
                BitbucketAuth::Basic {
                    username: required(basic, &at, "username")?,
                    password: secret_ref(basic, &at, "passwordRef")?.ok_or_else(|| GeneratorError::Field {
                        field: format!("{at}.passwordRef"),
                        message: "is required".into(),
                    })?,
                }
            } else if let Some(bearer) = p.get("bearerToken").filter(|v| !v.is_null()) {
                let at = format!("{at}.bearerToken");
                BitbucketAuth::Bearer(secret_ref(bearer, &at, "tokenRef")?.ok_or_else(|| GeneratorError::Field {
                    field: format!("{at}.tokenRef"),
                    message: "is required".into(),
                })?)
            } else {
                BitbucketAuth::None
            };
            PullRequestProvider::BitbucketServer {
                api: required(p, &at, "api")?,
                project: required(p, &at, "project")?,
                repo: required(p, &at, "repo")?,
                auth,
            }
        }
    })
}

/// gosimple/slug as Argo CD sets it up for `branch_slug`: `_` becomes `-`, `&` `and`, `@`
/// `at`; lowercase; every run of characters outside `[a-z0-9_-]` becomes one `-`; trimmed of
/// `-` and `_`; then cut to at most 50 characters at the last `-` (or at 50 when there is
/// none). Non-ASCII letters are not transliterated (gosimple's unidecode would): they count
/// as separators.
pub fn branch_slug(branch: &str) -> String {
    const MAX: usize = 50;
    let mut text = String::with_capacity(branch.len());
    for c in branch.trim().chars() {
        match c {
            '_' => text.push('-'),
            '&' => text.push_str("and"),
            '@' => text.push_str("at"),
            c => text.push(c),
        }
    }
    let mut slug = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        let kept = c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if kept {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches(|c| c == '-' || c == '_');
    if slug.len() <= MAX {
        return slug.to_string();
    }
    let bytes = slug.as_bytes();
    match (0..=MAX).rev().find(|&i| bytes[i] == b'-') {
        Some(cut) => slug[..cut].to_string(),
        None => slug[..MAX].to_string(),
    }
}

fn short(sha: &str, n: usize) -> &str {
    // SHAs are ASCII hex; anything else is cut at a character boundary.
    match sha.char_indices().nth(n) {
        Some((i, _)) => &sha[..i],
        None => sha,
    }
}

/// The parameter set of one pull request, before `values`.
pub fn params(pr: &PullRequest, mode: Mode) -> Params {
    let strings = [
        ("number", pr.number.to_string()),
        ("title", pr.title.clone()),
        ("branch", pr.branch.clone()),
        ("branch_slug", branch_slug(&pr.branch)),
        ("target_branch", pr.target_branch.clone()),
        ("target_branch_slug", branch_slug(&pr.target_branch)),
        ("head_sha", pr.head_sha.clone()),
        ("head_short_sha", short(&pr.head_sha, 8).to_string()),
        ("head_short_sha_7", short(&pr.head_sha, 7).to_string()),
        ("author", pr.author.clone()),
    ];
    match mode {
        Mode::Flat => Params::Flat(strings.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        Mode::Go => {
            let mut m: Map<String, Value> =
                strings.into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
            m.insert("labels".into(), Value::Array(pr.labels.iter().cloned().map(Value::String).collect()));
            Params::Go(m)
        }
    }
}

/// Runs a `pullRequest` generator spec against `cx.inputs.pull_requests`.
pub fn generate(spec: &Value, cx: &Context<'_>) -> Result<Vec<Params>, GeneratorError> {
    let provider = provider(spec)?;
    let filters = filters(spec)?;
    let continue_on_not_found = flag(spec, "pullRequest", "continueOnRepoNotFoundError")?;
    let source = cx.inputs.pull_requests.ok_or_else(|| GeneratorError::MissingInput {
        kind: "pullRequest".into(),
        what: "a pull request provider client".into(),
    })?;
    let pulls = match source.list(&provider) {
        Ok(pulls) => pulls,
        Err(e) if e.not_found && continue_on_not_found => return Ok(Vec::new()),
        Err(e) => return Err(GeneratorError::Source { kind: "pullRequest".into(), message: e.message }),
    };
    let mut out = Vec::new();
    for pr in pulls.iter().filter(|pr| filters.is_empty() || filters.iter().any(|f| f.matches(pr))) {
        let mut p = params(pr, cx.mode());
        append_values("pullRequest.values", spec.get("values"), &mut p, cx)?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use serde_json::json;

    use super::*;
    use crate::appset::generators::Inputs;
    use crate::appset::template::Engine;

    struct Fixed(Result<Vec<PullRequest>, SourceError>, RefCell<Vec<PullRequestProvider>>);

    impl PullRequests for Fixed {
        fn list(&self, provider: &PullRequestProvider) -> Result<Vec<PullRequest>, SourceError> {
            self.1.borrow_mut().push(provider.clone());
            self.0.clone()
        }
    }

    fn pr(number: u64, branch: &str, target: &str, title: &str) -> PullRequest {
        PullRequest {
            number,
            title: title.into(),
            branch: branch.into(),
            target_branch: target.into(),
            head_sha: format!("{number:0>4}abcdef0123456789"),
            labels: vec!["preview".into()],
            author: "dev".into(),
        }
    }

    fn run(mode: Mode, spec: Value, source: &Fixed) -> Result<Vec<Params>, GeneratorError> {
        let inputs = Inputs { pull_requests: Some(source), ..Inputs::default() };
        let cx = Context { engine: Engine::new(mode, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        generate(&spec, &cx)
    }

    #[test]
    fn slugs_follow_gosimple_with_argo_settings() {
        assert_eq!(branch_slug("feature/My_Branch"), "feature-my-branch");
        assert_eq!(branch_slug("  fix: a & b @ c!! "), "fix-a-and-b-at-c");
        assert_eq!(branch_slug("--x--"), "x");
        let long = "feature/".to_string() + &"abcd-".repeat(12);
        let slug = branch_slug(&long);
        assert!(slug.len() <= 50, "{slug}");
        assert!(!slug.ends_with('-'));
        assert_eq!(slug, "feature-abcd-abcd-abcd-abcd-abcd-abcd-abcd-abcd");
        assert_eq!(branch_slug(&"x".repeat(60)).len(), 50, "one word is cut at 50");
    }

    #[test]
    fn params_in_both_modes_and_filters_or_across_and_within() {
        let source = Fixed(
            Ok(vec![
                pr(1, "feat/a", "main", "Add a"),
                pr(2, "feat/b", "release", "Add b"),
                pr(3, "fix/c", "main", "WIP: c"),
            ]),
            RefCell::default(),
        );
        let spec = json!({"github": {"owner": "o", "repo": "r", "labels": ["preview"]},
            "filters": [{"branchMatch": "^feat/", "targetBranchMatch": "main"}, {"titleMatch": "^WIP"}],
            "values": {"host": "pr-{{number}}.example"}});
        let got = run(Mode::Flat, spec, &source).unwrap();
        let numbers: Vec<String> = got.iter().map(|p| p.flattened()["number"].clone()).collect();
        assert_eq!(numbers, ["1", "3"]);
        let p = got[0].flattened();
        assert_eq!(p["branch_slug"], "feat-a");
        assert_eq!(p["head_short_sha"], "0001abcd");
        assert_eq!(p["head_short_sha_7"], "0001abc");
        assert_eq!(p["values.host"], "pr-1.example");
        assert_eq!(p["author"], "dev");
        assert!(!p.contains_key("labels"), "labels only in Go mode");
        assert_eq!(
            source.1.borrow()[0],
            PullRequestProvider::GitHub {
                api: None,
                owner: "o".into(),
                repo: "r".into(),
                token: None,
                labels: vec!["preview".into()]
            }
        );

        let got = run(Mode::Go, json!({"gitlab": {"project": "g/p"}}), &source).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].get("labels"), Some(json!(["preview"])));
        assert_eq!(got[1].get("target_branch"), Some(json!("release")));
    }

    #[test]
    fn errors_name_the_field_and_not_found_can_continue() {
        let missing = Fixed(Err(SourceError { message: "404 Not Found".into(), not_found: true }), RefCell::default());
        let spec = json!({"gitea": {"api": "https://gitea.example", "owner": "o", "repo": "r"}});
        let e = run(Mode::Flat, spec.clone(), &missing).unwrap_err();
        assert_eq!(e.to_string(), "pullRequest: 404 Not Found");
        let mut spec = spec;
        spec["continueOnRepoNotFoundError"] = json!(true);
        assert_eq!(run(Mode::Flat, spec, &missing).unwrap(), []);

        let ok = Fixed(Ok(vec![]), RefCell::default());
        let e = run(Mode::Flat, json!({"github": {"owner": "o"}}), &ok).unwrap_err();
        assert_eq!(e.to_string(), "pullRequest.github.repo: is required (a string)");
        let e = run(Mode::Flat, json!({"azuredevops": {}}), &ok).unwrap_err();
        assert!(e.to_string().contains("the azuredevops provider is not supported"), "{e}");
        let e = run(Mode::Flat, json!({"github": {"owner": "o", "repo": "r"}, "filters": [{"branchMatch": "("}]}), &ok)
            .unwrap_err();
        assert!(e.to_string().starts_with("pullRequest.filters[0].branchMatch: \"(\" is not a valid"), "{e}");
        let spec = json!({"bitbucketServer": {"api": "https://bb", "project": "P", "repo": "r",
            "basicAuth": {"username": "u", "passwordRef": {"secretName": "s", "key": "k"}}}});
        run(Mode::Flat, spec, &ok).unwrap();
        assert_eq!(
            ok.1.borrow()[0],
            PullRequestProvider::BitbucketServer {
                api: "https://bb".into(),
                project: "P".into(),
                repo: "r".into(),
                auth: BitbucketAuth::Basic {
                    username: "u".into(),
                    password: SecretRef { secret_name: "s".into(), key: "k".into() }
                }
            }
        );
        let inputs = Inputs::default();
        let cx = Context { engine: Engine::new(Mode::Flat, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        let e = generate(&json!({"github": {"owner": "o", "repo": "r"}}), &cx).unwrap_err();
        assert!(matches!(e, GeneratorError::MissingInput { .. }), "{e}");
    }
}
