//! The scmProvider generator: one parameter set per repository (and branch) of an
//! organization, read through [`ScmRepositories`] (the HTTP clients live in an adapter crate).
//!
//! As in Argo CD: the repositories are listed (with `cloneProtocol` choosing the URL: `ssh`,
//! the default, or `https`), kept when any filter with repository fields (`repositoryMatch`,
//! `labelMatch`) matches; then each gives its default branch, or every branch with
//! `allBranches`; those are kept when any filter with branch fields (`branchMatch`,
//! `pathsExist`, `pathsDoNotExist`) matches. Within a filter every field must match; a filter
//! with both kinds of fields takes part in both stages, with only that stage's fields checked
//! (Argo CD's `getApplicableFilters`; releases before it classified such a filter by its last
//! field only).
//!
//! Parameters: `organization`, `repository`, `url`, `branch`, `branchNormalized`, `sha`,
//! `short_sha` (8 characters), `short_sha_7`, `labels` (comma-joined), and in Go mode
//! `repository_id` (a number; a flat parameter must be a string, and a fasttemplate
//! placeholder for a non-string value stays as written, which a missing key gives too); then
//! `values`.

use serde_json::{Map, Value};

use super::pull_request::{SecretRef, SourceError, flag, optional, regex_field, required, secret_ref};
use super::{Context, GeneratorError, append_values};
use crate::appset::params::{Mode, Params, normalize};

/// The provider an scmProvider generator reads, with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScmProvider {
    /// `github`: the repositories of an organization.
    GitHub {
        /// `api` (GitHub Enterprise), or `None` for api.github.com.
        api: Option<String>,
        /// `organization`.
        organization: String,
        /// `tokenRef`.
        token: Option<SecretRef>,
        /// `allBranches`.
        all_branches: bool,
    },
    /// `gitea`: the repositories of an owner (organization).
    Gitea {
        /// `api`: the Gitea server.
        api: String,
        /// `owner`.
        owner: String,
        /// `tokenRef`.
        token: Option<SecretRef>,
        /// `allBranches`.
        all_branches: bool,
        /// `insecure`: skip TLS verification.
        insecure: bool,
    },
}

/// One repository (at one branch, once branches are listed) as the provider gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScmRepository {
    /// The organization (owner).
    pub organization: String,
    /// The repository's name.
    pub repository: String,
    /// The provider's ID of the repository.
    pub repository_id: i64,
    /// The clone URL for the requested protocol.
    pub url: String,
    /// The branch (the default branch when listed).
    pub branch: String,
    /// The branch's head commit (empty until branches are listed).
    pub sha: String,
    /// The repository's labels (GitHub topics, Gitea labels).
    pub labels: Vec<String>,
}

/// Lists an organization's repositories, their branches and their paths.
pub trait ScmRepositories {
    /// Every repository of the organization, each at its default branch; `clone_protocol` is
    /// `ssh` or `https`.
    fn list(&self, provider: &ScmProvider, clone_protocol: &str) -> Result<Vec<ScmRepository>, SourceError>;
    /// The repository at each of its branches (only the default branch unless the provider
    /// says `allBranches`), with their head commits.
    fn branches(&self, provider: &ScmProvider, repo: &ScmRepository) -> Result<Vec<ScmRepository>, SourceError>;
    /// Whether `path` (a file or a directory) exists in the repository at its branch.
    fn has_path(&self, provider: &ScmProvider, repo: &ScmRepository, path: &str) -> Result<bool, SourceError>;
}

#[derive(Debug, Default)]
struct Filter {
    repository: Option<regex_lite::Regex>,
    label: Option<regex_lite::Regex>,
    branch: Option<regex_lite::Regex>,
    paths_exist: Vec<String>,
    paths_do_not_exist: Vec<String>,
}

impl Filter {
    fn has_repo_fields(&self) -> bool {
        self.repository.is_some() || self.label.is_some()
    }

    fn has_branch_fields(&self) -> bool {
        self.branch.is_some() || !self.paths_exist.is_empty() || !self.paths_do_not_exist.is_empty()
    }

    fn matches_repo(&self, repo: &ScmRepository) -> bool {
        self.repository.as_ref().is_none_or(|re| re.is_match(&repo.repository))
            && self.label.as_ref().is_none_or(|re| repo.labels.iter().any(|l| re.is_match(l)))
    }

    fn matches_branch(
        &self,
        source: &dyn ScmRepositories,
        provider: &ScmProvider,
        repo: &ScmRepository,
    ) -> Result<bool, SourceError> {
        if self.branch.as_ref().is_some_and(|re| !re.is_match(&repo.branch)) {
            return Ok(false);
        }
        for path in &self.paths_exist {
            if !source.has_path(provider, repo, path.trim_end_matches('/'))? {
                return Ok(false);
            }
        }
        for path in &self.paths_do_not_exist {
            if source.has_path(provider, repo, path.trim_end_matches('/'))? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn paths(spec: &Value, at: &str, key: &str) -> Result<Vec<String>, GeneratorError> {
    let bad = || GeneratorError::Field { field: format!("{at}.{key}"), message: "must be a list of paths".into() };
    match spec.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(bad)).collect(),
        Some(_) => Err(bad()),
    }
}

fn filters(spec: &Value) -> Result<Vec<Filter>, GeneratorError> {
    let list = match spec.get("filters") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(GeneratorError::Field {
                field: "scmProvider.filters".into(),
                message: "must be a list of filters".into(),
            });
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            let at = format!("scmProvider.filters[{i}]");
            Ok(Filter {
                repository: regex_field(f, &at, "repositoryMatch")?,
                label: regex_field(f, &at, "labelMatch")?,
                branch: regex_field(f, &at, "branchMatch")?,
                paths_exist: paths(f, &at, "pathsExist")?,
                paths_do_not_exist: paths(f, &at, "pathsDoNotExist")?,
            })
        })
        .collect()
}

/// Reads the provider of an `scmProvider` spec: exactly one of `github` and `gitea`.
pub fn provider(spec: &Value) -> Result<ScmProvider, GeneratorError> {
    const SUPPORTED: [&str; 2] = ["github", "gitea"];
    const KNOWN_UNSUPPORTED: [&str; 6] =
        ["gitlab", "bitbucket", "bitbucketServer", "azureDevOps", "awsCodeCommit", "scmManager"];
    let set: Vec<&str> = SUPPORTED.iter().copied().filter(|k| spec.get(k).is_some_and(|v| !v.is_null())).collect();
    let name = match set.as_slice() {
        [one] => *one,
        [] => {
            let other = KNOWN_UNSUPPORTED.iter().find(|k| spec.get(*k).is_some_and(|v| !v.is_null()));
            return Err(GeneratorError::Field {
                field: "scmProvider".into(),
                message: match other {
                    Some(k) => format!("the {k} provider is not supported (supported: github, gitea)"),
                    None => "names no provider (one of github, gitea)".into(),
                },
            });
        }
        several => {
            return Err(GeneratorError::Field {
                field: "scmProvider".into(),
                message: format!("names more than one provider: {}", several.join(", ")),
            });
        }
    };
    let p = &spec[name];
    let at = format!("scmProvider.{name}");
    Ok(match name {
        "github" => ScmProvider::GitHub {
            api: optional(p, &at, "api")?,
            organization: required(p, &at, "organization")?,
            token: secret_ref(p, &at, "tokenRef")?,
            all_branches: flag(p, &at, "allBranches")?,
        },
        _ => ScmProvider::Gitea {
            api: required(p, &at, "api")?,
            owner: required(p, &at, "owner")?,
            token: secret_ref(p, &at, "tokenRef")?,
            all_branches: flag(p, &at, "allBranches")?,
            insecure: flag(p, &at, "insecure")?,
        },
    })
}

/// The repositories (one per kept branch) the generator gives, in the provider's order.
pub fn list_repositories(
    source: &dyn ScmRepositories,
    provider: &ScmProvider,
    spec: &Value,
) -> Result<Vec<ScmRepository>, GeneratorError> {
    let filters = filters(spec)?;
    let clone_protocol = match optional(spec, "scmProvider", "cloneProtocol")?.as_deref() {
        None | Some("ssh") => "ssh",
        Some("https") => "https",
        Some(other) => {
            return Err(GeneratorError::Field {
                field: "scmProvider.cloneProtocol".into(),
                message: format!("{other:?} is not a clone protocol (ssh or https)"),
            });
        }
    };
    let source_err = |e: SourceError| GeneratorError::Source { kind: "scmProvider".into(), message: e.message };
    let repos = source.list(provider, clone_protocol).map_err(source_err)?;
    let repo_filters: Vec<&Filter> = filters.iter().filter(|f| f.has_repo_fields()).collect();
    let branch_filters: Vec<&Filter> = filters.iter().filter(|f| f.has_branch_fields()).collect();
    let mut out = Vec::new();
    for repo in repos {
        if !repo_filters.is_empty() && !repo_filters.iter().any(|f| f.matches_repo(&repo)) {
            continue;
        }
        for branch in source.branches(provider, &repo).map_err(source_err)? {
            let mut kept = branch_filters.is_empty();
            for f in &branch_filters {
                if f.matches_branch(source, provider, &branch).map_err(source_err)? {
                    kept = true;
                    break;
                }
            }
            if kept {
                out.push(branch);
            }
        }
    }
    Ok(out)
}

fn short(sha: &str, n: usize) -> &str {
    match sha.char_indices().nth(n) {
        Some((i, _)) => &sha[..i],
        None => sha,
    }
}

/// The parameter set of one repository at one branch, before `values`.
pub fn params(repo: &ScmRepository, mode: Mode) -> Params {
    let strings = [
        ("organization", repo.organization.clone()),
        ("repository", repo.repository.clone()),
        ("url", repo.url.clone()),
        ("branch", repo.branch.clone()),
        ("branchNormalized", normalize(&repo.branch)),
        ("sha", repo.sha.clone()),
        ("short_sha", short(&repo.sha, 8).to_string()),
        ("short_sha_7", short(&repo.sha, 7).to_string()),
        ("labels", repo.labels.join(",")),
    ];
    match mode {
        Mode::Flat => Params::Flat(strings.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        Mode::Go => {
            let mut m: Map<String, Value> =
                strings.into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
            m.insert("repository_id".into(), Value::from(repo.repository_id));
            Params::Go(m)
        }
    }
}

/// Runs an `scmProvider` generator spec against `cx.inputs.scm_repositories`.
pub fn generate(spec: &Value, cx: &Context<'_>) -> Result<Vec<Params>, GeneratorError> {
    let provider = provider(spec)?;
    let source = cx.inputs.scm_repositories.ok_or_else(|| GeneratorError::MissingInput {
        kind: "scmProvider".into(),
        what: "an SCM provider client".into(),
    })?;
    let mut out = Vec::new();
    for repo in list_repositories(source, &provider, spec)? {
        let mut p = params(&repo, cx.mode());
        append_values("scmProvider.values", spec.get("values"), &mut p, cx)?;
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

    /// A branch and the paths it holds.
    type Branch = (&'static str, Vec<&'static str>);

    /// Repositories with branches and the paths each branch holds; records what was asked.
    struct Org {
        repos: Vec<(ScmRepository, Vec<Branch>)>,
        asked: RefCell<Vec<String>>,
    }

    impl ScmRepositories for Org {
        fn list(&self, _: &ScmProvider, protocol: &str) -> Result<Vec<ScmRepository>, SourceError> {
            self.asked.borrow_mut().push(format!("list {protocol}"));
            Ok(self.repos.iter().map(|(r, _)| r.clone()).collect())
        }

        fn branches(&self, _: &ScmProvider, repo: &ScmRepository) -> Result<Vec<ScmRepository>, SourceError> {
            self.asked.borrow_mut().push(format!("branches {}", repo.repository));
            let (_, branches) = self.repos.iter().find(|(r, _)| r.repository == repo.repository).unwrap();
            Ok(branches
                .iter()
                .map(|(b, _)| ScmRepository { branch: b.to_string(), sha: format!("{b}-0123456789"), ..repo.clone() })
                .collect())
        }

        fn has_path(&self, _: &ScmProvider, repo: &ScmRepository, path: &str) -> Result<bool, SourceError> {
            let (_, branches) = self.repos.iter().find(|(r, _)| r.repository == repo.repository).unwrap();
            let (_, paths) = branches.iter().find(|(b, _)| *b == repo.branch).unwrap();
            Ok(paths.contains(&path))
        }
    }

    fn org() -> Org {
        let repo = |name: &str, labels: &[&str]| ScmRepository {
            organization: "acme".into(),
            repository: name.into(),
            repository_id: 7,
            url: format!("git@git.example:acme/{name}.git"),
            branch: "main".into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            ..ScmRepository::default()
        };
        Org {
            repos: vec![
                (repo("web", &["team-a", "deploy"]), vec![("main", vec!["kustomization.yaml"])]),
                (repo("api", &["deploy"]), vec![("main", vec!["helm"]), ("Feature_X", vec![])]),
                (repo("docs", &[]), vec![("main", vec![])]),
            ],
            asked: RefCell::default(),
        }
    }

    fn run(mode: Mode, spec: Value, org: &Org) -> Result<Vec<Params>, GeneratorError> {
        let inputs = Inputs { scm_repositories: Some(org), ..Inputs::default() };
        let cx = Context { engine: Engine::new(mode, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        generate(&spec, &cx)
    }

    #[test]
    fn repo_filters_run_before_branches_are_listed() {
        let org = org();
        let spec = json!({"github": {"organization": "acme"}, "filters": [{"labelMatch": "^deploy$"}],
            "values": {"ns": "{{repository}}-{{branchNormalized}}"}});
        let got = run(Mode::Flat, spec, &org).unwrap();
        let names: Vec<String> = got.iter().map(|p| p.flattened()["values.ns"].clone()).collect();
        assert_eq!(names, ["web-main", "api-main", "api-feature-x"]);
        assert_eq!(*org.asked.borrow(), ["list ssh", "branches web", "branches api"], "docs never listed");
        let p = got[2].flattened();
        assert_eq!(p["short_sha"], "Feature_");
        assert_eq!(p["short_sha_7"], "Feature");
        assert_eq!(p["labels"], "deploy");
        assert!(!p.contains_key("repository_id"));
    }

    #[test]
    fn branch_filters_and_paths_and_mixed_filters() {
        let org = org();
        let spec = json!({"gitea": {"api": "https://gitea.example", "owner": "acme"}, "cloneProtocol": "https",
            "filters": [{"pathsExist": ["helm/"]}, {"repositoryMatch": "^w", "pathsDoNotExist": ["helm"]}]});
        let got = run(Mode::Go, spec, &org).unwrap();
        let names: Vec<Value> = got.iter().map(|p| p.get("repository").unwrap()).collect();
        // The mixed filter takes part in the repository stage: api is dropped there, although
        // the first filter alone would keep it.
        assert_eq!(names, [json!("web")]);
        assert_eq!(got[0].get("repository_id"), Some(json!(7)));
        assert_eq!(*org.asked.borrow(), ["list https", "branches web"]);
        let spec = json!({"github": {"organization": "acme"}, "filters": [{"pathsExist": ["helm/"]}]});
        let got = run(Mode::Flat, spec, &org).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].flattened()["repository"], "api");
        let spec = json!({"github": {"organization": "acme"}, "filters": [{"branchMatch": "^main$"}]});
        assert_eq!(run(Mode::Flat, spec, &org).unwrap().len(), 3);
    }

    #[test]
    fn bad_specs_name_the_field() {
        let org = org();
        let e = run(Mode::Flat, json!({"github": {"organization": "acme"}, "cloneProtocol": "git"}), &org).unwrap_err();
        assert_eq!(e.to_string(), "scmProvider.cloneProtocol: \"git\" is not a clone protocol (ssh or https)");
        let e = run(Mode::Flat, json!({"gitlab": {"group": "g"}}), &org).unwrap_err();
        assert_eq!(e.to_string(), "scmProvider: the gitlab provider is not supported (supported: github, gitea)");
        let e = run(Mode::Flat, json!({"gitea": {"owner": "acme"}}), &org).unwrap_err();
        assert_eq!(e.to_string(), "scmProvider.gitea.api: is required (a string)");
    }
}
