//! The `resource.k8s.io` group (dynamic resource allocation): claims and claim templates.

use serde_json::json;

use super::Object;
use super::tree::*;
/// The resource.k8s.io versions whose DeviceToleration carries the `Equal` marker.
pub(super) fn is_dra_version(version: &str) -> bool {
    matches!(version, "v1" | "v1beta1" | "v1beta2")
}

/// A ResourceClaimSpec: device tolerations sit on the request itself (v1beta1), on its
/// `exactly` block (v1, v1beta2) and on each `firstAvailable` alternative.
pub(super) fn resource_claim_spec(spec: &mut Object) {
    let Some(devices) = child(spec, "devices") else {
        return;
    };
    let tolerations = |holder: &mut Object| {
        each_object_in_list(holder, "tolerations", |toleration| {
            set_default_if_empty(toleration, "operator", json!("Equal"));
        });
    };
    each_object_in_list(devices, "requests", |request| {
        tolerations(request);
        if let Some(exactly) = child(request, "exactly") {
            tolerations(exactly);
        }
        each_object_in_list(request, "firstAvailable", tolerations);
    });
}
