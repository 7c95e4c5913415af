//! The Lua runtime contract, point by point.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Clock, Engine, Error, Libraries, Limits, Script};
use crate::status::{Health, HealthStatus};

fn trusted(src: &str) -> Script {
    Script::new(src, Libraries::Trusted, "test")
}

fn restricted(src: &str) -> Script {
    Script::new(src, Libraries::Restricted, "test")
}

fn eval(script: &Script, obj: &Value) -> Result<Option<Health>, Error> {
    Engine::default().evaluate(script, obj)
}

fn message(src: &str, obj: Value) -> String {
    match eval(&trusted(src), &obj) {
        Ok(Some(h)) => h.message,
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_obj_and_returns_status_and_message() {
    let src = r#"
        hs = {}
        if obj.status.ready == obj.spec.replicas then
          hs.status = "Healthy"
        else
          hs.status = "Progressing"
        end
        hs.message = obj.status.ready .. "/" .. obj.spec.replicas .. " ready"
        return hs
    "#;
    let got = eval(&trusted(src), &json!({"spec": {"replicas": 3}, "status": {"ready": 2}})).unwrap();
    assert_eq!(got, Some(Health::new(HealthStatus::Progressing, "2/3 ready")));
}

#[test]
fn whole_numbers_print_without_a_fraction() {
    assert_eq!(
        message(
            "return {status='Healthy', message=tostring(obj.n) .. ' ' .. 7/7 .. ' ' .. obj.f}",
            json!({"n": 3, "f": 2.5})
        ),
        "3 1 2.5"
    );
    assert_eq!(message("return {status='Healthy', message=string.format('%d', 3.7)}", json!({})), "3");
}

#[test]
fn json_null_is_absent_and_null_items_are_dropped() {
    let src = "return {status='Healthy', message=tostring(obj.a == nil) .. ' ' .. #obj.list .. ' ' .. obj.list[2]}";
    assert_eq!(message(src, json!({"a": null, "list": [1, null, 3]})), "true 2 3");
}

#[test]
fn the_lazily_built_obj_behaves_as_a_plain_table() {
    let obj = json!({
        "apiVersion": "example.com/v1", "kind": "Thing",
        "metadata": {"name": "t", "labels": {"a": "1", "b": "2"}, "annotations": null},
        "spec": {"list": [{"x": 1}, {"x": 2, "deep": {"y": "z"}}], "nested": [[1, 2], [3]], "flag": false},
        "status": {"phase": "Ready"},
    });
    let src = r#"
        local out = {}
        local function add(v) out[#out + 1] = tostring(v) end
        -- Field reads, repeated reads and identity.
        add(obj.spec == obj.spec)
        add(obj.spec.flag)
        add(obj.spec.missing)
        add(obj.spec.missing)
        -- Traversals see every field, after some were read one by one.
        local n = 0
        for k, v in pairs(obj.metadata.labels) do n = n + 1 end
        add(n)
        local keys = {}
        for k in pairs(obj) do keys[#keys + 1] = k end
        table.sort(keys)
        add(table.concat(keys, "+"))
        add(next(obj.status) ~= nil)
        add(rawget(obj.status, "phase"))
        add(obj.metadata.annotations)
        -- Arrays: length, ipairs, nested arrays, maps inside arrays.
        add(#obj.spec.list)
        local sum = 0
        for _, item in ipairs(obj.spec.list) do sum = sum + item.x end
        add(sum)
        add(obj.spec.list[2].deep.y)
        add(#obj.spec.nested[1] + #obj.spec.nested[2])
        -- Writes before and after reads.
        local st = obj.status
        st.extra = "set"
        add(obj.status.extra)
        add(obj.status.phase)
        obj.spec.flag = true
        add(obj.spec.flag)
        add(type(obj.metadata))
        return {status = "Healthy", message = table.concat(out, " ")}
    "#;
    let got = eval(&trusted(src), &obj).unwrap().unwrap();
    assert_eq!(
        got.message,
        "true false nil nil 2 apiVersion+kind+metadata+spec+status true Ready nil 2 3 z 3 set Ready true table"
    );
    // A returned subtable of obj is read whole, as Argo CD encodes it.
    let got = eval(&trusted("return obj.status"), &json!({"status": {"status": "Degraded", "message": "m"}}));
    assert_eq!(got, Ok(Some(Health::new(HealthStatus::Degraded, "m"))));
}

#[test]
fn nil_and_empty_tables_give_no_status() {
    for src in [
        "return nil",
        "",
        "return {}",
        "return {'Healthy'}",
        "return {status = 5}",
        "return {status = 'Healthy', message = {}}",
    ] {
        assert_eq!(eval(&trusted(src), &json!({})), Ok(None), "{src}");
    }
}

#[test]
fn only_the_last_returned_value_counts() {
    let got = eval(&trusted("return {status='Degraded'}, {status='Healthy'}"), &json!({})).unwrap();
    assert_eq!(got, Some(Health::bare(HealthStatus::Healthy)));
}

#[test]
fn field_names_match_like_go_json() {
    let got = eval(&trusted("return {Status='Suspended', MESSAGE='paused'}"), &json!({})).unwrap();
    assert_eq!(got, Some(Health::new(HealthStatus::Suspended, "paused")));
}

#[test]
fn an_invalid_status_is_unknown_with_argo_message() {
    for src in ["return {status='healthy'}", "return {message='no status'}", "return {status=''}", "return {extra=1}"] {
        let got = eval(&trusted(src), &json!({})).unwrap();
        assert_eq!(got, Some(Health::new(HealthStatus::Unknown, "Lua returned an invalid health status")), "{src}");
    }
}

#[test]
fn non_tables_and_unencodable_tables_are_errors() {
    assert_eq!(eval(&trusted("return 5"), &json!({})), Err(Error::Output("number")));
    assert_eq!(eval(&trusted("return 'Healthy'"), &json!({})), Err(Error::Output("string")));
    let e = |src: &str| eval(&trusted(src), &json!({})).unwrap_err().to_string();
    assert_eq!(e("return {status='Healthy', f=print}"), "cannot encode function to JSON");
    assert_eq!(e("return {status='Healthy', [1]=2}"), "cannot encode mixed or invalid key types");
    assert_eq!(e("return {[1]='a', [3]='b'}"), "cannot encode sparse array");
    assert_eq!(
        e("local t = {status='Healthy'}; t.self = t; return t"),
        "cannot encode recursively nested tables to JSON"
    );
    // A table referenced twice is not a cycle (gopher-json refuses it; we do not).
    let ok = eval(&trusted("local c = {}; return {status='Healthy', a=c, b=c}"), &json!({})).unwrap();
    assert_eq!(ok, Some(Health::bare(HealthStatus::Healthy)));
}

#[test]
fn errors_carry_lua_text_without_traceback() {
    let e = |src: &str| eval(&trusted(src), &json!({})).unwrap_err().to_string();
    assert_eq!(e("\n\nerror('boom')"), "<string>:3: boom");
    assert_eq!(e("error('exact text', 0)"), "exact text");
    let index = e("local x = obj.spec.nope.deeper");
    assert!(index.starts_with("<string>:1: attempt to index"), "{index}");
    assert!(!index.contains("traceback"), "{index}");
    assert!(matches!(eval(&trusted("return {"), &json!({})), Err(Error::Syntax(m)) if m.starts_with("<string>:1:")));
}

#[test]
fn goto_and_lua51_functions_work() {
    let src = r#"
        local n = 0
        for i = 1, 5 do
          if i % 2 == 0 then goto continue end
          n = n + 1
          ::continue::
        end
        local t = {1, 2, 3}
        return {status = 'Healthy', message = n .. ' ' .. table.getn(t) .. ' ' .. select('#', unpack(t))}
    "#;
    assert_eq!(message(src, json!({})), "3 3 3");
}

#[test]
fn trusted_scripts_get_argo_open_libraries() {
    let src = r#"
        local s = obj.name
        local parts = {}
        for p in string.gmatch(s, "[^-]+") do table.insert(parts, p) end
        return {status = 'Healthy', message = s:upper() .. ' ' .. #parts .. ' ' .. math.max(1, 4) .. ' ' .. type(os.time()) .. ' ' .. type(require('os').date)}
    "#;
    assert_eq!(message(src, json!({"name": "a-b-c"})), "A-B-C 3 4 number function");
}

#[test]
fn restricted_scripts_get_base_table_and_required_os_only() {
    let probe = r#"
        local os = require("os")
        return {status = 'Healthy', message = table.concat({type(string), type(math), type(_G.os), type(os.time), type(os.date), type(os.execute)}, ',')}
    "#;
    let got = eval(&restricted(probe), &json!({})).unwrap().unwrap();
    assert_eq!(got.message, "nil,nil,nil,function,function,nil");
    // No string metatable either: method calls on strings fail, as in Argo CD.
    let e = eval(&restricted("local s = 'x'; return {status = s:upper()}"), &json!({})).unwrap_err().to_string();
    assert!(e.starts_with("<string>:1: attempt to index"), "{e}");
}

#[test]
fn sandbox_escapes_are_refused() {
    // Everything that loads code, touches files or processes, or reaches the shared state.
    for name in [
        "io",
        "debug",
        "ffi",
        "jit",
        "load",
        "loadstring",
        "dofile",
        "loadfile",
        "getfenv",
        "setfenv",
        "module",
        "collectgarbage",
        "newproxy",
        "coroutine",
        "package",
        "bit",
    ] {
        let src = format!("return {{status = 'Healthy', message = type({name})}}");
        for script in [trusted(&src), restricted(&src)] {
            assert_eq!(eval(&script, &json!({})).unwrap().unwrap().message, "nil", "{name} ({:?})", script.libraries());
        }
    }
    let e = |src: &str| eval(&trusted(src), &json!({})).unwrap_err().to_string();
    for module in ["io", "debug", "ffi", "jit", "package"] {
        assert!(e(&format!("require('{module}')")).contains("not found"), "{module}");
    }
    assert!(e("os.execute('true')").contains("attempt to call"));
    assert!(e("os.exit(1)").contains("attempt to call"));
    assert!(e("os.getenv('HOME')").contains("attempt to call"));
    // The string metatable is hidden, so the shared string library cannot be reached.
    assert_eq!(message("return {status='Healthy', message=tostring(getmetatable(''))}", json!({})), "false");
    // Bytecode is never loaded, even as a script.
    let bytecode = "\x1bLJ\x02\x00";
    assert!(matches!(eval(&trusted(bytecode), &json!({})), Err(Error::Syntax(_))));
}

#[test]
fn no_global_leaks_between_evaluations() {
    let engine = Engine::default();
    let first = trusted(
        "leaked = 'yes'; string.upper = nil; table.insert = nil; os.time = nil; _G.x = 1; \
         rawset(table, 'concat', 5); require('string').lower = 1; obj.changed = true; return {status = 'Healthy'}",
    );
    let second = trusted(
        "return {status = 'Healthy', message = table.concat({tostring(leaked), tostring(x), type(string.upper), \
         type(table.insert), type(os.time), tostring(obj.changed), type(string.lower)}, ',')}",
    );
    for _ in 0..3 {
        engine.evaluate(&first, &json!({})).unwrap();
        let got = engine.evaluate(&second, &json!({})).unwrap().unwrap();
        assert_eq!(got.message, "nil,nil,function,function,function,nil,function");
    }
    // Restricted states are pooled apart, and are just as clean.
    let r1 = restricted("leaked = 1; table.concat = nil; return nil");
    let r2 = restricted("return {status = 'Healthy', message = tostring(leaked) .. type(table.concat)}");
    engine.evaluate(&r1, &json!({})).unwrap();
    assert_eq!(engine.evaluate(&r2, &json!({})).unwrap().unwrap().message, "nilfunction");
}

#[test]
fn infinite_loops_end_with_unknown_within_the_budget() {
    let engine = Engine::new(Limits { time: Duration::from_millis(100), ..Limits::default() });
    for src in [
        "while true do end",
        "local i = 0; while true do i = i + 1 end",
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function() while true do end end) end",
        "xpcall(function() error('x') end, function() while true do end end)",
        "local function f() return f() end; return f()",
        "repeat local t = {} until false",
        "table.sort({3, 2, 1}, function(a, b) while true do end end)",
        "string.gsub('abc', '%w', function() while true do end end)",
        "local t = setmetatable({}, {__index = function(t, k) while true do end end}); return t.x",
    ] {
        let start = Instant::now();
        let got = engine.evaluate(&trusted(src), &json!({}));
        assert_eq!(got, Err(Error::Timeout(Duration::from_millis(100))), "{src}");
        assert!(start.elapsed() < Duration::from_secs(5), "{src} took {:?}", start.elapsed());
    }
    // The next evaluation is unaffected.
    assert!(engine.evaluate(&trusted("return {status='Healthy'}"), &json!({})).unwrap().is_some());
}

#[test]
fn memory_is_capped() {
    let engine = Engine::new(Limits { memory: 8 << 20, ..Limits::default() });
    let bombs = [
        "local s = 'x'; while true do s = s .. s end",
        "local t = {}; for i = 1, 1e9 do t[i] = i end",
        "return {status = string.rep('x', 1e9)}",
    ];
    for src in bombs {
        assert_eq!(engine.evaluate(&trusted(src), &json!({})), Err(Error::Memory(8 << 20)), "{src}");
    }
    assert!(engine.evaluate(&trusted("return {status='Healthy'}"), &json!({})).unwrap().is_some());
}

#[test]
fn the_clock_is_the_engines() {
    let engine = Engine::default().with_clock(Clock::Fixed(1_700_000_000));
    let src = r#"
        local os = require("os")
        local t = os.time({year = "2023", month = 11, day = 14, hour = 22, min = 13, sec = 20})
        return {status = 'Healthy', message = os.time() .. ' ' .. t .. ' ' .. os.date("!%Y-%m-%dT%XZ") .. ' ' .. os.date("*t").yday}
    "#;
    let got = engine.evaluate(&restricted(src), &json!({})).unwrap().unwrap();
    assert_eq!(got.message, "1700000000 1700000000 2023-11-14T22:13:20Z 318");
}

#[test]
fn deep_objects_are_refused_not_crashed() {
    let mut v = json!(1);
    for _ in 0..300 {
        v = json!([v]);
    }
    assert!(matches!(eval(&trusted("return nil"), &v), Err(Error::Input(_))));
}

#[test]
fn engines_are_usable_from_many_threads() {
    let engine = Engine::default();
    let script = trusted("return {status = obj.s}");
    std::thread::scope(|s| {
        for status in ["Healthy", "Degraded", "Suspended"] {
            let (engine, script) = (&engine, &script);
            s.spawn(move || {
                for _ in 0..50 {
                    let got = engine.evaluate(script, &json!({"s": status})).unwrap().unwrap();
                    assert_eq!(got.status.as_str(), status);
                }
            });
        }
    });
}
