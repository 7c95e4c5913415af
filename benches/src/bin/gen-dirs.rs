//! Writes a desired and a live directory of N objects each (one file per object), for timing
//! `gitops diff` end to end: `gen-dirs OUT N` creates OUT/desired and OUT/live.

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: gen-dirs OUT N");
        std::process::exit(2);
    };
    let out = std::path::Path::new(out);
    let mut bytes = 0usize;
    for (side, idx) in [("desired", 0), ("live", 1)] {
        std::fs::create_dir_all(out.join(side)).expect("create dir");
        for (i, pair) in gitops_benches::pairs(n).into_iter().enumerate() {
            let o = if idx == 0 { pair.0 } else { pair.1 };
            let text = gitops_core::report::display_yaml(o.value());
            bytes += text.len();
            let mut f = std::fs::File::create(out.join(side).join(format!("{i:05}.yaml"))).expect("create file");
            f.write_all(text.as_bytes()).expect("write");
        }
    }
    println!("wrote {n} pairs, {bytes} bytes of YAML, under {}", out.display());
}
