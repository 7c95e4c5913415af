//! Argo Rollouts, pure: what `kubectl argo rollouts get rollout` shows of a Rollout
//! ([`info`]), which bundled action each of the plugin's verbs is ([`verb_action`]), and the
//! step progression the Rollouts controller runs ([`progress`]).
//!
//! Facts kept from the plugin and the controller:
//! - The status word is the controller's `status.phase` (with its `status.message`) unless
//!   the spec is not observed yet (`waiting for rollout spec update to be observed`) or the
//!   pause conditions were cleared but the controller has not reacted (`waiting for rollout to
//!   unpause`); without a phase (controllers before 1.0) it is computed from conditions, pauses,
//!   replicas and the stable hash as the controller computes it.
//! - Icons: ✔ Healthy, ॥ Paused, ✖ Degraded, ◌ Progressing, ⚠ InvalidSpec/Error, ? Unknown,
//!   • ScaledDown; analysis runs ◷ Pending, ◌ Running, ✔ Successful, ✖ Failed, ⚠ Error,
//!   ? Inconclusive.
//! - The set weight is 0 once aborted, 100 past the last step (or without steps), else the
//!   last `setWeight` at or before the current step; the actual weight is the canary
//!   ReplicaSet's share of available replicas (the set weight with traffic routing).

pub mod info;
pub mod progress;

use serde_json::Value;

pub use info::{Info, info};

/// Why a Rollout cannot be shown or stepped through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The document is not a usable Rollout (names the field).
    #[error("Rollout/{name}: {problem}")]
    Rollout {
        /// The Rollout's name.
        name: String,
        /// What is wrong.
        problem: String,
    },
}

pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(Value::as_i64)
}

/// The canary steps of a Rollout (empty for blue-green or a canary without steps).
pub(crate) fn steps(rollout: &Value) -> &[Value] {
    at(rollout, &["spec", "strategy", "canary", "steps"]).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The index of the current canary step, if the Rollout is within its steps (the
/// controller's `GetCurrentCanaryStep`: `currentStepIndex`, 0 when unset).
pub fn current_step(rollout: &Value) -> Option<usize> {
    let steps = steps(rollout);
    if at(rollout, &["spec", "strategy", "canary"]).is_none() || steps.is_empty() {
        return None;
    }
    let index = int_at(rollout, &["status", "currentStepIndex"]).unwrap_or(0).max(0) as usize;
    (index < steps.len()).then_some(index)
}

/// The weight the canary is set to now (the controller's `GetCurrentSetWeight`).
pub fn set_weight(rollout: &Value) -> i64 {
    if at(rollout, &["status", "abort"]).and_then(Value::as_bool) == Some(true) {
        return 0;
    }
    let Some(index) = current_step(rollout) else { return 100 };
    steps(rollout)[..=index].iter().rev().find_map(|s| s.get("setWeight").and_then(Value::as_i64)).unwrap_or(0)
}

/// A verb of `kubectl argo rollouts` on a live Rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `promote`: resume a pause, or skip the step in progress (an analysis).
    Promote,
    /// `promote --full`: skip every remaining step and pause.
    PromoteFull,
    /// `abort`.
    Abort,
    /// `retry` (of an aborted rollout).
    Retry,
    /// `pause`.
    Pause,
    /// `resume`.
    Resume,
}

/// The bundled resource action (`argoproj.io/Rollout/actions/<name>`) that does `verb` to
/// `rollout` as the plugin does it. `promote` clears a pause (spec or pause conditions), else,
/// in a canary within its steps, moves to the next step (an analysis step in progress is
/// skipped); the plugin never does both.
pub fn verb_action(verb: Verb, rollout: &Value) -> &'static str {
    match verb {
        Verb::PromoteFull => "promote-full",
        Verb::Abort => "abort",
        Verb::Retry => "retry",
        Verb::Pause => "pause",
        Verb::Resume => "resume",
        Verb::Promote => {
            let paused = at(rollout, &["spec", "paused"]).and_then(Value::as_bool) == Some(true)
                || at(rollout, &["status", "pauseConditions"]).and_then(Value::as_array).is_some_and(|p| !p.is_empty());
            if !paused && current_step(rollout).is_some() { "skip-current-step" } else { "resume" }
        }
    }
}

#[cfg(test)]
mod tests;
