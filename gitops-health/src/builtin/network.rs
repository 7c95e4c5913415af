//! Service and Ingress: both are healthy once a load balancer has reported an address.
//!
//! Only the list's length counts, so `ingress: [{}]` is healthy too: the API docs require an IP or a
//! hostname in each entry, but upstream does not look.

use serde_json::Value;

use super::access::{Node, Read};
use crate::status::{Health, HealthStatus};

/// `v1` Service: a `LoadBalancer` waits for its address; every other type is healthy as soon as it exists.
pub(super) fn service(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    let service_type = root.child("spec")?.string("type")?;
    let addressed = addressed(&root)?;
    Ok(Health::bare(if service_type != "LoadBalancer" || addressed {
        HealthStatus::Healthy
    } else {
        HealthStatus::Progressing
    }))
}

/// Ingress in `extensions` or `networking.k8s.io`, any version.
///
/// Upstream reads this one untyped and drops the read error, so a malformed `status.loadBalancer.ingress`
/// is Progressing, not Unknown; that is kept so results match Argo CD.
pub(super) fn ingress(obj: &Value) -> Health {
    let addressed = addressed(&Node::root(obj)).unwrap_or(false);
    Health::bare(if addressed { HealthStatus::Healthy } else { HealthStatus::Progressing })
}

/// Whether `status.loadBalancer.ingress` lists at least one entry.
fn addressed(root: &Node<'_, '_>) -> Read<bool> {
    let status = root.child("status")?;
    let load_balancer = status.child("loadBalancer")?;
    Ok(!load_balancer.list("ingress")?.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn malformed_ingress_status_is_progressing() {
        for status in [json!({"loadBalancer": {"ingress": "x"}}), json!({"loadBalancer": 1}), json!("x")] {
            assert_eq!(ingress(&json!({ "status": status })), Health::bare(HealthStatus::Progressing));
        }
    }

    #[test]
    fn malformed_service_status_is_an_error() {
        let obj = json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": {}}}});
        assert_eq!(
            service(&obj).unwrap_err().to_string(),
            "status.loadBalancer.ingress: expected a list, got an object"
        );
    }
}
