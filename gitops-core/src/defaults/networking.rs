//! The `networking.k8s.io` group: NetworkPolicy (section 9).

use serde_json::{Value, json};

use super::Object;
use super::tree::*;
/// NetworkPolicy (networking.k8s.io/v1).
pub(super) fn network_policy(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    let has_egress = spec.get("egress").and_then(Value::as_array).is_some_and(|rules| !rules.is_empty());
    let types = if has_egress { json!(["Ingress", "Egress"]) } else { json!(["Ingress"]) };
    set_default_if_empty(spec, "policyTypes", types);
    for direction in ["ingress", "egress"] {
        each_object_in_list(spec, direction, |rule| {
            each_object_in_list(rule, "ports", |port| {
                set_default(port, "protocol", json!("TCP"));
            });
        });
    }
}
