//! One round of a Flux `ImageUpdateAutomation`: clone its GitRepository's branch, set every
//! marked image under `update.path` from the policies' latest images, commit with the
//! automation's author and message, push (see [`crate::git_push`]).
//!
//! Which files: regular files named `*.yaml`, `*.yml` or `Kustomization` below `update.path`
//! (symbolic links are not followed, `.git` is skipped) that contain `"$imagepolicy"`, as
//! Flux reads them. A file that does not read as YAML is passed over and reported, as Flux
//! reports its "problem files"; a marker error (a policy that does not exist, a field that is
//! not `tag`, `name` or `digest`) fails the round before anything is committed.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use gitops_core::image::automation::{Automation, AutomationError, FileChanges};
use gitops_core::image::setters::{self, LatestImage, Lookup, SetterError};
use serde_json::Value;

use crate::git::Cache;
use crate::git_push::{self, Edited, Outcome, PushError, Signature, Target};

/// Why a round failed. Git is untouched unless the error says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The automation does not read, or its message template does not render.
    #[error(transparent)]
    Automation(#[from] AutomationError),
    /// A marker could not be applied.
    #[error(transparent)]
    Setter(#[from] SetterError),
    /// The automation's source is missing or unusable.
    #[error("ImageUpdateAutomation {automation}: {problem}")]
    Source {
        /// `namespace/name`.
        automation: String,
        /// What is wrong.
        problem: String,
    },
    /// Reading the working tree failed.
    #[error("{}: {source}", .path)]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Cloning, committing or pushing failed.
    #[error(transparent)]
    Git(#[from] crate::git::Error),
    /// The branch to check out is missing, or every push lost the race with other pushes.
    #[error("{0}")]
    Push(String),
}

/// The Git side of an automation: its GitRepository's URL and the branches to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// `spec.url` of the GitRepository.
    pub url: String,
    /// The branch to check out: `spec.git.checkout.ref.branch`, else the GitRepository's
    /// `ref.branch`, else `master` (Flux's default).
    pub checkout_branch: String,
}

impl GitSource {
    /// The automation's source, from the GitRepository object it names.
    pub fn of(automation: &Automation, repository: &Value) -> Result<GitSource, Error> {
        let problem = |p: String| Error::Source { automation: automation.id(), problem: p };
        let url = repository
            .pointer("/spec/url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| problem(format!("GitRepository {}: spec.url is missing", automation.source_name)))?;
        let repo_ref = gitops_core::image::automation::CheckoutRef::from_json(repository.pointer("/spec/ref"));
        let chosen = if automation.checkout.is_empty() { &repo_ref } else { &automation.checkout };
        // A push needs a branch to build on; Flux's tag, semver, name and commit checkouts
        // (pushed to another branch) are not supported here yet.
        let checkout_branch = match &chosen.branch {
            Some(branch) => branch.clone(),
            None if chosen.is_empty() => "master".to_string(),
            None => {
                return Err(problem(
                    "checking out a tag, semver range, name or commit is not supported; set spec.git.checkout.ref.branch".into(),
                ));
            }
        };
        Ok(GitSource { url: url.to_string(), checkout_branch })
    }
}

/// What one round did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// Pushed, or nothing to change.
    pub outcome: Outcome,
    /// The changes, per file (empty when unchanged).
    pub changes: Vec<FileChanges>,
    /// Files passed over because they do not read as YAML, with why.
    pub problem_files: Vec<String>,
    /// The message committed with (empty when unchanged).
    pub message: String,
}

/// The policies an automation may use: ImagePolicy objects of its namespace that its
/// `policySelector` selects, with their latest images.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    by_name: BTreeMap<(String, String), Option<LatestImage>>,
    selected: BTreeMap<(String, String), bool>,
}

impl Policies {
    /// Records a policy (`latest` is `None` until it has chosen an image).
    pub fn insert(&mut self, namespace: &str, name: &str, selected: bool, latest: Option<LatestImage>) {
        let key = (namespace.to_string(), name.to_string());
        self.selected.insert(key.clone(), selected);
        self.by_name.insert(key, latest);
    }

    /// What a marker naming `namespace/name` finds.
    pub fn lookup(&self, namespace: &str, name: &str) -> Lookup {
        let key = (namespace.to_string(), name.to_string());
        match (self.by_name.get(&key), self.selected.get(&key)) {
            (Some(Some(latest)), Some(true)) => Lookup::Latest(latest.clone()),
            (Some(_), _) => Lookup::Skip,
            (None, _) => Lookup::Missing,
        }
    }

    /// The latest images in scope, `name → image`, as Flux's `status.observedPolicies`.
    pub fn observed(&self) -> BTreeMap<String, LatestImage> {
        self.by_name
            .iter()
            .filter(|(k, _)| self.selected.get(*k) == Some(&true))
            .filter_map(|((_, name), latest)| Some((name.clone(), latest.clone()?)))
            .collect()
    }
}

/// Runs one round of `automation` on `source` with `policies`.
pub fn run(cache: &Cache, automation: &Automation, source: &GitSource, policies: &Policies) -> Result<Round, Error> {
    let target = Target {
        url: source.url.clone(),
        checkout_branch: source.checkout_branch.clone(),
        push_branch: automation.push_branch.clone().unwrap_or_else(|| source.checkout_branch.clone()),
        refspec: automation.push_refspec.clone(),
    };
    let who = Signature { name: automation.author.name.clone(), email: automation.author.email.clone() };
    let mut last = Round {
        outcome: Outcome::Unchanged { base: String::new() },
        changes: Vec::new(),
        problem_files: Vec::new(),
        message: String::new(),
    };
    let outcome = git_push::commit_and_push(cache, &target, &who, |dir| {
        let (changes, problems) = apply(dir, automation, policies)?;
        last.problem_files = problems;
        if changes.is_empty() {
            last.changes.clear();
            return Ok(Edited::Unchanged);
        }
        let message = automation.commit_message(&changes)?;
        last.changes = changes;
        last.message = message.clone();
        Ok(Edited::Changed(message))
    })
    .map_err(|e| match e {
        PushError::Git(e) => Error::Git(e),
        PushError::Edit(e) => e,
        other @ (PushError::NoBranch { .. } | PushError::Rejected { .. }) => Error::Push(other.to_string()),
    })?;
    if matches!(outcome, Outcome::Unchanged { .. }) {
        last.changes.clear();
        last.message.clear();
    }
    last.outcome = outcome;
    Ok(last)
}

/// Sets the markers of every file under the update path of the working tree `dir`.
fn apply(dir: &Path, automation: &Automation, policies: &Policies) -> Result<(Vec<FileChanges>, Vec<String>), Error> {
    let root = if automation.update_path == "." { dir.to_path_buf() } else { dir.join(&automation.update_path) };
    let mut files = Vec::new();
    collect(&root, &mut files)?;
    files.sort();
    let lookup = |ns: &str, name: &str| policies.lookup(ns, name);
    let mut edits = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().into_owned();
        let io = |source| Error::Io { path: rel.clone(), source };
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            // Not UTF-8: not YAML Flux would edit either.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => continue,
            Err(e) => return Err(io(e)),
        };
        if !setters::has_markers(&text) {
            continue;
        }
        match setters::update(&rel, &text, &automation.namespace, &lookup) {
            Ok(update) if update.changes.is_empty() => {}
            Ok(update) => edits.push((path, rel, update)),
            Err(e @ SetterError::Syntax { .. }) => problems.push(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    // Written only once every file has been edited in memory.
    let mut changes = Vec::new();
    for (path, rel, update) in edits {
        fs::write(&path, &update.text).map_err(|source| Error::Io { path: rel.clone(), source })?;
        let mut objects: Vec<(setters::ObjectId, Vec<setters::Change>)> = Vec::new();
        for located in update.changes {
            match objects.iter_mut().find(|(o, _)| *o == located.object) {
                Some((_, list)) => list.push(located.change),
                None => objects.push((located.object, vec![located.change])),
            }
        }
        changes.push(FileChanges { file: rel, objects });
    }
    Ok((changes, problems))
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), Error> {
    let io = |source| Error::Io { path: dir.display().to_string(), source };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io)?;
        let kind = entry.file_type().map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_dir() && name != ".git" {
            collect(&entry.path(), out)?;
        } else if kind.is_file() && (name.ends_with(".yaml") || name.ends_with(".yml") || name == "Kustomization") {
            out.push(entry.path());
        }
    }
    Ok(())
}
