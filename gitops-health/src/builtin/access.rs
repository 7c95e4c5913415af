//! Typed reads of single fields straight from a `serde_json::Value`.
//!
//! Argo CD converts the whole object to a Go struct before it checks it. Doing the same here would mean a
//! typed deserialization (and a copy) per call, so the checks instead walk the `Value` in place and read
//! only the fields they decide on. What Go's conversion gives them is kept:
//! - a missing field, or a JSON `null`, reads as Go's zero value (`0`, `""`, `false`, an empty list);
//! - a field of the wrong JSON type is an error ([`ReadError`]) naming the field, which the caller turns
//!   into Unknown, as a failed conversion is in Argo CD;
//! - an integer may be written `3` or `3.0`.
//!
//! A check holds a [`Node`] per object it reads several fields of (`status`, a container status, ...), so each
//! map along a path is searched once. A node knows its parent only to name the field in an error: nothing
//! here allocates unless a read fails.

use std::fmt;

use serde_json::{Map, Number, Value};

/// The result of reading a field.
pub(super) type Read<T> = Result<T, ReadError>;

/// A field the check needs holds a value of the wrong JSON type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReadError {
    /// Where the field is, e.g. `status.conditions[1].type`.
    path: String,
    /// What the check needs there, e.g. "an integer".
    expected: &'static str,
    /// What was found there, e.g. "a string".
    found: &'static str,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "expected {}, got {}", self.expected, self.found)
    }
}

/// How an error message names the JSON type that was found.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// How a node was reached from its parent.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The object the check was given.
    Root,
    /// A field of the parent.
    Field(&'static str),
    /// An entry of a list field of the parent.
    Entry(&'static str, usize),
}

/// An object field the check reads fields of; absent (`None`) when the field is missing or `null`, in which
/// case every field reads as its zero value, as Go's conversion leaves a nil struct pointer's fields.
///
/// `'v` is the lifetime of the object, which the strings read borrow from; `'p` that of the parent node.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node<'v, 'p> {
    map: Option<&'v Map<String, Value>>,
    parent: Option<&'p Node<'v, 'p>>,
    step: Step,
}

impl<'v, 'p> Node<'v, 'p> {
    /// The whole object. Something that is not an object reads as an empty one.
    pub(super) fn root(obj: &'v Value) -> Node<'v, 'p> {
        Node { map: obj.as_object(), parent: None, step: Step::Root }
    }

    /// An error about this node's field `key` (or about this node itself, when `key` is `None`).
    fn error(&self, key: Option<&'static str>, expected: &'static str, found: &'static str) -> ReadError {
        let mut steps: Vec<Step> = key.map(Step::Field).into_iter().collect();
        let mut node = Some(self);
        while let Some(current) = node {
            steps.push(current.step);
            node = current.parent;
        }
        let mut path = String::new();
        for step in steps.iter().rev() {
            match *step {
                Step::Root => {}
                Step::Field(key) => push_key(&mut path, key),
                Step::Entry(key, index) => {
                    push_key(&mut path, key);
                    path.push('[');
                    path.push_str(&index.to_string());
                    path.push(']');
                }
            }
        }
        ReadError { path, expected, found }
    }

    /// The value of field `key`, `None` when it is missing or `null`.
    fn value(&self, key: &str) -> Option<&'v Value> {
        self.map?.get(key).filter(|value| !value.is_null())
    }

    /// Whether this object is there at all. Go models such fields as pointers, so an empty `{}` counts.
    pub(super) fn exists(&self) -> bool {
        self.map.is_some()
    }

    /// The object in field `key`, to read fields of.
    pub(super) fn child<'q>(&'q self, key: &'static str) -> Read<Node<'v, 'q>> {
        let map = match self.value(key) {
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => return Err(self.error(Some(key), "an object", type_name(other))),
        };
        Ok(Node { map, parent: Some(self), step: Step::Field(key) })
    }

    /// Whether object field `key` is set (to an object, even an empty one).
    pub(super) fn present(&self, key: &'static str) -> Read<bool> {
        Ok(self.child(key)?.exists())
    }

    /// An integer field, `None` when unset. Pointer fields such as `spec.replicas` need the difference.
    pub(super) fn int(&self, key: &'static str) -> Read<Option<i64>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Number(number)) => {
                integer(number).map(Some).map_err(|found| self.error(Some(key), "an integer", found))
            }
            Some(other) => Err(self.error(Some(key), "an integer", type_name(other))),
        }
    }

    /// An integer field, 0 when unset.
    pub(super) fn int_or_zero(&self, key: &'static str) -> Read<i64> {
        Ok(self.int(key)?.unwrap_or(0))
    }

    /// A string field, `None` when unset. Annotations need the difference: present-but-empty counts.
    pub(super) fn string_opt(&self, key: &'static str) -> Read<Option<&'v str>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.error(Some(key), "a string", type_name(other))),
        }
    }

    /// A string field, `""` when unset.
    pub(super) fn string(&self, key: &'static str) -> Read<&'v str> {
        Ok(self.string_opt(key)?.unwrap_or(""))
    }

    /// A boolean field, `false` when unset.
    pub(super) fn boolean(&self, key: &'static str) -> Read<bool> {
        match self.value(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.error(Some(key), "a boolean", type_name(other))),
        }
    }

    /// A list field, empty when unset.
    pub(super) fn list(&self, key: &'static str) -> Read<&'v [Value]> {
        match self.value(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.error(Some(key), "a list", type_name(other))),
        }
    }

    /// The entries of list field `key`, as objects to read fields of; an entry that is not an object (nor
    /// `null`) is an error when it is reached.
    pub(super) fn entries<'q>(
        &'q self,
        key: &'static str,
    ) -> Read<impl Iterator<Item = Read<Node<'v, 'q>>> + Clone + use<'v, 'q, 'p>> {
        let items = self.list(key)?;
        Ok(items.iter().enumerate().map(move |(index, item)| {
            let node = Node { map: None, parent: Some(self), step: Step::Entry(key, index) };
            match item {
                Value::Null => Ok(node),
                Value::Object(map) => Ok(Node { map: Some(map), ..node }),
                other => Err(node.error(None, "an object", type_name(other))),
            }
        }))
    }
}

/// Appends one key to a dotted path; keys that hold dots or slashes (annotation names) are bracketed so the
/// path stays readable.
fn push_key(path: &mut String, key: &str) {
    if key.contains(['.', '/', '[', ']']) {
        path.push_str("[\"");
        path.push_str(key);
        path.push_str("\"]");
    } else {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    }
}

/// A JSON number as an integer. YAML and some clients write whole numbers as `3.0`, which Go's conversion
/// accepts, so a float without a fraction counts; one with a fraction, or beyond `i64`, does not.
fn integer(number: &Number) -> Result<i64, &'static str> {
    if let Some(i) = number.as_i64() {
        return Ok(i);
    }
    if number.is_u64() {
        return Err("an integer out of range");
    }
    // 2^63 is exactly representable, so the range test is exact; `as` cannot wrap inside it.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match number.as_f64() {
        Some(f) if f.fract() != 0.0 && f.is_finite() => Err("a fractional number"),
        Some(f) if (-LIMIT..LIMIT).contains(&f) => Ok(f as i64),
        _ => Err("a number out of range"),
    }
}

/// One entry of a `status.conditions` list. Its `type` is read for every entry, to pick one; its other
/// fields are read when a check asks for them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Condition<'v, 'q> {
    /// `type`.
    pub(super) kind: &'v str,
    node: Node<'v, 'q>,
}

impl<'v> Condition<'v, '_> {
    /// `status`: "True", "False" or "Unknown".
    pub(super) fn status(&self) -> Read<&'v str> {
        self.node.string("status")
    }

    /// `reason`.
    pub(super) fn reason(&self) -> Read<&'v str> {
        self.node.string("reason")
    }

    /// `message`.
    pub(super) fn message(&self) -> Read<&'v str> {
        self.node.string("message")
    }
}

/// The conditions in `status`, each read (its type) as it is reached.
///
/// Checks go through them all even once one has decided, so that a malformed entry anywhere fails the
/// check, as it fails Go's conversion of the whole object.
pub(super) fn conditions<'v, 'q>(
    status: &'q Node<'v, '_>,
) -> Read<impl Iterator<Item = Read<Condition<'v, 'q>>> + Clone + use<'v, 'q>> {
    Ok(status.entries("conditions")?.map(|entry| {
        let node = entry?;
        Ok(Condition { kind: node.string("type")?, node })
    }))
}

/// The first condition in `status` of the given type, as Kubernetes' own `Get...Condition` helpers pick it
/// (the type of every condition is read).
pub(super) fn first_condition<'v, 'q>(status: &'q Node<'v, '_>, kind: &str) -> Read<Option<Condition<'v, 'q>>> {
    let mut found = None;
    for condition in conditions(status)? {
        let condition = condition?;
        if found.is_none() && condition.kind == kind {
            found = Some(condition);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message<T: fmt::Debug>(read: Read<T>) -> String {
        read.unwrap_err().to_string()
    }

    #[test]
    fn missing_and_null_read_as_zero_values() {
        let v = json!({"spec": {"replicas": null, "paused": null, "strategy": null}, "status": null});
        let root = Node::root(&v);
        let spec = root.child("spec").unwrap();
        let status = root.child("status").unwrap();
        assert!(spec.exists());
        assert!(!status.exists());
        assert_eq!(spec.int("replicas"), Ok(None));
        assert_eq!(status.int_or_zero("replicas"), Ok(0));
        assert_eq!(status.string("phase"), Ok(""));
        assert_eq!(spec.boolean("paused"), Ok(false));
        assert_eq!(status.list("conditions").map(<[Value]>::len), Ok(0));
        assert_eq!(spec.present("strategy"), Ok(false));
        assert_eq!(root.child("metadata").unwrap().child("annotations").unwrap().string_opt("a/b"), Ok(None));
    }

    #[test]
    fn whole_floats_are_integers() {
        let v = json!({"a": 3.0, "b": -2.0, "c": 0.0, "d": 3});
        let root = Node::root(&v);
        assert_eq!(root.int("a"), Ok(Some(3)));
        assert_eq!(root.int("b"), Ok(Some(-2)));
        assert_eq!(root.int("c"), Ok(Some(0)));
        assert_eq!(root.int("d"), Ok(Some(3)));
    }

    #[test]
    fn fractions_and_huge_numbers_are_errors_not_panics() {
        let v = json!({"a": 2.5, "b": 1e300, "c": u64::MAX, "d": i64::MIN, "e": -1e19, "f": 9.223_372_036_854_776e18});
        let root = Node::root(&v);
        assert_eq!(message(root.int("a")), "a: expected an integer, got a fractional number");
        assert_eq!(message(root.int("b")), "b: expected an integer, got a number out of range");
        assert_eq!(message(root.int("c")), "c: expected an integer, got an integer out of range");
        assert_eq!(root.int("d"), Ok(Some(i64::MIN)));
        assert!(root.int("e").is_err());
        // 2^63, the nearest double to i64::MAX, does not fit.
        assert!(root.int("f").is_err());
    }

    #[test]
    fn wrong_types_name_the_field() {
        let v = json!({"spec": {"replicas": "3", "paused": "true", "strategy": "x"}, "status": {"conditions": {}}});
        let root = Node::root(&v);
        let spec = root.child("spec").unwrap();
        assert_eq!(message(spec.int("replicas")), "spec.replicas: expected an integer, got a string");
        assert_eq!(message(spec.boolean("paused")), "spec.paused: expected a boolean, got a string");
        assert_eq!(message(spec.child("strategy")), "spec.strategy: expected an object, got a string");
        assert_eq!(message(spec.present("replicas")), "spec.replicas: expected an object, got a string");
        assert_eq!(message(root.string("spec")), "spec: expected a string, got an object");
        let status = root.child("status").unwrap();
        assert_eq!(message(status.list("conditions")), "status.conditions: expected a list, got an object");
    }

    #[test]
    fn annotation_keys_are_bracketed() {
        let v = json!({"metadata": {"annotations": {"helm.sh/hook": 1}}});
        let root = Node::root(&v);
        let metadata = root.child("metadata").unwrap();
        let annotations = metadata.child("annotations").unwrap();
        assert_eq!(
            message(annotations.string_opt("helm.sh/hook")),
            "metadata.annotations[\"helm.sh/hook\"]: expected a string, got a number"
        );
    }

    #[test]
    fn entries_report_their_index_and_every_entry_is_read() {
        let v = json!({"status": {"conditions": [{"type": "A"}, {"type": 7}]}});
        let root = Node::root(&v);
        let status = root.child("status").unwrap();
        assert_eq!(
            message(first_condition(&status, "A")),
            "status.conditions[1].type: expected a string, got a number"
        );

        let v = json!({"status": {"conditions": ["x"]}});
        let root = Node::root(&v);
        let status = root.child("status").unwrap();
        assert_eq!(message(first_condition(&status, "A")), "status.conditions[0]: expected an object, got a string");

        let v = json!({"status": {"conditions": [null, {"type": "A", "status": "True"}, {"type": "A", "status": 1}]}});
        let root = Node::root(&v);
        let status = root.child("status").unwrap();
        let kinds: Vec<_> = conditions(&status).unwrap().map(|c| c.unwrap().kind).collect();
        assert_eq!(kinds, ["", "A", "A"]);
        let first = first_condition(&status, "A").unwrap().unwrap();
        assert_eq!((first.status(), first.reason(), first.message()), (Ok("True"), Ok(""), Ok("")));
        // Only what is asked for is read: the third entry's bad status is not.
        assert!(first_condition(&status, "B").unwrap().is_none());
    }

    #[test]
    fn nested_entries_name_the_whole_path() {
        let v = json!({"status": {"containerStatuses": [{}, {"state": {"terminated": {"exitCode": "1"}}}]}});
        let root = Node::root(&v);
        let status = root.child("status").unwrap();
        let errors: Vec<String> = status
            .entries("containerStatuses")
            .unwrap()
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let state = entry.child("state").ok()?;
                let terminated = state.child("terminated").ok()?;
                terminated.int("exitCode").err().map(|e| e.to_string())
            })
            .collect();
        assert_eq!(
            errors,
            ["status.containerStatuses[1].state.terminated.exitCode: expected an integer, got a string"]
        );
    }

    #[test]
    fn a_non_object_root_reads_as_empty() {
        for v in [json!("text"), json!(null), json!([1])] {
            let root = Node::root(&v);
            assert!(!root.exists());
            assert_eq!(root.string("kind"), Ok(""));
        }
    }
}
