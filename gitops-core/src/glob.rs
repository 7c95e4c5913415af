//! Globs as Argo CD matches group and kind patterns (gobwas/glob with no separator), used by
//! ignoreDifferences rules, by wildcard health-check keys and by RBAC policies (glob mode); and
//! with separators, as it matches an AppProject's `sourceRepos` (`*` stops at `/`, `**` does not).

/// What is malformed in a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `[` class with no `]`.
    #[error("unclosed `[`")]
    UnclosedClass,
    /// A class with a range and something more (`[a-z0-9]`): gobwas takes one range or a
    /// list of characters, not both.
    #[error("a `[` class holds one range or a list of characters, then `]`")]
    RangeNotClosed,
    /// A `{` with no `}` and nothing after it (gobwas closes an unclosed `{` at the end of
    /// the pattern, but fails on one with no alternative in it).
    #[error("unclosed `{{` with nothing in it")]
    UnclosedBrace,
    /// Braces that would expand to more alternatives than [`MAX_ALTERNATIVES`].
    #[error("more than {MAX_ALTERNATIVES} `{{...}}` alternatives")]
    TooManyAlternatives,
    /// A range whose ends are the wrong way round (`[z-a]`).
    #[error("a `[` range runs backwards")]
    ReversedRange,
    /// `[]` or `[!]`: a class of no characters.
    #[error("an empty `[]` class")]
    EmptyClass,
}

/// How many alternatives braces may expand to: `{a,b}{c,d}...` doubles each time, and a
/// pattern from a policy file must not take the memory down.
pub const MAX_ALTERNATIVES: usize = 1024;

/// A glob as gobwas/glob reads group and kind patterns: `*` any run of characters
/// (including none, `/` too), `?` one character, `[...]` a class (one range `[a-z]` or a
/// list `[abc]`, `[!...]` negated), `{a,b}` alternatives (nested too), `\` escapes. Anything
/// else is literal; `,` and `}` outside braces too.
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
type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

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
        let (alternatives, _) = sequence(&mut pattern.chars().peekable(), false, !separators.is_empty())?;
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
        if self.separators.is_empty() {
            return self.alternatives.iter().any(|parts| glob_match(parts, s));
        }
        let chars: Vec<char> = s.chars().collect();
        self.alternatives.iter().any(|parts| separated_match(parts, &chars, &self.separators))
    }
}

/// Reads parts up to the end, or inside braces up to a `,` or `}` (which it returns).
/// Braces are expanded up front, so matching only ever sees flat alternatives.
/// With `supers`, `**` is one [`GlobPart::Super`] (it only differs from `*` with separators).
fn sequence(chars: &mut Chars, in_braces: bool, supers: bool) -> Result<(Alternatives, Option<char>), Error> {
    let mut alternatives: Alternatives = vec![Vec::new()];
    while let Some(c) = chars.next() {
        let part = match c {
            ',' | '}' if in_braces => return Ok((alternatives, Some(c))),
            '{' => {
                let mut options = Vec::new();
                loop {
                    let (option, end) = sequence(chars, true, supers)?;
                    options.extend(option);
                    match end {
                        Some(',') => continue,
                        Some(_) => break,
                        // The end of the pattern closes the braces, as gobwas reads them.
                        None if options.iter().all(Vec::is_empty) => return Err(Error::UnclosedBrace),
                        None => break,
                    }
                }
                if alternatives.len().saturating_mul(options.len()) > MAX_ALTERNATIVES {
                    return Err(Error::TooManyAlternatives);
                }
                alternatives = alternatives
                    .iter()
                    .flat_map(|prefix| options.iter().map(move |o| prefix.iter().chain(o).cloned().collect()))
                    .collect();
                continue;
            }
            '*' if supers && chars.next_if_eq(&'*').is_some() => GlobPart::Super,
            '*' => GlobPart::Any,
            '?' => GlobPart::One,
            '[' => class(chars)?,
            '\\' => match chars.next() {
                Some(escaped) => GlobPart::Literal(escaped),
                // gobwas drops a trailing backslash.
                None => break,
            },
            other => GlobPart::Literal(other),
        };
        alternatives.iter_mut().for_each(|a| a.push(part.clone()));
    }
    Ok((alternatives, None))
}

/// A class after its `[`, as gobwas reads one: an optional `!`, then either one range
/// `lo-hi` or a list of characters (`\\` escapes one), then `]`. So `[_a-z]` is the four
/// characters `_`, `a`, `-`, `z`, and `[a-z0-9]` is malformed.
fn class(chars: &mut Chars) -> Result<GlobPart, Error> {
    let negated = chars.next_if_eq(&'!').is_some();
    let first = chars.next().ok_or(Error::UnclosedClass)?;
    if chars.next_if_eq(&'-').is_some() {
        let hi = chars.next().ok_or(Error::UnclosedClass)?;
        return match chars.next() {
            Some(']') if first > hi => Err(Error::ReversedRange),
            Some(']') => Ok(GlobPart::Class { negated, ranges: vec![(first, hi)] }),
            Some(_) => Err(Error::RangeNotClosed),
            None => Err(Error::UnclosedClass),
        };
    }
    if first == ']' {
        return Err(Error::EmptyClass);
    }
    let mut ranges = Vec::new();
    let mut c = first;
    while c != ']' {
        let member = if c == '\\' { chars.next().ok_or(Error::UnclosedClass)? } else { c };
        ranges.push((member, member));
        c = chars.next().ok_or(Error::UnclosedClass)?;
    }
    Ok(GlobPart::Class { negated, ranges })
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

fn glob_match(parts: &[GlobPart], s: &str) -> bool {
    // Iterative matching with one backtrack point for the last `*`: linear in practice. It
    // walks byte offsets of `s` (always on character boundaries) so that a match allocates
    // nothing: RBAC checks run it thousands of times per request.
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = s[i..].chars().next() {
        let step = match parts.get(p) {
            Some(GlobPart::Any | GlobPart::Super) => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(GlobPart::One) => true,
            Some(GlobPart::Literal(l)) => *l == c,
            Some(GlobPart::Class { negated, ranges }) => ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated,
            None => false,
        };
        if step {
            p += 1;
            i += c.len_utf8();
        } else if let Some((sp, si)) = star {
            // The `*` takes one more character and the rest is tried again after it.
            let next = si + s[si..].chars().next().map_or(1, char::len_utf8);
            p = sp + 1;
            i = next;
            star = Some((sp, next));
        } else {
            return false;
        }
    }
    parts[p.min(parts.len())..].iter().all(|x| matches!(x, GlobPart::Any | GlobPart::Super))
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
        // gobwas classes: one range, or a list of characters (where `-` is just a character).
        assert!(g("[a-z]", "q"));
        assert!(g("[_a-z]x", "-x"));
        assert!(!g("[_a-z]x", "qx"));
        assert!(g("[\\]]", "]"));
        assert_eq!(Glob::new("[a-z0-9]").unwrap_err(), Error::RangeNotClosed);
        assert_eq!(Glob::new("[]").unwrap_err(), Error::EmptyClass);
        assert_eq!(Glob::new("[z-a]").unwrap_err(), Error::ReversedRange);
        assert!(g("[a-a]", "a"));
        assert_eq!(Glob::new("[!]").unwrap_err(), Error::EmptyClass);
        // Nested braces; `,` and `}` are plain characters outside braces.
        assert!(g("{a,{b,c}d}", "cd"));
        assert!(g("{a,{b,c}d}", "a"));
        assert!(!g("{a,{b,c}d}", "c"));
        assert!(g("a,b}", "a,b}"));
        assert!(g("{a\\,b,c}", "a,b"));
        assert!(g("x{,y}", "x"));
        // The end of the pattern closes braces; a trailing backslash is dropped (gobwas v0.2.3).
        assert!(g("a{b,c", "ac"));
        assert!(g("{a,{b", "b"));
        assert!(!g("{a,{b", "ab"));
        assert!(g("a{b,", "a"));
        assert_eq!(Glob::new("a{").unwrap_err(), Error::UnclosedBrace);
        assert!(g("a\\", "a"));
        assert!(!g("a\\", "a\\"));
        assert_eq!(Glob::new(&"{a,b}".repeat(11)).unwrap_err(), Error::TooManyAlternatives);
        assert!(Glob::new(&"{a,b}".repeat(10)).is_ok());
        // `*` crosses `/` (no separators) and multi-byte characters are single characters.
        assert!(g("*/*", "proj/ns/app"));
        assert!(g("action/*", "action/apps/Deployment/restart"));
        assert!(g("caf?", "café"));
        assert!(g("*é*", "aébé"));
        assert!(!g("a*b", "aéc"));
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
