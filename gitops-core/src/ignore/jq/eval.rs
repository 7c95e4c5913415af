//! Evaluation: the per-run state shared with the deadline (`__t`) and size (`__sz`) natives,
//! and the bounds on what a run may build or report.

use std::cell::Cell;
use std::time::Instant;

use jaq_core::box_iter::box_once;
use jaq_core::data::{DataT, HasLut};
use jaq_core::{Bind, Exn, Native, PathsPtr, RunPtr};
use jaq_json::Val;

use super::error::EvalFailure;
use super::{Failure, MAX_BUILT_DEPTH, PATH_ERROR_PREFIX, TICKS_PER_CLOCK_CHECK};

/// Message of the error `__sz` raises on a value over the size limit. Like [`TIMEOUT_MARK`]
/// it is only seen by `catch` handlers: the run's `oversized` flag decides what we report.
pub(super) const OVERSIZED_MARK: &str = "ignoreDifferences jq size limit exceeded";

/// Message of the error `__t` raises once the deadline has passed. It is only
/// seen by `catch` handlers: the run's `expired` flag decides what we report.
pub(super) const TIMEOUT_MARK: &str = "ignoreDifferences jq time budget exceeded";

/// jaq data kind for our runs: values are [`Val`], and natives can reach the
/// per-run deadline state.
pub(super) struct PathData;

impl DataT for PathData {
    type V<'a> = Val;
    type Data<'a> = &'a RunState<'a>;
}

/// Per-evaluation state shared with the `__t` and `__sz` natives.
pub(super) struct RunState<'a> {
    pub(super) lut: &'a jaq_core::Lut<PathData>,
    pub(super) deadline: Option<Instant>,
    pub(super) ticks: Cell<u32>,
    pub(super) expired: Cell<bool>,
    /// Set once a built value exceeded `size_limit`; like `expired`, it
    /// outlives a `try` that catches the error.
    pub(super) oversized: Cell<bool>,
    /// Size units (see [`value_fits`]) a value built by the expression may
    /// have.
    pub(super) size_limit: usize,
}

impl<'a> HasLut<'a, PathData> for &'a RunState<'a> {
    fn lut(&self) -> &'a jaq_core::Lut<PathData> {
        self.lut
    }
}

impl RunState<'_> {
    pub(super) fn clock_expired(&self) -> bool {
        if let Some(deadline) = self.deadline
            && Instant::now() >= deadline
        {
            self.expired.set(true);
        }
        self.expired.get()
    }

    /// Counts one unit of work and fails once the deadline has passed.
    pub(super) fn tick<'e>(&self) -> Result<(), Exn<'e, Val>> {
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
    pub(super) fn check_size<'e>(&self, value: &Val) -> Result<(), Exn<'e, Val>> {
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
    pub(super) fn failure(&self, exn: Exn<'_, Val>) -> Failure {
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
pub(super) fn tick_native() -> jaq_core::native::Fun<PathData> {
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
pub(super) fn size_native() -> jaq_core::native::Fun<PathData> {
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

/// The first `max` characters of a runtime error's message (plus `…`), rendered without
/// walking the rest of the value it may embed.
pub(super) fn display_error(value: &jaq_core::Error<Val>, max: usize) -> String {
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
pub(super) fn value_fits(value: &Val, budget: &mut usize, depth: usize) -> bool {
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
