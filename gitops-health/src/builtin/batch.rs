//! `batch/v1` Job: judged by its terminal conditions.
//!
//! Upstream scans every condition and lets later ones overwrite the message, and it does not look at the
//! `status` of `Failed` or `Complete` (the Job controller only ever sets them True). A `Suspended`
//! condition counts as an end state whatever its status, so a resumed Job that has not finished yet reads
//! Healthy: an upstream quirk, kept so results match Argo CD.

use serde_json::Value;

use super::access::{Node, Read, conditions};
use crate::status::{Health, HealthStatus};

/// `batch/v1` Job.
pub(super) fn job(obj: &Value) -> Read<Health> {
    let (mut failed, mut complete, mut suspended) = (false, false, false);
    let (mut fail_message, mut message) = ("", "");
    let root = Node::root(obj);
    let status = root.child("status")?;
    for condition in conditions(&status)? {
        let condition = condition?;
        match condition.kind {
            "Failed" => {
                failed = true;
                complete = true;
                fail_message = condition.message()?;
            }
            "Complete" => {
                complete = true;
                message = condition.message()?;
            }
            "Suspended" => {
                complete = true;
                message = condition.message()?;
                if condition.status()? == "True" {
                    suspended = true;
                }
            }
            _ => {}
        }
    }
    Ok(if !complete {
        Health::new(HealthStatus::Progressing, message)
    } else if failed {
        Health::new(HealthStatus::Degraded, fail_message)
    } else if suspended {
        Health::new(HealthStatus::Suspended, message)
    } else {
        Health::new(HealthStatus::Healthy, message)
    })
}
