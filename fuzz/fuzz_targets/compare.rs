//! Comparing any two parsed manifest sets must never panic, and comparing a set with
//! itself must find nothing to change. The input is split at the first NUL byte into a
//! desired and a live text.
#![no_main]

use gitops_core::diff::{Comparator, DiffConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (desired, live) = text.split_once('\0').unwrap_or((&text, &text));
    let (Ok(desired), Ok(live)) =
        (gitops_core::manifest::parse("desired", desired), gitops_core::manifest::parse("live", live))
    else {
        return;
    };
    let comparator = Comparator::new(DiffConfig::default()).expect("default config");
    for o in &desired {
        let same = comparator.compare(Some(o), Some(o)).expect("self-compare");
        assert!(!same.is_modified(), "an object differs from itself: {:?}", same.patch);
    }
    let _ = comparator.diff(desired, live);
});
