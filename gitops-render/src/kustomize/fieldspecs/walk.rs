//! The walker that visits the values a field spec's path names inside an object.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::Error;
use super::parse::describe;

/// Calls `f` on every value at `path` inside `obj`, as kustomize's field spec filter does.
///
/// Lists met along the path are entered element by element (the path does not name them);
/// `\/` escapes a slash inside a key, one leading `/` is ignored, and a `[]` suffix marks a
/// field as a list: it is never created, and a `null` there becomes `[]`. With `create`,
/// missing or `null` maps along the way are created, and a missing last field is inserted as
/// `Value::Null` for `f` to fill. Without `create` missing fields are skipped, but an existing
/// `null` last field is still passed to `f` (kustomize's map setters leave it alone, its
/// scalar setters overwrite it). A scalar where the path has to go on is an error, as is an
/// empty field name, exactly where kustomize errors.
pub(crate) fn visit(
    obj: &mut Value,
    path: &str,
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), Error>,
) -> Result<(), Error> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    Walker { path, create, f }.node(obj, Some(rest))
}

pub(super) struct Walker<'p, 'f> {
    pub(super) path: &'p str,
    pub(super) create: bool,
    pub(super) f: &'f mut dyn FnMut(&mut Value) -> Result<(), Error>,
}

impl Walker<'_, '_> {
    /// `rest` is the path still to follow; `None` once it is used up.
    pub(super) fn node(&mut self, node: &mut Value, rest: Option<&str>) -> Result<(), Error> {
        let Some(rest) = rest else { return (self.f)(node) };
        match node {
            Value::Null => Ok(()),
            Value::Array(items) => items.iter_mut().try_for_each(|item| self.node(item, Some(rest))),
            Value::Object(map) => self.field(map, rest),
            other => Err(self.not_traversable(rest, other)),
        }
    }

    pub(super) fn field(&mut self, map: &mut Map<String, Value>, rest: &str) -> Result<(), Error> {
        let (segment, next) = next_segment(rest);
        let (name, is_list) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (&*segment, false),
        };
        if name.is_empty() {
            return Err(Error::EmptyField { path: self.path.to_string() });
        }
        let creating = self.create && !is_list;
        if !map.contains_key(name) {
            if !creating {
                return Ok(());
            }
            let slot = if next.is_some() { Value::Object(Map::new()) } else { Value::Null };
            map.insert(name.to_string(), slot);
        }
        let Some(child) = map.get_mut(name) else { return Ok(()) };
        if child.is_null() {
            if is_list {
                *child = Value::Array(Vec::new());
            } else if creating && next.is_some() {
                *child = Value::Object(Map::new());
            }
        }
        self.node(child, next)
    }

    pub(super) fn not_traversable(&self, rest: &str, found: &Value) -> Error {
        let done = self.path.len().saturating_sub(rest.len());
        let at = self.path.get(..done).unwrap_or(self.path).trim_end_matches('/');
        Error::NotTraversable { path: self.path.to_string(), at: at.to_string(), found: describe(found) }
    }
}

/// The first segment of `rest` and what follows it, as kustomize's `PathSplitter` splits:
/// a piece ending in `\` is joined to the next with a `/` (the `\` dropped).
pub(super) fn next_segment(rest: &str) -> (Cow<'_, str>, Option<&str>) {
    let Some((head, mut tail)) = rest.split_once('/') else { return (Cow::Borrowed(rest), None) };
    let Some(escaped) = head.strip_suffix('\\') else { return (Cow::Borrowed(head), Some(tail)) };
    let mut segment = String::from(escaped);
    loop {
        segment.push('/');
        let Some((piece, after)) = tail.split_once('/') else {
            segment.push_str(tail);
            return (Cow::Owned(segment), None);
        };
        match piece.strip_suffix('\\') {
            Some(escaped) => {
                segment.push_str(escaped);
                tail = after;
            }
            None => {
                segment.push_str(piece);
                return (Cow::Owned(segment), Some(after));
            }
        }
    }
}
