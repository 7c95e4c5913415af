//! Argo CD's task order: phase, wave, kind (its fixed table), name; then Namespaces and CRDs
//! hoisted ahead of what depends on them; prune waves mirrored and `PruneLast`; and within a
//! wave the order the operation works in: prunes, then applies, then hooks.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::task::{Phase, Task};

/// Argo CD's kind order. Listed kinds sort by position; any other kind (every custom
/// resource) sorts after all of them. Only the kind counts, not the group.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// A kind's rank: its position in the table, or after all of them.
pub fn kind_rank(kind: &str) -> usize {
    KIND_ORDER.iter().position(|k| *k == kind).unwrap_or(KIND_ORDER.len())
}

/// Mirrors the waves of prune tasks (the highest wave is pruned first), then moves
/// `prune_last` ones after every Sync-phase wave. `prune_last(i)` says whether task `i` is
/// pruned last (the app's option or its live object's annotation).
pub fn arrange_prunes(tasks: &mut [Task], prune_last: impl Fn(usize) -> bool) {
    let waves: Vec<i64> =
        tasks.iter().filter(|t| t.is_prune()).map(|t| t.wave).collect::<BTreeSet<_>>().into_iter().collect();
    let mirror: HashMap<i64, i64> = waves.iter().zip(waves.iter().rev()).map(|(a, b)| (*a, *b)).collect();
    for t in tasks.iter_mut().filter(|t| t.is_prune()) {
        if let Some(w) = mirror.get(&t.wave) {
            t.wave = *w;
        }
    }
    let last = tasks.iter().filter(|t| t.phase == Phase::Sync).map(|t| t.wave).max().unwrap_or(0).max(0) + 1;
    for (i, t) in tasks.iter_mut().enumerate() {
        if t.is_prune() && prune_last(i) {
            t.wave = last;
        }
    }
}

/// Sorts tasks into the order the sync runs them. Argo CD sorts by phase, wave, kind and name
/// and hoists dependencies (a Namespace before the first object in it, a CRD before the first
/// of its custom resources, each taking that object's phase and wave); its sync then works
/// through each wave in steps ([`super::SyncOperation`], gitops-engine's `syncContext.Sync`):
/// prunes first, then the deletion of hooks replaced under `BeforeHookCreation`, then applies,
/// then hook creation. The tasks are grouped the same way, each group keeping kind order, so
/// a plan reads in the order things happen.
pub fn sort(tasks: &mut Vec<Task>) {
    // Argo CD's comparison (phase, wave, kind, name), with namespace and group as last
    // tie-breakers so that the order never depends on input order. The kind's rank is looked
    // up once per task, not once per comparison.
    // The step of the wave comes before the kind, so each wave reads prunes, applies, hooks.
    let mut keyed: Vec<(Phase, i64, u8, usize, usize)> =
        tasks.iter().enumerate().map(|(i, t)| (t.phase, t.wave, step_of(t), kind_rank(&t.key.kind), i)).collect();
    keyed.sort_by(|a, b| {
        let (ta, tb) = (&tasks[a.4].key, &tasks[b.4].key);
        (a.0, a.1, a.2, a.3)
            .cmp(&(b.0, b.1, b.2, b.3))
            .then_with(|| (&ta.name, &ta.namespace, &ta.group).cmp(&(&tb.name, &tb.namespace, &tb.group)))
    });
    let mut slots: Vec<Option<Task>> = std::mem::take(tasks).into_iter().map(Some).collect();
    tasks.extend(keyed.iter().filter_map(|k| slots[k.4].take()));
    hoist(
        tasks,
        |t| (t.key.group.is_empty() && t.key.kind == "Namespace").then(|| t.key.name.clone()),
        |t| (!t.key.namespace.is_empty()).then(|| t.key.namespace.clone()),
    );
    hoist(tasks, crd_defines, |t| Some(format!("{}/{}", t.key.group, t.key.kind)));
    // A hoisted dependency lands before the first task that refers to it, which keeps the steps
    // in order unless the dependency is itself a hook (a Namespace hook moved ahead of an
    // apply); then a stable sort puts it back in its step, keeping everything else in place.
    let step_key = |t: &Task| (t.phase, t.wave, step_of(t));
    if !tasks.is_sorted_by_key(step_key) {
        tasks.sort_by_key(step_key);
    }
}

/// The step of its wave a task runs in: prunes (and prunes kept) first, then applies, then
/// hooks (whose earlier instances are deleted between the prunes and the applies).
fn step_of(t: &Task) -> u8 {
    if t.is_prune() {
        0
    } else if t.is_hook() {
        2
    } else {
        1
    }
}

/// The `group/Kind` a CRD task defines.
fn crd_defines(t: &Task) -> Option<String> {
    if t.key.group != "apiextensions.k8s.io" || t.key.kind != "CustomResourceDefinition" {
        return None;
    }
    let spec = t.target.as_ref()?.get("spec")?;
    let group = spec.get("group").and_then(Value::as_str)?;
    let kind = spec.pointer("/names/kind").and_then(Value::as_str)?;
    Some(format!("{group}/{kind}"))
}

/// Argo CD's `adjustDeps`: walking the sorted tasks, a dependency (`is_dep` gives its key)
/// found after the first task that refers to it (`refers` gives the key referred to) moves
/// in front of that task. Prunes (no target) neither move nor hold anything back.
fn hoist(tasks: &mut [Task], is_dep: impl Fn(&Task) -> Option<String>, refers: impl Fn(&Task) -> Option<String>) {
    let mut first: HashMap<String, usize> = HashMap::new();
    for i in 0..tasks.len() {
        if tasks[i].target.is_none() {
            continue;
        }
        if let Some(dep) = is_dep(&tasks[i]) {
            if let Some(&at) = first.get(&dep) {
                let (phase, wave) = (tasks[at].phase, tasks[at].wave);
                tasks[i].phase = phase;
                tasks[i].wave = wave;
                tasks[at..=i].rotate_right(1);
                for v in first.values_mut() {
                    if *v >= at {
                        *v += 1;
                    }
                }
            }
        } else if let Some(key) = refers(&tasks[i]) {
            first.entry(key).or_insert(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ResourceKey;
    use crate::sync::task::{Action, ApplyOptions};
    use serde_json::json;

    fn task(group: &str, kind: &str, ns: &str, name: &str, phase: Phase, wave: i64, action: Action) -> Task {
        Task {
            key: ResourceKey::new(group, kind, ns, name),
            phase,
            wave,
            action,
            reason: String::new(),
            delete_policies: Vec::new(),
            options: ApplyOptions::default(),
            target: (action != Action::Prune).then(|| json!({"kind": kind})),
            live_exists: false,
            awaits_confirmation: false,
        }
    }

    fn names(tasks: &[Task]) -> Vec<String> {
        tasks.iter().map(|t| format!("{}:{}:{}", t.key.name, t.phase.as_str(), t.wave)).collect()
    }

    #[test]
    fn phase_wave_kind_name() {
        let mut t = vec![
            task("apps", "Deployment", "a", "web", Phase::Sync, 0, Action::Create),
            task("", "Service", "a", "web", Phase::Sync, 0, Action::Create),
            task("example.com", "Widget", "a", "w", Phase::Sync, 0, Action::Create),
            task("", "ConfigMap", "a", "z", Phase::Sync, -1, Action::Create),
            task("batch", "Job", "a", "migrate", Phase::PreSync, 5, Action::HookCreate),
            task("batch", "Job", "a", "notify", Phase::PostSync, -5, Action::HookCreate),
        ];
        sort(&mut t);
        assert_eq!(
            names(&t),
            ["migrate:PreSync:5", "z:Sync:-1", "web:Sync:0", "web:Sync:0", "w:Sync:0", "notify:PostSync:-5"]
        );
        assert_eq!(t[2].key.kind, "Service");
    }

    #[test]
    fn namespaces_and_crds_are_hoisted_with_phase_and_wave() {
        let mut crd = task(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "",
            "widgets.example.com",
            Phase::Sync,
            3,
            Action::Create,
        );
        crd.target = Some(json!({"spec": {"group": "example.com", "names": {"kind": "Widget"}}}));
        let mut t = vec![
            task("", "Namespace", "", "shop", Phase::Sync, 2, Action::Create),
            task("", "ConfigMap", "shop", "cfg", Phase::PreSync, 0, Action::HookCreate),
            task("example.com", "Widget", "shop", "w", Phase::Sync, 1, Action::Create),
            crd,
        ];
        sort(&mut t);
        assert_eq!(names(&t), ["shop:PreSync:0", "cfg:PreSync:0", "widgets.example.com:Sync:1", "w:Sync:1"]);
    }

    #[test]
    fn within_a_wave_prunes_come_first_then_applies_then_hooks() {
        let mut t = vec![
            task("apps", "Deployment", "a", "api", Phase::Sync, 0, Action::Create),
            task("batch", "Job", "a", "seed", Phase::Sync, 0, Action::HookCreate),
            task("", "ConfigMap", "a", "legacy", Phase::Sync, 0, Action::Prune),
            task("", "Service", "a", "api", Phase::Sync, 0, Action::Update),
            task("", "ConfigMap", "a", "kept", Phase::Sync, 0, Action::PruneSkipped),
            task("apps", "Deployment", "a", "legacy", Phase::Sync, 0, Action::Prune),
            task("", "ConfigMap", "a", "cfg", Phase::Sync, 1, Action::Unchanged),
            task("", "Namespace", "", "a", Phase::Sync, 0, Action::Create),
        ];
        sort(&mut t);
        let got: Vec<String> =
            t.iter().map(|t| format!("{:?} {} {} {}", t.action, t.key.kind, t.key.name, t.wave)).collect();
        assert_eq!(
            got,
            [
                "PruneSkipped ConfigMap kept 0",
                "Prune ConfigMap legacy 0",
                "Prune Deployment legacy 0",
                "Create Namespace a 0",
                "Update Service api 0",
                "Create Deployment api 0",
                "HookCreate Job seed 0",
                "Unchanged ConfigMap cfg 1",
            ]
        );
    }

    #[test]
    fn prune_waves_mirror_and_prune_last_goes_after_every_sync_wave() {
        let mut t = vec![
            task("", "ConfigMap", "a", "p1", Phase::Sync, -1, Action::Prune),
            task("", "ConfigMap", "a", "p2", Phase::Sync, 0, Action::Prune),
            task("", "ConfigMap", "a", "p3", Phase::Sync, 3, Action::Prune),
            task("", "ConfigMap", "a", "keep", Phase::Sync, 2, Action::Create),
            task("", "ConfigMap", "a", "last", Phase::Sync, 0, Action::Prune),
        ];
        arrange_prunes(&mut t, |i| i == 4);
        let waves: Vec<i64> = t.iter().map(|t| t.wave).collect();
        assert_eq!(waves, [3, 0, -1, 2, 4]);
    }
}
