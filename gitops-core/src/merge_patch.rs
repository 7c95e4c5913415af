//! JSON merge patches (RFC 7386), as `jsonpatch.CreateMergePatch` makes them and the API
//! server applies them: the patch that takes one document to another, and applying one.
//! A resource action's result is written this way (Argo CD's `patchResource`).

use serde_json::{Map, Value};

/// The merge patch that takes `from` to `to`: `to`'s values where they differ (lists whole),
/// `null` for keys `to` dropped. `{}` when nothing differs. Non-maps give `to` itself.
pub fn create(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(f), Value::Object(t)) => Value::Object(create_maps(f, t)),
        _ => to.clone(),
    }
}

fn create_maps(from: &Map<String, Value>, to: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, tv) in to {
        match (from.get(k), tv) {
            (Some(Value::Object(fm)), Value::Object(tm)) => {
                let sub = create_maps(fm, tm);
                if !sub.is_empty() {
                    out.insert(k.clone(), Value::Object(sub));
                }
            }
            (Some(fv), _) if same(fv, tv) => {}
            _ => {
                out.insert(k.clone(), tv.clone());
            }
        }
    }
    for k in from.keys() {
        if !to.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    out
}

/// Equal as JSON documents: numbers by value (`3` and `3.0` are the same).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Applies `patch` to `target` as RFC 7386 says: maps merge, `null` deletes, anything else
/// replaces.
pub fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else { return };
    for (k, pv) in p {
        if pv.is_null() {
            t.remove(k);
        } else {
            let slot = t.entry(k.clone()).or_insert(Value::Null);
            if pv.is_object() {
                apply(slot, pv);
            } else {
                *slot = pv.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn create_then_apply_gets_there() {
        let from = json!({"a": 1, "b": {"c": [1, 2], "d": "x", "gone": true}, "e": {"f": 1}});
        let to = json!({"a": 1.0, "b": {"c": [1], "d": "x", "new": {"n": 1}}, "e": {"f": 1}});
        let patch = create(&from, &to);
        assert_eq!(patch, json!({"b": {"c": [1], "new": {"n": 1}, "gone": null}}));
        let mut got = from.clone();
        apply(&mut got, &patch);
        assert_eq!(got, json!({"a": 1, "b": {"c": [1], "d": "x", "new": {"n": 1}}, "e": {"f": 1}}));
        assert_eq!(create(&to, &to), json!({}));
    }

    #[test]
    fn rfc_7386_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        apply(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": [1]});
        apply(&mut t, &json!({"a": {"b": "c"}}));
        assert_eq!(t, json!({"a": {"b": "c"}}));
        let mut t = json!({"e": null});
        apply(&mut t, &json!({"a": 1}));
        assert_eq!(t, json!({"e": null, "a": 1}));
    }
}
