//! Health throughput: the built-in Deployment check beside a Lua check of the same logic
//! (`src/deployment_health.lua`), on the same live Deployment.
//!
//! Targets (this machine): the Lua path within 20x the built-in one, and at least 20 000 Lua
//! evaluations per second on one core. Both paths are measured twice: the bare check
//! (`builtin::check` against `Engine::evaluate`) and through `HealthChecks::assess`, what a
//! caller runs (lookup included; the Lua check there is an operator's `apps/Deployment`
//! script).

use std::time::Instant;

use gitops_benches::{deployment_pair, median, time_once};
use gitops_health::lua::{Engine, Libraries, Script};
use gitops_health::scripts::ScriptTree;
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
    let live = deployment_pair().1.into_value();
    bencher.bench_local(|| builtin::check(divan::black_box(&live)));
}

#[divan::bench]
fn lua_deployment(bencher: divan::Bencher) {
    let live = deployment_pair().1.into_value();
    let (engine, script) = (Engine::default(), lua_script());
    bencher.bench_local(|| engine.evaluate(&script, divan::black_box(&live)).expect("lua"));
}

/// The whole lookup, as `gitops health` runs it (bundled scripts consulted first).
#[divan::bench]
fn assess_deployment_builtin(bencher: divan::Bencher) {
    let live = deployment_pair().1.into_value();
    let checks = HealthChecks::default();
    bencher.bench_local(|| checks.assess(divan::black_box(&live)));
}

/// The same with an operator's Lua check for Deployments.
#[divan::bench]
fn assess_deployment_lua(bencher: divan::Bencher) {
    let live = deployment_pair().1.into_value();
    let checks = lua_checks();
    bencher.bench_local(|| checks.assess(divan::black_box(&live)));
}

fn lua_checks() -> HealthChecks {
    let mut tree = ScriptTree::new();
    tree.insert("apps/Deployment/health.lua", LUA_CHECK, "bench").expect("layout");
    HealthChecks::default().with_tree(tree)
}

/// Measures the rates in this same run, in interleaved rounds, so a noisy neighbour slows
/// every loop alike instead of skewing a ratio.
fn print_ratios() {
    let live = deployment_pair().1.into_value();
    let (engine, script) = (Engine::default(), lua_script());
    let (native_checks, lua_checks) = (HealthChecks::default(), lua_checks());
    let native = builtin::check(&live).expect("a built-in check for Deployment");
    assert_eq!(engine.evaluate(&script, &live).expect("lua"), Some(native.clone()), "the Lua check must agree");
    assert_eq!(lua_checks.assess(&live).health, Some(native), "the lookup must pick the Lua check");
    let warmup = Instant::now();
    while warmup.elapsed().as_secs_f64() < 1.0 {
        divan::black_box(engine.evaluate(&script, &live).expect("lua"));
        divan::black_box(builtin::check(&live));
    }
    const N_LUA: usize = 5_000;
    const N_NATIVE: usize = 100_000;
    let mut rounds: [Vec<f64>; 4] = Default::default();
    for _ in 0..9 {
        let per = |n: usize, f: &mut dyn FnMut()| {
            time_once(&mut || {
                for _ in 0..n {
                    f();
                }
            }) / n as f64
        };
        rounds[0].push(per(N_NATIVE, &mut || {
            divan::black_box(builtin::check(divan::black_box(&live)));
        }));
        rounds[1].push(per(N_LUA, &mut || {
            divan::black_box(engine.evaluate(&script, divan::black_box(&live)).expect("lua"));
        }));
        rounds[2].push(per(N_NATIVE, &mut || {
            divan::black_box(native_checks.assess(divan::black_box(&live)));
        }));
        rounds[3].push(per(N_LUA, &mut || {
            divan::black_box(lua_checks.assess(divan::black_box(&live)));
        }));
    }
    let [native, lua, assess_native, assess_lua] = rounds.map(median);
    println!("== health targets (medians of 9 interleaved rounds, one run, one core) ==");
    println!("built-in Deployment check:      {:>10.0} evaluations/s  ({:.3} µs)", 1.0 / native, native * 1e6);
    println!(
        "Lua Deployment check:           {:>10.0} evaluations/s  ({:.2} µs; target >= 20 000/s)",
        1.0 / lua,
        lua * 1e6
    );
    println!("  Lua / built-in:               {:>10.1}x", lua / native);
    println!(
        "assess, built-in check:         {:>10.0} evaluations/s  ({:.3} µs)",
        1.0 / assess_native,
        assess_native * 1e6
    );
    println!("assess, Lua check:              {:>10.0} evaluations/s  ({:.2} µs)", 1.0 / assess_lua, assess_lua * 1e6);
    println!("  Lua / built-in:               {:>10.1}x  (target <= 20x)", assess_lua / assess_native);
    println!();
}
