-- Runs once per Lua state, in the state's own globals, before any script. It keeps the
-- functions scripts may use in private upvalues, empties the real global table (so nothing
-- reachable from a script is shared between evaluations), and returns the factory that
-- builds a fresh environment for each evaluation.
local open, os_time, os_date, os_clock, expired = ...

jit.off()
jit.flush()

local G = _G
local next, error, tostring, tonumber, ipairs = next, error, tostring, tonumber, ipairs
local raw_pcall, raw_xpcall = pcall, xpcall

-- Argo CD's base library minus what escapes the sandbox or outlives an evaluation:
-- dofile, loadfile, load, loadstring (code loading, bytecode), getfenv, setfenv (reach the
-- shared thread environment), module, newproxy, collectgarbage and gcinfo.
local base = {}
for _, name in ipairs({
  "assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawset", "select",
  "getmetatable", "setmetatable", "tonumber", "tostring", "type", "unpack", "_VERSION",
}) do
  base[name] = G[name]
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

local libs = { table = table }
local safe_os = { time = os_time, date = os_date }
if open then
  libs.string = string
  libs.math = math
  safe_os.clock = os_clock
  safe_os.difftime = function(t2, t1)
    return (tonumber(t2) or 0) - (tonumber(t1) or 0)
  end
  -- `("x"):find()` keeps working through the string metatable, but a script may not reach
  -- that metatable (and through it the shared string library) to change it.
  getmetatable("").__metatable = false
end

local names = {}
for k in next, G do
  names[#names + 1] = k
end
for _, k in ipairs(names) do
  G[k] = nil
end

local function copy(t)
  local c = {}
  for k, v in next, t do
    c[k] = v
  end
  return c
end

return function(obj)
  local env = copy(base)
  local loaded = {}
  for name, lib in next, libs do
    local c = copy(lib)
    env[name] = c
    loaded[name] = c
  end
  -- Argo CD: `require("os")` gives the safe os in both modes; only trusted scripts also get
  -- a global `os` (here the same safe one, by design).
  loaded.os = copy(safe_os)
  if open then
    env.os = loaded.os
  end
  env.require = function(name)
    local m = loaded[name]
    if m == nil then
      error("module '" .. tostring(name) .. "' not found", 2)
    end
    return m
  end
  env._G = env
  env.obj = obj
  env.actionParams = {}
  return env
end
