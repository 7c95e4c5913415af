//! Globs as Argo CD matches group and kind patterns (gobwas/glob with no separator), used by
//! ignoreDifferences rules and by wildcard health-check keys; and with separators, as it matches
//! an AppProject's `sourceRepos` (`*` stops at `/`, `**` does not).

/// What is malformed in a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `[` class with no `]`.
    #[error("unclosed `[`")]
    UnclosedClass,
    /// A `{` with no `}`.
    #[error("unclosed `{{`")]
    UnclosedBrace,
    /// A `{` inside another.
    #[error("nested `{{` is not supported")]
    NestedBrace,
    /// A backslash with nothing after it.
    #[error("trailing `\\`")]
    TrailingBackslash,
}

/// A glob as gobwas/glob reads group and kind patterns: `*` any run of characters
/// (including none), `?` one character, `[...]` a class (`[!...]` negated), `{a,b}`
/// alternatives. Anything else is literal.
#[derive(Debug, Clone)]
pub struct Glob {
    alternatives: Vec<Vec<GlobPart>>,
    /// Characters `*` and `?` do not match (`**` does); none by default.
    separators: Vec<char>,
    /// Most patterns are `*` or a plain name; those match without the general machinery.
    simple: Option<Simple>,
}

#[derive(Debug, Clone)]
enum Simple {
    Any,
    Literal(String),
}

type Alternatives = Vec<Vec<GlobPart>>;

#[derive(Debug, Clone, PartialEq)]
enum GlobPart {
    Literal(char),
    Any,
    /// `**` with separators: any run, separators included.
    Super,
    One,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    /// Compiles a pattern; the error says what is malformed.
    pub fn new(pattern: &str) -> Result<Glob, Error> {
        Glob::with_separators(pattern, &[])
    }

    /// Compiles a pattern in which `*` and `?` never match one of `separators` and `**`
    /// matches any run (gobwas/glob's `Compile(pattern, separators...)`).
    pub fn with_separators(pattern: &str, separators: &[char]) -> Result<Glob, Error> {
        let mut alternatives = vec![Vec::new()];
        let mut chars = pattern.chars().peekable();
        // Brace alternatives are expanded up front; nesting is refused to keep this small.
        // While inside `{...}`: the alternatives before the brace, and the options in it.
        let mut in_brace: Option<(Alternatives, Alternatives)> = None;
        while let Some(c) = chars.next() {
            let part = match c {
                '*' if separators.is_empty() => GlobPart::Any,
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    GlobPart::Super
                }
                '*' => GlobPart::Any,
                '?' => GlobPart::One,
                '[' => {
                    let negated = chars.peek() == Some(&'!');
                    if negated {
                        chars.next();
                    }
                    let mut ranges = Vec::new();
                    loop {
                        match chars.next() {
                            None => return Err(Error::UnclosedClass),
                            Some(']') => break,
                            Some(lo) => {
                                if chars.peek() == Some(&'-') {
                                    chars.next();
                                    let hi = chars.next().ok_or(Error::UnclosedClass)?;
                                    ranges.push((lo, hi));
                                } else {
                                    ranges.push((lo, lo));
                                }
                            }
                        }
                    }
                    GlobPart::Class { negated, ranges }
                }
                '{' => {
                    if in_brace.is_some() {
                        return Err(Error::NestedBrace);
                    }
                    in_brace = Some((std::mem::take(&mut alternatives), vec![Vec::new()]));
                    continue;
                }
                ',' if in_brace.is_some() => {
                    if let Some((_, options)) = &mut in_brace {
                        options.push(Vec::new());
                    }
                    continue;
                }
                '}' if in_brace.is_some() => {
                    let (prefixes, options) = in_brace.take().unwrap_or_default();
                    alternatives = prefixes
                        .iter()
                        .flat_map(|p| options.iter().map(move |o| p.iter().chain(o).cloned().collect()))
                        .collect();
                    continue;
                }
                '\\' => GlobPart::Literal(chars.next().ok_or(Error::TrailingBackslash)?),
                other => GlobPart::Literal(other),
            };
            match &mut in_brace {
                Some((_, options)) => {
                    if let Some(last) = options.last_mut() {
                        last.push(part);
                    }
                }
                None => alternatives.iter_mut().for_each(|a| a.push(part.clone())),
            }
        }
        if in_brace.is_some() {
            return Err(Error::UnclosedBrace);
        }
        let simple = match alternatives.as_slice() {
            _ if !separators.is_empty() => None,
            [parts] if parts.iter().all(|p| *p == GlobPart::Any) && !parts.is_empty() => Some(Simple::Any),
            [parts] if parts.iter().all(|p| matches!(p, GlobPart::Literal(_))) => Some(Simple::Literal(
                parts.iter().filter_map(|p| if let GlobPart::Literal(c) = p { Some(*c) } else { None }).collect(),
            )),
            _ => None,
        };
        Ok(Glob { alternatives, separators: separators.to_vec(), simple })
    }

    /// Whether the whole of `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match &self.simple {
            Some(Simple::Any) => return true,
            Some(Simple::Literal(l)) => return l == s,
            None => {}
        }
        let chars: Vec<char> = s.chars().collect();
        if self.separators.is_empty() {
            return self.alternatives.iter().any(|parts| glob_match(parts, &chars));
        }
        self.alternatives.iter().any(|parts| separated_match(parts, &chars, &self.separators))
    }
}

/// Matching where `*` and `?` stop at separators: each part against each position (patterns
/// and values here are short: repository URLs).
fn separated_match(parts: &[GlobPart], s: &[char], separators: &[char]) -> bool {
    // reach[i]: the parts so far can match exactly the first i characters.
    let mut reach = vec![false; s.len() + 1];
    reach[0] = true;
    for part in parts {
        let mut next = vec![false; s.len() + 1];
        for i in 0..=s.len() {
            if !reach[i] {
                continue;
            }
            match part {
                GlobPart::Super => next[i..].iter_mut().for_each(|n| *n = true),
                GlobPart::Any => {
                    next[i] = true;
                    for j in i..s.len() {
                        if separators.contains(&s[j]) {
                            break;
                        }
                        next[j + 1] = true;
                    }
                }
                single => {
                    if let Some(&c) = s.get(i) {
                        let fits = match single {
                            GlobPart::One => !separators.contains(&c),
                            GlobPart::Literal(l) => *l == c,
                            GlobPart::Class { negated, ranges } => {
                                ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
                            }
                            GlobPart::Any | GlobPart::Super => false,
                        };
                        next[i + 1] |= fits;
                    }
                }
            }
        }
        reach = next;
    }
    reach[s.len()]
}

fn glob_match(parts: &[GlobPart], s: &[char]) -> bool {
    // Iterative matching with one backtrack point for the last `*`: linear in practice.
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let step = match parts.get(p) {
            Some(GlobPart::Any | GlobPart::Super) => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(GlobPart::One) => true,
            Some(GlobPart::Literal(c)) => *c == s[i],
            Some(GlobPart::Class { negated, ranges }) => {
                ranges.iter().any(|(lo, hi)| *lo <= s[i] && s[i] <= *hi) != *negated
            }
            None => false,
        };
        if step {
            p += 1;
            i += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    parts[p.min(parts.len())..].iter().all(|x| *x == GlobPart::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = |p: &str, s: &str| Glob::new(p).unwrap().matches(s);
        assert!(g("*", ""));
        assert!(g("*", "apps"));
        assert!(!g("", "apps"));
        assert!(g("", ""));
        assert!(g("*.crossplane.io", "aws.crossplane.io"));
        assert!(!g("*.crossplane.io", "crossplane.io"));
        assert!(g("{apps,batch}", "batch"));
        assert!(g("Deploy?ent", "Deployment"));
        assert!(g("[A-D]eployment", "Deployment"));
        assert!(!g("[!A-D]eployment", "Deployment"));
        assert!(Glob::new("[a").is_err());
    }

    #[test]
    fn separators_stop_a_star_but_not_two() {
        let g = |p: &str, s: &str| Glob::with_separators(p, &['/']).unwrap().matches(s);
        assert!(g("https://github.com/team-a/*", "https://github.com/team-a/app"));
        assert!(!g("https://github.com/team-a/*", "https://github.com/team-a/app/sub"));
        assert!(g("https://github.com/team-a/**", "https://github.com/team-a/app/sub"));
        assert!(g("https://github.com/*/app", "https://github.com/x/app"));
        assert!(!g("https://github.com/*/app", "https://github.com/x/y/app"));
        assert!(!g("a?c", "a/c"));
        assert!(g("a?c", "abc"));
        assert!(g("*", "x"));
        assert!(!g("*", "x/y"));
        assert!(g("{a,b}/*", "b/c"));
        assert!(g("", ""));
        assert!(!g("a", "ab"));
    }
}
