//! jq path expressions for `ignoreDifferences[].jqPathExpressions`.
//!
//! A rule such as
//! `.spec.template.spec.initContainers[] | select(.name == "istio-init")`
//! is compiled once with [`JqPathExpr::compile`]; [`JqPathExpr::paths`] then
//! lists the JSON paths it selects in an object, so the caller can delete
//! them before diffing. Argo CD compiles the same text as `del(EXPR)` with
//! gojq. We evaluate `path(EXPR)` with jaq instead and leave the deletion to
//! the caller, so one deletion routine serves both `jsonPointers` and jq
//! rules, and the removed paths can be reported.
//!
//! # Semantics
//!
//! * Paths come back sorted (by [`PathToken`]'s `Ord`) and de-duplicated.
//!   Delete them in *reverse* order, so that removing an array element does
//!   not shift the indices of paths still to be deleted. This deletes the
//!   same elements as gojq's `del` with several paths at once.
//! * Only paths that exist in the input are returned. jq happily produces
//!   `["a","b"]` for `path(.a.b)` on `{}`; we drop it, so a rule that matches
//!   nothing yields an empty list, never an error.
//! * Iterating `null` yields nothing instead of jq's "cannot iterate over
//!   null". `.spec.initContainers[] | ...` on a Deployment without init
//!   containers is the most common ignore rule, and in Argo CD that error
//!   only makes the patch be skipped (and logged at debug level). Iterating
//!   a string or number is still a [`JqError::Eval`], as are other type
//!   errors; Argo CD would skip the patch for those too, so callers will
//!   usually log them rather than fail the diff.
//! * Negative indices (`.[-1]`) and slices (`.[1:]`) are resolved against
//!   the input, so callers only ever see [`PathToken::Index`] values that
//!   point at real elements.
//! * `..` selects the input itself too; the empty path means "the whole
//!   value", which the caller must decide how to treat.
//!
//! # Allowed subset
//!
//! jaq has no fuel or interrupt mechanism, so expressions are checked
//! against an allow-list before they are compiled, and everything allowed
//! terminates on its own.
//!
//! Allowed syntax: `.`, `..`, `.a`, `."a/b"`, `.["a~b"]`, `.[0]`, `.[-1]`,
//! `.[1:]`, `.[]`, the `?` suffix, `|`, `,`, `//`, `and`, `or`, `==`, `!=`,
//! `<`, `<=`, `>`, `>=`, `+`, `-`, `/`, `%`, unary `-`,
//! `if`/`elif`/`else`/`end`, `try`/`catch`, `EXPR as $x | ...` (including
//! destructuring), literals, string interpolation, and array and object
//! construction.
//!
//! Allowed functions that select or narrow paths (meaningful at the top
//! level): `empty`, `error`, `error(msg)`, `select(f)`, `recurse` (without
//! arguments, the same as `..`), `first`, `last`, `first(f)`, `last(f)`,
//! `limit(n; f)`, `nth(n)`, `getpath(p)`, `values`, `nulls`, `booleans`,
//! `numbers`, `strings`, `arrays`, `objects`, `iterables`, `scalars`.
//!
//! Allowed functions that compute values (for `select(...)` conditions):
//! `not`, `true`, `false`, `null`, `length`, `utf8bytelength`, `keys`,
//! `keys_unsorted`, `has(k)`, `in(x)`, `contains(x)`, `inside(x)`,
//! `startswith(s)`, `endswith(s)`, `ltrimstr(s)`, `rtrimstr(s)`, `trim`,
//! `ltrim`, `rtrim`, `ascii_downcase`, `ascii_upcase`, `split(s)`, `type`,
//! `tostring`, `tojson`, `any`, `any(f)`, `any(g; f)`, `all`, `all(f)`,
//! `all(g; f)`, `isempty(g)`, `to_entries`, `map(f)`. At the top level they
//! give an "invalid path expression" error, as in jq: `with_entries(...)`
//! and friends build new values instead of selecting parts of the object.
//!
//! Rejected:
//! * `def`, `reduce`, `foreach`, `label`/`break`, and generators such as
//!   `range`, `repeat`, `while`, `until` and `recurse(f)`: they can loop or
//!   recurse without bound;
//! * `env`, `$ENV`, `input`, `$__loc__`: they read outside the object;
//! * assignment operators (`=`, `|=`, `+=`, ...) and `del(...)`: the
//!   expression must only select, deletion is done for it;
//! * `*`: `"x" * 1e12` allocates without bound in a single step;
//! * format strings (`@base64 "..."`) and every function not listed above.
//!
//! Regular expressions (`test`, `match`, `capture`, ...) are not available:
//! jaq-std only provides them together with all of its optional features.
//!
//! # Bounding run time and memory
//!
//! 1. The allow-list: no loops or recursion besides the finite `..`, so
//!    every evaluation terminates.
//! 2. The checked expression is printed back to jq with a native `__t(...)`
//!    wrapper around every sub-expression whose cost is not constant. It
//!    counts entries and outputs and reads the clock every few dozen ticks,
//!    so even work that produces no output at the top
//!    (`.. | .. | .. | select(false)`) is interrupted. Once the deadline has
//!    passed every tick fails, so `try` and `?` cannot keep the run alive.
//! 3. The deadline is checked again between the outputs of the iterator.
//! 4. Terms that build values (array and object construction, `+`, string
//!    interpolation, `map`, `tojson`, ...) are wrapped in a native
//!    `__sz(...)` that fails when a value grows beyond a limit proportional
//!    to the input. Without it `[., .] | [., .] | ...` builds a value of
//!    exponential logical size in shared memory, and a single comparison or
//!    `tojson` of it would run for longer than any budget.
//!
//! What remains: one native step cannot be interrupted, and a few are
//! quadratic in their operands (`contains` and `-` on arrays), which are
//! parts of the input or size-limited values.
//!
//! jaq's parser, compiler and evaluator recurse over the expression and the
//! value, so sizes are capped to keep them within a 2 MiB thread stack even
//! in debug builds: expressions are at most 4096 bytes, nest at most 32
//! brackets and prefix keywords (`-`, `if`, `try`, `as`) in the source
//! text and 48 levels in the syntax tree, a single path has at most 64
//! segments, and inputs may nest at most 256 levels. Panics inside jaq are
//! caught and reported as errors.
//!
//! # Performance
//!
//! Compile each rule once (a few hundred µs); [`JqPathExpr`] is `Send` and
//! `Sync`. Converting a whole object to jaq's value type costs more than
//! evaluating a typical rule, so `compile` also works out which parts of
//! the input the expression can observe (for the rule above: the `name` of
//! each init container), and `paths` converts only those.

mod allow;
mod compile;
mod error;
mod eval;
mod observe;
mod paths;
mod print;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

pub use error::{EvalFailure, JqError};
use jaq_core::Vars;
use jaq_json::Val;
use serde_json::Value;

use compile::{compile_checked, excerpt};
use eval::{PathData, RunState};
use observe::{Converter, KeyTrie};
use paths::{path_elems, resolve};

/// Longest accepted expression, in bytes.
const MAX_EXPR_LEN: usize = 4096;
/// Bound on bracket depth plus prefix keywords in the source text; jaq's
/// parser recurses on these and uses several KiB of stack per level in debug
/// builds.
const MAX_SOURCE_NESTING: usize = 32;
/// Bound on the depth of the syntax tree; the printer, jaq's compiler and its
/// evaluator recurse over it.
const MAX_AST_DEPTH: usize = 48;
/// Bound on the segments of one path such as `.a.b[0][]`.
const MAX_PATH_PARTS: usize = 64;
/// Bound on the nesting of input values (serde_json's own parser stops at 128).
const MAX_INPUT_DEPTH: usize = 256;
/// Ticks between two reads of the clock; reading it costs about as much as a
/// tick itself.
const TICKS_PER_CLOCK_CHECK: u32 = 32;
/// Values the expression builds may have this many size units (see
/// [`value_fits`]) plus this many per value converted from the input.
const SIZE_LIMIT_BASE: usize = 10_000;
/// See [`SIZE_LIMIT_BASE`].
const SIZE_LIMIT_PER_INPUT_VALUE: usize = 4;
/// Values the expression builds may nest a little deeper than inputs.
const MAX_BUILT_DEPTH: usize = MAX_INPUT_DEPTH + 64;
/// How much of a runtime error is rendered to recognise jaq's "invalid path expression"
/// (the message continues with the input, which is never shown).
const PATH_ERROR_PREFIX: &str = "invalid path expression with input ";
/// How much of an over-long expression is kept in [`JqError::TooLong`].
const TOO_LONG_EXCERPT_CHARS: usize = 80;

/// One token of a JSON path found by an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathToken {
    /// An object member, by its (unescaped) key.
    Key(String),
    /// An array element, by its position (always within the array).
    Index(usize),
}

/// A compiled path expression: compile once per rule, evaluate many times.
///
/// It is `Send + Sync` (checked at compile time), so rules can be shared
/// across threads, e.g. in an `Arc`; each call to [`JqPathExpr::paths`] keeps
/// its mutable state on its own stack.
pub struct JqPathExpr {
    source: String,
    filter: jaq_core::Filter<PathData>,
    /// The parts of the input the expression can observe; `None` if any.
    reads: Option<KeyTrie>,
}

impl std::fmt::Debug for JqPathExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqPathExpr").field("source", &self.source).finish_non_exhaustive()
    }
}

// The compiled filter stores only term ids, strings and function pointers;
// this keeps it that way if jaq ever changes.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<JqPathExpr>();
};

impl JqPathExpr {
    /// Parses `expr`, checks it against the allowed subset (see the module
    /// docs) and compiles it.
    ///
    /// # Errors
    ///
    /// [`JqError::TooLong`], [`JqError::Parse`], [`JqError::NotAllowed`] or
    /// [`JqError::Compile`]. Argo CD treats all of them as a configuration
    /// error of the rule (a `ComparisonError` condition on the application).
    pub fn compile(expr: &str) -> Result<Self, JqError> {
        if expr.len() > MAX_EXPR_LEN {
            return Err(JqError::TooLong { expr: excerpt(expr, TOO_LONG_EXCERPT_CHARS), len: expr.len() });
        }
        // jaq is third-party code fed with user input; a bug in it must not
        // take the controller down.
        match catch_unwind(AssertUnwindSafe(|| compile_checked(expr))) {
            Ok(result) => result.map(|(filter, reads)| Self { source: expr.to_owned(), filter, reads }),
            Err(_) => {
                Err(JqError::Compile { expr: expr.to_owned(), message: "internal error in the jq compiler".to_owned() })
            }
        }
    }

    /// The expression as it was given to [`JqPathExpr::compile`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// All paths the expression selects in `value`, de-duplicated, in a
    /// stable (sorted) order.
    ///
    /// A path into something absent is simply not returned (never an error):
    /// `.spec.foo.bar` on an object without `.spec.foo` returns no paths, and
    /// so does `.spec.items[]` when `.spec.items` is missing or `null`.
    ///
    /// `budget` bounds wall time (Argo CD's default is 1 s); it is checked
    /// inside the evaluation and between outputs. Together with the
    /// allow-list this guarantees termination. A run that finishes is
    /// returned even if it took a little longer than `budget`.
    ///
    /// # Errors
    ///
    /// [`JqError::Eval`] for type errors (indexing a number, iterating a
    /// string), `error(...)`, expressions that compute values instead of
    /// selecting them, values the expression builds beyond the size limit,
    /// and inputs nested more than 256 levels deep; [`JqError::Timeout`]
    /// when `budget` runs out. Argo CD skips the rule for that object in
    /// both cases.
    pub fn paths(&self, value: &Value, budget: Duration) -> Result<Vec<Vec<PathToken>>, JqError> {
        let deadline = Instant::now().checked_add(budget);
        // Converting the whole object costs more than evaluating a typical
        // rule, so convert only what the expression can observe.
        let mut converter = Converter::default();
        let input = match &self.reads {
            Some(trie) => converter.observed(value, &[trie], 0),
            None => converter.whole(value, 0),
        };
        let Some(input) = input else {
            return Err(self.eval_error(EvalFailure::TooDeep));
        };
        let state = RunState {
            lut: &self.filter.lut,
            deadline,
            ticks: Cell::new(0),
            expired: Cell::new(false),
            oversized: Cell::new(false),
            size_limit: converter.values.saturating_mul(SIZE_LIMIT_PER_INPUT_VALUE).saturating_add(SIZE_LIMIT_BASE),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| self.run(&state, input, value)));
        match outcome {
            Ok(Ok(mut found)) => {
                found.sort_unstable();
                found.dedup();
                Ok(found)
            }
            Ok(Err(Failure::Timeout)) => Err(JqError::Timeout { expr: self.source.clone(), budget }),
            Ok(Err(Failure::Eval(reason))) => Err(self.eval_error(reason)),
            Err(_) => Err(self.eval_error(EvalFailure::Internal)),
        }
    }

    fn run(&self, state: &RunState<'_>, input: Val, value: &Value) -> Result<Vec<Vec<PathToken>>, Failure> {
        let ctx = jaq_core::Ctx::<PathData>::new(state, Vars::new([]));
        let mut found = Vec::new();
        for output in self.filter.id.run((ctx, input)) {
            if state.expired.get() || state.clock_expired() {
                return Err(Failure::Timeout);
            }
            let path = match output {
                Ok(path) => path,
                Err(exn) => return Err(state.failure(exn)),
            };
            let elems = path_elems(&path).ok_or(Failure::Eval(EvalFailure::BadPathElement))?;
            resolve(value, None, &elems, &mut Vec::new(), &mut found);
        }
        // A `try` may have swallowed our errors and let the run end.
        if state.expired.get() {
            return Err(Failure::Timeout);
        }
        if state.oversized.get() {
            return Err(Failure::Eval(EvalFailure::TooLarge));
        }
        Ok(found)
    }

    fn eval_error(&self, reason: EvalFailure) -> JqError {
        JqError::Eval { expr: self.source.clone(), reason }
    }
}

/// Why an evaluation stopped early.
enum Failure {
    Timeout,
    Eval(EvalFailure),
}
