//! Whatever the bytes, an identity the API server's rules accept can never steer a path: no
//! part holds a separator, a NUL, or is `.` or `..` (the FileCluster builds paths from them).
#![no_main]

use gitops_core::{ResourceKey, names};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\n');
    let mut next = || parts.next().unwrap_or("").to_string();
    let (group, kind, namespace, name, api_version) = (next(), next(), next(), next(), next());
    let key = ResourceKey { group, kind, namespace, name };
    let safe = |s: &str| !s.contains(['/', '\0']) && s != "." && s != "..";
    if names::check_key(&key).is_ok() {
        for part in [&key.group, &key.kind, &key.namespace, &key.name] {
            assert!(safe(part), "{part:?} passed the rules");
        }
    }
    if names::check_api_version(&api_version).is_ok() {
        assert!(api_version.split('/').count() <= 2 && api_version.split('/').all(|p| safe(p) && !p.is_empty()));
    }
});
