//! Realistic desired/live pairs for the benchmarks, made from the diff fixtures (objects as
//! a real API server returns them: defaults, status, managedFields, last-applied).

pub mod kustomize_tree;

use gitops_core::{Object, manifest};
use serde_json::Value;

/// Fixture cases used as templates: a mix of what a real application holds.
const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "deployment",
        include_str!("../../gitops-core/tests/fixtures/diff/01-deployment-basic-defaults/desired.yaml"),
        include_str!("../../gitops-core/tests/fixtures/diff/01-deployment-basic-defaults/live.yaml"),
    ),
    (
        "service",
        include_str!("../../gitops-core/tests/fixtures/diff/08-service-clusterip/desired.yaml"),
        include_str!("../../gitops-core/tests/fixtures/diff/08-service-clusterip/live.yaml"),
    ),
    (
        "configmap+secret",
        include_str!("../../gitops-core/tests/fixtures/diff/17-configmap-and-secret-data/desired.yaml"),
        include_str!("../../gitops-core/tests/fixtures/diff/17-configmap-and-secret-data/live.yaml"),
    ),
    (
        "statefulset",
        include_str!("../../gitops-core/tests/fixtures/diff/07-statefulset-volumeclaimtemplates/desired.yaml"),
        include_str!("../../gitops-core/tests/fixtures/diff/07-statefulset-volumeclaimtemplates/live.yaml"),
    ),
    (
        "hpa",
        include_str!("../../gitops-core/tests/fixtures/diff/16-hpa-v2-multiple-metrics/desired.yaml"),
        include_str!("../../gitops-core/tests/fixtures/diff/16-hpa-v2-multiple-metrics/live.yaml"),
    ),
    (
        "deployment drifted",
        include_str!("../../gitops-core/tests/fixtures/diff/31-deployment-replicas-drift/desired.yaml"),
        include_str!("../../gitops-core/tests/fixtures/diff/31-deployment-replicas-drift/live.yaml"),
    ),
    (
        "cronjob",
        include_str!("../../gitops-core/tests/fixtures/diff/15-cronjob/desired.yaml"),
        include_str!("../../gitops-core/tests/fixtures/diff/15-cronjob/live.yaml"),
    ),
];

fn parse(name: &str, text: &str) -> Vec<Object> {
    manifest::parse(name, text).unwrap_or_else(|e| panic!("bench template {name}: {e}"))
}

/// The template pairs, paired by position (each template file holds the same objects in
/// the same order on both sides).
pub fn template_pairs() -> Vec<(Object, Object)> {
    TEMPLATES.iter().flat_map(|(name, desired, live)| parse(name, desired).into_iter().zip(parse(name, live))).collect()
}

/// The Deployment pair (the "Deployment-sized pair" of the targets).
pub fn deployment_pair() -> (Object, Object) {
    template_pairs().into_iter().next().expect("templates hold a Deployment")
}

/// `n` pairs cycling through the templates, each object renamed `<name>-<i>` on both
/// sides so that the set has unique keys.
pub fn pairs(n: usize) -> Vec<(Object, Object)> {
    let templates = template_pairs();
    (0..n)
        .map(|i| {
            let (mut d, mut l) = templates[i % templates.len()].clone();
            // Desired files name their namespace, as a rendered app does, so that the pairs
            // also pair by key when written to a directory.
            let namespace = l.namespace().to_string();
            for o in [&mut d, &mut l] {
                let name = format!("{}-{i}", o.name());
                if let Some(Value::Object(meta)) = o.value_mut().get_mut("metadata") {
                    meta.insert("name".into(), Value::String(name));
                    if !namespace.is_empty() {
                        meta.insert("namespace".into(), Value::String(namespace.clone()));
                    }
                }
            }
            (d, l)
        })
        .collect()
}

/// A plain deep-equality walk over a pair's live object and an identical copy of it: the
/// floor against which the full comparison is measured (it visits every node once).
pub fn equality_walk(live: &Object, copy: &Object) -> bool {
    live.value() == copy.value()
}

/// Seconds one call of `f` takes.
pub fn time_once(f: &mut dyn FnMut()) -> f64 {
    let t = std::time::Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// The median of some timings.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
