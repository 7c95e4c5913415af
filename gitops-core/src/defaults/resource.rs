//! The `resource.k8s.io` group (dynamic resource allocation): claims and claim templates.

use serde_json::json;

use super::Object;
use super::tree::*;
/// The resource.k8s.io versions whose DeviceToleration carries the `Equal` marker.
pub(super) fn is_dra_version(version: &str) -> bool {
    matches!(version, "v1" | "v1beta1" | "v1beta2")
}

/// A ResourceClaimSpec: device tolerations sit on the request itself (v1beta1), on its
/// `exactly` block (v1, v1beta2) and on each `firstAvailable` alternative. The allocation mode
/// (`ExactCount`, with `count: 1`) is defaulted where a request names a device class: the
/// `exactly` block in v1 and v1beta2, the request itself in v1beta1 (only when it has a
/// `deviceClassName`, since a request with `firstAvailable` has neither), and every
/// `firstAvailable` alternative in all three.
pub(super) fn resource_claim_spec(version: &str, spec: &mut Object) {
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
        if version == "v1beta1" && str_at(request, "deviceClassName").is_some_and(|c| !c.is_empty()) {
            allocation_mode(request);
        }
        if let Some(exactly) = child(request, "exactly") {
            tolerations(exactly);
            allocation_mode(exactly);
        }
        each_object_in_list(request, "firstAvailable", |alternative| {
            tolerations(alternative);
            allocation_mode(alternative);
        });
    });
}

/// `SetDefaults_ExactDeviceRequest` / `SetDefaults_DeviceSubRequest` (and v1beta1's
/// `SetDefaults_DeviceRequest`): the mode defaults to `ExactCount`, whose count defaults to 1.
fn allocation_mode(request: &mut Object) {
    set_default_if_empty(request, "allocationMode", json!("ExactCount"));
    if str_at(request, "allocationMode") == Some("ExactCount") {
        set_default_if_empty(request, "count", json!(1));
    }
}
