//! YAML out, as go-yaml v2's encoder and its libyaml-derived emitter write it: what
//! `sigs.k8s.io/yaml` prints, so kustomize's output and the text Flux hashes for a
//! HelmRelease's config digest.
//!
//! [`write_document`] makes the encoder's and emitter's decisions directly on a
//! [`serde_json::Value`]: key order, quoting style (a string that YAML 1.1 would read back as
//! another type is quoted), escapes, line folding at 80 columns, literal block scalars for
//! multi-line strings, 2-space indentation with sequences in mappings not indented. It cannot
//! fail: values go-yaml could not read back are written anyway, so a caller that must refuse
//! them (kustomize does) checks them first.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use crate::appset::params::format_float;
use crate::yaml::go;

/// Column after which the emitter breaks long scalars at a space.
const BEST_WIDTH: usize = 80;
/// Indentation step.
const BEST_INDENT: usize = 2;
/// Keys longer than this (in bytes) are written as complex `? key` entries.
const MAX_SIMPLE_KEY: usize = 128;

/// What go-yaml v2 was handed to encode, which decides key order and how a NEL is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// JSON text that go-yaml decoded into Go maps first, as `sigs.k8s.io/yaml.JSONToYAML`
    /// does (kustomize prints every resource this way): keys come in go-yaml's own order
    /// (`keyList.Less`: letters before other characters, digit runs compared as numbers), and
    /// a NEL (U+0085), the one raw line break Go's JSON leaves in a string, is folded the way
    /// YAML reads a line break inside a quoted scalar.
    JsonText,
    /// Go values whose maps were turned into `yaml.MapSlice`s sorted bytewise by key, as Flux's
    /// `chartutil.DigestValues` does: keys in byte order, strings written as they are.
    SortedMapSlices,
}

/// Appends one YAML document as go-yaml v2 encodes `value` given as `input`, ending with a
/// line break. No `---` separator is written (a caller joins documents with `---\n`).
pub fn write_document(value: &Value, input: Input, out: &mut String) {
    let mut e = Emitter { out, input, indent: -1, column: 0, whitespace: true, indention: true };
    e.node(value, Context::Root);
    // Document end: close the last line unless a block scalar already did.
    e.write_indent();
}

/// Where a node sits, which decides indentation and key rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    SequenceItem,
    MappingValue,
    SimpleKey,
    ComplexKey,
}

/// The libyaml emitter state that matters for block output.
struct Emitter<'a> {
    out: &'a mut String,
    input: Input,
    indent: isize,
    column: usize,
    /// The last character written was whitespace (or nothing was written on the line).
    whitespace: bool,
    /// Only indentation has been written on the current line.
    indention: bool,
}

impl Emitter<'_> {
    fn node(&mut self, value: &Value, ctx: Context) {
        match value {
            Value::Object(m) if m.is_empty() => self.flow_empty("{", "}"),
            Value::Array(a) if a.is_empty() => self.flow_empty("[", "]"),
            Value::Object(m) => self.block_mapping(m),
            Value::Array(a) => self.block_sequence(a, ctx),
            Value::String(s) => self.string_scalar(s, ctx),
            Value::Null => self.plain_scalar_text("null"),
            Value::Bool(b) => self.plain_scalar_text(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let text = number_text(n, self.input);
                self.plain_scalar_text(&text);
            }
        }
    }

    /// A string as go-yaml holds it once it has read its input.
    fn decoded<'s>(&self, s: &'s str) -> Cow<'s, str> {
        match self.input {
            Input::JsonText => fold_nel(s),
            Input::SortedMapSlices => Cow::Borrowed(s),
        }
    }

    fn increase_indent(&mut self, indentless: bool) -> isize {
        let saved = self.indent;
        if self.indent < 0 {
            self.indent = 0;
        } else if !indentless {
            self.indent += BEST_INDENT as isize;
        }
        saved
    }

    fn flow_empty(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    fn block_mapping(&mut self, map: &Map<String, Value>) {
        let saved = self.increase_indent(false);
        let entries = match self.input {
            Input::JsonText => sorted_entries(map),
            Input::SortedMapSlices => {
                let mut entries: Vec<(&str, &Value)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                entries
            }
        };
        for (key, value) in entries {
            self.write_indent();
            let key = self.decoded(key);
            if is_simple_key(&key) {
                self.string_scalar(&key, Context::SimpleKey);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.string_scalar(&key, Context::ComplexKey);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, Context::MappingValue);
        }
        self.indent = saved;
    }

    fn block_sequence(&mut self, items: &[Value], ctx: Context) {
        let mapping_context = matches!(ctx, Context::MappingValue | Context::SimpleKey | Context::ComplexKey);
        let saved = self.increase_indent(mapping_context && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::SequenceItem);
        }
        self.indent = saved;
    }

    fn plain_scalar_text(&mut self, text: &str) {
        let saved = self.increase_indent(false);
        self.write_plain(text, true);
        self.indent = saved;
    }

    fn string_scalar(&mut self, s: &str, ctx: Context) {
        let decoded = self.decoded(s);
        let s = decoded.as_ref();
        let simple_key = ctx == Context::SimpleKey;
        let a = analyze(s);
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if can_use_plain(s) {
            Style::Plain
        } else {
            Style::Double
        };
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        let saved = self.increase_indent(false);
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(s, allow_breaks),
            Style::Single => self.write_single(s, allow_breaks),
            Style::Double => self.write_double(s, allow_breaks),
            Style::Literal => self.write_literal(s),
        }
        self.indent = saved;
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// Writes a line-break character taken from a value: `\n` as a newline, others verbatim
    /// (the emitter still counts them as ending the line).
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, indicator: &str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.out.push_str(indicator);
        self.column += indicator.chars().count();
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn write_plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        self.write_folded(s, allow_breaks, false);
    }

    fn write_single(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        self.write_folded(s, allow_breaks, true);
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// The text of a plain or single-quoted scalar: a space past the width becomes a line
    /// break (inside quotes never at the first or last character), a break in the value is
    /// doubled, and a quote is doubled inside single quotes.
    fn write_folded(&mut self, s: &str, allow_breaks: bool, single: bool) {
        let mut spaces = false;
        let mut breaks = false;
        let last = s.chars().count().saturating_sub(1);
        let mut chars = s.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            if c == ' ' {
                let next_space = chars.peek().is_some_and(|(_, n)| *n == ' ');
                let inner = !single || (i != 0 && i != last);
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inner && !next_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if single && c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        // go-yaml checks for a byte-order mark at the start of the whole value instead of at
        // the current character, so a value starting with one has every character escaped.
        let bom_start = s.starts_with('\u{feff}');
        let mut spaces = false;
        let last = s.chars().count().saturating_sub(1);
        let mut chars = s.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            if bom_start || !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.write_escape(c);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != last {
                    self.write_indent();
                    if chars.peek().is_some_and(|(_, n)| *n == ' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_escape(&mut self, c: char) {
        self.put('\\');
        let short = match c {
            '\0' => '0',
            '\u{7}' => 'a',
            '\u{8}' => 'b',
            '\t' => 't',
            '\n' => 'n',
            '\u{b}' => 'v',
            '\u{c}' => 'f',
            '\r' => 'r',
            '\u{1b}' => 'e',
            '"' => '"',
            '\\' => '\\',
            '\u{85}' => 'N',
            '\u{a0}' => '_',
            '\u{2028}' => 'L',
            '\u{2029}' => 'P',
            _ => {
                let v = c as u32;
                let (letter, width) = match v {
                    0..=0xFF => ('x', 2),
                    0x100..=0xFFFF => ('u', 4),
                    _ => ('U', 8),
                };
                self.put(letter);
                let hex = format!("{v:0width$X}");
                self.out.push_str(&hex);
                self.column += hex.len();
                return;
            }
        };
        self.put(short);
    }

    fn write_literal(&mut self, s: &str) {
        self.write_indicator("|", true, false, false);
        if s.starts_with([' ', '\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
            let hint = BEST_INDENT.to_string();
            self.write_indicator(&hint, false, false, false);
        }
        let mut tail = s.chars().rev();
        let chomp = match (tail.next(), tail.next()) {
            (None, _) => Some("-"),
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(prev)) if is_break(prev) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Whether `c` is a blank (space or tab), a line break, or the end of the text (`None`).
pub fn is_blank_or_end(c: Option<char>) -> bool {
    matches!(c, None | Some(' ' | '\t')) || c.is_some_and(is_break)
}

/// go-yaml's `is_printable` (the emitter's notion, with Unicode output enabled).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}') && c != '\u{feff}'
}

fn is_simple_key(key: &str) -> bool {
    key.len() <= MAX_SIMPLE_KEY && !key.chars().any(is_break)
}

/// What libyaml's `yaml_emitter_analyze_scalar` concludes about a value in block context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Analysis {
    /// The value holds a line break.
    pub multiline: bool,
    /// It may be written plain (unquoted).
    pub block_plain_allowed: bool,
    /// It may be written single-quoted.
    pub single_quoted_allowed: bool,
    /// It may be written as a literal or folded block scalar.
    pub block_allowed: bool,
}

/// libyaml's scalar analysis of `s`, which decides the styles the emitter may use for it.
pub fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut special_characters = false;
    let mut line_breaks = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) = (false, false, false, false);
    let mut preceded_by_whitespace = true;
    let mut chars = s.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let followed_by_whitespace = is_blank_or_end(next);
        let last = next.is_none();
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => {
                    block_indicators = true
                }
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else if (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace) {
            block_indicators = true;
        }
        if !is_printable(c) {
            special_characters = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_end(Some(c));
        first = false;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml v2's `stringv`: a string may be written plain only if YAML 1.1 would read it back as
/// a string (not null, a boolean, a number, a timestamp or a base-60 float).
fn can_use_plain(s: &str) -> bool {
    let Some(&first) = s.as_bytes().first() else { return false };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => !matches!(
            s,
            "y" | "Y"
                | "yes"
                | "Yes"
                | "YES"
                | "n"
                | "N"
                | "no"
                | "No"
                | "NO"
                | "true"
                | "True"
                | "TRUE"
                | "false"
                | "False"
                | "FALSE"
                | "on"
                | "On"
                | "ON"
                | "off"
                | "Off"
                | "OFF"
                | "~"
                | "null"
                | "Null"
                | "NULL"
        ),
        b'.' => !matches!(s, ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF") && go::parse_float(s).is_none(),
        b'+' | b'-' | b'0'..=b'9' => {
            if matches!(s, "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF")
                || go::parse_timestamp(s).is_some()
            {
                return false;
            }
            let plain: Cow<'_, str> = if s.contains('_') { s.replace('_', "").into() } else { s.into() };
            if go::parse_int(&plain).is_some()
                || (go::is_float_syntax(&plain) && go::parse_float(&plain).is_some())
                || go::prefixed_fallback(&plain, false).is_some()
            {
                return false;
            }
            !go::is_base60_float(s)
        }
        _ => true,
    }
}

/// A number as go-yaml v2 prints it: integers as they are, whole floats as integers when they
/// fit 64 bits, other floats in Go's shortest `%g`. A whole float beyond 2^53 differs by
/// input: Go's JSON encoder writes it with its shortest round-trip digits padded by zeros
/// (`36028797018963970`), which go-yaml reads back as that integer, while
/// `JSONObjectToYAMLObject` converts the value itself (`36028797018963968`).
fn number_text(n: &Number, input: Input) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 {
        match input {
            // Rust's `Display` writes the same positional digits as Go's JSON encoder, which
            // does so below 1e21.
            Input::JsonText if f.abs() < 1e21 => {
                let text = f.to_string();
                if let Ok(i) = text.parse::<i64>() {
                    return i.to_string();
                }
                if let Ok(u) = text.parse::<u64>() {
                    return u.to_string();
                }
            }
            Input::JsonText => {}
            Input::SortedMapSlices => {
                let two_63 = 2f64.powi(63);
                if (-two_63..two_63).contains(&f) {
                    return (f as i64).to_string();
                }
                if (0.0..2f64.powi(64)).contains(&f) {
                    return (f as u64).to_string();
                }
            }
        }
    }
    format_float(f)
}

/// go-yaml v2 reads the JSON text kustomize produces, where a NEL (U+0085) is the only raw line
/// break Go leaves unescaped; inside the quoted JSON string it is folded like any YAML line
/// break: spaces around it vanish, a single break becomes a space, further breaks newlines.
fn fold_nel(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{85}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        // Non-blank run.
        while let Some(&c) = chars.peek() {
            if c == ' ' || c == '\u{85}' {
                break;
            }
            out.push(c);
            chars.next();
        }
        let mut whitespace = String::new();
        let mut leading_break = false;
        let mut trailing_breaks = 0usize;
        while let Some(&c) = chars.peek() {
            match c {
                ' ' if !leading_break => whitespace.push(' '),
                ' ' => {}
                '\u{85}' if !leading_break => {
                    whitespace.clear();
                    leading_break = true;
                }
                '\u{85}' => trailing_breaks += 1,
                _ => break,
            }
            chars.next();
        }
        if leading_break {
            if trailing_breaks == 0 {
                out.push(' ');
            } else {
                out.extend(std::iter::repeat_n('\n', trailing_breaks));
            }
        } else {
            out.push_str(&whitespace);
        }
    }
    Cow::Owned(out)
}

/// Map entries in go-yaml v2's key order.
fn sorted_entries(map: &Map<String, Value>) -> Vec<(&str, &Value)> {
    let mut entries: Vec<(&str, &Value)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if entries.windows(2).all(|w| !key_less(w[1].0, w[0].0)) {
        return entries;
    }
    merge_sort(&mut entries);
    entries
}

/// A stable merge sort: `slice::sort_by` may panic on a comparison that is not a total order,
/// and go-yaml's key order is not guaranteed to be one for odd keys.
fn merge_sort<'a>(v: &mut Vec<(&'a str, &'a Value)>) {
    if v.len() <= 1 {
        return;
    }
    let mut right = v.split_off(v.len() / 2);
    merge_sort(v);
    merge_sort(&mut right);
    let left = std::mem::take(v);
    v.reserve(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        let take_right = match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => key_less(b.0, a.0),
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let next = if take_right { r.next() } else { l.next() };
        v.extend(next);
    }
}

/// Go's `unicode.IsLetter` (category L), approximated: Rust's alphabetic property also covers
/// letter numbers (category Nl, excluded here) and some combining marks.
fn is_go_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    c.is_alphabetic() && !c.is_numeric()
}

/// The first code point of each run of ten decimal digits (Unicode category Nd) outside ASCII.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50,
    0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50,
    0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136,
    0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0,
    0x11F50, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0,
    0x1E950, 0x1FBF0,
];

/// Go's `unicode.IsDigit` (category Nd).
fn is_go_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    let v = c as u32;
    DIGIT_ZEROS.iter().any(|&zero| (zero..zero + 10).contains(&v))
}

/// go-yaml v2's `keyList.Less` for string keys.
fn key_less(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        let to_chars = |s: &str| s.bytes().map(char::from).collect::<Vec<char>>();
        return key_less_chars(&to_chars(a), &to_chars(b));
    }
    key_less_chars(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>())
}

fn key_less_chars(ar: &[char], br: &[char]) -> bool {
    for (i, (&ac, &bc)) in ar.iter().zip(br).enumerate() {
        if ac == bc {
            continue;
        }
        let (al, bl) = (is_go_letter(ac), is_go_letter(bc));
        if al && bl {
            return ac < bc;
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ac == '0' || bc == '0' {
            for &c in ar[..i].iter().rev().take_while(|c| is_go_digit(**c)) {
                if c != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let run = |s: &[char], n: &mut i64| {
            let mut end = i;
            // Go adds the code point minus '0', whatever the script of the digit.
            while let Some(c) = s.get(end).filter(|c| is_go_digit(**c)) {
                *n = n.wrapping_mul(10).wrapping_add(i64::from(*c as u32) - 0x30);
                end += 1;
            }
            end
        };
        let ai = run(ar, &mut an);
        let bi = run(br, &mut bn);
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ac < bc;
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn key_order_is_go_yaml_v2() {
        // Probed: `v: {a10, a9, B, _z, a, "1", "10", "9", a01, a1, a001, Z, é, "-", a-b, ab, a_b, aB, x0y, x00y, x1y}`.
        let mut keys = vec![
            "a10", "a9", "B", "_z", "a", "1", "10", "9", "a01", "a1", "a001", "Z", "é", "-", "a-b", "ab", "a_b", "aB",
            "x0y", "x00y", "x1y",
        ];
        let map: Map<String, Value> = keys.iter().map(|k| (k.to_string(), Value::Null)).collect();
        let sorted: Vec<&str> = sorted_entries(&map).into_iter().map(|(k, _)| k).collect();
        keys = vec![
            "-", "_z", "1", "9", "10", "B", "Z", "a", "a-b", "a_b", "a1", "a01", "a001", "a9", "a10", "aB", "ab",
            "x00y", "x0y", "x1y", "é",
        ];
        assert_eq!(sorted, keys);
    }

    #[test]
    fn floats_print_like_go() {
        let cases = [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e-7, "1e-07"),
            (1234567.5, "1.2345675e+06"),
            (123456.5, "123456.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.8446744073709552e19, "1.8446744073709552e+19"),
            // Probed: `-9223372036854775809` and `1e19` in the input.
            (-9.223372036854776e18, "-9.223372036854776e+18"),
            (1e19, "10000000000000000000"),
            (-2.25, "-2.25"),
        ];
        for (f, want) in cases {
            assert_eq!(number_text(&Number::from_f64(f).unwrap(), Input::JsonText), want, "{f}");
        }
        assert_eq!(number_text(&Number::from_f64(1.0).unwrap(), Input::JsonText), "1");
        assert_eq!(number_text(&Number::from_f64(-0.0).unwrap(), Input::JsonText), "0");
        assert_eq!(number_text(&Number::from(u64::MAX), Input::JsonText), "18446744073709551615");
        // A whole float beyond 2^53: Go's JSON text rounds its digits, a Go value is converted.
        let big = Number::from_f64(-36028797018963968.0).unwrap();
        assert_eq!(number_text(&big, Input::JsonText), "-36028797018963970");
        assert_eq!(number_text(&big, Input::SortedMapSlices), "-36028797018963968");
        let two_63 = Number::from_f64(9223372036854775808.0).unwrap();
        assert_eq!(number_text(&two_63, Input::SortedMapSlices), "9223372036854775808");
        assert_eq!(number_text(&Number::from_f64(1e20).unwrap(), Input::SortedMapSlices), "1e+20");
    }

    #[test]
    fn inputs_differ_in_key_order_and_nel_only() {
        let v = json!({"a10": 1, "a9": "x\u{85}y", "B": [{"b": null, "a": 2.0}]});
        let text = |input| {
            let mut out = String::new();
            write_document(&v, input, &mut out);
            out
        };
        // go-yaml orders a Go map's keys with digit runs as numbers; Flux's sorted MapSlices are
        // bytewise. A NEL read from JSON text folds to a space; one in a Go string is escaped.
        assert_eq!(text(Input::JsonText), "B:\n- a: 2\n  b: null\na9: x y\na10: 1\n");
        assert_eq!(text(Input::SortedMapSlices), "B:\n- a: 2\n  b: null\na10: 1\na9: \"x\\Ny\"\n");
    }
}
