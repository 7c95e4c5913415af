//! Editing YAML text in place: a scalar set, a missing key added, an item appended, with every
//! other byte kept (comments, order, indentation, quoting, blank lines, `---`).
//!
//! Image automation writes into files people maintain by hand (a kustomization's `images:`,
//! a chart's `values.yaml`); re-serialising a tree would reflow them and drop comments. Edits
//! are made on the text at the positions the parser reports, then the result is read again
//! and checked to hold the value written, so a quoting mistake is an error, never a silently
//! different file.
//!
//! # Example
//!
//! ```
//! use gitops_core::yaml::edit::{set, Step};
//!
//! let text = "image:\n  repository: nginx # upstream\n";
//! let out = set(text, &[Step::key("image"), Step::key("tag")], "1.27")?;
//! assert_eq!(out, "image:\n  repository: nginx # upstream\n  tag: \"1.27\"\n");
//! # Ok::<(), gitops_core::yaml::edit::EditError>(())
//! ```

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};
use serde_json::Value;

use crate::yaml;

/// One step of a path into the first document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl Step {
    /// A key step.
    pub fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }
}

/// Why an edit cannot be made; the text is not changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The text does not read as YAML.
    #[error("does not read as YAML: {0}")]
    Syntax(String),
    /// The path runs into something that cannot be edited in place.
    #[error("`{path}`: {problem}")]
    Path {
        /// The path, dotted.
        path: String,
        /// What is in the way.
        problem: String,
    },
    /// The edited text would not read back as written.
    #[error("`{path}`: the edit would not read back as {value:?}")]
    Unreadable {
        /// The path.
        path: String,
        /// The value written.
        value: String,
    },
}

#[derive(Debug)]
enum Kind {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Scalar(String, ScalarStyle),
    Other,
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    /// Byte where the node starts (for a block collection: its first child).
    start: usize,
    /// Byte where the node ends (for a block collection: its last child's end).
    end: usize,
    flow: bool,
    /// For a mapping entry's value: where its key ends (after the key, before `:`).
    key_end: usize,
}

/// Sets the scalar at `path` in the first document of `text` to the string `value`, adding
/// missing mapping keys (in block style, indented as their siblings). The scalar keeps its
/// quoting; a plain one that would not read back as the string is double-quoted.
pub fn set(text: &str, path: &[Step], value: &str) -> Result<String, EditError> {
    let shown = dotted(path);
    let root = parse(text)?;
    let edited = match root {
        None => {
            // An empty document: the path is written from the first column.
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&block(path, value, 0, &shown)?);
            out.push('\n');
            out
        }
        Some(root) => set_in(text, &root, path, value, &shown)?,
    };
    check(&edited, path, value, &shown)?;
    Ok(edited)
}

/// Appends a mapping of string `entries` as a new item of the block sequence at `path`
/// (created as `key:` with the item when the key is missing).
pub fn append_item(text: &str, path: &[Step], entries: &[(&str, &str)]) -> Result<String, EditError> {
    let shown = dotted(path);
    let bad = |problem: &str| EditError::Path { path: shown.clone(), problem: problem.into() };
    let Some((first, rest)) = entries.split_first() else { return Err(bad("nothing to append")) };
    let root = parse(text)?.ok_or_else(|| bad("the document is empty"))?;
    let out = match walk(&root, path) {
        Walked::Found(node) => {
            let Kind::Seq(items) = &node.kind else { return Err(bad("is not a sequence")) };
            let Some(last) = items.last() else {
                return Err(bad("is an empty sequence; write its first item by hand"));
            };
            if node.flow {
                return Err(bad("is a flow sequence (`[...]`); only block sequences are edited"));
            }
            let dash = dash_column(text, last.start).ok_or_else(|| bad("item without `-`"))?;
            let (at, newline) = line_end(text, last.end);
            let pad = " ".repeat(dash);
            let mut item = format!("{newline}{pad}- {}: {}", first.0, render(first.1, ScalarStyle::Plain));
            for (k, v) in rest {
                item.push_str(&format!("{newline}{pad}  {k}: {}", render(v, ScalarStyle::Plain)));
            }
            splice(text, at, at, &item)
        }
        Walked::MissingKey(parent, at) if at + 1 == path.len() => {
            // The sequence is missing: `key:` with the item, below the parent's last entry.
            let Kind::Map(entries) = &parent.kind else { return Err(bad("is not in a mapping")) };
            let Some((_, last)) = entries.last().filter(|_| !parent.flow) else {
                return Err(bad("is in a flow or empty mapping; only block mappings get new keys"));
            };
            let indent = column(text, entries[0].1.key_start(text));
            let (at_byte, newline) = line_end(text, last.end);
            let pad = " ".repeat(indent);
            let Step::Key(key) = &path[at] else { return Err(bad("is not a key")) };
            let mut item = format!(
                "{newline}{pad}{}:{newline}{pad}  - {}: {}",
                render(key, ScalarStyle::Plain),
                first.0,
                render(first.1, ScalarStyle::Plain)
            );
            for (k, v) in rest {
                item.push_str(&format!("{newline}{pad}    {k}: {}", render(v, ScalarStyle::Plain)));
            }
            splice(text, at_byte, at_byte, &item)
        }
        Walked::MissingKey(..) => return Err(bad("its parent is missing")),
        Walked::Blocked(problem) => return Err(bad(problem)),
    };
    yaml::parse_documents(&out).map_err(|_| EditError::Unreadable { path: shown.clone(), value: first.1.into() })?;
    Ok(out)
}

/// The value at `path` of the first document, read as Kubernetes reads it.
fn value_at<'a>(doc: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, s| match s {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(*i),
    })
}

fn check(edited: &str, path: &[Step], value: &str, shown: &str) -> Result<(), EditError> {
    let unreadable = || EditError::Unreadable { path: shown.to_string(), value: value.to_string() };
    let docs = yaml::parse_documents(edited).map_err(|_| unreadable())?;
    let first = docs.first().ok_or_else(unreadable)?;
    match value_at(&first.value, path) {
        Some(Value::String(s)) if s == value => Ok(()),
        _ => Err(unreadable()),
    }
}

fn dotted(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(i) => format!("[{i}]"),
        })
        .collect::<Vec<_>>()
        .join(".")
}

enum Walked<'a> {
    Found(&'a Node),
    /// The path stops at `parent` (a mapping), before step `at`.
    MissingKey(&'a Node, usize),
    /// Something else is in the way at step `at`.
    Blocked(&'static str),
}

fn walk<'a>(root: &'a Node, path: &[Step]) -> Walked<'a> {
    let mut node = root;
    for (i, step) in path.iter().enumerate() {
        match (&node.kind, step) {
            (Kind::Map(entries), Step::Key(k)) => match entries.iter().find(|(key, _)| key == k) {
                Some((_, child)) => node = child,
                None => return Walked::MissingKey(node, i),
            },
            (Kind::Seq(items), Step::Index(n)) => match items.get(*n) {
                Some(child) => node = child,
                None => return Walked::Blocked("index past the end of the sequence"),
            },
            (Kind::Scalar(s, ScalarStyle::Plain), Step::Key(_)) if s.is_empty() || s == "~" || s == "null" => {
                return Walked::MissingKey(node, i);
            }
            (Kind::Map(_), Step::Index(_)) => return Walked::Blocked("is a mapping, not a sequence"),
            (Kind::Seq(_), Step::Key(_)) => return Walked::Blocked("is a sequence, not a mapping"),
            _ => return Walked::Blocked("is a scalar or an alias, not a collection"),
        }
    }
    Walked::Found(node)
}

fn set_in(text: &str, root: &Node, path: &[Step], value: &str, shown: &str) -> Result<String, EditError> {
    let bad = |problem: &str| EditError::Path { path: shown.to_string(), problem: problem.into() };
    match walk(root, path) {
        Walked::Found(node) => match &node.kind {
            Kind::Scalar(_, style) => {
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    return Err(bad("is a block scalar (`|` or `>`); only one-line scalars are set"));
                }
                Ok(splice(text, node.start, node.end, &render(value, *style)))
            }
            _ => Err(bad("is a collection, not a scalar")),
        },
        Walked::Blocked(problem) => Err(bad(problem)),
        Walked::MissingKey(parent, at) => {
            let rest = &path[at..];
            if rest.iter().any(|s| matches!(s, Step::Index(_))) {
                return Err(bad("a missing key holds a sequence; write it by hand"));
            }
            match &parent.kind {
                Kind::Map(entries) if !parent.flow && !entries.is_empty() => {
                    let (_, last) = entries.last().expect("not empty");
                    let indent = column(text, entries[0].1.key_start(text));
                    let (at_byte, newline) = line_end(text, last.end);
                    let body = block(rest, value, indent, shown)?.replace('\n', newline);
                    Ok(splice(text, at_byte, at_byte, &format!("{newline}{}{body}", " ".repeat(indent))))
                }
                Kind::Scalar(..) => {
                    // `key:` with nothing after it: the new keys go below, indented by two.
                    let indent = column(text, parent.key_start(text)) + 2;
                    let (_, newline) = line_end(text, parent.key_end);
                    let body = block(rest, value, indent, shown)?.replace('\n', newline);
                    // A written `~` or `null` goes; the keys take its place.
                    let out = splice(text, parent.start, parent.end, "");
                    let (at_byte, _) = line_end(&out, parent.key_end);
                    Ok(splice(&out, at_byte, at_byte, &format!("{newline}{}{body}", " ".repeat(indent))))
                }
                _ => Err(bad("is a flow or empty mapping; only block mappings get new keys")),
            }
        }
    }
}

impl Node {
    /// Where the key of this value starts (the start of the key's line's text).
    fn key_start(&self, text: &str) -> usize {
        let line_start = text[..self.key_end.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
        let indent = text[line_start..].len() - text[line_start..].trim_start_matches([' ', '-']).len();
        line_start + indent
    }
}

/// `a:\n  b: value` for the path `[a, b]`, indented by `indent` after the first line.
fn block(path: &[Step], value: &str, indent: usize, shown: &str) -> Result<String, EditError> {
    let mut out = String::new();
    for (i, step) in path.iter().enumerate() {
        let Step::Key(k) = step else {
            return Err(EditError::Path { path: shown.into(), problem: "cannot create a sequence item here".into() });
        };
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2 * i));
        }
        out.push_str(&render(k, ScalarStyle::Plain));
        out.push(':');
        if i + 1 == path.len() {
            out.push(' ');
            out.push_str(&render(value, ScalarStyle::Plain));
        }
    }
    Ok(out)
}

fn splice(text: &str, from: usize, to: usize, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..from]);
    out.push_str(with);
    out.push_str(&text[to..]);
    out
}

/// The end of the line holding byte `at` (before `\r\n` or `\n`), and that line ending.
fn line_end(text: &str, at: usize) -> (usize, &'static str) {
    match text[at..].find('\n') {
        Some(i) if text[..at + i].ends_with('\r') => (at + i - 1, "\r\n"),
        Some(i) => (at + i, "\n"),
        None => (text.len(), "\n"),
    }
}

fn column(text: &str, at: usize) -> usize {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..at].chars().count()
}

/// The column of the `-` that introduces the sequence item starting at `at`.
fn dash_column(text: &str, at: usize) -> Option<usize> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..at];
    let dash = before.rfind('-')?;
    Some(before[..dash].chars().count())
}

/// `value` written in `style`, or double-quoted when a plain scalar would not read back as
/// the same string.
pub fn render(value: &str, style: ScalarStyle) -> String {
    match style {
        ScalarStyle::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        ScalarStyle::Plain if plain_is_safe(value) => value.to_string(),
        _ => serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\"")),
    }
}

/// Whether `value` written plain reads back as that string (YAML 1.1, as Kubernetes and Helm
/// read it).
pub fn plain_is_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else { return false };
    let indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    !indicator
        && value.chars().all(|c| !c.is_control() && c != '\u{feff}')
        && value.trim() == value
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.ends_with(':')
        && matches!(yaml::resolve_plain(value), Value::String(_))
}

/// The first document of `text` as a tree of positions; `None` when it is empty.
fn parse(text: &str) -> Result<Option<Node>, EditError> {
    let mut parser = Parser::new_from_str(text);
    // Open collections: the node, and for a mapping the key waiting for its value.
    let mut stack: Vec<(Node, Option<(String, usize)>)> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let m = e.marker();
            EditError::Syntax(format!("line {} column {}: {}", m.line(), m.col() + 1, e.info()))
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        let node = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    break;
                }
                continue;
            }
            Event::DocumentEnd => break,
            Event::MappingStart(style, ..) | Event::SequenceStart(style, ..) => {
                let kind = if matches!(event, Event::MappingStart(..)) {
                    Kind::Map(Vec::new())
                } else {
                    Kind::Seq(Vec::new())
                };
                let flow = style == StructureStyle::Flow;
                stack.push((Node { kind, start: range.start, end: range.end, flow, key_end: 0 }, None));
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some((mut node, _)) = stack.pop() else { continue };
                if node.flow {
                    node.end = range.end;
                }
                node
            }
            Event::Scalar(value, style, ..) => Node {
                kind: Kind::Scalar(value.into_owned(), style),
                start: range.start,
                end: range.end,
                flow: false,
                key_end: 0,
            },
            Event::Alias(_) => Node { kind: Kind::Other, start: range.start, end: range.end, flow: false, key_end: 0 },
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some((parent, pending)) => {
                if !parent.flow || parent.start == parent.end {
                    parent.end = parent.end.max(node.end);
                }
                match &mut parent.kind {
                    Kind::Seq(items) => {
                        if items.is_empty() && !parent.flow {
                            parent.start = node.start;
                        }
                        items.push(node);
                    }
                    Kind::Map(entries) => match pending.take() {
                        None => {
                            let key = match &node.kind {
                                Kind::Scalar(k, _) => k.clone(),
                                _ => String::new(),
                            };
                            *pending = Some((key, node.end));
                        }
                        Some((key, key_end)) => {
                            let mut node = node;
                            node.key_end = key_end;
                            if node.start < key_end {
                                // An empty value is reported at the key; it sits after it.
                                node.start = key_end;
                                node.end = key_end;
                            }
                            entries.push((key, node));
                        }
                    },
                    _ => {}
                }
            }
        }
    }
    Ok(root.filter(|r| !matches!(&r.kind, Kind::Scalar(s, ScalarStyle::Plain) if s.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: &str) -> Vec<Step> {
        path.split('.').map(Step::key).collect()
    }

    #[test]
    fn sets_an_existing_scalar_keeping_its_quotes_and_the_rest() {
        let text = "# values\nimage:\n  repository: 'nginx'   # upstream\n  tag: \"1.0\"\n\nreplicas: 2\n";
        let out = set(text, &keys("image.tag"), "1.27.2").unwrap();
        assert_eq!(out, text.replace("\"1.0\"", "\"1.27.2\""));
        let out = set(text, &keys("image.repository"), "docker.io/library/nginx").unwrap();
        assert_eq!(out, text.replace("'nginx'", "'docker.io/library/nginx'"));
    }

    #[test]
    fn adds_missing_keys_at_their_siblings_indentation() {
        let text = "image:\n    repository: nginx\n    pullPolicy: IfNotPresent # why\nother: x\n";
        let out = set(text, &keys("image.tag"), "1.2.3").unwrap();
        assert_eq!(
            out,
            "image:\n    repository: nginx\n    pullPolicy: IfNotPresent # why\n    tag: 1.2.3\nother: x\n"
        );
        let out = set(text, &keys("app.image.tag"), "v2").unwrap();
        assert_eq!(out, format!("{text}app:\n  image:\n    tag: v2\n"));
    }

    #[test]
    fn fills_a_key_with_no_value() {
        let text = "image:\nother: 1\n";
        let out = set(text, &keys("image.tag"), "v1").unwrap();
        assert_eq!(out, "image:\n  tag: v1\nother: 1\n");
        let out = set("image: ~ # none yet\n", &keys("image.tag"), "v1").unwrap();
        assert_eq!(out, "image:  # none yet\n  tag: v1\n");
    }

    #[test]
    fn writes_into_an_empty_file() {
        assert_eq!(set("", &keys("image.tag"), "1.0").unwrap(), "image:\n  tag: \"1.0\"\n");
        assert_eq!(set("# only a comment\n", &keys("a"), "b").unwrap(), "# only a comment\na: b\n");
    }

    #[test]
    fn sequence_items_are_set_and_appended() {
        let text = "images:\n- name: nginx\n  newTag: 1.0.0 # pinned\n- name: redis\n";
        let out = set(text, &[Step::key("images"), Step::Index(1), Step::key("newTag")], "7.2").unwrap();
        assert_eq!(out, "images:\n- name: nginx\n  newTag: 1.0.0 # pinned\n- name: redis\n  newTag: \"7.2\"\n");
        let out = append_item(text, &[Step::key("images")], &[("name", "app"), ("newTag", "v3")]).unwrap();
        assert_eq!(out, format!("{text}- name: app\n  newTag: v3\n"));
        let indented = "images:\n  - name: nginx\nresources: [a.yaml]\n";
        let out = append_item(indented, &[Step::key("images")], &[("name", "app")]).unwrap();
        assert_eq!(out, "images:\n  - name: nginx\n  - name: app\nresources: [a.yaml]\n");
        let none = "resources:\n- a.yaml\n";
        let out = append_item(none, &[Step::key("images")], &[("name", "app"), ("newTag", "v3")]).unwrap();
        assert_eq!(out, "resources:\n- a.yaml\nimages:\n  - name: app\n    newTag: v3\n");
    }

    #[test]
    fn what_cannot_be_edited_in_place_is_named() {
        let err = set("a: [1, 2]\n", &keys("a.b"), "x").unwrap_err();
        assert_eq!(err.to_string(), "`a.b`: is a sequence, not a mapping");
        let err = set("a: {b: 1}\n", &keys("a.c"), "x").unwrap_err();
        assert!(err.to_string().contains("flow or empty mapping"), "{err}");
        let err = set("a: |\n  text\n", &keys("a"), "x").unwrap_err();
        assert!(err.to_string().contains("block scalar"), "{err}");
        assert!(matches!(set("a: [\n", &keys("a"), "x"), Err(EditError::Syntax(_))));
    }

    #[test]
    fn crlf_line_ends_are_kept() {
        let out = set("image:\r\n  repository: x\r\n", &keys("image.tag"), "v1").unwrap();
        assert_eq!(out, "image:\r\n  repository: x\r\n  tag: v1\r\n");
    }
}
