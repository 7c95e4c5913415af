//! The fuzz corpus of hostile Lua scripts (`fuzz/corpus/lua_budget/`), replayed with the fuzz
//! target's property: every script ends close to its budget in both library sets, and never
//! panics. Each of them once ran for seconds or minutes inside a single library call.

use std::path::Path;
use std::time::{Duration, Instant};

use gitops_health::lua::{Engine, Libraries, Limits, Script};

#[test]
fn hostile_scripts_of_the_fuzz_corpus_end_within_their_budget() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/lua_budget");
    let mut scripts: Vec<_> =
        std::fs::read_dir(&dir).expect("the corpus is checked in").map(|e| e.unwrap().path()).collect();
    scripts.sort();
    assert!(scripts.len() >= 20, "{} scripts", scripts.len());
    let engine = Engine::new(Limits { time: Duration::from_millis(100), memory: 16 << 20 });
    let obj = serde_json::json!({"metadata": {"name": "corpus"}, "status": {"phase": "Running"}});
    for path in scripts {
        let source = std::fs::read_to_string(&path).expect("utf-8 script");
        for libraries in [Libraries::Trusted, Libraries::Restricted] {
            let start = Instant::now();
            let _ = engine.evaluate(&Script::new(source.as_str(), libraries, "corpus"), &obj);
            let spent = start.elapsed();
            assert!(spent < Duration::from_secs(2), "{} ({libraries:?}) ran {spent:?}", path.display());
        }
    }
}
