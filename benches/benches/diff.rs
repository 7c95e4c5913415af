//! Diff throughput: `compare()` on realistic pairs at 1, 100 and 10 000 objects, beside a
//! plain deep-equality walk of the same pairs, so the cost of fidelity shows as a ratio.
//!
//! Targets (this machine): a Deployment-sized pair under 20 µs; the full comparison at most
//! 15x the equality walk; 10 000 pairs at most 110x the cost of 100 pairs.

use std::time::Instant;

use gitops_benches::{deployment_pair, equality_walk, median, pairs, time_once};

// The same allocator as the `gitops` binary: the diff allocates (it returns normalized and
// predicted objects), and glibc's malloc spends a quarter of its time there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use gitops_core::diff::{Comparator, DiffConfig};

fn main() {
    print_ratios();
    divan::main();
}

fn comparator() -> Comparator {
    Comparator::new(DiffConfig::default()).expect("default config")
}

#[divan::bench]
fn compare_deployment_pair(bencher: divan::Bencher) {
    let c = comparator();
    let (d, l) = deployment_pair();
    bencher.bench_local(|| c.compare(Some(&d), Some(&l)).expect("compare"));
}

/// The same, with the result freed inside the timed region (what a caller pays in total).
#[divan::bench]
fn compare_deployment_pair_and_drop(bencher: divan::Bencher) {
    let c = comparator();
    let (d, l) = deployment_pair();
    bencher.bench_local(|| {
        divan::black_box(c.compare(Some(&d), Some(&l)).expect("compare"));
    });
}

#[divan::bench(args = [1, 100, 10_000])]
fn compare_pairs(bencher: divan::Bencher, n: usize) {
    let c = comparator();
    let pairs = pairs(n);
    bencher.bench_local(|| {
        for (d, l) in &pairs {
            divan::black_box(c.compare(Some(d), Some(l)).expect("compare"));
        }
    });
}

#[divan::bench(args = [1, 100, 10_000])]
fn equality_walk_pairs(bencher: divan::Bencher, n: usize) {
    let pairs = pairs(n);
    let copies: Vec<_> = pairs.iter().map(|(_, l)| l.clone()).collect();
    bencher.bench_local(|| {
        for ((_, l), c) in pairs.iter().zip(&copies) {
            divan::black_box(equality_walk(l, c));
        }
    });
}

/// Measures the target ratios in this same run (medians of several rounds), so they do
/// not depend on comparing numbers from two noisy runs.
fn print_ratios() {
    let c = comparator();
    let (d, l) = deployment_pair();
    // Warm up (CPU clocks, allocator pages) before anything is measured.
    let warmup = Instant::now();
    while warmup.elapsed().as_secs_f64() < 1.0 {
        divan::black_box(c.compare(Some(&d), Some(&l)).expect("compare"));
    }
    // Median of single runs, result freed inside the timing, as divan times one iteration.
    let one = median(
        (0..2000)
            .map(|_| {
                time_once(&mut || {
                    divan::black_box(c.compare(Some(&d), Some(&l)).expect("compare"));
                })
            })
            .collect(),
    );
    let small = pairs(100);
    let big = pairs(10_000);
    let copies: Vec<_> = big.iter().map(|(_, l)| l.clone()).collect();
    // Rounds of the three loops are interleaved, so a noisy neighbour slows all of them
    // alike instead of skewing one ratio.
    let (mut s100, mut s10k, mut swalk) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        s100.push(time_once(&mut || {
            for (d, l) in &small {
                divan::black_box(c.compare(Some(d), Some(l)).expect("compare"));
            }
        }));
        s10k.push(time_once(&mut || {
            for (d, l) in &big {
                divan::black_box(c.compare(Some(d), Some(l)).expect("compare"));
            }
        }));
        swalk.push(time_once(&mut || {
            for ((_, l), copy) in big.iter().zip(&copies) {
                divan::black_box(equality_walk(l, copy));
            }
        }));
    }
    let (t100, t10k, walk) = (median(s100), median(s10k), median(swalk));
    println!("== diff targets (medians of 7 rounds, one run) ==");
    println!("Deployment pair compare:        {:>10.2} µs   (median of 2000 single runs; target < 20 µs)", one * 1e6);
    println!("10 000 pairs compare:           {:>10.2} ms", t10k * 1e3);
    println!("10 000 pairs equality walk:     {:>10.2} ms", walk * 1e3);
    println!("compare / equality walk:        {:>10.1}x    (target <= 15x)", t10k / walk);
    println!("10 000 pairs / 100 pairs:       {:>10.1}x    (target <= 110x)", t10k / t100);
    println!();
}
