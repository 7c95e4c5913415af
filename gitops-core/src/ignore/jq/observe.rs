//! What an expression can observe of its input, and the conversion of only those parts of a
//! serde_json value to jaq values.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::path::Part;
use jaq_json::{Map, Num, Rc, Val};
use serde_json::Value;

use super::MAX_INPUT_DEPTH;

/// Converts serde_json values to jaq values by hand: jaq-json only offers
/// `Deserialize`, which recurses without a depth bound. Counts the values it
/// creates, which sets the size limit for values the expression builds.
#[derive(Default)]
pub(super) struct Converter {
    pub(super) values: usize,
}

impl Converter {
    /// `None` if the value nests too deeply.
    pub(super) fn whole(&mut self, value: &Value, depth: usize) -> Option<Val> {
        self.values += 1;
        Some(match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(if let Some(i) = n.as_i64() {
                Num::from_integral(i)
            } else if let Some(u) = n.as_u64() {
                Num::from_integral(u)
            } else {
                Num::Float(n.as_f64().unwrap_or(f64::NAN))
            }),
            Value::String(s) => Val::from(s.clone()),
            Value::Array(items) => {
                if depth >= MAX_INPUT_DEPTH {
                    return None;
                }
                let items: Option<Vec<Val>> = items.iter().map(|v| self.whole(v, depth + 1)).collect();
                Val::Arr(Rc::new(items?))
            }
            Value::Object(members) => {
                if depth >= MAX_INPUT_DEPTH {
                    return None;
                }
                let mut map = Map::with_capacity_and_hasher(members.len(), Default::default());
                for (k, v) in members {
                    map.insert(Val::from(k.clone()), self.whole(v, depth + 1)?);
                }
                Val::obj(map)
            }
        })
    }

    /// Converts only the observed parts of `value`, as described by `nodes`
    /// (several nodes apply below an `each` step that also has named keys).
    /// Unobserved containers become empty containers of the same type, so
    /// type checks and errors along the way behave as on the full input.
    pub(super) fn observed(&mut self, value: &Value, nodes: &[&KeyTrie], depth: usize) -> Option<Val> {
        if nodes.iter().any(|node| node.whole) {
            return self.whole(value, depth);
        }
        let each: Vec<&KeyTrie> = nodes.iter().filter_map(|node| node.each.as_deref()).collect();
        match value {
            Value::Object(members) => {
                if depth >= MAX_INPUT_DEPTH {
                    return None;
                }
                self.values += 1;
                let keys: Vec<&str> = if each.is_empty() {
                    let mut keys: Vec<&str> = Vec::new();
                    for (key, _) in nodes.iter().flat_map(|node| &node.keys) {
                        if members.contains_key(key) && !keys.contains(&key.as_str()) {
                            keys.push(key);
                        }
                    }
                    keys
                } else {
                    members.keys().map(String::as_str).collect()
                };
                let mut map = Map::with_capacity_and_hasher(keys.len(), Default::default());
                for key in keys {
                    let Some(member) = members.get(key) else {
                        continue;
                    };
                    let mut children = each.clone();
                    children.extend(nodes.iter().filter_map(|node| node.key(key)));
                    let member = self.observed(member, &children, depth + 1)?;
                    map.insert(Val::from(key.to_owned()), member);
                }
                Some(Val::obj(map))
            }
            Value::Array(items) => {
                if depth >= MAX_INPUT_DEPTH {
                    return None;
                }
                self.values += 1;
                let items: Option<Vec<Val>> = if each.is_empty() {
                    Some(Vec::new())
                } else {
                    items.iter().map(|item| self.observed(item, &each, depth + 1)).collect()
                };
                Some(Val::Arr(Rc::new(items?)))
            }
            scalar => self.whole(scalar, depth),
        }
    }
}

/// The parts of the input an expression can observe, as a trie over object
/// keys and "every element" steps. A `whole` node is observed completely;
/// other nodes only through their children and their type (and, with an
/// `each` child, all their keys or elements).
#[derive(Debug, Default)]
pub(super) struct KeyTrie {
    pub(super) whole: bool,
    pub(super) each: Option<Box<KeyTrie>>,
    pub(super) keys: Vec<(String, KeyTrie)>,
}

impl KeyTrie {
    pub(super) fn node_mut(&mut self, steps: &[Step]) -> &mut KeyTrie {
        let Some((first, rest)) = steps.split_first() else {
            return self;
        };
        let child = match first {
            Step::Each => self.each.get_or_insert_with(Box::default),
            Step::Key(key) => {
                let position = self.keys.iter().position(|(k, _)| k == key);
                let i = position.unwrap_or_else(|| {
                    self.keys.push((key.clone(), KeyTrie::default()));
                    self.keys.len() - 1
                });
                &mut self.keys[i].1
            }
        };
        child.node_mut(rest)
    }

    pub(super) fn key(&self, key: &str) -> Option<&KeyTrie> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, child)| child)
    }
}

/// One step of a location in the input.
#[derive(Debug, Clone)]
pub(super) enum Step {
    Key(String),
    /// Any element of an array or member of an object.
    Each,
}

/// Where the values a term works on live in the input: a list of
/// locations, or `None` for values computed by the expression (which can
/// only contain parts of the input that were recorded as `whole` already).
pub(super) type Locs = Option<Vec<Vec<Step>>>;

/// More locations than this are not tracked; their input is read whole.
pub(super) const MAX_TRACKED_LOCATIONS: usize = 64;

/// Computes which parts of the input an expression observes, so
/// [`JqPathExpr::paths`] can skip converting the rest; converting a whole
/// Deployment costs more than evaluating a typical rule. The analysis is
/// deliberately coarse: anything it does not model reads its input whole.
/// It relies on `path(...)` not observing the values at the paths it
/// returns, only the types along the way.
#[derive(Default)]
pub(super) struct Observed {
    pub(super) trie: KeyTrie,
}

impl Observed {
    pub(super) fn record(&mut self, locs: &Locs) {
        for loc in locs.iter().flatten() {
            self.trie.node_mut(loc);
        }
    }

    pub(super) fn whole(&mut self, locs: &Locs) {
        for loc in locs.iter().flatten() {
            self.trie.node_mut(loc).whole = true;
        }
    }

    /// A term whose output values are observed (compared, collected, bound).
    pub(super) fn value(&mut self, term: &Term<&str>, locs: &Locs) {
        let out = self.term(term, locs);
        self.whole(&out);
    }

    /// Records what `term` observes when run on the values at `locs`, and
    /// returns where its outputs live.
    pub(super) fn term(&mut self, term: &Term<&str>, locs: &Locs) -> Locs {
        match term {
            Term::Id => locs.clone(),
            Term::Num(_) | Term::Var(_) | Term::Arr(None) => None,
            Term::Str(_, parts) => {
                for part in parts {
                    if let StrPart::Term(t) = part {
                        self.value(t, locs);
                    }
                }
                None
            }
            Term::Arr(Some(inner)) | Term::Neg(inner) => {
                self.value(inner, locs);
                None
            }
            Term::Path(head, path) => {
                let head = self.term(head, locs);
                let mut steps = Vec::with_capacity(path.0.len());
                for (part, _) in &path.0 {
                    match part {
                        Part::Index(index) => match constant_key(index) {
                            Some(key) => steps.push(Step::Key(key)),
                            None => {
                                // Index terms run on the input of the path term.
                                self.value(index, locs);
                                steps.push(Step::Each);
                            }
                        },
                        Part::Range(from, to) => {
                            for bound in from.iter().chain(to.iter()) {
                                self.value(bound, locs);
                            }
                            steps.push(Step::Each);
                        }
                    }
                }
                let out = head.map(|heads| {
                    heads
                        .into_iter()
                        .map(|mut loc| {
                            loc.extend(steps.iter().cloned());
                            loc
                        })
                        .collect()
                });
                self.record(&out);
                out
            }
            Term::BinOp(left, op, right) => match op {
                BinaryOp::Pipe(None) => {
                    let middle = self.term(left, locs);
                    if middle.as_ref().is_some_and(|m| m.len() > MAX_TRACKED_LOCATIONS) {
                        // Everything below the pipe's input is then covered.
                        self.whole(locs);
                        return None;
                    }
                    self.term(right, &middle)
                }
                BinaryOp::Pipe(Some(pattern)) => {
                    self.value(left, locs);
                    self.pattern(pattern, locs);
                    self.term(right, locs)
                }
                BinaryOp::Comma => {
                    let left = self.term(left, locs);
                    let right = self.term(right, locs);
                    union(left, right)
                }
                BinaryOp::Alt => {
                    // Only truthy left outputs pass, so their values matter.
                    let left = self.term(left, locs);
                    self.whole(&left);
                    let right = self.term(right, locs);
                    union(left, right)
                }
                _ => {
                    self.value(left, locs);
                    self.value(right, locs);
                    None
                }
            },
            Term::TryCatch(body, None) => self.term(body, locs),
            Term::IfThenElse(branches, otherwise) => {
                let mut out = Some(Vec::new());
                for (cond, then) in branches {
                    self.value(cond, locs);
                    let then = self.term(then, locs);
                    out = union(out, then);
                }
                let otherwise = match otherwise {
                    Some(e) => self.term(e, locs),
                    None => locs.clone(),
                };
                union(out, otherwise)
            }
            Term::Call(name, args) => self.call(name, args, locs),
            // A `catch` handler sees error messages, which embed input
            // values; the rest is rejected by the checker anyway.
            Term::Recurse
            | Term::Obj(_)
            | Term::TryCatch(_, Some(_))
            | Term::Label(..)
            | Term::Break(..)
            | Term::Fold(..)
            | Term::Def(..) => {
                self.whole(locs);
                None
            }
        }
    }

    pub(super) fn call(&mut self, name: &str, args: &[Term<&str>], locs: &Locs) -> Locs {
        let each = |locs: &Locs| -> Locs {
            locs.as_ref().map(|locs| {
                locs.iter()
                    .map(|loc| {
                        let mut loc = loc.clone();
                        loc.push(Step::Each);
                        loc
                    })
                    .collect()
            })
        };
        match (name, args) {
            ("select", [cond]) => {
                self.value(cond, locs);
                locs.clone()
            }
            ("empty", []) => Some(Vec::new()),
            ("error", [message]) => {
                self.value(message, locs);
                Some(Vec::new())
            }
            ("first" | "last", [f]) => self.term(f, locs),
            ("limit", [n, f]) => {
                self.value(n, locs);
                self.term(f, locs)
            }
            ("first" | "last", []) => {
                let out = each(locs);
                self.record(&out);
                out
            }
            ("nth", [n]) => {
                self.value(n, locs);
                let out = each(locs);
                self.record(&out);
                out
            }
            _ => {
                // Anything else may look at all of its input (`error/0`
                // reports it, `..` walks it, `length` measures it, ...).
                self.whole(locs);
                for arg in args {
                    self.value(arg, locs);
                }
                None
            }
        }
    }

    pub(super) fn pattern(&mut self, pattern: &Pattern<&str>, locs: &Locs) {
        match pattern {
            Pattern::Var(_) => {}
            Pattern::Arr(items) => items.iter().for_each(|p| self.pattern(p, locs)),
            Pattern::Obj(entries) => {
                // Key expressions of destructuring patterns are rare; read
                // the input whole rather than model where they run.
                self.whole(locs);
                entries.iter().for_each(|(_, p)| self.pattern(p, locs));
            }
        }
    }
}

pub(super) fn union(left: Locs, right: Locs) -> Locs {
    let mut left = left?;
    left.extend(right?);
    Some(left)
}

/// The key of an index term that is a plain string literal.
pub(super) fn constant_key(term: &Term<&str>) -> Option<String> {
    let Term::Str(None, parts) = term else {
        return None;
    };
    let mut key = String::new();
    for part in parts {
        match part {
            StrPart::Str(text) => key.push_str(text),
            StrPart::Char(c) => key.push(*c),
            StrPart::Term(_) => return None,
        }
    }
    Some(key)
}
