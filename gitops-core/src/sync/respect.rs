//! `RespectIgnoreDifferences=true`: before applying, the target takes the live values of the
//! fields ignoreDifferences ignored, so a sync does not overwrite what the diff was told to
//! ignore (without the option, ignoreDifferences only affects the diff, as in Argo CD).

use serde_json::Value;

use crate::ignore::parse_pointer;

/// Copies into `target` the live value at each pointer (or removes the field when live has
/// none). `/status` is never copied. Pointers that cannot be followed in `target` (a missing
/// parent list item) are left alone.
pub fn keep_ignored<'a>(target: &mut Value, live: &Value, pointers: impl IntoIterator<Item = &'a str>) {
    for pointer in pointers {
        if pointer == "/status" || pointer.starts_with("/status/") {
            continue;
        }
        let Some(tokens) = parse_pointer(pointer) else { continue };
        let Some((last, parents)) = tokens.split_last() else { continue };
        match live.pointer(pointer) {
            Some(v) => {
                if let Some(parent) = walk_creating(target, parents) {
                    set(parent, last, v.clone());
                }
            }
            None => {
                if let Some(parent) = walk(target, parents) {
                    remove(parent, last);
                }
            }
        }
    }
}

fn walk<'v>(mut v: &'v mut Value, tokens: &[String]) -> Option<&'v mut Value> {
    for t in tokens {
        v = match v {
            Value::Object(m) => m.get_mut(t)?,
            Value::Array(a) => a.get_mut(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Like `walk`, creating missing maps on the way (the live object has the field, the target
/// does not even have its parent).
fn walk_creating<'v>(mut v: &'v mut Value, tokens: &[String]) -> Option<&'v mut Value> {
    for t in tokens {
        v = match v {
            Value::Object(m) => m.entry(t.clone()).or_insert_with(|| Value::Object(Default::default())),
            Value::Array(a) => a.get_mut(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

fn set(parent: &mut Value, key: &str, v: Value) {
    match parent {
        Value::Object(m) => {
            m.insert(key.to_string(), v);
        }
        Value::Array(a) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                *slot = v;
            }
        }
        _ => {}
    }
}

fn remove(parent: &mut Value, key: &str) {
    match parent {
        Value::Object(m) => {
            m.remove(key);
        }
        Value::Array(a) => {
            if let Some(i) = key.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ignored_fields_take_live_values() {
        let mut target = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "a:1"}]}}}});
        let live = json!({
            "spec": {"replicas": 5, "template": {"spec": {"containers": [{"image": "a:2"}]}}, "extra": {"x": 1}},
            "status": {"ready": 1},
        });
        keep_ignored(
            &mut target,
            &live,
            ["/spec/replicas", "/spec/template/spec/containers/0/image", "/spec/extra/x", "/status", "/spec/gone"],
        );
        assert_eq!(
            target,
            json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"image": "a:2"}]}}, "extra": {"x": 1}}})
        );
        let mut target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        keep_ignored(&mut target, &json!({"metadata": {"labels": {"a": "1"}}}), ["/metadata/labels/b", "/bad~2"]);
        assert_eq!(target, json!({"metadata": {"labels": {"a": "1"}}}));
    }
}
