//! Any script ends close to its time budget, in either library set, and never panics: the
//! Lua sandbox's budget holds for every input, including single library calls that used to
//! run for minutes (backtracking patterns, `table.insert` at far positions, long `os.date`
//! formats, sorts of long strings). The input is the script itself, as UTF-8.
#![no_main]

use std::time::{Duration, Instant};

use gitops_health::lua::{Engine, Libraries, Limits, Script};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let limits = Limits { time: Duration::from_millis(50), memory: 16 << 20 };
    let engine = Engine::new(limits);
    let obj = serde_json::json!({"metadata": {"name": "fuzz"}, "status": {"phase": "Running"}});
    for libraries in [Libraries::Trusted, Libraries::Restricted] {
        let start = Instant::now();
        let _ = engine.evaluate(&Script::new(src, libraries, "fuzz"), &obj);
        // The budget, plus a bounded overrun: one VM instruction on a string near the memory
        // cap, at most a few hundred times.
        assert!(start.elapsed() < Duration::from_secs(2), "{libraries:?} ran {:?}", start.elapsed());
    }
});
