//! Drive a sync operation by hand: plan it, then run Argo CD's ordering (phases, waves, kind
//! order, hooks, prunes) against a pretend cluster, a map from key to object.
//!
//! ```text
//! cargo run -p gitops-core --example sync_by_hand
//! ```
//!
//! The operation is sans-IO: it never touches a cluster. It says what to do next
//! ([`Step`]), the driver does it and reports back, and while it waits the driver feeds it the
//! health it observed and the time. The executor in `gitops-kube` is such a driver, for a
//! real cluster or a directory; this one keeps its cluster in memory.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use gitops_core::sync::operation::{Observed, OperationOptions, OperationPhase, Step, SyncOperation};
use gitops_core::sync::prepare::{Inputs, prepare};
use gitops_core::{ResourceKey, manifest};

const DESIRED: &str = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop, annotations: {argocd.argoproj.io/sync-wave: '-1'}}
data: {mode: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'nginx:1.27'}]}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: shop
  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: HookSucceeded}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: 'shop/migrate:1'}]
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let desired = manifest::parse("desired.yaml", DESIRED)?;
    let inputs = Inputs { revision: "4f2a9c1", ..Inputs::default() };
    let (plan, _retry) = prepare(&inputs, desired, Vec::new())?;
    let options = OperationOptions { wave_delay: Duration::ZERO, ..OperationOptions::default() };
    let mut op = SyncOperation::new(plan, options, SystemTime::now());

    // The pretend cluster, and the order things happened in.
    let mut cluster: BTreeMap<ResourceKey, &'static str> = BTreeMap::new();
    let mut log = Vec::new();
    loop {
        match op.next(SystemTime::now()) {
            Step::Apply(ids) => {
                for id in ids {
                    let key = op.tasks()[id].key.clone();
                    log.push(format!("apply {key}"));
                    cluster.insert(key, "applied");
                    op.applied(id, Ok(()))?;
                }
            }
            Step::CreateHooks(ids) => {
                for id in ids {
                    let key = op.tasks()[id].key.clone();
                    log.push(format!("create hook {key}"));
                    cluster.insert(key, "running");
                    op.hook_created(id, Ok(()))?;
                }
            }
            Step::Prune(ids) | Step::DeleteHooks(ids) => {
                for id in ids {
                    let key = op.tasks()[id].key.clone();
                    log.push(format!("delete {key}"));
                    cluster.remove(&key);
                    let done =
                        if op.tasks()[id].is_prune() { op.pruned(id, Ok(())) } else { op.hook_deleted(id, Ok(())) };
                    done?;
                }
            }
            // Everything this pretend cluster runs is healthy at once (a hook Job completes),
            // and what was deleted is gone.
            Step::Wait { health, deletions, message } => {
                log.push(format!("wait: {message}"));
                for id in health {
                    op.observe(id, Observed::Healthy, "")?;
                }
                for id in deletions {
                    op.observe(id, Observed::Missing, "")?;
                }
            }
            Step::Done => break,
        }
    }
    for line in &log {
        println!("{line}");
    }
    println!("{:?}: {}", op.phase(), op.message());

    // The PreSync hook ran first, the wave -1 ConfigMap before the Deployment, and the hook was
    // deleted once it succeeded.
    assert_eq!(op.phase(), OperationPhase::Succeeded);
    let position = |line: &str| log.iter().position(|l| l == line).unwrap_or(usize::MAX);
    assert!(position("create hook batch/Job/shop/migrate") < position("apply /ConfigMap/shop/settings"));
    assert!(position("apply /ConfigMap/shop/settings") < position("apply apps/Deployment/shop/web"));
    assert!(position("apply apps/Deployment/shop/web") < position("delete batch/Job/shop/migrate"));
    assert!(!cluster.keys().any(|k| k.name == "migrate"));
    Ok(())
}
