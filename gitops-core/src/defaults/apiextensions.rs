//! The `apiextensions.k8s.io` group: CustomResourceDefinition (section 11, `v1` only).

use serde_json::{Value, json};

use super::Object;
use super::tree::*;
/// CustomResourceDefinition (apiextensions.k8s.io/v1).
pub(super) fn custom_resource_definition(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    if let Some(names) = child(spec, "names")
        && let Some(kind) = str_at(names, "kind").filter(|k| !k.is_empty())
    {
        let (singular, list_kind) = (kind.to_lowercase(), format!("{kind}List"));
        set_default_if_empty(names, "singular", json!(singular));
        set_default_if_empty(names, "listKind", json!(list_kind));
    }
    set_default(spec, "conversion", json!({"strategy": "None"}));
    if let Some(service) = path(spec, &["conversion", "webhook", "clientConfig", "service"]) {
        set_default(service, "port", json!(443));
    }
    let storage_version = spec
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .find(|version| version.get("storage") == Some(&Value::Bool(true)))
        .and_then(|version| str_at(version, "name"))
        .map(str::to_owned);
    if let Some(storage_version) = storage_version
        && let Some(status) = child_or_insert(root, "status")
    {
        set_default_if_empty(status, "storedVersions", json!([storage_version]));
    }
}
