//! Small tree helpers for the rules. They treat `null` like an absent key because the server
//! drops the nulls of optional fields on decode, and they never touch a value whose JSON type is
//! not the one the rule expects.

use serde_json::{Value, json};

use super::Object;
/// Sets `key` when it is absent or null: the rule for optional (pointer) fields, where an
/// explicit zero such as `replicas: 0` is a value and stays.
pub(super) fn set_default(map: &mut Object, key: &str, value: Value) {
    if matches!(map.get(key), None | Some(Value::Null)) {
        map.insert(key.to_owned(), value);
    }
}

/// Sets `key` when it is absent, null, or the zero value of the default's own JSON type
/// (`""`, `0`, `[]`, `{}`): the rule for plain value fields, where Go cannot tell zero from
/// unset. A value of another type is left for validation to reject.
pub(super) fn set_default_if_empty(map: &mut Object, key: &str, value: Value) {
    let empty = match (map.get(key), &value) {
        (None | Some(Value::Null), _) => true,
        (Some(Value::String(s)), Value::String(_)) => s.is_empty(),
        (Some(Value::Number(n)), Value::Number(_)) => n.as_f64() == Some(0.0),
        (Some(Value::Array(a)), Value::Array(_)) => a.is_empty(),
        (Some(Value::Object(o)), Value::Object(_)) => o.is_empty(),
        _ => false,
    };
    if empty {
        map.insert(key.to_owned(), value);
    }
}

/// Sets `key` to a value the server forces, unless the field holds something that is not a
/// string (which the server would reject rather than overwrite).
pub(super) fn force_string(map: &mut Object, key: &str, value: &str) {
    if matches!(map.get(key), None | Some(Value::Null | Value::String(_))) {
        map.insert(key.to_owned(), json!(value));
    }
}

/// The object under `key`, if there is one.
pub(super) fn child<'a>(map: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    map.get_mut(key)?.as_object_mut()
}

/// The object under `key`, created empty when absent: for the non-pointer structs the server
/// always serializes (`resources: {}`) or creates before filling (`strategy`).
pub(super) fn child_or_insert<'a>(map: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    set_default(map, key, Value::Object(Object::new()));
    child(map, key)
}

/// The object reached by following `keys` through nested objects.
pub(super) fn path<'a>(map: &'a mut Object, keys: &[&str]) -> Option<&'a mut Object> {
    keys.iter().try_fold(map, |m, key| child(m, key))
}

/// The value reached by following `keys`, for reading a field another rule depends on.
pub(super) fn lookup<'a>(map: &'a Object, keys: &[&str]) -> Option<&'a Value> {
    let (last, parents) = keys.split_last()?;
    parents.iter().try_fold(map, |m, key| m.get(*key)?.as_object())?.get(*last)
}

/// The string under `key`, if it is one.
pub(super) fn str_at<'a>(map: &'a Object, key: &str) -> Option<&'a str> {
    map.get(key)?.as_str()
}

/// Whether `key` holds a value at all (the server's "pointer is not nil").
pub(super) fn is_set(map: &Object, key: &str) -> bool {
    !matches!(map.get(key), None | Some(Value::Null))
}

/// Runs `f` on every object in the list under `key`; other elements are left alone.
pub(super) fn each_object_in_list(map: &mut Object, key: &str, f: impl FnMut(&mut Object)) {
    if let Some(Value::Array(items)) = map.get_mut(key) {
        items.iter_mut().filter_map(Value::as_object_mut).for_each(f);
    }
}

/// The value if it is a non-empty object, cloned so it can be copied elsewhere in the tree.
pub(super) fn non_empty_object(value: Option<&Value>) -> Option<Object> {
    value?.as_object().filter(|o| !o.is_empty()).cloned()
}

/// Copies every entry of `from` missing in the map under `key`, creating that map only when
/// there is something to copy (an empty one would be dropped by `omitempty` anyway).
pub(super) fn fill_missing_entries(map: &mut Object, key: &str, from: &Object) {
    if from.is_empty() {
        return;
    }
    if let Some(target) = child_or_insert(map, key) {
        for (name, value) in from {
            target.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
}
