//! The `batch` group: Job and CronJob (section 7).

use serde_json::json;

use super::Object;
use super::pod::{copy_template_labels, pod_template_at};
use super::tree::*;
/// Job (batch/v1). The selector and the uid-bearing labels the Job strategy generates are
/// not reproduced (see the module docs).
pub(super) fn job(root: &mut Object) {
    let labels = non_empty_object(lookup(root, &["spec", "template", "metadata", "labels"]));
    if let Some(spec) = child(root, "spec") {
        if !is_set(spec, "completions") && !is_set(spec, "parallelism") {
            spec.insert("completions".to_owned(), json!(1));
        }
        set_default(spec, "parallelism", json!(1));
        let backoff = if is_set(spec, "backoffLimitPerIndex") { i32::MAX } else { 6 };
        set_default(spec, "backoffLimit", json!(backoff));
        set_default(spec, "completionMode", json!("NonIndexed"));
        set_default(spec, "suspend", json!(false));
        let has_failure_policy = is_set(spec, "podFailurePolicy");
        if let Some(policy) = child(spec, "podFailurePolicy") {
            each_object_in_list(policy, "rules", |rule| {
                each_object_in_list(rule, "onPodConditions", |pattern| {
                    set_default_if_empty(pattern, "status", json!("True"));
                });
            });
        }
        let replacement = if has_failure_policy { "Failed" } else { "TerminatingOrFailed" };
        set_default(spec, "podReplacementPolicy", json!(replacement));
        set_default(spec, "manualSelector", json!(false));
        pod_template_at(spec, "template");
    }
    copy_template_labels(root, labels);
}

/// CronJob (batch/v1). Its `jobTemplate.spec` gets no Job defaults, only the pod template's.
pub(super) fn cron_job(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_default_if_empty(spec, "concurrencyPolicy", json!("Allow"));
    set_default(spec, "suspend", json!(false));
    set_default(spec, "successfulJobsHistoryLimit", json!(3));
    set_default(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_spec) = path(spec, &["jobTemplate", "spec"]) {
        pod_template_at(job_spec, "template");
    }
}
