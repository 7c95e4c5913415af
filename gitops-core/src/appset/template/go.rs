//! A Go `text/template` evaluator for the subset ApplicationSets use (`goTemplate: true`),
//! over JSON data whose numbers are Go `float64`s (as Argo CD's JSON-decoded parameters are).
//!
//! Supported:
//! - text and actions, `{{-` / `-}}` whitespace trimming, comments `{{/* ... */}}`;
//! - `.`, `.a.b`, `$`, `$x.a`, `(pipeline).a`; literals: strings (`"..."` with Go escapes,
//!   `` `raw` ``), integers, floats, `true`, `false`, `nil`;
//! - pipelines `a | f x`, variables `$x := ...` and `$x = ...`;
//! - `if` / `else if` / `else` / `end`, `with` / `else` / `end`, `range` over lists and maps
//!   (keys sorted, as Go does) with `$i, $e :=` and `else`;
//! - functions: Go's `and`, `or`, `not`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `len`, `index`,
//!   `print`, `printf` (verbs `%s %v %d %q %t %%`, no width or flags); Sprig's `default`,
//!   `empty`, `required`, `ternary`, `lower`, `upper`, `trim`, `trimPrefix`, `trimSuffix`,
//!   `replace`, `contains`, `hasPrefix`, `hasSuffix`, `quote`, `squote`, `trunc`, `join`,
//!   `toJson`, `toString`, `b64enc`; Argo CD's `normalize` and `slugify` (ASCII input only);
//!   Go's `js` and `call`. `call` takes a function value from the data ([`function`]): the
//!   helpers notifications-engine puts in its template data (`.repo.RepoURLToHTTPS`,
//!   `.repo.FullNameByRepoURL`, `.repo.QueryEscape`, `.strings.ReplaceAll`, `.strings.ToUpper`,
//!   `.strings.ToLower`); `.repo.GetCommitMetadata` and `.repo.GetAppDetails` need Argo CD's
//!   repo server and are an error naming them.
//! - `missingkey=error` (a missing map key is an error) or the default (it prints `<no value>`).
//!
//! Everything else (`define`, `template`, `block`, `break`, `continue`, character literals,
//! methods, other functions, `printf` widths) is a [`GoError`] naming the construct, never a
//! silently different output.

use std::cmp::Ordering;

use base64::Engine as _;
use serde_json::{Number, Value};

use crate::appset::params::{format_float, normalize};

/// Why a Go template does not parse or execute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoError {
    /// The template text is malformed.
    #[error("template does not parse: {0}")]
    Syntax(String),
    /// A construct of Go templates that this evaluator does not implement.
    #[error("`{0}` is not supported in ApplicationSet Go templates here")]
    Unsupported(String),
    /// A function that is neither Go's nor one of the Sprig/Argo functions implemented.
    #[error("function `{0}` is not defined (or not supported yet)")]
    UnknownFunction(String),
    /// `missingkey=error` and a map has no such key.
    #[error("map has no entry for key {0:?} (missingkey=error)")]
    MissingKey(String),
    /// A function was called with wrong arguments, or failed.
    #[error("error calling {name}: {message}")]
    Call {
        /// The function.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// Any other execution error (a field of a non-map, a range over a string, ...).
    #[error("{0}")]
    Exec(String),
}

/// How templates execute: Argo CD's `goTemplateOptions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GoOptions {
    /// `missingkey=error`.
    pub missing_key_error: bool,
}

impl GoOptions {
    /// Reads `goTemplateOptions`: `missingkey=error`, `missingkey=default`,
    /// `missingkey=invalid` and `missingkey=zero` are known (`zero` behaves as `default` for
    /// JSON data: the zero value of an interface prints `<no value>`).
    pub fn from_list(options: &[String]) -> Result<GoOptions, GoError> {
        let mut out = GoOptions::default();
        for option in options {
            match option.as_str() {
                "missingkey=error" => out.missing_key_error = true,
                "missingkey=default" | "missingkey=invalid" | "missingkey=zero" => out.missing_key_error = false,
                other => return Err(GoError::Unsupported(format!("goTemplateOptions {other}"))),
            }
        }
        Ok(out)
    }
}

/// Parses and executes `text` against `data` (numbers in `data` are taken as `float64`).
pub fn render(text: &str, data: &Value, options: GoOptions) -> Result<String, GoError> {
    render_data(text, &GoData::new(data), options)
}

/// The key under which [`keyed_map`] keeps its entries.
const KEYED_MAP: &str = "\u{0}keyed-map";

/// A map whose keys are objects (a Go map keyed by a struct), which JSON cannot write:
/// `range $key, $value := ...` over it gives each key as the object, in the order given
/// (the caller sorts as Go's `fmtsort` would), and `len` counts its entries.
pub fn keyed_map(entries: Vec<(Value, Value)>) -> Value {
    let pairs = entries.into_iter().map(|(k, v)| Value::Array(vec![k, v])).collect();
    let mut map = serde_json::Map::new();
    map.insert(KEYED_MAP.to_string(), Value::Array(pairs));
    Value::Object(map)
}

/// The entries of a [`keyed_map`].
fn keyed_entries(m: &serde_json::Map<String, Value>) -> Option<Vec<(Value, Value)>> {
    let Value::Array(pairs) = m.get(KEYED_MAP)? else { return None };
    if m.len() != 1 {
        return None;
    }
    Some(
        pairs
            .iter()
            .filter_map(|p| match p {
                Value::Array(kv) if kv.len() == 2 => Some((kv[0].clone(), kv[1].clone())),
                _ => None,
            })
            .collect(),
    )
}

/// The key under which [`function`] keeps a function's name.
const FUNCTION: &str = "\u{0}function";

/// A function value for template data, reached with `call` (`{{ call .repo.RepoURLToHTTPS
/// .app.spec.source.repoURL }}`). `name` is one of the helpers listed in the module docs
/// (`repo.RepoURLToHTTPS`, ...); another name fails when called, naming it.
pub fn function(name: &str) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(FUNCTION.to_string(), Value::String(name.to_string()));
    Value::Object(map)
}

/// Template data prepared once for many templates: a JSON value with every number a Go
/// `float64`, as `encoding/json` decodes it.
#[derive(Debug, Clone, PartialEq)]
pub struct GoData(Val);

impl GoData {
    /// Prepares `data`.
    pub fn new(data: &Value) -> GoData {
        GoData(Some(as_float_numbers(data)))
    }

    /// Takes `data` as it is: integers stay integers, as in Kubernetes' unstructured objects
    /// (the data of Argo CD notification templates).
    pub fn exact(data: Value) -> GoData {
        GoData(Some(data))
    }

    /// Prepares an object it takes, its numbers made `float64` in place.
    pub fn from_owned(mut data: serde_json::Map<String, Value>) -> GoData {
        fn floats(v: &mut Value) {
            match v {
                Value::Number(n) => {
                    *v = n.as_f64().and_then(Number::from_f64).map(Value::Number).unwrap_or(Value::Null)
                }
                Value::Array(items) => items.iter_mut().for_each(floats),
                Value::Object(m) => m.values_mut().for_each(floats),
                _ => {}
            }
        }
        data.values_mut().for_each(floats);
        GoData(Some(Value::Object(data)))
    }

    /// Prepares an object (one copy, where [`GoData::new`] of its value would take two).
    pub fn from_object(data: &serde_json::Map<String, Value>) -> GoData {
        GoData(Some(Value::Object(data.iter().map(|(k, v)| (k.clone(), as_float_numbers(v))).collect())))
    }
}

/// [`render`] with prepared data.
pub fn render_data(text: &str, data: &GoData, options: GoOptions) -> Result<String, GoError> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let nodes = parsed(text)?;
    // `$` is the root, looked up by reference: the data is not copied for each template.
    let mut exec = Exec { options, root: &data.0, vars: Vec::new(), out: String::new() };
    exec.walk(&nodes, &data.0)?;
    Ok(exec.out)
}

/// The parsed form of `text`, from a small per-thread cache: an ApplicationSet renders the
/// same template strings once per parameter set, thousands of times.
fn parsed(text: &str) -> Result<std::rc::Rc<Vec<Node>>, GoError> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;
    // Bounded so that a long-lived process rendering ever new strings keeps a small cache.
    const MAX_ENTRIES: usize = 4096;
    thread_local! {
        static CACHE: RefCell<HashMap<String, Rc<Vec<Node>>>> = RefCell::new(HashMap::new());
    }
    if let Some(hit) = CACHE.with(|c| c.borrow().get(text).cloned()) {
        return Ok(hit);
    }
    let nodes = Rc::new(parse(text)?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_ENTRIES {
            c.clear();
        }
        c.insert(text.to_string(), nodes.clone());
    });
    Ok(nodes)
}

/// JSON-decoded Go data: every number a `float64`.
fn as_float_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().and_then(Number::from_f64).map(Value::Number).unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(items.iter().map(as_float_numbers).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), as_float_numbers(v))).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// Lexing and parsing.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    /// `.a.b`; `attached` when it directly follows `)`.
    Field(Vec<String>, bool),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone)]
enum Item {
    Text(String),
    Action(Vec<Tok>),
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If { branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node> },
    With { pipe: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
    Range { pipe: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
}

#[derive(Debug, Clone)]
struct Pipeline {
    vars: Vec<String>,
    declare: bool,
    cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Func(String),
    Sub(Box<Pipeline>, Vec<String>),
}

fn split_items(text: &str) -> Result<Vec<Item>, GoError> {
    let mut items = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut before = &rest[..start];
        if trim_next {
            before = before.trim_start();
        }
        let mut inner_start = start + 2;
        if rest[inner_start..].starts_with("- ")
            || rest[inner_start..].starts_with("-\t")
            || rest[inner_start..].starts_with("-\n")
        {
            before = before.trim_end();
            inner_start += 2;
        }
        if !before.is_empty() {
            items.push(Item::Text(before.to_string()));
        }
        let body = &rest[inner_start..];
        let end = find_close(body).ok_or_else(|| GoError::Syntax("unclosed action: `{{` without `}}`".into()))?;
        let mut inner = &body[..end];
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
            inner = &inner[..inner.len() - 2];
            trim_next = true;
        }
        let trimmed = inner.trim();
        if trimmed.starts_with("/*") {
            if !trimmed.ends_with("*/") {
                return Err(GoError::Syntax("unclosed comment".into()));
            }
        } else {
            items.push(Item::Action(lex(inner)?));
        }
        rest = &body[end + 2..];
    }
    let tail = if trim_next { rest.trim_start() } else { rest };
    if !tail.is_empty() {
        items.push(Item::Text(tail.to_string()));
    }
    Ok(items)
}

/// The offset of the `}}` closing an action, skipping quoted strings.
fn find_close(body: &str) -> Option<usize> {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(src: &str) -> Result<Vec<Tok>, GoError> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let read_ident = |i: &mut usize| -> String {
        let start = *i;
        while *i < chars.len() && is_ident_char(chars[*i]) {
            *i += 1;
        }
        chars[start..*i].iter().collect()
    };
    let read_fields = |i: &mut usize| -> Vec<String> {
        let mut fields = Vec::new();
        while *i + 1 < chars.len() && chars[*i] == '.' && is_ident_char(chars[*i + 1]) {
            *i += 1;
            let start = *i;
            while *i < chars.len() && is_ident_char(chars[*i]) {
                *i += 1;
            }
            fields.push(chars[start..*i].iter().collect());
        }
        fields
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                toks.push(Tok::RParen);
                i += 1;
                let fields = read_fields(&mut i);
                if !fields.is_empty() {
                    toks.push(Tok::Field(fields, true));
                }
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            '.' => {
                let fields = read_fields(&mut i);
                if fields.is_empty() {
                    if chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                        return Err(GoError::Unsupported("a number starting with `.`".into()));
                    }
                    toks.push(Tok::Dot);
                    i += 1;
                } else {
                    toks.push(Tok::Field(fields, false));
                }
            }
            '$' => {
                i += 1;
                let name = format!("${}", read_ident(&mut i));
                let fields = read_fields(&mut i);
                toks.push(Tok::Var(name, fields));
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(GoError::Syntax("unterminated quoted string".into()));
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let Some(&e) = chars.get(i) else {
                                return Err(GoError::Syntax("unterminated quoted string".into()));
                            };
                            i += 1;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                '\'' => '\'',
                                '0' => '\0',
                                other => {
                                    return Err(GoError::Unsupported(format!("the string escape `\\{other}`")));
                                }
                            });
                        }
                        other => s.push(other),
                    }
                }
                toks.push(Tok::Str(s));
            }
            '`' => {
                i += 1;
                let start = i;
                while i < chars.len() && chars[i] != '`' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(GoError::Syntax("unterminated raw string".into()));
                }
                toks.push(Tok::Str(chars[start..i].iter().collect()));
                i += 1;
            }
            '\'' => return Err(GoError::Unsupported("character constants".into())),
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+') && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || chars[i] == '_'
                        || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                toks.push(Tok::Num(chars[start..i].iter().collect()));
            }
            c if is_ident_char(c) => {
                let name = read_ident(&mut i);
                toks.push(Tok::Ident(name));
            }
            other => return Err(GoError::Syntax(format!("unexpected character {other:?} in action"))),
        }
    }
    Ok(toks)
}

fn parse(text: &str) -> Result<Vec<Node>, GoError> {
    let items = split_items(text)?;
    let mut pos = 0;
    let (nodes, end) = parse_list(&items, &mut pos)?;
    match end {
        None => Ok(nodes),
        Some(End::End) => Err(GoError::Syntax("unexpected {{end}}".into())),
        Some(End::Else(_)) => Err(GoError::Syntax("unexpected {{else}}".into())),
    }
}

enum End {
    End,
    /// `else`, with the tokens after it (`if ...` for `else if`).
    Else(Vec<Tok>),
}

fn parse_list(items: &[Item], pos: &mut usize) -> Result<(Vec<Node>, Option<End>), GoError> {
    let mut nodes = Vec::new();
    while *pos < items.len() {
        let item = &items[*pos];
        *pos += 1;
        match item {
            Item::Text(t) => nodes.push(Node::Text(t.clone())),
            Item::Action(toks) => match toks.first() {
                Some(Tok::Ident(k)) if k == "end" => {
                    if toks.len() != 1 {
                        return Err(GoError::Syntax("unexpected tokens after {{end".into()));
                    }
                    return Ok((nodes, Some(End::End)));
                }
                Some(Tok::Ident(k)) if k == "else" => return Ok((nodes, Some(End::Else(toks[1..].to_vec())))),
                Some(Tok::Ident(k)) if k == "if" => nodes.push(parse_if(items, pos, &toks[1..])?),
                Some(Tok::Ident(k)) if k == "with" || k == "range" => {
                    let pipe = parse_pipeline(&toks[1..], true)?;
                    let (body, end) = parse_list(items, pos)?;
                    let otherwise = match end {
                        Some(End::End) => Vec::new(),
                        Some(End::Else(rest)) if rest.is_empty() => {
                            let (otherwise, end) = parse_list(items, pos)?;
                            if !matches!(end, Some(End::End)) {
                                return Err(GoError::Syntax(format!("{{{{{k}}}}} without {{{{end}}}}")));
                            }
                            otherwise
                        }
                        Some(End::Else(_)) => return Err(GoError::Unsupported(format!("`else ...` chained to {k}"))),
                        None => return Err(GoError::Syntax(format!("{{{{{k}}}}} without {{{{end}}}}"))),
                    };
                    nodes.push(if k == "with" {
                        Node::With { pipe, body, otherwise }
                    } else {
                        Node::Range { pipe, body, otherwise }
                    });
                }
                Some(Tok::Ident(k)) if ["define", "template", "block", "break", "continue"].contains(&k.as_str()) => {
                    return Err(GoError::Unsupported(format!("{{{{{k}}}}}")));
                }
                _ => nodes.push(Node::Action(parse_pipeline(toks, true)?)),
            },
        }
    }
    Ok((nodes, None))
}

fn parse_if(items: &[Item], pos: &mut usize, cond: &[Tok]) -> Result<Node, GoError> {
    let mut branches = Vec::new();
    let mut cond = cond.to_vec();
    loop {
        let pipe = parse_pipeline(&cond, true)?;
        let (body, end) = parse_list(items, pos)?;
        branches.push((pipe, body));
        match end {
            Some(End::End) => return Ok(Node::If { branches, otherwise: Vec::new() }),
            Some(End::Else(rest)) if rest.is_empty() => {
                let (otherwise, end) = parse_list(items, pos)?;
                if !matches!(end, Some(End::End)) {
                    return Err(GoError::Syntax("{{if}} without {{end}}".into()));
                }
                return Ok(Node::If { branches, otherwise });
            }
            Some(End::Else(rest)) => match rest.first() {
                Some(Tok::Ident(k)) if k == "if" => cond = rest[1..].to_vec(),
                _ => return Err(GoError::Unsupported("`else` followed by anything but `if`".into())),
            },
            None => return Err(GoError::Syntax("{{if}} without {{end}}".into())),
        }
    }
}

fn parse_pipeline(toks: &[Tok], allow_decl: bool) -> Result<Pipeline, GoError> {
    let mut vars = Vec::new();
    let mut declare = false;
    let mut rest = toks;
    if allow_decl {
        // `$x :=`, `$x =`, `$i, $e :=`
        let mut j = 0;
        let mut names = Vec::new();
        while let Some(Tok::Var(name, fields)) = rest.get(j) {
            if !fields.is_empty() {
                break;
            }
            names.push(name.clone());
            j += 1;
            if rest.get(j) == Some(&Tok::Comma) {
                j += 1;
            } else {
                break;
            }
        }
        match rest.get(j) {
            Some(Tok::Declare) if !names.is_empty() => {
                vars = names;
                declare = true;
                rest = &rest[j + 1..];
            }
            Some(Tok::Assign) if names.len() == 1 => {
                vars = names;
                rest = &rest[j + 1..];
            }
            _ => {}
        }
    }
    if vars.len() > 2 {
        return Err(GoError::Syntax("too many declarations in pipeline".into()));
    }
    let mut cmds = Vec::new();
    let mut i = 0;
    let mut current: Vec<Arg> = Vec::new();
    while i < rest.len() {
        match &rest[i] {
            Tok::Pipe => {
                if current.is_empty() {
                    return Err(GoError::Syntax("missing command before `|`".into()));
                }
                cmds.push(std::mem::take(&mut current));
                i += 1;
            }
            Tok::LParen => {
                let mut depth = 0;
                let start = i + 1;
                let mut end = None;
                for (k, t) in rest.iter().enumerate().skip(i) {
                    match t {
                        Tok::LParen => depth += 1,
                        Tok::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(k);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| GoError::Syntax("unclosed `(`".into()))?;
                let sub = parse_pipeline(&rest[start..end], false)?;
                i = end + 1;
                let mut fields = Vec::new();
                if let Some(Tok::Field(f, true)) = rest.get(i) {
                    fields = f.clone();
                    i += 1;
                }
                current.push(Arg::Sub(Box::new(sub), fields));
            }
            Tok::RParen => return Err(GoError::Syntax("unexpected `)`".into())),
            Tok::Dot => {
                current.push(Arg::Dot);
                i += 1;
            }
            Tok::Field(f, _) => {
                current.push(Arg::Field(f.clone()));
                i += 1;
            }
            Tok::Var(name, fields) => {
                current.push(Arg::Var(name.clone(), fields.clone()));
                i += 1;
            }
            Tok::Str(s) => {
                current.push(Arg::Lit(Value::String(s.clone())));
                i += 1;
            }
            Tok::Num(n) => {
                current.push(Arg::Lit(parse_number(n)?));
                i += 1;
            }
            Tok::Ident(name) => {
                current.push(match name.as_str() {
                    "true" => Arg::Lit(Value::Bool(true)),
                    "false" => Arg::Lit(Value::Bool(false)),
                    "nil" => Arg::Lit(Value::Null),
                    "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block" | "break"
                    | "continue" => return Err(GoError::Syntax(format!("unexpected keyword `{name}`"))),
                    _ => Arg::Func(name.clone()),
                });
                i += 1;
            }
            Tok::Declare | Tok::Assign | Tok::Comma => {
                return Err(GoError::Syntax("unexpected `:=`, `=` or `,` in pipeline".into()));
            }
        }
    }
    if current.is_empty() {
        return Err(GoError::Syntax("missing value for command".into()));
    }
    cmds.push(current);
    Ok(Pipeline { vars, declare, cmds })
}

fn parse_number(text: &str) -> Result<Value, GoError> {
    let bad = || GoError::Syntax(format!("bad number syntax: {text:?}"));
    let clean = text.replace('_', "");
    if let Ok(i) = clean.parse::<i64>() {
        return Ok(Value::from(i));
    }
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(d) = digits.strip_prefix(prefix) {
            let v = i64::from_str_radix(d, radix).map_err(|_| bad())?;
            return Ok(Value::from(if neg { -v } else { v }));
        }
    }
    let f: f64 = clean.parse().map_err(|_| bad())?;
    Number::from_f64(f).map(Value::Number).ok_or_else(bad)
}

// ---------------------------------------------------------------------------------------
// Execution. A value is `Option<Value>`: `None` is Go's invalid value (a missing map key),
// which prints `<no value>`; `Some(Null)` is a nil interface, which prints `<nil>`.

type Val = Option<Value>;

struct Exec<'a> {
    options: GoOptions,
    /// `$`.
    root: &'a Val,
    vars: Vec<(String, Val)>,
    out: String,
}

impl Exec<'_> {
    fn walk(&mut self, nodes: &[Node], dot: &Val) -> Result<(), GoError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.pipeline(pipe, dot)?;
                    if pipe.vars.is_empty() {
                        let printed = print_value(&v);
                        self.out.push_str(&printed);
                    }
                }
                Node::If { branches, otherwise } => {
                    let mark = self.vars.len();
                    let mut taken = false;
                    for (cond, body) in branches {
                        let v = self.pipeline(cond, dot)?;
                        if truth(&v) {
                            self.walk(body, dot)?;
                            taken = true;
                            break;
                        }
                    }
                    if !taken {
                        self.walk(otherwise, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With { pipe, body, otherwise } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(pipe, dot)?;
                    if truth(&v) {
                        self.walk(body, &v)?;
                    } else {
                        self.walk(otherwise, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range { pipe, body, otherwise } => {
                    let mark = self.vars.len();
                    let mut range_pipe = pipe.clone();
                    let vars = std::mem::take(&mut range_pipe.vars);
                    let v = self.pipeline(&range_pipe, dot)?;
                    let entries: Vec<(Value, Value)> = match &v {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(items)) => {
                            items.iter().enumerate().map(|(i, e)| (Value::from(i as i64), e.clone())).collect()
                        }
                        Some(Value::Object(m)) if let Some(entries) = keyed_entries(m) => entries,
                        Some(Value::Object(m)) => {
                            let mut keys: Vec<&String> = m.keys().collect();
                            keys.sort();
                            keys.into_iter().map(|k| (Value::String(k.clone()), m[k].clone())).collect()
                        }
                        Some(other) => {
                            return Err(GoError::Exec(format!(
                                "range can't iterate over {}",
                                print_value(&Some(other.clone()))
                            )));
                        }
                    };
                    if entries.is_empty() {
                        self.walk(otherwise, dot)?;
                    }
                    for (key, elem) in entries {
                        let inner = self.vars.len();
                        match vars.as_slice() {
                            [] => {}
                            [e] => self.vars.push((e.clone(), Some(elem.clone()))),
                            [k, e, ..] => {
                                self.vars.push((k.clone(), Some(key)));
                                self.vars.push((e.clone(), Some(elem.clone())));
                            }
                        }
                        self.walk(body, &Some(elem))?;
                        self.vars.truncate(inner);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, pipe: &Pipeline, dot: &Val) -> Result<Val, GoError> {
        let mut value: Option<Val> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(cmd, dot, value)?);
        }
        let value = value.expect("a pipeline has at least one command");
        for name in &pipe.vars {
            if pipe.declare {
                self.vars.push((name.clone(), value.clone()));
            } else {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| GoError::Exec(format!("undefined variable: {name}")))?;
                slot.1 = value.clone();
            }
        }
        Ok(value)
    }

    fn command(&mut self, cmd: &[Arg], dot: &Val, piped: Option<Val>) -> Result<Val, GoError> {
        if let Arg::Func(name) = &cmd[0] {
            return self.call(name, &cmd[1..], dot, piped);
        }
        if cmd.len() > 1 || piped.is_some() {
            return Err(GoError::Unsupported(
                "arguments to a non-function (methods are not supported on JSON data)".into(),
            ));
        }
        self.arg(&cmd[0], dot)
    }

    fn arg(&mut self, arg: &Arg, dot: &Val) -> Result<Val, GoError> {
        match arg {
            Arg::Dot => Ok(dot.clone()),
            Arg::Field(fields) => self.fields(dot, fields),
            Arg::Var(name, fields) => {
                let v = match self.vars.iter().rev().find(|(n, _)| n == name) {
                    Some((_, v)) => v,
                    None if name == "$" => self.root,
                    None => return Err(GoError::Exec(format!("undefined variable: {name}"))),
                };
                self.fields(v, fields)
            }
            Arg::Lit(v) => Ok(Some(v.clone())),
            Arg::Func(name) => self.call(name, &[], dot, None),
            Arg::Sub(pipe, fields) => {
                let v = self.pipeline(pipe, dot)?;
                self.fields(&v, fields)
            }
        }
    }

    /// The value at `fields` under `v`; walked by reference, only the result is copied.
    fn fields(&self, v: &Val, fields: &[String]) -> Result<Val, GoError> {
        let mut cur = v.as_ref();
        for field in fields {
            cur = match cur {
                None => {
                    if self.options.missing_key_error {
                        return Err(GoError::Exec(format!("nil data; no entry for key {field:?}")));
                    }
                    None
                }
                Some(Value::Null) => {
                    return Err(GoError::Exec(format!("nil pointer evaluating interface {{}}.{field}")));
                }
                Some(Value::Object(m)) => match m.get(field) {
                    Some(x) => Some(x),
                    None if self.options.missing_key_error => return Err(GoError::MissingKey(field.clone())),
                    None => None,
                },
                Some(other) => {
                    return Err(GoError::Exec(format!("can't evaluate field {field} in type {}", go_type(other))));
                }
            };
        }
        Ok(cur.cloned())
    }

    fn call(&mut self, name: &str, args: &[Arg], dot: &Val, piped: Option<Val>) -> Result<Val, GoError> {
        // `and` and `or` stop at the first argument that decides.
        if name == "and" || name == "or" {
            let total = args.len() + usize::from(piped.is_some());
            if total == 0 {
                return Err(call_err(name, "wrong number of args: want at least 1 got 0"));
            }
            let mut last = None;
            for a in args {
                let v = self.arg(a, dot)?;
                if truth(&v) != (name == "and") {
                    return Ok(v);
                }
                last = Some(v);
            }
            if let Some(v) = piped {
                return Ok(v);
            }
            return Ok(last.flatten());
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(a, dot)?);
        }
        if let Some(v) = piped {
            vals.push(v);
        }
        builtin(name, &vals)
    }
}

fn call_err(name: &str, message: impl Into<String>) -> GoError {
    GoError::Call { name: name.to_string(), message: message.into() }
}

fn want(name: &str, vals: &[Val], n: usize) -> Result<(), GoError> {
    if vals.len() != n {
        return Err(call_err(name, format!("wrong number of args: want {n} got {}", vals.len())));
    }
    Ok(())
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's truth: false, 0, nil, "" and empty lists and maps are false.
fn truth(v: &Val) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// `fmt.Sprint` of one value.
fn print_value(v: &Val) -> String {
    match v {
        None => "<no value>".to_string(),
        Some(v) => sprint(v),
    }
}

fn sprint(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_text(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(sprint).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!("map[{}]", keys.iter().map(|k| format!("{k}:{}", sprint(&m[*k]))).collect::<Vec<_>>().join(" "))
        }
    }
}

fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64().filter(|_| !n.is_f64()) {
        i.to_string()
    } else if let Some(u) = n.as_u64().filter(|_| !n.is_f64()) {
        u.to_string()
    } else {
        format_float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Sprig's string conversion (`toString`, and the arguments of string functions): strings
/// as is, nil as empty, everything else as `fmt.Sprint`.
fn to_str(v: &Val) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(v) => sprint(v),
    }
}

/// The argument as a string, as Go requires for string parameters of functions.
fn str_arg(name: &str, v: &Val) -> Result<String, GoError> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        other => {
            Err(call_err(name, format!("expected a string, got {}", other.as_ref().map(go_type).unwrap_or("no value"))))
        }
    }
}

fn int_arg(name: &str, v: &Val) -> Result<i64, GoError> {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| call_err(name, format!("expected an integer, got {n}"))),
        Some(Value::String(s)) => s.parse().map_err(|_| call_err(name, format!("expected an integer, got {s:?}"))),
        other => Err(call_err(name, format!("expected an integer, got {}", print_value(other)))),
    }
}

/// Sprig's `empty`.
fn is_empty(v: &Val) -> bool {
    !truth(v)
}

#[derive(PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Number(n) if n.is_f64() => Kind::Float,
        Value::Number(_) => Kind::Int,
        Value::String(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// Go's `eq` of two basic values: kinds must agree (an int literal against a float64 field is
/// Go's "incompatible types for comparison").
fn go_equal(name: &str, a: &Val, b: &Val) -> Result<bool, GoError> {
    match (a, b) {
        (None, _) | (_, None) => Err(call_err(name, "invalid type for comparison")),
        (Some(Value::Null), Some(Value::Null)) => Ok(true),
        (Some(Value::Null), Some(_)) | (Some(_), Some(Value::Null)) => Ok(false),
        (Some(x), Some(y)) => {
            let (kx, ky) = (kind(x), kind(y));
            if kx == Kind::Other || ky == Kind::Other {
                return Err(call_err(name, "non-comparable type"));
            }
            if kx != ky {
                return Err(call_err(name, "incompatible types for comparison"));
            }
            Ok(match (x, y) {
                (Value::Number(p), Value::Number(q)) => p.as_f64() == q.as_f64(),
                _ => x == y,
            })
        }
    }
}

fn go_order(name: &str, a: &Val, b: &Val) -> Result<Ordering, GoError> {
    match (a, b) {
        (Some(x), Some(y)) => {
            let (kx, ky) = (kind(x), kind(y));
            if kx != ky {
                return Err(call_err(name, "incompatible types for comparison"));
            }
            match (x, y) {
                (Value::Number(p), Value::Number(q)) => {
                    p.as_f64().partial_cmp(&q.as_f64()).ok_or_else(|| call_err(name, "invalid type for comparison"))
                }
                (Value::String(p), Value::String(q)) => Ok(p.cmp(q)),
                _ => Err(call_err(name, "invalid type for comparison")),
            }
        }
        _ => Err(call_err(name, "invalid type for comparison")),
    }
}

fn builtin(name: &str, vals: &[Val]) -> Result<Val, GoError> {
    let s = |v: String| Ok(Some(Value::String(v)));
    match name {
        "not" => {
            want(name, vals, 1)?;
            Ok(Some(Value::Bool(!truth(&vals[0]))))
        }
        "eq" => {
            if vals.len() < 2 {
                return Err(call_err(name, "missing argument for comparison"));
            }
            for other in &vals[1..] {
                if go_equal(name, &vals[0], other)? {
                    return Ok(Some(Value::Bool(true)));
                }
            }
            Ok(Some(Value::Bool(false)))
        }
        "ne" => {
            want(name, vals, 2)?;
            Ok(Some(Value::Bool(!go_equal(name, &vals[0], &vals[1])?)))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, vals, 2)?;
            let o = go_order(name, &vals[0], &vals[1])?;
            let r = match name {
                "lt" => o == Ordering::Less,
                "le" => o != Ordering::Greater,
                "gt" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            };
            Ok(Some(Value::Bool(r)))
        }
        "len" => {
            want(name, vals, 1)?;
            let n = match &vals[0] {
                Some(Value::String(x)) => x.len(),
                Some(Value::Array(a)) => a.len(),
                Some(Value::Object(m)) => keyed_entries(m).map_or(m.len(), |e| e.len()),
                other => return Err(call_err(name, format!("len of {}", print_value(other)))),
            };
            Ok(Some(Value::from(n as i64)))
        }
        "index" => {
            if vals.is_empty() {
                return Err(call_err(name, "wrong number of args: want at least 1 got 0"));
            }
            let mut cur = vals[0].clone();
            for key in &vals[1..] {
                cur = match (&cur, key) {
                    (Some(Value::Object(m)), Some(Value::String(k))) => Some(m.get(k).cloned().unwrap_or(Value::Null)),
                    (Some(Value::Array(a)), Some(Value::Number(_))) => {
                        let i = int_arg(name, key)?;
                        let got = usize::try_from(i).ok().and_then(|i| a.get(i));
                        Some(got.cloned().ok_or_else(|| call_err(name, format!("index out of range: {i}")))?)
                    }
                    (None | Some(Value::Null), _) => return Err(call_err(name, "index of untyped nil")),
                    (c, k) => {
                        return Err(call_err(name, format!("cannot index {} with {}", print_value(c), print_value(k))));
                    }
                };
            }
            Ok(cur)
        }
        "print" => {
            let mut out = String::new();
            for (i, v) in vals.iter().enumerate() {
                let is_str = |v: &Val| matches!(v, Some(Value::String(_)));
                if i > 0 && !is_str(v) && !is_str(&vals[i - 1]) {
                    out.push(' ');
                }
                out.push_str(&print_value(v));
            }
            s(out)
        }
        "printf" => {
            if vals.is_empty() {
                return Err(call_err(name, "wrong number of args: want at least 1 got 0"));
            }
            let format = str_arg(name, &vals[0])?;
            s(printf(&format, &vals[1..])?)
        }
        "default" => {
            if vals.is_empty() || vals.len() > 2 {
                return Err(call_err(name, format!("wrong number of args: want 1 or 2 got {}", vals.len())));
            }
            let given = vals.get(1).cloned().flatten();
            if is_empty(&given) { Ok(vals[0].clone()) } else { Ok(given) }
        }
        "empty" => {
            want(name, vals, 1)?;
            Ok(Some(Value::Bool(is_empty(&vals[0]))))
        }
        "required" => {
            want(name, vals, 2)?;
            match &vals[1] {
                None | Some(Value::Null) => Err(call_err(name, to_str(&vals[0]))),
                Some(Value::String(x)) if x.is_empty() => Err(call_err(name, to_str(&vals[0]))),
                v => Ok(v.clone()),
            }
        }
        "ternary" => {
            want(name, vals, 3)?;
            Ok(if truth(&vals[2]) { vals[0].clone() } else { vals[1].clone() })
        }
        "toString" => {
            want(name, vals, 1)?;
            s(to_str(&vals[0]))
        }
        "lower" | "upper" | "trim" | "normalize" | "b64enc" => {
            want(name, vals, 1)?;
            let x = to_str(&vals[0]);
            s(match name {
                "lower" => x.to_lowercase(),
                "upper" => x.to_uppercase(),
                "trim" => x.trim().to_string(),
                "normalize" => normalize(&x),
                _ => base64::engine::general_purpose::STANDARD.encode(x.as_bytes()),
            })
        }
        "trimPrefix" | "trimSuffix" => {
            want(name, vals, 2)?;
            let (affix, x) = (to_str(&vals[0]), to_str(&vals[1]));
            s(if name == "trimPrefix" {
                x.strip_prefix(affix.as_str()).unwrap_or(&x).to_string()
            } else {
                x.strip_suffix(affix.as_str()).unwrap_or(&x).to_string()
            })
        }
        "contains" | "hasPrefix" | "hasSuffix" => {
            want(name, vals, 2)?;
            let (needle, x) = (to_str(&vals[0]), to_str(&vals[1]));
            let r = match name {
                "contains" => x.contains(&needle),
                "hasPrefix" => x.starts_with(&needle),
                _ => x.ends_with(&needle),
            };
            Ok(Some(Value::Bool(r)))
        }
        "replace" => {
            want(name, vals, 3)?;
            let (old, new, x) = (to_str(&vals[0]), to_str(&vals[1]), to_str(&vals[2]));
            s(go_replace_all(&x, &old, &new))
        }
        "quote" | "squote" => {
            let parts: Vec<String> = vals
                .iter()
                .filter(|v| !matches!(v, None | Some(Value::Null)))
                .map(|v| {
                    let x = to_str(v);
                    if name == "quote" { go_quote(&x) } else { format!("'{x}'") }
                })
                .collect();
            s(parts.join(" "))
        }
        "trunc" => {
            want(name, vals, 2)?;
            let n = int_arg(name, &vals[0])?;
            let x = to_str(&vals[1]);
            let len = x.len() as i64;
            s(if n < 0 && -n < len {
                x.get((len + n) as usize..).unwrap_or(&x).to_string()
            } else if n >= 0 && len > n {
                x.get(..n as usize).unwrap_or(&x).to_string()
            } else {
                x
            })
        }
        "join" => {
            want(name, vals, 2)?;
            let sep = to_str(&vals[0]);
            let items: Vec<String> = match &vals[1] {
                Some(Value::Array(a)) => a.iter().filter(|v| !v.is_null()).map(sprint).collect(),
                None | Some(Value::Null) => Vec::new(),
                Some(other) => vec![sprint(other)],
            };
            s(items.join(&sep))
        }
        "toJson" => {
            want(name, vals, 1)?;
            s(go_json(vals[0].as_ref().unwrap_or(&Value::Null)))
        }
        "slugify" => slugify(vals),
        "js" => {
            let text: String = vals.iter().map(print_value).collect();
            s(js_escape(&text))
        }
        "call" => {
            let Some(Some(Value::Object(f))) = vals.first() else {
                return Err(call_err(name, "the first argument is not a function"));
            };
            let Some(Value::String(function)) = f.get(FUNCTION).filter(|_| f.len() == 1) else {
                return Err(call_err(name, "the first argument is not a function"));
            };
            call_function(function, &vals[1..])
        }
        "env" | "expandenv" | "getHostByName" => {
            Err(call_err(name, "is removed by Argo CD from ApplicationSet templates"))
        }
        other => Err(GoError::UnknownFunction(other.to_string())),
    }
}

/// The helpers notifications-engine (as Argo CD configures it) puts in template data.
fn call_function(function: &str, args: &[Val]) -> Result<Val, GoError> {
    let fail = |message: String| Err(call_err("call", format!("{function}: {message}")));
    let arg = |i: usize| str_arg(function, args.get(i).unwrap_or(&None));
    let arity = |n: usize| {
        if args.len() == n { Ok(()) } else { Err(call_err("call", format!("{function}: want {n} argument(s)"))) }
    };
    let s = |v: String| Ok(Some(Value::String(v)));
    match function {
        "repo.RepoURLToHTTPS" => {
            arity(1)?;
            match repo_url_to_https(&arg(0)?) {
                Some(u) => s(u),
                None => fail(format!("{:?} is not a Git URL", arg(0)?)),
            }
        }
        "repo.FullNameByRepoURL" => {
            arity(1)?;
            match full_name_by_repo_url(&arg(0)?) {
                Some(u) => s(u),
                None => fail(format!("{:?} is not a Git URL", arg(0)?)),
            }
        }
        "repo.QueryEscape" => {
            arity(1)?;
            s(crate::notify::payload::query_escape(&arg(0)?))
        }
        "strings.ReplaceAll" => {
            arity(3)?;
            s(go_replace_all(&arg(0)?, &arg(1)?, &arg(2)?))
        }
        "strings.ToUpper" => {
            arity(1)?;
            s(arg(0)?.to_uppercase())
        }
        "strings.ToLower" => {
            arity(1)?;
            s(arg(0)?.to_lowercase())
        }
        "repo.GetCommitMetadata" | "repo.GetAppDetails" => {
            fail("needs Argo CD's repo server, which is not available here".into())
        }
        other => Err(GoError::UnknownFunction(other.to_string())),
    }
}

/// notifications-engine's `RepoURLToHTTPS`: the URL with scheme `https` and no user.
pub(crate) fn repo_url_to_https(url: &str) -> Option<String> {
    git_url(url).map(|u| format!("https://{}{}", u.host, u.path))
}

/// notifications-engine's `FullNameByRepoURL`: the first two path segments (`owner/repo`),
/// `.git` dropped.
pub(crate) fn full_name_by_repo_url(url: &str) -> Option<String> {
    let u = git_url(url)?;
    let path = u.path.strip_suffix(".git").unwrap_or(&u.path);
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    Some(if parts.len() >= 2 { parts[..2].join("/") } else { path.to_string() })
}

/// A Git URL's host (with its port) and path (starting with `/`), user dropped: `scheme://`
/// URLs and SCP-like `user@host:path`, as git-urls reads them.
struct GitUrl {
    host: String,
    path: String,
}

fn git_url(raw: &str) -> Option<GitUrl> {
    let (authority, path) = match raw.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, String::new()),
        },
        None => {
            let (authority, path) = raw.split_once(':')?;
            if authority.is_empty() || authority.contains('/') {
                return None;
            }
            (authority, format!("/{}", path.trim_start_matches('/')))
        }
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return None;
    }
    Some(GitUrl { host: host.to_string(), path })
}

/// Go's `template.JSEscapeString`.
fn js_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `strings.ReplaceAll` (an empty `old` inserts `new` between every character).
fn go_replace_all(x: &str, old: &str, new: &str) -> String {
    if !old.is_empty() {
        return x.replace(old, new);
    }
    let mut out = String::from(new);
    for c in x.chars() {
        out.push(c);
        out.push_str(new);
    }
    out
}

/// Go's `%q` of a string (`strconv.Quote`), for printable ASCII and common escapes.
fn go_quote(x: &str) -> String {
    let mut out = String::from("\"");
    for c in x.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `encoding/json` output: keys sorted, `<`, `>`, `&` escaped, float64 numbers without
/// a fraction when integral and in exponent form outside `[1e-6, 1e21)`.
fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            let abs = f.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                let sci = format!("{f:e}");
                let (m, e) = sci.split_once('e').expect("exponent");
                let e: i32 = e.parse().expect("exponent");
                out.push_str(&format!("{m}e{}{}", if e < 0 { '-' } else { '+' }, e.abs()));
            } else {
                out.push_str(&format!("{f}"));
            }
        }
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            let quoted = serde_json::to_string(s).expect("strings serialize");
            out.push_str(
                &quoted
                    .replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026")
                    .replace('\u{2028}', "\\u2028")
                    .replace('\u{2029}', "\\u2029"),
            );
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(&Value::String(k.clone()), out);
                out.push(':');
                write_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

/// `fmt.Sprintf` for the verbs `%s %v %d %q %t %%` without flags or widths.
fn printf(format: &str, args: &[Val]) -> Result<String, GoError> {
    let mut out = String::new();
    let mut chars = format.chars();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !"svdqt".contains(verb) {
            return Err(GoError::Unsupported(format!("printf verb or flag `%{verb}`")));
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let bad = |arg: &Val| {
            let v = arg.as_ref().unwrap_or(&Value::Null);
            format!("%!{verb}({}={})", go_type(v), print_value(arg))
        };
        match (verb, arg) {
            ('v', a) => out.push_str(&print_value(a)),
            ('s', Some(Value::String(x))) => out.push_str(x),
            ('s', Some(v @ (Value::Array(_) | Value::Object(_)))) => out.push_str(&sprint(v)),
            ('q', Some(Value::String(x))) => out.push_str(&go_quote(x)),
            ('d', Some(Value::Number(n))) if !n.is_f64() => out.push_str(&n.to_string()),
            ('t', Some(Value::Bool(b))) => out.push_str(&b.to_string()),
            (_, a) => out.push_str(&bad(a)),
        }
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", go_type(a.as_ref().unwrap_or(&Value::Null)), print_value(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(out)
}

/// Argo CD's `slugify [maxSize=50] [enableSmartTruncate=true] text`: the text normalized,
/// then made a slug (runs of characters outside `[a-z0-9]` become one `-`, trimmed), then cut
/// to `maxSize`, at the last `-` before the limit when smart truncation is on. Only ASCII
/// text is supported: gosimple/slug transliterates other scripts, which this does not.
fn slugify(vals: &[Val]) -> Result<Val, GoError> {
    let name = "slugify";
    let (max, smart, text) = match vals {
        [t] => (50, true, to_str(t)),
        [m, t] => (int_arg(name, m)?, true, to_str(t)),
        [m, sm, t] => (int_arg(name, m)?, truth(sm), to_str(t)),
        _ => return Err(call_err(name, "wrong number of args: want 1 to 3")),
    };
    if !text.is_ascii() {
        return Err(GoError::Unsupported("slugify of non-ASCII text (transliteration)".into()));
    }
    let max = usize::try_from(max).map_err(|_| call_err(name, "maximum length must not be negative"))?;
    let mut normalized = normalize(&text);
    // gosimple/slug cuts first when smart truncation is off, then cleans up.
    if !smart && normalized.len() >= max {
        normalized.truncate(max);
    }
    let mut slug = String::new();
    for c in normalized.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug = slug.trim_end_matches('-').to_string();
    // Smart truncation: at the last `-` at or before the limit, else at the limit.
    if smart && max > 0 && slug.len() > max {
        let cut = slug[..=max].rfind('-').unwrap_or(max);
        slug.truncate(cut);
    }
    Ok(Some(Value::String(slug)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data() -> Value {
        json!({
            "name": "web",
            "replicas": 3,
            "big": 1000000,
            "path": {"basename": "Web_App", "segments": ["apps", "web"]},
            "labels": {"env": "prod", "tier": "front"},
            "nothing": null,
            "empty": "",
            "list": ["a", "b"],
            "url": "https://a&b<c>",
        })
    }

    fn go(text: &str) -> Result<String, GoError> {
        render(text, &data(), GoOptions::default())
    }

    fn strict(text: &str) -> Result<String, GoError> {
        render(text, &data(), GoOptions { missing_key_error: true })
    }

    #[test]
    fn fields_and_literals() {
        assert_eq!(go("{{ .name }}-{{.path.basename}}").unwrap(), "web-Web_App");
        assert_eq!(go("{{.replicas}} {{.big}}").unwrap(), "3 1e+06", "numbers are float64");
        assert_eq!(go("{{ \"x\\ty\" }}{{ `raw\\n` }}{{ 42 }}{{ 1.5 }}{{ true }}").unwrap(), "x\tyraw\\n421.5true");
        assert_eq!(go("{{ .nothing }}").unwrap(), "<nil>");
        assert_eq!(go("{{ .list }} {{ .labels }}").unwrap(), "[a b] map[env:prod tier:front]");
        assert!(go("{{ $ }}").unwrap().starts_with("map["));
    }

    #[test]
    fn missing_keys_print_no_value_or_fail_with_missingkey_error() {
        assert_eq!(go("{{ .nope }}").unwrap(), "<no value>");
        assert_eq!(go("{{ .nope.deeper }}").unwrap(), "<no value>");
        assert_eq!(strict("{{ .nope }}").unwrap_err(), GoError::MissingKey("nope".into()));
        assert_eq!(strict("{{ .labels.zone }}").unwrap_err(), GoError::MissingKey("zone".into()));
        assert!(matches!(go("{{ .nothing.x }}").unwrap_err(), GoError::Exec(m) if m.contains("nil pointer")));
        assert!(matches!(go("{{ .name.x }}").unwrap_err(), GoError::Exec(m) if m.contains("type string")));
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(go("a  {{- .name -}}  b").unwrap(), "awebb");
        assert_eq!(go("a {{/* note */}}b").unwrap(), "a b");
        assert_eq!(go("{{-3}}").unwrap(), "-3");
    }

    #[test]
    fn conditionals_and_loops() {
        assert_eq!(go("{{ if .empty }}x{{ else if .name }}y{{ else }}z{{ end }}").unwrap(), "y");
        assert_eq!(go("{{ if .nope }}x{{ else }}z{{ end }}").unwrap(), "z");
        assert_eq!(go("{{ range .list }}[{{ . }}]{{ end }}").unwrap(), "[a][b]");
        assert_eq!(go("{{ range $i, $e := .list }}{{ $i }}={{ $e }};{{ end }}").unwrap(), "0=a;1=b;");
        assert_eq!(go("{{ range $k, $v := .labels }}{{ $k }}:{{ $v }},{{ end }}").unwrap(), "env:prod,tier:front,");
        assert_eq!(go("{{ range .nope }}x{{ else }}none{{ end }}").unwrap(), "none");
        assert_eq!(go("{{ with .labels }}{{ .env }}{{ end }}").unwrap(), "prod");
        assert_eq!(go("{{ $n := .name }}{{ $n }}{{ $n = \"x\" }}{{ $n }}").unwrap(), "webx");
        assert!(matches!(go("{{ range .name }}{{ end }}").unwrap_err(), GoError::Exec(_)));
    }

    #[test]
    fn functions() {
        let cases = [
            ("{{ .path.basename | normalize }}", "web-app"),
            ("{{ .name | upper }}", "WEB"),
            ("{{ lower \"AbC\" }}", "abc"),
            ("{{ .nope | default \"d\" }}", "d"),
            ("{{ .empty | default \"d\" }}", "d"),
            ("{{ .name | default \"d\" }}", "web"),
            ("{{ replace \"-\" \"_\" \"a-b-c\" }}", "a_b_c"),
            ("{{ .labels | toJson }}", r#"{"env":"prod","tier":"front"}"#),
            ("{{ .replicas | toJson }}", "3"),
            ("{{ .url | toJson }}", r#""https://a\u0026b\u003cc\u003e""#),
            ("{{ index .labels \"env\" }}", "prod"),
            ("{{ index .path.segments 1 }}", "web"),
            ("{{ index .labels \"zone\" }}", "<nil>"),
            ("{{ printf \"%s-%v-%d\" .name .replicas 7 }}", "web-3-7"),
            ("{{ printf \"%d\" .replicas }}", "%!d(float64=3)"),
            ("{{ trunc 2 .name }}", "we"),
            ("{{ trunc -2 .name }}", "eb"),
            ("{{ join \",\" .list }}", "a,b"),
            ("{{ .name | quote }}", "\"web\""),
            ("{{ squote .name }}", "'web'"),
            ("{{ len .list }}", "2"),
            ("{{ if and .name (not .empty) }}yes{{ end }}", "yes"),
            ("{{ or .empty .name }}", "web"),
            ("{{ eq .name \"web\" \"x\" }}", "true"),
            ("{{ ne .replicas 3.0 }}", "false"),
            ("{{ gt .replicas 2.5 }}", "true"),
            ("{{ trimPrefix \"we\" .name }}{{ trimSuffix \"b\" .name }}", "bwe"),
            ("{{ hasPrefix \"w\" .name }} {{ contains \"e\" .name }}", "true true"),
            ("{{ print .name 1 2 }}", "web1 2"),
            ("{{ (index .path.segments 0) | upper }}", "APPS"),
            ("{{ slugify \"Hello World_Foo\" }}", "hello-world-foo"),
            ("{{ slugify 12 \"alpha-beta-gamma\" }}", "alpha-beta"),
            ("{{ slugify 12 false \"alpha-beta-gamma\" }}", "alpha-beta-g"),
            ("{{ slugify 5 \"abcdefgh\" }}", "abcde"),
            ("{{ slugify 6 false \"a.b..c-d\" }}", "a-b-c"),
            ("{{ ternary \"a\" \"b\" true }}", "a"),
            ("{{ b64enc \"hi\" }}", "aGk="),
            ("{{ js \"a'b\\\"<c>\\n\" }}", "a\\'b\\\"\\u003Cc\\u003E\\u000A"),
        ];
        for (t, want) in cases {
            assert_eq!(go(t).unwrap(), want, "{t}");
        }
    }

    #[test]
    fn call_reaches_function_values() {
        let data = json!({
            "repo": {
                "RepoURLToHTTPS": function("repo.RepoURLToHTTPS"),
                "FullNameByRepoURL": function("repo.FullNameByRepoURL"),
                "GetCommitMetadata": function("repo.GetCommitMetadata"),
            },
            "ssh": "git@github.com:acme/web.git",
            "https": "https://user@git.example.com:8443/acme/web",
        });
        let go = |t: &str| render(t, &data, GoOptions::default());
        assert_eq!(go("{{ call .repo.RepoURLToHTTPS .ssh }}").unwrap(), "https://github.com/acme/web.git");
        assert_eq!(go("{{ .https | call .repo.RepoURLToHTTPS }}").unwrap(), "https://git.example.com:8443/acme/web");
        assert_eq!(go("{{ call .repo.FullNameByRepoURL .ssh }}").unwrap(), "acme/web");
        assert!(go("{{ call .repo.GetCommitMetadata \"abc\" }}").unwrap_err().to_string().contains("repo server"));
        assert!(go("{{ call .ssh }}").unwrap_err().to_string().contains("not a function"));
        assert!(go("{{ call .repo.RepoURLToHTTPS \"/local/path\" }}").is_err());
    }

    #[test]
    fn exact_data_keeps_integers() {
        let data = GoData::exact(json!({"n": 3}));
        assert_eq!(render_data("{{ .n }} {{ printf \"%d\" .n }}", &data, GoOptions::default()).unwrap(), "3 3");
    }

    #[test]
    fn go_comparison_rules_are_kept() {
        assert!(go("{{ eq .replicas 3 }}").unwrap_err().to_string().contains("incompatible types"));
        assert!(go("{{ index .list 5 }}").unwrap_err().to_string().contains("out of range"));
        assert!(go("{{ required \"need x\" .nope }}").unwrap_err().to_string().contains("need x"));
    }

    #[test]
    fn unsupported_constructs_are_named() {
        assert_eq!(go("{{ define \"x\" }}{{ end }}").unwrap_err(), GoError::Unsupported("{{define}}".into()));
        assert_eq!(go("{{ template \"x\" }}").unwrap_err(), GoError::Unsupported("{{template}}".into()));
        assert_eq!(go("{{ sha256sum .name }}").unwrap_err(), GoError::UnknownFunction("sha256sum".into()));
        assert!(go("{{ env \"HOME\" }}").unwrap_err().to_string().contains("removed"));
        assert!(matches!(go("{{ printf \"%5s\" .name }}").unwrap_err(), GoError::Unsupported(_)));
        assert!(matches!(go("{{ 'a' }}").unwrap_err(), GoError::Unsupported(_)));
    }

    #[test]
    fn syntax_errors() {
        assert!(matches!(go("{{ .name").unwrap_err(), GoError::Syntax(_)));
        assert!(matches!(go("{{ if .name }}x").unwrap_err(), GoError::Syntax(_)));
        assert!(matches!(go("{{ end }}").unwrap_err(), GoError::Syntax(_)));
        assert!(matches!(go("{{ }}").unwrap_err(), GoError::Syntax(_)));
    }

    #[test]
    fn options_are_read() {
        assert!(GoOptions::from_list(&["missingkey=error".into()]).unwrap().missing_key_error);
        assert!(!GoOptions::from_list(&[]).unwrap().missing_key_error);
        assert!(GoOptions::from_list(&["funny".into()]).is_err());
    }
}
