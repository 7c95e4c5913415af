//! Native Kustomize against `kubectl kustomize`, in one run: a layered overlay of about 1 000
//! objects (a base and two overlays with prefixes, labels, target-selected patches, images,
//! replicas and generators), rendered by both; the outputs must be the same bytes.
//!
//! Reports both medians and the ratio (target: at least 5x faster). kubectl runs as a process,
//! so its time includes starting it, as it does for Argo CD and anyone who shells out to it.

use std::process::Command;
use std::time::Instant;

use gitops_benches::kustomize_tree::write_layered_overlay;
use gitops_benches::median;
use gitops_render::kustomize::{self, Options};
use gitops_render::root::RepoRoot;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const OBJECTS: usize = 1_000;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let overlay = write_layered_overlay(dir.path(), OBJECTS).expect("write the overlay");
    print_target(dir.path(), &overlay);
    divan::main();
}

fn relative(root: &std::path::Path, dir: &std::path::Path) -> String {
    dir.strip_prefix(root).expect("overlay inside the tree").to_string_lossy().into_owned()
}

fn print_target(root_dir: &std::path::Path, overlay: &std::path::Path) {
    let root = RepoRoot::new(root_dir).expect("root");
    let rel = relative(root_dir, overlay);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_text, mut their_text) = (String::new(), String::new());
    for _ in 0..5 {
        let t = Instant::now();
        our_text = kustomize::render(&root, &rel, &Options::default()).expect("our build");
        ours.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let out = Command::new("kubectl").arg("kustomize").arg(overlay).output().expect("run kubectl kustomize");
        theirs.push(t.elapsed().as_secs_f64());
        assert!(out.status.success(), "kubectl kustomize failed: {}", String::from_utf8_lossy(&out.stderr));
        their_text = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let objects = our_text.matches("\n---\n").count() + 1;
    let (ours, theirs) = (median(ours), median(theirs));
    println!("== kustomize target (medians of 5 interleaved rounds, one run) ==");
    println!("layered overlay, {objects} objects: ours {:.1} ms, kubectl kustomize {:.1} ms", ours * 1e3, theirs * 1e3);
    println!("ratio: {:.1}x faster (target >= 5x); same bytes: {}", theirs / ours, our_text == their_text);
    println!();
    assert_eq!(our_text, their_text, "outputs differ");
}

#[divan::bench(sample_count = 10)]
fn build_layered_overlay(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().expect("tempdir");
    let overlay = write_layered_overlay(dir.path(), OBJECTS).expect("write the overlay");
    let root = RepoRoot::new(dir.path()).expect("root");
    let rel = relative(dir.path(), &overlay);
    bencher.bench_local(|| kustomize::render(&root, &rel, &Options::default()).expect("build"));
}
