//! Rendering a directory of 10 000 objects (one file each, as desired Deployments, Services,
//! ConfigMaps... from the diff fixtures): read, parse, and write back as a YAML stream.
//!
//! Reports objects per second and the share of time spent parsing YAML, measured in the same
//! run: parsing alone is timed on the same texts already in memory.

use std::time::Instant;

use gitops_benches::median;
use gitops_render::directory::{self, DirectoryOptions};
use gitops_render::output;
use gitops_render::root::RepoRoot;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 10_000;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let texts = write_objects(dir.path(), N);
    print_target(dir.path(), &texts);
    divan::main();
}

/// Writes `n` desired objects, one file each; returns their texts.
fn write_objects(dir: &std::path::Path, n: usize) -> Vec<(String, String)> {
    gitops_benches::pairs(n)
        .into_iter()
        .enumerate()
        .map(|(i, (desired, _))| {
            let name = format!("{i:05}.yaml");
            let text = gitops_core::report::display_yaml(desired.value());
            std::fs::write(dir.join(&name), &text).expect("write");
            (name, text)
        })
        .collect()
}

fn print_target(dir: &std::path::Path, texts: &[(String, String)]) {
    let root = RepoRoot::new(dir).expect("root");
    let options = DirectoryOptions::default();
    let (mut total, mut parse) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        let objects = directory::render(&root, ".", &options).expect("render");
        let yaml = output::yaml_stream(&objects).expect("yaml");
        divan::black_box(yaml);
        total.push(t.elapsed().as_secs_f64());
        assert_eq!(objects.len(), N);
        // Parsing alone, on one core, on the same texts (the render parses on all cores).
        let t = Instant::now();
        for (name, text) in texts {
            divan::black_box(gitops_core::manifest::parse(name, text).expect("parse"));
        }
        parse.push(t.elapsed().as_secs_f64());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (total, parse) = (median(total), median(parse));
    // The render spreads parsing over the cores; its share of the wall time is the
    // single-core parse time divided among them.
    let share = (parse / cores as f64) / total;
    println!("== render target (medians of 7 rounds, one run) ==");
    println!("render {N} objects (read, parse, write YAML): {:.1} ms, {:.0} objects/s", total * 1e3, N as f64 / total);
    println!(
        "parsing alone (one core): {:.1} ms; share of the render spent parsing (on {cores} cores): {:.0}%",
        parse * 1e3,
        share * 100.0
    );
    println!();
}

#[divan::bench(sample_count = 10)]
fn render_directory(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_objects(dir.path(), 1_000);
    let root = RepoRoot::new(dir.path()).expect("root");
    bencher.bench_local(|| {
        let objects = directory::render(&root, ".", &DirectoryOptions::default()).expect("render");
        output::yaml_stream(&objects).expect("yaml")
    });
}
