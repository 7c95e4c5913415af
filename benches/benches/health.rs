//! Health throughput: the built-in Deployment check beside a Lua check of the same logic
//! (`src/deployment_health.lua`), on the same live Deployment.
//!
//! Targets (this machine): the Lua path within 20x the built-in one, and at least 20 000 Lua
//! evaluations per second on one core.

use std::time::Instant;

use gitops_benches::deployment_pair;
use gitops_health::lua::{Engine, Libraries, Script};
use gitops_health::{HealthChecks, builtin};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LUA_CHECK: &str = include_str!("../src/deployment_health.lua");

fn main() {
    print_ratios();
    divan::main();
}

fn lua_script() -> Script {
    Script::new(LUA_CHECK, Libraries::Trusted, "bench")
}

#[divan::bench]
fn builtin_deployment(bencher: divan::Bencher) {
    let (_, live) = deployment_pair();
    bencher.bench_local(|| builtin::check(divan::black_box(&live)));
}

#[divan::bench]
fn lua_deployment(bencher: divan::Bencher) {
    let (_, live) = deployment_pair();
    let (engine, script) = (Engine::default(), lua_script());
    bencher.bench_local(|| engine.evaluate(&script, divan::black_box(&live)).expect("lua"));
}

/// The whole lookup, as `gitops health` runs it (bundled scripts consulted first).
#[divan::bench]
fn assess_deployment(bencher: divan::Bencher) {
    let (_, live) = deployment_pair();
    let checks = HealthChecks::default();
    bencher.bench_local(|| checks.assess(divan::black_box(&live)));
}

fn time_once(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Measures both rates in this same run, in interleaved rounds, so a noisy neighbour slows
/// both alike instead of skewing the ratio.
fn print_ratios() {
    let (_, live) = deployment_pair();
    let (engine, script) = (Engine::default(), lua_script());
    let native = builtin::check(&live).expect("a built-in check for Deployment");
    let scripted = engine.evaluate(&script, &live).expect("lua").expect("a status");
    assert_eq!(native, scripted, "the Lua check must agree with the built-in one");
    let warmup = Instant::now();
    while warmup.elapsed().as_secs_f64() < 1.0 {
        divan::black_box(engine.evaluate(&script, &live).expect("lua"));
        divan::black_box(builtin::check(&live));
    }
    const N_LUA: usize = 2_000;
    const N_NATIVE: usize = 200_000;
    let (mut lua, mut native) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        lua.push(
            time_once(&mut || {
                for _ in 0..N_LUA {
                    divan::black_box(engine.evaluate(&script, divan::black_box(&live)).expect("lua"));
                }
            }) / N_LUA as f64,
        );
        native.push(
            time_once(&mut || {
                for _ in 0..N_NATIVE {
                    divan::black_box(builtin::check(divan::black_box(&live)));
                }
            }) / N_NATIVE as f64,
        );
    }
    let (lua, native) = (median(lua), median(native));
    println!("== health targets (medians of 9 interleaved rounds, one run, one core) ==");
    println!("built-in Deployment check:      {:>12.0} evaluations/s  ({:.3} µs)", 1.0 / native, native * 1e6);
    println!(
        "Lua Deployment check:           {:>12.0} evaluations/s  ({:.2} µs; target >= 20 000/s)",
        1.0 / lua,
        lua * 1e6
    );
    println!("Lua / built-in:                 {:>12.1}x  (target <= 20x)", lua / native);
    println!();
}
