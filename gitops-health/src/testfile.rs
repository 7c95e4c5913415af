//! Argo CD's `health_test.yaml` files, read and checked as its own test runner does.
//!
//! ```yaml
//! tests:
//! - healthStatus:
//!     status: Degraded
//!     message: "Certificate expired"
//!   inputPath: testdata/expired.yaml
//! ```
//!
//! Field names match case-insensitively (Argo CD decodes through JSON into Go structs), an
//! absent message is `""`, only the first YAML document of an input is used, and status and
//! message are compared exactly, byte for byte. Reading the files is the caller's job
//! (`gitops_render::health` walks a directory and reads them); [`run_case`] runs one case.

use serde_json::Value;

use crate::assess::{Assessment, HealthChecks};
use crate::scripts::group_kind_key;

/// A test file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not YAML.
    #[error("{0}")]
    Syntax(String),
    /// YAML, but not the expected shape.
    #[error("{0}")]
    Shape(String),
}

/// One case: an input and the health it must get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// Position in the file's `tests` list (from 0).
    pub index: usize,
    /// The input, relative to the test file's directory.
    pub input_path: String,
    /// The expected status (`""` for "no status").
    pub status: String,
    /// The expected message.
    pub message: String,
}

/// Reads the cases of a `health_test.yaml`.
pub fn parse(text: &str) -> Result<Vec<TestCase>, Error> {
    let doc = first_document(text)?;
    let tests = match field(&doc, "tests") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(t)) => t,
        Some(_) => return Err(Error::Shape("`tests` is not a list".into())),
    };
    tests
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let at = |what: &str| Error::Shape(format!("tests[{index}]: {what}"));
            let input_path = string(field(t, "inputPath")).map_err(|_| at("`inputPath` is not a string"))?;
            if input_path.is_empty() {
                return Err(at("`inputPath` is missing"));
            }
            let hs = field(t, "healthStatus");
            let status =
                string(hs.and_then(|h| field(h, "status"))).map_err(|_| at("`healthStatus.status` is not a string"))?;
            let message = string(hs.and_then(|h| field(h, "message")))
                .map_err(|_| at("`healthStatus.message` is not a string"))?;
            Ok(TestCase { index, input_path, status, message })
        })
        .collect()
}

/// The first YAML document of `text` (what `sigs.k8s.io/yaml` reads); `null` if none.
pub fn first_document(text: &str) -> Result<Value, Error> {
    let mut first = None;
    let parsed = gitops_core::yaml::for_each_document(text, |d| {
        first = Some(d.value);
        // Stop at the first document: later ones are not read, not even for syntax.
        Err(())
    });
    match parsed {
        Ok(_) => Ok(first.unwrap_or(Value::Null)),
        Err(e) => first.ok_or_else(|| Error::Syntax(e.to_string())),
    }
}

/// A case that did not get the expected health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Expected status and message.
    pub expected: (String, String),
    /// What the check gave.
    pub got: (String, String),
}

/// Compares an assessment with a case, exactly.
pub fn check(case: &TestCase, got: &Assessment) -> Result<(), Mismatch> {
    let (status, message) = match &got.health {
        Some(h) => (h.status.as_str().to_string(), h.message.clone()),
        None => (String::new(), String::new()),
    };
    if status == case.status && message == case.message {
        Ok(())
    } else {
        Err(Mismatch { expected: (case.status.clone(), case.message.clone()), got: (status, message) })
    }
}

/// What running one case gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseResult {
    /// The script gave the expected status and message.
    Passed,
    /// The script gave something else.
    Failed(Mismatch),
    /// No script in the tree applies to the input's group and kind.
    NoScript {
        /// The group/kind key the tree was searched for, as its directories name it.
        group_kind: String,
    },
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        matches!(self, CaseResult::Passed)
    }
}

/// Runs `case` on its `input` (the first document of its input file) with the script
/// `checks` has for the input's group and kind, as Argo CD's test runner does: only a script
/// decides, never a built-in check.
pub fn run_case(checks: &HealthChecks, case: &TestCase, input: &Value) -> CaseResult {
    let api_version = input.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = gitops_core::schema::split_api_version(api_version).0;
    let kind = input.get("kind").and_then(Value::as_str).unwrap_or("");
    let Some(script) = checks.script_for(group, kind) else {
        return CaseResult::NoScript { group_kind: group_kind_key(group, kind) };
    };
    match check(case, &checks.run(script, input)) {
        Ok(()) => CaseResult::Passed,
        Err(m) => CaseResult::Failed(m),
    }
}

/// Go's `encoding/json` field matching: the exact name, else a case-insensitive one.
fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let map = v.as_object()?;
    map.get(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

fn string(v: Option<&Value>) -> Result<String, ()> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cases_with_any_field_case() {
        let text = "tests:\n- healthStatus:\n    status: Healthy\n  inputPath: testdata/a.yaml\n- HealthStatus:\n    Status: Degraded\n    message: |\n      two\n      lines\n  inputpath: testdata/b.yaml\n";
        let cases = parse(text).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!((cases[0].status.as_str(), cases[0].message.as_str()), ("Healthy", ""));
        assert_eq!(cases[1].input_path, "testdata/b.yaml");
        assert_eq!((cases[1].status.as_str(), cases[1].message.as_str()), ("Degraded", "two\nlines\n"));
    }

    #[test]
    fn bad_shapes_say_where() {
        assert_eq!(parse("tests: 3").unwrap_err().to_string(), "`tests` is not a list");
        assert_eq!(parse("tests:\n- healthStatus: {}\n").unwrap_err().to_string(), "tests[0]: `inputPath` is missing");
        assert!(parse("tests: [").is_err());
    }

    #[test]
    fn only_the_first_document_is_read() {
        let v = first_document("a: 1\n---\nb: [\n").unwrap();
        assert_eq!(v, serde_json::json!({"a": 1}));
        assert_eq!(first_document("").unwrap(), Value::Null);
    }
}
