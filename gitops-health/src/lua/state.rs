//! Pooled Lua states: one per thread and library set, each prepared once by the prelude.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, VmState};
use serde_json::Value;

use super::{Error, Libraries, Limits, Script, convert, oslib};
use crate::status::Health;

/// How often the budget is checked: rare enough to cost nothing, often enough that a spent
/// budget is noticed within microseconds.
const CHECK_EVERY: u32 = 4096;

/// Compiled scripts kept per state (Argo CD keeps 1024 too); past that the cache restarts.
const MAX_COMPILED: usize = 1024;

/// Per-evaluation facts the hook and the `os` functions read.
pub(super) struct Budget {
    pub(super) deadline: Cell<Instant>,
    pub(super) expired: Cell<bool>,
    pub(super) started: Cell<Instant>,
    pub(super) now: Cell<i64>,
}

pub(super) struct State {
    lua: Lua,
    make_env: Function,
    compiled: HashMap<u64, (Arc<str>, Function)>,
    memory: usize,
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
        let mut libs = StdLib::TABLE | StdLib::JIT;
        if open {
            libs |= StdLib::STRING | StdLib::MATH;
        }
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        let now = Instant::now();
        lua.set_app_data(Budget {
            deadline: Cell::new(now + Duration::from_secs(1)),
            expired: Cell::new(false),
            started: Cell::new(now),
            now: Cell::new(0),
        });
        let (time, date, clock) = oslib::functions(&lua)?;
        let expired =
            lua.create_function(|lua, ()| Ok(lua.app_data_ref::<Budget>().is_some_and(|b| b.expired.get())))?;
        let make_env: Function = lua
            .load(include_str!("prelude.lua"))
            .set_name("=prelude")
            .set_mode(ChunkMode::Text)
            .call((open, time, date, clock, expired))?;
        lua.set_hook(HookTriggers::new().every_nth_instruction(CHECK_EVERY), |lua, _| {
            let Some(budget) = lua.app_data_ref::<Budget>() else { return Ok(VmState::Continue) };
            if budget.expired.get() || Instant::now() >= budget.deadline.get() {
                budget.expired.set(true);
                return Err(mlua::Error::runtime("time budget exceeded"));
            }
            Ok(VmState::Continue)
        })?;
        lua.set_memory_limit(memory)?;
        Ok(State { lua, make_env, compiled: HashMap::new(), memory })
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
        if self.memory != limits.memory {
            self.lua.set_memory_limit(limits.memory).map_err(|e| Error::Setup(e.to_string()))?;
            self.memory = limits.memory;
        }
        let func = self.function(script)?;
        {
            let budget = self.lua.app_data_ref::<Budget>().ok_or_else(|| Error::Setup("budget missing".into()))?;
            let start = Instant::now();
            budget.started.set(start);
            budget.deadline.set(start + limits.time);
            budget.expired.set(false);
            budget.now.set(now);
        }
        let expired = || self.lua.app_data_ref::<Budget>().is_some_and(|b| b.expired.get());
        let obj = convert::to_lua(&self.lua, obj, limits)?;
        let outcome = (|| {
            let env: mlua::Table = self.make_env.call(obj)?;
            func.set_environment(env)?;
            func.call::<MultiValue>(())
        })();
        let returned = match outcome {
            Ok(values) => values.into_iter().last().unwrap_or(mlua::Value::Nil),
            Err(e) => return Err(classify(e, expired(), limits)),
        };
        convert::read_result(returned)
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
