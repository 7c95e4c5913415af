//! Renderings of a diff: unified YAML diffs for people, a stable JSON shape for programs.
//!
//! The JSON shape (`gitops diff -o json`) is a contract; fields are only ever added:
//!
//! ```json
//! {
//!   "modified": true,
//!   "summary": {"synced": 1, "outOfSync": 1, "missing": 0, "requiresPruning": 0, "skipped": 0},
//!   "objects": [{
//!     "key": "apps/Deployment/default/web",
//!     "group": "apps", "kind": "Deployment", "namespace": "default", "name": "web",
//!     "status": "OutOfSync", "mode": "threeWay",
//!     "patch": [{"op": "replace", "path": "/spec/replicas", "value": 3}],
//!     "ignored": [{"path": "/spec/replicas", "rule": {"from": "app", "index": 0}, "by": "/spec/replicas"}],
//!     "warnings": [],
//!     "desired": {"source": "git/web.yaml", "document": 1, "line": 1},
//!     "live": {"source": "live/web.yaml", "document": 1, "line": 1}
//!   }],
//!   "skipped": [{"key": {...}, "reason": "hook (PreSync)"}]
//! }
//! ```

use serde::Serialize;
use serde_json::Value;

use crate::diff::{AppDiff, DiffMode, ObjectDiff, Skipped, Summary, SyncStatus};
use crate::ignore::IgnoredPath;
use crate::object::Origin;

/// One object in the JSON report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReport<'a> {
    /// `group/Kind/namespace/name`.
    pub key: String,
    /// API group.
    pub group: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Namespace (empty for cluster-scoped).
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// Sync status.
    pub status: SyncStatus,
    /// How the prediction was made.
    pub mode: DiffMode,
    /// RFC 6902 patch from normalized live to predicted live.
    pub patch: &'a json_patch::Patch,
    /// Ignored paths and their rules.
    pub ignored: &'a [IgnoredPath],
    /// Warnings.
    pub warnings: &'a [String],
    /// Whether `IgnoreExtraneous` keeps it out of the app status.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignore_extraneous: bool,
    /// Where the desired object was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<&'a Origin>,
    /// Where the live object was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<&'a Origin>,
}

impl<'a> ObjectReport<'a> {
    /// The report entry of one object.
    pub fn of(d: &'a ObjectDiff) -> ObjectReport<'a> {
        ObjectReport {
            key: d.key.to_string(),
            group: &d.key.group,
            kind: &d.key.kind,
            namespace: &d.key.namespace,
            name: &d.key.name,
            status: d.status,
            mode: d.mode,
            patch: &d.patch,
            ignored: &d.ignored,
            warnings: &d.warnings,
            ignore_extraneous: d.ignore_extraneous,
            desired: d.desired_origin.as_ref(),
            live: d.live_origin.as_ref(),
        }
    }
}

/// The whole JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    /// Whether anything makes the app OutOfSync.
    pub modified: bool,
    /// Totals.
    pub summary: &'a Summary,
    /// Per object, ordered by key.
    pub objects: Vec<ObjectReport<'a>>,
    /// Objects not compared.
    pub skipped: &'a [Skipped],
}

impl<'a> Report<'a> {
    /// The report of an app-level diff.
    pub fn of(diff: &'a AppDiff) -> Report<'a> {
        Report {
            modified: diff.summary.modified,
            summary: &diff.summary,
            objects: diff.objects.iter().map(ObjectReport::of).collect(),
            skipped: &diff.skipped,
        }
    }
}

/// YAML text of an object for display: keys sorted, `managedFields` left out (noise that
/// never differs), `null` for an absent object gives an empty text.
pub fn display_yaml(v: &Value) -> String {
    if v.is_null() {
        return String::new();
    }
    let mut v = v.clone();
    if let Some(Value::Object(meta)) = v.get_mut("metadata") {
        meta.remove("managedFields");
    }
    serde_saphyr::to_string(&v).unwrap_or_else(|e| format!("# cannot render as YAML: {e}\n"))
}

/// A unified diff (3 lines of context) from normalized live to predicted live, with
/// `--- live <key>` and `+++ desired <key>` headers; empty when the object is Synced.
pub fn unified(d: &ObjectDiff) -> String {
    if d.status == SyncStatus::Synced {
        return String::new();
    }
    let old = display_yaml(&d.normalized_live);
    let new = display_yaml(d.predicted_live());
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    out.push_str(&format!("--- live {}\n+++ desired {}\n", d.key, d.key));
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&hunk.to_string());
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}
