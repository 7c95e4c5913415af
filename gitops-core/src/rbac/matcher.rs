//! The resource, action and object patterns of `p` lines (Argo CD's `globOrRegexMatch`).

use crate::glob::Glob;

/// How the resource, action and object fields of `p` lines are matched (`policy.matchMode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MatchMode {
    /// gobwas-style globs with no separator: `*` crosses `/`, `?`, `[a-z]`, `[!a]`, `{a,b}`,
    /// `\` escapes; the whole value must match.
    #[default]
    Glob,
    /// Regular expressions (RE2-like syntax), matched anywhere in the value as Go's
    /// `regexp.MatchString` does: `get` also matches `forget`.
    Regex,
}

impl MatchMode {
    /// The mode a `policy.matchMode` value selects: `regex` is regex, anything else (or
    /// nothing) is glob, as Argo CD reads it.
    pub fn from_config(value: Option<&str>) -> MatchMode {
        match value {
            Some("regex") => MatchMode::Regex,
            _ => MatchMode::Glob,
        }
    }
}

/// A compiled pattern. One that does not compile never matches (Argo CD logs and moves on):
/// a typo in one line must not take the whole policy down.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// `*` in glob mode: most policy lines have one, so it skips the matcher.
    Any,
    /// A glob without metacharacters.
    Literal(String),
    Glob(Glob),
    Regex(regex::Regex),
    Never,
}

impl Matcher {
    pub(crate) fn new(pattern: &str, mode: MatchMode) -> Matcher {
        match mode {
            MatchMode::Glob => {
                if pattern == "*" {
                    return Matcher::Any;
                }
                if !pattern.contains(['*', '?', '[', '{', '\\']) {
                    return Matcher::Literal(pattern.to_string());
                }
                Glob::new(pattern).map_or(Matcher::Never, Matcher::Glob)
            }
            MatchMode::Regex => compile_go(pattern).map_or(Matcher::Never, Matcher::Regex),
        }
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Literal(l) => l == value,
            Matcher::Glob(g) => g.matches(value),
            Matcher::Regex(r) => r.is_match(value),
            Matcher::Never => false,
        }
    }

    /// Whether the pattern failed to compile.
    pub(crate) fn is_broken(&self) -> bool {
        matches!(self, Matcher::Never)
    }
}

/// A Go RE2 pattern compiled for an unanchored search with Go's meaning (see [`go_regex`]);
/// `None` where Go refuses it.
pub(crate) fn compile_go(pattern: &str) -> Option<regex::Regex> {
    go_regex(pattern).and_then(|p| regex::Regex::new(&p).ok())
}

/// `pattern` (Go RE2 syntax, as Argo CD's regex mode compiles it) rewritten for the `regex`
/// crate (and regex-lite), whose syntax differs in a few places; `None` where Go refuses the
/// pattern. Checked side by side with Go's `regexp` on random patterns:
/// - Go refuses stacked repetitions (`a**`, `a+*`, `a{2}{2}`); the crates take them;
/// - inside a class, `[`, `&&` and `~~` are plain characters to Go, set syntax to the crates;
/// - Go's `\d`, `\w`, `\s` and `\b` are ASCII-only, the `regex` crate's Unicode: they are
///   written out as ASCII classes (Unicode classes such as `\p{L}` stay Unicode, as in Go);
/// - a `{` that starts no repetition (`a{`, `a{,2}`) is a plain character to Go;
/// - Go has `\Q...\E` literal text and the empty flag group `(?)`.
fn go_regex(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    // Whether the last thing read was a repetition operator (with its `?` for laziness).
    let mut repeated = false;
    while let Some(&c) = chars.get(i) {
        let mut now_repeated = false;
        match c {
            '\\' if chars.get(i + 1) == Some(&'Q') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E')) {
                    push_literal(&mut out, chars[i]);
                    i += 1;
                }
                i += 2;
                continue;
            }
            '\\' => {
                i = escape(&chars, i, false, &mut out);
                // A Unicode class's name (`\p{Greek}`) is no repetition.
                if matches!(chars.get(i), Some('p' | 'P'))
                    && chars.get(i + 1) == Some(&'{')
                    && let Some(len) = chars[i + 1..].iter().position(|&c| c == '}')
                {
                    out.extend(&chars[i + 1..=i + 1 + len]);
                    i += len + 1;
                }
            }
            '[' => i = class(&chars, i, &mut out),
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&')') => i += 2,
            '(' if chars.get(i + 1) == Some(&'?') => {
                out.push_str("(?");
                i += 1;
            }
            '*' | '+' | '?' => {
                if repeated {
                    return None;
                }
                out.push(c);
                if chars.get(i + 1) == Some(&'?') {
                    out.push('?');
                    i += 1;
                }
                now_repeated = true;
            }
            '{' => match counted_repetition(&chars[i..]) {
                Some(len) => {
                    if repeated {
                        return None;
                    }
                    out.extend(&chars[i..i + len]);
                    i += len - 1;
                    if chars.get(i + 1) == Some(&'?') {
                        out.push('?');
                        i += 1;
                    }
                    now_repeated = true;
                }
                None => out.push_str("\\{"),
            },
            other => out.push(other),
        }
        repeated = now_repeated;
        i += 1;
    }
    Some(out)
}

/// Copies the class that starts at `chars[start]` (a `[`) into `out` with Go's meaning, and
/// returns the index of its last character (its `]`, or the end when it is not closed, which
/// the crate then refuses as Go does).
fn class(chars: &[char], start: usize, out: &mut String) -> usize {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // A `]` first is a member.
    if chars.get(i) == Some(&']') {
        out.push_str("\\]");
        i += 1;
    }
    while let Some(&c) = chars.get(i) {
        match c {
            ']' => {
                out.push(']');
                return i;
            }
            '\\' => i = escape(chars, i, true, out),
            '[' if chars.get(i + 1) == Some(&':') => {
                // A POSIX class `[:alpha:]`, copied whole.
                let rest: String = chars[i..].iter().collect();
                match rest.find(":]") {
                    Some(end) => {
                        out.push_str(&rest[..end + 2]);
                        i += rest[..end + 2].chars().count() - 1;
                    }
                    None => out.push_str("\\["),
                }
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            other => out.push(other),
        }
        i += 1;
    }
    chars.len()
}

/// Copies the escape at `chars[at]` (a `\\`) into `out`, a Perl class written out with Go's
/// ASCII meaning; returns the index of its last character.
fn escape(chars: &[char], at: usize, in_class: bool, out: &mut String) -> usize {
    match chars.get(at + 1) {
        Some(&next) => {
            match ascii_perl_class(next, in_class) {
                Some(class) => out.push_str(class),
                None => {
                    out.push('\\');
                    out.push(next);
                }
            }
            at + 1
        }
        None => {
            out.push('\\');
            at
        }
    }
}

/// Go's ASCII meaning of the Perl class `\<letter>`, written for the `regex` crate: on its
/// own, or (`in_class`) as members inside a class; `None` for other escapes.
fn ascii_perl_class(letter: char, in_class: bool) -> Option<&'static str> {
    Some(match (letter, in_class) {
        ('d', false) => "[0-9]",
        ('D', false) => "[^0-9]",
        ('w', false) => "[0-9A-Za-z_]",
        ('W', false) => "[^0-9A-Za-z_]",
        ('s', false) => "[\\t\\n\\x0C\\r ]",
        ('S', false) => "[^\\t\\n\\x0C\\r ]",
        ('b', false) => "(?-u:\\b)",
        ('B', false) => "(?-u:\\B)",
        ('d', true) => "0-9",
        ('D', true) => "\\x00-/:-\\x{10FFFF}",
        ('w', true) => "0-9A-Za-z_",
        ('W', true) => "\\x00-/:-@\\[-^`{-\\x{10FFFF}",
        ('s', true) => "\\t\\n\\x0C\\r ",
        ('S', true) => "\\x00-\\x08\\x0B\\x0E-\\x1F!-\\x{10FFFF}",
        _ => return None,
    })
}

/// The length of the counted repetition (`{2}`, `{2,}`, `{2,5}`) at the start of `chars`, if
/// it is one: Go reads any other `{` as a plain character.
fn counted_repetition(chars: &[char]) -> Option<usize> {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let from = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        *i > from
    };
    if !digits(&mut i) {
        return None;
    }
    if chars.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    (chars.get(i) == Some(&'}')).then_some(i + 1)
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::{MatchMode, Matcher};

    fn glob(p: &str, v: &str) -> bool {
        Matcher::new(p, MatchMode::Glob).matches(v)
    }
    fn regex(p: &str, v: &str) -> bool {
        Matcher::new(p, MatchMode::Regex).matches(v)
    }

    #[test]
    fn globs_have_no_separator_and_are_anchored() {
        let table = [
            ("*", "", true),
            ("*", "https://kubernetes.default.svc", true),
            ("*/*", "default/guestbook", true),
            ("*/*", "default/argocd/guestbook", true),
            ("*/*", "guestbook", false),
            ("default/*", "default/ns/app", true),
            ("action/*", "action/apps/Deployment/restart", true),
            ("action/*", "action", false),
            ("update/*/Pod/*/*", "update//Pod/ns/web-0", true),
            ("update/*/Pod/*/*", "update/apps/Deployment/ns/web", false),
            ("get", "get", true),
            ("get", "forget", false),
            ("get", "gets", false),
            ("?et", "get", true),
            ("[gs]et", "set", true),
            ("[!gs]et", "set", false),
            ("[a-f]*", "delete", true),
            ("{get,sync}", "sync", true),
            ("{get,sync}", "override", false),
            ("app-{dev,prod}/*", "app-prod/web", true),
            (r"a\*b", "a*b", true),
            (r"a\*b", "axb", false),
            ("https://*.example.com", "https://k8s.eu.example.com", true),
            // gobwas classes: one range or a list; `[a-z0-9]` does not compile.
            ("team-[0-9]/*", "team-7/web", true),
            ("[_a-z]x", "-x", true),
            ("[a-z0-9]*", "abc", false),
            ("{dev,{qa,uat}-eu}/*", "uat-eu/web", true),
            // A pattern that does not compile matches nothing, not even itself.
            ("[abc", "[abc", false),
            ("[]", "", false),
            ("a{", "a", false),
            // As gobwas: the end closes a brace, a trailing backslash is dropped.
            ("{a,b", "a", true),
            ("trailing\\", "trailing", true),
        ];
        for (pattern, value, want) in table {
            assert_eq!(glob(pattern, value), want, "glob {pattern:?} on {value:?}");
        }
    }

    #[test]
    fn regexes_are_unanchored_and_never_panic() {
        let table = [
            ("get", "get", true),
            ("get", "forget", true),
            ("^get$", "forget", false),
            (".*", "", true),
            ("^default/.*$", "default/app", true),
            ("^(dev|prod)/", "prod/web", true),
            ("^(dev|prod)/", "qa/web", false),
            // Go rejects a leading `*`: the built-in policy's `*/*` matches nothing in regex mode.
            ("*/*", "a/b", false),
            ("(", "(", false),
            // As Go's regexp: stacked repetitions do not compile; lazy ones do.
            ("a**", "a", false),
            ("a+*", "a", false),
            ("a{2}{2}", "aaaa", false),
            ("a*?b", "aab", true),
            ("a{2}?", "aa", true),
            // A class takes `[`, `&&` and `~~` as characters; a `{` without a count is a character.
            ("[[a]", "[", true),
            ("[a&&b]", "&", true),
            ("[a~~b]", "~", true),
            ("[]a]", "]", true),
            ("[^]a]", "b", true),
            ("[[:digit:]]", "7", true),
            ("a{", "a{", true),
            ("a{,2}", "a{,2}", true),
            ("a{x}", "a{x}", true),
            (r"\Qa.b\E", "a.b", true),
            (r"\Qa.b\E", "axb", false),
            ("(?)get", "get", true),
            ("(?i)GET", "get", true),
            // Unicode classes as Go has them; Perl classes ASCII-only, as in Go.
            (r"^\p{L}+/app$", "dév/app", true),
            (r"^\p{Greek}", "λ-team", true),
            (r"^\d+$", "٣", false),
            (r"^\d+$", "42", true),
            (r"^\w+$", "é", false),
            (r"^[\w-]+$", "team-a_1", true),
            (r"^[\w-]+$", "équipe", false),
            (r"^[^\d]+$", "abc", true),
            (r"^[\D]+$", "a1", false),
            (r"^[\W]+$", "-/", true),
            (r"^[\S]+$", "a b", false),
            (r"\bget\b", "a get b", true),
            // `é` is no ASCII word character: a boundary before `get`, as in Go.
            (r"\bget", "éget", true),
            (r"\Bget", "éget", false),
            (r"^\s$", "\u{0B}", false),
        ];
        for (pattern, value, want) in table {
            assert_eq!(regex(pattern, value), want, "regex {pattern:?} on {value:?}");
        }
        assert!(Matcher::new("(", MatchMode::Regex).is_broken());
        assert!(!Matcher::new(".*", MatchMode::Regex).is_broken());
    }

    #[test]
    fn match_mode_from_config() {
        assert_eq!(MatchMode::from_config(Some("regex")), MatchMode::Regex);
        assert_eq!(MatchMode::from_config(Some("glob")), MatchMode::Glob);
        assert_eq!(MatchMode::from_config(Some("Regex")), MatchMode::Glob);
        assert_eq!(MatchMode::from_config(None), MatchMode::Glob);
    }
}
