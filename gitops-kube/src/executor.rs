//! Runs a sync operation (the core's sans-IO state machine) on a [`FileCluster`].
//!
//! Applies, prunes and hooks are carried out as the operation asks and reported back. A
//! FileCluster has no controllers, so health cannot be assessed there: objects a wave waits on
//! are reported healthy ("not assessed"), hooks complete as soon as they are created, and the
//! caller's output says so. Before a prune the live object is read again and deleted only if
//! it is still tracked by this app: nothing the app does not own is ever pruned.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use gitops_core::app::{AppSpec, is_tracked_by};
use gitops_core::sync::operation::{Observed, Step, SyncOperation};
use gitops_core::{Object, Origin, ResourceKey};

use crate::file_cluster::{Applied, Error, FileCluster, Lock};

/// What the health of objects on a FileCluster is reported as.
pub const NOT_ASSESSED: &str = "health not assessed: a FileCluster has no controllers";

/// One step done, for progress output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What was done: `apply`, `prune`, `hook`, `delete hook`.
    pub verb: &'static str,
    /// The object.
    pub key: ResourceKey,
    /// What came of it: `created`, `configured`, `unchanged`, `pruned`, an error...
    pub outcome: String,
    /// Whether it failed.
    pub failed: bool,
}

/// Drives `op` to its end on `cluster` (whose lock is held), calling `progress` after each step.
/// When `stop` becomes true (Ctrl-C), the operation is terminated as Argo CD terminates one: no
/// new work starts, running hooks are deleted, and it ends Failed; the results say what was
/// not done. Errors are the cluster's own I/O failures that stop the run; a refused object is
/// reported to the operation as a failed task instead.
pub fn run(
    op: &mut SyncOperation,
    cluster: &FileCluster,
    lock: &Lock,
    app: &AppSpec,
    stop: Option<&AtomicBool>,
    progress: &mut dyn FnMut(&Event),
) -> Result<(), Error> {
    let dry_run = op.options().dry_run;
    let mut terminated = false;
    loop {
        if !terminated && stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            op.terminate();
            terminated = true;
        }
        match op.next(SystemTime::now()) {
            Step::Done => return Ok(()),
            Step::Apply(ids) | Step::CreateHooks(ids) if dry_run => {
                for i in ids {
                    let hook = op.tasks()[i].is_hook();
                    let event = event(op, i, if hook { "hook" } else { "apply" }, Ok("checked (dry run)".into()));
                    progress(&event);
                    report(op, i, hook, Ok(()));
                }
            }
            Step::Apply(ids) | Step::CreateHooks(ids) => {
                for i in ids {
                    let hook = op.tasks()[i].is_hook();
                    let result = apply(op, i, cluster, lock);
                    let event = event(op, i, if hook { "hook" } else { "apply" }, result.clone());
                    progress(&event);
                    report(op, i, hook, result.map(drop));
                }
            }
            Step::Prune(ids) => {
                for i in ids {
                    let result = prune(op, i, cluster, lock, app, dry_run);
                    progress(&event(op, i, "prune", result.clone()));
                    let _ = op.pruned(i, result.map(drop));
                }
            }
            Step::DeleteHooks(ids) => {
                for i in ids {
                    let key = op.tasks()[i].key.clone();
                    let result = if dry_run {
                        Ok("deleted (dry run)".to_string())
                    } else {
                        cluster.delete(lock, &key).map(|_| "deleted".to_string()).map_err(|e| e.to_string())
                    };
                    progress(&event(op, i, "delete hook", result.clone()));
                    let _ = op.hook_deleted(i, result.map(drop));
                }
            }
            Step::Wait { health, deletions, .. } => {
                for i in health {
                    let _ = op.observe(i, Observed::Healthy, NOT_ASSESSED);
                }
                for i in deletions {
                    let gone = cluster.get(&op.tasks()[i].key)?.is_none();
                    let observed = if gone { Observed::Missing } else { Observed::Progressing };
                    let _ = op.observe(i, observed, "");
                }
            }
        }
    }
}

fn report(op: &mut SyncOperation, i: usize, hook: bool, result: Result<(), String>) {
    // Reports are for tasks the operation just handed out, so it cannot refuse them.
    let _ = if hook { op.hook_created(i, result) } else { op.applied(i, result) };
}

fn event(op: &SyncOperation, i: usize, verb: &'static str, result: Result<String, String>) -> Event {
    let key = op.tasks()[i].key.clone();
    match result {
        Ok(outcome) => Event { verb, key, outcome, failed: false },
        Err(outcome) => Event { verb, key, outcome, failed: true },
    }
}

fn apply(op: &SyncOperation, i: usize, cluster: &FileCluster, lock: &Lock) -> Result<String, String> {
    let task = &op.tasks()[i];
    let Some(target) = task.target.clone() else { return Err("nothing to apply (no desired object)".into()) };
    let mut obj = Object::new(target, Origin::inline("desired"));
    if !obj.is_cluster_scoped()
        && obj.namespace().is_empty()
        && !task.key.namespace.is_empty()
        && let Some(meta) = obj.value_mut().get_mut("metadata").and_then(|m| m.as_object_mut())
    {
        meta.insert("namespace".into(), task.key.namespace.clone().into());
    }
    match cluster.apply(lock, &obj) {
        Ok((Applied::Created, _)) => Ok("created".into()),
        Ok((Applied::Configured, _)) => Ok("configured".into()),
        Ok((Applied::Unchanged, _)) => Ok("unchanged".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn prune(
    op: &SyncOperation,
    i: usize,
    cluster: &FileCluster,
    lock: &Lock,
    app: &AppSpec,
    dry_run: bool,
) -> Result<String, String> {
    let key = &op.tasks()[i].key;
    let Some(live) = cluster.get(key).map_err(|e| e.to_string())? else { return Ok("already gone".into()) };
    // Checked again at the moment of deletion, whatever the plan said.
    if !is_tracked_by(&live, app) {
        return Err(format!("not pruned: {key} is not tracked by app {}", app.name));
    }
    if dry_run {
        return Ok("pruned (dry run)".into());
    }
    cluster.delete(lock, key).map(|_| "pruned".to_string()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use gitops_core::app::{AppKind, AppSpec};
    use gitops_core::manifest;
    use gitops_core::sync::operation::{OperationOptions, OperationPhase, SyncOperation};
    use gitops_core::sync::prepare::prepare;

    use super::*;

    #[test]
    fn a_stop_terminates_the_operation_and_nothing_more_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = FileCluster::new(dir.path());
        let lock = cluster.lock().unwrap();
        let app = AppSpec {
            kind: AppKind::ArgoApplication,
            name: "shop".into(),
            destination_namespace: Some("shop".into()),
            force_namespace: false,
            ignore_differences: Vec::new(),
            sync_options: Vec::new(),
            automated: None,
            retry: None,
            unused: Vec::new(),
        };
        let desired = manifest::parse(
            "d",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {argocd.argoproj.io/sync-wave: '1'}}\n",
        )
        .unwrap();
        let (plan, _) = prepare(Some(&app), desired, Vec::new(), None, false, "rev", 0).unwrap();
        let options = OperationOptions { wave_delay: std::time::Duration::ZERO, ..OperationOptions::default() };
        let mut op = SyncOperation::new(plan, options, SystemTime::now());
        let stop = AtomicBool::new(true);
        let mut events = Vec::new();
        run(&mut op, &cluster, &lock, &app, Some(&stop), &mut |e| events.push(e.clone())).unwrap();
        assert_eq!(op.phase(), OperationPhase::Failed);
        assert!(events.is_empty(), "{events:?}");
        assert!(op.results().iter().all(|r| r.code.is_none()), "nothing ran");
        assert!(cluster.list().unwrap().is_empty());
    }
}
