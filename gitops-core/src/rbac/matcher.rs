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
    Regex(regex_lite::Regex),
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
            MatchMode::Regex => regex_lite::Regex::new(pattern).map_or(Matcher::Never, Matcher::Regex),
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
