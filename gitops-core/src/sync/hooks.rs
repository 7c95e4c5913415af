//! How the sync treats an object, read from its annotations as Argo CD reads them: hook or
//! resource, its phases, its wave, and when a hook is deleted.
//!
//! - `argocd.argoproj.io/hook`: a comma-separated list of `PreSync`, `Sync`, `PostSync`,
//!   `SyncFail`, `Skip`; values are trimmed and de-duplicated, unknown ones ignored. Exactly
//!   `Skip` means the object is never applied; a hook whose values are all unknown (e.g.
//!   `PostDelete`, run by Argo CD only when an app is deleted) takes no part in a sync.
//! - Helm's `helm.sh/hook` counts only without Argo CD's annotation: `pre-install` and
//!   `pre-upgrade` are PreSync, `post-install` and `post-upgrade` PostSync; other values
//!   (delete, rollback, test) make a hook with no sync phase; `crd-install` is not a hook.
//! - Waves: `argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, else 0 (an integer as
//!   Go's `Atoi` reads it: no spaces; a bad value falls through to the next source).
//! - Delete policies: the union of Argo CD's and Helm's annotations; `BeforeHookCreation` when
//!   neither names one.

use serde_json::Value;

use super::task::{DeletePolicy, Phase};

/// `argocd.argoproj.io/hook`.
pub const HOOK: &str = "argocd.argoproj.io/hook";
/// `argocd.argoproj.io/hook-delete-policy`.
pub const HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
/// `argocd.argoproj.io/sync-wave`.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// `helm.sh/hook`.
pub const HELM_HOOK: &str = "helm.sh/hook";
/// `helm.sh/hook-weight`.
pub const HELM_HOOK_WEIGHT: &str = "helm.sh/hook-weight";
/// `helm.sh/hook-delete-policy`.
pub const HELM_HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// What a sync does with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// An ordinary resource: applied in the Sync phase.
    Resource,
    /// `argocd.argoproj.io/hook: Skip`: never applied.
    Skip,
    /// A hook, run in each of these phases (in order, without duplicates).
    Hook(Vec<Phase>),
    /// A hook with no sync phase (PreDelete/PostDelete, Helm delete or test hooks, unknown
    /// values): left out of the sync.
    Ignored(String),
}

/// An annotation's value (direct lookups: a JSON pointer would be parsed on every call).
pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

fn csv(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|t| !t.is_empty())
}

/// The object's role in a sync.
pub fn role(obj: &Value) -> Role {
    if let Some(text) = annotation(obj, HOOK) {
        let mut phases = Vec::new();
        let mut skip = false;
        for value in csv(text) {
            let phase = match value {
                "PreSync" => Phase::PreSync,
                "Sync" => Phase::Sync,
                "PostSync" => Phase::PostSync,
                "SyncFail" => Phase::SyncFail,
                "Skip" => {
                    skip = true;
                    continue;
                }
                _ => continue,
            };
            if !phases.contains(&phase) {
                phases.push(phase);
            }
        }
        phases.sort();
        return match (phases.is_empty(), skip) {
            (true, true) => Role::Skip,
            (true, false) => Role::Ignored(format!("{HOOK}: {text} names no sync phase")),
            (false, _) => Role::Hook(phases),
        };
    }
    match annotation(obj, HELM_HOOK) {
        Some(text) if text.trim() != "crd-install" => {
            let mut phases = Vec::new();
            for value in csv(text) {
                let phase = match value {
                    "pre-install" | "pre-upgrade" => Phase::PreSync,
                    "post-install" | "post-upgrade" => Phase::PostSync,
                    _ => continue,
                };
                if !phases.contains(&phase) {
                    phases.push(phase);
                }
            }
            phases.sort();
            if phases.is_empty() {
                Role::Ignored(format!("{HELM_HOOK}: {text} is not run by a sync"))
            } else {
                Role::Hook(phases)
            }
        }
        _ => Role::Resource,
    }
}

/// Go's `strconv.Atoi`: an optional sign and ASCII digits, nothing else.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The object's sync wave.
pub fn wave(obj: &Value) -> i64 {
    annotation(obj, SYNC_WAVE).and_then(atoi).or_else(|| annotation(obj, HELM_HOOK_WEIGHT).and_then(atoi)).unwrap_or(0)
}

/// A hook's delete policies, sorted; `[BeforeHookCreation]` when none is named.
pub fn delete_policies(obj: &Value) -> Vec<DeletePolicy> {
    let mut out = Vec::new();
    let argo = annotation(obj, HOOK_DELETE_POLICY).into_iter().flat_map(csv).filter_map(|v| match v {
        "HookSucceeded" => Some(DeletePolicy::HookSucceeded),
        "HookFailed" => Some(DeletePolicy::HookFailed),
        "BeforeHookCreation" => Some(DeletePolicy::BeforeHookCreation),
        _ => None,
    });
    let helm = annotation(obj, HELM_HOOK_DELETE_POLICY).into_iter().flat_map(csv).filter_map(|v| match v {
        "hook-succeeded" => Some(DeletePolicy::HookSucceeded),
        "hook-failed" => Some(DeletePolicy::HookFailed),
        "before-hook-creation" => Some(DeletePolicy::BeforeHookCreation),
        _ => None,
    });
    for p in argo.chain(helm) {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        out.push(DeletePolicy::BeforeHookCreation);
    }
    out.sort();
    out
}

/// The name Argo CD gives an instance of a `generateName` hook:
/// `generateName + lower("<revision[:7]>-<phase>-<started at, Unix seconds>")`.
pub fn instance_name(generate_name: &str, revision: &str, phase: Phase, started_at: i64) -> String {
    let short: String = revision.chars().take(7).collect();
    format!("{generate_name}{}", format!("{short}-{}-{started_at}", phase.as_str()).to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(annotations: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "annotations": annotations}})
    }

    #[test]
    fn argo_hook_annotations() {
        assert_eq!(role(&json!({"kind": "Job"})), Role::Resource);
        assert_eq!(role(&with(json!({HOOK: "PreSync"}))), Role::Hook(vec![Phase::PreSync]));
        assert_eq!(
            role(&with(json!({HOOK: " PostSync, PreSync ,PostSync,Bogus"}))),
            Role::Hook(vec![Phase::PreSync, Phase::PostSync])
        );
        assert_eq!(role(&with(json!({HOOK: "Skip"}))), Role::Skip);
        assert_eq!(role(&with(json!({HOOK: "Skip,SyncFail"}))), Role::Hook(vec![Phase::SyncFail]));
        assert!(matches!(role(&with(json!({HOOK: "PostDelete"}))), Role::Ignored(_)));
        // Argo CD's annotation wins over Helm's.
        assert_eq!(role(&with(json!({HOOK: "Sync", HELM_HOOK: "pre-install"}))), Role::Hook(vec![Phase::Sync]));
    }

    #[test]
    fn helm_hooks_map_as_argo_cd_maps_them() {
        assert_eq!(role(&with(json!({HELM_HOOK: "pre-install,pre-upgrade"}))), Role::Hook(vec![Phase::PreSync]));
        assert_eq!(role(&with(json!({HELM_HOOK: "post-upgrade"}))), Role::Hook(vec![Phase::PostSync]));
        assert_eq!(role(&with(json!({HELM_HOOK: "crd-install"}))), Role::Resource);
        assert!(matches!(role(&with(json!({HELM_HOOK: "test"}))), Role::Ignored(_)));
        assert!(matches!(role(&with(json!({HELM_HOOK: "pre-delete"}))), Role::Ignored(_)));
    }

    #[test]
    fn waves_follow_argo_then_helm_then_zero() {
        assert_eq!(wave(&with(json!({SYNC_WAVE: "-2"}))), -2);
        assert_eq!(wave(&with(json!({SYNC_WAVE: "x", HELM_HOOK_WEIGHT: "5"}))), 5);
        assert_eq!(wave(&with(json!({SYNC_WAVE: " 3"}))), 0, "Atoi does not trim");
        assert_eq!(wave(&with(json!({}))), 0);
        assert_eq!(wave(&with(json!({SYNC_WAVE: "99999999999999999999"}))), 0);
    }

    #[test]
    fn delete_policies_union_with_default() {
        assert_eq!(delete_policies(&with(json!({}))), vec![DeletePolicy::BeforeHookCreation]);
        assert_eq!(
            delete_policies(&with(
                json!({HOOK_DELETE_POLICY: "HookSucceeded", HELM_HOOK_DELETE_POLICY: "hook-failed"})
            )),
            vec![DeletePolicy::HookSucceeded, DeletePolicy::HookFailed]
        );
    }

    #[test]
    fn generated_hook_names() {
        assert_eq!(
            instance_name("migrate-", "A1B2C3D4E5", Phase::PreSync, 1700000000),
            "migrate-a1b2c3d-presync-1700000000"
        );
    }
}
