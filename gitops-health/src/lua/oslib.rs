//! The safe `os` table: `time`, `date`, `clock`, reading the evaluation's clock.

use std::time::Instant;

use mlua::{Function, Lua, Table, Value};

use super::clock;
use super::state::Budget;

/// The longest `os.date` format accepted. Real formats are a few dozen bytes; this keeps one
/// call to microseconds.
pub(super) const MAX_DATE_FORMAT: usize = 1024;

/// `os.time`, `os.date` and `os.clock` for one state.
pub(super) fn functions(lua: &Lua) -> mlua::Result<(Function, Function, Function)> {
    let time = lua.create_function(|lua, t: Option<Table>| {
        let Some(t) = t else { return Ok(now(lua) as f64) };
        let year = date_field(&t, "year", None)?;
        let month = date_field(&t, "month", None)?;
        let day = date_field(&t, "day", None)?;
        let hour = date_field(&t, "hour", Some(12))?;
        let min = date_field(&t, "min", Some(0))?;
        let sec = date_field(&t, "sec", Some(0))?;
        clock::from_fields(year, month, day, hour, min, sec)
            .map(|s| s as f64)
            .ok_or_else(|| mlua::Error::runtime("time result cannot be represented"))
    })?;
    let date = lua.create_function(|lua, (format, t): (Option<String>, Option<f64>)| {
        // A loop of calls with few VM instructions between them must still meet the hook's
        // budget, so each call looks at the clock; and the format is capped, so one call is
        // short (a 1 MB format, 200 times, took two minutes).
        if lua.app_data_ref::<Budget>().is_some_and(|b| b.spent()) {
            return Err(mlua::Error::runtime("time budget exceeded"));
        }
        let format = format.unwrap_or_else(|| "%c".to_string());
        if format.len() > MAX_DATE_FORMAT {
            return Err(mlua::Error::runtime(format!(
                "bad argument #1 to 'date' (format longer than {MAX_DATE_FORMAT} bytes)"
            )));
        }
        // Times are UTC either way, so the `!` (UTC) prefix changes nothing.
        let format = format.strip_prefix('!').unwrap_or(&format);
        let secs = match t {
            Some(t) if t.is_finite() => t.floor() as i64,
            Some(_) => return Err(mlua::Error::runtime("bad argument #2 to 'date' (time out of range)")),
            None => now(lua),
        };
        let dt = clock::to_datetime(secs)
            .ok_or_else(|| mlua::Error::runtime("bad argument #2 to 'date' (time out of range)"))?;
        if format.starts_with("*t") {
            let out = lua.create_table_with_capacity(0, 9)?;
            for (k, v) in [
                ("year", dt.year),
                ("month", dt.month),
                ("day", dt.day),
                ("hour", dt.hour),
                ("min", dt.min),
                ("sec", dt.sec),
                ("wday", dt.wday),
                ("yday", dt.yday),
            ] {
                out.raw_set(k, v as f64)?;
            }
            out.raw_set("isdst", false)?;
            return Ok(Value::Table(out));
        }
        Ok(Value::String(lua.create_string(clock::format(format, &dt))?))
    })?;
    let cpu = lua.create_function(|lua, ()| {
        let started = lua.app_data_ref::<Budget>().map(|b| b.started.get()).unwrap_or_else(Instant::now);
        Ok(started.elapsed().as_secs_f64())
    })?;
    Ok((time, date, cpu))
}

fn now(lua: &Lua) -> i64 {
    lua.app_data_ref::<Budget>().map(|b| b.now.get()).unwrap_or(0)
}

/// A date-table field: a number or a numeric string (Argo CD's full `os` accepts both, and
/// real scripts pass strings from `string.match`).
fn date_field(t: &Table, name: &str, default: Option<i64>) -> mlua::Result<i64> {
    let v: Value = t.raw_get(name)?;
    let n = match &v {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()),
        _ => None,
    };
    match (n, default) {
        (Some(n), _) if n.is_finite() && n.abs() < 1e15 => Ok(n.floor() as i64),
        (Some(_), _) => Err(mlua::Error::runtime(format!("field '{name}' is out-of-bound"))),
        (None, Some(d)) if matches!(v, Value::Nil) => Ok(d),
        (None, None) if matches!(v, Value::Nil) => {
            Err(mlua::Error::runtime(format!("field '{name}' missing in date table")))
        }
        (None, _) => Err(mlua::Error::runtime(format!("field '{name}' is not a number"))),
    }
}
