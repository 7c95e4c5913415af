//! Writing: go-yaml v2's encoder and libyaml-derived emitter, as `sigs.k8s.io/yaml.JSONToYAML`
//! runs them on the JSON kustomize marshals.

use std::borrow::Cow;

use gitops_core::yaml::go::{self};
use serde_json::{Map, Number, Value};

use super::scalars::prefixed_fallback;
use super::timestamp::parse_timestamp;

/// Column after which the emitter breaks long scalars at a space.
pub(super) const BEST_WIDTH: usize = 80;
/// Indentation step.
pub(super) const BEST_INDENT: usize = 2;
/// Keys longer than this (in bytes) are written as complex `? key` entries.
pub(super) const MAX_SIMPLE_KEY: usize = 128;

/// Appends one resource exactly as `kubectl kustomize` prints it: kustomize marshals the object
/// to JSON and converts it with sigs.k8s.io/yaml `JSONToYAML` (go-yaml v2 decode + emit). No
/// `---` separator is written (the caller joins documents with `---\n`).
pub fn write_document(value: &Value, out: &mut String) {
    let mut e = Emitter { out, indent: -1, column: 0, whitespace: true, indention: true };
    e.node(value, Context::Root);
    // Document end: close the last line unless a block scalar already did.
    e.write_indent();
}

/// Where a node sits, which decides indentation and key rules.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Context {
    Root,
    SequenceItem,
    MappingValue,
    SimpleKey,
    ComplexKey,
}

/// The libyaml emitter state that matters for block output.
pub(super) struct Emitter<'a> {
    pub(super) out: &'a mut String,
    pub(super) indent: isize,
    pub(super) column: usize,
    /// The last character written was whitespace (or nothing was written on the line).
    pub(super) whitespace: bool,
    /// Only indentation has been written on the current line.
    pub(super) indention: bool,
}

impl Emitter<'_> {
    pub(super) fn node(&mut self, value: &Value, ctx: Context) {
        match value {
            Value::Object(m) if m.is_empty() => self.flow_empty("{", "}"),
            Value::Array(a) if a.is_empty() => self.flow_empty("[", "]"),
            Value::Object(m) => self.block_mapping(m),
            Value::Array(a) => self.block_sequence(a, ctx),
            Value::String(s) => self.string_scalar(s, ctx),
            Value::Null => self.plain_scalar_text("null"),
            Value::Bool(b) => self.plain_scalar_text(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let text = number_text(n);
                self.plain_scalar_text(&text);
            }
        }
    }

    pub(super) fn increase_indent(&mut self, indentless: bool) -> isize {
        let saved = self.indent;
        if self.indent < 0 {
            self.indent = 0;
        } else if !indentless {
            self.indent += BEST_INDENT as isize;
        }
        saved
    }

    pub(super) fn flow_empty(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    pub(super) fn block_mapping(&mut self, map: &Map<String, Value>) {
        let saved = self.increase_indent(false);
        for (key, value) in sorted_entries(map) {
            self.write_indent();
            let key = fold_nel(key);
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

    pub(super) fn block_sequence(&mut self, items: &[Value], ctx: Context) {
        let mapping_context = matches!(ctx, Context::MappingValue | Context::SimpleKey | Context::ComplexKey);
        let saved = self.increase_indent(mapping_context && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::SequenceItem);
        }
        self.indent = saved;
    }

    pub(super) fn plain_scalar_text(&mut self, text: &str) {
        let saved = self.increase_indent(false);
        self.write_plain(text, true);
        self.indent = saved;
    }

    pub(super) fn string_scalar(&mut self, s: &str, ctx: Context) {
        let folded = fold_nel(s);
        let s = folded.as_ref();
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

    pub(super) fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    pub(super) fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// Writes a line-break character taken from a value: `\n` as a newline, others verbatim
    /// (the emitter still counts them as ending the line).
    pub(super) fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    pub(super) fn write_indent(&mut self) {
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

    pub(super) fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.out.push_str(indicator);
        self.column += indicator.chars().count();
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    pub(super) fn write_plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let mut spaces = false;
        let mut breaks = false;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && chars.peek() != Some(&' ') {
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
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    pub(super) fn write_single(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut spaces = false;
        let mut breaks = false;
        let last = s.chars().count().saturating_sub(1);
        let mut chars = s.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            if c == ' ' {
                let next_space = chars.peek().is_some_and(|(_, n)| *n == ' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != last && !next_space {
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
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    pub(super) fn write_double(&mut self, s: &str, allow_breaks: bool) {
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

    pub(super) fn write_escape(&mut self, c: char) {
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

    pub(super) fn write_literal(&mut self, s: &str) {
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
pub(super) enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

pub(super) fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

pub(super) fn is_blank_or_end(c: Option<char>) -> bool {
    matches!(c, None | Some(' ' | '\t')) || c.is_some_and(is_break)
}

/// go-yaml's `is_printable` (the emitter's notion, with Unicode output enabled).
pub(super) fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}') && c != '\u{feff}'
}

pub(super) fn is_simple_key(key: &str) -> bool {
    key.len() <= MAX_SIMPLE_KEY && !key.chars().any(is_break)
}

/// What libyaml's `yaml_emitter_analyze_scalar` concludes about a value.
pub(super) struct Analysis {
    pub(super) multiline: bool,
    pub(super) block_plain_allowed: bool,
    pub(super) single_quoted_allowed: bool,
    pub(super) block_allowed: bool,
}

pub(super) fn analyze(s: &str) -> Analysis {
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
pub(super) fn can_use_plain(s: &str) -> bool {
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
            if matches!(s, "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF") || parse_timestamp(s).is_some() {
                return false;
            }
            let plain: Cow<'_, str> = if s.contains('_') { s.replace('_', "").into() } else { s.into() };
            if go::parse_int(&plain).is_some()
                || (go::is_float_syntax(&plain) && go::parse_float(&plain).is_some())
                || prefixed_fallback(&plain, false).is_some()
            {
                return false;
            }
            !go::is_base60_float(s)
        }
        _ => true,
    }
}

/// A number as go-yaml v2 prints what Go's JSON encoder wrote for it.
pub(super) fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    // Go's JSON encoder writes whole floats below 1e21 in positional notation with the shortest
    // round-trip digits padded by zeros (Rust's `Display` does the same); go-yaml reads that
    // text back as an integer when it fits 64 bits.
    if f.fract() == 0.0 && f.abs() < 1e21 {
        let text = f.to_string();
        if let Ok(i) = text.parse::<i64>() {
            return i.to_string();
        }
        if let Ok(u) = text.parse::<u64>() {
            return u.to_string();
        }
    }
    go_format_g(f)
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`.
pub(super) fn go_format_g(f: f64) -> String {
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    // Shortest formatting decides between %e and %f with precision 6.
    if !(-4..6).contains(&exp) {
        let (head, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(head);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
        } else {
            let (int, frac) = digits.split_at(point);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    }
    out
}

/// go-yaml v2 reads the JSON text kustomize produces, where a NEL (U+0085) is the only raw line
/// break Go leaves unescaped; inside the quoted JSON string it is folded like any YAML line
/// break: spaces around it vanish, a single break becomes a space, further breaks newlines.
pub(super) fn fold_nel(s: &str) -> Cow<'_, str> {
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
pub(super) fn sorted_entries(map: &Map<String, Value>) -> Vec<(&str, &Value)> {
    let mut entries: Vec<(&str, &Value)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if entries.windows(2).all(|w| !key_less(w[1].0, w[0].0)) {
        return entries;
    }
    merge_sort(&mut entries);
    entries
}

/// A stable merge sort: `slice::sort_by` may panic on a comparison that is not a total order,
/// and go-yaml's key order is not guaranteed to be one for odd keys.
pub(super) fn merge_sort<'a>(v: &mut Vec<(&'a str, &'a Value)>) {
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
pub(super) fn is_go_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    c.is_alphabetic() && !c.is_numeric()
}

/// The first code point of each run of ten decimal digits (Unicode category Nd) outside ASCII.
pub(super) const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50,
    0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50,
    0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136,
    0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0,
    0x11F50, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0,
    0x1E950, 0x1FBF0,
];

/// Go's `unicode.IsDigit` (category Nd).
pub(super) fn is_go_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    let v = c as u32;
    DIGIT_ZEROS.iter().any(|&zero| (zero..zero + 10).contains(&v))
}

/// go-yaml v2's `keyList.Less` for string keys.
pub(super) fn key_less(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        let to_chars = |s: &str| s.bytes().map(char::from).collect::<Vec<char>>();
        return key_less_chars(&to_chars(a), &to_chars(b));
    }
    key_less_chars(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>())
}

pub(super) fn key_less_chars(ar: &[char], br: &[char]) -> bool {
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
