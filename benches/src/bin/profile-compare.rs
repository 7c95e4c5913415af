//! Runs the Deployment-pair comparison in a loop, for profilers (`perf record`), and prints
//! the mean and the median of single runs; `profile-compare N SET` cycles through SET
//! distinct realistic pairs instead.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let c = gitops_core::Comparator::new(gitops_core::DiffConfig::default()).expect("config");
    let set: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let pairs = gitops_benches::pairs(set);
    let (d, l) = gitops_benches::deployment_pair();
    if set > 1 {
        // Cycle through a set of `set` distinct pairs: shows how the cost per pair grows
        // with the working set (cache misses), the same work otherwise.
        let t = std::time::Instant::now();
        for i in 0..n {
            let (d, l) = &pairs[i % set];
            std::hint::black_box(c.compare(Some(d), Some(l)).expect("compare"));
        }
        println!("{:.2} µs per compare over a set of {set}", t.elapsed().as_secs_f64() * 1e6 / n as f64);
        return;
    }
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(c.compare(Some(&d), Some(&l)).expect("compare"));
    }
    println!("{:.2} µs per compare (mean of a loop)", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let mut samples: Vec<f64> = (0..n)
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(c.compare(Some(&d), Some(&l)).expect("compare"));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    println!("{:.2} µs median of single runs", samples[n / 2]);
}
