//! The SOPS tree to YAML text exactly as sops prints it: sops turns its tree into go-yaml v3
//! nodes (comments gathered into head, line and foot comments) and go-yaml v3's emitter writes
//! them. This module does both steps the same way, block style only (sops never asks for flow
//! style; empty collections come out as `{}` and `[]`), without line folding (go-yaml v3 sets
//! no width), with the indentation sops configures (4 by default).

use crate::sops::tree::{Branches, Comment, Item, Key, Value};

/// A go-yaml v3 node as sops builds it before encoding.
struct YNode {
    kind: YKind,
    head: String,
    line: String,
    foot: String,
}

enum YKind {
    Map(Vec<YNode>),
    Seq(Vec<YNode>),
    Scalar(String, Style),
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

impl YNode {
    fn new(kind: YKind) -> Self {
        YNode { kind, head: String::new(), line: String::new(), foot: String::new() }
    }
}

fn join(comments: &mut Vec<String>) -> Option<String> {
    if comments.is_empty() {
        return None;
    }
    let joined = format!("#{}", comments.join("\n#"));
    comments.clear();
    Some(joined)
}

fn add_head(node: &mut YNode, comments: &mut Vec<String>) {
    if let Some(c) = join(comments) {
        node.head = if node.head.is_empty() { c } else { format!("{c}\n{}", node.head) };
    }
}

fn add_foot(node: &mut YNode, comments: &mut Vec<String>) {
    if let Some(c) = join(comments) {
        node.foot = if node.foot.is_empty() { c } else { format!("{}\n{c}", node.foot) };
    }
}

fn add_line(node: &mut YNode, comments: &mut Vec<String>) {
    if let Some(c) = join(comments) {
        node.line = if node.line.is_empty() { c } else { format!("{}\n{c}", node.line) };
    }
}

fn value_node(value: &Value) -> YNode {
    match value {
        Value::Map(items) => branch_node(items),
        Value::Seq(values) => seq_node(values),
        other => YNode::new(scalar_of(other)),
    }
}

/// The scalar go-yaml v3 encodes a Go value as (`Node.Encode`).
fn scalar_of(value: &Value) -> YKind {
    match value {
        Value::Null => YKind::Scalar("null".into(), Style::Plain),
        Value::Str(s) => YKind::Scalar(s.clone(), string_style(s)),
        Value::Int(i) => YKind::Scalar(i.to_string(), Style::Plain),
        Value::Float(f) => {
            let s = match crate::sops::tree::go_float_g(*f).as_str() {
                "+Inf" => ".inf".to_string(),
                "-Inf" => "-.inf".to_string(),
                "NaN" => ".nan".to_string(),
                s => s.to_string(),
            };
            YKind::Scalar(s, Style::Plain)
        }
        Value::Bool(b) => YKind::Scalar(b.to_string(), Style::Plain),
        Value::Time(t) => YKind::Scalar(t.clone(), Style::Plain),
        Value::Comment(c) => YKind::Scalar(c.text.clone(), string_style(&c.text)),
        Value::Map(_) | Value::Seq(_) => YKind::Scalar(String::new(), Style::Plain),
    }
}

/// go-yaml v3's `stringv`: literal when multi-line, plain when the text reads back as the same
/// string (and is no YAML 1.1 boolean or base-60 float), double-quoted otherwise.
fn string_style(s: &str) -> Style {
    if s.contains('\n') {
        return Style::Literal;
    }
    let plain_ok =
        super::yaml_read::resolve_plain_is_str(s) && !is_old_bool(s) && !gitops_core::yaml::go::is_base60_float(s);
    if plain_ok { Style::Plain } else { Style::Double }
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF"
    )
}

/// sops' `appendSequence`.
fn seq_node(values: &[Value]) -> YNode {
    let mut seq = YNode::new(YKind::Seq(Vec::new()));
    let mut heads = Vec::new();
    let mut lines = Vec::new();
    let mut beginning = true;
    let mut content = Vec::new();
    for value in values {
        if let Value::Comment(Comment { text, inline }) = value {
            if *inline {
                lines.push(text.clone())
            } else {
                heads.push(text.clone())
            }
            continue;
        }
        if beginning {
            add_head(&mut seq, &mut heads);
            beginning = false;
        }
        let mut node = value_node(value);
        add_head(&mut node, &mut heads);
        add_line(&mut node, &mut lines);
        content.push(node);
    }
    heads.append(&mut lines);
    if !heads.is_empty() {
        match content.last_mut() {
            Some(last) if !beginning => add_foot(last, &mut heads),
            _ => add_head(&mut seq, &mut heads),
        }
    }
    seq.kind = YKind::Seq(content);
    seq
}

/// sops' `appendTreeBranch`.
fn branch_node(items: &[Item]) -> YNode {
    let mut map = YNode::new(YKind::Map(Vec::new()));
    let mut heads = Vec::new();
    let mut lines = Vec::new();
    let mut beginning = true;
    let mut content: Vec<YNode> = Vec::new();
    for item in items {
        let key = match &item.key {
            Key::Comment(Comment { text, inline }) => {
                if *inline {
                    lines.push(text.clone())
                } else {
                    heads.push(text.clone())
                }
                continue;
            }
            Key::Str(k) => k,
        };
        if beginning {
            add_head(&mut map, &mut heads);
            beginning = false;
        }
        let mut key_node = YNode::new(YKind::Scalar(key.clone(), string_style(key)));
        add_head(&mut key_node, &mut heads);
        let mut value = value_node(&item.value);
        add_line(&mut value, &mut lines);
        content.push(key_node);
        content.push(value);
    }
    heads.append(&mut lines);
    if !heads.is_empty() {
        if beginning {
            add_head(&mut map, &mut heads);
        } else {
            let n = content.len();
            add_foot(&mut content[n - 2], &mut heads);
        }
    }
    map.kind = YKind::Map(content);
    map
}

// ---- events, as go-yaml v3's encoder produces them from nodes ----

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    StreamStart,
    StreamEnd,
    DocStart,
    DocEnd,
    MapStart,
    MapEnd,
    SeqStart,
    SeqEnd,
    Scalar(String, Style),
}

#[derive(Debug, Clone)]
struct Event {
    ev: Ev,
    head: String,
    line: String,
    foot: String,
    tail: String,
}

fn event(ev: Ev) -> Event {
    Event { ev, head: String::new(), line: String::new(), foot: String::new(), tail: String::new() }
}

fn node_events(node: &YNode, tail: &str, out: &mut Vec<Event>) {
    match &node.kind {
        YKind::Seq(items) => {
            out.push(Event { head: node.head.clone(), ..event(Ev::SeqStart) });
            for item in items {
                node_events(item, "", out);
            }
            out.push(Event { line: node.line.clone(), foot: node.foot.clone(), ..event(Ev::SeqEnd) });
        }
        YKind::Map(content) => {
            out.push(Event { head: node.head.clone(), tail: tail.to_string(), ..event(Ev::MapStart) });
            let mut tail = String::new();
            for pair in content.chunks(2) {
                let key = &pair[0];
                let foot = key.foot.clone();
                let stripped = YNode {
                    kind: clone_kind(&key.kind),
                    head: key.head.clone(),
                    line: key.line.clone(),
                    foot: String::new(),
                };
                node_events(&stripped, &tail, out);
                tail = foot;
                if let Some(value) = pair.get(1) {
                    node_events(value, "", out);
                }
            }
            out.push(Event { tail, line: node.line.clone(), foot: node.foot.clone(), ..event(Ev::MapEnd) });
        }
        YKind::Scalar(value, style) => out.push(Event {
            ev: Ev::Scalar(value.clone(), *style),
            head: node.head.clone(),
            line: node.line.clone(),
            foot: node.foot.clone(),
            tail: tail.to_string(),
        }),
    }
}

fn clone_kind(kind: &YKind) -> YKind {
    match kind {
        YKind::Scalar(v, s) => YKind::Scalar(v.clone(), *s),
        // Keys are scalars in a sops tree.
        YKind::Map(_) | YKind::Seq(_) => YKind::Scalar(String::new(), Style::Plain),
    }
}

/// The YAML text of `branches`, one document each, as sops' YAML store emits them.
pub(crate) fn write(branches: &Branches, indent: usize) -> String {
    let mut events = vec![event(Ev::StreamStart)];
    for branch in branches {
        events.push(event(Ev::DocStart));
        node_events(&branch_node(branch), "", &mut events);
        events.push(event(Ev::DocEnd));
    }
    events.push(event(Ev::StreamEnd));
    let mut emitter = Emitter::new(indent);
    emitter.run(&events);
    emitter.out
}

// ---- the emitter: go-yaml v3's state machine for block style ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    StreamStart,
    FirstDocStart,
    DocStart,
    DocContent,
    DocEnd,
    FlowSeqFirst,
    FlowMapFirst,
    BlockSeqFirst,
    BlockSeqItem,
    BlockMapFirst,
    BlockMapKey,
    BlockMapSimpleValue,
    BlockMapValue,
    End,
}

struct Scalar {
    multiline: bool,
    block_plain: bool,
    single_ok: bool,
    block_ok: bool,
    style: Style,
}

struct Emitter {
    out: String,
    best_indent: i64,
    state: State,
    states: Vec<State>,
    indent: i64,
    indents: Vec<i64>,
    column: i64,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    foot_indent: i64,
    flow_level: i64,
    root_context: bool,
    mapping_context: bool,
    simple_key_context: bool,
    head: String,
    line: String,
    foot: String,
    tail: String,
    key_line: String,
    scalar: Option<Scalar>,
}

impl Emitter {
    fn new(indent: usize) -> Self {
        let best_indent = if (2..=9).contains(&indent) { indent as i64 } else { 2 };
        Emitter {
            out: String::new(),
            best_indent,
            state: State::StreamStart,
            states: Vec::new(),
            indent: -1,
            indents: Vec::new(),
            column: 0,
            whitespace: true,
            indention: true,
            open_ended: false,
            foot_indent: -1,
            flow_level: 0,
            root_context: false,
            mapping_context: false,
            simple_key_context: false,
            head: String::new(),
            line: String::new(),
            foot: String::new(),
            tail: String::new(),
            key_line: String::new(),
            scalar: None,
        }
    }

    fn run(&mut self, events: &[Event]) {
        for (i, e) in events.iter().enumerate() {
            self.analyze(e);
            self.step(e, &events[i + 1..]);
        }
    }

    fn analyze(&mut self, e: &Event) {
        if !e.head.is_empty() {
            self.head = e.head.clone();
        }
        if !e.line.is_empty() {
            self.line = e.line.clone();
        }
        if !e.foot.is_empty() {
            self.foot = e.foot.clone();
        }
        if !e.tail.is_empty() {
            self.tail = e.tail.clone();
        }
        self.scalar = match &e.ev {
            Ev::Scalar(v, s) => Some(analyze_scalar(v, *s)),
            _ => None,
        };
    }

    fn step(&mut self, e: &Event, next: &[Event]) {
        match self.state {
            State::StreamStart => {
                self.indent = -1;
                self.column = 0;
                self.whitespace = true;
                self.indention = true;
                self.foot_indent = -1;
                self.state = State::FirstDocStart;
            }
            State::FirstDocStart | State::DocStart => self.document_start(e, self.state == State::FirstDocStart),
            State::DocContent => {
                self.states.push(State::DocEnd);
                self.process_head_comment();
                self.node(e, next, true, false, false, false);
                self.process_line_comment(false);
                self.process_foot_comment();
            }
            State::DocEnd => {
                self.foot_indent = 0;
                self.process_foot_comment();
                self.foot_indent = -1;
                self.write_indent();
                self.state = State::DocStart;
            }
            State::FlowSeqFirst | State::FlowMapFirst => self.flow_end(e),
            State::BlockSeqFirst | State::BlockSeqItem => {
                self.block_seq_item(e, next, self.state == State::BlockSeqFirst)
            }
            State::BlockMapFirst | State::BlockMapKey => {
                self.block_map_key(e, next, self.state == State::BlockMapFirst)
            }
            State::BlockMapSimpleValue | State::BlockMapValue => {
                self.block_map_value(e, next, self.state == State::BlockMapSimpleValue)
            }
            State::End => {}
        }
    }

    fn document_start(&mut self, e: &Event, first: bool) {
        match e.ev {
            Ev::DocStart => {
                if !first {
                    self.write_indent();
                    self.write_indicator("---", true, false, false);
                    self.write_indent();
                }
                self.state = State::DocContent;
            }
            _ => {
                if self.open_ended {
                    self.write_indicator("...", true, false, false);
                    self.write_indent();
                }
                self.state = State::End;
            }
        }
    }

    /// An empty flow collection's closing bracket (sops' trees only make empty ones).
    fn flow_end(&mut self, e: &Event) {
        let (open, close) = if self.state == State::FlowSeqFirst { ("[", "]") } else { ("{", "}") };
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        if matches!(e.ev, Ev::MapEnd) {
            self.process_head_comment();
        }
        self.flow_level -= 1;
        self.pop_indent();
        if self.column == 0 && close == "]" {
            self.write_indent();
        }
        self.write_indicator(close, false, false, false);
        self.process_line_comment(false);
        self.process_foot_comment();
        self.pop_state();
    }

    fn block_seq_item(&mut self, e: &Event, next: &[Event], first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        if matches!(e.ev, Ev::SeqEnd) {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.process_head_comment();
        self.write_indent();
        self.write_indicator("-", true, false, true);
        self.states.push(State::BlockSeqItem);
        self.node(e, next, false, true, false, false);
        self.process_line_comment(false);
        self.process_foot_comment();
    }

    fn block_map_key(&mut self, e: &Event, next: &[Event], first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        self.process_head_comment();
        if matches!(e.ev, Ev::MapEnd) {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.write_indent();
        if !self.line.is_empty() {
            self.key_line = std::mem::take(&mut self.line);
        }
        if self.check_simple_key(e, next) {
            self.states.push(State::BlockMapSimpleValue);
            self.node(e, next, false, false, true, true);
        } else {
            self.write_indicator("?", true, false, true);
            self.states.push(State::BlockMapValue);
            self.node(e, next, false, false, true, false);
        }
    }

    fn block_map_value(&mut self, e: &Event, next: &[Event], simple: bool) {
        if simple {
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indent();
            self.write_indicator(":", true, false, true);
        }
        if !self.key_line.is_empty() {
            match e.ev {
                Ev::Scalar(..) if self.line.is_empty() => {
                    self.line = std::mem::take(&mut self.key_line);
                }
                Ev::MapStart | Ev::SeqStart => {
                    std::mem::swap(&mut self.line, &mut self.key_line);
                    self.process_line_comment(false);
                    std::mem::swap(&mut self.line, &mut self.key_line);
                }
                _ => {}
            }
        }
        self.states.push(State::BlockMapKey);
        self.node(e, next, false, false, true, false);
        self.process_line_comment(false);
        self.process_foot_comment();
    }

    fn node(&mut self, e: &Event, next: &[Event], root: bool, sequence: bool, mapping: bool, simple_key: bool) {
        self.root_context = root;
        let _ = sequence;
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match &e.ev {
            Ev::Scalar(value, _) => self.emit_scalar(value),
            Ev::SeqStart => {
                let empty = next.first().is_some_and(|n| n.ev == Ev::SeqEnd);
                self.state = if self.flow_level > 0 || empty { State::FlowSeqFirst } else { State::BlockSeqFirst };
            }
            Ev::MapStart => {
                let empty = next.first().is_some_and(|n| n.ev == Ev::MapEnd);
                self.state = if self.flow_level > 0 || empty { State::FlowMapFirst } else { State::BlockMapFirst };
            }
            _ => {}
        }
    }

    fn check_simple_key(&self, e: &Event, next: &[Event]) -> bool {
        match &e.ev {
            Ev::Scalar(v, _) => !self.scalar.as_ref().is_some_and(|s| s.multiline) && v.len() <= 128,
            Ev::SeqStart => next.first().is_some_and(|n| n.ev == Ev::SeqEnd),
            Ev::MapStart => next.first().is_some_and(|n| n.ev == Ev::MapEnd),
            _ => false,
        }
    }

    fn emit_scalar(&mut self, value: &str) {
        self.select_scalar_style(value);
        self.increase_indent(true, false);
        let style = self.scalar.as_ref().map_or(Style::Plain, |s| s.style);
        let allow_breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.write_plain(value),
            Style::Single => self.write_single(value, allow_breaks),
            Style::Double => self.write_double(value),
            Style::Literal => self.write_literal(value),
        }
        self.pop_indent();
        self.pop_state();
    }

    fn select_scalar_style(&mut self, value: &str) {
        let simple_key = self.simple_key_context;
        let flow = self.flow_level > 0;
        let Some(s) = self.scalar.as_mut() else { return };
        let mut style = s.style;
        if simple_key && s.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!s.block_plain || flow || (value.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !s.single_ok {
            style = Style::Double;
        }
        if style == Style::Literal && (!s.block_ok || flow || simple_key) {
            style = Style::Double;
        }
        s.style = style;
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(State::End);
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent } else { 0 };
        } else if !indentless {
            if self.states.last() == Some(&State::BlockSeqItem) {
                self.indent += 2;
            } else {
                self.indent = self.best_indent * ((self.indent + self.best_indent) / self.best_indent);
            }
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.indention = true;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        if self.foot_indent == indent {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.foot_indent = -1;
    }

    fn write_indicator(&mut self, indicator: &str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn process_head_comment(&mut self) {
        if !self.tail.is_empty() {
            self.write_indent();
            let tail = std::mem::take(&mut self.tail);
            self.write_comment(&tail);
            self.foot_indent = self.indent.max(0);
        }
        if self.head.is_empty() {
            return;
        }
        self.write_indent();
        let head = std::mem::take(&mut self.head);
        self.write_comment(&head);
    }

    fn process_line_comment(&mut self, linebreak: bool) {
        if self.line.is_empty() {
            if linebreak {
                self.put_break();
            }
            return;
        }
        if !self.whitespace {
            self.put(' ');
        }
        let line = std::mem::take(&mut self.line);
        self.write_comment(&line);
    }

    fn process_foot_comment(&mut self) {
        if self.foot.is_empty() {
            return;
        }
        self.write_indent();
        let foot = std::mem::take(&mut self.foot);
        self.write_comment(&foot);
        self.foot_indent = self.indent.max(0);
    }

    fn write_comment(&mut self, comment: &str) {
        let mut breaks = false;
        let mut pound = false;
        for c in comment.chars() {
            if is_break(c) {
                self.write_break(c);
                breaks = true;
                pound = false;
            } else {
                if breaks {
                    self.write_indent();
                }
                if !pound {
                    if c != '#' {
                        self.put('#');
                        self.put(' ');
                    }
                    pound = true;
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
        if !breaks {
            self.put_break();
        }
        self.whitespace = true;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
            self.indention = true;
        }
    }

    fn write_plain(&mut self, value: &str) {
        if !value.is_empty() && !self.whitespace {
            self.put(' ');
        }
        let mut breaks = false;
        for c in value.chars() {
            if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
        if !value.is_empty() {
            self.whitespace = false;
        }
        self.indention = false;
        if self.root_context {
            self.open_ended = true;
        }
    }

    fn write_single(&mut self, value: &str, _allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut breaks = false;
        for c in value.chars() {
            if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                if c != ' ' {
                    self.indention = false;
                }
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, value: &str) {
        self.write_indicator("\"", true, false, false);
        for c in value.chars() {
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let code = c as u32;
                let escaped = match code {
                    0x00 => Some('0'),
                    0x07 => Some('a'),
                    0x08 => Some('b'),
                    0x09 => Some('t'),
                    0x0A => Some('n'),
                    0x0B => Some('v'),
                    0x0C => Some('f'),
                    0x0D => Some('r'),
                    0x1B => Some('e'),
                    0x22 => Some('"'),
                    0x5C => Some('\\'),
                    0x85 => Some('N'),
                    0xA0 => Some('_'),
                    0x2028 => Some('L'),
                    0x2029 => Some('P'),
                    _ => None,
                };
                match escaped {
                    Some(e) => self.put(e),
                    None => {
                        let hex = if code <= 0xFF {
                            format!("x{code:02X}")
                        } else if code <= 0xFFFF {
                            format!("u{code:04X}")
                        } else {
                            format!("U{code:08X}")
                        };
                        hex.chars().for_each(|h| self.put(h));
                    }
                }
            } else {
                self.put(c);
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an indentation digit when the text starts with a blank or break,
        // `-` without a final break, `+` with more than one.
        let first = value.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            let hint = char::from(b'0' + self.best_indent as u8);
            self.write_indicator(&hint.to_string(), false, false, false);
        }
        self.open_ended = false;
        let chars: Vec<char> = value.chars().collect();
        let chomp = match chars.as_slice() {
            [] => Some('-'),
            [.., last] if !is_break(*last) => Some('-'),
            [_] => Some('+'),
            [.., before, _] if is_break(*before) => Some('+'),
            _ => None,
        };
        if let Some(h) = chomp {
            self.write_indicator(&h.to_string(), false, false, false);
            if h == '+' {
                self.open_ended = true;
            }
        }
        self.process_line_comment(true);
        self.whitespace = true;
        let mut breaks = true;
        for c in chars {
            if is_break(c) {
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// go-yaml's printable set: LF, ASCII graphics and space, U+00A0..U+D7FF, U+E000..U+FFFD
/// (not the BOM); characters beyond the BMP are not printable to it.
fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{FEFF}'
}

/// go-yaml v3's `yaml_emitter_analyze_scalar`, for the styles it allows.
fn analyze_scalar(value: &str, requested: Style) -> Scalar {
    if value.is_empty() {
        return Scalar { multiline: false, block_plain: true, single_ok: true, block_ok: false, style: requested };
    }
    let (mut block_ind, mut line_breaks, mut special, mut tabs) = (false, false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    if value.starts_with("---") || value.starts_with("...") {
        block_ind = true;
    }
    let chars: Vec<char> = value.chars().collect();
    let mut preceded_by_ws = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = chars.get(i + 1).is_none_or(|n| *n == ' ' || *n == '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => {
                    block_ind = true
                }
                '?' | ':' | '-' if followed_by_ws => block_ind = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_ind = true,
                '#' if preceded_by_ws => block_ind = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == chars.len() - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i == chars.len() - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = c == ' ' || c == '\t' || is_break(c) || c == '\0';
    }
    let mut block_plain = true;
    let mut single_ok = true;
    let mut block_ok = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain = false;
    }
    if trailing_space {
        block_ok = false;
    }
    if break_space {
        block_plain = false;
        single_ok = false;
    }
    if space_break || tabs || special {
        block_plain = false;
        single_ok = false;
    }
    if space_break || special {
        block_ok = false;
    }
    if line_breaks || block_ind {
        block_plain = false;
    }
    Scalar { multiline: line_breaks, block_plain, single_ok, block_ok, style: requested }
}
