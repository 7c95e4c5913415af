//! Runs the Deployment-pair comparison in a loop, for profilers (`perf record`).
fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let c = gitops_core::Comparator::new(gitops_core::DiffConfig::default()).expect("config");
    let pairs = gitops_benches::pairs(100);
    let t = std::time::Instant::now();
    for i in 0..n {
        let (d, l) = &pairs[i % pairs.len()];
        std::hint::black_box(c.compare(Some(d), Some(l)).expect("compare"));
    }
    println!("{:.2} µs per compare", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
