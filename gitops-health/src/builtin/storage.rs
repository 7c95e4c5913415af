//! `v1` PersistentVolumeClaim: judged by its phase alone.
//!
//! A claim whose storage class binds on first consumer stays Pending, hence Progressing, until a pod uses
//! it; that is upstream's behaviour and kept.

use serde_json::Value;

use super::access::{Node, Read};
use crate::status::{Health, HealthStatus};

/// `v1` PersistentVolumeClaim.
pub(super) fn persistent_volume_claim(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    Ok(Health::bare(match root.child("status")?.string("phase")? {
        "Lost" => HealthStatus::Degraded,
        "Pending" => HealthStatus::Progressing,
        "Bound" => HealthStatus::Healthy,
        _ => HealthStatus::Unknown,
    }))
}
