//! Pooled Lua states: one per thread and library set, each prepared once by the prelude.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, VmState};
use serde_json::Value;

use super::convert::Objects;
use super::{Error, Libraries, Limits, Script, oslib, strlib};
use crate::status::{Health, HealthStatus};

/// How often (in VM instructions) the hook checks the budget. Most instructions take
/// nanoseconds, but one instruction on a string near the memory cap (a comparison, a
/// concatenation, arithmetic on a numeric string) takes up to tens of milliseconds, and a
/// loop of them runs this many between two checks. At 256, arithmetic on a 30 MB numeric
/// string in a loop overran a 1 s budget by 0.4 s (at 4096: by over 20 s); a bundled script
/// (a few hundred instructions) still pays for a check or two, and a loop of plain
/// arithmetic about a fifth more.
const CHECK_EVERY: u32 = 256;

/// Compiled scripts kept per state (Argo CD keeps 1024 too); past that the cache restarts.
const MAX_COMPILED: usize = 1024;

/// Argo CD's message for a status outside the six it knows.
const INVALID_STATUS: &str = "Lua returned an invalid health status";

/// Per-evaluation facts the hook and the host functions read.
pub(super) struct Budget {
    pub(super) deadline: Cell<Instant>,
    pub(super) expired: Cell<bool>,
    pub(super) started: Cell<Instant>,
    pub(super) now: Cell<i64>,
    /// Work the host functions did in this evaluation (see `strlib.rs`).
    pub(super) steps: Cell<u64>,
    /// The step count at which they look at the clock next.
    pub(super) next_check: Cell<u64>,
    /// The state's memory cap in bytes (0: none), for output built outside Lua's heap.
    pub(super) memory: Cell<usize>,
}

impl Budget {
    /// Is the time budget spent? Once it is, it stays spent for the evaluation (so that
    /// `pcall` cannot swallow it).
    pub(super) fn spent(&self) -> bool {
        if !self.expired.get() && Instant::now() >= self.deadline.get() {
            self.expired.set(true);
        }
        self.expired.get()
    }
}

pub(super) struct State {
    lua: Lua,
    /// The prelude's runner: `(script, materialize, obj) -> (kind, a, b)`.
    runner: Function,
    /// The private key a lazy table of `obj` holds its map's number under.
    tag: Table,
    /// The metatable of lazy tables.
    lazy: Table,
    compiled: HashMap<u64, (Arc<str>, Function)>,
}

thread_local! {
    static POOL: RefCell<[Option<State>; 2]> = const { RefCell::new([None, None]) };
}

fn slot(libraries: Libraries) -> usize {
    match libraries {
        Libraries::Trusted => 0,
        Libraries::Restricted => 1,
    }
}

/// Runs `f` on this thread's state for `libraries`, creating it when needed. The state is
/// taken out of the pool while in use and put back only if it is still sound.
pub(super) fn with_state<R>(
    libraries: Libraries,
    limits: Limits,
    f: impl FnOnce(&mut State) -> Result<R, Error>,
) -> Result<R, Error> {
    let taken = POOL.with(|p| p.borrow_mut()[slot(libraries)].take());
    let mut state = match taken {
        Some(s) => s,
        None => State::new(libraries, limits.memory).map_err(|e| Error::Setup(e.to_string()))?,
    };
    let result = f(&mut state);
    if !matches!(result, Err(Error::Timeout(_) | Error::Memory(_) | Error::Setup(_))) {
        POOL.with(|p| p.borrow_mut()[slot(libraries)] = Some(state));
    }
    result
}

impl State {
    fn new(libraries: Libraries, memory: usize) -> mlua::Result<State> {
        let open = libraries == Libraries::Trusted;
        // The string library is opened in both modes for the prelude's own use; restricted
        // scripts never see it.
        let mut libs = StdLib::TABLE | StdLib::STRING | StdLib::JIT;
        if open {
            libs |= StdLib::MATH;
        }
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        let now = Instant::now();
        lua.set_app_data(Budget {
            deadline: Cell::new(now + Duration::from_secs(1)),
            expired: Cell::new(false),
            started: Cell::new(now),
            now: Cell::new(0),
            steps: Cell::new(0),
            next_check: Cell::new(0),
            memory: Cell::new(memory),
        });
        let (time, date, clock) = oslib::functions(&lua)?;
        let host = strlib::functions(&lua)?;
        let expired =
            lua.create_function(|lua, ()| Ok(lua.app_data_ref::<Budget>().is_some_and(|b| b.expired.get())))?;
        let (tag, lazy, runner): (Table, Table, Function) = lua
            .load(include_str!("prelude.lua"))
            .set_name("=prelude")
            .set_mode(ChunkMode::Text)
            .call((open, time, date, clock, expired, host))?;
        lua.set_hook(HookTriggers::new().every_nth_instruction(CHECK_EVERY), |lua, _| {
            let Some(budget) = lua.app_data_ref::<Budget>() else { return Ok(VmState::Continue) };
            if budget.spent() {
                return Err(mlua::Error::runtime("time budget exceeded"));
            }
            Ok(VmState::Continue)
        })?;
        lua.set_memory_limit(memory)?;
        // Every evaluation leaves a little garbage; collecting when the heap has tripled
        // rather than doubled halves the collector's share of an evaluation.
        lua.gc_set_mode(mlua::prelude::LuaGcMode::Incremental(mlua::prelude::LuaGcIncParams::default().pause(300)));
        Ok(State { lua, runner, tag, lazy, compiled: HashMap::new() })
    }

    fn function(&mut self, script: &Script) -> Result<Function, Error> {
        if let Some((src, f)) = self.compiled.get(&script.hash)
            && (Arc::ptr_eq(src, &script.source) || **src == *script.source)
        {
            return Ok(f.clone());
        }
        // Argo CD names every chunk `<string>`, so messages read `<string>:4: ...` as there.
        let f = self
            .lua
            .load(script.source())
            .set_name("=<string>")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| classify(e, false, Limits::default()))?;
        if self.compiled.len() >= MAX_COMPILED {
            self.compiled.clear();
        }
        self.compiled.insert(script.hash, (script.source.clone(), f.clone()));
        Ok(f)
    }

    pub(super) fn run(
        &mut self,
        script: &Script,
        obj: &Value,
        limits: Limits,
        now: i64,
    ) -> Result<Option<Health>, Error> {
        let (kind, a, b) = self.call(script, obj, limits, now, None)?;
        let text = |v: &mlua::Value| v.to_string().unwrap_or_default();
        match &*kind.to_str().map_err(|e| Error::Setup(e.to_string()))? {
            "none" => Ok(None),
            "ok" => {
                let code = match a {
                    mlua::Value::Number(n) => n as usize,
                    mlua::Value::Integer(n) => n as usize,
                    _ => 0,
                };
                let message: Option<String> = match b {
                    Some(v) => self.lua.unpack(v).map_err(|e| classify(e, false, limits))?,
                    None => None,
                };
                let message = message.unwrap_or_default();
                Ok(Some(match STATUS_CODES.get(code.wrapping_sub(1)) {
                    Some(s) => Health::new(*s, message),
                    None => Health::new(HealthStatus::Unknown, INVALID_STATUS),
                }))
            }
            "type" => Err(Error::Output(lua_type_name(&text(&a)))),
            _ => Err(Error::Encode(text(&a))),
        }
    }

    /// Runs an action or discovery script: the table it returned, as JSON (gopher-json's
    /// encoding: an empty table is `[]`, whole numbers are integers).
    pub(super) fn run_action(
        &mut self,
        script: &Script,
        obj: &Value,
        params: &BTreeMap<String, String>,
        limits: Limits,
        now: i64,
    ) -> Result<Value, Error> {
        let (kind, a, _) = self.call(script, obj, limits, now, Some(params))?;
        let text = |v: &mlua::Value| v.to_string().unwrap_or_default();
        match &*kind.to_str().map_err(|e| Error::Setup(e.to_string()))? {
            "value" => super::convert::to_json(&a, 0).map_err(Error::Encode),
            "type" => Err(Error::Output(lua_type_name(&text(&a)))),
            _ => Err(Error::Encode(text(&a))),
        }
    }

    /// Runs `script` on `obj` in a fresh environment; with `params`, as an action. Returns
    /// the prelude's `(kind, a, b)`.
    fn call(
        &mut self,
        script: &Script,
        obj: &Value,
        limits: Limits,
        now: i64,
        params: Option<&BTreeMap<String, String>>,
    ) -> Result<(mlua::LuaString, mlua::Value, Option<mlua::Value>), Error> {
        let func = self.function(script)?;
        {
            let budget = self.lua.app_data_ref::<Budget>().ok_or_else(|| Error::Setup("budget missing".into()))?;
            let start = Instant::now();
            budget.started.set(start);
            budget.deadline.set(start + limits.time);
            budget.expired.set(false);
            budget.now.set(now);
            budget.steps.set(0);
            budget.next_check.set(0);
            budget.memory.set(limits.memory);
        }
        let objects = Objects::new(self.tag.clone(), self.lazy.clone());
        // With a memory limit set, mlua guards every table write with a protected call, which
        // made building `obj` cost more than running the script. `obj` is bounded by the
        // object's size, so it is built without the limit; the limit covers the script.
        let unlimited = |lua: &Lua, f: &mut dyn FnMut() -> mlua::Result<()>| {
            lua.set_memory_limit(0)?;
            let r = f();
            lua.set_memory_limit(limits.memory)?;
            r
        };
        let mut root = None;
        unlimited(&self.lua, &mut || {
            root = objects.root(&self.lua, obj)?;
            Ok(())
        })
        .map_err(|e| Error::Input(e.to_string()))?;
        let lazy_root = root.is_none();
        let params = match params {
            None => None,
            Some(p) => Some(
                self.lua
                    .create_table_from(p.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .map_err(|e| Error::Input(e.to_string()))?,
            ),
        };
        let outcome = self.lua.scope(|scope| {
            let field = scope.create_function(|lua, (id, key): (usize, mlua::LuaString)| {
                objects.field(lua, id, &key, &mut |build| unlimited(lua, build))
            })?;
            let fill = scope
                .create_function(|lua, (t, id): (Table, usize)| unlimited(lua, &mut || objects.fill(lua, &t, id)))?;
            self.runner.call::<(mlua::LuaString, mlua::Value, Option<mlua::Value>)>((
                func, field, fill, root, lazy_root, params,
            ))
        });
        let expired = self.lua.app_data_ref::<Budget>().is_some_and(|b| b.expired.get());
        outcome.map_err(|e| classify(e, expired, limits))
    }
}

/// The prelude's status codes, from 1.
const STATUS_CODES: [HealthStatus; 6] = [
    HealthStatus::Healthy,
    HealthStatus::Progressing,
    HealthStatus::Suspended,
    HealthStatus::Missing,
    HealthStatus::Degraded,
    HealthStatus::Unknown,
];

fn lua_type_name(t: &str) -> &'static str {
    match t {
        "number" => "number",
        "string" => "string",
        "boolean" => "boolean",
        "function" => "function",
        "userdata" => "userdata",
        "thread" => "thread",
        "nil" => "nil",
        _ => "unknown",
    }
}

/// Turns an mlua error into ours, keeping only the text Lua produced.
pub(super) fn classify(e: mlua::Error, expired: bool, limits: Limits) -> Error {
    if expired {
        return Error::Timeout(limits.time);
    }
    match e {
        mlua::Error::MemoryError(_) => Error::Memory(limits.memory),
        mlua::Error::SyntaxError { message, .. } => Error::Syntax(message),
        mlua::Error::RuntimeError(m) => Error::Runtime(strip_traceback(&m)),
        mlua::Error::CallbackError { cause, .. } => classify((*cause).clone(), false, limits),
        mlua::Error::WithContext { cause, .. } => classify((*cause).clone(), false, limits),
        other => Error::Runtime(strip_traceback(&other.to_string())),
    }
}

fn strip_traceback(m: &str) -> String {
    match m.find("\nstack traceback:") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}
