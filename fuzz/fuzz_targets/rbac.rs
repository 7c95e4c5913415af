//! Any policy text and any request must be read or refused, and answered, without a panic,
//! in both match modes; a deny for the subject itself must always win. The first line of the
//! input is the request (`subject resource action object`, split at spaces), the rest the
//! policy.
#![no_main]

use gitops_core::rbac::{Enforcer, MatchMode, Policy, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (request, csv) = text.split_once('\n').unwrap_or((&text, ""));
    let mut parts = request.splitn(4, ' ');
    let sub = parts.next().unwrap_or_default();
    let res = parts.next().unwrap_or_default();
    let act = parts.next().unwrap_or_default();
    let obj = parts.next().unwrap_or_default();
    for mode in [MatchMode::Glob, MatchMode::Regex] {
        let Ok(mut policy) = Policy::from_csv(csv, mode) else { continue };
        let _ = validate(&policy);
        let rbac = Enforcer::new(policy.clone(), Some(sub.to_string()), true);
        let _ = rbac.can(sub, res, act, obj);
        // A line with no special characters is a plain deny of this very request.
        if [sub, res, act, obj].iter().all(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric())) {
            let deny = format!("p, {sub}, {res}, {act}, {obj}, deny");
            if policy.add_csv("deny", &deny).is_ok() {
                assert!(!policy.enforce(sub, res, act, obj), "a deny lost: {deny}");
            }
        }
    }
});
