//! The `storage.k8s.io` group: CSIDriver (section 10).

use serde_json::json;

use super::Object;
use super::tree::*;
/// CSIDriver (storage.k8s.io/v1).
pub(super) fn csi_driver(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default(spec, "attachRequired", json!(true));
    set_default(spec, "podInfoOnMount", json!(false));
    set_default(spec, "storageCapacity", json!(false));
    set_default(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    set_default_if_empty(spec, "volumeLifecycleModes", json!(["Persistent"]));
    set_default(spec, "requiresRepublish", json!(false));
    set_default(spec, "seLinuxMount", json!(false));
}
