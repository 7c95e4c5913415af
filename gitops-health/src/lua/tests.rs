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

// ---------------------------------------------------------------------------------------
// Bounded library functions: the same answers as LuaJIT's own, and the budget holds.
// ---------------------------------------------------------------------------------------

/// Runs every string and table function under test on `obj.cases` (pairs of subject and
/// pattern) and on a fixed list of odd calls, and writes down every result and error text.
/// The same chunk runs in our engine and in a plain LuaJIT state with LuaJIT's own functions.
const FIDELITY: &str = r##"
local out = {}
local function ser(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    -- Bytes past ASCII as numbers, so that the message is UTF-8.
    parts[i] = type(v) == "string" and (string.format("%q", v):gsub("[\128-\255]", string.byte)) or tostring(v)
  end
  return n .. ":" .. table.concat(parts, ",")
end
local function put(...) out[#out + 1] = ser(...) end
for _, case in ipairs(obj.cases) do
  local s, p = case[1], case[2]
  put(pcall(string.find, s, p))
  put(pcall(string.find, s, p, 2))
  put(pcall(string.find, s, p, -3))
  put(pcall(string.find, s, p, 40))
  put(pcall(string.find, s, p, 1, true))
  put(pcall(string.match, s, p))
  put(pcall(string.match, s, p, -2))
  put(pcall(function()
    local all, n = {}, 0
    for a, b, c in string.gmatch(s, p) do
      n = n + 1
      all[n] = ser(a, b, c)
      if n > 40 then break end
    end
    return table.concat(all, ";")
  end))
  put(pcall(string.gsub, s, p, "<%0|%1>"))
  put(pcall(string.gsub, s, p, "%%%x%"))
  put(pcall(string.gsub, s, p, "-", 2))
  put(pcall(string.gsub, s, p, function(...) return "[" .. ser(...) .. "]" end))
  put(pcall(string.gsub, s, p, { a = "A", [""] = 7, b = false }))
  put(pcall(string.gsub, s, p, function() return nil end, 1))
  -- Errors raised at the caller's line, not through pcall.
  put(pcall(function() local a, b = string.find(s, p); return a, b end))
  put(pcall(function() local r = s:gsub(p, "%2"); return r end))
end

local odd = {
  function() return string.find() end,
  function() return string.find("abc") end,
  function() local x = string.find(nil, "a"); return x end,
  function() local x = ("abc"):find({}); return x end,
  function() local x = string.find("abc", "b", "x"); return x end,
  function() return string.find("abc", "b", "2") end,
  function() return string.find("abc", "b", " 0x2 ") end,
  function() return string.find(12345, 34) end,
  function() return string.find("a.b", ".", 1, 0) end,
  function() return string.find("a.b", ".", 1, false) end,
  function() return string.find("abc", "", 10) end,
  function() return string.find("abc", "", -10) end,
  function() return string.find("abc", "c", 2^31) end,
  function() return string.find("abc", "a", 2^53) end,
  function() return string.find("abc", "a", 0/0) end,
  function() return string.find("a\0b\0c", "b\0c") end,
  function() return string.find("a\0b\0c", "%z") end,
  function() return string.find("xa\0b", "a\0z.") end,
  function() return string.match("key = value", "(%w+)%s*=%s*(%w+)") end,
  function() return string.match("hello", "()ll()") end,
  function() return string.match("hello", "(h)(e)(l)(l)(o)") end,
  function() return string.match("  trim  ", "^%s*(.-)%s*$") end,
  function() return string.match("[[x]]", "%[(%b[])%]") end,
  function() return string.match("THE (quick) fox", "%f[%a]%a+%f[%A]", 5) end,
  function() return string.match(string.rep("a", 300), string.rep("a?", 250)) end,
  function() return string.match("a", string.rep("(", 33)) end,
  function() return string.match("a", "(a") end,
  function() return string.match("a", "%") end,
  function() return string.match("a", "a%") end,
  function() return string.match("a", "[a") end,
  function() return string.match("a", "[%") end,
  function() return string.match("]", "[]]") end,
  function() return string.match("^", "[^^]") end,
  function() return string.match("-", "[a-]") end,
  function() return string.match("a-z", "[%a-z]+") end,
  function() return string.match("\v\f", "%s+") end,
  function() return string.match("\200\255", "[\128-\255]+") end,
  function() return string.match("\200", "%A") end,
  function() return string.match("abab", "(ab)%1") end,
  function() return string.match("aa", "()%1") end,
  function() return string.match("aa", "(a%1)") end,
  function() return string.match("x", "%0") end,
  function() return string.match("x", "%b") end,
  function() return string.match("x", "%bx") end,
  function() return string.match("''", "%b''") end,
  function() return string.match("ab", "%f") end,
  function() return string.match("ab", "%fa") end,
  function() return string.match("ab", "%f[") end,
  function() return string.match("ab$", "b$") end,
  function() return string.match("ab$", "$") end,
  function() return string.match("ab", "^") end,
  function() return string.gsub("hello world", "o", "0", 1) end,
  function() return string.gsub("hello", "", "-") end,
  function() return string.gsub("hello", "^h", "H") end,
  function() return string.gsub("hello", "^x", "H") end,
  function() return string.gsub("abc", "%w", "%1%1") end,
  function() return string.gsub("abc", "(%w)", "%2") end,
  function() return string.gsub("abc", "()", "%1") end,
  function() return string.gsub("abc", "b", "%") end,
  function() return string.gsub("abc", "b", 5) end,
  function() return string.gsub("abc", "b", true) end,
  function() return string.gsub("abc", "b") end,
  function() return string.gsub("abc", "b", "x", "1") end,
  function() return string.gsub("abc", "b", "x", "y") end,
  function() return string.gsub("abc", "b", "x", 2^32 + 1) end,
  function() return string.gsub("abc", "b", "x", 2^53) end,
  function() return string.gsub("abc", "b", "x", -1) end,
  function() return string.gsub("abc", "b", {b = {}}) end,
  function() return string.gsub("abc", "b", {b = 1.5}) end,
  function() return string.gsub("abc", "(b)(", {}) end,
  function() return string.gsub("abc", "%w", function(c) if c == "b" then error("boom") end end) end,
  function()
    local ok, e = pcall(string.gsub, "abc", "%w", function(c) error({c}) end)
    return ok, type(e), e[1]
  end,
  function() return string.gsub("abc", "%w", setmetatable({}, {__index = function(t, k) return k:upper() end})) end,
  function() return string.gsub(123, 2, 9) end,
  function() local n = 0; for w in ("one two  three"):gmatch("%a+") do n = n + #w end; return n end,
  function() local r = {}; for k, v in string.gmatch("a=1, b=2", "(%w+)=(%w+)") do r[#r + 1] = k .. v end; return table.concat(r) end,
  function() local r = {}; for a in string.gmatch("abc", "") do r[#r + 1] = a end; return #r end,
  function() local r = {}; for a in string.gmatch("^a^a", "^a") do r[#r + 1] = a end; return #r end,
  function() for a in string.gmatch("abc", "[") do end end,
  function() return string.gmatch() end,
  function() local it = string.gmatch("ab", "."); it(); it(); return it(), it() end,
  function() return string.rep("ab", 3, ",") end,
  function() return string.rep("ab", -1), string.rep("", 2^40), string.rep("x", 2^31) end,
  function() return string.rep() end,
  function() return string.upper("abc"), string.lower("ABC"), string.reverse("abc"), string.sub("hello", 2, -2) end,
  function() return string.upper() end,
  function() return string.format("%5.2f|%d|%s|%q|%x", 3.14159, 42.9, "s", "a\nb", 255) end,
  function() return string.format("%099999d", 1) end,
  function() return string.format() end,
  function() return tonumber("0x10"), tonumber(" 12 "), tonumber("z", 36), tonumber("1e2"), tonumber({}) end,
  function() return tonumber() end,
  function() local t = {3, 1, 2}; table.sort(t); return table.concat(t, ",") end,
  function() local t = {"b", "c", "a"}; table.sort(t, function(a, b) return a > b end); return table.concat(t) end,
  function()
    local t = {}
    for i = 1, 50 do t[i] = {k = i % 4, id = i} end
    table.sort(t, function(a, b) return a.k < b.k end)
    local ids = {}
    for i, v in ipairs(t) do ids[i] = v.id end
    return table.concat(ids, ",")
  end,
  function()
    local mt = {__lt = function(a, b) return a.v < b.v end}
    local t = {}
    for i = 1, 20 do t[i] = setmetatable({v = (i * 7) % 11}, mt) end
    table.sort(t)
    local vs = {}
    for i, v in ipairs(t) do vs[i] = v.v end
    return table.concat(vs, ",")
  end,
  function() table.sort({1, "x"}) end,
  function() table.sort({{}, {}}) end,
  function() local x = {}; table.sort({x, x}) end,
  function() table.sort({3, 2, 1, 5, 4}, function(a, b) return true end) end,
  function() table.sort() end,
  function() table.sort({}, 5) end,
  function() local t = {1, 2, 3}; table.insert(t, 2, "x"); table.insert(t, "y"); return table.concat(t, ",") end,
  function() local t = {1, 2, 3}; table.insert(t, 4, "x"); table.insert(t, 10, "z"); return table.concat(t, ","), t[10] end,
  function() local t = {1, 2, 3}; table.insert(t, 2.7, "x"); return table.concat(t, ",") end,
  function() local t = {1, 2, 3}; table.insert(t, "2", "x"); return table.concat(t, ",") end,
  function() table.insert({}, 1, 2, 3) end,
  function() table.insert(nil, 1) end,
  function() table.insert({}, "x", 1) end,
  function() table.insert({}) end,
  function() return table.concat({1, 2, 3}, ", ", 2), table.concat({}, "x"), table.concat({"a"}, "x", 1, 1) end,
  function() return table.concat({1, {}, 3}) end,
  function() return table.concat({}, "", 1, 2^31) end,
  function() return table.maxn({1, 2, [10] = 3}), table.maxn({}) end,
  function() return table.remove({1, 2, 3}, 1), table.remove({}) end,
  function() return select("#", unpack({1, 2, 3})), unpack({1, 2, 3}, 2) end,
}
for i, f in ipairs(odd) do
  put(i, pcall(f))
end
return {status = "Healthy", message = table.concat(out, "\n")}
"##;

/// The reference: the same chunk on LuaJIT's own library functions, with no hook.
fn luajit_reference(cases: &[(String, String)]) -> String {
    use mlua::{LuaOptions, StdLib};
    let lua = mlua::Lua::new_with(StdLib::STRING | StdLib::TABLE | StdLib::MATH, LuaOptions::default()).unwrap();
    let list = lua.create_table().unwrap();
    for (i, (s, p)) in cases.iter().enumerate() {
        let pair = lua.create_sequence_from([lua.create_string(s).unwrap(), lua.create_string(p).unwrap()]).unwrap();
        list.raw_set(i + 1, pair).unwrap();
    }
    let obj = lua.create_table().unwrap();
    obj.raw_set("cases", list).unwrap();
    lua.globals().raw_set("obj", obj).unwrap();
    let result: mlua::Table = lua.load(FIDELITY).set_name("=<string>").eval().unwrap();
    result.get::<String>("message").unwrap()
}

fn ours(cases: &[(String, String)]) -> String {
    let obj = json!({"cases": cases.iter().map(|(s, p)| json!([s, p])).collect::<Vec<_>>()});
    let engine = Engine::new(Limits { time: Duration::from_secs(120), ..Limits::default() });
    engine.evaluate(&trusted(FIDELITY), &obj).unwrap().unwrap().message
}

fn assert_same(cases: &[(String, String)]) {
    let (want, got) = (luajit_reference(cases), ours(cases));
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        assert_eq!(g, w, "line {i}");
    }
    assert_eq!(got.lines().count(), want.lines().count());
}

#[test]
fn string_functions_answer_as_luajit_does_on_chosen_cases() {
    let cases: Vec<(String, String)> = [
        ("hello world", "o"),
        ("hello world", "(o)(.)"),
        ("hello world", "%w+"),
        ("hello world", "^(%w+)"),
        ("  x  ", "^%s*(.-)%s*$"),
        ("a,b,,c", "([^,]*)"),
        ("f(a(b)c)d", "%b()"),
        ("THE (quick) fox", "%f[%a]%a+"),
        ("key=val", "(%w+)=(%w*)"),
        ("aaa", "a-"),
        ("aaa", "a-$"),
        ("aaab", "a*b"),
        ("aaab", "a+?"),
        ("ab12cd", "%d+"),
        ("ab12cd", "[%a]+"),
        ("ab12cd", "[^%d]"),
        ("x.y.z", "%."),
        ("x.y.z", "."),
        ("", ""),
        ("", "x*"),
        ("abc", "()"),
        ("abc", "(()a)"),
        ("abab", "(ab)%1"),
        ("a.b", "a.b"),
        ("a+b", "a+b"),
        ("2023-11-14T22:13:20Z", "(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)"),
        ("v1.2.3-rc.1", "^v?(%d+)%.(%d+)%.(%d+)(.*)$"),
        ("a\0b", "a\0."),
        ("a\0b", "%z"),
        ("a\0b", "[%z]"),
        ("a\0b", "\0"),
    ]
    .iter()
    .map(|(s, p)| (s.to_string(), p.to_string()))
    .collect();
    assert_same(&cases);
}

#[test]
fn string_functions_answer_as_luajit_does_on_random_cases() {
    // Patterns built from every kind of item (and broken ones), subjects from the bytes they
    // talk about; small enough that LuaJIT's own matcher finishes at once.
    const TOKENS: [&str; 44] = [
        "a", "b", "x", ".", "%a", "%d", "%s", "%w", "%p", "%x", "%l", "%u", "%c", "%g", "%z", "%A", "%S", "%%", "[ab]",
        "[^a]", "[a-c]", "[%a_]", "[]]", "(", ")", "()", "%b()", "%f[%w]", "%f[%W]", "%1", "%2", "*", "+", "-", "?",
        "^", "$", "%", "[", "]", "%.", "-?", "%bab", "%]",
    ];
    const BYTES: &[u8] = b"aab b()x1_-.%[]A9\t";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut cases = Vec::new();
    for _ in 0..1500 {
        let tokens = 1 + next() % 6;
        let p: String = (0..tokens).map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize]).collect();
        let len = next() % 12;
        let s: String = (0..len).map(|_| BYTES[(next() % BYTES.len() as u64) as usize] as char).collect();
        cases.push((s, p));
    }
    assert_same(&cases);
}

/// Scripts that ran for minutes in one C call (or in a loop of long calls) before these
/// functions were bounded, and whether they now end with the budget error (`true`) or end
/// at once (`false`: the call is refused or no longer long).
const HOSTILE: [(&str, bool); 24] = [
    ("table.insert({}, 2^53, 1)", false),
    ("table.insert({}, -2^31, 1)", false),
    ("local f = string.rep('%Y', 5e5); for i = 1, 200 do os.date(f) end", false),
    ("local f = string.rep('%Y', 512); while true do os.date(f) end", true),
    ("string.find(string.rep('a', 40), string.rep('a*', 20) .. 'b')", true),
    ("string.find(string.rep('a', 3000), string.rep('a-', 100) .. 'b')", true),
    ("string.match(string.rep('a', 40), string.rep('(a*)', 20) .. 'b')", true),
    ("for x in string.gmatch(string.rep('a', 40), string.rep('a*', 20) .. 'b') do end", true),
    ("string.gsub(string.rep('a', 40), string.rep('a*', 20) .. 'b', '')", true),
    ("string.gsub(string.rep('a', 40), string.rep('a*', 20) .. 'b', function() end)", true),
    ("string.gsub(string.rep('a', 1e5), 'a-b', '')", true),
    ("string.find(string.rep('a', 1e5), '[' .. string.rep('b', 1e5) .. ']+c')", true),
    ("string.find(string.rep('a', 1e6), string.rep('a', 5e5) .. 'b', 1, true)", false),
    ("string.find(string.rep('a', 1e6), string.rep('a', 5e5) .. 'b')", false),
    ("string.find(string.rep('(', 2e5), '%b()')", true),
    ("local s = string.rep('x', 1e7); while true do local t = s:rep(1) end", true),
    ("local s = string.rep('1', 1e7); while true do tonumber(s) end", true),
    ("local t = {}; for i = 1, 2e6 do t[i] = 'x' end; while true do table.concat(t) end", true),
    ("local t = {}; for i = 1, 1e6 do t[i] = i end; while true do table.insert(t, 1, 0) end", true),
    ("local t = {}; for i = 1, 1e6 do t[i] = i end; while true do table.maxn(t) end", true),
    ("local t = {}; for i = 1, 2e6 do t[i] = (i * 7919) % 1000003 end; table.sort(t)", true),
    ("local s = string.rep('x', 1e7); local t = {}; for i = 1, 200 do t[i] = s end; table.sort(t)", true),
    // Single VM instructions on long strings: the hook's pace (CHECK_EVERY) bounds these.
    ("local s = '1'; for i = 1, 23 do s = s .. s end; while true do local x = s + 0 end", true),
    ("local s = 'x'; for i = 1, 23 do s = s .. s end; while true do local x = s < s end", true),
];

#[test]
fn hostile_scripts_end_within_the_budget() {
    let budget = Duration::from_millis(100);
    let engine = Engine::new(Limits { time: budget, ..Limits::default() });
    for (src, times_out) in HOSTILE {
        for script in [trusted(src), restricted(src)] {
            if script.libraries() == Libraries::Restricted && (src.contains("string.") || src.contains("os.")) {
                continue;
            }
            let start = Instant::now();
            let got = engine.evaluate(&script, &json!({}));
            let took = start.elapsed();
            if times_out {
                assert_eq!(got, Err(Error::Timeout(budget)), "{src}");
            } else {
                assert_ne!(got, Err(Error::Timeout(budget)), "{src}");
            }
            // A few times the budget: generous for a debug build on a busy machine.
            assert!(took < budget * 15, "{src} took {took:?}");
        }
    }
}

#[test]
fn an_os_date_format_is_capped() {
    let e = eval(&trusted("return os.date(string.rep('x', 1025))"), &json!({})).unwrap_err();
    assert!(e.to_string().contains("format longer than 1024 bytes"), "{e}");
    assert_eq!(
        message("return {status='Healthy', message=tostring(#os.date(string.rep('x', 1024)))}", json!({})),
        "1024"
    );
}

#[test]
fn insert_outside_the_sequence_stores_at_that_key_as_gopher_lua_does() {
    let src = r#"
        local t = {1, 2, 3}
        table.insert(t, 0, "z")
        table.insert(t, -5, "m")
        table.insert(t, 2^40, "big")
        table.insert(t, 7, "seven")
        return {status = 'Healthy', message = table.concat({table.concat(t, ","), t[0], t[-5], t[2^40], t[7]}, " ")}
    "#;
    assert_eq!(message(src, json!({})), "1,2,3 z m big seven");
    for script in [trusted("table.insert({}, 0/0, 1)"), restricted("table.insert({}, 0/0, 1)")] {
        let e = eval(&script, &json!({})).unwrap_err().to_string();
        assert_eq!(e, "<string>:1: bad argument #2 to 'insert' (position is NaN)");
    }
}

#[test]
fn gsub_output_is_held_to_the_memory_cap() {
    let engine = Engine::new(Limits { memory: 8 << 20, ..Limits::default() });
    let src = "return {status = string.gsub(string.rep('a', 1e5), 'a', string.rep('b', 1e3))}";
    assert_eq!(engine.evaluate(&trusted(src), &json!({})), Err(Error::Memory(8 << 20)));
    let caught = "local ok, e = pcall(string.gsub, string.rep('a', 1e5), 'a', string.rep('b', 1e3)); \
                  return {status = 'Healthy', message = tostring(ok) .. ' ' .. tostring(e)}";
    let got = engine.evaluate(&trusted(caught), &json!({})).unwrap().unwrap();
    assert_eq!(got.message, "false not enough memory");
}

#[test]
fn a_field_the_script_removed_stays_removed() {
    let src = r#"
        local s = obj.status
        local before = s.gone ~= nil
        s.gone = nil
        local after = s.gone == nil
        local n = 0
        for _ in pairs(s) do n = n + 1 end
        return {status = 'Healthy', message = tostring(before) .. ' ' .. tostring(after) .. ' ' .. n}
    "#;
    assert_eq!(message(src, json!({"status": {"gone": [1], "kept": 1, "other": {"a": 1}}})), "true true 2");
}
