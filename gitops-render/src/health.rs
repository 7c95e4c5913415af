//! Health checks read from disk: script trees in Argo CD's `resource_customizations` layout,
//! an `argocd-cm` ConfigMap file, and the `health_test.yaml` files that test the scripts.
//!
//! `gitops-health` assesses and compares and reads nothing; this module does the reading,
//! through the same strict walker as the renderers ([`RepoRoot`]): the directory given is the
//! root, hidden entries are skipped, and nothing a symlink leads to outside it is read, nor any
//! FIFO or device.

use std::path::Path;

use gitops_core::settings::{self, Settings};
use gitops_health::scripts::{LayoutError, ScriptTree};
use gitops_health::testfile::{self, CaseResult, Mismatch};
use gitops_health::{HealthChecks, assess::SettingsError};

use crate::regular;
use crate::root::{self, RepoRoot};

/// The name of a health script in a tree.
const SCRIPT: &str = "health.lua";
/// The name of the test file beside a script.
const TEST_FILE: &str = "health_test.yaml";

/// Why health checks could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory given cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A script directory that is not a directory.
    #[error("{dir}: not a directory")]
    NotDirectory {
        /// The path given.
        dir: String,
    },
    /// A file in a script directory was refused or cannot be read.
    #[error("{dir}: {source}")]
    Tree {
        /// The script directory.
        dir: String,
        /// Why, naming the file relative to it.
        source: root::Error,
    },
    /// A script's path does not fit the layout.
    #[error("{dir}: {source}")]
    Layout {
        /// The script directory.
        dir: String,
        /// The path.
        source: LayoutError,
    },
    /// An action script's path does not fit the layout.
    #[error("{dir}: {source}")]
    ActionLayout {
        /// The script directory.
        dir: String,
        /// The path.
        source: gitops_health::action::LayoutError,
    },
    /// The `argocd-cm` file is not YAML.
    #[error("{path}: {source}")]
    ConfigMapYaml {
        /// The file.
        path: String,
        /// Why.
        source: testfile::Error,
    },
    /// The `argocd-cm` settings are invalid.
    #[error("{path}: {source}")]
    Settings {
        /// The file.
        path: String,
        /// Why.
        source: settings::Error,
    },
    /// An `argocd-cm` health key names an invalid pattern.
    #[error("{path}: {source}")]
    HealthSettings {
        /// The file.
        path: String,
        /// Why.
        source: SettingsError,
    },
}

/// Opens a script directory as a root, refusing anything but a directory.
pub(crate) fn open_tree(dir: &Path) -> Result<RepoRoot, Error> {
    let shown = dir.display().to_string();
    let meta = regular::metadata(dir).map_err(|source| Error::Io { path: shown.clone(), source })?;
    if !meta.is_dir() {
        return Err(Error::NotDirectory { dir: shown });
    }
    RepoRoot::new(dir).map_err(|source| Error::Tree { dir: shown, source })
}

/// Reads the scripts at `scripts` (paths relative to `root`, which is `dir`) into a tree.
fn read_scripts(root: &RepoRoot, dir: &Path, scripts: &[String]) -> Result<ScriptTree, Error> {
    let shown = dir.display().to_string();
    let mut tree = ScriptTree::new();
    for rel in scripts {
        let source = root.read(rel).map_err(|source| Error::Tree { dir: shown.clone(), source })?;
        let origin = dir.join(rel).display().to_string();
        tree.insert(rel, &source, &origin).map_err(|source| Error::Layout { dir: shown.clone(), source })?;
    }
    Ok(tree)
}

/// Reads every `health.lua` under `dir` into a tree, keyed by its path relative to `dir`.
pub fn script_tree(dir: &Path) -> Result<ScriptTree, Error> {
    let root = open_tree(dir)?;
    let scripts =
        root.files_named(".", &[SCRIPT]).map_err(|source| Error::Tree { dir: dir.display().to_string(), source })?;
    read_scripts(&root, dir, &scripts)
}

/// The bundled and built-in checks, with the scripts of a `resource_customizations`
/// directory and of an `argocd-cm` ConfigMap file over them.
pub fn health_checks(customizations: Option<&Path>, argocd_cm: Option<&Path>) -> Result<HealthChecks, Error> {
    let mut checks = HealthChecks::default();
    if let Some(dir) = customizations {
        checks = checks.with_tree(script_tree(dir)?);
    }
    if let Some(p) = argocd_cm {
        let path = p.display().to_string();
        let text = regular::read_to_string(p).map_err(|source| Error::Io { path: path.clone(), source })?;
        let cm =
            testfile::first_document(&text).map_err(|source| Error::ConfigMapYaml { path: path.clone(), source })?;
        let settings =
            Settings::from_config_map(&cm).map_err(|source| Error::Settings { path: path.clone(), source })?;
        checks = checks.with_settings(&settings).map_err(|source| Error::HealthSettings { path, source })?;
    }
    Ok(checks)
}

/// A file of a test tree that could not be read: the I/O error alone when the path is already
/// named beside it, else the refusal, which names it.
#[derive(Debug, thiserror::Error)]
#[error("{}", unreadable(.0))]
pub struct Unreadable(pub root::Error);

fn unreadable(e: &root::Error) -> String {
    match e {
        root::Error::Io { source, .. } => source.to_string(),
        root::Error::Special { what, .. } => format!("is {what}, not a regular file"),
        other => other.to_string(),
    }
}

/// Why a test file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TestFileProblem {
    /// It cannot be read.
    #[error(transparent)]
    Read(#[from] Unreadable),
    /// It is not a valid test file.
    #[error(transparent)]
    Parse(#[from] testfile::Error),
}

/// Why a case did not pass.
#[derive(Debug)]
pub enum CaseProblem {
    /// Its input cannot be read (the path is the test file's directory joined with the
    /// case's `inputPath`).
    Input {
        /// The input's path, as the directory given and the test file's place in it name it.
        path: String,
        /// Why.
        problem: TestFileProblem,
    },
    /// No script in the tree applies to the input.
    NoScript {
        /// The group/kind key searched for.
        group_kind: String,
    },
    /// The script gave another status or message.
    Mismatch(Mismatch),
}

/// One failure of a test run, in the order Argo CD's runner meets them.
#[derive(Debug)]
pub enum Failure {
    /// A script without a `health_test.yaml` beside it (Argo CD requires one).
    Untested {
        /// The script, relative to the directory.
        script: String,
    },
    /// A test file that cannot be used.
    TestFile {
        /// The file, relative to the directory.
        file: String,
        /// Why.
        problem: TestFileProblem,
    },
    /// A case that did not pass.
    Case {
        /// Its test file, relative to the directory.
        file: String,
        /// Its position in the file's `tests` (from 0).
        index: usize,
        /// Its `inputPath`, as written.
        input_path: String,
        /// Why.
        problem: CaseProblem,
    },
}

/// What running a directory's tests gave: its health tests' (`F` = [`Failure`]), or its
/// action tests' ([`crate::action::TestRun`]).
#[derive(Debug)]
pub struct TestRun<F = Failure> {
    /// How many cases passed.
    pub passed: usize,
    /// Everything that failed, in order.
    pub failures: Vec<F>,
}

impl<F> Default for TestRun<F> {
    fn default() -> Self {
        TestRun { passed: 0, failures: Vec::new() }
    }
}

/// Runs every `health_test.yaml` under `dir` as Argo CD's own test runner does: each case's
/// input through the script the tree has for its kind (never a built-in check), and a script
/// without a test file beside it is a failure. `Err` when the tree itself cannot be read.
pub fn run_tests(dir: &Path) -> Result<TestRun, Error> {
    let root = open_tree(dir)?;
    let shown = dir.display().to_string();
    let files =
        root.files_named(".", &[SCRIPT, TEST_FILE]).map_err(|source| Error::Tree { dir: shown.clone(), source })?;
    let named = |f: &String, name: &str| f.rsplit('/').next() == Some(name);
    let scripts: Vec<String> = files.iter().filter(|f| named(f, SCRIPT)).cloned().collect();
    let tests: Vec<&String> = files.iter().filter(|f| named(f, TEST_FILE)).collect();
    let checks = HealthChecks::builtin_only(Default::default()).replace_tree(read_scripts(&root, dir, &scripts)?);
    let mut run = TestRun::default();
    let beside = |file: &str, name: &str| match file.rsplit_once('/') {
        Some((parent, _)) => format!("{parent}/{name}"),
        None => name.to_string(),
    };
    for script in &scripts {
        if !tests.contains(&&beside(script, TEST_FILE)) {
            run.failures.push(Failure::Untested { script: script.clone() });
        }
    }
    for file in tests {
        let cases = root
            .read(file)
            .map_err(|e| TestFileProblem::from(Unreadable(e)))
            .and_then(|text| Ok(testfile::parse(&text)?));
        let cases = match cases {
            Ok(cases) => cases,
            Err(problem) => {
                run.failures.push(Failure::TestFile { file: file.clone(), problem });
                continue;
            }
        };
        for case in cases {
            let input_rel = beside(file, &case.input_path);
            let input = root
                .read(&input_rel)
                .map_err(|e| TestFileProblem::from(Unreadable(e)))
                .and_then(|text| Ok(testfile::first_document(&text)?));
            let problem = match input {
                Err(problem) => CaseProblem::Input { path: dir.join(&input_rel).display().to_string(), problem },
                Ok(input) => match testfile::run_case(&checks, &case, &input) {
                    CaseResult::Passed => {
                        run.passed += 1;
                        continue;
                    }
                    CaseResult::Failed(m) => CaseProblem::Mismatch(m),
                    CaseResult::NoScript { group_kind } => CaseProblem::NoScript { group_kind },
                },
            };
            run.failures.push(Failure::Case {
                file: file.clone(),
                index: case.index,
                input_path: case.input_path,
                problem,
            });
        }
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_out_of_the_tree_are_refused_and_other_files_ignored() {
        let (dir, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(outside.path().join("health.lua"), "return nil\n").unwrap();
        std::fs::create_dir_all(dir.path().join("example.com/Gadget")).unwrap();
        // Never read, so never refused.
        std::os::unix::fs::symlink(outside.path().join("health.lua"), dir.path().join("example.com/notes")).unwrap();
        assert!(script_tree(dir.path()).unwrap().is_empty());
        std::os::unix::fs::symlink(outside.path().join("health.lua"), dir.path().join("example.com/Gadget/health.lua"))
            .unwrap();
        let e = script_tree(dir.path()).unwrap_err().to_string();
        assert!(e.contains("example.com/Gadget/health.lua: a symlink points outside the repository root"), "{e}");
    }

    #[test]
    fn a_symlinked_alias_does_not_take_the_place_of_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("example.com/Gadget")).unwrap();
        std::fs::write(dir.path().join("example.com/Gadget/health.lua"), "return nil\n").unwrap();
        // Walked after every real directory, so the script keeps its own name.
        std::os::unix::fs::symlink("Gadget", dir.path().join("example.com/Widget")).unwrap();
        let tree = script_tree(dir.path()).unwrap();
        assert_eq!(tree.len(), 1);
        assert!(tree.lookup("example.com", "Gadget").is_some());
    }

    #[test]
    fn inputs_stay_inside_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let kind = dir.path().join("example.com/Gadget");
        std::fs::create_dir_all(&kind).unwrap();
        std::fs::write(kind.join("health.lua"), "return {status = \"Healthy\"}\n").unwrap();
        std::fs::write(
            kind.join("health_test.yaml"),
            "tests:\n- healthStatus: {status: Healthy}\n  inputPath: ../../../x.yaml\n",
        )
        .unwrap();
        let run = run_tests(dir.path()).unwrap();
        assert_eq!(run.passed, 0);
        let [Failure::Case { problem: CaseProblem::Input { problem, .. }, .. }] = &run.failures[..] else {
            panic!("{:?}", run.failures)
        };
        assert!(problem.to_string().contains("leaves the repository root"), "{problem}");
    }
}
