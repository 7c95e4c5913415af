//! An app's status after a reconcile pass: whether it is in sync, its health, and the last sync
//! operation, as `gitops status` shows them and as a status file keeps them.
//!
//! Every field serializes to the strings status files have always held (`"Synced"`,
//! `"Healthy (message)"`, `"Succeeded"`), so a file written before these types existed still
//! reads.

use std::fmt;

pub use crate::health::HealthStatus;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::operation::OperationPhase;

/// What a health check says of an app where no health can be told: a FileCluster has no
/// controllers, so nothing there ever becomes ready on its own.
pub const NOT_ASSESSED: &str = "health not assessed: a FileCluster has no controllers";

/// Whether an app matches its desired state after a pass (after its sync, if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SyncStatus {
    /// Every object matches, nothing waits for pruning, nothing was left out.
    Synced,
    /// Something differs, waits for pruning, or was left out of a selective sync.
    OutOfSync,
    /// Not compared yet.
    Unknown,
}

impl SyncStatus {
    /// The status as Argo CD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "Synced",
            SyncStatus::OutOfSync => "OutOfSync",
            SyncStatus::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the spelling, as status files and scripts have it.
impl PartialEq<&str> for SyncStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An app's health and what its checks said, written `Status` or `Status (message)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppHealth {
    /// The aggregated status.
    pub status: HealthStatus,
    /// Why, when the checks said (empty otherwise).
    pub message: String,
}

impl AppHealth {
    /// A health with a message (none when `message` is empty).
    pub fn new(status: HealthStatus, message: impl Into<String>) -> AppHealth {
        AppHealth { status, message: message.into() }
    }

    /// The health of an app on a target that cannot assess it ([`NOT_ASSESSED`]).
    pub fn not_assessed() -> AppHealth {
        AppHealth::new(HealthStatus::Unknown, NOT_ASSESSED)
    }

    /// Whether an app that depends on this one may go ahead: healthy, or on a target that
    /// cannot tell (where waiting would never end).
    pub fn is_ready(&self) -> bool {
        self.status == HealthStatus::Healthy || self.message == NOT_ASSESSED
    }

    /// Reads `Status` or `Status (message)`. Text that names no known status is kept whole as
    /// the message of an `Unknown` health rather than refused: it only ever came from a
    /// status file, and the status is rewritten on the next pass.
    pub fn parse(text: &str) -> AppHealth {
        let (word, message) = match text.split_once(" (") {
            Some((w, rest)) => (w, rest.strip_suffix(')').unwrap_or(rest)),
            None => (text, ""),
        };
        match HealthStatus::parse(word) {
            Some(status) => AppHealth::new(status, message),
            None => AppHealth::new(HealthStatus::Unknown, text),
        }
    }
}

impl Default for AppHealth {
    fn default() -> AppHealth {
        AppHealth::new(HealthStatus::Unknown, "")
    }
}

impl fmt::Display for AppHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.status.as_str())
        } else {
            write!(f, "{} ({})", self.status, self.message)
        }
    }
}

impl Serialize for AppHealth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AppHealth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AppHealth, D::Error> {
        let text = String::deserialize(d)?;
        Ok(AppHealth::parse(&text))
    }
}

/// The last sync operation, as the status keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastOperation {
    /// How it ended.
    pub phase: OperationPhase,
    /// The operation's message.
    pub message: String,
    /// The revision synced.
    pub revision: String,
    /// Objects applied.
    pub synced: usize,
    /// Objects pruned.
    pub pruned: usize,
    /// Tasks that failed.
    pub failed: usize,
    /// Tasks that never ran (the operation failed or was terminated first).
    #[serde(default)]
    pub not_done: Vec<String>,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// When it started (RFC 3339, with milliseconds); empty in statuses written before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub started_at: String,
}

impl LastOperation {
    /// Whether the operation succeeded.
    pub fn succeeded(&self) -> bool {
        self.phase == OperationPhase::Succeeded
    }
}

/// An app's status after a pass, as `gitops status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The app.
    pub app: String,
    /// In sync or not (after the pass's sync, if any).
    pub sync: SyncStatus,
    /// Health; a FileCluster has no controllers, so it is not assessed there.
    pub health: AppHealth,
    /// The revision last rendered.
    pub revision: String,
    /// The revision last synced successfully.
    pub synced_revision: Option<String>,
    /// When the pass ran (RFC 3339).
    pub reconciled_at: String,
    /// Why the pass did not sync, or what it did.
    pub message: String,
    /// The last sync operation.
    pub last_operation: Option<LastOperation>,
    /// The app's resources after the pass, as `argocd app get` lists them (hooks left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    /// Objects in the app's namespace that no app manages, when its AppProject monitors them
    /// (`orphanedResources`), as `group/Kind/namespace/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphaned_resources: Vec<String>,
}

/// One resource of an app after a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The API group (empty for the core group).
    pub group: String,
    /// The kind.
    pub kind: String,
    /// The namespace (empty when cluster-scoped).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Whether it matches its desired state (`OutOfSync` also when it only waits for pruning).
    pub status: SyncStatus,
    /// Its health, where the target can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// Why it is out of sync, or what the pass did to it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Status {
    /// Whether the app is synced and its last sync (if any) succeeded.
    pub fn is_synced(&self) -> bool {
        self.sync == SyncStatus::Synced && self.last_operation.as_ref().is_none_or(LastOperation::succeeded)
    }

    /// Whether an app that depends on this one (Flux's `dependsOn`) may go ahead: synced, its
    /// last sync succeeded, and healthy as far as the target can tell.
    pub fn is_ready(&self) -> bool {
        self.is_synced() && self.health.is_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_reads_back_what_it_writes() {
        for text in ["Healthy", "Degraded (Deployment shop/web: 0/2 ready)", "Unknown (a (nested) note)"] {
            let h = AppHealth::parse(text);
            assert_eq!(h.to_string(), text);
        }
        assert_eq!(AppHealth::parse("Healthy").status, HealthStatus::Healthy);
        assert!(AppHealth::not_assessed().is_ready());
        assert_eq!(AppHealth::not_assessed().to_string(), format!("Unknown ({NOT_ASSESSED})"));
        // Text from elsewhere is kept, not lost.
        assert_eq!(AppHealth::parse("fine").to_string(), "Unknown (fine)");
    }

    #[test]
    fn status_files_from_before_still_read() {
        let text = r#"{
  "app": "shop",
  "sync": "OutOfSync",
  "health": "Unknown (health not assessed: a FileCluster has no controllers)",
  "revision": "abc",
  "syncedRevision": null,
  "reconciledAt": "2026-01-01T00:00:00Z",
  "message": "m",
  "lastOperation": {"phase": "Failed", "message": "x", "revision": "abc", "synced": 1, "pruned": 0, "failed": 1, "finishedAt": "t"}
}"#;
        let s: Status = serde_json::from_str(text).unwrap();
        assert_eq!(s.sync, SyncStatus::OutOfSync);
        assert_eq!(s.last_operation.as_ref().map(|o| o.phase), Some(OperationPhase::Failed));
        assert!(s.health.is_ready());
        assert!(!s.is_ready());
        let back = serde_json::to_value(&s).unwrap();
        let before: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut before = before;
        before["lastOperation"]["notDone"] = serde_json::json!([]);
        assert_eq!(back, before);
    }
}
