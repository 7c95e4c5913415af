//! Sync options, as Argo CD reads them from an app's `syncPolicy.syncOptions` and from a
//! resource's `argocd.argoproj.io/sync-options` annotation (comma-separated `Key=value`).
//! A resource's options override the app's for that resource.

use serde::Serialize;
use serde_json::Value;

/// `argocd.argoproj.io/sync-options`.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

/// How pruning treats an object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PruneMode {
    /// Pruned when pruning is enabled.
    #[default]
    Allowed,
    /// `Prune=false`: never pruned.
    Disabled,
    /// `Prune=confirm`: pruned once a user confirms.
    Confirm,
}

/// How pruned objects are deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Propagation {
    /// Dependants first (Argo CD's default).
    #[default]
    Foreground,
    /// The object first; the garbage collector removes dependants.
    Background,
    /// Dependants are left in place.
    Orphan,
}

/// When an object that exists is deleted and created again instead of being updated in place.
///
/// Some fields cannot change once an object exists (a Deployment's `spec.selector`, a Job's
/// `spec.template`, a Service's `spec.clusterIP`, a StatefulSet's volume claim templates); the
/// API server refuses such an update. Flux's `force` and `kubectl apply --force` (Argo CD's
/// `Force=true`) delete the object and create it anew then; `kubectl replace --force` (Argo CD's
/// `Replace=true,Force=true`) always does. The executor carries this out; deciding it is here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Recreate {
    /// Updated in place; a refused update is the sync's error (the default).
    #[default]
    Never,
    /// Updated in place; recreated when the server refuses the update as one the object cannot
    /// take ([`is_immutable_refusal`]): Flux's `force`, Argo CD's `Force=true` with client-side
    /// apply.
    OnImmutable,
    /// Deleted and created whenever it is written while it exists: Argo CD's
    /// `Replace=true,Force=true` (`kubectl replace --force`).
    Always,
}

impl Recreate {
    /// What Argo CD's options ask for: `Force=true` recreates with `Replace=true` always, with
    /// client-side apply on a refused patch; with `ServerSideApply=true` it only takes over
    /// conflicting fields (`--force-conflicts`), as Argo CD does, so nothing is recreated.
    pub fn for_argo(o: &SyncOptions) -> Recreate {
        match (o.force, o.replace, o.server_side_apply.unwrap_or(false)) {
            (false, _, _) => Recreate::Never,
            (true, true, _) => Recreate::Always,
            (true, false, true) => Recreate::Never,
            (true, false, false) => Recreate::OnImmutable,
        }
    }

    /// Whether an update the server refused (HTTP `code`, status `reason` such as `Invalid`,
    /// empty when none, and `message`) is followed by deleting the object and creating it again.
    pub fn after_refusal(self, code: u16, reason: &str, message: &str) -> bool {
        match self {
            Recreate::Never => false,
            // `Always` writes by recreating; a refusal then is the creation's own.
            Recreate::Always => false,
            Recreate::OnImmutable => is_immutable_refusal(code, reason, message),
        }
    }

    /// Whether this is [`Recreate::Never`] (plans leave it out of their JSON then).
    pub fn is_never(&self) -> bool {
        *self == Recreate::Never
    }
}

/// Whether the server refused a write as one an existing object cannot take, by the rule
/// Flux's `ssa` package (`errors.IsImmutableError`) and `kubectl apply --force` share: a
/// `Conflict` (409) or `Invalid` (422) status, or a message that says something `is immutable`
/// or names an `immutable field` (what admission webhooks and CEL rules answer, whatever
/// their code). A status with no reason is judged by its code, as apimachinery does.
///
/// The rule is Flux's, false positives included: an update refused for an invalid value is
/// `Invalid` too, and the object is then deleted although its replacement will be refused as
/// well; the executor puts the old object back in that case, as `kubectl apply --force` does.
pub fn is_immutable_refusal(code: u16, reason: &str, message: &str) -> bool {
    let by_status = match reason {
        "Invalid" | "Conflict" => true,
        "" | "Unknown" => matches!(code, 409 | 422),
        _ => false,
    };
    by_status || says_immutable(message)
}

/// Flux's patterns `is\simmutable` and `immutable\sfield`: the words with one whitespace
/// character between them.
fn says_immutable(message: &str) -> bool {
    let (before, after) = ("is", "field");
    message.match_indices("immutable").any(|(at, word)| {
        let head = &message[..at];
        let tail = &message[at + word.len()..];
        let spaced_before = head.chars().next_back().is_some_and(char::is_whitespace)
            && head[..head.len() - head.chars().next_back().map_or(0, char::len_utf8)].ends_with(before);
        let spaced_after = tail.chars().next().is_some_and(char::is_whitespace)
            && tail[tail.chars().next().map_or(0, char::len_utf8)..].starts_with(after);
        spaced_before || spaced_after
    })
}

/// Sync options, at app level or resolved for one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncOptions {
    /// `Prune=false|confirm`.
    pub prune: PruneMode,
    /// `Delete=false` (kept when the app is deleted).
    pub keep_on_delete: bool,
    /// `Replace=true`.
    pub replace: bool,
    /// `Force=true`.
    pub force: bool,
    /// `ServerSideApply=true|false` (`None`: not said).
    pub server_side_apply: Option<bool>,
    /// `Validate=false`.
    pub skip_validation: bool,
    /// `SkipDryRunOnMissingResource=true`.
    pub skip_dry_run_on_missing_resource: bool,
    /// `CreateNamespace=true` (app only).
    pub create_namespace: bool,
    /// `ApplyOutOfSyncOnly=true` (app only).
    pub apply_out_of_sync_only: bool,
    /// `PruneLast=true`.
    pub prune_last: bool,
    /// `RespectIgnoreDifferences=true` (app only).
    pub respect_ignore_differences: bool,
    /// `FailOnSharedResource=true` (app only).
    pub fail_on_shared_resource: bool,
    /// `PrunePropagationPolicy=foreground|background|orphan` (app only).
    pub prune_propagation: Propagation,
}

/// An option that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sync option `{option}`: {problem}")]
pub struct Error {
    /// The option as written.
    pub option: String,
    /// What is wrong.
    pub problem: String,
}

impl SyncOptions {
    /// Reads a list of options (app level). Unknown keys are returned as warnings: Argo CD
    /// ignores them, and a typo should not pass unseen.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<(SyncOptions, Vec<String>), Error> {
        let mut o = SyncOptions::default();
        let warnings = o.apply(items)?;
        Ok((o, warnings))
    }

    /// These options with a resource's annotation on top (its `Key=value` items override).
    pub fn for_resource(&self, obj: &Value) -> Result<(SyncOptions, Vec<String>), Error> {
        let mut o = self.clone();
        let warnings = match super::hooks::annotation(obj, SYNC_OPTIONS) {
            Some(t) => o.apply(t.split(','))?,
            None => Vec::new(),
        };
        Ok((o, warnings))
    }

    fn apply<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, Error> {
        let mut warnings = Vec::new();
        for raw in items {
            let item = raw.trim();
            if item.is_empty() {
                continue;
            }
            let bad = |problem: &str| Error { option: item.to_string(), problem: problem.to_string() };
            let (key, value) = item.split_once('=').ok_or_else(|| bad("expected `Key=value`"))?;
            let flag = |v: &str| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(bad("expected `true` or `false`")),
            };
            match key {
                "Prune" => {
                    self.prune = match value {
                        "true" => PruneMode::Allowed,
                        "false" => PruneMode::Disabled,
                        "confirm" => PruneMode::Confirm,
                        _ => return Err(bad("expected `true`, `false` or `confirm`")),
                    }
                }
                "Delete" => {
                    self.keep_on_delete = match value {
                        "false" | "confirm" => true,
                        "true" => false,
                        _ => return Err(bad("expected `true`, `false` or `confirm`")),
                    }
                }
                "Replace" => self.replace = flag(value)?,
                "Force" => self.force = flag(value)?,
                "ServerSideApply" => self.server_side_apply = Some(flag(value)?),
                "Validate" => self.skip_validation = !flag(value)?,
                "SkipDryRunOnMissingResource" => self.skip_dry_run_on_missing_resource = flag(value)?,
                "CreateNamespace" => self.create_namespace = flag(value)?,
                "ApplyOutOfSyncOnly" => self.apply_out_of_sync_only = flag(value)?,
                "PruneLast" => self.prune_last = flag(value)?,
                "RespectIgnoreDifferences" => self.respect_ignore_differences = flag(value)?,
                "FailOnSharedResource" => self.fail_on_shared_resource = flag(value)?,
                "PrunePropagationPolicy" => {
                    self.prune_propagation = match value.to_ascii_lowercase().as_str() {
                        "foreground" => Propagation::Foreground,
                        "background" => Propagation::Background,
                        "orphan" => Propagation::Orphan,
                        _ => return Err(bad("expected `foreground`, `background` or `orphan`")),
                    }
                }
                // Known to Argo CD, no effect on a plan.
                "ClientSideApplyMigration" => {}
                _ => warnings.push(format!("sync option `{item}` is not one Argo CD knows; ignored")),
            }
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn app_options_and_resource_overrides() {
        let (app, warnings) = SyncOptions::parse([
            "Prune=false",
            "ServerSideApply=true",
            "ApplyOutOfSyncOnly=true",
            "PrunePropagationPolicy=background",
            "Nope=1",
        ])
        .unwrap();
        assert_eq!(app.prune, PruneMode::Disabled);
        assert_eq!(app.server_side_apply, Some(true));
        assert!(app.apply_out_of_sync_only);
        assert_eq!(app.prune_propagation, Propagation::Background);
        assert_eq!(warnings.len(), 1);
        let obj =
            json!({"metadata": {"annotations": {SYNC_OPTIONS: "Prune=confirm, ServerSideApply=false,Replace=true"}}});
        let (res, _) = app.for_resource(&obj).unwrap();
        assert_eq!(res.prune, PruneMode::Confirm);
        assert_eq!(res.server_side_apply, Some(false));
        assert!(res.replace && res.apply_out_of_sync_only);
    }

    #[test]
    fn argo_force_recreates_with_replace_always_and_with_client_side_apply_on_refusal() {
        let of = |items: &[&str]| Recreate::for_argo(&SyncOptions::parse(items.iter().copied()).unwrap().0);
        assert_eq!(of(&[]), Recreate::Never);
        assert_eq!(of(&["Replace=true"]), Recreate::Never);
        assert_eq!(of(&["Force=true"]), Recreate::OnImmutable);
        assert_eq!(of(&["Force=true", "Replace=true"]), Recreate::Always);
        assert_eq!(of(&["Force=true", "Replace=true", "ServerSideApply=true"]), Recreate::Always);
        // With server-side apply, Force=true takes over conflicting fields and nothing more.
        assert_eq!(of(&["Force=true", "ServerSideApply=true"]), Recreate::Never);
        assert_eq!(of(&["Force=true", "ServerSideApply=false"]), Recreate::OnImmutable);
    }

    #[test]
    fn immutable_refusals_follow_fluxs_rule() {
        let selector = "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: \
                        v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}}: field is immutable";
        assert!(is_immutable_refusal(422, "Invalid", selector));
        // Invalid or Conflict alone is enough (a StatefulSet's forbidden update names no word).
        assert!(is_immutable_refusal(422, "Invalid", "StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates"));
        assert!(is_immutable_refusal(409, "Conflict", "the object has been modified"));
        assert!(is_immutable_refusal(422, "", "no reason given"));
        assert!(!is_immutable_refusal(409, "AlreadyExists", "configmaps \"a\" already exists"));
        assert!(!is_immutable_refusal(403, "Forbidden", "forbidden"));
        assert!(!is_immutable_refusal(404, "NotFound", "not found"));
        // Webhooks and CEL rules answer in words, with whatever code.
        assert!(is_immutable_refusal(403, "Forbidden", "admission webhook denied: spec.size is immutable"));
        assert!(is_immutable_refusal(400, "BadRequest", "cannot update immutable\tfield spec.size"));
        assert!(!is_immutable_refusal(400, "BadRequest", "an immutable object"));
        assert!(!is_immutable_refusal(400, "BadRequest", "an immutable-field, not it"));
        // No word boundary, as in Flux's regular expression: `this immutable` matches.
        assert!(is_immutable_refusal(400, "BadRequest", "this immutable thing"));
    }

    #[test]
    fn only_force_on_immutable_recreates_after_a_refusal() {
        let m = "field is immutable";
        assert!(Recreate::OnImmutable.after_refusal(422, "Invalid", m));
        assert!(!Recreate::Never.after_refusal(422, "Invalid", m));
        assert!(!Recreate::Always.after_refusal(422, "Invalid", m), "a refusal of the creation itself stands");
        assert!(!Recreate::OnImmutable.after_refusal(404, "NotFound", "namespaces \"x\" not found"));
    }

    #[test]
    fn bad_values_name_the_option() {
        let e = SyncOptions::parse(["Prune=maybe"]).unwrap_err();
        assert_eq!(e.to_string(), "sync option `Prune=maybe`: expected `true`, `false` or `confirm`");
        assert!(SyncOptions::parse(["Replace"]).is_err());
    }
}
