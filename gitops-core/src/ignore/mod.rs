//! `ignoreDifferences`, as Argo CD reads them.
//!
//! Rules come from an Application's `spec.ignoreDifferences` and from `argocd-cm` system
//! keys (see [`crate::settings`]). A rule matches an object by glob on group and kind (`*`
//! also matches the empty core group, `*.crossplane.io` works) and exactly on name and
//! namespace (empty = any). What it ignores:
//! - `jsonPointers`: RFC 6901 paths, removed from both sides; a path that is absent is fine;
//! - `jqPathExpressions`: jq path expressions (jaq), compiled once per rule and bounded in
//!   run time, removed from both sides;
//! - `managedFieldsManagers`: fields whose values differ and that one of these managers
//!   owns in live `metadata.managedFields` take live's value.
//!
//! Every path removed where the two sides differed is reported with the rule that removed it.

pub mod jq;
mod managed;

use crate::glob::Glob;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use jq::{EvalFailure, JqError, JqPathExpr, PathToken};

/// One `ignoreDifferences` entry, as written in an Application or argocd-cm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IgnoreRuleSpec {
    /// Group glob; empty means the core group only.
    #[serde(default)]
    pub group: String,
    /// Kind glob.
    #[serde(default)]
    pub kind: String,
    /// Exact name, empty for any.
    #[serde(default)]
    pub name: String,
    /// Exact namespace, empty for any.
    #[serde(default)]
    pub namespace: String,
    /// JSON pointers to ignore.
    #[serde(default)]
    pub json_pointers: Vec<String>,
    /// jq path expressions to ignore.
    #[serde(default)]
    pub jq_path_expressions: Vec<String>,
    /// Managers whose fields are trusted.
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

/// Where a rule came from, so reports can say which rule ignored a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "camelCase")]
pub enum RuleSource {
    /// `spec.ignoreDifferences[index]` of the application.
    App {
        /// Position in the list.
        index: usize,
    },
    /// An argocd-cm key (`resource.customizations.ignoreDifferences.<key>`).
    System {
        /// The config key.
        key: String,
    },
    /// `resource.compareoptions` `ignoreResourceStatusField`.
    StatusField,
}

impl std::fmt::Display for RuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleSource::App { index } => write!(f, "spec.ignoreDifferences[{index}]"),
            RuleSource::System { key } => write!(f, "argocd-cm {key}"),
            RuleSource::StatusField => f.write_str("argocd-cm resource.compareoptions ignoreResourceStatusField"),
        }
    }
}

/// What a rule ignores, as reported per object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredPath {
    /// JSON pointer of the ignored value.
    pub path: String,
    /// The rule's source.
    pub rule: RuleSource,
    /// The pointer, expression or manager of the rule that matched.
    pub by: String,
}

/// A rule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A JSON pointer that does not start with `/` (or is otherwise malformed).
    #[error("{source_name}: invalid JSON pointer `{pointer}`: it must be empty or start with `/`")]
    Pointer {
        /// The rule's source.
        source_name: RuleSource,
        /// The pointer.
        pointer: String,
    },
    /// A jq expression that does not compile or is not allowed.
    #[error("{source_name}: {error}")]
    Jq {
        /// The rule's source.
        source_name: RuleSource,
        /// What is wrong.
        error: JqError,
    },
    /// A glob that does not compile.
    #[error("{source_name}: invalid {field} pattern `{pattern}`: {problem}")]
    Glob {
        /// The rule's source.
        source_name: RuleSource,
        /// `group` or `kind`.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// What is wrong.
        problem: String,
    },
}

/// A compiled rule.
#[derive(Debug)]
pub struct IgnoreRule {
    source: RuleSource,
    group: Glob,
    kind: Glob,
    name: String,
    namespace: String,
    pointers: Vec<(String, Vec<PathToken>)>,
    jq: Vec<JqPathExpr>,
    managers: Vec<String>,
}

impl IgnoreRule {
    /// Compiles a rule, checking every pointer and expression up front.
    pub fn compile(spec: &IgnoreRuleSpec, source: RuleSource) -> Result<IgnoreRule, Error> {
        let glob = |field: &'static str, pattern: &str| {
            Glob::new(pattern).map_err(|problem| Error::Glob {
                source_name: source.clone(),
                field,
                pattern: pattern.to_string(),
                problem: problem.to_string(),
            })
        };
        let mut pointers = Vec::with_capacity(spec.json_pointers.len());
        for p in &spec.json_pointers {
            let tokens =
                parse_pointer(p).ok_or_else(|| Error::Pointer { source_name: source.clone(), pointer: p.clone() })?;
            pointers.push((p.clone(), tokens.into_iter().map(PathToken::Key).collect()));
        }
        let mut jq = Vec::with_capacity(spec.jq_path_expressions.len());
        for e in &spec.jq_path_expressions {
            jq.push(JqPathExpr::compile(e).map_err(|error| Error::Jq { source_name: source.clone(), error })?);
        }
        Ok(IgnoreRule {
            group: glob("group", &spec.group)?,
            kind: glob("kind", &spec.kind)?,
            name: spec.name.clone(),
            namespace: spec.namespace.clone(),
            pointers,
            jq,
            managers: spec.managed_fields_managers.clone(),
            source,
        })
    }

    /// Whether the rule applies to an object.
    pub fn matches(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        self.group.matches(group)
            && self.kind.matches(kind)
            && (self.name.is_empty() || self.name == name)
            && (self.namespace.is_empty() || self.namespace == namespace)
    }

    /// The rule's source.
    pub fn source(&self) -> &RuleSource {
        &self.source
    }
}

/// The rules that apply to one object, borrowed from the full set.
pub(crate) struct Applicable<'a> {
    pub rules: Vec<&'a IgnoreRule>,
    /// Whether the object is a core Secret: a failing rule's warning then says the same
    /// whatever happened, as what happened can depend on the Secret's values.
    secret: bool,
}

impl<'a> Applicable<'a> {
    pub(crate) fn select(
        rules: &'a [IgnoreRule],
        group: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Applicable<'a> {
        Applicable {
            rules: rules.iter().filter(|r| r.matches(group, kind, namespace, name)).collect(),
            secret: group.is_empty() && kind == "Secret",
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub(crate) fn has_managers(&self) -> bool {
        self.rules.iter().any(|r| !r.managers.is_empty())
    }

    /// JSON pointers that remove a whole top-level field (`/status`), with their rule, so
    /// the caller can avoid copying what will be dropped. Identity fields are never listed.
    pub(crate) fn top_level_pointers(&self) -> Vec<(&'a str, &'a RuleSource, &'a str)> {
        let mut out: Vec<(&'a str, &'a RuleSource, &'a str)> = Vec::new();
        for r in &self.rules {
            for (text, tokens) in &r.pointers {
                if let [PathToken::Key(k)] = tokens.as_slice()
                    && !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                    && !out.iter().any(|(x, _, _)| *x == k)
                {
                    out.push((k.as_str(), &r.source, text.as_str()));
                }
            }
        }
        out
    }

    /// Trusted managers of all applicable rules, with the rule each came from.
    pub(crate) fn managers(&self) -> Vec<(&'a str, &'a RuleSource)> {
        self.rules.iter().flat_map(|r| r.managers.iter().map(move |m| (m.as_str(), &r.source))).collect()
    }

    /// Removes the ignored paths from `desired`, `live` and `orig`. Paths where desired (or
    /// orig) and live differed are recorded in `report`. A jq expression that fails on this
    /// object (a runtime error or its time budget) is skipped for it, with a warning, as
    /// Argo CD skips and logs it. Warnings name the rule and a reason, never a value of the
    /// object; for a Secret not even the reason, which a rule can make depend on a value.
    pub(crate) fn remove_paths(
        &self,
        desired: Option<&mut Value>,
        live: Option<&mut Value>,
        orig: Option<&mut Value>,
        jq_budget: Duration,
        report: &mut Vec<IgnoredPath>,
        warnings: &mut Vec<String>,
    ) {
        let mut sides: [Option<&mut Value>; 3] = [desired, live, orig];
        for rule in &self.rules {
            for (text, tokens) in &rule.pointers {
                let same = || vec![tokens.clone()];
                remove_per_side(&mut sides, [same(), same(), same()], &rule.source, text, report);
            }
            'expressions: for expr in &rule.jq {
                // Each side is asked separately: array indices only mean something in the
                // object they were found in.
                let mut per_side: [Vec<Vec<PathToken>>; 3] = Default::default();
                for (side, paths) in sides.iter().zip(per_side.iter_mut()) {
                    if let Some(v) = side.as_deref() {
                        match expr.paths(v, jq_budget) {
                            Ok(p) => *paths = p,
                            Err(e) => {
                                warnings.push(skip_warning(&rule.source, expr, &e, self.secret));
                                continue 'expressions;
                            }
                        }
                    }
                }
                remove_per_side(&mut sides, per_side, &rule.source, expr.source(), report);
            }
        }
    }
}

/// The warning for a jq expression skipped on one object. [`JqError`]s of evaluation hold
/// the expression and a value-free reason; for a Secret the reason is left out too, so the
/// text is the same whatever the Secret holds (`select(.data.x | startswith("a")) | error`
/// versus a timeout or a type error would otherwise tell values apart).
fn skip_warning(source: &RuleSource, expr: &JqPathExpr, error: &JqError, secret: bool) -> String {
    if secret {
        format!(
            "ignore rule {source} skipped for this object: jq expression `{}` failed on this Secret (the reason \
             is not shown for Secrets, as it can depend on their values)",
            expr.source()
        )
    } else {
        format!("ignore rule {source} skipped for this object: {error}")
    }
}

/// Reports the paths where the sides held different values, then removes from each side
/// the paths found in it (highest array index first, so lower indices stay valid).
fn remove_per_side(
    sides: &mut [Option<&mut Value>; 3],
    per_side: [Vec<Vec<PathToken>>; 3],
    source: &RuleSource,
    by: &str,
    report: &mut Vec<IgnoredPath>,
) {
    let mut union: Vec<&Vec<PathToken>> = per_side.iter().flatten().collect();
    union.sort();
    union.dedup();
    let [desired, live, orig] = &*sides;
    let at = |side: &Option<&mut Value>, path: &[PathToken]| side.as_deref().and_then(|v| resolve(v, path)).cloned();
    for path in union {
        let (d, l, o) = (at(desired, path), at(live, path), at(orig, path));
        // A value only live has differs only where live-only values count: as an element of
        // a list the desired state also has (compared whole or by position), never as an
        // extra map key.
        let live_only_counts = || {
            let in_list = matches!(path.last(), Some(PathToken::Index(_)))
                || matches!(path.last(), Some(PathToken::Key(k)) if array_index(k).is_some());
            in_list && desired.as_deref().and_then(|v| resolve(v, &path[..path.len() - 1])).is_some_and(Value::is_array)
        };
        if would_have_differed(d.as_ref(), o.as_ref(), l.as_ref(), live_only_counts) {
            report.push(IgnoredPath { path: pointer_text(path), rule: source.clone(), by: by.to_string() });
        }
    }
    for (side, mut paths) in sides.iter_mut().zip(per_side) {
        let Some(v) = side.as_deref_mut() else { continue };
        paths.sort_by(|a, b| b.cmp(a));
        for p in &paths {
            remove_at(v, p);
        }
    }
}

/// Whether values an ignore rule removed from desired (`d`), last-applied (`o`) and live
/// (`l`) would have made a difference: the desired side (or a removal through last-applied)
/// disagrees with live, or only live has it where live-only values count.
pub(crate) fn would_have_differed(
    d: Option<&Value>,
    o: Option<&Value>,
    l: Option<&Value>,
    live_only_counts: impl FnOnce() -> bool,
) -> bool {
    if d.is_some() || o.is_some() { d != l } else { l.is_some() && live_only_counts() }
}

/// Removes the value at `path`, returning it. Tokens that are keys index arrays when they
/// are decimal numbers, as RFC 6901 says.
pub(crate) fn remove_at(v: &mut Value, path: &[PathToken]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = v;
    for t in parents {
        cur = match (cur, t) {
            (Value::Object(m), PathToken::Key(k)) => m.get_mut(k)?,
            (Value::Array(a), PathToken::Index(i)) => a.get_mut(*i)?,
            (Value::Array(a), PathToken::Key(k)) => a.get_mut(array_index(k)?)?,
            _ => return None,
        };
    }
    match (cur, last) {
        (Value::Object(m), PathToken::Key(k)) => m.remove(k),
        (Value::Array(a), PathToken::Index(i)) if *i < a.len() => Some(a.remove(*i)),
        (Value::Array(a), PathToken::Key(k)) => {
            let i = array_index(k)?;
            (i < a.len()).then(|| a.remove(i))
        }
        _ => None,
    }
}

pub(crate) fn resolve<'v>(v: &'v Value, path: &[PathToken]) -> Option<&'v Value> {
    path.iter().try_fold(v, |cur, t| match (cur, t) {
        (Value::Object(m), PathToken::Key(k)) => m.get(k),
        (Value::Array(a), PathToken::Index(i)) => a.get(*i),
        (Value::Array(a), PathToken::Key(k)) => a.get(array_index(k)?),
        _ => None,
    })
}

/// Sets the value at `path`, making the missing objects on the way (an array index out of
/// range, or a path through a scalar, sets nothing).
pub(crate) fn set_at(v: &mut Value, path: &[PathToken], new: Value) {
    let Some((last, parents)) = path.split_last() else {
        *v = new;
        return;
    };
    let mut cur = v;
    for t in parents {
        let next = match (cur, t) {
            (Value::Object(m), PathToken::Key(k)) => {
                m.entry(k.clone()).or_insert_with(|| Value::Object(serde_json::Map::new()))
            }
            (Value::Array(a), PathToken::Index(i)) => match a.get_mut(*i) {
                Some(x) => x,
                None => return,
            },
            (Value::Array(a), PathToken::Key(k)) => match array_index(k).and_then(|i| a.get_mut(i)) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
        cur = next;
    }
    match (cur, last) {
        (Value::Object(m), PathToken::Key(k)) => {
            m.insert(k.clone(), new);
        }
        (Value::Array(a), PathToken::Index(i)) if *i < a.len() => a[*i] = new,
        (Value::Array(a), PathToken::Key(k)) => {
            if let Some(i) = array_index(k).filter(|i| *i < a.len()) {
                a[i] = new;
            }
        }
        _ => {}
    }
}

fn array_index(token: &str) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// Parses an RFC 6901 pointer into unescaped tokens.
pub fn parse_pointer(p: &str) -> Option<Vec<String>> {
    if p.is_empty() {
        return Some(Vec::new());
    }
    let rest = p.strip_prefix('/')?;
    rest.split('/')
        .map(|t| {
            if t.contains('~') {
                let mut out = String::with_capacity(t.len());
                let mut chars = t.chars();
                while let Some(c) = chars.next() {
                    if c == '~' {
                        match chars.next() {
                            Some('0') => out.push('~'),
                            Some('1') => out.push('/'),
                            _ => return None,
                        }
                    } else {
                        out.push(c);
                    }
                }
                Some(out)
            } else {
                Some(t.to_string())
            }
        })
        .collect()
}

/// Writes a path as an RFC 6901 pointer.
pub fn pointer_text(path: &[PathToken]) -> String {
    let mut out = String::new();
    for t in path {
        out.push('/');
        match t {
            PathToken::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            PathToken::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

pub(crate) use managed::trust_managers;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers() {
        assert_eq!(parse_pointer("/a~1b/c~0d/0"), Some(vec!["a/b".into(), "c~d".into(), "0".into()]));
        assert_eq!(parse_pointer("a"), None);
        assert_eq!(parse_pointer("/a~2"), None);
        let mut v = json!({"spec": {"list": [1, 2, 3]}});
        let toks = vec![PathToken::Key("spec".into()), PathToken::Key("list".into()), PathToken::Key("1".into())];
        assert_eq!(remove_at(&mut v, &toks), Some(json!(2)));
        assert_eq!(v, json!({"spec": {"list": [1, 3]}}));
        assert_eq!(remove_at(&mut v, &[PathToken::Key("nope".into()), PathToken::Key("x".into())]), None);
    }

    #[test]
    fn matching_and_removal_report_only_differences() {
        let spec = IgnoreRuleSpec {
            group: "apps".into(),
            kind: "Deployment".into(),
            json_pointers: vec!["/spec/replicas".into(), "/status".into()],
            ..Default::default()
        };
        let rule = IgnoreRule::compile(&spec, RuleSource::App { index: 0 }).unwrap();
        assert!(rule.matches("apps", "Deployment", "x", "y"));
        assert!(!rule.matches("", "Deployment", "x", "y"));
        let rules = [rule];
        let app = Applicable::select(&rules, "apps", "Deployment", "default", "web");
        let mut d = json!({"spec": {"replicas": 3}});
        let mut l = json!({"spec": {"replicas": 5}, "status": {"ready": 1}});
        let (mut report, mut warnings) = (Vec::new(), Vec::new());
        app.remove_paths(Some(&mut d), Some(&mut l), None, Duration::from_secs(1), &mut report, &mut warnings);
        assert!(warnings.is_empty());
        assert_eq!(d, json!({"spec": {}}));
        assert_eq!(l, json!({"spec": {}}));
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].path, "/spec/replicas");
    }
}
