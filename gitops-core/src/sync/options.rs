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
    fn bad_values_name_the_option() {
        let e = SyncOptions::parse(["Prune=maybe"]).unwrap_err();
        assert_eq!(e.to_string(), "sync option `Prune=maybe`: expected `true`, `false` or `confirm`");
        assert!(SyncOptions::parse(["Replace"]).is_err());
    }
}
