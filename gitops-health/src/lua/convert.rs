//! JSON to Lua for `obj`, and the returned Lua value back to a health status, with the
//! conversions gopher-lua and gopher-json make in Argo CD.

use std::collections::HashSet;

use mlua::{Lua, Table};
use serde_json::Value;

use super::state::classify;
use super::{Error, Limits};
use crate::status::{Health, HealthStatus};

/// Deeper objects are refused rather than risk the native stack; real objects nest a few
/// dozen levels.
const MAX_DEPTH: usize = 256;

/// Argo CD's message for a status outside the six it knows.
pub(crate) const INVALID_STATUS: &str = "Lua returned an invalid health status";

/// Builds `obj`: null is absent (a null member is skipped, null array items are dropped as
/// gopher-lua's append drops nil), numbers are Lua numbers, maps and arrays are tables.
pub(super) fn to_lua(lua: &Lua, v: &Value, limits: Limits) -> Result<mlua::Value, Error> {
    build(lua, v, 0).map_err(|e| match e {
        Built::TooDeep => Error::Input(format!("the object nests deeper than {MAX_DEPTH} levels")),
        Built::Lua(e) => classify(e, false, limits),
    })
}

enum Built {
    TooDeep,
    Lua(mlua::Error),
}

impl From<mlua::Error> for Built {
    fn from(e: mlua::Error) -> Self {
        Built::Lua(e)
    }
}

fn build(lua: &Lua, v: &Value, depth: usize) -> Result<mlua::Value, Built> {
    if depth > MAX_DEPTH {
        return Err(Built::TooDeep);
    }
    Ok(match v {
        Value::Null => mlua::Value::Nil,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::Number(n) => mlua::Value::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => mlua::Value::String(lua.create_string(s)?),
        Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            let mut i = 0;
            for item in items.iter().filter(|x| !x.is_null()) {
                i += 1;
                t.raw_set(i, build(lua, item, depth + 1)?)?;
            }
            mlua::Value::Table(t)
        }
        Value::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map.iter().filter(|(_, x)| !x.is_null()) {
                t.raw_set(k.as_str(), build(lua, item, depth + 1)?)?;
            }
            mlua::Value::Table(t)
        }
    })
}

/// Reads what a script returned, as Argo CD does: encode to JSON (failing where gopher-json
/// fails), decode into `{status, message}` (a type mismatch gives the empty status), then
/// check the status.
pub(super) fn read_result(v: mlua::Value) -> Result<Option<Health>, Error> {
    let table = match v {
        mlua::Value::Nil => return Ok(None),
        mlua::Value::Table(t) => t,
        other => return Err(Error::Output(type_name(&other))),
    };
    let shape = check_encodable(&table, &mut HashSet::new())?;
    if shape != Shape::Object {
        // `{}` encodes as `[]`, and any array fails to decode into a struct: no status.
        return Ok(None);
    }
    let (Some(status), Some(message)) = (field(&table, "status")?, field(&table, "message")?) else {
        return Ok(None);
    };
    Ok(Some(match HealthStatus::parse(&status) {
        Some(s) => Health::new(s, message),
        None => Health::new(HealthStatus::Unknown, INVALID_STATUS),
    }))
}

/// A string field looked up as Go's `encoding/json` does (exact name first, then any
/// case-insensitive match). `Some("")` when absent; `None` when present with another type,
/// which Argo CD treats as the empty status.
fn field(t: &Table, name: &str) -> Result<Option<String>, Error> {
    let mut found: Option<mlua::Value> = t.raw_get(name).map_err(|e| Error::Encode(e.to_string()))?;
    if matches!(found, Some(mlua::Value::Nil) | None) {
        found = None;
        for pair in t.pairs::<mlua::Value, mlua::Value>() {
            let (k, v) = pair.map_err(|e| Error::Encode(e.to_string()))?;
            if let mlua::Value::String(k) = &k
                && k.to_str().is_ok_and(|k| k.eq_ignore_ascii_case(name))
            {
                found = Some(v);
            }
        }
    }
    Ok(match found {
        None | Some(mlua::Value::Nil) => Some(String::new()),
        Some(mlua::Value::String(s)) => Some(s.to_string_lossy()),
        Some(_) => None,
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Empty,
    Array,
    Object,
}

/// gopher-json's rules: a table is an array when its first key is a number (then keys must
/// run 1..n), an object when it is a string (then all keys must be strings); functions,
/// userdata and threads cannot be encoded; neither can NaN or infinities (Go's encoder
/// refuses them). Unlike gopher-json, a table referenced twice is fine; only a cycle fails.
fn check_encodable(t: &Table, path: &mut HashSet<usize>) -> Result<Shape, Error> {
    let id = t.to_pointer() as usize;
    if !path.insert(id) {
        return Err(Error::Encode("cannot encode recursively nested tables to JSON".into()));
    }
    let mut shape = Shape::Empty;
    let mut count = 0usize;
    let mut max_index = 0f64;
    let mut sparse = false;
    for pair in t.pairs::<mlua::Value, mlua::Value>() {
        let (k, v) = pair.map_err(|e| Error::Encode(e.to_string()))?;
        let key_shape = match k {
            mlua::Value::String(_) => Shape::Object,
            mlua::Value::Number(n) => {
                sparse |= n < 1.0 || n.fract() != 0.0;
                max_index = max_index.max(n);
                Shape::Array
            }
            mlua::Value::Integer(n) => {
                sparse |= n < 1;
                max_index = max_index.max(n as f64);
                Shape::Array
            }
            _ => return Err(Error::Encode("cannot encode mixed or invalid key types".into())),
        };
        if shape == Shape::Empty {
            shape = key_shape;
        } else if shape != key_shape {
            return Err(Error::Encode("cannot encode mixed or invalid key types".into()));
        }
        count += 1;
        check_value(v, path)?;
    }
    if shape == Shape::Array && (sparse || max_index != count as f64) {
        return Err(Error::Encode("cannot encode sparse array".into()));
    }
    path.remove(&id);
    Ok(shape)
}

fn check_value(v: mlua::Value, path: &mut HashSet<usize>) -> Result<(), Error> {
    match v {
        mlua::Value::Table(t) => check_encodable(&t, path).map(|_| ()),
        mlua::Value::Number(n) if !n.is_finite() => {
            Err(Error::Encode(format!("json: unsupported value: {}", if n.is_nan() { "NaN" } else { "+Inf" })))
        }
        mlua::Value::Function(_)
        | mlua::Value::UserData(_)
        | mlua::Value::LightUserData(_)
        | mlua::Value::Thread(_) => Err(Error::Encode(format!("cannot encode {} to JSON", type_name(&v)))),
        _ => Ok(()),
    }
}

/// Lua's own type names (mlua says `integer` for some numbers, Lua 5.1 never does).
fn type_name(v: &mlua::Value) -> &'static str {
    match v {
        mlua::Value::Integer(_) | mlua::Value::Number(_) => "number",
        mlua::Value::LightUserData(_) => "userdata",
        other => other.type_name(),
    }
}
