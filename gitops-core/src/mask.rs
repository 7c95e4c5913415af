//! Secret values hidden in every output, comparisons kept.
//!
//! As Argo CD does for display: each key of a Secret's `data` gets masks made of `+`
//! characters, a distinct mask for each distinct value seen across the pair (in the order
//! predicted, live, then the last-applied configuration of each), so a reader still sees
//! whether two values are equal but never what they are. The `last-applied-configuration`
//! annotation is masked the same way, or replaced whole when it cannot be parsed (fail
//! closed).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::diff::LAST_APPLIED;

const BASE: usize = 8;
const STEP: usize = 4;

/// Masks the `data` of a Secret pair in place. Either side may be `Null` (absent).
pub fn mask_secret_pair(predicted: &mut Value, live: &mut Value) {
    let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut last_applied: [Option<Value>; 2] = [last_applied_of(predicted), last_applied_of(live)];
    for side in [&*predicted, &*live].into_iter().chain(last_applied.iter().flatten()) {
        if let Some(Value::Object(data)) = side.get("data") {
            for (k, v) in data {
                let values = seen.entry(k.clone()).or_default();
                if !values.contains(v) {
                    values.push(v.clone());
                }
            }
        }
    }
    let mask_of = |k: &str, v: &Value| -> Value {
        let i = seen.get(k).and_then(|vs| vs.iter().position(|x| x == v)).unwrap_or(0);
        Value::String("+".repeat(BASE + STEP * i))
    };
    let mask_data = |obj: &mut Value| {
        if let Some(Value::Object(data)) = obj.get_mut("data") {
            for (k, v) in data.iter_mut() {
                *v = mask_of(k, v);
            }
        }
    };
    for la in last_applied.iter_mut().flatten() {
        mask_data(la);
    }
    for (side, la) in [predicted, live].into_iter().zip(last_applied) {
        mask_data(side);
        if let Some(Value::Object(ann)) = side.pointer_mut("/metadata/annotations")
            && let Some(slot) = ann.get_mut(LAST_APPLIED)
        {
            *slot = Value::String(match la {
                Some(v) => serde_json::to_string(&v).unwrap_or_else(|_| "+".repeat(BASE)),
                None => "+".repeat(BASE),
            });
        }
    }
}

fn last_applied_of(obj: &Value) -> Option<Value> {
    let text = obj.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_keep_equal_masks() {
        let mut predicted = json!({"data": {"a": "MQ==", "b": "Mg==", "c": "Mw=="}});
        let mut live = json!({"metadata": {"annotations": {LAST_APPLIED: "{\"data\":{\"a\":\"MQ==\"}}"}},
            "data": {"a": "MQ==", "b": "OTk=", "c": "Mw=="}});
        mask_secret_pair(&mut predicted, &mut live);
        assert_eq!(predicted["data"], json!({"a": "++++++++", "b": "++++++++", "c": "++++++++"}));
        assert_eq!(live["data"], json!({"a": "++++++++", "b": "++++++++++++", "c": "++++++++"}));
        assert_eq!(live["metadata"]["annotations"][LAST_APPLIED], "{\"data\":{\"a\":\"++++++++\"}}");
        let text = serde_json::to_string(&(predicted, live)).unwrap();
        assert!(!text.contains("MQ==") && !text.contains("OTk="));
    }

    #[test]
    fn unparsable_last_applied_is_replaced() {
        let mut predicted = Value::Null;
        let mut live = json!({"metadata": {"annotations": {LAST_APPLIED: "{not json"}}, "data": {"a": "MQ=="}});
        mask_secret_pair(&mut predicted, &mut live);
        assert_eq!(live["metadata"]["annotations"][LAST_APPLIED], "++++++++");
    }
}
