//! `argoproj.io` Workflow (Argo Workflows, any version): judged by its phase.

use serde_json::Value;

use super::access::{Node, Read};
use crate::status::{Health, HealthStatus};

/// `argoproj.io` Workflow.
pub(super) fn workflow(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    let status = root.child("status")?;
    let phase = status.string("phase")?;
    let message = status.string("message")?;
    let status = match phase {
        // A workflow the controller has not picked up yet has no phase.
        "" | "Pending" | "Running" => HealthStatus::Progressing,
        "Succeeded" => HealthStatus::Healthy,
        "Failed" | "Error" => HealthStatus::Degraded,
        _ => HealthStatus::Unknown,
    };
    Ok(Health::new(status, message))
}
