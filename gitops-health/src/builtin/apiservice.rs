//! `apiregistration.k8s.io` APIService (`v1`, `v1beta1`): judged by its `Available` condition.

use serde_json::Value;

use super::access::{Node, Read, first_condition};
use crate::status::{Health, HealthStatus};

/// `apiregistration.k8s.io` APIService.
pub(super) fn api_service(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    let status = root.child("status")?;
    Ok(match first_condition(&status, "Available")? {
        Some(available) => {
            let verdict = if available.status()? == "True" { HealthStatus::Healthy } else { HealthStatus::Progressing };
            Health::new(verdict, format!("{}: {}", available.reason()?, available.message()?))
        }
        None => Health::new(HealthStatus::Progressing, "Waiting to be processed"),
    })
}
