-- Runs once per Lua state, in the state's own globals, before any script. It keeps what
-- scripts may use in private upvalues, empties the real global table (so nothing reachable
-- from a script is shared between evaluations), and returns the runner that evaluates one
-- script on one object.
local open, os_time, os_date, os_clock, expired = ...

jit.off()
jit.flush()

local G = _G
local next, error, tostring, tonumber, type, select = next, error, tostring, tonumber, type, select
local rawget, rawset, setmetatable, setfenv, ipairs = rawget, rawset, setmetatable, setfenv, ipairs
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
local safe_os = { time = os_time, date = os_date }
if open then
  libs.string = pick(string, {
    "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "rep", "reverse", "sub",
    "upper",
  })
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

return TAG, LAZY, function(func, field, fill_all, root, lazy_root)
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
    actionParams = {},
  }, env_mt)
  env._G = env
  setfenv(func, env)
  return finish(func())
end
