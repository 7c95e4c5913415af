//! `spec.ignoreApplicationDifferences`: fields of generated Applications the ApplicationSet
//! controller leaves as they are on the existing ones (a `targetRevision` a person pinned, a
//! `syncPolicy` switched off by hand), as Argo CD applies them before it updates an app.
//!
//! Each entry names `jsonPointers` and/or `jqPathExpressions`, and optionally the `name` of the
//! one Application it is for. At each path the existing app's value replaces the generated one;
//! where the existing app has none, the generated one is dropped too.

use std::time::Duration;

use serde_json::Value;

use crate::Object;
use crate::ignore::{self, JqPathExpr, PathToken};

/// How long one jq expression may run on one app (Argo CD's default for ignore rules).
const JQ_BUDGET: Duration = Duration::from_secs(1);

/// Why `spec.ignoreApplicationDifferences` does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ApplicationSet {appset}: {field}: {message}")]
pub struct Error {
    /// The ApplicationSet (`namespace/name`).
    pub appset: String,
    /// The field (`spec.ignoreApplicationDifferences[0].jsonPointers[1]`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug)]
struct Rule {
    name: String,
    pointers: Vec<Vec<PathToken>>,
    jq: Vec<JqPathExpr>,
}

/// The compiled `ignoreApplicationDifferences` of one ApplicationSet.
#[derive(Debug, Default)]
pub struct IgnoreDifferences {
    rules: Vec<Rule>,
}

impl IgnoreDifferences {
    /// Reads and compiles the rules of `appset` (none when the field is absent).
    pub fn of(appset: &Object) -> Result<IgnoreDifferences, Error> {
        let err = |field: String, message: String| Error {
            appset: format!("{}/{}", appset.namespace(), appset.name()),
            field,
            message,
        };
        let Some(entries) = appset.value().pointer("/spec/ignoreApplicationDifferences").filter(|v| !v.is_null())
        else {
            return Ok(IgnoreDifferences::default());
        };
        let entries = entries
            .as_array()
            .ok_or_else(|| err("spec.ignoreApplicationDifferences".into(), "must be a list".into()))?;
        let mut rules = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("spec.ignoreApplicationDifferences[{i}]");
            let strings = |key: &str| -> Result<Vec<String>, Error> {
                match entry.get(key) {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| err(format!("{at}.{key}"), "must be a list of strings".into()))
                        })
                        .collect(),
                    Some(_) => Err(err(format!("{at}.{key}"), "must be a list of strings".into())),
                }
            };
            let mut pointers = Vec::new();
            for (j, p) in strings("jsonPointers")?.iter().enumerate() {
                let tokens = ignore::parse_pointer(p).ok_or_else(|| {
                    err(format!("{at}.jsonPointers[{j}]"), format!("{p:?} is not a JSON pointer (RFC 6901: /spec/x)"))
                })?;
                pointers.push(tokens.into_iter().map(PathToken::Key).collect());
            }
            let mut jq = Vec::new();
            for (j, e) in strings("jqPathExpressions")?.iter().enumerate() {
                jq.push(
                    JqPathExpr::compile(e).map_err(|e| err(format!("{at}.jqPathExpressions[{j}]"), e.to_string()))?,
                );
            }
            let name = entry.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            rules.push(Rule { name, pointers, jq });
        }
        Ok(IgnoreDifferences { rules })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `generated` with the ignored fields as `current` (the existing app of that name) has
    /// them.
    pub fn keep(&self, current: &Object, generated: &Object) -> Object {
        let mut out = generated.clone();
        for rule in self.rules.iter().filter(|r| r.name.is_empty() || r.name == generated.name()) {
            let mut paths = rule.pointers.clone();
            for expr in &rule.jq {
                // A path either side selects is the existing app's business.
                for side in [current.value(), generated.value()] {
                    paths.extend(expr.paths(side, JQ_BUDGET).unwrap_or_default());
                }
            }
            for path in paths {
                match ignore::resolve(current.value(), &path) {
                    Some(v) => ignore::set_at(out.value_mut(), &path, v.clone()),
                    None => {
                        ignore::remove_at(out.value_mut(), &path);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;

    fn one(text: &str) -> Object {
        manifest::parse("t.yaml", text).unwrap().remove(0)
    }

    #[test]
    fn ignored_fields_keep_the_existing_values() {
        let set = one(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s, namespace: argocd}\nspec:\n  ignoreApplicationDifferences:\n  - jsonPointers: [/spec/source/targetRevision]\n  - name: web\n    jqPathExpressions: [.spec.syncPolicy]\n",
        );
        let rules = IgnoreDifferences::of(&set).unwrap();
        let current = one(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec: {source: {targetRevision: pinned, path: a}}\n",
        );
        let generated = one(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec: {source: {targetRevision: main, path: b}, syncPolicy: {automated: {}}}\n",
        );
        let kept = rules.keep(&current, &generated);
        assert_eq!(kept.value()["spec"]["source"]["targetRevision"], "pinned");
        assert_eq!(kept.value()["spec"]["source"]["path"], "b", "the rest is generated");
        assert!(kept.value()["spec"].get("syncPolicy").is_none(), "turned off by hand: stays off");
        let other = one(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: api}\nspec: {source: {targetRevision: main}, syncPolicy: {automated: {}}}\n",
        );
        let kept = rules.keep(&current, &other);
        assert!(kept.value()["spec"].get("syncPolicy").is_some(), "the jq rule is for web only");
    }

    #[test]
    fn bad_rules_name_the_field() {
        let set = |rule: &str| {
            let text = format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: s, namespace: argocd}}\nspec:\n  ignoreApplicationDifferences: [{rule}]\n"
            );
            IgnoreDifferences::of(&one(&text)).unwrap_err().to_string()
        };
        assert!(
            set("{jsonPointers: [spec/x]}")
                .starts_with("ApplicationSet argocd/s: spec.ignoreApplicationDifferences[0].jsonPointers[0]: ")
        );
        assert!(set("{jqPathExpressions: ['.spec | ']}").contains("jqPathExpressions[0]"));
    }
}
