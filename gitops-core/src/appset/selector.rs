//! Kubernetes `LabelSelector` objects (`matchLabels`, `matchExpressions`) as ApplicationSets
//! write them: the cluster generator's `selector` (over cluster secret labels) and every
//! generator's post-selector (over its flattened parameters). Built on
//! [`crate::selector::Requirement`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::selector::Requirement;

/// Why a selector object does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The selector, `matchLabels` or an expression is not the expected shape.
    #[error("{field}: {message}")]
    Shape {
        /// Where (`selector.matchExpressions[0].operator`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// A label selector object: all requirements must hold; the empty one selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Reads `{matchLabels: {k: v}, matchExpressions: [{key, operator, values}]}`; `field`
    /// names it in errors. `null` or absent is the empty selector. Operators are `In`,
    /// `NotIn`, `Exists` and `DoesNotExist`; `In`/`NotIn` need values, the others none.
    pub fn from_json(field: &str, value: Option<&Value>) -> Result<Selector, SelectorError> {
        let bad = |f: String, m: &str| SelectorError::Shape { field: f, message: m.to_string() };
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(Selector::default());
        };
        let obj = value.as_object().ok_or_else(|| bad(field.to_string(), "must be an object"))?;
        let mut requirements = Vec::new();
        if let Some(labels) = obj.get("matchLabels").filter(|v| !v.is_null()) {
            let labels =
                labels.as_object().ok_or_else(|| bad(format!("{field}.matchLabels"), "must be a map of strings"))?;
            for (k, v) in labels {
                let v = v.as_str().ok_or_else(|| bad(format!("{field}.matchLabels.{k}"), "must be a string"))?;
                requirements.push(Requirement::Equals(k.clone(), v.to_string()));
            }
        }
        if let Some(exprs) = obj.get("matchExpressions").filter(|v| !v.is_null()) {
            let exprs = exprs.as_array().ok_or_else(|| bad(format!("{field}.matchExpressions"), "must be a list"))?;
            for (i, e) in exprs.iter().enumerate() {
                let at = format!("{field}.matchExpressions[{i}]");
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| bad(format!("{at}.key"), "must be a non-empty string"))?
                    .to_string();
                let values: BTreeSet<String> = match e.get("values").filter(|v| !v.is_null()) {
                    None => BTreeSet::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad(format!("{at}.values"), "must be a list of strings"))?,
                    Some(_) => return Err(bad(format!("{at}.values"), "must be a list of strings")),
                };
                let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
                let requirement = match op {
                    "In" | "NotIn" if values.is_empty() => {
                        return Err(bad(format!("{at}.values"), "must be non-empty for In and NotIn"));
                    }
                    "Exists" | "DoesNotExist" if !values.is_empty() => {
                        return Err(bad(format!("{at}.values"), "must be empty for Exists and DoesNotExist"));
                    }
                    "In" => Requirement::In(key, values),
                    "NotIn" => Requirement::NotIn(key, values),
                    "Exists" => Requirement::Exists(key),
                    "DoesNotExist" => Requirement::NotExists(key),
                    other => {
                        return Err(bad(
                            format!("{at}.operator"),
                            &format!("{other:?} is not one of In, NotIn, Exists, DoesNotExist"),
                        ));
                    }
                };
                requirements.push(requirement);
            }
        }
        Ok(Selector { requirements })
    }

    /// Whether the selector has no requirement (selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, `matchLabels` first.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether every requirement holds for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        if self.requirements.is_empty() {
            return true;
        }
        let as_json = Value::Object(labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect());
        self.requirements.iter().all(|r| r.holds(Some(&as_json)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn match_labels_and_expressions_all_hold() {
        let s = Selector::from_json(
            "selector",
            Some(&json!({
                "matchLabels": {"env": "prod"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["a", "b"]},
                    {"key": "legacy", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "NotIn", "values": ["x"]},
                    {"key": "team", "operator": "Exists"},
                ],
            })),
        )
        .unwrap();
        assert!(s.matches(&labels(&[("env", "prod"), ("tier", "a"), ("team", "t")])));
        assert!(!s.matches(&labels(&[("env", "prod"), ("tier", "c"), ("team", "t")])));
        assert!(!s.matches(&labels(&[("env", "prod"), ("tier", "a"), ("team", "t"), ("legacy", "1")])));
        assert!(!s.matches(&labels(&[("env", "prod"), ("tier", "a"), ("team", "t"), ("zone", "x")])));
        assert!(!s.matches(&labels(&[("env", "prod"), ("tier", "a")])));
    }

    #[test]
    fn empty_selects_all_and_values_are_unrestricted() {
        assert!(Selector::from_json("s", None).unwrap().is_empty());
        assert!(Selector::from_json("s", Some(&json!({}))).unwrap().matches(&labels(&[])));
        let s = Selector::from_json("s", Some(&json!({"matchLabels": {"path.basename": "a b/c!"}}))).unwrap();
        assert!(s.matches(&labels(&[("path.basename", "a b/c!")])));
    }

    #[test]
    fn bad_shapes_name_the_field() {
        let e = Selector::from_json(
            "generators[0].selector",
            Some(&json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("generators[0].selector.matchExpressions[0].operator"), "{e}");
        let e =
            Selector::from_json("s", Some(&json!({"matchExpressions": [{"key": "a", "operator": "In"}]}))).unwrap_err();
        assert!(e.to_string().contains("non-empty"));
        let e = Selector::from_json("s", Some(&json!({"matchLabels": {"a": 1}}))).unwrap_err();
        assert!(e.to_string().contains("s.matchLabels.a"));
    }
}
