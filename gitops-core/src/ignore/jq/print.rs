//! Re-printing the checked term with deadline ticks: the text jaq compiles is the user's
//! expression with `__t(...)` around every sub-term whose cost is not constant.

use std::fmt::Write as _;

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::path::{Opt, Part, Path};

use super::allow::VALUE_BUILDING_FUNCTIONS;

/// Renders a checked term back to jq text, adding `__t(...)` around
/// sub-terms whose cost is not constant and `__nn` before iterations.
/// Every emitted sub-term is self-delimited (`(...)` or `__t(...)`), so the
/// output never depends on operator precedence.
#[derive(Default)]
pub(super) struct Printer {
    pub(super) out: String,
    pub(super) hoisted: usize,
}

impl Printer {
    pub(super) fn atom(&mut self, term: &Term<&str>) {
        self.out.push_str(if is_cheap(term) { "(" } else { "__t(" });
        if builds_value(term) {
            self.out.push_str("__sz(");
            self.body(term);
            self.out.push(')');
        } else {
            self.body(term);
        }
        self.out.push(')');
    }

    pub(super) fn body(&mut self, term: &Term<&str>) {
        match term {
            Term::Id => self.out.push('.'),
            Term::Recurse => self.out.push_str(".."),
            Term::Num(n) => self.out.push_str(n),
            Term::Str(_, parts) => self.string(parts),
            Term::Arr(None) => self.out.push_str("[]"),
            Term::Arr(Some(inner)) => {
                self.out.push('[');
                self.atom(inner);
                self.out.push(']');
            }
            Term::Obj(entries) => {
                self.out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    match (key, value) {
                        (key, Some(value)) => {
                            self.out.push('(');
                            self.atom(key);
                            self.out.push_str("): ");
                            self.atom(value);
                        }
                        // Shorthands `{$x}`, `{a}`, `{"a b"}`.
                        (Term::Var(name), None) => self.out.push_str(name),
                        (Term::Str(None, parts), None) => self.string(parts),
                        (key, None) => self.atom(key),
                    }
                }
                self.out.push('}');
            }
            Term::Neg(inner) => {
                self.out.push('-');
                self.atom(inner);
            }
            Term::BinOp(left, BinaryOp::Pipe(Some(pattern)), right) => {
                self.atom(left);
                self.out.push_str(" as ");
                self.pattern(pattern);
                self.out.push_str(" | ");
                self.atom(right);
            }
            Term::BinOp(left, op, right) => {
                self.atom(left);
                self.out.push(' ');
                self.out.push_str(op_symbol(op));
                self.out.push(' ');
                self.atom(right);
            }
            Term::TryCatch(body, catch) => {
                self.out.push_str("try ");
                self.atom(body);
                if let Some(catch) = catch {
                    self.out.push_str(" catch ");
                    self.atom(catch);
                }
            }
            Term::IfThenElse(branches, otherwise) => {
                for (i, (cond, then)) in branches.iter().enumerate() {
                    self.out.push_str(if i == 0 { "if " } else { " elif " });
                    self.atom(cond);
                    self.out.push_str(" then ");
                    self.atom(then);
                }
                if let Some(otherwise) = otherwise {
                    self.out.push_str(" else ");
                    self.atom(otherwise);
                }
                self.out.push_str(" end");
            }
            Term::Call(name, args) => {
                self.out.push_str(name);
                for (i, arg) in args.iter().enumerate() {
                    self.out.push_str(if i == 0 { "(" } else { "; " });
                    self.atom(arg);
                }
                if !args.is_empty() {
                    self.out.push(')');
                }
            }
            Term::Var(name) => self.out.push_str(name),
            Term::Path(head, path) => self.path(head, path),
            // Rejected by the checker; an undefined name turns a printer bug
            // into a compile error instead of a silently different program.
            Term::Label(..) | Term::Break(..) | Term::Fold(..) | Term::Def(..) => self.out.push_str("__unsupported"),
        }
    }

    /// Prints `head[i]...` as a pipeline that inserts `__nn` before every
    /// essential iteration or slice, so a missing (`null`) array yields no
    /// paths instead of "cannot iterate over null". Splitting `f[g]` into
    /// `f | .[g]` would evaluate `g` on the wrong input, so index terms that
    /// read the input are first bound to variables (`(g) as $__h0 | ...`).
    pub(super) fn path(&mut self, head: &Term<&str>, path: &Path<Term<&str>>) {
        let index_text = |printer: &mut Self, index: &Term<&str>| -> String {
            if let Some(text) = constant_text(index) {
                return text;
            }
            let var = format!("$__h{}", printer.hoisted);
            printer.hoisted += 1;
            printer.atom(index);
            printer.out.push_str(" as ");
            printer.out.push_str(&var);
            printer.out.push_str(" | ");
            var
        };
        enum Text {
            Index(String),
            Range(Option<String>, Option<String>),
        }
        let mut parts = Vec::with_capacity(path.0.len());
        for (part, opt) in &path.0 {
            let text = match part {
                Part::Index(index) => Text::Index(index_text(self, index)),
                Part::Range(from, to) => {
                    let from = from.as_ref().map(|t| index_text(self, t));
                    let to = to.as_ref().map(|t| index_text(self, t));
                    Text::Range(from, to)
                }
            };
            parts.push((text, matches!(opt, Opt::Optional)));
        }
        // No parentheses of our own: `atom` already delimits this body.
        if matches!(head, Term::Id) {
            self.out.push('.');
        } else {
            self.atom(head);
        }
        for (text, optional) in parts {
            match text {
                Text::Index(index) => {
                    self.out.push('[');
                    self.out.push_str(&index);
                }
                Text::Range(from, to) => {
                    if !optional {
                        self.out.push_str(" | __nn | .");
                    }
                    self.out.push('[');
                    if from.is_some() || to.is_some() {
                        self.out.push_str(from.as_deref().unwrap_or(""));
                        self.out.push(':');
                        self.out.push_str(to.as_deref().unwrap_or(""));
                    }
                }
            }
            self.out.push(']');
            if optional {
                self.out.push('?');
            }
        }
    }

    pub(super) fn string(&mut self, parts: &[StrPart<&str, Term<&str>>]) {
        self.out.push('"');
        for part in parts {
            match part {
                // The lexer guarantees these contain neither `\` nor `"`.
                StrPart::Str(text) => self.out.push_str(text),
                StrPart::Char(c) => push_escaped(&mut self.out, *c),
                StrPart::Term(term) => {
                    self.out.push_str("\\(");
                    self.atom(term);
                    self.out.push(')');
                }
            }
        }
        self.out.push('"');
    }

    pub(super) fn pattern(&mut self, pattern: &Pattern<&str>) {
        match pattern {
            Pattern::Var(name) => self.out.push_str(name),
            Pattern::Arr(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.pattern(item);
                }
                self.out.push(']');
            }
            Pattern::Obj(entries) => {
                self.out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.out.push('(');
                    self.atom(key);
                    self.out.push_str("): ");
                    self.pattern(value);
                }
                self.out.push('}');
            }
        }
    }
}

/// True if `term` can build a value larger or deeper than its inputs, so its
/// outputs need a size check (see [`size_native`]).
pub(super) fn builds_value(term: &Term<&str>) -> bool {
    match term {
        Term::Arr(Some(_)) | Term::Obj(_) | Term::BinOp(_, BinaryOp::Math(_), _) => true,
        Term::Str(_, parts) => parts.iter().any(|p| matches!(p, StrPart::Term(_))),
        Term::Call(name, _) => VALUE_BUILDING_FUNCTIONS.contains(name),
        _ => false,
    }
}

/// True if evaluating `term` costs constant work and yields at most one
/// value, so it needs no deadline tick of its own.
pub(super) fn is_cheap(term: &Term<&str>) -> bool {
    match term {
        Term::Id | Term::Num(_) | Term::Var(_) => true,
        Term::Str(None, parts) => parts.iter().all(|p| !matches!(p, StrPart::Term(_))),
        Term::Neg(inner) => is_cheap(inner),
        Term::BinOp(left, op, right) => {
            matches!(op, BinaryOp::Cmp(_) | BinaryOp::Math(_) | BinaryOp::And | BinaryOp::Or | BinaryOp::Alt)
                && is_cheap(left)
                && is_cheap(right)
        }
        Term::Path(head, path) => {
            is_cheap(head)
                && path.0.iter().all(|(part, _)| matches!(part, Part::Index(i) if constant_text(i).is_some()))
        }
        _ => false,
    }
}

/// The text of an index term that does not read its input, if it is one.
pub(super) fn constant_text(term: &Term<&str>) -> Option<String> {
    match term {
        Term::Num(n) => Some((*n).to_owned()),
        Term::Var(name) => Some((*name).to_owned()),
        Term::Neg(inner) => match inner.as_ref() {
            Term::Num(n) => Some(format!("-{n}")),
            _ => None,
        },
        Term::Str(None, parts) if parts.iter().all(|p| !matches!(p, StrPart::Term(_))) => {
            let mut printer = Printer::default();
            printer.string(parts);
            Some(printer.out)
        }
        _ => None,
    }
}

pub(super) fn op_symbol(op: &BinaryOp<&str>) -> &'static str {
    match op {
        BinaryOp::Pipe(_) => "|",
        BinaryOp::Comma => ",",
        BinaryOp::Alt => "//",
        BinaryOp::Or => "or",
        BinaryOp::And => "and",
        BinaryOp::Math(math) => math.as_str(),
        BinaryOp::Cmp(cmp) => cmp.as_str(),
        // Rejected by the checker; `=` keeps the printed program invalid in
        // path mode rather than silently different.
        BinaryOp::Assign | BinaryOp::Update | BinaryOp::UpdateMath(_) | BinaryOp::UpdateAlt => "=",
    }
}

pub(super) fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if u32::from(c) < 0x20 => {
            // Writing to a `String` cannot fail.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        c => out.push(c),
    }
}
