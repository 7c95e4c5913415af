//! The `admissionregistration.k8s.io` group: webhook configurations and admission policies
//! (section 11, `v1` only).

use serde_json::json;

use super::Object;
use super::tree::*;
/// Mutating/ValidatingWebhookConfiguration v1 (the v1 documentation's values; the beta
/// versions had others).
pub(super) fn webhooks(root: &mut Object, mutating: bool) {
    each_object_in_list(root, "webhooks", |webhook| {
        set_default(webhook, "failurePolicy", json!("Fail"));
        set_default(webhook, "matchPolicy", json!("Equivalent"));
        set_default(webhook, "namespaceSelector", json!({}));
        set_default(webhook, "objectSelector", json!({}));
        set_default(webhook, "timeoutSeconds", json!(10));
        if mutating {
            set_default(webhook, "reinvocationPolicy", json!("Never"));
        }
        each_object_in_list(webhook, "rules", rule_scope);
        if let Some(service) = path(webhook, &["clientConfig", "service"]) {
            set_default(service, "port", json!(443));
        }
    });
}

/// Admission rules match resources of every scope unless told otherwise.
pub(super) fn rule_scope(rule: &mut Object) {
    set_default(rule, "scope", json!("*"));
}

/// ValidatingAdmissionPolicy v1.
pub(super) fn validating_admission_policy(root: &mut Object) {
    if let Some(spec) = child(root, "spec") {
        set_default(spec, "failurePolicy", json!("Fail"));
        if let Some(constraints) = child(spec, "matchConstraints") {
            match_resources(constraints);
        }
    }
}

/// MutatingAdmissionPolicy v1: the same failure policy and match constraints as the validating
/// kind (`reinvocationPolicy` has no default: the server requires it).
pub(super) fn mutating_admission_policy(root: &mut Object) {
    validating_admission_policy(root);
}

/// MatchResources of admission policies and their bindings; the rules inside are the same Go
/// type as webhook rules and get the same scope default.
pub(super) fn match_resources(resources: &mut Object) {
    set_default(resources, "matchPolicy", json!("Equivalent"));
    set_default(resources, "namespaceSelector", json!({}));
    set_default(resources, "objectSelector", json!({}));
    each_object_in_list(resources, "resourceRules", rule_scope);
    each_object_in_list(resources, "excludeResourceRules", rule_scope);
}
