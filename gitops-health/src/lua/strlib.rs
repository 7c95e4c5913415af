//! The host side of the sandbox's bounded library functions.
//!
//! LuaJIT's `string.find`, `match`, `gmatch` and `gsub` are single C calls that the count
//! hook cannot interrupt, so a backtracking pattern or a quadratic plain search ran for
//! minutes. Here they run on the metered matcher of `pattern.rs` (and a linear-time plain
//! search), and every step counts against the evaluation's [`Budget`]: a spent budget ends
//! the call with the same "time budget exceeded" the hook raises.
//!
//! These functions do only the work; the prelude's wrappers keep LuaJIT's argument rules
//! and error texts. Argument errors are never raised here: a wrapper that sees a bad argument
//! hands the call to LuaJIT's own function, which raises its usual error before doing any
//! work. Pattern errors come back as `false, message`, and the wrapper raises them at the
//! caller's level, so they read `<string>:LINE: malformed pattern ...` as LuaJIT's do.

use mlua::{Lua, LuaString, MultiValue, Table, Value};

use super::pattern::{Capture, Matcher, Meter, PatternError, has_specials};
use super::state::Budget;

/// Steps (matcher attempts, bytes scanned) between two looks at the clock: a few hundred
/// microseconds of work, so the clock costs nothing and the budget is overrun by little.
const STEPS_PER_CHECK: u64 = 1 << 16;

/// LuaJIT's longest string (`LJ_MAX_STR`); `gsub` output past it is a memory error there.
const MAX_STRING: usize = 0x7fff_ff00;

/// The error the hook raises; the evaluation maps it to [`super::Error::Timeout`].
fn budget_exceeded() -> mlua::Error {
    mlua::Error::runtime("time budget exceeded")
}

/// A [`Meter`] charging the evaluation's budget; shared by every call of one evaluation, so
/// that many short calls add up too.
struct Clocked<'b>(&'b Budget);

impl Meter for Clocked<'_> {
    fn charge(&mut self, steps: usize) -> Result<(), PatternError> {
        let budget = self.0;
        let total = budget.steps.get().saturating_add(steps as u64);
        budget.steps.set(total);
        if total >= budget.next_check.get() {
            budget.next_check.set(total.saturating_add(STEPS_PER_CHECK));
            if budget.spent() {
                return Err(PatternError::Budget);
            }
        }
        Ok(())
    }
}

/// LuaJIT's conversion of a number argument to an `int32_t` (`lj_lib_checkint`): truncation,
/// and `INT_MIN` for NaN and anything out of range (what x86-64's conversion gives).
pub(super) fn lj_int(n: f64) -> i32 {
    // Truncation keeps (-2^31 - 1, 2^31) within range; NaN is outside every range.
    if n > -2_147_483_649.0 && n < 2_147_483_648.0 { n as i32 } else { i32::MIN }
}

/// LuaJIT's `luaL_optint`: through a 64-bit integer (`INT64_MIN` when out of range), then
/// its low 32 bits.
fn lual_int(n: f64) -> i32 {
    // 2^63: the first double past `i64::MAX`; -2^63 itself is `i64::MIN`.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let wide = if (-LIMIT..LIMIT).contains(&n) { n as i64 } else { i64::MIN };
    wide as i32
}

/// Runs `f` with the evaluation's meter.
fn metered<R>(lua: &Lua, f: impl FnOnce(&mut Clocked<'_>) -> mlua::Result<R>) -> mlua::Result<R> {
    let budget = lua.app_data_ref::<Budget>().ok_or_else(|| mlua::Error::runtime("budget missing"))?;
    let mut meter = Clocked(&budget);
    // Each call costs something, so a loop of cheap calls still reaches the clock.
    meter.charge(16).map_err(|_| budget_exceeded())?;
    f(&mut meter)
}

/// A pattern error as the wrappers expect it: `false, message` (or the budget error).
fn pattern_error(lua: &Lua, e: PatternError) -> mlua::Result<MultiValue> {
    match e {
        PatternError::Budget => Err(budget_exceeded()),
        e => Ok(MultiValue::from_iter([Value::Boolean(false), Value::String(lua.create_string(e.to_string())?)])),
    }
}

/// Pushes capture `i` of a match as LuaJIT's `push_onecapture` would. With no captures,
/// capture 0 is the whole match `whole`; an unfinished capture is an error.
fn push_capture<M: Meter>(
    lua: &Lua,
    out: &mut Vec<Value>,
    m: &Matcher<'_, M>,
    src: &[u8],
    i: usize,
    whole: (usize, usize),
) -> Result<mlua::Result<()>, PatternError> {
    let value = if i >= m.level() {
        if i != 0 {
            return Err(PatternError::InvalidCaptureIndex);
        }
        lua.create_string(&src[whole.0..whole.1]).map(Value::String)
    } else {
        match m.capture(i) {
            Capture::Text { start, len } => lua.create_string(&src[start..start + len]).map(Value::String),
            Capture::Position(at) => Ok(Value::Number((at + 1) as f64)),
            Capture::Unfinished => return Err(PatternError::UnfinishedCapture),
        }
    };
    Ok(value.map(|v| out.push(v)))
}

/// `string.find(s, p, init, plain)` (`find = true`) and `string.match(s, p, init)`, with
/// `s` and `p` already strings and `init` a number or nil. Returns what LuaJIT returns, or
/// `false, message` for a pattern error.
fn find(
    lua: &Lua,
    (s, p, init, plain, find): (LuaString, LuaString, Option<f64>, bool, bool),
) -> mlua::Result<MultiValue> {
    metered(lua, |meter| {
        let (src, pat) = (s.as_bytes(), p.as_bytes());
        let len = src.len();
        let init = i64::from(init.map(lj_int).unwrap_or(1));
        // 5.1 rules: a negative init counts from the end; the start is clamped to 0..=len.
        let start = if init < 0 { init + len as i64 } else { init - 1 };
        let start = usize::try_from(start.max(0)).unwrap_or(0).min(len);
        if find && (plain || !has_specials(&pat)) {
            // Linear time, where LuaJIT's memchr-and-memcmp loop is quadratic.
            meter.charge((len - start) / 64).map_err(|_| budget_exceeded())?;
            return Ok(match memchr::memmem::find(&src[start..], &pat) {
                Some(at) => MultiValue::from_iter([
                    Value::Number((start + at + 1) as f64),
                    Value::Number((start + at + pat.len()) as f64),
                ]),
                None => MultiValue::from_iter([Value::Nil]),
            });
        }
        let anchored = pat.first() == Some(&b'^');
        let mut m = Matcher::new(&src, &pat, meter);
        let (a, b) = match m.scan(start, usize::from(anchored), anchored) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(MultiValue::from_iter([Value::Nil])),
            Err(e) => return pattern_error(lua, e),
        };
        let mut out = Vec::with_capacity(m.level() + 2);
        let captures = if find {
            out.push(Value::Number((a + 1) as f64));
            out.push(Value::Number(b as f64));
            m.level()
        } else {
            m.level().max(1)
        };
        for i in 0..captures {
            match push_capture(lua, &mut out, &m, &src, i, (a, b)) {
                Ok(pushed) => pushed?,
                Err(e) => return pattern_error(lua, e),
            }
        }
        Ok(MultiValue::from_iter(out))
    })
}

/// One step of a `string.gmatch` iterator from 0-based offset `pos`: `next, captures...`
/// (the whole match when there are none), nothing when done, or `false, message`.
fn gmatch(lua: &Lua, (s, p, pos): (LuaString, LuaString, f64)) -> mlua::Result<MultiValue> {
    metered(lua, |meter| {
        let (src, pat) = (s.as_bytes(), p.as_bytes());
        // Positions only grow, from 0; past the end (after an empty match there) it is done.
        let pos = if pos >= 0.0 { pos as usize } else { 0 };
        if pos > src.len() {
            return Ok(MultiValue::new());
        }
        // gmatch has no anchor: a leading `^` is an ordinary byte, as in Lua 5.1.
        let mut m = Matcher::new(&src, &pat, meter);
        let (a, b) = match m.scan(pos, 0, false) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(MultiValue::new()),
            Err(e) => return pattern_error(lua, e),
        };
        // An empty match moves on by one, so the iteration ends.
        let next = if b == a { b + 1 } else { b };
        let mut out = vec![Value::Number(next as f64)];
        for i in 0..m.level().max(1) {
            match push_capture(lua, &mut out, &m, &src, i, (a, b)) {
                Ok(pushed) => pushed?,
                Err(e) => return pattern_error(lua, e),
            }
        }
        Ok(MultiValue::from_iter(out))
    })
}

/// `string.gsub(s, p, repl, max)` for a string replacement (numbers already made strings):
/// `result, count`, `false, message` for a pattern error, or `false, false` when the result
/// would pass the memory cap (the wrapper then raises Lua's own memory error).
fn gsub(lua: &Lua, (s, p, repl, max): (LuaString, LuaString, LuaString, Option<f64>)) -> mlua::Result<MultiValue> {
    let room = {
        let budget = lua.app_data_ref::<Budget>().ok_or_else(|| mlua::Error::runtime("budget missing"))?;
        match budget.memory.get() {
            0 => MAX_STRING,
            limit => limit.saturating_sub(lua.used_memory()).min(MAX_STRING),
        }
    };
    let result = metered(lua, |meter| {
        let (src, pat, repl) = (s.as_bytes(), p.as_bytes(), repl.as_bytes());
        let len = src.len();
        let max = max.map(lual_int).unwrap_or_else(|| lual_int((len + 1) as f64));
        let anchored = pat.first() == Some(&b'^');
        let mut m = Matcher::new(&src, &pat, meter);
        let mut out = Vec::new();
        let (mut at, mut n) = (0usize, 0i32);
        while n < max {
            // One attempt at `at`, as LuaJIT's loop makes: unmatched bytes are copied one by one.
            let end = match m.scan(at, usize::from(anchored), true) {
                Ok(found) => found.map(|(_, end)| end),
                Err(e) => return Ok(Err(e)),
            };
            if let Some(end) = end {
                n += 1;
                if let Err(e) = add_replacement(&mut out, &m, &src, &repl, (at, end)) {
                    return Ok(Err(e));
                }
            }
            match end {
                Some(end) if end > at => at = end,
                _ if at < len => {
                    out.push(src[at]);
                    at += 1;
                }
                _ => break,
            }
            if out.len() > room {
                return Ok(Ok(None));
            }
            if anchored {
                break;
            }
        }
        out.extend_from_slice(&src[at..]);
        if out.len() > room {
            return Ok(Ok(None));
        }
        Ok(Ok(Some((out, n))))
    })?;
    match result {
        Ok(Some((out, n))) => {
            Ok(MultiValue::from_iter([Value::String(lua.create_string(out)?), Value::Number(f64::from(n))]))
        }
        Ok(None) => Ok(MultiValue::from_iter([Value::Boolean(false), Value::Boolean(false)])),
        Err(e) => pattern_error(lua, e),
    }
}

/// Appends the replacement string for one match, as LuaJIT's `add_s`: `%0` is the whole
/// match, `%1`-`%9` a capture (`%1` is the whole match when there are none), `%` before any
/// other byte is that byte, and a `%` at the very end adds the string's terminating NUL.
fn add_replacement<M: Meter>(
    out: &mut Vec<u8>,
    m: &Matcher<'_, M>,
    src: &[u8],
    repl: &[u8],
    (a, b): (usize, usize),
) -> Result<(), PatternError> {
    let mut i = 0;
    while i < repl.len() {
        let c = repl[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        let d = repl.get(i).copied().unwrap_or(0);
        i += 1;
        if !d.is_ascii_digit() {
            out.push(d);
        } else if d == b'0' {
            out.extend_from_slice(&src[a..b]);
        } else {
            let idx = usize::from(d - b'1');
            if idx >= m.level() {
                if idx != 0 {
                    return Err(PatternError::InvalidCaptureIndex);
                }
                out.extend_from_slice(&src[a..b]);
            } else {
                match m.capture(idx) {
                    Capture::Text { start, len } => out.extend_from_slice(&src[start..start + len]),
                    Capture::Position(at) => out.extend_from_slice((at + 1).to_string().as_bytes()),
                    Capture::Unfinished => return Err(PatternError::UnfinishedCapture),
                }
            }
        }
    }
    Ok(())
}

/// The next match for `gsub` with a function or table replacement, whose loop runs in Lua
/// (so that the replacement's errors and the hook behave as anywhere else): from 1-based
/// `from` on (only there when `anchored`), `start, end, count, captures...` with the whole
/// match as the one capture when there are none and `false` for an unfinished capture;
/// nothing when there is no match; `false, message` for a pattern error.
fn gsub_next(lua: &Lua, (s, p, from, anchored): (LuaString, LuaString, f64, bool)) -> mlua::Result<MultiValue> {
    metered(lua, |meter| {
        let (src, pat) = (s.as_bytes(), p.as_bytes());
        let from = if from >= 1.0 { from as usize - 1 } else { 0 };
        let mut m = Matcher::new(&src, &pat, meter);
        let (a, b) = match m.scan(from, usize::from(anchored), anchored) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(MultiValue::new()),
            Err(e) => return pattern_error(lua, e),
        };
        let count = m.level().max(1);
        let mut out = vec![Value::Number((a + 1) as f64), Value::Number(b as f64), Value::Number(count as f64)];
        for i in 0..count {
            match push_capture(lua, &mut out, &m, &src, i, (a, b)) {
                Ok(pushed) => pushed?,
                Err(PatternError::UnfinishedCapture) => out.push(Value::Boolean(false)),
                Err(e) => return pattern_error(lua, e),
            }
        }
        Ok(MultiValue::from_iter(out))
    })
}

/// `gsub`'s count limit from its 4th argument (nil: one more than the subject's length), as
/// LuaJIT converts it.
fn gsub_max(_: &Lua, (max, len): (Option<f64>, f64)) -> mlua::Result<f64> {
    Ok(f64::from(lual_int(max.unwrap_or(len + 1.0))))
}

/// `tick()`: raises the budget error if the budget is spent. The prelude calls it before a
/// library call whose cost grows with its input (a long `string.rep`, a `table.concat`...),
/// so that a loop of such calls cannot run far between two checks of the count hook.
fn tick(lua: &Lua, (): ()) -> mlua::Result<()> {
    let budget = lua.app_data_ref::<Budget>().ok_or_else(|| mlua::Error::runtime("budget missing"))?;
    if budget.spent() { Err(budget_exceeded()) } else { Ok(()) }
}

/// The host functions the prelude wraps, by name.
pub(super) fn functions(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("find", lua.create_function(find)?)?;
    t.raw_set("gmatch", lua.create_function(gmatch)?)?;
    t.raw_set("gsub", lua.create_function(gsub)?)?;
    t.raw_set("gsub_next", lua.create_function(gsub_next)?)?;
    t.raw_set("gsub_max", lua.create_function(gsub_max)?)?;
    t.raw_set("tick", lua.create_function(tick)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_conversions_follow_luajit_on_x86_64() {
        assert_eq!(lj_int(3.9), 3);
        assert_eq!(lj_int(-3.9), -3);
        assert_eq!(lj_int(2_147_483_647.0), i32::MAX);
        assert_eq!(lj_int(-2_147_483_648.9), i32::MIN);
        assert_eq!(lj_int(2f64.powi(53)), i32::MIN);
        assert_eq!(lj_int(f64::NAN), i32::MIN);
        assert_eq!(lual_int(2f64.powi(32) + 5.0), 5);
        assert_eq!(lual_int(2f64.powi(53)), 0);
        assert_eq!(lual_int(f64::INFINITY), 0);
        assert_eq!(lual_int(-1.5), -1);
    }
}
