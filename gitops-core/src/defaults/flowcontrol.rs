//! The `flowcontrol.apiserver.k8s.io` group: PriorityLevelConfiguration (section 11, `v1` only).

use serde_json::json;

use super::Object;
use super::tree::*;
/// PriorityLevelConfiguration (flowcontrol.apiserver.k8s.io/v1).
pub(super) fn priority_level_configuration(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    if let Some(limited) = child(spec, "limited") {
        set_default(limited, "nominalConcurrencyShares", json!(30));
        set_default(limited, "lendablePercent", json!(0));
        if let Some(queuing) = path(limited, &["limitResponse", "queuing"]) {
            set_default_if_empty(queuing, "queues", json!(64));
            set_default_if_empty(queuing, "handSize", json!(8));
            set_default_if_empty(queuing, "queueLengthLimit", json!(50));
        }
    }
    if let Some(exempt) = child(spec, "exempt") {
        set_default(exempt, "nominalConcurrencyShares", json!(0));
        set_default(exempt, "lendablePercent", json!(0));
    }
}
