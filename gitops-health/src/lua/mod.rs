//! The Lua engine: runs Argo CD health scripts unchanged, in a sandbox, within a budget.
//!
//! The contract follows Argo CD's runtime (gopher-lua, Lua 5.1 plus `goto`), on LuaJIT:
//! - the object is the global `obj` (JSON null is absent, null array items are dropped, all
//!   numbers are Lua numbers, so whole numbers print without `.0`), and `actionParams` is `{}`;
//! - the last value returned counts: `nil` or `{}` is "no status", a table with a valid
//!   `status` is used, any other status becomes `Unknown` "Lua returned an invalid health
//!   status", a non-table is an error;
//! - an error is returned with Lua's text and no traceback (`error("x", 0)` gives `x`).
//!
//! Two library sets, as Argo CD: [`Libraries::Trusted`] scripts (bundled, or from a directory
//! the operator names) get base, `table`, `string`, `math` and a global `os`; scripts from
//! `argocd-cm` get [`Libraries::Restricted`] (base and `table`; `os` only through
//! `require("os")`) unless the ConfigMap sets `useOpenLibs`. In both, `os` holds only `time`
//! and `date` (plus `clock` and `difftime` when trusted): Argo CD hands trusted scripts the
//! whole of gopher-lua's `os`, including `execute` and `remove`, which we refuse on purpose.
//! There is no `io`, `debug`, `ffi`, `jit`, `coroutine`, `load`, `loadstring`, `dofile`,
//! `loadfile`, `getfenv`, `setfenv` or `collectgarbage`.
//!
//! Each evaluation runs in a fresh environment on a pooled state (one per thread and library
//! set), so no global one script sets is seen by the next, while compiled scripts are cached
//! per state. Libraries are seen through proxies that are cleared before each evaluation, so
//! a script may even change `string` without the next one noticing. `obj` is built lazily
//! (see `convert.rs`): a script pays for the fields it reads, not for managedFields or the
//! pod template it never looks at; `pairs`, `next` and `rawget` see the whole table. Only
//! `pairs` over a library table (`pairs(string)`) differs from Argo CD: it lists nothing.
//!
//! A time budget (default 1 s) and a memory cap bound every evaluation; a state that hit
//! either is discarded. The budget is checked by a count hook every 256 VM instructions, with
//! the JIT off so the hook always fires. The hook never runs inside a C call, so the library
//! functions whose cost is not bounded by a small constant are not LuaJIT's own:
//! - `string.find`, `match`, `gmatch` and `gsub` run on `pattern.rs`, a Lua 5.1 pattern
//!   matcher with LuaJIT's exact semantics (results, captures, error texts and when errors
//!   are raised, the nesting limit), whose every step is charged to the evaluation, so a
//!   backtracking pattern ends with the budget error like an infinite loop; a plain `find`
//!   is a linear-time search (LuaJIT's is quadratic). See `strlib.rs`.
//! - `table.sort` without a comparator compares through a Lua function, so the hook runs
//!   during a sort; the sort itself (LuaJIT's) and so its order and errors are unchanged.
//! - `string.rep`, `sub`, `upper`, `lower`, `reverse`, `format`, `tonumber`,
//!   `table.concat`, `table.maxn` and long `table.insert` shifts look at the clock before
//!   starting on a long input, and `os.date` at every call with its format capped at
//!   1024 bytes, so a loop of such calls cannot run far between two hook checks.
//! - `table.insert(t, pos, v)` with `pos` outside `1..#t+1` stores `v` at `pos` and moves
//!   nothing, as gopher-lua (Argo CD's VM) does: LuaJIT moved every element from `#t` down
//!   to `pos`, and wraps positions past 2^31 to -2^31 (`table.insert({}, 2^53, 1)` ran a
//!   minute).
//!
//! The rest are cheap per call (`unpack`, `select`, `string.byte`/`char` stop at 8000
//! values) or bounded by the memory cap. What remains is the cost of single VM instructions
//! on long strings (a comparison, a concatenation, arithmetic on a numeric string: linear
//! in the string, milliseconds near the cap): a loop of them overruns the budget by up to
//! 256 such instructions, a fraction of a second at the default cap.
//!
//! Times are UTC: a pure crate has no time-zone database.

mod clock;
mod convert;
mod oslib;
mod pattern;
mod state;
mod strlib;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::status::Health;

/// Bounds on one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one evaluation (Argo CD: 1 s).
    pub time: Duration,
    /// Memory a Lua state may hold, in bytes (Argo CD has no cap).
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { time: Duration::from_secs(1), memory: 64 << 20 }
    }
}

/// Which libraries a script gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Libraries {
    /// Argo CD's "open libs": bundled scripts, scripts from an operator's directory, and
    /// `argocd-cm` scripts with `useOpenLibs`.
    Trusted,
    /// Argo CD's default for `argocd-cm` scripts: base and `table`, `require("os")` only.
    Restricted,
}

/// A health script with where it came from.
#[derive(Debug, Clone)]
pub struct Script {
    source: Arc<str>,
    libraries: Libraries,
    origin: Arc<str>,
    hash: u64,
}

impl Script {
    /// A script, its library set, and its origin (a file or a ConfigMap key, for messages).
    pub fn new(source: impl Into<Arc<str>>, libraries: Libraries, origin: impl Into<Arc<str>>) -> Script {
        let source = source.into();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        source.hash(&mut h);
        Script { source, libraries, origin: origin.into(), hash: h.finish() }
    }

    /// The Lua source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The library set it runs with.
    pub fn libraries(&self) -> Libraries {
        self.libraries
    }

    /// Where it came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The same script with another library set.
    pub fn with_libraries(mut self, libraries: Libraries) -> Script {
        self.libraries = libraries;
        self
    }
}

/// What `os.time()` reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A fixed instant in Unix seconds (tests, replays).
    Fixed(i64),
}

impl Clock {
    fn now(self) -> i64 {
        match self {
            Clock::Fixed(t) => t,
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }
}

/// Why a script gave no result. Its `Display` is the message Argo CD would attach to the
/// `Unknown` status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The script does not parse.
    #[error("{0}")]
    Syntax(String),
    /// The script raised an error (Lua's text, without a traceback).
    #[error("{0}")]
    Runtime(String),
    /// The script ran past its time budget.
    #[error("Lua script ran past its time budget of {0:?}: context deadline exceeded")]
    Timeout(Duration),
    /// The script allocated past the memory cap.
    #[error("Lua script ran past its memory cap of {0} bytes")]
    Memory(usize),
    /// The script returned something other than a table or nil.
    #[error("expect table output from Lua script, not {0}")]
    Output(&'static str),
    /// The returned table cannot be read as JSON (functions, mixed keys, cycles...).
    #[error("{0}")]
    Encode(String),
    /// The object could not be handed to Lua.
    #[error("cannot pass the object to Lua: {0}")]
    Input(String),
    /// The Lua state could not be prepared (a bug, or the memory cap is far too small).
    #[error("cannot prepare a Lua state: {0}")]
    Setup(String),
}

/// Runs health scripts. Cheap to clone and share: states live in a per-thread pool.
#[derive(Debug, Clone, Copy, Default)]
pub struct Engine {
    limits: Limits,
    clock: Clock,
}

impl Engine {
    /// An engine with these limits and the system clock.
    pub fn new(limits: Limits) -> Engine {
        Engine { limits, clock: Clock::System }
    }

    /// The same engine reading another clock.
    pub fn with_clock(mut self, clock: Clock) -> Engine {
        self.clock = clock;
        self
    }

    /// Its limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Runs `script` on `obj`. `Ok(None)` is Argo CD's empty status (the script returned
    /// `nil`, `{}`, or a table whose fields have the wrong types); an error becomes `Unknown`
    /// with the error's text in the caller.
    pub fn evaluate(&self, script: &Script, obj: &Value) -> Result<Option<Health>, Error> {
        state::with_state(script.libraries, self.limits, |st| st.run(script, obj, self.limits, self.clock.now()))
    }

    /// Runs a resource action script on `obj` with `params` as its global `actionParams`,
    /// in the same sandbox and budgets as a health script: the changed object, or Argo CD's
    /// list of `{operation, resource}`. See [`crate::action`].
    pub fn run_action(
        &self,
        script: &Script,
        obj: &Value,
        params: &BTreeMap<String, String>,
    ) -> Result<crate::action::ActionOutput, crate::action::Error> {
        let value = self.run_raw(script, obj, params)?;
        crate::action::ActionOutput::from_result(value, obj)
    }

    /// Runs an action discovery script (`discovery.lua`) on `obj`: the actions it offers,
    /// sorted by name. See [`crate::action`].
    pub fn discover(
        &self,
        script: &Script,
        obj: &Value,
    ) -> Result<Vec<crate::action::ResourceAction>, crate::action::Error> {
        let value = self.run_raw(script, obj, &BTreeMap::new())?;
        crate::action::ResourceAction::from_result(&value)
    }

    /// Runs `script` as an action: the table it returned, as JSON.
    fn run_raw(&self, script: &Script, obj: &Value, params: &BTreeMap<String, String>) -> Result<Value, Error> {
        state::with_state(script.libraries, self.limits, |st| {
            st.run_action(script, obj, params, self.limits, self.clock.now())
        })
    }
}

#[cfg(test)]
mod tests;
