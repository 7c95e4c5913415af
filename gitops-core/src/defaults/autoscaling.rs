//! The `autoscaling` group: HorizontalPodAutoscaler (section 8).

use serde_json::{Value, json};

use super::Object;
use super::tree::*;
/// HorizontalPodAutoscaler: `v1` and `v2` print different defaults for the same stored object.
pub(super) fn horizontal_pod_autoscaler(version: &str, root: &mut Object) {
    let annotated_metrics =
        lookup(root, &["metadata", "annotations", "autoscaling.alpha.kubernetes.io/metrics"]).cloned();
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default(spec, "minReplicas", json!(1));
    match version {
        "v1"
            // No defaulter: conversion fills an 80 % CPU target when no metric is given, here or
            // in the annotation that carries v2 metrics, and prints it back.
            if !has_annotated_metrics(annotated_metrics.as_ref()) => {
                set_default(spec, "targetCPUUtilizationPercentage", json!(80));
            }
        "v2" | "v2beta2" => {
            set_default_if_empty(
                spec,
                "metrics",
                json!([{
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80}
                    }
                }]),
            );
            if let Some(behavior) = child(spec, "behavior") {
                scaling_rules(
                    behavior,
                    "scaleUp",
                    Some(0),
                    json!([
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                        {"type": "Percent", "value": 100, "periodSeconds": 15}
                    ]),
                );
                // No stabilization window: the controller's flag (300 s) applies instead.
                scaling_rules(
                    behavior,
                    "scaleDown",
                    None,
                    json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
                );
            }
        }
        _ => {}
    }
}

/// Whether the v1 metrics annotation holds metrics; one that does not parse as a list makes
/// the server fail the conversion, so no default is claimed for it either.
pub(super) fn has_annotated_metrics(annotation: Option<&Value>) -> bool {
    match annotation {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => {
            serde_json::from_str::<Vec<Value>>(text).map_or(true, |metrics| !metrics.is_empty())
        }
        Some(_) => true,
    }
}

/// One HPA scaling direction: created whenever `behavior` exists, then filled field by field
/// (a given `policies` list replaces the default list whole).
pub(super) fn scaling_rules(behavior: &mut Object, key: &str, window: Option<i64>, policies: Value) {
    if let Some(rules) = child_or_insert(behavior, key) {
        if let Some(window) = window {
            set_default(rules, "stabilizationWindowSeconds", json!(window));
        }
        set_default(rules, "selectPolicy", json!("Max"));
        set_default(rules, "policies", policies);
    }
}
