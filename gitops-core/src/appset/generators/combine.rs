//! The matrix and merge generators, over child entries (`generators`). Children may be a
//! matrix or merge themselves, one level deep; their `template`s are ignored and their
//! `selector`s applied.
//!
//! - matrix: exactly two children. For each parameter set A of child 0, child 1 is rendered
//!   with A (its strings; its own `values` only where they render without a missing key),
//!   run, and each of its sets B is combined with A: in flat mode the union, a key with two
//!   different values being an error; in go mode a deep merge where A wins. A child with no
//!   parameter sets gives none.
//! - merge: at least two children and one `mergeKeys`. Child 0 is the base; a parameter set's
//!   key is its values at the merge keys (top-level keys only; missing is null), and two sets
//!   of one child with the same key are an error. For children 1.., in order, a set whose key
//!   matches a base set is merged over it (flat: key by key; go: deep, later children winning).
//!   Sets matching no base set are dropped. The output keeps the base's order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Context, GeneratorError, kinds_of, run_child};
use crate::appset::params::Params;

fn children<'v>(spec: &'v Value, kind: &str) -> Result<&'v [Value], GeneratorError> {
    match spec.get("generators") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(GeneratorError::Field {
            field: format!("{kind}.generators"),
            message: "must be a list of generators".into(),
        }),
    }
}

fn child_err(index: usize, entry: &Value, source: GeneratorError) -> GeneratorError {
    let kind = kinds_of(entry).first().copied().unwrap_or("none").to_string();
    GeneratorError::Child { index, kind, source: Box::new(source) }
}

/// Runs a `matrix` spec at `depth` (its children run at `depth + 1`).
pub fn matrix(spec: &Value, cx: &Context<'_>, depth: usize) -> Result<Vec<Params>, GeneratorError> {
    let kids = children(spec, "matrix")?;
    if kids.len() != 2 {
        return Err(GeneratorError::MatrixChildren { count: kids.len() });
    }
    let first = run_child(&kids[0], cx, depth + 1, None).map_err(|e| child_err(0, &kids[0], e))?;
    let mut out = Vec::new();
    for a in &first {
        let second = run_child(&kids[1], cx, depth + 1, Some(a)).map_err(|e| child_err(1, &kids[1], e))?;
        for b in second {
            out.push(combine(a, b)?);
        }
    }
    Ok(out)
}

/// The union of a first-child set `a` and a second-child set `b` (taken, so that its keys
/// and values move instead of being copied).
fn combine(a: &Params, b: Params) -> Result<Params, GeneratorError> {
    match (a, b) {
        (Params::Flat(x), Params::Flat(mut out)) => {
            for (k, v) in x {
                match out.get(k) {
                    Some(existing) if existing != v => {
                        return Err(GeneratorError::Conflict {
                            key: k.clone(),
                            first: v.clone(),
                            second: existing.clone(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(Params::Flat(out))
        }
        (Params::Go(x), Params::Go(mut out)) => {
            deep_merge(&mut out, x);
            Ok(Params::Go(out))
        }
        _ => unreachable!("both children run in the ApplicationSet's mode"),
    }
}

/// Merges `over` into `base`, `over` winning on scalars and lists, maps merging.
fn deep_merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => deep_merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Runs a `merge` spec at `depth`.
pub fn merge(spec: &Value, cx: &Context<'_>, depth: usize) -> Result<Vec<Params>, GeneratorError> {
    let kids = children(spec, "merge")?;
    if kids.len() < 2 {
        return Err(GeneratorError::MergeChildren { count: kids.len() });
    }
    let keys: Vec<String> = match spec.get("mergeKeys") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            items.iter().map(|k| k.as_str().map(str::to_string)).collect::<Option<_>>().ok_or_else(|| {
                GeneratorError::Field { field: "merge.mergeKeys".into(), message: "must be a list of strings".into() }
            })?
        }
        Some(_) => {
            return Err(GeneratorError::Field {
                field: "merge.mergeKeys".into(),
                message: "must be a list of strings".into(),
            });
        }
    };
    if keys.is_empty() {
        return Err(GeneratorError::NoMergeKeys);
    }
    let mut base: Vec<(String, Params)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (i, kid) in kids.iter().enumerate() {
        let sets = run_child(kid, cx, depth + 1, None).map_err(|e| child_err(i, kid, e))?;
        let mut seen: BTreeMap<String, Params> = BTreeMap::new();
        let mut order = Vec::new();
        for set in sets {
            let key = merge_key(&keys, &set);
            if seen.contains_key(&key) {
                return Err(GeneratorError::NonUniqueMergeKey { child: i, key });
            }
            order.push(key.clone());
            seen.insert(key, set);
        }
        if i == 0 {
            for key in order {
                index.insert(key.clone(), base.len());
                let set = seen.remove(&key).expect("just inserted");
                base.push((key, set));
            }
            continue;
        }
        for (key, over) in seen {
            let Some(&at) = index.get(&key) else { continue };
            let target = &mut base[at].1;
            match (target, over) {
                (Params::Flat(b), Params::Flat(o)) => b.extend(o),
                (Params::Go(b), Params::Go(o)) => deep_merge(b, &o),
                _ => unreachable!("one mode"),
            }
        }
    }
    Ok(base.into_iter().map(|(_, p)| p).collect())
}

/// The JSON of `{key: value}` over the merge keys (sorted, as Go marshals maps).
fn merge_key(keys: &[String], set: &Params) -> String {
    let map: BTreeMap<&str, Value> = keys.iter().map(|k| (k.as_str(), set.get(k).unwrap_or(Value::Null))).collect();
    serde_json::to_string(&map).expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::appset::generators::Inputs;
    use crate::appset::params::Mode;
    use crate::appset::template::Engine;

    fn run(mode: Mode, kind: &str, spec: Value) -> Result<Vec<Params>, GeneratorError> {
        let inputs = Inputs::default();
        let cx = Context { engine: Engine::new(mode, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        super::super::run_kind(kind, &spec, &cx, 0)
    }

    fn list(elements: Value) -> Value {
        json!({"list": {"elements": elements}})
    }

    #[test]
    fn matrix_is_a_product_with_the_second_child_rendered_per_first() {
        let spec = json!({"generators": [
            list(json!([{"env": "dev"}, {"env": "prod"}])),
            {"list": {"elementsYaml": "- app: web-{{env}}\n- app: api-{{env}}\n"}},
        ]});
        let got = run(Mode::Flat, "matrix", spec).unwrap();
        let pairs: Vec<(String, String)> =
            got.iter().map(|p| (p.flattened()["env"].clone(), p.flattened()["app"].clone())).collect();
        assert_eq!(
            pairs,
            [
                ("dev".into(), "web-dev".into()),
                ("dev".into(), "api-dev".into()),
                ("prod".into(), "web-prod".into()),
                ("prod".into(), "api-prod".into()),
            ]
        );
    }

    #[test]
    fn matrix_needs_two_children_and_flat_conflicts_are_errors() {
        let one = json!({"generators": [list(json!([{"a": "1"}]))]});
        assert_eq!(run(Mode::Flat, "matrix", one).unwrap_err(), GeneratorError::MatrixChildren { count: 1 });
        let three = json!({"generators": [list(json!([])), list(json!([])), list(json!([]))]});
        assert_eq!(run(Mode::Flat, "matrix", three).unwrap_err(), GeneratorError::MatrixChildren { count: 3 });
        let clash = json!({"generators": [list(json!([{"a": "1"}])), list(json!([{"a": "2"}]))]});
        let e = run(Mode::Flat, "matrix", clash).unwrap_err();
        assert_eq!(e, GeneratorError::Conflict { key: "a".into(), first: "1".into(), second: "2".into() });
        let same = json!({"generators": [list(json!([{"a": "1"}])), list(json!([{"a": "1", "b": "2"}]))]});
        assert_eq!(run(Mode::Flat, "matrix", same).unwrap().len(), 1);
        let empty = json!({"generators": [list(json!([])), list(json!([{"a": "1"}]))]});
        assert!(run(Mode::Flat, "matrix", empty).unwrap().is_empty());
    }

    #[test]
    fn matrix_go_mode_deep_merges_with_the_first_child_winning() {
        let spec = json!({"generators": [
            list(json!([{"a": "first", "m": {"x": 1}}])),
            list(json!([{"a": "second", "m": {"x": 2, "y": 3}, "b": true}])),
        ]});
        let got = run(Mode::Go, "matrix", spec).unwrap();
        assert_eq!(got[0].to_value(), json!({"a": "first", "m": {"x": 1, "y": 3}, "b": true}));
    }

    #[test]
    fn nesting_is_one_level_and_child_errors_say_which_child() {
        let inner = json!({"matrix": {"generators": [list(json!([{"a": "1"}])), list(json!([{"b": "2"}]))]}});
        let spec = json!({"generators": [inner.clone(), list(json!([{"c": "3"}]))]});
        assert_eq!(run(Mode::Flat, "matrix", spec).unwrap().len(), 1);
        let deep = json!({"generators": [{"matrix": {"generators": [inner, list(json!([]))]}}, list(json!([]))]});
        let e = run(Mode::Flat, "matrix", deep).unwrap_err();
        assert!(e.to_string().contains("may be nested only one level deep"), "{e}");
        let bad = json!({"generators": [list(json!([{"a": 1}])), list(json!([]))]});
        let e = run(Mode::Flat, "matrix", bad).unwrap_err();
        assert!(e.to_string().starts_with("child generator 0 (list): list.elements[0].a"), "{e}");
    }

    #[test]
    fn child_selectors_apply_and_child_templates_are_ignored() {
        let spec = json!({"generators": [
            {"list": {"elements": [{"env": "dev"}, {"env": "prod"}], "template": {"metadata": {"name": "ignored"}}},
             "selector": {"matchLabels": {"env": "prod"}}},
            list(json!([{"app": "web"}])),
        ]});
        let got = run(Mode::Flat, "matrix", spec).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to_value(), json!({"env": "prod", "app": "web"}), "no template key leaks into params");
    }

    #[test]
    fn merge_is_a_left_join_on_merge_keys_later_children_winning() {
        let spec = json!({"mergeKeys": ["name"], "generators": [
            list(json!([{"name": "a", "v": "base"}, {"name": "b", "v": "base"}])),
            list(json!([{"name": "a", "v": "one", "w": "x"}, {"name": "z", "v": "dropped"}])),
            list(json!([{"name": "a", "v": "two"}])),
        ]});
        let got = run(Mode::Flat, "merge", spec).unwrap();
        let vals: Vec<Value> = got.iter().map(Params::to_value).collect();
        assert_eq!(vals, [json!({"name": "a", "v": "two", "w": "x"}), json!({"name": "b", "v": "base"})]);
    }

    #[test]
    fn merge_go_mode_deep_merges_and_keys_are_top_level() {
        let spec = json!({"mergeKeys": ["k"], "generators": [
            list(json!([{"k": 1, "m": {"x": 1, "y": 1}}])),
            list(json!([{"k": 1, "m": {"y": 2}}])),
        ]});
        let got = run(Mode::Go, "merge", spec).unwrap();
        assert_eq!(got[0].to_value(), json!({"k": 1, "m": {"x": 1, "y": 2}}));
        let spec = json!({"mergeKeys": ["m.x"], "generators": [
            list(json!([{"m": {"x": 1}}])),
            list(json!([{"m": {"x": 2}, "hit": true}])),
        ]});
        let got = run(Mode::Go, "merge", spec).unwrap();
        assert_eq!(got[0].get("hit"), Some(json!(true)), "missing keys are null, so both sets match");
    }

    #[test]
    fn merge_rules_are_checked() {
        let dup = json!({"mergeKeys": ["name"], "generators": [list(json!([{"name": "a"}, {"name": "a"}])), list(json!([]))]});
        assert_eq!(
            run(Mode::Flat, "merge", dup).unwrap_err(),
            GeneratorError::NonUniqueMergeKey { child: 0, key: r#"{"name":"a"}"#.into() }
        );
        let no_keys = json!({"generators": [list(json!([])), list(json!([]))]});
        assert_eq!(run(Mode::Flat, "merge", no_keys).unwrap_err(), GeneratorError::NoMergeKeys);
        let one = json!({"mergeKeys": ["a"], "generators": [list(json!([]))]});
        assert_eq!(run(Mode::Flat, "merge", one).unwrap_err(), GeneratorError::MergeChildren { count: 1 });
    }
}
