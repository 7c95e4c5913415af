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
use gitops_core::image::write_back::{
    self, GitTarget, GitWriteBack, ImageChange, KustomizeImage, Managed, WriteBackError,
};
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
    /// The source, branch or write-back target is missing or unusable.
    #[error("{subject}: {problem}")]
    Source {
        /// What it is about: `ImageUpdateAutomation ns/name`, `Application ns/name`, a file.
        subject: String,
        /// What is wrong.
        problem: String,
    },
    /// An Image Updater write-back file cannot be made.
    #[error(transparent)]
    WriteBack(#[from] WriteBackError),
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
        let problem =
            |p: String| Error::Source { subject: format!("ImageUpdateAutomation {}", automation.id()), problem: p };
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
    if root.exists() {
        inside(dir, &root, &automation.update_path)?;
    }
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

/// Refuses a path of the working tree that a symbolic link leads out of it (a repository
/// could point `values.yaml` or `update.path` at any file of the machine): the path itself
/// must not be a link, and its nearest existing ancestor must resolve inside `dir`.
fn inside(dir: &Path, path: &Path, shown: &str) -> Result<(), Error> {
    let refuse = |problem: &str| Error::Source { subject: shown.to_string(), problem: problem.to_string() };
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refuse("is a symbolic link; image automation writes only regular files of the repository"));
    }
    let root = fs::canonicalize(dir).map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
    let mut existing = path;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    let real = fs::canonicalize(existing).map_err(|source| Error::Io { path: shown.to_string(), source })?;
    if !real.starts_with(&root) {
        return Err(refuse("leads out of the repository through a symbolic link"));
    }
    Ok(())
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

/// An app's `git` write-back: what to write where, and who commits.
#[derive(Debug, Clone, Copy)]
pub struct AppWriteBack<'a> {
    /// The Application's name.
    pub app_name: &'a str,
    /// The Application's namespace.
    pub app_namespace: &'a str,
    /// Where to write ([`write_back::method`]).
    pub git: &'a GitWriteBack,
    /// What to write ([`write_back::managed`]).
    pub managed: &'a Managed,
    /// The images changed, for the message and the write branch.
    pub changes: &'a [ImageChange],
    /// The commit author.
    pub who: &'a Signature,
    /// The commit message template (`None`: Image Updater's default).
    pub template: Option<&'a str>,
}

/// What an Image Updater `git` write-back did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRound {
    /// Pushed, or nothing to change.
    pub outcome: Outcome,
    /// The commit message (empty when unchanged).
    pub message: String,
}

/// Writes an app's image updates to Git as Argo CD Image Updater's `git` write-back does:
/// the override file, the kustomization's `images:` or the Helm values file of `git`,
/// committed as `who` with the message `template` renders (Image Updater's default without
/// one), pushed to the write branch (rendered from its template) or the base branch.
pub fn write_back_git(cache: &Cache, request: &AppWriteBack) -> Result<AppRound, Error> {
    let AppWriteBack { app_name, app_namespace, git, managed, changes, who, template } = *request;
    let problem = |p: String| Error::Source { subject: format!("Application {app_namespace}/{app_name}"), problem: p };
    let push_branch = match &git.write_branch {
        Some(t) => write_back::write_branch(t, app_name, app_namespace, changes)
            .map_err(|e| problem(format!("git-branch: {e}")))?,
        None => git.base_branch.clone(),
    };
    let target =
        Target { url: git.repository.clone(), checkout_branch: git.base_branch.clone(), push_branch, refspec: None };
    let message = write_back::commit_message(template, app_name, changes);
    let outcome = git_push::commit_and_push(cache, &target, who, |dir| {
        let changed = write_target(dir, &git.target, managed)?;
        Ok::<_, Error>(if changed { Edited::Changed(message.clone()) } else { Edited::Unchanged })
    })
    .map_err(|e| match e {
        PushError::Git(e) => Error::Git(e),
        PushError::Edit(e) => e,
        other @ (PushError::NoBranch { .. } | PushError::Rejected { .. }) => Error::Push(other.to_string()),
    })?;
    let message = if matches!(outcome, Outcome::Pushed { .. }) { message } else { String::new() };
    Ok(AppRound { outcome, message })
}

/// Writes `managed` into `target` of the working tree; whether a file changed.
fn write_target(dir: &Path, target: &GitTarget, managed: &Managed) -> Result<bool, Error> {
    let read = |rel: &str| -> Result<Option<String>, Error> {
        match fs::read_to_string(dir.join(rel)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path: rel.to_string(), source }),
        }
    };
    let (file, old, new) = match target {
        GitTarget::Override(file) => {
            let old = read(file)?;
            let new = write_back::override_file(file, old.as_deref(), managed)?;
            (file.clone(), old, new)
        }
        GitTarget::HelmValues(file) => {
            let Managed::Helm(params) = managed else {
                return Err(Error::Source {
                    subject: file.clone(),
                    problem: "helmvalues write-back needs a Helm app".into(),
                });
            };
            let old = read(file)?;
            let new = write_back::helm_values(file, old.as_deref().unwrap_or(""), params)?;
            (file.clone(), old, new)
        }
        GitTarget::Kustomization(kdir) => {
            let Managed::Kustomize(images) = managed else {
                return Err(Error::Source {
                    subject: kdir.clone(),
                    problem: "kustomization write-back needs a Kustomize app".into(),
                });
            };
            let found = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
                .iter()
                .map(|n| if kdir == "." { n.to_string() } else { format!("{kdir}/{n}") })
                .find(|f| dir.join(f).is_file())
                .ok_or_else(|| Error::Source {
                    subject: kdir.clone(),
                    problem: "no kustomization file in the write-back target".into(),
                })?;
            let old = read(&found)?.unwrap_or_default();
            let mut new = old.clone();
            for image in images {
                new = write_back::kustomization_image(&found, &new, &kustomize_image(image))?;
            }
            (found, Some(old), new)
        }
    };
    if old.as_deref() == Some(new.as_str()) {
        return Ok(false);
    }
    let path = dir.join(&file);
    inside(dir, &path, &file)?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| Error::Io { path: file.clone(), source })?;
    }
    fs::write(&path, new).map_err(|source| Error::Io { path: file, source })?;
    Ok(true)
}

/// `[name=]image:tag[@digest]` as a kustomization `images:` entry.
fn kustomize_image(entry: &str) -> KustomizeImage {
    let (alias, image) = match entry.split_once('=') {
        Some((a, i)) => (Some(a), i),
        None => (None, entry),
    };
    let (name, tag, digest) = gitops_core::image::reference::split_as_written(image);
    KustomizeImage {
        name: alias.unwrap_or(name).to_string(),
        new_name: alias.filter(|a| *a != name).map(|_| name.to_string()),
        new_tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git_push::tests::{git, remote_with as remote};

    fn request<'a>(
        git: &'a GitWriteBack,
        managed: &'a Managed,
        changes: &'a [ImageChange],
        who: &'a Signature,
    ) -> AppWriteBack<'a> {
        AppWriteBack { app_name: "web", app_namespace: "argocd", git, managed, changes, who, template: None }
    }

    #[test]
    fn a_kustomization_is_edited_in_place_and_a_second_run_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let kustomization =
            "resources:\n  - deployment.yaml # the app\nimages:\n  - name: ghcr.io/o/web\n    newTag: v1\n";
        let bare = remote(tmp.path(), &[("apps/web/kustomization.yaml", kustomization)]);
        let cache = Cache::new(tmp.path().join("cache"));
        let git_wb = GitWriteBack {
            repository: bare.to_string_lossy().into(),
            credentials: "repocreds".into(),
            base_branch: "HEAD".into(),
            write_branch: None,
            target: GitTarget::Kustomization("apps/web".into()),
        };
        let managed = Managed::Kustomize(vec!["ghcr.io/o/web:v2".into()]);
        let changes = [ImageChange {
            image: "ghcr.io/o/web".into(),
            alias: "web".into(),
            old_tag: "v1".into(),
            new_tag: "v2".into(),
        }];
        let who = Signature { name: "argocd-image-updater".into(), email: "noreply@argoproj.io".into() };
        let round = write_back_git(&cache, &request(&git_wb, &managed, &changes, &who)).unwrap();
        assert!(matches!(round.outcome, Outcome::Pushed { ref branch, .. } if branch == "main"), "{round:?}");
        assert_eq!(round.message, "build: automatic update of web\n\nupdates image ghcr.io/o/web tag 'v1' to 'v2'\n");
        assert_eq!(
            git(&bare, &["show", "main:apps/web/kustomization.yaml"]) + "\n",
            kustomization.replace("newTag: v1", "newTag: v2")
        );
        let again = write_back_git(&cache, &request(&git_wb, &managed, &changes, &who)).unwrap();
        assert!(matches!(again.outcome, Outcome::Unchanged { .. }), "{again:?}");
    }

    #[test]
    fn the_override_file_goes_to_a_templated_write_branch() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = remote(tmp.path(), &[("charts/web/Chart.yaml", "name: web\n")]);
        let cache = Cache::new(tmp.path().join("cache"));
        let git_wb = GitWriteBack {
            repository: bare.to_string_lossy().into(),
            credentials: "repocreds".into(),
            base_branch: "main".into(),
            write_branch: Some("image-updater-{{ .AppName }}".into()),
            target: GitTarget::Override("charts/web/.argocd-source-web.yaml".into()),
        };
        let managed = Managed::Helm(vec![("image.tag".into(), "1.2.0".into())]);
        let who = Signature { name: "bot".into(), email: "bot@example.com".into() };
        let round = write_back_git(&cache, &request(&git_wb, &managed, &[], &who)).unwrap();
        assert!(
            matches!(round.outcome, Outcome::Pushed { ref branch, .. } if branch == "image-updater-web"),
            "{round:?}"
        );
        assert_eq!(
            git(&bare, &["show", "image-updater-web:charts/web/.argocd-source-web.yaml"]),
            "helm:\n  parameters:\n  - name: image.tag\n    value: 1.2.0\n    forcestring: true"
        );
        assert_eq!(git(&bare, &["log", "--format=%s", "main"]), "seed", "the base branch is not touched");
    }

    #[test]
    fn a_target_a_symbolic_link_leads_out_of_the_repository_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside.yaml");
        fs::write(&outside, "keep: me\n").unwrap();
        let bare = remote(tmp.path(), &[("charts/web/Chart.yaml", "name: web\n")]);
        // A commit adding `charts/web/values.yaml -> <outside>`.
        let work = tmp.path().join("work");
        git(tmp.path(), &["clone", "--quiet", bare.to_str().unwrap(), work.to_str().unwrap()]);
        std::os::unix::fs::symlink(&outside, work.join("charts/web/values.yaml")).unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "--quiet", "-m", "link"]);
        git(&work, &["push", "--quiet", "origin", "HEAD:main"]);
        let cache = Cache::new(tmp.path().join("cache"));
        let git_wb = GitWriteBack {
            repository: bare.to_string_lossy().into(),
            credentials: "repocreds".into(),
            base_branch: "main".into(),
            write_branch: None,
            target: GitTarget::HelmValues("charts/web/values.yaml".into()),
        };
        let managed = Managed::Helm(vec![("image.tag".into(), "2".into())]);
        let who = Signature { name: "bot".into(), email: "bot@example.com".into() };
        let err = write_back_git(&cache, &request(&git_wb, &managed, &[], &who)).unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert_eq!(fs::read_to_string(&outside).unwrap(), "keep: me\n");
    }

    #[test]
    fn kustomize_entries_read_back_into_image_fields() {
        let k = kustomize_image("web=ghcr.io/o/web:v2@sha256:ab");
        assert_eq!(
            (k.name.as_str(), k.new_name.as_deref(), k.new_tag.as_deref(), k.digest.as_deref()),
            ("web", Some("ghcr.io/o/web"), Some("v2"), Some("sha256:ab"))
        );
        let k = kustomize_image("localhost:5000/app:1");
        assert_eq!((k.name.as_str(), k.new_name, k.new_tag.as_deref()), ("localhost:5000/app", None, Some("1")));
    }
}
