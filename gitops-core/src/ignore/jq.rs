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

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use jaq_core::box_iter::box_once;
use jaq_core::data::{DataT, HasLut};
use jaq_core::load::lex::{self, StrPart};
use jaq_core::load::parse::{self, BinaryOp, Pattern, Term};
use jaq_core::load::{Arena, File, Lexer, Loader, Parser};
use jaq_core::ops::Math;
use jaq_core::path::{Opt, Part, Path};
use jaq_core::{Bind, Compiler, Exn, Native, PathsPtr, RunPtr, Vars};
use jaq_json::{Map, Num, Rc, Val};
use serde_json::Value;

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

/// Functions an expression may call, with their arity. Everything here
/// terminates on finite input; see the module docs for the reasoning.
const ALLOWED_FUNCTIONS: &[(&str, usize)] = &[
    // Select or narrow paths.
    ("empty", 0),
    ("error", 0),
    ("error", 1),
    ("select", 1),
    ("recurse", 0),
    ("first", 0),
    ("last", 0),
    ("first", 1),
    ("last", 1),
    ("limit", 2),
    ("nth", 1),
    ("getpath", 1),
    ("values", 0),
    ("nulls", 0),
    ("booleans", 0),
    ("numbers", 0),
    ("strings", 0),
    ("arrays", 0),
    ("objects", 0),
    ("iterables", 0),
    ("scalars", 0),
    // Compute values for conditions.
    ("not", 0),
    ("true", 0),
    ("false", 0),
    ("null", 0),
    ("length", 0),
    ("utf8bytelength", 0),
    ("keys", 0),
    ("keys_unsorted", 0),
    ("has", 1),
    ("in", 1),
    ("contains", 1),
    ("inside", 1),
    ("startswith", 1),
    ("endswith", 1),
    ("ltrimstr", 1),
    ("rtrimstr", 1),
    ("trim", 0),
    ("ltrim", 0),
    ("rtrim", 0),
    ("ascii_downcase", 0),
    ("ascii_upcase", 0),
    ("split", 1),
    ("type", 0),
    ("tostring", 0),
    ("tojson", 0),
    ("any", 0),
    ("any", 1),
    ("any", 2),
    ("all", 0),
    ("all", 1),
    ("all", 2),
    ("isempty", 1),
    ("to_entries", 0),
    ("map", 1),
];

/// Allowed functions whose outputs can be larger or deeper than their input
/// (`tojson` escapes, so repeating it grows a string exponentially).
const VALUE_BUILDING_FUNCTIONS: &[&str] = &["tostring", "tojson", "to_entries", "map", "split"];

/// Definitions taken from jaq-std. Its full prelude refers to natives that
/// only exist with all of its optional features (regex, time, math, ...), and
/// jaq compiles every prelude definition, so we load just what the allowed
/// functions need.
const STD_DEFS: &[(&str, usize)] = &[
    ("null", 0),
    ("isboolean", 0),
    ("isnumber", 0),
    ("isstring", 0),
    ("isarray", 0),
    ("isobject", 0),
    ("type", 0),
    ("values", 0),
    ("nulls", 0),
    ("booleans", 0),
    ("numbers", 0),
    ("strings", 0),
    ("arrays", 0),
    ("objects", 0),
    ("iterables", 0),
    ("scalars", 0),
    ("keys", 0),
    ("split", 1),
];

/// Definitions taken from jaq-json, for the same reason as [`STD_DEFS`].
const JSON_DEFS: &[(&str, usize)] = &[("in", 1), ("inside", 1)];

/// jq builtins that jaq lacks or that we do not load; calling them is "not
/// allowed" rather than "undefined", which is the more helpful message.
const OTHER_JQ_BUILTINS: &[&str] = &[
    "env",
    "input",
    "inputs",
    "input_filename",
    "input_line_number",
    "now",
    "debug",
    "stderr",
    "halt",
    "halt_error",
    "builtins",
    "ascii",
    "implode",
    "explode",
    "tostream",
    "fromstream",
    "truncate_stream",
    "setpath",
    "delpaths",
    "del",
    "with_entries",
    "from_entries",
    "walk",
    "paths",
    "leaf_paths",
    "path",
    "pick",
    "significand",
    "get_search_list",
];

/// Regular-expression builtins; rejected with a hint to use string functions.
const REGEX_FUNCTIONS: &[&str] = &["test", "match", "capture", "scan", "splits", "sub", "gsub"];

/// Prefix keywords on which jaq's parser recurses (besides brackets).
const NESTING_KEYWORDS: &[&str] = &["try", "catch", "if", "reduce", "foreach", "def", "label", "as"];

/// Message of the error `__sz` raises on a value over the size limit. Like [`TIMEOUT_MARK`]
/// it is only seen by `catch` handlers: the run's `oversized` flag decides what we report.
const OVERSIZED_MARK: &str = "ignoreDifferences jq size limit exceeded";

/// Message of the error `__t` raises once the deadline has passed. It is only
/// seen by `catch` handlers: the run's `expired` flag decides what we report.
const TIMEOUT_MARK: &str = "ignoreDifferences jq time budget exceeded";

/// One token of a JSON path found by an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathToken {
    /// An object member, by its (unescaped) key.
    Key(String),
    /// An array element, by its position (always within the array).
    Index(usize),
}

/// Errors of jq path expressions. Each names the expression, so a message can
/// be shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum JqError {
    /// The expression is not valid jq syntax.
    #[error("jq expression `{expr}` does not parse: {message}")]
    Parse {
        /// The expression.
        expr: String,
        /// What is wrong, and where.
        message: String,
    },
    /// The expression uses something outside the allowed subset.
    #[error("jq expression `{expr}`: {construct}")]
    NotAllowed {
        /// The expression.
        expr: String,
        /// The rejected construct, phrased as a sentence.
        construct: String,
    },
    /// The expression parses but does not compile, e.g. it calls an undefined
    /// function or uses an unbound variable.
    #[error("jq expression `{expr}` does not compile: {message}")]
    Compile {
        /// The expression.
        expr: String,
        /// What is undefined.
        message: String,
    },
    /// Evaluating the expression on an object failed. The error says why in general terms
    /// only: never with a value from the object (a rule can make an error out of any value,
    /// a Secret's included, e.g. `error(.data.password)`).
    #[error("jq expression `{expr}` failed: {reason}")]
    Eval {
        /// The expression.
        expr: String,
        /// Why, without any value of the object.
        reason: EvalFailure,
    },
    /// Evaluating the expression took longer than its budget.
    #[error("jq expression `{expr}` did not finish within its time budget of {budget:?}")]
    Timeout {
        /// The expression.
        expr: String,
        /// The budget that was exceeded.
        budget: Duration,
    },
    /// The expression is longer than the 4096 bytes we accept.
    #[error("jq expression `{expr}` is {len} bytes long; at most {MAX_EXPR_LEN} are allowed")]
    TooLong {
        /// The start of the expression (the first 80 characters, then `…`).
        expr: String,
        /// Its length in bytes.
        len: usize,
    },
}

/// Why evaluating an expression on an object failed, in words that hold no value of the
/// object: runtime errors of jq embed whatever value they were raised with or choked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalFailure {
    /// `error`, `error(msg)`, or a type error (indexing a string, iterating a number, ...).
    Raised,
    /// The expression computes values instead of selecting parts of the object.
    NotAPath,
    /// A path element is neither a key nor a whole-number index or slice.
    BadPathElement,
    /// A value the expression builds outgrew the limit set for this object.
    TooLarge,
    /// The object nests deeper than the evaluator accepts.
    TooDeep,
    /// The jq evaluator failed on its own (a panic or unexpected control flow).
    Internal,
}

impl std::fmt::Display for EvalFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EvalFailure::Raised => {
                "the expression raised an error (`error`, or a type error such as indexing a string)"
            }
            EvalFailure::NotAPath => {
                "a path expression must yield paths, this one yields values (it computes a new value \
                 instead of selecting one from the object)"
            }
            EvalFailure::BadPathElement => "a path element is neither a key nor a whole-number index",
            EvalFailure::TooLarge => "the expression builds a value larger than the limit for this object",
            EvalFailure::TooDeep => "the object nests more than 256 levels deep",
            EvalFailure::Internal => "internal error in the jq evaluator",
        })
    }
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

// ---------------------------------------------------------------------------
// Compilation

fn compile_checked(expr: &str) -> Result<(jaq_core::Filter<PathData>, Option<KeyTrie>), JqError> {
    if source_nesting(expr) > MAX_SOURCE_NESTING {
        return Err(JqError::NotAllowed {
            expr: expr.to_owned(),
            construct: format!(
                "the expression nests brackets or `if`/`try`/`-`/`as` more than {MAX_SOURCE_NESTING} levels deep"
            ),
        });
    }
    let parse_error = |message| JqError::Parse { expr: expr.to_owned(), message };
    let tokens = Lexer::new(expr).lex().map_err(|errs| parse_error(lex_message(expr, &errs)))?;
    let term = Parser::new(&tokens).parse(|p| p.term()).map_err(|errs| parse_error(parse_message(expr, &errs)))?;
    Checker { expr }.term(&term, 0)?;
    let mut printer = Printer::default();
    printer.atom(&term);
    // `__nn` drops `null` before an iteration; see `Printer::path`.
    let program = format!("def __nn: if . == null then empty else . end;\npath({})", printer.out);
    let filter = build_filter(&program).map_err(|message| JqError::Compile { expr: expr.to_owned(), message })?;
    let mut observed = Observed::default();
    observed.term(&term, &Some(vec![Vec::new()]));
    let reads = (!observed.trie.whole).then_some(observed.trie);
    Ok((filter, reads))
}

fn build_filter(program: &str) -> Result<jaq_core::Filter<PathData>, String> {
    let arena = Arena::default();
    let defs = jaq_core::defs().chain(std_defs()).chain(json_defs());
    let modules = Loader::new(defs).load(&arena, File { code: program, path: () }).map_err(|errs| {
        // The program is our own rendering of a term that already parsed,
        // so this indicates a printer bug rather than a user mistake.
        let what: Vec<String> = errs.iter().map(|(_, e)| format!("{e:?}")).collect();
        format!("internal error re-printing the expression: {}", what.join("; "))
    })?;
    let funs = jaq_core::funs::<PathData>()
        .chain(jaq_std::base_funs::<PathData>())
        .chain(jaq_json::funs::<PathData>())
        .chain([tick_native(), size_native()]);
    Compiler::default().with_funs(funs).compile(modules).map_err(|errs| {
        let mut names: Vec<String> = Vec::new();
        for (name, undefined) in errs.iter().flat_map(|(_, e)| e) {
            let text = match undefined {
                jaq_core::compile::Undefined::Filter(arity) => {
                    format!("function `{name}/{arity}`")
                }
                other => format!("{} `{name}`", other.as_str()),
            };
            if !names.contains(&text) {
                names.push(text);
            }
        }
        format!("undefined {}", names.join(", "))
    })
}

fn std_defs() -> impl Iterator<Item = parse::Def<&'static str>> {
    jaq_std::defs().filter(|def| STD_DEFS.contains(&(def.name, def.args.len())))
}

fn json_defs() -> impl Iterator<Item = parse::Def<&'static str>> {
    jaq_json::defs().filter(|def| JSON_DEFS.contains(&(def.name, def.args.len())))
}

/// Names (with arity) jaq or jq would know, to tell "not allowed" from
/// "undefined".
fn known_functions() -> &'static HashSet<(&'static str, usize)> {
    static KNOWN: OnceLock<HashSet<(&'static str, usize)>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
        let mut known: HashSet<_> = defs.map(|def| (def.name, def.args.len())).collect();
        let natives =
            jaq_core::funs::<PathData>().chain(jaq_std::base_funs::<PathData>()).chain(jaq_json::funs::<PathData>());
        known.extend(natives.map(|(name, args, _)| (name, args.len())));
        known
    })
}

/// Estimates how deep jaq's parser will recurse: the deepest bracket or
/// string-interpolation nesting plus every prefix keyword (which recurse
/// without a closing bracket). Over-counting is harmless; it only has to be a
/// safe upper bound for expressions we accept.
fn source_nesting(code: &str) -> usize {
    #[derive(PartialEq)]
    enum Frame {
        Bracket,
        Interpolation,
        Str,
    }
    let mut stack: Vec<Frame> = Vec::new();
    // Frames other than `Str` on the stack.
    let mut open = 0usize;
    let mut deepest = 0;
    let mut keywords = 0;
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if stack.last() == Some(&Frame::Str) {
            match c {
                '"' => {
                    stack.pop();
                }
                '\\' => {
                    // An escape consumes the next character; `\(` opens code.
                    let escaped = chars.next();
                    if escaped == Some('(') {
                        stack.push(Frame::Interpolation);
                        open += 1;
                    }
                }
                _ => {}
            }
        } else {
            match c {
                '"' => stack.push(Frame::Str),
                '(' | '[' | '{' => {
                    stack.push(Frame::Bracket);
                    open += 1;
                }
                ')' | ']' | '}' => {
                    let closed = stack.pop();
                    open -= usize::from(closed.is_some());
                }
                '-' => keywords += 1,
                '#' => {
                    // Same rule as jaq's lexer: a comment line ending in an
                    // odd number of backslashes continues on the next line.
                    let mut backslashes = 0usize;
                    for c in chars.by_ref() {
                        match c {
                            '\n' if backslashes.is_multiple_of(2) => break,
                            '\\' => backslashes += 1,
                            '\r' => {}
                            _ => backslashes = 0,
                        }
                    }
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let mut word = String::from(c);
                    while let Some(&next) = chars.peek() {
                        if !(next.is_ascii_alphanumeric() || next == '_') {
                            break;
                        }
                        word.push(next);
                        chars.next();
                    }
                    if NESTING_KEYWORDS.contains(&word.as_str()) {
                        keywords += 1;
                    }
                }
                _ => {}
            }
        }
        deepest = deepest.max(open);
    }
    deepest + keywords
}

// ---------------------------------------------------------------------------
// Error rendering

fn lex_message(code: &str, errs: &[lex::Error<&str>]) -> String {
    let Some((expect, rest)) = errs.first() else {
        return "invalid expression".to_owned();
    };
    let expected = match expect {
        lex::Expect::Digit => "a digit",
        lex::Expect::Ident => "an identifier",
        lex::Expect::Delim("(") => "a closing parenthesis `)`",
        lex::Expect::Delim("[") => "a closing bracket `]`",
        lex::Expect::Delim("{") => "a closing brace `}`",
        lex::Expect::Delim(_) => "a closing quote `\"`",
        lex::Expect::Escape => "a valid escape sequence (\\n, \\t, \\\", \\\\, \\uXXXX or \\(...))",
        lex::Expect::Unicode => "four hexadecimal digits of a code point",
        lex::Expect::Token => "a valid token",
        _ => "something else",
    };
    format!("expected {expected} {}", location(code, rest))
}

fn parse_message(code: &str, errs: &[parse::TError<'_, &str>]) -> String {
    let Some((expect, found)) = errs.first() else {
        return "invalid expression".to_owned();
    };
    let expected = expect.as_str();
    match (expect, found) {
        (parse::Expect::Nothing, Some(token)) => {
            format!("unexpected text {}", location(code, token.as_str()))
        }
        (_, Some(token)) => format!("expected {expected} {}", location(code, token.as_str())),
        (_, None) => format!("expected {expected} before the end of the expression"),
    }
}

/// Describes where `part` (a slice of `code`) starts: line, column and the
/// text there, or the end of the expression.
fn location(code: &str, part: &str) -> String {
    let offset = (part.as_ptr() as usize)
        .checked_sub(code.as_ptr() as usize)
        .filter(|offset| *offset <= code.len() && code.is_char_boundary(*offset));
    let Some(offset) = offset else {
        return format!("near `{}`", excerpt(part, 20));
    };
    let before = &code[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let rest = &code[offset..];
    if rest.trim().is_empty() {
        format!("at the end of the expression (line {line}, column {column})")
    } else {
        format!("at line {line}, column {column}, near `{}`", excerpt(rest, 20))
    }
}

/// The first `max` characters of `text`, with `…` if it was cut.
fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Allow-list

/// Walks a parsed expression and rejects what is outside the allowed subset
/// (see the module docs), naming the construct.
struct Checker<'e> {
    expr: &'e str,
}

impl Checker<'_> {
    fn not_allowed(&self, construct: impl Into<String>) -> JqError {
        JqError::NotAllowed { expr: self.expr.to_owned(), construct: construct.into() }
    }

    fn term(&self, term: &Term<&str>, depth: usize) -> Result<(), JqError> {
        if depth > MAX_AST_DEPTH {
            return Err(self.not_allowed(format!("the expression nests more than {MAX_AST_DEPTH} levels deep")));
        }
        let depth = depth + 1;
        match term {
            Term::Id | Term::Recurse | Term::Num(_) => Ok(()),
            Term::Str(format, parts) => {
                if let Some(format) = format {
                    return Err(self.not_allowed(format!("format string `{format}` is not allowed")));
                }
                self.str_parts(parts, depth)
            }
            Term::Arr(inner) => inner.iter().try_for_each(|t| self.term(t, depth)),
            Term::Obj(entries) => entries.iter().try_for_each(|(key, value)| {
                self.term(key, depth)?;
                value.iter().try_for_each(|v| self.term(v, depth))
            }),
            Term::Neg(inner) => self.term(inner, depth),
            Term::BinOp(left, op, right) => {
                self.op(op, depth)?;
                self.term(left, depth)?;
                self.term(right, depth)
            }
            Term::Label(..) => Err(self.not_allowed("`label` is not allowed in ignoreDifferences expressions")),
            Term::Break(..) => Err(self.not_allowed("`break` is not allowed in ignoreDifferences expressions")),
            Term::Fold(keyword, ..) => {
                Err(self.not_allowed(format!("`{keyword}` is not allowed in ignoreDifferences expressions")))
            }
            Term::TryCatch(body, catch) => {
                self.term(body, depth)?;
                catch.iter().try_for_each(|c| self.term(c, depth))
            }
            Term::IfThenElse(branches, otherwise) => {
                for (cond, then) in branches {
                    self.term(cond, depth)?;
                    self.term(then, depth)?;
                }
                otherwise.iter().try_for_each(|e| self.term(e, depth))
            }
            Term::Def(..) => Err(self.not_allowed("`def` is not allowed in ignoreDifferences expressions")),
            Term::Call(name, args) => {
                self.call(name, args.len())?;
                args.iter().try_for_each(|a| self.term(a, depth))
            }
            Term::Var(name) => self.var(name),
            Term::Path(head, path) => {
                if path.0.len() > MAX_PATH_PARTS {
                    return Err(self.not_allowed(format!("a path may have at most {MAX_PATH_PARTS} segments")));
                }
                self.term(head, depth)?;
                path.0.iter().try_for_each(|(part, _)| match part {
                    Part::Index(index) => self.term(index, depth),
                    Part::Range(from, to) => from.iter().chain(to.iter()).try_for_each(|t| self.term(t, depth)),
                })
            }
        }
    }

    fn str_parts(&self, parts: &[StrPart<&str, Term<&str>>], depth: usize) -> Result<(), JqError> {
        parts.iter().try_for_each(|part| match part {
            StrPart::Term(t) => self.term(t, depth),
            StrPart::Str(_) | StrPart::Char(_) => Ok(()),
        })
    }

    fn op(&self, op: &BinaryOp<&str>, depth: usize) -> Result<(), JqError> {
        let assignment = |symbol: &str| {
            Err(self.not_allowed(format!(
                "the assignment operator `{symbol}` is not allowed: the expression must only select \
                 paths (they are deleted for you)"
            )))
        };
        match op {
            BinaryOp::Pipe(None)
            | BinaryOp::Comma
            | BinaryOp::Alt
            | BinaryOp::Or
            | BinaryOp::And
            | BinaryOp::Cmp(_) => Ok(()),
            BinaryOp::Pipe(Some(pattern)) => self.pattern(pattern, depth),
            BinaryOp::Math(Math::Mul) => Err(self
                .not_allowed("the `*` operator is not allowed (multiplying a string builds arbitrarily large values)")),
            BinaryOp::Math(_) => Ok(()),
            BinaryOp::Assign => assignment("="),
            BinaryOp::Update => assignment("|="),
            BinaryOp::UpdateMath(math) => assignment(&format!("{}=", math.as_str())),
            BinaryOp::UpdateAlt => assignment("//="),
        }
    }

    fn pattern(&self, pattern: &Pattern<&str>, depth: usize) -> Result<(), JqError> {
        if depth > MAX_AST_DEPTH {
            return Err(self.not_allowed(format!("the expression nests more than {MAX_AST_DEPTH} levels deep")));
        }
        match pattern {
            Pattern::Var(name) => self.var(name),
            Pattern::Arr(items) => items.iter().try_for_each(|p| self.pattern(p, depth + 1)),
            Pattern::Obj(entries) => entries.iter().try_for_each(|(key, value)| {
                self.term(key, depth + 1)?;
                self.pattern(value, depth + 1)
            }),
        }
    }

    fn var(&self, name: &str) -> Result<(), JqError> {
        match name {
            "$ENV" => Err(self.not_allowed("`$ENV` is not allowed in ignoreDifferences expressions")),
            "$__loc__" => Err(self.not_allowed("`$__loc__` is not allowed in ignoreDifferences expressions")),
            // `$__h0`, ... are the printer's hoisted index variables.
            name if name.starts_with("$__") => {
                Err(self.not_allowed(format!("variable names starting with `$__` are reserved (`{name}`)")))
            }
            _ => Ok(()),
        }
    }

    fn call(&self, name: &str, arity: usize) -> Result<(), JqError> {
        if ALLOWED_FUNCTIONS.contains(&(name, arity)) {
            return Ok(());
        }
        if name == "del" {
            return Err(self.not_allowed(
                "`del` is not allowed: write the path expression itself (e.g. `.metadata.labels.foo`); \
                 the paths it selects are deleted for you",
            ));
        }
        if REGEX_FUNCTIONS.contains(&name) || (name == "split" && arity == 2) {
            return Err(self.not_allowed(format!(
                "function `{name}/{arity}` is not allowed: regular expressions are not supported in \
                 ignoreDifferences expressions; use `startswith`, `endswith` or `contains`"
            )));
        }
        if known_functions().contains(&(name, arity)) || OTHER_JQ_BUILTINS.contains(&name) {
            return Err(self.not_allowed(format!("function `{name}/{arity}` is not allowed")));
        }
        Err(JqError::Compile { expr: self.expr.to_owned(), message: format!("undefined function `{name}/{arity}`") })
    }
}

// ---------------------------------------------------------------------------
// Re-printing the checked term with deadline ticks

/// Renders a checked term back to jq text, adding `__t(...)` around
/// sub-terms whose cost is not constant and `__nn` before iterations.
/// Every emitted sub-term is self-delimited (`(...)` or `__t(...)`), so the
/// output never depends on operator precedence.
#[derive(Default)]
struct Printer {
    out: String,
    hoisted: usize,
}

impl Printer {
    fn atom(&mut self, term: &Term<&str>) {
        self.out.push_str(if is_cheap(term) { "(" } else { "__t(" });
        if builds_value(term) {
            self.out.push_str("__sz(");
            self.body(term);
            self.out.push(')');
        } else {
            self.body(term);
        }
        self.out.push(')');
    }

    fn body(&mut self, term: &Term<&str>) {
        match term {
            Term::Id => self.out.push('.'),
            Term::Recurse => self.out.push_str(".."),
            Term::Num(n) => self.out.push_str(n),
            Term::Str(_, parts) => self.string(parts),
            Term::Arr(None) => self.out.push_str("[]"),
            Term::Arr(Some(inner)) => {
                self.out.push('[');
                self.atom(inner);
                self.out.push(']');
            }
            Term::Obj(entries) => {
                self.out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    match (key, value) {
                        (key, Some(value)) => {
                            self.out.push('(');
                            self.atom(key);
                            self.out.push_str("): ");
                            self.atom(value);
                        }
                        // Shorthands `{$x}`, `{a}`, `{"a b"}`.
                        (Term::Var(name), None) => self.out.push_str(name),
                        (Term::Str(None, parts), None) => self.string(parts),
                        (key, None) => self.atom(key),
                    }
                }
                self.out.push('}');
            }
            Term::Neg(inner) => {
                self.out.push('-');
                self.atom(inner);
            }
            Term::BinOp(left, BinaryOp::Pipe(Some(pattern)), right) => {
                self.atom(left);
                self.out.push_str(" as ");
                self.pattern(pattern);
                self.out.push_str(" | ");
                self.atom(right);
            }
            Term::BinOp(left, op, right) => {
                self.atom(left);
                self.out.push(' ');
                self.out.push_str(op_symbol(op));
                self.out.push(' ');
                self.atom(right);
            }
            Term::TryCatch(body, catch) => {
                self.out.push_str("try ");
                self.atom(body);
                if let Some(catch) = catch {
                    self.out.push_str(" catch ");
                    self.atom(catch);
                }
            }
            Term::IfThenElse(branches, otherwise) => {
                for (i, (cond, then)) in branches.iter().enumerate() {
                    self.out.push_str(if i == 0 { "if " } else { " elif " });
                    self.atom(cond);
                    self.out.push_str(" then ");
                    self.atom(then);
                }
                if let Some(otherwise) = otherwise {
                    self.out.push_str(" else ");
                    self.atom(otherwise);
                }
                self.out.push_str(" end");
            }
            Term::Call(name, args) => {
                self.out.push_str(name);
                for (i, arg) in args.iter().enumerate() {
                    self.out.push_str(if i == 0 { "(" } else { "; " });
                    self.atom(arg);
                }
                if !args.is_empty() {
                    self.out.push(')');
                }
            }
            Term::Var(name) => self.out.push_str(name),
            Term::Path(head, path) => self.path(head, path),
            // Rejected by the checker; an undefined name turns a printer bug
            // into a compile error instead of a silently different program.
            Term::Label(..) | Term::Break(..) | Term::Fold(..) | Term::Def(..) => self.out.push_str("__unsupported"),
        }
    }

    /// Prints `head[i]...` as a pipeline that inserts `__nn` before every
    /// essential iteration or slice, so a missing (`null`) array yields no
    /// paths instead of "cannot iterate over null". Splitting `f[g]` into
    /// `f | .[g]` would evaluate `g` on the wrong input, so index terms that
    /// read the input are first bound to variables (`(g) as $__h0 | ...`).
    fn path(&mut self, head: &Term<&str>, path: &Path<Term<&str>>) {
        let index_text = |printer: &mut Self, index: &Term<&str>| -> String {
            if let Some(text) = constant_text(index) {
                return text;
            }
            let var = format!("$__h{}", printer.hoisted);
            printer.hoisted += 1;
            printer.atom(index);
            printer.out.push_str(" as ");
            printer.out.push_str(&var);
            printer.out.push_str(" | ");
            var
        };
        enum Text {
            Index(String),
            Range(Option<String>, Option<String>),
        }
        let mut parts = Vec::with_capacity(path.0.len());
        for (part, opt) in &path.0 {
            let text = match part {
                Part::Index(index) => Text::Index(index_text(self, index)),
                Part::Range(from, to) => {
                    let from = from.as_ref().map(|t| index_text(self, t));
                    let to = to.as_ref().map(|t| index_text(self, t));
                    Text::Range(from, to)
                }
            };
            parts.push((text, matches!(opt, Opt::Optional)));
        }
        // No parentheses of our own: `atom` already delimits this body.
        if matches!(head, Term::Id) {
            self.out.push('.');
        } else {
            self.atom(head);
        }
        for (text, optional) in parts {
            match text {
                Text::Index(index) => {
                    self.out.push('[');
                    self.out.push_str(&index);
                }
                Text::Range(from, to) => {
                    if !optional {
                        self.out.push_str(" | __nn | .");
                    }
                    self.out.push('[');
                    if from.is_some() || to.is_some() {
                        self.out.push_str(from.as_deref().unwrap_or(""));
                        self.out.push(':');
                        self.out.push_str(to.as_deref().unwrap_or(""));
                    }
                }
            }
            self.out.push(']');
            if optional {
                self.out.push('?');
            }
        }
    }

    fn string(&mut self, parts: &[StrPart<&str, Term<&str>>]) {
        self.out.push('"');
        for part in parts {
            match part {
                // The lexer guarantees these contain neither `\` nor `"`.
                StrPart::Str(text) => self.out.push_str(text),
                StrPart::Char(c) => push_escaped(&mut self.out, *c),
                StrPart::Term(term) => {
                    self.out.push_str("\\(");
                    self.atom(term);
                    self.out.push(')');
                }
            }
        }
        self.out.push('"');
    }

    fn pattern(&mut self, pattern: &Pattern<&str>) {
        match pattern {
            Pattern::Var(name) => self.out.push_str(name),
            Pattern::Arr(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.pattern(item);
                }
                self.out.push(']');
            }
            Pattern::Obj(entries) => {
                self.out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.out.push('(');
                    self.atom(key);
                    self.out.push_str("): ");
                    self.pattern(value);
                }
                self.out.push('}');
            }
        }
    }
}

/// True if `term` can build a value larger or deeper than its inputs, so its
/// outputs need a size check (see [`size_native`]).
fn builds_value(term: &Term<&str>) -> bool {
    match term {
        Term::Arr(Some(_)) | Term::Obj(_) | Term::BinOp(_, BinaryOp::Math(_), _) => true,
        Term::Str(_, parts) => parts.iter().any(|p| matches!(p, StrPart::Term(_))),
        Term::Call(name, _) => VALUE_BUILDING_FUNCTIONS.contains(name),
        _ => false,
    }
}

/// True if evaluating `term` costs constant work and yields at most one
/// value, so it needs no deadline tick of its own.
fn is_cheap(term: &Term<&str>) -> bool {
    match term {
        Term::Id | Term::Num(_) | Term::Var(_) => true,
        Term::Str(None, parts) => parts.iter().all(|p| !matches!(p, StrPart::Term(_))),
        Term::Neg(inner) => is_cheap(inner),
        Term::BinOp(left, op, right) => {
            matches!(op, BinaryOp::Cmp(_) | BinaryOp::Math(_) | BinaryOp::And | BinaryOp::Or | BinaryOp::Alt)
                && is_cheap(left)
                && is_cheap(right)
        }
        Term::Path(head, path) => {
            is_cheap(head)
                && path.0.iter().all(|(part, _)| matches!(part, Part::Index(i) if constant_text(i).is_some()))
        }
        _ => false,
    }
}

/// The text of an index term that does not read its input, if it is one.
fn constant_text(term: &Term<&str>) -> Option<String> {
    match term {
        Term::Num(n) => Some((*n).to_owned()),
        Term::Var(name) => Some((*name).to_owned()),
        Term::Neg(inner) => match inner.as_ref() {
            Term::Num(n) => Some(format!("-{n}")),
            _ => None,
        },
        Term::Str(None, parts) if parts.iter().all(|p| !matches!(p, StrPart::Term(_))) => {
            let mut printer = Printer::default();
            printer.string(parts);
            Some(printer.out)
        }
        _ => None,
    }
}

fn op_symbol(op: &BinaryOp<&str>) -> &'static str {
    match op {
        BinaryOp::Pipe(_) => "|",
        BinaryOp::Comma => ",",
        BinaryOp::Alt => "//",
        BinaryOp::Or => "or",
        BinaryOp::And => "and",
        BinaryOp::Math(math) => math.as_str(),
        BinaryOp::Cmp(cmp) => cmp.as_str(),
        // Rejected by the checker; `=` keeps the printed program invalid in
        // path mode rather than silently different.
        BinaryOp::Assign | BinaryOp::Update | BinaryOp::UpdateMath(_) | BinaryOp::UpdateAlt => "=",
    }
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if u32::from(c) < 0x20 => {
            // Writing to a `String` cannot fail.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        c => out.push(c),
    }
}

// ---------------------------------------------------------------------------
// Evaluation

/// jaq data kind for our runs: values are [`Val`], and natives can reach the
/// per-run deadline state.
struct PathData;

impl DataT for PathData {
    type V<'a> = Val;
    type Data<'a> = &'a RunState<'a>;
}

/// Per-evaluation state shared with the `__t` and `__sz` natives.
struct RunState<'a> {
    lut: &'a jaq_core::Lut<PathData>,
    deadline: Option<Instant>,
    ticks: Cell<u32>,
    expired: Cell<bool>,
    /// Set once a built value exceeded `size_limit`; like `expired`, it
    /// outlives a `try` that catches the error.
    oversized: Cell<bool>,
    /// Size units (see [`value_fits`]) a value built by the expression may
    /// have.
    size_limit: usize,
}

impl<'a> HasLut<'a, PathData> for &'a RunState<'a> {
    fn lut(&self) -> &'a jaq_core::Lut<PathData> {
        self.lut
    }
}

impl RunState<'_> {
    fn clock_expired(&self) -> bool {
        if let Some(deadline) = self.deadline
            && Instant::now() >= deadline
        {
            self.expired.set(true);
        }
        self.expired.get()
    }

    /// Counts one unit of work and fails once the deadline has passed.
    fn tick<'e>(&self) -> Result<(), Exn<'e, Val>> {
        if !self.expired.get() {
            let ticks = self.ticks.get().wrapping_add(1);
            self.ticks.set(ticks);
            if ticks.is_multiple_of(TICKS_PER_CLOCK_CHECK) {
                self.clock_expired();
            }
        }
        if self.expired.get() { Err(Exn::from(jaq_core::Error::str(TIMEOUT_MARK))) } else { Ok(()) }
    }

    /// Fails if `value` is larger than the run's size limit.
    fn check_size<'e>(&self, value: &Val) -> Result<(), Exn<'e, Val>> {
        let mut budget = self.size_limit;
        if !self.oversized.get() && value_fits(value, &mut budget, 0) {
            Ok(())
        } else {
            self.oversized.set(true);
            Err(Exn::from(jaq_core::Error::str(OVERSIZED_MARK)))
        }
    }

    /// Classifies a runtime error. Its message is never kept: jq errors embed the value
    /// they were raised with (`error(.data.password)`) or choked on (`cannot index "…"`).
    fn failure(&self, exn: Exn<'_, Val>) -> Failure {
        if self.expired.get() {
            return Failure::Timeout;
        }
        if self.oversized.get() {
            return Failure::Eval(EvalFailure::TooLarge);
        }
        let Ok(error) = exn.get_err() else {
            // Halts and internal control flow cannot be reached from the
            // allowed subset.
            return Failure::Eval(EvalFailure::Internal);
        };
        // Only the start is rendered, enough to recognise jaq's own wording.
        let start = display_error(&error, PATH_ERROR_PREFIX.len());
        if start.starts_with(PATH_ERROR_PREFIX) {
            Failure::Eval(EvalFailure::NotAPath)
        } else {
            Failure::Eval(EvalFailure::Raised)
        }
    }
}

/// `__t(f)`: behaves like `f` (also inside `path(...)`) but ticks the
/// deadline once on entry and once per output.
fn tick_native() -> jaq_core::native::Fun<PathData> {
    let run: RunPtr<PathData> = |mut cv| {
        let state: &RunState<'_> = cv.0.data();
        if let Err(e) = state.tick() {
            return box_once(Err(e));
        }
        let (f, ctx) = cv.0.pop_fun();
        Box::new(f.run((ctx, cv.1)).map(move |y| {
            state.tick()?;
            y
        }))
    };
    let paths: PathsPtr<PathData> = |mut cv| {
        let state: &RunState<'_> = cv.0.data();
        if let Err(e) = state.tick() {
            return box_once(Err(e));
        }
        let (f, ctx) = cv.0.pop_fun();
        Box::new(f.paths((ctx, cv.1)).map(move |y| {
            state.tick()?;
            y
        }))
    };
    ("__t", [Bind::Fun(())].into(), Native::<PathData>::new(run).with_paths(paths))
}

/// `__sz(f)`: behaves like `f` but fails on outputs larger than the run's
/// size limit. Wraps every term that builds values, because `[., .]` in a
/// chain of pipes doubles the logical size of a value at each step while
/// sharing its memory; one comparison or `tojson` of the result would then
/// run for longer than any budget, inside a single uninterruptible step.
fn size_native() -> jaq_core::native::Fun<PathData> {
    let run: RunPtr<PathData> = |mut cv| {
        let state: &RunState<'_> = cv.0.data();
        let (f, ctx) = cv.0.pop_fun();
        Box::new(f.run((ctx, cv.1)).map(move |y| {
            let value = y?;
            state.check_size(&value)?;
            Ok(value)
        }))
    };
    ("__sz", [Bind::Fun(())].into(), Native::<PathData>::new(run))
}

/// Converts serde_json values to jaq values by hand: jaq-json only offers
/// `Deserialize`, which recurses without a depth bound. Counts the values it
/// creates, which sets the size limit for values the expression builds.
#[derive(Default)]
struct Converter {
    values: usize,
}

impl Converter {
    /// `None` if the value nests too deeply.
    fn whole(&mut self, value: &Value, depth: usize) -> Option<Val> {
        self.values += 1;
        Some(match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(if let Some(i) = n.as_i64() {
                Num::from_integral(i)
            } else if let Some(u) = n.as_u64() {
                Num::from_integral(u)
            } else {
                Num::Float(n.as_f64().unwrap_or(f64::NAN))
            }),
            Value::String(s) => Val::from(s.clone()),
            Value::Array(items) => {
                if depth >= MAX_INPUT_DEPTH {
                    return None;
                }
                let items: Option<Vec<Val>> = items.iter().map(|v| self.whole(v, depth + 1)).collect();
                Val::Arr(Rc::new(items?))
            }
            Value::Object(members) => {
                if depth >= MAX_INPUT_DEPTH {
                    return None;
                }
                let mut map = Map::with_capacity_and_hasher(members.len(), Default::default());
                for (k, v) in members {
                    map.insert(Val::from(k.clone()), self.whole(v, depth + 1)?);
                }
                Val::obj(map)
            }
        })
    }

    /// Converts only the observed parts of `value`, as described by `nodes`
    /// (several nodes apply below an `each` step that also has named keys).
    /// Unobserved containers become empty containers of the same type, so
    /// type checks and errors along the way behave as on the full input.
    fn observed(&mut self, value: &Value, nodes: &[&KeyTrie], depth: usize) -> Option<Val> {
        if nodes.iter().any(|node| node.whole) {
            return self.whole(value, depth);
        }
        let each: Vec<&KeyTrie> = nodes.iter().filter_map(|node| node.each.as_deref()).collect();
        match value {
            Value::Object(members) => {
                if depth >= MAX_INPUT_DEPTH {
                    return None;
                }
                self.values += 1;
                let keys: Vec<&str> = if each.is_empty() {
                    let mut keys: Vec<&str> = Vec::new();
                    for (key, _) in nodes.iter().flat_map(|node| &node.keys) {
                        if members.contains_key(key) && !keys.contains(&key.as_str()) {
                            keys.push(key);
                        }
                    }
                    keys
                } else {
                    members.keys().map(String::as_str).collect()
                };
                let mut map = Map::with_capacity_and_hasher(keys.len(), Default::default());
                for key in keys {
                    let Some(member) = members.get(key) else {
                        continue;
                    };
                    let mut children = each.clone();
                    children.extend(nodes.iter().filter_map(|node| node.key(key)));
                    let member = self.observed(member, &children, depth + 1)?;
                    map.insert(Val::from(key.to_owned()), member);
                }
                Some(Val::obj(map))
            }
            Value::Array(items) => {
                if depth >= MAX_INPUT_DEPTH {
                    return None;
                }
                self.values += 1;
                let items: Option<Vec<Val>> = if each.is_empty() {
                    Some(Vec::new())
                } else {
                    items.iter().map(|item| self.observed(item, &each, depth + 1)).collect()
                };
                Some(Val::Arr(Rc::new(items?)))
            }
            scalar => self.whole(scalar, depth),
        }
    }
}

/// The parts of the input an expression can observe, as a trie over object
/// keys and "every element" steps. A `whole` node is observed completely;
/// other nodes only through their children and their type (and, with an
/// `each` child, all their keys or elements).
#[derive(Debug, Default)]
struct KeyTrie {
    whole: bool,
    each: Option<Box<KeyTrie>>,
    keys: Vec<(String, KeyTrie)>,
}

impl KeyTrie {
    fn node_mut(&mut self, steps: &[Step]) -> &mut KeyTrie {
        let Some((first, rest)) = steps.split_first() else {
            return self;
        };
        let child = match first {
            Step::Each => self.each.get_or_insert_with(Box::default),
            Step::Key(key) => {
                let position = self.keys.iter().position(|(k, _)| k == key);
                let i = position.unwrap_or_else(|| {
                    self.keys.push((key.clone(), KeyTrie::default()));
                    self.keys.len() - 1
                });
                &mut self.keys[i].1
            }
        };
        child.node_mut(rest)
    }

    fn key(&self, key: &str) -> Option<&KeyTrie> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, child)| child)
    }
}

/// One step of a location in the input.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    /// Any element of an array or member of an object.
    Each,
}

/// Where the values a term works on live in the input: a list of
/// locations, or `None` for values computed by the expression (which can
/// only contain parts of the input that were recorded as `whole` already).
type Locs = Option<Vec<Vec<Step>>>;

/// More locations than this are not tracked; their input is read whole.
const MAX_TRACKED_LOCATIONS: usize = 64;

/// Computes which parts of the input an expression observes, so
/// [`JqPathExpr::paths`] can skip converting the rest; converting a whole
/// Deployment costs more than evaluating a typical rule. The analysis is
/// deliberately coarse: anything it does not model reads its input whole.
/// It relies on `path(...)` not observing the values at the paths it
/// returns, only the types along the way.
#[derive(Default)]
struct Observed {
    trie: KeyTrie,
}

impl Observed {
    fn record(&mut self, locs: &Locs) {
        for loc in locs.iter().flatten() {
            self.trie.node_mut(loc);
        }
    }

    fn whole(&mut self, locs: &Locs) {
        for loc in locs.iter().flatten() {
            self.trie.node_mut(loc).whole = true;
        }
    }

    /// A term whose output values are observed (compared, collected, bound).
    fn value(&mut self, term: &Term<&str>, locs: &Locs) {
        let out = self.term(term, locs);
        self.whole(&out);
    }

    /// Records what `term` observes when run on the values at `locs`, and
    /// returns where its outputs live.
    fn term(&mut self, term: &Term<&str>, locs: &Locs) -> Locs {
        match term {
            Term::Id => locs.clone(),
            Term::Num(_) | Term::Var(_) | Term::Arr(None) => None,
            Term::Str(_, parts) => {
                for part in parts {
                    if let StrPart::Term(t) = part {
                        self.value(t, locs);
                    }
                }
                None
            }
            Term::Arr(Some(inner)) | Term::Neg(inner) => {
                self.value(inner, locs);
                None
            }
            Term::Path(head, path) => {
                let head = self.term(head, locs);
                let mut steps = Vec::with_capacity(path.0.len());
                for (part, _) in &path.0 {
                    match part {
                        Part::Index(index) => match constant_key(index) {
                            Some(key) => steps.push(Step::Key(key)),
                            None => {
                                // Index terms run on the input of the path term.
                                self.value(index, locs);
                                steps.push(Step::Each);
                            }
                        },
                        Part::Range(from, to) => {
                            for bound in from.iter().chain(to.iter()) {
                                self.value(bound, locs);
                            }
                            steps.push(Step::Each);
                        }
                    }
                }
                let out = head.map(|heads| {
                    heads
                        .into_iter()
                        .map(|mut loc| {
                            loc.extend(steps.iter().cloned());
                            loc
                        })
                        .collect()
                });
                self.record(&out);
                out
            }
            Term::BinOp(left, op, right) => match op {
                BinaryOp::Pipe(None) => {
                    let middle = self.term(left, locs);
                    if middle.as_ref().is_some_and(|m| m.len() > MAX_TRACKED_LOCATIONS) {
                        // Everything below the pipe's input is then covered.
                        self.whole(locs);
                        return None;
                    }
                    self.term(right, &middle)
                }
                BinaryOp::Pipe(Some(pattern)) => {
                    self.value(left, locs);
                    self.pattern(pattern, locs);
                    self.term(right, locs)
                }
                BinaryOp::Comma => {
                    let left = self.term(left, locs);
                    let right = self.term(right, locs);
                    union(left, right)
                }
                BinaryOp::Alt => {
                    // Only truthy left outputs pass, so their values matter.
                    let left = self.term(left, locs);
                    self.whole(&left);
                    let right = self.term(right, locs);
                    union(left, right)
                }
                _ => {
                    self.value(left, locs);
                    self.value(right, locs);
                    None
                }
            },
            Term::TryCatch(body, None) => self.term(body, locs),
            Term::IfThenElse(branches, otherwise) => {
                let mut out = Some(Vec::new());
                for (cond, then) in branches {
                    self.value(cond, locs);
                    let then = self.term(then, locs);
                    out = union(out, then);
                }
                let otherwise = match otherwise {
                    Some(e) => self.term(e, locs),
                    None => locs.clone(),
                };
                union(out, otherwise)
            }
            Term::Call(name, args) => self.call(name, args, locs),
            // A `catch` handler sees error messages, which embed input
            // values; the rest is rejected by the checker anyway.
            Term::Recurse
            | Term::Obj(_)
            | Term::TryCatch(_, Some(_))
            | Term::Label(..)
            | Term::Break(..)
            | Term::Fold(..)
            | Term::Def(..) => {
                self.whole(locs);
                None
            }
        }
    }

    fn call(&mut self, name: &str, args: &[Term<&str>], locs: &Locs) -> Locs {
        let each = |locs: &Locs| -> Locs {
            locs.as_ref().map(|locs| {
                locs.iter()
                    .map(|loc| {
                        let mut loc = loc.clone();
                        loc.push(Step::Each);
                        loc
                    })
                    .collect()
            })
        };
        match (name, args) {
            ("select", [cond]) => {
                self.value(cond, locs);
                locs.clone()
            }
            ("empty", []) => Some(Vec::new()),
            ("error", [message]) => {
                self.value(message, locs);
                Some(Vec::new())
            }
            ("first" | "last", [f]) => self.term(f, locs),
            ("limit", [n, f]) => {
                self.value(n, locs);
                self.term(f, locs)
            }
            ("first" | "last", []) => {
                let out = each(locs);
                self.record(&out);
                out
            }
            ("nth", [n]) => {
                self.value(n, locs);
                let out = each(locs);
                self.record(&out);
                out
            }
            _ => {
                // Anything else may look at all of its input (`error/0`
                // reports it, `..` walks it, `length` measures it, ...).
                self.whole(locs);
                for arg in args {
                    self.value(arg, locs);
                }
                None
            }
        }
    }

    fn pattern(&mut self, pattern: &Pattern<&str>, locs: &Locs) {
        match pattern {
            Pattern::Var(_) => {}
            Pattern::Arr(items) => items.iter().for_each(|p| self.pattern(p, locs)),
            Pattern::Obj(entries) => {
                // Key expressions of destructuring patterns are rare; read
                // the input whole rather than model where they run.
                self.whole(locs);
                entries.iter().for_each(|(_, p)| self.pattern(p, locs));
            }
        }
    }
}

fn union(left: Locs, right: Locs) -> Locs {
    let mut left = left?;
    left.extend(right?);
    Some(left)
}

/// The key of an index term that is a plain string literal.
fn constant_key(term: &Term<&str>) -> Option<String> {
    let Term::Str(None, parts) = term else {
        return None;
    };
    let mut key = String::new();
    for part in parts {
        match part {
            StrPart::Str(text) => key.push_str(text),
            StrPart::Char(c) => key.push(*c),
            StrPart::Term(_) => return None,
        }
    }
    Some(key)
}

/// One element of a path as jaq reports it.
#[derive(Debug)]
enum Elem<'v> {
    Key(&'v str),
    Index(isize),
    /// `{"start": s, "end": e}`, jaq's path element for `.[s:e]`.
    Slice(Option<isize>, Option<isize>),
    /// An element that cannot exist in a serde_json value (e.g. an index
    /// beyond `isize`); the path is dropped.
    Absent,
}

/// The elements of a path `path()` produced; `None` when one is not a key, an integer
/// index or a slice (the caller reports that without the value).
fn path_elems(path: &Val) -> Option<Vec<Elem<'_>>> {
    let Val::Arr(items) = path else {
        return None;
    };
    items.iter().map(elem).collect()
}

fn elem(v: &Val) -> Option<Elem<'_>> {
    match v {
        Val::TStr(bytes) | Val::BStr(bytes) => Some(match std::str::from_utf8(bytes) {
            Ok(key) => Elem::Key(key),
            Err(_) => Elem::Absent,
        }),
        Val::Num(n) => match int_of(n) {
            Int::Fits(i) => Some(Elem::Index(i)),
            Int::Below | Int::Above => Some(Elem::Absent),
            Int::Fraction => None,
        },
        Val::Obj(bounds) => {
            let (mut start, mut end) = (None, None);
            for (key, bound) in bounds.iter() {
                let bound = match bound {
                    Val::Null => None,
                    Val::Num(n) => match int_of(n) {
                        Int::Fits(i) => Some(i),
                        // Slicing clamps out-of-range bounds anyway.
                        Int::Below => Some(isize::MIN),
                        Int::Above => Some(isize::MAX),
                        Int::Fraction => return None,
                    },
                    _ => return None,
                };
                match key {
                    Val::TStr(k) if &k[..] == b"start" => start = bound,
                    Val::TStr(k) if &k[..] == b"end" => end = bound,
                    _ => return None,
                }
            }
            Some(Elem::Slice(start, end))
        }
        _ => None,
    }
}

/// A number used as a path index or slice bound.
enum Int {
    Fits(isize),
    /// An integer (or infinity) below `isize::MIN`.
    Below,
    /// An integer (or infinity) above `isize::MAX`.
    Above,
    /// A fraction or NaN.
    Fraction,
}

fn int_of(n: &Num) -> Int {
    let float = match n {
        Num::Int(i) => return Int::Fits(*i),
        Num::BigInt(_) => {
            return match n.as_isize() {
                Some(i) => Int::Fits(i),
                None if *n < Num::Int(0) => Int::Below,
                None => Int::Above,
            };
        }
        Num::Float(f) => *f,
        Num::Dec(text) => text.parse::<f64>().unwrap_or(f64::NAN),
    };
    // `isize::MIN` is a power of two, so it and its negation are exact.
    let min = isize::MIN as f64;
    if float.is_nan() || (float.is_finite() && float.fract() != 0.0) {
        Int::Fraction
    } else if float < min {
        Int::Below
    } else if float >= -min {
        Int::Above
    } else {
        // In range and integral, so the conversion is exact.
        Int::Fits(float as isize)
    }
}

/// Resolves jaq path elements against the input, appending every existing
/// location to `found`. `view` is the `[lo, hi)` window of a pending slice of
/// the current array. Absent locations are skipped silently.
fn resolve(
    current: &Value,
    view: Option<(usize, usize)>,
    rest: &[Elem<'_>],
    prefix: &mut Vec<PathToken>,
    found: &mut Vec<Vec<PathToken>>,
) {
    let Some((first, rest)) = rest.split_first() else {
        match view {
            Some((lo, hi)) => found.extend((lo..hi).map(|i| {
                let mut path = prefix.clone();
                path.push(PathToken::Index(i));
                path
            })),
            None => found.push(prefix.clone()),
        }
        return;
    };
    match (first, current) {
        (Elem::Key(key), Value::Object(members)) if view.is_none() => {
            if let Some(child) = members.get(*key) {
                prefix.push(PathToken::Key((*key).to_owned()));
                resolve(child, None, rest, prefix, found);
                prefix.pop();
            }
        }
        (Elem::Index(index), Value::Array(items)) => {
            let (lo, hi) = view.unwrap_or((0, items.len()));
            let len = hi - lo;
            let offset = if *index < 0 { len.checked_sub(index.unsigned_abs()) } else { Some(index.unsigned_abs()) };
            if let Some(i) = offset.filter(|i| *i < len).map(|i| lo + i)
                && let Some(child) = items.get(i)
            {
                prefix.push(PathToken::Index(i));
                resolve(child, None, rest, prefix, found);
                prefix.pop();
            }
        }
        (Elem::Slice(start, end), Value::Array(items)) => {
            let (lo, hi) = view.unwrap_or((0, items.len()));
            let len = hi - lo;
            let clamp = |bound: Option<isize>, default: usize| match bound {
                None => default,
                Some(b) if b < 0 => len.saturating_sub(b.unsigned_abs()),
                Some(b) => b.unsigned_abs().min(len),
            };
            let from = clamp(*start, 0);
            let to = clamp(*end, len).max(from);
            resolve(current, Some((lo + from, lo + to)), rest, prefix, found);
        }
        // Keys of arrays, indices of objects, anything below a scalar,
        // absent elements and slices of strings: nothing there to delete.
        _ => {}
    }
}

/// The first `max` characters of a runtime error's message (plus `…`), rendered without
/// walking the rest of the value it may embed.
fn display_error(value: &jaq_core::Error<Val>, max: usize) -> String {
    struct Bounded {
        out: String,
        left: usize,
    }
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for c in s.chars() {
                if self.left == 0 {
                    self.out.push('…');
                    // Stops the rendering of the rest of the value.
                    return Err(std::fmt::Error);
                }
                self.out.push(c);
                self.left -= 1;
            }
            Ok(())
        }
    }
    let mut bounded = Bounded { out: String::new(), left: max };
    // An error only means the value was cut.
    let _ = std::fmt::Write::write_fmt(&mut bounded, format_args!("{value}"));
    bounded.out
}

/// Counts `value` against `budget` (one unit per value plus one per 16 bytes
/// of string), giving up as soon as it is exhausted, so checking a huge
/// shared structure costs no more than the budget.
fn value_fits(value: &Val, budget: &mut usize, depth: usize) -> bool {
    if depth > MAX_BUILT_DEPTH {
        return false;
    }
    let cost = match value {
        Val::TStr(bytes) | Val::BStr(bytes) => 1 + bytes.len() / 16,
        _ => 1,
    };
    let Some(left) = budget.checked_sub(cost) else {
        return false;
    };
    *budget = left;
    match value {
        Val::Arr(items) => items.iter().all(|item| value_fits(item, budget, depth + 1)),
        Val::Obj(members) => {
            members.iter().all(|(k, v)| value_fits(k, budget, depth + 1) && value_fits(v, budget, depth + 1))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BUDGET: Duration = Duration::from_secs(1);

    fn key(k: &str) -> PathToken {
        PathToken::Key(k.to_owned())
    }

    fn idx(i: usize) -> PathToken {
        PathToken::Index(i)
    }

    fn paths(expr: &str, value: &Value) -> Vec<Vec<PathToken>> {
        JqPathExpr::compile(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .paths(value, BUDGET)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn compile_err(expr: &str) -> JqError {
        match JqPathExpr::compile(expr) {
            Ok(_) => panic!("{expr} compiled"),
            Err(e) => e,
        }
    }

    fn eval_err(expr: &str, value: &Value) -> JqError {
        match JqPathExpr::compile(expr).unwrap().paths(value, BUDGET) {
            Ok(found) => panic!("{expr} succeeded with {found:?}"),
            Err(e) => e,
        }
    }

    fn assert_not_allowed(expr: &str, needle: &str) {
        match compile_err(expr) {
            JqError::NotAllowed { construct, .. } => {
                assert!(construct.contains(needle), "{expr}: {construct}")
            }
            other => panic!("{expr}: expected NotAllowed, got {other:?}"),
        }
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "labels": {"app": "web"},
                "annotations": {"example.com/a~b": "1", "plain": "2"}
            },
            "spec": {
                "replicas": 3,
                "template": {"spec": {
                    "containers": [
                        {"name": "app", "image": "nginx:1"},
                        {"name": "sidecar", "image": "istio/proxy:1"},
                        {"name": "sidecar-2", "image": "istio/proxy:1"}
                    ]
                }}
            }
        })
    }

    #[test]
    fn simple_pointer() {
        assert_eq!(
            paths(".metadata.labels.app", &deployment()),
            vec![vec![key("metadata"), key("labels"), key("app")]]
        );
        assert_eq!(paths(".spec.replicas", &deployment()), vec![vec![key("spec"), key("replicas")]]);
        assert_eq!(paths(".", &deployment()), vec![Vec::<PathToken>::new()]);
    }

    #[test]
    fn iteration_with_select() {
        let containers = vec![key("spec"), key("template"), key("spec"), key("containers")];
        let at = |i| {
            let mut p = containers.clone();
            p.push(idx(i));
            p
        };
        let expr = r#".spec.template.spec.containers[] | select(.name == "sidecar")"#;
        assert_eq!(paths(expr, &deployment()), vec![at(1)]);
        let expr = r#".spec.template.spec.containers[] | select(.name | startswith("sidecar"))"#;
        assert_eq!(paths(expr, &deployment()), vec![at(1), at(2)]);
        let expr = r#".spec.template.spec.containers[] | select(.image | contains("istio")) | .image"#;
        let mut image = at(2);
        image.push(key("image"));
        assert_eq!(paths(expr, &deployment())[1], image);
    }

    #[test]
    fn keys_with_slash_and_tilde() {
        let want = vec![vec![key("metadata"), key("annotations"), key("example.com/a~b")]];
        assert_eq!(paths(r#".metadata.annotations["example.com/a~b"]"#, &deployment()), want);
        assert_eq!(paths(r#".metadata.annotations."example.com/a~b""#, &deployment()), want);
        let v = json!({"a\"b": 1, "é\n": 2});
        assert_eq!(paths(r#".["a\"b"]"#, &v), vec![vec![key("a\"b")]]);
        assert_eq!(paths(r#".["\u00e9\n"]"#, &v), vec![vec![key("é\n")]]);
    }

    #[test]
    fn no_match_is_empty() {
        let expr = r#".spec.template.spec.containers[] | select(.name == "nope")"#;
        assert!(paths(expr, &deployment()).is_empty());
        assert!(paths(".metadata.labels.nope", &deployment()).is_empty());
        assert!(paths(".spec.template.spec.containers[7]", &deployment()).is_empty());
    }

    #[test]
    fn missing_intermediate_is_empty_not_error() {
        assert!(paths(".spec.foo.bar", &deployment()).is_empty());
        let expr = r#".spec.template.spec.initContainers[] | select(.name == "istio-init")"#;
        assert!(paths(expr, &deployment()).is_empty());
        assert!(paths(".spec.foo[].bar[1:]", &deployment()).is_empty());
        assert!(paths(".a[]", &json!({"a": null})).is_empty());
    }

    #[test]
    fn type_errors_are_eval_errors() {
        match eval_err(".spec.replicas.x", &deployment()) {
            JqError::Eval { reason, expr } => {
                assert_eq!(reason, EvalFailure::Raised);
                assert_eq!(expr, ".spec.replicas.x");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(eval_err(".metadata.name[]", &deployment()), JqError::Eval { .. }));
        match eval_err(r#"error("custom failure")"#, &json!({})) {
            JqError::Eval { reason, .. } => assert_eq!(reason, EvalFailure::Raised),
            other => panic!("{other:?}"),
        }
        // jaq's own message is recognised, a user's look-alike is just an error.
        match eval_err(".metadata.labels | to_entries", &deployment()) {
            JqError::Eval { reason, .. } => assert_eq!(reason, EvalFailure::NotAPath),
            other => panic!("{other:?}"),
        }
        match eval_err(r#"error("invalid path expression with input x")"#, &json!({})) {
            JqError::Eval { reason, .. } => assert_eq!(reason, EvalFailure::Raised),
            other => panic!("{other:?}"),
        }
        // Optional access swallows the error.
        assert!(paths(".spec.replicas.x?", &deployment()).is_empty());
        assert!(paths(".metadata.name[]?", &deployment()).is_empty());
    }

    #[test]
    fn duplicates_are_removed_and_order_is_stable() {
        let expr = ".metadata.name, .metadata.name, (.metadata | select(true) | .name), .kind";
        assert_eq!(paths(expr, &deployment()), vec![vec![key("kind")], vec![key("metadata"), key("name")]]);
        let v = json!([[1]]);
        assert_eq!(paths("..|..", &v), vec![vec![], vec![idx(0)], vec![idx(0), idx(0)]]);
    }

    #[test]
    fn indices_and_slices_resolve_to_positions() {
        let v = json!({"a": [10, 11, 12, 13]});
        let a = |i| vec![key("a"), idx(i)];
        assert_eq!(paths(".a[-1]", &v), vec![a(3)]);
        assert_eq!(paths(".a[1:]", &v), vec![a(1), a(2), a(3)]);
        assert_eq!(paths(".a[1:3]", &v), vec![a(1), a(2)]);
        assert_eq!(paths(".a[:-3]", &v), vec![a(0)]);
        assert_eq!(paths(".a[1:][1]", &v), vec![a(2)]);
        assert_eq!(paths(".a[1:][1:][-1]", &v), vec![a(3)]);
        assert_eq!(paths(".a[-9]", &v), Vec::<Vec<PathToken>>::new());
        assert_eq!(paths(".a[3:1]", &v), Vec::<Vec<PathToken>>::new());
        assert_eq!(paths("first(.a[])", &v), vec![a(0)]);
        assert_eq!(paths(".a | last", &v), vec![a(3)]);
        assert_eq!(paths("limit(2; .a[])", &v), vec![a(0), a(1)]);
        assert_eq!(paths(r#"getpath(["a", 2])"#, &v), vec![a(2)]);
    }

    #[test]
    fn input_dependent_indices_and_bindings() {
        let v = json!({"a": [10, 11, 12], "i": 1, "k": "a"});
        assert_eq!(paths(".a[.i]", &v), vec![vec![key("a"), idx(1)]]);
        assert_eq!(paths(".[.k][.i:]", &v), vec![vec![key("a"), idx(1)], vec![key("a"), idx(2)]]);
        assert_eq!(paths(".i as $n | .a[$n]", &v), vec![vec![key("a"), idx(1)]]);
        assert_eq!(paths(".a | to_entries as [$x, $y] | .[$y.key]", &v), vec![vec![key("a"), idx(1)]]);
        assert_eq!(paths(".[\"\\(.k)\"]", &v), vec![vec![key("a")]]);
    }

    #[test]
    fn control_flow_constructs() {
        let v = json!({"a": {"x": 1}, "b": null, "c": [1, "s", null]});
        assert_eq!(paths("if .a.x == 1 then .a.x else .b end", &v), vec![vec![key("a"), key("x")]]);
        assert_eq!(paths(".b // .a", &v), vec![vec![key("a")]]);
        assert_eq!(paths("try .a.x.y", &v), Vec::<Vec<PathToken>>::new());
        assert_eq!(paths("(.a.x.y)?, .b", &v), vec![vec![key("b")]]);
        assert_eq!(paths(".c[] | strings", &v), vec![vec![key("c"), idx(1)]]);
        assert_eq!(paths(".c[] | values", &v), vec![vec![key("c"), idx(0)], vec![key("c"), idx(1)]]);
        assert_eq!(
            paths(".c[] | select(type == \"number\" or . == null)", &v),
            vec![vec![key("c"), idx(0)], vec![key("c"), idx(2)]]
        );
        assert_eq!(
            paths(r#".[] | select(has("x") and (keys | length) == 1)"#, &json!({"p": {"x": 1}, "q": {}})),
            vec![vec![key("p")]]
        );
        assert_eq!(paths(".a | select({n: .x, m: [.x, -.x]} | .m[1] == -1)", &v), vec![vec![key("a")]]);
        assert_eq!(paths("..|numbers", &v).len(), 2);
    }

    #[test]
    fn every_allowed_function_compiles() {
        for (name, arity) in ALLOWED_FUNCTIONS {
            let args: Vec<&str> = vec!["."; *arity];
            let expr = if args.is_empty() { (*name).to_owned() } else { format!("{name}({})", args.join("; ")) };
            if let Err(e) = JqPathExpr::compile(&expr) {
                panic!("{expr}: {e}");
            }
        }
    }

    #[test]
    fn parse_errors_name_a_position() {
        match compile_err(".spec.template[") {
            JqError::Parse { expr, message } => {
                assert_eq!(expr, ".spec.template[");
                assert!(message.contains("closing bracket"), "{message}");
                assert!(message.contains("end of the expression"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match compile_err(".a | | .b") {
            JqError::Parse { message, .. } => {
                assert!(message.contains("column 6"), "{message}");
                assert!(message.contains("near `| .b`"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(compile_err(""), JqError::Parse { .. }));
        assert!(matches!(compile_err(".a ]"), JqError::Parse { .. }));
        assert!(matches!(compile_err("\"\\q\""), JqError::Parse { .. }));
        // Display names the expression.
        let text = compile_err(".a | | .b").to_string();
        assert!(text.contains("`.a | | .b`"), "{text}");
    }

    #[test]
    fn compile_errors_for_undefined_names() {
        match compile_err("nosuchfn(1)") {
            JqError::Compile { message, .. } => {
                assert!(message.contains("nosuchfn/1"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        match compile_err(".a[$missing]") {
            JqError::Compile { message, .. } => assert!(message.contains("$missing"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(compile_err("select(.a; .b)"), JqError::Compile { .. }));
    }

    #[test]
    fn rejected_constructs() {
        assert_not_allowed("def f: .; f", "`def` is not allowed in ignoreDifferences expressions");
        assert_not_allowed("reduce .[] as $x (0; . + $x)", "`reduce` is not allowed");
        assert_not_allowed("foreach .[] as $x (0; . + 1)", "`foreach` is not allowed");
        assert_not_allowed("label $out | .a", "`label` is not allowed");
        assert_not_allowed("range(10)", "function `range/1` is not allowed");
        assert_not_allowed("repeat(.)", "function `repeat/1` is not allowed");
        assert_not_allowed("while(true; .)", "function `while/2` is not allowed");
        assert_not_allowed("until(true; .)", "function `until/2` is not allowed");
        assert_not_allowed("recurse(.[])", "function `recurse/1` is not allowed");
        assert_not_allowed("recurse(.[]; true)", "function `recurse/2` is not allowed");
        assert_not_allowed("env", "function `env/0` is not allowed");
        assert_not_allowed("input", "function `input/0` is not allowed");
        assert_not_allowed("$ENV.HOME", "`$ENV` is not allowed");
        assert_not_allowed("$__loc__", "`$__loc__` is not allowed");
        assert_not_allowed(". as $__h0 | .", "reserved");
        assert_not_allowed(".a |= 1", "`|=`");
        assert_not_allowed(".a += 1", "`+=`");
        assert_not_allowed(r#".a * 1000000000000"#, "`*`");
        assert_not_allowed(r#"@base64 "x""#, "format string");
        assert_not_allowed("@base64", "`@base64/0`");
        assert_not_allowed("del(.a)", "write the path expression itself");
        assert_not_allowed(r#"select(.name | test("^istio"))"#, "regular expressions");
        assert_not_allowed(r#".[] | limit(1; range(1e12))"#, "`range/1`");
        assert_not_allowed("with_entries(.)", "`with_entries/1` is not allowed");
        // The printer's helpers are not reachable from user code.
        assert!(matches!(compile_err("__t(.)"), JqError::Compile { .. }));
        assert!(matches!(compile_err("__nn"), JqError::Compile { .. }));
    }

    #[test]
    fn too_long() {
        let expr = format!(".a{}", " ".repeat(MAX_EXPR_LEN));
        match compile_err(&expr) {
            JqError::TooLong { expr: shown, len } => {
                assert_eq!(len, MAX_EXPR_LEN + 2);
                assert!(shown.chars().count() <= TOO_LONG_EXCERPT_CHARS + 1);
            }
            other => panic!("{other:?}"),
        }
        // Exactly at the limit is fine.
        let expr = format!(".a{}", " ".repeat(MAX_EXPR_LEN - 2));
        assert!(JqPathExpr::compile(&expr).is_ok());
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflowing_the_stack() {
        // Run on a small stack: this is what protects callers' threads.
        let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
            for expr in [
                format!("{}.{}", "(".repeat(2000), ")".repeat(2000)),
                format!("{}.{}", "[".repeat(2000), "]".repeat(2000)),
                format!("{}1", "-".repeat(4000)),
                format!("{}.", "try ".repeat(1000)),
                format!("{}.", ". as $x | ".repeat(400)),
                format!("\"{}\"", "\\(\"".repeat(1000)),
                format!("{}.", ".|".repeat(2000)),
                format!("{}.", ".,".repeat(2000)),
                ".a".repeat(2000),
            ] {
                assert!(JqPathExpr::compile(&expr).is_err(), "{}", excerpt(&expr, 30));
            }
            // The deepest accepted expressions compile and run.
            let value = json!({"a": null});
            let pipes = format!("{}.", ". | ".repeat(MAX_AST_DEPTH));
            let commas = format!("{}.a", ".a, ".repeat(MAX_AST_DEPTH - 1));
            let parens = format!("{}.a{}", "(".repeat(MAX_SOURCE_NESTING - 1), ")".repeat(MAX_SOURCE_NESTING - 1));
            let parts = ".a".repeat(MAX_PATH_PARTS);
            for expr in [pipes, commas, parens, parts] {
                let compiled = JqPathExpr::compile(&expr).unwrap_or_else(|e| panic!("{}: {e}", excerpt(&expr, 30)));
                compiled.paths(&value, BUDGET).unwrap();
            }
        });
        worker.unwrap().join().unwrap();
    }

    #[test]
    fn deep_input_is_an_error_not_a_crash() {
        let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
            let mut ok = json!(1);
            for _ in 0..MAX_INPUT_DEPTH {
                ok = json!([ok]);
            }
            let found = JqPathExpr::compile("..").unwrap().paths(&ok, BUDGET).unwrap();
            assert_eq!(found.len(), MAX_INPUT_DEPTH + 1);
            // Nested recursion multiplies neither the stack nor ends in a crash.
            let nested = JqPathExpr::compile(".. | .. | .. | select(false)").unwrap();
            let result = nested.paths(&ok, Duration::from_millis(200));
            assert!(matches!(result, Ok(_) | Err(JqError::Timeout { .. })), "{result:?}");
            let mut wide = json!({"k": 1});
            for i in 0..MAX_INPUT_DEPTH - 3 {
                wide = json!({"k": wide, "v": [i, {"x": i}]});
            }
            let result = nested.paths(&wide, Duration::from_millis(200));
            assert!(matches!(result, Ok(_) | Err(JqError::Timeout { .. })), "{result:?}");
            let too_deep = json!([ok]);
            let err = JqPathExpr::compile("..").unwrap().paths(&too_deep, BUDGET).unwrap_err();
            assert!(matches!(err, JqError::Eval { .. }), "{err:?}");
        });
        worker.unwrap().join().unwrap();
    }

    fn container(name: &str, image: &str) -> Value {
        json!({
            "name": name,
            "image": image,
            "args": ["--port=8080", "--metrics"],
            "ports": [
                {"containerPort": 8080, "name": "http"},
                {"containerPort": 9090, "name": "metrics"}
            ],
            "env": (0..6)
                .map(|i| json!({"name": format!("ENV_{i}"), "value": format!("value-{i}")}))
                .collect::<Vec<_>>(),
            "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}
        })
    }

    fn rich_deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "labels": {"app": "web", "team": "platform"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "a/b": "c"},
                "managedFields": [{"manager": "argocd-controller", "fieldsV1": {"f:spec": {}}}]
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}, "annotations": {"x": "y"}},
                    "spec": {
                        "containers": [
                            container("app", "nginx:1.25"),
                            container("sidecar", "istio/proxyv2:1.20"),
                            container("logger", "fluent-bit:2")
                        ],
                        "initContainers": [container("istio-init", "istio/proxyv2:1.20")],
                        "volumes": [{"name": "config", "configMap": {"name": "c"}}, {"name": "data", "emptyDir": {}}]
                    }
                }
            },
            "status": {"conditions": [
                {"type": "Available", "status": "True", "lastTransitionTime": "t1"},
                {"type": "Progressing", "status": "False", "lastTransitionTime": "t2"}
            ]}
        })
    }

    /// Evaluating on the observed part of the input must give exactly what
    /// evaluating on the whole input gives.
    #[test]
    fn observed_input_matches_full_input() {
        let exprs = [
            r#".spec.template.spec.containers[] | select(.name == "sidecar")"#,
            r#".spec.template.spec.containers[].env[]? | select(.name | startswith("ENV_1"))"#,
            r#".metadata.annotations | keys"#,
            r#".spec.template.spec.containers[] | select(.ports | length > 1) | .ports[0]"#,
            r#".spec.template.spec.containers[] | select(has("env")) | .image"#,
            r#".spec.template.spec.containers[0:2][] | .name"#,
            r#"first(.spec.template.spec.containers[] | select(.name != "app"))"#,
            r#".spec.template.spec.containers[] | select(.resources.limits.cpu == "500m") | .resources.limits"#,
            r#".spec.template.spec | .containers[], .initContainers[]? | select(.image | contains("istio"))"#,
            r#".metadata.labels["app"], .metadata.labels.team, .metadata.labels.nope"#,
            r#".spec.replicas | select(. > 1)"#,
            r#".spec.selector.matchLabels | to_entries"#,
            r#".metadata.name.x"#,
            r#".metadata.name.x?"#,
            r#".status.conditions[] | select(.type == "Available" and .status == "True") | .lastTransitionTime"#,
            r#".spec.template.spec.containers[] | if .name == "app" then .image else .args[0] end"#,
            r#".spec.template.spec.containers[] | .env // .args"#,
            r#".spec.template.spec.containers[] | .nope // .args"#,
            r#".spec.template.spec.containers[] | (.env[] | select(.value == "value-3")) // empty"#,
            r#".spec.template.spec.containers[.spec.replicas - 2]"#,
            r#".spec.template.spec.containers[] | select(.name as $n | $n == "app")"#,
            r#".spec.template.spec.containers[] | . as $c | .ports[] | select(.containerPort == 9090 and $c.name == "sidecar")"#,
            r#"(.metadata, .spec.template.metadata) | .annotations[]?"#,
            r#".spec.template.spec.containers[] | select(.livenessProbe.httpGet.port == 8080) | .livenessProbe"#,
            r#".spec.template.spec.containers[] | select(tojson | contains("fluent"))"#,
            r#"try error("x")"#,
            r#"error"#,
            r#".spec.template.spec.volumes[] | select(.emptyDir) | .emptyDir"#,
            r#".. | select(type == "string" and startswith("istio"))"#,
            r#".spec.template.spec.containers[-1].name"#,
            r#".spec.template.spec.containers | last | .image"#,
            r#".spec.template.spec.containers | first, nth(1)"#,
            r#".spec.template.spec.containers[] | select(.args | any(. == "--metrics"))"#,
            r#".spec.template.spec.containers[] | select(.name == "sidecar") | .env[] | select(.name == "ENV_2")"#,
            r#".metadata.managedFields[]? | select(.manager == "argocd-controller") | .fieldsV1"#,
            r#".spec | .template.spec.containers[] | .name"#,
            r#".spec.template.spec.containers[] | select(.name == ("side" + "car"))"#,
            r#".spec.template.spec.containers[] | select(.image | startswith("\(.name)"))"#,
            r#".spec.template.spec.containers[] | select(.ports | map(.containerPort) | contains([9090]))"#,
            r#".spec.template.spec.containers[] | select(.ports[]?.name == "metrics")"#,
            r#"limit(1; .spec.template.spec.containers[] | select(.name | endswith("r")))"#,
            r#".spec.template.spec.containers[] | select(.env | length > 5) | .env[1:3][]"#,
            r#"if .kind == "Deployment" then .spec.replicas else empty end"#,
            r#".spec.template.spec.containers[] | {n: .name} | .n"#,
            r#".spec.template.spec.containers[] | select({n: .name}.n == "app")"#,
            r#".spec.template.spec.containers[] | select([.name, .image] | inside(["app", "nginx:1.25"]))"#,
            r#".spec.template.spec.containers[] | select(.name | in({"app": 1}))"#,
            r#".spec.template.spec.containers[] | objects | .name"#,
            r#".spec.template.spec.containers[] | strings"#,
            r#".spec.template.spec.containers[] | select(keys | contains(["env"])) | .env"#,
            r#"getpath(["spec", "replicas"])"#,
            r#".spec.template.spec.containers[] | .resources | .limits, .requests | .cpu"#,
            r#".spec.template.spec.containers[] | select(try (.name | error) catch (. == "app"))"#,
            r#".spec.template.spec.containers[] | select(.name | . as [$x] | true)?"#,
            r#".spec.template.spec.containers[] | select(. as {name: $n} | $n == "logger")"#,
            r#".spec.template.spec.containers[] | select(.name | length == 3)"#,
            r#".spec.template.spec.containers[][]"#,
            r#".spec.template.spec.containers[].ports[1:][].name"#,
            r#".metadata.annotations["a/b"], .metadata.annotations."kubectl.kubernetes.io/last-applied-configuration""#,
            r#"(.spec.template.spec.containers[] | select(.name == "app")), .metadata.name"#,
            r#".spec.template.spec.containers[] | select(.name == "app") | .. | numbers"#,
            r#".spec.template.spec.containers[] | .env[] | .name, .value | select(startswith("v"))"#,
            r#"., .spec"#,
            r#"empty"#,
            r#".spec.template.spec.containers[] | select(.name == "app" or .image == "fluent-bit:2").ports[]"#,
        ];
        let mut broken = rich_deployment();
        broken["spec"]["template"]["spec"]["containers"] = json!("not-a-list");
        broken["spec"]["template"]["spec"]["initContainers"] = Value::Null;
        broken["metadata"]["name"] = json!({"x": 1});
        let mut sparse = rich_deployment();
        sparse["spec"]["template"]["spec"]["containers"][1] = json!(7);
        sparse["spec"]["template"]["spec"]["containers"][2]["env"] = json!({"ENV_0": "x"});
        let inputs = [
            ("deployment", rich_deployment()),
            ("broken", broken),
            ("sparse", sparse),
            ("{}", json!({})),
            ("[]", json!([])),
            ("5", json!(5)),
            ("null", Value::Null),
        ];
        let mut compared = 0;
        for expr in exprs {
            let observed = JqPathExpr::compile(expr).unwrap_or_else(|e| panic!("{e}"));
            let mut full = JqPathExpr::compile(expr).unwrap();
            full.reads = None;
            for (name, input) in &inputs {
                let a = observed.paths(input, BUDGET);
                let b = full.paths(input, BUDGET);
                match (&a, &b) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{expr} on {name}"),
                    (Err(JqError::Eval { .. }), Err(JqError::Eval { .. })) => {}
                    _ => panic!("{expr} on {name}: {a:?} vs {b:?}"),
                }
                compared += 1;
            }
        }
        assert_eq!(compared, exprs.len() * inputs.len());
        // The common rule converts a sliver of the object.
        let rule = JqPathExpr::compile(r#".spec.template.spec.containers[] | select(.name == "sidecar")"#).unwrap();
        let trie = rule.reads.as_ref().unwrap();
        let converted = Converter::default().observed(&rich_deployment(), &[trie], 0).unwrap().to_string();
        assert_eq!(
            converted,
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"app"},{"name":"sidecar"},{"name":"logger"}]}}}}"#
        );
    }

    fn big_object() -> Value {
        let items: Vec<Value> =
            (0..400).map(|i| json!({"name": format!("item-{i}"), "tags": [i, i + 1, {"k": i}]})).collect();
        json!({"items": items})
    }

    #[test]
    fn timeout_with_outputs() {
        let expr = JqPathExpr::compile(".. | .. | .. | ..").unwrap();
        let started = Instant::now();
        let result = expr.paths(&big_object(), Duration::from_millis(1));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        match result {
            Err(JqError::Timeout { budget, expr }) => {
                assert_eq!(budget, Duration::from_millis(1));
                assert_eq!(expr, ".. | .. | .. | ..");
            }
            other => panic!("expected a timeout, got {:?}", other.map(|p| p.len())),
        }
    }

    #[test]
    fn timeout_without_outputs() {
        // Nothing reaches the top-level iterator, so only the ticks can stop
        // it; `?` must not swallow the timeout either.
        for expr in [
            ".. | .. | .. | select(false)",
            "(.. | .. | .. | select(false))?",
            "select(any(.. | .. | ..; . == \"never\"))",
            "select([.. | .. | ..] | length == 0)",
            "select(((.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)) | false)",
        ] {
            let compiled = JqPathExpr::compile(expr).unwrap();
            let started = Instant::now();
            let result = compiled.paths(&big_object(), Duration::from_millis(5));
            assert!(started.elapsed() < Duration::from_secs(2), "{expr}: {:?}", started.elapsed());
            assert!(matches!(result, Err(JqError::Timeout { .. })), "{expr}: {result:?}");
        }
    }

    #[test]
    fn values_that_double_at_each_step_are_stopped() {
        let doubling = |step: &str| vec![step; 40].join(" | ");
        let exprs = [
            format!("select(({0}) == ({0}))", doubling("[., .]")),
            format!("select(({}) | tojson | length > 0)", doubling("{a: ., b: .}")),
            format!("select((\"\\\\\" | {}) | length > 0)", doubling("tojson")),
            format!("select((\"ab\" | {}) | length > 0)", doubling("(. + .)")),
            format!("select(({}) | length > 0)", doubling("\"\\(.)\\(.)\"")),
            format!("select(({}) | length > 0)", doubling("map([., .])")),
            format!("error({})", doubling("[., .]")),
            // Catching the error does not hide it.
            format!("select(try (({}) | length > 0) catch true)", doubling("[., .]")),
        ];
        for expr in &exprs {
            let compiled = JqPathExpr::compile(expr).unwrap_or_else(|e| panic!("{e}"));
            let started = Instant::now();
            let result = compiled.paths(&deployment(), BUDGET);
            assert!(started.elapsed() < Duration::from_secs(2), "{expr}: {:?}", started.elapsed());
            match result {
                Err(JqError::Eval { reason, .. }) => assert_eq!(reason, EvalFailure::TooLarge, "{expr}"),
                other => panic!("{expr}: {other:?}"),
            }
        }
        // Ordinary constructions stay well within the limit.
        // `contains` on strings is a substring test, so `sidecar-2` matches too.
        let expr = r#".spec.template.spec.containers[] | select([.name, .image] | contains(["sidecar"]))"#;
        assert_eq!(paths(expr, &deployment()).len(), 2);
        assert_eq!(paths("select([..] | length > 10)", &deployment()).len(), 1);
    }

    /// Runtime errors embed the value they were raised with or choked on; none of that may
    /// reach a message, whatever the expression does with the object.
    #[test]
    fn runtime_errors_never_carry_values_of_the_object() {
        let secret = "s3cr3t-Pa55w0rd";
        let object = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": secret, "n": 1.5}, "list": [secret],
        });
        let exprs = [
            "error(.data.password)",
            ".data.password | error",
            "tostring | error",
            ".data | keys | .[]",
            ".data.password | .x",
            ".data.password[]",
            ".data.password | tojson",
            ".[.data.password]",
            ".list[.data.n]",
            ".data.password + 1",
            "try error(.data.password) catch error",
            "error({a: .data.password})",
            ".data | to_entries",
            "getpath([.data.password, 1.5])",
        ];
        let mut failed = 0;
        for expr in exprs {
            let compiled = JqPathExpr::compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            let Err(err) = compiled.paths(&object, BUDGET) else { continue };
            failed += 1;
            let text = err.to_string();
            assert!(!text.contains(secret) && !text.contains("5w0rd"), "{expr}: {text}");
            assert!(text.starts_with(&format!("jq expression `{expr}` failed: ")), "{text}");
        }
        assert!(failed >= exprs.len() - 2, "only {failed} of the expressions failed");
    }

    #[test]
    fn odds_and_ends() {
        let d = deployment();
        assert_eq!(
            paths(".metadata.name # the name\n, .kind # and the kind", &d),
            vec![vec![key("kind")], vec![key("metadata"), key("name")]]
        );
        assert_eq!(
            paths(".metadata | select({name} == {name: \"web\"}) | .labels", &d),
            vec![vec![key("metadata"), key("labels")]]
        );
        assert_eq!(
            paths(".metadata.name as $n | .metadata | select({$n}.n == \"web\") | .name", &d),
            vec![vec![key("metadata"), key("name")]]
        );
        let v = json!({"a": [1, 2], "ключ": {"ü": true}});
        assert_eq!(paths(r#".["ключ"]."ü""#, &v), vec![vec![key("ключ"), key("ü")]]);
        assert!(matches!(compile_err(".ключ"), JqError::Parse { .. }));
        // jaq refuses huge float indices (jq would give null); huge integers
        // simply select nothing.
        assert!(matches!(eval_err(".a[1e30]", &v), JqError::Eval { .. }));
        assert!(paths(".a[100000000000000000000000]", &v).is_empty());
        assert!(matches!(eval_err(".a[1.0]", &v), JqError::Eval { .. }));
        assert!(matches!(eval_err(".a[-1e30:]", &v), JqError::Eval { .. }));
        assert_eq!(paths(".a[-100:]", &v).len(), 2);
        assert!(matches!(eval_err(".a[1.5]", &v), JqError::Eval { .. }));
        // A zero budget still reports a timeout rather than partial results.
        let result = JqPathExpr::compile(".a").unwrap().paths(&v, Duration::ZERO);
        assert!(matches!(result, Err(JqError::Timeout { .. })), "{result:?}");
    }

    /// Token soup must never panic, in our code or in jaq's.
    #[test]
    fn arbitrary_token_sequences_do_not_panic() {
        const TOKENS: &[&str] = &[
            ".", "..", ".a", ".[", "]", "[", "(", ")", "{", "}", "|", ",", "?", ":", ";", "as", "$x", "$__loc__", "if",
            "then", "elif", "else", "end", "try", "catch", "-", "+", "*", "==", "//", "and", "not", "select(", "\"s\"",
            "\"\\(", "1", "-1", "1.5", "1e400", "def", "f:", "reduce", "label", "@base64", "length", "keys", "first(",
            "limit(", "getpath(", "#", "\n", "\"", "\\", "[]", "{}", ".[]?", "$ENV", "..[]",
        ];
        let input = rich_deployment();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut compiled = 0;
        for _ in 0..3000 {
            let len = 1 + next() % 12;
            let expr: String =
                (0..len).map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize]).collect::<Vec<_>>().join(" ");
            let result = JqPathExpr::compile(&expr).and_then(|e| {
                compiled += 1;
                e.paths(&input, Duration::from_millis(50))
            });
            if let Err(e) = result {
                assert!(!e.to_string().contains("internal error"), "{expr}: {e}");
            }
        }
        assert!(compiled > 50, "only {compiled} expressions compiled");
    }

    #[test]
    fn generous_budget_finishes() {
        let found = JqPathExpr::compile("..").unwrap().paths(&big_object(), Duration::MAX).unwrap();
        // Root, `items`, and per item: itself, `name`, `tags`, three tags, `k`.
        assert_eq!(found.len(), 2 + 400 * 7);
    }

    #[test]
    fn compiled_expression_is_reusable_and_shareable() {
        let expr = std::sync::Arc::new(
            JqPathExpr::compile(r#".spec.template.spec.containers[] | select(.name == "sidecar")"#).unwrap(),
        );
        assert_eq!(expr.source(), r#".spec.template.spec.containers[] | select(.name == "sidecar")"#);
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let expr = expr.clone();
                std::thread::spawn(move || expr.paths(&deployment(), BUDGET).unwrap().len())
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), 1);
        }
        assert!(format!("{expr:?}").contains("containers"));
    }
}
