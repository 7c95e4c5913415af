//! Semantic versions and version constraints as Masterminds/semver v3 reads them: the library
//! behind Helm chart versions and dependencies, Argo CD's chart `targetRevision`, Flux's
//! `GitRepository` `ref.semver` and its image policies.
//!
//! It is not the `semver` crate's (Cargo's) language, and the differences decide which
//! version gets deployed:
//! - a bare version is exact (`1.2.3` is `=1.2.3`; Cargo reads it as `^1.2.3`);
//! - comparators are ANDed by spaces or commas and ORed by `||`; `a - b` (spaces required)
//!   is `>=a, <=b`;
//! - `x`, `X` and `*` are wildcards, and missing parts are wildcards too: `1.2` and `1.2.x`
//!   are `>=1.2.0 <1.3.0`, `*` is any release;
//! - the upper end of a partial `<=` or `>` is the whole wildcard range: `<=1.2` admits
//!   `1.2.9`, `>1.2` starts at `1.3.0`;
//! - `~1.2.3` is `>=1.2.3 <1.3.0`, `~1` is `<2.0.0`; `^1.2.3` is `<2.0.0`, `^0.2.3` is
//!   `<0.3.0`, `^0.0.3` is `<0.0.4`, `^0` is `<1.0.0`;
//! - a prerelease version passes an AND group only when a comparator of **that group** has a
//!   prerelease (`>=1.2.3-0`), whatever its major.minor.patch (Cargo and npm only admit
//!   prereleases of the same major.minor.patch).
//!
//! Parsing follows Masterminds' grammar, limits included (512 bytes and 32 `||` groups a
//! constraint, 256 bytes a version), so a constraint Helm refuses is refused here, and its
//! quirks too (`<=*` admits only `0.0.x`; `^*` only `0.0.0`; a hyphen range after another
//! comparator needs a comma: `>1, 2 - 3`), because they decide what gets deployed. The tables
//! below were checked against Masterminds/semver v3.5.0 itself.
//!
//! # Example
//!
//! ```
//! use gitops_core::semver_range::{Constraints, Version};
//!
//! let range = Constraints::parse(">=1.0.0 <2.0.0 || 3.x")?;
//! assert!(range.matches(&Version::parse("1.4.0")?));
//! assert!(range.matches(&Version::parse("v3.1")?));
//! assert!(!range.matches(&Version::parse("1.5.0-rc.1")?), "no prerelease without one in the range");
//! assert!(!Constraints::parse("1.2.3")?.matches(&Version::parse("1.2.4")?), "a bare version is exact");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The longest constraint accepted, in bytes (Masterminds' `MaxConstraintLen`).
pub const MAX_CONSTRAINT_LEN: usize = 512;
/// The most `||` alternatives a constraint may have (Masterminds' `MaxConstraintGroups`).
pub const MAX_CONSTRAINT_GROUPS: usize = 32;
/// The longest version accepted, in bytes (Masterminds' `MaxVersionLen`).
pub const MAX_VERSION_LEN: usize = 256;

/// A version or constraint that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a semantic version.
    #[error("{text:?} is not a semantic version: {reason}")]
    Version {
        /// The text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a version constraint.
    #[error("{text:?} is not a version constraint: {reason}")]
    Constraint {
        /// The text (the whole constraint, or the part at fault).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A semantic version: `major.minor.patch`, an optional prerelease and build metadata.
///
/// Versions compare as Semantic Versioning 2.0 says, build metadata ignored (so
/// `1.0.0+a == 1.0.0+b`): a prerelease is below its release; prerelease identifiers compare
/// numerically when both are numbers, a number is below a word, words compare by bytes, and
/// a shorter list of equal identifiers is below a longer one.
#[derive(Debug, Clone)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    build: String,
}

impl Version {
    /// A release version.
    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version { major, minor, patch, pre: String::new(), build: String::new() }
    }

    /// Reads a version as Masterminds' `NewVersion` does, which Helm uses for chart versions:
    /// a leading `v` is allowed, missing minor and patch are zero (`1.2` is `1.2.0`), leading
    /// zeros in the numbers are allowed (`01.2.3`), not in numeric prerelease identifiers.
    pub fn parse(text: &str) -> Result<Version, Error> {
        if text.len() > MAX_VERSION_LEN {
            return Err(version_error(text, "longer than 256 bytes"));
        }
        let mut s = Scanner::new(text);
        s.eat(b'v');
        let major = s.number().ok_or_else(|| version_error(text, "no major version number"))?;
        let minor =
            if s.eat(b'.') { s.number().ok_or_else(|| version_error(text, "no number after `.`"))? } else { "" };
        let patch = if !minor.is_empty() && s.eat(b'.') {
            s.number().ok_or_else(|| version_error(text, "no number after `.`"))?
        } else {
            ""
        };
        let (pre, build) = s.suffixes().ok_or_else(|| version_error(text, "bad prerelease or build metadata"))?;
        if !s.done() {
            return Err(version_error(text, "unexpected characters"));
        }
        let number = |n: &str| -> Result<u64, Error> {
            if n.is_empty() { Ok(0) } else { n.parse().map_err(|_| version_error(text, "a number is too large")) }
        };
        Version::with_suffixes(text, number(major)?, number(minor)?, number(patch)?, pre, build)
    }

    /// Reads a version as Masterminds' `StrictNewVersion` does: exactly
    /// `major.minor.patch[-prerelease][+build]`, no leading `v`, no leading zeros.
    pub fn parse_strict(text: &str) -> Result<Version, Error> {
        if text.is_empty() {
            return Err(version_error(text, "empty"));
        }
        if text.len() > MAX_VERSION_LEN {
            return Err(version_error(text, "longer than 256 bytes"));
        }
        let mut parts = text.splitn(3, '.');
        let (Some(major), Some(minor), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(version_error(text, "not major.minor.patch"));
        };
        // The build comes off first: it may hold `-`.
        let (rest, build) = rest.split_once('+').map_or((rest, None), |(r, b)| (r, Some(b)));
        let (patch, pre) = rest.split_once('-').map_or((rest, None), |(p, r)| (p, Some(r)));
        let mut numbers = [0u64; 3];
        for (slot, n) in numbers.iter_mut().zip([major, minor, patch]) {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(version_error(text, "not major.minor.patch"));
            }
            if n.len() > 1 && n.starts_with('0') {
                return Err(version_error(text, "a number starts with 0"));
            }
            *slot = n.parse().map_err(|_| version_error(text, "a number is too large"))?;
        }
        // `1.2.3-` and `1.2.3+` have an empty prerelease or build, which is refused.
        if pre == Some("") {
            return Err(version_error(text, "bad prerelease"));
        }
        if build == Some("") {
            return Err(version_error(text, "bad build metadata"));
        }
        let [major, minor, patch] = numbers;
        Version::with_suffixes(text, major, minor, patch, pre.unwrap_or(""), build.unwrap_or(""))
    }

    fn with_suffixes(text: &str, major: u64, minor: u64, patch: u64, pre: &str, build: &str) -> Result<Version, Error> {
        if !pre.is_empty() && !valid_identifiers(pre, true) {
            return Err(version_error(text, "bad prerelease"));
        }
        if !build.is_empty() && !valid_identifiers(build, false) {
            return Err(version_error(text, "bad build metadata"));
        }
        Ok(Version { major, minor, patch, pre: pre.to_string(), build: build.to_string() })
    }

    /// The major version.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor version.
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch version.
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The prerelease (without its `-`), empty for a release.
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// The build metadata (without its `+`), often empty.
    pub fn build(&self) -> &str {
        &self.build
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

fn version_error(text: &str, reason: &'static str) -> Error {
    Error::Version { text: text.to_string(), reason }
}

/// Dot-separated identifiers of `[0-9A-Za-z-]`, none empty; in a prerelease a numeric one has
/// no leading zero.
fn valid_identifiers(s: &str, prerelease: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(prerelease && id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// One prerelease identifier against another, as Masterminds compares them: an absent one is
/// below a present one, numbers compare as numbers and are below words, words compare by
/// bytes. A number too large for 64 bits counts as a word.
fn compare_identifier(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) if a == b => Ordering::Equal,
        (Some(a), Some(b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => a.cmp(b),
        },
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (p, q) => match compare_identifier(p, q) {
                Ordering::Equal => {}
                other => return other,
            },
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.triple().cmp(&other.triple()).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_prerelease(&self.pre, &other.pre),
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Version, Error> {
        Version::parse(s)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// None or `=`: exact, or the wildcard range when the version is partial.
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    /// `~` or `~>`.
    Tilde,
    Caret,
}

/// The operators, longest first so that `>=` is not read as `>` then `=`.
const OPS: [(&str, Op); 12] = [
    (">=", Op::GreaterEqual),
    ("=>", Op::GreaterEqual),
    ("<=", Op::LessEqual),
    ("=<", Op::LessEqual),
    ("!=", Op::NotEqual),
    ("~>", Op::Tilde),
    (">", Op::Greater),
    ("<", Op::Less),
    ("=", Op::Equal),
    ("~", Op::Tilde),
    ("^", Op::Caret),
    ("", Op::Equal),
];

/// Which parts of a comparator's version were wildcards or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wild {
    /// `1.2.3`.
    None,
    /// `1.2`, `1.2.x`.
    Patch,
    /// `1`, `1.x`, `1.x.x`.
    Minor,
    /// `*`, `x`: the version is `0.0.0`.
    All,
}

/// One comparator: an operator and a version, wildcards padded with zeros.
#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    version: Version,
    wild: Wild,
    /// As written, for [`Constraints`]' display: operator and version.
    text: String,
}

impl Comparator {
    fn check(&self, v: &Version) -> bool {
        let c = &self.version;
        let minor_wild = self.wild == Wild::Minor;
        let patch_wild = self.wild == Wild::Patch;
        let wild = self.wild != Wild::None;
        match self.op {
            Op::Equal if wild => self.tilde(v),
            Op::Equal => v == c,
            Op::Tilde => self.tilde(v),
            Op::NotEqual => {
                if wild {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !minor_wild {
                        return true;
                    }
                    if minor_wild {
                        return false;
                    }
                    if c.patch != v.patch && !patch_wild {
                        return true;
                    }
                    if patch_wild {
                        return (!v.pre.is_empty() || !c.pre.is_empty())
                            && compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                    }
                }
                v != c
            }
            Op::Greater if !wild => v > c,
            // `>1` starts at 2.0.0, `>1.2` at 1.3.0.
            Op::Greater if v.major != c.major => v.major > c.major,
            Op::Greater => match self.wild {
                Wild::Minor => false,
                Wild::Patch => v.minor > c.minor,
                _ => v > c,
            },
            Op::Less => v < c,
            Op::GreaterEqual => v >= c,
            Op::LessEqual if !wild => v <= c,
            Op::LessEqual => !(v.major > c.major || (v.major == c.major && v.minor > c.minor && !minor_wild)),
            Op::Caret => {
                if v < c {
                    false
                } else if c.major > 0 || minor_wild {
                    v.major == c.major
                } else if v.major > 0 {
                    false
                } else if c.minor > 0 || patch_wild {
                    v.minor == c.minor
                } else {
                    v.minor == 0 && v.patch == c.patch
                }
            }
        }
    }

    /// `~`: at least the version, within its minor (or its major when the minor was a
    /// wildcard); `~0.0.0` and `~*` are any version.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        if c.triple() == (0, 0, 0) && !matches!(self.wild, Wild::Minor | Wild::Patch) {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.wild == Wild::Minor)
    }
}

/// A version constraint: `||` alternatives of ANDed comparators.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<Group>,
}

#[derive(Debug, Clone)]
struct Group {
    comparators: Vec<Comparator>,
    /// A comparator of this group has a prerelease: prerelease versions may pass it.
    prerelease: bool,
}

impl Constraints {
    /// Reads a constraint in Masterminds' grammar. An empty one is an error, as in
    /// Masterminds (Helm reads an empty chart version as `*` before it gets here).
    pub fn parse(text: &str) -> Result<Constraints, Error> {
        let error = |reason: &str| Error::Constraint { text: text.to_string(), reason: reason.to_string() };
        if text.len() > MAX_CONSTRAINT_LEN {
            return Err(error("longer than 512 bytes"));
        }
        let rewritten = rewrite_ranges(text);
        let alternatives: Vec<&str> = rewritten.split("||").collect();
        if alternatives.len() > MAX_CONSTRAINT_GROUPS {
            return Err(error("more than 32 `||` alternatives"));
        }
        let groups = alternatives.into_iter().map(parse_group).collect::<Result<Vec<_>, _>>()?;
        Ok(Constraints { groups })
    }

    /// Whether `version` satisfies the constraint: all comparators of some alternative, a
    /// prerelease only in an alternative that names one.
    pub fn matches(&self, version: &Version) -> bool {
        self.groups
            .iter()
            .any(|g| (version.pre.is_empty() || g.prerelease) && g.comparators.iter().all(|c| c.check(version)))
    }

    /// The highest of `versions` that satisfies the constraint, with its item.
    pub fn highest<'a, T>(&self, versions: impl IntoIterator<Item = (&'a Version, T)>) -> Option<(&'a Version, T)> {
        versions.into_iter().filter(|(v, _)| self.matches(v)).fold(None, |best, (v, t)| match best {
            Some((b, _)) if *b >= *v => best,
            _ => Some((v, t)),
        })
    }
}

impl fmt::Display for Constraints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str(" || ")?;
            }
            for (j, c) in g.comparators.iter().enumerate() {
                if j > 0 {
                    f.write_str(" ")?;
                }
                f.write_str(&c.text)?;
            }
        }
        Ok(())
    }
}

impl FromStr for Constraints {
    type Err = Error;

    fn from_str(s: &str) -> Result<Constraints, Error> {
        Constraints::parse(s)
    }
}

/// A version as a comparator writes it: `v?` then up to three parts of digits or wildcards,
/// a prerelease and build metadata. Its pieces, as written.
struct Written<'a> {
    whole: &'a str,
    major: &'a str,
    minor: Option<&'a str>,
    patch: Option<&'a str>,
    pre: &'a str,
}

/// One `||` alternative, ranges rewritten: comparators separated by spaces or by a comma (and
/// optional spaces), each an optional operator, optional spaces and a version.
fn parse_group(text: &str) -> Result<Group, Error> {
    let improper = |reason: &str| Error::Constraint { text: text.to_string(), reason: reason.to_string() };
    let mut s = Scanner::new(text);
    let mut comparators = Vec::new();
    s.spaces();
    loop {
        let (op_text, op) = OPS.iter().copied().find(|(t, _)| s.rest().starts_with(t)).unwrap_or(("", Op::Equal));
        s.at += op_text.len();
        s.spaces();
        let written = s.written().ok_or_else(|| improper("expected a version"))?;
        comparators.push(comparator(op, &format!("{op_text}{}", written.whole), &written)?);
        let spaced = s.spaces();
        if s.done() {
            break;
        }
        if s.eat(b',') {
            s.spaces();
        } else if !spaced {
            return Err(improper("comparators are separated by spaces or commas"));
        }
        if s.done() {
            return Err(improper("expected a version after `,`"));
        }
    }
    let prerelease = comparators.iter().any(|c| !c.version.pre.is_empty());
    Ok(Group { comparators, prerelease })
}

/// Rewrites each hyphen range `a - b` as `>= a, <= b `, as Masterminds does before it reads
/// anything else, with the same consequences: the spaces before the range go with it, so a
/// range that follows another comparator after spaces only (`>1 2 - 3`) glues to it and is
/// refused, and a range right after `||` may take digits of the version before it
/// (`1.3.2||10.2 - 1.3`). Helm refuses those constraints, so they are refused here too rather than
/// read some other way. Each range's text is replaced at its first occurrence, as Go's
/// `strings.Replace(.., 1)`.
fn rewrite_ranges(text: &str) -> std::borrow::Cow<'_, str> {
    static RANGE: std::sync::LazyLock<regex_lite::Regex> = std::sync::LazyLock::new(|| {
        // A version as a range end: digits, wildcards and the `|` Masterminds' class lets in.
        let end = r"v?[0-9|xX*]+(?:\.[0-9|xX*]+)?(?:\.[0-9|xX*]+)?(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?";
        let space = r"[ \t\n\f\r]";
        regex_lite::Regex::new(&format!("{space}*({end}){space}+-{space}+({end}){space}*")).expect("a valid pattern")
    });
    let found: Vec<(String, String)> =
        RANGE.captures_iter(text).map(|c| (c[0].to_string(), format!(">= {}, <= {} ", &c[1], &c[2]))).collect();
    if found.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for (range, rewritten) in found {
        out = out.replacen(&range, &rewritten, 1);
    }
    std::borrow::Cow::Owned(out)
}

fn is_wildcard(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

/// The comparator for `op` and a written version: wildcards and missing parts become zeros
/// (keeping the prerelease, dropping build metadata), as Masterminds pads them.
fn comparator(op: Op, text: &str, w: &Written<'_>) -> Result<Comparator, Error> {
    let (padded, wild) = if is_wildcard(w.major) {
        (format!("0.0.0{}", w.pre), Wild::All)
    } else if w.minor.is_none_or(is_wildcard) {
        (format!("{}.0.0{}", w.major, w.pre), Wild::Minor)
    } else if w.patch.is_none_or(is_wildcard) {
        (format!("{}.{}.0{}", w.major, w.minor.unwrap_or("0"), w.pre), Wild::Patch)
    } else {
        (w.whole.to_string(), Wild::None)
    };
    let version = Version::parse(&padded).map_err(|e| Error::Constraint {
        text: text.to_string(),
        reason: match e {
            Error::Version { reason, .. } => format!("bad version: {reason}"),
            other => other.to_string(),
        },
    })?;
    Ok(Comparator { op, version, wild, text: text.to_string() })
}

/// A cursor over ASCII text.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        Scanner { text, at: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.at += 1;
        }
        hit
    }

    /// Skips white space (Go's `\s`: space, tab, newline, form feed, carriage return);
    /// whether there was any.
    fn spaces(&mut self) -> bool {
        let start = self.at;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')) {
            self.at += 1;
        }
        self.at > start
    }

    /// A run of bytes that `keep` accepts, if not empty.
    fn run(&mut self, keep: impl Fn(u8) -> bool) -> Option<&'a str> {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        (self.at > start).then(|| &self.text[start..self.at])
    }

    fn number(&mut self) -> Option<&'a str> {
        self.run(|b| b.is_ascii_digit())
    }

    /// `-prerelease` and `+build`, each optional: dot-separated runs of `[0-9A-Za-z-]`. A
    /// trailing `.` is left unread (and then refused by the caller); `None` if a `-` or `+`
    /// has nothing after it.
    fn suffixes(&mut self) -> Option<(&'a str, &'a str)> {
        let part = |s: &mut Scanner<'a>, lead: u8| -> Option<&'a str> {
            if !s.eat(lead) {
                return Some("");
            }
            let start = s.at;
            s.run(|b| b.is_ascii_alphanumeric() || b == b'-')?;
            loop {
                let before = s.at;
                if !(s.eat(b'.') && s.run(|b| b.is_ascii_alphanumeric() || b == b'-').is_some()) {
                    s.at = before;
                    break;
                }
            }
            Some(&s.text[start..s.at])
        };
        let pre = part(self, b'-')?;
        let build = part(self, b'+')?;
        Some((pre, build))
    }

    /// A version as comparators write it (see [`Written`]).
    fn written(&mut self) -> Option<Written<'a>> {
        let start = self.at;
        let wild = |b: u8| b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*' | b'|');
        self.eat(b'v');
        let major = self.run(wild)?;
        let piece = |s: &mut Scanner<'a>| {
            let before = s.at;
            match s.eat(b'.').then(|| s.run(wild)).flatten() {
                Some(p) => Some(p),
                None => {
                    s.at = before;
                    None
                }
            }
        };
        let minor = piece(self);
        let patch = if minor.is_some() { piece(self) } else { None };
        let pre_start = self.at;
        let (pre, _) = self.suffixes()?;
        // With its `-`, as padding appends it.
        let pre = if pre.is_empty() { "" } else { &self.text[pre_start..=pre_start + pre.len()] };
        Some(Written { whole: &self.text[start..self.at], major, minor, patch, pre })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn versions_read_leniently_or_strictly() {
        // (text, lenient reading, strict reading)
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("1.2.3", Some("1.2.3"), Some("1.2.3")),
            ("v1.2.3", Some("1.2.3"), None),
            ("1.2", Some("1.2.0"), None),
            ("1", Some("1.0.0"), None),
            ("v2", Some("2.0.0"), None),
            ("01.2.3", Some("1.2.3"), None),
            ("1.2.3-beta.1+build.5", Some("1.2.3-beta.1+build.5"), Some("1.2.3-beta.1+build.5")),
            ("1.2-rc.1", Some("1.2.0-rc.1"), None),
            ("1.2.3-0", Some("1.2.3-0"), Some("1.2.3-0")),
            ("1.2.3-alpha-1", Some("1.2.3-alpha-1"), Some("1.2.3-alpha-1")),
            ("1.2.3+meta-data", Some("1.2.3+meta-data"), Some("1.2.3+meta-data")),
            ("1.2.3-01", None, None),
            ("1.2.3-", None, None),
            ("1.2.3+", None, None),
            ("1.2.3-a..b", None, None),
            ("1.2.3-beta.", None, None),
            ("1.2.3.4", None, None),
            ("V1.2.3", None, None),
            ("vv1.2.3", None, None),
            ("", None, None),
            ("x", None, None),
            ("1.x", None, None),
            ("1.2.3 ", None, None),
            ("1.2.3-ünicode", None, None),
            ("99999999999999999999.0.0", None, None),
        ];
        for (text, lenient, strict) in cases {
            let got = Version::parse(text).ok().map(|v| v.to_string());
            assert_eq!(got.as_deref(), *lenient, "lenient {text:?}");
            let got = Version::parse_strict(text).ok().map(|v| v.to_string());
            assert_eq!(got.as_deref(), *strict, "strict {text:?}");
        }
        assert!(Version::parse(&format!("1.2.3-{}", "a".repeat(300))).is_err(), "too long");
    }

    #[test]
    fn versions_order_as_semver_two_says_build_ignored() {
        let ascending = [
            "0.0.0-0",
            "0.0.0",
            "1.0.0-0",
            "1.0.0-1",
            "1.0.0-2",
            "1.0.0-10",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ascending.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0.0+a"), v("1.0.0+b"));
        // Identifiers compare by bytes, not as natural language.
        assert!(v("1.0.0-Beta") < v("1.0.0-alpha"));
        // Too large for 64 bits: a word, above any number.
        assert!(v("1.0.0-99999999999999999999") > v("1.0.0-5"));
    }

    /// (constraint, version, matches): Masterminds' documented ranges, in this project's own
    /// table; each row says what it shows.
    #[test]
    fn constraints_match_as_masterminds() {
        let table: &[(&str, &str, bool)] = &[
            // A bare version, `=` and spaces after the operator: exact.
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("1.2.3", "1.3.0", false),
            ("=1.2.3", "1.2.3", true),
            ("= 1.2.3", "1.2.3", true),
            ("v1.2.3", "1.2.3", true),
            ("1.2.3+build", "1.2.3", true),
            ("1.2.3", "1.2.3+other", true),
            // Partial versions are wildcard ranges.
            ("1.2", "1.2.0", true),
            ("1.2", "1.2.9", true),
            ("1.2", "1.3.0", false),
            ("1", "1.9.9", true),
            ("1", "2.0.0", false),
            ("1.2.x", "1.2.7", true),
            ("1.2.x", "1.3.0", false),
            ("1.2.X", "1.2.7", true),
            ("1.2.*", "1.2.7", true),
            ("1.x", "1.9.0", true),
            ("1.x", "2.0.0", false),
            ("1.x.x", "1.0.1", true),
            ("v1.x", "1.5.0", true),
            ("*", "0.0.0", true),
            ("*", "4.5.6", true),
            ("x", "12.0.0", true),
            ("*", "1.2.3-alpha.1", false),
            // Comparisons.
            (">1.2.3", "1.2.4", true),
            (">1.2.3", "1.2.3", false),
            (">=1.2.3", "1.2.3", true),
            ("=>1.2.3", "1.2.3", true),
            ("<1.2.3", "1.2.2", true),
            ("<1.2.3", "1.2.3", false),
            ("<=1.2.3", "1.2.3", true),
            ("=<1.2.3", "1.2.3", true),
            ("<= 1.2.3", "1.2.4", false),
            ("!=1.2.3", "1.2.4", true),
            ("!=1.2.3", "1.2.3", false),
            // Partial comparisons take the whole wildcard range.
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            (">1", "1.9.0", false),
            (">1", "2.0.0", true),
            (">1.x", "2.0.0", true),
            (">=1.2", "1.2.0", true),
            ("<1.2", "1.1.9", true),
            ("<1.2", "1.2.0", false),
            ("<1.x", "1.0.0", false),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("<=1", "1.99.0", true),
            ("<=1", "2.0.0", false),
            ("!=1.2.x", "1.2.5", false),
            ("!=1.2.x", "1.3.0", true),
            ("!=1.x", "1.3.0", false),
            ("!=1.x", "2.0.0", true),
            // Tilde: within the minor, or the major when the minor is missing.
            ("~1.2.3", "1.2.3", true),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1.2.3", "1.2.2", false),
            ("~>1.2.3", "1.2.9", true),
            ("~1.2", "1.2.0", true),
            ("~1.2", "1.3.0", false),
            ("~1", "1.9.0", true),
            ("~1", "2.0.0", false),
            ("~1.x", "1.9.0", true),
            ("~0", "0.9.0", true),
            ("~0", "1.0.0", false),
            ("~0.0.0", "3.0.0", true),
            ("~*", "3.0.0", true),
            // Caret: within the major, narrower below 1.0.0.
            ("^1.2.3", "1.2.3", true),
            ("^1.2.3", "1.9.9", true),
            ("^1.2.3", "2.0.0", false),
            ("^1.2.3", "1.2.2", false),
            ("^1.2", "1.9.0", true),
            ("^1", "1.9.0", true),
            ("^1.x", "1.9.0", true),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.2", "0.2.9", true),
            ("^0.2", "0.3.0", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.9", true),
            ("^0.0", "0.1.0", false),
            ("^0", "0.9.9", true),
            ("^0", "1.0.0", false),
            // Masterminds' quirks, kept because they decide what is deployed.
            ("^*", "0.0.0", true),
            ("^*", "1.0.0", false),
            ("<=*", "0.0.5", true),
            ("<=*", "0.1.0", false),
            (">*", "1.0.0", true),
            // AND by spaces or commas, OR by `||`.
            (">=1.0.0 <2.0.0", "1.5.0", true),
            (">=1.0.0 <2.0.0", "2.0.0", false),
            (">= 1.0.0, < 2.0.0", "1.5.0", true),
            (">=1.0.0,<2.0.0", "0.9.0", false),
            (">=1.0.0 , <2.0.0", "1.0.0", true),
            ("<1.0.0 || >=3.0.0", "0.5.0", true),
            ("<1.0.0 || >=3.0.0", "2.0.0", false),
            ("<1.0.0||>=3.0.0", "3.1.0", true),
            ("1.2.3 || 1.2.5", "1.2.5", true),
            // Hyphen ranges: inclusive, partial ends padded (the upper one as a range).
            ("1.2 - 1.4.5", "1.2.0", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            (">1.0, 1.2 - 1.4", "1.4.5", true),
            ("1.2.3 - 2", "2.9.0", true),
            ("1.2.3 - 2", "3.0.0", false),
            ("1.2.3 - 2", "1.2.2", false),
            ("v1 - v2", "2.5.0", true),
            ("1 - 2 || 4", "4.0.0", true),
            ("1 - 2 >1.5", "1.5.1", false),
            ("1 - 2 >1.5", "2.0.0", true),
            // Prereleases pass only a group that names one, at any major.minor.patch.
            (">=1.2.3-0", "1.2.3-alpha", true),
            (">=1.2.3-0", "1.9.0-beta", true),
            (">=1.2.3-0", "3.0.0-rc.1", true),
            (">=1.2.3", "1.2.4-alpha", false),
            ("1.2.3-beta", "1.2.3-beta", true),
            ("1.2.3-beta", "1.2.3", false),
            (">1.2.3-alpha.1", "1.2.3-alpha.2", true),
            (">1.2.3-alpha.1", "1.2.3-alpha.1", false),
            ("<1.2.3-beta", "1.2.3-alpha", true),
            ("<1.2.3-beta", "1.2.3", false),
            ("1.2.x-0", "1.2.5-rc.1", true),
            ("~1.2.3-0", "1.2.4-rc.1", true),
            ("^1.2.3-0", "1.9.0-rc.1", true),
            ("^1.2.3-0", "2.0.0-rc.1", false),
            (">=1.0.0-0 <2.0.0 || 3.x", "1.5.0-rc.1", true),
            (">=1.0.0 <2.0.0 || 3.x-0", "1.5.0-rc.1", false),
            (">=1.0.0 <2.0.0 || 3.x-0", "3.1.0-rc.1", true),
            ("1.x-0 || >5", "6.0.0-rc.1", false),
            ("*-0", "0.1.0-alpha", true),
            ("!=1.2.x-0", "1.2.5-alpha", true),
        ];
        for (constraint, version, expected) in table {
            let c = Constraints::parse(constraint).unwrap_or_else(|e| panic!("{constraint}: {e}"));
            assert_eq!(c.matches(&v(version)), *expected, "{constraint} against {version}");
        }
    }

    #[test]
    fn improper_constraints_are_refused() {
        for bad in [
            "",
            " ",
            "||",
            "1.2.3 ||",
            ">= ",
            "1.2.3,",
            ", 1.2.3",
            "1.2.3,,1.2.4",
            "1.2.3>1.0",
            "==1.2.3",
            "!1.2.3",
            "1.2.3 - ",
            "1.2-1.4 - 2 - 3",
            ">=1 - 2",
            "1.2.3.4",
            "V1.2.3",
            "1x",
            "1|2",
            "one",
            "1.2.3-01",
            "> 1.2.3 <",
            // Masterminds' range rewrite glues these to what precedes them (see rewrite_ranges).
            ">1 1.2 - 1.4",
            "~1.3.2||10.2.x - 1.3",
        ] {
            assert!(Constraints::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!(">={}", "1".repeat(MAX_CONSTRAINT_LEN));
        assert!(Constraints::parse(&long).unwrap_err().to_string().contains("longer than 512 bytes"));
        let many = vec!["1.0.0"; MAX_CONSTRAINT_GROUPS + 1].join("||");
        assert!(Constraints::parse(&many).unwrap_err().to_string().contains("32"));
        assert!(Constraints::parse(&vec!["1.0.0"; MAX_CONSTRAINT_GROUPS].join("||")).is_ok());
    }

    proptest::proptest! {
        /// Whatever the text, reading and matching answer without panicking.
        #[test]
        fn any_text_is_read_without_panicking(
            constraint in "([ 0-9xX*.,|<>=!~^vV+a-z-]|\\PC){0,48}",
            version in "([0-9vV.+a-z-]|\\PC){0,20}",
        ) {
            let parsed = Version::parse(&version);
            let _ = Version::parse_strict(&version);
            if let Ok(c) = Constraints::parse(&constraint) {
                let _ = c.to_string();
                if let Ok(v) = &parsed {
                    let _ = c.matches(v);
                }
            }
        }
    }

    #[test]
    fn a_hyphen_without_spaces_is_a_prerelease() {
        // Masterminds reads `1.2-1.4` as the version 1.2 with the prerelease `1.4`.
        let c = Constraints::parse("1.2-1.4").expect("parse");
        assert!(c.matches(&v("1.2.0-1.4")));
        assert!(c.matches(&v("1.2.5")), "a partial version is a tilde range");
        assert!(!c.matches(&v("1.3.0")));
    }

    #[test]
    fn constraints_display_as_written_and_pick_the_highest() {
        let c = Constraints::parse(" >= 1.0 , <2 ||  1.2 - 1.4 ").expect("parse");
        assert_eq!(c.to_string(), ">=1.0 <2 || >=1.2 <=1.4");
        let versions: Vec<Version> = ["1.0.0", "1.9.0", "2.0.0", "1.9.5-rc.1", "1.4.2"].iter().map(|t| v(t)).collect();
        let best = c.highest(versions.iter().map(|v| (v, v.to_string())));
        assert_eq!(best.map(|(_, t)| t).as_deref(), Some("1.9.0"));
        assert!(Constraints::parse("3.x").expect("parse").highest(versions.iter().map(|v| (v, ()))).is_none());
    }
}
