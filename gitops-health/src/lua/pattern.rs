//! Lua 5.1 patterns, as LuaJIT 2.1 matches them, with every step charged to a meter.
//!
//! LuaJIT's own matcher is one C call: the VM's count hook never runs inside it, so a
//! backtracking pattern (`string.rep("a*", 20) .. "b"` on forty `a`s) ran for minutes past the
//! budget. This matcher keeps LuaJIT's semantics exactly (the same backtracking order, so the
//! same match and the same captures; the same errors, raised at the moment the matcher reaches
//! the faulty item, so `("x"):find("y[")` is still `nil`; the same nesting limit of 200 that
//! gives "pattern too complex"), and charges each attempt and each scanned byte to a [`Meter`].
//! The meter decides when to look at the clock; once the budget is spent, matching stops with
//! [`PatternError::Budget`].
//!
//! Written from the semantics of Lua 5.1 patterns (the reference manual, §5.4.1) and from
//! LuaJIT's observable behaviour, which the tests compare against LuaJIT itself.
//!
//! Two quirks of the C implementation are kept because scripts can observe them: a pattern
//! ends at its first NUL byte, and reading one byte past the subject's end yields NUL (which
//! `%f` and `%b` can see).

use thiserror::Error;

/// Most captures one pattern may open (LuaJIT's `LUA_MAXCAPTURES`).
pub(crate) const MAX_CAPTURES: usize = 32;

/// Deepest nesting of matcher calls before "pattern too complex" (LuaJIT's `LJ_MAX_XLEVEL`).
const MAX_DEPTH: u32 = 200;

/// A capture still open (`(` seen, `)` not yet).
const UNFINISHED: isize = -1;
/// A position capture `()`.
const POSITION: isize = -2;

/// Why a match could not be completed. The texts are LuaJIT's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum PatternError {
    /// A `%` at the very end of the pattern.
    #[error("malformed pattern (ends with '%')")]
    EndsWithPercent,
    /// A set `[` without its `]`.
    #[error("malformed pattern (missing ']')")]
    MissingBracket,
    /// `%f` not followed by a set.
    #[error("missing '[' after '%f' in pattern")]
    FrontierWithoutSet,
    /// A `)` with no open capture.
    #[error("invalid pattern capture")]
    InvalidPatternCapture,
    /// `%b` without its two delimiters.
    #[error("unbalanced pattern")]
    Unbalanced,
    /// The matcher nested deeper than LuaJIT allows.
    #[error("pattern too complex")]
    TooComplex,
    /// A back-reference or replacement `%n` to a capture that does not exist (or is open).
    #[error("invalid capture index")]
    InvalidCaptureIndex,
    /// More than [`MAX_CAPTURES`] captures.
    #[error("too many captures")]
    TooManyCaptures,
    /// A capture read while still open (`string.match("a", "(a")`).
    #[error("unfinished capture")]
    UnfinishedCapture,
    /// The evaluation's time budget ran out while matching.
    #[error("time budget exceeded")]
    Budget,
}

/// Pays for matching work. `charge` is called with a count of elementary steps (one attempt,
/// one scanned byte); it fails once the evaluation may not spend any more.
pub(crate) trait Meter {
    /// Adds `steps` to the work done; [`PatternError::Budget`] stops the match.
    fn charge(&mut self, steps: usize) -> Result<(), PatternError>;
}

/// A meter that never stops (for callers that bound the work some other way).
#[cfg(test)]
pub(crate) struct Unmetered;

#[cfg(test)]
impl Meter for Unmetered {
    fn charge(&mut self, _steps: usize) -> Result<(), PatternError> {
        Ok(())
    }
}

/// One capture of a successful match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capture {
    /// The bytes `start..start + len` of the subject.
    Text {
        /// Offset of the first byte.
        start: usize,
        /// Length in bytes.
        len: usize,
    },
    /// A position capture `()`: the 0-based offset it stood at.
    Position(usize),
    /// A capture the pattern opened and never closed.
    Unfinished,
}

/// Is `c` a byte of class `bits` in the C locale (LuaJIT's own table, ASCII only)?
fn class_has(c: u8, class: u8) -> bool {
    match class {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'g' => c.is_ascii_graphic(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        // C's isspace includes the vertical tab, which `u8::is_ascii_whitespace` does not.
        b's' => matches!(c, b'\t'..=b'\r' | b' '),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        _ => false,
    }
}

/// Does `c` match the escape `%cl`? Class letters (lower case: the class, upper case: its
/// complement), `%z`/`%Z` for NUL; any other byte stands for itself.
fn match_class(c: u8, cl: u8) -> bool {
    let lower = cl.to_ascii_lowercase();
    match lower {
        b'a' | b'c' | b'd' | b'g' | b'l' | b'p' | b's' | b'u' | b'w' | b'x' => {
            class_has(c, lower) == cl.is_ascii_lowercase()
        }
        b'z' => (c == 0) == cl.is_ascii_lowercase(),
        _ => cl == c,
    }
}

/// Does the pattern hold any byte that makes it more than a plain string (LuaJIT's test for
/// taking the plain-search path of `string.find`)?
pub(crate) fn has_specials(pattern: &[u8]) -> bool {
    pattern.iter().any(|c| b"^$*+?.([%-".contains(c))
}

/// What testing one byte against the item at `p..ep` costs: a set is scanned whole.
fn item_cost(p: usize, ep: usize) -> usize {
    1 + (ep - p) / 8
}

/// A pattern being matched against one subject.
pub(crate) struct Matcher<'a, M: Meter> {
    src: &'a [u8],
    pat: &'a [u8],
    /// Captures opened so far (finished or not).
    level: usize,
    /// Current nesting of [`Matcher::at`].
    depth: u32,
    /// Per capture: its start, and its length or [`UNFINISHED`] or [`POSITION`].
    caps: [(usize, isize); MAX_CAPTURES],
    meter: &'a mut M,
}

impl<'a, M: Meter> Matcher<'a, M> {
    /// A matcher of `pattern` over `subject`. The pattern ends at its first NUL, as in C.
    pub(crate) fn new(subject: &'a [u8], pattern: &'a [u8], meter: &'a mut M) -> Self {
        let end = pattern.iter().position(|&c| c == 0).unwrap_or(pattern.len());
        Matcher { src: subject, pat: &pattern[..end], level: 0, depth: 0, caps: [(0, 0); MAX_CAPTURES], meter }
    }

    /// The pattern byte at `i`, NUL past the end.
    fn p(&self, i: usize) -> u8 {
        self.pat.get(i).copied().unwrap_or(0)
    }

    /// The subject byte at `i`, NUL past the end.
    fn s(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    /// The first match at subject offset `from` or later (only at `from` when `anchored`),
    /// of the pattern from its offset `p0` on (1 to skip a leading `^`). Returns the match's
    /// start and end offsets; its captures are then [`Matcher::captures`]. Offsets past the
    /// subject's end are taken as its end.
    pub(crate) fn scan(
        &mut self,
        from: usize,
        p0: usize,
        anchored: bool,
    ) -> Result<Option<(usize, usize)>, PatternError> {
        let mut start = from.min(self.src.len());
        loop {
            self.level = 0;
            self.depth = 0;
            if let Some(end) = self.at(start, p0)? {
                return Ok(Some((start, end)));
            }
            if anchored || start >= self.src.len() {
                return Ok(None);
            }
            start += 1;
        }
    }

    /// The number of captures of the last match.
    pub(crate) fn level(&self) -> usize {
        self.level
    }

    /// Capture `i` (0-based) of the last match; `i` must be below [`Matcher::level`].
    pub(crate) fn capture(&self, i: usize) -> Capture {
        match self.caps.get(i) {
            Some(&(start, POSITION)) => Capture::Position(start),
            Some(&(start, len)) if len >= 0 => Capture::Text { start, len: len.unsigned_abs() },
            _ => Capture::Unfinished,
        }
    }

    /// Matches the pattern from `p` at subject offset `s`; the end offset of the match, or
    /// `None`. The recursion (and so the nesting limit) follows LuaJIT's: one level per
    /// capture boundary, per `?`, and per repetition attempt; plain items loop.
    fn at(&mut self, mut s: usize, mut p: usize) -> Result<Option<usize>, PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError::TooComplex);
        }
        self.meter.charge(1)?;
        let result = loop {
            match self.p(p) {
                // End of the pattern: a match.
                0 => break Some(s),
                b'(' if self.p(p + 1) == b')' => break self.start_capture(s, p + 2, POSITION)?,
                b'(' => break self.start_capture(s, p + 1, UNFINISHED)?,
                b')' => break self.end_capture(s, p + 1)?,
                b'$' if p + 1 == self.pat.len() => break (s == self.src.len()).then_some(s),
                b'%' if self.p(p + 1) == b'b' => match self.balance(s, p + 2)? {
                    Some(next) => {
                        s = next;
                        p += 4;
                    }
                    None => break None,
                },
                b'%' if self.p(p + 1) == b'f' => {
                    p += 2;
                    if self.p(p) != b'[' {
                        return Err(PatternError::FrontierWithoutSet);
                    }
                    let ep = self.class_end(p)?;
                    let previous = if s == 0 { 0 } else { self.s(s - 1) };
                    if self.in_set(previous, p, ep - 1) || !self.in_set(self.s(s), p, ep - 1) {
                        break None;
                    }
                    p = ep;
                }
                b'%' if self.p(p + 1).is_ascii_digit() => match self.back_reference(s, self.p(p + 1))? {
                    Some(next) => {
                        s = next;
                        p += 2;
                    }
                    None => break None,
                },
                _ => {
                    let ep = self.class_end(p)?;
                    let m = s < self.src.len() && self.single(self.src[s], p, ep);
                    match self.p(ep) {
                        b'?' => {
                            if m && let Some(end) = self.at(s + 1, ep + 1)? {
                                break Some(end);
                            }
                            p = ep + 1;
                        }
                        b'*' => break self.max_expand(s, p, ep)?,
                        b'+' => break if m { self.max_expand(s + 1, p, ep)? } else { None },
                        b'-' => break self.min_expand(s, p, ep)?,
                        _ if m => {
                            s += 1;
                            p = ep;
                        }
                        _ => break None,
                    }
                }
            }
        };
        self.depth -= 1;
        Ok(result)
    }

    /// The offset just past the single-character class starting at `p` (`x`, `%x`, `[...]`).
    fn class_end(&mut self, p: usize) -> Result<usize, PatternError> {
        let first = self.p(p);
        let mut q = p + 1;
        match first {
            b'%' => {
                if self.p(q) == 0 {
                    return Err(PatternError::EndsWithPercent);
                }
                Ok(q + 1)
            }
            b'[' => {
                if self.p(q) == b'^' {
                    q += 1;
                }
                // The first byte of a set is never its end, so `[]]` is the set of `]`.
                loop {
                    let c = self.p(q);
                    if c == 0 {
                        return Err(PatternError::MissingBracket);
                    }
                    q += 1;
                    if c == b'%' && self.p(q) != 0 {
                        q += 1;
                    }
                    if self.p(q) == b']' {
                        break;
                    }
                }
                // A long set is scanned on every use: charge for it.
                self.meter.charge(item_cost(p, q + 1))?;
                Ok(q + 1)
            }
            _ => Ok(q),
        }
    }

    /// Is `c` in the set `[...]` that spans `p` (its `[`) to `ec` (its `]`)?
    fn in_set(&self, c: u8, p: usize, ec: usize) -> bool {
        let mut q = p + 1;
        let mut found = true;
        if self.p(q) == b'^' {
            found = false;
            q += 1;
        }
        while q < ec {
            let here = self.p(q);
            if here == b'%' {
                q += 1;
                if match_class(c, self.p(q)) {
                    return found;
                }
                q += 1;
            } else if self.p(q + 1) == b'-' && q + 2 < ec {
                if here <= c && c <= self.p(q + 2) {
                    return found;
                }
                q += 3;
            } else {
                if here == c {
                    return found;
                }
                q += 1;
            }
        }
        !found
    }

    /// Does subject byte `c` match the single-character class at `p` (ending before `ep`)?
    fn single(&self, c: u8, p: usize, ep: usize) -> bool {
        match self.p(p) {
            b'.' => true,
            b'%' => match_class(c, self.p(p + 1)),
            b'[' => self.in_set(c, p, ep - 1),
            other => other == c,
        }
    }

    /// `%bxy` at subject offset `s`, with `x` at pattern offset `p`.
    fn balance(&mut self, s: usize, p: usize) -> Result<Option<usize>, PatternError> {
        let (open, close) = (self.p(p), self.p(p + 1));
        if open == 0 || close == 0 {
            return Err(PatternError::Unbalanced);
        }
        if self.s(s) != open {
            return Ok(None);
        }
        let mut depth = 1usize;
        let mut i = s + 1;
        while i < self.src.len() {
            let c = self.src[i];
            // The closing byte is tested first, so `%b''` ends at the next quote.
            if c == close {
                depth -= 1;
                if depth == 0 {
                    self.meter.charge(i - s)?;
                    return Ok(Some(i + 1));
                }
            } else if c == open {
                depth += 1;
            }
            i += 1;
        }
        self.meter.charge(i - s)?;
        Ok(None)
    }

    /// Back-reference `%d` at subject offset `s`.
    fn back_reference(&mut self, s: usize, digit: u8) -> Result<Option<usize>, PatternError> {
        let l = self.check_capture(digit)?;
        let (start, len) = self.caps[l];
        // A position capture has no text, so a back-reference to it never matches (in C its
        // negative length turns into a huge unsigned one).
        let Ok(len) = usize::try_from(len) else { return Ok(None) };
        self.meter.charge(len / 8)?;
        let matches = self.src.len() - s >= len && self.src[start..start + len] == self.src[s..s + len];
        Ok(matches.then_some(s + len))
    }

    /// The capture a back-reference digit names, if it is closed.
    fn check_capture(&self, digit: u8) -> Result<usize, PatternError> {
        let l = usize::from(digit.wrapping_sub(b'1'));
        match self.caps.get(l) {
            Some(&(_, len)) if l < self.level && len != UNFINISHED => Ok(l),
            _ => Err(PatternError::InvalidCaptureIndex),
        }
    }

    /// The greedy repetitions `*` and `+`: the longest run first, then shorter ones.
    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> Result<Option<usize>, PatternError> {
        let cost = item_cost(p, ep);
        let mut i = 0;
        while s + i < self.src.len() && self.single(self.src[s + i], p, ep) {
            self.meter.charge(cost)?;
            i += 1;
        }
        loop {
            if let Some(end) = self.at(s + i, ep + 1)? {
                return Ok(Some(end));
            }
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
        }
    }

    /// The lazy repetition `-`: the shortest run first, then longer ones.
    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> Result<Option<usize>, PatternError> {
        let cost = item_cost(p, ep);
        loop {
            if let Some(end) = self.at(s, ep + 1)? {
                return Ok(Some(end));
            }
            self.meter.charge(cost)?;
            if s < self.src.len() && self.single(self.src[s], p, ep) {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }

    /// Opens capture number `level` at `s` (`what`: open, or a position) and matches on; the
    /// capture is dropped again if that fails.
    fn start_capture(&mut self, s: usize, p: usize, what: isize) -> Result<Option<usize>, PatternError> {
        if self.level >= MAX_CAPTURES {
            return Err(PatternError::TooManyCaptures);
        }
        self.caps[self.level] = (s, what);
        self.level += 1;
        let result = self.at(s, p)?;
        if result.is_none() {
            self.level -= 1;
        }
        Ok(result)
    }

    /// Closes the innermost open capture at `s` and matches on; reopened if that fails.
    fn end_capture(&mut self, s: usize, p: usize) -> Result<Option<usize>, PatternError> {
        let l =
            (0..self.level).rev().find(|&l| self.caps[l].1 == UNFINISHED).ok_or(PatternError::InvalidPatternCapture)?;
        self.caps[l].1 = isize::try_from(s - self.caps[l].0).map_err(|_| PatternError::TooComplex)?;
        let result = self.at(s, p)?;
        if result.is_none() {
            self.caps[l].1 = UNFINISHED;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(s: &str, p: &str) -> Result<Option<(usize, usize)>, PatternError> {
        let (p0, anchored) = if p.starts_with('^') { (1, true) } else { (0, false) };
        Matcher::new(s.as_bytes(), p.as_bytes(), &mut Unmetered).scan(0, p0, anchored)
    }

    #[test]
    fn basics() {
        assert_eq!(find("hello world", "o w"), Ok(Some((4, 7))));
        assert_eq!(find("hello", "l+"), Ok(Some((2, 4))));
        assert_eq!(find("hello", "^h"), Ok(Some((0, 1))));
        assert_eq!(find("hello", "^e"), Ok(None));
        assert_eq!(find("hello", "o$"), Ok(Some((4, 5))));
        assert_eq!(find("a$b", "$b"), Ok(Some((1, 3))));
        assert_eq!(find("x", "y["), Ok(None));
        assert_eq!(find("y", "y["), Err(PatternError::MissingBracket));
        assert_eq!(find("a", "%"), Err(PatternError::EndsWithPercent));
        assert_eq!(find("THE (quick) fox", "%((%a+)%)"), Ok(Some((4, 11))));
        assert_eq!(find("f(a(b)c)", "%b()"), Ok(Some((1, 8))));
        assert_eq!(find("THE quick", "%f[%a]%a+"), Ok(Some((0, 3))));
        assert_eq!(find("abab", "(ab)%1"), Ok(Some((0, 4))));
        assert_eq!(find("a", "%1"), Err(PatternError::InvalidCaptureIndex));
        assert_eq!(find("a", ")"), Err(PatternError::InvalidPatternCapture));
        assert_eq!(find("a", "%f"), Err(PatternError::FrontierWithoutSet));
        assert_eq!(find("a", "%b"), Err(PatternError::Unbalanced));
        assert_eq!(find("a", &"(".repeat(33)), Err(PatternError::TooManyCaptures));
        assert_eq!(find(&"a".repeat(300), &"a?".repeat(250)), Err(PatternError::TooComplex));
        assert_eq!(find("aaa", &"a?".repeat(250)), Ok(Some((0, 3))));
        assert_eq!(find("]", "[]]"), Ok(Some((0, 1))));
        assert_eq!(find("a\u{b}", "%s"), Ok(Some((1, 2))));
    }

    #[test]
    fn a_pattern_ends_at_nul() {
        let mut m = Unmetered;
        let got = Matcher::new(b"xab", b"a\0zzz", &mut m).scan(0, 0, false);
        assert_eq!(got, Ok(Some((1, 2))));
    }

    /// Stops after a fixed number of steps.
    struct Steps(usize);

    impl Meter for Steps {
        fn charge(&mut self, steps: usize) -> Result<(), PatternError> {
            self.0 = self.0.checked_sub(steps).ok_or(PatternError::Budget)?;
            Ok(())
        }
    }

    #[test]
    fn backtracking_is_metered() {
        let subject = "a".repeat(40);
        let pattern = format!("{}b", "a*".repeat(20));
        let mut meter = Steps(1_000_000);
        let got = Matcher::new(subject.as_bytes(), pattern.as_bytes(), &mut meter).scan(0, 0, false);
        assert_eq!(got, Err(PatternError::Budget));
    }
}
