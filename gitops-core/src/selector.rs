//! Kubernetes label selectors in their string syntax (`app=web,tier in (front,api),!legacy`),
//! as kustomize's patch targets (`labelSelector`, `annotationSelector`) write them.
//!
//! ```
//! use gitops_core::selector::LabelSelector;
//!
//! let selector: LabelSelector = "app=web,tier notin (db),!legacy".parse()?;
//! let labels = serde_json::json!({"app": "web", "tier": "front"});
//! assert!(selector.matches(Some(&labels)));
//! assert!(!selector.matches(None));
//! # Ok::<(), gitops_core::selector::SelectorError>(())
//! ```

use std::collections::BTreeSet;

use serde_json::Value;

/// Why a selector does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A comma-separated part is none of the requirement forms.
    #[error("`{0}` is not a valid selector requirement")]
    Requirement(String),
}

/// One requirement of a label selector, on the value of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also met when the key is absent).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, BTreeSet<String>),
    /// `key notin (a,b)` (also met when the key is absent).
    NotIn(String, BTreeSet<String>),
    /// `key`: the key is present.
    Exists(String),
    /// `!key`: the key is absent.
    NotExists(String),
}

impl Requirement {
    /// Whether the requirement holds for `labels` (a map of strings; `None` when there are
    /// none). A value that is not a string counts as absent.
    pub fn holds(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|m| m.get(k)).and_then(Value::as_str);
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, set) => get(k).is_some_and(|v| set.contains(v)),
            Requirement::NotIn(k, set) => get(k).is_none_or(|v| !set.contains(v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        }
    }
}

/// A label selector: requirements that must all hold. The empty selector selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the selector syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`,
    /// `!k`, joined by commas; blank text is the empty selector.
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(LabelSelector::default());
        }
        let mut requirements = Vec::new();
        for part in split_requirements(text) {
            let part = part.trim();
            let bad = || SelectorError::Requirement(part.to_string());
            if part.is_empty() {
                return Err(bad());
            }
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = set_operator(part, " notin ") {
                Requirement::NotIn(k, values(rest).ok_or_else(bad)?)
            } else if let Some((k, rest)) = set_operator(part, " in ") {
                Requirement::In(k, values(rest).ok_or_else(bad)?)
            } else if part.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                Requirement::Exists(part.to_string())
            } else {
                return Err(bad());
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector { requirements })
    }

    /// The requirements, in the order written.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether every requirement holds for `labels` (see [`Requirement::holds`]).
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        self.requirements.iter().all(|r| r.holds(labels))
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<LabelSelector, SelectorError> {
        LabelSelector::parse(text)
    }
}

/// Splits at top-level commas (not those inside `in (a,b)`).
fn split_requirements(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn set_operator<'a>(part: &'a str, op: &str) -> Option<(String, &'a str)> {
    part.split_once(op).map(|(k, rest)| (k.trim().to_string(), rest.trim()))
}

fn values(rest: &str) -> Option<BTreeSet<String>> {
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requirements_and_matching() {
        let labels = json!({"app": "web", "tier": "front"});
        let sel = |s: &str| LabelSelector::parse(s).expect("parses").matches(Some(&labels));
        assert!(sel("app=web"));
        assert!(sel("app==web,tier"));
        assert!(sel("app in (web, api),!missing"));
        assert!(!sel("app notin (web)"));
        assert!(!sel("tier!=front"));
        assert!(sel("  "));
        assert_eq!(LabelSelector::parse("a=b,,c").unwrap_err().to_string(), "`` is not a valid selector requirement");
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a b").is_err());
    }
}
