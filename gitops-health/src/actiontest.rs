//! Argo CD's `actions/action_test.yaml` files, read and checked as its test runner does.
//!
//! ```yaml
//! discoveryTests:
//! - inputPath: testdata/paused.yaml
//!   result:
//!   - name: resume
//!     disabled: false
//! actionTests:
//! - action: scale
//!   inputPath: testdata/deployment.yaml
//!   expectedOutputPath: testdata/deployment-scaled.yaml
//!   parameters:
//!     replicas: "6"
//! - action: scale
//!   inputPath: testdata/deployment.yaml
//!   expectedErrorMessage: "replicas must be"
//! ```
//!
//! A discovery case passes when every action discovered is in `result`, field for field (Argo
//! CD's check: `result` may list more). An action case passes when the output equals the
//! expected output (for the list form, the documents of `expectedOutputPath` in order, one per
//! object returned), or, with `expectedErrorMessage`, when the action fails with an error
//! whose text contains it. The caller reads the files and runs the cases with a fixed clock,
//! so time-stamping actions give the same output every run.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::action::{Actions, ResourceAction};
use crate::testfile::{Error, first_document};

/// One discovery case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryCase {
    /// Position in `discoveryTests` (from 0).
    pub index: usize,
    /// The input, relative to the test file's directory.
    pub input_path: String,
    /// The actions that may be discovered.
    pub result: Vec<ResourceAction>,
}

/// One action case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionCase {
    /// Position in `actionTests` (from 0).
    pub index: usize,
    /// The action's name.
    pub action: String,
    /// The input, relative to the test file's directory.
    pub input_path: String,
    /// The expected output, relative to the test file's directory (empty with an expected error).
    pub expected_output_path: String,
    /// Text the action's error must contain (empty when it must succeed).
    pub expected_error: String,
    /// `actionParams`.
    pub parameters: BTreeMap<String, String>,
}

/// The cases of one test file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestFile {
    /// `discoveryTests`.
    pub discovery: Vec<DiscoveryCase>,
    /// `actionTests`.
    pub actions: Vec<ActionCase>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFile {
    #[serde(default)]
    discovery_tests: Option<Vec<RawDiscovery>>,
    #[serde(default)]
    action_tests: Option<Vec<RawAction>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDiscovery {
    #[serde(default)]
    input_path: String,
    #[serde(default)]
    result: Option<Vec<ResourceAction>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAction {
    #[serde(default)]
    action: String,
    #[serde(default)]
    input_path: String,
    #[serde(default)]
    expected_output_path: String,
    #[serde(default)]
    expected_error_message: String,
    #[serde(default)]
    parameters: Option<BTreeMap<String, Value>>,
}

/// Reads an `action_test.yaml`.
pub fn parse(text: &str) -> Result<TestFile, Error> {
    let doc = first_document(text)?;
    if doc.is_null() {
        return Ok(TestFile::default());
    }
    let raw: RawFile = serde_json::from_value(doc).map_err(|e| Error::Shape(e.to_string()))?;
    let discovery = raw
        .discovery_tests
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, d)| {
            if d.input_path.is_empty() {
                return Err(Error::Shape(format!("discoveryTests[{index}]: `inputPath` is missing")));
            }
            Ok(DiscoveryCase { index, input_path: d.input_path, result: d.result.unwrap_or_default() })
        })
        .collect::<Result<_, _>>()?;
    let actions = raw
        .action_tests
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, a)| {
            let at = |what: &str| Error::Shape(format!("actionTests[{index}]: {what}"));
            if a.action.is_empty() {
                return Err(at("`action` is missing"));
            }
            if a.input_path.is_empty() {
                return Err(at("`inputPath` is missing"));
            }
            if a.expected_output_path.is_empty() == a.expected_error_message.is_empty() {
                return Err(at("give one of `expectedOutputPath` and `expectedErrorMessage`"));
            }
            let parameters = a
                .parameters
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    Value::Number(n) => Ok((k, n.to_string())),
                    Value::Bool(b) => Ok((k, b.to_string())),
                    _ => Err(at(&format!("parameter `{k}` is not a string"))),
                })
                .collect::<Result<_, _>>()?;
            Ok(ActionCase {
                index,
                action: a.action,
                input_path: a.input_path,
                expected_output_path: a.expected_output_path,
                expected_error: a.expected_error_message,
                parameters,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(TestFile { discovery, actions })
}

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The script failed where it should not (or with another error than expected).
    Error(String),
    /// Discovery found actions `result` does not list (each shown as JSON).
    Unexpected(Vec<String>),
    /// The action succeeded where an error was expected.
    NoError,
    /// The output differs: the JSON paths that differ, with both values.
    Output(Vec<String>),
}

/// Runs a discovery case on its input.
pub fn run_discovery(actions: &Actions, case: &DiscoveryCase, input: &Value) -> Result<(), Mismatch> {
    let found = actions.list(input).map_err(|e| Mismatch::Error(e.to_string()))?;
    let unexpected: Vec<String> = found
        .iter()
        .filter(|a| !case.result.contains(a))
        .map(|a| serde_json::to_string(a).unwrap_or_default())
        .collect();
    if unexpected.is_empty() { Ok(()) } else { Err(Mismatch::Unexpected(unexpected)) }
}

/// Runs an action case on its input; `expected` holds the documents of its expected output
/// (empty for an expected error).
pub fn run_action(actions: &Actions, case: &ActionCase, input: &Value, expected: &[Value]) -> Result<(), Mismatch> {
    let result = actions.run_unchecked(input, &case.action, &case.parameters);
    if !case.expected_error.is_empty() {
        return match result {
            Err(e) if e.to_string().contains(&case.expected_error) => Ok(()),
            Err(e) => Err(Mismatch::Error(e.to_string())),
            Ok(_) => Err(Mismatch::NoError),
        };
    }
    let output = result.map_err(|e| Mismatch::Error(e.to_string()))?;
    let got: Vec<&Value> = output.impacts.iter().map(|i| &i.resource).collect();
    let mut diffs = Vec::new();
    if got.len() != expected.len() {
        diffs.push(format!("{} objects returned, {} expected", got.len(), expected.len()));
    }
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let at = if expected.len() > 1 { format!("[{i}]") } else { String::new() };
        differences(&at, e, g, &mut diffs);
    }
    if diffs.is_empty() { Ok(()) } else { Err(Mismatch::Output(diffs)) }
}

/// Every path where `got` differs from `expected`, as `path: expected X, got Y`.
pub fn differences(path: &str, expected: &Value, got: &Value, out: &mut Vec<String>) {
    match (expected, got) {
        (Value::Object(e), Value::Object(g)) => {
            let keys: std::collections::BTreeSet<&String> = e.keys().chain(g.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (e.get(k), g.get(k)) {
                    (Some(ev), Some(gv)) => differences(&p, ev, gv, out),
                    (Some(ev), None) => out.push(format!("{p}: expected {ev}, got nothing")),
                    (None, Some(gv)) => out.push(format!("{p}: expected nothing, got {gv}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(e), Value::Array(g)) if e.len() == g.len() => {
            for (i, (ev, gv)) in e.iter().zip(g).enumerate() {
                differences(&format!("{path}[{i}]"), ev, gv, out);
            }
        }
        (Value::Number(e), Value::Number(g)) if e.as_f64() == g.as_f64() => {}
        _ if expected == got => {}
        _ => out.push(format!("{}: expected {expected}, got {got}", if path.is_empty() { "." } else { path })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_lists_and_refuses_bad_cases() {
        let f = parse(
            "discoveryTests:\n- inputPath: a.yaml\n  result:\n  - name: x\n    disabled: true\nactionTests:\n- action: scale\n  inputPath: a.yaml\n  expectedOutputPath: b.yaml\n  parameters:\n    replicas: 6\n",
        )
        .unwrap();
        assert_eq!(
            f.discovery[0].result,
            vec![ResourceAction { name: "x".into(), disabled: true, ..Default::default() }]
        );
        assert_eq!(f.actions[0].parameters["replicas"], "6");
        let e = parse("actionTests:\n- action: x\n  inputPath: a.yaml\n").unwrap_err().to_string();
        assert!(e.contains("actionTests[0]: give one of"), "{e}");
        assert!(parse("discoveryTests: 3").is_err());
    }

    #[test]
    fn differences_name_paths() {
        let mut d = Vec::new();
        differences(
            "",
            &serde_json::json!({"a": {"b": 1, "c": [1, 2]}, "x": 1.0}),
            &serde_json::json!({"a": {"b": 2, "c": [1, 2]}, "x": 1, "y": true}),
            &mut d,
        );
        assert_eq!(d, vec![".a.b: expected 1, got 2", ".y: expected nothing, got true"]);
    }
}
