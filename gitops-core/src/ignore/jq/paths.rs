//! Path extraction: the paths jaq reports, resolved against the input so that only paths to
//! elements that exist come back, as [`PathToken`]s.

use jaq_json::{Num, Val};
use serde_json::Value;

use super::PathToken;

/// One element of a path as jaq reports it.
#[derive(Debug)]
pub(super) enum Elem<'v> {
    Key(&'v str),
    Index(isize),
    /// `{"start": s, "end": e}`, jaq's path element for `.[s:e]`.
    Slice(Option<isize>, Option<isize>),
    /// An element that cannot exist in a serde_json value (e.g. an index
    /// beyond `isize`); the path is dropped.
    Absent,
}

/// The elements of a path `path()` produced; `None` when one is not a key, an integer
/// index or a slice (the caller reports that without the value).
pub(super) fn path_elems(path: &Val) -> Option<Vec<Elem<'_>>> {
    let Val::Arr(items) = path else {
        return None;
    };
    items.iter().map(elem).collect()
}

pub(super) fn elem(v: &Val) -> Option<Elem<'_>> {
    match v {
        Val::TStr(bytes) | Val::BStr(bytes) => Some(match std::str::from_utf8(bytes) {
            Ok(key) => Elem::Key(key),
            Err(_) => Elem::Absent,
        }),
        Val::Num(n) => match int_of(n) {
            Int::Fits(i) => Some(Elem::Index(i)),
            Int::Below | Int::Above => Some(Elem::Absent),
            Int::Fraction => None,
        },
        Val::Obj(bounds) => {
            let (mut start, mut end) = (None, None);
            for (key, bound) in bounds.iter() {
                let bound = match bound {
                    Val::Null => None,
                    Val::Num(n) => match int_of(n) {
                        Int::Fits(i) => Some(i),
                        // Slicing clamps out-of-range bounds anyway.
                        Int::Below => Some(isize::MIN),
                        Int::Above => Some(isize::MAX),
                        Int::Fraction => return None,
                    },
                    _ => return None,
                };
                match key {
                    Val::TStr(k) if &k[..] == b"start" => start = bound,
                    Val::TStr(k) if &k[..] == b"end" => end = bound,
                    _ => return None,
                }
            }
            Some(Elem::Slice(start, end))
        }
        _ => None,
    }
}

/// A number used as a path index or slice bound.
pub(super) enum Int {
    Fits(isize),
    /// An integer (or infinity) below `isize::MIN`.
    Below,
    /// An integer (or infinity) above `isize::MAX`.
    Above,
    /// A fraction or NaN.
    Fraction,
}

pub(super) fn int_of(n: &Num) -> Int {
    let float = match n {
        Num::Int(i) => return Int::Fits(*i),
        Num::BigInt(_) => {
            return match n.as_isize() {
                Some(i) => Int::Fits(i),
                None if *n < Num::Int(0) => Int::Below,
                None => Int::Above,
            };
        }
        Num::Float(f) => *f,
        Num::Dec(text) => text.parse::<f64>().unwrap_or(f64::NAN),
    };
    // `isize::MIN` is a power of two, so it and its negation are exact.
    let min = isize::MIN as f64;
    if float.is_nan() || (float.is_finite() && float.fract() != 0.0) {
        Int::Fraction
    } else if float < min {
        Int::Below
    } else if float >= -min {
        Int::Above
    } else {
        // In range and integral, so the conversion is exact.
        Int::Fits(float as isize)
    }
}

/// Resolves jaq path elements against the input, appending every existing
/// location to `found`. `view` is the `[lo, hi)` window of a pending slice of
/// the current array. Absent locations are skipped silently.
pub(super) fn resolve(
    current: &Value,
    view: Option<(usize, usize)>,
    rest: &[Elem<'_>],
    prefix: &mut Vec<PathToken>,
    found: &mut Vec<Vec<PathToken>>,
) {
    let Some((first, rest)) = rest.split_first() else {
        match view {
            Some((lo, hi)) => found.extend((lo..hi).map(|i| {
                let mut path = prefix.clone();
                path.push(PathToken::Index(i));
                path
            })),
            None => found.push(prefix.clone()),
        }
        return;
    };
    match (first, current) {
        (Elem::Key(key), Value::Object(members)) if view.is_none() => {
            if let Some(child) = members.get(*key) {
                prefix.push(PathToken::Key((*key).to_owned()));
                resolve(child, None, rest, prefix, found);
                prefix.pop();
            }
        }
        (Elem::Index(index), Value::Array(items)) => {
            let (lo, hi) = view.unwrap_or((0, items.len()));
            let len = hi - lo;
            let offset = if *index < 0 { len.checked_sub(index.unsigned_abs()) } else { Some(index.unsigned_abs()) };
            if let Some(i) = offset.filter(|i| *i < len).map(|i| lo + i)
                && let Some(child) = items.get(i)
            {
                prefix.push(PathToken::Index(i));
                resolve(child, None, rest, prefix, found);
                prefix.pop();
            }
        }
        (Elem::Slice(start, end), Value::Array(items)) => {
            let (lo, hi) = view.unwrap_or((0, items.len()));
            let len = hi - lo;
            let clamp = |bound: Option<isize>, default: usize| match bound {
                None => default,
                Some(b) if b < 0 => len.saturating_sub(b.unsigned_abs()),
                Some(b) => b.unsigned_abs().min(len),
            };
            let from = clamp(*start, 0);
            let to = clamp(*end, len).max(from);
            resolve(current, Some((lo + from, lo + to)), rest, prefix, found);
        }
        // Keys of arrays, indices of objects, anything below a scalar,
        // absent elements and slices of strings: nothing there to delete.
        _ => {}
    }
}
