//! Flux's per-object apply policies: the `kustomize.toolkit.fluxcd.io/ssa`, `.../force` and
//! `.../prune` annotations a manifest may carry, as kustomize-controller reads them (values
//! compared without regard to case).
//!
//! ```
//! use gitops_core::sync::flux::{self, ApplyPolicy};
//! let v = serde_json::json!({"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/ssa": "ifnotpresent"}}});
//! assert_eq!(flux::apply_policy(&v), ApplyPolicy::IfNotPresent);
//! ```

use serde_json::Value;

/// The annotation choosing how an object is applied.
pub const SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// The annotation that recreates an object whose immutable fields changed.
pub const FORCE: &str = "kustomize.toolkit.fluxcd.io/force";
/// The annotation (or label) that keeps an object from being pruned.
pub const PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
/// The older annotation that, `disabled`, stops an object from being applied or pruned.
pub const RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";

/// How Flux applies an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyPolicy {
    /// The default: the manifest's state is enforced.
    Override,
    /// Fields other managers added are kept (server-side apply without taking them over).
    Merge,
    /// Created when missing, never updated after.
    IfNotPresent,
    /// Never applied, even though the source holds it.
    Ignore,
}

fn meta<'a>(o: &'a Value, map: &str, key: &str) -> Option<&'a str> {
    o.get("metadata").and_then(|m| m.get(map)).and_then(|m| m.get(key)).and_then(Value::as_str)
}

fn is(value: Option<&str>, word: &str) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case(word))
}

/// The object's apply policy (`Override` when unset or unknown, as Flux treats it).
pub fn apply_policy(o: &Value) -> ApplyPolicy {
    if is(meta(o, "annotations", RECONCILE), "disabled") {
        return ApplyPolicy::Ignore;
    }
    match meta(o, "annotations", SSA) {
        Some(v) if v.eq_ignore_ascii_case("merge") => ApplyPolicy::Merge,
        Some(v) if v.eq_ignore_ascii_case("ifnotpresent") => ApplyPolicy::IfNotPresent,
        Some(v) if v.eq_ignore_ascii_case("ignore") => ApplyPolicy::Ignore,
        _ => ApplyPolicy::Override,
    }
}

/// Whether the object is to be recreated when an immutable field changes (`force: enabled`).
/// Read for callers; the executor does not recreate objects yet.
pub fn force(o: &Value) -> bool {
    is(meta(o, "annotations", FORCE), "enabled")
}

/// Whether pruning the object is disabled, by annotation or label (`prune: disabled`), or by
/// `reconcile: disabled`.
pub fn prune_disabled(o: &Value) -> bool {
    is(meta(o, "annotations", PRUNE), "disabled")
        || is(meta(o, "labels", PRUNE), "disabled")
        || is(meta(o, "annotations", RECONCILE), "disabled")
}
