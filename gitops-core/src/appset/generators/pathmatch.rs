//! The three glob dialects of the git generator:
//! - [`go_path_match`]: Go's `path.Match`, for directories: `*` and `?` never match `/`,
//!   `[...]` classes (`^` negates, `a-z` ranges, `\` escapes), no `**` (it is two `*`);
//! - [`git_pathspec_match`]: `git ls-files -- <pattern>`, the default for files: fnmatch
//!   without `FNM_PATHNAME`, so `*` and `?` match `/` too; a pattern without wildcards also
//!   matches everything under it as a directory;
//! - [`doublestar_match`]: the "new globbing" for files: `*` stays in one segment, a `**`
//!   segment matches any number of segments.

/// Why a pattern does not read (Go's `ErrBadPattern`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A malformed pattern: an unclosed or empty class, a bad range, a trailing `\`.
    #[error("syntax error in pattern {0:?}")]
    Bad(String),
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(char),
    Any,
    Star,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

fn parse(pattern: &str) -> Result<Vec<Tok>, PatternError> {
    let bad = || PatternError::Bad(pattern.to_string());
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Any),
            '\\' => {
                i += 1;
                toks.push(Tok::Lit(*chars.get(i).ok_or_else(bad)?));
            }
            '[' => {
                i += 1;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let c = *chars.get(i).ok_or_else(bad)?;
                    if c == ']' && !ranges.is_empty() {
                        break;
                    }
                    let read = |i: &mut usize| -> Result<char, PatternError> {
                        let c = *chars.get(*i).ok_or_else(bad)?;
                        match c {
                            '\\' => {
                                *i += 1;
                                let e = *chars.get(*i).ok_or_else(bad)?;
                                *i += 1;
                                Ok(e)
                            }
                            '-' | ']' => Err(bad()),
                            c => {
                                *i += 1;
                                Ok(c)
                            }
                        }
                    };
                    let lo = read(&mut i)?;
                    let hi = if chars.get(i) == Some(&'-') {
                        i += 1;
                        let hi = read(&mut i)?;
                        if hi < lo {
                            return Err(bad());
                        }
                        hi
                    } else {
                        lo
                    };
                    ranges.push((lo, hi));
                }
                toks.push(Tok::Class { negated, ranges });
            }
            c => toks.push(Tok::Lit(c)),
        }
        i += 1;
    }
    Ok(toks)
}

/// Matches `name` against parsed tokens; `slash_is_special` keeps `*` and `?` off `/`.
fn matches(toks: &[Tok], name: &[char], slash_is_special: bool) -> bool {
    // dp[j]: whether toks[..t] matches name[..j]
    let mut dp = vec![false; name.len() + 1];
    dp[0] = true;
    for tok in toks {
        let mut next = vec![false; name.len() + 1];
        match tok {
            Tok::Star => {
                for j in 0..=name.len() {
                    next[j] = dp[j] || (j > 0 && next[j - 1] && !(slash_is_special && name[j - 1] == '/'));
                }
            }
            _ => {
                for j in 1..=name.len() {
                    if !dp[j - 1] {
                        continue;
                    }
                    let c = name[j - 1];
                    next[j] = match tok {
                        Tok::Lit(l) => *l == c,
                        Tok::Any => !(slash_is_special && c == '/'),
                        Tok::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
                        Tok::Star => unreachable!(),
                    };
                }
            }
        }
        dp = next;
    }
    dp[name.len()]
}

/// Go's `path.Match(pattern, name)`.
pub fn go_path_match(pattern: &str, name: &str) -> Result<bool, PatternError> {
    let toks = parse(pattern)?;
    let name: Vec<char> = name.chars().collect();
    Ok(matches(&toks, &name, true))
}

/// Whether `git ls-files -- pattern` lists `path` (see the module documentation).
pub fn git_pathspec_match(pattern: &str, path: &str) -> Result<bool, PatternError> {
    let toks = parse(pattern)?;
    let has_wildcard = toks.iter().any(|t| !matches!(t, Tok::Lit(_)));
    if !has_wildcard {
        let literal = pattern.replace('\\', "");
        let literal = literal.trim_end_matches('/');
        return Ok(path == literal || path.strip_prefix(literal).is_some_and(|rest| rest.starts_with('/')));
    }
    let name: Vec<char> = path.chars().collect();
    Ok(matches(&toks, &name, false))
}

/// Doublestar matching of `path` (see the module documentation).
pub fn doublestar_match(pattern: &str, path: &str) -> Result<bool, PatternError> {
    let segments: Vec<&str> = pattern.split('/').collect();
    let mut parsed = Vec::with_capacity(segments.len());
    for s in &segments {
        parsed.push(if *s == "**" { None } else { Some(parse(s)?) });
    }
    let parts: Vec<Vec<char>> = path.split('/').map(|p| p.chars().collect()).collect();
    Ok(match_segments(&parsed, &parts))
}

fn match_segments(pattern: &[Option<Vec<Tok>>], parts: &[Vec<char>]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((None, rest)) => (0..=parts.len()).any(|skip| match_segments(rest, &parts[skip..])),
        Some((Some(toks), rest)) => {
            !parts.is_empty() && matches(toks, &parts[0], true) && match_segments(rest, &parts[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match_rules() {
        let yes = [
            ("apps/*", "apps/web"),
            ("apps/?eb", "apps/web"),
            ("apps/[a-w]eb", "apps/web"),
            ("apps/[^x]eb", "apps/web"),
            ("apps/\\*", "apps/*"),
            ("*", "apps"),
            ("apps/**", "apps/web"),
            ("a[/]b", "a/b"),
        ];
        for (p, n) in yes {
            assert!(go_path_match(p, n).unwrap(), "{p} {n}");
        }
        let no = [
            ("apps/*", "apps/web/v1"),
            ("*", "apps/web"),
            ("apps/**", "apps/web/v1"),
            ("apps/?", "apps/web"),
            ("apps/[^w]eb", "apps/web"),
            ("apps", "apps/web"),
        ];
        for (p, n) in no {
            assert!(!go_path_match(p, n).unwrap(), "{p} {n}");
        }
        for bad in ["[", "a[]", "a[z-a]", "a\\", "[a-"] {
            assert!(go_path_match(bad, "a").is_err(), "{bad}");
        }
    }

    #[test]
    fn git_pathspecs_cross_slashes() {
        assert!(git_pathspec_match("apps/*.yaml", "apps/a/b/config.yaml").unwrap());
        assert!(git_pathspec_match("apps/*/*/values.yaml", "apps/a/b/c/values.yaml").unwrap());
        assert!(git_pathspec_match("apps/config.json", "apps/config.json").unwrap());
        assert!(git_pathspec_match("apps", "apps/x/y.json").unwrap(), "a literal is also a directory");
        assert!(!git_pathspec_match("apps", "apps2/y.json").unwrap());
        assert!(!git_pathspec_match("apps/*.yaml", "other/config.yaml").unwrap());
    }

    #[test]
    fn doublestar_spans_segments_only_with_two_stars() {
        assert!(doublestar_match("apps/**/config.yaml", "apps/config.yaml").unwrap());
        assert!(doublestar_match("apps/**/config.yaml", "apps/a/b/config.yaml").unwrap());
        assert!(doublestar_match("apps/*/config.yaml", "apps/a/config.yaml").unwrap());
        assert!(!doublestar_match("apps/*/config.yaml", "apps/a/b/config.yaml").unwrap());
        assert!(!doublestar_match("apps/*.yaml", "apps/a/x.yaml").unwrap());
    }
}
