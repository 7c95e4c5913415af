//! Assessing any parsed object must never panic: built-in checks read fields of any type,
//! bundled Lua checks see any shape, and a script that walks the whole object (`pairs`
//! everywhere) sees it intact. The health is always one of Argo CD's statuses or none.
#![no_main]

use std::sync::OnceLock;

use gitops_health::HealthChecks;
use gitops_health::lua::{Engine, Libraries, Script};
use libfuzzer_sys::fuzz_target;

/// Counts every field reachable through `pairs`, reading each lazily built table.
const WALK: &str = r#"
local n = 0
local function walk(v, depth)
  if type(v) == "table" and depth < 64 then
    for _, x in pairs(v) do
      n = n + 1
      walk(x, depth + 1)
    end
  end
end
walk(obj, 0)
return {status = "Healthy", message = tostring(n)}
"#;

fn count(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => a.iter().filter(|x| !x.is_null()).map(|x| 1 + count(x)).sum(),
        serde_json::Value::Object(m) => m.values().filter(|x| !x.is_null()).map(|x| 1 + count(x)).sum(),
        _ => 0,
    }
}

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    static CHECKS: OnceLock<HealthChecks> = OnceLock::new();
    let checks = CHECKS.get_or_init(HealthChecks::default);
    let text = String::from_utf8_lossy(data);
    let Ok(objects) = gitops_core::manifest::parse("fuzz", &text) else { return };
    let walk = Script::new(WALK, Libraries::Trusted, "walk");
    for o in &objects {
        let _ = checks.assess(o.value());
        if depth(o.value()) < 60 {
            let got = Engine::default().evaluate(&walk, o.value()).expect("walk").expect("status");
            assert_eq!(got.message, count(o.value()).to_string(), "the walk must see every field");
        }
    }
});
