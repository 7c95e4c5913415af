//! JSON to Lua for `obj`, built lazily, with the conversions gopher-lua makes in Argo CD:
//! null is absent (a null member is skipped, null array items are dropped as gopher-lua's
//! append drops nil), numbers are Lua numbers, maps and arrays are tables.
//!
//! Scripts read a handful of fields, so most of an object (managedFields, the pod template)
//! is never built. A map is a table that holds only the prelude's private tag (the map's
//! number here) until it is read: each field read is answered by [`Objects::field`] and kept
//! in the table (the prelude remembers absent fields); a write or a traversal (`pairs`,
//! `next`, `rawget`) fills the whole table through [`Objects::fill`] and makes it a plain
//! table.
//! Arrays are built whole when read, since `#` and `ipairs` look at raw slots; their maps
//! are lazy in turn.

use std::cell::RefCell;

use mlua::{Lua, Table};
use serde_json::{Map, Value};

/// Arrays nested deeper than this are refused rather than risk the native stack.
const MAX_ARRAY_DEPTH: usize = 64;

/// Maps of scalars up to this size are built with their array at once: a condition or a
/// label set costs less to build than to call back for.
const EAGER_MAP_LEN: usize = 8;

/// What [`Objects::field`] found: `(kind, string, number, boolean, table)`, with kind 0
/// absent, 1 string, 2 number, 3 boolean, 4 table (an array), 5 map (its number in the
/// number slot). Separate slots let strings go to Lua without an intermediate handle.
pub(super) type Field<'a> = (u8, Option<&'a str>, Option<f64>, Option<bool>, Option<Table>);

/// Runs a conversion step that builds tables (see `State::run` on the memory limit).
pub(super) type Headroom<'h> = dyn FnMut(&mut dyn FnMut() -> mlua::Result<()>) -> mlua::Result<()> + 'h;

struct Node<'a> {
    map: &'a Map<String, Value>,
    /// The fields handed out one by one: the script owns them from then on (it may have
    /// changed or removed them), so a fill must not bring them back.
    handed: Vec<&'a str>,
}

/// The maps of one object handed to Lua, numbered by the tag their lazy table holds.
pub(super) struct Objects<'a> {
    nodes: RefCell<Vec<Node<'a>>>,
    tag: Table,
    lazy: Table,
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

impl<'a> Objects<'a> {
    pub(super) fn new(tag: Table, lazy: Table) -> Objects<'a> {
        Objects { nodes: RefCell::new(Vec::new()), tag, lazy }
    }

    /// `obj` itself: `Ok(None)` when it is a map (the prelude makes its lazy table for map
    /// number 0), else the converted value.
    pub(super) fn root(&self, lua: &Lua, v: &'a Value) -> mlua::Result<Option<mlua::Value>> {
        match v {
            Value::Object(map) => {
                self.nodes.borrow_mut().push(Node { map, handed: Vec::new() });
                Ok(None)
            }
            other => self.value(lua, other, 0).map(Some),
        }
    }

    fn number(&self, map: &'a Map<String, Value>) -> f64 {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node { map, handed: Vec::new() });
        (nodes.len() - 1) as f64
    }

    /// One field of map `id`.
    /// `headroom` runs what builds an array (the memory limit would make that slow).
    pub(super) fn field(
        &self,
        lua: &Lua,
        id: usize,
        key: &mlua::LuaString,
        headroom: &mut Headroom<'_>,
    ) -> mlua::Result<Field<'a>> {
        let absent = (0, None, None, None, None);
        let Ok(key) = key.to_str() else { return Ok(absent) };
        let Some(map) = self.nodes.borrow().get(id).map(|n| n.map) else { return Ok(absent) };
        // Read again after the script removed it (`t.k = nil`): it stays removed.
        if self.nodes.borrow().get(id).is_some_and(|n| n.handed.iter().any(|h| **h == *key)) {
            return Ok(absent);
        }
        let Some((name, v)) = map.get_key_value(&*key) else { return Ok(absent) };
        let found = match v {
            Value::Null => return Ok(absent),
            Value::String(s) => (1, Some(s.as_str()), None, None, None),
            Value::Number(n) => (2, None, Some(n.as_f64().unwrap_or(0.0)), None, None),
            Value::Bool(b) => (3, None, None, Some(*b), None),
            Value::Array(_) => {
                let mut built = None;
                headroom(&mut || {
                    if let mlua::Value::Table(t) = self.value(lua, v, 0)? {
                        built = Some(t);
                    }
                    Ok(())
                })?;
                (4, None, None, None, built)
            }
            Value::Object(child) => (5, None, Some(self.number(child)), None, None),
        };
        if let Some(n) = self.nodes.borrow_mut().get_mut(id) {
            n.handed.push(name.as_str());
        }
        Ok(found)
    }

    /// Fills the lazy table of map `id` with all its fields (keeping those already handed
    /// out) and makes it a plain table.
    pub(super) fn fill(&self, lua: &Lua, t: &Table, id: usize) -> mlua::Result<()> {
        let Some((map, handed)) = self.nodes.borrow_mut().get_mut(id).map(|n| (n.map, std::mem::take(&mut n.handed)))
        else {
            return Ok(());
        };
        t.raw_set(&self.tag, mlua::Value::Nil)?;
        t.set_metatable(None)?;
        for (k, item) in map {
            if handed.contains(&k.as_str()) {
                continue;
            }
            self.set(lua, t, k.as_str(), item, 0)?;
        }
        Ok(())
    }

    /// `t[key] = v`. Strings and numbers are pushed straight into the table: making each a
    /// Lua value handle first costs more than the rest of the conversion.
    fn set<K: mlua::IntoLua>(&self, lua: &Lua, t: &Table, key: K, v: &'a Value, depth: usize) -> mlua::Result<()> {
        match v {
            Value::Null => Ok(()),
            Value::Bool(b) => t.raw_set(key, *b),
            Value::Number(n) => t.raw_set(key, n.as_f64().unwrap_or(0.0)),
            Value::String(s) => t.raw_set(key, s.as_str()),
            Value::Array(_) | Value::Object(_) => t.raw_set(key, self.value(lua, v, depth)?),
        }
    }

    fn value(&self, lua: &Lua, v: &'a Value, depth: usize) -> mlua::Result<mlua::Value> {
        Ok(match v {
            Value::Null => mlua::Value::Nil,
            Value::Bool(b) => mlua::Value::Boolean(*b),
            Value::Number(n) => mlua::Value::Number(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => mlua::Value::String(lua.create_string(s)?),
            Value::Array(items) => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(mlua::Error::runtime(format!(
                        "cannot pass the object to Lua: arrays nest deeper than {MAX_ARRAY_DEPTH} levels"
                    )));
                }
                let t = lua.create_table_with_capacity(items.len(), 0)?;
                for (i, item) in items.iter().filter(|x| !x.is_null()).enumerate() {
                    self.set(lua, &t, i + 1, item, depth + 1)?;
                }
                mlua::Value::Table(t)
            }
            Value::Object(map) if depth > 0 && map.len() <= EAGER_MAP_LEN && map.values().all(is_scalar) => {
                let t = lua.create_table_with_capacity(0, map.len())?;
                for (k, item) in map {
                    self.set(lua, &t, k.as_str(), item, depth)?;
                }
                mlua::Value::Table(t)
            }
            Value::Object(map) => {
                let t = lua.create_table_with_capacity(0, 1)?;
                t.raw_set(&self.tag, self.number(map))?;
                t.set_metatable(Some(self.lazy.clone()))?;
                mlua::Value::Table(t)
            }
        })
    }
}

/// Results nested deeper than this are refused (the prelude's check recursed through them
/// already, so only a pathological script gets here).
const MAX_RESULT_DEPTH: usize = 512;

/// A checked result table (see the prelude's `encodable`) as JSON, as gopher-json encodes it:
/// an empty table is `[]`, a table with number keys an array, whole numbers integers.
pub(super) fn to_json(v: &mlua::Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_RESULT_DEPTH {
        return Err(format!("the result nests deeper than {MAX_RESULT_DEPTH} levels"));
    }
    Ok(match v {
        mlua::Value::Nil => Value::Null,
        mlua::Value::Boolean(b) => Value::Bool(*b),
        mlua::Value::Integer(i) => Value::from(*i),
        mlua::Value::Number(n) => number(*n),
        mlua::Value::String(s) => Value::String(s.to_string_lossy()),
        mlua::Value::Table(t) => {
            let mut items: Vec<(f64, Value)> = Vec::new();
            let mut map = Map::new();
            for pair in t.clone().pairs::<mlua::Value, mlua::Value>() {
                let (k, item) = pair.map_err(|e| e.to_string())?;
                let item = to_json(&item, depth + 1)?;
                match k {
                    mlua::Value::String(s) => {
                        map.insert(s.to_string_lossy(), item);
                    }
                    mlua::Value::Number(n) => items.push((n, item)),
                    mlua::Value::Integer(n) => items.push((n as f64, item)),
                    _ => return Err("cannot encode mixed or invalid key types".into()),
                }
            }
            if !map.is_empty() {
                Value::Object(map)
            } else {
                items.sort_by(|a, b| a.0.total_cmp(&b.0));
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            }
        }
        other => return Err(format!("cannot encode {} to JSON", other.type_name())),
    })
}

/// Go's encoding of a float64 read back by a JSON decoder into an object: whole numbers
/// become integers.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}
