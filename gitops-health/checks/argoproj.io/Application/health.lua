-- Health of an Argo CD Application seen as a child resource (argoproj.io/Application),
-- as in the app-of-apps pattern. Written for this project from the Application status API;
-- not copied from any other project.
--
-- Reads: operation (a requested sync), status.operationState.phase and .message,
-- status.health.status and status.health.message.
--
-- Order: a sync that is running or terminating -> Progressing; a sync requested but not yet
-- started -> Progressing; no health reported yet -> Progressing; otherwise the child's own
-- health status and message are passed through (an unrecognized status -> Unknown).
-- The result of the last sync (Succeeded/Failed) is not health and is not consulted.

local function tbl(v) if type(v) == "table" then return v end return nil end
local function text(v) if type(v) == "string" and v ~= "" then return v end return nil end

local o = tbl(obj) or {}
local status = tbl(o.status) or {}
local opState = tbl(status.operationState) or {}
local phase = text(opState.phase)

if phase == "Running" then
  local msg = text(opState.message)
  if msg ~= nil then
    return {status = "Progressing", message = "Sync operation in progress: " .. msg}
  end
  return {status = "Progressing", message = "Sync operation in progress"}
end
if phase == "Terminating" then
  return {status = "Progressing", message = "Sync operation is being terminated"}
end
if tbl(o.operation) and next(o.operation) ~= nil then
  return {status = "Progressing",
    message = "Sync operation requested; waiting for the Application controller to start it"}
end

local health = tbl(status.health) or {}
local hs = text(health.status)
if hs == nil then
  return {status = "Progressing", message = "Waiting for the Application controller to assess health"}
end

local msg = text(health.message) or ""
if hs == "Healthy" then return {status = "Healthy", message = msg} end
if hs == "Progressing" then return {status = "Progressing", message = msg} end
if hs == "Degraded" then return {status = "Degraded", message = msg} end
if hs == "Suspended" then return {status = "Suspended", message = msg} end
if hs == "Missing" then return {status = "Missing", message = msg} end
if hs == "Unknown" then return {status = "Unknown", message = msg} end
return {status = "Unknown", message = "Application reports an unrecognized health status \"" .. hs .. "\""}
