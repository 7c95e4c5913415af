//! The `rbac.authorization.k8s.io` group: role bindings (section 11).

use serde_json::json;

use super::Object;
use super::tree::*;
/// RoleBinding and ClusterRoleBinding (rbac.authorization.k8s.io/v1).
pub(super) fn role_binding(root: &mut Object) {
    if let Some(role_ref) = child(root, "roleRef") {
        set_default_if_empty(role_ref, "apiGroup", json!("rbac.authorization.k8s.io"));
    }
    each_object_in_list(root, "subjects", |subject| {
        // ServiceAccount subjects get "" (the core group), which is invisible.
        if matches!(str_at(subject, "kind"), Some("User" | "Group")) {
            set_default_if_empty(subject, "apiGroup", json!("rbac.authorization.k8s.io"));
        }
    });
}
