//! YAML text to the SOPS tree, as sops' YAML store reads it through go-yaml v3: scalars typed by
//! go-yaml v3's resolver (YAML 1.2 booleans, Go's integer syntax, timestamps), aliases expanded,
//! duplicate keys refused, and comments kept where go-yaml v3 attaches them: lines before an
//! entry stay before it, a comment after a scalar on its line is "inline", lines after the last
//! entry of a block stay at the end of the innermost block they are indented into.

use std::collections::HashMap;

use gitops_core::yaml::go;
use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

use super::FormatError;
use crate::sops::tree::{Branches, Comment, Item, Value};

/// A parsed node with the positions the comment placement needs.
#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    /// 1-based line of the node's first character.
    line: usize,
    /// 0-based column of the node's first character.
    col: usize,
    /// Line of the node's last character.
    end_line: usize,
    flow: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Scalar { text: String, style: ScalarStyle, tag: Option<String> },
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
}

/// A comment found in the text.
#[derive(Debug)]
struct TextComment {
    line: usize,
    col: usize,
    text: String,
    /// Nothing but blanks before it on its line.
    full_line: bool,
    used: bool,
}

/// Reads every document of `text`.
pub(crate) fn read(text: &str) -> Result<Branches, FormatError> {
    let (documents, covered) = parse(text)?;
    let mut comments = find_comments(text, &covered);
    let mut branches = Vec::new();
    for (i, (start_line, root)) in documents.iter().enumerate() {
        let limit = documents.get(i + 1).map_or(usize::MAX, |(line, _)| *line);
        let mut branch = Vec::new();
        match root {
            None => {}
            Some(node) => match &node.kind {
                Kind::Map(_) => {}
                Kind::Seq(_) => {
                    return Err(FormatError::Yaml("YAML documents that are sequences are not supported".into()));
                }
                Kind::Scalar { text, style, .. } => {
                    if !(*style == ScalarStyle::Plain && is_null(text)) {
                        return Err(FormatError::Yaml("YAML documents that are values are not supported".into()));
                    }
                }
            },
        }
        let _ = start_line;
        if let Some(node @ Node { kind: Kind::Map(_), .. }) = root {
            branch = map_to_items(node, &mut comments, (limit, Some(0)), 0)?;
        } else {
            for c in comments.iter_mut().filter(|c| !c.used && c.line < limit) {
                c.used = true;
                branch.push(Item::comment(c.text.clone(), false));
            }
        }
        branches.push(branch);
    }
    Ok(branches)
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// Spans of scalars per line (columns `[from, to)`), so that `#` inside them is no comment.
type Covered = HashMap<usize, Vec<(usize, usize)>>;

/// Each document: the line it starts on and its root node.
type Documents = Vec<(usize, Option<Node>)>;

fn parse(text: &str) -> Result<(Documents, Covered), FormatError> {
    let mut parser = Parser::new_from_str(text);
    let mut covered: Covered = HashMap::new();
    let mut documents = Vec::new();
    let mut stack: Vec<(Node, Option<Node>)> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut open_anchors: Vec<usize> = Vec::new();
    let mut doc_line = 1;
    let mut root: Option<Node> = None;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            FormatError::Yaml(format!("line {}, column {}: {}", e.marker().line(), e.marker().col() + 1, e.info()))
        })?;
        let (line, col) = (span.start.line(), span.start.col());
        let done = match event {
            Event::DocumentStart(..) => {
                doc_line = line;
                root = None;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                documents.push((doc_line, root.take()));
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let (end_line, end_col) = (span.end.line(), span.end.col());
                for l in line..=end_line {
                    let from = if l == line { col } else { 0 };
                    let to = if l == end_line { end_col } else { usize::MAX };
                    covered.entry(l).or_default().push((from, to));
                }
                let tag = tag.map(|t| t.suffix().to_string());
                let node = Node {
                    kind: Kind::Scalar { text: value.into_owned(), style, tag },
                    line,
                    col,
                    end_line: if end_col == 0 && end_line > line { end_line - 1 } else { end_line },
                    flow: false,
                };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(target) => Some(Node { line, col, end_line: line, ..target.clone() }),
                None => return Err(FormatError::Yaml(format!("line {line}: unknown anchor"))),
            },
            Event::SequenceStart(style, anchor, _) | Event::MappingStart(style, anchor, _) => {
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Vec::new())
                };
                open_anchors.push(anchor);
                stack.push((Node { kind, line, col, end_line: line, flow: style == StructureStyle::Flow }, None));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (mut node, _) = stack.pop().ok_or_else(|| FormatError::Yaml("unbalanced YAML events".into()))?;
                node.end_line = last_line(&node).max(if node.flow { span.start.line() } else { 0 });
                let anchor = open_anchors.pop().unwrap_or(0);
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            _ => None,
        };
        let Some(node) = done else { continue };
        match stack.last_mut() {
            None => root = Some(node),
            Some((parent, pending)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => {
                        if let (Kind::Scalar { text: new, .. }, true) = (&key.kind, true) {
                            let dup = entries
                                .iter()
                                .any(|(k, _)| matches!(&k.kind, Kind::Scalar { text, .. } if text == new));
                            if dup {
                                return Err(FormatError::Yaml(format!(
                                    "line {}: mapping key \"{new}\" already defined",
                                    key.line
                                )));
                            }
                        }
                        entries.push((key, node));
                    }
                },
                Kind::Scalar { .. } => {}
            },
        }
    }
    Ok((documents, covered))
}

fn last_line(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar { .. } => node.end_line,
        Kind::Map(entries) => entries.last().map_or(node.line, |(_, v)| last_line(v)),
        Kind::Seq(items) => items.last().map_or(node.line, last_line),
    }
}

/// Every `#` that starts a comment: at a line's start or after a blank, outside scalars.
fn find_comments(text: &str, covered: &Covered) -> Vec<TextComment> {
    let mut found = Vec::new();
    for (i, line_text) in text.split('\n').enumerate() {
        let line = i + 1;
        let spans = covered.get(&line);
        let mut prev_blank = true;
        let mut only_blanks = true;
        for (col, ch) in line_text.chars().enumerate() {
            let inside = spans.is_some_and(|s| s.iter().any(|&(a, b)| col >= a && col < b));
            if ch == '#' && prev_blank && !inside {
                let text: String = line_text.chars().skip(col + 1).collect();
                let text = text.strip_suffix('\r').unwrap_or(&text).to_string();
                found.push(TextComment { line, col, text, full_line: only_blanks, used: false });
                break;
            }
            prev_blank = ch == ' ' || ch == '\t';
            only_blanks &= prev_blank;
        }
    }
    found
}

/// Full-line comments before `line` not taken yet, as comments of the entry that follows.
fn heads(comments: &mut [TextComment], line: usize) -> Vec<String> {
    let mut out = Vec::new();
    for c in comments.iter_mut().filter(|c| !c.used && c.full_line && c.line < line) {
        c.used = true;
        out.push(c.text.clone());
    }
    out
}

/// A comment on one of `lines` after the content.
fn trailing(comments: &mut [TextComment], from: usize, to: usize) -> Vec<String> {
    let mut out = Vec::new();
    for c in comments.iter_mut().filter(|c| !c.used && !c.full_line && c.line >= from && c.line <= to) {
        c.used = true;
        out.push(c.text.clone());
    }
    out
}

/// Full-line comments after a block's last entry that are indented deeper than what follows
/// the block (go-yaml v3 gives them to the innermost block), up to the first one that is not.
/// `beyond: None` takes every one (the end of a document).
fn feet(comments: &mut [TextComment], after: usize, limit: usize, beyond: Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    for c in comments.iter_mut().filter(|c| !c.used && c.line > after && c.line < limit) {
        if !c.full_line || beyond.is_some_and(|col| c.col <= col) {
            break;
        }
        c.used = true;
        out.push(c.text.clone());
    }
    out
}

/// `limit` is where the block ends: the line and column of what follows it (`None` at the end
/// of a document).
type Limit = (usize, Option<usize>);

fn map_to_items(
    node: &Node,
    comments: &mut [TextComment],
    limit: Limit,
    depth: usize,
) -> Result<Vec<Item>, FormatError> {
    let Kind::Map(entries) = &node.kind else { return Ok(Vec::new()) };
    if depth > 256 {
        return Err(FormatError::Yaml("YAML nested too deeply".into()));
    }
    let mut items = Vec::new();
    for (i, (key, value)) in entries.iter().enumerate() {
        let next = entries.get(i + 1).map_or(limit, |(k, _)| (k.line, Some(k.col)));
        for text in heads(comments, key.line) {
            items.push(Item::comment(text, false));
        }
        let key_text = match &key.kind {
            Kind::Scalar { text, style, tag } => match scalar(text, *style, tag.as_deref())? {
                Value::Str(s) => s,
                other => {
                    return Err(FormatError::Yaml(format!(
                        "line {}: Tree contains a non-string key ({}): {text}. Only string keys are supported",
                        key.line,
                        type_name(&other)
                    )));
                }
            },
            _ => return Err(FormatError::Yaml(format!("line {}: only string keys are supported", key.line))),
        };
        let converted = match &value.kind {
            Kind::Scalar { text, style, tag } => {
                for text in trailing(comments, key.line, value.end_line) {
                    items.push(Item::comment(text, true));
                }
                scalar(text, *style, tag.as_deref())?
            }
            _ => {
                let to = if value.flow { value.end_line } else { key.line };
                for text in trailing(comments, key.line, to) {
                    items.push(Item::comment(text, false));
                }
                collection(value, comments, next, depth + 1)?
            }
        };
        items.push(Item::new(key_text, converted));
    }
    let beyond = if depth == 0 { None } else { limit.1 };
    for text in feet(comments, last_line(node), limit.0, beyond) {
        items.push(Item::comment(text, false));
    }
    Ok(items)
}

fn collection(node: &Node, comments: &mut [TextComment], limit: Limit, depth: usize) -> Result<Value, FormatError> {
    match &node.kind {
        Kind::Map(_) => Ok(Value::Map(map_to_items(node, comments, limit, depth)?)),
        Kind::Seq(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                // What follows an item is the next item's dash.
                let next = items.get(i + 1).map_or(limit, |n| (n.line, Some(n.col.saturating_sub(2))));
                for text in heads(comments, item.line) {
                    out.push(Value::Comment(Comment { text, inline: false }));
                }
                match &item.kind {
                    Kind::Scalar { text, style, tag } => {
                        for text in trailing(comments, item.line, item.end_line) {
                            out.push(Value::Comment(Comment { text, inline: true }));
                        }
                        out.push(scalar(text, *style, tag.as_deref())?);
                    }
                    _ => out.push(collection(item, comments, next, depth + 1)?),
                }
            }
            for text in feet(comments, last_line(node), limit.0, limit.1) {
                out.push(Value::Comment(Comment { text, inline: false }));
            }
            Ok(Value::Seq(out))
        }
        Kind::Scalar { text, style, tag } => scalar(text, *style, tag.as_deref()),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Null => "<nil>",
        Value::Time(_) => "time.Time",
        _ => "string",
    }
}

/// A scalar typed as go-yaml v3 decodes it into an untyped Go value.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, FormatError> {
    match tag {
        Some("str") | Some("binary") => return Ok(Value::Str(text.to_string())),
        Some("timestamp") => return Ok(resolve(text, true)),
        Some("int" | "float" | "bool" | "null") => return Ok(resolve(text, false)),
        Some(_) => return Ok(Value::Str(text.to_string())),
        None => {}
    }
    if style == ScalarStyle::Plain { Ok(resolve(text, true)) } else { Ok(Value::Str(text.to_string())) }
}

/// go-yaml v3's `resolve` for an untagged plain scalar.
pub(crate) fn resolve(text: &str, timestamps: bool) -> Value {
    match text {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        if let Some(f) = go::parse_float(text) {
            return Value::Float(f);
        }
    } else if first.is_ascii_digit() || first == b'+' || first == b'-' {
        if timestamps && let Some(t) = super::time::parse_yaml_timestamp(text) {
            return Value::Time(t);
        }
        let plain = text.replace('_', "");
        if let Some(n) = go::parse_int(&plain) {
            return match n {
                go::GoInt::Signed(i) => Value::Int(i),
                // A uint64 beyond int64: sops cannot walk it either; keep the text.
                go::GoInt::Unsigned(_) => Value::Str(text.to_string()),
            };
        }
        if go::is_float_syntax(&plain)
            && let Some(f) = go::parse_float(&plain)
        {
            return Value::Float(f);
        }
    }
    Value::Str(text.to_string())
}

/// Whether go-yaml v3 reads `s`, written plain, back as the same string.
pub(crate) fn resolve_plain_is_str(s: &str) -> bool {
    if s.is_empty() || !matches!(resolve(s, true), Value::Str(_)) {
        return false;
    }
    // An integer beyond int64 is still an integer to go-yaml.
    let first = s.as_bytes()[0];
    !((first.is_ascii_digit() || first == b'+' || first == b'-') && go::parse_int(&s.replace('_', "")).is_some())
}
