-- Health of an Argo Rollouts Rollout (argoproj.io/Rollout).
-- Written for this project from the Rollout status API; not copied from any other project.
--
-- Reads: metadata.generation; spec.paused, spec.replicas, spec.strategy.canary|blueGreen;
-- status.observedGeneration (a number, a numeric string, or in old versions a spec hash),
-- status.phase, status.message, status.abort, status.controllerPause, status.pauseConditions,
-- status.conditions (type InvalidSpec; reasons RolloutAborted, ProgressDeadlineExceeded),
-- status.replicas, status.updatedReplicas, status.availableReplicas, status.currentPodHash,
-- status.stableRS, status.blueGreen.activeSelector.
--
-- Order: no status -> Progressing; observedGeneration (when numeric) behind generation ->
-- Progressing; status.abort -> Degraded; resume requested but not yet processed -> Progressing;
-- status.phase when the controller sets it (Rollouts >= 1.0): Healthy, Progressing, Degraded as
-- is, Paused -> Suspended, anything else -> Unknown. Without a phase (older controllers) the
-- controller's own phase rules are applied to the spec and status.

local function tbl(v) if type(v) == "table" then return v end return nil end
local function text(v) if type(v) == "string" and v ~= "" then return v end return nil end

-- A generation: a number, or a string of digits (older Rollouts store a string).
local function generation(v)
  if type(v) == "number" then return v end
  if type(v) == "string" and string.find(v, "^%d+$") then return tonumber(v) end
  return nil
end

local function count(v, default)
  if type(v) == "number" then return v end
  return default
end

local function int(n)
  if n == math.floor(n) and n > -1e15 and n < 1e15 then return string.format("%d", n) end
  return tostring(n)
end

local o = tbl(obj) or {}
local meta = tbl(o.metadata) or {}
local spec = tbl(o.spec) or {}
local status = tbl(o.status)

if status == nil or next(status) == nil then
  return {status = "Progressing", message = "Waiting for the Rollouts controller to report status"}
end

local gen = generation(meta.generation)
local observed = generation(status.observedGeneration)
if gen ~= nil and observed ~= nil and observed < gen then
  return {status = "Progressing",
    message = "Waiting for the Rollouts controller to observe generation " .. int(gen) ..
      " (status is for generation " .. int(observed) .. ")"}
end

local conditions = {}
for _, c in ipairs(tbl(status.conditions) or {}) do
  if tbl(c) then table.insert(conditions, c) end
end

local pauseReasons = {}
for _, p in ipairs(tbl(status.pauseConditions) or {}) do
  if tbl(p) then table.insert(pauseReasons, text(p.reason) or "Paused") end
end
local manuallyPaused = spec.paused == true

if status.abort == true then
  local msg = text(status.message)
  if msg == nil then
    for _, c in ipairs(conditions) do
      if c.reason == "RolloutAborted" then
        msg = "RolloutAborted: " .. (text(c.message) or "the update was aborted")
        break
      end
    end
  end
  return {status = "Degraded", message = msg or
    "Rollout was aborted and is back on the stable version; update or retry it to roll out again"}
end

-- The user (or the kubectl plugin) cleared the pause conditions; the controller has not acted yet.
if status.controllerPause == true and #pauseReasons == 0 and not manuallyPaused then
  return {status = "Progressing", message = "Resume requested; waiting for the Rollouts controller to continue"}
end

local function pausedMessage(controllerMessage)
  if controllerMessage ~= nil then return "Rollout is paused: " .. controllerMessage end
  if #pauseReasons > 0 then return "Rollout is paused: " .. table.concat(pauseReasons, ", ") end
  return "Rollout is paused manually (spec.paused is true)"
end

local phase = text(status.phase)
if phase ~= nil then
  local msg = text(status.message)
  if phase == "Healthy" then return {status = "Healthy", message = msg or ""} end
  if phase == "Progressing" then return {status = "Progressing", message = msg or "Rollout is progressing"} end
  if phase == "Degraded" then return {status = "Degraded", message = msg or "Rollout is degraded"} end
  if phase == "Paused" then return {status = "Suspended", message = pausedMessage(msg)} end
  return {status = "Unknown", message = "Rollout reports an unrecognized phase \"" .. phase .. "\""}
end

-- No phase: older controllers leave the assessment to the client.
for _, c in ipairs(conditions) do
  if c.type == "InvalidSpec" and c.status ~= "False" then
    return {status = "Degraded", message = "InvalidSpec: " .. (text(c.message) or "the Rollout spec is invalid")}
  end
  if c.reason == "RolloutAborted" or c.reason == "ProgressDeadlineExceeded" then
    return {status = "Degraded", message = c.reason .. ": " .. (text(c.message) or "the rollout did not complete")}
  end
end

if manuallyPaused or #pauseReasons > 0 then
  return {status = "Suspended", message = pausedMessage(nil)}
end

local desired = count(spec.replicas, 1)
local total = count(status.replicas, 0)
local updated = count(status.updatedReplicas, 0)
local available = count(status.availableReplicas, 0)

if updated < desired then
  return {status = "Progressing",
    message = "Waiting for rollout to finish: " .. int(updated) .. " of " .. int(desired) .. " replicas updated"}
end
if available < updated then
  return {status = "Progressing",
    message = "Waiting for rollout to finish: " .. int(available) .. " of " .. int(updated) ..
      " updated replicas available"}
end

local strategy = tbl(spec.strategy) or {}
local current = text(status.currentPodHash)
local stable = text(status.stableRS)
if tbl(strategy.blueGreen) then
  local active = text((tbl(status.blueGreen) or {}).activeSelector)
  if current == nil or active ~= current then
    return {status = "Progressing", message = "Waiting for the active Service to switch to the new ReplicaSet"}
  end
  if stable ~= current then
    return {status = "Progressing", message = "Waiting for the new ReplicaSet to be marked stable"}
  end
elseif tbl(strategy.canary) then
  if total > updated then
    return {status = "Progressing",
      message = "Waiting for " .. int(total - updated) .. " old replicas to terminate"}
  end
  if current == nil or stable ~= current then
    return {status = "Progressing", message = "Waiting for all canary steps to complete"}
  end
end

return {status = "Healthy", message = ""}
