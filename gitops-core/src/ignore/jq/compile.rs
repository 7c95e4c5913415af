//! Compiling a checked expression with jaq, and rendering jaq's lexer and parser errors.

use std::collections::HashSet;
use std::sync::OnceLock;

use jaq_core::Compiler;
use jaq_core::load::lex::{self};
use jaq_core::load::parse::{self};
use jaq_core::load::{Arena, File, Lexer, Loader, Parser};

use super::MAX_SOURCE_NESTING;
use super::allow::{Checker, JSON_DEFS, NESTING_KEYWORDS, STD_DEFS};
use super::error::JqError;
use super::eval::{PathData, size_native, tick_native};
use super::observe::{KeyTrie, Observed};
use super::print::Printer;

pub(super) fn compile_checked(expr: &str) -> Result<(jaq_core::Filter<PathData>, Option<KeyTrie>), JqError> {
    if source_nesting(expr) > MAX_SOURCE_NESTING {
        return Err(JqError::NotAllowed {
            expr: expr.to_owned(),
            construct: format!(
                "the expression nests brackets or `if`/`try`/`-`/`as` more than {MAX_SOURCE_NESTING} levels deep"
            ),
        });
    }
    let parse_error = |message| JqError::Parse { expr: expr.to_owned(), message };
    let tokens = Lexer::new(expr).lex().map_err(|errs| parse_error(lex_message(expr, &errs)))?;
    let term = Parser::new(&tokens).parse(|p| p.term()).map_err(|errs| parse_error(parse_message(expr, &errs)))?;
    Checker { expr }.term(&term, 0)?;
    let mut printer = Printer::default();
    printer.atom(&term);
    // `__nn` drops `null` before an iteration; see `Printer::path`.
    let program = format!("def __nn: if . == null then empty else . end;\npath({})", printer.out);
    let filter = build_filter(&program).map_err(|message| JqError::Compile { expr: expr.to_owned(), message })?;
    let mut observed = Observed::default();
    observed.term(&term, &Some(vec![Vec::new()]));
    let reads = (!observed.trie.whole).then_some(observed.trie);
    Ok((filter, reads))
}

pub(super) fn build_filter(program: &str) -> Result<jaq_core::Filter<PathData>, String> {
    let arena = Arena::default();
    let defs = jaq_core::defs().chain(std_defs()).chain(json_defs());
    let modules = Loader::new(defs).load(&arena, File { code: program, path: () }).map_err(|errs| {
        // The program is our own rendering of a term that already parsed,
        // so this indicates a printer bug rather than a user mistake.
        let what: Vec<String> = errs.iter().map(|(_, e)| format!("{e:?}")).collect();
        format!("internal error re-printing the expression: {}", what.join("; "))
    })?;
    let funs = jaq_core::funs::<PathData>()
        .chain(jaq_std::base_funs::<PathData>())
        .chain(jaq_json::funs::<PathData>())
        .chain([tick_native(), size_native()]);
    Compiler::default().with_funs(funs).compile(modules).map_err(|errs| {
        let mut names: Vec<String> = Vec::new();
        for (name, undefined) in errs.iter().flat_map(|(_, e)| e) {
            let text = match undefined {
                jaq_core::compile::Undefined::Filter(arity) => {
                    format!("function `{name}/{arity}`")
                }
                other => format!("{} `{name}`", other.as_str()),
            };
            if !names.contains(&text) {
                names.push(text);
            }
        }
        format!("undefined {}", names.join(", "))
    })
}

pub(super) fn std_defs() -> impl Iterator<Item = parse::Def<&'static str>> {
    jaq_std::defs().filter(|def| STD_DEFS.contains(&(def.name, def.args.len())))
}

pub(super) fn json_defs() -> impl Iterator<Item = parse::Def<&'static str>> {
    jaq_json::defs().filter(|def| JSON_DEFS.contains(&(def.name, def.args.len())))
}

/// Names (with arity) jaq or jq would know, to tell "not allowed" from
/// "undefined".
pub(super) fn known_functions() -> &'static HashSet<(&'static str, usize)> {
    static KNOWN: OnceLock<HashSet<(&'static str, usize)>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
        let mut known: HashSet<_> = defs.map(|def| (def.name, def.args.len())).collect();
        let natives =
            jaq_core::funs::<PathData>().chain(jaq_std::base_funs::<PathData>()).chain(jaq_json::funs::<PathData>());
        known.extend(natives.map(|(name, args, _)| (name, args.len())));
        known
    })
}

/// Estimates how deep jaq's parser will recurse: the deepest bracket or
/// string-interpolation nesting plus every prefix keyword (which recurse
/// without a closing bracket). Over-counting is harmless; it only has to be a
/// safe upper bound for expressions we accept.
pub(super) fn source_nesting(code: &str) -> usize {
    #[derive(PartialEq)]
    enum Frame {
        Bracket,
        Interpolation,
        Str,
    }
    let mut stack: Vec<Frame> = Vec::new();
    // Frames other than `Str` on the stack.
    let mut open = 0usize;
    let mut deepest = 0;
    let mut keywords = 0;
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if stack.last() == Some(&Frame::Str) {
            match c {
                '"' => {
                    stack.pop();
                }
                '\\' => {
                    // An escape consumes the next character; `\(` opens code.
                    let escaped = chars.next();
                    if escaped == Some('(') {
                        stack.push(Frame::Interpolation);
                        open += 1;
                    }
                }
                _ => {}
            }
        } else {
            match c {
                '"' => stack.push(Frame::Str),
                '(' | '[' | '{' => {
                    stack.push(Frame::Bracket);
                    open += 1;
                }
                ')' | ']' | '}' => {
                    let closed = stack.pop();
                    open -= usize::from(closed.is_some());
                }
                '-' => keywords += 1,
                '#' => {
                    // Same rule as jaq's lexer: a comment line ending in an
                    // odd number of backslashes continues on the next line.
                    let mut backslashes = 0usize;
                    for c in chars.by_ref() {
                        match c {
                            '\n' if backslashes.is_multiple_of(2) => break,
                            '\\' => backslashes += 1,
                            '\r' => {}
                            _ => backslashes = 0,
                        }
                    }
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let mut word = String::from(c);
                    while let Some(&next) = chars.peek() {
                        if !(next.is_ascii_alphanumeric() || next == '_') {
                            break;
                        }
                        word.push(next);
                        chars.next();
                    }
                    if NESTING_KEYWORDS.contains(&word.as_str()) {
                        keywords += 1;
                    }
                }
                _ => {}
            }
        }
        deepest = deepest.max(open);
    }
    deepest + keywords
}

pub(super) fn lex_message(code: &str, errs: &[lex::Error<&str>]) -> String {
    let Some((expect, rest)) = errs.first() else {
        return "invalid expression".to_owned();
    };
    let expected = match expect {
        lex::Expect::Digit => "a digit",
        lex::Expect::Ident => "an identifier",
        lex::Expect::Delim("(") => "a closing parenthesis `)`",
        lex::Expect::Delim("[") => "a closing bracket `]`",
        lex::Expect::Delim("{") => "a closing brace `}`",
        lex::Expect::Delim(_) => "a closing quote `\"`",
        lex::Expect::Escape => "a valid escape sequence (\\n, \\t, \\\", \\\\, \\uXXXX or \\(...))",
        lex::Expect::Unicode => "four hexadecimal digits of a code point",
        lex::Expect::Token => "a valid token",
        _ => "something else",
    };
    format!("expected {expected} {}", location(code, rest))
}

pub(super) fn parse_message(code: &str, errs: &[parse::TError<'_, &str>]) -> String {
    let Some((expect, found)) = errs.first() else {
        return "invalid expression".to_owned();
    };
    let expected = expect.as_str();
    match (expect, found) {
        (parse::Expect::Nothing, Some(token)) => {
            format!("unexpected text {}", location(code, token.as_str()))
        }
        (_, Some(token)) => format!("expected {expected} {}", location(code, token.as_str())),
        (_, None) => format!("expected {expected} before the end of the expression"),
    }
}

/// Describes where `part` (a slice of `code`) starts: line, column and the
/// text there, or the end of the expression.
pub(super) fn location(code: &str, part: &str) -> String {
    let offset = (part.as_ptr() as usize)
        .checked_sub(code.as_ptr() as usize)
        .filter(|offset| *offset <= code.len() && code.is_char_boundary(*offset));
    let Some(offset) = offset else {
        return format!("near `{}`", excerpt(part, 20));
    };
    let before = &code[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let rest = &code[offset..];
    if rest.trim().is_empty() {
        format!("at the end of the expression (line {line}, column {column})")
    } else {
        format!("at line {line}, column {column}, near `{}`", excerpt(rest, 20))
    }
}

/// The first `max` characters of `text`, with `…` if it was cut.
pub(super) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
