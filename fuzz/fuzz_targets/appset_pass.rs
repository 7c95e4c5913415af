//! Any manifests as ApplicationSets, Applications and Helm release Secrets must be read or
//! refused without a panic: a controller pass over each set (generation, RollingSync progress,
//! status) with the other objects as its existing apps, and every Secret read as a Helm
//! release; any text decoded as Helm's release encoding.
#![no_main]

use gitops_core::appset::{self, Inputs};
use gitops_core::helm_storage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = helm_storage::decode(&text);
    let Ok(objects) = gitops_core::manifest::parse("fuzz", &text) else { return };
    let now: jiff::Timestamp = "2026-12-07T10:00:00Z".parse().expect("a time");
    for o in &objects {
        if o.kind() == "ApplicationSet" {
            let _ = appset::controller::pass(o, appset::generate_all(o, &Inputs::default()), &objects, now);
            if let Ok(Some(rolling)) = appset::progressive::RollingSync::of(o) {
                let _ = appset::progressive::advance(&rolling, &appset::progressive::previous(o), &objects, &objects, now);
            }
        }
        if o.kind() == "Secret" {
            let _ = helm_storage::Release::from_secret(o);
        }
    }
});
