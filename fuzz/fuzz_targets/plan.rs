//! Planning any parsed app must never panic, and the plan keeps Argo CD's invariants: phases
//! in order, every namespace before the objects in it, nothing pruned that the desired state
//! still has. The input is split at the first NUL byte into a desired and a live text.
#![no_main]

use std::collections::BTreeMap;

use gitops_core::sync::{Action, PlanConfig, PlanResource, plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (desired, live) = text.split_once('\0').unwrap_or((&text, ""));
    let (Ok(desired), Ok(live)) =
        (gitops_core::manifest::parse("desired", desired), gitops_core::manifest::parse("live", live))
    else {
        return;
    };
    let mut resources: BTreeMap<_, PlanResource> = BTreeMap::new();
    for o in desired {
        let key = o.key("default");
        resources.insert(key.clone(), PlanResource { key, desired: Some(o), live: None, modified: true });
    }
    for o in live {
        let key = o.key("default");
        resources.entry(key.clone()).or_insert(PlanResource { key, desired: None, live: None, modified: true }).live =
            Some(o);
    }
    let has_desired: Vec<_> = resources.values().filter(|r| r.desired.is_some()).map(|r| r.key.clone()).collect();
    let config = PlanConfig { prune: true, allow_empty: true, namespace: "default".into(), ..Default::default() };
    let Ok(p) = plan(resources.into_values().collect(), &config) else { return };
    for (i, t) in p.tasks.iter().enumerate() {
        if i > 0 {
            assert!(p.tasks[i - 1].phase <= t.phase, "phases out of order");
        }
        if t.action == Action::Prune {
            assert!(!has_desired.contains(&t.key), "pruned a desired object: {}", t.key);
        }
        if t.target.is_some() && !t.key.namespace.is_empty() {
            let ns = p.tasks.iter().position(|n| {
                n.target.is_some() && n.key.group.is_empty() && n.key.kind == "Namespace" && n.key.name == t.key.namespace
            });
            assert!(ns.is_none_or(|n| n < i), "namespace after {}", t.key);
        }
    }
});
