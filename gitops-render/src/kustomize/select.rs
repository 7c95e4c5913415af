//! Patch target selectors: group, version, kind, name and namespace as anchored regular
//! expressions, and Kubernetes label and annotation selectors.

use std::collections::BTreeSet;

use gitops_core::schema::split_api_version;
use regex_lite::Regex;
use serde_json::Value;

use super::file::Selector;
use super::resource::{Resource, same_namespace};

/// A compiled selector.
#[derive(Debug)]
pub struct Compiled {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Exists(String),
    NotExists(String),
}

/// Compiles `selector`; errors name the part that is malformed (`kind`, `labelSelector`...).
pub fn compile(selector: &Selector) -> Result<Compiled, (String, String)> {
    let re = |field: &str, text: &str| -> Result<Option<Regex>, (String, String)> {
        if text.is_empty() {
            return Ok(None);
        }
        Regex::new(&format!("^(?:{text})$")).map(Some).map_err(|e| (field.to_string(), e.to_string()))
    };
    Ok(Compiled {
        group: re("group", &selector.group)?,
        version: re("version", &selector.version)?,
        kind: re("kind", &selector.kind)?,
        name: re("name", &selector.name)?,
        namespace: re("namespace", &selector.namespace)?,
        labels: parse_selector(&selector.label_selector).map_err(|e| ("labelSelector".to_string(), e))?,
        annotations: parse_selector(&selector.annotation_selector)
            .map_err(|e| ("annotationSelector".to_string(), e))?,
    })
}

impl Compiled {
    /// Whether `r` is selected. Name and namespace match the original or the current value.
    pub fn matches(&self, r: &Resource) -> bool {
        let hit = |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        let api = r.api_version();
        let (group, version) = split_api_version(api);
        if !hit(&self.group, group) || !hit(&self.version, version) || !hit(&self.kind, r.kind()) {
            return false;
        }
        let orig = r.history.first();
        let (orig_name, orig_ns) = orig.map_or((r.name(), r.namespace()), |o| (o.name.as_str(), o.namespace.as_str()));
        if !(hit(&self.name, r.name()) || hit(&self.name, orig_name)) {
            return false;
        }
        // Namespaces compare effectively: an empty one is `default`.
        if let Some(ns) = &self.namespace
            && ![r.namespace(), orig_ns]
                .iter()
                .any(|n| ns.is_match(n) || (same_namespace(n, "") && ns.is_match("default")))
        {
            return false;
        }
        let meta = r.obj.get("metadata");
        let labels = meta.and_then(|m| m.get("labels"));
        let annotations = meta.and_then(|m| m.get("annotations"));
        self.labels.iter().all(|q| q.holds(labels)) && self.annotations.iter().all(|q| q.holds(annotations))
    }
}

impl Requirement {
    fn holds(&self, map: Option<&Value>) -> bool {
        let get = |k: &str| map.and_then(|m| m.get(k)).and_then(Value::as_str);
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

/// Parses Kubernetes selector syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`,
/// `k`, `!k`, joined by commas.
fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in split_requirements(text) {
        let part = part.trim();
        let bad = || format!("`{part}` is not a valid selector requirement");
        if part.is_empty() {
            return Err(bad());
        }
        if let Some(key) = part.strip_prefix('!') {
            out.push(Requirement::NotExists(key.trim().to_string()));
        } else if let Some((k, v)) = part.split_once("!=") {
            out.push(Requirement::NotEquals(k.trim().to_string(), v.trim().to_string()));
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            out.push(Requirement::Equals(k.trim().to_string(), v.trim().to_string()));
        } else if let Some((k, rest)) = set_operator(part, " notin ") {
            out.push(Requirement::NotIn(k, values(rest).ok_or_else(bad)?));
        } else if let Some((k, rest)) = set_operator(part, " in ") {
            out.push(Requirement::In(k, values(rest).ok_or_else(bad)?));
        } else if part.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
            out.push(Requirement::Exists(part.to_string()));
        } else {
            return Err(bad());
        }
    }
    Ok(out)
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

    fn res(yaml: serde_json::Value) -> Resource {
        Resource::new(yaml, "test")
    }

    #[test]
    fn label_selectors() {
        let r = res(serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}}}));
        let sel = |l: &str| {
            compile(&Selector { label_selector: l.into(), ..Default::default() }).expect("compiles").matches(&r)
        };
        assert!(sel("app=web"));
        assert!(sel("app==web,tier"));
        assert!(sel("app in (web, api),!missing"));
        assert!(!sel("app notin (web)"));
        assert!(!sel("tier!=front"));
        assert!(parse_selector("a=b,,c").is_err());
    }

    #[test]
    fn names_are_anchored_regexes_over_original_or_current() {
        let mut r = res(serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}));
        r.remember();
        r.set_meta("name", "p-web".into());
        let sel = |name: &str, kind: &str| {
            compile(&Selector { name: name.into(), kind: kind.into(), ..Default::default() })
                .expect("compiles")
                .matches(&r)
        };
        assert!(sel("web", "Service"));
        assert!(sel("p-web", ""));
        assert!(!sel("we", ""));
        assert!(sel("w.*", "Serv.*"));
        assert!(!sel("web", "Deployment"));
    }
}
