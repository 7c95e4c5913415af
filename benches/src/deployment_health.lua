-- The built-in Deployment check written in Lua, rule for rule, to measure what a Lua check
-- costs next to the native one on the same object.
local hs = {}
local status = obj.status or {}
local spec = obj.spec or {}
if spec.paused then
  hs.status = "Suspended"
  hs.message = "Deployment is paused"
  return hs
end
local generation = obj.metadata.generation or 0
local observed = status.observedGeneration or 0
if generation > observed then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: observed deployment generation less than desired generation"
  return hs
end
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded" then
      hs.status = "Degraded"
      hs.message = 'Deployment "' .. obj.metadata.name .. '" exceeded its progress deadline'
      return hs
    end
  end
end
local updated = status.updatedReplicas or 0
local replicas = status.replicas or 0
local available = status.availableReplicas or 0
if spec.replicas ~= nil and updated < spec.replicas then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: " .. updated .. " out of " .. spec.replicas .. " new replicas have been updated..."
elseif replicas > updated then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: " .. (replicas - updated) .. " old replicas are pending termination..."
elseif available < updated then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: " .. available .. " of " .. updated .. " updated replicas are available..."
else
  hs.status = "Healthy"
  hs.message = ""
end
return hs
