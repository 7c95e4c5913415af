//! Manifest parsing must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(objects) = gitops_core::manifest::parse("fuzz", &text) {
        for o in &objects {
            let _ = o.key("default");
        }
        let _ = gitops_core::manifest::index_unique(&objects, "default");
    }
});
