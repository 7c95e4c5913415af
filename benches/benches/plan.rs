//! Sync planning throughput: 10 000 objects with mixed waves, hooks, updates and prunes.
//!
//! Target (this machine): under 20 ms for the whole plan.

use std::time::Instant;

use gitops_benches::median;
use gitops_core::sync::{PlanConfig, PlanResource, plan};
use gitops_core::{Object, Origin};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    print_target();
    divan::main();
}

/// `n` resources: a tenth of them hooks (PreSync, PostSync), a tenth pruned, a fifth
/// modified, waves from -2 to 3, spread over 20 namespaces (each with its Namespace).
fn resources(n: usize) -> Vec<PlanResource> {
    let object = |v: serde_json::Value| Object::new(v, Origin::inline("bench"));
    (0..n)
        .map(|i| {
            let ns = format!("team-{}", i % 20);
            let wave = (i % 6) as i64 - 2;
            let mut annotations = json!({"argocd.argoproj.io/sync-wave": wave.to_string()});
            let (api, kind) = match i % 10 {
                0 => {
                    annotations["argocd.argoproj.io/hook"] = json!(if i % 20 == 0 { "PreSync" } else { "PostSync" });
                    ("batch/v1", "Job")
                }
                1 | 2 => ("apps/v1", "Deployment"),
                3 => ("v1", "Service"),
                _ => ("v1", "ConfigMap"),
            };
            let (kind, name, namespace) =
                if i < 20 { ("Namespace", ns.clone(), String::new()) } else { (kind, format!("obj-{i}"), ns) };
            let api = if kind == "Namespace" { "v1" } else { api };
            let v = json!({
                "apiVersion": api, "kind": kind,
                "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
                "data": {"k": "v"},
            });
            let o = object(v);
            let key = o.key("default");
            match i % 10 {
                9 => PlanResource { key, desired: None, live: Some(o), modified: false },
                4 | 5 => PlanResource { key, desired: Some(o.clone()), live: Some(o), modified: true },
                6 | 7 => PlanResource { key, desired: Some(o.clone()), live: Some(o), modified: false },
                _ => PlanResource { key, desired: Some(o), live: None, modified: false },
            }
        })
        .collect()
}

fn config() -> PlanConfig<'static> {
    PlanConfig {
        prune: true,
        namespace: "default".into(),
        revision: "0123456789abcdef".into(),
        started_at: 1_700_000_000,
        ..Default::default()
    }
}

#[divan::bench(args = [100, 10_000])]
fn plan_objects(bencher: divan::Bencher, n: usize) {
    let r = resources(n);
    let c = config();
    bencher.with_inputs(|| r.clone()).bench_local_values(|r| plan(divan::black_box(r), &c).expect("plan"));
}

/// The median of several whole plans of 10 000 objects (input prepared and result freed
/// outside the timing, as divan does), printed against the target.
fn print_target() {
    let r = resources(10_000);
    let c = config();
    let samples: Vec<f64> = (0..15)
        .map(|_| {
            let input = r.clone();
            let t = Instant::now();
            let planned = divan::black_box(plan(input, &c).expect("plan"));
            let elapsed = t.elapsed().as_secs_f64();
            // Freeing the plan is the caller's business, not planning.
            drop(planned);
            elapsed
        })
        .collect();
    let p = plan(r, &c).expect("plan");
    println!("== plan target (median of 15 runs, one run) ==");
    println!(
        "plan of 10 000 objects ({} tasks, {} steps): {:.2} ms  (target < 20 ms)",
        p.tasks.len(),
        p.tasks.windows(2).filter(|w| (w[0].phase, w[0].wave) != (w[1].phase, w[1].wave)).count() + 1,
        median(samples) * 1e3
    );
    println!();
}
