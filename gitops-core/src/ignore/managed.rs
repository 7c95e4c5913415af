//! `managedFieldsManagers`: trust the values of fields that named managers own in live.
//!
//! Live `metadata.managedFields[].fieldsV1` is a trie of the fields each manager set: `f:x`
//! for a map field, `k:{"name":"c"}` for the element of a keyed list whose key fields have
//! these values, `v:<json>` for an element of a set list, `i:<n>` for a position, and `.`
//! for the node itself. Where desired and live hold different values at a path one of the
//! trusted managers owns, desired takes live's value, so the field does not differ. Fields
//! added or removed are not affected, as in Argo CD.

use serde_json::{Map, Value};

use super::{IgnoredPath, PathToken, RuleSource, pointer_text};

/// Makes `desired` agree with `live` wherever the two differ on a field owned by one of
/// `managers`, recording each such path.
pub(crate) fn trust_managers(
    desired: &mut Value,
    live: &Value,
    entries: &[Value],
    managers: &[(&str, &RuleSource)],
    report: &mut Vec<IgnoredPath>,
) {
    for (manager, source) in managers {
        for entry in entries.iter().filter(|e| e.get("manager").and_then(Value::as_str) == Some(manager)) {
            let Some(fields) = entry.get("fieldsV1").and_then(Value::as_object) else { continue };
            let mut path = Vec::new();
            walk(desired, live, fields, &mut path, &mut |p| {
                report.push(IgnoredPath { path: pointer_text(p), rule: (*source).clone(), by: manager.to_string() })
            });
        }
    }
}

fn walk(
    desired: &mut Value,
    live: &Value,
    owned: &Map<String, Value>,
    path: &mut Vec<PathToken>,
    found: &mut dyn FnMut(&[PathToken]),
) {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            for (k, dv) in d.iter_mut() {
                let (Some(lv), Some(child)) = (l.get(k), owned.get(&format!("f:{k}")).and_then(Value::as_object))
                else {
                    continue;
                };
                path.push(PathToken::Key(k.clone()));
                visit(dv, lv, child, path, found);
                path.pop();
            }
        }
        (Value::Array(d), Value::Array(l)) => {
            for (key, child) in owned {
                let Some(child) = child.as_object() else { continue };
                if let Some(k) = key.strip_prefix("k:") {
                    let Ok(Value::Object(want)) = serde_json::from_str::<Value>(k) else { continue };
                    let matches = |e: &Value| want.iter().all(|(f, v)| e.get(f) == Some(v));
                    let (Some(di), Some(lv)) = (d.iter().position(matches), l.iter().find(|e| matches(e))) else {
                        continue;
                    };
                    path.push(PathToken::Index(di));
                    visit(&mut d[di], lv, child, path, found);
                    path.pop();
                } else if let Some(i) = key.strip_prefix("i:").and_then(|i| i.parse::<usize>().ok())
                    && let (Some(dv), Some(lv)) = (d.get_mut(i), l.get(i))
                {
                    path.push(PathToken::Index(i));
                    visit(dv, lv, child, path, found);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// At an owned node: a leaf (no owned children) is owned whole; otherwise descend.
fn visit(
    desired: &mut Value,
    live: &Value,
    owned: &Map<String, Value>,
    path: &mut Vec<PathToken>,
    found: &mut dyn FnMut(&[PathToken]),
) {
    if *desired == *live {
        return;
    }
    let has_children = owned.keys().any(|k| k != ".");
    let containers = (desired.is_object() && live.is_object()) || (desired.is_array() && live.is_array());
    if has_children && containers {
        walk(desired, live, owned, path, found);
    } else {
        *desired = live.clone();
        found(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owned_fields_take_live_values() {
        let live = json!({
            "metadata": {"managedFields": [
                {"manager": "hpa", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "other", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:image": {}}}}}}}}
            ]},
            "spec": {"replicas": 7, "template": {"spec": {"containers": [{"name": "app", "image": "x:2"}]}}}
        });
        let mut desired =
            json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "image": "x:1"}]}}}});
        let source = RuleSource::App { index: 0 };
        let mut report = Vec::new();
        let entries = live["metadata"]["managedFields"].as_array().unwrap().clone();
        trust_managers(&mut desired, &live, &entries, &[("hpa", &source)], &mut report);
        assert_eq!(desired["spec"]["replicas"], 7);
        assert_eq!(desired["spec"]["template"]["spec"]["containers"][0]["image"], "x:1");
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].path, "/spec/replicas");
        trust_managers(&mut desired, &live, &entries, &[("other", &source)], &mut report);
        assert_eq!(desired["spec"]["template"]["spec"]["containers"][0]["image"], "x:2");
        assert_eq!(report[1].path, "/spec/template/spec/containers/0/image");
    }
}
