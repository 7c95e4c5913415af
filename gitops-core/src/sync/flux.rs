//! Flux's per-object apply policies: the `kustomize.toolkit.fluxcd.io/ssa`, `.../force` and
//! `.../prune` annotations a manifest may carry, as kustomize-controller reads them (values
//! compared without regard to case).
//!
//! `force: enabled` (annotation or label), like the Kustomization's `spec.force: true`, makes an
//! update the API server refuses because an immutable field changed (a Deployment's
//! `spec.selector`, a Job's `spec.template`) delete the object, wait until it is gone and apply
//! it again ([`recreate`]; the executor carries it out and says "recreated" and why).
//!
//! ```
//! use gitops_core::sync::flux::{self, ApplyPolicy};
//! let v = serde_json::json!({"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/ssa": "ifnotpresent"}}});
//! assert_eq!(flux::apply_policy(&v), ApplyPolicy::IfNotPresent);
//! ```

use serde_json::Value;

use super::options::Recreate;

/// The annotation choosing how an object is applied.
pub const SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// The annotation (or label) that, `enabled`, recreates an object whose update the API server
/// refuses because an immutable field changed.
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

/// Whether the object asks to be recreated when an immutable field changes: the annotation or
/// the label `kustomize.toolkit.fluxcd.io/force: enabled` (Flux's force selector matches both).
pub fn force(o: &Value) -> bool {
    is(meta(o, "annotations", FORCE), "enabled") || is(meta(o, "labels", FORCE), "enabled")
}

/// How Flux recreates an object: on an update the API server refuses as immutable
/// ([`super::options::is_immutable_refusal`]), when the Kustomization says `spec.force: true`
/// (`spec_force`) or the desired or the live object carries [`FORCE`] (kustomize-controller
/// looks at both, so a live object marked by hand is recreated too); never otherwise, and the
/// refusal is the sync's error.
pub fn recreate(spec_force: bool, desired: &Value, live: Option<&Value>) -> Recreate {
    if spec_force || force(desired) || live.is_some_and(force) { Recreate::OnImmutable } else { Recreate::Never }
}

/// Whether pruning the object is disabled, by annotation or label (`prune: disabled`), or by
/// `reconcile: disabled`.
pub fn prune_disabled(o: &Value) -> bool {
    is(meta(o, "annotations", PRUNE), "disabled")
        || is(meta(o, "labels", PRUNE), "disabled")
        || is(meta(o, "annotations", RECONCILE), "disabled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn force_is_read_from_the_spec_the_annotation_or_the_label_of_either_side() {
        let plain = json!({"metadata": {"name": "web"}});
        let annotated = json!({"metadata": {"annotations": {FORCE: "Enabled"}}});
        let labelled = json!({"metadata": {"labels": {FORCE: "enabled"}}});
        let disabled = json!({"metadata": {"annotations": {FORCE: "disabled"}}});
        assert_eq!(recreate(false, &plain, None), Recreate::Never);
        assert_eq!(recreate(false, &plain, Some(&plain)), Recreate::Never);
        assert_eq!(recreate(false, &disabled, None), Recreate::Never);
        assert_eq!(recreate(true, &plain, None), Recreate::OnImmutable);
        assert_eq!(recreate(false, &annotated, None), Recreate::OnImmutable);
        assert_eq!(recreate(false, &labelled, None), Recreate::OnImmutable);
        assert_eq!(recreate(false, &plain, Some(&labelled)), Recreate::OnImmutable);
    }
}
