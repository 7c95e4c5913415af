-- Runs once per Lua state, in the state's own globals, before any script. It keeps what
-- scripts may use in private upvalues, empties the real global table (so nothing reachable
-- from a script is shared between evaluations), and returns the runner that evaluates one
-- script on one object.
local open, os_time, os_date, os_clock, expired, host = ...

jit.off()
jit.flush()

local G = _G
local next, error, tostring, tonumber, type, select = next, error, tostring, tonumber, type, select
local rawget, rawset, setmetatable, setfenv, ipairs = rawget, rawset, setmetatable, setfenv, ipairs
local rawequal, unpack = rawequal, unpack
local raw_pcall, raw_xpcall = pcall, xpcall
local lower = string.lower
local huge = 1 / 0

-- Per evaluation: the host functions that read the object (set by the runner).
local cur = {}

-- `obj` is built lazily (see convert.rs): a map's table holds only the private key `TAG`
-- (the map's number) until read. Each field read asks the host for that field and keeps it
-- (an absent field is remembered as absent); a write or a traversal fills the whole table and
-- drops the metatable, so from then on it is a plain table.
local TAG = {}
local LAZY
local function fill(t)
  local id = rawget(t, TAG)
  if id ~= nil then
    cur.fill(t, id)
  end
  return t
end
LAZY = {
  __index = function(t, k)
    local id = rawget(t, TAG)
    if id == nil or type(k) ~= "string" then
      return nil
    end
    local absent = cur.absent[t]
    if absent ~= nil and absent[k] then
      return nil
    end
    local kind, s, n, b, tbl = cur.field(id, k)
    local v
    if kind == 1 then
      v = s
    elseif kind == 2 then
      v = n
    elseif kind == 3 then
      v = b
    elseif kind == 4 then
      v = tbl
    elseif kind == 5 then
      v = setmetatable({ [TAG] = n }, LAZY)
    else
      -- Absent: remembered, so that testing for an optional field costs one call.
      if absent == nil then
        absent = {}
        cur.absent[t] = absent
      end
      absent[k] = true
      return nil
    end
    rawset(t, k, v)
    return v
  end,
  __newindex = function(t, k, v)
    fill(t)
    rawset(t, k, v)
  end,
  __metatable = false,
}
local function force(t)
  if type(t) == "table" then
    fill(t)
  end
  return t
end

-- Argo CD's base library minus what escapes the sandbox or outlives an evaluation:
-- dofile, loadfile, load, loadstring (code loading, bytecode), getfenv, setfenv (reach the
-- shared thread environment), module, newproxy, collectgarbage and gcinfo.
local base = {}
for _, name in ipairs({
  "assert", "error", "ipairs", "rawequal", "select", "getmetatable", "setmetatable", "tonumber",
  "tostring", "type", "unpack", "_VERSION",
}) do
  base[name] = G[name]
end
base.next = function(t, k)
  return next(force(t), k)
end
base.pairs = function(t)
  return next, force(t), nil
end
base.rawget = function(t, k)
  return rawget(force(t), k)
end
base.rawset = function(t, k, v)
  return rawset(force(t), k, v)
end

-- pcall and xpcall would swallow the error the time budget raises; once the budget is
-- spent, they re-raise it so an infinite loop around a pcall still ends.
local function guarded(...)
  if expired() then
    error("time budget exceeded", 0)
  end
  return ...
end
base.pcall = function(...)
  return guarded(raw_pcall(...))
end
-- LuaJIT runs an error handler with hooks off when the error came from the hook, so the
-- handler is skipped once the budget is spent.
base.xpcall = function(f, handler, ...)
  local function guarded_handler(e)
    if expired() then
      return e
    end
    return handler(e)
  end
  return guarded(raw_xpcall(f, guarded_handler, ...))
end
base.print = function() end

-- Bounded library functions. The count hook only runs between VM instructions, so one C
-- call ran as long as it liked: a backtracking pattern never ended, `table.insert({}, 2^53, 1)`
-- took a minute, and a loop of long calls (a 1 MB `os.date` format, `string.rep` of 20 MB)
-- ran for seconds between two checks of the hook. So:
-- * find, match, gmatch and gsub run on the host's metered matcher (strlib.rs), which raises
--   the budget error itself;
-- * table.sort compares through a Lua function, so the hook runs during a sort;
-- * calls whose cost grows with their input look at the clock first (`tick`) when the input
--   is long, so a loop of them is cut within one call;
-- * table.insert no longer walks from #t down to a position below 1 (see `insert`).
-- A wrapper that meets an argument LuaJIT would refuse tail-calls LuaJIT's own function,
-- which raises its usual error (with the caller's line and the name it was called by) before
-- doing any work; pattern errors are raised at the caller's level, as LuaJIT does.
local tick = host.tick
local h_find, h_gmatch, h_gsub, h_gsub_next = host.find, host.gmatch, host.gsub, host.gsub_next
local raw_find, raw_match, raw_gmatch, raw_gsub = string.find, string.match, string.gmatch, string.gsub
local raw_rep, raw_upper, raw_lower, raw_reverse = string.rep, string.upper, string.lower, string.reverse
local raw_sub, raw_format, byte = string.sub, string.format, string.byte
local raw_insert, raw_concat, raw_sort, raw_maxn = table.insert, table.concat, table.sort, table.maxn
local raw_tonumber = tonumber

-- Input (bytes or elements) from which a call checks the clock before it starts: a few
-- microseconds of C work, so a loop of shorter calls stays close to the hook's pace.
local LONG = 16384

-- A string argument as LuaJIT takes it (numbers become strings); nil if it would refuse it.
local function str(v)
  local t = type(v)
  if t == "string" then
    return v
  elseif t == "number" then
    return tostring(v)
  end
  return nil
end

-- An optional number argument as LuaJIT takes it (nil, a number or a numeric string);
-- false if it would refuse it.
local function optnum(v)
  local t = type(v)
  if t == "nil" or t == "number" then
    return v
  elseif t == "string" then
    return tonumber(v) or false
  end
  return false
end

-- Raises Lua's own "not enough memory": a `gsub` result the host refused to build would
-- have passed the memory cap. LuaJIT refuses a string this long before allocating it.
local function out_of_memory()
  raw_rep("xx", 1073741825)
  error("not enough memory", 0)
end

-- Results of the host's find/match: `false, message` is a pattern error, raised at the
-- level of whoever called string.find (this function is tail-called).
local function found(first, ...)
  if first == false then
    error((...), 2)
  end
  return first, ...
end

local function find(...)
  local s, p, init, plain = ...
  s, p, init = str(s), str(p), optnum(init)
  if s == nil or p == nil or init == false then
    return raw_find(...)
  end
  return found(h_find(s, p, init, not not plain, true))
end

local function match(...)
  local s, p, init = ...
  s, p, init = str(s), str(p), optnum(init)
  if s == nil or p == nil or init == false then
    return raw_match(...)
  end
  return found(h_find(s, p, init, false, false))
end

local function gmatch(...)
  local s, p = ...
  s, p = str(s), str(p)
  if s == nil or p == nil then
    return raw_gmatch(...)
  end
  local pos = 0
  local function step(first, ...)
    if first == false then
      error((...), 2)
    elseif first ~= nil then
      pos = first
    end
    return ...
  end
  return function()
    return step(h_gmatch(s, p, pos))
  end
end

-- gsub with a function or table replacement: the loop runs here, so the replacement is
-- called as LuaJIT calls it (errors, hook and all); the host finds each next match.
local function gsub_calls(s, p, repl, tr, max)
  local len = #s
  local anchored = byte(p, 1) == 94 -- "^"
  local out, parts = {}, 0
  local at, n = 1, 0
  while n < max do
    local r = { h_gsub_next(s, p, at, anchored) }
    local ms, me = r[1], r[2]
    if ms == false then
      error(me, 2)
    elseif ms == nil then
      break
    end
    if ms > at then
      parts = parts + 1
      out[parts] = raw_sub(s, at, ms - 1)
    end
    n = n + 1
    local v
    if tr == "function" then
      local count = r[3]
      for i = 4, 3 + count do
        if r[i] == false then
          error("unfinished capture", 2)
        end
      end
      v = repl(unpack(r, 4, 3 + count))
    else
      if r[4] == false then
        error("unfinished capture", 2)
      end
      v = repl[r[4]]
    end
    if not v then
      v = raw_sub(s, ms, me)
    elseif type(v) == "number" then
      v = tostring(v)
    elseif type(v) ~= "string" then
      error("invalid replacement value (a " .. type(v) .. ")", 2)
    end
    parts = parts + 1
    out[parts] = v
    if me >= ms then
      at = me + 1
    elseif ms <= len then
      -- An empty match: the byte after it is kept and the search moves on.
      parts = parts + 1
      out[parts] = raw_sub(s, ms, ms)
      at = ms + 1
    else
      at = ms
      break
    end
    if anchored then
      break
    end
  end
  parts = parts + 1
  out[parts] = raw_sub(s, at)
  return raw_concat(out), n
end

local function gsub(...)
  local s, p, repl, max = ...
  s, p, max = str(s), str(p), optnum(max)
  local tr = type(repl)
  if s == nil or p == nil or max == false
    or not (tr == "string" or tr == "number" or tr == "function" or tr == "table") then
    return raw_gsub(...)
  end
  if tr == "function" or tr == "table" then
    return gsub_calls(s, p, repl, tr, host.gsub_max(max, #s))
  end
  local r, n = h_gsub(s, p, str(repl), max)
  if r == false then
    if n == false then
      out_of_memory()
    end
    error(n, 2)
  end
  return r, n
end

-- The comparison table.sort makes without a comparator, as a Lua function so that the hook
-- runs while sorting (a sort of a million numbers, or of many long equal strings, was
-- seconds of C). Numbers and strings compare here; anything else goes through LuaJIT's own
-- sort of the pair, so that `__lt` runs and errors read as before ("attempt to compare two
-- table values"). A value compared with itself is never less than itself.
local function less(a, b)
  local ta = type(a)
  if ta == type(b) and (ta == "number" or ta == "string") then
    return a < b
  end
  local pair = { b, a }
  raw_sort(pair)
  return not rawequal(a, b) and rawequal(pair[1], a)
end

local function sort(...)
  local t, comp = ...
  if type(t) ~= "table" or (comp ~= nil and type(comp) ~= "function") then
    return raw_sort(...)
  end
  return raw_sort(t, comp or less)
end

local function trunc(x)
  if x == huge or x == -huge then
    return x
  elseif x >= 0 then
    return x - x % 1
  end
  return -(-x - -x % 1)
end

-- table.insert(t, pos, v). Within 1..#t+1 it is LuaJIT's. Elsewhere LuaJIT moved every
-- element from #t down to `pos` one slot up, which for a position below 1 (or past 2^31,
-- which it wraps to -2^31) is billions of moves; gopher-lua, Argo CD's VM, just stores the
-- value at that key, and so do we.
local function insert(...)
  local t, pos, v = ...
  if select("#", ...) ~= 3 or type(t) ~= "table" then
    return raw_insert(...)
  end
  local p = optnum(pos)
  if not p then
    return raw_insert(...)
  end
  local n = #t
  if p >= 1 and p < n + 2 then
    if n - p > LONG then
      tick()
    end
    return raw_insert(...)
  elseif p ~= p then
    error("bad argument #2 to 'insert' (position is NaN)", 2)
  end
  rawset(t, trunc(p), v)
end

local function concat(...)
  local t, sep, i, j = ...
  if type(t) == "table" then
    local first, last = optnum(i), optnum(j)
    if first ~= false and last ~= false then
      first, last = first or 1, last or #t
      local count = last - first + 1
      if count > 16 then
        tick()
      elseif count > 0 then
        local bytes = type(sep) == "string" and #sep * count or 0
        for k = first, last do
          local x = rawget(t, k)
          if type(x) == "string" then
            bytes = bytes + #x
          end
        end
        if bytes > LONG then
          tick()
        end
      end
    end
  end
  return raw_concat(...)
end

local function maxn(...)
  tick()
  return raw_maxn(...)
end

local function rep(...)
  local s, n, sep = ...
  if type(s) == "string" and type(n) == "number" and (sep == nil or type(sep) == "string") then
    if (#s + (sep and #sep or 0)) * n > LONG then
      tick()
    end
  else
    tick()
  end
  return raw_rep(...)
end

-- A function of one string whose cost is linear in it.
local function linear(raw)
  return function(...)
    local s = ...
    if type(s) == "string" and #s > LONG then
      tick()
    end
    return raw(...)
  end
end

local function format(...)
  local n = select("#", ...)
  if n > 8 then
    tick()
  else
    local bytes = 0
    for i = 1, n do
      local v = select(i, ...)
      if type(v) == "string" then
        bytes = bytes + #v
      end
    end
    if bytes > LONG then
      tick()
    end
  end
  return raw_format(...)
end
base.tonumber = linear(raw_tonumber)

-- Libraries as gopher-lua has them (LuaJIT's extras such as table.foreach and string.dump
-- are left out). Scripts see them through a fresh table per evaluation whose reads fall
-- through to the shared one, so a script may change its `string` without touching the next.
local function pick(lib, names)
  local t = {}
  for _, n in ipairs(names) do
    t[n] = lib[n]
  end
  return t
end
local libs = { table = pick(table, { "concat", "getn", "insert", "maxn", "remove", "sort" }) }
libs.table.insert, libs.table.concat, libs.table.sort, libs.table.maxn = insert, concat, sort, maxn
local safe_os = { time = os_time, date = os_date }
if open then
  libs.string = pick(string, {
    "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "rep", "reverse", "sub",
    "upper",
  })
  local lib = libs.string
  lib.find, lib.match, lib.gmatch, lib.gsub = find, match, gmatch, gsub
  lib.rep, lib.format, lib.sub = rep, format, linear(raw_sub)
  lib.upper, lib.lower, lib.reverse = linear(raw_upper), linear(raw_lower), linear(raw_reverse)
  libs.math = {}
  for k, v in next, math do
    libs.math[k] = v
  end
  safe_os.clock = os_clock
  safe_os.difftime = function(t2, t1)
    return (tonumber(t2) or 0) - (tonumber(t1) or 0)
  end
end
libs.os = safe_os
-- Scripts see each library through a proxy whose reads fall through to it, so that a
-- script may set `string.x` without touching the library. The proxies are shared; whatever
-- a script stored in one is cleared before the next evaluation.
local proxies = {}
for name, lib in next, libs do
  proxies[name] = setmetatable({}, { __index = lib, __metatable = false })
end
local function clear_proxies()
  for _, p in next, proxies do
    if next(p) ~= nil then
      local keys = {}
      for k in next, p do
        keys[#keys + 1] = k
      end
      for _, k in ipairs(keys) do
        p[k] = nil
      end
    end
  end
end

local string_mt = getmetatable("")
if string_mt ~= nil then
  if open then
    -- `("x"):find()` keeps working, but the shared string library cannot be reached.
    string_mt.__index = libs.string
    string_mt.__metatable = false
  else
    -- Restricted scripts have no string library, so no string methods either, as in Argo CD.
    string_mt.__index = nil
    string_mt.__metatable = false
  end
end

base.require = function(name)
  local m = proxies[name]
  if m == nil then
    error("module '" .. tostring(name) .. "' not found", 2)
  end
  return m
end
local env_mt = { __index = base, __metatable = false }

local names = {}
for k in next, G do
  names[#names + 1] = k
end
for _, k in ipairs(names) do
  G[k] = nil
end

-- Reading the result as Argo CD does: gopher-json encodes it, Go's encoding/json decodes it.
local function encodable(t, path)
  if path[t] then
    return "cannot encode recursively nested tables to JSON"
  end
  path[t] = true
  force(t)
  local kind, count, max, sparse = nil, 0, 0, false
  for k, v in next, t do
    local this
    if type(k) == "string" then
      this = "object"
    elseif type(k) == "number" then
      this = "array"
      if k < 1 or k % 1 ~= 0 then
        sparse = true
      elseif k > max then
        max = k
      end
    else
      return "cannot encode mixed or invalid key types"
    end
    if kind == nil then
      kind = this
    elseif kind ~= this then
      return "cannot encode mixed or invalid key types"
    end
    count = count + 1
    local tv = type(v)
    if tv == "table" then
      local err = encodable(v, path)
      if err then
        return err
      end
    elseif tv == "number" then
      if v ~= v then
        return "json: unsupported value: NaN"
      elseif v == huge or v == -huge then
        return "json: unsupported value: " .. (v > 0 and "+Inf" or "-Inf")
      end
    elseif tv == "function" or tv == "userdata" or tv == "thread" then
      return "cannot encode " .. tv .. " to JSON"
    end
  end
  if kind == "array" and (sparse or max ~= count) then
    return "cannot encode sparse array"
  end
  path[t] = nil
  return nil, kind
end

-- Go's encoding/json field matching: the exact name, else a case-insensitive one. `nil`
-- means the field has another type than string (Argo CD then reports no status).
local function field(t, name)
  local v = rawget(t, name)
  if v == nil then
    for k, x in next, t do
      if lower(k) == name then
        v = x
      end
    end
  end
  if v == nil then
    return ""
  elseif type(v) == "string" then
    return v
  end
  return nil
end

-- The status codes the host knows (anything else is Argo CD's invalid status).
local STATUS = { Healthy = 1, Progressing = 2, Suspended = 3, Missing = 4, Degraded = 5, Unknown = 6 }

local function result(n, ...)
  if n == 0 then
    return "none"
  end
  local v = (select(n, ...))
  if v == nil then
    return "none"
  elseif type(v) ~= "table" then
    return "type", type(v)
  end
  local err, kind = encodable(v, {})
  if err then
    return "encode", err
  elseif kind ~= "object" then
    return "none"
  end
  local status, message = field(v, "status"), field(v, "message")
  if status == nil or message == nil then
    return "none"
  end
  return "ok", STATUS[status] or 0, message
end

local function finish(...)
  return result(select("#", ...), ...)
end

-- An action's result: the last value, a table that encodes as JSON. Checking it forces every
-- lazy table it holds, so the host then reads plain tables only.
local function action_result(n, ...)
  local v = nil
  if n > 0 then
    v = (select(n, ...))
  end
  if type(v) ~= "table" then
    return "type", type(v)
  end
  local err = encodable(v, {})
  if err then
    return "encode", err
  end
  return "value", v
end

local function finish_action(...)
  return action_result(select("#", ...), ...)
end

return TAG, LAZY, function(func, field, fill_all, root, lazy_root, params)
  cur.field, cur.fill, cur.absent = field, fill_all, {}
  clear_proxies()
  local obj = root
  if lazy_root then
    obj = setmetatable({ [TAG] = 0 }, LAZY)
  end
  local env = setmetatable({
    table = proxies.table,
    string = proxies.string,
    math = proxies.math,
    -- Argo CD: only trusted scripts have a global `os` (there gopher-lua's whole one).
    os = open and proxies.os or nil,
    obj = obj,
    actionParams = params or {},
  }, env_mt)
  env._G = env
  setfenv(func, env)
  if params ~= nil then
    return finish_action(func())
  end
  return finish(func())
end
