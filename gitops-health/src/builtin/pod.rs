//! `v1` Pod.
//!
//! A pod that restarts its containers forever ("always-like") is judged by its containers: one stuck in an
//! image pull or crash loop is Degraded at once. A pod with a finite life (`OnFailure`, `Never`) is typically
//! a sync hook, and marking it Degraded while it waits would fail the hook early, so such a pod is only
//! Progressing until its phase settles. The `argocd.argoproj.io/ignore-restart-policy: "true"` annotation
//! opts a non-hook pod into the always-like rules.

use serde_json::Value;

use super::GoQuoted;
use super::access::{Node, Read, first_condition};
use crate::status::{Health, HealthStatus};

/// Argo CD's hook annotation: a comma-separated list of hook types.
const ARGO_HOOK: &str = "argocd.argoproj.io/hook";
/// Helm's hook annotation, which Argo CD honours when its own is absent.
const HELM_HOOK: &str = "helm.sh/hook";
/// Opts a non-hook pod into the always-like rules whatever its restart policy.
const IGNORE_RESTART_POLICY: &str = "argocd.argoproj.io/ignore-restart-policy";

/// `v1` Pod.
pub(super) fn pod(obj: &Value) -> Read<Health> {
    let root = Node::root(obj);
    let (metadata, spec, status) = (root.child("metadata")?, root.child("spec")?, root.child("status")?);
    let annotations = metadata.child("annotations")?;
    let argo_hook = annotations.string_opt(ARGO_HOOK)?;
    let helm_hook = annotations.string_opt(HELM_HOOK)?;
    let ignore_restart_policy = annotations.string_opt(IGNORE_RESTART_POLICY)?;
    let restart_policy = spec.string("restartPolicy")?;
    let phase = status.string("phase")?;
    let message = status.string("message")?;
    let ready = match first_condition(&status, "Ready")? {
        Some(ready) => ready.status()? == "True",
        None => false,
    };
    let containers = status.entries("containerStatuses")?;
    let init_containers = status.entries("initContainerStatuses")?;

    // One pass reads every container status. A failed pod is explained by the first container that can,
    // init containers first; only regular containers count as stuck or restarted.
    let (mut stuck, mut restarted, mut explained) = (false, false, None);
    for item in init_containers {
        let container = ContainerStatus::read(&item?)?;
        if explained.is_none() && container.explains_failure() {
            explained = Some(container);
        }
    }
    for item in containers.clone() {
        let container = ContainerStatus::read(&item?)?;
        stuck |= container.is_stuck();
        restarted |= container.last_terminated;
        if explained.is_none() && container.explains_failure() {
            explained = Some(container);
        }
    }

    let always_like =
        restart_policy == "Always" || (ignore_restart_policy == Some("true") && !is_hook(argo_hook, helm_hook));

    // A stuck init container is left out on purpose, as upstream does.
    if always_like && stuck {
        let mut joined = String::new();
        let mut first = true;
        for item in containers {
            let container = ContainerStatus::read(&item?)?;
            if container.is_stuck() {
                if !first {
                    joined.push_str(", ");
                }
                joined.push_str(container.waiting_message);
                first = false;
            }
        }
        return Ok(Health::new(HealthStatus::Degraded, joined));
    }

    Ok(match phase {
        "Pending" => Health::new(HealthStatus::Progressing, message),
        "Succeeded" => Health::new(HealthStatus::Healthy, message),
        "Failed" if !message.is_empty() => Health::new(HealthStatus::Degraded, message),
        "Failed" => {
            Health::new(HealthStatus::Degraded, explained.map(ContainerStatus::failure_message).unwrap_or_default())
        }
        "Running" if always_like => {
            if ready {
                Health::new(HealthStatus::Healthy, message)
            } else if restarted {
                // Not ready and a container has died before: it is restarting, not starting.
                Health::new(HealthStatus::Degraded, message)
            } else {
                Health::new(HealthStatus::Progressing, message)
            }
        }
        // A running hook-like pod is healthy only once it has Succeeded.
        "Running" if matches!(restart_policy, "OnFailure" | "Never") => Health::new(HealthStatus::Progressing, message),
        _ => Health::new(HealthStatus::Unknown, message),
    })
}

/// gitops-engine's `hook.IsHook`: an Argo CD hook annotation makes a hook unless its only valid type is
/// `Skip`; without one, a Helm hook annotation does unless it is `crd-install` (Helm's CRD marker).
fn is_hook(argo_hook: Option<&str>, helm_hook: Option<&str>) -> bool {
    match argo_hook {
        Some(types) => !only_skip(types),
        None => helm_hook.is_some_and(|value| value != "crd-install"),
    }
}

/// Whether a hook annotation's comma-separated types, trimmed and with unknown ones ignored, are just `Skip`.
fn only_skip(types: &str) -> bool {
    let (mut skip, mut other) = (false, false);
    for hook_type in types.split(',').map(str::trim) {
        match hook_type {
            "Skip" => skip = true,
            "PreSync" | "Sync" | "PostSync" | "SyncFail" => other = true,
            _ => {}
        }
    }
    skip && !other
}

/// The fields of one `containerStatuses` entry that the check reads.
#[derive(Debug, Clone, Copy)]
struct ContainerStatus<'a> {
    name: &'a str,
    waiting_reason: &'a str,
    waiting_message: &'a str,
    terminated: bool,
    terminated_message: &'a str,
    terminated_reason: &'a str,
    exit_code: i64,
    last_terminated: bool,
}

impl<'a> ContainerStatus<'a> {
    fn read(node: &Node<'a, '_>) -> Read<ContainerStatus<'a>> {
        let state = node.child("state")?;
        let waiting = state.child("waiting")?;
        let terminated = state.child("terminated")?;
        Ok(ContainerStatus {
            name: node.string("name")?,
            waiting_reason: waiting.string("reason")?,
            waiting_message: waiting.string("message")?,
            terminated: terminated.exists(),
            terminated_message: terminated.string("message")?,
            terminated_reason: terminated.string("reason")?,
            exit_code: terminated.int_or_zero("exitCode")?,
            last_terminated: node.child("lastState")?.present("terminated")?,
        })
    }

    /// Waiting for a reason that will not clear by itself (`ErrImagePull`, `CreateContainerConfigError`,
    /// `ImagePullBackOff`, `CrashLoopBackOff`, ...).
    fn is_stuck(&self) -> bool {
        let reason = self.waiting_reason;
        reason.starts_with("Err") || reason.ends_with("Error") || reason.ends_with("BackOff")
    }

    /// Whether the container says why the pod failed: it terminated with a message, out of memory, or with a
    /// non-zero exit code.
    fn explains_failure(&self) -> bool {
        self.terminated
            && (!self.terminated_message.is_empty() || self.terminated_reason == "OOMKilled" || self.exit_code != 0)
    }

    /// Why the container failed; meaningful when [`ContainerStatus::explains_failure`] holds.
    fn failure_message(self) -> String {
        if !self.terminated_message.is_empty() {
            self.terminated_message.to_owned()
        } else if self.terminated_reason == "OOMKilled" {
            "OOMKilled".to_owned()
        } else {
            format!("container {} failed with exit code {}", GoQuoted(self.name), self.exit_code)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hook_detection_follows_gitops_engine() {
        assert!(!is_hook(None, None));
        assert!(is_hook(Some("PreSync"), None));
        assert!(is_hook(Some(""), None));
        assert!(is_hook(Some("garbage"), None));
        assert!(!is_hook(Some("Skip"), None));
        assert!(!is_hook(Some(" Skip , Skip"), Some("pre-install")));
        assert!(is_hook(Some("PreSync,Skip"), None));
        assert!(is_hook(None, Some("pre-install")));
        assert!(is_hook(None, Some("")));
        assert!(!is_hook(None, Some("crd-install")));
    }

    #[test]
    fn two_empty_waiting_messages_join_to_a_comma() {
        let obj = json!({"spec": {"restartPolicy": "Always"}, "status": {"phase": "Running", "containerStatuses": [
            {"state": {"waiting": {"reason": "CrashLoopBackOff"}}},
            {"state": {"waiting": {"reason": "ImagePullBackOff"}}}]}});
        assert_eq!(pod(&obj), Ok(Health::new(HealthStatus::Degraded, ", ")));
    }

    #[test]
    fn init_containers_do_not_degrade_a_running_pod() {
        let obj = json!({"spec": {"restartPolicy": "Always"}, "status": {"phase": "Pending",
            "initContainerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff", "message": "m"}}}]}});
        assert_eq!(pod(&obj), Ok(Health::bare(HealthStatus::Progressing)));
    }

    #[test]
    fn failed_pod_message_prefers_init_containers() {
        let obj = json!({"status": {"phase": "Failed",
            "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}},
                                      {"name": "migrate", "state": {"terminated": {"exitCode": 3.0}}}],
            "containerStatuses": [{"name": "app", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}});
        assert_eq!(pod(&obj), Ok(Health::new(HealthStatus::Degraded, "container \"migrate\" failed with exit code 3")));
    }

    #[test]
    fn a_bad_annotation_is_an_error() {
        let obj = json!({"metadata": {"annotations": {"helm.sh/hook": ["pre-install"]}}});
        assert_eq!(
            pod(&obj).unwrap_err().to_string(),
            "metadata.annotations[\"helm.sh/hook\"]: expected a string, got a list"
        );
    }
}
