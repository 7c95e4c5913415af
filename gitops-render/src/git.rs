//! Git source: fetches a repository at a revision into a local cache and hands back a
//! directory holding the files of the resolved commit.
//!
//! Everything goes through the `git` CLI rather than gix or libgit2: the CLI keeps the
//! user's credential helpers, ssh config, proxies, `insteadOf` rewrites and LFS filters,
//! which is also what Argo CD's repo-server and Flux's source-controller rely on.
//!
//! Layout under the cache root:
//! * `repos/<hash of url>`: one bare repository per URL, fetched with `--prune --force` so
//!   moved and force-pushed branches and moved tags are followed;
//! * `repos/<hash of url>.lock`: an exclusive file lock held around fetch + extract, so
//!   several threads or processes can share one cache;
//! * `trees/<sha>`: the files of one commit (no `.git`), written to a staging directory
//!   under `tmp/` and renamed into place, so a tree is either absent or complete.
//!   Files are made read-only: trees are shared by every user of the commit.
//!
//! Credentials (`user:password@` in URLs) are scrubbed from every error text.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gitops_core::semver_range::{Constraints, Version};

/// What to check out (Argo CD's `targetRevision` and Flux GitRepository `ref`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// The remote's default branch (what its `HEAD` points at).
    Head,
    /// A branch name, without `refs/heads/`.
    Branch(String),
    /// A tag name, without `refs/tags/`; annotated tags are peeled to their commit.
    Tag(String),
    /// A full or abbreviated (at least 7 hex digits) commit SHA.
    Commit(String),
    /// A semver range over tags, as Flux's `ref.semver` writes it (Masterminds syntax:
    /// `>=1.2.0 <2.0.0`, `>=1.2.0, <2.0.0`, `1.x`, `~1.2`, `^1`, `1.2 - 1.4`, `<1 || >=3`); a
    /// bare version means exactly that version. Tags may carry a leading `v`. The highest
    /// matching tag wins.
    Semver(String),
    /// Argo CD's `targetRevision`: empty or `HEAD`, a branch, a tag (branches win over tags of
    /// the same name), a full ref such as `refs/heads/main`, or a commit SHA.
    Revision(String),
}

/// The result of [`Cache::checkout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// A directory holding the files of the commit (no `.git`); shared, do not modify.
    pub dir: PathBuf,
    /// The full 40-hex commit SHA.
    pub commit: String,
    /// What was resolved, e.g. `refs/heads/main`, `refs/tags/v1.2.0`, or the SHA for a commit.
    pub reference: String,
}

/// Errors of the git source. URLs and git's messages in them have credentials scrubbed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// git ran and failed: what it said on stderr, trimmed.
    #[error("git {op} {url}: {stderr}")]
    Git {
        /// The git subcommand, e.g. `fetch`.
        op: &'static str,
        /// The repository URL, credentials scrubbed.
        url: String,
        /// git's stderr, trimmed, credentials scrubbed.
        stderr: String,
    },
    /// The revision does not exist in the repository.
    #[error("git fetch {url}: revision `{revision}` not found ({detail})")]
    NotFound {
        /// The repository URL, credentials scrubbed.
        url: String,
        /// The revision as the user wrote it.
        revision: String,
        /// Why nothing matched.
        detail: String,
    },
    /// The reference itself is malformed (bad semver range, too short a SHA, ...).
    #[error("git {url}: invalid revision `{revision}`: {reason}")]
    InvalidReference {
        /// The repository URL, credentials scrubbed.
        url: String,
        /// The revision as the user wrote it.
        revision: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL cannot be used as given.
    #[error("git: invalid repository URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, credentials scrubbed.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// git did not finish in time and was killed.
    #[error("git {op} {url}: timed out after {after:?}")]
    Timeout {
        /// The git subcommand.
        op: &'static str,
        /// The repository URL, credentials scrubbed.
        url: String,
        /// The limit that was hit.
        after: Duration,
    },
    /// `git` could not be started at all (not installed?).
    #[error("could not run git (is it installed and on PATH?): {0}")]
    Spawn(#[source] io::Error),
    /// A file system operation on the cache failed.
    #[error("git cache {}: {source}", .path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// A cache of bare repositories and extracted commit trees under one root directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    timeout: Duration,
    /// Checkouts made by this pass, by URL and reference (see [`Cache::for_one_pass`]).
    memo: Option<Arc<Mutex<HashMap<String, Checkout>>>>,
}

/// What a finished git process left behind.
pub(crate) struct Output {
    pub(crate) ok: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Cache {
    /// Where the cache lives when no directory is given: `GITOPS_CACHE`, else
    /// `$XDG_CACHE_HOME/gitops`, else `~/.cache/gitops`; `None` when none of them is set.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        var("GITOPS_CACHE")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("gitops")))
            .or_else(|| var("HOME").map(|d| d.join(".cache/gitops")))
    }

    /// The directory the cache is rooted at.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A cache rooted at `root` (created on first use), with a 5 minute limit per git command.
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into(), timeout: Duration::from_secs(300), memo: None }
    }

    /// This cache, remembering for as long as it (or a clone) lives what each URL and reference
    /// resolved to, so that the apps of one pass of a fleet fetch each repository and revision
    /// once, as Argo CD's repo-server does. Take a new one for each pass: a branch moves.
    pub fn for_one_pass(&self) -> Cache {
        Cache { memo: Some(Arc::default()), ..self.clone() }
    }

    /// Sets the limit for each git command; a command past it is killed with its children.
    pub fn with_timeout(mut self, timeout: Duration) -> Cache {
        self.timeout = timeout;
        self
    }

    /// Fetches `url` (file://, git://, http(s)://, ssh, or a local path) and checks out `reference`.
    pub fn checkout(&self, url: &str, reference: &Reference) -> Result<Checkout, Error> {
        let Some(memo) = &self.memo else { return self.fetch_and_checkout(url, reference) };
        let key = format!("{url}\0{reference:?}");
        if let Some(done) = memo.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(done);
        }
        let done = self.fetch_and_checkout(url, reference)?;
        if let Ok(mut m) = memo.lock() {
            m.insert(key, done.clone());
        }
        Ok(done)
    }

    fn fetch_and_checkout(&self, url: &str, reference: &Reference) -> Result<Checkout, Error> {
        let shown = scrub(url);
        if url.is_empty() || url.starts_with('-') {
            // A leading `-` would be read by git as an option.
            return Err(Error::InvalidUrl { url: shown, reason: "empty or starting with `-`" });
        }
        // A local path is made absolute so it names one repo whatever the working directory.
        let url = match fs::canonicalize(url) {
            Ok(path) if !url.contains("://") => path.to_string_lossy().into_owned(),
            _ => url.to_owned(),
        };
        let repos = self.root.join("repos");
        mkdir(&repos)?;
        let key = format!("{:016x}", fnv1a(url.as_bytes()));
        let lock_path = repos.join(format!("{key}.lock"));
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io_at(&lock_path))?;
        // Blocks while another thread or process fetches this URL; released when `lock` drops.
        lock.lock().map_err(io_at(&lock_path))?;
        let repo = Repo { cache: self, dir: repos.join(key), url: &url, shown: &shown };
        repo.init()?;
        let (commit, resolved) = repo.resolve(reference)?;
        let dir = repo.extract(&commit)?;
        drop(lock);
        Ok(Checkout { dir, commit, reference: resolved })
    }

    /// Runs git with no prompts and without the caller's repository environment.
    pub(crate) fn git(
        &self,
        op: &'static str,
        shown: &str,
        args: &[&str],
        git_dir: Option<&Path>,
    ) -> Result<Output, Error> {
        let mut cmd = Command::new("git");
        if let Some(dir) = git_dir {
            cmd.arg("--git-dir").arg(dir);
        }
        cmd.args(args).env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
        // Variables set by a surrounding git (e.g. when run from a hook) would redirect us.
        for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"] {
            cmd.env_remove(var);
        }
        self.run(cmd, op, shown)
    }

    /// Runs `cmd` to its end or to the timeout. Its own process group lets the timeout kill
    /// helpers too (git-remote-https, ssh), which would otherwise keep the pipes open.
    fn run(&self, mut cmd: Command, op: &'static str, shown: &str) -> Result<Output, Error> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let mut child = cmd.spawn().map_err(Error::Spawn)?;
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut buf);
                }
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            if let Some(status) = child.try_wait().map_err(Error::Spawn)? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = Command::new("kill").args(["-s", "KILL", "--"]).arg(format!("-{}", child.id())).status();
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Timeout { op, url: shown.to_owned(), after: self.timeout });
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(25));
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        // One line, so that the error reads well in logs and in a resource's status.
        let stderr = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        Ok(Output { ok: status.success(), stdout, stderr: scrub(&stderr) })
    }
}

/// One cached bare repository, used while its lock is held.
struct Repo<'a> {
    cache: &'a Cache,
    dir: PathBuf,
    url: &'a str,
    shown: &'a str,
}

impl Repo<'_> {
    fn git(&self, op: &'static str, args: &[&str]) -> Result<Output, Error> {
        self.cache.git(op, self.shown, args, Some(&self.dir))
    }

    /// Like [`Repo::git`], but a failure is an error carrying git's stderr.
    fn git_ok(&self, op: &'static str, args: &[&str]) -> Result<String, Error> {
        let out = self.git(op, args)?;
        if out.ok { Ok(out.stdout) } else { Err(Error::Git { op, url: self.shown.to_owned(), stderr: out.stderr }) }
    }

    fn init(&self) -> Result<(), Error> {
        if !self.dir.join("HEAD").exists() {
            // Re-running init on a half-made repo (an earlier crash) is harmless.
            let dir = self.dir.to_string_lossy();
            let out = self.cache.git("init", self.shown, &["init", "--bare", "--quiet", &dir], None)?;
            if !out.ok {
                return Err(Error::Git { op: "init", url: self.shown.to_owned(), stderr: out.stderr });
            }
        }
        Ok(())
    }

    /// Fetches all branches and tags. Shallow (`--depth 1`) while the repository is new or
    /// already shallow and only ref tips are wanted; `deep` fetches the whole history, once.
    fn fetch(&self, deep: bool) -> Result<(), Error> {
        let shallow = self.dir.join("shallow").exists();
        let fresh = !shallow && self.git_ok("for-each-ref", &["for-each-ref", "--count=1"])?.trim().is_empty();
        let mut args = vec!["fetch", "--prune", "--force", "--no-tags", "--quiet"];
        if deep && shallow {
            args.push("--unshallow");
        } else if !deep && (fresh || shallow) {
            args.push("--depth=1");
        }
        args.extend([self.url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]);
        self.git_ok("fetch", &args).map(drop)
    }

    /// The full SHA of the commit `rev` names locally, if any.
    fn commit_of(&self, rev: &str) -> Result<Option<String>, Error> {
        let spec = format!("{rev}^{{commit}}");
        let out = self.git("rev-parse", &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])?;
        let sha = out.stdout.trim();
        Ok((out.ok && is_hex(sha) && sha.len() == 40).then(|| sha.to_owned()))
    }

    fn not_found(&self, revision: &str, detail: &str) -> Error {
        Error::NotFound { url: self.shown.to_owned(), revision: revision.to_owned(), detail: detail.to_owned() }
    }

    /// Resolves `reference` to (full SHA, what was resolved), fetching as needed.
    fn resolve(&self, reference: &Reference) -> Result<(String, String), Error> {
        let named = |refname: String, revision: &str, detail: &str| match self.commit_of(&refname)? {
            Some(sha) => Ok((sha, refname)),
            None => Err(self.not_found(revision, detail)),
        };
        match reference {
            Reference::Head => {
                let branch = self.remote_head()?;
                self.fetch(false)?;
                named(branch, "HEAD", "the default branch was not fetched")
            }
            Reference::Branch(name) => {
                self.fetch(false)?;
                named(format!("refs/heads/{name}"), name, "no branch of that name")
            }
            Reference::Tag(name) => {
                self.fetch(false)?;
                named(format!("refs/tags/{name}"), name, "no tag of that name")
            }
            Reference::Commit(sha) => self.resolve_commit(sha),
            Reference::Semver(range) => self.resolve_semver(range),
            Reference::Revision(rev) => {
                let rev = rev.trim();
                if rev.is_empty() || rev == "HEAD" {
                    return self.resolve(&Reference::Head);
                }
                self.fetch(false)?;
                let mut candidates = vec![format!("refs/heads/{rev}"), format!("refs/tags/{rev}")];
                if rev.starts_with("refs/") {
                    candidates.insert(0, rev.to_owned());
                }
                for refname in candidates {
                    if let Some(sha) = self.commit_of(&refname)? {
                        return Ok((sha, refname));
                    }
                }
                if rev.len() >= 7 && rev.len() <= 40 && is_hex(rev) {
                    return self.resolve_commit(rev);
                }
                Err(self.not_found(rev, "no branch, tag or commit of that name"))
            }
        }
    }

    /// The branch the remote's HEAD points at, from `git ls-remote --symref`.
    fn remote_head(&self) -> Result<String, Error> {
        let out = self.cache.git("ls-remote", self.shown, &["ls-remote", "--symref", self.url, "HEAD"], None)?;
        if !out.ok {
            return Err(Error::Git { op: "ls-remote", url: self.shown.to_owned(), stderr: out.stderr });
        }
        // "ref: refs/heads/main\tHEAD"; a remote without a symbolic HEAD is empty or ancient.
        out.stdout
            .lines()
            .find_map(|line| line.strip_prefix("ref: ")?.split('\t').next().map(str::to_owned))
            .ok_or_else(|| self.not_found("HEAD", "the remote has no default branch; is it empty?"))
    }

    /// A commit never changes, so one already in the cache needs no fetch. Otherwise fetch the
    /// whole history (a SHA may be anywhere in it), then ask for a full SHA by itself, which
    /// servers allow for commits outside branches and tags (e.g. pull request heads).
    fn resolve_commit(&self, sha: &str) -> Result<(String, String), Error> {
        let sha = sha.trim().to_ascii_lowercase();
        if sha.len() < 7 || sha.len() > 40 || !is_hex(&sha) {
            let reason = "a commit is 7 to 40 hex digits".to_owned();
            return Err(Error::InvalidReference { url: self.shown.to_owned(), revision: sha, reason });
        }
        let found = |sha: Option<String>| sha.map(|s| (s.clone(), s));
        if let Some(hit) = found(self.commit_of(&sha)?) {
            return Ok(hit);
        }
        self.fetch(true)?;
        if let Some(hit) = found(self.commit_of(&sha)?) {
            return Ok(hit);
        }
        if sha.len() == 40
            && self.git("fetch", &["fetch", "--quiet", self.url, &sha])?.ok
            && let Some(hit) = found(self.commit_of(&sha)?)
        {
            return Ok(hit);
        }
        Err(self.not_found(&sha, "no commit with that SHA in any branch or tag"))
    }

    /// The highest tag (leading `v` allowed) that satisfies `range`. Tags only need their tips,
    /// so the shallow fetch is enough.
    fn resolve_semver(&self, range: &str) -> Result<(String, String), Error> {
        // Flux reads `ref.semver` with Masterminds/semver: a bare version is exact, not `^`.
        let constraints = Constraints::parse(range).map_err(|e| Error::InvalidReference {
            url: self.shown.to_owned(),
            revision: range.to_owned(),
            reason: e.to_string(),
        })?;
        self.fetch(false)?;
        let tags = self.git_ok("for-each-ref", &["for-each-ref", "--format=%(refname:strip=2)", "refs/tags"])?;
        let best = tags
            .lines()
            .filter_map(|tag| {
                // As Flux's `version.ParseVersion`: strict semver, one leading `v` allowed.
                let version = Version::parse_strict(tag.strip_prefix('v').unwrap_or(tag)).ok()?;
                constraints.matches(&version).then_some((version, tag))
            })
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)));
        match best {
            Some((_, tag)) => match self.commit_of(&format!("refs/tags/{tag}"))? {
                Some(sha) => Ok((sha, format!("refs/tags/{tag}"))),
                None => Err(self.not_found(range, "the matching tag points at no commit")),
            },
            None => Err(self.not_found(range, "no tag matches the semver range")),
        }
    }

    /// Writes the files of `sha` to `trees/<sha>` unless it is there already. `read-tree` +
    /// `checkout-index` with a private index (not `git archive`, which drops `export-ignore`
    /// files) give exactly what a checkout gives, symlinks included.
    fn extract(&self, sha: &str) -> Result<PathBuf, Error> {
        let trees = self.cache.root.join("trees");
        let target = trees.join(sha);
        if target.exists() {
            return Ok(target);
        }
        mkdir(&trees)?;
        let tmp = self.cache.root.join("tmp");
        mkdir(&tmp)?;
        // Dropped (and removed) on any error below; kept only by the rename.
        let stage = tempfile::Builder::new().prefix("extract-").tempdir_in(&tmp).map_err(io_at(&tmp))?;
        let work = stage.path().join("tree");
        mkdir(&work)?;
        let index = stage.path().join("index");
        for (op, args) in
            [("read-tree", vec!["read-tree", sha]), ("checkout-index", vec!["checkout-index", "-a", "-f"])]
        {
            let mut cmd = Command::new("git");
            cmd.arg("--git-dir").arg(&self.dir).arg("--work-tree").arg(&work).args(&args);
            cmd.env("GIT_INDEX_FILE", &index).env("GIT_TERMINAL_PROMPT", "0").current_dir(&work);
            let out = self.cache.run(cmd, op, self.shown)?;
            if !out.ok {
                return Err(Error::Git { op, url: self.shown.to_owned(), stderr: out.stderr });
            }
        }
        read_only(&work)?;
        match fs::rename(&work, &target) {
            Ok(()) => Ok(target),
            // Another URL with the same commit won the race; its tree is the same.
            Err(_) if target.exists() => Ok(target),
            Err(e) => Err(Error::Io { path: target, source: e }),
        }
    }
}

/// Removes write permission from every regular file below `dir` (symlinks are not followed).
/// Directories stay writable so that the cache can be cleaned up.
fn read_only(dir: &Path) -> Result<(), Error> {
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_at(&path))?;
        if kind.is_dir() {
            read_only(&path)?;
        } else if kind.is_file() {
            let mut perms = entry.metadata().map_err(io_at(&path))?.permissions();
            perms.set_mode(perms.mode() & !0o222);
            fs::set_permissions(&path, perms).map_err(io_at(&path))?;
        }
    }
    Ok(())
}

fn mkdir(path: &Path) -> Result<(), Error> {
    fs::create_dir_all(path).map_err(io_at(path))
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// FNV-1a: a stable hash (std's `DefaultHasher` may change between releases) for directory names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Whether two repository URLs name the same repository: compared without a trailing `/` or
/// `.git`, ignoring case (as `--local URL=DIR` matches apps' `repoURL`s).
pub fn same_repository(a: &str, b: &str) -> bool {
    let norm = |u: &str| u.trim_end_matches('/').trim_end_matches(".git").to_ascii_lowercase();
    norm(a) == norm(b)
}

/// Replaces the user info of every `scheme://user:password@host` in `text` with `***`.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest.find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            out.push_str("***@");
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use tempfile::TempDir;

    /// Runs git in `dir` with the host's configuration shut out; panics on failure (test setup).
    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A work repository pushing to a bare "remote" repository, and an empty cache.
    struct Fixture {
        tmp: TempDir,
        work: PathBuf,
        url: String,
        cache: Cache,
    }

    impl Fixture {
        fn new() -> Fixture {
            let tmp = TempDir::new().expect("tempdir");
            let work = tmp.path().join("work");
            let remote = tmp.path().join("remote.git");
            fs::create_dir(&work).expect("mkdir");
            git(tmp.path(), &["init", "--bare", "-q", "remote.git"]);
            git(&work, &["init", "-q"]);
            git(&work, &["remote", "add", "origin", &remote.to_string_lossy()]);
            let cache = Cache::new(tmp.path().join("cache")).with_timeout(Duration::from_secs(60));
            let fixture = Fixture { url: format!("file://{}", remote.display()), tmp, work, cache };
            fixture.commit("app.yaml", "v: 1\n");
            fixture
        }

        /// Commits `file` with `content` on the current branch, pushes it, returns the SHA.
        fn commit(&self, file: &str, content: &str) -> String {
            fs::write(self.work.join(file), content).expect("write");
            git(&self.work, &["add", "-A"]);
            git(&self.work, &["commit", "-q", "-m", content]);
            git(&self.work, &["push", "-q", "--force", "origin", "HEAD"]);
            git(&self.work, &["rev-parse", "HEAD"])
        }

        fn checkout(&self, reference: Reference) -> Checkout {
            self.cache.checkout(&self.url, &reference).unwrap_or_else(|e| panic!("{reference:?}: {e}"))
        }
    }

    fn read(checkout: &Checkout, file: &str) -> String {
        fs::read_to_string(checkout.dir.join(file)).expect("read")
    }

    /// One pass fetches a URL and reference once: a branch moved after its first checkout, or
    /// a remote gone, is not seen until the next pass (a new `for_one_pass`), while a plain cache
    /// fetches every time.
    #[test]
    fn a_pass_fetches_each_url_and_reference_once() {
        let f = Fixture::new();
        let first = f.commit("app.yaml", "v: 2\n");
        let pass = f.cache.for_one_pass();
        let main = Reference::Branch("main".into());
        assert_eq!(pass.checkout(&f.url, &main).unwrap().commit, first);
        let moved = f.commit("app.yaml", "v: 3\n");
        assert_eq!(pass.checkout(&f.url, &main).unwrap().commit, first, "the same pass: not fetched again");
        assert_eq!(pass.clone().checkout(&f.url, &main).unwrap().commit, first, "clones share the pass");
        assert_eq!(f.cache.for_one_pass().checkout(&f.url, &main).unwrap().commit, moved, "the next pass");
        fs::rename(f.tmp.path().join("remote.git"), f.tmp.path().join("gone.git")).unwrap();
        assert!(pass.checkout(&f.url, &main).is_ok(), "remembered");
        assert!(f.cache.checkout(&f.url, &main).is_err(), "a plain cache fetches, and the remote is gone");
    }

    #[test]
    fn head_and_named_branch() {
        let f = Fixture::new();
        let main = f.commit("app.yaml", "v: 2\n");
        git(&f.work, &["checkout", "-q", "-b", "dev"]);
        let dev = f.commit("app.yaml", "v: dev\n");
        let head = f.checkout(Reference::Head);
        assert_eq!((head.commit.as_str(), head.reference.as_str()), (main.as_str(), "refs/heads/main"));
        assert_eq!(read(&head, "app.yaml"), "v: 2\n");
        assert!(!head.dir.join(".git").exists());
        let branch = f.checkout(Reference::Branch("dev".into()));
        assert_eq!((branch.commit.as_str(), branch.reference.as_str()), (dev.as_str(), "refs/heads/dev"));
        assert_eq!(read(&branch, "app.yaml"), "v: dev\n");
        assert_eq!(f.checkout(Reference::Revision("HEAD".into())).commit, main);
        assert_eq!(f.checkout(Reference::Revision("dev".into())).commit, dev);
    }

    #[test]
    fn tags_lightweight_and_annotated() {
        let f = Fixture::new();
        let first = git(&f.work, &["rev-parse", "HEAD"]);
        git(&f.work, &["tag", "-a", "-m", "release", "v1"]);
        git(&f.work, &["tag", "light"]);
        git(&f.work, &["push", "-q", "origin", "--tags"]);
        f.commit("app.yaml", "v: 2\n");
        for tag in ["v1", "light"] {
            let c = f.checkout(Reference::Tag(tag.into()));
            assert_eq!((c.commit.as_str(), c.reference.clone()), (first.as_str(), format!("refs/tags/{tag}")));
            assert_eq!(read(&c, "app.yaml"), "v: 1\n");
        }
        assert_eq!(f.checkout(Reference::Revision("v1".into())).commit, first);
    }

    #[test]
    fn full_and_abbreviated_sha_not_at_a_tip() {
        let f = Fixture::new();
        let old = git(&f.work, &["rev-parse", "HEAD"]);
        f.commit("app.yaml", "v: 2\n");
        // A shallow fetch first, so the SHA lookup must deepen the history.
        f.checkout(Reference::Head);
        for sha in [old.clone(), old[..8].to_owned(), old[..8].to_ascii_uppercase()] {
            let c = f.checkout(Reference::Commit(sha));
            assert_eq!((c.commit.as_str(), c.reference.as_str()), (old.as_str(), old.as_str()));
            assert_eq!(read(&c, "app.yaml"), "v: 1\n");
        }
        assert_eq!(f.checkout(Reference::Revision(old[..7].to_owned())).commit, old);
    }

    #[test]
    fn moved_and_force_pushed_branch_are_followed() {
        let f = Fixture::new();
        let first = git(&f.work, &["rev-parse", "HEAD"]);
        let before = f.checkout(Reference::Branch("main".into()));
        let second = f.commit("app.yaml", "v: 2\n");
        let after = f.checkout(Reference::Branch("main".into()));
        assert_eq!((before.commit.as_str(), after.commit.as_str()), (first.as_str(), second.as_str()));
        assert_eq!((read(&before, "app.yaml"), read(&after, "app.yaml")), ("v: 1\n".into(), "v: 2\n".into()));
        // Force-push back to the first commit: the cache follows the rewritten branch.
        git(&f.work, &["reset", "-q", "--hard", &first]);
        git(&f.work, &["push", "-q", "--force", "origin", "main"]);
        let back = f.checkout(Reference::Branch("main".into()));
        assert_eq!(back.commit, first);
        assert_eq!(read(&back, "app.yaml"), "v: 1\n");
    }

    #[test]
    fn missing_revision_and_missing_repository_are_named() {
        let f = Fixture::new();
        for reference in
            [Reference::Branch("nope".into()), Reference::Tag("nope".into()), Reference::Revision("nope".into())]
        {
            let err = f.cache.checkout(&f.url, &reference).expect_err("missing").to_string();
            assert!(err.contains("`nope` not found") && err.contains(&f.url), "{err}");
        }
        let err = f.cache.checkout(&f.url, &Reference::Commit("deadbeef".into())).expect_err("missing").to_string();
        assert!(err.contains("`deadbeef` not found"), "{err}");
        let err = f.cache.checkout(&f.url, &Reference::Commit("xyz".into())).expect_err("invalid").to_string();
        assert!(err.contains("invalid revision `xyz`"), "{err}");
        let missing = format!("file://{}/absent.git", f.tmp.path().display());
        let err = f.cache.checkout(&missing, &Reference::Head).expect_err("no repo").to_string();
        assert!(err.starts_with(&format!("git ls-remote {missing}: ")) && err.contains("absent.git"), "{err}");
        let err = f.cache.checkout(&missing, &Reference::Branch("main".into())).expect_err("no repo").to_string();
        assert!(err.starts_with(&format!("git fetch {missing}: ")), "{err}");
    }

    #[test]
    fn semver_range_picks_highest_matching_tag() {
        let f = Fixture::new();
        let mut shas = Vec::new();
        for tag in ["v1.0.0", "v1.2.0", "v2.0.0"] {
            shas.push(f.commit("app.yaml", tag));
            git(&f.work, &["tag", tag]);
        }
        git(&f.work, &["tag", "not-a-version"]);
        git(&f.work, &["push", "-q", "origin", "--tags"]);
        let c = f.checkout(Reference::Semver(">=1.0.0 <2.0.0".into()));
        assert_eq!((c.commit.as_str(), c.reference.as_str()), (shas[1].as_str(), "refs/tags/v1.2.0"));
        assert_eq!(read(&c, "app.yaml"), "v1.2.0");
        assert_eq!(f.checkout(Reference::Semver("1.x".into())).commit, shas[1]);
        assert_eq!(f.checkout(Reference::Semver("*".into())).commit, shas[2]);
        assert_eq!(f.checkout(Reference::Semver("1.0.0".into())).commit, shas[0], "a bare version is exact");
        assert_eq!(f.checkout(Reference::Semver("< 1.1 || >= 2".into())).commit, shas[2]);
        assert_eq!(f.checkout(Reference::Semver("v1.0 - v1.1".into())).commit, shas[0]);
        let err = f.cache.checkout(&f.url, &Reference::Semver(">=3".into())).expect_err("none").to_string();
        assert!(err.contains("`>=3` not found (no tag matches"), "{err}");
        let err = f.cache.checkout(&f.url, &Reference::Semver("bogus!".into())).expect_err("bad").to_string();
        assert!(err.contains("invalid revision `bogus!`"), "{err}");
    }

    #[test]
    fn concurrent_checkouts_share_one_tree() {
        let f = Fixture::new();
        let sha = f.commit("app.yaml", "v: 2\n");
        let results: Vec<Checkout> = thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| f.checkout(Reference::Head))).collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert!(results.iter().all(|c| c.commit == sha && c.dir == results[0].dir));
        let trees = fs::read_dir(f.tmp.path().join("cache/trees")).expect("trees").count();
        let staged = fs::read_dir(f.tmp.path().join("cache/tmp")).expect("tmp").count();
        assert_eq!((trees, staged), (1, 0));
        let repos = fs::read_dir(f.tmp.path().join("cache/repos")).expect("repos").count();
        assert_eq!(repos, 2, "one repository and its lock file");
    }

    #[test]
    fn symlinks_stay_symlinks_and_files_are_read_only() {
        let f = Fixture::new();
        std::os::unix::fs::symlink("app.yaml", f.work.join("link.yaml")).expect("symlink");
        f.commit("app.yaml", "v: 2\n");
        let c = f.checkout(Reference::Head);
        let link = fs::symlink_metadata(c.dir.join("link.yaml")).expect("link");
        assert!(link.file_type().is_symlink());
        assert_eq!(fs::read_link(c.dir.join("link.yaml")).expect("target"), Path::new("app.yaml"));
        let mode = fs::metadata(c.dir.join("app.yaml")).expect("file").permissions().mode();
        assert_eq!(mode & 0o222, 0);
    }

    #[test]
    fn credentials_are_scrubbed() {
        let tmp = TempDir::new().expect("tempdir");
        let cache = Cache::new(tmp.path()).with_timeout(Duration::from_secs(30));
        for reference in [Reference::Head, Reference::Branch("main".into())] {
            let err = cache.checkout("https://user:secret@127.0.0.1:1/x.git", &reference).expect_err("refused");
            let text = format!("{err} {err:?}");
            assert!(!text.contains("secret") && text.contains("https://***@127.0.0.1:1/x.git"), "{text}");
        }
        assert_eq!(
            scrub("fatal: 'ssh://tok@h/x' and http://a:b@c:8/y, git@h:z"),
            "fatal: 'ssh://***@h/x' and http://***@c:8/y, git@h:z"
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let tmp = TempDir::new().expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("git://127.0.0.1:{}/x.git", listener.local_addr().expect("addr").port());
        // Accepts and then says nothing, like a hung server.
        let hold = thread::spawn(move || {
            let conn = listener.accept();
            thread::sleep(Duration::from_secs(3));
            drop(conn);
        });
        let cache = Cache::new(tmp.path()).with_timeout(Duration::from_millis(500));
        let started = Instant::now();
        let err = cache.checkout(&url, &Reference::Branch("main".into())).expect_err("timeout").to_string();
        assert!(err.contains("timed out") && started.elapsed() < Duration::from_secs(2), "{err}");
        drop(hold);
    }

    /// Kills the daemon when the test ends, even on a failed assertion. `git daemon` runs
    /// `git-daemon` as a child (which forks per connection), so the whole group is killed.
    struct Daemon(std::process::Child);

    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = Command::new("kill").args(["-s", "KILL", "--"]).arg(format!("-{}", self.0.id())).status();
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn fetches_over_git_daemon() {
        let f = Fixture::new();
        let sha = f.commit("app.yaml", "v: daemon\n");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let base = f.tmp.path().to_string_lossy().into_owned();
        let child = Command::new("git")
            .args(["daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--base-path={base}"))
            .arg(format!("--port={port}"))
            .arg(&base)
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("git daemon");
        let _daemon = Daemon(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not start");
            thread::sleep(Duration::from_millis(20));
        }
        let url = format!("git://127.0.0.1:{port}/remote.git");
        let c = f.cache.checkout(&url, &Reference::Head).expect("checkout over git://");
        assert_eq!((c.commit.as_str(), c.reference.as_str()), (sha.as_str(), "refs/heads/main"));
        assert_eq!(read(&c, "app.yaml"), "v: daemon\n");
    }
}
