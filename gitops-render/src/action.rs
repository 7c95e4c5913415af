//! Resource actions read from disk: action trees in Argo CD's `resource_customizations`
//! layout, an `argocd-cm` ConfigMap file, and the `actions/action_test.yaml` files that test
//! them. As for health scripts ([`crate::health`]), every file is read through the strict
//! walker: nothing outside the directory given, no FIFO or device.

use std::collections::BTreeMap;
use std::path::Path;

use gitops_core::settings::Settings;
use gitops_health::action::{ActionTree, Actions};
use gitops_health::actiontest::{self, Mismatch};
use gitops_health::lua::{Clock, Engine};
use gitops_health::testfile;
use serde_json::Value;

use crate::health::{Error, TestFileProblem, Unreadable, open_tree};
use crate::regular;
use crate::root::RepoRoot;

/// The name of an action test file.
const TEST_FILE: &str = "action_test.yaml";

/// The instant `gitops action test` runs at, so that actions stamping the time
/// (`restart`, `reconcile`, `create-job`) give the same output every run:
/// 2024-01-02T03:04:05Z.
pub const TEST_CLOCK: i64 = 1_704_164_645;

/// Reads every action script under `dir` (`<group>/<Kind>/actions/discovery.lua`,
/// `<group>/<Kind>/actions/<name>/action.lua`) into a tree.
pub fn action_tree(dir: &Path) -> Result<ActionTree, Error> {
    let root = open_tree(dir)?;
    read_tree(&root, dir)
}

fn read_tree(root: &RepoRoot, dir: &Path) -> Result<ActionTree, Error> {
    let shown = dir.display().to_string();
    let files = root
        .files_named(".", &["discovery.lua", "action.lua"])
        .map_err(|source| Error::Tree { dir: shown.clone(), source })?;
    let mut tree = ActionTree::new();
    for rel in files.iter().filter(|f| ActionTree::is_action_path(f)) {
        let source = root.read(rel).map_err(|source| Error::Tree { dir: shown.clone(), source })?;
        let origin = dir.join(rel).display().to_string();
        tree.insert(rel, &source, &origin).map_err(|source| Error::ActionLayout { dir: shown.clone(), source })?;
    }
    Ok(tree)
}

/// The bundled actions, with those of a `resource_customizations` directory and of an
/// `argocd-cm` ConfigMap file over them, run by `engine`.
pub fn actions(customizations: Option<&Path>, argocd_cm: Option<&Path>, engine: Engine) -> Result<Actions, Error> {
    let mut actions = Actions::new(engine);
    if let Some(dir) = customizations {
        actions = actions.with_tree(action_tree(dir)?);
    }
    if let Some(p) = argocd_cm {
        let path = p.display().to_string();
        let text = regular::read_to_string(p).map_err(|source| Error::Io { path: path.clone(), source })?;
        let cm =
            testfile::first_document(&text).map_err(|source| Error::ConfigMapYaml { path: path.clone(), source })?;
        let settings = Settings::from_config_map(&cm).map_err(|source| Error::Settings { path, source })?;
        actions = actions.with_settings(&settings);
    }
    Ok(actions)
}

/// Why a case did not pass.
#[derive(Debug)]
pub enum CaseProblem {
    /// An input or expected output cannot be read.
    Input {
        /// The file, as the directory given and the test file's place in it name it.
        path: String,
        /// Why.
        problem: TestFileProblem,
    },
    /// It ran and gave something else.
    Mismatch(Mismatch),
}

/// One failure of a test run.
#[derive(Debug)]
pub enum Failure {
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
        /// `discoveryTests[i]` or `actionTests[i] (name)`.
        case: String,
        /// Its `inputPath`, as written.
        input_path: String,
        /// Why.
        problem: CaseProblem,
    },
}

/// What running a directory's action tests gave.
pub type TestRun = crate::health::TestRun<Failure>;

/// Runs every `actions/action_test.yaml` under `dir` against the actions of `dir` alone (no
/// bundled action is used), with the clock at [`TEST_CLOCK`]. `Err` when the tree itself
/// cannot be read.
pub fn run_tests(dir: &Path) -> Result<TestRun, Error> {
    let root = open_tree(dir)?;
    let shown = dir.display().to_string();
    let tree = read_tree(&root, dir)?;
    let actions = Actions::only(Engine::default().with_clock(Clock::Fixed(TEST_CLOCK)), tree);
    let files = root.files_named(".", &[TEST_FILE]).map_err(|source| Error::Tree { dir: shown.clone(), source })?;
    let mut run = TestRun::default();
    let beside = |file: &str, rel: &str| match file.rsplit_once('/') {
        Some((parent, _)) => format!("{parent}/{rel}"),
        None => rel.to_string(),
    };
    let read_docs = |rel: &str, all: bool| -> Result<Vec<Value>, CaseProblem> {
        let problem =
            |problem: TestFileProblem| CaseProblem::Input { path: dir.join(rel).display().to_string(), problem };
        let text = root.read(rel).map_err(|e| problem(Unreadable(e).into()))?;
        if !all {
            return Ok(vec![testfile::first_document(&text).map_err(|e| problem(e.into()))?]);
        }
        let docs = gitops_core::yaml::parse_documents(&text)
            .map_err(|e| problem(testfile::Error::Syntax(e.to_string()).into()))?;
        Ok(docs.into_iter().map(|d| d.value).filter(|v| !v.is_null()).collect())
    };
    for file in &files {
        let parsed = root
            .read(file)
            .map_err(|e| TestFileProblem::from(Unreadable(e)))
            .and_then(|text| Ok(actiontest::parse(&text)?));
        let cases = match parsed {
            Ok(c) => c,
            Err(problem) => {
                run.failures.push(Failure::TestFile { file: file.clone(), problem });
                continue;
            }
        };
        let mut record = |case: String, input_path: &str, outcome: Result<(), CaseProblem>| match outcome {
            Ok(()) => run.passed += 1,
            Err(problem) => run.failures.push(Failure::Case {
                file: file.clone(),
                case,
                input_path: input_path.to_string(),
                problem,
            }),
        };
        for case in &cases.discovery {
            let outcome = read_docs(&beside(file, &case.input_path), false)
                .and_then(|input| actiontest::run_discovery(&actions, case, &input[0]).map_err(CaseProblem::Mismatch));
            record(format!("discoveryTests[{}]", case.index), &case.input_path, outcome);
        }
        for case in &cases.actions {
            let outcome = read_docs(&beside(file, &case.input_path), false).and_then(|input| {
                let expected = if case.expected_output_path.is_empty() {
                    Vec::new()
                } else {
                    read_docs(&beside(file, &case.expected_output_path), true)?
                };
                actiontest::run_action(&actions, case, &input[0], &expected).map_err(CaseProblem::Mismatch)
            });
            record(format!("actionTests[{}] ({})", case.index, case.action), &case.input_path, outcome);
        }
    }
    Ok(run)
}

/// Parses `name=value` parameters, the last of a name winning.
pub fn parse_params<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<BTreeMap<String, String>, String> {
    pairs
        .into_iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("`{p}`: expected NAME=VALUE")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_stay_inside_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let kind = dir.path().join("example.com/Gadget/actions");
        std::fs::create_dir_all(kind.join("poke")).unwrap();
        std::fs::write(kind.join("poke/action.lua"), "return obj\n").unwrap();
        std::fs::write(
            kind.join("action_test.yaml"),
            "actionTests:\n- action: poke\n  inputPath: ../../../../x.yaml\n  expectedOutputPath: x.yaml\n",
        )
        .unwrap();
        let run = run_tests(dir.path()).unwrap();
        let [Failure::Case { problem: CaseProblem::Input { problem, .. }, .. }] = &run.failures[..] else {
            panic!("{:?}", run.failures)
        };
        assert!(problem.to_string().contains("leaves the repository root"), "{problem}");
    }

    #[test]
    fn params_need_a_name() {
        assert_eq!(parse_params(["a=1", "b=x=y", "a=2"]).unwrap()["a"], "2");
        assert!(parse_params(["=1"]).is_err());
        assert!(parse_params(["a"]).is_err());
    }
}
