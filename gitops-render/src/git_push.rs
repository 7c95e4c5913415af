//! Writing back to Git: a working clone of a branch, an edit, a commit and a push that never
//! forces.
//!
//! Image automation (Flux's `ImageUpdateAutomation`, Argo CD Image Updater's `git`
//! write-back) changes files in the repository it deploys from. [`commit_and_push`] clones the
//! checkout branch into a fresh directory, bases the work on the push branch when that branch
//! exists already (so that updates accumulate there, as Flux does), lets the caller edit the
//! files, commits as the given author, and pushes. A push that loses a race with another push
//! (the remote moved on) is not forced: the clone is reset to the new tip, the edit is made
//! again on it, and the push retried, a few times.
//!
//! Credentials in URLs are scrubbed from every error, as in [`crate::git`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::git::{Cache, Error as GitError, scrub};

/// How often a rejected push is tried again on the new tip.
pub const MAX_ATTEMPTS: u32 = 5;

/// Why a write-back failed. The remote is unchanged unless the error says a push happened.
#[derive(Debug, thiserror::Error)]
pub enum PushError<E: std::error::Error + 'static> {
    /// Git failed (clone, commit, push), or could not run.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The checkout branch does not exist on the remote.
    #[error("git {url}: branch `{branch}` to check out does not exist")]
    NoBranch {
        /// The repository, credentials scrubbed.
        url: String,
        /// The branch.
        branch: String,
    },
    /// The edit failed; nothing was committed.
    #[error(transparent)]
    Edit(E),
    /// Every attempt lost the race with another push.
    #[error("git push {url} {branch}: rejected {attempts} times (the branch kept moving); nothing was forced")]
    Rejected {
        /// The repository, credentials scrubbed.
        url: String,
        /// The branch pushed to.
        branch: String,
        /// How many pushes were tried.
        attempts: u32,
    },
}

/// Where to clone from and push to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The repository URL (or a local path).
    pub url: String,
    /// The branch to check out.
    pub checkout_branch: String,
    /// The branch to push to (the checkout branch when the same). `HEAD`, here and for the
    /// checkout branch, is the remote's default branch.
    pub push_branch: String,
    /// An extra refspec pushed after the branch (Flux's `push.refspec`), e.g.
    /// `refs/heads/auto:refs/heads/release`.
    pub refspec: Option<String>,
}

/// Who commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The author's (and committer's) name.
    pub name: String,
    /// The author's (and committer's) email.
    pub email: String,
}

/// What the edit made of the clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// Nothing to commit.
    Unchanged,
    /// Files changed; commit with this message.
    Changed(String),
}

/// What [`commit_and_push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The edit changed nothing (or changed files back to what they were): no commit.
    Unchanged {
        /// The commit the edit was made on.
        base: String,
    },
    /// A commit was pushed.
    Pushed {
        /// The new commit.
        commit: String,
        /// The branch it was pushed to.
        branch: String,
        /// Pushes tried (1 when no other push raced).
        attempts: u32,
    },
}

/// Clones `target.checkout_branch` (or the push branch when it exists), runs `edit` on the
/// working tree, and when it reports a change commits as `who` and pushes, retrying on a
/// moved tip. `edit` may run more than once (once per attempt), each time on a clean tree.
pub fn commit_and_push<E: std::error::Error + 'static>(
    cache: &Cache,
    target: &Target,
    who: &Signature,
    mut edit: impl FnMut(&Path) -> Result<Edited, E>,
) -> Result<Outcome, PushError<E>> {
    let shown = scrub(&target.url);
    let work_root = cache.root().join("work");
    fs::create_dir_all(&work_root).map_err(|source| GitError::Io { path: work_root.clone(), source })?;
    // Removed on every return: a working clone is never reused.
    let work = tempfile::Builder::new()
        .prefix("push-")
        .tempdir_in(&work_root)
        .map_err(|source| GitError::Io { path: work_root.clone(), source })?;
    let dir = work.path().join("repo");
    let clone = Clone { cache, dir: dir.clone(), shown: shown.clone() };
    let url = absolute_url(&target.url);
    let dir_text = dir.to_string_lossy().into_owned();
    clone.run_in(None, "clone", &["clone", "--quiet", "--no-tags", "--no-checkout", &url, &dir_text])?;
    // `HEAD` is the remote's default branch, as Argo CD reads `targetRevision: HEAD`.
    let mut resolved = target.clone();
    for branch in [&mut resolved.checkout_branch, &mut resolved.push_branch] {
        if branch == "HEAD" {
            let head = clone.try_git("symbolic-ref", &["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"])?;
            match head.stdout.trim().strip_prefix("refs/remotes/origin/") {
                Some(name) if head.ok => *branch = name.to_string(),
                _ => return Err(PushError::NoBranch { url: shown.clone(), branch: "HEAD".into() }),
            }
        }
    }
    let target = &resolved;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let base = clone.base(target).map_err(|e| match e {
            BaseError::Git(e) => PushError::Git(e),
            BaseError::NoBranch => PushError::NoBranch { url: shown.clone(), branch: target.checkout_branch.clone() },
        })?;
        let message = match edit(&dir).map_err(PushError::Edit)? {
            Edited::Unchanged => return Ok(Outcome::Unchanged { base }),
            Edited::Changed(message) => message,
        };
        clone.git("add", &["add", "--all"])?;
        if clone.try_git("diff", &["diff", "--cached", "--quiet"])?.ok {
            return Ok(Outcome::Unchanged { base });
        }
        clone.commit(who, &message)?;
        let push_ref = format!("HEAD:refs/heads/{}", target.push_branch);
        let pushed = clone.try_git("push", &["push", "--quiet", "--porcelain", "origin", &push_ref])?;
        if pushed.ok {
            if let Some(refspec) = &target.refspec {
                clone.git("push", &["push", "--quiet", "origin", refspec])?;
            }
            let commit = clone.git("rev-parse", &["rev-parse", "HEAD"])?.trim().to_string();
            return Ok(Outcome::Pushed { commit, branch: target.push_branch.clone(), attempts });
        }
        if !is_rejection(&pushed.stdout, &pushed.stderr) {
            return Err(PushError::Git(GitError::Git { op: "push", url: shown, stderr: pushed.stderr }));
        }
        if attempts >= MAX_ATTEMPTS {
            return Err(PushError::Rejected { url: shown, branch: target.push_branch.clone(), attempts });
        }
        // Another push won: start again from the new tip.
        clone.git("fetch", &["fetch", "--quiet", "--no-tags", "origin"])?;
    }
}

/// git's words for a push refused because the remote moved (`! [rejected] ... (fetch
/// first)`, `(non-fast-forward)`, `stale info`), in the porcelain and human forms.
fn is_rejection(stdout: &str, stderr: &str) -> bool {
    let text = format!("{stdout}\n{stderr}");
    ["[rejected]", "non-fast-forward", "fetch first", "stale info", "cannot lock ref", "failed to update ref"]
        .iter()
        .any(|w| text.contains(w))
}

/// A local path as an absolute path, so git reads it whatever the working directory.
fn absolute_url(url: &str) -> String {
    match fs::canonicalize(url) {
        Ok(path) if !url.contains("://") => path.to_string_lossy().into_owned(),
        _ => url.to_string(),
    }
}

enum BaseError {
    Git(GitError),
    NoBranch,
}

/// A working clone.
struct Clone<'a> {
    cache: &'a Cache,
    dir: PathBuf,
    shown: String,
}

impl Clone<'_> {
    fn run_in(&self, dir: Option<&Path>, op: &'static str, args: &[&str]) -> Result<String, GitError> {
        let mut all: Vec<&str> = Vec::new();
        let dir_text;
        if let Some(dir) = dir {
            dir_text = dir.to_string_lossy().into_owned();
            all.extend(["-C", &dir_text]);
        }
        all.extend(args);
        let out = self.cache.git(op, &self.shown, &all, None)?;
        if out.ok { Ok(out.stdout) } else { Err(GitError::Git { op, url: self.shown.clone(), stderr: out.stderr }) }
    }

    fn git(&self, op: &'static str, args: &[&str]) -> Result<String, GitError> {
        self.run_in(Some(&self.dir), op, args)
    }

    fn try_git(&self, op: &'static str, args: &[&str]) -> Result<crate::git::Output, GitError> {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut all = vec!["-C", dir.as_str()];
        all.extend(args);
        self.cache.git(op, &self.shown, &all, None)
    }

    fn remote_has(&self, branch: &str) -> Result<bool, GitError> {
        let r = format!("refs/remotes/origin/{branch}");
        Ok(self.try_git("rev-parse", &["rev-parse", "--verify", "--quiet", &r])?.ok)
    }

    /// Resets the working tree to the push branch when the remote has it, else to the checkout
    /// branch; returns the base commit.
    fn base(&self, target: &Target) -> Result<String, BaseError> {
        let base = if target.push_branch != target.checkout_branch
            && self.remote_has(&target.push_branch).map_err(BaseError::Git)?
        {
            &target.push_branch
        } else if self.remote_has(&target.checkout_branch).map_err(BaseError::Git)? {
            &target.checkout_branch
        } else {
            return Err(BaseError::NoBranch);
        };
        let start = format!("origin/{base}");
        let local = format!("gitops-write/{}", target.push_branch);
        self.git("checkout", &["checkout", "--quiet", "--force", "-B", &local, &start]).map_err(BaseError::Git)?;
        self.git("clean", &["clean", "--quiet", "-fdx"]).map_err(BaseError::Git)?;
        Ok(self.git("rev-parse", &["rev-parse", "HEAD"]).map_err(BaseError::Git)?.trim().to_string())
    }

    fn commit(&self, who: &Signature, message: &str) -> Result<(), GitError> {
        let name = format!("user.name={}", who.name);
        let email = format!("user.email={}", who.email);
        // The user's signing and hook settings are not ours to run.
        self.git(
            "commit",
            &[
                "-c",
                &name,
                "-c",
                &email,
                "-c",
                "commit.gpgsign=false",
                "-c",
                "core.hooksPath=/dev/null",
                "commit",
                "--quiet",
                "--no-verify",
                "--cleanup=verbatim",
                "-m",
                message,
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::process::Command;

    use super::*;

    /// Runs git in `dir` as a test author; fails the test on an error.
    pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A bare "remote" (`dir/remote.git`) with one commit on main holding `files`.
    pub(crate) fn remote_with(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
        let seed = dir.join("seed");
        for (rel, text) in files {
            let path = seed.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        git(&seed, &["init", "--quiet"]);
        git(&seed, &["add", "."]);
        git(&seed, &["commit", "--quiet", "-m", "seed"]);
        let bare = dir.join("remote.git");
        git(dir, &["clone", "--quiet", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()]);
        bare
    }

    /// A bare "remote" with one commit on main holding `a.txt`.
    fn remote(dir: &Path) -> PathBuf {
        remote_with(dir, &[("a.txt", "one\n")])
    }

    fn who() -> Signature {
        Signature { name: "Image Bot".into(), email: "bot@example.com".into() }
    }

    fn target(url: &Path, push: &str) -> Target {
        Target {
            url: url.to_string_lossy().into(),
            checkout_branch: "main".into(),
            push_branch: push.into(),
            refspec: None,
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("edit failed")]
    struct EditFailed;

    #[test]
    fn commits_as_the_author_and_pushes_to_the_branch() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = remote(tmp.path());
        let cache = Cache::new(tmp.path().join("cache"));
        let out = commit_and_push(&cache, &target(&bare, "main"), &who(), |dir| {
            fs::write(dir.join("a.txt"), "two\n").unwrap();
            Ok::<_, EditFailed>(Edited::Changed("Update a\n\nbody".into()))
        })
        .unwrap();
        let Outcome::Pushed { commit, branch, attempts } = out else { panic!("{out:?}") };
        assert_eq!((branch.as_str(), attempts), ("main", 1));
        assert_eq!(git(&bare, &["rev-parse", "main"]), commit);
        assert_eq!(git(&bare, &["show", "main:a.txt"]), "two");
        assert_eq!(
            git(&bare, &["log", "-1", "--format=%an <%ae>|%cn|%B", "main"]),
            "Image Bot <bot@example.com>|Image Bot|Update a\n\nbody"
        );
        assert!(fs::read_dir(tmp.path().join("cache/work")).unwrap().next().is_none(), "the working clone is removed");
    }

    #[test]
    fn nothing_to_commit_and_a_failed_edit_push_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = remote(tmp.path());
        let before = git(&bare, &["rev-parse", "main"]);
        let cache = Cache::new(tmp.path().join("cache"));
        let same = commit_and_push(&cache, &target(&bare, "main"), &who(), |dir| {
            fs::write(dir.join("a.txt"), "one\n").unwrap();
            Ok::<_, EditFailed>(Edited::Changed("no-op".into()))
        })
        .unwrap();
        assert_eq!(same, Outcome::Unchanged { base: before.clone() });
        let failed = commit_and_push(&cache, &target(&bare, "main"), &who(), |dir| {
            fs::write(dir.join("a.txt"), "half\n").unwrap();
            Err::<Edited, _>(EditFailed)
        });
        assert!(matches!(failed, Err(PushError::Edit(EditFailed))));
        assert_eq!(git(&bare, &["rev-parse", "main"]), before);
    }

    #[test]
    fn a_separate_push_branch_is_created_then_built_upon() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = remote(tmp.path());
        let cache = Cache::new(tmp.path().join("cache"));
        for n in ["1", "2"] {
            commit_and_push(&cache, &target(&bare, "auto"), &who(), |dir| {
                fs::write(dir.join(format!("f{n}.txt")), n).unwrap();
                Ok::<_, EditFailed>(Edited::Changed(format!("add {n}")))
            })
            .unwrap();
        }
        assert_eq!(git(&bare, &["log", "--format=%s", "auto"]), "add 2\nadd 1\nseed");
        assert_eq!(git(&bare, &["log", "--format=%s", "main"]), "seed");
    }

    #[test]
    fn a_push_that_loses_a_race_is_made_again_on_the_new_tip_never_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = remote(tmp.path());
        let other = tmp.path().join("other");
        git(tmp.path(), &["clone", "--quiet", bare.to_str().unwrap(), other.to_str().unwrap()]);
        let cache = Cache::new(tmp.path().join("cache"));
        let mut runs = 0;
        let out = commit_and_push(&cache, &target(&bare, "main"), &who(), |dir| {
            runs += 1;
            if runs == 1 {
                // Someone else pushes while we edit.
                fs::write(other.join("b.txt"), "theirs\n").unwrap();
                git(&other, &["add", "."]);
                git(&other, &["commit", "--quiet", "-m", "theirs"]);
                git(&other, &["push", "--quiet", "origin", "HEAD:main"]);
            }
            assert_eq!(dir.join("b.txt").exists(), runs > 1, "each attempt starts from the remote's tip");
            fs::write(dir.join("a.txt"), "ours\n").unwrap();
            Ok::<_, EditFailed>(Edited::Changed("ours".into()))
        })
        .unwrap();
        assert!(matches!(out, Outcome::Pushed { attempts: 2, .. }), "{out:?}");
        assert_eq!(git(&bare, &["log", "--format=%s", "main"]), "ours\ntheirs\nseed");
    }

    #[test]
    fn head_is_the_default_branch() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = remote(tmp.path());
        let cache = Cache::new(tmp.path().join("cache"));
        let mut t = target(&bare, "HEAD");
        t.checkout_branch = "HEAD".into();
        let out = commit_and_push(&cache, &t, &who(), |dir| {
            fs::write(dir.join("h.txt"), "h").unwrap();
            Ok::<_, EditFailed>(Edited::Changed("to the default branch".into()))
        })
        .unwrap();
        assert!(matches!(out, Outcome::Pushed { ref branch, .. } if branch == "main"), "{out:?}");
        assert_eq!(git(&bare, &["log", "-1", "--format=%s", "main"]), "to the default branch");
    }

    #[test]
    fn a_missing_checkout_branch_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = remote(tmp.path());
        let cache = Cache::new(tmp.path().join("cache"));
        let mut t = target(&bare, "main");
        t.checkout_branch = "nope".into();
        t.push_branch = "nope".into();
        let err = commit_and_push(&cache, &t, &who(), |_| Ok::<_, EditFailed>(Edited::Unchanged)).unwrap_err();
        assert!(err.to_string().ends_with("branch `nope` to check out does not exist"), "{err}");
    }
}
