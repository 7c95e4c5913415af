//! The expr language (antonmedv/expr, as Argo CD notifications and Argo Rollouts analyses
//! evaluate it) over JSON data: parse once into a [`Program`], run against an environment.
//!
//! Supported:
//! - literals: `nil`, `true`, `false`, integers (`1_000`, `0x1f`), floats, strings in `'`, `"`
//!   (Go escapes) or backquotes, arrays `[1, 2]`, maps `{a: 1, "b": 2}`;
//! - member access `a.b`, `a?.b`, `a["b"]`, `a[0]`, `a[-1]`, slices `a[1:3]`; a missing map
//!   key is `nil`, a member of `nil` is an error (use `?.` or `!= nil` first, as triggers do);
//! - operators by expr's precedence: `??`, `?:`, `or`/`||`, `and`/`&&`, `==` `!=` `<` `>` `<=`
//!   `>=` `in` `not in` `matches` `contains` `startsWith` `endsWith`, `..` (integer range),
//!   `+` `-`, `*` `/` `%`, `**` / `^`, unary `not`/`!`/`-`/`+`; `and`/`or` need booleans; `/`
//!   is a float division; ints and floats compare and add across types;
//! - functions: `len`, `all`, `any`, `none`, `one`, `filter`, `map`, `count` (closures with
//!   `#`, as `all(xs, {# > 1})` or `all(xs, # > 1)`), `abs`, `int`, `float`, `string`,
//!   `upper`, `lower`, `trim`, `split`, `join`, `keys`, `values`, `first`, `last`, `min`, `max`,
//!   `isNaN`, `now()`, `duration("1h")`, and Argo Rollouts' `isInf`, `isNil`, `default`,
//!   `asInt`, `asFloat`;
//! - values of time: `time.Now()`, `time.Parse(s)` (RFC 3339, as notifications-engine's
//!   helper), the constants `time.Nanosecond` ... `time.Hour`; methods `.Sub`, `.Add`,
//!   `.Before`, `.After`, `.Unix()`, and on durations `.Hours()`, `.Minutes()`, `.Seconds()`;
//!   `strings.ToUpper`, `strings.ToLower`, `strings.ReplaceAll`, `strings.TrimSpace`.
//!
//! The current time is the caller's ([`Env::now`]): nothing here reads a clock.
//!
//! ```
//! use gitops_core::expr::{Env, Program};
//! let app = serde_json::json!({"status": {"health": {"status": "Degraded"}, "operationState": null}});
//! let when = Program::parse("app.status.operationState == nil and app.status.health.status in ['Degraded', 'Missing']")?;
//! assert!(when.eval_bool(&Env::new().with("app", app))?);
//! let rollouts = Program::parse("result[0] >= 0.99")?;
//! assert!(!rollouts.eval_bool(&Env::new().with("result", serde_json::json!([0.98])))?);
//! # Ok::<(), gitops_core::expr::ExprError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// Why an expression does not parse or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// The text is not an expression.
    #[error("syntax error at {at}: {message}")]
    Syntax {
        /// Byte offset.
        at: usize,
        /// What is wrong.
        message: String,
    },
    /// Running it failed (a member of nil, a type mismatch, an unknown name).
    #[error("{0}")]
    Runtime(String),
}

fn rt<T>(message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError::Runtime(message.into()))
}

/// A value of the language: JSON's, with integers apart from floats, times and durations.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Val>),
    /// A map.
    Map(BTreeMap<String, Val>),
    /// An instant, in nanoseconds since the Unix epoch.
    Time(i128),
    /// A duration in nanoseconds.
    Duration(i64),
}

impl Val {
    /// The value of JSON data.
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Nil,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n.as_i64().map(Val::Int).unwrap_or_else(|| Val::Float(n.as_f64().unwrap_or(f64::NAN))),
            Value::String(s) => Val::Str(s.clone()),
            Value::Array(a) => Val::Array(a.iter().map(Val::from_json).collect()),
            Value::Object(m) => Val::Map(m.iter().map(|(k, v)| (k.clone(), Val::from_json(v))).collect()),
        }
    }

    /// JSON of the value (times as RFC 3339, durations in nanoseconds).
    pub fn to_json(&self) -> Value {
        match self {
            Val::Nil => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s.clone()),
            Val::Array(a) => Value::Array(a.iter().map(Val::to_json).collect()),
            Val::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Val::Time(_) => Value::String(self.to_string()),
            Val::Duration(d) => Value::from(*d),
        }
    }

    /// The name of its type, as expr names it in errors.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Nil => "nil",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::Array(_) => "array",
            Val::Map(_) => "map",
            Val::Time(_) => "time.Time",
            Val::Duration(_) => "time.Duration",
        }
    }
}

/// Go's `fmt.Sprint` of a value (`<nil>`, `[a b]`, `map[k:v]`), as `oncePer` keys are made.
impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Nil => write!(f, "<nil>"),
            Val::Bool(b) => write!(f, "{b}"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Float(x) => write!(f, "{}", crate::appset::params::format_float(*x)),
            Val::Str(s) => write!(f, "{s}"),
            Val::Array(a) => {
                write!(f, "[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Val::Map(m) => {
                write!(f, "map[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                write!(f, "]")
            }
            Val::Time(ns) => {
                let ts = jiff::Timestamp::from_nanosecond(*ns).map_err(|_| fmt::Error)?;
                write!(f, "{}", ts.strftime("%Y-%m-%d %H:%M:%S%.f +0000 UTC"))
            }
            Val::Duration(d) => {
                let text = crate::time::go_duration(std::time::Duration::from_nanos(d.unsigned_abs()));
                write!(f, "{}{text}", if *d < 0 { "-" } else { "" })
            }
        }
    }
}

/// The environment of a run: named values, and the current time.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, Val>,
    /// `time.Now()` and `now()`, in nanoseconds since the epoch (0 unless set).
    pub now: i128,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// With `name` bound to JSON data.
    pub fn with(mut self, name: &str, value: Value) -> Env {
        self.vars.insert(name.to_string(), Val::from_json(&value));
        self
    }

    /// With `name` bound to a value.
    pub fn with_val(mut self, name: &str, value: Val) -> Env {
        self.vars.insert(name.to_string(), value);
        self
    }

    /// With the current time (nanoseconds since the epoch).
    pub fn at(mut self, now_nanos: i128) -> Env {
        self.now = now_nanos;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Lit(Val),
    Ident(String),
    Pointer,
    Member { target: Box<Node>, key: Box<Node>, optional: bool },
    Slice { target: Box<Node>, from: Option<Box<Node>>, to: Option<Box<Node>> },
    Call { callee: Box<Node>, args: Vec<Node> },
    Unary(&'static str, Box<Node>),
    Binary(String, Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Array(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Closure(Box<Node>),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    root: Node,
}

impl Program {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Program, ExprError> {
        let tokens = lex(text)?;
        let mut p = Parser { tokens, pos: 0, end: text.len() };
        let root = p.expression(0)?;
        if let Some(t) = p.tokens.get(p.pos) {
            return Err(ExprError::Syntax { at: t.at, message: format!("unexpected {:?}", t.tok) });
        }
        Ok(Program { root })
    }

    /// Runs the program.
    pub fn eval(&self, env: &Env) -> Result<Val, ExprError> {
        Run { env, pointer: Vec::new() }.eval(&self.root)
    }

    /// Runs the program, which must give a boolean.
    pub fn eval_bool(&self, env: &Env) -> Result<bool, ExprError> {
        match self.eval(env)? {
            Val::Bool(b) => Ok(b),
            other => rt(format!("expected bool, but got {}", other.type_name())),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Lexing.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Val),
    Str(String),
    Ident(String),
    Op(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    at: usize,
}

const OPERATORS: &[&str] = &[
    "?.", "??", "...", "..", "**", "==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "^", "<", ">", "!",
    "?", ":", "(", ")", "[", "]", "{", "}", ",", ".", "#", "|",
];

fn lex(text: &str) -> Result<Vec<Token>, ExprError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, message: &str| ExprError::Syntax { at, message: message.to_string() };
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let at = i;
        if c.is_ascii_digit() {
            let start = i;
            if c == b'0' && matches!(bytes.get(i + 1), Some(b'x' | b'X')) {
                i += 2;
                while i < bytes.len() && (bytes[i].is_ascii_hexdigit() || bytes[i] == b'_') {
                    i += 1;
                }
                let digits: String = text[start + 2..i].chars().filter(|c| *c != '_').collect();
                let n = i64::from_str_radix(&digits, 16).map_err(|_| err(at, "bad hex number"))?;
                out.push(Token { tok: Tok::Num(Val::Int(n)), at });
                continue;
            }
            let mut float = false;
            while i < bytes.len() {
                let d = bytes[i];
                if d.is_ascii_digit() || d == b'_' {
                    i += 1;
                } else if d == b'.' && !float && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    float = true;
                    i += 1;
                } else if (d == b'e' || d == b'E')
                    && (bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                        || (matches!(bytes.get(i + 1), Some(b'+' | b'-'))
                            && bytes.get(i + 2).is_some_and(u8::is_ascii_digit)))
                {
                    float = true;
                    i += 2;
                } else {
                    break;
                }
            }
            let digits: String = text[start..i].chars().filter(|c| *c != '_').collect();
            let v = if float {
                Val::Float(digits.parse().map_err(|_| err(at, "bad number"))?)
            } else {
                match digits.parse::<i64>() {
                    Ok(n) => Val::Int(n),
                    Err(_) => Val::Float(digits.parse().map_err(|_| err(at, "bad number"))?),
                }
            };
            out.push(Token { tok: Tok::Num(v), at });
            continue;
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            let quote = c as char;
            let mut s = String::new();
            let mut chars = text[i + 1..].char_indices();
            let mut closed = None;
            while let Some((j, ch)) = chars.next() {
                if ch == quote {
                    closed = Some(i + 1 + j + 1);
                    break;
                }
                if ch == '\\' && quote != '`' {
                    let Some((_, e)) = chars.next() else { break };
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '0' => '\0',
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'v' => '\u{b}',
                        'u' => {
                            let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| err(at, "bad \\u escape"))?
                        }
                        other => other,
                    });
                } else {
                    s.push(ch);
                }
            }
            i = closed.ok_or_else(|| err(at, "literal not terminated"))?;
            out.push(Token { tok: Tok::Str(s), at });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$') {
                i += 1;
            }
            out.push(Token { tok: Tok::Ident(text[start..i].to_string()), at });
            continue;
        }
        let Some(op) = OPERATORS.iter().find(|op| text[i..].starts_with(**op)) else {
            return Err(err(at, &format!("unexpected character {:?}", text[i..].chars().next().unwrap_or(' '))));
        };
        // `?.` followed by a digit is `?` then a number (`a ?.5 : 1`).
        if *op == "?." && bytes.get(i + 2).is_some_and(u8::is_ascii_digit) {
            out.push(Token { tok: Tok::Op("?".into()), at });
            i += 1;
            continue;
        }
        out.push(Token { tok: Tok::Op(op.to_string()), at });
        i += op.len();
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Parsing: precedence climbing, with expr's table.

/// The builtins whose second argument is a predicate over `#`.
const CLOSURE_FUNCTIONS: [&str; 7] = ["all", "any", "none", "one", "filter", "map", "count"];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// The length of the text: where "unexpected end" is.
    end: usize,
}

/// Binary operators: (name, precedence, right-associative).
fn binary(tok: &Tok, next: Option<&Tok>) -> Option<(String, u8, bool, usize)> {
    let word = |s: &str| match s {
        "or" => Some(("or", 10)),
        "and" => Some(("and", 15)),
        "in" => Some(("in", 20)),
        "matches" => Some(("matches", 20)),
        "contains" => Some(("contains", 20)),
        "startsWith" => Some(("startsWith", 20)),
        "endsWith" => Some(("endsWith", 20)),
        _ => None,
    };
    match tok {
        Tok::Op(o) => {
            let (name, prec, right) = match o.as_str() {
                "??" => ("??", 8, true),
                "||" => ("or", 10, false),
                "&&" => ("and", 15, false),
                "==" | "!=" | "<" | ">" | "<=" | ">=" => (o.as_str(), 20, false),
                ".." => ("..", 25, false),
                "+" | "-" => (o.as_str(), 30, false),
                "*" | "/" | "%" => (o.as_str(), 60, false),
                "**" | "^" => ("**", 100, true),
                _ => return None,
            };
            Some((name.to_string(), prec, right, 1))
        }
        Tok::Ident(w) if w == "not" && matches!(next, Some(Tok::Ident(n)) if n == "in") => {
            Some(("not in".into(), 20, false, 2))
        }
        Tok::Ident(w) => word(w).map(|(n, p)| (n.to_string(), p, false, 1)),
        _ => None,
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.at)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if o == op)
    }

    fn expect(&mut self, op: &str) -> Result<(), ExprError> {
        if self.is_op(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(ExprError::Syntax { at: self.at(), message: format!("expected {op:?}, found {:?}", self.peek()) })
        }
    }

    fn expression(&mut self, min: u8) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        loop {
            if min == 0 && self.is_op("?") {
                self.pos += 1;
                let yes = self.expression(0)?;
                self.expect(":")?;
                let no = self.expression(0)?;
                left = Node::Cond(Box::new(left), Box::new(yes), Box::new(no));
                continue;
            }
            let Some(tok) = self.peek() else { break };
            let next = self.tokens.get(self.pos + 1).map(|t| &t.tok);
            let Some((name, prec, right, width)) = binary(tok, next) else { break };
            if prec < min.max(1) {
                break;
            }
            self.pos += width;
            let rhs = self.expression(if right { prec } else { prec + 1 })?;
            left = Node::Binary(name, Box::new(left), Box::new(rhs));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        match self.peek() {
            Some(Tok::Op(o)) if o == "!" || o == "-" || o == "+" => {
                let op: &'static str = match o.as_str() {
                    "!" => "not",
                    "-" => "-",
                    _ => "+",
                };
                self.pos += 1;
                // Unary binds tighter than binary operators but looser than `**`.
                let operand = self.expression_from_unary()?;
                Ok(Node::Unary(op, Box::new(operand)))
            }
            Some(Tok::Ident(w)) if w == "not" => {
                self.pos += 1;
                let operand = self.expression_from_unary()?;
                Ok(Node::Unary("not", Box::new(operand)))
            }
            _ => self.postfix(),
        }
    }

    fn expression_from_unary(&mut self) -> Result<Node, ExprError> {
        let base = self.unary()?;
        if self.is_op("**") || self.is_op("^") {
            self.pos += 1;
            let rhs = self.expression(100)?;
            return Ok(Node::Binary("**".into(), Box::new(base), Box::new(rhs)));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Node, ExprError> {
        let mut node = self.primary()?;
        loop {
            if self.is_op(".") || self.is_op("?.") {
                let optional = self.is_op("?.");
                self.pos += 1;
                let name = match self.peek() {
                    Some(Tok::Ident(n)) => n.clone(),
                    Some(Tok::Num(Val::Int(n))) => n.to_string(),
                    _ => return Err(ExprError::Syntax { at: self.at(), message: "expected a name after `.`".into() }),
                };
                self.pos += 1;
                node = Node::Member { target: Box::new(node), key: Box::new(Node::Lit(Val::Str(name))), optional };
            } else if self.is_op("[") {
                self.pos += 1;
                if self.is_op(":") {
                    self.pos += 1;
                    let to = if self.is_op("]") { None } else { Some(Box::new(self.expression(0)?)) };
                    self.expect("]")?;
                    node = Node::Slice { target: Box::new(node), from: None, to };
                    continue;
                }
                let key = self.expression(0)?;
                if self.is_op(":") {
                    self.pos += 1;
                    let to = if self.is_op("]") { None } else { Some(Box::new(self.expression(0)?)) };
                    self.expect("]")?;
                    node = Node::Slice { target: Box::new(node), from: Some(Box::new(key)), to };
                    continue;
                }
                self.expect("]")?;
                node = Node::Member { target: Box::new(node), key: Box::new(key), optional: false };
            } else if self.is_op("(") {
                self.pos += 1;
                let mut args = Vec::new();
                let predicate = matches!(&node, Node::Ident(n) if CLOSURE_FUNCTIONS.contains(&n.as_str()));
                while !self.is_op(")") {
                    if predicate && args.len() == 1 && self.is_op("{") {
                        self.pos += 1;
                        let body = self.expression(0)?;
                        self.expect("}")?;
                        args.push(Node::Closure(Box::new(body)));
                    } else {
                        args.push(self.expression(0)?);
                    }
                    if !self.is_op(")") {
                        self.expect(",")?;
                    }
                }
                self.pos += 1;
                node = Node::Call { callee: Box::new(node), args };
            } else {
                break;
            }
        }
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let at = self.at();
        let Some(tok) = self.peek().cloned() else {
            return Err(ExprError::Syntax { at, message: "unexpected end of expression".into() });
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Num(v) => Node::Lit(v),
            Tok::Str(s) => Node::Lit(Val::Str(s)),
            Tok::Ident(w) => match w.as_str() {
                "nil" => Node::Lit(Val::Nil),
                "true" => Node::Lit(Val::Bool(true)),
                "false" => Node::Lit(Val::Bool(false)),
                _ => Node::Ident(w),
            },
            Tok::Op(o) => match o.as_str() {
                "(" => {
                    let e = self.expression(0)?;
                    self.expect(")")?;
                    e
                }
                "#" => Node::Pointer,
                // `.field` inside a closure is `#.field`.
                "." => match self.peek().cloned() {
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        Node::Member {
                            target: Box::new(Node::Pointer),
                            key: Box::new(Node::Lit(Val::Str(name))),
                            optional: false,
                        }
                    }
                    _ => return Err(ExprError::Syntax { at, message: "expected a name after `.`".into() }),
                },
                "[" => {
                    let mut items = Vec::new();
                    while !self.is_op("]") {
                        items.push(self.expression(0)?);
                        if !self.is_op("]") {
                            self.expect(",")?;
                        }
                    }
                    self.pos += 1;
                    Node::Array(items)
                }
                "{" => {
                    let mut entries = Vec::new();
                    while !self.is_op("}") {
                        let key = match self.peek().cloned() {
                            Some(Tok::Ident(k)) | Some(Tok::Str(k)) => {
                                self.pos += 1;
                                Node::Lit(Val::Str(k))
                            }
                            Some(Tok::Num(n)) => {
                                self.pos += 1;
                                Node::Lit(Val::Str(n.to_string()))
                            }
                            _ if self.is_op("(") => self.primary()?,
                            _ => return Err(ExprError::Syntax { at: self.at(), message: "expected a map key".into() }),
                        };
                        self.expect(":")?;
                        entries.push((key, self.expression(0)?));
                        if !self.is_op("}") {
                            self.expect(",")?;
                        }
                    }
                    self.pos += 1;
                    Node::Map(entries)
                }
                other => return Err(ExprError::Syntax { at, message: format!("unexpected {other:?}") }),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// Running.

struct Run<'a> {
    env: &'a Env,
    pointer: Vec<Val>,
}

fn num(v: &Val) -> Option<f64> {
    match v {
        Val::Int(i) => Some(*i as f64),
        Val::Float(f) => Some(*f),
        _ => None,
    }
}

/// expr's equality: numbers across int and float, deep for arrays and maps.
fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Int(x), Val::Float(y)) | (Val::Float(y), Val::Int(x)) => (*x as f64) == *y,
        (Val::Array(x), Val::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (Val::Map(x), Val::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn order(op: &str, a: &Val, b: &Val) -> Result<std::cmp::Ordering, ExprError> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Ok(x.cmp(y)),
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (Val::Time(x), Val::Time(y)) => Ok(x.cmp(y)),
        (Val::Duration(x), Val::Duration(y)) => Ok(x.cmp(y)),
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).ok_or_else(|| ExprError::Runtime("NaN compared".into())),
            _ => rt(format!("invalid operation: {} {op} {}", a.type_name(), b.type_name())),
        },
    }
}

fn bool_of(op: &str, v: &Val) -> Result<bool, ExprError> {
    match v {
        Val::Bool(b) => Ok(*b),
        other => rt(format!("invalid operation: {op} on {} (mismatched types)", other.type_name())),
    }
}

fn string_of<'v>(what: &str, v: &'v Val) -> Result<&'v str, ExprError> {
    match v {
        Val::Str(s) => Ok(s),
        other => rt(format!("{what}: expected string, got {}", other.type_name())),
    }
}

impl Run<'_> {
    fn eval(&mut self, node: &Node) -> Result<Val, ExprError> {
        match node {
            Node::Lit(v) => Ok(v.clone()),
            Node::Ident(name) => match self.env.vars.get(name) {
                Some(v) => Ok(v.clone()),
                None if matches!(name.as_str(), "time" | "strings") => {
                    Ok(Val::Map(BTreeMap::from([("\u{0}namespace".to_string(), Val::Str(name.clone()))])))
                }
                None => rt(format!("unknown name {name}")),
            },
            Node::Pointer => {
                self.pointer.last().cloned().ok_or_else(|| ExprError::Runtime("# outside a closure".into()))
            }
            Node::Member { target, key, optional } => {
                let t = self.eval(target)?;
                let k = self.eval(key)?;
                if let Val::Map(m) = &t
                    && let Some(Val::Str(ns)) = m.get("\u{0}namespace")
                    && let Val::Str(member) = &k
                {
                    return namespace_constant(ns, member);
                }
                member(&t, &k, *optional)
            }
            Node::Slice { target, from, to } => {
                let t = self.eval(target)?;
                let len = match &t {
                    Val::Array(a) => a.len(),
                    Val::Str(s) => s.len(),
                    other => return rt(format!("cannot slice {}", other.type_name())),
                } as i64;
                let bound = |run: &mut Self, n: &Option<Box<Node>>, default: i64| -> Result<usize, ExprError> {
                    let v = match n {
                        Some(n) => match run.eval(n)? {
                            Val::Int(i) => i,
                            other => return rt(format!("slice index must be int, got {}", other.type_name())),
                        },
                        None => default,
                    };
                    let v = if v < 0 { v + len } else { v };
                    Ok(v.clamp(0, len) as usize)
                };
                let (a, b) = (bound(self, from, 0)?, bound(self, to, len)?);
                let b = b.max(a);
                Ok(match t {
                    Val::Array(items) => Val::Array(items[a..b].to_vec()),
                    Val::Str(s) => Val::Str(s.get(a..b).unwrap_or("").to_string()),
                    _ => Val::Nil,
                })
            }
            Node::Unary(op, operand) => {
                let v = self.eval(operand)?;
                match (*op, v) {
                    ("not", v) => Ok(Val::Bool(!bool_of("!", &v)?)),
                    ("-", Val::Int(i)) => Ok(Val::Int(-i)),
                    ("-", Val::Float(f)) => Ok(Val::Float(-f)),
                    ("-", Val::Duration(d)) => Ok(Val::Duration(-d)),
                    ("+", v @ (Val::Int(_) | Val::Float(_))) => Ok(v),
                    (op, v) => rt(format!("invalid operation: {op}{}", v.type_name())),
                }
            }
            Node::Binary(op, a, b) => self.binary(op, a, b),
            Node::Cond(c, yes, no) => {
                if bool_of("?:", &self.eval(c)?)? {
                    self.eval(yes)
                } else {
                    self.eval(no)
                }
            }
            Node::Array(items) => Ok(Val::Array(items.iter().map(|i| self.eval(i)).collect::<Result<_, _>>()?)),
            Node::Map(entries) => {
                let mut m = BTreeMap::new();
                for (k, v) in entries {
                    let key = match self.eval(k)? {
                        Val::Str(s) => s,
                        other => other.to_string(),
                    };
                    m.insert(key, self.eval(v)?);
                }
                Ok(Val::Map(m))
            }
            Node::Closure(_) => rt("a closure is only an argument of all, any, filter, map, ..."),
            Node::Call { callee, args } => self.call(callee, args),
        }
    }

    fn binary(&mut self, op: &str, a: &Node, b: &Node) -> Result<Val, ExprError> {
        match op {
            "and" => {
                if !bool_of("and", &self.eval(a)?)? {
                    return Ok(Val::Bool(false));
                }
                return Ok(Val::Bool(bool_of("and", &self.eval(b)?)?));
            }
            "or" => {
                if bool_of("or", &self.eval(a)?)? {
                    return Ok(Val::Bool(true));
                }
                return Ok(Val::Bool(bool_of("or", &self.eval(b)?)?));
            }
            "??" => {
                let left = self.eval(a);
                return match left {
                    Ok(Val::Nil) | Err(_) => self.eval(b),
                    Ok(v) => Ok(v),
                };
            }
            _ => {}
        }
        let (x, y) = (self.eval(a)?, self.eval(b)?);
        use std::cmp::Ordering::*;
        Ok(match op {
            "==" => Val::Bool(equal(&x, &y)),
            "!=" => Val::Bool(!equal(&x, &y)),
            "<" => Val::Bool(order(op, &x, &y)? == Less),
            ">" => Val::Bool(order(op, &x, &y)? == Greater),
            "<=" => Val::Bool(order(op, &x, &y)? != Greater),
            ">=" => Val::Bool(order(op, &x, &y)? != Less),
            "in" | "not in" => {
                let found = match &y {
                    Val::Array(items) => items.iter().any(|i| equal(i, &x)),
                    Val::Map(m) => matches!(&x, Val::Str(k) if m.contains_key(k)),
                    Val::Nil => false,
                    other => return rt(format!("operator in not defined on {}", other.type_name())),
                };
                Val::Bool(found == (op == "in"))
            }
            "matches" => {
                let pattern = string_of("matches", &y)?;
                let re = crate::rbac::compile_go(pattern)
                    .ok_or_else(|| ExprError::Runtime(format!("invalid regex {pattern:?}")))?;
                Val::Bool(re.is_match(string_of("matches", &x)?))
            }
            "contains" => Val::Bool(string_of(op, &x)?.contains(string_of(op, &y)?)),
            "startsWith" => Val::Bool(string_of(op, &x)?.starts_with(string_of(op, &y)?)),
            "endsWith" => Val::Bool(string_of(op, &x)?.ends_with(string_of(op, &y)?)),
            ".." => match (&x, &y) {
                (Val::Int(p), Val::Int(q)) => Val::Array((*p..=*q).map(Val::Int).collect()),
                _ => return rt("operator .. needs ints"),
            },
            _ => arithmetic(op, x, y)?,
        })
    }

    fn call(&mut self, callee: &Node, args: &[Node]) -> Result<Val, ExprError> {
        // Methods: `x.Sub(y)`, `time.Now()`, `strings.ToUpper(s)`.
        if let Node::Member { target, key, optional } = callee
            && let Node::Lit(Val::Str(method)) = key.as_ref()
        {
            let recv = self.eval(target)?;
            if *optional && recv == Val::Nil {
                return Ok(Val::Nil);
            }
            let vals: Vec<Val> = args.iter().map(|a| self.eval(a)).collect::<Result<_, _>>()?;
            return self.method(&recv, method, &vals);
        }
        let Node::Ident(name) = callee else { return rt("only functions and methods can be called") };
        if CLOSURE_FUNCTIONS.contains(&name.as_str()) {
            if args.len() != 2 {
                return rt(format!("{name} takes 2 arguments"));
            }
            let items = match self.eval(&args[0])? {
                Val::Array(a) => a,
                Val::Nil => Vec::new(),
                other => return rt(format!("{name}: cannot iterate {}", other.type_name())),
            };
            let body = match &args[1] {
                Node::Closure(b) => b.as_ref(),
                other => other,
            };
            let mut results = Vec::with_capacity(items.len());
            for item in &items {
                self.pointer.push(item.clone());
                let r = self.eval(body);
                self.pointer.pop();
                results.push(r?);
            }
            let truths = || results.iter().map(|r| bool_of(name, r)).collect::<Result<Vec<bool>, _>>();
            return Ok(match name.as_str() {
                "all" => Val::Bool(truths()?.into_iter().all(|b| b)),
                "any" => Val::Bool(truths()?.into_iter().any(|b| b)),
                "none" => Val::Bool(!truths()?.into_iter().any(|b| b)),
                "one" => Val::Bool(truths()?.into_iter().filter(|b| *b).count() == 1),
                "count" => Val::Int(truths()?.into_iter().filter(|b| *b).count() as i64),
                "filter" => Val::Array(items.into_iter().zip(truths()?).filter(|(_, t)| *t).map(|(i, _)| i).collect()),
                _ => Val::Array(results),
            });
        }
        let vals: Vec<Val> = args.iter().map(|a| self.eval(a)).collect::<Result<_, _>>()?;
        builtin(name, &vals, self.env.now)
    }

    fn method(&self, recv: &Val, method: &str, args: &[Val]) -> Result<Val, ExprError> {
        let arity = |n: usize| if args.len() == n { Ok(()) } else { rt(format!("{method} takes {n} argument(s)")) };
        if let Val::Map(m) = recv
            && let Some(Val::Str(ns)) = m.get("\u{0}namespace")
        {
            return match (ns.as_str(), method) {
                ("time", "Now") => Ok(Val::Time(self.env.now)),
                ("time", "Parse") => {
                    // notifications-engine's helper takes one RFC 3339 string; Go's two-argument
                    // form (layout, value) is read when the layout is RFC 3339's.
                    let text = match args {
                        [Val::Str(s)] => s,
                        [Val::Str(_), Val::Str(s)] => s,
                        _ => return rt("time.Parse takes a string"),
                    };
                    parse_time(text)
                }
                ("strings", _) => strings_fn(method, args),
                _ => rt(format!("{ns}.{method} is not defined")),
            };
        }
        match (recv, method) {
            (Val::Time(t), "Sub") => match args {
                [Val::Time(u)] => Ok(Val::Duration(i64::try_from(t - u).unwrap_or(i64::MAX))),
                _ => rt("Sub takes a time"),
            },
            (Val::Time(t), "Add") => match args {
                [Val::Duration(d)] => Ok(Val::Time(t + i128::from(*d))),
                _ => rt("Add takes a duration"),
            },
            (Val::Time(t), "Before" | "After" | "Equal") => match args {
                [Val::Time(u)] => Ok(Val::Bool(match method {
                    "Before" => t < u,
                    "After" => t > u,
                    _ => t == u,
                })),
                _ => rt(format!("{method} takes a time")),
            },
            (Val::Time(t), "Unix") => {
                arity(0)?;
                Ok(Val::Int(i64::try_from(t.div_euclid(1_000_000_000)).unwrap_or(i64::MAX)))
            }
            (Val::Time(_), "String") => Ok(Val::Str(recv.to_string())),
            (Val::Duration(d), "Hours" | "Minutes" | "Seconds" | "Milliseconds" | "Nanoseconds") => {
                arity(0)?;
                let ns = *d as f64;
                Ok(match method {
                    "Hours" => Val::Float(ns / 3.6e12),
                    "Minutes" => Val::Float(ns / 6e10),
                    "Seconds" => Val::Float(ns / 1e9),
                    "Milliseconds" => Val::Int(d / 1_000_000),
                    _ => Val::Int(*d),
                })
            }
            (Val::Duration(_), "String") => Ok(Val::Str(recv.to_string())),
            _ => rt(format!("type {} has no method {method}", recv.type_name())),
        }
    }
}

fn namespace_constant(ns: &str, name: &str) -> Result<Val, ExprError> {
    let unit = match (ns, name) {
        ("time", "Nanosecond") => 1,
        ("time", "Microsecond") => 1_000,
        ("time", "Millisecond") => 1_000_000,
        ("time", "Second") => 1_000_000_000,
        ("time", "Minute") => 60_000_000_000,
        ("time", "Hour") => 3_600_000_000_000,
        // A method looked up without a call: keep the namespace so that the call resolves it.
        _ => return Ok(Val::Map(BTreeMap::from([("\u{0}namespace".to_string(), Val::Str(ns.to_string()))]))),
    };
    Ok(Val::Duration(unit))
}

fn member(t: &Val, k: &Val, optional: bool) -> Result<Val, ExprError> {
    match (t, k) {
        (Val::Nil, _) if optional => Ok(Val::Nil),
        (Val::Nil, Val::Str(k)) => rt(format!("cannot fetch {k} from <nil>")),
        (Val::Map(m), Val::Str(k)) => Ok(m.get(k).cloned().unwrap_or(Val::Nil)),
        (Val::Array(a), Val::Int(i)) => {
            let len = a.len() as i64;
            let j = if *i < 0 { i + len } else { *i };
            if j < 0 || j >= len {
                return rt(format!("index out of range: {i} (array length is {len})"));
            }
            Ok(a[j as usize].clone())
        }
        (Val::Array(a), Val::Float(f)) if f.fract() == 0.0 => {
            member(&Val::Array(a.clone()), &Val::Int(*f as i64), optional)
        }
        (Val::Str(s), Val::Int(i)) => {
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let j = if *i < 0 { i + len } else { *i };
            chars
                .get(usize::try_from(j).unwrap_or(usize::MAX))
                .map(|c| Val::Str(c.to_string()))
                .ok_or_else(|| ExprError::Runtime(format!("index out of range: {i}")))
        }
        (t, k) => rt(format!("cannot fetch {k} from {}", t.type_name())),
    }
}

fn arithmetic(op: &str, x: Val, y: Val) -> Result<Val, ExprError> {
    Ok(match (op, &x, &y) {
        ("+", Val::Str(a), Val::Str(b)) => Val::Str(format!("{a}{b}")),
        ("+", Val::Array(a), Val::Array(b)) => Val::Array(a.iter().chain(b).cloned().collect()),
        ("+", Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_add(*b)),
        ("-", Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_sub(*b)),
        ("*", Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_mul(*b)),
        ("%", Val::Int(a), Val::Int(b)) => {
            if *b == 0 {
                return rt("integer divide by zero");
            }
            Val::Int(a % b)
        }
        ("+", Val::Time(t), Val::Duration(d)) | ("+", Val::Duration(d), Val::Time(t)) => Val::Time(t + i128::from(*d)),
        ("-", Val::Time(t), Val::Duration(d)) => Val::Time(t - i128::from(*d)),
        ("-", Val::Time(t), Val::Time(u)) => Val::Duration(i64::try_from(t - u).unwrap_or(i64::MAX)),
        ("+", Val::Duration(a), Val::Duration(b)) => Val::Duration(a + b),
        ("-", Val::Duration(a), Val::Duration(b)) => Val::Duration(a - b),
        ("*", Val::Duration(a), Val::Int(b)) | ("*", Val::Int(b), Val::Duration(a)) => Val::Duration(a * b),
        _ => {
            let (Some(a), Some(b)) = (num(&x), num(&y)) else {
                return rt(format!("invalid operation: {} {op} {}", x.type_name(), y.type_name()));
            };
            match op {
                "+" => Val::Float(a + b),
                "-" => Val::Float(a - b),
                "*" => Val::Float(a * b),
                "/" => Val::Float(a / b),
                "**" => Val::Float(a.powf(b)),
                "%" => return rt(format!("invalid operation: {} % {}", x.type_name(), y.type_name())),
                _ => return rt(format!("unknown operator {op}")),
            }
        }
    })
}

fn parse_time(text: &str) -> Result<Val, ExprError> {
    let ts: jiff::Timestamp =
        text.trim().parse().map_err(|e| ExprError::Runtime(format!("time.Parse({text:?}): not RFC 3339: {e}")))?;
    Ok(Val::Time(ts.as_nanosecond()))
}

fn strings_fn(name: &str, args: &[Val]) -> Result<Val, ExprError> {
    let s = |i: usize| match args.get(i) {
        Some(Val::Str(s)) => Ok(s.as_str()),
        _ => rt(format!("strings.{name}: argument {} must be a string", i + 1)),
    };
    Ok(Val::Str(match name {
        "ToUpper" => s(0)?.to_uppercase(),
        "ToLower" => s(0)?.to_lowercase(),
        "TrimSpace" => s(0)?.trim().to_string(),
        "ReplaceAll" => s(0)?.replace(s(1)?, s(2)?),
        _ => return rt(format!("strings.{name} is not defined")),
    }))
}

/// Go's `strconv.ParseFloat`: decimal and exponent forms, `NaN`, `Inf`, `+Inf`, `-Inf`.
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "Inf" | "+Inf" | "inf" | "+inf" | "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Inf" | "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn builtin(name: &str, vals: &[Val], now: i128) -> Result<Val, ExprError> {
    let one = || -> Result<&Val, ExprError> {
        match vals {
            [v] => Ok(v),
            _ => rt(format!("{name} takes 1 argument")),
        }
    };
    Ok(match name {
        "len" => match one()? {
            Val::Str(s) => Val::Int(s.chars().count() as i64),
            Val::Array(a) => Val::Int(a.len() as i64),
            Val::Map(m) => Val::Int(m.len() as i64),
            other => return rt(format!("invalid argument for len (type {})", other.type_name())),
        },
        "abs" => match one()? {
            Val::Int(i) => Val::Int(i.abs()),
            Val::Float(f) => Val::Float(f.abs()),
            other => return rt(format!("invalid argument for abs (type {})", other.type_name())),
        },
        "int" => match one()? {
            Val::Int(i) => Val::Int(*i),
            Val::Float(f) => Val::Int(*f as i64),
            Val::Str(s) => {
                Val::Int(s.trim().parse().map_err(|_| ExprError::Runtime(format!("int({s:?}): not an integer")))?)
            }
            other => return rt(format!("invalid argument for int (type {})", other.type_name())),
        },
        "float" => match one()? {
            Val::Int(i) => Val::Float(*i as f64),
            Val::Float(f) => Val::Float(*f),
            Val::Str(s) => {
                Val::Float(s.trim().parse().map_err(|_| ExprError::Runtime(format!("float({s:?}): not a number")))?)
            }
            other => return rt(format!("invalid argument for float (type {})", other.type_name())),
        },
        "string" => Val::Str(one()?.to_string()),
        "upper" => Val::Str(string_of(name, one()?)?.to_uppercase()),
        "lower" => Val::Str(string_of(name, one()?)?.to_lowercase()),
        "trim" => Val::Str(string_of(name, one()?)?.trim().to_string()),
        "split" => match vals {
            [Val::Str(s), Val::Str(sep)] => {
                Val::Array(s.split(sep.as_str()).map(|p| Val::Str(p.to_string())).collect())
            }
            _ => return rt("split takes a string and a separator"),
        },
        "join" => match vals {
            [Val::Array(a)] | [Val::Array(a), Val::Nil] => {
                Val::Str(a.iter().map(Val::to_string).collect::<Vec<_>>().join(""))
            }
            [Val::Array(a), Val::Str(sep)] => Val::Str(a.iter().map(Val::to_string).collect::<Vec<_>>().join(sep)),
            _ => return rt("join takes an array and a separator"),
        },
        "keys" | "values" => match one()? {
            Val::Map(m) if name == "keys" => Val::Array(m.keys().map(|k| Val::Str(k.clone())).collect()),
            Val::Map(m) => Val::Array(m.values().cloned().collect()),
            other => return rt(format!("{name} of {}", other.type_name())),
        },
        "first" | "last" => match one()? {
            Val::Array(a) => (if name == "first" { a.first() } else { a.last() }).cloned().unwrap_or(Val::Nil),
            other => return rt(format!("{name} of {}", other.type_name())),
        },
        "min" | "max" => {
            let items: Vec<Val> = match vals {
                [Val::Array(a)] => a.clone(),
                many => many.to_vec(),
            };
            let mut best: Option<Val> = None;
            for v in items {
                let better = match &best {
                    None => true,
                    Some(b) => {
                        let o = order(name, &v, b)?;
                        if name == "min" { o.is_lt() } else { o.is_gt() }
                    }
                };
                if better {
                    best = Some(v);
                }
            }
            best.ok_or_else(|| ExprError::Runtime(format!("{name} of nothing")))?
        }
        "isNaN" => match one()? {
            Val::Float(f) => Val::Bool(f.is_nan()),
            Val::Int(_) => Val::Bool(false),
            other => return rt(format!("isNaN of {}", other.type_name())),
        },
        // Argo Rollouts' analysis helpers.
        "isInf" => match one()? {
            Val::Float(f) => Val::Bool(f.is_infinite()),
            Val::Int(_) => Val::Bool(false),
            other => return rt(format!("isInf of {}", other.type_name())),
        },
        "isNil" => Val::Bool(matches!(one()?, Val::Nil)),
        "default" => match vals {
            [Val::Nil, d] => d.clone(),
            [v, _] => v.clone(),
            _ => return rt("default takes 2 arguments"),
        },
        "asInt" => match one()? {
            Val::Int(i) => Val::Int(*i),
            Val::Float(f) => Val::Int(*f as i64),
            Val::Str(s) => {
                Val::Int(s.trim().parse().map_err(|_| ExprError::Runtime(format!("asInt({s:?}): not an integer")))?)
            }
            other => return rt(format!("asInt of {}", other.type_name())),
        },
        "asFloat" => match one()? {
            Val::Int(i) => Val::Float(*i as f64),
            Val::Float(f) => Val::Float(*f),
            Val::Str(s) => Val::Float(
                parse_go_float(s).ok_or_else(|| ExprError::Runtime(format!("asFloat({s:?}): not a number")))?,
            ),
            other => return rt(format!("asFloat of {}", other.type_name())),
        },
        "now" => Val::Time(now),
        "duration" => {
            let text = string_of(name, one()?)?;
            Val::Duration(
                crate::quantity::go_duration_nanos(text)
                    .ok_or_else(|| ExprError::Runtime(format!("duration({text:?}): not a duration")))?,
            )
        }
        "date" => parse_time(string_of(name, one()?)?)?,
        other => return rt(format!("unknown func {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(text: &str) -> Result<Val, ExprError> {
        let env = Env::new()
            .with("app", json!({
                "metadata": {"name": "web", "annotations": {"a": "b"}},
                "status": {
                    "sync": {"status": "Synced", "revision": "abc"},
                    "health": {"status": "Healthy", "lastTransitionTime": "2026-08-01T10:00:00Z"},
                    "operationState": {"phase": "Succeeded", "syncResult": {"revision": "abc"}, "finishedAt": "2026-08-01T10:01:00Z"},
                    "conditions": [{"type": "SyncError", "message": "x"}, {"type": "Warning", "message": "y"}],
                },
            }))
            .with("result", json!([0.995, 0.5]))
            .with("none", Value::Null)
            .at(1_785_578_400_000_000_000 + 600_000_000_000);
        Program::parse(text)?.eval(&env)
    }

    #[test]
    fn table() {
        let cases: &[(&str, Val)] = &[
            ("1 + 2 * 3", Val::Int(7)),
            ("(1 + 2) * 3", Val::Int(9)),
            ("7 / 2", Val::Float(3.5)),
            ("7 % 3", Val::Int(1)),
            ("2 ** 3 ** 2", Val::Float(512.0)),
            ("-2 ** 2", Val::Float(-4.0)),
            ("1 == 1.0", Val::Bool(true)),
            ("1 < 1.5 and 'a' < 'b'", Val::Bool(true)),
            ("not true || !false", Val::Bool(true)),
            ("true ? 'y' : 'n'", Val::Str("y".into())),
            ("false ? 1 : true ? 2 : 3", Val::Int(2)),
            ("none ?? 'd'", Val::Str("d".into())),
            ("app.metadata.name", Val::Str("web".into())),
            ("app.metadata.missing", Val::Nil),
            ("app.status.operationState?.syncResult?.revision", Val::Str("abc".into())),
            ("none?.a?.b", Val::Nil),
            ("app['metadata']['annotations'].a", Val::Str("b".into())),
            ("app.status.conditions[-1].type", Val::Str("Warning".into())),
            ("app.status.conditions[0:1][0].message", Val::Str("x".into())),
            ("'ab'[1:]", Val::Str("b".into())),
            (
                "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded'] and app.status.health.status == 'Healthy'",
                Val::Bool(true),
            ),
            ("app.status.sync.status not in ['Synced']", Val::Bool(false)),
            ("'a' in {a: 1}", Val::Bool(true)),
            ("app.metadata.name matches '^w.b$'", Val::Bool(true)),
            (
                "app.metadata.name contains 'e' && app.metadata.name startsWith 'we' && app.metadata.name endsWith 'b'",
                Val::Bool(true),
            ),
            ("result[0] >= 0.99", Val::Bool(true)),
            ("all(result, {# > 0.4})", Val::Bool(true)),
            ("any(result, # > 0.999)", Val::Bool(false)),
            ("len(filter(app.status.conditions, {.type == 'SyncError'}))", Val::Int(1)),
            ("map([1, 2], {# * 2})", Val::Array(vec![Val::Int(2), Val::Int(4)])),
            ("count(1..5, # % 2 == 0)", Val::Int(2)),
            ("none([], # > 0) and one([1, 2], # == 1)", Val::Bool(true)),
            ("len('héllo') + len([1]) + len({a: 1})", Val::Int(7)),
            ("{a: [1, 'x']}.a[1]", Val::Str("x".into())),
            ("upper('a') + lower('B') + string(1.5) + trim(' x ')", Val::Str("Ab1.5x".into())),
            ("join(split('a,b', ','), '-')", Val::Str("a-b".into())),
            ("max(1, 3, 2) + min([4, 5])", Val::Int(7)),
            ("isNaN(0.5) || abs(-2) == 2", Val::Bool(true)),
            ("int('42') + int(2.9)", Val::Int(44)),
            ("0x10 + 1_000", Val::Int(1016)),
            ("1e3", Val::Float(1000.0)),
            ("\"a\\tb\" == `a\tb`", Val::Bool(true)),
            ("time.Now().Sub(time.Parse(app.status.health.lastTransitionTime)).Minutes() >= 2", Val::Bool(true)),
            ("time.Now().Sub(time.Parse(app.status.health.lastTransitionTime)) > 9 * time.Minute", Val::Bool(true)),
            (
                "time.Parse(app.status.operationState.finishedAt).After(time.Parse(app.status.health.lastTransitionTime))",
                Val::Bool(true),
            ),
            ("time.Parse('2026-08-01T10:00:00Z').Add(duration('1h')).Unix()", Val::Int(1_785_582_000)),
            ("now() - duration('10m') == time.Parse('2026-08-01T10:00:00Z')", Val::Bool(true)),
            ("strings.ToUpper('a') + strings.ReplaceAll('a-b', '-', '_')", Val::Str("Aa_b".into())),
        ];
        for (text, want) in cases {
            assert_eq!(run(text).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn errors() {
        let cases = [
            ("none.a", "cannot fetch a from <nil>"),
            ("1 and true", "mismatched types"),
            ("'a' + 1", "invalid operation"),
            ("unknown > 1", "unknown name unknown"),
            ("nosuch(1)", "unknown func nosuch"),
            ("result[5]", "index out of range"),
            ("1 +", "syntax error"),
            ("(1", "syntax error"),
            ("'abc", "not terminated"),
            ("1 ; 2", "unexpected character"),
            ("app.metadata.name matches '('", "invalid regex"),
            ("time.Parse('yesterday')", "not RFC 3339"),
        ];
        for (text, needle) in cases {
            let e = run(text).expect_err(text).to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(Program::parse("1").expect("parses").eval_bool(&Env::new()).is_err());
    }

    #[test]
    fn values_print_as_go_prints_them() {
        assert_eq!(run("[1, 'a', nil]").expect("runs").to_string(), "[1 a <nil>]");
        assert_eq!(run("{b: 2, a: true}").expect("runs").to_string(), "map[a:true b:2]");
        assert_eq!(run("duration('90m')").expect("runs").to_string(), "1h30m0s");
        assert_eq!(run("none").expect("runs").to_string(), "<nil>");
    }
}
