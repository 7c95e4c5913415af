//! The allowed subset of jq: the functions an expression may call and the checker that rejects
//! everything else, naming the construct.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::ops::Math;
use jaq_core::path::Part;

use super::compile::known_functions;
use super::error::JqError;
use super::{MAX_AST_DEPTH, MAX_PATH_PARTS};

/// Functions an expression may call, with their arity. Everything here
/// terminates on finite input; see the module docs for the reasoning.
pub(super) const ALLOWED_FUNCTIONS: &[(&str, usize)] = &[
    // Select or narrow paths.
    ("empty", 0),
    ("error", 0),
    ("error", 1),
    ("select", 1),
    ("recurse", 0),
    ("first", 0),
    ("last", 0),
    ("first", 1),
    ("last", 1),
    ("limit", 2),
    ("nth", 1),
    ("getpath", 1),
    ("values", 0),
    ("nulls", 0),
    ("booleans", 0),
    ("numbers", 0),
    ("strings", 0),
    ("arrays", 0),
    ("objects", 0),
    ("iterables", 0),
    ("scalars", 0),
    // Compute values for conditions.
    ("not", 0),
    ("true", 0),
    ("false", 0),
    ("null", 0),
    ("length", 0),
    ("utf8bytelength", 0),
    ("keys", 0),
    ("keys_unsorted", 0),
    ("has", 1),
    ("in", 1),
    ("contains", 1),
    ("inside", 1),
    ("startswith", 1),
    ("endswith", 1),
    ("ltrimstr", 1),
    ("rtrimstr", 1),
    ("trim", 0),
    ("ltrim", 0),
    ("rtrim", 0),
    ("ascii_downcase", 0),
    ("ascii_upcase", 0),
    ("split", 1),
    ("type", 0),
    ("tostring", 0),
    ("tojson", 0),
    ("any", 0),
    ("any", 1),
    ("any", 2),
    ("all", 0),
    ("all", 1),
    ("all", 2),
    ("isempty", 1),
    ("to_entries", 0),
    ("map", 1),
];

/// Allowed functions whose outputs can be larger or deeper than their input
/// (`tojson` escapes, so repeating it grows a string exponentially).
pub(super) const VALUE_BUILDING_FUNCTIONS: &[&str] = &["tostring", "tojson", "to_entries", "map", "split"];

/// Definitions taken from jaq-std. Its full prelude refers to natives that
/// only exist with all of its optional features (regex, time, math, ...), and
/// jaq compiles every prelude definition, so we load just what the allowed
/// functions need.
pub(super) const STD_DEFS: &[(&str, usize)] = &[
    ("null", 0),
    ("isboolean", 0),
    ("isnumber", 0),
    ("isstring", 0),
    ("isarray", 0),
    ("isobject", 0),
    ("type", 0),
    ("values", 0),
    ("nulls", 0),
    ("booleans", 0),
    ("numbers", 0),
    ("strings", 0),
    ("arrays", 0),
    ("objects", 0),
    ("iterables", 0),
    ("scalars", 0),
    ("keys", 0),
    ("split", 1),
];

/// Definitions taken from jaq-json, for the same reason as [`STD_DEFS`].
pub(super) const JSON_DEFS: &[(&str, usize)] = &[("in", 1), ("inside", 1)];

/// jq builtins that jaq lacks or that we do not load; calling them is "not
/// allowed" rather than "undefined", which is the more helpful message.
pub(super) const OTHER_JQ_BUILTINS: &[&str] = &[
    "env",
    "input",
    "inputs",
    "input_filename",
    "input_line_number",
    "now",
    "debug",
    "stderr",
    "halt",
    "halt_error",
    "builtins",
    "ascii",
    "implode",
    "explode",
    "tostream",
    "fromstream",
    "truncate_stream",
    "setpath",
    "delpaths",
    "del",
    "with_entries",
    "from_entries",
    "walk",
    "paths",
    "leaf_paths",
    "path",
    "pick",
    "significand",
    "get_search_list",
];

/// Regular-expression builtins; rejected with a hint to use string functions.
pub(super) const REGEX_FUNCTIONS: &[&str] = &["test", "match", "capture", "scan", "splits", "sub", "gsub"];

/// Prefix keywords on which jaq's parser recurses (besides brackets).
pub(super) const NESTING_KEYWORDS: &[&str] = &["try", "catch", "if", "reduce", "foreach", "def", "label", "as"];

/// Walks a parsed expression and rejects what is outside the allowed subset
/// (see the module docs), naming the construct.
pub(super) struct Checker<'e> {
    pub(super) expr: &'e str,
}

impl Checker<'_> {
    pub(super) fn not_allowed(&self, construct: impl Into<String>) -> JqError {
        JqError::NotAllowed { expr: self.expr.to_owned(), construct: construct.into() }
    }

    pub(super) fn term(&self, term: &Term<&str>, depth: usize) -> Result<(), JqError> {
        if depth > MAX_AST_DEPTH {
            return Err(self.not_allowed(format!("the expression nests more than {MAX_AST_DEPTH} levels deep")));
        }
        let depth = depth + 1;
        match term {
            Term::Id | Term::Recurse | Term::Num(_) => Ok(()),
            Term::Str(format, parts) => {
                if let Some(format) = format {
                    return Err(self.not_allowed(format!("format string `{format}` is not allowed")));
                }
                self.str_parts(parts, depth)
            }
            Term::Arr(inner) => inner.iter().try_for_each(|t| self.term(t, depth)),
            Term::Obj(entries) => entries.iter().try_for_each(|(key, value)| {
                self.term(key, depth)?;
                value.iter().try_for_each(|v| self.term(v, depth))
            }),
            Term::Neg(inner) => self.term(inner, depth),
            Term::BinOp(left, op, right) => {
                self.op(op, depth)?;
                self.term(left, depth)?;
                self.term(right, depth)
            }
            Term::Label(..) => Err(self.not_allowed("`label` is not allowed in ignoreDifferences expressions")),
            Term::Break(..) => Err(self.not_allowed("`break` is not allowed in ignoreDifferences expressions")),
            Term::Fold(keyword, ..) => {
                Err(self.not_allowed(format!("`{keyword}` is not allowed in ignoreDifferences expressions")))
            }
            Term::TryCatch(body, catch) => {
                self.term(body, depth)?;
                catch.iter().try_for_each(|c| self.term(c, depth))
            }
            Term::IfThenElse(branches, otherwise) => {
                for (cond, then) in branches {
                    self.term(cond, depth)?;
                    self.term(then, depth)?;
                }
                otherwise.iter().try_for_each(|e| self.term(e, depth))
            }
            Term::Def(..) => Err(self.not_allowed("`def` is not allowed in ignoreDifferences expressions")),
            Term::Call(name, args) => {
                self.call(name, args.len())?;
                args.iter().try_for_each(|a| self.term(a, depth))
            }
            Term::Var(name) => self.var(name),
            Term::Path(head, path) => {
                if path.0.len() > MAX_PATH_PARTS {
                    return Err(self.not_allowed(format!("a path may have at most {MAX_PATH_PARTS} segments")));
                }
                self.term(head, depth)?;
                path.0.iter().try_for_each(|(part, _)| match part {
                    Part::Index(index) => self.term(index, depth),
                    Part::Range(from, to) => from.iter().chain(to.iter()).try_for_each(|t| self.term(t, depth)),
                })
            }
        }
    }

    pub(super) fn str_parts(&self, parts: &[StrPart<&str, Term<&str>>], depth: usize) -> Result<(), JqError> {
        parts.iter().try_for_each(|part| match part {
            StrPart::Term(t) => self.term(t, depth),
            StrPart::Str(_) | StrPart::Char(_) => Ok(()),
        })
    }

    pub(super) fn op(&self, op: &BinaryOp<&str>, depth: usize) -> Result<(), JqError> {
        let assignment = |symbol: &str| {
            Err(self.not_allowed(format!(
                "the assignment operator `{symbol}` is not allowed: the expression must only select \
                 paths (they are deleted for you)"
            )))
        };
        match op {
            BinaryOp::Pipe(None)
            | BinaryOp::Comma
            | BinaryOp::Alt
            | BinaryOp::Or
            | BinaryOp::And
            | BinaryOp::Cmp(_) => Ok(()),
            BinaryOp::Pipe(Some(pattern)) => self.pattern(pattern, depth),
            BinaryOp::Math(Math::Mul) => Err(self
                .not_allowed("the `*` operator is not allowed (multiplying a string builds arbitrarily large values)")),
            BinaryOp::Math(_) => Ok(()),
            BinaryOp::Assign => assignment("="),
            BinaryOp::Update => assignment("|="),
            BinaryOp::UpdateMath(math) => assignment(&format!("{}=", math.as_str())),
            BinaryOp::UpdateAlt => assignment("//="),
        }
    }

    pub(super) fn pattern(&self, pattern: &Pattern<&str>, depth: usize) -> Result<(), JqError> {
        if depth > MAX_AST_DEPTH {
            return Err(self.not_allowed(format!("the expression nests more than {MAX_AST_DEPTH} levels deep")));
        }
        match pattern {
            Pattern::Var(name) => self.var(name),
            Pattern::Arr(items) => items.iter().try_for_each(|p| self.pattern(p, depth + 1)),
            Pattern::Obj(entries) => entries.iter().try_for_each(|(key, value)| {
                self.term(key, depth + 1)?;
                self.pattern(value, depth + 1)
            }),
        }
    }

    pub(super) fn var(&self, name: &str) -> Result<(), JqError> {
        match name {
            "$ENV" => Err(self.not_allowed("`$ENV` is not allowed in ignoreDifferences expressions")),
            "$__loc__" => Err(self.not_allowed("`$__loc__` is not allowed in ignoreDifferences expressions")),
            // `$__h0`, ... are the printer's hoisted index variables.
            name if name.starts_with("$__") => {
                Err(self.not_allowed(format!("variable names starting with `$__` are reserved (`{name}`)")))
            }
            _ => Ok(()),
        }
    }

    pub(super) fn call(&self, name: &str, arity: usize) -> Result<(), JqError> {
        if ALLOWED_FUNCTIONS.contains(&(name, arity)) {
            return Ok(());
        }
        if name == "del" {
            return Err(self.not_allowed(
                "`del` is not allowed: write the path expression itself (e.g. `.metadata.labels.foo`); \
                 the paths it selects are deleted for you",
            ));
        }
        if REGEX_FUNCTIONS.contains(&name) || (name == "split" && arity == 2) {
            return Err(self.not_allowed(format!(
                "function `{name}/{arity}` is not allowed: regular expressions are not supported in \
                 ignoreDifferences expressions; use `startswith`, `endswith` or `contains`"
            )));
        }
        if known_functions().contains(&(name, arity)) || OTHER_JQ_BUILTINS.contains(&name) {
            return Err(self.not_allowed(format!("function `{name}/{arity}` is not allowed")));
        }
        Err(JqError::Compile { expr: self.expr.to_owned(), message: format!("undefined function `{name}/{arity}`") })
    }
}
